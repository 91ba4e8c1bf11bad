/*
 * storage_int.h — internal to storage/: the vtable behind the opaque stg, stg_reader and
 * stg_writer, and the constructors of the backends. Nothing outside storage/ includes this.
 *
 * storage.c validates keys and prefixes before calling a backend, so backends may assume every
 * key they get passes stg_key_check and every prefix passes stg_prefix_check.
 */
#ifndef STORAGE_STORAGE_INT_H
#define STORAGE_STORAGE_INT_H

#include "storage/storage.h"

typedef struct stg_vtable {
    void (*destroy)(stg *s);
    int (*put)(stg *s, const char *key, const void *data, size_t len, md_error *err);
    int (*writer_open)(stg *s, const char *key, stg_writer **out, md_error *err);
    int (*writer_write)(stg_writer *w, const void *data, size_t len, md_error *err);
    int (*writer_commit)(stg_writer *w, md_error *err); /* frees w */
    void (*writer_abort)(stg_writer *w);                /* frees w */
    /* Sets (*out)->size. */
    int (*reader_open)(stg *s, const char *key, stg_reader **out, md_error *err);
    /* offset < size and cap > 0 (checked by the caller); fills up to cap bytes. */
    int64_t (*reader_read)(stg_reader *r, uint64_t offset, void *buf, size_t cap, md_error *err);
    void (*reader_close)(stg_reader *r);
    int (*head)(stg *s, const char *key, uint64_t *size, md_error *err);
    int (*del)(stg *s, const char *key, md_error *err);
    int (*delete_prefix)(stg *s, const char *prefix, md_error *err);
    /* NULL for backends whose uncommitted writes leave nothing behind. */
    int (*sweep_partial)(stg *s, const char *prefix, size_t *removed, md_error *err);
    /* NULL for backends that cannot presign (stg_presign_get answers MD_EFORMAT). expires_s is
     * in range and cap > 0 (checked by the caller). */
    int (*presign_get)(stg *s, const char *key, int expires_s, char *out, size_t cap,
                       md_error *err);
    /* Keys in byte order; stops when fn returns nonzero. */
    int (*list)(stg *s, const char *prefix, stg_list_fn fn, void *user, md_error *err);
} stg_vtable;

/* Every backend's store, reader and writer embed these as their first member. */
struct stg {
    const stg_vtable *vt;
    char *url; /* owned; normalised, for messages and stg_url */
};

struct stg_reader {
    stg *store; /* borrowed */
    uint64_t size;
};

struct stg_writer {
    stg *store; /* borrowed */
};

/* True when name is one valid key segment of n bytes (n > 0). */
int stg_segment_ok(const char *name, size_t n);
/* "" or a valid key, optionally followed by one '/'. */
int stg_prefix_check(const char *prefix, md_error *err);
/* Writes key into buf as quoted, printable text (at most 80 bytes of it) for messages. */
const char *stg_key_quote(const char *key, char *buf, size_t cap);
#define STG_QUOTE_CAP 96

/* file:// backend. root is an absolute path without a trailing '/' (except "/" itself); url is
 * the normalised URL. Both borrowed. */
int stg_file_open(const char *root, const char *url, stg **out, md_error *err);

/* s3:// backend (s3.c). bucket is a valid bucket name, prefix "" or a valid key (no trailing
 * '/'), url the normalised URL; all borrowed. Reads MORPHD_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION from the environment. */
int stg_s3_open(const char *bucket, const char *prefix, const char *url, stg **out, md_error *err);

#endif
