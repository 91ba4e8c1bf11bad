/*
 * test_canon.c — the canonical mesh form (mesh/canon.c): a textured two-material OBJ made here
 * and an untextured one round-trip to identical arrays and texture pixels; every truncation
 * and a sweep of corrupted bytes fail cleanly (or decode to a valid mesh); targeted corruptions
 * give their messages; limits are enforced. Pure: needs no shared data (test_canon_data.c
 * round-trips the ICT face).
 *
 * `test_canon --write-seeds DIR` writes the fuzz seeds (tests/fuzz/corpus/fuzz_canon).
 */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh.h"

static md_limits limits;

static const char textured_obj[] = "mtllib m.mtl\n"
                                   "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0.5 0.5 0.25\n"
                                   "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvt 0.5 0.5\n"
                                   "usemtl skin\nf 1/1 2/2 5/5\nf 2/2 3/3 5/5\n"
                                   "usemtl plain\nf 3/3 4/4 5/5\nf 4/4 1/1 5/5\n";
static const char textured_mtl[] = "newmtl skin\nKd 0.9 0.7 0.6\nmap_Kd skin.png\n"
                                   "newmtl plain\nKd 0.2 0.4 0.6\n";
static const char plain_obj[] = "v 0 0 0\nv 2 0 0\nv 0 2 0\nv 0 0 2\nf 1 2 3\nf 1 3 4\nf 1 4 2\n";

static void die(const char *what, const md_error *err)
{
    fprintf(stderr, "%s: %s\n", what, err->msg);
    exit(1);
}

static mesh *make_textured(int tex_w, int tex_h)
{
    md_error err;
    mesh *m = NULL;
    if (mesh_parse_obj(textured_obj, strlen(textured_obj), &limits, &m, &err) != 0)
        die("textured obj", &err);
    if (mesh_parse_mtl(m, textured_mtl, strlen(textured_mtl), &err) != 0)
        die("textured mtl", &err);
    img *tex = img_new(tex_w, tex_h);
    uint8_t *px = img_pixels(tex);
    for (int i = 0; i < tex_w * tex_h * 4; i++)
        px[i] = (uint8_t)(i * 37 + i / 7);
    mesh_material_set_texture(m, 0, tex);
    if (mesh_pad_textures(m, &err) != 0)
        die("padding", &err);
    return m;
}

static mesh *make_plain(void)
{
    md_error err;
    mesh *m = NULL;
    if (mesh_parse_obj(plain_obj, strlen(plain_obj), &limits, &m, &err) != 0)
        die("plain obj", &err);
    return m;
}

static uint8_t *encode(const mesh *m, size_t *len)
{
    md_error err;
    uint8_t *bytes = NULL;
    if (mesh_encode_canonical(m, &bytes, len, &err) != 0)
        die("encode", &err);
    return bytes;
}

/* Decodes an exact-size copy (so ASan sees any read past the end). */
static int decode_copy(const uint8_t *bytes, size_t len, const md_limits *lim, mesh **out,
                       md_error *err)
{
    uint8_t *copy = md_malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    md_error_clear(err);
    *out = (mesh *)&limits; /* poison: the decoder must set NULL on failure */
    int rc = mesh_decode_canonical(copy, len, lim, out, err);
    md_free(copy);
    return rc;
}

#define SAME_ARRAY(a, b, n) CHECK(((a) == NULL && (b) == NULL) || memcmp((a), (b), (n)) == 0)

