/*
 * test_mip.c — mip-mapped texture sampling (gpu/mip.h, gpu/shade_math.h):
 *   - pyramid sizes (power of two, odd, non-square, 1 x 1) and level averages (2 x 2 box mean
 *     for even sides, exact area average for odd ones: a flat texture stays flat, a checker of
 *     one-texel cells becomes its mean grey);
 *   - level-of-detail selection: magnified is level 0 alone, powers of two are single levels,
 *     between them a blend, past the top the top level;
 *   - the footprint of a point from the UV derivatives on an orthographic quad;
 *   - the CPU engine rendering a fine checker on a quad at a small size: trilinear gives pixels
 *     near the checker's mean grey (variance under 64: the box filter leaves a little of a 3-texel
 * checker), bilinear aliases (variance over 2000), and a magnified texture renders the same bits
 * with either filter.
 */
#include "engine_fixtures.h"
#include "gpu/engine_int.h"
#include "gpu/mip.h"
#include "gpu/shade_math.h"

static void test_layout_sizes(void)
{
    eng_mip m;
    size_t off[ENG_MIP_LEVELS];
    size_t bytes = eng_mip_layout(256, 256, &m, off);
    CHECK_INT(9, m.levels);
    CHECK_INT(128, m.width[1]);
    CHECK_INT(1, m.width[8]);
    CHECK_INT(1, m.height[8]);
    size_t want = 0;
    for (int l = 1; l < 9; l++)
        want += ((size_t)m.width[l] * m.height[l] * 4 + 15) / 16 * 16;
    CHECK_INT((long long)want, (long long)bytes);
    bytes = eng_mip_layout(5, 3, &m, off); /* 5x3 -> 2x1 -> 1x1 */
    CHECK_INT(3, m.levels);
    CHECK_INT(2, m.width[1]);
    CHECK_INT(1, m.height[1]);
    CHECK_INT(1, m.width[2]);
    CHECK_INT(1, m.height[2]);
    CHECK_INT(16, (long long)off[2]);
    CHECK_INT(32, (long long)bytes);
    bytes = eng_mip_layout(1, 1, &m, off);
    CHECK_INT(1, m.levels);
    CHECK_INT(0, (long long)bytes);
    CHECK_INT(ENG_MIP_LEVELS, eng_mip_level_count(1 << 20, 1));
}

static void test_levels_average(void)
{
    /* Even: 2x2 box of a 4x2 image. */
    const uint8_t even[4 * 2 * 4] = {
        0,  0, 0, 255, 10, 0, 0, 255, 100, 0, 0, 255, 101, 0, 0, 255,
        20, 0, 0, 255, 30, 0, 0, 255, 102, 0, 0, 255, 104, 0, 0, 255,
    };
    uint8_t out[2 * 1 * 4];
    eng_mip_downsample(even, 4, 2, out, 2, 1);
    CHECK_INT(15, out[0]);  /* (0 + 10 + 20 + 30) / 4 */
    CHECK_INT(102, out[4]); /* 407 / 4 = 101.75 -> 102 */
    CHECK_INT(255, out[3]);

    /* Odd: 3x1 -> 1x1 is the mean of all three; 5x1 -> 2x1 weighs the middle texel half. */
    const uint8_t three[3 * 4] = {0, 0, 0, 0, 90, 0, 0, 0, 30, 0, 0, 0};
    eng_mip_downsample(three, 3, 1, out, 1, 1);
    CHECK_INT(40, out[0]);
    const uint8_t five[5 * 4] = {10, 0, 0, 0, 20, 0, 0, 0, 40, 0, 0, 0, 60, 0, 0, 0, 80, 0, 0, 0};
    eng_mip_downsample(five, 5, 1, out, 2, 1);
    CHECK_INT(20, out[0]); /* (10 + 20 + 0.5 * 40) / 2.5 */
    CHECK_INT(64, out[4]); /* (0.5 * 40 + 60 + 80) / 2.5 */

    /* A flat odd, non-square texture stays flat at every level; a checker of one-texel cells
     * becomes its mean grey from level 1 on. */
    enum { W = 37, H = 23 };
    uint8_t *flat = fx_alloc((size_t)W * H * 4), *checker = fx_alloc(64 * 64 * 4);
    for (size_t i = 0; i < (size_t)W * H; i++) {
        flat[4 * i] = 200;
        flat[4 * i + 1] = 7;
        flat[4 * i + 2] = 99;
        flat[4 * i + 3] = 255;
    }
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) {
            uint8_t *t = checker + ((size_t)y * 64 + x) * 4;
            t[0] = t[1] = t[2] = ((x + y) & 1) ? 255 : 0;
            t[3] = 255;
        }
    eng_mip m;
    size_t off[ENG_MIP_LEVELS];
    uint8_t *buf = fx_alloc(eng_mip_layout(W, H, &m, off));
    eng_mip_build(flat, W, H, buf, &m);
    int bad = 0;
    for (int l = 1; l < m.levels; l++)
        for (int i = 0; i < m.width[l] * m.height[l]; i++)
            bad += m.texels[l][4 * i] != 200 || m.texels[l][4 * i + 1] != 7 ||
                   m.texels[l][4 * i + 2] != 99 || m.texels[l][4 * i + 3] != 255;
    CHECK_INT(0, bad);
    CHECK(m.texels[0] == flat);
    free(buf);
    buf = fx_alloc(eng_mip_layout(64, 64, &m, off));
    eng_mip_build(checker, 64, 64, buf, &m);
    CHECK_INT(7, m.levels);
    bad = 0;
    for (int l = 1; l < m.levels; l++)
        for (int i = 0; i < m.width[l] * m.height[l]; i++)
            bad += m.texels[l][4 * i] != 128; /* (0 + 255 + 255 + 0 + 2) / 4 */
    CHECK_INT(0, bad);
    free(buf);
    free(flat);
    free(checker);
}

