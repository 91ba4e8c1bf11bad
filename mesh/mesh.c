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
    md_free(m->materials);
    md_free(m->positions);
    md_free(m->triangles);
    md_free(m->uvs);
    md_free(m->triangle_uvs);
    md_free(m->triangle_materials);
    md_free(m);
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
                           "texture coordinate %zu has a value that is not finite (%g)",
                           i / 2 + 1, (double)m->uvs[i]);
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
        if (a[0] != b[0] || a[1] != b[1] || a[2] != b[2])
            return md_fail(err, MD_ETOPOLOGY,
                           "triangle %u is (%u,%u,%u) in source and (%u,%u,%u) in target "
                           "(1-based vertex numbers): the meshes have different topology",
                           t + 1, a[0] + 1, a[1] + 1, a[2] + 1, b[0] + 1, b[1] + 1, b[2] + 1);
    }
    return 0;
}
