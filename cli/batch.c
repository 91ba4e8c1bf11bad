/*
 * batch.c — `morph batch DIR -o OUT`: every unordered pair of the meshes in DIR (or the pairs a
 * PAIRS.csv lists), each into OUT/<source>__<target>/, --jobs at a time, then OUT/summary.csv.
 * A pair runs through `morph run`'s own code (cli_run_job). With --server, the pending pairs go
 * to the server as ONE batch of stored faces (batch_server.c: POST /faces, POST /batches, each
 * job fetched as it ends), in the parent, before any child; when the server makes no batch (an
 * older server, or a pair it refuses: a batch is all or nothing) each pair is a job of its own
 * through the client commands' code (client_submit, client_wait_job, client_fetch_job), so a
 * bad pair fails alone. Options the batch does not know are the job's options and go to every
 * pair unchanged (checked once, before anything runs).
 *
 * Processes: each pair runs in a child forked from the batch's main thread, which starts no
 * threads itself. morph run keeps process-wide state (the log file, its engine threads), so a
 * child per pair keeps pairs apart, and a pair that crashes or runs out of memory fails alone.
 * The child writes its error message into a pipe and exits 0 or 1; the parent reaps whichever
 * child ends first, reads its message (shorter than a pipe's buffer, so the child never blocks
 * on it) and starts the next pair. A pair whose folder already holds a complete manifest is
 * skipped (batch_pair_complete), which makes an interrupted batch resumable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/cli.h"
#include "cli/client.h"

#define BATCH_MAX_JOBS 256

static void batch_usage(FILE *f)
{
    md_limits lim;
    md_limits_default(&lim);
    fprintf(
        f,
        "Usage: morph batch DIR -o OUT [--pairs all|PAIRS.csv] [--jobs N] [--server URL]\n"
        "                   [job options]\n"
        "\n"
        "Morphs every unordered pair of the meshes in DIR (.obj, .fbx, .glb, .gltf, .ply;\n"
        "N meshes give N*(N-1)/2 pairs, the earlier file name as the source), each into its\n"
        "own folder OUT/<source>__<target>/ with what `morph run` writes there, and writes\n"
        "OUT/summary.csv: pair,status,seconds,mean_total_displacement,mean_delta_e00,message\n"
        "(status ok, failed or skipped; the means from the pair's statistics.csv when the\n"
        "outputs include csv, else empty). A mesh's texture is the one its material (MTL)\n"
        "names, else an image beside it with the same name (face1.obj + face1.png or .jpg).\n"
        "\n"
        "Resumable: a pair whose folder holds a complete manifest.json (every frame and output\n"
        "it lists present with its size) is skipped, so running the same command again\n"
        "finishes an interrupted batch. A pair that fails (meshes of different topology, a\n"
        "bad file) is reported in summary.csv and the other pairs still run.\n"
        "\n"
        "Options:\n"
        "  -o, --output OUT           output folder (created)\n"
        "      --pairs all|PAIRS.csv  all pairs (default), or the pairs a CSV file lists: one\n"
        "                             SOURCE,TARGET line of file names in DIR per pair (an\n"
        "                             optional source,target header; # comments)\n"
        "      --jobs N               pairs at once (default: the number of cores); locally\n"
        "                             each pair's engine gets cores/N threads unless\n"
        "                             --threads is given\n"
        "      --server URL           run the pairs on this morphd server instead of on this\n"
        "                             machine: each mesh stored once as a face (POST /faces),\n"
        "                             one batch of the pairs (POST /batches), each pair's\n"
        "                             outputs fetched as its job ends; a server that refuses\n"
        "                             the batch gets a job per pair (said on stderr)\n"
        "      --api-key KEY          bearer key for --server (default $MORPHD_API_KEY)\n"
        "      --limit NAME=VALUE     a limit (see morph run --help), e.g. max_batch_meshes\n"
        "                             (%llu) and max_batch_pairs (%llu)\n"
        "  -q, --quiet                no progress and no summary line (failed pairs are\n"
        "                             still listed on stderr)\n"
        "  -h, --help                 this text\n"
        "\n"
        "Job options: any option of `morph run` (locally) or `morph submit` (with --server)\n"
        "that shapes the job, e.g. --frames 21 --size 256x256 --outputs all; see their --help.\n"
        "--source-texture, --target-texture and --replay do not apply to a batch. With\n"
        "--server, the texture a mesh's MTL names is sent as its texture part.\n"
        "\n"
        "Progress: a bar on stderr when it is a terminal, else a line per finished pair.\n"
        "Exit status: 0 every pair succeeded or was skipped, 1 a pair failed (the others\n"
        "still ran), 2 bad usage or bad input (the message says what and where).\n",
        (unsigned long long)lim.max_batch_meshes, (unsigned long long)lim.max_batch_pairs);
}

/* ---- Options ---- */

