/*
 * test_storage.c — the object storage API on its file:// backend: URLs, key rules, round trips,
 * streaming writes, aborted writes, positional reads, atomic replace, prefix listing and
 * deletion, many threads at once, and the readiness probe. Runs in a scratch folder under
 * $MORPHD_TEST_TMP and looks at the folder directly where the API cannot show a thing (temp
 * files, empty folders).
 */
#define _GNU_SOURCE
#include "test_util.h"
#include "storage_fixture.h"

#include "storage/storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Helpers ---- */

static char root[4096];

static stg *open_store(const char *name)
{
    snprintf(root, sizeof root, "%s", test_tmpdir(name));
    char url[4200];
    snprintf(url, sizeof url, "file://%s/store", root);
    md_error err;
    stg *s = NULL;
    int rc = stg_open(url, &s, &err);
    if (rc != 0) {
        fprintf(stderr, "stg_open %s: %s\n", url, err.msg);
        exit(1);
    }
    snprintf(root + strlen(root), sizeof root - strlen(root), "/store");
    return s;
}

/* Entries (files, folders, anything) under dir, recursively; dir itself not counted. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    for (struct dirent *de = readdir(d); de != NULL; de = readdir(d)) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n++;
        char sub[8192];
        snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            n += count_entries(sub);
    }
    closedir(d);
    return n;
}

/* Names starting with ".tmp." in dir (not recursive). */
static int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    for (struct dirent *de = readdir(d); de != NULL; de = readdir(d))
        n += strncmp(de->d_name, ".tmp.", 5) == 0;
    closedir(d);
    return n;
}

static int exists(const char *rel)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- URLs ---- */

