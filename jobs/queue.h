/*
 * queue.h — what the api and the worker must agree on about Redis: addresses, key names, job
 * ids and times, and the system-wide metrics both of them add into Redis. docs/server.md
 * describes the keys and fields; this header is the one place that spells them.
 *
 * Nothing here talks to Redis: the api speaks hiredis' async API on its libuv loop, the worker
 * a blocking connection, and both build their commands from these names. Pure functions, any
 * thread.
 */
#ifndef JOBS_QUEUE_H
#define JOBS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "base/md.h"

#define JQ_GROUP "workers" /* the consumer group on {prefix}jobs */
/* {prefix}expiring: sorted set of job ids, score = when the job hash expires (unix s). Every
 * script that sets EXPIRE on a job hash ZADDs the id here in the same script, so the janitor
 * (jobs/janitor.h) can delete jobs/{id}/ from storage once Redis has dropped the record. */
#define JQ_EXPIRING "expiring"
/* {prefix}active: hash, owner -> how many of its jobs are queued or running (the submit
 * script's max_queued_per_owner check; record.c keeps it). */
#define JQ_ACTIVE "active"
#define JQ_JANITOR_LOCK "janitor:lock" /* {prefix}janitor:lock: one janitor pass at a time */
#define JQ_PREFIX_DEFAULT "morphd:"
#define JQ_PREFIX_MAX 64
#define JQ_KEY_MAX 256
#define JQ_ID_LEN 32 /* 16 random bytes as lowercase hex */
#define JQ_IDEMPOTENCY_TTL_S 86400

/* ---- Addresses ---- */

typedef struct jq_redis_addr {
    int is_unix; /* 1: path is a unix socket */
    char host[256];
    int port;
    char path[512];
} jq_redis_addr;

/* "redis://host:port" (port default 6379), "redis://host", "unix:///abs/path.sock". */
int jq_redis_addr_parse(const char *url, jq_redis_addr *out, md_error *err);

/* A prefix is 1..JQ_PREFIX_MAX-1 bytes of [A-Za-z0-9:._-]. */
int jq_prefix_check(const char *prefix, md_error *err);

/* ---- Keys ---- */

/* prefix + name, e.g. jq_key(buf, sizeof buf, "morphd:", "jobs") -> "morphd:jobs". */
int jq_key(char *out, size_t cap, const char *prefix, const char *name);
/* prefix + kind + ":" + id, e.g. ("morphd:", "job", id) -> "morphd:job:<id>". */
int jq_key_id(char *out, size_t cap, const char *prefix, const char *kind, const char *id);

/* ---- Ids and times ---- */

/* A new job id from the kernel's CSPRNG: JQ_ID_LEN hex digits plus NUL. */
int jq_id_new(char out[JQ_ID_LEN + 1], md_error *err);
/* 1 when id is exactly JQ_ID_LEN lowercase hex digits. */
int jq_id_valid(const char *id);
/* Wall-clock seconds since the epoch (md_now() is monotonic and not for records). */
double jq_wall_now(void);
/* "2026-11-25T10:00:00.123Z", rounded to the nearest millisecond; out needs 32 bytes. */
void jq_time_format(double unix_s, char out[32]);

/* ---- Worker records ---- */

/* The fields of {prefix}worker:{name} that /metrics reads (the heartbeat writes them with the
 * rest: name, pid, started_at, last_seen, batches, frames). Device figures are written empty
 * when unknown, and /metrics leaves out what is not a number. */
#define JQ_WORKER_ENGINE "engine"
#define JQ_WORKER_GPU_USED "gpu_memory_used_bytes"   /* device memory the engine holds */
#define JQ_WORKER_GPU_TOTAL "gpu_memory_total_bytes" /* the device's memory */
#define JQ_WORKER_GPU_UTIL "gpu_utilization_percent" /* NVML, 0..100 */
/* The worker's face cache (jobs/face_cache.h): bytes it holds, faces in it. */
#define JQ_WORKER_FACE_BYTES "face_cache_bytes"
#define JQ_WORKER_FACE_ENTRIES "face_cache_entries"
/* The CUDA engine's texture cache (eng_device_stats.texture_cache_bytes): device bytes it
 * holds; written empty when the worker has none (CPU engine, --gpu-texture-cache-mb 0). */
#define JQ_WORKER_GPU_TEX_BYTES "gpu_texture_cache_bytes"

/* ---- Metrics ---- */

