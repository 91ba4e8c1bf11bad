/*
 * image.c — RGBA8 images: PNG decoding by the fast reader (png_read.c: libdeflate, for 8-bit
 * grey, RGB, RGBA and palette files without colour-space chunks, the pixels libpng would give)
 * or else through libpng's simplified API (which converts grey, palette, 16-bit and alpha
 * variants to RGBA for us), JPEG decoding through libjpeg-turbo
 * (straight to RGBA), PNG encoding with a fixed Up filter into a memory buffer, and padding of
 * texels outside UV islands.
 *
 * Decoders are fed bytes and check the declared size against md_limits before allocating pixels.
 * Decoded pixels and padding's scratch are taken from the process's decode budget
 * (md_budget_take, base/md_budget.c) before they are allocated and given back when freed, so
 * the api can bound what concurrent decodes hold; an image remembers what it took.
 * libjpeg reports errors by longjmp; each decode owns its jmp_buf, so decoding is thread-safe.
 * PNG encoding is called from engine threads concurrently: it shares no state.
 */
#include "mesh/image.h"
#include "mesh/png_read.h"

#include <png.h>
#include <setjmp.h>
#include <string.h>
/* jpeglib.h needs FILE and size_t declared first. */
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>

struct img {
    int width;
    int height;
    uint8_t *pixels;  /* RGBA8, width * 4 bytes per row */
    uint64_t charged; /* bytes taken from the decode budget, given back by img_free */
};

img *img_new(int width, int height)
{
    if (width <= 0 || height <= 0)
        return NULL;
    size_t bytes;
    if (md_mul_size((size_t)width, (size_t)height, &bytes) != 0 ||
        md_mul_size(bytes, 4, &bytes) != 0)
        return NULL;
    img *im = md_calloc(1, sizeof *im);
    if (im == NULL)
        return NULL;
    im->pixels = md_calloc(bytes, 1);
    if (im->pixels == NULL) {
        md_free(im);
        return NULL;
    }
    im->width = width;
    im->height = height;
    return im;
}

void img_free(img *im)
{
    if (im == NULL)
        return;
    md_free(im->pixels);
    if (im->charged > 0)
        md_budget_give(im->charged);
    md_free(im);
}

int img_width(const img *im)
{
    return im->width;
}

int img_height(const img *im)
{
    return im->height;
}

uint8_t *img_pixels(img *im)
{
    return im->pixels;
}

const uint8_t *img_pixels_const(const img *im)
{
    return im->pixels;
}

static int check_size(uint64_t width, uint64_t height, const md_limits *lim, md_error *err)
{
    if (width == 0 || height == 0)
        return md_fail(err, MD_EPARSE, "the image declares a size of %llux%llu pixels",
                       (unsigned long long)width, (unsigned long long)height);
    if (width > lim->max_texture_side || height > lim->max_texture_side ||
        width * height > lim->max_texture_pixels)
        return md_fail(err, MD_ELIMIT,
                       "the image is %llux%llu pixels; the limit is %llu pixels a side and %llu "
                       "pixels in all",
                       (unsigned long long)width, (unsigned long long)height,
                       (unsigned long long)lim->max_texture_side,
                       (unsigned long long)lim->max_texture_pixels);
    if (width * height > lim->max_request_pixels)
        return md_fail(err, MD_ELIMIT,
                       "the image is %llux%llu pixels, more than max_request_pixels=%llu for a "
                       "whole request",
                       (unsigned long long)width, (unsigned long long)height,
                       (unsigned long long)lim->max_request_pixels);
    return 0;
}

uint64_t img_decode_bytes(uint32_t width, uint32_t height)
{
    return (uint64_t)width * height * 4;
}

/* An image of width x height with its pixels taken from the decode budget first. */
static int img_new_charged(uint32_t width, uint32_t height, img **out, md_error *err)
{
    uint64_t bytes = img_decode_bytes(width, height);
    char what[64];
    snprintf(what, sizeof what, "a %ux%u image", width, height);
    int rc = md_budget_take(bytes, what, err);
    if (rc != 0)
        return rc;
    img *im = img_new((int)width, (int)height);
    if (im == NULL) {
        md_budget_give(bytes);
        return md_fail(err, MD_ENOMEM, "out of memory for a %ux%u image", width, height);
    }
    im->charged = bytes;
    *out = im;
    return 0;
}