static void test_open(void)
{
    md_error err;
    stg *s = NULL;
    const char *tmp = test_tmpdir("storage_open");
    char url[4200];

    /* Missing folders are created; the URL comes back normalised. */
    snprintf(url, sizeof url, "file://%s/a/b/c//", tmp);
    CHECK_OK(stg_open(url, &s, &err), &err);
    char want[4200];
    snprintf(want, sizeof want, "file://%s/a/b/c", tmp);
    CHECK(s != NULL && strcmp(stg_url(s), want) == 0);
    stg_free(s);
    s = NULL;

    /* A plain path works too. */
    snprintf(url, sizeof url, "%s/plain", tmp);
    CHECK_OK(stg_open(url, &s, &err), &err);
    snprintf(want, sizeof want, "file://%s/plain", tmp);
    CHECK(s != NULL && strcmp(stg_url(s), want) == 0);
    stg_free(s);
    s = NULL;

    /* s3:// URLs are checked before anything is sent (test_storage_s3 talks to a server). */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK_INT(MD_EINVAL, stg_open("s3://bucket/prefix", &s, &err));
    CHECK_MSG(&err, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set");
    CHECK(s == NULL);
    setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
    CHECK_INT(MD_EINVAL, stg_open("s3://bucket", &s, &err));
    CHECK_MSG(&err, "AWS_SECRET_ACCESS_KEY not set");
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
    setenv("MORPHD_S3_ENDPOINT", "127.0.0.1:4568", 1);
    CHECK_INT(MD_EINVAL, stg_open("s3://bucket", &s, &err));
    CHECK_MSG(&err, "MORPHD_S3_ENDPOINT '127.0.0.1:4568' must start with http://");
    setenv("MORPHD_S3_ENDPOINT", "http://127.0.0.1:4568/", 1);
    CHECK_OK(stg_open("s3://bucket/jobs/x/", &s, &err), &err);
    CHECK(s != NULL && strcmp(stg_url(s), "s3://bucket/jobs/x") == 0);
    stg_free(s);
    s = NULL;
    CHECK_INT(MD_EINVAL, stg_open("s3://Bucket_1/x", &s, &err));
    CHECK_MSG(&err, "is not an S3 bucket name");
    CHECK_INT(MD_EINVAL, stg_open("s3://bucket/../x", &s, &err));
    CHECK_MSG(&err, "bad prefix");
    CHECK(s == NULL);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("MORPHD_S3_ENDPOINT");
    CHECK_INT(MD_EINVAL, stg_open("http://example.com/x", &s, &err));
    CHECK_MSG(&err, "unsupported storage URL scheme 'http'");
    CHECK_INT(MD_EINVAL, stg_open("file://relative/dir", &s, &err));
    CHECK_MSG(&err, "file:///abs/dir");
    CHECK_INT(MD_EINVAL, stg_open("", &s, &err));

    /* A file where the folder should be. */
    snprintf(url, sizeof url, "%s/afile", tmp);
    CHECK_OK(md_write_file_atomic(url, "x", 1, &err), &err);
    CHECK(stg_open(url, &s, &err) < 0);
    CHECK(s == NULL);

    stg_free(NULL);
}

/* ---- Keys ---- */

static void test_keys(void)
{
    static const char *good[] = {
        "a",
        "A",
        "0",
        "a.b",
        "a..b",
        "a.",
        "jobs/0123abcd/frames/0000_a-1000_b-0000.png",
        "x_y-z/1/2/3",
        "_",
        "-",
        "a/b.c/d",
    };
    static const char *bad[] = {
        "",        "../x",      "a/../b", "..",  ".",    "a//b", "/a",      "a/",
        ".hidden", "a/.hidden", "a/./b",  "a b", "a\\b", "\\",   "a/b c/d", "tab\tkey",
        "ü",       "a:b",       "a*",     "a?b", "~",    "/",    "//",
    };
    md_error err;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int rc = stg_key_check(good[i], &err);
        if (rc != 0) {
            fprintf(stderr, "good key '%s' refused: %s\n", good[i], err.msg);
            test_failures++;
        }
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        md_error_clear(&err);
        int rc = stg_key_check(bad[i], &err);
        if (rc != MD_EINVAL || err.msg[0] == '\0') {
            fprintf(stderr, "bad key '%s' gave %d '%s'\n", bad[i], rc, err.msg);
            test_failures++;
        }
    }

    char key[STG_KEY_MAX + 2];
    memset(key, 'k', sizeof key);
    key[STG_KEY_MAX] = '\0';
    key[500] = '/';
    CHECK_OK(stg_key_check(key, &err), &err);
    key[STG_KEY_MAX] = 'k';
    key[STG_KEY_MAX + 1] = '\0';
    CHECK_INT(MD_EINVAL, stg_key_check(key, &err));
    CHECK_MSG(&err, "1025 bytes");
    CHECK_INT(MD_EINVAL, stg_key_check(NULL, &err));

    /* Messages say what is wrong and show the key escaped. */
    CHECK_INT(MD_EINVAL, stg_key_check("a//b", &err));
    CHECK_MSG(&err, "empty segment");
    CHECK_INT(MD_EINVAL, stg_key_check("a/", &err));
    CHECK_MSG(&err, "ends with '/'");
    CHECK_INT(MD_EINVAL, stg_key_check("/a", &err));
    CHECK_MSG(&err, "starts with '/'");
    CHECK_INT(MD_EINVAL, stg_key_check("../x", &err));
    CHECK_MSG(&err, "starting with '.'");
    CHECK_INT(MD_EINVAL, stg_key_check("a\\b", &err));
    CHECK_MSG(&err, "'a\\x5cb'");
    CHECK_MSG(&err, "byte 0x5c at 1");
    CHECK_INT(MD_EINVAL, stg_key_check("x/new\nline", &err));
    CHECK_MSG(&err, "\\x0a");
    CHECK(strchr(err.msg, '\n') == NULL);

    /* Every entry point checks before touching the filesystem. */
    stg *s = open_store("storage_keys");
    uint64_t size;
    stg_reader *r = NULL;
    stg_writer *w = NULL;
    uint8_t *data = NULL;
    size_t len;
    CHECK_INT(MD_EINVAL, stg_put(s, "../escape", "x", 1, &err));
    CHECK_INT(MD_EINVAL, stg_put(s, "/tmp/escape", "x", 1, &err));
    CHECK_INT(MD_EINVAL, stg_writer_open(s, "a/../../escape", &w, &err));
    CHECK(w == NULL);
    CHECK_INT(MD_EINVAL, stg_reader_open(s, "..", &r, &err));
    CHECK(r == NULL);
    CHECK_INT(MD_EINVAL, stg_get(s, "../store", 10, &data, &len, &err));
    CHECK_INT(MD_EINVAL, stg_head(s, ".", &size, &err));
    CHECK_INT(MD_EINVAL, stg_delete(s, "../store", &err));
    CHECK_INT(MD_EINVAL, stg_delete_prefix(s, "../", &err));
    CHECK_INT(MD_EINVAL, stg_delete_prefix(s, "", &err));
    CHECK_MSG(&err, "prefix is empty");
    CHECK_INT(MD_EINVAL, stg_delete_prefix(s, "/", &err));
    sf_listing l = {0};
    CHECK_INT(MD_EINVAL, stg_list(s, "a//", sf_on_key, &l, &err));
    CHECK_INT(MD_EINVAL, stg_list(s, "/", sf_on_key, &l, &err));
    CHECK_INT(0, l.count);
    CHECK_INT(0, count_entries(root));
    CHECK(!exists("../escape"));
    stg_free(s);
}

