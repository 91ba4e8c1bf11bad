/*
 * test_ana_figure.c — the heatmap figures (analysis/colormap.c, heatmap_render.c, figure.c) and
 * the engine's unlit shading they rely on:
 *   - the colour maps: viridis' published end points, the diverging map's white centre and
 *     symmetry; scale parsing and the auto/fixed ranges;
 *   - each figure kind takes its own scale: the shape figure --shape-scale, the texture figure
 *     --texture-scale, and neither is changed by the other's;
 *   - unlit shading returns the texture's (and a material's) colour unchanged, Phong does not;
 *   - a plane with a known linear field, rendered unlit through the ramp texture (per vertex)
 *     and through a colour-mapped texture (per texel): pixels equal the colour map at the value
 *     under them;
 *   - the figures decode to their reported size, the mesh render sits in them 1:1, and the
 *     colour bar's row at each tick is exactly colour_map(tick);
 *   - with $MORPHD_DATA: the ICT pair's shape figure (displacement B - A computed here), written
 *     to the test's tmp folder for people to look at, with its timing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analysis.h"
#include "gpu/engine.h"
#include "jobs/job.h"
#include "mesh/image.h"
#include "test_util.h"

static int max_channel_diff(const uint8_t *a, const uint8_t *b)
{
    int m = 0;
    for (int k = 0; k < 3; k++) {
        int d = abs((int)a[k] - (int)b[k]);
        if (d > m)
            m = d;
    }
    return m;
}

/* ---- Colour maps and scales ---- */

static void test_colormaps(void)
{
    const uint8_t *v = ana_colormap_table(ANA_COLORMAP_VIRIDIS);
    CHECK_INT(68, v[0]);
    CHECK_INT(1, v[1]);
    CHECK_INT(84, v[2]);
    CHECK_INT(253, v[255 * 3]);
    CHECK_INT(231, v[255 * 3 + 1]);
    CHECK_INT(37, v[255 * 3 + 2]);
    uint8_t c[3], d[3];
    ana_colormap_at(ANA_COLORMAP_VIRIDIS, 0.0f, c);
    CHECK(memcmp(c, v, 3) == 0);
    ana_colormap_at(ANA_COLORMAP_VIRIDIS, 1.0f, c);
    CHECK(memcmp(c, v + 255 * 3, 3) == 0);
    ana_colormap_at(ANA_COLORMAP_VIRIDIS, 7.0f, d); /* clamped */
    CHECK(memcmp(c, d, 3) == 0);

    ana_colormap_value(ANA_COLORMAP_DIVERGING, -3.0f, 3.0f, 0.0f, c);
    CHECK_INT(247, c[0]);
    CHECK_INT(247, c[1]);
    CHECK_INT(247, c[2]);
    ana_colormap_value(ANA_COLORMAP_DIVERGING, -3.0f, 3.0f, -3.0f, c);
    CHECK(c[2] > c[0]); /* blue end */
    ana_colormap_value(ANA_COLORMAP_DIVERGING, -3.0f, 3.0f, 3.0f, c);
    CHECK(c[0] > c[2]); /* red end */
    /* Symmetric: +x and -x sit equally far from white (the luminance of blue and red differ,
     * so compare the table's distance from the centre, entry by entry). */
    const uint8_t *dv = ana_colormap_table(ANA_COLORMAP_DIVERGING);
    CHECK(memcmp(dv + 127 * 3, dv + 128 * 3, 3) == 0);
    ana_colormap_value(ANA_COLORMAP_VIRIDIS, 0.0f, 1.0f, NAN, c);
    CHECK_INT(ANA_NEUTRAL_GREY, c[0]);

    md_error err;
    ana_scale s;
    CHECK_OK(ana_scale_parse("auto", &s, &err), &err);
    CHECK_INT(0, s.fixed);
    CHECK_OK(ana_scale_parse("-2:2.5", &s, &err), &err);
    CHECK_INT(1, s.fixed);
    CHECK_NEAR(-2.0, s.min, 0);
    CHECK_NEAR(2.5, s.max, 0);
    CHECK_OK(ana_scale_parse("0:1.5e-3", &s, &err), &err);
    CHECK_NEAR(1.5e-3, s.max, 1e-9);
    CHECK_INT(MD_EINVAL, ana_scale_parse("2:1", &s, &err));
    CHECK_MSG(&err, "MIN must be less than MAX");
    CHECK_INT(MD_EINVAL, ana_scale_parse("1:", &s, &err));
    CHECK_INT(MD_EINVAL, ana_scale_parse("x:1", &s, &err));
    CHECK_INT(MD_EINVAL, ana_scale_parse("1:nan", &s, &err));
    CHECK_INT(MD_EINVAL, ana_scale_parse("12", &s, &err));

    float vals[4] = {-0.5f, 0.25f, 2.0f, NAN};
    uint8_t mask[4] = {1, 1, 0, 1};
    float lo, hi;
    ana_scale_range(NULL, 1, vals, NULL, 4, &lo, &hi);
    CHECK_NEAR(-2.0, lo, 0);
    CHECK_NEAR(2.0, hi, 0);
    ana_scale_range(NULL, 1, vals, mask, 4, &lo, &hi);
    CHECK_NEAR(-0.5, lo, 0);
    CHECK_NEAR(0.5, hi, 0);
    ana_scale_range(NULL, 0, vals, mask, 4, &lo, &hi);
    CHECK_NEAR(0.0, lo, 0);
    CHECK_NEAR(0.25, hi, 0);
    CHECK_OK(ana_scale_parse("-1:3", &s, &err), &err);
    ana_scale_range(&s, 1, vals, NULL, 4, &lo, &hi);
    CHECK_NEAR(-3.0, lo, 0);
    CHECK_NEAR(3.0, hi, 0);
    ana_scale_range(&s, 0, vals, NULL, 4, &lo, &hi);
    CHECK_NEAR(0.0, lo, 0);
    CHECK_NEAR(3.0, hi, 0);
    CHECK_OK(ana_scale_parse("0.5:3", &s, &err), &err);
    ana_scale_range(&s, 0, vals, NULL, 4, &lo, &hi);
    CHECK_NEAR(0.5, lo, 0);
    float zeros[2] = {0, 0};
    ana_scale_range(NULL, 0, zeros, NULL, 2, &lo, &hi);
    CHECK_NEAR(1.0, hi, 0);
}

