/*
 * md_buf.c — the one growable byte buffer (md.h, curl's dynbuf): response bodies and metrics
 * text in the api, CSVs in analysis, encoded PNGs in mesh. Every size is checked with
 * overflow-safe arithmetic before allocating, and nothing grows past the buffer's maximum.
 *
 * A buffer belongs to one thread at a time; these functions keep no other state. Invariants:
 * len <= max; data is NULL (cap 0) or holds len bytes and a NUL at data[len]; once err is set,
 * appends change nothing until md_buf_reset.
 */
#include "base/md.h"

#include <stdio.h>
#include <string.h>

#define MD_BUF_FIRST_CAP 256

void md_buf_init(md_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void md_buf_free(md_buf *b)
{
    md_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void md_buf_reset(md_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

/* Room for n more content bytes and the NUL; sets and returns b->err when refused. */
static int reserve(md_buf *b, size_t n)
{
    if (b->err != 0)
        return b->err;
    size_t len, need;
    if (md_add_size(b->len, n, &len) != 0 || len > b->max)
        return b->err = MD_ELIMIT;
    if (md_add_size(len, 1, &need) != 0)
        return b->err = MD_ELIMIT;
    if (need <= b->cap)
        return 0;
    /* Double from a small start, but never beyond what max can use (max + 1 with the NUL). */
    size_t limit = b->max == SIZE_MAX ? SIZE_MAX : b->max + 1;
    size_t cap = b->cap ? b->cap : MD_BUF_FIRST_CAP;
    while (cap < need)
        cap = cap > limit / 2 ? limit : cap * 2;
    if (cap > limit)
        cap = limit;
    char *grown = md_realloc_array(b->data, cap, 1);
    if (grown == NULL)
        return b->err = MD_ENOMEM;
    grown[b->len] = '\0';
    b->data = grown;
    b->cap = cap;
    return 0;
}

void *md_buf_grow(md_buf *b, size_t n)
{
    if (reserve(b, n) != 0)
        return NULL;
    char *p = b->data + b->len;
    b->len += n;
    b->data[b->len] = '\0';
    return p;
}

int md_buf_append(md_buf *b, const void *p, size_t n)
{
    char *dst = md_buf_grow(b, n);
    if (dst == NULL)
        return b->err;
    if (n > 0)
        memcpy(dst, p, n);
    return 0;
}

int md_buf_puts(md_buf *b, const char *s)
{
    return md_buf_append(b, s, strlen(s));
}

int md_buf_vprintf(md_buf *b, const char *fmt, va_list ap)
{
    if (b->err != 0)
        return b->err;
    char small[512];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(again);
        return b->err = MD_EINVAL;
    }
    if ((size_t)n < sizeof small) {
        va_end(again);
        return md_buf_append(b, small, (size_t)n);
    }
    if (reserve(b, (size_t)n) != 0) {
        va_end(again);
        return b->err;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    b->len += (size_t)n;
    return 0;
}

int md_buf_printf(md_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = md_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *md_buf_take(md_buf *b, size_t *len)
{
    if (b->err == 0 && b->data == NULL)
        reserve(b, 0);
    if (b->err != 0) {
        md_buf_free(b);
        return NULL;
    }
    char *out = b->data;
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return out;
}
