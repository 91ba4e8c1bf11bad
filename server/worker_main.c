/*
 * worker_main.c — `morphd worker`: flags, signals and logging around jq_worker_run (jobs/).
 *
 * Main thread only. SIGTERM and SIGINT set a flag the worker loop polls at least once a second
 * (its Redis reads block for at most 1 s); the loop then stops reading, finishes the batch it
 * holds and returns, and the process exits 0. SIGPIPE is ignored so a Redis connection closed
 * under a write is an error to handle, not a death.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/worker.h"
#include "base/md.h"
#include "server/srv.h"

/* Set by the signal handler, read by the worker's threads: a lock-free atomic (worker.h). */
static atomic_int stop_requested;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2,
               "the stop flag must be lock-free to be set in a signal handler");

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f, "Usage: morphd worker [options]\n"
           "\n"
           "Renders queued jobs: one engine, created once and kept warm; jobs are claimed from\n"
           "the Redis stream {prefix}jobs (consumer group workers), batched, rendered in one\n"
           "engine batch; their frames, analysis outputs (spec.outputs), manifest.json and\n"
           "session.log are written to storage.\n"
           "\n"
           "Options:\n"
           "      --redis URL             redis://HOST:PORT or unix:///path/to/redis.sock\n"
           "                              (redis://127.0.0.1:6379)\n"
           "      --storage URL           object storage, file:///abs/dir or s3://BUCKET[/PREFIX]\n"
           "                              (required); s3:// reads AWS_ACCESS_KEY_ID,\n"
           "                              AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION\n"
           "                              (us-east-1) and MORPHD_S3_ENDPOINT (http://HOST:PORT;\n"
           "                              AWS when unset)\n"
           "      --prefix P              Redis key prefix (morphd:)\n"
           "      --name NAME             consumer name, unique per worker (HOSTNAME-PID)\n"
           "      --engine cpu|cuda|auto  render engine (auto: CUDA when present, else CPU)\n"
           "      --threads N             CPU engine threads, 0: one per core (0)\n"
           "      --batch-window-ms MS    after the first job, wait this long for more (5)\n"
           "      --batch-max-frames N    frame budget of one engine batch (2048)\n"
           "      --batch-max-jobs N      most jobs in one engine batch (32)\n"
           "      --face-cache-mb MB      cap of the worker's cache of library faces (parsed,\n"
           "                              textures decoded, mip levels built), MiB; 0: no\n"
           "                              cache (512)\n"
           "      --gpu-texture-cache-mb MB\n"
           "                              device memory the CUDA engine keeps library faces'\n"
           "                              textures in across batches, so a face used by many\n"
           "                              jobs is uploaded once; at most a quarter of the GPU's\n"
           "                              free memory; MiB; 0: upload them with every batch\n"
           "                              (2048; the CPU engine ignores it)\n"
           "      --lease-ms MS           idle time after which an entry held by a stopped\n"
           "                              worker is reclaimed by another (30000)\n"
           "      --max-attempts N        a job is dead-lettered when this many of its runs\n"
           "                              alone crashed the worker with a fatal signal (3),\n"
           "                              or 3 x N runs alone ended with the worker killed\n"
           "                              with no fault recorded (SIGKILL, out of memory); a\n"
           "                              death in a shared batch only makes each job of it\n"
           "                              run alone from then on\n"
           "      --retention-s S         how long finished job records are kept (604800)\n"
           "      --drain-s S             on SIGTERM, exit within about S seconds (20)\n"
           "      --janitor-interval-s S  every S seconds, delete the stored objects of jobs\n"
           "                              whose records expired (one worker at a time);\n"
           "                              0: never (60)\n"
           "      --live-pairs N          face pairs the live lane keeps loaded for\n"
           "                              GET /faces/{a}/morph/{b}.png (its own thread and\n"
           "                              engine); 0: this worker renders no live frames (4)\n"
           "      --heartbeat-ms MS       heartbeat period, at most half the lease\n"
           "                              (1000, or a third of the lease when shorter)\n"
           "      --health-file PATH      set PATH's modification time at each heartbeat\n"
           "                              that reaches Redis, remove it on exit: a container\n"
           "                              health check reads its age ($MORPHD_HEALTH_FILE;\n"
           "                              none when unset)\n"
           "      --limit NAME=VALUE      raise or lower an input limit (repeatable), see below\n"
           "      --log-level LEVEL       debug, info, warn or error on stderr (info)\n"
           "  -h, --help                  this text\n"
           "\n"
           "Signals: SIGTERM or SIGINT stop reading new jobs and drain: frames keep rendering\n"
           "for 40%% of --drain-s, frames in flight finish, jobs with every frame done are\n"
           "finished, the others go back to the queue (not counted as an attempt) for another\n"
           "worker, and the worker exits 0 (an analysis output already running is finished\n"
           "first).\n"
           "\n"
           "Environment (tests only): MORPHD_FAULT_CRASH_LABEL=TEXT makes the worker abort()\n"
           "when it begins rendering any job whose spec label is TEXT, to test reclaiming and\n"
           "dead-lettering. Never set it in production.\n"
           "\n"
           "Limits (NAME, default, meaning):\n");
    md_limits_print_help(f);
    fprintf(f, "\nExit status: 0 after a clean stop, 1 failure, 2 bad usage.\n");
}

