/*
 * http.c — libcurl plumbing for the `morph` client commands (see http.h). Main thread only; one
 * easy handle per request (the CLI makes a handful, so reuse would buy nothing measurable).
 *
 * Bounds: an answer body grows by doubling up to HTTP_BODY_MAX and the transfer is aborted past
 * it; downloads stream straight to the caller's FILE. A stalled transfer (under 1 byte/s for
 * 60 s) is aborted, but a large upload or download is never cut off by a wall-clock limit.
 */
#include "cli/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "version.h"

/* ---- Set-up ---- */

int http_init(md_error *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return md_fail(err, MD_EINTERNAL, "libcurl failed to initialise");
    return 0;
}

void http_cleanup(void)
{
    curl_global_cleanup();
}

int http_server_check(char *url, md_error *err)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return md_fail(err, MD_EINVAL, "server '%s' is not an http:// or https:// URL", url);
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        url[--len] = '\0';
    const char *host = url + (url[4] == 's' ? 8 : 7);
    if (*host == '\0')
        return md_fail(err, MD_EINVAL, "server '%s' names no host", url);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return md_fail(err, MD_EINVAL, "server URL contains a space or control character");
    return 0;
}

void http_response_free(http_response *r)
{
    if (r == NULL)
        return;
    md_free(r->body);
    r->body = NULL;
    r->len = 0;
}

static void response_reset(http_response *r)
{
    memset(r, 0, sizeof *r);
    r->retry_after_s = -1;
}

/* ---- Callbacks ---- */

typedef struct transfer {
    http_response *r;
    md_buf body; /* its data is r->body, which r owns (http_response_free) */
    int too_big;
    int out_failed;
    FILE *out; /* downloads: where a 2xx body goes */
    unsigned long long written;
    const http_stream *stream; /* event streams: where a 2xx body goes */
    int stopped;               /* the stream's callback asked to stop */
    int idle;                  /* aborted: nothing arrived for stream->idle_s */
    int late;                  /* aborted: stream->deadline passed */
    double last_data;
} transfer;

static int append_body(transfer *t, const char *data, size_t n)
{
    int rc = md_buf_append(&t->body, data, n);
    t->r->body = t->body.data;
    t->r->len = t->body.len;
    if (rc == MD_ELIMIT)
        t->too_big = 1;
    return rc == 0 ? 0 : -1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    transfer *t = user;
    size_t n = size * nmemb;
    if (t->stream != NULL && t->r->status >= 200 && t->r->status < 300) {
        t->last_data = md_now();
        if (t->stream->on_data(t->stream->user, data, n) != 0) {
            t->stopped = 1;
            return 0; /* libcurl ends the transfer (CURLE_WRITE_ERROR) */
        }
        return n;
    }
    if (t->out != NULL && t->r->status >= 200 && t->r->status < 300) {
        if (fwrite(data, 1, n, t->out) != n) {
            t->out_failed = 1;
            return 0;
        }
        t->written += n;
        return n;
    }
    return append_body(t, data, n) == 0 ? n : 0;
}

/* Copies a header's value (after "Name:") without surrounding blanks into dst. */
static void header_value(const char *line, size_t len, size_t name_len, char *dst, size_t cap)
{
    const char *v = line + name_len, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    size_t n = (size_t)(end - v);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *user)
{
    transfer *t = user;
    size_t len = size * nmemb;
    char value[128];
    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new status line (after 100 Continue): forget what the previous one said. */
        const char *sp = memchr(line, ' ', len);
        t->r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        t->r->content_type[0] = '\0';
        t->r->retry_after_s = -1;
    } else if (len > 13 && strncasecmp(line, "content-type:", 13) == 0) {
        header_value(line, len, 13, t->r->content_type, sizeof t->r->content_type);
    } else if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
        header_value(line, len, 12, value, sizeof value);
        char *end;
        long s = strtol(value, &end, 10);
        /* Only delta-seconds; an HTTP-date is treated as absent (callers then poll at their
         * default pace). */
        t->r->retry_after_s = (end != value && *end == '\0' && s >= 0) ? s : -1;
    }
    return len;
}

/* Event streams: ends a transfer that went quiet or outlived its deadline. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    transfer *t = user;
    double now = md_now();
    if (t->stream->deadline > 0 && now >= t->stream->deadline)
        t->late = 1;
    else if (now - t->last_data > t->stream->idle_s)
        t->idle = 1;
    return t->late || t->idle;
}

/* ---- Requests ---- */

/* A request body: multipart parts, or (parts NULL) one JSON text. */
typedef struct http_body {
    const http_part *parts;
    size_t count;
    const char *json; /* borrowed; json_len bytes */
    size_t json_len;
} http_body;

