/*
 * queue.c — the names the api and the worker share about Redis (see queue.h): address parsing,
 * keys, job ids, wall-clock times and the metrics table with its hash field names.
 *
 * Pure functions, safe from any thread. Ids come from getrandom(2) so they are not guessable:
 * without API keys an id is the only thing that guards a job.
 */
#include "jobs/queue.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- Addresses ---- */

int jq_redis_addr_parse(const char *url, jq_redis_addr *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    if (url == NULL || url[0] == '\0')
        return md_fail(err, MD_EINVAL,
                       "redis address is empty (want redis://HOST:PORT or "
                       "unix:///path/to/redis.sock)");
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        if (path[0] != '/')
            return md_fail(err, MD_EINVAL,
                           "redis address '%s': unix socket path must be absolute "
                           "(unix:///path/to/redis.sock)",
                           url);
        if (strlen(path) >= sizeof out->path)
            return md_fail(err, MD_EINVAL, "redis address '%s': socket path is too long", url);
        out->is_unix = 1;
        memcpy(out->path, path, strlen(path) + 1);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return md_fail(err, MD_EINVAL,
                       "redis address '%s': want redis://HOST:PORT or "
                       "unix:///path/to/redis.sock",
                       url);
    const char *host = url + 8;
    const char *colon = strrchr(host, ':');
    size_t host_len = colon ? (size_t)(colon - host) : strlen(host);
    if (host_len > 0 && host[host_len - 1] == '/')
        host_len--;
    if (host_len == 0 || host_len >= sizeof out->host)
        return md_fail(err, MD_EINVAL, "redis address '%s': missing or overlong host", url);
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = 6379;
    if (colon) {
        char *end = NULL;
        errno = 0;
        long port = strtol(colon + 1, &end, 10);
        if (errno != 0 || end == colon + 1 || (*end != '\0' && strcmp(end, "/") != 0) || port < 1 ||
            port > 65535)
            return md_fail(err, MD_EINVAL, "redis address '%s': port must be 1..65535", url);
        out->port = (int)port;
    }
    return 0;
}

