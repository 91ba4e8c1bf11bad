/*
 * test_png_read.c — the fast PNG reader (mesh/png_read.c) against libpng's simplified API, the
 * reference: every colour type and bit depth PNG has, written by libpng with each filter, with
 * and without interlacing, palettes with and without tRNS, gAMA, several IDATs; hand-built files
 * with a bad filter type, palette indices outside PLTE, damaged deflate data and truncation;
 * and every PNG on disk we can find (the shared data's textures and assimp's test models, the
 * fuzz seeds, up to PNG_FILES_MAX under /usr/share). For each: img_decode gives libpng's
 * pixels, or fails where libpng fails; and the layouts the fast reader claims are decoded by
 * it (png_fast_decode itself, not the fallback) to the same pixels.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <libdeflate.h>
#include <png.h>
#include <string.h>

#include "mesh/image.h"
#include "mesh/png_read.h"
#include "test_util.h"

#define PNG_FILES_MAX 3000
#define PNG_FILE_BYTES_MAX ((size_t)16 << 20)

static md_limits limits;
static int compared, fast_compared, both_failed;

/* ---- The reference ---- */

/* libpng's RGBA8 pixels, or NULL where libpng refuses the file. */
static uint8_t *reference_rgba(const uint8_t *bytes, size_t len, uint32_t *w, uint32_t *h)
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

/* The first differing byte, or -1. */
static long first_difference(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (long)i;
    return -1;
}

/* img_decode against libpng; and png_fast_decode itself when it claims the file. expect_fast:
 * 1 the fast reader must claim it, 0 it must not, -1 either. */
static void compare(const char *what, const uint8_t *bytes, size_t len, int expect_fast)
{
    uint32_t w = 0, h = 0;
    uint8_t *ref = reference_rgba(bytes, len, &w, &h);
    img *im = NULL;
    md_error err;
    md_error_clear(&err);
    int rc = img_decode(bytes, len, &limits, &im, &err);
    if (ref == NULL) {
        if (rc == 0 && img_width(im) > 0) {
            fprintf(stderr, "%s: libpng refuses it, img_decode decoded it\n", what);
            test_failures++;
        }
        both_failed += rc != 0;
    } else if (rc != 0) {
        /* Only our limits may refuse what libpng reads. */
        if (rc != MD_ELIMIT) {
            fprintf(stderr, "%s: libpng reads it, img_decode says: %s\n", what, err.msg);
            test_failures++;
        }
    } else {
        CHECK_INT(w, img_width(im));
        CHECK_INT(h, img_height(im));
        long at = w == (uint32_t)img_width(im) && h == (uint32_t)img_height(im)
                      ? first_difference(ref, img_pixels_const(im), (size_t)w * h * 4)
                      : 0;
        if (at >= 0) {
            fprintf(stderr, "%s: img_decode differs from libpng at byte %ld\n", what, at);
            test_failures++;
        }
        compared++;
    }
    img_free(im);

    png_fast_info info;
    int claimed = png_fast_probe(bytes, len, &info);
    if (expect_fast >= 0 && claimed != expect_fast) {
        fprintf(stderr, "%s: expected the fast reader to %s it, got the opposite\n", what,
                expect_fast ? "claim" : "leave");
        test_failures++;
    }
    if (claimed && (uint64_t)info.width * info.height <= ((uint64_t)64 << 20)) {
        uint8_t *px = malloc((size_t)info.width * info.height * 4);
        int decoded = px != NULL && png_fast_decode(&info, bytes, len, px) == 0;
        if (decoded && ref == NULL) {
            fprintf(stderr, "%s: libpng refuses it, the fast reader decoded it\n", what);
            test_failures++;
        } else if (decoded) {
            CHECK_INT(w, info.width);
            CHECK_INT(h, info.height);
            long at = w == info.width && h == info.height
                          ? first_difference(ref, px, (size_t)w * h * 4)
                          : 0;
            if (at >= 0) {
                fprintf(stderr, "%s: the fast reader differs from libpng at byte %ld\n", what, at);
                test_failures++;
            }
            fast_compared++;
        } else if (expect_fast == 1 && ref != NULL) {
            fprintf(stderr, "%s: the fast reader claimed it and then did not decode it\n", what);
            test_failures++;
        }
        free(px);
    }
    free(ref);
}

