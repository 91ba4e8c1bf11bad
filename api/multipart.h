/*
 * multipart.h — a streaming multipart/form-data parser fed bytes (multipart.c): what intake.c
 * reads POST /jobs bodies with, and what tests/fuzz/fuzz_multipart.c fuzzes. No I/O.
 */
#ifndef API_MULTIPART_H
#define API_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "base/md.h"

typedef struct api_mp api_mp;

/* Called once per part with off 0 and size 0 when its headers are in, then with its data in
 * order (off: bytes of this part before data). name is the part's form name, filename NULL when
 * the part has none; both borrowed for the call. Non-zero stops the parse (an error). */
typedef int (*api_mp_part_fn)(void *cls, const char *name, const char *filename, const char *data,
                              uint64_t off, size_t size);

/* A parser for a body of this Content-Type (multipart/form-data; boundary=...); NULL with
 * MD_EINVAL in err when it is not one or its boundary is unusable. cls is passed to on_part. */
api_mp *api_mp_new(const char *content_type, api_mp_part_fn on_part, void *cls, md_error *err);
void api_mp_free(api_mp *mp); /* NULL ok */
/* Feeds the next n bytes of the body: 0, or -1 once the body is malformed (then always). */
int api_mp_feed(api_mp *mp, const char *data, size_t n);
/* The body is all in: 0 when it ended with the closing boundary, else -1. */
int api_mp_finish(api_mp *mp);
/* What was wrong after a -1 ("a part has no Content-Disposition header"); "" before. */
const char *api_mp_error(const api_mp *mp);

#endif
