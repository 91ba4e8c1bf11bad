/*
 * test_gpu_batch.c — batch independence on the CUDA engine: every job's frames are byte for byte
 * the same whether the job runs alone or in a batch of 64 (copies of it and a mix of other
 * sizes, sample counts, frame counts and cameras), with the default memory budget and with a
 * tiny one that cuts the batch into many double-buffered chunks (MORPHD_CUDA_BUDGET_MB). Also:
 * a callback's error stops the batch, is returned, and leaves the engine usable. And the texture
 * cache (eng_material.texture_key): batches sharing a keyed texture give the frames of the
 * uncached runs byte for byte, the first batch counts a miss and the next ones hits, a hit
 * really samples the device copy (the host pixels under the key changed, the frames did not),
 * and a cache too small for the texture falls back to the per-batch upload.
 *
 * Labelled gpu; exits 77 (skip) when the build has no CUDA engine or the machine no device.
 */
#include "test_util.h"

#include <string.h>

#include "engine_fixtures.h"
#include "gpu/engine_int.h"
#define VARIANTS 4
#define BATCH 64

typedef struct frame_store {
    const eng_job *jobs;
    uint32_t job_count;
    uint8_t ***rgb; /* [job][frame] */
    int calls;
    int fail_at; /* > 0: the callback fails on its fail_at-th call */
} frame_store;

static int store_cb(void *user, const eng_frame *f)
{
    frame_store *s = user;
    int call = __atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
    if (s->fail_at > 0 && call == s->fail_at)
        return MD_EIO;
    size_t n = (size_t)f->width * (size_t)f->height * 3;
    if (f->job >= s->job_count || s->rgb[f->job][f->frame] != NULL)
        return MD_EINTERNAL;
    uint8_t *copy = fx_alloc(n);
    memcpy(copy, f->rgb, n);
    s->rgb[f->job][f->frame] = copy;
    return 0;
}

static frame_store store_new(const eng_job *jobs, uint32_t n)
{
    frame_store s = {jobs, n, fx_alloc(n * sizeof(uint8_t **)), 0, 0};
    for (uint32_t j = 0; j < n; j++)
        s.rgb[j] = fx_alloc(jobs[j].frame_count * sizeof(uint8_t *));
    return s;
}

static void store_free(frame_store *s)
{
    for (uint32_t j = 0; j < s->job_count; j++) {
        for (uint32_t f = 0; f < s->jobs[j].frame_count; f++)
            free(s->rgb[j][f]);
        free(s->rgb[j]);
    }
    free(s->rgb);
}

static int run_stats(eng *e, const eng_job *jobs, uint32_t n, frame_store *s, eng_stats *out,
                     md_error *err)
{
    eng_stats st;
    int rc = eng_batch_run(e, jobs, n, store_cb, s, &st, err);
    if (out != NULL)
        *out = st;
    fprintf(stderr,
            "  %u jobs: %llu frames, kernels morph %.3f raster %.3f shade %.3f ms, copy %.3f ms, "
            "wall %.1f ms\n",
            n, (unsigned long long)st.frames, st.morph_s * 1e3, st.raster_s * 1e3, st.shade_s * 1e3,
            st.copy_s * 1e3, st.wall_s * 1e3);
    return rc;
}

static int run(eng *e, const eng_job *jobs, uint32_t n, frame_store *s, md_error *err)
{
    return run_stats(e, jobs, n, s, NULL, err);
}

typedef struct variants {
    fx_mesh a, b, ga, gb;
    uint8_t *tex;
    eng_material tex_mat, grey;
    float w7[7], w2[2];
    eng_job job[VARIANTS];
} variants;

