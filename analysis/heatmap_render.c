/*
 * heatmap_render.c — paints scalar fields on mesh A with the real engine (no rasteriser of our
 * own): the figures' mesh panels. Called by figure.c (and tests) on the caller's thread; the
 * engine's frame callback copies each finished frame into the caller's buffer from engine
 * threads, each job's frame to its own buffer, so no locking is needed.
 *
 * Two kinds of field (ana_field):
 *   - per vertex: every material of A takes the colour map's 256x1 ramp as its texture, and
 *     each vertex the UV (ana_colormap_u(normalised value), 0.5). The rasteriser
 *     interpolates the UV, i.e. the value, across each triangle, and the bilinear lookup maps it
 *     to a colour per pixel, exactly as ana_colormap_at() does (colormap.c).
 *   - per texel: A keeps its own UVs and materials; the material whose texture space the map
 *     lives in gets the colour-mapped map as its texture, the others neutral grey.
 * Either way each material keeps its opacity (eng_material.transparency = 1 - opacity), so a
 * see-through surface (eye overlays, lashes) is as see-through in a figure as in the frames.
 * Both render unlit (ENG_SHADING_UNLIT), so a pixel is its colour-map colour with no lighting,
 * on the ANA_BACKDROP_GREY backdrop (not white: the diverging map's zero is near-white), at the
 * job's camera. All fields go to the engine as one batch (one launch per stage
 * on the CUDA engine).
 *
 * Ownership: everything passed in is borrowed; the UV arrays, ramp textures and material tables
 * built here live until the function returns.
 */
#include "analysis/analysis.h"

#include <math.h>
#include <string.h>

#include "gpu/engine.h"

/* ---- Per-texel colouring ---- */

int ana_texel_nearest(const uint8_t *coverage, int width, int height, uint32_t **out, md_error *err)
{
    *out = NULL;
    if (coverage == NULL || width < 1 || height < 1 || (uint64_t)width * height > (1u << 24))
        return md_fail(err, MD_EINVAL, "texel map: %dx%d is not 1 to 2^24 texels", width, height);
    const size_t n = (size_t)width * (size_t)height;
    uint32_t *near = md_malloc_array(n, sizeof *near);
    img *im = img_new(width, height);
    int rc = 0;
    if (near == NULL || im == NULL) {
        rc = md_fail(err, MD_ENOMEM, "texel map: %dx%d index", width, height);
        goto done;
    }
    /* The texel's own index in RGB (24 bits), so the mesh module's padding, which copies the
     * nearest covered texel's colour, copies the nearest covered texel's index. */
    uint8_t *px = img_pixels(im);
    for (size_t i = 0; i < n; i++) {
        px[4 * i] = (uint8_t)(i >> 16);
        px[4 * i + 1] = (uint8_t)(i >> 8);
        px[4 * i + 2] = (uint8_t)i;
        px[4 * i + 3] = 255;
    }
    rc = img_pad_from_coverage(im, coverage, err);
    if (rc != 0)
        goto done;
    for (size_t i = 0; i < n; i++)
        near[i] = (uint32_t)px[4 * i] << 16 | (uint32_t)px[4 * i + 1] << 8 | px[4 * i + 2];
    *out = near;
    near = NULL;
done:
    md_free(near);
    img_free(im);
    return rc;
}

#define LUT_STEPS 16384