enum {
    OPT_REDIS = 256,
    OPT_STORAGE,
    OPT_PREFIX,
    OPT_NAME,
    OPT_ENGINE,
    OPT_THREADS,
    OPT_WINDOW,
    OPT_MAX_FRAMES,
    OPT_MAX_JOBS,
    OPT_FACE_CACHE,
    OPT_GPU_TEX_CACHE,
    OPT_LEASE,
    OPT_ATTEMPTS,
    OPT_RETENTION,
    OPT_HEARTBEAT,
    OPT_DRAIN,
    OPT_JANITOR,
    OPT_LIVE_PAIRS,
    OPT_HEALTH_FILE,
    OPT_LIMIT,
    OPT_LOG_LEVEL,
};

static int parse_long(const char *flag, const char *text, long min, long max, long *out,
                      md_error *err)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return md_fail(err, MD_EINVAL, "%s: '%s' is not a whole number from %ld to %ld", flag, text,
                       min, max);
    *out = v;
    return 0;
}

/* Returns 0, 1 for --help, or an error code. */
static int parse_options(int argc, char **argv, jq_worker_config *cfg, md_error *err)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, OPT_REDIS},
        {"storage", required_argument, NULL, OPT_STORAGE},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"name", required_argument, NULL, OPT_NAME},
        {"engine", required_argument, NULL, OPT_ENGINE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"batch-window-ms", required_argument, NULL, OPT_WINDOW},
        {"batch-max-frames", required_argument, NULL, OPT_MAX_FRAMES},
        {"batch-max-jobs", required_argument, NULL, OPT_MAX_JOBS},
        {"face-cache-mb", required_argument, NULL, OPT_FACE_CACHE},
        {"gpu-texture-cache-mb", required_argument, NULL, OPT_GPU_TEX_CACHE},
        {"lease-ms", required_argument, NULL, OPT_LEASE},
        {"max-attempts", required_argument, NULL, OPT_ATTEMPTS},
        {"retention-s", required_argument, NULL, OPT_RETENTION},
        {"drain-s", required_argument, NULL, OPT_DRAIN},
        {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT},
        {"janitor-interval-s", required_argument, NULL, OPT_JANITOR},
        {"live-pairs", required_argument, NULL, OPT_LIVE_PAIRS},
        {"health-file", required_argument, NULL, OPT_HEALTH_FILE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    long v = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case OPT_REDIS:
            cfg->redis_url = optarg;
            break;
        case OPT_STORAGE:
            cfg->storage_url = optarg;
            break;
        case OPT_PREFIX:
            cfg->prefix = optarg;
            break;
        case OPT_NAME:
            cfg->name = optarg;
            break;
        case OPT_ENGINE:
            if (strcmp(optarg, "cpu") == 0)
                cfg->engine = ENG_KIND_CPU;
            else if (strcmp(optarg, "cuda") == 0)
                cfg->engine = ENG_KIND_CUDA;
            else if (strcmp(optarg, "auto") == 0)
                cfg->engine = ENG_KIND_AUTO;
            else
                rc = md_fail(err, MD_EINVAL, "--engine: '%s' is not cpu, cuda or auto", optarg);
            break;
        case OPT_THREADS:
            if ((rc = parse_long("--threads", optarg, 0, 1024, &v, err)) == 0)
                cfg->threads = (int)v;
            break;
        case OPT_WINDOW:
            if ((rc = parse_long("--batch-window-ms", optarg, 0, 10000, &v, err)) == 0)
                cfg->batch_window_ms = (int)v;
            break;
        case OPT_MAX_FRAMES:
            if ((rc = parse_long("--batch-max-frames", optarg, 1, 1000000, &v, err)) == 0)
                cfg->batch_max_frames = (uint32_t)v;
            break;
        case OPT_MAX_JOBS:
            if ((rc = parse_long("--batch-max-jobs", optarg, 1, 4096, &v, err)) == 0)
                cfg->batch_max_jobs = (uint32_t)v;
            break;
        case OPT_FACE_CACHE:
            if ((rc = parse_long("--face-cache-mb", optarg, 0, JQ_FACE_CACHE_MB_MAX, &v, err)) == 0)
                cfg->face_cache_bytes = (uint64_t)v << 20;
            break;
        case OPT_GPU_TEX_CACHE:
            if ((rc = parse_long("--gpu-texture-cache-mb", optarg, 0, JQ_GPU_TEXTURE_CACHE_MB_MAX,
                                 &v, err)) == 0)
                cfg->gpu_texture_cache_bytes = (uint64_t)v << 20;
            break;
        case OPT_LEASE:
            if ((rc = parse_long("--lease-ms", optarg, 100, 86400000, &v, err)) == 0)
                cfg->lease_ms = (int)v;
            break;
        case OPT_ATTEMPTS:
            if ((rc = parse_long("--max-attempts", optarg, 1, 1000, &v, err)) == 0)
                cfg->max_attempts = (int)v;
            break;
        case OPT_RETENTION:
            if ((rc = parse_long("--retention-s", optarg, 1, 315360000, &v, err)) == 0)
                cfg->retention_s = (int)v;
            break;
        case OPT_DRAIN:
            if ((rc = parse_long("--drain-s", optarg, 0, 3600, &v, err)) == 0)
                cfg->drain_s = (double)v;
            break;
        case OPT_HEARTBEAT:
            if ((rc = parse_long("--heartbeat-ms", optarg, 10, 3600000, &v, err)) == 0)
                cfg->heartbeat_ms = (int)v;
            break;
        case OPT_JANITOR:
            if ((rc = parse_long("--janitor-interval-s", optarg, 0, 86400, &v, err)) == 0)
                cfg->janitor_interval_s = (int)v;
            break;
        case OPT_LIVE_PAIRS:
            if ((rc = parse_long("--live-pairs", optarg, 0, 64, &v, err)) == 0)
                cfg->live_pairs = (int)v;
            break;
        case OPT_HEALTH_FILE:
            cfg->health_file = optarg[0] != '\0' ? optarg : NULL;
            break;
        case OPT_LIMIT:
            if ((rc = md_limits_set(&cfg->limits, optarg, err)) != 0)
                md_error_prefix(err, "--limit: ");
            break;
        case OPT_LOG_LEVEL: {
            md_log_level level;
            if ((rc = md_log_level_parse(optarg, &level, err)) == 0)
                md_log_set_stderr_level(level);
            else
                md_error_prefix(err, "--log-level: ");
            break;
        }
        case 'h':
            usage(stdout);
            return 1;
        case ':':
            rc = md_fail(err, MD_EINVAL, "option %s needs a value", argv[optind - 1]);
            break;
        default:
            rc = md_fail(err, MD_EINVAL, "unknown option '%s' (see morphd worker --help)",
                         argv[optind - 1]);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return md_fail(err, MD_EINVAL, "unexpected argument '%s' (see morphd worker --help)",
                       argv[optind]);
    return 0;
}

int srv_worker_main(int argc, char **argv)
{
    jq_worker_config cfg;
    jq_worker_config_default(&cfg);
    cfg.redis_url = "redis://127.0.0.1:6379";
    const char *health_file = getenv("MORPHD_HEALTH_FILE");
    cfg.health_file = health_file != NULL && health_file[0] != '\0' ? health_file : NULL;
    md_log_set_stderr_level(MD_LOG_INFO);
    md_error err;
    md_error_clear(&err);

    int rc = parse_options(argc, argv, &cfg, &err);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "morphd worker: %s\n", err.msg);
        return 2;
    }
    char name[256];
    if (cfg.name == NULL) {
        char host[200] = "worker";
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "worker");
        host[sizeof host - 1] = '\0';
        snprintf(name, sizeof name, "%s-%ld", host, (long)getpid());
        cfg.name = name;
    }
    rc = jq_worker_config_check(&cfg, &err);
    if (rc != 0) {
        fprintf(stderr, "morphd worker: %s\n", err.msg);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    rc = jq_worker_run(&cfg, &stop_requested, &err);
    if (rc != 0) {
        md_log(MD_LOG_ERROR, "%s", err.msg);
        return md_err_exit_code(rc);
    }
    return 0;
}
