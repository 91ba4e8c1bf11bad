/*
 * http.c — libmicrohttpd driven from the libuv loop. MHD runs with MHD_USE_EPOLL and no thread
 * of its own: its epoll fd is watched with a uv_poll, and after every MHD_run a uv_timer is set
 * from MHD_get_timeout (0 when MHD has connections it could not finish in one pass, so the
 * loop comes straight back).
 *
 * A request's context (api_req) is created on MHD's first call for it and freed by the
 * request-completed notification. Handlers answer with api_req_reply: synchronously (the access
 * handler queues the response before returning) or later, after the connection was suspended
 * for Redis or the thread pool; then the reply resumes the connection and runs MHD, which calls
 * the access handler again and that queues the response.
 *
 * An answer found from the headers alone (401, 400 for a wrong Content-Type, 413 for a declared
 * length over the limit) waits until the body is read and dropped: MHD can only answer before or
 * after a body, and answering before it makes MHD close a socket with unread bytes, which resets
 * the connection and the client (still sending) never sees the answer. Draining is capped at
 * twice max_body_bytes, like intake.c; a larger declared body, or a client that sent
 * `Expect: 100-continue` (it waits for our word before sending), is answered at once with
 * `Connection: close`. A body that grows past the cap while it streams (chunked) cannot be
 * answered through MHD any more (it takes an answer only before or after the body), so a
 * complete 413 with `Connection: close` is written on the socket directly and MHD drops the
 * connection. Either way the socket then closes lingering (linger.c), so the answer is not lost
 * to a reset.
 *
 * Loop thread only. MHD_run is never entered twice (in_mhd): a reply given inside a handler is
 * queued by that handler's return path.
 */
#define _GNU_SOURCE
#include "api/api_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

void api_server_check_stopped(api_server *s); /* server.c */

/* ---- Requests ---- */

static api_method method_of(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return API_GET;
    if (strcmp(m, "POST") == 0)
        return API_POST;
    if (strcmp(m, "DELETE") == 0)
        return API_DELETE;
    if (strcmp(m, "HEAD") == 0)
        return API_HEAD;
    return API_OTHER;
}

static api_req *req_new(api_server *s, struct MHD_Connection *conn, const char *url,
                        const char *method)
{
    api_req *req = md_calloc(1, sizeof *req);
    if (req == NULL)
        return NULL;
    req->srv = s;
    req->conn = conn;
    req->started = md_now();
    req->method = method_of(method);
    snprintf(req->path, sizeof req->path, "%s", url);
    api_route_classify(req, url);
    snprintf(req->owner, sizeof req->owner, "anonymous");
    req->next = s->reqs;
    if (s->reqs)
        s->reqs->prev = req;
    s->reqs = req;
    s->inflight++;
    md_log(MD_LOG_DEBUG, "req %p: %s %s (in flight %u)", (void *)req, method, url, s->inflight);
    return req;
}

static void req_free(api_req *req)
{
    api_server *s = req->srv;
    api_intake_free(req->intake);
    md_buf_free(&req->body);
    if (req->op_free)
        req->op_free(req->op);
    if (req->response)
        MHD_destroy_response(req->response);
    if (req->prev)
        req->prev->next = req->next;
    else
        s->reqs = req->next;
    if (req->next)
        req->next->prev = req->prev;
    md_free(req);
    s->inflight--;
}

static const char *method_name(api_method m)
{
    switch (m) {
    case API_GET:
        return "GET";
    case API_POST:
        return "POST";
    case API_DELETE:
        return "DELETE";
    case API_HEAD:
        return "HEAD";
    default:
        return "OTHER";
    }
}

void api_http_log_requests(api_server *s, md_log_level level, const char *what)
{
    double now = md_now();
    for (const api_req *r = s->reqs; r != NULL; r = r->next) {
        const char *state = r->suspended ? "suspended, waiting for Redis or the thread pool"
                            : r->replied ? "answered, sending or waiting for MHD to send"
                            : r->intake  ? "reading the body"
                                         : "reading the request";
        md_log(level, "%s: %s %s (%s; status %u; %.1f s old)", what, method_name(r->method),
               r->path, state, r->status, now - r->started);
    }
}

void *api_req_op_new(api_req *req, size_t size, void (*op_free)(void *op))
{
    void *op = md_calloc(1, size);
    if (op == NULL) {
        api_reply_code(req, MD_EINTERNAL, "out of memory");
        return NULL;
    }
    req->op = op;
    req->op_free = op_free ? op_free : md_free;
    return op;
}

