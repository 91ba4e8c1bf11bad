/*
 * test_corpus.c — hostile and malformed input through the assimp path.
 *
 * First, handmade inputs that need no shared data: empty and one-byte files, random bytes
 * behind each format's magic, headers that declare billions of elements, a glTF whose node
 * graph would expand to 2^40 nodes, a glTF that names /etc/passwd as its buffer, a binary FBX
 * with a compressed array that lies about its size, the PLY byte that made assimp 5.2 abort,
 * our PLY reader's formats and errors, and the limits. Then every file of assimp's own test models
 * in the shared data through mesh_load() with default limits: each either loads, and then satisfies
 * mesh_int.h's invariants, or fails with a message and a code from the md table; files under
 * invalid/ must fail. Per-file time and outcome are printed. Without the shared data only the first
 * part runs.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include "mesh/mesh_int.h"

#include <dirent.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static md_limits limits(void)
{
    md_limits lim;
    md_limits_default(&lim);
    return lim;
}

/* A failure must carry a code from the md table and a sentence. */
static void check_failure(const char *what, int rc, const md_error *err)
{
    if (rc == 0)
        return;
    if (strcmp(md_err_name(rc), "EUNKNOWN") == 0 || err->msg[0] == '\0') {
        fprintf(stderr, "%s: code %d (%s) with message '%s'\n", what, rc, md_err_name(rc),
                err->msg);
        test_failures++;
    }
}

/* The invariants of mesh_int.h, checked from outside. */
static void check_invariants(const char *what, const mesh *m)
{
    int bad = 0;
    bad += m->triangle_count == 0 || m->vertex_count == 0 || m->material_count == 0;
    for (size_t i = 0; i < 3 * (size_t)m->vertex_count; i++)
        bad += !isfinite(m->positions[i]);
    for (size_t i = 0; i < 3 * (size_t)m->triangle_count; i++)
        bad += m->triangles[i] >= m->vertex_count;
    bad += (m->uv_count == 0) != (m->triangle_uvs == NULL);
    if (m->triangle_uvs != NULL)
        for (size_t i = 0; i < 3 * (size_t)m->triangle_count; i++)
            bad += m->triangle_uvs[i] >= m->uv_count;
    for (size_t i = 0; i < 2 * (size_t)m->uv_count; i++)
        bad += !isfinite(m->uvs[i]);
    for (uint32_t t = 0; t < m->triangle_count; t++)
        bad += m->triangle_materials[t] >= m->material_count;
    if (bad != 0)
        fprintf(stderr, "%s: %d invariant violations\n", what, bad);
    CHECK_INT(0, bad);
}

static int parse(const void *bytes, size_t len, const char *hint, const md_limits *lim,
                 md_error *err, mesh **out)
{
    mesh *m = NULL;
    memset(err, 0, sizeof *err);
    int rc = mesh_parse_assimp(bytes, len, hint, lim, &m, err);
    if (rc == 0) {
        check_invariants(hint, m);
        if (out != NULL) {
            *out = m;
            return 0;
        }
    } else {
        CHECK(m == NULL);
        check_failure(hint, rc, err);
    }
    mesh_free(m);
    return rc;
}

/* ---- Handmade files ---- */

