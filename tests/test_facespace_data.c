/*
 * test_facespace_data.c — transforms and averages of the ICT faces (shared data) equal their
 * formulas: jobs/facespace.c's derived meshes are written as OBJ (job_face_write_obj), read back
 * with mesh_load, and every position compared with BASE + K·(B − A) or Σ wᵢ·Mᵢ computed here in
 * double; their textures, read back from the written PNG, with the same formulas per texel.
 * A third face C (a different identity: A and B mixed and bent, wearing a recoloured texture)
 * serves as BASE. Also the refusals: a topology mismatch naming both files, bad amounts and
 * weights, an average of one mesh.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <math.h>
#include <string.h>

#include "gpu/texel.h"
#include "jobs/facespace.h"
#include "mesh/image.h"
#include "mesh/mesh.h"

static md_limits lim;

static mesh *load(const char *path)
{
    mesh *m = NULL;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(mesh_load(path, &lim, &m, &err), &err);
    if (m != NULL)
        CHECK_OK(mesh_pad_textures(m, &err), &err);
    return m;
}

/* C: 0.3 of the way from A to B, bent by a smooth wave, with A's texture's channels rotated. */
static mesh *third_face(const mesh *a, const mesh *b)
{
    uint32_t nv = mesh_vertex_count(a);
    float *pos = md_malloc_array(nv, 3 * sizeof(float));
    const float *pa = mesh_positions(a), *pb = mesh_positions(b);
    for (uint32_t i = 0; i < nv; i++)
        for (int k = 0; k < 3; k++) {
            size_t j = 3 * (size_t)i + k;
            pos[j] = pa[j] + 0.3f * (pb[j] - pa[j]) + 0.4f * sinf(0.05f * pa[3 * (size_t)i + 1]);
        }
    mesh *c = NULL;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(mesh_derive(a, pos, &c, &err), &err);
    md_free(pos);
    for (uint32_t i = 0; c != NULL && i < mesh_material_count(a); i++) {
        const img *ta = mesh_material_texture(a, i);
        if (ta == NULL)
            continue;
        img *tc = img_new(img_width(ta), img_height(ta));
        const uint8_t *src = img_pixels_const(ta);
        uint8_t *dst = img_pixels(tc);
        size_t n = (size_t)img_width(ta) * (size_t)img_height(ta);
        for (size_t p = 0; p < n; p++) {
            dst[4 * p] = src[4 * p + 1];
            dst[4 * p + 1] = src[4 * p + 2];
            dst[4 * p + 2] = src[4 * p];
            dst[4 * p + 3] = src[4 * p + 3];
        }
        mesh_material_set_texture(c, i, tc);
    }
    return c;
}

/* Writes m as DIR/base.obj (+ .mtl, texture) and loads it back. */
static mesh *round_trip(const mesh *m, const char *dir, const char *base)
{
    mesh_files files = {0};
    md_error err;
    md_error_clear(&err);
    CHECK_OK(job_face_write_obj(m, base, 1, &files, &err), &err);
    char path[4096];
    for (uint32_t i = 0; i < files.count; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files.files[i].name);
        CHECK_OK(md_write_file_atomic(path, files.files[i].bytes, files.files[i].len, &err), &err);
    }
    mesh_files_free(&files);
    snprintf(path, sizeof path, "%s/%s.obj", dir, base);
    mesh *back = NULL;
    CHECK_OK(mesh_load(path, &lim, &back, &err), &err);
    return back;
}

/* The largest |got - expected| over every coordinate, relative to float precision of the
 * terms (|expected| + the magnitudes summed), in units of FLT_EPSILON. */
typedef struct pos_check {
    double worst_eps;
    uint32_t worst_index;
} pos_check;

static void check_position(pos_check *pc, size_t i, double expected, double scale, float got)
{
    double e = fabs((double)got - expected) / ((scale > 1e-30 ? scale : 1e-30) * 1.1920929e-7);
    if (e > pc->worst_eps) {
        pc->worst_eps = e;
        pc->worst_index = (uint32_t)i;
    }
}

static const img *texture_of(const mesh *m)
{
    for (uint32_t i = 0; i < mesh_material_count(m); i++)
        if (mesh_material_texture(m, i) != NULL)
            return mesh_material_texture(m, i);
    return NULL;
}

