/*
 * test_spec_json.c — the spec JSON (jobs/spec_json.c): every field read, defaults written,
 * every error naming its field, unknown fields named, frames and weights exclusive, render
 * views (turntable and camera lists), the render/morph field rules, labels, and the round trip
 * from_json(to_json(s)) == s for a spread of specs. A failed read leaves the spec untouched.
 */
#include "test_util.h"

#include <math.h>
#include <string.h>

#include "jobs/job.h"

static md_limits lim;

/* Reads text onto a fresh spec; returns the rc and leaves the spec in *s (caller frees). */
static int read_spec(const char *text, job_spec *s, md_error *err)
{
    job_spec_init(s);
    md_error_clear(err);
    json_error_t jerr;
    json_t *obj = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (obj == NULL) {
        fprintf(stderr, "bad test JSON %s: %s\n", text, jerr.text);
        exit(1);
    }
    int rc = job_spec_from_json(s, obj, &lim, err);
    json_decref(obj);
    return rc;
}

/* text must be refused with EINVAL and a message containing needle. */
static void expect_error_at(const char *text, const char *needle, int line)
{
    job_spec s;
    md_error err;
    int rc = read_spec(text, &s, &err);
    if (rc != MD_EINVAL || strstr(err.msg, needle) == NULL) {
        fprintf(stderr, "%s:%d: %s: expected EINVAL '%s', got %s '%s'\n", __FILE__, line, text,
                needle, md_err_name(rc), err.msg);
        test_failures++;
    }
    job_spec_free(&s);
}
#define EXPECT_ERROR(text, needle) expect_error_at((text), (needle), __LINE__)

/* to_json, then from_json of that onto a fresh spec, then to_json again: the two JSONs and the
 * specs' scalar fields must agree. */
static void check_round_trip_at(const job_spec *s, int line)
{
    json_t *j1 = job_spec_to_json(s);
    CHECK(j1 != NULL);
    if (j1 == NULL)
        return;
    job_spec back;
    job_spec_init(&back);
    md_error err;
    md_error_clear(&err);
    int rc = job_spec_from_json(&back, j1, &lim, &err);
    if (rc != 0) {
        char *text = json_dumps(j1, JSON_COMPACT);
        fprintf(stderr, "%s:%d: reading back %s failed: %s\n", __FILE__, line, text, err.msg);
        free(text);
        test_failures++;
    }
    json_t *j2 = job_spec_to_json(&back);
    if (!json_equal(j1, j2)) {
        char *a = json_dumps(j1, JSON_COMPACT), *b = json_dumps(j2, JSON_COMPACT);
        fprintf(stderr, "%s:%d: round trip differs:\n  %s\n  %s\n", __FILE__, line, a, b);
        free(a);
        free(b);
        test_failures++;
    }
    CHECK_INT(s->kind, back.kind);
    CHECK_INT(job_spec_frame_total(s), job_spec_frame_total(&back));
    CHECK_INT(s->weights_given, back.weights_given);
    if (s->weights_given && back.weights_given && s->weight_count == back.weight_count)
        CHECK(memcmp(s->weights, back.weights, s->weight_count * sizeof(float)) == 0);
    CHECK_NEAR(s->range_from, back.range_from, 0);
    CHECK_NEAR(s->range_to, back.range_to, 0);
    CHECK_INT(s->easing, back.easing);
    const float *lists[2][2] = {{s->shape_weights, back.shape_weights},
                                {s->texture_weights, back.texture_weights}};
    const uint32_t counts[2][2] = {{s->shape_weight_count, back.shape_weight_count},
                                   {s->texture_weight_count, back.texture_weight_count}};
    for (int k = 0; k < 2; k++) {
        CHECK_INT(lists[k][0] != NULL, lists[k][1] != NULL);
        CHECK_INT(counts[k][0], counts[k][1]);
        if (lists[k][0] != NULL && lists[k][1] != NULL && counts[k][0] == counts[k][1])
            CHECK(memcmp(lists[k][0], lists[k][1], counts[k][0] * sizeof(float)) == 0);
    }
    CHECK_INT(s->frame_on, back.frame_on);
    CHECK(strcmp(s->frame_on_name, back.frame_on_name) == 0);
    CHECK(memcmp(s->frame_on_min, back.frame_on_min, sizeof s->frame_on_min) == 0);
    CHECK(memcmp(s->frame_on_max, back.frame_on_max, sizeof s->frame_on_max) == 0);
    CHECK_INT(s->width, back.width);
    CHECK_INT(s->kind == JOB_KIND_RENDER ? JOB_OUT_FRAMES : s->outputs, back.outputs);
    if (s->kind == JOB_KIND_MORPH) {
        CHECK_INT(s->align, back.align);
        CHECK_INT(s->mesh_format, back.mesh_format);
        CHECK_INT(s->fps, back.fps);
        CHECK_INT(s->loop, back.loop);
        CHECK_INT(s->shape_scale.fixed, back.shape_scale.fixed);
        CHECK(s->shape_scale.min == back.shape_scale.min);
        CHECK(s->shape_scale.max == back.shape_scale.max);
        CHECK_INT(s->texture_scale.fixed, back.texture_scale.fixed);
        CHECK(s->texture_scale.min == back.texture_scale.min);
        CHECK(s->texture_scale.max == back.texture_scale.max);
    }
    CHECK_INT(s->height, back.height);
    CHECK_INT(s->samples, back.samples);
    CHECK(memcmp(&s->camera, &back.camera, sizeof s->camera) == 0);
    CHECK_INT(s->camera_mode, back.camera_mode);
    CHECK_INT(s->ortho_auto, back.ortho_auto);
    CHECK(memcmp(s->background, back.background, 3) == 0);
    CHECK_INT(s->png_level, back.png_level);
    CHECK(strcmp(s->label, back.label) == 0);
    CHECK_STR(s->target_morph, back.target_morph);
    CHECK_INT(s->hide_count, back.hide_count);
    for (uint32_t i = 0; i < s->hide_count && i < back.hide_count; i++)
        CHECK_STR(s->hide_materials[i], back.hide_materials[i]);
    CHECK_INT(job_spec_view_count(s), job_spec_view_count(&back));
    if (s->kind == JOB_KIND_RENDER) {
        CHECK_INT(s->views_mode, back.views_mode);
        CHECK_NEAR(s->turntable_elevation_deg, back.turntable_elevation_deg, 0);
        for (uint32_t i = 0;
             s->views_mode == JOB_VIEWS_CAMERAS && i < s->view_count && i < back.view_count; i++)
            CHECK(memcmp(&s->views[i], &back.views[i], sizeof s->views[i]) == 0);
    }
    json_decref(j1);
    json_decref(j2);
    job_spec_free(&back);
}
#define CHECK_ROUND_TRIP(s) check_round_trip_at((s), __LINE__)