/* ---- Round trips ---- */

static void test_roundtrip(void)
{
    stg *s = open_store("storage_roundtrip");
    md_error err;
    uint64_t size = 99;
    uint8_t *data = NULL;
    size_t len = 0;

    CHECK_INT(MD_ENOENT, stg_head(s, "jobs/j1/manifest.json", &size, &err));
    CHECK_MSG(&err, "no object 'jobs/j1/manifest.json'");
    CHECK_INT(MD_ENOENT, stg_get(s, "jobs/j1/manifest.json", 100, &data, &len, &err));
    CHECK(data == NULL);
    CHECK_OK(stg_delete(s, "jobs/j1/manifest.json", &err), &err);

    sf_put_text(s, "jobs/j1/manifest.json", "{\"frames\": 2}");
    sf_put_text(s, "jobs/j1/frames/0000.png", "frame zero");
    sf_put_text(s, "jobs/j1/frames/0001.png", "frame one!");
    sf_put_text(s, "jobs/j2/inputs/source.mdm", "source");
    sf_put_text(s, "top", "");
    sf_check_text(s, "jobs/j1/manifest.json", "{\"frames\": 2}");
    sf_check_text(s, "top", "");
    CHECK_OK(stg_head(s, "jobs/j1/frames/0001.png", &size, &err), &err);
    CHECK_INT(10, size);
    CHECK_OK(stg_head(s, "top", &size, &err), &err);
    CHECK_INT(0, size);
    CHECK(exists("jobs/j1/frames/0000.png"));

    sf_listing l = sf_list_of(s, "");
    SF_CHECK_LIST(l, "jobs/j1/frames/0000.png", "jobs/j1/frames/0001.png", "jobs/j1/manifest.json",
                  "jobs/j2/inputs/source.mdm", "top");
    CHECK_INT(10, l.sizes[0]);
    l = sf_list_of(s, "jobs/j1/");
    SF_CHECK_LIST(l, "jobs/j1/frames/0000.png", "jobs/j1/frames/0001.png", "jobs/j1/manifest.json");
    l = sf_list_of(s, "jobs/j1/frames");
    SF_CHECK_LIST(l, "jobs/j1/frames/0000.png", "jobs/j1/frames/0001.png");
    l = sf_list_of(s, "jobs/j");
    CHECK_INT(4, l.count);
    l = sf_list_of(s, "nothing/here/");
    CHECK_INT(0, l.count);
    l = sf_list_of(s, "top");
    SF_CHECK_LIST(l, "top");

    /* A nonzero callback stops the listing. */
    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    CHECK_OK(stg_list(s, "", sf_on_key, &l, &err), &err);
    CHECK_INT(2, l.count);

    /* Overwrite. */
    sf_put_text(s, "jobs/j1/manifest.json", "v2");
    sf_check_text(s, "jobs/j1/manifest.json", "v2");

    /* Larger than max_bytes: refused before reading. */
    CHECK_INT(MD_ELIMIT, stg_get(s, "jobs/j1/frames/0000.png", 9, &data, &len, &err));
    CHECK_MSG(&err, "10 bytes, more than the limit of 9");
    CHECK(data == NULL);
    CHECK_OK(stg_get(s, "jobs/j1/frames/0000.png", 10, &data, &len, &err), &err);
    CHECK_INT(10, len);
    md_free(data);

    /* Delete one; its folder goes once empty. */
    CHECK_OK(stg_delete(s, "jobs/j2/inputs/source.mdm", &err), &err);
    CHECK_INT(MD_ENOENT, stg_head(s, "jobs/j2/inputs/source.mdm", &size, &err));
    CHECK(!exists("jobs/j2"));
    CHECK(exists("jobs"));
    CHECK_OK(stg_delete(s, "jobs/j2/inputs/source.mdm", &err), &err);

    /* Delete a prefix. */
    sf_put_text(s, "jobs/j10/x", "keep: jobs/j1/ is not a prefix of it");
    CHECK_OK(stg_delete_prefix(s, "jobs/j1/", &err), &err);
    l = sf_list_of(s, "");
    SF_CHECK_LIST(l, "jobs/j10/x", "top");
    CHECK(!exists("jobs/j1"));
    CHECK_OK(stg_delete_prefix(s, "jobs/j1/", &err), &err);
    CHECK_OK(stg_delete_prefix(s, "no/such/", &err), &err);
    CHECK_OK(stg_delete_prefix(s, "jobs/", &err), &err);
    l = sf_list_of(s, "");
    SF_CHECK_LIST(l, "top");
    CHECK_INT(1, count_entries(root));
    stg_free(s);
}

