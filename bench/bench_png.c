/*
 * bench_png.c — morphd's PNG encoders against the encoder they replaced (libpng + zlib, Up
 * filter, the same level), on the same images, in one run:
 *   - zlib: libpng + zlib (kept here as the baseline);
 *   - libdeflate: img_encode_png (Up filter + libdeflate; textures and figures);
 *   - frame coder: img_encode_png_frame (at level 1 mesh/png_fast.c: Paeth + runs + Huffman;
 *     frames);
 * on the default job's 41 frames (ICT pair, 2048² skin textures, 512², 4 samples), rendered once
 * here by the CPU engine, and one 2048² RGBA texture (skin_A.png, as canonical meshes and
 * per-frame meshes store them). For each: CPU milliseconds per image on one core (median of
 * --repeat passes), bytes, and the ratios to zlib. Every PNG of ours is decoded again and must
 * give the same pixels (exit 1 if not).
 *
 *   bench_png [--data DIR] [--level 1] [--repeat 5]
 */
#define _GNU_SOURCE
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/md.h"
#include "gpu/engine.h"
#include "jobs/job.h"
#include "mesh/image.h"

#include "default_job.h"

/* ---- The encoder before png_write.c (libpng + zlib), kept here as the baseline ---- */

/* libpng's write callback: the encoded bytes go to an md_buf (a failed append is kept in it
 * and checked once at the end). */
static void sink_write(png_structp png, png_bytep data, png_size_t len)
{
    md_buf_append(png_get_io_ptr(png), data, len);
}

static void sink_flush(png_structp png)
{
    (void)png;
}

struct png_fail {
    jmp_buf jump;
    char message[256];
};

static void png_fail_error(png_structp png, png_const_charp msg)
{
    struct png_fail *fail = png_get_error_ptr(png);
    snprintf(fail->message, sizeof fail->message, "%s", msg);
    longjmp(fail->jump, 1);
}

static void png_fail_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static int zlib_encode_png(const uint8_t *pixels, int width, int height, int channels, int level,
                           uint8_t **out, size_t *out_len, md_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (width <= 0 || height <= 0 || (channels != 3 && channels != 4) || level < 0 || level > 9)
        return md_fail(err, MD_EINVAL, "cannot encode a %dx%d PNG with %d channels at level %d",
                       width, height, channels, level);
    struct png_fail fail;
    fail.message[0] = '\0';
    /* The encoder's output is bounded by the pixels fed to it (deflate's worst case is the raw
     * rows plus a few bytes per block); the maximum only keeps sizes from overflowing. */
    md_buf sink;
    md_buf_init(&sink, SIZE_MAX / 2);
    /* volatile: assigned between setjmp and a possible longjmp. */
    png_structp volatile png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &fail, png_fail_error, png_fail_warning);
    png_infop volatile info = NULL;
    int rc = 0;
    if (png == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory creating a PNG encoder");
    info = png_create_info_struct(png);
    if (info == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory creating a PNG encoder");
        goto done;
    }
    if (setjmp(fail.jump)) {
        rc = md_fail(err, MD_EINTERNAL, "PNG encoding failed: %s", fail.message);
        goto done;
    }
    png_set_write_fn(png, &sink, sink_write, sink_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* A fixed Up filter: libpng's adaptive choice costs more than zlib level 1 itself. */
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP);
    png_set_compression_level(png, level);
    png_write_info(png, info);
    size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    png_write_end(png, NULL);
    if (sink.err != 0)
        rc = md_fail(err, MD_ENOMEM, "out of memory encoding a %dx%d PNG", width, height);
done:
    png_destroy_write_struct((png_structpp)&png, (png_infopp)&info);
    if (rc != 0) {
        md_buf_free(&sink);
        return rc;
    }
    *out = (uint8_t *)sink.data;
    *out_len = sink.len;
    return 0;
}

/* ---- Timing ---- */

typedef struct sample {
    const uint8_t *pixels;
    int w, h, channels;
} sample;

typedef int (*encode_fn)(const uint8_t *, int, int, int, int, uint8_t **, size_t *, md_error *);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* This thread's CPU seconds: the machines here are shared, and wall time under load would
 * measure the neighbours. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Median CPU seconds per image over repeat passes of all n images; total bytes of one pass. */
static int time_encoder(encode_fn enc, const sample *s, int n, int level, int repeat,
                        double *sec_per_image, size_t *bytes, md_error *err)
{
    double t[64];
    *bytes = 0;
    for (int r = 0; r < repeat; r++) {
        double t0 = cpu_now();
        for (int i = 0; i < n; i++) {
            uint8_t *png = NULL;
            size_t len = 0;
            int rc = enc(s[i].pixels, s[i].w, s[i].h, s[i].channels, level, &png, &len, err);
            if (rc != 0)
                return rc;
            if (r == 0)
                *bytes += len;
            md_free(png);
        }
        t[r] = (cpu_now() - t0) / n;
    }
    qsort(t, (size_t)repeat, sizeof t[0], cmp_double);
    *sec_per_image = t[repeat / 2];
    return 0;
}

