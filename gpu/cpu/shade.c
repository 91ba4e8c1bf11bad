/*
 * shade.c — CPU reference of the shade stage: resolve the visibility buffer into RGB8 pixels
 * (see kernels.h). Called by the CPU batch runner (engine_cpu.c) on an engine thread, once per
 * frame; pure given its params. Everything it reads is borrowed from the params.
 *
 * The arithmetic of a shading point and of a pixel's value (barycentrics, texture taps,
 * Phong, the unlit mode, the blend of the two sides, 8-bit rounding) is gpu/shade_math.h, which
 * the CUDA shade kernel runs too; its comment states it. This file keeps the CPU's loops and
 * memory access: per pixel, the background when all grid*grid samples are empty, one point at
 * the pixel centre when they all hold one triangle, else every sample, averaged. A translucent
 * job's frame takes its own, plainer loop (shade_rows_layered) that stacks the layers.
 *
 * Triangle setup (screen positions, 1/w, vertex data, materials) is cached in a small
 * direct-mapped table, since neighbouring pixels and the samples of an edge pixel mostly share
 * a handful of triangles. With SSE2 (every x86-64) a texel's four channels are blended in one
 * register, lane by lane the very float operations of gpu/texel.h, so the bytes do not change.
 */
#include "gpu/kernels.h"
#include "gpu/shade_math.h"

#include <pthread.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

_Static_assert((int)ENG_SHININESS == 64, "shade_math.h computes the specular power by squaring");

typedef struct cache_slot {
    uint32_t id; /* triangle + 1; 0 marks an empty slot */
    eng_tri_setup s;
} cache_slot;

#define CACHE_SLOTS 16 /* a power of two */

#define CHUNK_POINTS 256

/* The four texels and weights of one bilinear tap. */
typedef struct level_tap {
    const uint8_t *t00, *t10, *t01, *t11;
    float ax, ay;
} level_tap;

/* A textured side's taps: one level, or two blended by frac (eng_mip_tap). */
typedef struct tex_tap {
    int count;
    float frac;
    level_tap lv[2];
} tex_tap;

typedef struct shade_sample {
    int background; /* an empty sample of an edge pixel: the background colour */
    float light;    /* ambient + diffuse_k * diffuse */
    float spec;     /* specular_k is applied in finish() */
    const eng_material *mat[2];
    int mode[2]; /* ENG_SIDE_* */
    tex_tap tap[2];
} shade_sample;

typedef struct pixel_rec {
    int x;     /* column in the row */
    int first; /* first point in the chunk */
    int count; /* points: 1 (uniform) or grid * grid */
} pixel_rec;

typedef struct shade_ctx {
    const eng_shade_params *p;
    float grid_w, grid_h;
    float bg[3];
    float inv_n; /* 1 / (grid * grid) */
    cache_slot cache[CACHE_SLOTS];
    int n_points, n_pixels;
    shade_sample points[CHUNK_POINTS];
    pixel_rec pixels[CHUNK_POINTS];
} shade_ctx;

static const eng_tri_setup *setup_get(shade_ctx *c, uint32_t f)
{
    cache_slot *slot = &c->cache[f & (CACHE_SLOTS - 1)];
    if (slot->id != f + 1) {
        eng_tri_setup_make(c->p, f, c->grid_w, c->grid_h, &slot->s);
        slot->id = f + 1;
    }
    return &slot->s;
}

/* ---- Two passes over a chunk of pixels ----
 *
 * Texture fetches dominate: a 2048^2 texture seen at 512^2 is minified, so nearly every bilinear
 * tap misses the caches. Shading therefore runs in two passes over a chunk of up to
 * CHUNK_POINTS shading points: prepare() does the geometry and lighting, finds the four texels
 * of each side and prefetches them; finish() reads the texels and combines. The misses of a
 * whole chunk overlap instead of stalling one after another. The arithmetic is the same as in
 * one pass; only its order in time changes.
 */

