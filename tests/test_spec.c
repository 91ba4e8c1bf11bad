/* test_spec.c — job spec parsing (what `morph run` flags become) and frame names: weights
 * from -3 to 3, --range and --easing of --frames, shape and texture weights, names of
 * caricature and anti-face frames and their order. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/job.h"

static int name_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* --range, --easing, weights beyond [0, 1], shape and texture weights. */
static void test_frame_list(const md_limits *lim)
{
    md_error err;
    md_error_clear(&err);
    job_spec s;
    job_spec_init(&s);

    /* Weights from -3 to 3; beyond is refused with the item and the allowed range. */
    CHECK_OK(job_spec_set_weights(&s, "-3,-0.5,1.5,3", lim, &err), &err);
    CHECK_INT(4, job_spec_frame_total(&s));
    CHECK_NEAR(-0.5, job_spec_weight(&s, 1), 0);
    CHECK_NEAR(1.5, job_spec_weight(&s, 2), 0);
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "0,3.5", lim, &err));
    CHECK_MSG(&err, "--weights: item 2 '3.5' is not a number from -3 to 3");
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "-3.01", lim, &err));
    CHECK_MSG(&err, "item 1 '-3.01'");

    /* --range spreads --frames; linear easing gives evenly spaced weights. */
    CHECK_OK(job_spec_set_frames(&s, "7", lim, &err), &err);
    CHECK_OK(job_spec_set_range(&s, "-1:2", &err), &err);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    const double linear[7] = {-1, -0.5, 0, 0.5, 1, 1.5, 2};
    for (uint32_t i = 0; i < 7; i++)
        CHECK_NEAR(linear[i], job_spec_weight(&s, i), 1e-7);
    CHECK_INT(MD_EINVAL, job_spec_set_range(&s, "0:4", &err));
    CHECK_MSG(&err, "--range: '0:4' is not FROM:TO with each weight from -3 to 3");
    CHECK_INT(MD_EINVAL, job_spec_set_range(&s, "1", &err));
    CHECK_MSG(&err, "--range: '1'");
    CHECK_INT(MD_EINVAL, job_spec_set_range(&s, "a:1", &err));
    CHECK_INT(MD_EINVAL, job_spec_set_range(&s, "0:1x", &err));
    CHECK_INT(MD_EINVAL, job_spec_set_range(&s, ":1", &err));
    CHECK_NEAR(-1.0, s.range_from, 0); /* a refused range leaves the spec as it was */
    CHECK_NEAR(2.0, s.range_to, 0);
    /* A reversed range plays from the caricature back. */
    CHECK_OK(job_spec_set_frames(&s, "3", lim, &err), &err);
    CHECK_OK(job_spec_set_range(&s, "1.5:-0.5", &err), &err);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK_NEAR(1.5, job_spec_weight(&s, 0), 0);
    CHECK_NEAR(0.5, job_spec_weight(&s, 1), 0);
    CHECK_NEAR(-0.5, job_spec_weight(&s, 2), 0);

    /* Easing curves: e(u) at u = 0, 1/4, 1/2, 3/4, 1, then through the range. */
    const double u[5] = {0, 0.25, 0.5, 0.75, 1};
    const double smooth[5] = {0, 0.15625, 0.5, 0.84375, 1};
    const double sine[5] = {0, 0.5 - 0.5 * sqrt(0.5), 0.5, 0.5 + 0.5 * sqrt(0.5), 1};
    for (int i = 0; i < 5; i++) {
        CHECK_NEAR(u[i], job_easing_apply(JOB_EASING_LINEAR, u[i]), 0);
        CHECK_NEAR(smooth[i], job_easing_apply(JOB_EASING_SMOOTHSTEP, u[i]), 1e-15);
        CHECK_NEAR(sine[i], job_easing_apply(JOB_EASING_SINE, u[i]), 1e-15);
    }
    CHECK_OK(job_spec_set_frames(&s, "5", lim, &err), &err);
    CHECK_OK(job_spec_set_range(&s, "0:2", &err), &err);
    CHECK_OK(job_spec_set_easing(&s, "smoothstep", &err), &err);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    for (uint32_t i = 0; i < 5; i++)
        CHECK_NEAR(2 * smooth[i], job_spec_weight(&s, i), 1e-7);
    CHECK_OK(job_spec_set_frames(&s, "5", lim, &err), &err);
    CHECK_OK(job_spec_set_easing(&s, "sine", &err), &err);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    for (uint32_t i = 0; i < 5; i++)
        CHECK_NEAR(2 * sine[i], job_spec_weight(&s, i), 1e-7);
    CHECK_STR("sine", job_easing_name(s.easing));
    CHECK_INT(MD_EINVAL, job_spec_set_easing(&s, "cubic", &err));
    CHECK_MSG(&err, "--easing: 'cubic' is not linear, smoothstep or sine");

    /* Shape and texture weights: one per frame, each defaulting to the weights. */
    CHECK_OK(job_spec_set_frames(&s, "3", lim, &err), &err);
    CHECK_OK(job_spec_set_range(&s, "0:1", &err), &err);
    CHECK_OK(job_spec_set_easing(&s, "linear", &err), &err);
    CHECK_OK(job_spec_set_texture_weights(&s, "1,1.5,-0.5", lim, &err), &err);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK(job_spec_shape_weights(&s) == s.weights);
    CHECK_NEAR(0.5, job_spec_shape_weights(&s)[1], 0);
    CHECK_NEAR(1.5, job_spec_texture_weights(&s)[1], 0);
    CHECK_INT(1, job_spec_texture_extrapolates(&s));
    CHECK_OK(job_spec_set_shape_weights(&s, "0,0", lim, &err), &err);
    CHECK_INT(MD_EINVAL, job_spec_finalize(&s, &err));
    CHECK_MSG(&err, "shape weights (--shape-weights, spec.shape_weights): 2 given for 3 frames");
    CHECK_OK(job_spec_set_shape_weights(&s, "0,0,0", lim, &err), &err);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK_NEAR(0.0, job_spec_shape_weights(&s)[2], 0);
    CHECK_INT(MD_EINVAL, job_spec_set_texture_weights(&s, "0,x,1", lim, &err));
    CHECK_MSG(&err, "--texture-weights: item 2 'x' is not a number from -3 to 3");
    CHECK_INT(MD_EINVAL, job_spec_set_shape_weights(&s, "0,1,-4", lim, &err));
    CHECK_MSG(&err, "--shape-weights: item 3 '-4'");
    CHECK_OK(job_spec_set_texture_weights(&s, "0,0.5,1", lim, &err), &err);
    CHECK_INT(0, job_spec_texture_extrapolates(&s));
    job_spec_free(&s);
}

