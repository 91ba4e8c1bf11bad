/*
 * weld.c — mesh_weld_*: a hash set of float tuples keyed by their bits, so identical positions
 * (or UVs) become one entry, the first occurrence winning. Deterministic: the result depends
 * only on the order of the calls, never on addresses. One welder per thread; it owns only its
 * slot table, the entries live in the caller's array.
 */
#include "mesh/weld.h"

#include <string.h>

static uint64_t weld_hash(const float *v, int dim)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int k = 0; k < dim; k++) {
        uint32_t bits;
        memcpy(&bits, &v[k], sizeof bits);
        h ^= bits;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

int mesh_weld_init(struct mesh_weld *w, int dim, size_t capacity, md_error *err)
{
    size_t size = 16;
    while (size < 2 * capacity)
        size *= 2;
    w->dim = dim;
    w->mask = size - 1;
    w->slots = md_calloc(size, sizeof *w->slots);
    if (w->slots == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory welding %zu vertices", capacity);
    return 0;
}

void mesh_weld_free(struct mesh_weld *w)
{
    md_free(w->slots);
    w->slots = NULL;
}

int mesh_weld_grow(struct mesh_weld *w, const float *values, uint32_t count, size_t capacity,
                   md_error *err)
{
    struct mesh_weld grown;
    int rc = mesh_weld_init(&grown, w->dim, capacity, err);
    if (rc != 0)
        return rc;
    /* The entries are distinct: each goes to the first free slot of its probe sequence. */
    for (uint32_t i = 0; i < count; i++) {
        size_t slot = (size_t)weld_hash(&values[(size_t)i * (size_t)w->dim], w->dim) & grown.mask;
        while (grown.slots[slot] != 0)
            slot = (slot + 1) & grown.mask;
        grown.slots[slot] = i + 1;
    }
    mesh_weld_free(w);
    *w = grown;
    return 0;
}

int mesh_weld_find(struct mesh_weld *w, float *values, uint32_t *count, uint32_t cap, float *v,
                   uint32_t *index)
{
    for (int k = 0; k < w->dim; k++)
        v[k] += 0.0f; /* -0 + 0 = +0 */
    size_t slot = (size_t)weld_hash(v, w->dim) & w->mask;
    for (;;) {
        uint32_t e = w->slots[slot];
        if (e == 0)
            break;
        if (memcmp(&values[(size_t)(e - 1) * (size_t)w->dim], v, (size_t)w->dim * sizeof *v) == 0) {
            *index = e - 1;
            return 0;
        }
        slot = (slot + 1) & w->mask;
    }
    if (*count >= cap)
        return -1;
    memcpy(&values[(size_t)*count * (size_t)w->dim], v, (size_t)w->dim * sizeof *v);
    w->slots[slot] = *count + 1;
    *index = (*count)++;
    return 0;
}