/* The encoder's PNGs decode to the pixels given. */
static int check_round_trip(encode_fn enc, const sample *s, int n, int level, md_error *err)
{
    md_limits lim;
    md_limits_default(&lim);
    for (int i = 0; i < n; i++) {
        uint8_t *png = NULL;
        size_t len = 0;
        img *im = NULL;
        int rc = enc(s[i].pixels, s[i].w, s[i].h, s[i].channels, level, &png, &len, err);
        if (rc == 0)
            rc = img_decode(png, len, &lim, &im, err);
        md_free(png);
        if (rc != 0)
            return rc;
        const uint8_t *d = img_pixels_const(im); /* RGBA8 */
        for (size_t p = 0; p < (size_t)s[i].w * (size_t)s[i].h; p++) {
            for (int c = 0; c < s[i].channels; c++) {
                if (d[p * 4 + c] != s[i].pixels[p * (size_t)s[i].channels + c]) {
                    img_free(im);
                    return md_fail(err, MD_EINTERNAL,
                                   "image %d: pixel %zu channel %d differs "
                                   "after a round trip",
                                   i, p, c);
                }
            }
        }
        img_free(im);
    }
    return 0;
}

/* ---- The default job's frames ---- */

typedef struct frames {
    uint32_t count;
    size_t bytes;
    uint8_t *rgb;
} frames;

static int keep(void *user, const eng_frame *f)
{
    frames *k = user;
    memcpy(k->rgb + (size_t)f->frame * k->bytes, f->rgb, k->bytes);
    return 0;
}

static void report(const char *images, const char *encoder, int n, double s, size_t b,
                   double zlib_s, size_t zlib_b)
{
    printf("%-22s %-30s %9.3f ms %10zu B   %6.2fx %7.3f\n", images, encoder, s * 1e3, b / (size_t)n,
           zlib_s / s, (double)b / (double)zlib_b);
}

/* The three encoders on n images: a line each, ratios to zlib. */
static int compare(const char *images, const sample *s, int n, int level, int repeat, md_error *err)
{
    static const struct {
        const char *name;
        encode_fn fn;
    } enc[3] = {{"zlib (libpng, Up)", zlib_encode_png},
                {"libdeflate (img_encode_png)", img_encode_png},
                {"frame coder (_frame)", img_encode_png_frame}};
    double sec[3];
    size_t bytes[3];
    for (int e = 0; e < 3; e++) {
        int rc = time_encoder(enc[e].fn, s, n, level, repeat, &sec[e], &bytes[e], err);
        if (rc != 0)
            return rc;
        report(images, enc[e].name, n, sec[e], bytes[e], sec[0], bytes[0]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = getenv("MORPHD_DATA");
    int level = 1, repeat = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--data") == 0)
            data = argv[i + 1];
        else if (strcmp(argv[i], "--level") == 0)
            level = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--repeat") == 0)
            repeat = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_png [--data DIR] [--level 1] [--repeat 5]\n");
            return 2;
        }
    }
    if (data == NULL || level < 0 || level > 9 || repeat < 1 || repeat > 64) {
        fprintf(stderr, "bench_png: set MORPHD_DATA or --data; --level 0..9, --repeat 1..64\n");
        return 2;
    }
    md_error err;
    md_error_clear(&err);
    md_limits lim;
    md_limits_default(&lim);
    bench_job bj;
    eng *e = NULL;
    frames k = {0};
    img *tex = NULL;
    int rc = bench_job_load(data, &bj, &err);
    const eng_job job = bj.job;
    eng_config cfg = {.kind = ENG_KIND_CPU, .threads = 0};
    if (rc == 0)
        rc = eng_new(&cfg, &e, &err);
    if (rc == 0) {
        k.count = job.frame_count;
        k.bytes = (size_t)job.width * (size_t)job.height * 3;
        k.rgb = md_calloc(k.count, k.bytes);
        eng_stats st;
        rc = k.rgb == NULL ? md_fail(&err, MD_ENOMEM, "out of memory")
                           : eng_batch_run(e, &job, 1, keep, &k, &st, &err);
    }
    if (rc == 0)
        rc = img_load(bj.texture_a, &lim, &tex, &err);
    sample fr[64], tx[1];
    int nf = k.count < 64 ? (int)k.count : 64;
    for (int i = 0; i < nf; i++)
        fr[i] = (sample){k.rgb + (size_t)i * k.bytes, job.width, job.height, 3};
    if (tex != NULL)
        tx[0] = (sample){img_pixels_const(tex), img_width(tex), img_height(tex), 4};
    char frames_label[64];
    snprintf(frames_label, sizeof frames_label, "%d frames %ux%u RGB", nf, job.width, job.height);
    encode_fn ours[2] = {img_encode_png, img_encode_png_frame};
    for (int which = 0; which < 2 && rc == 0; which++) {
        rc = check_round_trip(ours[which], fr, nf, level, &err);
        if (rc == 0)
            rc = check_round_trip(ours[which], tx, 1, level, &err);
    }
    if (rc == 0) {
        printf("PNG level %d, one core, CPU time, median of %d passes; speed and size are to "
               "zlib's\n",
               level, repeat);
        printf("%-22s %-30s %12s %12s   %7s %7s\n", "images", "encoder", "per image", "bytes",
               "speed", "size");
    }
    if (rc == 0)
        rc = compare(frames_label, fr, nf, level, repeat, &err);
    if (rc == 0)
        rc = compare("skin_A.png as RGBA", tx, 1, level, repeat, &err);
    if (rc != 0)
        fprintf(stderr, "bench_png: %s\n", err.msg);
    img_free(tex);
    md_free(k.rgb);
    eng_free(e);
    bench_job_free(&bj);
    return rc == 0 ? 0 : 1;
}
