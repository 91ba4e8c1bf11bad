/*
 * csv.c — the analysis CSV files, written into a bounded md_buf (no I/O: the caller
 * stores the bytes). Column names are those of the face-morph tool's CSVs, so the labs' R and
 * MATLAB scripts keep reading them.
 *
 * Called from any thread; each call owns only its buffer.
 *
 * Numbers: floats as "%.9g" (nine significant digits always read back to the same float);
 * doubles as the shortest of "%.15g", "%.16g", "%.17g" that reads back to the same double.
 * Line ends are '\n'. Rows are assembled in a stack buffer and appended in one copy, so a
 * 130k-row texture CSV costs about the time of its number formatting.
 */
#include "analysis/analysis.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- Buffer ---- */

static int buf_append(md_buf *b, const char *s, size_t n, md_error *err)
{
    int rc = md_buf_append(b, s, n);
    if (rc == MD_ELIMIT)
        return md_fail(err, MD_ELIMIT, "CSV larger than its limit of %zu bytes", b->max);
    if (rc != 0)
        return md_fail(err, rc, "out of memory for a CSV of %zu bytes", b->len + n);
    return 0;
}

/* ---- Numbers into a row ---- */

typedef struct row {
    char text[512];
    size_t len;
} row;

static void row_printf(row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void row_printf(row *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->text + r->len, sizeof r->text - r->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->len += (size_t)n < sizeof r->text - r->len ? (size_t)n : sizeof r->text - r->len - 1;
}

/* Decimal digits of u (u < 10^10) at out; returns the count. */
static size_t put_uint(char *out, uint64_t u)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static void row_uint(row *r, uint64_t u)
{
    if (sizeof r->text - r->len < 32) {
        row_printf(r, ",%llu", (unsigned long long)u);
        return;
    }
    r->text[r->len++] = ',';
    r->len += put_uint(r->text + r->len, u);
}

/* "%.9g" of a float, the same bytes as printf, for |v| in [1e-4, 1e9) and zero (where %g prints
 * fixed notation; the texture CSV's values all land there); 0 elsewhere (caller falls back to
 * printf). v = m 2^e exactly, so N = round(|v| 10^s) is computed exactly in 128-bit integers,
 * ties to even as glibc rounds; s = 8 - X puts N in [10^8, 10^9), X the decimal exponent. */
static size_t format_float9(char *out, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    size_t n = 0;
    if (bits & 0x80000000u)
        out[n++] = '-';
    const uint32_t exp_bits = (bits >> 23) & 0xffu, frac = bits & 0x7fffffu;
    if (exp_bits == 0 && frac == 0) {
        out[n++] = '0';
        return n;
    }
    const float a = fabsf(v);
    if (exp_bits == 0 || exp_bits == 0xff || !(a >= 1e-4f) || !(a < 1e9f))
        return 0;
    const uint64_t m = frac | 0x800000u;
    const int e = (int)exp_bits - 150; /* |v| = m 2^e */
    static const uint64_t pow10[13] = {
        1,        10,        100,        1000,        10000,        100000,       1000000,
        10000000, 100000000, 1000000000, 10000000000, 100000000000, 1000000000000};
    int X = (int)floor(log10((double)a));
    uint64_t N = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        const int s10 = 8 - X;
        if (s10 < 0 || s10 > 12)
            return 0;
        unsigned __int128 num = (unsigned __int128)m * pow10[s10];
        if (e >= 0) {
            N = (uint64_t)(num << e);
        } else {
            const unsigned __int128 q = num >> -e, rem = num - (q << -e);
            const unsigned __int128 half = (unsigned __int128)1 << (-e - 1);
            N = (uint64_t)q + (rem > half || (rem == half && (q & 1)));
        }
        if (N >= 1000000000u)
            X++;
        else if (N < 100000000u)
            X--;
        else
            break;
    }
    if (N < 100000000u || N >= 1000000000u || X < -4 || X > 8)
        return 0;
    char d[9];
    put_uint(d, N);
    int last = 8; /* last significant digit to print */
    while (last > X && last > 0 && d[last] == '0')
        last--;
    if (X >= 0) {
        for (int i = 0; i <= X; i++)
            out[n++] = d[i];
        if (last > X) {
            out[n++] = '.';
            for (int i = X + 1; i <= last; i++)
                out[n++] = d[i];
        }
    } else {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = 0; i < -X - 1; i++)
            out[n++] = '0';
        for (int i = 0; i <= last; i++)
            out[n++] = d[i];
    }
    return n;
}

static void row_float(row *r, float v)
{
    if (sizeof r->text - r->len >= 32) {
        size_t n = format_float9(r->text + r->len + 1, v);
        if (n > 0) {
            r->text[r->len] = ',';
            r->len += n + 1;
            return;
        }
    }
    row_printf(r, ",%.9g", (double)v);
}

