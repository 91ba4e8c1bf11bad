/*
 * test_engine_morph.c — the CPU morph stage: t = 0 and t = 1 reproduce the meshes bit for bit,
 * t = 0.5 is the midpoint, and the area-weighted normals are right on a flat quad (+-Z), on a
 * sphere (radial) and zero on an isolated vertex.
 */
#include "engine_fixtures.h"
#include "gpu/kernels.h"

static void morph(const fx_mesh *a, const fx_mesh *b, float t, float *pos, float *nrm)
{
    eng_morph_params p = {
        .vertex_count = a->vertex_count,
        .triangle_count = a->triangle_count,
        .pos_a = a->pos,
        .pos_b = b->pos,
        .triangles = a->tri,
        .t = t,
        .out_pos = pos,
        .out_normal = nrm,
    };
    eng_cpu_morph(&p);
}

static void test_endpoints(void)
{
    fx_mesh a, b;
    fx_grid(&a, 10, -1, -1, 1, 1, 0, 0.2f, 1, 0);
    fx_grid(&b, 10, -1, -1, 1, 1, 0, 0.2f, 2, 0);
    uint32_t seed = 7;
    for (uint32_t i = 0; i < a.vertex_count * 3; i++) {
        a.pos[i] += 0.3f * fx_rand(&seed) + 1e-3f;
        b.pos[i] = b.pos[i] * 123.456f + 0.1f * fx_rand(&seed);
    }
    size_t n = (size_t)a.vertex_count * 3;
    float *pos = fx_alloc(n * sizeof(float)), *nrm = fx_alloc(n * sizeof(float));
    morph(&a, &b, 0.0f, pos, nrm);
    CHECK(memcmp(pos, a.pos, n * sizeof(float)) == 0);
    morph(&a, &b, 1.0f, pos, nrm);
    CHECK(memcmp(pos, b.pos, n * sizeof(float)) == 0);
    morph(&a, &b, 0.5f, pos, nrm);
    for (size_t i = 0; i < n; i++)
        CHECK_NEAR(0.5 * ((double)a.pos[i] + b.pos[i]), pos[i], 1e-4 * (1 + fabs(b.pos[i])));
    /* Every normal is unit length. */
    for (size_t i = 0; i < n; i += 3)
        CHECK_NEAR(1.0, sqrt(nrm[i] * nrm[i] + nrm[i + 1] * nrm[i + 1] + nrm[i + 2] * nrm[i + 2]),
                   1e-5);
    free(pos);
    free(nrm);
    fx_mesh_free(&a);
    fx_mesh_free(&b);
}

static void test_flat_normals(void)
{
    /* A jittered flat grid in z = 2: every normal is +Z exactly (winding of fx_grid is
     * counter-clockwise seen from +Z). */
    fx_mesh a;
    fx_grid(&a, 8, -1, -1, 1, 1, 2.0f, 0.2f, 3, 1);
    size_t n = (size_t)a.vertex_count * 3;
    float *pos = fx_alloc(n * sizeof(float)), *nrm = fx_alloc(n * sizeof(float));
    morph(&a, &a, 0.25f, pos, nrm);
    for (size_t i = 0; i < n; i += 3) {
        CHECK_INT(0, nrm[i] != 0.0f);
        CHECK_INT(0, nrm[i + 1] != 0.0f);
        CHECK_NEAR(1.0, nrm[i + 2], 0.0);
    }
    /* Reversed winding gives -Z. */
    for (uint32_t f = 0; f < a.triangle_count; f++) {
        uint32_t tmp = a.tri[f * 3 + 1];
        a.tri[f * 3 + 1] = a.tri[f * 3 + 2];
        a.tri[f * 3 + 2] = tmp;
    }
    morph(&a, &a, 0.25f, pos, nrm);
    for (size_t i = 0; i < n; i += 3)
        CHECK_NEAR(-1.0, nrm[i + 2], 0.0);
    free(pos);
    free(nrm);
    fx_mesh_free(&a);
}

static void test_sphere_normals(void)
{
    /* Tiny and huge spheres: normals are radial either way (no underflow, no overflow). */
    const float scales[3] = {1e-4f, 1.0f, 1e4f};
    for (int s = 0; s < 3; s++) {
        float c[3] = {0.5f * scales[s], -2.0f * scales[s], 3.0f * scales[s]};
        fx_mesh a;
        fx_sphere(&a, 24, 48, c, scales[s]);
        size_t n = (size_t)a.vertex_count * 3;
        float *pos = fx_alloc(n * sizeof(float)), *nrm = fx_alloc(n * sizeof(float));
        morph(&a, &a, 0.0f, pos, nrm);
        /* The orientation of the winding decides the sign; the pole rows are skipped: their
         * copies of the pole point touch one sliver triangle or none. */
        double worst = 1.0, sign = 0;
        for (uint32_t v = 49; v < a.vertex_count - 49; v++) {
            double r[3], rl = 0;
            for (int k = 0; k < 3; k++) {
                r[k] = (double)pos[v * 3 + k] - c[k];
                rl += r[k] * r[k];
            }
            rl = sqrt(rl);
            double d = 0;
            for (int k = 0; k < 3; k++)
                d += r[k] / rl * nrm[v * 3 + k];
            if (sign == 0)
                sign = d > 0 ? 1 : -1;
            d *= sign;
            worst = d < worst ? d : worst;
        }
        if (worst < 0.995)
            fprintf(stderr, "sphere scale %g: worst normal . radial = %g\n", (double)scales[s],
                    worst);
        CHECK(worst > 0.995);
        free(pos);
        free(nrm);
        fx_mesh_free(&a);
    }
}

static void test_isolated(void)
{
    /* Vertex 3 is in no triangle; vertex 4 only in a degenerate one. */
    float pos[] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 5, 5, 5, 2, 2, 2};
    uint32_t tri[] = {0, 1, 2, 4, 4, 0};
    fx_mesh m = {5, 2, pos, tri, NULL};
    float out[15], nrm[15];
    morph(&m, &m, 0.5f, out, nrm);
    for (int k = 0; k < 3; k++) {
        CHECK_NEAR(0.0, nrm[9 + k], 0.0);
        CHECK_NEAR(0.0, nrm[12 + k], 0.0);
    }
    CHECK_NEAR(1.0, nrm[2], 0.0);
}

int main(void)
{
    test_endpoints();
    test_flat_normals();
    test_sphere_normals();
    test_isolated();
    return test_done();
}
