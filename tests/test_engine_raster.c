/*
 * test_engine_raster.c — the CPU rasteriser: crack-free coverage of tessellated quads and fans
 * (every sample inside covered by exactly one triangle), the top-left rule on edges through
 * sample centres, and the depth test independent of submission order.
 */
#include "engine_fixtures.h"
#include "gpu/engine_int.h"

/* Identity view-projection: clip = (x, y, z, 1), so positions are NDC. */
static void identity(float m[16])
{
    memset(m, 0, 16 * sizeof(float));
    m[0] = m[5] = m[10] = m[15] = 1.0f;
}

static void params(eng_raster_params *p, const fx_mesh *m, int w, int h, int grid, float *clip,
                   uint64_t *vis)
{
    memset(p, 0, sizeof *p);
    p->vertex_count = m->vertex_count;
    p->triangle_count = m->triangle_count;
    p->pos = m->pos;
    p->triangles = m->tri;
    identity(p->view_proj);
    p->width = w;
    p->height = h;
    p->grid = grid;
    p->clip = clip;
    p->vis = vis;
}

/* Screen position (sample-grid units) of vertex v from the clip buffer. */
static void screen_of(const float *clip, uint32_t v, int gw, int gh, double out[2])
{
    const float *c = clip + (size_t)v * 4;
    out[0] = ((double)c[0] / c[3] + 1.0) * 0.5 * gw;
    out[1] = (1.0 - (double)c[1] / c[3]) * 0.5 * gh;
}

/* Signed distance-like test of point q against a convex polygon (counter- or clockwise):
 * returns the smallest signed distance to its edges, positive inside. */
static double poly_inside(const double (*pts)[2], int n, const double q[2])
{
    double area = 0;
    for (int i = 0; i < n; i++) {
        const double *a = pts[i], *b = pts[(i + 1) % n];
        area += a[0] * b[1] - b[0] * a[1];
    }
    double sign = area > 0 ? 1 : -1, best = 1e300;
    for (int i = 0; i < n; i++) {
        const double *a = pts[i], *b = pts[(i + 1) % n];
        double ex = b[0] - a[0], ey = b[1] - a[1];
        double d = sign * (ex * (q[1] - a[1]) - ey * (q[0] - a[0])) / sqrt(ex * ex + ey * ey);
        best = d < best ? d : best;
    }
    return best;
}

/* Checks counts against a convex outline: 1 inside (1 sample of margin), 0 outside, never > 1.
 * Also checks that the visibility buffer agrees (covered <=> not empty). */
static void check_cover(const char *what, const uint32_t *counts, const uint64_t *vis, int gw,
                        int gh, const double (*outline)[2], int n)
{
    long holes = 0, doubles = 0, spill = 0, vis_bad = 0, covered = 0;
    for (int y = 0; y < gh; y++) {
        for (int x = 0; x < gw; x++) {
            size_t s = (size_t)y * (size_t)gw + (size_t)x;
            double q[2] = {x + 0.5, y + 0.5};
            double d = poly_inside(outline, n, q);
            uint32_t c = counts[s];
            covered += c > 0;
            if (c > 1)
                doubles++;
            if (d > 1.0 && c == 0)
                holes++;
            if (d < -1.0 && c != 0)
                spill++;
            if ((c > 0) != (vis[s] != ENG_VIS_EMPTY))
                vis_bad++;
        }
    }
    if (holes || doubles || spill || vis_bad || covered == 0)
        fprintf(stderr,
                "%s: %ld holes, %ld double hits, %ld outside, %ld vis mismatches, %ld covered\n",
                what, holes, doubles, spill, vis_bad, covered);
    CHECK_INT(0, holes);
    CHECK_INT(0, doubles);
    CHECK_INT(0, spill);
    CHECK_INT(0, vis_bad);
    CHECK(covered > 0);
}

