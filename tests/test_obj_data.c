/*
 * test_obj_data.c — the OBJ/MTL parsers on the shared data: the ICT face (counts, fan order,
 * its MTL and texture through mesh_load), the MediaPipe face-paint model, and every OBJ of
 * assimp's test corpus (OBJ/ and invalid/), which must load or fail with a message and a code
 * from the error table, never crash. Prints each corpus file's outcome and the ICT parse time.
 * Skips (77) when the shared data folder is absent.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh.h"

static md_limits limits;

static char *read_data(const char *rel, size_t *len)
{
    char *bytes = NULL;
    md_error err;
    int rc = md_read_file(test_data(rel), limits.max_file_bytes, &bytes, len, &err);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return bytes;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_ict(void)
{
    size_t len;
    char *bytes = read_data("faces/ict/ict_face_identity_A.obj", &len);
    mesh *m = NULL;
    md_error err;
    CHECK_OK(mesh_parse_obj(bytes, len, &limits, &m, &err), &err);
    if (m != NULL) {
        CHECK_INT(9409, mesh_vertex_count(m));
        CHECK_INT(18460, mesh_triangle_count(m));
        CHECK_INT(9547, mesh_uv_count(m));
        CHECK_INT(1, mesh_material_count(m));
        CHECK(strcmp(mesh_material_name(m, 0), "M_Face") == 0);
        CHECK_INT(1, mesh_mtllib_count(m));
        CHECK(strcmp(mesh_mtllib(m, 0), "ICTFaceModelMaterial_textured.mtl") == 0);
        CHECK_NEAR(-2.257290, mesh_positions(m)[1], 1e-6);
        /* The first face line, fanned: (a,b,c), (a,c,d) for positions and for UVs. */
        const char *f = strstr(bytes, "\nf ");
        unsigned v[4], t[4];
        CHECK_INT(8, sscanf(f, "\nf %u/%u %u/%u %u/%u %u/%u", &v[0], &t[0], &v[1], &t[1], &v[2],
                            &t[2], &v[3], &t[3]));
        const uint32_t *tri = mesh_triangles(m);
        const uint32_t *tuv = mesh_triangle_uvs(m);
        unsigned order[6] = {0, 1, 2, 0, 2, 3};
        for (int k = 0; k < 6; k++) {
            CHECK_INT(v[order[k]] - 1, tri[k]);
            CHECK_INT(t[order[k]] - 1, tuv[k]);
        }
        mesh_free(m);
    }

    /* Parse time: best and median of 15 runs, from memory (no I/O). */
    double times[15];
    for (int i = 0; i < 15; i++) {
        double start = md_now();
        int rc = mesh_parse_obj(bytes, len, &limits, &m, &err);
        times[i] = (md_now() - start) * 1e3;
        CHECK_OK(rc, &err);
        mesh_free(m);
    }
    qsort(times, 15, sizeof times[0], compare_doubles);
    printf("ICT A (%zu bytes, 9409 v, 18460 triangles): parse best %.2f ms, median %.2f ms\n", len,
           times[0], times[7]);
    md_free(bytes);

    /* Through mesh_load: the mtllib resolves and M_Face gets uv_face.png. */
    char path[4096];
    snprintf(path, sizeof path, "%s", test_data("faces/ict/ict_face_identity_A.obj"));
    CHECK_OK(mesh_load(path, &limits, &m, &err), &err);
    if (m != NULL) {
        const img *tex = mesh_material_texture(m, 0);
        CHECK(tex != NULL);
        if (tex != NULL) {
            CHECK_INT(1296, img_width(tex));
            CHECK_INT(1298, img_height(tex));
        }
        CHECK(strcmp(mesh_material_texture_path(m, 0), "uv_face.png") == 0);
        float rgb[3];
        mesh_material_color(m, 0, rgb);
        CHECK_NEAR(0.6, rgb[0], 1e-6);
        mesh_free(m);
    }
    const char *others[] = {"faces/ict/ict_face_identity_B.obj", "faces/ict/ict_neutral_face.obj"};
    for (int i = 0; i < 2; i++) {
        bytes = read_data(others[i], &len);
        CHECK_OK(mesh_parse_obj(bytes, len, &limits, &m, &err), &err);
        if (m != NULL) {
            CHECK_INT(9409, mesh_vertex_count(m));
            CHECK_INT(18460, mesh_triangle_count(m));
            mesh_free(m);
        }
        md_free(bytes);
    }
}

