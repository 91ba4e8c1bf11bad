/*
 * mesh.h — triangle meshes with per-corner UVs and per-triangle materials, read from OBJ/MTL
 * (our own streaming parser) or any format assimp reads (FBX, glTF/GLB, PLY, ...).
 *
 * The model is OBJ's: positions are indexed by triangles (that index set is the topology that
 * morphing needs), texture coordinates are indexed separately per triangle corner, so a UV seam
 * does not split a vertex. Both meshes of a morph must have the same positions count and the
 * same triangle list; their UV layouts and materials may differ.
 *
 * Ownership: a mesh owns everything it points to, textures included. Accessors return borrowed
 * pointers valid until mesh_free(). A mesh is immutable after loading except for
 * mesh_set_texture() and mesh_pad_textures(), which the caller runs before sharing it.
 */
#ifndef MESH_MESH_H
#define MESH_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/image.h"
#include "base/md.h"

typedef struct mesh mesh;

/* ---- Loading ---- */

/* Loads a mesh file with its materials and textures. The format comes from the file's content
 * and extension: .obj uses our parser (mtllib and map_Kd resolved relative to the files), others
 * go through assimp. Errors name the file (and the line for OBJ/MTL). */
int mesh_load(const char *path, const md_limits *lim, mesh **out, md_error *err);

/* Options and timings of mesh_load_ex. */
typedef struct mesh_load_opts {
    int skip_textures; /* in: do not read texture files (an override replaces them anyway) */
    int no_external;   /* in: open no file but path itself: no MTL library, no texture file it
                          names (uploads must not read the server's disk); embedded textures
                          still load */
    /* in: NULL, or a morph target of the file (glTF "targets", FBX blend shape channels) as its
     * name or its 0-based index written in decimal: the mesh comes back with that target's
     * positions in place of the base's, with the base's topology, UVs and vertex numbering
     * (welding follows the base positions, so base and target load as a morphable pair).
     * Errors: MD_EINVAL naming the file's targets when there is no such target, or when the
     * file (or its format: OBJ, PLY) has none. */
    const char *morph_target;
    double parse_s;   /* out: reading and parsing the mesh and its MTL libraries */
    double texture_s; /* out: reading and decoding textures */
} mesh_load_opts;

/* mesh_load with options; opts may be NULL. */
int mesh_load_ex(const char *path, const md_limits *lim, mesh_load_opts *opts, mesh **out,
                 md_error *err);

/* Parses OBJ text. No I/O: mtllib names are recorded (mesh_mtllib_*) for the caller to resolve
 * and feed to mesh_parse_mtl(). bytes need not be NUL-terminated. */
int mesh_parse_obj(const char *bytes, size_t len, const md_limits *lim, mesh **out, md_error *err);
/* Parses MTL text into the mesh's materials (matched by name; unknown names are ignored).
 * Texture paths are stored as written (options stripped); mesh_load resolves them. */
int mesh_parse_mtl(mesh *m, const char *bytes, size_t len, md_error *err);

/* Loads through assimp from memory; hint is the file extension ("fbx", "glb", ...). Embedded
 * textures are decoded; external ones are recorded as paths for the caller (mesh_load) to load. */
int mesh_parse_assimp(const uint8_t *bytes, size_t len, const char *hint, const md_limits *lim,
                      mesh **out, md_error *err);
/* mesh_parse_assimp with a morph target applied (mesh_load_opts.morph_target; NULL: the base). */
int mesh_parse_assimp_ex(const uint8_t *bytes, size_t len, const char *hint, const md_limits *lim,
                         const char *morph_target, mesh **out, md_error *err);

/* Longest morph target name or index text accepted (a client controls it). */
#define MESH_MORPH_TARGET_MAX 128

void mesh_free(mesh *m);
/* The heap memory m holds, in bytes: its arrays, names and decoded textures (RGBA8). */
uint64_t mesh_memory_bytes(const mesh *m);

/* ---- Canonical form (mesh/canon.c) ---- */

/* Serialises m: mesh_format() of the original, geometry, UVs, per-triangle UV indices and
 * materials, material names, colours and texture paths, and each material's texture (padded or
 * not, as it is now) as a PNG encoded by img_encode_png. Little-endian, versioned ("MDMESH\0"
 * + version 1). *out is md_malloc'd; the caller md_free's it. Not stored: mtllib names. */
