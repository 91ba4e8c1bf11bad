/*
 * texdiff.c — colour difference of the target's texture against the source's, per texel of the
 * source's texture space (see ana_texture_difference in analysis.h for the contract).
 *
 * Called by the job runner on any thread; runs its own worker threads (plain pthreads) for the
 * duration of the call. The result owns its four planes.
 *
 * Work split: the texture's rows are cut into chunks of CHUNK_ROWS; workers take chunks from
 * an atomic counter. A worker rasterises, in triangle order, every A triangle of the measured
 * material whose UV bounding box meets its chunk, restricted to the chunk's rows, so each texel
 * is written by exactly one thread and "the lowest-numbered triangle wins" holds whatever the
 * thread count: results are bit-identical for 1 or 16 threads.
 *
 * Both sides go through one sampling path: a texel of A is sampled at its own centre, B at the
 * corresponding point of its UV triangle, bilinear and repeat exactly as the engine's shader
 * (gpu/cpu/shade.c), alpha over the material colour, then sRGB -> linear through the fine
 * table (ana_int.h) and on to L*a*b*. B's texel-space position comes from the barycentrics in
 * double and is snapped to a texel centre when within SNAP of one: the barycentric round trip
 * leaves ~1e-12 texel of noise, which would otherwise make A against A differ in the last bits.
 * Equal encoded colours short-circuit to zero differences.
 */
#include "analysis/analysis.h"
#include "analysis/ana_int.h"
#include "gpu/texel.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_ROWS 32
#define MAX_THREADS 16
#define SNAP 1e-6

struct ana_texdiff_result {
    int width, height;
    uint32_t material;
    uint64_t covered;
    uint8_t *coverage;
    float *luminance, *chroma, *delta_e;
};

typedef struct side_material {
    const uint8_t *rgba; /* NULL: untextured, color only */
    int width, height;
    float color[3];
} side_material;

typedef struct tex_job {
    int width, height; /* A's texture: the measured space */
    uint32_t material; /* A's material owning that space */
    uint32_t triangle_count;
    const uint16_t *tri_mat_a, *tri_mat_b; /* may be NULL: material 0 everywhere */
    const uint32_t *tri_uv_a, *tri_uv_b;
    const float *uv_a, *uv_b;
    side_material mat_a;   /* A's measured material */
    side_material *mats_b; /* every material of B */
    int byte_keys;         /* every material colour finite: the byte memo applies */
    const float *fine;     /* sRGB -> linear, ana_int.h */
    float byte_unit[256];  /* b / 255 as the engine computes it */
    atomic_int next_chunk;
    int chunk_count;
    ana_texdiff_result *r;
    uint64_t covered[MAX_THREADS];
} tex_job;

/* Memo of encoded colour -> L*a*b*, direct-mapped, one per worker. Keys are the float bits of
 * the encoded triple, so a hit returns exactly what the conversion would: the ICT skin textures
 * hold ~1300 distinct colours per side over 4M covered texels, and a texel sampled at a texel
 * centre (every A texel; B's when the layouts agree) is a byte triple. Every entry is valid
 * from the start (black, computed), so lookups need no flag. */
#define LAB_CACHE_BITS 12
#define LAB_CACHE_SIZE (1 << LAB_CACHE_BITS)

typedef struct lab_entry {
    uint32_t key[3];
    double lab[3];
} lab_entry;

/* Memo of (encoded A, encoded B) -> the three differences, direct-mapped, one per worker:
 * the ICT pair has ~260k distinct colour pairs over 3.1M texels that differ; with 2^16 entries
 * (2.4 MB, one L2) 74% of lookups hit (2^14: 55%, 2^18: 84%). Exact like the Lab memo (keyed
 * by the float bits). */
#define PAIR_CACHE_BITS 16
#define PAIR_CACHE_SIZE (1 << PAIR_CACHE_BITS)

