/*
 * worker_redis.c — every Redis command the worker sends, on blocking hiredis connections.
 *
 * The loop's thread owns w->conn except during an engine batch, when frame callbacks (engine
 * threads) share it under w->conn_lock to count frames. The heartbeat thread has its own
 * wk_conn. A connection that fails is dropped and retried with exponential backoff (0.1 s to
 * 5 s); the worker logs once when Redis goes away and once when it is back.
 *
 * Every change of a job's record is a script of jobs/record.c (atomic on the server: starting,
 * beginning work, stage and frame progress, finishing, dead-lettering, handing back); this file
 * only sends them and reads their answers.
 */
#define _GNU_SOURCE
#include "jobs/worker_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Connections ---- */

#define WK_BACKOFF_MIN_S 0.1
#define WK_BACKOFF_MAX_S 5.0
#define WK_IO_TIMEOUT_S 10 /* longer than any BLOCK the worker sends (<= 1 s) */

void wk_conn_init(wk_conn *c, const jq_redis_addr *addr, const char *who)
{
    memset(c, 0, sizeof *c);
    c->addr = *addr;
    c->who = who;
    c->state = -1;
    c->backoff_s = WK_BACKOFF_MIN_S;
}

static void conn_down(wk_conn *c, const char *reason)
{
    char why[160]; /* reason may point into the context freed below */
    snprintf(why, sizeof why, "%s", reason && reason[0] ? reason : "connection lost");
    if (c->ctx != NULL) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    if (c->state != 0)
        md_log(MD_LOG_WARN, "%s: redis unreachable (%s); retrying with backoff", c->who, why);
    c->state = 0;
    c->next_try = md_now() + c->backoff_s;
    c->backoff_s = c->backoff_s * 2 > WK_BACKOFF_MAX_S ? WK_BACKOFF_MAX_S : c->backoff_s * 2;
}

int wk_conn_ensure(wk_conn *c)
{
    if (c->ctx != NULL)
        return 0;
    if (md_now() < c->next_try)
        return MD_EUNAVAIL;
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    redisContext *ctx = c->addr.is_unix ? redisConnectUnixWithTimeout(c->addr.path, tv)
                                        : redisConnectWithTimeout(c->addr.host, c->addr.port, tv);
    if (ctx == NULL || ctx->err) {
        char why[160];
        snprintf(why, sizeof why, "%s", ctx ? ctx->errstr : "out of memory");
        if (ctx != NULL)
            redisFree(ctx);
        conn_down(c, why);
        return MD_EUNAVAIL;
    }
    struct timeval io = {.tv_sec = WK_IO_TIMEOUT_S, .tv_usec = 0};
    redisSetTimeout(ctx, io);
    c->ctx = ctx;
    if (c->state == 0)
        md_log(MD_LOG_WARN, "%s: redis is reachable again", c->who);
    else
        md_log(MD_LOG_INFO, "%s: connected to redis", c->who);
    c->state = 1;
    c->backoff_s = WK_BACKOFF_MIN_S;
    return 0;
}

void wk_conn_drop(wk_conn *c, const char *reason)
{
    conn_down(c, reason);
}

double wk_conn_wait_s(const wk_conn *c)
{
    if (c->ctx != NULL)
        return 0;
    double d = c->next_try - md_now();
    return d > 0 ? d : 0;
}

void wk_conn_close(wk_conn *c)
{
    if (c->ctx != NULL)
        redisFree(c->ctx);
    c->ctx = NULL;
}

static redisReply *checked(wk_conn *c, void *reply)
{
    if (reply == NULL) {
        conn_down(c, c->ctx && c->ctx->errstr[0] ? c->ctx->errstr : "connection lost");
        return NULL;
    }
    return reply;
}