/* ---- PNGs written by libpng ---- */

typedef struct membuf {
    uint8_t *data;
    size_t len, cap;
} membuf;

static void mem_write(png_structp png, png_bytep data, png_size_t n)
{
    membuf *b = png_get_io_ptr(png);
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

typedef struct png_case {
    int w, h, depth, color_type, interlace, filters;
    int palette_size, trns_count; /* colour type 3 */
    int gamma;                    /* write gAMA 1/2.2 (not the sRGB value) */
    int small_idat;               /* many IDAT chunks */
} png_case;

/* Smooth-ish random samples, so every filter finds something to do. */
static membuf write_png(const png_case *c)
{
    membuf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(b.data);
        return (membuf){0};
    }
    png_set_write_fn(png, &b, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, c->depth, c->color_type,
                 c->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_filter(png, 0, c->filters);
    if (c->small_idat)
        png_set_compression_buffer_size(png, 64);
    if (c->color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < c->palette_size; i++)
            pal[i] = (png_color){(png_byte)rng(), (png_byte)rng(), (png_byte)rng()};
        png_set_PLTE(png, info, pal, c->palette_size);
        if (c->trns_count > 0) {
            png_byte alpha[256];
            for (int i = 0; i < c->trns_count; i++)
                alpha[i] = (png_byte)rng();
            png_set_tRNS(png, info, alpha, c->trns_count, NULL);
        }
    }
    if (c->gamma)
        png_set_gAMA_fixed(png, info, 45000);
    png_write_info(png, info);
    if (c->depth < 8)
        png_set_packing(png);
    if (c->depth == 16)
        png_set_swap(png); /* samples below are host-order (little-endian) 16-bit */
    int channels = png_get_channels(png, info);
    int sample_bytes = c->depth == 16 ? 2 : 1;
    size_t row_len = (size_t)c->w * channels * sample_bytes;
    uint8_t *rows = malloc(row_len * c->h);
    png_bytep *ptrs = malloc(sizeof *ptrs * c->h);
    int max = c->color_type == PNG_COLOR_TYPE_PALETTE ? c->palette_size - 1 : (1 << c->depth) - 1;
    for (int y = 0; y < c->h; y++) {
        ptrs[y] = rows + row_len * y;
        for (size_t i = 0; i < (size_t)c->w * channels; i++) {
            /* A gradient with noise: neighbours agree often, not always. */
            unsigned v = (unsigned)((i * 7 + (size_t)y * 5) % (unsigned)(max + 1));
            if (rng() % 4 == 0)
                v = rng() % (unsigned)(max + 1);
            if (sample_bytes == 2) {
                ptrs[y][2 * i] = (uint8_t)(v & 0xff);
                ptrs[y][2 * i + 1] = (uint8_t)(v >> 8);
            } else {
                ptrs[y][i] = (uint8_t)v;
            }
        }
    }
    png_write_image(png, ptrs);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(ptrs);
    return b;
}

