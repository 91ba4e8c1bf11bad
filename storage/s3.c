/*
 * s3.c — the s3:// backend of storage.h: the object under key K is the S3 object
 * <prefix>/K in a bucket, spoken to over HTTP(S) with libcurl and signed with our own Signature
 * V4 (sigv4.c). "s3://BUCKET[/PREFIX]"; the server is $MORPHD_S3_ENDPOINT
 * ("http://127.0.0.1:4568", path-style addressing) or, when unset, AWS's regional endpoint
 * (virtual-hosted "https://BUCKET.s3.REGION.amazonaws.com"; path-style for bucket names with
 * dots, which TLS wildcards do not cover). Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN (optional); AWS_REGION (default us-east-1). All read once, at stg_open.
 *
 * Called through storage.c from any thread (api thread pool, worker engine threads). The store
 * is immutable after open except two things behind its mutex: a pool of idle curl easy handles
 * (a request takes one or makes one, and gives it back, so connections are reused and no handle
 * is used by two threads at once) and the list of open writers (see below). Readers keep only
 * their key, size and ETag, so several threads may read one reader.
 *
 * Requests: every one signs x-amz-content-sha256 (S3 requires it; curl 7.88's own SigV4 does
 * not send it). Connection failures, timeouts, 429 and 5xx are retried S3_ATTEMPTS times with
 * doubling backoff, signing again each time.
 *
 * Semantics against storage.h:
 *  - put is one PUT: S3 replaces objects atomically.
 *  - A writer buffers up to S3_PART_SIZE (8 MiB) in memory. An object that stays smaller is one
 *    PUT at commit; a larger one becomes a multipart upload (CreateMultipartUpload at the first
 *    full part, UploadPart per 8 MiB, CompleteMultipartUpload at commit, AbortMultipartUpload on
 *    abort or failure), so memory per writer stays 8 MiB and objects may reach S3's 10,000
 *    parts (78 GiB). Parts are invisible until the upload completes, as storage.h asks; a
 *    process that dies mid-upload leaves parts that only a bucket lifecycle rule
 *    (AbortIncompleteMultipartUpload) removes.
 *  - A reader remembers the ETag that HEAD gave and reads ranges with If-Match (and compares
 *    the ETag of each answer, for servers that ignore If-Match), so a replaced object is an
 *    error (MD_EIO "changed since it was opened") rather than mixed bytes. Unlike the file
 *    backend, a deleted object cannot be read on through an open reader.
 *  - list and delete_prefix use ListObjectsV2 pages (continuation tokens) and gather every key
 *    before calling back or deleting. Keys that are not valid storage keys (written by someone
 *    else) are skipped.
 *  - delete_prefix makes the commit of this process's open writers under the prefix fail, as the
 *    file backend does; writers of other processes cannot be reached (their commit succeeds).
 *  - sweep_partial is NULL: an uncommitted writer leaves no object in the bucket (at most the
 *    invisible parts of a multipart upload, see above).
 *  - presign_get signs a query-string GET URL (sigv4.c) on the same endpoint, host and path
 *    as a request of ours, with the session token in the query when there is one. It sends
 *    nothing; the URL's holder gets what S3 answers then (404 for an absent object).
 *
 * The XML answers are parsed here by bounded substring search (a page is at most S3_XML_MAX
 * bytes): ListObjectsV2's Contents/Key/Size, IsTruncated, NextContinuationToken and the
 * Code/Message of errors, with the five XML entities and numeric references decoded.
 *
 * Test knob: MORPHD_S3_LIST_PAGE (1..1000, default 1000) sets max-keys, so the tests can make
 * listings take several pages without writing a thousand objects.
 */
#define _GNU_SOURCE
#include "storage/sigv4.h"
#include "storage/storage_int.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S3_POOL_MAX 16                 /* idle curl handles kept per store */
#define S3_ATTEMPTS 5                  /* tries per request, the first included */
#define S3_XML_MAX (16u << 20)         /* a ListObjectsV2 page or error body, bytes */
#define S3_PART_SIZE ((size_t)8 << 20) /* a multipart upload's part (S3: 5 MiB at least) */
#define S3_PARTS_MAX 10000             /* S3's limit of parts per upload */
#define S3_ETAG_MAX 128
#define S3_TOKEN_MAX 4096 /* a continuation token, decoded */

typedef struct s3_writer s3_writer;

typedef struct s3_stg {
    stg base;
    char *endpoint;   /* owned; "http://127.0.0.1:4568", no trailing '/' */
    char *host;       /* owned; the Host header */
    char *path_base;  /* owned; "/bucket" (path-style) or "" (virtual-hosted) */
    char *prefix;     /* owned; "" or "pfx/" */
    char *access_key; /* owned */
    char *secret_key; /* owned */
    char *token;      /* owned; NULL without AWS_SESSION_TOKEN */
    char *region;     /* owned */
    long list_page;
    pthread_mutex_t lock;    /* guards pool and writers */
    CURL *pool[S3_POOL_MAX]; /* owned; idle handles */
    size_t pool_count;
    s3_writer *writers; /* borrowed; this store's open writers, linked by next */
} s3_stg;

struct s3_writer {
    stg_writer base;
    md_buf data;      /* the part being filled, at most S3_PART_SIZE */
    char *upload_id;  /* owned; NULL until the first full part starts a multipart upload */
    int parts;        /* parts uploaded */
    md_buf parts_xml; /* <Part> elements of CompleteMultipartUpload */
    int failed;       /* a write failed: commit must not publish */
    int canceled;     /* a delete_prefix covered the key; guarded by the store's lock */
    s3_writer *next;
    char key[STG_KEY_MAX + 1];
};

typedef struct s3_reader {
    stg_reader base;
    char etag[S3_ETAG_MAX];
    char key[STG_KEY_MAX + 1];
} s3_reader;