/* ---- A plane with a known field ---- */

/* An n x n grid of quads over [-1, 1]^2 at z = 0, UVs (x + 1) / 2, (y + 1) / 2, as OBJ text. */
static mesh *make_plane(int n)
{
    size_t cap = 1 << 20;
    char *obj = md_malloc(cap);
    size_t len = 0;
    for (int j = 0; j <= n; j++)
        for (int i = 0; i <= n; i++) {
            double x = -1.0 + 2.0 * i / n, y = -1.0 + 2.0 * j / n;
            len += (size_t)snprintf(obj + len, cap - len, "v %.9g %.9g 0\nvt %.9g %.9g\n", x, y,
                                    (x + 1) / 2, (y + 1) / 2);
        }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            int a = j * (n + 1) + i + 1, b = a + 1, c = a + n + 2, d = a + n + 1;
            len +=
                (size_t)snprintf(obj + len, cap - len, "f %d/%d %d/%d %d/%d\nf %d/%d %d/%d %d/%d\n",
                                 a, a, b, b, c, c, a, a, c, c, d, d);
        }
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    mesh *m = NULL;
    CHECK_OK(mesh_parse_obj(obj, len, &lim, &m, &err), &err);
    md_free(obj);
    return m;
}

/* Orthographic, looking down -Z at the plane, 2.5 world units tall. */
static eng_camera plane_camera(void)
{
    eng_camera cam;
    eng_camera_default(&cam);
    cam.eye[2] = 5.0f;
    cam.orthographic = 1;
    cam.ortho_height = 2.5f;
    cam.z_near = 1.0f;
    cam.z_far = 10.0f;
    return cam;
}

/* World x (or y, flipped) of the centre of pixel p on a side of size pixels. */
static float pixel_world(int p, int size, float extent, int flip)
{
    float ndc = 2.0f * ((float)p + 0.5f) / (float)size - 1.0f;
    return (flip ? -ndc : ndc) * extent / 2.0f;
}

static eng *new_engine(void)
{
    eng *e = NULL;
    md_error err;
    eng_config cfg = {ENG_KIND_CPU, 2, 0};
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    return e;
}