typedef struct batch_opts {
    const char *dir, *out, *pairs, *server, *api_key;
    long jobs;
    int quiet;
    int threads_given;
    md_limits lim;
    char **pass; /* the job's options, borrowed from argv; owned array */
    int pass_count;
} batch_opts;

/* "--name=value" or "--name value": the value, advancing *i past it; NULL when missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || (arg[n] == '=' && name[1] == '-'));
}

static int parse_options(int argc, char **argv, batch_opts *o, md_error *err)
{
    o->pass = md_malloc_array((size_t)argc + 1, sizeof *o->pass);
    if (o->pass == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    const char *jobs = NULL;
    int positional_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dest = NULL;
        if (positional_only || a[0] != '-' || a[1] == '\0') {
            if (o->dir != NULL)
                return md_fail(err, MD_EINVAL, "expected one folder DIR, got '%s' and '%s'", o->dir,
                               a);
            o->dir = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            positional_only = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            batch_usage(stdout);
            return 1;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        const struct {
            const char *name;
            const char **dest;
        } valued[] = {{"-o", &o->out},   {"--output", &o->out},    {"--pairs", &o->pairs},
                      {"--jobs", &jobs}, {"--server", &o->server}, {"--api-key", &o->api_key}};
        const char *matched = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0] && matched == NULL; k++)
            if (is_option(a, valued[k].name)) {
                matched = valued[k].name;
                dest = valued[k].dest;
            }
        if (dest != NULL) {
            *dest = option_value(argc, argv, &i, matched);
            if (*dest == NULL)
                return md_fail(err, MD_EINVAL, "option %s needs a value", a);
            continue;
        }
        if (a[1] != '-')
            return md_fail(err, MD_EINVAL, "unknown option '%s' (see morph batch --help)", a);
        if (is_option(a, "--verbose") || is_option(a, "--json"))
            return md_fail(err, MD_EINVAL,
                           "%s does not apply to a batch: each pair's details are in its "
                           "session.log and manifest.json, the outcomes in summary.csv",
                           a);
        if (is_option(a, "--source-texture") || is_option(a, "--target-texture") ||
            is_option(a, "--replay"))
            return md_fail(err, MD_EINVAL,
                           "%s does not apply to a batch: each mesh's texture is the one its MTL "
                           "names or a same-named image beside it",
                           a);
        /* A job option: "--name=value" is one word, "--name value" two. */
        const char *eq = strchr(a, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - a) : strlen(a);
        o->threads_given |= name_len == 9 && strncmp(a, "--threads", 9) == 0;
        o->pass[o->pass_count++] = argv[i];
        if (eq == NULL) {
            if (i + 1 >= argc)
                return md_fail(err, MD_EINVAL, "option %s needs a value", a);
            o->pass[o->pass_count++] = argv[++i];
        }
        if (name_len == 7 && strncmp(a, "--limit", 7) == 0 &&
            md_limits_set(&o->lim, eq != NULL ? eq + 1 : argv[i], err) != 0)
            return md_error_prefix(err, "--limit: ");
    }
    if (o->dir == NULL)
        return md_fail(err, MD_EINVAL,
                       "expected the folder DIR of meshes (see morph batch --help)");
    if (o->out == NULL)
        return md_fail(err, MD_EINVAL, "-o OUT is required: the folder to write the pairs to");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->jobs = cores < 1 ? 1 : cores > BATCH_MAX_JOBS ? BATCH_MAX_JOBS : cores;
    if (jobs != NULL) {
        char *end;
        errno = 0;
        o->jobs = strtol(jobs, &end, 10);
        if (errno != 0 || end == jobs || *end != '\0' || o->jobs < 1 || o->jobs > BATCH_MAX_JOBS)
            return md_fail(err, MD_EINVAL, "--jobs: '%s' is not a number from 1 to %d", jobs,
                           BATCH_MAX_JOBS);
    }
    if (o->server == NULL && o->api_key != NULL)
        return md_fail(err, MD_EINVAL, "--api-key is for --server");
    return 0;
}

/* ---- One pair (in the child process) ---- */

/* argv for `morph run` or `morph submit` of pair p: the command's own words, the job options,
 * the textures, then "--" SOURCE TARGET; threads has 24 bytes. args has room for pass_count + 16
 * words. */
