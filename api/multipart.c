/*
 * multipart.c — a streaming multipart/form-data parser (RFC 7578, RFC 2046 section 5.1), fed
 * bytes as they arrive and handing each part's bytes to a callback; no I/O, no sockets, no
 * libmicrohttpd (issue 14: the intake must be fuzzable without a connection; MHD's post
 * processor can only be created from a live connection). intake.c feeds it the body of
 * POST /jobs; tests/fuzz/fuzz_multipart.c feeds it anything.
 *
 * Grammar, as read here: the body is treated as if it began with CRLF, so the first delimiter
 * is found like every other one, as CRLF "--" boundary. After a delimiter comes "--" (the end:
 * the epilogue is ignored) or optional spaces and tabs and CRLF, then the part's header lines up
 * to an empty line, then its data up to the next delimiter. Only Content-Disposition is read
 * (form-data; name="..."; filename="..."); other headers are skipped. The boundary has 1..70
 * characters of RFC 2046's bchars, none of them CR, so a partial delimiter that fails to match
 * can only restart at a CR: the parser holds at most one delimiter's worth of bytes between
 * feeds and needs no search tables.
 *
 * Limits: a part's header block is at most API_MP_HEADERS_MAX bytes; anything else is bounded
 * by the caller (intake.c caps the body and each part). Errors are sticky: after the first,
 * feed and finish return it again, and err_detail says what was wrong.
 *
 * One parser per request, one thread at a time. The callback gets each part once with size 0
 * and off 0 when its headers are in (so empty parts are seen), then its data in order;
 * name and filename are the parser's, valid during the call.
 */
#include "api/multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/md.h"

#define API_MP_BOUNDARY_MAX 70
#define API_MP_HEADERS_MAX (16 << 10)
#define API_MP_NAME_MAX 256

enum mp_state {
    MP_DATA,        /* in a part's data (or the preamble, before the first part) */
    MP_AFTER_DELIM, /* just after a delimiter: "--" or padding and CRLF follows */
    MP_AFTER_DASH,  /* one '-' of the closing "--" */
    MP_PADDING,     /* spaces or tabs before the CRLF that ends the delimiter line */
    MP_PADDING_CR,  /* the CR of that CRLF */
    MP_HEADERS,     /* header lines of a part */
    MP_END,         /* after the closing delimiter: the epilogue is ignored */
    MP_ERROR
};

struct api_mp {
    enum mp_state state;
    char delim[4 + API_MP_BOUNDARY_MAX + 1]; /* CRLF "--" boundary */
    size_t delim_len;
    char held[4 + API_MP_BOUNDARY_MAX]; /* bytes that may be the start of a delimiter */
    size_t held_len;
    int in_part; /* 0 in the preamble */
    uint64_t off;
    char headers[API_MP_HEADERS_MAX + 1];
    size_t headers_len;
    char name[API_MP_NAME_MAX];
    char filename[API_MP_NAME_MAX];
    api_mp_part_fn on_part;
    void *cls;
    char err_detail[160];
};

/* ---- Content-Type ---- */

static int bchar(unsigned char c)
{
    return isalnum(c) || strchr("'()+_,-./:=? ", c) != NULL;
}

/* The value of parameter key in a header value ("form-data; name=\"x\""), unquoted (backslash
 * escapes honoured) into out. 1 found, 0 not. */
static int header_param(const char *value, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = value;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, key, kl) != 0 || p[kl] != '=')
            continue;
        p += kl + 1;
        size_t n = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                if (n + 1 < cap)
                    out[n++] = *p;
            }
        } else {
            for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++)
                if (n + 1 < cap)
                    out[n++] = *p;
        }
        out[n] = '\0';
        return 1;
    }
    return 0;
}

