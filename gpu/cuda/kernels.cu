/*
 * kernels.cu — the CUDA engine's three stage kernels and their launchers (cuda_int.h). Each is a
 * line-by-line port of its CPU reference in gpu/cpu/ (morph.c, raster.c, shade.c): same float
 * operations in the same order, so that with FMA contraction off (--fmad=false, set in
 * CMakeLists.txt) and IEEE division and square root (nvcc's defaults) a GPU frame equals the CPU
 * frame. Where the port departs in structure (a gather instead of a scatter, per-thread work
 * instead of loops) the comment says why the result is the same.
 *
 * Called from the host side (engine_cuda.c) on the batch thread; the launchers only queue work
 * on the given stream. Every launch covers all frames of a chunk: blockIdx.y picks the frame's
 * item in the device offset table, the x dimension the element. Kernels read the borrowed
 * device buffers their items point to and write only the frame's own outputs.
 */
#include <cuda_runtime.h>

#include "gpu/cuda/cuda_int.h"
#include "gpu/texel.h"

/* ---- Morph: positions, area-weighted normals, clip-space positions (one thread a vertex) ---- */

/* morph.c: out = (1 - t) * a + t * b, per coordinate. */
__device__ static void lerp3(const float *__restrict__ a, const float *__restrict__ b, uint32_t v,
                             float s, float t, float out[3])
{
    const size_t i = (size_t)v * 3;
    out[0] = s * a[i] + t * b[i];
    out[1] = s * a[i + 1] + t * b[i + 1];
    out[2] = s * a[i + 2] + t * b[i + 2];
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
        float p0[3], p1[3], p2[3];
        lerp3(pa, pb, tri[0], s, t, p0);
        lerp3(pa, pb, tri[1], s, t, p1);
        lerp3(pa, pb, tri[2], s, t, p2);
        float e1x = p1[0] - p0[0], e1y = p1[1] - p0[1], e1z = p1[2] - p0[2];
        float e2x = p2[0] - p0[0], e2y = p2[1] - p0[1], e2z = p2[2] - p0[2];
        float cx = e1y * e2z - e1z * e2y;
        float cy = e1z * e2x - e1x * e2z;
        float cz = e1x * e2y - e1y * e2x;
        n[0] += cx;
        n[1] += cy;
        n[2] += cz;
    }
    float *on = it->m.out_normal + (size_t)v * 3;
    float m = fmaxf(fabsf(n[0]), fmaxf(fabsf(n[1]), fabsf(n[2])));
    if (!(m > 0.0f) || !isfinite(m)) {
        on[0] = on[1] = on[2] = 0.0f;
    } else {
        float x = n[0] / m, y = n[1] / m, z = n[2] / m;
        float inv = 1.0f / sqrtf(x * x + y * y + z * z);
        on[0] = x * inv;
        on[1] = y * inv;
        on[2] = z * inv;
    }

    /* raster.c's vertex transform: m0*x + m4*y + m8*z + m12, summed left to right. */
    const float *mv = it->view_proj;
    float *c = it->clip + (size_t)v * 4;
    for (int r = 0; r < 4; r++)
        c[r] = mv[r] * p[0] + mv[4 + r] * p[1] + mv[8 + r] * p[2] + mv[12 + r];
}

/* ---- Raster: visibility buffer by 64-bit atomicMin (one thread a triangle) ---- */

#define GUARD_BAND ((float)(2 * ENG_MAX_GRID_SIDE))

typedef struct raster_vertex {
    long long x, y; /* 24.8 fixed point, sample-grid units */
    float depth;
} raster_vertex;

__device__ static long long floor_div256(long long a)
{
    return a >= 0 ? a / 256 : -((-a + 255) / 256);
}

__device__ static int project(const float *c, float grid_w, float grid_h, raster_vertex *out)
{
    float x = c[0], y = c[1], z = c[2], w = c[3];
    if (!(w > 0.0f) || !(z >= -w && z <= w))
        return 0;
    float sx = (x / w + 1.0f) * 0.5f * grid_w;
    float sy = (1.0f - y / w) * 0.5f * grid_h;
    if (!(fabsf(sx) < GUARD_BAND && fabsf(sy) < GUARD_BAND))
        return 0;
    out->x = llrintf(sx * 256.0f); /* round half to even, as the CPU's llrintf */
    out->y = llrintf(sy * 256.0f);
    out->depth = z / w * 0.5f + 0.5f;
    return 1;
}

__device__ static int is_top_left(const raster_vertex *a, const raster_vertex *b)
{
    long long dx = b->x - a->x, dy = b->y - a->y;
    return dy < 0 || (dy == 0 && dx > 0);
}

