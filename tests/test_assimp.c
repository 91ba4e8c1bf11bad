/*
 * test_assimp.c — mesh_parse_assimp() on real files from the shared data: the ICT face pair
 * converted to GLB, FBX and PLY must weld back to the OBJ's 9,409 positions and triangles,
 * with the OBJ's UVs on every corner and the A/B pair passing the topology check; the MediaPipe
 * FBX welds to 468 positions; BoxTextured.glb brings its embedded texture; a .gltf with an
 * external buffer is refused without reading it; parsing is deterministic and safe from several
 * threads. The OBJ references are read here with sscanf, independently of obj.c.
 * Skips (77) when the shared data is absent.
 */
#include "test_util.h"

#include "mesh/mesh_int.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* ---- A reference OBJ, read the simple way ---- */

struct ref {
    float *v; /* 3 per position */
    uint32_t nv;
    float *vt; /* 2 per UV */
    uint32_t nvt;
    uint32_t *tri; /* 3 position indices per triangle (fan triangulation) */
    uint32_t *tri_uv;
    uint32_t ntri;
};

static void ref_load(const char *path, struct ref *r)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    char line[4096];
    uint32_t cap_v = 0, cap_vt = 0, cap_t = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "v ", 2) == 0) {
            if (r->nv == cap_v) {
                cap_v = cap_v ? 2 * cap_v : 1024;
                r->v = realloc(r->v, 3 * sizeof(float) * cap_v);
            }
            sscanf(line + 2, "%f %f %f", &r->v[3 * r->nv], &r->v[3 * r->nv + 1],
                   &r->v[3 * r->nv + 2]);
            r->nv++;
        } else if (strncmp(line, "vt ", 3) == 0) {
            if (r->nvt == cap_vt) {
                cap_vt = cap_vt ? 2 * cap_vt : 1024;
                r->vt = realloc(r->vt, 2 * sizeof(float) * cap_vt);
            }
            sscanf(line + 3, "%f %f", &r->vt[2 * r->nvt], &r->vt[2 * r->nvt + 1]);
            r->nvt++;
        } else if (strncmp(line, "f ", 2) == 0) {
            uint32_t pv[64], pt[64];
            int n = 0;
            char *save = NULL;
            for (char *tok = strtok_r(line + 2, " \t\r\n", &save); tok != NULL && n < 64;
                 tok = strtok_r(NULL, " \t\r\n", &save)) {
                unsigned a = 0, b = 0;
                if (sscanf(tok, "%u/%u", &a, &b) < 1)
                    continue;
                pv[n] = a - 1;
                pt[n] = b ? b - 1 : 0;
                n++;
            }
            for (int k = 1; k + 1 < n; k++) {
                if (r->ntri == cap_t) {
                    cap_t = cap_t ? 2 * cap_t : 1024;
                    r->tri = realloc(r->tri, 3 * sizeof(uint32_t) * cap_t);
                    r->tri_uv = realloc(r->tri_uv, 3 * sizeof(uint32_t) * cap_t);
                }
                const int c[3] = {0, k, k + 1};
                for (int j = 0; j < 3; j++) {
                    r->tri[3 * r->ntri + j] = pv[c[j]];
                    r->tri_uv[3 * r->ntri + j] = pt[c[j]];
                }
                r->ntri++;
            }
        }
    }
    fclose(f);
}

static void ref_free(struct ref *r)
{
    free(r->v);
    free(r->vt);
    free(r->tri);
    free(r->tri_uv);
}

/* ---- Matching welded positions to the reference ---- */

/* For each mesh position, the reference position within tol (a grid of cells of size 4*tol
 * around the reference positions, searched in the 27 neighbouring cells). Returns how many
 * distinct reference positions were matched (== nv for a bijection); map[i] is UINT32_MAX
 * where nothing is near. *worst receives the largest distance. */
