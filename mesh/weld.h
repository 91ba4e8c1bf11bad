/*
 * weld.h — welding of bit-identical float tuples (positions, UVs) for the loaders that start
 * from per-corner or seam-split vertices (assimp.c, ply.c). Internal to the mesh module.
 */
#ifndef MESH_WELD_H
#define MESH_WELD_H

#include <stddef.h>
#include <stdint.h>

#include "base/md.h"

/* An open-addressing hash set over entries stored in the caller's array (dim floats each). */
struct mesh_weld {
    int dim;         /* floats per entry: 3 for positions, 2 for UVs */
    uint32_t *slots; /* owned: index + 1 of an entry, 0 = empty */
    size_t mask;
};

/* Sizes the table for up to capacity entries. */
int mesh_weld_init(struct mesh_weld *w, int dim, size_t capacity, md_error *err);
void mesh_weld_free(struct mesh_weld *w);
/* Resizes the table for up to capacity entries, re-inserting values[0 .. count). */
int mesh_weld_grow(struct mesh_weld *w, const float *values, uint32_t count, size_t capacity,
                   md_error *err);

/* Sets *index to the entry of values equal to v, bit for bit after -0 is turned into +0 (so
 * the two zeros weld; v is updated in place), appending v as values[*count] when it is new.
 * Returns -1, adding nothing, when a new entry would exceed cap entries; cap must not exceed
 * the capacity the table was sized for (init or grow), so the table never fills. */
int mesh_weld_find(struct mesh_weld *w, float *values, uint32_t *count, uint32_t cap, float *v,
                   uint32_t *index);

#endif
