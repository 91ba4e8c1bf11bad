/*
 * test_opacity.c — material opacity as the loaders read it and hiding materials, on in-memory
 * inputs (pure: needs no shared data; test_opacity_data.c has the real files):
 *   - MTL: d, d -halo, Tr, d over Tr, the Tf-as-opacity rule and the files it must not fire on
 *     (all Tf 0 0 0, any other Tf value, an unused material's Tf), bad d values;
 *   - glTF through assimp: alphaMode OPAQUE (alpha ignored), BLEND (baseColorFactor alpha),
 *     MASK (all or nothing at alphaCutoff), no alphaMode;
 *   - the canonical form keeps opacities and the Tf note, and an opaque mesh encodes without
 *     them;
 *   - job_mesh_materials: transparency = 1 - opacity;
 *   - the per-frame mesh writers keep it (OBJ d, GLB alphaMode BLEND + alpha, FBX opacity),
 *     read back by our own readers;
 *   - mesh_clone copies everything, textures too;
 *   - mesh_hide_materials on a pair: triangles and the vertices only they used go, file
 *     numbers stay, materials of either mesh count, unknown names list the materials, hiding
 *     everything is refused.
 */
#include "test_util.h"

#include <string.h>

#include "jobs/job.h"
#include "mesh/image.h"
#include "mesh/mesh.h"
#include "mesh/write.h"

static md_limits limits;

static int material(const mesh *m, const char *name)
{
    for (uint32_t i = 0; i < mesh_material_count(m); i++)
        if (strcmp(mesh_material_name(m, i), name) == 0)
            return (int)i;
    fprintf(stderr, "no material '%s'\n", name);
    test_failures++;
    return 0;
}

/* An OBJ with one triangle per material named (space-separated in names, at most 8). */
static mesh *obj_with(const char *const *names, int count)
{
    char text[2048];
    size_t used = (size_t)snprintf(text, sizeof text, "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\n");
    for (int i = 0; i < count; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "usemtl %s\nf %d %d %d\n",
                                 names[i], 1 + (i % 2), 2 + (i % 2), 3 + (i % 2));
    mesh *m = NULL;
    md_error err;
    if (mesh_parse_obj(text, used, &limits, &m, &err) != 0) {
        fprintf(stderr, "cannot build the test mesh: %s\n", err.msg);
        exit(1);
    }
    return m;
}

/* Parses an exact-size copy of text into m's materials. */
static int parse_mtl(mesh *m, const char *text, md_error *err)
{
    size_t len = strlen(text);
    char *copy = md_malloc(len ? len : 1);
    memcpy(copy, text, len);
    md_error_clear(err);
    int rc = mesh_parse_mtl(m, copy, len, err);
    md_free(copy);
    return rc;
}

/* ---- MTL ---- */

static void test_mtl_d_tr(void)
{
    static const char *const names[] = {"half", "halo", "tr", "both", "plain"};
    mesh *m = obj_with(names, 5);
    md_error err;
    CHECK_OK(parse_mtl(m,
                       "newmtl half\nd 0.5\n"
                       "newmtl halo\nd -halo 0.25\n"
                       "newmtl tr\nTr 0.75\n"
                       "newmtl both\nTr 1\nd 1\n" /* d wins over Tr, whatever the order */
                       "newmtl plain\nKd 1 0 0\n",
                       &err),
             &err);
    CHECK_NEAR(0.5, mesh_material_opacity(m, (uint32_t)material(m, "half")), 1e-6);
    CHECK_NEAR(0.25, mesh_material_opacity(m, (uint32_t)material(m, "halo")), 1e-6);
    CHECK_NEAR(0.25, mesh_material_opacity(m, (uint32_t)material(m, "tr")), 1e-6);
    CHECK_NEAR(1.0, mesh_material_opacity(m, (uint32_t)material(m, "both")), 1e-6);
    CHECK_NEAR(1.0, mesh_material_opacity(m, (uint32_t)material(m, "plain")), 1e-6);
    CHECK_INT(0, mesh_opacity_from_tf(m));
    mesh_free(m);

    /* Out of range clamps; not a number fails with the line. */
    static const char *const one[] = {"a"};
    m = obj_with(one, 1);
    CHECK_OK(parse_mtl(m, "newmtl a\nd 1.5\n", &err), &err);
    CHECK_NEAR(1.0, mesh_material_opacity(m, 0), 1e-6);
    CHECK_INT(MD_EPARSE, parse_mtl(m, "newmtl a\n\nd half\n", &err));
    CHECK_MSG(&err, "line 3: 'd' needs a number from 0 to 1, got 'half'");
    CHECK_INT(MD_EPARSE, parse_mtl(m, "newmtl a\nTr\n", &err));
    CHECK_MSG(&err, "line 2: 'Tr' needs a number from 0 to 1");
    /* An unused material's bad d does not fail a load. */
    CHECK_OK(parse_mtl(m, "newmtl unused\nd nonsense\nnewmtl a\nd 0.1\n", &err), &err);
    CHECK_NEAR(0.1, mesh_material_opacity(m, 0), 1e-6);
    mesh_free(m);
}