static size_t base64(const uint8_t *in, size_t len, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = i + 1 < len ? abc[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? abc[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

/* A self-contained glTF 2.0 of one triangle with UVs, its buffer in a data: URI (or at uri
 * when given). nodes_json replaces the node list when given. */
static char *make_gltf(const char *uri, const char *nodes_json, const char *scene_roots)
{
    float data[15] = {0, 0, 0, 1, 0, 0, 0, 1, 0, /* positions */ 0, 0, 1, 0, 0, 1 /* uvs */};
    uint8_t buf[68];
    memcpy(buf, data, 60);
    const uint16_t idx[4] = {0, 1, 2, 0}; /* padded to 4 bytes */
    memcpy(buf + 60, idx, 8);
    char b64[128];
    base64(buf, sizeof buf, b64);
    char *json = malloc(8192);
    char data_uri[sizeof b64 + 48];
    snprintf(data_uri, sizeof data_uri, "data:application/octet-stream;base64,%s", b64);
    snprintf(json, 8192,
             "{\"asset\":{\"version\":\"2.0\"},\"scene\":0,\"scenes\":[{\"nodes\":%s}],"
             "\"nodes\":%s,"
             "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":0,\"TEXCOORD_0\":1},"
             "\"indices\":2}]}],"
             "\"buffers\":[{\"byteLength\":68,\"uri\":\"%s\"}],"
             "\"bufferViews\":[{\"buffer\":0,\"byteOffset\":0,\"byteLength\":36},"
             "{\"buffer\":0,\"byteOffset\":36,\"byteLength\":24},"
             "{\"buffer\":0,\"byteOffset\":60,\"byteLength\":6}],"
             "\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":3,\"type\":"
             "\"VEC3\",\"min\":[0,0,0],\"max\":[1,1,0]},"
             "{\"bufferView\":1,\"componentType\":5126,\"count\":3,\"type\":\"VEC2\"},"
             "{\"bufferView\":2,\"componentType\":5123,\"count\":3,\"type\":\"SCALAR\"}]}",
             scene_roots ? scene_roots : "[0]", nodes_json ? nodes_json : "[{\"mesh\":0}]",
             uri ? uri : data_uri);
    return json;
}

/* A GLB holding the given JSON and no binary chunk. */
static uint8_t *make_glb(const char *json, size_t *len)
{
    size_t jl = strlen(json), padded = (jl + 3) & ~(size_t)3;
    *len = 20 + padded;
    uint8_t *b = malloc(*len);
    const uint32_t head[5] = {0x46546C67, 2, (uint32_t)*len, (uint32_t)padded, 0x4E4F534A};
    memcpy(b, head, sizeof head);
    memcpy(b + 20, json, jl);
    memset(b + 20 + jl, ' ', padded - jl);
    return b;
}

static void test_gltf(void)
{
    md_limits lim = limits();
    md_error err;
    mesh *m = NULL;

    /* Positive control: a .gltf with everything inside it loads. */
    char *json = make_gltf(NULL, NULL, NULL);
    CHECK_OK(parse(json, strlen(json), "gltf", &lim, &err, &m), &err);
    if (m != NULL) {
        CHECK_INT(3, m->vertex_count);
        CHECK_INT(1, m->triangle_count);
        CHECK_INT(3, m->uv_count);
        CHECK(strcmp(mesh_format(m), "gltf") == 0);
        mesh_free(m);
        m = NULL;
    }
    /* The limits, checked on it. */
    md_limits tight = lim;
    tight.max_vertices = 2;
    CHECK_INT(MD_ELIMIT, parse(json, strlen(json), "gltf", &tight, &err, NULL));
    CHECK_MSG(&err, "2");
    tight = lim;
    tight.max_uvs = 2;
    CHECK_INT(MD_ELIMIT, parse(json, strlen(json), "gltf", &tight, &err, NULL));
    tight = lim;
    tight.max_materials = 0;
    CHECK_INT(MD_ELIMIT, parse(json, strlen(json), "gltf", &tight, &err, NULL));
    tight = lim;
    tight.max_file_bytes = 100;
    CHECK_INT(MD_ELIMIT, parse(json, strlen(json), "gltf", &tight, &err, NULL));
    free(json);

    /* A buffer named by path is not read: the parser touches no file. */
    json = make_gltf("/etc/passwd", NULL, NULL);
    CHECK_INT(MD_EPARSE, parse(json, strlen(json), "gltf", &lim, &err, NULL));
    CHECK_MSG(&err, "/etc/passwd");
    CHECK_MSG(&err, "not read");
    free(json);

    /* 41 nodes, each listing the next one twice: assimp would copy the last node 2^40
     * times. Refused from the JSON, in microseconds. */
    char nodes[4096];
    size_t o = 0;
    o += (size_t)snprintf(nodes + o, sizeof nodes - o, "[");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(nodes + o, sizeof nodes - o, "{\"children\":[%d,%d]},", i + 1, i + 1);
    snprintf(nodes + o, sizeof nodes - o, "{\"mesh\":0}]");
    json = make_gltf(NULL, nodes, NULL);
    size_t glb_len;
    uint8_t *glb = make_glb(json, &glb_len);
    double t0 = md_now();
    CHECK_INT(MD_ELIMIT, parse(glb, glb_len, "glb", &lim, &err, NULL));
    CHECK_MSG(&err, "expands");
    CHECK((md_now() - t0) < 1.0);
    free(glb);
    free(json);

    /* A cycle, and a chain deeper than the cap. */
    json = make_gltf(NULL, "[{\"children\":[1]},{\"children\":[0],\"mesh\":0}]", NULL);
    CHECK_INT(MD_EPARSE, parse(json, strlen(json), "gltf", &lim, &err, NULL));
    CHECK_MSG(&err, "cycle");
    free(json);
    o = 0;
    o += (size_t)snprintf(nodes + o, sizeof nodes - o, "[");
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(nodes + o, sizeof nodes - o, "{\"children\":[%d]},", i + 1);
    snprintf(nodes + o, sizeof nodes - o, "{\"mesh\":0}]");
    json = make_gltf(NULL, nodes, NULL);
    CHECK_INT(MD_ELIMIT, parse(json, strlen(json), "gltf", &lim, &err, NULL));
    CHECK_MSG(&err, "deep");
    free(json);

    /* JSON nested 100000 deep: refused before assimp's recursive reader sees it. */
    size_t deep_len = 200002;
    char *deep = malloc(deep_len);
    memset(deep, '[', 100001);
    memset(deep + 100001, ']', 100001);
    CHECK_INT(MD_EPARSE, parse(deep, deep_len, "gltf", &lim, &err, NULL));
    free(deep);

    /* glTF 1.0 is refused with a way out. */
    const char *v1 = "{\"asset\":{\"version\":\"1.0\"},\"nodes\":{}}";
    CHECK_INT(MD_EFORMAT, parse(v1, strlen(v1), "gltf", &lim, &err, NULL));
    CHECK_MSG(&err, "2.0");
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

/* A binary FBX 7400 of one record "Vertices" with one compressed 'd' array declaring count
 * elements but holding 2 doubles. */
static uint8_t *make_fbx_bomb(uint32_t count, size_t *len)
{
    double values[2] = {1, 2};
    uint8_t z[64];
    uLongf zlen = sizeof z;
    compress(z, &zlen, (const Bytef *)values, sizeof values);
    const char name[] = "Vertices";
    size_t prop = 1 + 12 + zlen;
    size_t record = 13 + strlen(name) + prop;
    *len = 27 + record + 13 + 16;
    uint8_t *b = calloc(1, *len);
    memcpy(b, "Kaydara FBX Binary  \0\x1a\0", 23);
    put_le32(b + 23, 7400);
    uint8_t *r = b + 27;
    put_le32(r, (uint32_t)(27 + record)); /* end offset */
    put_le32(r + 4, 1);                   /* one property */
    put_le32(r + 8, (uint32_t)prop);
    r[12] = (uint8_t)strlen(name);
    memcpy(r + 13, name, strlen(name));
    uint8_t *p = r + 13 + strlen(name);
    p[0] = 'd';
    put_le32(p + 1, count);
    put_le32(p + 5, 1); /* zlib */
    put_le32(p + 9, (uint32_t)zlen);
    memcpy(p + 13, z, zlen);
    return b; /* followed by a zero (null) record and padding */
}

static void test_fbx(void)
{
    md_limits lim = limits();
    md_error err;
    size_t len;
    uint8_t *fbx = make_fbx_bomb(0x3fffffff, &len);
    double t0 = md_now();
    CHECK_INT(MD_EPARSE, parse(fbx, len, "fbx", &lim, &err, NULL));
    CHECK_MSG(&err, "declares");
    CHECK((md_now() - t0) < 1.0);
    free(fbx);
    /* Honest about its size, the same file reaches assimp, which finds no mesh in it. */
    fbx = make_fbx_bomb(2, &len);
    int rc = parse(fbx, len, "fbx", &lim, &err, NULL);
    CHECK(rc != 0);
    CHECK(strstr(err.msg, "declares") == NULL);
    free(fbx);
}

static void test_ply(void)
{
    md_limits lim = limits();
    md_error err;
    /* Four billion vertices declared by a 100-byte file: refused from the header. */
    const char *ascii = "ply\nformat ascii 1.0\nelement vertex 4000000000\nproperty float x\n"
                        "property float y\nproperty float z\nend_header\n0 0 0\n";
    double t0 = md_now();
    CHECK_INT(MD_ELIMIT, parse(ascii, strlen(ascii), "ply", &lim, &err, NULL));
    CHECK_MSG(&err, "4000000000");
    CHECK((md_now() - t0) < 1.0);
    const char *binary = "ply\nformat binary_little_endian 1.0\nelement vertex 3000000\n"
                         "property float x\nproperty float y\nproperty float z\n"
                         "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
                         "0123456789";
    CHECK_INT(MD_EPARSE, parse(binary, strlen(binary), "ply", &lim, &err, NULL));
    CHECK_MSG(&err, "truncated");

    /* Binary data whose first byte is 0x0a: assimp 5.2 skipped it, misread the faces and
     * aborted the process in an assertion. The cube must load, at x = 5.97..6.97. */
    const char *head = "ply\nformat binary_little_endian 1.0\nelement vertex 8\n"
                       "property float x\nproperty float y\nproperty float z\nelement face 6\n"
                       "property list uchar int vertex_indices\nend_header\n";
    uint8_t file[512];
    size_t n = strlen(head);
    memcpy(file, head, n);
    const uint32_t x0_bits = 0x40bef60a; /* 5.9675, first byte in memory 0x0a */
    float x0;
    memcpy(&x0, &x0_bits, sizeof x0);
    for (int v = 0; v < 8; v++) {
        float xyz[3] = {x0 + (float)(v & 1), (float)(v >> 1 & 1), (float)(v >> 2 & 1)};
        memcpy(file + n, xyz, 12);
        n += 12;
    }
    const int32_t quads[6][4] = {{0, 2, 3, 1}, {4, 5, 7, 6}, {0, 1, 5, 4},
                                 {2, 6, 7, 3}, {0, 4, 6, 2}, {1, 3, 7, 5}};
    for (int f = 0; f < 6; f++) {
        file[n++] = 4;
        memcpy(file + n, quads[f], 16);
        n += 16;
    }
    CHECK_INT(0x0a, file[strlen(head)]);
    mesh *m = NULL;
    CHECK_OK(parse(file, n, "ply", &lim, &err, &m), &err);
    if (m != NULL) {
        float lo[3], hi[3];
        mesh_bounds(m, lo, hi);
        CHECK_NEAR(5.96753, lo[0], 1e-5);
        CHECK_NEAR(6.96753, hi[0], 1e-5);
        CHECK_INT(8, m->vertex_count);
        CHECK_INT(12, m->triangle_count);
        mesh_free(m);
    }
}

/* Our PLY reader on the cases assimp's did not survive or did not have. */
static void test_ply_reader(void)
{
    md_limits lim = limits();
    md_error err;
    mesh *m = NULL;

    /* Big-endian doubles, a colour to skip, UVs per corner, an element to skip, MeshLab's
     * texture comment. */
    const char *head =
        "ply\nformat binary_big_endian 1.0\ncomment TextureFile skin.png\n"
        "element vertex 4\nproperty double x\nproperty double y\nproperty double z\n"
        "property uchar red\nelement face 1\nproperty list uchar int vertex_indices\n"
        "property list uchar float texcoord\nelement edge 1\nproperty int vertex1\n"
        "property int vertex2\nend_header\n";
    uint8_t file[1024];
    size_t n = strlen(head);
    memcpy(file, head, n);
    const double xyz[4][3] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0}};
    for (int v = 0; v < 4; v++) {
        for (int k = 0; k < 3; k++) {
            uint64_t bits;
            memcpy(&bits, &xyz[v][k], 8);
            for (int b = 7; b >= 0; b--)
                file[n++] = (uint8_t)(bits >> (8 * b));
        }
        file[n++] = 200; /* red */
    }
    file[n++] = 4; /* a quad */
    for (int c = 0; c < 4; c++) {
        const uint8_t idx[4] = {0, 0, 0, (uint8_t)c};
        memcpy(file + n, idx, 4);
        n += 4;
    }
    file[n++] = 8; /* its UVs: the positions' x and y */
    for (int c = 0; c < 4; c++)
        for (int k = 0; k < 2; k++) {
            float f = (float)xyz[c][k];
            uint32_t bits;
            memcpy(&bits, &f, 4);
            for (int b = 3; b >= 0; b--)
                file[n++] = (uint8_t)(bits >> (8 * b));
        }
    memset(file + n, 0, 8); /* the edge */
    n += 8;
    CHECK_OK(parse(file, n, "ply", &lim, &err, &m), &err);
    if (m != NULL) {
        CHECK_INT(4, m->vertex_count);
        CHECK_INT(2, m->triangle_count);
        CHECK_INT(4, m->uv_count);
        /* Fanned from the first corner, whatever the coordinates. */
        const uint32_t fan[6] = {0, 1, 2, 0, 2, 3};
        CHECK(memcmp(m->triangles, fan, sizeof fan) == 0);
        for (int c = 0; c < 6; c++) {
            const float *uv = &m->uvs[2 * m->triangle_uvs[c]];
            CHECK_NEAR(xyz[fan[c]][0], uv[0], 0);
            CHECK_NEAR(xyz[fan[c]][1], uv[1], 0);
        }
        CHECK(mesh_material_texture_path(m, 0) != NULL &&
              strcmp(mesh_material_texture_path(m, 0), "skin.png") == 0);
        mesh_free(m);
        m = NULL;
    }

    /* ASCII, faces before vertices, UVs per vertex, seam-split vertices welded. */
    const char *ascii = "ply\nformat ascii 1.0\nelement face 2\nproperty list uchar int "
                        "vertex_indices\nelement vertex 5\nproperty float x\nproperty float y\n"
                        "property float z\nproperty float s\nproperty float t\nend_header\n"
                        "3 0 1 2\n3 0 2 4\n0 0 0 0 0\n1 0 0 1 0\n1 1 0 1 1\n0 1 0 0 1\n"
                        "0 0 0 0.5 0.5\n";
    CHECK_OK(parse(ascii, strlen(ascii), "ply", &lim, &err, &m), &err);
    if (m != NULL) {
        CHECK_INT(4, m->vertex_count); /* vertex 4 sits on vertex 0 */
        CHECK_INT(2, m->triangle_count);
        CHECK_INT(5, m->uv_count);
        CHECK_INT(0, m->triangles[5]);
        const float *uv = &m->uvs[2 * m->triangle_uvs[5]];
        CHECK_NEAR(0.5, uv[0], 0);
        mesh_free(m);
        m = NULL;
    }

    /* Limits and damage, each with its own message. */
    md_limits tight = lim;
    tight.max_polygon_sides = 3;
    CHECK_INT(MD_ELIMIT, parse(file, n, "ply", &tight, &err, NULL));
    CHECK_MSG(&err, "corners");
    const char *bad_index = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n"
                            "property float y\nproperty float z\nelement face 1\nproperty list "
                            "uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n";
    CHECK_INT(MD_EPARSE, parse(bad_index, strlen(bad_index), "ply", &lim, &err, NULL));
    CHECK_MSG(&err, "uses vertex 4, but there are 3 vertices");
    const char *not_number = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n"
                             "property float y\nproperty float z\nelement face 1\nproperty list "
                             "uchar int vertex_indices\nend_header\n0 0 0\n1 zero 0\n0 1 0\n"
                             "3 0 1 2\n";
    CHECK_INT(MD_EPARSE, parse(not_number, strlen(not_number), "ply", &lim, &err, NULL));
    CHECK_MSG(&err, "vertex 2");
    const char *no_y = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n"
                       "property float }\nproperty float z\nelement face 1\nproperty list "
                       "uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n";
    CHECK_INT(MD_EPARSE, parse(no_y, strlen(no_y), "ply", &lim, &err, NULL));
    CHECK_MSG(&err, "x, y and z");
    const char *unended = "ply\nformat binary_little_endian 1.0\nelement vertex 1\n";
    CHECK_INT(MD_EPARSE, parse(unended, strlen(unended), "ply", &lim, &err, NULL));
    CHECK_MSG(&err, "end_header");
}

static void test_garbage(void)
{
    md_limits lim = limits();
    md_error err;
    const uint8_t one = 'x';
    CHECK_INT(MD_EPARSE, parse(&one, 0, "fbx", &lim, &err, NULL));
    CHECK_MSG(&err, "empty");
    CHECK_INT(MD_EPARSE, parse(NULL, 0, "glb", &lim, &err, NULL));
    CHECK_INT(MD_EFORMAT, parse(&one, 1, "3ds", &lim, &err, NULL));
    CHECK_MSG(&err, ".3ds");
    CHECK_INT(MD_EFORMAT, parse(&one, 1, "dae", &lim, &err, NULL));
    CHECK_INT(MD_EFORMAT, parse(&one, 1, NULL, &lim, &err, NULL));
    CHECK_INT(MD_EFORMAT, parse(&one, 1, "", &lim, &err, NULL));

    /* Random bytes, bare and behind each format's magic, of many lengths. */
    static const char *const hints[] = {"fbx", "glb", "gltf", "ply"};
    static const char *const magics[] = {"Kaydara FBX Binary  \0\x1a\0\xe8\x1c\0\0", "glTF",
                                         "{\"asset\":{\"version\":\"2.0\"},",
                                         "ply\nformat binary_little_endian 1.0\n"};
    /* FBX's magic holds NULs: its 27-byte header is counted by hand. */
    const size_t magic_len[] = {27, strlen(magics[1]), strlen(magics[2]), strlen(magics[3])};
    uint32_t seed = 12345;
    uint8_t *buf = malloc(8192);
    int failed = 0, tried = 0;
    double t0 = md_now();
    for (int h = 0; h < 4; h++)
        for (int round = 0; round < 120; round++) {
            size_t len = 1 + (size_t)(round * 67) % 8000;
            for (size_t i = 0; i < len; i++) {
                seed = seed * 1664525u + 1013904223u;
                buf[i] = (uint8_t)(seed >> 24);
            }
            if (round % 2 == 1 && len > magic_len[h]) {
                memcpy(buf, magics[h], magic_len[h]);
                if (h == 1 && len >= 12) { /* GLB: version 2, true length */
                    put_le32(buf + 4, 2);
                    put_le32(buf + 8, (uint32_t)len);
                }
            }
            int rc = parse(buf, len, hints[h], &lim, &err, NULL);
            tried++;
            failed += rc != 0;
        }
    fprintf(stderr, "random bytes: %d of %d inputs refused, %.0f ms in all\n", failed, tried,
            (md_now() - t0) * 1e3);
    CHECK_INT(tried, failed);
    free(buf);
}

/* ---- The assimp test models ---- */

struct file_list {
    char **paths;
    size_t count, cap;
};

static void list_files(const char *dir, struct file_list *list)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            list_files(path, list);
        } else if (S_ISREG(st.st_mode)) {
            if (list->count == list->cap) {
                list->cap = list->cap ? 2 * list->cap : 64;
                list->paths = realloc(list->paths, list->cap * sizeof *list->paths);
            }
            list->paths[list->count++] = strdup(path);
        }
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Outcomes that pin down a behaviour; every other file only has to load or fail cleanly. */
static const struct {
    const char *suffix;
    int rc;
} expected[] = {
    {"glTF2/BoxTextured-glTF-Binary/BoxTextured.glb", 0},
    {"glTF2/BoxWithInfinites-glTF-Binary/BoxWithInfinites.glb", MD_EPARSE},
    {"glTF2/RecursiveNodes/RecursiveNodes.gltf", MD_EPARSE},
    {"glTF2/MissingBin/BoxTextured.gltf", MD_EPARSE},
    {"PLY/cube_binary_starts_with_nl.ply", 0},
    {"PLY/points.ply", MD_EPARSE},
    {"FBX/box_orphant_embedded_texture.fbx", MD_EFORMAT}, /* embedded TGA */
    {"FBX/embedded_ascii/box.FBX", 0},
    {"FBX/spider.fbx", 0},
};

static void test_models(void)
{
    const char *root = test_data_try("formats/assimp/test/models");
    if (root == NULL) {
        fprintf(stderr, "skipped the assimp test models: shared data not found (set "
                        "MORPHD_DATA)\n");
        return;
    }
    struct file_list list = {0};
    list_files(root, &list);
    qsort(list.paths, list.count, sizeof *list.paths, cmp_str);
    CHECK(list.count > 100);
    md_limits lim = limits();
    size_t loaded = 0, matched = 0;
    double slowest = 0;
    for (size_t i = 0; i < list.count; i++) {
        const char *path = list.paths[i];
        const char *rel = path + strlen(root) + 1;
        md_error err = {0};
        mesh *m = NULL;
        double t0 = md_now();
        int rc = mesh_load(path, &lim, &m, &err);
        double ms = (md_now() - t0) * 1e3;
        slowest = ms > slowest ? ms : slowest;
        if (rc == 0) {
            loaded++;
            fprintf(stderr,
                    "%7.1f ms  ok       %s: %u positions, %u triangles, %u uvs, %u "
                    "material(s)\n",
                    ms, rel, m->vertex_count, m->triangle_count, m->uv_count, m->material_count);
            check_invariants(rel, m);
            mesh_free(m);
        } else {
            fprintf(stderr, "%7.1f ms  %-8s %s: %s\n", ms, md_err_name(rc), rel, err.msg);
            CHECK(m == NULL);
            check_failure(rel, rc, &err);
        }
        if (strncmp(rel, "invalid/", 8) == 0 && rc == 0) {
            fprintf(stderr, "  %s is in invalid/ but loaded\n", rel);
            test_failures++;
        }
        for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++) {
            size_t sl = strlen(expected[k].suffix), pl = strlen(path);
            if (pl < sl || strcmp(path + pl - sl, expected[k].suffix) != 0)
                continue;
            matched++;
            if (rc != expected[k].rc)
                fprintf(stderr, "  %s: expected %s, got %s\n", rel, md_err_name(expected[k].rc),
                        md_err_name(rc));
            CHECK_INT(expected[k].rc, rc);
        }
        free(list.paths[i]);
    }
    fprintf(stderr, "%zu files, %zu loaded, slowest %.1f ms\n", list.count, loaded, slowest);
    CHECK_INT(sizeof expected / sizeof expected[0], matched);
    CHECK(loaded >= 20);
    free(list.paths);
}

