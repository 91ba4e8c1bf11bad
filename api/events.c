/*
 * events.c — GET /jobs/{id}/events: a job's life as Server-Sent Events (text/event-stream).
 *
 * What a client gets (docs/server.md and openapi.yaml say the same for people):
 *   event: status    the job as GET /jobs/{id} gives it, less its artifacts list; sent first
 *                    and again on every status change; after a terminal status the stream ends
 *   event: progress  the job's progress object (frames_done, frames_total, stage) when it changes
 *   event: artifact  one per artifact the job lists ({name, url, bytes, content_type}), before
 *                    the terminal status event
 *   event: gone      the job was deleted or expired while watched; the stream ends
 *   ": heartbeat"    a comment after API_EVENTS_HEARTBEAT_MS without an event
 * A reconnecting client starts again from the job's current state (no Last-Event-ID replay is
 * needed: every event is derived from the record, nothing is queued for absent clients).
 *
 * How: the stream polls the job hash every API_EVENTS_POLL_MS (one HGETALL per open stream; a
 * server-wide timer) and turns what changed into events with api_events_step, which is pure
 * (the job JSON in, event text out; tests/test_api_events.c feeds it). The bytes wait in a
 * bounded buffer for MHD's content reader; when it is empty the reader suspends the connection
 * and returns 0 (microhttpd.h's pattern for "no data yet"), and new bytes resume it. MHD does
 * not watch a suspended connection, so each tick peeks at its socket: a client that hung up
 * (EOF or an error) ends its stream within a tick instead of holding a slot. Streams are
 * capped (--limit max_event_streams, 503 beyond); on SIGTERM every stream ends at once, so
 * watchers never hold the api's stop.
 *
 * GET /batches/{id}/events is the same stream on a batch (api_batch_events_step): status events
 * carry the Batch JSON less its jobs list, progress events the frames summed over the jobs and
 * a stage for the whole (queued, rendering, done), a "job" event each time one job's status
 * changes (the batch's jobs entry: id, faces, status, progress, error), and after the last job
 * ended the final status event. The poll is the batch read (jr_cmd_batch_get), one per tick.
 * Artifacts are not repeated here: each job's own stream (or GET /jobs/{id}) lists them.
 *
 * Lifetime: a stream belongs to its MHD response and is unlinked when MHD frees it; a poll
 * still waiting for Redis then keeps the memory until its callback runs (gone flag). Loop
 * thread only.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define API_EVENTS_POLL_MS 250
#define API_EVENTS_HEARTBEAT_MS 15000
#define API_EVENTS_BUF_MAX (1u << 20) /* bytes waiting for the client */
#define API_EVENTS_ROOM (64u << 10)   /* artifact events stop here until the client reads */
#define API_EVENTS_RETRY_MS 2000      /* the client's reconnection delay (SSE "retry:") */

/* ---- Events from the job JSON (pure) ---- */

static int put_event(md_buf *out, const char *name, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return MD_ENOMEM;
    /* json_dumps never writes a raw newline, so the data is one "data:" line. */
    int rc = md_buf_printf(out, "event: %s\ndata: %s\n\n", name, text);
    free(text);
    return rc;
}

/* The status event: doc less its list (a job's "artifacts", a batch's "jobs"). */
static int status_event(md_buf *out, const json_t *doc, const char *list)
{
    json_t *copy = json_copy((json_t *)doc);
    if (copy == NULL)
        return MD_ENOMEM;
    json_object_del(copy, list);
    int rc = put_event(out, "status", copy);
    json_decref(copy);
    return rc;
}

