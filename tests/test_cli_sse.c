/*
 * test_cli_sse.c — the client's text/event-stream parser (cli/sse.c): events split anywhere
 * across feeds, CRLF and CR line ends, comments and retry dropped, multi-line data joined,
 * events without data dropped, the stop value of the callback, and the size cap.
 */
#include <stdio.h>
#include <string.h>

#include "cli/sse.h"
#include "test_util.h"

typedef struct seen {
    char text[4096]; /* "name=data|" per event */
    int count;
    int stop_at; /* return 1 on this event number (1-based); 0 never */
} seen;

static int on_event(void *user, const char *event, const char *data, size_t len)
{
    seen *s = user;
    size_t have = strlen(s->text);
    snprintf(s->text + have, sizeof s->text - have, "%s=%.*s|", event, (int)len, data);
    s->count++;
    return s->stop_at != 0 && s->count == s->stop_at;
}

/* Feeds text in pieces of step bytes. */
static int feed(cli_sse *p, const char *text, size_t step, seen *s, md_error *err)
{
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        int rc = cli_sse_feed(p, text + i, k, on_event, s, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void check_text(const char *expected, const char *got)
{
    if (strcmp(expected, got) != 0) {
        fprintf(stderr, "expected events '%s', got '%s'\n", expected, got);
        test_failures++;
    }
}

static void test_split_anywhere(void)
{
    const char *stream = "retry: 2000\n\n"
                         "event: status\ndata: {\"status\":\"queued\"}\n\n"
                         ": heartbeat\n\n"
                         "event: progress\r\ndata: {\"frames_done\":1}\r\n\r\n"
                         "event: artifact\rdata: a\rdata: b\r\r"
                         "data: plain\n\n"
                         "event: empty\n\n"
                         "event: status\ndata:{\"status\":\"succeeded\"}\n\n";
    const char *want = "status={\"status\":\"queued\"}|progress={\"frames_done\":1}|"
                       "artifact=a\nb|message=plain|status={\"status\":\"succeeded\"}|";
    for (size_t step = 1; step <= 7; step++) {
        cli_sse p;
        cli_sse_init(&p);
        seen s = {0};
        md_error err;
        CHECK_INT(0, feed(&p, stream, step, &s, &err));
        check_text(want, s.text);
        cli_sse_free(&p);
    }
}

static void test_stop_and_bom(void)
{
    cli_sse p;
    cli_sse_init(&p);
    seen s = {.stop_at = 2};
    md_error err;
    int rc = feed(&p,
                  "\xEF\xBB\xBF"
                  "data: 1\n\ndata: 2\n\ndata: 3\n\n",
                  64, &s, &err);
    CHECK_INT(1, rc);
    check_text("message=1|message=2|", s.text);
    cli_sse_free(&p);
}

static void test_cap(void)
{
    cli_sse p;
    cli_sse_init(&p);
    seen s = {0};
    md_error err;
    md_error_clear(&err);
    static char chunk[1 << 16];
    memset(chunk, 'x', sizeof chunk);
    int rc = 0;
    rc = cli_sse_feed(&p, "data: ", 6, on_event, &s, &err);
    for (int i = 0; rc == 0 && i < 100; i++)
        rc = cli_sse_feed(&p, chunk, sizeof chunk, on_event, &s, &err);
    CHECK_INT(MD_ELIMIT, rc);
    CHECK_MSG(&err, "MiB");
    CHECK_INT(0, s.count);
    cli_sse_free(&p);
}

int main(void)
{
    test_split_anywhere();
    test_stop_and_bom();
    test_cap();
    return test_done();
}
