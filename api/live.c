/*
 * live.c — GET /faces/{a}/morph/{b}.png?t=0.37: one frame of the morph between two faces of the
 * caller's library, rendered while the client waits (jobs/live.h has the wire).
 *
 * How: the query becomes a morph job's spec of one weight (the job spec's own setters, so every
 * value is checked with the job's rules and wording); the request goes onto {prefix}live with a
 * new id, this process's reply channel and a deadline; the connection is suspended until the
 * worker's answer arrives on the channel (a SUBSCRIBE on a connection of its own, redis.c) or
 * the deadline passes (503: no worker answered). No job record, no storage: a live frame leaves
 * nothing behind. Waiting requests are capped (API_LIVE_WAITING_MAX, 503 beyond).
 *
 * Lifetime: an op lives from the push until it is answered (reply, timeout or a failed push);
 * the push's callback gets a copy of the id, never the op, since the answer may come first.
 * Loop thread only.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/live.h"
#include "jobs/spec.h"

#define API_LIVE_TIMEOUT_MS 10000 /* a worker answers within this or the client gets 503 */
#define API_LIVE_WAITING_MAX 512  /* live requests waiting at once per api process */
#define API_LIVE_TICK_MS 100

typedef struct api_live_op {
    api_req *req;
    char id[JQ_ID_LEN + 1];
    double deadline; /* md_now() */
    struct api_live_op *prev, *next;
    int linked;
} api_live_op;

/* ---- Waiting requests ---- */

static void unlink_op(api_server *s, api_live_op *op)
{
    if (!op->linked)
        return;
    if (op->prev)
        op->prev->next = op->next;
    else
        s->live_ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    op->linked = 0;
    s->live_count--;
    if (s->live_count == 0 && s->live_timer_open)
        uv_timer_stop(&s->live_timer);
}

static api_live_op *find_op(api_server *s, const char *id)
{
    for (api_live_op *op = s->live_ops; op != NULL; op = op->next)
        if (strcmp(op->id, id) == 0)
            return op;
    return NULL;
}

/* The request is done: unlinked already when answered from here (it cannot go away while
 * suspended; unlinking again is a no-op); the op goes with it. */
static void op_free(void *p)
{
    api_live_op *op = p;
    unlink_op(op->req->srv, op);
    md_free(op);
}

static void on_tick(uv_timer_t *t)
{
    api_server *s = t->data;
    double now = md_now();
    api_live_op *op = s->live_ops;
    while (op != NULL) {
        api_live_op *next = op->next;
        if (now >= op->deadline) {
            unlink_op(s, op);
            api_reply_code(op->req, MD_EUNAVAIL,
                           "no worker answered within %d s: is a worker running with its live "
                           "lane on (morphd worker --live-pairs, 4 by default)?",
                           API_LIVE_TIMEOUT_MS / 1000);
        }
        op = next;
    }
}

/* ---- The answer ---- */

static void on_message(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_server *s = priv;
    redisReply *reply = r;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(reply->element[0]->str, "message") != 0 ||
        reply->element[2]->type != REDIS_REPLY_STRING)
        return; /* the subscribe confirmation, or the connection going */
    jl_reply lr;
    md_error err;
    md_error_clear(&err);
    if (jl_reply_parse(reply->element[2]->str, reply->element[2]->len, &lr, &err) != 0) {
        md_log(MD_LOG_WARN, "live: an unreadable answer on %s: %s", s->live_channel, err.msg);
        return;
    }
    api_live_op *op = find_op(s, lr.id);
    if (op == NULL)
        return; /* timed out already */
    unlink_op(s, op);
    if (lr.code != 0) {
        api_reply_code(op->req, lr.code, "%.*s", (int)(lr.body_len > 1000 ? 1000 : lr.body_len),
                       lr.body);
        return;
    }
    char *png = md_malloc(lr.body_len ? lr.body_len : 1);
    if (png == NULL) {
        api_reply_code(op->req, MD_ENOMEM, "out of memory for a live frame");
        return;
    }
    memcpy(png, lr.body, lr.body_len);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(lr.body_len, png, md_free);
    if (resp == NULL) {
        md_free(png);
        api_reply_code(op->req, MD_ENOMEM, "out of memory for a live frame");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "image/png");
    /* The same faces and query give the same pixels (faces never change). */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private, max-age=3600");
    api_req_reply(op->req, 200, resp);
}

static void subscribe(api_rconn *c)
{
    api_server *s = c->s;
    redisAsyncCommand(c->ctx, on_message, s, "SUBSCRIBE %s", s->live_channel);
}