static void check_transform(const mesh *c, const mesh *a, const mesh *b, float k, const char *dir)
{
    const char *names[3] = {"C", "A", "B"};
    mesh *t = NULL;
    char note[JOB_FACE_NOTE_MAX];
    md_error err;
    md_error_clear(&err);
    CHECK_OK(job_face_transform(c, a, b, names, k, &t, note, &err), &err);
    if (t == NULL)
        return;
    CHECK_CONTAINS(note, ""); /* printed below when not empty */
    if (note[0] != '\0') {
        fprintf(stderr, "expected the textures combined, got the note '%s'\n", note);
        test_failures++;
    }
    char base[64];
    snprintf(base, sizeof base, "transform_%d", (int)lroundf(k * 1000));
    mesh *back = round_trip(t, dir, base);
    mesh_free(t);
    if (back == NULL)
        return;
    CHECK_INT(mesh_vertex_count(c), mesh_vertex_count(back));
    const float *pc = mesh_positions(c), *pa = mesh_positions(a), *pb = mesh_positions(b);
    const float *got = mesh_positions(back);
    pos_check worst = {0, 0};
    for (size_t i = 0; i < 3 * (size_t)mesh_vertex_count(c); i++) {
        double expected = (double)pc[i] + (double)k * ((double)pb[i] - (double)pa[i]);
        double scale = fabs((double)pc[i]) + fabs((double)k) * (fabs(pa[i]) + fabs(pb[i]));
        check_position(&worst, i, expected, scale, got[i]);
    }
    if (!(worst.worst_eps <= 4.0)) {
        fprintf(stderr,
                "transform k=%g: expected positions C + k(B - A) within 4 float epsilons, "
                "got %.2f at coordinate %u\n",
                (double)k, worst.worst_eps, worst.worst_index);
        test_failures++;
    }
    /* The texture: C's + k (B's - A's) in L*a*b*, gamut-clipped, texel by texel. */
    const img *tc = texture_of(c), *ta = texture_of(a), *tb = texture_of(b), *tt = texture_of(back);
    CHECK(tt != NULL);
    if (tt != NULL && tc != NULL) {
        CHECK_INT(img_width(tc), img_width(tt));
        CHECK_INT(img_height(tc), img_height(tt));
        size_t n = (size_t)img_width(tc) * (size_t)img_height(tc);
        int worst_diff = 0;
        size_t stride = n / 4099 + 1;
        for (size_t p = 0; p < n; p += stride) {
            float rgb[3][3], lab[3][3], out[3];
            const uint8_t *src[3] = {img_pixels_const(tc) + 4 * p, img_pixels_const(ta) + 4 * p,
                                     img_pixels_const(tb) + 4 * p};
            for (int s = 0; s < 3; s++) {
                for (int ch = 0; ch < 3; ch++)
                    rgb[s][ch] = (float)src[s][ch] / 255.0f;
                eng_srgb_to_lab(rgb[s], lab[s]);
            }
            eng_lab_to_srgb_clipped(lab[0][0] + k * (lab[2][0] - lab[1][0]),
                                    lab[0][1] + k * (lab[2][1] - lab[1][1]),
                                    lab[0][2] + k * (lab[2][2] - lab[1][2]), out);
            const uint8_t *g = img_pixels_const(tt) + 4 * p;
            for (int ch = 0; ch < 3; ch++) {
                int e = (int)lroundf(out[ch] * 255.0f);
                int d = abs(e - (int)g[ch]);
                worst_diff = d > worst_diff ? d : worst_diff;
            }
        }
        if (worst_diff > 1) {
            fprintf(stderr,
                    "transform k=%g: expected texels C + k(B - A) in L*a*b* within 1, "
                    "got a difference of %d\n",
                    (double)k, worst_diff);
            test_failures++;
        }
    }
    mesh_free(back);
}

