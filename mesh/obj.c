/*
 * obj.c — mesh_parse_obj(): a single-pass, streaming Wavefront OBJ parser fed bytes.
 *
 * Called by mesh_load() (load.c) and by the API's upload validation, on whatever thread parses
 * the file; it keeps no global state, so any number may run at once. It does no I/O: mtllib
 * names are recorded in the mesh for the caller to resolve and feed to mesh_parse_mtl().
 *
 * What it reads: v (x y z; a fourth w and vertex colours after xyz are ignored), vt (u [v] [w];
 * a missing v is 0), f (v, v/vt, v//vn, v/vt/vn corners, negative indices counting back from the
 * last element so far, 3..max_polygon_sides corners, fan-triangulated as (0,i,i+1) in order),
 * usemtl (the rest of the line is the name), mtllib (see parse_mtllib). vn is skipped: normals
 * are recomputed from the geometry. o, g, s, l, p, vp and unknown statements are ignored.
 *
 * Decisions worth knowing:
 *   - Indices must refer to elements defined above the face (the OBJ spec's rule). A forward
 *     reference is reported as out of range with the count so far; we do not buffer faces.
 *   - All corners of one face have a texture index or none do. When some faces have UVs and
 *     others do not, the mesh has UVs and the faces without point at one extra (0,0) entry
 *     appended after the file's own. vt lines that no face uses are dropped (uv_count 0).
 *   - Faces before any usemtl get a material called "default", created only if such faces
 *     exist. usemtl of a name not seen before creates the material (the MTL fills it later).
 *   - Limits are checked before an array grows, so a hostile file cannot make us allocate
 *     more than the limits allow; arrays grow geometrically up to exactly the limit.
 *
 * Ownership: the mesh being built owns every array; on any error it is freed whole with
 * mesh_free(), so there is one cleanup path. On success *out receives it after mesh_validate().
 */
#include "mesh/mesh_int.h"
#include "mesh/objtext.h"

#include <math.h>
#include <string.h>

/* Longest material name and mtllib path we keep; longer ones are errors, not truncations. */
#define OBJ_NAME_MAX 1024
#define OBJ_PATH_MAX 4096
/* Most mtllib names one file may list. */
#define OBJ_MTLLIB_MAX 64
/* A triangle corner without texture coordinates, until the end decides what it points at. */
#define OBJ_NO_UV UINT32_MAX

typedef struct obj_parser {
    mesh *m;
    mesh_text text;
    const md_limits *lim;
    /* Effective limits: the md_limits values clamped so counts and indices fit uint32 with
     * room for the extra (0,0) uv. */
    uint64_t max_vertices;
    uint64_t max_uvs;
    uint64_t max_triangles;
    uint64_t max_sides;
    size_t vertex_cap;
    size_t uv_cap;
    size_t triangle_cap;
    int material; /* current material index; -1 before the first usemtl */
    bool faces_with_uvs;
    bool faces_without_uvs;
} obj_parser;

/* ---- Small helpers ---- */

static uint64_t clamp_limit(uint64_t limit)
{
    return limit < UINT32_MAX - 1 ? limit : UINT32_MAX - 1;
}

/* Grows array (of *cap elements of elem_size bytes) geometrically, never past limit elements.
 * The caller has checked that one more element is within the limit. Returns the new array, or
 * NULL with the old one untouched. */
static void *grow_array(void *array, size_t *cap, uint64_t limit, size_t elem_size)
{
    size_t want = *cap < 1024 ? 1024 : *cap * 2;
    if (want > limit)
        want = (size_t)limit;
    void *grown = md_realloc_array(array, want, elem_size);
    if (grown != NULL)
        *cap = want;
    return grown;
}

/* Shrinks a finished array to count elements; keeps the old one if realloc declines. */
static void *shrink_array(void *array, size_t count, size_t elem_size)
{
    if (array == NULL || count == 0)
        return array;
    void *shrunk = md_realloc_array(array, count, elem_size);
    return shrunk != NULL ? shrunk : array;
}

/* Reads the index-th of the numbers a statement needs (stmt "v", "vt"), at *p. what names the
 * value in messages ("coordinate", "texture coordinate"). */
