/*
 * test_obj.c — mesh_parse_obj() on in-memory text: every statement form, line ending, encoding
 * quirk, limit and error message the parser promises. Pure: needs no shared data. Inputs are
 * copied into exact-size heap buffers (no NUL after them), so the sanitizer build catches any
 * read past the end.
 */
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh.h"

static md_limits limits;

/* Parses len bytes of text from an exact-size copy. */
static int parse_len(const char *text, size_t len, const md_limits *lim, mesh **out, md_error *err)
{
    char *copy = md_malloc(len);
    if (copy == NULL) {
        fprintf(stderr, "out of memory in test\n");
        exit(1);
    }
    memcpy(copy, text, len);
    md_error_clear(err);
    int rc = mesh_parse_obj(copy, len, lim, out, err);
    md_free(copy);
    return rc;
}

/* Parses text that must load; reports and returns NULL otherwise. */
static mesh *parse_ok_at(const char *text, int line)
{
    mesh *m = NULL;
    md_error err;
    int rc = parse_len(text, strlen(text), &limits, &m, &err);
    if (rc != 0) {
        fprintf(stderr, "%s:%d: parse failed: %s (%s)\n", __FILE__, line, md_err_name(rc), err.msg);
        test_failures++;
        return NULL;
    }
    return m;
}
#define PARSE_OK(text) parse_ok_at((text), __LINE__)

/* Parses text that must fail; *out is NULL afterwards. */
static int parse_fail(const char *text, size_t len, const md_limits *lim, md_error *err)
{
    mesh *m = (mesh *)&limits; /* poison: the parser must set NULL */
    int rc = parse_len(text, len, lim, &m, err);
    if (rc == 0)
        mesh_free(m);
    else
        CHECK(m == NULL);
    return rc;
}

#define EXPECT_FAIL_LIM(text, lim, code, needle)                                                   \
    do {                                                                                           \
        md_error fail_err_;                                                                        \
        int got_ = parse_fail((text), strlen(text), (lim), &fail_err_);                            \
        CHECK_INT((code), got_);                                                                   \
        CHECK_MSG(&fail_err_, (needle));                                                           \
    } while (0)
#define EXPECT_FAIL(text, code, needle) EXPECT_FAIL_LIM((text), &limits, (code), (needle))

#define TRI3 "v 0 0 0\nv 1 0 0\nv 0 1 0\n"

/* Checks triangle t of m against 0-based a, b, c. */
static void check_tri_at(const mesh *m, uint32_t t, uint32_t a, uint32_t b, uint32_t c, int line)
{
    const uint32_t *tri = mesh_triangles(m) + 3 * (size_t)t;
    if (t >= mesh_triangle_count(m) || tri[0] != a || tri[1] != b || tri[2] != c) {
        fprintf(stderr, "%s:%d: expected triangle %u = (%u,%u,%u), got (%u,%u,%u) of %u\n",
                __FILE__, line, t, a, b, c, t < mesh_triangle_count(m) ? tri[0] : 0,
                t < mesh_triangle_count(m) ? tri[1] : 0, t < mesh_triangle_count(m) ? tri[2] : 0,
                mesh_triangle_count(m));
        test_failures++;
    }
}
#define CHECK_TRI(m, t, a, b, c) check_tri_at((m), (t), (a), (b), (c), __LINE__)

/* ---- Geometry and faces ---- */

static void test_triangle(void)
{
    mesh *m = PARSE_OK("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n");
    if (m == NULL)
        return;
    CHECK(strcmp(mesh_format(m), "obj") == 0);
    CHECK_INT(3, mesh_vertex_count(m));
    CHECK_INT(1, mesh_triangle_count(m));
    CHECK_TRI(m, 0, 0, 1, 2);
    CHECK_INT(0, mesh_uv_count(m));
    CHECK(mesh_triangle_uvs(m) == NULL);
    CHECK_INT(1, mesh_material_count(m));
    CHECK(strcmp(mesh_material_name(m, 0), "default") == 0);
    CHECK_INT(0, mesh_triangle_materials(m)[0]);
    CHECK_NEAR(1.0, mesh_positions(m)[3], 0);
    CHECK_NEAR(1.0, mesh_positions(m)[7], 0);
    CHECK_INT(0, mesh_mtllib_count(m));
    mesh_free(m);
}

