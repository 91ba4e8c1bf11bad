/*
 * test_ana_displace.c — shape displacement on analytic cases: a finely tessellated sphere
 * against itself scaled by 1.1 (normal = 0.1 r, tangential = 0), translated (total = |shift|,
 * rigid alignment removes it), rotated and translated (rigid removes it), scaled, rotated and
 * translated (similarity removes it); normal^2 + tangential^2 = total^2; alignment names;
 * a topology mismatch.
 */
#include "test_util.h"

#include <math.h>
#include <string.h>

#include "analysis/analysis.h"

#define PI 3.14159265358979323846

#define RINGS 96
#define SEGMENTS 192
#define RADIUS 2.0

typedef void (*xform_fn)(const double in[3], double out[3]);

static void identity(const double in[3], double out[3])
{
    memcpy(out, in, 3 * sizeof(double));
}

/* The sphere's centre, off the origin so the alignment has a translation to find. */
static const double centre[3] = {0.1, 0.2, -0.3};

/* Scaled by 1.1 about the sphere's centre: B - A = 0.1 r n exactly. */
static void scale_11(const double in[3], double out[3])
{
    for (int k = 0; k < 3; k++)
        out[k] = centre[k] + 1.1 * (in[k] - centre[k]);
}

static const double shift[3] = {0.3, -0.2, 0.5};

static void translate(const double in[3], double out[3])
{
    for (int k = 0; k < 3; k++)
        out[k] = in[k] + shift[k];
}

/* 40 degrees about the unit axis (1, 2, 2) / 3, then the shift. */
static void rotate(const double in[3], double out[3])
{
    const double ax[3] = {1.0 / 3, 2.0 / 3, 2.0 / 3}, th = 40.0 * PI / 180.0;
    const double c = cos(th), s = sin(th);
    double d = ax[0] * in[0] + ax[1] * in[1] + ax[2] * in[2];
    double cr[3] = {ax[1] * in[2] - ax[2] * in[1], ax[2] * in[0] - ax[0] * in[2],
                    ax[0] * in[1] - ax[1] * in[0]};
    for (int k = 0; k < 3; k++)
        out[k] = in[k] * c + cr[k] * s + ax[k] * d * (1 - c);
}

static void rotate_translate(const double in[3], double out[3])
{
    double r[3];
    rotate(in, r);
    translate(r, out);
}

static void scale_rotate_translate(const double in[3], double out[3])
{
    double s[3] = {1.3 * in[0], 1.3 * in[1], 1.3 * in[2]};
    rotate_translate(s, out);
}

/* A latitude-longitude sphere of RADIUS around (0.1, 0.2, -0.3), each vertex mapped by fn. */
static mesh *sphere(xform_fn fn)
{
    size_t cap = 16u << 20, len = 0;
    char *text = md_malloc(cap);
    double p[3], q[3];
    /* Poles, then rings 1 .. RINGS-1 of SEGMENTS vertices each. */
    for (int pole = 0; pole < 2; pole++) {
        p[0] = centre[0];
        p[1] = centre[1] + (pole ? -RADIUS : RADIUS);
        p[2] = centre[2];
        fn(p, q);
        len += (size_t)snprintf(text + len, cap - len, "v %.17g %.17g %.17g\n", q[0], q[1], q[2]);
    }
    for (int r = 1; r < RINGS; r++) {
        double th = PI * r / RINGS;
        for (int s = 0; s < SEGMENTS; s++) {
            double ph = 2 * PI * s / SEGMENTS;
            p[0] = centre[0] + RADIUS * sin(th) * cos(ph);
            p[1] = centre[1] + RADIUS * cos(th);
            p[2] = centre[2] + RADIUS * sin(th) * sin(ph);
            fn(p, q);
            len +=
                (size_t)snprintf(text + len, cap - len, "v %.17g %.17g %.17g\n", q[0], q[1], q[2]);
        }
    }
    /* OBJ indices from 1: north 1, south 2, ring r vertex s at 3 + (r-1)*SEGMENTS + s.
     * Outward-facing (CCW seen from outside). */
#define V(r, s) (3 + ((r)-1) * SEGMENTS + ((s) % SEGMENTS))
    for (int s = 0; s < SEGMENTS; s++) {
        len += (size_t)snprintf(text + len, cap - len, "f 1 %d %d\n", V(1, s + 1), V(1, s));
        len += (size_t)snprintf(text + len, cap - len, "f 2 %d %d\n", V(RINGS - 1, s),
                                V(RINGS - 1, s + 1));
    }
    for (int r = 1; r < RINGS - 1; r++)
        for (int s = 0; s < SEGMENTS; s++)
            len += (size_t)snprintf(text + len, cap - len, "f %d %d %d %d\n", V(r, s), V(r, s + 1),
                                    V(r + 1, s + 1), V(r + 1, s));
#undef V
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    mesh *m = NULL;
    CHECK_OK(mesh_parse_obj(text, len, &lim, &m, &err), &err);
    md_free(text);
    return m;
}