static int delete_each(void *user, const char *key, uint64_t size)
{
    (void)size;
    md_error err;
    CHECK_OK(stg_delete(user, key, &err), &err);
    return 0;
}

/* Prefixes match bytes, as in S3, and keys sort by bytes ('-' and '.' before '/'). */
static void test_prefix_order(void)
{
    stg *s = open_store("storage_prefix");
    md_error err;
    sf_put_text(s, "jobs/abc/x", "1");
    sf_put_text(s, "jobs/abc/y/z", "2");
    sf_put_text(s, "jobs/abd", "3");
    sf_put_text(s, "jobs/ab", "4");
    sf_put_text(s, "jobs/abc-1", "5");
    sf_put_text(s, "jobs/abc.2", "6");
    sf_put_text(s, "jobs-x", "7");
    sf_put_text(s, "jobs/b", "8");

    sf_listing l = sf_list_of(s, "jobs/ab");
    SF_CHECK_LIST(l, "jobs/ab", "jobs/abc-1", "jobs/abc.2", "jobs/abc/x", "jobs/abc/y/z",
                  "jobs/abd");
    l = sf_list_of(s, "jobs/abc/");
    SF_CHECK_LIST(l, "jobs/abc/x", "jobs/abc/y/z");
    l = sf_list_of(s, "jobs");
    CHECK_INT(8, l.count);
    CHECK(strcmp(l.keys[0], "jobs-x") == 0);

    CHECK_OK(stg_delete_prefix(s, "jobs/abc", &err), &err);
    l = sf_list_of(s, "");
    SF_CHECK_LIST(l, "jobs-x", "jobs/ab", "jobs/abd", "jobs/b");
    CHECK(!exists("jobs/abc"));

    /* The callback may change the store. */
    CHECK_OK(stg_list(s, "", delete_each, s, &err), &err);
    CHECK_INT(0, sf_list_of(s, "").count);
    CHECK_INT(0, count_entries(root));
    stg_free(s);
}

