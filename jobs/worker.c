/*
 * worker.c — the loop of `morphd worker` (worker.h): configuration, start-up, collecting a
 * batch, and the per-job bookkeeping (wk_job) the other worker files share.
 *
 * Runs on the caller's thread. Each round: make sure Redis is reachable and the consumer group
 * exists; take entries whose holder stopped (XAUTOCLAIM, idle > lease) or else wait up to 1 s
 * for new ones (XREADGROUP BLOCK 1000, so a stop request is seen within a second); after the
 * first job, keep reading for the rest of batch_window_ms until batch_max_jobs or
 * batch_max_frames is reached; then run the batch (worker_batch.c); then, every
 * janitor_interval_s, a janitor pass (janitor.h) on the same connection, between batches. The
 * stop flag ends reading, never a batch in hand. After each batch the heap it freed goes back to
 * the system (malloc_trim).
 */
#define _GNU_SOURCE
#include "jobs/worker_int.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Configuration ---- */

void jq_worker_config_default(jq_worker_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->prefix = JQ_PREFIX_DEFAULT;
    cfg->engine = ENG_KIND_AUTO;
    cfg->batch_window_ms = 5;
    cfg->batch_max_frames = 2048;
    cfg->batch_max_jobs = 32;
    cfg->face_cache_bytes = (uint64_t)JQ_FACE_CACHE_MB_DEFAULT << 20;
    cfg->gpu_texture_cache_bytes = (uint64_t)JQ_GPU_TEXTURE_CACHE_MB_DEFAULT << 20;
    cfg->lease_ms = 30000;
    cfg->max_attempts = 3;
    cfg->retention_s = 604800;
    cfg->heartbeat_ms = 0; /* auto */
    cfg->drain_s = 20;
    cfg->janitor_interval_s = 60;
    cfg->live_pairs = 4;
    md_limits_default(&cfg->limits);
}

int jq_worker_config_check(const jq_worker_config *cfg, md_error *err)
{
    jq_redis_addr addr;
    if (jq_redis_addr_parse(cfg->redis_url, &addr, err) != 0)
        return md_error_prefix(err, "--redis: ");
    if (cfg->storage_url == NULL || cfg->storage_url[0] == '\0')
        return md_fail(err, MD_EINVAL, "--storage is required (file:///abs/dir)");
    if (jq_prefix_check(cfg->prefix, err) != 0)
        return md_error_prefix(err, "--prefix: ");
    if (cfg->name == NULL || cfg->name[0] == '\0' || strlen(cfg->name) > 200 ||
        strpbrk(cfg->name, " \t\r\n") != NULL)
        return md_fail(err, MD_EINVAL, "--name must be 1..200 bytes without spaces");
    if (cfg->batch_window_ms < 0 || cfg->batch_window_ms > 10000)
        return md_fail(err, MD_EINVAL, "--batch-window-ms must be 0..10000");
    if (cfg->batch_max_frames < 1)
        return md_fail(err, MD_EINVAL, "--batch-max-frames must be at least 1");
    if (cfg->batch_max_jobs < 1 || cfg->batch_max_jobs > 4096)
        return md_fail(err, MD_EINVAL, "--batch-max-jobs must be 1..4096");
    if (cfg->lease_ms < 100)
        return md_fail(err, MD_EINVAL, "--lease-ms must be at least 100");
    if (cfg->heartbeat_ms != 0 && (cfg->heartbeat_ms < 10 || cfg->heartbeat_ms * 2 > cfg->lease_ms))
        return md_fail(err, MD_EINVAL,
                       "the heartbeat (%d ms) must be at most half the lease (--lease-ms %d), so "
                       "entries held during a batch are refreshed before others may reclaim them",
                       cfg->heartbeat_ms, cfg->lease_ms);
    if (cfg->max_attempts < 1)
        return md_fail(err, MD_EINVAL, "--max-attempts must be at least 1");
    if (!(cfg->drain_s >= 0 && cfg->drain_s <= 3600))
        return md_fail(err, MD_EINVAL, "--drain-s must be 0..3600 seconds");
    if (cfg->retention_s < 1)
        return md_fail(err, MD_EINVAL, "--retention-s must be at least 1");
    if (cfg->janitor_interval_s < 0 || cfg->janitor_interval_s > 86400)
        return md_fail(err, MD_EINVAL, "--janitor-interval-s must be 0..86400");
    if (cfg->live_pairs < 0 || cfg->live_pairs > 64)
        return md_fail(err, MD_EINVAL, "--live-pairs must be 0..64");
    if (cfg->threads < 0 || cfg->threads > 1024)
        return md_fail(err, MD_EINVAL, "--threads must be 0..1024");
    if (cfg->gpu_texture_cache_bytes > (uint64_t)JQ_GPU_TEXTURE_CACHE_MB_MAX << 20)
        return md_fail(err, MD_EINVAL, "--gpu-texture-cache-mb must be 0..%d",
                       JQ_GPU_TEXTURE_CACHE_MB_MAX);
    return 0;
}