/* The same setup, bounding box, edge walk and depth as raster_run() in raster.c. The CPU keeps
 * the minimum key per sample with a compare; atomicMin keeps the same minimum whatever order
 * the threads arrive in, so the buffer is deterministic. One thread walks its triangle's whole
 * box: right for the ~8-pixel triangles of a face, slow (but correct) for huge ones. */
__global__ void raster_kernel(const eng_raster_params *__restrict__ items)
{
    const eng_raster_params *p = &items[blockIdx.y];
    const uint32_t f = blockIdx.x * blockDim.x + threadIdx.x;
    if (f >= p->triangle_count)
        return;
    const int gw = p->width * p->grid, gh = p->height * p->grid;
    const float fw = (float)gw, fh = (float)gh;
    const uint32_t *tri = p->triangles + (size_t)f * 3;
    raster_vertex v[3];
    if (!project(p->clip + (size_t)tri[0] * 4, fw, fh, &v[0]) ||
        !project(p->clip + (size_t)tri[1] * 4, fw, fh, &v[1]) ||
        !project(p->clip + (size_t)tri[2] * 4, fw, fh, &v[2]))
        return;
    long long area = (v[1].x - v[0].x) * (v[2].y - v[0].y) - (v[1].y - v[0].y) * (v[2].x - v[0].x);
    if (area == 0)
        return;
    if (area < 0) {
        raster_vertex tmp = v[1];
        v[1] = v[2];
        v[2] = tmp;
        area = -area;
    }
    long long min_x = v[0].x, max_x = v[0].x, min_y = v[0].y, max_y = v[0].y;
    for (int k = 1; k < 3; k++) {
        min_x = v[k].x < min_x ? v[k].x : min_x;
        max_x = v[k].x > max_x ? v[k].x : max_x;
        min_y = v[k].y < min_y ? v[k].y : min_y;
        max_y = v[k].y > max_y ? v[k].y : max_y;
    }
    long long sx0 = -floor_div256(128 - min_x), sx1 = floor_div256(max_x - 128);
    long long sy0 = -floor_div256(128 - min_y), sy1 = floor_div256(max_y - 128);
    sx0 = sx0 < 0 ? 0 : sx0;
    sy0 = sy0 < 0 ? 0 : sy0;
    sx1 = sx1 > gw - 1 ? gw - 1 : sx1;
    sy1 = sy1 > gh - 1 ? gh - 1 : sy1;
    if (sx0 > sx1 || sy0 > sy1)
        return;

    const raster_vertex *a[3] = {&v[1], &v[2], &v[0]};
    const raster_vertex *b[3] = {&v[2], &v[0], &v[1]};
    long long step_x[3], step_y[3], row[3], bias[3];
    const long long px0 = sx0 * 256 + 128, py0 = sy0 * 256 + 128;
    for (int k = 0; k < 3; k++) {
        long long dx = b[k]->x - a[k]->x, dy = b[k]->y - a[k]->y;
        step_x[k] = -dy * 256;
        step_y[k] = dx * 256;
        bias[k] = is_top_left(a[k], b[k]) ? 0 : 1;
        row[k] = dx * (py0 - a[k]->y) - dy * (px0 - a[k]->x) - bias[k];
    }
    const long long sx_n = sx1 - sx0 + 1;
    const float farea = (float)area;
    const float d0 = v[0].depth;
    const float k1 = (v[1].depth - d0) / farea;
    const float k2 = (v[2].depth - d0) / farea;
    const unsigned long long id = (unsigned long long)f + 1;
    unsigned long long *vis = (unsigned long long *)p->vis;
    for (long long sy = sy0; sy <= sy1; sy++) {
        long long e0 = row[0], e1 = row[1], e2 = row[2];
        unsigned long long *out = vis + (size_t)sy * (size_t)gw + (size_t)sx0;
        for (long long i = 0; i < sx_n; i++) {
            if ((e0 | e1 | e2) >= 0) {
                float d = d0 + (float)(e1 + bias[1]) * k1 + (float)(e2 + bias[2]) * k2;
                d = d > 0.0f ? d : 0.0f;
                d = d < 1.0f ? d : 1.0f;
                unsigned long long key = ((unsigned long long)__float_as_uint(d) << 32) | id;
                atomicMin(out + i, key);
            }
            e0 += step_x[0];
            e1 += step_x[1];
            e2 += step_x[2];
        }
        row[0] += step_y[0];
        row[1] += step_y[1];
        row[2] += step_y[2];
    }
}

