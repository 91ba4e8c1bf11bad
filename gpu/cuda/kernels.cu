/*
 * kernels.cu — the CUDA engine's three stage kernels and their launchers (cuda_int.h). The
 * per-vertex, per-triangle and per-pixel arithmetic is not here: it is the shared ENG_HD code of
 * gpu/morph_math.h, gpu/raster_math.h and gpu/shade_math.h (with gpu/texel.h), which the CPU
 * reference in gpu/cpu/ runs too. With the float rules of gpu/hd.h (no FMA contraction:
 * --fmad=false; IEEE division and square root; set in CMakeLists.txt) a GPU frame then equals
 * the CPU frame. This file keeps what only the GPU does: one thread per element, indexing into
 * the batch's offset table, the normal gather, the 64-bit atomicMin (also for each translucent
 * layer pass: a launch pair per layer, the pass a kernel argument), texel loads through __ldg,
 * and the launches. Where the structure departs from the CPU's loops (a gather instead of a
 * scatter, per-thread work instead of loops) the comment says why the result is the same.
 *
 * Called from the host side (engine_cuda.c) on the batch thread; the launchers only queue work
 * on the given stream. Every launch covers all frames of a chunk: blockIdx.y picks the frame's
 * item in the device offset table, the x dimension the element. Kernels read the borrowed
 * device buffers their items point to and write only the frame's own outputs.
 */
#include <cuda_runtime.h>

#include "gpu/cuda/cuda_int.h"
#include "gpu/morph_math.h"
#include "gpu/raster_math.h"
#include "gpu/shade_math.h"

/* ---- Morph: positions, area-weighted normals, clip-space positions (one thread a vertex) ---- */

/* The morphed position of vertex v (eng_morph_lerp per coordinate). */
__device__ static void lerp3(const float *__restrict__ a, const float *__restrict__ b, uint32_t v,
                             float s, float t, float out[3])
{
    const size_t i = (size_t)v * 3;
    for (int k = 0; k < 3; k++)
        out[k] = eng_morph_lerp(s, t, a[i + k], b[i + k]);
}

/* morph.c adds each triangle's cross product to its three vertices in triangle order. Here each
 * vertex gathers the cross products of its triangles, in the same ascending order (adj_tri),
 * starting from 0.0f like the CPU's memset, so every float sum is the same sequence of
 * additions. Neighbour positions are re-lerped rather than read back: the lerp is a pure
 * function of (a, b, t), so the values are the ones the CPU stored. */
__global__ void morph_kernel(const cu_morph_item *__restrict__ items)
{
    const cu_morph_item *it = &items[blockIdx.y];
    const uint32_t v = blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= it->m.vertex_count)
        return;
    const float t = it->m.t;
    const float s = 1.0f - t;
    const float *pa = it->m.pos_a, *pb = it->m.pos_b;
    float p[3];
    lerp3(pa, pb, v, s, t, p);
    float *op = it->m.out_pos + (size_t)v * 3;
    op[0] = p[0];
    op[1] = p[1];
    op[2] = p[2];

    float n[3] = {0.0f, 0.0f, 0.0f};
    const uint32_t end = it->adj_first[v + 1];
    for (uint32_t e = it->adj_first[v]; e < end; e++) {
        const uint32_t *tri = it->m.triangles + (size_t)it->adj_tri[e] * 3;
        float p0[3], p1[3], p2[3], c[3];
        lerp3(pa, pb, tri[0], s, t, p0);
        lerp3(pa, pb, tri[1], s, t, p1);
        lerp3(pa, pb, tri[2], s, t, p2);
        eng_morph_tri_cross(p0, p1, p2, c);
        n[0] += c[0];
        n[1] += c[1];
        n[2] += c[2];
    }
    eng_morph_normal_finish(n, it->m.out_normal + (size_t)v * 3);

    /* raster.c's vertex transform, done here in the per-vertex launch. */
    eng_raster_transform(it->view_proj, p, it->clip + (size_t)v * 4);
}

