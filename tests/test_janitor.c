/*
 * test_janitor.c — jan_pass (jobs/janitor.h) against a real redis-server on a free port and a
 * file store: job records and {p}expiring entries are laid out as the worker's scripts leave
 * them (docs/server.md), and what the pass does is read back from Redis and storage.
 *
 *   1. Due ids: a job whose hash is gone loses jobs/{id}/ and its entry; one whose hash still
 *      expires (retention moved) keeps its objects and is rescheduled to the new expiry; one whose
 *      hash no longer expires keeps its objects and leaves the set; one not yet due is not
 *      touched; a member that is not a job id is removed; a neighbour's objects stay.
 *   2. The lock: with {p}janitor:lock held by someone else a pass does nothing and leaves the
 *      lock alone; a pass that ran releases its own lock.
 *   3. Bounds: max_ids 2 over 5 due ids takes 2, 2, 1 passes and says "more" until the last.
 *   4. A storage error (no file descriptor left to open the job's folder, which stops root
 *      too) keeps the id and puts it retry_s ahead; the retry deletes the objects.
 *
 * Skips (77) without redis-server. The redis-server it starts is stopped and reaped.
 */
#define _GNU_SOURCE
#include "test_util.h"
#include "redis_fixture.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jobs/janitor.h"
#include "jobs/queue.h"
#include "storage/storage.h"

#define PREFIX "jt:"

static pid_t redis_pid = -1;

static void stop_redis(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = -1;
    }
}