static void run_cover(const char *what, const fx_mesh *m, const float *view_proj, int w, int h,
                      int grid, const uint32_t *outline_vertices, int n_outline)
{
    int gw = w * grid, gh = h * grid;
    float *clip = fx_alloc(sizeof(float) * 4 * m->vertex_count);
    uint64_t *vis = fx_alloc(sizeof(uint64_t) * (size_t)gw * (size_t)gh);
    uint32_t *counts = fx_alloc(sizeof(uint32_t) * (size_t)gw * (size_t)gh);
    eng_raster_params p;
    params(&p, m, w, h, grid, clip, vis);
    if (view_proj != NULL)
        memcpy(p.view_proj, view_proj, sizeof p.view_proj);
    eng_cpu_raster_coverage(&p, counts);
    eng_cpu_raster(&p);
    double outline[64][2];
    for (int i = 0; i < n_outline; i++)
        screen_of(clip, outline_vertices[i], gw, gh, outline[i]);
    check_cover(what, counts, vis, gw, gh, (const double(*)[2])outline, n_outline);
    free(clip);
    free(vis);
    free(counts);
}

static void test_grid(void)
{
    /* 64 x 64 cells with jittered interior vertices over most of the screen, 2 triangles each,
     * diagonals alternating, at a resolution where vertices land at arbitrary sub-sample spots. */
    fx_mesh m;
    fx_grid(&m, 64, -0.93f, -0.87f, 0.91f, 0.95f, 0.25f, 0.2f, 12345u, 1);
    uint32_t corners[4] = {0, 64, 65 * 65 - 1, 64 * 65};
    run_cover("grid ndc 1x", &m, NULL, 301, 257, 1, corners, 4);
    run_cover("grid ndc 2x2", &m, NULL, 301, 257, 2, corners, 4);
    run_cover("grid ndc 3x3", &m, NULL, 128, 128, 3, corners, 4);

    /* The same grid in perspective, tilted: vertices at non-trivial fixed-point positions. */
    eng_camera cam;
    eng_camera_default(&cam);
    float eye[3] = {0.6f, -0.9f, 2.2f};
    memcpy(cam.eye, eye, sizeof eye);
    cam.fov_y_deg = 45.0f;
    cam.z_near = 0.5f;
    cam.z_far = 10.0f;
    float vp[16];
    eng_camera_view_proj(&cam, 200.0f / 150.0f, vp);
    run_cover("grid perspective", &m, vp, 200, 150, 2, corners, 4);
    fx_mesh_free(&m);
}

static void test_fan(void)
{
    /* 37 triangles around a centre placed exactly on a sample centre; irregular rim radii. */
    const int n = 37, w = 64, h = 64;
    fx_mesh m = {0};
    m.vertex_count = (uint32_t)n + 1;
    m.triangle_count = (uint32_t)n;
    m.pos = fx_alloc(sizeof(float) * 3 * m.vertex_count);
    m.tri = fx_alloc(sizeof(uint32_t) * 3 * m.triangle_count);
    /* Sample (32, 32) has its centre at 32.5 of 64: NDC x = 32.5 / 32 - 1, y = 1 - 32.5 / 32. */
    m.pos[0] = 0.015625f;
    m.pos[1] = -0.015625f;
    uint32_t seed = 99;
    uint32_t rim[64];
    for (int i = 0; i < n; i++) {
        double a = 2 * 3.14159265358979 * i / n;
        /* A convex rim: radius varies little, so the outline stays convex. */
        double r = 0.8 + 0.001 * fx_rand(&seed);
        m.pos[(i + 1) * 3] = m.pos[0] + (float)(r * cos(a));
        m.pos[(i + 1) * 3 + 1] = m.pos[1] + (float)(r * sin(a));
        uint32_t t[3] = {0, (uint32_t)i + 1, (uint32_t)((i + 1) % n) + 1};
        if (i & 1) { /* mix the windings: both are drawn */
            uint32_t tmp = t[1];
            t[1] = t[2];
            t[2] = tmp;
        }
        memcpy(m.tri + i * 3, t, sizeof t);
        rim[i] = (uint32_t)i + 1;
    }
    run_cover("fan 1x", &m, NULL, w, h, 1, rim, n);
    run_cover("fan 4x4", &m, NULL, w, h, 4, rim, n);

    /* The centre sample itself: exactly one of the 37 triangles owns it. */
    float clip[4 * 38];
    uint64_t vis[64 * 64];
    uint32_t counts[64 * 64];
    eng_raster_params p;
    params(&p, &m, w, h, 1, clip, vis);
    eng_cpu_raster_coverage(&p, counts);
    CHECK_INT(1, counts[32 * 64 + 32]);
    fx_mesh_free(&m);
}

