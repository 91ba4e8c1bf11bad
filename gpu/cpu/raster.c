/*
 * raster.c — CPU reference of the raster stage: clip-space vertices and a visibility buffer
 * (see kernels.h). Each sample keeps the minimum of (depth_bits << 32) | (triangle + 1), which is
 * what a 64-bit atomicMin gives on the GPU, so the result does not depend on triangle order:
 * the nearer surface wins and exact depth ties go to the lower triangle index.
 *
 * Called by the CPU batch runner (engine_cpu.c) on an engine thread, once per frame, writing
 * that thread's scratch buffers; pure given its params.
 *
 * The arithmetic — vertex transform, fixed-point snap, triangle setup with the top-left rule,
 * depth key, and what is dropped (no clipping, a guard band, zero area) — is gpu/raster_math.h,
 * which the CUDA kernels run too; this file keeps the loops: vertices, then triangles in index
 * order, each walking its sample box row by row with incremental edge functions. A translucent
 * job's frame (p->layers) then runs ENG_XLU_LAYERS layer passes over its translucent
 * triangles, each the same walk with its own minimum (depth peeling; raster_math.h).
 */
#include "gpu/engine_int.h"
#include "gpu/raster_math.h"

#include <string.h>

/* Layer pass `pass` (>= 0) of a translucent job: the triangles it draws, each covered sample
 * keeping the least key that eng_raster_layer_admits against the opaque buffer and the layer
 * before (the same walk as the opaque pass; raster_math.h). Returns whether it kept any: a
 * pass that keeps none leaves every later pass empty too (nothing lies strictly behind empty). */
static int raster_layer(const eng_raster_params *p, int pass, int gw, int gh, size_t n_samples)
{
    uint64_t *out_layer = p->layers + (size_t)pass * n_samples;
    const uint64_t *prev_layer = pass > 0 ? p->layers + (size_t)(pass - 1) * n_samples : NULL;
    int kept = 0;
    for (uint32_t f = 0; f < p->triangle_count; f++) {
        eng_raster_tri rt;
        if (!eng_raster_pass_draws(p, f, pass) ||
            !eng_raster_tri_setup(p->clip, p->triangles + (size_t)f * 3, gw, gh, &rt))
            continue;
        const int64_t sx_n = rt.sx1 - rt.sx0 + 1;
        int64_t row0 = rt.row[0], row1 = rt.row[1], row2 = rt.row[2];
        for (int64_t sy = rt.sy0; sy <= rt.sy1; sy++) {
            int64_t e0 = row0, e1 = row1, e2 = row2;
            const size_t at = (size_t)sy * (size_t)gw + (size_t)rt.sx0;
            for (int64_t i = 0; i < sx_n; i++) {
                if (eng_raster_inside(e0, e1, e2)) {
                    const uint64_t key = eng_raster_key(&rt, e1, e2, f);
                    const size_t s = at + (size_t)i;
                    const uint64_t prev = prev_layer != NULL ? prev_layer[s] : 0;
                    if (eng_raster_layer_admits(key, p->vis[s], prev) && key < out_layer[s]) {
                        out_layer[s] = key;
                        kept = 1;
                    }
                }
                e0 += rt.step_x[0];
                e1 += rt.step_x[1];
                e2 += rt.step_x[2];
            }
            row0 += rt.step_y[0];
            row1 += rt.step_y[1];
            row2 += rt.step_y[2];
        }
    }
    return kept;
}

/* One routine for both outputs so the test hook checks exactly the coverage the engine uses;
 * counts == NULL selects the visibility buffer (the branch is per triangle). The opaque pass;
 * with p->layers the layer passes follow (the coverage hook counts every triangle). */
static void raster_run(const eng_raster_params *p, uint32_t *counts)
{
    for (uint32_t v = 0; v < p->vertex_count; v++)
        eng_raster_transform(p->view_proj, p->pos + (size_t)v * 3, p->clip + (size_t)v * 4);

    const int gw = p->width * p->grid, gh = p->height * p->grid;
    const size_t n_samples = (size_t)gw * (size_t)gh;
    uint64_t *vis = p->vis;
    if (counts != NULL)
        memset(counts, 0, n_samples * sizeof *counts);
    else
        memset(vis, 0xff, n_samples * sizeof *vis); /* every sample ENG_VIS_EMPTY */
    const int layered = counts == NULL && p->layers != NULL;

    for (uint32_t f = 0; f < p->triangle_count; f++) {
        /* A local copy: the stores into vis cannot alias it, so it stays in registers. */
        eng_raster_tri rt;
        if (layered && !eng_raster_pass_draws(p, f, ENG_RASTER_PASS_OPAQUE))
            continue;
        if (!eng_raster_tri_setup(p->clip, p->triangles + (size_t)f * 3, gw, gh, &rt))
            continue;
        const int64_t sx_n = rt.sx1 - rt.sx0 + 1;
        int64_t row0 = rt.row[0], row1 = rt.row[1], row2 = rt.row[2];

        if (counts != NULL) {
            for (int64_t sy = rt.sy0; sy <= rt.sy1; sy++) {
                int64_t e0 = row0, e1 = row1, e2 = row2;
                uint32_t *out = counts + (size_t)sy * (size_t)gw + (size_t)rt.sx0;
                for (int64_t i = 0; i < sx_n; i++) {
                    if (eng_raster_inside(e0, e1, e2))
                        out[i]++;
                    e0 += rt.step_x[0];
                    e1 += rt.step_x[1];
                    e2 += rt.step_x[2];
                }
                row0 += rt.step_y[0];
                row1 += rt.step_y[1];
                row2 += rt.step_y[2];
            }
            continue;
        }

        for (int64_t sy = rt.sy0; sy <= rt.sy1; sy++) {
            int64_t e0 = row0, e1 = row1, e2 = row2;
            uint64_t *out = vis + (size_t)sy * (size_t)gw + (size_t)rt.sx0;
            for (int64_t i = 0; i < sx_n; i++) {
                if (eng_raster_inside(e0, e1, e2)) {
                    const uint64_t key = eng_raster_key(&rt, e1, e2, f);
                    if (key < out[i])
                        out[i] = key;
                }
                e0 += rt.step_x[0];
                e1 += rt.step_x[1];
                e2 += rt.step_x[2];
            }
            row0 += rt.step_y[0];
            row1 += rt.step_y[1];
            row2 += rt.step_y[2];
        }
    }
    if (!layered)
        return;
    memset(p->layers, 0xff, (size_t)ENG_XLU_LAYERS * n_samples * sizeof *p->layers);
    for (int pass = 0; pass < ENG_XLU_LAYERS; pass++) {
        if (!raster_layer(p, pass, gw, gh, n_samples))
            break;
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
