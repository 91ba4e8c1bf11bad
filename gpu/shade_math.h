/*
 * shade_math.h — the shade stage's arithmetic, once, for the CPU reference (gpu/cpu/shade.c)
 * and the CUDA shade kernel (gpu/cuda/kernels.cu): triangle setup, perspective-correct
 * barycentrics, UVs and the texel address of a bilinear tap, Phong with the head-light, the
 * unlit mode, the blend of the two sides and the pixel's 8-bit value. The callers keep their
 * loops and memory access: the CPU caches setups and overlaps texel fetches over a chunk of
 * pixels, the GPU shades one pixel a thread and fetches texels through __ldg. ENG_HD and the
 * float rules are in gpu/hd.h. Internal to gpu/. Pure functions; any thread.
 *
 * Shading at a point (x, y) of the sample grid on triangle f:
 *   - screen positions of the vertices as in raster_math.h, but unsnapped floats;
 *     b1 = (dx * e2y - dy * e2x) / area, b2 = (e1x * dy - e1y * dx) / area, b0 = 1 - b1 - b2
 *     with e1 = s1 - s0, e2 = s2 - s0, (dx, dy) = (x, y) - s0, area = e1x * e2y - e1y * e2x
 *     (a zero or non-finite area: the centroid);
 *   - perspective correction b_k' = (b_k / w_k) / sum_j (b_j / w_j) (kept as b_k if that sum is
 *     not positive, which only a degenerate snap can cause);
 *   - world position, normal (normalised; zero stays zero) and per side the UV, interpolated
 *     with b';
 *   - base colour per side: the triangle's material; a texture is sampled (bilinear, repeat,
 *     texel centres at (u * w - 0.5, (1 - v) * h - 0.5), u and v first wrapped into [0, 1);
 *     with a mip pyramid, on the level(s) the UV footprint selects, trilinear between two:
 *     see "Mip-mapping" below)
 *     when the material has one and the side has UVs, then rgb * a + color * (1 - a)
 *     (eng_texel_bilerp per channel, then eng_texel_over: gpu/texel.h). A side whose
 *     weight is exactly 0 is skipped: its base stays 0 and adds exactly 0;
 *     colour = (1 - t) * base0 + t * base1 for the texture weight t in [0, 1]; outside it
 *     colour = eng_texel_extrapolate(base0, base1, t) (gpu/texel.h: L*a*b*, gamut-clipped);
 *   - head-light: L = normalize(eye - P) (orthographic: -view_dir), V = L, N flipped to face V
 *     (two-sided), diffuse = max(N.L, 0), H = L so spec = max(N.L, 0)^64 by six squarings
 *     (exact and identical on every platform, unlike powf);
 *     out = clamp01(colour * (ambient + diffuse_k * diffuse) + specular_k * spec);
 *   - unlit shading (ENG_SHADING_UNLIT): light 1 and spec 0, so out = clamp01(colour).
 * A pixel whose samples all name one triangle is shaded once at its centre; otherwise each
 * sample at its centre (empty ones: the background), summed in row-major sample order and
 * scaled by 1 / (grid * grid); then 8 bit = (int)(x * 255 + 0.5), clamped.
 *
 * Translucency (eng_shade_params.layers, from the raster stage's layer passes): a point's
 * colour is its opaque surface's (or the background), then for k = ENG_XLU_LAYERS - 1 down to 0
 * where layer k holds a triangle, c = opacity * shade(layer k) + (1 - opacity) * c
 * (eng_shade_over), with opacity = 1 - eng_tri_transparency; each layer is shaded like an
 * opaque point (texture alpha still blends the texture over the material colour). A pixel is
 * shaded once at its centre only when all its samples agree in the opaque buffer and in every
 * layer (eng_shade_pixel_uniform_layers); it is the background bytes when all are empty.
 */
#ifndef GPU_SHADE_MATH_H
#define GPU_SHADE_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu/hd.h"
#include "gpu/kernels.h"
#include "gpu/raster_math.h"
#include "gpu/texel.h"

/* One side (source or target) of a triangle. */
typedef struct eng_side_setup {
    const eng_material *mat; /* borrowed from the params' surface */
    const eng_mip *mip;      /* mat's pyramid (borrowed), or NULL: bilinear from mat->rgba */
    int textured;            /* mat has a texture and this side has UVs */
    float uv[3][2];          /* per vertex, when textured */
} eng_side_setup;

