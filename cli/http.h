/*
 * http.h — the HTTP plumbing of the `morph` client commands (submit, status, wait, fetch,
 * cancel, delete): one request at a time over libcurl's easy interface. Internal to cli/.
 *
 * Answers are read into a buffer with a maximum (HTTP_BODY_MAX); artifact downloads stream to a
 * file and are never held in memory. Transport failures (refused, timeout, DNS) become an
 * md_error that names the server URL; HTTP answers of any status are returned as they are, and
 * http_problem() turns a non-2xx answer into the "422 topology-mismatch: detail" sentence and the
 * md error code whose exit status fits it.
 */
#ifndef CLI_HTTP_H
#define CLI_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include "base/md.h"

/* Largest answer body read into memory (job JSON with thousands of artifacts fits easily). */
#define HTTP_BODY_MAX (16u << 20)

/* Where and as whom to talk. All strings borrowed; they must outlive the requests. */
typedef struct http_client {
    const char *server;  /* base URL, "http://host:port" with no trailing '/' */
    const char *api_key; /* bearer key, NULL for none */
} http_client;

typedef struct http_response {
    long status; /* HTTP status, 0 until an answer arrived */
    char *body;  /* owned, NUL-terminated (not counted in len); NULL for downloads */
    size_t len;
    char content_type[128];
    long retry_after_s; /* Retry-After in seconds, -1 when absent or not a number */
} http_response;

/* One part of a multipart/form-data body: a file (sent with its base name) or inline data. */
typedef struct http_part {
    const char *name;         /* form field name, borrowed */
    const char *file;         /* path of a file to send, or NULL */
    const char *data;         /* inline text when file is NULL, borrowed */
    const char *content_type; /* for inline data, or NULL */
} http_part;

/* An event stream's body goes to on_data as it arrives (return non-zero to stop: the request
 * then ends with 0). The transfer fails when nothing arrives for idle_s seconds, or when the
 * clock passes deadline (md_now() seconds; 0 none: MD_ECANCELED then). Non-2xx answers are read
 * into r->body as for http_get. */
typedef struct http_stream {
    int (*on_data)(void *user, const char *bytes, size_t n);
    void *user;
    double idle_s;
    double deadline;
} http_stream;

/* Global libcurl set-up; call once from the subcommand before any request. */
int http_init(md_error *err);
void http_cleanup(void);

/* Checks and normalises a --server value in place: http:// or https://, trailing '/' removed. */
int http_server_check(char *url, md_error *err);

/* Requests. path starts with '/'. On 0 the response holds the answer (any HTTP status); on a
 * transport failure they return MD_EIO with a message naming the URL. r is reset first and
 * must be released with http_response_free(). */
int http_get(const http_client *c, const char *path, http_response *r, md_error *err);
int http_get_stream(const http_client *c, const char *path, const http_stream *stream,
                    http_response *r, md_error *err);
int http_send(const http_client *c, const char *method, const char *path, http_response *r,
              md_error *err); /* POST or DELETE with an empty body */
int http_post_multipart(const http_client *c, const char *path, const http_part *parts,
                        size_t part_count, const char *idempotency_key, http_response *r,
                        md_error *err);
/* POST a JSON body (len bytes of json, borrowed) as application/json. */
int http_post_json(const http_client *c, const char *path, const char *json, size_t len,
                   http_response *r, md_error *err);
/* GET path and stream a 2xx body into out (borrowed, left open); r->body stays NULL then, and a
 * non-2xx answer's body is kept in r->body as for http_get. *written counts bytes written. */
int http_download(const http_client *c, const char *path, FILE *out, unsigned long long *written,
                  http_response *r, md_error *err);

void http_response_free(http_response *r);

/* For a non-2xx answer: writes "404 not-found: no job 3f…" into err (the problem+json type slug
 * and detail when the body is one, else the status text and the start of the body) and returns
 * the md code that maps to the status (so md_err_exit_code() gives 2 for a bad request and 1
 * for a server failure). */
int http_problem(const http_response *r, md_error *err);

#endif
