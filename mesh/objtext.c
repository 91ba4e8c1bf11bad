/*
 * objtext.c — the lexical layer under the OBJ and MTL parsers (see objtext.h): a line reader
 * that copes with every line ending, continuations, byte-order marks and binary junk, and a
 * locale-independent number scanner.
 *
 * Callers: obj.c and mtl.c, on whatever thread parses the file. No global state; a mesh_text
 * owns only its continuation scratch buffer, which grows geometrically and is bounded by the
 * input size (the input itself is bounded by max_file_bytes before it gets here).
 *
 * Why not strtod: it depends on the locale (a German LC_NUMERIC reads "1.5" as 1) and is
 * several times slower than this scanner, which only needs what OBJ files contain. The value is
 * computed from up to 19 significant digits and an exact power of ten where one exists
 * (|exponent| <= 22), so every float an exporter printed comes back bit-exact in practice.
 */
#include "mesh/objtext.h"

#include <math.h>
#include <string.h>

/* ---- Line reader ---- */

int mesh_text_begin(mesh_text *t, const char *bytes, size_t len, const char *format, md_error *err)
{
    const unsigned char *u = (const unsigned char *)bytes;
    memset(t, 0, sizeof *t);
    /* A joined statement drops each backslash and adds one space per piece, so it is never
     * longer than the input plus the space after its last piece. */
    md_buf_init(&t->joined, len < SIZE_MAX ? len + 1 : len);
    t->format = format;
    t->line = 1;
    t->next_line = 1;
    t->next = bytes;
    t->end = bytes + len;
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
        return md_fail(err, MD_EFORMAT, "the file is UTF-16; save it as UTF-8/ASCII");
    /* UTF-16 without a byte-order mark: ASCII text with every other byte zero. */
    if (len >= 4 && ((u[0] != 0 && u[1] == 0 && u[2] != 0 && u[3] == 0) ||
                     (u[0] == 0 && u[1] != 0 && u[2] == 0 && u[3] != 0)))
        return md_fail(err, MD_EFORMAT,
                       "the file looks like UTF-16 (no byte-order mark); save it as UTF-8/ASCII");
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF)
        t->next += 3;
    return 0;
}

void mesh_text_end(mesh_text *t)
{
    md_buf_free(&t->joined);
}

/* Reads one physical line into [*begin, *stop), trimmed of spaces at both ends, and moves past
 * its terminator (LF, CRLF or CR). A NUL byte is an error: text files have none, so the input
 * is binary (a mesh in another format saved as .obj, or UTF-16 without a mark). */
static int read_physical(mesh_text *t, const char **begin, const char **stop, md_error *err)
{
    const char *p = t->next;
    const char *end = t->end;
    const char *start = p;
    while (p < end && *p != '\n' && *p != '\r' && *p != '\0')
        p++;
    if (p < end && *p == '\0')
        return md_fail(err, MD_EPARSE,
                       "line %zu: NUL byte; this is a binary file, not %s text (a mesh in "
                       "another format, or UTF-16?)",
                       t->next_line, t->format);
    const char *line_stop = p;
    if (p < end) {
        if (*p == '\r' && p + 1 < end && p[1] == '\n')
            p++;
        p++;
    }
    t->next = p;
    t->next_line++;
    start = mesh_text_skip_space(start, line_stop);
    while (line_stop > start && mesh_text_is_space(line_stop[-1]))
        line_stop--;
    *begin = start;
    *stop = line_stop;
    return 0;
}

/* Appends [p, p + n) and a space to the joined statement. */
static int join_append(mesh_text *t, const char *p, size_t n, md_error *err)
{
    int rc = md_buf_append(&t->joined, p, n);
    if (rc == 0)
        rc = md_buf_append(&t->joined, " ", 1);
    if (rc == MD_ELIMIT)
        return md_fail(err, MD_ENOMEM, "line %zu: continued statement too long", t->line);
    if (rc != 0)
        return md_fail(err, MD_ENOMEM, "line %zu: out of memory joining continued lines", t->line);
    return 0;
}

int mesh_text_next(mesh_text *t, const char **line, const char **line_end, md_error *err)
{
    for (;;) {
        const char *begin;
        const char *stop;
        if (t->next >= t->end)
            return 0;
        t->line = t->next_line;
        int rc = read_physical(t, &begin, &stop, err);
        if (rc != 0)
            return rc;
        if (begin == stop || *begin == '#')
            continue;
        if (stop[-1] != '\\') {
            *line = begin;
            *line_end = stop;
            return 1;
        }
        /* A continued statement: join the pieces, each backslash becoming a space. Comment
         * lines never continue, so a Windows path at the end of a comment ("# C:\models\")
         * cannot swallow the vertex on the next line. */
        md_buf_reset(&t->joined);
        for (;;) {
            bool more = begin < stop && stop[-1] == '\\';
            rc = join_append(t, begin, (size_t)(stop - begin) - (more ? 1 : 0), err);
            if (rc != 0)
                return rc;
            if (!more || t->next >= t->end)
                break;
            rc = read_physical(t, &begin, &stop, err);
            if (rc != 0)
                return rc;
        }
        size_t used = t->joined.len;
        while (used > 0 && mesh_text_is_space(t->joined.data[used - 1]))
            used--;
        if (used > 0) {
            *line = t->joined.data;
            *line_end = t->joined.data + used;
            return 1;
        }
    }
}

