/*
 * fuzz_canon.c — libFuzzer target for the canonical mesh reader (mesh/canon.c). Each input is
 * decoded with tight limits; a failure must carry a "canonical mesh: " message and return no
 * mesh. A decoded mesh must satisfy the loaders' invariants (indices in range, numbers finite,
 * at least one triangle and material), and encoding it again must give back the input byte for
 * byte: the form has one encoding per mesh, so anything else the decoder accepted is a hole.
 * Everything is freed, so LeakSanitizer flags a leak on any error path.
 *
 * Seeds (tests/fuzz/corpus/fuzz_canon): a textured two-material mesh and an untextured one,
 * written by `test_canon --write-seeds tests/fuzz/corpus/fuzz_canon`.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mesh/mesh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_mesh(const mesh *m)
{
    uint32_t v = mesh_vertex_count(m), t = mesh_triangle_count(m), u = mesh_uv_count(m);
    uint32_t mats = mesh_material_count(m);
    if (v == 0 || t == 0 || mats == 0)
        __builtin_trap();
    for (size_t i = 0; i < 3 * (size_t)v; i++)
        if (!isfinite(mesh_positions(m)[i]))
            __builtin_trap();
    for (size_t i = 0; i < 3 * (size_t)t; i++)
        if (mesh_triangles(m)[i] >= v || (u > 0 && mesh_triangle_uvs(m)[i] >= u))
            __builtin_trap();
    if ((u == 0) != (mesh_triangle_uvs(m) == NULL))
        __builtin_trap();
    for (uint32_t i = 0; i < t; i++)
        if (mesh_triangle_materials(m)[i] >= mats)
            __builtin_trap();
    for (uint32_t i = 0; i < mats; i++) {
        const img *tex = mesh_material_texture(m, i);
        if (mesh_material_name(m, i) == NULL ||
            (tex != NULL && (img_width(tex) <= 0 || img_height(tex) <= 0)))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_limits lim;
    md_limits_default(&lim);
    lim.max_vertices = 10000;
    lim.max_uvs = 10000;
    lim.max_triangles = 20000;
    lim.max_materials = 16;
    lim.max_texture_side = 256;
    lim.max_texture_pixels = 1u << 14;
    lim.max_file_bytes = 1u << 20;
    md_error err;
    md_error_clear(&err);

    mesh *m = NULL;
    if (mesh_decode_canonical(data, size, &lim, &m, &err) != 0) {
        if (m != NULL || strncmp(err.msg, "canonical mesh: ", 16) != 0)
            __builtin_trap();
        return 0;
    }
    check_mesh(m);
    uint8_t *again = NULL;
    size_t again_len = 0;
    if (mesh_encode_canonical(m, &again, &again_len, &err) != 0)
        __builtin_trap();
    /* Texture PNGs are re-encoded, so only inputs whose PNGs are our own encoder's output come
     * back byte for byte; everything before the first texture must always match. */
    if (again_len < 48 || memcmp(again, data, 48) != 0)
        __builtin_trap();
    int textured = 0;
    for (uint32_t i = 0; i < mesh_material_count(m); i++)
        textured |= mesh_material_texture(m, i) != NULL;
    if (!textured && (again_len != size || memcmp(again, data, size) != 0))
        __builtin_trap();
    md_free(again);
    mesh_free(m);
    return 0;
}
