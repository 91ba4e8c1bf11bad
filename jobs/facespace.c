/*
 * facespace.c — transforms (BASE + K·(TO − FROM)) and averages (Σ wᵢ·Mᵢ) of faces of one
 * topology, their options, OBJ files and renders (facespace.h). `morph transform` and
 * `morph average` call it; so will the worker for the api's kinds.
 *
 * Threads: the caller's, except deliver() which the engine calls from its threads; the render
 * context's first error is kept under a lock. Nothing here keeps state between calls.
 *
 * Arithmetic: a transform's positions are base + k * (to - from) in float, exactly the formula
 * (k = 0 gives BASE bit for bit); an average's are summed in double and rounded once. Textures
 * are combined texel by texel only when the layouts agree (mesh_same_texture_layout); a
 * transform's colours move in CIE L*a*b* like texture extrapolation (gpu/texel.h), an
 * average's are a convex blend of the encoded values, like morph texture weights in [0, 1].
 */
#define _GNU_SOURCE
#include "jobs/facespace.h"
#include "jobs/job_int.h"

#include "gpu/texel.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- Topology ---- */

int job_face_check_topology(const mesh *const *meshes, const char *const *names, uint32_t count,
                            md_error *err)
{
    for (uint32_t i = 1; i < count; i++) {
        const mesh *a = meshes[0], *b = meshes[i];
        if (mesh_vertex_count(b) != mesh_vertex_count(a))
            return md_fail(err, MD_ETOPOLOGY,
                           "%s has %u vertices, %s %u: faces must share one topology (the same "
                           "vertices and triangles in the same order)",
                           names[i], mesh_vertex_count(b), names[0], mesh_vertex_count(a));
        int rc = mesh_check_topology(a, b, err);
        if (rc != 0)
            return md_error_prefix(err, "%s (source) and %s (target): ", names[0], names[i]);
    }
    return 0;
}

/* ---- Colours ---- */

static uint8_t unit_to_byte(float v)
{
    float x = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
    return (uint8_t)(x * 255.0f + 0.5f);
}

static uint8_t clamp_byte(double v)
{
    return (uint8_t)(v > 0.0 ? (v < 255.0 ? v + 0.5 : 255.0) : 0.0);
}

/* eng_srgb_decode of every byte, filled once before use. */
static float byte_linear[256];
static pthread_once_t byte_linear_once = PTHREAD_ONCE_INIT;

static void byte_linear_fill(void)
{
    for (int i = 0; i < 256; i++)
        byte_linear[i] = eng_srgb_decode((float)i * (1.0f / 255.0f));
}

static void byte_lab(const uint8_t *rgba, float lab[3])
{
    const float lin[3] = {byte_linear[rgba[0]], byte_linear[rgba[1]], byte_linear[rgba[2]]};
    eng_linear_to_lab(lin, lab);
}

static img *transform_texture(const img *tb, const img *tf, const img *tt, float k)
{
    int w = img_width(tb), h = img_height(tb);
    img *im = img_new(w, h);
    if (im == NULL)
        return NULL;
    uint8_t *dst = img_pixels(im);
    const uint8_t *pb = img_pixels_const(tb), *pf = img_pixels_const(tf),
                  *pt = img_pixels_const(tt);
    size_t n = (size_t)w * (size_t)h;
    if (k == 0.0f) {
        memcpy(dst, pb, 4 * n);
        return im;
    }
    pthread_once(&byte_linear_once, byte_linear_fill);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = pb + 4 * i, *f = pf + 4 * i, *t = pt + 4 * i;
        uint8_t *d = dst + 4 * i;
        float lb[3], lf[3], lt[3], rgb[3];
        byte_lab(b, lb);
        byte_lab(f, lf);
        byte_lab(t, lt);
        eng_lab_to_srgb_clipped(lb[0] + k * (lt[0] - lf[0]), lb[1] + k * (lt[1] - lf[1]),
                                lb[2] + k * (lt[2] - lf[2]), rgb);
        for (int c = 0; c < 3; c++)
            d[c] = unit_to_byte(rgb[c]);
        d[3] = clamp_byte((double)b[3] + (double)k * ((double)t[3] - (double)f[3]));
    }
    return im;
}

/* Whether every mesh shares meshes[0]'s texture layout and meshes[0] has a texture; the reason
 * in note when not. */