/* ---- Raster: visibility buffer by 64-bit atomicMin (one thread a triangle) ---- */

/* Walks the box of rt (the same walk as raster_run() in raster.c) into the frame's samples.
 * The CPU keeps the minimum key per sample with a compare; atomicMin keeps the same minimum
 * whatever order the threads (and tiles) arrive in, so the buffer is deterministic. */
__device__ static void walk(const eng_raster_tri *rt, unsigned long long *vis, int gw, uint32_t f)
{
    const long long sx_n = rt->sx1 - rt->sx0 + 1;
    int64_t row0 = rt->row[0], row1 = rt->row[1], row2 = rt->row[2];
    for (long long sy = rt->sy0; sy <= rt->sy1; sy++) {
        int64_t e0 = row0, e1 = row1, e2 = row2;
        unsigned long long *out = vis + (size_t)sy * (size_t)gw + (size_t)rt->sx0;
        for (long long i = 0; i < sx_n; i++) {
            if (eng_raster_inside(e0, e1, e2))
                atomicMin(out + i, (unsigned long long)eng_raster_key(rt, e1, e2, f));
            e0 += rt->step_x[0];
            e1 += rt->step_x[1];
            e2 += rt->step_x[2];
        }
        row0 += rt->step_y[0];
        row1 += rt->step_y[1];
        row2 += rt->step_y[2];
    }
}

/* The same walk for layer pass `pass` (>= 0) of a translucent frame: raster.c's raster_layer.
 * The opaque buffer and the previous layer are final (earlier launches on the stream), and
 * atomicMin keeps the least admitted key whatever the order, as the CPU's compare does. */
__device__ static void walk_layer(const eng_raster_params *p, const eng_raster_tri *rt, int pass,
                                  uint32_t f)
{
    const int gw = p->width * p->grid, gh = p->height * p->grid;
    const size_t n = (size_t)gw * (size_t)gh;
    unsigned long long *out_layer = (unsigned long long *)p->layers + (size_t)pass * n;
    const uint64_t *prev_layer = pass > 0 ? p->layers + (size_t)(pass - 1) * n : NULL;
    const long long sx_n = rt->sx1 - rt->sx0 + 1;
    int64_t row0 = rt->row[0], row1 = rt->row[1], row2 = rt->row[2];
    for (long long sy = rt->sy0; sy <= rt->sy1; sy++) {
        int64_t e0 = row0, e1 = row1, e2 = row2;
        const size_t at = (size_t)sy * (size_t)gw + (size_t)rt->sx0;
        for (long long i = 0; i < sx_n; i++) {
            if (eng_raster_inside(e0, e1, e2)) {
                const uint64_t key = eng_raster_key(rt, e1, e2, f);
                const size_t si = at + (size_t)i;
                const uint64_t prev = prev_layer != NULL ? prev_layer[si] : 0;
                if (eng_raster_layer_admits(key, p->vis[si], prev))
                    atomicMin(out_layer + si, (unsigned long long)key);
            }
            e0 += rt->step_x[0];
            e1 += rt->step_x[1];
            e2 += rt->step_x[2];
        }
        row0 += rt->step_y[0];
        row1 += rt->step_y[1];
        row2 += rt->step_y[2];
    }
}

/* Reserves room for one entry of n tiles; 0 when the queue is full. */
__device__ static int queue_reserve(const cu_raster_queue *q, uint64_t n, uint64_t *entry,
                                    uint64_t *first_tile)
{
    const unsigned long long tile_mask = (1ull << CU_QUEUE_TILE_BITS) - 1;
    unsigned long long old = *(volatile unsigned long long *)q->count;
    for (;;) {
        const uint64_t entries = old >> CU_QUEUE_TILE_BITS, tiles = old & tile_mask;
        if (entries >= q->entry_cap || n > q->tile_cap - tiles)
            return 0;
        const unsigned long long want = old + (1ull << CU_QUEUE_TILE_BITS) + n;
        const unsigned long long seen = atomicCAS(q->count, old, want);
        if (seen == old) {
            *entry = entries;
            *first_tile = tiles;
            return 1;
        }
        old = seen;
    }
}

