/*
 * test_topology.c — mesh_check_topology() on synthetic meshes parsed from strings: the same
 * topology passes whatever the positions, UVs and materials; a different vertex count, triangle
 * count or one flipped winding fails with the first difference; the same faces over renumbered
 * vertices are refused naming the vertex order as the cause. Pure: needs no shared data
 * (test_topology_data.c runs the real face pairs).
 */
#include "test_util.h"

#include <string.h>

#include "mesh/mesh.h"

static md_limits limits;

static mesh *parse(const char *text)
{
    mesh *m = NULL;
    md_error err;
    int rc = mesh_parse_obj(text, strlen(text), &limits, &m, &err);
    if (rc != 0) {
        fprintf(stderr, "cannot parse test mesh: %s\n", err.msg);
        exit(1);
    }
    return m;
}

#define QUAD_VERTS "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 2 0 0\n"

int main(void)
{
    md_limits_default(&limits);
    md_error err;
    mesh *source = parse(QUAD_VERTS "f 1 2 3 4\nf 2 5 3\n");
    /* Other positions, UVs and materials; the same triangles once the quad is fanned. */
    mesh *moved = parse("v 0 0 1\nv 2 0 0\nv 2 2 0\nv 0 2 0\nv 4 0 0\nvt 0 0\nvt 1 1\n"
                        "usemtl skin\nf 1/1 2/2 3/1\nf 1/2 3/2 4/1\nusemtl eyes\nf 2 5 3\n");
    CHECK_OK(mesh_check_topology(source, moved, &err), &err);
    CHECK_OK(mesh_check_topology(source, source, &err), &err);

    mesh *fewer = parse("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n");
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(source, fewer, &err));
    CHECK_MSG(&err, "source has 5 vertices, target 4");

    mesh *less_tris = parse(QUAD_VERTS "f 1 2 3 4\n");
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(source, less_tris, &err));
    CHECK_MSG(&err, "source has 3 triangles, target 2");

    /* Triangle 3 (2,5,3) written with the other winding. */
    mesh *flipped = parse(QUAD_VERTS "f 1 2 3 4\nf 2 3 5\n");
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(source, flipped, &err));
    CHECK_MSG(&err, "triangle 3 is (2,5,3) in source and (2,3,5) in target");

    /* The same quad split along the other diagonal is a different topology. */
    mesh *rotated = parse(QUAD_VERTS "f 2 3 4 1\nf 2 5 3\n");
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(source, rotated, &err));
    CHECK_MSG(&err, "triangle 1 is (1,2,3) in source and (2,3,4) in target");

    /* Vertices 1 and 2 swapped in the file, the faces renumbered to match: the same faces in
     * another vertex order, and the message says so rather than "different topology". */
    mesh *reordered = parse("v 1 0 0\nv 0 0 0\nv 1 1 0\nv 0 1 0\nv 2 0 0\nf 2 1 3 4\nf 1 5 3\n");
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(source, reordered, &err));
    CHECK_MSG(&err, "the meshes have the same faces but list their vertices in a different order "
                    "(source vertex 1 is target vertex 2, in triangle 1;");
    /* The two diagonals of a quad are not a reordering once a neighbour pins the numbers. */
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(source, rotated, &err));
    CHECK_MSG(&err, "the face lists differ");

    mesh_free(reordered);
    mesh_free(source);
    mesh_free(moved);
    mesh_free(fewer);
    mesh_free(less_tris);
    mesh_free(flipped);
    mesh_free(rotated);
    return test_done();
}