/* One request and its answer. */
typedef struct s3_call {
    const char *method; /* GET, HEAD, PUT, DELETE */
    const char *key;    /* storage key (store prefix added here); NULL for the bucket */
    const char *query;  /* canonical query string, "" for none */
    const void *body;   /* borrowed; PUT only */
    size_t body_len;
    const char *range;    /* "bytes=a-b" or NULL */
    const char *if_match; /* an ETag or NULL */
    /* The answer. */
    CURL *curl;
    long status;
    md_buf resp;   /* the body (error bodies too), at most S3_XML_MAX */
    uint8_t *sink; /* when set, a 2xx body goes here instead: range reads */
    size_t sink_cap, sink_len;
    uint64_t range_offset; /* where the range starts */
    uint64_t sink_skip;    /* bytes to drop first: a 200 answer ignored the Range */
    int skip_set;
    char etag[S3_ETAG_MAX];
    curl_off_t length; /* Content-Length of the answer, -1 when unknown */
    /* Upload progress. */
    size_t sent;
} s3_call;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- XML ---- */

/* The text between the first <tag> and </tag> in [p, end), undecoded; NULL when absent. */
static const char *xml_find(const char *p, const char *end, const char *tag, size_t *len)
{
    char open[64], close[64];
    int ol = snprintf(open, sizeof open, "<%s>", tag);
    int cl = snprintf(close, sizeof close, "</%s>", tag);
    const char *a = memmem(p, (size_t)(end - p), open, (size_t)ol);
    if (a == NULL)
        return NULL;
    a += ol;
    const char *b = memmem(a, (size_t)(end - a), close, (size_t)cl);
    if (b == NULL)
        return NULL;
    *len = (size_t)(b - a);
    return a;
}

/* Decodes XML text (entities, numeric references up to 0x7f... and beyond as UTF-8) into out
 * (cap bytes with the NUL). Returns 0, or -1 when it does not fit or is malformed. */
static int xml_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        char buf[4];
        size_t blen = 1;
        buf[0] = c;
        if (c == '&') {
            const char *semi = memchr(s + i, ';', n - i);
            if (semi == NULL || semi - (s + i) > 12)
                return -1;
            size_t elen = (size_t)(semi - (s + i)) + 1;
            const char *e = s + i + 1;
            size_t en = elen - 2;
            if (en == 3 && memcmp(e, "amp", 3) == 0)
                buf[0] = '&';
            else if (en == 2 && memcmp(e, "lt", 2) == 0)
                buf[0] = '<';
            else if (en == 2 && memcmp(e, "gt", 2) == 0)
                buf[0] = '>';
            else if (en == 4 && memcmp(e, "quot", 4) == 0)
                buf[0] = '"';
            else if (en == 4 && memcmp(e, "apos", 4) == 0)
                buf[0] = '\'';
            else if (en >= 2 && e[0] == '#') {
                char num[16];
                memcpy(num, e + 1, en - 1);
                num[en - 1] = '\0';
                char *stop;
                unsigned long cp =
                    num[0] == 'x' ? strtoul(num + 1, &stop, 16) : strtoul(num, &stop, 10);
                if (*stop != '\0' || cp == 0 || cp > 0x10ffff)
                    return -1;
                if (cp < 0x80) {
                    buf[0] = (char)cp;
                } else if (cp < 0x800) {
                    buf[0] = (char)(0xc0 | (cp >> 6));
                    buf[1] = (char)(0x80 | (cp & 0x3f));
                    blen = 2;
                } else if (cp < 0x10000) {
                    buf[0] = (char)(0xe0 | (cp >> 12));
                    buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    buf[2] = (char)(0x80 | (cp & 0x3f));
                    blen = 3;
                } else {
                    buf[0] = (char)(0xf0 | (cp >> 18));
                    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    buf[3] = (char)(0x80 | (cp & 0x3f));
                    blen = 4;
                }
            } else {
                return -1;
            }
            i += elen;
        } else {
            i++;
        }
        if (o + blen >= cap)
            return -1;
        memcpy(out + o, buf, blen);
        o += blen;
    }
    out[o] = '\0';
    return 0;
}

/* "(NoSuchBucket: The specified bucket does not exist)" from an error body, or "". */
static void s3_error_detail(const s3_call *c, char *out, size_t cap)
{
    out[0] = '\0';
    if (c->resp.data == NULL)
        return;
    const char *end = c->resp.data + c->resp.len;
    size_t clen = 0, mlen = 0;
    const char *code = xml_find(c->resp.data, end, "Code", &clen);
    const char *msg = xml_find(c->resp.data, end, "Message", &mlen);
    char code_s[64] = "", msg_s[200] = "";
    if (code != NULL && xml_decode(code, clen, code_s, sizeof code_s) != 0)
        code_s[0] = '\0';
    if (msg != NULL && xml_decode(msg, mlen, msg_s, sizeof msg_s) != 0)
        msg_s[0] = '\0';
    if (code_s[0] != '\0')
        snprintf(out, cap, " (%s%s%s)", code_s, msg_s[0] != '\0' ? ": " : "", msg_s);
}

/* ---- Requests ---- */

static CURL *handle_take(s3_stg *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->pool_count > 0)
        h = s->pool[--s->pool_count];
    pthread_mutex_unlock(&s->lock);
    if (h == NULL)
        h = curl_easy_init();
    return h;
}

