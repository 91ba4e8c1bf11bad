/*
 * test_cli_facespace.c — face-space stimuli through `morph run` on the sample pair
 * (`morph sample`, no shared data): a caricature (t = 1.5) and an anti-face (t = -0.5) whose
 * exported meshes (--outputs meshes) are A + t (B - A) to float precision, with names that sort
 * in playing order and a manifest that says how the texture was extrapolated; shape weight 0
 * with texture weight 1, whose frame is byte for byte A's shape wearing B's texture (the same
 * render made with --source-texture) and whose mesh is A's positions exactly; --range with
 * --easing in the manifest's weights; the auto camera backing off for a caricature;
 * --frame-on giving two pairs one camera and --camera-from reproducing a job's frames; and each
 * bad value refused with the option named.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "mesh/image.h"
#include "mesh/mesh.h"

#define W 96
#define H 80

static char last_stderr[8192];
static md_limits limits;

static int morph(const char *tmp, const char *args)
{
    return test_run_morph(tmp, "", args, last_stderr, sizeof last_stderr);
}

static mesh *load(const char *path)
{
    mesh *m = NULL;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(mesh_load(path, &limits, &m, &err), &err);
    return m;
}

static json_t *manifest(const char *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", out);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "%s: %s\n", path, jerr.text);
        test_failures++;
    }
    return root;
}

/* The frame names in OUT/frames, sorted by strcmp (what `ls` shows); returns the count. */
static int sorted_frames(const char *out, char names[][256], int cap)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/frames", out);
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (list[i]->d_name[0] != '.' && count < cap)
            snprintf(names[count++], 256, "%s", list[i]->d_name);
        free(list[i]);
    }
    free(list);
    return count;
}

/* The exported mesh r against A + t (B - A), corner by corner (a reloaded OBJ may number its
 * vertices differently; triangles keep their order). Returns the largest error relative to
 * the size of the terms. */
static double check_positions(const mesh *r, const mesh *a, const mesh *b, double t, double tol)
{
    CHECK_INT(mesh_triangle_count(a), mesh_triangle_count(r));
    if (mesh_triangle_count(a) != mesh_triangle_count(r))
        return INFINITY;
    const float *pa = mesh_positions(a), *pb = mesh_positions(b), *pr = mesh_positions(r);
    const uint32_t *ta = mesh_triangles(a), *tr = mesh_triangles(r);
    double worst = 0;
    for (size_t c = 0; c < 3 * (size_t)mesh_triangle_count(a); c++)
        for (int k = 0; k < 3; k++) {
            double xa = pa[3 * ta[c] + k], xb = pb[3 * ta[c] + k];
            double want = xa + t * (xb - xa);
            double scale = fabs((1 - t) * xa) + fabs(t * xb) + 1e-30;
            worst = fmax(worst, fabs(want - pr[3 * tr[c] + k]) / scale);
        }
    CHECK_NEAR(0, worst, tol);
    return worst;
}

static void check_caricature(const char *tmp, const mesh *a, const mesh *b)
{
    char args[16384], out[4096];
    snprintf(out, sizeof out, "%s/caricature", tmp);
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size %dx%d --weights -0.5,0,1,1.5 "
             "--outputs frames,meshes",
             tmp, tmp, out, W, H);
    CHECK_INT(0, morph(tmp, args));
    char names[8][256];
    CHECK_INT(4, sorted_frames(out, names, 8));
    static const char *const want[4] = {
        "0000_sample_A-1500_sample_B-m0500.png", "0001_sample_A-1000_sample_B-0000.png",
        "0002_sample_A-0000_sample_B-1000.png", "0003_sample_A-m0500_sample_B-1500.png"};
    for (int i = 0; i < 4; i++)
        CHECK_STR(want[i], names[i]);

    static const char *const meshes[2] = {"0000_sample_A-1500_sample_B-m0500.obj",
                                          "0003_sample_A-m0500_sample_B-1500.obj"};
    const double ts[2] = {-0.5, 1.5};
    for (int i = 0; i < 2; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/meshes/%s", out, meshes[i]);
        mesh *r = load(path);
        if (r == NULL)
            continue;
        /* Float precision: (1 - t) a + t b rounds twice; OBJ keeps %.9g. */
        double worst = check_positions(r, a, b, ts[i], 3e-7);
        printf("exported mesh at t=%.1f: largest relative error vs A + t (B - A) %.3g\n", ts[i],
               worst);
        mesh_free(r);
    }

    json_t *root = manifest(out);
    json_t *options = json_object_get(root, "options");
    const char *blend = json_string_value(json_object_get(options, "texture_blend"));
    CHECK(blend != NULL && strstr(blend, "extrapolated in CIE L*a*b*") != NULL &&
          strstr(blend, "clipped to the sRGB gamut") != NULL);
    json_t *frames = json_object_get(root, "frames");
    CHECK_INT(4, json_array_size(frames));
    CHECK_NEAR(1.5, json_real_value(json_object_get(json_array_get(frames, 3), "weight")), 0);
    CHECK_NEAR(1.5, json_real_value(json_object_get(json_array_get(frames, 3), "texture_weight")),
               0);
    CHECK_STR("frames/0003_sample_A-m0500_sample_B-1500.png",
              json_string_value(json_object_get(json_array_get(frames, 3), "file")));
    json_decref(root);
}

