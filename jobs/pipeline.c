/*
 * pipeline.c — the job pipeline shared by `morph run` (cli/run.c) and the worker
 * (jobs/worker_batch.c): engine jobs built from loaded inputs, ONE eng_batch_run for every job,
 * frame delivery, analysis outputs and manifest.json. See pipeline.h for the life of a pipeline.
 *
 * Threads: job_pipe_* run on the caller's thread. deliver_frame and stop_asked run on engine
 * threads, several at once: a frame's callback writes only its own slot (pipe_job.frames[i]),
 * counts with atomics and adds totals under the job's lock; the first error of a job is kept
 * under that lock too. The sink's put and hooks are called from there as well. job_pipe_render
 * also starts the input-only analysis of the batch's first PIPE_EARLY_ANALYSES jobs
 * (job_outputs_start: a thread per job, logging through the job's sink) to run beside the frames;
 * job_pipe_outputs waits for it.
 *
 * Ownership: the pipeline owns each job's engine jobs, frame slots and job_outputs (freed first,
 * since they borrow the spec, the inputs and the engine jobs); it borrows the spec, the inputs
 * and the sink. The engine batch is a copy of every rendered job's eng_jobs side by side, so
 * each job's own eng_jobs (borrowed by its outputs) never move.
 *
 * Invariants: a job renders only when built (engine jobs valid, outputs created); a failed job
 * stores no more frames and skips its outputs; frames are named and encoded exactly as
 * `morph run` always did, so the worker's frames equal its bytes.
 */
#define _GNU_SOURCE
#include "jobs/pipeline.h"
#include "jobs/record.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/image.h"
#include "version.h"

typedef struct pipe_job {
    job_pipe_job desc;
    char stems[2][128];
    json_t *inputs_json; /* owned copy of desc.inputs_json, or NULL */
    eng_job *ej;         /* owned; ej_count engine jobs (views of a render job) */
    uint32_t ej_count;
    int built;              /* engine jobs valid and outputs created */
    int rendered;           /* in the engine batch */
    job_pipe_frame *frames; /* owned; frame_total slots */
    uint32_t frame_total;
    job_outputs *outputs; /* owned; NULL for render jobs */
    atomic_uint frames_done;
    atomic_int failed;

    pthread_mutex_t lock; /* guards the error and the totals below */
    int error_rc;
    char error[MD_ERROR_MSG_MAX];
    double encode_s, write_s, outputs_s;
    uint64_t bytes;
    size_t manifest_bytes; /* 0 until manifest.json is stored */
} pipe_job;

/* "frames/<name>": a frame's artifact name. */
#define FRAME_ARTIFACT_MAX (JOB_PIPE_FRAME_NAME_MAX + 8)

static void frame_artifact_name(const job_pipe_frame *f, char out[FRAME_ARTIFACT_MAX])
{
    jr_frame_artifact_name(out, FRAME_ARTIFACT_MAX, f->name);
}

/* Which job and which frame slot each engine job of the batch delivers to. */
typedef struct pipe_slot {
    pipe_job *job;
    uint32_t offset; /* index of this engine job's frame 0 among the job's frames */
} pipe_slot;

struct job_pipe {
    eng *engine;
    const md_limits *lim;
    pipe_job *jobs;
    uint32_t count, cap;
    pipe_slot *slots; /* one per engine job of the batch */
    uint32_t batch_jobs, batch_frames;
    eng_stats stats;
};

/* ---- Jobs ---- */

int job_pipe_new(eng *e, const md_limits *lim, uint32_t job_cap, job_pipe **out, md_error *err)
{
    *out = NULL;
    job_pipe *p = md_calloc(1, sizeof *p);
    if (p != NULL)
        p->jobs = md_calloc(job_cap ? job_cap : 1, sizeof *p->jobs);
    if (p == NULL || p->jobs == NULL) {
        md_free(p);
        return md_fail(err, MD_ENOMEM, "out of memory for a pipeline of %u job(s)", job_cap);
    }
    p->engine = e;
    p->lim = lim;
    p->cap = job_cap;
    *out = p;
    return 0;
}