int mesh_encode_canonical(const mesh *m, uint8_t **out, size_t *len, md_error *err);
/* Strict, bounds-checked reader of that form: magic and version, every count checked against
 * lim and against the remaining bytes before allocating (overflow-safe), every index in range,
 * every number finite, no trailing bytes. The result satisfies every invariant of a loaded
 * mesh. Errors: MD_EPARSE ("canonical mesh: ...") for malformed input, MD_ELIMIT for a count or
 * texture beyond lim, MD_ENOMEM. */
int mesh_decode_canonical(const uint8_t *bytes, size_t len, const md_limits *lim, mesh **out,
                          md_error *err);

/* ---- Geometry ---- */

const char *mesh_format(const mesh *m); /* "obj", "fbx", "glb", "gltf", "ply" */
uint32_t mesh_vertex_count(const mesh *m);
const float *mesh_positions(const mesh *m); /* xyz per vertex */
uint32_t mesh_triangle_count(const mesh *m);
const uint32_t *mesh_triangles(const mesh *m);    /* 3 position indices per triangle, CCW */
uint32_t mesh_uv_count(const mesh *m);            /* 0 when the mesh has no texture coordinates */
const float *mesh_uvs(const mesh *m);             /* uv per entry, v up (OBJ convention) */
const uint32_t *mesh_triangle_uvs(const mesh *m); /* 3 uv indices per triangle; NULL if none */
const uint16_t *mesh_triangle_materials(const mesh *m); /* material index per triangle */
void mesh_bounds(const mesh *m, float min[3], float max[3]);
/* The file's own 0-based number of vertex v: welding loaders (FBX, glTF, PLY) join file
 * vertices with bit-identical positions, and a vertex is named by the first file vertex joined
 * into it; FBX numbers are its control points (binary FBX with one mesh geometry; otherwise
 * assimp's per-corner order, as welded), glTF numbers count the primitives' vertices in node
 * order. Vertices are ordered by these numbers. v itself for OBJ and when nothing was joined. */
uint32_t mesh_file_vertex(const mesh *m, uint32_t v);
/* All of them (vertex_count entries, strictly increasing), or NULL when each is v itself. */
const uint32_t *mesh_file_vertices(const mesh *m);

/* ---- Morph targets ---- */

/* The morph targets the file carries (glTF targets, FBX blend shape channels), whether or not
 * one was applied: 0 for OBJ, PLY and files without. Names are as the file gives them ("" when
 * it gives none; refer to those by index). */
uint32_t mesh_morph_target_count(const mesh *m);
const char *mesh_morph_target_name(const mesh *m, uint32_t i);
/* The file's targets as text for a message, "0 'thin', 1 'angle'", cut to fit cap. */
void mesh_morph_target_list(const mesh *m, char *out, size_t cap);
/* The notes a job's manifest carries on morph targets (morph run and the job server word them
 * alike): the target a job took from its source file (target, of the source named source), and
 * the targets the file named name has that a plain job left unused: returns 0 and writes ""
 * when m has none, else 1. */
void mesh_note_morph_target(const char *target, const char *source, char *out, size_t cap);
int mesh_note_unused_morph_targets(const mesh *m, const char *name, char *out, size_t cap);

/* ---- Materials and textures ---- */

uint32_t mesh_material_count(const mesh *m); /* at least 1: meshes without materials get one */
const char *mesh_material_name(const mesh *m, uint32_t i);
/* Diffuse colour (Kd), linear 0..1; used where the material has no texture. */
void mesh_material_color(const mesh *m, uint32_t i, float rgb[3]);
/* How opaque the material's surfaces are, 0 (invisible) .. 1 (opaque, the default), as the
 * file says: MTL d, or 1 - Tr, or Tf where the library writes Tf as opacity (mtl.c's rule,
 * docs/materials.md); glTF baseColorFactor alpha under alphaMode BLEND (MASK: 1 when that alpha
 * reaches alphaCutoff, else 0; OPAQUE: 1); FBX and other assimp formats: assimp's opacity. */
float mesh_material_opacity(const mesh *m, uint32_t i);
/* Nonzero when an MTL library's Tf values were read as opacity (the Maya-style rule). */
int mesh_opacity_from_tf(const mesh *m);
/* The decoded texture, NULL when the material has none. */
const img *mesh_material_texture(const mesh *m, uint32_t i);
/* The texture path as the file named it (map_Kd, or an assimp path), NULL if none. */
const char *mesh_material_texture_path(const mesh *m, uint32_t i);
/* The file a mesh at mesh_path means by name (a texture, a material library), found as
 * mesh_load finds it: as written, relative to the mesh's folder, then by its base name beside
 * the mesh. 0 and out filled, or -1 when there is no such file. */
