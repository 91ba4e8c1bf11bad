/*
 * live.c — the live lane's wire (live.h): the request's JSON and the reply's head, both checked
 * on the way in, since either end may be an older or a hostile process sharing the Redis.
 */
#include "jobs/live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jl_queue_key(char *out, size_t cap, const char *prefix)
{
    return jq_key(out, cap, prefix, "live");
}

int jl_channel(char *out, size_t cap, const char *prefix, const char *instance)
{
    int n = snprintf(out, cap, "%slive:reply:%s", prefix, instance);
    return (n < 0 || (size_t)n >= cap) ? MD_ELIMIT : 0;
}

int jl_request_encode(const jl_request *r, char **out, size_t *len, md_error *err)
{
    *out = NULL;
    *len = 0;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:O}", "id", r->id, "channel", r->channel,
                          "owner", r->owner, "source_face", r->face[0], "target_face", r->face[1],
                          "deadline_ms", (json_int_t)r->deadline_ms, "spec", r->spec);
    if (o == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory encoding a live request");
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory encoding a live request");
    size_t n = strlen(text);
    if (n > JL_REQUEST_MAX) {
        free(text);
        return md_fail(err, MD_ELIMIT, "a live request of %zu bytes is over %u", n, JL_REQUEST_MAX);
    }
    *out = md_strdup(text);
    free(text);
    if (*out == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory encoding a live request");
    *len = n;
    return 0;
}

/* Copies the string member key of o into out (cap bytes, 1..cap-1 long). */
static int take_string(const json_t *o, const char *key, char *out, size_t cap, md_error *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL)
        return md_fail(err, MD_EINVAL, "live request: '%s' must be a string", key);
    size_t n = strlen(s);
    if (n == 0 || n >= cap)
        return md_fail(err, MD_EINVAL, "live request: '%s' must be 1..%zu bytes", key, cap - 1);
    memcpy(out, s, n + 1);
    return 0;
}

int jl_request_decode(const char *text, size_t len, jl_request *r, md_error *err)
{
    memset(r, 0, sizeof *r);
    if (len > JL_REQUEST_MAX)
        return md_fail(err, MD_ELIMIT, "a live request of %zu bytes is over %u", len,
                       JL_REQUEST_MAX);
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return md_fail(err, MD_EINVAL, "live request: not a JSON object (%s)", je.text);
    }
    int rc = take_string(o, "id", r->id, sizeof r->id, err);
    if (rc == 0 && !jq_id_valid(r->id))
        rc = md_fail(err, MD_EINVAL, "live request: bad id");
    if (rc == 0)
        rc = take_string(o, "channel", r->channel, sizeof r->channel, err);
    if (rc == 0)
        rc = take_string(o, "owner", r->owner, sizeof r->owner, err);
    if (rc == 0)
        rc = take_string(o, "source_face", r->face[0], sizeof r->face[0], err);
    if (rc == 0)
        rc = take_string(o, "target_face", r->face[1], sizeof r->face[1], err);
    for (int i = 0; rc == 0 && i < 2; i++)
        if (!jr_face_id_valid(r->face[i]))
            rc = md_fail(err, MD_EINVAL, "live request: '%s' is not a face id", r->face[i]);
    const json_t *d = json_object_get(o, "deadline_ms");
    if (rc == 0 && !json_is_integer(d))
        rc = md_fail(err, MD_EINVAL, "live request: 'deadline_ms' must be an integer");
    if (rc == 0)
        r->deadline_ms = (int64_t)json_integer_value(d);
    json_t *spec = json_object_get(o, "spec");
    if (rc == 0 && !json_is_object(spec))
        rc = md_fail(err, MD_EINVAL, "live request: 'spec' must be an object");
    if (rc == 0)
        r->spec = json_incref(spec);
    json_decref(o);
    return rc;
}

void jl_request_clear(jl_request *r)
{
    if (r == NULL)
        return;
    json_decref(r->spec);
    r->spec = NULL;
}

int jl_reply_head(char *out, size_t cap, const char *id, int code)
{
    int n = snprintf(out, cap, "%s %d\n", id, code);
    return (n < 0 || (size_t)n >= cap) ? MD_ELIMIT : 0;
}

int jl_reply_parse(const char *msg, size_t len, jl_reply *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    const char *nl = len ? memchr(msg, '\n', len < 64 ? len : 64) : NULL;
    if (nl == NULL || len < JQ_ID_LEN + 3 || msg[JQ_ID_LEN] != ' ')
        return md_fail(err, MD_EINVAL, "live reply: no '<id> <code>' head");
    memcpy(out->id, msg, JQ_ID_LEN);
    out->id[JQ_ID_LEN] = '\0';
    if (!jq_id_valid(out->id))
        return md_fail(err, MD_EINVAL, "live reply: bad id");
    char num[24];
    size_t n = (size_t)(nl - (msg + JQ_ID_LEN + 1));
    if (n == 0 || n >= sizeof num)
        return md_fail(err, MD_EINVAL, "live reply: bad code");
    memcpy(num, msg + JQ_ID_LEN + 1, n);
    num[n] = '\0';
    char *end;
    errno = 0;
    long code = strtol(num, &end, 10);
    if (errno != 0 || *end != '\0' || code > 0 || code < -1000)
        return md_fail(err, MD_EINVAL, "live reply: bad code '%s'", num);
    out->code = (int)code;
    out->body = nl + 1;
    out->body_len = len - (size_t)(nl + 1 - msg);
    return 0;
}
