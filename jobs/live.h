/*
 * live.h — the live lane: one frame of a morph between two faces of the library, rendered at
 * once by a warm worker for GET /faces/{a}/morph/{b}.png (an experiment that makes a stimulus
 * between two trials). It skips the job queue, the batch window, the job record and storage:
 * nothing is kept but the answer.
 *
 * The wire, spelled only here:
 *   request  the api RPUSHes a JSON object (jl_request) onto the list {prefix}live; a worker's
 *            live thread BLPOPs it, so each request is rendered once, by the first free worker;
 *   reply    the worker PUBLISHes "<id> <code>\n<body>" on the channel the request names
 *            ({prefix}live:reply:<api instance>, one per api process): code 0 and a PNG, or a
 *            negative md error code (base/md.h, so the api maps it to a status like any other
 *            error) and the message a person reads.
 * A request carries a deadline: a worker drops one that waited past it (the api has answered
 * 503 by then), so a backlog never renders frames nobody waits for.
 *
 * Pure: text in, text out, no I/O (the api and the worker bring their own Redis). Any thread.
 */
#ifndef JOBS_LIVE_H
#define JOBS_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/md.h"
#include "jobs/queue.h"
#include "jobs/record.h"

#define JL_REQUEST_MAX (16u << 10) /* bytes of one request's JSON */
#define JL_OWNER_MAX 72            /* an owner name with its NUL (api keys table) */
#define JL_INSTANCE_LEN 16         /* an api instance: 8 random bytes as hex */

typedef struct jl_request {
    char id[JQ_ID_LEN + 1];
    char channel[JQ_KEY_MAX]; /* where the reply goes */
    char owner[JL_OWNER_MAX];
    char face[2][JR_FACE_ID_LEN + 1]; /* source, target */
    int64_t deadline_ms;              /* unix ms after which nobody waits for the answer */
    json_t *spec;                     /* owned: a morph job's spec (jobs/spec_json.c) */
} jl_request;

/* The list the requests wait on: {prefix}live. */
int jl_queue_key(char *out, size_t cap, const char *prefix);
/* An api instance's reply channel: {prefix}live:reply:<instance>. */
int jl_channel(char *out, size_t cap, const char *prefix, const char *instance);

/* The request as JSON text (md_malloc'd, NUL-terminated, *len bytes). */
int jl_request_encode(const jl_request *r, char **out, size_t *len, md_error *err);
/* Parses and checks a request (ids, owner, channel, sizes); r->spec is a new reference the
 * caller frees with jl_request_clear. */
int jl_request_decode(const char *text, size_t len, jl_request *r, md_error *err);
void jl_request_clear(jl_request *r); /* frees r->spec; NULL ok */

/* The head of a reply, "<id> <code>\n", into out. */
int jl_reply_head(char *out, size_t cap, const char *id, int code);

/* A reply as views into the message (borrowed). */
typedef struct jl_reply {
    char id[JQ_ID_LEN + 1];
    int code;         /* 0: body is the PNG; else a negative md error code, body the message */
    const char *body; /* not NUL-terminated */
    size_t body_len;
} jl_reply;

int jl_reply_parse(const char *msg, size_t len, jl_reply *out, md_error *err);

#endif
