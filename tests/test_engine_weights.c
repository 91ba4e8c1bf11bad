/*
 * test_engine_weights.c — the engine's shape and texture weights (gpu/engine.h): weights from
 * -3 to 3 accepted and beyond refused with the frame named; morphed geometry at t = -0.5 and
 * 1.5 equal to A + t (B - A) to float precision; a frame with shape weight 0 and texture weight
 * 1 identical, byte for byte, to A's shape wearing B's colouring; the texture extrapolation
 * (gpu/texel.h) against an independent double-precision L*a*b* (analysis/color.c), in gamut and
 * clipped; and through the CPU engine, an unlit quad whose pixels are the extrapolated colours.
 */
#define _GNU_SOURCE /* M_PI */
#include "engine_fixtures.h"
#include "gpu/texel.h"

#include "analysis/analysis.h"

/* ---- Validation ---- */

static void test_validate(void)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    fx_mesh a;
    fx_grid(&a, 2, -1, -1, 1, 1, 0, 0, 1, 0);
    eng_material mat = {{0.5f, 0.5f, 0.5f}, NULL, 0, 0, NULL, 0, 0};
    float w[4] = {-3.0f, -0.5f, 1.5f, 3.0f};
    float u[4] = {0.0f, 1.0f, -3.0f, 3.0f};
    eng_job job;
    fx_job(&job, &a, NULL, &mat, w, 4, 16, 16, 1);
    CHECK_OK(eng_job_validate(&job, &lim, &err), &err);
    job.texture_weights = u;
    CHECK_OK(eng_job_validate(&job, &lim, &err), &err);
    w[2] = 3.5f;
    CHECK_INT(MD_EINVAL, eng_job_validate(&job, &lim, &err));
    CHECK_MSG(&err, "weight of frame 2 is 3.5, outside [-3, 3]");
    w[2] = 1.5f;
    u[1] = -3.25f;
    CHECK_INT(MD_EINVAL, eng_job_validate(&job, &lim, &err));
    CHECK_MSG(&err, "texture weight of frame 1 is -3.25, outside [-3, 3]");
    u[1] = NAN;
    CHECK_INT(MD_EINVAL, eng_job_validate(&job, &lim, &err));
    CHECK_MSG(&err, "texture weight of frame 1 is nan");
    fx_mesh_free(&a);
}

/* ---- Geometry ---- */

static void test_geometry(void)
{
    fx_mesh a, b;
    fx_grid(&a, 6, -1, -1, 1, 1, 0.0f, 0.3f, 7, 0);
    fx_grid(&b, 6, -1.5f, -0.5f, 1.2f, 2.0f, 0.4f, 0.3f, 9, 0);
    const uint32_t n = a.vertex_count;
    float *pos = fx_alloc(sizeof(float) * 3 * n), *nrm = fx_alloc(sizeof(float) * 3 * n);
    const float ts[4] = {-0.5f, 1.5f, -3.0f, 3.0f};
    for (int i = 0; i < 4; i++) {
        eng_morph_geometry(a.pos, b.pos, n, a.tri, a.triangle_count, ts[i], pos, nrm);
        double worst = 0, worst_rel = 0;
        for (size_t k = 0; k < 3 * (size_t)n; k++) {
            double want = a.pos[k] + (double)ts[i] * ((double)b.pos[k] - a.pos[k]);
            double d = fabs(want - pos[k]);
            worst = fmax(worst, d);
            /* Float precision: a few ulp of the largest term, |(1 - t) a| + |t b|. */
            double scale = fabs((1.0 - ts[i]) * a.pos[k]) + fabs(ts[i] * b.pos[k]) + 1e-30;
            worst_rel = fmax(worst_rel, d / scale);
        }
        printf("geometry t=%.1f: largest |A + t (B - A) - p| %.3g, relative %.3g\n", (double)ts[i],
               worst, worst_rel);
        CHECK_NEAR(0, worst_rel, 2.5e-7);
    }
    free(pos);
    free(nrm);
    fx_mesh_free(&a);
    fx_mesh_free(&b);
}

/* ---- Shape 0, texture 1 ---- */

static uint8_t *checker_tex(int w, int h, int seed)
{
    uint8_t *t = fx_alloc((size_t)w * (size_t)h * 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = t + 4 * ((size_t)y * (size_t)w + (size_t)x);
            p[0] = (uint8_t)(seed ? 40 + 3 * x : 230 - 5 * y);
            p[1] = (uint8_t)(((x / 4 + y / 4) & 1) ? 200 : 60);
            p[2] = (uint8_t)(seed ? 220 : 30 + 4 * x);
            p[3] = 255;
        }
    return t;
}

typedef struct frames_cap {
    uint8_t *rgb[2];
    float weight[2], texture_weight[2];
    size_t size;
} frames_cap;

