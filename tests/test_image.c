/*
 * test_image.c — PNG/JPEG decoding and PNG encoding (mesh/image.c), with inputs made here by
 * libpng and libjpeg directly: round trips, grey variants, truncated and oversized files, and
 * texture padding from a coverage mask. Needs no shared data.
 */
#include "test_util.h"

#include "mesh/image.h"

#include <png.h>
#include <string.h>
#include <zlib.h>
/* jpeglib.h needs FILE and size_t declared first. */
#include <stdio.h>
#include <jpeglib.h>

/* ---- Making test files ---- */

struct buf {
    uint8_t *data;
    size_t len;
};

static void buf_write(png_structp png, png_bytep data, png_size_t len)
{
    struct buf *b = png_get_io_ptr(png);
    b->data = realloc(b->data, b->len + len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void buf_flush(png_structp png)
{
    (void)png;
}

/* A PNG of the given libpng colour type (8-bit), rows of width * channels bytes. */
static struct buf make_png_ex(int width, int height, int color_type, int bit_depth, int interlace,
                              const uint8_t *pixels, size_t row_bytes);

static struct buf make_png(int width, int height, int color_type, int channels,
                           const uint8_t *pixels)
{
    return make_png_ex(width, height, color_type, 8, PNG_INTERLACE_NONE, pixels,
                       (size_t)width * (size_t)channels);
}

/* Any colour type, depth and interlacing; palette images get a four-colour palette. */
static struct buf make_png_ex(int width, int height, int color_type, int bit_depth, int interlace,
                              const uint8_t *pixels, size_t row_bytes)
{
    struct buf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "libpng failed making a test PNG\n");
        exit(1);
    }
    png_set_write_fn(png, &b, buf_write, buf_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, color_type,
                 interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color palette[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {20, 40, 250}};
        png_set_PLTE(png, info, palette, 4);
    }
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < height; y++)
            png_write_row(png, pixels + (size_t)y * row_bytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return b;
}

/* A JPEG, grey (channels 1) or RGB (channels 3), baseline or progressive. */
static struct buf make_jpeg_ex(int width, int height, int channels, int progressive,
                               const uint8_t *pixels);

static struct buf make_jpeg(int width, int height, int channels, const uint8_t *pixels)
{
    return make_jpeg_ex(width, height, channels, 0, pixels);
}

static struct buf make_jpeg_ex(int width, int height, int channels, int progressive,
                               const uint8_t *pixels)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &out, &out_len);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 95, TRUE);
    if (progressive)
        jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row =
            (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)channels);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    struct buf b = {malloc(out_len), out_len};
    memcpy(b.data, out, out_len);
    free(out);
    return b;
}

/* Deterministic noise, so compressed data is large enough to cut in the middle. */
static void fill_noise(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends a PNG chunk with its CRC. */
static size_t put_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t len)
{
    put_u32(out, len);
    memcpy(out + 4, type, 4);
    if (len > 0)
        memcpy(out + 8, data, len);
    uLong crc = crc32(0, out + 4, 4 + len);
    put_u32(out + 8 + len, (uint32_t)crc);
    return 12 + len;
}

/* ---- Tests ---- */

static void test_round_trips(void)
{
    md_limits lim;
    md_limits_default(&lim);
    const int w = 37, h = 23; /* odd sizes: no row happens to be aligned */
    for (int channels = 3; channels <= 4; channels++) {
        uint8_t *pixels = malloc((size_t)w * h * channels);
        fill_noise(pixels, (size_t)w * h * channels, (uint32_t)channels);
        const int levels[] = {0, 1, 9};
        for (int l = 0; l < 3; l++) {
            md_error err = {0};
            uint8_t *png;
            size_t png_len;
            CHECK_OK(img_encode_png(pixels, w, h, channels, levels[l], &png, &png_len, &err), &err);
            img *im = NULL;
            CHECK_OK(img_decode(png, png_len, &lim, &im, &err), &err);
            if (im == NULL) {
                md_free(png);
                continue;
            }
            CHECK_INT(w, img_width(im));
            CHECK_INT(h, img_height(im));
            const uint8_t *rgba = img_pixels_const(im);
            int mismatches = 0;
            for (int i = 0; i < w * h; i++) {
                for (int k = 0; k < channels; k++)
                    mismatches += rgba[4 * i + k] != pixels[channels * i + k];
                if (channels == 3)
                    mismatches += rgba[4 * i + 3] != 255;
            }
            if (mismatches != 0)
                fprintf(stderr, "channels %d level %d: %d mismatched bytes\n", channels, levels[l],
                        mismatches);
            CHECK_INT(0, mismatches);
            img_free(im);
            md_free(png);
        }
        free(pixels);
    }
    md_error err = {0};
    uint8_t *png;
    size_t png_len;
    uint8_t px[3] = {0};
    CHECK_INT(MD_EINVAL, img_encode_png(px, 1, 1, 2, 1, &png, &png_len, &err));
    CHECK_INT(MD_EINVAL, img_encode_png(px, 1, 1, 3, 10, &png, &png_len, &err));
    CHECK_INT(MD_EINVAL, img_encode_png(px, 0, 1, 3, 1, &png, &png_len, &err));
}

