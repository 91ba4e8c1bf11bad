/*
 * worker_heartbeat.c — the worker's heartbeat thread, with its own Redis connection.
 *
 * Every heartbeat_ms it: writes the worker record ({p}worker:{name}, TTL 3 heartbeats) and its
 * score in {p}workers; re-claims the entries of the batch in hand with XCLAIM ... 0 JUSTID, which
 * resets their idle time without counting a delivery, so a batch longer than the lease is never
 * reclaimed by another worker while this one is alive; and copies each held job's
 * cancel_requested into the job's cancel flag, which the frame callbacks check. When the
 * worker was given a health file, a beat whose worker record reached Redis sets the file's
 * modification time: a container health check (deploy/docker/healthcheck.sh) reads its age, so
 * "healthy" means "this worker's heartbeat reaches Redis", with no port to open on a worker.
 *
 * It reads the held jobs under w->held_lock only; the loop frees a job only after removing it
 * from the held list under that lock. On stop it removes the worker record and its score.
 */
#define _GNU_SOURCE
#include "jobs/worker_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct wk_heartbeat {
    wk *w;
    wk_conn conn;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
    int health_fd; /* the health file, open for futimens; -1: none */
};

/* The held entries and job keys, copied under held_lock so no Redis call runs under it. */
typedef struct held_copy {
    uint32_t count;
    char (*entries)[WK_ENTRY_MAX];
    char (*keys)[JQ_KEY_MAX];
    char (*ids)[JQ_ID_LEN + 1];
} held_copy;

static int copy_held(wk *w, held_copy *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_lock(&w->held_lock);
    uint32_t n = w->job_count;
    if (n > 0) {
        h->entries = md_calloc(n, sizeof *h->entries);
        h->keys = md_calloc(n, sizeof *h->keys);
        h->ids = md_calloc(n, sizeof *h->ids);
        if (h->entries != NULL && h->keys != NULL && h->ids != NULL) {
            for (uint32_t i = 0; i < n; i++) {
                memcpy(h->entries[i], w->jobs[i]->entry, WK_ENTRY_MAX);
                memcpy(h->keys[i], w->jobs[i]->key, JQ_KEY_MAX);
                memcpy(h->ids[i], w->jobs[i]->id, JQ_ID_LEN + 1);
            }
            h->count = n;
        }
    }
    pthread_mutex_unlock(&w->held_lock);
    return 0;
}

static void free_held(held_copy *h)
{
    md_free(h->entries);
    md_free(h->keys);
    md_free(h->ids);
}

static void set_cancel(wk *w, const char *id)
{
    pthread_mutex_lock(&w->held_lock);
    for (uint32_t i = 0; i < w->job_count; i++) {
        if (strcmp(w->jobs[i]->id, id) == 0 && !atomic_load(&w->jobs[i]->cancel)) {
            atomic_store(&w->jobs[i]->cancel, 1);
            wk_job_log(w->jobs[i], MD_LOG_INFO, "cancel requested");
        }
    }
    pthread_mutex_unlock(&w->held_lock);
}

static void beat(struct wk_heartbeat *hb)
{
    wk *w = hb->w;
    (void)wk_draining_s(w); /* starts the drain's clock within a beat of a stop */
    if (wk_conn_ensure(&hb->conn) != 0)
        return;
    char now[32], started[32], pid[32], batches[32], frames[32], ttl[32];
    snprintf(now, sizeof now, "%.3f", jq_wall_now());
    snprintf(started, sizeof started, "%.3f", w->started_at);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    snprintf(batches, sizeof batches, "%llu", (unsigned long long)atomic_load(&w->batches));
    snprintf(frames, sizeof frames, "%llu", (unsigned long long)atomic_load(&w->frames));
    snprintf(ttl, sizeof ttl, "%d", 3 * w->cfg->heartbeat_ms);
    /* Device figures: 0 bytes is right on the CPU engine; an unknown utilisation stays empty. */
    eng_device_stats ds;
    eng_device_stats_get(w->engine, &ds);
    char used[32], total[32], util[16] = "";
    snprintf(used, sizeof used, "%llu", (unsigned long long)ds.memory_used_bytes);
    snprintf(total, sizeof total, "%llu", (unsigned long long)ds.memory_total_bytes);
    if (ds.utilization_pct >= 0)
        snprintf(util, sizeof util, "%d", ds.utilization_pct);
    char tex_bytes[32] = ""; /* empty without a texture cache: /metrics leaves it out */
    if (ds.texture_cache_cap > 0)
        snprintf(tex_bytes, sizeof tex_bytes, "%llu", (unsigned long long)ds.texture_cache_bytes);
    fc_stats fs;
    fc_get_stats(w->faces, &fs);
    char face_bytes[32], face_entries[32];
    snprintf(face_bytes, sizeof face_bytes, "%llu", (unsigned long long)fs.bytes);
    snprintf(face_entries, sizeof face_entries, "%llu", (unsigned long long)fs.entries);
    redisReply *r =
        wk_cmd(&hb->conn,
               "HSET %s name %s pid %s " JQ_WORKER_ENGINE " %s started_at %s "
               "last_seen %s batches %s frames %s " JQ_WORKER_GPU_USED " %s " JQ_WORKER_GPU_TOTAL
               " %s " JQ_WORKER_GPU_UTIL " %s " JQ_WORKER_FACE_BYTES " %s " JQ_WORKER_FACE_ENTRIES
               " %s " JQ_WORKER_GPU_TEX_BYTES " %s",
               w->k_worker, w->name, pid, eng_name(w->engine), started, now, batches, frames, used,
               total, util, face_bytes, face_entries, tex_bytes);
    if (r != NULL && r->type == REDIS_REPLY_INTEGER && hb->health_fd >= 0)
        (void)futimens(hb->health_fd, NULL); /* a failure shows as an old file: unhealthy */
    freeReplyObject(r);
    freeReplyObject(wk_cmd(&hb->conn, "PEXPIRE %s %s", w->k_worker, ttl));
    freeReplyObject(wk_cmd(&hb->conn, "ZADD %s %s %s", w->k_workers, now, w->name));

    held_copy h;
    copy_held(w, &h);
    if (h.count > 0) {
        /* XCLAIM stream group name 0 id... JUSTID */
        uint32_t argc = 5 + h.count + 1;
        const char **argv = md_calloc(argc, sizeof *argv);
        if (argv != NULL) {
            argv[0] = "XCLAIM";
            argv[1] = w->k_stream;
            argv[2] = JQ_GROUP;
            argv[3] = w->name;
            argv[4] = "0";
            for (uint32_t i = 0; i < h.count; i++)
                argv[5 + i] = h.entries[i];
            argv[argc - 1] = "JUSTID";
            freeReplyObject(wk_cmd_argv(&hb->conn, (int)argc, argv, NULL));
            md_free(argv);
        }
        for (uint32_t i = 0; i < h.count; i++) {
            redisReply *c =
                wk_cmd(&hb->conn, "HGET %s %s", h.keys[i], jr_field_name(JR_F_CANCEL_REQUESTED));
            if (c != NULL && c->type == REDIS_REPLY_STRING && strcmp(c->str, "1") == 0)
                set_cancel(w, h.ids[i]);
            freeReplyObject(c);
        }
    }
    free_held(&h);
}

