/*
 * canon.c — the canonical mesh form (".mdm"): what the api stores after parsing an untrusted
 * upload once, and what the worker loads without touching the uploaded bytes again.
 *
 * Callers: the api's upload path (mesh_encode_canonical, on a libuv pool thread) and the worker
 * (mesh_decode_canonical). Both are pure functions of their arguments: no I/O, no globals, so
 * any thread may call them and the decoder can be fuzzed (tests/fuzz/fuzz_canon.c).
 *
 * Layout, all integers and floats little-endian, no padding anywhere:
 *
 *   header (48 bytes)
 *     u8[8]  magic "MDMESH\0" followed by the version byte (1)
 *     u8[16] format of the original upload ("obj", "glb", ...), NUL-padded
 *     u32    vertex_count     >= 1
 *     u32    triangle_count   >= 1
 *     u32    uv_count         0 when the mesh has no texture coordinates
 *     u32    material_count   >= 1
 *     u32    flags            bit 0: file vertex numbers follow the materials; bit 1:
 *                              material opacities follow those; bit 2: the opacities came
 *                              partly from MTL Tf (mesh_opacity_from_tf); other bits
 *                              reserved (a reader refuses bits it does not know)
 *     u32    reserved         0
 *   f32[3 * vertex_count]     positions
 *   u32[3 * triangle_count]   position indices
 *   f32[2 * uv_count]         texture coordinates
 *   u32[3 * triangle_count]   uv indices (only when uv_count > 0)
 *   u16[triangle_count]       material per triangle
 *   material_count times:
 *     u32 name length, name bytes (no NUL stored; none allowed inside)
 *     f32[3] diffuse colour
 *     u32 texture path length + 1 (0: no path), path bytes
 *     u32 PNG length (0: no texture), PNG bytes (RGBA8, written by img_encode_png)
 *   u32[vertex_count]         only with flags bit 0: each vertex's 0-based number in the
 *                             uploaded file (mesh_file_vertex), strictly increasing; absent
 *                             when they are 0, 1, 2, ... (OBJ, and welds that joined nothing)
 *   f32[material_count]       only with flags bit 1: each material's opacity, 0..1; absent
 *                             when every material is opaque (so such meshes encode exactly as
 *                             before opacity was read, and older readers still take them)
 *   end of input: trailing bytes are an error
 *
 * Invariants the decoder establishes before returning a mesh (mesh_int.h's, checked here with
 * "canonical mesh: ..." messages rather than trusted): counts within md_limits, every index in
 * range, every number finite, textures within the texture limits. Each count is checked against
 * the bytes that remain, with overflow-safe arithmetic, before anything is allocated, so a
 * short or hostile input cannot make the decoder allocate more than its own length (textures
 * aside, whose decoded size md_limits bounds).
 *
 * Not stored: the mtllib names (the api has resolved them; the worker has no files to find).
 */
#include "mesh/mesh_int.h"

#include <math.h>
#include <string.h>

#define CANON_MAGIC "MDMESH"
#define CANON_VERSION 1
#define CANON_FLAG_FILE_VERTICES 1u
#define CANON_FLAG_OPACITY 2u
#define CANON_FLAG_OPACITY_FROM_TF 4u
#define CANON_HEADER_BYTES 48
#define CANON_NAME_MAX 4096 /* material names and texture paths */
#define CANON_PNG_LEVEL 1   /* textures are re-read once per job: favour encoding speed */

/* ---- Writing ---- */

/* The blob grows in an md_buf (base/md.h); a failed append is kept in it. */

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put_u32(p, v);
}

/* Room for n more bytes; returns a pointer to them or NULL when out of memory. */
static uint8_t *reserve(md_buf *w, size_t n)
{
    return md_buf_grow(w, n);
}

static int write_u32(md_buf *w, uint32_t v)
{
    uint8_t *p = reserve(w, 4);
    if (p == NULL)
        return -1;
    put_u32(p, v);
    return 0;
}

static int write_bytes(md_buf *w, const void *data, size_t n)
{
    uint8_t *p = reserve(w, n);
    if (p == NULL)
        return -1;
    if (n > 0)
        memcpy(p, data, n);
    return 0;
}