int api_events_step(api_event_state *st, const json_t *job, const char *id, md_buf *out,
                    size_t room)
{
    if (st->ended)
        return 1;
    if (job == NULL) {
        json_t *gone = json_pack("{s:s,s:s}", "id", id, "detail",
                                 "the job was deleted or has expired; it has no more events");
        int rc = gone ? put_event(out, "gone", gone) : MD_ENOMEM;
        json_decref(gone);
        st->ended = 1;
        return rc != 0 ? rc : 1;
    }
    const char *status = json_string_value(json_object_get(job, "status"));
    if (status == NULL)
        return MD_EINVAL;
    int rc = 0;
    int terminal = jr_status_name_terminal(status);
    /* A terminal status waits until every artifact has been sent: it is the last event. */
    if (!terminal && (!st->started || strcmp(st->status, status) != 0)) {
        if ((rc = status_event(out, job, "artifacts")) != 0)
            return rc;
        snprintf(st->status, sizeof st->status, "%s", status);
    }
    st->started = 1;
    json_t *progress = json_object_get(job, "progress");
    long long done = (long long)json_integer_value(json_object_get(progress, "frames_done"));
    long long total = (long long)json_integer_value(json_object_get(progress, "frames_total"));
    const char *stage = json_string_value(json_object_get(progress, "stage"));
    if (stage == NULL)
        stage = "";
    if (!st->progress_sent || done != st->frames_done || total != st->frames_total ||
        strcmp(stage, st->stage) != 0) {
        if ((rc = put_event(out, "progress", progress)) != 0)
            return rc;
        st->progress_sent = 1;
        st->frames_done = done;
        st->frames_total = total;
        snprintf(st->stage, sizeof st->stage, "%s", stage);
    }
    json_t *artifacts = json_object_get(job, "artifacts");
    size_t count = json_array_size(artifacts);
    while (st->artifacts_sent < count && out->len < room) {
        if ((rc = put_event(out, "artifact", json_array_get(artifacts, st->artifacts_sent))) != 0)
            return rc;
        st->artifacts_sent++;
    }
    if (terminal && st->artifacts_sent >= count) {
        if ((rc = status_event(out, job, "artifacts")) != 0)
            return rc;
        snprintf(st->status, sizeof st->status, "%s", status);
        st->ended = 1;
        return 1;
    }
    return 0;
}

int api_batch_events_step(api_event_state *st, json_t *seen, const json_t *batch, const char *id,
                          md_buf *out)
{
    if (st->ended)
        return 1;
    if (batch == NULL) {
        json_t *gone = json_pack("{s:s,s:s}", "id", id, "detail",
                                 "the batch was deleted; it has no more events");
        int rc = gone ? put_event(out, "gone", gone) : MD_ENOMEM;
        json_decref(gone);
        st->ended = 1;
        return rc != 0 ? rc : 1;
    }
    const char *status = json_string_value(json_object_get(batch, "status"));
    if (status == NULL)
        return MD_EINVAL;
    int rc = 0;
    int terminal = jr_status_name_terminal(status);
    if (!terminal && (!st->started || strcmp(st->status, status) != 0)) {
        if ((rc = status_event(out, batch, "jobs")) != 0)
            return rc;
        snprintf(st->status, sizeof st->status, "%s", status);
    }
    st->started = 1;
    /* The batch's progress: frames summed, and a stage for the whole: queued until a job
     * starts, rendering while any job is queued or running, done at the end. */
    json_t *progress = json_object_get(batch, "progress");
    long long done = (long long)json_integer_value(json_object_get(progress, "frames_done"));
    long long total = (long long)json_integer_value(json_object_get(progress, "frames_total"));
    const char *stage = terminal                               ? jr_stage_name(JR_STAGE_DONE)
                        : jr_status_parse(status) == JR_QUEUED ? jr_stage_name(JR_STAGE_QUEUED)
                                                               : jr_stage_name(JR_STAGE_RENDERING);
    if (!st->progress_sent || done != st->frames_done || total != st->frames_total ||
        strcmp(stage, st->stage) != 0) {
        json_t *p = json_pack("{s:I,s:I,s:s}", "frames_done", (json_int_t)done, "frames_total",
                              (json_int_t)total, "stage", stage);
        rc = p ? put_event(out, "progress", p) : MD_ENOMEM;
        json_decref(p);
        if (rc != 0)
            return rc;
        st->progress_sent = 1;
        st->frames_done = done;
        st->frames_total = total;
        snprintf(st->stage, sizeof st->stage, "%s", stage);
    }
    /* A job event for each job whose status changed (the first time: each job). */
    json_t *jobs = json_object_get(batch, "jobs");
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        json_t *j = json_array_get(jobs, i);
        const char *jid = json_string_value(json_object_get(j, "id"));
        const char *js = json_string_value(json_object_get(j, "status"));
        if (jid == NULL || js == NULL)
            continue;
        const char *was = json_string_value(json_object_get(seen, jid));
        if (was != NULL && strcmp(was, js) == 0)
            continue;
        if ((rc = put_event(out, "job", j)) != 0)
            return rc;
        if (json_object_set_new(seen, jid, json_string(js)) != 0)
            return MD_ENOMEM;
    }
    if (terminal) {
        if ((rc = status_event(out, batch, "jobs")) != 0)
            return rc;
        snprintf(st->status, sizeof st->status, "%s", status);
        st->ended = 1;
        return 1;
    }
    return 0;
}

