/*
 * batch_server.c — `morph batch --server`'s pending pairs as ONE batch on the server: each mesh
 * a pair needs is stored once in the caller's face library (POST /faces, which answers 200 with
 * the same id for a face it has already), one POST /batches names the faces, the pairs and the
 * spec, GET /batches/{id} is polled until every job ended, and each job's artifacts are fetched
 * into its pair's folder as soon as the job ends (so an interrupted batch keeps what it fetched
 * and a re-run resumes).
 *
 * A batch is all or nothing at creation (api/batches.c): a server that answers a face upload or
 * the batch with anything but 2xx (404 from an older server without /batches, a 422 naming one
 * pair's topology, 413 past its limits, 503 queue full) has made no job, and batch_server_run
 * returns 1 so that batch.c submits each pair as its own job, as before, where one bad pair
 * fails alone. A transport failure (no server there) fails every pending pair with its message.
 *
 * Main thread of the batch process, before any child is forked; one request at a time
 * (http.c). Owns nothing past the call but the results it fills.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/batch.h"
#include "cli/client.h"
#include "jobs/record.h"

/* Consecutive failed polls before the batch is given up (the jobs go on on the server). */
#define BATCH_POLL_FAILURES_MAX 5

static void pause_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A non-2xx answer as the refusal batch.c falls back on: returns 1 with err saying who refused
 * what ("POST /batches: 404 not-found: …"). */
static int refused(const http_response *r, const char *what, md_error *err)
{
    md_error why;
    md_error_clear(&why);
    http_problem(r, &why);
    md_fail(err, MD_EINVAL, "%s: %s", what, why.msg);
    return 1;
}

/* Every pending pair failed with err's message (nothing was made on the server, or it was lost). */
static void fail_pending(batch_server *s, const md_error *err, double start)
{
    for (uint32_t i = 0; i < s->set->pair_count; i++) {
        batch_result *res = &s->results[i];
        if (res->status != BATCH_NOT_RUN)
            continue;
        res->status = BATCH_FAILED;
        res->seconds = md_now() - start;
        snprintf(res->message, sizeof res->message, "%s", err->msg);
        s->finished(s->user, i);
    }
}

/* ---- Faces ---- */

/* POST /faces of mesh m (and the texture batch_set_scan found for it); its id into id. */
static int face_upload(const client *cl, const batch_mesh *m, char id[JR_FACE_ID_LEN + 1],
                       md_error *err)
{
    http_part parts[2] = {{.name = "mesh", .file = m->path}};
    size_t n = 1;
    if (m->texture != NULL)
        parts[n++] = (http_part){.name = "texture", .file = m->texture};
    http_response r = {0};
    json_t *face = NULL;
    int rc = http_post_multipart(&cl->http, "/faces", parts, n, NULL, &r, err);
    if (rc != 0)
        goto done;
    if (r.status < 200 || r.status >= 300) {
        char what[600];
        snprintf(what, sizeof what, "POST /faces of %s", m->name);
        rc = refused(&r, what, err);
        goto done;
    }
    rc = client_json_object(&r, &face, err);
    if (rc != 0)
        goto done;
    const char *got = json_string_value(json_object_get(face, "id"));
    if (got == NULL || strlen(got) != JR_FACE_ID_LEN) {
        rc = md_fail(err, MD_EINTERNAL, "POST /faces of %s: the answer has no face id", m->name);
        goto done;
    }
    memcpy(id, got, JR_FACE_ID_LEN + 1);
done:
    json_decref(face);
    http_response_free(&r);
    return rc;
}

/* ---- The batch ---- */

