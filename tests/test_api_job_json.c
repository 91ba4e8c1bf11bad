/*
 * test_api_job_json.c — the pure parts of the api: the job hash as Job JSON (api_job_json),
 * artifact name checks, problem+json bodies, and the Prometheus text /metrics renders from a
 * metrics hash (histogram buckets accumulated, +Inf, _sum, _count) plus the HTTP metrics.
 */
#include <string.h>

#include "api/api_int.h"
#include "test_util.h"

#define ID "0123456789abcdef0123456789abcdef"

static void test_job_json(void)
{
    const char *f[] = {"id",     "kind",       "owner",      "status",      "spec",
                       "inputs", "created_at", "started_at", "frames_done", "frames_total",
                       "stage",  "error",      "artifacts"};
    const char *v[] = {ID,
                       "morph",
                       "anonymous",
                       "running",
                       "{\"frames\":41}",
                       "{\"vertices\":3,\"faces\":1,\"textures\":0}",
                       "1795593600.123",
                       "1795593601.5",
                       "7",
                       "41",
                       "rendering",
                       "",
                       "[{\"name\":\"frames/0000_a-1000_b-0000.png\",\"bytes\":12,"
                       "\"content_type\":\"image/png\"},{\"name\":\"../etc\",\"bytes\":1}]"};
    json_t *j = api_job_json(f, v, sizeof f / sizeof f[0]);
    CHECK(j != NULL);
    if (j == NULL)
        return;
    CHECK(strcmp(json_string_value(json_object_get(j, "id")), ID) == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "status")), "running") == 0);
    json_t *prog = json_object_get(j, "progress");
    CHECK_INT(7, json_integer_value(json_object_get(prog, "frames_done")));
    CHECK_INT(41, json_integer_value(json_object_get(prog, "frames_total")));
    CHECK(strcmp(json_string_value(json_object_get(prog, "stage")), "rendering") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "created_at")), "2026-11-25T08:00:00.123Z") ==
          0);
    CHECK(strcmp(json_string_value(json_object_get(j, "started_at")), "2026-11-25T08:00:01.500Z") ==
          0);
    CHECK(json_is_null(json_object_get(j, "finished_at")));
    CHECK(json_is_null(json_object_get(j, "error")));
    CHECK(json_object_get(j, "owner") == NULL); /* never shown */
    CHECK_INT(41, json_integer_value(json_object_get(json_object_get(j, "spec"), "frames")));
    json_t *arts = json_object_get(j, "artifacts");
    CHECK_INT(1, json_array_size(arts)); /* the bad name is left out */
    json_t *a = json_array_get(arts, 0);
    CHECK(strcmp(json_string_value(json_object_get(a, "url")),
                 "/jobs/" ID "/artifacts/frames/0000_a-1000_b-0000.png") == 0);
    CHECK_INT(12, json_integer_value(json_object_get(a, "bytes")));
    json_decref(j);

    /* A bare hash still gives every required property. */
    const char *f2[] = {"id", "spec", "artifacts", "frames_done"};
    const char *v2[] = {ID, "not json", "{", "-5"};
    j = api_job_json(f2, v2, 4);
    CHECK(j != NULL);
    CHECK(strcmp(json_string_value(json_object_get(j, "kind")), "morph") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "status")), "queued") == 0);
    CHECK(json_is_object(json_object_get(j, "spec")));
    CHECK_INT(0, json_integer_value(json_object_get(json_object_get(j, "inputs"), "vertices")));
    CHECK_INT(0, json_array_size(json_object_get(j, "artifacts")));
    CHECK_INT(0,
              json_integer_value(json_object_get(json_object_get(j, "progress"), "frames_done")));
    CHECK(json_is_string(json_object_get(j, "created_at")));
    json_decref(j);

    const char *f3[] = {"status"};
    const char *v3[] = {"queued"};
    CHECK(api_job_json(f3, v3, 1) == NULL); /* no id */
}

static void test_artifact_names(void)
{
    CHECK(api_artifact_name_valid("manifest.json"));
    CHECK(api_artifact_name_valid("frames/0000_a-1000_b-0000.png"));
    CHECK(!api_artifact_name_valid(""));
    CHECK(!api_artifact_name_valid("../x"));
    CHECK(!api_artifact_name_valid("a/../x"));
    CHECK(!api_artifact_name_valid("a/b/c"));
    CHECK(!api_artifact_name_valid("a//b"));
    CHECK(!api_artifact_name_valid("/a"));
    CHECK(!api_artifact_name_valid("a/"));
    CHECK(!api_artifact_name_valid(".hidden"));
    CHECK(!api_artifact_name_valid("a%2Fb"));
    CHECK(jr_status_name_terminal("canceled") && !jr_status_name_terminal("running"));
}

