/*
 * test_cli_batch.c — `morph batch` as a user runs it, locally: three meshes of one topology
 * (`morph sample`'s two and a stretched copy written here, textured by a same-named image) give
 * three pair folders and a summary.csv with a row each; a second run skips every pair; a pair
 * whose frame was deleted runs again; a mesh of another topology makes its pairs fail (exit 1)
 * while the others stand; PAIRS.csv picks pairs and names the line of an unknown file; bad
 * options fail before anything runs. Needs no shared data.
 */
#include "test_util.h"

#include <dirent.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char last_stderr[8192];

static int morph(const char *tmp, const char *args)
{
    return test_run_morph(tmp, "", args, last_stderr, sizeof last_stderr);
}

#define SUMMARY_HEADER "pair,status,seconds,mean_total_displacement,mean_delta_e00,message"
#define JOB "--frames 3 --size 64x64 --samples 1 --outputs csv --jobs 2 -q"

/* One row of summary.csv: the five first fields (no commas in them) and the message. */
typedef struct row {
    char pair[256], status[32], seconds[64], displacement[64], delta_e[64], message[1024];
} row;

/* Reads out/summary.csv: checks the header, fills up to cap rows, returns the row count (-1 when
 * the file is missing). */
static int read_summary(const char *out, row *rows, int cap)
{
    char text[16384];
    test_slurp(out, "summary.csv", text, sizeof text);
    if (text[0] == '\0')
        return -1;
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (line == NULL || strcmp(line, SUMMARY_HEADER) != 0) {
        fprintf(stderr, "summary.csv header: expected '%s', got '%s'\n", SUMMARY_HEADER,
                line ? line : "(none)");
        test_failures++;
        return 0;
    }
    int n = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL && n < cap) {
        row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        char *field[5];
        char *p = line;
        for (int k = 0; k < 5; k++) {
            field[k] = p;
            char *comma = strchr(p, ',');
            if (comma == NULL) {
                fprintf(stderr, "summary.csv row %d: expected 6 fields, got '%s'\n", n, line);
                test_failures++;
                return n;
            }
            *comma = '\0';
            p = comma + 1;
        }
        snprintf(r->pair, sizeof r->pair, "%s", field[0]);
        snprintf(r->status, sizeof r->status, "%s", field[1]);
        snprintf(r->seconds, sizeof r->seconds, "%s", field[2]);
        snprintf(r->displacement, sizeof r->displacement, "%s", field[3]);
        snprintf(r->delta_e, sizeof r->delta_e, "%s", field[4]);
        snprintf(r->message, sizeof r->message, "%s", p);
    }
    return n;
}

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

/* in/sample_C.obj: sample_A stretched 5% along x, with no mtllib (so the same-named
 * sample_C.png, a copy of sample_B.png, is its texture). */
static void write_third_mesh(const char *in)
{
    char path[4400], line[512];
    snprintf(path, sizeof path, "%s/sample_A.obj", in);
    FILE *src = fopen(path, "r");
    snprintf(path, sizeof path, "%s/sample_C.obj", in);
    FILE *dst = fopen(path, "w");
    CHECK(src != NULL && dst != NULL);
    while (src != NULL && dst != NULL && fgets(line, sizeof line, src) != NULL) {
        double x, y, z;
        if (strncmp(line, "mtllib", 6) == 0)
            continue;
        if (sscanf(line, "v %lf %lf %lf", &x, &y, &z) == 3)
            fprintf(dst, "v %.6f %.6f %.6f\n", x * 1.05, y, z);
        else
            fputs(line, dst);
    }
    if (src != NULL)
        fclose(src);
    if (dst != NULL)
        fclose(dst);
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "cp '%s/sample_B.png' '%s/sample_C.png'", in, in);
    CHECK_INT(0, system(cmd));
}

static const char *const pairs3[3] = {"sample_A__sample_B", "sample_A__sample_C",
                                      "sample_B__sample_C"};