/* Coverage of one triangle of m alone. */
static void cover_one(const fx_mesh *m, uint32_t f, int w, int h, uint32_t *counts)
{
    float clip[4 * 16];
    eng_raster_params p;
    params(&p, m, w, h, 1, clip, NULL);
    p.triangles = m->tri + f * 3;
    p.triangle_count = 1;
    eng_cpu_raster_coverage(&p, counts);
}

static void test_top_left(void)
{
    /* 16 x 16 pixels, positions in NDC where sample centre k + 0.5 is at (k + 0.5) / 8 - 1.
     * Quad over the whole screen split along its diagonal: the diagonal passes through every
     * sample centre (k + 0.5, k + 0.5). Then a vertical and a horizontal shared edge at x = 8.5
     * and y = 8.5, which pass through a column and a row of sample centres. */
    enum { W = 16, H = 16 };
    const float c = 8.5f / 8.0f - 1.0f; /* NDC of sample-grid coordinate 8.5 */
    fx_mesh m = {0};
    float pos[] = {
        -1, 1,  0, 1, 1,  0, 1, -1, 0, -1, -1, 0, /* 0..3: TL, TR, BR, BL corners */
        c,  1,  0, c, -1, 0,                      /* 4, 5: top and bottom of x = 8.5 */
        -1, -c, 0, 1, -c, 0,                      /* 6, 7: left and right of y = 8.5 */
    };
    uint32_t tri[] = {
        0, 1, 2, 0, 2, 3, /* diagonal TL-BR */
        0, 4, 5, 0, 5, 3, /* left half, as two triangles */
        4, 1, 2, 4, 2, 5, /* right half */
        0, 1, 7, 0, 7, 6, /* top half */
        6, 7, 2, 6, 2, 3, /* bottom half */
    };
    m.vertex_count = 8;
    m.triangle_count = sizeof tri / sizeof tri[0] / 3;
    m.pos = pos;
    m.tri = tri;
    uint32_t a[W * H], b[W * H], c2[W * H], d[W * H];

    /* Diagonal: every sample exactly once; the diagonal samples go to one side consistently. */
    cover_one(&m, 0, W, H, a);
    cover_one(&m, 1, W, H, b);
    int diag_a = 0;
    for (int i = 0; i < W * H; i++)
        CHECK_INT(1, a[i] + b[i]);
    for (int k = 0; k < W; k++)
        diag_a += (int)a[k * W + k];
    CHECK(diag_a == 0 || diag_a == W);

    /* Vertical edge at x = 8.5 (sample column 8): each sample once, owned by the right half
     * (the shared edge is the left edge of the right half). */
    cover_one(&m, 2, W, H, a);
    cover_one(&m, 3, W, H, b);
    cover_one(&m, 4, W, H, c2);
    cover_one(&m, 5, W, H, d);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            CHECK_INT(1, a[i] + b[i] + c2[i] + d[i]);
            if (x == 8)
                CHECK_INT(1, c2[i] + d[i]);
        }
    }

    /* Horizontal edge at y = 8.5 (sample row 8): owned by the bottom half (top edge there). */
    cover_one(&m, 6, W, H, a);
    cover_one(&m, 7, W, H, b);
    cover_one(&m, 8, W, H, c2);
    cover_one(&m, 9, W, H, d);
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            CHECK_INT(1, a[i] + b[i] + c2[i] + d[i]);
            if (y == 8)
                CHECK_INT(1, c2[i] + d[i]);
        }
    }
}

/* Renders quads near (z = z_near) and far into vis with the given submission order and checks
 * that the near one owns the overlap. */