typedef struct pair_entry {
    uint32_t key[6];
    float diff[3];
} pair_entry;

/* The same memo, keyed by bytes, for the common case of two opaque single taps (every A
 * texel, B's when the layouts agree): A's RGB, B's RGB and B's material in 64 bits, 20 bytes
 * an entry against the float-keyed table's 36. The float table's lookup (a cache miss) was a
 * third of the texture difference's time; with the small entries, 2^17 of them (2.6 MB) hit
 * more often and still miss less (ICT pair, one thread: 0.35 s -> 0.29 s with 2^16 entries,
 * 0.26 s with 2^17, 0.27 s with 2^18). Two opaque taps with finite material colours encode
 * to the table's bytes whatever the material colour (c * 0 adds a zero), so the key
 * determines the encoded pair and an entry holds exactly what the float path computes. Key 0
 * (black on black) is never looked up: equal colours short-circuit first, so a zeroed table
 * is valid. */
#define BYTE_CACHE_BITS 17
#define BYTE_CACHE_SIZE (1 << BYTE_CACHE_BITS)

typedef struct byte_entry {
    uint32_t key[2];
    float diff[3];
} byte_entry;

typedef struct worker {
    tex_job *job;
    int index;
    lab_entry *labs;   /* LAB_CACHE_SIZE entries, or NULL: no memo */
    pair_entry *pairs; /* PAIR_CACHE_SIZE entries, or NULL: no memo (allocated on first use) */
    byte_entry *bytes; /* BYTE_CACHE_SIZE entries, or NULL: no memo */
    int pairs_tried;   /* the pair memo's allocation was attempted */
    uint64_t covered;  /* counted here, not in the job: neighbouring counters share a line */
} worker;

/* ---- Sampling ---- */

static double wrap01(double u)
{
    double w = u - floor(u);
    return (w >= 0.0 && w < 1.0) ? w : 0.0;
}

/* The one texel a sample at texel-space position (fx, fy) reads when it lies on a texel
 * centre (within SNAP), or NULL when the bilinear blend needs more than one tap (or m is not
 * textured). */
static const uint8_t *single_tap(const side_material *m, double fx, double fy)
{
    if (!m->rgba)
        return NULL;
    const int w = m->width, h = m->height;
    double flx = floor(fx), fly = floor(fy);
    double dx = fx - flx, dy = fy - fly;
    if (dx > 1.0 - SNAP) {
        dx = 0.0;
        flx += 1.0;
    }
    if (dy > 1.0 - SNAP) {
        dy = 0.0;
        fly += 1.0;
    }
    if (!(dx < SNAP) || !(dy < SNAP))
        return NULL;
    int x0 = (int)flx, y0 = (int)fly; /* in [-1, w] and [-1, h] */
    x0 = x0 < 0 ? x0 + w : (x0 >= w ? x0 - w : x0);
    y0 = y0 < 0 ? y0 + h : (y0 >= h ? y0 - h : y0);
    return m->rgba + ((size_t)y0 * (size_t)w + (size_t)x0) * 4;
}

/* Encoded RGB of a single tap t of material m: the bilinear blend with weights exactly 0. */
static void tap_encoded(const tex_job *job, const side_material *m, const uint8_t *t, float out[3])
{
    const float *lut = job->byte_unit;
    const float a = lut[t[3]];
    for (int k = 0; k < 3; k++)
        out[k] = lut[t[k]] * a + m->color[k] * (1.0f - a);
}

/* Encoded RGB of material m at texel-space position (fx, fy) = (u*w - 0.5, (1-v)*h - 0.5),
 * bilinear with repeat, alpha over the material colour (the engine's eng_texel_blend). */