static void row_double(row *r, double v)
{
    char tmp[40];
    if (isnan(v)) {
        row_printf(r, ",NaN"); /* what R, MATLAB and numpy all read as not-a-number */
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    row_printf(r, ",%s", tmp);
}

static int row_end(md_buf *b, row *r, md_error *err)
{
    if (r->len + 1 < sizeof r->text) {
        r->text[r->len++] = '\n';
        r->text[r->len] = '\0';
    } else {
        row_printf(r, "\n");
    }
    /* Skip the leading comma the number helpers put before the first column. */
    const char *s = r->text;
    size_t n = r->len;
    if (n > 0 && s[0] == ',') {
        s++;
        n--;
    }
    int rc = buf_append(b, s, n, err);
    r->len = 0;
    return rc;
}

static int header(md_buf *b, const char *line, md_error *err)
{
    return buf_append(b, line, strlen(line), err);
}

/* ---- Files ---- */

static int stats_row(md_buf *b, const char *metric, const char *component, const ana_stats *s,
                     md_error *err)
{
    row r = {.len = 0};
    row_printf(&r, ",%s,%s", metric, component);
    const double v[9] = {s->mean, s->std, s->min, s->max, s->p25, s->p50, s->p75, s->p95, s->p99};
    for (int k = 0; k < 9; k++)
        row_double(&r, v[k]);
    return row_end(b, &r, err);
}

int ana_csv_statistics(md_buf *b, const ana_summary *s, md_error *err)
{
    int rc = header(
        b, "metric,component," ANA_STATS_COLUMN_MEAN ",std,min,max,p25,p50,p75,p95,p99\n", err);
    if (rc == 0)
        rc = stats_row(b, "shape", "normal_displacement", &s->normal, err);
    if (rc == 0)
        rc = stats_row(b, "shape", "tangent_displacement", &s->tangential, err);
    if (rc == 0)
        rc = stats_row(b, "shape", ANA_STATS_TOTAL_DISPLACEMENT, &s->total, err);
    if (rc == 0 && s->has_texture)
        rc = stats_row(b, "texture", "luminance_difference", &s->luminance, err);
    if (rc == 0 && s->has_texture)
        rc = stats_row(b, "texture", "chrominance_difference", &s->chroma, err);
    if (rc == 0 && s->has_texture)
        rc = stats_row(b, "texture", ANA_STATS_DELTA_E, &s->delta_e, err);
    return rc;
}

int ana_csv_vertex_displacements(md_buf *b, const ana_displacement_result *r, md_error *err)
{
    int rc =
        header(b, "vertex_id,x_a,y_a,z_a,x_b,y_b,z_b,normal_disp,tangent_disp,total_disp\n", err);
    const uint32_t nv = ana_displacement_vertex_count(r);
    const float *pa = ana_displacement_positions_a(r), *pb = ana_displacement_positions_b(r);
    const float *nd = ana_displacement_normal(r), *td = ana_displacement_tangential(r);
    const float *tot = ana_displacement_total(r);
    row line = {.len = 0};
    for (uint32_t i = 0; rc == 0 && i < nv; i++) {
        row_uint(&line, ana_displacement_vertex_id(r, i)); /* as A's file numbers it */
        for (int k = 0; k < 3; k++)
            row_float(&line, pa[(size_t)i * 3 + k]);
        for (int k = 0; k < 3; k++)
            row_float(&line, pb[(size_t)i * 3 + k]);
        row_float(&line, nd[i]);
        row_float(&line, td[i]);
        row_float(&line, tot[i]);
        rc = row_end(b, &line, err);
    }
    return rc;
}

int ana_csv_texture_differences(md_buf *b, const ana_texdiff_result *r, int step, md_error *err)
{
    if (step < 1)
        return md_fail(err, MD_EINVAL, "texture CSV step must be at least 1, got %d", step);
    int rc = header(b, "pixel_x,pixel_y,luminance_diff,chroma_diff,delta_e\n", err);
    const int w = ana_texdiff_width(r), h = ana_texdiff_height(r);
    const uint8_t *cov = ana_texdiff_coverage(r);
    const float *lum = ana_texdiff_luminance(r), *chr = ana_texdiff_chroma(r);
    const float *de = ana_texdiff_delta_e(r);
    row line = {.len = 0};
    for (int y = 0; rc == 0 && y < h; y += step) {
        for (int x = 0; rc == 0 && x < w; x += step) {
            const size_t i = (size_t)y * (size_t)w + (size_t)x;
            if (!cov[i])
                continue;
            row_uint(&line, (uint64_t)x);
            row_uint(&line, (uint64_t)y);
            row_float(&line, lum[i]);
            row_float(&line, chr[i]);
            row_float(&line, de[i]);
            rc = row_end(b, &line, err);
        }
    }
    return rc;
}

int ana_csv_frames(md_buf *b, const ana_frame_stat *frames, uint32_t frame_count, md_error *err)
{
    int rc = header(b,
                    "index,weight,mean_disp_from_source,max_disp_from_source,"
                    "mean_disp_from_target,max_disp_from_target\n",
                    err);
    row line = {.len = 0};
    for (uint32_t f = 0; rc == 0 && f < frame_count; f++) {
        const ana_frame_stat *s = &frames[f];
        row_printf(&line, ",%u", s->index);
        row_float(&line, (float)s->weight);
        row_double(&line, s->mean_from_source);
        row_double(&line, s->max_from_source);
        row_double(&line, s->mean_from_target);
        row_double(&line, s->max_from_target);
        rc = row_end(b, &line, err);
    }
    return rc;
}
