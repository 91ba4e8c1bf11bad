/*
 * morphd.c — main() of the `morphd` server program: `morphd api` (the HTTP front on a libuv
 * loop), `morphd worker` (one engine, kept warm, fed from the Redis queue) and the api-key
 * helpers `morphd keygen` and `hash-key`. Dispatch only; each subcommand owns its flags and its
 * lifetime (server/srv.h).
 */
#include <stdio.h>
#include <string.h>

#include "base/md.h"
#include "server/srv.h"
#include "version.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: morphd COMMAND [OPTIONS]\n"
               "\n"
               "commands:\n"
               "  api       serve the REST API (POST /jobs, GET /jobs/{id}, /metrics, ...)\n"
               "  worker    render queued jobs with one engine (one worker per GPU)\n"
               "  keygen    print a new API key and its line for `api --api-keys FILE`\n"
               "  hash-key  print the --api-keys line of a key read on stdin\n"
               "\n"
               "  morphd COMMAND --help   options of a command\n"
               "  morphd --version        print the version\n"
               "\n"
               "Both need a Redis server (--redis redis://HOST:PORT or unix:///path.sock) and the\n"
               "same object storage (--storage file:///abs/dir). `make run` starts all three.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("morphd %s\n", MORPHD_VERSION);
        return 0;
    }
    if (strcmp(cmd, "api") == 0) {
        md_log_set_program("morphd api");
        return srv_api_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "worker") == 0) {
        md_log_set_program("morphd worker");
        return srv_worker_main(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "keygen") == 0)
        return srv_keygen_main(argc - 1, argv + 1);
    if (strcmp(cmd, "hash-key") == 0)
        return srv_hash_key_main(argc - 1, argv + 1);
    fprintf(
        stderr,
        "morphd: unknown command '%s' (want api, worker, keygen or hash-key; see morphd --help)\n",
        cmd);
    return 2;
}
