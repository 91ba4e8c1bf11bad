/*
 * shade.c — CPU reference of the shade stage: resolve the visibility buffer into RGB8 pixels
 * (see kernels.h). Called by the CPU batch runner (engine_cpu.c) on an engine thread, once per
 * frame; pure given its params. Everything it reads is borrowed from the params.
 *
 * Per pixel: when all grid*grid samples are empty the pixel is the background, exactly; when
 * they all hold one triangle it is shaded once at the pixel centre; otherwise every sample is
 * shaded at its centre (background for empty ones) and the 0..1 floats are averaged. Then
 * 8 bit = (int)(x * 255 + 0.5), clamped.
 *
 * Shading at a point (x, y) of the sample grid on triangle f (the arithmetic the CUDA port
 * mirrors, in float without FMA contraction):
 *   - screen positions of the vertices as in raster.c, but unsnapped floats;
 *     b1 = (dx * e2y - dy * e2x) / area, b2 = (e1x * dy - e1y * dx) / area, b0 = 1 - b1 - b2
 *     with e1 = s1 - s0, e2 = s2 - s0, (dx, dy) = (x, y) - s0, area = e1x * e2y - e1y * e2x;
 *   - perspective correction b_k' = (b_k / w_k) / sum_j (b_j / w_j) (kept as b_k if that sum is
 *     not positive, which only a degenerate snap can cause);
 *   - world position, normal (normalised; zero stays zero) and per side the UV, interpolated
 *     with b';
 *   - base colour per side: the triangle's material; a texture is sampled (bilinear, repeat,
 *     texel centres at (u * w - 0.5, (1 - v) * h - 0.5), u and v first wrapped into [0, 1))
 *     when the material has one and the side has UVs, then rgb * a + color * (1 - a);
 *     colour = (1 - t) * base0 + t * base1 for the texture weight t in [0, 1]; outside it
 *     colour = eng_texel_extrapolate(base0, base1, t) (gpu/texel.h: L*a*b*, gamut-clipped);
 *   - head-light: L = normalize(eye - P) (orthographic: -view_dir), V = L, N flipped to face V
 *     (two-sided), diffuse = max(N.L, 0), H = L so spec = max(N.L, 0)^64 by six squarings
 *     (exact and identical on every platform, unlike powf);
 *     out = saturate(colour * (ambient + diffuse_k * diffuse) + specular_k * spec).
 *   - unlit shading (ENG_SHADING_UNLIT): out = saturate(colour), the sampled colour unchanged.
 *
 * Triangle setup (screen positions, 1/w, vertex data, materials) is cached in a small
 * direct-mapped table, since neighbouring pixels and the samples of an edge pixel mostly share
 * a handful of triangles.
 */
#include "gpu/kernels.h"
#include "gpu/texel.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

_Static_assert((int)ENG_SHININESS == 64, "shade.c computes the specular power by squaring");

typedef struct side_setup {
    const eng_material *mat;
    int textured; /* mat has a texture and this side has UVs */
    float uv[3][2];
} side_setup;

typedef struct tri_setup {
    uint32_t id; /* triangle + 1; 0 marks an empty cache slot */
    float x0, y0, e1x, e1y, e2x, e2y, inv_area;
    int flat; /* zero area in float: use the centroid */
    float inv_w[3];
    float pos[3][3];
    float nrm[3][3];
    side_setup side[2];
} tri_setup;

#define CACHE_SLOTS 16 /* a power of two */

#define CHUNK_POINTS 256

/* The four texels and weights of one bilinear tap. */
typedef struct tex_tap {
    const uint8_t *t00, *t10, *t01, *t11;
    float ax, ay;
} tex_tap;

enum { SIDE_SKIP, SIDE_COLOR, SIDE_TEXTURE };

typedef struct shade_sample {
    int background; /* an empty sample of an edge pixel: the background colour */
    float light;    /* ambient + diffuse_k * diffuse */
    float spec;     /* specular_k is applied in finish() */
    const eng_material *mat[2];
    int mode[2]; /* SIDE_* */
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
    tri_setup cache[CACHE_SLOTS];
    int n_points, n_pixels;
    shade_sample points[CHUNK_POINTS];
    pixel_rec pixels[CHUNK_POINTS];
} shade_ctx;

static float saturate(float x)
{
    return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; /* NaN -> 0 */
}

