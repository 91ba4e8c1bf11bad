/*
 * test_cli_face.c — `morph transform` and `morph average` as a user runs them on the ICT faces
 * (shared data): the files each writes (mesh, material, texture, render, manifest), names that
 * sort in amount order for a list of amounts, one camera for every render of a continuum, the
 * mesh weights normalised and said so, the renders showing a face (pixels that are not
 * background in the middle of the frame), --help texts, and every refusal with exit status 2
 * and a message naming what was wrong.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "mesh/image.h"
#include "mesh/mesh.h"

static char last_stderr[8192];
static char a[1024], b[1024], mp[1024];

static int morph(const char *tmp, const char *args)
{
    return test_run_morph(tmp, "", args, last_stderr, sizeof last_stderr);
}

static int exists(const char *dir, const char *name)
{
    char path[8192];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && st.st_size > 0;
}

#define CHECK_FILE(dir, name)                                                                      \
    do {                                                                                           \
        if (!exists(dir, name)) {                                                                  \
            fprintf(stderr, "%s:%d: expected %s/%s to exist, got none\n", __FILE__, __LINE__, dir, \
                    name);                                                                         \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

static json_t *manifest(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    json_error_t jerr;
    json_t *m = json_load_file(path, 0, &jerr);
    if (m == NULL) {
        fprintf(stderr, "expected a manifest at %s, got: %s\n", path, jerr.text);
        test_failures++;
    }
    return m;
}

/* A render shows something: a share of the frame's pixels differ from the white background. */
static void check_render(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    img *im = NULL;
    CHECK_OK(img_load(path, &lim, &im, &err), &err);
    if (im == NULL)
        return;
    CHECK_INT(64, img_width(im));
    size_t n = (size_t)img_width(im) * (size_t)img_height(im), covered = 0;
    const uint8_t *px = img_pixels_const(im);
    for (size_t i = 0; i < n; i++)
        covered += px[4 * i] < 250 || px[4 * i + 1] < 250 || px[4 * i + 2] < 250;
    if (covered < n / 10) {
        fprintf(stderr, "expected a face covering >= 10%% of %s, got %zu of %zu pixels\n", name,
                covered, n);
        test_failures++;
    }
    img_free(im);
}

static void check_transform_list(const char *tmp)
{
    char out[1024], args[16384];
    snprintf(out, sizeof out, "%s/t", tmp);
    snprintf(args, sizeof args,
             "transform %s --from %s --to %s --amount -0.5,0,1.5 -o %s --size 64x64 --samples 1", b,
             a, b, out);
    CHECK_INT(0, morph(tmp, args));
    const char *stems[3] = {"transformed_0000_m0500", "transformed_0001_0000",
                            "transformed_0002_1500"};
    char name[256];
    for (int i = 0; i < 3; i++) {
        const char *ext[4] = {".obj", ".mtl", "_texture.png", ".png"};
        for (int e = 0; e < 4; e++) {
            snprintf(name, sizeof name, "%s%s", stems[i], ext[e]);
            CHECK_FILE(out, name);
        }
        snprintf(name, sizeof name, "%s.png", stems[i]);
        check_render(out, name);
    }
    json_t *m = manifest(out);
    if (m != NULL) {
        CHECK_CONTAINS(json_string_value(json_object_get(m, "kind")), "transform");
        json_t *outs = json_object_get(m, "outputs");
        CHECK_INT(3, json_array_size(outs));
        CHECK_NEAR(1.5, json_real_value(json_object_get(json_array_get(outs, 2), "amount")), 0);
        CHECK_CONTAINS(json_string_value(json_object_get(m, "texture_blend")), "lab-gamut-clip");
        json_t *in = json_object_get(m, "inputs");
        CHECK_INT(3, json_array_size(in));
        CHECK_INT(64, strlen(json_string_value(json_object_get(json_array_get(in, 0), "sha256"))));
        CHECK(json_object_get(json_object_get(m, "camera"), "text") != NULL);
        json_decref(m);
    }
    /* Amount 0 of BASE = B is B's geometry exactly. */
    char obj[2048];
    snprintf(obj, sizeof obj, "%s/transformed_0001_0000.obj", out);
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    mesh *zero = NULL, *orig = NULL;
    CHECK_OK(mesh_load(obj, &lim, &zero, &err), &err);
    CHECK_OK(mesh_load(b, &lim, &orig, &err), &err);
    if (zero != NULL && orig != NULL) {
        CHECK_INT(mesh_vertex_count(orig), mesh_vertex_count(zero));
        CHECK(memcmp(mesh_positions(zero), mesh_positions(orig),
                     3 * sizeof(float) * mesh_vertex_count(orig)) == 0);
    }
    mesh_free(zero);
    mesh_free(orig);

    /* One amount: plain names. */
    snprintf(out, sizeof out, "%s/t1", tmp);
    snprintf(args, sizeof args, "transform %s --from %s --to %s --amount 1 -o %s --size 64x64 -q",
             a, a, b, out);
    CHECK_INT(0, morph(tmp, args));
    CHECK_FILE(out, "transformed.obj");
    CHECK_FILE(out, "transformed.mtl");
    CHECK_FILE(out, "transformed_texture.png");
    CHECK_FILE(out, "transformed.png");
    check_render(out, "transformed.png");
}

