/*
 * derive.c — meshes made from other meshes: mesh_derive() copies a mesh's surface (UVs, per-corner
 * UV indices, triangles, materials) with new positions and no textures, mesh_clone() copies
 * everything (textures too), and
 * mesh_same_texture_layout() says whether two meshes' textures line up texel by texel.
 *
 * Callers: the face-space transforms and averages (jobs/facespace.c), for `morph transform`,
 * `morph average` and the worker, on their own thread. Pure: inputs are borrowed and only read;
 * a derived mesh owns all its memory and satisfies mesh_int.h's invariants like a loaded one.
 */
#include "mesh/mesh_int.h"

#include <math.h>
#include <string.h>

/* ---- Copy with new positions ---- */

static void *copy_array(const void *src, size_t n, size_t size)
{
    if (src == NULL || n == 0)
        return NULL;
    void *dst = md_malloc_array(n, size);
    if (dst != NULL)
        memcpy(dst, src, n * size);
    return dst;
}

int mesh_derive(const mesh *m, const float *positions, mesh **out, md_error *err)
{
    *out = NULL;
    size_t coords = 3 * (size_t)m->vertex_count;
    for (size_t i = 0; i < coords; i++)
        if (!isfinite(positions[i]))
            return md_fail(err, MD_EINVAL,
                           "derived vertex %zu has a coordinate that is not "
                           "finite (%g)",
                           i / 3 + 1, (double)positions[i]);
    mesh *d = mesh_alloc(m->format);
    if (d == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for a derived mesh");
    int rc = 0;
    d->vertex_count = m->vertex_count;
    d->triangle_count = m->triangle_count;
    d->uv_count = m->uv_count;
    d->positions = copy_array(positions, coords, sizeof(float));
    d->triangles = copy_array(m->triangles, 3 * (size_t)m->triangle_count, sizeof(uint32_t));
    d->uvs = copy_array(m->uvs, 2 * (size_t)m->uv_count, sizeof(float));
    d->triangle_uvs =
        m->uv_count ? copy_array(m->triangle_uvs, 3 * (size_t)m->triangle_count, sizeof(uint32_t))
                    : NULL;
    d->triangle_materials = copy_array(m->triangle_materials, m->triangle_count, sizeof(uint16_t));
    d->materials = md_calloc(m->material_count, sizeof *d->materials);
    /* The file's vertex numbers name the same vertices in messages. */
    d->file_vertex = copy_array(m->file_vertex, m->vertex_count, sizeof(uint32_t));
    d->opacity_from_tf = m->opacity_from_tf;
    if (d->positions == NULL || d->triangles == NULL || (m->uv_count && d->uvs == NULL) ||
        (m->file_vertex != NULL && d->file_vertex == NULL) ||
        (m->uv_count && d->triangle_uvs == NULL) || d->triangle_materials == NULL ||
        d->materials == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for a derived mesh of %u vertices",
                     m->vertex_count);
        goto done;
    }
    for (uint32_t i = 0; i < m->material_count; i++) {
        struct mesh_material *mat = &d->materials[i];
        mat->name = md_strdup(m->materials[i].name);
        memcpy(mat->kd, m->materials[i].kd, sizeof mat->kd);
        mat->opacity = m->materials[i].opacity;
        d->material_count = i + 1; /* so mesh_free frees what was copied */
        if (mat->name == NULL) {
            rc = md_fail(err, MD_ENOMEM, "out of memory for a derived mesh's materials");
            goto done;
        }
    }
    rc = mesh_validate(d, err);
done:
    if (rc != 0)
        mesh_free(d);
    else
        *out = d;
    return rc;
}

/* ---- Copy of everything ---- */

static char *dup_or_null(const char *s, int *failed)
{
    if (s == NULL)
        return NULL;
    char *d = md_strdup(s);
    *failed |= d == NULL;
    return d;
}

