/*
 * md_limits.c — the table of client-controlled size limits (MD_LIMITS_MAP): defaults,
 * "name=value" parsing for --limit and the help listing. Not thread-safe to mutate; callers set
 * limits once at start-up and then share them read-only.
 */
#include "base/md.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void md_limits_default(md_limits *lim)
{
#define MD_LIMIT_DEFAULT(name, type, def, help) lim->name = (type)(def);
    MD_LIMITS_MAP(MD_LIMIT_DEFAULT)
#undef MD_LIMIT_DEFAULT
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1ull << 10;
    else if (*end == 'm' || *end == 'M')
        mul = 1ull << 20;
    else if (*end == 'g' || *end == 'G')
        mul = 1ull << 30;
    if (mul != 1)
        end++;
    if (*end != '\0')
        return -1;
    if (__builtin_mul_overflow((uint64_t)v, mul, out))
        return -1;
    return 0;
}

int md_limits_set(md_limits *lim, const char *assignment, md_error *err)
{
    const char *eq = strchr(assignment, '=');
    if (eq == NULL)
        return md_fail(err, MD_EINVAL, "limit '%s' is not of the form name=value", assignment);
    size_t name_len = (size_t)(eq - assignment);
    uint64_t value;
    if (parse_u64(eq + 1, &value) != 0)
        return md_fail(err, MD_EINVAL, "limit '%s': '%s' is not a whole number (k/M/G allowed)",
                       assignment, eq + 1);
#define MD_LIMIT_SET(name, type, def, help)                                                        \
    if (name_len == strlen(#name) && strncmp(assignment, #name, name_len) == 0) {                  \
        lim->name = (type)value;                                                                   \
        return 0;                                                                                  \
    }
    MD_LIMITS_MAP(MD_LIMIT_SET)
#undef MD_LIMIT_SET
    return md_fail(err, MD_EINVAL, "unknown limit '%.*s' (see --help for the list)", (int)name_len,
                   assignment);
}

void md_limits_print_help(FILE *f)
{
#define MD_LIMIT_HELP(name, type, def, help)                                                       \
    fprintf(f, "  %-20s %12llu  %s\n", #name, (unsigned long long)(def), help);
    MD_LIMITS_MAP(MD_LIMIT_HELP)
#undef MD_LIMIT_HELP
}
