/*
 * test_engine_batch.c — eng_batch_run with several jobs of different sizes, sample counts and
 * frame counts: every frame arrives exactly once with the right metadata and the same pixels
 * as when its job runs alone; a failing callback stops the batch with its code; bad jobs are
 * refused up front with messages that say which job and what; engine selection.
 */
#include "engine_fixtures.h"

#include <pthread.h>

enum { JOBS = 3, MAX_FRAMES = 8 };

typedef struct collect {
    pthread_mutex_t lock;
    const eng_job *jobs;
    int seen[JOBS][MAX_FRAMES];
    uint8_t *rgb[JOBS][MAX_FRAMES];
    int bad_meta;
    int calls;
    int fail_job, fail_frame, fail_code; /* the callback fails there (fail_job < 0: never) */
} collect;

static int collect_cb(void *user, const eng_frame *f)
{
    collect *c = user;
    pthread_mutex_lock(&c->lock);
    c->calls++;
    int rc = 0;
    if (f->job >= JOBS || f->frame >= MAX_FRAMES) {
        c->bad_meta++;
    } else {
        const eng_job *job = &c->jobs[f->job];
        if (f->frame >= job->frame_count || f->width != job->width || f->height != job->height ||
            f->weight != job->weights[f->frame])
            c->bad_meta++;
        c->seen[f->job][f->frame]++;
        size_t n = (size_t)f->width * (size_t)f->height * 3;
        free(c->rgb[f->job][f->frame]);
        c->rgb[f->job][f->frame] = fx_alloc(n);
        memcpy(c->rgb[f->job][f->frame], f->rgb, n);
        if ((int)f->job == c->fail_job && (int)f->frame == c->fail_frame)
            rc = c->fail_code;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int answer_canceled(const void *ctx)
{
    return *(const int *)ctx;
}

static void collect_init(collect *c, const eng_job *jobs)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->jobs = jobs;
    c->fail_job = -1;
}

static void collect_free(collect *c)
{
    for (int j = 0; j < JOBS; j++)
        for (int f = 0; f < MAX_FRAMES; f++)
            free(c->rgb[j][f]);
    pthread_mutex_destroy(&c->lock);
}

typedef struct scene {
    fx_mesh grid, sphere_a, sphere_b;
    uint8_t tex[16 * 16 * 4];
    eng_material grey, textured[2];
    float weights[JOBS][MAX_FRAMES];
    eng_job jobs[JOBS];
} scene;

static void scene_make(scene *s)
{
    memset(s, 0, sizeof *s);
    fx_grid(&s->grid, 12, -1, -1, 1, 1, 0, 0.2f, 4, 1);
    float c0[3] = {0, 0, 0}, c1[3] = {0.2f, 0.1f, 0};
    fx_sphere(&s->sphere_a, 20, 40, c0, 1.0f);
    fx_sphere(&s->sphere_b, 20, 40, c1, 0.6f);
    for (int i = 0; i < 16 * 16 * 4; i++)
        s->tex[i] = (uint8_t)(i * 37);
    s->grey = (eng_material){{0.7f, 0.7f, 0.7f}, NULL, 0, 0, NULL, 0, 0};
    s->textured[0] = (eng_material){{0.7f, 0.2f, 0.2f}, s->tex, 16, 16, NULL, 0, 0};
    s->textured[1] = (eng_material){{0.2f, 0.2f, 0.7f}, NULL, 0, 0, NULL, 0, 0};
    const uint32_t frames[JOBS] = {3, 5, 2};
    for (int j = 0; j < JOBS; j++)
        for (uint32_t f = 0; f < frames[j]; f++)
            s->weights[j][f] = frames[j] == 1 ? 0.0f : (float)f / (float)(frames[j] - 1);
    float mn[3] = {-1, -1, -1}, mx[3] = {1, 1, 1};

    fx_job(&s->jobs[0], &s->grid, NULL, &s->grey, s->weights[0], frames[0], 32, 24, 1);
    fx_ortho(&s->jobs[0].camera, 0, 0, 2.5f);

    fx_job(&s->jobs[1], &s->sphere_a, &s->sphere_b, &s->textured[0], s->weights[1], frames[1], 17,
           29, 4);
    s->jobs[1].surface[1].materials = &s->textured[1];
    fx_job_uvs(&s->jobs[1], 0, &s->sphere_a);
    eng_camera_frame_bounds(&s->jobs[1].camera, mn, mx, 17.0f / 29.0f);

    fx_job(&s->jobs[2], &s->sphere_a, &s->sphere_b, &s->grey, s->weights[2], frames[2], 64, 64, 9);
    eng_camera_frame_bounds(&s->jobs[2].camera, mn, mx, 1.0f);
    s->jobs[2].background[1] = 0;
}

static void scene_free(scene *s)
{
    fx_mesh_free(&s->grid);
    fx_mesh_free(&s->sphere_a);
    fx_mesh_free(&s->sphere_b);
}

static eng *engine(int threads)
{
    md_error err;
    eng_config cfg = {ENG_KIND_CPU, threads, 0};
    eng *e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    return e;
}

static void test_batch(void)
{
    scene s;
    scene_make(&s);
    md_error err;
    md_limits lim;
    md_limits_default(&lim);
    for (int j = 0; j < JOBS; j++)
        CHECK_OK(eng_job_validate(&s.jobs[j], &lim, &err), &err);

    /* Each job alone, one thread: the reference pixels. */
    collect alone[JOBS];
    eng *e1 = engine(1);
    for (int j = 0; j < JOBS; j++) {
        collect_init(&alone[j], &s.jobs[j]);
        if (e1 != NULL)
            CHECK_OK(eng_batch_run(e1, &s.jobs[j], 1, collect_cb, &alone[j], NULL, &err), &err);
    }

    /* All together on 3 threads, twice with the same engine (scratch reused). */
    eng *e3 = engine(3);
    for (int round = 0; round < 2 && e3 != NULL; round++) {
        collect c;
        collect_init(&c, s.jobs);
        eng_stats st;
        CHECK_OK(eng_batch_run(e3, s.jobs, JOBS, collect_cb, &c, &st, &err), &err);
        CHECK_INT(10, c.calls);
        CHECK_INT(10, st.frames);
        CHECK_INT(3, st.threads);
        CHECK_INT(0, c.bad_meta);
        CHECK(st.wall_s > 0 && st.raster_s > 0 && st.shade_s > 0);
        for (int j = 0; j < JOBS; j++) {
            for (uint32_t f = 0; f < MAX_FRAMES; f++) {
                CHECK_INT(f < s.jobs[j].frame_count ? 1 : 0, c.seen[j][f]);
                if (c.rgb[j][f] == NULL || alone[j].rgb[0][f] == NULL)
                    continue;
                size_t n = (size_t)s.jobs[j].width * (size_t)s.jobs[j].height * 3;
                CHECK(memcmp(c.rgb[j][f], alone[j].rgb[0][f], n) == 0);
            }
        }
        collect_free(&c);
    }
    /* Frames of a morph differ; job 2's background (255, 0, 255) shows in its corner. */
    if (alone[1].rgb[0][0] != NULL && alone[1].rgb[0][4] != NULL)
        CHECK(memcmp(alone[1].rgb[0][0], alone[1].rgb[0][4], 17 * 29 * 3) != 0);
    if (alone[2].rgb[0][0] != NULL) {
        CHECK_INT(255, alone[2].rgb[0][0][0]);
        CHECK_INT(0, alone[2].rgb[0][0][1]);
    }

    /* A callback that fails stops the batch and its code comes back. With one thread the tasks
     * run in order, so exactly the frames before the failing one plus that one were handed. */
    if (e1 != NULL) {
        collect c;
        collect_init(&c, s.jobs);
        c.fail_job = 1;
        c.fail_frame = 2;
        c.fail_code = MD_EIO;
        eng_stats st;
        md_error_clear(&err);
        CHECK_INT(MD_EIO, eng_batch_run(e1, s.jobs, JOBS, collect_cb, &c, &st, &err));
        CHECK_INT(MD_EIO, err.code);
        CHECK_MSG(&err, "job 1 frame 2: the frame callback failed");
        CHECK_INT(6, c.calls);
        CHECK_INT(5, st.frames);
        collect_free(&c);
    }
    if (e3 != NULL) {
        collect c;
        collect_init(&c, s.jobs);
        c.fail_job = 0;
        c.fail_frame = 0;
        c.fail_code = MD_ECANCELED;
        CHECK_INT(MD_ECANCELED, eng_batch_run(e3, s.jobs, JOBS, collect_cb, &c, NULL, &err));
        /* Threads stop at their next task; how many frames were in flight is up to timing. */
        CHECK(c.calls >= 1 && c.calls <= 10);
        CHECK_INT(1, c.seen[0][0]);
        collect_free(&c);
        /* A positive return is not an error code: refused as an internal error. */
        collect_init(&c, s.jobs);
        c.fail_job = 2;
        c.fail_frame = 1;
        c.fail_code = 7;
        CHECK_INT(MD_EINTERNAL, eng_batch_run(e3, s.jobs, JOBS, collect_cb, &c, NULL, &err));
        CHECK_MSG(&err, "returned 7");
        collect_free(&c);
        /* After failures the engine still works. */
        collect_init(&c, s.jobs);
        CHECK_OK(eng_batch_run(e3, s.jobs, JOBS, collect_cb, &c, NULL, &err), &err);
        CHECK_INT(10, c.calls);
        collect_free(&c);
        /* A job whose canceled() answers yes delivers none of its frames; the others all. */
        collect_init(&c, s.jobs);
        int yes = 1;
        eng_job canceled_jobs[JOBS];
        memcpy(canceled_jobs, s.jobs, sizeof canceled_jobs);
        canceled_jobs[1].canceled = answer_canceled;
        canceled_jobs[1].cancel_ctx = &yes;
        CHECK_OK(eng_batch_run(e3, canceled_jobs, JOBS, collect_cb, &c, NULL, &err), &err);
        for (uint32_t f = 0; f < s.jobs[1].frame_count; f++)
            CHECK_INT(0, c.seen[1][f]);
        CHECK_INT(10 - (int)s.jobs[1].frame_count, c.calls);
        collect_free(&c);
        /* No jobs: nothing to do. */
        collect_init(&c, s.jobs);
        CHECK_OK(eng_batch_run(e3, s.jobs, 0, collect_cb, &c, NULL, &err), &err);
        CHECK_INT(0, c.calls);
        collect_free(&c);
    }
    for (int j = 0; j < JOBS; j++)
        collect_free(&alone[j]);
    eng_free(e1);
    eng_free(e3);
    scene_free(&s);
}

/* ---- Validation ---- */

static void expect_bad(const eng_job *job, const md_limits *lim, int code, const char *msg)
{
    md_error err;
    md_error_clear(&err);
    int rc = eng_job_validate(job, lim, &err);
    if (rc != code)
        fprintf(stderr, "expected %s for '%s', got %s (%s)\n", md_err_name(code), msg,
                md_err_name(rc), err.msg);
    CHECK_INT(code, rc);
    CHECK_MSG(&err, msg);
}

/* A lone frame (a live frame) is shaded in row bands on the threads that have no frame: the
 * same bytes as on one thread, for band counts that do and do not divide the height. */
static void test_lone_frame(void)
{
    scene s;
    scene_make(&s);
    md_error err;
    md_error_clear(&err);
    for (int j = 0; j < JOBS; j++) {
        eng_job one = s.jobs[j];
        one.frame_count = 1;
        collect ref, split;
        collect_init(&ref, &one);
        eng *e1 = engine(1);
        if (e1 != NULL)
            CHECK_OK(eng_batch_run(e1, &one, 1, collect_cb, &ref, NULL, &err), &err);
        const int threads[] = {2, 3, 7};
        for (int k = 0; k < 3; k++) {
            collect_init(&split, &one);
            eng *en = engine(threads[k]);
            if (en != NULL)
                CHECK_OK(eng_batch_run(en, &one, 1, collect_cb, &split, NULL, &err), &err);
            CHECK_INT(1, split.calls);
            size_t n = (size_t)one.width * (size_t)one.height * 3;
            long differ = 0;
            for (size_t i = 0; ref.rgb[0][0] != NULL && split.rgb[0][0] != NULL && i < n; i++)
                differ += ref.rgb[0][0][i] != split.rgb[0][0][i];
            if (differ != 0)
                fprintf(stderr, "job %d (%dx%d) on %d threads: %ld bytes differ\n", j, one.width,
                        one.height, threads[k], differ);
            CHECK_INT(0, differ);
            collect_free(&split);
            eng_free(en);
        }
        collect_free(&ref);
        eng_free(e1);
    }
    scene_free(&s);
}

static void test_validate(void)
{
    scene s;
    scene_make(&s);
    md_limits lim;
    md_limits_default(&lim);
    eng_job j;
    uint32_t tri_save;

    j = s.jobs[0];
    j.samples = 3;
    expect_bad(&j, &lim, MD_EINVAL, "samples 3 is not a square (1, 4, 9, 16, ...)");
    j.samples = 0;
    expect_bad(&j, &lim, MD_EINVAL, "samples 0 must be at least 1");
    j.samples = 81;
    expect_bad(&j, &lim, MD_ELIMIT, "samples 81 exceed the limit of 64");

    j = s.jobs[0];
    j.width = 0;
    expect_bad(&j, &lim, MD_EINVAL, "frame size 0x24");
    j.width = 9000;
    expect_bad(&j, &lim, MD_ELIMIT, "frame size 9000x24 exceeds the limit of 8192");

    /* The render budget a frame (eng_frame_bytes), as the api checks it at submit. */
    j = s.jobs[0];
    j.width = 4096;
    j.height = 4096;
    j.samples = 16;
    lim.max_frame_bytes = 1ull << 30;
    expect_bad(&j, &lim, MD_EBUDGET,
               "a 4096x4096 frame at 16 samples needs 2096.0 MiB to render, over the budget of "
               "1024.0 MiB a frame (--limit max_frame_bytes)");
    md_limits_default(&lim);

    j = s.jobs[0];
    j.frame_count = 0;
    expect_bad(&j, &lim, MD_EINVAL, "frame count 0");
    j = s.jobs[0];
    float bad_w[3] = {0, 3.5f, 1};
    j.weights = bad_w;
    expect_bad(&j, &lim, MD_EINVAL, "weight of frame 1 is 3.5, outside [-3, 3]");
    bad_w[1] = NAN;
    expect_bad(&j, &lim, MD_EINVAL, "weight of frame 1 is nan");

    j = s.jobs[0];
    j.vertex_count = 0;
    expect_bad(&j, &lim, MD_EINVAL, "no vertices");
    lim.max_vertices = 100;
    j = s.jobs[0];
    expect_bad(&j, &lim, MD_ELIMIT, "169 vertices exceed the limit of 100");
    md_limits_default(&lim);

    tri_save = s.grid.tri[5 * 3 + 1];
    s.grid.tri[5 * 3 + 1] = 999;
    j = s.jobs[0];
    expect_bad(&j, &lim, MD_EINVAL, "triangle 5 has vertex index 999 but there are 169 vertices");
    s.grid.tri[5 * 3 + 1] = tri_save;

    float save = s.grid.pos[7];
    s.grid.pos[7] = INFINITY;
    expect_bad(&j, &lim, MD_EINVAL, "source mesh: vertex 2 has a non-finite coordinate");
    s.grid.pos[7] = save;

    /* Surfaces. */
    j = s.jobs[1];
    uint32_t uvs[3 * 2 * 20 * 40];
    memcpy(uvs, s.sphere_a.tri, sizeof uvs);
    uvs[7] = 5000;
    j.surface[0].tri_uvs = uvs;
    expect_bad(&j, &lim, MD_EINVAL,
               "source surface: triangle 2 has UV index 5000 but there are 861 UVs");
    j = s.jobs[1];
    j.surface[0].uvs = NULL;
    expect_bad(&j, &lim, MD_EINVAL, "source surface: has UV indices but no UVs");
    j = s.jobs[1];
    uint16_t mats[2 * 20 * 40] = {0};
    mats[3] = 2;
    j.surface[1].tri_materials = mats;
    expect_bad(&j, &lim, MD_EINVAL, "target surface: triangle 3 uses material 2 but there are 1");
    j = s.jobs[1];
    eng_material broken = s.textured[0];
    broken.tex_width = 0;
    j.surface[0].materials = &broken;
    expect_bad(&j, &lim, MD_EINVAL, "source surface: material 0 has a 0x16 texture");
    broken.tex_width = 20000;
    expect_bad(&j, &lim, MD_ELIMIT, "texture 20000x16 exceeds the limits");
    j.surface[0].material_count = 0;
    expect_bad(&j, &lim, MD_EINVAL, "source surface: needs at least one material");

    /* Camera. */
    j = s.jobs[1];
    memcpy(j.camera.eye, j.camera.target, sizeof j.camera.eye);
    expect_bad(&j, &lim, MD_EINVAL, "camera: eye and target are the same point");

    /* eng_batch_run refuses a bad job before rendering anything, naming it. */
    eng *e = engine(2);
    if (e != NULL) {
        eng_job jobs[JOBS];
        memcpy(jobs, s.jobs, sizeof jobs);
        jobs[2].samples = 3;
        collect c;
        collect_init(&c, jobs);
        md_error err;
        CHECK_INT(MD_EINVAL, eng_batch_run(e, jobs, JOBS, collect_cb, &c, NULL, &err));
        CHECK_MSG(&err, "job 2: samples 3 is not a square (1, 4, 9, 16, ...)");
        CHECK_INT(0, c.calls);
        collect_free(&c);
        CHECK_INT(MD_EINVAL, eng_batch_run(e, jobs, JOBS, NULL, NULL, NULL, &err));
        eng_free(e);
    }
    scene_free(&s);
}

static void test_engines(void)
{
    md_error err;
    eng *e = NULL;
    /* Which engine CUDA and AUTO give depends on the build and the machine: test_gpu_select
     * checks each case; here only that AUTO always gives an engine. */
    eng_config autok = {ENG_KIND_AUTO, 0, 0};
    CHECK_OK(eng_new(&autok, &e, &err), &err);
    CHECK(e != NULL);
    eng_free(e);
    eng_config neg = {ENG_KIND_CPU, -1, 0};
    CHECK_INT(MD_EINVAL, eng_new(&neg, &e, &err));
    CHECK_MSG(&err, "threads -1");
    eng_free(NULL);
}

int main(void)
{
    test_batch();
    test_lone_frame();
    test_validate();
    test_engines();
    return test_done();
}
