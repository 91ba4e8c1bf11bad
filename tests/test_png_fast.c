/*
 * test_png_fast.c — the level-1 PNG encoder (mesh/png_fast.c behind img_encode_png) against
 * zlib's inflate and libpng's decoder (img_encode_png_frame is the entry at level 1):
 *   - png_fast_zlib's streams inflate (zlib uncompress) and unfilter (PNG's reconstruction,
 *     written in the test) to the pixels given, on noise, runs longer than a match, rows that
 *     repeat the row above, rows as wide as deflate's window and wider, 1x1, skewed bytes (codes
 *     limited to 15 bits), within png_fast_zlib_bound;
 *   - img_encode_png at level 1 decodes (libpng) to the same pixels for RGB and RGBA at sizes
 *     from 1x1 to odd and wide ones, on noise, flat, gradient and mixed pictures, and gives the
 *     same bytes twice;
 *   - with the shared data: the skin textures (2048² RGBA) round trip; five frames of the
 *     default job (CPU engine) round trip and are together no larger than img_encode_png
 *     (libdeflate level 1) makes them.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bench/default_job.h"
#include "gpu/engine.h"
#include "mesh/image.h"
#include "mesh/png_fast.h"
#include "test_util.h"

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* ---- png_fast_zlib against inflate ---- */

/* PNG's reconstruction of filtered rows (all five filters, as a decoder does it), written here
 * from the specification so that the check does not share code with the encoder. */
static int unfilter(const uint8_t *in, int w, int h, int channels, uint8_t *out)
{
    size_t stride = (size_t)w * channels;
    for (int y = 0; y < h; y++) {
        const uint8_t *f = in + (size_t)y * (stride + 1);
        uint8_t *o = out + (size_t)y * stride;
        const uint8_t *up = y > 0 ? o - stride : NULL;
        for (size_t i = 0; i < stride; i++) {
            int a = i >= (size_t)channels ? o[i - channels] : 0, b = up ? up[i] : 0;
            int c = up && i >= (size_t)channels ? up[i - channels] : 0, pred;
            switch (f[0]) {
            case 0:
                pred = 0;
                break;
            case 1:
                pred = a;
                break;
            case 2:
                pred = b;
                break;
            case 3:
                pred = (a + b) / 2;
                break;
            case 4: {
                int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
                pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                break;
            }
            default:
                return -1;
            }
            o[i] = (uint8_t)(f[1 + i] + pred);
        }
    }
    return 0;
}

/* Compresses the pixels, inflates the stream (zlib), reconstructs the rows and checks they are
 * the pixels again. */
static void check_stream(const char *what, const uint8_t *px, int w, int h, int channels)
{
    size_t stride = (size_t)w * channels, raw_len = (stride + 1) * (size_t)h;
    size_t bound = png_fast_zlib_bound(w, h, (unsigned)channels);
    uint8_t *z = malloc(bound);
    uint8_t *raw = malloc(raw_len + 1);
    uint8_t *back = malloc(stride * (size_t)h);
    size_t n = png_fast_zlib(px, w, h, (unsigned)channels, z);
    if (n == 0 || n > bound) {
        fprintf(stderr, "%s: expected 1..%zu compressed bytes, got %zu\n", what, bound, n);
        test_failures++;
        goto done;
    }
    uLongf raw_got = (uLongf)raw_len + 1;
    int zrc = uncompress(raw, &raw_got, z, (uLong)n);
    if (zrc != Z_OK || raw_got != raw_len) {
        fprintf(stderr,
                "%s: expected zlib uncompress == Z_OK (%d) with %zu bytes, got %d with %lu\n", what,
                Z_OK, raw_len, zrc, (unsigned long)raw_got);
        test_failures++;
        goto done;
    }
    if (unfilter(raw, w, h, channels, back) != 0) {
        fprintf(stderr, "%s: expected filter types 0..4, got another\n", what);
        test_failures++;
        goto done;
    }
    size_t at = 0, len = stride * (size_t)h;
    while (at < len && back[at] == px[at])
        at++;
    if (at != len) {
        fprintf(stderr, "%s: expected the %zu bytes back, got a difference at byte %zu\n", what,
                len, at);
        test_failures++;
    }
done:
    free(z);
    free(raw);
    free(back);
}

