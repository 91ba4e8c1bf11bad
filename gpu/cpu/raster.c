/*
 * raster.c — CPU reference of the raster stage: clip-space vertices and a visibility buffer
 * (see kernels.h). Each sample keeps the minimum of (depth_bits << 32) | (triangle + 1), which is
 * what a 64-bit atomicMin gives on the GPU, so the result does not depend on triangle order:
 * the nearer surface wins and exact depth ties go to the lower triangle index.
 *
 * Called by the CPU batch runner (engine_cpu.c) on an engine thread, once per frame, writing
 * that thread's scratch buffers; pure given its params.
 *
 * The exact arithmetic, which the CUDA port mirrors (float, no FMA contraction, ll-rint):
 *   clip    = view_proj * (x, y, z, 1), column-major, summed in the order m0*x + m4*y + m8*z + m12.
 *   screen  sx = (cx / cw + 1) * 0.5 * W,  sy = (1 - cy / cw) * 0.5 * H, where W = width * grid
 *           and H = height * grid; row 0 is the top. Sample (i, j) has its centre at
 *           (i + 0.5, j + 0.5).
 *   fixed   X = llrintf(sx * 256) (8 fractional bits, round half to even), same for Y.
 *   edges   E_ab(P) = (Xb - Xa) * (Py - Ya) - (Yb - Ya) * (Px - Xa) in int64; triangles are
 *           reordered so that E_01(v2) > 0 (both windings are drawn). A sample is inside when
 *           every edge has E > 0, or E == 0 on a top-left edge: dY < 0, or dY == 0 and dX > 0
 *           (y down). Integer edge functions of a shared edge are exact negatives, and exactly
 *           one of the two directions is top-left, so a watertight mesh covers each sample
 *           exactly once: no cracks, no double hits.
 *   depth   d_k = cz_k / cw_k * 0.5 + 0.5;  d = d0 + (float)E_20 * ((d1 - d0) / area)
 *           + (float)E_01 * ((d2 - d0) / area), area = (float)E_01(v2), clamped to [0, 1]
 *           (positive zero, so the float bits order like the depths).
 *
 * Limitations, on purpose (documented in DESIGN terms: simple, exact, mirrored on the GPU):
 *   - no clipping: a triangle with any vertex at w <= 0 or outside -w <= z <= w is dropped
 *     whole. Auto-framed cameras (eng_camera_frame_bounds) keep whole meshes inside near/far.
 *   - a triangle with a vertex farther than ENG_MAX_GRID_SIDE * 2 samples outside the grid
 *     (a guard band) is dropped too; that keeps the int64 edge functions from overflowing.
 *   - no back-face culling: meshes may be open, and both sides are shaded (two-sided light).
 *   - zero-area triangles (after snapping) cover nothing.
 */
#include "gpu/engine_int.h"

#include <math.h>
#include <string.h>

/* Fixed-point coordinates must stay under 2^29 so that differences stay under 2^30 and the
 * products of the edge functions under 2^60. */
#define GUARD_BAND ((float)(2 * ENG_MAX_GRID_SIDE))

typedef struct raster_vertex {
    int64_t x, y; /* 24.8 fixed point, sample-grid units */
    float depth;  /* z_ndc * 0.5 + 0.5 */
} raster_vertex;

/* floor(a / 256) for any sign. */
static int64_t floor_div256(int64_t a)
{
    return a >= 0 ? a / 256 : -((-a + 255) / 256);
}

/* Projects clip to the fixed-point grid; returns 0 when the vertex must drop its triangle. */
static int project(const float *c, float grid_w, float grid_h, raster_vertex *out)
{
    float x = c[0], y = c[1], z = c[2], w = c[3];
    if (!(w > 0.0f) || !(z >= -w && z <= w))
        return 0;
    float sx = (x / w + 1.0f) * 0.5f * grid_w;
    float sy = (1.0f - y / w) * 0.5f * grid_h;
    if (!(fabsf(sx) < GUARD_BAND && fabsf(sy) < GUARD_BAND))
        return 0;
    out->x = (int64_t)llrintf(sx * 256.0f);
    out->y = (int64_t)llrintf(sy * 256.0f);
    out->depth = z / w * 0.5f + 0.5f;
    return 1;
}

static int is_top_left(const raster_vertex *a, const raster_vertex *b)
{
    int64_t dx = b->x - a->x, dy = b->y - a->y;
    return dy < 0 || (dy == 0 && dx > 0);
}

/* One routine for both outputs so the test hook checks exactly the coverage the engine uses;
 * counts == NULL selects the visibility buffer (the branch is per covered sample and perfectly
 * predictable). */
