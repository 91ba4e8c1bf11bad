/*
 * worker_live.c — the worker's live lane (jobs/live.h): a thread of its own that takes one
 * request at a time from {prefix}live (BLPOP), renders the one frame asked for and publishes
 * the PNG on the api's reply channel. It never waits for the batch loop: it has its own Redis
 * connection and its own engine, so a live frame does not queue behind a batch (the two share
 * the cores or the GPU, nothing else).
 *
 * Warm pairs: the last --live-pairs face pairs (4 by default) stay loaded (meshes decoded,
 * textures padded, their mip pyramids built, as job_inputs), least recently used first out, so an
 * experiment that alternates between a few pairs pays the load once. Faces are content-addressed
 * and never change; a face deleted from the library stays warm here until evicted, which can only
 * serve the same bytes to the owner that uploaded them.
 *
 * The frame is made by the job pipeline (jobs/pipeline.h) from a morph job's spec of one
 * weight, so a live frame has exactly the pixels of that frame of a job with the same spec.
 *
 * Lifetime: wk_live_start after the worker's setup, wk_live_stop before its engine and store
 * are freed; the thread ends within a second of the stop flag (BLPOP waits 1 s at most) and a
 * frame in hand is finished and answered first.
 */
#define _GNU_SOURCE
#include "jobs/worker_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/live.h"
#include "jobs/pipeline.h"

#define LIVE_PNG_MAX (64u << 20) /* most bytes of one live frame's PNG */

typedef struct live_pair {
    char owner[JL_OWNER_MAX];
    char face[2][JR_FACE_ID_LEN + 1];
    job_inputs *inputs; /* owned; NULL: the slot is free */
    uint64_t used;      /* lane's clock at the last use */
} live_pair;

struct wk_live {
    wk *w;
    wk_conn conn;
    eng *engine;
    char queue[JQ_KEY_MAX];
    live_pair *pairs; /* cfg->live_pairs slots */
    int pair_cap;
    uint64_t clock;
    pthread_t thread;
    int started;
};

/* ---- Warm pairs ---- */

static int load_face(wk *w, const char *owner, const char *face, const char *role, mesh **out,
                     md_error *err)
{
    char key[STG_KEY_MAX], what[48];
    if (jr_key_face(key, sizeof key, owner, face) != 0)
        return md_fail(err, MD_EINVAL, "%s face: no storage key for owner '%s'", role, owner);
    snprintf(what, sizeof what, "%s face %.12s", role, face);
    int rc = wk_load_mesh(w, key, what, out, err);
    if (rc == MD_ENOENT)
        md_fail(err, MD_ENOENT, "no face %s in your library (the %s)", face, role);
    return rc;
}

/* The pair's inputs, loaded now unless warm; *warm says which. Borrowed until the next call. */
static int pair_inputs(wk_live *l, const jl_request *r, const job_inputs **out, int *warm,
                       md_error *err)
{
    live_pair *victim = &l->pairs[0];
    for (int i = 0; i < l->pair_cap; i++) {
        live_pair *p = &l->pairs[i];
        if (p->inputs != NULL && strcmp(p->owner, r->owner) == 0 &&
            strcmp(p->face[0], r->face[0]) == 0 && strcmp(p->face[1], r->face[1]) == 0) {
            p->used = ++l->clock;
            *out = p->inputs;
            *warm = 1;
            return 0;
        }
        if (victim->inputs != NULL && (p->inputs == NULL || p->used < victim->used))
            victim = p;
    }
    *warm = 0;
    job_inputs_free(victim->inputs);
    victim->inputs = NULL;
    mesh *source = NULL, *target = NULL;
    int rc = load_face(l->w, r->owner, r->face[0], "source", &source, err);
    if (rc == 0)
        rc = load_face(l->w, r->owner, r->face[1], "target", &target, err);
    if (rc == 0) {
        /* Takes both meshes, on failure too. */
        rc = job_inputs_from_meshes(source, target, &victim->inputs, err);
        source = target = NULL;
    }
    /* The pair renders frame after frame: its pyramids are built now, not per frame. */
    if (rc == 0)
        rc = job_inputs_prepare_mips(victim->inputs, err);
    mesh_free(source);
    mesh_free(target);
    if (rc != 0) {
        job_inputs_free(victim->inputs);
        victim->inputs = NULL;
        return rc;
    }
    snprintf(victim->owner, sizeof victim->owner, "%s", r->owner);
    memcpy(victim->face, r->face, sizeof victim->face);
    victim->used = ++l->clock;
    *out = victim->inputs;
    return 0;
}

