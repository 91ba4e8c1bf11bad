/*
 * test_batch_pairs.c — the PAIRS.csv reader of `morph batch` (cli/batch_pairs.c), fed bytes:
 * a header, comments, blank lines, CRLF and blanks around names are accepted; an unknown name,
 * the same mesh twice, a pair listed twice (either way round), a line without two fields and a
 * file with no pairs are refused with the line; max_batch_pairs is enforced; all pairs of n
 * meshes are n(n-1)/2 in order. Needs no shared data.
 */
#include "test_util.h"

#include <string.h>

#include "cli/batch.h"

/* A set of n meshes named m0.obj, m1.obj, ... as batch_set_scan would give. */
static void make_set(batch_set *set, uint32_t n)
{
    memset(set, 0, sizeof *set);
    set->meshes = md_calloc(n, sizeof *set->meshes);
    for (uint32_t i = 0; i < n; i++) {
        char name[32], stem[32];
        snprintf(name, sizeof name, "m%u.obj", i);
        snprintf(stem, sizeof stem, "m%u", i);
        set->meshes[i].name = md_strdup(name);
        set->meshes[i].path = md_strdup(name);
        set->meshes[i].stem = md_strdup(stem);
    }
    set->mesh_count = n;
}

/* Parses text over 3 meshes; returns rc, err filled. */
static int parse(const char *text, batch_set *set, const md_limits *lim, md_error *err)
{
    make_set(set, 3);
    md_error_clear(err);
    return batch_set_parse_pairs(set, text, strlen(text), "pairs.csv", lim, err);
}

static void check_refused(const char *text, int code, const char *needle)
{
    md_limits lim;
    md_limits_default(&lim);
    batch_set set;
    md_error err;
    CHECK_INT(code, parse(text, &set, &lim, &err));
    CHECK_MSG(&err, needle);
    batch_set_free(&set);
}

int main(void)
{
    md_limits lim;
    md_limits_default(&lim);
    batch_set set;
    md_error err;

    /* Accepted: header, comment, blank line, CRLF, blanks around the names. */
    CHECK_OK(parse("source,target\r\n# two pairs\n\n m2.obj , m0.obj\r\nm0.obj,m1.obj", &set, &lim,
                   &err),
             &err);
    CHECK_INT(2, set.pair_count);
    if (set.pair_count == 2) {
        CHECK_INT(2, set.pairs[0].source);
        CHECK_INT(0, set.pairs[0].target);
        CHECK_INT(0, set.pairs[1].source);
        CHECK_INT(1, set.pairs[1].target);
        char name[64];
        batch_pair_name(&set, &set.pairs[0], name, sizeof name);
        CHECK(strcmp(name, "m2__m0") == 0);
    }
    batch_set_free(&set);

    check_refused("m0.obj,m1.obj\n\nm0.obj,x.obj\n", MD_EINVAL, "pairs.csv line 3: 'x.obj'");
    check_refused("m0.obj,m0.obj\n", MD_EINVAL, "line 1: a pair needs two different meshes");
    check_refused("m0.obj,m1.obj\nm1.obj,m0.obj\n", MD_EINVAL, "line 2: the pair m1.obj,m0.obj");
    check_refused("m0.obj\n", MD_EINVAL, "line 1: expected two file names");
    check_refused("m0.obj,m1.obj,m2.obj\n", MD_EINVAL, "line 1: expected two file names");
    check_refused("# nothing\n\n", MD_EINVAL, "pairs.csv lists no pairs");
    check_refused("source,target\n", MD_EINVAL, "lists no pairs");
    /* The header is only the first line's. */
    check_refused("m0.obj,m1.obj\nsource,target\n", MD_EINVAL, "line 2: 'source'");

    /* max_batch_pairs. */
    lim.max_batch_pairs = 1;
    CHECK_INT(MD_ELIMIT, parse("m0.obj,m1.obj\nm0.obj,m2.obj\n", &set, &lim, &err));
    CHECK_MSG(&err, "line 2: more than max_batch_pairs (1)");
    batch_set_free(&set);
    make_set(&set, 3);
    CHECK_INT(MD_ELIMIT, batch_set_all_pairs(&set, &lim, &err));
    CHECK_MSG(&err, "3 pairs is more than max_batch_pairs (1)");
    batch_set_free(&set);

    /* All pairs: n(n-1)/2, (0,1), (0,2), ..., (n-2,n-1). */
    md_limits_default(&lim);
    make_set(&set, 5);
    CHECK_OK(batch_set_all_pairs(&set, &lim, &err), &err);
    CHECK_INT(10, set.pair_count);
    if (set.pair_count == 10) {
        CHECK_INT(0, set.pairs[0].source);
        CHECK_INT(1, set.pairs[0].target);
        CHECK_INT(3, set.pairs[9].source);
        CHECK_INT(4, set.pairs[9].target);
    }
    batch_set_free(&set);
    return test_done();
}
