/*
 * test_storage_s3.c — the s3:// backend against a real S3 server: s3rver (npm, installed into
 * tests/integration/node_modules by the integration_npm_ci fixture), started here on a free
 * 127.0.0.1 port with a data folder under $MORPHD_TEST_TMP and the bucket made by
 * --configure-bucket, credentials S3RVER/S3RVER (s3rver checks the access key, not the V4
 * signature: test_sigv4 holds sigv4.c to AWS's published examples). The behaviour checks are those
 * the file backend passes in test_storage.c: round trips, absent objects, listing in byte order and
 * by prefix (over several ListObjectsV2 pages: MORPHD_S3_LIST_PAGE=3), delete and delete_prefix,
 * writers (invisible until commit, abort, a prefix delete failing the commit; multipart uploads
 * past 8 MiB), positional reads,
 * a replaced object under an open reader, many threads putting at once, the readiness probe,
 * wrong credentials, and the shape of presigned URLs (their signature is test_sigv4's; fetching
 * one is the integration test storage_s3's). Exits 77 (skipped) when node or s3rver is absent.
 */
#define _GNU_SOURCE
#include "test_util.h"
#include "storage_fixture.h"

#include "storage/storage.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUCKET "morphd-test"

static pid_t server_pid = -1;
static int server_port;