static void round_trip_text_at(const char *text, int line)
{
    job_spec s;
    md_error err;
    int rc = read_spec(text, &s, &err);
    if (rc != 0) {
        fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, line, text, err.msg);
        test_failures++;
    } else {
        check_round_trip_at(&s, line);
    }
    job_spec_free(&s);
}
#define ROUND_TRIP_TEXT(text) round_trip_text_at((text), __LINE__)

static void test_defaults(void)
{
    job_spec s;
    job_spec_init(&s);
    json_t *j = job_spec_to_json(&s);
    json_error_t jerr;
    json_t *want =
        json_loads("{\"kind\":\"morph\",\"frames\":41,\"range\":[0.0,1.0],\"easing\":\"linear\","
                   "\"shape_weights\":null,\"texture_weights\":null,\"width\":512,\"height\":512,"
                   "\"samples\":4,"
                   "\"camera\":{\"eye\":\"auto\",\"target\":\"auto\",\"up\":\"auto\",\"fov\":30.0,"
                   "\"near\":\"auto\",\"far\":\"auto\",\"ortho\":null},\"background\":\"ffffff\","
                   "\"png_level\":1,\"label\":\"\",\"outputs\":[\"frames\",\"heatmaps\"],"
                   "\"align\":\"none\",\"shape_scale\":\"auto\",\"texture_scale\":\"auto\","
                   "\"mesh_format\":\"obj\","
                   "\"fps\":30,\"loop\":\"once\",\"frame_on\":null}",
                   0, &jerr);
    CHECK(want != NULL);
    if (!json_equal(j, want)) {
        char *text = json_dumps(j, JSON_COMPACT);
        fprintf(stderr, "defaults written as %s\n", text);
        free(text);
        test_failures++;
    }
    json_decref(want);
    json_decref(j);
    CHECK_ROUND_TRIP(&s);

    /* An empty object changes nothing. */
    md_error err;
    CHECK_OK(read_spec("{}", &s, &err), &err);
    CHECK_INT(41, s.frame_count);
    CHECK_INT(JOB_KIND_MORPH, s.kind);
    CHECK_INT(JOB_CAMERA_AUTO, s.camera_mode);
    job_spec_free(&s);
}

static void test_fields(void)
{
    job_spec s;
    md_error err;
    CHECK_OK(read_spec("{\"kind\":\"morph\",\"frames\":5,\"width\":640,\"height\":480,"
                       "\"samples\":9,\"background\":\"#102030\",\"png_level\":6,"
                       "\"label\":\"caf\\u00e9 \\u2603 run\"}",
                       &s, &err),
             &err);
    CHECK_INT(5, s.frame_count);
    CHECK_INT(640, s.width);
    CHECK_INT(480, s.height);
    CHECK_INT(9, s.samples);
    CHECK_INT(0x10, s.background[0]);
    CHECK_INT(0x20, s.background[1]);
    CHECK_INT(0x30, s.background[2]);
    CHECK_INT(6, s.png_level);
    CHECK(strcmp(s.label, "caf\xc3\xa9 \xe2\x98\x83 run") == 0);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK_NEAR(0.25, job_spec_weight(&s, 1), 1e-7);
    CHECK_ROUND_TRIP(&s); /* finalized weights are still "frames": 5 */
    job_spec_free(&s);

    CHECK_OK(read_spec("{\"weights\":[0,0.25,1]}", &s, &err), &err);
    CHECK_INT(3, job_spec_frame_total(&s));
    CHECK_NEAR(0.25, job_spec_weight(&s, 1), 0);
    CHECK(s.weights_given);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);

    CHECK_OK(read_spec("{\"background\":\"A0b1C2\"}", &s, &err), &err);
    CHECK_INT(0xa0, s.background[0]);
    CHECK_INT(0xc2, s.background[2]);
    job_spec_free(&s);

    /* Cameras: explicit with fitted clip, explicit with clip, ortho auto and numeric. */
    CHECK_OK(read_spec("{\"camera\":{\"eye\":[0,0.5,5],\"target\":[0,0.5,0],\"up\":[0,1,0],"
                       "\"fov\":20}}",
                       &s, &err),
             &err);
    CHECK_INT(JOB_CAMERA_EXPLICIT, s.camera_mode);
    CHECK_NEAR(5, s.camera.eye[2], 0);
    CHECK_NEAR(0.5, s.camera.target[1], 0);
    CHECK_NEAR(20, s.camera.fov_y_deg, 0);
    CHECK_NEAR(0.01, s.camera.z_near, 1e-9);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);

    CHECK_OK(
        read_spec("{\"camera\":{\"eye\":[1,2,3],\"near\":0.5,\"far\":50,\"ortho\":2.5}}", &s, &err),
        &err);
    CHECK_NEAR(0.5, s.camera.z_near, 0);
    CHECK_NEAR(50, s.camera.z_far, 0);
    CHECK(s.camera.orthographic && !s.ortho_auto);
    CHECK_NEAR(2.5, s.camera.ortho_height, 0);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);

    CHECK_OK(read_spec("{\"camera\":{\"ortho\":\"auto\",\"fov\":45}}", &s, &err), &err);
    CHECK_INT(JOB_CAMERA_AUTO, s.camera_mode);
    CHECK(s.camera.orthographic && s.ortho_auto);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);

    ROUND_TRIP_TEXT("{\"camera\":{\"ortho\":1.25}}");
    ROUND_TRIP_TEXT("{\"camera\":{\"eye\":[0,0,4],\"ortho\":\"auto\"}}");
    ROUND_TRIP_TEXT("{\"camera\":{\"eye\":\"auto\",\"target\":\"auto\",\"near\":\"auto\"}}");
    ROUND_TRIP_TEXT("{\"weights\":[0.1,0.123456789,0.999],\"label\":\"x\"}");
    ROUND_TRIP_TEXT("{\"frames\":1,\"png_level\":0,\"background\":\"000000\"}");
}