static uint32_t match_positions(const mesh *m, const struct ref *r, float tol, uint32_t *map,
                                double *worst)
{
    const double cell = 0.05;
    const size_t buckets = 1u << 16;
    uint32_t *head = malloc(buckets * sizeof *head), *next = malloc(r->nv * sizeof *next);
    memset(head, 0xff, buckets * sizeof *head);
#define CELL_HASH(ix, iy, iz)                                                                      \
    ((((uint64_t)(int64_t)(ix)*73856093u) ^ ((uint64_t)(int64_t)(iy)*19349663u) ^                  \
      ((uint64_t)(int64_t)(iz)*83492791u)) &                                                       \
     (buckets - 1))
    for (uint32_t i = 0; i < r->nv; i++) {
        const float *p = &r->v[3 * i];
        size_t h = CELL_HASH(floor(p[0] / cell), floor(p[1] / cell), floor(p[2] / cell));
        next[i] = head[h];
        head[h] = i;
    }
    uint8_t *used = calloc(r->nv, 1);
    uint32_t distinct = 0;
    *worst = 0;
    for (uint32_t i = 0; i < m->vertex_count; i++) {
        const float *p = &m->positions[3 * i];
        double best = INFINITY;
        uint32_t best_j = UINT32_MAX;
        long cx = (long)floor(p[0] / cell), cy = (long)floor(p[1] / cell),
             cz = (long)floor(p[2] / cell);
        for (long dx = -1; dx <= 1; dx++)
            for (long dy = -1; dy <= 1; dy++)
                for (long dz = -1; dz <= 1; dz++)
                    for (uint32_t j = head[CELL_HASH(cx + dx, cy + dy, cz + dz)]; j != UINT32_MAX;
                         j = next[j]) {
                        const float *q = &r->v[3 * j];
                        double d = fmax(fabs((double)p[0] - q[0]),
                                        fmax(fabs((double)p[1] - q[1]), fabs((double)p[2] - q[2])));
                        if (d < best) {
                            best = d;
                            best_j = j;
                        }
                    }
#undef CELL_HASH
        map[i] = best <= tol ? best_j : UINT32_MAX;
        if (map[i] != UINT32_MAX && !used[map[i]]) {
            used[map[i]] = 1;
            distinct++;
        }
        *worst = fmax(*worst, best);
    }
    free(head);
    free(next);
    free(used);
    return distinct;
}

static int cmp_tri(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    for (int k = 0; k < 3; k++)
        if (x[k] != y[k])
            return x[k] < y[k] ? -1 : 1;
    return 0;
}

/* Rotates a triangle so its smallest index comes first (winding kept). */
static void canonical(uint32_t t[3])
{
    int s = t[1] < t[0] ? (t[2] < t[1] ? 2 : 1) : (t[2] < t[0] ? 2 : 0);
    uint32_t r[3] = {t[s], t[(s + 1) % 3], t[(s + 2) % 3]};
    memcpy(t, r, sizeof r);
}

struct corner {
    uint32_t position;
    float u, v;
};

static int cmp_corner(const void *a, const void *b)
{
    const struct corner *x = a, *y = b;
    return x->position < y->position ? -1 : x->position > y->position ? 1 : 0;
}

/* The mesh, mapped through map, has the reference's triangles (same winding, any order and
 * rotation) and each of its corners carries a UV that the reference gives that position. */
static void check_against_ref(const char *what, const mesh *m, const struct ref *r,
                              const uint32_t *map)
{
    CHECK_INT(r->ntri, m->triangle_count);
    if (m->triangle_count != r->ntri)
        return;
    size_t n = r->ntri;
    uint32_t *a = malloc(3 * n * sizeof *a), *b = malloc(3 * n * sizeof *b);
    for (size_t t = 0; t < n; t++)
        for (int k = 0; k < 3; k++) {
            a[3 * t + k] = r->tri[3 * t + k];
            b[3 * t + k] = map[m->triangles[3 * t + k]];
        }
    for (size_t t = 0; t < n; t++) {
        canonical(&a[3 * t]);
        canonical(&b[3 * t]);
    }
    qsort(a, n, 3 * sizeof *a, cmp_tri);
    qsort(b, n, 3 * sizeof *b, cmp_tri);
    size_t differ = 0;
    for (size_t t = 0; t < n; t++)
        differ += cmp_tri(&a[3 * t], &b[3 * t]) != 0;
    if (differ != 0)
        fprintf(stderr, "%s: %zu of %zu triangles differ from the OBJ's\n", what, differ, n);
    CHECK_INT(0, differ);
    free(a);
    free(b);

    /* UVs: v up as in OBJ, so the same numbers, not 1 - v. */
    CHECK(m->triangle_uvs != NULL);
    if (m->triangle_uvs == NULL)
        return;
    struct corner *ref_corners = malloc(3 * n * sizeof *ref_corners);
    for (size_t i = 0; i < 3 * n; i++) {
        ref_corners[i].position = r->tri[i];
        ref_corners[i].u = r->vt[2 * r->tri_uv[i]];
        ref_corners[i].v = r->vt[2 * r->tri_uv[i] + 1];
    }
    qsort(ref_corners, 3 * n, sizeof *ref_corners, cmp_corner);
    size_t bad_uv = 0;
    for (size_t i = 0; i < 3 * n; i++) {
        struct corner key = {.position = map[m->triangles[i]]};
        const float *uv = &m->uvs[2 * m->triangle_uvs[i]];
        struct corner *hit = bsearch(&key, ref_corners, 3 * n, sizeof key, cmp_corner);
        int found = 0;
        if (hit != NULL) {
            while (hit > ref_corners && hit[-1].position == key.position)
                hit--;
            for (; hit < ref_corners + 3 * n && hit->position == key.position; hit++)
                found |= fabsf(hit->u - uv[0]) < 1e-5f && fabsf(hit->v - uv[1]) < 1e-5f;
        }
        bad_uv += !found;
    }
    if (bad_uv != 0)
        fprintf(stderr, "%s: %zu of %zu corners have a UV the OBJ does not give them\n", what,
                bad_uv, 3 * n);
    CHECK_INT(0, bad_uv);
    free(ref_corners);
}

