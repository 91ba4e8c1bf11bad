/*
 * engine_fixtures.h — procedural geometry and one-call rendering for the engine tests
 * (tests/test_engine_*.c), so they need neither mesh/ nor data files. Header-only (static
 * inline), because each test is its own executable linked with test_util.c alone.
 */
#ifndef ENGINE_FIXTURES_H
#define ENGINE_FIXTURES_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/engine.h"
#include "gpu/kernels.h"
#include "test_util.h"
#ifdef MORPHD_HAVE_CUDA
#include "gpu/cuda/engine_cuda.h"
#endif

typedef struct fx_mesh {
    uint32_t vertex_count, triangle_count;
    float *pos;    /* 3 per vertex */
    uint32_t *tri; /* 3 per triangle */
    float *uv;     /* 2 per vertex (UV index = vertex index) */
} fx_mesh;

/* GPU tests call this first: exits 77 (ctest skip) without a CUDA build or a device. */
static inline void fx_require_cuda_device(void)
{
#ifdef MORPHD_HAVE_CUDA
    md_error err;
    md_error_clear(&err);
    if (eng_cuda_device_count(&err) < 1) {
        fprintf(stderr, "skip: %s\n", err.msg);
        exit(TEST_SKIP);
    }
#else
    fprintf(stderr, "skip: built without the CUDA engine\n");
    exit(TEST_SKIP);
#endif
}

static inline void *fx_alloc(size_t n)
{
    void *p = calloc(n == 0 ? 1 : n, 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return p;
}

static inline void fx_mesh_free(fx_mesh *m)
{
    free(m->pos);
    free(m->tri);
    free(m->uv);
    memset(m, 0, sizeof *m);
}

/* A deterministic pseudo-random float in [-1, 1). */
static inline float fx_rand(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) / (float)(1u << 23) - 1.0f;
}

/* An n x n grid of cells over [x0, x1] x [y0, y1] at height z, two triangles a cell, with the
 * interior vertices moved by up to jitter cells (deterministically from seed). UV (0,0) at
 * (x0, y0) and (1,1) at (x1, y1). Cells alternate their diagonal when alt_diag is set. */
static inline void fx_grid(fx_mesh *m, int n, float x0, float y0, float x1, float y1, float z,
                           float jitter, uint32_t seed, int alt_diag)
{
    m->vertex_count = (uint32_t)((n + 1) * (n + 1));
    m->triangle_count = (uint32_t)(2 * n * n);
    m->pos = fx_alloc(sizeof(float) * 3 * m->vertex_count);
    m->uv = fx_alloc(sizeof(float) * 2 * m->vertex_count);
    m->tri = fx_alloc(sizeof(uint32_t) * 3 * m->triangle_count);
    for (int j = 0; j <= n; j++) {
        for (int i = 0; i <= n; i++) {
            float u = (float)i / (float)n, v = (float)j / (float)n;
            if (i > 0 && i < n && j > 0 && j < n) {
                u += fx_rand(&seed) * jitter / (float)n;
                v += fx_rand(&seed) * jitter / (float)n;
            }
            size_t k = (size_t)j * (size_t)(n + 1) + (size_t)i;
            m->pos[k * 3] = x0 + u * (x1 - x0);
            m->pos[k * 3 + 1] = y0 + v * (y1 - y0);
            m->pos[k * 3 + 2] = z;
            m->uv[k * 2] = u;
            m->uv[k * 2 + 1] = v;
        }
    }
    uint32_t *t = m->tri;
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < n; i++) {
            uint32_t a = (uint32_t)(j * (n + 1) + i), b = a + 1;
            uint32_t c = a + (uint32_t)(n + 1), d = c + 1;
            if (alt_diag && ((i + j) & 1)) {
                uint32_t q[6] = {a, b, c, b, d, c};
                memcpy(t, q, sizeof q);
            } else {
                uint32_t q[6] = {a, b, d, a, d, c};
                memcpy(t, q, sizeof q);
            }
            t += 6;
        }
    }
}