/* Builds the multipart body on handle h; NULL with err set when a part cannot be made. */
static curl_mime *mime_build(CURL *h, const http_body *body, md_error *err)
{
    curl_mime *mime = curl_mime_init(h);
    if (mime == NULL) {
        md_fail(err, MD_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < body->count; i++) {
        const http_part *part = &body->parts[i];
        curl_mimepart *p = curl_mime_addpart(mime);
        CURLcode cc = p ? curl_mime_name(p, part->name) : CURLE_OUT_OF_MEMORY;
        if (cc == CURLE_OK && part->file != NULL)
            cc = curl_mime_filedata(p, part->file);
        else if (cc == CURLE_OK)
            cc = curl_mime_data(p, part->data, CURL_ZERO_TERMINATED);
        if (cc == CURLE_OK && part->content_type != NULL)
            cc = curl_mime_type(p, part->content_type);
        if (cc != CURLE_OK) {
            md_fail(err, MD_EIO, "part '%s'%s%s: %s", part->name, part->file ? " from " : "",
                    part->file ? part->file : "", curl_easy_strerror(cc));
            curl_mime_free(mime);
            return NULL;
        }
    }
    return mime;
}

static int perform(const http_client *c, const char *method, const char *path,
                   const http_body *body, const char *idempotency_key, FILE *out,
                   const http_stream *stream, unsigned long long *written, http_response *r,
                   md_error *err)
{
    response_reset(r);
    char url[4096], auth[1024], idem[512];
    if ((size_t)snprintf(url, sizeof url, "%s%s", c->server, path) >= sizeof url)
        return md_fail(err, MD_EINVAL, "URL %s%s is too long", c->server, path);
    CURL *h = curl_easy_init();
    if (h == NULL)
        return md_fail(err, MD_ENOMEM, "libcurl could not create a handle");
    struct curl_slist *headers = NULL;
    curl_mime *mime = NULL;
    int rc = 0;
    if (body != NULL && body->parts != NULL) {
        mime = mime_build(h, body, err);
        if (mime == NULL) {
            rc = err->code;
            goto done;
        }
    }
    if (c->api_key != NULL) {
        if ((size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->api_key) >=
            sizeof auth) {
            rc = md_fail(err, MD_EINVAL, "the API key is longer than %zu bytes", sizeof auth - 30);
            goto done;
        }
        headers = curl_slist_append(headers, auth);
    }
    if (idempotency_key != NULL) {
        if ((size_t)snprintf(idem, sizeof idem, "Idempotency-Key: %s", idempotency_key) >=
            sizeof idem) {
            rc = md_fail(err, MD_EINVAL, "the idempotency key is longer than %zu bytes",
                         sizeof idem - 20);
            goto done;
        }
        headers = curl_slist_append(headers, idem);
    }
    if (body != NULL && body->parts == NULL)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    headers =
        curl_slist_append(headers, stream ? "Accept: text/event-stream, application/problem+json"
                                          : "Accept: application/json, application/problem+json");

    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    transfer t = {.r = r, .out = out, .stream = stream, .last_data = md_now()};
    md_buf_init(&t.body, HTTP_BODY_MAX);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "morph/" MORPHD_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    if (stream != NULL) {
        /* A quiet job sends only a heartbeat every 15 s: libcurl's low-speed check would end
         * it, so the stream's own idle limit and deadline are checked instead. */
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    } else {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    }
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(method, "GET") == 0) {
        /* An api with --artifact-redirect answers artifact GETs with 307 to a presigned storage
         * URL. libcurl keeps only the last answer's body and does not send our Authorization
         * header to another host or port, which S3 would refuse next to the URL's signature. */
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    }
    if (mime != NULL) {
        curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    } else if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->json_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->json);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    } else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);

    CURLcode cc = curl_easy_perform(h);
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_WRITE_ERROR && t.stopped)
        cc = CURLE_OK; /* the stream's callback had what it wanted */
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        if (r->body == NULL && out == NULL)
            rc = append_body(&t, "", 0) == 0 ? 0 : md_fail(err, MD_ENOMEM, "out of memory");
    } else if (t.too_big) {
        rc = md_fail(err, MD_EIO, "%s %s: the answer is larger than %u MiB, refused", method, url,
                     HTTP_BODY_MAX >> 20);
    } else if (t.late) {
        rc = md_fail(err, MD_ECANCELED, "%s: the deadline passed", url);
    } else if (t.idle) {
        rc = md_fail(err, MD_EIO, "%s: nothing arrived for %g s", url, stream->idle_s);
    } else if (t.out_failed) {
        rc = md_fail(err, MD_EIO, "%s: writing the download failed", url);
    } else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
        /* "Connection refused" says more than curl's "Couldn't connect to server". */
        long os_errno = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        if (cc == CURLE_COULDNT_CONNECT && os_errno != 0)
            why = strerror((int)os_errno);
        rc = md_fail(err, MD_EIO,
                     "cannot connect to the server at %s: %s (is `morphd api` running there? "
                     "--server URL or MORPHD_SERVER chooses another)",
                     c->server, why);
    } else if (cc == CURLE_READ_ERROR) {
        rc = md_fail(err, MD_EIO, "%s %s: cannot read a file to upload: %s", method, url, why);
    } else {
        rc = md_fail(err, MD_EIO, "%s %s: %s", method, url, why);
    }
    if (written != NULL)
        *written = t.written;

