/*
 * test_api_intake.c — the two pure parsers in front of every request (issue 14): the request
 * head check of api/gate.c (api_gate_check_head) and the multipart/form-data parser of
 * api/multipart.c. Expected verdicts, statuses and parts for hand-written inputs, including a
 * delimiter split across feeds at every position and a CR inside part data.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "api/multipart.h"
#include "test_util.h"

/* ---- Request heads ---- */

static int head(const char *text, md_error *err)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error_clear(err);
    size_t cap = (size_t)lim.max_header_bytes + 1;
    size_t n = strlen(text) < cap ? strlen(text) : cap;
    return api_gate_check_head(text, n, cap, &lim, err);
}

static void test_heads(void)
{
    md_error err;
    CHECK_INT(0, head("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &err));
    CHECK_INT(0, head("\r\nGET / HTTP/1.0\r\n\r\n", &err));
    CHECK_INT(1, head("GET /healthz HTTP/1.1\r\nHost: x\r\n", &err)); /* not all in yet */
    CHECK_INT(1, head("GET /heal", &err));
    CHECK_INT(MD_EINVAL,
              head("POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", &err));
    CHECK_MSG(&err, "Content-Length '-1'");
    CHECK_INT(MD_EINVAL, head("POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                              "Content-Length: 4\r\n\r\n",
                              &err));
    CHECK_INT(0, head("POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                      "content-length:  3 \r\n\r\n",
                      &err));
    CHECK_INT(MD_EINVAL,
              head("POST /jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", &err));
    CHECK_INT(0,
              head("POST /jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", &err));
    CHECK_INT(MD_EINVAL, head("GET /healthz HTTP/1.1\r\n\r\n", &err));
    CHECK_MSG(&err, "Host");
    CHECK_INT(MD_EINVAL, head("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", &err));
    CHECK_INT(MD_EINVAL, head("GET /healthz\r\nHost: x\r\n\r\n", &err));
    CHECK_INT(MD_EINVAL, head("GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", &err));
    CHECK_INT(MD_EINVAL, head("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", &err));

    static char big[40000];
    /* A 3000-byte target: 414, whether the line is in or not. */
    snprintf(big, sizeof big, "GET /%03000d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    CHECK_INT(MD_EURITOOLONG, head(big, &err));
    CHECK_INT(414, md_err_http_status(MD_EURITOOLONG));
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "GET /", 5);
    CHECK_INT(MD_EURITOOLONG, head(big, &err));
    /* A 20 KB header: 431 as soon as max_header_bytes is passed, end of head or not. */
    int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + n, 'b', 20000);
    big[n + 20000] = '\0';
    CHECK_INT(MD_EHEADERS, head(big, &err));
    CHECK_MSG(&err, "max_header_bytes");
    CHECK_INT(431, md_err_http_status(MD_EHEADERS));
    /* 101 header lines, or 60 headers and 41 query parameters: over max_headers (100). */
    n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "X-%d: v\r\n", i);
    snprintf(big + n, sizeof big - (size_t)n, "Host: x\r\n\r\n");
    CHECK_INT(MD_EHEADERS, head(big, &err));
    CHECK_MSG(&err, "max_headers");
    n = snprintf(big, sizeof big, "GET /jobs?a=1");
    for (int i = 0; i < 40; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "&b%d=1", i);
    n += snprintf(big + n, sizeof big - (size_t)n, " HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 60; i++)
        n += snprintf(big + n, sizeof big - (size_t)n, "X-%d: v\r\n", i);
    snprintf(big + n, sizeof big - (size_t)n, "\r\n");
    CHECK_INT(MD_EHEADERS, head(big, &err));
}

/* ---- Multipart ---- */

typedef struct parts {
    int count;
    char names[8][32];
    char files[8][32];
    char data[8][128];
    size_t len[8];
} parts;

static int on_part(void *cls, const char *name, const char *filename, const char *data,
                   uint64_t off, size_t size)
{
    parts *p = cls;
    if (off == 0 && size == 0) {
        if (p->count == 8)
            return -1;
        p->count++;
        snprintf(p->names[p->count - 1], sizeof p->names[0], "%s", name);
        snprintf(p->files[p->count - 1], sizeof p->files[0], "%s", filename ? filename : "-");
        return 0;
    }
    size_t i = (size_t)p->count - 1;
    if (off != p->len[i] || p->len[i] + size >= sizeof p->data[0])
        return -1;
    memcpy(p->data[i] + p->len[i], data, size);
    p->len[i] += size;
    return 0;
}

/* Parses body fed in pieces of chunk bytes; 0 or -1. */
static int parse(const char *ctype, const char *body, size_t len, size_t chunk, parts *p, char *why,
                 size_t why_cap)
{
    memset(p, 0, sizeof *p);
    md_error err;
    md_error_clear(&err);
    api_mp *mp = api_mp_new(ctype, on_part, p, &err);
    if (mp == NULL) {
        snprintf(why, why_cap, "%.150s", err.msg);
        return -1;
    }
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0; at += chunk)
        rc = api_mp_feed(mp, body + at, len - at < chunk ? len - at : chunk);
    if (rc == 0)
        rc = api_mp_finish(mp);
    snprintf(why, why_cap, "%s", api_mp_error(mp));
    api_mp_free(mp);
    return rc;
}

