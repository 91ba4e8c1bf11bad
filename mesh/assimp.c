/*
 * assimp.c — mesh_parse_assimp(): FBX and glTF 2.0 (.gltf/.glb) through assimp, turned into the
 * OBJ-style model of mesh_int.h, and PLY through our own reader (ply.c: assimp 5.2's PLY
 * reader crashes on malformed files). Called by mesh_load() (and the fuzz targets) with the
 * whole file in memory; any thread may call it (see "Thread safety").
 *
 * Why we weld. assimp splits a vertex wherever any attribute differs (FBX even splits every
 * face corner), but a morph needs positions shared by triangles, with UVs indexed separately
 * per corner, as OBJ stores them. So transformed positions that are bit-identical become one
 * position (first occurrence wins, in node traversal order: depth-first, children in file
 * order, meshes in node order, vertices in mesh order), and UVs are kept per triangle corner
 * (deduplicated, so their count stays near the file's). Each welded position keeps the number of
 * the first file vertex welded into it, and positions are ordered by those numbers
 * (file_vertex.c): a binary FBX with one geometry numbers its control points, whatever order its
 * polygons visit them in (so its vertices line up with an OBJ of the same mesh); other files
 * number assimp's vertices in the walk's order. Two files of a same-topology pair
 * exported by the same tool have their vertices in the same order, so they weld to the same
 * indices; a UV seam or a normal split never splits a position. The one way a pair can weld
 * differently is two distinct vertices that coincide exactly in one mesh and not in the other
 * (lips exactly closed in one face only); mesh_check_topology() reports that as a mismatch.
 * Only aiProcess_Triangulate and aiProcess_SortByPType run: any step that joins or reorders
 * vertices would make the result depend on the data instead of the structure. One data
 * dependence remains in assimp: it splits a concave quad along its other diagonal, so an FBX
 * quad that is concave in one face and convex in the other triangulates differently (the
 * topology check says so); files exported as triangles (GLB always) are immune. A node
 * transform that mirrors swaps two corners of each triangle, so front faces stay front faces.
 *
 * Sandbox. assimp is handed an aiFileIO that serves the file's own bytes and refuses every
 * other name. Left to itself, assimp resolves a glTF's external buffers (and other formats'
 * companion files) against the process's working directory, so an uploaded file could read
 * /etc/passwd as vertex data or block on /dev/stdin. The parser does no I/O: external buffers
 * fail with a message saying to embed them (.glb); external textures are recorded as paths for
 * mesh_load() to resolve beside the mesh.
 *
 * Thread safety. The C API keeps the last error in a global std::string that every failed
 * import assigns, so concurrent failing imports would race on it. One mutex covers the import
 * and the copy of its error text. A parse costs tens of milliseconds for a face-sized mesh, a
 * small part of a job.
 *
 * Limits. Counts from the scene are checked against md_limits before anything proportional to
 * them is allocated. assimp itself allocates what a file declares and expands what it
 * references before noticing that the data is not there, and Debian's build aborts the
 * process on a failed internal assertion; so each format's structure (binary FBX compressed
 * arrays, ASCII FBX embedded base64, the glTF node graph) is checked cheaply before assimp
 * sees the bytes, and FBX skin weights and animations are not converted at all. See "Checks
 * before assimp sees the bytes" for the files that motivated each check. Some crash of
 * assimp on a crafted file is still likely (it is a large C++ parser run in our process);
 * mutation fuzzing of every format sample found none after these checks.
 *
 * Ownership: bytes and hint are borrowed; *out receives a mesh the caller frees.
 */
#define _GNU_SOURCE
#include "mesh/mesh_int.h"
#include "mesh/ply.h"
#include "mesh/weld.h"

#include <assimp/cfileio.h>
#include <assimp/cimport.h>
#include <assimp/config.h>
#include <assimp/GltfMaterial.h>
#include <assimp/material.h>
#include <assimp/postprocess.h>
#include <assimp/scene.h>
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Node trees deeper than this, or with more nodes than this, are refused: assimp builds them
 * recursively from the file, and a cyclic or adversarial glTF node graph can be huge. */
#define NODE_DEPTH_MAX 64
#define NODE_VISITS_MAX 1000000u

/* ---- Sandboxed file access for assimp ---- */

struct sandbox {
    const uint8_t *bytes;
    size_t len;
    char name[32];     /* the only name that opens: "mesh.<hint>" */
    char refused[256]; /* first other name assimp asked for, for the error message */
};

struct sandbox_file {
    struct aiFile file; /* first member: assimp hands us back this pointer */
    const struct sandbox *box;
    size_t pos;
};

static size_t sandbox_read(struct aiFile *file, char *buf, size_t size, size_t count)
{
    struct sandbox_file *f = (struct sandbox_file *)(void *)file;
    if (size == 0 || count == 0 || f->pos >= f->box->len)
        return 0;
    size_t avail = (f->box->len - f->pos) / size;
    size_t n = count < avail ? count : avail;
    memcpy(buf, f->box->bytes + f->pos, n * size);
    f->pos += n * size;
    return n;
}

static size_t sandbox_write(struct aiFile *file, const char *buf, size_t size, size_t count)
{
    (void)file;
    (void)buf;
    (void)size;
    (void)count;
    return 0;
}

static size_t sandbox_tell(struct aiFile *file)
{
    return ((struct sandbox_file *)(void *)file)->pos;
}

static size_t sandbox_size(struct aiFile *file)
{
    return ((struct sandbox_file *)(void *)file)->box->len;
}

static enum aiReturn sandbox_seek(struct aiFile *file, size_t offset, enum aiOrigin origin)
{
    struct sandbox_file *f = (struct sandbox_file *)(void *)file;
    if (origin != aiOrigin_SET && origin != aiOrigin_CUR && origin != aiOrigin_END)
        return aiReturn_FAILURE;
    size_t base = origin == aiOrigin_SET ? 0 : origin == aiOrigin_CUR ? f->pos : f->box->len;
    /* Seeking backwards passes a wrapped-around size_t; unsigned addition undoes the wrap. */
    size_t target = base + offset;
    if (target > f->box->len)
        return aiReturn_FAILURE;
    f->pos = target;
    return aiReturn_SUCCESS;
}

static void sandbox_flush(struct aiFile *file)
{
    (void)file;
}

static struct aiFile *sandbox_open(struct aiFileIO *io, const char *name, const char *mode)
{
    struct sandbox *box = (struct sandbox *)(void *)io->UserData;
    if (strcmp(name, box->name) != 0 || mode == NULL || mode[0] != 'r') {
        if (box->refused[0] == '\0' && strcmp(name, box->name) != 0)
            snprintf(box->refused, sizeof box->refused, "%s", name);
        return NULL;
    }
    struct sandbox_file *f = md_calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->file.ReadProc = sandbox_read;
    f->file.WriteProc = sandbox_write;
    f->file.TellProc = sandbox_tell;
    f->file.FileSizeProc = sandbox_size;
    f->file.SeekProc = sandbox_seek;
    f->file.FlushProc = sandbox_flush;
    f->box = box;
    return &f->file;
}

static void sandbox_close(struct aiFileIO *io, struct aiFile *file)
{
    (void)io;
    md_free(file);
}

/* ---- Checks before assimp sees the bytes ----
 *
 * assimp allocates what a file declares and expands what a file references, before it can
 * notice that the data is not there. Each check below reads only the structure of the file,
 * in time linear in its size, and fails with a message that says what is wrong. */

