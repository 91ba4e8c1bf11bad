/*
 * write.c — mesh writers: a mesh's surface with given geometry as OBJ + MTL + PNG, a
 * self-contained GLB, or an FBX through assimp's exporter, each as named files in memory
 * (mesh/write.h). The readers are beside them (obj.c, mtl.c, assimp.c, ply.c).
 *
 * Callers: analysis/mesh_export.c (a morph's frame: it computes the positions, normals and
 * blended textures, then writes them here), once per frame, possibly from several threads at
 * once: the writers keep no state (assimp's exporter builds its own Exporter per call). Inputs
 * are borrowed and only read; every output buffer is owned by the mesh_files it lands in.
 *
 * Vertices. OBJ indexes positions and UVs separately, as struct mesh does. glTF and FBX want one
 * index per vertex, so each material's corners are split into distinct (position, UV) pairs,
 * sorted by position then UV: a reader that welds equal positions back (ours does) finds them
 * in the mesh's position order again. Normals of (0,0,0) are kept by OBJ; glTF, which requires
 * unit normals, gets +Z there.
 */
#define _GNU_SOURCE
#include "mesh/write.h"

#include <assimp/cexport.h>
#include <assimp/material.h>
#include <assimp/scene.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GLB writer stores floats and indices in host order, which glTF requires little-endian"
#endif

#define GLB_MAGIC 0x46546C67u /* "glTF" */
#define GLB_CHUNK_JSON 0x4E4F534Au
#define GLB_CHUNK_BIN 0x004E4942u
#define NAME_MAX_BYTES MESH_WRITE_NAME_MAX

/* ---- Output files ---- */

void mesh_files_free(mesh_files *files)
{
    if (files == NULL)
        return;
    for (uint32_t i = 0; i < files->count; i++) {
        md_free(files->files[i].name);
        md_free(files->files[i].bytes);
    }
    md_free(files->files);
    files->files = NULL;
    files->count = 0;
}

/* Appends a file; takes ownership of bytes (also on failure). */
static int files_add(mesh_files *out, const char *base, const char *suffix, uint8_t *bytes,
                     size_t len, md_error *err)
{
    mesh_file *grown = md_realloc_array(out->files, (size_t)out->count + 1, sizeof *grown);
    size_t n = strlen(base) + strlen(suffix) + 1;
    char *name = md_malloc(n);
    if (grown != NULL)
        out->files = grown;
    if (grown == NULL || name == NULL) {
        md_free(name);
        md_free(bytes);
        return md_fail(err, MD_ENOMEM, "out of memory");
    }
    snprintf(name, n, "%s%s", base, suffix);
    out->files[out->count++] = (mesh_file){.name = name, .bytes = bytes, .len = len};
    return 0;
}

/* ---- Output buffers ---- */

/* Every file is built in an md_buf (base/md.h). Its size follows from the mesh, which the limits
 * bounded when it was read; the maximum only keeps sizes from overflowing. */
#define WRITE_BUF_MAX (SIZE_MAX / 2)

static void buf_pad4(md_buf *b, uint8_t byte)
{
    while (b->err == 0 && b->len % 4 != 0)
        md_buf_append(b, &byte, 1);
}

/* ---- Vertices for glTF and FBX: distinct (position, uv) pairs of one material ---- */

typedef struct split {
    uint32_t vertex_count;
    uint32_t *pos_index; /* vertex → position index in m */
    uint32_t *uv_index;  /* vertex → UV index in m (0 when m has no UVs) */
    uint32_t index_count;
    uint32_t *indices; /* 3 per triangle of the material, in triangle order */
} split;

