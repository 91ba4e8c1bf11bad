/*
 * test_ana_video.c — animation.mp4 (analysis/video.c): 41 synthetic 512² frames whose content
 * encodes their index (a bar whose position and colour depend on i) are encoded, then the MP4
 * is decoded with libavformat/libavcodec: exactly 41 frames, the right size, 30 fps, and each
 * decoded frame closest to its own source frame (PSNR > 30 dB), so the order is source →
 * target. Ping-pong gives 80 frames in the order 0..40, 39..1. Odd sizes are padded; the same
 * frames give the same bytes; bad arguments are refused.
 */
#define _GNU_SOURCE
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <math.h>
#include <string.h>

#include "analysis/analysis.h"
#include "test_util.h"
#include "video_decode.h"

#define FRAMES 41

/* Frame i of n: a grey gradient background and a bar whose position and colour follow i. */
static uint8_t *make_frame(int i, int n, int w, int h)
{
    uint8_t *rgb = md_malloc((size_t)w * h * 3);
    int bar_x = (w - w / 8) * i / (n - 1) / 2 * 2, bar_w = w / 8;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + 3 * ((size_t)y * w + x);
            int in_bar = x >= bar_x && x < bar_x + bar_w;
            p[0] = (uint8_t)(in_bar ? 40 + 200 * i / (n - 1) : 60 + 100 * y / h);
            p[1] = (uint8_t)(in_bar ? 220 - 180 * i / (n - 1) : 60 + 100 * y / h);
            p[2] = (uint8_t)(in_bar ? 30 : 90);
        }
    return rgb;
}

/* Encodes frames[0..n) with opts; returns the MP4 (md_free it) and the encode time. */
static uint8_t *encode(uint8_t **frames, int n, int w, int h, const ana_video_opts *opts,
                       size_t *len, double *seconds)
{
    ana_video *v = NULL;
    md_error err = {0};
    uint8_t *bytes = NULL;
    double t0 = md_now();
    CHECK_OK(ana_video_new(w, h, opts, &v, &err), &err);
    if (v == NULL)
        return NULL;
    for (int i = 0; i < n; i++)
        CHECK_OK(ana_video_add_frame(v, frames[i], &err), &err);
    CHECK_OK(ana_video_finish(v, &bytes, len, &err), &err);
    ana_video_free(v);
    if (seconds != NULL)
        *seconds = md_now() - t0;
    return bytes;
}

static void write_and_decode(const uint8_t *bytes, size_t len, const char *name, decoded *d)
{
    char path[4096];
    md_error err = {0};
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(name), "animation.mp4");
    CHECK_OK(md_write_file_atomic(path, bytes, len, &err), &err);
    CHECK_INT(0, decode_mp4(path, d));
    CHECK_INT(AV_PIX_FMT_YUV420P, d->pix_fmt);
}

/* Index of the source frame closest to decoded (cropped to w x h) and its PSNR. */
static int closest(uint8_t **frames, int n, const uint8_t *dec, int dec_w, int w, int h,
                   double *psnr)
{
    uint8_t *crop = md_malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        memcpy(crop + (size_t)y * w * 3, dec + (size_t)y * dec_w * 3, (size_t)w * 3);
    int best = -1;
    double best_psnr = -1;
    for (int i = 0; i < n; i++) {
        double p = test_psnr(frames[i], crop, w, h);
        if (p > best_psnr) {
            best_psnr = p;
            best = i;
        }
    }
    md_free(crop);
    *psnr = best_psnr;
    return best;
}