static void test_written(void)
{
    static const struct {
        int color_type, depth;
    } layouts[] = {{0, 1}, {0, 2}, {0, 4}, {0, 8}, {0, 16}, {2, 8}, {2, 16}, {3, 1},
                   {3, 2}, {3, 4}, {3, 8}, {4, 8}, {4, 16}, {6, 8}, {6, 16}};
    static const int filters[] = {PNG_FILTER_NONE, PNG_FILTER_SUB,   PNG_FILTER_UP,
                                  PNG_FILTER_AVG,  PNG_FILTER_PAETH, PNG_ALL_FILTERS};
    static const int sizes[][2] = {{1, 1}, {7, 3}, {33, 17}, {64, 40}};
    int files = 0;
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++)
        for (size_t f = 0; f < sizeof filters / sizeof filters[0]; f++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
                for (int variant = 0; variant < 4; variant++) {
                    png_case c = {.w = sizes[s][0],
                                  .h = sizes[s][1],
                                  .depth = layouts[l].depth,
                                  .color_type = layouts[l].color_type,
                                  .filters = filters[f],
                                  .interlace = variant == 1,
                                  .gamma = variant == 2,
                                  .small_idat = variant == 3};
                    if (c.color_type == 3) {
                        c.palette_size = 1 + (int)(rng() % (1u << c.depth));
                        c.trns_count = variant == 3 ? 0 : (int)(rng() % (c.palette_size + 1));
                    }
                    membuf b = write_png(&c);
                    CHECK(b.data != NULL);
                    if (b.data == NULL)
                        continue;
                    int handled = c.depth <= 8 && (c.depth == 8 || c.color_type == 3) &&
                                  !c.interlace && !c.gamma;
                    char what[160];
                    snprintf(what, sizeof what,
                             "written %dx%d type %d depth %d filters 0x%x interlace %d gamma %d "
                             "idat %s palette %d/%d",
                             c.w, c.h, c.color_type, c.depth, c.filters, c.interlace, c.gamma,
                             c.small_idat ? "small" : "one", c.palette_size, c.trns_count);
                    compare(what, b.data, b.len, handled);
                    free(b.data);
                    files++;
                }
    printf("written: %d files\n", files);
}

/* ---- PNGs built by hand (what libpng's writer will not produce) ---- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t put_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t n)
{
    put32(out, n);
    memcpy(out + 4, type, 4);
    if (n > 0)
        memcpy(out + 8, data, n);
    put32(out + 8 + n, libdeflate_crc32(0, out + 4, (size_t)n + 4));
    return (size_t)n + 12;
}

/* A PNG of raw filtered rows (filter bytes included), deflated whole into one IDAT. */
static size_t build_png(uint8_t *out, int w, int h, int depth, int color_type,
                        const uint8_t *palette, int palette_count, const uint8_t *raw,
                        size_t raw_len)
{
    static const uint8_t magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, magic, 8);
    size_t pos = 8;
    uint8_t ihdr[13];
    put32(ihdr, (uint32_t)w);
    put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = (uint8_t)depth, ihdr[9] = (uint8_t)color_type, ihdr[10] = ihdr[11] = ihdr[12] = 0;
    pos += put_chunk(out + pos, "IHDR", ihdr, 13);
    if (palette_count > 0)
        pos += put_chunk(out + pos, "PLTE", palette, (uint32_t)palette_count * 3);
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    uint8_t z[4096];
    size_t zn = libdeflate_zlib_compress(c, raw, raw_len, z, sizeof z);
    libdeflate_free_compressor(c);
    pos += put_chunk(out + pos, "IDAT", z, (uint32_t)zn);
    pos += put_chunk(out + pos, "IEND", NULL, 0);
    return pos;
}

static void test_built(void)
{
    uint8_t png[8192], raw[1024];
    /* 4x4 RGB, rows with filter bytes 0..4 and then a 5 PNG does not define. */
    for (int bad = 0; bad < 2; bad++) {
        size_t n = 0;
        for (int y = 0; y < 4; y++) {
            raw[n++] = (uint8_t)(bad && y == 2 ? 5 : y % 5);
            for (int i = 0; i < 12; i++)
                raw[n++] = (uint8_t)(rng());
        }
        size_t len = build_png(png, 4, 4, 8, 2, NULL, 0, raw, n);
        compare(bad ? "built: filter type 5" : "built: filters 0-3", png, len, bad ? -1 : 1);
    }
    /* 8x2 palette, 4-bit, 3 colours, indices up to 15: outside PLTE. */
    uint8_t pal[9] = {255, 0, 0, 0, 255, 0, 0, 0, 255};
    for (int outside = 0; outside < 2; outside++) {
        size_t n = 0;
        for (int y = 0; y < 2; y++) {
            raw[n++] = 0;
            for (int i = 0; i < 4; i++)
                raw[n++] = (uint8_t)(outside && y == 1 && i == 3 ? 0x2f : 0x12);
        }
        size_t len = build_png(png, 8, 2, 4, 3, pal, 3, raw, n);
        compare(outside ? "built: palette index 15 of 3" : "built: palette", png, len,
                outside ? -1 : 1);
    }
    /* Too little and too much image data. */
    for (int delta = -1; delta <= 1; delta += 2) {
        size_t n = 0;
        for (int y = 0; y < 3; y++) {
            raw[n++] = 1;
            for (int i = 0; i < 6; i++)
                raw[n++] = (uint8_t)rng();
        }
        size_t len = build_png(png, 2, 3, 8, 2, NULL, 0, raw, n + (size_t)delta);
        compare(delta < 0 ? "built: one byte short" : "built: one byte more", png, len, -1);
    }
}

