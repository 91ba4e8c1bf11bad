/*
 * test_util.h — what every morphd test uses: CHECK macros that print both values and where,
 * the shared data folder (skipping with 77 when it is absent), a scratch directory, and small
 * image comparisons.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/md.h"

#define TEST_SKIP 77

extern int test_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_INT(expected, actual)                                                                \
    do {                                                                                           \
        long long e_ = (long long)(expected), a_ = (long long)(actual);                            \
        if (e_ != a_) {                                                                            \
            fprintf(stderr, "%s:%d: expected %s == %lld, got %lld\n", __FILE__, __LINE__, #actual, \
                    e_, a_);                                                                       \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(expected, actual, tol)                                                          \
    do {                                                                                           \
        double e_ = (double)(expected), a_ = (double)(actual);                                     \
        if (!(e_ - a_ <= (tol) && a_ - e_ <= (tol))) {                                             \
            fprintf(stderr, "%s:%d: expected %s == %g (+-%g), got %g\n", __FILE__, __LINE__,       \
                    #actual, e_, (double)(tol), a_);                                               \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* Checks rc == 0 and prints the md_error detail otherwise. */
#define CHECK_OK(rc, err)                                                                          \
    do {                                                                                           \
        int rc_ = (rc);                                                                            \
        if (rc_ != 0) {                                                                            \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #rc,                \
                    md_err_name(rc_), (err)->msg);                                                 \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* Checks that the md_error message contains needle. */
#define CHECK_MSG(err, needle)                                                                     \
    do {                                                                                           \
        if (strstr((err)->msg, (needle)) == NULL) {                                                \
            fprintf(stderr, "%s:%d: expected message containing '%s', got '%s'\n", __FILE__,       \
                    __LINE__, (needle), (err)->msg);                                               \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* Returns 0 when every CHECK passed, 1 otherwise; prints a summary. Use as `return test_done();`.
 */
int test_done(void);

/* The shared data folder ($MORPHD_DATA or the build's default). When it or the file rel under
 * it is missing, prints why and exits 77 (skip). Returns a static buffer with the full path. */
const char *test_data(const char *rel);
/* Same, but returns NULL instead of exiting when missing. */
const char *test_data_try(const char *rel);

/* A fresh empty scratch directory for this test (under $MORPHD_TEST_TMP or /tmp). */
const char *test_tmpdir(const char *name);

/* Checks that two C strings are equal (actual may be NULL), printing both otherwise. */
#define CHECK_STR(expected, actual)                                                                \
    do {                                                                                           \
        const char *e_s = (expected), *a_s = (actual);                                             \
        if (a_s == NULL || strcmp(e_s, a_s) != 0) {                                                \
            fprintf(stderr, "%s:%d: expected %s == \"%s\", got \"%s\"\n", __FILE__, __LINE__,      \
                    #actual, e_s, a_s ? a_s : "(null)");                                           \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* Checks that text contains needle, printing both otherwise. */
#define CHECK_CONTAINS(text, needle)                                                               \
    do {                                                                                           \
        if (strstr((text), (needle)) == NULL) {                                                    \
            fprintf(stderr, "%s:%d: expected %s containing '%s', got '%s'\n", __FILE__, __LINE__,  \
                    #text, (needle), (text));                                                      \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* The morph binary under test ($MORPH_BIN, set by ctest); exits 1 when unset. */
const char *test_morph_bin(void);
/* Runs `ENV morph ARGS` in a shell with stdout and stderr captured in DIR/stdout.txt and
 * DIR/stderr.txt and stdin from /dev/null; copies stderr (cut to cap - 1 bytes) into err_out. env
 * may be "" and is put before the binary (e.g. "env -u VAR"). Returns the exit status, -1 when
 * killed. */
int test_run_morph(const char *dir, const char *env, const char *args, char *err_out, size_t cap);
/* Reads DIR/NAME into buf (cut to cap - 1 bytes, NUL-terminated; empty when missing). */
void test_slurp(const char *dir, const char *name, char *buf, size_t cap);

/* PSNR in dB between two same-size RGB8 images (INFINITY when equal). */
double test_psnr(const uint8_t *a, const uint8_t *b, int width, int height);
/* Largest per-channel difference between two RGB8 images. */
int test_max_diff(const uint8_t *a, const uint8_t *b, int width, int height);

#endif
