/*
 * worker.h — `morphd worker`: one engine, kept warm, fed from the Redis job stream.
 *
 * jq_worker_run() is the whole worker: it connects to Redis and storage, creates the engine once,
 * joins the consumer group and loops: claim a batch (reclaimed entries first, then new ones,
 * waiting batch_window_ms after the first for more), load every job's canonical inputs, run ONE
 * engine batch for all of them, write frames to storage as they finish, then each job's
 * manifest.json and session.log, and finish the jobs in Redis. docs/server.md is the contract
 * for every key and field it touches.
 *
 * Threads: the caller's thread runs the loop; a heartbeat thread keeps the worker's record and
 * its held entries fresh; engine threads deliver frames. The caller's stop flag (set by a signal
 * handler) makes the loop stop reading and drain: frames keep rendering for 40 % of drain_s,
 * then frames in flight finish, every job of the batch that is not complete is handed back to
 * the queue uncharged (another worker takes it), complete ones are finished, and it returns 0.
 */
#ifndef JOBS_WORKER_H
#define JOBS_WORKER_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gpu/engine.h"
#include "base/md.h"

typedef struct jq_worker_config {
    const char *redis_url;   /* redis://HOST:PORT or unix:///path.sock; borrowed */
    const char *storage_url; /* file:///abs/dir; borrowed */
    const char *prefix;      /* Redis key prefix, "morphd:" by default; borrowed */
    const char *name;        /* consumer name, unique per worker (hostname-pid); borrowed */
    eng_kind engine;
    int threads;               /* CPU engine threads, 0: one per core */
    int batch_window_ms;       /* how long to wait for more jobs after the first (5) */
    uint32_t batch_max_frames; /* frame budget of one batch (2048) */
    uint32_t batch_max_jobs;   /* most jobs in one batch (32) */
    uint64_t face_cache_bytes; /* cap of the face cache (jobs/face_cache.h), 0: none (512 MiB) */
    /* cap of the CUDA engine's cache of library faces' textures across batches
     * (eng_config.device_texture_cache_bytes), 0: none (2048 MiB) */
    uint64_t gpu_texture_cache_bytes;
    int lease_ms;           /* idle time after which another worker reclaims an entry (30000) */
    int max_attempts;       /* solo runs that crash a worker before dead-lettering (3) */
    int retention_s;        /* EXPIRE of finished job hashes (604800) */
    int heartbeat_ms;       /* heartbeat period; 0 (the default): min(1000, lease_ms / 3) */
    double drain_s;         /* SIGTERM to exit, seconds (20); see above */
    int janitor_interval_s; /* seconds between janitor passes (jobs/janitor.h), 0: none (60) */
    /* A file whose modification time the heartbeat sets each time its beat reached Redis, and
     * that a clean stop removes: a container health check reads its age. NULL: none. */
    const char *health_file; /* borrowed */
    /* Face pairs the live lane keeps warm (jobs/live.h, 4); 0: this worker takes no live
     * frames. */
    int live_pairs;
    md_limits limits;
} jq_worker_config;

/* --face-cache-mb: the default, and the most (1 TiB: a cap past it is a typo). */
#define JQ_FACE_CACHE_MB_DEFAULT 512
#define JQ_FACE_CACHE_MB_MAX (1024 * 1024)
/* --gpu-texture-cache-mb: the default, and the most (1 TiB; the engine lowers it to a quarter
 * of the device's free memory anyway). */
#define JQ_GPU_TEXTURE_CACHE_MB_DEFAULT 2048
#define JQ_GPU_TEXTURE_CACHE_MB_MAX (1024 * 1024)

/* Fills the defaults above (prefix JQ_PREFIX_DEFAULT, engine auto, default limits); the
 * addresses and the name stay NULL. */
void jq_worker_config_default(jq_worker_config *cfg);

/* Checks ranges and addresses; the message names the flag at fault. */
int jq_worker_config_check(const jq_worker_config *cfg, md_error *err);

/* Runs until *stop becomes nonzero, then drains the batch in hand (above) and returns 0. Returns a
 * negative MD_E* code (with err filled) only when it cannot start: bad configuration, storage
 * that cannot be opened, no engine. Redis being down is not an error: the worker waits for it
 * with backoff. */
/* stop is atomic, not volatile sig_atomic_t: a signal handler sets it and several threads
 * (the loop, the heartbeat, engine threads through the sink) read it; a lock-free atomic is
 * safe for both (ThreadSanitizer reported the volatile flag as a data race, issue 14). */
int jq_worker_run(const jq_worker_config *cfg, atomic_int *stop, md_error *err);

#endif
