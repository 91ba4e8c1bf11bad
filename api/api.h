/*
 * api.h — `morphd api`: the REST front of the job server (docs/server.md, openapi.yaml).
 *
 * One libuv loop runs everything: libmicrohttpd without a thread of its own (its epoll fd is
 * watched with uv_poll), Redis through hiredis' async API, mesh parsing and storage on the libuv
 * thread pool. server/api_main.c parses the command line into an api_config and calls api_run,
 * which returns when SIGTERM or SIGINT has stopped the server and every handle is closed.
 */
#ifndef API_API_H
#define API_API_H

#include "base/md.h"

typedef struct api_config {
    const char *listen;        /* "HOST:PORT" (IPv4 or [IPv6]); borrowed */
    const char *redis_url;     /* redis://HOST:PORT or unix:///path.sock; borrowed */
    const char *storage_url;   /* file:///abs/dir; borrowed */
    const char *prefix;        /* Redis key prefix ("morphd:"); borrowed */
    const char *api_keys_file; /* lines "owner:sha256:<hex>"; NULL: no authentication */
    int allow_anonymous;       /* serve a non-loopback --listen without api keys */
    int artifact_redirect_s;   /* --artifact-redirect: 0 off; else presigned URLs' life, s */
    md_limits limits;
} api_config;

#define API_ARTIFACT_REDIRECT_DEFAULT_S 300 /* --artifact-redirect without a value */
#define API_ARTIFACT_REDIRECT_MAX_S 604800  /* 7 days: S3's longest presigned URL */

/* Serves until SIGTERM/SIGINT; 0 on a clean stop, a negative MD_E* code (with err filled) when
 * the server could not start. */
int api_run(const api_config *cfg, md_error *err);

/* ---- API keys (api/keys.c): for `morphd keygen` and `morphd hash-key` ---- */

#define API_KEY_PREFIX "mk_"    /* marks a morphd key in a config or a leak scanner */
#define API_KEY_RANDOM_BYTES 32 /* from getrandom */
#define API_KEY_DIGEST 32       /* SHA-256 */
#define API_KEY_TEXT_MAX 64     /* "mk_" + 43 base64url characters + NUL fits */

/* A new random key, "mk_" + 43 base64url characters. MD_EIO (with err) if getrandom fails. */
int api_key_new(char out[API_KEY_TEXT_MAX], md_error *err);
/* The lowercase hex SHA-256 of the key's len bytes: what a keys file line holds after sha256:. */
void api_key_hash_hex(const char *key, size_t len, char out[API_KEY_DIGEST * 2 + 1]);
/* 1 when owner is 1..64 bytes of [A-Za-z0-9._-], the owners a keys file accepts. */
int api_owner_valid(const char *owner);

#endif
