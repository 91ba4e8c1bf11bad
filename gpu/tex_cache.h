/*
 * tex_cache.h — the bookkeeping of a device texture cache: entries named by a caller's 64-bit
 * key (eng_material.texture_key), each one block of memory the cache got from an allocation
 * callback, kept across batches, evicted least recently used first to stay under a byte cap,
 * and never evicted while pinned (a batch in flight reads it). It holds no pixels and knows
 * nothing of CUDA: the CUDA engine (gpu/cuda/engine_cuda.c) passes cudaMalloc / cudaFree
 * callbacks and fills a new entry itself; the unit test passes malloc / free.
 *
 * Thread-safe: every call takes the cache's lock (the engine acquires and releases on its
 * batch thread while the heartbeat reads the stats on another). The callbacks run under it.
 */
#ifndef GPU_TEX_CACHE_H
#define GPU_TEX_CACHE_H

#include <stdint.h>

typedef struct eng_tex_cache eng_tex_cache;

/* Allocates bytes (> 0) into *out; returns 0, MD_ENOMEM when there is no room (the cache then
 * evicts an unpinned entry and asks again), or another negative MD_E* code, which the cache
 * returns as it is. */
typedef int (*eng_tex_cache_alloc_fn)(void *ctx, uint64_t bytes, void **out);
/* Frees what alloc returned (bytes: the size asked for). */
typedef void (*eng_tex_cache_free_fn)(void *ctx, void *ptr, uint64_t bytes);

typedef struct eng_tex_cache_stats {
    uint64_t hits;      /* acquires that found their key */
    uint64_t misses;    /* acquires that made a new entry (the caller filled it) */
    uint64_t refused;   /* acquires answered with an error: over the cap, no unpinned room,
                           no memory, disabled; the caller went without the cache */
    uint64_t evictions; /* entries freed to make room (not counting eng_tex_cache_free) */
    uint64_t bytes;     /* held now, at most cap */
    uint64_t entries;   /* held now */
    uint64_t cap;       /* the byte cap; 0: disabled */
} eng_tex_cache_stats;

/* A cache of at most cap_bytes (0: disabled, every acquire is refused); NULL when out of
 * memory. alloc and free are called with ctx (borrowed, lives as long as the cache). */
eng_tex_cache *eng_tex_cache_new(uint64_t cap_bytes, eng_tex_cache_alloc_fn alloc,
                                 eng_tex_cache_free_fn free_fn, void *ctx);
/* Frees every entry, pinned or not (the caller makes sure nothing reads them any more). NULL
 * does nothing. */
void eng_tex_cache_free(eng_tex_cache *c);

/* The entry of key (nonzero) of bytes (> 0), pinned: *ptr its memory, *hit 1 when it was
 * there already (its contents are what the caller filled it with), 0 when it is new (the
 * caller fills it before anything reads it, then releases it with keep 1, or keep 0 when the
 * fill failed). Each acquire is one pin; a pinned entry is never evicted. A key already held
 * with another size is stale: replaced when unpinned, refused while pinned. To make room the
 * least recently acquired unpinned entries go first. Returns 0, MD_EINVAL (key 0, bytes 0),
 * MD_EBUDGET (disabled, bytes over the cap, or pinned entries leave no room), MD_ENOMEM (the
 * allocator failed with nothing left to evict), or the allocator's other error. The cache keeps
 * no message: the caller, who knows which texture it was, words one if it needs to. */
int eng_tex_cache_acquire(eng_tex_cache *c, uint64_t key, uint64_t bytes, void **ptr, int *hit);
/* Drops one pin of key's entry (taken by acquire). keep 0 frees the entry once it has no pin
 * left (its fill failed). Unknown keys are ignored. */
void eng_tex_cache_release(eng_tex_cache *c, uint64_t key, int keep);
/* Frees every unpinned entry, e.g. to give the memory back when a frame buffer needs it.
 * Returns the bytes freed. */
uint64_t eng_tex_cache_trim(eng_tex_cache *c);
/* Whether key is held (pinned or not), without touching its recency. */
int eng_tex_cache_contains(eng_tex_cache *c, uint64_t key);
/* A consistent snapshot; zeros for NULL. */
void eng_tex_cache_stats_get(eng_tex_cache *c, eng_tex_cache_stats *out);

#endif