/* What every point of one triangle shares. */
typedef struct eng_tri_setup {
    float x0, y0, e1x, e1y, e2x, e2y, inv_area; /* unsnapped screen geometry */
    int flat;                                   /* zero area in float: use the centroid */
    float inv_w[3];
    float dqx[3], dqy[3]; /* d(b_k / w_k) per grid unit in x and y (b_k screen-linear) */
    float pos[3][3];
    float nrm[3][3];
    eng_side_setup side[2];
    float opacity; /* 1 - eng_tri_transparency at the params' t; used by translucent layers */
} eng_tri_setup;

/* How a side contributes to a point. */
enum { ENG_SIDE_SKIP, ENG_SIDE_COLOR, ENG_SIDE_TEXTURE };

/* The four texels (indices in texels, row-major) and weights of one bilinear tap. */
typedef struct eng_tex_tap {
    size_t i00, i10, i01, i11;
    float ax, ay; /* toward i10/i11 and toward i01/i11 */
} eng_tex_tap;

/* The taps of a textured side: one bilinear tap, or two on neighbouring mip levels blended by
 * frac toward the second. */
typedef struct eng_mip_tap {
    int count;    /* 1 or 2 */
    int level[2]; /* mip levels (0 without a pyramid) */
    float frac;   /* weight of tap[1]; 0 when count is 1 */
    eng_tex_tap tap[2];
} eng_mip_tap;

/* Clamps to [0, 1]; NaN -> 0. (Not "saturate": CUDA 11 declares one of its own.) */
static inline ENG_HD float eng_clamp01(float x)
{
    return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f;
}

/* A byte as 0..1: the engine's one conversion (the CPU shader computes it four bytes at once with
 * SSE2, or keeps a table of these values). */
static inline ENG_HD float eng_unit8(uint8_t b)
{
    return (float)b * (1.0f / 255.0f);
}

/* The 8-bit value of a 0..1 colour component. */
static inline ENG_HD uint8_t eng_unit_to_u8(float x)
{
    const float v = eng_clamp01(x) * 255.0f + 0.5f;
    const int i = (int)v;
    return (uint8_t)(i > 255 ? 255 : i);
}

/* The background as 0..1, for the empty samples of an edge pixel. */
static inline ENG_HD void eng_shade_background(const eng_shade_params *p, float bg[3])
{
    for (int k = 0; k < 3; k++)
        bg[k] = (float)p->background[k] / 255.0f;
}

/* Sample-grid coordinates: the centre of sample i, and of pixel px when each pixel is g
 * samples wide. */
static inline ENG_HD float eng_shade_sample_centre(int i)
{
    return (float)i + 0.5f;
}

static inline ENG_HD float eng_shade_pixel_centre(int px, int g)
{
    return ((float)px + 0.5f) * (float)g;
}

/* Whether the g x g samples starting at first (rows gw apart) all name one triangle (or are
 * all empty). */
static inline ENG_HD int eng_shade_pixel_uniform(const uint64_t *first, int gw, int g)
{
    const uint32_t id = (uint32_t)*first;
    for (int j = 0; j < g; j++) {
        const uint64_t *r = first + (size_t)j * (size_t)gw;
        for (int i = 0; i < g; i++) {
            if ((uint32_t)r[i] != id)
                return 0;
        }
    }
    return 1;
}

/* Whether the pixel whose first sample is at index first of the sample grid (gw wide, g x g
 * samples a pixel) has one triangle (or none) per sample in the opaque buffer and in each of
 * the translucent layers (p->layers, samples entries a layer), and whether all of them are
 * empty (*empty). */
static inline ENG_HD int eng_shade_pixel_uniform_layers(const eng_shade_params *p, size_t first,
                                                        size_t samples, int gw, int g, int *empty)
{
    *empty = 0;
    if (!eng_shade_pixel_uniform(p->vis + first, gw, g))
        return 0;
    int all_empty = p->vis[first] == ENG_VIS_EMPTY;
    for (int k = 0; k < ENG_XLU_LAYERS; k++) {
        const uint64_t *l = p->layers + (size_t)k * samples + first;
        if (!eng_shade_pixel_uniform(l, gw, g))
            return 0;
        all_empty = all_empty && *l == ENG_VIS_EMPTY;
    }
    *empty = all_empty;
    return 1;
}

/* A translucent layer's colour lc over the colour c behind it, with the layer's opacity. */
static inline ENG_HD void eng_shade_over(float opacity, const float lc[3], float c[3])
{
    const float behind = 1.0f - opacity;
    for (int k = 0; k < 3; k++)
        c[k] = opacity * lc[k] + behind * c[k];
}