/* A UV sphere: rings x segments quads (poles are triangle fans), radius r around c. */
static inline void fx_sphere(fx_mesh *m, int rings, int segs, const float c[3], float r)
{
    m->vertex_count = (uint32_t)((rings + 1) * (segs + 1));
    m->triangle_count = (uint32_t)(2 * rings * segs);
    m->pos = fx_alloc(sizeof(float) * 3 * m->vertex_count);
    m->uv = fx_alloc(sizeof(float) * 2 * m->vertex_count);
    m->tri = fx_alloc(sizeof(uint32_t) * 3 * m->triangle_count);
    const double pi = 3.14159265358979323846;
    for (int j = 0; j <= rings; j++) {
        double th = pi * j / rings;
        for (int i = 0; i <= segs; i++) {
            double ph = 2 * pi * i / segs;
            size_t k = (size_t)j * (size_t)(segs + 1) + (size_t)i;
            m->pos[k * 3] = c[0] + r * (float)(sin(th) * cos(ph));
            m->pos[k * 3 + 1] = c[1] + r * (float)cos(th);
            m->pos[k * 3 + 2] = c[2] + r * (float)(sin(th) * sin(ph));
            m->uv[k * 2] = (float)i / (float)segs;
            m->uv[k * 2 + 1] = 1.0f - (float)j / (float)rings;
        }
    }
    uint32_t *t = m->tri;
    for (int j = 0; j < rings; j++) {
        for (int i = 0; i < segs; i++) {
            uint32_t a = (uint32_t)(j * (segs + 1) + i), b = a + 1;
            uint32_t cc = a + (uint32_t)(segs + 1), d = cc + 1;
            /* Outward winding seen from outside: a, cc, b and b, cc, d. */
            uint32_t q[6] = {a, b, cc, b, d, cc};
            memcpy(t, q, sizeof q);
            t += 6;
        }
    }
}

/* An untextured job of one frame at weight 0 with mesh a at both ends, one material. The
 * material and weights arrays must outlive the job. */
static inline void fx_job(eng_job *job, const fx_mesh *a, const fx_mesh *b, const eng_material *mat,
                          const float *weights, uint32_t frames, int width, int height, int samples)
{
    memset(job, 0, sizeof *job);
    job->vertex_count = a->vertex_count;
    job->triangle_count = a->triangle_count;
    job->positions[0] = a->pos;
    job->positions[1] = (b != NULL ? b : a)->pos;
    job->triangles = a->tri;
    for (int s = 0; s < 2; s++) {
        job->surface[s].material_count = 1;
        job->surface[s].materials = mat;
    }
    eng_camera_default(&job->camera);
    job->width = width;
    job->height = height;
    job->samples = samples;
    job->background[0] = job->background[1] = job->background[2] = 255;
    job->frame_count = frames;
    job->weights = weights;
}

/* Gives a job side s the mesh's own UVs (index = vertex). */
static inline void fx_job_uvs(eng_job *job, int s, const fx_mesh *m)
{
    job->surface[s].uvs = m->uv;
    job->surface[s].uv_count = m->vertex_count;
    job->surface[s].tri_uvs = m->tri;
}

/* An orthographic camera looking down -Z at (cx, cy), ortho_height tall. */
static inline void fx_ortho(eng_camera *cam, float cx, float cy, float height)
{
    eng_camera_default(cam);
    cam->eye[0] = cx;
    cam->eye[1] = cy;
    cam->eye[2] = 10.0f;
    cam->target[0] = cx;
    cam->target[1] = cy;
    cam->target[2] = 0.0f;
    cam->orthographic = 1;
    cam->ortho_height = height;
    cam->z_near = 1.0f;
    cam->z_far = 20.0f;
}

/* The large-triangle job of issue 10: a quad of two triangles (fx_grid with n = 1: its
 * diagonal from corner to corner passes through sample centres) reaching past every side of a
 * 2048 x 2048 frame at 64 samples, under an orthographic camera, unlit and untextured in
 * (0.25, 0.5, 0.75), whose sums and 8-bit values are exact: every pixel must be
 * (FX_QUAD_R, FX_QUAD_G, FX_QUAD_B) = (int)(c * 255 + 0.5). Each triangle's box is the whole
 * 16384^2 sample grid. Makes m (caller frees it) and *mat; weight is the one frame's. */