static void sample(const tex_job *job, const side_material *m, double fx, double fy, float out[3])
{
    if (!m->rgba) {
        memcpy(out, m->color, 3 * sizeof(float));
        return;
    }
    const int w = m->width, h = m->height;
    double flx = floor(fx), fly = floor(fy);
    double dx = fx - flx, dy = fy - fly;
    if (dx < SNAP)
        dx = 0.0;
    if (dx > 1.0 - SNAP) {
        dx = 0.0;
        flx += 1.0;
    }
    if (dy < SNAP)
        dy = 0.0;
    if (dy > 1.0 - SNAP) {
        dy = 0.0;
        fly += 1.0;
    }
    int x0 = (int)flx, y0 = (int)fly; /* in [-1, w] and [-1, h] */
    x0 = x0 < 0 ? x0 + w : (x0 >= w ? x0 - w : x0);
    y0 = y0 < 0 ? y0 + h : (y0 >= h ? y0 - h : y0);
    const float *lut = job->byte_unit;
    if (dx == 0.0 && dy == 0.0) {
        /* On a texel centre (every A texel, B's when the layouts agree): the one tap the
         * bilinear blend reduces to, bit for bit (its weights are exactly 0). */
        const uint8_t *t = m->rgba + ((size_t)y0 * (size_t)w + (size_t)x0) * 4;
        const float a = lut[t[3]];
        for (int k = 0; k < 3; k++)
            out[k] = lut[t[k]] * a + m->color[k] * (1.0f - a);
        return;
    }
    const int x1 = x0 + 1 < w ? x0 + 1 : 0, y1 = y0 + 1 < h ? y0 + 1 : 0;
    const uint8_t *row0 = m->rgba + (size_t)y0 * (size_t)w * 4;
    const uint8_t *row1 = m->rgba + (size_t)y1 * (size_t)w * 4;
    const uint8_t *t00 = row0 + (size_t)x0 * 4, *t10 = row0 + (size_t)x1 * 4;
    const uint8_t *t01 = row1 + (size_t)x0 * 4, *t11 = row1 + (size_t)x1 * 4;
    eng_texel_blend(lut, t00, t10, t01, t11, (float)dx, (float)dy, m->color, out);
}

static void encoded_to_lab(const float *fine, const float enc[3], double lab[3])
{
    double lin[3];
    for (int k = 0; k < 3; k++) {
        float e = enc[k] < 0.0f ? 0.0f : (enc[k] > 1.0f ? 1.0f : enc[k]);
        float x = e * (float)ANA_FINE_STEPS;
        int i = (int)x;
        float f = x - (float)i;
        lin[k] = fine[i] + f * (fine[i + 1] - fine[i]);
    }
    ana_linear_rgb_to_lab(lin, lab);
}

static void lab_cache_init(const float *fine, lab_entry *labs)
{
    const float black[3] = {0.0f, 0.0f, 0.0f};
    lab_entry e = {{0, 0, 0}, {0, 0, 0}};
    memcpy(e.key, black, sizeof e.key);
    encoded_to_lab(fine, black, e.lab);
    for (int i = 0; i < LAB_CACHE_SIZE; i++)
        labs[i] = e;
}

static void cached_lab(const float *fine, lab_entry *labs, const float enc[3], double lab[3])
{
    if (!labs) {
        encoded_to_lab(fine, enc, lab);
        return;
    }
    uint32_t k[3];
    memcpy(k, enc, sizeof k);
    uint32_t h = (k[0] * 0x9e3779b1u) ^ (k[1] * 0x85ebca77u) ^ (k[2] * 0xc2b2ae3du);
    lab_entry *e = &labs[h >> (32 - LAB_CACHE_BITS)];
    if (e->key[0] != k[0] || e->key[1] != k[1] || e->key[2] != k[2]) {
        memcpy(e->key, k, sizeof k);
        encoded_to_lab(fine, enc, e->lab);
    }
    memcpy(lab, e->lab, sizeof e->lab);
}

/* ---- Rasterisation of one chunk ---- */