/* The taps of a textured side at barycentrics b (q and spacing: eng_shade_mip_tap), their
 * texels prefetched. */
static void tap_prepare(const eng_tri_setup *s, const eng_side_setup *ss, const float b[3], float q,
                        float spacing, tex_tap *tap)
{
    eng_mip_tap mt;
    eng_shade_mip_tap(s, ss, b, q, spacing, &mt);
    tap->count = mt.count;
    tap->frac = mt.frac;
    for (int i = 0; i < mt.count; i++) {
        const uint8_t *rgba = eng_side_texels(ss, mt.level[i]);
        const eng_tex_tap *t = &mt.tap[i];
        level_tap *lt = &tap->lv[i];
        lt->ax = t->ax;
        lt->ay = t->ay;
        lt->t00 = rgba + t->i00 * 4;
        lt->t10 = rgba + t->i10 * 4;
        lt->t01 = rgba + t->i01 * 4;
        lt->t11 = rgba + t->i11 * 4;
        __builtin_prefetch(lt->t00);
        __builtin_prefetch(lt->t10);
        __builtin_prefetch(lt->t01);
        __builtin_prefetch(lt->t11);
    }
}

#if defined(__SSE2__)
/* ---- The texel blends, four channels at once ----
 *
 * eng_texel_bilerp4, eng_texel_mip_lerp and eng_texel_over (gpu/texel.h) compute the same
 * expression for each channel of a texel. With SSE2 (every x86-64) the four channels share one
 * register: each lane does exactly the scalar operations, in the same order, on the same float
 * values (a byte b becomes (float)b * (1.0f / 255.0f), as eng_unit8 and the table do), and
 * without FMA (-ffp-contract=off, and no FMA in the SSE2 baseline), so every lane's result is
 * bit for bit the scalar one. Other targets take the scalar functions below. */

/* The four bytes of an RGBA8 texel as floats 0..1 (eng_unit8 per byte). */
static inline __m128 texel_unit4(const uint8_t *t)
{
    uint32_t word;
    memcpy(&word, t, sizeof word);
    const __m128i zero = _mm_setzero_si128();
    __m128i v = _mm_cvtsi32_si128((int)word);
    v = _mm_unpacklo_epi8(v, zero);
    v = _mm_unpacklo_epi16(v, zero);
    return _mm_mul_ps(_mm_cvtepi32_ps(v), _mm_set1_ps(1.0f / 255.0f));
}

/* eng_texel_bilerp4 of a prepared level tap. */
static inline __m128 level_bilerp4(const level_tap *lt)
{
    const __m128 ax = _mm_set1_ps(lt->ax), ay = _mm_set1_ps(lt->ay);
    const __m128 a00 = texel_unit4(lt->t00), a10 = texel_unit4(lt->t10);
    const __m128 a01 = texel_unit4(lt->t01), a11 = texel_unit4(lt->t11);
    const __m128 top = _mm_add_ps(a00, _mm_mul_ps(ax, _mm_sub_ps(a10, a00)));
    const __m128 bottom = _mm_add_ps(a01, _mm_mul_ps(ax, _mm_sub_ps(a11, a01)));
    return _mm_add_ps(top, _mm_mul_ps(ay, _mm_sub_ps(bottom, top)));
}

/* Bilinear (one level) or trilinear (two) from a prepared tap, composited over the material
 * colour (eng_texel_over). One level is exactly the plain bilinear filter. */
static void tap_color(const eng_material *m, const tex_tap *tap, float out[3])
{
    __m128 rgba = level_bilerp4(&tap->lv[0]);
    if (tap->count == 2) {
        const __m128 hi = level_bilerp4(&tap->lv[1]);
        rgba = _mm_add_ps(rgba, _mm_mul_ps(_mm_set1_ps(tap->frac), _mm_sub_ps(hi, rgba)));
    }
    float v[4];
    _mm_storeu_ps(v, rgba);
    const __m128 a = _mm_set1_ps(v[3]), one_a = _mm_set1_ps(1.0f - v[3]);
    const __m128 color = _mm_setr_ps(m->color[0], m->color[1], m->color[2], 0.0f);
    _mm_storeu_ps(v, _mm_add_ps(_mm_mul_ps(rgba, a), _mm_mul_ps(color, one_a)));
    memcpy(out, v, 3 * sizeof *out);
}
#else
/* eng_unit8(b) for every byte b, so a texel costs loads instead of int -> float conversions;
 * the values are exactly those eng_unit8 gives. Filled once, before any thread. */