/* ---- The request ---- */

/* The push's outcome; priv is a copy of the op's id (the op may be answered and gone). */
static void on_pushed(redisAsyncContext *c, void *r, void *priv)
{
    api_server *s = c->data ? ((api_rconn *)c->data)->s : NULL;
    char *id = priv;
    redisReply *reply = r;
    api_live_op *op = s != NULL ? find_op(s, id) : NULL;
    md_free(id);
    if (op == NULL || (reply != NULL && reply->type == REDIS_REPLY_INTEGER))
        return;
    unlink_op(s, op);
    if (reply == NULL)
        api_reply_redis_down(op->req);
    else
        api_reply_code(op->req, MD_EINTERNAL, "live frame: Redis refused the request: %.200s",
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
}

static const char *const query_keys[] = {"t",       "shape_t", "texture_t",  "size",
                                         "samples", "camera",  "background", NULL};

typedef struct query_scan {
    char unknown[128];
} query_scan;

static enum MHD_Result scan_key(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    (void)value;
    query_scan *q = cls;
    for (int i = 0; query_keys[i] != NULL; i++)
        if (strcmp(key, query_keys[i]) == 0)
            return MHD_YES;
    snprintf(q->unknown, sizeof q->unknown, "%s", key);
    return MHD_NO;
}

/* The setters speak of options ("--samples: ..."); a query speaks of its parameters. */
static int query_error(md_error *err, const char *key)
{
    const char *msg = err->msg;
    if (strncmp(msg, "--", 2) == 0) {
        const char *colon = strstr(msg, ": ");
        if (colon != NULL)
            msg = colon + 2;
    }
    char text[MD_ERROR_MSG_MAX];
    snprintf(text, sizeof text, "%s", msg);
    return md_fail(err, MD_EINVAL, "query parameter '%s': %s", key, text);
}

/* The query as a morph spec of one weight, frames only. */
static int spec_from_query(api_req *req, job_spec *spec, md_error *err)
{
    const md_limits *lim = &req->srv->lim;
    query_scan q = {{0}};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, scan_key, &q);
    if (q.unknown[0] != '\0')
        return md_fail(err, MD_EINVAL,
                       "unknown query parameter '%s' (known: t, shape_t, texture_t, size, "
                       "samples, camera, background)",
                       q.unknown);
    const char *v[7];
    for (int i = 0; query_keys[i] != NULL; i++)
        v[i] = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, query_keys[i]);
    if (v[0] == NULL || v[0][0] == '\0')
        return md_fail(err, MD_EINVAL,
                       "query parameter 't' is required: the morph weight, 0 (face a) to 1 "
                       "(face b), -3 to 3 to extrapolate");
    if (job_spec_set_weights(spec, v[0], lim, err) != 0 || spec->weight_count != 1)
        return spec->weight_count > 1
                   ? md_fail(err, MD_EINVAL, "query parameter 't': one weight, not a list")
                   : query_error(err, "t");
    int (*const weight_setters[2])(job_spec *, const char *, const md_limits *, md_error *) = {
        job_spec_set_shape_weights, job_spec_set_texture_weights};
    for (int i = 0; i < 2; i++)
        if (v[1 + i] != NULL && weight_setters[i](spec, v[1 + i], lim, err) != 0)
            return query_error(err, query_keys[1 + i]);
    if (v[3] != NULL) {
        /* N is a square N x N; WxH as the job spec has it. */
        char square[48];
        const char *size = v[3];
        if (strpbrk(size, "xX") == NULL && strlen(size) < 20) {
            snprintf(square, sizeof square, "%sx%s", size, size);
            size = square;
        }
        if (job_spec_set_size(spec, size, lim, err) != 0)
            return query_error(err, "size");
    }
    if (v[4] != NULL && job_spec_set_samples(spec, v[4], lim, err) != 0)
        return query_error(err, "samples");
    if (v[5] != NULL && job_spec_set_camera(spec, v[5], err) != 0)
        return query_error(err, "camera");
    if (v[6] != NULL && job_spec_set_background(spec, v[6], err) != 0)
        return query_error(err, "background");
    if (job_spec_set_outputs(spec, "frames", err) != 0)
        return err->code;
    if (job_spec_finalize(spec, err) != 0)
        return query_error(err, "shape_t");
    return job_spec_check_budget(spec, lim, err);
}

