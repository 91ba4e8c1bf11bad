/*
 * png_read.h — the fast PNG reader behind img_decode (mesh/image.c): the IDAT stream inflated
 * whole by libdeflate and unfiltered here, for the common layouts only. Internal to the mesh
 * module (and its tests); everything else decodes through image.h.
 *
 * The reader never reports an error of its own: for anything it does not handle, or any data it
 * finds wrong, it answers "not handled" and image.c decodes the file with libpng, which then
 * gives the error message or the pixels it always gave. So the fast path only has to be right
 * where it succeeds: there its pixels equal libpng's simplified API (PNG_FORMAT_RGBA).
 */
#ifndef MESH_PNG_READ_H
#define MESH_PNG_READ_H

#include <stddef.h>
#include <stdint.h>

/* What png_fast_probe found: the layout the reader will decode. */
typedef struct png_fast_info {
    uint32_t width, height;
    int bit_depth, color_type;
    size_t idat_bytes;       /* the IDAT chunks' data, all together */
    int idat_chunks;         /* how many IDAT chunks (one needs no copy) */
    size_t idat_offset;      /* the first IDAT's data, when idat_chunks == 1 */
    uint8_t palette[256][4]; /* colour type 3: RGBA of each index (tRNS alpha, else 255) */
    int palette_count;
} png_fast_info;

/* Whether the fast reader handles this PNG: 8-bit grey, grey+alpha, RGB, RGBA or 1/2/4/8-bit
 * palette, not interlaced; every chunk's CRC right; IHDR, PLTE, IDAT (consecutive) and IEND
 * present and in order; no chunk that would make libpng change the samples (gAMA, cHRM, iCCP,
 * sBIT, tRNS outside a palette) and no unknown critical chunk. 1 and *info filled, or 0. */
int png_fast_probe(const uint8_t *bytes, size_t len, png_fast_info *info);

/* Scratch bytes png_fast_decode allocates (the inflated rows, and the joined IDATs when there
 * are several), for the decode budget. */
uint64_t png_fast_scratch_bytes(const png_fast_info *info);

/* Decodes a probed PNG into rgba (width * height * 4 bytes). 0 when done; 1 when the data turned
 * out not to be decodable here (bad deflate stream, checksum, filter type, palette index, too
 * much or too little data, out of memory): rgba is then partly written and the caller decodes
 * with libpng. */
int png_fast_decode(const png_fast_info *info, const uint8_t *bytes, size_t len, uint8_t *rgba);

#endif
