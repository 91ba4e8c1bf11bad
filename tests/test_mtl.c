/*
 * test_mtl.c — mesh_parse_mtl() on in-memory text: newmtl matching, Kd, map_Kd with its
 * options, line endings and errors. Pure: needs no shared data. Inputs are copied into
 * exact-size heap buffers so the sanitizer build catches reads past the end.
 */
#include "test_util.h"

#include <string.h>

#include "mesh/mesh.h"

static md_limits limits;

/* A triangle mesh whose OBJ used the materials named in usemtl_lines. */
static mesh *mesh_with(const char *usemtl_lines)
{
    char text[1024];
    snprintf(text, sizeof text, "v 0 0 0\nv 1 0 0\nv 0 1 0\n%sf 1 2 3\n", usemtl_lines);
    mesh *m = NULL;
    md_error err;
    int rc = mesh_parse_obj(text, strlen(text), &limits, &m, &err);
    if (rc != 0) {
        fprintf(stderr, "cannot build the test mesh: %s\n", err.msg);
        exit(1);
    }
    return m;
}

static int parse_mtl(mesh *m, const char *text, size_t len, md_error *err)
{
    char *copy = md_malloc(len);
    memcpy(copy, text, len);
    md_error_clear(err);
    int rc = mesh_parse_mtl(m, copy, len, err);
    md_free(copy);
    return rc;
}

static int material(const mesh *m, const char *name)
{
    for (uint32_t i = 0; i < mesh_material_count(m); i++)
        if (strcmp(mesh_material_name(m, i), name) == 0)
            return (int)i;
    fprintf(stderr, "no material '%s'\n", name);
    test_failures++;
    return 0;
}

#define EXPECT_FAIL(usemtl, text, code, needle)                                                    \
    do {                                                                                           \
        mesh *m_ = mesh_with(usemtl);                                                              \
        md_error fail_err_;                                                                        \
        CHECK_INT((code), parse_mtl(m_, (text), strlen(text), &fail_err_));                        \
        CHECK_MSG(&fail_err_, (needle));                                                           \
        mesh_free(m_);                                                                             \
    } while (0)

static void test_basic(void)
{
    mesh *m = mesh_with("usemtl skin\nf 1 2 3\nusemtl Material name with  spaces\n");
    const char *text = "# a library\n"
                       "newmtl unused\n"
                       "Kd this is not checked\n"
                       "map_Kd -s\n"
                       "newmtl skin\n"
                       "Ka 0.2 0.2 0.2\n"
                       "Kd 0.1 0.2 0.3\n"
                       "Ks 0 0 0\n"
                       "map_Ka ambient.png\n"
                       "map_Kd textures/skin albedo.png  \n"
                       "illum 2\n"
                       "\n"
                       "newmtl Material name with  spaces \n"
                       "Kd 2 -1 0.5\n"
                       "map_Kd first.png\n"
                       "map_kd .\\second.jpg\n";
    md_error err;
    CHECK_OK(parse_mtl(m, text, strlen(text), &err), &err);
    CHECK_INT(2, mesh_material_count(m)); /* unused ones are not added */
    int skin = material(m, "skin");
    int spaces = material(m, "Material name with  spaces");
    float rgb[3];
    mesh_material_color(m, (uint32_t)skin, rgb);
    CHECK_NEAR(0.1, rgb[0], 1e-6);
    CHECK_NEAR(0.2, rgb[1], 1e-6);
    CHECK_NEAR(0.3, rgb[2], 1e-6);
    CHECK_STR("textures/skin albedo.png", mesh_material_texture_path(m, (uint32_t)skin));
    mesh_material_color(m, (uint32_t)spaces, rgb);
    CHECK_NEAR(1.0, rgb[0], 0); /* clamped */
    CHECK_NEAR(0.0, rgb[1], 0);
    CHECK_NEAR(0.5, rgb[2], 0);
    /* A later map_Kd replaces an earlier one (and the earlier string is freed). */
    CHECK_STR(".\\second.jpg", mesh_material_texture_path(m, (uint32_t)spaces));
    CHECK(mesh_material_texture(m, (uint32_t)skin) == NULL);

    /* A second library overrides what the first set. */
    const char *again = "newmtl skin\r\nKd 0.5\r\nmap_Kd other.png";
    CHECK_OK(parse_mtl(m, again, strlen(again), &err), &err);
    mesh_material_color(m, (uint32_t)skin, rgb);
    CHECK_NEAR(0.5, rgb[0], 0);
    CHECK_NEAR(0.5, rgb[2], 0);
    CHECK_STR("other.png", mesh_material_texture_path(m, (uint32_t)skin));
    mesh_free(m);
}

