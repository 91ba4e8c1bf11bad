/*
 * bench_default_job.c — times the default job end to end: the ICT face pair with the 2048²
 * skin textures, 41 frames at 512², 4 samples, through the real `morph run` binary, and prints
 * per-stage times as JSON (median of --repeat runs, read back from each run's manifest.json).
 *
 * It runs every thread count given (default "1,2") in the same invocation, so the figures carry
 * their own baseline: the speed-up over one thread, and the share of the wall time that PNG
 * encoding (the floor, DESIGN.md §8) takes. Machines here are noisy; compare ratios, not
 * absolute seconds across days.
 *
 * --outputs passes `morph run --outputs` (default frames, so the frame figures stay comparable
 * with earlier results); with more, each artifact's seconds (manifest outputs.artifacts; the
 * per-frame meshes summed as "meshes/...") and the shared steps (displacement, texture
 * difference) are reported too, as medians.
 *
 *   bench_default_job [--data DIR] [--threads 1,2] [--repeat 5] [--out DIR] [--morph PATH]
 *                     [--outputs LIST]
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/md.h"

#define MAX_RUNS 64

static const char *stage_names[] = {"parse",       "texture_decode", "texture_pad", "morph",
                                    "raster",      "shade",          "png_encode",  "write",
                                    "render_wall", "outputs",        "total"};
#define STAGES (sizeof stage_names / sizeof stage_names[0])

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Runs morph and returns its exit status; the wall time of the whole process goes to *wall. */
static int run_morph(char *const argv[], double *wall)
{
    double start = md_now();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return -1;
    *wall = md_now() - start;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Per-output seconds of one run, from manifest.json's outputs: artifacts by name (the per-frame
 * meshes summed as "meshes/...") and the shared steps, added into acc[name][run]. */
#define OUTPUT_KEYS 24
typedef struct output_times {
    char name[OUTPUT_KEYS][64];
    double s[OUTPUT_KEYS][MAX_RUNS];
    int count;
} output_times;

static void add_time(output_times *t, const char *name, int run, double s)
{
    int k = 0;
    while (k < t->count && strcmp(t->name[k], name) != 0)
        k++;
    if (k == t->count) {
        if (t->count == OUTPUT_KEYS)
            return;
        snprintf(t->name[k], sizeof t->name[k], "%s", name);
        memset(t->s[k], 0, sizeof t->s[k]);
        t->count++;
    }
    t->s[k][run] += s;
}

static void read_output_times(json_t *man, int run, output_times *t)
{
    json_t *outputs = json_object_get(man, "outputs");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(outputs, "artifacts"), i, a)
    {
        const char *name = json_string_value(json_object_get(a, "name"));
        if (name == NULL)
            continue;
        add_time(t, strncmp(name, "meshes/", 7) == 0 ? "meshes/..." : name, run,
                 json_real_value(json_object_get(a, "seconds")));
    }
    const char *shared[] = {"displacement", "texture_difference", "statistics", "video_encode"};
    for (size_t k = 0; k < sizeof shared / sizeof shared[0]; k++) {
        char key[64];
        snprintf(key, sizeof key, "(%s)", shared[k]);
        add_time(
            t, key, run,
            json_real_value(json_object_get(json_object_get(outputs, "timings_s"), shared[k])));
    }
}

static void default_morph_path(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(out, cap, "morph");
        return;
    }
    self[n] = '\0';
    snprintf(out, cap, "%s/morph", dirname(self));
}

