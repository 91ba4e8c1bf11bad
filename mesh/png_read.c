/*
 * png_read.c — the fast PNG reader (png_read.h): chunks walked and CRC-checked here, the IDAT
 * data inflated in one call by libdeflate (several times faster than zlib's inflate, which
 * libpng uses), then unfiltered row by row and expanded to RGBA8.
 *
 * Called by img_decode (mesh/image.c) on any thread; it keeps no state, and each decode owns
 * its libdeflate decompressor and scratch. It reports no errors: anything it does not handle or
 * finds wrong is "not handled" (1), and image.c hands the file to libpng, whose messages and
 * pixels are the reference. The layouts handled are exactly those whose conversion to
 * PNG_FORMAT_RGBA is a copy in libpng's simplified API (8-bit samples in sRGB, no gamma, no
 * colour-space chunk, no transparency key outside a palette): grey and grey+alpha are
 * replicated, RGB gets alpha 255, palette indices look up PLTE with tRNS alpha.
 * tests/test_png_read.c compares every PNG it can find against libpng.
 */
#include "mesh/png_read.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "base/md.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Bytes per row of filtered samples (without the filter byte), and per complete pixel (at
 * least 1: the filters' left neighbour for sub-byte depths). */
static uint64_t row_bytes(const png_fast_info *info)
{
    static const int channels[7] = {1, 0, 3, 1, 2, 0, 4};
    uint64_t bits =
        (uint64_t)info->width * (uint64_t)channels[info->color_type] * (uint64_t)info->bit_depth;
    return (bits + 7) / 8;
}

static int pixel_bytes(const png_fast_info *info)
{
    static const int channels[7] = {1, 0, 3, 1, 2, 0, 4};
    int bits = channels[info->color_type] * info->bit_depth;
    return bits < 8 ? 1 : bits / 8;
}

static uint64_t inflated_bytes(const png_fast_info *info)
{
    return (uint64_t)info->height * (row_bytes(info) + 1);
}

/* ---- Chunks ---- */

static int layout_handled(int bit_depth, int color_type)
{
    switch (color_type) {
    case 0: /* grey */
    case 2: /* RGB */
    case 4: /* grey + alpha */
    case 6: /* RGBA */
        return bit_depth == 8;
    case 3: /* palette */
        return bit_depth == 1 || bit_depth == 2 || bit_depth == 4 || bit_depth == 8;
    default:
        return 0;
    }
}

int png_fast_probe(const uint8_t *bytes, size_t len, png_fast_info *info)
{
    static const uint8_t magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memset(info, 0, sizeof *info);
    if (len < 8 || memcmp(bytes, magic, 8) != 0)
        return 0;
    size_t pos = 8;
    int seen_ihdr = 0, seen_plte = 0, seen_trns = 0, seen_iend = 0, idat_done = 0;
    while (!seen_iend) {
        if (len - pos < 12)
            return 0; /* truncated: libpng says how */
        uint32_t n = be32(bytes + pos);
        if (n > 0x7fffffffu || (size_t)n > len - pos - 12)
            return 0;
        const uint8_t *type = bytes + pos + 4, *data = bytes + pos + 8;
        if (libdeflate_crc32(0, type, (size_t)n + 4) != be32(data + n))
            return 0;
        int first = pos == 8;
        pos += (size_t)n + 12;
        if (first != (memcmp(type, "IHDR", 4) == 0))
            return 0; /* IHDR first, and only first */
        if (first) {
            if (n != 13)
                return 0;
            info->width = be32(data);
            info->height = be32(data + 4);
            info->bit_depth = data[8];
            info->color_type = data[9];
            /* compression 0, filter method 0, no interlace */
            if (info->width == 0 || info->height == 0 || info->width > 0x7fffffffu ||
                info->height > 0x7fffffffu || data[10] != 0 || data[11] != 0 || data[12] != 0 ||
                !layout_handled(info->bit_depth, info->color_type))
                return 0;
            seen_ihdr = 1;
            continue;
        }
        if (memcmp(type, "IDAT", 4) == 0) {
            if (idat_done || (info->color_type == 3 && !seen_plte))
                return 0;
            if (info->idat_chunks == 0)
                info->idat_offset = (size_t)(data - bytes);
            info->idat_chunks++;
            info->idat_bytes += n;
            continue;
        }
        if (info->idat_chunks > 0)
            idat_done = 1; /* any other chunk ends the IDAT run */
        if (memcmp(type, "IEND", 4) == 0) {
            seen_iend = 1;
        } else if (memcmp(type, "PLTE", 4) == 0) {
            if (seen_plte || idat_done || n % 3 != 0 || n == 0 || n / 3 > 256 ||
                info->color_type == 0 || info->color_type == 4)
                return 0;
            seen_plte = 1;
            if (info->color_type == 3) {
                if (n / 3 > (1u << info->bit_depth))
                    return 0;
                info->palette_count = (int)(n / 3);
                for (int i = 0; i < info->palette_count; i++) {
                    memcpy(info->palette[i], data + 3 * i, 3);
                    info->palette[i][3] = 255;
                }
            }
            /* For RGB(A) files PLTE is only a suggestion for viewers; libpng ignores it. */
        } else if (memcmp(type, "tRNS", 4) == 0) {
            if (info->color_type != 3 || !seen_plte || seen_trns || idat_done ||
                n > (uint32_t)info->palette_count)
                return 0;
            seen_trns = 1;
            for (uint32_t i = 0; i < n; i++)
                info->palette[i][3] = data[i];
        } else if (memcmp(type, "gAMA", 4) == 0 || memcmp(type, "cHRM", 4) == 0 ||
                   memcmp(type, "iCCP", 4) == 0 || memcmp(type, "sBIT", 4) == 0) {
            return 0; /* libpng may convert the samples: its job */
        } else if (!(type[0] & 0x20)) {
            return 0; /* an unknown critical chunk: libpng refuses it */
        }
        /* Other ancillary chunks (sRGB, pHYs, text, time, bKGD...) leave RGBA output alone. */
    }
    if (!seen_ihdr || info->idat_chunks == 0 || (info->color_type == 3 && !seen_plte))
        return 0;
    if (inflated_bytes(info) > SIZE_MAX / 2)
        return 0;
    return 1;
}

