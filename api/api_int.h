/*
 * api_int.h — what the files of api/ share and nothing outside api/ sees: the server (one per
 * process, owned by api_run on the loop thread), the per-request context, and the functions
 * each file gives the others.
 *
 * Threads: everything here runs on the loop thread except the work functions that
 * uv_queue_work hands to the thread pool (submit.c, jobs_routes.c, health.c); those touch only
 * the state of their own request op and the thread-safe storage handle.
 *
 * Request lifetime: MHD's first call for a request allocates an api_req (api_req_new); the
 * request-completed notification frees it (api_req_free). While Redis or the pool works for a
 * request its connection is suspended, and MHD never completes a suspended connection, so an
 * op may keep its api_req pointer until it replies.
 */
#ifndef API_API_INT_H
#define API_API_INT_H

#include <hiredis/async.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <uv.h>

#include "api/api.h"
#include "jobs/queue.h"
#include "jobs/record.h"
#include "storage/storage.h"

#define API_OWNER_MAX 65        /* owner names: 1..64 bytes of [A-Za-z0-9._-] */
#define API_URL_MAX 2048        /* longer paths are answered 414 by the router */
#define API_SPEC_MAX (64 << 10) /* the spec part */
#define API_IDEM_KEY_MAX 255
#define API_ARTIFACT_NAME_MAX 255
#define API_BATCH_BODY_MAX (16 << 20) /* POST /batches' JSON body: max_batch_pairs pairs fit */
#define API_IDLE_S 60      /* MHD's connection timeout: a connection idle this long is closed */
#define API_STOP_IDLE_S 10 /* the same for requests in flight once SIGTERM came */
#define API_DECODE_WAIT_MS 5000 /* a decode waits this long for room in max_decode_bytes */
#define API_STOP_GRACE_MS 30000 /* default: then the api gives up on what is left, exits 1 */

/* ---- Routes and per-process HTTP metrics ---- */

typedef enum api_route {
    API_ROUTE_JOBS,         /* /jobs */
    API_ROUTE_JOB,          /* /jobs/{id} */
    API_ROUTE_CANCEL,       /* /jobs/{id}/cancel */
    API_ROUTE_ARTIFACT,     /* /jobs/{id}/artifacts/{name} */
    API_ROUTE_EVENTS,       /* /jobs/{id}/events */
    API_ROUTE_FACES,        /* /faces */
    API_ROUTE_FACE,         /* /faces/{id} */
    API_ROUTE_LIVE,         /* /faces/{a}/morph/{b}.png */
    API_ROUTE_BATCHES,      /* /batches */
    API_ROUTE_BATCH,        /* /batches/{id} */
    API_ROUTE_BATCH_CANCEL, /* /batches/{id}/cancel */
    API_ROUTE_BATCH_EVENTS, /* /batches/{id}/events */
    API_ROUTE_HEALTHZ,
    API_ROUTE_READYZ,
    API_ROUTE_METRICS,
    API_ROUTE_NONE, /* matched nothing: counted as route="unmatched" */
    API_ROUTE_COUNT
} api_route;

const char *api_route_template(api_route r);

#define API_HTTP_BUCKETS 14
#define API_HTTP_CODES 24 /* distinct status codes counted per route; more go to the last */

typedef struct api_http_stats {
    struct {
        unsigned code[API_HTTP_CODES];
        uint64_t requests[API_HTTP_CODES];
        uint64_t buckets[API_HTTP_BUCKETS + 1]; /* not cumulative; the last is +Inf */
        double sum;
        uint64_t count;
    } route[API_ROUTE_COUNT];
} api_http_stats;

extern const double api_http_bounds[API_HTTP_BUCKETS];
void api_http_stats_observe(api_http_stats *st, api_route r, unsigned code, double seconds);

/* ---- The server ---- */

/* One line of the --api-keys file: the owner and the SHA-256 of its key (keys.c). */
typedef struct api_key {
    char owner[API_OWNER_MAX];
    uint8_t digest[API_KEY_DIGEST];
} api_key;

