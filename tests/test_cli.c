/*
 * test_cli.c — the `morph` command as a user runs it: `morph sample`, then `morph run` on the
 * samples, checking every output (frame names and order, PNG sizes, manifest.json, session.log),
 * the exit codes and messages for bad usage and bad input, and that a re-run replaces old frames.
 * Needs no shared data.
 */
#include "test_util.h"

#include <dirent.h>
#include <jansson.h>
#include <string.h>
#include <sys/wait.h>

#include "mesh/image.h"

static char last_stderr[8192];

/* Runs `morph ARGS` with stdout and stderr captured; returns the exit status. */
static int morph(const char *tmp, const char *args)
{
    return test_run_morph(tmp, "", args, last_stderr, sizeof last_stderr);
}

#define CHECK_STDERR(needle) CHECK_CONTAINS(last_stderr, needle)

static int count_pngs(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".png") != NULL;
    closedir(d);
    return n;
}

static img *load_frame(const char *out, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/frames/%s", out, name);
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    img *im = NULL;
    if (img_load(path, &lim, &im, &err) != 0) {
        fprintf(stderr, "cannot load %s: %s\n", path, err.msg);
        test_failures++;
    }
    return im;
}

static void check_full_run(const char *tmp)
{
    char args[16384], out[4096];
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(args, sizeof args, "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size 96x64", tmp,
             tmp, out);
    CHECK_INT(0, morph(tmp, args));
    char frames[4200];
    snprintf(frames, sizeof frames, "%s/frames", out);
    CHECK_INT(41, count_pngs(frames));

    img *first = load_frame(out, "0000_sample_A-1000_sample_B-0000.png");
    img *mid = load_frame(out, "0020_sample_A-0500_sample_B-0500.png");
    img *last = load_frame(out, "0040_sample_A-0000_sample_B-1000.png");
    if (first && mid && last) {
        CHECK_INT(96, img_width(first));
        CHECK_INT(64, img_height(first));
        /* The corners are background (white), the centre is the textured head. */
        const uint8_t *p = img_pixels_const(first);
        CHECK_INT(255, p[0]);
        size_t centre = ((size_t)32 * 96 + 48) * 4;
        CHECK(p[centre] != 255 || p[centre + 1] != 255 || p[centre + 2] != 255);
        /* Source and target differ, and the middle frame differs from both. */
        size_t n = (size_t)96 * 64 * 4, d_first_last = 0, d_mid = 0;
        for (size_t i = 0; i < n; i++) {
            d_first_last += img_pixels_const(first)[i] != img_pixels_const(last)[i];
            d_mid += img_pixels_const(mid)[i] != img_pixels_const(first)[i];
        }
        CHECK(d_first_last > n / 20);
        CHECK(d_mid > n / 50);
    }
    img_free(first);
    img_free(mid);
    img_free(last);

    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", out);
    json_error_t jerr;
    json_t *man = json_load_file(path, 0, &jerr);
    CHECK(man != NULL);
    if (man != NULL) {
        json_t *src = json_object_get(json_object_get(man, "inputs"), "source");
        CHECK_INT(5954, json_integer_value(json_object_get(src, "vertices")));
        CHECK_INT(11904, json_integer_value(json_object_get(src, "triangles")));
        json_t *tex =
            json_object_get(json_array_get(json_object_get(src, "materials"), 0), "texture");
        CHECK_INT(512, json_integer_value(json_object_get(tex, "width")));
        json_t *frames_j = json_object_get(man, "frames");
        CHECK_INT(41, json_array_size(frames_j));
        json_t *f20 = json_array_get(frames_j, 20);
        CHECK_NEAR(0.5, json_real_value(json_object_get(f20, "weight")), 1e-6);
        CHECK(strcmp(json_string_value(json_object_get(f20, "file")),
                     "frames/0020_sample_A-0500_sample_B-0500.png") == 0);
        CHECK(json_integer_value(json_object_get(f20, "bytes")) > 100);
        json_t *opts = json_object_get(man, "options");
        CHECK_INT(4, json_integer_value(json_object_get(opts, "samples")));
        CHECK(strcmp(json_string_value(json_object_get(opts, "background")), "ffffff") == 0);
        json_t *timings = json_object_get(man, "timings_s");
        CHECK(json_real_value(json_object_get(timings, "total")) > 0);
        CHECK(json_object_get(timings, "png_encode") != NULL);
        CHECK(json_string_value(json_object_get(json_object_get(man, "engine"), "name")) != NULL);
        CHECK(json_string_value(json_object_get(man, "morphd_version")) != NULL);
    }
    json_decref(man);

    snprintf(path, sizeof path, "%s/session.log", out);
    FILE *log = fopen(path, "r");
    CHECK(log != NULL);
    if (log != NULL) {
        char text[65536];
        size_t n = fread(text, 1, sizeof text - 1, log);
        text[n] = '\0';
        fclose(log);
        CHECK(strstr(text, "rendering 41 frame(s)") != NULL);
        CHECK(strstr(text, "done in") != NULL);
    }

    /* A shorter re-run into the same folder leaves exactly its own frames. */
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s --size 32x32 --weights 0,0.3,1 "
             "--samples 1 -q",
             tmp, tmp, out);
    CHECK_INT(0, morph(tmp, args));
    CHECK_INT(3, count_pngs(frames));
    img *w = load_frame(out, "0001_sample_A-0700_sample_B-0300.png");
    CHECK(w != NULL);
    img_free(w);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void check_errors(const char *tmp)
{
    char args[16384];
    CHECK_INT(2, morph(tmp, "run"));
    CHECK_STDERR("expected SOURCE and TARGET");
    CHECK_INT(2, morph(tmp, "frobnicate"));
    CHECK_STDERR("unknown command 'frobnicate'");
    snprintf(args, sizeof args, "run %s/s/sample_A.obj %s/s/sample_B.obj", tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("-o OUT is required");
    snprintf(args, sizeof args, "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e --size 12", tmp,
             tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("--size: '12'");
    snprintf(args, sizeof args, "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e --bogus", tmp, tmp,
             tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("unknown option '--bogus'");
    snprintf(args, sizeof args, "run %s/s/sample_A.obj %s/nope.obj -o %s/e", tmp, tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("nope.obj");
    CHECK_STDERR("target mesh");

    /* A mesh with another vertex count: a topology error naming both counts. */
    char path[4096];
    snprintf(path, sizeof path, "%s/tri.obj", tmp);
    write_text(path, "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n");
    snprintf(args, sizeof args, "run %s/s/sample_A.obj %s -o %s/e", tmp, path, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("source has 5954 vertices, target 3");

    /* A malformed mesh: the message has the file and the line. */
    snprintf(path, sizeof path, "%s/bad.obj", tmp);
    write_text(path, "v 0 0 0\nv 1 0 0\nv 0 1 oops\nf 1 2 3\n");
    snprintf(args, sizeof args, "run %s %s -o %s/e", path, path, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("bad.obj");
    CHECK_STDERR("line 3");

    /* A texture override that is not an image. */
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e --source-texture %s/bad.obj", tmp,
             tmp, tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("source texture");

    /* A limit lowered below the input: refused before any allocation, naming the limit. */
    snprintf(args, sizeof args,
             "run %s/s/sample_A.obj %s/s/sample_B.obj -o %s/e --limit max_vertices=100", tmp, tmp,
             tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_STDERR("max_vertices");
}

int main(void)
{
    const char *tmp = test_tmpdir("cli");
    char args[16384];
    CHECK_INT(0, morph(tmp, "--help"));
    CHECK_INT(0, morph(tmp, "run --help"));
    CHECK_INT(0, morph(tmp, "sample --help"));
    CHECK_INT(0, morph(tmp, "--version"));
    snprintf(args, sizeof args, "sample %s/s", tmp);
    CHECK_INT(0, morph(tmp, args));
    check_full_run(tmp);
    check_errors(tmp);
    return test_done();
}