static uint8_t *read_png(const char *path, int *w, int *h)
{
    img *im = NULL;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(img_load(path, &limits, &im, &err), &err);
    if (im == NULL)
        return NULL;
    *w = img_width(im);
    *h = img_height(im);
    size_t n = (size_t)*w * (size_t)*h * 4;
    uint8_t *px = md_malloc(n);
    memcpy(px, img_pixels_const(im), n);
    img_free(im);
    return px;
}

static void check_split(const char *tmp, const mesh *a)
{
    char args[16384], out[4096], ref[4096];
    snprintf(out, sizeof out, "%s/split", tmp);
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size %dx%d --weights 0,1 "
             "--shape-weights 0,0 --texture-weights 1,1 --outputs frames,meshes",
             tmp, tmp, out, W, H);
    CHECK_INT(0, morph(tmp, args));
    char names[4][256];
    CHECK_INT(2, sorted_frames(out, names, 4));
    CHECK_STR("0000_sample_A-1000_sample_B-0000_texture-1000.png", names[0]);
    CHECK_STR("0001_sample_A-1000_sample_B-0000_texture-1000.png", names[1]);

    /* The same picture made the plain way: A with B's texture (the pair shares a UV layout). */
    snprintf(ref, sizeof ref, "%s/split_ref", tmp);
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size %dx%d --weights 0 "
             "--source-texture %s/s/sample_B.png --outputs frames",
             tmp, tmp, ref, W, H, tmp);
    CHECK_INT(0, morph(tmp, args));
    char path[8192];
    int w1 = 0, h1 = 0, w2 = 0, h2 = 0;
    snprintf(path, sizeof path, "%s/frames/%s", out, names[0]);
    uint8_t *got = read_png(path, &w1, &h1);
    snprintf(path, sizeof path, "%s/frames/0000_sample_A-1000_sample_B-0000.png", ref);
    uint8_t *want = read_png(path, &w2, &h2);
    if (got != NULL && want != NULL) {
        CHECK_INT(w2, w1);
        CHECK_INT(h2, h1);
        size_t differ = 0;
        for (size_t i = 0; w1 == w2 && h1 == h2 && i < (size_t)w1 * (size_t)h1 * 4; i += 4)
            differ += memcmp(got + i, want + i, 4) != 0;
        printf("shape 0, texture 1: %zu pixels differ from A rendered with B's texture\n", differ);
        CHECK_INT(0, differ);
    }
    md_free(got);
    md_free(want);

    /* The exported mesh: A's positions exactly, B's texture exactly (as the t = 1 mesh of
     * check_caricature exported it: padded, like every texture the engine samples). */
    snprintf(path, sizeof path, "%s/meshes/0000_sample_A-1000_sample_B-0000_texture-1000.obj", out);
    mesh *r = load(path);
    if (r != NULL) {
        CHECK_NEAR(0, check_positions(r, a, a, 0.0, 0.0), 0.0);
        snprintf(path, sizeof path, "%s/caricature/meshes/0002_sample_A-0000_sample_B-1000.png",
                 tmp);
        int tw = 0, th = 0;
        uint8_t *tex_b = read_png(path, &tw, &th);
        const img *tex = mesh_material_texture(r, 0);
        CHECK(tex != NULL && tex_b != NULL);
        if (tex != NULL && tex_b != NULL && img_width(tex) == tw && img_height(tex) == th)
            CHECK(memcmp(img_pixels_const(tex), tex_b, (size_t)tw * (size_t)th * 4) == 0);
        md_free(tex_b);
        mesh_free(r);
    }
    json_t *root = manifest(out);
    json_t *options = json_object_get(root, "options");
    CHECK_NEAR(0.0, json_real_value(json_array_get(json_object_get(options, "shape_weights"), 1)),
               0);
    CHECK_NEAR(1.0, json_real_value(json_array_get(json_object_get(options, "texture_weights"), 0)),
               0);
    const char *blend = json_string_value(json_object_get(options, "texture_blend"));
    CHECK(blend != NULL && strstr(blend, "no extrapolation") != NULL);
    json_decref(root);
}