static void check_same(const mesh *a, const mesh *b)
{
    CHECK(strcmp(mesh_format(a), mesh_format(b)) == 0);
    CHECK_INT(mesh_vertex_count(a), mesh_vertex_count(b));
    CHECK_INT(mesh_triangle_count(a), mesh_triangle_count(b));
    CHECK_INT(mesh_uv_count(a), mesh_uv_count(b));
    CHECK_INT(mesh_material_count(a), mesh_material_count(b));
    if (mesh_vertex_count(a) != mesh_vertex_count(b) ||
        mesh_triangle_count(a) != mesh_triangle_count(b) || mesh_uv_count(a) != mesh_uv_count(b) ||
        mesh_material_count(a) != mesh_material_count(b))
        return;
    size_t v = mesh_vertex_count(a), t = mesh_triangle_count(a), u = mesh_uv_count(a);
    SAME_ARRAY(mesh_positions(a), mesh_positions(b), 12 * v);
    SAME_ARRAY(mesh_triangles(a), mesh_triangles(b), 12 * t);
    if (u > 0) {
        SAME_ARRAY(mesh_uvs(a), mesh_uvs(b), 8 * u);
        SAME_ARRAY(mesh_triangle_uvs(a), mesh_triangle_uvs(b), 12 * t);
    } else {
        CHECK(mesh_triangle_uvs(b) == NULL);
    }
    SAME_ARRAY(mesh_triangle_materials(a), mesh_triangle_materials(b), 2 * t);
    for (uint32_t i = 0; i < mesh_material_count(a); i++) {
        CHECK(strcmp(mesh_material_name(a, i), mesh_material_name(b, i)) == 0);
        float ca[3], cb[3];
        mesh_material_color(a, i, ca);
        mesh_material_color(b, i, cb);
        CHECK(memcmp(ca, cb, sizeof ca) == 0);
        const char *pa = mesh_material_texture_path(a, i), *pb = mesh_material_texture_path(b, i);
        CHECK((pa == NULL && pb == NULL) || (pa && pb && strcmp(pa, pb) == 0));
        const img *ta = mesh_material_texture(a, i), *tb = mesh_material_texture(b, i);
        CHECK((ta == NULL) == (tb == NULL));
        if (ta == NULL || tb == NULL)
            continue;
        CHECK_INT(img_width(ta), img_width(tb));
        CHECK_INT(img_height(ta), img_height(tb));
        if (img_width(ta) == img_width(tb) && img_height(ta) == img_height(tb))
            CHECK(memcmp(img_pixels_const(ta), img_pixels_const(tb),
                         (size_t)img_width(ta) * (size_t)img_height(ta) * 4) == 0);
    }
}

static void round_trip(const mesh *m)
{
    size_t len;
    uint8_t *bytes = encode(m, &len);
    mesh *back = NULL;
    md_error err;
    CHECK_OK(decode_copy(bytes, len, &limits, &back, &err), &err);
    if (back != NULL) {
        check_same(m, back);
        /* Encoding is deterministic: the decoded mesh encodes to the same bytes. */
        size_t len2;
        uint8_t *again = encode(back, &len2);
        CHECK(len2 == len && memcmp(again, bytes, len) == 0);
        md_free(again);
        mesh_free(back);
    }
    md_free(bytes);
}

static void test_round_trips(void)
{
    mesh *t = make_textured(16, 8);
    CHECK(strcmp(mesh_material_texture_path(t, 0), "skin.png") == 0);
    CHECK(mesh_material_texture(t, 1) == NULL);
    round_trip(t);
    mesh_free(t);
    mesh *p = make_plain();
    round_trip(p);
    mesh_free(p);
}

/* Every strict prefix fails with EPARSE and a message; nothing leaks (ASan build). */
static void test_truncated(void)
{
    mesh *t = make_textured(8, 8);
    size_t len;
    uint8_t *bytes = encode(t, &len);
    int failed_cleanly = 0;
    for (size_t n = 0; n < len; n++) {
        mesh *out;
        md_error err;
        int rc = decode_copy(bytes, n, &limits, &out, &err);
        failed_cleanly +=
            rc == MD_EPARSE && out == NULL && strncmp(err.msg, "canonical mesh: ", 16) == 0;
        if (rc == 0)
            mesh_free(out);
    }
    CHECK_INT(len, failed_cleanly);
    /* One byte too many is an error too. */
    uint8_t *longer = md_malloc(len + 1);
    memcpy(longer, bytes, len);
    longer[len] = 0;
    mesh *out;
    md_error err;
    CHECK_INT(MD_EPARSE, decode_copy(longer, len + 1, &limits, &out, &err));
    CHECK_MSG(&err, "1 unexpected bytes");
    md_free(longer);
    md_free(bytes);
    mesh_free(t);
}

