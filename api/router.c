/*
 * router.c — which handler answers a request: the path is matched against the route templates
 * ("/jobs/{id}" and so on, which are also the `route` label of the HTTP metrics), the method
 * against the route's methods (405 + Allow otherwise), and /jobs, /faces and /batches routes are
 * authenticated
 * against the --api-keys table (keys.c: the bearer key's SHA-256, compared in constant time).
 * Loop thread; string work and one hash apart from the reply.
 *
 * A malformed job id is simply "not found" (openapi.yaml); a bad artifact name is a 400.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *templates[API_ROUTE_COUNT] = {
    [API_ROUTE_JOBS] = "/jobs",
    [API_ROUTE_JOB] = "/jobs/{id}",
    [API_ROUTE_CANCEL] = "/jobs/{id}/cancel",
    [API_ROUTE_ARTIFACT] = "/jobs/{id}/artifacts/{name}",
    [API_ROUTE_EVENTS] = "/jobs/{id}/events",
    [API_ROUTE_FACES] = "/faces",
    [API_ROUTE_FACE] = "/faces/{id}",
    [API_ROUTE_LIVE] = "/faces/{a}/morph/{b}.png",
    [API_ROUTE_BATCHES] = "/batches",
    [API_ROUTE_BATCH] = "/batches/{id}",
    [API_ROUTE_BATCH_CANCEL] = "/batches/{id}/cancel",
    [API_ROUTE_BATCH_EVENTS] = "/batches/{id}/events",
    [API_ROUTE_HEALTHZ] = "/healthz",
    [API_ROUTE_READYZ] = "/readyz",
    [API_ROUTE_METRICS] = "/metrics",
    [API_ROUTE_NONE] = "unmatched",
};

const char *api_route_template(api_route r)
{
    return (r >= 0 && r < API_ROUTE_COUNT) ? templates[r] : "unmatched";
}

/* Copies the id segment when it is a job id; an invalid one leaves id empty (a 404 later). */
static void take_id(api_req *req, const char *seg, size_t len)
{
    req->id[0] = '\0';
    if (len != JQ_ID_LEN)
        return;
    memcpy(req->id, seg, len);
    req->id[len] = '\0';
    if (!jq_id_valid(req->id))
        req->id[0] = '\0';
}

/* "{a}/morph/{b}.png" after "/faces/": the live frame route. Ids that are not face ids are
 * left empty (a 404 later). */
static int live_route(api_req *req, const char *rest)
{
    const char *mid = strstr(rest, "/morph/");
    size_t n = strlen(rest);
    if (mid == NULL || n < 4 || strcmp(rest + n - 4, ".png") != 0 || strchr(rest, '/') != mid)
        return 0;
    const char *b = mid + 7;
    size_t alen = (size_t)(mid - rest), blen = (size_t)(rest + n - 4 - b);
    if (memchr(b, '/', blen) != NULL)
        return 0;
    req->route = API_ROUTE_LIVE;
    req->face_id[0] = req->face_id2[0] = '\0';
    if (alen == JR_FACE_ID_LEN && blen == JR_FACE_ID_LEN) {
        memcpy(req->face_id, rest, alen);
        req->face_id[alen] = '\0';
        memcpy(req->face_id2, b, blen);
        req->face_id2[blen] = '\0';
        if (!jr_face_id_valid(req->face_id) || !jr_face_id_valid(req->face_id2))
            req->face_id[0] = req->face_id2[0] = '\0';
    }
    return 1;
}

