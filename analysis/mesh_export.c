/*
 * mesh_export.c — ana_export_frame_mesh(): one frame of a morph as a mesh file set in memory,
 * OBJ + MTL + PNG, a self-contained GLB, or an FBX. This file computes the frame (geometry and
 * textures); mesh/write.c's writers (mesh_write_obj, _glb, _fbx) write it.
 *
 * Callers: `morph run` and the worker, once per frame, possibly from several threads at once
 * (the function keeps no state, nor do the writers). The meshes are borrowed and only read;
 * every output buffer is owned by the ana_export_files it lands in.
 *
 * Geometry is the engine's morph stage on the host (eng_morph_geometry, engine.h): positions
 * (1 − t)·a + t·b per coordinate, so t = 0 and t = 1 reproduce a and b bit for bit; normals are
 * the per-vertex sums of unnormalised face cross products in triangle order, scaled by their
 * largest component and normalised; (0,0,0) where the sum vanishes (OBJ keeps it; glTF, which
 * requires unit normals, gets +Z there).
 *
 * Surface: a's UVs, per-corner UV indices and materials, at the texture weight u (the shape
 * weight t unless the job split them). A textured material's texture is lerp(tex_a, tex_b, u)
 * texel by texel when the pair shares one UV layout and b's material has a texture of the same
 * size (ICT's pair does); otherwise it is a's texture (see texture_plan()). For u outside
 * [0, 1] the texels' and material colours' RGB is extrapolated in CIE L*a*b* and clipped to the
 * sRGB gamut by the engine's own function (gpu/texel.h, eng_lab_extrapolate), alpha linearly
 * and clamped, so an exported caricature wears the colours its frame shows.
 *
 * How each format lays out vertices: mesh/write.c.
 */
#define _GNU_SOURCE
#include "analysis/analysis.h"
#include "gpu/engine.h"
#include "gpu/texel.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- Output files ---- */

void ana_export_files_free(ana_export_files *files)
{
    mesh_files_free(files);
}

int ana_mesh_format_parse(const char *name, ana_mesh_format *out, md_error *err)
{
    static const char *const names[] = {"obj", "glb", "fbx"};
    for (int i = 0; i < 3; i++)
        if (name != NULL && strcmp(name, names[i]) == 0) {
            *out = (ana_mesh_format)i;
            return 0;
        }
    return md_fail(err, MD_EINVAL, "mesh format '%s': use obj, glb or fbx", name ? name : "");
}

const char *ana_mesh_format_name(ana_mesh_format fmt)
{
    switch (fmt) {
    case ANA_MESH_OBJ:
        return "obj";
    case ANA_MESH_GLB:
        return "glb";
    case ANA_MESH_FBX:
        return "fbx";
    }
    return "?";
}

/* ---- The frame: geometry, textures ---- */

typedef struct frame_data {
    const mesh *a;
    float *pos;     /* 3 * vertex_count, owned */
    float *normal;  /* 3 * vertex_count, owned */
    float (*kd)[3]; /* material colours, owned */
    uint8_t **png;  /* per material: the texture as PNG, or NULL; owned */
    size_t *png_len;
} frame_data;

static void frame_free(frame_data *f)
{
    uint32_t n = f->a ? mesh_material_count(f->a) : 0;
    for (uint32_t i = 0; f->png != NULL && i < n; i++)
        md_free(f->png[i]);
    md_free(f->png);
    md_free(f->png_len);
    md_free(f->kd);
    md_free(f->pos);
    md_free(f->normal);
}

/* The engine's morph stage itself (gpu/cpu/morph.c), so exported meshes carry exactly the
 * positions and normals the frames were rendered from. */
static void morph_geometry(const mesh *a, const mesh *b, float t, float *pos, float *nrm)
{
    eng_morph_geometry(mesh_positions(a), mesh_positions(b), mesh_vertex_count(a),
                       mesh_triangles(a), mesh_triangle_count(a), t, pos, nrm);
}

/* Whether b's textures can be blended into a's texel by texel: same UVs (to 1e-6), same
 * per-corner UV indices, same materials per triangle. 1 yes; 0 no, with the reason in why. */
static int same_uv_layout(const mesh *a, const mesh *b, char *why, size_t cap)
{
    uint32_t nuv = mesh_uv_count(a), nt = mesh_triangle_count(a);
    if (mesh_uv_count(b) != nuv || mesh_material_count(b) != mesh_material_count(a)) {
        snprintf(why, cap, "the target's UVs or materials differ in number from the source's");
        return 0;
    }
    const float *ua = mesh_uvs(a), *ub = mesh_uvs(b);
    for (size_t i = 0; i < 2 * (size_t)nuv; i++)
        if (!(fabsf(ua[i] - ub[i]) <= 1e-6f)) {
            snprintf(why, cap, "texture coordinate %zu differs between source and target", i / 2);
            return 0;
        }
    const uint32_t *ta = mesh_triangle_uvs(a), *tb = mesh_triangle_uvs(b);
    if (nuv > 0 && memcmp(ta, tb, (size_t)nt * 3 * sizeof *ta) != 0) {
        snprintf(why, cap, "the triangles' UV indices differ between source and target");
        return 0;
    }
    if (memcmp(mesh_triangle_materials(a), mesh_triangle_materials(b),
               (size_t)nt * sizeof(uint16_t)) != 0) {
        snprintf(why, cap, "the triangles' materials differ between source and target");
        return 0;
    }
    return 1;
}

