/*
 * ply.c — mesh_parse_ply(): ASCII and binary (little and big endian) PLY files read into the
 * model of mesh_int.h. Called by mesh_parse_assimp() for .ply; any thread; no I/O, no global
 * state. bytes are borrowed; *out receives a mesh the caller frees.
 *
 * Why not assimp. assimp 5.2's PLY reader is not safe on untrusted input: of 1,400 one-to-eight
 * byte mutations of a 447-byte binary cube, 162 crashed the process (SIGSEGV) — renaming one
 * vertex property was enough; mutations of ASCII cubes aborted it in an assertion, a header
 * without "end_header" made it loop forever, and valid binary files whose data starts with the
 * byte 0x0a were misread. PLY is small enough to read ourselves, strictly.
 *
 * What is read: the "vertex" element's x, y, z (any numeric type) and its UV pair if any
 * (u/v, s/t, texture_u/texture_v or texture_s/texture_t); the "face" element's vertex_indices
 * (or vertex_index) list and an optional per-corner "texcoord" list (u, v per corner, which
 * wins over per-vertex UVs); "comment TextureFile NAME" (MeshLab's convention) as the texture
 * path. Every other element and property is read past and ignored (colours, normals, edges).
 *
 * The model. Positions are welded like assimp.c's (bit-identical coordinates become one
 * position, first occurrence wins, named by that PLY vertex's number: file_vertex.c), because
 * exporters split PLY vertices at UV seams while the same mesh in OBJ shares them. Polygons are
 * fanned (0, k, k + 1): the split depends only on the corner order, never on the coordinates, so
 * two meshes of the same topology triangulate alike. Faces with fewer than three corners are
 * skipped.
 *
 * Limits, all checked before the storage they bound is allocated: declared vertex and face
 * counts against max_vertices and max_triangles, every element count against the bytes left
 * in the file, polygon sizes against max_polygon_sides, every index against the vertex count.
 */
#include "mesh/ply.h"

#include "mesh/mesh_int.h"
#include "mesh/weld.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PLY_MAX_ELEMENTS 32
#define PLY_MAX_PROPERTIES 64
#define PLY_NAME_MAX 64

enum ply_type { T_NONE, T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_F32, T_F64 };

struct ply_property {
    char name[PLY_NAME_MAX];
    enum ply_type type;       /* the value's type, or the items' type for a list */
    enum ply_type count_type; /* T_NONE unless a list */
};

struct ply_element {
    char name[PLY_NAME_MAX];
    uint64_t count;
    struct ply_property props[PLY_MAX_PROPERTIES];
    int prop_count;
};

enum ply_format { F_ASCII, F_LITTLE, F_BIG };

struct ply {
    const uint8_t *bytes;
    size_t len, pos; /* pos: the read cursor */
    enum ply_format format;
    struct ply_element elements[PLY_MAX_ELEMENTS];
    int element_count;
    char texture[256];
    const md_limits *lim;
};

/* ---- Header ---- */

static enum ply_type type_of(const char *name)
{
    static const struct {
        const char *name;
        enum ply_type type;
    } types[] = {{"char", T_I8},   {"int8", T_I8},     {"uchar", T_U8},   {"uint8", T_U8},
                 {"short", T_I16}, {"int16", T_I16},   {"ushort", T_U16}, {"uint16", T_U16},
                 {"int", T_I32},   {"int32", T_I32},   {"uint", T_U32},   {"uint32", T_U32},
                 {"float", T_F32}, {"float32", T_F32}, {"double", T_F64}, {"float64", T_F64}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(name, types[i].name) == 0)
            return types[i].type;
    return T_NONE;
}

static size_t size_of(enum ply_type t)
{
    static const size_t sizes[] = {0, 1, 1, 2, 2, 4, 4, 4, 8};
    return sizes[t];
}

static int is_integer(enum ply_type t)
{
    return t != T_NONE && t != T_F32 && t != T_F64;
}