static void test_select(void)
{
    float frac;
    CHECK_INT(0, eng_mip_select(0.3f, 9, &frac));
    CHECK_NEAR(0.0, frac, 0.0);
    CHECK_INT(0, eng_mip_select(1.0f, 9, &frac));
    CHECK_NEAR(0.0, frac, 0.0);
    CHECK_INT(0, eng_mip_select(NAN, 9, &frac));
    CHECK_INT(0, eng_mip_select(1.5f, 9, &frac));
    CHECK_NEAR(0.5, frac, 0.0);
    CHECK_INT(2, eng_mip_select(4.0f, 9, &frac));
    CHECK_NEAR(0.0, frac, 0.0);
    CHECK_INT(2, eng_mip_select(7.0f, 9, &frac));
    CHECK_NEAR(0.75, frac, 0.0);
    CHECK_INT(8, eng_mip_select(1e6f, 9, &frac));
    CHECK_NEAR(0.0, frac, 0.0);
    CHECK_INT(8, eng_mip_select(INFINITY, 9, &frac));
    CHECK_INT(0, eng_mip_select(100.0f, 1, &frac));
    CHECK_NEAR(0.0, frac, 0.0);
}

/* A quad over the whole frame, UV 0..1, orthographic; tex_side texels across frame_side pixels
 * at 2x2 samples. */
static uint8_t *render_checker(int tex_side, int cell, int frame_side, eng_texture_filter filter,
                               int prebuilt, float *mean, float *var)
{
    fx_mesh quad;
    fx_grid(&quad, 1, -1, -1, 1, 1, 0, 0.0f, 1, 0);
    uint8_t *tex = fx_alloc((size_t)tex_side * tex_side * 4);
    for (int y = 0; y < tex_side; y++)
        for (int x = 0; x < tex_side; x++) {
            uint8_t *t = tex + ((size_t)y * tex_side + x) * 4;
            t[0] = t[1] = t[2] = ((x / cell + y / cell) & 1) ? 255 : 0;
            t[3] = 255;
        }
    eng_material mat = {{0.5f, 0.5f, 0.5f}, tex, tex_side, tex_side, NULL, 0, 0};
    uint8_t *levels = NULL;
    if (prebuilt) {
        /* The caller's levels (engine.h), as the live lane hands them over. */
        levels = fx_alloc(eng_texture_mips_bytes(tex_side, tex_side) + 1);
        eng_texture_mips_build(tex, tex_side, tex_side, levels);
        if (prebuilt == 2) /* flat levels: shows that the engine samples what it was given */
            memset(levels, 200, eng_texture_mips_bytes(tex_side, tex_side));
        mat.mip_levels = levels;
    }
    float w0 = 0;
    eng_job job;
    fx_job(&job, &quad, NULL, &mat, &w0, 1, frame_side, frame_side, 4);
    fx_job_uvs(&job, 0, &quad);
    fx_job_uvs(&job, 1, &quad);
    fx_ortho(&job.camera, 0, 0, 2.0f);
    job.shading = ENG_SHADING_UNLIT;
    job.texture_filter = filter;
    uint8_t *rgb = fx_render(&job, 2);
    double s = 0, ss = 0;
    const size_t n = (size_t)frame_side * frame_side;
    for (size_t i = 0; rgb != NULL && i < n; i++) {
        s += rgb[3 * i];
        ss += (double)rgb[3 * i] * rgb[3 * i];
    }
    *mean = (float)(s / (double)n);
    *var = (float)(ss / (double)n - (s / (double)n) * (s / (double)n));
    free(tex);
    free(levels);
    fx_mesh_free(&quad);
    return rgb;
}