/* --frame-on bounds and --camera-from a manifest: the manifest's camera text gives back the
 * very floats; an old manifest without it falls back to its numbers. */
static void test_framing(void)
{
    md_error err;
    md_error_clear(&err);
    job_spec s;
    job_spec_init(&s);
    const float min[3] = {-1, -2, -3}, max[3] = {1, 2, 3}, bad_max[3] = {1, -3, 3};
    CHECK_OK(job_spec_set_frame_on(&s, "the average.obj", min, max, &err), &err);
    CHECK_INT(1, s.frame_on);
    CHECK_STR("the_average.obj", s.frame_on_name);
    CHECK_INT(MD_EINVAL, job_spec_set_frame_on(&s, "x", min, bad_max, &err));
    CHECK_MSG(&err, "frame on 'x': bounds [-1, -2, -3] .. [1, -3, 3] are not finite numbers with "
                    "min <= max");

    /* An awkward camera: every float needs 9 digits to come back. */
    eng_camera cam;
    eng_camera_default(&cam);
    const float eye[3] = {0.1f, -2.05100012f, 81.8154221f}, target[3] = {1e-7f, 3.3333333f, 4.9f};
    memcpy(cam.eye, eye, sizeof eye);
    memcpy(cam.target, target, sizeof target);
    cam.z_near = 48.4588776f;
    cam.z_far = 105.315727f;
    cam.fov_y_deg = 27.123457f;
    json_t *manifest = json_pack("{s:o}", "camera", job_camera_json(&cam));
    CHECK_OK(job_spec_set_camera_from_manifest(&s, manifest, "m.json", &err), &err);
    CHECK_INT(JOB_CAMERA_EXPLICIT, s.camera_mode);
    CHECK(memcmp(&s.camera, &cam, sizeof cam) == 0);
    /* Without "text" (older manifests): the 7-digit numbers, close but not exact. */
    json_object_del(json_object_get(manifest, "camera"), "text");
    CHECK_OK(job_spec_set_camera_from_manifest(&s, manifest, "m.json", &err), &err);
    CHECK_NEAR(81.8154221, s.camera.eye[2], 1e-4);
    CHECK_NEAR(27.123457, s.camera.fov_y_deg, 1e-4);
    json_decref(manifest);
    /* Orthographic. */
    cam.orthographic = 1;
    cam.ortho_height = 2.7182817f;
    manifest = json_pack("{s:o}", "camera", job_camera_json(&cam));
    CHECK_OK(job_spec_set_camera_from_manifest(&s, manifest, "m.json", &err), &err);
    CHECK(memcmp(&s.camera, &cam, sizeof cam) == 0);
    json_decref(manifest);
    manifest = json_pack("{s:{s:s}}", "camera", "text", "eye=0,0,0;target=0,0,0");
    CHECK_INT(MD_EINVAL, job_spec_set_camera_from_manifest(&s, manifest, "m.json", &err));
    CHECK_MSG(&err, "--camera-from: m.json: camera:");
    json_decref(manifest);
    manifest = json_pack("{s:i}", "frames", 3);
    CHECK_INT(MD_EINVAL, job_spec_set_camera_from_manifest(&s, manifest, "render.json", &err));
    CHECK_MSG(&err, "--camera-from: render.json has no \"camera\" object");
    json_decref(manifest);
    job_spec_free(&s);
}

