/*
 * gate.c — the api's own listening socket, and a look at each new connection's first request
 * head before libmicrohttpd gets the connection (issue 14).
 *
 * Why: libmicrohttpd (0.9.75) answers some malformed or oversized requests by itself, with
 * fixed HTML pages and no hook to replace them: a Content-Length that is not a number (400), a
 * head that does not fit its per-connection memory pool (431), a request line that does not
 * (414), HTTP/1.1 without Host (400). Every error of the api is application/problem+json, so
 * the gate reads the head first and answers those itself, with a detail a person can act on.
 *
 * How: the gate owns the listening socket (MHD runs with MHD_USE_NO_LISTEN_SOCKET). A new
 * connection is watched until its first head is complete, read with MSG_PEEK so the bytes stay
 * in the socket for MHD; then it is either handed to MHD (MHD_add_connection), which reads the
 * same bytes again, or answered here with a problem (Connection: close) and closed lingering
 * (linger.c), so a client that is still sending hears the answer. The checks, in order:
 * request line (METHOD SP TARGET SP HTTP/1.0|1.1; target at most API_URL_MAX bytes, else 414),
 * the head's size (request line and headers at most max_header_bytes, else 431 — or 414 when
 * the request line alone is that long), the number of header lines plus query parameters (at
 * most max_headers, else 431), Host on HTTP/1.1, every header line has a colon, Content-Length
 * is one decimal number, Transfer-Encoding is chunked or identity (else 400). libmicrohttpd's
 * memory pool is sized from the same limits (http.c), so a head that passes here never meets
 * its own limits.
 *
 * Only the first request of a connection passes the gate: later requests on a kept-alive
 * connection go to MHD directly. For those, http.c checks the same header limits on the first
 * call of the access handler, and what MHD still answers by itself (heads past its pool, a
 * malformed Content-Length on a second request, malformed chunked bodies) is listed in
 * docs/server.md.
 *
 * Waiting for a head: the socket is polled for input; once part of a head is there but not all
 * of it, polling would report the same unread bytes again and again (level-triggered), so the
 * gate re-peeks from a timer instead, 5 ms after progress and backing off to 200 ms without.
 * A head not complete within API_GATE_HEAD_MS, or a client that closes, is closed without an
 * answer (as MHD does with an idle connection). At most API_GATE_MAX connections wait at once;
 * more are closed at once.
 *
 * Loop thread only. Each waiting connection owns its fd, a uv_poll and a uv_timer, and is freed
 * when both handles are closed; the fd goes to MHD, to linger.c, or is closed.
 */
#define _GNU_SOURCE
#include "api/api_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define API_GATE_MAX 1000
#define API_GATE_HEAD_MS 30000
#define API_GATE_RETRY_MIN_MS 5
#define API_GATE_RETRY_MAX_MS 200

typedef struct api_gate_conn {
    api_server *srv;
    struct api_gate_conn *prev, *next; /* srv->gate_conns */
    int fd;                            /* owned until handed on (then -1) */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    uv_poll_t poll;
    uv_timer_t timer;
    uint64_t started_ms;
    size_t seen;       /* bytes seen by the last peek */
    unsigned retry_ms; /* the next re-peek's delay, while a head is partly in */
    int open_handles;
    int ending;
} api_gate_conn;

/* ---- A head's checks (pure) ---- */

/* Case-insensitive: is the header line [p, p+n) named name? *value gets its trimmed value. */
static int header_is(const char *p, size_t n, const char *name, const char **value, size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
        return 0;
    const char *v = p + nl + 1;
    const char *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *value = v;
    *vlen = (size_t)(end - v);
    return 1;
}

