/*
 * texel.h — the engine's bilinear texel blend, in one place for the CPU shader
 * (gpu/cpu/shade.c, per shading point, hence inline) and for analysis/texdiff.c, which reads
 * the textures exactly as the frames show them. The CUDA shader (gpu/cuda/kernels.cu
 * tap_color) mirrors it step for step and test_gpu_parity holds the two together.
 *
 * Finding the four texels (wrap, texel centres at u * w - 0.5) stays with each caller: the
 * shader works in float per sample, texdiff in double texel space with snapping to centres.
 */
#ifndef GPU_TEXEL_H
#define GPU_TEXEL_H

#include <stdint.h>

/* The bilinear blend of four RGBA8 texels: t00 at (x0, y0), t10 to its right, t01 below it,
 * t11 diagonal, with weights ax, ay in [0, 1) toward t10/t11 and t01/t11. Bytes become floats
 * through lut (lut[b] = (float)b * (1.0f / 255.0f), the engine's table), and the blended colour
 * is alpha-composited over color: out = rgb * a + color * (1 - a). All borrowed. */
static inline void eng_texel_blend(const float *lut, const uint8_t *t00, const uint8_t *t10,
                                   const uint8_t *t01, const uint8_t *t11, float ax, float ay,
                                   const float color[3], float out[3])
{
    float rgba[4];
    for (int k = 0; k < 4; k++) {
        float a00 = lut[t00[k]], a10 = lut[t10[k]];
        float a01 = lut[t01[k]], a11 = lut[t11[k]];
        float top = a00 + ax * (a10 - a00);
        float bottom = a01 + ax * (a11 - a01);
        rgba[k] = top + ay * (bottom - top);
    }
    const float a = rgba[3];
    for (int k = 0; k < 3; k++)
        out[k] = rgba[k] * a + color[k] * (1.0f - a);
}

#endif