enum {
    FX_QUAD_SIZE = 2048,
    FX_QUAD_SAMPLES = 64,
    FX_QUAD_R = 64,
    FX_QUAD_G = 128,
    FX_QUAD_B = 191
};

static inline void fx_quad_job(eng_job *job, fx_mesh *m, eng_material *mat, const float *weight)
{
    memset(mat, 0, sizeof *mat);
    mat->color[0] = 0.25f;
    mat->color[1] = 0.5f;
    mat->color[2] = 0.75f;
    fx_grid(m, 1, -1.5f, -1.5f, 1.5f, 1.5f, 0.0f, 0.0f, 1u, 0);
    fx_job(job, m, NULL, mat, weight, 1, FX_QUAD_SIZE, FX_QUAD_SIZE, FX_QUAD_SAMPLES);
    fx_ortho(&job->camera, 0.0f, 0.0f, 2.0f);
    job->shading = ENG_SHADING_UNLIT;
}

typedef struct fx_one {
    uint8_t *rgb;
    size_t size;
    int calls;
} fx_one;

static inline int fx_one_cb(void *user, const eng_frame *f)
{
    fx_one *o = user;
    size_t n = (size_t)f->width * (size_t)f->height * 3;
    if (n == o->size && f->frame == 0)
        memcpy(o->rgb, f->rgb, n);
    o->calls++;
    return 0;
}

/* Renders frame 0 of a one-frame job on a fresh CPU engine into a new buffer (caller frees).
 * Returns NULL (and counts a failure) when the engine fails. */
static inline uint8_t *fx_render(const eng_job *job, int threads)
{
    md_error err;
    md_error_clear(&err);
    eng_config cfg = {ENG_KIND_CPU, threads, 0};
    eng *e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e == NULL)
        return NULL;
    fx_one one = {fx_alloc((size_t)job->width * (size_t)job->height * 3),
                  (size_t)job->width * (size_t)job->height * 3, 0};
    int rc = eng_batch_run(e, job, 1, fx_one_cb, &one, NULL, &err);
    CHECK_OK(rc, &err);
    CHECK_INT(job->frame_count, one.calls);
    eng_free(e);
    if (rc != 0) {
        free(one.rgb);
        return NULL;
    }
    return one.rgb;
}

/* ---- Expected colours ---- */

/* A 0..1 value as the engine writes it to 8 bits. */
static inline int expect8(double x)
{
    x = x < 0 ? 0 : (x > 1 ? 1 : x);
    return (int)(x * 255.0 + 0.5);
}

/* The lit colour of base colour c where N = L (diffuse 1, specular 1). */
static inline double lit(double c)
{
    return c * (ENG_AMBIENT + ENG_DIFFUSE) + ENG_SPECULAR;
}

static inline void check_px(const uint8_t *rgb, int w, int x, int y, const int want[3], int tol)
{
    const uint8_t *p = rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
    for (int k = 0; k < 3; k++) {
        if (abs((int)p[k] - want[k]) > tol) {
            fprintf(stderr, "pixel (%d, %d) channel %d: expected %d (+-%d), got %d\n", x, y, k,
                    want[k], tol, p[k]);
            test_failures++;
        }
    }
}

/* ---- Translucent scenes (issue 17) ----
 *
 * Axis-aligned quads facing the camera, one material each, under an orthographic camera that
 * shows [-1, 1]^2 in a 64 x 64 frame (32 pixels a unit; pixel px's centre is at
 * x = (px + 0.5) / 32 - 1, row py's at y = 1 - (py + 0.5) / 32), unlit, on white, so every
 * covered pixel has an exact colour. */

enum { FX_XLU_BLUE, FX_XLU_RED, FX_XLU_GREEN, FX_XLU_HIDDEN, FX_XLU_MATS };
enum { FX_XLU_SIZE = 64 };