/* Things the store did not write: never listed, never followed. */
static void test_foreign_files(void)
{
    stg *s = open_store("storage_foreign");
    md_error err;
    sf_put_text(s, "d/ok", "ok");
    char path[8192];
    snprintf(path, sizeof path, "%s/d/with space", root);
    CHECK_OK(md_write_file_atomic(path, "x", 1, &err), &err);
    snprintf(path, sizeof path, "%s/d/link", root);
    CHECK_INT(0, symlink("/etc/passwd", path));
    snprintf(path, sizeof path, "%s/d/fifo", root);
    CHECK_INT(0, mkfifo(path, 0644));
    sf_listing l = sf_list_of(s, "");
    SF_CHECK_LIST(l, "d/ok");
    stg_reader *r = NULL;
    CHECK_INT(MD_ENOENT, stg_reader_open(s, "d/link", &r, &err));
    CHECK_INT(MD_ENOENT, stg_reader_open(s, "d/fifo", &r, &err)); /* must not hang */
    uint64_t size;
    CHECK_INT(MD_ENOENT, stg_head(s, "d/link", &size, &err));

    /* A key cannot be both an object and a folder on a filesystem. */
    sf_put_text(s, "a/b", "under a");
    CHECK_INT(MD_EINVAL, stg_put(s, "a", "x", 1, &err));
    CHECK_MSG(&err, "both an object and a folder");
    CHECK_INT(MD_ENOENT, stg_head(s, "a", &size, &err));
    CHECK_INT(MD_ENOENT, stg_reader_open(s, "a", &r, &err));
    CHECK_OK(stg_delete(s, "a", &err), &err);
    sf_check_text(s, "a/b", "under a");
    CHECK_INT(MD_EINVAL, stg_put(s, "a/b/c", "x", 1, &err));
    CHECK_MSG(&err, "is an object, not a folder");
    sf_check_text(s, "a/b", "under a");

    /* A temp file left by a crash goes with its prefix. */
    snprintf(path, sizeof path, "%s/jobs/q/frames", root);
    CHECK_OK(md_mkdir_p(path, &err), &err);
    snprintf(path, sizeof path, "%s/jobs/q/frames/.tmp.1.2", root);
    CHECK_OK(md_write_file_atomic(path, "debris", 6, &err), &err);
    CHECK_INT(0, sf_list_of(s, "jobs/").count);
    CHECK_OK(stg_delete_prefix(s, "jobs/q/", &err), &err);
    CHECK(!exists("jobs"));
    stg_free(s);
}

/* ---- Streaming writes ---- */