/* ---- Shade: resolve + Phong + textures (one thread a pixel) ---- */

typedef struct side_setup {
    const eng_material *mat;
    int textured;
    float uv[3][2];
} side_setup;

typedef struct tri_setup {
    float x0, y0, e1x, e1y, e2x, e2y, inv_area;
    int flat;
    float inv_w[3];
    float pos[3][3];
    float nrm[3][3];
    side_setup side[2];
} tri_setup;

/* shade.c's saturate(), renamed: CUDA 11's headers declare a deprecated saturate() of their own. */
__device__ static float clamp01(float x)
{
    return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f;
}

/* setup_get() of shade.c, without the cache (a cache changes no value). */
__device__ static void setup_make(const eng_shade_params *p, uint32_t f, float grid_w, float grid_h,
                                  tri_setup *s)
{
    const uint32_t *tri = p->triangles + (size_t)f * 3;
    float sx[3], sy[3];
    for (int k = 0; k < 3; k++) {
        const float *cl = p->clip + (size_t)tri[k] * 4;
        sx[k] = (cl[0] / cl[3] + 1.0f) * 0.5f * grid_w;
        sy[k] = (1.0f - cl[1] / cl[3]) * 0.5f * grid_h;
        s->inv_w[k] = 1.0f / cl[3];
        for (int c = 0; c < 3; c++) {
            s->pos[k][c] = p->pos[(size_t)tri[k] * 3 + c];
            s->nrm[k][c] = p->normal[(size_t)tri[k] * 3 + c];
        }
    }
    s->x0 = sx[0];
    s->y0 = sy[0];
    s->e1x = sx[1] - sx[0];
    s->e1y = sy[1] - sy[0];
    s->e2x = sx[2] - sx[0];
    s->e2y = sy[2] - sy[0];
    float area = s->e1x * s->e2y - s->e1y * s->e2x;
    s->flat = !(area != 0.0f) || !isfinite(area);
    s->inv_area = s->flat ? 0.0f : 1.0f / area;
    for (int side = 0; side < 2; side++) {
        const eng_surface *surf = &p->surface[side];
        side_setup *ss = &s->side[side];
        uint32_t mi = surf->tri_materials != NULL ? surf->tri_materials[f] : 0;
        ss->mat = &surf->materials[mi];
        int has_uv = surf->tri_uvs != NULL && surf->uvs != NULL;
        ss->textured = has_uv && ss->mat->rgba != NULL;
        if (ss->textured) {
            const uint32_t *tu = surf->tri_uvs + (size_t)f * 3;
            for (int k = 0; k < 3; k++) {
                ss->uv[k][0] = surf->uvs[(size_t)tu[k] * 2];
                ss->uv[k][1] = surf->uvs[(size_t)tu[k] * 2 + 1];
            }
        }
    }
}

__device__ static float wrap01(float u)
{
    float w = u - floorf(u);
    return (w >= 0.0f && w < 1.0f) ? w : 0.0f;
}

/* shade.c's byte_to_unit table entry. */
__device__ static float unit8(unsigned char b)
{
    return (float)b * (1.0f / 255.0f);
}

/* tap_prepare() + tap_color(): bilinear with repeat, composited over the material colour. */
__device__ static void texture_color(const eng_material *m, float u, float v, float out[3])
{
    const int w = m->tex_width, h = m->tex_height;
    float fx = wrap01(u) * (float)w - 0.5f;
    float fy = (1.0f - wrap01(v)) * (float)h - 0.5f;
    float flx = floorf(fx), fly = floorf(fy);
    const float ax = fx - flx, ay = fy - fly;
    int x0 = (int)flx, y0 = (int)fly;
    x0 = x0 < 0 ? x0 + w : x0;
    y0 = y0 < 0 ? y0 + h : y0;
    int x1 = x0 + 1 < w ? x0 + 1 : 0;
    int y1 = y0 + 1 < h ? y0 + 1 : 0;
    /* Texels are 4-byte aligned (each texture starts 16-byte aligned in the texel buffer). */
    const uchar4 *texels = (const uchar4 *)m->rgba;
    const uchar4 t00 = __ldg(texels + (size_t)y0 * (size_t)w + (size_t)x0);
    const uchar4 t10 = __ldg(texels + (size_t)y0 * (size_t)w + (size_t)x1);
    const uchar4 t01 = __ldg(texels + (size_t)y1 * (size_t)w + (size_t)x0);
    const uchar4 t11 = __ldg(texels + (size_t)y1 * (size_t)w + (size_t)x1);
    const unsigned char c00[4] = {t00.x, t00.y, t00.z, t00.w};
    const unsigned char c10[4] = {t10.x, t10.y, t10.z, t10.w};
    const unsigned char c01[4] = {t01.x, t01.y, t01.z, t01.w};
    const unsigned char c11[4] = {t11.x, t11.y, t11.z, t11.w};
    float rgba[4];
    for (int k = 0; k < 4; k++) {
        float a00 = unit8(c00[k]), a10 = unit8(c10[k]);
        float a01 = unit8(c01[k]), a11 = unit8(c11[k]);
        float top = a00 + ax * (a10 - a00);
        float bottom = a01 + ax * (a11 - a01);
        rgba[k] = top + ay * (bottom - top);
    }
    const float a = rgba[3];
    for (int k = 0; k < 3; k++)
        out[k] = rgba[k] * a + m->color[k] * (1.0f - a);
}

