/*
 * md_err.c — the error table (MD_ERRNO_MAP) turned into strings, HTTP statuses, problem slugs
 * and exit codes, and the md_error detail buffer. Pure functions; safe from any thread.
 */
#include "base/md.h"

#include <stdio.h>
#include <string.h>

/* One row per MD_ERRNO_MAP entry; code 0 and codes outside the table are answered by the
 * accessors themselves. */
typedef struct err_row {
    int code, http, exitc;
    const char *name, *slug, *msg;
} err_row;

static const err_row rows[] = {
#define MD_ERR_ROW(name, c, http, exitc, slug, msg) {c, http, exitc, #name, slug, msg},
    MD_ERRNO_MAP(MD_ERR_ROW)
#undef MD_ERR_ROW
};

static const err_row *find(int code)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].code == code)
            return &rows[i];
    return NULL;
}

const char *md_strerror(int code)
{
    const err_row *r = find(code);
    return code == 0 ? "success" : r ? r->msg : "unknown error";
}

const char *md_err_name(int code)
{
    const err_row *r = find(code);
    return code == 0 ? "OK" : r ? r->name : "EUNKNOWN";
}

int md_err_http_status(int code)
{
    const err_row *r = find(code);
    return code == 0 ? 200 : r ? r->http : 500;
}

const char *md_err_problem(int code)
{
    const err_row *r = find(code);
    return r ? r->slug : "internal";
}

int md_err_exit_code(int code)
{
    const err_row *r = find(code);
    return code == 0 ? 0 : r ? r->exitc : 1;
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
