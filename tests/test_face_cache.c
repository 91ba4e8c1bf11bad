/*
 * test_face_cache.c — the worker's face LRU (jobs/face_cache.h): the cap, eviction order, pinning
 * of held entries across eviction, a racing put, the disabled cache, and a
 * few threads hammering one small cache (run under ASan/TSan to catch races and double frees).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "jobs/face_cache.h"
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

int main(void)
{
    test_lru();
    test_pinning();
    test_disabled_and_errors();
    test_threads();
    return test_done();
}
