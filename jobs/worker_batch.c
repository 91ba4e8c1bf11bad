/*
 * worker_batch.c — one batch of the worker: load every held job's canonical inputs from
 * storage, build their engine jobs, render them all in ONE eng_batch_run, store each frame as
 * it finishes, then produce each morph job's analysis outputs (jobs/outputs.c: CSVs, heatmaps,
 * meshes, video, as its spec asks) into storage, write its manifest.json and session.log and
 * finish it in Redis.
 *
 * Threads: wk_batch_run runs on the loop's thread. deliver_frame runs on engine threads,
 * several at once: it writes only its own frame's slot (wk_job.frames[i]), counts with
 * atomics, adds timings under the job's log_lock and talks to Redis under w->conn_lock; when
 * the job wants a video it also hands the frame to job_outputs_frame (thread-safe).
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

#include "mesh/image.h"
#include "version.h"

/* The batch: which wk_job and which output slot each engine job's frames go to. */
typedef struct batch_slot {
    wk_job *job;
    uint32_t out_offset; /* index of this engine job's frame 0 among the job's frames */
} batch_slot;

typedef struct batch_ctx {
    wk *w;
    const batch_slot *slots;
} batch_ctx;

/* ---- Loading ---- */

static int load_mesh(wk *w, wk_job *j, jr_input role, mesh **out, md_error *err)
{
    char key[STG_KEY_MAX];
    if (jr_key_input(key, sizeof key, j->id, role) != 0)
        return md_fail(err, MD_EINVAL, "the job id is too long for a storage key");
    uint64_t max64 = w->cfg->limits.max_file_bytes * 4;
    size_t max = max64 > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)max64;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = stg_get(w->store, key, max, &data, &len, err);
    if (rc == 0)
        rc = mesh_decode_canonical(data, len, &w->cfg->limits, out, err);
    md_free(data);
    if (rc != 0)
        md_error_prefix(err, "input %s: ", jr_input_name(role));
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

    mesh *source = NULL, *target = NULL;
    rc = load_mesh(w, j, render ? JR_IN_MESH : JR_IN_SOURCE, &source, err);
    if (rc == 0 && !render)
        rc = load_mesh(w, j, JR_IN_TARGET, &target, err);
    if (rc == 0) {
        /* Takes ownership of both meshes, on failure too. */
        rc = job_inputs_from_meshes(source, target, &j->inputs, err);
        source = target = NULL;
    }
    mesh_free(source);
    mesh_free(target);
    j->load_s = md_now() - t0;
    return rc;
}

