/*
 * test_morph_target.c — mesh_load_ex() with mesh_load_opts.morph_target on the glTF sample
 * AnimatedMorphCube (two targets, "thin" and "angle" by index), packed here into a GLB because
 * uploads and the loader read no external buffer. The target's positions are checked against
 * the file's own base + delta read independently from the .bin (through the node's rotation and
 * scale); the base and the target load
 * with one topology; an unknown target is refused with the file's targets listed; an OBJ and a
 * GLB without targets are refused clearly. A real face: the ICT identity A GLB given a target
 * "identity_B" (named through glTF extras.targetNames, deltas B - A) loads by name as ICT B.
 * `morph run --target-morph` runs end to end with its manifest note, and a plain run of a file
 * with targets notes them. FBX blend shapes: the cube written as an FBX by assimp's exporter
 * loads its target to the file's own base + delta. Skips (77) when the shared data is absent.
 */
#include "test_util.h"

#include "mesh/mesh.h"

#include <assimp/cexport.h>
#include <assimp/cimport.h>
#include <assimp/scene.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#define CUBE "formats/assimp/test/models/glTF2/AnimatedMorphCube/glTF/AnimatedMorphCube"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Writes the .gltf + its one .bin as a GLB at out (the buffer's uri dropped). */
static void pack_glb(const char *gltf, const char *bin, const char *out)
{
    json_error_t jerr;
    json_t *root = json_load_file(gltf, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "%s: %s\n", gltf, jerr.text);
        exit(1);
    }
    json_object_del(json_array_get(json_object_get(root, "buffers"), 0), "uri");
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t bin_len;
    uint8_t *bin_bytes = slurp(bin, &bin_len);
    size_t json_len = (strlen(text) + 3) & ~(size_t)3;
    size_t bin_pad = (bin_len + 3) & ~(size_t)3;
    size_t total = 12 + 8 + json_len + 8 + bin_pad;
    uint8_t *glb = calloc(1, total);
    memcpy(glb, "glTF", 4);
    put_u32(glb + 4, 2);
    put_u32(glb + 8, (uint32_t)total);
    put_u32(glb + 12, (uint32_t)json_len);
    memcpy(glb + 16, "JSON", 4);
    memset(glb + 20, ' ', json_len);
    memcpy(glb + 20, text, strlen(text));
    uint8_t *b = glb + 20 + json_len;
    put_u32(b, (uint32_t)bin_pad);
    memcpy(b + 4, "BIN\0", 4);
    memcpy(b + 8, bin_bytes, bin_len);
    FILE *f = fopen(out, "wb");
    if (f == NULL || fwrite(glb, 1, total, f) != total) {
        fprintf(stderr, "cannot write %s\n", out);
        exit(1);
    }
    fclose(f);
    free(glb);
    free(bin_bytes);
    free(text);
}

