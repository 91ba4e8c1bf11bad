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

static int use_value(const float *values, const uint8_t *mask, size_t i)
{
    return (!mask || mask[i]) && isfinite(values[i]);
}

int ana_stats_compute(const float *values, const uint8_t *mask, size_t n, ana_stats *out,
                      md_error *err)
{
    static const double qs[5] = {25, 50, 75, 95, 99};
    double *pct[5] = {&out->p25, &out->p50, &out->p75, &out->p95, &out->p99};
    uint32_t *hist_hi = NULL, *hist_lo = NULL;
    int16_t *slot = NULL;
    int rc = 0;
    out->count = 0;
    out->mean = out->std = out->min = out->max = NAN;
    for (int q = 0; q < 5; q++)
        *pct[q] = NAN;
    if (n > UINT32_MAX) {
        rc = md_fail(err, MD_ELIMIT, "statistics over %zu values: at most %u supported", n,
                     UINT32_MAX);
        goto done;
    }
    hist_hi = md_calloc(BUCKETS, sizeof *hist_hi);
    slot = md_malloc_array(BUCKETS, sizeof *slot);
    if (!hist_hi || !slot) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for statistics");
        goto done;
    }

    /* Pass 1: count, sum, extremes, top-16-bit histogram. */
    uint64_t count = 0;
    double sum = 0.0;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!use_value(values, mask, i))
            continue;
        float v = values[i];
        count++;
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        hist_hi[float_key(v) >> 16]++;
    }
    out->count = count;
    if (count == 0)
        goto done;
    const double mean = sum / (double)count;

    /* Ranks needed by the percentiles, and the buckets holding them. */
    uint64_t ranks[MAX_RANKS];
    int nranks = 0;
    for (int q = 0; q < 5; q++) {
        double h = (double)(count - 1) * qs[q] / 100.0;
        uint64_t k = (uint64_t)floor(h);
        ranks[nranks++] = k;
        ranks[nranks++] = k + 1 < count ? k + 1 : k;
    }
    uint32_t rank_bucket[MAX_RANKS];
    uint64_t rank_in_bucket[MAX_RANKS];
    memset(slot, 0xff, BUCKETS * sizeof *slot); /* -1: not needed */
    int nslots = 0;
    for (int r = 0; r < nranks; r++) {
        uint64_t cum = 0;
        uint32_t b = 0;
        while (cum + hist_hi[b] <= ranks[r]) {
            cum += hist_hi[b];
            b++;
        }
        rank_bucket[r] = b;
        rank_in_bucket[r] = ranks[r] - cum;
        if (slot[b] < 0)
            slot[b] = (int16_t)nslots++;
    }
    hist_lo = md_calloc((size_t)nslots * BUCKETS, sizeof *hist_lo);
    if (!hist_lo) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for statistics");
        goto done;
    }

    /* Pass 2: squared deviations, low-16-bit histograms of the needed buckets. */
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!use_value(values, mask, i))
            continue;
        double d = (double)values[i] - mean;
        ss += d * d;
        uint32_t k = float_key(values[i]);
        int s = slot[k >> 16];
        if (s >= 0)
            hist_lo[(size_t)s * BUCKETS + (k & 0xffffu)]++;
    }
    double rank_value[MAX_RANKS];
    for (int r = 0; r < nranks; r++) {
        const uint32_t *h = hist_lo + (size_t)slot[rank_bucket[r]] * BUCKETS;
        uint64_t cum = 0;
        uint32_t l = 0;
        while (cum + h[l] <= rank_in_bucket[r]) {
            cum += h[l];
            l++;
        }
        rank_value[r] = key_float((rank_bucket[r] << 16) | l);
    }
    for (int q = 0; q < 5; q++) {
        double h = (double)(count - 1) * qs[q] / 100.0;
        double f = h - floor(h);
        double x0 = rank_value[2 * q], x1 = rank_value[2 * q + 1];
        *pct[q] = x0 + f * (x1 - x0);
    }
    out->mean = mean;
    out->std = sqrt(ss / (double)count);
    out->min = lo;
    out->max = hi;

done:
    md_free(hist_hi);
    md_free(hist_lo);
    md_free(slot);
    return rc;
}

/* ---- Summary ---- */

int ana_summary_compute(const ana_displacement_result *shape, const ana_texdiff_result *texture,
                        ana_summary *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    const size_t nv = ana_displacement_vertex_count(shape);
    int rc = ana_stats_compute(ana_displacement_normal(shape), NULL, nv, &out->normal, err);
    if (rc == 0)
        rc = ana_stats_compute(ana_displacement_tangential(shape), NULL, nv, &out->tangential, err);
    if (rc == 0)
        rc = ana_stats_compute(ana_displacement_total(shape), NULL, nv, &out->total, err);
    if (rc != 0 || !texture)
        return rc;
    out->has_texture = 1;
    const size_t nt = (size_t)ana_texdiff_width(texture) * (size_t)ana_texdiff_height(texture);
    const uint8_t *cov = ana_texdiff_coverage(texture);
    rc = ana_stats_compute(ana_texdiff_luminance(texture), cov, nt, &out->luminance, err);
    if (rc == 0)
        rc = ana_stats_compute(ana_texdiff_chroma(texture), cov, nt, &out->chroma, err);
    if (rc == 0)
        rc = ana_stats_compute(ana_texdiff_delta_e(texture), cov, nt, &out->delta_e, err);
    return rc;
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
