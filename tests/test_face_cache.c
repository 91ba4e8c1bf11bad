/*
 * test_face_cache.c — the worker's face LRU (jobs/face_cache.h): the cap, eviction order, pinning
 * of held entries across eviction, a racing put, the disabled cache, and a
 * few threads hammering one small cache (run under ASan/TSan to catch races and double frees).
 * Then the values the worker caches, prepared faces (job_face, jobs/job.h): their real bytes,
 * mip pyramids built once and shared by every job's inputs, hits and eviction under a cap of
 * two faces, and a face evicted while a job's inputs still borrow it staying readable until
 * the last holder releases it.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "jobs/face_cache.h"
#include "jobs/job.h"
#include "mesh/image.h"
#include "test_util.h"

static int freed[16];

static void free_val(void *v)
{
    int *i = v;
    freed[*i]++;
    md_free(i);
}

static int *val(int i)
{
    int *v = md_calloc(1, sizeof *v);
    *v = i;
    return v;
}

static fc_entry *put(fc_cache *c, const char *id, int i, uint64_t bytes)
{
    md_error err;
    md_error_clear(&err);
    fc_entry *e = fc_put(c, id, val(i), bytes, free_val, &err);
    CHECK(e != NULL);
    return e;
}

static void test_lru(void)
{
    memset(freed, 0, sizeof freed);
    fc_cache *c = fc_new(300);
    fc_release(c, put(c, "a", 1, 100));
    fc_release(c, put(c, "b", 2, 100));
    fc_release(c, put(c, "c", 3, 100));
    fc_stats st;
    fc_get_stats(c, &st);
    CHECK_INT(300, st.bytes);
    CHECK_INT(3, st.entries);
    /* a is used again, so b is now the least recently used. */
    fc_entry *a = fc_get(c, "a");
    CHECK(a != NULL);
    CHECK_INT(1, *(int *)fc_value(a));
    fc_release(c, a);
    fc_release(c, put(c, "d", 4, 100));
    CHECK_INT(1, freed[2]);
    CHECK_INT(0, freed[1]);
    CHECK(fc_get(c, "b") == NULL);
    fc_entry *e = fc_get(c, "c");
    CHECK(e != NULL);
    fc_release(c, e);
    fc_get_stats(c, &st);
    CHECK_INT(300, st.bytes);
    CHECK_INT(3, st.entries);
    CHECK_INT(1, st.evictions);
    CHECK_INT(2, st.hits);
    CHECK_INT(1, st.misses);
    /* One entry needing 200 bytes evicts the two least recently used (a, then d) but not c. */
    fc_release(c, put(c, "big", 5, 200));
    fc_get_stats(c, &st);
    CHECK_INT(3, st.evictions);
    CHECK_INT(1, freed[1]);
    CHECK_INT(1, freed[4]);
    CHECK_INT(0, freed[3]);
    /* Larger than the cap: handed back, never cached, freed on release. */
    fc_entry *huge = put(c, "huge", 6, 301);
    CHECK_INT(6, *(int *)fc_value(huge));
    fc_release(c, huge);
    CHECK_INT(1, freed[6]);
    CHECK(fc_get(c, "huge") == NULL);
    fc_free(c);
    CHECK_INT(1, freed[3]);
    CHECK_INT(1, freed[5]);
}

static void test_pinning(void)
{
    memset(freed, 0, sizeof freed);
    fc_cache *c = fc_new(100);
    fc_entry *a = put(c, "a", 1, 100);  /* held by a "running batch" */
    fc_release(c, put(c, "b", 2, 100)); /* evicts a from the cache... */
    CHECK_INT(0, freed[1]);             /* ...but does not free it under its holder */
    CHECK_INT(1, *(int *)fc_value(a));
    CHECK(fc_get(c, "a") == NULL);
    fc_stats st;
    fc_get_stats(c, &st);
    CHECK_INT(100, st.bytes);
    CHECK_INT(1, st.entries);
    fc_release(c, a);
    CHECK_INT(1, freed[1]);
    /* A racing put of an id already cached keeps the cached value and frees the new one. */
    fc_entry *b1 = put(c, "b", 3, 100);
    CHECK_INT(2, *(int *)fc_value(b1));
    CHECK_INT(1, freed[3]);
    fc_release(c, b1);
    fc_free(c);
    CHECK_INT(1, freed[2]);
}