/* Weights from -3 to 3, range, easing, shape and texture weights: read, written, refused. */
static void test_frame_list(void)
{
    job_spec s;
    md_error err;
    CHECK_OK(read_spec("{\"weights\":[-0.5,1.5,3,-3]}", &s, &err), &err);
    CHECK_INT(4, job_spec_frame_total(&s));
    CHECK_NEAR(-0.5, job_spec_weight(&s, 0), 0);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);

    CHECK_OK(read_spec("{\"frames\":5,\"range\":[-1,2],\"easing\":\"smoothstep\"}", &s, &err),
             &err);
    CHECK_NEAR(-1.0, s.range_from, 0);
    CHECK_NEAR(2.0, s.range_to, 0);
    CHECK_INT(JOB_EASING_SMOOTHSTEP, s.easing);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK_NEAR(-1.0 + 3 * 0.15625, job_spec_weight(&s, 1), 1e-7);
    CHECK_NEAR(0.5, job_spec_weight(&s, 2), 1e-7);
    CHECK_ROUND_TRIP(&s);
    json_t *j = job_spec_to_json(&s);
    char *text = json_dumps(json_object_get(j, "range"), JSON_COMPACT);
    CHECK(text != NULL && strcmp(text, "[-1.0,2.0]") == 0);
    free(text);
    CHECK(strcmp(json_string_value(json_object_get(j, "easing")), "smoothstep") == 0);
    json_decref(j);
    job_spec_free(&s);

    CHECK_OK(read_spec("{\"frames\":3,\"shape_weights\":[0,0,0],\"texture_weights\":[0,1,1.5]}", &s,
                       &err),
             &err);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK_NEAR(0.0, job_spec_shape_weights(&s)[1], 0);
    CHECK_NEAR(1.5, job_spec_texture_weights(&s)[2], 0);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"weights\":[0.5,1],\"shape_weights\":null,\"texture_weights\":[1,1]}", &s,
                       &err),
             &err);
    CHECK(s.shape_weights == NULL && s.texture_weights != NULL);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
    ROUND_TRIP_TEXT("{\"frames\":9,\"range\":[1.5,-0.5],\"easing\":\"sine\","
                    "\"texture_weights\":[0,0,0,0,0,0,0,0,-3]}");

    EXPECT_ERROR("{\"range\":[0,4]}",
                 "spec.range: must be [from, to], two weights from -3 to 3 ([0, 1] goes from the "
                 "source to the target, [-1, 2] from an anti-face to a caricature), got [0,4]");
    EXPECT_ERROR("{\"range\":\"0:1\"}", "spec.range: must be [from, to]");
    EXPECT_ERROR("{\"range\":[0]}", "spec.range: must be [from, to]");
    EXPECT_ERROR("{\"easing\":\"cubic\"}",
                 "spec.easing: must be \"linear\", \"smoothstep\" or \"sine\", got \"cubic\"");
    EXPECT_ERROR(
        "{\"weights\":[0,1],\"easing\":\"sine\"}",
        "spec.easing: spreads the frames of \"frames\"; explicit weights are used as given");
    EXPECT_ERROR("{\"weights\":[0,1],\"range\":[0,2]}", "spec.range: spreads the frames");
    EXPECT_ERROR("{\"frames\":3,\"shape_weights\":[0,1]}",
                 "spec.shape_weights: must hold one weight per frame: 3 frames, got 2 weights");
    EXPECT_ERROR("{\"shape_weights\":[0,1]}",
                 "spec.shape_weights: must hold one weight per frame: 41 frames, got 2 weights");
    EXPECT_ERROR("{\"weights\":[0,1],\"texture_weights\":[0,-3.5]}",
                 "spec.texture_weights[1]: must be a number from -3 to 3 (the target's share of "
                 "the texture), got -3.5");
    EXPECT_ERROR("{\"texture_weights\":\"1,2\"}", "spec.texture_weights: must be an array");
    EXPECT_ERROR("{\"kind\":\"render\",\"easing\":\"sine\"}",
                 "spec.easing: only morph jobs have it");
    EXPECT_ERROR("{\"kind\":\"render\",\"texture_weights\":[0]}",
                 "spec.texture_weights: only morph jobs have it");
}

/* frame_on: the reference's bounds, read, written, refused. */
static void test_frame_on(void)
{
    job_spec s;
    md_error err;
    CHECK_OK(read_spec("{\"frame_on\":{\"name\":\"avg face\",\"min\":[-1,-2.5,-0.1],"
                       "\"max\":[1,2.5,0.123456789]}}",
                       &s, &err),
             &err);
    CHECK_INT(1, s.frame_on);
    CHECK(strcmp(s.frame_on_name, "avg_face") == 0);
    CHECK_NEAR(-2.5, s.frame_on_min[1], 0);
    CHECK_NEAR(0.123456789f, s.frame_on_max[2], 0);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
    ROUND_TRIP_TEXT("{\"frame_on\":null}");
    EXPECT_ERROR("{\"frame_on\":\"avg.obj\"}",
                 "spec.frame_on: must be null or {\"name\": \"...\", \"min\": [x, y, z], \"max\": "
                 "[x, y, z]} (or send the reference mesh as part 'frame_on'), got \"avg.obj\"");
    EXPECT_ERROR("{\"frame_on\":{\"min\":[0,0],\"max\":[1,1,1]}}",
                 "spec.frame_on.min: must be [x, y, z] (finite numbers), got [0,0]");
    EXPECT_ERROR("{\"frame_on\":{\"min\":[0,0,2],\"max\":[1,1,1]}}",
                 "spec.frame_on: must have min <= max in every coordinate");
    EXPECT_ERROR("{\"frame_on\":{\"min\":[0,0,0],\"max\":[1,1,1],\"centre\":1}}",
                 "spec.frame_on: unknown field \"centre\"");
    EXPECT_ERROR("{\"kind\":\"render\",\"frame_on\":null}", "spec.frame_on: only morph jobs");
}

