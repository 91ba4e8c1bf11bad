/*
 * sigv4.c — AWS Signature Version 4 (sigv4.h): canonical request, string to sign, signing key
 * and Authorization header, in the order AWS's documentation describes them; and presigned URLs
 * (the same signature over a query that carries the credential, with UNSIGNED-PAYLOAD).
 *
 * Pure and reentrant: called by s3.c from whichever thread makes a request, with everything on
 * the stack or in the caller's md_buf. The canonical request is the only thing that grows, and
 * its md_buf has a maximum (paths and queries are bounded by the key length).
 */
#include "storage/sigv4.h"

#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <string.h>

#define SIGV4_HEADERS_MAX 16
#define SIGV4_CREQ_MAX (64u << 10)

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void stg_sigv4_sha256_hex(const void *data, size_t len, char out[STG_SIGV4_HEX_LEN + 1])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, len, data);
    sha256_digest(&ctx, sizeof digest, digest);
    hex_encode(digest, sizeof digest, out);
}

static void hmac(const uint8_t *key, size_t key_len, const char *msg, size_t msg_len,
                 uint8_t out[SHA256_DIGEST_SIZE])
{
    struct hmac_sha256_ctx ctx;
    hmac_sha256_set_key(&ctx, key_len, key);
    hmac_sha256_update(&ctx, msg_len, (const uint8_t *)msg);
    hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

int stg_sigv4_uri_encode(md_buf *b, const char *s, int keep_slash)
{
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
        if (plain)
            md_buf_append(b, p, 1);
        else
            md_buf_printf(b, "%%%02X", c);
    }
    return b->err;
}

/* Header value as signed: leading and trailing spaces dropped, inner runs of spaces made one. */
static void append_trimmed(md_buf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    int space = 0;
    for (; *v != '\0'; v++) {
        if (*v == ' ' || *v == '\t') {
            space = 1;
            continue;
        }
        if (space)
            md_buf_append(b, " ", 1);
        space = 0;
        md_buf_append(b, v, 1);
    }
}

int stg_sigv4_canonical_request(const stg_sigv4_request *req, md_buf *b, char *signed_headers,
                                size_t signed_cap, md_error *err)
{
    if (req->header_count > SIGV4_HEADERS_MAX)
        return md_fail(err, MD_EINVAL, "sigv4: %zu headers to sign, at most %d", req->header_count,
                       SIGV4_HEADERS_MAX);
    /* Headers sorted by name: an insertion sort of pointers, as there are only a few. */
    const stg_sigv4_header *sorted[SIGV4_HEADERS_MAX];
    for (size_t i = 0; i < req->header_count; i++) {
        size_t j = i;
        while (j > 0 && strcmp(sorted[j - 1]->name, req->headers[i].name) > 0) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = &req->headers[i];
    }
    md_buf_printf(b, "%s\n%s\n%s\n", req->method, req->path, req->query);
    size_t used = 0;
    if (signed_cap > 0)
        signed_headers[0] = '\0';
    for (size_t i = 0; i < req->header_count; i++) {
        md_buf_printf(b, "%s:", sorted[i]->name);
        append_trimmed(b, sorted[i]->value);
        md_buf_append(b, "\n", 1);
        int n = snprintf(signed_headers + used, signed_cap - used, "%s%s", i > 0 ? ";" : "",
                         sorted[i]->name);
        if (n < 0 || (size_t)n >= signed_cap - used)
            return md_fail(err, MD_EINVAL, "sigv4: signed header names longer than %zu bytes",
                           signed_cap);
        used += (size_t)n;
    }
    md_buf_printf(b, "\n%s\n%s", signed_headers, req->payload_hash);
    if (b->err != 0)
        return md_fail(err, b->err, "sigv4: the canonical request is longer than %zu bytes",
                       b->max);
    return 0;
}

/* The signature of req at amz_date: sig_hex (65 bytes) gets it, scope (cap scope_cap) the
 * credential scope "20130524/us-east-1/s3/aws4_request" and signed_headers (cap signed_cap)
 * the semicolon list of signed header names. */
