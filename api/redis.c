/*
 * redis.c — the api's one Redis connection: hiredis' async API on the libuv loop through its
 * libuv adapter (hiredis 0.14: redisLibuvAttach). Loop thread only.
 *
 * Connection loss: hiredis calls every pending callback with a NULL reply (handlers answer 503
 * unavailable), then the disconnect callback; a timer reconnects with exponential backoff
 * (100 ms doubling to 5 s). While disconnected api_redis_cmd refuses at once, so requests get
 * 503 + Retry-After without waiting. On every (re)connect the consumer group is created
 * (XGROUP CREATE {p}jobs workers $ MKSTREAM; BUSYGROUP means another process did it first).
 */
#include "api/api_int.h"

#include <hiredis/adapters/libuv.h>
#include <string.h>

static void connect_now(api_server *s);

static void on_retry(uv_timer_t *t)
{
    connect_now(t->data);
}

static void schedule_retry(api_server *s)
{
    if (s->stopping)
        return;
    unsigned delay = s->redis_backoff_ms ? s->redis_backoff_ms : 100;
    s->redis_backoff_ms = delay >= 2500 ? 5000 : delay * 2;
    uv_timer_start(&s->redis_timer, on_retry, delay, 0);
}

static void on_group(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    (void)priv;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0)
        md_log(MD_LOG_WARN, "redis: XGROUP CREATE failed: %s", reply->str);
}

static void on_connect(const redisAsyncContext *c, int status)
{
    api_server *s = c->data;
    if (status != REDIS_OK) {
        md_log(MD_LOG_WARN, "redis: cannot connect: %s; retrying", c->errstr);
        s->redis = NULL; /* hiredis frees the context after this callback */
        s->redis_ready = 0;
        schedule_retry(s);
        return;
    }
    md_log(MD_LOG_INFO, "redis: connected");
    s->redis_ready = 1;
    s->redis_backoff_ms = 0;
    char stream[JQ_KEY_MAX];
    jq_key(stream, sizeof stream, s->prefix, "jobs");
    const char *argv[] = {"XGROUP", "CREATE", stream, JQ_GROUP, "$", "MKSTREAM"};
    api_redis_cmd(s, on_group, NULL, 6, argv, NULL);
}

static void on_disconnect(const redisAsyncContext *c, int status)
{
    api_server *s = c->data;
    s->redis = NULL;
    s->redis_ready = 0;
    if (status != REDIS_OK && !s->stopping) {
        md_log(MD_LOG_WARN, "redis: connection lost: %s; reconnecting", c->errstr);
        schedule_retry(s);
    }
}

static void connect_now(api_server *s)
{
    if (s->stopping || s->redis != NULL)
        return;
    redisAsyncContext *c = s->redis_addr.is_unix
                               ? redisAsyncConnectUnix(s->redis_addr.path)
                               : redisAsyncConnect(s->redis_addr.host, s->redis_addr.port);
    if (c == NULL || c->err) {
        md_log(MD_LOG_WARN, "redis: cannot connect: %s; retrying", c ? c->errstr : "no memory");
        if (c)
            redisAsyncFree(c);
        schedule_retry(s);
        return;
    }
    c->data = s;
    if (redisLibuvAttach(c, s->loop) != REDIS_OK) {
        redisAsyncFree(c);
        schedule_retry(s);
        return;
    }
    redisAsyncSetConnectCallback(c, on_connect);
    redisAsyncSetDisconnectCallback(c, on_disconnect);
    s->redis = c;
}

int api_redis_start(api_server *s, md_error *err)
{
    (void)err;
    uv_timer_init(s->loop, &s->redis_timer);
    s->redis_timer.data = s;
    connect_now(s);
    return 0;
}

void api_redis_stop(api_server *s)
{
    uv_timer_stop(&s->redis_timer);
    uv_close((uv_handle_t *)&s->redis_timer, NULL);
    if (s->redis != NULL) {
        /* Graceful: pending replies still arrive, then the adapter closes its poll handle. */
        redisAsyncDisconnect(s->redis);
    }
}

int api_redis_cmd(api_server *s, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                  const size_t *lens)
{
    if (s->redis == NULL || !s->redis_ready)
        return MD_EUNAVAIL;
    size_t local[64];
    if (lens == NULL) {
        if (argc > 64)
            return MD_EINVAL;
        for (int i = 0; i < argc; i++)
            local[i] = strlen(argv[i]);
        lens = local;
    }
    if (redisAsyncCommandArgv(s->redis, cb, priv, argc, argv, lens) != REDIS_OK)
        return MD_EUNAVAIL;
    return 0;
}

void api_reply_redis_down(api_req *req)
{
    api_reply_code(req, MD_EUNAVAIL,
                   "the job database (Redis) is not reachable right now; try again shortly");
}
