/*
 * redis.c — the api's Redis connections: hiredis' async API on the libuv loop through the
 * libuv adapter below. One carries every command (api_redis_cmd); the live lane (live.c) holds
 * a second for its SUBSCRIBE, which takes a connection for itself. Loop thread only.
 *
 * Connection loss: hiredis calls every pending callback with a NULL reply (handlers answer 503
 * unavailable), then the disconnect callback; a timer reconnects with exponential backoff
 * (100 ms doubling to 5 s). While disconnected api_redis_cmd refuses at once, so requests get
 * 503 + Retry-After without waiting. On every (re)connect the consumer group is created
 * (XGROUP CREATE {p}jobs workers $ MKSTREAM; BUSYGROUP means another process did it first).
 */
#include "api/api_int.h"

#include <string.h>

static void connect_now(api_rconn *c);

/* ---- libuv adapter ----
 *
 * Ours rather than <hiredis/adapters/libuv.h>: hiredis 0.14's adapter ignores a poll callback
 * whose status is an error. libuv reports a socket error that way (POLLERR: UV_EBADF, no
 * events) and stops the handle, so a connect refused while Redis was down never reached
 * hiredis: the context stayed "connecting" forever, neither connected nor freed, and the api
 * answered 503 until restarted. On an error status we hand hiredis the events it waits for;
 * its own read or write then meets the error and fails the connect or drops the connection,
 * which calls on_connect or on_disconnect as usual. (hiredis 1.x's adapter does the same.) */

typedef struct redis_uv {
    redisAsyncContext *context; /* borrowed; NULL once hiredis frees it */
    uv_poll_t handle;
    int events; /* UV_READABLE | UV_WRITABLE that hiredis waits for */
} redis_uv;

static void redis_uv_poll(uv_poll_t *handle, int status, int events)
{
    redis_uv *p = handle->data;
    int ready = status != 0 ? p->events : events;
    /* A read that ends the connection frees the context, and cleanup clears p->context. */
    if (p->context != NULL && (ready & UV_READABLE))
        redisAsyncHandleRead(p->context);
    if (p->context != NULL && (ready & UV_WRITABLE))
        redisAsyncHandleWrite(p->context);
}

static void redis_uv_update(redis_uv *p, int events)
{
    p->events = events;
    if (events != 0)
        uv_poll_start(&p->handle, events, redis_uv_poll);
    else
        uv_poll_stop(&p->handle);
}

static void redis_uv_add_read(void *priv)
{
    redis_uv *p = priv;
    redis_uv_update(p, p->events | UV_READABLE);
}

static void redis_uv_del_read(void *priv)
{
    redis_uv *p = priv;
    redis_uv_update(p, p->events & ~UV_READABLE);
}

static void redis_uv_add_write(void *priv)
{
    redis_uv *p = priv;
    redis_uv_update(p, p->events | UV_WRITABLE);
}

static void redis_uv_del_write(void *priv)
{
    redis_uv *p = priv;
    redis_uv_update(p, p->events & ~UV_WRITABLE);
}

static void redis_uv_on_close(uv_handle_t *handle)
{
    md_free(handle->data);
}

/* hiredis is freeing the context: close the poll handle; p goes in its close callback. */
static void redis_uv_cleanup(void *priv)
{
    redis_uv *p = priv;
    p->context = NULL;
    uv_close((uv_handle_t *)&p->handle, redis_uv_on_close);
}

static int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data != NULL)
        return REDIS_ERR;
    redis_uv *p = md_calloc(1, sizeof *p);
    if (p == NULL)
        return REDIS_ERR;
    if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
        md_free(p);
        return REDIS_ERR;
    }
    p->handle.data = p;
    p->context = ac;
    ac->ev.addRead = redis_uv_add_read;
    ac->ev.delRead = redis_uv_del_read;
    ac->ev.addWrite = redis_uv_add_write;
    ac->ev.delWrite = redis_uv_del_write;
    ac->ev.cleanup = redis_uv_cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}

/* ---- Connecting ---- */

static void on_retry(uv_timer_t *t)
{
    connect_now(t->data);
}