/* ---- Streams ---- */

typedef struct api_stream {
    api_server *srv;
    struct api_stream *prev, *next; /* srv->streams */
    struct MHD_Connection *conn;
    char id[JQ_ID_LEN + 1];
    char key[JQ_KEY_MAX];
    char owner[API_OWNER_MAX]; /* a batch's: its read checks it */
    int batch;                 /* GET /batches/{id}/events: job is the Batch JSON */
    json_t *seen;              /* a batch's: job id -> the status last sent */
    api_event_state st;
    md_buf out;
    size_t sent;   /* bytes of out already given to MHD */
    json_t *job;   /* the last record seen, to continue artifacts when the buffer drains */
    int suspended; /* by the reader, waiting for bytes */
    int polling;   /* an HGETALL is on its way */
    int gone;      /* MHD freed the response; free when the poll returns */
    double last_write;
} api_stream;

static void stream_unlink(api_stream *st)
{
    api_server *s = st->srv;
    if (st->prev)
        st->prev->next = st->next;
    else
        s->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    st->prev = st->next = NULL;
    s->stream_count--;
    if (s->stream_count == 0 && s->events_timer_open)
        uv_timer_stop(&s->events_timer);
}

static void stream_free(api_stream *st)
{
    md_buf_free(&st->out);
    json_decref(st->job);
    json_decref(st->seen);
    md_free(st);
}

/* Unparks the connection if the reader parked it; 1 when MHD must run (the caller kicks it,
 * once, after it stops touching streams: running MHD may free this stream or any other). */
static int stream_resume(api_stream *st)
{
    if (st->gone || !st->suspended)
        return 0;
    st->suspended = 0;
    MHD_resume_connection(st->conn);
    return 1;
}

/* Bytes arrived: wake the connection. st may be freed on return. */
static void stream_wake(api_stream *st)
{
    api_server *s = st->srv;
    if (stream_resume(st))
        api_http_kick(s);
}

static void stream_fail(api_stream *st, const char *what, int rc)
{
    md_log(MD_LOG_WARN, "events of %s %s: %s (%s); ending the stream", st->batch ? "batch" : "job",
           st->id, what, md_strerror(rc));
    st->st.ended = 1;
}

/* Runs the step on the current record and wakes the reader when something was added. */
static void stream_advance(api_stream *st)
{
    size_t before = st->out.len;
    if (st->sent > 0 && st->sent == st->out.len) {
        md_buf_reset(&st->out);
        st->sent = before = 0;
    }
    int rc = st->batch ? api_batch_events_step(&st->st, st->seen, st->job, st->id, &st->out)
                       : api_events_step(&st->st, st->job, st->id, &st->out, API_EVENTS_ROOM);
    if (rc < 0)
        stream_fail(st, "composing an event failed", rc);
    if (st->out.len != before) {
        st->last_write = md_now();
        stream_wake(st);
    } else if (st->st.ended) {
        stream_wake(st);
    }
}

