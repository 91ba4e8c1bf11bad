/*
 * storage_fixture.h — what the storage tests share, for any backend: a listing gathered by
 * stg_list, a check that it is exactly some keys in order, and putting and checking small
 * text objects. Test code, one thread.
 */
#ifndef TESTS_STORAGE_FIXTURE_H
#define TESTS_STORAGE_FIXTURE_H

#include <stdint.h>

#include "storage/storage.h"

#define SF_LIST_MAX 256

typedef struct sf_listing {
    int count;
    int stop_after; /* 0: never */
    char keys[SF_LIST_MAX][128];
    uint64_t sizes[SF_LIST_MAX];
} sf_listing;

/* An stg_list_fn that gathers into a sf_listing (user), stopping after stop_after keys. */
int sf_on_key(void *user, const char *key, uint64_t size);
/* Everything under prefix (CHECK_OK on the listing). */
sf_listing sf_list_of(stg *s, const char *prefix);
/* Checks that the listing is exactly the keys given (NULL-terminated), in that order. */
#define SF_CHECK_LIST(l, ...) sf_check_list(__LINE__, &(l), (const char *[]){__VA_ARGS__, NULL})
void sf_check_list(int line, const sf_listing *l, const char **want);
void sf_put_text(stg *s, const char *key, const char *text);
/* The object holds exactly text, NUL-terminated as stg_get promises. */
void sf_check_text(stg *s, const char *key, const char *text);

#endif
