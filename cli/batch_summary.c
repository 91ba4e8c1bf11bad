/*
 * batch_summary.c — which pairs of a `morph batch` are done, and OUT/summary.csv. Main thread of
 * the batch process.
 *
 * "Complete" is read from the pair's manifest.json, the file `morph run` (and a server job)
 * writes last, after every frame and output: it must list every frame of the job
 * (frame_count == frames_total > 0), and every frame and output artifact it lists must be in
 * the folder with the listed size. A run that died half-way leaves no manifest or one whose
 * files do not match (morph run removes the old frames first), so it is run again.
 *
 * summary.csv quotes a field (RFC 4180) when it holds a comma, a quote or a line break. The
 * means are copied as statistics.csv wrote them (the component names are analysis.h's); a pair
 * without statistics.csv (the csv output not asked for) takes them from its manifest's
 * outputs.statistics, which every job that measured the pair writes.
 */
#define _GNU_SOURCE
#include "cli/batch.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/analysis.h"

/* Largest manifest.json read (thousands of frames fit in a few MiB). */
#define MANIFEST_MAX (64u << 20)
/* Largest statistics.csv read (six rows). */
#define STATS_MAX (64u << 10)

/* ---- Complete pairs ---- */

/* 1 when dir/name is a file of bytes bytes; a name with ".." is never accepted. */
static int file_has_size(const char *dir, const json_t *name, const json_t *bytes)
{
    const char *n = json_string_value(name);
    if (n == NULL || !json_is_integer(bytes) || strstr(n, "..") != NULL || n[0] == '/')
        return 0;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, n) >= sizeof path)
        return 0;
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
           (long long)st.st_size == json_integer_value(bytes);
}

/* dir/manifest.json parsed, or NULL when missing, too big or not JSON. */
static json_t *load_manifest(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *text = NULL;
    size_t len = 0;
    md_error err;
    if (md_read_file(path, MANIFEST_MAX, &text, &len, &err) != 0)
        return NULL;
    json_t *root = json_loadb(text, len, 0, NULL);
    md_free(text);
    return root;
}

int batch_pair_complete(const char *dir)
{
    json_t *root = load_manifest(dir);
    const json_t *frames = json_object_get(root, "frames");
    json_int_t total = json_integer_value(json_object_get(root, "frames_total"));
    int complete = json_is_array(frames) && total > 0 &&
                   json_integer_value(json_object_get(root, "frame_count")) == total &&
                   (json_int_t)json_array_size(frames) == total;
    size_t i;
    const json_t *v;
    json_array_foreach(frames, i, v)
    {
        if (!complete)
            break;
        complete = file_has_size(dir, json_object_get(v, "file"), json_object_get(v, "bytes"));
    }
    const json_t *arts = json_object_get(json_object_get(root, "outputs"), "artifacts");
    json_array_foreach(arts, i, v)
    {
        if (!complete)
            break;
        complete = file_has_size(dir, json_object_get(v, "name"), json_object_get(v, "bytes"));
    }
    json_decref(root);
    return complete;
}

/* ---- statistics.csv ---- */