redisReply *wk_cmd(wk_conn *c, const char *fmt, ...)
{
    if (wk_conn_ensure(c) != 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    void *reply = redisvCommand(c->ctx, fmt, ap);
    va_end(ap);
    return checked(c, reply);
}

redisReply *wk_cmd_argv(wk_conn *c, int argc, const char **argv, const size_t *lens)
{
    if (wk_conn_ensure(c) != 0)
        return NULL;
    return checked(c, redisCommandArgv(c->ctx, argc, argv, lens));
}

static const char *reply_str(const redisReply *r)
{
    return r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str
                                                                                         : NULL;
}

static int reply_is_error(const redisReply *r, const char *what)
{
    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        md_log(MD_LOG_ERROR, "redis %s: %s", what, r->str);
        return 1;
    }
    return 0;
}

/* ---- Metrics ---- */

void wk_metric_add_on(wk *w, wk_conn *c, jq_metric m, const char *labels, long long by)
{
    char field[256];
    if (jq_metric_counter_field(field, sizeof field, m, labels) != 0)
        return;
    redisReply *r = wk_cmd(c, "HINCRBY %s %s %lld", w->k_metrics, field, by);
    reply_is_error(r, "HINCRBY metrics");
    freeReplyObject(r);
}

void wk_metric_add(wk *w, jq_metric m, const char *labels, long long by)
{
    wk_metric_add_on(w, &w->conn, m, labels, by);
}

void wk_metric_observe_on(wk *w, wk_conn *c, jq_metric m, const char *labels, double value)
{
    jq_hist_fields f;
    if (jq_metric_hist_fields(&f, m, labels, value) != 0)
        return;
    if (wk_conn_ensure(c) != 0)
        return;
    redisContext *ctx = c->ctx;
    char v[64];
    snprintf(v, sizeof v, "%.9g", value);
    redisAppendCommand(ctx, "HINCRBY %s %s 1", w->k_metrics, f.bucket);
    redisAppendCommand(ctx, "HINCRBYFLOAT %s %s %s", w->k_metrics, f.sum, v);
    redisAppendCommand(ctx, "HINCRBY %s %s 1", w->k_metrics, f.count);
    for (int i = 0; i < 3; i++) {
        void *reply = NULL;
        if (redisGetReply(ctx, &reply) != REDIS_OK) {
            checked(c, NULL);
            return;
        }
        reply_is_error(reply, "metrics histogram");
        freeReplyObject(reply);
    }
}

void wk_metric_observe(wk *w, jq_metric m, const char *labels, double value)
{
    wk_metric_observe_on(w, &w->conn, m, labels, value);
}

static void finished_metrics(wk *w, const char *kind, const char *status, double duration_s)
{
    char field[192];
    int st = jr_status_parse(status);
    if (st >= 0 &&
        jr_finished_counter_field(field, sizeof field, jr_kind_parse(kind), (jr_status)st) == 0) {
        redisReply *r = wk_cmd(&w->conn, "HINCRBY %s %s 1", w->k_metrics, field);
        reply_is_error(r, "HINCRBY metrics");
        freeReplyObject(r);
    }
    if (duration_s >= 0)
        wk_metric_observe(w, JQ_M_JOB_DURATION, "", duration_s);
}

/* Sends a record command (jobs/record.c) on c. */
static redisReply *send_cmd(wk_conn *c, jr_cmd *cmd)
{
    return wk_cmd_argv(c, cmd->argc, cmd->argv, cmd->argvlen);
}

/* ---- Group and claims ---- */

int wk_group_create(wk *w)
{
    redisReply *r = wk_cmd(&w->conn, "XGROUP CREATE %s %s $ MKSTREAM", w->k_stream, JQ_GROUP);
    if (r == NULL)
        return MD_EUNAVAIL;
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
        md_log(MD_LOG_ERROR, "XGROUP CREATE %s: %s", w->k_stream, r->str);
        rc = MD_EUNAVAIL;
    }
    freeReplyObject(r);
    if (rc == 0)
        w->group_ready = 1;
    return rc;
}

/* NOGROUP: the stream or the group vanished (Redis restarted without persistence, or someone
 * deleted the key); the loop makes the group again before the next claim. */
static int group_missing(wk *w, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOGROUP", 7) != 0)
        return 0;
    if (w->group_ready)
        md_log(MD_LOG_WARN, "consumer group %s on %s is gone; creating it again", JQ_GROUP,
               w->k_stream);
    w->group_ready = 0;
    return 1;
}