static int frames_cb(void *user, const eng_frame *f)
{
    frames_cap *c = user;
    if (f->frame < 2 && (size_t)f->width * (size_t)f->height * 3 == c->size) {
        memcpy(c->rgb[f->frame], f->rgb, c->size);
        c->weight[f->frame] = f->weight;
        c->texture_weight[f->frame] = f->texture_weight;
    }
    return 0;
}

static void test_split(void)
{
    md_error err;
    md_error_clear(&err);
    fx_mesh a, b;
    fx_grid(&a, 8, -1, -1, 1, 1, 0.0f, 0.2f, 3, 1);
    fx_grid(&b, 8, -0.6f, -1.2f, 1.3f, 0.8f, 0.5f, 0.2f, 5, 1);
    const int tw = 32, th = 32;
    uint8_t *tex_a = checker_tex(tw, th, 0), *tex_b = checker_tex(tw, th, 1);
    eng_material mat_a = {{0.2f, 0.3f, 0.4f}, tex_a, tw, th, NULL, 0, 0};
    eng_material mat_b = {{0.9f, 0.1f, 0.1f}, tex_b, tw, th, NULL, 0, 0};
    /* Frame 0: shape 0, texture 1. Frame 1: the check, shape 1 and texture 1 of a job that
     * has A's positions at both ends. */
    float w[2] = {0.0f, 0.0f}, u[2] = {1.0f, 1.0f};
    eng_job job;
    fx_job(&job, &a, &b, &mat_a, w, 2, 96, 80, 4);
    job.surface[1].materials = &mat_b;
    fx_job_uvs(&job, 0, &a);
    fx_job_uvs(&job, 1, &b);
    job.texture_weights = u;
    fx_ortho(&job.camera, 0.1f, 0, 3.0f);
    /* The same picture made another way: B's colouring on both sides at weight 0 over A. */
    eng_job ref = job;
    ref.texture_weights = NULL;
    ref.surface[0] = job.surface[1];
    ref.frame_count = 1;

    eng_config cfg = {ENG_KIND_CPU, 2, 0};
    eng *e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    frames_cap got = {{fx_alloc(96 * 80 * 3), fx_alloc(96 * 80 * 3)}, {0}, {0}, 96 * 80 * 3};
    frames_cap want = {{fx_alloc(96 * 80 * 3), fx_alloc(96 * 80 * 3)}, {0}, {0}, 96 * 80 * 3};
    if (e != NULL) {
        CHECK_OK(eng_batch_run(e, &job, 1, frames_cb, &got, NULL, &err), &err);
        CHECK_OK(eng_batch_run(e, &ref, 1, frames_cb, &want, NULL, &err), &err);
    }
    CHECK_NEAR(0.0, got.weight[0], 0);
    CHECK_NEAR(1.0, got.texture_weight[0], 0);
    size_t differ = 0, covered = 0;
    for (size_t i = 0; i < got.size; i += 3) {
        differ += memcmp(got.rgb[0] + i, want.rgb[0] + i, 3) != 0;
        covered += got.rgb[0][i] != 255 || got.rgb[0][i + 1] != 255 || got.rgb[0][i + 2] != 255;
    }
    printf("shape 0, texture 1: %zu of %zu pixels differ from A's shape with B's colouring (%zu "
           "covered)\n",
           differ, got.size / 3, covered);
    CHECK_INT(0, differ);
    CHECK(covered > 1000);
    eng_free(e);
    for (int k = 0; k < 2; k++) {
        free(got.rgb[k]);
        free(want.rgb[k]);
    }
    free(tex_a);
    free(tex_b);
    fx_mesh_free(&a);
    fx_mesh_free(&b);
}

/* ---- Extrapolation in L*a*b* ---- */

static void lab_of(const float c[3], double lab[3])
{
    double lin[3];
    for (int k = 0; k < 3; k++)
        lin[k] = ana_srgb_to_linear(c[k]);
    ana_linear_rgb_to_lab(lin, lab);
}

/* eng_texel_extrapolate against analysis/color.c in double: L* is the extrapolated one (clamped),
 * the hue is kept, the chroma is the extrapolated one when that is in gamut and less otherwise,
 * and every channel is in [0, 1]. */