static void schedule_retry(api_rconn *c)
{
    if (c->s->stopping || !c->timer_open)
        return;
    unsigned delay = c->backoff_ms ? c->backoff_ms : 100;
    c->backoff_ms = delay >= 2500 ? 5000 : delay * 2;
    uv_timer_start(&c->timer, on_retry, delay, 0);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    api_rconn *c = ac->data;
    if (status != REDIS_OK) {
        md_log(MD_LOG_WARN, "%s: cannot connect: %s; retrying", c->what, ac->errstr);
        c->ctx = NULL; /* hiredis frees the context after this callback */
        c->ready = 0;
        schedule_retry(c);
        return;
    }
    md_log(MD_LOG_INFO, "%s: connected", c->what);
    c->ready = 1;
    c->backoff_ms = 0;
    if (c->on_ready != NULL)
        c->on_ready(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    api_rconn *c = ac->data;
    c->ctx = NULL;
    c->ready = 0;
    if (status != REDIS_OK && !c->s->stopping) {
        md_log(MD_LOG_WARN, "%s: connection lost: %s; reconnecting", c->what, ac->errstr);
        schedule_retry(c);
    }
}

static void connect_now(api_rconn *c)
{
    api_server *s = c->s;
    if (s->stopping || c->ctx != NULL)
        return;
    redisAsyncContext *ac = s->redis_addr.is_unix
                                ? redisAsyncConnectUnix(s->redis_addr.path)
                                : redisAsyncConnect(s->redis_addr.host, s->redis_addr.port);
    if (ac == NULL || ac->err) {
        md_log(MD_LOG_WARN, "%s: cannot connect: %s; retrying", c->what,
               ac ? ac->errstr : "no memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    ac->data = c;
    if (redis_uv_attach(ac, s->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ctx = ac;
}

void api_rconn_start(api_server *s, api_rconn *c, const char *what, void (*on_ready)(api_rconn *c))
{
    c->s = s;
    c->what = what;
    c->on_ready = on_ready;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->timer_open = 1;
    connect_now(c);
}

void api_rconn_stop(api_rconn *c)
{
    if (c->timer_open) {
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, NULL);
        c->timer_open = 0;
    }
    if (c->ctx != NULL) {
        /* Graceful: pending replies still arrive, then the adapter closes its poll handle. */
        redisAsyncDisconnect(c->ctx);
    }
}

static void on_group(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    (void)priv;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0)
        md_log(MD_LOG_WARN, "redis: XGROUP CREATE failed: %s", reply->str);
}

/* On every (re)connect of the command connection: the consumer group. */
static void on_commands_ready(api_rconn *c)
{
    api_server *s = c->s;
    char stream[JQ_KEY_MAX];
    jq_key(stream, sizeof stream, s->prefix, "jobs");
    const char *argv[] = {"XGROUP", "CREATE", stream, JQ_GROUP, "$", "MKSTREAM"};
    api_redis_cmd(s, on_group, NULL, 6, argv, NULL);
}

int api_redis_start(api_server *s, md_error *err)
{
    (void)err;
    api_rconn_start(s, &s->redis, "redis", on_commands_ready);
    return 0;
}

void api_redis_stop(api_server *s)
{
    api_rconn_stop(&s->redis);
}

int api_redis_cmd(api_server *s, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                  const size_t *lens)
{
    if (s->redis.ctx == NULL || !s->redis.ready)
        return MD_EUNAVAIL;
    size_t local[64];
    if (lens == NULL) {
        if (argc > 64)
            return MD_EINVAL;
        for (int i = 0; i < argc; i++)
            local[i] = strlen(argv[i]);
        lens = local;
    }
    if (redisAsyncCommandArgv(s->redis.ctx, cb, priv, argc, argv, lens) != REDIS_OK)
        return MD_EUNAVAIL;
    return 0;
}

void api_reply_redis_down(api_req *req)
{
    api_reply_code(req, MD_EUNAVAIL,
                   "the job database (Redis) is not reachable right now; try again shortly");
}

int api_reply_word_pair(api_req *req, const redisReply *reply, const char *what)
{
    if (reply == NULL) {
        api_reply_redis_down(req);
        return -1;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        api_reply_code(req, MD_EINTERNAL, "%s failed: %s", what,
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
        return -1;
    }
    return 0;
}
