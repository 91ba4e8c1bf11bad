/*
 * test_live.c — the live lane's wire (jobs/live.h): a request survives encode and decode, a bad
 * one is refused with the field it got wrong, a reply's head parses and a malformed one is
 * refused, and the keys are spelled as docs/server.md says.
 */
#include <stdio.h>
#include <string.h>

#include "jobs/live.h"
#include "test_util.h"

#define ID "0123456789abcdef0123456789abcdef"
#define FACE_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FACE_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_keys(void)
{
    char k[JQ_KEY_MAX];
    CHECK_INT(0, jl_queue_key(k, sizeof k, "morphd:"));
    CHECK_STR("morphd:live", k);
    CHECK_INT(0, jl_channel(k, sizeof k, "morphd:", "0011223344556677"));
    CHECK_STR("morphd:live:reply:0011223344556677", k);
    char small[8];
    CHECK(jl_channel(small, sizeof small, "morphd:", "0011223344556677") != 0);
}

static void test_request_round_trip(void)
{
    jl_request r = {.id = ID,
                    .channel = "morphd:live:reply:x",
                    .owner = "lab-a",
                    .face = {FACE_A, FACE_B},
                    .deadline_ms = 1796400000123LL};
    r.spec = json_pack("{s:[f],s:i}", "weights", 0.37, "width", 128);
    char *text = NULL;
    size_t len = 0;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(jl_request_encode(&r, &text, &len, &err), &err);
    CHECK_INT(strlen(text), len);
    jl_request back;
    CHECK_OK(jl_request_decode(text, len, &back, &err), &err);
    CHECK_STR(ID, back.id);
    CHECK_STR("morphd:live:reply:x", back.channel);
    CHECK_STR("lab-a", back.owner);
    CHECK_STR(FACE_A, back.face[0]);
    CHECK_STR(FACE_B, back.face[1]);
    CHECK_INT(1796400000123LL, back.deadline_ms);
    CHECK(json_equal(r.spec, back.spec));
    jl_request_clear(&back);
    jl_request_clear(&back); /* twice is fine */
    jl_request_clear(NULL);
    md_free(text);
    json_decref(r.spec);
}

static void refused(const char *text, const char *needle)
{
    jl_request r;
    md_error err;
    md_error_clear(&err);
    int rc = jl_request_decode(text, strlen(text), &r, &err);
    CHECK(rc != 0);
    CHECK_MSG(&err, needle);
    CHECK(r.spec == NULL);
    jl_request_clear(&r);
}

static void test_request_refusals(void)
{
    const char *ok_tail = ",\"channel\":\"c\",\"owner\":\"o\",\"source_face\":\"" FACE_A
                          "\",\"target_face\":\"" FACE_B "\",\"deadline_ms\":1,\"spec\":{}}";
    char text[512];
    refused("[]", "not a JSON object");
    refused("{", "not a JSON object");
    snprintf(text, sizeof text, "{\"id\":\"xyz\"%s", ok_tail);
    refused(text, "bad id");
    snprintf(text, sizeof text, "{\"id\":7%s", ok_tail);
    refused(text, "'id' must be a string");
    refused("{\"id\":\"" ID "\",\"channel\":\"c\",\"owner\":\"o\",\"source_face\":\"zz\","
            "\"target_face\":\"" FACE_B "\",\"deadline_ms\":1,\"spec\":{}}",
            "is not a face id");
    refused("{\"id\":\"" ID "\",\"channel\":\"c\",\"owner\":\"o\",\"source_face\":\"" FACE_A
            "\",\"target_face\":\"" FACE_B "\",\"deadline_ms\":\"soon\",\"spec\":{}}",
            "'deadline_ms' must be an integer");
    refused("{\"id\":\"" ID "\",\"channel\":\"c\",\"owner\":\"o\",\"source_face\":\"" FACE_A
            "\",\"target_face\":\"" FACE_B "\",\"deadline_ms\":1,\"spec\":[]}",
            "'spec' must be an object");
    refused("{\"id\":\"" ID "\",\"channel\":\"\",\"owner\":\"o\",\"source_face\":\"" FACE_A
            "\",\"target_face\":\"" FACE_B "\",\"deadline_ms\":1,\"spec\":{}}",
            "'channel' must be 1..");
    /* Over the cap: refused before parsing. */
    static char big[JL_REQUEST_MAX + 2];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    refused(big, "over");
}

static void test_reply(void)
{
    char head[64];
    CHECK_INT(0, jl_reply_head(head, sizeof head, ID, 0));
    CHECK_STR(ID " 0\n", head);
    char msg[128];
    snprintf(msg, sizeof msg, "%s\x89PNG", head);
    jl_reply r;
    md_error err;
    md_error_clear(&err);
    CHECK_OK(jl_reply_parse(msg, strlen(msg), &r, &err), &err);
    CHECK_STR(ID, r.id);
    CHECK_INT(0, r.code);
    CHECK_INT(4, r.body_len);
    CHECK(memcmp(r.body, "\x89PNG", 4) == 0);

    CHECK_INT(0, jl_reply_head(head, sizeof head, ID, MD_ETOPOLOGY));
    snprintf(msg, sizeof msg, "%sdifferent topology", head);
    CHECK_OK(jl_reply_parse(msg, strlen(msg), &r, &err), &err);
    CHECK_INT(MD_ETOPOLOGY, r.code);
    CHECK_INT(strlen("different topology"), r.body_len);

    /* An empty body is a reply too (the api answers what the code says). */
    CHECK_OK(jl_reply_parse(head, strlen(head), &r, &err), &err);
    CHECK_INT(0, r.body_len);

    const char *bad[] = {"",
                         "short",
                         ID "x0\n",
                         ID " 5\n",
                         ID " abc\n",
                         ID " 0",
                         "0123456789abcdef0123456789abcdeZ 0\n",
                         ID " -99999999999\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        md_error_clear(&err);
        int rc = jl_reply_parse(bad[i], strlen(bad[i]), &r, &err);
        if (rc == 0)
            fprintf(stderr, "reply %zu ('%s') was accepted\n", i, bad[i]);
        CHECK(rc != 0);
    }
}

int main(void)
{
    test_keys();
    test_request_round_trip();
    test_request_refusals();
    test_reply();
    return test_done();
}
