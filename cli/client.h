/*
 * client.h — what the client commands (client.c, fetch.c) share: the --server/--api-key
 * options, job id checks, reading a job, and printing errors. Internal to cli/.
 */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <getopt.h>
#include <jansson.h>

#include "cli/http.h"
#include "base/md.h"

#define CLIENT_DEFAULT_SERVER "http://127.0.0.1:8080"

/* Long options every client command takes, after its own ones. */
enum { CLIENT_OPT_SERVER = 1000, CLIENT_OPT_API_KEY, CLIENT_OPT_JSON, CLIENT_OPT_TIMEOUT };
#define CLIENT_COMMON_LONGOPTS                                                                     \
    {"server", required_argument, NULL, CLIENT_OPT_SERVER},                                        \
        {"api-key", required_argument, NULL, CLIENT_OPT_API_KEY},                                  \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/* The help lines for the common options. */
#define CLIENT_COMMON_HELP                                                                         \
    "      --server URL         the morphd api (default $MORPHD_SERVER, else\n"                    \
    "                           " CLIENT_DEFAULT_SERVER ")\n"                                      \
    "      --api-key KEY        bearer API key (default $MORPHD_API_KEY; none when unset)\n"       \
    "  -h, --help               this text\n"

typedef struct client {
    char server[1024];
    const char *server_arg, *api_key_arg; /* from the command line, borrowed; NULL: env */
    http_client http;
} client;

/* Resolves server and key (options, then environment, then defaults), checks them and sets up
 * libcurl. On failure err says why (exit code 2). Pair with client_close(). */
int client_open(client *cl, md_error *err);
void client_close(client *cl);

/* What the commands that take one job id accept; which options each takes is in its longopts. */
typedef struct id_opts {
    const char *id;
    const char *output;  /* -o DIR (fetch) */
    const char *timeout; /* --timeout S (wait) */
    int json, quiet;
} id_opts;

/* Parses "CMD ID [options]" and checks the id. Returns 1 after printing help (exit 0). */
int client_id_parse(int argc, char **argv, const char *cmd, const char *shortopts,
                    const struct option *longopts, void (*usage)(FILE *), id_opts *o, client *cl,
                    md_error *err);

/* Job ids are 32 lowercase hex digits; checked before one goes into a URL. */
int client_job_id_check(const char *id, md_error *err);

/* GET /jobs/{id}: on 0, *job is the parsed object (caller json_decref()s) and r keeps the raw
 * answer (caller http_response_free()s). A non-2xx answer becomes http_problem()'s error. */
int client_job_get(const client *cl, const char *id, json_t **job, http_response *r, md_error *err);

/* Parses a 2xx answer's body as a JSON object. */
int client_json_object(const http_response *r, json_t **out, md_error *err);

/* The client commands as functions, for `morph batch --server` (they print nothing but what a
 * quiet command would, and return 0 or a negative md error with err saying why):
 * client_submit: `morph submit`'s argv (argv[0] the command's name; --server and --api-key among
 * the options); check_only parses and checks the options and sends nothing; on 0 id holds the
 * new job's id. client_wait_job: polls until the job finished; 0 when it succeeded.
 * client_fetch_job: downloads every artifact into dir (resumable, as `morph fetch`). */
int client_submit(int argc, char **argv, int check_only, char *id, size_t id_cap, md_error *err);
int client_wait_job(const client *cl, const char *id, md_error *err);
int client_fetch_job(const client *cl, const char *id, const char *dir, int quiet, md_error *err);
/* The spec JSON `morph submit` would send for argv (parsed and checked as client_submit does;
 * nothing is sent). *spec owned by the caller (json_decref). *not_batchable: NULL, or the
 * options a POST /batches body cannot carry (a file part, a per-job key), in words. */
int client_submit_spec(int argc, char **argv, json_t **spec, const char **not_batchable,
                       md_error *err);

/* Prints the error ("morph: 404 not-found: …" or "morph CMD: …" for usage errors) and maps the
 * code to the exit status. rc 0 prints nothing and returns 0. */
int client_exit(const char *cmd, int rc, const md_error *err);

/* Prints the usage error for an unknown option or a missing value. */
int client_bad_option(int c, char **argv, const char *cmd, md_error *err);

#endif