static void test_polygons(void)
{
    mesh *m = PARSE_OK(TRI3 "v 1 1 0\nv 2 2 0\nf 1 2 3 4\nf 1 2 3 4 5\n");
    if (m == NULL)
        return;
    CHECK_INT(5, mesh_triangle_count(m));
    CHECK_TRI(m, 0, 0, 1, 2); /* quad: fan (0,1,2), (0,2,3) */
    CHECK_TRI(m, 1, 0, 2, 3);
    CHECK_TRI(m, 2, 0, 1, 2); /* pentagon: (0,1,2), (0,2,3), (0,3,4) */
    CHECK_TRI(m, 3, 0, 2, 3);
    CHECK_TRI(m, 4, 0, 3, 4);
    mesh_free(m);

    /* A 1000-gon loads under the default limit (1024 corners) as 998 triangles in fan order. */
    size_t cap = 1000 * 40 + 64;
    char *text = md_malloc(cap);
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(text + n, cap - n, "v %d %d 0\n", i % 37, i / 37);
    n += (size_t)snprintf(text + n, cap - n, "f");
    for (int i = 1; i <= 1000; i++)
        n += (size_t)snprintf(text + n, cap - n, " %d", i);
    m = PARSE_OK(text);
    if (m != NULL) {
        CHECK_INT(998, mesh_triangle_count(m));
        CHECK_TRI(m, 997, 0, 998, 999);
        mesh_free(m);
    }
    md_limits lim = limits;
    lim.max_polygon_sides = 999;
    EXPECT_FAIL_LIM(text, &lim, MD_ELIMIT,
                    "line 1001: a face with more than 999 corners (limit max_polygon_sides)");
    md_free(text);
}

static void test_negative_indices(void)
{
    mesh *m = PARSE_OK(TRI3 "v 1 1 0\nf -4 -3 -2 -1\nv 5 5 5\nf -1 -2 -3\n");
    if (m == NULL)
        return;
    CHECK_INT(3, mesh_triangle_count(m));
    CHECK_TRI(m, 0, 0, 1, 2);
    CHECK_TRI(m, 1, 0, 2, 3);
    CHECK_TRI(m, 2, 4, 3, 2); /* -1 is the vertex just above the face */
    mesh_free(m);
    m = PARSE_OK(TRI3 "vt 0 0\nvt 1 0\nvt 0 1\nf -3/-3 -2/-2 -1/-1\n");
    if (m == NULL)
        return;
    CHECK_INT(0, mesh_triangle_uvs(m)[0]);
    CHECK_INT(2, mesh_triangle_uvs(m)[2]);
    mesh_free(m);
    EXPECT_FAIL(TRI3 "f -1 -2 -4\n", MD_EPARSE,
                "line 4: face index -4 out of range (3 vertices so far)");
}