static ana_displacement_result *displace(const mesh *a, const mesh *b, ana_align align)
{
    md_error err;
    md_error_clear(&err);
    ana_displacement_result *r = NULL;
    CHECK_OK(ana_displacement(a, b, align, &r, &err), &err);
    return r;
}

/* max over vertices of |x - expected| for one component array. */
static double max_dev(const float *x, uint32_t n, double expected)
{
    double m = 0;
    for (uint32_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i] - expected));
    return m;
}

static void check_pythagoras(const ana_displacement_result *r)
{
    const uint32_t n = ana_displacement_vertex_count(r);
    const float *nd = ana_displacement_normal(r), *td = ana_displacement_tangential(r);
    const float *tot = ana_displacement_total(r);
    double worst = 0;
    for (uint32_t i = 0; i < n; i++) {
        double lhs = (double)nd[i] * nd[i] + (double)td[i] * td[i];
        double rhs = (double)tot[i] * tot[i];
        worst = fmax(worst, fabs(lhs - rhs) / fmax(rhs, 1e-30));
    }
    if (worst > 1e-6)
        fprintf(stderr, "normal^2 + tangential^2 vs total^2: worst relative error %g\n", worst);
    CHECK(worst <= 1e-6);
}

static void test_scaled_sphere(void)
{
    mesh *a = sphere(identity), *b = sphere(scale_11);
    ana_displacement_result *r = displace(a, b, ANA_ALIGN_NONE);
    if (r) {
        const uint32_t n = ana_displacement_vertex_count(r);
        CHECK_INT(2 + (RINGS - 1) * SEGMENTS, n);
        double dn = max_dev(ana_displacement_normal(r), n, 0.1 * RADIUS);
        double dt = max_dev(ana_displacement_tangential(r), n, 0.0);
        double dd = max_dev(ana_displacement_total(r), n, 0.1 * RADIUS);
        printf("scaled sphere: max |normal - 0.1 r| %.3g, max tangential %.3g, max |total - 0.1 r| "
               "%.3g (r = %g)\n",
               dn, dt, dd, RADIUS);
        double mean_t = 0;
        for (uint32_t i = 0; i < n; i++)
            mean_t += ana_displacement_tangential(r)[i] / n;
        printf("scaled sphere: mean tangential %.3g\n", mean_t);
        /* Area-weighted normals of a 96x192 latitude-longitude sphere tilt by at most ~0.3
         * degree (next to the poles, where the triangles are slivers) and by far less on
         * average; the tangential part is 0.1 r sin(tilt). */
        CHECK(dn < 1e-5 * RADIUS);
        CHECK(dt < 1e-3 * RADIUS);
        CHECK(mean_t < 1e-4 * RADIUS);
        CHECK(dd < 1e-6 * RADIUS);
        check_pythagoras(r);
        const ana_alignment *al = ana_displacement_alignment(r);
        CHECK_INT(ANA_ALIGN_NONE, al->align);
        CHECK_NEAR(1.0, al->scale, 0.0);
        CHECK_NEAR(0.1 * RADIUS, al->rms_before, 1e-6);
        CHECK_NEAR(al->rms_before, al->rms_after, 0.0);
    }
    ana_displacement_free(r);
    /* Similarity alignment undoes the uniform scale. */
    r = displace(a, b, ANA_ALIGN_SIMILARITY);
    if (r) {
        const ana_alignment *al = ana_displacement_alignment(r);
        CHECK_NEAR(1.0 / 1.1, al->scale, 1e-6);
        CHECK(al->rms_after < 1e-5);
        CHECK(max_dev(ana_displacement_total(r), ana_displacement_vertex_count(r), 0) < 1e-5);
    }
    ana_displacement_free(r);
    mesh_free(a);
    mesh_free(b);
}

static void test_translated(void)
{
    mesh *a = sphere(identity), *b = sphere(translate);
    const double len = sqrt(shift[0] * shift[0] + shift[1] * shift[1] + shift[2] * shift[2]);
    ana_displacement_result *r = displace(a, b, ANA_ALIGN_NONE);
    if (r) {
        const uint32_t n = ana_displacement_vertex_count(r);
        CHECK(max_dev(ana_displacement_total(r), n, len) < 1e-6);
        check_pythagoras(r);
        /* The normal component follows the sphere: +|shift| where n is along the shift. */
        const float *nd = ana_displacement_normal(r);
        float lo = nd[0], hi = nd[0];
        for (uint32_t i = 0; i < n; i++) {
            lo = fminf(lo, nd[i]);
            hi = fmaxf(hi, nd[i]);
        }
        CHECK_NEAR(len, hi, 1e-3);
        CHECK_NEAR(-len, lo, 1e-3);
    }
    ana_displacement_free(r);
    r = displace(a, b, ANA_ALIGN_RIGID);
    if (r) {
        const ana_alignment *al = ana_displacement_alignment(r);
        CHECK_INT(ANA_ALIGN_RIGID, al->align);
        CHECK(max_dev(ana_displacement_total(r), ana_displacement_vertex_count(r), 0) < 1e-5);
        for (int k = 0; k < 3; k++)
            CHECK_NEAR(-shift[k], al->translation[k], 1e-6);
        for (int k = 0; k < 9; k++)
            CHECK_NEAR(k % 4 == 0 ? 1.0 : 0.0, al->rotation[k], 1e-9);
        CHECK_NEAR(1.0, al->scale, 0.0);
        CHECK_NEAR(len, al->rms_before, 1e-6);
        CHECK(al->rms_after < 1e-5);
    }
    ana_displacement_free(r);
    mesh_free(a);
    mesh_free(b);
}

