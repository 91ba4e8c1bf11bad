/*
 * test_file_vertex.c — the file's own vertex numbers (mesh/file_vertex.c) on meshes made here:
 *   - a PLY whose fourth vertex repeats the first welds to four vertices named 0, 1, 2, 4 (the
 *     first file vertex of each), and its triangles still reach the right positions;
 *   - a PLY without repeats keeps no map (the numbers are the identity);
 *   - the canonical form carries the numbers through encode and decode, and the decoder refuses
 *     numbers that do not increase;
 *   - vertex_displacements.csv names its rows by those numbers.
 * Pure: needs no shared data (test_file_vertex_data.c runs the real files).
 */
#include "test_util.h"

#include <string.h>

#include "analysis/analysis.h"
#include "mesh/mesh.h"

static md_limits limits;

static mesh *parse_ply(const char *text)
{
    mesh *m = NULL;
    md_error err;
    int rc = mesh_parse_assimp((const uint8_t *)text, strlen(text), "ply", &limits, &m, &err);
    if (rc != 0) {
        fprintf(stderr, "cannot parse test PLY: %s\n", err.msg);
        exit(1);
    }
    return m;
}

#define PLY_HEADER(n, f)                                                                           \
    "ply\nformat ascii 1.0\nelement vertex " #n "\nproperty float x\nproperty float y\n"           \
    "property float z\nelement face " #f "\nproperty list uchar int vertex_indices\nend_header\n"

/* Two triangles over a square; file vertex 3 repeats vertex 0 (a seam split). */
static const char repeated[] = PLY_HEADER(5, 2) "0 0 0\n1 0 0\n1 1 0\n0 0 0\n0 1 0\n"
                                                "3 0 1 2\n3 3 2 4\n";
static const char distinct[] = PLY_HEADER(4, 2) "0 0 0\n1 0 0\n1 1 0\n0 1 0\n"
                                                "3 0 1 2\n3 0 2 3\n";

static void test_numbers(void)
{
    mesh *m = parse_ply(repeated);
    CHECK_INT(4, mesh_vertex_count(m));
    const uint32_t *fv = mesh_file_vertices(m);
    CHECK(fv != NULL);
    const uint32_t want[4] = {0, 1, 2, 4};
    for (uint32_t v = 0; fv != NULL && v < 4; v++) {
        CHECK_INT(want[v], fv[v]);
        CHECK_INT(want[v], mesh_file_vertex(m, v));
    }
    /* The second triangle (3, 2, 4) in the file: file vertex 3 is welded vertex 0. */
    const uint32_t *t = mesh_triangles(m);
    CHECK_INT(0, t[3]);
    CHECK_INT(2, t[4]);
    CHECK_INT(3, t[5]);
    const float *p = mesh_positions(m);
    CHECK_NEAR(1.0, p[3 * 3 + 1], 0); /* welded vertex 3 is file vertex 4, (0, 1, 0) */
    CHECK_NEAR(0.0, p[3 * 3], 0);

    /* Canonical round trip keeps the numbers. */
    uint8_t *bytes = NULL;
    size_t len = 0;
    md_error err;
    CHECK_OK(mesh_encode_canonical(m, &bytes, &len, &err), &err);
    mesh *back = NULL;
    CHECK_OK(mesh_decode_canonical(bytes, len, &limits, &back, &err), &err);
    if (back != NULL) {
        CHECK(mesh_file_vertices(back) != NULL);
        for (uint32_t v = 0; v < 4; v++)
            CHECK_INT(want[v], mesh_file_vertex(back, v));
    }
    mesh_free(back);
    back = NULL;
    /* The numbers are the last 16 bytes: 2 after 1 is refused, naming the vertex. */
    if (len >= 16) {
        bytes[len - 8] = 1;
        CHECK_INT(MD_EPARSE, mesh_decode_canonical(bytes, len, &limits, &back, &err));
        CHECK_MSG(&err, "file vertex numbers are not increasing at vertex 2 (1 after 1)");
        /* Without the numbers, the flag promises bytes that are not there. */
        CHECK_INT(MD_EPARSE, mesh_decode_canonical(bytes, len - 16, &limits, &back, &err));
        CHECK_MSG(&err, "truncated in file vertex numbers");
    }
    mesh_free(back);
    md_free(bytes);

    /* vertex_displacements.csv: the rows are named 0, 1, 2, 4. */
    ana_displacement_result *d = NULL;
    CHECK_OK(ana_displacement(m, m, ANA_ALIGN_NONE, &d, &err), &err);
    if (d != NULL) {
        md_buf b;
        md_buf_init(&b, 1 << 20);
        CHECK_OK(ana_csv_vertex_displacements(&b, d, &err), &err);
        const char *line = b.data != NULL ? strchr(b.data, '\n') : NULL;
        for (int row = 0; line != NULL && row < 4; row++) {
            unsigned id = 0;
            CHECK_INT(1, sscanf(line + 1, "%u,", &id));
            CHECK_INT(want[row], id);
            line = strchr(line + 1, '\n');
        }
        CHECK(line != NULL);
        md_buf_free(&b);
    }
    ana_displacement_free(d);
    mesh_free(m);

    m = parse_ply(distinct);
    CHECK_INT(4, mesh_vertex_count(m));
    CHECK(mesh_file_vertices(m) == NULL);
    CHECK_INT(3, mesh_file_vertex(m, 3));
    mesh_free(m);
}

int main(void)
{
    md_limits_default(&limits);
    test_numbers();
    return test_done();
}