static void test_multipart(void)
{
    const char *ct = "multipart/form-data; boundary=XyZ";
    const char body[] = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"spec\"\r\n\r\n"
                        "{\"frames\":3}\r\n--XyZ  \r\n"
                        "Content-Disposition: form-data; name=\"source\"; filename=\"a b.obj\"\r\n"
                        "Content-Type: text/plain\r\n\r\nv 0\r\n--Xy\rZ\r\r\n--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n--XyZ--\r\n"
                        "epilogue";
    size_t len = sizeof body - 1;
    /* The same parts whatever the feeding: every split of a delimiter is met. */
    for (size_t chunk = 1; chunk <= len; chunk++) {
        parts p;
        char why[160];
        int rc = parse(ct, body, len, chunk, &p, why, sizeof why);
        if (rc != 0) {
            fprintf(stderr, "chunk %zu: expected the body accepted, got: %s\n", chunk, why);
            test_failures++;
            continue;
        }
        CHECK_INT(3, p.count);
        CHECK(strcmp(p.names[0], "spec") == 0 && strcmp(p.files[0], "-") == 0);
        CHECK_INT(12, p.len[0]);
        CHECK(memcmp(p.data[0], "{\"frames\":3}", 12) == 0);
        CHECK(strcmp(p.names[1], "source") == 0 && strcmp(p.files[1], "a b.obj") == 0);
        CHECK_INT(12, p.len[1]);
        CHECK(memcmp(p.data[1], "v 0\r\n--Xy\rZ\r", 12) == 0);
        CHECK(strcmp(p.names[2], "empty") == 0);
        CHECK_INT(0, p.len[2]);
        if (test_failures > 0)
            break;
    }
    parts p;
    char why[160];
    /* A quoted boundary, the first delimiter at the very start. */
    const char q[] = "--a:b c\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a:b c--";
    CHECK_INT(0, parse("multipart/form-data; boundary=\"a:b c\"", q, sizeof q - 1, 7, &p, why,
                       sizeof why));
    CHECK_INT(1, p.count);
    CHECK_INT(1, p.len[0]);
    /* Refusals, each with a reason. */
    const char *no_end = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc";
    CHECK_INT(-1, parse(ct, no_end, strlen(no_end), 5, &p, why, sizeof why));
    CHECK(strstr(why, "closing boundary") != NULL);
    const char *no_cd = "--XyZ\r\nContent-Type: text/plain\r\n\r\nabc\r\n--XyZ--";
    CHECK_INT(-1, parse(ct, no_cd, strlen(no_cd), 64, &p, why, sizeof why));
    CHECK(strstr(why, "Content-Disposition") != NULL);
    const char *junk = "--XyZjunk\r\n";
    CHECK_INT(-1, parse(ct, junk, strlen(junk), 64, &p, why, sizeof why));
    CHECK_INT(-1, parse("multipart/form-data", "", 0, 1, &p, why, sizeof why));
    CHECK(strstr(why, "boundary") != NULL);
    CHECK_INT(-1, parse("multipart/form-data; boundary=bad\rcr", "", 0, 1, &p, why, sizeof why));
    CHECK_INT(-1, parse("text/plain; boundary=x", "", 0, 1, &p, why, sizeof why));
}

int main(void)
{
    test_heads();
    test_multipart();
    return test_done();
}
