/*
 * worker_batch.c — one batch of the worker: load every held job's canonical inputs from
 * storage and hand the jobs to the job pipeline (jobs/pipeline.c), which builds their engine
 * jobs, renders them all in ONE eng_batch_run, stores each frame as it finishes and produces
 * each morph job's analysis outputs and manifest.json; this file adds what is the worker's: the
 * groups, begin/drain/hand-back, the storage sink with Redis progress, the manifest's job and
 * worker fields, session.log, stale-frame deletion, the sweep of partial writes, and finishing
 * the job in Redis.
 *
 * Threads: wk_batch_run runs on the loop's thread. The sink's put, frame_stored and stop run on
 * engine threads, several at once: put writes one storage key, frame_stored counts with
 * atomics and talks to Redis under w->conn_lock, stop reads atomics.
 *
 * A job whose inputs cannot be loaded or built fails alone, with the reason; the others of the
 * batch still run. A retried job writes the same storage keys as the earlier attempt; before it
 * starts, the partial writes a crashed attempt left are swept, and frames of an earlier attempt
 * that this one did not write are deleted, so the job's folder holds exactly what its artifacts
 * list names.
 *
 * Groups: the jobs held are rendered in groups, each one engine batch. Jobs with no crash on
 * record form one group; a job that was being rendered when a worker died (record.c charges it
 * at its next start) runs in a group of its own, so a crash it causes is charged to it alone.
 * The begin script records each group before its inputs load.
 *
 * Drain (SIGTERM): a group whose turn comes after the stop flag is handed back at once;
 * inside a running group, frames stop after 40 % of drain_s, frames in flight finish, and a job
 * is finished only if all its frames are done and the drain has time left (60 % of drain_s);
 * the others are handed back to the queue uncharged. The rest is slack for shutting down.
 */
#define _GNU_SOURCE
#include "jobs/worker_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/pipeline.h"

/* ---- Loading ---- */

int wk_load_mesh(wk *w, const char *key, const char *what, mesh **out, md_error *err)
{
    uint64_t max64 = w->cfg->limits.max_file_bytes * 4;
    size_t max = max64 > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)max64;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = stg_get(w->store, key, max, &data, &len, err);
    if (rc == 0)
        rc = mesh_decode_canonical(data, len, &w->cfg->limits, out, err);
    md_free(data);
    if (rc != 0)
        md_error_prefix(err, "%s: ", what);
    return rc;
}

static void face_value_free(void *p)
{
    job_face_free(p);
}

/* Engine threads of jobs already added may be counting frames on w->conn: take its lock. */
static void face_metric(wk *w, jq_metric m, long long by)
{
    pthread_mutex_lock(&w->conn_lock);
    wk_metric_add(w, m, "", by);
    pthread_mutex_unlock(&w->conn_lock);
}

/* A face, held (*out; fc_release it after the inputs that borrow it): from the worker's face
 * cache, or read from storage, decoded and prepared (materials, mip pyramids) into the cache.
 * A face id names its content (SHA-256 of the canonical mesh and texture), so a cached face is
 * never stale. The cache shares one job_face among every job that names it: they only read it,
 * and the refcount keeps it alive under a job even when it is evicted meanwhile. */
static int load_face(wk *w, const char *key, const char *face, const char *what, fc_entry **out,
                     md_error *err)
{
    *out = fc_get(w->faces, face);
    if (*out != NULL) {
        face_metric(w, JQ_M_FACE_CACHE_HITS, 1);
        return 0;
    }
    face_metric(w, JQ_M_FACE_CACHE_MISSES, 1);
    mesh *m = NULL;
    job_face *f = NULL;
    int rc = wk_load_mesh(w, key, what, &m, err);
    if (rc != 0)
        return rc;
    rc = job_face_new(m, 1, &f, err);
    if (rc != 0)
        return md_error_prefix(err, "%s: ", what), rc;
    /* The face id names its content, so its textures may stay on the GPU across batches. */
    job_face_key_textures(f, face);
    *out = fc_put(w->faces, face, f, job_face_bytes(f), face_value_free, err);
    if (*out == NULL)
        return md_error_prefix(err, "%s: ", what), err->code;
    fc_stats st;
    fc_get_stats(w->faces, &st);
    unsigned long long seen = atomic_load(&w->evictions_seen);
    while (seen < st.evictions &&
           !atomic_compare_exchange_weak(&w->evictions_seen, &seen, st.evictions)) {
    }
    if (seen < st.evictions)
        face_metric(w, JQ_M_FACE_CACHE_EVICTIONS, (long long)(st.evictions - seen));
    return 0;
}

