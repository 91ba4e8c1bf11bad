/*
 * md_err.c — the error table (MD_ERRNO_MAP) turned into strings, HTTP statuses, problem slugs
 * and exit codes, and the md_error detail buffer. Pure functions; safe from any thread.
 */
#include "base/md.h"

#include <stdio.h>
#include <string.h>

const char *md_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define MD_ERR_STR(name, c, http, exitc, slug, msg)                                                \
    case c:                                                                                        \
        return msg;
        MD_ERRNO_MAP(MD_ERR_STR)
#undef MD_ERR_STR
    }
    return "unknown error";
}

const char *md_err_name(int code)
{
    switch (code) {
    case 0:
        return "OK";
#define MD_ERR_NAME(name, c, http, exitc, slug, msg)                                               \
    case c:                                                                                        \
        return #name;
        MD_ERRNO_MAP(MD_ERR_NAME)
#undef MD_ERR_NAME
    }
    return "EUNKNOWN";
}

int md_err_http_status(int code)
{
    switch (code) {
    case 0:
        return 200;
#define MD_ERR_HTTP(name, c, http, exitc, slug, msg)                                               \
    case c:                                                                                        \
        return http;
        MD_ERRNO_MAP(MD_ERR_HTTP)
#undef MD_ERR_HTTP
    }
    return 500;
}

const char *md_err_problem(int code)
{
    switch (code) {
#define MD_ERR_SLUG(name, c, http, exitc, slug, msg)                                               \
    case c:                                                                                        \
        return slug;
        MD_ERRNO_MAP(MD_ERR_SLUG)
#undef MD_ERR_SLUG
    }
    return "internal";
}

int md_err_exit_code(int code)
{
    switch (code) {
    case 0:
        return 0;
#define MD_ERR_EXIT(name, c, http, exitc, slug, msg)                                               \
    case c:                                                                                        \
        return exitc;
        MD_ERRNO_MAP(MD_ERR_EXIT)
#undef MD_ERR_EXIT
    }
    return 1;
}

void md_error_clear(md_error *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

int md_fail(md_error *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int md_error_prefix(md_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return MD_EINTERNAL;
    char prefix[MD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[MD_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    /* Truncation is acceptable here: the message stays a readable, NUL-terminated prefix. */
    size_t plen = strnlen(prefix, sizeof err->msg - 1);
    memcpy(err->msg, prefix, plen);
    size_t rest = strnlen(old, sizeof err->msg - 1 - plen);
    memcpy(err->msg + plen, old, rest);
    err->msg[plen + rest] = '\0';
    return err->code;
}
