/*
 * fuzz_multipart.c — libFuzzer target for the multipart/form-data parser that reads every
 * POST /jobs body (api/multipart.c), fed bytes with no connection. The first line of an input
 * is the Content-Type (so boundaries are fuzzed too); the rest is the body, fed in chunks
 * whose sizes come from the input's first byte, so delimiters split across feeds are tried.
 * Checks: a refused Content-Type or a malformed body says why; every part is announced (off
 * 0, size 0) before its data and its data arrives in order (off counts up exactly); a body
 * accepted whole is accepted the same way when fed one byte at a time, with the same parts and
 * bytes. Everything is freed, so LeakSanitizer flags a leak on any error path.
 *
 * Seeds: tests/fuzz/corpus/fuzz_multipart (hand-written: a morph job's parts, a quoted
 * boundary with a preamble and epilogue, an empty part).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seen {
    int parts;
    uint64_t off;      /* what the next call's off must be */
    uint64_t bytes;    /* data bytes of all parts */
    uint32_t checksum; /* of names and data, in order */
} seen;

static void mix(seen *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s->checksum = s->checksum * 31u + (uint8_t)p[i];
}

static int on_part(void *cls, const char *name, const char *filename, const char *data,
                   uint64_t off, size_t size)
{
    seen *s = cls;
    if (name == NULL)
        __builtin_trap();
    if (off == 0 && size == 0) {
        s->parts++;
        s->off = 0;
        mix(s, name, strlen(name) + 1);
        if (filename != NULL)
            mix(s, filename, strlen(filename) + 1);
        return 0;
    }
    if (off != s->off || size == 0)
        __builtin_trap(); /* data in order, announced, never empty */
    s->off += size;
    s->bytes += size;
    mix(s, data, size);
    return 0;
}

/* Parses body with the given chunking (0: one byte at a time); 0 accepted, -1 refused. */
static int parse(const char *ctype, const uint8_t *body, size_t len, size_t chunk, seen *s)
{
    md_error err;
    md_error_clear(&err);
    memset(s, 0, sizeof *s);
    api_mp *mp = api_mp_new(ctype, on_part, s, &err);
    if (mp == NULL) {
        if (err.msg[0] == '\0')
            __builtin_trap();
        return -1;
    }
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0;) {
        size_t n = chunk == 0 ? 1 : (len - at < chunk ? len - at : chunk);
        rc = api_mp_feed(mp, (const char *)body + at, n);
        at += n;
    }
    if (rc == 0)
        rc = api_mp_finish(mp);
    if (rc != 0 && api_mp_error(mp)[0] == '\0')
        __builtin_trap(); /* every refusal says why */
    api_mp_free(mp);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 300 ? size : 300);
    if (size < 2 || nl == NULL)
        return 0;
    char ctype[300];
    size_t cl = (size_t)(nl - data);
    memcpy(ctype, data, cl);
    ctype[cl] = '\0';
    const uint8_t *body = nl + 1;
    size_t len = size - cl - 1;
    size_t chunk = 1 + data[0] % 97;
    seen a, b;
    int ra = parse(ctype, body, len, chunk, &a);
    int rb = parse(ctype, body, len, 0, &b);
    if (ra != rb)
        __builtin_trap(); /* chunking must not change the verdict */
    if (ra == 0 && (a.parts != b.parts || a.bytes != b.bytes || a.checksum != b.checksum))
        __builtin_trap(); /* nor what was read */
    return 0;
}
