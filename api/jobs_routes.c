/*
 * jobs_routes.c — the routes on existing jobs: GET /jobs/{id}, GET /jobs (the owner's index,
 * newest first, with a cursor), POST /jobs/{id}/cancel, DELETE /jobs/{id} and
 * GET /jobs/{id}/artifacts/{name}.
 *
 * Loop thread. Redis answers through callbacks that get the suspended request (or a small op
 * that borrows it); state changes are Lua scripts so they test and change atomically. Another
 * owner's job is "not found", never "forbidden". Artifact bytes are streamed from storage by
 * MHD's content-reader callback calling stg_reader_read on the loop thread: for the file
 * backend that is a pread of the page cache, the same cost as MHD's own file responses; an S3
 * backend would need a pool read-ahead here instead. With --artifact-redirect, a store that can
 * presign (s3://) is not read at all: after the same owner and artifact-list checks the client
 * gets a 307 to a presigned URL and fetches the bytes from the store itself. Presigning is a few
 * HMACs and sends nothing, so it runs on the loop thread.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- GET /jobs/{id} ---- */

/* 1 and a 404 reply when the hash is missing or another owner's. */
static int not_mine(api_req *req, const redisReply *r)
{
    const char *owner = api_reply_field(r, jr_field_name(JR_F_OWNER));
    if (owner != NULL && strcmp(owner, req->owner) == 0)
        return 0;
    api_reply_code(req, MD_ENOENT, "no job %s", req->id);
    return 1;
}

static void reply_job(api_req *req, unsigned status, const redisReply *r)
{
    json_t *job = api_job_json_reply(r);
    if (job == NULL) {
        api_reply_code(req, MD_ENOENT, "no job %s", req->id);
        return;
    }
    const char *st = json_string_value(json_object_get(job, "status"));
    api_reply_polled(req, status, job, jr_status_name_terminal(st));
}