static void test_writer(void)
{
    stg *s = open_store("storage_writer");
    md_error err;
    stg_writer *w = NULL;
    const char *key = "jobs/w/frames/big.bin";
    sf_put_text(s, key, "old");

    CHECK_OK(stg_writer_open(s, key, &w, &err), &err);
    CHECK(w != NULL);
    enum { PIECES = 3000 };
    size_t total = 0;
    uint8_t piece[700];
    for (int i = 0; i < PIECES && w != NULL; i++) {
        size_t n = (size_t)(i % 700);
        for (size_t j = 0; j < n; j++)
            piece[j] = (uint8_t)(total + j);
        int rc = stg_writer_write(w, piece, n, &err);
        CHECK_OK(rc, &err);
        if (rc != 0)
            break;
        total += n;
    }

    /* Until commit: the old object stays, the new one is a temp file nobody lists. */
    sf_check_text(s, key, "old");
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/jobs/w/frames", root);
    CHECK_INT(1, count_temp_files(dir));
    sf_listing l = sf_list_of(s, "");
    SF_CHECK_LIST(l, "jobs/w/frames/big.bin");
    CHECK_INT(3, l.sizes[0]);

    CHECK_OK(stg_writer_commit(w, &err), &err);
    CHECK_INT(0, count_temp_files(dir));
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_OK(stg_get(s, key, 16 << 20, &data, &len, &err), &err);
    CHECK_INT(total, len);
    int same = data != NULL && len == total;
    for (size_t i = 0; same && i < len; i++)
        same = data[i] == (uint8_t)i;
    CHECK(same);
    md_free(data);

    /* An empty object through a writer. */
    CHECK_OK(stg_writer_open(s, "empty", &w, &err), &err);
    CHECK_OK(stg_writer_commit(w, &err), &err);
    sf_check_text(s, "empty", "");

    /* Abort: nothing left, not even the folders made for it. */
    CHECK_OK(stg_delete_prefix(s, "jobs/", &err), &err);
    CHECK_OK(stg_delete(s, "empty", &err), &err);
    CHECK_INT(0, count_entries(root));
    CHECK_OK(stg_writer_open(s, "deep/a/b/c.bin", &w, &err), &err);
    CHECK_OK(stg_writer_write(w, "partial", 7, &err), &err);
    CHECK(exists("deep/a/b"));
    stg_writer_abort(w);
    CHECK_INT(0, count_entries(root));
    uint64_t size;
    CHECK_INT(MD_ENOENT, stg_head(s, "deep/a/b/c.bin", &size, &err));
    stg_writer_abort(NULL);

    /* Abort of a replacement keeps the old object. */
    sf_put_text(s, "keep", "old");
    CHECK_OK(stg_writer_open(s, "keep", &w, &err), &err);
    CHECK_OK(stg_writer_write(w, "new", 3, &err), &err);
    stg_writer_abort(w);
    sf_check_text(s, "keep", "old");
    CHECK_INT(1, count_entries(root));

    /* A prefix delete while writing: the commit fails and says why; nothing is left. */
    CHECK_OK(stg_writer_open(s, "jobs/gone/f", &w, &err), &err);
    CHECK_OK(stg_writer_write(w, "x", 1, &err), &err);
    CHECK_OK(stg_delete_prefix(s, "jobs/gone/", &err), &err);
    CHECK_INT(MD_EIO, stg_writer_commit(w, &err));
    CHECK_MSG(&err, "deleted while it was written");
    CHECK_INT(1, count_entries(root));
    stg_free(s);
}

/* ---- Positional reads ---- */

static void test_reader(void)
{
    stg *s = open_store("storage_reader");
    md_error err;
    enum { SIZE = 10000 };
    static uint8_t data[SIZE];
    for (int i = 0; i < SIZE; i++)
        data[i] = (uint8_t)(i * 7);
    CHECK_OK(stg_put(s, "r/obj", data, SIZE, &err), &err);

    stg_reader *r = NULL;
    CHECK_INT(MD_ENOENT, stg_reader_open(s, "r/none", &r, &err));
    CHECK(r == NULL);
    CHECK_OK(stg_reader_open(s, "r/obj", &r, &err), &err);
    if (r == NULL) {
        stg_free(s);
        return;
    }
    CHECK_INT(SIZE, stg_reader_size(r));
    uint8_t buf[256];
    CHECK_INT(256, stg_reader_read(r, 0, buf, sizeof buf, &err));
    CHECK(memcmp(buf, data, 256) == 0);
    CHECK_INT(100, stg_reader_read(r, 5000, buf, 100, &err));
    CHECK(memcmp(buf, data + 5000, 100) == 0);
    CHECK_INT(10, stg_reader_read(r, SIZE - 10, buf, sizeof buf, &err));
    CHECK(memcmp(buf, data + SIZE - 10, 10) == 0);
    CHECK_INT(0, stg_reader_read(r, SIZE, buf, sizeof buf, &err));
    CHECK_INT(0, stg_reader_read(r, SIZE + 1, buf, sizeof buf, &err));
    CHECK_INT(0, stg_reader_read(r, UINT64_MAX, buf, sizeof buf, &err));
    CHECK_INT(0, stg_reader_read(r, 0, buf, 0, &err));

    /* The reader keeps what it opened, through a replace and a delete. */
    CHECK_OK(stg_put(s, "r/obj", "short", 5, &err), &err);
    CHECK_INT(SIZE, stg_reader_size(r));
    CHECK_INT(50, stg_reader_read(r, 9000, buf, 50, &err));
    CHECK(memcmp(buf, data + 9000, 50) == 0);
    CHECK_OK(stg_delete(s, "r/obj", &err), &err);
    CHECK_INT(50, stg_reader_read(r, 100, buf, 50, &err));
    CHECK(memcmp(buf, data + 100, 50) == 0);
    stg_reader_close(r);
    stg_reader_close(NULL);
    stg_free(s);
}

