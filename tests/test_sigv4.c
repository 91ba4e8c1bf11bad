/*
 * test_sigv4.c — storage/sigv4.c against AWS's published Signature Version 4 examples: the
 * "get-vanilla" and "post-vanilla" cases of the SigV4 test suite (AKIDEXAMPLE, service
 * "service", 20150830T123600Z) and the S3 documentation's GET Object example with a Range header
 * (AKIAIOSFODNN7EXAMPLE, examplebucket, 20130524T000000Z), and the presigned-URL example of
 * "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)" in the S3 API
 * reference (GET test.txt, the same keys and time, X-Amz-Expires 86400). Expected values are the
 * published ones, copied, not computed here.
 */
#include "test_util.h"

#include "storage/sigv4.h"

#include <string.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void check_str(int line, const char *expected, const char *got)
{
    if (strcmp(expected, got) != 0) {
        fprintf(stderr, "line %d:\nexpected '%s'\n     got '%s'\n", line, expected, got);
        test_failures++;
    }
}

static void test_sha256(void)
{
    char hex[STG_SIGV4_HEX_LEN + 1];
    stg_sigv4_sha256_hex("", 0, hex);
    check_str(__LINE__, EMPTY_SHA256, hex);
}

static void test_uri_encode(void)
{
    md_buf b;
    md_buf_init(&b, 1024);
    CHECK_INT(0, stg_sigv4_uri_encode(&b, "a/b c~d=e+f", 1));
    check_str(__LINE__, "a/b%20c~d%3De%2Bf", b.data);
    md_buf_reset(&b);
    CHECK_INT(0, stg_sigv4_uri_encode(&b, "a/b", 0));
    check_str(__LINE__, "a%2Fb", b.data);
    md_buf_free(&b);
}

static const stg_sigv4_creds suite_creds = {.access_key = "AKIDEXAMPLE",
                                            .secret_key =
                                                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                            .region = "us-east-1",
                                            .service = "service"};

static void test_get_vanilla(void)
{
    stg_sigv4_header headers[] = {{"x-amz-date", "20150830T123600Z"},
                                  {"host", "example.amazonaws.com"}};
    stg_sigv4_request req = {.method = "GET",
                             .path = "/",
                             .query = "",
                             .headers = headers,
                             .header_count = 2,
                             .payload_hash = EMPTY_SHA256};
    md_buf creq;
    md_buf_init(&creq, 4096);
    char signed_headers[128];
    md_error err;
    CHECK_OK(stg_sigv4_canonical_request(&req, &creq, signed_headers, sizeof signed_headers, &err),
             &err);
    check_str(__LINE__,
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-"
              "date\n" EMPTY_SHA256,
              creq.data);
    md_buf_free(&creq);
    char auth[512];
    CHECK_OK(
        stg_sigv4_authorization(&req, &suite_creds, "20150830T123600Z", auth, sizeof auth, &err),
        &err);
    check_str(__LINE__,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
              auth);
}

static void test_post_vanilla(void)
{
    stg_sigv4_header headers[] = {{"host", "example.amazonaws.com"},
                                  {"x-amz-date", "20150830T123600Z"}};
    stg_sigv4_request req = {.method = "POST",
                             .path = "/",
                             .query = "",
                             .headers = headers,
                             .header_count = 2,
                             .payload_hash = EMPTY_SHA256};
    char auth[512];
    md_error err;
    CHECK_OK(
        stg_sigv4_authorization(&req, &suite_creds, "20150830T123600Z", auth, sizeof auth, &err),
        &err);
    check_str(__LINE__,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
              auth);
}

/* The S3 documentation's "GET Object" example: x-amz-content-sha256 signed, as s3.c always does. */
static void test_s3_get_object(void)
{
    stg_sigv4_header headers[] = {{"host", "examplebucket.s3.amazonaws.com"},
                                  {"range", "bytes=0-9"},
                                  {"x-amz-content-sha256", EMPTY_SHA256},
                                  {"x-amz-date", "20130524T000000Z"}};
    stg_sigv4_request req = {.method = "GET",
                             .path = "/test.txt",
                             .query = "",
                             .headers = headers,
                             .header_count = 4,
                             .payload_hash = EMPTY_SHA256};
    stg_sigv4_creds creds = {.access_key = "AKIAIOSFODNN7EXAMPLE",
                             .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                             .region = "us-east-1",
                             .service = "s3"};
    char auth[512];
    md_error err;
    CHECK_OK(stg_sigv4_authorization(&req, &creds, "20130524T000000Z", auth, sizeof auth, &err),
             &err);
    check_str(
        __LINE__,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        auth);
    /* Too small an output is an error, not a cut header. */
    CHECK_INT(MD_ELIMIT, stg_sigv4_authorization(&req, &creds, "20130524T000000Z", auth, 40, &err));
}

/* The S3 documentation's presigned URL: examplebucket, test.txt, valid 86400 s from
 * 20130524T000000Z; signature aeeed9bb... as published. */
static void test_s3_presign(void)
{
    stg_sigv4_creds creds = {.access_key = "AKIAIOSFODNN7EXAMPLE",
                             .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                             .region = "us-east-1",
                             .service = "s3"};
    stg_sigv4_presign_request p = {.method = "GET",
                                   .endpoint = "https://examplebucket.s3.amazonaws.com",
                                   .host = "examplebucket.s3.amazonaws.com",
                                   .path = "/test.txt",
                                   .session_token = NULL,
                                   .expires_s = 86400};
    char url[1024];
    md_error err;
    CHECK_OK(stg_sigv4_presign(&p, &creds, "20130524T000000Z", url, sizeof url, &err), &err);
    check_str(__LINE__,
              "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
              "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
              "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
              "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
              url);

    /* A session token is signed in the query, between X-Amz-Expires and X-Amz-SignedHeaders
     * (byte order), encoded; the signature then differs from the published one. */
    p.session_token = "tok/en+=";
    CHECK_OK(stg_sigv4_presign(&p, &creds, "20130524T000000Z", url, sizeof url, &err), &err);
    const char *tok = strstr(url, "&X-Amz-Expires=86400&X-Amz-Security-Token=tok%2Fen%2B%3D"
                                  "&X-Amz-SignedHeaders=host&X-Amz-Signature=");
    CHECK(tok != NULL);
    CHECK(strstr(url, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") == NULL);
    p.session_token = NULL;

    /* Expiry bounds (S3: 1 s to 7 days) and a short buffer are errors, not cut URLs. */
    p.expires_s = 0;
    CHECK_INT(MD_EINVAL, stg_sigv4_presign(&p, &creds, "20130524T000000Z", url, sizeof url, &err));
    p.expires_s = STG_SIGV4_EXPIRES_MAX + 1;
    CHECK_INT(MD_EINVAL, stg_sigv4_presign(&p, &creds, "20130524T000000Z", url, sizeof url, &err));
    p.expires_s = STG_SIGV4_EXPIRES_MAX;
    CHECK_OK(stg_sigv4_presign(&p, &creds, "20130524T000000Z", url, sizeof url, &err), &err);
    CHECK(strstr(url, "&X-Amz-Expires=604800&") != NULL);
    CHECK_INT(MD_ELIMIT, stg_sigv4_presign(&p, &creds, "20130524T000000Z", url, 100, &err));
    CHECK_INT(0, url[0]);
    CHECK_INT(MD_EINVAL, stg_sigv4_presign(&p, &creds, "2013", url, sizeof url, &err));
}

int main(void)
{
    test_sha256();
    test_uri_encode();
    test_get_vanilla();
    test_post_vanilla();
    test_s3_get_object();
    test_s3_presign();
    return test_done();
}
