/*
 * test_ana_data.c — the analysis on the default job's data: the ICT identity pair with the
 * 2048x2048 skin textures (skips without ../shared/data). Checks normal^2 + tangential^2 =
 * total^2, A against A texture difference is all zeros, A against B statistics are sane, the
 * CSVs parse with their exact headers and one row per vertex, the statistics CSV agrees with
 * ana_stats, and prints the time of each step (the budget: less than the frames).
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "jobs/job.h"

/* Splits the next line of *p into at most max comma-separated fields (in place). */
static int next_row(char **p, char **fields, int max)
{
    if (!*p || !**p)
        return -1;
    char *line = *p, *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    int n = 0;
    for (char *s = line; n < max;) {
        fields[n++] = s;
        char *c = strchr(s, ',');
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

static int parses_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == '\0';
}

static void check_header(char **p, const char *expected)
{
    const char *nl = strchr(*p, '\n');
    size_t n = nl ? (size_t)(nl - *p) : strlen(*p);
    if (n != strlen(expected) || strncmp(*p, expected, n) != 0)
        fprintf(stderr, "header: expected '%s', got '%.*s'\n", expected, (int)n, *p);
    CHECK(n == strlen(expected) && strncmp(*p, expected, n) == 0);
    *p = nl ? (char *)nl + 1 : NULL;
}

static void check_stats_row(char **fields, const char *metric, const char *component,
                            const ana_stats *s)
{
    CHECK(strcmp(fields[0], metric) == 0);
    if (strcmp(fields[1], component) != 0)
        fprintf(stderr, "statistics.csv component: expected %s, got %s\n", component, fields[1]);
    CHECK(strcmp(fields[1], component) == 0);
    const double v[9] = {s->mean, s->std, s->min, s->max, s->p25, s->p50, s->p75, s->p95, s->p99};
    for (int k = 0; k < 9; k++) {
        double got;
        CHECK(parses_double(fields[2 + k], &got));
        if (got != v[k])
            fprintf(stderr, "%s/%s column %d: expected %.17g, got %s\n", metric, component, k, v[k],
                    fields[2 + k]);
        CHECK(got == v[k]); /* round-trippable printing */
    }
}

int main(void)
{
    const char *pa = md_strdup(test_data("faces/ict/ict_face_identity_A.obj"));
    const char *pb = md_strdup(test_data("faces/ict/ict_face_identity_B.obj"));
    const char *ta = md_strdup(test_data("textures/skin_A.png"));
    const char *tb = md_strdup(test_data("textures/skin_B.png"));
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    job_input_paths paths = {pa, pb, ta, tb, NULL};
    job_inputs *in = NULL;
    int rc = job_inputs_load(&paths, &lim, &in, NULL, &err);
    CHECK_OK(rc, &err);
    if (rc != 0)
        return test_done();
    const mesh *a = job_inputs_mesh(in, 0), *b = job_inputs_mesh(in, 1);
    const uint32_t nv = mesh_vertex_count(a);

    /* ---- Shape ---- */
    double t0 = md_now();
    ana_displacement_result *disp = NULL;
    CHECK_OK(ana_displacement(a, b, ANA_ALIGN_NONE, &disp, &err), &err);
    double t_disp = md_now() - t0;
    ana_displacement_result *rigid = NULL;
    t0 = md_now();
    CHECK_OK(ana_displacement(a, b, ANA_ALIGN_RIGID, &rigid, &err), &err);
    double t_rigid = md_now() - t0;
    if (!disp || !rigid)
        return test_done();
    {
        const float *nd = ana_displacement_normal(disp), *td = ana_displacement_tangential(disp);
        const float *tot = ana_displacement_total(disp);
        double worst = 0, maxtot = 0;
        for (uint32_t i = 0; i < nv; i++) {
            double lhs = (double)nd[i] * nd[i] + (double)td[i] * td[i];
            double rhs = (double)tot[i] * tot[i];
            /* Relative to the vertex's own total; float precision is 2^-23 ~ 1.2e-7 per value. */
            if (rhs > 0)
                worst = fmax(worst, fabs(lhs - rhs) / rhs);
            maxtot = fmax(maxtot, tot[i]);
        }
        printf("ICT: %u vertices, max |d| %g, worst relative |n^2 + t^2 - total^2| %.3g\n", nv,
               maxtot, worst);
        CHECK(worst < 1e-6);
        CHECK(maxtot > 0);
        const ana_alignment *al = ana_displacement_alignment(rigid);
        printf("ICT rigid alignment: rms %g -> %g, scale %g\n", al->rms_before, al->rms_after,
               al->scale);
        CHECK(al->rms_after <= al->rms_before);
    }

    /* ---- Texture ---- */
    ana_texdiff_result *self = NULL, *tex = NULL;
    t0 = md_now();
    CHECK_OK(ana_texture_difference(a, a, &self, &err), &err);
    double t_self = md_now() - t0;
    t0 = md_now();
    CHECK_OK(ana_texture_difference(a, b, &tex, &err), &err);
    double t_tex = md_now() - t0;
    ana_texdiff_result *tex1 = NULL;
    t0 = md_now();
    CHECK_OK(ana_texture_difference_ex(a, b, 1, &tex1, &err), &err);
    double t_tex1 = md_now() - t0;
    if (!self || !tex || !tex1)
        return test_done();
    const int w = ana_texdiff_width(tex), h = ana_texdiff_height(tex);
    const size_t texels = (size_t)w * (size_t)h;
    {
        size_t nonzero = 0;
        for (size_t i = 0; i < texels; i++)
            nonzero += ana_texdiff_luminance(self)[i] != 0.0f ||
                       ana_texdiff_chroma(self)[i] != 0.0f || ana_texdiff_delta_e(self)[i] != 0.0f;
        CHECK_INT(0, nonzero);
        printf("ICT texture space %dx%d, covered %llu texels (%.1f%%)\n", w, h,
               (unsigned long long)ana_texdiff_covered(tex),
               100.0 * (double)ana_texdiff_covered(tex) / (double)texels);
        CHECK(ana_texdiff_covered(tex) > texels / 10);
        CHECK(memcmp(ana_texdiff_delta_e(tex), ana_texdiff_delta_e(tex1), texels * sizeof(float)) ==
              0);
    }

    /* ---- Statistics ---- */
    ana_summary sum;
    t0 = md_now();
    CHECK_OK(ana_summary_compute(disp, tex, &sum, &err), &err);
    double t_stats = md_now() - t0;
    const ana_stats *all[6] = {&sum.normal,    &sum.tangential, &sum.total,
                               &sum.luminance, &sum.chroma,     &sum.delta_e};
    const char *names[6] = {"normal", "tangential", "total", "luminance", "chroma", "delta_e"};
    /* statistics.csv's components: face-morph's names (analysis.h) */
    const char *csv_names[6] = {"normal_displacement",    "tangent_displacement",
                                "total_displacement",     "luminance_difference",
                                "chrominance_difference", "perceptual_difference"};
    for (int k = 0; k < 6; k++) {
        const ana_stats *s = all[k];
        printf("%-10s n %llu mean %8.4g std %8.4g min %8.4g p25 %8.4g p50 %8.4g p75 %8.4g p95 "
               "%8.4g p99 %8.4g max %8.4g\n",
               names[k], (unsigned long long)s->count, s->mean, s->std, s->min, s->p25, s->p50,
               s->p75, s->p95, s->p99, s->max);
        CHECK(s->min <= s->p25 && s->p25 <= s->p50 && s->p50 <= s->p75 && s->p75 <= s->p95 &&
              s->p95 <= s->p99 && s->p99 <= s->max);
        CHECK(s->min <= s->mean && s->mean <= s->max && s->std >= 0);
    }
    CHECK_INT(nv, sum.total.count);
    CHECK_INT(ana_texdiff_covered(tex), sum.delta_e.count);
    CHECK(sum.tangential.min >= 0 && sum.total.min >= 0 && sum.delta_e.min >= 0);
    CHECK(sum.delta_e.mean > 0);

    /* ---- CSVs ---- */
    md_buf st, vx, tx, fr;
    md_buf_init(&st, 1 << 20);
    md_buf_init(&vx, 64 << 20);
    md_buf_init(&tx, 256 << 20);
    md_buf_init(&fr, 1 << 20);
    float weights[41];
    for (int i = 0; i < 41; i++)
        weights[i] = (float)i / 40.0f;
    ana_frame_stat frames[41];
    t0 = md_now();
    CHECK_OK(ana_frame_stats(a, b, weights, 41, frames, &err), &err);
    double t_frames = md_now() - t0;
    t0 = md_now();
    CHECK_OK(ana_csv_statistics(&st, &sum, &err), &err);
    double t_csv_st = md_now() - t0;
    t0 = md_now();
    CHECK_OK(ana_csv_vertex_displacements(&vx, disp, &err), &err);
    double t_csv_vx = md_now() - t0;
    t0 = md_now();
    CHECK_OK(ana_csv_texture_differences(&tx, tex, 4, &err), &err);
    double t_csv_tx = md_now() - t0;
    t0 = md_now();
    CHECK_OK(ana_csv_frames(&fr, frames, 41, &err), &err);
    double t_csv_fr = md_now() - t0;

    char *p = st.data, *f[16];
    check_header(&p, "metric,component,mean,std,min,max,p25,p50,p75,p95,p99");
    const char *metrics[6] = {"shape", "shape", "shape", "texture", "texture", "texture"};
    for (int k = 0; k < 6; k++) {
        int n = next_row(&p, f, 16);
        CHECK_INT(11, n);
        if (n == 11)
            check_stats_row(f, metrics[k], csv_names[k], all[k]);
    }
    CHECK(next_row(&p, f, 16) < 0);

    p = vx.data;
    check_header(&p, "vertex_id,x_a,y_a,z_a,x_b,y_b,z_b,normal_disp,tangent_disp,total_disp");
    uint32_t rows = 0;
    int bad = 0;
    for (int n; (n = next_row(&p, f, 16)) >= 0; rows++) {
        double v[10];
        int ok = n == 10;
        for (int k = 0; ok && k < 10; k++)
            ok = parses_double(f[k], &v[k]);
        ok = ok && v[0] == rows && (float)v[9] == ana_displacement_total(disp)[rows] &&
             (float)v[7] == ana_displacement_normal(disp)[rows] &&
             (float)v[1] == mesh_positions(a)[(size_t)rows * 3];
        bad += !ok;
    }
    CHECK_INT(nv, rows);
    CHECK_INT(0, bad);

    p = tx.data;
    check_header(&p, "pixel_x,pixel_y,luminance_diff,chroma_diff,delta_e");
    size_t expect_rows = 0, trows = 0;
    for (int y = 0; y < h; y += 4)
        for (int x = 0; x < w; x += 4)
            expect_rows += ana_texdiff_coverage(tex)[(size_t)y * w + x] != 0;
    bad = 0;
    for (int n; (n = next_row(&p, f, 16)) >= 0; trows++) {
        double v[5];
        int ok = n == 5;
        for (int k = 0; ok && k < 5; k++)
            ok = parses_double(f[k], &v[k]);
        size_t i = (size_t)v[1] * w + (size_t)v[0];
        ok = ok && (int)v[0] % 4 == 0 && (int)v[1] % 4 == 0 && ana_texdiff_coverage(tex)[i] &&
             (float)v[4] == ana_texdiff_delta_e(tex)[i];
        bad += !ok;
    }
    CHECK_INT(expect_rows, trows);
    CHECK_INT(0, bad);

    p = fr.data;
    check_header(&p, "index,weight,mean_disp_from_source,max_disp_from_source,"
                     "mean_disp_from_target,max_disp_from_target");
    int frows = 0;
    while (next_row(&p, f, 16) == 6)
        frows++;
    CHECK_INT(41, frows);
    /* Frame 0 is the source, frame 40 the target; the middle is half way from each. */
    CHECK_NEAR(0.0, frames[0].max_from_source, 0.0);
    CHECK_NEAR(0.0, frames[40].max_from_target, 0.0);
    CHECK_NEAR(sum.total.mean, frames[40].mean_from_source, 1e-5 * sum.total.max);
    CHECK_NEAR(sum.total.max, frames[40].max_from_source, 1e-5 * sum.total.max);
    CHECK_NEAR(0.5 * sum.total.mean, frames[20].mean_from_target, 1e-5 * sum.total.max);

    printf("timings (s): displacement %.4f, rigid %.4f, texture A-A %.3f, texture A-B %.3f "
           "(1 thread %.3f), statistics %.3f, frames %.4f, csv statistics %.5f, vertices %.4f "
           "(%zu bytes), texels %.3f (%zu bytes, %zu rows), frames %.5f\n",
           t_disp, t_rigid, t_self, t_tex, t_tex1, t_stats, t_frames, t_csv_st, t_csv_vx, vx.len,
           t_csv_tx, tx.len, trows, t_csv_fr);
    printf("analysis total (none-aligned displacement + texture A-B + statistics + frames + "
           "CSVs): %.3f s\n",
           t_disp + t_tex + t_stats + t_frames + t_csv_st + t_csv_vx + t_csv_tx + t_csv_fr);

    md_buf_free(&st);
    md_buf_free(&vx);
    md_buf_free(&tx);
    md_buf_free(&fr);
    ana_texdiff_free(self);
    ana_texdiff_free(tex);
    ana_texdiff_free(tex1);
    ana_displacement_free(disp);
    ana_displacement_free(rigid);
    job_inputs_free(in);
    md_free((void *)pa);
    md_free((void *)pb);
    md_free((void *)ta);
    md_free((void *)tb);
    return test_done();
}
