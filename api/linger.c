/*
 * linger.c — lingering close of connections answered before their request body was read (a
 * 413 for a body too large to drain, see http.c). When MHD closes such a socket the kernel still
 * holds unread request bytes, so close() sends a reset, and a client that is still sending sees
 * ECONNRESET/EPIPE instead of the answer already on its way. The fix every HTTP server uses:
 * keep the socket, shut down our sending side (the answer is followed by a FIN), read and drop
 * what the client still sends until it closes or a timeout, then close.
 *
 * http.c hands over a dup() of the connection's fd from the request-completed notification, so
 * MHD closes its own descriptor (after removing it from its epoll set) as usual and this file
 * owns the duplicate. Loop thread only. Each lingering socket holds a uv_poll and a uv_timer;
 * it is freed when both are closed. At most API_LINGER_MAX linger at once (more are closed at
 * once); every one ends within API_LINGER_TOTAL_MS, or API_LINGER_IDLE_MS without data, and all
 * end when the server stops.
 */
#include "api/api_int.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#define API_LINGER_MAX 32
#define API_LINGER_IDLE_MS 2000
#define API_LINGER_TOTAL_MS 10000

struct api_linger {
    api_server *srv;
    api_linger *prev, *next; /* srv->lingering list */
    int fd;                  /* owned; closed once both handles are */
    uv_poll_t poll;
    uv_timer_t timer;
    uint64_t started_ms;
    int open_handles;
    int ending;
};

static void on_handle_closed(uv_handle_t *h)
{
    api_linger *l = h->data;
    if (--l->open_handles > 0)
        return;
    close(l->fd);
    md_free(l);
}

static void linger_end(api_linger *l)
{
    if (l->ending)
        return;
    l->ending = 1;
    api_server *s = l->srv;
    if (l->prev)
        l->prev->next = l->next;
    else
        s->lingering = l->next;
    if (l->next)
        l->next->prev = l->prev;
    s->linger_count--;
    uv_close((uv_handle_t *)&l->poll, on_handle_closed);
    uv_close((uv_handle_t *)&l->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *t)
{
    linger_end(t->data);
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    api_linger *l = p->data;
    if (status < 0) {
        linger_end(l);
        return;
    }
    char scratch[16384];
    for (;;) {
        ssize_t n = recv(l->fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        linger_end(l); /* the client closed (0) or the socket failed */
        return;
    }
    uint64_t now = uv_now(l->srv->loop);
    if (now >= l->started_ms + API_LINGER_TOTAL_MS) {
        linger_end(l);
        return;
    }
    uint64_t left = l->started_ms + API_LINGER_TOTAL_MS - now;
    uv_timer_start(&l->timer, on_timer, left < API_LINGER_IDLE_MS ? left : API_LINGER_IDLE_MS, 0);
}

void api_linger_start(api_server *s, int fd)
{
    if (fd < 0)
        return;
    if (s->linger_count >= API_LINGER_MAX || s->closed) {
        close(fd);
        return;
    }
    api_linger *l = md_calloc(1, sizeof *l);
    if (l == NULL) {
        close(fd);
        return;
    }
    l->srv = s;
    l->fd = fd;
    l->started_ms = uv_now(s->loop);
    /* The answer is in the kernel's send buffer; the FIN goes after it. */
    shutdown(fd, SHUT_WR);
    if (uv_poll_init_socket(s->loop, &l->poll, fd) != 0) {
        close(fd);
        md_free(l);
        return;
    }
    uv_timer_init(s->loop, &l->timer);
    l->poll.data = l;
    l->timer.data = l;
    l->open_handles = 2;
    l->next = s->lingering;
    if (s->lingering)
        s->lingering->prev = l;
    s->lingering = l;
    s->linger_count++;
    uv_poll_start(&l->poll, UV_READABLE | UV_DISCONNECT, on_readable);
    uv_timer_start(&l->timer, on_timer, API_LINGER_IDLE_MS, 0);
}

void api_linger_stop_all(api_server *s)
{
    while (s->lingering != NULL)
        linger_end(s->lingering);
}
