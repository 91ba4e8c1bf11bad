/*
 * test_queue.c — the names api and worker share about Redis (jobs/queue.h): addresses, prefixes,
 * keys, ids, times and the metrics hash field names.
 */
#include <string.h>

#include "jobs/queue.h"
#include "test_util.h"

static void test_addresses(void)
{
    jq_redis_addr a;
    md_error err;
    CHECK_OK(jq_redis_addr_parse("redis://127.0.0.1:6390", &a, &err), &err);
    CHECK(!a.is_unix && strcmp(a.host, "127.0.0.1") == 0);
    CHECK_INT(6390, a.port);
    CHECK_OK(jq_redis_addr_parse("redis://cache.internal", &a, &err), &err);
    CHECK_INT(6379, a.port);
    CHECK(strcmp(a.host, "cache.internal") == 0);
    CHECK_OK(jq_redis_addr_parse("redis://localhost:7000/", &a, &err), &err);
    CHECK_INT(7000, a.port);
    CHECK_OK(jq_redis_addr_parse("unix:///run/redis.sock", &a, &err), &err);
    CHECK(a.is_unix && strcmp(a.path, "/run/redis.sock") == 0);

    const char *bad[] = {"",
                         "http://x:1",
                         "redis://",
                         "redis://:6379",
                         "redis://h:0",
                         "redis://h:70000",
                         "redis://h:12ab",
                         "unix://relative.sock"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        md_error_clear(&err);
        int rc = jq_redis_addr_parse(bad[i], &a, &err);
        if (rc != MD_EINVAL)
            fprintf(stderr, "address '%s' accepted\n", bad[i]);
        CHECK_INT(MD_EINVAL, rc);
        CHECK(err.msg[0] != '\0');
    }
}

static void test_prefix_and_keys(void)
{
    md_error err;
    CHECK_OK(jq_prefix_check("morphd:", &err), &err);
    CHECK_OK(jq_prefix_check("team-a.morphd:", &err), &err);
    CHECK_INT(MD_EINVAL, jq_prefix_check("", &err));
    CHECK_INT(MD_EINVAL, jq_prefix_check("a b", &err));
    CHECK_MSG(&err, "byte 1");
    char big[JQ_PREFIX_MAX + 1];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_INT(MD_EINVAL, jq_prefix_check(big, &err));

    char key[JQ_KEY_MAX];
    CHECK_INT(0, jq_key(key, sizeof key, "morphd:", "jobs"));
    CHECK(strcmp(key, "morphd:jobs") == 0);
    CHECK_INT(0, jq_key_id(key, sizeof key, "morphd:", "job", "abc"));
    CHECK(strcmp(key, "morphd:job:abc") == 0);
    char tiny[8];
    CHECK_INT(MD_ELIMIT, jq_key(tiny, sizeof tiny, "morphd:", "jobs"));
}

static void test_ids(void)
{
    md_error err;
    char a[JQ_ID_LEN + 1], b[JQ_ID_LEN + 1];
    CHECK_OK(jq_id_new(a, &err), &err);
    CHECK_OK(jq_id_new(b, &err), &err);
    CHECK_INT(JQ_ID_LEN, strlen(a));
    CHECK(jq_id_valid(a) && jq_id_valid(b));
    CHECK(strcmp(a, b) != 0);
    CHECK(!jq_id_valid(NULL));
    CHECK(!jq_id_valid(""));
    CHECK(!jq_id_valid("0123456789abcdef0123456789ABCDEF"));
    CHECK(!jq_id_valid("0123456789abcdef0123456789abcde"));
    CHECK(!jq_id_valid("0123456789abcdef0123456789abcdef0"));
    CHECK(!jq_id_valid("../23456789abcdef0123456789abcdef"));
}

static void test_times(void)
{
    char out[32];
    jq_time_format(0, out);
    CHECK(strcmp(out, "1970-01-01T00:00:00.000Z") == 0);
    jq_time_format(1795600800.25, out); /* 2026-11-25T10:00:00.250Z */
    CHECK(strcmp(out, "2026-11-25T10:00:00.250Z") == 0);
    if (strcmp(out, "2026-11-25T10:00:00.250Z") != 0)
        fprintf(stderr, "got %s\n", out);
    jq_time_format(-5, out);
    CHECK(strcmp(out, "1970-01-01T00:00:00.000Z") == 0);
    double now = jq_wall_now();
    CHECK(now > 1.7e9);
}

static void test_metrics(void)
{
    for (int m = 0; m < JQ_M_COUNT; m++) {
        const jq_metric_def *d = jq_metric_get((jq_metric)m);
        CHECK(d != NULL && d->name != NULL && d->help != NULL);
        CHECK(strncmp(d->name, "morphd_", 7) == 0);
        int hist = strcmp(d->type, "histogram") == 0;
        CHECK(hist == (d->bounds != NULL));
        for (int i = 1; hist && i < d->bound_count; i++)
            CHECK(d->bounds[i] > d->bounds[i - 1]);
        CHECK(jq_metric_find(d->name, strlen(d->name)) == d);
    }
    CHECK(jq_metric_get(JQ_M_COUNT) == NULL);
    CHECK(jq_metric_find("morphd_nope", 11) == NULL);

    char field[192];
    CHECK_INT(0, jq_metric_counter_field(field, sizeof field, JQ_M_JOBS_FINISHED,
                                         "kind=\"morph\",status=\"failed\""));
    CHECK(strcmp(field, "c|morphd_jobs_finished_total|kind=\"morph\",status=\"failed\"") == 0);
    CHECK_INT(MD_EINVAL, jq_metric_counter_field(field, sizeof field, JQ_M_COUNT, ""));

    jq_hist_fields h;
    CHECK_INT(0, jq_metric_hist_fields(&h, JQ_M_BATCH_JOBS, "", 3));
    CHECK(strcmp(h.bucket, "h|morphd_batch_jobs||4") == 0);
    CHECK(strcmp(h.sum, "h|morphd_batch_jobs||sum") == 0);
    CHECK(strcmp(h.count, "h|morphd_batch_jobs||count") == 0);
    CHECK_INT(0, jq_metric_hist_fields(&h, JQ_M_BATCH_JOBS, "", 1));
    CHECK(strcmp(h.bucket, "h|morphd_batch_jobs||1") == 0);
    CHECK_INT(0, jq_metric_hist_fields(&h, JQ_M_BATCH_JOBS, NULL, 1000));
    CHECK(strcmp(h.bucket, "h|morphd_batch_jobs||+Inf") == 0);
    CHECK_INT(0, jq_metric_hist_fields(&h, JQ_M_ENGINE_SECONDS, "stage=\"shade\"", 0.003));
    CHECK(strcmp(h.bucket, "h|morphd_engine_seconds|stage=\"shade\"|0.005") == 0);
    CHECK_INT(MD_EINVAL, jq_metric_hist_fields(&h, JQ_M_FRAMES_RENDERED, "", 1));
}

int main(void)
{
    test_addresses();
    test_prefix_and_keys();
    test_ids();
    test_times();
    test_metrics();
    return test_done();
}