void api_route_classify(api_req *req, const char *url)
{
    req->route = API_ROUTE_NONE;
    if (strlen(url) > API_URL_MAX)
        return;
    if (strcmp(url, "/healthz") == 0) {
        req->route = API_ROUTE_HEALTHZ;
        return;
    }
    if (strcmp(url, "/readyz") == 0) {
        req->route = API_ROUTE_READYZ;
        return;
    }
    if (strcmp(url, "/metrics") == 0) {
        req->route = API_ROUTE_METRICS;
        return;
    }
    if (strcmp(url, "/jobs") == 0) {
        req->route = API_ROUTE_JOBS;
        return;
    }
    if (strcmp(url, "/faces") == 0) {
        req->route = API_ROUTE_FACES;
        return;
    }
    if (strncmp(url, "/faces/", 7) == 0 && live_route(req, url + 7))
        return;
    if (strncmp(url, "/faces/", 7) == 0 && url[7] != '\0' && strchr(url + 7, '/') == NULL) {
        /* An invalid face id leaves face_id empty: a 404 later, like a malformed job id. */
        req->route = API_ROUTE_FACE;
        req->face_id[0] = '\0';
        if (jr_face_id_valid(url + 7))
            snprintf(req->face_id, sizeof req->face_id, "%s", url + 7);
        return;
    }
    if (strcmp(url, "/batches") == 0) {
        req->route = API_ROUTE_BATCHES;
        return;
    }
    if (strncmp(url, "/batches/", 9) == 0 && url[9] != '\0') {
        /* A batch id has a job id's form; an invalid one leaves id empty (a 404 later). */
        const char *bseg = url + 9;
        const char *bslash = strchr(bseg, '/');
        size_t blen = bslash ? (size_t)(bslash - bseg) : strlen(bseg);
        if (bslash == NULL)
            req->route = API_ROUTE_BATCH;
        else if (strcmp(bslash, "/cancel") == 0)
            req->route = API_ROUTE_BATCH_CANCEL;
        else if (strcmp(bslash, "/events") == 0)
            req->route = API_ROUTE_BATCH_EVENTS;
        else
            return;
        take_id(req, bseg, blen);
        return;
    }
    if (strncmp(url, "/jobs/", 6) != 0)
        return;
    const char *seg = url + 6;
    const char *slash = strchr(seg, '/');
    size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
    if (len == 0)
        return;
    if (slash == NULL) {
        req->route = API_ROUTE_JOB;
        take_id(req, seg, len);
        return;
    }
    if (strcmp(slash, "/cancel") == 0) {
        req->route = API_ROUTE_CANCEL;
        take_id(req, seg, len);
        return;
    }
    if (strcmp(slash, "/events") == 0) {
        req->route = API_ROUTE_EVENTS;
        take_id(req, seg, len);
        return;
    }
    if (strncmp(slash, "/artifacts/", 11) == 0 && slash[11] != '\0') {
        req->route = API_ROUTE_ARTIFACT;
        take_id(req, seg, len);
        snprintf(req->artifact, sizeof req->artifact, "%s", slash + 11);
        if (strlen(slash + 11) > API_ARTIFACT_NAME_MAX)
            req->artifact[0] = '\0';
    }
}

int api_authenticate(api_req *req)
{
    api_server *s = req->srv;
    if (s->keys == NULL)
        return 0;
    const char *h =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *key = h + 7;
        while (*key == ' ')
            key++;
        int found = api_key_find(s, key, strlen(key));
        if (found >= 0) {
            snprintf(req->owner, sizeof req->owner, "%s", s->keys[found].owner);
            return 0;
        }
        api_reply_code(req, MD_EAUTH, "the API key is not known to this server");
        return -1;
    }
    api_reply_code(req, MD_EAUTH,
                   "this server needs an API key: send 'Authorization: Bearer <key>'");
    return -1;
}

static void method_not_allowed(api_req *req, const char *allow)
{
    api_reply_problem(req, 405, "method-not-allowed", "%s does not take this method; it takes %s",
                      api_route_template(req->route), allow);
    if (req->response)
        MHD_add_response_header(req->response, MHD_HTTP_HEADER_ALLOW, allow);
}

static int need_id(api_req *req)
{
    if (req->id[0] != '\0')
        return 0;
    api_reply_code(req, MD_ENOENT, "no job with this id (ids are 32 hex digits)");
    return -1;
}

