/*
 * test_topology_data.c — mesh_check_topology() on the shared face meshes: the ICT identities A
 * and B (and the neutral face) share a topology; MediaPipe's canonical face and the variant
 * with irises do not; ICT A against itself with one quad's corners reordered fails naming that
 * triangle. Skips (77) when the shared data folder is absent.
 */
#include "test_util.h"

#include <string.h>

#include "mesh/mesh.h"

static md_limits limits;

static mesh *load(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", test_data(rel));
    mesh *m = NULL;
    md_error err;
    if (mesh_load(path, &limits, &m, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return m;
}

/* ICT A's text with the corners of its 100th face line reordered from a b c d to a c b d, so
 * its first triangle (a,b,c) becomes (a,c,b). */
static mesh *ict_with_flipped_face(void)
{
    char *bytes;
    size_t len;
    md_error err;
    if (md_read_file(test_data("faces/ict/ict_face_identity_A.obj"), limits.max_file_bytes, &bytes,
                     &len, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    char *line = bytes;
    for (int found = 0; found < 100; line++) {
        line = strstr(line, "\nf ");
        CHECK(line != NULL);
        if (line == NULL)
            exit(1);
        found++;
        if (found == 100)
            break;
    }
    line++;
    char *eol = strchr(line, '\n');
    char corner[4][32];
    int n = sscanf(line, "f %31s %31s %31s %31s", corner[0], corner[1], corner[2], corner[3]);
    CHECK_INT(4, n);
    char flipped[160];
    int flipped_len = snprintf(flipped, sizeof flipped, "f %s %s %s %s", corner[0], corner[2],
                               corner[1], corner[3]);
    CHECK_INT(eol - line, flipped_len); /* same length: patch in place */
    memcpy(line, flipped, (size_t)flipped_len);
    mesh *m = NULL;
    if (mesh_parse_obj(bytes, len, &limits, &m, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    md_free(bytes);
    return m;
}

int main(void)
{
    md_limits_default(&limits);
    md_error err;
    mesh *canonical = load("faces/mediapipe/canonical_face_model.obj");
    mesh *iris = load("faces/mediapipe/face_model_with_iris.obj");
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(canonical, iris, &err));
    CHECK_MSG(&err, "source has 468 vertices, target 478");

    mesh *a = load("faces/ict/ict_face_identity_A.obj");
    mesh *b = load("faces/ict/ict_face_identity_B.obj");
    mesh *neutral = load("faces/ict/ict_neutral_face.obj");
    CHECK_OK(mesh_check_topology(a, b, &err), &err);
    CHECK_OK(mesh_check_topology(b, a, &err), &err);
    CHECK_OK(mesh_check_topology(a, neutral, &err), &err);
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(a, canonical, &err));
    CHECK_MSG(&err, "source has 9409 vertices, target 468");

    /* Face line 100 holds triangles 199 and 200 (1-based). */
    mesh *flipped = ict_with_flipped_face();
    const uint32_t *t = mesh_triangles(a) + 3 * 198;
    char expected[160];
    snprintf(expected, sizeof expected,
             "triangle 199 is (%u,%u,%u) in source and (%u,%u,%u) in target", t[0] + 1, t[1] + 1,
             t[2] + 1, t[0] + 1, t[2] + 1, t[1] + 1);
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(a, flipped, &err));
    CHECK_MSG(&err, expected);
    printf("%s\n", err.msg);

    mesh_free(canonical);
    mesh_free(iris);
    mesh_free(a);
    mesh_free(b);
    mesh_free(neutral);
    mesh_free(flipped);
    return test_done();
}
