/*
 * buf.c — growable text with a maximum, for response bodies the api composes (/metrics, job
 * lists). Appends past the maximum set `failed` instead of growing, so a caller checks once at
 * the end. Loop thread or pool thread: a buffer belongs to one thread at a time.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <string.h>

void api_buf_init(api_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void api_buf_free(api_buf *b)
{
    md_free(b->data);
    memset(b, 0, sizeof *b);
}

static int reserve(api_buf *b, size_t extra)
{
    size_t need;
    if (b->failed || md_add_size(b->len, extra, &need) != 0 || md_add_size(need, 1, &need) != 0 ||
        need > b->max) {
        b->failed = 1;
        return -1;
    }
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < need)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    char *p = md_realloc_array(b->data, cap, 1);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void api_buf_append(api_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void api_buf_puts(api_buf *b, const char *s)
{
    api_buf_append(b, s, strlen(s));
}

void api_buf_printf(api_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        api_buf_append(b, small, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *api_buf_take(api_buf *b, size_t *len)
{
    if (b->failed) {
        api_buf_free(b);
        return NULL;
    }
    if (b->data == NULL && reserve(b, 0) != 0)
        return NULL;
    char *out = b->data;
    out[b->len] = '\0';
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return out;
}
