/*
 * test_worker.c — `morphd worker` against a real redis-server on a free port and file storage:
 * jobs are enqueued exactly as docs/server.md says the api does (canonical inputs in storage,
 * the job hash, one stream entry), and the outcomes are read back from Redis and storage.
 *
 *   1. A batch: two good morph jobs, a render job (a 3-view turntable), one whose inputs are
 *      missing, one canceled while queued. The three good ones run in ONE engine batch (the
 *      metrics hash records a batch of 3 jobs); the morph jobs' frames are byte-identical to
 *      `morph run` with the same spec; the bad one fails alone with a message naming the input;
 *      the canceled one is skipped. SIGTERM: exit 0, worker record removed.
 *   2. kill -9 in the middle of a job: a second worker reclaims it after the lease and finishes
 *      it; every frame present once, a stale frame and a crashed writer's temp file of the first
 *      attempt removed, attempts 2, one loss (killed alone, no fault) on record. Then a cancel
 * while running: frames stop being stored, the job ends canceled with an error saying so. Then
 * SIGTERM in the middle of a batch with --drain-s 2: the worker exits 0 within the drain, the job
 *      is back in the queue uncharged, and a third worker finishes it.
 *   3. A job that crashes the worker every time (MORPHD_FAULT_CRASH_LABEL) ends in the dead
 *      letter stream, failed, with a message that says so.
 *
 * Skips (77) without redis-server or without MORPHD_BIN. Every process it starts is stopped and
 * reaped, also when a check fails.
 */
#define _GNU_SOURCE
#include "test_util.h"
#include "redis_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jobs/queue.h"
#include "mesh/mesh.h"
#include "storage/storage.h"

#define PREFIX "t:"

/* ---- Processes ---- */

#define MAX_CHILDREN 32
static pid_t children[MAX_CHILDREN];
static int child_count;

static void forget_child(pid_t pid)
{
    for (int i = 0; i < child_count; i++)
        if (children[i] == pid)
            children[i] = 0;
}

static void stop_all_children(void)
{
    for (int i = 0; i < child_count; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
    }
}

/* Starts argv with stdout and stderr appended to log; extra_env ("NAME=value") may be NULL. */
static pid_t spawn(char *const argv[], const char *log, const char *extra_env)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core); /* the fault hook aborts on purpose */
        if (extra_env != NULL)
            putenv((char *)extra_env);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid > 0 && child_count < MAX_CHILDREN)
        children[child_count++] = pid;
    return pid;
}

/* Waits up to timeout_s for pid to exit; returns its wait status, or -1 (still running). */
static int wait_exit(pid_t pid, double timeout_s)
{
    double end = md_now() + timeout_s;
    while (md_now() < end) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            forget_child(pid);
            return status;
        }
        usleep(20000);
    }
    return -1;
}

static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

/* ---- Redis ---- */

