/*
 * bench_engine_cpu.c — times an engine (CPU by default, or CUDA) on a procedural stand-in for
 * the default job: two bumpy spheres of the same topology (~18k triangles), a 2048^2 texture on
 * each, 41 frames at 512^2 with 4 samples; --jobs K puts K such jobs in one batch (alternately
 * the pair and its reverse, sharing the textures). No files needed. By default the callback only
 * checksums each frame; --png also PNG-encodes it (level 1, as the worker does), so the figure
 * is end to end.
 *
 *   bench_engine_cpu [--engine cpu|cuda] [--jobs K] [--png] [--filter trilinear|bilinear]
 *                    [--translucent T] [threads=2] [repeats=3] [frame.ppm]
 *
 * --filter picks the texture filter (eng_texture_filter; trilinear, the default, includes
 * building the textures' mip pyramids once per batch), so both can be timed in one run.
 * --translucent T gives both spheres' material transparency T in (0, 1) (docs/translucency.md):
 * every sample then shows the front and back surfaces as layers over the background.
 *
 * Prints per-stage time per frame (CPU: summed over threads; CUDA: kernel time from events, with
 * the device -> host copy), the wall time per batch, frames/s, and the process CPU time per
 * frame (the honest figure on a machine shared with other work). Without a CUDA device,
 * --engine cuda prints why and exits 0 (a skip, not a failure).
 */
#include "gpu/engine.h"
#include "mesh/image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { RINGS = 64, SEGS = 144, TEX = 2048, SIZE = 512, SAMPLES = 4, FRAMES = 41 };

typedef struct sink {
    const char *ppm;
    int png;
    uint64_t sum;
    uint64_t png_bytes;
} sink;