static int read_number(obj_parser *op, const char **p, const char *end, const char *stmt,
                       const char *needs, int index, const char *what, float *out, md_error *err)
{
    char quoted[48];
    const char *tok = mesh_text_skip_space(*p, end);
    if (tok == end || *tok == '#')
        return md_fail(err, MD_EPARSE, "line %zu: '%s' needs %s numbers, got only %d",
                       op->text.line, stmt, needs, index);
    const char *tok_end = mesh_text_token_end(tok, end);
    const char *q = tok;
    double value;
    if (mesh_text_number(&q, tok_end, &value) != 0 || q != tok_end)
        return md_fail(err, MD_EPARSE, "line %zu: '%s' needs %s numbers, got '%s'", op->text.line,
                       stmt, needs, mesh_text_quote(tok, tok_end, quoted, sizeof quoted));
    if (!isfinite(value))
        return md_fail(err, MD_EPARSE, "line %zu: %s is not finite ('%s')", op->text.line, what,
                       mesh_text_quote(tok, tok_end, quoted, sizeof quoted));
    /* At or past the midpoint between FLT_MAX and the next power of two, a float is infinite. */
    if (fabs(value) >= 0x1.ffffffp127)
        return md_fail(err, MD_EPARSE, "line %zu: %s is not finite as a 32-bit float ('%s')",
                       op->text.line, what, mesh_text_quote(tok, tok_end, quoted, sizeof quoted));
    *out = (float)value;
    *p = tok_end;
    return 0;
}