/* ---- Pixels ---- */

/* Branch-free Paeth predictor (the compiler turns the selects into conditional moves). */
static inline uint8_t paeth(int a, int b, int c)
{
    int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    int pick_a = pa <= pb && pa <= pc;
    int pick_b = !pick_a && pb <= pc;
    return (uint8_t)(pick_a ? a : pick_b ? b : c);
}

/* Undoes row's filter in place; prev is the row above, unfiltered (zeros for the first row).
 * bpp is a constant in each call below, so the loops are compiled per pixel size: Sub and
 * Paeth carry a dependency from pixel to pixel, which a run-time stride would slow down. */
static inline __attribute__((always_inline)) int
unfilter_bpp(int filter, uint8_t *row, const uint8_t *prev, size_t n, const int bpp)
{
    size_t i;
    switch (filter) {
    case 0:
        return 0;
    case 1:
        for (i = (size_t)bpp; i < n; i++)
            row[i] = (uint8_t)(row[i] + row[i - bpp]);
        return 0;
    case 2:
        for (i = 0; i < n; i++)
            row[i] = (uint8_t)(row[i] + prev[i]);
        return 0;
    case 3:
        for (i = 0; i < (size_t)bpp && i < n; i++)
            row[i] = (uint8_t)(row[i] + (prev[i] >> 1));
        for (; i < n; i++)
            row[i] = (uint8_t)(row[i] + ((row[i - bpp] + prev[i]) >> 1));
        return 0;
    case 4:
        for (i = 0; i < (size_t)bpp && i < n; i++)
            row[i] = (uint8_t)(row[i] + prev[i]); /* paeth(0, b, 0) is b */
        for (; i < n; i++)
            row[i] = (uint8_t)(row[i] + paeth(row[i - bpp], prev[i], prev[i - bpp]));
        return 0;
    default:
        return 1; /* a filter type PNG does not define */
    }
}

static int unfilter(int filter, uint8_t *row, const uint8_t *prev, size_t n, int bpp)
{
    switch (bpp) {
    case 1:
        return unfilter_bpp(filter, row, prev, n, 1);
    case 2:
        return unfilter_bpp(filter, row, prev, n, 2);
    case 3:
        return unfilter_bpp(filter, row, prev, n, 3);
    default:
        return unfilter_bpp(filter, row, prev, n, 4);
    }
}

