/*
 * health.c — the operator's routes: /healthz (the loop runs), /readyz (Redis answers PING,
 * storage takes a probe write on the pool, a worker heartbeat is at most 10 s old), /metrics
 * (Prometheus text 0.0.4 for the whole system) and this process's own HTTP metrics.
 *
 * /metrics reads everything system-wide with one Lua script (the {p}metrics hash, the queue
 * depth as stream length minus entries a worker holds, and the alive workers' GPU memory) and
 * renders it with api_metrics_render, a pure function the unit test feeds. Histograms arrive
 * from Redis per bucket (not cumulative, docs/server.md); the renderer accumulates them.
 * Loop thread, apart from the storage probe.
 */
#include "api/api_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#define WORKER_FRESH_S 10

/* ---- Per-process HTTP metrics ---- */

const double api_http_bounds[API_HTTP_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10};

void api_http_stats_observe(api_http_stats *st, api_route r, unsigned code, double seconds)
{
    if (r < 0 || r >= API_ROUTE_COUNT)
        r = API_ROUTE_NONE;
    int slot = API_HTTP_CODES - 1;
    for (int i = 0; i < API_HTTP_CODES; i++) {
        if (st->route[r].code[i] == code || st->route[r].code[i] == 0) {
            slot = i;
            break;
        }
    }
    st->route[r].code[slot] = code;
    st->route[r].requests[slot]++;
    int b = API_HTTP_BUCKETS;
    for (int i = 0; i < API_HTTP_BUCKETS; i++) {
        if (seconds <= api_http_bounds[i]) {
            b = i;
            break;
        }
    }
    st->route[r].buckets[b]++;
    st->route[r].sum += seconds;
    st->route[r].count++;
}

/* ---- Rendering ---- */

/* Shortest text that reads back as the same double ("0.005", not "0.0050000000000000001"). */
static void format_double(double v, char out[40])
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static int numeric(const char *s)
{
    char *end;
    if (s == NULL || s[0] == '\0')
        return 0;
    double v = strtod(s, &end);
    (void)v;
    return *end == '\0';
}

static int label_text_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || s[i] == '{' || s[i] == '}' || s[i] == '|')
            return 0;
    return 1;
}