static void split_free(split *s)
{
    md_free(s->pos_index);
    md_free(s->uv_index);
    md_free(s->indices);
    memset(s, 0, sizeof *s);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The vertices and indices of material mat's triangles; index_count 0 when it has none. */
static int split_material(const mesh *a, uint32_t mat, split *s, md_error *err)
{
    const uint32_t nt = mesh_triangle_count(a);
    const uint32_t *tris = mesh_triangles(a), *tuv = mesh_triangle_uvs(a);
    const uint16_t *tmat = mesh_triangle_materials(a);
    uint64_t *keys = NULL, *sorted = NULL;
    int rc = 0;
    uint32_t corners = 0;
    for (uint32_t f = 0; f < nt; f++)
        corners += tmat[f] == mat ? 3 : 0;
    memset(s, 0, sizeof *s);
    if (corners == 0)
        return 0;
    keys = md_malloc_array(corners, sizeof *keys);
    sorted = md_malloc_array(corners, sizeof *sorted);
    s->indices = md_malloc_array(corners, sizeof *s->indices);
    if (keys == NULL || sorted == NULL || s->indices == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory splitting %u corners", corners);
        goto done;
    }
    uint32_t c = 0;
    for (uint32_t f = 0; f < nt; f++) {
        if (tmat[f] != mat)
            continue;
        for (int k = 0; k < 3; k++, c++)
            keys[c] = (uint64_t)tris[3 * (size_t)f + k] << 32 | (tuv ? tuv[3 * (size_t)f + k] : 0u);
    }
    memcpy(sorted, keys, (size_t)corners * sizeof *keys);
    qsort(sorted, corners, sizeof *sorted, cmp_u64);
    uint32_t unique = 0;
    for (uint32_t i = 0; i < corners; i++)
        if (i == 0 || sorted[i] != sorted[unique - 1])
            sorted[unique++] = sorted[i];
    s->pos_index = md_malloc_array(unique, sizeof *s->pos_index);
    s->uv_index = md_malloc_array(unique, sizeof *s->uv_index);
    if (s->pos_index == NULL || s->uv_index == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory splitting %u vertices", unique);
        goto done;
    }
    for (uint32_t i = 0; i < unique; i++) {
        s->pos_index[i] = (uint32_t)(sorted[i] >> 32);
        s->uv_index[i] = (uint32_t)sorted[i];
    }
    for (uint32_t i = 0; i < corners; i++) {
        const uint64_t *hit = bsearch(&keys[i], sorted, unique, sizeof *sorted, cmp_u64);
        s->indices[i] = (uint32_t)(hit - sorted);
    }
    s->vertex_count = unique;
    s->index_count = corners;

done:
    md_free(keys);
    md_free(sorted);
    if (rc != 0)
        split_free(s);
    return rc;
}

/* Material names go into OBJ/MTL statements and JSON: printable ASCII without spaces. */
static void clean_name(const char *name, uint32_t index, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = name ? name : ""; *p != '\0' && n + 1 < cap; p++)
        out[n++] = *p > ' ' && *p < 0x7f ? *p : '_';
    if (n == 0)
        n = (size_t)snprintf(out, cap, "material_%u", index);
    out[n < cap ? n : cap - 1] = '\0';
}

/* ---- OBJ + MTL + PNG ---- */