/* The POST /batches body: the faces of the pending pairs (each id once), the pairs, the spec. */
static char *batch_body(const batch_server *s, char (*ids)[JR_FACE_ID_LEN + 1], size_t *len)
{
    json_t *faces = json_array(), *pairs = json_array();
    json_t *body = json_pack("{s:o,s:o,s:O}", "faces", faces, "pairs", pairs, "spec", s->spec);
    if (body == NULL)
        return NULL;
    for (uint32_t m = 0; m < s->set->mesh_count; m++) {
        if (ids[m][0] == '\0')
            continue;
        int seen = 0;
        for (uint32_t k = 0; k < m && !seen; k++)
            seen = strcmp(ids[k], ids[m]) == 0;
        if (!seen)
            json_array_append_new(faces, json_string(ids[m]));
    }
    for (uint32_t i = 0; i < s->set->pair_count; i++) {
        if (s->results[i].status != BATCH_NOT_RUN)
            continue;
        const batch_pair *p = &s->set->pairs[i];
        json_array_append_new(pairs, json_pack("[s,s]", ids[p->source], ids[p->target]));
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    *len = text != NULL ? strlen(text) : 0;
    return text;
}

/* One pair's job ended with status: fetch its artifacts (succeeded) or keep its error. */
static void job_ended(batch_server *s, const client *cl, uint32_t pair, const json_t *job,
                      double start)
{
    batch_result *res = &s->results[pair];
    const char *id = json_string_value(json_object_get(job, "id"));
    const char *status = json_string_value(json_object_get(job, "status"));
    const char *error = json_string_value(json_object_get(job, "error"));
    md_error err;
    md_error_clear(&err);
    res->status = BATCH_FAILED;
    if (status != NULL && strcmp(status, "succeeded") == 0) {
        char name[512], dir[4096], manifest[4200];
        batch_pair_name(s->set, &s->set->pairs[pair], name, sizeof name);
        snprintf(dir, sizeof dir, "%s/%s", s->out, name);
        /* An earlier attempt's manifest must not make a half-fetched folder look complete. */
        snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
        unlink(manifest);
        if (client_fetch_job(cl, id, dir, 1, &err) == 0) {
            res->status = BATCH_OK;
        } else {
            md_error_prefix(&err, "job %s: ", id);
            snprintf(res->message, sizeof res->message, "%s", err.msg);
        }
    } else if (status != NULL && strcmp(status, "gone") == 0) {
        snprintf(res->message, sizeof res->message,
                 "job %s was deleted on the server before it was fetched", id);
    } else {
        snprintf(res->message, sizeof res->message, "job %s %s: %s", id,
                 status != NULL && strcmp(status, "canceled") == 0 ? "was canceled" : "failed",
                 error != NULL ? error : "(the server gave no reason)");
    }
    res->seconds = md_now() - start;
    s->finished(s->user, pair);
}

/* Polls GET /batches/{id} until every job ended, handing each ended job to job_ended once.
 * pending[k] is the pair of the batch's k-th job. */
static int batch_follow(batch_server *s, const client *cl, const char *id, const uint32_t *pending,
                        size_t job_count, double start, md_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "/batches/%s", id);
    unsigned char *ended = md_calloc(job_count, 1);
    if (ended == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    size_t left = job_count;
    int failures = 0, rc = 0;
    while (left > 0) {
        http_response r = {0};
        json_t *batch = NULL;
        rc = http_get(&cl->http, path, &r, err);
        if (rc == 0 && (r.status < 200 || r.status >= 300))
            rc = http_problem(&r, err);
        if (rc == 0)
            rc = client_json_object(&r, &batch, err);
        double pause = 0.5;
        if (rc != 0) {
            http_response_free(&r);
            if (++failures > BATCH_POLL_FAILURES_MAX || rc == MD_ENOENT)
                break;
            pause_s((double)failures);
            continue;
        }
        failures = 0;
        const json_t *jobs = json_object_get(batch, "jobs");
        if (json_array_size(jobs) != job_count) {
            rc = md_fail(err, MD_EINTERNAL, "GET %s lists %zu jobs, the batch made %zu", path,
                         json_array_size(jobs), job_count);
            json_decref(batch);
            http_response_free(&r);
            break;
        }
        for (size_t k = 0; k < job_count; k++) {
            const json_t *job = json_array_get(jobs, k);
            const char *status = json_string_value(json_object_get(job, "status"));
            if (ended[k] || status == NULL || strcmp(status, "queued") == 0 ||
                strcmp(status, "running") == 0)
                continue;
            ended[k] = 1;
            left--;
            job_ended(s, cl, pending[k], job, start);
        }
        /* The server's pace, at most 1 s: jobs of a batch end one after another, and each is
         * fetched soon after it ends. */
        if (r.retry_after_s >= 0)
            pause = r.retry_after_s < 0.2 ? 0.2
                    : r.retry_after_s > 1 ? 1.0
                                          : (double)r.retry_after_s;
        json_decref(batch);
        http_response_free(&r);
        if (left > 0)
            pause_s(pause);
    }
    md_free(ended);
    if (rc != 0)
        md_error_prefix(err,
                        "following batch %s (its jobs go on on the server; run the same "
                        "command again to fetch them as new jobs): ",
                        id);
    return rc;
}

int batch_server_run(batch_server *s, md_error *err)
{
    client cl = {.server_arg = s->server, .api_key_arg = s->api_key};
    char(*ids)[JR_FACE_ID_LEN + 1] = md_calloc(s->set->mesh_count, sizeof *ids);
    uint32_t *pending = md_calloc(s->set->pair_count, sizeof *pending);
    http_response r = {0};
    json_t *batch = NULL;
    char *body = NULL;
    double start = md_now();
    int opened = 0;
    int rc = 0;
    if (ids == NULL || pending == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    size_t job_count = 0;
    for (uint32_t i = 0; i < s->set->pair_count; i++)
        if (s->results[i].status == BATCH_NOT_RUN)
            pending[job_count++] = i;
    if (job_count == 0)
        goto done;
    rc = client_open(&cl, err);
    if (rc != 0)
        goto done;
    opened = 1;

    /* 1. Each face a pending pair needs, once. */
    for (size_t k = 0; k < job_count && rc == 0; k++) {
        const batch_pair *p = &s->set->pairs[pending[k]];
        if (ids[p->source][0] == '\0')
            rc = face_upload(&cl, &s->set->meshes[p->source], ids[p->source], err);
        if (rc == 0 && ids[p->target][0] == '\0')
            rc = face_upload(&cl, &s->set->meshes[p->target], ids[p->target], err);
    }
    if (rc != 0)
        goto failed;

    /* 2. One batch of every pending pair. */
    size_t len = 0;
    body = batch_body(s, ids, &len);
    if (body == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for the batch's body");
        goto done;
    }
    rc = http_post_json(&cl.http, "/batches", body, len, &r, err);
    if (rc == 0 && (r.status < 200 || r.status >= 300))
        rc = refused(&r, "POST /batches", err);
    if (rc == 0)
        rc = client_json_object(&r, &batch, err);
    if (rc != 0)
        goto failed;
    const char *id = json_string_value(json_object_get(batch, "id"));
    const json_t *jobs = json_object_get(batch, "jobs");
    if (id == NULL || client_job_id_check(id, err) != 0 || json_array_size(jobs) != job_count) {
        rc = md_fail(err, MD_EINTERNAL,
                     "POST /batches answered %ld with %zu jobs for %zu pairs and id '%.40s'",
                     r.status, json_array_size(jobs), job_count, id ? id : "(none)");
        goto failed;
    }
    snprintf(s->batch_id, sizeof s->batch_id, "%s", id);
    if (!s->quiet)
        fprintf(stderr, "morph batch: batch %s on %s: %zu job(s)\n", id, cl.server, job_count);

    /* 3. Follow it; fetch each job as it ends. */
    rc = batch_follow(s, &cl, s->batch_id, pending, job_count, start, err);

failed:
    if (rc < 0) { /* a transport or server failure: the pairs not yet done fail with it */
        fail_pending(s, err, start);
        rc = 0;
    }
done:
    json_decref(batch);
    http_response_free(&r);
    free(body); /* jansson allocates with malloc */
    md_free(pending);
    md_free(ids);
    if (opened)
        client_close(&cl);
    return rc;
}
