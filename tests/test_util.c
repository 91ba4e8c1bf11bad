/*
 * test_util.c — shared helpers of the ctest executables (see test_util.h).
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int test_failures;

int test_done(void)
{
    if (test_failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", test_failures);
        return 1;
    }
    fprintf(stderr, "all checks passed\n");
    return 0;
}

const char *test_data_try(const char *rel)
{
    static char path[4096];
    const char *root = getenv("MORPHD_DATA");
    if (root == NULL || root[0] == '\0')
        return NULL;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL;
    return path;
}

const char *test_data(const char *rel)
{
    const char *p = test_data_try(rel);
    if (p == NULL) {
        fprintf(stderr, "skipped: test data %s/%s is not here (set MORPHD_DATA)\n",
                getenv("MORPHD_DATA") ? getenv("MORPHD_DATA") : "(unset)", rel);
        exit(TEST_SKIP);
    }
    return p;
}

const char *test_tmpdir(const char *name)
{
    static char path[4096];
    const char *root = getenv("MORPHD_TEST_TMP");
    if (root == NULL || root[0] == '\0')
        root = "/tmp/morphd-test";
    snprintf(path, sizeof path, "%s/%s", root, name);
    char cmd[2 * sizeof path + 64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot create scratch directory %s\n", path);
        exit(1);
    }
    return path;
}

double test_psnr(const uint8_t *a, const uint8_t *b, int width, int height)
{
    double se = 0;
    size_t n = (size_t)width * (size_t)height * 3;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    if (se == 0)
        return INFINITY;
    double mse = se / (double)n;
    return 10.0 * log10(255.0 * 255.0 / mse);
}

int test_max_diff(const uint8_t *a, const uint8_t *b, int width, int height)
{
    int worst = 0;
    size_t n = (size_t)width * (size_t)height * 3;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* ---- Running the morph binary ---- */

const char *test_morph_bin(void)
{
    const char *bin = getenv("MORPH_BIN");
    if (bin == NULL) {
        fprintf(stderr, "MORPH_BIN is not set (run through ctest)\n");
        exit(1);
    }
    return bin;
}

void test_slurp(const char *dir, const char *name, char *buf, size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

int test_run_morph(const char *dir, const char *env, const char *args, char *err_out, size_t cap)
{
    char cmd[32768];
    snprintf(cmd, sizeof cmd, "%s '%s' %s >'%s/stdout.txt' 2>'%s/stderr.txt' </dev/null", env,
             test_morph_bin(), args, dir, dir);
    int status = system(cmd);
    test_slurp(dir, "stderr.txt", err_out, cap);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
