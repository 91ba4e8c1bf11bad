/* test_base.c — the error table, md_fail, limits parsing and overflow-safe sizes. */
#include "test_util.h"

#include <string.h>

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
    return test_done();
}