static void test_render(void)
{
    job_spec s;
    md_error err;
    /* No views: one, the job's camera. */
    CHECK_OK(read_spec("{\"kind\":\"render\"}", &s, &err), &err);
    CHECK_INT(JOB_KIND_RENDER, s.kind);
    CHECK_INT(1, job_spec_view_count(&s));
    CHECK_INT(JOB_VIEWS_CAMERAS, s.views_mode);
    CHECK_INT(JOB_CAMERA_AUTO, s.views[0].camera_mode);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);

    CHECK_OK(read_spec("{\"kind\":\"render\",\"views\":{\"turntable\":{\"count\":36,"
                       "\"elevation\":10}},\"camera\":{\"fov\":25}}",
                       &s, &err),
             &err);
    CHECK_INT(36, job_spec_view_count(&s));
    CHECK_INT(JOB_VIEWS_TURNTABLE, s.views_mode);
    CHECK_NEAR(10, s.turntable_elevation_deg, 0);
    CHECK_NEAR(25, s.camera.fov_y_deg, 0);
    CHECK_ROUND_TRIP(&s);
    json_t *j = job_spec_to_json(&s);
    CHECK(json_object_get(j, "frames") == NULL && json_object_get(j, "weights") == NULL);
    CHECK_INT(36, json_integer_value(json_object_get(
                      json_object_get(json_object_get(j, "views"), "turntable"), "count")));
    json_decref(j);
    job_spec_free(&s);

    /* Turntable defaults: 36 views at elevation 0. */
    CHECK_OK(read_spec("{\"kind\":\"render\",\"views\":{\"turntable\":{}}}", &s, &err), &err);
    CHECK_INT(36, job_spec_view_count(&s));
    job_spec_free(&s);

    /* A list of cameras: each starts from the job's camera (fov 15 here). */
    CHECK_OK(read_spec("{\"kind\":\"render\",\"camera\":{\"fov\":15},\"views\":["
                       "{\"eye\":[0,0,5]},{\"eye\":[5,0,0],\"up\":[0,1,0]},{},"
                       "{\"ortho\":\"auto\"}]}",
                       &s, &err),
             &err);
    CHECK_INT(4, job_spec_view_count(&s));
    CHECK_INT(JOB_CAMERA_EXPLICIT, s.views[0].camera_mode);
    CHECK_NEAR(15, s.views[1].camera.fov_y_deg, 0);
    CHECK_NEAR(5, s.views[1].camera.eye[0], 0);
    CHECK_INT(JOB_CAMERA_AUTO, s.views[2].camera_mode);
    CHECK(s.views[3].ortho_auto);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);

    /* An explicit job camera with no views becomes the one view; with a list it is the base. */
    ROUND_TRIP_TEXT("{\"kind\":\"render\",\"camera\":{\"eye\":[0,0,3],\"near\":1,\"far\":9}}");
    ROUND_TRIP_TEXT("{\"kind\":\"render\",\"camera\":{\"eye\":[0,0,3]},\"views\":[{\"fov\":10},"
                    "{\"eye\":\"auto\"}]}");
    ROUND_TRIP_TEXT("{\"kind\":\"render\",\"views\":{\"turntable\":{\"count\":1,"
                    "\"elevation\":-89.5}},\"label\":\"turn\"}");

    /* A spec made in code (job_spec_init's turntable of one) round-trips too. */
    job_spec_init(&s);
    s.kind = JOB_KIND_RENDER;
    CHECK_INT(1, job_spec_view_count(&s));
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
}