static void variants_make(variants *v)
{
    memset(v, 0, sizeof *v);
    const float c0[3] = {0, 0, 0}, c1[3] = {0.1f, 0.0f, -0.1f};
    fx_sphere(&v->a, 20, 40, c0, 1.0f);
    fx_sphere(&v->b, 20, 40, c1, 1.2f);
    fx_grid(&v->ga, 16, -1, -1, 1, 1, 0.0f, 0.35f, 3, 1);
    fx_grid(&v->gb, 16, -1, -1, 1, 1, 0.3f, 0.35f, 4, 0);
    v->tex = fx_alloc(48 * 48 * 4);
    for (int i = 0; i < 48 * 48; i++) {
        v->tex[i * 4] = (uint8_t)(i * 7);
        v->tex[i * 4 + 1] = (uint8_t)(i * 13);
        v->tex[i * 4 + 2] = (uint8_t)(255 - i);
        v->tex[i * 4 + 3] = 255;
    }
    v->tex_mat = (eng_material){{1, 1, 1}, v->tex, 48, 48, NULL, 0, 0};
    v->grey = (eng_material){{0.6f, 0.65f, 0.7f}, NULL, 0, 0, NULL, 0, 0};
    for (int i = 0; i < 7; i++)
        v->w7[i] = (float)i / 6.0f;
    v->w2[0] = 0.2f;
    v->w2[1] = 0.7f;
    float mn[3] = {-1.4f, -1.4f, -1.4f}, mx[3] = {1.4f, 1.4f, 1.4f};

    fx_job(&v->job[0], &v->a, &v->b, &v->tex_mat, v->w7, 7, 128, 128, 4);
    fx_job_uvs(&v->job[0], 0, &v->a);
    fx_job_uvs(&v->job[0], 1, &v->b);
    eng_camera_frame_bounds(&v->job[0].camera, mn, mx, 1.0f);

    fx_job(&v->job[1], &v->a, &v->b, &v->grey, v->w2, 2, 90, 50, 1);
    eng_camera_frame_bounds(&v->job[1].camera, mn, mx, 90.0f / 50.0f);

    fx_job(&v->job[2], &v->ga, &v->gb, &v->tex_mat, v->w2, 2, 75, 75, 16);
    fx_job_uvs(&v->job[2], 0, &v->ga);
    fx_job_uvs(&v->job[2], 1, &v->gb);
    fx_ortho(&v->job[2].camera, 0.1f, -0.1f, 2.4f);

    fx_job(&v->job[3], &v->ga, &v->gb, &v->grey, v->w7, 7, 33, 200, 9);
    v->job[3].camera.eye[2] = 3.0f;
    v->job[3].camera.z_near = 1.0f;
    v->job[3].camera.z_far = 10.0f;
}

static void variants_free(variants *v)
{
    fx_mesh_free(&v->a);
    fx_mesh_free(&v->b);
    fx_mesh_free(&v->ga);
    fx_mesh_free(&v->gb);
    free(v->tex);
}

/* Batch slot i holds variant kind[i]: copies of variant 0 and a mix of the others. */
static int kind_of(int i)
{
    return i % 3 == 0 ? 0 : (i * 7 + 1) % VARIANTS;
}

static void check_batch(eng *e, const char *what, frame_store *alone, const variants *v)
{
    eng_job jobs[BATCH];
    for (int i = 0; i < BATCH; i++)
        jobs[i] = v->job[kind_of(i)];
    frame_store s = store_new(jobs, BATCH);
    md_error err;
    md_error_clear(&err);
    CHECK_OK(run(e, jobs, BATCH, &s, &err), &err);
    int mismatched = 0;
    for (int i = 0; i < BATCH; i++) {
        int k = kind_of(i);
        const eng_job *job = &v->job[k];
        size_t n = (size_t)job->width * (size_t)job->height * 3;
        for (uint32_t f = 0; f < job->frame_count; f++) {
            const uint8_t *a = alone[k].rgb[0][f], *b = s.rgb[i][f];
            if (a == NULL || b == NULL || memcmp(a, b, n) != 0) {
                if (mismatched++ < 10)
                    fprintf(stderr, "%s: batch job %d (variant %d) frame %u differs from alone\n",
                            what, i, k, f);
            }
        }
    }
    CHECK_INT(0, mismatched);
    store_free(&s);
}

/* Job j's frames in s equal those of alone (one job); counts the frames that differ. */
static int frames_differ(const frame_store *s, uint32_t j, const frame_store *alone)
{
    int differ = 0;
    const eng_job *job = &s->jobs[j];
    size_t n = (size_t)job->width * (size_t)job->height * 3;
    for (uint32_t f = 0; f < job->frame_count; f++)
        differ += s->rgb[j][f] == NULL || alone->rgb[0][f] == NULL ||
                  memcmp(s->rgb[j][f], alone->rgb[0][f], n) != 0;
    return differ;
}