api_mp *api_mp_new(const char *content_type, api_mp_part_fn on_part, void *cls, md_error *err)
{
    if (content_type == NULL || strncasecmp(content_type, "multipart/form-data", 19) != 0)
        return md_fail(err, MD_EINVAL, "the Content-Type is not multipart/form-data"), NULL;
    char boundary[API_MP_BOUNDARY_MAX + 2];
    if (!header_param(content_type, "boundary", boundary, sizeof boundary) || boundary[0] == '\0')
        return md_fail(err, MD_EINVAL, "the multipart/form-data Content-Type has no boundary"),
               NULL;
    size_t bl = strlen(boundary);
    int ok = bl <= API_MP_BOUNDARY_MAX && boundary[bl - 1] != ' ';
    for (size_t i = 0; ok && i < bl; i++)
        ok = bchar((unsigned char)boundary[i]);
    if (!ok)
        return md_fail(err, MD_EINVAL,
                       "the multipart boundary must be 1 to 70 letters, digits or '()+_,-./:=? "
                       "(RFC 2046), not ending in a space"),
               NULL;
    api_mp *mp = md_calloc(1, sizeof *mp);
    if (mp == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory"), NULL;
    mp->delim_len = (size_t)snprintf(mp->delim, sizeof mp->delim, "\r\n--%s", boundary);
    /* The body is read as if it began with CRLF: the first delimiter needs none before it. */
    memcpy(mp->held, "\r\n", 2);
    mp->held_len = 2;
    mp->state = MP_DATA;
    mp->on_part = on_part;
    mp->cls = cls;
    return mp;
}

void api_mp_free(api_mp *mp)
{
    md_free(mp);
}

const char *api_mp_error(const api_mp *mp)
{
    return mp->err_detail;
}

/* ---- Parsing ---- */

static int fail(api_mp *mp, const char *what)
{
    mp->state = MP_ERROR;
    snprintf(mp->err_detail, sizeof mp->err_detail, "%s", what);
    return -1;
}

static int emit(api_mp *mp, const char *data, size_t n)
{
    if (!mp->in_part || n == 0)
        return 0; /* the preamble is dropped */
    int rc =
        mp->on_part(mp->cls, mp->name, mp->filename[0] ? mp->filename : NULL, data, mp->off, n);
    mp->off += n;
    return rc != 0 ? fail(mp, "the part was refused") : 0;
}

/* A part begins: one call with no data, so an empty part is seen too. */
static int emit_start(api_mp *mp)
{
    int rc = mp->on_part(mp->cls, mp->name, mp->filename[0] ? mp->filename : NULL, "", 0, 0);
    return rc != 0 ? fail(mp, "the part was refused") : 0;
}

/* The header block of a part is in (headers, without the empty line): find its name. */
static int headers_done(api_mp *mp)
{
    mp->name[0] = mp->filename[0] = '\0';
    int have_disposition = 0;
    char *line = mp->headers;
    mp->headers[mp->headers_len] = '\0';
    while (line != NULL && *line != '\0') {
        char *next = strstr(line, "\r\n");
        if (next != NULL) {
            *next = '\0';
            next += 2;
        }
        if (strncasecmp(line, "Content-Disposition:", 20) == 0) {
            const char *v = line + 20;
            while (*v == ' ' || *v == '\t')
                v++;
            if (strncasecmp(v, "form-data", 9) != 0)
                return fail(mp, "a part's Content-Disposition is not form-data");
            if (!header_param(v, "name", mp->name, sizeof mp->name))
                return fail(mp, "a part's Content-Disposition has no name");
            header_param(v, "filename", mp->filename, sizeof mp->filename);
            have_disposition = 1;
        } else if (strchr(line, ':') == NULL) {
            return fail(mp, "a part's header line has no ':'");
        }
        line = next;
    }
    if (!have_disposition)
        return fail(mp, "a part has no Content-Disposition header");
    mp->in_part = 1;
    mp->off = 0;
    return emit_start(mp);
}

int api_mp_feed(api_mp *mp, const char *data, size_t n)
{
    size_t run = 0; /* start of data not yet handed on, in this chunk (MP_DATA) */
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        switch (mp->state) {
        case MP_DATA:
            if (mp->held_len > 0 || c == '\r') {
                if (c == mp->delim[mp->held_len]) {
                    if (mp->held_len == 0 && emit(mp, data + run, i - run) != 0)
                        return -1;
                    mp->held[mp->held_len++] = c;
                    if (mp->held_len == mp->delim_len) {
                        mp->held_len = 0;
                        mp->state = MP_AFTER_DELIM;
                    }
                    run = i + 1;
                    continue;
                }
                /* Not a delimiter after all: what was held is data. The boundary has no CR,
                 * so a delimiter can only begin again at c. */
                if (mp->held_len > 0) {
                    if (emit(mp, mp->held, mp->held_len) != 0)
                        return -1;
                    mp->held_len = 0;
                    run = i;
                    if (c == '\r') {
                        i--; /* look at c again, as a possible start */
                        continue;
                    }
                }
            }
            break;
        case MP_AFTER_DELIM:
            mp->in_part = 0;
            if (c == '-')
                mp->state = MP_AFTER_DASH;
            else if (c == ' ' || c == '\t')
                mp->state = MP_PADDING;
            else if (c == '\r')
                mp->state = MP_PADDING_CR;
            else
                return fail(mp, "a boundary is followed by neither CRLF nor \"--\"");
            break;
        case MP_AFTER_DASH:
            if (c != '-')
                return fail(mp, "a boundary is followed by a single '-'");
            mp->state = MP_END;
            break;
        case MP_PADDING:
            if (c == '\r')
                mp->state = MP_PADDING_CR;
            else if (c != ' ' && c != '\t')
                return fail(mp, "a boundary line has text after the boundary");
            break;
        case MP_PADDING_CR:
            if (c != '\n')
                return fail(mp, "a boundary line ends in CR without LF");
            mp->state = MP_HEADERS;
            mp->headers_len = 0;
            break;
        case MP_HEADERS:
            if (mp->headers_len >= API_MP_HEADERS_MAX)
                return fail(mp, "a part's headers are longer than 16 KiB");
            mp->headers[mp->headers_len++] = c;
            if (mp->headers_len == 2 && memcmp(mp->headers, "\r\n", 2) == 0)
                return fail(mp, "a part has no headers (a Content-Disposition is needed)");
            if (mp->headers_len >= 4 &&
                memcmp(mp->headers + mp->headers_len - 4, "\r\n\r\n", 4) == 0) {
                mp->headers_len -= 2; /* keep the last line's CRLF, drop the empty line */
                if (headers_done(mp) != 0)
                    return -1;
                mp->state = MP_DATA;
                run = i + 1;
            }
            break;
        case MP_END:
            return 0; /* the epilogue */
        case MP_ERROR:
            return -1;
        }
    }
    if (mp->state == MP_DATA && run < n && emit(mp, data + run, n - run) != 0)
        return -1;
    return mp->state == MP_ERROR ? -1 : 0;
}

int api_mp_finish(api_mp *mp)
{
    if (mp->state == MP_ERROR)
        return -1;
    if (mp->state != MP_END)
        return fail(mp, "the body ends before the closing boundary");
    return 0;
}