static const tri_setup *setup_get(shade_ctx *c, uint32_t f)
{
    tri_setup *s = &c->cache[f & (CACHE_SLOTS - 1)];
    if (s->id == f + 1)
        return s;
    const eng_shade_params *p = c->p;
    const uint32_t *tri = p->triangles + (size_t)f * 3;
    float sx[3], sy[3];
    for (int k = 0; k < 3; k++) {
        const float *cl = p->clip + (size_t)tri[k] * 4;
        sx[k] = (cl[0] / cl[3] + 1.0f) * 0.5f * c->grid_w;
        sy[k] = (1.0f - cl[1] / cl[3]) * 0.5f * c->grid_h;
        s->inv_w[k] = 1.0f / cl[3];
        memcpy(s->pos[k], p->pos + (size_t)tri[k] * 3, sizeof s->pos[k]);
        memcpy(s->nrm[k], p->normal + (size_t)tri[k] * 3, sizeof s->nrm[k]);
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
    s->id = f + 1;
    return s;
}

/* Wraps a texture coordinate into [0, 1); NaN and infinities become 0. */
static float wrap01(float u)
{
    float w = u - floorf(u);
    return (w >= 0.0f && w < 1.0f) ? w : 0.0f;
}

/* b * (1 / 255) for every byte b, so a texel costs loads instead of int -> float conversions;
 * the values are exactly those the multiplication gives. Filled once, before any thread. */
static float byte_to_unit[256];
static pthread_once_t byte_to_unit_once = PTHREAD_ONCE_INIT;

static void byte_to_unit_fill(void)
{
    for (int i = 0; i < 256; i++)
        byte_to_unit[i] = (float)i * (1.0f / 255.0f);
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

static void tap_prepare(const eng_material *m, float u, float v, tex_tap *tap)
{
    const int w = m->tex_width, h = m->tex_height;
    float fx = wrap01(u) * (float)w - 0.5f;
    float fy = (1.0f - wrap01(v)) * (float)h - 0.5f;
    float flx = floorf(fx), fly = floorf(fy);
    tap->ax = fx - flx;
    tap->ay = fy - fly;
    int x0 = (int)flx, y0 = (int)fly; /* in [-1, w - 1] and [-1, h - 1] */
    x0 = x0 < 0 ? x0 + w : x0;
    y0 = y0 < 0 ? y0 + h : y0;
    int x1 = x0 + 1 < w ? x0 + 1 : 0;
    int y1 = y0 + 1 < h ? y0 + 1 : 0;
    const uint8_t *row0 = m->rgba + (size_t)y0 * (size_t)w * 4;
    const uint8_t *row1 = m->rgba + (size_t)y1 * (size_t)w * 4;
    tap->t00 = row0 + (size_t)x0 * 4;
    tap->t10 = row0 + (size_t)x1 * 4;
    tap->t01 = row1 + (size_t)x0 * 4;
    tap->t11 = row1 + (size_t)x1 * 4;
    __builtin_prefetch(tap->t00);
    __builtin_prefetch(tap->t10);
    __builtin_prefetch(tap->t01);
    __builtin_prefetch(tap->t11);
}

/* Bilinear from a prepared tap, composited over the material colour. */
static void tap_color(const eng_material *m, const tex_tap *tap, float out[3])
{
    eng_texel_blend(byte_to_unit, tap->t00, tap->t10, tap->t01, tap->t11, tap->ax, tap->ay,
                    m->color, out);
}

/* Pass 1 for triangle setup s at sample-grid point (x, y). */
static void prepare(const shade_ctx *c, const tri_setup *s, float x, float y, shade_sample *out)
{
    const eng_shade_params *p = c->p;
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

    /* Texture taps first, so their prefetches fly while the lighting is computed. A side with
     * weight exactly 0 adds exactly 0 (colours are finite), so it is skipped. */
    const float t = p->t;
    const float side_weight[2] = {1.0f - t, t};
    for (int side = 0; side < 2; side++) {
        const side_setup *ss = &s->side[side];
        out->mat[side] = ss->mat;
        if (side_weight[side] == 0.0f) {
            out->mode[side] = SIDE_SKIP;
        } else if (!ss->textured) {
            out->mode[side] = SIDE_COLOR;
        } else {
            out->mode[side] = SIDE_TEXTURE;
            float u = b[0] * ss->uv[0][0] + b[1] * ss->uv[1][0] + b[2] * ss->uv[2][0];
            float v = b[0] * ss->uv[0][1] + b[1] * ss->uv[1][1] + b[2] * ss->uv[2][1];
            tap_prepare(ss->mat, u, v, &out->tap[side]);
        }
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
    /* V = L and H = normalize(L + V) = L: one dot product serves diffuse and specular. Flipping
     * N when N.V < 0 is the same as taking |N.L|. */
    float ndl = fabsf(n[0] * l[0] + n[1] * l[1] + n[2] * l[2]);
    float s2 = ndl * ndl, s4 = s2 * s2, s8 = s4 * s4, s16 = s8 * s8, s32 = s16 * s16;
    out->background = 0;
    if (p->shading == ENG_SHADING_UNLIT) {
        /* colour * 1 + specular_k * 0 is the colour exactly, so finish() needs no branch. */
        out->light = 1.0f;
        out->spec = 0.0f;
        return;
    }
    out->light = ENG_AMBIENT + ENG_DIFFUSE * ndl;
    out->spec = s32 * s32;
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
        if (sm->mode[side] == SIDE_TEXTURE)
            tap_color(sm->mat[side], &sm->tap[side], base[side]);
        else if (sm->mode[side] == SIDE_COLOR)
            memcpy(base[side], sm->mat[side]->color, sizeof base[side]);
    }
    const float t = c->p->t, one_t = 1.0f - t;
    if (!(t >= 0.0f && t <= 1.0f)) {
        float col[3];
        eng_texel_extrapolate(base[0], base[1], t, col);
        for (int k = 0; k < 3; k++)
            out[k] = saturate(col[k] * sm->light + ENG_SPECULAR * sm->spec);
        return;
    }
    for (int k = 0; k < 3; k++) {
        float col = one_t * base[0][k] + t * base[1][k];
        out[k] = saturate(col * sm->light + ENG_SPECULAR * sm->spec);
    }
}

static uint8_t to_u8(float x)
{
    float v = saturate(x) * 255.0f + 0.5f;
    int i = (int)v;
    return (uint8_t)(i > 255 ? 255 : i);
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
    out[0] = to_u8(sum[0]);
    out[1] = to_u8(sum[1]);
    out[2] = to_u8(sum[2]);
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
    prepare(c, setup_get(c, (uint32_t)v - 1), x, y, out);
}

void eng_cpu_shade(const eng_shade_params *p)
{
    pthread_once(&byte_to_unit_once, byte_to_unit_fill);
    /* The context with its chunk (about 40 KiB) lives on the calling thread's stack, so the
     * kernel allocates nothing and threads share nothing but the read-only params. */
    shade_ctx c;
    c.p = p;
    const int g = p->grid;
    const int gw = p->width * g, gh = p->height * g;
    const int per_pixel = g * g;
    c.grid_w = (float)gw;
    c.grid_h = (float)gh;
    for (int k = 0; k < 3; k++)
        c.bg[k] = (float)p->background[k] / 255.0f;
    c.inv_n = 1.0f / (float)per_pixel;
    memset(c.cache, 0, sizeof c.cache);
    c.n_points = c.n_pixels = 0;

    for (int py = 0; py < p->height; py++) {
        uint8_t *row_out = p->rgb + (size_t)py * (size_t)p->width * 3;
        const uint64_t *row0 = p->vis + (size_t)py * (size_t)g * (size_t)gw;
        for (int px = 0; px < p->width; px++) {
            const uint64_t *first = row0 + (size_t)px * (size_t)g;
            const uint32_t id = (uint32_t)*first;
            int uniform = 1;
            for (int j = 0; j < g && uniform; j++) {
                const uint64_t *r = first + (size_t)j * (size_t)gw;
                for (int i = 0; i < g; i++) {
                    if ((uint32_t)r[i] != id) {
                        uniform = 0;
                        break;
                    }
                }
            }
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
                                       (float)(px * g + i) + 0.5f, (float)(py * g + j) + 0.5f, &sm);
                        finish(&c, &sm, col);
                        sum[0] += col[0];
                        sum[1] += col[1];
                        sum[2] += col[2];
                    }
                }
                uint8_t *out = row_out + (size_t)px * 3;
                out[0] = to_u8(sum[0] * c.inv_n);
                out[1] = to_u8(sum[1] * c.inv_n);
                out[2] = to_u8(sum[2] * c.inv_n);
                continue;
            }
            if (c.n_points + count > CHUNK_POINTS)
                flush(&c, row_out);
            pixel_rec *pr = &c.pixels[c.n_pixels++];
            pr->x = px;
            pr->first = c.n_points;
            pr->count = count;
            if (uniform) {
                prepare(&c, setup_get(&c, id - 1), ((float)px + 0.5f) * (float)g,
                        ((float)py + 0.5f) * (float)g, &c.points[c.n_points++]);
                continue;
            }
            for (int j = 0; j < g; j++) {
                const uint64_t *r = first + (size_t)j * (size_t)gw;
                for (int i = 0; i < g; i++)
                    prepare_sample(&c, r[i], (float)(px * g + i) + 0.5f, (float)(py * g + j) + 0.5f,
                                   &c.points[c.n_points++]);
            }
        }
        flush(&c, row_out);
    }
}