/* An ASCII FBX whose embedded PNG has a space in its base64 made assimp write out of bounds
 * (SIGSEGV): refused before assimp sees it. The fragmented variant pads every fragment and
 * must still load. */
static void test_fbx_ascii_content(void)
{
    const char *found = test_data_try("formats/assimp/test/models/FBX/embedded_ascii/box.FBX");
    if (found == NULL)
        return;
    md_limits lim = limits();
    md_error err;
    char *bytes;
    size_t len;
    CHECK_OK(md_read_file(found, lim.max_file_bytes, &bytes, &len, &err), &err);
    if (bytes == NULL)
        return;
    char *content = strstr(bytes, "Content: ,");
    CHECK(content != NULL);
    if (content != NULL) {
        char *data = strchr(content, '"');
        CHECK(data != NULL && (size_t)(data - bytes) + 5000 < len);
        if (data != NULL && (size_t)(data - bytes) + 5000 < len) {
            data[5000] = ' ';
            CHECK_INT(MD_EPARSE, parse(bytes, len, "fbx", &lim, &err, NULL));
            CHECK_MSG(&err, "not base64");
        }
    }
    md_free(bytes);
}

int main(void)
{
    test_garbage();
    test_gltf();
    test_fbx();
    test_ply();
    test_ply_reader();
    test_fbx_ascii_content();
    test_models();
    return test_done();
}
