/*
 * intake.c — the multipart/form-data body of POST /jobs (and POST /faces), streamed part by part
 * into a private temp folder (one per request, removed with the request), with caps on everything
 * the client controls: the whole body (max_body_bytes), each file part (max_file_bytes), the spec
 * part (64 KiB, kept in memory), and which parts may appear (each known part at most once; unknown
 * parts are named in the 400).
 *
 * The multipart framing is read by multipart.c (fed bytes, no connection, so it can be fuzzed);
 * this file decides what each part is and where its bytes go.
 *
 * Loop thread. Errors found while the body streams are recorded, the rest of the body is read
 * and discarded, and the error is answered when the body is in (MHD can only answer a request
 * before or after its body); a body more than twice the limit drops the connection instead.
 * Writes go to the page cache of a local temp file (no fsync), which is why they are done
 * right here rather than handed to the pool.
 */
#define _GNU_SOURCE
#include "api/api_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/multipart.h"
#include "jobs/spec.h"

const char *const api_part_names[API_PART_COUNT] = {
    [API_PART_SOURCE] = "source",
    [API_PART_TARGET] = "target",
    [API_PART_SOURCE_TEXTURE] = "source_texture",
    [API_PART_TARGET_TEXTURE] = "target_texture",
    [API_PART_MESH] = "mesh",
    [API_PART_TEXTURE] = "texture",
    [API_PART_FRAME_ON] = "frame_on",
    [API_PART_SPEC] = "spec",
    [API_PART_BASE] = "base",
    [API_PART_FROM] = "from",
    [API_PART_TO] = "to",
    [API_PART_BASE_TEXTURE] = "base_texture",
    [API_PART_FROM_TEXTURE] = "from_texture",
    [API_PART_TO_TEXTURE] = "to_texture",
};

uint32_t api_intake_count(const api_intake *in, api_part_id id)
{
    uint32_t n = in->parts[id].present ? 1 : 0;
    for (uint32_t i = 0; i < in->more_count; i++)
        n += in->more[i].id == id;
    return n;
}

const api_part *api_intake_nth(const api_intake *in, api_part_id id, uint32_t n)
{
    if (!in->parts[id].present)
        return NULL;
    if (n == 0)
        return &in->parts[id];
    for (uint32_t i = 0; i < in->more_count; i++)
        if (in->more[i].id == id && --n == 0)
            return &in->more[i];
    return NULL;
}

/* The part being written, or NULL. */
static api_part *current_part(api_intake *in)
{
    if (in->current < 0)
        return NULL;
    if (in->current < API_PART_COUNT)
        return &in->parts[in->current];
    return &in->more[in->current - API_PART_COUNT];
}

static void record(api_intake *in, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void record(api_intake *in, int code, const char *fmt, ...)
{
    in->dropping = 1;
    if (in->err_code != 0)
        return;
    in->err_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->err_detail, sizeof in->err_detail, fmt, ap);
    va_end(ap);
}

static void close_current(api_intake *in)
{
    if (in->fd >= 0)
        close(in->fd);
    in->fd = -1;
    in->current = -1;
}

static void human_bytes(uint64_t n, char out[32])
{
    if (n >= (1ull << 30) && n % (1ull << 30) == 0)
        snprintf(out, 32, "%lluG", (unsigned long long)(n >> 30));
    else if (n >= (1ull << 20) && n % (1ull << 20) == 0)
        snprintf(out, 32, "%lluM", (unsigned long long)(n >> 20));
    else if (n >= (1ull << 10) && n % (1ull << 10) == 0)
        snprintf(out, 32, "%lluk", (unsigned long long)(n >> 10));
    else
        snprintf(out, 32, "%llu", (unsigned long long)n);
}