/* The setup of triangle f on a grid_w x grid_h sample grid. */
static inline ENG_HD void eng_tri_setup_make(const eng_shade_params *p, uint32_t f, float grid_w,
                                             float grid_h, eng_tri_setup *s)
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
    const float area = s->e1x * s->e2y - s->e1y * s->e2x;
    s->flat = !(area != 0.0f) || !isfinite(area);
    s->inv_area = s->flat ? 0.0f : 1.0f / area;
    /* The screen-linear barycentrics' derivatives: b1 = (dx e2y - dy e2x) / area,
     * b2 = (e1x dy - e1y dx) / area, b0 = 1 - b1 - b2; then each divided by w_k. */
    const float b1x = s->e2y * s->inv_area, b1y = -s->e2x * s->inv_area;
    const float b2x = -s->e1y * s->inv_area, b2y = s->e1x * s->inv_area;
    const float bx[3] = {-(b1x + b2x), b1x, b2x}, by[3] = {-(b1y + b2y), b1y, b2y};
    for (int k = 0; k < 3; k++) {
        s->dqx[k] = bx[k] * s->inv_w[k];
        s->dqy[k] = by[k] * s->inv_w[k];
    }
    s->opacity = 1.0f - eng_tri_transparency(p->surface, f, p->t);
    for (int side = 0; side < 2; side++) {
        const eng_surface *surf = &p->surface[side];
        eng_side_setup *ss = &s->side[side];
        const uint32_t mi = surf->tri_materials != NULL ? surf->tri_materials[f] : 0;
        ss->mat = &surf->materials[mi];
        const int has_uv = surf->tri_uvs != NULL && surf->uvs != NULL;
        ss->textured = has_uv && ss->mat->rgba != NULL;
        ss->mip = NULL;
        if (ss->textured && p->mips[side] != NULL && p->mips[side][mi].levels >= 1)
            ss->mip = &p->mips[side][mi];
        if (ss->textured) {
            const uint32_t *tu = surf->tri_uvs + (size_t)f * 3;
            for (int k = 0; k < 3; k++) {
                ss->uv[k][0] = surf->uvs[(size_t)tu[k] * 2];
                ss->uv[k][1] = surf->uvs[(size_t)tu[k] * 2 + 1];
            }
        }
    }
}

/* Perspective-correct barycentrics b of grid point (x, y), and in *q the sum of b_k / w_k of
 * the screen-linear barycentrics that they were divided by (0 when no correction applied: flat
 * or degenerate), which the texture footprint needs. */
static inline ENG_HD void eng_shade_bary_q(const eng_tri_setup *s, float x, float y, float b[3],
                                           float *q)
{
    *q = 0.0f;
    if (s->flat) {
        b[0] = b[1] = b[2] = 1.0f / 3.0f;
    } else {
        const float dx = x - s->x0, dy = y - s->y0;
        b[1] = (dx * s->e2y - dy * s->e2x) * s->inv_area;
        b[2] = (s->e1x * dy - s->e1y * dx) * s->inv_area;
        b[0] = 1.0f - b[1] - b[2];
    }
    const float q0 = b[0] * s->inv_w[0], q1 = b[1] * s->inv_w[1], q2 = b[2] * s->inv_w[2];
    const float qs = q0 + q1 + q2;
    if (qs > 0.0f && isfinite(qs)) {
        const float inv = 1.0f / qs;
        b[0] = q0 * inv;
        b[1] = q1 * inv;
        b[2] = q2 * inv;
        *q = s->flat ? 0.0f : qs;
    }
}

/* Perspective-correct barycentrics b of grid point (x, y). */
static inline ENG_HD void eng_shade_bary(const eng_tri_setup *s, float x, float y, float b[3])
{
    float q;
    eng_shade_bary_q(s, x, y, b, &q);
}

/* How side `side` of setup s contributes at texture weight t. */
static inline ENG_HD int eng_shade_side_mode(const eng_tri_setup *s, int side, float t)
{
    const float weight = side == 0 ? 1.0f - t : t;
    if (weight == 0.0f)
        return ENG_SIDE_SKIP;
    return s->side[side].textured ? ENG_SIDE_TEXTURE : ENG_SIDE_COLOR;
}

/* Wraps a texture coordinate into [0, 1); NaN and infinities become 0. */
static inline ENG_HD float eng_wrap01(float u)
{
    const float w = u - floorf(u);
    return (w >= 0.0f && w < 1.0f) ? w : 0.0f;
}

/* The UV of a textured side ss at barycentrics b. */
static inline ENG_HD void eng_shade_uv(const eng_side_setup *ss, const float b[3], float *u,
                                       float *v)
{
    *u = b[0] * ss->uv[0][0] + b[1] * ss->uv[1][0] + b[2] * ss->uv[2][0];
    *v = b[0] * ss->uv[0][1] + b[1] * ss->uv[1][1] + b[2] * ss->uv[2][1];
}

