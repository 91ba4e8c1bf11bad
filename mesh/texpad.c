/*
 * texpad.c — mesh_pad_textures(): fills every texel outside the UV islands of a texture with
 * the colour of the nearest texel inside one, so bilinear lookups and mipmaps near seams never
 * pick up the black (or cyan) background of an unpadded bake.
 *
 * Called once per mesh after loading and texture overrides, before the mesh is shared; it
 * mutates the mesh's textures, so it runs on one thread with the mesh not yet visible to
 * others. It allocates one coverage mask per texture, freed before returning.
 *
 * Coverage is computed per material from the triangles that use it, through their per-corner
 * UVs, in texel space: texel (x, y) has its centre at u = (x + 0.5) / w, v = 1 - (y + 0.5) / h
 * (v up, row 0 at the top), and is covered when that centre lies inside or on the edge of a UV
 * triangle. UVs outside [0, 1] repeat, so texel coordinates wrap modulo the size; a triangle
 * whose texel bounding box spans the whole width or height tiles the texture and covers it
 * all. A triangle that contains no texel centre (a sliver, or a tiny island) still covers the
 * texels under its corners and centroid, so small islands keep their colour instead of being
 * painted over by a neighbour. img_pad_from_coverage() then does the filling.
 */
#include "mesh/mesh_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct coverage {
    uint8_t *mask; /* width * height bytes, 1 = covered */
    int width, height;
    int full; /* a tiling triangle covered everything */
};

static int wrap(long long v, int size)
{
    long long r = v % size;
    return (int)(r < 0 ? r + size : r);
}

/* Marks the texel that contains point (px, py), nudged towards the centroid (cx, cy) so a
 * corner lying exactly on a texel border picks the texel on the triangle's side. */
static void mark_point(struct coverage *c, double px, double py, double cx, double cy)
{
    px += (cx - px) * 1e-3;
    py += (cy - py) * 1e-3;
    size_t x = (size_t)wrap((long long)floor(px), c->width);
    size_t y = (size_t)wrap((long long)floor(py), c->height);
    c->mask[y * (size_t)c->width + x] = 1;
}

/* Marks texels x0..x1 (x0 >= 0, x1 < 2 * width) of one mask row, wrapping at the right. */
static void mark_span(struct coverage *c, uint8_t *row, long long x0, long long x1)
{
    long long w = c->width;
    if (x0 >= w) {
        x0 -= w;
        x1 -= w;
    }
    if (x1 < w) {
        memset(row + x0, 1, (size_t)(x1 - x0 + 1));
        return;
    }
    memset(row + x0, 1, (size_t)(w - x0));
    memset(row, 1, (size_t)(x1 - w + 1));
}

/* Rasterises one UV triangle into the mask, a span per texel row: on row y each edge
 * function is linear in x, so the texel centres inside all three edges form one interval. */
