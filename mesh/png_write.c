/*
 * png_write.c — img_encode_png: the PNG encoder of every frame, figure and texture morphd writes.
 *
 * On a GPU node the host's PNG encoder is the ceiling of the whole node, so this path is ours:
 * each row is filtered with one fixed filter (PNG's Up: adaptive choice costs more than the
 * compression), the filtered image is compressed in one call by libdeflate into a zlib stream
 * (several times faster than zlib at the same level, files no larger), and the PNG is those
 * bytes in four chunks: signature, IHDR, one IDAT, IEND, each with its CRC (libdeflate's
 * crc32). libpng still decodes (image.c); a PNG from here is an ordinary 8-bit RGB or RGBA,
 * non-interlaced PNG that any decoder reads.
 *
 * Levels are zlib's 0..9 (0: stored, no compression), passed to libdeflate as they are. One
 * compressor per call: its allocation is small against the encoding, and calls from many
 * threads share nothing.
 */
#include "mesh/image.h"

#include <libdeflate.h>
#include <string.h>

#define PNG_FILTER_UP 2

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes the CRC of a chunk whose type starts at p (type + data_len bytes) right after it. */
static void put_crc(uint8_t *type, size_t data_len)
{
    put_u32(type + 4 + data_len, libdeflate_crc32(0, type, 4 + data_len));
}

/* Each row as PNG stores it: a filter byte, then the Up differences (the first row's are the
 * row itself: the row above the image is zeros). */
static void filter_up(const uint8_t *pixels, size_t stride, int height, uint8_t *out)
{
    for (int y = 0; y < height; y++) {
        const uint8_t *row = pixels + (size_t)y * stride;
        uint8_t *o = out + (size_t)y * (stride + 1);
        o[0] = PNG_FILTER_UP;
        if (y == 0) {
            memcpy(o + 1, row, stride);
            continue;
        }
        const uint8_t *up = row - stride;
        for (size_t i = 0; i < stride; i++)
            o[1 + i] = (uint8_t)(row[i] - up[i]);
    }
}

int img_encode_png(const uint8_t *pixels, int width, int height, int channels, int level,
                   uint8_t **out, size_t *out_len, md_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (width <= 0 || height <= 0 || (channels != 3 && channels != 4) || level < 0 || level > 9)
        return md_fail(err, MD_EINVAL, "cannot encode a %dx%d PNG with %d channels at level %d",
                       width, height, channels, level);
    size_t stride = (size_t)width * (size_t)channels;
    /* PNG limits: 2^31 - 1 pixels a side, and one IDAT chunk holds under 2^31 bytes. */
    if ((uint64_t)height * (stride + 1) > ((uint64_t)1 << 30))
        return md_fail(err, MD_ELIMIT, "a %dx%d PNG with %d channels is over 1 GiB of pixels",
                       width, height, channels);
    size_t raw_len = (size_t)height * (stride + 1);
    uint8_t *raw = md_malloc(raw_len);
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    if (raw == NULL || c == NULL) {
        md_free(raw);
        libdeflate_free_compressor(c);
        return md_fail(err, MD_ENOMEM, "out of memory encoding a %dx%d PNG", width, height);
    }
    filter_up(pixels, stride, height, raw);

    /* signature 8, IHDR 12 + 13, IDAT 12 + data, IEND 12 */
    size_t bound = libdeflate_zlib_compress_bound(c, raw_len);
    size_t cap = 8 + 25 + 12 + bound + 12;
    uint8_t *png = md_malloc(cap);
    if (png == NULL) {
        md_free(raw);
        libdeflate_free_compressor(c);
        return md_fail(err, MD_ENOMEM, "out of memory encoding a %dx%d PNG", width, height);
    }
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(png, signature, 8);
    uint8_t *ihdr = png + 8;
    put_u32(ihdr, 13);
    memcpy(ihdr + 4, "IHDR", 4);
    put_u32(ihdr + 8, (uint32_t)width);
    put_u32(ihdr + 12, (uint32_t)height);
    ihdr[16] = 8;                       /* bit depth */
    ihdr[17] = channels == 4 ? 6 : 2;   /* colour type: RGBA or RGB */
    ihdr[18] = ihdr[19] = ihdr[20] = 0; /* deflate, adaptive filtering (per row), no interlace */
    put_crc(ihdr + 4, 13);
    uint8_t *idat = ihdr + 25;
    size_t n = libdeflate_zlib_compress(c, raw, raw_len, idat + 8, bound);
    md_free(raw);
    libdeflate_free_compressor(c);
    if (n == 0) { /* cannot happen with the bound; kept as an error, not a broken file */
        md_free(png);
        return md_fail(err, MD_EINTERNAL,
                       "PNG encoding failed: the compressed %dx%d image did "
                       "not fit its bound",
                       width, height);
    }
    put_u32(idat, (uint32_t)n);
    memcpy(idat + 4, "IDAT", 4);
    put_crc(idat + 4, n);
    uint8_t *iend = idat + 12 + n;
    put_u32(iend, 0);
    memcpy(iend + 4, "IEND", 4);
    put_crc(iend + 4, 0);
    *out = png;
    *out_len = (size_t)(iend + 12 - png);
    return 0;
}