/* ---- PNG decoding ---- */

/* The fast reader (png_read.c) for the layouts it handles; 1 when it did not decode (the file
 * goes to libpng), else 0 or a size error (the same check libpng's path makes). */
static int decode_png_fast(const uint8_t *bytes, size_t len, const md_limits *lim, img **out,
                           md_error *err)
{
    png_fast_info info;
    if (!png_fast_probe(bytes, len, &info))
        return 1;
    int rc = check_size(info.width, info.height, lim, err);
    if (rc != 0)
        return rc;
    img *im = NULL;
    if ((rc = img_new_charged(info.width, info.height, &im, err)) != 0)
        return rc;
    /* Its scratch is budgeted too; when the budget is short, libpng's row-at-a-time path. */
    uint64_t scratch = png_fast_scratch_bytes(&info);
    md_error quiet;
    md_error_clear(&quiet);
    int done = 0;
    if (md_budget_take(scratch, "decoding a PNG", &quiet) == 0) {
        done = png_fast_decode(&info, bytes, len, im->pixels) == 0;
        md_budget_give(scratch);
    }
    if (!done) {
        img_free(im);
        return 1;
    }
    *out = im;
    return 0;
}

static int decode_png(const uint8_t *bytes, size_t len, const md_limits *lim, img **out,
                      md_error *err)
{
    int fast = decode_png_fast(bytes, len, lim, out, err);
    if (fast <= 0)
        return fast;
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&pi, bytes, len))
        return md_fail(err, MD_EPARSE, "not a readable PNG: %s", pi.message);
    int rc = check_size(pi.width, pi.height, lim, err);
    if (rc != 0) {
        png_image_free(&pi);
        return rc;
    }
    pi.format = PNG_FORMAT_RGBA;
    img *im = NULL;
    if ((rc = img_new_charged(pi.width, pi.height, &im, err)) != 0) {
        png_image_free(&pi);
        return rc;
    }
    if (!png_image_finish_read(&pi, NULL, im->pixels, (png_int_32)(im->width * 4), NULL)) {
        rc = md_fail(err, MD_EPARSE, "PNG data is damaged: %s", pi.message);
        png_image_free(&pi);
        img_free(im);
        return rc;
    }
    /* libpng reports recoverable problems (e.g. a bad CRC in an ancillary chunk) as warnings. */
    *out = im;
    return 0;
}

/* ---- JPEG decoding ---- */

struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int truncated; /* the data ended before the image did */
};

static void jpeg_fail_exit(j_common_ptr cinfo)
{
    struct jpeg_fail *fail = (struct jpeg_fail *)cinfo->err;
    cinfo->err->format_message(cinfo, fail->message);
    longjmp(fail->jump, 1);
}

/* Corrupt-data warnings: libjpeg recovers and we keep what it decoded (cameras write small
 * glitches that every viewer ignores). Running out of data is different: libjpeg "recovers"
 * by painting the rest of the image grey, a silently wrong texture, so it is an error. */