static uint32_t engine_job_count(const wk_job *j)
{
    return j->spec.kind == JOB_KIND_RENDER ? job_spec_view_count(&j->spec) : 1;
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

/* The engine asks this before each frame: a canceled job stops rendering at once while the
 * rest of the batch goes on; a draining worker stops every job once its render time is up. */
static int job_canceled(const void *ctx)
{
    const wk_job *j = ctx;
    return atomic_load(&j->cancel) != 0 || drain_past(j->w, WK_DRAIN_RENDER);
}

/* Builds the job's engine jobs into ej (engine_job_count of them) and its frame slots. */
static int build_job(wk *w, wk_job *j, eng_job *ej, md_error *err)
{
    uint32_t n = engine_job_count(j);
    int rc = j->spec.kind == JOB_KIND_RENDER
                 ? job_build_render(job_inputs_mesh(j->inputs, 0),
                                    job_inputs_materials(j->inputs, 0), &j->spec, ej, err)
                 : job_build(j->inputs, &j->spec, ej, err);
    uint32_t total = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        rc = eng_job_validate(&ej[i], &w->cfg->limits, err);
        ej[i].canceled = job_canceled;
        ej[i].cancel_ctx = j;
        total += ej[i].frame_count;
    }
    if (rc != 0)
        return rc;
    j->frames = md_calloc(total ? total : 1, sizeof *j->frames);
    if (j->frames == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u frame records", total);
    j->frame_total = total;
    return 0;
}

/* ---- Frame delivery (engine threads) ---- */

static int deliver_frame(void *user, const eng_frame *f)
{
    batch_ctx *ctx = user;
    const batch_slot *slot = &ctx->slots[f->job];
    wk_job *j = slot->job;
    /* A frame of a job canceled while the engine rendered it is not stored. */
    if (atomic_load(&j->cancel) || atomic_load(&j->frame_error))
        return 0;
    uint32_t index = slot->out_offset + f->frame;
    wk_frame *out = &j->frames[index];
    int rc = j->spec.kind == JOB_KIND_RENDER
                 ? job_view_name(index, j->stems[0], out->name, sizeof out->name)
                 : job_frame_name(f->frame, f->weight, j->stems[0], j->stems[1], out->name,
                                  sizeof out->name);
    if (rc != 0) {
        atomic_store(&j->frame_error, 1);
        wk_job_fail(j, "frame %u: name too long", index);
        return 0;
    }
    md_error err;
    md_error_clear(&err);
    if (job_outputs_wants_frames(j->outputs) && job_outputs_frame(j->outputs, f, &err) != 0) {
        atomic_store(&j->frame_error, 1);
        wk_job_fail(j, "frame %u: %s", index, err.msg);
        return 0;
    }
    double t0 = md_now();
    uint8_t *png = NULL;
    size_t png_len = 0;
    /* Same encoder and level as `morph run`, so the bytes are identical. */
    rc = img_encode_png(f->rgb, f->width, f->height, 3, j->spec.png_level, &png, &png_len, &err);
    double t1 = md_now();
    if (rc == 0) {
        char key[STG_KEY_MAX];
        rc = jr_key_frame(key, sizeof key, j->id, out->name) != 0
                 ? md_fail(&err, MD_EINVAL, "the frame's storage key is too long")
                 : stg_put(ctx->w->store, key, png, png_len, &err);
    }
    double t2 = md_now();
    md_free(png);
    if (rc != 0) {
        atomic_store(&j->frame_error, 1);
        wk_job_fail(j, "frame %u: %s", index, err.msg);
        return 0;
    }
    out->weight = f->weight;
    out->bytes = png_len;
    out->done = 1;
    atomic_fetch_add(&j->frames_done, 1);
    atomic_fetch_add(&ctx->w->frames, 1);
    pthread_mutex_lock(&j->log_lock);
    j->encode_s += t1 - t0;
    j->write_s += t2 - t1;
    j->bytes += png_len;
    pthread_mutex_unlock(&j->log_lock);
    wk_count_frame(ctx->w, j);
    return 0;
}

/* ---- Finishing ---- */

/* Deletes frames of an earlier attempt that this attempt did not write. */
typedef struct stale_ctx {
    const wk_job *job;
    size_t prefix_len;
    char (*doomed)[STG_KEY_MAX];
    size_t count, cap;
} stale_ctx;

static int frame_written(const wk_job *j, const char *name)
{
    for (uint32_t i = 0; i < j->frame_total; i++)
        if (j->frames != NULL && j->frames[i].done && strcmp(j->frames[i].name, name) == 0)
            return 1;
    return 0;
}

static int note_stale(void *user, const char *key, uint64_t size)
{
    (void)size;
    stale_ctx *s = user;
    if (frame_written(s->job, key + s->prefix_len))
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

static void delete_stale_frames(wk *w, wk_job *j)
{
    char prefix[STG_KEY_MAX];
    if (jr_key_frames_prefix(prefix, sizeof prefix, j->id) != 0)
        return;
    stale_ctx s = {.job = j, .prefix_len = strlen(prefix)};
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

static json_t *mesh_json(const mesh *m)
{
    float min[3], max[3];
    mesh_bounds(m, min, max);
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:{s:o,s:o}}", "format", mesh_format(m), "vertices",
                     (json_int_t)mesh_vertex_count(m), "triangles",
                     (json_int_t)mesh_triangle_count(m), "uvs", (json_int_t)mesh_uv_count(m),
                     "materials", (json_int_t)mesh_material_count(m), "bounds", "min",
                     job_vec3_json(min), "max", job_vec3_json(max));
}

typedef struct batch_info {
    const eng_job *first; /* the job's first engine job, NULL when it never got built */
    uint32_t batch_jobs, batch_frames;
    const eng_stats *stats;
    const char *engine_name;
} batch_info;

/* manifest.json: what `morph run` writes, plus the job, the worker and the batch it ran in. */
static json_t *manifest_json(wk *w, wk_job *j, const char *status, const batch_info *bi)
{
    json_t *frames = json_array();
    size_t total_bytes = 0;
    for (uint32_t i = 0; i < j->frame_total; i++) {
        const wk_frame *f = &j->frames[i];
        if (!f->done)
            continue;
        char file[WK_FRAME_NAME_MAX + 8];
        jr_frame_artifact_name(file, sizeof file, f->name);
        json_array_append_new(frames, json_pack("{s:I,s:f,s:s,s:I}", "index", (json_int_t)i,
                                                "weight", (double)f->weight, "file", file, "bytes",
                                                (json_int_t)f->bytes));
        total_bytes += f->bytes;
    }
    json_t *inputs = json_loads(j->inputs_text, 0, NULL);
    if (inputs == NULL)
        inputs = json_object();
    if (j->inputs != NULL) {
        int render = j->spec.kind == JOB_KIND_RENDER;
        json_object_set_new(inputs, "meshes",
                            render ? json_pack("[o]", mesh_json(job_inputs_mesh(j->inputs, 0)))
                                   : json_pack("[o,o]", mesh_json(job_inputs_mesh(j->inputs, 0)),
                                               mesh_json(job_inputs_mesh(j->inputs, 1))));
    }
    const eng_stats *es = bi->stats;
    json_t *root = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:s,s:{s:s,s:i},s:o,s:o,s:o,s:I,s:I,s:I,"
        "s:{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f},s:s,s:{s:I,s:I}}",
        "morphd_version", MORPHD_VERSION, "id", j->id, "kind", j->kind, "status", status, "attempt",
        (json_int_t)j->deliveries, "worker", w->name, "engine", "name", bi->engine_name, "threads",
        es ? es->threads : 0, "spec", job_spec_to_json(&j->spec), "inputs", inputs, "frames",
        frames, "frame_count", (json_int_t)json_array_size(frames), "frames_total",
        (json_int_t)j->frame_total, "output_bytes", (json_int_t)total_bytes, "timings_s", "load",
        j->load_s, "morph", es ? es->morph_s : 0.0, "raster", es ? es->raster_s : 0.0, "shade",
        es ? es->shade_s : 0.0, "png_encode", j->encode_s, "write", j->write_s, "render_wall",
        es ? es->wall_s : 0.0, "total", md_now() - j->start_mono, "timings_note",
        "morph, raster, shade and render_wall are for the whole engine batch (see batch); "
        "morph, raster, shade, png_encode and write are summed over engine threads",
        "batch", "jobs", (json_int_t)bi->batch_jobs, "frames", (json_int_t)bi->batch_frames);
    if (root == NULL)
        return NULL;
    if (bi->first != NULL && j->spec.kind != JOB_KIND_RENDER)
        json_object_set_new(root, "camera", job_camera_json(&bi->first->camera));
    if (j->outputs != NULL) {
        json_t *outputs = job_outputs_manifest(j->outputs);
        if (outputs != NULL)
            json_object_set_new(outputs, "wall_s", json_real(j->outputs_s));
        json_object_set_new(root, "outputs", outputs ? outputs : json_null());
    }
    if (j->result == WK_FAILED)
        json_object_set_new(root, "error", json_string(j->error));
    const char *label = j->spec.label;
    if (label != NULL && label[0] != '\0')
        json_object_set_new(root, "label", json_string(label));
    return root;
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

/* ---- Analysis outputs into storage ---- */

typedef struct store_sink {
    wk *w;
    wk_job *j;
} store_sink;

static int sink_put(void *user, const char *name, const char *content_type, const void *bytes,
                    size_t len, md_error *err)
{
    (void)content_type;
    store_sink *s = user;
    char key[STG_KEY_MAX];
    if (jr_key_artifact(key, sizeof key, s->j->id, name) != 0)
        return md_fail(err, MD_EINVAL, "storage key for %s is too long", name);
    return stg_put(s->w->store, key, bytes, len, err);
}

static void sink_log(void *user, md_log_level level, const char *msg)
{
    store_sink *s = user;
    wk_job_log(s->j, level, "%s", msg);
}

/* Produces what the spec asks besides the frames, after a successful render. */
static void produce_outputs(wk *w, wk_job *j, json_t *artifacts)
{
    if (j->outputs == NULL || j->result != WK_RUN || atomic_load(&j->cancel))
        return;
    store_sink state = {.w = w, .j = j};
    job_output_sink sink = {.put = sink_put, .log = sink_log, .user = &state};
    md_error err;
    md_error_clear(&err);
    double t0 = md_now();
    int rc = job_outputs_finish(j->outputs, w->engine, &sink, &err);
    j->outputs_s = md_now() - t0;
    /* What was stored is listed even after a failure, so deleting the job removes it. */
    for (uint32_t i = 0; i < job_outputs_count(j->outputs); i++) {
        const job_artifact *a = job_outputs_artifact(j->outputs, i);
        json_array_append_new(artifacts,
                              json_pack("{s:s,s:I,s:s}", "name", a->name, "bytes",
                                        (json_int_t)a->bytes, "content_type", a->content_type));
    }
    if (rc != 0)
        wk_job_fail(j, "outputs: %s", err.msg);
    else if (job_outputs_count(j->outputs) > 0)
        wk_job_log(j, MD_LOG_INFO, "%u output artifact(s) in %.3f s", job_outputs_count(j->outputs),
                   j->outputs_s);
}

static jr_status status_of(const wk_job *j)
{
    if (j->result == WK_FAILED)
        return JR_FAILED;
    if (j->result == WK_CANCELED || atomic_load(&j->cancel))
        return JR_CANCELED;
    return JR_SUCCEEDED;
}

static void finish_job(wk *w, wk_job *j, const batch_info *bi)
{
    wk_set_stage(w, j, JR_STAGE_FINISHING);
    delete_stale_frames(w, j);
    json_t *artifacts = json_array();
    for (uint32_t i = 0; i < j->frame_total; i++) {
        const wk_frame *f = &j->frames[i];
        if (!f->done)
            continue;
        char name[WK_FRAME_NAME_MAX + 8];
        jr_frame_artifact_name(name, sizeof name, f->name);
        json_array_append_new(artifacts,
                              json_pack("{s:s,s:I,s:s}", "name", name, "bytes",
                                        (json_int_t)f->bytes, "content_type", "image/png"));
    }
    produce_outputs(w, j, artifacts);
    jr_status status = status_of(j);
    json_t *man = manifest_json(w, j, jr_status_name(status), bi);
    char *man_text = man ? json_dumps(man, JSON_INDENT(2) | JSON_REAL_PRECISION(7)) : NULL;
    json_decref(man);
    if (man_text != NULL)
        put_artifact(w, j, artifacts, "manifest.json", "application/json", man_text,
                     strlen(man_text));
    else
        wk_job_fail(j, "cannot build manifest.json");
    free(man_text);
    status = status_of(j); /* storing the manifest may have failed the job */
    wk_job_log(j, MD_LOG_INFO, "%s: %u of %u frame(s), %llu bytes of PNG, %.3f s",
               jr_status_name(status), atomic_load(&j->frames_done), j->frame_total,
               (unsigned long long)j->bytes, md_now() - j->start_mono);
    pthread_mutex_lock(&j->log_lock);
    char *log = j->log ? md_strndup(j->log, j->log_len) : md_strdup("");
    size_t log_len = j->log ? j->log_len : 0;
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
}

/* A job with any death on record runs alone. */
static int suspect(const wk_job *j)
{
    return j->crashes + j->batch_crashes + j->lost > 0;
}

/* Sweeps what a crashed earlier attempt left half-written, before this attempt writes. */
static void sweep_partial(wk *w, wk_job *j)
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
static int hand_back(wk *w, const wk_job *j, int rendered)
{
    if (wk_draining_s(w) < 0 || j->result != WK_RUN || atomic_load(&j->cancel))
        return 0;
    if (!rendered)
        return 1;
    return atomic_load(&j->frames_done) < j->frame_total || drain_past(w, WK_DRAIN_FINISH);
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

    /* Load and build every job; a job that cannot fails alone. */
    uint32_t eng_total = 0;
    for (uint32_t i = 0; i < count; i++)
        eng_total += engine_job_count(jobs[i]);
    eng_job *ej = md_calloc(eng_total ? eng_total : 1, sizeof *ej);
    batch_slot *slots = md_calloc(eng_total ? eng_total : 1, sizeof *slots);
    const eng_job **first = md_calloc(count, sizeof *first);
    if (ej == NULL || slots == NULL || first == NULL) {
        for (uint32_t i = 0; i < count; i++)
            wk_job_fail(jobs[i], "worker out of memory building the batch");
    }
    uint32_t used = 0, batch_jobs = 0, batch_frames = 0;
    for (uint32_t i = 0; i < count && ej != NULL && slots != NULL && first != NULL; i++) {
        wk_job *j = jobs[i];
        md_error_clear(&err);
        maybe_crash(w, j);
        (void)wk_draining_s(w); /* starts the drain's clock if a stop came during loading */
        if (atomic_load(&j->cancel)) {
            j->result = WK_CANCELED;
            wk_job_log(j, MD_LOG_INFO, "canceled before rendering");
            continue;
        }
        sweep_partial(w, j);
        if (load_inputs(w, j, &err) != 0) {
            wk_job_fail(j, "loading inputs: %s", err.msg);
            continue;
        }
        uint32_t n = engine_job_count(j);
        if (build_job(w, j, ej + used, &err) != 0) {
            wk_job_fail(j, "%s", err.msg);
            continue;
        }
        /* Before rendering, so a job whose outputs cannot be made fails without the work. */
        if (j->spec.kind == JOB_KIND_MORPH &&
            job_outputs_new(&j->spec, j->inputs, ej + used, j->stems[0], j->stems[1], &j->outputs,
                            &err) != 0) {
            wk_job_fail(j, "outputs: %s", err.msg);
            continue;
        }
        uint32_t offset = 0;
        for (uint32_t k = 0; k < n; k++) {
            slots[used + k].job = j;
            slots[used + k].out_offset = offset;
            offset += ej[used + k].frame_count;
        }
        first[i] = ej + used;
        used += n;
        batch_jobs++;
        batch_frames += j->frame_total;
        wk_job_log(j, MD_LOG_INFO, "loaded in %.3f s; %u frame(s) at %dx%d, %d samples", j->load_s,
                   j->frame_total, j->spec.width, j->spec.height, j->spec.samples);
        wk_set_stage(w, j, JR_STAGE_RENDERING);
    }

    eng_stats stats;
    memset(&stats, 0, sizeof stats);
    if (used > 0) {
        md_log(MD_LOG_INFO, "batch: %u job(s), %u frame(s), engine %s", batch_jobs, batch_frames,
               eng_name(w->engine));
        batch_ctx ctx = {.w = w, .slots = slots};
        md_error_clear(&err);
        int rc = eng_batch_run(w->engine, ej, used, deliver_frame, &ctx, &stats, &err);
        if (rc != 0) {
            for (uint32_t i = 0; i < count; i++)
                if (first[i] != NULL)
                    wk_job_fail(jobs[i], "render engine: %s", err.msg);
        }
        atomic_fetch_add(&w->batches, 1);
        observe_batch(w, batch_jobs, batch_frames, &stats);
    }

    batch_info bi = {.batch_jobs = batch_jobs,
                     .batch_frames = batch_frames,
                     .stats = used > 0 ? &stats : NULL,
                     .engine_name = eng_name(w->engine)};
    batch_info alone = {.engine_name = eng_name(w->engine)}; /* jobs that never reached it */
    for (uint32_t i = 0; i < count; i++) {
        bi.first = first ? first[i] : NULL;
        if (hand_back(w, jobs[i], bi.first != NULL)) {
            wk_job_log(jobs[i], MD_LOG_INFO,
                       "worker stopping: handed back with %u of %u frame(s) done, uncharged",
                       atomic_load(&jobs[i]->frames_done), jobs[i]->frame_total);
            wk_release(w, jobs[i]);
            continue;
        }
        finish_job(w, jobs[i], bi.first != NULL ? &bi : &alone);
    }
    wk_fault_disarm(w);
    md_free(ej);
    md_free(slots);
    md_free(first);
}

void wk_batch_run(wk *w)
{
    uint32_t count = w->job_count;
    wk_job **jobs = w->jobs;

    /* Jobs without a crash on record share one engine batch; each of the others runs alone. */
    wk_job **shared = md_calloc(count, sizeof *shared);
    uint32_t n = 0;
    for (uint32_t i = 0; shared != NULL && i < count; i++)
        if (!suspect(jobs[i]))
            shared[n++] = jobs[i];
    if (n > 0)
        run_group(w, shared, n);
    for (uint32_t i = 0; i < count; i++)
        if (shared == NULL || suspect(jobs[i]))
            run_group(w, &jobs[i], 1);
    md_free(shared);

    /* Release the batch: the heartbeat stops claiming these entries. */
    pthread_mutex_lock(&w->held_lock);
    w->job_count = 0;
    pthread_mutex_unlock(&w->held_lock);
    for (uint32_t i = 0; i < count; i++)
        wk_job_free(jobs[i]);
}
