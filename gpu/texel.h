/*
 * texel.h — the engine's bilinear and trilinear (mip level) texel blends, in one place for the CPU
 * and CUDA shaders (gpu/cpu/shade.c and gpu/cuda/kernels.cu through gpu/shade_math.h, per shading
 * point, hence inline) and for analysis/texdiff.c, which reads the textures exactly as the frames
 * show them. Functions marked ENG_HD (gpu/hd.h) are compiled by both the C compiler and nvcc.
 *
 * Finding the four texels (wrap, texel centres at u * w - 0.5) stays with each caller: the
 * shaders work in float per sample (eng_shade_tap), texdiff in double texel space with
 * snapping to centres.
 *
 * It also holds the texture extrapolation of caricatures and anti-faces (texture weights
 * outside [0, 1]): the two colours are taken to CIE L*a*b*, extrapolated there, and brought
 * back into the sRGB gamut by reducing chroma at constant lightness and hue. One copy of that
 * arithmetic serves the CPU shader, the CUDA shader (both through gpu/shade_math.h) and the
 * exported textures of per-frame meshes (analysis/mesh_export.c). Weights inside [0, 1] never come
 * here: they keep the plain blend of the encoded values, so existing frames do not change.
 */
#ifndef GPU_TEXEL_H
#define GPU_TEXEL_H

#include <math.h>
#include <stdint.h>

#include "gpu/hd.h"

/* One channel of the bilinear blend: a00 at (x0, y0), a10 to its right, a01 below it, a11
 * diagonal, all in 0..1, with weights ax, ay in [0, 1) toward a10/a11 and a01/a11. */
static inline ENG_HD float eng_texel_bilerp(float a00, float a10, float a01, float a11, float ax,
                                            float ay)
{
    const float top = a00 + ax * (a10 - a00);
    const float bottom = a01 + ax * (a11 - a01);
    return top + ay * (bottom - top);
}

/* Trilinear: the bilinear rgba of two neighbouring mip levels, lo and hi, blended by frac
 * toward hi (gpu/shade_math.h chooses the levels and frac). */
static inline ENG_HD void eng_texel_mip_lerp(const float lo[4], const float hi[4], float frac,
                                             float out[4])
{
    for (int k = 0; k < 4; k++)
        out[k] = lo[k] + frac * (hi[k] - lo[k]);
}

/* The blended texel rgba alpha-composited over color: out = rgb * a + color * (1 - a). */
static inline ENG_HD void eng_texel_over(const float rgba[4], const float color[3], float out[3])
{
    const float a = rgba[3];
    for (int k = 0; k < 3; k++)
        out[k] = rgba[k] * a + color[k] * (1.0f - a);
}

/* eng_texel_bilerp per channel of four RGBA8 texels t00, t10, t01, t11 whose bytes become
 * floats through lut (see eng_texel_blend), into rgba. Host only. */
static inline void eng_texel_bilerp4(const float *lut, const uint8_t *t00, const uint8_t *t10,
                                     const uint8_t *t01, const uint8_t *t11, float ax, float ay,
                                     float rgba[4])
{
    for (int k = 0; k < 4; k++)
        rgba[k] = eng_texel_bilerp(lut[t00[k]], lut[t10[k]], lut[t01[k]], lut[t11[k]], ax, ay);
}

/* The bilinear blend (eng_texel_bilerp per channel, then eng_texel_over) of four RGBA8 texels
 * t00, t10, t01, t11 whose bytes become floats through lut (lut[b] = (float)b * (1.0f / 255.0f),
 * the engine's table, as eng_unit8 of gpu/shade_math.h). The CUDA shader does the same with
 * eng_unit8 per byte. All borrowed. Host only: lut is a host table. */
static inline void eng_texel_blend(const float *lut, const uint8_t *t00, const uint8_t *t10,
                                   const uint8_t *t01, const uint8_t *t11, float ax, float ay,
                                   const float color[3], float out[3])
{
    float rgba[4];
    eng_texel_bilerp4(lut, t00, t10, t01, t11, ax, ay, rgba);
    eng_texel_over(rgba, color, out);
}

/* ---- Texture extrapolation in CIE L*a*b* ----
 *
 * Conventions as analysis/color.c: sRGB per IEC 61966-2-1, its linear-RGB -> XYZ matrix (4
 * decimals) and the matrix's image of RGB white as white point, so sRGB white is exactly
 * L* = 100 and greys have a* = b* = 0. Float throughout (the CUDA shader runs it per sample).
 */

static inline ENG_HD float eng_srgb_decode(float c)
{
    return c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
}

static inline ENG_HD float eng_srgb_encode(float l)
{
    return l <= 0.0031308f ? l * 12.92f : 1.055f * powf(l, 1.0f / 2.4f) - 0.055f;
}

static inline ENG_HD float eng_lab_f(float t)
{
    const float eps = 216.0f / 24389.0f; /* (6/29)^3 */
    return t > eps ? cbrtf(t) : t * (841.0f / 108.0f) + 4.0f / 29.0f;
}