/* A Redis connection on the loop that reconnects by itself (redis.c). */
typedef struct api_rconn {
    struct api_server *s;
    const char *what; /* in log lines: "redis", "redis (live replies)" */
    redisAsyncContext *ctx;
    int ready;
    unsigned backoff_ms;
    uv_timer_t timer;
    int timer_open;
    void (*on_ready)(struct api_rconn *c); /* after each (re)connect */
} api_rconn;

typedef struct api_server {
    uv_loop_t *loop;
    md_limits lim;
    char prefix[JQ_PREFIX_MAX];
    jq_redis_addr redis_addr;
    stg *storage;
    api_key *keys; /* NULL: authentication off, every request is "anonymous" */
    size_t key_count;
    /* --artifact-redirect: 0 streams artifacts; else 307 to URLs presigned for this long, s */
    int artifact_redirect_s;
    char tmp_root[512]; /* private folder of upload temp dirs, removed at exit (tmp.c) */
    int tmp_lock_fd;    /* owned; flock'ed tmp_root/.lock, held for life; -1 none */

    /* HTTP (http.c) */
    struct MHD_Daemon *mhd;
    int quiesced; /* SIGTERM: the gate stopped accepting */
    uv_poll_t mhd_poll;
    uv_timer_t mhd_timer;
    int in_mhd;     /* inside MHD_run: do not run it again */
    int kick_again; /* a kick came while inside MHD_run: run it once more before leaving */
    int http_open;
    struct api_req *reqs; /* every live request (diagnostics, shutdown) */
    /* The listening socket and connections whose first head is not in yet (gate.c) */
    int gate_listen_fd; /* owned; -1 none */
    uv_poll_t gate_poll;
    int gate_open;
    char *gate_buf; /* owned; gate_cap bytes, for peeking at heads */
    size_t gate_cap;
    struct api_gate_conn *gate_conns;
    unsigned gate_count;

    /* Redis (redis.c): commands, and the live lane's reply channel (live.c), which a
     * SUBSCRIBE holds for itself */
    api_rconn redis;
    api_rconn live_sub;

    /* Lifetime (server.c) */
    uv_signal_t sig_term, sig_int;
    int stopping;
    int closed;
    int abandoned;          /* the grace period ran out: api_run exits non-zero */
    unsigned stop_grace_ms; /* how long SIGTERM waits for requests in flight */
    uv_timer_t grace_timer;
    unsigned inflight;  /* api_req alive */
    unsigned pool_jobs; /* detached pool work (input clean-up) */
    api_http_stats stats;

    /* Event streams, GET /jobs/{id}/events (events.c) */
    struct api_stream *streams;
    unsigned stream_count;
    uv_timer_t events_timer; /* polls the watched jobs while any stream is open */
    int events_timer_open;

    /* Live frames, GET /faces/{a}/morph/{b}.png (live.c) */
    char live_channel[JQ_KEY_MAX]; /* this process's reply channel */
    struct api_live_op *live_ops;  /* waiting for a worker's answer */
    unsigned live_count;
    uv_timer_t live_timer; /* times them out while any waits */
    int live_timer_open;

    /* Lingering closes (linger.c) */
    struct api_linger *lingering;
    unsigned linger_count;
} api_server;

/* ---- Requests ---- */

typedef enum api_method { API_GET, API_POST, API_DELETE, API_HEAD, API_OTHER } api_method;

/* The parts POST /jobs takes (intake.c fills them, submit.c reads them). */
typedef enum api_part_id {
    API_PART_SOURCE,
    API_PART_TARGET,
    API_PART_SOURCE_TEXTURE,
    API_PART_TARGET_TEXTURE,
    API_PART_MESH,
    API_PART_TEXTURE,
    API_PART_FRAME_ON, /* a reference mesh whose bounds frame the camera (morph jobs) */
    API_PART_SPEC,
    API_PART_BASE, /* transform jobs: base + amount (to - from) */
    API_PART_FROM,
    API_PART_TO,
    API_PART_BASE_TEXTURE,
    API_PART_FROM_TEXTURE,
    API_PART_TO_TEXTURE,
    API_PART_COUNT
} api_part_id;

