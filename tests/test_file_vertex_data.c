/*
 * test_file_vertex_data.c — the file's own vertex numbers on real files (skips, 77, without the
 * shared data):
 *   - ICT A as binary FBX numbers its vertices by control point: its positions line up with the
 *     OBJ of the same mesh vertex by vertex (tools/check_converted.py verified the FBX's control
 *     points against the OBJ), so the OBJ of A and the FBX of B morph (this pair used to be
 *     refused as "different topology");
 *   - MediaPipe's canonical face as OBJ and as binary FBX 7300 (one mesh) morph, vertex by
 *     vertex at the same positions (refused as "different topology" before);
 *   - the PLY that Blender reordered is refused naming the vertex order, the MediaPipe pair with
 *     irises naming the vertex counts;
 *   - Khronos' BoxTextured.glb (24 glTF vertices, split per face for its UVs) welds to 8
 *     vertices, each named by the first glTF vertex at its position, as the file's own POSITION
 *     accessor says (read here with jansson, independently of assimp);
 *   - FBX box.fbx (one geometry, triangles over 8 control points) keeps 8 vertices numbered 0..7.
 */
#include "test_util.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "mesh/mesh.h"

static md_limits limits;

static mesh *load(const char *rel)
{
    mesh *m = NULL;
    md_error err;
    if (mesh_load(test_data(rel), &limits, &m, &err) != 0) {
        fprintf(stderr, "%s: %s\n", rel, err.msg);
        exit(1);
    }
    return m;
}

static void test_ict(void)
{
    mesh *obj_a = load("faces/ict/ict_face_identity_A.obj");
    mesh *fbx_a = load("faces/ict/converted/ict_face_identity_A.fbx");
    mesh *fbx_b = load("faces/ict/converted/ict_face_identity_B.fbx");
    mesh *ply_b = load("faces/ict/converted/ict_face_identity_B.ply");
    md_error err;
    CHECK_INT(mesh_vertex_count(obj_a), mesh_vertex_count(fbx_a));
    /* Same numbers, same positions (the FBX may carry a unit scale: compare after it). */
    const uint32_t n = mesh_vertex_count(obj_a);
    const float *po = mesh_positions(obj_a), *pf = mesh_positions(fbx_a);
    double so = 0, sf = 0;
    for (size_t i = 0; i < 3 * (size_t)n; i++) {
        so += fabs(po[i]);
        sf += fabs(pf[i]);
    }
    const double scale = so > 0 ? sf / so : 1.0;
    double worst = 0;
    uint32_t worst_v = 0;
    for (uint32_t v = 0; v < n && n == mesh_vertex_count(fbx_a); v++)
        for (int k = 0; k < 3; k++) {
            double d = fabs(pf[3 * (size_t)v + k] - scale * po[3 * (size_t)v + k]);
            if (d > worst) {
                worst = d;
                worst_v = v;
            }
        }
    fprintf(stderr, "ICT A: FBX / OBJ scale %.6g, worst position difference %.3g at vertex %u\n",
            scale, worst, worst_v + 1);
    CHECK(worst < 1e-3 * scale);
    CHECK(mesh_file_vertices(fbx_a) == NULL); /* 9,409 distinct control points, in order */
    CHECK_OK(mesh_check_topology(obj_a, fbx_b, &err), &err);
    CHECK_OK(mesh_check_topology(fbx_a, obj_a, &err), &err);
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(obj_a, ply_b, &err));
    CHECK_MSG(&err, "the meshes have the same faces but list their vertices in a different order");
    mesh_free(obj_a);
    mesh_free(fbx_a);
    mesh_free(fbx_b);
    mesh_free(ply_b);

    mesh *canonical = load("faces/mediapipe/canonical_face_model.obj");
    mesh *canonical_fbx = load("faces/mediapipe/canonical_face_model.fbx");
    CHECK_OK(mesh_check_topology(canonical, canonical_fbx, &err), &err);
    if (mesh_vertex_count(canonical) == mesh_vertex_count(canonical_fbx)) {
        const float *a = mesh_positions(canonical), *b = mesh_positions(canonical_fbx);
        double far = 0;
        for (size_t i = 0; i < 3 * (size_t)mesh_vertex_count(canonical); i++)
            far = fmax(far, fabs((double)a[i] - (double)b[i]));
        fprintf(stderr, "MediaPipe OBJ vs FBX: worst position difference %.3g\n", far);
        CHECK(far < 1e-5);
    }
    mesh_free(canonical_fbx);
    mesh *iris = load("faces/mediapipe/face_model_with_iris.obj");
    CHECK_INT(MD_ETOPOLOGY, mesh_check_topology(canonical, iris, &err));
    CHECK_MSG(&err, "source has 468 vertices, target 478");
    mesh_free(canonical);
    mesh_free(iris);
}