static void on_job(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    if (r == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (not_mine(req, r))
        return;
    reply_job(req, 200, r);
}

static int job_key(api_req *req, char *out, size_t cap)
{
    return jr_job_key(out, cap, req->srv->prefix, req->id);
}

void api_job_get(api_req *req)
{
    char key[JQ_KEY_MAX];
    job_key(req, key, sizeof key);
    const char *argv[] = {"HGETALL", key};
    if (api_redis_cmd(req->srv, on_job, req, 2, argv, NULL) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- GET /jobs ---- */

#define LIST_FETCH_MAX 400

typedef struct list_op {
    api_req *req;
    char status[16];
    api_listing page;
    int fetch;      /* ids asked of the index */
    int range_full; /* the index may hold more */
    int n;
    int pending;
    int redis_down;
    char ids[LIST_FETCH_MAX][JQ_ID_LEN + 1];
    char scores[LIST_FETCH_MAX][24];
    json_t *jobs[LIST_FETCH_MAX];
    int missing[LIST_FETCH_MAX];
} list_op;

static void list_free(void *p)
{
    list_op *op = p;
    if (op == NULL)
        return;
    for (int i = 0; i < op->n; i++)
        json_decref(op->jobs[i]);
    md_free(op);
}

static void list_answer(list_op *op)
{
    api_req *req = op->req;
    api_server *s = req->srv;
    char owner_key[JQ_KEY_MAX];
    jq_key_id(owner_key, sizeof owner_key, s->prefix, "owner", req->owner);
    json_t *jobs = json_array();
    int last = -1;
    int taken = 0;
    for (int i = 0; i < op->n && taken < op->page.limit; i++) {
        last = i;
        if (op->missing[i]) {
            /* The hash expired (retention) or was deleted: drop it from the index. */
            const char *argv[] = {"ZREM", owner_key, op->ids[i]};
            api_redis_cmd(s, NULL, NULL, 3, argv, NULL);
            continue;
        }
        json_t *job = op->jobs[i];
        if (job == NULL)
            continue;
        const char *st = json_string_value(json_object_get(job, "status"));
        if (op->status[0] && (st == NULL || strcmp(st, op->status) != 0))
            continue;
        json_array_append(jobs, job);
        taken++;
    }
    json_t *cursor = json_null();
    if (last >= 0 && (last < op->n - 1 || op->range_full)) {
        char text[64];
        snprintf(text, sizeof text, "%s:%s", op->scores[last], op->ids[last]);
        json_decref(cursor);
        cursor = json_string(text);
    }
    api_reply_json(req, 200, json_pack("{s:o,s:o}", "jobs", jobs, "next_cursor", cursor));
}

typedef struct list_slot {
    list_op *op;
    int index;
} list_slot;

static void on_list_job(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    list_op *op = ((list_slot *)priv)->op;
    int i = ((list_slot *)priv)->index;
    md_free(priv);
    redisReply *reply = r;
    if (reply == NULL)
        op->redis_down = 1;
    if (reply != NULL) {
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 0)
            op->missing[i] = 1;
        else if (api_reply_field(reply, jr_field_name(JR_F_OWNER)) &&
                 strcmp(api_reply_field(reply, jr_field_name(JR_F_OWNER)), op->req->owner) == 0)
            op->jobs[i] = api_job_json_reply(reply);
    }
    if (--op->pending == 0) {
        if (op->redis_down)
            api_reply_redis_down(op->req);
        else
            list_answer(op);
    }
}

static void on_list_ids(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    list_op *op = priv;
    api_req *req = op->req;
    redisReply *reply = r;
    if (reply == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        api_reply_code(req, MD_EINTERNAL, "listing jobs failed: %s",
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
        return;
    }
    op->range_full = (int)(reply->elements / 2) >= op->fetch;
    for (size_t i = 0; i + 1 < reply->elements && op->n < LIST_FETCH_MAX; i += 2) {
        const redisReply *id = reply->element[i], *score = reply->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || score->type != REDIS_REPLY_STRING ||
            !jq_id_valid(id->str) || score->len >= sizeof op->scores[0])
            continue;
        if (api_listing_given(&op->page, score->str, id->str))
            continue;
        snprintf(op->ids[op->n], sizeof op->ids[0], "%s", id->str);
        snprintf(op->scores[op->n], sizeof op->scores[0], "%s", score->str);
        op->n++;
    }
    if (op->n == 0) {
        list_answer(op);
        return;
    }
    op->pending = op->n;
    for (int i = 0; i < op->n; i++) {
        char key[JQ_KEY_MAX];
        jq_key_id(key, sizeof key, req->srv->prefix, "job", op->ids[i]);
        const char *argv[] = {"HGETALL", key};
        list_slot *slot = md_malloc(sizeof *slot);
        if (slot == NULL || api_redis_cmd(req->srv, on_list_job, slot, 2, argv, NULL) != 0) {
            md_free(slot);
            op->pending -= op->n - i;
            if (op->pending == 0)
                api_reply_redis_down(req);
            return;
        }
        slot->op = op;
        slot->index = i;
    }
}

void api_job_list(api_req *req)
{
    const char *status = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "status");
    if (status != NULL && jr_status_parse(status) < 0) {
        api_reply_code(req, MD_EINVAL, "status must be %s", jr_status_list());
        return;
    }
    api_listing page;
    if (api_listing_read(req, 100, jq_id_valid, &page) != 0)
        return;
    list_op *op = api_req_op_new(req, sizeof *op, list_free);
    if (op == NULL)
        return;
    op->req = req;
    op->page = page;
    int n = page.limit;
    if (status)
        snprintf(op->status, sizeof op->status, "%s", status);
    /* Extra ids cover entries sharing the cursor's millisecond; a status filter reads ahead. */
    op->fetch = status ? n * 4 + 32 : n + 32;
    if (op->fetch > LIST_FETCH_MAX)
        op->fetch = LIST_FETCH_MAX;
    char owner_key[JQ_KEY_MAX], count[16];
    jq_key_id(owner_key, sizeof owner_key, req->srv->prefix, "owner", req->owner);
    snprintf(count, sizeof count, "%d", op->fetch);
    const char *argv[] = {"ZREVRANGEBYSCORE",
                          owner_key,
                          op->page.max_score,
                          "-inf",
                          "WITHSCORES",
                          "LIMIT",
                          "0",
                          count};
    if (api_redis_cmd(req->srv, on_list_ids, op, 8, argv, NULL) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- POST /jobs/{id}/cancel ---- */

typedef struct cancel_op {
    char result[16];
} cancel_op;

static void on_cancel(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    cancel_op *op = req->op;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_STRING)
        snprintf(op->result, sizeof op->result, "%s", reply->str);
    else if (reply && reply->type == REDIS_REPLY_ERROR)
        md_log(MD_LOG_WARN, "cancel %s: %s", req->id, reply->str);
}

static void on_cancel_job(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    cancel_op *op = req->op;
    if (r == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (op->result[0] == '\0') {
        api_reply_code(req, MD_EINTERNAL, "canceling the job failed in Redis");
        return;
    }
    if (strcmp(op->result, "missing") == 0) {
        api_reply_code(req, MD_ENOENT, "no job %s", req->id);
        return;
    }
    if (not_mine(req, r))
        return;
    if (jr_status_parse(op->result) == JR_CANCELED)
        reply_job(req, 200, r);
    else if (jr_status_parse(op->result) == JR_RUNNING)
        reply_job(req, 202, r);
    else
        api_reply_code(req, MD_ECONFLICT, "job %s already %s; there is nothing to cancel", req->id,
                       op->result);
}

void api_job_cancel(api_req *req)
{
    api_server *s = req->srv;
    cancel_op *op = api_req_op_new(req, sizeof *op, NULL);
    if (op == NULL)
        return;
    char key[JQ_KEY_MAX];
    job_key(req, key, sizeof key);
    jr_cmd cmd;
    if (jr_cmd_cancel(&cmd, s->prefix, req->id, req->owner, jq_wall_now(), s->keys != NULL) != 0) {
        api_reply_code(req, MD_EINTERNAL, "the cancel command did not fit");
        return;
    }
    const char *get[] = {"HGETALL", key};
    /* Pipelined: the second answer sees the state the script left. */
    if (api_redis_cmd(s, on_cancel, req, cmd.argc, cmd.argv, cmd.argvlen) != 0 ||
        api_redis_cmd(s, on_cancel_job, req, 2, get, NULL) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- DELETE /jobs/{id} ---- */

typedef struct delete_req_op {
    api_req *req;
    uv_work_t work;
    stg *storage;
    char prefix[STG_KEY_MAX];
    md_error err;
    int rc;
} delete_req_op;

static void delete_objects(uv_work_t *w)
{
    delete_req_op *op = w->data;
    op->rc = stg_delete_prefix(op->storage, op->prefix, &op->err);
}

static void delete_objects_done(uv_work_t *w, int status)
{
    delete_req_op *op = w->data;
    if (status != 0 || op->rc != 0) {
        /* The record is gone, so nothing else would ever find these objects: hand them to the
         * janitor, which retries until storage lets it delete them. */
        md_log(MD_LOG_WARN, "job %s deleted, but its objects were not (%s); the janitor will",
               op->req->id, status != 0 ? "canceled" : op->err.msg);
        api_server *s = op->req->srv;
        char key[JQ_KEY_MAX], now[32];
        jq_key(key, sizeof key, s->prefix, JQ_EXPIRING);
        snprintf(now, sizeof now, "%.3f", jq_wall_now());
        const char *argv[] = {"ZADD", key, now, op->req->id};
        api_redis_cmd(s, NULL, NULL, 4, argv, NULL);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    api_req_reply(op->req, 204, resp);
}

static void on_delete(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    delete_req_op *op = priv;
    api_req *req = op->req;
    redisReply *reply = r;
    if (reply == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (reply->type != REDIS_REPLY_STRING) {
        api_reply_code(req, MD_EINTERNAL, "deleting the job failed: %s",
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
        return;
    }
    if (strcmp(reply->str, "missing") == 0) {
        api_reply_code(req, MD_ENOENT, "no job %s", req->id);
        return;
    }
    if (jr_status_parse(reply->str) == JR_RUNNING) {
        api_reply_code(req, MD_ECONFLICT,
                       "job %s is running; cancel it first (POST /jobs/%s/cancel), then "
                       "delete it once it is canceled",
                       req->id, req->id);
        return;
    }
    op->work.data = op;
    if (uv_queue_work(req->srv->loop, &op->work, delete_objects, delete_objects_done) != 0)
        api_reply_code(req, MD_EINTERNAL, "cannot schedule removing the job's objects");
}

void api_job_delete(api_req *req)
{
    api_server *s = req->srv;
    delete_req_op *op = api_req_op_new(req, sizeof *op, NULL);
    if (op == NULL)
        return;
    op->req = req;
    op->storage = s->storage;
    jr_cmd cmd;
    if (jr_key_job_prefix(op->prefix, sizeof op->prefix, req->id) != 0 ||
        jr_cmd_delete(&cmd, s->prefix, req->id, req->owner) != 0) {
        api_reply_code(req, MD_EINTERNAL, "the delete command did not fit");
        return;
    }
    if (api_redis_cmd(s, on_delete, op, cmd.argc, cmd.argv, cmd.argvlen) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- GET /jobs/{id}/artifacts/{name} ---- */

typedef struct artifact_op {
    api_req *req;
    uv_work_t work;
    stg *storage;
    char key[STG_KEY_MAX + 1];
    char content_type[128];
    stg_reader *reader; /* handed to the response, which closes it */
    md_error err;
    int rc;
} artifact_op;

static void artifact_free(void *p)
{
    artifact_op *op = p;
    if (op == NULL)
        return;
    stg_reader_close(op->reader);
    md_free(op);
}

static ssize_t read_artifact(void *cls, uint64_t pos, char *buf, size_t max)
{
    int64_t n = stg_reader_read(cls, pos, buf, max, NULL);
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)n;
}

static void close_artifact(void *cls)
{
    stg_reader_close(cls);
}

static void open_work(uv_work_t *w)
{
    artifact_op *op = w->data;
    op->rc = stg_reader_open(op->storage, op->key, &op->reader, &op->err);
}

static void open_done(uv_work_t *w, int status)
{
    artifact_op *op = w->data;
    api_req *req = op->req;
    if (status != 0 || op->rc != 0) {
        if (op->rc == MD_ENOENT)
            api_reply_code(req, MD_ENOENT, "artifact '%s' of job %s is not in storage",
                           req->artifact, req->id);
        else
            api_reply_code(req, MD_EINTERNAL, "cannot read artifact '%s': %s", req->artifact,
                           op->err.msg);
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(
        stg_reader_size(op->reader), 64 << 10, read_artifact, op->reader, close_artifact);
    if (resp == NULL) {
        api_reply_code(req, MD_EINTERNAL, "out of memory");
        return;
    }
    op->reader = NULL; /* the response owns it now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, op->content_type);
    api_req_reply(req, 200, resp);
}

/* With --artifact-redirect: answers 307 to a presigned URL of op->key and returns 1, or returns
 * 0 (nothing answered) when the store cannot presign (file://) or presigning failed (logged):
 * the caller then streams, as without the option. */
static int reply_redirect(artifact_op *op)
{
    api_req *req = op->req;
    char url[STG_PRESIGN_URL_MAX];
    md_error err;
    int rc =
        stg_presign_get(op->storage, op->key, req->srv->artifact_redirect_s, url, sizeof url, &err);
    if (rc == MD_EFORMAT)
        return 0;
    if (rc != 0) {
        md_log(MD_LOG_WARN, "artifact '%s' of job %s: %s; streaming it instead", req->artifact,
               req->id, err.msg);
        return 0;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        api_reply_code(req, MD_EINTERNAL, "out of memory");
        return 1;
    }
    /* The URL is a bearer credential for its lifetime: no cache may keep or share it. */
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, url) != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
        MHD_destroy_response(resp);
        api_reply_code(req, MD_EINTERNAL, "cannot set the redirect's headers");
        return 1;
    }
    api_req_reply(req, 307, resp);
    return 1;
}

static void on_artifact_meta(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    artifact_op *op = priv;
    api_req *req = op->req;
    redisReply *reply = r;
    if (reply == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(reply->element[0]->str, req->owner) != 0) {
        api_reply_code(req, MD_ENOENT, "no job %s", req->id);
        return;
    }
    json_t *list = reply->element[1]->type == REDIS_REPLY_STRING
                       ? json_loads(reply->element[1]->str, 0, NULL)
                       : NULL;
    const char *type = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        const char *name = json_string_value(json_object_get(a, "name"));
        if (name && strcmp(name, req->artifact) == 0) {
            type = json_string_value(json_object_get(a, "content_type"));
            if (type == NULL)
                type = "application/octet-stream";
            break;
        }
    }
    if (type != NULL)
        snprintf(op->content_type, sizeof op->content_type, "%s", type);
    json_decref(list);
    if (type == NULL) {
        api_reply_code(req, MD_ENOENT, "job %s has no artifact '%s'", req->id, req->artifact);
        return;
    }
    md_error err;
    if (jr_key_artifact(op->key, sizeof op->key, req->id, req->artifact) != 0 ||
        stg_key_check(op->key, &err) != 0) {
        api_reply_code(req, MD_EINVAL, "artifact name '%s' is not valid", req->artifact);
        return;
    }
    if (req->srv->artifact_redirect_s > 0 && reply_redirect(op))
        return;
    op->work.data = op;
    if (uv_queue_work(req->srv->loop, &op->work, open_work, open_done) != 0)
        api_reply_code(req, MD_EINTERNAL, "cannot schedule reading the artifact");
}

void api_artifact_get(api_req *req)
{
    api_server *s = req->srv;
    artifact_op *op = api_req_op_new(req, sizeof *op, artifact_free);
    if (op == NULL)
        return;
    op->req = req;
    op->storage = s->storage;
    char key[JQ_KEY_MAX];
    job_key(req, key, sizeof key);
    const char *argv[] = {"HMGET", key, jr_field_name(JR_F_OWNER), jr_field_name(JR_F_ARTIFACTS)};
    if (api_redis_cmd(s, on_artifact_meta, op, 4, argv, NULL) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}
