/*
 * objtext.h — the line reader and number scanner shared by the OBJ and MTL parsers (obj.c,
 * mtl.c). Internal to the mesh module: nothing outside mesh/ includes it.
 *
 * Both formats are line-based text with the same lexical rules: statements end at LF, CRLF or
 * CR; a trailing backslash continues a statement on the next line; '#' starts a comment line;
 * tokens are separated by spaces and tabs; a UTF-8 byte-order mark may open the file. The reader
 * hands out one logical line at a time, trimmed, with comments and blank lines skipped, as a
 * [begin, end) range that points into the input (or, for continued lines only, into a scratch
 * buffer the reader owns). Ranges are never NUL-terminated: every scanner takes an end pointer.
 */
#ifndef MESH_OBJTEXT_H
#define MESH_OBJTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/md.h"

typedef struct mesh_text {
    const char *next;   /* first unread byte (borrowed input) */
    const char *end;    /* one past the last input byte */
    const char *format; /* "OBJ" or "MTL", for messages */
    size_t line;        /* 1-based physical line the current statement starts on */
    size_t next_line;   /* physical line number of the byte at next */
    md_buf joined;      /* owned scratch for statements continued with a backslash */
} mesh_text;

/* Starts reading bytes (borrowed; need not be NUL-terminated). Skips a UTF-8 byte-order mark and
 * refuses UTF-16 text with MD_EFORMAT. format ("OBJ", "MTL") is a static string. */
int mesh_text_begin(mesh_text *t, const char *bytes, size_t len, const char *format, md_error *err);
/* The next statement: returns 1 and sets [*line, *line_end) (non-empty, trimmed, not a comment),
 * 0 at the end of the input, or a negative error code (a NUL byte, out of memory). The range
 * stays valid until the next call. t->line is its line number. */
int mesh_text_next(mesh_text *t, const char **line, const char **line_end, md_error *err);
/* Frees the scratch buffer; the reader may not be used afterwards. Safe to call twice. */
void mesh_text_end(mesh_text *t);

static inline bool mesh_text_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static inline const char *mesh_text_skip_space(const char *p, const char *end)
{
    while (p < end && mesh_text_is_space(*p))
        p++;
    return p;
}

/* One past the last byte of the token starting at p. */
static inline const char *mesh_text_token_end(const char *p, const char *end)
{
    while (p < end && !mesh_text_is_space(*p))
        p++;
    return p;
}

/* Scans a decimal number at *p (sign, digits, '.', exponent; also nan, inf, infinity and MSVC's
 * 1.#INF / 1.#QNAN spellings, which give non-finite values for the caller to reject). On success
 * returns 0, stores the value and advances *p; returns -1 when no number starts at *p. The
 * caller checks that the token ends where the number does. Locale-independent. */
int mesh_text_number(const char **p, const char *end, double *out);
/* Scans an optionally signed decimal integer at *p; magnitudes saturate at 10^15. Returns 0 and
 * advances *p, or -1 when no digits start there. */
int mesh_text_int(const char **p, const char *end, long long *out);

/* Whether [tok, tok_end) is exactly the keyword kw; the _ci variant ignores ASCII case. */
bool mesh_text_keyword(const char *tok, const char *tok_end, const char *kw);
bool mesh_text_keyword_ci(const char *tok, const char *tok_end, const char *kw);
/* Whether [p, end) ends with suffix, ignoring ASCII case. */
bool mesh_text_ends_with_ci(const char *p, const char *end, const char *suffix);

/* Writes [p, end) into out (cap bytes) for an error message: at most 32 characters, non-printable
 * bytes as '?', "..." when cut. Returns out. */
const char *mesh_text_quote(const char *p, const char *end, char *out, size_t cap);

#endif