done:
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    if (rc != 0)
        http_response_free(r);
    return rc;
}

int http_get(const http_client *c, const char *path, http_response *r, md_error *err)
{
    return perform(c, "GET", path, NULL, NULL, NULL, NULL, NULL, r, err);
}

int http_get_stream(const http_client *c, const char *path, const http_stream *stream,
                    http_response *r, md_error *err)
{
    return perform(c, "GET", path, NULL, NULL, NULL, stream, NULL, r, err);
}

int http_send(const http_client *c, const char *method, const char *path, http_response *r,
              md_error *err)
{
    return perform(c, method, path, NULL, NULL, NULL, NULL, NULL, r, err);
}

int http_download(const http_client *c, const char *path, FILE *out, unsigned long long *written,
                  http_response *r, md_error *err)
{
    *written = 0;
    return perform(c, "GET", path, NULL, NULL, out, NULL, written, r, err);
}

int http_post_multipart(const http_client *c, const char *path, const http_part *parts,
                        size_t part_count, const char *idempotency_key, http_response *r,
                        md_error *err)
{
    const http_body body = {.parts = parts, .count = part_count};
    return perform(c, "POST", path, &body, idempotency_key, NULL, NULL, NULL, r, err);
}

int http_post_json(const http_client *c, const char *path, const char *json, size_t len,
                   http_response *r, md_error *err)
{
    const http_body body = {.json = json, .json_len = len};
    return perform(c, "POST", path, &body, NULL, NULL, NULL, NULL, r, err);
}

/* ---- Problems ---- */

/* The md code whose HTTP status (and so exit code) fits an answer's status and problem slug. */
static int code_for(long status, const char *slug)
{
    switch (status) {
    case 400:
        return MD_EINVAL;
    case 401:
    case 403:
        return MD_EAUTH;
    case 404:
        return MD_ENOENT;
    case 409:
        return MD_ECONFLICT;
    case 413:
        return MD_ELIMIT;
    case 415:
        return MD_EFORMAT;
    case 422:
        return strcmp(slug, "topology-mismatch") == 0 ? MD_ETOPOLOGY : MD_EPARSE;
    case 503:
        return strcmp(slug, "queue-full") == 0 ? MD_EBUSY : MD_EUNAVAIL;
    default:
        return status >= 400 && status < 500 ? MD_EINVAL : MD_EINTERNAL;
    }
}

int http_problem(const http_response *r, md_error *err)
{
    char slug[64] = "";
    char detail[MD_ERROR_MSG_MAX - 80] = "";
    json_t *doc = NULL;
    if (r->body != NULL && r->len > 0)
        doc = json_loadb(r->body, r->len, 0, NULL);
    if (json_is_object(doc)) {
        const char *type = json_string_value(json_object_get(doc, "type"));
        const char *text = json_string_value(json_object_get(doc, "detail"));
        if (text == NULL)
            text = json_string_value(json_object_get(doc, "title"));
        if (type != NULL) {
            const char *colon = strrchr(type, ':');
            snprintf(slug, sizeof slug, "%s", colon ? colon + 1 : type);
        }
        if (text != NULL)
            snprintf(detail, sizeof detail, "%s", text);
    }
    json_decref(doc);
    if (detail[0] == '\0' && r->body != NULL) {
        /* Not a problem document: show the start of whatever came, on one line. */
        size_t n = 0;
        for (size_t i = 0; i < r->len && n + 1 < 200; i++)
            detail[n++] = isprint((unsigned char)r->body[i]) ? r->body[i] : ' ';
        detail[n] = '\0';
    }
    if (slug[0] == '\0')
        snprintf(slug, sizeof slug, "%s",
                 r->status == 404   ? "not-found"
                 : r->status >= 500 ? "server-error"
                                    : "error");
    int code = code_for(r->status, slug);
    char retry[80] = "";
    if (r->retry_after_s >= 0 && r->status >= 500)
        snprintf(retry, sizeof retry, " (the server asks to retry after %ld s)", r->retry_after_s);
    md_fail(err, code, "%ld %s%s%s%s", r->status, slug, detail[0] ? ": " : "", detail, retry);
    return code;
}