static void check_average(const char *tmp)
{
    char out[1024], args[16384];
    snprintf(out, sizeof out, "%s/avg", tmp);
    snprintf(args, sizeof args, "average %s %s --mesh-weights 1,3 -o %s --size 64x64", a, b, out);
    CHECK_INT(0, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "mesh weights normalised to sum 1");
    CHECK_FILE(out, "average.obj");
    CHECK_FILE(out, "average.mtl");
    CHECK_FILE(out, "average_texture.png");
    check_render(out, "average.png");
    json_t *m = manifest(out);
    if (m != NULL) {
        json_t *w = json_object_get(m, "mesh_weights");
        CHECK_NEAR(0.25, json_real_value(json_array_get(w, 0)), 1e-12);
        CHECK_NEAR(0.75, json_real_value(json_array_get(w, 1)), 1e-12);
        json_decref(m);
    }
    /* Shared framing: a transform and an average framed on one reference get one camera. */
    char cams[2][512];
    const char *dirs[2] = {"framed_t", "framed_a"};
    for (int i = 0; i < 2; i++) {
        if (i == 0)
            snprintf(args, sizeof args,
                     "transform %s --from %s --to %s --amount 2 --frame-on %s -o %s/%s --size "
                     "32x32 --samples 1 -q",
                     b, a, b, a, tmp, dirs[i]);
        else
            snprintf(args, sizeof args,
                     "average %s %s --frame-on %s -o %s/%s --size 32x32 --samples 1 -q", a, b, a,
                     tmp, dirs[i]);
        CHECK_INT(0, morph(tmp, args));
        char dir[2048];
        snprintf(dir, sizeof dir, "%s/%s", tmp, dirs[i]);
        json_t *fm = manifest(dir);
        const char *text =
            json_string_value(json_object_get(json_object_get(fm, "camera"), "text"));
        snprintf(cams[i], sizeof cams[i], "%s", text ? text : "(none)");
        json_decref(fm);
    }
    if (strcmp(cams[0], cams[1]) != 0) {
        fprintf(stderr, "expected one camera for jobs framed on one reference, got '%s' and '%s'\n",
                cams[0], cams[1]);
        test_failures++;
    }

    /* The average is an ordinary morph target. */
    snprintf(args, sizeof args, "run %s %s/average.obj -o %s/toward --frames 3 --size 64x64 -q", a,
             out, tmp);
    CHECK_INT(0, morph(tmp, args));
}

static void check_refusals(const char *tmp)
{
    char args[16384];
    snprintf(args, sizeof args, "transform %s --from %s --to %s --amount 1 -o %s/x", a, a, mp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "canonical_face_model.obj has 468 vertices");
    CHECK_CONTAINS(last_stderr, "ict_face_identity_A.obj 9409");
    snprintf(args, sizeof args, "transform %s --from %s --to %s --amount 1,x -o %s/x", a, a, b,
             tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "--amount: amount 2 ('x') must be a number from -3 to 3");
    snprintf(args, sizeof args, "transform %s --from %s --amount 1 -o %s/x", a, a, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "needs --from A, --to B and --amount K");
    snprintf(args, sizeof args, "average %s -o %s/x", a, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "an average needs at least 2 meshes, got 1");
    snprintf(args, sizeof args, "average %s %s --mesh-weights 1,-1 -o %s/x", a, b, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "weight 2 is -1");
    snprintf(args, sizeof args, "average %s %s --mesh-weights 1 -o %s/x", a, b, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "1 weight(s) for 2 meshes");
    snprintf(args, sizeof args, "average %s %s %s --limit max_average_meshes=2 -o %s/x", a, b, a,
             tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "at most 2 meshes, got 3");
    snprintf(args, sizeof args, "average %s %s -o %s/x", a, mp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "has 468 vertices");
    snprintf(args, sizeof args, "average %s %s", a, b);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "-o OUT");
    snprintf(args, sizeof args, "average %s %s --amount 1 -o %s/x", a, b, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "--amount belongs to morph transform");
}

static void check_help(const char *tmp)
{
    char out[65536];
    CHECK_INT(0, morph(tmp, "transform --help"));
    test_slurp(tmp, "stdout.txt", out, sizeof out);
    CHECK_CONTAINS(out, "BASE + K*(B - A)");
    CHECK_CONTAINS(out, "--amount K[,K2,...]");
    CHECK_INT(0, morph(tmp, "average --help"));
    test_slurp(tmp, "stdout.txt", out, sizeof out);
    CHECK_CONTAINS(out, "--mesh-weights W,...");
    CHECK_CONTAINS(out, "normalised to sum 1");
    CHECK_INT(0, morph(tmp, "--help"));
    test_slurp(tmp, "stdout.txt", out, sizeof out);
    CHECK_CONTAINS(out, "morph transform BASE --from A --to B");
    CHECK_CONTAINS(out, "morph average M1 M2");
}

int main(void)
{
    snprintf(a, sizeof a, "%s", test_data("faces/ict/ict_face_identity_A.obj"));
    snprintf(b, sizeof b, "%s", test_data("faces/ict/ict_face_identity_B.obj"));
    snprintf(mp, sizeof mp, "%s", test_data("faces/mediapipe/canonical_face_model.obj"));
    const char *tmp = test_tmpdir("cli_face");
    check_help(tmp);
    check_transform_list(tmp);
    check_average(tmp);
    check_refusals(tmp);
    return test_done();
}
