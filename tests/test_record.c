/*
 * test_record.c — jobs/record.h, the job record, without Redis: field and status tables,
 * transitions, storage keys, the inputs field (round trip, sanitising untrusted names) and the
 * commands the scripts are sent with (key positions, arguments, limits). test_worker and the
 * integration tests run the scripts themselves against a real redis-server.
 */
#include "test_util.h"

#include <jansson.h>
#include <string.h>

#include "jobs/record.h"

static void test_tables(void)
{
    for (int f = 0; f < JR_F_COUNT; f++)
        CHECK_INT(f, jr_field_find(jr_field_name((jr_field)f)));
    CHECK_INT(-1, jr_field_find("nope"));
    CHECK(strcmp(jr_field_name(JR_F_STATUS), "status") == 0);
    for (int s = 0; s < JR_STATUS_COUNT; s++)
        CHECK_INT(s, jr_status_parse(jr_status_name((jr_status)s)));
    CHECK_INT(-1, jr_status_parse("done"));
    CHECK_INT(-1, jr_status_parse(NULL));
    CHECK(jr_status_name_terminal("canceled") && !jr_status_name_terminal("running"));
    CHECK(!jr_status_name_terminal(NULL));
    for (int s = 0; s < JR_STAGE_COUNT; s++)
        CHECK_INT(s, jr_stage_parse(jr_stage_name((jr_stage)s)));
    CHECK_INT(JR_KIND_RENDER, jr_kind_parse("render"));
    CHECK_INT(JR_KIND_MORPH, jr_kind_parse("other"));
    CHECK_INT(JR_KIND_MORPH, jr_kind_parse(NULL));
}

static void test_transitions(void)
{
    CHECK(jr_transition_allowed(JR_QUEUED, JR_RUNNING));
    CHECK(jr_transition_allowed(JR_QUEUED, JR_CANCELED));
    CHECK(jr_transition_allowed(JR_RUNNING, JR_QUEUED)); /* drain hand-back */
    CHECK(jr_transition_allowed(JR_RUNNING, JR_SUCCEEDED));
    CHECK(!jr_transition_allowed(JR_QUEUED, JR_SUCCEEDED));
    for (int to = 0; to < JR_STATUS_COUNT; to++) {
        CHECK(!jr_transition_allowed(JR_SUCCEEDED, (jr_status)to));
        CHECK(!jr_transition_allowed(JR_FAILED, (jr_status)to));
        CHECK(!jr_transition_allowed(JR_CANCELED, (jr_status)to));
    }
}

static void check_str(const char *expected, const char *got)
{
    if (strcmp(expected, got) != 0) {
        fprintf(stderr, "expected '%s', got '%s'\n", expected, got);
        test_failures++;
    }
}

static void test_keys(void)
{
    char k[64];
    const char *id = "0123456789abcdef0123456789abcdef";
    CHECK_INT(0, jr_key_job_prefix(k, sizeof k, id));
    check_str("jobs/0123456789abcdef0123456789abcdef/", k);
    CHECK_INT(0, jr_key_input(k, sizeof k, id, JR_IN_TARGET));
    check_str("jobs/0123456789abcdef0123456789abcdef/inputs/target.mdm", k);
    char big[256];
    CHECK_INT(0, jr_key_artifact(big, sizeof big, id, "frames/0000_a-1000_b-0000.png"));
    check_str("jobs/0123456789abcdef0123456789abcdef/frames/0000_a-1000_b-0000.png", big);
    CHECK_INT(0, jr_key_artifact(big, sizeof big, id, "manifest.json"));
    check_str("jobs/0123456789abcdef0123456789abcdef/manifest.json", big);
    CHECK_INT(MD_EINVAL, jr_key_artifact(k, sizeof k, id, "frames/0000_a-1000_b-0000.png"));
    CHECK_INT(0, jr_frame_artifact_name(k, sizeof k, "0001_x.png"));
    check_str("frames/0001_x.png", k);
    CHECK_INT(0, jr_job_key(big, sizeof big, "morphd:", id));
    check_str("morphd:job:0123456789abcdef0123456789abcdef", big);
}