/* Checks that an RGBA image is grey (R == G == B) with the expected grey and alpha values. */
static void check_grey(const img *im, const uint8_t *grey, const uint8_t *alpha, int tol)
{
    const uint8_t *p = img_pixels_const(im);
    int bad_rgb = 0, bad_value = 0, bad_alpha = 0;
    for (int i = 0; i < img_width(im) * img_height(im); i++) {
        bad_rgb += p[4 * i] != p[4 * i + 1] || p[4 * i] != p[4 * i + 2];
        bad_value += abs((int)p[4 * i] - (int)grey[i]) > tol;
        bad_alpha += p[4 * i + 3] != (alpha ? alpha[i] : 255);
    }
    CHECK_INT(0, bad_rgb);
    CHECK_INT(0, bad_value);
    CHECK_INT(0, bad_alpha);
}

static void test_grey(void)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error err = {0};
    const int w = 16, h = 16;
    uint8_t grey[256], alpha[256], ga[512];
    for (int i = 0; i < w * h; i++) {
        grey[i] = (uint8_t)(i % w * 16 + i / w); /* smooth, so JPEG stays close */
        alpha[i] = (uint8_t)(255 - i);
        ga[2 * i] = grey[i];
        ga[2 * i + 1] = alpha[i];
    }
    img *im = NULL;
    struct buf b = make_png(w, h, PNG_COLOR_TYPE_GRAY, 1, grey);
    CHECK_OK(img_decode(b.data, b.len, &lim, &im, &err), &err);
    if (im != NULL)
        check_grey(im, grey, NULL, 0);
    img_free(im);
    free(b.data);

    b = make_png(w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 2, ga);
    CHECK_OK(img_decode(b.data, b.len, &lim, &im, &err), &err);
    if (im != NULL)
        check_grey(im, grey, alpha, 0);
    img_free(im);
    free(b.data);

    b = make_jpeg(w, h, 1, grey);
    CHECK_OK(img_decode(b.data, b.len, &lim, &im, &err), &err);
    if (im != NULL)
        check_grey(im, grey, NULL, 8);
    img_free(im);
    free(b.data);
}

static void check_truncations(const struct buf *whole, const char *what)
{
    md_limits lim;
    md_limits_default(&lim);
    /* Cut inside the signature/SOI, the header, the first data and the middle. */
    const size_t cuts[] = {3, 8, 16, 30, 60, 200, whole->len / 2, whole->len * 3 / 4};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        md_error err = {0};
        img *im = NULL;
        int rc = img_decode(whole->data, cuts[i], &lim, &im, &err);
        /* Three bytes do not identify a PNG; all else is a damaged file of a known kind. */
        int want = strcmp(what, "PNG") == 0 && cuts[i] < 8 ? MD_EFORMAT : MD_EPARSE;
        if (rc != want)
            fprintf(stderr, "%s cut at %zu of %zu bytes: expected %s, got %s (%s)\n", what, cuts[i],
                    whole->len, md_err_name(want), md_err_name(rc), err.msg);
        CHECK_INT(want, rc);
        CHECK(im == NULL);
        CHECK(strlen(err.msg) > 0);
        img_free(im);
    }
}