static float byte_to_unit[256];
static pthread_once_t byte_to_unit_once = PTHREAD_ONCE_INIT;

static void byte_to_unit_fill(void)
{
    for (int i = 0; i < 256; i++)
        byte_to_unit[i] = eng_unit8((uint8_t)i);
}

/* Bilinear (one level) or trilinear (two) from a prepared tap, composited over the material
 * colour. One level is exactly the plain bilinear filter. */
static void tap_color(const eng_material *m, const tex_tap *tap, float out[3])
{
    const level_tap *a = &tap->lv[0];
    if (tap->count == 1) {
        eng_texel_blend(byte_to_unit, a->t00, a->t10, a->t01, a->t11, a->ax, a->ay, m->color, out);
        return;
    }
    const level_tap *z = &tap->lv[1];
    float lo[4], hi[4], rgba[4];
    eng_texel_bilerp4(byte_to_unit, a->t00, a->t10, a->t01, a->t11, a->ax, a->ay, lo);
    eng_texel_bilerp4(byte_to_unit, z->t00, z->t10, z->t01, z->t11, z->ax, z->ay, hi);
    eng_texel_mip_lerp(lo, hi, tap->frac, rgba);
    eng_texel_over(rgba, m->color, out);
}
#endif

/* Pass 1 for triangle setup s at sample-grid point (x, y); the point stands for spacing x
 * spacing grid units (a whole pixel: grid; one sample: 1), which sets the texture's level of
 * detail. */
static void prepare(const shade_ctx *c, const eng_tri_setup *s, float x, float y, float spacing,
                    shade_sample *out)
{
    const eng_shade_params *p = c->p;
    float b[3], q;
    eng_shade_bary_q(s, x, y, b, &q);
    /* Texture taps first, so their prefetches fly while the lighting is computed. */
    for (int side = 0; side < 2; side++) {
        out->mat[side] = s->side[side].mat;
        out->mode[side] = eng_shade_side_mode(s, side, p->t);
        if (out->mode[side] == ENG_SIDE_TEXTURE)
            tap_prepare(s, &s->side[side], b, q, spacing, &out->tap[side]);
    }
    out->background = 0;
    eng_shade_light(p, s, b, &out->light, &out->spec);
}

/* Pass 2: the colour (0..1) of a prepared point. */
static void finish(const shade_ctx *c, const shade_sample *sm, float out[3])
{
    if (sm->background) {
        memcpy(out, c->bg, sizeof c->bg);
        return;
    }
    float base[2][3] = {{0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f}};
    for (int side = 0; side < 2; side++) {
        if (sm->mode[side] == ENG_SIDE_TEXTURE)
            tap_color(sm->mat[side], &sm->tap[side], base[side]);
        else if (sm->mode[side] == ENG_SIDE_COLOR)
            memcpy(base[side], sm->mat[side]->color, sizeof base[side]);
    }
    eng_shade_combine(base[0], base[1], c->p->t, sm->light, sm->spec, out);
}

/* Resolves the points of one pixel: one point is the pixel's colour, several are averaged in
 * sample order. */
static void resolve(const shade_ctx *c, const shade_sample *pts, int count, uint8_t *out)
{
    float sum[3] = {0.0f, 0.0f, 0.0f};
    for (int k = 0; k < count; k++) {
        float col[3];
        finish(c, &pts[k], col);
        sum[0] += col[0];
        sum[1] += col[1];
        sum[2] += col[2];
    }
    if (count > 1) {
        sum[0] *= c->inv_n;
        sum[1] *= c->inv_n;
        sum[2] *= c->inv_n;
    }
    out[0] = eng_unit_to_u8(sum[0]);
    out[1] = eng_unit_to_u8(sum[1]);
    out[2] = eng_unit_to_u8(sum[2]);
}

