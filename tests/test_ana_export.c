/*
 * test_ana_export.c — per-frame mesh export (analysis/mesh_export.c): a textured pair exported
 * at t = 0, 0.5 and 1 as OBJ (+MTL+PNG), GLB and FBX and read back with our own loaders
 * (mesh_load for the OBJ written to disk, mesh_parse_assimp for GLB and FBX): counts, positions
 * lerp(A, B, t) corner by corner, A's UVs, the blended texture texel by texel; a caricature and
 * an anti-face (t = 1.5, -0.5) against A + t (B - A) and the L*a*b* extrapolation of the
 * textures, and shape 0 with texture 1 (A's shape, B's texture). Then the fallback
 * to A's texture when the UV layouts differ, bad arguments, and the ICT pair with the 2048² skin
 * textures (skipped when the shared data is absent), with timings.
 */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "analysis/analysis.h"
#include "mesh/image.h"
#include "mesh/mesh.h"
#include "test_util.h"

#define GRID 12 /* vertices per side */
#define TEX_W 64
#define TEX_H 48

static md_limits limits;

/* A GRID x GRID sheet with a bump (A) or a dent and a shift (B), UVs per vertex, one material;
 * uv_shift moves B's UVs (a different layout). */
static mesh *make_sheet(int which, float uv_shift)
{
    char *text = md_malloc(1 << 20);
    size_t n = 0;
    n += (size_t)sprintf(text + n, "mtllib sheet.mtl\n");
    for (int j = 0; j < GRID; j++)
        for (int i = 0; i < GRID; i++) {
            float x = (float)i / (GRID - 1) * 2 - 1, y = (float)j / (GRID - 1) * 2 - 1;
            float z = (which ? -0.3f : 0.5f) * expf(-(x * x + y * y) * 2);
            n += (size_t)sprintf(text + n, "v %.6f %.6f %.6f\n", x + (which ? 0.25f : 0),
                                 y * (which ? 1.1f : 1), z);
        }
    for (int j = 0; j < GRID; j++)
        for (int i = 0; i < GRID; i++)
            n +=
                (size_t)sprintf(text + n, "vt %.6f %.6f\n", (float)i / (GRID - 1) * 0.9f + uv_shift,
                                (float)j / (GRID - 1) * 0.8f + 0.1f);
    n += (size_t)sprintf(text + n, "usemtl skin\n");
    for (int j = 0; j + 1 < GRID; j++)
        for (int i = 0; i + 1 < GRID; i++) {
            int v0 = j * GRID + i + 1, v1 = v0 + 1, v2 = v0 + GRID, v3 = v2 + 1;
            n += (size_t)sprintf(text + n, "f %d/%d %d/%d %d/%d\nf %d/%d %d/%d %d/%d\n", v0, v0, v1,
                                 v1, v3, v3, v0, v0, v3, v3, v2, v2);
        }
    mesh *m = NULL;
    md_error err = {0};
    CHECK_OK(mesh_parse_obj(text, n, &limits, &m, &err), &err);
    md_free(text);
    if (m == NULL)
        exit(1);
    img *tex = img_new(TEX_W, TEX_H);
    uint8_t *px = img_pixels(tex);
    for (int y = 0; y < TEX_H; y++)
        for (int x = 0; x < TEX_W; x++) {
            uint8_t *p = px + 4 * ((size_t)y * TEX_W + x);
            p[0] = (uint8_t)(which ? 20 + x : 200 - x);
            p[1] = (uint8_t)(which ? 3 * y : 255 - 2 * y);
            p[2] = (uint8_t)(which ? 250 : (x * y) % 256);
            p[3] = 255;
        }
    mesh_material_set_texture(m, 0, tex);
    return m;
}

