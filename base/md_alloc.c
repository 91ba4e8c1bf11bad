/*
 * md_alloc.c — the allocation choke point. Every heap allocation in morphd goes through here so
 * that overflow checks on n * size live in one place (and a cap or accounting could be added in
 * one place). Thread-safe: it only wraps libc.
 */
#include "base/md.h"

#include <stdlib.h>
#include <string.h>

int md_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int md_add_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

void *md_malloc(size_t size)
{
    return malloc(size == 0 ? 1 : size);
}

void *md_calloc(size_t n, size_t size)
{
    size_t total;
    if (md_mul_size(n, size, &total) != 0)
        return NULL;
    return calloc(total == 0 ? 1 : total, 1);
}

void *md_malloc_array(size_t n, size_t size)
{
    size_t total;
    if (md_mul_size(n, size, &total) != 0)
        return NULL;
    return md_malloc(total);
}

void *md_realloc_array(void *p, size_t n, size_t size)
{
    size_t total;
    if (md_mul_size(n, size, &total) != 0)
        return NULL;
    return realloc(p, total == 0 ? 1 : total);
}

char *md_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    return md_strndup(s, strlen(s));
}

char *md_strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    size_t len = strnlen(s, n);
    char *copy = md_malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void md_free(void *p)
{
    free(p);
}