/* Every system-wide metric: X(ident, name, type, help). The api prints HELP and TYPE for each
 * even before any value exists, so dashboards see the whole contract from the start. */
#define JQ_METRICS_MAP(X)                                                                          \
    X(JOBS_SUBMITTED, "morphd_jobs_submitted_total", "counter", "Jobs accepted by POST /jobs.")    \
    X(JOBS_FINISHED, "morphd_jobs_finished_total", "counter",                                      \
      "Jobs that reached a terminal status.")                                                      \
    X(QUEUE_WAIT, "morphd_queue_wait_seconds", "histogram",                                        \
      "Time from submission until a worker started the job.")                                      \
    X(JOB_DURATION, "morphd_job_duration_seconds", "histogram",                                    \
      "Time from a worker starting a job until it finished.")                                      \
    X(BATCH_JOBS, "morphd_batch_jobs", "histogram", "Jobs carried by one engine batch.")           \
    X(BATCH_FRAMES, "morphd_batch_frames", "histogram", "Frames carried by one engine batch.")     \
    X(ENGINE_SECONDS, "morphd_engine_seconds", "histogram",                                        \
      "Engine time per batch and stage (thread-seconds on the CPU engine).")                       \
    X(FRAMES_RENDERED, "morphd_frames_rendered_total", "counter", "Frames rendered and stored.")   \
    X(REDELIVERIES, "morphd_redeliveries_total", "counter",                                        \
      "Jobs reclaimed from a worker that stopped holding them.")                                   \
    X(FACE_CACHE_HITS, "morphd_face_cache_hits_total", "counter",                                  \
      "Face inputs a worker found in its face cache.")                                             \
    X(FACE_CACHE_MISSES, "morphd_face_cache_misses_total", "counter",                              \
      "Face inputs a worker read from storage (not in its face cache).")                           \
    X(FACE_CACHE_EVICTIONS, "morphd_face_cache_evictions_total", "counter",                        \
      "Faces evicted from a worker's face cache to stay under --face-cache-mb.")                   \
    X(GPU_TEXTURE_CACHE_HITS, "morphd_gpu_texture_cache_hits_total", "counter",                    \
      "Library face textures a CUDA worker's batch found already on its GPU (not uploaded).")      \
    X(GPU_TEXTURE_CACHE_MISSES, "morphd_gpu_texture_cache_misses_total", "counter",                \
      "Library face textures a CUDA worker uploaded into its GPU texture cache.")                  \
    X(DEAD_LETTERED, "morphd_dead_lettered_total", "counter",                                      \
      "Jobs moved to the dead-letter stream after too many deliveries.")                           \
    X(LIVE_FRAMES, "morphd_live_frames_total", "counter",                                          \
      "Live frames (GET /faces/{a}/morph/{b}.png) a worker answered, by outcome.")                 \
    X(LIVE_SECONDS, "morphd_live_frame_seconds", "histogram",                                      \
      "Time a worker spent on one live frame: loading (when not warm), render and PNG.")

typedef enum jq_metric {
#define JQ_METRIC_ENUM(ident, name, type, help) JQ_M_##ident,
    JQ_METRICS_MAP(JQ_METRIC_ENUM)
#undef JQ_METRIC_ENUM
        JQ_M_COUNT
} jq_metric;

typedef struct jq_metric_def {
    const char *name;
    const char *type; /* "counter" or "histogram" */
    const char *help;
    const double *bounds; /* histogram upper bounds, ascending, +Inf implied; NULL for counters */
    int bound_count;
} jq_metric_def;

const jq_metric_def *jq_metric_get(jq_metric m);
/* Looks a metric up by its name; NULL when unknown. */
const jq_metric_def *jq_metric_find(const char *name, size_t len);

/*
 * Field names in the {prefix}metrics hash (docs/server.md):
 *   counter:   "c|<name>|<labels>"
 *   histogram: "h|<name>|<labels>|<le>" per bucket (not cumulative), "...|sum", "...|count"
 * labels is Prometheus label text without braces (`kind="morph",status="failed"`) or "".
 */
int jq_metric_counter_field(char *out, size_t cap, jq_metric m, const char *labels);

/* The three fields one histogram observation increments: its bucket (by +1), sum (by value),
 * count (by +1). le text is "+Inf" above the last bound. */
typedef struct jq_hist_fields {
    char bucket[192];
    char sum[192];
    char count[192];
} jq_hist_fields;
int jq_metric_hist_fields(jq_hist_fields *out, jq_metric m, const char *labels, double value);

#endif
