/*
 * test_cli_replay.c — `morph run --replay MANIFEST` on the sample pair (`morph sample`, no
 * shared data): a run with face-space weights, a texture given by hand and csv outputs is
 * replayed into another folder with byte-identical frames and CSVs, and the new manifest says
 * what it replayed; the manifest records every input's SHA-256; a texture changed after the
 * run, a missing mesh, an option that would change the job and a file that is no manifest are
 * each refused (exit 2) with a message naming the cause.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <dirent.h>
#include <jansson.h>
#include <string.h>

static char last_stderr[8192];

static int morph(const char *tmp, const char *args)
{
    return test_run_morph(tmp, "", args, last_stderr, sizeof last_stderr);
}

#define CHECK_STDERR(needle)                                                                       \
    do {                                                                                           \
        if (strstr(last_stderr, (needle)) == NULL) {                                               \
            fprintf(stderr, "%s:%d: expected stderr to contain \"%s\", got \"%s\"\n", __FILE__,    \
                    __LINE__, (needle), last_stderr);                                              \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

static char *slurp(const char *path, size_t *len)
{
    char *bytes = NULL;
    md_error err;
    md_error_clear(&err);
    if (md_read_file(path, 1 << 28, &bytes, len, &err) != 0)
        return NULL;
    return bytes;
}

/* Every file of dir_a/sub (frames/ or the top level's .csv) equals dir_b's; returns how many. */
static int same_files(const char *a, const char *b, const char *sub, const char *suffix)
{
    char da[4096];
    snprintf(da, sizeof da, "%s/%s", a, sub);
    DIR *d = opendir(da);
    CHECK(d != NULL);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
            continue;
        char pa[4096], pb[4096];
        snprintf(pa, sizeof pa, "%s/%s/%s", a, sub, e->d_name);
        snprintf(pb, sizeof pb, "%s/%s/%s", b, sub, e->d_name);
        size_t la = 0, lb = 0;
        char *x = slurp(pa, &la), *y = slurp(pb, &lb);
        int same = x != NULL && y != NULL && la == lb && memcmp(x, y, la) == 0;
        if (!same)
            fprintf(stderr, "replay: %s differs from %s (%zu and %zu bytes)\n", pb, pa, la, lb);
        CHECK(same);
        md_free(x);
        md_free(y);
        n++;
    }
    closedir(d);
    return n;
}

int main(void)
{
    const char *tmp = test_tmpdir("cli_replay");
    char args[8192], a[1024], b[1024];
    snprintf(args, sizeof args, "sample %s/s", tmp);
    CHECK_INT(0, morph(tmp, args));
    snprintf(a, sizeof a, "%s/first", tmp);
    snprintf(b, sizeof b, "%s/again", tmp);
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj --target-texture %s/s/sample_A.png -o %s "
             "-q --weights -0.5,0.5,1.5 --texture-weights 0,1,2 --size 72x64 --outputs frames,csv",
             tmp, tmp, tmp, a);
    CHECK_INT(0, morph(tmp, args));

    /* The manifest records what a replay checks. */
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", a);
    json_error_t jerr;
    json_t *m = json_load_file(path, 0, &jerr);
    CHECK(m != NULL);
    json_t *in = json_object_get(m, "inputs");
    const char *sha = json_string_value(json_object_get(json_object_get(in, "source"), "sha256"));
    CHECK(sha != NULL && strlen(sha) == 64);
    CHECK(json_string_value(json_object_get(json_object_get(in, "target"), "texture_override")));
    json_t *mat = json_array_get(json_object_get(json_object_get(in, "source"), "materials"), 0);
    CHECK(json_string_value(json_object_get(json_object_get(mat, "texture"), "sha256")) != NULL);
    json_decref(m);

    /* Byte-identical frames and CSVs. */
    snprintf(args, sizeof args, "run --replay %s/manifest.json -o %s -q", a, b);
    CHECK_INT(0, morph(tmp, args));
    CHECK_INT(3, same_files(a, b, "frames", ".png"));
    CHECK_INT(4, same_files(a, b, ".", ".csv"));
    snprintf(path, sizeof path, "%s/manifest.json", b);
    m = json_load_file(path, 0, &jerr);
    char want[4096];
    snprintf(want, sizeof want, "%s/manifest.json", a);
    const char *of = json_string_value(json_object_get(m, "replay_of"));
    if (of == NULL || strcmp(of, want) != 0)
        fprintf(stderr, "replay_of: expected %s, got %s\n", want, of ? of : "(none)");
    CHECK(of != NULL && strcmp(of, want) == 0);
    json_decref(m);

    /* Refusals. */
    snprintf(args, sizeof args, "run --replay %s/manifest.json -o %s --frames 3", a, b);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("(got --frames)");
    snprintf(args, sizeof args, "run --replay %s/s/sample_A.obj -o %s", tmp, b);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("not a readable manifest");
    /* A mesh that is gone, then back. */
    char moved[4096];
    snprintf(path, sizeof path, "%s/s/sample_B.obj", tmp);
    snprintf(moved, sizeof moved, "%s/s/moved.obj", tmp);
    CHECK_INT(0, rename(path, moved));
    snprintf(args, sizeof args, "run --replay %s/manifest.json -o %s", a, b);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("the target mesh");
    CHECK_STDERR("sample_B.obj");
    CHECK_INT(0, rename(moved, path));
    /* A changed texture: the target's by hand, the source's through its MTL. */
    snprintf(path, sizeof path, "%s/s/sample_A.png", tmp);
    FILE *f = fopen(path, "ab");
    CHECK(f != NULL);
    if (f != NULL) {
        fputc('x', f);
        fclose(f);
    }
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("has changed since the manifest was written");
    CHECK_STDERR("sample_A.png");
    return test_done();
}