/* ---- Jobs ---- */

wk_job *wk_job_new(void)
{
    wk_job *j = md_calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    job_spec_init(&j->spec);
    j->result = WK_RUN;
    atomic_init(&j->cancel, 0);
    atomic_init(&j->frames_done, 0);
    pthread_mutex_init(&j->log_lock, NULL);
    md_buf_init(&j->log, WK_LOG_MAX);
    return j;
}

void wk_job_free(wk_job *j)
{
    if (j == NULL)
        return;
    job_spec_free(&j->spec);
    job_inputs_free(j->inputs); /* before the faces it borrows */
    for (int side = 0; side < 2; side++) {
        fc_release(j->w != NULL ? j->w->faces : NULL, j->face_entries[side]);
        job_face_free(j->own_faces[side]);
    }
    md_free(j->spec_text);
    md_free(j->inputs_text);
    md_buf_free(&j->log);
    pthread_mutex_destroy(&j->log_lock);
    md_free(j);
}

/* The cap keeps a chatty job from growing without bound: past it, lines are dropped. */
static void log_append(wk_job *j, const char *line, size_t len)
{
    (void)md_buf_append(&j->log, line, len);
}

static void job_vlog(wk_job *j, md_log_level level, const char *fmt, va_list ap)
{
    static const char *names[] = {"debug", "info ", "warn ", "error"};
    char msg[1024], stamp[32], line[1200];
    vsnprintf(msg, sizeof msg, fmt, ap);
    jq_time_format(jq_wall_now(), stamp);
    int n = snprintf(line, sizeof line, "%s %s %s\n", stamp, names[level], msg);
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    pthread_mutex_lock(&j->log_lock);
    log_append(j, line, (size_t)n);
    pthread_mutex_unlock(&j->log_lock);
    md_log(level, "job %s: %s", j->id, msg);
}

void wk_job_log(wk_job *j, md_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    job_vlog(j, level, fmt, ap);
    va_end(ap);
}

void wk_job_fail(wk_job *j, const char *fmt, ...)
{
    char msg[MD_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&j->log_lock);
    int first = j->result != WK_FAILED;
    if (first) {
        j->result = WK_FAILED;
        snprintf(j->error, sizeof j->error, "%s", msg);
    }
    pthread_mutex_unlock(&j->log_lock);
    wk_job_log(j, MD_LOG_ERROR, "%s", msg);
}

/* ---- Collecting a batch ---- */

uint32_t wk_batch_frames(const wk *w)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < w->job_count; i++) {
        const job_spec *s = &w->jobs[i]->spec;
        sum += s->kind == JOB_KIND_RENDER ? job_spec_view_count(s) : job_spec_frame_total(s);
    }
    return sum;
}

static int batch_full(const wk *w)
{
    return w->job_count >= w->cfg->batch_max_jobs || wk_batch_frames(w) >= w->cfg->batch_max_frames;
}

