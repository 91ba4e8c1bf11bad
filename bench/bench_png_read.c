/*
 * bench_png_read.c — texture decoding: img_decode (the fast reader, mesh/png_read.c: libdeflate
 * and our unfiltering) against libpng's simplified API (zlib), the decoder it replaced, on the
 * same files in the same run, alternating, in thread CPU seconds (the machine is shared; wall
 * time would measure the neighbours). Prints JSON: per file the median seconds of each and the
 * ratio; the pixels are compared too, and a difference is an error.
 *
 *   bench_png_read [--repeat 7] [FILE.png ...]   (default: the data folder's skin_A/B.png)
 */
#define _GNU_SOURCE
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/md.h"
#include "mesh/image.h"

#define REPEAT_MAX 64

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint8_t *libpng_decode(const uint8_t *bytes, size_t len, uint32_t *w, uint32_t *h)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&pi, bytes, len))
        return NULL;
    pi.format = PNG_FORMAT_RGBA;
    uint8_t *px = malloc((size_t)pi.width * pi.height * 4);
    if (px == NULL || !png_image_finish_read(&pi, NULL, px, (png_int_32)(pi.width * 4), NULL)) {
        png_image_free(&pi);
        free(px);
        return NULL;
    }
    *w = pi.width;
    *h = pi.height;
    return px;
}

int main(int argc, char **argv)
{
    int repeat = 7, first_file = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_png_read [--repeat 7] [FILE.png ...]\n");
            return 2;
        } else {
            first_file = i;
            break;
        }
    }
    if (repeat < 1 || repeat > REPEAT_MAX) {
        fprintf(stderr, "bench_png_read: --repeat must be 1..%d\n", REPEAT_MAX);
        return 2;
    }
    const char *data = getenv("MORPHD_DATA") ? getenv("MORPHD_DATA") : "../shared/data";
    char defaults[2][1024];
    const char *files[2];
    int file_count = argc - first_file;
    const char *const *list = (const char *const *)argv + first_file;
    if (file_count == 0) {
        for (int i = 0; i < 2; i++) {
            snprintf(defaults[i], sizeof defaults[i], "%s/textures/skin_%c.png", data, 'A' + i);
            files[i] = defaults[i];
        }
        list = files;
        file_count = 2;
    }
    md_limits lim;
    md_limits_default(&lim);
    printf("{\"repeat\": %d, \"clock\": \"thread CPU seconds, median\", \"files\": [", repeat);
    int status = 0;
    for (int f = 0; f < file_count; f++) {
        char *bytes = NULL;
        size_t len = 0;
        md_error err;
        md_error_clear(&err);
        if (md_read_file(list[f], lim.max_file_bytes, &bytes, &len, &err) != 0) {
            fprintf(stderr, "bench_png_read: %s\n", err.msg);
            return 1;
        }
        double fast[REPEAT_MAX], ref[REPEAT_MAX];
        int same = 1;
        uint32_t w = 0, h = 0;
        for (int r = 0; r < repeat; r++) {
            double t0 = thread_cpu();
            img *im = NULL;
            int rc = img_decode((const uint8_t *)bytes, len, &lim, &im, &err);
            double t1 = thread_cpu();
            uint8_t *px = libpng_decode((const uint8_t *)bytes, len, &w, &h);
            double t2 = thread_cpu();
            if (rc != 0 || px == NULL) {
                fprintf(stderr, "bench_png_read: %s: %s\n", list[f],
                        rc != 0 ? err.msg : "libpng cannot read it");
                return 1;
            }
            same = same && (uint32_t)img_width(im) == w && (uint32_t)img_height(im) == h &&
                   memcmp(img_pixels_const(im), px, (size_t)w * h * 4) == 0;
            img_free(im);
            free(px);
            fast[r] = t1 - t0;
            ref[r] = t2 - t1;
        }
        md_free(bytes);
        double mf = median(fast, repeat), mr = median(ref, repeat);
        printf("%s\n  {\"file\": \"%s\", \"size\": [%u, %u], \"img_decode_s\": %.4f, "
               "\"libpng_s\": %.4f, \"libpng_over_img_decode\": %.2f, \"same_pixels\": %s}",
               f ? "," : "", list[f], w, h, mf, mr, mr / mf, same ? "true" : "false");
        if (!same)
            status = 1;
    }
    printf("\n]}\n");
    return status;
}