static void test_truncated(void)
{
    const int w = 64, h = 64;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    fill_noise(rgb, (size_t)w * h * 3, 7);
    md_error err = {0};
    struct buf png = {0};
    CHECK_OK(img_encode_png(rgb, w, h, 3, 6, &png.data, &png.len, &err), &err);
    check_truncations(&png, "PNG");
    md_free(png.data);
    struct buf jpeg = make_jpeg(w, h, 3, rgb);
    check_truncations(&jpeg, "JPEG");
    free(jpeg.data);
    /* Progressive files are read whole before the first row comes out. */
    jpeg = make_jpeg_ex(w, h, 3, 1, rgb);
    check_truncations(&jpeg, "JPEG");
    free(jpeg.data);
    free(rgb);
}

/* Palette, 16-bit and interlaced PNGs and progressive JPEGs decode to RGBA8 too. */
static void test_other_kinds(void)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error err = {0};
    img *im = NULL;
    const uint8_t idx[2] = {0x1b, 0xe4}; /* 2-bit indices, rows 0,1,2,3 and 3,2,1,0 */
    struct buf b = make_png_ex(4, 2, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE, idx, 1);
    CHECK_OK(img_decode(b.data, b.len, &lim, &im, &err), &err);
    if (im != NULL) {
        const uint8_t *p = img_pixels_const(im);
        CHECK_INT(255, p[4 * 1 + 0]); /* index 1: red */
        CHECK_INT(250, p[4 * 3 + 2]); /* index 3: blue 250 */
        CHECK_INT(20, p[4 * 4 + 0]);  /* second row starts with index 3 */
        CHECK_INT(250, p[4 * 4 + 2]);
        img_free(im);
    }
    free(b.data);

    uint16_t rgb16[8 * 8 * 3];
    for (int i = 0; i < 8 * 8 * 3; i++) /* big-endian 16-bit samples, high byte = i */
        rgb16[i] = (uint16_t)((i & 0xff) | 0x80 << 8);
    b = make_png_ex(8, 8, PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_ADAM7, (const uint8_t *)rgb16,
                    8 * 6);
    CHECK_OK(img_decode(b.data, b.len, &lim, &im, &err), &err);
    if (im != NULL) {
        CHECK_INT(8, img_width(im));
        CHECK_INT(255, img_pixels_const(im)[3]);
        img_free(im);
    }
    free(b.data);

    uint8_t rgb[16 * 16 * 3];
    for (int i = 0; i < 16 * 16 * 3; i++)
        rgb[i] = (uint8_t)(i % 3 == 0 ? 200 : 60);
    b = make_jpeg_ex(16, 16, 3, 1, rgb);
    CHECK_OK(img_decode(b.data, b.len, &lim, &im, &err), &err);
    if (im != NULL) {
        const uint8_t *p = img_pixels_const(im);
        CHECK_NEAR(200, p[0], 8);
        CHECK_NEAR(60, p[1], 8);
        img_free(im);
    }
    free(b.data);
}

static void test_oversized_and_garbage(void)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error err = {0};
    img *im = NULL;

    /* A valid PNG whose header declares 100000 x 100000 (40 GB of RGBA): IHDR, a tiny IDAT,
     * IEND. The decoder must refuse it from the header alone. */
    uint8_t file[256];
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(file, sig, 8);
    size_t len = 8;
    uint8_t ihdr[13] = {0};
    put_u32(ihdr, 100000);
    put_u32(ihdr + 4, 100000);
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* RGB */
    len += put_chunk(file + len, "IHDR", ihdr, 13);
    uint8_t raw[4] = {0}, z[64];
    uLongf zlen = sizeof z;
    compress(z, &zlen, raw, sizeof raw);
    len += put_chunk(file + len, "IDAT", z, (uint32_t)zlen);
    len += put_chunk(file + len, "IEND", NULL, 0);
    double t0 = md_now();
    int rc = img_decode(file, len, &lim, &im, &err);
    double ms = (md_now() - t0) * 1e3;
    CHECK_INT(MD_ELIMIT, rc);
    CHECK_MSG(&err, "100000x100000");
    CHECK(im == NULL);
    CHECK(ms < 100); /* refused from the header, nothing decoded or allocated */

    const char text[] = "this is not an image at all";
    CHECK_INT(MD_EFORMAT, img_decode((const uint8_t *)text, sizeof text, &lim, &im, &err));
    CHECK(strlen(err.msg) > 0);
    CHECK_INT(MD_EPARSE, img_decode((const uint8_t *)text, 0, &lim, &im, &err));
    CHECK_MSG(&err, "empty");
    CHECK(im == NULL);
}

