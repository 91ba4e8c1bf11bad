/*
 * md_log.c — process-wide logging. One mutex serialises lines so that frames finishing on
 * several worker threads never interleave their messages. The file sink is borrowed.
 */
#include "base/md.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static md_log_level stderr_level = MD_LOG_WARN;
static FILE *log_file;
static const char *program = "morphd";

static const char *level_name(md_log_level level)
{
    switch (level) {
    case MD_LOG_DEBUG:
        return "debug";
    case MD_LOG_INFO:
        return "info ";
    case MD_LOG_WARN:
        return "warn ";
    case MD_LOG_ERROR:
        return "error";
    }
    return "?    ";
}

int md_log_level_parse(const char *name, md_log_level *out, md_error *err)
{
    static const struct {
        const char *name;
        md_log_level level;
    } levels[] = {{"debug", MD_LOG_DEBUG},
                  {"info", MD_LOG_INFO},
                  {"warn", MD_LOG_WARN},
                  {"error", MD_LOG_ERROR}};
    for (size_t i = 0; name != NULL && i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(name, levels[i].name) == 0) {
            *out = levels[i].level;
            return 0;
        }
    return md_fail(err, MD_EINVAL, "'%s' is not debug, info, warn or error",
                   name ? name : "(null)");
}

void md_log_set_stderr_level(md_log_level level)
{
    pthread_mutex_lock(&log_lock);
    stderr_level = level;
    pthread_mutex_unlock(&log_lock);
}

void md_log_set_program(const char *name)
{
    pthread_mutex_lock(&log_lock);
    program = name;
    pthread_mutex_unlock(&log_lock);
}

void md_log_set_file(FILE *f)
{
    pthread_mutex_lock(&log_lock);
    log_file = f;
    pthread_mutex_unlock(&log_lock);
}

void md_log(md_log_level level, const char *fmt, ...)
{
    char stamp[40];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1000000);

    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&log_lock);
    if (level >= stderr_level)
        fprintf(stderr, "%s: %s: %s\n", program,
                level == MD_LOG_ERROR  ? "error"
                : level == MD_LOG_WARN ? "warning"
                                       : "info",
                msg);
    if (log_file != NULL) {
        fprintf(log_file, "%s %s %s\n", stamp, level_name(level), msg);
        fflush(log_file);
    }
    pthread_mutex_unlock(&log_lock);
}
