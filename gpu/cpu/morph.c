/*
 * morph.c — CPU reference of the morph stage: positions lerp(a, b, t) and area-weighted vertex
 * normals of the morphed mesh (see kernels.h for the contract).
 *
 * Called by the CPU batch runner (engine_cpu.c) on an engine thread, once per frame, with that
 * thread's scratch buffers as outputs; pure given its params, so any thread may call it.
 *
 * The exact arithmetic, which the CUDA port mirrors (compile it without FMA contraction):
 *   out = (1 - t) * a + t * b, per coordinate in float. t = 0 gives a and t = 1 gives b
 *   exactly (0 * x and 1 * x are exact), which a + t * (b - a) would not promise for t = 1.
 *   Normals: triangles in index order each add their unnormalised (p1 - p0) x (p2 - p0), whose
 *   length is twice the area, to their three vertices; each sum is then divided by its largest
 *   absolute component (so tiny meshes cannot underflow) and normalised. A vertex whose sum is
 *   zero (isolated, or only degenerate triangles) gets (0, 0, 0). The fixed triangle order makes
 *   the float sums deterministic; the GPU port must keep it (e.g. a per-vertex gather over a
 *   vertex -> triangle list in triangle order) rather than float atomics.
 *
 * eng_morph_geometry and eng_vertex_normals are the same code behind engine.h, so analysis/
 * shares the engine's arithmetic without reaching into kernels.h.
 */
#include "gpu/kernels.h"

#include <math.h>
#include <string.h>

void eng_cpu_vertex_normals(const float *pos, uint32_t vertex_count, const uint32_t *triangles,
                            uint32_t triangle_count, float *nrm)
{
    const size_t n3 = (size_t)vertex_count * 3;
    memset(nrm, 0, n3 * sizeof *nrm);
    for (uint32_t f = 0; f < triangle_count; f++) {
        const uint32_t *tri = triangles + (size_t)f * 3;
        const float *p0 = pos + (size_t)tri[0] * 3;
        const float *p1 = pos + (size_t)tri[1] * 3;
        const float *p2 = pos + (size_t)tri[2] * 3;
        float e1x = p1[0] - p0[0], e1y = p1[1] - p0[1], e1z = p1[2] - p0[2];
        float e2x = p2[0] - p0[0], e2y = p2[1] - p0[1], e2z = p2[2] - p0[2];
        float cx = e1y * e2z - e1z * e2y;
        float cy = e1z * e2x - e1x * e2z;
        float cz = e1x * e2y - e1y * e2x;
        for (int k = 0; k < 3; k++) {
            float *n = nrm + (size_t)tri[k] * 3;
            n[0] += cx;
            n[1] += cy;
            n[2] += cz;
        }
    }

    for (size_t i = 0; i < n3; i += 3) {
        float *n = nrm + i;
        float m = fmaxf(fabsf(n[0]), fmaxf(fabsf(n[1]), fabsf(n[2])));
        if (!(m > 0.0f) || !isfinite(m)) {
            n[0] = n[1] = n[2] = 0.0f;
            continue;
        }
        float x = n[0] / m, y = n[1] / m, z = n[2] / m;
        float inv = 1.0f / sqrtf(x * x + y * y + z * z);
        n[0] = x * inv;
        n[1] = y * inv;
        n[2] = z * inv;
    }
}

void eng_cpu_morph(const eng_morph_params *p)
{
    const float t = p->t;
    const float s = 1.0f - t;
    const size_t n3 = (size_t)p->vertex_count * 3;
    for (size_t i = 0; i < n3; i++)
        p->out_pos[i] = s * p->pos_a[i] + t * p->pos_b[i];
    eng_cpu_vertex_normals(p->out_pos, p->vertex_count, p->triangles, p->triangle_count,
                           p->out_normal);
}

/* ---- Public entry points (engine.h) ---- */

void eng_vertex_normals(const float *pos, uint32_t vertex_count, const uint32_t *triangles,
                        uint32_t triangle_count, float *nrm)
{
    eng_cpu_vertex_normals(pos, vertex_count, triangles, triangle_count, nrm);
}

void eng_morph_geometry(const float *pos_a, const float *pos_b, uint32_t vertex_count,
                        const uint32_t *triangles, uint32_t triangle_count, float t, float *out_pos,
                        float *out_normal)
{
    eng_morph_params p = {
        .t = t,
        .pos_a = pos_a,
        .pos_b = pos_b,
        .triangles = triangles,
        .vertex_count = vertex_count,
        .triangle_count = triangle_count,
        .out_pos = out_pos,
        .out_normal = out_normal,
    };
    eng_cpu_morph(&p);
}