void job_pipe_free(job_pipe *p)
{
    if (p == NULL)
        return;
    for (uint32_t i = 0; i < p->count; i++) {
        pipe_job *j = &p->jobs[i];
        job_outputs_free(j->outputs); /* before the engine jobs it borrows */
        md_free(j->ej);
        md_free(j->frames);
        json_decref(j->inputs_json);
        pthread_mutex_destroy(&j->lock);
    }
    md_free(p->jobs);
    md_free(p->slots);
    md_free(p);
}

/* Keeps the job's first error (later ones are dropped); the job renders and stores no more
 * frames. Any thread. */
static void job_fail(pipe_job *j, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void job_fail(pipe_job *j, int rc, const char *fmt, ...)
{
    pthread_mutex_lock(&j->lock);
    if (j->error_rc == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->error, sizeof j->error, fmt, ap);
        va_end(ap);
        j->error_rc = rc < 0 ? rc : MD_EINTERNAL;
    }
    pthread_mutex_unlock(&j->lock);
    atomic_store(&j->failed, 1);
}

static int stop_asked(const pipe_job *j)
{
    const job_pipe_sink *s = j->desc.sink;
    return s->stop != NULL ? s->stop(s->user) : JOB_PIPE_GO;
}

/* The engine asks this before each frame: a failed or stopped job renders no more frames while
 * the rest of the batch goes on. */
static int job_stopped(const void *ctx)
{
    const pipe_job *j = ctx;
    return atomic_load(&j->failed) != 0 || stop_asked(j) != JOB_PIPE_GO;
}

