/*
 * test_api_events.c — api_events_step, the pure part of GET /jobs/{id}/events: which events a
 * run of job records gives, in which order, and that a full buffer holds artifacts back without
 * losing or repeating any.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "test_util.h"

#define ID "0123456789abcdef0123456789abcdef"

static json_t *job(const char *status, int done, int total, const char *stage, int artifacts)
{
    json_t *list = json_array();
    for (int i = 0; i < artifacts; i++) {
        char name[64];
        snprintf(name, sizeof name, "frames/%04d.png", i);
        json_array_append_new(list, json_pack("{s:s,s:i}", "name", name, "bytes", 100 + i));
    }
    return json_pack("{s:s,s:s,s:{s:i,s:i,s:s},s:o}", "id", ID, "status", status, "progress",
                     "frames_done", done, "frames_total", total, "stage", stage, "artifacts", list);
}

/* The event names in text, comma-separated ("status,progress"). */
static void names(const char *text, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = text; (p = strstr(p, "event: ")) != NULL; p += 7) {
        size_t len = strcspn(p + 7, "\n");
        size_t have = strlen(out);
        snprintf(out + have, cap - have, "%s%.*s", have ? "," : "", (int)len, p + 7);
    }
}

static int step(api_event_state *st, json_t *j, md_buf *out, size_t room, char *ev, size_t cap)
{
    md_buf_reset(out);
    int rc = api_events_step(st, j, ID, out, room);
    names(out->data ? out->data : "", ev, cap);
    json_decref(j);
    return rc;
}

static void test_life(void)
{
    api_event_state st = {0};
    md_buf out;
    md_buf_init(&out, 1 << 20);
    char ev[512];
    CHECK_INT(0, step(&st, job("queued", 0, 3, "queued", 0), &out, 4096, ev, sizeof ev));
    CHECK_STR("status,progress", ev);
    CHECK_CONTAINS(out.data, "\"status\":\"queued\"");
    CHECK(strstr(out.data, "\"artifacts\"") == NULL); /* artifacts come as their own events */
    CHECK_INT(0, step(&st, job("queued", 0, 3, "queued", 0), &out, 4096, ev, sizeof ev));
    CHECK_STR("", ev); /* nothing changed, nothing sent */
    CHECK_INT(0, step(&st, job("running", 0, 3, "loading", 0), &out, 4096, ev, sizeof ev));
    CHECK_STR("status,progress", ev);
    CHECK_INT(0, step(&st, job("running", 2, 3, "rendering", 0), &out, 4096, ev, sizeof ev));
    CHECK_STR("progress", ev);
    CHECK_CONTAINS(out.data,
                   "data: {\"frames_done\":2,\"frames_total\":3,\"stage\":\"rendering\"}");
    CHECK_INT(1, step(&st, job("succeeded", 3, 3, "done", 2), &out, 4096, ev, sizeof ev));
    CHECK_STR("progress,artifact,artifact,status", ev);
    CHECK_CONTAINS(out.data, "\"name\":\"frames/0001.png\"");
    CHECK_CONTAINS(out.data, "\"status\":\"succeeded\"");
    CHECK(st.ended);
    CHECK_INT(1, step(&st, job("succeeded", 3, 3, "done", 2), &out, 4096, ev, sizeof ev));
    CHECK_STR("", ev); /* ended: no more events */
    md_buf_free(&out);
}

static void test_room_and_finished(void)
{
    /* A job seen only when finished: no status before its artifacts; a small room sends the
     * artifacts over several steps, each once, and the terminal status last. */
    api_event_state st = {0};
    md_buf out;
    md_buf_init(&out, 1 << 20);
    char ev[4096];
    int artifacts = 0, rounds = 0, rc = 0;
    char all[8192] = "";
    while (rc == 0 && rounds < 100) {
        rc = step(&st, job("failed", 1, 3, "done", 20), &out, 200, ev, sizeof ev);
        size_t have = strlen(all);
        snprintf(all + have, sizeof all - have, "%s%s", have && ev[0] ? "," : "", ev);
        for (const char *p = out.data; p && (p = strstr(p, "event: artifact")) != NULL; p++)
            artifacts++;
        rounds++;
    }
    CHECK_INT(1, rc);
    CHECK_INT(20, artifacts);
    CHECK(rounds > 2); /* the room held artifacts back */
    CHECK(strncmp(all, "progress,artifact", 17) == 0);
    const char *last = strrchr(all, ',');
    CHECK_STR(",status", last ? last : "");
    md_buf_free(&out);
}