static void test_footprint(void)
{
    /* A quad over a 64x64 sample grid with a 256-texel texture: 4 texels a sample. */
    fx_mesh quad;
    fx_grid(&quad, 1, -1, -1, 1, 1, 0, 0.0f, 1, 0);
    eng_material mat = {{0, 0, 0}, (const uint8_t *)"", 256, 256, NULL, 0, 0};
    float w0 = 0;
    eng_job job;
    fx_job(&job, &quad, NULL, &mat, &w0, 1, 64, 64, 1);
    fx_job_uvs(&job, 0, &quad);
    fx_ortho(&job.camera, 0, 0, 2.0f);
    eng_job_setup su;
    eng_job_setup_make(&job, &su);
    float clip[4 * 4];
    eng_raster_params rp = {.vertex_count = 4,
                            .triangle_count = 2,
                            .pos = quad.pos,
                            .triangles = quad.tri,
                            .width = 64,
                            .height = 64,
                            .grid = 1,
                            .clip = clip};
    memcpy(rp.view_proj, su.view_proj, sizeof rp.view_proj);
    uint32_t *counts = fx_alloc(64 * 64 * sizeof *counts);
    eng_cpu_raster_coverage(&rp, counts);
    free(counts);
    eng_shade_params sp = {.pos = quad.pos,
                           .normal = quad.pos,
                           .clip = clip,
                           .triangles = quad.tri,
                           .surface = job.surface,
                           .width = 64,
                           .height = 64,
                           .grid = 1};
    eng_tri_setup s;
    eng_tri_setup_make(&sp, 0, 64.0f, 64.0f, &s);
    float b[3], q, u, v;
    eng_shade_bary_q(&s, 20.5f, 30.5f, b, &q);
    eng_shade_uv(&s.side[0], b, &u, &v);
    CHECK_NEAR(4.0, eng_shade_footprint(&s, &s.side[0], u, v, q, 1.0f), 1e-3);
    CHECK_NEAR(8.0, eng_shade_footprint(&s, &s.side[0], u, v, q, 2.0f), 1e-3);
    fx_mesh_free(&quad);
}

static void test_engine_checker(void)
{
    /* 1024^2 texels of 3-texel cells on 128^2 pixels: 8 texels a pixel, 2.7 cells a pixel. */
    float mean_t, var_t, mean_b, var_b;
    uint8_t *tri = render_checker(1024, 3, 128, ENG_FILTER_TRILINEAR, 0, &mean_t, &var_t);
    uint8_t *bil = render_checker(1024, 3, 128, ENG_FILTER_BILINEAR, 0, &mean_b, &var_b);
    fprintf(stderr,
            "fine checker at 128^2: trilinear mean %.1f variance %.1f; bilinear mean %.1f "
            "variance %.1f (expected mean near 127.5, trilinear variance < 64, i.e. within about 8 "
            "grey levels, bilinear > 2000)\n",
            mean_t, var_t, mean_b, var_b);
    CHECK_NEAR(127.5, mean_t, 3.0);
    CHECK(var_t < 64.0f);
    CHECK(var_b > 2000.0f);
    free(tri);
    free(bil);

    /* Magnified (64^2 texels on 256^2 pixels): both filters give the same bits. */
    tri = render_checker(64, 8, 256, ENG_FILTER_TRILINEAR, 0, &mean_t, &var_t);
    bil = render_checker(64, 8, 256, ENG_FILTER_BILINEAR, 0, &mean_b, &var_b);
    if (tri != NULL && bil != NULL) {
        long differ = 0;
        for (size_t i = 0; i < (size_t)256 * 256 * 3; i++)
            differ += tri[i] != bil[i];
        fprintf(stderr, "magnified checker: %ld differing bytes (expected 0)\n", differ);
        CHECK_INT(0, differ);
    }
    free(tri);
    free(bil);
}

/* Levels the caller built (eng_material.mip_levels) give the engine's own pixels, bit for bit,
 * on a size that is not a power of two. */
static void test_prebuilt_levels(void)
{
    float m0, v0, m1, v1;
    uint8_t *own = render_checker(1000, 3, 128, ENG_FILTER_TRILINEAR, 0, &m0, &v0);
    uint8_t *given = render_checker(1000, 3, 128, ENG_FILTER_TRILINEAR, 1, &m1, &v1);
    CHECK(own != NULL && given != NULL);
    if (own != NULL && given != NULL) {
        long differ = 0;
        for (size_t i = 0; i < (size_t)128 * 128 * 3; i++)
            differ += own[i] != given[i];
        CHECK_INT(0, differ);
    }
    CHECK(v0 < 64.0f); /* and it is the filtered picture, not a blank one */
    float m2, v2;
    uint8_t *flat = render_checker(1000, 3, 128, ENG_FILTER_TRILINEAR, 2, &m2, &v2);
    fprintf(stderr, "prebuilt levels: own mean %.1f, given %.1f, flat 200 given %.1f\n", m0, m1,
            m2);
    CHECK(m2 > 150.0f); /* levels 1.. at 200 pull the mean up from 128 */
    free(flat);
    free(own);
    free(given);
}

int main(void)
{
    test_layout_sizes();
    test_levels_average();
    test_select();
    test_footprint();
    test_engine_checker();
    test_prebuilt_levels();
    return test_done();
}