/* The three differences of two encoded colours (not equal), through the Lab memo. */
static void differences(tex_job *job, worker *wk, const float enc_a[3], const float enc_b[3],
                        float diff[3])
{
    double lab_a[3], lab_b[3];
    cached_lab(job->fine, wk->labs, enc_a, lab_a);
    cached_lab(job->fine, wk->labs, enc_b, lab_b);
    const double da = lab_b[1] - lab_a[1], db = lab_b[2] - lab_a[2];
    diff[0] = (float)(lab_b[0] - lab_a[0]);
    diff[1] = (float)sqrt(da * da + db * db);
    diff[2] = (float)ana_ciede2000(lab_a, lab_b);
}

static void put(ana_texdiff_result *r, size_t idx, const float diff[3])
{
    r->luminance[idx] = diff[0];
    r->chroma[idx] = diff[1];
    r->delta_e[idx] = diff[2];
}

static void texel(tex_job *job, worker *wk, uint32_t f, const double bary[3], int tx, int ty)
{
    ana_texdiff_result *r = job->r;
    const size_t idx = (size_t)ty * (size_t)r->width + (size_t)tx;
    if (r->coverage[idx])
        return;
    r->coverage[idx] = 1;
    wk->covered++;

    /* A is sampled at its own texel centre: the one tap (tx, ty). */
    const uint8_t *tap_a = job->mat_a.rgba + idx * 4;
    const uint32_t *tb = job->tri_uv_b + (size_t)f * 3;
    double ub = 0.0, vb = 0.0;
    for (int k = 0; k < 3; k++) {
        ub += bary[k] * job->uv_b[(size_t)tb[k] * 2];
        vb += bary[k] * job->uv_b[(size_t)tb[k] * 2 + 1];
    }
    const uint32_t mat_b = job->tri_mat_b ? job->tri_mat_b[f] : 0;
    const side_material *mb = &job->mats_b[mat_b];
    const double fx = wrap01(ub) * mb->width - 0.5, fy = (1.0 - wrap01(vb)) * mb->height - 0.5;
    float enc_a[3], enc_b[3], diff[3];

    const uint8_t *tap_b = job->byte_keys && wk->bytes ? single_tap(mb, fx, fy) : NULL;
    if (tap_b && tap_a[3] == 255 && tap_b[3] == 255) {
        const uint32_t rgb_a =
            (uint32_t)tap_a[0] | (uint32_t)tap_a[1] << 8 | (uint32_t)tap_a[2] << 16;
        const uint32_t rgb_b =
            (uint32_t)tap_b[0] | (uint32_t)tap_b[1] << 8 | (uint32_t)tap_b[2] << 16;
        if (rgb_a == rgb_b) {
            r->luminance[idx] = r->chroma[idx] = r->delta_e[idx] = 0.0f;
            return;
        }
        const uint64_t key = (uint64_t)rgb_a | (uint64_t)rgb_b << 24 | (uint64_t)mat_b << 48;
        byte_entry *e = &wk->bytes[(key * 0x9e3779b97f4a7c15ull) >> (64 - BYTE_CACHE_BITS)];
        if (e->key[0] == (uint32_t)key && e->key[1] == (uint32_t)(key >> 32)) {
            put(r, idx, e->diff);
            return;
        }
        tap_encoded(job, &job->mat_a, tap_a, enc_a);
        tap_encoded(job, mb, tap_b, enc_b);
        differences(job, wk, enc_a, enc_b, diff);
        e->key[0] = (uint32_t)key;
        e->key[1] = (uint32_t)(key >> 32);
        memcpy(e->diff, diff, sizeof diff);
        put(r, idx, diff);
        return;
    }

    tap_encoded(job, &job->mat_a, tap_a, enc_a);
    sample(job, mb, fx, fy, enc_b);
    if (enc_a[0] == enc_b[0] && enc_a[1] == enc_b[1] && enc_a[2] == enc_b[2]) {
        r->luminance[idx] = r->chroma[idx] = r->delta_e[idx] = 0.0f;
        return;
    }
    if (!wk->pairs_tried) {
        /* Every pair entry starts as black against black, whose differences are zero. */
        wk->pairs = md_calloc(PAIR_CACHE_SIZE, sizeof *wk->pairs);
        wk->pairs_tried = 1;
    }
    pair_entry *e = NULL;
    if (wk->pairs) {
        uint32_t k[6];
        memcpy(k, enc_a, 3 * sizeof(float));
        memcpy(k + 3, enc_b, 3 * sizeof(float));
        uint32_t hsh = (k[0] * 0x9e3779b1u) ^ (k[1] * 0x85ebca77u) ^ (k[2] * 0xc2b2ae3du) ^
                       (k[3] * 0x27d4eb2fu) ^ (k[4] * 0x165667b1u) ^ (k[5] * 0xd3a2646cu);
        e = &wk->pairs[hsh >> (32 - PAIR_CACHE_BITS)];
        if (memcmp(e->key, k, sizeof k) == 0) {
            put(r, idx, e->diff);
            return;
        }
        memcpy(e->key, k, sizeof k);
    }
    differences(job, wk, enc_a, enc_b, diff);
    if (e)
        memcpy(e->diff, diff, sizeof diff);
    put(r, idx, diff);
}