static void extension_of(const char *filename, char *out, size_t cap)
{
    out[0] = '\0';
    const char *slash = strrchr(filename, '/');
    const char *bslash = strrchr(filename, '\\');
    const char *base = slash ? slash + 1 : filename;
    if (bslash && bslash + 1 > base)
        base = bslash + 1;
    const char *dot = strrchr(base, '.');
    if (dot == NULL || dot[1] == '\0' || strlen(dot + 1) >= cap)
        return;
    size_t n = 0;
    for (const char *p = dot + 1; *p; p++) {
        if (!isalnum((unsigned char)*p)) {
            out[0] = '\0';
            return;
        }
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
}

static int start_part(api_req *req, int idx, const char *filename)
{
    api_intake *in = req->intake;
    api_part *p = &in->parts[idx];
    int slot = idx;
    char tag[16] = "";
    if (p->present && (idx == API_PART_MESH || idx == API_PART_TEXTURE)) {
        /* An average's meshes, and their textures. */
        uint64_t cap = 2 * req->srv->lim.max_average_meshes;
        if (in->more_count >= cap) {
            record(in, MD_ELIMIT,
                   "more 'mesh' and 'texture' parts than an average takes (max_average_meshes "
                   "is %llu)",
                   (unsigned long long)req->srv->lim.max_average_meshes);
            return -1;
        }
        if (in->more_count == in->more_cap) {
            uint32_t grown_cap = in->more_cap ? 2 * in->more_cap : 8;
            api_part *grown = md_realloc_array(in->more, grown_cap, sizeof *grown);
            if (grown == NULL) {
                record(in, MD_EINTERNAL, "out of memory");
                return -1;
            }
            in->more = grown;
            in->more_cap = grown_cap;
        }
        p = &in->more[in->more_count];
        memset(p, 0, sizeof *p);
        slot = API_PART_COUNT + (int)in->more_count;
        snprintf(tag, sizeof tag, "_%u", in->more_count++);
    } else if (p->present) {
        record(in, MD_EINVAL, "part '%s' appears more than once", api_part_names[idx]);
        return -1;
    }
    p->present = 1;
    p->id = (api_part_id)idx;
    snprintf(p->filename, sizeof p->filename, "%s", filename ? filename : "");
    if (filename && filename[0])
        job_path_stem(filename, p->stem, sizeof p->stem);
    if (p->stem[0] == '\0')
        snprintf(p->stem, sizeof p->stem, "%s", api_part_names[idx]);
    extension_of(p->filename, p->ext, sizeof p->ext);
    in->current = slot;
    if (idx == API_PART_SPEC)
        return 0;
    char ext[sizeof p->ext];
    memcpy(ext, p->ext, sizeof ext);
    snprintf(p->path, sizeof p->path, "%s/%s%s%s%s", in->dir, api_part_names[idx], tag,
             ext[0] ? "." : "", ext);
    in->fd = open(p->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (in->fd < 0) {
        record(in, MD_EINTERNAL, "cannot create a temp file for part '%s': %s", api_part_names[idx],
               strerror(errno));
        return -1;
    }
    return 0;
}

static int write_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

static int on_part(void *cls, const char *key, const char *filename, const char *data, uint64_t off,
                   size_t size)
{
    api_req *req = cls;
    api_intake *in = req->intake;
    if (in->dropping)
        return 0;
    int idx = -1;
    for (int i = 0; i < API_PART_COUNT; i++)
        if (key && strcmp(key, api_part_names[i]) == 0)
            idx = i;
    if (idx < 0) {
        /* Named in the 400 once the body is in; its bytes are skipped. */
        if (off == 0 && key && strlen(in->unknown) + strlen(key) + 4 < sizeof in->unknown &&
            strstr(in->unknown, key) == NULL)
            snprintf(in->unknown + strlen(in->unknown), sizeof in->unknown - strlen(in->unknown),
                     "%s'%s'", in->unknown[0] ? ", " : "", key);
        close_current(in);
        return 0;
    }
    /* multipart.c announces a part with an empty call before its first data, both at offset 0:
     * offset 0 starts a new part only when the current one of that name already has bytes.
     * (So an empty part repeated right away is taken as one.) */
    api_part *cur = current_part(in);
    if (cur == NULL || (int)cur->id != idx || (off == 0 && cur->bytes > 0)) {
        close_current(in);
        if (start_part(req, idx, filename) != 0)
            return 0;
    }
    api_part *p = current_part(in);
    uint64_t cap = idx == API_PART_SPEC ? API_SPEC_MAX : req->srv->lim.max_file_bytes;
    if (p->bytes + size > cap) {
        char h[32];
        human_bytes(cap, h);
        if (idx == API_PART_SPEC)
            record(in, MD_ELIMIT, "part 'spec' is larger than %s bytes", h);
        else
            record(in, MD_ELIMIT,
                   "part '%s' is larger than max_file_bytes (%s bytes); the server's operator "
                   "can raise it with --limit max_file_bytes=N",
                   api_part_names[idx], h);
        return 0;
    }
    if (idx == API_PART_SPEC) {
        char *t = md_realloc_array(p->text, p->bytes + size + 1, 1);
        if (t == NULL) {
            record(in, MD_EINTERNAL, "out of memory");
            return 0;
        }
        memcpy(t + p->bytes, data, size);
        t[p->bytes + size] = '\0';
        p->text = t;
    } else if (size > 0 && write_all(in->fd, data, size) != 0) {
        record(in, MD_EINTERNAL, "cannot write part '%s' to a temp file: %s", api_part_names[idx],
               strerror(errno));
        return 0;
    }
    p->bytes += size;
    return 0;
}

static int idem_key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > API_IDEM_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e)
            return 0;
    return 1;
}

