/*
 * pipeline.h — one job pipeline for `morph run` and the worker: given jobs whose inputs are
 * loaded and whose spec is parsed, it builds their engine jobs, renders all of them in ONE
 * eng_batch_run, delivers every frame (name, PNG at spec.png_level, the video encoder, the
 * caller's sink as artifact "frames/<name>", a count and a progress hook), then produces each
 * job's analysis outputs (jobs/outputs.c) and its manifest.json. Where artifacts go (files under
 * OUT, or storage keys), how progress is shown, and when a job stops are the caller's, through
 * a sink given per job.
 *
 * Life of a pipeline: job_pipe_new(); job_pipe_add() for every job, in order (the index of a
 * job is the number added before it); job_pipe_render() once; then for each job the caller
 * wants finished job_pipe_outputs() and job_pipe_manifest(); job_pipe_free(). A job added
 * without inputs (canceled or failed before loading) is not rendered but still gets a manifest.
 *
 * Threads: every function runs on the caller's thread; the sink's put, frame_stored and stop
 * are also called from engine threads, several at once.
 *
 * Ownership: the pipeline borrows each job's spec, inputs and sink, which must outlive it.
 */
#ifndef JOBS_PIPELINE_H
#define JOBS_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jobs/job.h"

#define JOB_PIPE_FRAME_NAME_MAX 320 /* a frame's name under frames/ */

/* What a sink's stop hook answers before each frame and for each frame rendered. */
typedef enum job_pipe_stop {
    JOB_PIPE_GO,      /* render on */
    JOB_PIPE_STOP,    /* render no more frames; frames already rendering are still stored */
    JOB_PIPE_DISCARD, /* render no more frames and store none of those rendering (canceled) */
} job_pipe_stop;

/* Where one job's artifacts, log lines and progress go. put, log and user are those of a
 * job_output_sink (jobs/job.h), which the analysis outputs are handed to as well. */
typedef struct job_pipe_sink {
    /* Stores bytes (borrowed) as artifact name ("frames/0000_a-1000_b-0000.png", "statistics.csv",
     * "manifest.json"); any thread, several at once. */
    int (*put)(void *user, const char *name, const char *content_type, const void *bytes,
               size_t len, md_error *err);
    /* Progress lines a person reads (NULL: md_log); any thread. */
    void (*log)(void *user, md_log_level level, const char *msg);
    /* Optional: frame index (of this job) was stored; any thread. */
    void (*frame_stored)(void *user, uint32_t index);
    /* Optional: a job_pipe_stop, asked before each frame and for each frame rendered; any
     * thread; must be cheap. */
    int (*stop)(void *user);
    /* Optional: adds the caller's fields to manifest.json's root (borrowed) before it is stored;
     * the caller's thread. Nonzero fails the manifest with that code. */
    int (*manifest)(void *user, json_t *root, md_error *err);
    void *user;
} job_pipe_sink;

/* One job as the caller hands it over. */
typedef struct job_pipe_job {
    job_spec *spec;           /* borrowed; finalized by job_build */
    const job_inputs *inputs; /* borrowed; NULL: not rendered (manifest only) */
    /* Names of the meshes in frame names (source and target; a render job's mesh is [0]),
     * sanitised like job_path_stem; copied. */
    const char *stems[2];
    /* The manifest's inputs before the pipeline adds each mesh's facts (borrowed, copied);
     * NULL: an empty object. */
    const json_t *inputs_json;
    double start_mono;         /* md_now() when the job began: the manifest's timings_s.total */
    double load_s;             /* loading its inputs: the manifest's timings_s.load */
    const job_pipe_sink *sink; /* borrowed */
} job_pipe_job;

/* One frame slot of a job, filled by the thread that delivered it. */
typedef struct job_pipe_frame {
    char name[JOB_PIPE_FRAME_NAME_MAX]; /* under frames/ */
    float weight;                       /* the shape weight the frame was rendered at */
    float texture_weight;
    size_t bytes;
    int done;
} job_pipe_frame;

/* A job's totals; PNG encode and write seconds are summed over engine threads. */
typedef struct job_pipe_totals {
    uint32_t frame_total; /* frames the job renders (0 until built) */
    uint32_t frames_done; /* frames stored */
    uint64_t bytes;       /* of PNG */
    double encode_s, write_s;
    double outputs_s; /* job_pipe_outputs, wall-clock */
} job_pipe_totals;

typedef struct job_pipe job_pipe;

/* A pipeline for up to job_cap jobs rendered by e (borrowed) under the limits lim (borrowed). */
int job_pipe_new(eng *e, const md_limits *lim, uint32_t job_cap, job_pipe **out, md_error *err);
void job_pipe_free(job_pipe *p); /* frees the outputs before the spec and inputs they borrow */

/* Adds a job (job borrowed; its fields as documented there). Builds its engine jobs
 * (job_build or job_build_render, eng_job_validate), its frame slots and, for a morph job, its
 * job_outputs, so a job that cannot finish fails before rendering. On failure the job stays,
 * not rendered, and the error is returned (the caller fails it). MD_EINVAL past job_cap. */
int job_pipe_add(job_pipe *p, const job_pipe_job *job, md_error *err);

/* Renders every job added with inputs and built, in ONE eng_batch_run. An error here is the
 * engine's, for the whole batch. A frame that cannot be stored fails its job alone (see
 * job_pipe_error), which then renders no more frames. */
int job_pipe_render(job_pipe *p, md_error *err);

/* Produces job i's analysis outputs into its sink (job_outputs_finish), unless it was not
 * rendered or failed. Artifacts stored before a failure are still listed. */
int job_pipe_outputs(job_pipe *p, uint32_t i, md_error *err);

/* Builds job i's manifest.json (the shared fields, then the sink's manifest hook) and stores it
 * through its sink. */
int job_pipe_manifest(job_pipe *p, uint32_t i, md_error *err);

/* 0, or the error that failed job i in the pipeline (building, a frame, its outputs), with
 * its message in err. */
int job_pipe_error(const job_pipe *p, uint32_t i, md_error *err);
/* Whether job i was rendered (built and in the engine batch). */
int job_pipe_rendered(const job_pipe *p, uint32_t i);
job_pipe_totals job_pipe_job_totals(const job_pipe *p, uint32_t i);
/* Job i's frame slots (job_pipe_job_totals' frame_total of them); NULL before it is built. */
const job_pipe_frame *job_pipe_frames(const job_pipe *p, uint32_t i);
/* Job i's analysis outputs (NULL: none, e.g. a render job); for job_outputs_count and the
 * artifacts. */
const job_outputs *job_pipe_outputs_of(const job_pipe *p, uint32_t i);
/* What job i stored, as [{name, bytes, content_type}]: its frames, its analysis outputs and
 * manifest.json. New reference; NULL when out of memory. */
json_t *job_pipe_artifacts(const job_pipe *p, uint32_t i);

/* A JSON string for text from a file (a path, a material's name), which need not be UTF-8:
 * jansson refuses invalid UTF-8, so its non-ASCII bytes are shown as '?'. JSON null for NULL. */
json_t *job_pipe_text_json(const char *s);

/* The batch: jobs and frames rendered, and the engine's stats (zero before rendering). */
const eng_stats *job_pipe_stats(const job_pipe *p);
void job_pipe_batch_size(const job_pipe *p, uint32_t *jobs, uint32_t *frames);

#endif
