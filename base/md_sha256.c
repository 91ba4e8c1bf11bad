/*
 * md_sha256.c — SHA-256 of a file, as lowercase hex (nettle's sha256, streamed in 64 KiB reads
 * so a large texture is never held whole). The manifest records it for every input, and
 * `morph run --replay` refuses inputs whose hash changed. md_sha256_hex does the same for bytes
 * in memory (a face's id is that of its canonical form, jobs/record.h).
 */
#include "base/md.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>

static void hex_of(struct sha256_ctx *ctx, char hex[65])
{
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(ctx, sizeof digest, digest);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

void md_sha256_hex(const void *bytes, size_t len, char hex[65])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, bytes);
    hex_of(&ctx, hex);
}

int md_sha256_file(const char *path, char hex[65], md_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return md_fail(err, errno == ENOENT ? MD_ENOENT : MD_EIO, "cannot open %s: %s", path,
                       strerror(errno));
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sha256_update(&ctx, n, chunk);
    int failed = ferror(f);
    fclose(f);
    if (failed)
        return md_fail(err, MD_EIO, "cannot read %s", path);
    hex_of(&ctx, hex);
    return 0;
}