static void *heartbeat_main(void *arg)
{
    struct wk_heartbeat *hb = arg;
    pthread_mutex_lock(&hb->lock);
    while (!hb->stop) {
        pthread_mutex_unlock(&hb->lock);
        beat(hb);
        pthread_mutex_lock(&hb->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = until.tv_nsec + (long)(hb->w->cfg->heartbeat_ms % 1000) * 1000000L;
        until.tv_sec += hb->w->cfg->heartbeat_ms / 1000 + ns / 1000000000L;
        until.tv_nsec = ns % 1000000000L;
        while (!hb->stop) {
            int rc = pthread_cond_timedwait(&hb->wake, &hb->lock, &until);
            if (rc == ETIMEDOUT)
                break;
        }
    }
    pthread_mutex_unlock(&hb->lock);
    /* A clean stop takes the worker out of the live set at once. */
    wk *w = hb->w;
    freeReplyObject(wk_cmd(&hb->conn, "ZREM %s %s", w->k_workers, w->name));
    freeReplyObject(wk_cmd(&hb->conn, "DEL %s", w->k_worker));
    wk_conn_close(&hb->conn);
    return NULL;
}

int wk_heartbeat_start(wk *w, wk_heartbeat **out, md_error *err)
{
    *out = NULL;
    wk_heartbeat *hb = md_calloc(1, sizeof *hb);
    if (hb == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    hb->w = w;
    hb->health_fd = -1;
    if (w->cfg->health_file != NULL) {
        hb->health_fd = open(w->cfg->health_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (hb->health_fd < 0) {
            int e = errno;
            md_free(hb);
            return md_fail(err, MD_EIO, "--health-file %s: cannot create it: %s",
                           w->cfg->health_file, strerror(e));
        }
        /* Created now, dated 1970 until the first beat reaches Redis: unhealthy until then. */
        const struct timespec epoch[2] = {{0, 0}, {0, 0}};
        (void)futimens(hb->health_fd, epoch);
    }
    wk_conn_init(&hb->conn, &w->conn.addr, "heartbeat");
    pthread_mutex_init(&hb->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_cond_init(&hb->wake, &attr);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&hb->thread, NULL, heartbeat_main, hb);
    if (rc != 0) {
        pthread_cond_destroy(&hb->wake);
        pthread_mutex_destroy(&hb->lock);
        if (hb->health_fd >= 0) {
            close(hb->health_fd);
            unlink(w->cfg->health_file);
        }
        md_free(hb);
        return md_fail(err, MD_EINTERNAL, "cannot start the heartbeat thread: %s", strerror(rc));
    }
    *out = hb;
    return 0;
}

void wk_heartbeat_stop(wk_heartbeat *hb)
{
    if (hb == NULL)
        return;
    pthread_mutex_lock(&hb->lock);
    hb->stop = 1;
    pthread_cond_signal(&hb->wake);
    pthread_mutex_unlock(&hb->lock);
    pthread_join(hb->thread, NULL);
    if (hb->health_fd >= 0) {
        close(hb->health_fd);
        unlink(hb->w->cfg->health_file); /* a stopped worker is not healthy */
    }
    pthread_cond_destroy(&hb->wake);
    pthread_mutex_destroy(&hb->lock);
    md_free(hb);
}