/* HGET as a malloc'ed string ("" when absent). */
static char *hget(redisContext *c, const char *key, const char *field)
{
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    char *s = strdup(r != NULL && r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return s;
}

static long long hget_ll(redisContext *c, const char *key, const char *field)
{
    char *s = hget(c, key, field);
    long long v = s[0] ? atoll(s) : -1;
    free(s);
    return v;
}

static long long int_cmd(redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *r = redisCommand(c, fmt, a, b);
    long long v = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

/* Checks that the job is in {p}expiring, due retention_s after its finished_at (the janitor's
 * to-do list, docs/server.md). */
static void check_expiring(redisContext *c, const char *id, double retention_s)
{
    char key[128];
    snprintf(key, sizeof key, PREFIX "job:%s", id);
    char *finished = hget(c, key, "finished_at");
    redisReply *r = redisCommand(c, "ZSCORE " PREFIX "expiring %s", id);
    double score = r != NULL && r->type == REDIS_REPLY_STRING ? strtod(r->str, NULL) : -1;
    freeReplyObject(r);
    CHECK(finished[0] != '\0');
    CHECK_NEAR(strtod(finished, NULL) + retention_s, score, 5.0);
    free(finished);
}

static char *job_status(redisContext *c, const char *id)
{
    char key[128];
    snprintf(key, sizeof key, PREFIX "job:%s", id);
    return hget(c, key, "status");
}

/* Polls until the job reaches a terminal status; returns it (malloc'ed). */
static char *wait_terminal(redisContext *c, const char *id, double timeout_s)
{
    double end = md_now() + timeout_s;
    for (;;) {
        char *st = job_status(c, id);
        if (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
            strcmp(st, "canceled") == 0 || md_now() > end)
            return st;
        free(st);
        sleep_ms(50);
    }
}

/* ---- Jobs ---- */

typedef struct fixture {
    redisContext *redis;
    stg *store;
    uint8_t *canon[2]; /* canonical sample_A and sample_B */
    size_t canon_len[2];
} fixture;

static int make_inputs(fixture *fx, const char *sample_dir)
{
    md_limits lim;
    md_limits_default(&lim);
    for (int side = 0; side < 2; side++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/sample_%c.obj", sample_dir, side ? 'B' : 'A');
        md_error err;
        md_error_clear(&err);
        mesh *m = NULL;
        int rc = mesh_load(path, &lim, &m, &err);
        if (rc == 0)
            rc = mesh_pad_textures(m, &err); /* as the api does before storing */
        if (rc == 0)
            rc = mesh_encode_canonical(m, &fx->canon[side], &fx->canon_len[side], &err);
        mesh_free(m);
        CHECK_OK(rc, &err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Stores inputs (unless skip_inputs) and writes the hash and the stream entry like the api. */
static void enqueue_kind(fixture *fx, char id[JQ_ID_LEN + 1], const char *kind, const char *spec,
                         uint32_t frames_total, int skip_inputs, const char *status)
{
    int render = strcmp(kind, "render") == 0;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(jq_id_new(id, &err), &err);
    if (!skip_inputs) {
        for (int side = 0; side < (render ? 1 : 2); side++) {
            char key[256];
            snprintf(key, sizeof key, "jobs/%s/inputs/%s.mdm", id,
                     render ? "mesh"
                     : side ? "target"
                            : "source");
            CHECK_OK(stg_put(fx->store, key, fx->canon[side], fx->canon_len[side], &err), &err);
        }
    }
    char key[128], created[32], total[16];
    snprintf(key, sizeof key, PREFIX "job:%s", id);
    snprintf(created, sizeof created, "%.3f", jq_wall_now());
    snprintf(total, sizeof total, "%u", frames_total);
    const char *inputs = "{\"vertices\":6082,\"faces\":12160,\"textures\":2,"
                         "\"source\":{\"name\":\"sample_A\",\"format\":\"obj\"},"
                         "\"target\":{\"name\":\"sample_B\",\"format\":\"obj\"}}";
    redisReply *r = redisCommand(fx->redis,
                                 "HSET %s id %s kind %s owner test status %s spec %s inputs %s "
                                 "created_at %s frames_done 0 frames_total %s stage queued",
                                 key, id, kind, status, spec, inputs, created, total);
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = redisCommand(fx->redis, "XADD " PREFIX "jobs * id %s", id);
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING);
    if (r != NULL && r->type == REDIS_REPLY_STRING)
        freeReplyObject(redisCommand(fx->redis, "HSET %s entry %s", key, r->str));
    freeReplyObject(r);
}

static void enqueue(fixture *fx, char id[JQ_ID_LEN + 1], const char *spec, uint32_t frames_total,
                    int skip_inputs, const char *status)
{
    enqueue_kind(fx, id, "morph", spec, frames_total, skip_inputs, status);
}

/* Compares every frame `morph run` writes for args with the job's frames in storage. Returns
 * the number of frames compared. */
static int compare_with_morph_run(fixture *fx, const char *tmp, const char *id,
                                  const char *sample_dir, const char *args)
{
    char out[4400], cmd[16384];
    snprintf(out, sizeof out, "%s/ref-%s", tmp, id);
    snprintf(cmd, sizeof cmd,
             "'%s' run '%s/sample_A.obj' '%s/sample_B.obj' -o '%s' -q --engine cpu %s",
             getenv("MORPH_BIN"), sample_dir, sample_dir, out, args);
    CHECK_INT(0, system(cmd));
    char dir[4500];
    snprintf(dir, sizeof dir, "%s/frames", out);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int compared = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".png") == NULL)
            continue;
        char path[4900], key[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(key, sizeof key, "jobs/%s/frames/%s", id, e->d_name);
        md_error err;
        md_error_clear(&err);
        char *ref = NULL;
        size_t ref_len = 0;
        uint8_t *got = NULL;
        size_t got_len = 0;
        CHECK_OK(md_read_file(path, 1 << 26, &ref, &ref_len, &err), &err);
        int rc = stg_get(fx->store, key, 1 << 26, &got, &got_len, &err);
        CHECK_OK(rc, &err);
        if (rc == 0 && ref != NULL) {
            if (ref_len != got_len || memcmp(ref, got, ref_len) != 0) {
                fprintf(stderr, "frame %s differs from morph run (%zu vs %zu bytes)\n", e->d_name,
                        got_len, ref_len);
                test_failures++;
            }
            compared++;
        }
        md_free(ref);
        md_free(got);
    }
    if (d != NULL)
        closedir(d);
    return compared;
}

static int count_objects_fn(void *user, const char *key, uint64_t size)
{
    (void)key;
    (void)size;
    (*(int *)user)++;
    return 0;
}

static int count_objects(fixture *fx, const char *prefix)
{
    int n = 0;
    md_error err;
    CHECK_OK(stg_list(fx->store, prefix, count_objects_fn, &n, &err), &err);
    return n;
}

static long long metric(fixture *fx, const char *field)
{
    return hget_ll(fx->redis, PREFIX "metrics", field);
}

/* ---- Workers ---- */

static char redis_url[64], storage_url[4400], worker_log[4400];
static const char *morphd;

static pid_t start_worker(const char *name, const char *extra_args, const char *env)
{
    char args[1024];
    snprintf(args, sizeof args, "%s", extra_args);
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)morphd;
    argv[n++] = "worker";
    argv[n++] = "--redis";
    argv[n++] = redis_url;
    argv[n++] = "--storage";
    argv[n++] = storage_url;
    argv[n++] = "--prefix";
    argv[n++] = PREFIX;
    argv[n++] = "--name";
    argv[n++] = (char *)name;
    argv[n++] = "--engine";
    argv[n++] = "cpu";
    for (char *tok = strtok(args, " "); tok != NULL && n < 38; tok = strtok(NULL, " "))
        argv[n++] = tok; /* args outlives the fork */
    argv[n] = NULL;
    return spawn(argv, worker_log, env);
}

static void check_clean_stop(fixture *fx, pid_t pid, const char *name)
{
    kill(pid, SIGTERM);
    int status = wait_exit(pid, 30);
    CHECK(status != -1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char key[128];
    snprintf(key, sizeof key, PREFIX "worker:%s", name);
    CHECK_INT(0, int_cmd(fx->redis, "EXISTS %s", key, NULL));
    redisReply *r = redisCommand(fx->redis, "ZSCORE " PREFIX "workers %s", name);
    CHECK(r != NULL && r->type == REDIS_REPLY_NIL);
    freeReplyObject(r);
}

/* ---- The scenarios ---- */

static void test_batch(fixture *fx, const char *tmp, const char *samples)
{
    char good1[JQ_ID_LEN + 1], good2[JQ_ID_LEN + 1], missing[JQ_ID_LEN + 1],
        canceled[JQ_ID_LEN + 1];
    md_error err;
    md_error_clear(&err);
    enqueue(fx, good1, "{\"frames\":5,\"width\":96,\"height\":80,\"samples\":4}", 5, 0, "queued");
    enqueue(fx, good2, "{\"weights\":[0,0.25,1],\"width\":64,\"height\":64,\"samples\":1}", 3, 0,
            "queued");
    enqueue(fx, missing, "{\"frames\":2,\"width\":32,\"height\":32}", 2, 1, "queued");
    enqueue(fx, canceled, "{\"frames\":2,\"width\":32,\"height\":32}", 2, 0, "canceled");
    char render[JQ_ID_LEN + 1];
    enqueue_kind(fx, render, "render",
                 "{\"kind\":\"render\",\"views\":{\"turntable\":{\"count\":3,\"elevation\":10}},"
                 "\"width\":48,\"height\":48}",
                 3, 0, "queued");

    /* Everything is queued before the worker starts, so its first read takes all four. */
    pid_t w = start_worker("w1", "--batch-window-ms 200 --heartbeat-ms 100 --lease-ms 5000", NULL);
    char *s1 = wait_terminal(fx->redis, good1, 120);
    char *s2 = wait_terminal(fx->redis, good2, 120);
    char *s3 = wait_terminal(fx->redis, missing, 120);
    CHECK(strcmp(s1, "succeeded") == 0);
    CHECK(strcmp(s2, "succeeded") == 0);
    CHECK(strcmp(s3, "failed") == 0);
    char *s4 = wait_terminal(fx->redis, render, 120);
    CHECK(strcmp(s4, "succeeded") == 0);
    free(s4);
    /* A render job: one frame per view, named by view, in the same engine batch. */
    for (int v = 0; v < 3; v++) {
        char fkey[256];
        uint64_t size = 0;
        snprintf(fkey, sizeof fkey, "jobs/%s/frames/%04d_sample_A-view.png", render, v);
        CHECK_OK(stg_head(fx->store, fkey, &size, &err), &err);
    }
    free(s1);
    free(s2);
    free(s3);

    char key[128];
    snprintf(key, sizeof key, PREFIX "job:%s", missing);
    char *error = hget(fx->redis, key, "error");
    if (strstr(error, "loading inputs") == NULL || strstr(error, "source.mdm") == NULL) {
        fprintf(stderr, "unexpected error for missing inputs: '%s'\n", error);
        test_failures++;
    }
    free(error);

    CHECK_INT(
        5, compare_with_morph_run(fx, tmp, good1, samples, "--frames 5 --size 96x80 --samples 4"));
    CHECK_INT(3, compare_with_morph_run(fx, tmp, good2, samples,
                                        "--weights 0,0.25,1 --size 64x64 --samples 1"));

    snprintf(key, sizeof key, PREFIX "job:%s", good1);
    CHECK_INT(5, hget_ll(fx->redis, key, "frames_done"));
    CHECK_INT(1, hget_ll(fx->redis, key, "attempts"));
    char *stage = hget(fx->redis, key, "stage");
    CHECK(strcmp(stage, "done") == 0);
    free(stage);
    CHECK(int_cmd(fx->redis, "TTL %s", key, NULL) > 0);
    check_expiring(fx->redis, good1, 604800);
    check_expiring(fx->redis, missing, 604800);
    char *arts = hget(fx->redis, key, "artifacts");
    json_t *a = json_loads(arts, 0, NULL);
    /* 5 frames, manifest.json, session.log and the default heatmaps of a textured pair:
     * shape_displacement_components.png, texture_difference_components.png, 3 UV maps. */
    CHECK_INT(12, json_array_size(a));
    int has_manifest = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(a, i), "name"));
        has_manifest |= name != NULL && strcmp(name, "manifest.json") == 0;
        CHECK(json_integer_value(json_object_get(json_array_get(a, i), "bytes")) > 0);
    }
    CHECK(has_manifest);
    json_decref(a);
    free(arts);

    /* The canceled job was skipped and its entry removed; nothing is left in the stream. */
    char *st = job_status(fx->redis, canceled);
    CHECK(strcmp(st, "canceled") == 0);
    free(st);
    /* The api canceled it without an EXPIRE (it does not know retention_s); the worker that
     * skipped the entry gave it one, and put it on the janitor's list. */
    snprintf(key, sizeof key, PREFIX "job:%s", canceled);
    CHECK(int_cmd(fx->redis, "TTL %s", key, NULL) > 0);
    redisReply *zs = redisCommand(fx->redis, "ZSCORE " PREFIX "expiring %s", canceled);
    CHECK(zs != NULL && zs->type == REDIS_REPLY_STRING);
    freeReplyObject(zs);
    CHECK_INT(0, int_cmd(fx->redis, "XLEN " PREFIX "jobs", NULL, NULL));

    /* The two good morph jobs and the render job went through one engine batch. */
    CHECK_INT(1, metric(fx, "h|morphd_batch_jobs||4"));
    CHECK_INT(1, metric(fx, "h|morphd_batch_jobs||count"));
    CHECK_INT(2, metric(fx, "c|morphd_jobs_finished_total|kind=\"morph\",status=\"succeeded\""));
    CHECK_INT(1, metric(fx, "c|morphd_jobs_finished_total|kind=\"render\",status=\"succeeded\""));
    CHECK_INT(1, metric(fx, "c|morphd_jobs_finished_total|kind=\"morph\",status=\"failed\""));
    CHECK_INT(11, metric(fx, "c|morphd_frames_rendered_total|"));
    CHECK_INT(4, metric(fx, "h|morphd_queue_wait_seconds||count"));

    /* A live worker has a fresh record. */
    CHECK_INT(1, int_cmd(fx->redis, "EXISTS " PREFIX "worker:%s", "w1", NULL));
    check_clean_stop(fx, w, "w1");
}