int mesh_clone(const mesh *m, mesh **out, md_error *err)
{
    *out = NULL;
    mesh *d = mesh_alloc(m->format);
    if (d == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory copying a mesh");
    int failed = 0;
    d->vertex_count = m->vertex_count;
    d->triangle_count = m->triangle_count;
    d->uv_count = m->uv_count;
    d->opacity_from_tf = m->opacity_from_tf;
    d->positions = copy_array(m->positions, 3 * (size_t)m->vertex_count, sizeof(float));
    d->triangles = copy_array(m->triangles, 3 * (size_t)m->triangle_count, sizeof(uint32_t));
    d->uvs = copy_array(m->uvs, 2 * (size_t)m->uv_count, sizeof(float));
    d->triangle_uvs = m->triangle_uvs ? copy_array(m->triangle_uvs, 3 * (size_t)m->triangle_count,
                                                   sizeof(uint32_t))
                                      : NULL;
    d->triangle_materials = copy_array(m->triangle_materials, m->triangle_count, sizeof(uint16_t));
    d->file_vertex = copy_array(m->file_vertex, m->vertex_count, sizeof(uint32_t));
    failed |= d->positions == NULL || d->triangles == NULL || (m->uvs && d->uvs == NULL) ||
              (m->triangle_uvs && d->triangle_uvs == NULL) || d->triangle_materials == NULL ||
              (m->file_vertex && d->file_vertex == NULL);
    d->materials = md_calloc(m->material_count ? m->material_count : 1, sizeof *d->materials);
    failed |= d->materials == NULL;
    for (uint32_t i = 0; !failed && i < m->material_count; i++) {
        const struct mesh_material *src = &m->materials[i];
        struct mesh_material *mat = &d->materials[i];
        d->material_count = i + 1; /* so mesh_free frees what was copied */
        mat->name = dup_or_null(src->name, &failed);
        mat->texture_path = dup_or_null(src->texture_path, &failed);
        memcpy(mat->kd, src->kd, sizeof mat->kd);
        mat->opacity = src->opacity;
        if (src->texture != NULL) {
            int w = img_width(src->texture), h = img_height(src->texture);
            mat->texture = img_new(w, h);
            if (mat->texture == NULL)
                failed = 1;
            else
                memcpy(img_pixels(mat->texture), img_pixels_const(src->texture),
                       (size_t)w * (size_t)h * 4);
        }
    }
    if (!failed && m->morph_count > 0) {
        d->morph_names = md_calloc(m->morph_count, sizeof *d->morph_names);
        failed |= d->morph_names == NULL;
        for (uint32_t i = 0; !failed && i < m->morph_count; i++) {
            d->morph_count = i + 1;
            d->morph_names[i] = dup_or_null(m->morph_names[i], &failed);
        }
    }
    if (!failed && m->mtllib_count > 0) {
        d->mtllibs = md_calloc(m->mtllib_count, sizeof *d->mtllibs);
        failed |= d->mtllibs == NULL;
        for (uint32_t i = 0; !failed && i < m->mtllib_count; i++) {
            d->mtllib_count = i + 1;
            d->mtllibs[i] = dup_or_null(m->mtllibs[i], &failed);
        }
    }
    if (failed) {
        mesh_free(d);
        return md_fail(err, MD_ENOMEM, "out of memory copying a mesh of %u vertices",
                       m->vertex_count);
    }
    *out = d;
    return 0;
}

/* ---- Texture layout ---- */

int mesh_same_texture_layout(const mesh *a, const mesh *b, const char *name_a, const char *name_b,
                             char *why, size_t cap)
{
    if (b->uv_count != a->uv_count || b->material_count != a->material_count ||
        b->triangle_count != a->triangle_count) {
        snprintf(why, cap, "%s and %s differ in their number of texture coordinates or materials",
                 name_a, name_b);
        return 0;
    }
    for (size_t i = 0; i < 2 * (size_t)a->uv_count; i++)
        if (!(fabsf(a->uvs[i] - b->uvs[i]) <= 1e-6f)) {
            snprintf(why, cap, "texture coordinate %zu differs between %s and %s", i / 2 + 1,
                     name_a, name_b);
            return 0;
        }
    size_t nt = a->triangle_count;
    if (a->uv_count > 0 &&
        memcmp(a->triangle_uvs, b->triangle_uvs, 3 * nt * sizeof *a->triangle_uvs) != 0) {
        snprintf(why, cap, "the triangles' texture coordinate indices differ between %s and %s",
                 name_a, name_b);
        return 0;
    }
    if (memcmp(a->triangle_materials, b->triangle_materials, nt * sizeof(uint16_t)) != 0) {
        snprintf(why, cap, "the triangles' materials differ between %s and %s", name_a, name_b);
        return 0;
    }
    for (uint32_t i = 0; i < a->material_count; i++) {
        const img *ta = a->materials[i].texture, *tb = b->materials[i].texture;
        if ((ta == NULL) != (tb == NULL)) {
            snprintf(why, cap, "material %u has a texture in %s but not in %s", i + 1,
                     ta ? name_a : name_b, ta ? name_b : name_a);
            return 0;
        }
        if (ta != NULL && (img_width(ta) != img_width(tb) || img_height(ta) != img_height(tb))) {
            snprintf(why, cap, "material %u's texture is %dx%d in %s, %dx%d in %s", i + 1,
                     img_width(ta), img_height(ta), name_a, img_width(tb), img_height(tb), name_b);
            return 0;
        }
    }
    return 1;
}