static void check_average(const mesh *const *m, const char *dir)
{
    const char *names[3] = {"A", "B", "C"};
    double w[3];
    int normalised = 0;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(job_face_weights("1,2,1", "--mesh-weights", 3, w, &normalised, &err), &err);
    CHECK(normalised);
    CHECK_NEAR(0.5, w[1], 1e-15);
    mesh *avg = NULL;
    char note[JOB_FACE_NOTE_MAX];
    CHECK_OK(job_face_average(m, names, 3, w, &lim, &avg, note, &err), &err);
    if (avg == NULL)
        return;
    mesh *back = round_trip(avg, dir, "average");
    mesh_free(avg);
    if (back == NULL)
        return;
    pos_check worst = {0, 0};
    const float *got = mesh_positions(back);
    for (size_t i = 0; i < 3 * (size_t)mesh_vertex_count(m[0]); i++) {
        double expected = 0, scale = 0;
        for (int j = 0; j < 3; j++) {
            expected += w[j] * (double)mesh_positions(m[j])[i];
            scale += w[j] * fabs((double)mesh_positions(m[j])[i]);
        }
        check_position(&worst, i, expected, scale, got[i]);
    }
    if (!(worst.worst_eps <= 1.0)) {
        fprintf(stderr,
                "average: expected positions sum(w_i M_i) within 1 float epsilon, got "
                "%.2f at coordinate %u\n",
                worst.worst_eps, worst.worst_index);
        test_failures++;
    }
    const img *tt = texture_of(back);
    CHECK(tt != NULL);
    if (tt != NULL) {
        size_t n = 4 * (size_t)img_width(tt) * (size_t)img_height(tt);
        int worst_diff = 0;
        for (size_t i = 0; i < n; i++) {
            double e = 0;
            for (int j = 0; j < 3; j++)
                e += w[j] * img_pixels_const(texture_of(m[j]))[i];
            if (i % 4 == 3)
                continue; /* the written PNG is RGB when opaque: alpha reads back as 255 */
            int d = abs((int)lround(e) - (int)img_pixels_const(tt)[i]);
            worst_diff = d > worst_diff ? d : worst_diff;
        }
        if (worst_diff > 0) {
            fprintf(stderr,
                    "average: expected texels sum(w_i T_i) rounded, got a difference of "
                    "%d\n",
                    worst_diff);
            test_failures++;
        }
    }
    mesh_free(back);
}

static void check_refusals(const mesh *a, const mesh *b, const char *other_path)
{
    md_error err;
    md_error_clear(&err);
    mesh *other = load(other_path);
    if (other == NULL)
        return;
    const char *names[3] = {"base.obj", "a.obj", "canonical_face_model.obj"};
    mesh *t = NULL;
    char note[JOB_FACE_NOTE_MAX];
    CHECK_INT(MD_ETOPOLOGY, job_face_transform(a, b, other, names, 1.0f, &t, note, &err));
    CHECK_MSG(&err, "canonical_face_model.obj has 468 vertices, base.obj 9409");
    CHECK(t == NULL);
    CHECK_INT(MD_EINVAL, job_face_transform(a, a, b, names, 3.5f, &t, note, &err));
    CHECK_MSG(&err, "amount 3.5 is not in [-3, 3]");
    const mesh *two[2] = {a, other};
    const char *two_names[2] = {"a.obj", "mp.obj"};
    double w2[2] = {0.5, 0.5};
    CHECK_INT(MD_ETOPOLOGY, job_face_average(two, two_names, 2, w2, &lim, &t, note, &err));
    CHECK_MSG(&err, "mp.obj has 468 vertices, a.obj 9409");
    CHECK_INT(MD_EINVAL, job_face_average(two, two_names, 1, w2, &lim, &t, note, &err));
    CHECK_MSG(&err, "an average needs at least 2 meshes, got 1");
    md_limits small = lim;
    small.max_average_meshes = 1;
    CHECK_INT(MD_ELIMIT, job_face_average_count_ok(2, &small, &err));
    CHECK_MSG(&err, "at most 1 meshes, got 2");
    mesh_free(other);

    double w[3];
    int normalised;
    CHECK_INT(MD_EINVAL, job_face_weights("1,-1,1", "--mesh-weights", 3, w, &normalised, &err));
    CHECK_MSG(&err, "--mesh-weights: weight 2 is -1");
    CHECK_INT(MD_EINVAL, job_face_weights("0,0,0", "--mesh-weights", 3, w, &normalised, &err));
    CHECK_MSG(&err, "the weights sum to 0");
    CHECK_INT(MD_EINVAL, job_face_weights("1,1", "--mesh-weights", 3, w, &normalised, &err));
    CHECK_MSG(&err, "2 weight(s) for 3 meshes");
    CHECK_INT(MD_EINVAL, job_face_weights("1,x,1", "--mesh-weights", 3, w, &normalised, &err));
    CHECK_MSG(&err, "weight 2 ('x') is not a number");
    CHECK_OK(job_face_weights(NULL, "--mesh-weights", 3, w, &normalised, &err), &err);
    CHECK_NEAR(1.0 / 3.0, w[2], 1e-15);
    CHECK_INT(0, normalised);

    float *amounts = NULL;
    uint32_t count = 0;
    CHECK_INT(MD_EINVAL, job_face_amounts("0.5,abc", "--amount", &lim, &amounts, &count, &err));
    CHECK_MSG(&err, "--amount: amount 2 ('abc') must be a number from -3 to 3");
    CHECK_INT(MD_EINVAL, job_face_amounts("4", "--amount", &lim, &amounts, &count, &err));
    CHECK_MSG(&err, "amount 1 ('4')");
    CHECK_INT(MD_EINVAL, job_face_amounts("", "--amount", &lim, &amounts, &count, &err));
    CHECK_OK(job_face_amounts("-0.5,0,1.5", "--amount", &lim, &amounts, &count, &err), &err);
    CHECK_INT(3, count);
    if (count == 3)
        CHECK_NEAR(-0.5, amounts[0], 0);
    md_free(amounts);
    small.max_frames = 2;
    CHECK_INT(MD_ELIMIT, job_face_amounts("1,2,3", "--amount", &small, &amounts, &count, &err));

    char stem[64];
    CHECK_OK(job_face_output_stem("transformed", 0, 1, -0.5f, stem, sizeof stem), &err);
    CHECK_CONTAINS(stem, "transformed");
    CHECK_INT(11, (int)strlen(stem));
    CHECK_OK(job_face_output_stem("transformed", 0, 3, -0.5f, stem, sizeof stem), &err);
    CHECK_CONTAINS(stem, "transformed_0000_m0500");
    CHECK_OK(job_face_output_stem("transformed", 2, 3, 1.5f, stem, sizeof stem), &err);
    CHECK_CONTAINS(stem, "transformed_0002_1500");
}