/* Each byte in turn, and pairs of bytes, overwritten: decoding either fails with a message and
 * no mesh, or gives a mesh that re-encodes (so it is whole). */
static void test_garbled(void)
{
    mesh *t = make_textured(4, 4);
    size_t len;
    uint8_t *bytes = encode(t, &len);
    uint8_t *copy = md_malloc(len);
    int bad = 0;
    static const uint8_t values[] = {0x00, 0xff, 0x7f, 0x80, 0x01};
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof values; k++) {
            memcpy(copy, bytes, len);
            if (copy[i] == values[k])
                continue;
            copy[i] = values[k];
            mesh *out;
            md_error err;
            int rc = decode_copy(copy, len, &limits, &out, &err);
            if (rc != 0) {
                bad += out != NULL || err.msg[0] == '\0';
                continue;
            }
            size_t len2;
            uint8_t *again = encode(out, &len2);
            bad += len2 == 0;
            md_free(again);
            mesh_free(out);
        }
    }
    CHECK_INT(0, bad);
    md_free(copy);
    md_free(bytes);
    mesh_free(t);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Targeted corruption of the plain mesh (4 vertices, 3 triangles, no UVs, 1 material). */
static void expect(const uint8_t *orig, size_t len, size_t at, uint32_t value, int code,
                   const char *needle, int line)
{
    uint8_t *copy = md_malloc(len);
    memcpy(copy, orig, len);
    put32(copy + at, value);
    mesh *out;
    md_error err;
    int rc = decode_copy(copy, len, &limits, &out, &err);
    if (rc != code || strstr(err.msg, needle) == NULL) {
        fprintf(stderr, "%s:%d: expected %s '%s', got %s '%s'\n", __FILE__, line, md_err_name(code),
                needle, md_err_name(rc), err.msg);
        test_failures++;
    }
    if (rc == 0)
        mesh_free(out);
    md_free(copy);
}
#define EXPECT(at, value, code, needle)                                                            \
    expect(bytes, len, (at), (value), (code), (needle), __LINE__)

