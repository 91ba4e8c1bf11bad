/*
 * fuzz_ply.c — libFuzzer target for our PLY reader (mesh/ply.c), which the api runs on uploaded
 * .ply files before anything else sees them. Each input is parsed with tight limits; a failure
 * must carry a message and return no mesh, and a parsed mesh must satisfy the loaders'
 * invariants (mesh_int.h: indices in range, positions and UVs finite, at least one triangle and
 * one material). Everything is freed, so LeakSanitizer flags a leak on any error path.
 *
 * Seeds: tests/fuzz/corpus/fuzz_ply (hand-written: ASCII with per-vertex UVs, binary little
 * endian with a quad) and, at run time, the .ply files of $MORPHD_DATA/formats (run_fuzz.sh).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/mesh_int.h"
#include "mesh/ply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_limits lim;
    md_limits_default(&lim);
    lim.max_vertices = 10000;
    lim.max_uvs = 10000;
    lim.max_triangles = 20000;
    lim.max_polygon_sides = 64;
    lim.max_materials = 16;
    md_error err;
    md_error_clear(&err);

    mesh *m = NULL;
    if (mesh_parse_ply(data, size, &lim, &m, &err) != 0) {
        if (err.msg[0] == '\0' || m != NULL)
            __builtin_trap(); /* every failure says why and returns nothing */
        return 0;
    }
    if (m->triangle_count == 0 || m->material_count == 0)
        __builtin_trap();
    for (size_t i = 0; i < 3 * (size_t)m->triangle_count; i++)
        if (m->triangles[i] >= m->vertex_count)
            __builtin_trap();
    for (size_t i = 0; i < 3 * (size_t)m->vertex_count; i++)
        if (!isfinite(m->positions[i]))
            __builtin_trap();
    if ((m->uv_count == 0) != (m->triangle_uvs == NULL))
        __builtin_trap();
    for (size_t i = 0; m->triangle_uvs != NULL && i < 3 * (size_t)m->triangle_count; i++)
        if (m->triangle_uvs[i] >= m->uv_count)
            __builtin_trap();
    for (size_t i = 0; i < 2 * (size_t)m->uv_count; i++)
        if (!isfinite(m->uvs[i]))
            __builtin_trap();
    for (size_t i = 0; i < m->triangle_count; i++)
        if (m->triangle_materials[i] >= m->material_count)
            __builtin_trap();
    mesh_free(m);
    return 0;
}