/* Accessor i of the .gltf (VEC3 floats, tightly packed) read from the .bin: count vec3s. */
static float *read_vec3(const char *gltf, const uint8_t *bin, int accessor, size_t *count)
{
    json_t *root = json_load_file(gltf, 0, NULL);
    json_t *acc = json_array_get(json_object_get(root, "accessors"), (size_t)accessor);
    json_t *view = json_array_get(json_object_get(root, "bufferViews"),
                                  (size_t)json_integer_value(json_object_get(acc, "bufferView")));
    size_t off = (size_t)json_integer_value(json_object_get(view, "byteOffset")) +
                 (size_t)json_integer_value(json_object_get(acc, "byteOffset"));
    *count = (size_t)json_integer_value(json_object_get(acc, "count"));
    float *v = malloc(*count * 3 * sizeof(float));
    memcpy(v, bin + off, *count * 3 * sizeof(float));
    json_decref(root);
    return v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Writes ICT face A's GLB with one morph target "identity_B" whose POSITION deltas are B - A
 * (both GLBs come from one exporter with one layout), the way a head with an identity shape
 * travels. */
static void make_ict_with_target(const char *glb_a, const char *glb_b, const char *out)
{
    size_t la, lb;
    uint8_t *a = slurp(glb_a, &la), *b = slurp(glb_b, &lb);
    uint32_t json_len = get_u32(a + 12);
    const uint8_t *bin_a = a + 20 + json_len + 8, *bin_b = b + 20 + get_u32(b + 12) + 8;
    uint32_t bin_len = get_u32(a + 20 + json_len);
    json_t *root = json_loadb((const char *)a + 20, json_len, 0, NULL);
    json_t *prim = json_array_get(
        json_object_get(json_array_get(json_object_get(root, "meshes"), 0), "primitives"), 0);
    size_t acc_i = (size_t)json_integer_value(
        json_object_get(json_object_get(prim, "attributes"), "POSITION"));
    json_t *acc = json_array_get(json_object_get(root, "accessors"), acc_i);
    json_t *view = json_array_get(json_object_get(root, "bufferViews"),
                                  (size_t)json_integer_value(json_object_get(acc, "bufferView")));
    size_t off = (size_t)json_integer_value(json_object_get(view, "byteOffset")) +
                 (size_t)json_integer_value(json_object_get(acc, "byteOffset"));
    size_t count = (size_t)json_integer_value(json_object_get(acc, "count"));
    size_t delta_len = count * 12, new_bin = (bin_len + delta_len + 3) & ~(size_t)3;
    uint8_t *bin = calloc(1, new_bin);
    memcpy(bin, bin_a, bin_len);
    for (size_t i = 0; i < 3 * count; i++) {
        float fa, fb, d;
        memcpy(&fa, bin_a + off + 4 * i, 4);
        memcpy(&fb, bin_b + off + 4 * i, 4);
        d = fb - fa;
        memcpy(bin + bin_len + 4 * i, &d, 4);
    }
    json_array_append_new(json_object_get(root, "bufferViews"),
                          json_pack("{s:i,s:I,s:I}", "buffer", 0, "byteOffset", (json_int_t)bin_len,
                                    "byteLength", (json_int_t)delta_len));
    json_array_append_new(
        json_object_get(root, "accessors"),
        json_pack("{s:I,s:i,s:I,s:s}", "bufferView",
                  (json_int_t)json_array_size(json_object_get(root, "bufferViews")) - 1,
                  "componentType", 5126, "count", (json_int_t)count, "type", "VEC3"));
    json_object_set_new(
        prim, "targets",
        json_pack("[{s:I}]", "POSITION",
                  (json_int_t)json_array_size(json_object_get(root, "accessors")) - 1));
    json_t *mesh0 = json_array_get(json_object_get(root, "meshes"), 0);
    json_object_set_new(mesh0, "weights", json_pack("[f]", 0.0));
    json_object_set_new(mesh0, "extras", json_pack("{s:[s]}", "targetNames", "identity_B"));
    json_object_set_new(json_array_get(json_object_get(root, "buffers"), 0), "byteLength",
                        json_integer((json_int_t)new_bin));
    char *text = json_dumps(root, JSON_COMPACT);
    size_t jl = (strlen(text) + 3) & ~(size_t)3, total = 12 + 8 + jl + 8 + new_bin;
    uint8_t *glb = calloc(1, total);
    memcpy(glb, "glTF", 4);
    put_u32(glb + 4, 2);
    put_u32(glb + 8, (uint32_t)total);
    put_u32(glb + 12, (uint32_t)jl);
    memcpy(glb + 16, "JSON", 4);
    memset(glb + 20, ' ', jl);
    memcpy(glb + 20, text, strlen(text));
    put_u32(glb + 20 + jl, (uint32_t)new_bin);
    memcpy(glb + 24 + jl, "BIN\0", 4);
    memcpy(glb + 28 + jl, bin, new_bin);
    FILE *f = fopen(out, "wb");
    if (f == NULL || fwrite(glb, 1, total, f) != total) {
        fprintf(stderr, "cannot write %s\n", out);
        exit(1);
    }
    fclose(f);
    free(glb);
    free(text);
    free(bin);
    json_decref(root);
    free(a);
    free(b);
}

static mesh *load(const char *path, const char *target, md_error *err)
{
    md_limits lim;
    md_limits_default(&lim);
    mesh_load_opts opts = {.morph_target = target};
    mesh *m = NULL;
    if (mesh_load_ex(path, &lim, &opts, &m, err) != 0)
        return NULL;
    return m;
}

/* The cube's node: rotation quaternion (x, y, z, w) and a uniform scale, read by hand. */
static const double cube_q[4] = {0.0, 0.7071067, -0.7071068, 0.0};
static const double cube_scale = 100.0;

static void to_world(const float *p, double out[3])
{
    const double x = cube_q[0], y = cube_q[1], z = cube_q[2], w = cube_q[3];
    const double r[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)},
                            {2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)},
                            {2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)}};
    for (int i = 0; i < 3; i++)
        out[i] = cube_scale * (r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2]);
}

