/*
 * server.c — api_run: builds the server (limits, Redis address, API keys, storage, a private
 * temp folder for uploads, tmp.c, which also sweeps those of dead apis), starts Redis and HTTP on
 * one libuv loop, and stops cleanly. Without --api-keys it refuses (MD_EINVAL, exit 2) a
 * --listen that other machines can reach, unless allow_anonymous says that is meant; that check
 * and the keys file come first, before Redis or storage are touched.
 *
 * Stop: SIGTERM or SIGINT quiesces MHD (the listen socket closes, connections stay), responses
 * then carry "Connection: close", and when the last request context is freed MHD is stopped,
 * the Redis connection is closed gracefully and every handle is closed, so uv_run returns and
 * uv_loop_close succeeds. Pool work still running (storage clean-up) is waited for by uv_run.
 * Idle timeouts of requests in flight drop to API_STOP_IDLE_S, so a vanished client cannot hold
 * the stop; and as a last resort, after the grace period (MORPHD_API_STOP_GRACE_S, default
 * API_STOP_GRACE_MS) every request still alive is logged as abandoned and api_run returns an
 * error (exit 1) without waiting for them.
 */
#define _GNU_SOURCE
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Stopping ---- */

void api_server_check_stopped(api_server *s)
{
    if (!s->stopping || s->inflight > 0 || s->closed)
        return;
    s->closed = 1;
    md_log(MD_LOG_INFO, "stopping: no request in flight; closing");
    uv_close((uv_handle_t *)&s->grace_timer, NULL);
    api_events_close(s);
    api_live_close(s);
    api_http_stop(s);
    api_redis_stop(s);
}

static void on_grace_over(uv_timer_t *t)
{
    api_server *s = t->data;
    if (s->closed)
        return;
    md_log(MD_LOG_ERROR, "stopping: %u request(s) still in flight after %u ms; abandoning them",
           s->inflight, s->stop_grace_ms);
    api_http_log_requests(s, MD_LOG_ERROR, "abandoned");
    s->abandoned = 1;
    uv_stop(s->loop);
}

