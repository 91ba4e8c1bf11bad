/*
 * bench_analysis.c — times the numeric analysis of the default job: the ICT identity pair with
 * the 2048^2 skin textures from $MORPHD_DATA (default ../shared/data): displacement, texture
 * difference (1 and 2 threads), statistics, and each CSV; median of N runs (default 5). Prints
 * one JSON object.
 *
 *   bench_analysis [repeats=5] [--dump FILE]
 *
 * --dump writes the texture difference (width, height as int32, then coverage bytes and the
 * luminance, chroma and delta_e float planes) so two builds can be compared texel by texel;
 * --compare FILE reads such a dump and prints the largest absolute difference per plane.
 */
#include "analysis/analysis.h"
#include "jobs/job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPEATS 64

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Process CPU seconds: on a shared box the honest figure next to the wall time. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const md_error *err)
{
    fprintf(stderr, "bench_analysis: %s: %s\n", what, err->msg);
    exit(1);
}

static int dump(const char *path, const ana_texdiff_result *r)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    int32_t wh[2] = {ana_texdiff_width(r), ana_texdiff_height(r)};
    size_t n = (size_t)wh[0] * (size_t)wh[1];
    fwrite(wh, sizeof wh, 1, fp);
    fwrite(ana_texdiff_coverage(r), 1, n, fp);
    fwrite(ana_texdiff_luminance(r), sizeof(float), n, fp);
    fwrite(ana_texdiff_chroma(r), sizeof(float), n, fp);
    fwrite(ana_texdiff_delta_e(r), sizeof(float), n, fp);
    return fclose(fp);
}

static int compare(const char *path, const ana_texdiff_result *r)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    int32_t wh[2];
    if (fread(wh, sizeof wh, 1, fp) != 1 || wh[0] != ana_texdiff_width(r) ||
        wh[1] != ana_texdiff_height(r)) {
        fclose(fp);
        return -1;
    }
    size_t n = (size_t)wh[0] * (size_t)wh[1];
    uint8_t *cov = malloc(n);
    float *plane = malloc(n * sizeof(float));
    const float *mine[3] = {ana_texdiff_luminance(r), ana_texdiff_chroma(r),
                            ana_texdiff_delta_e(r)};
    const char *names[3] = {"luminance", "chroma", "delta_e"};
    int rc = fread(cov, 1, n, fp) == n ? 0 : -1;
    size_t cov_diff = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        cov_diff += (cov[i] != 0) != (ana_texdiff_coverage(r)[i] != 0);
    printf("{\"coverage_mismatches\": %zu", cov_diff);
    for (int k = 0; rc == 0 && k < 3; k++) {
        if (fread(plane, sizeof(float), n, fp) != n) {
            rc = -1;
            break;
        }
        double worst = 0.0, worst_rel = 0.0;
        size_t differ = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)plane[i] - (double)mine[k][i]);
            differ += d != 0.0;
            worst = fmax(worst, d);
            worst_rel = fmax(worst_rel, d / fmax(1.0, fabs((double)plane[i])));
        }
        printf(", \"%s_max_abs\": %.3g, \"%s_max_rel\": %.3g, \"%s_differ\": %zu", names[k], worst,
               names[k], worst_rel, names[k], differ);
    }
    printf("}\n");
    free(cov);
    free(plane);
    fclose(fp);
    return rc;
}