static void test_corner_forms(void)
{
    /* v//vn: normals are read past and do not give the mesh UVs. */
    mesh *m = PARSE_OK(TRI3 "vn 0 0 1\nf 1//1 2//1 3//1\n");
    if (m != NULL) {
        CHECK_INT(1, mesh_triangle_count(m));
        CHECK_INT(0, mesh_uv_count(m));
        CHECK(mesh_triangle_uvs(m) == NULL);
        mesh_free(m);
    }
    /* v/vt/vn and v/vt. */
    m = PARSE_OK(TRI3 "vt 0.25 0.5\nvt 1 0\nvt 0 1 0\nvn 0 0 1\n"
                      "f 1/3/1 2/2/1 3/1/1\nf 3/1 2/2 1/3\n");
    if (m != NULL) {
        CHECK_INT(3, mesh_uv_count(m));
        CHECK_INT(2, mesh_triangle_count(m));
        const uint32_t *tuv = mesh_triangle_uvs(m);
        CHECK(tuv != NULL);
        if (tuv != NULL) {
            CHECK_INT(2, tuv[0]);
            CHECK_INT(1, tuv[1]);
            CHECK_INT(0, tuv[2]);
            CHECK_INT(0, tuv[3]);
            CHECK_INT(2, tuv[5]);
        }
        CHECK_NEAR(0.25, mesh_uvs(m)[0], 0);
        CHECK_NEAR(0.5, mesh_uvs(m)[1], 0);
        CHECK_TRI(m, 1, 2, 1, 0);
        mesh_free(m);
    }
    /* vt with only u: v is 0. */
    m = PARSE_OK(TRI3 "vt 0.75\nf 1/1 2/1 3/1\n");
    if (m != NULL) {
        CHECK_NEAR(0.75, mesh_uvs(m)[0], 0);
        CHECK_NEAR(0.0, mesh_uvs(m)[1], 0);
        mesh_free(m);
    }
    EXPECT_FAIL(TRI3 "f 1/1/1/1 2 3\n", MD_EPARSE,
                "line 4: face corner '1/1/1/1' is not one of v, v/vt, v//vn, v/vt/vn");
    EXPECT_FAIL(TRI3 "f 1 2 x\n", MD_EPARSE, "line 4: face corner 'x'");
    EXPECT_FAIL(TRI3 "f 1/x 2 3\n", MD_EPARSE, "line 4: face corner '1/x'");
    EXPECT_FAIL(TRI3 "f 1/ 2/ 3/a\n", MD_EPARSE, "line 4: face corner '3/a'");
    EXPECT_FAIL(TRI3 "vt 0 0\nf 1/1 2/1 3\n", MD_EPARSE,
                "line 5: face mixes corners with and without texture coordinates");
    EXPECT_FAIL(TRI3 "vt 0 0\nf 1/2 2/1 3/1\n", MD_EPARSE,
                "line 5: face texture coordinate index 2 out of range (1 texture coordinates so "
                "far)");
}

static void test_mixed_uv_faces(void)
{
    /* Some faces with UVs, some without: the latter point at one extra (0,0) entry. */
    mesh *m = PARSE_OK(TRI3 "v 1 1 0\nvt 0.5 0.5\nvt 1 1\nf 1/1 2/2 3/1\nf 2 4 3\n");
    if (m == NULL)
        return;
    CHECK_INT(3, mesh_uv_count(m));
    const uint32_t *tuv = mesh_triangle_uvs(m);
    CHECK_INT(0, tuv[0]);
    CHECK_INT(1, tuv[1]);
    CHECK_INT(2, tuv[3]);
    CHECK_INT(2, tuv[4]);
    CHECK_INT(2, tuv[5]);
    CHECK_NEAR(0.0, mesh_uvs(m)[4], 0);
    CHECK_NEAR(0.0, mesh_uvs(m)[5], 0);
    mesh_free(m);
    /* vt lines that no face uses: the mesh has no UVs. */
    m = PARSE_OK(TRI3 "vt 0.5 0.5\nf 1 2 3\n");
    if (m == NULL)
        return;
    CHECK_INT(0, mesh_uv_count(m));
    CHECK(mesh_triangle_uvs(m) == NULL);
    mesh_free(m);
}

/* ---- Numbers ---- */