static void test_texture_cache(const variants *v, const frame_store *alone)
{
    md_error err;
    md_error_clear(&err);
    eng_config cfg = {ENG_KIND_CUDA, 3, (uint64_t)64 << 20};
    eng *e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e == NULL)
        return;
    /* Variants 0 (trilinear, perspective) and 2 (ortho, 16 samples) share v->tex: keyed. */
    eng_material keyed = v->tex_mat;
    keyed.texture_key = 0x5eed0001u;
    eng_job jobs[2] = {v->job[0], v->job[2]};
    for (int k = 0; k < 2; k++)
        for (int side = 0; side < 2; side++)
            jobs[k].surface[side].materials = &keyed;

    eng_stats st;
    frame_store first = store_new(jobs, 1);
    CHECK_OK(run_stats(e, jobs, 1, &first, &st, &err), &err);
    CHECK_INT(0, frames_differ(&first, 0, &alone[0]));
    CHECK_INT(1, (int)st.texture_cache_misses);
    CHECK_INT(0, (int)st.texture_cache_hits);
    store_free(&first);

    frame_store second = store_new(jobs, 2);
    CHECK_OK(run_stats(e, jobs, 2, &second, &st, &err), &err);
    CHECK_INT(0, frames_differ(&second, 0, &alone[0]));
    CHECK_INT(0, frames_differ(&second, 1, &alone[2]));
    CHECK_INT(1, (int)st.texture_cache_hits); /* one texture, named by both jobs */
    CHECK_INT(0, (int)st.texture_cache_misses);
    store_free(&second);

    eng_device_stats ds;
    eng_device_stats_get(e, &ds);
    CHECK_INT(64 << 20, (int)ds.texture_cache_cap);
    size_t entry = ((size_t)48 * 48 * 4 + 255) / 256 * 256 + eng_texture_mips_bytes(48, 48);
    CHECK_INT((int)entry, (int)ds.texture_cache_bytes);
    CHECK(ds.memory_used_bytes >= ds.texture_cache_bytes);

    /* Other host pixels under the same key: a hit samples the device copy, so the frames are
     * still those of v->tex (this is why keys must name content: engine.h). */
    uint8_t *other = fx_alloc(48 * 48 * 4);
    memset(other, 0x40, 48 * 48 * 4);
    keyed.rgba = other;
    frame_store third = store_new(jobs, 1);
    CHECK_OK(run_stats(e, jobs, 1, &third, &st, &err), &err);
    CHECK_INT(0, frames_differ(&third, 0, &alone[0]));
    CHECK_INT(1, (int)st.texture_cache_hits);
    store_free(&third);
    keyed.rgba = v->tex;
    free(other);
    eng_free(e);

    /* A cache smaller than the texture: refused, uploaded with the batch, same frames. */
    cfg.device_texture_cache_bytes = 4096;
    e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e == NULL)
        return;
    for (int round = 0; round < 2; round++) {
        frame_store s = store_new(jobs, 2);
        CHECK_OK(run_stats(e, jobs, 2, &s, &st, &err), &err);
        CHECK_INT(0, frames_differ(&s, 0, &alone[0]));
        CHECK_INT(0, frames_differ(&s, 1, &alone[2]));
        CHECK_INT(0, (int)(st.texture_cache_hits + st.texture_cache_misses));
        store_free(&s);
    }
    eng_device_stats_get(e, &ds);
    CHECK_INT(0, (int)ds.texture_cache_bytes);
    eng_free(e);
}

int main(void)
{
    fx_require_cuda_device();
    variants v;
    variants_make(&v);
    md_error err;
    md_error_clear(&err);
    eng_config cfg = {ENG_KIND_CUDA, 3, 0};
    eng *e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e == NULL)
        return test_done();
    CHECK(strcmp(eng_name(e), "cuda") == 0);

    frame_store alone[VARIANTS];
    for (int k = 0; k < VARIANTS; k++) {
        alone[k] = store_new(&v.job[k], 1);
        CHECK_OK(run(e, &v.job[k], 1, &alone[k], &err), &err);
        CHECK_INT(v.job[k].frame_count, alone[k].calls);
    }
    check_batch(e, "default budget", alone, &v);
    test_texture_cache(&v, alone);

    /* A callback error: returned, the batch stops, and the engine still works afterwards. */
    eng_job many[BATCH];
    for (int i = 0; i < BATCH; i++)
        many[i] = v.job[0];
    frame_store failing = store_new(many, BATCH);
    failing.fail_at = 5;
    CHECK_INT(MD_EIO, run(e, many, BATCH, &failing, &err));
    CHECK_MSG(&err, "the frame callback failed");
    CHECK(failing.calls < BATCH * (int)v.job[0].frame_count);
    store_free(&failing);
    check_batch(e, "after a callback error", alone, &v);
    eng_free(e);

    /* A 4 MiB budget: a few frames a chunk, so both slots take turns many times. */
    setenv("MORPHD_CUDA_BUDGET_MB", "4", 1);
    e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e != NULL)
        check_batch(e, "4 MiB budget", alone, &v);
    eng_free(e);
    unsetenv("MORPHD_CUDA_BUDGET_MB");

    for (int k = 0; k < VARIANTS; k++)
        store_free(&alone[k]);
    variants_free(&v);
    return test_done();
}
