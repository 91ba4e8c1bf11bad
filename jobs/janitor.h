/*
 * janitor.h — deletes the stored objects (jobs/{id}/) of jobs whose Redis record has expired.
 *
 * A finished job hash gets EXPIRE retention_s, and in the same Lua script its id goes into the
 * sorted set {prefix}expiring (JQ_EXPIRING, jobs/queue.h) with the time it expires as score.
 * Redis drops the hash on its own but knows nothing of storage; one janitor pass takes the ids
 * that are due and, for each whose hash is gone, deletes jobs/{id}/ and then the id. An id whose
 * hash is still there (its expiry was moved) is rescheduled to the hash's new expiry, or dropped
 * when the hash no longer expires (whoever sets an EXPIRE again adds it again).
 *
 * The worker runs a pass every --janitor-interval-s on its loop thread, on its blocking hiredis
 * connection. Passes of all workers are serialised by {prefix}janitor:lock (SET NX PX); a
 * worker that finds the lock taken skips its turn. A job id is never reused, so once its hash is
 * gone nobody writes under jobs/{id}/ again and the delete cannot race a writer.
 */
#ifndef JOBS_JANITOR_H
#define JOBS_JANITOR_H

#include <stdint.h>

#include "base/md.h"
#include "storage/storage.h"

struct redisContext; /* hiredis; only the worker and the tests include it */

#define JAN_MAX_IDS_DEFAULT 100 /* ids looked at per pass */
#define JAN_LOCK_MS_DEFAULT 60000
#define JAN_RETRY_S_DEFAULT 300 /* a storage error puts the id this far back */
#define JAN_MAX_FAILURES 3      /* storage errors in a row that end a pass (storage is down) */

typedef struct jan_config {
    const char *prefix; /* Redis key prefix; borrowed */
    const char *holder; /* value of the lock, e.g. the worker's name (<= 200 bytes); borrowed */
    uint32_t max_ids;   /* most due ids one pass looks at (JAN_MAX_IDS_DEFAULT) */
    int lock_ms;        /* lease of the lock; a pass stops taking ids after half of it */
    int retry_s;        /* an id whose objects could not be deleted is retried this much later */
} jan_config;

/* Fills the defaults above; prefix and holder stay NULL. */
void jan_config_default(jan_config *cfg);

typedef struct jan_stats {
    int locked;           /* 1: this pass held the lock; 0: another janitor did, nothing done */
    uint32_t removed;     /* ids whose hash was gone: objects deleted, id removed */
    uint32_t rescheduled; /* ids whose hash still expires: score moved to its new expiry */
    uint32_t dropped;     /* ids whose hash no longer expires, or not a job id: removed */
    uint32_t failed;      /* storage errors: id kept, retried retry_s later */
    int more;             /* the pass stopped at max_ids or its time budget: more may be due */
} jan_stats;

/* One pass at wall-clock time now (unix seconds): takes the lock, handles the ids with score
 * <= now (at most cfg->max_ids), releases the lock. redis is a connected blocking context,
 * borrowed; store is borrowed. Storage errors are logged and counted, not returned. Returns 0
 * (also when the lock was taken by another janitor: stats->locked 0), MD_EUNAVAIL when Redis
 * did not answer (redis->err is then set and the caller should reconnect) or answered with an
 * error, MD_EINVAL for a bad configuration. stats (NULL ok) is filled in either case. */
int jan_pass(struct redisContext *redis, stg *store, const jan_config *cfg, double now,
             jan_stats *stats, md_error *err);

#endif