static void test_numbers(void)
{
    mesh *m = PARSE_OK("v 1e2 2. .5\nv +1.5 -2.5E-1 1E+2\nv -0 0.000000000000000000000000001 "
                       "123456789012345678901234567890\nv 3.4e38 -1e-45 12345.678\nf 1 2 3\n");
    if (m == NULL)
        return;
    const float *p = mesh_positions(m);
    CHECK_NEAR(100.0, p[0], 0);
    CHECK_NEAR(2.0, p[1], 0);
    CHECK_NEAR(0.5, p[2], 0);
    CHECK_NEAR(1.5, p[3], 0);
    CHECK_NEAR(-0.25, p[4], 0);
    CHECK_NEAR(100.0, p[5], 0);
    CHECK(p[6] == 0.0f && signbit(p[6]));
    CHECK(p[7] == 1e-27f);
    CHECK(p[8] == 123456789012345678901234567890.0f);
    CHECK(p[9] == 3.4e38f);
    CHECK(p[11] == 12345.678f);
    mesh_free(m);

    /* Random floats in the forms exporters print agree with strtod (the C locale's, which is
     * correctly rounded), and %.9g round-trips bit-exact. */
    char text[256];
    const char *forms[] = {"%.9g", "%.6f", "%.17g", "%e", "%.3e"};
    uint32_t state = 42;
    int mismatches = 0;
    for (int i = 0; i < 20000; i++) {
        state = state * 1664525u + 1013904223u;
        uint32_t bits = state;
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!isfinite(f))
            continue;
        if (i % 2 == 0)
            f = ldexpf(f, -(int)((bits >> 23) & 0xff) + 127 + (int)(state % 40) - 20);
        for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
            char number[64];
            snprintf(number, sizeof number, forms[k], (double)f);
            snprintf(text, sizeof text, "v %s 0 0\n" TRI3 "f 2 3 4\n", number);
            mesh *one = NULL;
            md_error err;
            if (parse_len(text, strlen(text), &limits, &one, &err) != 0) {
                fprintf(stderr, "'%s' did not parse: %s\n", number, err.msg);
                test_failures++;
                continue;
            }
            float got = mesh_positions(one)[0];
            float want = (float)strtod(number, NULL);
            if (got != want || (k == 0 && got != f)) {
                if (mismatches++ < 5)
                    fprintf(stderr, "'%s': parsed %.9g, strtod %.9g\n", number, (double)got,
                            (double)want);
            }
            mesh_free(one);
        }
    }
    CHECK_INT(0, mismatches);

    EXPECT_FAIL("v 1 2 x\n", MD_EPARSE, "line 1: 'v' needs 3 numbers, got 'x'");
    EXPECT_FAIL("\n\nv 1 2\n", MD_EPARSE, "line 3: 'v' needs 3 numbers, got only 2");
    EXPECT_FAIL("v 1 2 3.1+e2\n", MD_EPARSE, "line 1: 'v' needs 3 numbers, got '3.1+e2'");
    EXPECT_FAIL("v 1 2 1e\n", MD_EPARSE, "got '1e'");
    EXPECT_FAIL("v 1 2 .\n", MD_EPARSE, "got '.'");
    EXPECT_FAIL("v 1,5 2 3\n", MD_EPARSE, "got '1,5'");
    EXPECT_FAIL("v 1 2 nan\n", MD_EPARSE, "line 1: coordinate is not finite ('nan')");
    EXPECT_FAIL("v 0 0 0\nv 1 -INF 2\n", MD_EPARSE, "line 2: coordinate is not finite ('-INF')");
    EXPECT_FAIL("v 1 2 Infinity\n", MD_EPARSE, "line 1: coordinate is not finite");
    EXPECT_FAIL("v 1e999 0 0\n", MD_EPARSE, "line 1: coordinate is not finite ('1e999')");
    EXPECT_FAIL("v 1 -1.#IND 0\n", MD_EPARSE, "line 1: coordinate is not finite ('-1.#IND')");
    EXPECT_FAIL("v 1 1.#INF 0\n", MD_EPARSE, "line 1: coordinate is not finite");
    EXPECT_FAIL("v 1e39 0 0\n", MD_EPARSE, "line 1: coordinate is not finite as a 32-bit float");
    EXPECT_FAIL("v 3.4028236e38 0 0\n", MD_EPARSE, "not finite as a 32-bit float");
    m = PARSE_OK("v 3.4028235e38 -3.4028235e38 0\n" TRI3 "f 2 3 4\n");
    if (m != NULL) {
        CHECK(mesh_positions(m)[0] == FLT_MAX);
        CHECK(mesh_positions(m)[1] == -FLT_MAX);
        mesh_free(m);
    }
    EXPECT_FAIL(TRI3 "vt nan 0\n", MD_EPARSE, "line 4: texture coordinate is not finite");
    EXPECT_FAIL(TRI3 "vt 0 zero\n", MD_EPARSE, "line 4: 'vt' needs 1 to 3 numbers, got 'zero'");
    EXPECT_FAIL(TRI3 "vt\n", MD_EPARSE, "line 4: 'vt' needs 1 to 3 numbers, got only 0");
    /* An exponent with a million digits, and a mantissa with ten thousand. */
    size_t cap = 1000100;
    char *big = md_malloc(cap);
    memcpy(big, "v 1e", 4);
    memset(big + 4, '9', 1000000);
    memcpy(big + 1000004, " 0 0\n", 6);
    EXPECT_FAIL(big, MD_EPARSE, "line 1: coordinate is not finite ('1e999999999999");
    memcpy(big, "v 0.", 4);
    memset(big + 4, '0', 10000);
    const char *tail = "1e10000 0 0\n" TRI3 "f 2 3 4\n";
    memcpy(big + 10004, tail, strlen(tail) + 1);
    m = PARSE_OK(big);
    if (m != NULL) {
        CHECK(mesh_positions(m)[0] == 1e-1f);
        mesh_free(m);
    }
    md_free(big);
}