static int build_job(job_pipe *p, pipe_job *j, md_error *err)
{
    job_spec *spec = j->desc.spec;
    const job_inputs *in = j->desc.inputs;
    int render = spec->kind == JOB_KIND_RENDER;
    uint32_t n = render ? job_spec_view_count(spec) : 1;
    j->ej = md_calloc(n ? n : 1, sizeof *j->ej);
    if (j->ej == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u engine job(s)", n);
    int rc = render ? job_build_render(job_inputs_mesh(in, 0), job_inputs_materials(in, 0), spec,
                                       j->ej, err)
                    : job_build(in, spec, j->ej, err);
    uint32_t total = 0;
    for (uint32_t k = 0; rc == 0 && k < n; k++) {
        rc = eng_job_validate(&j->ej[k], p->lim, err);
        j->ej[k].canceled = job_stopped;
        j->ej[k].cancel_ctx = j;
        total += j->ej[k].frame_count;
    }
    if (rc != 0)
        return rc;
    j->ej_count = n;
    j->frames = md_calloc(total ? total : 1, sizeof *j->frames);
    if (j->frames == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u frame records", total);
    j->frame_total = total;
    /* Before rendering, so a job whose outputs cannot be made fails without the work. */
    if (!render) {
        rc = job_outputs_new(spec, in, j->ej, j->stems[0], j->stems[1], &j->outputs, err);
        if (rc != 0)
            return md_error_prefix(err, "outputs: ");
    }
    j->built = 1;
    return 0;
}

int job_pipe_add(job_pipe *p, const job_pipe_job *job, md_error *err)
{
    if (p->count == p->cap)
        return md_fail(err, MD_EINVAL, "the pipeline holds %u job(s) already", p->cap);
    pipe_job *j = &p->jobs[p->count++];
    memset(j, 0, sizeof *j);
    j->desc = *job;
    for (int side = 0; side < 2; side++)
        snprintf(j->stems[side], sizeof j->stems[side], "%s",
                 job->stems[side] ? job->stems[side] : "");
    atomic_init(&j->frames_done, 0);
    atomic_init(&j->failed, 0);
    pthread_mutex_init(&j->lock, NULL);
    if (job->inputs_json != NULL)
        j->inputs_json = json_deep_copy(job->inputs_json);
    if (job->inputs == NULL)
        return 0;
    int rc = build_job(p, j, err);
    if (rc != 0)
        job_fail(j, rc, "%s", err->msg);
    return rc;
}

/* ---- Frame delivery (engine threads) ---- */

static int deliver_frame(void *user, const eng_frame *f)
{
    job_pipe *p = user;
    const pipe_slot *slot = &p->slots[f->job];
    pipe_job *j = slot->job;
    const job_pipe_sink *sink = j->desc.sink;
    /* A frame of a job that failed or was canceled while the engine rendered it is not stored. */
    if (atomic_load(&j->failed) || stop_asked(j) == JOB_PIPE_DISCARD)
        return 0;
    uint32_t index = slot->offset + f->frame;
    job_pipe_frame *out = &j->frames[index];
    int rc = j->desc.spec->kind == JOB_KIND_RENDER
                 ? job_view_name(index, j->stems[0], out->name, sizeof out->name)
                 : job_frame_name(f->frame, f->weight, f->texture_weight, j->stems[0], j->stems[1],
                                  out->name, sizeof out->name);
    if (rc != 0) {
        job_fail(j, MD_EINVAL, "frame %u: name too long", index);
        return 0;
    }
    md_error err;
    md_error_clear(&err);
    if (job_outputs_wants_frames(j->outputs) && job_outputs_frame(j->outputs, f, &err) != 0) {
        job_fail(j, err.code, "frame %u: %s", index, err.msg);
        return 0;
    }
    double t0 = md_now();
    uint8_t *png = NULL;
    size_t png_len = 0;
    rc = img_encode_png_frame(f->rgb, f->width, f->height, 3, j->desc.spec->png_level, &png,
                              &png_len, &err);
    double t1 = md_now();
    if (rc == 0) {
        char name[FRAME_ARTIFACT_MAX];
        frame_artifact_name(out, name);
        rc = sink->put(sink->user, name, "image/png", png, png_len, &err);
    }
    double t2 = md_now();
    md_free(png);
    if (rc != 0) {
        job_fail(j, rc, "frame %u: %s", index, err.msg);
        return 0;
    }
    out->weight = f->weight;
    out->texture_weight = f->texture_weight;
    out->bytes = png_len;
    out->done = 1;
    atomic_fetch_add(&j->frames_done, 1);
    pthread_mutex_lock(&j->lock);
    j->encode_s += t1 - t0;
    j->write_s += t2 - t1;
    j->bytes += png_len;
    pthread_mutex_unlock(&j->lock);
    md_log(MD_LOG_DEBUG, "frame %u (t=%.4f) -> %s, %zu bytes", index, (double)f->weight, out->name,
           png_len);
    if (sink->frame_stored != NULL)
        sink->frame_stored(sink->user, index);
    return 0;
}

/* ---- The batch ---- */

#define PIPE_EARLY_ANALYSES 2 /* jobs of a batch whose analysis starts beside the frames */

int job_pipe_render(job_pipe *p, md_error *err)
{
    if (p->slots != NULL || p->batch_jobs > 0)
        return md_fail(err, MD_EINVAL, "the pipeline has rendered already");
    uint32_t eng_total = 0;
    for (uint32_t i = 0; i < p->count; i++)
        if (p->jobs[i].built)
            eng_total += p->jobs[i].ej_count;
    if (eng_total == 0)
        return 0;
    eng_job *batch = md_calloc(eng_total, sizeof *batch);
    p->slots = md_calloc(eng_total, sizeof *p->slots);
    if (batch == NULL || p->slots == NULL) {
        md_free(batch);
        return md_fail(err, MD_ENOMEM, "out of memory for a batch of %u engine job(s)", eng_total);
    }
    uint32_t used = 0, early = 0;
    for (uint32_t i = 0; i < p->count; i++) {
        pipe_job *j = &p->jobs[i];
        if (!j->built)
            continue;
        uint32_t offset = 0;
        for (uint32_t k = 0; k < j->ej_count; k++) {
            batch[used] = j->ej[k];
            p->slots[used].job = j;
            p->slots[used].offset = offset;
            offset += j->ej[k].frame_count;
            used++;
        }
        j->rendered = 1;
        p->batch_jobs++;
        p->batch_frames += j->frame_total;
        /* The analysis that needs only the inputs runs beside the frames, for the first
         * PIPE_EARLY_ANALYSES jobs of the batch (the first whose outputs the caller asks for):
         * each holds its results (texture-sized maps) until its outputs are made, so a large
         * batch must not start them all. The others run theirs in job_pipe_outputs. */
        if (early < PIPE_EARLY_ANALYSES && j->outputs != NULL) {
            const job_pipe_sink *s = j->desc.sink;
            job_output_sink sink = {.put = s->put, .log = s->log, .user = s->user};
            md_error aerr;
            md_error_clear(&aerr);
            if (job_outputs_start(j->outputs, &sink, &aerr) != 0)
                job_fail(j, aerr.code, "outputs: %s", aerr.msg);
            early++;
        }
    }
    int rc = eng_batch_run(p->engine, batch, used, deliver_frame, p, &p->stats, err);
    md_free(batch);
    return rc;
}

/* ---- Outputs ---- */

int job_pipe_outputs(job_pipe *p, uint32_t i, md_error *err)
{
    pipe_job *j = &p->jobs[i];
    if (!j->rendered || j->outputs == NULL || atomic_load(&j->failed))
        return 0;
    const job_pipe_sink *s = j->desc.sink;
    job_output_sink sink = {.put = s->put, .log = s->log, .user = s->user};
    double t0 = md_now();
    int rc = job_outputs_finish(j->outputs, p->engine, &sink, err);
    j->outputs_s = md_now() - t0;
    if (rc != 0)
        job_fail(j, rc, "outputs: %s", err->msg);
    return rc;
}

/* ---- manifest.json ---- */

json_t *job_pipe_text_json(const char *s)
{
    if (s == NULL)
        return json_null();
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    char *copy = md_strdup(s);
    if (copy == NULL)
        return json_null();
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    j = json_string(copy);
    md_free(copy);
    return j ? j : json_null();
}

/* The manifest's words for what opacity reading and hiding did (docs/materials.md). */
#define JOB_NOTE_TF_OPACITY                                                                        \
    "this MTL library writes Tf as opacity (every Tf is 0 0 0 or 1 1 1, at least one 1 1 1, "      \
    "as Maya-style exporters write it): materials without d or Tr took their Tf as opacity"
#define JOB_NOTE_HIDDEN                                                                            \
    "triangles whose material, in the source or the target, is named were taken out of both "      \
    "meshes before rendering and analysis, with the vertices only they used: absent from the "     \
    "frames, figures, statistics, CSVs and per-frame meshes, and from the camera's framing"

/* inputs.<role>: the mesh's facts, every material with its colour, opacity (where not 1) and
 * texture. */
static json_t *mesh_detail_json(const mesh *m)
{
    json_t *materials = json_array();
    for (uint32_t i = 0; i < mesh_material_count(m); i++) {
        float rgb[3];
        mesh_material_color(m, i, rgb);
        const img *tex = mesh_material_texture(m, i);
        json_t *texture = json_null();
        if (tex != NULL)
            texture = json_pack("{s:o,s:i,s:i}", "path",
                                job_pipe_text_json(mesh_material_texture_path(m, i)), "width",
                                img_width(tex), "height", img_height(tex));
        json_t *mat =
            json_pack("{s:o,s:o,s:o}", "name", job_pipe_text_json(mesh_material_name(m, i)),
                      "color", job_vec3_json(rgb), "texture", texture);
        /* What was read, where it matters: a lab checks that the overlays came out see-through. */
        float opacity = mesh_material_opacity(m, i);
        if (mat != NULL && opacity != 1.0f)
            json_object_set_new(mat, "opacity", json_real(opacity));
        json_array_append_new(materials, mat);
    }
    float min[3], max[3];
    mesh_bounds(m, min, max);
    json_t *detail =
        json_pack("{s:s,s:I,s:I,s:I,s:o,s:{s:o,s:o}}", "format", mesh_format(m), "vertices",
                  (json_int_t)mesh_vertex_count(m), "triangles", (json_int_t)mesh_triangle_count(m),
                  "uvs", (json_int_t)mesh_uv_count(m), "materials", materials, "bounds", "min",
                  job_vec3_json(min), "max", job_vec3_json(max));
    if (detail != NULL && mesh_opacity_from_tf(m))
        json_object_set_new(detail, "opacity_note", json_string(JOB_NOTE_TF_OPACITY));
    return detail;
}

/* inputs.hidden_materials: what spec.hide_materials took out (job_inputs_hide). */
static json_t *hidden_json(const job_spec *spec, const job_inputs *in)
{
    const mesh_hide_stats *h = job_inputs_hidden(in);
    json_t *names = json_array();
    for (uint32_t i = 0; names != NULL && i < spec->hide_count; i++)
        json_array_append_new(names, job_pipe_text_json(spec->hide_materials[i]));
    return json_pack("{s:o,s:I,s:I,s:s}", "names", names, "triangles", (json_int_t)h->triangles,
                     "vertices", (json_int_t)h->vertices, "rule", JOB_NOTE_HIDDEN);
}

/* inputs.meshes[]: the mesh's facts with the number of materials. */
static json_t *mesh_summary_json(const mesh *m)
{
    float min[3], max[3];
    mesh_bounds(m, min, max);
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:{s:o,s:o}}", "format", mesh_format(m), "vertices",
                     (json_int_t)mesh_vertex_count(m), "triangles",
                     (json_int_t)mesh_triangle_count(m), "uvs", (json_int_t)mesh_uv_count(m),
                     "materials", (json_int_t)mesh_material_count(m), "bounds", "min",
                     job_vec3_json(min), "max", job_vec3_json(max));
}