static void jpeg_quiet(j_common_ptr cinfo, int level)
{
    struct jpeg_fail *fail = (struct jpeg_fail *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        fail->truncated = 1;
}

/* libjpeg reports through fail: errors longjmp to fail->jump with the message kept, warnings
 * are dropped, a truncated stream is flagged (the decoder and img_probe share this). */
static void jpeg_fail_init(struct jpeg_decompress_struct *cinfo, struct jpeg_fail *fail)
{
    cinfo->err = jpeg_std_error(&fail->mgr);
    fail->mgr.error_exit = jpeg_fail_exit;
    fail->mgr.emit_message = jpeg_quiet;
    fail->message[0] = '\0';
    fail->truncated = 0;
}

static int decode_jpeg(const uint8_t *bytes, size_t len, const md_limits *lim, img **out,
                       md_error *err)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_fail fail;
    /* volatile: assigned between setjmp and a possible longjmp. */
    img *volatile im = NULL;
    int rc = 0;
    memset(&cinfo, 0, sizeof cinfo);
    jpeg_fail_init(&cinfo, &fail);
    if (setjmp(fail.jump)) {
        rc = md_fail(err, MD_EPARSE, "not a readable JPEG: %s", fail.message);
        goto done;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    rc = check_size(cinfo.image_width, cinfo.image_height, lim, err);
    if (rc != 0)
        goto done;
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        rc = md_fail(err, MD_EFORMAT, "CMYK JPEG textures are not supported; save it as RGB");
        goto done;
    }
    cinfo.out_color_space = JCS_EXT_RGBA;
    jpeg_start_decompress(&cinfo); /* progressive files are read whole here */
    if (fail.truncated) {
        rc = md_fail(err, MD_EPARSE, "the JPEG data ends before the image does (truncated file?)");
        goto done;
    }
    img *fresh = NULL;
    if ((rc = img_new_charged(cinfo.output_width, cinfo.output_height, &fresh, err)) != 0)
        goto done;
    im = fresh;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = im->pixels + (size_t)cinfo.output_scanline * (size_t)im->width * 4;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (fail.truncated) {
            rc = md_fail(err, MD_EPARSE, "the JPEG data ends at row %u of %u (truncated file?)",
                         cinfo.output_scanline, cinfo.output_height);
            goto done;
        }
    }
    jpeg_finish_decompress(&cinfo);
done:
    jpeg_destroy_decompress(&cinfo);
    if (rc != 0) {
        img_free(im);
        return rc;
    }
    *out = im;
    return 0;
}

/* ---- Entry points ---- */

int img_probe(const uint8_t *bytes, size_t len, uint32_t *width, uint32_t *height, md_error *err)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    *width = *height = 0;
    if (len >= 8 && memcmp(bytes, png_magic, 8) == 0) {
        /* The first chunk is IHDR: length 13, "IHDR", width and height big-endian. */
        if (len < 24 || memcmp(bytes + 12, "IHDR", 4) != 0)
            return md_fail(err, MD_EPARSE, "not a readable PNG: no IHDR chunk first");
        *width = (uint32_t)bytes[16] << 24 | (uint32_t)bytes[17] << 16 | (uint32_t)bytes[18] << 8 |
                 bytes[19];
        *height = (uint32_t)bytes[20] << 24 | (uint32_t)bytes[21] << 16 | (uint32_t)bytes[22] << 8 |
                  bytes[23];
        return 0;
    }
    if (len >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) {
        struct jpeg_decompress_struct cinfo;
        struct jpeg_fail fail;
        int rc = 0;
        memset(&cinfo, 0, sizeof cinfo);
        jpeg_fail_init(&cinfo, &fail);
        if (setjmp(fail.jump)) {
            rc = md_fail(err, MD_EPARSE, "not a readable JPEG: %s", fail.message);
            goto done;
        }
        jpeg_create_decompress(&cinfo);
        jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
        jpeg_read_header(&cinfo, TRUE);
        *width = cinfo.image_width;
        *height = cinfo.image_height;
    done:
        jpeg_destroy_decompress(&cinfo);
        return rc;
    }
    if (len == 0)
        return md_fail(err, MD_EPARSE, "the image file is empty");
    return md_fail(err, MD_EFORMAT, "the image is neither PNG nor JPEG (unknown first bytes)");
}

int img_decode(const uint8_t *bytes, size_t len, const md_limits *lim, img **out, md_error *err)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    *out = NULL;
    if (len >= 8 && memcmp(bytes, png_magic, 8) == 0)
        return decode_png(bytes, len, lim, out, err);
    if (len >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
        return decode_jpeg(bytes, len, lim, out, err);
    if (len == 0)
        return md_fail(err, MD_EPARSE, "the image file is empty");
    return md_fail(err, MD_EFORMAT, "the image is neither PNG nor JPEG (unknown first bytes)");
}

