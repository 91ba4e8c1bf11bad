/*
 * keygen_main.c — `morphd keygen OWNER` and `morphd hash-key OWNER`: the two ways to a line of
 * the --api-keys file (docs/server.md, Authentication). keygen makes a new random key and
 * prints it with its line; hash-key reads an existing key on stdin (not argv, so it stays out
 * of `ps` and shell history) and prints its line, to convert a plaintext file. Main thread
 * only; the key material lives in stack buffers that are wiped before returning.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "server/srv.h"

static int owner_arg(const char *cmd, int argc, char **argv, const char **owner)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return 1;
    if (argc != 2) {
        fprintf(stderr, "morphd %s: want one OWNER (see morphd %s --help)\n", cmd, cmd);
        return -1;
    }
    if (!api_owner_valid(argv[1])) {
        fprintf(stderr, "morphd %s: owner '%s' is not 1..64 of [A-Za-z0-9._-]\n", cmd, argv[1]);
        return -1;
    }
    *owner = argv[1];
    return 0;
}

int srv_keygen_main(int argc, char **argv)
{
    const char *owner = NULL;
    int rc = owner_arg("keygen", argc, argv, &owner);
    if (rc > 0) {
        printf("Usage: morphd keygen OWNER\n"
               "\n"
               "Prints a new random API key for OWNER (32 bytes from getrandom, base64url,\n"
               "prefixed " API_KEY_PREFIX ") and the line to add to the file of\n"
               "`morphd api --api-keys FILE`, which holds only the key's SHA-256. Give the key\n"
               "to its owner; it is shown once and cannot be read back from the file.\n");
        return 0;
    }
    if (rc < 0)
        return 2;
    char key[API_KEY_TEXT_MAX], hex[API_KEY_DIGEST * 2 + 1];
    md_error err;
    md_error_clear(&err);
    if (api_key_new(key, &err) != 0) {
        fprintf(stderr, "morphd keygen: %s\n", err.msg);
        return 1;
    }
    api_key_hash_hex(key, strlen(key), hex);
    printf("key:  %s\n"
           "line: %s:sha256:%s\n",
           key, owner, hex);
    explicit_bzero(key, sizeof key);
    return 0;
}

int srv_hash_key_main(int argc, char **argv)
{
    const char *owner = NULL;
    int rc = owner_arg("hash-key", argc, argv, &owner);
    if (rc > 0) {
        printf("Usage: printf %%s KEY | morphd hash-key OWNER\n"
               "\n"
               "Reads one key on stdin (a trailing newline is ignored) and prints the line\n"
               "'OWNER:sha256:<hex>' for the file of `morphd api --api-keys FILE`: how a file of\n"
               "plaintext 'owner:key' lines is converted without changing the keys.\n");
        return 0;
    }
    if (rc < 0)
        return 2;
    char key[1024];
    size_t len = fread(key, 1, sizeof key, stdin);
    int status = 0;
    if (len == sizeof key) {
        fprintf(stderr, "morphd hash-key: the key on stdin is over %zu bytes\n", sizeof key - 1);
        status = 2;
        goto done;
    }
    while (len > 0 && (key[len - 1] == '\n' || key[len - 1] == '\r'))
        len--;
    if (len == 0 || memchr(key, ' ', len) != NULL || memchr(key, '\n', len) != NULL) {
        fprintf(stderr, "morphd hash-key: want one key without spaces on stdin\n");
        status = 2;
        goto done;
    }
    char hex[API_KEY_DIGEST * 2 + 1];
    api_key_hash_hex(key, len, hex);
    printf("%s:sha256:%s\n", owner, hex);
done:
    explicit_bzero(key, sizeof key);
    return status;
}