/* The storage key of an input: the job's own inputs/ object, or, when the job named a face of
 * the owner's library (face non-empty), that face's object. */
static int input_key(const wk_job *j, jr_input role, const char *face, char key[STG_KEY_MAX],
                     char what[32], md_error *err)
{
    if (face[0] ? jr_key_face(key, STG_KEY_MAX, j->owner, face) != 0
                : jr_key_input(key, STG_KEY_MAX, j->id, role) != 0)
        return md_fail(err, MD_EINVAL, "input %s: no storage key for job %s (owner '%s')",
                       jr_input_name(role), j->id, j->owner);
    snprintf(what, 32, "input %s", jr_input_name(role));
    return 0;
}

/* Inputs with at least one face: each face side borrows the cache's job_face; a side sent as a
 * file becomes a face of the job's own (no mips: the engine builds them as for any job). */
static int load_face_inputs(wk *w, wk_job *j, const jr_input roles[2], const jr_inputs *in,
                            md_error *err)
{
    const job_face *faces[2] = {NULL, NULL};
    int rc = 0;
    for (int side = 0; side < 2 && rc == 0; side++) {
        if (roles[side] == JR_IN_COUNT)
            continue;
        char key[STG_KEY_MAX], what[32];
        const char *face = in->face[roles[side]];
        rc = input_key(j, roles[side], face, key, what, err);
        if (rc == 0 && face[0]) {
            rc = load_face(w, key, face, what, &j->face_entries[side], err);
            faces[side] = rc == 0 ? fc_value(j->face_entries[side]) : NULL;
        } else if (rc == 0) {
            mesh *m = NULL;
            rc = wk_load_mesh(w, key, what, &m, err);
            if (rc == 0)
                rc = job_face_new(m, 0, &j->own_faces[side], err);
            faces[side] = j->own_faces[side];
        }
    }
    if (rc == 0)
        rc = job_inputs_from_faces(faces[0], faces[1], &j->inputs, err);
    return rc;
}

static int load_inputs(wk *w, wk_job *j, md_error *err)
{
    double t0 = md_now();
    jr_inputs in;
    int rc = jr_inputs_from_json(j->inputs_text, &in, err);
    if (rc != 0)
        return rc;
    int render = j->spec.kind == JOB_KIND_RENDER;
    /* A render job's one mesh: "mesh", or "source" as records of earlier versions name it. */
    jr_input first = render && in.present[JR_IN_MESH] ? JR_IN_MESH : JR_IN_SOURCE;
    snprintf(j->stems[0], sizeof j->stems[0], "%s", in.name[first]);
    snprintf(j->stems[1], sizeof j->stems[1], "%s", in.name[JR_IN_TARGET]);

    const jr_input roles[2] = {render ? JR_IN_MESH : JR_IN_SOURCE,
                               render ? JR_IN_COUNT : JR_IN_TARGET};
    if (in.face[roles[0]][0] || (!render && in.face[roles[1]][0])) {
        rc = load_face_inputs(w, j, roles, &in, err);
        /* Hiding copies a face's mesh for this job; the cached face stays whole. */
        if (rc == 0 && !render)
            rc = job_inputs_hide(j->inputs, &j->spec, err);
        j->load_s = md_now() - t0;
        return rc;
    }
    mesh *source = NULL, *target = NULL;
    char key[STG_KEY_MAX], what[32];
    rc = input_key(j, roles[0], "", key, what, err);
    if (rc == 0)
        rc = wk_load_mesh(w, key, what, &source, err);
    if (rc == 0 && !render)
        rc = input_key(j, roles[1], "", key, what, err);
    if (rc == 0 && !render)
        rc = wk_load_mesh(w, key, what, &target, err);
    if (rc == 0) {
        /* Takes ownership of both meshes, on failure too. */
        rc = job_inputs_from_meshes(source, target, &j->inputs, err);
        source = target = NULL;
    }
    /* spec.hide_materials: checked at submit, taken out here (the stored meshes are whole). */
    if (rc == 0 && !render)
        rc = job_inputs_hide(j->inputs, &j->spec, err);
    mesh_free(source);
    mesh_free(target);
    j->load_s = md_now() - t0;
    return rc;
}

/* Fraction of drain_s after which a draining worker renders no more frames, and after which
 * it finishes no more jobs (hands them back instead). */