static int write_f32s(md_buf *w, const float *v, size_t n)
{
    size_t bytes;
    uint8_t *p = md_mul_size(n, 4, &bytes) == 0 ? reserve(w, bytes) : NULL;
    if (p == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        put_f32(p + 4 * i, v[i]);
    return 0;
}

static int write_u32s(md_buf *w, const uint32_t *v, size_t n)
{
    size_t bytes;
    uint8_t *p = md_mul_size(n, 4, &bytes) == 0 ? reserve(w, bytes) : NULL;
    if (p == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        put_u32(p + 4 * i, v[i]);
    return 0;
}

static int write_string(md_buf *w, const char *s, int nullable)
{
    size_t n = s ? strlen(s) : 0;
    if (n > CANON_NAME_MAX)
        return -2;
    uint32_t field = nullable ? (s ? (uint32_t)n + 1 : 0) : (uint32_t)n;
    if (write_u32(w, field) != 0 || write_bytes(w, s, n) != 0)
        return -1;
    return 0;
}

int mesh_encode_canonical(const mesh *m, uint8_t **out, size_t *len, md_error *err)
{
    *out = NULL;
    *len = 0;
    /* Bounded by the mesh, which the limits bounded when it was read; the maximum only keeps
     * sizes from overflowing. */
    md_buf w;
    md_buf_init(&w, SIZE_MAX / 2);
    uint8_t *png = NULL;
    int rc = MD_ENOMEM;
    const char *what = "out of memory";

    /* Refuse to write what the reader would refuse: a format name of 1..15 visible ASCII. */
    size_t format_len = strnlen(m->format, sizeof m->format);
    int format_ok = format_len > 0 && format_len < 16;
    for (size_t i = 0; format_ok && i < format_len; i++)
        format_ok = m->format[i] > 0x20 && m->format[i] < 0x7f;
    if (!format_ok)
        return md_fail(err, MD_EINVAL,
                       "canonical mesh: format name '%.15s' is not 1 to 15 "
                       "visible ASCII characters",
                       m->format);

    uint8_t *h = reserve(&w, CANON_HEADER_BYTES);
    if (h == NULL)
        goto fail;
    memset(h, 0, CANON_HEADER_BYTES);
    memcpy(h, CANON_MAGIC, 6);
    h[7] = CANON_VERSION;
    memcpy(h + 8, m->format, format_len);
    put_u32(h + 24, m->vertex_count);
    put_u32(h + 28, m->triangle_count);
    put_u32(h + 32, m->uv_count);
    put_u32(h + 36, m->material_count);
    int translucent = 0;
    for (uint32_t i = 0; i < m->material_count; i++)
        translucent |= m->materials[i].opacity != 1.0f;
    put_u32(h + 40, (m->file_vertex != NULL ? CANON_FLAG_FILE_VERTICES : 0) |
                        (translucent ? CANON_FLAG_OPACITY : 0) |
                        (m->opacity_from_tf ? CANON_FLAG_OPACITY_FROM_TF : 0));

    size_t tris = 3 * (size_t)m->triangle_count;
    if (write_f32s(&w, m->positions, 3 * (size_t)m->vertex_count) != 0 ||
        write_u32s(&w, m->triangles, tris) != 0 ||
        write_f32s(&w, m->uvs, 2 * (size_t)m->uv_count) != 0 ||
        (m->uv_count > 0 && write_u32s(&w, m->triangle_uvs, tris) != 0))
        goto fail;
    uint8_t *p = reserve(&w, 2 * (size_t)m->triangle_count);
    if (p == NULL)
        goto fail;
    for (uint32_t i = 0; i < m->triangle_count; i++)
        put_u16(p + 2 * i, m->triangle_materials[i]);

    for (uint32_t i = 0; i < m->material_count; i++) {
        const struct mesh_material *mat = &m->materials[i];
        int wrc = write_string(&w, mat->name, 0);
        if (wrc == 0)
            wrc = write_f32s(&w, mat->kd, 3);
        if (wrc == 0)
            wrc = write_string(&w, mat->texture_path, 1);
        if (wrc == -2) {
            rc = MD_EINVAL;
            what = "a material name or texture path is longer than 4096 bytes";
            goto fail;
        }
        if (wrc != 0)
            goto fail;
        size_t png_len = 0;
        if (mat->texture != NULL) {
            rc = img_encode_png(img_pixels_const(mat->texture), img_width(mat->texture),
                                img_height(mat->texture), 4, CANON_PNG_LEVEL, &png, &png_len, err);
            if (rc != 0) {
                md_buf_free(&w);
                return md_error_prefix(err, "canonical mesh: material %u texture: ", i);
            }
            rc = MD_ENOMEM;
            if (png_len > UINT32_MAX) {
                rc = MD_ELIMIT;
                what = "a texture's PNG is larger than 4 GiB";
                goto fail;
            }
        }
        if (write_u32(&w, (uint32_t)png_len) != 0 || write_bytes(&w, png, png_len) != 0)
            goto fail;
        md_free(png);
        png = NULL;
    }
    if (m->file_vertex != NULL && write_u32s(&w, m->file_vertex, m->vertex_count) != 0)
        goto fail;
    for (uint32_t i = 0; translucent && i < m->material_count; i++)
        if (write_f32s(&w, &m->materials[i].opacity, 1) != 0)
            goto fail;
    *len = w.len;
    *out = (uint8_t *)w.data;
    return 0;

fail:
    md_free(png);
    md_buf_free(&w);
    return md_fail(err, rc, "canonical mesh: %s", what);
}

/* ---- Reading ---- */

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float get_f32(const uint8_t *p)
{
    uint32_t v = get_u32(p);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

/* Takes count items of size bytes from r; NULL (and r unchanged) when fewer bytes remain. */
static const uint8_t *take(reader *r, size_t count, size_t size)
{
    size_t bytes;
    if (md_mul_size(count, size, &bytes) != 0 || bytes > r->left)
        return NULL;
    const uint8_t *p = r->p;
    r->p += bytes;
    r->left -= bytes;
    return p;
}

static int truncated(md_error *err, const char *what, size_t need, size_t left)
{
    return md_fail(err, MD_EPARSE, "canonical mesh: truncated in %s (needs %zu bytes, %zu left)",
                   what, need, left);
}

/* Reads n floats (all finite) into a fresh array. */
static int read_f32s(reader *r, size_t n, const char *what, float **out, md_error *err)
{
    size_t left = r->left;
    const uint8_t *p = take(r, n, 4);
    if (p == NULL)
        return truncated(err, what, n > SIZE_MAX / 4 ? SIZE_MAX : 4 * n, left);
    float *v = md_malloc_array(n ? n : 1, sizeof *v);
    if (v == NULL)
        return md_fail(err, MD_ENOMEM, "canonical mesh: out of memory for %s", what);
    for (size_t i = 0; i < n; i++) {
        v[i] = get_f32(p + 4 * i);
        if (!isfinite(v[i])) {
            md_free(v);
            return md_fail(err, MD_EPARSE, "canonical mesh: %s item %zu is not finite", what, i);
        }
    }
    *out = v;
    return 0;
}

/* Reads n indices, each below bound, into a fresh array. */
static int read_indices(reader *r, size_t n, uint32_t bound, const char *what, uint32_t **out,
                        md_error *err)
{
    size_t left = r->left;
    const uint8_t *p = take(r, n, 4);
    if (p == NULL)
        return truncated(err, what, n > SIZE_MAX / 4 ? SIZE_MAX : 4 * n, left);
    uint32_t *v = md_malloc_array(n, sizeof *v);
    if (v == NULL)
        return md_fail(err, MD_ENOMEM, "canonical mesh: out of memory for %s", what);
    for (size_t i = 0; i < n; i++) {
        uint32_t index = get_u32(p + 4 * i);
        if (index >= bound) {
            md_free(v);
            return md_fail(err, MD_EPARSE,
                           "canonical mesh: %s: triangle %zu corner %zu is %u, but there are only "
                           "%u",
                           what, i / 3, i % 3, index, bound);
        }
        v[i] = index;
    }
    *out = v;
    return 0;
}

/* A length-prefixed string. nullable: the length field is stored + 1, and 0 means NULL. */
static int read_string(reader *r, uint32_t material, const char *what, int nullable, char **out,
                       md_error *err)
{
    *out = NULL;
    const uint8_t *p = take(r, 1, 4);
    if (p == NULL)
        return md_fail(err, MD_EPARSE, "canonical mesh: truncated in material %u %s length",
                       material, what);
    uint32_t n = get_u32(p);
    if (nullable) {
        if (n == 0)
            return 0;
        n--;
    }
    if (n > CANON_NAME_MAX)
        return md_fail(err, MD_EPARSE, "canonical mesh: material %u %s is %u bytes, longer than %d",
                       material, what, n, CANON_NAME_MAX);
    size_t left = r->left;
    const uint8_t *s = take(r, n, 1);
    if (s == NULL)
        return md_fail(err, MD_EPARSE,
                       "canonical mesh: truncated in material %u %s (needs %u bytes, %zu left)",
                       material, what, n, left);
    if (memchr(s, '\0', n) != NULL)
        return md_fail(err, MD_EPARSE, "canonical mesh: material %u %s contains a NUL byte",
                       material, what);
    *out = md_strndup((const char *)s, n);
    if (*out == NULL)
        return md_fail(err, MD_ENOMEM, "canonical mesh: out of memory");
    return 0;
}

static int read_material(reader *r, mesh *m, uint32_t i, const md_limits *lim, md_error *err)
{
    struct mesh_material *mat = &m->materials[i];
    int rc = read_string(r, i, "name", 0, &mat->name, err);
    if (rc != 0)
        return rc;
    const uint8_t *p = take(r, 3, 4);
    if (p == NULL)
        return md_fail(err, MD_EPARSE, "canonical mesh: truncated in material %u colour", i);
    for (int k = 0; k < 3; k++) {
        mat->kd[k] = get_f32(p + 4 * k);
        if (!isfinite(mat->kd[k]))
            return md_fail(err, MD_EPARSE, "canonical mesh: material %u colour is not finite", i);
    }
    rc = read_string(r, i, "texture path", 1, &mat->texture_path, err);
    if (rc != 0)
        return rc;
    p = take(r, 1, 4);
    if (p == NULL)
        return md_fail(err, MD_EPARSE, "canonical mesh: truncated in material %u texture length",
                       i);
    uint32_t png_len = get_u32(p);
    if (png_len == 0)
        return 0;
    if (png_len > lim->max_file_bytes)
        return md_fail(err, MD_ELIMIT,
                       "canonical mesh: material %u texture is %u bytes; the limit is %llu "
                       "(max_file_bytes)",
                       i, png_len, (unsigned long long)lim->max_file_bytes);
    size_t left = r->left;
    const uint8_t *png = take(r, png_len, 1);
    if (png == NULL)
        return md_fail(err, MD_EPARSE,
                       "canonical mesh: truncated in material %u texture (needs %u bytes, %zu "
                       "left)",
                       i, png_len, left);
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (png_len < 8 || memcmp(png, png_magic, 8) != 0)
        return md_fail(err, MD_EPARSE, "canonical mesh: material %u texture is not a PNG", i);
    rc = img_decode(png, png_len, lim, &mat->texture, err);
    if (rc != 0) {
        if (rc != MD_ELIMIT && rc != MD_ENOMEM)
            err->code = rc = MD_EPARSE;
        return md_error_prefix(err, "canonical mesh: material %u texture: ", i);
    }
    return 0;
}

static int check_count(uint32_t n, uint32_t min, uint64_t max, const char *what, const char *limit,
                       md_error *err)
{
    if (n < min)
        return md_fail(err, MD_EPARSE, "canonical mesh: %u %s (at least %u needed)", n, what, min);
    if (n > max)
        return md_fail(err, MD_ELIMIT, "canonical mesh: %u %s; the limit is %llu (%s)", n, what,
                       (unsigned long long)max, limit);
    return 0;
}

/* The file vertex numbers: vertex_count of them, strictly increasing. */
static int read_file_vertices(reader *r, mesh *m, md_error *err)
{
    const uint32_t V = m->vertex_count;
    size_t left = r->left;
    const uint8_t *p = take(r, V, 4);
    if (p == NULL)
        return truncated(err, "file vertex numbers", 4 * (size_t)V, left);
    m->file_vertex = md_malloc_array(V, sizeof *m->file_vertex);
    if (m->file_vertex == NULL)
        return md_fail(err, MD_ENOMEM, "canonical mesh: out of memory for file vertex numbers");
    for (uint32_t i = 0; i < V; i++) {
        m->file_vertex[i] = get_u32(p + 4 * (size_t)i);
        if (i > 0 && m->file_vertex[i] <= m->file_vertex[i - 1])
            return md_fail(err, MD_EPARSE,
                           "canonical mesh: file vertex numbers are not increasing at vertex %u "
                           "(%u after %u)",
                           i, m->file_vertex[i], m->file_vertex[i - 1]);
    }
    return 0;
}

static int decode_body(reader *r, const md_limits *lim, mesh *m, uint32_t flags, md_error *err)
{
    uint32_t V = m->vertex_count, T = m->triangle_count, U = m->uv_count;
    size_t tris = 3 * (size_t)T;
    const int file_vertices = (flags & CANON_FLAG_FILE_VERTICES) != 0;
    const int opacities = (flags & CANON_FLAG_OPACITY) != 0;

    /* Every fixed-size array must fit in what remains before any of them is allocated. */
    size_t need = 0, part;
    int overflow = md_mul_size(V, 12, &part) || md_add_size(need, part, &need) ||
                   md_mul_size(T, 12 + 2, &part) || md_add_size(need, part, &need) ||
                   md_mul_size(U, 8, &part) || md_add_size(need, part, &need) ||
                   (U > 0 && (md_mul_size(T, 12, &part) || md_add_size(need, part, &need)));
    if (overflow || need > r->left)
        return md_fail(err, MD_EPARSE,
                       "canonical mesh: truncated: %u vertices, %u triangles and %u texture "
                       "coordinates need %zu bytes, %zu left",
                       V, T, U, overflow ? SIZE_MAX : need, r->left);

    int rc = read_f32s(r, 3 * (size_t)V, "positions", &m->positions, err);
    if (rc == 0)
        rc = read_indices(r, tris, V, "triangles", &m->triangles, err);
    if (rc == 0 && U > 0)
        rc = read_f32s(r, 2 * (size_t)U, "texture coordinates", &m->uvs, err);
    if (rc == 0 && U > 0)
        rc = read_indices(r, tris, U, "triangle texture coordinates", &m->triangle_uvs, err);
    if (rc != 0)
        return rc;

    const uint8_t *p = take(r, T, 2);
    if (p == NULL)
        return truncated(err, "triangle materials", 2 * (size_t)T, r->left);
    m->triangle_materials = md_malloc_array(T, sizeof *m->triangle_materials);
    if (m->triangle_materials == NULL)
        return md_fail(err, MD_ENOMEM, "canonical mesh: out of memory");
    for (uint32_t i = 0; i < T; i++) {
        uint16_t v = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
        if (v >= m->material_count)
            return md_fail(err, MD_EPARSE,
                           "canonical mesh: triangle %u uses material %u, but there are only %u", i,
                           v, m->material_count);
        m->triangle_materials[i] = v;
    }

    /* Each material takes at least 24 bytes, so the count is checked against what is left. */
    uint32_t count = m->material_count;
    if ((size_t)count > r->left / 24)
        return md_fail(err, MD_EPARSE,
                       "canonical mesh: truncated: %u materials cannot fit in %zu bytes", count,
                       r->left);
    m->materials = md_calloc(count, sizeof *m->materials);
    if (m->materials == NULL)
        return md_fail(err, MD_ENOMEM, "canonical mesh: out of memory");
    for (uint32_t i = 0; i < count; i++) {
        rc = read_material(r, m, i, lim, err);
        if (rc != 0)
            return rc;
    }
    if (file_vertices) {
        rc = read_file_vertices(r, m, err);
        if (rc != 0)
            return rc;
    }
    for (uint32_t i = 0; i < count; i++)
        m->materials[i].opacity = 1.0f;
    if (opacities) {
        size_t left = r->left;
        const uint8_t *op = take(r, count, 4);
        if (op == NULL)
            return truncated(err, "material opacities", 4 * (size_t)count, left);
        for (uint32_t i = 0; i < count; i++) {
            float v = get_f32(op + 4 * i);
            if (!(v >= 0.0f && v <= 1.0f))
                return md_fail(err, MD_EPARSE,
                               "canonical mesh: material %u opacity %g is not in 0..1", i,
                               (double)v);
            m->materials[i].opacity = v;
        }
    }
    if (r->left != 0)
        return md_fail(err, MD_EPARSE,
                       "canonical mesh: %zu unexpected bytes after the last "
                       "material",
                       r->left);
    return 0;
}

int mesh_decode_canonical(const uint8_t *bytes, size_t len, const md_limits *lim, mesh **out,
                          md_error *err)
{
    *out = NULL;
    if (len < CANON_HEADER_BYTES)
        return md_fail(err, MD_EPARSE,
                       "canonical mesh: %zu bytes is shorter than the %d-byte header", len,
                       CANON_HEADER_BYTES);
    if (memcmp(bytes, CANON_MAGIC "\0", 7) != 0)
        return md_fail(err, MD_EPARSE, "canonical mesh: bad magic (not an MDMESH file)");
    if (bytes[7] != CANON_VERSION)
        return md_fail(err, MD_EPARSE,
                       "canonical mesh: version %u is not supported (this build reads %d)",
                       bytes[7], CANON_VERSION);
    const uint8_t *name = bytes + 8;
    size_t name_len = strnlen((const char *)name, 16);
    if (name_len == 0 || name_len == 16)
        return md_fail(err, MD_EPARSE, "canonical mesh: format name is empty or unterminated");
    for (size_t i = 0; i < 16; i++) {
        int c = name[i];
        int ok = i < name_len ? c > 0x20 && c < 0x7f : c == 0;
        if (!ok)
            return md_fail(err, MD_EPARSE, "canonical mesh: format name has byte 0x%02x at %zu", c,
                           i);
    }
    uint32_t V = get_u32(bytes + 24), T = get_u32(bytes + 28), U = get_u32(bytes + 32);
    uint32_t M = get_u32(bytes + 36), flags = get_u32(bytes + 40);
    const uint32_t known =
        CANON_FLAG_FILE_VERTICES | CANON_FLAG_OPACITY | CANON_FLAG_OPACITY_FROM_TF;
    if ((flags & ~known) != 0 || get_u32(bytes + 44) != 0)
        return md_fail(err, MD_EPARSE, "canonical mesh: unknown flags 0x%x", flags);
    uint64_t max_materials = lim->max_materials < UINT16_MAX ? lim->max_materials : UINT16_MAX;
    int rc = check_count(V, 1, lim->max_vertices, "vertices", "max_vertices", err);
    if (rc == 0)
        rc = check_count(T, 1, lim->max_triangles, "triangles", "max_triangles", err);
    if (rc == 0)
        rc = check_count(U, 0, lim->max_uvs, "texture coordinates", "max_uvs", err);
    if (rc == 0)
        rc = check_count(M, 1, max_materials, "materials", "max_materials", err);
    if (rc != 0)
        return rc;

    char format[16];
    memcpy(format, name, name_len + 1);
    mesh *m = mesh_alloc(format);
    if (m == NULL)
        return md_fail(err, MD_ENOMEM, "canonical mesh: out of memory");
    m->vertex_count = V;
    m->triangle_count = T;
    m->uv_count = U;
    m->material_count = M;
    reader r = {bytes + CANON_HEADER_BYTES, len - CANON_HEADER_BYTES};
    m->opacity_from_tf = (flags & CANON_FLAG_OPACITY_FROM_TF) != 0;
    rc = decode_body(&r, lim, m, flags, err);
    if (rc != 0) {
        /* mesh_free walks material_count entries; only those allocated exist. */
        if (m->materials == NULL)
            m->material_count = 0;
        mesh_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
