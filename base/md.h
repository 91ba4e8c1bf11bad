/*
 * md.h — the base module every other part of morphd links: the error table, the allocation
 * choke point, logging, configurable limits and a monotonic clock.
 *
 * Why base/: DESIGN.md puts "config table, logging" in server/, but every module (mesh/, gpu/,
 * analysis/, storage/ included) needs this ground floor, and server/ holds the main programs at
 * the top of the graph. It depends on nothing but libc and pthreads, so the dependency arrows
 * still point one way (issue 9).
 *
 * Errors: functions return 0 or a negative MD_E* code. Long-lived callers also pass an
 * md_error that receives a sentence a person can act on ("line 812: face index 9410 out of
 * range (9409 vertices)"). md_fail() fills it and returns the code, so a failure is one line:
 *     return md_fail(err, MD_EPARSE, "line %zu: expected 3 numbers after 'v'", line);
 */
#ifndef MD_H
#define MD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- Error table ---- */

/* X(name, code, http status, exit code, problem slug, short message). One table gives
 * strerror-style text, the HTTP status and problem type an API error maps to
 * (urn:morphd:problem:<slug>, openapi.yaml and docs/server.md list them), and the process exit
 * code of the CLI. Several codes may share a slug; a slug the api answers without any md code
 * (method-not-allowed: only the router can know it) stays in api/ and has no row here. */
#define MD_ERRNO_MAP(X)                                                                            \
    X(EINVAL, -1, 400, 2, "bad-request", "invalid argument")                                       \
    X(ENOMEM, -2, 500, 1, "internal", "out of memory")                                             \
    X(EIO, -3, 500, 1, "internal", "input/output error")                                           \
    X(ENOENT, -4, 404, 2, "not-found", "no such file or object")                                   \
    X(EPARSE, -5, 422, 2, "invalid-mesh", "malformed input")                                       \
    X(ELIMIT, -6, 413, 2, "too-large", "limit exceeded")                                           \
    X(EFORMAT, -7, 415, 2, "unsupported-format", "unsupported format")                             \
    X(ETOPOLOGY, -8, 422, 2, "topology-mismatch", "topology mismatch")                             \
    X(EENGINE, -9, 500, 1, "internal", "render engine failure")                                    \
    X(ENODEV, -10, 503, 1, "unavailable", "no such engine or device")                              \
    X(ECANCELED, -11, 409, 1, "conflict", "canceled")                                              \
    X(EINTERNAL, -12, 500, 1, "internal", "internal error")                                        \
    X(EAUTH, -13, 401, 2, "unauthorized", "not authorised")                                        \
    X(ECONFLICT, -14, 409, 2, "conflict", "conflict with the current state")                       \
    X(EBUSY, -15, 503, 1, "queue-full", "busy, try again later")                                   \
    X(EUNAVAIL, -16, 503, 1, "unavailable", "a service this needs is unavailable")                 \
    X(EIDEMPOTENCY, -17, 422, 2, "idempotency-mismatch",                                           \
      "idempotency key reused for another request")                                                \
    X(EURITOOLONG, -18, 414, 2, "uri-too-long", "request target too long")                         \
    X(EHEADERS, -19, 431, 2, "headers-too-large", "request headers too large")                     \
    X(EBUDGET, -20, 422, 2, "over-budget", "a frame needs more memory than the render budget")

enum {
#define MD_ERR_ENUM(name, code, http, exitc, slug, msg) MD_##name = code,
    MD_ERRNO_MAP(MD_ERR_ENUM)
#undef MD_ERR_ENUM
};

const char *md_strerror(int code);    /* "malformed input"; "unknown error" for non-table codes */
const char *md_err_name(int code);    /* "EPARSE" */
int md_err_http_status(int code);     /* 422; 500 for unknown codes */
const char *md_err_problem(int code); /* "invalid-mesh"; "internal" for unknown codes */
int md_err_exit_code(int code);       /* 2 for bad input, 1 for failures, 0 for 0 */

#define MD_ERROR_MSG_MAX 512

/* A value type: callers keep it on the stack. msg is always NUL-terminated. */
typedef struct md_error {
    int code;
    char msg[MD_ERROR_MSG_MAX];
} md_error;