void api_req_suspend(api_req *req)
{
    if (!req->suspended && !req->replied) {
        MHD_suspend_connection(req->conn);
        req->suspended = 1;
        md_log(MD_LOG_DEBUG, "req %p: suspended", (void *)req);
    }
}

void api_req_reply(api_req *req, unsigned status, struct MHD_Response *resp)
{
    if (req->replied) {
        if (resp)
            MHD_destroy_response(resp);
        return;
    }
    req->replied = 1;
    req->status = status;
    req->response = resp;
    md_log(MD_LOG_DEBUG, "req %p: reply %u%s%s", (void *)req, status,
           req->suspended ? ", resuming" : "", req->srv->in_mhd ? " (inside MHD)" : "");
    if (req->suspended) {
        req->suspended = 0;
        MHD_resume_connection(req->conn);
        api_http_kick(req->srv);
    }
}

static enum MHD_Result queue_reply(api_req *req)
{
    struct MHD_Response *r = req->response;
    req->response = NULL;
    if (r == NULL)
        return MHD_NO; /* out of memory composing it: drop the connection */
    if (req->srv->stopping || req->close_after) /* let the client go: drain ends, body unread */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(req->conn, req->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The gate (gate.c) checks the head of a connection's first request; a later request on a
 * kept-alive connection reaches MHD directly, so the header limits are checked again here. */
typedef struct head_count {
    uint64_t fields;
    uint64_t bytes;
} head_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    head_count *hc = cls;
    hc->fields++;
    if (kind == MHD_HEADER_KIND)
        hc->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static int head_within_limits(api_req *req, const char *url)
{
    head_count hc = {0, strlen(url) + 16};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND, count_header,
                              &hc);
    const md_limits *lim = &req->srv->lim;
    if (hc.fields > lim->max_headers) {
        api_reply_code(req, MD_EHEADERS,
                       "the request has %llu header lines and query parameters; at most %llu "
                       "(max_headers)",
                       (unsigned long long)hc.fields, (unsigned long long)lim->max_headers);
        return 0;
    }
    if (hc.bytes > lim->max_header_bytes) {
        api_reply_code(req, MD_EHEADERS,
                       "the request line and headers are about %llu bytes; at most %llu "
                       "(max_header_bytes)",
                       (unsigned long long)hc.bytes, (unsigned long long)lim->max_header_bytes);
        return 0;
    }
    return 1;
}

/* The most body bytes read only to be dropped, so an early answer can be heard. */
static uint64_t drain_cap(const api_server *s)
{
    uint64_t limit = s->lim.max_body_bytes;
    return limit > UINT64_MAX / 2 ? UINT64_MAX : limit * 2;
}

/* Whether an answer given from the headers should wait for the body to be read and dropped:
 * 1 yes, 0 no body is coming (answer now), -1 answer now and close (too large to drain, or the
 * client waits for 100 Continue and will not send it). */
static int drain_before_answer(api_req *req)
{
    struct MHD_Connection *c = req->conn;
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int chunked = te != NULL && strcasecmp(te, "identity") != 0;
    unsigned long long declared = 0;
    if (cl != NULL) {
        char *end;
        errno = 0;
        declared = strtoull(cl, &end, 10);
        if (errno != 0 || end == cl)
            declared = ULLONG_MAX;
    }
    if (!chunked && declared == 0)
        return 0;
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0)
        return -1;
    if (!chunked && declared > drain_cap(req->srv))
        return -1;
    return 1;
}

/* The body passed what the server reads (drain_cap): writes a whole 413 answer on the socket
 * itself, since MHD can no longer queue one in the middle of a body, and marks the request for
 * a lingering close. The caller returns MHD_NO, so MHD sends nothing more on it. */