/* ---- One frame ---- */

typedef struct live_sink {
    md_buf png;
} live_sink;

static int sink_put(void *user, const char *name, const char *content_type, const void *bytes,
                    size_t len, md_error *err)
{
    (void)content_type;
    live_sink *s = user;
    if (strncmp(name, "frames/", 7) != 0)
        return 0;
    if (s->png.len != 0)
        return md_fail(err, MD_EINTERNAL, "a live request rendered more than one frame");
    if (md_buf_append(&s->png, bytes, len) != 0)
        return md_fail(err, MD_ELIMIT, "a live frame's PNG is over %u bytes", LIVE_PNG_MAX);
    return 0;
}

/* The pipeline's progress lines are for jobs' session.log; a live frame keeps warnings only. */
static void sink_log(void *user, md_log_level level, const char *msg)
{
    (void)user;
    if (level >= MD_LOG_WARN)
        md_log(level, "live: %s", msg);
}

static int render_frame(wk_live *l, const jl_request *r, md_buf *png, int *warm, md_error *err)
{
    const md_limits *lim = &l->w->cfg->limits;
    const job_inputs *in = NULL;
    int rc = pair_inputs(l, r, &in, warm, err);
    if (rc != 0)
        return rc;
    job_spec spec;
    job_spec_init(&spec);
    rc = job_spec_from_json(&spec, r->spec, lim, err);
    if (rc == 0 && (spec.kind != JOB_KIND_MORPH || spec.outputs != JOB_OUT_FRAMES))
        rc = md_fail(err, MD_EINVAL, "a live frame is a morph frame and nothing else");
    job_pipe *p = NULL;
    if (rc == 0)
        rc = job_pipe_new(l->engine, lim, 1, &p, err);
    live_sink sink = {0};
    md_buf_init(&sink.png, LIVE_PNG_MAX);
    job_pipe_sink ps = {.put = sink_put, .log = sink_log, .user = &sink};
    job_pipe_job job = {
        .spec = &spec,
        .inputs = in,
        .stems = {"source", "target"},
        .start_mono = md_now(),
        .sink = &ps,
    };
    if (rc == 0)
        rc = job_pipe_add(p, &job, err);
    if (rc == 0)
        rc = job_pipe_render(p, err);
    if (rc == 0)
        rc = job_pipe_error(p, 0, err);
    if (rc == 0 && sink.png.len == 0)
        rc = md_fail(err, MD_EINTERNAL, "the live frame was not rendered");
    job_pipe_free(p);
    job_spec_free(&spec);
    if (rc == 0) {
        *png = sink.png;
        return 0;
    }
    md_buf_free(&sink.png);
    return rc;
}

/* Publishes "<id> <code>\n<body>" on the request's channel. */
static void answer(wk_live *l, const jl_request *r, int code, const void *body, size_t len)
{
    char head[JQ_ID_LEN + 32];
    if (jl_reply_head(head, sizeof head, r->id, code) != 0)
        return;
    md_buf msg;
    md_buf_init(&msg, LIVE_PNG_MAX + sizeof head);
    if (md_buf_puts(&msg, head) != 0 || md_buf_append(&msg, body, len) != 0) {
        md_buf_free(&msg);
        md_log(MD_LOG_ERROR, "live %s: out of memory for the answer", r->id);
        return;
    }
    const char *argv[3] = {"PUBLISH", r->channel, (const char *)msg.data};
    size_t lens[3] = {7, strlen(r->channel), msg.len};
    redisReply *reply = wk_cmd_argv(&l->conn, 3, argv, lens);
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
        md_log(MD_LOG_INFO, "live %s: the api that asked is gone (nobody on %s)", r->id,
               r->channel);
    freeReplyObject(reply);
    md_buf_free(&msg);
}