static void test_mtl_tf_rule(void)
{
    static const char *const names[] = {"skin", "overlay", "lashes", "explicit"};
    md_error err;
    /* The Maya-style file: opaque ones Tf 1 1 1, overlays Tf 0 0 0; d still wins. */
    mesh *m = obj_with(names, 4);
    CHECK_OK(parse_mtl(m,
                       "newmtl skin\nTf 1.00 1.00 1.00\n"
                       "newmtl overlay\nTf 0.00 0.00 0.00\n"
                       "newmtl lashes\nTf 0\n"
                       "newmtl explicit\nTf 0 0 0\nd 0.6\n"
                       "newmtl unused\nTf 1 1 1\n",
                       &err),
             &err);
    CHECK_NEAR(1.0, mesh_material_opacity(m, (uint32_t)material(m, "skin")), 0);
    CHECK_NEAR(0.0, mesh_material_opacity(m, (uint32_t)material(m, "overlay")), 0);
    CHECK_NEAR(0.0, mesh_material_opacity(m, (uint32_t)material(m, "lashes")), 0);
    CHECK_NEAR(0.6, mesh_material_opacity(m, (uint32_t)material(m, "explicit")), 1e-6);
    CHECK_INT(1, mesh_opacity_from_tf(m));
    mesh_free(m);

    /* A spec-following file writes "no transmission" everywhere: Tf is the filter, opaque. */
    m = obj_with(names, 2);
    CHECK_OK(parse_mtl(m, "newmtl skin\nTf 0 0 0\nnewmtl overlay\nTf 0 0 0\n", &err), &err);
    CHECK_NEAR(1.0, mesh_material_opacity(m, 0), 0);
    CHECK_NEAR(1.0, mesh_material_opacity(m, 1), 0);
    CHECK_INT(0, mesh_opacity_from_tf(m));
    mesh_free(m);

    /* Any other Tf value anywhere in the file (an unused material's too) means a filter. */
    static const char *const others[] = {
        "newmtl skin\nTf 1 1 1\nnewmtl overlay\nTf 0.5 0.5 0.5\n",
        "newmtl skin\nTf 1 1 1\nnewmtl overlay\nTf 0 0 0\nnewmtl unused\nTf 0.9 1 1\n",
        "newmtl skin\nTf 1 1 1\nnewmtl overlay\nTf 0 0 1\n",
        "newmtl skin\nTf 1 1 1\nnewmtl overlay\nTf spectral glass.rfl\n",
        "newmtl skin\nTf 1 1 1\nnewmtl overlay\nTf xyz 0 0 0\n",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        m = obj_with(names, 2);
        CHECK_OK(parse_mtl(m, others[i], &err), &err);
        CHECK_NEAR(1.0, mesh_material_opacity(m, (uint32_t)material(m, "overlay")), 0);
        CHECK_INT(0, mesh_opacity_from_tf(m));
        mesh_free(m);
    }
}

/* ---- glTF ---- */