static void test_streams(void)
{
    uint8_t one[4] = {7, 8, 9, 10};
    check_stream("1x1 RGB", one, 1, 1, 3);
    check_stream("1x1 RGBA", one, 1, 1, 4);

    /* 300,000-byte pictures in rows of 1,500 (RGB 500 wide and RGBA 375 wide). */
    size_t len = 300000;
    uint8_t *d = malloc(len);
    for (size_t i = 0; i < len; i++)
        d[i] = (uint8_t)rng();
    check_stream("noise", d, 500, 200, 3);
    memset(d, 0, len);
    check_stream("zeros", d, 375, 200, 4);
    /* Runs of every length around the match limits, of pixels and of bytes. */
    size_t at = 0;
    for (int run = 1; at < len; run = run % 600 + 1) {
        uint8_t v = (uint8_t)rng();
        for (int k = 0; k < run && at < len; k++)
            d[at++] = (run % 3 == 0) ? (uint8_t)(v + k % 3) : v;
    }
    check_stream("runs", d, 500, 200, 3);
    /* Rows that repeat the row above with a few bytes changed. */
    for (size_t i = 1500; i < len; i++)
        d[i] = rng() % 50 == 0 ? (uint8_t)rng() : d[i - 1500];
    check_stream("repeated rows", d, 375, 200, 4);
    /* Filtered rows of 32,768 bytes (RGB, 10,922.33: not a width) and 32,769 (RGBA 8,192 wide:
     * the window holds the row above) and 32,773 (8,193 wide: past the window, no row matches). */
    for (size_t i = 32768; i < len; i++)
        d[i] = rng() % 50 == 0 ? (uint8_t)rng() : d[i - 32768];
    check_stream("RGBA 8192 wide", d, 8192, 9, 4);
    check_stream("RGBA 8193 wide", d, 8193, 9, 4);
    check_stream("RGB 10922 wide", d, 10922, 9, 3);
    /* Few distinct bytes (one or two symbols: the codes must still be complete). */
    for (size_t i = 0; i < len; i++)
        d[i] = (uint8_t)(i % 2 == 0 ? 1 : 2);
    check_stream("two symbols", d, 1, 2, 3);
    check_stream("two symbols, long", d, 1000, 100, 3);
    /* Skewed noise: long codes that must be limited to 15 bits. */
    for (size_t i = 0; i < len; i++) {
        uint32_t r = rng();
        int k = 0;
        while (k < 250 && (r & 1)) {
            k++;
            r = r >> 1 | (rng() & 0x800000u);
        }
        d[i] = (uint8_t)k;
    }
    check_stream("geometric bytes", d, 500, 200, 3);
    free(d);
}

/* ---- img_encode_png level 1 against libpng ---- */

enum picture { PIC_NOISE, PIC_FLAT, PIC_GRADIENT, PIC_MIXED, PIC_COUNT };
static const char *const picture_name[PIC_COUNT] = {"noise", "flat", "gradient", "mixed"};

static void fill(uint8_t *px, int w, int h, int channels, enum picture pic)
{
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * channels;
            for (int c = 0; c < channels; c++) {
                switch (pic) {
                case PIC_NOISE:
                    p[c] = (uint8_t)rng();
                    break;
                case PIC_FLAT:
                    p[c] = c == 3 ? 255 : 250;
                    break;
                case PIC_GRADIENT:
                    p[c] = (uint8_t)(x * (c + 1) + y * 3);
                    break;
                default: /* a white picture with a noisy disc, like a frame */
                    p[c] = (x - w / 2) * (x - w / 2) + (y - h / 2) * (y - h / 2) < w * h / 8
                               ? (uint8_t)(120 + x / 4 + rng() % 5)
                               : 255;
                    break;
                }
            }
        }
    }
}

static void check_png(const char *what, const uint8_t *px, int w, int h, int channels)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error err = {0};
    uint8_t *png = NULL, *again = NULL;
    size_t len = 0, again_len = 0;
    img *im = NULL;
    CHECK_OK(img_encode_png_frame(px, w, h, channels, 1, &png, &len, &err), &err);
    CHECK_OK(img_encode_png_frame(px, w, h, channels, 1, &again, &again_len, &err), &err);
    if (png == NULL || again == NULL)
        goto done;
    if (again_len != len || memcmp(png, again, len) != 0) {
        fprintf(stderr, "%s: expected the same %zu bytes from a second encoding, got %zu%s\n", what,
                len, again_len, again_len == len ? " that differ" : "");
        test_failures++;
    }
    CHECK_OK(img_decode(png, len, &lim, &im, &err), &err);
    if (im == NULL)
        goto done;
    CHECK_INT(w, img_width(im));
    CHECK_INT(h, img_height(im));
    const uint8_t *rgba = img_pixels_const(im);
    size_t bad = 0;
    for (size_t i = 0; i < (size_t)w * h; i++)
        for (int c = 0; c < channels; c++)
            bad += rgba[4 * i + c] != px[(size_t)channels * i + c];
    if (bad != 0) {
        fprintf(stderr, "%s: expected 0 differing bytes after a round trip, got %zu\n", what, bad);
        test_failures++;
    }
done:
    img_free(im);
    md_free(png);
    md_free(again);
}

