/*
 * mesh_int.h — the body of struct mesh, for the mesh module's own files only (obj.c, mtl.c,
 * assimp.c, load.c, texpad.c). Everything else goes through mesh.h.
 *
 * Invariants once a loader returns 0:
 *   - triangles[i] < vertex_count for all i; triangle_count >= 1; positions are finite.
 *   - uv_count == 0 iff triangle_uvs == NULL; otherwise triangle_uvs[i] < uv_count, uvs finite.
 *   - material_count >= 1 and triangle_materials[i] < material_count.
 */
#ifndef MESH_INT_H
#define MESH_INT_H

#include "mesh/mesh.h"

struct mesh_material {
    char *name;         /* owned */
    float kd[3];        /* diffuse colour, 0..1 */
    char *texture_path; /* owned, as written in the file; NULL if none */
    img *texture;       /* owned; NULL until loaded, or if none */
    float opacity;      /* 0 invisible .. 1 opaque (the default); see mesh_material_opacity() */
};

struct mesh {
    char format[16];
    uint32_t vertex_count;
    float *positions; /* 3 * vertex_count */
    uint32_t triangle_count;
    uint32_t *triangles; /* 3 * triangle_count */
    uint32_t uv_count;
    float *uvs;                   /* 2 * uv_count */
    uint32_t *triangle_uvs;       /* 3 * triangle_count, or NULL */
    uint16_t *triangle_materials; /* triangle_count */
    uint32_t material_count;
    struct mesh_material *materials;
    uint32_t mtllib_count;
    char **mtllibs; /* owned */
    /* vertex_count entries, strictly increasing: the 0-based number, in the file, of the first
     * file vertex welded into each vertex (file_vertex.c). NULL: the identity. Owned. */
    uint32_t *file_vertex;
    /* The file's morph targets by name ("" when unnamed), in file order; owned. */
    uint32_t morph_count;
    char **morph_names;
    /* Nonzero when an MTL library's Tf was read as opacity (mtl.c's rule); for the manifest. */
    int opacity_from_tf;
};

/* An empty mesh with no materials; NULL when out of memory. */
mesh *mesh_alloc(const char *format);
/* Appends a material named name (kd light grey, opaque, no texture); returns its index or a
 * negative error code (MD_ELIMIT past lim->max_materials). */
int mesh_material_add(mesh *m, const char *name, const md_limits *lim, md_error *err);
/* Index of the material called name, or -1. */
int mesh_material_find(const mesh *m, const char *name);
/* Checks the invariants above (indices in range, finite numbers, >= 1 triangle, >= 1 material,
 * adding a default material when there is none). Loaders call it last. */
int mesh_validate(mesh *m, md_error *err);

/* assimp.c: the checks run on an FBX ("fbx") or glTF ("gltf", "glb") file before assimp reads
 * it (binary FBX arrays inflated and counted, the glTF node graph's expansion and depth); 0 for
 * other formats. Here rather than static so tests/fuzz/fuzz_precheck.c can reach them. */
int mesh_assimp_precheck(const uint8_t *bytes, size_t len, const char *ext, const md_limits *lim,
                         md_error *err);

/* file_vertex.c: renumbers m's vertices in ascending order of first_file[v] (borrowed; the
 * 0-based number of the first file vertex welded into vertex v, distinct per vertex) and keeps
 * the numbers as m->file_vertex (NULL when they are 0, 1, 2, ...). Loaders call it after
 * welding, before mesh_validate. first_file NULL: the identity. */
int mesh_file_order(mesh *m, const uint32_t *first_file, md_error *err);

/* fbx_corners.c: the control point (file vertex) of each of the expected polygon corners of a
 * binary FBX file with exactly one PolygonVertexIndex array of that length: 1 and *out
 * (md_malloc'd, expected entries); 0 and *out NULL when the file is ASCII, has several
 * geometries or another count; MD_ENOMEM. bytes borrowed. */
int mesh_fbx_corner_points(const uint8_t *bytes, size_t len, uint32_t expected, uint32_t **out,
                           md_error *err);

/* The light grey of untextured meshes. */
#define MESH_DEFAULT_GREY 0.8f

#endif
