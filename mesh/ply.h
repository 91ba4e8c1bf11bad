/*
 * ply.h — our PLY reader, internal to the mesh module. mesh_parse_assimp() hands .ply files to
 * it instead of to assimp (see ply.c for why).
 */
#ifndef MESH_PLY_H
#define MESH_PLY_H

#include "mesh/mesh.h"

/* Parses an ASCII or binary PLY file from memory into a mesh (format "ply"): positions welded
 * as in assimp.c, polygons fan-triangulated, UVs from per-vertex (u,v / s,t / texture_u,
 * texture_v) or per-corner (face "texcoord") properties, and a MeshLab "comment TextureFile"
 * recorded as the texture path. bytes need not be NUL-terminated. */
int mesh_parse_ply(const uint8_t *bytes, size_t len, const md_limits *lim, mesh **out,
                   md_error *err);

#endif
