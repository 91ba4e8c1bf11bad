/*
 * test_pipeline.c — the job pipeline (jobs/pipeline.c) on the CPU engine with an in-memory
 * sink: a morph job, a render job and a job without inputs share one pipeline; frames reach
 * the sink as frames/<name> with progress ticks, byte-identical to the same job run alone; the
 * manifest has the shared fields and the sink's extras; a job whose frames cannot be stored
 * fails alone; a stop hook stops a job without failing it; the analysis started beside the
 * frames (job_outputs_start) gives the bytes job_outputs_finish gives alone, and a job that
 * fails while its analysis runs is freed cleanly.
 */
#include "test_util.h"
#include "job_fixtures.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/pipeline.h"

static md_limits lim;

static mesh *make_cube(void)
{
    return jf_cube(&lim);
}

static void read_spec(job_spec *s, const char *text)
{
    jf_read_spec(s, text, &lim);
}

/* ---- An in-memory sink ---- */

#define MEM_MAX 32

typedef struct mem_sink {
    pthread_mutex_t lock;
    char names[MEM_MAX][400];
    uint8_t *data[MEM_MAX];
    size_t lens[MEM_MAX];
    int count;
    atomic_int stored; /* frame_stored calls */
    int fail_frames;   /* put refuses frames/ */
    int stop;          /* what stop answers */
} mem_sink;

static int mem_put(void *user, const char *name, const char *content_type, const void *bytes,
                   size_t len, md_error *err)
{
    (void)content_type;
    mem_sink *s = user;
    if (s->fail_frames && strncmp(name, "frames/", 7) == 0)
        return md_fail(err, MD_EIO, "disk full");
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (s->count == MEM_MAX) {
        rc = md_fail(err, MD_ELIMIT, "too many artifacts");
    } else {
        snprintf(s->names[s->count], sizeof s->names[0], "%s", name);
        s->data[s->count] = malloc(len ? len : 1);
        memcpy(s->data[s->count], bytes, len);
        s->lens[s->count++] = len;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void mem_frame_stored(void *user, uint32_t index)
{
    (void)index;
    mem_sink *s = user;
    atomic_fetch_add(&s->stored, 1);
}

static int mem_stop(void *user)
{
    return ((mem_sink *)user)->stop;
}

static int mem_manifest(void *user, json_t *root, md_error *err)
{
    (void)user;
    (void)err;
    return json_object_set_new(root, "caller", json_string("test"));
}

static const uint8_t *mem_get(mem_sink *s, const char *name, size_t *len)
{
    for (int i = 0; i < s->count; i++)
        if (strcmp(s->names[i], name) == 0) {
            *len = s->lens[i];
            return s->data[i];
        }
    return NULL;
}

static void mem_init(mem_sink *s, job_pipe_sink *hooks)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->stored, 0);
    *hooks = (job_pipe_sink){.put = mem_put,
                             .frame_stored = mem_frame_stored,
                             .stop = mem_stop,
                             .manifest = mem_manifest,
                             .user = s};
}

static void mem_free(mem_sink *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->data[i]);
    pthread_mutex_destroy(&s->lock);
}

static json_t *mem_manifest_json(mem_sink *s)
{
    size_t len = 0;
    const uint8_t *text = mem_get(s, "manifest.json", &len);
    return text ? json_loadb((const char *)text, len, 0, NULL) : NULL;
}

/* ---- The tests ---- */

static job_pipe_job morph_job(job_spec *spec, const job_inputs *in, const job_pipe_sink *sink)
{
    return (job_pipe_job){
        .spec = spec, .inputs = in, .stems = {"a", "b"}, .start_mono = md_now(), .sink = sink};
}