static void raster_chunk(tex_job *job, worker *wk, int y0, int y1)
{
    const int w = job->width, h = job->height;
    for (uint32_t f = 0; f < job->triangle_count; f++) {
        if ((job->tri_mat_a ? job->tri_mat_a[f] : 0) != job->material)
            continue;
        const uint32_t *ta = job->tri_uv_a + (size_t)f * 3;
        double X[3], Y[3];
        for (int k = 0; k < 3; k++) {
            X[k] = (double)job->uv_a[(size_t)ta[k] * 2] * w;
            Y[k] = (1.0 - (double)job->uv_a[(size_t)ta[k] * 2 + 1]) * h;
        }
        /* Texel (i, j) has its centre at (i + 0.5, j + 0.5). */
        double minx = fmin(X[0], fmin(X[1], X[2])), maxx = fmax(X[0], fmax(X[1], X[2]));
        double miny = fmin(Y[0], fmin(Y[1], Y[2])), maxy = fmax(Y[0], fmax(Y[1], Y[2]));
        if (!isfinite(minx) || !isfinite(maxx) || !isfinite(miny) || !isfinite(maxy))
            continue;
        /* UVs repeat; a triangle wider than the texture is clamped to one period. */
        double i0 = ceil(minx - 0.5), i1 = floor(maxx - 0.5);
        double j0 = ceil(miny - 0.5), j1 = floor(maxy - 0.5);
        if (i1 - i0 >= w)
            i1 = i0 + w - 1;
        if (j1 - j0 >= h)
            j1 = j0 + h - 1;
        if (i1 < i0 || j1 < j0)
            continue;
        /* Row range of this chunk: without wrap, a plain intersection. */
        const int wraps_y = j0 < 0 || j1 >= h;
        if (!wraps_y && (j1 < y0 || j0 >= y1))
            continue;
        const double det = (X[1] - X[0]) * (Y[2] - Y[0]) - (X[2] - X[0]) * (Y[1] - Y[0]);
        if (!(fabs(det) > 1e-12))
            continue; /* degenerate in UV space: covers no area */
        const double inv = 1.0 / det;
        const double tol = -1e-9;
        for (double j = j0; j <= j1; j++) {
            int ty = (int)j % h;
            ty = ty < 0 ? ty + h : ty;
            if (ty < y0 || ty >= y1)
                continue;
            const double py = j + 0.5;
            for (double i = i0; i <= i1; i++) {
                const double px = i + 0.5;
                double l1 = ((px - X[0]) * (Y[2] - Y[0]) - (X[2] - X[0]) * (py - Y[0])) * inv;
                double l2 = ((X[1] - X[0]) * (py - Y[0]) - (px - X[0]) * (Y[1] - Y[0])) * inv;
                double l0 = 1.0 - l1 - l2;
                if (l0 < tol || l1 < tol || l2 < tol)
                    continue;
                int tx = (int)i % w;
                tx = tx < 0 ? tx + w : tx;
                const double bary[3] = {l0, l1, l2};
                texel(job, wk, f, bary, tx, ty);
            }
        }
    }
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    tex_job *job = wk->job;
    wk->labs = md_malloc_array(LAB_CACHE_SIZE, sizeof *wk->labs);
    if (wk->labs)
        lab_cache_init(job->fine, wk->labs);
    wk->bytes = md_calloc(BYTE_CACHE_SIZE, sizeof *wk->bytes);
    for (;;) {
        int c = atomic_fetch_add(&job->next_chunk, 1);
        if (c >= job->chunk_count)
            break;
        int y0 = c * CHUNK_ROWS;
        int y1 = y0 + CHUNK_ROWS < job->height ? y0 + CHUNK_ROWS : job->height;
        raster_chunk(job, wk, y0, y1);
    }
    md_free(wk->labs);
    md_free(wk->pairs);
    md_free(wk->bytes);
    wk->labs = NULL;
    wk->pairs = NULL;
    wk->bytes = NULL;
    job->covered[wk->index] = wk->covered;
    return NULL;
}

