/*
 * sse.c — the text/event-stream parser (see sse.h). One byte at a time through a line buffer;
 * a blank line dispatches the event when it has data (the standard's rule: an event with no
 * data lines is dropped).
 */
#include "cli/sse.h"

#include <string.h>

void cli_sse_init(cli_sse *p)
{
    memset(p, 0, sizeof *p);
    md_buf_init(&p->line, SSE_EVENT_MAX);
    md_buf_init(&p->data, SSE_EVENT_MAX);
}

void cli_sse_free(cli_sse *p)
{
    if (p == NULL)
        return;
    md_buf_free(&p->line);
    md_buf_free(&p->data);
}

/* One complete line (without its end). */
static int take_line(cli_sse *p, cli_sse_event_fn fn, void *user, md_error *err)
{
    const char *s = p->line.data ? p->line.data : "";
    size_t len = p->line.len;
    int rc = 0;
    if (len == 0) {
        size_t dl = p->data.len;
        if (dl > 0) /* the last data line's '\n' is not part of the data */
            rc = fn(user, p->event[0] ? p->event : "message", p->data.data, dl - 1);
        md_buf_reset(&p->data);
        p->event[0] = '\0';
        return rc;
    }
    if (s[0] == ':')
        return 0; /* a comment (heartbeat) */
    const char *colon = memchr(s, ':', len);
    size_t name_len = colon ? (size_t)(colon - s) : len;
    const char *value = colon ? colon + 1 : s + len;
    size_t value_len = colon ? len - name_len - 1 : 0;
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 5 && memcmp(s, "event", 5) == 0) {
        size_t n = value_len < sizeof p->event - 1 ? value_len : sizeof p->event - 1;
        memcpy(p->event, value, n);
        p->event[n] = '\0';
    } else if (name_len == 4 && memcmp(s, "data", 4) == 0) {
        if (md_buf_append(&p->data, value, value_len) != 0 || md_buf_append(&p->data, "\n", 1))
            return md_fail(err, MD_ELIMIT, "an event's data is larger than %u MiB",
                           SSE_EVENT_MAX >> 20);
    }
    return 0; /* id, retry and unknown fields are dropped */
}

int cli_sse_feed(cli_sse *p, const char *bytes, size_t n, cli_sse_event_fn fn, void *user,
                 md_error *err)
{
    size_t i = 0;
    if (!p->started && n > 0) {
        p->started = 1;
        if (n >= 3 && memcmp(bytes, "\xEF\xBB\xBF", 3) == 0)
            i = 3;
    }
    for (; i < n; i++) {
        char c = bytes[i];
        if (c == '\n' && p->cr) {
            p->cr = 0;
            continue;
        }
        p->cr = c == '\r';
        if (c == '\n' || c == '\r') {
            int rc = take_line(p, fn, user, err);
            md_buf_reset(&p->line);
            if (rc != 0)
                return rc;
            continue;
        }
        if (md_buf_append(&p->line, &c, 1) != 0)
            return md_fail(err, MD_ELIMIT, "an event-stream line is longer than %u MiB",
                           SSE_EVENT_MAX >> 20);
    }
    return 0;
}