/* The materials: opaque blue; red at transparency 0.25 (opacity 0.75); green at 0.5; yellow at
 * 1 (invisible). */
static inline void fx_xlu_materials(eng_material mats[FX_XLU_MATS])
{
    memset(mats, 0, sizeof(eng_material) * FX_XLU_MATS);
    const float rgb[FX_XLU_MATS][3] = {{0, 0, 1}, {1, 0, 0}, {0, 1, 0}, {1, 1, 0}};
    const float tr[FX_XLU_MATS] = {0.0f, 0.25f, 0.5f, 1.0f};
    for (int m = 0; m < FX_XLU_MATS; m++) {
        memcpy(mats[m].color, rgb[m], sizeof rgb[m]);
        mats[m].transparency = tr[m];
    }
}

typedef struct fx_quad {
    float x0, y0, x1, y1, z; /* z toward the camera: larger is nearer */
    uint16_t material;
} fx_quad;

/* A mesh of the n quads in the order given (4 vertices, 2 triangles each) into m, and each
 * triangle's material into *tri_mat (caller frees both). */
static inline void fx_quads(fx_mesh *m, uint16_t **tri_mat, const fx_quad *q, int n)
{
    memset(m, 0, sizeof *m);
    m->vertex_count = (uint32_t)(4 * n);
    m->triangle_count = (uint32_t)(2 * n);
    m->pos = fx_alloc(sizeof(float) * 3 * m->vertex_count);
    m->uv = fx_alloc(sizeof(float) * 2 * m->vertex_count);
    m->tri = fx_alloc(sizeof(uint32_t) * 3 * m->triangle_count);
    *tri_mat = fx_alloc(sizeof(uint16_t) * m->triangle_count);
    for (int i = 0; i < n; i++) {
        const float xy[4][2] = {
            {q[i].x0, q[i].y0}, {q[i].x1, q[i].y0}, {q[i].x1, q[i].y1}, {q[i].x0, q[i].y1}};
        for (int k = 0; k < 4; k++) {
            float *p = m->pos + ((size_t)i * 4 + (size_t)k) * 3;
            p[0] = xy[k][0];
            p[1] = xy[k][1];
            p[2] = q[i].z;
            m->uv[((size_t)i * 4 + (size_t)k) * 2] = (float)(k == 1 || k == 2);
            m->uv[((size_t)i * 4 + (size_t)k) * 2 + 1] = (float)(k >= 2);
        }
        const uint32_t b = (uint32_t)(4 * i);
        const uint32_t t[6] = {b, b + 1, b + 2, b, b + 2, b + 3};
        memcpy(m->tri + (size_t)i * 6, t, sizeof t);
        (*tri_mat)[2 * i] = (*tri_mat)[2 * i + 1] = q[i].material;
    }
}

/* A one-frame job of mesh m with per-triangle materials tri_mat from mats (FX_XLU_MATS), on
 * both sides, under the translucent scenes' camera, unlit, at samples a pixel. */
static inline void fx_xlu_job(eng_job *job, const fx_mesh *m, const uint16_t *tri_mat,
                              const eng_material *mats, const float *weight, int samples)
{
    fx_job(job, m, NULL, mats, weight, 1, FX_XLU_SIZE, FX_XLU_SIZE, samples);
    for (int s = 0; s < 2; s++) {
        job->surface[s].material_count = FX_XLU_MATS;
        job->surface[s].tri_materials = tri_mat;
    }
    fx_ortho(&job->camera, 0.0f, 0.0f, 2.0f);
    job->shading = ENG_SHADING_UNLIT;
}

/* The colour that c (0..1) becomes under a layer of colour lc and opacity a, as the engine
 * blends (gpu/shade_math.h eng_shade_over, in float). */
static inline void fx_over(float a, const float lc[3], float c[3])
{
    const float behind = 1.0f - a;
    for (int k = 0; k < 3; k++)
        c[k] = a * lc[k] + behind * c[k];
}

#endif