int ana_texel_colorize(const float *values, const uint8_t *coverage, int width, int height,
                       ana_colormap map, float lo, float hi, const uint32_t *nearest, img **out,
                       md_error *err)
{
    *out = NULL;
    if (values == NULL || width < 1 || height < 1 || !(lo < hi))
        return md_fail(err, MD_EINVAL, "texel map: bad size %dx%d or range [%g, %g]", width, height,
                       (double)lo, (double)hi);
    img *im = img_new(width, height);
    uint8_t *lut = md_malloc_array(LUT_STEPS + 1, 4);
    if (im == NULL || lut == NULL) {
        img_free(im);
        md_free(lut);
        return md_fail(err, MD_ENOMEM, "texel map: %dx%d texture", width, height);
    }
    /* Millions of texels: a table of the colour map at LUT_STEPS + 1 positions replaces the
     * per-texel interpolation. A position moves by at most 1/32768 of the range, 1/128 of a
     * colour-map entry, so a colour moves by at most one 8-bit step. */
    for (int i = 0; i <= LUT_STEPS; i++) {
        ana_colormap_at(map, (float)i / (float)LUT_STEPS, lut + 4 * i);
        lut[4 * i + 3] = 255;
    }
    const uint8_t grey[4] = {ANA_NEUTRAL_GREY, ANA_NEUTRAL_GREY, ANA_NEUTRAL_GREY, 255};
    const float scale = (float)LUT_STEPS / (hi - lo);
    uint8_t *px = img_pixels(im);
    const size_t n = (size_t)width * (size_t)height;
    for (size_t i = 0; i < n; i++) {
        size_t src = i;
        if (coverage != NULL && coverage[i] == 0) {
            if (nearest == NULL || coverage[nearest[i]] == 0) {
                memcpy(px + 4 * i, grey, 4);
                continue;
            }
            src = nearest[i];
        }
        float v = values[src];
        if (isnan(v)) {
            memcpy(px + 4 * i, grey, 4);
            continue;
        }
        float pos = (v - lo) * scale + 0.5f;
        int k = pos > 0.0f ? (pos < (float)LUT_STEPS ? (int)pos : LUT_STEPS) : 0;
        memcpy(px + 4 * i, lut + 4 * k, 4);
    }
    md_free(lut);
    *out = im;
    return 0;
}

/* ---- Rendering ---- */

typedef struct render_ctx {
    uint8_t *const *rgb;
    int width, height;
} render_ctx;

static int on_frame(void *user, const eng_frame *fr)
{
    const render_ctx *c = user;
    memcpy(c->rgb[fr->job], fr->rgb, (size_t)c->width * (size_t)c->height * 3);
    return 0;
}

/* What one field needs to exist while the batch runs. */
typedef struct field_surface {
    uint8_t ramp[ANA_COLORMAP_SIZE * 4]; /* per vertex: RGBA ramp texture */
    float *uvs;                          /* per vertex: 2 per vertex */
    eng_material *materials;             /* per vertex: 1; per texel: mesh_material_count(a) */
} field_surface;

