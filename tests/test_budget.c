/*
 * test_budget.c — the process-wide decode budget (base/md_budget.c): takes and gives, and the
 * all-or-nothing reservation a request makes before decoding any of its images (issue 14).
 * "Requests" run on threads of their own because a reservation belongs to its thread; each is
 * joined before anything is checked, so no assertion depends on timing. The waits that must not
 * happen are configured an hour long: a regression hangs the test until ctest's timeout fails
 * it, rather than passing slowly.
 */
#include "test_util.h"

#include <pthread.h>
#include <string.h>

#define HOUR_MS (3600u * 1000u)

typedef struct request {
    uint64_t textures[2]; /* bytes of each texture */
    int reserve;          /* 1: reserve both first; 0: take one at a time */
    int hold;             /* 1: keep what was taken (the caller gives it back) */
    int rc;               /* the first failure, or 0 */
    uint64_t held;        /* bytes this request still holds from the shared budget */
    md_error err;
} request;

/* One request: its textures taken, then (unless hold) given back. */
static void *request_run(void *p)
{
    request *r = p;
    uint64_t need = r->textures[0] + r->textures[1];
    r->held = 0;
    if (r->reserve) {
        r->rc = md_budget_reserve(need, "a request's two textures", &r->err);
        if (r->rc != 0)
            return NULL;
    }
    int taken = 0;
    for (; taken < 2 && r->rc == 0; taken++) {
        r->rc = md_budget_take(r->textures[taken], "a texture", &r->err);
        if (r->rc != 0)
            break;
    }
    if (r->rc != 0 || !r->hold) {
        for (int i = 0; i < taken; i++)
            md_budget_give(r->textures[i]);
    } else {
        r->held = need;
    }
    md_budget_release();
    return NULL;
}

static void run_on_thread(request *r)
{
    pthread_t t;
    CHECK_INT(0, pthread_create(&t, NULL, request_run, r));
    CHECK_INT(0, pthread_join(t, NULL));
}

/* Takes within a reservation: drawn from it (the shared count does not move), gives go back
 * into it, the unused rest goes back at release, and what was drawn stays taken until given. */
static void test_reserve_draws(void)
{
    md_error err;
    md_budget_configure(100, HOUR_MS);
    CHECK_OK(md_budget_reserve(60, "a request", &err), &err);
    CHECK_INT(60, md_budget_used());
    CHECK_OK(md_budget_take(25, "a texture", &err), &err);
    CHECK_OK(md_budget_take(25, "a texture", &err), &err);
    CHECK_INT(60, md_budget_used());
    md_budget_give(25);
    CHECK_OK(md_budget_take(30, "padding", &err), &err); /* fits in what the give returned */
    CHECK_INT(60, md_budget_used());
    /* A second reservation on the same thread is a programming error, refused. */
    CHECK_INT(MD_EINTERNAL, md_budget_reserve(10, "a nested request", &err));
    md_budget_release();
    CHECK_INT(55, md_budget_used()); /* 25 + 30 drawn, 5 unused given back */
    md_budget_release();             /* none left: nothing happens */
    CHECK_INT(55, md_budget_used());
    md_budget_give(25);
    md_budget_give(30);
    CHECK_INT(0, md_budget_used());
}

/* Past its reservation a take draws what is left and takes the rest from the shared budget
 * without waiting: with room it succeeds, without room it fails at once (MD_EUNAVAIL) and
 * draws nothing. */