/* Entries as XREADGROUP and XAUTOCLAIM return them: [[id, [f, v, ...] | nil], ...]. */
static int accept_entries(wk *w, const redisReply *entries, int reclaimed)
{
    if (entries == NULL || entries->type != REDIS_REPLY_ARRAY)
        return 0;
    int seen = 0;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 || reply_str(e->element[0]) == NULL)
            continue;
        const redisReply *fields =
            e->elements > 1 && e->element[1]->type == REDIS_REPLY_ARRAY ? e->element[1] : NULL;
        wk_accept(w, e->element[0]->str, fields, reclaimed);
        seen++;
    }
    return seen;
}

int wk_claim_reclaimed(wk *w, uint32_t count)
{
    redisReply *r = wk_cmd(&w->conn, "XAUTOCLAIM %s %s %s %d %s COUNT %u", w->k_stream, JQ_GROUP,
                           w->name, w->cfg->lease_ms, w->autoclaim_cursor, count);
    if (r == NULL)
        return -1;
    int seen = 0;
    if (!group_missing(w, r) && !reply_is_error(r, "XAUTOCLAIM") && r->type == REDIS_REPLY_ARRAY &&
        r->elements >= 2) {
        const char *next = reply_str(r->element[0]);
        snprintf(w->autoclaim_cursor, sizeof w->autoclaim_cursor, "%s", next ? next : "0-0");
        seen = accept_entries(w, r->element[1], 1);
    }
    freeReplyObject(r);
    return seen;
}

int wk_claim_new(wk *w, uint32_t count, int block_ms)
{
    redisReply *r = wk_cmd(&w->conn, "XREADGROUP GROUP %s %s COUNT %u BLOCK %d STREAMS %s >",
                           JQ_GROUP, w->name, count, block_ms, w->k_stream);
    if (r == NULL)
        return -1;
    int seen = 0;
    if (!group_missing(w, r) && !reply_is_error(r, "XREADGROUP") && r->type == REDIS_REPLY_ARRAY) {
        /* [[stream, entries]] */
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *s = r->element[i];
            if (s->type == REDIS_REPLY_ARRAY && s->elements == 2)
                seen += accept_entries(w, s->element[1], 0);
        }
    }
    freeReplyObject(r);
    return seen;
}

/* ---- Accepting one entry ---- */

static void ack_delete(wk *w, const char *entry)
{
    freeReplyObject(wk_cmd(&w->conn, "XACK %s %s %s", w->k_stream, JQ_GROUP, entry));
    freeReplyObject(wk_cmd(&w->conn, "XDEL %s %s", w->k_stream, entry));
}

static long long delivery_count(wk *w, const char *entry)
{
    redisReply *r = wk_cmd(&w->conn, "XPENDING %s %s %s %s 1", w->k_stream, JQ_GROUP, entry, entry);
    long long n = -1;
    /* [[id, consumer, idle, deliveries]] */
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 4 &&
        r->element[0]->element[3]->type == REDIS_REPLY_INTEGER)
        n = r->element[0]->element[3]->integer;
    freeReplyObject(r);
    return n;
}

/* The backstop for entries delivered again and again without a worker ever beginning work on
 * them (crashes while rendering are charged by the start script instead). */
static void dead_letter(wk *w, const char *id, const char *entry, long long deliveries)
{
    char error[MD_ERROR_MSG_MAX], reason[256];
    snprintf(error, sizeof error,
             "dead-lettered after %lld deliveries: workers kept stopping before this job's "
             "rendering began (backstop %d = %d x max_attempts)",
             deliveries - 1, WK_DELIVERY_BACKSTOP * w->cfg->max_attempts, WK_DELIVERY_BACKSTOP);
    snprintf(reason, sizeof reason, "delivered %lld times without finishing", deliveries - 1);
    jr_cmd cmd;
    if (jr_cmd_dead(&cmd, w->cfg->prefix, id, entry, deliveries - 1, reason, jq_wall_now(),
                    w->cfg->retention_s, error) != 0)
        return;
    redisReply *r = send_cmd(&w->conn, &cmd);
    if (r == NULL || reply_is_error(r, "dead-letter script") || r->type != REDIS_REPLY_ARRAY ||
        r->elements != 2) {
        freeReplyObject(r);
        return;
    }
    md_log(MD_LOG_WARN, "job %s: %s", id, error);
    wk_metric_add(w, JQ_M_DEAD_LETTERED, "", 1);
    if (jr_status_parse(reply_str(r->element[0])) == JR_FAILED)
        finished_metrics(w, reply_str(r->element[1]) ? r->element[1]->str : "morph",
                         jr_status_name(JR_FAILED), -1);
    freeReplyObject(r);
}