static void check_range_easing(const char *tmp)
{
    char args[16384], out[4096];
    snprintf(out, sizeof out, "%s/eased", tmp);
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size 48x40 --frames 5 "
             "--range -1:2 --easing smoothstep --outputs frames",
             tmp, tmp, out);
    CHECK_INT(0, morph(tmp, args));
    json_t *root = manifest(out);
    json_t *options = json_object_get(root, "options");
    /* smoothstep at u = 0, 1/4, 1/2, 3/4, 1, mapped onto [-1, 2]. */
    const double want[5] = {-1.0, -1.0 + 3 * 0.15625, 0.5, -1.0 + 3 * 0.84375, 2.0};
    json_t *weights = json_object_get(options, "weights");
    CHECK_INT(5, json_array_size(weights));
    for (size_t i = 0; i < 5; i++)
        CHECK_NEAR(want[i], json_real_value(json_array_get(weights, i)), 1e-6);
    CHECK_STR("smoothstep", json_string_value(json_object_get(options, "easing")));
    CHECK_NEAR(-1.0, json_real_value(json_array_get(json_object_get(options, "range"), 0)), 0);
    json_t *spec = json_object_get(root, "spec");
    CHECK_STR("smoothstep", json_string_value(json_object_get(spec, "easing")));
    json_decref(root);
    char names[8][256];
    CHECK_INT(5, sorted_frames(out, names, 8));
    CHECK_STR("0000_sample_A-2000_sample_B-m1000.png", names[0]);
    CHECK_STR("0001_sample_A-1531_sample_B-m0531.png", names[1]);
    CHECK_STR("0004_sample_A-m1000_sample_B-2000.png", names[4]);
}

/* The resolved camera of OUT's manifest as its exact text ("" when missing). */
static void camera_text(const char *out, char *buf, size_t cap)
{
    json_t *root = manifest(out);
    const char *text = json_string_value(json_object_get(json_object_get(root, "camera"), "text"));
    snprintf(buf, cap, "%s", text ? text : "");
    json_decref(root);
}

/* --frame-on: two jobs with different pairs framed on one reference share one camera (without
 * it they do not); --camera-from: a job given the first job's manifest renders byte for byte
 * the first job's frames. */
static void check_framing(const char *tmp)
{
    char args[16384], cams[4][512];
    static const char *const jobs[4][3] = {
        {"frame_ab", "sample_B", "--frame-on %s/s/sample_B.obj"},
        {"frame_aa", "sample_A", "--frame-on %s/s/sample_B.obj"},
        {"plain_ab", "sample_B", ""},
        {"plain_aa", "sample_A", ""},
    };
    for (int i = 0; i < 4; i++) {
        char extra[4200];
        snprintf(extra, sizeof extra, jobs[i][2], tmp);
        snprintf(args, sizeof args,
                 "run %s/s/sample_A.obj %s/s/%s.obj -o %s/%s --size 64x48 --weights 0,1.5 "
                 "--outputs frames %s",
                 tmp, tmp, jobs[i][1], tmp, jobs[i][0], extra);
        CHECK_INT(0, morph(tmp, args));
        char out[4200];
        snprintf(out, sizeof out, "%s/%s", tmp, jobs[i][0]);
        camera_text(out, cams[i], sizeof cams[i]);
    }
    printf("framed on sample_B: %s\n", cams[0]);
    CHECK_STR(cams[0], cams[1]);
    CHECK(strcmp(cams[2], cams[3]) != 0); /* the pair's own framing differs */
    json_t *root = manifest(strcat(strcpy(args, tmp), "/frame_aa"));
    json_t *on = json_object_get(json_object_get(root, "camera"), "framed_on");
    CHECK_STR("sample_B", json_string_value(json_object_get(on, "name")));
    CHECK_STR("sample_B", json_string_value(json_object_get(
                              json_object_get(json_object_get(root, "spec"), "frame_on"), "name")));
    json_decref(root);

    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/from --size 64x48 --weights 0,1.5 "
             "--outputs frames --camera-from %s/frame_ab/manifest.json",
             tmp, tmp, tmp, tmp);
    CHECK_INT(0, morph(tmp, args));
    char cam[512], out[4200];
    snprintf(out, sizeof out, "%s/from", tmp);
    camera_text(out, cam, sizeof cam);
    CHECK_STR(cams[0], cam);
    static const char *const frames[2] = {"0000_sample_A-1000_sample_B-0000.png",
                                          "0001_sample_A-m0500_sample_B-1500.png"};
    for (int i = 0; i < 2; i++) {
        char p1[8192], p2[8192];
        snprintf(p1, sizeof p1, "%s/frame_ab/frames/%s", tmp, frames[i]);
        snprintf(p2, sizeof p2, "%s/from/frames/%s", tmp, frames[i]);
        int w1 = 0, h1 = 0, w2 = 0, h2 = 0;
        uint8_t *a = read_png(p1, &w1, &h1), *b = read_png(p2, &w2, &h2);
        CHECK(a != NULL && b != NULL && w1 == w2 && h1 == h2 &&
              memcmp(a, b, (size_t)w1 * (size_t)h1 * 4) == 0);
        md_free(a);
        md_free(b);
    }
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e --camera-from %s/nothing.json", tmp,
             tmp, tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "--camera-from: ");
    CHECK_CONTAINS(last_stderr, "nothing.json");
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e --camera-from %s/s/sample_A.obj", tmp,
             tmp, tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "--camera-from: ");
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e --frame-on %s/s/missing.obj", tmp,
             tmp, tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "--frame-on: ");
    CHECK_CONTAINS(last_stderr, "missing.obj");
}