#define WK_DRAIN_RENDER 0.4
#define WK_DRAIN_FINISH 0.6

static int drain_past(wk *w, double fraction)
{
    double s = wk_draining_s(w);
    return s >= 0 && s >= fraction * w->cfg->drain_s;
}

/* ---- The job's sink: storage keys, session.log, Redis progress ---- */

static int sink_put(void *user, const char *name, const char *content_type, const void *bytes,
                    size_t len, md_error *err)
{
    (void)content_type;
    wk_job *j = user;
    char key[STG_KEY_MAX];
    if (jr_key_artifact(key, sizeof key, j->id, name) != 0)
        return md_fail(err, MD_EINVAL, "storage key for %s is too long", name);
    return stg_put(j->w->store, key, bytes, len, err);
}

static void sink_log(void *user, md_log_level level, const char *msg)
{
    wk_job_log(user, level, "%s", msg);
}

static void sink_frame_stored(void *user, uint32_t index)
{
    (void)index;
    wk_job *j = user;
    atomic_fetch_add(&j->frames_done, 1);
    atomic_fetch_add(&j->w->frames, 1);
    wk_count_frame(j->w, j);
}

/* Asked before each frame: a canceled job stops rendering at once and keeps none of the frames
 * in flight, while the rest of the batch goes on; a draining worker stops every job once its
 * render time is up, keeping the frames in flight. */
static int sink_stop(void *user)
{
    wk_job *j = user;
    if (atomic_load(&j->cancel) != 0)
        return JOB_PIPE_DISCARD;
    return drain_past(j->w, WK_DRAIN_RENDER) ? JOB_PIPE_STOP : JOB_PIPE_GO;
}

static jr_status status_of(const wk_job *j)
{
    if (j->result == WK_FAILED)
        return JR_FAILED;
    if (j->result == WK_CANCELED || atomic_load(&j->cancel))
        return JR_CANCELED;
    return JR_SUCCEEDED;
}

/* manifest.json: the pipeline's fields, plus the job, its status and the worker it ran on. */
static int sink_manifest(void *user, json_t *root, md_error *err)
{
    wk_job *j = user;
    json_t *mine = json_pack("{s:s,s:s,s:s,s:I,s:s}", "id", j->id, "kind", j->kind, "status",
                             jr_status_name(status_of(j)), "attempt", (json_int_t)j->deliveries,
                             "worker", j->w->name);
    if (mine == NULL)
        return md_fail(err, MD_ENOMEM, "cannot build manifest.json");
    if (j->result == WK_FAILED)
        json_object_set_new(mine, "error", json_string(j->error));
    json_object_update(root, mine);
    json_decref(mine);
    return 0;
}

/* ---- Finishing ---- */

/* Deletes frames of an earlier attempt that this attempt did not write. */
typedef struct stale_ctx {
    const job_pipe_frame *frames;
    uint32_t frame_total;
    size_t prefix_len;
    char (*doomed)[STG_KEY_MAX];
    size_t count, cap;
} stale_ctx;

static int frame_written(const stale_ctx *s, const char *name)
{
    for (uint32_t i = 0; i < s->frame_total; i++)
        if (s->frames != NULL && s->frames[i].done && strcmp(s->frames[i].name, name) == 0)
            return 1;
    return 0;
}

static int note_stale(void *user, const char *key, uint64_t size)
{
    (void)size;
    stale_ctx *s = user;
    if (frame_written(s, key + s->prefix_len))
        return 0;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        void *grown = md_realloc_array(s->doomed, cap, sizeof *s->doomed);
        if (grown == NULL)
            return 1;
        s->doomed = grown;
        s->cap = cap;
    }
    snprintf(s->doomed[s->count++], STG_KEY_MAX, "%s", key);
    return 0;
}

static void delete_stale_frames(wk *w, wk_job *j, const job_pipe_frame *frames,
                                uint32_t frame_total)
{
    char prefix[STG_KEY_MAX];
    if (jr_key_frames_prefix(prefix, sizeof prefix, j->id) != 0)
        return;
    stale_ctx s = {.frames = frames, .frame_total = frame_total, .prefix_len = strlen(prefix)};
    md_error err;
    md_error_clear(&err);
    if (stg_list(w->store, prefix, note_stale, &s, &err) != 0)
        wk_job_log(j, MD_LOG_WARN, "listing earlier frames: %s", err.msg);
    for (size_t i = 0; i < s.count; i++)
        if (stg_delete(w->store, s.doomed[i], &err) != 0)
            wk_job_log(j, MD_LOG_WARN, "removing a stale frame: %s", err.msg);
    if (s.count > 0)
        wk_job_log(j, MD_LOG_INFO, "removed %zu frame(s) of an earlier attempt", s.count);
    md_free(s.doomed);
}