static long long mtime_ns(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

/* The first run: three folders of three frames, three ok rows with both means, and the texture
 * of sample_C found beside it. */
static void check_first_run(const char *tmp, const char *out)
{
    char args[16384];
    snprintf(args, sizeof args, "batch %s/in -o %s " JOB, tmp, out);
    CHECK_INT(0, morph(tmp, args));
    for (int i = 0; i < 3; i++) {
        char dir[4300];
        snprintf(dir, sizeof dir, "%s/%s/frames", out, pairs3[i]);
        CHECK_INT(3, count_pngs(dir));
    }
    row rows[8];
    CHECK_INT(3, read_summary(out, rows, 8));
    for (int i = 0; i < 3; i++) {
        CHECK_STR(pairs3[i], rows[i].pair);
        CHECK_STR("ok", rows[i].status);
        CHECK(atof(rows[i].seconds) > 0);
        CHECK(atof(rows[i].displacement) > 0);
        CHECK(rows[i].delta_e[0] != '\0');
        CHECK_STR("", rows[i].message);
    }
    /* C's texture is a copy of B's (found beside it, as C names none): A-C differ in colour as
     * much as A-B, and B-C not at all. */
    CHECK(atof(rows[0].delta_e) > 0);
    CHECK_STR(rows[0].delta_e, rows[1].delta_e);
    CHECK_STR("0", rows[2].delta_e);

    char path[4300];
    snprintf(path, sizeof path, "%s/sample_A__sample_C/manifest.json", out);
    json_t *man = json_load_file(path, 0, NULL);
    CHECK(man != NULL);
    json_t *target = json_object_get(json_object_get(man, "inputs"), "target");
    json_t *tex =
        json_object_get(json_array_get(json_object_get(target, "materials"), 0), "texture");
    const char *tex_path = json_string_value(json_object_get(tex, "path"));
    CHECK_CONTAINS(tex_path ? tex_path : "(none)", "sample_C.png");
    json_decref(man);
}

/* A second run skips every pair (no frame is rewritten); one with a frame deleted runs again. */
static void check_resume(const char *tmp, const char *out)
{
    char args[16384], frame[4400];
    snprintf(frame, sizeof frame,
             "%s/sample_A__sample_C/frames/0001_sample_A-0500_sample_C-0500.png", out);
    long long before = mtime_ns(frame);
    CHECK(before > 0);
    snprintf(args, sizeof args, "batch %s/in -o %s " JOB, tmp, out);
    CHECK_INT(0, morph(tmp, args));
    CHECK_INT(before, mtime_ns(frame));
    row rows[8];
    CHECK_INT(3, read_summary(out, rows, 8));
    for (int i = 0; i < 3; i++) {
        CHECK_STR("skipped", rows[i].status);
        CHECK(atof(rows[i].displacement) > 0); /* still read from the pair's statistics.csv */
    }

    CHECK_INT(0, unlink(frame));
    CHECK_INT(0, morph(tmp, args));
    CHECK(mtime_ns(frame) > 0);
    CHECK_INT(3, read_summary(out, rows, 8));
    CHECK_STR("skipped", rows[0].status);
    CHECK_STR("ok", rows[1].status);
    CHECK_STR("skipped", rows[2].status);
}

/* A one-triangle mesh: its three pairs fail with the topology message, exit status 1, and the
 * other pairs stay as they were. */
static void check_failing_pairs(const char *tmp, const char *out)
{
    char path[4200], args[16384];
    snprintf(path, sizeof path, "%s/in/tri.obj", tmp);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", f);
        fclose(f);
    }
    snprintf(args, sizeof args, "batch %s/in -o %s " JOB, tmp, out);
    CHECK_INT(1, morph(tmp, args));
    row rows[8];
    CHECK_INT(6, read_summary(out, rows, 8));
    static const char *const names[6] = {"sample_A__sample_B", "sample_A__sample_C",
                                         "sample_A__tri",      "sample_B__sample_C",
                                         "sample_B__tri",      "sample_C__tri"};
    for (int i = 0; i < 6; i++) {
        CHECK_STR(names[i], rows[i].pair);
        int bad = strstr(names[i], "tri") != NULL;
        CHECK_STR(bad ? "failed" : "skipped", rows[i].status);
        if (bad) {
            CHECK_CONTAINS(rows[i].message, "same topology");
            CHECK_STR("", rows[i].displacement);
        }
    }
    CHECK_CONTAINS(last_stderr, "sample_A__tri");
    CHECK_INT(0, unlink(path));
}

