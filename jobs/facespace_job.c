/*
 * facespace_job.c — a transform or average job around the arithmetic of jobs/facespace.c: the
 * output names, each derived mesh's OBJ files, ONE engine batch rendering every derived mesh
 * with one camera, and job_face_produce(), which runs the whole job through a sink, for
 * `morph transform|average` (files under OUT) and the worker (storage keys) alike.
 *
 * Threads: the caller's, except deliver() and put_render(), which the engine calls from its
 * threads (each frame index from one thread); the render context's first error is kept under a
 * lock. Inputs are borrowed; derived meshes are freed before job_face_produce returns.
 */
#define _GNU_SOURCE
#include "jobs/facespace.h"
#include "jobs/job_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- Outputs ---- */

int job_face_output_stem(const char *stem, uint32_t index, uint32_t count, float amount, char *out,
                         size_t cap)
{
    int n;
    if (count == 1) {
        n = snprintf(out, cap, "%s", stem);
    } else {
        long permille = lroundf(amount * 1000.0f);
        n = snprintf(out, cap, "%s_%04u_%s%04ld", stem, index, permille < 0 ? "m" : "",
                     labs(permille));
    }
    return n < 0 || (size_t)n >= cap ? MD_EINVAL : 0;
}

int job_face_write_obj(const mesh *m, const char *base, int png_level, mesh_files *out,
                       md_error *err)
{
    uint32_t nv = mesh_vertex_count(m), nm = mesh_material_count(m);
    float *normal = md_malloc_array(nv, 3 * sizeof(float));
    float(*kd)[3] = md_calloc(nm, sizeof *kd);
    uint8_t **png = md_calloc(nm, sizeof *png);
    size_t *png_len = md_calloc(nm, sizeof *png_len);
    int rc = 0;
    if (normal == NULL || kd == NULL || png == NULL || png_len == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory writing a mesh of %u vertices", nv);
        goto done;
    }
    eng_vertex_normals(mesh_positions(m), nv, mesh_triangles(m), mesh_triangle_count(m), normal);
    for (uint32_t i = 0; i < nm && rc == 0; i++) {
        mesh_material_color(m, i, kd[i]);
        const img *tex = mesh_material_texture(m, i);
        if (tex != NULL && mesh_uv_count(m) > 0)
            rc = img_encode_png(img_pixels_const(tex), img_width(tex), img_height(tex), 4,
                                png_level, &png[i], &png_len[i], err);
    }
    if (rc == 0) {
        const mesh_write_input in = {.m = m,
                                     .pos = mesh_positions(m),
                                     .normal = normal,
                                     .kd = (const float(*)[3])kd,
                                     .png = png,
                                     .png_len = png_len,
                                     .texture_tag = "_texture"};
        rc = mesh_write_obj(&in, base, out, err);
    }
done:
    for (uint32_t i = 0; png != NULL && i < nm; i++)
        md_free(png[i]);
    md_free(png);
    md_free(png_len);
    md_free(kd);
    md_free(normal);
    return rc;
}

/* ---- Render ---- */

typedef struct render_ctx {
    const job_spec *spec;
    job_face_frame_fn fn;
    void *user;
    pthread_mutex_t lock;
    int rc; /* the first failure */
    md_error err;
} render_ctx;

static int deliver(void *user, const eng_frame *f)
{
    render_ctx *c = user;
    md_error err;
    md_error_clear(&err);
    uint8_t *png = NULL;
    size_t len = 0;
    int rc =
        img_encode_png_frame(f->rgb, f->width, f->height, 3, c->spec->png_level, &png, &len, &err);
    if (rc == 0)
        rc = c->fn(c->user, f->job, png, len, &err);
    md_free(png);
    if (rc != 0) {
        pthread_mutex_lock(&c->lock);
        if (c->rc == 0) {
            c->rc = rc;
            c->err = err;
        }
        pthread_mutex_unlock(&c->lock);
    }
    return rc;
}