static void test_pictures(void)
{
    static const int sizes[][2] = {{1, 1},    {1, 2},   {2, 1},   {3, 7},    {37, 23}, {86, 1},
                                   {1, 300},  {257, 3}, {511, 9}, {2731, 2}, /* > 8 KiB rows */
                                   {8193, 2}, /* RGBA rows past deflate's window */
                                   {200, 700}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        uint8_t *px = malloc((size_t)w * h * 4);
        for (int channels = 3; channels <= 4; channels++) {
            for (int pic = 0; pic < PIC_COUNT; pic++) {
                char what[96];
                snprintf(what, sizeof what, "%dx%d %s %s", w, h, channels == 3 ? "RGB" : "RGBA",
                         picture_name[pic]);
                fill(px, w, h, channels, (enum picture)pic);
                check_png(what, px, w, h, channels);
            }
        }
        free(px);
    }
}

/* ---- The shared data: textures, and the default job's frames ---- */

static void test_textures(void)
{
    const char *names[] = {"textures/skin_A.png", "textures/skin_B.png"};
    md_limits lim;
    md_limits_default(&lim);
    for (int i = 0; i < 2; i++) {
        const char *path = test_data_try(names[i]);
        if (path == NULL) {
            fprintf(stderr, "skipping %s: not in the shared data\n", names[i]);
            continue;
        }
        md_error err = {0};
        img *tex = NULL;
        CHECK_OK(img_load(path, &lim, &tex, &err), &err);
        if (tex == NULL)
            continue;
        check_png(names[i], img_pixels_const(tex), img_width(tex), img_height(tex), 4);
        img_free(tex);
    }
}

typedef struct kept_frames {
    int count, width, height;
    uint8_t *rgb[5];
} kept_frames;

static int keep_frame(void *user, const eng_frame *f)
{
    kept_frames *k = user;
    size_t n = (size_t)f->width * f->height * 3;
    k->rgb[f->frame] = malloc(n);
    if (k->rgb[f->frame] == NULL)
        return MD_ENOMEM;
    memcpy(k->rgb[f->frame], f->rgb, n);
    k->width = f->width;
    k->height = f->height;
    k->count++;
    return 0;
}

/* Five frames of the default job (ICT pair, skin textures, 512²) by the CPU engine: each decodes
 * to its pixels, and together they are no larger than img_encode_png (libdeflate level 1, the
 * frames' encoder before) makes them. */
static void test_frames(void)
{
    const char *data = test_data_try("faces/ict/ict_face_identity_A.obj");
    if (data == NULL || test_data_try("textures/skin_B.png") == NULL) {
        fprintf(stderr, "skipping the default job's frames: not in the shared data\n");
        return;
    }
    static char root[512]; /* with a relative path it fits bench_job_load's 1 KiB paths */
    snprintf(root, sizeof root, "%s", test_data("."));
    md_error err = {0};
    bench_job bj;
    eng *e = NULL;
    kept_frames k = {0};
    int rc = bench_job_load(root, &bj, &err);
    CHECK_OK(rc, &err);
    if (rc != 0)
        return;
    static const float weights[5] = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f};
    eng_job job = bj.job;
    job.frame_count = 5;
    job.weights = weights;
    job.texture_weights = NULL;
    eng_config cfg = {.kind = ENG_KIND_CPU, .threads = 0};
    eng_stats stats;
    CHECK_OK(rc = eng_new(&cfg, &e, &err), &err);
    if (rc == 0)
        CHECK_OK(rc = eng_batch_run(e, &job, 1, keep_frame, &k, &stats, &err), &err);
    CHECK_INT(5, k.count);
    size_t fast_total = 0, lz_total = 0;
    for (int i = 0; i < k.count; i++) {
        char what[64];
        snprintf(what, sizeof what, "default job frame %d", i);
        check_png(what, k.rgb[i], k.width, k.height, 3);
        uint8_t *fast = NULL, *lz = NULL;
        size_t fast_len = 0, lz_len = 0;
        CHECK_OK(img_encode_png_frame(k.rgb[i], k.width, k.height, 3, 1, &fast, &fast_len, &err),
                 &err);
        CHECK_OK(img_encode_png(k.rgb[i], k.width, k.height, 3, 1, &lz, &lz_len, &err), &err);
        fast_total += fast_len;
        lz_total += lz_len;
        md_free(fast);
        md_free(lz);
    }
    printf("default job frames: %zu B (img_encode_png_frame) vs %zu B (libdeflate level 1)\n",
           fast_total, lz_total);
    if (fast_total > lz_total) {
        fprintf(stderr, "expected the frames' PNGs <= %zu B (libdeflate level 1), got %zu B\n",
                lz_total, fast_total);
        test_failures++;
    }
    for (int i = 0; i < 5; i++)
        free(k.rgb[i]);
    eng_free(e);
    bench_job_free(&bj);
}

int main(void)
{
    test_streams();
    test_pictures();
    test_textures();
    test_frames();
    return test_done();
}