static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    api_stream *st = cls;
    if (st->sent == st->out.len && !st->st.ended && st->job != NULL)
        stream_advance(st); /* artifacts held back by the buffer's room */
    size_t left = st->out.len - st->sent;
    if (left > 0) {
        size_t n = left < max ? left : max;
        memcpy(buf, st->out.data + st->sent, n);
        st->sent += n;
        return (ssize_t)n;
    }
    if (st->st.ended)
        return MHD_CONTENT_READER_END_OF_STREAM;
    st->suspended = 1;
    MHD_suspend_connection(st->conn);
    return 0;
}

static void close_events(void *cls)
{
    api_stream *st = cls;
    stream_unlink(st);
    md_log(MD_LOG_DEBUG, "events of job %s: stream closed (%u open)", st->id,
           st->srv->stream_count);
    st->gone = 1;
    if (!st->polling)
        stream_free(st);
}

static void on_poll(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_stream *st = priv;
    st->polling = 0;
    if (st->gone) {
        stream_free(st);
        return;
    }
    redisReply *reply = r;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
        return; /* Redis is away: heartbeats go on, the next tick asks again */
    /* A job's HGETALL is empty once it is gone; a batch read says "missing". */
    int missing = st->batch
                      ? reply->elements == 1 && reply->element[0]->type == REDIS_REPLY_STRING &&
                            strcmp(reply->element[0]->str, "missing") == 0
                      : reply->elements == 0;
    json_t *job = missing     ? NULL
                  : st->batch ? api_batch_json_reply(reply)
                              : api_job_json_reply(reply);
    if (!missing && job == NULL)
        return; /* a record this api cannot read (being written?): ask again */
    json_decref(st->job);
    st->job = job;
    if (job == NULL) {
        if (st->batch)
            api_batch_events_step(&st->st, st->seen, NULL, st->id, &st->out);
        else
            api_events_step(&st->st, NULL, st->id, &st->out, API_EVENTS_ROOM);
        st->last_write = md_now();
        stream_wake(st);
        return;
    }
    stream_advance(st);
}

/* 1 when the client closed its end of a parked connection (a peek reads EOF or fails). */
static int peer_gone(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == NULL)
        return 0;
    char c;
    ssize_t n = recv(info->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void on_tick(uv_timer_t *t)
{
    api_server *s = t->data;
    double now = md_now();
    int kick = 0;
    for (api_stream *st = s->streams; st != NULL; st = st->next) {
        if (st->st.ended)
            continue;
        if (st->suspended && peer_gone(st->conn)) {
            st->st.ended = 1;
            kick |= stream_resume(st); /* MHD finds the closed socket and frees the stream */
            continue;
        }
        if (!st->polling) {
            const char *argv[] = {"HGETALL", st->key};
            jr_cmd cmd;
            if (st->batch && jr_cmd_batch_get(&cmd, s->prefix, st->id, st->owner) == 0) {
                if (api_redis_cmd(s, on_poll, st, cmd.argc, cmd.argv, cmd.argvlen) == 0)
                    st->polling = 1;
            } else if (!st->batch && api_redis_cmd(s, on_poll, st, 2, argv, NULL) == 0) {
                st->polling = 1;
            }
        }
        if ((now - st->last_write) * 1000.0 >= API_EVENTS_HEARTBEAT_MS) {
            if (st->sent == st->out.len) {
                md_buf_reset(&st->out);
                st->sent = 0;
            }
            if (md_buf_puts(&st->out, ": heartbeat\n\n") == 0) {
                st->last_write = now;
                kick |= stream_resume(st);
            }
        }
    }
    if (kick)
        api_http_kick(s); /* after the loop: MHD may free streams */
}

/* ---- The route ---- */

/* Opens the stream of req on doc (taken: the Job JSON, or the Batch JSON when batch). */
static void stream_open(api_req *req, json_t *doc, int batch)
{
    api_server *s = req->srv;
    if (s->stream_count >= s->lim.max_event_streams) {
        json_decref(doc);
        api_reply_problem(req, 503, "unavailable",
                          "this api serves %u event streams already (--limit "
                          "max_event_streams); poll GET /%s/%s instead, or try again later",
                          s->stream_count, batch ? "batches" : "jobs", req->id);
        return;
    }
    api_stream *st = md_calloc(1, sizeof *st);
    json_t *seen = batch ? json_object() : NULL;
    if (st == NULL || (batch && seen == NULL)) {
        md_free(st);
        json_decref(seen);
        json_decref(doc);
        api_reply_code(req, MD_ENOMEM, "out of memory for an event stream");
        return;
    }
    st->srv = s;
    st->conn = req->conn;
    st->batch = batch;
    st->seen = seen;
    snprintf(st->id, sizeof st->id, "%s", req->id);
    snprintf(st->owner, sizeof st->owner, "%s", req->owner);
    jr_job_key(st->key, sizeof st->key, s->prefix, req->id);
    md_buf_init(&st->out, API_EVENTS_BUF_MAX);
    st->job = doc;
    md_buf_printf(&st->out, "retry: %d\n\n", API_EVENTS_RETRY_MS);
    int rc = batch ? api_batch_events_step(&st->st, st->seen, doc, st->id, &st->out)
                   : api_events_step(&st->st, doc, st->id, &st->out, API_EVENTS_ROOM);
    struct MHD_Response *resp =
        rc < 0 ? NULL
               : MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 << 10, read_events, st,
                                                   close_events);
    if (resp == NULL) {
        stream_free(st);
        api_reply_code(req, MD_ENOMEM, "cannot start the event stream");
        return;
    }
    st->last_write = md_now();
    st->next = s->streams;
    if (s->streams)
        s->streams->prev = st;
    s->streams = st;
    if (s->stream_count++ == 0 && s->events_timer_open)
        uv_timer_start(&s->events_timer, on_tick, API_EVENTS_POLL_MS, API_EVENTS_POLL_MS);
    md_log(MD_LOG_DEBUG, "events of %s %s: stream opened (%u open)", batch ? "batch" : "job",
           st->id, s->stream_count);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* proxies: do not buffer */
    api_req_reply(req, 200, resp);
}