static int put_artifact(wk *w, wk_job *j, json_t *artifacts, const char *name,
                        const char *content_type, const void *data, size_t len)
{
    char key[STG_KEY_MAX];
    md_error err;
    md_error_clear(&err);
    int rc = jr_key_artifact(key, sizeof key, j->id, name) != 0
                 ? md_fail(&err, MD_EINVAL, "the storage key is too long")
                 : stg_put(w->store, key, data, len, &err);
    if (rc != 0) {
        wk_job_fail(j, "storing %s: %s", name, err.msg);
        return rc;
    }
    json_array_append_new(artifacts, json_pack("{s:s,s:I,s:s}", "name", name, "bytes",
                                               (json_int_t)len, "content_type", content_type));
    return 0;
}

/* Produces job i's outputs (after a successful render) and manifest.json, stores session.log
 * and finishes the job in Redis. p is NULL when the batch could not even be set up. */
static void finish_job(wk *w, job_pipe *p, uint32_t i, wk_job *j)
{
    wk_set_stage(w, j, JR_STAGE_FINISHING);
    job_pipe_totals t = {0};
    if (p != NULL)
        t = job_pipe_job_totals(p, i);
    delete_stale_frames(w, j, p ? job_pipe_frames(p, i) : NULL, t.frame_total);
    md_error err;
    md_error_clear(&err);
    if (p != NULL && j->result == WK_RUN && !atomic_load(&j->cancel)) {
        if (job_pipe_outputs(p, i, &err) != 0) {
            wk_job_fail(j, "outputs: %s", err.msg);
        } else {
            uint32_t n = job_outputs_count(job_pipe_outputs_of(p, i));
            if (n > 0)
                wk_job_log(j, MD_LOG_INFO, "%u output artifact(s) in %.3f s", n,
                           job_pipe_job_totals(p, i).outputs_s);
        }
    }
    md_error_clear(&err);
    if (p == NULL)
        wk_job_fail(j, "cannot build manifest.json");
    else if (job_pipe_manifest(p, i, &err) != 0)
        wk_job_fail(j, "%s", err.msg);
    json_t *artifacts = p ? job_pipe_artifacts(p, i) : NULL;
    if (artifacts == NULL)
        artifacts = json_array();
    jr_status status = status_of(j); /* storing the manifest may have failed the job */
    wk_job_log(j, MD_LOG_INFO, "%s: %u of %u frame(s), %llu bytes of PNG, %.3f s",
               jr_status_name(status), atomic_load(&j->frames_done), t.frame_total,
               (unsigned long long)t.bytes, md_now() - j->start_mono);
    pthread_mutex_lock(&j->log_lock);
    char *log = j->log.data ? md_strndup(j->log.data, j->log.len) : md_strdup("");
    size_t log_len = j->log.data ? j->log.len : 0;
    pthread_mutex_unlock(&j->log_lock);
    if (log != NULL)
        put_artifact(w, j, artifacts, "session.log", "text/plain; charset=utf-8", log, log_len);
    md_free(log);
    status = status_of(j);
    char *arts = json_dumps(artifacts, JSON_COMPACT);
    json_decref(artifacts);
    wk_finish(w, j, status, j->result == WK_FAILED ? j->error : "", arts ? arts : "[]");
    free(arts);
}

/* ---- The batch ---- */