/* ---- Threads ---- */

enum { THREADS = 8, ROUNDS = 60 };

typedef struct worker_arg {
    stg *s;
    int id;
    int failures; /* counted here: the CHECK counter is not thread-safe */
    char first_error[MD_ERROR_MSG_MAX + 64];
} worker_arg;

static void note(worker_arg *a, const char *what, const md_error *err)
{
    if (a->failures++ == 0)
        snprintf(a->first_error, sizeof a->first_error, "%s: %s", what, err->msg);
}

/* Distinct keys in shared folders, deletes that prune those folders, and puts of one key. */
static void *worker_main(void *p)
{
    worker_arg *a = p;
    md_error err;
    char key[128], body[256];
    for (int i = 0; i < ROUNDS; i++) {
        snprintf(key, sizeof key, "jobs/shared/t%d/%d.bin", a->id, i);
        int blen = snprintf(body, sizeof body, "thread %d round %d", a->id, i);
        if (stg_put(a->s, key, body, (size_t)blen, &err) != 0)
            note(a, "put", &err);
        uint8_t *data = NULL;
        size_t len = 0;
        if (stg_get(a->s, key, 1024, &data, &len, &err) != 0)
            note(a, "get", &err);
        else if (len != (size_t)blen || memcmp(data, body, len) != 0)
            note(a, "get content", &err);
        md_free(data);
        /* Deleting prunes t<id>/ and maybe shared/ while other threads create inside it. */
        if (i % 2 == 1 && stg_delete(a->s, key, &err) != 0)
            note(a, "delete", &err);
        /* Everybody replaces the same key; readers must see one whole version. */
        blen = snprintf(body, sizeof body, "same key from thread %d, round %d", a->id, i);
        if (stg_put(a->s, "jobs/same", body, (size_t)blen, &err) != 0)
            note(a, "put same", &err);
        if (stg_get(a->s, "jobs/same", 1024, &data, &len, &err) != 0)
            note(a, "get same", &err);
        else if (len < 20 || memcmp(data, "same key from thread", 20) != 0)
            note(a, "get same content", &err);
        md_free(data);
        if (i % 10 == 0 && stg_check_writable(a->s, &err) != 0)
            note(a, "check_writable", &err);
    }
    return NULL;
}

static void test_threads(void)
{
    stg *s = open_store("storage_threads");
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){.s = s, .id = i};
        CHECK_INT(0, pthread_create(&th[i], NULL, worker_main, &args[i]));
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (args[i].failures != 0) {
            fprintf(stderr, "thread %d: %d failures, first: %s\n", i, args[i].failures,
                    args[i].first_error);
            test_failures++;
        }
    }
    sf_listing l = sf_list_of(s, "jobs/shared/");
    CHECK_INT(THREADS * ROUNDS / 2, l.count);
    l = sf_list_of(s, "jobs/same");
    SF_CHECK_LIST(l, "jobs/same");
    CHECK_INT(0, sf_list_of(s, "morphd-probe/").count);
    CHECK(!exists("morphd-probe"));
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/jobs", root);
    CHECK_INT(0, count_temp_files(dir));
    stg_free(s);
}

/* Atomic replace under load: readers only ever see a whole version, of either size. */
enum { BIG_A = 300000, BIG_B = 200000 };

typedef struct replace_arg {
    stg *s;
    int stop;
    int reads;
    int failures;
    char first_error[MD_ERROR_MSG_MAX + 64];
} replace_arg;

static void *replace_reader(void *p)
{
    replace_arg *a = p;
    md_error err;
    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
        uint8_t *data = NULL;
        size_t len = 0;
        int rc = stg_get(a->s, "big", BIG_A, &data, &len, &err);
        int whole = rc == 0 && (len == BIG_A || len == BIG_B);
        for (size_t i = 0; whole && i < len; i++)
            whole = data[i] == (len == BIG_A ? 'a' : 'b');
        if (!whole && a->failures++ == 0)
            snprintf(a->first_error, sizeof a->first_error, "rc %d len %zu: %s", rc, len, err.msg);
        a->reads++;
        md_free(data);
    }
    return NULL;
}