/* ---- Lexical matters ---- */

static void test_line_endings(void)
{
    const char *variants[] = {
        "v 0 0 0\r\nv 1 0 0\r\nv 0 1 0\r\nf 1 2 3\r\n",          /* CRLF */
        "v 0 0 0\rv 1 0 0\rv 0 1 0\rf 1 2 3\r",                  /* classic Mac CR */
        "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3",                    /* no final newline */
        "\xEF\xBB\xBFv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",      /* UTF-8 BOM */
        "  v\t0 0 0  \n\tv 1\t\t0 0\t\nv 0 1 0 \r\n   f 1 2 3 ", /* whitespace and tabs */
        "# a comment\n  # an indented one\nv 0 0 0 # trailing\nv 1 0 0\nv 0 1 0\n"
        "f 1 2 3 # and here\n#",
        "v 0 0 0 1.0\nv 1 0 0 0.5 0.5 0.5\nv 0 1 0 1 0 0 1\nf 1 2 3\n", /* w, colours */
        "o obj\ng grp a b\ns 1\ns off\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvp 0.5\nl 1 2\np 3\n"
        "curv 0 1 1 2\nunknown stuff\nf 1 2 3\n",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        mesh *m = PARSE_OK(variants[i]);
        if (m == NULL) {
            fprintf(stderr, "  (variant %zu)\n", i);
            continue;
        }
        CHECK_INT(3, mesh_vertex_count(m));
        CHECK_INT(1, mesh_triangle_count(m));
        CHECK_TRI(m, 0, 0, 1, 2);
        CHECK_NEAR(1.0, mesh_positions(m)[3], 0);
        mesh_free(m);
    }
    /* Line numbers count every kind of line ending. */
    EXPECT_FAIL("v 0 0 0\r\n\r\nv 1 0\r\n", MD_EPARSE, "line 3: 'v' needs 3 numbers");
    EXPECT_FAIL("v 0 0 0\r\rv 1 0\r", MD_EPARSE, "line 3: 'v' needs 3 numbers");
    EXPECT_FAIL("v 0 0 0\n\r\nv 1 0", MD_EPARSE, "line 3: 'v' needs 3 numbers");
}