/* ---- Entry points ---- */

void ana_texdiff_free(ana_texdiff_result *r)
{
    if (!r)
        return;
    md_free(r->coverage);
    md_free(r->luminance);
    md_free(r->chroma);
    md_free(r->delta_e);
    md_free(r);
}

static void material_of(const mesh *m, uint32_t i, side_material *out)
{
    const img *tex = mesh_material_texture(m, i);
    mesh_material_color(m, i, out->color);
    out->rgba = tex ? img_pixels_const(tex) : NULL;
    out->width = tex ? img_width(tex) : 0;
    out->height = tex ? img_height(tex) : 0;
}

/* The lowest-numbered textured material of m that some triangle uses, or -1. A material with
 * no triangle (hidden by spec.hide_materials, or never used) has nothing to measure. */
static int first_textured(const mesh *m)
{
    const uint16_t *tm = mesh_triangle_materials(m);
    for (uint32_t i = 0; i < mesh_material_count(m); i++) {
        if (!mesh_material_texture(m, i))
            continue;
        for (uint32_t t = 0; t < mesh_triangle_count(m); t++)
            if ((tm ? tm[t] : 0) == i)
                return (int)i;
    }
    return -1;
}

int ana_texture_difference(const mesh *a, const mesh *b, ana_texdiff_result **out, md_error *err)
{
    return ana_texture_difference_ex(a, b, 0, out, err);
}