static mesh *load(const char *rel)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error err = {0};
    mesh *m = NULL;
    double t0 = md_now();
    int rc = mesh_load(test_data(rel), &lim, &m, &err);
    if (rc != 0) {
        fprintf(stderr, "%s: %s (%s)\n", rel, err.msg, md_err_name(rc));
        test_failures++;
        return NULL;
    }
    fprintf(stderr, "%s: %u positions, %u triangles, %u uvs, %u material(s), %.1f ms\n", rel,
            m->vertex_count, m->triangle_count, m->uv_count, m->material_count,
            (md_now() - t0) * 1e3);
    return m;
}

/* ---- Tests ---- */

static void test_ict(const struct ref *obj_a)
{
    static const char *const formats[] = {"glb", "fbx", "ply"};
    for (int f = 0; f < 3; f++) {
        char rel_a[256], rel_b[256];
        snprintf(rel_a, sizeof rel_a, "faces/ict/converted/ict_face_identity_A.%s", formats[f]);
        snprintf(rel_b, sizeof rel_b, "faces/ict/converted/ict_face_identity_B.%s", formats[f]);
        mesh *a = load(rel_a), *b = load(rel_b);
        if (a == NULL || b == NULL) {
            mesh_free(a);
            mesh_free(b);
            continue;
        }
        CHECK(strcmp(mesh_format(a), formats[f]) == 0);
        CHECK_INT(9409, a->vertex_count);
        CHECK_INT(18460, a->triangle_count);
        md_error err = {0};
        CHECK_OK(mesh_check_topology(a, b, &err), &err);

        /* The welded positions are the OBJ's (float export precision; PLY keeps 6 decimals),
         * one to one. assimp does not apply the FBX's UnitScaleFactor (100): the FBX comes out
         * in the OBJ's units, like the GLB and PLY. */
        uint32_t *map = malloc(a->vertex_count * sizeof *map);
        double worst;
        uint32_t distinct = match_positions(a, obj_a, 1e-5f, map, &worst);
        fprintf(stderr, "  %s: %u of %u positions match the OBJ one to one, worst %.2g\n",
                formats[f], distinct, obj_a->nv, worst);
        CHECK_INT(obj_a->nv, distinct);
        if (distinct == obj_a->nv)
            check_against_ref(rel_a, a, obj_a, map);
        if (strcmp(formats[f], "glb") == 0) {
            /* The GLB keeps the OBJ's vertex order: welding in traversal order preserves it. */
            uint32_t same_order = 0;
            for (uint32_t i = 0; i < a->vertex_count; i++)
                same_order += map[i] == i;
            CHECK_INT(a->vertex_count, same_order);
        }
        free(map);

        /* Embedded textures (FBX, GLB) are decoded; the PLY has none. */
        CHECK_INT(1, a->material_count);
        const img *tex = mesh_material_texture(a, 0);
        if (strcmp(formats[f], "ply") == 0) {
            CHECK(tex == NULL);
        } else {
            CHECK(tex != NULL);
            if (tex != NULL) {
                CHECK_INT(1296, img_width(tex));
                CHECK_INT(1298, img_height(tex));
            }
            CHECK(strcmp(mesh_material_name(a, 0), "M_Face") == 0);
        }
        mesh_free(a);
        mesh_free(b);
    }
}

static void test_mediapipe(void)
{
    mesh *m = load("faces/mediapipe/canonical_face_model.fbx");
    if (m == NULL)
        return;
    CHECK_INT(468, m->vertex_count);
    CHECK_INT(898, m->triangle_count);
    struct ref obj;
    ref_load(test_data("faces/mediapipe/canonical_face_model.obj"), &obj);
    uint32_t *map = malloc(m->vertex_count * sizeof *map);
    double worst;
    uint32_t distinct = match_positions(m, &obj, 1e-4f, map, &worst);
    fprintf(stderr, "  mediapipe fbx: %u of %u positions match the OBJ, worst %.2g\n", distinct,
            obj.nv, worst);
    CHECK_INT(obj.nv, distinct);
    if (distinct == obj.nv)
        check_against_ref("canonical_face_model.fbx", m, &obj, map);
    free(map);
    ref_free(&obj);
    mesh_free(m);
}