static const char *field_value(const redisReply *fields, const char *name)
{
    if (fields == NULL)
        return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (reply_str(fields->element[i]) && strcmp(fields->element[i]->str, name) == 0)
            return reply_str(fields->element[i + 1]);
    return NULL;
}

/* A job dead-lettered because its last attempt died: removes what that attempt left half
 * written, as a retry would have. */
static void sweep_dead_attempt(wk *w, const char *id)
{
    char prefix[STG_KEY_MAX];
    md_error err;
    md_error_clear(&err);
    if (jr_key_job_prefix(prefix, sizeof prefix, id) == 0 &&
        stg_sweep_partial(w->store, prefix, NULL, &err) != 0)
        md_log(MD_LOG_WARN, "job %s: sweeping partial writes: %s", id, err.msg);
}

/* Marks the job running (unless gone, terminal, canceled or dead-lettered for crashing
 * workers). Returns 1 with the job's kind, spec, created_at, inputs and crash counts filled in
 * j when it should run. */
static int start_job(wk *w, wk_job *j)
{
    double now = jq_wall_now();
    jr_cmd cmd;
    if (jr_cmd_start(&cmd, w->cfg->prefix, j->id, j->entry, now, j->deliveries, w->cfg->retention_s,
                     w->cfg->max_attempts, WK_LOST_FACTOR * w->cfg->max_attempts) != 0)
        return 0;
    redisReply *r = send_cmd(&w->conn, &cmd);
    int run = 0;
    if (r == NULL || reply_is_error(r, "start script") || r->type != REDIS_REPLY_ARRAY ||
        r->elements < 2)
        goto done;
    const char *kind = reply_str(r->element[1]);
    snprintf(j->kind, sizeof j->kind, "%s", jr_kind_name(jr_kind_parse(kind)));
    jr_start_result what = jr_start_reply(reply_str(r->element[0]));
    switch (what) {
    case JR_START_OK:
        break;
    case JR_START_CANCELED:
        md_log(MD_LOG_INFO, "job %s: canceled before it started", j->id);
        finished_metrics(w, j->kind, jr_status_name(JR_CANCELED), -1);
        goto done;
    case JR_START_DEAD:
        md_log(MD_LOG_WARN, "job %s: %s", j->id,
               r->elements > 2 && reply_str(r->element[2]) ? r->element[2]->str : "dead-lettered");
        wk_metric_add(w, JQ_M_DEAD_LETTERED, "", 1);
        finished_metrics(w, j->kind, jr_status_name(JR_FAILED), -1);
        sweep_dead_attempt(w, j->id);
        goto done;
    case JR_START_GONE:
    case JR_START_SKIP:
        md_log(MD_LOG_INFO, "job %s: %s, skipped", j->id,
               what == JR_START_GONE ? "deleted" : "already finished");
        goto done;
    default:
        goto done;
    }
    if (r->elements != 9)
        goto done;
    snprintf(j->owner, sizeof j->owner, "%s", reply_str(r->element[8]) ? r->element[8]->str : "");
    j->spec_text = md_strdup(reply_str(r->element[2]) ? r->element[2]->str : "");
    j->inputs_text = md_strdup(reply_str(r->element[4]) ? r->element[4]->str : "");
    const char *created = reply_str(r->element[3]);
    j->created_at = created && created[0] ? strtod(created, NULL) : -1;
    j->started_at = now;
    j->crashes = reply_str(r->element[5]) ? atoi(r->element[5]->str) : 0;
    j->batch_crashes = reply_str(r->element[6]) ? atoi(r->element[6]->str) : 0;
    j->lost = reply_str(r->element[7]) ? atoi(r->element[7]->str) : 0;
    run = j->spec_text != NULL && j->inputs_text != NULL;
done:
    freeReplyObject(r);
    return run;
}