static void test_rotated(void)
{
    mesh *a = sphere(identity), *b = sphere(rotate_translate);
    ana_displacement_result *r = displace(a, b, ANA_ALIGN_RIGID);
    if (r) {
        const uint32_t n = ana_displacement_vertex_count(r);
        const ana_alignment *al = ana_displacement_alignment(r);
        printf("rotated + translated, rigid: rms before %.6g after %.3g\n", al->rms_before,
               al->rms_after);
        CHECK(al->rms_before > 0.5);
        CHECK(al->rms_after < 1e-5);
        CHECK(max_dev(ana_displacement_total(r), n, 0) < 1e-5);
        /* R must be the inverse rotation: R * rotate(x) = x for a test vector. */
        double x[3] = {0.3, -1.2, 0.7}, y[3];
        rotate(x, y);
        for (int k = 0; k < 3; k++) {
            const double *row = al->rotation + k * 3;
            CHECK_NEAR(x[k], row[0] * y[0] + row[1] * y[1] + row[2] * y[2], 1e-6);
        }
        /* B' lands on A. */
        const float *pa = ana_displacement_positions_a(r), *pb = ana_displacement_positions_b(r);
        double worst = 0;
        for (size_t i = 0; i < (size_t)n * 3; i++)
            worst = fmax(worst, fabs(pa[i] - pb[i]));
        CHECK(worst < 1e-5);
        check_pythagoras(r);
    }
    ana_displacement_free(r);
    /* Without alignment the displacement is large and still decomposes exactly. */
    r = displace(a, b, ANA_ALIGN_NONE);
    if (r) {
        CHECK(ana_displacement_alignment(r)->rms_after > 0.5);
        check_pythagoras(r);
    }
    ana_displacement_free(r);
    mesh_free(a);
    mesh_free(b);
}

static void test_similarity(void)
{
    mesh *a = sphere(identity), *b = sphere(scale_rotate_translate);
    ana_displacement_result *r = displace(a, b, ANA_ALIGN_SIMILARITY);
    if (r) {
        const ana_alignment *al = ana_displacement_alignment(r);
        CHECK_NEAR(1.0 / 1.3, al->scale, 1e-6);
        CHECK(al->rms_after < 1e-5);
        CHECK(max_dev(ana_displacement_total(r), ana_displacement_vertex_count(r), 0) < 1e-5);
    }
    ana_displacement_free(r);
    /* Rigid alignment cannot remove a scale: what is left is mostly normal. */
    r = displace(a, b, ANA_ALIGN_RIGID);
    if (r) {
        const ana_alignment *al = ana_displacement_alignment(r);
        CHECK(al->rms_after > 0.1 * RADIUS);
        CHECK_NEAR(1.0, al->scale, 0.0);
        check_pythagoras(r);
    }
    ana_displacement_free(r);
    mesh_free(a);
    mesh_free(b);
}

static void test_names_and_errors(void)
{
    md_error err;
    md_error_clear(&err);
    ana_align al = ANA_ALIGN_NONE;
    CHECK_OK(ana_align_parse("similarity", &al, &err), &err);
    CHECK_INT(ANA_ALIGN_SIMILARITY, al);
    CHECK_OK(ana_align_parse("rigid", &al, &err), &err);
    CHECK_INT(ANA_ALIGN_RIGID, al);
    CHECK(strcmp(ana_align_name(ANA_ALIGN_NONE), "none") == 0);
    CHECK_INT(MD_EINVAL, ana_align_parse("affine", &al, &err));
    CHECK_MSG(&err, "none, rigid or similarity");

    md_limits lim;
    md_limits_default(&lim);
    const char *tri = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n";
    mesh *small = NULL, *a = sphere(identity);
    CHECK_OK(mesh_parse_obj(tri, strlen(tri), &lim, &small, &err), &err);
    ana_displacement_result *r = (ana_displacement_result *)&err; /* must be reset to NULL */
    CHECK_INT(MD_ETOPOLOGY, ana_displacement(a, small, ANA_ALIGN_NONE, &r, &err));
    CHECK(r == NULL);
    mesh_free(small);
    mesh_free(a);
    ana_displacement_free(NULL);
}

int main(void)
{
    test_scaled_sphere();
    test_translated();
    test_rotated();
    test_similarity();
    test_names_and_errors();
    return test_done();
}
