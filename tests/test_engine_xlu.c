/*
 * test_engine_xlu.c — translucent materials on the CPU engine (issue 17, item 1; engine.h
 * eng_job_translucent, gpu/raster_math.h and gpu/shade_math.h for the rules):
 *   - a red quad at opacity 0.75 over an opaque blue quad and over the background, and a green
 *     one at 0.5 in front of both: exact pixel values where one and two layers lie over blue,
 *     and over white; the same bytes whatever order the quads are submitted in (unlit, and lit
 *     with 4 samples where edges average);
 *   - a material at transparency 1 draws nothing: the frame equals the frame without its quad;
 *   - six translucent quads stacked over blue: the nearest ENG_XLU_LAYERS are blended, the
 *     farther ones dropped;
 *   - an opaque job takes today's path: not eng_job_translucent, no layer bytes in its budget,
 *     and its frame byte-identical to the frames before translucency existed (a checksum taken
 *     with the engine of a042a8e);
 *   - the budget (eng_job_frame_bytes) and validation (transparency outside [0, 1]);
 *   - the same bytes with the lone frame shaded in row bands on 3 threads (eng_cpu_shade_rows).
 * test_gpu_parity renders the same scenes on the CUDA engine.
 */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_fixtures.h"
#include "gpu/engine_int.h"

static const float weight0[1] = {0.0f};

/* The scene: blue at z 0 (pixels 8..55 both ways, edges on pixel borders), red at z 0.25
 * reaching from the background (x -0.9, mid-pixel) over blue to x 0.3 (mid-pixel), green at
 * z 0.5 over the right part and above blue, and an invisible quad over everything. */
static const fx_quad scene_quads[4] = {
    {-0.75f, -0.75f, 0.75f, 0.75f, 0.0f, FX_XLU_BLUE},
    {-0.9f, -0.5f, 0.3f, 0.5f, 0.25f, FX_XLU_RED},
    {-0.25f, -0.25f, 0.5f, 0.9f, 0.5f, FX_XLU_GREEN},
    {-1.0f, -1.0f, 1.0f, 1.0f, 0.75f, FX_XLU_HIDDEN},
};

/* Renders quads q[order[0]], q[order[1]], ... (n of them) and returns the frame (caller
 * frees). */
static uint8_t *render_quads(const fx_quad *q, const int *order, int n, int samples,
                             eng_shading shading, int threads)
{
    fx_quad *sorted = fx_alloc(sizeof *sorted * (size_t)n);
    for (int i = 0; i < n; i++)
        sorted[i] = q[order[i]];
    fx_mesh m;
    uint16_t *tri_mat;
    fx_quads(&m, &tri_mat, sorted, n);
    eng_material mats[FX_XLU_MATS];
    fx_xlu_materials(mats);
    eng_job job;
    fx_xlu_job(&job, &m, tri_mat, mats, weight0, samples);
    job.shading = shading;
    uint8_t *rgb = fx_render(&job, threads);
    fx_mesh_free(&m);
    free(tri_mat);
    free(sorted);
    return rgb;
}

static void check_same(const char *what, const uint8_t *a, const uint8_t *b)
{
    if (a == NULL || b == NULL) {
        test_failures++;
        return;
    }
    size_t n = (size_t)FX_XLU_SIZE * FX_XLU_SIZE * 3, diff = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] && diff++ == 0)
            first = i;
    }
    if (diff > 0) {
        fprintf(stderr,
                "%s: expected identical frames, got %zu differing bytes (first at pixel %zu: "
                "%d vs %d)\n",
                what, diff, first / 3, a[first], b[first]);
        test_failures++;
    }
}