static inline ENG_HD float eng_lab_f_inv(float f)
{
    return f > 6.0f / 29.0f ? f * f * f : (f - 4.0f / 29.0f) * (108.0f / 841.0f);
}

/* Linear RGB (0..1) to L*a*b*. */
static inline ENG_HD void eng_linear_to_lab(const float lin[3], float lab[3])
{
    const float r = lin[0], g = lin[1], b = lin[2];
    const float fx = eng_lab_f((0.4124f * r + 0.3576f * g + 0.1805f * b) / 0.9505f);
    const float fy = eng_lab_f(0.2126f * r + 0.7152f * g + 0.0722f * b);
    const float fz = eng_lab_f((0.0193f * r + 0.1192f * g + 0.9505f * b) / 1.0890f);
    lab[0] = 116.0f * fy - 16.0f;
    lab[1] = 500.0f * (fx - fy);
    lab[2] = 200.0f * (fy - fz);
}

/* Encoded sRGB (0..1) to L*a*b*. */
static inline ENG_HD void eng_srgb_to_lab(const float rgb[3], float lab[3])
{
    const float lin[3] = {eng_srgb_decode(rgb[0]), eng_srgb_decode(rgb[1]),
                          eng_srgb_decode(rgb[2])};
    eng_linear_to_lab(lin, lab);
}

/* L*a*b* to linear RGB, unclipped (components may leave [0, 1]). */
static inline ENG_HD void eng_lab_to_linear(float l, float a, float bb, float rgb[3])
{
    const float fy = (l + 16.0f) / 116.0f;
    const float x = 0.9505f * eng_lab_f_inv(fy + a / 500.0f);
    const float y = eng_lab_f_inv(fy);
    const float z = 1.0890f * eng_lab_f_inv(fy - bb / 200.0f);
    rgb[0] = 3.240625477f * x - 1.537207972f * y - 0.498628599f * z;
    rgb[1] = -0.968930715f * x + 1.875756061f * y + 0.041517524f * z;
    rgb[2] = 0.055710120f * x - 0.204021051f * y + 1.056995942f * z;
}

static inline ENG_HD int eng_linear_in_gamut(const float rgb[3])
{
    const float tol = 1e-5f; /* the matrices' rounding; the result is clamped afterwards */
    return rgb[0] >= -tol && rgb[0] <= 1.0f + tol && rgb[1] >= -tol && rgb[1] <= 1.0f + tol &&
           rgb[2] >= -tol && rgb[2] <= 1.0f + tol;
}

/* An L*a*b* colour, possibly outside the sRGB gamut, brought back as encoded sRGB in 0..1: L*
 * is clamped to [0, 100] and the chroma (a*, b*) is scaled down at constant L* and hue to the
 * gamut's boundary (24 bisection steps: within 2^-24 of the chroma), so a caricature's colours
 * stay as saturated as the display allows without hue shifts. Pure; any thread; NaN never
 * comes out (it becomes 0). The face-space transform (jobs/facespace.c) calls it directly. */
static inline ENG_HD void eng_lab_to_srgb_clipped(float l, const float a, const float bb,
                                                  float out[3])
{
    l = l > 0.0f ? (l < 100.0f ? l : 100.0f) : 0.0f; /* NaN -> 0 */
    float lin[3];
    eng_lab_to_linear(l, a, bb, lin);
    if (!eng_linear_in_gamut(lin)) {
        float lo = 0.0f, hi = 1.0f; /* chroma scale: lo in gamut (grey), hi outside */
        for (int i = 0; i < 24; i++) {
            const float mid = 0.5f * (lo + hi);
            eng_lab_to_linear(l, a * mid, bb * mid, lin);
            if (eng_linear_in_gamut(lin))
                lo = mid;
            else
                hi = mid;
        }
        eng_lab_to_linear(l, a * lo, bb * lo, lin);
    }
    for (int k = 0; k < 3; k++) {
        const float v = lin[k] > 0.0f ? (lin[k] < 1.0f ? lin[k] : 1.0f) : 0.0f;
        out[k] = eng_srgb_encode(v);
    }
}

/* The texture colour at weight t outside [0, 1] from the L*a*b* colours lab0 (t = 0) and lab1
 * (t = 1) (eng_srgb_to_lab of encoded sRGB in 0..1): extrapolated there, (1 - t) * lab0 +
 * t * lab1, and brought back by eng_lab_to_srgb_clipped. */
static inline ENG_HD void eng_lab_extrapolate(const float lab0[3], const float lab1[3], float t,
                                              float out[3])
{
    const float s = 1.0f - t;
    eng_lab_to_srgb_clipped(s * lab0[0] + t * lab1[0], s * lab0[1] + t * lab1[1],
                            s * lab0[2] + t * lab1[2], out);
}

/* eng_lab_extrapolate of two encoded sRGB colours (what the shaders call). */
static inline ENG_HD void eng_texel_extrapolate(const float c0[3], const float c1[3], float t,
                                                float out[3])
{
    float lab0[3], lab1[3];
    eng_srgb_to_lab(c0, lab0);
    eng_srgb_to_lab(c1, lab1);
    eng_lab_extrapolate(lab0, lab1, t, out);
}

#endif