/* PAIRS.csv: the listed pair only, in the listed direction; an unknown name names its line. */
static void check_pairs_csv(const char *tmp)
{
    char path[4200], args[16384], out[4200];
    snprintf(path, sizeof path, "%s/pairs.csv", tmp);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("source,target\n# one pair\nsample_C.obj, sample_B.obj\n", f);
        fclose(f);
    }
    snprintf(out, sizeof out, "%s/out_pairs", tmp);
    snprintf(args, sizeof args, "batch %s/in -o %s --pairs %s " JOB, tmp, out, path);
    CHECK_INT(0, morph(tmp, args));
    row rows[4];
    CHECK_INT(1, read_summary(out, rows, 4));
    CHECK_STR("sample_C__sample_B", rows[0].pair);
    CHECK_STR("ok", rows[0].status);

    f = fopen(path, "w");
    if (f != NULL) {
        fputs("sample_A.obj,sample_B.obj\n\nsample_A.obj,nobody.obj\n", f);
        fclose(f);
    }
    snprintf(out, sizeof out, "%s/out_bad", tmp);
    snprintf(args, sizeof args, "batch %s/in -o %s --pairs %s " JOB, tmp, out, path);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "line 3");
    CHECK_CONTAINS(last_stderr, "'nobody.obj'");
}

/* Without the csv output (no statistics.csv), the means come from each pair's manifest: the
 * same numbers as the csv run's, to the manifest's precision. */
static void check_means_without_csv(const char *tmp)
{
    char args[16384], out[4200], with_csv[4200];
    snprintf(with_csv, sizeof with_csv, "%s/out_pairs", tmp); /* check_pairs_csv's, --outputs csv */
    snprintf(out, sizeof out, "%s/out_no_csv", tmp);
    snprintf(args, sizeof args,
             "batch %s/in -o %s --pairs %s/pairs_one.csv --frames 3 --size 64x64 --samples 1 -q",
             tmp, out, tmp);
    FILE *f = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/pairs_one.csv", tmp);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("sample_C.obj,sample_B.obj\n", f);
        fclose(f);
    }
    CHECK_INT(0, morph(tmp, args));
    row rows[2], csv_rows[2];
    CHECK_INT(1, read_summary(out, rows, 2));
    CHECK_INT(1, read_summary(with_csv, csv_rows, 2));
    struct stat st;
    char stats[4400];
    snprintf(stats, sizeof stats, "%s/sample_C__sample_B/statistics.csv", out);
    CHECK(stat(stats, &st) != 0); /* no csv output asked */
    CHECK(rows[0].displacement[0] != '\0');
    CHECK(rows[0].delta_e[0] != '\0');
    CHECK_NEAR(atof(csv_rows[0].displacement), atof(rows[0].displacement), 1e-5);
    CHECK_NEAR(atof(csv_rows[0].delta_e), atof(rows[0].delta_e), 1e-4);
}

/* Bad usage fails before any pair runs. */
static void check_usage(const char *tmp)
{
    char args[16384];
    snprintf(args, sizeof args, "batch %s/in -o %s/out_usage --frames x", tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "--frames");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/out_usage/sample_A__sample_B", tmp);
    CHECK_INT(-1, mtime_ns(dir));
    snprintf(args, sizeof args, "batch %s/in", tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "-o OUT is required");
    snprintf(args, sizeof args, "batch %s/in -o %s/o --jobs 0", tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "--jobs");
    snprintf(args, sizeof args, "batch %s/in -o %s/o --limit max_batch_meshes=2", tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "max_batch_meshes");
    snprintf(args, sizeof args, "batch %s/in -o %s/o --limit max_batch_pairs=2", tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "max_batch_pairs");
    snprintf(args, sizeof args, "batch %s/in -o %s/o --source-texture x.png", tmp, tmp);
    CHECK_INT(2, morph(tmp, args));
    CHECK_CONTAINS(last_stderr, "does not apply to a batch");
}

int main(void)
{
    const char *tmp = test_tmpdir("cli_batch");
    char args[16384], out[4200], text[16384];
    CHECK_INT(0, morph(tmp, "batch --help"));
    test_slurp(tmp, "stdout.txt", text, sizeof text);
    CHECK_CONTAINS(text, "summary.csv");
    CHECK_INT(0, morph(tmp, "--help"));
    test_slurp(tmp, "stdout.txt", text, sizeof text);
    CHECK_CONTAINS(text, "morph batch DIR");
    snprintf(args, sizeof args, "sample %s/in", tmp);
    CHECK_INT(0, morph(tmp, args));
    snprintf(out, sizeof out, "%s/in", tmp);
    write_third_mesh(out);
    snprintf(out, sizeof out, "%s/out", tmp);
    check_first_run(tmp, out);
    check_resume(tmp, out);
    check_failing_pairs(tmp, out);
    check_pairs_csv(tmp);
    check_means_without_csv(tmp);
    check_usage(tmp);
    return test_done();
}