static void on_first(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    redisReply *reply = r;
    if (reply == NULL) {
        api_reply_redis_down(req);
        return;
    }
    const char *owner = api_reply_field(reply, jr_field_name(JR_F_OWNER));
    json_t *job = owner && strcmp(owner, req->owner) == 0 ? api_job_json_reply(reply) : NULL;
    if (job == NULL) {
        api_reply_code(req, MD_ENOENT, "no job %s", req->id);
        return;
    }
    stream_open(req, job, 0);
}

static void on_first_batch(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    if (r == NULL) {
        api_reply_redis_down(req);
        return;
    }
    json_t *batch = api_batch_json_reply(r); /* the read checked the owner */
    if (batch == NULL) {
        api_reply_code(req, MD_ENOENT, "no batch %s", req->id);
        return;
    }
    stream_open(req, batch, 1);
}

void api_batch_events(api_req *req)
{
    jr_cmd cmd;
    if (jr_cmd_batch_get(&cmd, req->srv->prefix, req->id, req->owner) != 0) {
        api_reply_code(req, MD_EINTERNAL, "the batch read command did not fit");
        return;
    }
    if (api_redis_cmd(req->srv, on_first_batch, req, cmd.argc, cmd.argv, cmd.argvlen) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

void api_job_events(api_req *req)
{
    char key[JQ_KEY_MAX];
    jr_job_key(key, sizeof key, req->srv->prefix, req->id);
    const char *argv[] = {"HGETALL", key};
    if (api_redis_cmd(req->srv, on_first, req, 2, argv, NULL) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- Start and stop ---- */

void api_events_start(api_server *s)
{
    uv_timer_init(s->loop, &s->events_timer);
    s->events_timer.data = s;
    s->events_timer_open = 1;
}

void api_events_stop(api_server *s)
{
    int kick = 0;
    for (api_stream *st = s->streams; st != NULL; st = st->next) {
        st->st.ended = 1;
        kick |= stream_resume(st);
    }
    if (kick)
        api_http_kick(s); /* after the loop: MHD may free streams */
}

void api_events_close(api_server *s)
{
    if (!s->events_timer_open)
        return;
    s->events_timer_open = 0;
    uv_close((uv_handle_t *)&s->events_timer, NULL);
}