/* One thread a triangle: a box of at most ENG_RASTER_WALK_MAX samples is walked here; a larger
 * one goes to the queue, tile by tile for raster_tile_kernel (or, the queue full, is walked
 * here whole: the same samples, slower). */
__global__ void raster_kernel(const eng_raster_params *__restrict__ items, cu_raster_queue q,
                              int pass)
{
    const eng_raster_params *p = &items[blockIdx.y];
    const uint32_t f = blockIdx.x * blockDim.x + threadIdx.x;
    if (f >= p->triangle_count || (pass != ENG_RASTER_PASS_OPAQUE && p->layers == NULL))
        return;
    if (!eng_raster_pass_draws(p, f, pass))
        return;
    const int gw = p->width * p->grid, gh = p->height * p->grid;
    eng_raster_tri rt;
    if (!eng_raster_tri_setup(p->clip, p->triangles + (size_t)f * 3, gw, gh, &rt))
        return;
    unsigned long long *vis = (unsigned long long *)p->vis;
    uint64_t entry, first_tile;
    if (eng_raster_box_samples(&rt) > ENG_RASTER_WALK_MAX &&
        queue_reserve(&q, eng_raster_tile_count(&rt), &entry, &first_tile)) {
        cu_raster_entry *e = &q.entries[entry];
        e->item = blockIdx.y;
        e->triangle = f;
        e->first_tile = first_tile;
        return;
    }
    if (pass == ENG_RASTER_PASS_OPAQUE)
        walk(&rt, vis, gw, f);
    else
        walk_layer(p, &rt, pass, f);
}

/* One thread a queued tile: finds its entry (the last whose first_tile is at most the tile's
 * index), sets the triangle up again (the same pure function of the same inputs, so the same
 * values) and walks the tile: at most ENG_RASTER_WALK_MAX samples. The grid covers tile_cap;
 * threads past the tiles reserved return at once. */
__global__ void raster_tile_kernel(const eng_raster_params *__restrict__ items, cu_raster_queue q,
                                   int pass)
{
    const uint64_t tile = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned long long count = *q.count;
    const uint64_t tiles = count & ((1ull << CU_QUEUE_TILE_BITS) - 1);
    if (tile >= tiles)
        return;
    uint64_t lo = 0, hi = count >> CU_QUEUE_TILE_BITS; /* entries[lo].first_tile <= tile */
    while (hi - lo > 1) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (q.entries[mid].first_tile <= tile)
            lo = mid;
        else
            hi = mid;
    }
    const cu_raster_entry e = q.entries[lo];
    const eng_raster_params *p = &items[e.item];
    const int gw = p->width * p->grid, gh = p->height * p->grid;
    eng_raster_tri rt, part;
    if (!eng_raster_tri_setup(p->clip, p->triangles + (size_t)e.triangle * 3, gw, gh, &rt))
        return; /* cannot happen: the triangle kernel set it up from the same values */
    eng_raster_tile(&rt, tile - e.first_tile, &part);
    if (pass == ENG_RASTER_PASS_OPAQUE)
        walk(&part, (unsigned long long *)p->vis, gw, e.triangle);
    else
        walk_layer(p, &part, pass, e.triangle);
}

/* ---- Shade: resolve + Phong + textures (one thread a pixel) ---- */

/* The rgba of one bilinear tap on texels: its four texels loaded through the read-only cache,
 * as 0..1 floats, blended (gpu/texel.h). */