int job_face_render(eng *e, const mesh *const *meshes, uint32_t count, const job_spec *spec,
                    const md_limits *lim, job_face_frame_fn fn, void *user, eng_camera *camera,
                    md_error *err)
{
    static const float weight_zero = 0.0f;
    eng_job *jobs = md_calloc(count, sizeof *jobs);
    eng_material **mats = md_calloc(count, sizeof *mats);
    render_ctx ctx = {.spec = spec, .fn = fn, .user = user};
    pthread_mutex_init(&ctx.lock, NULL);
    md_error_clear(&ctx.err);
    int rc = 0;
    if (jobs == NULL || mats == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for %u engine jobs", count);
        goto done;
    }
    float min[3], max[3];
    if (spec->frame_on) {
        memcpy(min, spec->frame_on_min, sizeof min);
        memcpy(max, spec->frame_on_max, sizeof max);
    } else {
        mesh_bounds(meshes[0], min, max);
        for (uint32_t i = 1; i < count; i++) {
            float lo[3], hi[3];
            mesh_bounds(meshes[i], lo, hi);
            for (int k = 0; k < 3; k++) {
                min[k] = lo[k] < min[k] ? lo[k] : min[k];
                max[k] = hi[k] > max[k] ? hi[k] : max[k];
            }
        }
    }
    job_view view = {spec->camera, spec->camera_mode, spec->ortho_auto};
    eng_camera cam;
    rc = job_camera_resolve(&view, min, max, spec->width, spec->height, &cam, err);
    if (rc != 0)
        goto done;
    if (camera != NULL)
        *camera = cam;
    for (uint32_t i = 0; i < count; i++) {
        const mesh *m = meshes[i];
        rc = job_mesh_materials(m, &mats[i], err);
        if (rc != 0)
            goto done;
        eng_job *j = &jobs[i];
        j->vertex_count = mesh_vertex_count(m);
        j->triangle_count = mesh_triangle_count(m);
        j->triangles = mesh_triangles(m);
        j->positions[0] = j->positions[1] = mesh_positions(m);
        job_surface_fill(&j->surface[0], m, mats[i]);
        j->surface[1] = j->surface[0];
        j->camera = cam;
        j->width = spec->width;
        j->height = spec->height;
        j->samples = spec->samples;
        memcpy(j->background, spec->background, 3);
        j->frame_count = 1;
        j->weights = &weight_zero;
        rc = eng_job_validate(j, lim, err);
        if (rc != 0)
            goto done;
    }
    rc = eng_batch_run(e, jobs, count, deliver, &ctx, NULL, err);
    if (ctx.rc != 0) {
        rc = ctx.rc;
        *err = ctx.err;
    }
done:
    for (uint32_t i = 0; mats != NULL && i < count; i++)
        md_free(mats[i]);
    md_free(mats);
    md_free(jobs);
    pthread_mutex_destroy(&ctx.lock);
    return rc;
}

/* ---- The whole job ---- */

typedef struct produce_out {
    const job_face_sink *sink;
    char (*names)[JOB_FACE_NAME_MAX]; /* per derived mesh: its render's name */
    size_t *bytes;                    /* per derived mesh: its render's bytes (0: not stored) */
} produce_out;

static int put_render(void *user, uint32_t index, const uint8_t *png, size_t len, md_error *err)
{
    produce_out *o = user;
    int rc = o->sink->put(o->sink->user, o->names[index], "image/png", png, len, err);
    if (rc == 0)
        o->bytes[index] = len; /* each index from one thread only */
    return rc;
}

static const char *file_content_type(const char *name)
{
    size_t n = strlen(name);
    if (n >= 4 && strcmp(name + n - 4, ".obj") == 0)
        return "model/obj";
    if (n >= 4 && strcmp(name + n - 4, ".mtl") == 0)
        return "text/plain"; /* as the per-frame meshes' (jobs/outputs.c) */
    return "image/png";
}

static void artifact_add(json_t *artifacts, const char *name, size_t bytes)
{
    json_array_append_new(artifacts,
                          json_pack("{s:s,s:I,s:s}", "name", name, "bytes", (json_int_t)bytes,
                                    "content_type", file_content_type(name)));
}