int main(void)
{
    md_limits_default(&lim);
    char pa[4096], pb[4096], pm[4096];
    snprintf(pa, sizeof pa, "%s", test_data("faces/ict/ict_face_identity_A.obj"));
    snprintf(pb, sizeof pb, "%s", test_data("faces/ict/ict_face_identity_B.obj"));
    snprintf(pm, sizeof pm, "%s", test_data("faces/mediapipe/canonical_face_model.obj"));
    const char *dir = test_tmpdir("facespace_data");
    mesh *a = load(pa), *b = load(pb);
    if (a == NULL || b == NULL)
        return test_done();
    CHECK(texture_of(a) != NULL);
    mesh *c = third_face(a, b);
    if (c != NULL) {
        check_transform(c, a, b, -0.5f, dir);
        check_transform(c, a, b, 1.5f, dir);
        /* Amount 0 is C itself, bit for bit, texture included. */
        const char *names[3] = {"C", "A", "B"};
        mesh *t = NULL;
        char note[JOB_FACE_NOTE_MAX];
        md_error err;
        md_error_clear(&err);
        CHECK_OK(job_face_transform(c, a, b, names, 0.0f, &t, note, &err), &err);
        if (t != NULL) {
            CHECK(memcmp(mesh_positions(t), mesh_positions(c),
                         3 * sizeof(float) * mesh_vertex_count(c)) == 0);
            const img *tt = texture_of(t), *tc = texture_of(c);
            CHECK(tt != NULL && tc != NULL &&
                  memcmp(img_pixels_const(tt), img_pixels_const(tc),
                         4 * (size_t)img_width(tc) * (size_t)img_height(tc)) == 0);
            mesh_free(t);
        }
        const mesh *three[3] = {a, b, c};
        check_average(three, dir);
        /* A partner without a texture: the result is untextured, and the note says why. */
        mesh *bare = NULL;
        CHECK_OK(mesh_derive(b, mesh_positions(b), &bare, &err), &err);
        if (bare != NULL) {
            const char *bare_names[3] = {"C", "A", "bare_B"};
            CHECK_OK(job_face_transform(c, a, bare, bare_names, 1.0f, &t, note, &err), &err);
            CHECK_CONTAINS(note, "textures not combined");
            CHECK_CONTAINS(note, "has a texture in C but not in bare_B");
            CHECK(t != NULL && texture_of(t) == NULL);
            mesh_free(t);
            mesh_free(bare);
        }
    }
    check_refusals(a, b, pm);
    mesh_free(c);
    mesh_free(a);
    mesh_free(b);
    return test_done();
}
