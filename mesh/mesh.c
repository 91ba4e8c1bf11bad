/*
 * mesh.c — the mesh object: allocation, accessors, the post-load invariant check and the
 * topology comparison of two meshes. Loaders (obj.c, assimp.c) fill struct mesh and call
 * mesh_validate() last, so every mesh handed out satisfies mesh_int.h's invariants.
 * Not thread-safe to mutate; immutable meshes may be read from any thread.
 */
#include "mesh/mesh_int.h"

#include <math.h>
#include <string.h>

mesh *mesh_alloc(const char *format)
{
    mesh *m = md_calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    snprintf(m->format, sizeof m->format, "%s", format);
    return m;
}

void mesh_free(mesh *m)
{
    if (m == NULL)
        return;
    for (uint32_t i = 0; i < m->material_count; i++) {
        md_free(m->materials[i].name);
        md_free(m->materials[i].texture_path);
        img_free(m->materials[i].texture);
    }
    for (uint32_t i = 0; i < m->mtllib_count; i++)
        md_free(m->mtllibs[i]);
    md_free(m->mtllibs);
    for (uint32_t i = 0; i < m->morph_count; i++)
        md_free(m->morph_names[i]);
    md_free(m->morph_names);
    md_free(m->materials);
    md_free(m->positions);
    md_free(m->file_vertex);
    md_free(m->triangles);
    md_free(m->uvs);
    md_free(m->triangle_uvs);
    md_free(m->triangle_materials);
    md_free(m);
}