typedef struct api_part {
    int present;
    api_part_id id;
    char filename[256]; /* as the client named it (may be empty) */
    char stem[128];     /* job_path_stem of the filename, or the part name */
    char ext[16];       /* lowercase extension of the filename, "" if none */
    char path[768];     /* temp file holding the bytes (file parts) */
    uint64_t bytes;
    char *text; /* the spec part, in memory, NUL-terminated */
} api_part;

typedef struct api_intake {
    struct api_mp *mp;              /* owned: the multipart parser (multipart.c) */
    char dir[600];                  /* this request's temp folder */
    api_part parts[API_PART_COUNT]; /* the first part of each name */
    /* Repeats of 'mesh' and 'texture' (an average's meshes and their textures), in body order;
     * at most 2 * max_average_meshes. */
    api_part *more;
    uint32_t more_count, more_cap;
    int current; /* part being written: an index of parts, API_PART_COUNT + one of more, -1 */
    int fd;
    uint64_t body_bytes;
    int dropping; /* an error is recorded: read and discard the rest of the body */
    /* The first error, answered when the body is in (or the connection is dropped). */
    int err_code; /* md error code; 0 none */
    char err_detail[600];
    char unknown[200]; /* names of unknown parts, comma-separated */
    char idem_key[API_IDEM_KEY_MAX + 1];
} api_intake;

extern const char *const api_part_names[API_PART_COUNT];
/* How many parts named like id the body had, and the n-th of them (0: parts[id]) in body
 * order; NULL past the count. */
uint32_t api_intake_count(const api_intake *in, api_part_id id);
const api_part *api_intake_nth(const api_intake *in, api_part_id id, uint32_t n);

typedef struct api_req {
    api_server *srv;
    struct api_req *prev, *next; /* srv->reqs */
    struct MHD_Connection *conn;
    api_method method;
    api_route route;
    char path[API_URL_MAX + 1];
    char id[JQ_ID_LEN + 1];
    char artifact[API_ARTIFACT_NAME_MAX + 1];
    char face_id[JR_FACE_ID_LEN + 1];  /* /faces/{id}: empty when not a face id */
    char face_id2[JR_FACE_ID_LEN + 1]; /* /faces/{a}/morph/{b}.png: b, empty when not an id */
    char owner[API_OWNER_MAX];
    double started;
    int suspended;
    int replied;
    struct MHD_Response *response; /* waiting to be queued */
    unsigned status;               /* what was (or will be) sent */
    api_intake *intake;            /* POST /jobs, POST /faces */
    md_buf body;                   /* POST /batches: the JSON body, API_BATCH_BODY_MAX at most */
    int body_on;                   /* body collects what comes */
    uint64_t discarded;            /* body bytes read and dropped after an early answer */
    int close_after;               /* answered before a body too large to drain: close */
    void *op;                      /* route state, freed with op_free */
    void (*op_free)(void *op);
} api_req;

/* http.c */
/* 1 in *loopback when --listen resolves to 127.0.0.0/8 or ::1 (what api_http_start binds). */
int api_http_listen_loopback(const char *listen, int *loopback, md_error *err);
int api_http_start(api_server *s, const char *listen, md_error *err);
void api_http_kick(api_server *s);    /* run MHD now (unless inside it) and re-arm the timer */
void api_http_quiesce(api_server *s); /* stop accepting; shorten idle timeouts of live requests */
/* Logs every live request (method, path, state, age) at level, prefixed with what. */
void api_http_log_requests(api_server *s, md_log_level level, const char *what);
void api_http_stop(api_server *s); /* stop MHD and close its handles */
void api_req_suspend(api_req *req);
/* Allocates a route's zeroed state of size bytes and hands it to req (freed with op_free, or
 * md_free when NULL, when the request ends). On failure answers 500 and returns NULL, so a
 * route just returns. */