static int pair_argv(const batch_opts *o, const batch_set *set, const batch_pair *p,
                     const char *dir, char *threads, char **args)
{
    const batch_mesh *src = &set->meshes[p->source], *tgt = &set->meshes[p->target];
    int n = 0;
    if (o->server == NULL) {
        args[n++] = "run";
        args[n++] = "-q";
        args[n++] = "-o";
        args[n++] = (char *)dir;
        if (!o->threads_given) {
            long cores = sysconf(_SC_NPROCESSORS_ONLN);
            snprintf(threads, 24, "%ld", cores / o->jobs > 1 ? cores / o->jobs : 1);
            args[n++] = "--threads";
            args[n++] = threads;
        }
    } else {
        args[n++] = "submit";
        args[n++] = "--server";
        args[n++] = (char *)o->server;
        if (o->api_key != NULL) {
            args[n++] = "--api-key";
            args[n++] = (char *)o->api_key;
        }
    }
    for (int i = 0; i < o->pass_count; i++) {
        /* --limit is the batch's and morph run's; a server applies its own. */
        if (o->server != NULL && strncmp(o->pass[i], "--limit", 7) == 0) {
            i += strchr(o->pass[i], '=') == NULL;
            continue;
        }
        args[n++] = o->pass[i];
    }
    if (src->texture != NULL) {
        args[n++] = "--source-texture";
        args[n++] = src->texture;
    }
    if (tgt->texture != NULL) {
        args[n++] = "--target-texture";
        args[n++] = tgt->texture;
    }
    args[n++] = "--";
    args[n++] = src->path;
    args[n++] = tgt->path;
    args[n] = NULL;
    return n;
}

/* Submits, waits for and fetches one pair's job. */
static int pair_on_server(const batch_opts *o, int argc, char **argv, const char *dir,
                          md_error *err)
{
    char id[128];
    int rc = client_submit(argc, argv, 0, id, sizeof id, err);
    if (rc != 0)
        return rc;
    client cl = {.server_arg = o->server, .api_key_arg = o->api_key};
    rc = client_open(&cl, err);
    if (rc != 0)
        return rc;
    rc = client_wait_job(&cl, id, err);
    if (rc == 0)
        rc = client_fetch_job(&cl, id, dir, 1, err);
    if (rc != 0)
        md_error_prefix(err, "job %s: ", id);
    client_close(&cl);
    return rc;
}

/* Runs pair p (or with check_only, only checks its options) and returns 0 or an md error. */
static int pair_run(const batch_opts *o, const batch_set *set, const batch_pair *p, const char *dir,
                    int check_only, md_error *err)
{
    char threads[24];
    char **args = md_malloc_array((size_t)o->pass_count + 16, sizeof *args);
    if (args == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    int argc = pair_argv(o, set, p, dir, threads, args);
    int rc;
    if (o->server == NULL)
        rc = cli_run_job(argc, args, check_only, err);
    else if (check_only)
        rc = client_submit(argc, args, 1, NULL, 0, err);
    else
        rc = pair_on_server(o, argc, args, dir, err);
    md_free(args);
    return rc;
}

/* The child's whole life: quiet output, the pair, its message into fd, exit 0 or 1. _exit()
 * because the child must not return into the parent's loop or run its atexit handlers. */
__attribute__((noreturn)) static void child_main(const batch_opts *o, const batch_set *set,
                                                 const batch_pair *p, const char *dir, int fd)
{
    int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
        dup2(null_fd, STDOUT_FILENO);
        dup2(null_fd, STDERR_FILENO);
        close(null_fd);
    }
    md_error err;
    md_error_clear(&err);
    int rc = pair_run(o, set, p, dir, 0, &err);
    if (rc != 0 && err.msg[0] == '\0')
        snprintf(err.msg, sizeof err.msg, "%s", md_strerror(rc));
    if (rc != 0) {
        ssize_t w = write(fd, err.msg, strlen(err.msg));
        (void)w;
    }
    _exit(rc == 0 ? 0 : 1);
}

/* ---- The pool of children ---- */

typedef struct batch_slot {
    pid_t pid; /* 0: free */
    int fd;    /* read end of the child's message pipe */
    uint32_t pair;
    double start;
} batch_slot;

typedef struct batch_run {
    const batch_opts *o;
    const batch_set *set;
    batch_result *results;
    batch_slot *slots;
    cli_progress *bar;
    uint32_t finished, to_run, failed, done;
    int lines; /* a line per finished pair (stderr is not a terminal) */
} batch_run;