/* Damage: a byte of IDAT changed (CRC fixed, so only the deflate data is wrong), or the file
 * cut short; img_decode must then do what libpng does. */
static void test_damaged(void)
{
    png_case c = {.w = 48, .h = 20, .depth = 8, .color_type = 6, .filters = PNG_ALL_FILTERS};
    membuf b = write_png(&c);
    CHECK(b.data != NULL);
    if (b.data == NULL)
        return;
    png_fast_info info;
    CHECK(png_fast_probe(b.data, b.len, &info));
    size_t idat = info.idat_offset;
    uint8_t *copy = malloc(b.len);
    for (size_t k = 0; k < info.idat_bytes; k += 1 + info.idat_bytes / 40) {
        memcpy(copy, b.data, b.len);
        copy[idat + k] ^= 0x5a;
        put32(copy + idat + info.idat_bytes,
              libdeflate_crc32(0, copy + idat - 4, info.idat_bytes + 4));
        char what[64];
        snprintf(what, sizeof what, "damaged IDAT byte %zu", k);
        compare(what, copy, b.len, -1);
    }
    for (size_t cut = 8; cut < b.len; cut += 1 + b.len / 30) {
        char what[64];
        snprintf(what, sizeof what, "cut at %zu of %zu bytes", cut, b.len);
        compare(what, b.data, cut, 0);
    }
    memcpy(copy, b.data, b.len);
    copy[idat + 2] ^= 1; /* CRC left wrong */
    compare("IDAT with a wrong CRC", copy, b.len, 0);
    free(copy);
    free(b.data);
}

/* ---- PNGs on disk ---- */

static int file_count;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 4 || strcasecmp(path + n - 4, ".png") != 0 ||
        (size_t)st->st_size > PNG_FILE_BYTES_MAX)
        return 0;
    if (file_count >= PNG_FILES_MAX)
        return 1;
    char *bytes = NULL;
    size_t len = 0;
    md_error err;
    if (md_read_file(path, PNG_FILE_BYTES_MAX, &bytes, &len, &err) != 0)
        return 0;
    compare(path, (const uint8_t *)bytes, len, -1);
    md_free(bytes);
    file_count++;
    return 0;
}

static void test_files(const char *dir)
{
    int before = file_count, fast_before = fast_compared;
    nftw(dir, visit, 16, FTW_PHYS);
    printf("%s: %d PNG files, %d by the fast reader\n", dir, file_count - before,
           fast_compared - fast_before);
}

int main(void)
{
    md_limits_default(&limits);
    test_written();
    test_built();
    test_damaged();
    test_files(PNG_READ_CORPUS);
    const char *data = test_data_try("textures");
    if (data != NULL) {
        test_files(data);
        const char *assimp = test_data_try("formats/assimp");
        if (assimp != NULL)
            test_files(assimp);
        /* The default job's texture must take the fast path. */
        char *bytes = NULL;
        size_t len = 0;
        md_error err;
        const char *skin = test_data("textures/skin_A.png");
        if (md_read_file(skin, PNG_FILE_BYTES_MAX, &bytes, &len, &err) == 0) {
            png_fast_info info;
            CHECK_INT(1, png_fast_probe((const uint8_t *)bytes, len, &info));
            md_free(bytes);
        }
    }
    test_files("/usr/share");
    printf("%d decoded equal to libpng, %d of them by png_fast_decode; %d refused by both\n",
           compared, fast_compared, both_failed);
    CHECK(fast_compared > 100);
    return test_done();
}
