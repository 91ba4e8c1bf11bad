/*
 * fuzz_image.c — libFuzzer target for the PNG/JPEG decoders, the PNG encoder and texture
 * padding (mesh/image.c). Each input is decoded with tight limits; a decoded image is padded
 * from a coverage mask taken from its own pixels, encoded to PNG (img_encode_png, and the frame
 * coder img_encode_png_frame as RGBA and RGB) and decoded again, and must come back identical.
 * Every failure must carry a message. Everything is freed, so LeakSanitizer flags a leak on any
 * error path.
 *
 * Seeds (tests/fuzz/corpus/fuzz_image): grey, grey+alpha, RGB, RGBA, palette and 16-bit
 * interlaced PNGs and grey, RGB and progressive JPEGs, written by
 * `test_image --write-seeds tests/fuzz/corpus/fuzz_image`.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mesh/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_limits lim;
    md_limits_default(&lim);
    lim.max_texture_side = 2048;
    lim.max_texture_pixels = 1u << 20;
    md_error err;
    md_error_clear(&err);

    img *im = NULL;
    if (img_decode(data, size, &lim, &im, &err) != 0) {
        if (err.msg[0] == '\0' || im != NULL)
            __builtin_trap(); /* every failure says why and returns nothing */
        return 0;
    }
    int w = img_width(im), h = img_height(im);
    if (w <= 0 || h <= 0 || (uint64_t)w * (uint64_t)h > lim.max_texture_pixels)
        __builtin_trap();

    size_t n = (size_t)w * (size_t)h;
    uint8_t *coverage = md_malloc(n);
    if (coverage != NULL) {
        const uint8_t *px = img_pixels_const(im);
        for (size_t i = 0; i < n; i++)
            coverage[i] = px[4 * i] & 1;
        if (img_pad_from_coverage(im, coverage, &err) != 0)
            __builtin_trap();
        md_free(coverage);
    }

    uint8_t *png = NULL;
    size_t png_len = 0;
    if (img_encode_png(img_pixels_const(im), w, h, 4, 1, &png, &png_len, &err) == 0) {
        img *again = NULL;
        if (img_decode(png, png_len, &lim, &again, &err) != 0 || img_width(again) != w ||
            img_height(again) != h ||
            memcmp(img_pixels_const(again), img_pixels_const(im), 4 * n) != 0)
            __builtin_trap(); /* our own PNG must round-trip exactly */
        img_free(again);
        md_free(png);
    }

    /* The frame coder (mesh/png_fast.c) on the same pixels, as RGBA and as RGB: the same. */
    uint8_t *rgb = md_malloc(3 * n);
    for (int channels = 4; channels >= 3; channels--) {
        const uint8_t *src = img_pixels_const(im);
        if (channels == 3) {
            if (rgb == NULL)
                break;
            for (size_t i = 0; i < n; i++)
                memcpy(rgb + 3 * i, src + 4 * i, 3);
            src = rgb;
        }
        if (img_encode_png_frame(src, w, h, channels, 1, &png, &png_len, &err) != 0)
            continue;
        img *again = NULL;
        if (img_decode(png, png_len, &lim, &again, &err) != 0 || img_width(again) != w ||
            img_height(again) != h)
            __builtin_trap();
        const uint8_t *back = img_pixels_const(again), *px = img_pixels_const(im);
        for (size_t i = 0; i < n; i++)
            for (int c = 0; c < channels; c++)
                if (back[4 * i + c] != px[4 * i + c])
                    __builtin_trap();
        img_free(again);
        md_free(png);
    }
    md_free(rgb);
    img_free(im);
    return 0;
}