/* The long jobs' frames: big enough that an engine thread is still busy when a kill, a cancel
 * or a SIGTERM comes. ThreadSanitizer (MORPHD_TEST_TSAN, tests/CMakeLists.txt) makes the engine
 * several times slower, so its frames are 25 times cheaper there (the frame counts stay), which
 * keeps the test within its timeout; the normal build keeps the full size. */
#ifdef MORPHD_TEST_TSAN
#define LONG_SIDE "128"
#define LONG_SAMPLES "4"
#else
#define LONG_SIDE "320"
#define LONG_SAMPLES "16"
#endif
#define LONG_SPEC(frames)                                                                          \
    "{\"frames\":" #frames ",\"width\":" LONG_SIDE ",\"height\":" LONG_SIDE                        \
    ",\"samples\":" LONG_SAMPLES "}"
#define LONG_ARGS(frames)                                                                          \
    "--frames " #frames " --size " LONG_SIDE "x" LONG_SIDE " --samples " LONG_SAMPLES

static void test_kill_and_reclaim(fixture *fx, const char *tmp, const char *samples)
{
    char id[JQ_ID_LEN + 1], key[128];
    /* Big enough that one engine thread is still busy when the kill comes. */
    const int frames = 120;
    enqueue(fx, id, LONG_SPEC(120), frames, 0, "queued");
    snprintf(key, sizeof key, PREFIX "job:%s", id);
    pid_t a = start_worker("w2", "--threads 1 --lease-ms 1000 --heartbeat-ms 200", NULL);
    double end = md_now() + 120;
    while (md_now() < end && hget_ll(fx->redis, key, "frames_done") < 2)
        sleep_ms(10);
    long long done_before = hget_ll(fx->redis, key, "frames_done");
    CHECK(done_before >= 2 && done_before < frames);
    kill(a, SIGKILL);
    CHECK(wait_exit(a, 10) != -1);

    /* A frame the second attempt will not write must not survive it. */
    md_error err;
    char stale[256];
    snprintf(stale, sizeof stale, "jobs/%s/frames/9999_stale.png", id);
    CHECK_OK(stg_put(fx->store, stale, "x", 1, &err), &err);

    /* A write the killed worker never committed (another pid's temp file) must be swept. */
    char partial[4600];
    snprintf(partial, sizeof partial, "%s/jobs/%s/frames/.tmp.999999999.7",
             stg_url(fx->store) + strlen("file://"), id);
    FILE *pf = fopen(partial, "w");
    CHECK(pf != NULL);
    if (pf != NULL)
        fclose(pf);

    pid_t b = start_worker("w3", "--lease-ms 1000 --heartbeat-ms 200 --drain-s 2", NULL);
    char *st = wait_terminal(fx->redis, id, 180);
    CHECK(strcmp(st, "succeeded") == 0);
    free(st);
    CHECK(access(partial, F_OK) != 0);
    CHECK_INT(2, hget_ll(fx->redis, key, "attempts"));
    /* It was rendering alone when SIGKILL came: a loss with no fault recorded, not a crash. */
    CHECK_INT(1, hget_ll(fx->redis, key, "lost"));
    CHECK(hget_ll(fx->redis, key, "crashes") <= 0);
    CHECK_INT(frames, hget_ll(fx->redis, key, "frames_done"));
    char prefix[128];
    snprintf(prefix, sizeof prefix, "jobs/%s/frames/", id);
    CHECK_INT(frames, count_objects(fx, prefix));
    CHECK_INT(frames, compare_with_morph_run(fx, tmp, id, samples, LONG_ARGS(120)));
    CHECK_INT(1, metric(fx, "c|morphd_redeliveries_total|"));
    CHECK_INT(0, int_cmd(fx->redis, "XLEN " PREFIX "jobs", NULL, NULL));

    /* Cancel while running: the worker stops storing frames and ends the job canceled. */
    enqueue(fx, id, LONG_SPEC(400), 400, 0, "queued");
    snprintf(key, sizeof key, PREFIX "job:%s", id);
    end = md_now() + 60;
    while (md_now() < end && hget_ll(fx->redis, key, "frames_done") < 1)
        sleep_ms(5);
    freeReplyObject(redisCommand(fx->redis, "HSET %s cancel_requested 1", key));
    st = wait_terminal(fx->redis, id, 120);
    CHECK(strcmp(st, "canceled") == 0);
    free(st);
    long long stored = hget_ll(fx->redis, key, "frames_done");
    CHECK(stored >= 1 && stored < 400);
    snprintf(prefix, sizeof prefix, "jobs/%s/frames/", id);
    CHECK_INT(stored, count_objects(fx, prefix));
    char *why = hget(fx->redis, key, "error");
    if (why == NULL || strstr(why, "canceled while running") == NULL) {
        fprintf(stderr, "expected the error to say the job was canceled while running, got '%s'\n",
                why ? why : "(none)");
        test_failures++;
    }
    free(why);
    CHECK_INT(1, metric(fx, "c|morphd_jobs_finished_total|kind=\"morph\",status=\"canceled\""));

    /* SIGTERM in the middle of a batch, --drain-s 2: frames stop after a second, the worker
     * exits 0 well within the drain (plus start-up slack), the unfinished job is back in the
     * queue with no crash charged, and another worker finishes it. */
    enqueue(fx, id, LONG_SPEC(400), 400, 0, "queued");
    snprintf(key, sizeof key, PREFIX "job:%s", id);
    end = md_now() + 60;
    while (md_now() < end && hget_ll(fx->redis, key, "frames_done") < 1)
        sleep_ms(5);
    double t0 = md_now();
    check_clean_stop(fx, b, "w3");
    double took = md_now() - t0;
    if (took > 8) {
        fprintf(stderr,
                "expected the worker gone within ~2 s of SIGTERM (--drain-s 2), took %.1f s\n",
                took);
        test_failures++;
    }
    st = job_status(fx->redis, id);
    CHECK(strcmp(st, "queued") == 0);
    free(st);
    CHECK(hget_ll(fx->redis, key, "crashes") <= 0);
    CHECK(hget_ll(fx->redis, key, "batch_crashes") <= 0);
    CHECK_INT(1, int_cmd(fx->redis, "XLEN " PREFIX "jobs", NULL, NULL));
    pid_t c = start_worker("w4", "--lease-ms 1000 --heartbeat-ms 200", NULL);
    st = wait_terminal(fx->redis, id, 240);
    CHECK(strcmp(st, "succeeded") == 0);
    free(st);
    CHECK_INT(400, hget_ll(fx->redis, key, "frames_done"));
    snprintf(prefix, sizeof prefix, "jobs/%s/frames/", id);
    CHECK_INT(400, count_objects(fx, prefix));
    check_clean_stop(fx, c, "w4");
}

