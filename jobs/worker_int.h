/*
 * worker_int.h — internal to jobs/worker*.c: the worker's state, one claimed job, and the
 * functions the loop (worker.c), the Redis commands (worker_redis.c), the batch
 * (worker_batch.c) and the heartbeat (worker_heartbeat.c) share. Nothing outside jobs/worker*.c
 * includes this.
 *
 * Ownership: the loop owns the wk and every wk_job; a batch's jobs live from their claim until
 * they are finished in Redis. The heartbeat thread reads the held jobs' ids and writes their
 * cancel flags, always under held_lock, so the loop only frees a job after taking it out of
 * the held list under that lock.
 */
#ifndef JOBS_WORKER_INT_H
#define JOBS_WORKER_INT_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>

#include "jobs/face_cache.h"
#include "jobs/janitor.h"
#include "jobs/job.h"
#include "jobs/queue.h"
#include "jobs/record.h"
#include "jobs/worker.h"
#include "storage/storage.h"

#define WK_ENTRY_MAX 48       /* a stream entry id: "<ms>-<seq>" */
#define WK_LOG_MAX (1u << 20) /* most bytes of one job's session.log */
#define WK_PROGRESS_S 0.1     /* a job's frame progress reaches Redis at most this often, s */
/* Deliveries of one entry, in units of max_attempts, after which it is dead-lettered although
 * no worker ever began rendering it (a guard against loops nobody foresaw). */
#define WK_DELIVERY_BACKSTOP 10
/* Solo runs ended by a worker killed with no fault recorded (SIGKILL, OOM, a lost node), in
 * units of max_attempts, before a job is dead-lettered. */
#define WK_LOST_FACTOR 3

struct wk;

/* ---- A Redis connection with reconnection ---- */

/* A blocking hiredis connection that remembers whether Redis was up, so the worker logs once
 * per state change and retries with backoff instead of spinning. One thread at a time. */
typedef struct wk_conn {
    redisContext *ctx; /* NULL while down */
    jq_redis_addr addr;
    const char *who; /* "worker" or "heartbeat", for log lines */
    int state;       /* -1 never tried, 0 down, 1 up */
    double next_try; /* md_now() before which no reconnection is attempted */
    double backoff_s;
} wk_conn;

void wk_conn_init(wk_conn *c, const jq_redis_addr *addr, const char *who);
/* 0 when connected (connecting if due), MD_EUNAVAIL otherwise. */
int wk_conn_ensure(wk_conn *c);
/* Seconds until the next reconnection attempt is due (0 when connected or due). */
double wk_conn_wait_s(const wk_conn *c);
void wk_conn_close(wk_conn *c);
/* Drops a connection whose context failed outside wk_cmd (the janitor's commands): logs the
 * state change and schedules the reconnection with backoff. */
void wk_conn_drop(wk_conn *c, const char *reason);
/* redisCommand on the connection; NULL when Redis is unreachable (the connection is dropped
 * and the state change logged). An error reply is returned as a reply. freeReplyObject it. */
