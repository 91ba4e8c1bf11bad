/*
 * main.c — the `morph` command: dispatches to a subcommand. Each subcommand parses its own
 * options and returns an exit code: 0 success, 1 failure, 2 bad usage or bad input.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "morph %s — morph two meshes of the same topology into rendered frames\n"
            "\n"
            "Usage:\n"
            "  morph run SOURCE TARGET -o OUT [options]   morph locally, no server needed\n"
            "  morph sample DIR                          write two small sample meshes with\n"
            "                                            textures to DIR (for trying morph run)\n"
            "  morph help [COMMAND]                      this text, or a command's options\n"
            "  morph --version\n"
            "\n"
            "`morph run --help` lists the options of a morph. Exit status: 0 success,\n"
            "1 failure, 2 bad usage or bad input (the message says what and where).\n",
            MORPHD_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cli_run(argc - 1, argv + 1);
    if (strcmp(cmd, "sample") == 0)
        return cli_sample(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("morph %s\n", MORPHD_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc >= 3 && strcmp(argv[2], "run") == 0) {
            char *args[] = {"run", "--help", NULL};
            return cli_run(2, args);
        }
        if (argc >= 3 && strcmp(argv[2], "sample") == 0) {
            char *args[] = {"sample", "--help", NULL};
            return cli_sample(2, args);
        }
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "morph: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