int img_load(const char *path, const md_limits *lim, img **out, md_error *err)
{
    char *bytes;
    size_t len;
    *out = NULL;
    int rc = md_read_file(path, lim->max_file_bytes, &bytes, &len, err);
    if (rc != 0)
        return rc;
    rc = img_decode((const uint8_t *)bytes, len, lim, out, err);
    md_free(bytes);
    if (rc != 0)
        md_error_prefix(err, "texture %s: ", path);
    return rc;
}

/* ---- Padding ---- */

/* Whether covered texel (x, y) touches an uncovered one (8-connected): only those can pass a
 * colour on, so only they seed the search. */
static int on_border(const uint8_t *done, int w, int h, int x, int y)
{
    for (int ny = y - 1; ny <= y + 1; ny++) {
        if (ny < 0 || ny >= h)
            continue;
        const uint8_t *row = done + (size_t)ny * (size_t)w;
        for (int nx = x - 1; nx <= x + 1; nx++)
            if (nx >= 0 && nx < w && !row[nx])
                return 1;
    }
    return 0;
}

uint64_t img_pad_scratch_bytes(uint64_t pixels)
{
    return pixels * (1 + sizeof(uint32_t)); /* the done flags and the queue */
}

int img_pad_from_coverage(img *im, const uint8_t *coverage, md_error *err)
{
    size_t n = (size_t)im->width * (size_t)im->height;
    char what[64];
    snprintf(what, sizeof what, "padding a %dx%d texture", im->width, im->height);
    uint64_t scratch = img_pad_scratch_bytes(n);
    int rc = md_budget_take(scratch, what, err);
    if (rc != 0)
        return rc;
    uint8_t *done = md_malloc(n);
    uint32_t *queue = md_malloc_array(n, sizeof *queue);
    if (done == NULL || queue == NULL) {
        md_free(done);
        md_free(queue);
        md_budget_give(scratch);
        return md_fail(err, MD_ENOMEM, "out of memory padding a %dx%d texture", im->width,
                       im->height);
    }
    /* Breadth-first from the covered texels: each uncovered texel copies the texel that
     * reached it first, i.e. a nearest covered texel in the chessboard metric. The search is
     * seeded with the covered texels that touch an uncovered one, in index order: interior
     * texels could reach nothing, so leaving them out changes no result and saves most of the
     * work on a texture that the UV layout mostly covers. */
    size_t head = 0, tail = 0, covered = 0;
    for (size_t i = 0; i < n; i++) {
        done[i] = coverage[i] != 0;
        covered += done[i];
    }
    if (covered == 0 || covered == n)
        goto out;
    int w = im->width, h = im->height;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = done + (size_t)y * (size_t)w;
        const uint8_t *above = y > 0 ? row - w : row, *below = y + 1 < h ? row + w : row;
        for (int x = 0; x < w; x++) {
            if (!row[x])
                continue;
            /* Fast path for the interior: three covered texels above, beside and below. */
            if (x > 0 && x + 1 < w && above[x - 1] && above[x] && above[x + 1] && row[x - 1] &&
                row[x + 1] && below[x - 1] && below[x] && below[x + 1])
                continue;
            if (on_border(done, w, h, x, y))
                queue[tail++] = (uint32_t)((size_t)y * (size_t)w + (size_t)x);
        }
    }
    uint32_t *px = (uint32_t *)(void *)im->pixels;
    while (head < tail) {
        uint32_t i = queue[head++];
        int x = (int)(i % (uint32_t)w), y = (int)(i / (uint32_t)w);
        for (int dy = -1; dy <= 1; dy++) {
            int ny = y + dy;
            if (ny < 0 || ny >= h)
                continue;
            for (int dx = -1; dx <= 1; dx++) {
                int nx = x + dx;
                if (nx < 0 || nx >= w)
                    continue;
                size_t j = (size_t)ny * (size_t)w + (size_t)nx;
                if (done[j])
                    continue;
                done[j] = 1;
                px[j] = px[i];
                queue[tail++] = (uint32_t)j;
            }
        }
    }
out:
    md_free(done);
    md_free(queue);
    md_budget_give(scratch);
    return 0;
}