static void test_errors(void)
{
    EXPECT_ERROR("[1]", "spec: must be a JSON object, got [1]");
    EXPECT_ERROR("{\"colour\":1}", "spec: unknown field \"colour\" (known: kind, frames,");
    EXPECT_ERROR("{\"colour\":1,\"speed\":2,\"width\":10}", "unknown fields \"colour\", \"speed\"");
    EXPECT_ERROR(
        "{\"kind\":\"morf\"}",
        "spec.kind: must be \"morph\", \"render\", \"transform\" or \"average\", got \"morf\"");
    EXPECT_ERROR("{\"kind\":1}", "spec.kind: must be");
    EXPECT_ERROR("{\"frames\":0}", "spec.frames: must be an integer from 1 to 10000, got 0");
    EXPECT_ERROR("{\"frames\":10001}",
                 "spec.frames: must be an integer from 1 to 10000, got 10001");
    EXPECT_ERROR("{\"frames\":4.0}", "spec.frames: must be an integer");
    EXPECT_ERROR("{\"frames\":\"4\"}",
                 "spec.frames: must be an integer from 1 to 10000, got \"4\"");
    EXPECT_ERROR("{\"frames\":3,\"weights\":[0,1]}",
                 "spec.weights: give either frames (evenly spaced) or weights, not both");
    EXPECT_ERROR("{\"weights\":[]}", "spec.weights: must hold 1 to 10000 weights, got 0");
    EXPECT_ERROR("{\"weights\":0.5}", "spec.weights: must be an array");
    EXPECT_ERROR("{\"weights\":[0,3.5]}", "spec.weights[1]: must be a number from -3 to 3");
    EXPECT_ERROR("{\"weights\":[0,\"a\"]}",
                 "spec.weights[1]: must be a number from -3 to 3 (the share of the target: 0 the "
                 "source, 1 the target, below 0 an anti-face, above 1 a caricature), got \"a\"");
    EXPECT_ERROR("{\"width\":9000}",
                 "spec.width: must be an integer from 1 to 8192 pixels, got 9000");
    EXPECT_ERROR("{\"height\":0}", "spec.height: must be an integer from 1 to 8192 pixels, got 0");
    EXPECT_ERROR("{\"height\":null}", "spec.height: must be an integer");
    EXPECT_ERROR("{\"samples\":3}", "spec.samples: must be a square number");
    EXPECT_ERROR("{\"samples\":81}", "no larger than 64, got 81");
    EXPECT_ERROR("{\"png_level\":10}", "spec.png_level: must be an integer zlib level from 0 to 9");
    EXPECT_ERROR("{\"background\":\"fff\"}",
                 "spec.background: must be a colour \"rrggbb\" or \"#rrggbb\" in hex, got \"fff\"");
    EXPECT_ERROR("{\"background\":16777215}", "spec.background: must be a colour");
    EXPECT_ERROR("{\"label\":5}", "spec.label: must be a string, got 5");
    EXPECT_ERROR("{\"label\":\"a\\u0000b\"}", "spec.label: must be UTF-8 text without NUL");
    char long_label[300];
    snprintf(long_label, sizeof long_label, "{\"label\":\"%0201d\"}", 0);
    EXPECT_ERROR(long_label, "spec.label: 201 bytes, more than the 200 allowed");

    EXPECT_ERROR("{\"camera\":[0,0,1]}", "spec.camera: must be a camera object");
    EXPECT_ERROR("{\"camera\":{\"eyes\":[0,0,1]}}", "spec.camera: unknown field \"eyes\" (known: "
                                                    "eye, target, up, fov, near, far, ortho)");
    EXPECT_ERROR("{\"camera\":{\"eye\":[0,0]}}",
                 "spec.camera.eye: must be [x, y, z] (finite numbers) or \"auto\", got [0,0]");
    EXPECT_ERROR("{\"camera\":{\"eye\":[0,0,1e39]}}", "spec.camera.eye: must be [x, y, z]");
    EXPECT_ERROR("{\"camera\":{\"target\":[0,0,1]}}", "spec.camera.target: needs an explicit eye");
    EXPECT_ERROR("{\"camera\":{\"up\":[1,0,0]}}", "spec.camera.up: needs an explicit eye");
    EXPECT_ERROR("{\"camera\":{\"eye\":[0,0,1],\"up\":\"auto\"}}",
                 "spec.camera.up: cannot be \"auto\" with an explicit eye");
    EXPECT_ERROR("{\"camera\":{\"fov\":180}}", "spec.camera.fov: must be a number of degrees");
    EXPECT_ERROR("{\"camera\":{\"near\":1}}", "spec.camera.near: needs an explicit eye");
    EXPECT_ERROR("{\"camera\":{\"eye\":[0,0,1],\"far\":-1}}",
                 "spec.camera.far: must be a positive distance or \"auto\", got -1");
    EXPECT_ERROR("{\"camera\":{\"eye\":[0,0,1],\"near\":5,\"far\":2}}",
                 "spec.camera: near 5 and far 2 must satisfy 0 < near < far");
    EXPECT_ERROR("{\"camera\":{\"eye\":[0,0,0]}}",
                 "spec.camera: eye and target are the same point");
    EXPECT_ERROR("{\"camera\":{\"eye\":[0,5,0]}}", "spec.camera: up (0, 1, 0) is parallel");
    EXPECT_ERROR("{\"camera\":{\"ortho\":0}}",
                 "spec.camera.ortho: must be a positive view height, \"auto\", or null");
    EXPECT_ERROR("{\"camera\":{\"ortho\":\"yes\"}}", "spec.camera.ortho: must be");

    EXPECT_ERROR("{\"views\":{\"turntable\":{}}}",
                 "spec.views: only render jobs (\"kind\": \"render\") have views");
    EXPECT_ERROR("{\"kind\":\"render\",\"frames\":3}", "spec.frames: only morph jobs have frames");
    EXPECT_ERROR("{\"kind\":\"render\",\"weights\":[0]}", "spec.weights: only morph jobs");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":5}", "spec.views: must be {\"turntable\"");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":[]}",
                 "spec.views: must hold 1 to 360 cameras, got 0");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":{\"spin\":{}}}",
                 "spec.views: unknown field \"spin\" (known: turntable)");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":{}}",
                 "spec.views: must be {\"turntable\": {...}}");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":{\"turntable\":{\"count\":361}}}",
                 "spec.views.turntable.count: must be an integer from 1 to 360, got 361");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":{\"turntable\":{\"count\":0}}}",
                 "spec.views.turntable.count");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":{\"turntable\":{\"elevation\":90}}}",
                 "spec.views.turntable.elevation: must be a number of degrees between -90 and 90 "
                 "(exclusive), got 90");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":{\"turntable\":{\"tilt\":3}}}",
                 "spec.views.turntable: unknown field \"tilt\"");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":{\"turntable\":[]}}",
                 "spec.views.turntable: must be an object");
    EXPECT_ERROR("{\"kind\":\"render\",\"camera\":{\"eye\":[0,0,3]},"
                 "\"views\":{\"turntable\":{}}}",
                 "spec.camera.eye: a turntable places the eye itself");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":[{\"eye\":[0,0,1]},{\"fov\":-1}]}",
                 "spec.views[1].fov: must be a number of degrees");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":[{},{\"look\":1}]}",
                 "spec.views[1]: unknown field \"look\"");
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":[{},7]}",
                 "spec.views[1]: must be a camera object");

    /* The views limit comes from md_limits. */
    md_limits saved = lim;
    lim.max_views = 2;
    EXPECT_ERROR("{\"kind\":\"render\",\"views\":[{},{},{}]}",
                 "spec.views: must hold 1 to 2 cameras, got 3");
    lim.max_frames = 4;
    lim.max_image_side = 100;
    EXPECT_ERROR("{\"frames\":5}", "from 1 to 4, got 5");
    EXPECT_ERROR("{\"width\":101}", "from 1 to 100 pixels, got 101");
    lim = saved;

    /* A failed read leaves the spec as it was. */
    job_spec s;
    md_error err;
    CHECK_OK(read_spec("{\"weights\":[0,1],\"label\":\"keep\"}", &s, &err), &err);
    json_error_t jerr;
    json_t *bad_obj = json_loads("{\"frames\":2,\"label\":\"new\",\"width\":0}", 0, &jerr);
    CHECK_INT(MD_EINVAL, job_spec_from_json(&s, bad_obj, &lim, &err));
    CHECK_MSG(&err, "spec.width");
    CHECK(strcmp(s.label, "keep") == 0);
    CHECK_INT(2, s.weight_count);
    CHECK(s.weights_given);
    json_decref(bad_obj);
    job_spec_free(&s);
}

