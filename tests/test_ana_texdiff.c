/*
 * test_ana_texdiff.c — texture difference on synthetic quads where every texel's answer is
 * known: B's UV layout mirrored and squeezed into one quarter of a texture of another size (so
 * each A texel lands exactly on a known B texel), partial UV coverage, bilinear filtering with
 * repeat at the border, A against A, thread-count independence, and the error messages.
 */
#include "test_util.h"

#include <math.h>
#include <string.h>

#include "analysis/analysis.h"

/* A unit quad, two triangles, with the four corner UVs given as (u, v) pairs. */
static mesh *quad(const float uv[8])
{
    char text[512];
    snprintf(text, sizeof text,
             "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"
             "vt %.9g %.9g\nvt %.9g %.9g\nvt %.9g %.9g\nvt %.9g %.9g\n"
             "f 1/1 2/2 3/3\nf 1/1 3/3 4/4\n",
             uv[0], uv[1], uv[2], uv[3], uv[4], uv[5], uv[6], uv[7]);
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    mesh *m = NULL;
    CHECK_OK(mesh_parse_obj(text, strlen(text), &lim, &m, &err), &err);
    return m;
}

typedef void (*paint_fn)(int x, int y, uint8_t rgb[3]);

static img *texture(int w, int h, paint_fn paint)
{
    img *im = img_new(w, h);
    uint8_t *px = img_pixels(im);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 4;
            paint(x, y, p);
            p[3] = 255;
        }
    return im;
}

/* A: left half a skin tone, right half a ramp. */
static void paint_a(int x, int y, uint8_t rgb[3])
{
    if (x < 32) {
        rgb[0] = 200, rgb[1] = 150, rgb[2] = 100;
    } else {
        rgb[0] = (uint8_t)(x * 4), rgb[1] = (uint8_t)(y * 4), rgb[2] = 128;
    }
}

/* B (128x128): a darker skin tone where A's left half lands (x >= 96), another ramp elsewhere. */
static void paint_b(int x, int y, uint8_t rgb[3])
{
    if (x >= 96) {
        rgb[0] = 180, rgb[1] = 120, rgb[2] = 90;
    } else {
        rgb[0] = (uint8_t)(x * 2), rgb[1] = (uint8_t)(y * 2), rgb[2] = 50;
    }
}

static const float full[8] = {0, 0, 1, 0, 1, 1, 0, 1};
/* Mirrored in u and squeezed into u in [0.5, 1], v in [0, 0.5]: u' = 1 - u/2, v' = v/2. */
static const float mirrored[8] = {1, 0, 0.5f, 0, 0.5f, 0.5f, 1, 0.5f};
static const float inner[8] = {0.25f, 0.25f, 0.75f, 0.25f, 0.75f, 0.75f, 0.25f, 0.75f};

static ana_texdiff_result *texdiff(const mesh *a, const mesh *b, int threads)
{
    md_error err;
    md_error_clear(&err);
    ana_texdiff_result *r = NULL;
    CHECK_OK(ana_texture_difference_ex(a, b, threads, &r, &err), &err);
    return r;
}

static void expected_diff(const uint8_t ca[3], const uint8_t cb[3], double out[3])
{
    double la[3], lb[3];
    ana_srgb8_to_lab(ca, la);
    ana_srgb8_to_lab(cb, lb);
    out[0] = lb[0] - la[0];
    out[1] = hypot(lb[1] - la[1], lb[2] - la[2]);
    out[2] = ana_ciede2000(la, lb);
}