void *api_req_op_new(api_req *req, size_t size, void (*op_free)(void *op));
/* Hands the response over to req (takes ownership) and resumes the connection if suspended.
 * The first reply wins; later ones are dropped. */
void api_req_reply(api_req *req, unsigned status, struct MHD_Response *resp);

/* gate.c: the listening socket; each connection's first request head is checked (size,
 * header count, Content-Length, Host) before MHD gets the connection, so those errors are
 * problem+json. *port gets the bound port. */
int api_gate_start(api_server *s, const struct sockaddr *sa, socklen_t sa_len, unsigned *port,
                   md_error *err);
void api_gate_quiesce(api_server *s); /* stop accepting; close connections still in their head */
void api_gate_stop(api_server *s);    /* quiesce and free */
/* Pure: checks the n bytes of a head peeked into a buffer of cap bytes. 0 the head is whole and
 * fine, 1 more bytes are needed, or a negative md code (EINVAL 400, EURITOOLONG 414, EHEADERS
 * 431) with err's detail. */
int api_gate_check_head(const char *buf, size_t n, size_t cap, const md_limits *lim, md_error *err);
/* linger.c: takes ownership of fd (a dup of a connection MHD is closing after an early
 * answer): shuts down sending, drops what the client still sends, closes it after a while. */
typedef struct api_linger api_linger;
void api_linger_start(api_server *s, int fd);
void api_linger_stop_all(api_server *s);

/* router.c: picks route, method check, auth; called with the whole request received. */
void api_route_request(api_req *req);
void api_route_classify(api_req *req, const char *url); /* fills route, id, artifact */
/* keys.c: loads the --api-keys file into s->keys (main thread, before the loop). */
int api_keys_load(api_server *s, const char *path, md_error *err);
void api_keys_free(api_server *s);
/* The index in s->keys of the key's owner, or -1; constant time in the key and the table. */
int api_key_find(const api_server *s, const char *key, size_t len);
int api_authenticate(api_req *req); /* 0, or replies 401 and returns -1 */

/* problem.c */
const char *api_problem_title(const char *slug);
/* {"type":...,"title":...,"status":...,"detail":...,"instance":...} as md_malloc'ed text. */
char *api_problem_body(unsigned status, const char *slug, const char *detail, const char *instance);
/* A problem with status and slug from md.h's table for an md error code (md_err_http_status,
 * md_err_problem); the detail from fmt. How the api answers every error. */
