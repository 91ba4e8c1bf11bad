/*
 * outputs.c — a morph job's analysis outputs (DESIGN.md §6): statistics.csv,
 * vertex_displacements.csv, texture_differences.csv, frames.csv, the heatmap figures, the
 * per-frame meshes and animation.mp4, produced from the loaded inputs and the spec and handed
 * to a sink as named artifacts by the job pipeline (jobs/pipeline.c). `morph run` (cli/run.c)
 * writes them under OUT/, the worker (jobs/worker_batch.c) puts them in storage under
 * jobs/{id}/; neither knows how they are made.
 *
 * Threads: job_outputs_new, _finish, _manifest and _free run on the caller's thread.
 * job_outputs_frame runs on engine threads, several at once: it copies its frame into its own
 * slot, and whichever thread completes the prefix of frames ready from `next_frame` on feeds
 * them to the video encoder in index order (one drainer at a time, `draining` under `lock`;
 * the others leave at once), so rendering goes on while the video is encoded and a frame is
 * held only until its predecessors have arrived. The per-frame meshes are exported after the
 * batch by a few threads of our own; the artifacts list is appended under `lock`.
 *
 * Ownership: spec, inputs and the eng_job are borrowed for the outputs' life; frame slots,
 * the encoder, the analysis results and the artifacts list are owned and freed by
 * job_outputs_free.
 */
#define _GNU_SOURCE
#include "jobs/job_int.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define CSV_MAX_BYTES ((size_t)512 << 20) /* one CSV; texture_differences of 8192^2 is ~170 MB */
#define MESH_THREADS_MAX 8
#define FIGURE_SIDE_MAX 1024 /* a figure panel's render, longest side */

struct job_outputs {
    const job_spec *spec;
    const job_inputs *in;
    const eng_job *job;
    char stems[2][128];
    unsigned outputs; /* what will be produced: spec->outputs, or frames only */

    /* Video (JOB_OUT_VIDEO): frames in index order into the encoder. */
    pthread_mutex_t lock; /* guards the fields below, up to the artifacts */
    ana_video *video;
    uint8_t **slots; /* frame_count; a frame's RGB from its arrival until it is encoded */
    uint32_t frame_count, next_frame;
    int draining;
    int video_rc;
    md_error video_err;
    double video_encode_s; /* summed over the threads that drained */

    job_artifact *artifacts;
    uint32_t artifact_count, artifact_cap;
    json_t *notes; /* array of strings */

    /* The analysis that needs only the inputs, started beside the frames (job_outputs_start);
     * NULL until started. Joined by job_outputs_finish, or job_outputs_free. */
    struct analysis_run *early;
    pthread_t early_thread;
    int early_running;          /* early_thread not joined yet */
    job_output_sink early_sink; /* copied: the pipeline's sink outlives the outputs */

    /* Shared steps. */
    ana_displacement_result *disp;
    ana_texdiff_result *tex;
    ana_summary summary;
    int have_summary;
    double displacement_s, texture_s, summary_s;
};

/* ---- Log, notes, artifacts ---- */

static void say(const job_output_sink *sink, md_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const job_output_sink *sink, md_log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sink != NULL && sink->log != NULL)
        sink->log(sink->user, level, msg);
    else
        md_log(level, "%s", msg);
}

/* Hands bytes to the sink and lists the artifact; t0 is when its work started. Any thread. */
static int emit(job_outputs *o, const job_output_sink *sink, const char *name,
                const char *content_type, const void *bytes, size_t len, double t0, md_error *err)
{
    int rc = sink->put(sink->user, name, content_type, bytes, len, err);
    if (rc != 0)
        return md_error_prefix(err, "%s: ", name);
    double seconds = md_now() - t0;
    pthread_mutex_lock(&o->lock);
    if (o->artifact_count == o->artifact_cap) {
        uint32_t cap = o->artifact_cap ? o->artifact_cap * 2 : 32;
        job_artifact *grown = md_realloc_array(o->artifacts, cap, sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&o->lock);
            return md_fail(err, MD_ENOMEM, "out of memory listing artifacts");
        }
        o->artifacts = grown;
        o->artifact_cap = cap;
    }
    job_artifact *a = &o->artifacts[o->artifact_count++];
    snprintf(a->name, sizeof a->name, "%s", name);
    a->content_type = content_type;
    a->bytes = len;
    a->seconds = seconds;
    pthread_mutex_unlock(&o->lock);
    say(sink, MD_LOG_DEBUG, "%s: %zu bytes, %.3f s", name, len, seconds);
    return 0;
}

static void note(job_outputs *o, const job_output_sink *sink, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(job_outputs *o, const job_output_sink *sink, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&o->lock);
    json_array_append_new(o->notes, json_string(msg));
    pthread_mutex_unlock(&o->lock);
    say(sink, MD_LOG_WARN, "%s", msg);
}