int api_gate_check_head(const char *buf, size_t n, size_t cap, const md_limits *lim, md_error *err)
{
    size_t max_head = (size_t)lim->max_header_bytes;
    size_t pos = 0;
    /* RFC 9112 2.2: empty lines before the request line are ignored. */
    while (pos < n && (buf[pos] == '\r' || buf[pos] == '\n'))
        pos++;
    const char *line = buf + pos;
    const char *lf = memchr(line, '\n', n - pos);
    if (lf == NULL) {
        if (n - pos > API_URL_MAX + 64 || n >= cap)
            return md_fail(err, MD_EURITOOLONG,
                           "the request line is longer than %d bytes (the request target may "
                           "be at most %d bytes)",
                           API_URL_MAX + 64, API_URL_MAX);
        return 1; /* not all in yet */
    }
    size_t line_len = (size_t)(lf - line);
    if (line_len > 0 && line[line_len - 1] == '\r')
        line_len--;
    const char *sp1 = memchr(line, ' ', line_len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', line_len - (size_t)(sp1 + 1 - line)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1)
        return md_fail(err, MD_EINVAL,
                       "the request line is not 'METHOD TARGET HTTP/1.1' (RFC 9112 section 3)");
    size_t target_len = (size_t)(sp2 - sp1 - 1);
    if (target_len > API_URL_MAX)
        return md_fail(err, MD_EURITOOLONG,
                       "the request target is %zu bytes; this server takes at most %d", target_len,
                       API_URL_MAX);
    const char *version = sp2 + 1;
    size_t version_len = (size_t)(line + line_len - version);
    int http11;
    if (version_len == 8 && memcmp(version, "HTTP/1.1", 8) == 0)
        http11 = 1;
    else if (version_len == 8 && memcmp(version, "HTTP/1.0", 8) == 0)
        http11 = 0;
    else
        return md_fail(err, MD_EINVAL, "HTTP version '%.*s' is not served; use HTTP/1.1",
                       (int)(version_len < 16 ? version_len : 16), version);
    uint64_t fields = 0;
    for (const char *q = memchr(sp1 + 1, '?', target_len); q != NULL && q < sp2; q++)
        if (*q == '?' || *q == '&')
            fields++;
    /* The headers: lines up to an empty one. */
    size_t p = (size_t)(lf + 1 - buf);
    int have_host = 0;
    int have_length = 0;
    unsigned long long length = 0;
    for (;;) {
        const char *eol = memchr(buf + p, '\n', n - p);
        if (eol == NULL) {
            if (n >= cap || n > max_head)
                return md_fail(err, MD_EHEADERS,
                               "the request line and headers are more than %zu bytes "
                               "(max_header_bytes)",
                               max_head);
            return 1;
        }
        size_t len = (size_t)(eol - (buf + p));
        const char *h = buf + p;
        p = (size_t)(eol + 1 - buf);
        if (p > max_head)
            return md_fail(err, MD_EHEADERS,
                           "the request line and headers are more than %zu bytes "
                           "(max_header_bytes)",
                           max_head);
        if (len == 0 || (len == 1 && h[0] == '\r'))
            break; /* the end of the head */
        if (++fields > lim->max_headers)
            return md_fail(err, MD_EHEADERS,
                           "the request has more than %llu header lines and query parameters "
                           "(max_headers)",
                           (unsigned long long)lim->max_headers);
        if (h[0] == ' ' || h[0] == '\t')
            return md_fail(err, MD_EINVAL,
                           "header line %llu is folded onto the line before (obsolete line "
                           "folding is not accepted, RFC 9112 section 5.2)",
                           (unsigned long long)fields);
        const char *colon = memchr(h, ':', len);
        if (colon == NULL || colon == h)
            return md_fail(err, MD_EINVAL, "header line %llu has no 'Name:' before its value",
                           (unsigned long long)fields);
        const char *v;
        size_t vlen;
        if (header_is(h, len, "Host", &v, &vlen)) {
            have_host = 1;
        } else if (header_is(h, len, "Content-Length", &v, &vlen)) {
            unsigned long long value = 0;
            int ok = vlen > 0 && vlen <= 19;
            for (size_t i = 0; ok && i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9')
                    ok = 0;
                else
                    value = value * 10 + (unsigned)(v[i] - '0');
            }
            if (!ok)
                return md_fail(err, MD_EINVAL,
                               "Content-Length '%.*s' is not a number of bytes (0 to 19 "
                               "decimal digits)",
                               (int)(vlen < 40 ? vlen : 40), v);
            if (have_length && value != length)
                return md_fail(err, MD_EINVAL,
                               "two Content-Length headers disagree (%llu and %llu bytes)", length,
                               value);
            have_length = 1;
            length = value;
        } else if (header_is(h, len, "Transfer-Encoding", &v, &vlen)) {
            if (!((vlen == 7 && strncasecmp(v, "chunked", 7) == 0) ||
                  (vlen == 8 && strncasecmp(v, "identity", 8) == 0)))
                return md_fail(err, MD_EINVAL,
                               "Transfer-Encoding '%.*s' is not served; send 'chunked' or a "
                               "Content-Length",
                               (int)(vlen < 40 ? vlen : 40), v);
        }
    }
    if (http11 && !have_host)
        return md_fail(err, MD_EINVAL, "an HTTP/1.1 request needs a Host header (RFC 9112 3.2)");
    return 0;
}

/* ---- Waiting connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
    api_gate_conn *c = h->data;
    if (--c->open_handles > 0)
        return;
    if (c->fd >= 0)
        close(c->fd);
    md_free(c);
}

/* Unlinks c and closes its handles; the fd is closed afterwards unless handed on (c->fd -1). */
static void conn_end(api_gate_conn *c)
{
    if (c->ending)
        return;
    c->ending = 1;
    api_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->gate_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->gate_count--;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

/* The head broke a rule: a whole problem answer, then a lingering close. */
static void conn_refuse(api_gate_conn *c, const md_error *e, const char *target)
{
    api_server *s = c->srv;
    unsigned status = (unsigned)md_err_http_status(e->code);
    char *body = api_problem_body(status, md_err_problem(e->code), e->msg, target);
    int fd = c->fd;
    c->fd = -1;
    conn_end(c);
    if (body != NULL) {
        char head[256];
        size_t len = strlen(body);
        int hn = snprintf(head, sizeof head,
                          "HTTP/1.1 %u %s\r\nContent-Type: application/problem+json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          status, MHD_get_reason_phrase_for(status), len);
        /* A small answer on a socket nothing was written to: it fits the send buffer. */
        if (hn > 0 && (size_t)hn < sizeof head &&
            send(fd, head, (size_t)hn, MSG_NOSIGNAL | MSG_DONTWAIT) == hn)
            (void)send(fd, body, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        md_free(body);
    }
    md_log(MD_LOG_INFO, "http: refused a request before reading it: %u %s", status, e->msg);
    api_http_stats_observe(&s->stats, API_ROUTE_NONE, status,
                           (double)(uv_now(s->loop) - c->started_ms) / 1000.0);
    api_linger_start(s, fd); /* the poll on fd is stopped: linger may watch it */
}

static void conn_pass(api_gate_conn *c)
{
    api_server *s = c->srv;
    int fd = c->fd;
    c->fd = -1;
    struct sockaddr_storage addr = c->addr;
    socklen_t addr_len = c->addr_len;
    conn_end(c);
    /* MHD takes the socket, also when it refuses it (it closes it then: over its limit). */
    if (MHD_add_connection(s->mhd, fd, (const struct sockaddr *)&addr, addr_len) != MHD_YES)
        md_log(MD_LOG_WARN, "http: libmicrohttpd refused a connection (too many open?)");
    api_http_kick(s);
}

static void on_conn_timer(uv_timer_t *t);
static void on_conn_readable(uv_poll_t *p, int status, int events);

/* Peeks at what the client sent and decides, or waits for more. */
static void conn_look(api_gate_conn *c)
{
    api_server *s = c->srv;
    ssize_t n;
    do {
        n = recv(c->fd, s->gate_buf, s->gate_cap, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        conn_end(c); /* closed before a whole head, or failed */
        return;
    }
    uint64_t now = uv_now(s->loop);
    if (n > 0) {
        md_error e;
        md_error_clear(&e);
        int rc = api_gate_check_head(s->gate_buf, (size_t)n, s->gate_cap, &s->lim, &e);
        if (rc == 0) {
            conn_pass(c);
            return;
        }
        if (rc < 0) {
            /* The target, for the problem's instance, when the request line is in and sane. */
            char target[API_URL_MAX + 1] = "";
            const char *sp1 = memchr(s->gate_buf, ' ', (size_t)n);
            if (sp1 != NULL) {
                size_t left = (size_t)n - (size_t)(sp1 + 1 - s->gate_buf);
                const char *sp2 = memchr(sp1 + 1, ' ', left);
                size_t tl = sp2 ? (size_t)(sp2 - sp1 - 1) : 0;
                int printable = tl > 0 && tl <= API_URL_MAX && sp1[1] == '/';
                for (size_t i = 0; printable && i < tl; i++)
                    printable = isgraph((unsigned char)sp1[1 + i]);
                if (printable) {
                    memcpy(target, sp1 + 1, tl);
                    target[tl] = '\0';
                    char *q = strchr(target, '?');
                    if (q != NULL)
                        *q = '\0';
                }
            }
            conn_refuse(c, &e, target);
            return;
        }
    }
    if (now >= c->started_ms + API_GATE_HEAD_MS) {
        md_log(MD_LOG_INFO, "http: closed a connection whose request head was not in after %d s",
               API_GATE_HEAD_MS / 1000);
        conn_end(c);
        return;
    }
    if (n > 0) {
        /* Part of a head: the same bytes would wake the poll again at once, so look again
         * from the timer, sooner when the head grew. */
        uv_poll_stop(&c->poll);
        c->retry_ms = (size_t)n > c->seen ? API_GATE_RETRY_MIN_MS : c->retry_ms * 2;
        if (c->retry_ms > API_GATE_RETRY_MAX_MS)
            c->retry_ms = API_GATE_RETRY_MAX_MS;
        c->seen = (size_t)n;
        uint64_t left = c->started_ms + API_GATE_HEAD_MS - now;
        uv_timer_start(&c->timer, on_conn_timer, left < c->retry_ms ? left : c->retry_ms, 0);
    } else {
        uv_poll_start(&c->poll, UV_READABLE | UV_DISCONNECT, on_conn_readable);
        uv_timer_start(&c->timer, on_conn_timer, c->started_ms + API_GATE_HEAD_MS - now, 0);
    }
}

static void on_conn_timer(uv_timer_t *t)
{
    conn_look(t->data);
}

static void on_conn_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    api_gate_conn *c = p->data;
    if (status < 0) {
        conn_end(c);
        return;
    }
    conn_look(c);
}

static void conn_start(api_server *s, int fd, const struct sockaddr_storage *addr,
                       socklen_t addr_len)
{
    if (s->gate_count >= API_GATE_MAX || s->stopping) {
        close(fd);
        return;
    }
    api_gate_conn *c = md_calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return;
    }
    if (uv_poll_init_socket(s->loop, &c->poll, fd) != 0) {
        close(fd);
        md_free(c);
        return;
    }
    uv_timer_init(s->loop, &c->timer);
    c->srv = s;
    c->fd = fd;
    c->addr = *addr;
    c->addr_len = addr_len;
    c->poll.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    c->started_ms = uv_now(s->loop);
    c->retry_ms = API_GATE_RETRY_MIN_MS;
    c->next = s->gate_conns;
    if (s->gate_conns)
        s->gate_conns->prev = c;
    s->gate_conns = c;
    s->gate_count++;
    conn_look(c);
}

/* ---- The listening socket ---- */

static void on_listen_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    api_server *s = p->data;
    if (status < 0)
        return;
    /* A bounded number per wake-up, so a flood of connections cannot starve the loop. */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage addr;
        socklen_t addr_len = sizeof addr;
        int fd = accept4(s->gate_listen_fd, (struct sockaddr *)&addr, &addr_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                md_log(MD_LOG_WARN, "http: accept: %s", strerror(errno));
            return;
        }
        conn_start(s, fd, &addr, addr_len);
    }
}

int api_gate_start(api_server *s, const struct sockaddr *sa, socklen_t sa_len, unsigned *port,
                   md_error *err)
{
    s->gate_listen_fd = -1;
    size_t cap = (size_t)s->lim.max_header_bytes + 1;
    if (s->lim.max_header_bytes < 1024 || s->lim.max_header_bytes > (1u << 20))
        return md_fail(err, MD_EINVAL,
                       "--limit max_header_bytes=%llu: want 1024 to 1048576 (1k to 1M)",
                       (unsigned long long)s->lim.max_header_bytes);
    if (s->lim.max_headers < 8 || s->lim.max_headers > 10000)
        return md_fail(err, MD_EINVAL, "--limit max_headers=%llu: want 8 to 10000",
                       (unsigned long long)s->lim.max_headers);
    s->gate_buf = md_malloc(cap);
    if (s->gate_buf == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for the request head buffer");
    s->gate_cap = cap;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (sa->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(fd, sa, sa_len) != 0 || listen(fd, 511) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        md_free(s->gate_buf);
        s->gate_buf = NULL;
        return md_fail(err, MD_EIO, "cannot listen: %s", strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    *port = 0;
    if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0)
        *port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                            : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    s->gate_listen_fd = fd;
    uv_poll_init_socket(s->loop, &s->gate_poll, fd);
    s->gate_poll.data = s;
    uv_poll_start(&s->gate_poll, UV_READABLE, on_listen_readable);
    s->gate_open = 1;
    return 0;
}

static void on_listen_closed(uv_handle_t *h)
{
    api_server *s = h->data;
    if (s->gate_listen_fd >= 0)
        close(s->gate_listen_fd);
    s->gate_listen_fd = -1;
}

void api_gate_quiesce(api_server *s)
{
    if (!s->gate_open)
        return;
    s->gate_open = 0;
    uv_poll_stop(&s->gate_poll);
    uv_close((uv_handle_t *)&s->gate_poll, on_listen_closed);
    /* Connections that have not sent a whole request yet have asked for nothing: close them. */
    while (s->gate_conns != NULL)
        conn_end(s->gate_conns);
}

void api_gate_stop(api_server *s)
{
    api_gate_quiesce(s);
    md_free(s->gate_buf);
    s->gate_buf = NULL;
}
