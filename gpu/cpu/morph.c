/*
 * morph.c — CPU reference of the morph stage: positions lerp(a, b, t) and area-weighted vertex
 * normals of the morphed mesh (see kernels.h for the contract).
 *
 * Called by the CPU batch runner (engine_cpu.c) on an engine thread, once per frame, with that
 * thread's scratch buffers as outputs; pure given its params, so any thread may call it.
 *
 * The arithmetic (lerp, cross products, normalisation) is gpu/morph_math.h, which the CUDA
 * morph kernel runs too; this file keeps the loops. Normals: triangles in index order each add
 * their cross product to their three vertices, so the float sums are deterministic; the GPU
 * gathers the same sums in the same order (a vertex -> triangle list) rather than using float
 * atomics.
 *
 * eng_morph_geometry and eng_vertex_normals are the same code behind engine.h, so analysis/
 * shares the engine's arithmetic without reaching into kernels.h.
 */
#include "gpu/kernels.h"
#include "gpu/morph_math.h"

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
        float c[3];
        eng_morph_tri_cross(p0, p1, p2, c);
        for (int k = 0; k < 3; k++) {
            float *n = nrm + (size_t)tri[k] * 3;
            n[0] += c[0];
            n[1] += c[1];
            n[2] += c[2];
        }
    }

    for (size_t i = 0; i < n3; i += 3)
        eng_morph_normal_finish(nrm + i, nrm + i);
}

void eng_cpu_morph(const eng_morph_params *p)
{
    const float t = p->t;
    const float s = 1.0f - t;
    const size_t n3 = (size_t)p->vertex_count * 3;
    for (size_t i = 0; i < n3; i++)
        p->out_pos[i] = eng_morph_lerp(s, t, p->pos_a[i], p->pos_b[i]);
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