/* Copies the next whitespace-separated word of line into word (cap bytes); returns the rest. */
static const char *next_word(const char *line, char *word, size_t cap)
{
    while (*line == ' ' || *line == '\t')
        line++;
    size_t n = 0;
    while (*line != '\0' && *line != ' ' && *line != '\t') {
        if (n + 1 < cap)
            word[n++] = *line;
        line++;
    }
    word[n] = '\0';
    return line;
}

static int parse_header_line(struct ply *p, const char *line, size_t number, md_error *err)
{
    char word[PLY_NAME_MAX], a[PLY_NAME_MAX], b[PLY_NAME_MAX], c[PLY_NAME_MAX];
    const char *rest = next_word(line, word, sizeof word);
    if (word[0] == '\0' || strcmp(word, "obj_info") == 0)
        return 0;
    if (strcmp(word, "comment") == 0) {
        rest = next_word(rest, a, sizeof a);
        if (strcmp(a, "TextureFile") == 0 && p->texture[0] == '\0') {
            while (*rest == ' ' || *rest == '\t')
                rest++;
            snprintf(p->texture, sizeof p->texture, "%s", rest);
        }
        return 0;
    }
    if (strcmp(word, "format") == 0) {
        next_word(next_word(rest, a, sizeof a), b, sizeof b);
        if (strcmp(a, "ascii") == 0)
            p->format = F_ASCII;
        else if (strcmp(a, "binary_little_endian") == 0)
            p->format = F_LITTLE;
        else if (strcmp(a, "binary_big_endian") == 0)
            p->format = F_BIG;
        else
            return md_fail(err, MD_EPARSE, "PLY header line %zu: unknown format '%s'", number, a);
        if (b[0] != '1')
            return md_fail(err, MD_EPARSE, "PLY header line %zu: unknown version '%s'", number, b);
        return 0;
    }
    if (strcmp(word, "element") == 0) {
        if (p->element_count == PLY_MAX_ELEMENTS)
            return md_fail(err, MD_ELIMIT, "PLY header line %zu: more than %d elements", number,
                           PLY_MAX_ELEMENTS);
        next_word(next_word(rest, a, sizeof a), b, sizeof b);
        char *end;
        unsigned long long count = strtoull(b, &end, 10);
        if (a[0] == '\0' || !isdigit((unsigned char)b[0]) || *end != '\0' || count > UINT32_MAX)
            return md_fail(err, MD_EPARSE,
                           "PLY header line %zu: expected 'element NAME COUNT', got '%s'", number,
                           line);
        struct ply_element *e = &p->elements[p->element_count++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", a);
        e->count = count;
        return 0;
    }
    if (strcmp(word, "property") == 0) {
        if (p->element_count == 0)
            return md_fail(err, MD_EPARSE, "PLY header line %zu: a property before any element",
                           number);
        struct ply_element *e = &p->elements[p->element_count - 1];
        if (e->prop_count == PLY_MAX_PROPERTIES)
            return md_fail(err, MD_ELIMIT, "PLY header line %zu: more than %d properties", number,
                           PLY_MAX_PROPERTIES);
        struct ply_property *prop = &e->props[e->prop_count];
        rest = next_word(rest, a, sizeof a);
        if (strcmp(a, "list") == 0) {
            next_word(next_word(next_word(rest, a, sizeof a), b, sizeof b), c, sizeof c);
            prop->count_type = type_of(a);
            prop->type = type_of(b);
            snprintf(prop->name, sizeof prop->name, "%s", c);
            if (!is_integer(prop->count_type) || prop->type == T_NONE || c[0] == '\0')
                return md_fail(err, MD_EPARSE,
                               "PLY header line %zu: expected 'property list COUNT_TYPE "
                               "ITEM_TYPE NAME' with an integer count type, got '%s'",
                               number, line);
        } else {
            next_word(rest, b, sizeof b);
            prop->count_type = T_NONE;
            prop->type = type_of(a);
            snprintf(prop->name, sizeof prop->name, "%s", b);
            if (prop->type == T_NONE || b[0] == '\0')
                return md_fail(err, MD_EPARSE,
                               "PLY header line %zu: expected 'property TYPE NAME' with a known "
                               "type, got '%s'",
                               number, line);
        }
        e->prop_count++;
        return 0;
    }
    /* Anything else is read as a comment, as other readers do: old Blender exporters wrote
     * "Created by ..." without the keyword. */
    return 0;
}

/* Reads the header up to "end_header"; p->pos ends at the first data byte. */
static int parse_header(struct ply *p, md_error *err)
{
    int have_format = 0;
    for (size_t number = 1;; number++) {
        if (p->pos >= p->len)
            return md_fail(err, MD_EPARSE,
                           "the PLY header has no 'end_header' line: the file is truncated or "
                           "not a PLY file");
        const uint8_t *start = p->bytes + p->pos;
        const uint8_t *eol = memchr(start, '\n', p->len - p->pos);
        size_t n = eol == NULL ? p->len - p->pos : (size_t)(eol - start);
        p->pos += n + (eol != NULL);
        if (n > 0 && start[n - 1] == '\r')
            n--;
        char line[512];
        if (n >= sizeof line)
            return md_fail(err, MD_EPARSE, "PLY header line %zu is longer than %zu characters",
                           number, sizeof line - 1);
        memcpy(line, start, n);
        line[n] = '\0';
        if (memchr(line, '\0', n) != NULL)
            return md_fail(err, MD_EPARSE, "PLY header line %zu contains a NUL byte", number);
        if (number == 1) {
            if (strcmp(line, "ply") != 0 && strcmp(line, "PLY") != 0)
                return md_fail(err, MD_EPARSE, "not a PLY file: it does not start with 'ply'");
            continue;
        }
        char word[PLY_NAME_MAX];
        next_word(line, word, sizeof word);
        if (strcmp(word, "end_header") == 0)
            break;
        int rc = parse_header_line(p, line, number, err);
        if (rc != 0)
            return rc;
        have_format |= strcmp(word, "format") == 0;
    }
    if (!have_format)
        return md_fail(err, MD_EPARSE, "the PLY header has no 'format' line");
    return 0;
}

/* ---- Values ---- */

/* Reads one value of type t at the cursor, as a double (integers are exact up to 2^53). */
static int read_value(struct ply *p, enum ply_type t, double *out)
{
    if (p->format == F_ASCII) {
        while (p->pos < p->len && isspace(p->bytes[p->pos]))
            p->pos++;
        char token[80];
        size_t n = 0;
        while (p->pos < p->len && !isspace(p->bytes[p->pos])) {
            if (n + 1 >= sizeof token)
                return -1;
            token[n++] = (char)p->bytes[p->pos++];
        }
        token[n] = '\0';
        if (n == 0)
            return -1;
        char *end;
        *out = strtod(token, &end);
        if (*end != '\0' || (is_integer(t) && *out != floor(*out)))
            return -1;
        return 0;
    }
    size_t size = size_of(t);
    if (p->len - p->pos < size)
        return -1;
    uint8_t raw[8];
    for (size_t k = 0; k < size; k++)
        raw[k] = p->bytes[p->pos + (p->format == F_LITTLE ? k : size - 1 - k)];
    p->pos += size;
    uint64_t u = 0;
    for (size_t k = 0; k < size; k++)
        u |= (uint64_t)raw[k] << (8 * k);
    switch (t) {
    case T_I8:
        *out = (int8_t)u;
        break;
    case T_U8:
        *out = (uint8_t)u;
        break;
    case T_I16:
        *out = (int16_t)u;
        break;
    case T_U16:
        *out = (uint16_t)u;
        break;
    case T_I32:
        *out = (int32_t)u;
        break;
    case T_U32:
        *out = (uint32_t)u;
        break;
    case T_F32: {
        uint32_t bits = (uint32_t)u;
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = f;
        break;
    }
    case T_F64:
        memcpy(out, &u, sizeof *out);
        break;
    default:
        return -1;
    }
    return 0;
}

/* ---- Building the mesh ---- */

/* What the reader needs from the vertex and face elements, located in the header. */
struct layout {
    int vertex_element, face_element;
    int x, y, z, u, v;     /* property indices in the vertex element, -1 if absent */
    int indices, texcoord; /* list property indices in the face element, -1 if absent */
};

static int find_property(const struct ply_element *e, const char *name, int list)
{
    for (int i = 0; i < e->prop_count; i++)
        if (strcmp(e->props[i].name, name) == 0 && (e->props[i].count_type != T_NONE) == list)
            return i;
    return -1;
}

static int locate(const struct ply *p, struct layout *l, md_error *err)
{
    memset(l, 0xff, sizeof *l); /* every field -1 */
    for (int i = 0; i < p->element_count; i++) {
        if (strcmp(p->elements[i].name, "vertex") == 0 && l->vertex_element < 0)
            l->vertex_element = i;
        if (strcmp(p->elements[i].name, "face") == 0 && l->face_element < 0)
            l->face_element = i;
    }
    if (l->vertex_element < 0)
        return md_fail(err, MD_EPARSE, "the PLY file has no 'vertex' element");
    const struct ply_element *ve = &p->elements[l->vertex_element];
    l->x = find_property(ve, "x", 0);
    l->y = find_property(ve, "y", 0);
    l->z = find_property(ve, "z", 0);
    if (l->x < 0 || l->y < 0 || l->z < 0)
        return md_fail(err, MD_EPARSE,
                       "the PLY 'vertex' element lacks one of the properties x, y and z");
    static const char *const uv_names[][2] = {
        {"u", "v"}, {"s", "t"}, {"texture_u", "texture_v"}, {"texture_s", "texture_t"}};
    for (size_t i = 0; i < 4 && l->u < 0; i++) {
        int u = find_property(ve, uv_names[i][0], 0), v = find_property(ve, uv_names[i][1], 0);
        if (u >= 0 && v >= 0) {
            l->u = u;
            l->v = v;
        }
    }
    if (l->face_element < 0)
        return md_fail(err, MD_EPARSE,
                       "the PLY file has no 'face' element, so no triangles (points only?)");
    const struct ply_element *fe = &p->elements[l->face_element];
    l->indices = find_property(fe, "vertex_indices", 1);
    if (l->indices < 0)
        l->indices = find_property(fe, "vertex_index", 1);
    if (l->indices < 0 || !is_integer(fe->props[l->indices].type))
        return md_fail(err, MD_EPARSE,
                       "the PLY 'face' element has no integer 'vertex_indices' list");
    l->texcoord = find_property(fe, "texcoord", 1);
    if (l->texcoord >= 0 && is_integer(fe->props[l->texcoord].type))
        l->texcoord = -1;
    return 0;
}

/* The fewest bytes one instance of e can take: ASCII needs a character per value and a
 * separator; binary its fixed-size values and list counts. */
static size_t min_bytes(const struct ply *p, const struct ply_element *e)
{
    size_t n = 0;
    for (int i = 0; i < e->prop_count; i++) {
        const struct ply_property *prop = &e->props[i];
        if (p->format == F_ASCII)
            n += 2;
        else
            n += size_of(prop->count_type != T_NONE ? prop->count_type : prop->type);
    }
    return n > 0 ? n : 1;
}

/* The most corners of one polygon this reader takes, whatever max_polygon_sides says. */
#define PLY_MAX_CORNERS 1024

struct reader {
    struct ply *p;
    struct layout l;
    mesh *m;
    struct mesh_weld positions, uvs;
    uint32_t *vertex_map; /* PLY vertex -> welded position; owned */
    uint32_t *vertex_uv;  /* PLY vertex -> welded UV, with UVs per vertex; owned */
    size_t triangle_cap;  /* triangles allocated */
    int has_uvs;
    int uvs_per_corner; /* the face element has a texcoord list */
    uint32_t uv_cap;    /* UV entries allocated (and the weld table's capacity) */
    uint32_t corners[PLY_MAX_CORNERS];
    uint32_t corner_uvs[PLY_MAX_CORNERS];
    double corner_uv[2 * PLY_MAX_CORNERS];
};

/* A list length read as a double, checked before it is converted. */
static int list_length(struct ply *p, enum ply_type t, uint64_t *items)
{
    double value;
    if (read_value(p, t, &value) != 0 || !(value >= 0) || value > (double)UINT32_MAX)
        return -1;
    *items = (uint64_t)value;
    return 0;
}

static int grow_triangles(struct reader *r, md_error *err)
{
    mesh *m = r->m;
    size_t cap = r->triangle_cap ? 2 * r->triangle_cap : 1024;
    if (cap > r->p->lim->max_triangles)
        cap = (size_t)r->p->lim->max_triangles;
    if (cap > UINT32_MAX / 3)
        cap = UINT32_MAX / 3;
    if (cap <= m->triangle_count)
        return md_fail(err, MD_ELIMIT, "the mesh has more than %llu triangles",
                       (unsigned long long)r->p->lim->max_triangles);
    uint32_t *tris = md_realloc_array(m->triangles, cap, 3 * sizeof *tris);
    if (tris != NULL)
        m->triangles = tris;
    uint16_t *mats = md_realloc_array(m->triangle_materials, cap, sizeof *mats);
    if (mats != NULL)
        m->triangle_materials = mats;
    uint32_t *tuv = NULL;
    if (r->has_uvs) {
        tuv = md_realloc_array(m->triangle_uvs, cap, 3 * sizeof *tuv);
        if (tuv != NULL)
            m->triangle_uvs = tuv;
    }
    if (tris == NULL || mats == NULL || (r->has_uvs && tuv == NULL))
        return md_fail(err, MD_ENOMEM, "out of memory for %zu triangles", cap);
    r->triangle_cap = cap;
    return 0;
}

/* Welds one UV, growing the UV array (and its table) up to max_uvs. */
static int add_uv(struct reader *r, float uv[2], uint32_t *index, md_error *err)
{
    mesh *m = r->m;
    uint64_t max_uvs = r->p->lim->max_uvs < UINT32_MAX ? r->p->lim->max_uvs : UINT32_MAX;
    while (mesh_weld_find(&r->uvs, m->uvs, &m->uv_count, r->uv_cap, uv, index) != 0) {
        if (r->uv_cap >= max_uvs)
            return md_fail(err, MD_ELIMIT, "the mesh has more than %llu texture coordinates",
                           (unsigned long long)max_uvs);
        uint64_t cap = 2 * (uint64_t)r->uv_cap;
        cap = cap < max_uvs ? cap : max_uvs;
        float *grown = md_realloc_array(m->uvs, cap, 2 * sizeof *grown);
        if (grown == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory for %llu texture coordinates",
                           (unsigned long long)cap);
        m->uvs = grown;
        int rc = mesh_weld_grow(&r->uvs, m->uvs, m->uv_count, (size_t)cap, err);
        if (rc != 0)
            return rc;
        r->uv_cap = (uint32_t)cap;
    }
    return 0;
}

static int damaged(const struct ply *p, const char *what, uint64_t index, md_error *err)
{
    return md_fail(err, MD_EPARSE, "PLY %s %llu: %s (the file is truncated or damaged at byte %zu)",
                   what, (unsigned long long)index + 1,
                   p->format == F_ASCII ? "a value is missing or is not a number"
                                        : "the data ends early",
                   p->pos);
}

static int read_vertex(struct reader *r, uint64_t index, md_error *err)
{
    struct ply *p = r->p;
    const struct ply_element *e = &p->elements[r->l.vertex_element];
    double xyz[3] = {0, 0, 0}, uv[2] = {0, 0};
    for (int i = 0; i < e->prop_count; i++) {
        const struct ply_property *prop = &e->props[i];
        double value = 0;
        uint64_t items = 1;
        if (prop->count_type != T_NONE && list_length(p, prop->count_type, &items) != 0)
            return damaged(p, "vertex", index, err);
        for (uint64_t k = 0; k < items; k++)
            if (read_value(p, prop->type, &value) != 0)
                return damaged(p, "vertex", index, err);
        if (prop->count_type != T_NONE)
            continue;
        xyz[0] = i == r->l.x ? value : xyz[0];
        xyz[1] = i == r->l.y ? value : xyz[1];
        xyz[2] = i == r->l.z ? value : xyz[2];
        uv[0] = i == r->l.u ? value : uv[0];
        uv[1] = i == r->l.v ? value : uv[1];
    }
    float pos[3] = {(float)xyz[0], (float)xyz[1], (float)xyz[2]};
    if (mesh_weld_find(&r->positions, r->m->positions, &r->m->vertex_count, (uint32_t)e->count, pos,
                       &r->vertex_map[index]) != 0)
        return md_fail(err, MD_EINTERNAL, "more positions than vertices");
    if (r->vertex_uv != NULL) {
        float fuv[2] = {(float)uv[0], (float)uv[1]};
        return add_uv(r, fuv, &r->vertex_uv[index], err);
    }
    return 0;
}

static int read_face(struct reader *r, uint64_t index, md_error *err)
{
    struct ply *p = r->p;
    mesh *m = r->m;
    const struct ply_element *e = &p->elements[r->l.face_element];
    const uint64_t vertices = p->elements[r->l.vertex_element].count;
    uint64_t max_corners = p->lim->max_polygon_sides;
    max_corners = max_corners < PLY_MAX_CORNERS ? max_corners : PLY_MAX_CORNERS;
    uint64_t corner_count = 0, uv_count = 0;
    for (int i = 0; i < e->prop_count; i++) {
        const struct ply_property *prop = &e->props[i];
        double value;
        uint64_t items = 1;
        if (prop->count_type != T_NONE && list_length(p, prop->count_type, &items) != 0)
            return damaged(p, "face", index, err);
        if ((i == r->l.indices && items > max_corners) ||
            (i == r->l.texcoord && items > 2 * max_corners))
            return md_fail(err, MD_ELIMIT, "PLY face %llu has %llu corners; the limit is %llu",
                           (unsigned long long)index + 1,
                           (unsigned long long)(i == r->l.indices ? items : items / 2),
                           (unsigned long long)max_corners);
        for (uint64_t k = 0; k < items; k++) {
            if (read_value(p, prop->type, &value) != 0)
                return damaged(p, "face", index, err);
            if (i == r->l.indices) {
                if (!(value >= 0) || value >= (double)vertices)
                    return md_fail(err, MD_EPARSE,
                                   "PLY face %llu uses vertex %.0f, but there are %llu vertices",
                                   (unsigned long long)index + 1, value + 1,
                                   (unsigned long long)vertices);
                r->corners[corner_count++] = (uint32_t)value;
            } else if (i == r->l.texcoord) {
                r->corner_uv[uv_count++] = value;
            }
        }
    }
    if (corner_count < 3)
        return 0; /* a point or an edge in the face list */
    if (r->uvs_per_corner && uv_count != 2 * corner_count)
        return md_fail(err, MD_EPARSE,
                       "PLY face %llu has %llu corners but %llu texture coordinates",
                       (unsigned long long)index + 1, (unsigned long long)corner_count,
                       (unsigned long long)uv_count / 2);
    for (uint64_t k = 0; k < corner_count && r->has_uvs; k++) {
        if (!r->uvs_per_corner) {
            /* The PLY vertex for now: vertices may come after faces; joined at the end. */
            r->corner_uvs[k] = r->corners[k];
            continue;
        }
        float uv[2] = {(float)r->corner_uv[2 * k], (float)r->corner_uv[2 * k + 1]};
        int rc = add_uv(r, uv, &r->corner_uvs[k], err);
        if (rc != 0)
            return rc;
    }
    for (uint64_t k = 1; k + 1 < corner_count; k++) {
        if (m->triangle_count == r->triangle_cap) {
            int rc = grow_triangles(r, err);
            if (rc != 0)
                return rc;
        }
        const uint64_t fan[3] = {0, k, k + 1};
        for (int c = 0; c < 3; c++) {
            m->triangles[3 * (size_t)m->triangle_count + c] = r->corners[fan[c]];
            if (r->has_uvs)
                m->triangle_uvs[3 * (size_t)m->triangle_count + c] = r->corner_uvs[fan[c]];
        }
        m->triangle_materials[m->triangle_count] = 0;
        m->triangle_count++;
    }
    return 0;
}

/* Reads past one instance of an element we do not use. */
static int skip_instance(struct ply *p, const struct ply_element *e, uint64_t index, md_error *err)
{
    for (int i = 0; i < e->prop_count; i++) {
        double value;
        uint64_t items = 1;
        if (e->props[i].count_type != T_NONE && list_length(p, e->props[i].count_type, &items) != 0)
            return damaged(p, e->name, index, err);
        for (uint64_t k = 0; k < items; k++)
            if (read_value(p, e->props[i].type, &value) != 0)
                return damaged(p, e->name, index, err);
    }
    return 0;
}

int mesh_parse_ply(const uint8_t *bytes, size_t len, const md_limits *lim, mesh **out,
                   md_error *err)
{
    struct ply *p = md_calloc(1, sizeof *p);
    struct reader *r = md_calloc(1, sizeof *r);
    mesh *m = NULL;
    int rc = 0;
    *out = NULL;
    if (p == NULL || r == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    p->bytes = bytes;
    p->len = len;
    p->lim = lim;
    rc = parse_header(p, err);
    if (rc != 0)
        goto done;

    /* Limits and plausibility, before anything proportional to a count is allocated. */
    size_t left = p->len - p->pos;
    for (int i = 0; i < p->element_count; i++) {
        const struct ply_element *e = &p->elements[i];
        if (strcmp(e->name, "vertex") == 0 && e->count > lim->max_vertices) {
            rc = md_fail(err, MD_ELIMIT, "the PLY file declares %llu vertices; the limit is %llu",
                         (unsigned long long)e->count, (unsigned long long)lim->max_vertices);
            goto done;
        }
        if (strcmp(e->name, "face") == 0 && e->count > lim->max_triangles) {
            rc = md_fail(err, MD_ELIMIT,
                         "the PLY file declares %llu faces; the limit is %llu triangles",
                         (unsigned long long)e->count, (unsigned long long)lim->max_triangles);
            goto done;
        }
        if (e->count > (left + 1) / min_bytes(p, e)) {
            rc = md_fail(err, MD_EPARSE,
                         "the PLY header declares %llu '%s' elements but only %zu bytes of data "
                         "follow it: the file is truncated or damaged",
                         (unsigned long long)e->count, e->name, left);
            goto done;
        }
    }
    rc = locate(p, &r->l, err);
    if (rc != 0)
        goto done;
    uint64_t vertices = p->elements[r->l.vertex_element].count;
    uint64_t faces = p->elements[r->l.face_element].count;

    m = mesh_alloc("ply");
    if (m == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    r->p = p;
    r->m = m;
    r->uvs_per_corner = r->l.texcoord >= 0;
    r->has_uvs = r->uvs_per_corner || r->l.u >= 0;
    m->positions = md_malloc_array(vertices ? vertices : 1, 3 * sizeof(float));
    r->vertex_map = md_malloc_array(vertices ? vertices : 1, sizeof *r->vertex_map);
    if (m->positions == NULL || r->vertex_map == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for %llu vertices",
                     (unsigned long long)vertices);
        goto done;
    }
    rc = mesh_weld_init(&r->positions, 3, (size_t)vertices, err);
    if (rc != 0)
        goto done;
    if (r->has_uvs) {
        /* Room for a UV per vertex (or three per face); add_uv grows it up to max_uvs. */
        uint64_t first = r->uvs_per_corner ? 3 * faces : vertices;
        first = first < lim->max_uvs ? first : lim->max_uvs;
        first = first > 16 ? first : 16;
        first = first < lim->max_uvs ? first : lim->max_uvs;
        r->uv_cap = (uint32_t)(first > 0 ? first : 1);
        m->uvs = md_malloc_array(r->uv_cap, 2 * sizeof(float));
        m->triangle_uvs = md_malloc(sizeof(uint32_t));
        if (!r->uvs_per_corner)
            r->vertex_uv = md_malloc_array(vertices ? vertices : 1, sizeof *r->vertex_uv);
        if (m->uvs == NULL || m->triangle_uvs == NULL ||
            (!r->uvs_per_corner && r->vertex_uv == NULL)) {
            rc = md_fail(err, MD_ENOMEM, "out of memory for texture coordinates");
            goto done;
        }
        rc = mesh_weld_init(&r->uvs, 2, r->uv_cap, err);
        if (rc != 0)
            goto done;
    }

    /* The data, element by element in header order. Faces may come before vertices: their
     * indices are checked against the declared vertex count and mapped at the end. */
    for (int i = 0; i < p->element_count && rc == 0; i++) {
        const struct ply_element *e = &p->elements[i];
        for (uint64_t k = 0; k < e->count && rc == 0; k++) {
            if (i == r->l.vertex_element)
                rc = read_vertex(r, k, err);
            else if (i == r->l.face_element)
                rc = read_face(r, k, err);
            else
                rc = skip_instance(p, e, k, err);
        }
    }
    if (rc != 0)
        goto done;
    if (m->triangle_count == 0) {
        rc = md_fail(err, MD_EPARSE, "the file has no triangles (points or lines only?)");
        goto done;
    }
    if (m->uv_count > lim->max_uvs) {
        rc = md_fail(err, MD_ELIMIT, "the mesh has more than %llu texture coordinates",
                     (unsigned long long)lim->max_uvs);
        goto done;
    }
    /* Faces index PLY vertices; the mesh indexes welded positions (and UVs per vertex). */
    for (size_t i = 0; i < 3 * (size_t)m->triangle_count; i++) {
        if (r->vertex_uv != NULL)
            m->triangle_uvs[i] = r->vertex_uv[m->triangles[i]];
        m->triangles[i] = r->vertex_map[m->triangles[i]];
    }

    rc = mesh_material_add(m, "default", lim, err);
    if (rc < 0)
        goto done;
    rc = 0;
    if (p->texture[0] != '\0') {
        m->materials[0].texture_path = md_strdup(p->texture);
        if (m->materials[0].texture_path == NULL) {
            rc = md_fail(err, MD_ENOMEM, "out of memory");
            goto done;
        }
    }
    /* Each welded position is named by the first PLY vertex welded into it (file_vertex.c);
     * welding in file order already numbers them in that order. */
    uint32_t *first = md_malloc_array(m->vertex_count ? m->vertex_count : 1, sizeof *first);
    if (first == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory for %u vertex numbers", m->vertex_count);
        goto done;
    }
    for (uint32_t v = 0; v < m->vertex_count; v++)
        first[v] = UINT32_MAX;
    for (uint64_t k = vertices; k-- > 0;)
        first[r->vertex_map[k]] = (uint32_t)k;
    rc = mesh_file_order(m, first, err);
    md_free(first);
    if (rc != 0)
        goto done;
    rc = mesh_validate(m, err);

done:
    if (r != NULL) {
        mesh_weld_free(&r->positions);
        mesh_weld_free(&r->uvs);
        md_free(r->vertex_map);
        md_free(r->vertex_uv);
    }
    md_free(r);
    md_free(p);
    if (rc != 0) {
        mesh_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