/* ---- The server ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void server_stop(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
}

/* Starts s3rver; exits 77 when node or s3rver is missing, 1 when it does not come up. */
static void server_start(void)
{
    const char *node = getenv("MORPHD_NODE");
    const char *s3rver = getenv("MORPHD_S3RVER");
    if (node == NULL || node[0] == '\0' || access(node, X_OK) != 0) {
        printf("SKIP: node not found (MORPHD_NODE; deploy/install-deps.sh --test)\n");
        exit(TEST_SKIP);
    }
    if (s3rver == NULL || access(s3rver, R_OK) != 0) {
        printf("SKIP: s3rver not installed (MORPHD_S3RVER=%s; npm ci in tests/integration)\n",
               s3rver != NULL ? s3rver : "");
        exit(TEST_SKIP);
    }
    const char *dir = test_tmpdir("storage_s3");
    char data[4200], log[4200];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(log, sizeof log, "%s/s3rver.log", dir);
    mkdir(data, 0755);
    for (int attempt = 0; attempt < 3; attempt++) {
        server_port = free_port();
        char port[16];
        snprintf(port, sizeof port, "%d", server_port);
        server_pid = fork();
        if (server_pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            /* s3rver makes continuation tokens with DES, which OpenSSL 3 keeps in its legacy
             * provider. */
            execl(node, node, "--openssl-legacy-provider", s3rver, "-d", data, "-a", "127.0.0.1",
                  "-p", port, "--configure-bucket", BUCKET, (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 300; i++) {
            if (port_open(server_port))
                return;
            if (waitpid(server_pid, NULL, WNOHANG) == server_pid) {
                server_pid = -1;
                break;
            }
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        server_stop();
    }
    fprintf(stderr, "s3rver did not start; see %s\n", log);
    exit(1);
}

static stg *open_store(const char *url)
{
    md_error err;
    stg *s = NULL;
    int rc = stg_open(url, &s, &err);
    if (rc != 0) {
        fprintf(stderr, "stg_open %s: %s\n", url, err.msg);
        server_stop();
        exit(1);
    }
    return s;
}

/* ---- Helpers ---- */

/* ---- Checks ---- */

static void test_roundtrip(stg *s)
{
    md_error err;
    sf_put_text(s, "a/b/c.txt", "hello");
    sf_check_text(s, "a/b/c.txt", "hello");
    sf_put_text(s, "a/b/c.txt", "replaced, longer");
    sf_check_text(s, "a/b/c.txt", "replaced, longer");
    sf_put_text(s, "empty", "");
    sf_check_text(s, "empty", "");
    uint64_t size = 99;
    CHECK_OK(stg_head(s, "a/b/c.txt", &size, &err), &err);
    CHECK_INT(16, size);
    CHECK_OK(stg_head(s, "empty", &size, &err), &err);
    CHECK_INT(0, size);
    CHECK_INT(MD_ENOENT, stg_head(s, "a/b/nothing", &size, &err));
    CHECK_MSG(&err, "no object 'a/b/nothing'");
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_INT(MD_ENOENT, stg_get(s, "a/nothing", 100, &data, &len, &err));
    CHECK_INT(MD_ELIMIT, stg_get(s, "a/b/c.txt", 4, &data, &len, &err));
    CHECK(data == NULL);
    /* Binary bytes, NULs included. */
    uint8_t bin[3000];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (uint8_t)(i * 7);
    CHECK_OK(stg_put(s, "bin", bin, sizeof bin, &err), &err);
    CHECK_OK(stg_get(s, "bin", sizeof bin, &data, &len, &err), &err);
    CHECK_INT(sizeof bin, len);
    CHECK(data != NULL && memcmp(data, bin, sizeof bin) == 0);
    md_free(data);
    CHECK_OK(stg_delete(s, "a/b/c.txt", &err), &err);
    CHECK_INT(MD_ENOENT, stg_head(s, "a/b/c.txt", &size, &err));
    CHECK_OK(stg_delete(s, "a/b/c.txt", &err), &err); /* absent: fine */
    CHECK_OK(stg_delete(s, "empty", &err), &err);
    CHECK_OK(stg_delete(s, "bin", &err), &err);
    CHECK_INT(MD_EINVAL, stg_put(s, "../x", "x", 1, &err));
}

static void test_list(stg *s)
{
    md_error err;
    /* Byte order: '-' < '.' < '/' < '0'; MORPHD_S3_LIST_PAGE=3 makes this several pages. */
    const char *keys[] = {"l/a0", "l/a/b", "l/a.b", "l/a-b", "l/ab/c", "l/abc/x", "l/b", "m/z"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        sf_put_text(s, keys[i], keys[i]);
    sf_listing all = sf_list_of(s, "l/");
    SF_CHECK_LIST(all, "l/a-b", "l/a.b", "l/a/b", "l/a0", "l/ab/c", "l/abc/x", "l/b");
    CHECK_INT(5, all.sizes[0]);
    sf_listing ab = sf_list_of(s, "l/ab");
    SF_CHECK_LIST(ab, "l/ab/c", "l/abc/x");
    sf_listing abs = sf_list_of(s, "l/ab/");
    SF_CHECK_LIST(abs, "l/ab/c");
    sf_listing none = sf_list_of(s, "nothing/");
    CHECK_INT(0, none.count);
    sf_listing every = sf_list_of(s, "");
    CHECK_INT(8, every.count);
    CHECK_INT(MD_EINVAL, stg_list(s, "/x", sf_on_key, &none, &err));

    CHECK_OK(stg_delete_prefix(s, "l/ab", &err), &err);
    sf_listing left = sf_list_of(s, "l/");
    SF_CHECK_LIST(left, "l/a-b", "l/a.b", "l/a/b", "l/a0", "l/b");
    CHECK_OK(stg_delete_prefix(s, "l/", &err), &err);
    sf_listing gone = sf_list_of(s, "l/");
    CHECK_INT(0, gone.count);
    sf_listing m = sf_list_of(s, "m/");
    SF_CHECK_LIST(m, "m/z");
    CHECK_OK(stg_delete(s, "m/z", &err), &err);
    CHECK_INT(MD_EINVAL, stg_delete_prefix(s, "", &err));
    /* Nothing to sweep on S3: uncommitted writes leave nothing behind. */
    size_t removed = 9;
    CHECK_OK(stg_sweep_partial(s, "l/", &removed, &err), &err);
    CHECK_INT(0, removed);
}

static void test_writer(stg *s)
{
    md_error err;
    stg_writer *w = NULL;
    sf_put_text(s, "w/obj", "old");
    CHECK_OK(stg_writer_open(s, "w/obj", &w, &err), &err);
    CHECK_OK(stg_writer_write(w, "new ", 4, &err), &err);
    CHECK_OK(stg_writer_write(w, "content", 7, &err), &err);
    sf_check_text(s, "w/obj", "old"); /* invisible until commit */
    CHECK_OK(stg_writer_commit(w, &err), &err);
    sf_check_text(s, "w/obj", "new content");

    CHECK_OK(stg_writer_open(s, "w/aborted", &w, &err), &err);
    CHECK_OK(stg_writer_write(w, "x", 1, &err), &err);
    stg_writer_abort(w);
    uint64_t size;
    CHECK_INT(MD_ENOENT, stg_head(s, "w/aborted", &size, &err));

    /* A prefix delete while a writer is open: the commit fails, nothing appears. */
    CHECK_OK(stg_writer_open(s, "w/late", &w, &err), &err);
    CHECK_OK(stg_writer_write(w, "x", 1, &err), &err);
    CHECK_OK(stg_delete_prefix(s, "w/", &err), &err);
    CHECK(stg_writer_commit(w, &err) < 0);
    CHECK_MSG(&err, "deleted while it was written");
    CHECK_INT(MD_ENOENT, stg_head(s, "w/late", &size, &err));
    CHECK_INT(MD_ENOENT, stg_head(s, "w/obj", &size, &err));

    /* A bigger object through the writer, in pieces. */
    CHECK_OK(stg_writer_open(s, "w/big", &w, &err), &err);
    uint8_t chunk[65536];
    for (int i = 0; i < 40; i++) {
        memset(chunk, i, sizeof chunk);
        CHECK_OK(stg_writer_write(w, chunk, sizeof chunk, &err), &err);
    }
    CHECK_OK(stg_writer_commit(w, &err), &err);
    CHECK_OK(stg_head(s, "w/big", &size, &err), &err);
    CHECK_INT(40 * 65536, size);
    CHECK_OK(stg_delete(s, "w/big", &err), &err);
}

/* Objects past 8 MiB go up as multipart uploads: 20 MiB and a bit, read back across the part
 * boundaries; an aborted and a canceled multipart writer leave nothing. */
static uint8_t pattern(uint64_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13);
}

static void test_multipart(stg *s)
{
    md_error err;
    const size_t chunk = (1u << 20) + 7, total = (20u << 20) + 123;
    uint8_t *buf = md_malloc(chunk);
    stg_writer *w = NULL;
    CHECK_OK(stg_writer_open(s, "mp/big", &w, &err), &err);
    for (size_t off = 0; off < total && w != NULL;) {
        size_t n = total - off < chunk ? total - off : chunk;
        for (size_t i = 0; i < n; i++)
            buf[i] = pattern(off + i);
        CHECK_OK(stg_writer_write(w, buf, n, &err), &err);
        off += n;
    }
    uint64_t size = 0;
    CHECK_INT(MD_ENOENT, stg_head(s, "mp/big", &size, &err)); /* invisible until commit */
    CHECK_OK(stg_writer_commit(w, &err), &err);
    CHECK_OK(stg_head(s, "mp/big", &size, &err), &err);
    CHECK_INT(total, size);
    stg_reader *r = NULL;
    CHECK_OK(stg_reader_open(s, "mp/big", &r, &err), &err);
    const uint64_t offsets[] = {0, (8u << 20) - 100, (16u << 20) - 5, total - 50};
    for (size_t k = 0; r != NULL && k < sizeof offsets / sizeof *offsets; k++) {
        int64_t n = stg_reader_read(r, offsets[k], buf, 200, &err);
        int64_t want = total - offsets[k] < 200 ? (int64_t)(total - offsets[k]) : 200;
        CHECK_INT(want, n);
        int same = 1;
        for (int64_t i = 0; i < n && i < want; i++)
            same &= buf[i] == pattern(offsets[k] + (uint64_t)i);
        if (!same)
            fprintf(stderr, "bytes at %llu differ from what was written\n",
                    (unsigned long long)offsets[k]);
        CHECK(same);
    }
    stg_reader_close(r);

    /* Aborted after a part went up; and a prefix delete during a multipart write. */
    memset(buf, 'a', chunk);
    CHECK_OK(stg_writer_open(s, "mp/aborted", &w, &err), &err);
    for (int i = 0; i < 9; i++)
        CHECK_OK(stg_writer_write(w, buf, chunk, &err), &err);
    stg_writer_abort(w);
    CHECK_INT(MD_ENOENT, stg_head(s, "mp/aborted", &size, &err));
    CHECK_OK(stg_writer_open(s, "mp/late", &w, &err), &err);
    for (int i = 0; i < 9; i++)
        CHECK_OK(stg_writer_write(w, buf, chunk, &err), &err);
    CHECK_OK(stg_delete_prefix(s, "mp/", &err), &err);
    CHECK(stg_writer_commit(w, &err) < 0);
    CHECK_INT(MD_ENOENT, stg_head(s, "mp/late", &size, &err));
    CHECK_INT(MD_ENOENT, stg_head(s, "mp/big", &size, &err));
    md_free(buf);
}

static void test_reader(stg *s)
{
    md_error err;
    sf_put_text(s, "r/obj", "0123456789abcdef");
    stg_reader *r = NULL;
    CHECK_OK(stg_reader_open(s, "r/obj", &r, &err), &err);
    if (r == NULL)
        return;
    CHECK_INT(16, stg_reader_size(r));
    char buf[32];
    memset(buf, 0, sizeof buf);
    CHECK_INT(4, stg_reader_read(r, 10, buf, 4, &err));
    CHECK(memcmp(buf, "abcd", 4) == 0);
    CHECK_INT(3, stg_reader_read(r, 13, buf, 10, &err)); /* short at the end */
    CHECK(memcmp(buf, "def", 3) == 0);
    CHECK_INT(0, stg_reader_read(r, 16, buf, 4, &err));
    CHECK_INT(0, stg_reader_read(r, 100, buf, 4, &err));
    CHECK_INT(16, stg_reader_read(r, 0, buf, sizeof buf, &err));
    CHECK(memcmp(buf, "0123456789abcdef", 16) == 0);
    /* Replaced under the reader: an error, never bytes of the new object (S3 keeps no old
     * versions to read on from, as the file backend's open file does). */
    sf_put_text(s, "r/obj", "ZYXWVUTSRQPONMLK");
    CHECK_INT(MD_EIO, stg_reader_read(r, 0, buf, 4, &err));
    CHECK_MSG(&err, "changed since it was opened");
    stg_reader_close(r);
    CHECK_INT(MD_ENOENT, stg_reader_open(s, "r/none", &r, &err));
    CHECK(r == NULL);
    CHECK_OK(stg_delete(s, "r/obj", &err), &err);
}

#define THREADS 8
#define PER_THREAD 12

typedef struct worker_arg {
    stg *s;
    int id;
    int failures;
    char msg[MD_ERROR_MSG_MAX];
} worker_arg;

static void *put_many(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++) {
        char key[64], body[64];
        snprintf(key, sizeof key, "t/%d/%02d", a->id, i);
        snprintf(body, sizeof body, "thread %d object %d", a->id, i);
        md_error err;
        if (stg_put(a->s, key, body, strlen(body), &err) != 0) {
            a->failures++;
            snprintf(a->msg, sizeof a->msg, "%s", err.msg);
            continue;
        }
        uint8_t *back = NULL;
        size_t len = 0;
        if (stg_get(a->s, key, 1024, &back, &len, &err) != 0 || len != strlen(body) ||
            memcmp(back, body, len) != 0) {
            a->failures++;
            snprintf(a->msg, sizeof a->msg, "read back %.40s: %.400s", key, err.msg);
        }
        md_free(back);
    }
    return NULL;
}

static void test_threads(stg *s)
{
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){.s = s, .id = i};
        pthread_create(&th[i], NULL, put_many, &args[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (args[i].failures != 0)
            fprintf(stderr, "thread %d: %d failures, last: %s\n", i, args[i].failures, args[i].msg);
        CHECK_INT(0, args[i].failures);
    }
    sf_listing l = sf_list_of(s, "t/");
    CHECK_INT(THREADS * PER_THREAD, l.count);
    md_error err;
    CHECK_OK(stg_delete_prefix(s, "t/", &err), &err);
    sf_listing gone = sf_list_of(s, "t/");
    CHECK_INT(0, gone.count);
}

static void test_prefixes_and_probe(stg *s)
{
    md_error err;
    /* Another store on the same bucket under another prefix sees nothing of this one. */
    sf_put_text(s, "shared", "mine");
    stg *other = open_store("s3://" BUCKET "/other");
    sf_listing l = sf_list_of(other, "");
    CHECK_INT(0, l.count);
    uint64_t size;
    CHECK_INT(MD_ENOENT, stg_head(other, "shared", &size, &err));
    /* The whole bucket sees it under the first store's prefix. */
    stg *whole = open_store("s3://" BUCKET);
    sf_listing w = sf_list_of(whole, "store/");
    SF_CHECK_LIST(w, "store/shared");
    stg_free(whole);
    stg_free(other);
    CHECK_OK(stg_delete(s, "shared", &err), &err);

    CHECK_OK(stg_check_writable(s, &err), &err);
    sf_listing probes = sf_list_of(s, "morphd-probe/");
    CHECK_INT(0, probes.count);

    /* An absent bucket and wrong credentials: errors that say what to check. */
    stg *nob = open_store("s3://no-such-bucket");
    CHECK(stg_check_writable(nob, &err) < 0);
    CHECK_MSG(&err, "NoSuchBucket");
    stg_free(nob);
    /* s3rver checks the access key but not V4 signatures (AWS's published examples in
     * test_sigv4 check those). */
    setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG0", 1);
    stg *bad = open_store("s3://" BUCKET);
    CHECK_INT(MD_EIO, stg_put(bad, "x", "x", 1, &err));
    CHECK_MSG(&err, "InvalidAccessKeyId");
    CHECK_MSG(&err, "check AWS_ACCESS_KEY_ID");
    stg_free(bad);
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
}

/* A presigned GET: the endpoint, the bucket and store prefix in the path, the SigV4 query in
 * name order with the session token when there is one. */
static void test_presign(stg *s)
{
    md_error err;
    char url[STG_PRESIGN_URL_MAX];
    char want[256];
    snprintf(want, sizeof want,
             "http://127.0.0.1:%d/" BUCKET "/store/a/b-1.png?X-Amz-Algorithm=AWS4-HMAC-SHA256"
             "&X-Amz-Credential=S3RVER%%2F",
             server_port);
    CHECK_OK(stg_presign_get(s, "a/b-1.png", 300, url, sizeof url, &err), &err);
    CHECK(strncmp(url, want, strlen(want)) == 0);
    CHECK_CONTAINS(url, "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=");
    CHECK_CONTAINS(url, "&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=");
    CHECK(strstr(url, "X-Amz-Security-Token") == NULL);
    const char *sig = strstr(url, "&X-Amz-Signature=");
    CHECK(sig != NULL && strlen(sig + 17) == 64);
    CHECK_INT(MD_ELIMIT, stg_presign_get(s, "a/b-1.png", 300, url, 64, &err));
    CHECK_INT(MD_EINVAL, stg_presign_get(s, "a/b-1.png", 604801, url, sizeof url, &err));

    setenv("AWS_SESSION_TOKEN", "session/token=", 1);
    stg *tok = open_store("s3://" BUCKET);
    CHECK_OK(stg_presign_get(tok, "k", 60, url, sizeof url, &err), &err);
    CHECK_CONTAINS(url, "/" BUCKET "/k?X-Amz-Algorithm=");
    CHECK_CONTAINS(url, "&X-Amz-Expires=60&X-Amz-Security-Token=session%2Ftoken%3D"
                        "&X-Amz-SignedHeaders=host&");
    stg_free(tok);
    unsetenv("AWS_SESSION_TOKEN");
}

static void test_unreachable(void)
{
    md_error err;
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", free_port());
    setenv("MORPHD_S3_ENDPOINT", ep, 1);
    stg *s = open_store("s3://" BUCKET);
    double t0 = md_now();
    CHECK_INT(MD_EUNAVAIL, stg_put(s, "x", "x", 1, &err));
    CHECK_MSG(&err, "failed");
    double took = md_now() - t0;
    CHECK(took > 0.5 && took < 30); /* retried with backoff, and bounded */
    stg_free(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    server_start();
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", server_port);
    setenv("MORPHD_S3_ENDPOINT", ep, 1);
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    setenv("MORPHD_S3_LIST_PAGE", "3", 1);
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_REGION");
    stg *s = open_store("s3://" BUCKET "/store");
    CHECK(strcmp(stg_url(s), "s3://" BUCKET "/store") == 0);
    test_roundtrip(s);
    test_list(s);
    test_writer(s);
    test_reader(s);
    test_multipart(s);
    test_threads(s);
    test_prefixes_and_probe(s);
    test_presign(s);
    stg_free(s);
    server_stop();
    test_unreachable();
    return test_done();
}