/* ---- Life ---- */

int job_outputs_new(const job_spec *spec, const job_inputs *in, const eng_job *job,
                    const char *source_stem, const char *target_stem, job_outputs **out,
                    md_error *err)
{
    *out = NULL;
    job_outputs *o = md_calloc(1, sizeof *o);
    if (o == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    pthread_mutex_init(&o->lock, NULL);
    o->spec = spec;
    o->in = in;
    o->job = job;
    snprintf(o->stems[0], sizeof o->stems[0], "%s", source_stem);
    snprintf(o->stems[1], sizeof o->stems[1], "%s", target_stem);
    o->outputs = spec->kind == JOB_KIND_MORPH ? spec->outputs | JOB_OUT_FRAMES : JOB_OUT_FRAMES;
    o->frame_count = job->frame_count;
    o->notes = json_array();
    int rc = o->notes == NULL ? md_fail(err, MD_ENOMEM, "out of memory") : 0;

    if (rc == 0 && (o->outputs & JOB_OUT_VIDEO)) {
        uint64_t held =
            (uint64_t)job->frame_count * (uint64_t)job->width * (uint64_t)job->height * 3u;
        if (held > JOB_VIDEO_HOLD_MAX)
            rc =
                md_fail(err, MD_ELIMIT,
                        "video: %u frames of %dx%d could hold %llu MiB of frames while "
                        "encoding, more than the %llu MiB allowed; lower frames or size, or "
                        "leave video out of the outputs",
                        job->frame_count, job->width, job->height, (unsigned long long)(held >> 20),
                        (unsigned long long)(JOB_VIDEO_HOLD_MAX >> 20));
        ana_video_opts vo = {.fps = spec->fps, .crf = -1, .loop = spec->loop};
        if (rc == 0)
            rc = ana_video_new(job->width, job->height, &vo, &o->video, err);
        if (rc == 0) {
            o->slots = md_calloc(job->frame_count ? job->frame_count : 1, sizeof *o->slots);
            if (o->slots == NULL)
                rc = md_fail(err, MD_ENOMEM, "out of memory");
        }
    }
    if (rc != 0) {
        job_outputs_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

static void analysis_join(job_outputs *o);
static void analysis_run_free(struct analysis_run *r);

void job_outputs_free(job_outputs *o)
{
    if (o == NULL)
        return;
    analysis_join(o); /* a failed or stopped job that never finished */
    analysis_run_free(o->early);
    for (uint32_t i = 0; o->slots != NULL && i < o->frame_count; i++)
        md_free(o->slots[i]);
    md_free(o->slots);
    ana_video_free(o->video);
    md_free(o->artifacts);
    json_decref(o->notes);
    ana_displacement_free(o->disp);
    ana_texdiff_free(o->tex);
    pthread_mutex_destroy(&o->lock);
    md_free(o);
}

uint32_t job_outputs_count(const job_outputs *o)
{
    return o ? o->artifact_count : 0;
}

const job_artifact *job_outputs_artifact(const job_outputs *o, uint32_t i)
{
    return o && i < o->artifact_count ? &o->artifacts[i] : NULL;
}

/* ---- Frames into the video (engine threads) ---- */

int job_outputs_wants_frames(const job_outputs *o)
{
    return o != NULL && o->video != NULL;
}

int job_outputs_frame(job_outputs *o, const eng_frame *f, md_error *err)
{
    if (o == NULL || o->video == NULL)
        return 0;
    if (f->frame >= o->frame_count || f->width != o->job->width || f->height != o->job->height)
        return md_fail(err, MD_EINTERNAL, "video: frame %u does not belong to this job", f->frame);
    size_t bytes = (size_t)f->width * (size_t)f->height * 3;
    uint8_t *copy = md_malloc(bytes);
    if (copy == NULL)
        return md_fail(err, MD_ENOMEM, "video: out of memory holding frame %u", f->frame);
    memcpy(copy, f->rgb, bytes);

    pthread_mutex_lock(&o->lock);
    o->slots[f->frame] = copy;
    if (o->draining || o->video_rc != 0) {
        int failed = o->video_rc;
        pthread_mutex_unlock(&o->lock);
        return failed != 0 ? md_fail(err, failed, "%s", o->video_err.msg) : 0;
    }
    o->draining = 1;
    while (o->video_rc == 0 && o->next_frame < o->frame_count && o->slots[o->next_frame] != NULL) {
        uint32_t i = o->next_frame;
        uint8_t *rgb = o->slots[i];
        pthread_mutex_unlock(&o->lock);
        /* Only the drainer touches the encoder and slots below next_frame. */
        md_error e;
        md_error_clear(&e);
        double t0 = md_now();
        int rc = ana_video_add_frame(o->video, rgb, &e);
        double t1 = md_now();
        md_free(rgb);
        pthread_mutex_lock(&o->lock);
        o->slots[i] = NULL;
        o->next_frame = i + 1;
        o->video_encode_s += t1 - t0;
        if (rc != 0) {
            o->video_rc = rc;
            o->video_err = e;
        }
    }
    o->draining = 0;
    int failed = o->video_rc;
    pthread_mutex_unlock(&o->lock);
    return failed != 0 ? md_fail(err, failed, "%s", o->video_err.msg) : 0;
}

/* ---- Producing ---- */

static int produce_video(job_outputs *o, const job_output_sink *sink, md_error *err)
{
    double t0 = md_now();
    if (o->video_rc != 0)
        return md_fail(err, o->video_rc, "%s", o->video_err.msg);
    if (o->next_frame != o->frame_count)
        return md_fail(err, MD_EINTERNAL, "video: %u of %u frames arrived", o->next_frame,
                       o->frame_count);
    uint8_t *mp4 = NULL;
    size_t len = 0;
    int rc = ana_video_finish(o->video, &mp4, &len, err);
    if (rc == 0)
        rc = emit(o, sink, "animation.mp4", "video/mp4", mp4, len, t0 - o->video_encode_s, err);
    md_free(mp4);
    return rc;
}

/* ---- Analysis, CSVs and heatmaps (a small pool of our own) ----
 *
 * The analysis outputs are independent pieces of mostly single-threaded work (cairo drawing,
 * PNG and CSV encoding, colour mapping, statistics) around one multi-threaded step, the texture
 * difference. Most of them need only the inputs, so they run beside the frames: the pipeline
 * calls job_outputs_start before the engine batch, which computes them on a thread of its own
 * (with a few more from run_tasks) while the engine renders. Only the two figures that render
 * panels with the engine wait for it: the engine runs one batch at a time (eng_batch_run
 * refuses a second caller), so they run in job_outputs_finish, after the batch, under
 * `eng_lock`. The steps:
 *   early (no engine): the displacement; then the texture difference, vertex_displacements.csv,
 *      frames.csv; then, after the texture difference, the statistics, the three UV maps,
 *      texture_differences.csv; then statistics.csv from the statistics;
 *   figures (the engine, after the frames): the shape figure and the texture figure.
 * Tasks are taken longest first from an atomic counter. Each task writes only its own slot
 * (bytes, seconds, status), and the products are handed to the sink by job_outputs_finish's
 * thread at the end, in one fixed order, so the artifacts, their bytes and the manifest's list
 * do not depend on the thread count or on timing; a failure is reported as it always was: the
 * displacement's, then the first of the shape figure and the two CSVs, the texture
 * difference's, the first of the texture figure, the statistics, the UV maps and their CSV, and
 * statistics.csv's. */

#define ANALYSIS_THREADS_MAX 4

enum {
    ITEM_STATISTICS_CSV,
    ITEM_VERTICES_CSV,
    ITEM_TEXTURE_CSV,
    ITEM_FRAMES_CSV,
    ITEM_SHAPE_PNG,
    ITEM_TEXTURE_PNG,
    ITEM_UV_PNG, /* three: luminance, chroma, delta_e */
    ITEM_COUNT = ITEM_UV_PNG + 3,
};

typedef struct analysis_item {
    const char *name, *content_type;
    uint8_t *bytes; /* owned (md_malloc'd) */
    size_t len;
    double seconds; /* the task's own time */
    int done;
} analysis_item;

typedef struct analysis_run analysis_run;
typedef int (*analysis_fn)(analysis_run *r, int arg, md_error *err);

typedef struct analysis_task {
    analysis_fn fn;
    int arg;
    int step; /* its STEP_* slot for the failure */
} analysis_task;

/* Each task that can fail, for the report's order (see above). */
enum {
    STEP_SHAPE_PNG,
    STEP_VERTICES_CSV,
    STEP_FRAMES_CSV,
    STEP_TEXTURE_PNG,
    STEP_SUMMARY,
    STEP_UV_PNG, /* three */
    STEP_TEXTURE_CSV = STEP_UV_PNG + 3,
    STEP_STATISTICS_CSV,
    STEP_TEXTURE_DIFFERENCE, /* never fails: its failure is texture_rc */
    STEP_COUNT,
};

struct analysis_run {
    job_outputs *o;
    eng *e;
    const job_output_sink *sink;
    pthread_mutex_t eng_lock;
    ana_figure_opts fo;
    analysis_item items[ITEM_COUNT];
    int displacement_rc; /* the displacement's failure: nothing else ran */
    md_error displacement_err;
    int texture_rc; /* the texture difference's failure other than "no texture" */
    md_error texture_err;
    int step_rc[STEP_COUNT]; /* each step's failure, 0 when it succeeded or did not run */
    md_error step_err[STEP_COUNT];
    analysis_task *tasks;
    int task_count;
    atomic_int next;
};

/* A product into its slot; takes bytes. */
static void item_set(analysis_run *r, int item, const char *name, const char *content_type,
                     uint8_t *bytes, size_t len, double t0)
{
    analysis_item *it = &r->items[item];
    it->name = name;
    it->content_type = content_type;
    it->bytes = bytes;
    it->len = len;
    it->seconds = md_now() - t0;
    it->done = 1;
}

static int task_texture_difference(analysis_run *r, int arg, md_error *err)
{
    (void)arg;
    (void)err;
    job_outputs *o = r->o;
    double t0 = md_now();
    md_error terr;
    md_error_clear(&terr);
    int rc = ana_texture_difference(job_inputs_mesh(o->in, 0), job_inputs_mesh(o->in, 1), &o->tex,
                                    &terr);
    o->texture_s = md_now() - t0;
    if (rc == MD_EINVAL) {
        /* A mesh without a texture: the shape outputs stand alone. */
        note(o, r->sink, "texture outputs skipped: %s", terr.msg);
        o->tex = NULL;
    } else if (rc != 0) {
        /* Reported in the outputs' order, after the tasks that ran beside it. */
        o->tex = NULL;
        r->texture_rc = rc;
        r->texture_err = terr;
    }
    return 0;
}

static int task_summary(analysis_run *r, int arg, md_error *err)
{
    (void)arg;
    job_outputs *o = r->o;
    double t0 = md_now();
    int rc = ana_summary_compute(o->disp, o->tex, &o->summary, err);
    o->summary_s = md_now() - t0;
    o->have_summary = rc == 0;
    return rc;
}

typedef int (*csv_fn)(job_outputs *o, md_buf *b, md_error *err);

static int csv_statistics(job_outputs *o, md_buf *b, md_error *err)
{
    return ana_csv_statistics(b, &o->summary, err);
}

static int csv_vertices(job_outputs *o, md_buf *b, md_error *err)
{
    return ana_csv_vertex_displacements(b, o->disp, err);
}

static int csv_texture(job_outputs *o, md_buf *b, md_error *err)
{
    return ana_csv_texture_differences(b, o->tex, 4, err);
}

static int csv_frames(job_outputs *o, md_buf *b, md_error *err)
{
    ana_frame_stat *stats = md_calloc(o->job->frame_count, sizeof *stats);
    if (stats == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    int rc = ana_frame_stats(job_inputs_mesh(o->in, 0), job_inputs_mesh(o->in, 1), o->job->weights,
                             o->job->frame_count, stats, err);
    if (rc == 0)
        rc = ana_csv_frames(b, stats, o->job->frame_count, err);
    md_free(stats);
    return rc;
}

static const struct {
    const char *name;
    csv_fn fn;
} csv_files[] = {
    [ITEM_STATISTICS_CSV] = {"statistics.csv", csv_statistics},
    [ITEM_VERTICES_CSV] = {"vertex_displacements.csv", csv_vertices},
    [ITEM_TEXTURE_CSV] = {"texture_differences.csv", csv_texture},
    [ITEM_FRAMES_CSV] = {"frames.csv", csv_frames},
};

static int task_csv(analysis_run *r, int item, md_error *err)
{
    double t0 = md_now();
    md_buf b;
    md_buf_init(&b, CSV_MAX_BYTES);
    int rc = csv_files[item].fn(r->o, &b, err);
    if (rc != 0) {
        md_buf_free(&b);
        return md_error_prefix(err, "%s: ", csv_files[item].name);
    }
    if (b.data == NULL) {
        b.data = md_malloc(1);
        if (b.data == NULL)
            return md_fail(err, MD_ENOMEM, "%s: out of memory", csv_files[item].name);
    }
    item_set(r, item, csv_files[item].name, "text/csv", (uint8_t *)b.data, b.len, t0);
    return 0;
}

static int task_shape_figure(analysis_run *r, int arg, md_error *err)
{
    (void)arg;
    job_outputs *o = r->o;
    uint8_t *png = NULL;
    size_t len = 0;
    double t0 = md_now();
    pthread_mutex_lock(&r->eng_lock);
    int rc =
        ana_figure_shape(r->e, job_inputs_mesh(o->in, 0), &r->fo, ana_displacement_normal(o->disp),
                         ana_displacement_tangential(o->disp), ana_displacement_total(o->disp),
                         &png, &len, NULL, err);
    pthread_mutex_unlock(&r->eng_lock);
    if (rc != 0)
        return md_error_prefix(err, "shape_displacement_components.png: ");
    item_set(r, ITEM_SHAPE_PNG, "shape_displacement_components.png", "image/png", png, len, t0);
    return 0;
}

static int task_texture_figure(analysis_run *r, int arg, md_error *err)
{
    (void)arg;
    const ana_texdiff_result *t = r->o->tex;
    uint8_t *png = NULL;
    size_t len = 0;
    double t0 = md_now();
    pthread_mutex_lock(&r->eng_lock);
    int rc = ana_figure_texture(
        r->e, job_inputs_mesh(r->o->in, 0), &r->fo, ana_texdiff_material(t), ana_texdiff_width(t),
        ana_texdiff_height(t), ana_texdiff_coverage(t), ana_texdiff_luminance(t),
        ana_texdiff_chroma(t), ana_texdiff_delta_e(t), &png, &len, NULL, err);
    pthread_mutex_unlock(&r->eng_lock);
    if (rc != 0)
        return md_error_prefix(err, "texture_difference_components.png: ");
    item_set(r, ITEM_TEXTURE_PNG, "texture_difference_components.png", "image/png", png, len, t0);
    return 0;
}

static int task_uv_map(analysis_run *r, int c, md_error *err)
{
    const ana_texdiff_result *t = r->o->tex;
    const float *maps[3] = {ana_texdiff_luminance(t), ana_texdiff_chroma(t),
                            ana_texdiff_delta_e(t)};
    const char *name = ana_uv_component_file((ana_uv_component)c);
    uint8_t *png = NULL;
    size_t len = 0;
    double t0 = md_now();
    int rc = ana_figure_uv_map((ana_uv_component)c, ana_texdiff_width(t), ana_texdiff_height(t),
                               ana_texdiff_coverage(t), maps[c], &r->o->spec->texture_scale, 0,
                               &png, &len, NULL, err);
    if (rc != 0)
        return md_error_prefix(err, "%s: ", name);
    item_set(r, ITEM_UV_PNG + c, name, "image/png", png, len, t0);
    return 0;
}

static void *analysis_worker(void *arg)
{
    analysis_run *r = arg;
    for (;;) {
        int i = atomic_fetch_add(&r->next, 1);
        if (i >= r->task_count)
            break;
        analysis_task *t = &r->tasks[i];
        md_error_clear(&r->step_err[t->step]);
        r->step_rc[t->step] = t->fn(r, t->arg, &r->step_err[t->step]);
    }
    return NULL;
}

/* Runs the tasks to the end (all of them, even after a failure: they are short); their
 * failures are in r->step_rc. */
static void run_tasks(analysis_run *r, analysis_task *tasks, int count)
{
    r->tasks = tasks;
    r->task_count = count;
    atomic_store(&r->next, 0);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cores < 1 ? 1 : cores > ANALYSIS_THREADS_MAX ? ANALYSIS_THREADS_MAX : (int)cores;
    n = n > count ? count : n;
    pthread_t threads[ANALYSIS_THREADS_MAX];
    int started = 0;
    for (int i = 1; i < n; i++) {
        if (pthread_create(&threads[started], NULL, analysis_worker, r) != 0)
            break;
        started++;
    }
    analysis_worker(r); /* the caller's thread works too */
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
}

static void figure_opts(job_outputs *o, ana_figure_opts *fo)
{
    /* Panels at the frames' aspect, no larger than FIGURE_SIDE_MAX on their longest side. */
    int w = o->job->width, h = o->job->height;
    if (w > FIGURE_SIDE_MAX || h > FIGURE_SIDE_MAX) {
        double k = (double)FIGURE_SIDE_MAX / (double)(w > h ? w : h);
        w = (int)(w * k + 0.5);
        h = (int)(h * k + 0.5);
        w = w < 1 ? 1 : w;
        h = h < 1 ? 1 : h;
    }
    *fo = (ana_figure_opts){
        .camera = &o->job->camera,
        .render_width = w,
        .render_height = h,
        .samples = o->job->samples,
        .shape_scale = &o->spec->shape_scale,
        .texture_scale = &o->spec->texture_scale,
        .units = NULL,
        .keep_framing = 0,
    };
}

static void analysis_run_free(analysis_run *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < ITEM_COUNT; i++)
        md_free(r->items[i].bytes);
    pthread_mutex_destroy(&r->eng_lock);
    md_free(r);
}

/* The early steps (no engine): the displacement, the texture difference, the statistics, the
 * CSVs and the UV maps asked for. Any thread; writes only r and o's analysis results. */
static void analysis_early(analysis_run *r)
{
    job_outputs *o = r->o;
    const unsigned want = o->outputs;
    const int csv = (want & JOB_OUT_CSV) != 0, heatmaps = (want & JOB_OUT_HEATMAPS) != 0;
    double t0 = md_now();
    md_error_clear(&r->displacement_err);
    r->displacement_rc = ana_displacement(job_inputs_mesh(o->in, 0), job_inputs_mesh(o->in, 1),
                                          o->spec->align, &o->disp, &r->displacement_err);
    o->displacement_s = md_now() - t0;
    if (r->displacement_rc != 0)
        return;
    analysis_task tasks[ITEM_COUNT + 2];
    int n = 0;
    tasks[n++] = (analysis_task){task_texture_difference, 0, STEP_TEXTURE_DIFFERENCE};
    if (csv) {
        tasks[n++] = (analysis_task){task_csv, ITEM_VERTICES_CSV, STEP_VERTICES_CSV};
        tasks[n++] = (analysis_task){task_csv, ITEM_FRAMES_CSV, STEP_FRAMES_CSV};
    }
    run_tasks(r, tasks, n);
    say(r->sink, MD_LOG_INFO, "displacement %.3f s (align %s), texture difference %.3f s%s",
        o->displacement_s, ana_align_name(o->spec->align), o->texture_s,
        o->tex ? "" : " (skipped)");
    if (r->texture_rc != 0)
        return;
    /* What needs the texture difference (the statistics too, when there is one). */
    n = 0;
    tasks[n++] = (analysis_task){task_summary, 0, STEP_SUMMARY};
    if (heatmaps && o->tex != NULL)
        for (int c = 0; c < 3; c++)
            tasks[n++] = (analysis_task){task_uv_map, c, STEP_UV_PNG + c};
    if (csv && o->tex != NULL)
        tasks[n++] = (analysis_task){task_csv, ITEM_TEXTURE_CSV, STEP_TEXTURE_CSV};
    run_tasks(r, tasks, n);
    if (csv && r->step_rc[STEP_SUMMARY] == 0) {
        md_error_clear(&r->step_err[STEP_STATISTICS_CSV]);
        r->step_rc[STEP_STATISTICS_CSV] =
            task_csv(r, ITEM_STATISTICS_CSV, &r->step_err[STEP_STATISTICS_CSV]);
    }
}

static void *analysis_early_main(void *arg)
{
    analysis_early(arg);
    return NULL;
}

static analysis_run *analysis_new(job_outputs *o, const job_output_sink *sink)
{
    analysis_run *r = md_calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->o = o;
    r->sink = sink;
    pthread_mutex_init(&r->eng_lock, NULL);
    figure_opts(o, &r->fo);
    return r;
}

static int wants_analysis(const job_outputs *o)
{
    return o->spec->kind == JOB_KIND_MORPH && (o->outputs & (JOB_OUT_CSV | JOB_OUT_HEATMAPS));
}

int job_outputs_start(job_outputs *o, const job_output_sink *sink, md_error *err)
{
    if (o == NULL || o->early != NULL || !wants_analysis(o))
        return 0;
    o->early_sink = *sink;
    o->early = analysis_new(o, &o->early_sink);
    if (o->early == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for the analysis");
    if (o->outputs & JOB_OUT_CSV)
        say(sink, MD_LOG_INFO, "producing CSVs");
    if (o->outputs & JOB_OUT_HEATMAPS)
        say(sink, MD_LOG_INFO, "producing heatmaps");
    if (pthread_create(&o->early_thread, NULL, analysis_early_main, o->early) == 0)
        o->early_running = 1;
    else
        analysis_early(o->early); /* no thread to be had: now, on the caller's */
    return 0;
}

static void analysis_join(job_outputs *o)
{
    if (o->early_running) {
        pthread_join(o->early_thread, NULL);
        o->early_running = 0;
    }
}

void job_outputs_settle(job_outputs *o)
{
    if (o != NULL)
        analysis_join(o);
}

/* The first failure in the report's order (see the section's comment), or 0. */
static int analysis_failure(const analysis_run *r, md_error *err)
{
    if (r->displacement_rc != 0) {
        *err = r->displacement_err;
        return md_error_prefix(err, "displacement: ");
    }
    static const int wave1[] = {STEP_SHAPE_PNG, STEP_VERTICES_CSV, STEP_FRAMES_CSV};
    for (size_t i = 0; i < sizeof wave1 / sizeof wave1[0]; i++)
        if (r->step_rc[wave1[i]] != 0) {
            *err = r->step_err[wave1[i]];
            return r->step_rc[wave1[i]];
        }
    if (r->texture_rc != 0)
        return md_fail(err, r->texture_rc, "texture difference: %s", r->texture_err.msg);
    for (int s = STEP_TEXTURE_PNG; s < STEP_COUNT; s++)
        if (r->step_rc[s] != 0) {
            *err = r->step_err[s];
            return r->step_rc[s];
        }
    return 0;
}

/* The early steps (started beside the frames, or now), the figures after them, and every
 * product handed to the sink in the outputs' order (CSVs, then figures) once all succeeded. */
static int produce_analysis(job_outputs *o, eng *e, const job_output_sink *sink, md_error *err)
{
    if (o->early == NULL) {
        int rc = job_outputs_start(o, sink, err);
        if (rc != 0)
            return rc;
    }
    analysis_join(o);
    analysis_run *r = o->early;
    r->e = e;
    r->sink = sink;
    const int heatmaps = (o->outputs & JOB_OUT_HEATMAPS) != 0;
    if (heatmaps && r->displacement_rc == 0) {
        analysis_task tasks[2];
        int n = 0;
        tasks[n++] = (analysis_task){task_shape_figure, 0, STEP_SHAPE_PNG};
        if (r->texture_rc == 0 && o->tex != NULL)
            tasks[n++] = (analysis_task){task_texture_figure, 0, STEP_TEXTURE_PNG};
        run_tasks(r, tasks, n);
    }
    int rc = analysis_failure(r, err);
    for (int i = 0; i < ITEM_COUNT; i++) {
        analysis_item *it = &r->items[i];
        if (rc == 0 && it->done)
            rc = emit(o, sink, it->name, it->content_type, it->bytes, it->len,
                      md_now() - it->seconds, err);
        md_free(it->bytes); /* stored: a CSV can be large */
        it->bytes = NULL;
    }
    return rc;
}

/* ---- Per-frame meshes (threads of our own) ---- */

typedef struct mesh_pool {
    job_outputs *o;
    const job_output_sink *sink;
    atomic_uint next;
    atomic_int failed;
    pthread_mutex_t err_lock;
    md_error err; /* the first failure */
    int rc;
} mesh_pool;

static const char *mesh_file_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return "application/octet-stream";
    if (strcmp(dot, ".obj") == 0)
        return "model/obj";
    if (strcmp(dot, ".mtl") == 0)
        return "text/plain";
    if (strcmp(dot, ".png") == 0)
        return "image/png";
    if (strcmp(dot, ".glb") == 0)
        return "model/gltf-binary";
    return "application/octet-stream"; /* .fbx has no registered type */
}

static int export_one(mesh_pool *p, uint32_t i, md_error *err)
{
    job_outputs *o = p->o;
    float t = o->job->weights[i];
    float u = o->job->texture_weights != NULL ? o->job->texture_weights[i] : t;
    char base[JOB_ARTIFACT_NAME_MAX - 16];
    int rc = job_frame_name(i, t, u, o->stems[0], o->stems[1], base, sizeof base);
    if (rc != 0)
        return md_fail(err, MD_EINVAL, "frame %u: name too long", i);
    base[strlen(base) - 4] = '\0'; /* ".png" */
    double t0 = md_now();
    ana_export_files files = {0};
    ana_export_opts eo = {.png_level = o->spec->png_level};
    rc = ana_export_frame_mesh(job_inputs_mesh(o->in, 0), job_inputs_mesh(o->in, 1), t, u,
                               o->spec->mesh_format, base, &eo, &files, err);
    for (uint32_t k = 0; rc == 0 && k < files.count; k++) {
        char name[JOB_ARTIFACT_NAME_MAX];
        snprintf(name, sizeof name, "meshes/%s", files.files[k].name);
        /* The first file carries the export's time; the others only their storing. */
        rc = emit(o, p->sink, name, mesh_file_type(name), files.files[k].bytes, files.files[k].len,
                  k == 0 ? t0 : md_now(), err);
    }
    ana_export_files_free(&files);
    return rc;
}

static void *mesh_worker(void *arg)
{
    mesh_pool *p = arg;
    for (;;) {
        if (atomic_load(&p->failed))
            break;
        uint32_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->o->job->frame_count)
            break;
        md_error err;
        md_error_clear(&err);
        int rc = export_one(p, i, &err);
        if (rc != 0) {
            pthread_mutex_lock(&p->err_lock);
            if (!atomic_load(&p->failed)) {
                p->err = err;
                p->rc = rc;
                atomic_store(&p->failed, 1);
            }
            pthread_mutex_unlock(&p->err_lock);
        }
    }
    return NULL;
}

static int produce_meshes(job_outputs *o, const job_output_sink *sink, md_error *err)
{
    char why[512];
    if (!ana_export_texture_blends(job_inputs_mesh(o->in, 0), job_inputs_mesh(o->in, 1), why,
                                   sizeof why))
        note(o, sink, "meshes: the source's textures are exported unchanged: %s", why);
    mesh_pool p = {.o = o, .sink = sink};
    pthread_mutex_init(&p.err_lock, NULL);
    md_error_clear(&p.err);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t n = cores < 1 ? 1 : cores > MESH_THREADS_MAX ? MESH_THREADS_MAX : (uint32_t)cores;
    if (n > o->job->frame_count)
        n = o->job->frame_count ? o->job->frame_count : 1;
    pthread_t threads[MESH_THREADS_MAX];
    uint32_t started = 0;
    for (uint32_t i = 1; i < n; i++) {
        if (pthread_create(&threads[started], NULL, mesh_worker, &p) != 0)
            break;
        started++;
    }
    mesh_worker(&p); /* the caller's thread works too */
    for (uint32_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&p.err_lock);
    if (atomic_load(&p.failed)) {
        *err = p.err;
        return p.rc;
    }
    return 0;
}

int job_outputs_finish(job_outputs *o, eng *e, const job_output_sink *sink, md_error *err)
{
    unsigned want = o->outputs;
    if (o->spec->kind != JOB_KIND_MORPH || want == JOB_OUT_FRAMES)
        return 0;
    double t0;
    int rc = 0;
    if (want & JOB_OUT_VIDEO) {
        say(sink, MD_LOG_INFO, "producing animation.mp4 (%u frames, %d fps, %s)", o->frame_count,
            o->spec->fps, job_loop_name(o->spec->loop));
        rc = produce_video(o, sink, err);
    }
    if (rc == 0 && wants_analysis(o)) {
        t0 = md_now();
        rc = produce_analysis(o, e, sink, err);
        say(sink, MD_LOG_DEBUG, "analysis outputs in %.3f s", md_now() - t0);
    }
    if (rc == 0 && (want & JOB_OUT_MESHES)) {
        say(sink, MD_LOG_INFO, "producing %u %s mesh(es) in meshes/", o->frame_count,
            ana_mesh_format_name(o->spec->mesh_format));
        t0 = md_now();
        rc = produce_meshes(o, sink, err);
        say(sink, MD_LOG_INFO, "meshes in %.3f s", md_now() - t0);
    }
    return rc;
}

/* ---- Manifest ---- */

static json_t *number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *stats_json(const ana_stats *s)
{
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "count", (json_int_t)s->count,
                     "mean", number(s->mean), "std", number(s->std), "min", number(s->min), "max",
                     number(s->max), "p25", number(s->p25), "p50", number(s->p50), "p75",
                     number(s->p75), "p95", number(s->p95), "p99", number(s->p99));
}

json_t *job_outputs_manifest(const job_outputs *o)
{
    const job_spec *s = o->spec;
    json_t *requested = json_array();
    for (int i = 0; requested != NULL && i < JOB_OUTPUT_KINDS; i++)
        if (o->outputs & (1u << i))
            json_array_append_new(requested, json_string(job_output_name(1u << i)));
    char shape_scale[64], texture_scale[64];
    ana_scale_format(&s->shape_scale, shape_scale, sizeof shape_scale);
    ana_scale_format(&s->texture_scale, texture_scale, sizeof texture_scale);
    json_t *artifacts = json_array();
    for (uint32_t i = 0; artifacts != NULL && i < o->artifact_count; i++) {
        const job_artifact *a = &o->artifacts[i];
        json_array_append_new(artifacts, json_pack("{s:s,s:I,s:s,s:f}", "name", a->name, "bytes",
                                                   (json_int_t)a->bytes, "content_type",
                                                   a->content_type, "seconds", a->seconds));
    }
    json_t *root = json_pack(
        "{s:o,s:{s:s,s:s,s:s,s:s,s:i,s:s},s:o,s:O,s:{s:f,s:f,s:f,s:f}}", "requested", requested,
        "options", "align", ana_align_name(s->align), "shape_scale", shape_scale, "texture_scale",
        texture_scale, "mesh_format", ana_mesh_format_name(s->mesh_format), "fps", s->fps, "loop",
        job_loop_name(s->loop), "artifacts", artifacts, "notes", o->notes, "timings_s",
        "displacement", o->displacement_s, "texture_difference", o->texture_s, "statistics",
        o->summary_s, "video_encode", o->video_encode_s);
    if (root == NULL)
        return NULL;
    if (o->disp != NULL) {
        const ana_alignment *al = ana_displacement_alignment(o->disp);
        json_t *rot = json_array(), *tr = json_array();
        for (int i = 0; i < 9; i++)
            json_array_append_new(rot, json_real(al->rotation[i]));
        for (int i = 0; i < 3; i++)
            json_array_append_new(tr, json_real(al->translation[i]));
        json_object_set_new(root, "alignment",
                            json_pack("{s:s,s:o,s:o,s:f,s:f,s:f}", "mode",
                                      ana_align_name(al->align), "rotation", rot, "translation", tr,
                                      "scale", al->scale, "rms_before", al->rms_before, "rms_after",
                                      al->rms_after));
    }
    if (o->have_summary) {
        const ana_summary *m = &o->summary;
        json_t *texture =
            m->has_texture
                ? json_pack("{s:o,s:o,s:o}", "luminance", stats_json(&m->luminance), "chroma",
                            stats_json(&m->chroma), "delta_e", stats_json(&m->delta_e))
                : json_null();
        json_object_set_new(root, "statistics",
                            json_pack("{s:{s:o,s:o,s:o},s:o}", "shape", "normal",
                                      stats_json(&m->normal), "tangential",
                                      stats_json(&m->tangential), "total", stats_json(&m->total),
                                      "texture", texture));
    }
    return root;
}