/* Every welded vertex of the target mesh sits at the node transform of base + delta of the file
 * vertices that share its base position. Returns the largest displacement. */
static float check_target(const mesh *base, const mesh *moved, const float *pos, const float *delta,
                          size_t n)
{
    float largest = 0;
    CHECK_INT(mesh_vertex_count(base), mesh_vertex_count(moved));
    for (uint32_t v = 0; v < mesh_vertex_count(base); v++) {
        const float *b = &mesh_positions(base)[3 * v];
        const float *t = &mesh_positions(moved)[3 * v];
        int found = 0;
        for (size_t i = 0; i < n; i++) {
            double wb[3], wt[3];
            float sum[3] = {pos[3 * i] + delta[3 * i], pos[3 * i + 1] + delta[3 * i + 1],
                            pos[3 * i + 2] + delta[3 * i + 2]};
            to_world(&pos[3 * i], wb);
            if (fabs(wb[0] - b[0]) + fabs(wb[1] - b[1]) + fabs(wb[2] - b[2]) > 1e-3)
                continue;
            found = 1;
            to_world(sum, wt);
            for (int k = 0; k < 3; k++)
                CHECK_NEAR(wt[k], t[k], 1e-3);
        }
        CHECK(found);
        float d = 0;
        for (int k = 0; k < 3; k++)
            d += (t[k] - b[k]) * (t[k] - b[k]);
        largest = sqrtf(d) > largest ? sqrtf(d) : largest;
    }
    return largest;
}

/* The cube GLB written as an ASCII FBX by assimp's own exporter, which turns glTF targets into
 * FBX blend shape channels: the data holds no FBX with blend shapes. (assimp 5.2's binary FBX
 * exporter writes files its own importer refuses; its ASCII one reads back.) 0 on success. */
static int export_fbx(const char *glb, const char *out)
{
    const struct aiScene *scene = aiImportFile(glb, 0);
    if (scene == NULL) {
        fprintf(stderr, "assimp cannot read %s: %s\n", glb, aiGetErrorString());
        return -1;
    }
    int rc = aiExportScene(scene, "fbxa", out, 0) == aiReturn_SUCCESS ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "assimp cannot write %s: %s\n", out, aiGetErrorString());
    aiReleaseImport(scene);
    return rc;
}

/* FBX blend shapes: the cube's FBX loads with its 2 targets, and target 1 moves each corner by
 * the file's own delta of that corner (the glTF .bin's base + "angle" delta, read by hand). The
 * exported FBX holds the mesh in its own units, without the glTF node's rotation and scale, so
 * the check is against the raw values; vertices are matched by base position. */
static void check_fbx_blend_shapes(const char *glb, const float *pos, const float *delta, size_t n)
{
    char fbx[4096];
    snprintf(fbx, sizeof fbx, "%s/AnimatedMorphCube.fbx", test_tmpdir("morph_target_fbx"));
    CHECK_INT(0, export_fbx(glb, fbx));
    md_error err = {0};
    mesh *base = load(fbx, NULL, &err);
    CHECK_OK(base ? 0 : -1, &err);
    mesh *t1 = load(fbx, "1", &err);
    CHECK_OK(t1 ? 0 : -1, &err);
    if (base != NULL && t1 != NULL) {
        CHECK_STR("fbx", mesh_format(base));
        CHECK_INT(2, mesh_morph_target_count(base));
        CHECK_INT(8, mesh_vertex_count(base));
        CHECK_INT(0, mesh_check_topology(base, t1, &err));
        float largest = 0;
        for (uint32_t v = 0; v < mesh_vertex_count(base); v++) {
            const float *b = &mesh_positions(base)[3 * v], *t = &mesh_positions(t1)[3 * v];
            int found = 0;
            for (size_t i = 0; i < n; i++) {
                const float *p = &pos[3 * i];
                if (fabsf(p[0] - b[0]) + fabsf(p[1] - b[1]) + fabsf(p[2] - b[2]) > 1e-6f)
                    continue;
                found = 1;
                for (int k = 0; k < 3; k++)
                    CHECK_NEAR(p[k] + delta[3 * i + k], t[k], 1e-6);
            }
            CHECK(found);
            for (int k = 0; k < 3; k++)
                largest = fabsf(t[k] - b[k]) > largest ? fabsf(t[k] - b[k]) : largest;
        }
        printf("FBX blend shape 1: largest coordinate move %g\n", largest);
        CHECK(largest > 0.01f); /* the target really moves the cube */
    }
    mesh_free(base);
    mesh_free(t1);
}

