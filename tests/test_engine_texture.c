/*
 * test_engine_texture.c — texturing through the whole CPU engine: a checker on a tessellated
 * quad gives straight, unbroken boundaries where they belong (orthographic), v points up,
 * stripes on a steeply tilted two-triangle quad stay straight (perspective-correct UVs), alpha
 * blends over the material colour, the two sides blend by t, and per-triangle materials apply.
 */
#include "engine_fixtures.h"
#include "gpu/kernels.h"

/* A w x h RGBA texture; fn(x, y, out) picks each texel. */
static uint8_t *make_tex(int w, int h, void (*fn)(int x, int y, uint8_t out[4]))
{
    uint8_t *t = fx_alloc((size_t)w * (size_t)h * 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            fn(x, y, t + ((size_t)y * (size_t)w + (size_t)x) * 4);
    return t;
}

static void checker16(int x, int y, uint8_t out[4])
{
    uint8_t v = ((x / 16 + y / 16) & 1) ? 255 : 0;
    out[0] = out[1] = out[2] = v;
    out[3] = 255;
}

static void stripes16(int x, int y, uint8_t out[4])
{
    (void)y;
    uint8_t v = ((x / 16) & 1) ? 255 : 0;
    out[0] = out[1] = out[2] = v;
    out[3] = 255;
}

static void red_top_green_bottom(int x, int y, uint8_t out[4])
{
    (void)x;
    out[0] = y < 2 ? 255 : 0;
    out[1] = y < 2 ? 0 : 255;
    out[2] = 0;
    out[3] = 255;
}

static int is_light(const uint8_t *rgb, int w, int x, int y)
{
    return rgb[((size_t)y * (size_t)w + (size_t)x) * 3] >= 128;
}

static void test_checker_ortho(void)
{
    /* 256 x 256 image exactly covered by a 16 x 16 jittered grid with UVs following the
     * positions; 8 x 8 checker cells of 32 pixels each. */
    enum { W = 256 };
    fx_mesh quad;
    fx_grid(&quad, 16, -1, -1, 1, 1, 0, 0.2f, 77, 1);
    uint8_t *tex = make_tex(128, 128, checker16);
    eng_material mat = {{0.5f, 0.5f, 0.5f}, tex, 128, 128, NULL, 0, 0};
    float w0 = 0;
    eng_job job;
    fx_job(&job, &quad, NULL, &mat, &w0, 1, W, W, 4);
    fx_job_uvs(&job, 0, &quad);
    fx_job_uvs(&job, 1, &quad);
    fx_ortho(&job.camera, 0, 0, 2.0f);
    uint8_t *rgb = fx_render(&job, 2);
    if (rgb == NULL)
        goto out;
    long bad_rows = 0, bad_cols = 0;
    for (int y = 0; y < W; y++) {
        int n = 0, misplaced = 0;
        for (int x = 1; x < W; x++) {
            if (is_light(rgb, W, x - 1, y) == is_light(rgb, W, x, y))
                continue;
            n++;
            int nearest = (x + 16) / 32 * 32;
            misplaced += abs(x - nearest) > 1;
        }
        bad_rows += n != 7 || misplaced != 0;
    }
    for (int x = 0; x < W; x++) {
        int n = 0, misplaced = 0;
        for (int y = 1; y < W; y++) {
            if (is_light(rgb, W, x, y - 1) == is_light(rgb, W, x, y))
                continue;
            n++;
            int nearest = (y + 16) / 32 * 32;
            misplaced += abs(y - nearest) > 1;
        }
        bad_cols += n != 7 || misplaced != 0;
    }
    CHECK_INT(0, bad_rows);
    CHECK_INT(0, bad_cols);
    /* Texel (0, 0) is dark and sits at the top left (v up: row 0 of the texture is v = 1). */
    CHECK_INT(0, is_light(rgb, W, 5, 5));
    CHECK_INT(1, is_light(rgb, W, 40, 5));
    CHECK_INT(1, is_light(rgb, W, 5, 40));
    int light[3] = {255, 255, 255}, dark[3] = {13, 13, 13}; /* 1.15 saturates; 0.05 -> 13 */
    check_px(rgb, W, 48, 16, light, 0);
    check_px(rgb, W, 16, 16, dark, 0);
    free(rgb);

    /* Which way is up: a texture red in its top rows shows red at the top of the frame. */
    free(tex);
    tex = make_tex(4, 4, red_top_green_bottom);
    mat.rgba = tex;
    mat.tex_width = mat.tex_height = 4;
    rgb = fx_render(&job, 1);
    if (rgb != NULL) {
        int red[3] = {255, 13, 13}, green[3] = {13, 255, 13};
        check_px(rgb, W, 128, 50, red, 0);
        check_px(rgb, W, 128, 200, green, 0);
        free(rgb);
    }
out:
    free(tex);
    fx_mesh_free(&quad);
}

static void test_stripes_perspective(void)
{
    /* A two-triangle quad tilted 55 degrees away at the top: affine UV interpolation would bend
     * each stripe boundary at the diagonal by several pixels; perspective-correct keeps them
     * straight lines (a projective map keeps lines straight). */
    enum { W = 200, H = 200 };
    const double th = 55 * 3.14159265358979 / 180;
    float c = (float)cos(th), s = (float)sin(th);
    float pos[] = {-1, -c, s, 1, -c, s, 1, c, -s, -1, c, -s};
    float uv[] = {0, 0, 1, 0, 1, 1, 0, 1};
    uint32_t tri[] = {0, 1, 2, 0, 2, 3};
    fx_mesh quad = {4, 2, pos, tri, uv};
    uint8_t *tex = make_tex(128, 4, stripes16);
    eng_material mat = {{0.5f, 0.5f, 0.5f}, tex, 128, 4, NULL, 0, 0};
    float w0 = 0;
    eng_job job;
    fx_job(&job, &quad, NULL, &mat, &w0, 1, W, H, 4);
    fx_job_uvs(&job, 0, &quad);
    fx_job_uvs(&job, 1, &quad);
    eng_camera_default(&job.camera);
    job.camera.eye[2] = 3.0f;
    job.camera.fov_y_deg = 40.0f;
    job.camera.z_near = 1.0f;
    job.camera.z_far = 6.0f;
    job.background[0] = 0;
    job.background[1] = 0;
    job.background[2] = 255;
    uint8_t *rgb = fx_render(&job, 1);
    if (rgb == NULL) {
        free(tex);
        return;
    }
    /* Per row: the x of the 7 dark/light transitions between quad pixels (blue is background). */
    double sum_y[7] = {0}, sum_x[7] = {0}, sum_yy[7] = {0}, sum_xy[7] = {0};
    double xs[H][7];
    int used[H] = {0}, rows = 0, quad_rows = 0;
    for (int y = 0; y < H; y++) {
        double found[16];
        int n = 0, any_quad = 0;
        for (int x = 1; x < W && n < 16; x++) {
            const uint8_t *p0 = rgb + ((size_t)y * W + x - 1) * 3, *p1 = p0 + 3;
            int quad0 = p0[2] < p0[0] + 40, quad1 = p1[2] < p1[0] + 40;
            any_quad |= quad0;
            if (quad0 && quad1 && (p0[0] >= 128) != (p1[0] >= 128))
                found[n++] = x;
        }
        quad_rows += any_quad;
        if (n != 7)
            continue;
        used[y] = 1;
        rows++;
        for (int k = 0; k < 7; k++) {
            xs[y][k] = found[k];
            sum_y[k] += y;
            sum_x[k] += found[k];
            sum_yy[k] += (double)y * y;
            sum_xy[k] += y * found[k];
        }
    }
    if (rows < quad_rows * 9 / 10 || rows < 40)
        fprintf(stderr, "stripes: only %d of %d quad rows have 7 boundaries\n", rows, quad_rows);
    CHECK(rows >= quad_rows * 9 / 10 && rows >= 40);
    double worst = 0;
    for (int k = 0; k < 7 && rows > 1; k++) {
        double slope =
            (rows * sum_xy[k] - sum_y[k] * sum_x[k]) / (rows * sum_yy[k] - sum_y[k] * sum_y[k]);
        double icept = (sum_x[k] - slope * sum_y[k]) / rows;
        for (int y = 0; y < H; y++) {
            if (!used[y])
                continue;
            double r = fabs(xs[y][k] - (icept + slope * y));
            worst = r > worst ? r : worst;
        }
    }
    if (worst > 1.0)
        fprintf(stderr, "stripes: a boundary strays %.2f px from its straight line\n", worst);
    CHECK(worst <= 1.0);
    free(rgb);
    free(tex);
}

static void solid(int x, int y, uint8_t out[4])
{
    (void)x;
    (void)y;
    out[0] = out[1] = out[2] = out[3] = 0;
}

static void test_alpha_and_blend(void)
{
    fx_mesh quad;
    fx_grid(&quad, 2, -1, -1, 1, 1, 0, 0, 1, 0);
    uint8_t *ta = make_tex(2, 2, solid), *tb = make_tex(2, 2, solid);
    for (int i = 0; i < 4; i++) {
        ta[i * 4] = 255; /* A: red, half transparent */
        ta[i * 4 + 3] = 128;
        tb[i * 4 + 2] = 255; /* B: blue, opaque */
        tb[i * 4 + 3] = 255;
    }
    eng_material ma = {{0.0f, 0.0f, 1.0f}, ta, 2, 2, NULL, 0, 0},
                 mb = {{0.0f, 1.0f, 0.0f}, tb, 2, 2, NULL, 0, 0};
    float weights[3] = {0.0f, 0.5f, 1.0f};
    eng_job job;
    fx_job(&job, &quad, NULL, &ma, &weights[0], 1, 32, 32, 1);
    job.surface[1].materials = &mb;
    fx_job_uvs(&job, 0, &quad);
    fx_job_uvs(&job, 1, &quad);
    fx_ortho(&job.camera, 0, 0, 2.0f);

    /* t = 0: red at alpha 128/255 over the blue material colour. */
    double a = 128.0 / 255.0;
    uint8_t *rgb = fx_render(&job, 1);
    if (rgb != NULL) {
        int want[3] = {expect8(lit(a)), expect8(lit(0)), expect8(lit(1 - a))};
        check_px(rgb, 32, 16, 16, want, 1);
        free(rgb);
    }
    /* t = 0.5 between opaque red and opaque blue: the average. */
    ta[3] = ta[7] = ta[11] = ta[15] = 255;
    job.weights = &weights[1];
    rgb = fx_render(&job, 1);
    if (rgb != NULL) {
        int want[3] = {expect8(lit(0.5)), expect8(lit(0)), expect8(lit(0.5))};
        CHECK_INT(153, want[0]);
        check_px(rgb, 32, 16, 16, want, 1);
        check_px(rgb, 32, 3, 28, want, 1);
        free(rgb);
    }
    /* t = 1: blue only. */
    job.weights = &weights[2];
    rgb = fx_render(&job, 1);
    if (rgb != NULL) {
        int want[3] = {13, 13, 255};
        check_px(rgb, 32, 16, 16, want, 0);
        free(rgb);
    }
    /* Without UVs, a textured material shows its colour. */
    job.weights = &weights[0];
    job.surface[0].tri_uvs = NULL;
    rgb = fx_render(&job, 1);
    if (rgb != NULL) {
        int want[3] = {13, 13, 255};
        check_px(rgb, 32, 16, 16, want, 0);
        free(rgb);
    }
    /* Per-triangle materials: left column of cells red, right column green. */
    eng_material two[2] = {{{1, 0, 0}, NULL, 0, 0, NULL, 0, 0},
                           {{0, 1, 0}, NULL, 0, 0, NULL, 0, 0}};
    uint16_t tri_mat[8];
    for (int f = 0; f < 8; f++)
        tri_mat[f] = (uint16_t)((f / 2) % 2); /* cells in row order: i = 0, 1, 0, 1 */
    fx_job(&job, &quad, NULL, two, &weights[0], 1, 32, 32, 1);
    job.surface[0].material_count = 2;
    job.surface[0].tri_materials = tri_mat;
    fx_ortho(&job.camera, 0, 0, 2.0f);
    rgb = fx_render(&job, 1);
    if (rgb != NULL) {
        int red[3] = {255, 13, 13}, green[3] = {13, 255, 13};
        check_px(rgb, 32, 4, 16, red, 0);
        check_px(rgb, 32, 28, 16, green, 0);
        free(rgb);
    }
    free(ta);
    free(tb);
    fx_mesh_free(&quad);
}

int main(void)
{
    test_checker_ortho();
    test_stripes_perspective();
    test_alpha_and_blend();
    return test_done();
}