static void test_continuation(void)
{
    mesh *m = PARSE_OK("v 0 \\\n 0 0\nv 1 0 \\\r\n0\nv 0 1 0\nf 1 \\\n2 \\\n\\\n3\n");
    if (m != NULL) {
        CHECK_INT(3, mesh_vertex_count(m));
        CHECK_INT(1, mesh_triangle_count(m));
        CHECK_TRI(m, 0, 0, 1, 2);
        mesh_free(m);
    }
    /* A comment ending in a backslash does not swallow the next line. */
    m = PARSE_OK("# C:\\models\\\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\\");
    if (m != NULL) {
        CHECK_INT(3, mesh_vertex_count(m));
        mesh_free(m);
    }
    /* Errors name the first line of a continued statement; later lines keep their numbers. */
    EXPECT_FAIL(TRI3 "f 1 \\\n 2 \\\n 9\n", MD_EPARSE, "line 4: face index 9 out of range");
    EXPECT_FAIL(TRI3 "f 1 \\\n 2 \\\n 3\nv 1\n", MD_EPARSE, "line 7: 'v' needs 3 numbers");
}

static void test_materials(void)
{
    mesh *m = PARSE_OK(TRI3 "f 1 2 3\nusemtl   Material name with  spaces \t\nf 1 2 3\n"
                            "usemtl skin\nf 1 2 3\nusemtl Material name with  spaces\n"
                            "f 3 2 1\nusemtl default\nf 1 3 2\n");
    if (m == NULL)
        return;
    CHECK_INT(3, mesh_material_count(m));
    CHECK(strcmp(mesh_material_name(m, 0), "default") == 0);
    CHECK(strcmp(mesh_material_name(m, 1), "Material name with  spaces") == 0);
    CHECK(strcmp(mesh_material_name(m, 2), "skin") == 0);
    const uint16_t *mat = mesh_triangle_materials(m);
    CHECK_INT(0, mat[0]);
    CHECK_INT(1, mat[1]);
    CHECK_INT(2, mat[2]);
    CHECK_INT(1, mat[3]);
    CHECK_INT(0, mat[4]);
    float rgb[3];
    mesh_material_color(m, 2, rgb);
    CHECK_NEAR(0.8, rgb[0], 1e-6);
    CHECK(mesh_material_texture_path(m, 2) == NULL);
    mesh_free(m);

    /* No "default" when every face follows a usemtl. */
    m = PARSE_OK("usemtl a\n" TRI3 "f 1 2 3\n");
    if (m != NULL) {
        CHECK_INT(1, mesh_material_count(m));
        CHECK(strcmp(mesh_material_name(m, 0), "a") == 0);
        mesh_free(m);
    }
    md_limits lim = limits;
    lim.max_materials = 2;
    EXPECT_FAIL_LIM(TRI3 "usemtl a\nusemtl b\nusemtl a\nusemtl c\n", &lim, MD_ELIMIT,
                    "line 7: more than 2 materials");
}

static void test_mtllib(void)
{
    mesh *m =
        PARSE_OK("mtllib a.mtl b.MTL\nmtllib My Model File.mtl\nmtllib a.mtl\n"
                 "mtllib old style.mat\nmtllib \"quoted name.mtl\"\nmtllib\n" TRI3 "f 1 2 3\n");
    if (m == NULL)
        return;
    const char *expected[] = {"a.mtl", "b.MTL",     "My Model File.mtl",
                              "old",   "style.mat", "quoted name.mtl"};
    CHECK_INT(6, mesh_mtllib_count(m));
    for (uint32_t i = 0; i < 6 && i < mesh_mtllib_count(m); i++)
        if (strcmp(mesh_mtllib(m, i), expected[i]) != 0) {
            fprintf(stderr, "mtllib %u: expected '%s', got '%s'\n", i, expected[i],
                    mesh_mtllib(m, i));
            test_failures++;
        }
    CHECK(mesh_mtllib(m, 6) == NULL);
    mesh_free(m);

    char text[4096];
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "mtllib lib%d.mtl\n", i);
    EXPECT_FAIL(text, MD_ELIMIT, "line 65: more than 64 material libraries");
}