int job_face_produce(eng *e, const job_spec *spec, const md_limits *lim, const mesh *const *inputs,
                     const char *const *names, uint32_t count, const job_face_sink *sink,
                     json_t *manifest, json_t *artifacts, md_error *err)
{
    int transform = spec->kind == JOB_KIND_TRANSFORM;
    if (!job_kind_is_face(spec->kind))
        return md_fail(err, MD_EINVAL, "a %s job is not a face-space job",
                       job_kind_name(spec->kind));
    if (transform ? count != 3 : job_face_average_count_ok(count, lim, err) != 0)
        return transform ? md_fail(err, MD_EINVAL,
                                   "a transform takes base, from and to, got %u "
                                   "mesh(es)",
                                   count)
                         : err->code;
    uint32_t derived_count = transform ? spec->amount_count : 1;
    if (derived_count == 0)
        return md_fail(err, MD_EINVAL, "a transform needs at least one amount");
    mesh **derived = md_calloc(derived_count, sizeof *derived);
    double *weights = transform ? NULL : md_calloc(count, sizeof *weights);
    produce_out out = {.sink = sink};
    out.names = md_calloc(derived_count, sizeof *out.names);
    out.bytes = md_calloc(derived_count, sizeof *out.bytes);
    char note[JOB_FACE_NOTE_MAX] = "";
    int rc = 0;
    if (derived == NULL || out.names == NULL || out.bytes == NULL ||
        (!transform && weights == NULL)) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for %u derived meshes", derived_count);
        goto done;
    }
    int normalised = 0;
    if (!transform) {
        rc = job_face_weights_normalise(spec->mesh_weights, spec->mesh_weight_count, count,
                                        "mesh_weights", weights, &normalised, err);
        if (rc != 0)
            goto done;
        json_t *used = json_array();
        for (uint32_t i = 0; i < count; i++)
            json_array_append_new(used, json_real(weights[i]));
        json_object_set_new(manifest, "mesh_weights", used);
        json_object_set_new(manifest, "mesh_weights_note",
                            json_string(spec->mesh_weights == NULL
                                            ? "equal weights (none given)"
                                            : "the weights given, normalised to sum 1"));
    }
    const char *stem = transform ? "transformed" : "average";
    json_t *jout = json_array();
    json_object_set_new(manifest, "outputs", jout);
    for (uint32_t i = 0; i < derived_count; i++) {
        if (transform)
            rc = job_face_transform(inputs[0], inputs[1], inputs[2], names, spec->amounts[i],
                                    &derived[i], note, err);
        else
            rc = job_face_average(inputs, names, count, weights, lim, &derived[0], note, err);
        if (rc != 0)
            goto done;
        char base[JOB_FACE_NAME_MAX - 8];
        job_face_output_stem(stem, i, derived_count, transform ? spec->amounts[i] : 0.0f, base,
                             sizeof base);
        snprintf(out.names[i], sizeof out.names[i], "%s.png", base);
        mesh_files files = {0};
        rc = job_face_write_obj(derived[i], base, spec->png_level, &files, err);
        json_t *jfiles = json_array();
        for (uint32_t k = 0; rc == 0 && k < files.count; k++) {
            const mesh_file *f = &files.files[k];
            rc = sink->put(sink->user, f->name, file_content_type(f->name), f->bytes, f->len, err);
            json_array_append_new(jfiles, json_string(f->name));
            if (rc == 0 && artifacts != NULL)
                artifact_add(artifacts, f->name, f->len);
        }
        mesh_files_free(&files);
        json_t *entry = json_pack("{s:o,s:s}", "mesh_files", jfiles, "render", out.names[i]);
        if (transform)
            json_object_set_new(entry, "amount", json_real(spec->amounts[i]));
        json_array_append_new(jout, entry);
        if (rc != 0)
            goto done;
    }
    if (note[0] != '\0')
        json_object_set_new(manifest, "texture_note", json_string(note));
    json_object_set_new(manifest, "texture_blend",
                        json_string(note[0] != '\0' ? "none"
                                    : transform     ? "lab-gamut-clip"
                                                    : "srgb-weighted-mean"));
    eng_camera cam;
    rc = job_face_render(e, (const mesh *const *)derived, derived_count, spec, lim, put_render,
                         &out, &cam, err);
    if (rc != 0)
        goto done;
    for (uint32_t i = 0; artifacts != NULL && i < derived_count; i++)
        artifact_add(artifacts, out.names[i], out.bytes[i]);
    json_object_set_new(manifest, "camera", job_camera_json(&cam));
    json_object_set_new(manifest, "engine", json_string(eng_name(e)));
    json_object_set_new(manifest, "render",
                        json_pack("{s:i,s:i,s:i}", "width", spec->width, "height", spec->height,
                                  "samples", spec->samples));
    if (normalised && sink->log != NULL)
        sink->log(sink->user, MD_LOG_INFO, "mesh weights normalised to sum 1");
    if (note[0] != '\0' && sink->log != NULL)
        sink->log(sink->user, MD_LOG_WARN, note);
done:
    for (uint32_t i = 0; derived != NULL && i < derived_count; i++)
        mesh_free(derived[i]);
    md_free(derived);
    md_free(weights);
    md_free(out.names);
    md_free(out.bytes);
    return rc;
}