static int on_frame(void *user, const eng_frame *f)
{
    sink *s = user;
    uint64_t h = 0;
    size_t n = (size_t)f->width * (size_t)f->height * 3;
    for (size_t i = 0; i < n; i += 61)
        h += f->rgb[i];
    __atomic_fetch_add(&s->sum, h, __ATOMIC_RELAXED);
    if (s->png) {
        uint8_t *png = NULL;
        size_t len = 0;
        md_error err;
        int rc = img_encode_png_frame(f->rgb, f->width, f->height, 3, 1, &png, &len, &err);
        if (rc != 0)
            return rc;
        __atomic_fetch_add(&s->png_bytes, (uint64_t)len, __ATOMIC_RELAXED);
        md_free(png);
    }
    if (s->ppm != NULL && f->job == 0 && f->frame == FRAMES / 2) {
        FILE *fp = fopen(s->ppm, "wb");
        if (fp != NULL) {
            fprintf(fp, "P6\n%d %d\n255\n", f->width, f->height);
            fwrite(f->rgb, 1, n, fp);
            fclose(fp);
        }
    }
    return 0;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bumpy_sphere(float *pos, float *uv, uint32_t *tri, float bump, float phase)
{
    const double pi = 3.14159265358979323846;
    for (int j = 0; j <= RINGS; j++) {
        double th = pi * j / RINGS;
        for (int i = 0; i <= SEGS; i++) {
            double ph = 2 * pi * i / SEGS;
            double r = 1.0 + bump * sin(5 * th + phase) * cos(3 * ph);
            size_t k = (size_t)j * (SEGS + 1) + (size_t)i;
            pos[k * 3] = (float)(r * sin(th) * cos(ph));
            pos[k * 3 + 1] = (float)(r * cos(th));
            pos[k * 3 + 2] = (float)(r * sin(th) * sin(ph));
            uv[k * 2] = (float)i / SEGS;
            uv[k * 2 + 1] = 1.0f - (float)j / RINGS;
        }
    }
    for (int j = 0; j < RINGS; j++) {
        for (int i = 0; i < SEGS; i++) {
            uint32_t a = (uint32_t)(j * (SEGS + 1) + i), b = a + 1;
            uint32_t c = a + SEGS + 1, d = c + 1;
            uint32_t q[6] = {a, b, c, b, d, c};
            memcpy(tri + ((size_t)j * SEGS + (size_t)i) * 6, q, sizeof q);
        }
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_engine_cpu [--engine cpu|cuda] [--jobs K] [--png] "
                    "[--filter trilinear|bilinear] [--translucent T] [threads=2] [repeats=3] "
                    "[frame.ppm]\n");
    return 2;
}

int main(int argc, char **argv)
{
    eng_kind kind = ENG_KIND_CPU;
    int jobs_n = 1;
    eng_texture_filter filter = ENG_FILTER_TRILINEAR;
    float transparency = 0.0f;
    const char *pos_args[3] = {NULL, NULL, NULL};
    int n_pos = 0;
    sink out = {NULL, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--engine") == 0 && i + 1 < argc) {
            const char *k = argv[++i];
            if (strcmp(k, "cpu") == 0)
                kind = ENG_KIND_CPU;
            else if (strcmp(k, "cuda") == 0)
                kind = ENG_KIND_CUDA;
            else
                return usage();
        } else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
            jobs_n = atoi(argv[++i]);
            if (jobs_n < 1 || jobs_n > 4096)
                return usage();
        } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            const char *f = argv[++i];
            if (strcmp(f, "trilinear") == 0)
                filter = ENG_FILTER_TRILINEAR;
            else if (strcmp(f, "bilinear") == 0)
                filter = ENG_FILTER_BILINEAR;
            else
                return usage();
        } else if (strcmp(argv[i], "--translucent") == 0 && i + 1 < argc) {
            transparency = strtof(argv[++i], NULL);
            if (!(transparency > 0.0f && transparency < 1.0f))
                return usage();
        } else if (strcmp(argv[i], "--png") == 0) {
            out.png = 1;
        } else if (argv[i][0] == '-' || n_pos == 3) {
            return usage();
        } else {
            pos_args[n_pos++] = argv[i];
        }
    }
    int threads = pos_args[0] ? atoi(pos_args[0]) : 2;
    int repeats = pos_args[1] ? atoi(pos_args[1]) : 3;
    out.ppm = pos_args[2];

    const uint32_t nv = (RINGS + 1) * (SEGS + 1), nt = 2 * RINGS * SEGS;
    float *pos[2], *uv[2];
    uint32_t *tri = md_malloc_array(nt * 3, sizeof *tri);
    uint8_t *tex[2];
    for (int s = 0; s < 2; s++) {
        pos[s] = md_malloc_array(nv * 3, sizeof(float));
        uv[s] = md_malloc_array(nv * 2, sizeof(float));
        tex[s] = md_malloc((size_t)TEX * TEX * 4);
        if (pos[s] == NULL || uv[s] == NULL || tex[s] == NULL || tri == NULL) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        bumpy_sphere(pos[s], uv[s], tri, s == 0 ? 0.05f : 0.12f, s == 0 ? 0.0f : 1.3f);
        for (int y = 0; y < TEX; y++) {
            for (int x = 0; x < TEX; x++) {
                uint8_t *p = tex[s] + ((size_t)y * TEX + (size_t)x) * 4;
                int check = ((x >> 6) ^ (y >> 6)) & 1;
                p[0] = (uint8_t)(s == 0 ? 200 : 90 + 60 * check);
                p[1] = (uint8_t)(120 + 80 * check);
                p[2] = (uint8_t)(s == 0 ? 80 + (x & 127) : 200);
                p[3] = 255;
            }
        }
    }
    eng_material mat[2] = {{{0.8f, 0.8f, 0.8f}, tex[0], TEX, TEX, NULL, 0, 0},
                           {{0.8f, 0.8f, 0.8f}, tex[1], TEX, TEX, NULL, 0, 0}};
    float weights[FRAMES];
    for (int i = 0; i < FRAMES; i++)
        weights[i] = (float)i / (FRAMES - 1);

    mat[0].transparency = mat[1].transparency = transparency; /* --translucent */
    eng_job job;
    memset(&job, 0, sizeof job);
    job.vertex_count = nv;
    job.triangle_count = nt;
    job.triangles = tri;
    for (int s = 0; s < 2; s++) {
        job.positions[s] = pos[s];
        job.surface[s] = (eng_surface){uv[s], tri, NULL, nv, 1, &mat[s]};
    }
    eng_camera_default(&job.camera);
    float mn[3] = {-1.15f, -1.15f, -1.15f}, mx[3] = {1.15f, 1.15f, 1.15f};
    eng_camera_frame_bounds(&job.camera, mn, mx, 1.0f);
    job.width = job.height = SIZE;
    job.samples = SAMPLES;
    job.background[0] = job.background[1] = job.background[2] = 255;
    job.frame_count = FRAMES;
    job.weights = weights;
    job.texture_filter = filter;

    /* K jobs: the pair and its reverse in turn; all borrow the same arrays and textures. */
    eng_job *batch = md_malloc_array((size_t)jobs_n, sizeof *batch);
    if (batch == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int k = 0; k < jobs_n; k++) {
        batch[k] = job;
        if (k % 2 == 1) {
            batch[k].positions[0] = job.positions[1];
            batch[k].positions[1] = job.positions[0];
            batch[k].surface[0] = job.surface[1];
            batch[k].surface[1] = job.surface[0];
        }
    }

    md_error err;
    eng_config cfg = {kind, threads, 0};
    eng *e = NULL;
    int rc = eng_new(&cfg, &e, &err);
    if (rc == MD_ENODEV && kind == ENG_KIND_CUDA) {
        printf("skip: no CUDA engine here: %s\n", err.msg);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int cuda = strcmp(eng_name(e), "cuda") == 0;
    printf("%s engine, %d threads: %d job%s, %u triangles, %dx%d, %d samples, %d frames%s\n",
           eng_name(e), threads, jobs_n, jobs_n == 1 ? "" : "s", nt, SIZE, SIZE, SAMPLES, FRAMES,
           out.png ? ", PNG level 1" : "");
    for (int r = 0; r < repeats; r++) {
        eng_stats st;
        double cpu0 = cpu_seconds();
        if (eng_batch_run(e, batch, (uint32_t)jobs_n, on_frame, &out, &st, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double cpu = cpu_seconds() - cpu0;
        double f = (double)st.frames;
        if (cuda)
            printf("run %d: wall %.1f ms, %.0f frames/s, cpu %.2f ms/frame; kernels for the batch: "
                   "morph %.3f, raster %.3f, shade %.3f ms (sum %.3f ms, %.4f ms/frame); copy "
                   "%.3f ms, upload %.1f ms; deliver %.2f ms/frame and thread, %d threads\n",
                   r, st.wall_s * 1e3, f / st.wall_s, cpu * 1e3 / f, st.morph_s * 1e3,
                   st.raster_s * 1e3, st.shade_s * 1e3,
                   (st.morph_s + st.raster_s + st.shade_s) * 1e3,
                   (st.morph_s + st.raster_s + st.shade_s) * 1e3 / f, st.copy_s * 1e3,
                   st.upload_s * 1e3, st.deliver_s * 1e3 / f, st.threads);
        else
            printf("run %d: wall %.1f ms, %.0f frames/s, cpu %.2f ms/frame; per frame and thread: "
                   "morph %.2f, raster %.2f, shade %.2f, deliver %.2f ms\n",
                   r, st.wall_s * 1e3, f / st.wall_s, cpu * 1e3 / f, st.morph_s * 1e3 / f,
                   st.raster_s * 1e3 / f, st.shade_s * 1e3 / f, st.deliver_s * 1e3 / f);
        out.ppm = NULL;
    }
    printf("checksum %llu", (unsigned long long)out.sum);
    if (out.png)
        printf(", %llu PNG bytes", (unsigned long long)out.png_bytes);
    printf("\n");
    eng_free(e);
    md_free(batch);
    for (int s = 0; s < 2; s++) {
        md_free(pos[s]);
        md_free(uv[s]);
        md_free(tex[s]);
    }
    md_free(tri);
    return 0;
}