/* Copies [p, end) into out (cap bytes with the NUL), or fails naming what it is. */
static int copy_name(obj_parser *op, const char *p, const char *end, char *out, size_t cap,
                     const char *what, md_error *err)
{
    size_t n = (size_t)(end - p);
    if (n >= cap)
        return md_fail(err, MD_EPARSE, "line %zu: %s longer than %zu bytes", op->text.line, what,
                       cap - 1);
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* ---- Statements ---- */

static int parse_vertex(obj_parser *op, const char *p, const char *end, md_error *err)
{
    mesh *m = op->m;
    if (m->vertex_count >= op->max_vertices)
        return md_fail(err, MD_ELIMIT, "line %zu: more than %llu vertices (limit max_vertices)",
                       op->text.line, (unsigned long long)op->max_vertices);
    if (m->vertex_count == op->vertex_cap) {
        float *grown =
            grow_array(m->positions, &op->vertex_cap, op->max_vertices, 3 * sizeof(float));
        if (grown == NULL)
            return md_fail(err, MD_ENOMEM, "line %zu: out of memory for %u vertices", op->text.line,
                           m->vertex_count + 1);
        m->positions = grown;
    }
    float *xyz = &m->positions[3 * (size_t)m->vertex_count];
    for (int k = 0; k < 3; k++) {
        int rc = read_number(op, &p, end, "v", "3", k, "coordinate", &xyz[k], err);
        if (rc != 0)
            return rc;
    }
    /* The rest (w, or r g b vertex colours) is not used. */
    m->vertex_count++;
    return 0;
}

static int parse_uv(obj_parser *op, const char *p, const char *end, md_error *err)
{
    mesh *m = op->m;
    if (m->uv_count >= op->max_uvs)
        return md_fail(err, MD_ELIMIT,
                       "line %zu: more than %llu texture coordinates (limit max_uvs)",
                       op->text.line, (unsigned long long)op->max_uvs);
    if (m->uv_count == op->uv_cap) {
        float *grown = grow_array(m->uvs, &op->uv_cap, op->max_uvs, 2 * sizeof(float));
        if (grown == NULL)
            return md_fail(err, MD_ENOMEM, "line %zu: out of memory for %u texture coordinates",
                           op->text.line, m->uv_count + 1);
        m->uvs = grown;
    }
    float *uv = &m->uvs[2 * (size_t)m->uv_count];
    int rc = read_number(op, &p, end, "vt", "1 to 3", 0, "texture coordinate", &uv[0], err);
    if (rc != 0)
        return rc;
    uv[1] = 0.0f;
    const char *next = mesh_text_skip_space(p, end);
    if (next < end && *next != '#') {
        rc = read_number(op, &p, end, "vt", "1 to 3", 1, "texture coordinate", &uv[1], err);
        if (rc != 0)
            return rc;
    }
    m->uv_count++;
    return 0;
}

/* The current material, creating "default" for faces that precede every usemtl. */
static int current_material(obj_parser *op, md_error *err)
{
    if (op->material >= 0)
        return op->material;
    int found = mesh_material_find(op->m, "default");
    if (found < 0)
        found = mesh_material_add(op->m, "default", op->lim, err);
    if (found < 0)
        return md_error_prefix(err, "line %zu: ", op->text.line);
    op->material = found;
    return found;
}

/* Resolves a 1-based or negative OBJ index against count elements so far into 0-based. */
static int resolve_index(obj_parser *op, long long index, uint32_t count, const char *what,
                         const char *counted, uint32_t *out, md_error *err)
{
    if (index == 0)
        return md_fail(err, MD_EPARSE, "line %zu: %s index 0 is invalid (OBJ indices start at 1)",
                       op->text.line, what);
    long long resolved = index > 0 ? index - 1 : (long long)count + index;
    if (resolved < 0 || resolved >= (long long)count)
        return md_fail(err, MD_EPARSE, "line %zu: %s index %lld out of range (%u %s so far)",
                       op->text.line, what, index, count, counted);
    *out = (uint32_t)resolved;
    return 0;
}

/* Parses one corner token [p, end): v, v/vt, v//vn or v/vt/vn. */
static int parse_corner(obj_parser *op, const char *p, const char *end, uint32_t *v, uint32_t *vt,
                        bool *has_uv, md_error *err)
{
    char quoted[48];
    const char *q = p;
    long long vi;
    long long ti = 0;
    long long ni;
    *has_uv = false;
    if (mesh_text_int(&q, end, &vi) != 0)
        goto malformed;
    if (q < end && *q == '/') {
        q++;
        if (q < end && *q != '/') {
            if (mesh_text_int(&q, end, &ti) != 0)
                goto malformed;
            *has_uv = true;
        }
        if (q < end && *q == '/') {
            q++;
            /* The normal index is checked for syntax only: normals are not used. */
            if (q < end && mesh_text_int(&q, end, &ni) != 0)
                goto malformed;
        }
    }
    if (q != end)
        goto malformed;
    int rc = resolve_index(op, vi, op->m->vertex_count, "face", "vertices", v, err);
    if (rc == 0 && *has_uv)
        rc = resolve_index(op, ti, op->m->uv_count, "face texture coordinate",
                           "texture coordinates", vt, err);
    return rc;
malformed:
    return md_fail(err, MD_EPARSE,
                   "line %zu: face corner '%s' is not one of v, v/vt, v//vn, v/vt/vn",
                   op->text.line, mesh_text_quote(p, end, quoted, sizeof quoted));
}

/* Grows the three parallel triangle arrays; they share one capacity, updated once all three
 * have grown (a failure part-way leaves larger arrays behind, which is harmless). */
static int grow_triangles(obj_parser *op, md_error *err)
{
    mesh *m = op->m;
    size_t cap = op->triangle_cap;
    uint32_t *tris = grow_array(m->triangles, &cap, op->max_triangles, 3 * sizeof(uint32_t));
    if (tris == NULL)
        goto out_of_memory;
    m->triangles = tris;
    cap = op->triangle_cap;
    uint32_t *uvs = grow_array(m->triangle_uvs, &cap, op->max_triangles, 3 * sizeof(uint32_t));
    if (uvs == NULL)
        goto out_of_memory;
    m->triangle_uvs = uvs;
    cap = op->triangle_cap;
    uint16_t *mats = grow_array(m->triangle_materials, &cap, op->max_triangles, sizeof(uint16_t));
    if (mats == NULL)
        goto out_of_memory;
    m->triangle_materials = mats;
    op->triangle_cap = cap;
    return 0;
out_of_memory:
    return md_fail(err, MD_ENOMEM, "line %zu: out of memory for %u triangles", op->text.line,
                   m->triangle_count + 1);
}

static int add_triangle(obj_parser *op, const uint32_t v[3], const uint32_t vt[3], int material,
                        md_error *err)
{
    mesh *m = op->m;
    if (m->triangle_count >= op->max_triangles)
        return md_fail(err, MD_ELIMIT,
                       "line %zu: more than %llu triangles after triangulation (limit "
                       "max_triangles)",
                       op->text.line, (unsigned long long)op->max_triangles);
    if (m->triangle_count == op->triangle_cap) {
        int rc = grow_triangles(op, err);
        if (rc != 0)
            return rc;
    }
    size_t t = m->triangle_count;
    memcpy(&m->triangles[3 * t], v, 3 * sizeof *v);
    memcpy(&m->triangle_uvs[3 * t], vt, 3 * sizeof *vt);
    m->triangle_materials[t] = (uint16_t)material;
    m->triangle_count++;
    return 0;
}

/* f c0 c1 c2 ... : emits the fan (c0, c[i-1], c[i]) as each corner arrives, so a polygon needs
 * no buffer however many corners it has. */
static int parse_face(obj_parser *op, const char *p, const char *end, md_error *err)
{
    int material = current_material(op, err);
    if (material < 0)
        return material;
    uint32_t v[3] = {0, 0, 0};
    uint32_t vt[3] = {OBJ_NO_UV, OBJ_NO_UV, OBJ_NO_UV};
    bool first_has_uv = false;
    uint64_t corners = 0;
    for (;;) {
        p = mesh_text_skip_space(p, end);
        if (p == end || *p == '#')
            break;
        if (corners >= op->max_sides)
            return md_fail(err, MD_ELIMIT,
                           "line %zu: a face with more than %llu corners (limit "
                           "max_polygon_sides)",
                           op->text.line, (unsigned long long)op->max_sides);
        const char *tok_end = mesh_text_token_end(p, end);
        uint32_t cv;
        uint32_t ct = OBJ_NO_UV;
        bool has_uv;
        int rc = parse_corner(op, p, tok_end, &cv, &ct, &has_uv, err);
        if (rc != 0)
            return rc;
        if (corners == 0)
            first_has_uv = has_uv;
        else if (has_uv != first_has_uv)
            return md_fail(err, MD_EPARSE,
                           "line %zu: face mixes corners with and without texture coordinates",
                           op->text.line);
        if (corners < 3) {
            v[corners] = cv;
            vt[corners] = ct;
        } else {
            v[1] = v[2];
            vt[1] = vt[2];
            v[2] = cv;
            vt[2] = ct;
        }
        corners++;
        if (corners >= 3) {
            rc = add_triangle(op, v, vt, material, err);
            if (rc != 0)
                return rc;
        }
        p = tok_end;
    }
    if (corners < 3)
        return md_fail(err, MD_EPARSE, "line %zu: a face needs at least 3 corners, got %llu",
                       op->text.line, (unsigned long long)corners);
    if (first_has_uv)
        op->faces_with_uvs = true;
    else
        op->faces_without_uvs = true;
    return 0;
}

static int parse_usemtl(obj_parser *op, const char *p, const char *end, md_error *err)
{
    char name[OBJ_NAME_MAX + 1];
    int rc = copy_name(op, p, end, name, sizeof name, "material name", err);
    if (rc != 0)
        return rc;
    if (op->material >= 0 && strcmp(op->m->materials[op->material].name, name) == 0)
        return 0;
    int found = mesh_material_find(op->m, name);
    if (found < 0)
        found = mesh_material_add(op->m, name, op->lim, err);
    if (found < 0)
        return md_error_prefix(err, "line %zu: ", op->text.line);
    op->material = found;
    return 0;
}

static int add_mtllib(obj_parser *op, const char *p, const char *end, md_error *err)
{
    mesh *m = op->m;
    if (end - p >= 2 && *p == '"' && end[-1] == '"') {
        p++;
        end--;
    }
    if (p == end)
        return 0;
    char name[OBJ_PATH_MAX + 1];
    int rc = copy_name(op, p, end, name, sizeof name, "mtllib file name", err);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < m->mtllib_count; i++)
        if (strcmp(m->mtllibs[i], name) == 0)
            return 0;
    if (m->mtllib_count >= OBJ_MTLLIB_MAX)
        return md_fail(err, MD_ELIMIT, "line %zu: more than %d material libraries (mtllib)",
                       op->text.line, OBJ_MTLLIB_MAX);
    if (m->mtllibs == NULL) {
        m->mtllibs = md_calloc(OBJ_MTLLIB_MAX, sizeof *m->mtllibs);
        if (m->mtllibs == NULL)
            return md_fail(err, MD_ENOMEM, "line %zu: out of memory", op->text.line);
    }
    m->mtllibs[m->mtllib_count] = md_strdup(name);
    if (m->mtllibs[m->mtllib_count] == NULL)
        return md_fail(err, MD_ENOMEM, "line %zu: out of memory", op->text.line);
    m->mtllib_count++;
    return 0;
}