static void observe_batch(wk *w, uint32_t jobs, uint32_t frames, const eng_stats *es)
{
    wk_metric_observe(w, JQ_M_BATCH_JOBS, "", jobs);
    wk_metric_observe(w, JQ_M_BATCH_FRAMES, "", frames);
    wk_metric_observe(w, JQ_M_ENGINE_SECONDS, "stage=\"morph\"", es->morph_s);
    wk_metric_observe(w, JQ_M_ENGINE_SECONDS, "stage=\"raster\"", es->raster_s);
    wk_metric_observe(w, JQ_M_ENGINE_SECONDS, "stage=\"shade\"", es->shade_s);
    wk_metric_observe(w, JQ_M_ENGINE_SECONDS, "stage=\"deliver\"", es->deliver_s);
    if (strcmp(eng_name(w->engine), "cuda") == 0) { /* the CPU engine has no device to feed */
        wk_metric_observe(w, JQ_M_ENGINE_SECONDS, "stage=\"upload\"", es->upload_s);
        wk_metric_observe(w, JQ_M_ENGINE_SECONDS, "stage=\"copy\"", es->copy_s);
    }
    if (es->texture_cache_hits > 0)
        wk_metric_add(w, JQ_M_GPU_TEXTURE_CACHE_HITS, "", (long long)es->texture_cache_hits);
    if (es->texture_cache_misses > 0)
        wk_metric_add(w, JQ_M_GPU_TEXTURE_CACHE_MISSES, "", (long long)es->texture_cache_misses);
}

/* A job with any death on record runs alone. */
static int suspect(const wk_job *j)
{
    return j->crashes + j->batch_crashes + j->lost > 0;
}

void wk_sweep_partial(wk *w, wk_job *j)
{
    if (j->deliveries <= 1 && !suspect(j))
        return;
    char prefix[STG_KEY_MAX];
    if (jr_key_job_prefix(prefix, sizeof prefix, j->id) != 0)
        return;
    size_t removed = 0;
    md_error err;
    md_error_clear(&err);
    if (stg_sweep_partial(w->store, prefix, &removed, &err) != 0)
        wk_job_log(j, MD_LOG_WARN, "sweeping partial writes of an earlier attempt: %s", err.msg);
    else if (removed > 0)
        wk_job_log(j, MD_LOG_INFO, "removed %zu partial write(s) of an earlier attempt", removed);
}

/* Fault injection, only for the tests of crash accounting: a job labelled like this crashes
 * the worker once its rendering began, as a real crash would. */
static void maybe_crash(wk *w, wk_job *j)
{
    const char *label = j->spec.label;
    if (w->fault_label != NULL && label != NULL && strcmp(label, w->fault_label) == 0) {
        md_log(MD_LOG_ERROR, "job %s: MORPHD_FAULT_CRASH_LABEL matched; aborting", j->id);
        abort();
    }
}

/* Whether a job the drain interrupted goes back to the queue instead of being finished: it
 * reached the engine, did not fail or get canceled, and either misses frames or the drain has
 * no time left for its outputs. */
static int hand_back(wk *w, const wk_job *j, int rendered, uint32_t frame_total)
{
    if (wk_draining_s(w) < 0 || j->result != WK_RUN || atomic_load(&j->cancel))
        return 0;
    if (!rendered)
        return 1;
    return atomic_load(&j->frames_done) < frame_total || drain_past(w, WK_DRAIN_FINISH);
}

/* Loads a job's inputs and adds it to the pipeline; a job that cannot be loaded or built fails
 * alone (it is still added, for its manifest). Returns whether it will be rendered. */
static int add_job(wk *w, job_pipe *p, uint32_t i, wk_job *j, const job_pipe_sink *sink)
{
    md_error err;
    md_error_clear(&err);
    maybe_crash(w, j);
    (void)wk_draining_s(w); /* starts the drain's clock if a stop came during loading */
    if (atomic_load(&j->cancel)) {
        j->result = WK_CANCELED;
        wk_job_log(j, MD_LOG_INFO, "canceled before rendering");
    } else {
        wk_sweep_partial(w, j);
        if (load_inputs(w, j, &err) != 0)
            wk_job_fail(j, "loading inputs: %s", err.msg);
    }
    json_t *inputs = json_loads(j->inputs_text, 0, NULL);
    job_pipe_job pj = {
        .spec = &j->spec,
        .inputs = j->inputs,
        .stems = {j->stems[0], j->stems[1]},
        .inputs_json = json_is_object(inputs) ? inputs : NULL,
        .start_mono = j->start_mono,
        .load_s = j->load_s,
        .sink = sink,
    };
    md_error_clear(&err);
    int rc = job_pipe_add(p, &pj, &err);
    json_decref(inputs);
    if (rc != 0) {
        wk_job_fail(j, "%s", err.msg);
        return 0;
    }
    if (j->inputs == NULL)
        return 0;
    wk_job_log(j, MD_LOG_INFO, "loaded in %.3f s; %u frame(s) at %dx%d, %d samples", j->load_s,
               job_pipe_job_totals(p, i).frame_total, j->spec.width, j->spec.height,
               j->spec.samples);
    wk_set_stage(w, j, JR_STAGE_RENDERING);
    return 1;
}

