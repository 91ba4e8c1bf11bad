/*
 * raster_math.h — the raster stage's arithmetic, once, for the CPU reference (gpu/cpu/raster.c)
 * and the CUDA kernels (gpu/cuda/kernels.cu): the vertex transform, the snap to fixed point,
 * the triangle setup with its top-left rule, and the depth key of a covered sample. The callers
 * keep only their walks over samples (a compare on the CPU, a 64-bit atomicMin on the GPU).
 * ENG_HD and the float rules are in gpu/hd.h. Internal to gpu/. Pure functions; any thread.
 *
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
 *   key     (depth_bits << 32) | (triangle + 1): the minimum per sample is the nearest surface,
 *           exact depth ties going to the lower triangle index, whatever the drawing order.
 *
 * Translucency (eng_raster_params.layers; engine.h eng_job_translucent): triangle f's
 *   transparency is eng_tri_transparency; the opaque pass draws those at 0, layer pass k those
 *   strictly between 0 and 1, nobody those at 1. Pass k keeps per sample the least key that is
 *   below the opaque key (in front of the opaque surface, or anywhere over the background) and
 *   strictly above layer k - 1's key (0 for k = 0): the k-th nearest translucent surface, ties
 *   in depth again going to the lower triangle. Each pass is a minimum, like the opaque one,
 *   so neither the CPU's triangle order nor the GPU's atomics change a layer; a sample with
 *   more than ENG_XLU_LAYERS translucent surfaces in front of its opaque one keeps the nearest.
 *
 * Dropped whole, on purpose: a triangle with any vertex at w <= 0 or outside -w <= z <= w (no
 * clipping; auto-framed cameras keep whole meshes inside near/far), one with a vertex farther
 * than ENG_MAX_GRID_SIDE * 2 samples outside the grid (a guard band that keeps the int64 edge
 * functions from overflowing: coordinates stay under 2^29, differences under 2^30, products
 * under 2^60), and a zero-area one (after snapping). No back-face culling: meshes may be open.
 */
#ifndef GPU_RASTER_MATH_H
#define GPU_RASTER_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gpu/engine_int.h"
#include "gpu/hd.h"

#define ENG_RASTER_GUARD_BAND ((float)(2 * ENG_MAX_GRID_SIDE))

typedef struct eng_raster_vertex {
    int64_t x, y; /* 24.8 fixed point, sample-grid units */
    float depth;  /* z_ndc * 0.5 + 0.5 */
} eng_raster_vertex;

/* One triangle, set up for the walk. Edge k is opposite vertex k (e0 = E_12, e1 = E_20,
 * e2 = E_01); each steps by step_x[k] per sample to the right and step_y[k] per row down.
 * Walks carry e_k - bias_k (bias 0 on top-left edges, 1 elsewhere), so "inside" is one sign
 * test (eng_raster_inside). */
typedef struct eng_raster_tri {
    int64_t sx0, sx1, sy0, sy1; /* the samples to visit, inclusive, clamped to the grid */
    int64_t row[3];             /* e_k - bias_k at sample (sx0, sy0) */
    int64_t step_x[3], step_y[3], bias[3];
    float d0, k1, k2; /* depth = d0 + (float)E_20 * k1 + (float)E_01 * k2 */
} eng_raster_tri;

/* Clip-space position c[4] of world position q[3] under the column-major matrix m. */
static inline ENG_HD void eng_raster_transform(const float m[16], const float q[3], float c[4])
{
    for (int r = 0; r < 4; r++)
        c[r] = m[r] * q[0] + m[4 + r] * q[1] + m[8 + r] * q[2] + m[12 + r];
}

/* floor(a / 256) for any sign. */
static inline ENG_HD int64_t eng_raster_floor_div256(int64_t a)
{
    return a >= 0 ? a / 256 : -((-a + 255) / 256);
}

/* Projects clip position c to the fixed-point grid; 0 when the vertex drops its triangle. */
static inline ENG_HD int eng_raster_project(const float c[4], float grid_w, float grid_h,
                                            eng_raster_vertex *out)
{
    const float x = c[0], y = c[1], z = c[2], w = c[3];
    if (!(w > 0.0f) || !(z >= -w && z <= w))
        return 0;
    const float sx = (x / w + 1.0f) * 0.5f * grid_w;
    const float sy = (1.0f - y / w) * 0.5f * grid_h;
    if (!(fabsf(sx) < ENG_RASTER_GUARD_BAND && fabsf(sy) < ENG_RASTER_GUARD_BAND))
        return 0;
    out->x = (int64_t)llrintf(sx * 256.0f);
    out->y = (int64_t)llrintf(sy * 256.0f);
    out->depth = z / w * 0.5f + 0.5f;
    return 1;
}