int main(void)
{
    char gltf[4096], bin[4096], glb[4096];
    snprintf(gltf, sizeof gltf, "%s", test_data(CUBE ".gltf"));
    snprintf(bin, sizeof bin, "%s", test_data(CUBE ".bin"));
    snprintf(glb, sizeof glb, "%s/AnimatedMorphCube.glb", test_tmpdir("morph_target"));
    pack_glb(gltf, bin, glb);

    size_t bin_len, n_pos, n_thin, n_angle;
    uint8_t *bin_bytes = slurp(bin, &bin_len);
    float *pos = read_vec3(gltf, bin_bytes, 2, &n_pos);
    float *thin = read_vec3(gltf, bin_bytes, 4, &n_thin);
    float *angle = read_vec3(gltf, bin_bytes, 7, &n_angle);
    CHECK_INT(24, n_pos);
    CHECK_INT(24, n_thin);

    md_error err = {0};
    mesh *base = load(glb, NULL, &err);
    CHECK_OK(base ? 0 : -1, &err);
    if (base == NULL)
        return test_done();
    CHECK_INT(8, mesh_vertex_count(base)); /* 24 split vertices weld to the cube's 8 corners */
    CHECK_INT(2, mesh_morph_target_count(base));
    char list[256];
    mesh_morph_target_list(base, list, sizeof list);
    printf("targets: %s\n", list);

    /* By index; and by name when assimp gives the targets names. */
    mesh *t0 = load(glb, "0", &err);
    CHECK_OK(t0 ? 0 : -1, &err);
    mesh *t1 = load(glb, "1", &err);
    CHECK_OK(t1 ? 0 : -1, &err);
    if (t0 != NULL && t1 != NULL) {
        CHECK_INT(0, mesh_check_topology(base, t0, &err));
        CHECK_INT(0, mesh_check_topology(base, t1, &err));
        float moved0 = check_target(base, t0, pos, thin, n_pos);
        float moved1 = check_target(base, t1, pos, angle, n_pos);
        printf("largest displacement: thin %g, angle %g\n", moved0, moved1);
        CHECK(moved0 > 1.0f); /* 0.0189 in the file, times the node's scale of 100 */
        CHECK(moved1 > 1.0f);
    }
    const char *name = mesh_morph_target_name(base, 0);
    if (name != NULL && name[0] != '\0') {
        mesh *by_name = load(glb, name, &err);
        CHECK_OK(by_name ? 0 : -1, &err);
        if (by_name != NULL && t0 != NULL)
            CHECK(memcmp(mesh_positions(by_name), mesh_positions(t0),
                         3 * sizeof(float) * mesh_vertex_count(t0)) == 0);
        mesh_free(by_name);
    }

    check_fbx_blend_shapes(glb, pos, angle, n_pos);

    /* Refusals. */
    CHECK(load(glb, "identity_B", &err) == NULL);
    CHECK_INT(MD_EINVAL, err.code);
    CHECK_MSG(&err, "no morph target 'identity_B'");
    CHECK_MSG(&err, "0 '");
    CHECK_MSG(&err, "1 '");
    CHECK(load(glb, "2", &err) == NULL);
    CHECK_MSG(&err, "its 2 target(s)");
    CHECK(load(test_data("faces/ict/ict_face_identity_A.obj"), "0", &err) == NULL);
    CHECK_INT(MD_EINVAL, err.code);
    CHECK_MSG(&err, "OBJ files carry no morph targets");
    mesh *plain = load(test_data("faces/ict/converted/ict_face_identity_A.glb"), NULL, &err);
    CHECK_OK(plain ? 0 : -1, &err);
    if (plain != NULL)
        CHECK_INT(0, mesh_morph_target_count(plain));
    mesh_free(plain);
    CHECK(load(test_data("faces/ict/converted/ict_face_identity_A.glb"), "identity_B", &err) ==
          NULL);
    CHECK_MSG(&err, "the file has no morph targets");

    /* `morph run SOURCE --target-morph 1`: frames from the base to the target, noted. */
    char dir[1024], args[16384], errtext[4096], manifest[65536];
    snprintf(dir, sizeof dir, "%s", test_tmpdir("morph_target_cli"));
    snprintf(args, sizeof args, "run '%s' --target-morph 1 -o '%s/out' --frames 3 --size 64x64 -q",
             glb, dir);
    CHECK_INT(0, test_run_morph(dir, "", args, errtext, sizeof errtext));
    char frames[1100];
    snprintf(frames, sizeof frames, "%s/out", dir);
    test_slurp(frames, "manifest.json", manifest, sizeof manifest);
    CHECK_CONTAINS(manifest, "\"morph_target\": \"1\"");
    CHECK_CONTAINS(manifest, "morph target '1' of ");
    /* --replay of that run morphs toward the same target (the manifest records it). */
    snprintf(args, sizeof args, "run --replay '%s/out/manifest.json' -o '%s/again' -q", dir, dir);
    CHECK_INT(0, test_run_morph(dir, "", args, errtext, sizeof errtext));
    snprintf(frames, sizeof frames, "%s/again", dir);
    test_slurp(frames, "manifest.json", manifest, sizeof manifest);
    CHECK_CONTAINS(manifest, "morph target '1' of ");
    snprintf(args, sizeof args, "run '%s' --target-morph 7 -o '%s/bad' -q", glb, dir);
    CHECK_INT(2, test_run_morph(dir, "", args, errtext, sizeof errtext));
    CHECK_CONTAINS(errtext, "no morph target '7'");
    snprintf(args, sizeof args, "run '%s' '%s' --target-morph 1 -o '%s/bad' -q", glb, glb, dir);
    CHECK_INT(2, test_run_morph(dir, "", args, errtext, sizeof errtext));
    CHECK_CONTAINS(errtext, "give one mesh file");
    /* A plain run of a file with targets says so. */
    snprintf(args, sizeof args, "run '%s' '%s' -o '%s/plain' --frames 2 --size 32x32 -q", glb, glb,
             dir);
    CHECK_INT(0, test_run_morph(dir, "", args, errtext, sizeof errtext));
    CHECK_CONTAINS(errtext, "has 2 morph target(s)");
    snprintf(frames, sizeof frames, "%s/plain", dir);
    test_slurp(frames, "manifest.json", manifest, sizeof manifest);
    CHECK_CONTAINS(manifest, "has 2 morph target(s)");

    /* A real face: ICT A with target "identity_B" loads as ICT B, by name, same topology. */
    char ict_a[4096], ict_b[4096], ict[4200];
    snprintf(ict_a, sizeof ict_a, "%s", test_data("faces/ict/converted/ict_face_identity_A.glb"));
    snprintf(ict_b, sizeof ict_b, "%s", test_data("faces/ict/converted/ict_face_identity_B.glb"));
    snprintf(ict, sizeof ict, "%s/ict_head.glb", test_tmpdir("morph_target_ict"));
    make_ict_with_target(ict_a, ict_b, ict);
    mesh *head = load(ict, NULL, &err);
    CHECK_OK(head ? 0 : -1, &err);
    mesh *toward = load(ict, "identity_B", &err);
    CHECK_OK(toward ? 0 : -1, &err);
    mesh *face_b = load(ict_b, NULL, &err);
    CHECK_OK(face_b ? 0 : -1, &err);
    if (head != NULL && toward != NULL && face_b != NULL) {
        CHECK_INT(1, mesh_morph_target_count(head));
        CHECK_STR("identity_B", mesh_morph_target_name(head, 0));
        CHECK_INT(9409, mesh_vertex_count(toward));
        CHECK_INT(0, mesh_check_topology(head, toward, &err));
        CHECK_INT(mesh_vertex_count(face_b), mesh_vertex_count(toward));
        double worst = 0;
        for (uint32_t i = 0; i < 3 * mesh_vertex_count(toward); i++) {
            double d = fabs(mesh_positions(toward)[i] - mesh_positions(face_b)[i]);
            worst = d > worst ? d : worst;
        }
        printf("ICT A + identity_B vs ICT B: largest coordinate difference %g\n", worst);
        CHECK(worst < 1e-4);
    }
    mesh_free(head);
    mesh_free(toward);
    mesh_free(face_b);

    mesh_free(base);
    mesh_free(t0);
    mesh_free(t1);
    free(pos);
    free(thin);
    free(angle);
    free(bin_bytes);
    return test_done();
}