void api_live_frame(api_req *req)
{
    api_server *s = req->srv;
    md_error err;
    md_error_clear(&err);
    job_spec spec;
    job_spec_init(&spec);
    int rc = spec_from_query(req, &spec, &err);
    json_t *spec_json = rc == 0 ? job_spec_to_json(&spec) : NULL;
    job_spec_free(&spec);
    if (rc != 0) {
        api_reply_error(req, &err);
        return;
    }
    if (spec_json == NULL) {
        api_reply_code(req, MD_ENOMEM, "out of memory for a live frame");
        return;
    }
    if (s->stopping) {
        json_decref(spec_json);
        api_reply_code(req, MD_EUNAVAIL, "the server is stopping");
        return;
    }
    if (!s->redis.ready || !s->live_sub.ready) {
        json_decref(spec_json);
        api_reply_redis_down(req);
        return;
    }
    if (s->live_count >= API_LIVE_WAITING_MAX) {
        json_decref(spec_json);
        api_reply_code(req, MD_EBUSY, "%u live frames are waiting already; try again shortly",
                       s->live_count);
        return;
    }
    jl_request lr = {.spec = spec_json};
    if (jq_id_new(lr.id, &err) != 0) {
        json_decref(spec_json);
        api_reply_error(req, &err);
        return;
    }
    snprintf(lr.channel, sizeof lr.channel, "%s", s->live_channel);
    snprintf(lr.owner, sizeof lr.owner, "%s", req->owner);
    snprintf(lr.face[0], sizeof lr.face[0], "%s", req->face_id);
    snprintf(lr.face[1], sizeof lr.face[1], "%s", req->face_id2);
    lr.deadline_ms = (int64_t)(jq_wall_now() * 1000.0) + API_LIVE_TIMEOUT_MS;
    char *text = NULL;
    size_t len = 0;
    rc = jl_request_encode(&lr, &text, &len, &err);
    json_decref(spec_json);
    char queue[JQ_KEY_MAX];
    if (rc == 0 && jl_queue_key(queue, sizeof queue, s->prefix) != 0)
        rc = md_fail(&err, MD_EINTERNAL, "the live queue's key is too long");
    api_live_op *op = rc == 0 ? api_req_op_new(req, sizeof *op, op_free) : NULL;
    if (op != NULL)
        op->req = req; /* op_free reads it, whatever happens next */
    char *id_copy = op != NULL ? md_strdup(lr.id) : NULL;
    if (rc == 0 && id_copy == NULL)
        rc = md_fail(&err, MD_ENOMEM, "out of memory for a live frame");
    if (rc != 0) {
        md_free(text);
        api_reply_error(req, &err);
        return;
    }
    snprintf(op->id, sizeof op->id, "%s", lr.id);
    op->deadline = md_now() + API_LIVE_TIMEOUT_MS / 1000.0;
    const char *argv[3] = {"RPUSH", queue, text};
    size_t lens[3] = {5, strlen(queue), len};
    if (api_redis_cmd(s, on_pushed, id_copy, 3, argv, lens) != 0) {
        md_free(id_copy);
        md_free(text);
        api_reply_redis_down(req);
        return;
    }
    md_free(text);
    op->next = s->live_ops;
    if (s->live_ops)
        s->live_ops->prev = op;
    s->live_ops = op;
    op->linked = 1;
    if (s->live_count++ == 0)
        uv_timer_start(&s->live_timer, on_tick, API_LIVE_TICK_MS, API_LIVE_TICK_MS);
    api_req_suspend(req);
}

/* ---- Start and stop ---- */

int api_live_start(api_server *s, md_error *err)
{
    char id[JQ_ID_LEN + 1];
    int rc = jq_id_new(id, err); /* the kernel's randomness, as hex */
    if (rc != 0)
        return rc;
    id[JL_INSTANCE_LEN] = '\0';
    if (jl_channel(s->live_channel, sizeof s->live_channel, s->prefix, id) != 0)
        return md_fail(err, MD_EINVAL, "--prefix is too long for the live reply channel");
    uv_timer_init(s->loop, &s->live_timer);
    s->live_timer.data = s;
    s->live_timer_open = 1;
    api_rconn_start(s, &s->live_sub, "redis (live replies)", subscribe);
    return 0;
}

void api_live_close(api_server *s)
{
    if (s->live_timer_open) {
        uv_timer_stop(&s->live_timer);
        uv_close((uv_handle_t *)&s->live_timer, NULL);
        s->live_timer_open = 0;
    }
    api_rconn_stop(&s->live_sub);
}