static inline ENG_HD int eng_raster_top_left(const eng_raster_vertex *a, const eng_raster_vertex *b)
{
    const int64_t dx = b->x - a->x, dy = b->y - a->y;
    return dy < 0 || (dy == 0 && dx > 0);
}

/* Sets up triangle tri (three vertex indices into clip, 4 floats a vertex) on a gw x gh sample
 * grid. Returns 1 when there are samples to visit, 0 when the triangle is dropped or its box
 * misses the grid (out is then unspecified). */
static inline ENG_HD int eng_raster_tri_setup(const float *clip, const uint32_t tri[3], int gw,
                                              int gh, eng_raster_tri *out)
{
    const float fw = (float)gw, fh = (float)gh;
    eng_raster_vertex v[3];
    for (int k = 0; k < 3; k++) {
        if (!eng_raster_project(clip + (size_t)tri[k] * 4, fw, fh, &v[k]))
            return 0;
    }
    int64_t area = (v[1].x - v[0].x) * (v[2].y - v[0].y) - (v[1].y - v[0].y) * (v[2].x - v[0].x);
    if (area == 0)
        return 0;
    if (area < 0) {
        const eng_raster_vertex tmp = v[1];
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
    int64_t sx0 = -eng_raster_floor_div256(128 - min_x), sx1 = eng_raster_floor_div256(max_x - 128);
    int64_t sy0 = -eng_raster_floor_div256(128 - min_y), sy1 = eng_raster_floor_div256(max_y - 128);
    sx0 = sx0 < 0 ? 0 : sx0;
    sy0 = sy0 < 0 ? 0 : sy0;
    sx1 = sx1 > gw - 1 ? gw - 1 : sx1;
    sy1 = sy1 > gh - 1 ? gh - 1 : sy1;
    if (sx0 > sx1 || sy0 > sy1)
        return 0;
    out->sx0 = sx0;
    out->sx1 = sx1;
    out->sy0 = sy0;
    out->sy1 = sy1;

    const eng_raster_vertex *a[3] = {&v[1], &v[2], &v[0]};
    const eng_raster_vertex *b[3] = {&v[2], &v[0], &v[1]};
    const int64_t px0 = sx0 * 256 + 128, py0 = sy0 * 256 + 128;
    for (int k = 0; k < 3; k++) {
        const int64_t dx = b[k]->x - a[k]->x, dy = b[k]->y - a[k]->y;
        out->step_x[k] = -dy * 256;
        out->step_y[k] = dx * 256;
        out->bias[k] = eng_raster_top_left(a[k], b[k]) ? 0 : 1;
        out->row[k] = dx * (py0 - a[k]->y) - dy * (px0 - a[k]->x) - out->bias[k];
    }
    const float farea = (float)area;
    out->d0 = v[0].depth;
    out->k1 = (v[1].depth - out->d0) / farea;
    out->k2 = (v[2].depth - out->d0) / farea;
    return 1;
}

/* ---- Splitting a large triangle ----
 *
 * The GPU gives one thread a triangle, but a triangle's box may hold millions of samples (a
 * low-poly mesh, a close-up, 64 samples a pixel). A box of more than ENG_RASTER_WALK_MAX
 * samples is therefore cut into tiles of ENG_RASTER_TILE x ENG_RASTER_TILE samples (row-major
 * over the box, the last row and column clipped to it), each walked by its own thread. A tile
 * is the same triangle with a smaller box and its edge values at the tile's first sample:
 * row + dx * step_x + dy * step_y, the integers the box walk reaches there step by step, so a
 * tile covers exactly the samples of the box walk that fall in it (and magnitudes stay under
 * 2^61: steps under 2^38, offsets under 2^21). */

#define ENG_RASTER_TILE 16
#define ENG_RASTER_WALK_MAX (ENG_RASTER_TILE * ENG_RASTER_TILE)

/* Samples in the box of a set-up triangle. */
static inline ENG_HD uint64_t eng_raster_box_samples(const eng_raster_tri *rt)
{
    return (uint64_t)(rt->sx1 - rt->sx0 + 1) * (uint64_t)(rt->sy1 - rt->sy0 + 1);
}

/* Tiles across the box, and in all. */
static inline ENG_HD uint64_t eng_raster_tiles_x(const eng_raster_tri *rt)
{
    return (uint64_t)(rt->sx1 - rt->sx0 + ENG_RASTER_TILE) / ENG_RASTER_TILE;
}

static inline ENG_HD uint64_t eng_raster_tile_count(const eng_raster_tri *rt)
{
    return eng_raster_tiles_x(rt) *
           ((uint64_t)(rt->sy1 - rt->sy0 + ENG_RASTER_TILE) / ENG_RASTER_TILE);
}

/* Tile `tile` (< eng_raster_tile_count) of rt as a triangle of its own, into out. */
static inline ENG_HD void eng_raster_tile(const eng_raster_tri *rt, uint64_t tile,
                                          eng_raster_tri *out)
{
    *out = *rt;
    const uint64_t tx = eng_raster_tiles_x(rt);
    const int64_t dx = (int64_t)(tile % tx) * ENG_RASTER_TILE;
    const int64_t dy = (int64_t)(tile / tx) * ENG_RASTER_TILE;
    out->sx0 = rt->sx0 + dx;
    out->sy0 = rt->sy0 + dy;
    out->sx1 = out->sx0 + ENG_RASTER_TILE - 1 < rt->sx1 ? out->sx0 + ENG_RASTER_TILE - 1 : rt->sx1;
    out->sy1 = out->sy0 + ENG_RASTER_TILE - 1 < rt->sy1 ? out->sy0 + ENG_RASTER_TILE - 1 : rt->sy1;
    for (int k = 0; k < 3; k++)
        out->row[k] = rt->row[k] + dx * rt->step_x[k] + dy * rt->step_y[k];
}

/* Whether a sample with biased edge values e0, e1, e2 is inside. */
static inline ENG_HD int eng_raster_inside(int64_t e0, int64_t e1, int64_t e2)
{
    return (e0 | e1 | e2) >= 0;
}

/* The visibility key of a covered sample of triangle f with biased edge values e1, e2. */
static inline ENG_HD uint64_t eng_raster_key(const eng_raster_tri *rt, int64_t e1, int64_t e2,
                                             uint32_t f)
{
    /* Depth from the true edge values (the bias only decides ties). */
    float d = rt->d0 + (float)(e1 + rt->bias[1]) * rt->k1 + (float)(e2 + rt->bias[2]) * rt->k2;
    d = d > 0.0f ? d : 0.0f; /* also maps -0 and NaN to +0 */
    d = d < 1.0f ? d : 1.0f;
#if defined(__CUDA_ARCH__)
    const uint32_t bits = __float_as_uint(d);
#else
    uint32_t bits;
    memcpy(&bits, &d, sizeof bits);
#endif
    return ((uint64_t)bits << 32) | ((uint64_t)f + 1);
}

/* ---- Translucency ---- */

/* The pass of the opaque surfaces; layer passes are 0 .. ENG_XLU_LAYERS - 1. */
#define ENG_RASTER_PASS_OPAQUE (-1)

/* Triangle f's transparency in [0, 1] at texture weight t: each side's material's, blended by t
 * clamped to [0, 1] (exactly the side's value where both agree or t is 0 or 1). */
static inline ENG_HD float eng_tri_transparency(const eng_surface *surface, uint32_t f, float t)
{
    float tr[2];
    for (int side = 0; side < 2; side++) {
        const eng_surface *sf = &surface[side];
        const uint32_t mi = sf->tri_materials != NULL ? sf->tri_materials[f] : 0;
        const float x = sf->materials[mi].transparency;
        tr[side] = x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f;
    }
    if (tr[0] == tr[1] || !(t > 0.0f))
        return tr[0];
    if (!(t < 1.0f))
        return tr[1];
    return (1.0f - t) * tr[0] + t * tr[1];
}

/* Whether pass `pass` draws triangle f (without layers: the opaque pass draws everything). */
static inline ENG_HD int eng_raster_pass_draws(const eng_raster_params *p, uint32_t f, int pass)
{
    if (p->layers == NULL)
        return pass == ENG_RASTER_PASS_OPAQUE;
    const float tr = eng_tri_transparency(p->surface, f, p->t);
    if (pass == ENG_RASTER_PASS_OPAQUE)
        return tr == 0.0f;
    return tr > 0.0f && tr < 1.0f;
}

/* Whether a layer pass may keep key at a sample whose opaque key is opaque and whose previous
 * layer's key is prev (0 for the first layer). */
static inline ENG_HD int eng_raster_layer_admits(uint64_t key, uint64_t opaque, uint64_t prev)
{
    return key < opaque && key > prev;
}

#endif