static int sign(const stg_sigv4_request *req, const stg_sigv4_creds *creds, const char *amz_date,
                char sig_hex[STG_SIGV4_HEX_LEN + 1], char *scope, size_t scope_cap,
                char *signed_headers, size_t signed_cap, md_error *err)
{
    md_buf creq;
    md_buf_init(&creq, SIGV4_CREQ_MAX);
    char first[256];
    int rc = stg_sigv4_canonical_request(req, &creq, signed_headers, signed_cap, err);
    if (rc != 0)
        goto done;
    if (strlen(amz_date) != 16) {
        rc = md_fail(err, MD_EINVAL, "sigv4: date '%.40s' is not like 20130524T000000Z", amz_date);
        goto done;
    }
    char date[9];
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    char creq_hash[STG_SIGV4_HEX_LEN + 1];
    stg_sigv4_sha256_hex(creq.data, creq.len, creq_hash);
    int scope_len =
        snprintf(scope, scope_cap, "%s/%s/%s/aws4_request", date, creds->region, creds->service);
    char sts[512];
    int sts_len =
        snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, creq_hash);
    if (scope_len < 0 || (size_t)scope_len >= scope_cap || sts_len < 0 ||
        (size_t)sts_len >= sizeof sts) {
        rc = md_fail(err, MD_EINVAL, "sigv4: region or service names too long");
        goto done;
    }
    /* The signing key: HMAC chain from "AWS4" + secret over date, region, service. */
    int flen = snprintf(first, sizeof first, "AWS4%s", creds->secret_key);
    if (flen < 0 || (size_t)flen >= sizeof first) {
        rc = md_fail(err, MD_EINVAL, "sigv4: the secret key is longer than %zu bytes",
                     sizeof first - 5);
        goto done;
    }
    uint8_t k_date[SHA256_DIGEST_SIZE], k_region[SHA256_DIGEST_SIZE], k_service[SHA256_DIGEST_SIZE],
        k_signing[SHA256_DIGEST_SIZE], sig[SHA256_DIGEST_SIZE];
    hmac((const uint8_t *)first, (size_t)flen, date, 8, k_date);
    hmac(k_date, sizeof k_date, creds->region, strlen(creds->region), k_region);
    hmac(k_region, sizeof k_region, creds->service, strlen(creds->service), k_service);
    hmac(k_service, sizeof k_service, "aws4_request", 12, k_signing);
    hmac(k_signing, sizeof k_signing, sts, (size_t)sts_len, sig);
    hex_encode(sig, sizeof sig, sig_hex);
done:
    memset(first, 0, sizeof first);
    md_buf_free(&creq);
    return rc;
}

int stg_sigv4_authorization(const stg_sigv4_request *req, const stg_sigv4_creds *creds,
                            const char *amz_date, char *out, size_t cap, md_error *err)
{
    char sig_hex[STG_SIGV4_HEX_LEN + 1], scope[256], signed_headers[512];
    int rc = sign(req, creds, amz_date, sig_hex, scope, sizeof scope, signed_headers,
                  sizeof signed_headers, err);
    if (rc != 0)
        return rc;
    int n = snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                     creds->access_key, scope, signed_headers, sig_hex);
    if (n < 0 || (size_t)n >= cap)
        return md_fail(err, MD_ELIMIT, "sigv4: the Authorization header is longer than %zu bytes",
                       cap);
    return 0;
}

/* ---- Presigned URLs ---- */

int stg_sigv4_presign(const stg_sigv4_presign_request *p, const stg_sigv4_creds *creds,
                      const char *amz_date, char *out, size_t cap, md_error *err)
{
    if (p->expires_s < 1 || p->expires_s > STG_SIGV4_EXPIRES_MAX)
        return md_fail(err, MD_EINVAL, "sigv4: a presigned URL lasts 1 to %d seconds, not %d",
                       STG_SIGV4_EXPIRES_MAX, p->expires_s);
    if (strlen(amz_date) != 16)
        return md_fail(err, MD_EINVAL, "sigv4: date '%.40s' is not like 20130524T000000Z",
                       amz_date);
    /* The query is built already sorted by parameter name, as the canonical query must be:
     * Algorithm < Credential < Date < Expires < Security-Token < SignedHeaders < Signature. */
    md_buf query;
    md_buf_init(&query, SIGV4_CREQ_MAX);
    char credential[512];
    int rc = 0;
    int n = snprintf(credential, sizeof credential, "%s/%.8s/%s/%s/aws4_request", creds->access_key,
                     amz_date, creds->region, creds->service);
    if (n < 0 || (size_t)n >= sizeof credential) {
        rc = md_fail(err, MD_EINVAL, "sigv4: access key, region or service names too long");
        goto done;
    }
    md_buf_puts(&query, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
    stg_sigv4_uri_encode(&query, credential, 0);
    md_buf_puts(&query, "&X-Amz-Date=");
    stg_sigv4_uri_encode(&query, amz_date, 0);
    md_buf_printf(&query, "&X-Amz-Expires=%d", p->expires_s);
    if (p->session_token != NULL) {
        md_buf_puts(&query, "&X-Amz-Security-Token=");
        stg_sigv4_uri_encode(&query, p->session_token, 0);
    }
    md_buf_puts(&query, "&X-Amz-SignedHeaders=host");
    if (query.err != 0) {
        rc = md_fail(err, query.err, "sigv4: the presigned query is longer than %zu bytes",
                     query.max);
        goto done;
    }
    stg_sigv4_header host = {"host", p->host};
    stg_sigv4_request req = {.method = p->method,
                             .path = p->path,
                             .query = query.data,
                             .headers = &host,
                             .header_count = 1,
                             .payload_hash = "UNSIGNED-PAYLOAD"};
    char sig_hex[STG_SIGV4_HEX_LEN + 1], scope[256], signed_headers[16];
    rc = sign(&req, creds, amz_date, sig_hex, scope, sizeof scope, signed_headers,
              sizeof signed_headers, err);
    if (rc != 0)
        goto done;
    n = snprintf(out, cap, "%s%s?%s&X-Amz-Signature=%s", p->endpoint, p->path, query.data, sig_hex);
    if (n < 0 || (size_t)n >= cap)
        rc = md_fail(err, MD_ELIMIT, "sigv4: the presigned URL is longer than %zu bytes", cap);
done:
    if (rc != 0 && cap > 0)
        out[0] = '\0'; /* never a cut URL */
    md_buf_free(&query);
    return rc;
}