static int write_files(const char *dir, const ana_export_files *files)
{
    md_error err = {0};
    for (uint32_t i = 0; i < files->count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files->files[i].name);
        int rc = md_write_file_atomic(path, files->files[i].bytes, files->files[i].len, &err);
        CHECK_OK(rc, &err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static const ana_file *find_file(const ana_export_files *files, const char *suffix)
{
    for (uint32_t i = 0; i < files->count; i++) {
        size_t n = strlen(files->files[i].name), k = strlen(suffix);
        if (n >= k && strcmp(files->files[i].name + n - k, suffix) == 0)
            return &files->files[i];
    }
    return NULL;
}

/* Exports a→b at shape weight t and texture weight u in fmt and reads it back with our
 * loaders. */
static mesh *export_and_reload_split(const mesh *a, const mesh *b, float t, float u,
                                     ana_mesh_format fmt, const char *dir, const char *base,
                                     double *export_s)
{
    ana_export_files files = {0};
    md_error err = {0};
    mesh *r = NULL;
    double t0 = md_now();
    int rc = ana_export_frame_mesh(a, b, t, u, fmt, base, NULL, &files, &err);
    if (export_s != NULL)
        *export_s = md_now() - t0;
    CHECK_OK(rc, &err);
    if (rc != 0)
        goto done;
    if (fmt == ANA_MESH_OBJ) {
        CHECK_INT(3, files.count); /* .obj .mtl .png */
        CHECK(find_file(&files, ".mtl") != NULL && find_file(&files, ".png") != NULL);
        const ana_file *mtl = find_file(&files, ".mtl");
        if (mtl != NULL) {
            char want[256];
            snprintf(want, sizeof want, "map_Kd %s.png", base);
            CHECK(memmem(mtl->bytes, mtl->len, want, strlen(want)) != NULL);
        }
        if (write_files(dir, &files) != 0)
            goto done;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.obj", dir, base);
        CHECK_OK(mesh_load(path, &limits, &r, &err), &err);
    } else {
        CHECK_INT(1, files.count);
        const ana_file *f = find_file(&files, fmt == ANA_MESH_GLB ? ".glb" : ".fbx");
        CHECK(f != NULL);
        if (f == NULL)
            goto done;
        if (fmt == ANA_MESH_GLB)
            CHECK(f->len > 12 && memcmp(f->bytes, "glTF", 4) == 0);
        CHECK_OK(mesh_parse_assimp(f->bytes, f->len, ana_mesh_format_name(fmt), &limits, &r, &err),
                 &err);
    }
done:
    ana_export_files_free(&files);
    return r;
}

static mesh *export_and_reload(const mesh *a, const mesh *b, float t, ana_mesh_format fmt,
                               const char *dir, const char *base, double *export_s)
{
    return export_and_reload_split(a, b, t, t, fmt, dir, base, export_s);
}

/* Geometry and UVs of r against lerp(a, b, t) and a's UVs, corner by corner (reloaded vertices
 * may be numbered differently; triangles keep their order). Returns the largest position error. */
static double check_geometry(const mesh *r, const mesh *a, const mesh *b, float t, double tol)
{
    CHECK_INT(mesh_vertex_count(a), mesh_vertex_count(r));
    CHECK_INT(mesh_triangle_count(a), mesh_triangle_count(r));
    if (mesh_triangle_count(a) != mesh_triangle_count(r))
        return INFINITY;
    const float *pa = mesh_positions(a), *pb = mesh_positions(b), *pr = mesh_positions(r);
    const uint32_t *ta = mesh_triangles(a), *tr = mesh_triangles(r);
    const float *ua = mesh_uvs(a), *ur = mesh_uvs(r);
    const uint32_t *qa = mesh_triangle_uvs(a), *qr = mesh_triangle_uvs(r);
    CHECK(qr != NULL);
    double worst = 0, worst_uv = 0;
    for (size_t c = 0; c < 3 * (size_t)mesh_triangle_count(a); c++) {
        for (int k = 0; k < 3; k++) {
            double want = (1.0 - t) * pa[3 * ta[c] + k] + t * pb[3 * ta[c] + k];
            worst = fmax(worst, fabs(want - pr[3 * tr[c] + k]));
        }
        for (int k = 0; k < 2 && qr != NULL; k++)
            worst_uv = fmax(worst_uv, fabs(ua[2 * qa[c] + k] - ur[2 * qr[c] + k]));
    }
    CHECK_NEAR(0, worst, tol);
    CHECK_NEAR(0, worst_uv, 1e-6);
    return worst;
}

/* r's texture against lerp(texture_a, texture_b, t) (b NULL: a's exactly); max difference. */
static int check_texture(const mesh *r, const img *ta, const img *tb, float t)
{
    const img *tex = mesh_material_texture(r, 0);
    CHECK(tex != NULL);
    if (tex == NULL)
        return 255;
    CHECK_INT(img_width(ta), img_width(tex));
    CHECK_INT(img_height(ta), img_height(tex));
    if (img_width(ta) != img_width(tex) || img_height(ta) != img_height(tex))
        return 255;
    const uint8_t *pa = img_pixels_const(ta), *pr = img_pixels_const(tex);
    const uint8_t *pb = tb ? img_pixels_const(tb) : pa;
    int worst = 0;
    for (size_t i = 0; i < (size_t)img_width(ta) * img_height(ta) * 4; i++) {
        double want = (1.0 - t) * pa[i] + t * pb[i];
        int d = (int)ceil(fabs(want - pr[i]));
        worst = d > worst ? d : worst;
    }
    CHECK(worst <= (t == 0.0f || t == 1.0f ? 0 : 1));
    return worst;
}

static void test_formats(void)
{
    mesh *a = make_sheet(0, 0), *b = make_sheet(1, 0);
    const char *dir = test_tmpdir("ana_export");
    const float ts[3] = {0.0f, 0.5f, 1.0f};
    char why[200];
    CHECK_INT(1, ana_export_texture_blends(a, b, why, sizeof why));
    for (int f = 0; f < 3; f++)
        for (int i = 0; i < 3; i++) {
            char base[64];
            snprintf(base, sizeof base, "%04d_sheetA-%04d_sheetB-%04d", i,
                     (int)lroundf(1000 * (1 - ts[i])), (int)lroundf(1000 * ts[i]));
            mesh *r = export_and_reload(a, b, ts[i], (ana_mesh_format)f, dir, base, NULL);
            CHECK(r != NULL);
            if (r == NULL)
                continue;
            /* OBJ writes %.9g (exact); GLB stores the floats; FBX goes through doubles. */
            double err_pos = check_geometry(r, a, b, ts[i], 1e-5);
            int err_tex =
                check_texture(r, mesh_material_texture(a, 0), mesh_material_texture(b, 0), ts[i]);
            printf("%s t=%.1f: %u vertices, %u triangles, position error %.2g, texel error %d\n",
                   ana_mesh_format_name((ana_mesh_format)f), (double)ts[i], mesh_vertex_count(r),
                   mesh_triangle_count(r), err_pos, err_tex);
            mesh_free(r);
        }
    mesh_free(a);
    mesh_free(b);
}

/* L*a*b* of an sRGB byte triple, by analysis/color.c (double precision, a separate
 * implementation from the engine's float one in gpu/texel.h). */
static void byte_lab(const uint8_t *px, double lab[3])
{
    double lin[3];
    for (int k = 0; k < 3; k++)
        lin[k] = ana_srgb_to_linear(px[k] / 255.0);
    ana_linear_rgb_to_lab(lin, lab);
}

/* Caricature and anti-face: the exported mesh at t = 1.5 and -0.5 is A + t (B - A) to float
 * precision, and its texture is the L*a*b* extrapolation of the two textures: every texel's
 * lightness is the extrapolated L* (clamped to 0..100) and its hue the extrapolated hue, with at
 * most the extrapolated chroma (less where the sRGB gamut ends). Then the split: shape weight
 * 0, texture weight 1 gives A's positions exactly with B's texture exactly. */
static void test_extrapolation(void)
{
    mesh *a = make_sheet(0, 0), *b = make_sheet(1, 0);
    const char *dir = test_tmpdir("ana_export_extrapolate");
    const float ts[2] = {-0.5f, 1.5f};
    const uint8_t *pa = img_pixels_const(mesh_material_texture(a, 0));
    const uint8_t *pb = img_pixels_const(mesh_material_texture(b, 0));
    for (int i = 0; i < 2; i++) {
        const float t = ts[i];
        mesh *r =
            export_and_reload(a, b, t, ANA_MESH_OBJ, dir, i ? "caricature" : "antiface", NULL);
        CHECK(r != NULL);
        if (r == NULL)
            continue;
        /* Float precision: |A + t (B - A)| < 2 here, so a few ulp of 2 (OBJ keeps %.9g). */
        double worst = check_geometry(r, a, b, t, 1e-6);
        const img *tex = mesh_material_texture(r, 0);
        CHECK(tex != NULL);
        double worst_l = 0, worst_hue = 0, worst_chroma_excess = 0, worst_in_gamut = 0;
        size_t clipped = 0, n = (size_t)TEX_W * TEX_H;
        for (size_t k = 0; tex != NULL && k < n; k++) {
            double la[3], lb[3], lr[3], want[3];
            byte_lab(pa + 4 * k, la);
            byte_lab(pb + 4 * k, lb);
            byte_lab(img_pixels_const(tex) + 4 * k, lr);
            for (int c = 0; c < 3; c++)
                want[c] = (1.0 - t) * la[c] + t * lb[c];
            double l_want = want[0] < 0 ? 0 : want[0] > 100 ? 100 : want[0];
            double c_want = hypot(want[1], want[2]), c_got = hypot(lr[1], lr[2]);
            worst_l = fmax(worst_l, fabs(l_want - lr[0]));
            worst_chroma_excess = fmax(worst_chroma_excess, c_got - c_want);
            if (c_got > 10 && c_want > 10) {
                double d = fabs(atan2(lr[2], lr[1]) - atan2(want[2], want[1]));
                d = fmin(d, 2 * M_PI - d) * 180 / M_PI;
                worst_hue = fmax(worst_hue, d);
            }
            if (c_got < c_want - 1.5)
                clipped++;
            else
                worst_in_gamut =
                    fmax(worst_in_gamut, fmax(fabs(want[1] - lr[1]), fabs(want[2] - lr[2])));
        }
        printf("t=%.1f: position error %.2g; texture vs L*a*b* extrapolation: L* error %.2f, hue "
               "error %.2f deg, chroma excess %.2f, a*b* error where not clipped %.2f, %zu of %zu "
               "texels gamut-clipped\n",
               (double)t, worst, worst_l, worst_hue, worst_chroma_excess, worst_in_gamut, clipped,
               n);
        /* Byte rounding moves L* by at most ~0.4 and a*, b* by ~1.5 near black; allow some. */
        CHECK_NEAR(0, worst_l, 1.0);
        CHECK_NEAR(0, worst_hue, 3.0);
        CHECK(worst_chroma_excess < 1.5);
        CHECK_NEAR(0, worst_in_gamut, 1.5);
        CHECK(clipped > 0); /* this pair's caricature leaves the gamut somewhere */
        mesh_free(r);
    }

    /* Shape 0, texture 1: A's shape exactly, B's texture exactly. */
    mesh *r = export_and_reload_split(a, b, 0.0f, 1.0f, ANA_MESH_OBJ, dir, "split", NULL);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_NEAR(0, check_geometry(r, a, a, 0.0f, 0.0), 0.0);
        CHECK_INT(0, check_texture(r, mesh_material_texture(b, 0), NULL, 0.0f));
    }
    mesh_free(r);
    mesh_free(a);
    mesh_free(b);
}

static void test_fallback_and_errors(void)
{
    mesh *a = make_sheet(0, 0), *b = make_sheet(1, 0.05f);
    const char *dir = test_tmpdir("ana_export_fallback");
    char why[200];
    md_error err = {0};
    CHECK_INT(0, ana_export_texture_blends(a, b, why, sizeof why));
    CHECK(strstr(why, "texture coordinate") != NULL);
    for (int f = 0; f < 3; f++) {
        mesh *r = export_and_reload(a, b, 0.5f, (ana_mesh_format)f, dir, "fallback", NULL);
        if (r != NULL) {
            check_geometry(r, a, b, 0.5f, 1e-5);
            check_texture(r, mesh_material_texture(a, 0), NULL, 0.0f);
        }
        mesh_free(r);
    }

    ana_export_files files = {0};
    CHECK_INT(MD_EINVAL,
              ana_export_frame_mesh(a, b, 0.5f, 0.5f, ANA_MESH_OBJ, "../up", NULL, &files, &err));
    CHECK_MSG(&err, "[A-Za-z0-9._-]");
    CHECK_INT(MD_EINVAL,
              ana_export_frame_mesh(a, b, 3.5f, 0.5f, ANA_MESH_GLB, "x", NULL, &files, &err));
    CHECK_MSG(&err, "shape weight 3.5 is not in [-3, 3]");
    CHECK_INT(MD_EINVAL,
              ana_export_frame_mesh(a, b, 0.5f, -3.25f, ANA_MESH_GLB, "x", NULL, &files, &err));
    CHECK_MSG(&err, "texture weight -3.25 is not in [-3, 3]");
    CHECK_INT(0, files.count);
    ana_mesh_format fmt;
    CHECK_INT(0, ana_mesh_format_parse("glb", &fmt, &err));
    CHECK_INT(ANA_MESH_GLB, fmt);
    CHECK_INT(MD_EINVAL, ana_mesh_format_parse("stl", &fmt, &err));
    CHECK_MSG(&err, "obj, glb or fbx");

    /* A different topology is refused. */
    const char *tri = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n";
    mesh *small = NULL;
    CHECK_OK(mesh_parse_obj(tri, strlen(tri), &limits, &small, &err), &err);
    CHECK_INT(MD_ETOPOLOGY,
              ana_export_frame_mesh(a, small, 0.5f, 0.5f, ANA_MESH_OBJ, "x", NULL, &files, &err));
    mesh_free(small);
    mesh_free(a);
    mesh_free(b);
}

static mesh *load_ict(const char *obj, const char *skin)
{
    md_error err = {0};
    mesh *m = NULL;
    img *tex = NULL;
    CHECK_OK(mesh_load(obj, &limits, &m, &err), &err);
    CHECK_OK(img_load(skin, &limits, &tex, &err), &err);
    if (m == NULL || tex == NULL) {
        img_free(tex);
        mesh_free(m);
        return NULL;
    }
    CHECK_OK(mesh_set_texture(m, tex, &err), &err);
    return m;
}

static void test_ict(void)
{
    const char *paths[5] = {"faces/ict/ict_face_identity_A.obj",
                            "faces/ict/ict_face_identity_B.obj", "textures/skin_A.png",
                            "textures/skin_B.png", "faces/ict/ict_neutral_face.obj"};
    char full[5][4096];
    for (int i = 0; i < 5; i++) {
        const char *p = test_data_try(paths[i]);
        if (p == NULL) {
            printf("ICT: %s is absent, skipped\n", paths[i]);
            return;
        }
        snprintf(full[i], sizeof full[i], "%s", p);
    }
    mesh *a = load_ict(full[0], full[2]), *b = load_ict(full[1], full[3]);
    mesh *neutral = NULL;
    md_error err = {0};
    CHECK_OK(mesh_load(full[4], &limits, &neutral, &err), &err);
    const char *dir = test_tmpdir("ana_export_ict");
    for (int f = 0; a != NULL && b != NULL && f < 3; f++) {
        double export_s = 0;
        mesh *r =
            export_and_reload(a, b, 0.5f, (ana_mesh_format)f, dir,
                              "0020_ict_face_identity_A-0500_ict_face_identity_B-0500", &export_s);
        if (r == NULL)
            continue;
        double worst = check_geometry(r, a, b, 0.5f, 1e-4);
        int texel =
            check_texture(r, mesh_material_texture(a, 0), mesh_material_texture(b, 0), 0.5f);
        /* The dataset's oracle: the 50 % morph of A and B is the neutral face. */
        double oracle = 0;
        if (neutral != NULL && mesh_vertex_count(neutral) == mesh_vertex_count(r)) {
            const float *pn = mesh_positions(neutral), *pr = mesh_positions(r);
            const uint32_t *tn = mesh_triangles(neutral), *tr = mesh_triangles(r);
            for (size_t c = 0; c < 3 * (size_t)mesh_triangle_count(r); c++)
                for (int k = 0; k < 3; k++)
                    oracle = fmax(oracle, fabs(pn[3 * tn[c] + k] - pr[3 * tr[c] + k]));
            CHECK_NEAR(0, oracle, 1e-4);
        }
        printf("ICT t=0.5 %s: export %.0f ms (2048^2 texture blend + PNG included), %u vertices, "
               "%u triangles, position error %.2g, neutral-face error %.2g, texel error %d\n",
               ana_mesh_format_name((ana_mesh_format)f), export_s * 1e3, mesh_vertex_count(r),
               mesh_triangle_count(r), worst, oracle, texel);
        mesh_free(r);
    }
    mesh_free(neutral);
    mesh_free(a);
    mesh_free(b);
}

int main(void)
{
    md_limits_default(&limits);
    test_formats();
    test_extrapolation();
    test_fallback_and_errors();
    test_ict();
    return test_done();
}