/* ---- Errors ---- */

static void test_empty_and_incomplete(void)
{
    EXPECT_FAIL("", MD_EPARSE, "the file has no vertices");
    EXPECT_FAIL("\n\n# nothing\n   \n", MD_EPARSE, "the file has no vertices");
    EXPECT_FAIL("\xEF\xBB\xBF", MD_EPARSE, "the file has no vertices");
    EXPECT_FAIL(TRI3, MD_EPARSE, "the file has 3 vertices but no faces");
    EXPECT_FAIL(TRI3 "l 1 2\np 3\n", MD_EPARSE, "the file has 3 vertices but no faces");
    EXPECT_FAIL(TRI3 "f 1 2", MD_EPARSE, "line 4: a face needs at least 3 corners, got 2");
    EXPECT_FAIL(TRI3 "f\nf 1 2 3\n", MD_EPARSE, "line 4: a face needs at least 3 corners, got 0");
    EXPECT_FAIL(TRI3 "f 1 2 3\nv 1 2", MD_EPARSE, "line 5: 'v' needs 3 numbers, got only 2");
    EXPECT_FAIL(TRI3 "f 1 2 3\nv 1 2 3e", MD_EPARSE, "line 5: 'v' needs 3 numbers, got '3e'");
}

static void test_indices(void)
{
    EXPECT_FAIL(TRI3 "f 0 1 2\n", MD_EPARSE,
                "line 4: face index 0 is invalid (OBJ indices start at 1)");
    EXPECT_FAIL(TRI3 "f 1 2 4\n", MD_EPARSE,
                "line 4: face index 4 out of range (3 vertices so far)");
    EXPECT_FAIL(TRI3 "f 1 2 99999999999999999999\n", MD_EPARSE, "out of range (3 vertices so far)");
    EXPECT_FAIL(TRI3 "f 1 2 -99999999999999999999\n", MD_EPARSE, "out of range");
    /* Forward references: the spec only allows elements defined above the face. */
    EXPECT_FAIL("f 1 2 3\n" TRI3, MD_EPARSE,
                "line 1: face index 1 out of range (0 vertices so far)");
    EXPECT_FAIL("v 0 0 0\nv 1 0 0\nf 1 2 3\nv 0 1 0\n", MD_EPARSE,
                "line 3: face index 3 out of range (2 vertices so far)");
}

static void test_limits(void)
{
    /* Each limit fails on the first element past it, before any array grows beyond it. */
    md_limits lim = limits;
    lim.max_vertices = 10;
    char text[100000];
    size_t n = 0;
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "v %d 0 0\n", i);
    EXPECT_FAIL_LIM(text, &lim, MD_ELIMIT, "line 11: more than 10 vertices (limit max_vertices)");

    lim = limits;
    lim.max_uvs = 2;
    EXPECT_FAIL_LIM(TRI3 "vt 0 0\nvt 0 0\nvt 0 0\n", &lim, MD_ELIMIT,
                    "line 6: more than 2 texture coordinates (limit max_uvs)");
    /* The extra (0,0) entry counts too. */
    EXPECT_FAIL_LIM(TRI3 "vt 0 0\nvt 1 1\nf 1/1 2/2 3/1\nf 1 2 3\n", &lim, MD_ELIMIT,
                    "(limit max_uvs)");

    lim = limits;
    lim.max_triangles = 2;
    EXPECT_FAIL_LIM(TRI3 "v 1 1 0\nf 1 2 3 4\nf 1 2 3\n", &lim, MD_ELIMIT,
                    "line 6: more than 2 triangles after triangulation (limit max_triangles)");
    EXPECT_FAIL_LIM(TRI3 "v 1 1 0\nv 2 2 0\nf 1 2 3 4 5\n", &lim, MD_ELIMIT,
                    "line 6: more than 2 triangles");

    lim = limits;
    lim.max_polygon_sides = 4;
    EXPECT_FAIL_LIM(TRI3 "v 1 1 0\nv 2 2 0\nf 1 2 3 4\nf 1 2 3 4 5\n", &lim, MD_ELIMIT,
                    "line 7: a face with more than 4 corners (limit max_polygon_sides)");

    /* Limits beyond what 32-bit indices hold are clamped, not trusted. */
    lim = limits;
    lim.max_vertices = UINT64_MAX;
    lim.max_triangles = UINT64_MAX;
    mesh *m = NULL;
    md_error err;
    const char *ok = TRI3 "f 1 2 3\n";
    CHECK_OK(parse_len(ok, strlen(ok), &lim, &m, &err), &err);
    mesh_free(m);
}