/* Unlit returns the texture colour and the material colour unchanged; Phong changes them. */
static int on_copy(void *user, const eng_frame *fr)
{
    memcpy(user, fr->rgb, (size_t)fr->width * fr->height * 3);
    return 0;
}

static void test_unlit(eng *e, const mesh *plane)
{
    enum { W = 64 };
    uint8_t tex[4 * 4 * 4];
    for (int i = 0; i < 16; i++) {
        tex[i * 4] = 200;
        tex[i * 4 + 1] = 31;
        tex[i * 4 + 2] = 77;
        tex[i * 4 + 3] = 255;
    }
    eng_material mats[2] = {{{0.2f, 0.4f, 0.6f}, tex, 4, 4, NULL, 0, 0},
                            {{0.2f, 0.4f, 0.6f}, NULL, 0, 0, NULL, 0, 0}};
    static const float w0 = 0.0f;
    for (int textured = 1; textured >= 0; textured--) {
        eng_job job;
        memset(&job, 0, sizeof job);
        job.vertex_count = mesh_vertex_count(plane);
        job.triangle_count = mesh_triangle_count(plane);
        job.positions[0] = job.positions[1] = mesh_positions(plane);
        job.triangles = mesh_triangles(plane);
        eng_surface s = {
            mesh_uvs(plane),        mesh_triangle_uvs(plane), NULL, mesh_uv_count(plane), 1,
            &mats[textured ? 0 : 1]};
        job.surface[0] = job.surface[1] = s;
        /* Perspective, so Phong's head-light varies over the plane. */
        eng_camera_default(&job.camera);
        job.camera.eye[2] = 3.0f;
        job.camera.fov_y_deg = 60.0f;
        job.camera.z_near = 0.5f;
        job.camera.z_far = 10.0f;
        job.width = job.height = W;
        job.samples = 4;
        job.background[0] = job.background[1] = job.background[2] = 255;
        job.frame_count = 1;
        job.weights = &w0;
        uint8_t lit[W * W * 3], flat[W * W * 3];
        md_error err;
        CHECK_OK(eng_batch_run(e, &job, 1, on_copy, lit, NULL, &err), &err);
        job.shading = ENG_SHADING_UNLIT;
        CHECK_OK(eng_batch_run(e, &job, 1, on_copy, flat, NULL, &err), &err);
        const uint8_t want[3] = {textured ? 200 : 51, textured ? 31 : 102, textured ? 77 : 153};
        int unlit_bad = 0, lit_same = 0;
        for (int i = W / 4; i < 3 * W / 4; i++) {
            const uint8_t *p = flat + ((size_t)i * W + i) * 3;
            unlit_bad += memcmp(p, want, 3) != 0;
            lit_same += memcmp(lit + ((size_t)i * W + i) * 3, want, 3) == 0;
        }
        CHECK_INT(0, unlit_bad);
        CHECK_INT(0, lit_same);
        job.shading = (eng_shading)7;
        CHECK_INT(MD_EINVAL, eng_batch_run(e, &job, 1, on_copy, flat, NULL, &err));
        CHECK_MSG(&err, "shading 7");
    }
}

