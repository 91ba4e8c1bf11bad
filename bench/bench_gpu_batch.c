/*
 * bench_gpu_batch.c — engine throughput on batches of the default job: the ICT face pair with
 * the 2048² skin textures, 41 frames at 512², 4 samples, N copies of it in ONE eng_batch_run,
 * every frame encoded to PNG in the frame callback (as the worker does), on every core.
 *
 * For each batch size (default 1, 8, 64) it reports the median of --repeat runs: wall seconds,
 * frames per second end to end (PNG included), kernel µs per job (the engine's morph + raster +
 * shade seconds over the batch, divided by its jobs: kernel time on CUDA, thread time summed
 * on the CPU), upload and device-to-host copy milliseconds. A first batch of one job warms the
 * engine up and is not counted. The figures carry their own baseline: the batch of 1.
 *
 *   bench_gpu_batch [--engine cuda|cpu|auto] [--data DIR] [--batches 1,8,64] [--repeat 3]
 *                   [--threads N] [--json]
 *   bench_gpu_batch --parity [--engine cuda] [--data DIR]
 *
 * --parity renders the default job once on the engine and once on the CPU engine (the
 * reference) and counts the pixels that differ; exit 0 only when none does.
 *
 * bench/gpu_check.sh runs it on a lent GPU machine (issue: the GPU engine); on this machine
 * `--engine cpu` runs the same code on the CPU engine. Exit status 77 when the engine asked for
 * is not available here (no CUDA device), 2 for bad usage or missing data, 1 on failure.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/md.h"
#include "gpu/engine.h"
#include "jobs/job.h"
#include "mesh/image.h"

#include "default_job.h"

#define MAX_BATCHES 16
#define MAX_REPEAT 32
#define MAX_JOBS 1024

typedef struct sink {
    int png_level;
    atomic_ullong bytes;
    atomic_uint frames;
    atomic_int failed;
} sink;

static int on_frame(void *user, const eng_frame *f)
{
    sink *s = user;
    uint8_t *png = NULL;
    size_t len = 0;
    md_error err;
    md_error_clear(&err);
    int rc = img_encode_png_frame(f->rgb, f->width, f->height, 3, s->png_level, &png, &len, &err);
    if (rc != 0) {
        atomic_store(&s->failed, 1);
        fprintf(stderr, "bench_gpu_batch: PNG encoding failed: %s\n", err.msg);
        return rc;
    }
    md_free(png);
    atomic_fetch_add(&s->bytes, len);
    atomic_fetch_add(&s->frames, 1);
    return 0;
}

typedef struct run_figures {
    double wall_s, kernel_s, upload_s, copy_s;
    uint64_t frames;
} run_figures;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int run_batch(eng *e, const eng_job *one, uint32_t n, int png_level, run_figures *out,
                     md_error *err)
{
    eng_job *jobs = md_calloc(n, sizeof *jobs);
    if (jobs == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u jobs", n);
    for (uint32_t i = 0; i < n; i++)
        jobs[i] = *one; /* the same inputs, borrowed n times: n jobs for the engine */
    sink s = {.png_level = png_level};
    atomic_init(&s.bytes, 0);
    atomic_init(&s.frames, 0);
    atomic_init(&s.failed, 0);
    eng_stats st;
    memset(&st, 0, sizeof st);
    int rc = eng_batch_run(e, jobs, n, on_frame, &s, &st, err);
    md_free(jobs);
    if (rc != 0)
        return rc;
    uint64_t want = (uint64_t)n * one->frame_count;
    if (atomic_load(&s.frames) != want)
        return md_fail(err, MD_EINTERNAL, "batch of %u: expected %llu frames, got %u", n,
                       (unsigned long long)want, atomic_load(&s.frames));
    out->wall_s = st.wall_s;
    out->kernel_s = st.morph_s + st.raster_s + st.shade_s;
    out->upload_s = st.upload_s;
    out->copy_s = st.copy_s;
    out->frames = want;
    return 0;
}

/* ---- --parity: every frame of the default job kept, then compared ---- */

typedef struct frames {
    uint32_t count;
    size_t frame_bytes;
    uint8_t *rgb; /* count * frame_bytes */
} frames;

