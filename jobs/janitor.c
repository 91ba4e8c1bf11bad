/*
 * janitor.c — one janitor pass (janitor.h): delete jobs/{id}/ for the due ids of
 * {prefix}expiring whose job hash Redis has dropped.
 *
 * Called by the worker's loop thread between batches, on its blocking hiredis connection
 * (borrowed for the call; no other thread uses it then). Nothing is kept between passes.
 *
 * Order per id: look at the hash (PTTL), delete the objects, and only then ZREM the id, so a
 * crash or a storage error in between leaves the id for a later pass (deleting a prefix twice is
 * harmless). The lock is a lease (SET NX PX): a janitor that dies holding it blocks the others
 * for at most lock_ms, and a pass stops taking ids after half the lease so it never runs
 * unlocked. The lock is released with a compare-and-delete, so a pass that overran its lease
 * never deletes another janitor's lock.
 */
#define _GNU_SOURCE
#include "jobs/janitor.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "jobs/queue.h"
#include "jobs/record.h"

void jan_config_default(jan_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_ids = JAN_MAX_IDS_DEFAULT;
    cfg->lock_ms = JAN_LOCK_MS_DEFAULT;
    cfg->retry_s = JAN_RETRY_S_DEFAULT;
}

/* KEYS: lock. ARGV: holder. */
static const char unlock_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                 "  return redis.call('DEL', KEYS[1])\n"
                                 "end\n"
                                 "return 0\n";

typedef struct pass {
    redisContext *redis;
    stg *store;
    const jan_config *cfg;
    char k_expiring[JQ_KEY_MAX];
    char k_lock[JQ_KEY_MAX];
    double now;
    jan_stats *st;
    md_error *err;
} pass;

/* A command whose reply is checked: NULL (with err filled) when Redis did not answer or
 * answered with an error. */