/* The bilinear tap (repeat) at (u, v) of a w x h texture. */
static inline ENG_HD void eng_tex_tap_at(float u, float v, int w, int h, eng_tex_tap *tap)
{
    const float fx = eng_wrap01(u) * (float)w - 0.5f;
    const float fy = (1.0f - eng_wrap01(v)) * (float)h - 0.5f;
    const float flx = floorf(fx), fly = floorf(fy);
    tap->ax = fx - flx;
    tap->ay = fy - fly;
    int x0 = (int)flx, y0 = (int)fly; /* in [-1, w - 1] and [-1, h - 1] */
    x0 = x0 < 0 ? x0 + w : x0;
    y0 = y0 < 0 ? y0 + h : y0;
    const int x1 = x0 + 1 < w ? x0 + 1 : 0;
    const int y1 = y0 + 1 < h ? y0 + 1 : 0;
    const size_t row0 = (size_t)y0 * (size_t)w, row1 = (size_t)y1 * (size_t)w;
    tap->i00 = row0 + (size_t)x0;
    tap->i10 = row0 + (size_t)x1;
    tap->i01 = row1 + (size_t)x0;
    tap->i11 = row1 + (size_t)x1;
}

/* The bilinear tap (repeat) of a textured side ss at barycentrics b, on the full-size texture. */
static inline ENG_HD void eng_shade_tap(const eng_side_setup *ss, const float b[3],
                                        eng_tex_tap *tap)
{
    float u, v;
    eng_shade_uv(ss, b, &u, &v);
    eng_tex_tap_at(u, v, ss->mat->tex_width, ss->mat->tex_height, tap);
}

/* ---- Mip-mapping ----
 *
 * Level of detail per shading point, from the exact screen-space derivatives of the
 * perspective-correct UV at that point (not per triangle: a large triangle seen at a grazing
 * angle changes footprint across its surface). With q_k = b_k / w_k screen-linear and
 * Q = sum q_k, u = sum q_k u_k / Q gives du/dx = sum_k dq_k/dx (u_k - u) / Q, likewise for v
 * and y. The footprint is the longer of the two screen axes' steps in level-0 texels,
 * max(|(du/dx w, dv/dx h)|, |(du/dy w, dv/dy h)|), per spacing grid units: the pixel's width
 * (grid samples) when a pixel is shaded once at its centre, one sample where its samples are
 * shaded one by one and averaged.
 *
 * lod = log2(footprint). So that both engines give the same bits without a transcendental
 * (hd.h), the level is found by halving: footprint = 2^l * f with f in [1, 2), level l and
 * the blend weight toward level l + 1 is f - 1 (a log2 that is linear within each octave; at
 * most 0.09 of a level from the true one, and exact at powers of two). A footprint of at most
 * one texel (magnified, or NaN from a degenerate triangle) gives level 0 alone: exactly the
 * plain bilinear filter. Past the coarsest level, the coarsest level alone. Level l of a
 * non-power-of-two texture is taken as 2^l times coarser even where rounding down made it a
 * little more (mip.h). */

/* The footprint, in level-0 texels of side ss's texture, of one step of spacing grid units at
 * the point with UV (u, v) (eng_shade_uv) and q (eng_shade_bary_q; 0: none, as for flat
 * triangles). */
static inline ENG_HD float eng_shade_footprint(const eng_tri_setup *s, const eng_side_setup *ss,
                                               float u, float v, float q, float spacing)
{
    if (!(q > 0.0f))
        return 0.0f;
    float dux = 0.0f, dvx = 0.0f, duy = 0.0f, dvy = 0.0f;
    for (int k = 0; k < 3; k++) {
        const float du = ss->uv[k][0] - u, dv = ss->uv[k][1] - v;
        dux += s->dqx[k] * du;
        dvx += s->dqx[k] * dv;
        duy += s->dqy[k] * du;
        dvy += s->dqy[k] * dv;
    }
    const float scale = spacing / q;
    const float w = (float)ss->mat->tex_width, h = (float)ss->mat->tex_height;
    const float ax = dux * scale * w, bx = dvx * scale * h;
    const float ay = duy * scale * w, by = dvy * scale * h;
    const float fx = sqrtf(ax * ax + bx * bx), fy = sqrtf(ay * ay + by * by);
    return fx > fy ? fx : fy;
}

/* The mip level for a footprint (texels of level 0) on a pyramid of levels levels, and in
 * *frac the blend weight toward the next level (0: this level alone). */
