/* test_base.c — the error table, md_fail, limits parsing, overflow-safe sizes and md_buf. */
#include "test_util.h"

#include <string.h>

/* md_buf: appends up to max, refuses past it with MD_ELIMIT (sticky, keeping what fitted),
 * printf longer than its stack buffer, overflow-safe sizes, reset and take. */
static void test_buf(void)
{
    md_buf b;
    md_buf_init(&b, 10);
    CHECK(b.data == NULL);
    CHECK_INT(0, md_buf_puts(&b, "abc"));
    CHECK_INT(0, md_buf_printf(&b, "%d-%s", 42, "xy"));
    CHECK_INT(8, (int)b.len);
    CHECK(strcmp(b.data, "abc42-xy") == 0);
    CHECK_INT(0, md_buf_append(&b, "12", 2)); /* exactly max */
    CHECK_INT(MD_ELIMIT, md_buf_append(&b, "3", 1));
    CHECK_INT(MD_ELIMIT, b.err);
    CHECK_INT(MD_ELIMIT, md_buf_append(&b, "", 0)); /* sticky */
    CHECK(strcmp(b.data, "abc42-xy12") == 0);
    CHECK(b.cap <= 11); /* never allocates beyond max + the NUL */
    /* A length whose sum overflows size_t is refused, not wrapped. */
    md_buf_reset(&b);
    CHECK_INT(0, (int)b.len);
    CHECK_INT(0, md_buf_puts(&b, "q"));
    CHECK_INT(MD_ELIMIT, md_buf_append(&b, "x", SIZE_MAX));
    CHECK(md_buf_take(&b, NULL) == NULL); /* failed: freed */
    CHECK(b.data == NULL);

    /* Growth well past the first allocation and a printf longer than 512 bytes. */
    md_buf_init(&b, 1 << 20);
    char line[2000];
    memset(line, 'z', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    CHECK_INT(0, md_buf_printf(&b, "<%s>", line));
    CHECK_INT(2001, (int)b.len);
    CHECK(b.data[0] == '<' && b.data[2000] == '>' && b.data[2001] == '\0');
    for (int i = 0; i < 1000; i++)
        CHECK_INT(0, md_buf_append(&b, line, 100));
    CHECK_INT(2001 + 100000, (int)b.len);
    unsigned char *raw = md_buf_grow(&b, 3);
    CHECK(raw != NULL);
    raw[0] = 0;
    raw[1] = 1;
    raw[2] = 2;
    CHECK_INT(2001 + 100003, (int)b.len);
    size_t len = 0;
    char *text = md_buf_take(&b, &len);
    CHECK(text != NULL);
    CHECK_INT(2001 + 100003, (int)len);
    CHECK(text[len - 1] == 2 && text[len] == '\0');
    md_free(text);
    CHECK(b.data == NULL && b.len == 0);
    /* Nothing appended: take gives "", not NULL. */
    text = md_buf_take(&b, &len);
    CHECK(text != NULL && text[0] == '\0' && len == 0);
    md_free(text);
    md_buf_free(&b);
    md_buf_free(&b); /* twice is fine */
}

/* Large buffers (4 MiB and more: huge-page advice) are plain heap memory:
 * md_calloc's are zero even when the memory is reused, realloc keeps the bytes, md_free frees
 * them (ASan checks the pairing). */
static void test_large_alloc(void)
{
    const size_t big = (size_t)6 << 20;
    for (int round = 0; round < 2; round++) {
        uint8_t *a = md_malloc(big);
        CHECK(a != NULL);
        if (a == NULL)
            return;
        memset(a, 0xab, big); /* dirty, so a reused block shows through md_calloc */
        md_free(a);
        uint8_t *z = md_calloc(big / 8, 8);
        CHECK(z != NULL);
        if (z == NULL)
            return;
        size_t nonzero = 0;
        for (size_t i = 0; i < big; i++)
            nonzero += z[i] != 0;
        CHECK_INT(0, nonzero);
        z[big - 1] = 7;
        uint8_t *g = md_realloc_array(z, 2, big);
        CHECK(g != NULL);
        if (g != NULL) {
            CHECK_INT(7, g[big - 1]);
            md_free(g);
        } else {
            md_free(z);
        }
    }
}

int main(void)
{
    md_error err;
    md_error_clear(&err);
    CHECK_INT(MD_EPARSE, md_fail(&err, MD_EPARSE, "line %d: bad", 7));
    CHECK_INT(MD_EPARSE, err.code);
    CHECK_MSG(&err, "line 7: bad");
    md_error_prefix(&err, "a.obj: ");
    CHECK(strcmp(err.msg, "a.obj: line 7: bad") == 0);
    CHECK_INT(422, md_err_http_status(MD_EPARSE));
    CHECK_INT(2, md_err_exit_code(MD_EPARSE));
    CHECK_INT(1, md_err_exit_code(MD_ENOMEM));
    CHECK(strcmp(md_err_name(MD_ETOPOLOGY), "ETOPOLOGY") == 0);
    /* The problem slug column: what the api answers (openapi.yaml's urn:morphd:problem:*). */
    CHECK(strcmp(md_err_problem(MD_EBUSY), "queue-full") == 0);
    CHECK_INT(503, md_err_http_status(MD_EBUSY));
    CHECK(strcmp(md_err_problem(MD_ENODEV), "unavailable") == 0);
    CHECK(strcmp(md_err_problem(MD_ENOENT), "not-found") == 0);
    CHECK_INT(404, md_err_http_status(MD_ENOENT));
    CHECK(strcmp(md_err_problem(12345), "internal") == 0);
    md_log_level level = MD_LOG_ERROR;
    CHECK_OK(md_log_level_parse("debug", &level, &err), &err);
    CHECK_INT(MD_LOG_DEBUG, level);
    CHECK_OK(md_log_level_parse("warn", &level, &err), &err);
    CHECK_INT(MD_LOG_WARN, level);
    CHECK_INT(MD_EINVAL, md_log_level_parse("loud", &level, &err));
    CHECK_MSG(&err, "'loud' is not debug, info, warn or error");
    CHECK(strcmp(md_strerror(12345), "unknown error") == 0);

    md_limits lim;
    md_limits_default(&lim);
    CHECK_INT(256, lim.max_materials);
    CHECK_OK(md_limits_set(&lim, "max_vertices=10k", &err), &err);
    CHECK_INT(10240, lim.max_vertices);
    CHECK_INT(MD_EINVAL, md_limits_set(&lim, "max_vertices=abc", &err));
    CHECK_INT(MD_EINVAL, md_limits_set(&lim, "no_such_limit=1", &err));
    CHECK_MSG(&err, "unknown limit 'no_such_limit'");
    CHECK_INT(MD_EINVAL, md_limits_set(&lim, "max_vertices=99999999999999999999", &err));

    size_t out;
    CHECK_INT(-1, md_mul_size(SIZE_MAX / 2, 3, &out));
    CHECK_INT(0, md_mul_size(1000, 1000, &out));
    CHECK_INT(1000000, out);
    CHECK(md_malloc_array(SIZE_MAX / 4, 8) == NULL);
    test_buf();
    test_large_alloc();
    return test_done();
}
