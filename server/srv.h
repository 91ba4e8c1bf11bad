/*
 * srv.h — the entry points of the `morphd` program's subcommands. server/morphd.c dispatches on
 * argv[1]; each subcommand parses its own flags (so `morphd api --help` lists exactly what the
 * api takes) and returns the process exit code. These are the only functions allowed to decide
 * how the process ends.
 */
#ifndef SERVER_SRV_H
#define SERVER_SRV_H

/* argv[0] is the subcommand name ("api", "worker"). Return 0 on a clean stop (SIGTERM/SIGINT
 * included), md_err_exit_code() of the failure otherwise. */
int srv_api_main(int argc, char **argv);
int srv_worker_main(int argc, char **argv);
/* keygen_main.c: `morphd keygen OWNER` and `morphd hash-key OWNER` (api keys). */
int srv_keygen_main(int argc, char **argv);
int srv_hash_key_main(int argc, char **argv);

#endif