/* mtllib a.mtl b.mtl: the spec separates names by spaces, but exporters commonly write one name
 * that contains spaces. Rule: when the whole rest of the line ends in .mtl and splitting it
 * would give a piece that does not, it is one name; otherwise it is split. A name in double
 * quotes is one name. */
static int parse_mtllib(obj_parser *op, const char *p, const char *end, md_error *err)
{
    if (p == end)
        return 0;
    bool whole = *p == '"' && end[-1] == '"';
    if (!whole && mesh_text_ends_with_ci(p, end, ".mtl")) {
        for (const char *q = p; q < end;) {
            const char *q_end = mesh_text_token_end(q, end);
            if (!mesh_text_ends_with_ci(q, q_end, ".mtl"))
                whole = true;
            q = mesh_text_skip_space(q_end, end);
        }
    }
    if (whole)
        return add_mtllib(op, p, end, err);
    for (const char *q = p; q < end;) {
        const char *q_end = mesh_text_token_end(q, end);
        int rc = add_mtllib(op, q, q_end, err);
        if (rc != 0)
            return rc;
        q = mesh_text_skip_space(q_end, end);
    }
    return 0;
}

static int parse_statement(obj_parser *op, const char *p, const char *end, md_error *err)
{
    const char *kw_end = mesh_text_token_end(p, end);
    const char *rest = mesh_text_skip_space(kw_end, end);
    size_t kw_len = (size_t)(kw_end - p);
    if (kw_len == 1) {
        if (p[0] == 'v')
            return parse_vertex(op, rest, end, err);
        if (p[0] == 'f')
            return parse_face(op, rest, end, err);
        return 0; /* o, g, s, l, p and the rest */
    }
    if (kw_len == 2 && p[0] == 'v') {
        if (p[1] == 't')
            return parse_uv(op, rest, end, err);
        return 0; /* vn, vp */
    }
    if (mesh_text_keyword(p, kw_end, "usemtl"))
        return parse_usemtl(op, rest, end, err);
    if (mesh_text_keyword(p, kw_end, "mtllib"))
        return parse_mtllib(op, rest, end, err);
    return 0;
}