/* -- Binary FBX: compressed arrays -- */

/* The most an FBX file's arrays may inflate to, relative to the file: real files stay near
 * 2x (face meshes, the assimp samples); a zlib bomb reaches 1000x. */
#define FBX_INFLATE_RATIO 32
#define FBX_INFLATE_FLOOR (64u << 20)
#define FBX_DEPTH_MAX 64

struct fbx_scan {
    const uint8_t *bytes;
    size_t len;
    int wide;             /* FBX 7500+: 64-bit record header fields */
    uint64_t inflated;    /* array bytes so far */
    uint64_t inflate_max; /* budget for inflated */
    uint8_t scratch[16384];
};

static uint64_t fbx_u32(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

static uint64_t fbx_u64(const uint8_t *p)
{
    return fbx_u32(p) | fbx_u32(p + 4) << 32;
}

/* Inflates one array into scratch space, counting bytes; true size must match declared. */
static int fbx_inflate_count(struct fbx_scan *s, const uint8_t *in, size_t in_len,
                             uint64_t declared, size_t at, md_error *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return md_fail(err, MD_ENOMEM, "out of memory inflating FBX data");
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    uint64_t total = 0;
    int zrc = Z_OK;
    int rc = 0;
    while (zrc == Z_OK) {
        z.next_out = s->scratch;
        z.avail_out = sizeof s->scratch;
        zrc = inflate(&z, Z_NO_FLUSH);
        total += sizeof s->scratch - z.avail_out;
        if (total > declared || s->inflated + total > s->inflate_max)
            break;
    }
    if (s->inflated + total > s->inflate_max)
        rc = md_fail(err, MD_ELIMIT,
                     "the FBX file's compressed arrays inflate to more than %llu bytes (%dx the "
                     "file size); it looks like a decompression bomb",
                     (unsigned long long)s->inflate_max, FBX_INFLATE_RATIO);
    else if (zrc != Z_STREAM_END || total != declared)
        rc = md_fail(err, MD_EPARSE,
                     "the FBX file is damaged: the compressed array at byte %zu declares %llu "
                     "bytes but holds %s%llu",
                     at, (unsigned long long)declared, zrc == Z_STREAM_END ? "" : "at least ",
                     (unsigned long long)total);
    s->inflated += total;
    inflateEnd(&z);
    return rc;
}

/* Walks the properties of one node record: [p, end). */
static int fbx_scan_properties(struct fbx_scan *s, size_t p, size_t end, uint64_t count,
                               md_error *err)
{
    const uint8_t *b = s->bytes;
    for (uint64_t i = 0; i < count; i++) {
        if (p >= end)
            return md_fail(err, MD_EPARSE,
                           "the FBX file is damaged: properties overrun their "
                           "record at byte %zu",
                           p);
        char type = (char)b[p++];
        size_t fixed = 0, stride = 0;
        switch (type) {
        case 'C':
            fixed = 1;
            break;
        case 'Y':
            fixed = 2;
            break;
        case 'I':
        case 'F':
            fixed = 4;
            break;
        case 'D':
        case 'L':
            fixed = 8;
            break;
        case 'b':
        case 'c':
            stride = 1;
            break;
        case 'i':
        case 'f':
            stride = 4;
            break;
        case 'd':
        case 'l':
            stride = 8;
            break;
        case 'S':
        case 'R':
            break;
        default:
            return md_fail(err, MD_EPARSE,
                           "the FBX file is damaged: unknown property type 0x%02x at byte %zu",
                           (unsigned)(uint8_t)type, p - 1);
        }
        if (fixed > 0) {
            p += fixed;
            continue;
        }
        size_t header = stride > 0 ? 12 : 4;
        if (end - p < header)
            return md_fail(err, MD_EPARSE, "the FBX file is damaged at byte %zu", p);
        uint64_t n = fbx_u32(b + p + (stride > 0 ? 8 : 0)); /* bytes stored */
        if (n > end - p - header)
            return md_fail(err, MD_EPARSE,
                           "the FBX file is damaged: a property at byte %zu claims %llu bytes, "
                           "past the end of its record",
                           p, (unsigned long long)n);
        if (stride > 0) {
            uint64_t declared = fbx_u32(b + p) * (uint64_t)stride;
            uint64_t encoding = fbx_u32(b + p + 4);
            if (encoding == 0 && declared != n)
                return md_fail(err, MD_EPARSE,
                               "the FBX file is damaged: the array at byte %zu declares %llu "
                               "bytes but stores %llu",
                               p, (unsigned long long)declared, (unsigned long long)n);
            if (encoding == 0)
                s->inflated += n;
            else if (encoding == 1) {
                int rc = fbx_inflate_count(s, b + p + header, (size_t)n, declared, p, err);
                if (rc != 0)
                    return rc;
            } else
                return md_fail(err, MD_EPARSE,
                               "the FBX file is damaged: unknown array encoding %llu at byte %zu",
                               (unsigned long long)encoding, p);
        }
        p += header + (size_t)n;
    }
    return 0;
}

/* Walks the node records in [off, limit); depth counts nesting. */
static int fbx_scan_records(struct fbx_scan *s, size_t off, size_t limit, int depth, md_error *err)
{
    const uint8_t *b = s->bytes;
    size_t header = s->wide ? 25 : 13;
    if (depth > FBX_DEPTH_MAX)
        return md_fail(err, MD_ELIMIT, "the FBX file nests records more than %d deep",
                       FBX_DEPTH_MAX);
    while (limit - off >= header) {
        uint64_t end = s->wide ? fbx_u64(b + off) : fbx_u32(b + off);
        uint64_t props = s->wide ? fbx_u64(b + off + 8) : fbx_u32(b + off + 4);
        uint64_t props_len = s->wide ? fbx_u64(b + off + 16) : fbx_u32(b + off + 8);
        size_t name_len = b[off + header - 1];
        if (end == 0)
            return 0; /* the null record that closes a list */
        if (end <= off || end > limit || end - off < header + name_len ||
            props_len > end - off - header - name_len)
            return md_fail(err, MD_EPARSE,
                           "the FBX file is damaged: the record at byte %zu ends at byte %llu, "
                           "outside its parent (which ends at byte %zu)",
                           off, (unsigned long long)end, limit);
        size_t p = off + header + name_len;
        int rc = fbx_scan_properties(s, p, p + (size_t)props_len, props, err);
        if (rc != 0)
            return rc;
        if (p + props_len < end) {
            rc = fbx_scan_records(s, p + (size_t)props_len, (size_t)end, depth + 1, err);
            if (rc != 0)
                return rc;
        }
        off = (size_t)end;
    }
    return 0;
}

/* -- ASCII FBX: embedded file contents -- */

static int is_base64(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Checks the base64 of every "Content:" (embedded textures) in an ASCII FBX file: assimp 5.2
 * writes out of bounds decoding base64 that holds anything else, so one space or line break
 * inside an embedded PNG crashed the process (SIGSEGV; a double free under ASan). The value
 * is one or more quoted strings separated by commas, each base64 on its own (exporters that
 * split the data pad every fragment). */
static int fbx_ascii_precheck(const uint8_t *bytes, size_t len, md_error *err)
{
    static const char key[] = "Content:";
    const size_t key_len = sizeof key - 1;
    for (size_t at = 0; at + key_len <= len;) {
        const uint8_t *hit = memmem(bytes + at, len - at, key, key_len);
        if (hit == NULL)
            break;
        size_t p = (size_t)(hit - bytes) + key_len;
        at = p;
        if (hit > bytes && !isspace(hit[-1]))
            continue; /* part of a longer word or a string, not a key */
        for (;;) {
            while (p < len && (isspace(bytes[p]) || bytes[p] == ','))
                p++;
            if (p >= len || bytes[p] != '"')
                break;
            /* One quoted fragment: base64, '=' padding (at most two) only at its end. */
            size_t padding = 0;
            for (p++; p < len && bytes[p] != '"'; p++) {
                if (bytes[p] == '=' && padding < 2) {
                    padding++;
                    continue;
                }
                if (padding > 0 || !is_base64(bytes[p]))
                    return md_fail(err, MD_EPARSE,
                                   "the FBX file is damaged: the embedded file data at byte %zu "
                                   "is not base64 (byte 0x%02x at %zu)",
                                   (size_t)(hit - bytes), bytes[p], p);
            }
            p++; /* the closing quote */
        }
        at = p;
    }
    return 0;
}

/* Checks a binary FBX file's arrays before assimp inflates them: assimp sizes its buffer from
 * the declared element count, so an 800 KB file declaring a billion indices made it allocate
 * 21 GB and spin for minutes. Every compressed array is inflated here into a small scratch
 * buffer (a few ms for a face mesh) and must hold exactly what it declares; all of them
 * together must stay within FBX_INFLATE_RATIO times the file size. ASCII FBX files declare
 * counts that assimp only reserves, which costs no memory until the values are there. */
static int fbx_precheck(const uint8_t *bytes, size_t len, const md_limits *lim, md_error *err)
{
    static const char magic[] = "Kaydara FBX Binary  ";
    if (len < 27 || memcmp(bytes, magic, sizeof magic) != 0)
        return fbx_ascii_precheck(bytes, len, err); /* ASCII, or not FBX at all */
    struct fbx_scan *s = md_malloc(sizeof *s);
    if (s == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    s->bytes = bytes;
    s->len = len;
    s->wide = fbx_u32(bytes + 23) >= 7500;
    s->inflated = 0;
    /* FBX_INFLATE_RATIO times the file, at least FBX_INFLATE_FLOOR, at most 4x the largest
     * file allowed. */
    uint64_t budget = (uint64_t)len * FBX_INFLATE_RATIO;
    uint64_t ceiling = lim->max_file_bytes <= UINT64_MAX / 4 ? 4 * lim->max_file_bytes : UINT64_MAX;
    budget = budget > FBX_INFLATE_FLOOR ? budget : FBX_INFLATE_FLOOR;
    s->inflate_max = budget < ceiling ? budget : ceiling;
    int rc = fbx_scan_records(s, 27, len, 0, err);
    md_free(s);
    return rc;
}

/* -- glTF: the node graph -- */

/* Counts the nodes assimp will create under node i (it copies a node once per path that
 * reaches it) and checks the depth; memoised, so linear in the file. state: 0 new, 1 on the
 * current path, 2 done (size[i] valid). Recursion stops at NODE_DEPTH_MAX. */
static int gltf_node_size(json_t *nodes, size_t i, int depth, uint8_t *state, uint64_t *size,
                          md_error *err)
{
    if (depth > NODE_DEPTH_MAX)
        return md_fail(err, MD_ELIMIT, "the glTF node tree is more than %d levels deep",
                       NODE_DEPTH_MAX);
    if (state[i] == 2)
        return 0;
    if (state[i] == 1)
        return md_fail(err, MD_EPARSE,
                       "the glTF file is damaged: node %zu is its own ancestor (a cycle)", i);
    state[i] = 1;
    uint64_t total = 1;
    json_t *children = json_object_get(json_array_get(nodes, i), "children");
    for (size_t k = 0; k < json_array_size(children); k++) {
        json_t *child = json_array_get(children, k);
        json_int_t c = json_is_integer(child) ? json_integer_value(child) : -1;
        if (c < 0 || (size_t)c >= json_array_size(nodes))
            return md_fail(err, MD_EPARSE,
                           "the glTF file is damaged: node %zu has child %lld, but there are "
                           "%zu nodes",
                           i, (long long)c, json_array_size(nodes));
        int rc = gltf_node_size(nodes, (size_t)c, depth + 1, state, size, err);
        if (rc != 0)
            return rc;
        total += size[c];
        if (total > NODE_VISITS_MAX)
            break;
    }
    size[i] = total > NODE_VISITS_MAX ? NODE_VISITS_MAX + 1ull : total;
    state[i] = 2;
    return 0;
}

/* Parses the glTF JSON (of a .gltf file, or a .glb's first chunk) and checks the node graph
 * before assimp expands it: a 41-node file in which each node lists the next one twice as a
 * child made assimp build 2^40 nodes (23 GB, then killed). JSON nesting deeper than jansson's
 * limit (2048) is refused here too, before assimp's recursive JSON reader sees it. */
static int gltf_precheck(const uint8_t *bytes, size_t len, md_error *err)
{
    const char *text = (const char *)bytes;
    size_t text_len = len;
    json_t *root = NULL;
    uint8_t *state = NULL;
    uint64_t *size = NULL;
    int rc = 0;
    if (len >= 12 && memcmp(bytes, "glTF", 4) == 0) {
        uint64_t version = fbx_u32(bytes + 4);
        if (version != 2) {
            rc = md_fail(err, MD_EFORMAT,
                         "this is a glTF %llu binary file; only glTF 2.0 is supported "
                         "(re-export it as glTF 2.0)",
                         (unsigned long long)version);
            goto done;
        }
        uint64_t chunk = len >= 20 ? fbx_u32(bytes + 12) : 0;
        if (len < 20 || memcmp(bytes + 16, "JSON", 4) != 0 || chunk > len - 20) {
            rc = md_fail(err, MD_EPARSE,
                         "the GLB file is damaged: its JSON chunk is missing or "
                         "runs past the end of the file");
            goto done;
        }
        text = (const char *)bytes + 20;
        text_len = (size_t)chunk;
    }
    json_error_t jerr;
    root = json_loadb(text, text_len, 0, &jerr);
    if (root == NULL) {
        rc = md_fail(err, MD_EPARSE, "the glTF JSON is malformed at line %d, column %d: %s",
                     jerr.line, jerr.column, jerr.text);
        goto done;
    }
    const char *version =
        json_string_value(json_object_get(json_object_get(root, "asset"), "version"));
    if (version != NULL && version[0] != '2') {
        rc = md_fail(err, MD_EFORMAT,
                     "this is a glTF %s file; only glTF 2.0 is supported (re-export it as glTF "
                     "2.0)",
                     version);
        goto done;
    }
    json_t *nodes = json_object_get(root, "nodes");
    size_t n = json_array_size(nodes);
    if (n == 0)
        goto done;
    state = md_calloc(n, 1);
    size = md_calloc(n, sizeof *size);
    if (state == NULL || size == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory checking %zu glTF nodes", n);
        goto done;
    }
    uint64_t total = 0;
    json_t *scenes = json_object_get(root, "scenes");
    for (size_t s = 0; s < json_array_size(scenes) && total <= NODE_VISITS_MAX; s++) {
        json_t *roots = json_object_get(json_array_get(scenes, s), "nodes");
        for (size_t k = 0; k < json_array_size(roots) && total <= NODE_VISITS_MAX; k++) {
            json_t *r = json_array_get(roots, k);
            json_int_t i = json_is_integer(r) ? json_integer_value(r) : -1;
            if (i < 0 || (size_t)i >= n) {
                rc = md_fail(err, MD_EPARSE,
                             "the glTF file is damaged: scene %zu names node %lld, but there are "
                             "%zu nodes",
                             s, (long long)i, n);
                goto done;
            }
            rc = gltf_node_size(nodes, (size_t)i, 0, state, size, err);
            if (rc != 0)
                goto done;
            total += size[i];
        }
    }
    if (total > NODE_VISITS_MAX)
        rc = md_fail(err, MD_ELIMIT,
                     "the glTF scene expands to more than %u nodes (nodes shared by several "
                     "parents are copied once per parent)",
                     NODE_VISITS_MAX);
done:
    json_decref(root);
    md_free(state);
    md_free(size);
    return rc;
}

int mesh_assimp_precheck(const uint8_t *bytes, size_t len, const char *ext, const md_limits *lim,
                         md_error *err)
{
    if (strcmp(ext, "fbx") == 0)
        return fbx_precheck(bytes, len, lim, err);
    if (strcmp(ext, "glb") == 0 || strcmp(ext, "gltf") == 0)
        return gltf_precheck(bytes, len, err);
    return 0;
}

/* ---- Scene walk ---- */

/* A node with its accumulated transformation, row-major like aiMatrix4x4 (a1..d4). */
struct xform {
    double m[3][4];
};

static void xform_mul(struct xform *out, const struct xform *parent, const struct aiMatrix4x4 *t)
{
    const double local[4][4] = {{t->a1, t->a2, t->a3, t->a4},
                                {t->b1, t->b2, t->b3, t->b4},
                                {t->c1, t->c2, t->c3, t->c4},
                                {t->d1, t->d2, t->d3, t->d4}};
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) {
            double s = 0;
            for (int k = 0; k < 4; k++)
                s += (k < 3 ? parent->m[r][k] : (r == k ? 1.0 : 0.0)) * local[k][c];
            out->m[r][c] = s;
        }
}

static int xform_is_identity(const struct xform *x)
{
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            if (x->m[r][c] != (r == c ? 1.0 : 0.0))
                return 0;
    return 1;
}

static double xform_det(const struct xform *x)
{
    const double(*m)[4] = x->m;
    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
           m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
           m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

/* What one depth-first walk visits: each (node, mesh) pair is an instance of that mesh. */
struct instance {
    const struct aiMesh *mesh;
    struct xform world;
};

struct walk {
    const struct aiScene *scene;
    struct instance *instances; /* owned */
    size_t count, cap;
    uint32_t node_visits;
};

static int walk_push(struct walk *w, const struct aiMesh *am, const struct xform *world,
                     md_error *err)
{
    if (w->count == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        struct instance *grown = md_realloc_array(w->instances, cap, sizeof *grown);
        if (grown == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory walking the scene");
        w->instances = grown;
        w->cap = cap;
    }
    w->instances[w->count].mesh = am;
    w->instances[w->count].world = *world;
    w->count++;
    return 0;
}

/* Depth-first, children in file order; recursion depth is capped, so the C stack is bounded. */
static int walk_node(struct walk *w, const struct aiNode *node, const struct xform *parent,
                     int depth, md_error *err)
{
    if (depth > NODE_DEPTH_MAX)
        return md_fail(err, MD_ELIMIT,
                       "the scene's node tree is more than %d levels deep (a cycle in the file?)",
                       NODE_DEPTH_MAX);
    if (++w->node_visits > NODE_VISITS_MAX)
        return md_fail(err, MD_ELIMIT, "the scene has more than %u nodes", NODE_VISITS_MAX);
    struct xform world;
    xform_mul(&world, parent, &node->mTransformation);
    for (unsigned i = 0; i < node->mNumMeshes; i++) {
        unsigned index = node->mMeshes[i];
        if (index >= w->scene->mNumMeshes || w->scene->mMeshes[index] == NULL)
            return md_fail(err, MD_EPARSE, "node '%s' refers to mesh %u, but the file has %u",
                           node->mName.data, index, w->scene->mNumMeshes);
        const struct aiMesh *am = w->scene->mMeshes[index];
        if ((am->mPrimitiveTypes & aiPrimitiveType_TRIANGLE) == 0)
            continue; /* points and lines: SortByPType put them in meshes of their own */
        int rc = walk_push(w, am, &world, err);
        if (rc != 0)
            return rc;
    }
    if (node->mNumChildren > 0 && node->mChildren == NULL)
        return md_fail(err, MD_EPARSE, "node '%s' declares children but has none",
                       node->mName.data);
    for (unsigned i = 0; i < node->mNumChildren; i++) {
        if (node->mChildren[i] == NULL)
            continue;
        int rc = walk_node(w, node->mChildren[i], &world, depth + 1, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- Materials and textures ---- */

static const char *short_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *backslash = strrchr(path, '\\');
    if (backslash != NULL && (slash == NULL || backslash > slash))
        slash = backslash;
    return slash ? slash + 1 : path;
}

/* The embedded texture a material path names: "*N" by index, otherwise by full or short file
 * name (aiScene::GetEmbeddedTexture, which the C API lacks). NULL when the path is external.
 * Sets *bad_index when "*N" is out of range. */
static const struct aiTexture *find_embedded(const struct aiScene *scene, const char *path,
                                             int *bad_index)
{
    *bad_index = 0;
    if (path[0] == '*') {
        char *end;
        unsigned long index = strtoul(path + 1, &end, 10);
        if (end == path + 1 || *end != '\0' || index >= scene->mNumTextures ||
            scene->mTextures[index] == NULL) {
            *bad_index = 1;
            return NULL;
        }
        return scene->mTextures[index];
    }
    for (unsigned i = 0; i < scene->mNumTextures; i++) {
        const struct aiTexture *t = scene->mTextures[i];
        if (t != NULL && strcmp(t->mFilename.data, path) == 0)
            return t;
    }
    const char *want = short_name(path);
    for (unsigned i = 0; i < scene->mNumTextures; i++) {
        const struct aiTexture *t = scene->mTextures[i];
        if (t != NULL && t->mFilename.length > 0 &&
            strcmp(short_name(t->mFilename.data), want) == 0)
            return t;
    }
    return NULL;
}

static int decode_embedded(const struct aiTexture *tex, const md_limits *lim, img **out,
                           md_error *err)
{
    *out = NULL;
    if (tex->pcData == NULL)
        return md_fail(err, MD_EPARSE, "the embedded texture has no data");
    if (tex->mHeight == 0) /* compressed: mWidth bytes of a PNG/JPEG/... file */
        return img_decode((const uint8_t *)tex->pcData, tex->mWidth, lim, out, err);
    /* Uncompressed aiTexel (BGRA8) rows, top row first. */
    uint64_t w = tex->mWidth, h = tex->mHeight;
    if (w > lim->max_texture_side || h > lim->max_texture_side || w * h > lim->max_texture_pixels)
        return md_fail(err, MD_ELIMIT,
                       "the embedded texture is %llux%llu pixels; the limit is %llu pixels a side "
                       "and %llu pixels in all",
                       (unsigned long long)w, (unsigned long long)h,
                       (unsigned long long)lim->max_texture_side,
                       (unsigned long long)lim->max_texture_pixels);
    img *im = img_new((int)w, (int)h);
    if (im == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for a %llux%llu texture",
                       (unsigned long long)w, (unsigned long long)h);
    uint8_t *px = img_pixels(im);
    for (size_t i = 0; i < (size_t)(w * h); i++) {
        px[4 * i + 0] = tex->pcData[i].r;
        px[4 * i + 1] = tex->pcData[i].g;
        px[4 * i + 2] = tex->pcData[i].b;
        px[4 * i + 3] = tex->pcData[i].a;
    }
    *out = im;
    return 0;
}

static float clamp01(float v)
{
    return v > 1.0f ? 1.0f : v > 0.0f ? v : 0.0f; /* NaN -> 0 */
}

/* The opacity of assimp material am (mesh_material_opacity; docs/materials.md).
 * glTF (assimp gives its alphaMode as $mat.gltf.alphaMode): OPAQUE ignores alpha (the glTF
 * spec: "the alpha value is ignored"); BLEND takes baseColorFactor's alpha (assimp's base
 * colour, else its diffuse colour, alpha channel); MASK is all or nothing per material:
 * opaque when that alpha reaches alphaCutoff (default 0.5), invisible below it. A base colour
 * texture's own alpha is not cut per texel (the engine composites texture alpha over the
 * material colour). Other formats: AI_MATKEY_OPACITY, which assimp's FBX reader fills from
 * the material's Opacity property or, without one, as the FBX SDK computes it from
 * TransparentColor and TransparencyFactor; TransparencyFactor alone is not used (Maya writes
 * 1.0 there for opaque materials). No key: opaque. */
static float material_opacity(const struct aiMaterial *am)
{
    struct aiString mode;
    if (aiGetMaterialString(am, AI_MATKEY_GLTF_ALPHAMODE, &mode) == aiReturn_SUCCESS) {
        struct aiColor4D color;
        float alpha = 1.0f;
        if (aiGetMaterialColor(am, AI_MATKEY_BASE_COLOR, &color) == aiReturn_SUCCESS ||
            aiGetMaterialColor(am, AI_MATKEY_COLOR_DIFFUSE, &color) == aiReturn_SUCCESS)
            alpha = clamp01(color.a);
        if (strcmp(mode.data, "BLEND") == 0)
            return alpha;
        if (strcmp(mode.data, "MASK") == 0) {
            float cutoff = 0.5f;
            if (aiGetMaterialFloatArray(am, AI_MATKEY_GLTF_ALPHACUTOFF, &cutoff, NULL) !=
                    aiReturn_SUCCESS ||
                !isfinite(cutoff))
                cutoff = 0.5f;
            return alpha >= cutoff ? 1.0f : 0.0f;
        }
        return 1.0f;
    }
    float opacity = 1.0f;
    if (aiGetMaterialFloatArray(am, AI_MATKEY_OPACITY, &opacity, NULL) == aiReturn_SUCCESS)
        return isfinite(opacity) ? clamp01(opacity) : 1.0f;
    return 1.0f;
}

/* Adds assimp material src as a mesh material: name, diffuse colour, opacity, diffuse
 * texture. */
static int add_material(mesh *m, const struct aiScene *scene, unsigned src, const md_limits *lim,
                        md_error *err)
{
    const struct aiMaterial *am = scene->mMaterials[src];
    struct aiString name;
    char fallback[32];
    const char *use_name = fallback;
    snprintf(fallback, sizeof fallback, "material%u", src);
    if (aiGetMaterialString(am, AI_MATKEY_NAME, &name) == aiReturn_SUCCESS && name.length > 0)
        use_name = name.data;
    int index = mesh_material_add(m, use_name, lim, err);
    if (index < 0)
        return index;
    struct mesh_material *mat = &m->materials[index];

    struct aiColor4D color;
    if (aiGetMaterialColor(am, AI_MATKEY_COLOR_DIFFUSE, &color) == aiReturn_SUCCESS ||
        aiGetMaterialColor(am, AI_MATKEY_BASE_COLOR, &color) == aiReturn_SUCCESS) {
        mat->kd[0] = clamp01(color.r);
        mat->kd[1] = clamp01(color.g);
        mat->kd[2] = clamp01(color.b);
    }
    mat->opacity = material_opacity(am);

    struct aiString path;
    if (aiGetMaterialTexture(am, aiTextureType_DIFFUSE, 0, &path, NULL, NULL, NULL, NULL, NULL,
                             NULL) != aiReturn_SUCCESS &&
        aiGetMaterialTexture(am, aiTextureType_BASE_COLOR, 0, &path, NULL, NULL, NULL, NULL, NULL,
                             NULL) != aiReturn_SUCCESS)
        return 0;
    if (path.length == 0)
        return 0;
    mat->texture_path = md_strdup(path.data);
    if (mat->texture_path == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    int bad_index;
    const struct aiTexture *tex = find_embedded(scene, path.data, &bad_index);
    if (bad_index)
        return md_fail(err, MD_EPARSE,
                       "material '%s' uses embedded texture '%s', but the file embeds %u "
                       "texture(s)",
                       mat->name, path.data, scene->mNumTextures);
    if (tex == NULL)
        return 0; /* external: mesh_load() resolves it beside the mesh */
    int rc = decode_embedded(tex, lim, &mat->texture, err);
    if (rc == MD_EFORMAT)
        return md_fail(err, MD_EFORMAT,
                       "material '%s': the embedded texture '%s' is a '%s' image; only PNG and "
                       "JPEG textures are supported (re-export with PNG or JPEG textures)",
                       mat->name, path.data, tex->achFormatHint[0] ? tex->achFormatHint : "?");
    if (rc != 0)
        return md_error_prefix(err, "material '%s', embedded texture '%s'%s%s%s: ", mat->name,
                               path.data, tex->mHeight == 0 ? " (format '" : "",
                               tex->mHeight == 0 ? tex->achFormatHint : "",
                               tex->mHeight == 0 ? "')" : "");
    return 0;
}

/* ---- Building the mesh ---- */

struct build {
    const struct aiScene *scene;
    const md_limits *lim;
    mesh *m;
    struct mesh_weld positions, uvs;
    uint32_t position_cap, uv_cap;
    int32_t *material_map; /* assimp material -> mesh material, -1 unused; owned */
    uint32_t *vertex_map;  /* per vertex of the current assimp mesh; owned */
    uint32_t *uv_map;      /* per vertex of the current assimp mesh; owned */
    int any_uvs;           /* some mesh has UVs; corners of meshes without get a (0,0) entry */
    /* File numbers (file_vertex.c). A file vertex is an assimp vertex, numbered across the
     * instances in walk order (glTF: the primitives' vertices), or for a binary FBX with one
     * geometry its control point (corner_points, borrowed), trusted only while every corner of
     * a control point welds to one position (point_vertex, owned, UINT32_MAX unseen). */
    uint32_t *first_walk;          /* per welded vertex: smallest walk number; owned */
    uint32_t *first_point;         /* per welded vertex: smallest control point; owned */
    const uint32_t *corner_points; /* per assimp vertex of the one instance, or NULL */
    uint32_t *point_vertex;        /* control point -> welded vertex; owned */
    uint32_t point_count;          /* entries of point_vertex */
    int points_ok;                 /* corner_points agree with the welding so far */
    uint32_t walk_base;            /* walk number of the current instance's vertex 0 */
    /* The morph target applied (mesh_load_opts.morph_target), or -1 for the base. Welding
     * follows the base positions so that base and target weld alike; each welded vertex then
     * takes the target position of the first assimp vertex welded into it. */
    int32_t morph_index;
    float *morph_positions; /* per welded vertex, xyz; owned; NULL without a target */
};

/* Checks one mesh instance's structure (assimp does not always validate) and counts its
 * triangles. */
static int check_mesh(const struct aiMesh *am, int32_t morph_index, uint64_t *triangles,
                      md_error *err)
{
    if (morph_index >= 0 && (unsigned)morph_index < am->mNumAnimMeshes && am->mAnimMeshes != NULL &&
        am->mAnimMeshes[morph_index] != NULL) {
        const struct aiAnimMesh *target = am->mAnimMeshes[morph_index];
        if (target->mVertices != NULL && target->mNumVertices != am->mNumVertices)
            return md_fail(err, MD_EPARSE,
                           "mesh '%s': morph target %d has %u vertices, the mesh %u",
                           am->mName.data, morph_index, target->mNumVertices, am->mNumVertices);
    }
    if (am->mNumVertices > 0 && am->mVertices == NULL)
        return md_fail(err, MD_EPARSE, "mesh '%s' declares %u vertices but has no positions",
                       am->mName.data, am->mNumVertices);
    if (am->mNumFaces > 0 && am->mFaces == NULL)
        return md_fail(err, MD_EPARSE, "mesh '%s' declares %u faces but has none", am->mName.data,
                       am->mNumFaces);
    for (unsigned f = 0; f < am->mNumFaces; f++) {
        const struct aiFace *face = &am->mFaces[f];
        if (face->mNumIndices != 3)
            continue;
        if (face->mIndices == NULL)
            return md_fail(err, MD_EPARSE, "mesh '%s': face %u has no vertex indices",
                           am->mName.data, f + 1);
        for (int k = 0; k < 3; k++)
            if (face->mIndices[k] >= am->mNumVertices)
                return md_fail(err, MD_EPARSE,
                               "mesh '%s': face %u uses vertex %u, but the mesh has %u vertices",
                               am->mName.data, f + 1, face->mIndices[k] + 1, am->mNumVertices);
        (*triangles)++;
    }
    return 0;
}

static int add_instance(struct build *b, const struct instance *inst, uint32_t *triangle,
                        md_error *err)
{
    const struct aiMesh *am = inst->mesh;
    mesh *m = b->m;
    int identity = xform_is_identity(&inst->world);
    int mirrored = xform_det(&inst->world) < 0;
    const double(*x)[4] = inst->world.m;
    const struct aiVector3D *tc = am->mTextureCoords[0];
    /* The target's positions for this instance; an instance without the target (another
     * primitive of the scene) keeps its base positions. */
    const struct aiVector3D *target = am->mVertices;
    if (b->morph_index >= 0 && (unsigned)b->morph_index < am->mNumAnimMeshes &&
        am->mAnimMeshes != NULL && am->mAnimMeshes[b->morph_index] != NULL &&
        am->mAnimMeshes[b->morph_index]->mVertices != NULL)
        target = am->mAnimMeshes[b->morph_index]->mVertices;

    for (unsigned v = 0; v < am->mNumVertices; v++) {
        const struct aiVector3D *p = &am->mVertices[v];
        float pos[3] = {p->x, p->y, p->z};
        if (!identity)
            for (int r = 0; r < 3; r++)
                pos[r] = (float)(x[r][0] * p->x + x[r][1] * p->y + x[r][2] * p->z + x[r][3]);
        const uint32_t before = m->vertex_count;
        if (mesh_weld_find(&b->positions, m->positions, &m->vertex_count, b->position_cap, pos,
                           &b->vertex_map[v]) != 0)
            return md_fail(err, MD_ELIMIT, "the mesh has more than %llu distinct positions",
                           (unsigned long long)b->lim->max_vertices);
        const uint32_t welded = b->vertex_map[v];
        if (m->vertex_count != before)
            b->first_walk[welded] = b->walk_base + v; /* walk numbers only grow */
        if (m->vertex_count != before && b->morph_positions != NULL) {
            const struct aiVector3D *t = &target[v];
            float *dst = &b->morph_positions[3 * (size_t)welded];
            dst[0] = t->x;
            dst[1] = t->y;
            dst[2] = t->z;
            if (!identity)
                for (int r = 0; r < 3; r++)
                    dst[r] = (float)(x[r][0] * t->x + x[r][1] * t->y + x[r][2] * t->z + x[r][3]);
        }
        if (b->corner_points != NULL && b->points_ok) {
            const uint32_t point = b->corner_points[v];
            if (point >= b->point_count ||
                (b->point_vertex[point] != UINT32_MAX && b->point_vertex[point] != welded)) {
                b->points_ok = 0;
            } else {
                b->point_vertex[point] = welded;
                if (m->vertex_count != before || point < b->first_point[welded])
                    b->first_point[welded] = point;
            }
        }
        if (!b->any_uvs)
            continue;
        float uv[2] = {tc ? tc[v].x : 0.0f, tc ? tc[v].y : 0.0f};
        if (mesh_weld_find(&b->uvs, m->uvs, &m->uv_count, b->uv_cap, uv, &b->uv_map[v]) != 0)
            return md_fail(err, MD_ELIMIT, "the mesh has more than %llu texture coordinates",
                           (unsigned long long)b->lim->max_uvs);
    }
    uint16_t material = (uint16_t)b->material_map[am->mMaterialIndex];
    for (unsigned f = 0; f < am->mNumFaces; f++) {
        const struct aiFace *face = &am->mFaces[f];
        if (face->mNumIndices != 3)
            continue;
        /* A mirroring transform turns counter-clockwise corners clockwise; swap two corners
         * so front faces stay front faces. */
        const unsigned corner[3] = {face->mIndices[0], face->mIndices[mirrored ? 2 : 1],
                                    face->mIndices[mirrored ? 1 : 2]};
        for (int k = 0; k < 3; k++) {
            m->triangles[3 * (size_t)*triangle + k] = b->vertex_map[corner[k]];
            if (b->any_uvs)
                m->triangle_uvs[3 * (size_t)*triangle + k] = b->uv_map[corner[k]];
        }
        m->triangle_materials[*triangle] = material;
        (*triangle)++;
    }
    b->walk_base += am->mNumVertices;
    return 0;
}

static int build_mesh(struct build *b, const struct walk *w, md_error *err)
{
    const struct aiScene *scene = b->scene;
    const md_limits *lim = b->lim;
    mesh *m = b->m;
    uint64_t triangles = 0, vertices = 0;
    uint32_t largest = 0;
    for (size_t i = 0; i < w->count; i++) {
        const struct aiMesh *am = w->instances[i].mesh;
        int rc = check_mesh(am, b->morph_index, &triangles, err);
        if (rc != 0)
            return rc;
        if (am->mMaterialIndex >= scene->mNumMaterials || scene->mMaterials == NULL ||
            scene->mMaterials[am->mMaterialIndex] == NULL)
            return md_fail(err, MD_EPARSE, "mesh '%s' uses material %u, but the file has %u",
                           am->mName.data, am->mMaterialIndex + 1, scene->mNumMaterials);
        vertices += am->mNumVertices;
        largest = am->mNumVertices > largest ? am->mNumVertices : largest;
        if (am->mTextureCoords[0] != NULL)
            b->any_uvs = 1;
    }
    if (triangles == 0)
        return md_fail(err, MD_EPARSE, "the file has no triangles (points or lines only?)");
    if (triangles > lim->max_triangles)
        return md_fail(err, MD_ELIMIT, "the mesh has %llu triangles; the limit is %llu",
                       (unsigned long long)triangles, (unsigned long long)lim->max_triangles);
    if (triangles > UINT32_MAX / 3)
        return md_fail(err, MD_ELIMIT, "the mesh has %llu triangles",
                       (unsigned long long)triangles);

    /* Welded counts are at most the assimp vertex count (plus the no-UV entry), and at most
     * the limit plus nothing: mesh_weld_find fails rather than grow past the capacity. */
    uint64_t pos_cap = vertices < lim->max_vertices ? vertices : lim->max_vertices;
    uint64_t uv_cap = vertices + 1 < lim->max_uvs ? vertices + 1 : lim->max_uvs;
    if (pos_cap > UINT32_MAX - 1 || uv_cap > UINT32_MAX - 1)
        return md_fail(err, MD_ELIMIT, "the mesh has %llu vertices", (unsigned long long)vertices);
    b->position_cap = (uint32_t)pos_cap;
    b->uv_cap = b->any_uvs ? (uint32_t)uv_cap : 0;

    int rc = mesh_weld_init(&b->positions, 3, b->position_cap, err);
    if (rc != 0)
        return rc;
    if (b->any_uvs) {
        rc = mesh_weld_init(&b->uvs, 2, b->uv_cap, err);
        if (rc != 0)
            return rc;
    }
    m->triangle_count = (uint32_t)triangles;
    m->positions = md_malloc_array(b->position_cap ? b->position_cap : 1, 3 * sizeof(float));
    m->triangles = md_malloc_array(triangles, 3 * sizeof(uint32_t));
    m->triangle_materials = md_malloc_array(triangles, sizeof(uint16_t));
    b->vertex_map = md_malloc_array(largest ? largest : 1, sizeof(uint32_t));
    b->first_walk = md_malloc_array(b->position_cap ? b->position_cap : 1, sizeof(uint32_t));
    if (b->first_walk == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u vertex numbers", b->position_cap);
    if (b->morph_index >= 0) {
        b->morph_positions =
            md_malloc_array(b->position_cap ? b->position_cap : 1, 3 * sizeof(float));
        if (b->morph_positions == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory for %u morph target positions",
                           b->position_cap);
    }
    if (b->corner_points != NULL) {
        b->point_count = largest;
        b->points_ok = 1;
        b->first_point = md_malloc_array(b->position_cap ? b->position_cap : 1, sizeof(uint32_t));
        b->point_vertex = md_malloc_array(largest ? largest : 1, sizeof(uint32_t));
        if (b->first_point == NULL || b->point_vertex == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory for %u control points", largest);
        for (uint32_t i = 0; i < largest; i++)
            b->point_vertex[i] = UINT32_MAX;
    }
    b->material_map = md_malloc_array(scene->mNumMaterials, sizeof(int32_t));
    if (b->any_uvs) {
        m->uvs = md_malloc_array(b->uv_cap ? b->uv_cap : 1, 2 * sizeof(float));
        m->triangle_uvs = md_malloc_array(triangles, 3 * sizeof(uint32_t));
        b->uv_map = md_malloc_array(largest ? largest : 1, sizeof(uint32_t));
    }
    if (m->positions == NULL || m->triangles == NULL || m->triangle_materials == NULL ||
        b->vertex_map == NULL || b->material_map == NULL ||
        (b->any_uvs && (m->uvs == NULL || m->triangle_uvs == NULL || b->uv_map == NULL)))
        return md_fail(err, MD_ENOMEM, "out of memory for a mesh of %llu triangles",
                       (unsigned long long)triangles);

    /* Materials in order of first use, so unused ones (glTF's default) do not appear. */
    for (unsigned i = 0; i < scene->mNumMaterials; i++)
        b->material_map[i] = -1;
    for (size_t i = 0; i < w->count; i++) {
        unsigned src = w->instances[i].mesh->mMaterialIndex;
        if (b->material_map[src] >= 0)
            continue;
        rc = add_material(m, scene, src, lim, err);
        if (rc < 0)
            return rc;
        b->material_map[src] = (int32_t)m->material_count - 1;
    }

    uint32_t triangle = 0;
    for (size_t i = 0; i < w->count; i++) {
        rc = add_instance(b, &w->instances[i], &triangle, err);
        if (rc != 0)
            return rc;
    }
    /* The target replaces the base only now: welding and numbering saw the base alone. */
    if (b->morph_positions != NULL)
        memcpy(m->positions, b->morph_positions, 3 * sizeof(float) * (size_t)m->vertex_count);
    /* Vertices in the file's order, named by the file's numbers: control points when they
     * agreed with the welding, else the walk's numbers. */
    const int by_point = b->corner_points != NULL && b->points_ok;
    return mesh_file_order(m, by_point ? b->first_point : b->first_walk, err);
}

/* ---- Morph targets ---- */

/* Records the scene's morph target names on m: those of the first instance that has targets
 * (a glTF mesh's primitives share one list; an FBX geometry has one). */
static int collect_morph_names(mesh *m, const struct walk *w, md_error *err)
{
    const struct aiMesh *am = NULL;
    for (size_t i = 0; i < w->count && am == NULL; i++)
        if (w->instances[i].mesh->mNumAnimMeshes > 0 && w->instances[i].mesh->mAnimMeshes != NULL)
            am = w->instances[i].mesh;
    if (am == NULL)
        return 0;
    m->morph_names = md_calloc(am->mNumAnimMeshes, sizeof(char *));
    if (m->morph_names == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u morph targets", am->mNumAnimMeshes);
    for (unsigned i = 0; i < am->mNumAnimMeshes; i++) {
        const struct aiAnimMesh *target = am->mAnimMeshes[i];
        const char *name = target != NULL ? target->mName.data : "";
        m->morph_names[i] = md_strdup(name);
        if (m->morph_names[i] == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory for morph target names");
        m->morph_count = i + 1;
    }
    return 0;
}

/* The index of the morph target that text names: a name first, then a 0-based index. */
static int resolve_morph(const mesh *m, const char *text, int32_t *index, md_error *err)
{
    if (m->morph_count == 0)
        return md_fail(err, MD_EINVAL,
                       "morph target '%s' was asked for, but the file has no morph targets "
                       "(glTF targets or FBX blend shapes)",
                       text);
    for (uint32_t i = 0; i < m->morph_count; i++)
        if (m->morph_names[i][0] != '\0' && strcmp(m->morph_names[i], text) == 0) {
            *index = (int32_t)i;
            return 0;
        }
    size_t n = strlen(text);
    if (n > 0 && n < 10 && strspn(text, "0123456789") == n) {
        unsigned long i = strtoul(text, NULL, 10);
        if (i < m->morph_count) {
            *index = (int32_t)i;
            return 0;
        }
    }
    char list[512];
    mesh_morph_target_list(m, list, sizeof list);
    return md_fail(err, MD_EINVAL,
                   "the file has no morph target '%s'; its %u target(s), by index and name: %s",
                   text, m->morph_count, list);
}

/* ---- Entry point ---- */

/* The formats we hand to assimp. assimp reads forty more, but each importer is attack surface
 * on a server that parses uploads, and its less-used ones are where fuzzers find crashes (the
 * corpus' Collada file reads past its arrays and yields 1e20 coordinates). These are the ones
 * face pipelines export; adding one is a line here plus its corpus entries. OBJ has our own
 * parser (obj.c). */
static int format_allowed(const char *ext)
{
    static const char *const formats[] = {"fbx", "glb", "gltf", "ply"};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(ext, formats[i]) == 0)
            return 1;
    return 0;
}

static pthread_mutex_t import_lock = PTHREAD_MUTEX_INITIALIZER;

/* Importer settings: FBX parts we never use are not converted, which also keeps assimp out of
 * code that fails badly on damaged files (a mutated skin cluster aborted the process in an
 * assertion in its bone-weight conversion). NULL when out of memory. */
static struct aiPropertyStore *import_properties(void)
{
    struct aiPropertyStore *props = aiCreatePropertyStore();
    if (props == NULL)
        return NULL;
    aiSetImportPropertyInteger(props, AI_CONFIG_IMPORT_FBX_READ_WEIGHTS, 0);
    aiSetImportPropertyInteger(props, AI_CONFIG_IMPORT_FBX_READ_ANIMATIONS, 0);
    aiSetImportPropertyInteger(props, AI_CONFIG_IMPORT_FBX_READ_CAMERAS, 0);
    aiSetImportPropertyInteger(props, AI_CONFIG_IMPORT_FBX_READ_LIGHTS, 0);
    return props;
}

int mesh_parse_assimp(const uint8_t *bytes, size_t len, const char *hint, const md_limits *lim,
                      mesh **out, md_error *err)
{
    return mesh_parse_assimp_ex(bytes, len, hint, lim, NULL, out, err);
}

int mesh_parse_assimp_ex(const uint8_t *bytes, size_t len, const char *hint, const md_limits *lim,
                         const char *morph_target, mesh **out, md_error *err)
{
    struct sandbox box = {.bytes = bytes, .len = len};
    struct walk w = {0};
    struct build b = {0};
    const struct aiScene *scene = NULL;
    struct aiPropertyStore *props = NULL;
    uint32_t *corner_points = NULL;
    mesh *m = NULL;
    int rc = 0;
    char ext[16] = "", ai_error[256] = "";
    struct aiFileIO io = {
        .OpenProc = sandbox_open, .CloseProc = sandbox_close, .UserData = (char *)(void *)&box};
    const struct xform identity = {{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}};
    *out = NULL;

    /* The hint picks assimp's importer; keep it to a plain lowercase extension. */
    size_t n = 0;
    for (const char *p = hint ? hint : ""; *p != '\0' && n + 1 < sizeof ext; p++)
        if (isalnum((unsigned char)*p))
            ext[n++] = (char)tolower((unsigned char)*p);
    ext[n] = '\0';
    if (n == 0) {
        rc = md_fail(err, MD_EFORMAT,
                     "the file has no extension, so its format is unknown (use .obj, .fbx, "
                     ".glb, .gltf or .ply)");
        goto done;
    }
    if (!format_allowed(ext)) {
        rc = md_fail(err, MD_EFORMAT,
                     "'.%s' is not a mesh format this server reads (use .obj, .fbx, .glb, .gltf "
                     "or .ply)",
                     ext);
        goto done;
    }
    if (len == 0 || bytes == NULL) {
        rc = md_fail(err, MD_EPARSE, "the file is empty");
        goto done;
    }
    if (len > lim->max_file_bytes) {
        rc = md_fail(err, MD_ELIMIT, "the file has %zu bytes; the limit is %llu", len,
                     (unsigned long long)lim->max_file_bytes);
        goto done;
    }
    if (morph_target != NULL && strlen(morph_target) > MESH_MORPH_TARGET_MAX) {
        rc = md_fail(err, MD_EINVAL, "the morph target name is longer than %d characters",
                     MESH_MORPH_TARGET_MAX);
        goto done;
    }
    if (strcmp(ext, "ply") == 0) {
        if (morph_target != NULL) {
            rc = md_fail(err, MD_EINVAL,
                         "morph target '%s' was asked for, but PLY files carry no morph targets "
                         "(use a .glb or .fbx with targets)",
                         morph_target);
            goto done;
        }
        rc = mesh_parse_ply(bytes, len, lim, &m, err);
        goto done;
    }
    rc = mesh_assimp_precheck(bytes, len, ext, lim, err);
    if (rc != 0)
        goto done;
    snprintf(box.name, sizeof box.name, "mesh.%s", ext);
    pthread_mutex_lock(&import_lock);
    props = import_properties();
    if (props == NULL) {
        pthread_mutex_unlock(&import_lock);
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    scene = aiImportFileExWithProperties(box.name, aiProcess_Triangulate | aiProcess_SortByPType,
                                         &io, props);
    if (scene == NULL)
        snprintf(ai_error, sizeof ai_error, "%s", aiGetErrorString());
    aiReleasePropertyStore(props);
    pthread_mutex_unlock(&import_lock);
    if (scene == NULL) {
        if (box.refused[0] != '\0')
            rc = md_fail(err, MD_EPARSE,
                         "the %s file refers to another file ('%s'), which is not read: embed "
                         "its data (for glTF, export a single .glb) (assimp: %s)",
                         ext, box.refused, ai_error);
        else
            rc = md_fail(err, MD_EPARSE, "not a readable %s file: %s", ext,
                         ai_error[0] ? ai_error : "assimp gave no reason");
        goto done;
    }
    if (scene->mFlags & AI_SCENE_FLAGS_INCOMPLETE) {
        rc = md_fail(err, MD_EPARSE,
                     "assimp could not build a complete scene from the %s file (damaged "
                     "geometry, or only an animation or a skeleton)",
                     ext);
        goto done;
    }
    if (scene->mRootNode == NULL || scene->mNumMeshes == 0 || scene->mMeshes == NULL) {
        rc = md_fail(err, MD_EPARSE, "the file has no triangles (points or lines only?)");
        goto done;
    }

    w.scene = scene;
    rc = walk_node(&w, scene->mRootNode, &identity, 0, err);
    if (rc != 0)
        goto done;

    m = mesh_alloc(ext);
    if (m == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    b.scene = scene;
    b.lim = lim;
    b.m = m;
    b.morph_index = -1;
    rc = collect_morph_names(m, &w, err);
    if (rc != 0)
        goto done;
    if (morph_target != NULL) {
        rc = resolve_morph(m, morph_target, &b.morph_index, err);
        if (rc != 0)
            goto done;
    }
    /* One FBX geometry instance: its corners' control points are the file's vertex numbers. */
    if (strcmp(ext, "fbx") == 0 && w.count == 1) {
        rc = mesh_fbx_corner_points(bytes, len, w.instances[0].mesh->mNumVertices, &corner_points,
                                    err);
        if (rc < 0)
            goto done;
        b.corner_points = corner_points;
    }
    rc = build_mesh(&b, &w, err);
    if (rc != 0)
        goto done;
    rc = mesh_validate(m, err);

done:
    md_free(w.instances);
    mesh_weld_free(&b.positions);
    mesh_weld_free(&b.uvs);
    md_free(b.material_map);
    md_free(b.vertex_map);
    md_free(b.uv_map);
    md_free(b.first_walk);
    md_free(b.first_point);
    md_free(b.point_vertex);
    md_free(b.morph_positions);
    md_free(corner_points);
    if (scene != NULL)
        aiReleaseImport(scene);
    if (rc != 0) {
        mesh_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
