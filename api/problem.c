/*
 * problem.c — every error the api answers, as RFC 9457 application/problem+json
 * (docs/server.md: type urn:morphd:problem:<slug>, title, status, detail, instance), and the
 * small helpers that hand a JSON or text body to a request. Loop thread.
 *
 * Errors are answered by md error code (api_reply_code, api_reply_error): the status and the
 * slug are columns of md.h's MD_ERRNO_MAP, so the api types no (status, slug) pairs. The one
 * problem no md code stands for, 405 method-not-allowed, is answered with api_reply_problem.
 * Titles are per slug, here.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *slug;
    const char *title;
} titles[] = {
    {"bad-request", "Bad request"},
    {"unauthorized", "Unauthorized"},
    {"not-found", "Not found"},
    {"method-not-allowed", "Method not allowed"},
    {"conflict", "Conflict"},
    {"too-large", "Too large"},
    {"unsupported-format", "Unsupported format"},
    {"invalid-mesh", "Invalid mesh"},
    {"topology-mismatch", "Topology mismatch"},
    {"queue-full", "Queue full"},
    {"uri-too-long", "Request target too long"},
    {"headers-too-large", "Request headers too large"},
    {"idempotency-mismatch", "Idempotency-Key reused for another request"},
    {"over-budget", "A frame needs more memory than the render budget"},
    {"unavailable", "Service unavailable"},
    {"internal", "Internal error"},
};

const char *api_problem_title(const char *slug)
{
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (strcmp(titles[i].slug, slug) == 0)
            return titles[i].title;
    return "Error";
}

char *api_problem_body(unsigned status, const char *slug, const char *detail, const char *instance)
{
    char type[96];
    snprintf(type, sizeof type, "urn:morphd:problem:%s", slug);
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "title", json_string(api_problem_title(slug)));
    json_object_set_new(o, "status", json_integer(status));
    /* jansson refuses invalid UTF-8; a detail quoting client bytes must still be sent. */
    json_t *d = json_string(detail && detail[0] ? detail : api_problem_title(slug));
    if (d == NULL)
        d = json_string("(detail not valid UTF-8)");
    json_object_set_new(o, "detail", d);
    if (instance && instance[0]) {
        json_t *inst = json_string(instance);
        if (inst)
            json_object_set_new(o, "instance", inst);
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        return NULL;
    char *out = md_strdup(text);
    free(text);
    return out;
}

static struct MHD_Response *response_from(char *text, size_t len, const char *type)
{
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer_with_free_callback(len, text, md_free)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        md_free(text);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    return r;
}

static void reply_problem_v(api_req *req, unsigned status, const char *slug, const char *fmt,
                            va_list ap)
{
    char detail[MD_ERROR_MSG_MAX + 128];
    vsnprintf(detail, sizeof detail, fmt, ap);
    char *body = api_problem_body(status, slug, detail, req->path);
    struct MHD_Response *r =
        response_from(body, body ? strlen(body) : 0, "application/problem+json");
    if (r == NULL) {
        api_req_reply(req, status, NULL);
        return;
    }
    if (status == 503)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
                                strcmp(slug, "queue-full") == 0 ? "5" : "1");
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"morphd\"");
    api_req_reply(req, status, r);
}

void api_reply_problem(api_req *req, unsigned status, const char *slug, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_problem_v(req, status, slug, fmt, ap);
    va_end(ap);
}

void api_reply_code(api_req *req, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_problem_v(req, (unsigned)md_err_http_status(code), md_err_problem(code), fmt, ap);
    va_end(ap);
}

void api_reply_error(api_req *req, const md_error *err)
{
    api_reply_code(req, err->code, "%s", err->msg[0] ? err->msg : md_strerror(err->code));
}

struct MHD_Response *api_response_json(json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL)
        return NULL;
    /* json_dumps allocates with malloc; MHD frees it with free(). */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return r;
}

void api_reply_json(api_req *req, unsigned status, json_t *body)
{
    struct MHD_Response *r = api_response_json(body);
    if (r == NULL) {
        api_reply_code(req, MD_ENOMEM, "out of memory composing the response");
        return;
    }
    api_req_reply(req, status, r);
}

void api_reply_text(api_req *req, unsigned status, const char *type, char *text, size_t len)
{
    struct MHD_Response *r = response_from(text, len, type);
    if (r == NULL) {
        api_reply_code(req, MD_ENOMEM, "out of memory composing the response");
        return;
    }
    api_req_reply(req, status, r);
}