int mesh_write_obj(const mesh_write_input *f, const char *base, mesh_files *out, md_error *err)
{
    const mesh *a = f->m;
    const uint32_t nv = mesh_vertex_count(a), nuv = mesh_uv_count(a), nt = mesh_triangle_count(a);
    const uint32_t nm = mesh_material_count(a);
    const uint32_t *tris = mesh_triangles(a), *tuv = mesh_triangle_uvs(a);
    const uint16_t *tmat = mesh_triangle_materials(a);
    const float *uv = mesh_uvs(a);
    uint32_t textured = 0;
    for (uint32_t i = 0; i < nm; i++)
        textured += f->png[i] != NULL;
    const char *tex_tag = f->texture_tag != NULL ? f->texture_tag : "";
    if (strlen(tex_tag) > MESH_WRITE_TAG_MAX)
        return md_fail(err, MD_EINVAL, "mesh export: texture tag '%s' is over %d bytes", tex_tag,
                       MESH_WRITE_TAG_MAX);
    if (tex_tag[0] != '\0' && mesh_write_check_name(tex_tag, err) != 0)
        return err->code;
    char tex_name[NAME_MAX_BYTES + 2 * MESH_WRITE_TAG_MAX + 32];
    md_buf mtl, obj;
    md_buf_init(&mtl, WRITE_BUF_MAX);
    md_buf_init(&obj, WRITE_BUF_MAX);
    int rc = 0;

    md_buf_printf(&mtl, "# morphd frame material\n");
    for (uint32_t i = 0; i < nm; i++) {
        char name[128];
        clean_name(mesh_material_name(a, i), i, name, sizeof name);
        /* Kd multiplies map_Kd in most readers: white under a texture. */
        const float *kd = f->png[i] ? (const float[3]){1, 1, 1} : f->kd[i];
        /* d carries the material's opacity (1 for opaque ones, as before). */
        md_buf_printf(&mtl, "\nnewmtl %s\nKa 0 0 0\nKd %.6g %.6g %.6g\nKs 0 0 0\nd %.6g\nillum 1\n",
                      name, kd[0], kd[1], kd[2], (double)mesh_material_opacity(a, i));
        if (f->png[i] == NULL)
            continue;
        if (textured == 1)
            snprintf(tex_name, sizeof tex_name, "%s%s.png", base, tex_tag);
        else
            snprintf(tex_name, sizeof tex_name, "%s%s_m%u.png", base, tex_tag, i);
        md_buf_printf(&mtl, "map_Kd %s\n", tex_name);
    }

    md_buf_printf(&obj, "# morphd frame %s: %u vertices, %u triangles\nmtllib %s.mtl\n", base, nv,
                  nt, base);
    /* %.9g: every float reads back to the same bits. */
    for (uint32_t i = 0; i < nv; i++)
        md_buf_printf(&obj, "v %.9g %.9g %.9g\n", f->pos[3 * i], f->pos[3 * i + 1],
                      f->pos[3 * i + 2]);
    for (uint32_t i = 0; i < nuv; i++)
        md_buf_printf(&obj, "vt %.9g %.9g\n", uv[2 * i], uv[2 * i + 1]);
    for (uint32_t i = 0; i < nv; i++)
        md_buf_printf(&obj, "vn %.6g %.6g %.6g\n", f->normal[3 * i], f->normal[3 * i + 1],
                      f->normal[3 * i + 2]);
    int current = -1;
    for (uint32_t t = 0; t < nt; t++) {
        if (tmat[t] != current) {
            char name[128];
            current = tmat[t];
            clean_name(mesh_material_name(a, (uint32_t)current), (uint32_t)current, name,
                       sizeof name);
            md_buf_printf(&obj, "usemtl %s\n", name);
        }
        const uint32_t *p = tris + 3 * (size_t)t;
        if (tuv != NULL) {
            const uint32_t *q = tuv + 3 * (size_t)t;
            md_buf_printf(&obj, "f %u/%u/%u %u/%u/%u %u/%u/%u\n", p[0] + 1, q[0] + 1, p[0] + 1,
                          p[1] + 1, q[1] + 1, p[1] + 1, p[2] + 1, q[2] + 1, p[2] + 1);
        } else
            md_buf_printf(&obj, "f %u//%u %u//%u %u//%u\n", p[0] + 1, p[0] + 1, p[1] + 1, p[1] + 1,
                          p[2] + 1, p[2] + 1);
    }
    if (obj.err || mtl.err) {
        md_free(obj.data);
        md_free(mtl.data);
        return md_fail(err, MD_ENOMEM, "out of memory writing the OBJ");
    }
    rc = files_add(out, base, ".obj", (uint8_t *)obj.data, obj.len, err);
    if (rc == 0)
        rc = files_add(out, base, ".mtl", (uint8_t *)mtl.data, mtl.len, err);
    else
        md_free(mtl.data);
    for (uint32_t i = 0; rc == 0 && i < nm; i++) {
        if (f->png[i] == NULL)
            continue;
        char suffix[32];
        if (textured == 1)
            snprintf(suffix, sizeof suffix, "%s.png", tex_tag);
        else
            snprintf(suffix, sizeof suffix, "%s_m%u.png", tex_tag, i);
        uint8_t *copy = md_malloc(f->png_len[i]);
        if (copy == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory");
        memcpy(copy, f->png[i], f->png_len[i]);
        rc = files_add(out, base, suffix, copy, f->png_len[i], err);
    }
    return rc;
}

/* ---- GLB ---- */

/* A bufferView over bin[offset, offset + len); returns its index. */
static size_t glb_view(json_t *views, size_t offset, size_t len, int target)
{
    json_t *v = json_pack("{s:i, s:I, s:I}", "buffer", 0, "byteOffset", (json_int_t)offset,
                          "byteLength", (json_int_t)len);
    if (v != NULL && target != 0)
        json_object_set_new(v, "target", json_integer(target));
    json_array_append_new(views, v);
    return json_array_size(views) - 1;
}

static size_t glb_accessor(json_t *accessors, size_t view, int component, size_t count,
                           const char *type)
{
    json_array_append_new(accessors, json_pack("{s:I, s:i, s:I, s:s}", "bufferView",
                                               (json_int_t)view, "componentType", component,
                                               "count", (json_int_t)count, "type", type));
    return json_array_size(accessors) - 1;
}

int mesh_write_glb(const mesh_write_input *f, const char *base, mesh_files *out, md_error *err)
{
    enum { GL_FLOAT = 5126, GL_UINT = 5125, GL_ARRAY = 34962, GL_ELEMENTS = 34963 };
    const mesh *a = f->m;
    const uint32_t nm = mesh_material_count(a);
    const float *uv = mesh_uvs(a);
    const int has_uv = mesh_uv_count(a) > 0;
    md_buf bin, file;
    md_buf_init(&bin, WRITE_BUF_MAX);
    md_buf_init(&file, WRITE_BUF_MAX);
    split s = {0};
    char *text = NULL;
    int rc = 0;
    json_t *root = json_object(), *views = json_array(), *accessors = json_array();
    json_t *prims = json_array(), *materials = json_array(), *textures = json_array();
    json_t *images = json_array();
    if (root == NULL || views == NULL || accessors == NULL || prims == NULL || materials == NULL ||
        textures == NULL || images == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory writing the GLB");
        goto done;
    }

    for (uint32_t m = 0; m < nm; m++) {
        char name[128];
        clean_name(mesh_material_name(a, m), m, name, sizeof name);
        /* A translucent material: its opacity as baseColorFactor's alpha, blended. */
        const double opacity = mesh_material_opacity(a, m);
        json_t *pbr = json_pack(
            "{s:[f,f,f,f], s:f, s:f}", "baseColorFactor", f->png[m] ? 1.0 : (double)f->kd[m][0],
            f->png[m] ? 1.0 : (double)f->kd[m][1], f->png[m] ? 1.0 : (double)f->kd[m][2], opacity,
            "metallicFactor", 0.0, "roughnessFactor", 1.0);
        if (pbr != NULL && f->png[m] != NULL) {
            size_t off = bin.len;
            md_buf_append(&bin, f->png[m], f->png_len[m]);
            buf_pad4(&bin, 0);
            size_t view = glb_view(views, off, f->png_len[m], 0);
            json_array_append_new(images, json_pack("{s:I, s:s}", "bufferView", (json_int_t)view,
                                                    "mimeType", "image/png"));
            json_array_append_new(textures, json_pack("{s:i, s:I}", "sampler", 0, "source",
                                                      (json_int_t)json_array_size(images) - 1));
            json_object_set_new(
                pbr, "baseColorTexture",
                json_pack("{s:I}", "index", (json_int_t)json_array_size(textures) - 1));
        }
        /* Faces are open surfaces seen from either side, as the engine lights them. */
        json_t *glb_mat = json_pack("{s:s, s:o, s:b}", "name", name, "pbrMetallicRoughness", pbr,
                                    "doubleSided", 1);
        if (glb_mat != NULL && opacity < 1.0)
            json_object_set_new(glb_mat, "alphaMode", json_string("BLEND"));
        json_array_append_new(materials, glb_mat);

        rc = split_material(a, m, &s, err);
        if (rc != 0)
            goto done;
        if (s.index_count == 0)
            continue;
        /* Positions (with the bounds glTF requires), normals, UVs (v flipped: glTF's origin is
         * the top left of the image), indices. */
        float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
        size_t off_pos = bin.len;
        for (uint32_t i = 0; i < s.vertex_count; i++) {
            const float *p = f->pos + 3 * (size_t)s.pos_index[i];
            for (int k = 0; k < 3; k++) {
                lo[k] = fminf(lo[k], p[k]);
                hi[k] = fmaxf(hi[k], p[k]);
            }
            md_buf_append(&bin, p, 3 * sizeof(float));
        }
        size_t off_nrm = bin.len;
        for (uint32_t i = 0; i < s.vertex_count; i++) {
            const float *n = f->normal + 3 * (size_t)s.pos_index[i];
            const float up[3] = {0, 0, 1};
            md_buf_append(&bin, n[0] == 0 && n[1] == 0 && n[2] == 0 ? up : n, 3 * sizeof(float));
        }
        size_t off_uv = bin.len;
        for (uint32_t i = 0; has_uv && i < s.vertex_count; i++) {
            const float *q = uv + 2 * (size_t)s.uv_index[i];
            float st[2] = {q[0], 1.0f - q[1]};
            md_buf_append(&bin, st, sizeof st);
        }
        size_t off_idx = bin.len;
        md_buf_append(&bin, s.indices, (size_t)s.index_count * sizeof(uint32_t));
        size_t vbytes = (size_t)s.vertex_count * 3 * sizeof(float);
        size_t acc_pos = glb_accessor(accessors, glb_view(views, off_pos, vbytes, GL_ARRAY),
                                      GL_FLOAT, s.vertex_count, "VEC3");
        json_object_set_new(json_array_get(accessors, acc_pos), "min",
                            json_pack("[f,f,f]", (double)lo[0], (double)lo[1], (double)lo[2]));
        json_object_set_new(json_array_get(accessors, acc_pos), "max",
                            json_pack("[f,f,f]", (double)hi[0], (double)hi[1], (double)hi[2]));
        size_t acc_nrm = glb_accessor(accessors, glb_view(views, off_nrm, vbytes, GL_ARRAY),
                                      GL_FLOAT, s.vertex_count, "VEC3");
        json_t *attrs =
            json_pack("{s:I, s:I}", "POSITION", (json_int_t)acc_pos, "NORMAL", (json_int_t)acc_nrm);
        if (has_uv && attrs != NULL) {
            size_t view = glb_view(views, off_uv, (size_t)s.vertex_count * 8, GL_ARRAY);
            size_t acc = glb_accessor(accessors, view, GL_FLOAT, s.vertex_count, "VEC2");
            json_object_set_new(attrs, "TEXCOORD_0", json_integer((json_int_t)acc));
        }
        size_t view_idx = glb_view(views, off_idx, (size_t)s.index_count * 4, GL_ELEMENTS);
        size_t acc_idx = glb_accessor(accessors, view_idx, GL_UINT, s.index_count, "SCALAR");
        json_array_append_new(prims,
                              json_pack("{s:o, s:I, s:I, s:i}", "attributes", attrs, "indices",
                                        (json_int_t)acc_idx, "material", (json_int_t)m, "mode", 4));
        split_free(&s);
    }
    if (bin.err) {
        rc = md_fail(err, MD_ENOMEM, "out of memory writing the GLB");
        goto done;
    }

    json_object_set_new(root, "asset",
                        json_pack("{s:s, s:s}", "version", "2.0", "generator", "morphd"));
    json_object_set_new(root, "scene", json_integer(0));
    json_object_set_new(root, "scenes", json_pack("[{s:[i]}]", "nodes", 0));
    json_object_set_new(root, "nodes", json_pack("[{s:i, s:s}]", "mesh", 0, "name", base));
    json_object_set_new(root, "meshes",
                        json_pack("[{s:s, s:O}]", "name", base, "primitives", prims));
    json_object_set_new(root, "materials", json_incref(materials));
    if (json_array_size(images) > 0) {
        json_object_set_new(root, "samplers",
                            json_pack("[{s:i, s:i, s:i, s:i}]", "magFilter", 9729, "minFilter",
                                      9987, "wrapS", 10497, "wrapT", 10497));
        json_object_set_new(root, "images", json_incref(images));
        json_object_set_new(root, "textures", json_incref(textures));
    }
    json_object_set_new(root, "accessors", json_incref(accessors));
    json_object_set_new(root, "bufferViews", json_incref(views));
    json_object_set_new(root, "buffers", json_pack("[{s:I}]", "byteLength", (json_int_t)bin.len));
    text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
    if (text == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory writing the GLB's JSON");
        goto done;
    }

    /* The container: 12-byte header, the JSON chunk (space-padded), the BIN chunk. */
    size_t json_len = (strlen(text) + 3) & ~(size_t)3;
    uint64_t total = 12 + 8 + (uint64_t)json_len + 8 + bin.len;
    if (total > UINT32_MAX) {
        rc = md_fail(err, MD_ELIMIT, "the frame's GLB would exceed 4 GiB");
        goto done;
    }
    uint32_t header[5] = {GLB_MAGIC, 2, (uint32_t)total, (uint32_t)json_len, GLB_CHUNK_JSON};
    md_buf_append(&file, header, sizeof header);
    md_buf_append(&file, text, strlen(text));
    buf_pad4(&file, ' ');
    uint32_t bin_header[2] = {(uint32_t)bin.len, GLB_CHUNK_BIN};
    md_buf_append(&file, bin_header, sizeof bin_header);
    md_buf_append(&file, bin.data, bin.len);
    if (file.err) {
        rc = md_fail(err, MD_ENOMEM, "out of memory writing the GLB");
        goto done;
    }
    rc = files_add(out, base, ".glb", (uint8_t *)file.data, file.len, err);
    file.data = NULL;

done:
    split_free(&s);
    free(text);
    md_free(bin.data);
    md_free(file.data);
    json_decref(root);
    json_decref(views);
    json_decref(accessors);
    json_decref(prims);
    json_decref(materials);
    json_decref(textures);
    json_decref(images);
    return rc;
}

/* ---- FBX through assimp ----
 *
 * The scene is built here in plain C (calloc'd, zeroed: mPrivate NULL marks a user-made scene,
 * which assimp's exporter supports by copying it first) and freed here; assimp never frees or
 * keeps any of it. One aiMesh per used material, under one child node of the root; textures
 * are embedded ("*N" paths), which the FBX exporter writes as the Video's Content. */

typedef struct fbx_build {
    struct aiScene scene;
    struct aiNode root, node;
    struct aiNode *children[1];
    unsigned *node_meshes;
    struct aiMesh **meshes;
    struct aiMaterial **materials;
    struct aiTexture **textures;
    uint32_t mesh_count, material_count, texture_count;
} fbx_build;

static void ai_string_set(struct aiString *dst, const char *src)
{
    size_t n = strlen(src);
    if (n >= sizeof dst->data)
        n = sizeof dst->data - 1;
    memcpy(dst->data, src, n);
    dst->data[n] = '\0';
    dst->length = (ai_uint32)n;
}

static int ai_property_add(struct aiMaterial *mat, const char *key, unsigned semantic,
                           const void *data, unsigned len, enum aiPropertyTypeInfo type)
{
    struct aiMaterialProperty *p = md_calloc(1, sizeof *p);
    char *copy = md_malloc(len);
    if (p == NULL || copy == NULL) {
        md_free(p);
        md_free(copy);
        return MD_ENOMEM;
    }
    memcpy(copy, data, len);
    ai_string_set(&p->mKey, key);
    p->mSemantic = semantic;
    p->mIndex = 0;
    p->mDataLength = len;
    p->mType = type;
    p->mData = copy;
    mat->mProperties[mat->mNumProperties++] = p;
    return 0;
}

/* A string property as assimp stores one: its 32-bit length, the bytes, a NUL. */
static int ai_property_string(struct aiMaterial *mat, const char *key, unsigned semantic,
                              const char *value)
{
    struct aiString s;
    ai_string_set(&s, value);
    return ai_property_add(mat, key, semantic, &s, (unsigned)(sizeof s.length + s.length + 1),
                           aiPTI_String);
}

static void fbx_free(fbx_build *b)
{
    for (uint32_t i = 0; b->meshes != NULL && i < b->mesh_count; i++) {
        struct aiMesh *m = b->meshes[i];
        if (m == NULL)
            continue;
        md_free(m->mVertices);
        md_free(m->mNormals);
        md_free(m->mTextureCoords[0]);
        if (m->mFaces != NULL)
            md_free(m->mFaces[0].mIndices); /* one block for all faces */
        md_free(m->mFaces);
        md_free(m);
    }
    for (uint32_t i = 0; b->materials != NULL && i < b->material_count; i++) {
        struct aiMaterial *mat = b->materials[i];
        if (mat == NULL)
            continue;
        for (unsigned k = 0; k < mat->mNumProperties; k++) {
            md_free(mat->mProperties[k]->mData);
            md_free(mat->mProperties[k]);
        }
        md_free(mat->mProperties);
        md_free(mat);
    }
    for (uint32_t i = 0; b->textures != NULL && i < b->texture_count; i++)
        md_free(b->textures[i]); /* pcData is borrowed from the frame's PNGs */
    md_free(b->meshes);
    md_free(b->materials);
    md_free(b->textures);
    md_free(b->node_meshes);
}

static int fbx_add_mesh(fbx_build *b, const mesh_write_input *f, const split *s, uint32_t material,
                        md_error *err)
{
    const float *uv = mesh_uvs(f->m);
    struct aiMesh *m = md_calloc(1, sizeof *m);
    if (m == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    b->meshes[b->mesh_count++] = m;
    m->mPrimitiveTypes = aiPrimitiveType_TRIANGLE;
    m->mNumVertices = s->vertex_count;
    m->mNumFaces = s->index_count / 3;
    m->mMaterialIndex = material;
    char name[128];
    clean_name(mesh_material_name(f->m, material), material, name, sizeof name);
    ai_string_set(&m->mName, name);
    m->mVertices = md_malloc_array(s->vertex_count, sizeof *m->mVertices);
    m->mNormals = md_malloc_array(s->vertex_count, sizeof *m->mNormals);
    m->mFaces = md_calloc(m->mNumFaces, sizeof *m->mFaces);
    unsigned *indices = md_malloc_array(s->index_count, sizeof *indices);
    if (uv != NULL)
        m->mTextureCoords[0] = md_malloc_array(s->vertex_count, sizeof *m->mTextureCoords[0]);
    if (m->mVertices == NULL || m->mNormals == NULL || m->mFaces == NULL || indices == NULL ||
        (uv != NULL && m->mTextureCoords[0] == NULL)) {
        if (m->mFaces == NULL)
            md_free(indices);
        else
            m->mFaces[0].mIndices = indices;
        return md_fail(err, MD_ENOMEM, "out of memory for a mesh of %u vertices", s->vertex_count);
    }
    m->mNumUVComponents[0] = uv != NULL ? 2 : 0;
    for (uint32_t i = 0; i < s->vertex_count; i++) {
        const float *p = f->pos + 3 * (size_t)s->pos_index[i];
        const float *n = f->normal + 3 * (size_t)s->pos_index[i];
        m->mVertices[i] = (struct aiVector3D){p[0], p[1], p[2]};
        m->mNormals[i] = (struct aiVector3D){n[0], n[1], n[2]};
        if (uv != NULL) {
            const float *q = uv + 2 * (size_t)s->uv_index[i];
            m->mTextureCoords[0][i] = (struct aiVector3D){q[0], q[1], 0};
        }
    }
    memcpy(indices, s->indices, (size_t)s->index_count * sizeof *indices);
    for (unsigned i = 0; i < m->mNumFaces; i++) {
        m->mFaces[i].mNumIndices = 3;
        m->mFaces[i].mIndices = indices + 3 * (size_t)i;
    }
    return 0;
}

/* assimp 5.2's binary FBX writer (Debian 12 ships 5.2.5) drops the null record that must close
 * every nested record list (assimp issue #4686: a char array of NULs turned into an empty
 * string), so neither assimp's own reader nor Blender's opens the file ("block offset is out
 * of range"; "failed to read nested block sentinel"). This copies the record tree, adding the
 * null record after each nested list that lacks it and rewriting the end offsets, then the
 * footer with its 16-byte alignment recomputed. A file that already has its null records comes
 * out unchanged. Any structure it does not expect is an error rather than a guess. */
typedef struct fbx_fix {
    const uint8_t *in;
    size_t len;
    int wide; /* 7500+: 64-bit record header fields */
    md_buf out;
} fbx_fix;

static uint64_t fix_word(const fbx_fix *x, size_t at)
{
    uint64_t v = 0;
    for (int i = (x->wide ? 8 : 4) - 1; i >= 0; i--)
        v = v << 8 | x->in[at + (size_t)i];
    return v;
}

static void fix_store_end(fbx_fix *x, size_t at, uint64_t end)
{
    for (int i = 0; i < (x->wide ? 8 : 4); i++)
        x->out.data[at + (size_t)i] = (uint8_t)(end >> (8 * i));
}

/* Copies the records of [off, end); *stop receives where the list's null record starts (end
 * when it has none). */
static int fix_list(fbx_fix *x, size_t off, size_t end, int depth, size_t *stop)
{
    const size_t header = x->wide ? 25 : 13;
    const uint8_t zeros[25] = {0};
    if (depth > 64)
        return MD_EINTERNAL;
    while (end - off >= header) {
        uint64_t rec_end = fix_word(x, off);
        if (rec_end == 0) {
            *stop = off;
            return 0;
        }
        uint64_t props_len = fix_word(x, off + (x->wide ? 16 : 8));
        size_t name_len = x->in[off + header - 1];
        if (rec_end <= off || rec_end > end || rec_end - off < header + name_len ||
            props_len > rec_end - off - header - name_len)
            return MD_EINTERNAL;
        size_t children = off + header + name_len + (size_t)props_len;
        size_t start = x->out.len;
        md_buf_append(&x->out, x->in + off, children - off);
        if (children < rec_end) {
            size_t inner_stop = rec_end;
            int rc = fix_list(x, children, (size_t)rec_end, depth + 1, &inner_stop);
            if (rc != 0)
                return rc;
            md_buf_append(&x->out, zeros, header);
        }
        if (x->out.err)
            return MD_ENOMEM;
        fix_store_end(x, start, x->out.len);
        off = (size_t)rec_end;
    }
    if (off != end)
        return MD_EINTERNAL;
    *stop = end;
    return 0;
}

static int fbx_add_sentinels(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                             md_error *err)
{
    static const char magic[] = "Kaydara FBX Binary  ";
    fbx_fix x = {.in = in, .len = len};
    md_buf_init(&x.out, WRITE_BUF_MAX);
    size_t stop = 0;
    int rc = MD_EINTERNAL;
    *out = NULL;
    if (len < 27 + 25 + 16 || memcmp(in, magic, sizeof magic) != 0)
        goto done;
    uint32_t version =
        (uint32_t)in[23] | (uint32_t)in[24] << 8 | (uint32_t)in[25] << 16 | (uint32_t)in[26] << 24;
    x.wide = version >= 7500;
    md_buf_append(&x.out, in, 27);
    rc = fix_list(&x, 27, len, 0, &stop);
    /* The top-level null record (assimp writes that one), the footer id, its zero padding to a
     * 16-byte boundary (16 when already aligned), then the rest of the footer as it was. */
    size_t header = x.wide ? 25 : 13;
    if (rc != 0 || stop == len || len - stop < header + 16)
        goto fail;
    size_t id_end = stop + header + 16;
    size_t old_pad = ((id_end + 15) & ~(size_t)15) - id_end;
    old_pad = old_pad ? old_pad : 16;
    if (len - id_end < old_pad)
        goto fail;
    md_buf_append(&x.out, in + stop, header + 16);
    size_t new_pad = ((x.out.len + 15) & ~(size_t)15) - x.out.len;
    const uint8_t zeros[16] = {0};
    md_buf_append(&x.out, zeros, new_pad ? new_pad : 16);
    md_buf_append(&x.out, in + id_end + old_pad, len - id_end - old_pad);
    if (x.out.err) {
        rc = MD_ENOMEM;
        goto fail;
    }
    *out = (uint8_t *)x.out.data;
    *out_len = x.out.len;
    return 0;
fail:
    md_free(x.out.data);
done:
    if (rc == MD_ENOMEM)
        return md_fail(err, MD_ENOMEM, "out of memory repairing the FBX");
    return md_fail(err, MD_EINTERNAL,
                   "assimp's FBX exporter wrote a record structure this repair does not know");
}

int mesh_write_fbx(const mesh_write_input *f, const char *base, mesh_files *out, md_error *err)
{
    const mesh *a = f->m;
    const uint32_t nm = mesh_material_count(a);
    fbx_build b;
    split s = {0};
    int rc = 0;
    memset(&b, 0, sizeof b);
    b.meshes = md_calloc(nm, sizeof *b.meshes);
    b.materials = md_calloc(nm, sizeof *b.materials);
    b.textures = md_calloc(nm, sizeof *b.textures);
    b.node_meshes = md_calloc(nm, sizeof *b.node_meshes);
    if (b.meshes == NULL || b.materials == NULL || b.textures == NULL || b.node_meshes == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < nm; i++) {
        struct aiMaterial *mat = md_calloc(1, sizeof *mat);
        b.materials[b.material_count++] = mat;
        if (mat == NULL || (mat->mProperties = md_calloc(4, sizeof *mat->mProperties)) == NULL) {
            rc = md_fail(err, MD_ENOMEM, "out of memory");
            goto done;
        }
        mat->mNumAllocated = 4;
        char name[128], path[32];
        clean_name(mesh_material_name(a, i), i, name, sizeof name);
        const float white[3] = {1, 1, 1};
        rc = ai_property_string(mat, "?mat.name", 0, name);
        if (rc == 0)
            rc = ai_property_add(mat, "$clr.diffuse", 0, f->png[i] ? white : f->kd[i],
                                 3 * sizeof(float), aiPTI_Float);
        /* The 4th and last property slot: the opacity of a translucent material. */
        const float opacity = mesh_material_opacity(a, i);
        if (rc == 0 && opacity != 1.0f)
            rc = ai_property_add(mat, "$mat.opacity", 0, &opacity, sizeof opacity, aiPTI_Float);
        if (rc == 0 && f->png[i] != NULL) {
            struct aiTexture *tex = md_calloc(1, sizeof *tex);
            if (tex == NULL) {
                rc = md_fail(err, MD_ENOMEM, "out of memory");
                goto done;
            }
            b.textures[b.texture_count] = tex;
            tex->mWidth = (unsigned)f->png_len[i]; /* compressed: mWidth is the byte count */
            tex->mHeight = 0;
            memcpy(tex->achFormatHint, "png", 4);
            tex->pcData = (struct aiTexel *)(void *)f->png[i];
            snprintf(path, sizeof path, "*%u", b.texture_count);
            ai_string_set(&tex->mFilename, path);
            b.texture_count++;
            rc = ai_property_string(mat, "$tex.file", aiTextureType_DIFFUSE, path);
        }
        if (rc != 0) {
            rc = md_fail(err, MD_ENOMEM, "out of memory");
            goto done;
        }
    }
    for (uint32_t i = 0; i < nm; i++) {
        rc = split_material(a, i, &s, err);
        if (rc != 0)
            goto done;
        if (s.index_count > 0) {
            b.node_meshes[b.mesh_count] = b.mesh_count;
            rc = fbx_add_mesh(&b, f, &s, i, err);
            if (rc != 0)
                goto done;
        }
        split_free(&s);
    }

    const struct aiMatrix4x4 identity = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    ai_string_set(&b.root.mName, "root");
    b.root.mTransformation = identity;
    b.root.mNumChildren = 1;
    b.children[0] = &b.node;
    b.root.mChildren = b.children;
    ai_string_set(&b.node.mName, base);
    b.node.mTransformation = identity;
    b.node.mParent = &b.root;
    b.node.mNumMeshes = b.mesh_count;
    b.node.mMeshes = b.node_meshes;
    b.scene.mRootNode = &b.root;
    b.scene.mNumMeshes = b.mesh_count;
    b.scene.mMeshes = b.meshes;
    b.scene.mNumMaterials = b.material_count;
    b.scene.mMaterials = b.materials;
    b.scene.mNumTextures = b.texture_count;
    b.scene.mTextures = b.textures;

    const struct aiExportDataBlob *blob = aiExportSceneToBlob(&b.scene, "fbx", 0);
    if (blob == NULL || blob->size == 0 || blob->data == NULL) {
        rc = md_fail(err, MD_EINTERNAL, "assimp's FBX exporter failed");
        if (blob != NULL)
            aiReleaseExportBlob(blob);
        goto done;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    rc = fbx_add_sentinels(blob->data, blob->size, &bytes, &len, err);
    aiReleaseExportBlob(blob);
    if (rc != 0)
        goto done;
    rc = files_add(out, base, ".fbx", bytes, len, err);

done:
    split_free(&s);
    fbx_free(&b);
    return rc;
}

/* ---- Names ---- */

int mesh_write_check_name(const char *base, md_error *err)
{
    size_t n = base ? strlen(base) : 0;
    if (n == 0 || n > NAME_MAX_BYTES)
        return md_fail(err, MD_EINVAL, "mesh export: the file name must have 1 to %d bytes",
                       NAME_MAX_BYTES);
    for (size_t i = 0; i < n; i++) {
        char c = base[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return md_fail(err, MD_EINVAL,
                           "mesh export: file name '%s' has a character other than "
                           "[A-Za-z0-9._-]",
                           base);
    }
    return 0;
}