static void flush(shade_ctx *c, uint8_t *row_out)
{
    for (int i = 0; i < c->n_pixels; i++) {
        const pixel_rec *pr = &c->pixels[i];
        resolve(c, c->points + pr->first, pr->count, row_out + (size_t)pr->x * 3);
    }
    c->n_points = 0;
    c->n_pixels = 0;
}

/* Prepares the point of sample (sx, sy) with visibility value v into *out. */
static void prepare_sample(shade_ctx *c, uint64_t v, float x, float y, shade_sample *out)
{
    if (v == ENG_VIS_EMPTY) {
        out->background = 1;
        return;
    }
    prepare(c, setup_get(c, (uint32_t)v - 1), x, y, 1.0f, out);
}

/* ---- Translucent layers ----
 *
 * A translucent job's frame (p->layers) is shaded point by point, without the chunk's overlap:
 * each point stacks up to ENG_XLU_LAYERS shadings, and such frames are rare. The arithmetic is
 * the one shade_math.h states and the CUDA kernel mirrors. */

/* The colour (0..1) of sample-grid index si at grid point (x, y), standing for spacing x
 * spacing grid units: the opaque surface or the background, then the layers back to front. */
static void layered_point(shade_ctx *c, size_t si, size_t samples, float x, float y, float spacing,
                          float out[3])
{
    const eng_shade_params *p = c->p;
    shade_sample sm;
    const uint64_t v = p->vis[si];
    if (v == ENG_VIS_EMPTY) {
        memcpy(out, c->bg, sizeof c->bg);
    } else {
        prepare(c, setup_get(c, (uint32_t)v - 1), x, y, spacing, &sm);
        finish(c, &sm, out);
    }
    for (int k = ENG_XLU_LAYERS - 1; k >= 0; k--) {
        const uint64_t lv = p->layers[(size_t)k * samples + si];
        if (lv == ENG_VIS_EMPTY)
            continue;
        const eng_tri_setup *s = setup_get(c, (uint32_t)lv - 1);
        const float opacity = s->opacity;
        float lc[3];
        prepare(c, s, x, y, spacing, &sm);
        finish(c, &sm, lc);
        eng_shade_over(opacity, lc, out);
    }
}

static void shade_rows_layered(shade_ctx *c, int row_begin, int row_end)
{
    const eng_shade_params *p = c->p;
    const int g = p->grid;
    const int gw = p->width * g;
    const size_t samples = (size_t)gw * (size_t)(p->height * g);
    for (int py = row_begin; py < row_end; py++) {
        uint8_t *row_out = p->rgb + (size_t)py * (size_t)p->width * 3;
        for (int px = 0; px < p->width; px++) {
            uint8_t *out = row_out + (size_t)px * 3;
            const size_t first = (size_t)py * (size_t)g * (size_t)gw + (size_t)px * (size_t)g;
            int empty;
            const int uniform = eng_shade_pixel_uniform_layers(p, first, samples, gw, g, &empty);
            if (empty) {
                memcpy(out, p->background, 3);
                continue;
            }
            if (uniform) {
                float col[3];
                layered_point(c, first, samples, eng_shade_pixel_centre(px, g),
                              eng_shade_pixel_centre(py, g), (float)g, col);
                for (int k = 0; k < 3; k++)
                    out[k] = eng_unit_to_u8(col[k]);
                continue;
            }
            float sum[3] = {0.0f, 0.0f, 0.0f};
            for (int j = 0; j < g; j++) {
                for (int i = 0; i < g; i++) {
                    float col[3];
                    layered_point(c, first + (size_t)j * (size_t)gw + (size_t)i, samples,
                                  eng_shade_sample_centre(px * g + i),
                                  eng_shade_sample_centre(py * g + j), 1.0f, col);
                    sum[0] += col[0];
                    sum[1] += col[1];
                    sum[2] += col[2];
                }
            }
            for (int k = 0; k < 3; k++)
                out[k] = eng_unit_to_u8(sum[k] * c->inv_n);
        }
    }
}

