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
    const char *api_keys_file; /* lines "owner:key"; NULL: no authentication; borrowed */
    md_limits limits;
} api_config;

/* Serves until SIGTERM/SIGINT; 0 on a clean stop, a negative MD_E* code (with err filled) when
 * the server could not start. */
int api_run(const api_config *cfg, md_error *err);

#endif