static redisReply *command(pass *p, const char *what, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(p->redis, argc, argv, NULL);
    if (r == NULL) {
        md_fail(p->err, MD_EUNAVAIL, "janitor: redis %s: %s", what,
                p->redis->errstr[0] ? p->redis->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        md_fail(p->err, MD_EUNAVAIL, "janitor: redis %s: %s", what, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int zrem(pass *p, const char *id)
{
    const char *argv[] = {"ZREM", p->k_expiring, id};
    redisReply *r = command(p, "ZREM", 3, argv);
    freeReplyObject(r);
    return r == NULL ? MD_EUNAVAIL : 0;
}

/* ZADD XX: moves the id without bringing back one that another pass removed meanwhile. */
static int reschedule(pass *p, const char *id, double at)
{
    char score[32];
    snprintf(score, sizeof score, "%.3f", at);
    const char *argv[] = {"ZADD", p->k_expiring, "XX", score, id};
    redisReply *r = command(p, "ZADD", 5, argv);
    freeReplyObject(r);
    return r == NULL ? MD_EUNAVAIL : 0;
}

/* Handles one due id. Returns 0 or MD_EUNAVAIL; *storage_failed is set on a storage error. */
static int handle_id(pass *p, const char *id, int *storage_failed)
{
    *storage_failed = 0;
    if (!jq_id_valid(id)) {
        md_log(MD_LOG_WARN, "janitor: '%.64s' in %s is not a job id; removed", id, p->k_expiring);
        p->st->dropped++;
        return zrem(p, id);
    }
    char key[JQ_KEY_MAX];
    if (jr_job_key(key, sizeof key, p->cfg->prefix, id) != 0)
        return md_fail(p->err, MD_EINVAL, "janitor: key of job %s is too long", id);
    const char *argv[] = {"PTTL", key};
    redisReply *r = command(p, "PTTL", 2, argv);
    if (r == NULL)
        return MD_EUNAVAIL;
    long long ttl_ms = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (ttl_ms >= 0) {
        /* The record lives on (its expiry was moved): come back when it is due. */
        p->st->rescheduled++;
        return reschedule(p, id, p->now + (double)ttl_ms / 1000.0);
    }
    if (ttl_ms == -1) {
        /* The record no longer expires: nothing to clean up unless someone sets an EXPIRE
         * again, and that script adds the id again. */
        md_log(MD_LOG_DEBUG, "janitor: job %s no longer expires; dropped from %s", id,
               p->k_expiring);
        p->st->dropped++;
        return zrem(p, id);
    }
    /* -2: the hash is gone. */
    char prefix[16 + JQ_ID_LEN];
    if (jr_key_job_prefix(prefix, sizeof prefix, id) != 0)
        return md_fail(p->err, MD_EINVAL, "janitor: storage prefix of job %s is too long", id);
    md_error serr;
    md_error_clear(&serr);
    if (stg_delete_prefix(p->store, prefix, &serr) != 0) {
        md_log(MD_LOG_WARN, "janitor: job %s: cannot delete %s: %s; retrying in %d s", id, prefix,
               serr.msg, p->cfg->retry_s);
        p->st->failed++;
        *storage_failed = 1;
        return reschedule(p, id, p->now + p->cfg->retry_s);
    }
    md_log(MD_LOG_DEBUG, "janitor: job %s expired; deleted %s", id, prefix);
    p->st->removed++;
    return zrem(p, id);
}

int jan_pass(redisContext *redis, stg *store, const jan_config *cfg, double now, jan_stats *stats,
             md_error *err)
{
    jan_stats local;
    pass p = {.redis = redis,
              .store = store,
              .cfg = cfg,
              .now = now,
              .st = stats ? stats : &local,
              .err = err};
    memset(p.st, 0, sizeof *p.st);
    if (redis == NULL || store == NULL || cfg == NULL || cfg->prefix == NULL ||
        cfg->holder == NULL || cfg->holder[0] == '\0' || strlen(cfg->holder) > 200 ||
        cfg->max_ids < 1 || cfg->lock_ms < 100 || cfg->retry_s < 1)
        return md_fail(err, MD_EINVAL, "janitor: bad configuration");
    if (jq_key(p.k_expiring, sizeof p.k_expiring, cfg->prefix, JQ_EXPIRING) != 0 ||
        jq_key(p.k_lock, sizeof p.k_lock, cfg->prefix, JQ_JANITOR_LOCK) != 0)
        return md_fail(err, MD_EINVAL, "janitor: the key prefix is too long");
    double started = md_now();

    char lease[32];
    snprintf(lease, sizeof lease, "%d", cfg->lock_ms);
    const char *lock_argv[] = {"SET", p.k_lock, cfg->holder, "NX", "PX", lease};
    redisReply *r = command(&p, "SET lock", 6, lock_argv);
    if (r == NULL)
        return MD_EUNAVAIL;
    p.st->locked = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!p.st->locked)
        return 0; /* another janitor is at it; this one's turn comes at the next interval */

    int rc = 0;
    char max_score[32], count[16];
    snprintf(max_score, sizeof max_score, "%.3f", now);
    snprintf(count, sizeof count, "%u", cfg->max_ids);
    const char *due_argv[] = {"ZRANGEBYSCORE", p.k_expiring, "-inf", max_score,
                              "LIMIT",         "0",          count};
    redisReply *due = command(&p, "ZRANGEBYSCORE", 7, due_argv);
    if (due == NULL) {
        rc = MD_EUNAVAIL;
        goto unlock;
    }
    if (due->type == REDIS_REPLY_ARRAY && due->elements >= cfg->max_ids)
        p.st->more = 1;
    int failures_in_a_row = 0;
    for (size_t i = 0; due->type == REDIS_REPLY_ARRAY && i < due->elements; i++) {
        const redisReply *e = due->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        if ((md_now() - started) * 1000.0 > cfg->lock_ms / 2.0) {
            p.st->more = 1; /* the lease runs short: the rest waits for the next pass */
            break;
        }
        int storage_failed = 0;
        rc = handle_id(&p, e->str, &storage_failed);
        if (rc != 0)
            break;
        failures_in_a_row = storage_failed ? failures_in_a_row + 1 : 0;
        if (failures_in_a_row >= JAN_MAX_FAILURES) {
            md_log(MD_LOG_WARN, "janitor: %d storage errors in a row; ending this pass",
                   failures_in_a_row);
            p.st->more = 0; /* storage looks down: no hurry to come back */
            break;
        }
    }
    freeReplyObject(due);

unlock:
    if (redis->err == 0) {
        const char *unlock_argv[] = {"EVAL", unlock_lua, "1", p.k_lock, cfg->holder};
        md_error unlock_err;
        r = command(&(pass){.redis = redis, .err = &unlock_err}, "unlock", 5, unlock_argv);
        if (r == NULL && rc == 0)
            rc = md_fail(err, MD_EUNAVAIL, "%s", unlock_err.msg);
        freeReplyObject(r);
    }
    const jan_stats *s = p.st;
    if (s->removed + s->failed > 0)
        md_log(MD_LOG_INFO,
               "janitor: deleted the objects of %u expired job(s); %u could not be deleted, "
               "%u rescheduled, %u dropped",
               s->removed, s->failed, s->rescheduled, s->dropped);
    return rc;
}