/* ---- Numbers ---- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* Whether [p, end) starts with the lower-case word w, ignoring case. */
static bool starts_with_ci(const char *p, const char *end, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(end - p) < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != w[i])
            return false;
    return true;
}

/* nan, inf, infinity in any case. */
static int scan_special(const char **pp, const char *end, bool negative, double *out)
{
    const char *p = *pp;
    if (starts_with_ci(p, end, "nan")) {
        *out = NAN;
        *pp = p + 3;
        return 0;
    }
    if (starts_with_ci(p, end, "infinity")) {
        *out = negative ? -INFINITY : INFINITY;
        *pp = p + 8;
        return 0;
    }
    if (starts_with_ci(p, end, "inf")) {
        *out = negative ? -INFINITY : INFINITY;
        *pp = p + 3;
        return 0;
    }
    return -1;
}

int mesh_text_number(const char **pp, const char *end, double *out)
{
    const char *p = *pp;
    bool negative = false;
    if (p < end && (*p == '+' || *p == '-')) {
        negative = *p == '-';
        p++;
    }
    if (p < end && (lower(*p) == 'n' || lower(*p) == 'i')) {
        if (scan_special(&p, end, negative, out) != 0)
            return -1;
        *pp = p;
        return 0;
    }

    /* Up to 19 significant digits fit a uint64; later integer digits scale by ten, later
     * fraction digits cannot change a float and are dropped. */
    uint64_t mantissa = 0;
    int64_t exp10 = 0;
    bool digits = false;
    while (p < end && is_digit(*p)) {
        digits = true;
        if (mantissa < 1000000000000000000ull)
            mantissa = mantissa * 10 + (uint64_t)(*p - '0');
        else
            exp10++;
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && is_digit(*p)) {
            digits = true;
            if (mantissa < 1000000000000000000ull) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                exp10--;
            }
            p++;
        }
    }
    if (!digits)
        return -1;
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        bool exp_negative = false;
        if (q < end && (*q == '+' || *q == '-')) {
            exp_negative = *q == '-';
            q++;
        }
        if (q >= end || !is_digit(*q))
            return -1;
        int64_t e = 0;
        while (q < end && is_digit(*q)) {
            if (e < 100000)
                e = e * 10 + (*q - '0');
            q++;
        }
        exp10 += exp_negative ? -e : e;
        p = q;
    }
    /* MSVC's printf spells non-finite values 1.#INF, -1.#IND, 1.#QNAN, 1.#SNAN. */
    if (p < end && *p == '#' &&
        (starts_with_ci(p + 1, end, "inf") || starts_with_ci(p + 1, end, "ind") ||
         starts_with_ci(p + 1, end, "qnan") || starts_with_ci(p + 1, end, "snan"))) {
        bool inf = starts_with_ci(p + 1, end, "inf");
        p++;
        while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || is_digit(*p)))
            p++;
        *out = inf ? (negative ? -INFINITY : INFINITY) : NAN;
        *pp = p;
        return 0;
    }

    double value = (double)mantissa;
    if (mantissa != 0) {
        while (exp10 > 22 && isfinite(value)) {
            value *= 1e22;
            exp10 -= 22;
        }
        while (exp10 < -22 && value != 0) {
            value /= 1e22;
            exp10 += 22;
        }
        if (exp10 >= 0 && exp10 <= 22)
            value *= pow10_exact[exp10];
        else if (exp10 < 0 && exp10 >= -22)
            value /= pow10_exact[-exp10];
    }
    *out = negative ? -value : value;
    *pp = p;
    return 0;
}

int mesh_text_int(const char **pp, const char *end, long long *out)
{
    const char *p = *pp;
    bool negative = false;
    if (p < end && (*p == '+' || *p == '-')) {
        negative = *p == '-';
        p++;
    }
    if (p >= end || !is_digit(*p))
        return -1;
    long long value = 0;
    while (p < end && is_digit(*p)) {
        if (value < 1000000000000000LL)
            value = value * 10 + (*p - '0');
        p++;
    }
    *out = negative ? -value : value;
    *pp = p;
    return 0;
}

/* ---- Tokens ---- */

bool mesh_text_keyword(const char *tok, const char *tok_end, const char *kw)
{
    size_t n = strlen(kw);
    return (size_t)(tok_end - tok) == n && memcmp(tok, kw, n) == 0;
}

bool mesh_text_keyword_ci(const char *tok, const char *tok_end, const char *kw)
{
    size_t n = strlen(kw);
    if ((size_t)(tok_end - tok) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(tok[i]) != lower(kw[i]))
            return false;
    return true;
}

bool mesh_text_ends_with_ci(const char *p, const char *end, const char *suffix)
{
    size_t n = strlen(suffix);
    if ((size_t)(end - p) < n)
        return false;
    return mesh_text_keyword_ci(end - n, end, suffix);
}

const char *mesh_text_quote(const char *p, const char *end, char *out, size_t cap)
{
    if (cap < 8) {
        if (cap > 0)
            out[0] = '\0';
        return out;
    }
    size_t max = cap - 4 < 32 ? cap - 4 : 32;
    size_t n = 0;
    while (p < end && n < max) {
        unsigned char c = (unsigned char)*p++;
        out[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    if (p < end) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}
