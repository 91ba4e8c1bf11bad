/*
 * test_opacity_data.c — material opacity and hiding on the shared data (skips with 77 without
 * it):
 *   - the ICT-FaceKit MTL (Tf as opacity, Maya style): M_EyeBlend, M_EyeLashes,
 *     M_EyeOcclusion and M_LacrimalFluid (the tear film) opacity 0, the other eight 1, and the
 *     rule's note;
 *   - assimp's OBJ corpus: regr01.mtl's Windows `d 0.5` through mesh_load (Tf absent);
 *     space_in_material_name.mtl (Tf 1 1 1 and d 1) stays opaque;
 *   - an ASCII FBX of assimp's corpus with its first material's Opacity set to 0.25;
 *   - `morph run --hide-materials` on a copy of the ICT pair whose first 1,500 faces use
 *     M_Teeth (opaque): the hidden region shows the background where the unhidden run drew it,
 *     vertex_displacements.csv loses exactly the vertices only those faces used, the manifest
 *     lists what was hidden, and an unknown name fails naming the meshes' materials.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/image.h"
#include "mesh/mesh.h"

static md_limits limits;

static char *read_data(const char *rel, size_t *len)
{
    char *bytes = NULL;
    md_error err;
    if (md_read_file(test_data(rel), limits.max_file_bytes, &bytes, len, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return bytes;
}

static int find_material(const mesh *m, const char *name)
{
    for (uint32_t i = 0; i < mesh_material_count(m); i++)
        if (strcmp(mesh_material_name(m, i), name) == 0)
            return (int)i;
    fprintf(stderr, "no material '%s'\n", name);
    test_failures++;
    return -1;
}

/* ---- Reading opacity ---- */

static void test_ict_mtl(void)
{
    static const char *const names[] = {"M_BackHead",     "M_EyeBlend",    "M_EyeLashes",
                                        "M_EyeOcclusion", "M_Face",        "M_GumsTongue",
                                        "M_IrisLeft",     "M_IrisRight",   "M_LacrimalFluid",
                                        "M_ScleraLeft",   "M_ScleraRight", "M_Teeth"};
    /* An OBJ using every material of the library, as the full ICT head does. */
    char obj[2048];
    size_t used = (size_t)snprintf(obj, sizeof obj, "v 0 0 0\nv 1 0 0\nv 0 1 0\n");
    for (size_t i = 0; i < 12; i++)
        used += (size_t)snprintf(obj + used, sizeof obj - used, "usemtl %s\nf 1 2 3\n", names[i]);
    mesh *m = NULL;
    md_error err;
    CHECK_OK(mesh_parse_obj(obj, used, &limits, &m, &err), &err);
    if (m == NULL)
        return;
    size_t len;
    char *mtl = read_data("faces/ict/ICTFaceModelMaterial_textured.mtl", &len);
    CHECK_OK(mesh_parse_mtl(m, mtl, len, &err), &err);
    for (size_t i = 0; i < 12; i++) {
        int k = find_material(m, names[i]);
        /* The overlays, the lashes and the tear film are Tf 0 0 0 in the file. */
        int clear = (i >= 1 && i <= 3) || strcmp(names[i], "M_LacrimalFluid") == 0;
        float expected = clear ? 0.0f : 1.0f;
        if (k < 0)
            continue;
        float got = mesh_material_opacity(m, (uint32_t)k);
        if (got != expected) {
            fprintf(stderr, "%s: expected opacity %g, got %g\n", names[i], (double)expected,
                    (double)got);
            test_failures++;
        }
    }
    CHECK_INT(1, mesh_opacity_from_tf(m));
    md_free(mtl);
    mesh_free(m);
}

static void test_obj_corpus(void)
{
    mesh *m = NULL;
    md_error err;
    CHECK_OK(mesh_load(test_data("formats/assimp/test/models/OBJ/regr01.obj"), &limits, &m, &err),
             &err);
    if (m != NULL) {
        int k = find_material(m, "Windows");
        if (k >= 0)
            CHECK_NEAR(0.5, mesh_material_opacity(m, (uint32_t)k), 1e-6);
        k = find_material(m, "Door");
        if (k >= 0)
            CHECK_NEAR(1.0, mesh_material_opacity(m, (uint32_t)k), 0);
        CHECK_INT(0, mesh_opacity_from_tf(m));
    }
    mesh_free(m);
    m = NULL;
    CHECK_OK(mesh_load(test_data("formats/assimp/test/models/OBJ/space_in_material_name.obj"),
                       &limits, &m, &err),
             &err);
    if (m != NULL) {
        for (uint32_t i = 0; i < mesh_material_count(m); i++)
            CHECK_NEAR(1.0, mesh_material_opacity(m, i), 0);
    }
    mesh_free(m);
}