/* The caller's inputs object, each mesh's facts added under its role where the caller did not
 * say otherwise, and every mesh's summary in "meshes". */
static json_t *inputs_json(const pipe_job *j)
{
    json_t *inputs = j->inputs_json ? json_deep_copy(j->inputs_json) : json_object();
    if (inputs == NULL || j->desc.inputs == NULL)
        return inputs ? inputs : json_object();
    int render = j->desc.spec->kind == JOB_KIND_RENDER;
    static const char *const roles[2] = {"source", "target"};
    json_t *meshes = json_array();
    for (int side = 0; side < (render ? 1 : 2); side++) {
        const mesh *m = job_inputs_mesh(j->desc.inputs, side);
        const char *role = render ? "mesh" : roles[side];
        json_t *mine = json_object_get(inputs, role);
        if (!json_is_object(mine)) {
            mine = json_object();
            json_object_set_new(inputs, role, mine);
        }
        json_t *detail = mesh_detail_json(m);
        json_object_update_missing(mine, detail);
        json_decref(detail);
        json_array_append_new(meshes, mesh_summary_json(m));
    }
    json_object_set_new(inputs, "meshes", meshes);
    if (!render && j->desc.spec->hide_count > 0)
        json_object_set_new(inputs, "hidden_materials", hidden_json(j->desc.spec, j->desc.inputs));
    return inputs;
}

