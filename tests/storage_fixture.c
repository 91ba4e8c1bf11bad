/*
 * storage_fixture.c — see storage_fixture.h. Test code, one thread.
 */
#include "storage_fixture.h"

#include <stdio.h>
#include <string.h>

#include "test_util.h"

int sf_on_key(void *user, const char *key, uint64_t size)
{
    sf_listing *l = user;
    if (l->count < SF_LIST_MAX) {
        snprintf(l->keys[l->count], sizeof l->keys[0], "%s", key);
        l->sizes[l->count] = size;
    }
    l->count++;
    return l->stop_after != 0 && l->count >= l->stop_after;
}

sf_listing sf_list_of(stg *s, const char *prefix)
{
    sf_listing l;
    memset(&l, 0, sizeof l);
    md_error err;
    CHECK_OK(stg_list(s, prefix, sf_on_key, &l, &err), &err);
    return l;
}

void sf_check_list(int line, const sf_listing *l, const char **want)
{
    int n = 0;
    while (want[n] != NULL)
        n++;
    if (l->count != n) {
        fprintf(stderr, "line %d: expected %d keys, got %d:", line, n, l->count);
        for (int i = 0; i < l->count && i < SF_LIST_MAX; i++)
            fprintf(stderr, " %s", l->keys[i]);
        fprintf(stderr, "\n");
        test_failures++;
        return;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(l->keys[i], want[i]) != 0) {
            fprintf(stderr, "line %d: key %d: expected %s, got %s\n", line, i, want[i], l->keys[i]);
            test_failures++;
        }
    }
}

void sf_put_text(stg *s, const char *key, const char *text)
{
    md_error err;
    CHECK_OK(stg_put(s, key, text, strlen(text), &err), &err);
}

void sf_check_text(stg *s, const char *key, const char *text)
{
    md_error err;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = stg_get(s, key, 1 << 20, &data, &len, &err);
    CHECK_OK(rc, &err);
    if (rc == 0) {
        CHECK_INT(strlen(text), len);
        CHECK(len == strlen(text) && memcmp(data, text, len) == 0);
        CHECK_INT(0, data[len]);
    }
    md_free(data);
}
