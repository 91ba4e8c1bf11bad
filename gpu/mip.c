/*
 * mip.c — the host-side mip pyramid builder (see mip.h for the levels' sizes, the filter and
 * the layout). Called on the batch's thread by the CPU engine and by the CUDA engine's upload,
 * once per distinct texture of a batch; pure, so any thread. Allocates nothing: the callers
 * own the level buffer (grown, never shrunk, with their other scratch).
 *
 * The common case, both sides even, is the 2 x 2 box mean with its own loop. Any other size
 * goes through the general area average: along one axis, output texel i covers
 * [i * s / d, (i + 1) * s / d) of the input; scaled by d, input texel j weighs the integer
 * overlap of [j * d, (j + 1) * d) with [i * s, (i + 1) * s), and the weights of a row sum to s.
 * In two dimensions the weights multiply and sum to sw * sh; times 255 per texel that fits in
 * 64 bits for any texture an int can describe.
 */
#include "gpu/mip.h"

int eng_mip_level_count(int w, int h)
{
    int side = w > h ? w : h;
    int levels = 1;
    while (side > 1 && levels < ENG_MIP_LEVELS) {
        side /= 2;
        levels++;
    }
    return levels;
}

static size_t align_mip(size_t n)
{
    return (n + (ENG_MIP_ALIGN - 1)) & ~(size_t)(ENG_MIP_ALIGN - 1);
}

size_t eng_mip_layout(int w, int h, eng_mip *m, size_t offsets[ENG_MIP_LEVELS])
{
    m->levels = eng_mip_level_count(w, h);
    size_t bytes = 0;
    for (int l = 0; l < ENG_MIP_LEVELS; l++) {
        m->width[l] = 0;
        m->height[l] = 0;
        offsets[l] = 0;
    }
    m->width[0] = w;
    m->height[0] = h;
    for (int l = 1; l < m->levels; l++) {
        m->width[l] = m->width[l - 1] > 1 ? m->width[l - 1] / 2 : 1;
        m->height[l] = m->height[l - 1] > 1 ? m->height[l - 1] / 2 : 1;
        offsets[l] = bytes;
        bytes = align_mip(bytes + (size_t)m->width[l] * (size_t)m->height[l] * 4);
    }
    return bytes;
}

/* Even sides: each output texel is the rounded mean of its 2 x 2 block. */
static void downsample_box(const uint8_t *src, int sw, uint8_t *dst, int dw, int dh)
{
    const size_t stride = (size_t)sw * 4;
    for (int y = 0; y < dh; y++) {
        const uint8_t *r0 = src + (size_t)(2 * y) * stride;
        const uint8_t *r1 = r0 + stride;
        uint8_t *o = dst + (size_t)y * (size_t)dw * 4;
        for (int x = 0; x < dw; x++) {
            for (int k = 0; k < 4; k++) {
                const unsigned sum =
                    (unsigned)r0[8 * x + k] + r0[8 * x + 4 + k] + r1[8 * x + k] + r1[8 * x + 4 + k];
                o[4 * x + k] = (uint8_t)((sum + 2) >> 2);
            }
        }
    }
}

/* The input texels [*first, *first + *count) that output texel i of d covers along a side of
 * s, with their integer weights (overlap scaled by d); at most 4 taps since s / d < 4 here. */
static int axis_taps(int i, int s, int d, int *first, uint64_t weight[4])
{
    const uint64_t lo = (uint64_t)i * (uint64_t)s, hi = (uint64_t)(i + 1) * (uint64_t)s;
    const int j0 = (int)(lo / (uint64_t)d);
    int n = 0;
    for (int j = j0; j < s && n < 4; j++) {
        const uint64_t a = (uint64_t)j * (uint64_t)d, b = a + (uint64_t)d;
        if (a >= hi)
            break;
        const uint64_t from = a > lo ? a : lo, to = b < hi ? b : hi;
        weight[n++] = to - from;
    }
    *first = j0;
    return n;
}

/* Any sides: the exact area average, rounded half up. */
static void downsample_area(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    const uint64_t total = (uint64_t)sw * (uint64_t)sh;
    for (int y = 0; y < dh; y++) {
        int y0;
        uint64_t wy[4];
        const int ny = axis_taps(y, sh, dh, &y0, wy);
        for (int x = 0; x < dw; x++) {
            int x0;
            uint64_t wx[4];
            const int nx = axis_taps(x, sw, dw, &x0, wx);
            uint64_t sum[4] = {0, 0, 0, 0};
            for (int j = 0; j < ny; j++) {
                const uint8_t *row = src + ((size_t)(y0 + j) * (size_t)sw + (size_t)x0) * 4;
                for (int i = 0; i < nx; i++) {
                    const uint64_t wgt = wy[j] * wx[i];
                    for (int k = 0; k < 4; k++)
                        sum[k] += wgt * row[4 * i + k];
                }
            }
            uint8_t *o = dst + ((size_t)y * (size_t)dw + (size_t)x) * 4;
            for (int k = 0; k < 4; k++)
                o[k] = (uint8_t)((sum[k] + total / 2) / total);
        }
    }
}

void eng_mip_downsample(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    if (sw % 2 == 0 && sh % 2 == 0)
        downsample_box(src, sw, dst, dw, dh);
    else
        downsample_area(src, sw, sh, dst, dw, dh);
}

void eng_mip_build(const uint8_t *rgba, int w, int h, uint8_t *dst, eng_mip *m)
{
    size_t offsets[ENG_MIP_LEVELS];
    eng_mip_layout(w, h, m, offsets);
    for (int l = 0; l < ENG_MIP_LEVELS; l++)
        m->texels[l] = NULL;
    m->texels[0] = rgba;
    for (int l = 1; l < m->levels; l++) {
        uint8_t *out = dst + offsets[l];
        eng_mip_downsample(m->texels[l - 1], m->width[l - 1], m->height[l - 1], out, m->width[l],
                           m->height[l]);
        m->texels[l] = out;
    }
}

/* ---- The public face (engine.h): prebuilt levels for eng_material.mip_levels ---- */

size_t eng_texture_mips_bytes(int w, int h)
{
    eng_mip m;
    size_t offsets[ENG_MIP_LEVELS];
    return eng_mip_layout(w, h, &m, offsets);
}

void eng_texture_mips_build(const uint8_t *rgba, int w, int h, uint8_t *dst)
{
    eng_mip m;
    eng_mip_build(rgba, w, h, dst, &m);
}