/* The resolved camera, and whether it was framed automatically or given. */
static json_t *camera_json(const job_spec *spec, const eng_camera *cam)
{
    json_t *c = job_camera_json(cam);
    if (c == NULL)
        return NULL;
    json_object_set_new(c, "mode",
                        json_string(spec->camera_mode == JOB_CAMERA_AUTO ? "auto" : "explicit"));
    /* What the camera was fitted to: a reference (--frame-on), or null for the job's meshes. */
    json_t *on = json_null();
    if (spec->frame_on)
        on = json_pack("{s:s,s:o,s:o}", "name", spec->frame_on_name, "min",
                       job_vec3_json(spec->frame_on_min), "max", job_vec3_json(spec->frame_on_max));
    json_object_set_new(c, "framed_on", on ? on : json_null());
    return c;
}

/* "options": a morph job's normalised options as `morph run` has always written them. */
static json_t *options_json(const pipe_job *j)
{
    const job_spec *spec = j->desc.spec;
    json_t *weights = json_array(), *shape = json_array(), *texture = json_array();
    const float *sw = job_spec_shape_weights(spec), *tw = job_spec_texture_weights(spec);
    for (uint32_t i = 0; i < j->frame_total; i++) {
        json_array_append_new(weights, json_real(job_spec_weight(spec, i)));
        json_array_append_new(shape, json_real(sw[i]));
        json_array_append_new(texture, json_real(tw[i]));
    }
    char background[8];
    snprintf(background, sizeof background, "%02x%02x%02x", spec->background[0],
             spec->background[1], spec->background[2]);
    json_t *range =
        spec->weights_given ? json_null() : json_pack("[f,f]", spec->range_from, spec->range_to);
    json_t *easing = spec->weights_given ? json_null() : json_string(job_easing_name(spec->easing));
    /* How texture weights become colours: what a lab must report with its stimuli. */
    const char *blend = job_spec_texture_extrapolates(spec)
                            ? "texture weights in [0, 1] blend the sRGB-encoded texels "
                              "linearly; weights outside [0, 1] are extrapolated in CIE "
                              "L*a*b* (D65) and clipped to the sRGB gamut by reducing chroma "
                              "at constant L* and hue"
                            : "texture weights in [0, 1]: the sRGB-encoded texels blended "
                              "linearly (no extrapolation)";
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:s,s:[i,i],s:i,s:o,s:s,s:i}", "frames",
                     (json_int_t)j->frame_total, "weights", weights, "range", range, "easing",
                     easing, "shape_weights", shape, "texture_weights", texture, "texture_blend",
                     blend, "size", spec->width, spec->height, "samples", spec->samples, "camera",
                     camera_json(spec, &j->ej[0].camera), "background", background, "png_level",
                     spec->png_level);
}

