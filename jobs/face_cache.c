/*
 * face_cache.c — the worker's LRU of loaded faces (see face_cache.h).
 *
 * One doubly linked list, most recently used first, is both the index and the eviction order: a
 * lookup walks it. With a 512 MiB cap and faces of a few MiB that is a few hundred entries, a
 * walk of microseconds against the milliseconds of a storage read and parse it saves. Each entry
 * has a refcount; the cache's own reference is "in_cache". An entry leaves the list when evicted
 * and is freed when it is neither in the cache nor held.
 */
#include "jobs/face_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fc_entry {
    char id[FC_ID_MAX];
    void *value;
    fc_free_fn free_fn;
    uint64_t bytes;
    uint32_t refs; /* holders outside the cache */
    int in_cache;
    fc_entry *prev, *next;
};

struct fc_cache {
    pthread_mutex_t mu;
    uint64_t cap;
    fc_entry *head, *tail; /* most recently used first */
    fc_stats st;
};

fc_cache *fc_new(uint64_t cap_bytes)
{
    fc_cache *c = md_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        md_free(c);
        return NULL;
    }
    c->cap = cap_bytes;
    c->st.cap_bytes = cap_bytes;
    return c;
}

static void entry_destroy(fc_entry *e)
{
    if (e->free_fn != NULL)
        e->free_fn(e->value);
    md_free(e);
}

static void unlink_entry(fc_cache *c, fc_entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(fc_cache *c, fc_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

void fc_free(fc_cache *c)
{
    if (c == NULL)
        return;
    fc_entry *e = c->head;
    while (e != NULL) {
        fc_entry *next = e->next;
        if (e->refs == 0)
            entry_destroy(e);
        else
            e->in_cache =
                0; /* a contract breach (see fc_free): leaked, never freed under a holder */
        e = next;
    }
    pthread_mutex_destroy(&c->mu);
    md_free(c);
}

static fc_entry *find(fc_cache *c, const char *id)
{
    for (fc_entry *e = c->head; e != NULL; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

fc_entry *fc_get(fc_cache *c, const char *id)
{
    if (c == NULL || id == NULL)
        return NULL;
    pthread_mutex_lock(&c->mu);
    fc_entry *e = c->cap > 0 ? find(c, id) : NULL;
    if (e != NULL) {
        e->refs++;
        unlink_entry(c, e);
        push_front(c, e);
        c->st.hits++;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return e;
}

/* Evicts least recently used entries until need more bytes fit under the cap. Held entries are
 * evicted too (they leave the cache; their holders free them): a cap is a cap. Under c->mu. */
static void make_room(fc_cache *c, uint64_t need)
{
    while (c->tail != NULL && c->st.bytes + need > c->cap) {
        fc_entry *e = c->tail;
        unlink_entry(c, e);
        e->in_cache = 0;
        c->st.bytes -= e->bytes;
        c->st.entries--;
        c->st.evictions++;
        if (e->refs == 0)
            entry_destroy(e);
    }
}

fc_entry *fc_put(fc_cache *c, const char *id, void *value, uint64_t bytes, fc_free_fn free_fn,
                 md_error *err)
{
    size_t n = id != NULL ? strnlen(id, FC_ID_MAX) : 0;
    if (c == NULL || n == 0 || n >= FC_ID_MAX) {
        if (free_fn != NULL)
            free_fn(value);
        return md_fail(err, MD_EINVAL, "face cache: a face id is 1 to %d characters",
                       FC_ID_MAX - 1),
               NULL;
    }
    fc_entry *e = md_calloc(1, sizeof *e);
    if (e == NULL) {
        if (free_fn != NULL)
            free_fn(value);
        return md_fail(err, MD_ENOMEM, "face cache: out of memory for an entry"), NULL;
    }
    memcpy(e->id, id, n + 1);
    e->value = value;
    e->free_fn = free_fn;
    e->bytes = bytes;
    e->refs = 1;
    pthread_mutex_lock(&c->mu);
    fc_entry *old = c->cap > 0 ? find(c, id) : NULL;
    if (old != NULL) {
        old->refs++;
        unlink_entry(c, old);
        push_front(c, old);
        pthread_mutex_unlock(&c->mu);
        entry_destroy(e);
        return old;
    }
    if (c->cap > 0 && bytes <= c->cap) {
        make_room(c, bytes);
        e->in_cache = 1;
        push_front(c, e);
        c->st.bytes += bytes;
        c->st.entries++;
    }
    pthread_mutex_unlock(&c->mu);
    return e;
}

void *fc_value(const fc_entry *e)
{
    return e != NULL ? e->value : NULL;
}

void fc_release(fc_cache *c, fc_entry *e)
{
    if (e == NULL)
        return;
    int destroy = 0;
    if (c != NULL)
        pthread_mutex_lock(&c->mu);
    if (e->refs > 0)
        e->refs--;
    destroy = e->refs == 0 && !e->in_cache;
    if (c != NULL)
        pthread_mutex_unlock(&c->mu);
    if (destroy)
        entry_destroy(e);
}

void fc_get_stats(fc_cache *c, fc_stats *out)
{
    memset(out, 0, sizeof *out);
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}