redisReply *wk_cmd(wk_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
redisReply *wk_cmd_argv(wk_conn *c, int argc, const char **argv, const size_t *lens);

/* ---- One job of a batch ---- */

typedef enum wk_result { WK_RUN, WK_FAILED, WK_CANCELED } wk_result;

typedef struct wk_job {
    char id[JQ_ID_LEN + 1];
    char entry[WK_ENTRY_MAX];
    char key[JQ_KEY_MAX]; /* {p}job:{id} */
    long long deliveries;
    int crashes, batch_crashes, lost; /* charged by the start script (record.c); any of them
                                       * makes the job run alone */
    struct wk *w;                     /* the worker holding it */
    char kind[16];                    /* "morph", "render", "transform" or "average" */
    char *spec_text;                  /* owned: the hash's spec field */
    char *inputs_text;                /* owned: the hash's inputs field */
    char owner[72];                   /* the hash's owner: the key of its inputs from faces */
    job_spec spec;
    int spec_ready;
    double created_at, started_at; /* wall clock, unix seconds */
    double start_mono;

    /* Loaded by the batch and borrowed by its job pipeline (jobs/pipeline.h), which owns the
     * engine jobs, frame slots and analysis outputs and is freed before the job. */
    job_inputs *inputs;
    /* What inputs borrows when the job names faces (job_inputs_from_faces): per side, a held
     * entry of w->faces, or for a side sent as a file a face of the job's own. Released or
     * freed after inputs. */
    fc_entry *face_entries[2];
    job_face *own_faces[2];
    char stems[2][128]; /* source and target names, sanitised */
    double load_s;

    wk_result result;
    char error[MD_ERROR_MSG_MAX];
    atomic_int cancel;             /* set from cancel_requested by the heartbeat */
    atomic_uint frames_done;       /* frames stored (the pipeline's frame_stored hook) */
    atomic_uint frames_unreported; /* stored, not yet counted in Redis (wk_count_frame) */
    double frames_reported_at;     /* monotonic; guarded by w->conn_lock */

    pthread_mutex_t log_lock; /* guards log */
    md_buf log;               /* session.log, at most WK_LOG_MAX bytes (later lines dropped) */
} wk_job;

wk_job *wk_job_new(void);
void wk_job_free(wk_job *j);
/* Appends a line to the job's session.log and logs it with the job id. Any thread. */
void wk_job_log(wk_job *j, md_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks the job failed (keeps the first message) and logs why. */
void wk_job_fail(wk_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- The worker ---- */

typedef struct wk {
    const jq_worker_config *cfg;
    char name[256];
    char k_stream[JQ_KEY_MAX], k_dead[JQ_KEY_MAX], k_metrics[JQ_KEY_MAX];
    char k_workers[JQ_KEY_MAX], k_worker[JQ_KEY_MAX];
    double started_at;         /* wall clock */
    const char *fault_label;   /* MORPHD_FAULT_CRASH_LABEL, tests only */
    atomic_int *stop;          /* the caller's stop flag (set by a signal handler) */
    atomic_llong stop_seen_us; /* md_now() in µs when the loop or an engine thread first saw
                                * *stop, 0 before: the drain's clock */

    wk_conn conn;       /* the loop's connection; frame callbacks use it under conn_lock */
    wk_conn fault_conn; /* idle; written only by the fatal-signal handler (worker_fault.c) */
    pthread_mutex_t conn_lock;
    int group_ready;
    char autoclaim_cursor[WK_ENTRY_MAX];

    stg *store;
    eng *engine;

    /* The batch in hand: held entries that the heartbeat keeps claimed. */
    pthread_mutex_t held_lock;
    wk_job **jobs;
    uint32_t job_count, job_cap;

    atomic_ullong batches, frames;

    /* Faces by face id (jobs/face_cache.h), each a job_face: parsed, textures decoded, mip
     * pyramids built, so a face used by many jobs is read, decoded and prepared once per worker
     * and shared read-only. evictions_seen: the cache's evictions already added to the
     * metric. */
    fc_cache *faces;
    atomic_ullong evictions_seen;
} wk;

/* ---- worker_redis.c: the commands ---- */

int wk_group_create(wk *w);
/* Claims up to count entries idle longer than the lease; new jobs, when reclaimed is 0. Calls
 * wk_accept for each entry. Returns the number of entries seen (accepted or not), or -1 when
 * Redis is unreachable. */
int wk_claim_reclaimed(wk *w, uint32_t count);
int wk_claim_new(wk *w, uint32_t count, int block_ms);
/* Finishes a job in Redis (record.c's finish script); then the finished metrics. artifacts is
 * JSON text. */
int wk_finish(wk *w, wk_job *j, jr_status status, const char *error, const char *artifacts);
/* Hands a running job back to the queue uncharged (drain). */
int wk_release(wk *w, wk_job *j);
/* Records that this worker begins work on these jobs, alone (solo) or together. */
void wk_begin(wk *w, wk_job *const *jobs, uint32_t count, int solo);
/* Sets the stage of a running job (a cancel is never overwritten). */
void wk_set_stage(wk *w, wk_job *j, jr_stage stage);
/* One more frame of the job stored; any thread (takes conn_lock). */
/* A frame of j was stored. Progress reaches Redis at most every WK_PROGRESS_S per job, and only
 * when the connection is free: an engine thread never waits on Redis behind another. */
void wk_count_frame(wk *w, wk_job *j);
/* Sends what wk_count_frame held back (after the batch's render). */
void wk_flush_frames(wk *w, wk_job *j);
void wk_metric_add(wk *w, jq_metric m, const char *labels, long long by);
void wk_metric_observe(wk *w, jq_metric m, const char *labels, double value);
/* The same on another connection than the loop's (the live lane's own). */
void wk_metric_add_on(wk *w, wk_conn *c, jq_metric m, const char *labels, long long by);
void wk_metric_observe_on(wk *w, wk_conn *c, jq_metric m, const char *labels, double value);

/* ---- worker.c: the batch being collected ---- */

/* Called for every claimed entry: checks deliveries, dead-letters, marks the job running and
 * adds it to the batch, or skips it. fields is the entry's field/value array (NULL when the
 * entry was deleted). */
void wk_accept(wk *w, const char *entry, const redisReply *fields, int reclaimed);
uint32_t wk_batch_frames(const wk *w);

/* Seconds since the worker first saw its stop flag, or -1 while it runs normally. Any thread. */
double wk_draining_s(wk *w);

/* ---- worker_batch.c ---- */

/* Loads, renders and finishes every job held; empties the held list. */
void wk_batch_run(wk *w);
/* Sweeps what a crashed earlier attempt of j left half-written, before this attempt writes. */
void wk_sweep_partial(wk *w, wk_job *j);
/* Reads the canonical mesh stored under key (an input of job j) into *out; what names it in
 * messages ("input base"). */
int wk_load_mesh(wk *w, const char *key, const char *what, mesh **out, md_error *err);

/* ---- worker_face.c ---- */

/* Runs a transform or average job alone (jobs/facespace.h): loads its stored meshes, stores the
 * derived meshes, their renders, manifest.json and session.log, and finishes it in Redis, or
 * hands it back when the worker is draining. */
void wk_face_run(wk *w, wk_job *j);

/* ---- worker_live.c ---- */

/* The live lane (jobs/live.h): NULL in *out when --live-pairs is 0. Uses w's config, store and
 * stop flag; stop it before they go. */
typedef struct wk_live wk_live;
int wk_live_start(wk *w, wk_live **out, md_error *err);
void wk_live_stop(wk_live *l); /* joins the thread (within a second of the stop flag); NULL ok */

/* ---- worker_fault.c ---- */

/* Installs the fatal-signal handler (once per process, on the loop's thread). */
int wk_fault_install(md_error *err);
/* Before a group renders: a fatal signal from now on marks these jobs' records with a fault. */
void wk_fault_arm(wk *w, wk_job *const *jobs, uint32_t count);
void wk_fault_disarm(wk *w);

/* ---- worker_heartbeat.c ---- */

typedef struct wk_heartbeat wk_heartbeat;
int wk_heartbeat_start(wk *w, wk_heartbeat **out, md_error *err);
void wk_heartbeat_stop(wk_heartbeat *hb); /* joins the thread, removes the worker record */

#endif