int jq_prefix_check(const char *prefix, md_error *err)
{
    size_t len = prefix ? strlen(prefix) : 0;
    if (len == 0 || len >= JQ_PREFIX_MAX)
        return md_fail(err, MD_EINVAL, "redis key prefix must be 1..%d bytes", JQ_PREFIX_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        char c = prefix[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == ':' || c == '.' || c == '_' || c == '-';
        if (!ok)
            return md_fail(err, MD_EINVAL,
                           "redis key prefix '%s': byte %zu is not one of [A-Za-z0-9:._-]", prefix,
                           i);
    }
    return 0;
}

/* ---- Keys ---- */

int jq_key(char *out, size_t cap, const char *prefix, const char *name)
{
    int n = snprintf(out, cap, "%s%s", prefix, name);
    return (n < 0 || (size_t)n >= cap) ? MD_ELIMIT : 0;
}

int jq_key_id(char *out, size_t cap, const char *prefix, const char *kind, const char *id)
{
    int n = snprintf(out, cap, "%s%s:%s", prefix, kind, id);
    return (n < 0 || (size_t)n >= cap) ? MD_ELIMIT : 0;
}

/* ---- Ids and times ---- */

int jq_id_new(char out[JQ_ID_LEN + 1], md_error *err)
{
    unsigned char raw[JQ_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return md_fail(err, MD_EINTERNAL, "getrandom failed: %s", strerror(errno));
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[JQ_ID_LEN] = '\0';
    return 0;
}

int jq_id_valid(const char *id)
{
    if (id == NULL)
        return 0;
    for (int i = 0; i < JQ_ID_LEN; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return id[JQ_ID_LEN] == '\0';
}

double jq_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void jq_time_format(double unix_s, char out[32])
{
    if (!(unix_s >= 0) || unix_s > 253402300799.0) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    /* Rounded to the nearest millisecond, carrying into the seconds: times come back from Redis
     * as decimal text ("...600.123" reads as 600.12299...), which truncation would print as .122.
     */
    double whole_ms = floor(unix_s * 1000.0 + 0.5);
    time_t secs = (time_t)(whole_ms / 1000.0);
    unsigned ms = (unsigned)(whole_ms - (double)secs * 1000.0);
    if (ms > 999) {
        secs += 1;
        ms -= 1000;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", ms % 1000u);
}

/* ---- Metrics ---- */

/* Seconds from milliseconds to an hour: queue waits and job durations span that range. */
static const double seconds_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                        2.5,   5,    10,    30,   60,  300,  900, 3600};
static const double engine_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const double jobs_bounds[] = {1, 2, 4, 8, 16, 32, 64};
/* A live frame is meant to take tens of milliseconds (issue 13: p50 <= 30 ms at 512²). */
static const double live_bounds[] = {0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
static const double frames_bounds[] = {1, 8, 41, 100, 250, 500, 1000, 2500, 5000};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Each metric's buckets, pasted into the table by name; counters have none. */
#define BOUNDS_JOBS_SUBMITTED NULL, 0
#define BOUNDS_JOBS_FINISHED NULL, 0
#define BOUNDS_QUEUE_WAIT seconds_bounds, N_OF(seconds_bounds)
#define BOUNDS_JOB_DURATION seconds_bounds, N_OF(seconds_bounds)
#define BOUNDS_BATCH_JOBS jobs_bounds, N_OF(jobs_bounds)
#define BOUNDS_BATCH_FRAMES frames_bounds, N_OF(frames_bounds)
#define BOUNDS_ENGINE_SECONDS engine_bounds, N_OF(engine_bounds)
#define BOUNDS_FRAMES_RENDERED NULL, 0
#define BOUNDS_REDELIVERIES NULL, 0
#define BOUNDS_DEAD_LETTERED NULL, 0
#define BOUNDS_LIVE_FRAMES NULL, 0
#define BOUNDS_LIVE_SECONDS live_bounds, N_OF(live_bounds)
#define BOUNDS_FACE_CACHE_HITS NULL, 0
#define BOUNDS_FACE_CACHE_MISSES NULL, 0
#define BOUNDS_FACE_CACHE_EVICTIONS NULL, 0
#define BOUNDS_GPU_TEXTURE_CACHE_HITS NULL, 0
#define BOUNDS_GPU_TEXTURE_CACHE_MISSES NULL, 0

static const jq_metric_def metric_table[JQ_M_COUNT] = {
#define JQ_METRIC_DEF(ident, name, type, help) [JQ_M_##ident] = {name, type, help, BOUNDS_##ident},
    JQ_METRICS_MAP(JQ_METRIC_DEF)
#undef JQ_METRIC_DEF
};

const jq_metric_def *jq_metric_get(jq_metric m)
{
    if ((int)m < 0 || m >= JQ_M_COUNT)
        return NULL;
    return &metric_table[m];
}

const jq_metric_def *jq_metric_find(const char *name, size_t len)
{
    for (int i = 0; i < JQ_M_COUNT; i++)
        if (strlen(metric_table[i].name) == len && memcmp(metric_table[i].name, name, len) == 0)
            return &metric_table[i];
    return NULL;
}

int jq_metric_counter_field(char *out, size_t cap, jq_metric m, const char *labels)
{
    const jq_metric_def *d = jq_metric_get(m);
    if (d == NULL)
        return MD_EINVAL;
    int n = snprintf(out, cap, "c|%s|%s", d->name, labels ? labels : "");
    return (n < 0 || (size_t)n >= cap) ? MD_ELIMIT : 0;
}

/* The shortest text that reads back as v ("0.005", not "0.0050000000000000001"), since the
 * bucket text becomes the le label Prometheus users see. */
static void format_le(double v, char out[32])
{
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(out, 32, "%.*g", digits, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

int jq_metric_hist_fields(jq_hist_fields *out, jq_metric m, const char *labels, double value)
{
    const jq_metric_def *d = jq_metric_get(m);
    if (d == NULL || d->bounds == NULL)
        return MD_EINVAL;
    if (labels == NULL)
        labels = "";
    char le[32] = "+Inf";
    for (int i = 0; i < d->bound_count; i++) {
        if (value <= d->bounds[i]) {
            format_le(d->bounds[i], le);
            break;
        }
    }
    int a = snprintf(out->bucket, sizeof out->bucket, "h|%s|%s|%s", d->name, labels, le);
    int b = snprintf(out->sum, sizeof out->sum, "h|%s|%s|sum", d->name, labels);
    int c = snprintf(out->count, sizeof out->count, "h|%s|%s|count", d->name, labels);
    if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof out->bucket ||
        (size_t)b >= sizeof out->sum || (size_t)c >= sizeof out->count)
        return MD_ELIMIT;
    return 0;
}