static void test_gone(void)
{
    api_event_state st = {0};
    md_buf out;
    md_buf_init(&out, 1 << 16);
    char ev[256];
    CHECK_INT(0, step(&st, job("running", 1, 3, "rendering", 0), &out, 4096, ev, sizeof ev));
    CHECK_INT(1, step(&st, NULL, &out, 4096, ev, sizeof ev));
    CHECK_STR("gone", ev);
    CHECK_CONTAINS(out.data, "\"id\":\"" ID "\"");
    md_buf_free(&out);
}

/* A batch read as api_batch_json gives it: two jobs with these statuses and frames done. */
static json_t *batch(const char *st0, int done0, const char *st1, int done1)
{
    const char *fa = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char d0[8], d1[8];
    snprintf(d0, sizeof d0, "%d", done0);
    snprintf(d1, sizeof d1, "%d", done1);
    api_batch_job jobs[2] = {
        {.id = "00000000000000000000000000000001",
         .source_face = fa,
         .target_face = fa,
         .v = {[JR_BJ_STATUS] = st0, [JR_BJ_FRAMES_DONE] = d0, [JR_BJ_FRAMES_TOTAL] = "3"}},
        {.id = "00000000000000000000000000000002",
         .source_face = fa,
         .target_face = fa,
         .v = {[JR_BJ_STATUS] = st1, [JR_BJ_FRAMES_DONE] = d1, [JR_BJ_FRAMES_TOTAL] = "3"}},
    };
    return api_batch_json(ID, "1", "{}", jobs, 2);
}

static void batch_step(api_event_state *st, json_t *seen, json_t *b, md_buf *out, int want_rc,
                       const char *want)
{
    char ev[256];
    md_buf_reset(out);
    int rc = api_batch_events_step(st, seen, b, ID, out);
    json_decref(b);
    CHECK_INT(want_rc, rc);
    names(out->data ? out->data : "", ev, sizeof ev);
    CHECK_STR(want, ev);
}

static void test_batch(void)
{
    api_event_state st;
    memset(&st, 0, sizeof st);
    json_t *seen = json_object();
    md_buf out;
    md_buf_init(&out, 1 << 20);
    batch_step(&st, seen, batch("queued", 0, "queued", 0), &out, 0, "status,progress,job,job");
    CHECK(strstr(out.data, "\"jobs\"") == NULL); /* the status event leaves the list out */
    CHECK(strstr(out.data, "\"stage\":\"queued\"") != NULL);
    batch_step(&st, seen, batch("queued", 0, "queued", 0), &out, 0, "");
    batch_step(&st, seen, batch("running", 1, "queued", 0), &out, 0, "status,progress,job");
    CHECK(strstr(out.data, "\"frames_done\":1,\"frames_total\":6,\"stage\":\"rendering\"") != NULL);
    batch_step(&st, seen, batch("running", 2, "queued", 0), &out, 0, "progress");
    batch_step(&st, seen, batch("succeeded", 3, "running", 1), &out, 0, "progress,job,job");
    batch_step(&st, seen, batch("succeeded", 3, "failed", 2), &out, 1, "progress,job,status");
    CHECK(strstr(out.data, "\"status\":\"failed\"") != NULL);
    batch_step(&st, seen, batch("succeeded", 3, "failed", 2), &out, 1, "");

    /* Deleted while watched. */
    memset(&st, 0, sizeof st);
    json_object_clear(seen);
    batch_step(&st, seen, batch("queued", 0, "running", 0), &out, 0, "status,progress,job,job");
    batch_step(&st, seen, NULL, &out, 1, "gone");
    json_decref(seen);
    md_buf_free(&out);
}

int main(void)
{
    test_life();
    test_room_and_finished();
    test_gone();
    test_batch();
    return test_done();
}