static void test_problem(void)
{
    char *body =
        api_problem_body(422, "topology-mismatch", "source has 3 vertices, target 4", "/jobs");
    CHECK(body != NULL);
    json_t *j = json_loads(body, 0, NULL);
    CHECK(j != NULL);
    CHECK(strcmp(json_string_value(json_object_get(j, "type")),
                 "urn:morphd:problem:topology-mismatch") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "title")), "Topology mismatch") == 0);
    CHECK_INT(422, json_integer_value(json_object_get(j, "status")));
    CHECK(strstr(json_string_value(json_object_get(j, "detail")), "target 4") != NULL);
    CHECK(strcmp(json_string_value(json_object_get(j, "instance")), "/jobs") == 0);
    json_decref(j);
    md_free(body);
    /* Client bytes that are not UTF-8 still give a valid body. */
    body = api_problem_body(400, "bad-request", "name '\xff\xfe'", NULL);
    j = body ? json_loads(body, 0, NULL) : NULL;
    CHECK(j != NULL);
    json_decref(j);
    md_free(body);
    CHECK(strcmp(md_err_problem(MD_EPARSE), "invalid-mesh") == 0);
    CHECK(strcmp(md_err_problem(MD_ETOPOLOGY), "topology-mismatch") == 0);
    CHECK(strcmp(md_err_problem(MD_EFORMAT), "unsupported-format") == 0);
    CHECK(strcmp(md_err_problem(MD_ELIMIT), "too-large") == 0);
    CHECK(strcmp(md_err_problem(MD_EINVAL), "bad-request") == 0);
    CHECK(strcmp(md_err_problem(MD_EIO), "internal") == 0);
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    fprintf(stderr, "missing metrics line: %s\n", line);
    return 0;
}