int api_intake_begin(api_req *req)
{
    api_server *s = req->srv;
    struct MHD_Connection *c = req->conn;
    char h[32];
    human_bytes(s->lim.max_body_bytes, h);
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && n > s->lim.max_body_bytes) {
            api_reply_code(req, MD_ELIMIT,
                           "the request body has %llu bytes; the limit max_body_bytes is %s "
                           "(the server's operator can raise it with --limit max_body_bytes=N)",
                           n, h);
            return -1;
        }
    }
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct == NULL || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        if (req->route == API_ROUTE_FACES)
            api_reply_code(req, MD_EINVAL,
                           "POST /faces takes multipart/form-data (parts mesh and optionally "
                           "texture); got Content-Type '%.100s'",
                           ct ? ct : "(none)");
        else
            api_reply_code(
                req, MD_EINVAL,
                "POST /jobs takes multipart/form-data (parts source, target, "
                "source_texture, target_texture, frame_on, mesh, texture, base, from, to, "
                "their textures, spec); got "
                "Content-Type '%.100s'",
                ct ? ct : "(none)");
        return -1;
    }
    const char *idem = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    if (idem != NULL && !idem_key_valid(idem)) {
        api_reply_code(req, MD_EINVAL,
                       "Idempotency-Key must be 1..255 printable ASCII characters without "
                       "spaces");
        return -1;
    }
    api_intake *in = md_calloc(1, sizeof *in);
    if (in == NULL) {
        api_reply_code(req, MD_EINTERNAL, "out of memory");
        return -1;
    }
    in->fd = -1;
    in->current = -1;
    if (idem)
        snprintf(in->idem_key, sizeof in->idem_key, "%s", idem);
    req->intake = in;
    snprintf(in->dir, sizeof in->dir, "%s/req-XXXXXX", s->tmp_root);
    if (mkdtemp(in->dir) == NULL) {
        in->dir[0] = '\0';
        api_reply_code(req, MD_EINTERNAL, "cannot create a temp folder: %s", strerror(errno));
        return -1;
    }
    md_error mp_err;
    md_error_clear(&mp_err);
    in->mp = api_mp_new(ct, on_part, req, &mp_err);
    if (in->mp == NULL) {
        api_reply_error(req, &mp_err);
        return -1;
    }
    return 0;
}

int api_intake_feed(api_req *req, const char *data, size_t size)
{
    api_intake *in = req->intake;
    uint64_t limit = req->srv->lim.max_body_bytes;
    in->body_bytes += size;
    if (in->body_bytes > limit) {
        char h[32];
        human_bytes(limit, h);
        record(in, MD_ELIMIT,
               "the request body is larger than max_body_bytes (%s bytes); the server's "
               "operator can raise it with --limit max_body_bytes=N",
               h);
        close_current(in);
        /* Reading on is the only way to answer; past twice the limit it is not worth it. */
        return in->body_bytes / 2 > limit ? -1 : 0;
    }
    if (in->dropping || in->mp == NULL)
        return 0;
    if (api_mp_feed(in->mp, data, size) != 0)
        record(in, MD_EINVAL, "the multipart/form-data body is malformed: %s",
               api_mp_error(in->mp));
    return 0;
}

int api_intake_finish(api_req *req)
{
    api_intake *in = req->intake;
    if (in == NULL) {
        api_reply_code(req, MD_EINVAL, "the request has no body");
        return -1;
    }
    if (in->mp != NULL) {
        int ok = api_mp_finish(in->mp) == 0;
        if (!ok && !in->dropping)
            record(in, MD_EINVAL, "the multipart/form-data body is malformed: %s",
                   api_mp_error(in->mp));
        api_mp_free(in->mp);
        in->mp = NULL;
    }
    close_current(in);
    if (in->err_code == 0 && in->unknown[0] && req->route == API_ROUTE_FACES)
        record(in, MD_EINVAL, "unknown part(s) %s; POST /faces takes mesh and optionally texture",
               in->unknown);
    if (in->err_code == 0 && in->unknown[0])
        record(in, MD_EINVAL,
               "unknown part(s) %s; POST /jobs takes source, target, source_texture, "
               "target_texture, frame_on (morph jobs), mesh, texture (render and average "
               "jobs), base, from, to, base_texture, from_texture, to_texture (transform jobs) "
               "and spec",
               in->unknown);
    if (in->err_code != 0) {
        api_reply_code(req, in->err_code, "%s", in->err_detail);
        return -1;
    }
    return 0;
}

void api_intake_free(api_intake *in)
{
    if (in == NULL)
        return;
    api_mp_free(in->mp);
    if (in->fd >= 0)
        close(in->fd);
    for (int i = 0; i < API_PART_COUNT; i++)
        md_free(in->parts[i].text);
    md_free(in->more);
    if (in->dir[0])
        api_rm_tree(in->dir);
    md_free(in);
}
