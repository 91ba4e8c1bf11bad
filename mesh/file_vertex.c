/*
 * file_vertex.c — the file's own vertex numbers. Loaders that weld (assimp.c for FBX and glTF,
 * ply.c) turn several file vertices into one mesh vertex; this keeps, for every mesh vertex, the
 * 0-based number of the first file vertex welded into it, and orders the mesh's vertices by
 * that number, so that vertex_displacements.csv and messages can name vertices as the file
 * does, and two files that list the same vertices in the same order (an FBX and an OBJ of one
 * mesh) weld to the same vertex order whatever order their faces visit the vertices in.
 *
 * Called by the loaders (any thread, on the mesh they are building) and by the canonical
 * decoder; the mesh owns the map (m->file_vertex). The map is strictly increasing, and NULL
 * when it is the identity (OBJ, and any welded file whose vertices were all distinct and
 * already in order), so the common case costs nothing and the canonical form only grows when
 * the numbers differ.
 */
#include "mesh/mesh_int.h"

#include <stdlib.h>
#include <string.h>

struct order_entry {
    uint32_t file; /* the first file vertex welded into it */
    uint32_t vertex;
};

static int order_cmp(const void *pa, const void *pb)
{
    const struct order_entry *a = pa, *b = pb;
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    return a->vertex < b->vertex ? -1 : a->vertex > b->vertex;
}

int mesh_file_order(mesh *m, const uint32_t *first_file, md_error *err)
{
    const uint32_t n = m->vertex_count;
    md_free(m->file_vertex);
    m->file_vertex = NULL;
    if (first_file == NULL || n == 0)
        return 0;
    int identity = 1;
    for (uint32_t v = 0; v < n && identity; v++)
        identity = first_file[v] == v;
    if (identity)
        return 0;
    struct order_entry *order = md_malloc_array(n, sizeof *order);
    uint32_t *new_of = md_malloc_array(n, sizeof *new_of);
    float *positions = md_malloc_array(n, 3 * sizeof(float));
    uint32_t *file_vertex = md_malloc_array(n, sizeof *file_vertex);
    int rc = 0;
    if (order == NULL || new_of == NULL || positions == NULL || file_vertex == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory ordering %u vertices as the file does", n);
        goto done;
    }
    for (uint32_t v = 0; v < n; v++)
        order[v] = (struct order_entry){first_file[v], v};
    qsort(order, n, sizeof *order, order_cmp);
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0 && order[i].file == order[i - 1].file) {
            rc = md_fail(err, MD_EINTERNAL, "file vertex %u is the first of two mesh vertices",
                         order[i].file + 1);
            goto done;
        }
        new_of[order[i].vertex] = i;
        memcpy(&positions[3 * (size_t)i], &m->positions[3 * (size_t)order[i].vertex],
               3 * sizeof(float));
        file_vertex[i] = order[i].file;
    }
    for (size_t k = 0; k < 3 * (size_t)m->triangle_count; k++)
        m->triangles[k] = new_of[m->triangles[k]];
    md_free(m->positions);
    m->positions = positions;
    positions = NULL;
    int moved = 0;
    for (uint32_t i = 0; i < n && !moved; i++)
        moved = file_vertex[i] != i;
    if (moved) {
        m->file_vertex = file_vertex;
        file_vertex = NULL;
    }
done:
    md_free(order);
    md_free(new_of);
    md_free(positions);
    md_free(file_vertex);
    return rc;
}

uint32_t mesh_file_vertex(const mesh *m, uint32_t v)
{
    return m->file_vertex != NULL && v < m->vertex_count ? m->file_vertex[v] : v;
}

const uint32_t *mesh_file_vertices(const mesh *m)
{
    return m->file_vertex;
}