__device__ static void tap_rgba(const uint8_t *texels8, const eng_tex_tap *tap, float rgba[4])
{
    /* Texels are 4-byte aligned (each texture and mip level starts 16-byte aligned in the texel
     * buffer). */
    const uchar4 *texels = (const uchar4 *)texels8;
    const uchar4 t00 = __ldg(texels + tap->i00), t10 = __ldg(texels + tap->i10);
    const uchar4 t01 = __ldg(texels + tap->i01), t11 = __ldg(texels + tap->i11);
    const unsigned char c00[4] = {t00.x, t00.y, t00.z, t00.w};
    const unsigned char c10[4] = {t10.x, t10.y, t10.z, t10.w};
    const unsigned char c01[4] = {t01.x, t01.y, t01.z, t01.w};
    const unsigned char c11[4] = {t11.x, t11.y, t11.z, t11.w};
    for (int k = 0; k < 4; k++)
        rgba[k] = eng_texel_bilerp(eng_unit8(c00[k]), eng_unit8(c10[k]), eng_unit8(c01[k]),
                                   eng_unit8(c11[k]), tap->ax, tap->ay);
}

/* The base colour of a textured side at barycentrics b (q and spacing: eng_shade_mip_tap):
 * bilinear on one level or trilinear between two, over the material colour, as shade.c's
 * tap_color. */
__device__ static void texture_color(const eng_tri_setup *s, const eng_side_setup *ss,
                                     const float b[3], float q, float spacing, float out[3])
{
    eng_mip_tap mt;
    eng_shade_mip_tap(s, ss, b, q, spacing, &mt);
    float rgba[4];
    tap_rgba(eng_side_texels(ss, mt.level[0]), &mt.tap[0], rgba);
    if (mt.count == 2) {
        float hi[4], lo[4];
        for (int k = 0; k < 4; k++)
            lo[k] = rgba[k];
        tap_rgba(eng_side_texels(ss, mt.level[1]), &mt.tap[1], hi);
        eng_texel_mip_lerp(lo, hi, mt.frac, rgba);
    }
    eng_texel_over(rgba, ss->mat->color, out);
}

/* prepare() + finish() of shade.c in one go: the 0..1 colour of setup s at grid point (x, y),
 * standing for spacing x spacing grid units (the pixel: grid; a sample: 1). */
__device__ static void shade_point(const eng_shade_params *p, const eng_tri_setup *s, float x,
                                   float y, float spacing, float out[3])
{
    float b[3], q;
    eng_shade_bary_q(s, x, y, b, &q);
    float base[2][3] = {{0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f}};
    for (int side = 0; side < 2; side++) {
        const int mode = eng_shade_side_mode(s, side, p->t);
        if (mode == ENG_SIDE_TEXTURE) {
            texture_color(s, &s->side[side], b, q, spacing, base[side]);
        } else if (mode == ENG_SIDE_COLOR) {
            for (int k = 0; k < 3; k++)
                base[side][k] = s->side[side].mat->color[k];
        }
    }
    float light, spec;
    eng_shade_light(p, s, b, &light, &spec);
    eng_shade_combine(base[0], base[1], p->t, light, spec, out);
}

/* shade.c's layered_point: the colour of sample-grid index si at (x, y), standing for spacing x
 * spacing grid units: the opaque surface or the background, then the translucent layers from
 * the farthest to the nearest (eng_shade_over). */
__device__ static void layered_point(const eng_shade_params *p, size_t si, size_t samples,
                                     float grid_w, float grid_h, float x, float y, float spacing,
                                     float out[3])
{
    eng_tri_setup s;
    const uint64_t v = p->vis[si];
    if (v == ENG_VIS_EMPTY) {
        eng_shade_background(p, out);
    } else {
        eng_tri_setup_make(p, (uint32_t)v - 1, grid_w, grid_h, &s);
        shade_point(p, &s, x, y, spacing, out);
    }
    for (int k = ENG_XLU_LAYERS - 1; k >= 0; k--) {
        const uint64_t lv = p->layers[(size_t)k * samples + si];
        if (lv == ENG_VIS_EMPTY)
            continue;
        float lc[3];
        eng_tri_setup_make(p, (uint32_t)lv - 1, grid_w, grid_h, &s);
        shade_point(p, &s, x, y, spacing, lc);
        eng_shade_over(s.opacity, lc, out);
    }
}