static void test_dead_letter(fixture *fx)
{
    char id[JQ_ID_LEN + 1], key[128];
    enqueue(fx, id, "{\"frames\":2,\"width\":32,\"height\":32,\"label\":\"crash-me\"}", 2, 0,
            "queued");
    snprintf(key, sizeof key, PREFIX "job:%s", id);
    const char *args = "--max-attempts 2 --lease-ms 300 --heartbeat-ms 100";
    int crashes = 0;
    pid_t live = -1;
    /* Deliveries 1 and 2 crash the worker; the third claim dead-letters the job. */
    for (int round = 0; round < 5; round++) {
        char name[32];
        snprintf(name, sizeof name, "crash%d", round);
        pid_t w = start_worker(name, args, "MORPHD_FAULT_CRASH_LABEL=crash-me");
        int status = wait_exit(w, 15);
        if (status == -1) {
            live = w; /* it survived: the job must be dead-lettered by now */
            break;
        }
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        crashes++;
    }
    CHECK_INT(2, crashes);
    char *st = wait_terminal(fx->redis, id, 30);
    CHECK(strcmp(st, "failed") == 0);
    free(st);
    char *error = hget(fx->redis, key, "error");
    if (strstr(error, "dead-lettered") == NULL || strstr(error, "2 time(s)") == NULL ||
        strstr(error, "max_attempts=2") == NULL) {
        fprintf(stderr, "unexpected dead-letter error: '%s'\n", error);
        test_failures++;
    }
    free(error);
    CHECK_INT(1, int_cmd(fx->redis, "XLEN " PREFIX "dead", NULL, NULL));
    CHECK(int_cmd(fx->redis, "TTL %s", key, NULL) > 0);
    check_expiring(fx->redis, id, 604800);
    CHECK_INT(0, int_cmd(fx->redis, "XLEN " PREFIX "jobs", NULL, NULL));
    CHECK_INT(1, metric(fx, "c|morphd_dead_lettered_total|"));
    redisReply *r = redisCommand(fx->redis, "XRANGE " PREFIX "dead - +");
    int found = 0;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        redisReply *fields = r->element[0]->element[1];
        for (size_t i = 0; i + 1 < fields->elements; i += 2)
            if (strcmp(fields->element[i]->str, "id") == 0)
                found = strcmp(fields->element[i + 1]->str, id) == 0;
    }
    CHECK(found);
    freeReplyObject(r);
    if (live > 0)
        check_clean_stop(fx, live, "crash2");
}