/* Names of weights outside [0, 1] and of split frames; a continuum's names sort in playing
 * order. */
static void test_names(void)
{
    md_error err;
    md_error_clear(&err);
    char name[256];
    CHECK_OK(job_frame_name(7, 0.175f, 0.175f, "faceA", "faceB", name, sizeof name), &err);
    CHECK_STR("0007_faceA-0825_faceB-0175.png", name);
    CHECK_OK(job_frame_name(0, 0.0f, 0.0f, "a", "b", name, sizeof name), &err);
    CHECK_STR("0000_a-1000_b-0000.png", name);
    CHECK_OK(job_frame_name(40, 1.0f, 1.0f, "a", "b", name, sizeof name), &err);
    CHECK_STR("0040_a-0000_b-1000.png", name);
    CHECK_OK(job_frame_name(1, -0.5f, -0.5f, "a", "b", name, sizeof name), &err);
    CHECK_STR("0001_a-1500_b-m0500.png", name);
    CHECK_OK(job_frame_name(2, 1.5f, 1.5f, "a", "b", name, sizeof name), &err);
    CHECK_STR("0002_a-m0500_b-1500.png", name);
    CHECK_OK(job_frame_name(3, -3.0f, -3.0f, "a", "b", name, sizeof name), &err);
    CHECK_STR("0003_a-4000_b-m3000.png", name);
    CHECK_OK(job_frame_name(4, 0.0f, 1.0f, "a", "b", name, sizeof name), &err);
    CHECK_STR("0004_a-1000_b-0000_texture-1000.png", name);
    CHECK_OK(job_frame_name(5, 1.0f, -0.25f, "a", "b", name, sizeof name), &err);
    CHECK_STR("0005_a-0000_b-1000_texture-m0250.png", name);
    CHECK_INT(MD_EINVAL, job_frame_name(5, 1.0f, -0.25f, "a", "b", name, 20));

    /* A continuum from -1 to 2 in 31 frames: sorted names are the frames in playing order. */
    char names[31][64];
    for (uint32_t i = 0; i < 31; i++) {
        float w = -1.0f + 0.1f * (float)i;
        CHECK_OK(job_frame_name(i, w, w, "src", "dst", names[i], sizeof names[i]), &err);
    }
    char sorted[31][64];
    memcpy(sorted, names, sizeof sorted);
    qsort(sorted, 31, sizeof sorted[0], name_cmp);
    for (int i = 0; i < 31; i++)
        CHECK_STR(names[i], sorted[i]);
    CHECK_STR("0000_src-2000_dst-m1000.png", names[0]);
    CHECK_STR("0030_src-m1000_dst-2000.png", names[30]);
}