static void test_mirrored_layout(void)
{
    mesh *a = quad(full), *b = quad(mirrored);
    mesh_material_set_texture(a, 0, texture(64, 64, paint_a));
    mesh_material_set_texture(b, 0, texture(128, 128, paint_b));
    ana_texdiff_result *r = texdiff(a, b, 2);
    if (r) {
        CHECK_INT(64, ana_texdiff_width(r));
        CHECK_INT(64, ana_texdiff_height(r));
        CHECK_INT(0, ana_texdiff_material(r));
        CHECK_INT(64 * 64, ana_texdiff_covered(r));
        const float *lum = ana_texdiff_luminance(r), *chr = ana_texdiff_chroma(r);
        const float *de = ana_texdiff_delta_e(r);
        /* Hand-computed (color.c's formulas): (200,150,100) -> (180,120,90). */
        CHECK_NEAR(-9.796280, lum[0], 1e-4);
        CHECK_NEAR(10.502605, chr[0], 1e-4);
        int bad = 0;
        double worst = 0;
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++) {
                /* A texel (x, y) lands on B texel (127 - x, 64 + y). */
                uint8_t ca[3], cb[3];
                paint_a(x, y, ca);
                paint_b(127 - x, 64 + y, cb);
                double e[3];
                expected_diff(ca, cb, e);
                const size_t i = (size_t)y * 64 + x;
                double dev =
                    fmax(fabs(e[0] - lum[i]), fmax(fabs(e[1] - chr[i]), fabs(e[2] - de[i])));
                worst = fmax(worst, dev);
                if (dev > 1e-3 && bad++ < 5)
                    fprintf(stderr, "texel (%d,%d): expected %g %g %g, got %g %g %g\n", x, y, e[0],
                            e[1], e[2], lum[i], chr[i], de[i]);
            }
        printf("mirrored layout: worst deviation from the byte-exact Lab path %.3g\n", worst);
        CHECK_INT(0, bad);
    }
    ana_texdiff_free(r);
    mesh_free(a);
    mesh_free(b);
}

static void test_partial_coverage(void)
{
    mesh *a = quad(inner), *b = quad(full);
    mesh_material_set_texture(a, 0, texture(64, 64, paint_a));
    mesh_material_set_texture(b, 0, texture(64, 64, paint_a));
    ana_texdiff_result *r = texdiff(a, b, 3);
    if (r) {
        /* Centres (i + 0.5) inside [16, 48]: i = 16 .. 47 in both directions. */
        CHECK_INT(32 * 32, ana_texdiff_covered(r));
        const uint8_t *cov = ana_texdiff_coverage(r);
        int mism = 0;
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++) {
                int inside = x >= 16 && x < 48 && y >= 16 && y < 48;
                mism += (cov[(size_t)y * 64 + x] != 0) != inside;
            }
        CHECK_INT(0, mism);
        /* Uncovered texels hold zeros; covered ones differ (B's full layout stretches). */
        CHECK_NEAR(0.0, ana_texdiff_delta_e(r)[0], 0.0);
        CHECK(ana_texdiff_delta_e(r)[20 * 64 + 40] > 0.0f);
    }
    ana_texdiff_free(r);
    mesh_free(a);
    mesh_free(b);
}

/* B: 32x32 texture of alternating black and white columns, same UVs as A's 64x64: each A
 * texel centre falls a quarter of a B texel from a B centre, so bilinear gives 0.25 or 0.75
 * of white, and column 0 wraps to B's last column. */
static void paint_grey(int x, int y, uint8_t rgb[3])
{
    (void)x, (void)y;
    rgb[0] = rgb[1] = rgb[2] = 128;
}

static void paint_stripes(int x, int y, uint8_t rgb[3])
{
    (void)y;
    rgb[0] = rgb[1] = rgb[2] = (x % 2) ? 255 : 0;
}

