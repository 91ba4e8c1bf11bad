/*
 * keys.c — API keys: the --api-keys file (lines "owner:sha256:<64 hex>"), making new keys
 * (`morphd keygen`), hashing a key (`morphd hash-key`) and finding the owner of a presented
 * bearer key.
 *
 * The file holds SHA-256 digests, never keys: whoever reads the file (a backup, a config
 * repository, a shell over someone's shoulder) cannot call the api with what they read. A key
 * is 32 random bytes from getrandom, so one unsalted SHA-256 is enough (nothing to brute-force
 * the way a password can be). A presented key is hashed and compared with every digest in
 * constant time, so neither the time nor the order of the table says anything about a key.
 *
 * Plaintext lines ("owner:key", the format before issue 16) are refused with a message saying
 * how to convert them: accepting them with a warning would leave the secrets on disk, which is
 * the very thing the hashed format is for, and a warning in a log is easily missed.
 *
 * load runs on the main thread before the loop starts; api_key_find on the loop thread; the
 * keygen helpers in `morphd keygen`/`hash-key` only.
 */
#define _GNU_SOURCE
#include "api/api_int.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define SHA256_TAG "sha256:"

static int owner_valid(const char *s, size_t n)
{
    if (n == 0 || n >= API_OWNER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int api_owner_valid(const char *owner)
{
    return owner != NULL && owner_valid(owner, strlen(owner));
}

static void key_digest(const char *key, size_t len, uint8_t out[API_KEY_DIGEST])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, (const uint8_t *)key);
    sha256_digest(&ctx, API_KEY_DIGEST, out);
}

void api_key_hash_hex(const char *key, size_t len, char out[API_KEY_DIGEST * 2 + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t d[API_KEY_DIGEST];
    key_digest(key, len, d);
    for (size_t i = 0; i < API_KEY_DIGEST; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[API_KEY_DIGEST * 2] = '\0';
}

int api_key_new(char out[API_KEY_TEXT_MAX], md_error *err)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[API_KEY_RANDOM_BYTES];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return md_fail(err, MD_EIO, "getrandom failed: %s", strerror(errno));
        got += (size_t)n;
    }
    /* base64url without padding: 32 bytes -> 43 characters. */
    size_t o = 0;
    memcpy(out, API_KEY_PREFIX, sizeof API_KEY_PREFIX - 1);
    o = sizeof API_KEY_PREFIX - 1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = b64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    explicit_bzero(raw, sizeof raw);
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 0 when s is exactly 64 hex digits, filled into out. */
static int parse_digest(const char *s, uint8_t out[API_KEY_DIGEST])
{
    if (strlen(s) != API_KEY_DIGEST * 2)
        return -1;
    for (size_t i = 0; i < API_KEY_DIGEST; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int api_keys_load(api_server *s, const char *path, md_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = md_read_file(path, 1 << 20, &text, &len, err);
    if (rc != 0)
        return md_error_prefix(err, "--api-keys: ");
    size_t cap = 0, line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *colon = strchr(line, ':');
        if (colon == NULL || !owner_valid(line, (size_t)(colon - line))) {
            rc = md_fail(err, MD_EINVAL,
                         "--api-keys %s: line %zu is not 'owner:sha256:<64 hex digits>' (owner: "
                         "1..64 of [A-Za-z0-9._-]); `morphd keygen OWNER` prints a new key and "
                         "its line",
                         path, line_no);
            goto done;
        }
        api_key k;
        memset(&k, 0, sizeof k);
        memcpy(k.owner, line, (size_t)(colon - line));
        const char *rest = colon + 1;
        if (strncmp(rest, SHA256_TAG, sizeof SHA256_TAG - 1) != 0 ||
            parse_digest(rest + sizeof SHA256_TAG - 1, k.digest) != 0) {
            /* Never echo the rest of the line: it may be a key. */
            rc = md_fail(err, MD_EINVAL,
                         "--api-keys %s: line %zu (owner '%s') holds no 'sha256:<64 hex digits>'; "
                         "the file holds hashes of keys, not keys: replace a plaintext key with "
                         "the line `printf %%s KEY | morphd hash-key %s` prints, or make a new "
                         "key with `morphd keygen %s`",
                         path, line_no, k.owner, k.owner, k.owner);
            goto done;
        }
        if (s->key_count == cap) {
            cap = cap ? cap * 2 : 8;
            api_key *grown = md_realloc_array(s->keys, cap, sizeof *grown);
            if (grown == NULL) {
                rc = md_fail(err, MD_ENOMEM, "out of memory");
                goto done;
            }
            s->keys = grown;
        }
        s->keys[s->key_count++] = k;
    }
    if (s->key_count == 0)
        rc = md_fail(err, MD_EINVAL,
                     "--api-keys %s: no 'owner:sha256:<hex>' line (`morphd keygen OWNER` makes "
                     "one)",
                     path);
done:
    if (text != NULL)
        explicit_bzero(text, len);
    md_free(text);
    return rc;
}

void api_keys_free(api_server *s)
{
    md_free(s->keys);
    s->keys = NULL;
    s->key_count = 0;
}

int api_key_find(const api_server *s, const char *key, size_t len)
{
    uint8_t d[API_KEY_DIGEST];
    key_digest(key, len, d);
    int found = -1;
    /* Every digest is compared in full, whatever matched before. */
    for (size_t i = 0; i < s->key_count; i++) {
        unsigned char diff = 0;
        for (size_t j = 0; j < API_KEY_DIGEST; j++)
            diff |= (unsigned char)(d[j] ^ s->keys[i].digest[j]);
        int hit = diff == 0;
        found = (hit && found < 0) ? (int)i : found;
    }
    return found;
}
