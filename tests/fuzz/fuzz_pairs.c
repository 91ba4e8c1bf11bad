/*
 * fuzz_pairs.c — libFuzzer target for the PAIRS.csv reader of `morph batch`
 * (cli/batch_pairs.c, batch_set_parse_pairs), over a set of four meshes m0.obj..m3.obj. A
 * refusal must carry a message; an accepted file must give pairs of two different, known meshes,
 * no pair twice (either way round) and no more than max_batch_pairs (lowered to 64 here so the
 * cap is reached). Everything is freed, so LeakSanitizer flags a leak on any error path.
 *
 * Seeds: tests/fuzz/corpus/fuzz_pairs (a header, comments, CRLF, a duplicate, bad lines).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MESHES 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_limits lim;
    md_limits_default(&lim);
    lim.max_batch_pairs = 64;
    batch_set set;
    memset(&set, 0, sizeof set);
    set.meshes = md_calloc(MESHES, sizeof *set.meshes);
    if (set.meshes == NULL)
        return 0;
    for (uint32_t i = 0; i < MESHES; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%u.obj", i);
        set.meshes[i].name = md_strdup(name);
        set.meshes[i].path = md_strdup(name);
        name[2] = '\0';
        set.meshes[i].stem = md_strdup(name);
    }
    set.mesh_count = MESHES;
    md_error err;
    md_error_clear(&err);
    int rc = batch_set_parse_pairs(&set, (const char *)data, size, "pairs.csv", &lim, &err);
    if (rc != 0 && err.msg[0] == '\0')
        __builtin_trap(); /* a refusal says why */
    if (rc == 0) {
        if (set.pair_count == 0 || set.pair_count > lim.max_batch_pairs)
            __builtin_trap();
        for (uint32_t i = 0; i < set.pair_count; i++) {
            const batch_pair *p = &set.pairs[i];
            if (p->source >= MESHES || p->target >= MESHES || p->source == p->target)
                __builtin_trap();
            for (uint32_t j = 0; j < i; j++) {
                const batch_pair *q = &set.pairs[j];
                if ((q->source == p->source && q->target == p->target) ||
                    (q->source == p->target && q->target == p->source))
                    __builtin_trap();
            }
        }
    }
    batch_set_free(&set);
    return 0;
}