int main(int argc, char **argv)
{
    int repeats = 5;
    const char *dump_path = NULL, *compare_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc)
            dump_path = argv[++i];
        else if (strcmp(argv[i], "--compare") == 0 && i + 1 < argc)
            compare_path = argv[++i];
        else
            repeats = atoi(argv[i]);
    }
    repeats = repeats < 1 ? 1 : (repeats > MAX_REPEATS ? MAX_REPEATS : repeats);
    const char *root = getenv("MORPHD_DATA");
    if (!root || !root[0])
        root = "../shared/data";
    char pa[4096], pb[4096], ta[4096], tb[4096];
    snprintf(pa, sizeof pa, "%s/faces/ict/ict_face_identity_A.obj", root);
    snprintf(pb, sizeof pb, "%s/faces/ict/ict_face_identity_B.obj", root);
    snprintf(ta, sizeof ta, "%s/textures/skin_A.png", root);
    snprintf(tb, sizeof tb, "%s/textures/skin_B.png", root);

    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    job_input_paths paths = {pa, pb, ta, tb, NULL};
    job_inputs *in = NULL;
    if (job_inputs_load(&paths, &lim, &in, NULL, &err) != 0)
        die("loading the ICT pair", &err);
    const mesh *a = job_inputs_mesh(in, 0), *b = job_inputs_mesh(in, 1);

    double t_disp[MAX_REPEATS], t_tex1[MAX_REPEATS], t_tex2[MAX_REPEATS], t_stats[MAX_REPEATS];
    double t_csv_st[MAX_REPEATS], t_csv_vx[MAX_REPEATS], t_csv_tx[MAX_REPEATS];
    double t_csv_fr[MAX_REPEATS], t_frames[MAX_REPEATS];
    double c_tex1[MAX_REPEATS], c_tex2[MAX_REPEATS], c_csv_tx[MAX_REPEATS];
    size_t bytes_vx = 0, bytes_tx = 0;
    uint64_t covered = 0;
    float weights[41];
    for (int i = 0; i < 41; i++)
        weights[i] = (float)i / 40.0f;

    for (int rep = 0; rep < repeats; rep++) {
        double t0 = md_now();
        ana_displacement_result *disp = NULL;
        if (ana_displacement(a, b, ANA_ALIGN_NONE, &disp, &err) != 0)
            die("displacement", &err);
        t_disp[rep] = md_now() - t0;

        ana_texdiff_result *tex = NULL;
        double c0 = cpu_now();
        t0 = md_now();
        if (ana_texture_difference_ex(a, b, 1, &tex, &err) != 0)
            die("texture difference", &err);
        t_tex1[rep] = md_now() - t0;
        c_tex1[rep] = cpu_now() - c0;
        ana_texdiff_free(tex);
        tex = NULL;
        c0 = cpu_now();
        t0 = md_now();
        if (ana_texture_difference_ex(a, b, 2, &tex, &err) != 0)
            die("texture difference", &err);
        t_tex2[rep] = md_now() - t0;
        c_tex2[rep] = cpu_now() - c0;
        covered = ana_texdiff_covered(tex);

        ana_summary sum;
        t0 = md_now();
        if (ana_summary_compute(disp, tex, &sum, &err) != 0)
            die("statistics", &err);
        t_stats[rep] = md_now() - t0;

        ana_frame_stat frames[41];
        t0 = md_now();
        if (ana_frame_stats(a, b, weights, 41, frames, &err) != 0)
            die("frame statistics", &err);
        t_frames[rep] = md_now() - t0;

        md_buf st, vx, tx, fr;
        md_buf_init(&st, 1 << 20);
        md_buf_init(&vx, 64 << 20);
        md_buf_init(&tx, 256 << 20);
        md_buf_init(&fr, 1 << 20);
        t0 = md_now();
        if (ana_csv_statistics(&st, &sum, &err) != 0)
            die("statistics.csv", &err);
        t_csv_st[rep] = md_now() - t0;
        t0 = md_now();
        if (ana_csv_vertex_displacements(&vx, disp, &err) != 0)
            die("vertex_displacements.csv", &err);
        t_csv_vx[rep] = md_now() - t0;
        c0 = cpu_now();
        t0 = md_now();
        if (ana_csv_texture_differences(&tx, tex, 4, &err) != 0)
            die("texture_differences.csv", &err);
        t_csv_tx[rep] = md_now() - t0;
        c_csv_tx[rep] = cpu_now() - c0;
        t0 = md_now();
        if (ana_csv_frames(&fr, frames, 41, &err) != 0)
            die("frames.csv", &err);
        t_csv_fr[rep] = md_now() - t0;
        bytes_vx = vx.len;
        bytes_tx = tx.len;

        if (rep == 0 && dump_path && dump(dump_path, tex) != 0)
            fprintf(stderr, "bench_analysis: could not write %s\n", dump_path);
        if (rep == 0 && compare_path && compare(compare_path, tex) != 0)
            fprintf(stderr, "bench_analysis: could not compare with %s\n", compare_path);
        md_buf_free(&st);
        md_buf_free(&vx);
        md_buf_free(&tx);
        md_buf_free(&fr);
        ana_texdiff_free(tex);
        ana_displacement_free(disp);
    }

    double m_tex2 = median(t_tex2, repeats), m_disp = median(t_disp, repeats);
    double m_stats = median(t_stats, repeats), m_frames = median(t_frames, repeats);
    double m_st = median(t_csv_st, repeats), m_vx = median(t_csv_vx, repeats);
    double m_tx = median(t_csv_tx, repeats), m_fr = median(t_csv_fr, repeats);
    printf("{\"repeats\": %d, \"covered_texels\": %llu, \"displacement_s\": %.5f, "
           "\"texture_difference_1t_s\": %.4f, \"texture_difference_2t_s\": %.4f, "
           "\"texture_difference_1t_cpu_s\": %.4f, \"texture_difference_2t_cpu_s\": %.4f, "
           "\"statistics_s\": %.4f, \"frame_stats_s\": %.5f, \"csv_statistics_s\": %.6f, "
           "\"csv_vertices_s\": %.5f, \"csv_vertices_bytes\": %zu, \"csv_texels_s\": %.5f, "
           "\"csv_texels_cpu_s\": %.5f, \"csv_texels_bytes\": %zu, \"csv_frames_s\": %.6f, "
           "\"total_2t_s\": %.4f}\n",
           repeats, (unsigned long long)covered, m_disp, median(t_tex1, repeats), m_tex2,
           median(c_tex1, repeats), median(c_tex2, repeats), m_stats, m_frames, m_st, m_vx,
           bytes_vx, m_tx, median(c_csv_tx, repeats), bytes_tx, m_fr,
           m_disp + m_tex2 + m_stats + m_frames + m_st + m_vx + m_tx + m_fr);
    job_inputs_free(in);
    return 0;
}