static void check_shared_batch(eng *e, job_inputs *pair, job_inputs *single)
{
    md_error err;
    job_spec morph, render, none;
    read_spec(&morph,
              "{\"frames\":3,\"width\":32,\"height\":32,\"samples\":1,\"outputs\":\"frames\"}");
    read_spec(&render, "{\"kind\":\"render\",\"width\":32,\"height\":32,\"samples\":1,"
                       "\"views\":{\"turntable\":{\"count\":2}}}");
    read_spec(&none, "{\"frames\":2,\"label\":\"never loaded\"}");
    mem_sink ms, rs, ns, alone;
    job_pipe_sink mh, rh, nh, ah;
    mem_init(&ms, &mh);
    mem_init(&rs, &rh);
    mem_init(&ns, &nh);
    mem_init(&alone, &ah);

    job_pipe *p = NULL;
    CHECK_OK(job_pipe_new(e, &lim, 3, &p, &err), &err);
    job_pipe_job mj = morph_job(&morph, pair, &mh);
    CHECK_OK(job_pipe_add(p, &mj, &err), &err);
    job_pipe_job rj = {.spec = &render, .inputs = single, .stems = {"cube"}, .sink = &rh};
    CHECK_OK(job_pipe_add(p, &rj, &err), &err);
    json_t *given = json_pack("{s:{s:s}}", "source", "name", "upload");
    job_pipe_job nj = {.spec = &none, .inputs_json = given, .sink = &nh};
    CHECK_OK(job_pipe_add(p, &nj, &err), &err);
    json_decref(given);
    CHECK_INT(MD_EINVAL, job_pipe_add(p, &nj, &err)); /* past job_cap */
    CHECK_OK(job_pipe_render(p, &err), &err);

    uint32_t jobs = 0, frames = 0;
    job_pipe_batch_size(p, &jobs, &frames);
    CHECK_INT(2, jobs);
    CHECK_INT(5, frames);
    CHECK(job_pipe_rendered(p, 0) && job_pipe_rendered(p, 1) && !job_pipe_rendered(p, 2));
    CHECK_INT(3, atomic_load(&ms.stored));
    CHECK_INT(2, atomic_load(&rs.stored));
    CHECK_INT(3, job_pipe_job_totals(p, 0).frames_done);
    CHECK_INT(0, job_pipe_job_totals(p, 2).frame_total);
    size_t len = 0;
    CHECK(mem_get(&ms, "frames/0001_a-0500_b-0500.png", &len) != NULL && len > 100);
    CHECK(mem_get(&rs, "frames/0001_cube-view.png", &len) != NULL && len > 100);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_OK(job_pipe_error(p, i, &err), &err);
        CHECK_OK(job_pipe_outputs(p, i, &err), &err);
        CHECK_OK(job_pipe_manifest(p, i, &err), &err);
    }

    /* The morph job's manifest: shared fields, its camera and options, the sink's extras. */
    json_t *man = mem_manifest_json(&ms);
    CHECK(man != NULL);
    CHECK_INT(3, json_array_size(json_object_get(man, "frames")));
    CHECK_INT(3, json_integer_value(json_object_get(man, "frames_total")));
    CHECK_INT(2, json_integer_value(json_object_get(json_object_get(man, "batch"), "jobs")));
    CHECK(json_object_get(man, "camera") != NULL && json_object_get(man, "options") != NULL);
    CHECK_INT(8, json_integer_value(json_object_get(
                     json_object_get(json_object_get(man, "inputs"), "source"), "vertices")));
    CHECK_INT(2, json_array_size(json_object_get(json_object_get(man, "inputs"), "meshes")));
    CHECK(json_string_value(json_object_get(man, "caller")) != NULL);
    CHECK(json_object_get(man, "outputs") != NULL);
    json_decref(man);
    /* The render job's: no camera (one per view), its mesh under inputs.mesh. */
    man = mem_manifest_json(&rs);
    CHECK(man != NULL && json_object_get(man, "camera") == NULL);
    CHECK_INT(6, json_array_size(json_object_get(
                     json_object_get(json_object_get(man, "inputs"), "mesh"), "materials")));
    json_decref(man);
    /* The job without inputs: a manifest all the same, with what the caller said. */
    man = mem_manifest_json(&ns);
    CHECK(man != NULL);
    CHECK_INT(0, json_array_size(json_object_get(man, "frames")));
    CHECK_INT(0, json_integer_value(json_object_get(json_object_get(man, "batch"), "jobs")));
    CHECK(strcmp(json_string_value(json_object_get(
                     json_object_get(json_object_get(man, "inputs"), "source"), "name")),
                 "upload") == 0);
    CHECK(strcmp(json_string_value(json_object_get(man, "label")), "never loaded") == 0);
    json_decref(man);

    /* Artifacts: frames, then manifest.json. */
    json_t *arts = job_pipe_artifacts(p, 0);
    CHECK_INT(4, json_array_size(arts));
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(arts, 3), "name")),
                 "manifest.json") == 0);
    json_decref(arts);

    /* The same morph job alone gives the same bytes. */
    job_pipe *q = NULL;
    CHECK_OK(job_pipe_new(e, &lim, 1, &q, &err), &err);
    job_pipe_job aj = morph_job(&morph, pair, &ah);
    CHECK_OK(job_pipe_add(q, &aj, &err), &err);
    CHECK_OK(job_pipe_render(q, &err), &err);
    for (int i = 0; i < ms.count; i++) {
        if (strncmp(ms.names[i], "frames/", 7) != 0)
            continue;
        const uint8_t *other = mem_get(&alone, ms.names[i], &len);
        CHECK(other != NULL && len == ms.lens[i] && memcmp(other, ms.data[i], len) == 0);
    }
    job_pipe_free(q);

    job_pipe_free(p);
    mem_free(&ms);
    mem_free(&rs);
    mem_free(&ns);
    mem_free(&alone);
    job_spec_free(&morph);
    job_spec_free(&render);
    job_spec_free(&none);
}