static json_t *manifest_json(const job_pipe *p, const pipe_job *j)
{
    const job_spec *spec = j->desc.spec;
    static const eng_stats none;
    const eng_stats *es = j->rendered ? &p->stats : &none;
    json_t *frames = json_array();
    size_t total_bytes = 0;
    for (uint32_t i = 0; i < j->frame_total; i++) {
        const job_pipe_frame *f = &j->frames[i];
        if (!f->done)
            continue;
        char file[FRAME_ARTIFACT_MAX];
        frame_artifact_name(f, file);
        json_t *entry = json_pack("{s:I,s:f,s:s,s:I}", "index", (json_int_t)i, "weight",
                                  (double)f->weight, "file", file, "bytes", (json_int_t)f->bytes);
        if (entry != NULL && spec->kind != JOB_KIND_RENDER) {
            /* weight is the shape weight the frame was rendered at (options.weights has the
             * frame list's weights before the split). */
            json_object_set_new(entry, "texture_weight", json_real((double)f->texture_weight));
        }
        json_array_append_new(frames, entry);
        total_bytes += f->bytes;
    }
    json_t *root = json_pack(
        "{s:s,s:{s:s,s:i},s:o,s:o,s:o,s:I,s:I,s:I,"
        "s:{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f},s:s,s:{s:I,s:I}}",
        "morphd_version", MORPHD_VERSION, "engine", "name", eng_name(p->engine), "threads",
        es->threads, "spec", job_spec_to_json(spec), "inputs", inputs_json(j), "frames", frames,
        "frame_count", (json_int_t)json_array_size(frames), "frames_total",
        (json_int_t)j->frame_total, "output_bytes", (json_int_t)total_bytes, "timings_s", "load",
        j->desc.load_s, "morph", es->morph_s, "raster", es->raster_s, "shade", es->shade_s,
        "png_encode", j->encode_s, "write", j->write_s, "render_wall", es->wall_s, "total",
        md_now() - j->desc.start_mono, "timings_note",
        "morph, raster, shade and render_wall are for the whole engine batch (see batch); "
        "morph, raster, shade, png_encode and write are summed over engine threads; "
        "render_wall, outputs and total are wall-clock",
        "batch", "jobs", (json_int_t)(j->rendered ? p->batch_jobs : 0), "frames",
        (json_int_t)(j->rendered ? p->batch_frames : 0));
    if (root == NULL)
        return NULL;
    if (j->built && spec->kind != JOB_KIND_RENDER) {
        json_object_set_new(root, "camera", camera_json(spec, &j->ej[0].camera));
        json_object_set_new(root, "options", options_json(j));
    }
    if (j->outputs != NULL) {
        json_t *outputs = job_outputs_manifest(j->outputs);
        if (outputs != NULL)
            json_object_set_new(outputs, "wall_s", json_real(j->outputs_s));
        json_object_set_new(root, "outputs", outputs ? outputs : json_null());
        json_object_set_new(json_object_get(root, "timings_s"), "outputs", json_real(j->outputs_s));
    }
    if (spec->label[0] != '\0')
        json_object_set_new(root, "label", json_string(spec->label));
    return root;
}

