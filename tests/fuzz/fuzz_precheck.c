/*
 * fuzz_precheck.c — libFuzzer target for the checks that run on uploaded FBX and glTF/GLB files
 * before assimp reads them (mesh/assimp.c, mesh_assimp_precheck): the binary FBX record walk
 * with its array inflation budget, the ASCII FBX scan, the GLB header and the glTF node-graph
 * expansion count. assimp itself is not run (its bugs are upstream's; these checks are the part
 * that is ours, and they see every byte a client sends first). Each input goes through the FBX
 * and the glTF checks; a refusal must carry a message. Nothing is kept between inputs, so
 * LeakSanitizer flags a leak on any error path.
 *
 * Seeds: tests/fuzz/corpus/fuzz_precheck (hand-written: a glTF with a shared child, a GLB
 * header, an ASCII FBX fragment) and, at run time, the small .fbx, .gltf and .glb files of
 * $MORPHD_DATA/formats (run_fuzz.sh).
 */
#include <stddef.h>
#include <stdint.h>

#include "mesh/mesh_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_limits lim;
    md_limits_default(&lim);
    lim.max_file_bytes = 1 << 20;
    static const char *const formats[] = {"fbx", "gltf", "glb"};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        md_error err;
        md_error_clear(&err);
        if (mesh_assimp_precheck(data, size, formats[i], &lim, &err) != 0 && err.msg[0] == '\0')
            __builtin_trap(); /* every refusal says why */
    }
    return 0;
}