/* The auto camera frames every frame: shape weights within [0, 1] keep the pair's camera, a
 * caricature at 2.5 moves the eye back so it stays in view. */
static void check_auto_camera(const char *tmp)
{
    static const char *const weights[3] = {"0,1", "0.5", "0,2.5"};
    char cams[3][512];
    double eye_z[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        char args[16384], out[4200];
        snprintf(out, sizeof out, "%s/auto%d", tmp, i);
        snprintf(args, sizeof args,
                 "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size 48x48 --weights %s "
                 "--outputs frames",
                 tmp, tmp, out, weights[i]);
        CHECK_INT(0, morph(tmp, args));
        camera_text(out, cams[i], sizeof cams[i]);
        json_t *root = manifest(out);
        eye_z[i] = json_number_value(
            json_array_get(json_object_get(json_object_get(root, "camera"), "eye"), 2));
        json_decref(root);
    }
    CHECK_STR(cams[0], cams[1]);
    printf("auto camera eye z: %.4g for weights 0..1, %.4g with a caricature at 2.5\n", eye_z[0],
           eye_z[2]);
    CHECK(eye_z[2] > eye_z[0] + 0.1); /* 6.71 and 7.08 for the sample pair */
}

static void check_bad_values(const char *tmp)
{
    static const struct {
        const char *flags, *needle;
    } bad[] = {
        {"--weights 0,3.5", "--weights: item 2 '3.5' is not a number from -3 to 3"},
        {"--range 0:4", "--range: '0:4' is not FROM:TO with each weight from -3 to 3"},
        {"--range 1", "--range: '1'"},
        {"--easing cubic", "--easing: 'cubic' is not linear, smoothstep or sine"},
        {"--weights 0,1 --range 0:2", "--range spreads the weights of --frames"},
        {"--weights 0,1 --easing sine", "--easing spreads the weights of --frames"},
        {"--frames 3 --shape-weights 0,1",
         "shape weights (--shape-weights, spec.shape_weights): 2 given for 3 frames"},
        {"--weights 0,1 --texture-weights 0,1,1",
         "texture weights (--texture-weights, spec.texture_weights): 3 given for 2 frames"},
        {"--frames 2 --texture-weights 0,-4", "--texture-weights: item 2 '-4'"},
    };
    char args[16384];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e %s", tmp, tmp,
                 tmp, bad[i].flags);
        CHECK_INT(2, morph(tmp, args));
        CHECK_CONTAINS(last_stderr, bad[i].needle);
    }
}

int main(void)
{
    md_limits_default(&limits);
    const char *tmp = test_tmpdir("cli_facespace");
    char args[8192];
    CHECK_INT(0, morph(tmp, "run --help"));
    snprintf(args, sizeof args, "sample %s/s", tmp);
    CHECK_INT(0, morph(tmp, args));
    char path[4096];
    snprintf(path, sizeof path, "%s/s/sample_A.obj", tmp);
    mesh *a = load(path);
    snprintf(path, sizeof path, "%s/s/sample_B.obj", tmp);
    mesh *b = load(path);
    if (a == NULL || b == NULL)
        return test_done();
    check_bad_values(tmp);
    check_caricature(tmp, a, b);
    check_split(tmp, a);
    check_range_easing(tmp);
    check_framing(tmp);
    check_auto_camera(tmp);
    mesh_free(a);
    mesh_free(b);
    return test_done();
}