/* Per-vertex and per-texel renders of field(x, y) = x match the colour map under each pixel. */
static void test_plane_fields(eng *e, const mesh *plane)
{
    enum { W = 200, TEX = 256 };
    eng_camera cam = plane_camera();
    float *vals = md_malloc_array(mesh_vertex_count(plane), sizeof(float));
    const float *pos = mesh_positions(plane);
    for (uint32_t i = 0; i < mesh_vertex_count(plane); i++)
        vals[i] = pos[3 * i]; /* x, in [-1, 1] */
    float *texvals = md_malloc_array((size_t)TEX * TEX, sizeof(float));
    for (int y = 0; y < TEX; y++)
        for (int x = 0; x < TEX; x++)
            texvals[y * TEX + x] = ((float)x + 0.5f) / TEX * 2.0f - 1.0f; /* x at texel centre */
    img *tex = NULL;
    md_error err;
    CHECK_OK(ana_texel_colorize(texvals, NULL, TEX, TEX, ANA_COLORMAP_VIRIDIS, -1.0f, 1.0f, NULL,
                                &tex, &err),
             &err);
    ana_field fields[2];
    memset(fields, 0, sizeof fields);
    fields[0].vertex_values = vals;
    fields[0].map = ANA_COLORMAP_DIVERGING;
    fields[0].lo = -1.0f;
    fields[0].hi = 1.0f;
    fields[1].texture = tex;
    fields[1].material = 0;
    uint8_t *rgb0 = md_malloc((size_t)W * W * 3), *rgb1 = md_malloc((size_t)W * W * 3);
    uint8_t *const out[2] = {rgb0, rgb1};
    CHECK_OK(ana_render_fields(e, plane, &cam, W, W, 4, fields, 2, out, &err), &err);

    int worst_vertex = 0, worst_texel = 0, checked = 0;
    for (int py = 10; py < W - 10; py += 7) {
        for (int px = 10; px < W - 10; px += 3) {
            float x = pixel_world(px, W, cam.ortho_height, 0);
            float y = pixel_world(py, W, cam.ortho_height, 1);
            if (fabsf(x) > 0.97f || fabsf(y) > 0.97f)
                continue;
            uint8_t want[3];
            ana_colormap_value(ANA_COLORMAP_DIVERGING, -1.0f, 1.0f, x, want);
            int d = max_channel_diff(rgb0 + ((size_t)py * W + px) * 3, want);
            worst_vertex = d > worst_vertex ? d : worst_vertex;
            ana_colormap_value(ANA_COLORMAP_VIRIDIS, -1.0f, 1.0f, x, want);
            d = max_channel_diff(rgb1 + ((size_t)py * W + px) * 3, want);
            worst_texel = d > worst_texel ? d : worst_texel;
            checked++;
        }
    }
    CHECK(checked > 1000);
    /* The value under a pixel centre is the field at that point up to float rounding; a colour
     * step of the 8-bit table is at most a few units, so one unit is the rounding margin. */
    if (worst_vertex > 1)
        fprintf(stderr, "per-vertex render differs from the colour map by %d\n", worst_vertex);
    CHECK(worst_vertex <= 1);
    /* Per texel, bilinear between neighbouring texels' colours: within one table step. */
    if (worst_texel > 2)
        fprintf(stderr, "per-texel render differs from the colour map by %d\n", worst_texel);
    CHECK(worst_texel <= 2);
    /* Outside the plane: the backdrop grey, not the page's white (near-zero stays visible). */
    CHECK_INT(ANA_BACKDROP_GREY, rgb0[0]);
    CHECK_INT(ANA_BACKDROP_GREY, rgb1[1]);
    img_free(tex);
    md_free(texvals);
    md_free(vals);
    md_free(rgb0);
    md_free(rgb1);
}

/* The bar's row at each tick is colour_map(tick), exactly; the render sits in the figure 1:1. */
static void check_bars(const img *fig, const ana_figure_info *info, const ana_colormap *maps)
{
    const uint8_t *px = img_pixels_const(fig);
    const int fw = img_width(fig);
    for (int p = 0; p < info->panel_count; p++) {
        const ana_panel_info *pi = &info->panel[p];
        CHECK(pi->tick_count >= 3);
        CHECK(pi->lo < pi->hi);
        int bad = 0;
        for (int t = 0; t < pi->tick_count; t++) {
            uint8_t want[3];
            ana_colormap_value(maps[p], pi->lo, pi->hi, pi->tick_value[t], want);
            for (int x = pi->bar_x; x < pi->bar_x + pi->bar_w; x++) {
                const uint8_t *q = px + ((size_t)pi->tick_y[t] * fw + x) * 4;
                if (memcmp(q, want, 3) != 0) {
                    if (bad++ == 0)
                        fprintf(stderr,
                                "panel %d tick %g at row %d: bar %u,%u,%u, colour map %u,%u,%u\n",
                                p, (double)pi->tick_value[t], pi->tick_y[t], q[0], q[1], q[2],
                                want[0], want[1], want[2]);
                }
            }
        }
        CHECK_INT(0, bad);
        /* The ends of the bar are the ends of the map (unless a tick owns the row). */
        uint8_t top[3], bottom[3];
        ana_colormap_at(maps[p], 1.0f, top);
        ana_colormap_at(maps[p], 0.0f, bottom);
        const uint8_t *qt = px + ((size_t)pi->bar_y * fw + pi->bar_x) * 4;
        const uint8_t *qb = px + ((size_t)(pi->bar_y + pi->bar_h - 1) * fw + pi->bar_x) * 4;
        CHECK(memcmp(qt, top, 3) == 0 || pi->tick_y[0] == pi->bar_y ||
              pi->tick_y[pi->tick_count - 1] == pi->bar_y);
        CHECK(memcmp(qb, bottom, 3) == 0 || pi->tick_y[0] == pi->bar_y + pi->bar_h - 1);
    }
}