static void test_metrics(void)
{
    jq_hist_fields h1, h2, h3;
    CHECK_INT(0, jq_metric_hist_fields(&h1, JQ_M_QUEUE_WAIT, "", 0.003));
    CHECK_INT(0, jq_metric_hist_fields(&h2, JQ_M_QUEUE_WAIT, "", 0.2));
    CHECK_INT(0, jq_metric_hist_fields(&h3, JQ_M_QUEUE_WAIT, "", 7200));
    char submitted[192];
    jq_metric_counter_field(submitted, sizeof submitted, JQ_M_JOBS_SUBMITTED, "kind=\"morph\"");
    jq_hist_fields e;
    jq_metric_hist_fields(&e, JQ_M_ENGINE_SECONDS, "stage=\"raster\"", 0.002);
    const char *f[] = {submitted,   h1.bucket,
                       h2.bucket,   h3.bucket,
                       h1.sum,      h1.count,
                       e.bucket,    e.sum,
                       e.count,     "c|morphd_frames_rendered_total|",
                       "c|bogus|x", "c|morphd_redeliveries_total|bad\nlabel"};
    const char *v[] = {"5", "2", "1", "1", "7200.206", "4", "3", "0.006", "3", "123", "9", "1"};
    const char *workers[] = {"gpu0", "gpu1"};
    const char *gpu[] = {"1048576", ""};
    const char *gpu_total[] = {"150000000000", "0"};
    const char *gpu_util[] = {"87", ""};
    const char *engines[] = {"cuda", "cpu"};
    const char *face_bytes[] = {"25165824", ""};
    const char *face_entries[] = {"3", "0"};
    const char *gpu_tex_bytes[] = {"33554432", ""}; /* gpu1 (cpu engine): no texture cache */
    api_http_stats st;
    memset(&st, 0, sizeof st);
    api_http_stats_observe(&st, API_ROUTE_JOB, 200, 0.0004);
    api_http_stats_observe(&st, API_ROUTE_JOB, 200, 0.02);
    api_http_stats_observe(&st, API_ROUTE_JOB, 404, 0.0001);
    api_metrics_input in = {.fields = f,
                            .values = v,
                            .field_count = sizeof f / sizeof f[0],
                            .queue_depth = 3,
                            .workers = workers,
                            .gpu_bytes = gpu,
                            .gpu_total = gpu_total,
                            .gpu_util = gpu_util,
                            .face_bytes = face_bytes,
                            .face_entries = face_entries,
                            .gpu_tex_bytes = gpu_tex_bytes,
                            .worker_count = 2,
                            .version = "0.1.0",
                            .engines = engines,
                            .http = &st};
    md_buf b;
    md_buf_init(&b, 1 << 20);
    api_metrics_render(&b, &in);
    char *text = md_buf_take(&b, NULL);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    for (int m = 0; m < JQ_M_COUNT; m++) {
        char line[256];
        snprintf(line, sizeof line, "# TYPE %s %s", jq_metric_get(m)->name, jq_metric_get(m)->type);
        CHECK(has_line(text, line));
    }
    CHECK(has_line(text, "morphd_jobs_submitted_total{kind=\"morph\"} 5"));
    CHECK(has_line(text, "morphd_queue_wait_seconds_bucket{le=\"0.005\"} 2"));
    CHECK(has_line(text, "morphd_queue_wait_seconds_bucket{le=\"0.1\"} 2"));
    CHECK(has_line(text, "morphd_queue_wait_seconds_bucket{le=\"0.25\"} 3"));
    CHECK(has_line(text, "morphd_queue_wait_seconds_bucket{le=\"3600\"} 3"));
    CHECK(has_line(text, "morphd_queue_wait_seconds_bucket{le=\"+Inf\"} 4"));
    CHECK(has_line(text, "morphd_queue_wait_seconds_sum 7200.206"));
    CHECK(has_line(text, "morphd_queue_wait_seconds_count 4"));
    CHECK(has_line(text, "morphd_engine_seconds_bucket{stage=\"raster\",le=\"0.0025\"} 3"));
    CHECK(has_line(text, "morphd_engine_seconds_sum{stage=\"raster\"} 0.006"));
    CHECK(has_line(text, "morphd_frames_rendered_total 123"));
    CHECK(strstr(text, "bogus") == NULL);
    CHECK(strstr(text, "bad\nlabel") == NULL);
    CHECK(has_line(text, "morphd_queue_depth 3"));
    CHECK(has_line(text, "morphd_workers_alive 2"));
    CHECK(has_line(text, "morphd_gpu_memory_used_bytes{worker=\"gpu0\"} 1048576"));
    CHECK(strstr(text, "morphd_gpu_memory_used_bytes{worker=\"gpu1\"") == NULL);
    CHECK(has_line(text, "# TYPE morphd_face_cache_bytes gauge"));
    CHECK(has_line(text, "morphd_face_cache_bytes{worker=\"gpu0\"} 25165824"));
    CHECK(strstr(text, "morphd_face_cache_bytes{worker=\"gpu1\"") == NULL); /* unknown */
    CHECK(has_line(text, "morphd_face_cache_entries{worker=\"gpu0\"} 3"));
    CHECK(has_line(text, "morphd_face_cache_entries{worker=\"gpu1\"} 0"));
    CHECK(has_line(text, "morphd_gpu_memory_total_bytes{worker=\"gpu0\"} 150000000000"));
    CHECK(strstr(text, "morphd_gpu_memory_total_bytes{worker=\"gpu1\"") == NULL);
    CHECK(has_line(text, "morphd_gpu_utilization_ratio{worker=\"gpu0\"} 0.87"));
    CHECK(strstr(text, "morphd_gpu_utilization_ratio{worker=\"gpu1\"") == NULL);
    CHECK(has_line(text, "# TYPE morphd_gpu_utilization_ratio gauge"));
    CHECK(has_line(text, "# TYPE morphd_gpu_texture_cache_bytes gauge"));
    CHECK(has_line(text, "morphd_gpu_texture_cache_bytes{worker=\"gpu0\"} 33554432"));
    CHECK(strstr(text, "morphd_gpu_texture_cache_bytes{worker=\"gpu1\"") == NULL);
    CHECK(has_line(text, "# TYPE morphd_gpu_texture_cache_hits_total counter"));
    CHECK(has_line(text, "# TYPE morphd_gpu_texture_cache_misses_total counter"));
    CHECK(has_line(text, "morphd_http_requests_total{route=\"/jobs/{id}\",code=\"200\"} 2"));
    CHECK(has_line(text, "morphd_http_requests_total{route=\"/jobs/{id}\",code=\"404\"} 1"));
    CHECK(has_line(
        text, "morphd_http_request_duration_seconds_bucket{route=\"/jobs/{id}\",le=\"0.0005\"} 2"));
    CHECK(has_line(
        text, "morphd_http_request_duration_seconds_bucket{route=\"/jobs/{id}\",le=\"+Inf\"} 3"));
    CHECK(has_line(text, "morphd_http_request_duration_seconds_count{route=\"/jobs/{id}\"} 3"));
    CHECK(has_line(text, "# TYPE morphd_http_request_duration_seconds histogram"));
    CHECK(has_line(text, "morphd_build_info{version=\"0.1.0\",engine=\"cuda\"} 1"));
    CHECK(has_line(text, "morphd_build_info{version=\"0.1.0\",engine=\"cpu\"} 1"));
    CHECK(has_line(text, "morphd_worker_info{worker=\"gpu0\",engine=\"cuda\"} 1"));
    CHECK(has_line(text, "morphd_worker_info{worker=\"gpu1\",engine=\"cpu\"} 1"));
    md_free(text);
}