static uint64_t text_bytes(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

uint64_t mesh_memory_bytes(const mesh *m)
{
    if (m == NULL)
        return 0;
    uint64_t v = m->vertex_count, t = m->triangle_count;
    uint64_t n = sizeof *m + v * 3 * sizeof(float) + t * 3 * sizeof(uint32_t) +
                 (uint64_t)m->uv_count * 2 * sizeof(float) + t * sizeof(uint16_t);
    if (m->triangle_uvs != NULL)
        n += t * 3 * sizeof(uint32_t);
    if (m->file_vertex != NULL)
        n += v * sizeof(uint32_t);
    n += (uint64_t)m->material_count * sizeof *m->materials;
    for (uint32_t i = 0; i < m->material_count; i++) {
        const struct mesh_material *mat = &m->materials[i];
        n += text_bytes(mat->name) + text_bytes(mat->texture_path);
        if (mat->texture != NULL)
            n += (uint64_t)img_width(mat->texture) * (uint64_t)img_height(mat->texture) * 4;
    }
    for (uint32_t i = 0; i < m->mtllib_count; i++)
        n += sizeof *m->mtllibs + text_bytes(m->mtllibs[i]);
    for (uint32_t i = 0; i < m->morph_count; i++)
        n += sizeof *m->morph_names + text_bytes(m->morph_names[i]);
    return n;
}

/* ---- Morph targets ---- */

uint32_t mesh_morph_target_count(const mesh *m)
{
    return m->morph_count;
}

const char *mesh_morph_target_name(const mesh *m, uint32_t i)
{
    return i < m->morph_count ? m->morph_names[i] : NULL;
}

void mesh_morph_target_list(const mesh *m, char *out, size_t cap)
{
    size_t used = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    for (uint32_t i = 0; i < m->morph_count && used + 1 < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%u '%s'", i ? ", " : "", i, m->morph_names[i]);
        if (n < 0)
            break;
        used += (size_t)n < cap - used ? (size_t)n : cap - used - 1;
    }
}

void mesh_note_morph_target(const char *target, const char *source, char *out, size_t cap)
{
    snprintf(out, cap, "morph target '%s' of %s", target, source);
}

int mesh_note_unused_morph_targets(const mesh *m, const char *name, char *out, size_t cap)
{
    if (cap > 0)
        out[0] = '\0';
    if (m->morph_count == 0)
        return 0;
    char list[640];
    mesh_morph_target_list(m, list, sizeof list);
    snprintf(out, cap,
             "%s has %u morph target(s) (%s), not used: the base mesh was morphed (morph one "
             "toward a target with --target-morph NAME|INDEX, or spec.target_morph)",
             name, m->morph_count, list);
    return 1;
}

/* ---- Materials ---- */

int mesh_material_add(mesh *m, const char *name, const md_limits *lim, md_error *err)
{
    if (m->material_count >= lim->max_materials || m->material_count >= UINT16_MAX)
        return md_fail(err, MD_ELIMIT, "more than %llu materials",
                       (unsigned long long)lim->max_materials);
    struct mesh_material *grown =
        md_realloc_array(m->materials, m->material_count + 1, sizeof *grown);
    if (grown == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory adding material '%s'", name);
    m->materials = grown;
    struct mesh_material *mat = &m->materials[m->material_count];
    memset(mat, 0, sizeof *mat);
    mat->name = md_strdup(name);
    if (mat->name == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory adding material '%s'", name);
    mat->kd[0] = mat->kd[1] = mat->kd[2] = MESH_DEFAULT_GREY;
    mat->opacity = 1.0f;
    return (int)m->material_count++;
}

int mesh_material_find(const mesh *m, const char *name)
{
    for (uint32_t i = 0; i < m->material_count; i++)
        if (strcmp(m->materials[i].name, name) == 0)
            return (int)i;
    return -1;
}

uint32_t mesh_material_count(const mesh *m)
{
    return m->material_count;
}

const char *mesh_material_name(const mesh *m, uint32_t i)
{
    return i < m->material_count ? m->materials[i].name : NULL;
}

void mesh_material_color(const mesh *m, uint32_t i, float rgb[3])
{
    if (i >= m->material_count) {
        rgb[0] = rgb[1] = rgb[2] = MESH_DEFAULT_GREY;
        return;
    }
    memcpy(rgb, m->materials[i].kd, 3 * sizeof(float));
}

float mesh_material_opacity(const mesh *m, uint32_t i)
{
    return i < m->material_count ? m->materials[i].opacity : 1.0f;
}

int mesh_opacity_from_tf(const mesh *m)
{
    return m->opacity_from_tf;
}

const img *mesh_material_texture(const mesh *m, uint32_t i)
{
    return i < m->material_count ? m->materials[i].texture : NULL;
}

const char *mesh_material_texture_path(const mesh *m, uint32_t i)
{
    return i < m->material_count ? m->materials[i].texture_path : NULL;
}

void mesh_material_set_texture(mesh *m, uint32_t i, img *tex)
{
    if (i >= m->material_count) {
        img_free(tex);
        return;
    }
    img_free(m->materials[i].texture);
    m->materials[i].texture = tex;
}

uint32_t mesh_mtllib_count(const mesh *m)
{
    return m->mtllib_count;
}

const char *mesh_mtllib(const mesh *m, uint32_t i)
{
    return i < m->mtllib_count ? m->mtllibs[i] : NULL;
}

int mesh_set_texture(mesh *m, img *tex, md_error *err)
{
    if (m->uv_count == 0) {
        img_free(tex);
        return md_fail(err, MD_EINVAL,
                       "the mesh has no texture coordinates, so a texture cannot be applied");
    }
    /* Materials share one image: the first owns it, the rest would double-free, so collapse
     * every triangle onto material 0 and drop the others' textures. */
    for (uint32_t i = 0; i < m->material_count; i++) {
        img_free(m->materials[i].texture);
        m->materials[i].texture = NULL;
    }
    m->materials[0].texture = tex;
    memset(m->triangle_materials, 0, m->triangle_count * sizeof *m->triangle_materials);
    return 0;
}

/* ---- Geometry ---- */

const char *mesh_format(const mesh *m)
{
    return m->format;
}

uint32_t mesh_vertex_count(const mesh *m)
{
    return m->vertex_count;
}

const float *mesh_positions(const mesh *m)
{
    return m->positions;
}

uint32_t mesh_triangle_count(const mesh *m)
{
    return m->triangle_count;
}

const uint32_t *mesh_triangles(const mesh *m)
{
    return m->triangles;
}

uint32_t mesh_uv_count(const mesh *m)
{
    return m->uv_count;
}

const float *mesh_uvs(const mesh *m)
{
    return m->uvs;
}

const uint32_t *mesh_triangle_uvs(const mesh *m)
{
    return m->triangle_uvs;
}

const uint16_t *mesh_triangle_materials(const mesh *m)
{
    return m->triangle_materials;
}

void mesh_bounds(const mesh *m, float min[3], float max[3])
{
    for (int k = 0; k < 3; k++) {
        min[k] = INFINITY;
        max[k] = -INFINITY;
    }
    for (uint32_t i = 0; i < m->vertex_count; i++)
        for (int k = 0; k < 3; k++) {
            float v = m->positions[3 * i + k];
            min[k] = v < min[k] ? v : min[k];
            max[k] = v > max[k] ? v : max[k];
        }
}

/* ---- Validation and topology ---- */

int mesh_validate(mesh *m, md_error *err)
{
    if (m->vertex_count == 0)
        return md_fail(err, MD_EPARSE, "the file has no vertices");
    if (m->triangle_count == 0)
        return md_fail(err, MD_EPARSE,
                       "the file has %u vertices but no faces (points or lines only?)",
                       m->vertex_count);
    for (size_t i = 0; i < 3 * (size_t)m->vertex_count; i++)
        if (!isfinite(m->positions[i]))
            return md_fail(err, MD_EPARSE, "vertex %zu has a coordinate that is not finite (%g)",
                           i / 3 + 1, (double)m->positions[i]);
    for (size_t i = 0; i < 3 * (size_t)m->triangle_count; i++)
        if (m->triangles[i] >= m->vertex_count)
            return md_fail(err, MD_EPARSE, "triangle %zu uses vertex %u, but there are only %u",
                           i / 3 + 1, m->triangles[i] + 1, m->vertex_count);
    if ((m->uv_count == 0) != (m->triangle_uvs == NULL))
        return md_fail(err, MD_EINTERNAL, "texture coordinates without indices");
    for (size_t i = 0; i < 2 * (size_t)m->uv_count; i++)
        if (!isfinite(m->uvs[i]))
            return md_fail(err, MD_EPARSE,
                           "texture coordinate %zu has a value that is not finite (%g)", i / 2 + 1,
                           (double)m->uvs[i]);
    if (m->triangle_uvs != NULL)
        for (size_t i = 0; i < 3 * (size_t)m->triangle_count; i++)
            if (m->triangle_uvs[i] >= m->uv_count)
                return md_fail(err, MD_EPARSE,
                               "triangle %zu uses texture coordinate %u, but there are only %u",
                               i / 3 + 1, m->triangle_uvs[i] + 1, m->uv_count);
    if (m->triangle_materials == NULL) {
        m->triangle_materials = md_calloc(m->triangle_count, sizeof *m->triangle_materials);
        if (m->triangle_materials == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory");
    }
    if (m->material_count == 0) {
        md_limits lim;
        md_limits_default(&lim);
        int rc = mesh_material_add(m, "default", &lim, err);
        if (rc < 0)
            return rc;
    }
    for (uint32_t i = 0; i < m->triangle_count; i++)
        if (m->triangle_materials[i] >= m->material_count)
            return md_fail(err, MD_EINTERNAL, "triangle %u has material %u of %u", i + 1,
                           m->triangle_materials[i], m->material_count);
    return 0;
}

/* Whether one renumbering of the vertices turns source's triangle list into target's (corner by
 * corner, both ways one-to-one): then the files list the same faces over the same vertices, in
 * another vertex order. -1 when out of memory (no answer). */
static int same_faces_reordered(const mesh *source, const mesh *target)
{
    const uint32_t n = source->vertex_count;
    uint32_t *to_target = md_malloc_array(n, sizeof *to_target);
    uint32_t *to_source = md_malloc_array(n, sizeof *to_source);
    int same = -1;
    if (to_target == NULL || to_source == NULL)
        goto done;
    for (uint32_t v = 0; v < n; v++)
        to_target[v] = to_source[v] = UINT32_MAX;
    same = 1;
    for (size_t k = 0; k < 3 * (size_t)source->triangle_count && same; k++) {
        const uint32_t a = source->triangles[k], b = target->triangles[k];
        if ((to_target[a] != UINT32_MAX && to_target[a] != b) ||
            (to_source[b] != UINT32_MAX && to_source[b] != a))
            same = 0;
        to_target[a] = b;
        to_source[b] = a;
    }
done:
    md_free(to_target);
    md_free(to_source);
    return same;
}

int mesh_check_topology(const mesh *source, const mesh *target, md_error *err)
{
    if (source->vertex_count != target->vertex_count)
        return md_fail(err, MD_ETOPOLOGY,
                       "source has %u vertices, target %u: a morph needs meshes with the same "
                       "topology (same vertices and triangles in the same order)",
                       source->vertex_count, target->vertex_count);
    if (source->triangle_count != target->triangle_count)
        return md_fail(err, MD_ETOPOLOGY,
                       "source has %u triangles, target %u (both have %u vertices): a morph "
                       "needs the same triangle list",
                       source->triangle_count, target->triangle_count, source->vertex_count);
    for (uint32_t t = 0; t < source->triangle_count; t++) {
        const uint32_t *a = &source->triangles[3 * t];
        const uint32_t *b = &target->triangles[3 * t];
        if (a[0] == b[0] && a[1] == b[1] && a[2] == b[2])
            continue;
        /* Vertices are named as each file numbers them (1-based), not as welded. */
        uint32_t fa[3], fb[3];
        int k = 0;
        for (int c = 0; c < 3; c++) {
            fa[c] = mesh_file_vertex(source, a[c]) + 1;
            fb[c] = mesh_file_vertex(target, b[c]) + 1;
        }
        while (k < 2 && a[k] == b[k])
            k++;
        if (same_faces_reordered(source, target) == 1)
            return md_fail(err, MD_ETOPOLOGY,
                           "the meshes have the same faces but list their vertices in a different "
                           "order (source vertex %u is target vertex %u, in triangle %u; 1-based, "
                           "as each file numbers them): a morph pairs vertices by number, so "
                           "export both with one vertex order (the same tool and settings)",
                           fa[k], fb[k], t + 1);
        return md_fail(err, MD_ETOPOLOGY,
                       "triangle %u is (%u,%u,%u) in source and (%u,%u,%u) in target (1-based "
                       "vertex numbers, as each file numbers them): the face lists differ, so the "
                       "meshes have different topology",
                       t + 1, fa[0], fa[1], fa[2], fb[0], fb[1], fb[2]);
    }
    return 0;
}