/* Parses the spec and, on failure, finishes the job as failed at once. */
static int parse_spec(wk *w, wk_job *j)
{
    md_error err;
    md_error_clear(&err);
    json_error_t jerr;
    json_t *root = json_loads(j->spec_text, 0, &jerr);
    int rc = root == NULL ? md_fail(&err, MD_EPARSE, "spec is not JSON: %s", jerr.text)
                          : job_spec_from_json(&j->spec, root, &w->cfg->limits, &err);
    json_decref(root);
    if (rc == 0) {
        j->spec_ready = 1;
        return 0;
    }
    wk_job_fail(j, "spec: %s", err.msg);
    wk_finish(w, j, JR_FAILED, j->error, "[]");
    return rc;
}

void wk_accept(wk *w, const char *entry, const redisReply *fields, int reclaimed)
{
    const char *id = field_value(fields, "id");
    if (reclaimed)
        wk_metric_add(w, JQ_M_REDELIVERIES, "", 1);
    if (id == NULL || !jq_id_valid(id)) {
        md_log(MD_LOG_WARN, "stream entry %s: %s; removed", entry,
               fields == NULL ? "deleted from the stream" : "no valid job id");
        ack_delete(w, entry);
        return;
    }
    char key[JQ_KEY_MAX];
    if (jr_job_key(key, sizeof key, w->cfg->prefix, id) != 0)
        return;
    long long deliveries = delivery_count(w, entry);
    if (deliveries < 0)
        return; /* Redis went away; the entry stays pending and comes back */
    if (deliveries > (long long)WK_DELIVERY_BACKSTOP * w->cfg->max_attempts) {
        dead_letter(w, id, entry, deliveries);
        return;
    }
    wk_job *j = wk_job_new();
    if (j == NULL)
        return;
    snprintf(j->id, sizeof j->id, "%s", id);
    snprintf(j->entry, sizeof j->entry, "%s", entry);
    snprintf(j->key, sizeof j->key, "%s", key);
    j->deliveries = deliveries;
    j->w = w;
    j->start_mono = md_now();
    if (!start_job(w, j) || parse_spec(w, j) != 0) {
        wk_job_free(j);
        return;
    }
    wk_job_log(j, MD_LOG_INFO, "delivery %lld on worker %s (%s job, %u frame(s))", j->deliveries,
               w->name, j->kind,
               j->spec.kind == JOB_KIND_RENDER ? job_spec_view_count(&j->spec)
                                               : job_spec_frame_total(&j->spec));
    if (j->crashes + j->batch_crashes + j->lost > 0)
        wk_job_log(j, MD_LOG_WARN,
                   "workers died while rendering this job before (alone: %d crash(es), %d "
                   "kill(s) with no fault; with others: %d); it runs alone now, and is "
                   "dead-lettered at %d crashes or %d kills alone",
                   j->crashes, j->lost, j->batch_crashes, w->cfg->max_attempts,
                   WK_LOST_FACTOR * w->cfg->max_attempts);
    if (j->deliveries == 1 && j->created_at > 0)
        wk_metric_observe(w, JQ_M_QUEUE_WAIT, "", j->started_at - j->created_at);

    pthread_mutex_lock(&w->held_lock);
    if (w->job_count == w->job_cap) {
        uint32_t cap = w->job_cap ? w->job_cap * 2 : 8;
        wk_job **grown = md_realloc_array(w->jobs, cap, sizeof *grown);
        if (grown != NULL) {
            w->jobs = grown;
            w->job_cap = cap;
        }
    }
    int added = w->job_count < w->job_cap;
    if (added)
        w->jobs[w->job_count++] = j;
    pthread_mutex_unlock(&w->held_lock);
    if (!added) {
        /* Out of memory: leave the entry pending; the lease brings it back. */
        wk_job_free(j);
    }
}

/* ---- Progress and finishing ---- */

