/*
 * md_alloc.c — the allocation choke point. Every heap allocation in morphd goes through here so
 * that overflow checks on n * size live in one place (and a cap or accounting could be added in
 * one place). Thread-safe: it only wraps libc.
 *
 * Large buffers (textures, their mips and padding scratch, frame and analysis buffers: MD_HUGE_MIN
 * and up) are advised to the kernel as transparent huge pages (the 2 MiB-aligned extents inside
 * them). A fresh
 * buffer costs one page fault per page on first touch, and on the virtual machines we run on a
 * fault costs microseconds: a 2048² RGBA texture took ~0.07 s of faults to decode, about as much
 * as the decoding itself; with 2 MiB pages it takes 8 faults instead of 4,096. Where THP is off
 * the advice is ignored and nothing else changes. Such buffers are plain malloc/calloc memory,
 * so md_free and md_realloc_array treat them as any other. (Aligning them with posix_memalign
 * instead would put every byte in huge pages, but calloc would then have to zero them all,
 * making sparsely used buffers resident: 263 MB peak instead of 191 MB on the per-frame mesh
 * export of the default job.)
 */
#define _DEFAULT_SOURCE
#include "base/md.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define MD_HUGE_MIN ((size_t)4 << 20)
#define MD_HUGE_PAGE ((size_t)2 << 20)

/* Advises the 2 MiB-aligned extents inside a large buffer as huge pages (only whole aligned
 * extents can be; the rest keeps 4 KiB pages). Advice only: refused is fine. */
static void *huge_advise(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
    if (p != NULL && size >= MD_HUGE_MIN) {
        uintptr_t start = ((uintptr_t)p + MD_HUGE_PAGE - 1) & ~(uintptr_t)(MD_HUGE_PAGE - 1);
        uintptr_t end = ((uintptr_t)p + size) & ~(uintptr_t)(MD_HUGE_PAGE - 1);
        if (end > start)
            (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
    }
#else
    (void)size;
#endif
    return p;
}

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
    return huge_advise(malloc(size == 0 ? 1 : size), size);
}

void *md_calloc(size_t n, size_t size)
{
    size_t total;
    if (md_mul_size(n, size, &total) != 0)
        return NULL;
    /* calloc still skips zeroing fresh pages, so a large buffer touched sparsely stays small. */
    return huge_advise(calloc(total == 0 ? 1 : total, 1), total);
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
