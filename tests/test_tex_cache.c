/*
 * test_tex_cache.c — the device texture cache's bookkeeping (gpu/tex_cache.h) over malloc'd
 * blocks instead of device memory: hits and misses, least-recently-used eviction under the
 * cap, pinned entries surviving eviction (and refusal when only pinned entries are left), an
 * entry over the cap refused, a failed fill dropped, a stale size replaced, an allocator that
 * runs out of memory making the cache give back entries, trim, and cap 0 disabling the cache.
 * Last, a reader taking stats (as the heartbeat does) while the batch thread churns the cache
 * (label tsan: ThreadSanitizer checks the locking).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/md.h"
#include "gpu/tex_cache.h"
#include "test_util.h"

/* The fake device: counts what is live, and can be told to have room for only so many bytes. */
typedef struct fake_dev {
    uint64_t live_bytes;
    int allocs, frees;
    uint64_t room; /* 0: unlimited; else alloc fails with MD_ENOMEM past it */
} fake_dev;

static int fake_alloc(void *ctx, uint64_t bytes, void **out)
{
    fake_dev *d = ctx;
    if (d->room != 0 && d->live_bytes + bytes > d->room)
        return MD_ENOMEM;
    *out = malloc(bytes);
    if (*out == NULL)
        return MD_ENOMEM;
    memset(*out, 0xab, bytes); /* ASan sees every byte the cache hands out */
    d->live_bytes += bytes;
    d->allocs++;
    return 0;
}

static void fake_free(void *ctx, void *ptr, uint64_t bytes)
{
    fake_dev *d = ctx;
    free(ptr);
    d->live_bytes -= bytes;
    d->frees++;
}

/* Acquires key; returns its hit flag, or -1 (and checks the code) when refused. */
static int get(eng_tex_cache *c, uint64_t key, uint64_t bytes, void **ptr)
{
    int hit = -1;
    void *p = NULL;
    int rc = eng_tex_cache_acquire(c, key, bytes, &p, &hit);
    if (ptr != NULL)
        *ptr = p;
    return rc == 0 ? hit : -1;
}

static void test_hits_and_misses(void)
{
    fake_dev d = {0};
    eng_tex_cache *c = eng_tex_cache_new(1000, fake_alloc, fake_free, &d);
    CHECK(c != NULL);
    void *p1 = NULL, *p2 = NULL;
    CHECK_INT(0, get(c, 11, 100, &p1)); /* miss: new, the caller fills it */
    CHECK(p1 != NULL);
    memset(p1, 7, 100);
    eng_tex_cache_release(c, 11, 1);
    CHECK_INT(1, get(c, 11, 100, &p2)); /* hit: the same memory, as filled */
    CHECK(p1 == p2);
    CHECK_INT(7, ((unsigned char *)p2)[99]);
    eng_tex_cache_release(c, 11, 1);
    CHECK_INT(0, get(c, 12, 200, NULL));
    eng_tex_cache_release(c, 12, 1);
    eng_tex_cache_stats st;
    eng_tex_cache_stats_get(c, &st);
    CHECK_INT(1, (int)st.hits);
    CHECK_INT(2, (int)st.misses);
    CHECK_INT(0, (int)st.refused);
    CHECK_INT(300, (int)st.bytes);
    CHECK_INT(2, (int)st.entries);
    CHECK_INT(1000, (int)st.cap);
    CHECK_INT(300, (int)d.live_bytes);
    /* Key 0 means "no identity" and never reaches the cache; size 0 is not a texture. */
    CHECK_INT(MD_EINVAL, eng_tex_cache_acquire(c, 0, 10, &p1, &(int){0}));
    CHECK_INT(MD_EINVAL, eng_tex_cache_acquire(c, 13, 0, &p1, &(int){0}));
    eng_tex_cache_free(c);
    CHECK_INT(0, (int)d.live_bytes);
    CHECK_INT(d.allocs, d.frees);
}

static void test_lru_order(void)
{
    fake_dev d = {0};
    eng_tex_cache *c = eng_tex_cache_new(300, fake_alloc, fake_free, &d);
    for (uint64_t k = 1; k <= 3; k++) {
        CHECK_INT(0, get(c, k, 100, NULL));
        eng_tex_cache_release(c, k, 1);
    }
    /* Use 1 again: 2 is now the least recently used, then 3. */
    CHECK_INT(1, get(c, 1, 100, NULL));
    eng_tex_cache_release(c, 1, 1);
    CHECK_INT(0, get(c, 4, 100, NULL)); /* evicts 2 */
    eng_tex_cache_release(c, 4, 1);
    CHECK_INT(0, eng_tex_cache_contains(c, 2));
    CHECK_INT(1, eng_tex_cache_contains(c, 1));
    CHECK_INT(1, eng_tex_cache_contains(c, 3));
    CHECK_INT(0, get(c, 5, 150, NULL)); /* needs two: evicts 3, then 1 */
    eng_tex_cache_release(c, 5, 1);
    CHECK_INT(0, eng_tex_cache_contains(c, 3));
    CHECK_INT(0, eng_tex_cache_contains(c, 1));
    CHECK_INT(1, eng_tex_cache_contains(c, 4));
    CHECK_INT(1, eng_tex_cache_contains(c, 5));
    eng_tex_cache_stats st;
    eng_tex_cache_stats_get(c, &st);
    CHECK_INT(3, (int)st.evictions);
    CHECK_INT(250, (int)st.bytes);
    CHECK(st.bytes <= st.cap);
    CHECK_INT(250, (int)d.live_bytes);
    eng_tex_cache_free(c);
    CHECK_INT(0, (int)d.live_bytes);
}