static void test_mediapipe(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s",
             test_data("faces/mediapipe/canonical_face_model_facepaint.obj"));
    mesh *m = NULL;
    md_error err;
    CHECK_OK(mesh_load(path, &limits, &m, &err), &err);
    if (m == NULL)
        return;
    CHECK_INT(468, mesh_vertex_count(m));
    CHECK_INT(898, mesh_triangle_count(m));
    CHECK_INT(468, mesh_uv_count(m));
    CHECK_INT(1, mesh_material_count(m));
    CHECK(strcmp(mesh_material_name(m, 0), "facepaint") == 0);
    const img *tex = mesh_material_texture(m, 0);
    CHECK(tex != NULL);
    if (tex != NULL) {
        CHECK_INT(1024, img_width(tex));
        CHECK_INT(1024, img_height(tex));
    }
    mesh_free(m);
}

/* Loads every .obj in dir (relative to the data folder); returns how many there were. */
static int load_corpus(const char *rel)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_data(rel));
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    CHECK(n > 0);
    int count = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (len > 4 && strcasecmp(name + len - 4, ".obj") == 0) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            mesh *m = NULL;
            md_error err;
            md_error_clear(&err);
            double start = md_now();
            int rc = mesh_load(path, &limits, &m, &err);
            double ms = (md_now() - start) * 1e3;
            if (rc == 0) {
                uint32_t textures = 0;
                for (uint32_t k = 0; k < mesh_material_count(m); k++)
                    textures += mesh_material_texture(m, k) != NULL;
                printf("  ok    %-34s %6u v %6u tri %6u uv %3u mat %u tex  %.2f ms\n", name,
                       mesh_vertex_count(m), mesh_triangle_count(m), mesh_uv_count(m),
                       mesh_material_count(m), textures, ms);
                mesh_free(m);
            } else {
                /* The message past the path mesh_load prefixes. */
                const char *detail = strstr(err.msg, name);
                detail = detail ? detail + len + 2 : err.msg;
                printf("  fail  %-34s %s: %s  %.2f ms\n", name, md_err_name(rc), detail, ms);
                CHECK(m == NULL);
                CHECK(err.msg[0] != '\0');
                CHECK(strcmp(md_err_name(rc), "EUNKNOWN") != 0);
            }
            count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

/* A few corpus files whose outcome we know exactly. */
static void expect_load(const char *rel, int code, const char *needle)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", test_data(rel));
    mesh *m = NULL;
    md_error err;
    md_error_clear(&err);
    int rc = mesh_load(path, &limits, &m, &err);
    mesh_free(m);
    if (rc != code || strstr(err.msg, needle) == NULL) {
        fprintf(stderr, "%s: expected %s with '%s', got %s '%s'\n", rel, md_err_name(code), needle,
                md_err_name(rc), err.msg);
        test_failures++;
    }
}

int main(void)
{
    md_limits_default(&limits);
    test_data("faces");
    test_ict();
    test_mediapipe();

    printf("assimp OBJ corpus:\n");
    int count = load_corpus("formats/assimp/test/models/OBJ");
    count += load_corpus("formats/assimp/test/models/invalid");
    CHECK(count >= 20);

    const char *obj = "formats/assimp/test/models/OBJ/";
    char rel[256];
    snprintf(rel, sizeof rel, "%sbox_UTF16BE.obj", obj);
    expect_load(rel, MD_EFORMAT, "the file is UTF-16; save it as UTF-8/ASCII");
    snprintf(rel, sizeof rel, "%stestpoints.obj", obj);
    expect_load(rel, MD_EPARSE, "the file has 8 vertices but no faces");
    snprintf(rel, sizeof rel, "%sbox_without_lineending.obj", obj);
    expect_load(rel, 0, "");
    snprintf(rel, sizeof rel, "%sspider.obj", obj);
    expect_load(rel, 0, "");
    expect_load("formats/assimp/test/models/invalid/empty.obj", MD_EPARSE,
                "the file has no vertices");
    expect_load("formats/assimp/test/models/invalid/malformed.obj", MD_EPARSE,
                "line 23: face index 12 out of range (8 vertices so far)");
    return test_done();
}