/* The CLI setters and the JSON reader agree on the limits. */
/* outputs and the analysis options: parsing, normalising, round trips, errors. */
static void test_outputs(void)
{
    job_spec s;
    md_error err;
    CHECK_OK(read_spec("{}", &s, &err), &err);
    CHECK_INT(JOB_OUTPUTS_MINIMAL, s.outputs);
    CHECK_INT(30, s.fps);
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"outputs\":\"all\"}", &s, &err), &err);
    CHECK_INT(JOB_OUTPUTS_ALL, s.outputs);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"outputs\":\"full\"}", &s, &err), &err);
    CHECK_INT(JOB_OUTPUTS_ALL, s.outputs);
    job_spec_free(&s);
    /* Frames are always there; the written form is the array in canonical order. */
    CHECK_OK(read_spec("{\"outputs\":[\"video\",\"csv\"]}", &s, &err), &err);
    CHECK_INT(JOB_OUT_FRAMES | JOB_OUT_CSV | JOB_OUT_VIDEO, s.outputs);
    json_t *j = job_spec_to_json(&s);
    char *text = json_dumps(json_object_get(j, "outputs"), JSON_COMPACT);
    CHECK(text != NULL && strcmp(text, "[\"frames\",\"csv\",\"video\"]") == 0);
    free(text);
    json_decref(j);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
    ROUND_TRIP_TEXT("{\"outputs\":\"minimal\",\"align\":\"similarity\",\"shape_scale\":"
                    "\"-2:2.5\",\"texture_scale\":\"0:12.5\",\"mesh_format\":\"glb\",\"fps\":120,"
                    "\"loop\":\"pingpong\"}");
    /* Each scale lands in its own field, and heatmap_scale is the shorthand for shape_scale. */
    CHECK_OK(read_spec("{\"shape_scale\":\"-2:2\",\"texture_scale\":\"0:30\"}", &s, &err), &err);
    CHECK(s.shape_scale.fixed && s.texture_scale.fixed);
    CHECK_NEAR(2.0, s.shape_scale.max, 0);
    CHECK_NEAR(30.0, s.texture_scale.max, 0);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"heatmap_scale\":\"-3:3\"}", &s, &err), &err);
    CHECK(s.shape_scale.fixed);
    CHECK_NEAR(3.0, s.shape_scale.max, 0);
    CHECK_INT(0, s.texture_scale.fixed);
    j = job_spec_to_json(&s);
    CHECK(json_object_get(j, "heatmap_scale") == NULL);
    CHECK(json_is_string(json_object_get(j, "shape_scale")) &&
          strcmp(json_string_value(json_object_get(j, "shape_scale")), "-3:3") == 0);
    json_decref(j);
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"align\":\"rigid\",\"shape_scale\":\"0:1.5e-3\",\"mesh_format\":"
                       "\"fbx\",\"fps\":1,\"loop\":\"pingpong\"}",
                       &s, &err),
             &err);
    CHECK_INT(ANA_ALIGN_RIGID, s.align);
    CHECK(s.shape_scale.fixed);
    CHECK_NEAR(1.5e-3, s.shape_scale.max, 1e-9);
    CHECK_INT(ANA_MESH_FBX, s.mesh_format);
    CHECK_INT(1, s.fps);
    CHECK_INT(ANA_VIDEO_PINGPONG, s.loop);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
    /* A render job: frames only, none of the analysis options. */
    CHECK_OK(read_spec("{\"kind\":\"render\",\"outputs\":[\"frames\"]}", &s, &err), &err);
    CHECK_INT(JOB_OUT_FRAMES, s.outputs);
    j = job_spec_to_json(&s);
    CHECK(json_object_get(j, "fps") == NULL && json_object_get(j, "align") == NULL);
    json_decref(j);
    job_spec_free(&s);

    EXPECT_ERROR("{\"outputs\":\"everything\"}", "spec.outputs: must be \"minimal\", \"all\"");
    EXPECT_ERROR("{\"outputs\":[\"frames\",\"gif\"]}",
                 "spec.outputs[1]: must be one of \"frames\", \"heatmaps\", \"csv\", "
                 "\"meshes\", \"video\", got \"gif\"");
    EXPECT_ERROR("{\"outputs\":[\"all\"]}", "spec.outputs[0]: must be one of");
    EXPECT_ERROR("{\"outputs\":3}", "spec.outputs: must be");
    EXPECT_ERROR("{\"kind\":\"render\",\"outputs\":\"all\"}",
                 "spec.outputs: a render job produces frames only");
    EXPECT_ERROR("{\"kind\":\"render\",\"fps\":10}", "spec.fps: only morph jobs have it");
    EXPECT_ERROR("{\"align\":\"affine\"}",
                 "spec.align: must be \"none\", \"rigid\" or \"similarity\", got \"affine\"");
    EXPECT_ERROR("{\"heatmap_scale\":\"2:1\"}", "spec.heatmap_scale: must be \"auto\" or");
    EXPECT_ERROR("{\"heatmap_scale\":[0,1]}", "spec.heatmap_scale: must be");
    EXPECT_ERROR(
        "{\"shape_scale\":\"1:1\"}",
        "spec.shape_scale: must be \"auto\" or \"MIN:MAX\" with MIN < MAX (e.g. \"-2:2\"), "
        "got \"1:1\"");
    EXPECT_ERROR("{\"texture_scale\":\"0:inf\"}", "spec.texture_scale: must be \"auto\" or");
    EXPECT_ERROR("{\"texture_scale\":5}", "spec.texture_scale: must be");
    EXPECT_ERROR("{\"shape_scale\":\"auto\",\"heatmap_scale\":\"auto\"}",
                 "spec.heatmap_scale: is the shorthand for shape_scale; give one of them");
    EXPECT_ERROR("{\"kind\":\"render\",\"texture_scale\":\"0:1\"}",
                 "spec.texture_scale: only morph jobs have it");
    EXPECT_ERROR("{\"mesh_format\":\"stl\"}", "spec.mesh_format: must be \"obj\", \"glb\"");
    EXPECT_ERROR("{\"fps\":0}", "spec.fps: must be an integer from 1 to 120, got 0");
    EXPECT_ERROR("{\"fps\":121}", "spec.fps: must be an integer from 1 to 120");
    EXPECT_ERROR("{\"fps\":30.5}", "spec.fps: must be an integer");
    EXPECT_ERROR("{\"loop\":\"bounce\"}", "spec.loop: must be \"once\" or \"pingpong\"");
}

static void test_shared_limits(void)
{
    job_spec s;
    md_error err;
    job_spec_init(&s);
    CHECK_OK(job_spec_set_samples(&s, "16", &lim, &err), &err);
    CHECK_INT(MD_EINVAL, job_spec_set_samples(&s, "8", &lim, &err));
    CHECK_OK(job_spec_set_weights(&s, "0,1", &lim, &err), &err);
    CHECK(s.weights_given);
    CHECK_OK(job_spec_set_frames(&s, "3", &lim, &err), &err);
    CHECK(!s.weights_given);
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"samples\":16}", &s, &err), &err);
    job_spec_free(&s);
    EXPECT_ERROR("{\"samples\":8}", "spec.samples");
}

/* One frame's memory (eng_frame_bytes) against max_frame_bytes: refused at parse time with
 * MD_EBUDGET and both figures; a budget raised with --limit lets the same spec through. */
