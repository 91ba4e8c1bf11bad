/*
 * hide.c — leaving materials out of a morph pair: mesh_hide_check() says whether every name
 * given is a material of either mesh (the api at submit, `morph run` before loading anything
 * else), and mesh_hide_materials() takes the hidden triangles out of both meshes.
 *
 * Why remove rather than make transparent: a hidden material (eye overlays, lashes) must be
 * absent from everything a job measures as well as from its pictures, so the frames, the
 * heatmaps, statistics.csv, vertex_displacements.csv, the per-frame meshes and the camera's
 * framing all see the same reduced surface. Removing the triangles once, before anything else
 * reads the meshes, gives each of those that surface without a hidden-material rule in each.
 *
 * Which triangles: one whose material, in the source or in the target, is named. Both meshes
 * lose the same triangles, so they keep one triangle list (a morphable pair). Which vertices:
 * those used only by hidden triangles; a vertex that no triangle used before stays (it was
 * never a hidden material's). Kept vertices keep their order and their file numbers
 * (mesh_file_vertex), so CSV rows and messages still name the file's own vertices. Materials,
 * UVs and textures stay as they are (a hidden material simply has no triangle left).
 *
 * mesh_hide_check also refuses a list that would leave no triangle, so the api can answer 400
 * at submit for everything hiding could fail on.
 *
 * Runs on the thread that loaded the meshes, before they are shared (like mesh_pad_textures).
 */
#include "mesh/mesh_int.h"

#include <stdio.h>
#include <string.h>

/* "A, B, C" of m's material names, cut to fit cap ("..." at the end when cut). */
static void material_list(const mesh *m, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < m->material_count; i++) {
        const char *sep = i ? ", " : "";
        size_t need = strlen(sep) + strlen(m->materials[i].name);
        if (used + need + 4 >= cap) {
            snprintf(out + used, cap - used, "%s...", sep);
            return;
        }
        used += (size_t)snprintf(out + used, cap - used, "%s%s", sep, m->materials[i].name);
    }
}

/* Whether a's and b's material names are the same list. */
static int same_names(const mesh *a, const mesh *b)
{
    if (a->material_count != b->material_count)
        return 0;
    for (uint32_t i = 0; i < a->material_count; i++)
        if (strcmp(a->materials[i].name, b->materials[i].name) != 0)
            return 0;
    return 1;
}

/* hidden[i] = 1 for m's materials named in names. */
static void mark_materials(const mesh *m, const char *const *names, uint32_t count, uint8_t *hidden)
{
    memset(hidden, 0, m->material_count);
    for (uint32_t k = 0; k < count; k++) {
        int i = mesh_material_find(m, names[k]);
        if (i >= 0)
            hidden[i] = 1;
    }
}

int mesh_hide_check(const mesh *a, const mesh *b, const char *const *names, uint32_t count,
                    md_error *err)
{
    for (uint32_t k = 0; k < count; k++) {
        if (mesh_material_find(a, names[k]) >= 0 || (b && mesh_material_find(b, names[k]) >= 0))
            continue;
        char list_a[400], list_b[400];
        material_list(a, list_a, sizeof list_a);
        if (b == NULL)
            return md_fail(err, MD_EINVAL, "no material '%.200s' in the mesh; it has %s", names[k],
                           list_a);
        if (same_names(a, b))
            return md_fail(err, MD_EINVAL, "no material '%.200s' in either mesh; both have %s",
                           names[k], list_a);
        material_list(b, list_b, sizeof list_b);
        return md_fail(err, MD_EINVAL,
                       "no material '%.200s' in either mesh; the source has %s, the target %s",
                       names[k], list_a, list_b);
    }
    if (count == 0)
        return 0;
    uint8_t *hidden_a = md_malloc(a->material_count);
    uint8_t *hidden_b = b ? md_malloc(b->material_count) : NULL;
    if (hidden_a == NULL || (b && hidden_b == NULL)) {
        md_free(hidden_a);
        md_free(hidden_b);
        return md_fail(err, MD_ENOMEM, "out of memory checking the materials to hide");
    }
    mark_materials(a, names, count, hidden_a);
    if (b)
        mark_materials(b, names, count, hidden_b);
    int any_kept = 0;
    for (uint32_t t = 0; !any_kept && t < a->triangle_count; t++)
        any_kept = !hidden_a[a->triangle_materials[t]] &&
                   !(b && t < b->triangle_count && hidden_b[b->triangle_materials[t]]);
    md_free(hidden_a);
    md_free(hidden_b);
    if (!any_kept)
        return md_fail(err, MD_EINVAL,
                       "hiding %s leaves no triangle to render: every triangle uses a hidden "
                       "material",
                       count == 1 ? "that material" : "those materials");
    return 0;
}