static void test_depth(void)
{
    enum { W = 40, H = 30 };
    float pos[] = {
        -0.8f, -0.8f, 0.0f, 0.4f, -0.8f, 0.0f, 0.4f, 0.4f, 0.0f, -0.8f, 0.4f, 0.0f, /* far */
        -0.4f, -0.4f, 0.5f, 0.8f, -0.4f, 0.5f, 0.8f, 0.8f, 0.5f, -0.4f, 0.8f, 0.5f, /* near */
    };
    uint32_t far_first[] = {0, 1, 2, 0, 2, 3, 4, 5, 6, 4, 6, 7};
    uint32_t near_first[] = {4, 5, 6, 4, 6, 7, 0, 1, 2, 0, 2, 3};
    eng_camera cam;
    eng_camera_default(&cam);
    cam.eye[2] = 4.0f;
    cam.z_near = 1.0f;
    cam.z_far = 10.0f;
    float vp[16];
    eng_camera_view_proj(&cam, (float)W / H, vp);
    for (int order = 0; order < 2; order++) {
        fx_mesh m = {8, 4, pos, order == 0 ? far_first : near_first, NULL};
        float clip[32];
        uint64_t vis[W * H];
        eng_raster_params p;
        params(&p, &m, W, H, 1, clip, vis);
        memcpy(p.view_proj, vp, sizeof vp);
        eng_cpu_raster(&p);
        /* Centre of the overlap, world (0, 0): the middle of the image. */
        uint64_t v = vis[(H / 2) * W + W / 2];
        uint32_t tri = (uint32_t)v - 1;
        uint32_t near_lo = order == 0 ? 2 : 0;
        CHECK(v != ENG_VIS_EMPTY);
        CHECK(tri == near_lo || tri == near_lo + 1);
        /* Depth in [0, 1]. */
        float d;
        uint32_t bits = (uint32_t)(v >> 32);
        memcpy(&d, &bits, sizeof d);
        CHECK(d > 0.0f && d < 1.0f);
        /* Where only the far quad is (world (-0.6, -0.6)), it is visible. */
        int px = (int)((-0.6 / (4.0 * tan(15 * 3.14159265 / 180)) * H / W + 1) * 0.5 * W);
        int py = (int)((1 + 0.6 / (4.0 * tan(15 * 3.14159265 / 180))) * 0.5 * H);
        uint32_t far_tri = (uint32_t)vis[py * W + px] - 1;
        uint32_t far_lo = order == 0 ? 0 : 2;
        CHECK(far_tri == far_lo || far_tri == far_lo + 1);
    }

    /* Exact depth tie (coplanar duplicates): the lower triangle index wins either way. */
    float pos2[] = {-1, -1, 0, 1, -1, 0, 0, 1, 0};
    uint32_t dup[] = {0, 1, 2, 2, 1, 0};
    fx_mesh m = {3, 2, pos2, dup, NULL};
    float clip[12];
    uint64_t vis[8 * 8];
    eng_raster_params p;
    params(&p, &m, 8, 8, 1, clip, vis);
    eng_cpu_raster(&p);
    CHECK_INT(1, (uint32_t)vis[4 * 8 + 4]);
}

static void test_skips(void)
{
    /* A triangle behind the camera (w <= 0) or beyond far (z > w) is dropped; a degenerate
     * one covers nothing. */
    float pos[] = {-1, -1, 0, 1, -1, 0, 0, 1, 0, -1, -1, 0.5f, 1, 1, 0.5f, 0, 0, 0.5f};
    uint32_t tri[] = {0, 1, 2, 3, 4, 5};
    fx_mesh m = {6, 2, pos, tri, NULL};
    float clip[24];
    uint64_t vis[8 * 8];
    eng_raster_params p;
    params(&p, &m, 8, 8, 1, clip, vis);
    p.view_proj[15] = -1.0f; /* w = -1: everything behind */
    eng_cpu_raster(&p);
    int hit = 0;
    for (int i = 0; i < 64; i++)
        hit += vis[i] != ENG_VIS_EMPTY;
    CHECK_INT(0, hit);
    params(&p, &m, 8, 8, 1, clip, vis);
    p.view_proj[14] = 2.0f; /* z = 2 > w = 1: beyond far */
    eng_cpu_raster(&p);
    hit = 0;
    for (int i = 0; i < 64; i++)
        hit += vis[i] != ENG_VIS_EMPTY;
    CHECK_INT(0, hit);
    /* Triangle 1 lies on a line: zero area. Only triangle 0 (id 1) shows. */
    params(&p, &m, 8, 8, 1, clip, vis);
    eng_cpu_raster(&p);
    for (int i = 0; i < 64; i++)
        CHECK(vis[i] == ENG_VIS_EMPTY || (uint32_t)vis[i] == 1);
}

int main(void)
{
    test_grid();
    test_fan();
    test_top_left();
    test_depth();
    test_skips();
    return test_done();
}