static void cover_triangle(struct coverage *c, const float *uv[3])
{
    const double w = c->width, h = c->height;
    /* Shift the triangle by whole texture repeats so its coordinates are small and >= 0:
     * texel positions stay exact, and UVs such as 1e12 do not overflow the conversions. */
    double umin = fmin(uv[0][0], fmin(uv[1][0], uv[2][0]));
    double vmax = fmax(uv[0][1], fmax(uv[1][1], uv[2][1]));
    double ushift = floor(umin), vshift = ceil(vmax) - 1.0;
    double px[3], py[3];
    for (int k = 0; k < 3; k++) {
        px[k] = ((double)uv[k][0] - ushift) * w;         /* >= 0 */
        py[k] = (1.0 - ((double)uv[k][1] - vshift)) * h; /* >= 0 */
    }
    double xmin = fmin(px[0], fmin(px[1], px[2])), xmax = fmax(px[0], fmax(px[1], px[2]));
    double ymin = fmin(py[0], fmin(py[1], py[2])), ymax = fmax(py[0], fmax(py[1], py[2]));
    if (xmax - xmin >= w || ymax - ymin >= h) {
        memset(c->mask, 1, (size_t)c->width * (size_t)c->height);
        c->full = 1;
        return;
    }
    /* Texel centres x + 0.5 within [xmin, xmax]: 0 <= x0, x1 < 2 * width (same for y). */
    long long x0 = (long long)ceil(xmin - 0.5), x1 = (long long)floor(xmax - 0.5);
    long long y0 = (long long)ceil(ymin - 0.5), y1 = (long long)floor(ymax - 0.5);
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;

    /* Edge functions e_k(x, y) = ex[k] x + ey[k] y + e0[k], signed so that the inside (edges
     * included) is where all three are >= 0, whichever the winding. */
    double area = (px[1] - px[0]) * (py[2] - py[0]) - (py[1] - py[0]) * (px[2] - px[0]);
    double sign = area < 0 ? -1.0 : 1.0;
    double ex[3], ey[3], e0[3];
    for (int k = 0; k < 3; k++) {
        int n = (k + 1) % 3;
        ex[k] = -(py[n] - py[k]) * sign;
        ey[k] = (px[n] - px[k]) * sign;
        e0[k] = -(ex[k] * px[k] + ey[k] * py[k]);
    }
    int any = 0;
    for (long long y = y0; y <= y1; y++) {
        double cy = (double)y + 0.5;
        /* Centres cx = x + 0.5 with ex cx + (ey cy + e0) >= 0 for every edge. */
        double lo = xmin - 1.0, hi = xmax + 1.0;
        for (int k = 0; k < 3; k++) {
            double rest = ey[k] * cy + e0[k];
            if (ex[k] > 0)
                lo = fmax(lo, -rest / ex[k]);
            else if (ex[k] < 0)
                hi = fmin(hi, -rest / ex[k]);
            else if (rest < 0)
                hi = lo - 1.0; /* a horizontal edge with this row outside it */
        }
        long long a = (long long)ceil(lo - 0.5), b = (long long)floor(hi - 0.5);
        a = a < x0 ? x0 : a;
        b = b > x1 ? x1 : b;
        if (a > b)
            continue;
        long long yy = y >= c->height ? y - c->height : y;
        mark_span(c, c->mask + (size_t)yy * (size_t)c->width, a, b);
        any = 1;
    }
    if (!any) {
        double cx = (px[0] + px[1] + px[2]) / 3.0, cy = (py[0] + py[1] + py[2]) / 3.0;
        for (int k = 0; k < 3; k++)
            mark_point(c, px[k], py[k], cx, cy);
        mark_point(c, cx, cy, cx, cy);
    }
}

uint64_t mesh_pad_texture_bytes(uint64_t pixels)
{
    return pixels + img_pad_scratch_bytes(pixels); /* the coverage mask, a byte a texel */
}

static int pad_material(mesh *m, uint32_t material, md_error *err)
{
    img *tex = m->materials[material].texture;
    struct coverage c = {.width = img_width(tex), .height = img_height(tex)};
    /* The mask comes out of the decode budget like the pixels (base/md_budget.c). */
    uint64_t mask_bytes = (uint64_t)c.width * (uint64_t)c.height;
    char what[64];
    snprintf(what, sizeof what, "the %dx%d coverage mask", c.width, c.height);
    int rc = md_budget_take(mask_bytes, what, err);
    if (rc != 0)
        return rc;
    c.mask = md_calloc((size_t)c.width * (size_t)c.height, 1);
    if (c.mask == NULL) {
        md_budget_give(mask_bytes);
        return md_fail(err, MD_ENOMEM, "out of memory padding the %dx%d texture of material '%s'",
                       c.width, c.height, m->materials[material].name);
    }
    for (uint32_t t = 0; t < m->triangle_count && !c.full; t++) {
        if (m->triangle_materials[t] != material)
            continue;
        const uint32_t *corner = &m->triangle_uvs[3 * (size_t)t];
        const float *uv[3] = {&m->uvs[2 * (size_t)corner[0]], &m->uvs[2 * (size_t)corner[1]],
                              &m->uvs[2 * (size_t)corner[2]]};
        cover_triangle(&c, uv);
    }
    rc = c.full ? 0 : img_pad_from_coverage(tex, c.mask, err);
    md_free(c.mask);
    md_budget_give(mask_bytes);
    return rc;
}

int mesh_pad_textures(mesh *m, md_error *err)
{
    if (m->uv_count == 0 || m->triangle_uvs == NULL)
        return 0; /* no UVs: no islands, nothing to pad */
    for (uint32_t i = 0; i < m->material_count; i++) {
        if (m->materials[i].texture == NULL)
            continue;
        int rc = pad_material(m, i, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}