static int textures_combine(const mesh *const *meshes, const char *const *names, uint32_t count,
                            char *note, size_t cap)
{
    const mesh *a = meshes[0];
    int textured = 0;
    for (uint32_t i = 0; i < mesh_material_count(a); i++)
        textured |= mesh_material_texture(a, i) != NULL;
    if (!textured || mesh_uv_count(a) == 0) {
        snprintf(note, cap, "%s has no texture: the result is untextured", names[0]);
        return 0;
    }
    char why[200];
    for (uint32_t i = 1; i < count; i++)
        if (!mesh_same_texture_layout(a, meshes[i], names[0], names[i], why, sizeof why)) {
            snprintf(note, cap, "textures not combined (%s): the result is untextured", why);
            return 0;
        }
    note[0] = '\0';
    return 1;
}

/* ---- Transform ---- */

int job_face_transform(const mesh *base, const mesh *from, const mesh *to,
                       const char *const names[3], float amount, mesh **out,
                       char note[JOB_FACE_NOTE_MAX], md_error *err)
{
    *out = NULL;
    note[0] = '\0';
    if (!job_weight_ok(amount))
        return md_fail(err, MD_EINVAL, "amount %g is not in [%g, %g]", (double)amount,
                       JOB_WEIGHT_MIN, JOB_WEIGHT_MAX);
    const mesh *meshes[3] = {base, from, to};
    int rc = job_face_check_topology(meshes, names, 3, err);
    if (rc != 0)
        return rc;
    uint32_t nv = mesh_vertex_count(base);
    float *pos = md_malloc_array(nv, 3 * sizeof(float));
    if (pos == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u vertices", nv);
    const float *pb = mesh_positions(base), *pf = mesh_positions(from), *pt = mesh_positions(to);
    for (size_t i = 0; i < 3 * (size_t)nv; i++)
        pos[i] = pb[i] + amount * (pt[i] - pf[i]);
    mesh *d = NULL;
    rc = mesh_derive(base, pos, &d, err);
    md_free(pos);
    if (rc != 0)
        return rc;
    int combine = textures_combine(meshes, names, 3, note, JOB_FACE_NOTE_MAX);
    for (uint32_t i = 0; i < mesh_material_count(d); i++) {
        const img *tb = mesh_material_texture(base, i);
        if (!combine || tb == NULL)
            continue;
        img *im = transform_texture(tb, mesh_material_texture(from, i),
                                    mesh_material_texture(to, i), amount);
        if (im == NULL) {
            mesh_free(d);
            return md_fail(err, MD_ENOMEM, "out of memory for a %dx%d texture", img_width(tb),
                           img_height(tb));
        }
        mesh_material_set_texture(d, i, im);
    }
    *out = d;
    return 0;
}

/* ---- Average ---- */

int job_face_average_count_ok(uint32_t count, const md_limits *lim, md_error *err)
{
    if (count < 2)
        return md_fail(err, MD_EINVAL, "an average needs at least 2 meshes, got %u", count);
    if (count > lim->max_average_meshes)
        return md_fail(err, MD_ELIMIT,
                       "an average takes at most %llu meshes, got %u "
                       "(--limit max_average_meshes=N)",
                       (unsigned long long)lim->max_average_meshes, count);
    return 0;
}

int job_face_average(const mesh *const *meshes, const char *const *names, uint32_t count,
                     const double *weights, const md_limits *lim, mesh **out,
                     char note[JOB_FACE_NOTE_MAX], md_error *err)
{
    *out = NULL;
    note[0] = '\0';
    int rc = job_face_average_count_ok(count, lim, err);
    if (rc == 0)
        rc = job_face_check_topology(meshes, names, count, err);
    if (rc != 0)
        return rc;
    uint32_t nv = mesh_vertex_count(meshes[0]);
    float *pos = md_malloc_array(nv, 3 * sizeof(float));
    if (pos == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u vertices", nv);
    for (size_t i = 0; i < 3 * (size_t)nv; i++) {
        double sum = 0.0;
        for (uint32_t m = 0; m < count; m++)
            sum += weights[m] * (double)mesh_positions(meshes[m])[i];
        pos[i] = (float)sum;
    }
    mesh *d = NULL;
    rc = mesh_derive(meshes[0], pos, &d, err);
    md_free(pos);
    if (rc != 0)
        return rc;
    int combine = textures_combine(meshes, names, count, note, JOB_FACE_NOTE_MAX);
    for (uint32_t i = 0; combine && i < mesh_material_count(d); i++) {
        const img *t0 = mesh_material_texture(meshes[0], i);
        if (t0 == NULL)
            continue;
        int w = img_width(t0), h = img_height(t0);
        img *im = img_new(w, h);
        if (im == NULL) {
            mesh_free(d);
            return md_fail(err, MD_ENOMEM, "out of memory for a %dx%d texture", w, h);
        }
        uint8_t *dst = img_pixels(im);
        size_t n = 4 * (size_t)w * (size_t)h;
        for (size_t k = 0; k < n; k++) {
            double sum = 0.0;
            for (uint32_t m = 0; m < count; m++)
                sum += weights[m] * img_pixels_const(mesh_material_texture(meshes[m], i))[k];
            dst[k] = clamp_byte(sum);
        }
        mesh_material_set_texture(d, i, im);
    }
    *out = d;
    return 0;
}

/* ---- Options ---- */

int job_face_amounts(const char *text, const char *what, const md_limits *lim, float **out,
                     uint32_t *count, md_error *err)
{
    *out = NULL;
    *count = 0;
    if (text == NULL || *text == '\0')
        return md_fail(err, MD_EINVAL, "%s: give an amount, or a comma-separated list of them",
                       what);
    uint32_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    if (n > lim->max_frames)
        return md_fail(err, MD_ELIMIT, "%s: %u amounts, at most %llu (--limit max_frames=N)", what,
                       n, (unsigned long long)lim->max_frames);
    float *amounts = md_malloc_array(n, sizeof *amounts);
    if (amounts == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u amounts", n);
    const char *p = text;
    for (uint32_t i = 0; i < n; i++) {
        char *end = NULL;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno != 0 || (*end != ',' && *end != '\0') || !job_weight_ok(v)) {
            md_free(amounts);
            return md_fail(err, MD_EINVAL,
                           "%s: amount %u ('%.*s') must be a number from %g to %g (1 moves the "
                           "base by the whole difference TO - FROM)",
                           what, i + 1, (int)strcspn(p, ","), p, JOB_WEIGHT_MIN, JOB_WEIGHT_MAX);
        }
        amounts[i] = (float)v;
        p = *end == ',' ? end + 1 : end;
    }
    *out = amounts;
    *count = n;
    return 0;
}

int job_face_weights_normalise(const double *given, uint32_t given_count, uint32_t count,
                               const char *what, double *out, int *normalised, md_error *err)
{
    *normalised = 0;
    if (given == NULL) {
        for (uint32_t i = 0; i < count; i++)
            out[i] = 1.0 / (double)count;
        return 0;
    }
    if (given_count != count)
        return md_fail(err, MD_EINVAL, "%s: %u weight(s) for %u meshes; give one per mesh", what,
                       given_count, count);
    double sum = 0.0;
    for (uint32_t i = 0; i < count; i++) {
        if (!isfinite(given[i]))
            return md_fail(err, MD_EINVAL, "%s: weight %u is not a finite number", what, i + 1);
        if (given[i] < 0.0)
            return md_fail(err, MD_EINVAL,
                           "%s: weight %u is %g; an average takes weights of 0 or more (for "
                           "a face beyond the average, morph toward it with a weight above 1)",
                           what, i + 1, given[i]);
        sum += given[i];
    }
    if (!(sum > 0.0) || !isfinite(sum))
        return md_fail(err, MD_EINVAL, "%s: the weights sum to %g; they need a positive sum", what,
                       sum);
    for (uint32_t i = 0; i < count; i++) {
        double w = given[i] / sum; /* out may be given */
        *normalised |= w != given[i];
        out[i] = w;
    }
    return 0;
}

int job_face_weights(const char *text, const char *what, uint32_t count, double *out,
                     int *normalised, md_error *err)
{
    *normalised = 0;
    if (text == NULL)
        return job_face_weights_normalise(NULL, 0, count, what, out, normalised, err);
    uint32_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    if (n != count)
        return md_fail(err, MD_EINVAL, "%s: %u weight(s) for %u meshes; give one per mesh", what, n,
                       count);
    const char *p = text;
    for (uint32_t i = 0; i < n; i++) {
        char *end = NULL;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno != 0 || (*end != ',' && *end != '\0') || !isfinite(v))
            return md_fail(err, MD_EINVAL, "%s: weight %u ('%.*s') is not a number", what, i + 1,
                           (int)strcspn(p, ","), p);
        out[i] = v;
        p = *end == ',' ? end + 1 : end;
    }
    return job_face_weights_normalise(out, n, count, what, out, normalised, err);
}

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
    int rc = img_encode_png(f->rgb, f->width, f->height, 3, c->spec->png_level, &png, &len, &err);
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
