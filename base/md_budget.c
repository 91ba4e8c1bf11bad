/*
 * md_budget.c — the process-wide budget of memory for decoded images (issue 14): a byte count
 * that image decoding and texture padding take from before they allocate and give back when
 * they free, so the api can decode many uploads at once without its memory growing past what
 * the operator set (`--limit max_decode_bytes`).
 *
 * Who: mesh/image.c takes and gives (img_decode's pixels, img_pad_from_coverage's scratch);
 * mesh/texpad.c the coverage mask; api/submit.c reserves a request's whole need first (below);
 * morphd api configures the budget at start. Without a call to md_budget_configure (the
 * worker, `morph run`, tests) there is no budget and taking is free.
 *
 * Threads: any; one mutex and one condition variable. A taker that finds too little room waits
 * up to the configured time for givers, then fails with MD_EUNAVAIL (the api answers 503 with
 * Retry-After), so the memory is bounded and nothing waits forever. A single take larger than
 * the whole budget fails at once with MD_ELIMIT (413: it could never fit).
 *
 * Reservations (api/submit.c): a request that took its textures one at a time could hold its
 * first while waiting for its second, and a burst of such requests could fill the budget with
 * first textures and all answer 503. So a request reserves its whole need at once before
 * decoding anything (md_budget_reserve: waits holding nothing), and its takes then draw from
 * that reservation, which is thread-local (the request's pool thread). A take past the
 * reservation (an image nobody could probe first, e.g. one embedded in a glTF) never waits: its
 * thread holds budget, and waiting while holding is what this avoids.
 * Invariant: budget_used = what is taken and not given + what is left of live reservations.
 */
#include "base/md.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static pthread_mutex_t budget_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t budget_room = PTHREAD_COND_INITIALIZER;
static uint64_t budget_total;   /* 0: no budget */
static uint64_t budget_used;    /* bytes taken and not given back */
static unsigned budget_wait_ms; /* how long a take waits for room */
/* This thread's reservation: bytes counted in budget_used and not yet drawn. */
static _Thread_local int reserve_active;
static _Thread_local uint64_t reserve_left;

void md_budget_configure(uint64_t bytes, unsigned wait_ms)
{
    pthread_mutex_lock(&budget_lock);
    budget_total = bytes;
    budget_wait_ms = wait_ms;
    pthread_cond_broadcast(&budget_room);
    pthread_mutex_unlock(&budget_lock);
}

/* Takes bytes from the shared budget with budget_lock held: waits up to budget_wait_ms for
 * room when wait is set, else fails at once. */
static int take_locked(uint64_t bytes, int wait, const char *what, md_error *err)
{
    if (budget_total == 0) {
        budget_used += bytes;
        return 0;
    }
    if (bytes > budget_total)
        return md_fail(err, MD_ELIMIT,
                       "%s needs %llu MiB of decoded memory, more than this server's whole "
                       "budget (max_decode_bytes=%llu MiB); send smaller textures",
                       what, (unsigned long long)(bytes >> 20),
                       (unsigned long long)(budget_total >> 20));
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += budget_wait_ms / 1000;
    deadline.tv_nsec += (long)(budget_wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (budget_total != 0 && budget_used + bytes > budget_total) {
        if (!wait || (pthread_cond_timedwait(&budget_room, &budget_lock, &deadline) == ETIMEDOUT &&
                      budget_used + bytes > budget_total))
            return md_fail(err, MD_EUNAVAIL,
                           "the server is decoding other uploads (%llu of max_decode_bytes=%llu "
                           "MiB in use) and %s needs %llu MiB more; try again shortly",
                           (unsigned long long)(budget_used >> 20),
                           (unsigned long long)(budget_total >> 20), what,
                           (unsigned long long)(bytes >> 20));
    }
    budget_used += bytes;
    return 0;
}

int md_budget_take(uint64_t bytes, const char *what, md_error *err)
{
    if (reserve_active && bytes <= reserve_left) {
        reserve_left -= bytes; /* thread-local: no lock */
        return 0;
    }
    pthread_mutex_lock(&budget_lock);
    /* Past a reservation: draw what is left of it and take the rest without waiting. */
    uint64_t drawn = reserve_active ? reserve_left : 0;
    int rc = take_locked(bytes - drawn, !reserve_active, what, err);
    if (rc == 0)
        reserve_left -= drawn;
    pthread_mutex_unlock(&budget_lock);
    return rc;
}

int md_budget_reserve(uint64_t bytes, const char *what, md_error *err)
{
    if (reserve_active)
        return md_fail(err, MD_EINTERNAL, "%s: this thread holds a decode reservation already",
                       what);
    pthread_mutex_lock(&budget_lock);
    int rc = take_locked(bytes, 1, what, err);
    pthread_mutex_unlock(&budget_lock);
    if (rc == 0) {
        reserve_active = 1;
        reserve_left = bytes;
    }
    return rc;
}

void md_budget_release(void)
{
    if (!reserve_active)
        return;
    reserve_active = 0;
    uint64_t left = reserve_left;
    reserve_left = 0;
    md_budget_give(left);
}

void md_budget_give(uint64_t bytes)
{
    if (reserve_active) {
        reserve_left += bytes; /* counted in budget_used until md_budget_release */
        return;
    }
    pthread_mutex_lock(&budget_lock);
    budget_used = bytes > budget_used ? 0 : budget_used - bytes;
    pthread_cond_broadcast(&budget_room);
    pthread_mutex_unlock(&budget_lock);
}

uint64_t md_budget_used(void)
{
    pthread_mutex_lock(&budget_lock);
    uint64_t used = budget_used;
    pthread_mutex_unlock(&budget_lock);
    return used;
}