static void test_inputs(void)
{
    jr_inputs in;
    memset(&in, 0, sizeof in);
    in.vertices = 9409;
    in.faces = 18432;
    in.textures = 2;
    in.present[JR_IN_SOURCE] = in.present[JR_IN_TARGET] = 1;
    snprintf(in.name[JR_IN_SOURCE], sizeof in.name[0], "ict_A");
    snprintf(in.format[JR_IN_SOURCE], sizeof in.format[0], "obj");
    snprintf(in.name[JR_IN_TARGET], sizeof in.name[0], "ict_B");
    snprintf(in.format[JR_IN_TARGET], sizeof in.format[0], "glb");
    snprintf(in.morph_target[JR_IN_TARGET], sizeof in.morph_target[0], "identity_B");
    snprintf(in.note[JR_IN_TARGET], sizeof in.note[0], "morph target 'identity_B' of ict_A");
    char *text = jr_inputs_to_json(&in);
    CHECK(text != NULL);
    jr_inputs back;
    md_error err;
    CHECK_OK(jr_inputs_from_json(text, &back, &err), &err);
    CHECK_INT(9409, back.vertices);
    CHECK_INT(18432, back.faces);
    CHECK_INT(2, back.textures);
    CHECK_INT(1, back.present[JR_IN_TARGET]);
    CHECK_INT(0, back.present[JR_IN_MESH]);
    check_str("ict_B", back.name[JR_IN_TARGET]);
    check_str("glb", back.format[JR_IN_TARGET]);
    check_str("mesh", back.name[JR_IN_MESH]); /* absent: its role */
    check_str("identity_B", back.morph_target[JR_IN_TARGET]);
    check_str("morph target 'identity_B' of ict_A", back.note[JR_IN_TARGET]);
    check_str("", back.note[JR_IN_SOURCE]); /* none: no key written, "" read back */
    const char *first_note = strstr(text, "\"note\"");
    CHECK(first_note != NULL && strstr(first_note + 1, "\"note\"") == NULL); /* the target's only */
    md_free(text);

    /* The hash is not trusted: a name with a path or odd bytes comes back sanitised. */
    CHECK_OK(
        jr_inputs_from_json("{\"source\":{\"name\":\"../x y\",\"format\":\"obj\"}}", &back, &err),
        &err);
    check_str(".._x_y", back.name[JR_IN_SOURCE]);
    CHECK_INT(MD_EPARSE, jr_inputs_from_json("[1]", &back, &err));
    CHECK_INT(MD_EPARSE, jr_inputs_from_json(NULL, &back, &err));
}

static int argv_has(const jr_cmd *c, const char *s)
{
    for (int i = 0; i < c->argc; i++)
        if (strcmp(c->argv[i], s) == 0)
            return 1;
    return 0;
}

