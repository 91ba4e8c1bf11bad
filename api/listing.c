/*
 * listing.c — what GET /jobs and GET /faces share: the page arguments (?limit, ?cursor) and the
 * cursor's rule, and the JSON reply of a resource a client polls.
 *
 * Both listings read an owner's sorted set newest first (ZREVRANGEBYSCORE from the cursor's
 * score down). A cursor is "score:id", the last entry of the page before, exactly as the
 * server gave it out as next_cursor: score digits (milliseconds), then an id the listing's own
 * check accepts. Entries sharing one score come in reverse byte order of id, so an entry with
 * the cursor's score and an id at or above the cursor's was on an earlier page. Loop thread.
 */
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cursor_valid(const char *c, int (*id_valid)(const char *))
{
    const char *colon = strchr(c, ':');
    if (colon == NULL || colon == c || colon - c > 20 || !id_valid(colon + 1))
        return 0;
    for (const char *p = c; p < colon; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

int api_listing_read(api_req *req, int max, int (*id_valid)(const char *), api_listing *out)
{
    struct MHD_Connection *c = req->conn;
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    const char *cursor = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor");
    memset(out, 0, sizeof *out);
    long n = 20;
    if (limit != NULL) {
        char *end;
        n = strtol(limit, &end, 10);
        if (end == limit || *end != '\0' || n < 1 || n > max) {
            api_reply_code(req, MD_EINVAL, "limit must be a whole number 1..%d", max);
            return -1;
        }
    }
    if (cursor != NULL && !cursor_valid(cursor, id_valid)) {
        api_reply_code(req, MD_EINVAL, "cursor is not a next_cursor this server gave out");
        return -1;
    }
    out->limit = (int)n;
    snprintf(out->max_score, sizeof out->max_score, "+inf");
    if (cursor != NULL) {
        const char *colon = strchr(cursor, ':');
        out->score_len = (size_t)(colon - cursor);
        snprintf(out->max_score, sizeof out->max_score, "%.*s", (int)out->score_len, cursor);
        snprintf(out->cursor_id, sizeof out->cursor_id, "%s", colon + 1);
        out->has_cursor = 1;
    }
    return 0;
}

int api_listing_given(const api_listing *l, const char *score, const char *id)
{
    return l->has_cursor && strlen(score) == l->score_len &&
           strncmp(score, l->max_score, l->score_len) == 0 && strcmp(id, l->cursor_id) >= 0;
}

void api_reply_polled(api_req *req, unsigned status, json_t *body, int terminal)
{
    struct MHD_Response *resp = api_response_json(body);
    if (resp == NULL) {
        api_reply_code(req, MD_ENOMEM, "out of memory composing the response");
        return;
    }
    if (!terminal)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    api_req_reply(req, status, resp);
}