int ana_texture_difference_ex(const mesh *a, const mesh *b, int threads, ana_texdiff_result **out,
                              md_error *err)
{
    *out = NULL;
    tex_job *job = NULL;
    ana_texdiff_result *r = NULL;
    int rc = 0;
    const char *missing = NULL;
    if (!mesh_triangle_uvs(a) || mesh_uv_count(a) == 0)
        missing = "source has no texture coordinates";
    else if (first_textured(a) < 0)
        missing = "source has no texture on any of its triangles";
    else if (!mesh_triangle_uvs(b) || mesh_uv_count(b) == 0)
        missing = "target has no texture coordinates";
    else if (first_textured(b) < 0)
        missing = "target has no texture on any of its triangles";
    if (missing) {
        rc = md_fail(err, MD_EINVAL, "texture difference needs both meshes textured: %s", missing);
        goto done;
    }
    rc = mesh_check_topology(a, b, err);
    if (rc != 0)
        goto done;

    job = md_calloc(1, sizeof *job);
    r = md_calloc(1, sizeof *r);
    if (!job || !r) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for the texture difference");
        goto done;
    }
    job->material = (uint32_t)first_textured(a);
    material_of(a, job->material, &job->mat_a);
    job->width = r->width = job->mat_a.width;
    job->height = r->height = job->mat_a.height;
    r->material = job->material;
    const size_t texels = (size_t)r->width * (size_t)r->height;
    r->coverage = md_calloc(texels, 1);
    r->luminance = md_calloc(texels, sizeof(float));
    r->chroma = md_calloc(texels, sizeof(float));
    r->delta_e = md_calloc(texels, sizeof(float));
    const uint32_t nmat_b = mesh_material_count(b);
    job->mats_b = md_calloc(nmat_b, sizeof *job->mats_b);
    if (!r->coverage || !r->luminance || !r->chroma || !r->delta_e || !job->mats_b) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for the texture difference (%dx%d texels)",
                     r->width, r->height);
        goto done;
    }
    for (uint32_t i = 0; i < nmat_b; i++)
        material_of(b, i, &job->mats_b[i]);
    job->byte_keys = 1;
    for (uint32_t i = 0; i <= nmat_b; i++) {
        const float *c = i < nmat_b ? job->mats_b[i].color : job->mat_a.color;
        for (int k = 0; k < 3; k++)
            job->byte_keys &= isfinite(c[k]) != 0;
    }
    job->triangle_count = mesh_triangle_count(a);
    job->tri_mat_a = mesh_triangle_materials(a);
    job->tri_mat_b = mesh_triangle_materials(b);
    job->tri_uv_a = mesh_triangle_uvs(a);
    job->tri_uv_b = mesh_triangle_uvs(b);
    job->uv_a = mesh_uvs(a);
    job->uv_b = mesh_uvs(b);
    const double *bytes;
    ana_color_tables(&bytes, &job->fine);
    for (int i = 0; i < 256; i++)
        job->byte_unit[i] = (float)i * (1.0f / 255.0f);
    job->chunk_count = (r->height + CHUNK_ROWS - 1) / CHUNK_ROWS;
    atomic_init(&job->next_chunk, 0);
    job->r = r;

    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (int)cores : 1;
    }
    threads = threads > MAX_THREADS ? MAX_THREADS : threads;
    threads = threads > job->chunk_count ? job->chunk_count : threads;
    threads = threads < 1 ? 1 : threads;
    pthread_t tids[MAX_THREADS];
    worker workers[MAX_THREADS];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        workers[t] = (worker){.job = job, .index = t};
        if (pthread_create(&tids[t], NULL, worker_main, &workers[t]) != 0)
            break;
        started = t;
    }
    workers[0] = (worker){.job = job, .index = 0};
    worker_main(&workers[0]); /* the caller works too; it finishes whatever others could not */
    for (int t = 1; t <= started; t++)
        pthread_join(tids[t], NULL);
    for (int t = 0; t < MAX_THREADS; t++)
        r->covered += job->covered[t];
    *out = r;
    r = NULL;

done:
    if (job)
        md_free(job->mats_b);
    md_free(job);
    ana_texdiff_free(r);
    return rc;
}

int ana_texdiff_width(const ana_texdiff_result *r)
{
    return r->width;
}

int ana_texdiff_height(const ana_texdiff_result *r)
{
    return r->height;
}

uint32_t ana_texdiff_material(const ana_texdiff_result *r)
{
    return r->material;
}

uint64_t ana_texdiff_covered(const ana_texdiff_result *r)
{
    return r->covered;
}

const uint8_t *ana_texdiff_coverage(const ana_texdiff_result *r)
{
    return r->coverage;
}

const float *ana_texdiff_luminance(const ana_texdiff_result *r)
{
    return r->luminance;
}

const float *ana_texdiff_chroma(const ana_texdiff_result *r)
{
    return r->chroma;
}

const float *ana_texdiff_delta_e(const ana_texdiff_result *r)
{
    return r->delta_e;
}