void eng_cpu_shade(const eng_shade_params *p)
{
    eng_cpu_shade_rows(p, 0, p->height);
}

void eng_cpu_shade_rows(const eng_shade_params *p, int row_begin, int row_end)
{
#if !defined(__SSE2__)
    pthread_once(&byte_to_unit_once, byte_to_unit_fill);
#endif
    /* The context with its chunk (about 40 KiB) lives on the calling thread's stack, so the
     * kernel allocates nothing and threads share nothing but the read-only params. */
    shade_ctx c;
    c.p = p;
    const int g = p->grid;
    const int gw = p->width * g, gh = p->height * g;
    const int per_pixel = g * g;
    c.grid_w = (float)gw;
    c.grid_h = (float)gh;
    eng_shade_background(p, c.bg);
    c.inv_n = 1.0f / (float)per_pixel;
    memset(c.cache, 0, sizeof c.cache);
    c.n_points = c.n_pixels = 0;
    if (p->layers != NULL) {
        shade_rows_layered(&c, row_begin, row_end);
        return;
    }

    for (int py = row_begin; py < row_end; py++) {
        uint8_t *row_out = p->rgb + (size_t)py * (size_t)p->width * 3;
        const uint64_t *row0 = p->vis + (size_t)py * (size_t)g * (size_t)gw;
        for (int px = 0; px < p->width; px++) {
            const uint64_t *first = row0 + (size_t)px * (size_t)g;
            const uint32_t id = (uint32_t)*first;
            const int uniform = eng_shade_pixel_uniform(first, gw, g);
            if (uniform && *first == ENG_VIS_EMPTY) {
                memcpy(row_out + (size_t)px * 3, p->background, 3);
                continue;
            }
            int count = uniform ? 1 : per_pixel;
            if (count > CHUNK_POINTS) {
                /* Very high sample counts: one point at a time, without the overlap. */
                float sum[3] = {0.0f, 0.0f, 0.0f};
                for (int j = 0; j < g; j++) {
                    for (int i = 0; i < g; i++) {
                        shade_sample sm;
                        float col[3];
                        prepare_sample(&c, first[(size_t)j * (size_t)gw + (size_t)i],
                                       eng_shade_sample_centre(px * g + i),
                                       eng_shade_sample_centre(py * g + j), &sm);
                        finish(&c, &sm, col);
                        sum[0] += col[0];
                        sum[1] += col[1];
                        sum[2] += col[2];
                    }
                }
                uint8_t *out = row_out + (size_t)px * 3;
                out[0] = eng_unit_to_u8(sum[0] * c.inv_n);
                out[1] = eng_unit_to_u8(sum[1] * c.inv_n);
                out[2] = eng_unit_to_u8(sum[2] * c.inv_n);
                continue;
            }
            if (c.n_points + count > CHUNK_POINTS)
                flush(&c, row_out);
            pixel_rec *pr = &c.pixels[c.n_pixels++];
            pr->x = px;
            pr->first = c.n_points;
            pr->count = count;
            if (uniform) {
                prepare(&c, setup_get(&c, id - 1), eng_shade_pixel_centre(px, g),
                        eng_shade_pixel_centre(py, g), (float)g, &c.points[c.n_points++]);
                continue;
            }
            for (int j = 0; j < g; j++) {
                const uint64_t *r = first + (size_t)j * (size_t)gw;
                for (int i = 0; i < g; i++)
                    prepare_sample(&c, r[i], eng_shade_sample_centre(px * g + i),
                                   eng_shade_sample_centre(py * g + j), &c.points[c.n_points++]);
            }
        }
        flush(&c, row_out);
    }
}