/* One unfiltered row of samples to RGBA8. 0, or 1 for a palette index outside PLTE. */
static int expand_row(const png_fast_info *info, const uint8_t *in, uint8_t *out)
{
    uint32_t w = info->width;
    switch (info->color_type) {
    case 0:
        for (uint32_t x = 0; x < w; x++, out += 4)
            out[0] = out[1] = out[2] = in[x], out[3] = 255;
        return 0;
    case 2:
        for (uint32_t x = 0; x < w; x++, in += 3, out += 4)
            out[0] = in[0], out[1] = in[1], out[2] = in[2], out[3] = 255;
        return 0;
    case 4:
        for (uint32_t x = 0; x < w; x++, in += 2, out += 4)
            out[0] = out[1] = out[2] = in[0], out[3] = in[1];
        return 0;
    case 6:
        memcpy(out, in, (size_t)w * 4);
        return 0;
    default: { /* 3: palette, 1..8 bits an index, most significant bits first */
        int depth = info->bit_depth, per_byte = 8 / depth;
        unsigned mask = (1u << depth) - 1;
        for (uint32_t x = 0; x < w; x++, out += 4) {
            int shift = 8 - depth * (int)(x % (uint32_t)per_byte + 1);
            unsigned index = (in[x / (uint32_t)per_byte] >> shift) & mask;
            if ((int)index >= info->palette_count)
                return 1;
            memcpy(out, info->palette[index], 4);
        }
        return 0;
    }
    }
}

/* Where the inflated rows go: when they are no larger than the RGBA pixels (every layout but
 * RGBA), into the end of rgba itself, so no image-sized scratch is touched (on a 2048² RGB
 * texture that scratch's page faults cost more than the unfiltering). Row y is copied out to a
 * row buffer, unfiltered and expanded to RGBA row y, whose end, (y + 1) * 4w, never passes the
 * start of inflated row y + 1, tail + (y + 1) * (stride + 1) with tail = h * (4w - stride - 1),
 * since stride + 1 <= 4w. RGBA files inflate into a scratch buffer of their own. */
static int in_place(const png_fast_info *info)
{
    return row_bytes(info) + 1 <= (uint64_t)info->width * 4;
}

uint64_t png_fast_scratch_bytes(const png_fast_info *info)
{
    uint64_t rows = in_place(info) ? 0 : inflated_bytes(info);
    return rows + 2 * row_bytes(info) + (info->idat_chunks > 1 ? info->idat_bytes : 0);
}

int png_fast_decode(const png_fast_info *info, const uint8_t *bytes, size_t len, uint8_t *rgba)
{
    size_t stride = (size_t)row_bytes(info), total = (size_t)inflated_bytes(info);
    int bpp = pixel_bytes(info);
    const uint8_t *z = bytes + info->idat_offset;
    uint8_t *joined = NULL, *scratch = NULL, *rows;
    if (in_place(info))
        rows = rgba + ((size_t)info->width * 4 * info->height - total);
    else
        rows = scratch = md_malloc(total ? total : 1);
    uint8_t *line[2] = {md_calloc(stride, 1), md_calloc(stride, 1)}; /* line[0]: row y - 1 */
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    int rc = rows == NULL || line[0] == NULL || line[1] == NULL || d == NULL;
    if (rc == 0 && info->idat_chunks > 1) {
        /* The IDATs' data side by side: libdeflate inflates one buffer. */
        joined = md_malloc(info->idat_bytes ? info->idat_bytes : 1);
        rc = joined == NULL;
        size_t pos = info->idat_offset - 8, at = 0;
        for (int k = 0; rc == 0 && k < info->idat_chunks; k++) {
            uint32_t n = be32(bytes + pos);
            memcpy(joined + at, bytes + pos + 8, n);
            at += n;
            pos += (size_t)n + 12;
        }
        z = joined;
    }
    (void)len; /* png_fast_probe bounded every chunk within len */
    size_t used_in = 0, got = 0;
    if (rc == 0) {
        enum libdeflate_result r =
            libdeflate_zlib_decompress_ex(d, z, info->idat_bytes, rows, total, &used_in, &got);
        /* Exactly the image's bytes, and nothing after the stream (libpng would complain). */
        rc = r != LIBDEFLATE_SUCCESS || got != total || used_in != info->idat_bytes;
    }
    for (uint32_t y = 0; rc == 0 && y < info->height; y++) {
        const uint8_t *row = rows + (size_t)y * (stride + 1);
        uint8_t *cur = line[1];
        memcpy(cur, row + 1, stride);
        rc = unfilter(row[0], cur, line[0], stride, bpp);
        if (rc == 0)
            rc = expand_row(info, cur, rgba + (size_t)y * info->width * 4);
        line[1] = line[0];
        line[0] = cur;
    }
    libdeflate_free_decompressor(d);
    md_free(line[0]);
    md_free(line[1]);
    md_free(scratch);
    md_free(joined);
    return rc;
}