static void test_extrapolate_function(void)
{
    const float pairs[][2][3] = {
        {{0.80f, 0.60f, 0.50f}, {0.60f, 0.40f, 0.30f}}, /* skin tones: in gamut at 1.5 */
        {{0.50f, 0.50f, 0.50f}, {0.55f, 0.50f, 0.45f}}, /* near grey */
        {{0.20f, 0.60f, 0.90f}, {0.90f, 0.20f, 0.10f}}, /* far apart: clipped */
        {{0.05f, 0.05f, 0.05f}, {0.95f, 0.95f, 0.95f}}, /* L* leaves 0..100 */
    };
    const float ts[5] = {-3.0f, -0.5f, 1.25f, 1.5f, 3.0f};
    int in_gamut_seen = 0, clipped_seen = 0;
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        double l0[3], l1[3];
        lab_of(pairs[p][0], l0);
        lab_of(pairs[p][1], l1);
        for (int i = 0; i < 5; i++) {
            const double t = ts[i];
            float out[3];
            eng_texel_extrapolate(pairs[p][0], pairs[p][1], ts[i], out);
            for (int k = 0; k < 3; k++)
                CHECK(out[k] >= 0.0f && out[k] <= 1.0f);
            double want[3], got[3];
            for (int k = 0; k < 3; k++)
                want[k] = (1 - t) * l0[k] + t * l1[k];
            lab_of(out, got);
            double l_want = want[0] < 0 ? 0 : want[0] > 100 ? 100 : want[0];
            double c_want = hypot(want[1], want[2]), c_got = hypot(got[1], got[2]);
            CHECK_NEAR(l_want, got[0], 0.02);
            CHECK(c_got <= c_want + 0.02);
            if (c_got > 1.0) {
                double d = fabs(atan2(got[2], got[1]) - atan2(want[2], want[1]));
                d = fmin(d, 2 * M_PI - d);
                CHECK_NEAR(0, d * 180 / M_PI, 0.05);
            }
            if (fabs(c_got - c_want) <= 0.02) {
                in_gamut_seen++;
            } else {
                clipped_seen++;
                /* Clipped: on the gamut's boundary, a channel at 0 or 1. */
                float lo = fminf(out[0], fminf(out[1], out[2]));
                float hi = fmaxf(out[0], fmaxf(out[1], out[2]));
                CHECK(lo < 1e-3f || hi > 1.0f - 1e-3f);
            }
        }
    }
    printf("extrapolation: %d in gamut, %d clipped to the sRGB gamut\n", in_gamut_seen,
           clipped_seen);
    CHECK(in_gamut_seen > 3);
    CHECK(clipped_seen > 3);
    /* Inside [0, 1] the shader blends, it does not come here; at the ends it is the colour. */
    float out[3];
    eng_texel_extrapolate(pairs[0][0], pairs[0][1], 0.0f, out);
    for (int k = 0; k < 3; k++)
        CHECK_NEAR(pairs[0][0][k], out[k], 2e-5);
}

/* An unlit quad coloured c0 (source) and c1 (target), rendered at texture weights outside
 * [0, 1]: every covered pixel is the 8-bit extrapolated colour. */
static void test_extrapolate_engine(void)
{
    fx_mesh quad;
    fx_grid(&quad, 1, -1, -1, 1, 1, 0, 0, 1, 0);
    eng_material mat[2] = {{{0.80f, 0.60f, 0.50f}, NULL, 0, 0, NULL, 0, 0},
                           {{0.60f, 0.40f, 0.30f}, NULL, 0, 0, NULL, 0, 0}};
    const float ts[3] = {1.5f, -0.5f, 2.0f};
    for (int i = 0; i < 3; i++) {
        float w = 0.25f; /* the shape weight does not matter for the colour */
        eng_job job;
        fx_job(&job, &quad, NULL, &mat[0], &w, 1, 32, 32, 1);
        job.surface[1].materials = &mat[1];
        job.texture_weights = &ts[i];
        job.shading = ENG_SHADING_UNLIT;
        fx_ortho(&job.camera, 0, 0, 1.0f);
        uint8_t *rgb = fx_render(&job, 1);
        if (rgb == NULL)
            continue;
        float c[3];
        eng_texel_extrapolate(mat[0].color, mat[1].color, ts[i], c);
        int want[3];
        for (int k = 0; k < 3; k++)
            want[k] = expect8(c[k]);
        double l0[3], l1[3], lg[3];
        lab_of(mat[0].color, l0);
        lab_of(mat[1].color, l1);
        const float got[3] = {rgb[0] / 255.0f, rgb[1] / 255.0f, rgb[2] / 255.0f};
        lab_of(got, lg);
        printf("unlit quad at texture weight %.1f: pixel (%d, %d, %d), L* %.2f (extrapolated "
               "%.2f)\n",
               (double)ts[i], rgb[0], rgb[1], rgb[2], lg[0], (1 - ts[i]) * l0[0] + ts[i] * l1[0]);
        check_px(rgb, 32, 16, 16, want, 0);
        check_px(rgb, 32, 3, 28, want, 0);
        free(rgb);
    }
    fx_mesh_free(&quad);
}

int main(void)
{
    test_validate();
    test_geometry();
    test_split();
    test_extrapolate_function();
    test_extrapolate_engine();
    return test_done();
}
