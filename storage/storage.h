/*
 * storage.h — object storage: named byte strings ("objects") under keys like
 * "jobs/3f2a…/frames/0000_a-1000_b-0000.png". The api puts a job's canonical inputs here, the
 * worker reads them and streams frames back, and both delete a job's objects with one prefix.
 *
 * Backends: "file:///abs/dir" (objects are files under the folder; the embedded default) and
 * "s3://BUCKET[/PREFIX]" (s3.c: S3 or a server speaking its API, over libcurl with Signature
 * V4). The API follows S3 semantics (flat keys, whole-object atomic replace, prefix listing in
 * byte order); where s3:// differs (readers of replaced objects, writer size) s3.c says so.
 *
 * Errors: every int function returns 0 or a negative MD_E* code and fills err (NULL ok) with a
 * sentence naming the key and the store. Absent objects are MD_ENOENT, bad keys MD_EINVAL.
 *
 * Threads: an stg may be used from any number of threads at once. A reader may also be read
 * from several threads at once (reads are positional). A writer belongs to one thread at a
 * time. Readers and writers must be closed before their stg is freed.
 */
#ifndef STORAGE_STORAGE_H
#define STORAGE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/md.h"

#define STG_KEY_MAX 1024 /* longest key, bytes */

typedef struct stg stg;               /* a store */
typedef struct stg_reader stg_reader; /* an open object for streaming reads */
typedef struct stg_writer stg_writer; /* an object being written; invisible until commit */

/* ---- Stores ---- */

/* "file:///abs/dir" (the folder is created if missing, like mkdir -p), a plain path (relative
 * paths are made absolute against the working directory), or "s3://BUCKET[/PREFIX]" (reads
 * MORPHD_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION;
 * sends nothing until the first call). Other schemes are MD_EINVAL "unsupported storage URL
 * scheme ...". url is borrowed; *out is the caller's to stg_free. */
int stg_open(const char *url, stg **out, md_error *err);
void stg_free(stg *s); /* NULL ok */
/* The normalised URL ("file:///abs/dir"); owned by s. */
const char *stg_url(const stg *s);

/* Keys: 1..STG_KEY_MAX bytes; segments of [A-Za-z0-9._-] separated by single '/'; no leading
 * or trailing '/'; no segment starting with '.' (so no "." or ".." either). Pure. */
int stg_key_check(const char *key, md_error *err);

/* ---- Writing ---- */

/* Stores data under key, atomically replacing any old object: readers see the old or the new
 * complete content, never a mix, also across a crash. data is borrowed. */
int stg_put(stg *s, const char *key, const void *data, size_t len, md_error *err);

/* Streams an object in pieces. Nothing is visible under key until stg_writer_commit; the old
 * object (if any) stays readable until then. */
int stg_writer_open(stg *s, const char *key, stg_writer **out, md_error *err);
int stg_writer_write(stg_writer *w, const void *data, size_t len, md_error *err);
/* Makes the object durable and visible. Frees w whether or not it succeeds. */
int stg_writer_commit(stg_writer *w, md_error *err);
/* Drops what was written and frees w. NULL ok. */
void stg_writer_abort(stg_writer *w);

/* ---- Reading ---- */

/* MD_ENOENT when absent. The reader sees the object as it was when opened, even if it is
 * replaced or deleted meanwhile. */
int stg_reader_open(stg *s, const char *key, stg_reader **out, md_error *err);
uint64_t stg_reader_size(const stg_reader *r);
/* pread semantics: reads up to cap bytes at offset into buf; returns the bytes read (fewer than
 * cap only at the end, 0 at or past the end) or a negative MD_E* code. */
int64_t stg_reader_read(stg_reader *r, uint64_t offset, void *buf, size_t cap, md_error *err);
void stg_reader_close(stg_reader *r); /* NULL ok */

/* The whole object, MD_ELIMIT (before allocating) when it is larger than max_bytes. *data gets
 * a NUL after the last byte (not counted in *len) so text parsers may rely on it; the caller
 * md_free()s it. */
int stg_get(stg *s, const char *key, size_t max_bytes, uint8_t **data, size_t *len, md_error *err);
/* Size of an object; MD_ENOENT when absent. */
int stg_head(stg *s, const char *key, uint64_t *size, md_error *err);

/* ---- Presigned URLs ---- */

#define STG_PRESIGN_EXPIRES_MAX 604800 /* 7 days, S3's limit */
#define STG_PRESIGN_URL_MAX 16384      /* enough for any key, endpoint and session token */

/* A URL that lets anyone holding it GET the object under key, without credentials, for
 * expires_s seconds (1..STG_PRESIGN_EXPIRES_MAX) from now; the api redirects artifact
 * downloads to it (--artifact-redirect). Nothing is sent, so an absent object is not noticed:
 * the URL then answers 404 itself. s3:// signs a SigV4 query-string URL on its endpoint (the
 * host the api reaches, which the client must reach too). Backends that cannot presign
 * (file://) return MD_EFORMAT, "not supported here", so callers fall back to streaming; a bad
 * key or expiry is MD_EINVAL, a URL over cap bytes MD_ELIMIT. out gets the URL (NUL ended). */
int stg_presign_get(stg *s, const char *key, int expires_s, char *out, size_t cap, md_error *err);

/* ---- Deleting and listing ---- */

/* Removes one object; an absent one is not an error. */
int stg_delete(stg *s, const char *key, md_error *err);
/* Removes every object whose key starts with prefix ("jobs/abc/"), including ones still being
 * written (their commit then fails). prefix must be a valid key, optionally followed by '/';
 * it matches bytes, as in S3: "jobs/ab" also takes "jobs/abc/x". */
int stg_delete_prefix(stg *s, const char *prefix, md_error *err);

/* Removes what writers of other processes began under prefix and never committed: the partial
 * writes a crashed process left (the file backend's ".tmp.<pid>.<n>" files). Committed objects
 * and this process's own writes in progress are untouched. *removed (NULL ok) gets the count.
 * A worker calls it before retrying a job, for the job's prefix. */
int stg_sweep_partial(stg *s, const char *prefix, size_t *removed, md_error *err);

/* Called once per object, in byte order of keys; key is borrowed for the call. Nonzero stops
 * the listing (stg_list still returns 0). The keys are gathered before the first call, so fn
 * may call other stg functions, stg_delete included. */
typedef int (*stg_list_fn)(void *user, const char *key, uint64_t size);
/* Lists the committed objects whose key starts with prefix ("" lists all; otherwise the same
 * rule as stg_delete_prefix). Objects being written are never listed. */
int stg_list(stg *s, const char *prefix, stg_list_fn fn, void *user, md_error *err);

/* For /readyz: writes, reads back and deletes a small probe object (under "morphd-probe/"). */
int stg_check_writable(stg *s, md_error *err);

#endif