static void test_disabled_and_errors(void)
{
    memset(freed, 0, sizeof freed);
    fc_cache *c = fc_new(0);
    fc_entry *a = put(c, "a", 1, 10);
    CHECK_INT(1, *(int *)fc_value(a));
    CHECK(fc_get(c, "a") == NULL);
    fc_release(c, a);
    CHECK_INT(1, freed[1]);
    md_error err;
    md_error_clear(&err);
    char long_id[80];
    memset(long_id, 'f', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    CHECK(fc_put(c, long_id, val(2), 1, free_val, &err) == NULL);
    CHECK_INT(MD_EINVAL, err.code);
    CHECK_INT(1, freed[2]);
    CHECK(fc_put(c, "", val(3), 1, free_val, &err) == NULL);
    CHECK_INT(1, freed[3]);
    fc_free(c);
    fc_free(NULL);
    fc_release(NULL, NULL);
}

/* ---- threads ---- */

static void free_buf(void *v)
{
    md_free(v);
}

typedef struct {
    fc_cache *c;
    int seed;
    int bad;
} worker_arg;

static void *hammer(void *p)
{
    worker_arg *a = p;
    unsigned x = (unsigned)a->seed * 2654435761u + 1;
    for (int i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        int k = (int)((x >> 16) % 12);
        char id[8];
        snprintf(id, sizeof id, "f%d", k);
        fc_entry *e = fc_get(a->c, id);
        if (e == NULL) {
            unsigned char *buf = md_calloc(64, 1);
            memset(buf, k, 64);
            md_error err;
            md_error_clear(&err);
            e = fc_put(a->c, id, buf, 64, free_buf, &err);
        }
        const unsigned char *v = fc_value(e);
        for (int b = 0; b < 64; b++)
            if (v[b] != k)
                a->bad++;
        fc_release(a->c, e);
    }
    return NULL;
}

static void test_threads(void)
{
    fc_cache *c = fc_new(64 * 5); /* 5 of 12 ids fit: constant eviction */
    pthread_t t[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){c, i + 1, 0};
        pthread_create(&t[i], NULL, hammer, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(0, args[i].bad);
    }
    fc_stats st;
    fc_get_stats(c, &st);
    CHECK_INT(4 * 20000, st.hits + st.misses);
    CHECK(st.hits > 0);
    CHECK(st.evictions > 0);
    CHECK(st.bytes <= 64 * 5);
    CHECK_INT(st.bytes, st.entries * 64);
    fc_free(c);
}

/* ---- prepared faces ---- */

static int faces_freed;

static void free_face(void *v)
{
    faces_freed++;
    job_face_free(v);
}

/* A textured quad (4 vertices, 2 triangles, UVs) with a size x size texture whose texels all
 * hold value: a prepared face with its mips. */
static job_face *quad_face(int size, uint8_t value)
{
    static const char obj[] = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"
                              "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n";
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    mesh *m = NULL;
    CHECK_OK(mesh_parse_obj(obj, strlen(obj), &lim, &m, &err), &err);
    img *tex = img_new(size, size);
    memset(img_pixels(tex), value, (size_t)size * (size_t)size * 4);
    CHECK_OK(mesh_set_texture(m, tex, &err), &err);
    job_face *f = NULL;
    CHECK_OK(job_face_new(m, 1, &f, &err), &err);
    return f;
}

static void test_prepared_faces(void)
{
    md_error err;
    md_error_clear(&err);
    faces_freed = 0;
    job_face *a = quad_face(64, 200);
    /* The bytes are the real ones: texture, its mip levels, the arrays, the tables. */
    uint64_t texture = 64 * 64 * 4, mips = eng_texture_mips_bytes(64, 64);
    uint64_t bytes = job_face_bytes(a);
    CHECK(bytes >= texture + mips + 4 * 3 * sizeof(float));
    CHECK(bytes < texture + mips + 4096);
    /* Two jobs' inputs share the face's tables and mips; freeing them leaves the face alone. */
    job_inputs *in1 = NULL, *in2 = NULL;
    CHECK_OK(job_inputs_from_faces(a, a, &in1, &err), &err);
    CHECK_OK(job_inputs_from_faces(a, NULL, &in2, &err), &err);
    const eng_material *m1 = job_inputs_materials(in1, 0), *m2 = job_inputs_materials(in2, 0);
    CHECK(m1 == m2);
    CHECK(m1[0].rgba != NULL && m1[0].mip_levels != NULL);
    CHECK_INT(200, m1[0].mip_levels[0]); /* level 1 of a uniform texture: the same texels */
    CHECK_OK(job_inputs_prepare_mips(in1, &err), &err);
    CHECK(job_inputs_materials(in1, 0)[0].mip_levels == m1[0].mip_levels);
    job_inputs_free(in1);
    job_inputs_free(in2);
    CHECK(job_face_mesh(a) != NULL);
    CHECK_INT(4, mesh_vertex_count(job_face_mesh(a)));

    /* Texture keys (the GPU's texture cache): none until the worker names the face, then one
     * per textured material, stable for an id, different for another id or material. */
    CHECK(m1[0].texture_key == 0);
    const char *id_a = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const char *id_b = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a09";
    const char *id_c = "9f86d081884c7d669a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    job_face_key_textures(a, id_a);
    CHECK(m1[0].texture_key != 0);
    CHECK(m1[0].texture_key == job_texture_key(id_a, 0));
    CHECK(job_texture_key(id_a, 0) == job_texture_key(id_a, 0));
    CHECK(job_texture_key(id_a, 0) != job_texture_key(id_a, 1));
    CHECK(job_texture_key(id_a, 0) != job_texture_key(id_c, 0));
    /* A key is 64 bits of the id's SHA-256: ids that differ only past them share a key (any
     * 64-bit key has such pairs; for content hashes they come with odds of 2^-64 a pair). */
    CHECK(job_texture_key(id_a, 0) == job_texture_key(id_b, 0));
    CHECK(job_texture_key("not hex at all", 0) != 0);
    CHECK(job_texture_key("not hex at all", 0) != job_texture_key("not hex at all!", 0));

    /* A cap of two faces: hits, then the least recently used one evicted for a third. */
    fc_cache *c = fc_new(2 * bytes + bytes / 2);
    fc_entry *ea = fc_put(c, "a", a, bytes, free_face, &err);
    fc_release(c, ea);
    fc_release(c, fc_put(c, "b", quad_face(64, 10), bytes, free_face, &err));
    fc_entry *hit = fc_get(c, "a");
    CHECK(hit != NULL && fc_value(hit) == a);
    fc_release(c, hit);
    fc_release(c, fc_put(c, "c", quad_face(64, 20), bytes, free_face, &err));
    fc_stats st;
    fc_get_stats(c, &st);
    CHECK_INT(1, st.hits);
    CHECK_INT(1, st.evictions);
    CHECK_INT(2, st.entries);
    CHECK_INT(2 * bytes, st.bytes);
    CHECK_INT(1, faces_freed); /* b, the least recently used */
    CHECK(fc_get(c, "b") == NULL);

    /* A job holds a and borrows it in its inputs; two more faces evict it meanwhile. */
    fc_entry *held = fc_get(c, "a");
    CHECK(held != NULL);
    job_inputs *in = NULL;
    CHECK_OK(job_inputs_from_faces(fc_value(held), fc_value(held), &in, &err), &err);
    fc_release(c, fc_put(c, "d", quad_face(64, 30), bytes, free_face, &err));
    fc_release(c, fc_put(c, "e", quad_face(64, 40), bytes, free_face, &err));
    CHECK(fc_get(c, "a") == NULL);
    fc_get_stats(c, &st);
    CHECK_INT(2, st.entries);
    CHECK_INT(2 * bytes, st.bytes); /* the held face is no longer the cache's */
    CHECK_INT(2, faces_freed);      /* c went; a did not: it is held */
    /* Still whole under its holder (ASan would see a freed texture here). */
    const eng_material *mat = job_inputs_materials(in, 1);
    CHECK_INT(200, mat[0].rgba[64 * 64 * 4 - 1]);
    CHECK_INT(4, mesh_vertex_count(job_inputs_mesh(in, 0)));
    job_inputs_free(in);
    fc_release(c, held); /* the last holder frees it */
    CHECK_INT(3, faces_freed);
    fc_free(c);
    CHECK_INT(5, faces_freed);
}

int main(void)
{
    test_lru();
    test_pinning();
    test_disabled_and_errors();
    test_threads();
    test_prepared_faces();
    return test_done();
}
