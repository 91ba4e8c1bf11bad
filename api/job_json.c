/*
 * job_json.c — the job hash in Redis (docs/server.md, "Job hash fields") turned into the Job
 * JSON that openapi.yaml promises. Pure functions, loop thread in practice; the unit test
 * tests/test_api_job_json.c feeds it field arrays.
 *
 * The hash is written by the api and the worker, possibly of other versions, so nothing in it is
 * trusted to be well formed: numbers that do not parse are 0, JSON fields that do not parse
 * fall back to empty values, artifacts with a bad name are left out. The answer always has every
 * required property.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)?$, at most 255 bytes. */
int api_artifact_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > API_ARTIFACT_NAME_MAX)
        return 0;
    int slashes = 0;
    int seg_start = 1;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (c == '/') {
            if (seg_start || ++slashes > 1)
                return 0;
            seg_start = 1;
            continue;
        }
        if (seg_start) {
            if (!alnum && c != '_')
                return 0;
            seg_start = 0;
            continue;
        }
        if (!alnum && c != '_' && c != '.' && c != '-')
            return 0;
    }
    return !seg_start;
}

static json_t *time_or_null(const char *text)
{
    if (text == NULL || text[0] == '\0')
        return json_null();
    char *end;
    double t = strtod(text, &end);
    if (end == text || !(t >= 0))
        return json_null();
    char out[32];
    jq_time_format(t, out);
    return json_string(out);
}

static json_int_t int_of(const char *text)
{
    if (text == NULL)
        return 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    return (end == text || v < 0) ? 0 : (json_int_t)v;
}

static json_t *object_or(const char *text, json_t *fallback)
{
    json_t *o = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (json_is_object(o)) {
        json_decref(fallback);
        return o;
    }
    json_decref(o);
    return fallback;
}

static const char *stage_of(const char *stage, const char *status)
{
    int known = jr_stage_parse(stage);
    if (known >= 0)
        return jr_stage_name((jr_stage)known);
    if (jr_status_name_terminal(status))
        return jr_stage_name(JR_STAGE_DONE);
    if (jr_status_parse(status) == JR_RUNNING)
        return jr_stage_name(JR_STAGE_LOADING);
    return jr_stage_name(JR_STAGE_QUEUED);
}

static json_t *artifacts_of(const char *text, const char *id)
{
    json_t *out = json_array();
    json_t *in = text ? json_loads(text, 0, NULL) : NULL;
    size_t i;
    json_t *a;
    json_array_foreach(in, i, a)
    {
        const char *name = json_string_value(json_object_get(a, "name"));
        const char *type = json_string_value(json_object_get(a, "content_type"));
        json_t *bytes = json_object_get(a, "bytes");
        if (name == NULL || !api_artifact_name_valid(name))
            continue;
        char url[JQ_ID_LEN + API_ARTIFACT_NAME_MAX + 32];
        snprintf(url, sizeof url, "/jobs/%s/artifacts/%s", id, name);
        json_int_t n = json_is_integer(bytes) ? json_integer_value(bytes) : 0;
        json_array_append_new(out, json_pack("{s:s,s:s,s:I,s:s}", "name", name, "url", url, "bytes",
                                             n < 0 ? (json_int_t)0 : n, "content_type",
                                             type ? type : "application/octet-stream"));
    }
    json_decref(in);
    return out;
}

json_t *api_job_json(const char *const *fields, const char *const *values, size_t n)
{
    jr_record rec;
    jr_record_from_pairs(&rec, fields, values, n);
#define GET(f) jr_get(&rec, JR_F_##f)
    const char *id = GET(ID);
    if (id == NULL || !jq_id_valid(id))
        return NULL;
    const char *status = GET(STATUS);
    const char *error = GET(ERROR);
    if (jr_status_parse(status) < 0)
        status = jr_status_name(JR_QUEUED);
    json_t *job = json_object();
    json_object_set_new(job, "id", json_string(id));
    json_object_set_new(job, "kind", json_string(jr_kind_name(jr_kind_parse(GET(KIND)))));
    json_object_set_new(job, "status", json_string(status));
    json_object_set_new(job, "progress",
                        json_pack("{s:I,s:I,s:s}", "frames_done", int_of(GET(FRAMES_DONE)),
                                  "frames_total", int_of(GET(FRAMES_TOTAL)), "stage",
                                  stage_of(GET(STAGE), status)));
    json_t *created = time_or_null(GET(CREATED_AT));
    if (json_is_null(created)) {
        json_decref(created);
        created = time_or_null("0");
    }
    json_object_set_new(job, "created_at", created);
    json_object_set_new(job, "started_at", time_or_null(GET(STARTED_AT)));
    json_object_set_new(job, "finished_at", time_or_null(GET(FINISHED_AT)));
    json_object_set_new(job, "spec", object_or(GET(SPEC), json_object()));
    json_object_set_new(job, "inputs",
                        object_or(GET(INPUTS), json_pack("{s:i,s:i,s:i}", "vertices", 0, "faces", 0,
                                                         "textures", 0)));
    json_t *err = error && error[0] ? json_string(error) : NULL;
    json_object_set_new(job, "error", err ? err : json_null());
    json_object_set_new(job, "artifacts", artifacts_of(GET(ARTIFACTS), id));
#undef GET
    return job;
}