static void test_order(void)
{
    const int w = 512, h = 512;
    uint8_t *frames[FRAMES];
    for (int i = 0; i < FRAMES; i++)
        frames[i] = make_frame(i, FRAMES, w, h);
    size_t len = 0, len2 = 0;
    double seconds = 0;
    uint8_t *mp4 = encode(frames, FRAMES, w, h, NULL, &len, &seconds);
    printf("41 frames of 512x512: MP4 of %zu bytes in %.0f ms (%.1f ms a frame)\n", len,
           seconds * 1e3, seconds * 1e3 / FRAMES);
    CHECK(mp4 != NULL && len > 1000);
    /* faststart: the moov atom comes before mdat. */
    if (mp4 != NULL) {
        const uint8_t *moov = memmem(mp4, len, "moov", 4), *mdat = memmem(mp4, len, "mdat", 4);
        CHECK(moov != NULL && mdat != NULL && moov < mdat);
    }
    uint8_t *again = encode(frames, FRAMES, w, h, NULL, &len2, NULL);
    CHECK(again != NULL && len2 == len && memcmp(again, mp4, len) == 0); /* reproducible */
    md_free(again);

    decoded d;
    write_and_decode(mp4, len, "ana_video", &d);
    CHECK_INT(FRAMES, d.count);
    CHECK_INT(w, d.width);
    CHECK_INT(h, d.height);
    CHECK_INT(30, d.rate.num / (d.rate.den ? d.rate.den : 1));
    CHECK_INT(0, d.rate.num % (d.rate.den ? d.rate.den : 1));
    double worst = INFINITY;
    for (int i = 0; i < d.count; i++) {
        double psnr;
        int j = closest(frames, FRAMES, d.rgb[i], d.width, w, h, &psnr);
        if (j != i)
            fprintf(stderr, "decoded frame %d looks like source frame %d\n", i, j);
        CHECK_INT(i, j);
        worst = fmin(worst, psnr);
    }
    CHECK(worst > 30.0);
    printf("decoded %d frames %dx%d at %d/%d fps (time base %d/%d), worst PSNR %.1f dB\n", d.count,
           d.width, d.height, d.rate.num, d.rate.den, d.time_base.num, d.time_base.den, worst);
    decoded_free(&d);
    md_free(mp4);

    /* Ping-pong: 0..40 then 39..1. */
    ana_video_opts opts = {.loop = ANA_VIDEO_PINGPONG, .crf = -1};
    mp4 = encode(frames, FRAMES, w, h, &opts, &len, &seconds);
    write_and_decode(mp4, len, "ana_video_pingpong", &d);
    CHECK_INT(2 * FRAMES - 2, d.count);
    int wrong = 0;
    for (int i = 0; i < d.count; i++) {
        double psnr;
        int want = i < FRAMES ? i : 2 * FRAMES - 2 - i;
        wrong += closest(frames, FRAMES, d.rgb[i], d.width, w, h, &psnr) != want || psnr <= 30;
    }
    CHECK_INT(0, wrong);
    printf("ping-pong: %d frames in %.0f ms\n", d.count, seconds * 1e3);
    decoded_free(&d);
    md_free(mp4);
    for (int i = 0; i < FRAMES; i++)
        md_free(frames[i]);
}

static void test_odd_size_and_errors(void)
{
    const int w = 101, h = 67, n = 5;
    uint8_t *frames[5];
    for (int i = 0; i < n; i++)
        frames[i] = make_frame(i, n, w, h);
    ana_video_opts opts = {.fps = 24, .crf = -1};
    size_t len = 0;
    uint8_t *mp4 = encode(frames, n, w, h, &opts, &len, NULL);
    decoded d;
    write_and_decode(mp4, len, "ana_video_odd", &d);
    CHECK_INT(n, d.count);
    CHECK_INT(102, d.width);
    CHECK_INT(68, d.height);
    CHECK_INT(24, d.rate.num / (d.rate.den ? d.rate.den : 1));
    for (int i = 0; i < d.count; i++) {
        double psnr;
        CHECK_INT(i, closest(frames, n, d.rgb[i], d.width, w, h, &psnr));
    }
    decoded_free(&d);
    md_free(mp4);
    for (int i = 0; i < n; i++)
        md_free(frames[i]);

    md_error err = {0};
    ana_video *v = NULL;
    CHECK_INT(MD_EINVAL, ana_video_new(0, 10, NULL, &v, &err));
    opts.fps = 1000;
    CHECK_INT(MD_EINVAL, ana_video_new(64, 64, &opts, &v, &err));
    CHECK_MSG(&err, "fps");
    CHECK_OK(ana_video_new(64, 64, NULL, &v, &err), &err);
    uint8_t *bytes = NULL;
    CHECK_INT(MD_EINVAL, ana_video_finish(v, &bytes, &len, &err));
    CHECK_MSG(&err, "no frames");
    ana_video_free(v);
    ana_video_free(NULL);
}

int main(void)
{
    test_order();
    test_odd_size_and_errors();
    return test_done();
}
