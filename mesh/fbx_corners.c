/*
 * fbx_corners.c — the control point of every polygon corner of a binary FBX file, read from its
 * one PolygonVertexIndex array. assimp turns each polygon corner into a vertex of its own and
 * forgets which control point (the file's vertex) it came from; with one mesh geometry and one
 * material, assimp's vertex i is corner i, so this array gives each assimp vertex its file
 * number (assimp.c checks that the corners of one control point weld to one position before it
 * trusts that). Called by assimp.c on the thread parsing the upload, after the structure of the
 * file has been checked (fbx_precheck); it still checks every offset it reads. The caller owns
 * the array it gets.
 */
#include "mesh/mesh_int.h"

#include <string.h>
#include <zlib.h>

#define FBX_MAGIC "Kaydara FBX Binary  "
#define CORNERS_NAME "PolygonVertexIndex"
#define DEPTH_MAX 64

struct corner_find {
    const uint8_t *b;
    size_t len;
    int wide;
    int found;     /* PolygonVertexIndex records seen */
    size_t at;     /* the first one's property data (its type byte) */
    size_t at_end; /* end of its properties */
};

static uint64_t le32(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | le32(p + 4) << 32;
}

/* Walks records in [off, limit); 0, or -1 when the structure is not what it should be. */
static int find_records(struct corner_find *f, size_t off, size_t limit, int depth)
{
    const size_t header = f->wide ? 25 : 13;
    if (depth > DEPTH_MAX)
        return -1;
    while (limit - off >= header) {
        const uint8_t *b = f->b;
        uint64_t end = f->wide ? le64(b + off) : le32(b + off);
        uint64_t props_len = f->wide ? le64(b + off + 16) : le32(b + off + 8);
        size_t name_len = b[off + header - 1];
        if (end == 0)
            return 0;
        if (end <= off || end > limit || end - off < header + name_len ||
            props_len > end - off - header - name_len)
            return -1;
        size_t p = off + header + name_len;
        if (name_len == sizeof CORNERS_NAME - 1 &&
            memcmp(b + off + header, CORNERS_NAME, name_len) == 0) {
            if (f->found++ == 0) {
                f->at = p;
                f->at_end = p + (size_t)props_len;
            }
        }
        if (p + props_len < end &&
            find_records(f, p + (size_t)props_len, (size_t)end, depth + 1) != 0)
            return -1;
        off = (size_t)end;
    }
    return 0;
}

int mesh_fbx_corner_points(const uint8_t *bytes, size_t len, uint32_t expected, uint32_t **out,
                           md_error *err)
{
    *out = NULL;
    if (len < 27 || memcmp(bytes, FBX_MAGIC, sizeof FBX_MAGIC - 1) != 0 || expected == 0)
        return 0; /* ASCII FBX: no file numbers */
    struct corner_find f = {.b = bytes, .len = len, .wide = le32(bytes + 23) >= 7500};
    if (find_records(&f, 27, len, 0) != 0 || f.found != 1)
        return 0; /* several geometries: which aiMesh is which is not known here */
    size_t p = f.at;
    if (f.at_end - p < 13 || bytes[p] != 'i')
        return 0;
    uint64_t count = le32(bytes + p + 1), encoding = le32(bytes + p + 5);
    uint64_t stored = le32(bytes + p + 9);
    const uint8_t *data = bytes + p + 13;
    if (count != expected || stored > f.at_end - p - 13)
        return 0;
    uint8_t *raw = md_malloc_array(count, 4);
    uint32_t *points = md_malloc_array(count, sizeof *points);
    int rc = 1;
    if (raw == NULL || points == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory reading %llu FBX polygon corners",
                     (unsigned long long)count);
        goto done;
    }
    if (encoding == 0) {
        if (stored != count * 4) {
            rc = 0;
            goto done;
        }
        memcpy(raw, data, (size_t)stored);
    } else if (encoding == 1) {
        uLongf got = (uLongf)(count * 4);
        if (uncompress(raw, &got, data, (uLong)stored) != Z_OK || got != count * 4) {
            rc = 0;
            goto done;
        }
    } else {
        rc = 0;
        goto done;
    }
    /* A negative index closes a polygon and stands for ~index. */
    for (uint64_t i = 0; i < count; i++) {
        int32_t v = (int32_t)(uint32_t)le32(raw + 4 * i);
        points[i] = v < 0 ? (uint32_t)~v : (uint32_t)v;
    }
    *out = points;
    points = NULL;
done:
    md_free(raw);
    md_free(points);
    return rc;
}
