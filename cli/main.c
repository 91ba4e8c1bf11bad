/*
 * main.c — the `morph` command: dispatches to a subcommand. Each subcommand parses its own
 * options and returns an exit code: 0 success, 1 failure, 2 bad usage or bad input.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "version.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
} command;

static const command commands[] = {
    {"run", cli_run},         {"sample", cli_sample}, {"transform", cli_transform},
    {"average", cli_average}, {"submit", cli_submit}, {"status", cli_status},
    {"wait", cli_wait},       {"fetch", cli_fetch},   {"cancel", cli_cancel},
    {"delete", cli_delete},   {"batch", cli_batch},
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "morph %s — morph two meshes of the same topology into rendered frames\n"
        "\n"
        "Usage:\n"
        "  morph run SOURCE TARGET -o OUT [options]   morph locally, no server needed;\n"
        "                                            --outputs all adds heatmaps, CSVs,\n"
        "                                            per-frame meshes and an MP4\n"
        "  morph batch DIR -o OUT [options]          morph every pair of the meshes in DIR\n"
        "                                            (N*(N-1)/2), in parallel, locally or\n"
        "                                            on a server (--server); resumable;\n"
        "                                            OUT/summary.csv lists every pair\n"
        "  morph sample DIR                          write two small sample meshes with\n"
        "                                            textures to DIR (for trying morph run)\n"
        "  morph transform BASE --from A --to B --amount K[,K2,...] -o OUT\n"
        "                                            BASE + K*(B - A): a face moved along the\n"
        "                                            direction from A to B, as OBJ and render\n"
        "  morph average M1 M2 ... [--mesh-weights W,...] -o OUT\n"
        "                                            the (weighted) average face, as OBJ and\n"
        "                                            render\n"
        "\n"
        "  morph submit SOURCE TARGET [options]      send a job to a morphd server, print its id\n"
        "  morph submit --render MESH [--turntable N]  a render job of one mesh\n"
        "  morph status ID [--json]                  a job's status, progress and artifacts\n"
        "  morph wait ID [--timeout S]               wait until the job finishes (exit 0 when\n"
        "                                            it succeeded)\n"
        "  morph fetch ID -o DIR                     download the job's artifacts (resumable)\n"
        "  morph cancel ID                           cancel a queued or running job\n"
        "  morph delete ID                           delete a job and its artifacts\n"
        "\n"
        "  morph help [COMMAND]                      this text, or a command's options\n"
        "  morph --version\n"
        "\n"
        "Server commands talk to --server URL (default $MORPHD_SERVER, else\n"
        "http://127.0.0.1:8080) with the bearer key --api-key or $MORPHD_API_KEY.\n"
        "`morph COMMAND --help` lists a command's options. Exit status: 0 success,\n"
        "1 failure, 2 bad usage or bad input (the message says what and where).\n",
        MORPHD_VERSION);
}

static const command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    const command *c = find(cmd);
    if (c != NULL)
        return c->fn(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("morph %s\n", MORPHD_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc >= 3) {
            c = find(argv[2]);
            if (c == NULL) {
                fprintf(stderr, "morph: unknown command '%s'\n\n", argv[2]);
                usage(stderr);
                return 2;
            }
            char *args[] = {(char *)c->name, "--help", NULL};
            return c->fn(2, args);
        }
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "morph: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