/* prepare() + finish() of shade.c: the 0..1 colour of triangle setup s at grid point (x, y). */
__device__ static void shade_point(const eng_shade_params *p, const tri_setup *s, float x, float y,
                                   float out[3])
{
    float b[3];
    if (s->flat) {
        b[0] = b[1] = b[2] = 1.0f / 3.0f;
    } else {
        float dx = x - s->x0, dy = y - s->y0;
        b[1] = (dx * s->e2y - dy * s->e2x) * s->inv_area;
        b[2] = (s->e1x * dy - s->e1y * dx) * s->inv_area;
        b[0] = 1.0f - b[1] - b[2];
    }
    float q0 = b[0] * s->inv_w[0], q1 = b[1] * s->inv_w[1], q2 = b[2] * s->inv_w[2];
    float qs = q0 + q1 + q2;
    if (qs > 0.0f && isfinite(qs)) {
        float inv = 1.0f / qs;
        b[0] = q0 * inv;
        b[1] = q1 * inv;
        b[2] = q2 * inv;
    }

    const float t = p->t;
    const float side_weight[2] = {1.0f - t, t};
    float base[2][3] = {{0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f}};
    for (int side = 0; side < 2; side++) {
        const side_setup *ss = &s->side[side];
        if (side_weight[side] == 0.0f)
            continue; /* SIDE_SKIP: base stays 0 */
        if (!ss->textured) {
            base[side][0] = ss->mat->color[0];
            base[side][1] = ss->mat->color[1];
            base[side][2] = ss->mat->color[2];
            continue;
        }
        float u = b[0] * ss->uv[0][0] + b[1] * ss->uv[1][0] + b[2] * ss->uv[2][0];
        float v = b[0] * ss->uv[0][1] + b[1] * ss->uv[1][1] + b[2] * ss->uv[2][1];
        texture_color(ss->mat, u, v, base[side]);
    }

    float pos[3], n[3];
    for (int k = 0; k < 3; k++) {
        pos[k] = b[0] * s->pos[0][k] + b[1] * s->pos[1][k] + b[2] * s->pos[2][k];
        n[k] = b[0] * s->nrm[0][k] + b[1] * s->nrm[1][k] + b[2] * s->nrm[2][k];
    }
    float nn = n[0] * n[0] + n[1] * n[1] + n[2] * n[2];
    if (nn > 0.0f) {
        float inv = 1.0f / sqrtf(nn);
        n[0] *= inv;
        n[1] *= inv;
        n[2] *= inv;
    }
    float l[3];
    if (p->orthographic) {
        l[0] = -p->view_dir[0];
        l[1] = -p->view_dir[1];
        l[2] = -p->view_dir[2];
    } else {
        l[0] = p->eye[0] - pos[0];
        l[1] = p->eye[1] - pos[1];
        l[2] = p->eye[2] - pos[2];
        float ll = l[0] * l[0] + l[1] * l[1] + l[2] * l[2];
        float inv = ll > 0.0f ? 1.0f / sqrtf(ll) : 0.0f;
        l[0] *= inv;
        l[1] *= inv;
        l[2] *= inv;
    }
    float ndl = fabsf(n[0] * l[0] + n[1] * l[1] + n[2] * l[2]);
    float s2 = ndl * ndl, s4 = s2 * s2, s8 = s4 * s4, s16 = s8 * s8, s32 = s16 * s16;
    const int unlit = p->shading == ENG_SHADING_UNLIT;
    const float light = unlit ? 1.0f : ENG_AMBIENT + ENG_DIFFUSE * ndl;
    const float spec = unlit ? 0.0f : s32 * s32;

    if (!(t >= 0.0f && t <= 1.0f)) {
        /* The texture weight outside [0, 1]: the very function shade.c calls (gpu/texel.h). */
        float col[3];
        eng_texel_extrapolate(base[0], base[1], t, col);
        for (int k = 0; k < 3; k++)
            out[k] = clamp01(col[k] * light + ENG_SPECULAR * spec);
        return;
    }
    const float one_t = 1.0f - t;
    for (int k = 0; k < 3; k++) {
        float col = one_t * base[0][k] + t * base[1][k];
        out[k] = clamp01(col * light + ENG_SPECULAR * spec);
    }
}