static void check_failures_and_stops(eng *e, job_inputs *pair)
{
    md_error err;
    job_spec spec;
    read_spec(&spec,
              "{\"frames\":4,\"width\":16,\"height\":16,\"samples\":1,\"outputs\":\"frames\"}");
    mem_sink ok, full, canceled, stopped;
    job_pipe_sink oh, fh, ch, sh;
    mem_init(&ok, &oh);
    mem_init(&full, &fh);
    mem_init(&canceled, &ch);
    mem_init(&stopped, &sh);
    full.fail_frames = 1;
    canceled.stop = JOB_PIPE_DISCARD;
    stopped.stop = JOB_PIPE_STOP;

    job_pipe *p = NULL;
    CHECK_OK(job_pipe_new(e, &lim, 4, &p, &err), &err);
    job_pipe_job jobs[4] = {morph_job(&spec, pair, &oh), morph_job(&spec, pair, &fh),
                            morph_job(&spec, pair, &ch), morph_job(&spec, pair, &sh)};
    for (int i = 0; i < 4; i++)
        CHECK_OK(job_pipe_add(p, &jobs[i], &err), &err);
    CHECK_OK(job_pipe_render(p, &err), &err);

    CHECK_OK(job_pipe_error(p, 0, &err), &err);
    CHECK_INT(4, atomic_load(&ok.stored));
    /* A frame that cannot be stored fails its job alone, which stores nothing more. */
    CHECK_INT(MD_EIO, job_pipe_error(p, 1, &err));
    CHECK_MSG(&err, "disk full");
    CHECK_MSG(&err, "frame ");
    CHECK_INT(0, atomic_load(&full.stored));
    CHECK_OK(job_pipe_outputs(p, 1, &err), &err); /* skipped: the job failed */
    /* Stopped jobs store no frames and do not fail. */
    CHECK_OK(job_pipe_error(p, 2, &err), &err);
    CHECK_OK(job_pipe_error(p, 3, &err), &err);
    CHECK_INT(0, atomic_load(&canceled.stored));
    CHECK_INT(0, atomic_load(&stopped.stored));
    CHECK_OK(job_pipe_manifest(p, 2, &err), &err);
    json_t *man = mem_manifest_json(&canceled);
    CHECK_INT(0, json_array_size(json_object_get(man, "frames")));
    CHECK_INT(4, json_integer_value(json_object_get(man, "frames_total")));
    json_decref(man);

    job_pipe_free(p);
    mem_free(&ok);
    mem_free(&full);
    mem_free(&canceled);
    mem_free(&stopped);
    job_spec_free(&spec);
}