int job_pipe_manifest(job_pipe *p, uint32_t i, md_error *err)
{
    pipe_job *j = &p->jobs[i];
    const job_pipe_sink *sink = j->desc.sink;
    /* A canceled or failed job never ran job_outputs_finish: its analysis thread may still be
     * writing the artifacts and timings the manifest (and then the artifact list) reads. */
    job_outputs_settle(j->outputs);
    json_t *root = manifest_json(p, j);
    if (root == NULL)
        return md_fail(err, MD_ENOMEM, "cannot build manifest.json");
    int rc = sink->manifest != NULL ? sink->manifest(sink->user, root, err) : 0;
    char *text = rc == 0 ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(7)) : NULL;
    json_decref(root);
    if (rc != 0)
        return rc;
    if (text == NULL)
        return md_fail(err, MD_ENOMEM, "cannot build manifest.json");
    size_t len = strlen(text);
    rc = sink->put(sink->user, "manifest.json", "application/json", text, len, err);
    free(text);
    if (rc != 0)
        return md_error_prefix(err, "storing manifest.json: ");
    j->manifest_bytes = len;
    return 0;
}

/* ---- What the caller reads ---- */

int job_pipe_error(const job_pipe *p, uint32_t i, md_error *err)
{
    pipe_job *j = &p->jobs[i];
    pthread_mutex_lock(&j->lock);
    int rc = j->error_rc;
    if (rc != 0)
        md_fail(err, rc, "%s", j->error);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int job_pipe_rendered(const job_pipe *p, uint32_t i)
{
    return p->jobs[i].rendered;
}

job_pipe_totals job_pipe_job_totals(const job_pipe *p, uint32_t i)
{
    pipe_job *j = &p->jobs[i];
    job_pipe_totals t = {.frame_total = j->frame_total, .outputs_s = j->outputs_s};
    t.frames_done = atomic_load(&j->frames_done);
    pthread_mutex_lock(&j->lock);
    t.bytes = j->bytes;
    t.encode_s = j->encode_s;
    t.write_s = j->write_s;
    pthread_mutex_unlock(&j->lock);
    return t;
}

const job_pipe_frame *job_pipe_frames(const job_pipe *p, uint32_t i)
{
    return p->jobs[i].frames;
}

const job_outputs *job_pipe_outputs_of(const job_pipe *p, uint32_t i)
{
    return p->jobs[i].outputs;
}

static void add_artifact(json_t *list, const char *name, uint64_t bytes, const char *type)
{
    json_array_append_new(list, json_pack("{s:s,s:I,s:s}", "name", name, "bytes", (json_int_t)bytes,
                                          "content_type", type));
}

json_t *job_pipe_artifacts(const job_pipe *p, uint32_t i)
{
    const pipe_job *j = &p->jobs[i];
    json_t *list = json_array();
    if (list == NULL)
        return NULL;
    for (uint32_t k = 0; k < j->frame_total; k++) {
        const job_pipe_frame *f = &j->frames[k];
        if (!f->done)
            continue;
        char name[FRAME_ARTIFACT_MAX];
        frame_artifact_name(f, name);
        add_artifact(list, name, f->bytes, "image/png");
    }
    /* What was stored is listed even after a failure, so deleting the job removes it. */
    for (uint32_t k = 0; k < job_outputs_count(j->outputs); k++) {
        const job_artifact *a = job_outputs_artifact(j->outputs, k);
        add_artifact(list, a->name, a->bytes, a->content_type);
    }
    if (j->manifest_bytes > 0)
        add_artifact(list, "manifest.json", j->manifest_bytes, "application/json");
    return list;
}

const eng_stats *job_pipe_stats(const job_pipe *p)
{
    return &p->stats;
}

void job_pipe_batch_size(const job_pipe *p, uint32_t *jobs, uint32_t *frames)
{
    *jobs = p->batch_jobs;
    *frames = p->batch_frames;
}
