/*
 * tex_cache.c — the device texture cache's bookkeeping (tex_cache.h): keys, sizes, pins,
 * recency and eviction, over memory that the caller's callbacks allocate and free. Pure host
 * C with no CUDA in it, so the policy is unit tested on any machine (tests/test_tex_cache.c)
 * and the CUDA engine only supplies cudaMalloc / cudaFree.
 *
 * Callers: the CUDA engine, on its batch thread (acquire before a batch's upload, release
 * after the batch's streams are synchronised), and its device_stats on the heartbeat's thread
 * (stats). One mutex guards everything; the callbacks run under it.
 *
 * Entries live in one array, unordered; each has the tick of its last acquire. Lookups and
 * the choice of a victim are linear scans: the array holds at most cap / (smallest texture)
 * entries (2048 for 2 GiB of 1 MiB textures) and a batch makes a few dozen acquires, so a
 * scan costs microseconds against the milliseconds of the copies it saves, and the code stays
 * obviously right. Invariants: bytes == sum of entry sizes <= cap; keys are unique and
 * nonzero; an entry with pins > 0 is never freed except by eng_tex_cache_free.
 */
#include "gpu/tex_cache.h"

#include <pthread.h>
#include <string.h>

#include "base/md.h"

typedef struct tc_entry {
    uint64_t key;
    uint64_t bytes;
    uint64_t used; /* tick of the last acquire: the smallest unpinned one is evicted first */
    void *ptr;
    uint32_t pins;
} tc_entry;

struct eng_tex_cache {
    pthread_mutex_t lock;
    eng_tex_cache_alloc_fn alloc;
    eng_tex_cache_free_fn free_fn;
    void *ctx;
    tc_entry *entries;
    size_t count, cap_entries;
    uint64_t tick;
    eng_tex_cache_stats st; /* bytes, entries and cap kept current */
};

eng_tex_cache *eng_tex_cache_new(uint64_t cap_bytes, eng_tex_cache_alloc_fn alloc,
                                 eng_tex_cache_free_fn free_fn, void *ctx)
{
    if (alloc == NULL || free_fn == NULL)
        return NULL;
    eng_tex_cache *c = md_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        md_free(c);
        return NULL;
    }
    c->alloc = alloc;
    c->free_fn = free_fn;
    c->ctx = ctx;
    c->st.cap = cap_bytes;
    return c;
}

/* Frees entry i and closes the gap (order does not matter). Under the lock. */
static void drop(eng_tex_cache *c, size_t i)
{
    tc_entry *en = &c->entries[i];
    c->free_fn(c->ctx, en->ptr, en->bytes);
    c->st.bytes -= en->bytes;
    c->entries[i] = c->entries[c->count - 1];
    c->count--;
    c->st.entries = c->count;
}

void eng_tex_cache_free(eng_tex_cache *c)
{
    if (c == NULL)
        return;
    while (c->count > 0)
        drop(c, c->count - 1);
    md_free(c->entries);
    pthread_mutex_destroy(&c->lock);
    md_free(c);
}

static size_t find(const eng_tex_cache *c, uint64_t key)
{
    for (size_t i = 0; i < c->count; i++)
        if (c->entries[i].key == key)
            return i;
    return (size_t)-1;
}

/* Evicts the least recently acquired unpinned entry; 0 when every entry is pinned. */
static int evict_one(eng_tex_cache *c)
{
    size_t victim = (size_t)-1;
    for (size_t i = 0; i < c->count; i++) {
        const tc_entry *en = &c->entries[i];
        if (en->pins == 0 && (victim == (size_t)-1 || en->used < c->entries[victim].used))
            victim = i;
    }
    if (victim == (size_t)-1)
        return 0;
    drop(c, victim);
    c->st.evictions++;
    return 1;
}

static int acquire_locked(eng_tex_cache *c, uint64_t key, uint64_t bytes, void **ptr, int *hit)
{
    if (key == 0 || bytes == 0)
        return MD_EINVAL;
    if (c->st.cap == 0 || bytes > c->st.cap)
        return MD_EBUDGET;
    size_t at = find(c, key);
    if (at != (size_t)-1) {
        tc_entry *en = &c->entries[at];
        if (en->bytes == bytes) {
            en->pins++;
            en->used = ++c->tick;
            *ptr = en->ptr;
            *hit = 1;
            c->st.hits++;
            return 0;
        }
        if (en->pins > 0)
            return MD_EBUDGET; /* stale but in use: the caller goes without the cache */
        drop(c, at);
    }
    while (c->st.bytes + bytes > c->st.cap)
        if (!evict_one(c))
            return MD_EBUDGET;
    if (c->count == c->cap_entries) {
        size_t n = c->cap_entries ? c->cap_entries * 2 : 16;
        tc_entry *grown = md_realloc_array(c->entries, n, sizeof *grown);
        if (grown == NULL)
            return MD_ENOMEM;
        c->entries = grown;
        c->cap_entries = n;
    }
    void *mem = NULL;
    int rc;
    /* Out of memory with entries still evictable: give one back and ask again. */
    while ((rc = c->alloc(c->ctx, bytes, &mem)) == MD_ENOMEM)
        if (!evict_one(c))
            break;
    if (rc != 0)
        return rc;
    c->entries[c->count++] =
        (tc_entry){.key = key, .bytes = bytes, .used = ++c->tick, .ptr = mem, .pins = 1};
    c->st.bytes += bytes;
    c->st.entries = c->count;
    c->st.misses++;
    *ptr = mem;
    *hit = 0;
    return 0;
}

int eng_tex_cache_acquire(eng_tex_cache *c, uint64_t key, uint64_t bytes, void **ptr, int *hit)
{
    *ptr = NULL;
    *hit = 0;
    if (c == NULL)
        return MD_EBUDGET;
    pthread_mutex_lock(&c->lock);
    int rc = acquire_locked(c, key, bytes, ptr, hit);
    if (rc != 0)
        c->st.refused++;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void eng_tex_cache_release(eng_tex_cache *c, uint64_t key, int keep)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    size_t at = find(c, key);
    if (at != (size_t)-1 && c->entries[at].pins > 0) {
        c->entries[at].pins--;
        if (!keep && c->entries[at].pins == 0)
            drop(c, at);
    }
    pthread_mutex_unlock(&c->lock);
}

uint64_t eng_tex_cache_trim(eng_tex_cache *c)
{
    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->lock);
    uint64_t before = c->st.bytes;
    while (evict_one(c)) {
    }
    uint64_t freed = before - c->st.bytes;
    pthread_mutex_unlock(&c->lock);
    return freed;
}

int eng_tex_cache_contains(eng_tex_cache *c, uint64_t key)
{
    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->lock);
    int held = find(c, key) != (size_t)-1;
    pthread_mutex_unlock(&c->lock);
    return held;
}

void eng_tex_cache_stats_get(eng_tex_cache *c, eng_tex_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}