__device__ static unsigned char to_u8(float x)
{
    float v = clamp01(x) * 255.0f + 0.5f;
    int i = (int)v;
    return (unsigned char)(i > 255 ? 255 : i);
}

/* eng_cpu_shade's per-pixel logic: background when every sample is empty, one shading at the
 * pixel centre when all samples name one triangle, else every sample shaded at its centre and
 * summed in row-major sample order, then scaled by 1 / (grid * grid). The CPU's chunking and
 * two passes only reorder work in time, and its >256-sample path does the same sums. */
__global__ void shade_kernel(const eng_shade_params *__restrict__ items)
{
    const eng_shade_params *p = &items[blockIdx.y];
    const uint32_t pixel = blockIdx.x * blockDim.x + threadIdx.x;
    if (pixel >= (uint32_t)p->width * (uint32_t)p->height)
        return;
    const int px = (int)(pixel % (uint32_t)p->width), py = (int)(pixel / (uint32_t)p->width);
    const int g = p->grid;
    const int gw = p->width * g, gh = p->height * g;
    const float grid_w = (float)gw, grid_h = (float)gh;
    uint8_t *out = p->rgb + (size_t)pixel * 3;
    const unsigned long long *first =
        (const unsigned long long *)p->vis + (size_t)py * (size_t)g * (size_t)gw + (size_t)px * g;
    const uint32_t id = (uint32_t)*first;
    int uniform = 1;
    for (int j = 0; j < g && uniform; j++) {
        const unsigned long long *r = first + (size_t)j * (size_t)gw;
        for (int i = 0; i < g; i++) {
            if ((uint32_t)r[i] != id) {
                uniform = 0;
                break;
            }
        }
    }
    if (uniform && *first == ENG_VIS_EMPTY) {
        out[0] = p->background[0];
        out[1] = p->background[1];
        out[2] = p->background[2];
        return;
    }
    tri_setup s;
    if (uniform) {
        float col[3];
        setup_make(p, id - 1, grid_w, grid_h, &s);
        shade_point(p, &s, ((float)px + 0.5f) * (float)g, ((float)py + 0.5f) * (float)g, col);
        /* resolve() with one point: 0 + col, not scaled. */
        float sum[3] = {0.0f, 0.0f, 0.0f};
        for (int k = 0; k < 3; k++) {
            sum[k] += col[k];
            out[k] = to_u8(sum[k]);
        }
        return;
    }
    float bg[3];
    for (int k = 0; k < 3; k++)
        bg[k] = (float)p->background[k] / 255.0f;
    const float inv_n = 1.0f / (float)(g * g);
    float sum[3] = {0.0f, 0.0f, 0.0f};
    uint32_t have = 0; /* triangle + 1 whose setup s holds; 0: none */
    for (int j = 0; j < g; j++) {
        const unsigned long long *r = first + (size_t)j * (size_t)gw;
        for (int i = 0; i < g; i++) {
            float col[3];
            const unsigned long long key = r[i];
            if (key == ENG_VIS_EMPTY) {
                col[0] = bg[0];
                col[1] = bg[1];
                col[2] = bg[2];
            } else {
                const uint32_t tid = (uint32_t)key;
                if (tid != have) {
                    setup_make(p, tid - 1, grid_w, grid_h, &s);
                    have = tid;
                }
                shade_point(p, &s, (float)(px * g + i) + 0.5f, (float)(py * g + j) + 0.5f, col);
            }
            sum[0] += col[0];
            sum[1] += col[1];
            sum[2] += col[2];
        }
    }
    out[0] = to_u8(sum[0] * inv_n);
    out[1] = to_u8(sum[1] * inv_n);
    out[2] = to_u8(sum[2] * inv_n);
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
                                        uint32_t max_triangles, cudaStream_t stream)
{
    raster_kernel<<<grid_of(max_triangles, frames), CU_BLOCK, 0, stream>>>(items);
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
                             (const void *)shade_kernel};
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