static void test_frame_budget(void)
{
    CHECK_INT(512ull * 512 * 4 * 8 + 512ull * 512 * 3, eng_frame_bytes(512, 512, 4));
    CHECK_INT(0, eng_frame_bytes(0, 512, 4));
    job_spec s;
    md_error err;
    md_error_clear(&err);
    const char *big = "{\"width\":8192,\"height\":8192,\"samples\":64}";
    CHECK_INT(MD_EBUDGET, read_spec(big, &s, &err));
    CHECK_MSG(&err, "a 8192x8192 frame at 64 samples needs 32960.0 MiB");
    CHECK_MSG(&err, "budget of 4096.0 MiB");
    CHECK_MSG(&err, "max_frame_bytes");
    job_spec_free(&s);
    CHECK_INT(422, md_err_http_status(MD_EBUDGET));
    CHECK(strcmp(md_err_problem(MD_EBUDGET), "over-budget") == 0);
    md_limits saved = lim;
    CHECK_OK(md_limits_set(&lim, "max_frame_bytes=40G", &err), &err);
    CHECK_OK(read_spec(big, &s, &err), &err);
    job_spec_free(&s);
    lim = saved;
    /* A spec parsed under one budget is checked again under a smaller one. */
    CHECK_OK(read_spec("{\"width\":4096,\"height\":4096,\"samples\":16}", &s, &err), &err);
    CHECK_OK(md_limits_set(&lim, "max_frame_bytes=1G", &err), &err);
    CHECK_INT(MD_EBUDGET, job_spec_check_budget(&s, &lim, &err));
    CHECK_MSG(&err, "a 4096x4096 frame at 16 samples needs 2096.0 MiB");
    job_spec_free(&s);
    lim = saved;
}

/* The face-space kinds: amount/amounts and mesh_weights read, written back and refused where
 * they do not belong; the other kinds' fields refused for them. */
/* target_morph: a morph target of the source as the target (morph jobs only, capped). */
static void test_target_morph(void)
{
    job_spec s;
    md_error err;
    CHECK_OK(read_spec("{\"target_morph\":\"thin\",\"frames\":3}", &s, &err), &err);
    CHECK_STR("thin", s.target_morph);
    CHECK_ROUND_TRIP(&s);
    json_t *j = job_spec_to_json(&s);
    CHECK_STR("thin", json_string_value(json_object_get(j, "target_morph")));
    json_decref(j);
    job_spec_free(&s);
    ROUND_TRIP_TEXT("{\"target_morph\":\"0\"}");
    /* Unset (or null): not written, so specs without it read and write as before. */
    CHECK_OK(read_spec("{\"target_morph\":null}", &s, &err), &err);
    CHECK_STR("", s.target_morph);
    j = job_spec_to_json(&s);
    CHECK(json_object_get(j, "target_morph") == NULL);
    json_decref(j);
    job_spec_free(&s);
    char at_cap[JOB_TARGET_MORPH_MAX + 40];
    snprintf(at_cap, sizeof at_cap, "{\"target_morph\":\"%0*d\"}", JOB_TARGET_MORPH_MAX, 7);
    CHECK_OK(read_spec(at_cap, &s, &err), &err);
    CHECK_INT(JOB_TARGET_MORPH_MAX, (long long)strlen(s.target_morph));
    job_spec_free(&s);
    char over[JOB_TARGET_MORPH_MAX + 40];
    snprintf(over, sizeof over, "{\"target_morph\":\"%0*d\"}", JOB_TARGET_MORPH_MAX + 1, 7);
    EXPECT_ERROR(over, "spec.target_morph: 129 bytes; give 1 to 128");
    EXPECT_ERROR("{\"target_morph\":\"\"}", "spec.target_morph: 0 bytes; give 1 to 128");
    EXPECT_ERROR("{\"target_morph\":2}", "spec.target_morph: must be a string: a morph target's "
                                         "name or 0-based index, got 2");
    EXPECT_ERROR("{\"target_morph\":\"a\\u0000b\"}",
                 "spec.target_morph: must be UTF-8 text without NUL characters");
    EXPECT_ERROR("{\"kind\":\"render\",\"target_morph\":\"thin\"}",
                 "spec.target_morph: only morph jobs have it (a morph target of the source file "
                 "as the target), not render jobs");
    EXPECT_ERROR("{\"kind\":\"average\",\"target_morph\":\"thin\"}", "not average jobs");
}

/* hide_materials: material names to leave out (morph jobs only, capped, distinct). */
static void test_hide_materials(void)
{
    job_spec s;
    md_error err;
    CHECK_OK(read_spec("{\"hide_materials\":[\"M_EyeLashes\",\"M_EyeBlend\",\"M_EyeLashes\","
                       "\"Material name with  spaces, and a comma\"]}",
                       &s, &err),
             &err);
    CHECK_INT(3, s.hide_count); /* a repeated name counts once */
    CHECK_STR("M_EyeLashes", s.hide_materials[0]);
    CHECK_STR("M_EyeBlend", s.hide_materials[1]);
    CHECK_STR("Material name with  spaces, and a comma", s.hide_materials[2]);
    CHECK_ROUND_TRIP(&s);
    json_t *j = job_spec_to_json(&s);
    CHECK_INT(3, (long long)json_array_size(json_object_get(j, "hide_materials")));
    json_decref(j);
    job_spec_free(&s);
    /* Empty or null: not written, so specs without it read and write as before. */
    static const char *const none[] = {"{\"hide_materials\":null}", "{\"hide_materials\":[]}"};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(read_spec(none[i], &s, &err), &err);
        CHECK_INT(0, s.hide_count);
        j = job_spec_to_json(&s);
        CHECK(json_object_get(j, "hide_materials") == NULL);
        json_decref(j);
        job_spec_free(&s);
    }
    /* At the caps: 32 names, a 255-byte name. */
    char text[16384];
    size_t used = (size_t)snprintf(text, sizeof text, "{\"hide_materials\":[");
    for (int i = 0; i < JOB_HIDE_MATERIALS_MAX; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s\"%0*d\"", i ? "," : "",
                                 JOB_MATERIAL_NAME_MAX, i);
    snprintf(text + used, sizeof text - used, "]}");
    CHECK_OK(read_spec(text, &s, &err), &err);
    CHECK_INT(JOB_HIDE_MATERIALS_MAX, s.hide_count);
    CHECK_INT(JOB_MATERIAL_NAME_MAX, (long long)strlen(s.hide_materials[31]));
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
    snprintf(text + used, sizeof text - used, ",\"x\"]}");
    EXPECT_ERROR(text, "spec.hide_materials: 33 names; at most 32 are allowed");
    snprintf(text, sizeof text, "{\"hide_materials\":[\"%0*d\"]}", JOB_MATERIAL_NAME_MAX + 1, 0);
    EXPECT_ERROR(text, "spec.hide_materials[0]: a material name of 256 bytes; at most 255 are "
                       "allowed");
    EXPECT_ERROR("{\"hide_materials\":\"M_Face\"}",
                 "spec.hide_materials: must be a list of material names, got \"M_Face\"");
    EXPECT_ERROR("{\"hide_materials\":[\"a\",7]}",
                 "spec.hide_materials[1]: must be a string: a material's name, got 7");
    EXPECT_ERROR("{\"hide_materials\":[\"\"]}", "spec.hide_materials[0]: a material name is empty");
    EXPECT_ERROR("{\"hide_materials\":[\"a\\nb\"]}",
                 "spec.hide_materials[0]: a material name holds a control character (byte 1)");
    EXPECT_ERROR("{\"hide_materials\":[\"a\\u0000b\"]}",
                 "spec.hide_materials[0]: must be UTF-8 text without NUL characters");
    EXPECT_ERROR("{\"kind\":\"render\",\"hide_materials\":[\"a\"]}",
                 "spec.hide_materials: only morph jobs have it, not render jobs");

    /* The CLI's comma-separated form. */
    job_spec_init(&s);
    CHECK_OK(job_spec_set_hide_materials(&s, "M_EyeLashes,M_EyeBlend,M_EyeLashes", &err), &err);
    CHECK_INT(2, s.hide_count);
    CHECK_INT(MD_EINVAL, job_spec_set_hide_materials(&s, "M_Face,,M_Teeth", &err));
    CHECK_MSG(&err, "--hide-materials: a material name is empty");
    CHECK_INT(MD_EINVAL, job_spec_set_hide_materials(&s, "", &err));
    CHECK_MSG(&err, "--hide-materials: give material names, comma-separated");
    job_spec_free(&s);
}