static void test_batch_json(void)
{
    const char *fa = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const char *fb = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    api_batch_job jobs[3] = {
        {.id = "00000000000000000000000000000001",
         .source_face = fa,
         .target_face = fb,
         .v = {[JR_BJ_STATUS] = "succeeded",
               [JR_BJ_STAGE] = "done",
               [JR_BJ_FRAMES_DONE] = "3",
               [JR_BJ_FRAMES_TOTAL] = "3",
               [JR_BJ_ERROR] = ""}},
        {.id = "00000000000000000000000000000002",
         .source_face = fb,
         .target_face = fa,
         .v = {[JR_BJ_STATUS] = "running",
               [JR_BJ_STAGE] = "rendering",
               [JR_BJ_FRAMES_DONE] = "1",
               [JR_BJ_FRAMES_TOTAL] = "3"}},
        {.id = "00000000000000000000000000000003", .source_face = fa, .target_face = fb},
    };
    json_t *b = api_batch_json(ID, "1700000000.5", "{\"frames\":3}", jobs, 3);
    CHECK_STR("running", json_string_value(json_object_get(b, "status")));
    json_t *counts = json_object_get(b, "counts");
    CHECK_INT(1, json_integer_value(json_object_get(counts, "succeeded")));
    CHECK_INT(1, json_integer_value(json_object_get(counts, "running")));
    CHECK_INT(1, json_integer_value(json_object_get(counts, "gone")));
    CHECK_INT(0, json_integer_value(json_object_get(counts, "queued")));
    json_t *progress = json_object_get(b, "progress");
    CHECK_INT(4, json_integer_value(json_object_get(progress, "frames_done")));
    CHECK_INT(6, json_integer_value(json_object_get(progress, "frames_total")));
    json_t *gone = json_array_get(json_object_get(b, "jobs"), 2);
    CHECK_STR("gone", json_string_value(json_object_get(gone, "status")));
    CHECK(json_object_get(gone, "progress") == NULL);
    CHECK_STR("2023-11-14T22:13:20.500Z", json_string_value(json_object_get(b, "created_at")));
    CHECK_INT(3, json_integer_value(json_object_get(json_object_get(b, "spec"), "frames")));
    json_decref(b);

    /* Every job ended: failed wins over canceled, canceled over succeeded. */
    jobs[1].v[JR_BJ_STATUS] = "canceled";
    b = api_batch_json(ID, NULL, NULL, jobs, 3);
    CHECK_STR("canceled", json_string_value(json_object_get(b, "status")));
    CHECK_STR("1970-01-01T00:00:00.000Z", json_string_value(json_object_get(b, "created_at")));
    json_decref(b);
    jobs[2].v[JR_BJ_STATUS] = "failed";
    b = api_batch_json(ID, NULL, NULL, jobs, 3);
    CHECK_STR("failed", json_string_value(json_object_get(b, "status")));
    json_decref(b);
    /* All queued: queued; one started: running. */
    for (int i = 0; i < 3; i++)
        jobs[i].v[JR_BJ_STATUS] = "queued";
    b = api_batch_json(ID, NULL, NULL, jobs, 3);
    CHECK_STR("queued", json_string_value(json_object_get(b, "status")));
    json_decref(b);
    jobs[0].v[JR_BJ_STATUS] = "succeeded";
    b = api_batch_json(ID, NULL, NULL, jobs, 3);
    CHECK_STR("running", json_string_value(json_object_get(b, "status")));
    json_decref(b);
}

int main(void)
{
    test_job_json();
    test_artifact_names();
    test_problem();
    test_metrics();
    test_batch_json();
    return test_done();
}