static void test_commands(void)
{
    const char *id = "0123456789abcdef0123456789abcdef";
    jr_cmd c;
    jr_new_job job = {.id = id,
                      .kind = JR_KIND_RENDER,
                      .owner = "alice",
                      .spec_json = "{}",
                      .inputs_json = "{}",
                      .frames_total = 41,
                      .created_at = 1700000000.25,
                      .request_hash = "abc"};
    CHECK_INT(0, jr_cmd_submit(&c, "p:", &job, 100, 7, "k1"));
    check_str("EVAL", c.argv[0]);
    check_str("10", c.argv[2]);
    check_str("p:job:0123456789abcdef0123456789abcdef", c.argv[3]);
    check_str("p:jobs", c.argv[4]);
    check_str("p:owner:alice", c.argv[5]);
    check_str("p:idem:alice:k1", c.argv[7]);
    check_str("p:active", c.argv[8]);
    for (int i = 9; i <= 12; i++)
        check_str("", c.argv[i]);   /* no faces */
    check_str("alice", c.argv[20]); /* ARGV[8]: the owner, ARGV[9]: its cap */
    check_str("7", c.argv[21]);
    CHECK(argv_has(&c, "1700000000.250") && argv_has(&c, "41") && argv_has(&c, "render"));
    CHECK(argv_has(&c, "request_hash") && argv_has(&c, "abc"));
    CHECK(!argv_has(&c, "entry")); /* the script adds it */
    for (int i = 0; i < c.argc; i++)
        CHECK_INT(strlen(c.argv[i]), c.argvlen[i]);
    CHECK_INT(0, jr_cmd_submit(&c, "p:", &job, 100, 7, ""));
    check_str("", c.argv[7]);

    const char *f[JR_F_COUNT], *v[JR_F_COUNT];
    char total[16], created[32];
    size_t n = jr_new_job_pairs(&job, "1-0", total, created, f, v);
    jr_record rec;
    jr_record_from_pairs(&rec, f, v, n);
    check_str("queued", jr_get(&rec, JR_F_STATUS));
    check_str("1-0", jr_get(&rec, JR_F_ENTRY));
    check_str("41", jr_get(&rec, JR_F_FRAMES_TOTAL));
    CHECK(jr_get(&rec, JR_F_STARTED_AT) == NULL);

    /* ARGV ends: note when running, canceled_by, the transform and average counters. */
    CHECK_INT(0, jr_cmd_cancel(&c, "p:", id, "alice", 1700000000.0, 1));
    CHECK(strstr(c.argv[c.argc - 4], "canceled while running") != NULL);
    CHECK(strstr(c.argv[c.argc - 4], "by alice") != NULL);
    check_str("alice", c.argv[c.argc - 3]);
    CHECK(strstr(c.argv[c.argc - 2], "kind=\"transform\",status=\"canceled\"") != NULL);
    CHECK(strstr(c.argv[c.argc - 1], "kind=\"average\",status=\"canceled\"") != NULL);
    CHECK_INT(0, jr_cmd_cancel(&c, "p:", id, "anonymous", 1700000000.0, 0));
    CHECK(strstr(c.argv[c.argc - 4], " by ") == NULL);

    CHECK_INT(0, jr_cmd_start(&c, "p:", id, "1-0", 1.0, 2, 60, 3, 9));
    check_str("p:expiring", c.argv[6]);
    /* Every script that can end a job gets {p}active as its last key. */
    check_str("5", c.argv[2]);
    check_str("p:active", c.argv[7]);
    CHECK_INT(0, jr_cmd_begin(&c, "p:", id, "w1", 1));
    check_str("solo:w1", c.argv[c.argc - 1]);
    CHECK_INT(0, jr_cmd_begin(&c, "p:", id, "w1", 0));
    check_str("batch:w1", c.argv[c.argc - 1]);
    CHECK_INT(0, jr_cmd_finish(&c, "p:", id, "1-0", JR_SUCCEEDED, 2.0, "", "[]", 60, 41));
    CHECK(argv_has(&c, "succeeded"));
    check_str("4", c.argv[2]);
    check_str("p:active", c.argv[6]);
    CHECK_INT(0, jr_cmd_release(&c, "p:", id, "1-0", 2.0, 60));
    check_str("4", c.argv[2]);
    check_str("p:active", c.argv[6]);
    CHECK_INT(0, jr_cmd_dead(&c, "p:", id, "1-0", 3, "why", 2.0, 60, "error"));
    check_str("5", c.argv[2]);
    check_str("p:active", c.argv[7]);
    CHECK_INT(0, jr_cmd_cancel(&c, "p:", id, "alice", 2.0, 1));
    check_str("3", c.argv[2]);
    check_str("p:active", c.argv[5]);
    CHECK_INT(0, jr_cmd_delete(&c, "p:", id, "alice"));
    check_str("3", c.argv[2]);
    check_str("p:active", c.argv[5]);

    /* A prefix too long for the scratch space is refused, not truncated. */
    char huge[JR_SCRATCH];
    memset(huge, 'p', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    CHECK(jr_cmd_start(&c, huge, id, "1-0", 1.0, 2, 60, 3, 9) != 0);

    int scripts = 0;
    for (const char *const *s = jr_scripts(); *s != NULL; s++)
        scripts++;
    CHECK_INT(20, scripts);

    const char *ids[2] = {id, "fedcba9876543210fedcba9876543210"};
    CHECK_INT(0, jr_cmd_fault(&c, "p:", ids, 2, "fatal signal"));
    check_str("2", c.argv[2]);
    check_str("p:job:fedcba9876543210fedcba9876543210", c.argv[4]);
    check_str("fatal signal", c.argv[5]);
    CHECK_INT(MD_EINVAL, jr_cmd_fault(&c, "p:", ids, 0, "x"));
    CHECK_INT(MD_EINVAL, jr_cmd_fault(&c, "p:", ids, JR_FAULT_IDS_MAX + 1, "x"));
    CHECK_INT(JR_START_DEAD, jr_start_reply("dead"));
    CHECK_INT(JR_START_ODD, jr_start_reply(NULL));
    CHECK_INT(JR_SUBMIT_MISMATCH, jr_submit_reply("mismatch"));
    CHECK_INT(JR_SUBMIT_OWNER_FULL, jr_submit_reply("owner_full"));
}

/* The face library's pure parts: the id (SHA-256 of the canonical bytes), key names, and the
 * commands' keys; test_api_faces-like behaviour runs in integration/api_faces.mjs. */
static void test_faces(void)
{
    /* The id is the SHA-256 of the canonical form: FIPS 180-2's "abc" vector. */
    char hex[65];
    md_sha256_hex("abc", 3, hex);
    check_str("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hex);
    CHECK(jr_face_id_valid(hex));
    md_sha256_hex("", 0, hex);
    check_str("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", hex);
    CHECK(!jr_face_id_valid("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
    CHECK(!jr_face_id_valid("ba7816bf"));
    CHECK(!jr_face_id_valid(NULL));
    CHECK(!jr_face_id_valid("0123456789abcdef0123456789abcdef")); /* a job id */

    const char *id = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char k[256];
    CHECK_INT(0, jr_key_face(k, sizeof k, "lab-a", id));
    check_str("faces/lab-a/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.mdm",
              k);
    CHECK_INT(MD_EINVAL, jr_key_face(k, sizeof k, "../x", id));
    CHECK_INT(MD_EINVAL, jr_key_face(k, sizeof k, "..", id));
    CHECK_INT(MD_EINVAL, jr_key_face(k, sizeof k, "", id));
    CHECK_INT(MD_EINVAL, jr_key_face(k, sizeof k, "lab-a", "../../jobs/x"));
    CHECK_INT(MD_EINVAL, jr_key_face(k, 40, "lab-a", id));
    CHECK_INT(0, jr_face_key(k, sizeof k, "p:", "lab-a", id));
    check_str("p:face:lab-a:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", k);
    CHECK_INT(MD_EINVAL, jr_face_key(k, sizeof k, "p:", "a:b", id));
    CHECK_INT(0, jr_faces_key(k, sizeof k, "p:", "lab-a"));
    check_str("p:faces:lab-a", k);
    CHECK_INT(0, jr_face_jobs_key(k, sizeof k, "p:", "lab-a", id));
    check_str("p:face_jobs:lab-a:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
              k);

    jr_cmd c;
    jr_new_face face = {.id = id,
                        .owner = "lab-a",
                        .name = "ict_A",
                        .format = "obj",
                        .vertices = 9409,
                        .faces = 18432,
                        .textures = 1,
                        .bytes = 123456,
                        .created_at = 1700000000.5};
    CHECK_INT(0, jr_cmd_face_put(&c, "p:", &face, 1000));
    check_str("2", c.argv[2]);
    check_str("p:face:lab-a:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
              c.argv[3]);
    check_str("p:faces:lab-a", c.argv[4]);
    check_str(id, c.argv[5]);
    check_str("1000", c.argv[6]);
    check_str("1700000000500", c.argv[7]);
    CHECK(argv_has(&c, "ict_A") && argv_has(&c, "9409") && argv_has(&c, "123456"));
    CHECK(argv_has(&c, jr_face_field_name(JR_FF_CREATED_AT)));
    CHECK_INT(0, (c.argc - 8) % 2); /* field/value pairs */
    CHECK_INT(2 * JR_FF_COUNT, c.argc - 8);
    CHECK_INT(JR_FACE_CREATED, jr_face_put_reply("created"));
    CHECK_INT(JR_FACE_EXISTS, jr_face_put_reply("exists"));
    CHECK_INT(JR_FACE_FULL, jr_face_put_reply("full"));
    CHECK_INT(JR_FACE_ODD, jr_face_put_reply(NULL));
    face.owner = "a/b";
    CHECK_INT(MD_EINVAL, jr_cmd_face_put(&c, "p:", &face, 1000));

    CHECK_INT(0, jr_cmd_face_delete(&c, "p:", "lab-a", id));
    check_str("3", c.argv[2]);
    check_str("p:face_jobs:lab-a:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
              c.argv[5]);
    check_str("p:job:", c.argv[c.argc - 1]);
    CHECK_INT(0, jr_cmd_face_list(&c, "p:", "lab-a", "+inf", 52));
    check_str("p:faces:lab-a", c.argv[3]);
    check_str("52", c.argv[5]);
    check_str("p:face:lab-a:", c.argv[6]);
    const char *ids[2] = {id, id};
    CHECK_INT(0, jr_cmd_face_names(&c, "p:", "lab-a", ids, 2));
    check_str("2", c.argv[2]);
    CHECK_INT(MD_EINVAL, jr_cmd_face_names(&c, "p:", "lab-a", ids, 3));

    /* A job naming a face for its source: the face's hash and job set are keys of submit. */
    jr_new_job job = {.id = "0123456789abcdef0123456789abcdef",
                      .kind = JR_KIND_MORPH,
                      .owner = "lab-a",
                      .spec_json = "{}",
                      .inputs_json = "{}",
                      .frames_total = 3,
                      .created_at = 1.0,
                      .request_hash = "h",
                      .faces = {id, NULL}};
    CHECK_INT(0, jr_cmd_submit(&c, "p:", &job, 100, 0, ""));
    check_str("p:face:lab-a:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
              c.argv[9]);
    check_str("p:face_jobs:lab-a:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
              c.argv[10]);
    check_str("", c.argv[11]);
    check_str("", c.argv[12]);
    CHECK_INT(JR_SUBMIT_NO_FACE, jr_submit_reply("no_face"));

    /* The inputs field carries a face id, and drops one that is not. */
    jr_inputs in, back;
    memset(&in, 0, sizeof in);
    in.present[JR_IN_SOURCE] = in.present[JR_IN_TARGET] = 1;
    snprintf(in.name[JR_IN_SOURCE], sizeof in.name[0], "ict_A");
    snprintf(in.face[JR_IN_SOURCE], sizeof in.face[0], "%s", id);
    char *text = jr_inputs_to_json(&in);
    md_error err;
    CHECK_OK(jr_inputs_from_json(text, &back, &err), &err);
    check_str(id, back.face[JR_IN_SOURCE]);
    check_str("", back.face[JR_IN_TARGET]);
    CHECK(strstr(text, "\"target\":{\"name\":\"\",\"format\":\"\"}") != NULL);
    md_free(text);
    CHECK_OK(jr_inputs_from_json("{\"source\":{\"name\":\"a\",\"face\":\"../x\"}}", &back, &err),
             &err);
    check_str("", back.face[JR_IN_SOURCE]);
}

static void test_batches(void)
{
    const char *fa = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const char *fb = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    char k[128];
    CHECK_INT(0, jr_batch_key(k, sizeof k, "p:", "0123456789abcdef0123456789abcdef"));
    check_str("p:batch:0123456789abcdef0123456789abcdef", k);
    CHECK_INT(MD_EINVAL, jr_batch_key(k, 8, "p:", "0123456789abcdef0123456789abcdef"));
    check_str("jobs", jr_batch_field_name(JR_BF_JOBS));

    jr_new_job jobs[2] = {
        {.id = "00000000000000000000000000000001",
         .kind = JR_KIND_MORPH,
         .owner = "lab-a",
         .spec_json = "{}",
         .inputs_json = "{}",
         .frames_total = 3,
         .created_at = 1.5,
         .request_hash = "h1",
         .faces = {fa, fb}},
        {.id = "00000000000000000000000000000002",
         .kind = JR_KIND_MORPH,
         .owner = "lab-a",
         .spec_json = "{}",
         .inputs_json = "{}",
         .frames_total = 3,
         .created_at = 1.5,
         .request_hash = "h2",
         .faces = {fb, fa}},
    };
    jr_new_batch b = {.id = "0123456789abcdef0123456789abcdef",
                      .owner = "lab-a",
                      .spec_json = "{\"frames\":3}",
                      .created_at = 1.5,
                      .jobs = jobs,
                      .count = 2};
    jr_cmd c;
    char *payload = NULL;
    CHECK_INT(0, jr_cmd_batch_submit(&c, "p:", &b, 100, 10, &payload));
    check_str("5", c.argv[2]);
    check_str("p:batch:0123456789abcdef0123456789abcdef", c.argv[3]);
    check_str("p:owner:lab-a", c.argv[5]);
    check_str("lab-a", c.argv[8]);
    check_str("100", c.argv[9]);
    check_str("10", c.argv[10]);
    check_str("1500", c.argv[11]);
    /* The jobs argument: each job's key, its faces' keys and its hash's pairs. */
    json_t *arr = json_loads(c.argv[13], 0, NULL);
    CHECK_INT(2, (long long)json_array_size(arr));
    json_t *j1 = json_array_get(arr, 1);
    check_str("p:job:00000000000000000000000000000002",
              json_string_value(json_object_get(j1, "key")));
    char fk[256];
    jr_face_jobs_key(fk, sizeof fk, "p:", "lab-a", fb);
    check_str(fk, json_string_value(json_array_get(json_object_get(j1, "faces"), 1)));
    json_t *pairs = json_object_get(j1, "pairs");
    CHECK(json_array_size(pairs) % 2 == 0 && json_array_size(pairs) >= 2);
    check_str("id", json_string_value(json_array_get(pairs, 0)));
    check_str("00000000000000000000000000000002", json_string_value(json_array_get(pairs, 1)));
    json_decref(arr);
    /* The batch's jobs field. */
    check_str("jobs", c.argv[c.argc - 2]);
    json_t *field = json_loads(c.argv[c.argc - 1], 0, NULL);
    CHECK_INT(2, (long long)json_array_size(field));
    check_str(fb, json_string_value(json_object_get(json_array_get(field, 1), "source_face")));
    json_decref(field);
    md_free(payload);

    /* A job without its two faces is not a batch job. */
    jobs[1].faces[1] = NULL;
    CHECK(jr_cmd_batch_submit(&c, "p:", &b, 100, 10, &payload) != 0);
    md_free(payload);

    CHECK_INT(0, jr_cmd_batch_get(&c, "p:", b.id, "lab-a"));
    CHECK_INT(5 + JR_BJ_COUNT + 1, c.argc);
    check_str("p:job:", c.argv[5]);
    check_str("status", c.argv[6]);
    check_str("error", c.argv[6 + JR_BJ_ERROR]);
    CHECK_INT(0, jr_cmd_batch_cancel(&c, "p:", b.id, "lab-a", 2.0, 1));
    check_str("3", c.argv[2]);
    CHECK(strstr(c.argv[10], b.id) != NULL); /* the cancel error names the batch */
    check_str("p:job:", c.argv[c.argc - 1]);
    CHECK_INT(0, jr_cmd_batch_delete(&c, "p:", b.id, "lab-a", 2.0, 1));
    check_str("5", c.argv[2]);
    check_str("p:expiring", c.argv[7]);
    check_str("p:job:", c.argv[c.argc - 1]);

    const char *ids[2] = {fa, "not-a-face"};
    CHECK_INT(0, jr_cmd_batch_face_names(&c, "p:", "lab-a", ids, 1, &payload));
    check_str("p:face:lab-a:", c.argv[3]);
    CHECK(strstr(c.argv[4], fa) != NULL);
    md_free(payload);
    CHECK_INT(MD_EINVAL, jr_cmd_batch_face_names(&c, "p:", "lab-a", ids, 2, &payload));
    md_free(payload);
}

int main(void)
{
    test_tables();
    test_transitions();
    test_keys();
    test_inputs();
    test_commands();
    test_faces();
    test_batches();
    return test_done();
}