static void test_face_kinds(void)
{
    job_spec s;
    md_error err;
    CHECK_OK(read_spec("{\"kind\":\"transform\",\"amount\":1.5}", &s, &err), &err);
    CHECK_INT(JOB_KIND_TRANSFORM, s.kind);
    CHECK_INT(1, s.amount_count);
    CHECK_INT(1, job_spec_frame_total(&s));
    if (s.amount_count == 1)
        CHECK_NEAR(1.5, s.amounts[0], 0);
    CHECK_ROUND_TRIP(&s);
    json_t *j = job_spec_to_json(&s);
    CHECK(json_object_get(j, "frames") == NULL && json_object_get(j, "outputs") == NULL);
    CHECK_INT(1, json_array_size(json_object_get(j, "amounts")));
    json_decref(j);
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"kind\":\"transform\",\"amounts\":[-0.5,0,2],\"width\":64,"
                       "\"frame_on\":{\"name\":\"ref\",\"min\":[0,0,0],\"max\":[1,1,1]}}",
                       &s, &err),
             &err);
    CHECK_INT(3, job_spec_frame_total(&s));
    CHECK_INT(1, s.frame_on);
    CHECK_ROUND_TRIP(&s);
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"kind\":\"average\",\"mesh_weights\":[1,3]}", &s, &err), &err);
    CHECK_INT(JOB_KIND_AVERAGE, s.kind);
    CHECK_INT(2, s.mesh_weight_count);
    CHECK_INT(1, job_spec_frame_total(&s));
    CHECK_ROUND_TRIP(&s);
    CHECK_OK(job_spec_check_mesh_count(&s, 2, &lim, &err), &err);
    CHECK_INT(MD_EINVAL, job_spec_check_mesh_count(&s, 3, &lim, &err));
    CHECK_MSG(&err, "spec.mesh_weights: 2 weight(s) for 3 meshes");
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"kind\":\"average\"}", &s, &err), &err);
    CHECK(s.mesh_weights == NULL);
    CHECK_ROUND_TRIP(&s);
    CHECK_INT(MD_EINVAL, job_spec_check_mesh_count(&s, 1, &lim, &err));
    CHECK_MSG(&err, "an average needs at least 2 meshes, got 1");
    job_spec_free(&s);
    CHECK_OK(read_spec("{\"kind\":\"average\",\"mesh_weights\":[0,0]}", &s, &err), &err);
    CHECK_INT(MD_EINVAL, job_spec_check_mesh_count(&s, 2, &lim, &err));
    CHECK_MSG(&err, "the weights sum to 0");
    job_spec_free(&s);

    EXPECT_ERROR("{\"kind\":\"transform\"}", "spec.amounts: a transform job needs amount");
    EXPECT_ERROR("{\"kind\":\"transform\",\"amount\":3.5}", "spec.amount: must be a number");
    EXPECT_ERROR("{\"kind\":\"transform\",\"amount\":1,\"amounts\":[1]}",
                 "give either amount or amounts");
    EXPECT_ERROR("{\"kind\":\"transform\",\"amounts\":[1,\"x\"]}", "spec.amounts[1]");
    EXPECT_ERROR("{\"kind\":\"transform\",\"amount\":1,\"weights\":[0,1]}",
                 "spec.weights: a transform job has none");
    EXPECT_ERROR("{\"kind\":\"average\",\"views\":[]}", "spec.views: an average job has none");
    EXPECT_ERROR("{\"kind\":\"average\",\"mesh_weights\":[1,-1]}",
                 "spec.mesh_weights[1]: must be a number, 0 or more");
    EXPECT_ERROR("{\"kind\":\"average\",\"mesh_weights\":[1]}", "an array of 2 to 64 numbers");
    EXPECT_ERROR("{\"kind\":\"average\",\"amount\":1}", "spec.amount: only transform jobs");
    EXPECT_ERROR("{\"amount\":1}", "spec.amount: only transform jobs");
    EXPECT_ERROR("{\"kind\":\"render\",\"mesh_weights\":[1,1]}",
                 "spec.mesh_weights: only average jobs");
    EXPECT_ERROR("{\"kind\":\"sculpt\"}", "\"transform\" or \"average\"");
}

int main(void)
{
    md_limits_default(&lim);
    test_face_kinds();
    test_target_morph();
    test_hide_materials();
    test_frame_budget();
    test_defaults();
    test_outputs();
    test_fields();
    test_render();
    test_frame_list();
    test_frame_on();
    test_errors();
    test_shared_limits();
    return test_done();
}
