/*
 * write.h — mesh writers, beside the readers: a mesh's surface (UVs, per-corner UV indices,
 * triangles, materials and their names) with geometry and textures the caller gives, written as
 * OBJ + MTL + PNG, a self-contained glTF 2.0 binary (GLB) or a binary FBX (through assimp's
 * exporter), each into named files in memory (mesh/write.c). No I/O: the caller stores them.
 *
 * analysis/ writes a morph's frames with them (ana_export_frame_mesh). Every function is
 * reentrant; inputs are borrowed, outputs owned by the mesh_files they land in.
 */
#ifndef MESH_WRITE_H
#define MESH_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "base/md.h"
#include "mesh/mesh.h"

/* The longest file stem a writer takes, bytes. */
#define MESH_WRITE_NAME_MAX 200
#define MESH_WRITE_TAG_MAX 16

/* One output file: a name relative to the folder the caller stores it in, and its bytes. */
typedef struct mesh_file {
    char *name;     /* owned, e.g. "0020_a-0500_b-0500.obj" */
    uint8_t *bytes; /* owned */
    size_t len;
} mesh_file;

/* The files of one written mesh. Zero-initialise; mesh_files_free() releases them and leaves
 * the struct empty (so it may be reused). */
typedef struct mesh_files {
    mesh_file *files; /* owned, count entries */
    uint32_t count;
} mesh_files;

void mesh_files_free(mesh_files *files);

/* What a writer writes: m's surface with these positions, normals and material looks. */
typedef struct mesh_write_input {
    const mesh *m;         /* UVs, per-corner UV indices, triangles, materials, names */
    const float *pos;      /* 3 per vertex of m, in place of m's positions */
    const float *normal;   /* 3 per vertex; (0,0,0) where undefined (glTF gets +Z there) */
    const float (*kd)[3];  /* per material: the colour of an untextured material, 0..1 */
    uint8_t *const *png;   /* per material: its texture as a PNG, or NULL when untextured */
    const size_t *png_len; /* per material: bytes of png[i] */
    /* OBJ only: added to the texture files' names, "base<tag>.png" ("_texture" keeps
     * base.png free for a render of the mesh); NULL: none. At most MESH_WRITE_TAG_MAX bytes of
     * [A-Za-z0-9._-]. */
    const char *texture_tag;
} mesh_write_input;

/* Checks a file stem: 1..MESH_WRITE_NAME_MAX bytes of [A-Za-z0-9._-]; MD_EINVAL otherwise. */
int mesh_write_check_name(const char *base, md_error *err);

/* base.obj, base.mtl and base.png (base_mN.png for material N when several are textured). */
int mesh_write_obj(const mesh_write_input *in, const char *base, mesh_files *out, md_error *err);
/* base.glb, textures embedded. */
int mesh_write_glb(const mesh_write_input *in, const char *base, mesh_files *out, md_error *err);
/* base.fbx (binary, textures embedded). */
int mesh_write_fbx(const mesh_write_input *in, const char *base, mesh_files *out, md_error *err);

#endif