/* eng_srgb_decode of every byte, so extrapolating a texture does not take three powf a texel
 * for the decoding; the values are exactly the function's. Filled once, before any thread. */
static float byte_linear[256];
static pthread_once_t byte_linear_once = PTHREAD_ONCE_INIT;

static void byte_linear_fill(void)
{
    for (int i = 0; i < 256; i++)
        byte_linear[i] = eng_srgb_decode((float)i * (1.0f / 255.0f));
}

static uint8_t unit_to_byte(float v)
{
    float x = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
    return (uint8_t)(x * 255.0f + 0.5f);
}

/* Texel by texel for t outside [0, 1]: RGB in L*a*b*, gamut-clipped; alpha lerped, clamped. */
static void extrapolate_texels(const uint8_t *pa, const uint8_t *pb, size_t texels, float t,
                               uint8_t *dst)
{
    pthread_once(&byte_linear_once, byte_linear_fill);
    for (size_t i = 0; i < texels; i++) {
        const uint8_t *a = pa + 4 * i, *b = pb + 4 * i;
        uint8_t *d = dst + 4 * i;
        const float la[3] = {byte_linear[a[0]], byte_linear[a[1]], byte_linear[a[2]]};
        const float lb[3] = {byte_linear[b[0]], byte_linear[b[1]], byte_linear[b[2]]};
        float lab_a[3], lab_b[3], rgb[3];
        eng_linear_to_lab(la, lab_a);
        eng_linear_to_lab(lb, lab_b);
        eng_lab_extrapolate(lab_a, lab_b, t, rgb);
        for (int k = 0; k < 3; k++)
            d[k] = unit_to_byte(rgb[k]);
        d[3] = unit_to_byte(((1.0f - t) * (float)a[3] + t * (float)b[3]) * (1.0f / 255.0f));
    }
}