static void test_reserve_overdraw(void)
{
    md_error err;
    md_budget_configure(100, HOUR_MS);
    CHECK_OK(md_budget_reserve(40, "a request", &err), &err);
    CHECK_OK(md_budget_take(50, "an embedded texture", &err), &err); /* 40 drawn + 10 */
    CHECK_INT(50, md_budget_used());
    request other = {.textures = {25, 25}, .reserve = 1, .hold = 1};
    run_on_thread(&other); /* another request reserves the other 50 */
    CHECK_OK(other.rc, &other.err);
    CHECK_INT(100, md_budget_used());
    /* Full: a take past the reservation fails now, not in an hour. */
    CHECK_INT(MD_EUNAVAIL, md_budget_take(10, "a second embedded texture", &err));
    CHECK_MSG(&err, "max_decode_bytes");
    CHECK_INT(100, md_budget_used());
    md_budget_release();
    md_budget_give(50);
    md_budget_give(other.held);
    CHECK_INT(0, md_budget_used());
}

/* Issue 14's burst in miniature: a budget of 100, requests of two 30-byte textures. Taken one
 * at a time, three requests that each got their first texture hold 90 and none can take its
 * second: all fail. Reserved whole, the first gets 60, the others fail holding nothing, and
 * the budget ends as the first left it. A need larger than the whole budget is MD_ELIMIT at
 * once, holding nothing. */
static void test_reserve_all_or_nothing(void)
{
    md_error err;
    md_budget_configure(100, 0); /* no waiting: the outcome is the state, not a race */

    /* The failure the reservation removes: first textures held, second ones refused. */
    for (int i = 0; i < 3; i++)
        CHECK_OK(md_budget_take(30, "a first texture", &err), &err);
    CHECK_INT(MD_EUNAVAIL, md_budget_take(30, "a second texture", &err));
    for (int i = 0; i < 3; i++)
        md_budget_give(30);
    CHECK_INT(0, md_budget_used());

    request reqs[3];
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < 3; i++) {
        reqs[i].textures[0] = reqs[i].textures[1] = 30;
        reqs[i].reserve = 1;
        reqs[i].hold = 1;
        run_on_thread(&reqs[i]);
    }
    CHECK_OK(reqs[0].rc, &reqs[0].err);
    CHECK_INT(60, reqs[0].held);
    for (int i = 1; i < 3; i++) {
        CHECK_INT(MD_EUNAVAIL, reqs[i].rc);
        CHECK_INT(0, reqs[i].held);
        CHECK_MSG(&reqs[i].err, "max_decode_bytes");
    }
    CHECK_INT(60, md_budget_used()); /* only the first request's textures */
    md_budget_give(30);
    md_budget_give(30);
    CHECK_INT(0, md_budget_used());

    /* Once the first request is done the next one gets its whole need. */
    run_on_thread(&reqs[1]);
    CHECK_OK(reqs[1].rc, &reqs[1].err);
    md_budget_give(30);
    md_budget_give(30);

    request huge = {.textures = {60, 60}, .reserve = 1};
    run_on_thread(&huge);
    CHECK_INT(MD_ELIMIT, huge.rc);
    CHECK_MSG(&huge.err, "more than this server's whole budget");
    CHECK_INT(0, md_budget_used());
}

/* Requests that wait for room (an hour at most) all get their whole need once earlier ones
 * give theirs back: eight threads, a budget that fits two requests, every request succeeds
 * and the budget ends empty. With one-at-a-time takes this could fill with first textures and
 * wait out the hour. */
static void test_reserve_burst(void)
{
    md_budget_configure(100, HOUR_MS);
    request reqs[8];
    pthread_t threads[8];
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < 8; i++) {
        reqs[i].textures[0] = reqs[i].textures[1] = 25;
        reqs[i].reserve = 1;
        CHECK_INT(0, pthread_create(&threads[i], NULL, request_run, &reqs[i]));
    }
    for (int i = 0; i < 8; i++) {
        CHECK_INT(0, pthread_join(threads[i], NULL));
        CHECK_OK(reqs[i].rc, &reqs[i].err);
    }
    CHECK_INT(0, md_budget_used());
}

int main(void)
{
    test_reserve_draws();
    test_reserve_overdraw();
    test_reserve_all_or_nothing();
    test_reserve_burst();
    md_budget_configure(0, 0);
    return test_done();
}