int main(void)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    job_spec s;
    job_spec_init(&s);
    CHECK_INT(41, job_spec_frame_total(&s));
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK_NEAR(0.0, job_spec_weight(&s, 0), 0);
    CHECK_NEAR(0.5, job_spec_weight(&s, 20), 1e-7);
    CHECK_NEAR(1.0, job_spec_weight(&s, 40), 0);

    CHECK_OK(job_spec_set_frames(&s, "5", &lim, &err), &err);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK_NEAR(0.25, job_spec_weight(&s, 1), 1e-7);
    CHECK_INT(MD_EINVAL, job_spec_set_frames(&s, "0", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_frames(&s, "12x", &lim, &err));
    CHECK_MSG(&err, "--frames: '12x'");
    CHECK_INT(MD_EINVAL, job_spec_set_frames(&s, "100001", &lim, &err));

    CHECK_OK(job_spec_set_weights(&s, "0, 0.25,1", &lim, &err), &err);
    CHECK_INT(3, job_spec_frame_total(&s));
    CHECK_NEAR(0.25, job_spec_weight(&s, 1), 1e-7);
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "0,3.5", &lim, &err));
    CHECK_MSG(&err, "item 2 '3.5'");
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "0,,1", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "0,0.5x", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "nan", &lim, &err));

    CHECK_OK(job_spec_set_size(&s, "640x480", &lim, &err), &err);
    CHECK_INT(640, s.width);
    CHECK_INT(480, s.height);
    CHECK_INT(MD_EINVAL, job_spec_set_size(&s, "640", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_size(&s, "0x10", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_size(&s, "99999x10", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_size(&s, "10x10y", &lim, &err));

    CHECK_OK(job_spec_set_samples(&s, "9", &lim, &err), &err);
    CHECK_INT(9, s.samples);
    CHECK_INT(MD_EINVAL, job_spec_set_samples(&s, "3", &lim, &err));
    CHECK_MSG(&err, "square");
    CHECK_INT(MD_EINVAL, job_spec_set_samples(&s, "81", &lim, &err));

    CHECK_OK(job_spec_set_background(&s, "#102030", &err), &err);
    CHECK_INT(0x10, s.background[0]);
    CHECK_INT(0x30, s.background[2]);
    CHECK_INT(MD_EINVAL, job_spec_set_background(&s, "12345", &err));
    CHECK_INT(MD_EINVAL, job_spec_set_background(&s, "gg0000", &err));

    CHECK_OK(job_spec_set_png_level(&s, "9", &err), &err);
    CHECK_INT(MD_EINVAL, job_spec_set_png_level(&s, "10", &err));

    CHECK_OK(job_spec_set_ortho(&s, "auto", &err), &err);
    CHECK(s.camera.orthographic && s.ortho_auto);
    CHECK_OK(job_spec_set_ortho(&s, "2.5", &err), &err);
    CHECK_NEAR(2.5, s.camera.ortho_height, 1e-6);
    CHECK_INT(MD_EINVAL, job_spec_set_ortho(&s, "-1", &err));

    CHECK_OK(job_spec_set_camera(&s, "eye=0,0,5;target=0,0,0;fov=20", &err), &err);
    CHECK_INT(JOB_CAMERA_EXPLICIT, s.camera_mode);
    CHECK_INT(MD_EINVAL, job_spec_set_camera(&s, "eye=1,2", &err));
    CHECK_MSG(&err, "--camera");

    char name[256];
    job_path_stem("/x/y/ict face-A.obj", name, sizeof name);
    CHECK(strcmp(name, "ict_face_A") == 0);
    job_path_stem("noext", name, sizeof name);
    CHECK(strcmp(name, "noext") == 0);
    job_spec_free(&s);
    test_frame_list(&lim);
    test_framing();
    test_names();
    return test_done();
}