static void test_atomic_replace(void)
{
    stg *s = open_store("storage_replace");
    md_error err;
    uint8_t *a = md_malloc(BIG_A), *b = md_malloc(BIG_B);
    memset(a, 'a', BIG_A);
    memset(b, 'b', BIG_B);
    CHECK_OK(stg_put(s, "big", a, BIG_A, &err), &err);
    replace_arg ra[2] = {{.s = s}, {.s = s}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, replace_reader, &ra[i]);
    for (int i = 0; i < 40; i++) {
        int rc = i % 2 ? stg_put(s, "big", a, BIG_A, &err) : stg_put(s, "big", b, BIG_B, &err);
        CHECK_OK(rc, &err);
    }
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&ra[i].stop, 1, __ATOMIC_RELEASE);
        pthread_join(th[i], NULL);
        CHECK(ra[i].reads > 0);
        if (ra[i].failures != 0) {
            fprintf(stderr, "replace reader %d: %d torn reads, first: %s\n", i, ra[i].failures,
                    ra[i].first_error);
            test_failures++;
        }
    }
    CHECK_INT(0, count_temp_files(root));
    md_free(a);
    md_free(b);
    stg_free(s);
}

/* ---- Readiness ---- */

static void test_check_writable(void)
{
    stg *s = open_store("storage_ready");
    md_error err;
    CHECK_OK(stg_check_writable(s, &err), &err);
    CHECK_INT(0, count_entries(root));

    /* A store that cannot take the probe is not ready. */
    char path[8192];
    snprintf(path, sizeof path, "%s/morphd-probe", root);
    CHECK_OK(md_write_file_atomic(path, "in the way", 10, &err), &err);
    CHECK(stg_check_writable(s, &err) < 0);
    CHECK_MSG(&err, "is not ready");
    CHECK_MSG(&err, "not a folder");
    CHECK_INT(0, unlink(path));
    CHECK_OK(stg_check_writable(s, &err), &err);

    /* A read-only store is not ready (root ignores permissions, so only as another user). */
    if (geteuid() != 0) {
        CHECK_INT(0, chmod(root, 0555));
        int rc = stg_check_writable(s, &err);
        CHECK(rc < 0);
        CHECK_MSG(&err, "is not ready");
        CHECK_MSG(&err, "Permission denied");
        CHECK_INT(0, chmod(root, 0755));
    }
    stg_free(s);
}

/* file:// has no URL a client could fetch: MD_EFORMAT, so the api streams instead. Argument
 * errors come first, as for every call. */
static void test_presign(void)
{
    stg *s = open_store("storage_presign");
    md_error err;
    char url[256] = "x";
    CHECK_INT(MD_EFORMAT, stg_presign_get(s, "a/b.png", 300, url, sizeof url, &err));
    CHECK_MSG(&err, "cannot presign");
    CHECK_INT(0, url[0]);
    CHECK_INT(MD_EINVAL, stg_presign_get(s, "../b.png", 300, url, sizeof url, &err));
    CHECK_INT(MD_EINVAL, stg_presign_get(s, "a/b.png", 0, url, sizeof url, &err));
    CHECK_INT(MD_EINVAL,
              stg_presign_get(s, "a/b.png", STG_PRESIGN_EXPIRES_MAX + 1, url, sizeof url, &err));
    CHECK_INT(MD_EINVAL, stg_presign_get(s, "a/b.png", 300, url, 0, &err));
    stg_free(s);
}

int main(void)
{
    test_open();
    test_keys();
    test_roundtrip();
    test_prefix_order();
    test_foreign_files();
    test_writer();
    test_reader();
    test_threads();
    test_atomic_replace();
    test_check_writable();
    test_presign();
    return test_done();
}