static int keep_frame(void *user, const eng_frame *f)
{
    frames *k = user;
    size_t n = (size_t)f->width * (size_t)f->height * 3;
    if (f->job != 0 || f->frame >= k->count || n != k->frame_bytes)
        return MD_EINTERNAL;
    memcpy(k->rgb + (size_t)f->frame * k->frame_bytes, f->rgb, n);
    return 0;
}

static int render_all(eng *e, const eng_job *job, frames *k, md_error *err)
{
    k->count = job->frame_count;
    k->frame_bytes = (size_t)job->width * (size_t)job->height * 3;
    k->rgb = md_calloc(k->count, k->frame_bytes);
    if (k->rgb == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u frames", k->count);
    eng_stats st;
    return eng_batch_run(e, job, 1, keep_frame, k, &st, err);
}

static int parity(eng *e, const eng_job *job, int threads, md_error *err)
{
    eng *cpu = NULL;
    frames a = {0}, b = {0};
    eng_config cfg = {.kind = ENG_KIND_CPU, .threads = threads};
    int rc = eng_new(&cfg, &cpu, err);
    if (rc == 0)
        rc = render_all(e, job, &a, err);
    if (rc == 0)
        rc = render_all(cpu, job, &b, err);
    if (rc == 0) {
        uint64_t pixels = 0, differ = 0;
        uint32_t frames_differ = 0;
        int max_diff = 0;
        for (uint32_t f = 0; f < a.count; f++) {
            uint64_t before = differ;
            const uint8_t *x = a.rgb + (size_t)f * a.frame_bytes;
            const uint8_t *y = b.rgb + (size_t)f * b.frame_bytes;
            for (size_t i = 0; i < a.frame_bytes; i += 3) {
                int d = 0;
                for (int c = 0; c < 3; c++) {
                    int dc = abs((int)x[i + c] - (int)y[i + c]);
                    d = dc > d ? dc : d;
                }
                differ += d > 0;
                max_diff = d > max_diff ? d : max_diff;
                pixels++;
            }
            frames_differ += differ > before;
        }
        printf("parity: %s against cpu, default job: %u frames, %llu pixels, %llu differ (in %u "
               "frames), largest channel difference %d\n",
               eng_name(e), a.count, (unsigned long long)pixels, (unsigned long long)differ,
               frames_differ, max_diff);
        if (differ > 0)
            rc = md_fail(err, MD_EENGINE, "%llu pixels differ from the CPU engine's",
                         (unsigned long long)differ);
    }
    md_free(a.rgb);
    md_free(b.rgb);
    eng_free(cpu);
    return rc;
}

static int parse_list(const char *text, uint32_t *out, int max)
{
    int n = 0;
    const char *p = text;
    while (*p != '\0') {
        char *end = NULL;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v < 1 || v > MAX_JOBS || n == max || (*end != ',' && *end != '\0'))
            return -1;
        out[n++] = (uint32_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_gpu_batch [--engine cuda|cpu|auto] [--data DIR] [--batches 1,8,64]\n"
               "                       [--repeat 3] [--threads N] [--json]\n"
               "       bench_gpu_batch --parity [--engine cuda] [--data DIR]\n");
}

int main(int argc, char **argv)
{
    const char *data = getenv("MORPHD_DATA");
    const char *batches_text = "1,8,64";
    int repeat = 3, threads = 0, json = 0, check_parity = 0;
    eng_kind kind = ENG_KIND_CUDA;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0 || strcmp(a, "--parity") == 0) {
            json |= strcmp(a, "--json") == 0;
            check_parity |= strcmp(a, "--parity") == 0;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (v == NULL) {
            usage(stderr);
            return 2;
        }
        i++;
        if (strcmp(a, "--data") == 0)
            data = v;
        else if (strcmp(a, "--batches") == 0)
            batches_text = v;
        else if (strcmp(a, "--repeat") == 0)
            repeat = atoi(v);
        else if (strcmp(a, "--threads") == 0)
            threads = atoi(v);
        else if (strcmp(a, "--engine") == 0 && strcmp(v, "cuda") == 0)
            kind = ENG_KIND_CUDA;
        else if (strcmp(a, "--engine") == 0 && strcmp(v, "cpu") == 0)
            kind = ENG_KIND_CPU;
        else if (strcmp(a, "--engine") == 0 && strcmp(v, "auto") == 0)
            kind = ENG_KIND_AUTO;
        else {
            fprintf(stderr, "bench_gpu_batch: bad option %s %s\n", a, v);
            usage(stderr);
            return 2;
        }
    }
    uint32_t batches[MAX_BATCHES];
    int nb = parse_list(batches_text, batches, MAX_BATCHES);
    if (nb < 1 || repeat < 1 || repeat > MAX_REPEAT || threads < 0) {
        fprintf(stderr, "bench_gpu_batch: --batches wants 1..%d sizes of 1..%d, --repeat 1..%d\n",
                MAX_BATCHES, MAX_JOBS, MAX_REPEAT);
        return 2;
    }
    if (data == NULL) {
        fprintf(stderr, "bench_gpu_batch: no data folder: set MORPHD_DATA or --data\n");
        return 2;
    }

    md_error err;
    md_error_clear(&err);
    bench_job bj;
    eng *e = NULL;
    int rc = bench_job_load(data, &bj, &err), exit_code = 1;
    const eng_job job = bj.job;
    const job_spec spec = bj.spec;
    if (rc != 0) {
        exit_code = 2;
        goto done;
    }
    eng_config cfg = {.kind = kind, .threads = threads};
    rc = eng_new(&cfg, &e, &err);
    if (rc == MD_ENODEV) {
        printf("bench_gpu_batch: skipped: %s\n", err.msg);
        exit_code = 77;
        goto done;
    }
    if (rc == 0 && check_parity) {
        rc = parity(e, &job, threads, &err);
        goto done;
    }
    run_figures warm;
    if (rc == 0)
        rc = run_batch(e, &job, 1, spec.png_level, &warm, &err);
    if (!json && rc == 0)
        printf("engine %s, default job (%u frames %dx%d, %d samples), median of %d\n"
               "%6s %9s %10s %14s %10s %9s\n",
               eng_name(e), job.frame_count, job.width, job.height, job.samples, repeat, "jobs",
               "wall_s", "frames/s", "kernel_us/job", "upload_ms", "copy_ms");
    double base_fps = 0;
    for (int b = 0; b < nb && rc == 0; b++) {
        double wall[MAX_REPEAT], kern[MAX_REPEAT], up[MAX_REPEAT], copy[MAX_REPEAT];
        run_figures f = {0};
        for (int r = 0; r < repeat && rc == 0; r++) {
            rc = run_batch(e, &job, batches[b], spec.png_level, &f, &err);
            wall[r] = f.wall_s;
            kern[r] = f.kernel_s;
            up[r] = f.upload_s;
            copy[r] = f.copy_s;
        }
        if (rc != 0)
            break;
        double w = median(wall, repeat), fps = (double)f.frames / w;
        double kus = median(kern, repeat) / batches[b] * 1e6;
        if (b == 0)
            base_fps = fps;
        if (json)
            printf("{\"engine\":\"%s\",\"jobs\":%u,\"frames\":%llu,\"wall_s\":%.6f,"
                   "\"frames_per_s\":%.1f,\"kernel_us_per_job\":%.1f,\"upload_ms\":%.3f,"
                   "\"copy_ms\":%.3f,\"fps_ratio_to_first\":%.3f}\n",
                   eng_name(e), batches[b], (unsigned long long)f.frames, w, fps, kus,
                   median(up, repeat) * 1e3, median(copy, repeat) * 1e3, fps / base_fps);
        else
            printf("%6u %9.4f %10.1f %14.1f %10.3f %9.3f\n", batches[b], w, fps, kus,
                   median(up, repeat) * 1e3, median(copy, repeat) * 1e3);
    }
done:
    if (rc != 0 && exit_code != 77)
        fprintf(stderr, "bench_gpu_batch: %s\n", err.msg);
    eng_free(e);
    bench_job_free(&bj);
    return rc == 0 ? 0 : exit_code;
}