static size_t base64(const uint8_t *in, size_t len, char *out)
{
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = table[(v >> 18) & 63];
        out[o++] = table[(v >> 12) & 63];
        out[o++] = i + 1 < len ? table[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? table[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

/* Five triangles side by side, one per material: the alpha modes and their edge cases. */
static void test_gltf_alpha(void)
{
    float pos[5][9];
    for (int t = 0; t < 5; t++) {
        float x = 2.0f * (float)t;
        float tri[9] = {x, 0, 0, x + 1, 0, 0, x, 1, 0};
        memcpy(pos[t], tri, sizeof tri);
    }
    char b64[512];
    base64((const uint8_t *)pos, sizeof pos, b64);
    char accessors[2048] = "", prims[1024] = "";
    size_t ua = 0, up = 0;
    for (int t = 0; t < 5; t++) {
        ua += (size_t)snprintf(accessors + ua, sizeof accessors - ua,
                               "%s{\"bufferView\":0,\"byteOffset\":%d,\"componentType\":5126,"
                               "\"count\":3,\"type\":\"VEC3\",\"min\":[%d,0,0],\"max\":[%d,1,0]}",
                               t ? "," : "", 36 * t, 2 * t, 2 * t + 1);
        up += (size_t)snprintf(prims + up, sizeof prims - up,
                               "%s{\"attributes\":{\"POSITION\":%d},\"material\":%d}", t ? "," : "",
                               t, t);
    }
    char json[8192];
    int n = snprintf(
        json, sizeof json,
        "{\"asset\":{\"version\":\"2.0\"},\"scene\":0,\"scenes\":[{\"nodes\":[0]}],"
        "\"nodes\":[{\"mesh\":0}],\"meshes\":[{\"primitives\":[%s]}],"
        "\"materials\":["
        "{\"name\":\"opaque\",\"alphaMode\":\"OPAQUE\","
        "\"pbrMetallicRoughness\":{\"baseColorFactor\":[1,1,1,0.2]}},"
        "{\"name\":\"blend\",\"alphaMode\":\"BLEND\","
        "\"pbrMetallicRoughness\":{\"baseColorFactor\":[1,0,0,0.25]}},"
        "{\"name\":\"mask_low\",\"alphaMode\":\"MASK\",\"alphaCutoff\":0.5,"
        "\"pbrMetallicRoughness\":{\"baseColorFactor\":[1,1,1,0.3]}},"
        "{\"name\":\"mask_high\",\"alphaMode\":\"MASK\","
        "\"pbrMetallicRoughness\":{\"baseColorFactor\":[1,1,1,0.7]}},"
        "{\"name\":\"unsaid\",\"pbrMetallicRoughness\":{\"baseColorFactor\":[1,1,1,0.1]}}],"
        "\"buffers\":[{\"byteLength\":%zu,\"uri\":\"data:application/octet-stream;base64,%s\"}],"
        "\"bufferViews\":[{\"buffer\":0,\"byteLength\":%zu}],\"accessors\":[%s]}",
        prims, sizeof pos, b64, sizeof pos, accessors);
    CHECK(n > 0 && (size_t)n < sizeof json);
    mesh *m = NULL;
    md_error err;
    CHECK_OK(mesh_parse_assimp((const uint8_t *)json, strlen(json), "gltf", &limits, &m, &err),
             &err);
    if (m == NULL)
        return;
    CHECK_INT(5, mesh_material_count(m));
    CHECK_NEAR(1.0, mesh_material_opacity(m, (uint32_t)material(m, "opaque")), 0);
    CHECK_NEAR(0.25, mesh_material_opacity(m, (uint32_t)material(m, "blend")), 1e-6);
    CHECK_NEAR(0.0, mesh_material_opacity(m, (uint32_t)material(m, "mask_low")), 0);
    CHECK_NEAR(1.0, mesh_material_opacity(m, (uint32_t)material(m, "mask_high")), 0);
    /* No alphaMode is OPAQUE (the glTF default). */
    CHECK_NEAR(1.0, mesh_material_opacity(m, (uint32_t)material(m, "unsaid")), 0);
    CHECK_INT(0, mesh_opacity_from_tf(m));

    /* The engine's view: transparency = 1 - opacity. */
    eng_material *mats = NULL;
    CHECK_OK(job_mesh_materials(m, &mats, &err), &err);
    if (mats != NULL) {
        CHECK_NEAR(0.75, mats[material(m, "blend")].transparency, 1e-6);
        CHECK_NEAR(1.0, mats[material(m, "mask_low")].transparency, 0);
        CHECK_NEAR(0.0, mats[material(m, "opaque")].transparency, 0);
    }
    md_free(mats);
    mesh_free(m);
}

/* ---- Canonical form ---- */

static void test_canonical(void)
{
    static const char *const names[] = {"skin", "overlay", "half"};
    mesh *m = obj_with(names, 3);
    md_error err;
    CHECK_OK(
        parse_mtl(m, "newmtl skin\nTf 1 1 1\nnewmtl overlay\nTf 0 0 0\nnewmtl half\nd 0.5\n", &err),
        &err);
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_OK(mesh_encode_canonical(m, &bytes, &len, &err), &err);
    mesh *back = NULL;
    CHECK_OK(mesh_decode_canonical(bytes, len, &limits, &back, &err), &err);
    if (back != NULL) {
        for (uint32_t i = 0; i < 3; i++)
            CHECK_NEAR(mesh_material_opacity(m, i), mesh_material_opacity(back, i), 0);
        CHECK_INT(1, mesh_opacity_from_tf(back));
    }
    mesh_free(back);
    md_free(bytes);
    mesh_free(m);

    /* Opaque: no opacity section, flags 0, as before opacity was read. */
    m = obj_with(names, 2);
    CHECK_OK(mesh_encode_canonical(m, &bytes, &len, &err), &err);
    CHECK_INT(0, bytes[40] | bytes[41] | bytes[42] | bytes[43]);
    CHECK_OK(mesh_decode_canonical(bytes, len, &limits, &back, &err), &err);
    if (back != NULL)
        CHECK_NEAR(1.0, mesh_material_opacity(back, 1), 0);
    mesh_free(back);
    md_free(bytes);
    mesh_free(m);
}

/* ---- Writers: per-frame meshes keep the opacity ---- */

static const mesh_file *file_named(const mesh_files *files, const char *suffix)
{
    for (uint32_t i = 0; i < files->count; i++) {
        size_t n = strlen(files->files[i].name), k = strlen(suffix);
        if (n >= k && strcmp(files->files[i].name + n - k, suffix) == 0)
            return &files->files[i];
    }
    fprintf(stderr, "no written file ending in %s\n", suffix);
    test_failures++;
    return NULL;
}

static void test_writers(void)
{
    static const char *const names[] = {"skin", "veil"};
    mesh *m = obj_with(names, 2);
    md_error err;
    CHECK_OK(parse_mtl(m, "newmtl veil\nd 0.25\n", &err), &err);
    float normal[12] = {0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1};
    const float kd[2][3] = {{0.8f, 0.8f, 0.8f}, {0.2f, 0.4f, 0.6f}};
    uint8_t *png[2] = {NULL, NULL};
    size_t png_len[2] = {0, 0};
    mesh_write_input in = {m, mesh_positions(m), normal, kd, png, png_len, NULL};
    int (*const writers[3])(const mesh_write_input *, const char *, mesh_files *,
                            md_error *) = {mesh_write_obj, mesh_write_glb, mesh_write_fbx};
    static const char *const exts[3] = {".mtl", ".glb", ".fbx"};
    for (int w = 0; w < 3; w++) {
        mesh_files files = {0};
        CHECK_OK(writers[w](&in, "frame", &files, &err), &err);
        const mesh_file *f = file_named(&files, exts[w]);
        mesh *back = NULL;
        if (f != NULL && w == 0) {
            back = obj_with(names, 2);
            CHECK_OK(mesh_parse_mtl(back, (const char *)f->bytes, f->len, &err), &err);
        } else if (f != NULL) {
            CHECK_OK(mesh_parse_assimp(f->bytes, f->len, exts[w] + 1, &limits, &back, &err), &err);
        }
        if (back != NULL) {
            int veils = 0;
            for (uint32_t i = 0; i < mesh_material_count(back); i++) {
                int veil = strcmp(mesh_material_name(back, i), "veil") == 0;
                float expected = veil ? 0.25f : 1.0f;
                veils += veil;
                float got = mesh_material_opacity(back, i);
                if (got < expected - 1e-6f || got > expected + 1e-6f) {
                    fprintf(stderr, "%s: material %s: expected opacity %g, got %g\n", exts[w],
                            mesh_material_name(back, i), (double)expected, (double)got);
                    test_failures++;
                }
            }
            CHECK_INT(1, veils);
        }
        mesh_free(back);
        mesh_files_free(&files);
    }
    mesh_free(m);
}

/* ---- Hiding ---- */

/* A strip of 4 triangles over 6 vertices: materials per triangle as given by mats (one
 * character each: a, b, c). */
static mesh *strip(const char *mats)
{
    char text[1024];
    size_t used = (size_t)snprintf(text, sizeof text,
                                   "v 0 0 0\nv 0 1 0\nv 1 0 0\nv 1 1 0\nv 2 0 0\nv 2 1 0\n");
    static const char *const faces[] = {"f 1 3 2\n", "f 2 3 4\n", "f 3 5 4\n", "f 4 5 6\n"};
    for (int t = 0; t < 4; t++)
        used += (size_t)snprintf(text + used, sizeof text - used, "usemtl mat_%c\n%s", mats[t],
                                 faces[t]);
    mesh *m = NULL;
    md_error err;
    if (mesh_parse_obj(text, used, &limits, &m, &err) != 0) {
        fprintf(stderr, "cannot build the strip: %s\n", err.msg);
        exit(1);
    }
    return m;
}

static void test_hide(void)
{
    md_error err;
    mesh_hide_stats st;
    /* The source hides its first triangle by mat_b, the target its last by mat_c: both go from
     * both meshes; vertex 1 (used only by triangle 0) and vertex 6 (only by triangle 3) go. */
    mesh *a = strip("baaa"), *b = strip("aaac");
    const char *names[] = {"mat_b", "mat_c"};
    CHECK_OK(mesh_hide_materials(a, b, names, 2, &st, &err), &err);
    CHECK_INT(2, st.triangles);
    CHECK_INT(2, st.vertices);
    CHECK_INT(2, mesh_triangle_count(a));
    CHECK_INT(2, mesh_triangle_count(b));
    CHECK_INT(4, mesh_vertex_count(a));
    CHECK_INT(4, mesh_vertex_count(b));
    CHECK_OK(mesh_check_topology(a, b, &err), &err);
    /* Kept vertices are file vertices 2..5 (1-based 2..5 -> 0-based 1..4), in order. */
    for (uint32_t v = 0; v < 4; v++)
        CHECK_INT(v + 1, mesh_file_vertex(a, v));
    CHECK_NEAR(0.0, mesh_positions(a)[0], 0); /* file vertex 2 is (0, 1, 0) */
    CHECK_NEAR(1.0, mesh_positions(a)[1], 0);
    const uint32_t *tri = mesh_triangles(a); /* "f 2 3 4" -> (0, 1, 2) */
    CHECK_INT(0, tri[0]);
    CHECK_INT(1, tri[1]);
    CHECK_INT(2, tri[2]);
    mesh_free(a);
    mesh_free(b);

    /* mesh_clone: an equal, independent copy; hiding the copy leaves the original whole. */
    a = strip("baaa");
    mesh *copy = NULL;
    img *tex = img_new(2, 2);
    memset(img_pixels(tex), 77, 16);
    mesh_material_set_texture(a, 1, tex);
    CHECK_OK(mesh_clone(a, &copy, &err), &err);
    if (copy != NULL) {
        CHECK_INT(mesh_vertex_count(a), mesh_vertex_count(copy));
        CHECK_INT(mesh_triangle_count(a), mesh_triangle_count(copy));
        CHECK(memcmp(mesh_positions(a), mesh_positions(copy), 18 * sizeof(float)) == 0);
        CHECK(memcmp(mesh_triangles(a), mesh_triangles(copy), 12 * sizeof(uint32_t)) == 0);
        CHECK_STR("mat_a", mesh_material_name(copy, 1));
        const img *t = mesh_material_texture(copy, 1);
        CHECK(t != NULL && t != mesh_material_texture(a, 1));
        if (t != NULL)
            CHECK_INT(77, img_pixels_const(t)[15]);
        const char *hide_b[] = {"mat_b"};
        CHECK_OK(mesh_hide_materials(copy, NULL, hide_b, 1, &st, &err), &err);
        CHECK_INT(3, mesh_triangle_count(copy));
        CHECK_INT(4, mesh_triangle_count(a));
    }
    mesh_free(copy);
    mesh_free(a);

    /* Nothing named: nothing changes. */
    a = strip("abab");
    CHECK_OK(mesh_hide_materials(a, NULL, names, 0, &st, &err), &err);
    CHECK_INT(4, mesh_triangle_count(a));
    CHECK_INT(0, st.triangles);

    /* A name in neither mesh: the message lists the materials. */
    const char *typo[] = {"mat_x"};
    b = strip("abab");
    CHECK_INT(MD_EINVAL, mesh_hide_materials(a, b, typo, 1, &st, &err));
    CHECK_MSG(&err, "no material 'mat_x' in either mesh; both have mat_a, mat_b");
    mesh_free(b);
    b = strip("cccc");
    CHECK_INT(MD_EINVAL, mesh_hide_check(a, b, typo, 1, &err));
    CHECK_MSG(&err, "the source has mat_a, mat_b, the target mat_c");
    CHECK_INT(4, mesh_triangle_count(a)); /* a failed check changes nothing */

    /* Everything hidden is refused before anything changes. */
    const char *all[] = {"mat_a", "mat_c"};
    CHECK_INT(MD_EINVAL, mesh_hide_materials(a, b, all, 2, &st, &err));
    CHECK_MSG(&err, "leaves no triangle to render");
    CHECK_INT(4, mesh_triangle_count(a));
    mesh_free(a);
    mesh_free(b);
}

int main(void)
{
    md_limits_default(&limits);
    test_mtl_d_tr();
    test_mtl_tf_rule();
    test_gltf_alpha();
    test_canonical();
    test_writers();
    test_hide();
    return test_done();
}
