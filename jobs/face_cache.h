/*
 * face_cache.h — a worker's LRU of loaded faces keyed by face id (issue 13 item 4).
 *
 * A face id is the SHA-256 of the face's canonical mesh and texture, so an entry never goes stale:
 * the same id always names the same bytes. The cache holds whatever the worker made of a face (a
 * parsed mesh, a decoded texture) as an opaque value with its size in bytes and a function that
 * frees it. The sum of the entries' sizes stays at or under the cap; putting a value evicts the
 * least recently used entries that nobody holds until it fits.
 *
 * Entries are refcounted: fc_get and fc_put hand back a held entry, and fc_release gives it back.
 * An evicted entry that is still held leaves the index at once (a later fc_get misses) but its
 * value is freed only by the last fc_release, so a running batch never loses a face under it.
 * Held-but-evicted bytes are not counted in fc_stats.bytes (they are no longer the cache's).
 *
 * A deleted face may stay cached until evicted. That is safe: its id names exactly its bytes, the
 * api checks that the job's owner has the face before queueing, and DELETE refuses while a job
 * naming it is queued or running, so the entry is reached only by a job admitted while the face
 * existed, or once the same bytes were uploaded again (the same id).
 *
 * Thread-safe: one mutex guards the index, the list and the counters; values are built outside it.
 * Cap 0 disables the cache: fc_put hands back an entry that only the caller holds.
 */
#ifndef JOBS_FACE_CACHE_H
#define JOBS_FACE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "base/md.h"

#define FC_ID_MAX 65 /* 64 hex digits of SHA-256 and the NUL */

typedef struct fc_cache fc_cache;
typedef struct fc_entry fc_entry;
typedef void (*fc_free_fn)(void *value);

typedef struct fc_stats {
    uint64_t hits, misses, evictions;
    uint64_t bytes;   /* sum of the sizes of the entries in the cache */
    uint64_t entries; /* entries in the cache */
    uint64_t cap_bytes;
} fc_stats;

/* A cache of at most cap_bytes (0: disabled). NULL when out of memory. */
fc_cache *fc_new(uint64_t cap_bytes);
/* Frees every entry; entries still held must have been released first (a held entry is leaked
 * rather than freed under its holder). NULL is fine. */
void fc_free(fc_cache *c);

/* The held entry for id, counted as a hit, or NULL (a miss). */
fc_entry *fc_get(fc_cache *c, const char *id);

/* Gives value (bytes large, freed by free_fn) to the cache under id and hands back a held entry,
 * or NULL with *err set (MD_EINVAL: id not 1..64 characters; MD_ENOMEM), in which case value has
 * been freed. When id is already cached (two workers raced on a miss) the cached entry wins, value
 * is freed, and that entry is handed back. A value larger than the cap is not cached: the entry is
 * the caller's alone and its value is freed on release. */
fc_entry *fc_put(fc_cache *c, const char *id, void *value, uint64_t bytes, fc_free_fn free_fn,
                 md_error *err);

void *fc_value(const fc_entry *e);
/* Gives back a held entry. NULL is fine. */
void fc_release(fc_cache *c, fc_entry *e);

void fc_get_stats(fc_cache *c, fc_stats *out);

#endif