static int pair_start(batch_run *b, uint32_t i, md_error *err)
{
    char name[512], dir[4096];
    batch_pair_name(b->set, &b->set->pairs[i], name, sizeof name);
    snprintf(dir, sizeof dir, "%s/%s", b->o->out, name);
    /* A manifest left by an earlier attempt must not make a half-done folder look complete. */
    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    unlink(manifest);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return md_fail(err, MD_EIO, "cannot create a pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return md_fail(err, MD_EIO, "cannot start a process for %s: %s", name, strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(b->o, b->set, &b->set->pairs[i], dir, fds[1]);
    }
    close(fds[1]);
    for (long k = 0; k < b->o->jobs; k++)
        if (b->slots[k].pid == 0) {
            b->slots[k] = (batch_slot){.pid = pid, .fd = fds[0], .pair = i, .start = md_now()};
            break;
        }
    return 0;
}

/* Pair i has its outcome (ok or failed): count it, move the bar, tell it. */
static void pair_finished(batch_run *b, uint32_t i)
{
    const batch_result *r = &b->results[i];
    if (r->status == BATCH_OK)
        b->done++;
    else
        b->failed++;
    b->finished++;
    cli_progress_tick(b->bar);
    if (b->lines) {
        char name[512];
        batch_pair_name(b->set, &b->set->pairs[i], name, sizeof name);
        fprintf(stderr, "morph batch: [%u/%u] %s %s (%.2f s)%s%s\n", b->finished, b->to_run, name,
                r->status == BATCH_OK ? "ok" : "failed", r->seconds,
                r->status == BATCH_OK ? "" : ": ", r->status == BATCH_OK ? "" : r->message);
    }
}

static void pair_finished_cb(void *user, uint32_t i)
{
    pair_finished(user, i);
}