static void answer_too_large_raw(api_req *req)
{
    char limit[32];
    snprintf(limit, sizeof limit, "%llu", (unsigned long long)req->srv->lim.max_body_bytes);
    char detail[256];
    snprintf(detail, sizeof detail,
             "the request body is larger than max_body_bytes (%s bytes); the server's operator "
             "can raise it with --limit max_body_bytes=N",
             limit);
    char *body = api_problem_body((unsigned)md_err_http_status(MD_ELIMIT),
                                  md_err_problem(MD_ELIMIT), detail, req->path);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (body != NULL && info != NULL) {
        char head[256];
        size_t len = strlen(body);
        int hn = snprintf(head, sizeof head,
                          "HTTP/1.1 413 %s\r\nContent-Type: application/problem+json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          MHD_get_reason_phrase_for(413), len);
        /* A small answer on a socket we have not written to: it fits the send buffer. A
         * short write just leaves the client without an answer, as dropping would. */
        if (hn > 0 && (size_t)hn < sizeof head &&
            send(info->connect_fd, head, (size_t)hn, MSG_NOSIGNAL | MSG_DONTWAIT) == hn &&
            send(info->connect_fd, body, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len) {
            req->replied = 1;
            req->status = 413;
            req->close_after = 1;
        }
    }
    md_free(body);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    api_server *s = cls;
    api_req *req = *con_cls;
    if (req == NULL) {
        req = req_new(s, conn, url, method);
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        /* The headers are in: refuse what can be refused before the body is read. */
        if (head_within_limits(req, url) &&
            (req->route == API_ROUTE_JOBS || req->route == API_ROUTE_FACES) &&
            req->method == API_POST && api_authenticate(req) == 0)
            api_intake_begin(req);
        if (req->route == API_ROUTE_BATCHES && req->method == API_POST && !req->replied &&
            api_authenticate(req) == 0) {
            md_buf_init(&req->body, API_BATCH_BODY_MAX);
            req->body_on = 1;
        }
        if (!req->replied)
            return MHD_YES;
        int drain = drain_before_answer(req);
        if (drain > 0)
            return MHD_YES; /* answered once the body is in (below) */
        req->close_after = drain < 0;
        return queue_reply(req);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        int over;
        if (req->intake != NULL) {
            over = api_intake_feed(req, upload_data, n) != 0;
        } else if (req->body_on && md_buf_append(&req->body, upload_data, n) == 0) {
            over = 0; /* past API_BATCH_BODY_MAX it is dropped, and api_batch_post says so */
        } else {
            req->discarded += n;
            over = req->discarded > drain_cap(req->srv);
        }
        if (!over)
            return MHD_YES;
        answer_too_large_raw(req);
        return MHD_NO;
    }
    if (req->replied)
        return req->response ? queue_reply(req) : MHD_YES;
    api_route_request(req);
    if (req->replied && !req->suspended)
        return queue_reply(req);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    api_server *s = cls;
    api_req *req = *con_cls;
    if (req == NULL)
        return;
    md_log(MD_LOG_DEBUG, "req %p: completed (toe %d, replied %d, suspended %d, in flight %u)",
           (void *)req, (int)toe, req->replied, req->suspended, s->inflight - 1);
    *con_cls = NULL;
    if (req->replied)
        api_http_stats_observe(&s->stats, req->route, req->status, md_now() - req->started);
    if (req->close_after) {
        /* MHD closes this connection now; keep the socket to close it lingering. */
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info != NULL)
            api_linger_start(s, fcntl(info->connect_fd, F_DUPFD_CLOEXEC, 0));
    }
    req_free(req);
}

/* Decodes %HH in place except %2F and %00: an encoded slash stays "%2F" so it can never join
 * two path segments (artifact names), and NUL never enters a C string. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *str)
{
    (void)cls;
    (void)c;
    char *w = str;
    for (const char *r = str; *r;) {
        if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
            char hex[3] = {r[1], r[2], 0};
            unsigned v = (unsigned)strtoul(hex, NULL, 16);
            if (v != 0 && v != '/') {
                *w++ = (char)v;
                r += 3;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
    return (size_t)(w - str);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    md_log(MD_LOG_INFO, "http: %s", line);
}

/* ---- Driving MHD from the loop ---- */

static void on_timer(uv_timer_t *t)
{
    api_http_kick(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    api_http_kick(p->data);
}

void api_http_kick(api_server *s)
{
    if (s->mhd == NULL)
        return;
    if (s->in_mhd) {
        /* A resume (or anything else that wants MHD to look again) from inside MHD_run: MHD
         * may have passed the resumed connection already, so run it once more before leaving
         * rather than rely on its wake-up pipe. */
        s->kick_again = 1;
        return;
    }
    s->in_mhd = 1;
    do {
        s->kick_again = 0;
        MHD_run(s->mhd);
    } while (s->kick_again && s->mhd != NULL);
    s->in_mhd = 0;
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    if (MHD_get_timeout(s->mhd, &timeout) == MHD_YES)
        uv_timer_start(&s->mhd_timer, on_timer, timeout, 0);
    else
        uv_timer_stop(&s->mhd_timer);
    if (s->stopping)
        api_server_check_stopped(s);
}

/* ---- Start and stop ---- */

static int parse_listen(const char *listen, struct sockaddr_storage *sa, socklen_t *len, int *v6,
                        md_error *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen)
        return md_fail(err, MD_EINVAL, "--listen '%s': want HOST:PORT (127.0.0.1:8080)", listen);
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return md_fail(err, MD_EINVAL, "--listen '%s': host is too long", listen);
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535)
        return md_fail(err, MD_EINVAL, "--listen '%s': port must be 0..65535", listen);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0 || res == NULL)
        return md_fail(err, MD_EINVAL, "--listen '%s': cannot resolve '%s': %s", listen, host,
                       gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

int api_http_listen_loopback(const char *listen, int *loopback, md_error *err)
{
    struct sockaddr_storage sa;
    socklen_t sa_len;
    int v6 = 0;
    int rc = parse_listen(listen, &sa, &sa_len, &v6, err);
    if (rc != 0)
        return rc;
    /* The resolved address decides, so "localhost" counts and "0.0.0.0" or "" do not. */
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (sa.ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)&sa)->sin6_addr;
        *loopback = IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    } else {
        *loopback = 0;
    }
    return 0;
}