const char *api_reply_field(const redisReply *r, const char *field)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
            strcmp(k->str, field) == 0)
            return v->str;
    }
    return NULL;
}

json_t *api_job_json_reply(const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->elements > 256)
        return NULL;
    const char *fields[128], *values[128];
    size_t n = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        fields[n] = k->str;
        values[n] = v->str;
        n++;
    }
    return api_job_json(fields, values, n);
}

/* ---- Batches ---- */

json_t *api_batch_json(const char *id, const char *created_at, const char *spec_json,
                       const api_batch_job *jobs, size_t n)
{
    json_t *out = json_object();
    json_t *list = json_array();
    json_int_t counts[JR_STATUS_COUNT] = {0}, gone = 0, done = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        const api_batch_job *j = &jobs[i];
        const char *status = j->v[JR_BJ_STATUS];
        int st = jr_status_parse(status);
        json_t *o = json_pack("{s:s,s:s,s:s}", "id", j->id, "source_face", j->source_face,
                              "target_face", j->target_face);
        if (status == NULL) {
            /* Deleted, or past its retention: what it was is gone with its hash. */
            gone++;
            json_object_set_new(o, "status", json_string("gone"));
        } else {
            if (st < 0)
                st = JR_QUEUED;
            counts[st]++;
            json_int_t fd = int_of(j->v[JR_BJ_FRAMES_DONE]), ft = int_of(j->v[JR_BJ_FRAMES_TOTAL]);
            done += fd;
            total += ft;
            const char *error = j->v[JR_BJ_ERROR];
            json_object_set_new(o, "status", json_string(jr_status_name((jr_status)st)));
            json_object_set_new(o, "progress",
                                json_pack("{s:I,s:I,s:s}", "frames_done", fd, "frames_total", ft,
                                          "stage", stage_of(j->v[JR_BJ_STAGE], status)));
            json_object_set_new(o, "error", error && error[0] ? json_string(error) : json_null());
        }
        json_array_append_new(list, o);
    }
    /* The batch's status (openapi.yaml, Batch): queued while no job has started, running while
     * any job is queued or running, then failed if any failed, canceled if any was canceled,
     * else succeeded. */
    const char *status;
    if (counts[JR_QUEUED] + counts[JR_RUNNING] > 0)
        status = (counts[JR_QUEUED] == (json_int_t)n) ? "queued" : "running";
    else if (counts[JR_FAILED] > 0)
        status = "failed";
    else if (counts[JR_CANCELED] > 0)
        status = "canceled";
    else
        status = "succeeded";
    json_t *c = json_object();
    for (int s = 0; s < JR_STATUS_COUNT; s++)
        json_object_set_new(c, jr_status_name((jr_status)s), json_integer(counts[s]));
    json_object_set_new(c, "gone", json_integer(gone));
    json_t *created = time_or_null(created_at);
    if (json_is_null(created)) {
        json_decref(created);
        created = time_or_null("0");
    }
    json_object_set_new(out, "id", json_string(id));
    json_object_set_new(out, "status", json_string(status));
    json_object_set_new(out, "created_at", created);
    json_object_set_new(out, "spec", object_or(spec_json, json_object()));
    json_object_set_new(out, "job_count", json_integer((json_int_t)n));
    json_object_set_new(out, "counts", c);
    json_object_set_new(out, "progress",
                        json_pack("{s:I,s:I}", "frames_done", done, "frames_total", total));
    json_object_set_new(out, "jobs", list);
    return out;
}