static void handle(wk_live *l, const char *text, size_t len)
{
    jl_request r;
    md_error err;
    md_error_clear(&err);
    if (jl_request_decode(text, len, &r, &err) != 0) {
        /* No channel to answer on when the request itself is unreadable. */
        md_log(MD_LOG_WARN, "live: dropped a request: %s", err.msg);
        jl_request_clear(&r);
        return;
    }
    double now_ms = jq_wall_now() * 1000.0;
    if ((double)r.deadline_ms < now_ms) {
        md_log(MD_LOG_INFO, "live %s: dropped, %.0f ms past its deadline (nobody waits)", r.id,
               now_ms - (double)r.deadline_ms);
        wk_metric_add_on(l->w, &l->conn, JQ_M_LIVE_FRAMES, "outcome=\"expired\"", 1);
        jl_request_clear(&r);
        return;
    }
    double t0 = md_now();
    md_buf png;
    int warm = 0;
    int rc = render_frame(l, &r, &png, &warm, &err);
    double took = md_now() - t0;
    if (rc == 0) {
        answer(l, &r, 0, png.data, png.len);
        md_buf_free(&png);
    } else {
        answer(l, &r, rc, err.msg, strlen(err.msg));
    }
    md_log(MD_LOG_DEBUG, "live %s: %s in %.1f ms (%s)", r.id, rc == 0 ? "frame" : err.msg,
           took * 1000.0, warm ? "warm" : "loaded");
    wk_metric_add_on(l->w, &l->conn, JQ_M_LIVE_FRAMES,
                     rc == 0 ? "outcome=\"ok\"" : "outcome=\"failed\"", 1);
    wk_metric_observe_on(l->w, &l->conn, JQ_M_LIVE_SECONDS, "", took);
    jl_request_clear(&r);
}

static void *live_main(void *arg)
{
    wk_live *l = arg;
    while (!*l->w->stop) {
        if (wk_conn_ensure(&l->conn) != 0) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        redisReply *r = wk_cmd(&l->conn, "BLPOP %s 1", l->queue);
        if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[1]->type == REDIS_REPLY_STRING)
            handle(l, r->element[1]->str, r->element[1]->len);
        freeReplyObject(r);
    }
    return NULL;
}

int wk_live_start(wk *w, wk_live **out, md_error *err)
{
    *out = NULL;
    const jq_worker_config *cfg = w->cfg;
    if (cfg->live_pairs == 0)
        return 0;
    wk_live *l = md_calloc(1, sizeof *l);
    if (l == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for the live lane");
    l->w = w;
    l->pair_cap = cfg->live_pairs;
    l->pairs = md_calloc((size_t)l->pair_cap, sizeof *l->pairs);
    jq_redis_addr addr;
    int rc = l->pairs == NULL ? md_fail(err, MD_ENOMEM, "out of memory for the live lane") : 0;
    if (rc == 0)
        rc = jq_redis_addr_parse(cfg->redis_url, &addr, err);
    if (rc == 0 && jl_queue_key(l->queue, sizeof l->queue, cfg->prefix) != 0)
        rc = md_fail(err, MD_EINVAL, "--prefix is too long for the live lane's key");
    if (rc == 0) {
        wk_conn_init(&l->conn, &addr, "live lane");
        eng_config ec = {.kind = cfg->engine, .threads = cfg->threads};
        rc = eng_new(&ec, &l->engine, err);
        if (rc != 0)
            md_error_prefix(err, "live lane engine: ");
    }
    if (rc == 0 && pthread_create(&l->thread, NULL, live_main, l) != 0)
        rc = md_fail(err, MD_ENOMEM, "cannot start the live lane's thread");
    if (rc != 0) {
        wk_live_stop(l);
        return rc;
    }
    l->started = 1;
    *out = l;
    return 0;
}

void wk_live_stop(wk_live *l)
{
    if (l == NULL)
        return;
    if (l->started)
        pthread_join(l->thread, NULL);
    for (int i = 0; l->pairs != NULL && i < l->pair_cap; i++)
        job_inputs_free(l->pairs[i].inputs);
    md_free(l->pairs);
    eng_free(l->engine);
    wk_conn_close(&l->conn);
    md_free(l);
}