int api_http_start(api_server *s, const char *listen, md_error *err)
{
    struct sockaddr_storage sa;
    socklen_t sa_len;
    int v6 = 0;
    int rc = parse_listen(listen, &sa, &sa_len, &v6, err);
    if (rc != 0)
        return rc;
    /* The gate (gate.c) owns the listening socket and hands MHD each connection once its
     * first head has passed the checks that MHD would otherwise answer with HTML. */
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
                     MHD_USE_NO_LISTEN_SOCKET;
    /* MHD keeps a request's line and headers in one per-connection pool (half of it the read
     * buffer, header entries from its end; too small and MHD answers 414/431 with its own
     * HTML page). Sized so any head the gate lets through fits: twice the head, an entry per
     * header or query parameter, and room for the response headers. MHD zeroes the pool
     * between requests of a kept-alive connection, so this much is resident per connection. */
    size_t pool =
        2 * (size_t)s->lim.max_header_bytes + 64 * (size_t)s->lim.max_headers + (16 << 10);
    if (pool < (64 << 10))
        pool = 64 << 10;
    s->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_S, MHD_OPTION_END);
    if (s->mhd == NULL)
        return md_fail(err, MD_EINTERNAL, "cannot start libmicrohttpd");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (info == NULL) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
        return md_fail(err, MD_EINTERNAL, "libmicrohttpd gave no epoll fd");
    }
    unsigned port = 0;
    if ((rc = api_gate_start(s, (struct sockaddr *)&sa, sa_len, &port, err)) != 0) {
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
        return md_error_prefix(err, "%s: ", listen);
    }
    uv_timer_init(s->loop, &s->mhd_timer);
    s->mhd_timer.data = s;
    uv_poll_init(s->loop, &s->mhd_poll, info->epoll_fd);
    s->mhd_poll.data = s;
    uv_poll_start(&s->mhd_poll, UV_READABLE, on_poll);
    s->http_open = 1;
    fprintf(stderr, "morphd api: listening on http://%s (port %u)\n", listen, port);
    api_http_kick(s);
    return 0;
}

void api_http_quiesce(api_server *s)
{
    if (s->mhd == NULL || s->quiesced)
        return;
    s->quiesced = 1;
    api_gate_quiesce(s);
    /* A client that went quiet mid-request would hold the stop for the whole idle timeout:
     * shorten it. Suspended connections have no timeout (MHD keeps them off its timeout
     * lists, so they must not be touched); their work ends them. */
    for (api_req *r = s->reqs; r != NULL; r = r->next)
        if (!r->suspended)
            MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                      (unsigned)API_STOP_IDLE_S);
}

void api_http_stop(api_server *s)
{
    if (!s->http_open)
        return;
    s->http_open = 0;
    api_linger_stop_all(s);
    api_gate_stop(s);
    uv_poll_stop(&s->mhd_poll);
    uv_close((uv_handle_t *)&s->mhd_poll, NULL);
    uv_close((uv_handle_t *)&s->mhd_timer, NULL);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