static void handle_give(s3_stg *s, CURL *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    if (s->pool_count < S3_POOL_MAX) {
        s->pool[s->pool_count++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (h != NULL)
        curl_easy_cleanup(h);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    s3_call *c = user;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (c->sink != NULL && status >= 200 && status < 300) {
        if (!c->skip_set) {
            c->sink_skip = status == 200 ? c->range_offset : 0;
            c->skip_set = 1;
        }
        size_t off = 0;
        if (c->sink_skip > 0) {
            off = c->sink_skip < n ? (size_t)c->sink_skip : n;
            c->sink_skip -= off;
        }
        size_t room = c->sink_cap - c->sink_len;
        size_t take = n - off < room ? n - off : room;
        memcpy(c->sink + c->sink_len, data + off, take);
        c->sink_len += take;
        return n; /* bytes past what was asked for are dropped */
    }
    return md_buf_append(&c->resp, data, n) == 0 ? n : 0;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *user)
{
    s3_call *c = user;
    size_t n = size * nmemb;
    if (n > 5 && strncasecmp(line, "etag:", 5) == 0) {
        size_t a = 5, b = n;
        while (a < b && (line[a] == ' ' || line[a] == '\t'))
            a++;
        while (b > a && (line[b - 1] == '\r' || line[b - 1] == '\n' || line[b - 1] == ' '))
            b--;
        if (b - a < sizeof c->etag) {
            memcpy(c->etag, line + a, b - a);
            c->etag[b - a] = '\0';
        }
    }
    return n;
}

static size_t on_upload(char *buf, size_t size, size_t nmemb, void *user)
{
    s3_call *c = user;
    size_t room = size * nmemb;
    size_t left = c->body_len - c->sent;
    size_t n = left < room ? left : room;
    memcpy(buf, (const char *)c->body + c->sent, n);
    c->sent += n;
    return n;
}

static int retryable_curl(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
           cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
           cc == CURLE_PARTIAL_FILE || cc == CURLE_COULDNT_RESOLVE_HOST;
}

static int retryable_status(long status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

/* Builds the path ("/bucket/pfx/key") and URL of a call. */
static int call_target(s3_stg *s, const s3_call *c, md_buf *path, md_buf *url)
{
    md_buf_puts(path, s->path_base);
    if (c->key != NULL) {
        md_buf_puts(path, "/");
        stg_sigv4_uri_encode(path, s->prefix, 1);
        stg_sigv4_uri_encode(path, c->key, 1);
    } else if (s->path_base[0] == '\0') {
        md_buf_puts(path, "/");
    }
    md_buf_printf(url, "%s%s%s%s", s->endpoint, path->data != NULL ? path->data : "",
                  c->query[0] != '\0' ? "?" : "", c->query);
    return path->err != 0 ? path->err : url->err;
}

/* One attempt: sign, send, receive. Returns the CURLcode; c->status gets the HTTP status. */
static CURLcode call_once(s3_stg *s, s3_call *c, const char *path, const char *url,
                          const char *payload_hash, md_error *err, int *sign_rc)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    char amz_date[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);

    stg_sigv4_header hs[6];
    size_t nh = 0;
    hs[nh++] = (stg_sigv4_header){"host", s->host};
    hs[nh++] = (stg_sigv4_header){"x-amz-content-sha256", payload_hash};
    hs[nh++] = (stg_sigv4_header){"x-amz-date", amz_date};
    if (c->range != NULL)
        hs[nh++] = (stg_sigv4_header){"range", c->range};
    if (s->token != NULL)
        hs[nh++] = (stg_sigv4_header){"x-amz-security-token", s->token};
    stg_sigv4_request req = {.method = c->method,
                             .path = path,
                             .query = c->query,
                             .headers = hs,
                             .header_count = nh,
                             .payload_hash = payload_hash};
    stg_sigv4_creds creds = {.access_key = s->access_key,
                             .secret_key = s->secret_key,
                             .region = s->region,
                             .service = "s3"};
    char auth[1024];
    *sign_rc = stg_sigv4_authorization(&req, &creds, amz_date, auth, sizeof auth, err);
    if (*sign_rc != 0)
        return CURLE_OK;

    struct curl_slist *list = NULL;
    md_buf line;
    md_buf_init(&line, 8192);
    for (size_t i = 0; i < nh; i++) {
        md_buf_reset(&line);
        md_buf_printf(&line, "%s: %s", hs[i].name, hs[i].value);
        list = curl_slist_append(list, line.data != NULL ? line.data : "");
    }
    md_buf_reset(&line);
    md_buf_printf(&line, "Authorization: %s", auth);
    list = curl_slist_append(list, line.data != NULL ? line.data : "");
    if (c->if_match != NULL) {
        md_buf_reset(&line);
        md_buf_printf(&line, "If-Match: %s", c->if_match);
        list = curl_slist_append(list, line.data != NULL ? line.data : "");
    }
    list = curl_slist_append(list, "Expect:");
    md_buf_free(&line);

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* Slower than 1 byte/s for 60 s is a dead connection; big objects may take long. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    if (strcmp(c->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(c->method, "PUT") == 0 || strcmp(c->method, "POST") == 0) {
        /* POST too: curl's upload with the method renamed sends the body from on_upload. */
        if (strcmp(c->method, "POST") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
    } else if (strcmp(c->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    }
    CURLcode cc = curl_easy_perform(h);
    c->status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &c->length);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    return cc;
}

/* Runs a call with retries. 0 when an answer came (any status: the caller judges it), or a
 * negative code when none did. */
static int s3_call_run(s3_stg *s, s3_call *c, md_error *err)
{
    char q[STG_QUOTE_CAP];
    const char *what = c->key != NULL ? stg_key_quote(c->key, q, sizeof q) : "the bucket";
    if (curl_init_rc != CURLE_OK)
        return md_fail(err, MD_EIO, "libcurl failed to initialise: %s",
                       curl_easy_strerror(curl_init_rc));
    char payload_hash[STG_SIGV4_HEX_LEN + 1];
    stg_sigv4_sha256_hex(c->body != NULL ? c->body : "", c->body_len, payload_hash);
    md_buf path, url;
    md_buf_init(&path, 4 * STG_KEY_MAX + 256);
    md_buf_init(&url, 8 * STG_KEY_MAX + S3_TOKEN_MAX * 3 + 1024);
    int rc = call_target(s, c, &path, &url);
    if (rc != 0) {
        rc = md_fail(err, rc, "S3 request URL for %s in %s is too long", what, s->base.url);
        goto done;
    }
    c->curl = handle_take(s);
    if (c->curl == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory starting an S3 request for %s", what);
        goto done;
    }
    CURLcode cc = CURLE_OK;
    unsigned delay_ms = 100;
    for (int attempt = 0; attempt < S3_ATTEMPTS; attempt++) {
        if (attempt > 0) {
            /* Doubling backoff with some jitter, so threads retrying together spread out. */
            unsigned jitter =
                (unsigned)(((uintptr_t)c >> 4) ^ (unsigned)attempt) % (delay_ms / 2 + 1);
            struct timespec ts = {.tv_sec = (delay_ms + jitter) / 1000,
                                  .tv_nsec = (long)((delay_ms + jitter) % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            if (delay_ms < 3200)
                delay_ms *= 2;
        }
        md_buf_reset(&c->resp);
        c->sink_len = 0;
        c->sent = 0;
        c->etag[0] = '\0';
        c->skip_set = 0;
        c->length = -1;
        int sign_rc = 0;
        cc = call_once(s, c, path.data, url.data, payload_hash, err, &sign_rc);
        if (sign_rc != 0) {
            rc = sign_rc;
            goto done;
        }
        if (cc == CURLE_OK && !retryable_status(c->status))
            break;
        if (cc != CURLE_OK && !retryable_curl(cc))
            break;
    }
    if (cc != CURLE_OK) {
        rc = md_fail(err, MD_EUNAVAIL, "S3 %s of %s at %s failed: %s (endpoint %s)", c->method,
                     what, s->base.url, curl_easy_strerror(cc), s->endpoint);
    } else if (retryable_status(c->status)) {
        char detail[300];
        s3_error_detail(c, detail, sizeof detail);
        rc = md_fail(err, MD_EUNAVAIL, "S3 answered %ld%s to %s of %s in %s, %d times", c->status,
                     detail, c->method, what, s->base.url, S3_ATTEMPTS);
    }
done:
    handle_give(s, c->curl);
    c->curl = NULL;
    md_buf_free(&path);
    md_buf_free(&url);
    return rc;
}

static void call_init(s3_call *c, const char *method, const char *key)
{
    memset(c, 0, sizeof *c);
    c->method = method;
    c->key = key;
    c->query = "";
    md_buf_init(&c->resp, S3_XML_MAX);
}

/* The error for an answer that was not what the call wanted. */
static int s3_status_fail(s3_stg *s, s3_call *c, md_error *err)
{
    char q[STG_QUOTE_CAP];
    const char *what = c->key != NULL ? stg_key_quote(c->key, q, sizeof q) : "the bucket";
    char detail[300];
    s3_error_detail(c, detail, sizeof detail);
    if (c->status == 404 && c->key != NULL && strstr(detail, "NoSuchBucket") == NULL)
        return md_fail(err, MD_ENOENT, "no object %s in %s", what, s->base.url);
    if (c->status == 403 || c->status == 401)
        return md_fail(err, MD_EIO,
                       "S3 refused %s of %s in %s: %ld%s; check AWS_ACCESS_KEY_ID, "
                       "AWS_SECRET_ACCESS_KEY and AWS_REGION",
                       c->method, what, s->base.url, c->status, detail);
    return md_fail(err, MD_EIO, "S3 answered %ld%s to %s of %s in %s", c->status, detail, c->method,
                   what, s->base.url);
}

/* ---- Writing ---- */

static int s3_put(stg *base, const char *key, const void *data, size_t len, md_error *err)
{
    s3_stg *s = (s3_stg *)base;
    s3_call c;
    call_init(&c, "PUT", key);
    c.body = data;
    c.body_len = len;
    int rc = s3_call_run(s, &c, err);
    if (rc == 0 && (c.status < 200 || c.status >= 300))
        rc = s3_status_fail(s, &c, err);
    md_buf_free(&c.resp);
    return rc;
}

static void writer_unlink(s3_writer *w)
{
    s3_stg *s = (s3_stg *)w->base.store;
    pthread_mutex_lock(&s->lock);
    for (s3_writer **p = &s->writers; *p != NULL; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static int s3_writer_open(stg *base, const char *key, stg_writer **out, md_error *err)
{
    s3_stg *s = (s3_stg *)base;
    char q[STG_QUOTE_CAP];
    s3_writer *w = md_calloc(1, sizeof *w);
    if (w == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory opening a writer for %s",
                       stg_key_quote(key, q, sizeof q));
    w->base.store = base;
    md_buf_init(&w->data, S3_PART_SIZE);
    md_buf_init(&w->parts_xml, (size_t)S3_PARTS_MAX * (S3_ETAG_MAX + 64));
    snprintf(w->key, sizeof w->key, "%s", key);
    pthread_mutex_lock(&s->lock);
    w->next = s->writers;
    s->writers = w;
    pthread_mutex_unlock(&s->lock);
    *out = &w->base;
    return 0;
}

/* The query "uploadId=ID" or "partNumber=N&uploadId=ID" (names in byte order). */
static int upload_query(md_buf *q, int part, const char *upload_id)
{
    md_buf_reset(q);
    if (part > 0)
        md_buf_printf(q, "partNumber=%d&", part);
    md_buf_puts(q, "uploadId=");
    return stg_sigv4_uri_encode(q, upload_id, 0);
}

/* CreateMultipartUpload: sets w->upload_id. */
static int upload_start(s3_writer *w, md_error *err)
{
    s3_stg *s = (s3_stg *)w->base.store;
    s3_call c;
    call_init(&c, "POST", w->key);
    c.query = "uploads=";
    int rc = s3_call_run(s, &c, err);
    if (rc == 0 && c.status != 200)
        rc = s3_status_fail(s, &c, err);
    if (rc == 0) {
        size_t n = 0;
        const char *id = c.resp.data != NULL
                             ? xml_find(c.resp.data, c.resp.data + c.resp.len, "UploadId", &n)
                             : NULL;
        char buf[1024];
        if (id == NULL || n == 0 || xml_decode(id, n, buf, sizeof buf) != 0)
            rc = md_fail(err, MD_EIO, "S3 started a multipart upload for %s without an UploadId",
                         s->base.url);
        else if ((w->upload_id = md_strdup(buf)) == NULL)
            rc = md_fail(err, MD_ENOMEM, "out of memory starting an upload to %s", s->base.url);
    }
    md_buf_free(&c.resp);
    return rc;
}

/* Uploads w->data as the next part and empties it. */
static int upload_part(s3_writer *w, md_error *err)
{
    s3_stg *s = (s3_stg *)w->base.store;
    char q[STG_QUOTE_CAP];
    if (w->parts >= S3_PARTS_MAX)
        return md_fail(err, MD_ELIMIT, "object %s for %s has more than %d parts of %zu MiB",
                       stg_key_quote(w->key, q, sizeof q), s->base.url, S3_PARTS_MAX,
                       S3_PART_SIZE >> 20);
    md_buf query;
    md_buf_init(&query, 4096);
    int rc = upload_query(&query, w->parts + 1, w->upload_id);
    s3_call c;
    call_init(&c, "PUT", w->key);
    c.query = query.data;
    c.body = w->data.data != NULL ? w->data.data : "";
    c.body_len = w->data.len;
    if (rc == 0)
        rc = s3_call_run(s, &c, err);
    else
        rc = md_fail(err, rc, "upload id of %s too long", s->base.url);
    if (rc == 0 && c.status != 200)
        rc = s3_status_fail(s, &c, err);
    if (rc == 0 && c.etag[0] == '\0')
        rc = md_fail(err, MD_EIO, "S3 took part %d of %s in %s without an ETag", w->parts + 1,
                     stg_key_quote(w->key, q, sizeof q), s->base.url);
    if (rc == 0) {
        w->parts++;
        md_buf_printf(&w->parts_xml, "<Part><PartNumber>%d</PartNumber><ETag>", w->parts);
        for (const char *p = c.etag; *p != '\0'; p++) {
            if (*p == '&')
                md_buf_puts(&w->parts_xml, "&amp;");
            else if (*p == '<')
                md_buf_puts(&w->parts_xml, "&lt;");
            else
                md_buf_append(&w->parts_xml, p, 1);
        }
        md_buf_puts(&w->parts_xml, "</ETag></Part>");
        if (w->parts_xml.err != 0)
            rc = md_fail(err, w->parts_xml.err, "out of memory listing the parts of %s",
                         stg_key_quote(w->key, q, sizeof q));
        md_buf_reset(&w->data);
    }
    md_buf_free(&c.resp);
    md_buf_free(&query);
    return rc;
}

/* CompleteMultipartUpload. S3 may answer 200 and still put an <Error> in the body. */
static int upload_complete(s3_writer *w, md_error *err)
{
    s3_stg *s = (s3_stg *)w->base.store;
    md_buf query, body;
    md_buf_init(&query, 4096);
    md_buf_init(&body, w->parts_xml.max + 128);
    int rc = upload_query(&query, 0, w->upload_id);
    md_buf_puts(&body, "<CompleteMultipartUpload>");
    md_buf_append(&body, w->parts_xml.data != NULL ? w->parts_xml.data : "", w->parts_xml.len);
    md_buf_puts(&body, "</CompleteMultipartUpload>");
    if (rc != 0 || body.err != 0) {
        rc = md_fail(err, MD_ENOMEM, "out of memory completing an upload to %s", s->base.url);
        goto done;
    }
    s3_call c;
    call_init(&c, "POST", w->key);
    c.query = query.data;
    c.body = body.data;
    c.body_len = body.len;
    rc = s3_call_run(s, &c, err);
    if (rc == 0 && (c.status != 200 || (c.resp.data != NULL && strstr(c.resp.data, "<Error>"))))
        rc = s3_status_fail(s, &c, err);
    md_buf_free(&c.resp);
done:
    md_buf_free(&query);
    md_buf_free(&body);
    return rc;
}

/* AbortMultipartUpload, best effort: a failure leaves parts for the bucket's lifecycle rule. */
static void upload_abort(s3_writer *w)
{
    s3_stg *s = (s3_stg *)w->base.store;
    md_buf query;
    md_buf_init(&query, 4096);
    if (upload_query(&query, 0, w->upload_id) == 0) {
        s3_call c;
        call_init(&c, "DELETE", w->key);
        c.query = query.data;
        md_error ignored;
        if (s3_call_run(s, &c, &ignored) != 0 || (c.status != 204 && c.status != 200))
            md_log(MD_LOG_WARN, "storage %s: could not abort the multipart upload of %s",
                   s->base.url, w->key);
        md_buf_free(&c.resp);
    }
    md_buf_free(&query);
}

static int s3_writer_write(stg_writer *base, const void *data, size_t len, md_error *err)
{
    s3_writer *w = (s3_writer *)base;
    char q[STG_QUOTE_CAP];
    if (w->failed)
        return md_fail(err, MD_EIO, "writer for %s in %s already failed",
                       stg_key_quote(w->key, q, sizeof q), base->store->url);
    const char *p = data;
    while (len > 0) {
        size_t room = S3_PART_SIZE - w->data.len;
        size_t n = len < room ? len : room;
        if (md_buf_append(&w->data, p, n) != 0) {
            w->failed = 1;
            return md_fail(err, w->data.err, "out of memory buffering object %s for %s",
                           stg_key_quote(w->key, q, sizeof q), base->store->url);
        }
        p += n;
        len -= n;
        if (w->data.len == S3_PART_SIZE) {
            int rc = w->upload_id == NULL ? upload_start(w, err) : 0;
            if (rc == 0)
                rc = upload_part(w, err);
            if (rc != 0) {
                w->failed = 1;
                return rc;
            }
        }
    }
    return 0;
}

static void s3_writer_abort(stg_writer *base)
{
    s3_writer *w = (s3_writer *)base;
    if (w->upload_id != NULL)
        upload_abort(w);
    writer_unlink(w);
    md_buf_free(&w->data);
    md_buf_free(&w->parts_xml);
    md_free(w->upload_id);
    md_free(w);
}

static int s3_writer_commit(stg_writer *base, md_error *err)
{
    s3_writer *w = (s3_writer *)base;
    s3_stg *s = (s3_stg *)base->store;
    char q[STG_QUOTE_CAP];
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    int canceled = w->canceled;
    pthread_mutex_unlock(&s->lock);
    if (w->failed)
        rc = md_fail(err, MD_EIO, "not committing %s in %s: an earlier write failed",
                     stg_key_quote(w->key, q, sizeof q), s->base.url);
    else if (canceled)
        rc = md_fail(err, MD_EIO,
                     "cannot store %s in %s: its prefix was deleted while it was written",
                     stg_key_quote(w->key, q, sizeof q), s->base.url);
    else if (w->upload_id == NULL)
        rc =
            s3_put(base->store, w->key, w->data.data != NULL ? w->data.data : "", w->data.len, err);
    else {
        if (w->data.len > 0)
            rc = upload_part(w, err);
        if (rc == 0)
            rc = upload_complete(w, err);
        if (rc == 0) {
            md_free(w->upload_id); /* completed: nothing for abort to cancel */
            w->upload_id = NULL;
        }
    }
    s3_writer_abort(base);
    return rc;
}

/* ---- Reading ---- */

static int s3_head_etag(s3_stg *s, const char *key, uint64_t *size, char *etag, md_error *err)
{
    s3_call c;
    call_init(&c, "HEAD", key);
    int rc = s3_call_run(s, &c, err);
    if (rc == 0 && c.status != 200)
        rc = s3_status_fail(s, &c, err);
    if (rc == 0 && c.length < 0) {
        char q[STG_QUOTE_CAP];
        rc = md_fail(err, MD_EIO, "S3 gave no Content-Length for %s in %s",
                     stg_key_quote(key, q, sizeof q), s->base.url);
    }
    if (rc == 0) {
        *size = (uint64_t)c.length;
        if (etag != NULL)
            snprintf(etag, S3_ETAG_MAX, "%s", c.etag);
    }
    md_buf_free(&c.resp);
    return rc;
}

static int s3_head(stg *base, const char *key, uint64_t *size, md_error *err)
{
    return s3_head_etag((s3_stg *)base, key, size, NULL, err);
}

static int s3_reader_open(stg *base, const char *key, stg_reader **out, md_error *err)
{
    s3_stg *s = (s3_stg *)base;
    char q[STG_QUOTE_CAP];
    s3_reader *r = md_calloc(1, sizeof *r);
    if (r == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory opening %s", stg_key_quote(key, q, sizeof q));
    r->base.store = base;
    snprintf(r->key, sizeof r->key, "%s", key);
    int rc = s3_head_etag(s, key, &r->base.size, r->etag, err);
    if (rc != 0) {
        md_free(r);
        return rc;
    }
    *out = &r->base;
    return 0;
}

static int64_t s3_reader_read(stg_reader *base, uint64_t offset, void *buf, size_t cap,
                              md_error *err)
{
    s3_reader *r = (s3_reader *)base;
    s3_stg *s = (s3_stg *)base->store;
    char q[STG_QUOTE_CAP];
    char range[64];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)offset,
             (unsigned long long)(offset + cap - 1));
    s3_call c;
    call_init(&c, "GET", r->key);
    c.range = range;
    c.if_match = r->etag[0] != '\0' ? r->etag : NULL;
    c.sink = buf;
    c.sink_cap = cap;
    c.range_offset = offset;
    int64_t rc = s3_call_run(s, &c, err);
    if (rc == 0) {
        if (c.status == 412)
            rc = md_fail(err, MD_EIO, "object %s in %s changed since it was opened",
                         stg_key_quote(r->key, q, sizeof q), s->base.url);
        else if (c.status == 404)
            rc = md_fail(err, MD_EIO, "object %s in %s was deleted since it was opened",
                         stg_key_quote(r->key, q, sizeof q), s->base.url);
        else if (c.status != 206 && c.status != 200)
            rc = s3_status_fail(s, &c, err);
        else if (r->etag[0] != '\0' && c.etag[0] != '\0' && strcmp(r->etag, c.etag) != 0)
            /* Servers that ignore If-Match (s3rver) still say which object they sent. */
            rc = md_fail(err, MD_EIO, "object %s in %s changed since it was opened",
                         stg_key_quote(r->key, q, sizeof q), s->base.url);
        else
            rc = (int64_t)c.sink_len;
    }
    md_buf_free(&c.resp);
    return rc;
}

static void s3_reader_close(stg_reader *base)
{
    md_free(base);
}

/* ---- Deleting ---- */

static int s3_delete(stg *base, const char *key, md_error *err)
{
    s3_stg *s = (s3_stg *)base;
    s3_call c;
    call_init(&c, "DELETE", key);
    int rc = s3_call_run(s, &c, err);
    /* S3 answers 204 whether or not the object was there; some servers say 404. */
    if (rc == 0 && c.status != 204 && c.status != 200 && c.status != 404)
        rc = s3_status_fail(s, &c, err);
    md_buf_free(&c.resp);
    return rc;
}

/* ---- Listing: stg_list and stg_delete_prefix ---- */

typedef struct list_item {
    char *key; /* owned; without the store prefix */
    uint64_t size;
} list_item;

typedef struct listing {
    list_item *items; /* owned */
    size_t count, cap;
} listing;

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->count; i++)
        md_free(l->items[i].key);
    md_free(l->items);
    memset(l, 0, sizeof *l);
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const list_item *)a)->key, ((const list_item *)b)->key);
}

/* Adds the Contents of one ListObjectsV2 page to l; *token gets NextContinuationToken when the
 * page says IsTruncated, else "". */
static int parse_page(s3_stg *s, const char *xml, size_t len, listing *l, char *token,
                      md_error *err)
{
    const char *p = xml, *end = xml + len;
    size_t plen = strlen(s->prefix);
    char key[STG_KEY_MAX * 2 + 1];
    for (;;) {
        const char *a = memmem(p, (size_t)(end - p), "<Contents>", 10);
        if (a == NULL)
            break;
        const char *b = memmem(a, (size_t)(end - a), "</Contents>", 11);
        if (b == NULL)
            return md_fail(err, MD_EIO, "S3 listing of %s is malformed: <Contents> not closed",
                           s->base.url);
        size_t klen = 0, slen = 0;
        const char *k = xml_find(a, b, "Key", &klen);
        const char *z = xml_find(a, b, "Size", &slen);
        p = b + 11;
        if (k == NULL || z == NULL || slen == 0 || slen > 20)
            return md_fail(err, MD_EIO,
                           "S3 listing of %s is malformed: an entry without Key or "
                           "Size",
                           s->base.url);
        if (xml_decode(k, klen, key, sizeof key) != 0)
            continue; /* longer than any key of ours */
        char num[24];
        memcpy(num, z, slen);
        num[slen] = '\0';
        char *stop;
        unsigned long long size = strtoull(num, &stop, 10);
        if (*stop != '\0' || !isdigit((unsigned char)num[0]))
            return md_fail(err, MD_EIO, "S3 listing of %s is malformed: size '%s'", s->base.url,
                           num);
        if (strncmp(key, s->prefix, plen) != 0 || stg_key_check(key + plen, NULL) != 0)
            continue; /* not an object this store wrote */
        if (l->count == l->cap) {
            size_t cap = l->cap == 0 ? 64 : l->cap * 2;
            list_item *items = md_realloc_array(l->items, cap, sizeof *items);
            if (items == NULL)
                return md_fail(err, MD_ENOMEM, "out of memory listing %s", s->base.url);
            l->items = items;
            l->cap = cap;
        }
        char *copy = md_strdup(key + plen);
        if (copy == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory listing %s", s->base.url);
        l->items[l->count].key = copy;
        l->items[l->count].size = (uint64_t)size;
        l->count++;
    }
    token[0] = '\0';
    size_t tlen = 0;
    const char *t = xml_find(xml, end, "IsTruncated", &tlen);
    if (t != NULL && tlen == 4 && memcmp(t, "true", 4) == 0) {
        const char *n = xml_find(xml, end, "NextContinuationToken", &tlen);
        if (n == NULL || tlen == 0 || xml_decode(n, tlen, token, S3_TOKEN_MAX) != 0)
            return md_fail(err, MD_EIO,
                           "S3 listing of %s is truncated but has no usable "
                           "NextContinuationToken",
                           s->base.url);
    }
    return 0;
}

/* Every key under prefix, sorted. */
static int list_all(s3_stg *s, const char *prefix, listing *l, md_error *err)
{
    char *token = md_malloc(S3_TOKEN_MAX);
    md_buf query, full;
    md_buf_init(&query, S3_TOKEN_MAX * 3 + 4 * STG_KEY_MAX + 256);
    md_buf_init(&full, 2 * STG_KEY_MAX + 2);
    int rc = 0;
    if (token == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory listing %s", s->base.url);
        goto done;
    }
    token[0] = '\0';
    md_buf_printf(&full, "%s%s", s->prefix, prefix);
    for (;;) {
        /* Parameters in byte order of their names: the canonical query is the URL's query. */
        md_buf_reset(&query);
        if (token[0] != '\0') {
            md_buf_puts(&query, "continuation-token=");
            stg_sigv4_uri_encode(&query, token, 0);
            md_buf_puts(&query, "&");
        }
        md_buf_printf(&query, "list-type=2&max-keys=%ld&prefix=", s->list_page);
        stg_sigv4_uri_encode(&query, full.data != NULL ? full.data : "", 0);
        if (query.err != 0) {
            rc = md_fail(err, MD_ELIMIT, "S3 listing query for %s is too long", s->base.url);
            goto done;
        }
        s3_call c;
        call_init(&c, "GET", NULL);
        c.query = query.data;
        rc = s3_call_run(s, &c, err);
        if (rc == 0 && c.status != 200)
            rc = s3_status_fail(s, &c, err);
        if (rc == 0)
            rc = parse_page(s, c.resp.data != NULL ? c.resp.data : "", c.resp.len, l, token, err);
        md_buf_free(&c.resp);
        if (rc != 0 || token[0] == '\0')
            break;
    }
    if (rc == 0 && l->count > 1) {
        qsort(l->items, l->count, sizeof *l->items, item_cmp);
        /* S3 never lists a key twice, but s3rver's pages overlap when '/' sorts differently in
         * its folders than in keys; a key once is what stg_list promises either way. */
        size_t kept = 1;
        for (size_t i = 1; i < l->count; i++) {
            if (strcmp(l->items[i].key, l->items[kept - 1].key) == 0)
                md_free(l->items[i].key);
            else
                l->items[kept++] = l->items[i];
        }
        l->count = kept;
    }
done:
    md_free(token);
    md_buf_free(&query);
    md_buf_free(&full);
    return rc;
}

static int s3_list(stg *base, const char *prefix, stg_list_fn fn, void *user, md_error *err)
{
    listing l = {0};
    int rc = list_all((s3_stg *)base, prefix, &l, err);
    for (size_t i = 0; rc == 0 && i < l.count; i++) {
        if (fn(user, l.items[i].key, l.items[i].size) != 0)
            break;
    }
    listing_free(&l);
    return rc;
}

static int s3_delete_prefix(stg *base, const char *prefix, md_error *err)
{
    s3_stg *s = (s3_stg *)base;
    size_t plen = strlen(prefix);
    /* Writers of this process under the prefix: their commit fails, as on the file backend. */
    pthread_mutex_lock(&s->lock);
    for (s3_writer *w = s->writers; w != NULL; w = w->next) {
        if (strncmp(w->key, prefix, plen) == 0)
            w->canceled = 1;
    }
    pthread_mutex_unlock(&s->lock);
    listing l = {0};
    int rc = list_all(s, prefix, &l, err);
    for (size_t i = 0; rc == 0 && i < l.count; i++)
        rc = s3_delete(base, l.items[i].key, err);
    listing_free(&l);
    return rc;
}

/* ---- Presigned URLs ---- */

/* A SigV4 query-string URL for GET of key, on the endpoint every other request goes to, signed
 * now. Pure computation: nothing is sent, any thread. */
static int s3_presign_get(stg *base, const char *key, int expires_s, char *out, size_t cap,
                          md_error *err)
{
    s3_stg *s = (s3_stg *)base;
    char q[STG_QUOTE_CAP];
    md_buf path;
    md_buf_init(&path, 4 * STG_KEY_MAX + 256);
    s3_call c = {.method = "GET", .key = key, .query = ""};
    md_buf url;
    md_buf_init(&url, 8 * STG_KEY_MAX + 1024);
    int rc = call_target(s, &c, &path, &url);
    md_buf_free(&url);
    if (rc != 0) {
        rc = md_fail(err, rc, "S3 URL for %s in %s is too long", stg_key_quote(key, q, sizeof q),
                     s->base.url);
        goto done;
    }
    char amz_date[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    stg_sigv4_creds creds = {.access_key = s->access_key,
                             .secret_key = s->secret_key,
                             .region = s->region,
                             .service = "s3"};
    stg_sigv4_presign_request p = {.method = "GET",
                                   .endpoint = s->endpoint,
                                   .host = s->host,
                                   .path = path.data,
                                   .session_token = s->token,
                                   .expires_s = expires_s};
    rc = stg_sigv4_presign(&p, &creds, amz_date, out, cap, err);
    if (rc != 0 && err != NULL)
        md_error_prefix(err, "presigning %s in %s: ", stg_key_quote(key, q, sizeof q), s->base.url);
done:
    md_buf_free(&path);
    return rc;
}

/* ---- Store ---- */

static void s3_destroy(stg *base)
{
    s3_stg *s = (s3_stg *)base;
    for (size_t i = 0; i < s->pool_count; i++)
        curl_easy_cleanup(s->pool[i]);
    pthread_mutex_destroy(&s->lock);
    md_free(s->endpoint);
    md_free(s->host);
    md_free(s->path_base);
    md_free(s->prefix);
    md_free(s->access_key);
    if (s->secret_key != NULL)
        memset(s->secret_key, 0, strlen(s->secret_key));
    md_free(s->secret_key);
    md_free(s->token);
    md_free(s->region);
    md_free(s->base.url);
    md_free(s);
}

static const stg_vtable s3_vtable = {
    .destroy = s3_destroy,
    .put = s3_put,
    .writer_open = s3_writer_open,
    .writer_write = s3_writer_write,
    .writer_commit = s3_writer_commit,
    .writer_abort = s3_writer_abort,
    .reader_open = s3_reader_open,
    .reader_read = s3_reader_read,
    .reader_close = s3_reader_close,
    .head = s3_head,
    .del = s3_delete,
    .delete_prefix = s3_delete_prefix,
    .sweep_partial = NULL,
    .presign_get = s3_presign_get,
    .list = s3_list,
};

static char *env_value(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? md_strdup(v) : NULL;
}

static char *str_printf(const char *fmt, const char *a, const char *b)
{
    size_t n = strlen(fmt) + strlen(a) + strlen(b) + 1;
    char *out = md_malloc(n);
    if (out != NULL)
        snprintf(out, n, fmt, a, b);
    return out;
}

int stg_s3_open(const char *bucket, const char *prefix, const char *url, stg **out, md_error *err)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return md_fail(err, MD_EIO, "cannot open storage %s: libcurl failed to initialise: %s", url,
                       curl_easy_strerror(curl_init_rc));
    s3_stg *s = md_calloc(1, sizeof *s);
    if (s == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory opening storage %s", url);
    s->base.vt = &s3_vtable;
    pthread_mutex_init(&s->lock, NULL);
    int rc = 0;
    s->base.url = md_strdup(url);
    s->access_key = env_value("AWS_ACCESS_KEY_ID");
    s->secret_key = env_value("AWS_SECRET_ACCESS_KEY");
    s->token = env_value("AWS_SESSION_TOKEN");
    s->region = env_value("AWS_REGION");
    if (s->region == NULL)
        s->region = md_strdup("us-east-1");
    s->prefix = prefix[0] != '\0' ? str_printf("%s%s/", prefix, "") : md_strdup("");
    if (s->base.url == NULL || s->region == NULL || s->prefix == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory opening storage %s", url);
        goto done;
    }
    if (s->access_key == NULL || s->secret_key == NULL) {
        rc = md_fail(err, MD_EINVAL,
                     "storage %s needs credentials: %s%s%s not set (the s3:// backend reads "
                     "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optionally AWS_SESSION_TOKEN, "
                     "AWS_REGION and MORPHD_S3_ENDPOINT)",
                     url, s->access_key == NULL ? "AWS_ACCESS_KEY_ID" : "",
                     s->access_key == NULL && s->secret_key == NULL ? " and " : "",
                     s->secret_key == NULL ? "AWS_SECRET_ACCESS_KEY" : "");
        goto done;
    }
    for (const char *p = s->region; *p != '\0'; p++) {
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-') ||
            p - s->region > 40) {
            rc = md_fail(err, MD_EINVAL,
                         "storage %s: AWS_REGION '%.60s' is not a region name like eu-west-1", url,
                         s->region);
            goto done;
        }
    }
    const char *page = getenv("MORPHD_S3_LIST_PAGE");
    s->list_page = page != NULL ? strtol(page, NULL, 10) : 1000;
    if (s->list_page < 1 || s->list_page > 1000)
        s->list_page = 1000;

    const char *ep = getenv("MORPHD_S3_ENDPOINT");
    if (ep != NULL && ep[0] != '\0') {
        size_t skip = strncmp(ep, "http://", 7) == 0 ? 7 : strncmp(ep, "https://", 8) == 0 ? 8 : 0;
        if (skip == 0) {
            rc = md_fail(err, MD_EINVAL,
                         "storage %s: MORPHD_S3_ENDPOINT '%.200s' must start with http:// or "
                         "https:// (like http://127.0.0.1:4568)",
                         url, ep);
            goto done;
        }
        s->endpoint = md_strdup(ep);
        if (s->endpoint == NULL) {
            rc = md_fail(err, MD_ENOMEM, "out of memory opening storage %s", url);
            goto done;
        }
        size_t n = strlen(s->endpoint);
        while (n > skip && s->endpoint[n - 1] == '/')
            s->endpoint[--n] = '\0';
        const char *host = s->endpoint + skip;
        if (host[0] == '\0' || strpbrk(host, "/?#@ ") != NULL) {
            rc = md_fail(err, MD_EINVAL,
                         "storage %s: MORPHD_S3_ENDPOINT '%.200s' must be scheme://host[:port] "
                         "with no path",
                         url, ep);
            goto done;
        }
        s->host = md_strdup(host);
        s->path_base = str_printf("/%s%s", bucket, "");
    } else if (strchr(bucket, '.') != NULL) {
        s->host = str_printf("s3.%s.amazonaws.com%s", s->region, "");
        s->endpoint = s->host != NULL ? str_printf("https://%s%s", s->host, "") : NULL;
        s->path_base = str_printf("/%s%s", bucket, "");
    } else {
        s->host = str_printf("%s.s3.%s.amazonaws.com", bucket, s->region);
        s->endpoint = s->host != NULL ? str_printf("https://%s%s", s->host, "") : NULL;
        s->path_base = md_strdup("");
    }
    if (s->host == NULL || s->endpoint == NULL || s->path_base == NULL)
        rc = md_fail(err, MD_ENOMEM, "out of memory opening storage %s", url);
done:
    if (rc != 0) {
        s3_destroy(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