/* ---- Finishing ---- */

/* Settles texture coordinates: all faces have them, some do (the others get one extra (0,0)
 * entry), or none do (the mesh has none, whatever vt lines the file held). */
static int finish_uvs(obj_parser *op, md_error *err)
{
    mesh *m = op->m;
    if (!op->faces_with_uvs) {
        md_free(m->triangle_uvs);
        md_free(m->uvs);
        m->triangle_uvs = NULL;
        m->uvs = NULL;
        m->uv_count = 0;
        return 0;
    }
    if (op->faces_without_uvs) {
        if (m->uv_count >= op->max_uvs)
            return md_fail(err, MD_ELIMIT,
                           "more than %llu texture coordinates with the (0,0) entry for faces "
                           "without any (limit max_uvs)",
                           (unsigned long long)op->max_uvs);
        if (m->uv_count == op->uv_cap) {
            float *grown = grow_array(m->uvs, &op->uv_cap, op->max_uvs, 2 * sizeof(float));
            if (grown == NULL)
                return md_fail(err, MD_ENOMEM, "out of memory for texture coordinates");
            m->uvs = grown;
        }
        uint32_t extra = m->uv_count++;
        m->uvs[2 * (size_t)extra] = 0.0f;
        m->uvs[2 * (size_t)extra + 1] = 0.0f;
        for (size_t i = 0; i < 3 * (size_t)m->triangle_count; i++)
            if (m->triangle_uvs[i] == OBJ_NO_UV)
                m->triangle_uvs[i] = extra;
    }
    return 0;
}

static void shrink_to_fit(mesh *m)
{
    m->positions = shrink_array(m->positions, m->vertex_count, 3 * sizeof(float));
    m->uvs = shrink_array(m->uvs, m->uv_count, 2 * sizeof(float));
    m->triangles = shrink_array(m->triangles, m->triangle_count, 3 * sizeof(uint32_t));
    m->triangle_materials =
        shrink_array(m->triangle_materials, m->triangle_count, sizeof(uint16_t));
    if (m->triangle_uvs != NULL)
        m->triangle_uvs = shrink_array(m->triangle_uvs, m->triangle_count, 3 * sizeof(uint32_t));
}

/* ---- Entry point ---- */

int mesh_parse_obj(const char *bytes, size_t len, const md_limits *lim, mesh **out, md_error *err)
{
    obj_parser op;
    memset(&op, 0, sizeof op);
    op.lim = lim;
    op.material = -1;
    op.max_vertices = clamp_limit(lim->max_vertices);
    op.max_uvs = clamp_limit(lim->max_uvs);
    op.max_triangles = clamp_limit(lim->max_triangles);
    op.max_sides = lim->max_polygon_sides;
    *out = NULL;

    int rc = mesh_text_begin(&op.text, bytes, len, "OBJ", err);
    if (rc != 0)
        goto done;
    op.m = mesh_alloc("obj");
    if (op.m == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        const char *line;
        const char *line_end;
        rc = mesh_text_next(&op.text, &line, &line_end, err);
        if (rc <= 0)
            break;
        rc = parse_statement(&op, line, line_end, err);
        if (rc != 0)
            goto done;
    }
    if (rc != 0)
        goto done;
    rc = finish_uvs(&op, err);
    if (rc != 0)
        goto done;
    shrink_to_fit(op.m);
    rc = mesh_validate(op.m, err);
done:
    mesh_text_end(&op.text);
    if (rc != 0) {
        mesh_free(op.m);
        return rc;
    }
    *out = op.m;
    return 0;
}