/* Texture of material i for weight t: a new image (blend) or NULL when a's is used as it is. */
static int blend_texture(const img *ta, const img *tb, float t, img **out, md_error *err)
{
    *out = NULL;
    int w = img_width(ta), h = img_height(ta);
    img *im = img_new(w, h);
    if (im == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for a %dx%d texture", w, h);
    if (!(t >= 0.0f && t <= 1.0f)) {
        extrapolate_texels(img_pixels_const(ta), img_pixels_const(tb), (size_t)w * (size_t)h, t,
                           img_pixels(im));
        *out = im;
        return 0;
    }
    /* 16-bit fixed-point weights: exact a at t = 0 and exact b at t = 1. */
    const uint32_t wb = (uint32_t)lroundf(t * 65536.0f), wa = 65536u - wb;
    const uint8_t *pa = img_pixels_const(ta), *pb = img_pixels_const(tb);
    uint8_t *dst = img_pixels(im);
    size_t n = (size_t)w * (size_t)h * 4;
    for (size_t i = 0; i < n; i++)
        dst[i] = (uint8_t)((pa[i] * wa + pb[i] * wb + 32768u) >> 16);
    *out = im;
    return 0;
}

/* PNG of an RGBA8 image: RGB when every alpha is 255 (smaller, and what viewers expect). */
static int encode_texture(const img *im, int level, uint8_t **png, size_t *len, md_error *err)
{
    int w = img_width(im), h = img_height(im);
    const uint8_t *px = img_pixels_const(im);
    size_t n = (size_t)w * (size_t)h;
    int opaque = 1;
    for (size_t i = 0; i < n && opaque; i++)
        opaque = px[4 * i + 3] == 255;
    if (!opaque)
        return img_encode_png(px, w, h, 4, level, png, len, err);
    uint8_t *rgb = md_malloc_array(n, 3);
    if (rgb == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for a %dx%d texture", w, h);
    for (size_t i = 0; i < n; i++)
        memcpy(rgb + 3 * i, px + 4 * i, 3);
    int rc = img_encode_png(rgb, w, h, 3, level, png, len, err);
    md_free(rgb);
    return rc;
}

/* b's texture to blend into a's material i, or NULL with the reason in why. */
static const img *blend_partner(const mesh *a, const mesh *b, uint32_t i, int same_layout,
                                char *why, size_t cap)
{
    const img *ta = mesh_material_texture(a, i);
    if (!same_layout || ta == NULL)
        return NULL;
    const img *tb = mesh_material_texture(b, i);
    if (tb == NULL) {
        snprintf(why, cap, "the target's material %u has no texture", i);
        return NULL;
    }
    if (img_width(tb) != img_width(ta) || img_height(tb) != img_height(ta)) {
        snprintf(why, cap, "the target's texture is %dx%d, the source's %dx%d", img_width(tb),
                 img_height(tb), img_width(ta), img_height(ta));
        return NULL;
    }
    return tb;
}

int ana_export_texture_blends(const mesh *a, const mesh *b, char *why, size_t cap)
{
    char reason[160] = "";
    int same_layout = same_uv_layout(a, b, reason, sizeof reason);
    int all = 1;
    for (uint32_t i = 0; i < mesh_material_count(a) && mesh_uv_count(a) > 0; i++)
        if (mesh_material_texture(a, i) != NULL &&
            blend_partner(a, b, i, same_layout, reason, sizeof reason) == NULL)
            all = 0;
    if (why != NULL && cap > 0)
        snprintf(why, cap, "%s", all ? "" : reason);
    return all;
}

static int frame_build(frame_data *f, const mesh *a, const mesh *b, float t, float u, int png_level,
                       md_error *err)
{
    uint32_t nv = mesh_vertex_count(a), nm = mesh_material_count(a);
    f->a = a;
    f->pos = md_malloc_array(nv, 3 * sizeof(float));
    f->normal = md_malloc_array(nv, 3 * sizeof(float));
    f->kd = md_calloc(nm, sizeof *f->kd);
    f->png = md_calloc(nm, sizeof *f->png);
    f->png_len = md_calloc(nm, sizeof *f->png_len);
    if (f->pos == NULL || f->normal == NULL || f->kd == NULL || f->png == NULL ||
        f->png_len == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for a frame of %u vertices", nv);
    morph_geometry(a, b, t, f->pos, f->normal);

    char why[160] = "";
    int same_layout = same_uv_layout(a, b, why, sizeof why);
    for (uint32_t i = 0; i < nm; i++) {
        float ca[3], cb[3];
        mesh_material_color(a, i, ca);
        if (same_layout)
            mesh_material_color(b, i, cb);
        if (same_layout && !(u >= 0.0f && u <= 1.0f))
            eng_texel_extrapolate(ca, cb, u, f->kd[i]);
        else
            for (int k = 0; k < 3; k++)
                f->kd[i][k] = same_layout ? (1.0f - u) * ca[k] + u * cb[k] : ca[k];
        const img *ta = mesh_material_texture(a, i);
        if (ta == NULL || mesh_uv_count(a) == 0)
            continue;
        const img *tb = blend_partner(a, b, i, same_layout, why, sizeof why);
        img *blend = NULL;
        if (tb != NULL && u != 0.0f) {
            int rc = blend_texture(ta, tb, u, &blend, err);
            if (rc != 0)
                return rc;
        } else if (tb == NULL)
            md_log(MD_LOG_DEBUG,
                   "mesh export: material %u keeps the source's texture (%s); blending would "
                   "need the target's texture resampled into the source's UV layout",
                   i, why);
        int rc = encode_texture(blend ? blend : ta, png_level, &f->png[i], &f->png_len[i], err);
        img_free(blend);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- Entry point ---- */

int ana_export_frame_mesh(const mesh *a, const mesh *b, float t, float texture_t,
                          ana_mesh_format fmt, const char *base_name, const ana_export_opts *opts,
                          ana_export_files *out, md_error *err)
{
    frame_data f;
    memset(&f, 0, sizeof f);
    int level = opts ? opts->png_level : 1;
    int rc = mesh_write_check_name(base_name, err);
    if (rc != 0)
        return rc;
    if (!(t >= ENG_WEIGHT_MIN && t <= ENG_WEIGHT_MAX))
        return md_fail(err, MD_EINVAL, "mesh export: shape weight %g is not in [%g, %g]", (double)t,
                       (double)ENG_WEIGHT_MIN, (double)ENG_WEIGHT_MAX);
    if (!(texture_t >= ENG_WEIGHT_MIN && texture_t <= ENG_WEIGHT_MAX))
        return md_fail(err, MD_EINVAL, "mesh export: texture weight %g is not in [%g, %g]",
                       (double)texture_t, (double)ENG_WEIGHT_MIN, (double)ENG_WEIGHT_MAX);
    if (level < 0 || level > 9)
        return md_fail(err, MD_EINVAL, "mesh export: PNG level %d is not in 0..9", level);
    if (fmt != ANA_MESH_OBJ && fmt != ANA_MESH_GLB && fmt != ANA_MESH_FBX)
        return md_fail(err, MD_EINVAL, "mesh export: unknown format %d", (int)fmt);
    rc = mesh_check_topology(a, b, err);
    if (rc != 0)
        return rc;
    rc = frame_build(&f, a, b, t, texture_t, level, err);
    if (rc == 0) {
        const mesh_write_input in = {
            .m = f.a,
            .pos = f.pos,
            .normal = f.normal,
            .kd = (const float(*)[3])f.kd,
            .png = f.png,
            .png_len = f.png_len,
        };
        if (fmt == ANA_MESH_OBJ)
            rc = mesh_write_obj(&in, base_name, out, err);
        else if (fmt == ANA_MESH_GLB)
            rc = mesh_write_glb(&in, base_name, out, err);
        else
            rc = mesh_write_fbx(&in, base_name, out, err);
    }
    frame_free(&f);
    if (rc != 0)
        md_error_prefix(err, "%s export of %s: ", ana_mesh_format_name(fmt), base_name);
    return rc;
}