static void test_pinned_not_evicted(void)
{
    fake_dev d = {0};
    eng_tex_cache *c = eng_tex_cache_new(300, fake_alloc, fake_free, &d);
    void *p1 = NULL;
    CHECK_INT(0, get(c, 1, 100, &p1)); /* pinned: a batch in flight reads it */
    CHECK_INT(0, get(c, 2, 100, NULL));
    eng_tex_cache_release(c, 2, 1);
    CHECK_INT(0, get(c, 3, 100, NULL)); /* pinned too */
    /* 1 is the oldest but pinned: 2 goes. */
    CHECK_INT(0, get(c, 4, 100, NULL));
    CHECK_INT(1, eng_tex_cache_contains(c, 1));
    CHECK_INT(0, eng_tex_cache_contains(c, 2));
    /* Everything pinned: no room, refused, nothing freed. */
    CHECK_INT(-1, get(c, 5, 100, NULL));
    CHECK_INT(MD_EBUDGET, eng_tex_cache_acquire(c, 5, 100, &(void *){NULL}, &(int){0}));
    CHECK_INT(300, (int)d.live_bytes);
    /* A second pin of 1 (another job of the batch): two releases before it may go. */
    CHECK_INT(1, get(c, 1, 100, NULL));
    eng_tex_cache_release(c, 1, 1);
    eng_tex_cache_release(c, 3, 1);
    eng_tex_cache_release(c, 4, 1);
    CHECK_INT(0, get(c, 6, 200, NULL)); /* 1 still pinned once: 3 and 4 go */
    CHECK_INT(1, eng_tex_cache_contains(c, 1));
    CHECK_INT(0, eng_tex_cache_contains(c, 3));
    CHECK_INT(0, eng_tex_cache_contains(c, 4));
    eng_tex_cache_release(c, 6, 1);
    eng_tex_cache_release(c, 1, 1);
    eng_tex_cache_release(c, 1, 1);     /* one too many: ignored, no underflow */
    CHECK_INT(0, get(c, 7, 300, NULL)); /* now 1 may go as well */
    CHECK_INT(0, eng_tex_cache_contains(c, 1));
    eng_tex_cache_release(c, 7, 1);
    eng_tex_cache_stats st;
    eng_tex_cache_stats_get(c, &st);
    CHECK_INT(2, (int)st.refused);
    eng_tex_cache_free(c);
    CHECK_INT(0, (int)d.live_bytes);
}

static void test_oversize_and_disabled(void)
{
    fake_dev d = {0};
    eng_tex_cache *c = eng_tex_cache_new(300, fake_alloc, fake_free, &d);
    CHECK_INT(0, get(c, 1, 100, NULL));
    eng_tex_cache_release(c, 1, 1);
    void *p = (void *)1;
    int hit = 5;
    CHECK_INT(MD_EBUDGET, eng_tex_cache_acquire(c, 2, 301, &p, &hit));
    CHECK(p == NULL);
    CHECK_INT(0, hit);
    CHECK_INT(1, eng_tex_cache_contains(c, 1)); /* refusing evicts nothing */
    CHECK_INT(1, d.allocs);
    eng_tex_cache_free(c);

    fake_dev z = {0};
    eng_tex_cache *off = eng_tex_cache_new(0, fake_alloc, fake_free, &z);
    CHECK(off != NULL);
    CHECK_INT(MD_EBUDGET, eng_tex_cache_acquire(off, 1, 1, &p, &hit));
    CHECK_INT(0, z.allocs);
    eng_tex_cache_stats st;
    eng_tex_cache_stats_get(off, &st);
    CHECK_INT(0, (int)st.cap);
    CHECK_INT(1, (int)st.refused);
    CHECK_INT(0, (int)st.misses);
    eng_tex_cache_free(off);
    /* NULL: a refused cache, zero stats, free does nothing. */
    CHECK_INT(MD_EBUDGET, eng_tex_cache_acquire(NULL, 1, 1, &p, &hit));
    eng_tex_cache_stats_get(NULL, &st);
    CHECK_INT(0, (int)st.hits);
    eng_tex_cache_free(NULL);
    CHECK(eng_tex_cache_new(10, NULL, fake_free, &z) == NULL);
}