/* Waits for any child, records its pair's outcome and frees its slot. */
static void pair_reap(batch_run *b)
{
    int status;
    pid_t pid;
    do
        pid = waitpid(-1, &status, 0);
    while (pid < 0 && errno == EINTR);
    if (pid < 0)
        return;
    batch_slot *s = NULL;
    for (long k = 0; k < b->o->jobs && s == NULL; k++)
        if (b->slots[k].pid == pid)
            s = &b->slots[k];
    if (s == NULL)
        return; /* not one of ours */
    batch_result *r = &b->results[s->pair];
    r->seconds = md_now() - s->start;
    size_t got = 0;
    while (got < sizeof r->message - 1) {
        ssize_t n = read(s->fd, r->message + got, sizeof r->message - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    r->message[got] = '\0';
    close(s->fd);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        r->status = BATCH_OK;
    } else {
        r->status = BATCH_FAILED;
        if (WIFSIGNALED(status))
            snprintf(r->message, sizeof r->message, "the pair's process died of signal %d (%s)",
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        else if (r->message[0] == '\0')
            snprintf(r->message, sizeof r->message, "the pair's process exited with status %d",
                     WEXITSTATUS(status));
    }
    pair_finished(b, s->pair);
    s->pid = 0;
}

/* Runs every pair without an outcome yet, --jobs at a time. */
static int run_pairs(batch_run *b, md_error *err)
{
    int rc = 0;
    uint32_t running = 0;
    for (uint32_t i = 0; i < b->set->pair_count; i++) {
        if (b->results[i].status != BATCH_NOT_RUN)
            continue;
        if (running == (uint32_t)b->o->jobs) {
            pair_reap(b);
            running--;
        }
        rc = pair_start(b, i, err);
        if (rc != 0)
            break;
        running++;
    }
    while (running > 0) {
        pair_reap(b);
        running--;
    }
    return rc;
}

/* With --server: the pending pairs as one batch on the server (batch_server.c). When the
 * server makes no batch (an older server, or one pair it refuses), says so and leaves the pairs
 * pending for run_pairs, a job per pair, where a bad pair fails alone. */
static int run_server_batch(batch_run *b, md_error *err)
{
    const batch_opts *o = b->o;
    uint32_t first = 0;
    while (b->results[first].status != BATCH_NOT_RUN)
        first++;
    char threads[24];
    char **args = md_malloc_array((size_t)o->pass_count + 16, sizeof *args);
    if (args == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    int argc = pair_argv(o, b->set, &b->set->pairs[first], o->out, threads, args);
    json_t *spec = NULL;
    const char *not_batchable = NULL;
    md_error why;
    int rc = client_submit_spec(argc, args, &spec, &not_batchable, &why);
    md_free(args);
    if (rc == 0 && not_batchable != NULL) {
        rc = 1;
        md_fail(&why, MD_EINVAL, "%s cannot go into a batch", not_batchable);
    } else if (rc == 0) {
        batch_server s = {.server = o->server,
                          .api_key = o->api_key,
                          .out = o->out,
                          .set = b->set,
                          .results = b->results,
                          .spec = spec,
                          .quiet = o->quiet,
                          .finished = pair_finished_cb,
                          .user = b};
        rc = batch_server_run(&s, &why);
    }
    json_decref(spec);
    if (rc < 0) {
        *err = why;
        return rc;
    }
    if (rc == 1) {
        fprintf(stderr,
                "morph batch: no batch on the server (%s); submitting each pair as its own "
                "job\n",
                why.msg);
    }
    return 0;
}

/* ---- The command ---- */

int cli_batch(int argc, char **argv)
{
    batch_opts o = {0};
    md_limits_default(&o.lim);
    batch_set set = {0};
    batch_result *results = NULL;
    batch_slot *slots = NULL;
    char *pairs_text = NULL;
    md_error err;
    md_error_clear(&err);
    md_log_set_program("morph batch");
    int failed = 0;

    int rc = parse_options(argc, argv, &o, &err);
    if (rc == 1) {
        rc = 0;
        goto done;
    }
    if (rc == 0)
        rc = batch_set_scan(o.dir, &o.lim, o.server != NULL, &set, &err);
    if (rc == 0 && (o.pairs == NULL || strcmp(o.pairs, "all") == 0)) {
        rc = batch_set_all_pairs(&set, &o.lim, &err);
    } else if (rc == 0) {
        size_t len = 0;
        rc = md_read_file(o.pairs, 16u << 20, &pairs_text, &len, &err);
        if (rc == 0)
            rc = batch_set_parse_pairs(&set, pairs_text, len, o.pairs, &o.lim, &err);
        else
            md_error_prefix(&err, "--pairs: ");
    }
    if (rc == 0)
        rc = md_mkdir_p(o.out, &err);
    if (rc == 0) { /* the job options, once, before anything runs */
        rc = pair_run(&o, &set, &set.pairs[0], o.out, 1, &err);
        if (rc != 0)
            md_error_prefix(&err, o.server ? "job options (as morph submit takes them): "
                                           : "job options (as morph run takes them): ");
    }
    if (rc != 0)
        goto done;

    results = md_calloc(set.pair_count, sizeof *results);
    slots = md_calloc((size_t)o.jobs, sizeof *slots);
    if (results == NULL || slots == NULL) {
        rc = md_fail(&err, MD_ENOMEM, "out of memory for %u pairs", set.pair_count);
        goto done;
    }
    batch_run b = {.o = &o, .set = &set, .results = results, .slots = slots};
    uint32_t skipped = 0;
    for (uint32_t i = 0; i < set.pair_count; i++) {
        char name[512], dir[4096];
        results[i].seconds = -1;
        batch_pair_name(&set, &set.pairs[i], name, sizeof name);
        snprintf(dir, sizeof dir, "%s/%s", o.out, name);
        if (batch_pair_complete(dir)) {
            results[i].status = BATCH_SKIPPED;
            snprintf(results[i].message, sizeof results[i].message, "complete in an earlier run");
            skipped++;
        }
    }
    b.to_run = set.pair_count - skipped;
    b.lines = !o.quiet && !isatty(STDERR_FILENO);
    if (!o.quiet && skipped > 0)
        fprintf(stderr, "morph batch: %u of %u pair(s) complete in %s already, skipped\n", skipped,
                set.pair_count, o.out);
    b.bar = cli_progress_new("pairs", b.to_run, !o.quiet);
    if (o.server != NULL && b.to_run > 0)
        rc = run_server_batch(&b, &err);
    if (rc == 0)
        rc = run_pairs(&b, &err);
    cli_progress_free(b.bar);
    if (!b.lines) /* failures are told even with -q */
        for (uint32_t i = 0; i < set.pair_count; i++)
            if (results[i].status == BATCH_FAILED) {
                char name[512];
                batch_pair_name(&set, &set.pairs[i], name, sizeof name);
                fprintf(stderr, "morph batch: %s failed: %s\n", name, results[i].message);
            }
    int summary_rc = batch_summary_write(o.out, &set, results, rc == 0 ? &err : &(md_error){0});
    if (rc == 0)
        rc = summary_rc;
    failed = b.failed;
    if (rc == 0 && !o.quiet)
        printf("morph batch: %u pair(s): %u done, %u skipped, %u failed; summary in "
               "%s/summary.csv\n",
               set.pair_count, b.done, skipped, b.failed, o.out);

done:
    if (rc != 0)
        fprintf(stderr, "morph batch: %s\n", err.msg);
    md_free(pairs_text);
    md_free(slots);
    md_free(results);
    md_free(o.pass);
    batch_set_free(&set);
    if (rc == 0 && failed > 0)
        return 1;
    return md_err_exit_code(rc);
}