static inline ENG_HD int eng_mip_select(float footprint, int levels, float *frac)
{
    *frac = 0.0f;
    if (!(footprint > 1.0f))
        return 0;
    int l = 0;
    float f = footprint;
    while (f >= 2.0f && l < levels - 1) {
        f *= 0.5f;
        l++;
    }
    if (l >= levels - 1)
        return levels - 1;
    *frac = f - 1.0f;
    return l;
}

/* The taps of textured side ss at barycentrics b: bilinear on the full texture without a
 * pyramid, else on the level(s) the footprint selects. */
static inline ENG_HD void eng_shade_mip_tap(const eng_tri_setup *s, const eng_side_setup *ss,
                                            const float b[3], float q, float spacing,
                                            eng_mip_tap *mt)
{
    float u, v;
    eng_shade_uv(ss, b, &u, &v);
    mt->count = 1;
    mt->level[0] = mt->level[1] = 0;
    mt->frac = 0.0f;
    if (ss->mip == NULL) {
        eng_tex_tap_at(u, v, ss->mat->tex_width, ss->mat->tex_height, &mt->tap[0]);
        return;
    }
    const eng_mip *m = ss->mip;
    const int l =
        eng_mip_select(eng_shade_footprint(s, ss, u, v, q, spacing), m->levels, &mt->frac);
    mt->level[0] = l;
    eng_tex_tap_at(u, v, m->width[l], m->height[l], &mt->tap[0]);
    if (mt->frac > 0.0f) {
        mt->count = 2;
        mt->level[1] = l + 1;
        eng_tex_tap_at(u, v, m->width[l + 1], m->height[l + 1], &mt->tap[1]);
    }
}

/* The RGBA8 texels of level `level` of side ss (the material's texture without a pyramid). */
static inline ENG_HD const uint8_t *eng_side_texels(const eng_side_setup *ss, int level)
{
    return ss->mip != NULL ? ss->mip->texels[level] : ss->mat->rgba;
}

/* The head-light at barycentrics b of setup s: light = ambient + diffuse_k * |N.L| and
 * spec = |N.L|^64 (Phong), or 1 and 0 (unlit). */
static inline ENG_HD void eng_shade_light(const eng_shade_params *p, const eng_tri_setup *s,
                                          const float b[3], float *light, float *spec)
{
    float pos[3], n[3];
    for (int k = 0; k < 3; k++) {
        pos[k] = b[0] * s->pos[0][k] + b[1] * s->pos[1][k] + b[2] * s->pos[2][k];
        n[k] = b[0] * s->nrm[0][k] + b[1] * s->nrm[1][k] + b[2] * s->nrm[2][k];
    }
    const float nn = n[0] * n[0] + n[1] * n[1] + n[2] * n[2];
    if (nn > 0.0f) {
        const float inv = 1.0f / sqrtf(nn);
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
        const float ll = l[0] * l[0] + l[1] * l[1] + l[2] * l[2];
        const float inv = ll > 0.0f ? 1.0f / sqrtf(ll) : 0.0f;
        l[0] *= inv;
        l[1] *= inv;
        l[2] *= inv;
    }
    if (p->shading == ENG_SHADING_UNLIT) {
        /* colour * 1 + specular_k * 0 is the colour exactly. */
        *light = 1.0f;
        *spec = 0.0f;
        return;
    }
    /* V = L and H = normalize(L + V) = L: one dot product serves diffuse and specular. Flipping
     * N when N.V < 0 is the same as taking |N.L|. */
    const float ndl = fabsf(n[0] * l[0] + n[1] * l[1] + n[2] * l[2]);
    const float s2 = ndl * ndl, s4 = s2 * s2, s8 = s4 * s4, s16 = s8 * s8, s32 = s16 * s16;
    *light = ENG_AMBIENT + ENG_DIFFUSE * ndl;
    *spec = s32 * s32;
}

/* The 0..1 colour of a point from the bases of both sides (0 for skipped sides) at texture
 * weight t, lit by light and spec. */
static inline ENG_HD void eng_shade_combine(const float base0[3], const float base1[3], float t,
                                            float light, float spec, float out[3])
{
    if (!(t >= 0.0f && t <= 1.0f)) {
        float col[3];
        eng_texel_extrapolate(base0, base1, t, col);
        for (int k = 0; k < 3; k++)
            out[k] = eng_clamp01(col[k] * light + ENG_SPECULAR * spec);
        return;
    }
    const float one_t = 1.0f - t;
    for (int k = 0; k < 3; k++) {
        const float col = one_t * base0[k] + t * base1[k];
        out[k] = eng_clamp01(col * light + ENG_SPECULAR * spec);
    }
}

#endif
