/*
 * stats.c — summary statistics of a float array (mean, population std, min, max and five
 * percentiles), the six-row summary of a job, and per-frame displacement from each end.
 *
 * Called from any thread; pure apart from its scratch allocations.
 *
 * Percentiles are exact order statistics found without sorting: values map to 32-bit keys
 * whose unsigned order is the float order; a histogram of the keys' top 16 bits finds the
 * bucket of each needed rank, and a second pass histograms the low 16 bits of just those
 * buckets, which pins the exact key. Two passes over the data, O(n), deterministic, and as
 * fast when every value is equal (texture of A against A) as otherwise. Sorting 4M texels
 * would cost several times more.
 */
#include "analysis/analysis.h"

#include <math.h>
#include <string.h>

/* ---- Order statistics ---- */

#define BUCKETS 65536
#define MAX_RANKS 12

static uint32_t float_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static float key_float(uint32_t k)
{
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Statistics of up to three planes over one mask, in one pair of passes: each plane's sums
 * run in index order exactly as for the plane alone (so the same bits), but the three
 * latency-bound chains (sum, squared deviations) and histograms interleave. */
#define MAX_PLANES 3

static int stats_planes(const float *const *values, int planes, const uint8_t *mask, size_t n,
                        ana_stats *const *outs, md_error *err)
{
    static const double qs[5] = {25, 50, 75, 95, 99};
    uint32_t *hist_hi[MAX_PLANES] = {NULL, NULL, NULL}, *hist_lo[MAX_PLANES] = {NULL, NULL, NULL};
    int16_t *slot[MAX_PLANES] = {NULL, NULL, NULL};
    int rc = 0;
    for (int p = 0; p < planes; p++) {
        ana_stats *out = outs[p];
        out->count = 0;
        out->mean = out->std = out->min = out->max = NAN;
        out->p25 = out->p50 = out->p75 = out->p95 = out->p99 = NAN;
    }
    if (n > UINT32_MAX) {
        rc = md_fail(err, MD_ELIMIT, "statistics over %zu values: at most %u supported", n,
                     UINT32_MAX);
        goto done;
    }
    for (int p = 0; p < planes; p++) {
        hist_hi[p] = md_calloc(BUCKETS, sizeof *hist_hi[p]);
        slot[p] = md_malloc_array(BUCKETS, sizeof *slot[p]);
        if (!hist_hi[p] || !slot[p]) {
            rc = md_fail(err, MD_ENOMEM, "out of memory for statistics");
            goto done;
        }
    }

    /* Pass 1: count, sum, extremes, top-16-bit histogram. */
    uint64_t count[MAX_PLANES] = {0, 0, 0};
    double sum[MAX_PLANES] = {0.0, 0.0, 0.0};
    float lo[MAX_PLANES] = {INFINITY, INFINITY, INFINITY};
    float hi[MAX_PLANES] = {-INFINITY, -INFINITY, -INFINITY};
    for (size_t i = 0; i < n; i++) {
        if (mask && !mask[i])
            continue;
        for (int p = 0; p < planes; p++) {
            const float v = values[p][i];
            if (!isfinite(v))
                continue;
            count[p]++;
            sum[p] += v;
            lo[p] = v < lo[p] ? v : lo[p];
            hi[p] = v > hi[p] ? v : hi[p];
            hist_hi[p][float_key(v) >> 16]++;
        }
    }

    /* Ranks needed by the percentiles, and the buckets holding them. */
    uint64_t ranks[MAX_PLANES][MAX_RANKS];
    uint32_t rank_bucket[MAX_PLANES][MAX_RANKS];
    uint64_t rank_in_bucket[MAX_PLANES][MAX_RANKS];
    double mean[MAX_PLANES] = {0.0, 0.0, 0.0};
    int nranks = 0;
    for (int p = 0; p < planes; p++) {
        outs[p]->count = count[p];
        memset(slot[p], 0xff, BUCKETS * sizeof *slot[p]); /* -1: not needed */
        if (count[p] == 0)
            continue;
        mean[p] = sum[p] / (double)count[p];
        nranks = 0;
        for (int q = 0; q < 5; q++) {
            double h = (double)(count[p] - 1) * qs[q] / 100.0;
            uint64_t k = (uint64_t)floor(h);
            ranks[p][nranks++] = k;
            ranks[p][nranks++] = k + 1 < count[p] ? k + 1 : k;
        }
        int nslots = 0;
        for (int r = 0; r < nranks; r++) {
            uint64_t cum = 0;
            uint32_t b = 0;
            while (cum + hist_hi[p][b] <= ranks[p][r]) {
                cum += hist_hi[p][b];
                b++;
            }
            rank_bucket[p][r] = b;
            rank_in_bucket[p][r] = ranks[p][r] - cum;
            if (slot[p][b] < 0)
                slot[p][b] = (int16_t)nslots++;
        }
        hist_lo[p] = md_calloc((size_t)nslots * BUCKETS, sizeof *hist_lo[p]);
        if (!hist_lo[p]) {
            rc = md_fail(err, MD_ENOMEM, "out of memory for statistics");
            goto done;
        }
    }

    /* Pass 2: squared deviations, low-16-bit histograms of the needed buckets. */
    double ss[MAX_PLANES] = {0.0, 0.0, 0.0};
    for (size_t i = 0; i < n; i++) {
        if (mask && !mask[i])
            continue;
        for (int p = 0; p < planes; p++) {
            const float v = values[p][i];
            if (!isfinite(v))
                continue;
            double d = (double)v - mean[p];
            ss[p] += d * d;
            uint32_t k = float_key(v);
            int sl = slot[p][k >> 16];
            if (sl >= 0)
                hist_lo[p][(size_t)sl * BUCKETS + (k & 0xffffu)]++;
        }
    }
    for (int p = 0; p < planes; p++) {
        if (count[p] == 0)
            continue;
        ana_stats *out = outs[p];
        double *pct[5] = {&out->p25, &out->p50, &out->p75, &out->p95, &out->p99};
        double rank_value[MAX_RANKS];
        for (int r = 0; r < 2 * 5; r++) {
            const uint32_t *h = hist_lo[p] + (size_t)slot[p][rank_bucket[p][r]] * BUCKETS;
            uint64_t cum = 0;
            uint32_t l = 0;
            while (cum + h[l] <= rank_in_bucket[p][r]) {
                cum += h[l];
                l++;
            }
            rank_value[r] = key_float((rank_bucket[p][r] << 16) | l);
        }
        for (int q = 0; q < 5; q++) {
            double h = (double)(count[p] - 1) * qs[q] / 100.0;
            double f = h - floor(h);
            double x0 = rank_value[2 * q], x1 = rank_value[2 * q + 1];
            *pct[q] = x0 + f * (x1 - x0);
        }
        out->mean = mean[p];
        out->std = sqrt(ss[p] / (double)count[p]);
        out->min = lo[p];
        out->max = hi[p];
    }

done:
    for (int p = 0; p < MAX_PLANES; p++) {
        md_free(hist_hi[p]);
        md_free(hist_lo[p]);
        md_free(slot[p]);
    }
    return rc;
}

int ana_stats_compute(const float *values, const uint8_t *mask, size_t n, ana_stats *out,
                      md_error *err)
{
    ana_stats *outs[1] = {out};
    return stats_planes(&values, 1, mask, n, outs, err);
}

/* ---- Summary ---- */

int ana_summary_compute(const ana_displacement_result *shape, const ana_texdiff_result *texture,
                        ana_summary *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    const size_t nv = ana_displacement_vertex_count(shape);
    const float *shape_v[3] = {ana_displacement_normal(shape), ana_displacement_tangential(shape),
                               ana_displacement_total(shape)};
    ana_stats *shape_o[3] = {&out->normal, &out->tangential, &out->total};
    int rc = stats_planes(shape_v, 3, NULL, nv, shape_o, err);
    if (rc != 0 || !texture)
        return rc;
    out->has_texture = 1;
    const size_t nt = (size_t)ana_texdiff_width(texture) * (size_t)ana_texdiff_height(texture);
    const float *tex_v[3] = {ana_texdiff_luminance(texture), ana_texdiff_chroma(texture),
                             ana_texdiff_delta_e(texture)};
    ana_stats *tex_o[3] = {&out->luminance, &out->chroma, &out->delta_e};
    return stats_planes(tex_v, 3, ana_texdiff_coverage(texture), nt, tex_o, err);
}

/* ---- Frames ---- */

int ana_frame_stats(const mesh *a, const mesh *b, const float *weights, uint32_t frame_count,
                    ana_frame_stat *out, md_error *err)
{
    int rc = mesh_check_topology(a, b, err);
    if (rc != 0)
        return rc;
    const uint32_t nv = mesh_vertex_count(a);
    const float *pa = mesh_positions(a), *pb = mesh_positions(b);
    for (uint32_t f = 0; f < frame_count; f++) {
        const float t = weights[f], s = 1.0f - t;
        double sum_a = 0.0, sum_b = 0.0, max_a = 0.0, max_b = 0.0;
        for (uint32_t i = 0; i < nv; i++) {
            double da2 = 0.0, db2 = 0.0;
            for (int k = 0; k < 3; k++) {
                const size_t o = (size_t)i * 3 + k;
                /* The engine's morph arithmetic (gpu/cpu/morph.c), in float. */
                float p = s * pa[o] + t * pb[o];
                double da = (double)p - pa[o], db = (double)p - pb[o];
                da2 += da * da;
                db2 += db * db;
            }
            double dist_a = sqrt(da2), dist_b = sqrt(db2);
            sum_a += dist_a;
            sum_b += dist_b;
            max_a = dist_a > max_a ? dist_a : max_a;
            max_b = dist_b > max_b ? dist_b : max_b;
        }
        out[f].index = f;
        out[f].weight = t;
        out[f].mean_from_source = nv ? sum_a / nv : 0.0;
        out[f].max_from_source = max_a;
        out[f].mean_from_target = nv ? sum_b / nv : 0.0;
        out[f].max_from_target = max_b;
    }
    return 0;
}
