/*
 * test_engine_shade.c — shading through the whole CPU engine: the exact colour of a flat quad
 * facing the head-light, saturation, untouched background, supersampled edges averaging, and
 * determinism (same bytes twice, and with 1, 2 or 3 threads).
 */
#include "engine_fixtures.h"
#include "gpu/kernels.h"

#include <pthread.h>

static void test_flat_quad(void)
{
    fx_mesh quad;
    fx_grid(&quad, 1, -1, -1, 1.0416667f, 1, 0, 0, 1, 0);
    eng_material mat = {{0.8f, 0.5f, 0.2f}, NULL, 0, 0, NULL, 0, 0};
    float w0 = 0.0f;
    eng_job job;
    fx_job(&job, &quad, NULL, &mat, &w0, 1, 64, 48, 4);
    fx_ortho(&job.camera, 0, 0, 4.0f);
    job.background[0] = 10;
    job.background[1] = 20;
    job.background[2] = 30;
    uint8_t *rgb = fx_render(&job, 1);
    if (rgb == NULL)
        return;
    int quad_rgb[3], bg[3] = {10, 20, 30};
    for (int k = 0; k < 3; k++)
        quad_rgb[k] = expect8(lit(mat.color[k]));
    CHECK_INT(237, quad_rgb[0]); /* 0.8 * 1.1 + 0.05 = 0.93 */
    check_px(rgb, 64, 32, 24, quad_rgb, 0);
    check_px(rgb, 64, 22, 14, quad_rgb, 0);
    /* Background: exactly, at the corners and just outside the quad's left edge (x = 20). */
    check_px(rgb, 64, 0, 0, bg, 0);
    check_px(rgb, 64, 63, 47, bg, 0);
    check_px(rgb, 64, 19, 24, bg, 0);
    /* The right edge passes through the middle of pixel column 44: half quad, half background. */
    int half[3];
    for (int k = 0; k < 3; k++)
        half[k] = expect8(0.5 * (lit(mat.color[k]) + bg[k] / 255.0));
    check_px(rgb, 64, 44, 24, half, 1);
    free(rgb);

    /* White saturates to 255 instead of wrapping. */
    mat.color[0] = mat.color[1] = mat.color[2] = 1.0f;
    rgb = fx_render(&job, 1);
    if (rgb != NULL) {
        int white[3] = {255, 255, 255};
        check_px(rgb, 64, 32, 24, white, 0);
        free(rgb);
    }

    /* Perspective, eye on the axis: the centre pixel sees N = L as well. */
    mat.color[0] = 0.8f;
    mat.color[1] = 0.5f;
    mat.color[2] = 0.2f;
    eng_camera_default(&job.camera);
    job.camera.eye[2] = 4.0f;
    job.camera.z_near = 1.0f;
    job.camera.z_far = 10.0f;
    job.width = job.height = 65; /* a pixel centred on the axis */
    rgb = fx_render(&job, 2);
    if (rgb != NULL) {
        check_px(rgb, 65, 32, 32, quad_rgb, 1);
        free(rgb);
    }
    fx_mesh_free(&quad);
}

/* ---- Determinism ---- */

typedef struct capture {
    pthread_mutex_t lock;
    uint8_t *frames; /* frame_count frames */
    size_t frame_size;
    uint32_t frame_count;
    int calls;
} capture;

static int capture_cb(void *user, const eng_frame *f)
{
    capture *c = user;
    if (f->frame < c->frame_count)
        memcpy(c->frames + f->frame * c->frame_size, f->rgb, c->frame_size);
    pthread_mutex_lock(&c->lock);
    c->calls++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static uint8_t *render_all(const eng_job *job, int threads)
{
    md_error err;
    md_error_clear(&err);
    eng_config cfg = {ENG_KIND_CPU, threads, 0};
    eng *e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e == NULL)
        return NULL;
    capture c;
    pthread_mutex_init(&c.lock, NULL);
    c.frame_size = (size_t)job->width * (size_t)job->height * 3;
    c.frame_count = job->frame_count;
    c.frames = fx_alloc(c.frame_size * c.frame_count);
    c.calls = 0;
    eng_stats st;
    CHECK_OK(eng_batch_run(e, job, 1, capture_cb, &c, &st, &err), &err);
    CHECK_INT(job->frame_count, c.calls);
    CHECK_INT(job->frame_count, st.frames);
    CHECK(st.threads >= 1 && st.threads <= threads);
    pthread_mutex_destroy(&c.lock);
    eng_free(e);
    return c.frames;
}

static void test_determinism(void)
{
    float c0[3] = {0.1f, 0.0f, 0.0f}, c1[3] = {0.0f, 0.2f, -0.1f};
    fx_mesh a, b;
    fx_sphere(&a, 40, 80, c0, 1.0f);
    fx_sphere(&b, 40, 80, c1, 0.7f);
    /* A noisy texture on each side. */
    enum { TW = 64, TH = 32 };
    uint8_t *tex[2];
    uint32_t seed = 5;
    for (int s = 0; s < 2; s++) {
        tex[s] = fx_alloc(TW * TH * 4);
        for (int i = 0; i < TW * TH * 4; i++)
            tex[s][i] = (uint8_t)(fx_rand(&seed) * 127 + 128);
    }
    eng_material mats[2] = {{{0.7f, 0.7f, 0.7f}, tex[0], TW, TH, NULL, 0, 0},
                            {{0.7f, 0.7f, 0.7f}, tex[1], TW, TH, NULL, 0, 0}};
    float weights[5] = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f};
    eng_job job;
    fx_job(&job, &a, &b, &mats[0], weights, 5, 96, 80, 4);
    job.surface[1].materials = &mats[1];
    fx_job_uvs(&job, 0, &a);
    fx_job_uvs(&job, 1, &b);
    float mn[3] = {-1, -1, -1}, mx[3] = {1.1f, 1, 1};
    eng_camera_frame_bounds(&job.camera, mn, mx, 96.0f / 80.0f);
    job.background[0] = 1;
    job.background[1] = 2;
    job.background[2] = 3;

    uint8_t *r1 = render_all(&job, 1);
    uint8_t *r1b = render_all(&job, 1);
    uint8_t *r2 = render_all(&job, 2);
    uint8_t *r3 = render_all(&job, 3);
    size_t n = (size_t)96 * 80 * 3 * 5;
    if (r1 != NULL && r1b != NULL && r2 != NULL && r3 != NULL) {
        CHECK(memcmp(r1, r1b, n) == 0);
        CHECK(memcmp(r1, r2, n) == 0);
        CHECK(memcmp(r1, r3, n) == 0);
        /* Frames differ from each other (the morph moved and recoloured the sphere) and are not
         * blank. */
        CHECK(memcmp(r1, r1 + n / 5 * 4, n / 5) != 0);
        long covered = 0;
        for (size_t i = 0; i < n / 5; i += 3)
            covered += r1[i] != 1 || r1[i + 1] != 2 || r1[i + 2] != 3;
        if (covered < 96 * 80 / 8)
            fprintf(stderr, "only %ld of %d pixels show the sphere\n", covered, 96 * 80);
        CHECK(covered >= 96 * 80 / 8); /* the box's bounding sphere is framed */
    }
    free(r1);
    free(r1b);
    free(r2);
    free(r3);
    free(tex[0]);
    free(tex[1]);
    fx_mesh_free(&a);
    fx_mesh_free(&b);
}

int main(void)
{
    test_flat_quad();
    test_determinism();
    return test_done();
}