static int field_prepare(const mesh *a, const ana_field *f, field_surface *fs, eng_surface *surf,
                         md_error *err)
{
    const uint32_t nv = mesh_vertex_count(a);
    memset(surf, 0, sizeof *surf);
    if (f->vertex_values != NULL) {
        if (!(f->lo < f->hi))
            return md_fail(err, MD_EINVAL, "vertex field: range [%g, %g] is empty", (double)f->lo,
                           (double)f->hi);
        const uint8_t *tab = ana_colormap_table(f->map);
        for (int i = 0; i < ANA_COLORMAP_SIZE; i++) {
            memcpy(fs->ramp + i * 4, tab + i * 3, 3);
            fs->ramp[i * 4 + 3] = 255;
        }
        /* One ramp for every material, each with its own transparency, so a see-through
         * surface (eye overlays) is as see-through in the figure as in the frames. */
        const uint32_t nm = mesh_material_count(a);
        fs->uvs = md_malloc_array((size_t)nv * 2, sizeof(float));
        fs->materials = md_calloc(nm, sizeof(eng_material));
        if (fs->uvs == NULL || fs->materials == NULL)
            return md_fail(err, MD_ENOMEM, "vertex field: %u UVs", nv);
        const float range = f->hi - f->lo;
        for (uint32_t i = 0; i < nv; i++) {
            fs->uvs[2 * i] = ana_colormap_u((f->vertex_values[i] - f->lo) / range);
            fs->uvs[2 * i + 1] = 0.5f;
        }
        for (uint32_t m = 0; m < nm; m++) {
            fs->materials[m].rgba = fs->ramp;
            fs->materials[m].tex_width = ANA_COLORMAP_SIZE;
            fs->materials[m].tex_height = 1;
            fs->materials[m].transparency = 1.0f - mesh_material_opacity(a, m);
        }
        surf->uvs = fs->uvs;
        surf->tri_uvs = mesh_triangles(a); /* one UV per vertex: the same indices */
        surf->tri_materials = mesh_triangle_materials(a);
        surf->uv_count = nv;
        surf->material_count = nm;
        surf->materials = fs->materials;
        return 0;
    }
    const uint32_t nm = mesh_material_count(a);
    if (f->texture == NULL || f->material >= nm || mesh_triangle_uvs(a) == NULL)
        return md_fail(err, MD_EINVAL,
                       "texel field: needs a texture, a material below %u (got %u) and a mesh "
                       "with UVs",
                       nm, f->material);
    fs->materials = md_calloc(nm, sizeof(eng_material));
    if (fs->materials == NULL)
        return md_fail(err, MD_ENOMEM, "texel field: %u materials", nm);
    for (uint32_t m = 0; m < nm; m++) {
        fs->materials[m].color[0] = fs->materials[m].color[1] = fs->materials[m].color[2] =
            (float)ANA_NEUTRAL_GREY / 255.0f;
        fs->materials[m].transparency = 1.0f - mesh_material_opacity(a, m);
    }
    fs->materials[f->material].rgba = img_pixels_const(f->texture);
    fs->materials[f->material].tex_width = img_width(f->texture);
    fs->materials[f->material].tex_height = img_height(f->texture);
    surf->uvs = mesh_uvs(a);
    surf->tri_uvs = mesh_triangle_uvs(a);
    surf->tri_materials = mesh_triangle_materials(a);
    surf->uv_count = mesh_uv_count(a);
    surf->material_count = nm;
    surf->materials = fs->materials;
    return 0;
}

int ana_render_fields(struct eng *e, const mesh *a, const struct eng_camera *cam, int width,
                      int height, int samples, const ana_field *fields, int field_count,
                      uint8_t *const *rgb, md_error *err)
{
    if (e == NULL || a == NULL || cam == NULL || fields == NULL || rgb == NULL || field_count < 1 ||
        width < 1 || height < 1)
        return md_fail(err, MD_EINVAL, "heatmap render: missing engine, mesh, camera or fields");
    int rc = 0;
    field_surface *fs = md_calloc((size_t)field_count, sizeof *fs);
    eng_job *jobs = md_calloc((size_t)field_count, sizeof *jobs);
    static const float weight0 = 0.0f;
    if (fs == NULL || jobs == NULL) {
        rc = md_fail(err, MD_ENOMEM, "heatmap render: %d fields", field_count);
        goto done;
    }
    for (int i = 0; i < field_count; i++) {
        eng_job *j = &jobs[i];
        rc = field_prepare(a, &fields[i], &fs[i], &j->surface[0], err);
        if (rc != 0)
            goto done;
        j->surface[1] = j->surface[0]; /* weight 0: side 1 is never sampled */
        j->vertex_count = mesh_vertex_count(a);
        j->triangle_count = mesh_triangle_count(a);
        j->positions[0] = j->positions[1] = mesh_positions(a);
        j->triangles = mesh_triangles(a);
        j->camera = *cam;
        j->width = width;
        j->height = height;
        j->samples = samples > 0 ? samples : 4;
        j->background[0] = j->background[1] = j->background[2] = ANA_BACKDROP_GREY;
        j->frame_count = 1;
        j->weights = &weight0;
        j->shading = ENG_SHADING_UNLIT;
    }
    render_ctx ctx = {rgb, width, height};
    rc = eng_batch_run(e, jobs, (uint32_t)field_count, on_frame, &ctx, NULL, err);
    if (rc != 0)
        md_error_prefix(err, "heatmap render: ");
done:
    if (fs != NULL) {
        for (int i = 0; i < field_count; i++) {
            md_free(fs[i].uvs);
            md_free(fs[i].materials);
        }
    }
    md_free(fs);
    md_free(jobs);
    return rc;
}