static void test_figures(eng *e, const mesh *plane)
{
    enum { W = 160 };
    const uint32_t nv = mesh_vertex_count(plane);
    const float *pos = mesh_positions(plane);
    float *nrm = md_malloc_array(nv, sizeof(float)), *tan = md_malloc_array(nv, sizeof(float)),
          *tot = md_malloc_array(nv, sizeof(float));
    for (uint32_t i = 0; i < nv; i++) {
        nrm[i] = 0.3f * pos[3 * i];              /* signed, in [-0.3, 0.3] */
        tan[i] = 0.5f * (pos[3 * i + 1] + 1.0f); /* [0, 1] */
        tot[i] = sqrtf(nrm[i] * nrm[i] + tan[i] * tan[i]);
    }
    eng_camera cam = plane_camera();
    /* Keep the framing: pixel_world(). */
    ana_figure_opts opts = {&cam, W, W, 4, NULL, NULL, "mm", 1};
    uint8_t *png = NULL;
    size_t len = 0;
    ana_figure_info info;
    md_error err;
    md_limits lim;
    md_limits_default(&lim);
    CHECK_OK(ana_figure_shape(e, plane, &opts, nrm, tan, tot, &png, &len, &info, &err), &err);
    img *fig = NULL;
    CHECK_OK(img_decode(png, len, &lim, &fig, &err), &err);
    if (fig != NULL) {
        CHECK_INT(info.width, img_width(fig));
        CHECK_INT(info.height, img_height(fig));
        CHECK_INT(3, info.panel_count);
        CHECK_NEAR(-0.3, info.panel[0].lo, 1e-6);
        CHECK_NEAR(0.3, info.panel[0].hi, 1e-6);
        CHECK_NEAR(0.0, info.panel[1].lo, 0);
        CHECK_NEAR(1.0, info.panel[1].hi, 1e-6);
        const ana_colormap maps[3] = {ANA_COLORMAP_DIVERGING, ANA_COLORMAP_VIRIDIS,
                                      ANA_COLORMAP_VIRIDIS};
        check_bars(fig, &info, maps);
        /* Mesh pixels in the figure are the colour map at the field under them. */
        const ana_panel_info *p0 = &info.panel[0];
        int worst = 0;
        for (int py = 20; py < W - 20; py += 5)
            for (int px = 20; px < W - 20; px += 5) {
                float x = pixel_world(px, W, cam.ortho_height, 0);
                uint8_t want[3];
                ana_colormap_value(ANA_COLORMAP_DIVERGING, p0->lo, p0->hi, 0.3f * x, want);
                const uint8_t *q =
                    img_pixels_const(fig) +
                    ((size_t)(p0->render_y + py) * img_width(fig) + (size_t)(p0->render_x + px)) *
                        4;
                int d = max_channel_diff(q, want);
                worst = d > worst ? d : worst;
            }
        CHECK(worst <= 1);
        /* The figure's background is white. */
        CHECK_INT(255, img_pixels_const(fig)[0]);
    }
    img_free(fig);
    md_free(png);

    /* A fixed scale is used as given (and symmetrised for the signed panel); the texture
     * scale does not touch the shape figure. */
    ana_scale fixed = {1, -0.5f, 2.0f}, other = {1, 0.0f, 50.0f};
    opts.shape_scale = &fixed;
    opts.texture_scale = &other;
    CHECK_OK(ana_figure_shape(e, plane, &opts, nrm, tan, tot, &png, &len, &info, &err), &err);
    CHECK_NEAR(-2.0, info.panel[0].lo, 0);
    CHECK_NEAR(2.0, info.panel[1].hi, 0);
    md_free(png);
    opts.texture_scale = NULL;

    /* Texture figure and UV maps on a small map with half of it covered. */
    enum { T = 64 };
    float lum[T * T], chr[T * T], de[T * T];
    uint8_t cov[T * T];
    for (int y = 0; y < T; y++)
        for (int x = 0; x < T; x++) {
            int i = y * T + x;
            lum[i] = (float)(x - T / 2) / 4.0f;
            chr[i] = (float)y / 8.0f;
            de[i] = sqrtf(lum[i] * lum[i] + chr[i] * chr[i]);
            cov[i] = y < T / 2;
        }
    opts.shape_scale = NULL;
    CHECK_OK(
        ana_figure_texture(e, plane, &opts, 0, T, T, cov, lum, chr, de, &png, &len, &info, &err),
        &err);
    CHECK_OK(img_decode(png, len, &lim, &fig, &err), &err);
    if (fig != NULL) {
        CHECK_INT(info.width, img_width(fig));
        const ana_colormap maps[3] = {ANA_COLORMAP_DIVERGING, ANA_COLORMAP_VIRIDIS,
                                      ANA_COLORMAP_VIRIDIS};
        check_bars(fig, &info, maps);
        CHECK_NEAR(3.875, info.panel[1].hi, 1e-6); /* covered rows only: y < 32 */
    }
    img_free(fig);

    /* The shape scale leaves the texture figure as it was, to the byte. */
    uint8_t *png_shape = NULL;
    size_t len_shape = 0;
    opts.shape_scale = &fixed;
    CHECK_OK(ana_figure_texture(e, plane, &opts, 0, T, T, cov, lum, chr, de, &png_shape, &len_shape,
                                &info, &err),
             &err);
    CHECK_INT(len, len_shape);
    CHECK(png_shape != NULL && len == len_shape && memcmp(png, png_shape, len) == 0);
    md_free(png_shape);
    md_free(png);
    opts.shape_scale = NULL;

    /* The texture scale sets the texture figure's bars (the signed panel symmetric) and its
     * colours: the render's pixels follow the fixed range, not the data's. */
    ana_scale tex_fixed = {1, -1.0f, 20.0f};
    opts.texture_scale = &tex_fixed;
    CHECK_OK(
        ana_figure_texture(e, plane, &opts, 0, T, T, cov, lum, chr, de, &png, &len, &info, &err),
        &err);
    CHECK_NEAR(-20.0, info.panel[0].lo, 0);
    CHECK_NEAR(20.0, info.panel[0].hi, 0);
    CHECK_NEAR(0.0, info.panel[1].lo, 0); /* magnitude with MIN < 0: 0..max(|MIN|, |MAX|) */
    CHECK_NEAR(20.0, info.panel[1].hi, 0);
    CHECK_NEAR(20.0, info.panel[2].hi, 0);
    CHECK_OK(img_decode(png, len, &lim, &fig, &err), &err);
    if (fig != NULL) {
        const ana_colormap maps[3] = {ANA_COLORMAP_DIVERGING, ANA_COLORMAP_VIRIDIS,
                                      ANA_COLORMAP_VIRIDIS};
        check_bars(fig, &info, maps);
        /* The chroma panel's texel (x, 0) holds 0 and the covered rows at most 3.875: on 0..20
         * every covered pixel is in the bottom fifth of viridis, so none is near its top. */
        const ana_panel_info *p1 = &info.panel[1];
        uint8_t low[3], top[3];
        ana_colormap_value(ANA_COLORMAP_VIRIDIS, 0.0f, 20.0f, 3.875f, low);
        ana_colormap_at(ANA_COLORMAP_VIRIDIS, 1.0f, top);
        int near_top = 0, coloured = 0;
        for (int y = 0; y < p1->render_h; y++)
            for (int x = 0; x < p1->render_w; x++) {
                const uint8_t *q =
                    img_pixels_const(fig) +
                    ((size_t)(p1->render_y + y) * img_width(fig) + (size_t)(p1->render_x + x)) * 4;
                if (q[0] == ANA_BACKDROP_GREY && q[1] == ANA_BACKDROP_GREY)
                    continue;
                coloured++;
                near_top += max_channel_diff(q, top) < 40;
            }
        CHECK(coloured > 100);
        CHECK_INT(0, near_top);
    }
    img_free(fig);
    md_free(png);
    opts.texture_scale = NULL;
    for (int c = 0; c < 3; c++) {
        const float *v = c == 0 ? lum : c == 1 ? chr : de;
        CHECK_OK(
            ana_figure_uv_map((ana_uv_component)c, T, T, cov, v, NULL, 0, &png, &len, &info, &err),
            &err);
        CHECK_OK(img_decode(png, len, &lim, &fig, &err), &err);
        if (fig != NULL) {
            CHECK_INT(info.height, img_height(fig));
            const ana_panel_info *p = &info.panel[0];
            CHECK_INT(T, p->render_w); /* never enlarged */
            /* Bottom half uncovered: neutral grey. Top-left texel: its colour. */
            const uint8_t *q = img_pixels_const(fig) +
                               ((size_t)(p->render_y + T - 1) * img_width(fig) + p->render_x) * 4;
            CHECK_INT(ANA_NEUTRAL_GREY, q[0]);
            CHECK_INT(ANA_NEUTRAL_GREY, q[2]);
            uint8_t want[3];
            ana_colormap_value(c == 0 ? ANA_COLORMAP_DIVERGING : ANA_COLORMAP_VIRIDIS, p->lo, p->hi,
                               v[0], want);
            q = img_pixels_const(fig) + ((size_t)p->render_y * img_width(fig) + p->render_x) * 4;
            CHECK(memcmp(q, want, 3) == 0);
            const ana_colormap maps[1] = {c == 0 ? ANA_COLORMAP_DIVERGING : ANA_COLORMAP_VIRIDIS};
            check_bars(fig, &info, maps);
        }
        img_free(fig);
        md_free(png);
    }
    CHECK(strcmp(ana_uv_component_file(ANA_UV_DELTA_E), "texture_difference_uv_delta_e.png") == 0);
    md_free(nrm);
    md_free(tan);
    md_free(tot);
}