/* shade.c's shade_rows_layered for one pixel of a translucent frame: the background bytes when
 * every sample of every buffer is empty, one point at the centre when each buffer names one
 * triangle (or none) across the pixel, else every sample, summed in row-major order and scaled
 * by 1 / (grid * grid). */
__device__ static void shade_pixel_layered(const eng_shade_params *p, int px, int py, uint8_t *out)
{
    const int g = p->grid;
    const int gw = p->width * g, gh = p->height * g;
    const float grid_w = (float)gw, grid_h = (float)gh;
    const size_t samples = (size_t)gw * (size_t)gh;
    const size_t first = (size_t)py * (size_t)g * (size_t)gw + (size_t)px * (size_t)g;
    int empty;
    const int uniform = eng_shade_pixel_uniform_layers(p, first, samples, gw, g, &empty);
    if (empty) {
        out[0] = p->background[0];
        out[1] = p->background[1];
        out[2] = p->background[2];
        return;
    }
    if (uniform) {
        float col[3];
        layered_point(p, first, samples, grid_w, grid_h, eng_shade_pixel_centre(px, g),
                      eng_shade_pixel_centre(py, g), (float)g, col);
        for (int k = 0; k < 3; k++)
            out[k] = eng_unit_to_u8(col[k]);
        return;
    }
    const float inv_n = 1.0f / (float)(g * g);
    float sum[3] = {0.0f, 0.0f, 0.0f};
    for (int j = 0; j < g; j++) {
        for (int i = 0; i < g; i++) {
            float col[3];
            layered_point(p, first + (size_t)j * (size_t)gw + (size_t)i, samples, grid_w, grid_h,
                          eng_shade_sample_centre(px * g + i), eng_shade_sample_centre(py * g + j),
                          1.0f, col);
            sum[0] += col[0];
            sum[1] += col[1];
            sum[2] += col[2];
        }
    }
    for (int k = 0; k < 3; k++)
        out[k] = eng_unit_to_u8(sum[k] * inv_n);
}

/* eng_cpu_shade's per-pixel logic: background when every sample is empty, one shading at the
 * pixel centre when all samples name one triangle, else every sample shaded at its centre and
 * summed in row-major sample order, then scaled by 1 / (grid * grid). The CPU's chunking and
 * two passes only reorder work in time, and its >256-sample path does the same sums; the CPU's
 * setup cache changes no value. */