static void test_bilinear_repeat(void)
{
    mesh *a = quad(full), *b = quad(full);
    mesh_material_set_texture(a, 0, texture(64, 64, paint_grey));
    mesh_material_set_texture(b, 0, texture(32, 32, paint_stripes));
    ana_texdiff_result *r = texdiff(a, b, 1);
    if (r) {
        double grey[3], lab_a[3];
        ana_srgb8_to_lab((const uint8_t[3]){128, 128, 128}, lab_a);
        int bad = 0;
        for (int x = 0; x < 64; x++) {
            /* A texel x -> B position x/2 - 0.25: between B columns floor and floor + 1. */
            double fx = x / 2.0 - 0.25;
            int x0 = (int)floor(fx);
            double t = fx - x0;
            double c0 = ((x0 + 32) % 32) % 2 ? 1.0 : 0.0, c1 = ((x0 + 33) % 32) % 2 ? 1.0 : 0.0;
            double enc = c0 + t * (c1 - c0), lin = ana_srgb_to_linear(enc);
            ana_linear_rgb_to_lab((const double[3]){lin, lin, lin}, grey);
            for (int y = 0; y < 64; y += 7) {
                float got = ana_texdiff_luminance(r)[(size_t)y * 64 + x];
                if (fabs(got - (grey[0] - lab_a[0])) > 1e-3 && bad++ < 5)
                    fprintf(stderr, "stripe texel (%d,%d): expected dL %g, got %g\n", x, y,
                            grey[0] - lab_a[0], got);
                if (fabs(ana_texdiff_chroma(r)[(size_t)y * 64 + x]) > 1e-3)
                    bad++;
            }
        }
        CHECK_INT(0, bad);
    }
    ana_texdiff_free(r);
    mesh_free(a);
    mesh_free(b);
}

static void test_self_and_threads(void)
{
    mesh *a = quad(full), *b = quad(mirrored);
    mesh_material_set_texture(a, 0, texture(64, 64, paint_a));
    mesh_material_set_texture(b, 0, texture(128, 128, paint_b));
    ana_texdiff_result *self = texdiff(a, a, 2);
    if (self) {
        size_t n = 64 * 64, nonzero = 0;
        for (size_t i = 0; i < n; i++)
            nonzero += ana_texdiff_luminance(self)[i] != 0.0f ||
                       ana_texdiff_chroma(self)[i] != 0.0f || ana_texdiff_delta_e(self)[i] != 0.0f;
        CHECK_INT(0, nonzero);
        CHECK_INT(n, ana_texdiff_covered(self));
    }
    ana_texdiff_free(self);
    ana_texdiff_result *one = texdiff(a, b, 1), *many = texdiff(a, b, 5);
    if (one && many) {
        size_t n = 64 * 64 * sizeof(float);
        CHECK(memcmp(ana_texdiff_luminance(one), ana_texdiff_luminance(many), n) == 0);
        CHECK(memcmp(ana_texdiff_delta_e(one), ana_texdiff_delta_e(many), n) == 0);
        CHECK(memcmp(ana_texdiff_coverage(one), ana_texdiff_coverage(many), 64 * 64) == 0);
    }
    ana_texdiff_free(one);
    ana_texdiff_free(many);
    mesh_free(a);
    mesh_free(b);
}

static void test_errors(void)
{
    md_error err;
    md_error_clear(&err);
    mesh *a = quad(full), *b = quad(full);
    mesh_material_set_texture(a, 0, texture(8, 8, paint_grey));
    ana_texdiff_result *r = NULL;
    CHECK_INT(MD_EINVAL, ana_texture_difference(a, b, &r, &err));
    CHECK_MSG(&err, "texture difference needs both meshes textured: target has no texture");
    CHECK(r == NULL);
    CHECK_INT(MD_EINVAL, ana_texture_difference(b, a, &r, &err));
    CHECK_MSG(&err, "source has no texture");

    md_limits lim;
    md_limits_default(&lim);
    const char *plain = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3\nf 1 3 4\n";
    mesh *nouv = NULL;
    CHECK_OK(mesh_parse_obj(plain, strlen(plain), &lim, &nouv, &err), &err);
    CHECK_INT(MD_EINVAL, ana_texture_difference(a, nouv, &r, &err));
    CHECK_MSG(&err, "target has no texture coordinates");
    mesh_free(nouv);
    mesh_free(a);
    mesh_free(b);
    ana_texdiff_free(NULL);
}

int main(void)
{
    test_mirrored_layout();
    test_partial_coverage();
    test_bilinear_repeat();
    test_self_and_threads();
    test_errors();
    return test_done();
}
