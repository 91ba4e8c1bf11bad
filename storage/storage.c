/*
 * storage.c — the backend-independent half of storage.h: parsing the store URL and choosing a
 * backend, the key rules, the argument checks every call gets before it reaches a backend, and
 * the two operations built from others (stg_get, stg_check_writable).
 *
 * Called by the api (its thread pool) and the worker (its engine threads), many threads at
 * once. Nothing here has state of its own except the probe counter, which is atomic; the
 * backends are thread-safe as storage_int.h describes.
 *
 * Invariant: a backend never sees a key that fails stg_key_check or a prefix that fails
 * stg_prefix_check, so no backend has to think about "..", "//" or absolute paths.
 */
#define _GNU_SOURCE
#include "storage/storage_int.h"

#include <ctype.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* ---- Keys ---- */

int stg_segment_ok(const char *name, size_t n)
{
    if (n == 0 || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

const char *stg_key_quote(const char *key, char *buf, size_t cap)
{
    /* Keys come from clients, so messages show them escaped and cut short. */
    size_t o = 0;
    if (cap < 8) {
        if (cap > 0)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '\'';
    size_t i = 0;
    for (; key[i] != '\0' && i < 80; i++) {
        unsigned char c = (unsigned char)key[i];
        if (o + 8 >= cap)
            break;
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            buf[o++] = (char)c;
        } else {
            snprintf(buf + o, cap - o, "\\x%02x", c);
            o += 4;
        }
    }
    if (key[i] != '\0' && o + 5 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

/* Checks key[0..n) against the key rules; what names the thing in messages ("key", "prefix"). */
static int key_check_n(const char *key, size_t n, const char *what, md_error *err)
{
    char q[STG_QUOTE_CAP];
    if (n == 0)
        return md_fail(err, MD_EINVAL, "storage %s is empty", what);
    if (n > STG_KEY_MAX)
        return md_fail(err, MD_EINVAL, "storage %s %s is %zu bytes, longer than %d", what,
                       stg_key_quote(key, q, sizeof q), n, STG_KEY_MAX);
    if (key[0] == '/')
        return md_fail(err, MD_EINVAL, "storage %s %s starts with '/'; keys are relative", what,
                       stg_key_quote(key, q, sizeof q));
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && key[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 && i == n)
            return md_fail(err, MD_EINVAL, "storage %s %s ends with '/'", what,
                           stg_key_quote(key, q, sizeof q));
        if (len == 0)
            return md_fail(err, MD_EINVAL, "storage %s %s has an empty segment at byte %zu", what,
                           stg_key_quote(key, q, sizeof q), i);
        if (key[start] == '.')
            return md_fail(err, MD_EINVAL,
                           "storage %s %s has a segment starting with '.' at byte %zu", what,
                           stg_key_quote(key, q, sizeof q), start);
        if (!stg_segment_ok(key + start, len)) {
            size_t bad = start;
            while (stg_segment_ok(key + bad, 1) || key[bad] == '.')
                bad++;
            return md_fail(err, MD_EINVAL,
                           "storage %s %s has byte 0x%02x at %zu; keys use A-Z a-z 0-9 . _ - "
                           "and '/' between segments",
                           what, stg_key_quote(key, q, sizeof q), (unsigned char)key[bad], bad);
        }
        start = i + 1;
    }
    return 0;
}

int stg_key_check(const char *key, md_error *err)
{
    if (key == NULL)
        return md_fail(err, MD_EINVAL, "storage key is NULL");
    /* strnlen so a huge key is not scanned to its end just to be refused. */
    return key_check_n(key, strnlen(key, STG_KEY_MAX + 1), "key", err);
}

int stg_prefix_check(const char *prefix, md_error *err)
{
    if (prefix == NULL)
        return md_fail(err, MD_EINVAL, "storage prefix is NULL");
    size_t n = strnlen(prefix, STG_KEY_MAX + 2);
    if (n == 0)
        return 0;
    if (prefix[n - 1] == '/')
        n--;
    return key_check_n(prefix, n, "prefix", err);
}

/* ---- Stores ---- */

/* Length of the URL scheme before "://", or 0 when url has none (a plain path). */
static size_t scheme_len(const char *url)
{
    if (!isalpha((unsigned char)url[0]))
        return 0;
    size_t i = 1;
    while (isalnum((unsigned char)url[i]) || url[i] == '+' || url[i] == '-' || url[i] == '.')
        i++;
    return strncmp(url + i, "://", 3) == 0 ? i : 0;
}

/* "s3://BUCKET[/PREFIX]": checks the bucket name (S3's rules: 3-63 of a-z 0-9 . -, a letter
 * or digit at both ends) and the prefix (the key rules), and opens the s3 backend. */
static int open_s3(const char *url, stg **out, md_error *err)
{
    const char *b = url + 5;
    size_t blen = strcspn(b, "/");
    int ok = blen >= 3 && blen <= 63 && isalnum((unsigned char)b[0]) &&
             isalnum((unsigned char)b[blen - 1]);
    for (size_t i = 0; ok && i < blen; i++)
        ok = islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '.' ||
             b[i] == '-';
    if (!ok)
        return md_fail(err, MD_EINVAL,
                       "storage URL %.200s: '%.*s' is not an S3 bucket name (3 to 63 of a-z "
                       "0-9 . -); write s3://BUCKET[/PREFIX]",
                       url, (int)(blen > 63 ? 63 : blen), b);
    char bucket[64];
    memcpy(bucket, b, blen);
    bucket[blen] = '\0';
    char prefix[STG_KEY_MAX + 2] = "";
    const char *p = b[blen] == '/' ? b + blen + 1 : b + blen;
    size_t plen = strnlen(p, STG_KEY_MAX + 2);
    while (plen > 0 && p[plen - 1] == '/')
        plen--;
    if (plen > STG_KEY_MAX)
        return md_fail(err, MD_EINVAL, "storage URL %.200s: the prefix is longer than %d bytes",
                       url, STG_KEY_MAX);
    memcpy(prefix, p, plen);
    prefix[plen] = '\0';
    if (plen > 0) {
        md_error kerr;
        if (stg_key_check(prefix, &kerr) != 0)
            return md_fail(err, MD_EINVAL, "storage URL %.200s: bad prefix: %s", url, kerr.msg);
    }
    char norm[STG_KEY_MAX + 80];
    snprintf(norm, sizeof norm, "s3://%s%s%s", bucket, plen > 0 ? "/" : "", prefix);
    return stg_s3_open(bucket, prefix, norm, out, err);
}

int stg_open(const char *url, stg **out, md_error *err)
{
    if (out == NULL)
        return md_fail(err, MD_EINVAL, "stg_open: no output pointer");
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return md_fail(err, MD_EINVAL,
                       "empty storage URL; use file:///abs/dir or s3://BUCKET[/PREFIX]");
    const char *path = url;
    size_t sl = scheme_len(url);
    if (sl == 2 && strncmp(url, "s3", 2) == 0)
        return open_s3(url, out, err);
    if (sl > 0) {
        if (sl != 4 || strncasecmp(url, "file", 4) != 0)
            return md_fail(err, MD_EINVAL,
                           "unsupported storage URL scheme '%.*s' in %.200s; this build "
                           "supports file:///abs/dir and s3://BUCKET[/PREFIX]",
                           (int)sl, url, url);
        path = url + 7;
        if (path[0] != '/')
            return md_fail(err, MD_EINVAL,
                           "storage URL %.200s has no absolute path; write file:///abs/dir "
                           "(three slashes)",
                           url);
    }
    char *root = NULL;
    char *norm = NULL;
    int rc = 0;
    if (path[0] == '/') {
        root = md_strdup(path);
    } else {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd) == NULL) {
            rc = md_fail(err, MD_EIO,
                         "storage path %.200s is relative and the working "
                         "directory is unknown; give an absolute path",
                         path);
            goto done;
        }
        size_t len = strlen(cwd) + 1 + strlen(path) + 1;
        root = md_malloc(len);
        if (root != NULL)
            snprintf(root, len, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
    }
    if (root == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory opening storage %.200s", url);
        goto done;
    }
    size_t rlen = strlen(root);
    while (rlen > 1 && root[rlen - 1] == '/')
        root[--rlen] = '\0';
    size_t nlen = rlen + sizeof "file://";
    norm = md_malloc(nlen);
    if (norm == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory opening storage %.200s", url);
        goto done;
    }
    snprintf(norm, nlen, "file://%s", root);
    rc = stg_file_open(root, norm, out, err);
done:
    md_free(root);
    md_free(norm);
    return rc;
}

void stg_free(stg *s)
{
    if (s == NULL)
        return;
    s->vt->destroy(s);
}

const char *stg_url(const stg *s)
{
    return s->url;
}

/* ---- Writing ---- */

int stg_put(stg *s, const char *key, const void *data, size_t len, md_error *err)
{
    int rc = stg_key_check(key, err);
    if (rc != 0)
        return rc;
    if (data == NULL && len > 0)
        return md_fail(err, MD_EINVAL, "stg_put: no data for %zu bytes", len);
    return s->vt->put(s, key, data, len, err);
}

int stg_writer_open(stg *s, const char *key, stg_writer **out, md_error *err)
{
    if (out == NULL)
        return md_fail(err, MD_EINVAL, "stg_writer_open: no output pointer");
    *out = NULL;
    int rc = stg_key_check(key, err);
    if (rc != 0)
        return rc;
    return s->vt->writer_open(s, key, out, err);
}

int stg_writer_write(stg_writer *w, const void *data, size_t len, md_error *err)
{
    if (w == NULL)
        return md_fail(err, MD_EINVAL, "stg_writer_write: no writer");
    if (len == 0)
        return 0;
    if (data == NULL)
        return md_fail(err, MD_EINVAL, "stg_writer_write: no data for %zu bytes", len);
    return w->store->vt->writer_write(w, data, len, err);
}

int stg_writer_commit(stg_writer *w, md_error *err)
{
    if (w == NULL)
        return md_fail(err, MD_EINVAL, "stg_writer_commit: no writer");
    return w->store->vt->writer_commit(w, err);
}

void stg_writer_abort(stg_writer *w)
{
    if (w == NULL)
        return;
    w->store->vt->writer_abort(w);
}

/* ---- Reading ---- */

int stg_reader_open(stg *s, const char *key, stg_reader **out, md_error *err)
{
    if (out == NULL)
        return md_fail(err, MD_EINVAL, "stg_reader_open: no output pointer");
    *out = NULL;
    int rc = stg_key_check(key, err);
    if (rc != 0)
        return rc;
    return s->vt->reader_open(s, key, out, err);
}

uint64_t stg_reader_size(const stg_reader *r)
{
    return r->size;
}

/* One read returns at most this much, so the byte count always fits the int64_t result. */
#define STG_READ_MAX ((size_t)1 << 30)

int64_t stg_reader_read(stg_reader *r, uint64_t offset, void *buf, size_t cap, md_error *err)
{
    if (r == NULL)
        return md_fail(err, MD_EINVAL, "stg_reader_read: no reader");
    if (cap == 0 || offset >= r->size)
        return 0;
    if (buf == NULL)
        return md_fail(err, MD_EINVAL, "stg_reader_read: no buffer for %zu bytes", cap);
    uint64_t left = r->size - offset;
    if ((uint64_t)cap > left)
        cap = (size_t)left;
    if (cap > STG_READ_MAX)
        cap = STG_READ_MAX;
    return r->store->vt->reader_read(r, offset, buf, cap, err);
}

void stg_reader_close(stg_reader *r)
{
    if (r == NULL)
        return;
    r->store->vt->reader_close(r);
}

int stg_get(stg *s, const char *key, size_t max_bytes, uint8_t **data, size_t *len, md_error *err)
{
    if (data == NULL || len == NULL)
        return md_fail(err, MD_EINVAL, "stg_get: no output pointer");
    *data = NULL;
    *len = 0;
    stg_reader *r = NULL;
    uint8_t *buf = NULL;
    char q[STG_QUOTE_CAP];
    int rc = stg_reader_open(s, key, &r, err);
    if (rc != 0)
        goto done;
    uint64_t size = stg_reader_size(r);
    if (size > (uint64_t)max_bytes || size >= (uint64_t)SIZE_MAX) {
        rc = md_fail(err, MD_ELIMIT, "object %s in %s is %llu bytes, more than the limit of %zu",
                     stg_key_quote(key, q, sizeof q), s->url, (unsigned long long)size, max_bytes);
        goto done;
    }
    buf = md_malloc((size_t)size + 1);
    if (buf == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory reading object %s (%llu bytes)",
                     stg_key_quote(key, q, sizeof q), (unsigned long long)size);
        goto done;
    }
    uint64_t got = 0;
    while (got < size) {
        int64_t n = stg_reader_read(r, got, buf + got, (size_t)(size - got), err);
        if (n < 0) {
            rc = (int)n;
            goto done;
        }
        if (n == 0) {
            rc = md_fail(err, MD_EIO, "object %s in %s ended after %llu of %llu bytes",
                         stg_key_quote(key, q, sizeof q), s->url, (unsigned long long)got,
                         (unsigned long long)size);
            goto done;
        }
        got += (uint64_t)n;
    }
    buf[size] = '\0';
    *data = buf;
    *len = (size_t)size;
    buf = NULL;
done:
    md_free(buf);
    stg_reader_close(r);
    return rc;
}

int stg_head(stg *s, const char *key, uint64_t *size, md_error *err)
{
    if (size == NULL)
        return md_fail(err, MD_EINVAL, "stg_head: no output pointer");
    *size = 0;
    int rc = stg_key_check(key, err);
    if (rc != 0)
        return rc;
    return s->vt->head(s, key, size, err);
}

/* ---- Presigned URLs ---- */

int stg_presign_get(stg *s, const char *key, int expires_s, char *out, size_t cap, md_error *err)
{
    if (out == NULL || cap == 0)
        return md_fail(err, MD_EINVAL, "stg_presign_get: no output buffer");
    out[0] = '\0';
    int rc = stg_key_check(key, err);
    if (rc != 0)
        return rc;
    if (expires_s < 1 || expires_s > STG_PRESIGN_EXPIRES_MAX)
        return md_fail(err, MD_EINVAL,
                       "stg_presign_get: a presigned URL lasts 1 to %d seconds, not %d",
                       STG_PRESIGN_EXPIRES_MAX, expires_s);
    if (s->vt->presign_get == NULL)
        return md_fail(err, MD_EFORMAT, "storage %s cannot presign URLs; stream the object",
                       s->url);
    return s->vt->presign_get(s, key, expires_s, out, cap, err);
}

/* ---- Deleting and listing ---- */

int stg_delete(stg *s, const char *key, md_error *err)
{
    int rc = stg_key_check(key, err);
    if (rc != 0)
        return rc;
    return s->vt->del(s, key, err);
}

int stg_delete_prefix(stg *s, const char *prefix, md_error *err)
{
    /* An empty prefix would empty the whole store; nobody needs that through this API. */
    if (prefix != NULL && prefix[0] == '\0')
        return md_fail(err, MD_EINVAL,
                       "stg_delete_prefix: the prefix is empty; refusing to "
                       "delete every object in %s",
                       s->url);
    int rc = stg_prefix_check(prefix, err);
    if (rc != 0)
        return rc;
    return s->vt->delete_prefix(s, prefix, err);
}

int stg_sweep_partial(stg *s, const char *prefix, size_t *removed, md_error *err)
{
    if (removed != NULL)
        *removed = 0;
    if (prefix != NULL && prefix[0] == '\0')
        return md_fail(err, MD_EINVAL, "stg_sweep_partial: the prefix is empty");
    int rc = stg_prefix_check(prefix, err);
    if (rc != 0 || s->vt->sweep_partial == NULL)
        return rc;
    return s->vt->sweep_partial(s, prefix, removed, err);
}

int stg_list(stg *s, const char *prefix, stg_list_fn fn, void *user, md_error *err)
{
    if (fn == NULL)
        return md_fail(err, MD_EINVAL, "stg_list: no callback");
    int rc = stg_prefix_check(prefix, err);
    if (rc != 0)
        return rc;
    return s->vt->list(s, prefix, fn, user, err);
}

/* ---- Readiness ---- */

int stg_check_writable(stg *s, md_error *err)
{
    /* A key of its own per call, so concurrent probes (and other processes sharing the store)
     * never read each other's probe. */
    static atomic_uint probe_count;
    unsigned n = atomic_fetch_add(&probe_count, 1u);
    char key[64], body[96];
    snprintf(key, sizeof key, "morphd-probe/%ld-%u", (long)getpid(), n);
    int blen =
        snprintf(body, sizeof body, "morphd storage probe pid %ld n %u\n", (long)getpid(), n);
    uint8_t *back = NULL;
    size_t back_len = 0;
    int rc = stg_put(s, key, body, (size_t)blen, err);
    if (rc != 0)
        goto done;
    rc = stg_get(s, key, sizeof body, &back, &back_len, err);
    if (rc == 0 && (back_len != (size_t)blen || memcmp(back, body, back_len) != 0))
        rc = md_fail(err, MD_EIO, "probe object %s read back different bytes than written", key);
    int drc = stg_delete(s, key, rc == 0 ? err : NULL);
    if (rc == 0)
        rc = drc;
done:
    md_free(back);
    if (rc != 0 && err != NULL)
        md_error_prefix(err, "storage %s is not ready: ", s->url);
    return rc;
}