void md_error_clear(md_error *err);
/* Sets err (NULL ok) to code and the formatted detail; returns code. */
int md_fail(md_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the existing detail with context: "source mesh a.obj: " + old msg. Returns err->code. */
int md_error_prefix(md_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Allocation choke point ---- */

/* All heap memory of morphd goes through these, so a cap or accounting has one place to live.
 * They return NULL on failure (and on overflow of n * size); callers map that to MD_ENOMEM. */
void *md_malloc(size_t size);
void *md_calloc(size_t n, size_t size);
void *md_malloc_array(size_t n, size_t size);
void *md_realloc_array(void *p, size_t n, size_t size);
char *md_strdup(const char *s);
char *md_strndup(const char *s, size_t n);
void md_free(void *p);

/* Overflow-safe arithmetic for sizes a client controls. Return 0 on success, -1 on overflow. */
int md_mul_size(size_t a, size_t b, size_t *out);
int md_add_size(size_t a, size_t b, size_t *out);

/* ---- Growable byte buffer with a maximum (curl's dynbuf) ---- */

/* Bytes that grow by appending, never past max (bytes of content; a NUL is kept after them so
 * text can be used as a C string). The first failed append (MD_ELIMIT past max, MD_ENOMEM) is
 * kept in err and refuses every later append, so a caller may append freely and check once:
 * the data keeps what fitted before the failure. A value type owned by one thread at a time;
 * md_buf_free releases it (also of a buffer only initialised). */
typedef struct md_buf {
    char *data; /* owned; NUL-terminated when non-NULL */
    size_t len; /* content bytes, <= max */
    size_t cap; /* allocated bytes, >= len + 1 when data != NULL */
    size_t max;
    int err; /* 0, or the first failure: MD_ELIMIT, MD_ENOMEM (MD_EINVAL: a bad printf) */
} md_buf;

void md_buf_init(md_buf *b, size_t max);
void md_buf_free(md_buf *b);  /* frees data; b is empty (max and err kept: init again to reuse) */
void md_buf_reset(md_buf *b); /* len 0 and err 0, memory kept for reuse */
/* 0, or b->err (MD_ELIMIT / MD_ENOMEM) for this or an earlier failed append. */
int md_buf_append(md_buf *b, const void *p, size_t n);
int md_buf_puts(md_buf *b, const char *s);
int md_buf_printf(md_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int md_buf_vprintf(md_buf *b, const char *fmt, va_list ap);
/* Appends n bytes left for the caller to fill and returns them; NULL on failure (b->err). */
void *md_buf_grow(md_buf *b, size_t n);
/* Hands the data over (md_free it; "" when nothing was appended) and empties b. NULL, with b
 * freed, when an append had failed or memory runs out. */
char *md_buf_take(md_buf *b, size_t *len);

/* ---- Logging ---- */

typedef enum md_log_level { MD_LOG_DEBUG, MD_LOG_INFO, MD_LOG_WARN, MD_LOG_ERROR } md_log_level;

/* Thread-safe. Lines go to stderr at or above the stderr level (default WARN) and to the
 * optional log file at or above DEBUG: "2026-11-25T10:00:00.123Z info  message". */
void md_log(md_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void md_log_set_stderr_level(md_log_level level);
/* "debug", "info", "warn" or "error" (a --log-level value) to its level; MD_EINVAL otherwise,
 * with a detail naming the accepted words. */
int md_log_level_parse(const char *name, md_log_level *out, md_error *err);
/* The name stderr lines start with ("morph run: error: ..."); borrowed, default "morphd". */
void md_log_set_program(const char *name);
/* Borrowed: the caller closes the file after md_log_set_file(NULL). */
void md_log_set_file(FILE *f);

/* ---- Limits: every size a client controls has a maximum ---- */

/* X(name, type, default, help). The table gives the struct, defaults, `--limit name=value`
 * parsing and the help text, so a new limit is one line. */
#define MD_LIMITS_MAP(X)                                                                           \
    X(max_file_bytes, uint64_t, 512ull << 20, "largest mesh or texture file, bytes")               \
    X(max_vertices, uint64_t, 4000000, "most vertices (positions) in one mesh")                    \
    X(max_triangles, uint64_t, 8000000, "most triangles in one mesh after triangulation")          \
    X(max_uvs, uint64_t, 8000000, "most texture coordinates in one mesh")                          \
    X(max_polygon_sides, uint64_t, 1024, "most corners of one polygon")                            \
    X(max_materials, uint64_t, 256, "most materials in one mesh")                                  \
    X(max_texture_side, uint64_t, 16384, "widest or tallest texture, pixels")                      \
    X(max_texture_pixels, uint64_t, 64ull << 20, "most pixels in one texture")                     \
    X(max_frames, uint64_t, 10000, "most frames in one job")                                       \
    X(max_image_side, uint64_t, 8192, "widest or tallest rendered frame, pixels")                  \
    X(max_samples, uint64_t, 64, "most supersamples per pixel")                                    \
    X(max_frame_bytes, uint64_t, 4ull << 30,                                                       \
      "most memory one frame may need to render (eng_frame_bytes: 8 bytes a sample + the image)")  \
    X(max_views, uint64_t, 360, "most views in one render job")                                    \
    X(max_average_meshes, uint64_t, 64,                                                            \
      "most meshes in one average (morph average, kind average)")                                  \
    X(max_body_bytes, uint64_t, 256ull << 20, "largest POST /jobs request body, bytes")            \
    X(max_header_bytes, uint64_t, 16ull << 10, "largest request line and headers, bytes (431)")    \
    X(max_headers, uint64_t, 100, "most header lines plus query parameters in a request (431)")    \
    X(max_request_pixels, uint64_t, 128ull << 20, "most decoded texture pixels in one request")    \
    X(max_decode_bytes, uint64_t, 1ull << 30,                                                      \
      "api: memory for images being decoded at once, bytes (503 past it; 0: none)")                \
    X(max_queued, uint64_t, 10000, "most jobs queued or running before POST /jobs answers 503")    \
    X(max_queued_per_owner, uint64_t, 2500,                                                        \
      "most jobs queued or running per API key (--api-keys; 0: none)")                             \
    X(max_event_streams, uint64_t, 512,                                                            \
      "api: most open GET /jobs/{id}/events and /batches/{id}/events streams (503 past it)")       \
    X(max_faces_per_owner, uint64_t, 1000, "api: most faces one API key keeps (POST /faces)")      \
    X(max_batch_meshes, uint64_t, 1000,                                                            \
      "morph batch: most meshes in DIR; POST /batches: most faces")                                \
    X(max_batch_pairs, uint64_t, 100000, "morph batch and POST /batches: most pairs in one batch")

typedef struct md_limits {
#define MD_LIMIT_FIELD(name, type, def, help) type name;
    MD_LIMITS_MAP(MD_LIMIT_FIELD)
#undef MD_LIMIT_FIELD
} md_limits;

void md_limits_default(md_limits *lim);
/* Parses "name=value" (value accepts k/M/G suffixes, powers of 1024). */
int md_limits_set(md_limits *lim, const char *assignment, md_error *err);
/* Writes "  name  default  help" lines, for --help. */
void md_limits_print_help(FILE *f);

/* ---- Decode budget: memory of decoded images, process-wide (md_budget.c) ---- */

/* Sets the budget (bytes; 0: none, the default) and how long a take waits for room (ms). */
void md_budget_configure(uint64_t bytes, unsigned wait_ms);
/* Takes bytes of the budget for what ("a 8192x8192 texture", for the detail): 0; MD_ELIMIT
 * when bytes alone exceed the whole budget; MD_EUNAVAIL when no room came within the wait.
 * Without a budget it only counts. Give back exactly what was taken. Thread-safe. */
int md_budget_take(uint64_t bytes, const char *what, md_error *err);
void md_budget_give(uint64_t bytes);
/* All or nothing: takes bytes (a whole request's need, for what) as md_budget_take does, waiting
 * or failing while holding nothing, and makes them this thread's reservation. Until
 * md_budget_release, takes on this thread draw from it first and never wait (waiting while
 * holding budget could starve every holder); past it they fail at once with MD_EUNAVAIL when
 * the rest of the budget has no room. Gives on this thread go back into it. One reservation per
 * thread at a time (MD_EINTERNAL for a second). */
int md_budget_reserve(uint64_t bytes, const char *what, md_error *err);
/* Gives back what is left of this thread's reservation; what was drawn from it stays taken
 * until given. Does nothing without one. */
void md_budget_release(void);
uint64_t md_budget_used(void); /* bytes taken and not given back */

/* ---- Clock and files ---- */

/* The SHA-256 of a file's bytes as 64 lowercase hex digits and a NUL (md_sha256.c). */
int md_sha256_file(const char *path, char hex[65], md_error *err);
/* The same of len bytes in memory (pure). */
void md_sha256_hex(const void *bytes, size_t len, char hex[65]);

double md_now(void); /* monotonic seconds */

/* Reads a whole file, refusing files larger than max_bytes before allocating. The buffer gets a
 * NUL after the last byte (not counted in *len) so text parsers may rely on it. */
int md_read_file(const char *path, uint64_t max_bytes, char **out, size_t *len, md_error *err);
/* Writes via a temporary file and rename(), so readers never see a half-written file. */
int md_write_file_atomic(const char *path, const void *data, size_t len, md_error *err);
/* mkdir -p */
int md_mkdir_p(const char *path, md_error *err);

#endif