static void test_messages(void)
{
    mesh *p = make_plain();
    size_t len;
    uint8_t *bytes = encode(p, &len);
    const size_t tris = 48 + 12 * 4, tri_mats = tris + 12 * 3, mats = tri_mats + 2 * 3;
    EXPECT(0, 0x454d444e, MD_EPARSE, "bad magic");
    EXPECT(4, 0x02004853, MD_EPARSE, "version 2 is not supported");
    EXPECT(8, 0x00000a42, MD_EPARSE, "format name has byte 0x0a at 1");
    EXPECT(8, 0, MD_EPARSE, "format name is empty");
    /* bit 0 is the file vertex numbers, bit 1 the opacities, bit 2 the Tf note */
    EXPECT(40, 8, MD_EPARSE, "unknown flags 0x8");
    EXPECT(40, 2, MD_EPARSE, "truncated in material opacities (needs 4 bytes, 0 left)");
    EXPECT(24, 0, MD_EPARSE, "0 vertices (at least 1");
    EXPECT(28, 0, MD_EPARSE, "0 triangles");
    EXPECT(36, 0, MD_EPARSE, "0 materials");
    /* 3 vertices: the triangles are then read from the 4th vertex, (0, 0, 2.0f). */
    EXPECT(24, 3, MD_EPARSE, "triangles: triangle 0 corner 2 is 1073741824, but there are only 3");
    EXPECT(24, 4000000, MD_EPARSE, "4000000 vertices, 3 triangles and 0 texture coordinates need");
    EXPECT(24, 4000001, MD_ELIMIT, "4000001 vertices; the limit is 4000000 (max_vertices)");
    EXPECT(32, 0xffffffffu, MD_ELIMIT, "max_uvs");
    EXPECT(36, 60000, MD_ELIMIT, "max_materials");
    EXPECT(36, 200, MD_EPARSE, "200 materials cannot fit");
    EXPECT(tris + 4, 4, MD_EPARSE, "triangles: triangle 0 corner 1 is 4, but there are only 4");
    EXPECT(48, 0x7fc00000, MD_EPARSE, "positions item 0 is not finite");
    EXPECT(tri_mats + 2, 0x00010000, MD_EPARSE, "triangle 2 uses material 1, but there are only 1");
    EXPECT(mats, 5000, MD_EPARSE, "material 0 name is 5000 bytes");
    EXPECT(mats, 0x7fffffff, MD_EPARSE, "material 0 name is 2147483647 bytes");
    md_free(bytes);
    mesh_free(p);

    /* Texture: its PNG length, a non-PNG in its place, and its size against the limits. */
    mesh *t = make_textured(8, 8);
    bytes = encode(t, &len);
    /* The skin material's PNG length sits after its name "skin", colour and path "skin.png". */
    size_t png_at = 48 + 12 * 5 + 12 * 4 + 8 * 5 + 12 * 4 + 2 * 4 + 4 + 4 + 12 + 4 + 8;
    uint8_t *copy = md_malloc(len);
    memcpy(copy, bytes, len);
    mesh *out;
    md_error err;
    CHECK_INT(0x89, copy[png_at + 4]);
    copy[png_at + 5] = 'X';
    CHECK_INT(MD_EPARSE, decode_copy(copy, len, &limits, &out, &err));
    CHECK_MSG(&err, "material 0 texture is not a PNG");
    memcpy(copy, bytes, len);
    copy[png_at + 30] ^= 0x55; /* inside IHDR/IDAT: libpng's CRC check catches it */
    CHECK_INT(MD_EPARSE, decode_copy(copy, len, &limits, &out, &err));
    CHECK_MSG(&err, "canonical mesh: material 0 texture: ");
    EXPECT(png_at, 0x7ffffff0, MD_ELIMIT, "texture is 2147483632 bytes; the limit is");
    EXPECT(png_at, 0x00100000, MD_EPARSE, "truncated in material 0 texture (needs 1048576 bytes");
    md_limits small = limits;
    small.max_texture_side = 4;
    CHECK_INT(MD_ELIMIT, decode_copy(bytes, len, &small, &out, &err));
    CHECK_MSG(&err, "canonical mesh: material 0 texture: the image is 8x8 pixels");
    small = limits;
    small.max_file_bytes = 16;
    CHECK_INT(MD_ELIMIT, decode_copy(bytes, len, &small, &out, &err));
    CHECK_MSG(&err, "max_file_bytes");
    small = limits;
    small.max_triangles = 3;
    CHECK_INT(MD_ELIMIT, decode_copy(bytes, len, &small, &out, &err));
    CHECK_MSG(&err, "4 triangles; the limit is 3 (max_triangles)");
    small = limits;
    small.max_materials = 1;
    CHECK_INT(MD_ELIMIT, decode_copy(bytes, len, &small, &out, &err));
    small = limits;
    small.max_uvs = 4;
    CHECK_INT(MD_ELIMIT, decode_copy(bytes, len, &small, &out, &err));
    /* UV indices: the first corner of the first triangle. */
    EXPECT(48 + 12 * 5 + 12 * 4 + 8 * 5, 5, MD_EPARSE,
           "triangle texture coordinates: triangle 0 corner 0 is 5, but there are only 5");
    md_free(copy);
    md_free(bytes);
    mesh_free(t);
}

static int write_seeds(const char *dir)
{
    mesh *t = make_textured(4, 4);
    mesh *p = make_plain();
    const mesh *meshes[2] = {t, p};
    const char *names[2] = {"textured.mdm", "plain.mdm"};
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        size_t len;
        uint8_t *bytes = encode(meshes[i], &len);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        md_error err;
        if (md_write_file_atomic(path, bytes, len, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            rc = 1;
        }
        md_free(bytes);
    }
    mesh_free(t);
    mesh_free(p);
    return rc;
}

int main(int argc, char **argv)
{
    md_limits_default(&limits);
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    test_round_trips();
    test_truncated();
    test_garbled();
    test_messages();
    return test_done();
}