void api_reply_code(api_req *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An explicit status and slug: only for problems no md code stands for (405). */
void api_reply_problem(api_req *req, unsigned status, const char *slug, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* api_reply_code(err->code) with detail err->msg (or the code's message when empty). */
void api_reply_error(api_req *req, const md_error *err);
void api_reply_json(api_req *req, unsigned status, json_t *body); /* steals body */
void api_reply_text(api_req *req, unsigned status, const char *type, char *text, size_t len);
struct MHD_Response *api_response_json(json_t *body); /* steals body */

/* listing.c: a listing's page arguments. ?limit is 1..max (20 when absent); ?cursor, when
 * given, is a next_cursor "score:id" whose id passes id_valid. */
typedef struct api_listing {
    int limit;
    int has_cursor;
    char max_score[24]; /* where the page starts: "+inf", or the cursor's score */
    size_t score_len;   /* the cursor's score's length */
    char cursor_id[72];
} api_listing;
/* Reads the page arguments; a bad one is answered 400 (naming it) and -1 returned. */
int api_listing_read(api_req *req, int max, int (*id_valid)(const char *), api_listing *out);
/* 1 when the entry (score, id) was on an earlier page than l's cursor. */
int api_listing_given(const api_listing *l, const char *score, const char *id);
/* A JSON resource a client polls (a job, a batch): Retry-After: 1 until terminal. Steals body;
 * NULL body answers 500 out of memory. */
void api_reply_polled(api_req *req, unsigned status, json_t *body, int terminal);

/* job_json.c: the job hash (docs/server.md) as the Job JSON of openapi.yaml. NULL when the
 * hash has no id. fields and values are parallel arrays of n borrowed strings. */
json_t *api_job_json(const char *const *fields, const char *const *values, size_t n);
/* Same from an HGETALL reply; NULL for an empty or malformed reply. */
json_t *api_job_json_reply(const redisReply *r);
/* The value of field in an HGETALL reply, NULL if absent. */
const char *api_reply_field(const redisReply *r, const char *field);
/* The artifact name pattern of openapi.yaml: one folder level at most, no dot segments. */
int api_artifact_name_valid(const char *name);

/* A job of a batch as the batch read gives it (jr_cmd_batch_get): its id and faces (from the
 * batch's jobs field) and its JR_BJ_COUNT values (v[JR_BJ_STATUS] NULL: the job is gone). */
typedef struct api_batch_job {
    const char *id, *source_face, *target_face;
    const char *v[JR_BJ_COUNT];
} api_batch_job;
/* The Batch JSON of openapi.yaml: the jobs with their states, counts per status, the frames
 * summed and the batch's status. created_at is unix seconds as text. All borrowed. */
json_t *api_batch_json(const char *id, const char *created_at, const char *spec_json,
                       const api_batch_job *jobs, size_t n);

/* redis.c */
int api_redis_start(api_server *s, md_error *err);
void api_redis_stop(api_server *s);
/* Connects c now and after every loss (backoff 100 ms doubling to 5 s); on_ready may be NULL. */
void api_rconn_start(api_server *s, api_rconn *c, const char *what, void (*on_ready)(api_rconn *c));
void api_rconn_stop(api_rconn *c); /* graceful: pending replies still arrive; closes the timer */
/* Sends a command; 0, or MD_EUNAVAIL when Redis is not connected (cb is then not called).
 * cb gets reply NULL when the connection drops first. */
int api_redis_cmd(api_server *s, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                  const size_t *lens);
/* Replies 503 unavailable with Retry-After. */
void api_reply_redis_down(api_req *req);
/* 0 when a script's reply is the pair [word, text] the record scripts answer; otherwise answers
 * it (503 when Redis went away, 500 naming what failed) and returns -1. */
int api_reply_word_pair(api_req *req, const redisReply *reply, const char *what);

/* intake.c: multipart bodies of POST /jobs to temp files */
int api_intake_begin(api_req *req); /* 0, or replied an error */
/* -1: drop the connection (a body far past the limit). */
int api_intake_feed(api_req *req, const char *data, size_t size);
/* Flushes the last part; 0, or replies the first recorded error and returns -1. */
int api_intake_finish(api_req *req);
void api_intake_free(api_intake *in); /* removes the temp files; NULL ok */

/* submit.c */
void api_submit(api_req *req); /* the body is in; parse, store, queue, reply */
struct mesh;
/* Pool thread: loads mesh part p (named like id; no external file opened) and applies texture
 * part t (NULL or absent: none), reserving the decode budget for its texture first (the caller
 * calls md_budget_release() once the textures are padded); *pixels counts the request's texture
 * pixels against lim->max_request_pixels. Errors name the part and the client's file name,
 * never the temp path. */
int api_part_mesh_load(const api_part *p, api_part_id id, const api_part *t, const md_limits *lim,
                       uint64_t *pixels, struct mesh **out, md_error *err);
uint32_t api_mesh_texture_count(const struct mesh *m); /* materials with a texture */

/* faces.c: POST /faces (the body is in), GET /faces, GET and DELETE /faces/{id} */
void api_face_post(api_req *req);
void api_face_list(api_req *req);
void api_face_get(api_req *req);
void api_face_delete(api_req *req);

/* batches.c: POST /batches (the body is in), GET and DELETE /batches/{id},
 * POST /batches/{id}/cancel. req->id is the batch's id. */
void api_batch_post(api_req *req);
void api_batch_get(api_req *req);
void api_batch_cancel(api_req *req);
void api_batch_delete(api_req *req);
/* The Batch JSON from a jr_cmd_batch_get reply; NULL when it says "missing" or is malformed. */
json_t *api_batch_json_reply(const redisReply *r);

/* jobs_routes.c */
void api_job_get(api_req *req);
void api_job_list(api_req *req);
void api_job_cancel(api_req *req);
void api_job_delete(api_req *req);
void api_artifact_get(api_req *req);

/* events.c: GET /jobs/{id}/events. What a stream has told its client so far. */
typedef struct api_event_state {
    int started;
    int ended; /* the last event is written: a terminal status, or "gone" */
    int progress_sent;
    char status[16];
    char stage[24];
    long long frames_done, frames_total;
    size_t artifacts_sent;
} api_event_state;
/* Appends to out the events that take a client from *st to job (the Job JSON of
 * api_job_json; NULL when the job is gone); artifact events stop once out holds room bytes
 * (call again when the client has read). 1 when the stream is complete, 0 when it goes on, or a
 * negative error (out of memory, out full). Pure. */
int api_events_step(api_event_state *st, const json_t *job, const char *id, md_buf *out,
                    size_t room);
void api_job_events(api_req *req);
/* The same for a batch (the Batch JSON of api_batch_json; NULL when the batch is gone):
 * status, progress (summed) and one "job" event per job whose status changed since seen (an
 * object of job id -> status the caller keeps) and, once every job ended, the final status.
 * 1 when complete, 0 when it goes on, or a negative error. Pure. */
int api_batch_events_step(api_event_state *st, json_t *seen, const json_t *batch, const char *id,
                          md_buf *out);
void api_batch_events(api_req *req);  /* GET /batches/{id}/events */
void api_events_start(api_server *s); /* the poll timer; before any request */
void api_events_stop(api_server *s);  /* SIGTERM: every stream ends now */
void api_events_close(api_server *s); /* closes the timer handle */

/* live.c */
void api_live_frame(api_req *req);
int api_live_start(api_server *s, md_error *err); /* the reply channel and its timer */
void api_live_close(api_server *s);               /* when no request is in flight any more */

/* health.c */
void api_healthz(api_req *req);
void api_readyz(api_req *req);
void api_metrics(api_req *req);

/* The Prometheus text of the whole system from what Redis holds (pure; tests feed it). */
typedef struct api_metrics_input {
    const char *const *fields; /* {prefix}metrics hash, parallel arrays */
    const char *const *values;
    size_t field_count;
    long long queue_depth;
    const char *const *workers;      /* alive workers' names */
    const char *const *gpu_bytes;    /* their gpu_memory_used_bytes ("" when unknown) */
    const char *const *gpu_total;    /* gpu_memory_total_bytes ("" or "0": no GPU) */
    const char *const *gpu_util;     /* gpu_utilization_percent ("": unknown) */
    const char *const *face_bytes;   /* face_cache_bytes ("": unknown); NULL: none given */
    const char *const *face_entries; /* face_cache_entries ("": unknown); NULL: none given */
    /* gpu_texture_cache_bytes ("": no texture cache); NULL: none given */
    const char *const *gpu_tex_bytes;
    size_t worker_count;
    const char *const *engines; /* the engine each runs ("cpu", "cuda"; "" when unknown) */
    const char *version;
    const api_http_stats *http;
} api_metrics_input;
void api_metrics_render(md_buf *out, const api_metrics_input *in);

/* tmp.c: the upload temp folder. api_tmp_start makes $TMPDIR/morphd-api-XXXXXX (s->tmp_root)
 * with a .lock held for the process's life, then removes the folders of apis that are gone
 * (their .lock is free) and lock-less ones older than API_TMP_LEGACY_AGE_S. api_tmp_stop
 * removes s->tmp_root and drops the lock; safe to call when start failed or never ran. */
#define API_TMP_LEGACY_AGE_S 3600
int api_tmp_start(api_server *s, md_error *err);
void api_tmp_stop(api_server *s);
/* Removes path and everything under it; symlinks are removed, never followed. Any thread. */
void api_rm_tree(const char *path);

/* Detached pool work: remove a job's stored objects (input clean-up after a refusal). */
void api_storage_delete_job(api_server *s, const char *id);

#endif