static void test_map_options(void)
{
    struct {
        const char *line;
        const char *path;
    } cases[] = {
        {"map_Kd -s 1 1 1 face.png", "face.png"},
        {"map_Kd -s 2 face.png", "face.png"},
        {"map_Kd -o 0.5 0.5 -s 1 1 1 -t 0 0 0 face.png", "face.png"},
        {"map_Kd -bm 1 -clamp on -blendu off -blendv on face.png", "face.png"},
        {"map_Kd -mm 0 1 -texres 1024 -imfchan r -cc off -boost 2 my face.png", "my face.png"},
        {"map_Kd -type sphere face.png", "face.png"},
        {"map_Kd -s 1 1 1 2face.png", "2face.png"},
        {"map_Kd -colorspace_vendor 1 2 face.png", "face.png"},
        {"map_Kd \"C:\\Program Files\\tex\\face.png\"", "C:\\Program Files\\tex\\face.png"},
        {"map_Kd\tface.png\t", "face.png"},
        {"map_Kd -s 1 1 1 \\\n  face.png", "face.png"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mesh *m = mesh_with("usemtl a\n");
        char text[256];
        snprintf(text, sizeof text, "newmtl a\n%s\n", cases[i].line);
        md_error err;
        CHECK_OK(parse_mtl(m, text, strlen(text), &err), &err);
        CHECK_STR(cases[i].path, mesh_material_texture_path(m, 0));
        mesh_free(m);
    }
}

static void test_errors(void)
{
    EXPECT_FAIL("usemtl a\n", "newmtl a\nKd 0.5 0.5\n", MD_EPARSE,
                "line 2: 'Kd' needs 1 or 3 numbers, got 2");
    EXPECT_FAIL("usemtl a\n", "newmtl a\nKd\n", MD_EPARSE, "line 2: 'Kd' needs 1 or 3 numbers");
    EXPECT_FAIL("usemtl a\n", "\n\nnewmtl a\nKd 1 red 1\n", MD_EPARSE,
                "line 4: 'Kd' needs 1 or 3 numbers, got 'red'");
    EXPECT_FAIL("usemtl a\n", "newmtl a\r\nKd 1 nan 1\r\n", MD_EPARSE,
                "line 2: colour is not finite ('nan')");
    EXPECT_FAIL("usemtl a\n", "newmtl a\nmap_Kd\n", MD_EPARSE, "line 2: 'map_Kd' names no file");
    EXPECT_FAIL("usemtl a\n", "newmtl a\nmap_Kd -s 1 1 1\n", MD_EPARSE,
                "line 2: 'map_Kd' names no file");
    EXPECT_FAIL("usemtl a\n", "newmtl a\nmap_Kd -s face.png\n", MD_EPARSE,
                "line 2: map_Kd option '-s' needs 1 to 3 numbers before the file name");
    EXPECT_FAIL("usemtl a\n", "newmtl a\nmap_Kd -mm 1 face.png\n", MD_EPARSE,
                "line 2: map_Kd option '-mm' needs 2 numbers");
    EXPECT_FAIL("usemtl a\n", "newmtl a\nmap_Kd -clamp\n", MD_EPARSE,
                "line 2: map_Kd option '-clamp' needs on or off");
    EXPECT_FAIL("usemtl a\n", "\xFF\xFEn\0e\0w\0", MD_EFORMAT,
                "the file is UTF-16; save it as UTF-8/ASCII");
    mesh *m = mesh_with("usemtl a\n");
    md_error err;
    static const char binary[] = "newmtl a\nKd 1 1 1\n\0\0\0";
    CHECK_INT(MD_EPARSE, parse_mtl(m, binary, sizeof binary - 1, &err));
    CHECK_MSG(&err, "line 3: NUL byte; this is a binary file, not MTL text");
    mesh_free(m);
}

static void test_tolerance(void)
{
    /* BOM, CR line endings, no final newline, Kd spectral/xyz, an empty file, empty names. */
    mesh *m = mesh_with("usemtl a\nf 1 2 3\nusemtl \n");
    const char *text = "\xEF\xBB\xBFnewmtl a\rKd 0.25 0.5 0.75\rKd spectral file.rfl\r"
                       "Kd xyz 1 1 1\rnewmtl\rKd 0 0 1\rmap_Kd empty.png";
    md_error err;
    CHECK_OK(parse_mtl(m, text, strlen(text), &err), &err);
    float rgb[3];
    mesh_material_color(m, (uint32_t)material(m, "a"), rgb);
    CHECK_NEAR(0.75, rgb[2], 0);
    int empty = material(m, "");
    mesh_material_color(m, (uint32_t)empty, rgb);
    CHECK_NEAR(1.0, rgb[2], 0);
    CHECK_STR("empty.png", mesh_material_texture_path(m, (uint32_t)empty));
    CHECK_OK(parse_mtl(m, "", 0, &err), &err);
    mesh_free(m);
}

int main(void)
{
    md_limits_default(&limits);
    test_basic();
    test_map_options();
    test_errors();
    test_tolerance();
    return test_done();
}
