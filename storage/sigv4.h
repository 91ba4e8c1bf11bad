/*
 * sigv4.h — AWS Signature Version 4 for the s3:// backend, as pure functions: the canonical
 * request, the string to sign, the signing key, the Authorization header value and presigned
 * (query-string authenticated) URLs. No I/O, no
 * clock: the caller passes the time, so AWS's published examples are unit tests
 * (tests/test_sigv4.c).
 *
 * Internal to storage/ (tests include it too); SHA-256 and HMAC come from nettle.
 */
#ifndef STORAGE_SIGV4_H
#define STORAGE_SIGV4_H

#include <stddef.h>

#include "base/md.h"

#define STG_SIGV4_HEX_LEN 64 /* a SHA-256 in lowercase hex, without the NUL */

/* One header to sign. name is lowercase; value is sent as is (signed trimmed). Both borrowed. */
typedef struct stg_sigv4_header {
    const char *name;
    const char *value;
} stg_sigv4_header;

typedef struct stg_sigv4_request {
    const char *method; /* "GET" */
    const char *path;   /* the canonical URI, already URI-encoded ("/bucket/a/b.png") */
    const char *query;  /* the canonical query: encoded, sorted by name ("" for none) */
    const stg_sigv4_header *headers; /* every signed header, host included, any order */
    size_t header_count;
    const char *payload_hash; /* hex SHA-256 of the body, as sent in x-amz-content-sha256 */
} stg_sigv4_request;

typedef struct stg_sigv4_creds {
    const char *access_key; /* AKIAIOSFODNN7EXAMPLE */
    const char *secret_key;
    const char *region;  /* us-east-1 */
    const char *service; /* s3 */
} stg_sigv4_creds;

/* out (65 bytes) gets the lowercase hex SHA-256 of data[0..len). */
void stg_sigv4_sha256_hex(const void *data, size_t len, char out[STG_SIGV4_HEX_LEN + 1]);

/* Appends s URI-encoded the AWS way (unreserved A-Z a-z 0-9 - . _ ~ kept, everything else %XX
 * in upper case); '/' kept when keep_slash. Returns md_buf_append's result. */
int stg_sigv4_uri_encode(md_buf *b, const char *s, int keep_slash);

/* The canonical request (appended to b) and the semicolon list of signed header names (to
 * signed, cap bytes). MD_EINVAL when there are too many headers or names too long. */
int stg_sigv4_canonical_request(const stg_sigv4_request *req, md_buf *b, char *signed_headers,
                                size_t signed_cap, md_error *err);

/* The Authorization header value ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...") for a request made at amz_date ("20130524T000000Z", which must also be the
 * signed x-amz-date header). out gets at most cap bytes; MD_ELIMIT when it does not fit. */
int stg_sigv4_authorization(const stg_sigv4_request *req, const stg_sigv4_creds *creds,
                            const char *amz_date, char *out, size_t cap, md_error *err);

/* ---- Presigned URLs ---- */

#define STG_SIGV4_EXPIRES_MAX 604800 /* S3's longest presigned URL life: 7 days */

/* A request authenticated by its query string ("presigned URL"), for a client that has no keys.
 * Only host is signed and the payload is UNSIGNED-PAYLOAD, so any client can send it. */
typedef struct stg_sigv4_presign_request {
    const char *method;        /* "GET" */
    const char *endpoint;      /* "https://examplebucket.s3.amazonaws.com": scheme://host[:port] */
    const char *host;          /* the Host header the client will send ("host[:port]") */
    const char *path;          /* the canonical URI, already URI-encoded ("/test.txt") */
    const char *session_token; /* AWS_SESSION_TOKEN, sent (and signed) as X-Amz-Security-Token;
                                  NULL for none */
    int expires_s;             /* X-Amz-Expires: 1..STG_SIGV4_EXPIRES_MAX */
} stg_sigv4_presign_request;

/* The URL endpoint + path + "?X-Amz-Algorithm=...&X-Amz-Signature=<hex>" of a request signed at
 * amz_date ("20130524T000000Z"; valid from then for expires_s seconds). All borrowed. out gets
 * at most cap bytes; MD_ELIMIT when it does not fit, MD_EINVAL for a bad expiry or date. */
int stg_sigv4_presign(const stg_sigv4_presign_request *p, const stg_sigv4_creds *creds,
                      const char *amz_date, char *out, size_t cap, md_error *err);

#endif