static void test_box_textured(void)
{
    mesh *m = load("formats/assimp/test/models/glTF2/BoxTextured-glTF-Binary/BoxTextured.glb");
    if (m != NULL) {
        CHECK_INT(8, m->vertex_count);
        CHECK_INT(12, m->triangle_count);
        CHECK(m->uv_count > 0);
        CHECK_INT(1, m->material_count);
        const img *tex = mesh_material_texture(m, 0);
        CHECK(tex != NULL);
        if (tex != NULL) {
            CHECK_INT(211, img_width(tex));
            CHECK_INT(211, img_height(tex));
        }
        float lo[3], hi[3];
        mesh_bounds(m, lo, hi);
        CHECK_NEAR(-0.5, lo[0], 1e-6);
        CHECK_NEAR(0.5, hi[1], 1e-6);
        mesh_free(m);
    }

    /* The .gltf variant keeps its geometry in BoxTextured0.bin beside it. The parser reads no
     * files, so it is refused with a message that names the file and says what to do. */
    md_limits lim;
    md_limits_default(&lim);
    md_error err = {0};
    int rc = mesh_load(test_data("formats/assimp/test/models/glTF2/BoxTextured-glTF/"
                                 "BoxTextured.gltf"),
                       &lim, &m, &err);
    CHECK_INT(MD_EPARSE, rc);
    CHECK_MSG(&err, "BoxTextured0.bin");
    CHECK_MSG(&err, ".glb");
    CHECK(m == NULL);
}

/* Same bytes, same mesh: nothing in the weld depends on addresses or timing. */
static void test_deterministic(void)
{
    const char *rel = "faces/ict/converted/ict_face_identity_B.fbx";
    mesh *a = load(rel), *b = load(rel);
    if (a != NULL && b != NULL) {
        CHECK_INT(a->vertex_count, b->vertex_count);
        CHECK_INT(a->uv_count, b->uv_count);
        CHECK(memcmp(a->positions, b->positions, 3 * sizeof(float) * a->vertex_count) == 0);
        CHECK(memcmp(a->triangles, b->triangles, 3 * sizeof(uint32_t) * a->triangle_count) == 0);
        CHECK(memcmp(a->uvs, b->uvs, 2 * sizeof(float) * a->uv_count) == 0);
        CHECK(memcmp(a->triangle_uvs, b->triangle_uvs, 3 * sizeof(uint32_t) * a->triangle_count) ==
              0);
    }
    mesh_free(a);
    mesh_free(b);
}

/* ---- Several threads at once (the API parses on a thread pool) ---- */

struct job {
    const char *good, *bad;
    int failures;
};

static void *parse_many(void *arg)
{
    struct job *j = arg;
    md_limits lim;
    md_limits_default(&lim);
    for (int i = 0; i < 6; i++) {
        md_error err = {0};
        mesh *m = NULL;
        if (mesh_load(j->good, &lim, &m, &err) != 0 || m->vertex_count != 8)
            j->failures++;
        mesh_free(m);
        m = NULL;
        /* Failing imports write assimp's global error string: the case the lock is for. */
        if (mesh_load(j->bad, &lim, &m, &err) != MD_EPARSE || strstr(err.msg, "GLTF") == NULL)
            j->failures++;
        mesh_free(m);
    }
    return NULL;
}

static void test_threads(void)
{
    char good[4096], bad[4096];
    snprintf(good, sizeof good, "%s",
             test_data("formats/assimp/test/models/glTF2/BoxTextured-glTF-Binary/"
                       "BoxTextured.glb"));
    snprintf(bad, sizeof bad, "%s",
             test_data("formats/assimp/test/models/glTF2/TestNoRootNode/NoScene.gltf"));
    pthread_t threads[6];
    struct job jobs[6];
    for (int i = 0; i < 6; i++) {
        jobs[i] = (struct job){good, bad, 0};
        pthread_create(&threads[i], NULL, parse_many, &jobs[i]);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT(0, jobs[i].failures);
    }
}

int main(void)
{
    struct ref obj_a;
    ref_load(test_data("faces/ict/ict_face_identity_A.obj"), &obj_a);
    CHECK_INT(9409, obj_a.nv);
    CHECK_INT(18460, obj_a.ntri);
    test_ict(&obj_a);
    ref_free(&obj_a);
    test_mediapipe();
    test_box_textured();
    test_deterministic();
    test_threads();
    return test_done();
}