/* Keeps the triangles with keep_tri[t] and the vertices with new_index[v] != UINT32_MAX,
 * renumbered to new_index, in place. */
static int compact(mesh *m, const uint8_t *keep_tri, const uint32_t *new_index,
                   uint32_t kept_vertices, md_error *err)
{
    if (kept_vertices < m->vertex_count) {
        if (m->file_vertex == NULL) {
            m->file_vertex = md_malloc_array(m->vertex_count, sizeof *m->file_vertex);
            if (m->file_vertex == NULL)
                return md_fail(err, MD_ENOMEM, "out of memory hiding materials");
            for (uint32_t v = 0; v < m->vertex_count; v++)
                m->file_vertex[v] = v;
        }
        for (uint32_t v = 0; v < m->vertex_count; v++) {
            uint32_t to = new_index[v];
            if (to == UINT32_MAX)
                continue;
            memmove(&m->positions[3 * (size_t)to], &m->positions[3 * (size_t)v], 3 * sizeof(float));
            m->file_vertex[to] = m->file_vertex[v];
        }
        m->vertex_count = kept_vertices;
    }
    uint32_t t_out = 0;
    for (uint32_t t = 0; t < m->triangle_count; t++) {
        if (!keep_tri[t])
            continue;
        for (int c = 0; c < 3; c++) {
            m->triangles[3 * (size_t)t_out + c] = new_index[m->triangles[3 * (size_t)t + c]];
            if (m->triangle_uvs != NULL)
                m->triangle_uvs[3 * (size_t)t_out + c] = m->triangle_uvs[3 * (size_t)t + c];
        }
        m->triangle_materials[t_out] = m->triangle_materials[t];
        t_out++;
    }
    m->triangle_count = t_out;
    return 0;
}

int mesh_hide_materials(mesh *a, mesh *b, const char *const *names, uint32_t count,
                        mesh_hide_stats *stats, md_error *err)
{
    memset(stats, 0, sizeof *stats);
    if (count == 0)
        return 0;
    int rc = mesh_hide_check(a, b, names, count, err);
    if (rc != 0)
        return rc;
    if (b != NULL && (b->triangle_count != a->triangle_count || b->vertex_count != a->vertex_count))
        return md_fail(err, MD_ETOPOLOGY, "hiding materials needs a pair of one topology");
    const uint32_t T = a->triangle_count, V = a->vertex_count;
    uint8_t *hidden_a = md_malloc(a->material_count);
    uint8_t *hidden_b = b ? md_malloc(b->material_count) : NULL;
    uint8_t *keep_tri = md_malloc(T);
    uint8_t *used = md_calloc(V, 1); /* bit 0: by any triangle, bit 1: by a kept one */
    uint32_t *new_index = md_malloc_array(V, sizeof *new_index);
    if (hidden_a == NULL || (b && hidden_b == NULL) || keep_tri == NULL || used == NULL ||
        new_index == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory hiding materials");
        goto done;
    }
    mark_materials(a, names, count, hidden_a);
    if (b)
        mark_materials(b, names, count, hidden_b);
    uint32_t kept_tris = 0;
    for (uint32_t t = 0; t < T; t++) {
        int hide = hidden_a[a->triangle_materials[t]] || (b && hidden_b[b->triangle_materials[t]]);
        keep_tri[t] = !hide;
        kept_tris += !hide;
        for (int c = 0; c < 3; c++)
            used[a->triangles[3 * (size_t)t + c]] |= hide ? 1 : 3;
    }
    if (kept_tris == 0) { /* mesh_hide_check said so already */
        rc = md_fail(err, MD_EINVAL, "hiding leaves no triangle to render");
        goto done;
    }
    uint32_t kept_vertices = 0;
    for (uint32_t v = 0; v < V; v++)
        new_index[v] = used[v] == 1 ? UINT32_MAX : kept_vertices++;
    rc = compact(a, keep_tri, new_index, kept_vertices, err);
    if (rc == 0 && b != NULL)
        rc = compact(b, keep_tri, new_index, kept_vertices, err);
    if (rc == 0) {
        stats->triangles = T - kept_tris;
        stats->vertices = V - kept_vertices;
    }
done:
    md_free(hidden_a);
    md_free(hidden_b);
    md_free(keep_tri);
    md_free(used);
    md_free(new_index);
    return rc;
}
