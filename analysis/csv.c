/*
 * csv.c — the analysis CSV files, written into a bounded growing buffer (no I/O: the caller
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

void ana_buf_init(ana_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void ana_buf_free(ana_buf *b)
{
    md_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_append(ana_buf *b, const char *s, size_t n, md_error *err)
{
    size_t need;
    if (md_add_size(b->len, n, &need) != 0 || need > b->max)
        return md_fail(err, MD_ELIMIT, "CSV larger than its limit of %zu bytes", b->max);
    if (need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need + 1)
            cap = cap > SIZE_MAX / 2 ? need + 1 : cap * 2;
        char *p = md_realloc_array(b->data, cap, 1);
        if (!p)
            return md_fail(err, MD_ENOMEM, "out of memory for a CSV of %zu bytes", need);
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len = need;
    b->data[need] = '\0';
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

static void row_float(row *r, float v)
{
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

static int row_end(ana_buf *b, row *r, md_error *err)
{
    row_printf(r, "\n");
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

static int header(ana_buf *b, const char *line, md_error *err)
{
    return buf_append(b, line, strlen(line), err);
}

/* ---- Files ---- */

static int stats_row(ana_buf *b, const char *metric, const char *component, const ana_stats *s,
                     md_error *err)
{
    row r = {.len = 0};
    row_printf(&r, ",%s,%s", metric, component);
    const double v[9] = {s->mean, s->std, s->min, s->max, s->p25, s->p50, s->p75, s->p95, s->p99};
    for (int k = 0; k < 9; k++)
        row_double(&r, v[k]);
    return row_end(b, &r, err);
}

int ana_csv_statistics(ana_buf *b, const ana_summary *s, md_error *err)
{
    int rc = header(b, "metric,component,mean,std,min,max,p25,p50,p75,p95,p99\n", err);
    if (rc == 0)
        rc = stats_row(b, "shape", "normal", &s->normal, err);
    if (rc == 0)
        rc = stats_row(b, "shape", "tangential", &s->tangential, err);
    if (rc == 0)
        rc = stats_row(b, "shape", "total", &s->total, err);
    if (rc == 0 && s->has_texture)
        rc = stats_row(b, "texture", "luminance", &s->luminance, err);
    if (rc == 0 && s->has_texture)
        rc = stats_row(b, "texture", "chroma", &s->chroma, err);
    if (rc == 0 && s->has_texture)
        rc = stats_row(b, "texture", "delta_e", &s->delta_e, err);
    return rc;
}

int ana_csv_vertex_displacements(ana_buf *b, const ana_displacement_result *r, md_error *err)
{
    int rc =
        header(b, "vertex_id,x_a,y_a,z_a,x_b,y_b,z_b,normal_disp,tangent_disp,total_disp\n", err);
    const uint32_t nv = ana_displacement_vertex_count(r);
    const float *pa = ana_displacement_positions_a(r), *pb = ana_displacement_positions_b(r);
    const float *nd = ana_displacement_normal(r), *td = ana_displacement_tangential(r);
    const float *tot = ana_displacement_total(r);
    row line = {.len = 0};
    for (uint32_t i = 0; rc == 0 && i < nv; i++) {
        row_printf(&line, ",%u", i);
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

int ana_csv_texture_differences(ana_buf *b, const ana_texdiff_result *r, int step, md_error *err)
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
            row_printf(&line, ",%d,%d", x, y);
            row_float(&line, lum[i]);
            row_float(&line, chr[i]);
            row_float(&line, de[i]);
            rc = row_end(b, &line, err);
        }
    }
    return rc;
}

int ana_csv_frames(ana_buf *b, const ana_frame_stat *frames, uint32_t frame_count, md_error *err)
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