int main(void)
{
    morphd = getenv("MORPHD_BIN");
    const char *fallback = getenv("MORPHD_BIN_DEFAULT");
    if (morphd == NULL && fallback != NULL && access(fallback, X_OK) == 0)
        morphd = fallback; /* the morphd target is defined after tests/ is read */
    if (morphd == NULL || getenv("MORPH_BIN") == NULL) {
        fprintf(stderr, "MORPHD_BIN or MORPH_BIN is not set (run through ctest); skipping\n");
        return TEST_SKIP;
    }
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        fprintf(stderr, "redis-server not found; skipping\n");
        return TEST_SKIP;
    }
    atexit(stop_all_children);
    signal(SIGPIPE, SIG_IGN);

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", test_tmpdir("worker"));
    char samples[4200], cmd[9000], store_dir[4200], redis_log[4200];
    snprintf(samples, sizeof samples, "%s/samples", tmp);
    snprintf(cmd, sizeof cmd, "'%s' sample '%s' >/dev/null", getenv("MORPH_BIN"), samples);
    CHECK_INT(0, system(cmd));
    snprintf(store_dir, sizeof store_dir, "%s/store", tmp);
    snprintf(storage_url, sizeof storage_url, "file://%s", store_dir);
    snprintf(worker_log, sizeof worker_log, "%s/workers.log", tmp);
    snprintf(redis_log, sizeof redis_log, "%s/redis.log", tmp);

    int port = redis_fixture_free_port();
    CHECK(port > 0);
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", port);
    char *redis_argv[] = {"redis-server", "--port", port_text,      "--bind", "127.0.0.1",
                          "--save",       "",       "--appendonly", "no",     NULL};
    pid_t redis = spawn(redis_argv, redis_log, NULL);

    fixture fx;
    memset(&fx, 0, sizeof fx);
    md_error err;
    md_error_clear(&err);
    fx.redis = redis_fixture_connect(port, 10);
    CHECK(fx.redis != NULL);
    int rc = fx.redis ? stg_open(storage_url, &fx.store, &err) : MD_EUNAVAIL;
    CHECK_OK(rc, &err);
    /* The api creates the consumer group when it starts (docs/server.md); entries added before
     * the group exists would never be delivered to it. */
    if (fx.redis != NULL) {
        redisReply *r = redisCommand(fx.redis, "XGROUP CREATE " PREFIX "jobs workers $ MKSTREAM");
        CHECK(r != NULL && r->type == REDIS_REPLY_STATUS);
        freeReplyObject(r);
    }
    if (rc == 0 && make_inputs(&fx, samples) == 0) {
        test_batch(&fx, tmp, samples);
        test_kill_and_reclaim(&fx, tmp, samples);
        test_dead_letter(&fx);
    }
    if (test_failures > 0) {
        snprintf(cmd, sizeof cmd, "tail -n 40 '%s' >&2", worker_log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no worker log)\n");
    }

    if (fx.redis != NULL)
        redisFree(fx.redis);
    stg_free(fx.store);
    md_free(fx.canon[0]);
    md_free(fx.canon[1]);
    kill(redis, SIGTERM);
    CHECK(wait_exit(redis, 10) != -1);
    stop_all_children();
    return test_done();
}