static void test_padding(void)
{
    md_error err = {0};
    /* 8x4: left half red, right half blue, covered in columns 1..2 and 5..6 only; the other
     * texels start black and must take the nearest covered colour. */
    const int w = 8, h = 4;
    img *im = img_new(w, h);
    uint8_t *p = img_pixels(im);
    uint8_t coverage[32];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int i = y * w + x;
            int covered = x == 1 || x == 2 || x == 5 || x == 6;
            coverage[i] = (uint8_t)covered;
            uint8_t *px = p + 4 * i;
            px[0] = covered && x < 4 ? 200 : 0;
            px[1] = (uint8_t)(covered ? (x < 4 ? 10 : 20) : 0);
            px[2] = covered && x >= 4 ? 180 : 0;
            px[3] = 255;
        }
    uint8_t before[128];
    memcpy(before, p, sizeof before);
    CHECK_OK(img_pad_from_coverage(im, coverage, &err), &err);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *px = p + 4 * (y * w + x);
            /* Nearest covered column: 0 -> 1, 3 -> 2, 4 -> 5, 7 -> 6. */
            int from = x == 0 ? 1 : x == 3 ? 2 : x == 4 ? 5 : x == 7 ? 6 : x;
            const uint8_t *want = before + 4 * (y * w + from);
            if (memcmp(px, want, 4) != 0)
                fprintf(stderr, "texel (%d,%d) is %d,%d,%d,%d, expected %d,%d,%d,%d\n", x, y, px[0],
                        px[1], px[2], px[3], want[0], want[1], want[2], want[3]);
            CHECK(memcmp(px, want, 4) == 0);
        }

    /* Empty coverage: nothing to spread, the image stays as it is. */
    memset(coverage, 0, sizeof coverage);
    memcpy(before, p, sizeof before);
    CHECK_OK(img_pad_from_coverage(im, coverage, &err), &err);
    CHECK(memcmp(before, p, sizeof before) == 0);
    img_free(im);

    /* Half/half: top half covered in one colour, bottom uncovered black -> all one colour. */
    im = img_new(5, 6);
    p = img_pixels(im);
    uint8_t half[30];
    for (int i = 0; i < 30; i++) {
        half[i] = i < 15;
        if (i < 15) {
            p[4 * i] = 30;
            p[4 * i + 1] = 60;
            p[4 * i + 2] = 90;
            p[4 * i + 3] = 255;
        }
    }
    CHECK_OK(img_pad_from_coverage(im, half, &err), &err);
    int wrong = 0;
    for (int i = 0; i < 30; i++)
        wrong += p[4 * i] != 30 || p[4 * i + 1] != 60 || p[4 * i + 2] != 90 || p[4 * i + 3] != 255;
    CHECK_INT(0, wrong);
    img_free(im);
}

/* Writes the seed corpus of tests/fuzz/fuzz_image (small files of every kind the decoders
 * take) into dir: `test_image --write-seeds tests/fuzz/corpus/fuzz_image`. */
static int write_seeds(const char *dir)
{
    uint8_t px[8 * 8 * 8];
    fill_noise(px, sizeof px, 99);
    struct {
        const char *name;
        struct buf b;
    } seeds[] = {
        {"grey.png", make_png(8, 8, PNG_COLOR_TYPE_GRAY, 1, px)},
        {"grey_alpha.png", make_png(8, 8, PNG_COLOR_TYPE_GRAY_ALPHA, 2, px)},
        {"rgb.png", make_png(8, 8, PNG_COLOR_TYPE_RGB, 3, px)},
        {"rgba.png", make_png(8, 8, PNG_COLOR_TYPE_RGBA, 4, px)},
        {"palette.png", make_png_ex(8, 8, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE, px, 2)},
        {"rgb16_interlaced.png",
         make_png_ex(8, 8, PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_ADAM7, px, 8 * 6)},
        {"grey.jpg", make_jpeg(8, 8, 1, px)},
        {"rgb.jpg", make_jpeg(16, 8, 3, px)},
        {"progressive.jpg", make_jpeg_ex(16, 16, 3, 1, px)},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, seeds[i].name);
        md_error err = {0};
        if (md_write_file_atomic(path, seeds[i].b.data, seeds[i].b.len, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            rc = 1;
        }
        free(seeds[i].b.data);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    test_round_trips();
    test_grey();
    test_other_kinds();
    test_truncated();
    test_oversized_and_garbage();
    test_padding();
    return test_done();
}
