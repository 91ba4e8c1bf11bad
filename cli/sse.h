/*
 * sse.h — a parser of text/event-stream (Server-Sent Events, the WHATWG HTML "event stream
 * interpretation"), fed bytes as they arrive and calling back once per dispatched event. Pure
 * (no I/O, like hiredis' reader): cli/http.c feeds it from libcurl, tests feed it strings.
 * Internal to cli/.
 *
 * What it keeps: the event name ("message" when none) and the data lines joined with '\n';
 * comments (":"), "id:" and "retry:" are read and dropped. Lines end with LF, CRLF or CR. A line
 * or an event's data longer than SSE_EVENT_MAX fails the stream (MD_ELIMIT): a server cannot make
 * the client grow without bound.
 */
#ifndef CLI_SSE_H
#define CLI_SSE_H

#include <stddef.h>

#include "base/md.h"

#define SSE_EVENT_MAX (4u << 20)

/* Called per event; return 0 to go on, non-zero to stop (cli_sse_feed returns that value). */
typedef int (*cli_sse_event_fn)(void *user, const char *event, const char *data, size_t len);

typedef struct cli_sse {
    md_buf line; /* the line being read */
    md_buf data; /* the data lines of the event being read */
    char event[64];
    int cr;      /* the last byte was CR: a following LF belongs to it */
    int started; /* the first byte was seen (a UTF-8 BOM there is skipped) */
} cli_sse;

void cli_sse_init(cli_sse *p);
void cli_sse_free(cli_sse *p);
/* Feeds n bytes; calls fn for each event they complete. 0, fn's non-zero stop value, or a
 * negative error (MD_ELIMIT) with err set. */
int cli_sse_feed(cli_sse *p, const char *bytes, size_t n, cli_sse_event_fn fn, void *user,
                 md_error *err);

#endif
