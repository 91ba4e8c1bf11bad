/*
 * api_main.c — `morphd api`: the command line of the REST front (docs/server.md, Processes).
 * Parses flags into an api_config and hands over to api_run (api/api.h), which owns the loop
 * until SIGTERM/SIGINT. Main thread only; the only place that decides the api's exit code.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "jobs/queue.h"
#include "server/srv.h"

static void api_usage(FILE *f)
{
    fprintf(
        f, "Usage: morphd api [options]\n"
           "\n"
           "Serves the REST API of the job server: POST /jobs (multipart: source, target,\n"
           "source_texture, target_texture, frame_on, spec; render jobs: mesh, texture, spec;\n"
           "transform jobs: base, from, to, their textures, spec; average jobs: mesh and\n"
           "texture repeated, spec), GET /jobs, GET /jobs/{id}, GET /jobs/{id}/events,\n"
           "GET /jobs/{id}/artifacts/{name}, POST /jobs/{id}/cancel, DELETE /jobs/{id}, the\n"
           "face library (POST /faces with mesh and texture parts, GET /faces, GET and DELETE\n"
           "/faces/{id}; morph jobs name faces by spec.source_face / spec.target_face),\n"
           "GET /healthz, /readyz and /metrics (see openapi.yaml). Uploaded meshes are parsed\n"
           "and checked here; workers (`morphd worker`) render the jobs.\n"
           "\n"
           "Options:\n"
           "      --listen HOST:PORT   address to serve on (127.0.0.1:8080; [::1]:8080 for IPv6;\n"
           "                           port 0 picks a free port, printed at start)\n"
           "      --redis URL          redis://HOST:PORT or unix:///path/to/redis.sock\n"
           "                           (redis://127.0.0.1:6379)\n"
           "      --storage URL        object storage shared with the workers: file:///abs/dir\n"
           "                           or s3://BUCKET[/PREFIX] (file:///var/lib/morphd); s3://\n"
           "                           reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
           "                           AWS_SESSION_TOKEN, AWS_REGION (us-east-1) and\n"
           "                           MORPHD_S3_ENDPOINT (http://HOST:PORT; AWS when unset)\n"
           "      --prefix P           prefix of every Redis key (" JQ_PREFIX_DEFAULT ")\n"
           "      --api-keys FILE      lines 'owner:sha256:<64 hex>' (`morphd keygen OWNER`\n"
           "                           prints a key and its line): every /jobs request then\n"
           "                           needs 'Authorization: Bearer <key>' and sees only its\n"
           "                           owner's jobs; without it there is no authentication and\n"
           "                           every job belongs to 'anonymous'\n"
           "      --allow-anonymous    serve without --api-keys on an address other machines\n"
           "                           reach; without it such a --listen (0.0.0.0, a LAN\n"
           "                           address) needs --api-keys and the api exits 2\n"
           "      --artifact-redirect [SECONDS]\n"
           "                           answer GET /jobs/{id}/artifacts/{name} with 307 to a\n"
           "                           presigned storage URL valid SECONDS (1..604800; 300\n"
           "                           when omitted) instead of streaming the bytes; only\n"
           "                           s3:// can presign (clients must reach its endpoint),\n"
           "                           file:// streams as without it. Off by default\n"
           "      --limit NAME=VALUE   raise or lower a limit (repeatable; k/M/G suffixes), below\n"
           "      --threads N          threads parsing uploads (UV_THREADPOOL_SIZE; default 4)\n"
           "      --log-level LEVEL    debug, info, warn or error on stderr (warn)\n"
           "  -h, --help               this text\n"
           "\n"
           "Limits (NAME, default, meaning):\n");
    md_limits_print_help(f);
    fprintf(f, "\nUploads are spooled in $TMPDIR/morphd-api-XXXXXX (TMPDIR default /tmp), locked\n"
               "for the process's life and removed at exit. At start the api removes the ones\n"
               "whose api is gone (killed, crashed) and lock-less ones over an hour old.\n"
               "\nSIGTERM/SIGINT: stop accepting, answer the requests in flight, exit 0.\n"
               "Exit status: 0 clean stop, 1 failure, 2 bad usage.\n");
}

enum {
    OPT_LISTEN = 256,
    OPT_REDIS,
    OPT_STORAGE,
    OPT_PREFIX,
    OPT_API_KEYS,
    OPT_ALLOW_ANONYMOUS,
    OPT_ARTIFACT_REDIRECT,
    OPT_LIMIT,
    OPT_THREADS,
    OPT_LOG_LEVEL,
};

int srv_api_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"storage", required_argument, NULL, OPT_STORAGE},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"api-keys", required_argument, NULL, OPT_API_KEYS},
        {"allow-anonymous", no_argument, NULL, OPT_ALLOW_ANONYMOUS},
        {"artifact-redirect", optional_argument, NULL, OPT_ARTIFACT_REDIRECT},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    api_config cfg = {
        .listen = "127.0.0.1:8080",
        .redis_url = "redis://127.0.0.1:6379",
        .storage_url = "file:///var/lib/morphd",
        .prefix = JQ_PREFIX_DEFAULT,
    };
    md_limits_default(&cfg.limits);
    md_error err;
    md_error_clear(&err);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            cfg.listen = optarg;
            break;
        case OPT_REDIS:
            cfg.redis_url = optarg;
            break;
        case OPT_STORAGE:
            cfg.storage_url = optarg;
            break;
        case OPT_PREFIX:
            cfg.prefix = optarg;
            break;
        case OPT_API_KEYS:
            cfg.api_keys_file = optarg;
            break;
        case OPT_ALLOW_ANONYMOUS:
            cfg.allow_anonymous = 1;
            break;
        case OPT_ARTIFACT_REDIRECT: {
            /* getopt gives an optional value only as --artifact-redirect=N; a following word
             * that starts with a digit is taken as the value too (no option or argument of
             * `morphd api` starts with one). */
            const char *v = optarg;
            if (v == NULL && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
                v = argv[optind++];
            if (v == NULL) {
                cfg.artifact_redirect_s = API_ARTIFACT_REDIRECT_DEFAULT_S;
                break;
            }
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end != '\0' || n < 1 || n > API_ARTIFACT_REDIRECT_MAX_S) {
                fprintf(stderr,
                        "morphd api: --artifact-redirect: '%s' is not a number of seconds "
                        "1..%d\n",
                        v, API_ARTIFACT_REDIRECT_MAX_S);
                return 2;
            }
            cfg.artifact_redirect_s = (int)n;
            break;
        }
        case OPT_LIMIT:
            if (md_limits_set(&cfg.limits, optarg, &err) != 0) {
                fprintf(stderr, "morphd api: --limit: %s\n", err.msg);
                return 2;
            }
            break;
        case OPT_THREADS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || n < 1 || n > 1024) {
                fprintf(stderr, "morphd api: --threads: '%s' is not a number 1..1024\n", optarg);
                return 2;
            }
            /* libuv reads it when the pool first starts, which is after this. */
            setenv("UV_THREADPOOL_SIZE", optarg, 1);
            break;
        }
        case OPT_LOG_LEVEL: {
            md_log_level level;
            md_error lerr;
            if (md_log_level_parse(optarg, &level, &lerr) != 0) {
                fprintf(stderr, "morphd api: --log-level: %s\n", lerr.msg);
                return 2;
            }
            md_log_set_stderr_level(level);
            break;
        }
        case 'h':
            api_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "morphd api: option %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "morphd api: unknown option '%s' (see morphd api --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "morphd api: unexpected argument '%s' (see morphd api --help)\n",
                argv[optind]);
        return 2;
    }
    int rc = api_run(&cfg, &err);
    if (rc != 0) {
        fprintf(stderr, "morphd api: %s\n", err.msg);
        return md_err_exit_code(rc);
    }
    return 0;
}