static redisContext *start_redis(const char *log)
{
    int port = redis_fixture_free_port();
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    redis_pid = fork();
    if (redis_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    return redis_fixture_connect(port, 10);
}

/* ---- Helpers ---- */

static long long int_reply(redisContext *c, const char *fmt, const char *a)
{
    redisReply *r = redisCommand(c, fmt, a);
    long long v = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -99;
    freeReplyObject(r);
    return v;
}

/* Score of id in {p}expiring, -1 when absent. */
static double score_of(redisContext *c, const char *id)
{
    redisReply *r = redisCommand(c, "ZSCORE " PREFIX "expiring %s", id);
    double v = r != NULL && r->type == REDIS_REPLY_STRING ? strtod(r->str, NULL) : -1;
    freeReplyObject(r);
    return v;
}

static void cmd(redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *r = redisCommand(c, fmt, a, b);
    CHECK(r != NULL && r->type != REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* A job id made of one repeated hex digit plus a counter, so the tests read easily. */
static void make_id(char out[JQ_ID_LEN + 1], char digit, int n)
{
    memset(out, digit, JQ_ID_LEN);
    out[JQ_ID_LEN] = '\0';
    char tail[8];
    snprintf(tail, sizeof tail, "%04x", n & 0xffff);
    memcpy(out + JQ_ID_LEN - 4, tail, 4);
}

/* Two objects under jobs/{id}/, as a finished job leaves them. */
static void put_objects(stg *store, const char *id)
{
    char key[JQ_KEY_MAX];
    md_error err;
    snprintf(key, sizeof key, "jobs/%s/frames/0000_a-1000_b-0000.png", id);
    CHECK_OK(stg_put(store, key, "png", 3, &err), &err);
    snprintf(key, sizeof key, "jobs/%s/manifest.json", id);
    CHECK_OK(stg_put(store, key, "{}", 2, &err), &err);
}

static int has_objects(stg *store, const char *id)
{
    char key[JQ_KEY_MAX];
    uint64_t size = 0;
    snprintf(key, sizeof key, "jobs/%s/manifest.json", id);
    return stg_head(store, key, &size, NULL) == 0;
}

/* The job hash (a few fields are enough for the janitor, which only asks PTTL). */
static void put_hash(redisContext *c, const char *id, const char *pexpire_ms)
{
    char key[JQ_KEY_MAX];
    snprintf(key, sizeof key, PREFIX "job:%s", id);
    cmd(c, "HSET %s status succeeded id %s", key, id);
    if (pexpire_ms != NULL)
        cmd(c, "PEXPIRE %s %s", key, pexpire_ms);
}

static void schedule(redisContext *c, const char *id, double at)
{
    char score[32];
    snprintf(score, sizeof score, "%.3f", at);
    cmd(c, "ZADD " PREFIX "expiring %s %s", score, id);
}

static jan_config config(void)
{
    jan_config jc;
    jan_config_default(&jc);
    jc.prefix = PREFIX;
    jc.holder = "test-janitor";
    return jc;
}

/* ---- The scenarios ---- */

static void test_due_ids(redisContext *c, stg *store)
{
    double now = jq_wall_now();
    char gone[JQ_ID_LEN + 1], moved[JQ_ID_LEN + 1], kept[JQ_ID_LEN + 1], later[JQ_ID_LEN + 1],
        neighbour[JQ_ID_LEN + 1];
    make_id(gone, 'a', 1);
    make_id(moved, 'b', 1);
    make_id(kept, 'c', 1);
    make_id(later, 'd', 1);
    make_id(neighbour, 'a', 2);
    const char *all[] = {gone, moved, kept, later, neighbour};
    for (int i = 0; i < 5; i++)
        put_objects(store, all[i]);
    put_hash(c, moved, "100000"); /* retention extended: 100 s left */
    put_hash(c, kept, NULL);      /* PERSISTed: never expires */
    schedule(c, gone, now - 10);
    schedule(c, moved, now - 5);
    schedule(c, kept, now - 5);
    schedule(c, later, now + 1000);
    cmd(c, "ZADD " PREFIX "expiring %s %s", "1", "not-a-job-id");

    jan_config jc = config();
    jan_stats st;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(jan_pass(c, store, &jc, now, &st, &err), &err);
    CHECK_INT(1, st.locked);
    CHECK_INT(1, st.removed);
    CHECK_INT(1, st.rescheduled);
    CHECK_INT(2, st.dropped); /* kept (no expiry) and not-a-job-id */
    CHECK_INT(0, st.failed);
    CHECK_INT(0, st.more);

    CHECK_INT(0, has_objects(store, gone));
    CHECK_NEAR(-1, score_of(c, gone), 0);
    CHECK_INT(1, has_objects(store, moved));
    CHECK_NEAR(now + 100, score_of(c, moved), 2.0);
    CHECK_INT(1, has_objects(store, kept));
    CHECK_NEAR(-1, score_of(c, kept), 0);
    CHECK_INT(1, has_objects(store, later));
    CHECK_NEAR(now + 1000, score_of(c, later), 0.01);
    CHECK_INT(1, has_objects(store, neighbour));
    CHECK_NEAR(-1, score_of(c, "not-a-job-id"), 0);
    CHECK_INT(2, int_reply(c, "ZCARD %s", PREFIX "expiring")); /* moved, later */
    CHECK_INT(0, int_reply(c, "EXISTS %s", PREFIX "janitor:lock"));

    /* A second pass at the same time has nothing due. */
    CHECK_OK(jan_pass(c, store, &jc, now, &st, &err), &err);
    CHECK_INT(0, st.removed + st.rescheduled + st.dropped + st.failed);
    /* Once the moved record is gone too, its objects go at its new time. */
    char key[JQ_KEY_MAX];
    snprintf(key, sizeof key, PREFIX "job:%s", moved);
    cmd(c, "DEL %s", key, NULL);
    CHECK_OK(jan_pass(c, store, &jc, now + 101, &st, &err), &err);
    CHECK_INT(1, st.removed);
    CHECK_INT(0, has_objects(store, moved));
    CHECK_INT(1, has_objects(store, later));
    cmd(c, "DEL %s", PREFIX "expiring", NULL);
}

static void test_lock(redisContext *c, stg *store)
{
    double now = jq_wall_now();
    char id[JQ_ID_LEN + 1];
    make_id(id, 'e', 1);
    put_objects(store, id);
    schedule(c, id, now - 1);
    cmd(c, "SET %s %s PX 10000", PREFIX "janitor:lock", "other-worker");

    jan_config jc = config();
    jan_stats st;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(jan_pass(c, store, &jc, now, &st, &err), &err);
    CHECK_INT(0, st.locked);
    CHECK_INT(0, st.removed);
    CHECK_INT(1, has_objects(store, id));
    redisReply *r = redisCommand(c, "GET %s", PREFIX "janitor:lock");
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "other-worker") == 0);
    freeReplyObject(r);

    cmd(c, "DEL %s", PREFIX "janitor:lock", NULL);
    CHECK_OK(jan_pass(c, store, &jc, now, &st, &err), &err);
    CHECK_INT(1, st.locked);
    CHECK_INT(1, st.removed);
    CHECK_INT(0, has_objects(store, id));
    CHECK_INT(0, int_reply(c, "EXISTS %s", PREFIX "janitor:lock"));
}

static void test_bounds(redisContext *c, stg *store)
{
    double now = jq_wall_now();
    char ids[5][JQ_ID_LEN + 1];
    for (int i = 0; i < 5; i++) {
        make_id(ids[i], 'f', i);
        put_objects(store, ids[i]);
        schedule(c, ids[i], now - 100 + i);
    }
    jan_config jc = config();
    jc.max_ids = 2;
    jan_stats st;
    md_error err;
    md_error_clear(&err);
    const int expect_removed[] = {2, 2, 1}, expect_more[] = {1, 1, 0};
    for (int pass = 0; pass < 3; pass++) {
        CHECK_OK(jan_pass(c, store, &jc, now, &st, &err), &err);
        CHECK_INT(expect_removed[pass], st.removed);
        CHECK_INT(expect_more[pass], st.more);
    }
    for (int i = 0; i < 5; i++)
        CHECK_INT(0, has_objects(store, ids[i]));
    CHECK_INT(0, int_reply(c, "ZCARD %s", PREFIX "expiring"));
}

static void test_storage_error(redisContext *c, stg *store)
{
    double now = jq_wall_now();
    char id[JQ_ID_LEN + 1];
    make_id(id, '9', 1);
    put_objects(store, id);
    schedule(c, id, now - 1);
    /* No descriptor above the lowest free one: the store cannot open jobs/{id}/ (EMFILE), while
     * the Redis connection, already open, keeps working. */
    struct rlimit saved;
    CHECK_INT(0, getrlimit(RLIMIT_NOFILE, &saved));
    int lowest = dup(0);
    close(lowest);
    struct rlimit tight = {.rlim_cur = (rlim_t)lowest, .rlim_max = saved.rlim_max};
    CHECK_INT(0, setrlimit(RLIMIT_NOFILE, &tight));

    jan_config jc = config();
    jc.retry_s = 120;
    jan_stats st;
    md_error err;
    md_error_clear(&err);
    int rc = jan_pass(c, store, &jc, now, &st, &err);
    CHECK_INT(0, setrlimit(RLIMIT_NOFILE, &saved));
    CHECK_OK(rc, &err);
    CHECK_INT(1, st.failed);
    CHECK_INT(0, st.removed);
    CHECK_INT(1, has_objects(store, id));
    CHECK_NEAR(now + 120, score_of(c, id), 0.01);

    /* Storage is back: the retry deletes them. */
    CHECK_OK(jan_pass(c, store, &jc, now + 121, &st, &err), &err);
    CHECK_INT(1, st.removed);
    CHECK_INT(0, has_objects(store, id));
    CHECK_NEAR(-1, score_of(c, id), 0);
}

int main(void)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        fprintf(stderr, "redis-server not found; skipping\n");
        return TEST_SKIP;
    }
    atexit(stop_redis);
    signal(SIGPIPE, SIG_IGN);
    char tmp[4096], store_dir[4200], url[4300], log[4200];
    snprintf(tmp, sizeof tmp, "%s", test_tmpdir("janitor"));
    snprintf(store_dir, sizeof store_dir, "%s/store", tmp);
    snprintf(url, sizeof url, "file://%s", store_dir);
    snprintf(log, sizeof log, "%s/redis.log", tmp);

    redisContext *c = start_redis(log);
    CHECK(c != NULL);
    stg *store = NULL;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(stg_open(url, &store, &err), &err);
    if (c != NULL && store != NULL) {
        test_due_ids(c, store);
        test_lock(c, store);
        test_bounds(c, store);
        test_storage_error(c, store);
    }
    stg_free(store);
    if (c != NULL)
        redisFree(c);
    stop_redis();
    return test_done();
}