static void sleep_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Claims the next batch into w->jobs; returns with none when there was nothing to do. */
static void collect(wk *w, atomic_int *stop)
{
    const jq_worker_config *cfg = w->cfg;
    if (wk_claim_reclaimed(w, cfg->batch_max_jobs) < 0 || !w->group_ready)
        return;
    if (w->job_count == 0) {
        if (*stop)
            return;
        if (wk_claim_new(w, cfg->batch_max_jobs, 1000) < 0 || w->job_count == 0)
            return;
    }
    /* The first job is here: wait the rest of the window for more, within the budgets. */
    double window_end = md_now() + cfg->batch_window_ms / 1000.0;
    while (!*stop && !batch_full(w)) {
        int left_ms = (int)((window_end - md_now()) * 1000.0);
        if (left_ms < 1)
            break; /* BLOCK 0 would wait forever */
        int seen = wk_claim_new(w, cfg->batch_max_jobs - w->job_count, left_ms);
        if (seen <= 0)
            break;
    }
}

double wk_draining_s(wk *w)
{
    if (!*w->stop)
        return -1;
    long long now_us = (long long)(md_now() * 1e6);
    long long zero = 0;
    /* The first thread to see the flag starts the drain's clock. */
    atomic_compare_exchange_strong(&w->stop_seen_us, &zero, now_us);
    long long seen = atomic_load(&w->stop_seen_us);
    return (double)(now_us - seen) * 1e-6;
}

/* ---- The janitor ---- */

/* One janitor pass on the loop's connection; returns when the next one is due (md_now()). A
 * pass that stopped at its bound comes back after a second, so a backlog drains steadily
 * without holding up the jobs for long. */
static double run_janitor(wk *w)
{
    double interval = w->cfg->janitor_interval_s;
    if (wk_conn_ensure(&w->conn) != 0)
        return md_now() + 1.0;
    jan_config jc;
    jan_config_default(&jc);
    jc.prefix = w->cfg->prefix;
    jc.holder = w->name;
    jan_stats st;
    md_error err;
    md_error_clear(&err);
    int rc = jan_pass(w->conn.ctx, w->store, &jc, jq_wall_now(), &st, &err);
    if (rc != 0) {
        md_log(MD_LOG_WARN, "%s", err.msg);
        if (w->conn.ctx != NULL && w->conn.ctx->err != 0)
            wk_conn_drop(&w->conn, w->conn.ctx->errstr);
        return md_now() + interval;
    }
    return md_now() + (st.more ? 1.0 : interval);
}

/* ---- The loop ---- */

static int setup(wk *w, const jq_worker_config *cfg, md_error *err)
{
    w->cfg = cfg;
    snprintf(w->name, sizeof w->name, "%s", cfg->name);
    int rc = jq_key(w->k_stream, sizeof w->k_stream, cfg->prefix, "jobs");
    if (rc == 0)
        rc = jq_key(w->k_dead, sizeof w->k_dead, cfg->prefix, "dead");
    if (rc == 0)
        rc = jq_key(w->k_metrics, sizeof w->k_metrics, cfg->prefix, "metrics");
    if (rc == 0)
        rc = jq_key(w->k_workers, sizeof w->k_workers, cfg->prefix, "workers");
    if (rc == 0)
        rc = jq_key_id(w->k_worker, sizeof w->k_worker, cfg->prefix, "worker", cfg->name);
    if (rc != 0)
        return md_fail(err, MD_EINVAL, "redis key names are too long");
    snprintf(w->autoclaim_cursor, sizeof w->autoclaim_cursor, "0-0");
    w->started_at = jq_wall_now();
    const char *fault = getenv("MORPHD_FAULT_CRASH_LABEL");
    w->fault_label = fault != NULL && fault[0] != '\0' ? fault : NULL;
    if (w->fault_label != NULL)
        md_log(MD_LOG_WARN, "fault injection on: jobs labelled '%s' crash this worker",
               w->fault_label);
    jq_redis_addr addr;
    rc = jq_redis_addr_parse(cfg->redis_url, &addr, err);
    if (rc != 0)
        return rc;
    wk_conn_init(&w->conn, &addr, "worker");
    wk_conn_init(&w->fault_conn, &addr, "fault reporting");
    rc = stg_open(cfg->storage_url, &w->store, err);
    if (rc != 0)
        return md_error_prefix(err, "--storage: ");
    eng_config ec = {.kind = cfg->engine,
                     .threads = cfg->threads,
                     .device_texture_cache_bytes = cfg->gpu_texture_cache_bytes};
    rc = eng_new(&ec, &w->engine, err);
    if (rc != 0)
        return md_error_prefix(err, "engine: ");
    return 0;
}