static unsigned grace_ms_from_env(void)
{
    const char *v = getenv("MORPHD_API_STOP_GRACE_S");
    if (v == NULL || v[0] == '\0')
        return API_STOP_GRACE_MS;
    char *end;
    double sec = strtod(v, &end);
    if (*end != '\0' || !(sec > 0) || sec > 86400) {
        md_log(MD_LOG_WARN, "MORPHD_API_STOP_GRACE_S='%s' is not 0 < seconds <= 86400; using %u s",
               v, API_STOP_GRACE_MS / 1000);
        return API_STOP_GRACE_MS;
    }
    return (unsigned)(sec * 1000.0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    api_server *s = h->data;
    if (s->stopping)
        return;
    md_log(MD_LOG_WARN, "signal %d: no new connections; finishing %u request(s) in flight", signum,
           s->inflight);
    s->stopping = 1;
    api_http_log_requests(s, MD_LOG_DEBUG, "in flight");
    uv_timer_start(&s->grace_timer, on_grace_over, s->stop_grace_ms, 0);
    api_http_quiesce(s);
    api_events_stop(s);
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
    api_http_kick(s);
    api_server_check_stopped(s);
}

/* ---- Run ---- */

int api_run(const api_config *cfg, md_error *err)
{
    api_server s;
    memset(&s, 0, sizeof s);
    s.tmp_lock_fd = -1;
    uv_loop_t loop;
    int rc = 0;
    int loop_open = 0;
    s.lim = cfg->limits;
    /* Images being decoded (uploads on the thread pool) share one budget; a decode that finds
     * no room waits API_DECODE_WAIT_MS, then answers 503 (md_budget.c). */
    md_budget_configure(cfg->limits.max_decode_bytes, API_DECODE_WAIT_MS);
    s.artifact_redirect_s = cfg->artifact_redirect_s;
    _Static_assert(API_ARTIFACT_REDIRECT_MAX_S == STG_PRESIGN_EXPIRES_MAX,
                   "--artifact-redirect's bound is storage's");
    if (cfg->artifact_redirect_s < 0 || cfg->artifact_redirect_s > API_ARTIFACT_REDIRECT_MAX_S) {
        rc = md_fail(err, MD_EINVAL, "--artifact-redirect: %d is not 1..%d seconds",
                     cfg->artifact_redirect_s, API_ARTIFACT_REDIRECT_MAX_S);
        goto done;
    }
    if ((rc = jq_prefix_check(cfg->prefix, err)) != 0)
        goto done;
    snprintf(s.prefix, sizeof s.prefix, "%s", cfg->prefix);
    if ((rc = jq_redis_addr_parse(cfg->redis_url, &s.redis_addr, err)) != 0)
        goto done;
    if (cfg->api_keys_file == NULL && !cfg->allow_anonymous) {
        int loopback = 0;
        if ((rc = api_http_listen_loopback(cfg->listen, &loopback, err)) != 0)
            goto done;
        if (!loopback) {
            rc = md_fail(err, MD_EINVAL,
                         "--listen %s can be reached from other machines and there is no "
                         "--api-keys, so anyone who reaches it could submit, read and delete "
                         "jobs. Give --api-keys FILE (`morphd keygen OWNER` makes a key and its "
                         "line), or --allow-anonymous to serve without authentication on "
                         "purpose (behind a proxy that authenticates, say); or listen on "
                         "127.0.0.1",
                         cfg->listen);
            goto done;
        }
    }
    if (cfg->api_keys_file && (rc = api_keys_load(&s, cfg->api_keys_file, err)) != 0)
        goto done;
    if ((rc = stg_open(cfg->storage_url, &s.storage, err)) != 0)
        goto done;
    if ((rc = api_tmp_start(&s, err)) != 0)
        goto done;
    if (uv_loop_init(&loop) != 0) {
        rc = md_fail(err, MD_EINTERNAL, "cannot create the event loop");
        goto done;
    }
    loop_open = 1;
    s.loop = &loop;
    uv_signal_init(&loop, &s.sig_term);
    uv_signal_init(&loop, &s.sig_int);
    s.sig_term.data = s.sig_int.data = &s;
    s.stop_grace_ms = grace_ms_from_env();
    uv_timer_init(&loop, &s.grace_timer);
    s.grace_timer.data = &s;
    uv_signal_start(&s.sig_term, on_signal, SIGTERM);
    uv_signal_start(&s.sig_int, on_signal, SIGINT);
    api_events_start(&s);
    api_redis_start(&s, err);
    if ((rc = api_live_start(&s, err)) != 0 || (rc = api_http_start(&s, cfg->listen, err)) != 0) {
        s.stopping = 1;
        uv_close((uv_handle_t *)&s.sig_term, NULL);
        uv_close((uv_handle_t *)&s.sig_int, NULL);
        uv_close((uv_handle_t *)&s.grace_timer, NULL);
        api_events_close(&s);
        api_live_close(&s);
        api_redis_stop(&s);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (s.abandoned) {
        /* Pool threads may still use the storage handle and the requests' ops: leave the loop,
         * the storage and the requests to the process exit; only the temp folder goes. */
        rc = md_fail(err, MD_EINTERNAL,
                     "stopped with %u request(s) unfinished after the %u ms grace period",
                     s.inflight, s.stop_grace_ms);
        api_tmp_stop(&s);
        return rc;
    }
    int close_rc = uv_loop_close(&loop);
    loop_open = 0;
    if (close_rc != 0 && rc == 0)
        rc = md_fail(err, MD_EINTERNAL, "event loop closed with handles still open: %s",
                     uv_strerror(close_rc));
done:
    if (loop_open) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    api_tmp_stop(&s);
    stg_free(s.storage);
    api_keys_free(&s);
    return rc;
}