static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon != NULL) {
                snprintf(out, cap, "%s", colon + 2);
                out[strcspn(out, "\n")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *data = getenv("MORPHD_DATA");
    const char *threads_list = "1,2";
    const char *out_dir = "/tmp/morphd-bench";
    const char *outputs = "frames";
    int repeat = 5;
    char morph[PATH_MAX];
    default_morph_path(morph, sizeof morph);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--data") == 0 && v) {
            data = v;
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            threads_list = v;
            i++;
        } else if (strcmp(a, "--repeat") == 0 && v) {
            repeat = atoi(v);
            i++;
        } else if (strcmp(a, "--out") == 0 && v) {
            out_dir = v;
            i++;
        } else if (strcmp(a, "--outputs") == 0 && v) {
            outputs = v;
            i++;
        } else if (strcmp(a, "--morph") == 0 && v) {
            snprintf(morph, sizeof morph, "%s", v);
            i++;
        } else {
            fprintf(stderr, "usage: bench_default_job [--data DIR] [--threads 1,2] [--repeat 5] "
                            "[--out DIR] [--morph PATH] [--outputs LIST]\n");
            return 2;
        }
    }
    if (repeat < 1 || repeat > MAX_RUNS) {
        fprintf(stderr, "bench_default_job: --repeat must be 1..%d\n", MAX_RUNS);
        return 2;
    }
    if (data == NULL)
        data = "../shared/data";
    char src[4096], tgt[4096], tex_a[4096], tex_b[4096];
    snprintf(src, sizeof src, "%s/faces/ict/ict_face_identity_A.obj", data);
    snprintf(tgt, sizeof tgt, "%s/faces/ict/ict_face_identity_B.obj", data);
    snprintf(tex_a, sizeof tex_a, "%s/textures/skin_A.png", data);
    snprintf(tex_b, sizeof tex_b, "%s/textures/skin_B.png", data);
    if (access(src, R_OK) != 0 || access(tex_a, R_OK) != 0) {
        fprintf(stderr, "bench_default_job: the shared data is not at %s (use --data)\n", data);
        return 2;
    }

    char model[256];
    cpu_model(model, sizeof model);
    json_t *results = json_array();
    double first_wall = 0;
    char *list = md_strdup(threads_list);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int threads = atoi(tok);
        double samples[STAGES][MAX_RUNS], process[MAX_RUNS];
        static output_times per_output;
        per_output.count = 0;
        for (int r = 0; r < repeat; r++) {
            char threads_arg[16];
            snprintf(threads_arg, sizeof threads_arg, "%d", threads);
            char *args[] = {morph,
                            "run",
                            src,
                            tgt,
                            "-o",
                            (char *)out_dir,
                            "-q",
                            "--threads",
                            threads_arg,
                            "--source-texture",
                            tex_a,
                            "--target-texture",
                            tex_b,
                            "--outputs",
                            (char *)outputs,
                            NULL};
            int status = run_morph(args, &process[r]);
            if (status != 0) {
                fprintf(stderr, "bench_default_job: morph run exited with %d\n", status);
                return 1;
            }
            char path[4200];
            snprintf(path, sizeof path, "%s/manifest.json", out_dir);
            json_error_t jerr;
            json_t *man = json_load_file(path, 0, &jerr);
            json_t *timings = json_object_get(man, "timings_s");
            if (timings == NULL) {
                fprintf(stderr, "bench_default_job: cannot read %s: %s\n", path, jerr.text);
                return 1;
            }
            for (size_t s = 0; s < STAGES; s++)
                samples[s][r] = json_real_value(json_object_get(timings, stage_names[s]));
            read_output_times(man, r, &per_output);
            json_decref(man);
        }
        json_t *stages = json_object();
        for (size_t s = 0; s < STAGES; s++)
            json_object_set_new(stages, stage_names[s], json_real(median(samples[s], repeat)));
        double wall = median(process, repeat);
        if (first_wall == 0)
            first_wall = wall;
        double encode_wall = json_real_value(json_object_get(stages, "png_encode")) / threads;
        json_t *outs = json_object();
        for (int k = 0; k < per_output.count; k++)
            json_object_set_new(outs, per_output.name[k],
                                json_real(median(per_output.s[k], repeat)));
        json_array_append_new(
            results, json_pack("{s:i,s:f,s:o,s:o,s:f,s:f}", "threads", threads, "process_wall_s",
                               wall, "stages_s", stages, "outputs_s", outs, "speedup_vs_first",
                               first_wall / wall, "png_encode_share_of_wall", encode_wall / wall));
    }
    md_free(list);
    json_t *root = json_pack(
        "{s:s,s:s,s:{s:s,s:i,s:s,s:s},s:i,s:o,s:s}", "job",
        "ICT A->B + skin_A/B.png 2048^2, 41 frames, 512x512, 4 samples", "outputs", outputs,
        "machine", "cpu", model, "online_cpus", (int)sysconf(_SC_NPROCESSORS_ONLN), "engine", "cpu",
        "morph", morph, "repeat", repeat, "results", results, "note",
        "stage times except render_wall/outputs/total are thread-seconds (summed); "
        "outputs_s: per artifact, (shared steps) in parentheses");
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(4));
    printf("%s\n", text);
    free(text);
    json_decref(root);
    return 0;
}
