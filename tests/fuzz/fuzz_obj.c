/*
 * fuzz_obj.c — libFuzzer target for the OBJ and MTL parsers. Each input is parsed as OBJ and,
 * whatever the outcome, as MTL into a small fixed mesh whose materials ("a", "b", "" and
 * "default") the input may define, and, when the OBJ parse succeeded, into that mesh too.
 * Limits are tight so the fuzzer spends its time in the parsers, not in growing arrays.
 * Everything is freed, so LeakSanitizer flags any leak on an error path.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mesh/mesh.h"

static const char fixed_obj[] = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nusemtl a\nf 1 2 3\n"
                                "usemtl b\nf 3 2 1\nusemtl\nf 1 3 2\n";

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

    mesh *m = NULL;
    if (mesh_parse_obj((const char *)data, size, &lim, &m, &err) == 0) {
        mesh_parse_mtl(m, (const char *)data, size, &err);
        mesh_free(m);
    } else if (err.msg[0] == '\0') {
        __builtin_trap(); /* every failure must say why */
    }

    mesh *fixed = NULL;
    if (mesh_parse_obj(fixed_obj, sizeof fixed_obj - 1, &lim, &fixed, &err) != 0)
        __builtin_trap();
    mesh_parse_mtl(fixed, (const char *)data, size, &err);
    mesh_free(fixed);
    return 0;
}
