/*
 * progress.c — a progress bar for long renders: "frames [#######.....] 17/41 0.3 s". Drawn on
 * stderr only when it is a terminal (so logs and pipes stay clean) and at most every 50 ms, under
 * a mutex because frames complete on several engine threads. `morph wait` sets the figures the
 * server reports instead of ticking.
 */
#include "cli/cli.h"

#include <pthread.h>
#include <unistd.h>

#include "base/md.h"

struct cli_progress {
    pthread_mutex_t lock;
    const char *label;
    uint64_t done, total;
    double start, last_draw;
    int enabled;
};

cli_progress *cli_progress_new(const char *label, uint64_t total, int enabled)
{
    cli_progress *p = md_calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->label = label;
    p->total = total;
    p->enabled = enabled && isatty(STDERR_FILENO);
    p->start = md_now();
    return p;
}

static void draw(cli_progress *p)
{
    enum { width = 30 };
    char bar[width + 1];
    uint64_t filled = p->total ? p->done * width / p->total : width;
    for (int i = 0; i < width; i++)
        bar[i] = (uint64_t)i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%s [%s] %llu/%llu %.1f s", p->label, bar, (unsigned long long)p->done,
            (unsigned long long)p->total, md_now() - p->start);
    fflush(stderr);
}

void cli_progress_tick(cli_progress *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->done++;
    double now = md_now();
    if (p->enabled && (now - p->last_draw > 0.05 || p->done == p->total)) {
        p->last_draw = now;
        draw(p);
    }
    pthread_mutex_unlock(&p->lock);
}

void cli_progress_set(cli_progress *p, uint64_t done, uint64_t total)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    int changed = done != p->done || total != p->total;
    p->done = done;
    p->total = total;
    if (p->enabled && changed) {
        p->last_draw = md_now();
        draw(p);
    }
    pthread_mutex_unlock(&p->lock);
}

void cli_progress_free(cli_progress *p)
{
    if (p == NULL)
        return;
    if (p->enabled) {
        draw(p);
        fputc('\n', stderr);
    }
    pthread_mutex_destroy(&p->lock);
    md_free(p);
}