/* CSVs of a job whose analysis started beside the frames equal those made after the batch by
 * job_outputs_finish alone; a job that fails during the frames leaves its analysis thread to
 * job_pipe_free, which waits for it. */
static void check_early_analysis(eng *e, job_inputs *pair)
{
    md_error err;
    md_error_clear(&err);
    job_spec spec;
    read_spec(&spec,
              "{\"frames\":3,\"width\":16,\"height\":16,\"samples\":1,\"outputs\":\"frames,csv\"}");
    mem_sink ok, full;
    job_pipe_sink oh, fh;
    mem_init(&ok, &oh);
    mem_init(&full, &fh);
    full.fail_frames = 1;
    job_pipe *p = NULL;
    CHECK_OK(job_pipe_new(e, &lim, 2, &p, &err), &err);
    job_pipe_job jobs[2] = {morph_job(&spec, pair, &oh), morph_job(&spec, pair, &fh)};
    for (int i = 0; p != NULL && i < 2; i++)
        CHECK_OK(job_pipe_add(p, &jobs[i], &err), &err);
    if (p != NULL) {
        CHECK_OK(job_pipe_render(p, &err), &err);
        CHECK_OK(job_pipe_outputs(p, 0, &err), &err);
        CHECK_INT(MD_EIO, job_pipe_error(p, 1, &err));
        CHECK_OK(job_pipe_outputs(p, 1, &err), &err); /* skipped: the job failed */
        CHECK_INT(3, job_outputs_count(job_pipe_outputs_of(p, 0)));
        CHECK_INT(0, job_outputs_count(job_pipe_outputs_of(p, 1)));
    }
    job_pipe_free(p); /* waits for job 1's analysis */

    /* The same outputs made after the batch, without job_outputs_start. */
    eng_job ej;
    memset(&ej, 0, sizeof ej);
    CHECK_OK(job_build(pair, &spec, &ej, &err), &err);
    job_outputs *o = NULL;
    CHECK_OK(job_outputs_new(&spec, pair, &ej, "a", "b", &o, &err), &err);
    mem_sink alone;
    job_pipe_sink ah;
    mem_init(&alone, &ah);
    job_output_sink sink = {.put = mem_put, .user = &alone};
    if (o != NULL)
        CHECK_OK(job_outputs_finish(o, e, &sink, &err), &err);
    CHECK_INT(3, alone.count);
    for (int i = 0; i < alone.count; i++) {
        size_t len = 0, want = alone.lens[i];
        const uint8_t *got = mem_get(&ok, alone.names[i], &len);
        if (got == NULL || len != want || memcmp(got, alone.data[i], want) != 0) {
            fprintf(stderr, "%s: expected %zu bytes equal to job_outputs_finish's, got %zu%s\n",
                    alone.names[i], want, len, got ? " (different)" : " (missing)");
            test_failures++;
        }
    }
    job_outputs_free(o);
    mem_free(&alone);
    mem_free(&ok);
    mem_free(&full);
    job_spec_free(&spec);
}

int main(void)
{
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    eng *e = NULL;
    eng_config cfg = {.kind = ENG_KIND_CPU, .threads = 2};
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e == NULL)
        return test_done();
    job_inputs *pair = NULL, *single = NULL;
    CHECK_OK(job_inputs_from_meshes(make_cube(), make_cube(), &pair, &err), &err);
    CHECK_OK(job_inputs_from_meshes(make_cube(), NULL, &single, &err), &err);
    if (pair != NULL && single != NULL) {
        check_shared_batch(e, pair, single);
        check_failures_and_stops(e, pair);
        check_early_analysis(e, pair);
    }
    job_inputs_free(pair);
    job_inputs_free(single);
    eng_free(e);
    return test_done();
}
