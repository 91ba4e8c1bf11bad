/*
 * facespace.c — the arithmetic of transforms (BASE + K·(TO − FROM)) and averages (Σ wᵢ·Mᵢ)
 * of faces of one topology, and the parsing of their amounts and weights (facespace.h); the
 * job around it (files, renders, manifest) is jobs/facespace_job.c. `morph transform`,
 * `morph average` and the worker (jobs/worker_face.c) call it.
 *
 * Threads: the caller's; the byte-to-linear table is filled once (pthread_once). Nothing here
 * keeps state between calls; derived meshes belong to the caller.
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