static void test_one_and_two_layers(void)
{
    const int fwd[4] = {0, 1, 2, 3}, rev[4] = {3, 2, 1, 0}, mix[4] = {2, 0, 3, 1};
    uint8_t *a = render_quads(scene_quads, fwd, 4, 1, ENG_SHADING_UNLIT, 1);
    if (a == NULL) {
        test_failures++;
        return;
    }
    const int red_over_blue[3] = {191, 0, 64};    /* 0.75 red + 0.25 blue */
    const int red_over_white[3] = {255, 64, 64};  /* 0.75 red + 0.25 white */
    const int green_red_blue[3] = {96, 128, 32};  /* 0.5 green + 0.5 (red over blue) */
    const int green_over_blue[3] = {0, 128, 128}; /* 0.5 green + 0.5 blue */
    const int green_over_white[3] = {128, 255, 128};
    const int blue[3] = {0, 0, 255}, white[3] = {255, 255, 255};
    check_px(a, FX_XLU_SIZE, 16, 32, red_over_blue, 0);
    check_px(a, FX_XLU_SIZE, 5, 32, red_over_white, 0);
    check_px(a, FX_XLU_SIZE, 40, 32, green_red_blue, 0);
    check_px(a, FX_XLU_SIZE, 45, 32, green_over_blue, 0);
    check_px(a, FX_XLU_SIZE, 45, 5, green_over_white, 0);
    check_px(a, FX_XLU_SIZE, 32, 50, blue, 0);
    check_px(a, FX_XLU_SIZE, 30, 60, white, 0);
    check_px(a, FX_XLU_SIZE, 1, 1, white, 0);

    uint8_t *b = render_quads(scene_quads, rev, 4, 1, ENG_SHADING_UNLIT, 1);
    check_same("unlit, 1 sample: quads reversed", a, b);
    free(b);
    free(a);

    /* Lit and 4 samples a pixel: the mid-pixel edges average their samples' stacks. */
    a = render_quads(scene_quads, fwd, 4, 4, ENG_SHADING_PHONG, 1);
    b = render_quads(scene_quads, rev, 4, 4, ENG_SHADING_PHONG, 1);
    uint8_t *c = render_quads(scene_quads, mix, 4, 4, ENG_SHADING_PHONG, 1);
    check_same("lit, 4 samples: quads reversed", a, b);
    check_same("lit, 4 samples: quads shuffled", a, c);
    /* The lone frame shaded in row bands on idle threads gives the same bytes. */
    uint8_t *d = render_quads(scene_quads, fwd, 4, 4, ENG_SHADING_PHONG, 3);
    check_same("lit, 4 samples: 3 threads (row bands)", a, d);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void test_invisible(void)
{
    /* Blue with the invisible quad over it, against blue alone (an opaque job). */
    const int both[2] = {3, 0}, alone[1] = {0};
    uint8_t *a = render_quads(scene_quads, both, 2, 4, ENG_SHADING_PHONG, 1);
    uint8_t *b = render_quads(scene_quads, alone, 1, 4, ENG_SHADING_PHONG, 1);
    check_same("transparency 1 over blue vs blue alone", a, b);
    free(a);
    free(b);
}

static void test_layer_limit(void)
{
    /* Six translucent quads over blue, nearest last: red, green, red, green, red, green. */
    fx_quad q[7];
    q[0] = scene_quads[0];
    int order[7];
    for (int i = 0; i < 7; i++)
        order[i] = i;
    for (int i = 1; i < 7; i++)
        q[i] =
            (fx_quad){-0.5f, -0.5f, 0.5f, 0.5f, 0.1f * (float)i, i % 2 ? FX_XLU_RED : FX_XLU_GREEN};
    uint8_t *rgb = render_quads(q, order, 7, 1, ENG_SHADING_UNLIT, 1);
    if (rgb == NULL) {
        test_failures++;
        return;
    }
    /* Blue, then the nearest ENG_XLU_LAYERS (quads 6 - ENG_XLU_LAYERS + 1 .. 6) far to near. */
    eng_material mats[FX_XLU_MATS];
    fx_xlu_materials(mats);
    float c[3] = {0.0f, 0.0f, 1.0f};
    for (int i = 7 - ENG_XLU_LAYERS; i < 7; i++) {
        const eng_material *m = &mats[q[i].material];
        fx_over(1.0f - m->transparency, m->color, c);
    }
    const int want[3] = {expect8(c[0]), expect8(c[1]), expect8(c[2])};
    check_px(rgb, FX_XLU_SIZE, 32, 32, want, 0);
    /* All six would give another colour: the two farthest are really dropped. */
    float all[3] = {0.0f, 0.0f, 1.0f};
    for (int i = 1; i < 7; i++) {
        const eng_material *m = &mats[q[i].material];
        fx_over(1.0f - m->transparency, m->color, all);
    }
    CHECK(expect8(all[0]) != want[0] || expect8(all[1]) != want[1] || expect8(all[2]) != want[2]);
    free(rgb);
}

/* FNV-1a, 64 bit. */
static uint64_t fnv64(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The frame of an opaque, lit, textured sphere over a two-material grid at 4 samples, as the
 * engine drew it before translucency existed (a042a8e: same code on x86-64 and aarch64, hd.h).
 * A change here means opaque frames changed: if on purpose, take the new value and say why. */
#define OPAQUE_FNV 0xf98fcddb92c343f3ull

static void test_opaque_unchanged(void)
{
    fx_mesh grid, ball;
    const float centre[3] = {0.0f, 0.0f, 0.3f};
    fx_grid(&grid, 8, -1.0f, -1.0f, 1.0f, 1.0f, 0.0f, 0.3f, 7u, 1);
    fx_sphere(&ball, 10, 16, centre, 0.45f);
    /* One mesh: the grid's vertices, then the sphere's. */
    fx_mesh m;
    m.vertex_count = grid.vertex_count + ball.vertex_count;
    m.triangle_count = grid.triangle_count + ball.triangle_count;
    m.pos = fx_alloc(sizeof(float) * 3 * m.vertex_count);
    m.uv = fx_alloc(sizeof(float) * 2 * m.vertex_count);
    m.tri = fx_alloc(sizeof(uint32_t) * 3 * m.triangle_count);
    memcpy(m.pos, grid.pos, sizeof(float) * 3 * grid.vertex_count);
    memcpy(m.pos + 3 * grid.vertex_count, ball.pos, sizeof(float) * 3 * ball.vertex_count);
    memcpy(m.uv, grid.uv, sizeof(float) * 2 * grid.vertex_count);
    memcpy(m.uv + 2 * grid.vertex_count, ball.uv, sizeof(float) * 2 * ball.vertex_count);
    memcpy(m.tri, grid.tri, sizeof(uint32_t) * 3 * grid.triangle_count);
    for (size_t i = 0; i < (size_t)ball.triangle_count * 3; i++)
        m.tri[(size_t)grid.triangle_count * 3 + i] = ball.tri[i] + grid.vertex_count;
    uint16_t *tri_mat = fx_alloc(sizeof(uint16_t) * m.triangle_count);
    for (uint32_t f = 0; f < m.triangle_count; f++)
        tri_mat[f] = (uint16_t)(f < grid.triangle_count ? (f / 5) & 1 : 1);
    uint8_t tex[16 * 16 * 4];
    for (int i = 0; i < 16 * 16; i++) {
        tex[i * 4] = (uint8_t)(40 + 13 * (i % 16));
        tex[i * 4 + 1] = (uint8_t)(200 - 9 * (i / 16));
        tex[i * 4 + 2] = (uint8_t)(((i % 16) ^ (i / 16)) & 1 ? 220 : 60);
        tex[i * 4 + 3] = (uint8_t)(i % 3 ? 255 : 128);
    }
    eng_material mats[2];
    memset(mats, 0, sizeof mats);
    mats[0].color[0] = 0.9f;
    mats[0].color[1] = 0.4f;
    mats[0].color[2] = 0.2f;
    mats[1].color[0] = mats[1].color[1] = mats[1].color[2] = 0.7f;
    mats[1].rgba = tex;
    mats[1].tex_width = mats[1].tex_height = 16;
    eng_job job;
    fx_job(&job, &m, NULL, mats, weight0, 1, 96, 80, 4);
    for (int s = 0; s < 2; s++) {
        job.surface[s].material_count = 2;
        job.surface[s].tri_materials = tri_mat;
        fx_job_uvs(&job, s, &m);
    }
    job.camera.eye[2] = 3.0f;
    CHECK_INT(0, eng_job_translucent(&job));
    CHECK_INT(eng_frame_bytes(96, 80, 4), eng_job_frame_bytes(&job));
    uint8_t *rgb = fx_render(&job, 1);
    if (rgb != NULL) {
        const uint64_t h = fnv64(rgb, 96 * 80 * 3);
        if (h != OPAQUE_FNV) {
            fprintf(stderr, "opaque frame: expected FNV-1a 0x%016llx, got 0x%016llx\n",
                    (unsigned long long)OPAQUE_FNV, (unsigned long long)h);
            test_failures++;
        }
    }
    free(rgb);
    free(tri_mat);
    fx_mesh_free(&m);
    fx_mesh_free(&grid);
    fx_mesh_free(&ball);
}

static void test_budget_and_validation(void)
{
    fx_mesh m;
    uint16_t *tri_mat;
    fx_quads(&m, &tri_mat, scene_quads, 2);
    eng_material mats[FX_XLU_MATS];
    fx_xlu_materials(mats);
    eng_job job;
    fx_xlu_job(&job, &m, tri_mat, mats, weight0, 4);
    CHECK_INT(1, eng_job_translucent(&job));
    const uint64_t opaque = eng_frame_bytes(FX_XLU_SIZE, FX_XLU_SIZE, 4);
    CHECK_INT(opaque + (uint64_t)FX_XLU_SIZE * FX_XLU_SIZE * 4 * ENG_XLU_LAYERS * 8,
              eng_job_frame_bytes(&job));

    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    CHECK_OK(eng_job_validate(&job, &lim, &err), &err);
    /* A budget the opaque frame fits but the layers do not: refused, and the message says why. */
    lim.max_frame_bytes = opaque + 1;
    md_error_clear(&err);
    CHECK_INT(MD_EBUDGET, eng_job_validate(&job, &lim, &err));
    CHECK_MSG(&err, "translucent layers");

    md_limits_default(&lim);
    mats[FX_XLU_RED].transparency = 1.5f;
    md_error_clear(&err);
    CHECK_INT(MD_EINVAL, eng_job_validate(&job, &lim, &err));
    CHECK_MSG(&err, "transparency 1.5");
    mats[FX_XLU_RED].transparency = nanf("");
    md_error_clear(&err);
    CHECK_INT(MD_EINVAL, eng_job_validate(&job, &lim, &err));
    CHECK_MSG(&err, "outside [0, 1]");
    fx_mesh_free(&m);
    free(tri_mat);
}

int main(void)
{
    test_one_and_two_layers();
    test_invisible();
    test_layer_limit();
    test_opaque_unchanged();
    test_budget_and_validation();
    return test_done();
}
