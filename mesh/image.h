/*
 * image.h — textures and frames: PNG/JPEG decoding (libpng, libjpeg-turbo), PNG encoding, and
 * texture padding (filling texels outside every UV island from the island borders).
 *
 * Decoded images are always RGBA8, rows top to bottom, so the engines see one layout whatever
 * the file held (grey, grey+alpha, RGB, RGBA, palette, 16-bit). Frames are RGB8.
 *
 * Decoders are fed bytes (no I/O); img_load() is the thin file wrapper. Sizes are checked
 * against md_limits before any pixel buffer is allocated, and the pixels (and padding's scratch)
 * are taken from the process's decode budget (md_budget_take) first.
 */
#ifndef MESH_IMAGE_H
#define MESH_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/md.h"

typedef struct img img;

/* A width x height RGBA8 image filled with zeros; NULL on overflow or out of memory. */
img *img_new(int width, int height);
void img_free(img *im);

int img_width(const img *im);
int img_height(const img *im);
/* RGBA8, width*4 bytes per row, top row first. */
uint8_t *img_pixels(img *im);
const uint8_t *img_pixels_const(const img *im);

/* Decodes PNG or JPEG (sniffed from the first bytes, not the name). */
int img_decode(const uint8_t *bytes, size_t len, const md_limits *lim, img **out, md_error *err);
/* The declared size of a PNG or JPEG from its header alone, nothing decoded (so a request's
 * pixels can be counted before any is allocated). */
int img_probe(const uint8_t *bytes, size_t len, uint32_t *width, uint32_t *height, md_error *err);
/* Decode-budget bytes (base/md_budget.c) that decoding a width x height image takes. */
uint64_t img_decode_bytes(uint32_t width, uint32_t height);
/* Reads and decodes a file; errors name the path. */
int img_load(const char *path, const md_limits *lim, img **out, md_error *err);

/* Encodes an RGB8 (channels 3) or RGBA8 (channels 4) image to PNG in memory with the fixed Up
 * filter (adaptive filtering costs more than the compression), compressed by libdeflate at
 * level 0..9 (zlib's scale; png_write.c). For textures and figures. *out is md_malloc'ed; the
 * caller md_free's it. */
int img_encode_png(const uint8_t *pixels, int width, int height, int channels, int level,
                   uint8_t **out, size_t *out_len, md_error *err);
/* The same for rendered frames (a job's frames, live frames): at level 1, their default,
 * png_fast.c's coder (Paeth filter, runs and repeated rows, Huffman codes per chunk of rows)
 * takes a 512² frame in under a millisecond, about 4x faster than libdeflate's level 1 and
 * smaller on frames (bench/RESULTS.md); on textures and figures it is 5-35% larger, hence the
 * two functions. Other levels are img_encode_png's. */
int img_encode_png_frame(const uint8_t *pixels, int width, int height, int channels, int level,
                         uint8_t **out, size_t *out_len, md_error *err);

/* Texture padding. coverage is width*height bytes, nonzero where a texel lies inside some UV
 * island. Every uncovered texel takes the colour of the nearest covered texel (breadth-first
 * from the island borders, 8-connected), so bilinear lookups near seams never pick up the
 * background of an unpadded bake. With no covered texel the image is left as it is. */
int img_pad_from_coverage(img *im, const uint8_t *coverage, md_error *err);
/* Decode-budget bytes of img_pad_from_coverage's scratch for an image of that many pixels. */
uint64_t img_pad_scratch_bytes(uint64_t pixels);

#endif