static void test_failed_fill_and_stale(void)
{
    fake_dev d = {0};
    eng_tex_cache *c = eng_tex_cache_new(1000, fake_alloc, fake_free, &d);
    CHECK_INT(0, get(c, 1, 100, NULL));
    eng_tex_cache_release(c, 1, 0); /* the upload failed: the entry must not be hit later */
    CHECK_INT(0, eng_tex_cache_contains(c, 1));
    CHECK_INT(0, (int)d.live_bytes);
    CHECK_INT(0, get(c, 1, 100, NULL)); /* a miss again */
    eng_tex_cache_release(c, 1, 1);
    /* The same key at another size (not a real face, but never trust a key alone). */
    CHECK_INT(0, get(c, 1, 200, NULL));
    CHECK_INT(200, (int)d.live_bytes);
    /* ... and while that one is pinned, a third size is refused, not swapped under it. */
    CHECK_INT(-1, get(c, 1, 300, NULL));
    eng_tex_cache_release(c, 1, 1);
    eng_tex_cache_stats st;
    eng_tex_cache_stats_get(c, &st);
    CHECK_INT(3, (int)st.misses);
    CHECK_INT(0, (int)st.hits);
    CHECK_INT(1, (int)st.entries);
    eng_tex_cache_free(c);
    CHECK_INT(0, (int)d.live_bytes);
}

static void test_device_full_and_trim(void)
{
    /* The cap allows 1000 but the device has room for 250: the cache gives back LRU entries
     * when the allocator says MD_ENOMEM, and says MD_ENOMEM once only pinned ones are left. */
    fake_dev d = {.room = 250};
    eng_tex_cache *c = eng_tex_cache_new(1000, fake_alloc, fake_free, &d);
    CHECK_INT(0, get(c, 1, 100, NULL));
    eng_tex_cache_release(c, 1, 1);
    CHECK_INT(0, get(c, 2, 100, NULL));
    CHECK_INT(0, get(c, 3, 100, NULL)); /* 1 goes for it */
    CHECK_INT(0, eng_tex_cache_contains(c, 1));
    CHECK_INT(MD_ENOMEM, eng_tex_cache_acquire(c, 4, 100, &(void *){NULL}, &(int){0}));
    CHECK_INT(200, (int)d.live_bytes);
    eng_tex_cache_release(c, 2, 1);
    CHECK_INT(100, (int)eng_tex_cache_trim(c)); /* 2 is unpinned: trimmed; 3 stays */
    CHECK_INT(0, eng_tex_cache_contains(c, 2));
    CHECK_INT(1, eng_tex_cache_contains(c, 3));
    eng_tex_cache_release(c, 3, 1);
    CHECK_INT(100, (int)eng_tex_cache_trim(c));
    eng_tex_cache_stats st;
    eng_tex_cache_stats_get(c, &st);
    CHECK_INT(0, (int)st.bytes);
    CHECK_INT(0, (int)st.entries);
    eng_tex_cache_free(c);
    CHECK_INT(0, (int)d.live_bytes);
}

typedef struct reader {
    eng_tex_cache *c;
    atomic_int stop;
    int bad; /* snapshots that broke an invariant */
} reader;

static void *read_stats(void *arg)
{
    reader *r = arg;
    while (!atomic_load(&r->stop)) {
        eng_tex_cache_stats st;
        eng_tex_cache_stats_get(r->c, &st);
        r->bad += st.bytes > st.cap || st.entries * 64 > st.bytes; /* entries are >= 64 bytes */
    }
    return NULL;
}

static void test_stats_while_churning(void)
{
    fake_dev d = {0};
    reader r = {.c = eng_tex_cache_new(4096, fake_alloc, fake_free, &d)};
    atomic_init(&r.stop, 0);
    pthread_t t;
    CHECK_INT(0, pthread_create(&t, NULL, read_stats, &r));
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t key = 1 + i % 97;
        if (get(r.c, key, 64 + (key % 4) * 64, NULL) >= 0)
            eng_tex_cache_release(r.c, key, i % 13 != 0);
    }
    atomic_store(&r.stop, 1);
    pthread_join(t, NULL);
    CHECK_INT(0, r.bad);
    eng_tex_cache_stats st;
    eng_tex_cache_stats_get(r.c, &st);
    CHECK(st.bytes <= 4096);
    CHECK_INT((int)st.bytes, (int)d.live_bytes);
    eng_tex_cache_free(r.c);
    CHECK_INT(0, (int)d.live_bytes);
}

int main(void)
{
    test_hits_and_misses();
    test_lru_order();
    test_pinned_not_evicted();
    test_oversize_and_disabled();
    test_failed_fill_and_stale();
    test_device_full_and_trim();
    test_stats_while_churning();
    return test_done();
}