int jq_worker_run(const jq_worker_config *given, atomic_int *stop, md_error *err)
{
    int rc = jq_worker_config_check(given, err);
    if (rc != 0)
        return rc;
    /* The heartbeat must beat several times per lease, or held entries could be reclaimed. */
    jq_worker_config effective = *given;
    if (effective.heartbeat_ms == 0)
        effective.heartbeat_ms = given->lease_ms / 3 < 1000 ? given->lease_ms / 3 : 1000;
    const jq_worker_config *cfg = &effective;
    wk w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.conn_lock, NULL);
    pthread_mutex_init(&w.held_lock, NULL);
    atomic_init(&w.batches, 0);
    atomic_init(&w.frames, 0);
    atomic_init(&w.stop_seen_us, 0);
    w.stop = stop;
    wk_heartbeat *hb = NULL;
    wk_live *live = NULL;
    rc = setup(&w, cfg, err);
    if (rc == 0 && (w.faces = fc_new(cfg->face_cache_bytes)) == NULL)
        rc = md_fail(err, MD_ENOMEM, "out of memory for the face cache");
    if (rc == 0)
        rc = wk_fault_install(err);
    if (rc == 0)
        rc = wk_heartbeat_start(&w, &hb, err);
    if (rc == 0)
        rc = wk_live_start(&w, &live, err);
    if (rc != 0)
        goto done;
    md_log(MD_LOG_INFO, "worker %s: engine %s, redis %s, storage %s, prefix %s", w.name,
           eng_name(w.engine), cfg->redis_url, cfg->storage_url, cfg->prefix);
    double janitor_due = md_now(); /* the first pass catches up on what expired while down */

    while (!*stop) {
        if (wk_conn_ensure(&w.conn) != 0) {
            double wait = wk_conn_wait_s(&w.conn);
            sleep_s(wait > 0.2 ? 0.2 : (wait > 0 ? wait : 0.05));
            continue;
        }
        if (!w.group_ready && wk_group_create(&w) != 0) {
            sleep_s(0.5);
            continue;
        }
        collect(&w, stop);
        if (w.job_count > 0) {
            wk_batch_run(&w);
            /* A batch's inputs (decoded textures of up to 256 MiB each), frames and analysis
             * buffers are freed by now, but glibc keeps freed heap in its arenas (one per
             * engine thread) unless asked: hand it back, so an idle worker holds what its
             * engine keeps warm, not the peak of its largest batch (issue 14). */
            malloc_trim(0);
        }
        if (cfg->janitor_interval_s > 0 && !*stop && md_now() >= janitor_due)
            janitor_due = run_janitor(&w);
    }
    md_log(MD_LOG_INFO, "worker %s: stopping", w.name);

done:
    wk_live_stop(live);
    wk_heartbeat_stop(hb);
    wk_fault_disarm(&w);
    wk_conn_close(&w.fault_conn);
    wk_conn_close(&w.conn);
    md_free(w.jobs);
    fc_free(w.faces); /* every batch has released its faces by now */
    eng_free(w.engine);
    stg_free(w.store);
    pthread_mutex_destroy(&w.conn_lock);
    pthread_mutex_destroy(&w.held_lock);
    return rc;
}