static void test_fbx_opacity(void)
{
    size_t len;
    char *fbx = read_data("formats/assimp/test/models/FBX/cubes_with_names.fbx", &len);
    const char *key = "\"Opacity\", \"double\", \"Number\", \"\",1";
    char *at = memmem(fbx, len, key, strlen(key));
    CHECK(at != NULL);
    if (at == NULL) {
        md_free(fbx);
        return;
    }
    /* ",1" -> ",0.25": the file grows by three bytes. */
    size_t head = (size_t)(at - fbx) + strlen(key) - 1;
    char *edited = md_malloc(len + 3);
    memcpy(edited, fbx, head);
    memcpy(edited + head, "0.25", 4);
    memcpy(edited + head + 4, fbx + head + 1, len - head - 1);
    mesh *m = NULL;
    md_error err;
    CHECK_OK(mesh_parse_assimp((const uint8_t *)edited, len + 3, "fbx", &limits, &m, &err), &err);
    if (m != NULL) {
        int quarter = 0, opaque = 0;
        for (uint32_t i = 0; i < mesh_material_count(m); i++) {
            float o = mesh_material_opacity(m, i);
            quarter += o > 0.2499f && o < 0.2501f;
            opaque += o == 1.0f;
        }
        CHECK_INT(1, quarter);
        CHECK_INT((int)mesh_material_count(m) - 1, opaque);
    }
    mesh_free(m);
    md_free(edited);
    md_free(fbx);
}

/* ---- morph run --hide-materials ---- */

/* dir/name: the ICT face `which` with its first 1,500 faces using M_Teeth. */
static void write_teeth_copy(const char *dir, const char *which)
{
    char rel[128], path[4096];
    snprintf(rel, sizeof rel, "faces/ict/ict_face_identity_%s.obj", which);
    size_t len;
    char *text = read_data(rel, &len);
    snprintf(path, sizeof path, "%s/ict_%s.obj", dir, which);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL) {
        md_free(text);
        return;
    }
    int faces = 0;
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t n = nl ? (size_t)(nl - line + 1) : (size_t)(text + len - line);
        if (strncmp(line, "usemtl", 6) == 0) {
            line += n;
            continue;
        }
        if (strncmp(line, "f ", 2) == 0) {
            if (faces == 0)
                fputs("usemtl M_Teeth\n", f);
            else if (faces == 1500)
                fputs("usemtl M_Face\n", f);
            faces++;
        }
        fwrite(line, 1, n, f);
        line += n;
    }
    fclose(f);
    md_free(text);
}

static void copy_data(const char *rel, const char *dir, const char *name)
{
    size_t len;
    char *bytes = read_data(rel, &len);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    md_error err;
    CHECK_OK(md_write_file_atomic(path, bytes, len, &err), &err);
    md_free(bytes);
}

/* The first frame (by name) of dir/out/frames. */
static img *first_frame(const char *dir, const char *out)
{
    char frames[4096], best[256] = "";
    snprintf(frames, sizeof frames, "%s/%s/frames", dir, out);
    DIR *d = opendir(frames);
    CHECK(d != NULL);
    if (d == NULL)
        return NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".png") && (best[0] == '\0' || strcmp(e->d_name, best) < 0))
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", frames, best);
    img *im = NULL;
    md_error err;
    CHECK_OK(img_load(path, &limits, &im, &err), &err);
    return im;
}

