/*
 * png_fast.h — mesh-internal: the deflate encoder of img_encode_png's level 1 (png_fast.c).
 * Only png_write.c and the tests include it; everyone else calls img_encode_png.
 */
#ifndef MESH_PNG_FAST_H
#define MESH_PNG_FAST_H

#include <stddef.h>
#include <stdint.h>

/* Bytes png_fast_zlib may write for such an image. */
size_t png_fast_zlib_bound(int width, int height, unsigned channels);

/* Writes the PNG image data of pixels (width x height, channels 3 or 4 bytes a pixel, rows top
 * first, no padding) as PNG stores it in IDAT: every row Paeth-filtered, the whole a zlib stream.
 * out holds png_fast_zlib_bound bytes. Returns the bytes written, or 0 when out of memory for
 * its scratch (under 1 MiB). pixels and out are borrowed. */
size_t png_fast_zlib(const uint8_t *pixels, int width, int height, unsigned channels, uint8_t *out);

#endif