void wk_begin(wk *w, wk_job *const *jobs, uint32_t count, int solo)
{
    for (uint32_t i = 0; i < count; i++) {
        jr_cmd cmd;
        if (jr_cmd_begin(&cmd, w->cfg->prefix, jobs[i]->id, w->name, solo) != 0)
            continue;
        redisReply *r = send_cmd(&w->conn, &cmd);
        reply_is_error(r, "begin script");
        freeReplyObject(r);
    }
}

void wk_set_stage(wk *w, wk_job *j, jr_stage stage)
{
    jr_cmd cmd;
    if (jr_cmd_stage(&cmd, w->cfg->prefix, j->id, stage) != 0)
        return;
    redisReply *r = send_cmd(&w->conn, &cmd);
    reply_is_error(r, "stage update");
    freeReplyObject(r);
}

/* Sends j's held-back frame count; the caller holds conn_lock. */
static void report_frames(wk *w, wk_job *j)
{
    uint32_t n = atomic_exchange(&j->frames_unreported, 0);
    j->frames_reported_at = md_now();
    if (n == 0)
        return;
    jr_cmd cmd;
    if (jr_cmd_frame_done(&cmd, w->cfg->prefix, j->id, n) != 0)
        return;
    redisReply *r = send_cmd(&w->conn, &cmd);
    reply_is_error(r, "frame progress");
    freeReplyObject(r);
}

void wk_count_frame(wk *w, wk_job *j)
{
    atomic_fetch_add(&j->frames_unreported, 1);
    /* Busy: the thread sending now, or a later frame, carries this count. */
    if (pthread_mutex_trylock(&w->conn_lock) != 0)
        return;
    if (md_now() - j->frames_reported_at >= WK_PROGRESS_S)
        report_frames(w, j);
    pthread_mutex_unlock(&w->conn_lock);
}

void wk_flush_frames(wk *w, wk_job *j)
{
    pthread_mutex_lock(&w->conn_lock);
    report_frames(w, j);
    pthread_mutex_unlock(&w->conn_lock);
}

int wk_finish(wk *w, wk_job *j, jr_status status, const char *error, const char *artifacts)
{
    double finished = jq_wall_now();
    jr_cmd cmd;
    int rc = jr_cmd_finish(&cmd, w->cfg->prefix, j->id, j->entry, status, finished, error,
                           artifacts, w->cfg->retention_s, atomic_load(&j->frames_done));
    redisReply *r = rc == 0 ? send_cmd(&w->conn, &cmd) : NULL;
    if (r == NULL || reply_is_error(r, "finish script") || reply_str(r) == NULL) {
        /* The entry stays pending: after the lease another worker (or this one) runs the job
         * again and rewrites the same keys. */
        md_log(MD_LOG_ERROR, "job %s: could not record that it %s; it will be retried", j->id,
               jr_status_name(status));
        freeReplyObject(r);
        return MD_EUNAVAIL;
    }
    const char *final = r->str;
    if (strcmp(final, "skip") != 0) {
        finished_metrics(w, j->kind, final, finished - j->started_at);
        md_log(MD_LOG_INFO, "job %s: %s", j->id, final);
    }
    freeReplyObject(r);
    return 0;
}

int wk_release(wk *w, wk_job *j)
{
    jr_cmd cmd;
    int rc =
        jr_cmd_release(&cmd, w->cfg->prefix, j->id, j->entry, jq_wall_now(), w->cfg->retention_s);
    redisReply *r = rc == 0 ? send_cmd(&w->conn, &cmd) : NULL;
    if (r == NULL || reply_is_error(r, "release script") || reply_str(r) == NULL) {
        md_log(MD_LOG_WARN,
               "job %s: could not hand it back; another worker reclaims it after the lease", j->id);
        freeReplyObject(r);
        return MD_EUNAVAIL;
    }
    if (jr_status_parse(r->str) == JR_CANCELED)
        finished_metrics(w, j->kind, r->str, -1);
    md_log(MD_LOG_INFO, "job %s: handed back to the queue (%s)", j->id, r->str);
    freeReplyObject(r);
    return 0;
}