int mesh_resolve_file(const char *mesh_path, const char *name, char *out, size_t cap);
/* Sets material i's texture; takes ownership of tex (NULL removes the texture). */
void mesh_material_set_texture(mesh *m, uint32_t i, img *tex);

/* mtllib names recorded by mesh_parse_obj, in file order. */
uint32_t mesh_mtllib_count(const mesh *m);
const char *mesh_mtllib(const mesh *m, uint32_t i);

/* Replaces every material's texture by tex (an override such as --source-texture). Takes
 * ownership of tex. Fails with MD_EINVAL when the mesh has no texture coordinates. */
int mesh_set_texture(mesh *m, img *tex, md_error *err);

/* Pads every texture: texels outside the UV islands of the triangles using it are filled from
 * the island borders (img_pad_from_coverage). Run once after loading and overrides. */
int mesh_pad_textures(mesh *m, md_error *err);
/* Decode-budget bytes that padding one texture of that many pixels takes at its peak (the
 * coverage mask and img_pad_scratch_bytes); textures are padded one after another. */
uint64_t mesh_pad_texture_bytes(uint64_t pixels);

/* ---- Derived meshes (mesh/derive.c) ---- */

/* A new mesh with m's surface (UVs, per-corner UV indices, triangles, materials with their
 * names and colours) and the given positions (3 per vertex of m, copied; each finite, else
 * MD_EINVAL naming the vertex), without textures or texture paths: the caller sets the
 * textures it computed (mesh_material_set_texture). For face-space transforms and averages. */
int mesh_derive(const mesh *m, const float *positions, mesh **out, md_error *err);
/* A copy of m that owns all of its memory, textures included (the pixels as they are now,
 * padded or not): for a caller that must change a mesh others read (mesh_hide_materials on a
 * shared face). Copied texture pixels are not taken from the decode budget. */
int mesh_clone(const mesh *m, mesh **out, md_error *err);
/* Whether b's textures can be combined with a's texel by texel: the same UVs (to 1e-6), the
 * same per-corner UV indices, the same materials per triangle, and for every material textured
 * in a a texture of the same size in b. 1 yes; 0 no, with the reason in why, naming the meshes
 * as name_a and name_b. Both must share a topology (mesh_check_topology). */
int mesh_same_texture_layout(const mesh *a, const mesh *b, const char *name_a, const char *name_b,
                             char *why, size_t cap);

/* ---- Hiding materials (mesh/hide.c) ---- */

/* 0 when each of names (count of them; borrowed) is a material of a or of b (b may be NULL)
 * and some triangle would remain; MD_EINVAL naming the first that is not and listing the
 * materials the meshes have, or saying that nothing would be left. */
int mesh_hide_check(const mesh *a, const mesh *b, const char *const *names, uint32_t count,
                    md_error *err);

typedef struct mesh_hide_stats {
    uint32_t triangles; /* taken out of each mesh */
    uint32_t vertices;  /* taken out: used only by those triangles */
} mesh_hide_stats;

/* Takes out of a and b (one topology; b may be NULL) every triangle whose material in either
 * mesh is named, and the vertices only those triangles used; the rest keep their order and
 * their file numbers (mesh_file_vertex), so the pair stays morphable and CSV rows still name
 * the file's vertices. Materials stay (a hidden one has no triangle left). Run before the
 * meshes are shared. Errors: mesh_hide_check's; MD_EINVAL when no triangle would remain. */
int mesh_hide_materials(mesh *a, mesh *b, const char *const *names, uint32_t count,
                        mesh_hide_stats *stats, md_error *err);

/* ---- Topology ---- */

/* 0 when a and b can be morphed: same vertex count and the same triangle list. Otherwise
 * MD_ETOPOLOGY naming the cause: the vertex counts ("source has 9409 vertices, target 478"),
 * the vertex order (one renumbering maps every triangle of one onto the other: "the meshes
 * have the same faces but list their vertices in a different order (source vertex 874 is
 * target vertex 1, ...)"), or the face list ("triangle 1203 is (5,9,12) in source and (5,12,9)
 * in target"). Vertices are named by mesh_file_vertex() + 1. */
int mesh_check_topology(const mesh *source, const mesh *target, md_error *err);

#endif
