/*
 * morph_math.h — the morph stage's arithmetic, once, for the CPU reference (gpu/cpu/morph.c)
 * and the CUDA morph kernel (gpu/cuda/kernels.cu); ENG_HD and the float rules are in gpu/hd.h.
 * Internal to gpu/. Pure functions; any thread.
 *
 *   position  out = (1 - t) * a + t * b per coordinate: t = 0 gives a and t = 1 gives b exactly
 *             (0 * x and 1 * x are exact), which a + t * (b - a) would not promise for t = 1.
 *   normals   every triangle's unnormalised (p1 - p0) x (p2 - p0), whose length is twice its
 *             area, is added to its three vertices in ascending triangle order, starting from 0
 *             (the callers own that order: the CPU scatters, the GPU gathers over a
 *             vertex -> triangle list in the same order); each sum is then divided by its largest
 *             absolute component (tiny meshes cannot underflow) and normalised. A zero or
 *             non-finite sum gives (0, 0, 0).
 */
#ifndef GPU_MORPH_MATH_H
#define GPU_MORPH_MATH_H

#include <math.h>

#include "gpu/hd.h"

/* One coordinate of the morphed position; s = 1 - t, computed once by the caller. */
static inline ENG_HD float eng_morph_lerp(float s, float t, float a, float b)
{
    return s * a + t * b;
}

/* The unnormalised normal (p1 - p0) x (p2 - p0) of one triangle into c. */
static inline ENG_HD void eng_morph_tri_cross(const float p0[3], const float p1[3],
                                              const float p2[3], float c[3])
{
    const float e1x = p1[0] - p0[0], e1y = p1[1] - p0[1], e1z = p1[2] - p0[2];
    const float e2x = p2[0] - p0[0], e2y = p2[1] - p0[1], e2z = p2[2] - p0[2];
    c[0] = e1y * e2z - e1z * e2y;
    c[1] = e1z * e2x - e1x * e2z;
    c[2] = e1x * e2y - e1y * e2x;
}

/* The unit normal of a vertex from the sum n of its triangles' cross products; out may be n. */
static inline ENG_HD void eng_morph_normal_finish(const float n[3], float out[3])
{
    const float m = fmaxf(fabsf(n[0]), fmaxf(fabsf(n[1]), fabsf(n[2])));
    if (!(m > 0.0f) || !isfinite(m)) {
        out[0] = out[1] = out[2] = 0.0f;
        return;
    }
    const float x = n[0] / m, y = n[1] / m, z = n[2] / m;
    const float inv = 1.0f / sqrtf(x * x + y * y + z * z);
    out[0] = x * inv;
    out[1] = y * inv;
    out[2] = z * inv;
}

#endif