static void raster_run(const eng_raster_params *p, uint32_t *counts)
{
    const float *m = p->view_proj;
    for (uint32_t v = 0; v < p->vertex_count; v++) {
        const float *q = p->pos + (size_t)v * 3;
        float *c = p->clip + (size_t)v * 4;
        for (int r = 0; r < 4; r++)
            c[r] = m[r] * q[0] + m[4 + r] * q[1] + m[8 + r] * q[2] + m[12 + r];
    }

    const int gw = p->width * p->grid, gh = p->height * p->grid;
    const size_t n_samples = (size_t)gw * (size_t)gh;
    uint64_t *vis = p->vis;
    if (counts != NULL)
        memset(counts, 0, n_samples * sizeof *counts);
    else
        memset(vis, 0xff, n_samples * sizeof *vis); /* every sample ENG_VIS_EMPTY */
    const float fw = (float)gw, fh = (float)gh;

    for (uint32_t f = 0; f < p->triangle_count; f++) {
        const uint32_t *tri = p->triangles + (size_t)f * 3;
        raster_vertex v[3];
        if (!project(p->clip + (size_t)tri[0] * 4, fw, fh, &v[0]) ||
            !project(p->clip + (size_t)tri[1] * 4, fw, fh, &v[1]) ||
            !project(p->clip + (size_t)tri[2] * 4, fw, fh, &v[2]))
            continue;
        int64_t area =
            (v[1].x - v[0].x) * (v[2].y - v[0].y) - (v[1].y - v[0].y) * (v[2].x - v[0].x);
        if (area == 0)
            continue;
        if (area < 0) {
            raster_vertex tmp = v[1];
            v[1] = v[2];
            v[2] = tmp;
            area = -area;
        }

        int64_t min_x = v[0].x, max_x = v[0].x, min_y = v[0].y, max_y = v[0].y;
        for (int k = 1; k < 3; k++) {
            min_x = v[k].x < min_x ? v[k].x : min_x;
            max_x = v[k].x > max_x ? v[k].x : max_x;
            min_y = v[k].y < min_y ? v[k].y : min_y;
            max_y = v[k].y > max_y ? v[k].y : max_y;
        }
        /* Samples whose centre i * 256 + 128 lies in [min, max]. */
        int64_t sx0 = -floor_div256(128 - min_x), sx1 = floor_div256(max_x - 128);
        int64_t sy0 = -floor_div256(128 - min_y), sy1 = floor_div256(max_y - 128);
        sx0 = sx0 < 0 ? 0 : sx0;
        sy0 = sy0 < 0 ? 0 : sy0;
        sx1 = sx1 > gw - 1 ? gw - 1 : sx1;
        sy1 = sy1 > gh - 1 ? gh - 1 : sy1;
        if (sx0 > sx1 || sy0 > sy1)
            continue;

        /* Edge k is opposite vertex k: e0 = E_12, e1 = E_20, e2 = E_01. Each steps by -dY * 256
         * per sample to the right and by dX * 256 per row down. The loops carry e - bias, where
         * bias is 0 on top-left edges and 1 elsewhere, so "inside" is one sign test. */
        const raster_vertex *a[3] = {&v[1], &v[2], &v[0]};
        const raster_vertex *b[3] = {&v[2], &v[0], &v[1]};
        int64_t step_x[3], step_y[3], row[3], bias[3];
        const int64_t px0 = sx0 * 256 + 128, py0 = sy0 * 256 + 128;
        for (int k = 0; k < 3; k++) {
            int64_t dx = b[k]->x - a[k]->x, dy = b[k]->y - a[k]->y;
            step_x[k] = -dy * 256;
            step_y[k] = dx * 256;
            bias[k] = is_top_left(a[k], b[k]) ? 0 : 1;
            row[k] = dx * (py0 - a[k]->y) - dy * (px0 - a[k]->x) - bias[k];
        }
        const int64_t sx_n = sx1 - sx0 + 1;

        if (counts != NULL) {
            for (int64_t sy = sy0; sy <= sy1; sy++) {
                int64_t e0 = row[0], e1 = row[1], e2 = row[2];
                uint32_t *out = counts + (size_t)sy * (size_t)gw + (size_t)sx0;
                for (int64_t i = 0; i < sx_n; i++) {
                    if ((e0 | e1 | e2) >= 0)
                        out[i]++;
                    e0 += step_x[0];
                    e1 += step_x[1];
                    e2 += step_x[2];
                }
                row[0] += step_y[0];
                row[1] += step_y[1];
                row[2] += step_y[2];
            }
            continue;
        }

        const float farea = (float)area;
        const float d0 = v[0].depth;
        const float k1 = (v[1].depth - d0) / farea;
        const float k2 = (v[2].depth - d0) / farea;
        const uint64_t id = (uint64_t)f + 1;
        const int64_t bias1 = bias[1], bias2 = bias[2];
        const int64_t step0 = step_x[0], step1 = step_x[1], step2 = step_x[2];
        for (int64_t sy = sy0; sy <= sy1; sy++) {
            int64_t e0 = row[0], e1 = row[1], e2 = row[2];
            uint64_t *out = vis + (size_t)sy * (size_t)gw + (size_t)sx0;
            for (int64_t i = 0; i < sx_n; i++) {
                if ((e0 | e1 | e2) >= 0) {
                    /* Depth from the true edge values (the bias only decides ties). */
                    float d = d0 + (float)(e1 + bias1) * k1 + (float)(e2 + bias2) * k2;
                    d = d > 0.0f ? d : 0.0f; /* also maps -0 and NaN to +0 */
                    d = d < 1.0f ? d : 1.0f;
                    uint32_t bits;
                    memcpy(&bits, &d, sizeof bits);
                    uint64_t key = ((uint64_t)bits << 32) | id;
                    if (key < out[i])
                        out[i] = key;
                }
                e0 += step0;
                e1 += step1;
                e2 += step2;
            }
            row[0] += step_y[0];
            row[1] += step_y[1];
            row[2] += step_y[2];
        }
    }
}

void eng_cpu_raster(const eng_raster_params *p)
{
    raster_run(p, NULL);
}

void eng_cpu_raster_coverage(const eng_raster_params *p, uint32_t *counts)
{
    raster_run(p, counts);
}