/* The first mesh primitive's POSITION accessor of a GLB, as floats (3 per vertex): an
 * independent reading of the file. 0 on success. */
static int glb_positions(const char *path, float **out, size_t *count)
{
    char *bytes = NULL;
    size_t len = 0;
    md_error err;
    json_t *root = NULL;
    int rc = -1;
    *out = NULL;
    if (md_read_file(path, 1u << 26, &bytes, &len, &err) != 0 || len < 28)
        goto done;
    const uint8_t *b = (const uint8_t *)bytes;
#define LE32(p)                                                                                    \
    ((uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 | (uint32_t)(p)[2] << 16 | (uint32_t)(p)[3] << 24)
    uint32_t json_len = LE32(b + 12);
    if (20 + (size_t)json_len + 8 > len)
        goto done;
    const uint8_t *bin = b + 20 + json_len + 8;
    json_error_t jerr;
    root = json_loadb((const char *)b + 20, json_len, 0, &jerr);
    json_t *prim = json_array_get(
        json_object_get(json_array_get(json_object_get(root, "meshes"), 0), "primitives"), 0);
    json_int_t pos =
        json_integer_value(json_object_get(json_object_get(prim, "attributes"), "POSITION"));
    json_t *acc = json_array_get(json_object_get(root, "accessors"), (size_t)pos);
    json_t *view = json_array_get(json_object_get(root, "bufferViews"),
                                  (size_t)json_integer_value(json_object_get(acc, "bufferView")));
    if (acc == NULL || view == NULL)
        goto done;
    size_t n = (size_t)json_integer_value(json_object_get(acc, "count"));
    size_t off = (size_t)json_integer_value(json_object_get(view, "byteOffset")) +
                 (size_t)json_integer_value(json_object_get(acc, "byteOffset"));
    size_t stride = (size_t)json_integer_value(json_object_get(view, "byteStride"));
    stride = stride ? stride : 12;
    if (off + (n ? (n - 1) * stride + 12 : 0) > len - (size_t)(bin - b))
        goto done;
    float *p = md_malloc_array(n ? n : 1, 3 * sizeof(float));
    if (p == NULL)
        goto done;
    for (size_t i = 0; i < n; i++)
        memcpy(p + 3 * i, bin + off + i * stride, 12);
    *out = p;
    *count = n;
    rc = 0;
done:
    json_decref(root);
    md_free(bytes);
    return rc;
}

static void test_glb_box(void)
{
    const char *rel = "formats/assimp/test/models/glTF2/BoxTextured-glTF-Binary/BoxTextured.glb";
    mesh *m = load(rel);
    float *file_pos = NULL;
    size_t file_n = 0;
    CHECK_INT(0, glb_positions(test_data(rel), &file_pos, &file_n));
    CHECK_INT(24, file_n);
    /* The file's vertices grouped by position; each group is named by its first vertex. */
    uint32_t firsts[64];
    size_t groups = 0;
    for (size_t i = 0; i < file_n && groups < 64; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = memcmp(file_pos + 3 * j, file_pos + 3 * i, 12) == 0;
        if (!seen)
            firsts[groups++] = (uint32_t)i;
    }
    CHECK_INT(8, groups);
    CHECK_INT(groups, mesh_vertex_count(m));
    const uint32_t *fv = mesh_file_vertices(m);
    CHECK(fv != NULL);
    for (uint32_t v = 0; fv != NULL && v < groups && v < mesh_vertex_count(m); v++)
        CHECK_INT(firsts[v], fv[v]);
    md_free(file_pos);
    mesh_free(m);
}

static void test_fbx_box(void)
{
    mesh *m = load("formats/assimp/test/models/FBX/box.fbx");
    CHECK_INT(8, mesh_vertex_count(m));
    for (uint32_t v = 0; v < 8; v++)
        CHECK_INT(v, mesh_file_vertex(m, v));
    mesh_free(m);
}

int main(void)
{
    md_limits_default(&limits);
    test_ict();
    test_glb_box();
    test_fbx_box();
    return test_done();
}