static void test_encodings_and_garbage(void)
{
    md_error err;
    static const char utf16le[] = "\xFF\xFEv\0 \0"
                                  "0\0 \0"
                                  "0\0";
    CHECK_INT(MD_EFORMAT, parse_fail(utf16le, sizeof utf16le - 1, &limits, &err));
    CHECK_MSG(&err, "the file is UTF-16; save it as UTF-8/ASCII");
    static const char utf16be[] = "\xFE\xFF\0v\0 \0"
                                  "0";
    CHECK_INT(MD_EFORMAT, parse_fail(utf16be, sizeof utf16be - 1, &limits, &err));
    CHECK_MSG(&err, "UTF-16");
    static const char utf16_nobom[] = "v\0 \0"
                                      "0\0 \0";
    CHECK_INT(MD_EFORMAT, parse_fail(utf16_nobom, sizeof utf16_nobom - 1, &limits, &err));
    CHECK_MSG(&err, "looks like UTF-16");
    static const char binary[] = "v 0 0 0\nv 1 0 0\n\x01\x02\x00\x03garbage";
    CHECK_INT(MD_EPARSE, parse_fail(binary, sizeof binary - 1, &limits, &err));
    CHECK_MSG(&err, "line 3: NUL byte; this is a binary file, not OBJ text");
    /* A single byte, and high bytes that are not a BOM. */
    CHECK_INT(MD_EPARSE, parse_fail("v", 1, &limits, &err));
    CHECK_MSG(&err, "line 1: 'v' needs 3 numbers, got only 0");
    CHECK_INT(MD_EPARSE, parse_fail("\xFF", 1, &limits, &err));
    CHECK_INT(MD_EPARSE, parse_fail("\xEF\xBB", 2, &limits, &err));

    /* Pseudo-random bytes (fixed seed): anything but a crash or a success is fine. */
    uint32_t state = 12345;
    char junk[4096];
    for (int round = 0; round < 200; round++) {
        size_t len = (size_t)(round * 20 % (int)sizeof junk);
        for (size_t i = 0; i < len; i++) {
            state = state * 1664525u + 1013904223u;
            /* Bias towards OBJ's alphabet so the parser gets past the first statement. */
            static const char alphabet[] = "vtnf/ -.0123456789e\n\r\\#";
            junk[i] =
                (round & 1) ? alphabet[(state >> 24) % (sizeof alphabet - 1)] : (char)(state >> 24);
        }
        mesh *m = NULL;
        int rc = parse_len(junk, len, &limits, &m, &err);
        if (rc == 0) {
            CHECK(mesh_triangle_count(m) >= 1);
            mesh_free(m);
        } else {
            CHECK(err.msg[0] != '\0');
            CHECK(m == NULL);
        }
    }
}

int main(void)
{
    md_limits_default(&limits);
    test_triangle();
    test_polygons();
    test_negative_indices();
    test_corner_forms();
    test_mixed_uv_faces();
    test_numbers();
    test_line_endings();
    test_continuation();
    test_materials();
    test_mtllib();
    test_empty_and_incomplete();
    test_indices();
    test_limits();
    test_encodings_and_garbage();
    return test_done();
}
