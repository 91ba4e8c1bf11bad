/*
 * png_write.c — img_encode_png and img_encode_png_frame: the PNG encoder of every frame, figure
 * and texture morphd writes (any thread; calls share nothing).
 *
 * On a GPU node the host's PNG encoder is the ceiling of the whole node, so this path is ours.
 * Two coders make the image data:
 *   - libdeflate (img_encode_png, and every level but 1 of img_encode_png_frame): each row
 *     filtered with one fixed filter (PNG's Up: adaptive choice costs more than the
 *     compression), the filtered image compressed in one call into a zlib stream, several
 *     times faster than zlib at the same level, files no larger. Levels are zlib's 0..9 (0:
 *     stored), passed to libdeflate as they are.
 *   - png_fast.c (img_encode_png_frame at level 1, the default): a coder made for rendered
 *     frames, about 4x faster again and smaller on them; it has no general LZ77 matches, so
 *     textures and figures, where those pay, stay with libdeflate (bench/RESULTS.md).
 * The PNG is those bytes in four chunks: signature, IHDR, one IDAT, IEND, each with its CRC
 * (libdeflate's crc32). libpng still decodes (image.c); a PNG from here is an ordinary 8-bit RGB
 * or RGBA, non-interlaced PNG that any decoder reads. The output is a function of the pixels
 * and the level alone.
 */
#include "mesh/image.h"

#include <libdeflate.h>
#include <string.h>

#include "mesh/png_fast.h"

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

/* fast: level 1 takes png_fast.c's coder (img_encode_png_frame), else libdeflate's. */
static int encode(const uint8_t *pixels, int width, int height, int channels, int level, int fast,
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
    fast = fast && level == 1;
    size_t raw_len = (size_t)height * (stride + 1);
    uint8_t *raw = NULL, *png = NULL;
    struct libdeflate_compressor *c = NULL;
    int rc = 0;
    size_t bound;
    if (fast) {
        bound = png_fast_zlib_bound(width, height, (unsigned)channels);
    } else {
        raw = md_malloc(raw_len);
        c = libdeflate_alloc_compressor(level);
        if (raw == NULL || c == NULL) {
            rc = md_fail(err, MD_ENOMEM, "out of memory encoding a %dx%d PNG", width, height);
            goto done;
        }
        filter_up(pixels, stride, height, raw);
        bound = libdeflate_zlib_compress_bound(c, raw_len);
    }

    /* signature 8, IHDR 12 + 13, IDAT 12 + data, IEND 12 */
    size_t cap = 8 + 25 + 12 + bound + 12;
    png = md_malloc(cap);
    if (png == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory encoding a %dx%d PNG", width, height);
        goto done;
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
    size_t n = fast ? png_fast_zlib(pixels, width, height, (unsigned)channels, idat + 8)
                    : libdeflate_zlib_compress(c, raw, raw_len, idat + 8, bound);
    if (n == 0) {
        /* png_fast_zlib: no memory for its scratch; libdeflate: cannot happen with the bound,
         * kept as an error, not a broken file. */
        rc = fast ? md_fail(err, MD_ENOMEM, "out of memory encoding a %dx%d PNG", width, height)
                  : md_fail(err, MD_EINTERNAL,
                            "PNG encoding failed: the compressed %dx%d image did not fit its "
                            "bound",
                            width, height);
        goto done;
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
    png = NULL;
done:
    md_free(png);
    md_free(raw);
    libdeflate_free_compressor(c);
    return rc;
}

int img_encode_png(const uint8_t *pixels, int width, int height, int channels, int level,
                   uint8_t **out, size_t *out_len, md_error *err)
{
    return encode(pixels, width, height, channels, level, 0, out, out_len, err);
}

int img_encode_png_frame(const uint8_t *pixels, int width, int height, int channels, int level,
                         uint8_t **out, size_t *out_len, md_error *err)
{
    return encode(pixels, width, height, channels, level, 1, out, out_len, err);
}