void api_route_request(api_req *req)
{
    api_method m = req->method == API_HEAD ? API_GET : req->method;
    if (strlen(req->path) >= API_URL_MAX) {
        api_reply_code(req, MD_EURITOOLONG, "the path is longer than %d bytes", API_URL_MAX);
        return;
    }
    switch (req->route) {
    case API_ROUTE_JOBS:
        if (m == API_POST) {
            if (!req->replied)
                api_submit(req);
        } else if (m == API_GET) {
            if (api_authenticate(req) == 0)
                api_job_list(req);
        } else {
            method_not_allowed(req, "GET, POST");
        }
        return;
    case API_ROUTE_JOB:
        if (m != API_GET && m != API_DELETE) {
            method_not_allowed(req, "GET, DELETE");
        } else if (api_authenticate(req) == 0 && need_id(req) == 0) {
            if (m == API_GET)
                api_job_get(req);
            else
                api_job_delete(req);
        }
        return;
    case API_ROUTE_CANCEL:
        if (m != API_POST)
            method_not_allowed(req, "POST");
        else if (api_authenticate(req) == 0 && need_id(req) == 0)
            api_job_cancel(req);
        return;
    case API_ROUTE_ARTIFACT:
        if (m != API_GET) {
            method_not_allowed(req, "GET");
        } else if (api_authenticate(req) == 0 && need_id(req) == 0) {
            if (!api_artifact_name_valid(req->artifact))
                api_reply_code(req, MD_EINVAL,
                               "artifact name '%.255s' is not a name of the form "
                               "[folder/]file with letters, digits, '.', '_' and '-'",
                               req->artifact);
            else
                api_artifact_get(req);
        }
        return;
    case API_ROUTE_EVENTS:
        if (req->method != API_GET)
            method_not_allowed(req, "GET");
        else if (api_authenticate(req) == 0 && need_id(req) == 0)
            api_job_events(req);
        return;
    case API_ROUTE_FACES:
        if (m == API_POST) {
            if (!req->replied)
                api_face_post(req);
        } else if (m == API_GET) {
            if (api_authenticate(req) == 0)
                api_face_list(req);
        } else {
            method_not_allowed(req, "GET, POST");
        }
        return;
    case API_ROUTE_FACE:
        if (m != API_GET && m != API_DELETE) {
            method_not_allowed(req, "GET, DELETE");
        } else if (api_authenticate(req) == 0) {
            if (req->face_id[0] == '\0')
                api_reply_code(req, MD_ENOENT, "no face with this id (ids are 64 hex digits)");
            else if (m == API_GET)
                api_face_get(req);
            else
                api_face_delete(req);
        }
        return;
    case API_ROUTE_LIVE:
        if (m != API_GET) {
            method_not_allowed(req, "GET");
        } else if (api_authenticate(req) == 0) {
            if (req->face_id[0] == '\0')
                api_reply_code(req, MD_ENOENT,
                               "no such faces: both ids of /faces/{a}/morph/{b}.png are face "
                               "ids (64 hex digits)");
            else
                api_live_frame(req);
        }
        return;
    case API_ROUTE_BATCHES:
        if (m != API_POST)
            method_not_allowed(req, "POST");
        else if (!req->replied && api_authenticate(req) == 0)
            api_batch_post(req);
        return;
    case API_ROUTE_BATCH_EVENTS:
        if (req->method != API_GET)
            method_not_allowed(req, "GET");
        else if (api_authenticate(req) == 0 && req->id[0] == '\0')
            api_reply_code(req, MD_ENOENT, "no batch with this id (ids are 32 hex digits)");
        else if (!req->replied)
            api_batch_events(req);
        return;
    case API_ROUTE_BATCH:
    case API_ROUTE_BATCH_CANCEL:
        if (req->route == API_ROUTE_BATCH && m != API_GET && m != API_DELETE) {
            method_not_allowed(req, "GET, DELETE");
        } else if (req->route == API_ROUTE_BATCH_CANCEL && m != API_POST) {
            method_not_allowed(req, "POST");
        } else if (api_authenticate(req) == 0) {
            if (req->id[0] == '\0')
                api_reply_code(req, MD_ENOENT, "no batch with this id (ids are 32 hex digits)");
            else if (req->route == API_ROUTE_BATCH_CANCEL)
                api_batch_cancel(req);
            else if (m == API_GET)
                api_batch_get(req);
            else
                api_batch_delete(req);
        }
        return;
    case API_ROUTE_HEALTHZ:
    case API_ROUTE_READYZ:
    case API_ROUTE_METRICS:
        if (m != API_GET)
            method_not_allowed(req, "GET");
        else if (req->route == API_ROUTE_HEALTHZ)
            api_healthz(req);
        else if (req->route == API_ROUTE_READYZ)
            api_readyz(req);
        else
            api_metrics(req);
        return;
    default:
        api_reply_code(req, MD_ENOENT, "no such route: %.200s", req->path);
        return;
    }
}