/* ---- The ICT pair ---- */

static void test_ict(eng *e)
{
    const char *rel[4] = {"faces/ict/ict_face_identity_A.obj", "faces/ict/ict_face_identity_B.obj",
                          "textures/skin_A.png", "textures/skin_B.png"};
    char *path[4];
    for (int i = 0; i < 4; i++) {
        const char *p = test_data_try(rel[i]);
        if (p == NULL) {
            fprintf(stderr, "ICT pair: %s not found, skipped\n", rel[i]);
            for (int j = 0; j < i; j++)
                md_free(path[j]);
            return;
        }
        path[i] = md_strdup(p);
    }
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    job_input_paths paths = {path[0], path[1], path[2], path[3], NULL};
    job_inputs *in = NULL;
    job_spec spec;
    job_spec_init(&spec);
    CHECK_OK(job_inputs_load(&paths, &lim, &in, NULL, &err), &err);
    eng_job job;
    if (in != NULL)
        CHECK_OK(job_build(in, &spec, &job, &err), &err);
    if (in == NULL)
        goto done;
    const mesh *a = job_inputs_mesh(in, 0), *b = job_inputs_mesh(in, 1);
    const char *dir = test_tmpdir("test_ana_figure");
    ana_displacement_result *disp = NULL;
    ana_texdiff_result *tex = NULL;
    CHECK_OK(ana_displacement(a, b, ANA_ALIGN_NONE, &disp, &err), &err);
    CHECK_OK(ana_texture_difference(a, b, &tex, &err), &err);
    if (disp == NULL || tex == NULL)
        goto free_results;
    ana_figure_opts opts = {&job.camera, job.width, job.height, job.samples, NULL, NULL, NULL, 0};
    const ana_colormap shape_maps[3] = {ANA_COLORMAP_DIVERGING, ANA_COLORMAP_VIRIDIS,
                                        ANA_COLORMAP_VIRIDIS};
    for (int fig_i = 0; fig_i < 5; fig_i++) {
        uint8_t *png = NULL;
        size_t len = 0;
        ana_figure_info info;
        const char *name;
        double t0 = md_now();
        int rc;
        if (fig_i == 0) {
            name = "shape_displacement_components.png";
            rc = ana_figure_shape(e, a, &opts, ana_displacement_normal(disp),
                                  ana_displacement_tangential(disp), ana_displacement_total(disp),
                                  &png, &len, &info, &err);
        } else if (fig_i == 1) {
            name = "texture_difference_components.png";
            rc = ana_figure_texture(e, a, &opts, ana_texdiff_material(tex), ana_texdiff_width(tex),
                                    ana_texdiff_height(tex), ana_texdiff_coverage(tex),
                                    ana_texdiff_luminance(tex), ana_texdiff_chroma(tex),
                                    ana_texdiff_delta_e(tex), &png, &len, &info, &err);
        } else {
            ana_uv_component c = (ana_uv_component)(fig_i - 2);
            const float *v = c == ANA_UV_LUMINANCE ? ana_texdiff_luminance(tex)
                             : c == ANA_UV_CHROMA  ? ana_texdiff_chroma(tex)
                                                   : ana_texdiff_delta_e(tex);
            name = ana_uv_component_file(c);
            rc = ana_figure_uv_map(c, ana_texdiff_width(tex), ana_texdiff_height(tex),
                                   ana_texdiff_coverage(tex), v, NULL, 0, &png, &len, &info, &err);
        }
        double t1 = md_now();
        CHECK_OK(rc, &err);
        if (rc != 0)
            continue;
        fprintf(stderr,
                "ICT %s (%s engine): %.1f ms (render/map %.1f, draw %.1f, PNG %.1f), %dx%d, "
                "%zu bytes\n",
                name, eng_name(e), (t1 - t0) * 1e3, info.render_s * 1e3, info.draw_s * 1e3,
                info.encode_s * 1e3, info.width, info.height, len);
        char out[4096];
        snprintf(out, sizeof out, "%s/%s", dir, name);
        CHECK_OK(md_write_file_atomic(out, png, len, &err), &err);
        img *fig = NULL;
        CHECK_OK(img_decode(png, len, &lim, &fig, &err), &err);
        if (fig != NULL) {
            CHECK_INT(info.width, img_width(fig));
            CHECK_INT(info.height, img_height(fig));
            const ana_colormap uv_map[1] = {fig_i == 2 ? ANA_COLORMAP_DIVERGING
                                                       : ANA_COLORMAP_VIRIDIS};
            check_bars(fig, &info, fig_i < 2 ? shape_maps : uv_map);
            if (fig_i < 2) {
                /* The face is there: most of the render's centre is not background. */
                const ana_panel_info *p = &info.panel[2];
                int face = 0, total = 0;
                for (int y = p->render_h / 4; y < 3 * p->render_h / 4; y += 4)
                    for (int x = p->render_w / 4; x < 3 * p->render_w / 4; x += 4) {
                        const uint8_t *q =
                            img_pixels_const(fig) + ((size_t)(p->render_y + y) * img_width(fig) +
                                                     (size_t)(p->render_x + x)) *
                                                        4;
                        face += !(q[0] == ANA_BACKDROP_GREY && q[1] == ANA_BACKDROP_GREY &&
                                  q[2] == ANA_BACKDROP_GREY);
                        total++;
                    }
                CHECK(face > total / 2);
                /* No caption is clipped: the figure's outer columns are page white, top to
                 * bottom (the narrow face panels' data lines used to start off the left edge). */
                const int fw = img_width(fig), fh = img_height(fig);
                int ink[2] = {0, 0};
                for (int y = 0; y < fh; y++)
                    for (int side = 0; side < 2; side++) {
                        const uint8_t *q =
                            img_pixels_const(fig) + ((size_t)y * fw + (side ? fw - 1 : 0)) * 4;
                        ink[side] += !(q[0] == 255 && q[1] == 255 && q[2] == 255);
                    }
                CHECK_INT(0, ink[0]);
                CHECK_INT(0, ink[1]);
            }
        }
        img_free(fig);
        md_free(png);
    }
    fprintf(stderr, "wrote the ICT figures to %s\n", dir);
free_results:
    ana_displacement_free(disp);
    ana_texdiff_free(tex);
done:
    job_inputs_free(in);
    job_spec_free(&spec);
    for (int i = 0; i < 4; i++)
        md_free(path[i]);
}

int main(void)
{
    test_colormaps();
    eng *e = new_engine();
    mesh *plane = make_plane(16);
    if (e != NULL && plane != NULL) {
        test_unlit(e, plane);
        test_plane_fields(e, plane);
        test_figures(e, plane);
        test_ict(e);
    }
    mesh_free(plane);
    eng_free(e);
    return test_done();
}