__global__ void shade_kernel(const eng_shade_params *__restrict__ items)
{
    const eng_shade_params *p = &items[blockIdx.y];
    const uint32_t pixel = blockIdx.x * blockDim.x + threadIdx.x;
    if (pixel >= (uint32_t)p->width * (uint32_t)p->height)
        return;
    const int px = (int)(pixel % (uint32_t)p->width), py = (int)(pixel / (uint32_t)p->width);
    if (p->layers != NULL) {
        shade_pixel_layered(p, px, py, p->rgb + (size_t)pixel * 3);
        return;
    }
    const int g = p->grid;
    const int gw = p->width * g, gh = p->height * g;
    const float grid_w = (float)gw, grid_h = (float)gh;
    uint8_t *out = p->rgb + (size_t)pixel * 3;
    const uint64_t *first = p->vis + (size_t)py * (size_t)g * (size_t)gw + (size_t)px * g;
    const uint32_t id = (uint32_t)*first;
    const int uniform = eng_shade_pixel_uniform(first, gw, g);
    if (uniform && *first == ENG_VIS_EMPTY) {
        out[0] = p->background[0];
        out[1] = p->background[1];
        out[2] = p->background[2];
        return;
    }
    eng_tri_setup s;
    if (uniform) {
        float col[3];
        eng_tri_setup_make(p, id - 1, grid_w, grid_h, &s);
        shade_point(p, &s, eng_shade_pixel_centre(px, g), eng_shade_pixel_centre(py, g), (float)g,
                    col);
        /* resolve() with one point: 0 + col, not scaled. */
        float sum[3] = {0.0f, 0.0f, 0.0f};
        for (int k = 0; k < 3; k++) {
            sum[k] += col[k];
            out[k] = eng_unit_to_u8(sum[k]);
        }
        return;
    }
    float bg[3];
    eng_shade_background(p, bg);
    const float inv_n = 1.0f / (float)(g * g);
    float sum[3] = {0.0f, 0.0f, 0.0f};
    uint32_t have = 0; /* triangle + 1 whose setup s holds; 0: none */
    for (int j = 0; j < g; j++) {
        const uint64_t *r = first + (size_t)j * (size_t)gw;
        for (int i = 0; i < g; i++) {
            float col[3];
            const uint64_t key = r[i];
            if (key == ENG_VIS_EMPTY) {
                col[0] = bg[0];
                col[1] = bg[1];
                col[2] = bg[2];
            } else {
                const uint32_t tid = (uint32_t)key;
                if (tid != have) {
                    eng_tri_setup_make(p, tid - 1, grid_w, grid_h, &s);
                    have = tid;
                }
                shade_point(p, &s, eng_shade_sample_centre(px * g + i),
                            eng_shade_sample_centre(py * g + j), 1.0f, col);
            }
            sum[0] += col[0];
            sum[1] += col[1];
            sum[2] += col[2];
        }
    }
    out[0] = eng_unit_to_u8(sum[0] * inv_n);
    out[1] = eng_unit_to_u8(sum[1] * inv_n);
    out[2] = eng_unit_to_u8(sum[2] * inv_n);
}

/* ---- Launchers ---- */

static dim3 grid_of(uint32_t max_elems, uint32_t frames)
{
    uint32_t blocks = (max_elems + CU_BLOCK - 1) / CU_BLOCK;
    return dim3(blocks > 0 ? blocks : 1, frames, 1);
}

extern "C" cudaError_t cu_launch_morph(const cu_morph_item *items, uint32_t frames,
                                       uint32_t max_vertices, cudaStream_t stream)
{
    morph_kernel<<<grid_of(max_vertices, frames), CU_BLOCK, 0, stream>>>(items);
    return cudaGetLastError();
}

extern "C" cudaError_t cu_launch_raster(const eng_raster_params *items, uint32_t frames,
                                        uint32_t max_triangles, cu_raster_queue queue, int pass,
                                        cudaStream_t stream)
{
    raster_kernel<<<grid_of(max_triangles, frames), CU_BLOCK, 0, stream>>>(items, queue, pass);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess || queue.tile_cap == 0)
        return e;
    const uint64_t blocks = (queue.tile_cap + CU_BLOCK - 1) / CU_BLOCK;
    if (blocks > 0x7fffffffull)
        return cudaErrorInvalidValue; /* the caller caps tile_cap far below this */
    raster_tile_kernel<<<dim3((unsigned)blocks, 1, 1), CU_BLOCK, 0, stream>>>(items, queue, pass);
    return cudaGetLastError();
}

extern "C" cudaError_t cu_launch_shade(const eng_shade_params *items, uint32_t frames,
                                       uint32_t max_pixels, cudaStream_t stream)
{
    shade_kernel<<<grid_of(max_pixels, frames), CU_BLOCK, 0, stream>>>(items);
    return cudaGetLastError();
}

extern "C" cudaError_t cu_kernels_check(void)
{
    /* Attributes exist only where the kernels have an image for this device: the same test a
     * launch makes, without launching. */
    const void *kernels[] = {(const void *)morph_kernel, (const void *)raster_kernel,
                             (const void *)raster_tile_kernel, (const void *)shade_kernel};
    for (const void *k : kernels) {
        cudaFuncAttributes a;
        cudaError_t e = cudaFuncGetAttributes(&a, k);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            return e;
        }
    }
    return cudaSuccess;
}