static long count_lines(const char *dir, const char *out, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", dir, out, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long lines = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

static void test_run_hide(void)
{
    const char *dir = test_tmpdir("opacity_data");
    write_teeth_copy(dir, "A");
    write_teeth_copy(dir, "B");
    copy_data("faces/ict/ICTFaceModelMaterial_textured.mtl", dir,
              "ICTFaceModelMaterial_textured.mtl");
    copy_data("faces/ict/uv_face.png", dir, "uv_face.png");
    char errbuf[4096];
    const char *common = "--frames 2 --size 256x256 --outputs frames,csv -q";
    char args[1024];
    snprintf(args, sizeof args, "run %s/ict_A.obj %s/ict_B.obj -o %s/whole %s", dir, dir, dir,
             common);
    CHECK_INT(0, test_run_morph(dir, "", args, errbuf, sizeof errbuf));
    snprintf(args, sizeof args,
             "run %s/ict_A.obj %s/ict_B.obj -o %s/hidden %s --hide-materials M_Teeth", dir, dir,
             dir, common);
    CHECK_INT(0, test_run_morph(dir, "", args, errbuf, sizeof errbuf));

    /* Every file vertex is a row of the whole run; the hidden run loses the vertices only the
     * M_Teeth faces used (1,035 of the ICT face's 9,409; counted with awk from the OBJ). */
    CHECK_INT(9409 + 1, count_lines(dir, "whole", "vertex_displacements.csv"));
    CHECK_INT(8374 + 1, count_lines(dir, "hidden", "vertex_displacements.csv"));

    /* The hidden region: pixels the whole run drew that the hidden run leaves as background. */
    img *whole = first_frame(dir, "whole"), *hidden = first_frame(dir, "hidden");
    if (whole != NULL && hidden != NULL) {
        CHECK_INT(img_width(whole), img_width(hidden));
        const uint8_t *pw = img_pixels_const(whole), *ph = img_pixels_const(hidden);
        long uncovered = 0, covered = 0;
        for (long i = 0; i < (long)img_width(whole) * img_height(whole); i++) {
            int w_bg = pw[4 * i] == 255 && pw[4 * i + 1] == 255 && pw[4 * i + 2] == 255;
            int h_bg = ph[4 * i] == 255 && ph[4 * i + 1] == 255 && ph[4 * i + 2] == 255;
            uncovered += !w_bg && h_bg;
            covered += w_bg && !h_bg;
        }
        printf("hidden region: %ld pixels became background, %ld became surface\n", uncovered,
               covered);
        CHECK(uncovered > 500);
        /* The camera frames the smaller visible surface, so a few pixels at the outline move
         * the other way; the hidden region itself dominates. */
        CHECK(covered < uncovered / 4);
    }
    img_free(whole);
    img_free(hidden);

    /* The manifest says what was hidden. */
    char path[4096];
    snprintf(path, sizeof path, "%s/hidden/manifest.json", dir);
    json_error_t jerr;
    json_t *man = json_load_file(path, 0, &jerr);
    CHECK(man != NULL);
    json_t *h = json_object_get(json_object_get(man, "inputs"), "hidden_materials");
    CHECK(json_is_object(h));
    CHECK_STR("M_Teeth", json_string_value(json_array_get(json_object_get(h, "names"), 0)));
    CHECK_INT(3000, (int)json_integer_value(json_object_get(h, "triangles")));
    CHECK_INT(1035, (int)json_integer_value(json_object_get(h, "vertices")));
    /* And what was read: the Tf note, the library's overlays at opacity 0 are not used here. */
    json_t *src = json_object_get(json_object_get(man, "inputs"), "source");
    CHECK(json_is_string(json_object_get(src, "opacity_note")));
    json_decref(man);

    /* Hiding the textured material leaves nothing to measure texture on: the texture rows
     * are skipped with a note, not computed over an empty or stale texture space. */
    snprintf(args, sizeof args,
             "run %s/ict_A.obj %s/ict_B.obj -o %s/skin %s --hide-materials M_Face", dir, dir, dir,
             common);
    CHECK_INT(0, test_run_morph(dir, "", args, errbuf, sizeof errbuf));
    CHECK_INT(4, count_lines(dir, "skin", "statistics.csv")); /* header and the shape rows */
    snprintf(path, sizeof path, "%s/skin/manifest.json", dir);
    man = json_load_file(path, 0, &jerr);
    char *notes =
        man ? json_dumps(json_object_get(json_object_get(man, "outputs"), "notes"), 0) : NULL;
    CHECK(notes != NULL);
    if (notes != NULL)
        CHECK_CONTAINS(notes, "source has no texture on any of its triangles");
    free(notes);
    json_decref(man);

    /* A typo names the meshes' materials. */
    snprintf(args, sizeof args,
             "run %s/ict_A.obj %s/ict_B.obj -o %s/typo %s --hide-materials M_Teeth,M_Tooth", dir,
             dir, dir, common);
    CHECK(test_run_morph(dir, "", args, errbuf, sizeof errbuf) != 0);
    CHECK_CONTAINS(errbuf, "no material 'M_Tooth' in either mesh; both have M_Teeth, M_Face");
}

int main(void)
{
    md_limits_default(&limits);
    test_data("faces/ict/ICTFaceModelMaterial_textured.mtl"); /* skips without the data */
    test_ict_mtl();
    test_obj_corpus();
    test_fbx_opacity();
    test_run_hide();
    return test_done();
}