static void head(md_buf *b, const char *name, const char *type, const char *help)
{
    md_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_counter(md_buf *b, const jq_metric_def *d, const api_metrics_input *in)
{
    size_t nl = strlen(d->name);
    for (size_t i = 0; i < in->field_count; i++) {
        const char *f = in->fields[i];
        if (strncmp(f, "c|", 2) != 0 || strncmp(f + 2, d->name, nl) != 0 || f[2 + nl] != '|')
            continue;
        const char *labels = f + 3 + nl;
        if (!label_text_ok(labels, strlen(labels)) || !numeric(in->values[i]))
            continue;
        if (labels[0])
            md_buf_printf(b, "%s{%s} %s\n", d->name, labels, in->values[i]);
        else
            md_buf_printf(b, "%s %s\n", d->name, in->values[i]);
    }
}

/* One label set of a histogram: its buckets by bound index (the last is +Inf), sum, count. */
typedef struct hist_series {
    const char *labels; /* borrowed from a field, up to labels_len */
    size_t labels_len;
    double buckets[65];
    const char *sum;
    const char *count;
} hist_series;

static void render_histogram(md_buf *b, const jq_metric_def *d, const api_metrics_input *in)
{
    enum { MAX_SERIES = 64 };
    hist_series *series = md_calloc(MAX_SERIES, sizeof *series);
    if (series == NULL || d->bound_count > 64) {
        md_free(series);
        return;
    }
    size_t n_series = 0, nl = strlen(d->name);
    for (size_t i = 0; i < in->field_count; i++) {
        const char *f = in->fields[i];
        if (strncmp(f, "h|", 2) != 0 || strncmp(f + 2, d->name, nl) != 0 || f[2 + nl] != '|')
            continue;
        const char *labels = f + 3 + nl;
        const char *bar = strrchr(labels, '|');
        if (bar == NULL || !numeric(in->values[i]))
            continue;
        size_t ll = (size_t)(bar - labels);
        if (!label_text_ok(labels, ll))
            continue;
        hist_series *s = NULL;
        for (size_t k = 0; k < n_series; k++)
            if (series[k].labels_len == ll && strncmp(series[k].labels, labels, ll) == 0)
                s = &series[k];
        if (s == NULL) {
            if (n_series == MAX_SERIES)
                continue;
            s = &series[n_series++];
            s->labels = labels;
            s->labels_len = ll;
        }
        const char *le = bar + 1;
        double v = strtod(in->values[i], NULL);
        if (strcmp(le, "sum") == 0) {
            s->sum = in->values[i];
        } else if (strcmp(le, "count") == 0) {
            s->count = in->values[i];
        } else if (strcmp(le, "+Inf") == 0) {
            s->buckets[d->bound_count] += v;
        } else {
            double bound = strtod(le, NULL);
            for (int k = 0; k < d->bound_count; k++)
                if (d->bounds[k] == bound)
                    s->buckets[k] += v;
        }
    }
    for (size_t k = 0; k < n_series; k++) {
        hist_series *s = &series[k];
        const char *sep = s->labels_len ? "," : "";
        double cum = 0;
        for (int j = 0; j <= d->bound_count; j++) {
            cum += s->buckets[j];
            char le[40] = "+Inf";
            if (j < d->bound_count)
                format_double(d->bounds[j], le);
            md_buf_printf(b, "%s_bucket{%.*s%sle=\"%s\"} %.17g\n", d->name, (int)s->labels_len,
                          s->labels, sep, le, cum);
        }
        const char *lb = s->labels_len ? "{" : "", *rb = s->labels_len ? "}" : "";
        md_buf_printf(b, "%s_sum%s%.*s%s %s\n", d->name, lb, (int)s->labels_len, s->labels, rb,
                      s->sum ? s->sum : "0");
        md_buf_printf(b, "%s_count%s%.*s%s %s\n", d->name, lb, (int)s->labels_len, s->labels, rb,
                      s->count ? s->count : "0");
    }
    md_free(series);
}

static void render_http(md_buf *b, const api_http_stats *st)
{
    head(b, "morphd_http_requests_total", "counter",
         "HTTP requests this api process answered, by route template and status code.");
    for (int r = 0; st && r < API_ROUTE_COUNT; r++)
        for (int i = 0; i < API_HTTP_CODES && st->route[r].code[i]; i++)
            md_buf_printf(b, "morphd_http_requests_total{route=\"%s\",code=\"%u\"} %llu\n",
                          api_route_template(r), st->route[r].code[i],
                          (unsigned long long)st->route[r].requests[i]);
    head(b, "morphd_http_request_duration_seconds", "histogram",
         "Time from a request's headers to its answer in this api process, by route template.");
    for (int r = 0; st && r < API_ROUTE_COUNT; r++) {
        if (st->route[r].count == 0)
            continue;
        const char *t = api_route_template(r);
        uint64_t cum = 0;
        for (int j = 0; j <= API_HTTP_BUCKETS; j++) {
            cum += st->route[r].buckets[j];
            char le[40] = "+Inf";
            if (j < API_HTTP_BUCKETS)
                format_double(api_http_bounds[j], le);
            md_buf_printf(b,
                          "morphd_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} "
                          "%llu\n",
                          t, le, (unsigned long long)cum);
        }
        md_buf_printf(b, "morphd_http_request_duration_seconds_sum{route=\"%s\"} %.9g\n", t,
                      st->route[r].sum);
        md_buf_printf(b, "morphd_http_request_duration_seconds_count{route=\"%s\"} %llu\n", t,
                      (unsigned long long)st->route[r].count);
    }
}

/* A worker name or engine safe to print as a label value. */
static int label_ok(const char *s)
{
    return s != NULL && label_text_ok(s, strlen(s)) && !strchr(s, '"') && !strchr(s, '\\');
}

void api_metrics_render(md_buf *b, const api_metrics_input *in)
{
    for (int m = 0; m < JQ_M_COUNT; m++) {
        const jq_metric_def *d = jq_metric_get((jq_metric)m);
        head(b, d->name, d->type, d->help);
        if (d->bounds == NULL)
            render_counter(b, d, in);
        else
            render_histogram(b, d, in);
    }
    head(b, "morphd_queue_depth", "gauge", "Jobs queued and not yet taken by a worker.");
    md_buf_printf(b, "morphd_queue_depth %lld\n", in->queue_depth < 0 ? 0 : in->queue_depth);
    head(b, "morphd_workers_alive", "gauge", "Workers whose heartbeat is at most 10 seconds old.");
    md_buf_printf(b, "morphd_workers_alive %zu\n", in->worker_count);
    head(b, "morphd_gpu_memory_used_bytes", "gauge",
         "GPU memory each alive worker's engine holds, bytes.");
    for (size_t i = 0; i < in->worker_count; i++) {
        const char *w = in->workers[i];
        if (!numeric(in->gpu_bytes[i]) || !label_ok(w))
            continue;
        md_buf_printf(b, "morphd_gpu_memory_used_bytes{worker=\"%s\"} %s\n", w, in->gpu_bytes[i]);
    }
    head(b, "morphd_gpu_memory_total_bytes", "gauge",
         "Memory of the GPU each alive worker's CUDA engine runs on, bytes.");
    for (size_t i = 0; i < in->worker_count; i++) {
        const char *w = in->workers[i];
        if (!numeric(in->gpu_total[i]) || !label_ok(w) || strcmp(in->gpu_total[i], "0") == 0)
            continue;
        md_buf_printf(b, "morphd_gpu_memory_total_bytes{worker=\"%s\"} %s\n", w, in->gpu_total[i]);
    }
    /* Only where NVML answered: an unknown utilisation is absent, never a 0. */
    head(b, "morphd_gpu_utilization_ratio", "gauge",
         "Share of NVML's last sample period in which a kernel ran on each alive worker's GPU.");
    for (size_t i = 0; i < in->worker_count; i++) {
        const char *w = in->workers[i];
        if (!numeric(in->gpu_util[i]) || !label_ok(w))
            continue;
        md_buf_printf(b, "morphd_gpu_utilization_ratio{worker=\"%s\"} %.2f\n", w,
                      atof(in->gpu_util[i]) / 100.0);
    }
    head(b, "morphd_face_cache_bytes", "gauge",
         "Memory each alive worker's face cache holds (parsed meshes, decoded textures, mip "
         "pyramids), bytes; at most --face-cache-mb.");
    for (size_t i = 0; in->face_bytes != NULL && i < in->worker_count; i++)
        if (numeric(in->face_bytes[i]) && label_ok(in->workers[i]))
            md_buf_printf(b, "morphd_face_cache_bytes{worker=\"%s\"} %s\n", in->workers[i],
                          in->face_bytes[i]);
    head(b, "morphd_face_cache_entries", "gauge", "Faces in each alive worker's face cache.");
    for (size_t i = 0; in->face_entries != NULL && i < in->worker_count; i++)
        if (numeric(in->face_entries[i]) && label_ok(in->workers[i]))
            md_buf_printf(b, "morphd_face_cache_entries{worker=\"%s\"} %s\n", in->workers[i],
                          in->face_entries[i]);
    /* Only workers with a GPU texture cache (the CUDA engine, --gpu-texture-cache-mb > 0). */
    head(b, "morphd_gpu_texture_cache_bytes", "gauge",
         "GPU memory each alive CUDA worker keeps library face textures in across batches, "
         "bytes; at most --gpu-texture-cache-mb.");
    for (size_t i = 0; in->gpu_tex_bytes != NULL && i < in->worker_count; i++)
        if (numeric(in->gpu_tex_bytes[i]) && label_ok(in->workers[i]))
            md_buf_printf(b, "morphd_gpu_texture_cache_bytes{worker=\"%s\"} %s\n", in->workers[i],
                          in->gpu_tex_bytes[i]);
    head(b, "morphd_worker_info", "gauge", "The engine each alive worker runs; always 1.");
    for (size_t i = 0; i < in->worker_count; i++) {
        const char *w = in->workers[i];
        if (!label_ok(w) || !label_ok(in->engines[i]))
            continue;
        md_buf_printf(b, "morphd_worker_info{worker=\"%s\",engine=\"%s\"} 1\n", w,
                      in->engines[i][0] ? in->engines[i] : "unknown");
    }
    render_http(b, in->http);
    head(b, "morphd_build_info", "gauge",
         "This build's version and each engine the alive workers run (none: no worker); 1.");
    int shown = 0;
    for (size_t i = 0; i < in->worker_count; i++) {
        const char *e = in->engines[i];
        int seen = !label_ok(e) || e[0] == '\0';
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(in->engines[k], e) == 0;
        if (seen)
            continue;
        md_buf_printf(b, "morphd_build_info{version=\"%s\",engine=\"%s\"} 1\n", in->version, e);
        shown++;
    }
    if (shown == 0)
        md_buf_printf(b, "morphd_build_info{version=\"%s\",engine=\"none\"} 1\n", in->version);
}

/* ---- /healthz ---- */

void api_healthz(api_req *req)
{
    api_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* ---- /metrics ---- */

/* Per alive worker the script returns its name and these fields of its record, in order:
 * gpu used, engine, gpu total, gpu utilisation, face cache bytes, face cache entries, gpu
 * texture cache bytes. */
#define WK_FIELDS 7
#define WK_FIELDS_LUA "7"

static const char metrics_lua[] =
    "local m = redis.call('HGETALL', KEYS[1])\n"
    "local xlen = redis.call('XLEN', KEYS[2])\n"
    "local pending = 0\n"
    "local p = redis.pcall('XPENDING', KEYS[2], ARGV[3])\n"
    "if type(p) == 'table' and p.err == nil and p[1] then pending = p[1] end\n"
    "local names = redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[1], '+inf', 'LIMIT', 0, 1000)\n"
    "local w = {}\n"
    "for _, n in ipairs(names) do\n"
    "  local v = redis.call('HMGET', ARGV[2] .. n, '" JQ_WORKER_GPU_USED "', '" JQ_WORKER_ENGINE
    "', '" JQ_WORKER_GPU_TOTAL "', '" JQ_WORKER_GPU_UTIL "', '" JQ_WORKER_FACE_BYTES
    "', '" JQ_WORKER_FACE_ENTRIES "', '" JQ_WORKER_GPU_TEX_BYTES "')\n"
    "  w[#w + 1] = n\n"
    "  for i = 1, " WK_FIELDS_LUA " do w[#w + 1] = v[i] or '' end\n"
    "end\n"
    "return {m, xlen, pending, w}\n";

static void on_metrics(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    redisReply *reply = r;
    if (reply == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY ||
        reply->element[3]->type != REDIS_REPLY_ARRAY) {
        api_reply_code(req, MD_EINTERNAL, "reading metrics from Redis failed: %s",
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
        return;
    }
    const redisReply *hash = reply->element[0], *workers = reply->element[3];
    size_t nf = hash->elements / 2, nw = workers->elements / (1 + WK_FIELDS);
    const char **f = md_calloc(nf + 1, sizeof *f), **v = md_calloc(nf + 1, sizeof *v);
    const char **wn = md_calloc(nw + 1, sizeof *wn), **wg = md_calloc(nw + 1, sizeof *wg);
    const char **we = md_calloc(nw + 1, sizeof *we), **wt = md_calloc(nw + 1, sizeof *wt);
    const char **wu = md_calloc(nw + 1, sizeof *wu);
    const char **wfb = md_calloc(nw + 1, sizeof *wfb), **wfe = md_calloc(nw + 1, sizeof *wfe);
    const char **wtb = md_calloc(nw + 1, sizeof *wtb);
    md_buf b;
    md_buf_init(&b, 8 << 20);
    if (f && v && wn && wg && we && wt && wu && wfb && wfe && wtb) {
        size_t k = 0;
        for (size_t i = 0; i < nf; i++) {
            const redisReply *a = hash->element[2 * i], *z = hash->element[2 * i + 1];
            if (a->type == REDIS_REPLY_STRING && z->type == REDIS_REPLY_STRING) {
                f[k] = a->str;
                v[k++] = z->str;
            }
        }
        size_t wk = 0;
        for (size_t i = 0; i < nw; i++) {
            /* name, then the WK_FIELDS fields */
            redisReply **x = workers->element + (1 + WK_FIELDS) * i;
            int strings = 1;
            for (int kf = 0; kf < 1 + WK_FIELDS; kf++)
                strings &= x[kf]->type == REDIS_REPLY_STRING;
            if (strings) {
                wn[wk] = x[0]->str;
                wg[wk] = x[1]->str;
                we[wk] = x[2]->str;
                wt[wk] = x[3]->str;
                wu[wk] = x[4]->str;
                wfb[wk] = x[5]->str;
                wfe[wk] = x[6]->str;
                wtb[wk++] = x[7]->str;
            }
        }
        long long xlen =
            reply->element[1]->type == REDIS_REPLY_INTEGER ? reply->element[1]->integer : 0;
        long long pending =
            reply->element[2]->type == REDIS_REPLY_INTEGER ? reply->element[2]->integer : 0;
        api_metrics_input in = {.fields = f,
                                .values = v,
                                .field_count = k,
                                .queue_depth = xlen - pending,
                                .workers = wn,
                                .gpu_bytes = wg,
                                .gpu_total = wt,
                                .gpu_util = wu,
                                .face_bytes = wfb,
                                .face_entries = wfe,
                                .gpu_tex_bytes = wtb,
                                .worker_count = wk,
                                .version = MORPHD_VERSION,
                                .engines = we,
                                .http = &req->srv->stats};
        api_metrics_render(&b, &in);
    } else {
        b.err = MD_ENOMEM;
    }
    md_free(f);
    md_free(v);
    md_free(wn);
    md_free(wg);
    md_free(we);
    md_free(wt);
    md_free(wu);
    md_free(wfb);
    md_free(wfe);
    md_free(wtb);
    size_t len = 0;
    char *text = md_buf_take(&b, &len);
    if (text == NULL) {
        api_reply_code(req, MD_EINTERNAL, "the metrics text did not fit in 8 MiB");
        return;
    }
    api_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

void api_metrics(api_req *req)
{
    api_server *s = req->srv;
    char metrics[JQ_KEY_MAX], stream[JQ_KEY_MAX], workers[JQ_KEY_MAX], worker[JQ_KEY_MAX];
    char since[32];
    jq_key(metrics, sizeof metrics, s->prefix, "metrics");
    jq_key(stream, sizeof stream, s->prefix, "jobs");
    jq_key(workers, sizeof workers, s->prefix, "workers");
    jq_key(worker, sizeof worker, s->prefix, "worker:");
    snprintf(since, sizeof since, "%.3f", jq_wall_now() - WORKER_FRESH_S);
    const char *argv[] = {"EVAL",  metrics_lua, "3",    metrics, stream,
                          workers, since,       worker, JQ_GROUP};
    if (api_redis_cmd(s, on_metrics, req, 9, argv, NULL) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- /readyz ---- */

typedef struct ready_op {
    api_req *req;
    uv_work_t work;
    stg *storage;
    int pending;
    int redis_ok;
    long long workers;
    int storage_ok;
    md_error storage_err;
} ready_op;

static void ready_answer(ready_op *op)
{
    if (--op->pending > 0)
        return;
    api_req *req = op->req;
    if (op->redis_ok && op->storage_ok && op->workers > 0) {
        api_reply_json(req, 200,
                       json_pack("{s:s,s:{s:b,s:b,s:I}}", "status", "ready", "checks", "redis", 1,
                                 "storage", 1, "workers_alive", (json_int_t)op->workers));
        return;
    }
    char detail[MD_ERROR_MSG_MAX + 128] = "";
    if (!op->redis_ok)
        snprintf(detail, sizeof detail, "Redis does not answer PING; ");
    if (!op->storage_ok)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
                 "storage is not writable (%s); ", op->storage_err.msg);
    if (op->redis_ok && op->workers <= 0)
        snprintf(detail + strlen(detail), sizeof detail - strlen(detail),
                 "no worker heartbeat in the last %d s; ", WORKER_FRESH_S);
    detail[strlen(detail) - 2] = '\0';
    api_reply_code(req, MD_EUNAVAIL, "not ready: %s", detail);
}

static void on_ping(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    ready_op *op = priv;
    redisReply *reply = r;
    op->redis_ok = reply != NULL && reply->type == REDIS_REPLY_STATUS;
    ready_answer(op);
}

static void on_zcount(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    ready_op *op = priv;
    redisReply *reply = r;
    op->workers = (reply && reply->type == REDIS_REPLY_INTEGER) ? reply->integer : 0;
    ready_answer(op);
}

static void probe_work(uv_work_t *w)
{
    ready_op *op = w->data;
    md_error_clear(&op->storage_err);
    op->storage_ok = stg_check_writable(op->storage, &op->storage_err) == 0;
}

static void probe_done(uv_work_t *w, int status)
{
    ready_op *op = w->data;
    if (status != 0)
        op->storage_ok = 0;
    ready_answer(op);
}

void api_readyz(api_req *req)
{
    api_server *s = req->srv;
    ready_op *op = api_req_op_new(req, sizeof *op, NULL);
    if (op == NULL)
        return;
    op->req = req;
    op->storage = s->storage;
    op->pending = 1; /* released at the end of this function */
    char workers[JQ_KEY_MAX], since[32];
    jq_key(workers, sizeof workers, s->prefix, "workers");
    snprintf(since, sizeof since, "%.3f", jq_wall_now() - WORKER_FRESH_S);
    const char *ping[] = {"PING"};
    const char *zcount[] = {"ZCOUNT", workers, since, "+inf"};
    if (api_redis_cmd(s, on_ping, op, 1, ping, NULL) == 0) {
        op->pending++;
        if (api_redis_cmd(s, on_zcount, op, 4, zcount, NULL) == 0)
            op->pending++;
    }
    op->work.data = op;
    if (uv_queue_work(s->loop, &op->work, probe_work, probe_done) == 0) {
        op->pending++;
    } else {
        snprintf(op->storage_err.msg, sizeof op->storage_err.msg, "cannot schedule the probe");
    }
    if (op->pending > 1)
        api_req_suspend(req);
    ready_answer(op);
}