/* The cell of column col (0-based) of the line [line, end) into out; "" when missing. */
static void csv_cell(const char *line, const char *end, int col, char *out, size_t cap)
{
    const char *s = line;
    for (int c = 0; c < col && s != NULL; c++) {
        s = memchr(s, ',', (size_t)(end - s));
        s = s != NULL ? s + 1 : NULL;
    }
    out[0] = '\0';
    if (s == NULL)
        return;
    const char *e = memchr(s, ',', (size_t)(end - s));
    if (e == NULL)
        e = end;
    while (e > s && (e[-1] == '\r' || e[-1] == ' '))
        e--;
    size_t n = (size_t)(e - s);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* The mean of the total displacement and of CIEDE2000 from dir/statistics.csv ("" each when the
 * file or the row is missing). The mean's column is found by the header's name. */
static void read_means(const char *dir, char *displacement, char *delta_e, size_t cap)
{
    displacement[0] = delta_e[0] = '\0';
    char path[4200];
    snprintf(path, sizeof path, "%s/statistics.csv", dir);
    char *text = NULL;
    size_t len = 0;
    md_error err;
    if (md_read_file(path, STATS_MAX, &text, &len, &err) != 0)
        return;
    int mean_col = -1;
    const char *p = text, *end = text + len;
    for (int row = 0; p < end; row++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol != NULL ? eol : end;
        char cell[64];
        if (row == 0) {
            for (int c = 0; c < 32 && mean_col < 0; c++) {
                csv_cell(p, stop, c, cell, sizeof cell);
                if (strcmp(cell, ANA_STATS_COLUMN_MEAN) == 0)
                    mean_col = c;
            }
            if (mean_col < 0)
                break;
        } else {
            csv_cell(p, stop, 1, cell, sizeof cell);
            if (strcmp(cell, ANA_STATS_TOTAL_DISPLACEMENT) == 0)
                csv_cell(p, stop, mean_col, displacement, cap);
            else if (strcmp(cell, ANA_STATS_DELTA_E) == 0)
                csv_cell(p, stop, mean_col, delta_e, cap);
        }
        p = eol != NULL ? eol + 1 : end;
    }
    md_free(text);
}

/* The same means from dir/manifest.json (outputs.statistics, which a job writes whenever it
 * measured the pair, also without the csv output), for a pair without statistics.csv. */
static void read_manifest_means(const char *dir, char *displacement, char *delta_e, size_t cap)
{
    json_t *root = load_manifest(dir);
    const json_t *stats = json_object_get(json_object_get(root, "outputs"), "statistics");
    const json_t *total =
        json_object_get(json_object_get(json_object_get(stats, "shape"), "total"), "mean");
    const json_t *de =
        json_object_get(json_object_get(json_object_get(stats, "texture"), "delta_e"), "mean");
    if (json_is_number(total))
        snprintf(displacement, cap, "%.9g", json_number_value(total));
    if (json_is_number(de))
        snprintf(delta_e, cap, "%.9g", json_number_value(de));
    json_decref(root);
}

/* ---- summary.csv ---- */

static void csv_field(md_buf *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        md_buf_puts(b, s);
        return;
    }
    md_buf_puts(b, "\"");
    for (const char *c = s; *c != '\0'; c++)
        md_buf_puts(b, *c == '"' ? "\"\"" : (char[2]){*c, '\0'});
    md_buf_puts(b, "\"");
}

static const char *status_name(batch_status s)
{
    switch (s) {
    case BATCH_OK:
        return "ok";
    case BATCH_FAILED:
        return "failed";
    case BATCH_SKIPPED:
        return "skipped";
    case BATCH_NOT_RUN:
        break;
    }
    return "not_run";
}

int batch_summary_write(const char *out_dir, const batch_set *set, const batch_result *results,
                        md_error *err)
{
    md_buf b;
    md_buf_init(&b, 256u << 20);
    md_buf_puts(&b, "pair,status,seconds,mean_total_displacement,mean_delta_e00,message\n");
    for (uint32_t i = 0; i < set->pair_count; i++) {
        const batch_result *r = &results[i];
        char name[512], dir[4096], disp[64], de[64];
        batch_pair_name(set, &set->pairs[i], name, sizeof name);
        snprintf(dir, sizeof dir, "%s/%s", out_dir, name);
        disp[0] = de[0] = '\0';
        if (r->status == BATCH_OK || r->status == BATCH_SKIPPED) {
            read_means(dir, disp, de, sizeof disp);
            if (disp[0] == '\0' && de[0] == '\0')
                read_manifest_means(dir, disp, de, sizeof disp);
        }
        csv_field(&b, name);
        md_buf_printf(&b, ",%s,", status_name(r->status));
        if (r->seconds >= 0)
            md_buf_printf(&b, "%.3f", r->seconds);
        md_buf_printf(&b, ",%s,%s,", disp, de);
        csv_field(&b, r->message);
        md_buf_puts(&b, "\n");
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.csv", out_dir);
    int rc = b.err;
    if (rc != 0)
        rc = md_fail(err, rc, "cannot build %s: out of memory", path);
    else
        rc = md_write_file_atomic(path, b.data, b.len, err);
    md_buf_free(&b);
    return rc;
}