/* Loads, renders (ONE engine batch) and finishes count jobs. */
static void run_group(wk *w, wk_job **jobs, uint32_t count)
{
    if (wk_draining_s(w) >= 0) {
        for (uint32_t i = 0; i < count; i++)
            wk_release(w, jobs[i]);
        return;
    }
    wk_begin(w, jobs, count, count == 1);
    wk_fault_arm(w, jobs, count);
    md_error err;
    md_error_clear(&err);
    job_pipe *p = NULL;
    job_pipe_sink *sinks = md_calloc(count, sizeof *sinks);
    if (sinks == NULL || job_pipe_new(w->engine, &w->cfg->limits, count, &p, &err) != 0) {
        for (uint32_t i = 0; i < count; i++)
            wk_job_fail(jobs[i], "worker out of memory building the batch");
    }

    /* Load and build every job; a job that cannot fails alone. */
    uint32_t batch_jobs = 0, batch_frames = 0;
    for (uint32_t i = 0; i < count && p != NULL; i++) {
        sinks[i] = (job_pipe_sink){.put = sink_put,
                                   .log = sink_log,
                                   .frame_stored = sink_frame_stored,
                                   .stop = sink_stop,
                                   .manifest = sink_manifest,
                                   .user = jobs[i]};
        if (add_job(w, p, i, jobs[i], &sinks[i])) {
            batch_jobs++;
            batch_frames += job_pipe_job_totals(p, i).frame_total;
        }
    }

    if (batch_jobs > 0) {
        md_log(MD_LOG_INFO, "batch: %u job(s), %u frame(s), engine %s", batch_jobs, batch_frames,
               eng_name(w->engine));
        md_error_clear(&err);
        int rc = job_pipe_render(p, &err);
        md_error why;
        for (uint32_t i = 0; i < count; i++) {
            if (!job_pipe_rendered(p, i))
                continue;
            wk_flush_frames(w, jobs[i]);
            md_error_clear(&why);
            if (job_pipe_error(p, i, &why) != 0) /* a frame that could not be stored */
                wk_job_fail(jobs[i], "%s", why.msg);
            if (rc != 0)
                wk_job_fail(jobs[i], "render engine: %s", err.msg);
        }
        atomic_fetch_add(&w->batches, 1);
        observe_batch(w, batch_jobs, batch_frames, job_pipe_stats(p));
    }

    for (uint32_t i = 0; i < count; i++) {
        int rendered = p != NULL && job_pipe_rendered(p, i);
        uint32_t frame_total = p != NULL ? job_pipe_job_totals(p, i).frame_total : 0;
        if (hand_back(w, jobs[i], rendered, frame_total)) {
            wk_job_log(jobs[i], MD_LOG_INFO,
                       "worker stopping: handed back with %u of %u frame(s) done, uncharged",
                       atomic_load(&jobs[i]->frames_done), frame_total);
            wk_release(w, jobs[i]);
            continue;
        }
        finish_job(w, p, i, jobs[i]);
    }
    wk_fault_disarm(w);
    job_pipe_free(p); /* before the jobs, whose spec and inputs it borrows */
    md_free(sinks);
}

void wk_batch_run(wk *w)
{
    uint32_t count = w->job_count;
    wk_job **jobs = w->jobs;

    /* Jobs without a crash on record share one engine batch; each of the others runs alone,
     * and so does each face-space job (transform, average: jobs/facespace.h), which makes its
     * meshes before it renders them. */
    wk_job **shared = md_calloc(count, sizeof *shared);
    uint32_t n = 0;
    for (uint32_t i = 0; shared != NULL && i < count; i++)
        if (!suspect(jobs[i]) && !job_kind_is_face(jobs[i]->spec.kind))
            shared[n++] = jobs[i];
    if (n > 0)
        run_group(w, shared, n);
    for (uint32_t i = 0; i < count; i++)
        if (job_kind_is_face(jobs[i]->spec.kind))
            wk_face_run(w, jobs[i]);
        else if (shared == NULL || suspect(jobs[i]))
            run_group(w, &jobs[i], 1);
    md_free(shared);

    /* Release the batch: the heartbeat stops claiming these entries. */
    pthread_mutex_lock(&w->held_lock);
    w->job_count = 0;
    pthread_mutex_unlock(&w->held_lock);
    for (uint32_t i = 0; i < count; i++)
        wk_job_free(jobs[i]);
}
