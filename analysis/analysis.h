/*
 * analysis.h — what a morph job measures besides its frames: shape displacement of the target
 * against the source (with optional rigid or similarity alignment), colour difference of the
 * two textures in the source's texture space (CIE L*a*b*, CIEDE2000), summary statistics and the
 * CSV files researchers read (statistics, per-vertex, per-texel, per-frame).
 *
 * Everything here is computed from the loaded meshes (mesh.h) in memory: no files, no engine,
 * no jobs. Callers (jobs/, cli/) write the buffers out and put the numbers in the manifest.
 * Results are opaque heap objects read through accessors; arrays they return are borrowed and
 * valid until the result is freed. Every function is reentrant; ana_texture_difference runs
 * its own short-lived worker threads.
 *
 * Per-frame meshes and the MP4 are built from the meshes and the rendered frames, again into
 * memory buffers.
 *
 * Sections: the numeric core (displacement, colour, texture difference, statistics, CSV) comes
 * first; the figures (cairo heatmaps) and the per-frame mesh / video export follow in their own
 * ruled sections.
 */
#ifndef ANALYSIS_ANALYSIS_H
#define ANALYSIS_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/options.h"
#include "mesh/mesh.h"
#include "mesh/write.h"
#include "base/md.h"

/* ======================================================================================== */
/* ---- Shape displacement (analysis/displace.c) ---- */

/* ana_align and its names: analysis/options.h. */

/* The transform applied to B before differencing: B' = scale * R * B + translation, with R a
 * proper rotation (det +1), row-major. Least squares over all vertices, equal weights. NONE
 * gives the identity. rms_* are sqrt(mean |B - A|^2) before and sqrt(mean |B' - A|^2) after. */
typedef struct ana_alignment {
    ana_align align;
    double rotation[9];
    double translation[3];
    double scale;
    double rms_before, rms_after;
} ana_alignment;

typedef struct ana_displacement_result ana_displacement_result;

/* Per vertex d = B' - A, with B' = B aligned to A as asked. n_A are A's area-weighted vertex
 * normals, computed exactly like the engine's morph stage (sum of unnormalised face normals in
 * triangle order, normalised; (0,0,0) for a vertex with no area). normal = d . n_A (signed,
 * positive along n_A), tangential = |d - (d . n_A) n_A|, total = |d|, in mesh units; so
 * normal^2 + tangential^2 = total^2 (a vertex with a zero normal has normal 0, tangential
 * total). a and b must share a topology (MD_ETOPOLOGY otherwise). Both borrowed. */
int ana_displacement(const mesh *a, const mesh *b, ana_align align, ana_displacement_result **out,
                     md_error *err);
void ana_displacement_free(ana_displacement_result *r);

uint32_t ana_displacement_vertex_count(const ana_displacement_result *r);
/* The 0-based number A's file gives vertex i (mesh_file_vertex): welding loaders join file
 * vertices, and vertex_displacements.csv names each row as the file does. */
uint32_t ana_displacement_vertex_id(const ana_displacement_result *r, uint32_t i);
const float *ana_displacement_normal(const ana_displacement_result *r);     /* 1 per vertex */
const float *ana_displacement_tangential(const ana_displacement_result *r); /* 1 per vertex, >= 0 */
const float *ana_displacement_total(const ana_displacement_result *r);      /* 1 per vertex, >= 0 */
const float *ana_displacement_vectors(const ana_displacement_result *r);    /* d, 3 per vertex */
const float *ana_displacement_positions_a(const ana_displacement_result *r); /* A, 3 per vertex */
const float *ana_displacement_positions_b(const ana_displacement_result *r); /* B', 3 per vertex */
const float *ana_displacement_normals_a(const ana_displacement_result *r);   /* n_A, 3 per vertex */
const ana_alignment *ana_displacement_alignment(const ana_displacement_result *r);

/* ======================================================================================== */
/* ---- Colour (analysis/color.c) ---- */

/* sRGB (IEC 61966-2-1) encoded 0..1 -> linear 0..1, the exact piecewise formula. */
double ana_srgb_to_linear(double c);
/* Linear sRGB -> CIE XYZ (D65, Y of white = 1) -> CIE L*a*b* (D65 white point, CIE 1976). */
void ana_linear_rgb_to_lab(const double rgb[3], double lab[3]);
/* 8-bit sRGB -> L*a*b* (through a 256-entry sRGB -> linear table). White gives (100, 0, 0). */
void ana_srgb8_to_lab(const uint8_t rgb[3], double lab[3]);
/* CIEDE2000 colour difference (kL = kC = kH = 1), as in Sharma, Wu and Dalal (2005),
 * including their hue conventions; reproduces their 34 test pairs to 4 decimals. */
double ana_ciede2000(const double lab1[3], const double lab2[3]);

/* ======================================================================================== */
/* ---- Texture difference (analysis/texdiff.c) ---- */

typedef struct ana_texdiff_result ana_texdiff_result;

/* Colour difference of B against A in A's texture space. The space is the texture of A's first
 * textured material that some triangle uses (lowest index), width x height texels, rows top first
 * (v up, as the engine). Every triangle of A using that material is rasterised in texel space (a
 * texel is covered when its centre lies in the UV triangle; UVs outside [0,1) repeat); when
 * triangles overlap in UV space, the lowest-numbered triangle owns the texel. Triangles of A using
 * other materials are not measured (they live in other texture spaces). For a covered texel with
 * barycentrics (l0,l1,l2) in A's UV triangle, the same barycentrics on B's UV triangle of the
 * same face give B's UV, where B's texture of that face's material is sampled like the engine
 * does (bilinear, repeat, texel centres at (u*w - 0.5, (1-v)*h - 0.5)); a B face whose material
 * has no texture gives its Kd colour. A's value is A's texel itself. Alpha composites over the
 * material colour as in the engine. Then, in L*a*b* (sRGB -> linear -> XYZ D65 -> Lab):
 *   luminance = L*_B - L*_A (signed), chroma = sqrt(da*^2 + db*^2), delta_e = CIEDE2000.
 * Uncovered texels hold 0 and coverage 0. Fails with MD_EINVAL when either mesh has no UVs or
 * no texture ("texture difference needs both meshes textured: target has no texture"),
 * MD_ETOPOLOGY when the triangle lists differ. Both meshes borrowed. threads: worker threads
 * (0: one per online core, at most 16). */
int ana_texture_difference(const mesh *a, const mesh *b, ana_texdiff_result **out, md_error *err);
int ana_texture_difference_ex(const mesh *a, const mesh *b, int threads, ana_texdiff_result **out,
                              md_error *err);
void ana_texdiff_free(ana_texdiff_result *r);

int ana_texdiff_width(const ana_texdiff_result *r);
int ana_texdiff_height(const ana_texdiff_result *r);
uint32_t ana_texdiff_material(const ana_texdiff_result *r); /* A's material whose space it is */
uint64_t ana_texdiff_covered(const ana_texdiff_result *r);  /* number of covered texels */
/* width*height each, row-major, top row first (the texture's own layout). */
const uint8_t *ana_texdiff_coverage(const ana_texdiff_result *r); /* 1 covered, 0 not */
const float *ana_texdiff_luminance(const ana_texdiff_result *r);  /* dL*, signed */
const float *ana_texdiff_chroma(const ana_texdiff_result *r);     /* sqrt(da*^2 + db*^2) */
const float *ana_texdiff_delta_e(const ana_texdiff_result *r);    /* CIEDE2000 */

/* ======================================================================================== */
/* ---- Statistics (analysis/stats.c) ---- */

/* Over the finite values where mask is nonzero (mask NULL: all). std is the population standard
 * deviation (divides by n, like numpy's default). Percentiles interpolate linearly between
 * closest ranks (numpy's default "linear", Hyndman-Fan type 7): with the n values sorted
 * x[0] <= ... <= x[n-1], p_q = x[k] + f (x[k+1] - x[k]) where k + f = (n - 1) q / 100. With no
 * value, count is 0 and every field is NAN. */
typedef struct ana_stats {
    uint64_t count;
    double mean, std, min, max;
    double p25, p50, p75, p95, p99;
} ana_stats;

int ana_stats_compute(const float *values, const uint8_t *mask, size_t n, ana_stats *out,
                      md_error *err);

/* The six rows of statistics.csv (and of the manifest). has_texture is 0 when the job has no
 * texture difference; then the texture rows are absent from the CSV. */
typedef struct ana_summary {
    ana_stats normal, tangential, total; /* shape, mesh units */
    int has_texture;
    ana_stats luminance, chroma, delta_e; /* texture, covered texels, L*a*b* units */
} ana_summary;

/* shape must not be NULL; texture may be. */
int ana_summary_compute(const ana_displacement_result *shape, const ana_texdiff_result *texture,
                        ana_summary *out, md_error *err);

/* Per frame: how far the rendered mesh is from each end. The frame's positions are the
 * engine's lerp of the raw (unaligned) meshes, p = (1 - t) a + t b in float; from_source is
 * |p - a| and from_target |p - b| per vertex, mean and max over the vertices. */
typedef struct ana_frame_stat {
    uint32_t index;
    double weight;
    double mean_from_source, max_from_source;
    double mean_from_target, max_from_target;
} ana_frame_stat;

/* out has frame_count entries (caller-allocated). a, b share a topology. */
int ana_frame_stats(const mesh *a, const mesh *b, const float *weights, uint32_t frame_count,
                    ana_frame_stat *out, md_error *err);

/* ======================================================================================== */
/* ---- CSV (analysis/csv.c) ---- */

/* The CSVs are appended to an md_buf (base/md.h), whose maximum bounds them. */

/* Each appends a whole CSV file: a header line, then rows; '\n' line ends; numbers printed so
 * they read back to the same float ("%.9g") or double (shortest of %.15g/%.17g). MD_ELIMIT when
 * the buffer's maximum would be exceeded, MD_ENOMEM.
 *
 * statistics.csv: metric,component,mean,std,min,max,p25,p50,p75,p95,p99 with rows
 *   shape,normal_displacement / shape,tangent_displacement / shape,total_displacement (mesh
 *   units) and, when s->has_texture, texture,luminance_difference (dL*, signed) /
 *   texture,chrominance_difference (sqrt(da*^2 + db*^2)) / texture,perceptual_difference
 *   (CIEDE2000) (L*a*b* units,
 *   covered texels): the component names of the face-morph tool labs migrate from, so their
 *   analysis scripts read these files unchanged. */
int ana_csv_statistics(md_buf *b, const ana_summary *s, md_error *err);
/* statistics.csv names its readers look up (morph batch's summary.csv). */
#define ANA_STATS_COLUMN_MEAN "mean"
#define ANA_STATS_TOTAL_DISPLACEMENT "total_displacement"
#define ANA_STATS_DELTA_E "perceptual_difference"
/* vertex_displacements.csv: vertex_id,x_a,y_a,z_a,x_b,y_b,z_b,normal_disp,tangent_disp,total_disp
 * one row per vertex, ids from 0; x_b.. are B' (after the alignment). */
int ana_csv_vertex_displacements(md_buf *b, const ana_displacement_result *r, md_error *err);
/* texture_differences.csv: pixel_x,pixel_y,luminance_diff,chroma_diff,delta_e for the covered
 * texels with x % step == 0 and y % step == 0 (step 4 in the job), pixel_y counted from the top
 * row of the texture. */
int ana_csv_texture_differences(md_buf *b, const ana_texdiff_result *r, int step, md_error *err);
/* frames.csv:
 * index,weight,mean_disp_from_source,max_disp_from_source,mean_disp_from_target,max_disp_from_target
 */
int ana_csv_frames(md_buf *b, const ana_frame_stat *frames, uint32_t frame_count, md_error *err);

/* ======================================================================================== */
/* ---- Figures: colour maps and scales (analysis/colormap.c) ---- */

/* Colour maps are 256-entry RGB8 tables read with linear interpolation between neighbouring
 * entries. The same lookup colours the meshes (a 256x1 ramp texture sampled by the engine,
 * unlit) and the colour bars, so a bar shows exactly the colours of the mesh. */
typedef enum ana_colormap {
    ANA_COLORMAP_VIRIDIS,   /* magnitudes: matplotlib's viridis (van der Walt, Smith; CC0) */
    ANA_COLORMAP_DIVERGING, /* signed values: ColorBrewer RdBu reversed, blue < 0 < red, with a
                               near-white centre (247,247,247) at exactly 0 */
} ana_colormap;

#define ANA_COLORMAP_SIZE 256
/* Texels that carry no measurement (uncovered by the UV layout, non-finite values). */
#define ANA_NEUTRAL_GREY 160
/* The backdrop of the heatmaps' mesh renders: a light neutral grey, so that a near-zero signed
 * value (the diverging map's near-white centre, 247) and the mesh's outline stay visible
 * instead of vanishing into a white page, and holes (eyes, mouth) read as "no surface" rather
 * than "no change". Lighter than ANA_NEUTRAL_GREY (surface without a measurement). */
#define ANA_BACKDROP_GREY 214

/* The map's ANA_COLORMAP_SIZE RGB8 entries, low end first. Static; borrowed. */
const uint8_t *ana_colormap_table(ana_colormap map);
/* The ramp texture coordinate of position s (0 low end, 1 high end; clamped, NaN -> 0):
 * u = (s * 255 + 0.5) / 256, the centre of the texel range, so bilinear-with-repeat sampling
 * of a 256-wide ramp never wraps. */
float ana_colormap_u(float s);
/* The colour at position s: the engine's bilinear lookup of a 256x1 ramp at ana_colormap_u(s),
 * with the engine's arithmetic and rounding, so an unlit render of the ramp gives these bytes. */
void ana_colormap_at(ana_colormap map, float s, uint8_t rgb[3]);
/* ana_colormap_value() of count values v[0], v[stride], ... into count RGB triples, the
 * neutral grey where mask (same stride; may be NULL) is 0; the same bytes, faster. */
void ana_colormap_values(ana_colormap map, float lo, float hi, const float *v, size_t stride,
                         const uint8_t *mask, size_t count, uint8_t *rgb);
/* The colour of value v on [lo, hi] (lo < hi): ana_colormap_at(map, (v - lo) / (hi - lo)).
 * Values outside the range take the end colours; NaN takes ANA_NEUTRAL_GREY. */
void ana_colormap_value(ana_colormap map, float lo, float hi, float v, uint8_t rgb[3]);

/* ana_scale and ana_scale_parse: analysis/options.h. */
/* The colour-bar range of one panel. Signed values always get a range symmetric around 0, so
 * the diverging map's white is exactly "no change": auto is +-max|v|, fixed is
 * +-max(|MIN|, |MAX|). Magnitudes: auto is [0, max v] (the maximum, not a percentile: the bar
 * then covers every value shown and nothing saturates); fixed is [MIN, MAX], or
 * [0, max(|MIN|, |MAX|)] when MIN < 0 (one "-2:2" serves both kinds of panel). Only finite
 * values where mask is nonzero (mask NULL: all) count. An all-zero or empty field gets
 * [0, 1] (signed: [-1, 1]). scale NULL means auto. */
/* ana_scale_range() from a range already taken: has_data, mn and mx as ana_finite_range()
 * gives them (ignored when the scale is fixed). */
void ana_scale_range_of(const ana_scale *scale, int is_signed, int has_data, float mn, float mx,
                        float *lo, float *hi);
void ana_scale_range(const ana_scale *scale, int is_signed, const float *values,
                     const uint8_t *mask, size_t n, float *lo, float *hi);

/* ======================================================================================== */
/* ---- Figures: heatmaps rendered by the engine (analysis/heatmap_render.c) ---- */

struct eng;
struct eng_camera;

/* A scalar field to paint on mesh A. */
typedef struct ana_field {
    /* Per vertex (vertex_values != NULL): A's vertices coloured through a 256x1 ramp texture,
     * one UV per vertex at ana_colormap_u of its value, so the value is interpolated across
     * triangles and then colour-mapped per pixel. */
    const float *vertex_values; /* mesh_vertex_count(a) values; borrowed */
    ana_colormap map;
    float lo, hi;
    /* Per texel (vertex_values == NULL): a texture in the texture space of A's material
     * `material`, sampled through A's own UVs per pixel; triangles of other materials show
     * neutral grey. Make it with ana_texel_colorize(..., nearest). */
    const img *texture; /* borrowed */
    uint32_t material;
} ana_field;

/* Renders each field on mesh a (borrowed) from cam, unlit, on white, at width x height with
 * samples per pixel (a square; 0 means 4), all fields in one engine batch. rgb[i] receives
 * width*height*3 bytes (caller-allocated). */
int ana_render_fields(struct eng *e, const mesh *a, const struct eng_camera *cam, int width,
                      int height, int samples, const ana_field *fields, int field_count,
                      uint8_t *const *rgb, md_error *err);

/* Per texel of a width x height map, the index of the nearest covered texel (itself when
 * covered; 8-connected breadth-first from the islands, as img_pad_from_coverage), so uncovered
 * texels can take a covered neighbour's value and bilinear lookups along UV seams never bleed
 * grey into the mesh. One pass serves every map of the same coverage. At most 2^24 texels.
 * *out (width*height) is md_malloc'd. With no covered texel every index is its own. */
int ana_texel_nearest(const uint8_t *coverage, int width, int height, uint32_t **out,
                      md_error *err);

/* A width x height RGBA texture of a per-texel map: covered texels (coverage nonzero; NULL: all)
 * take the colour of their value, ana_colormap_value(map, lo, hi, v) through a 16384-step table
 * (within one 8-bit step of it); uncovered ones take their nearest covered texel's colour when
 * nearest (from ana_texel_nearest) is given, neutral grey otherwise. *out is the caller's
 * (img_free). */
int ana_texel_colorize(const float *values, const uint8_t *coverage, int width, int height,
                       ana_colormap map, float lo, float hi, const uint32_t *nearest, img **out,
                       md_error *err);

/* ======================================================================================== */
/* ---- Figures: panels, titles and colour bars with cairo (analysis/figure.c) ---- */

#define ANA_TICKS_MAX 16

/* Where things landed in a figure, for tests and for callers that annotate further. */
typedef struct ana_panel_info {
    int render_x, render_y, render_w, render_h; /* the mesh render (or UV map), copied 1:1 */
    int bar_x, bar_y, bar_w, bar_h;             /* the colour bar; its top row is hi */
    float lo, hi;                               /* the bar's (and the colours') range */
    int tick_count;
    float tick_value[ANA_TICKS_MAX];
    int tick_y[ANA_TICKS_MAX]; /* figure row of the tick; that bar row is colour(tick value) */
} ana_panel_info;

typedef struct ana_figure_info {
    int width, height;
    int panel_count;
    ana_panel_info panel[3];
    double render_s; /* engine batch (mesh figures) or colour mapping (UV maps) */
    double draw_s;   /* cairo drawing */
    double encode_s; /* PNG encoding */
} ana_figure_info;

/* How the mesh figures are rendered; NULL fields and zeros take the defaults. */
typedef struct ana_figure_opts {
    const struct eng_camera *camera; /* the job's camera (job_build's eng_job.camera); borrowed */
    int render_width, render_height; /* each panel's render; the camera's aspect. 0: 512 */
    int samples;                     /* per pixel; 0: 4 */
    const ana_scale *shape_scale;    /* ana_figure_shape's range; NULL: auto */
    const ana_scale *texture_scale;  /* ana_figure_texture's range; NULL: auto */
    const char *units;               /* shape figures; NULL: "mesh units" */
    int keep_framing; /* 0: the camera's eye and direction, its field of view narrowed to fit A
                         (a centred crop of the frames' view at full resolution); 1: as is */
} ana_figure_opts;

/* shape_displacement_components.png: three panels of mesh a (borrowed) coloured per vertex by
 * normal (signed, diverging map), tangential and total displacement (viridis), each with a
 * title, a note of the data's range and a colour bar with ticks, numbers and units. The three
 * arrays have mesh_vertex_count(a) values (borrowed). *png is md_malloc'd; the caller frees it.
 * info may be NULL. */
int ana_figure_shape(struct eng *e, const mesh *a, const ana_figure_opts *opts, const float *normal,
                     const float *tangential, const float *total, uint8_t **png, size_t *png_len,
                     ana_figure_info *info, md_error *err);

/* texture_difference_components.png: three panels of mesh a, each pixel a texture lookup of the
 * per-texel map in the space of A's material `material` (width x height texels, rows top
 * first, coverage nonzero where measured): luminance dL* (signed, diverging), chroma dab and
 * CIEDE2000 dE (viridis). Units are L*a*b* units. */
int ana_figure_texture(struct eng *e, const mesh *a, const ana_figure_opts *opts, uint32_t material,
                       int width, int height, const uint8_t *coverage, const float *luminance,
                       const float *chroma, const float *delta_e, uint8_t **png, size_t *png_len,
                       ana_figure_info *info, md_error *err);

typedef enum ana_uv_component {
    ANA_UV_LUMINANCE, /* texture_difference_uv_luminance.png */
    ANA_UV_CHROMA,    /* texture_difference_uv_chroma.png */
    ANA_UV_DELTA_E,   /* texture_difference_uv_delta_e.png */
} ana_uv_component;

/* "texture_difference_uv_luminance.png", ... */
const char *ana_uv_component_file(ana_uv_component c);

/* One UV-space map as a figure: the colour-mapped map (uncovered texels neutral grey), scaled to
 * fit max_side pixels (0: 1024; never enlarged; nearest texel, so colours stay on the map),
 * with a title and a colour bar. scale NULL: auto. */
int ana_figure_uv_map(ana_uv_component c, int width, int height, const uint8_t *coverage,
                      const float *values, const ana_scale *scale, int max_side, uint8_t **png,
                      size_t *png_len, ana_figure_info *info, md_error *err);

/* ======================================================================================== */

/* ---- Exports: per-frame meshes (analysis/mesh_export.c) ---- */

/* ana_mesh_format and its names: analysis/options.h. */

/* The files of an exported frame, each a name relative to the folder the caller stores it in
 * and its bytes: mesh/write.h's types. ana_export_files_free is mesh_files_free. */
typedef mesh_file ana_file;
typedef mesh_files ana_export_files;

void ana_export_files_free(ana_export_files *files);

typedef struct ana_export_opts {
    int png_level; /* zlib level of the texture PNGs, 0..9 (job_spec's png_level) */
} ana_export_opts;

/* Exports the frame of shape weight t and texture weight texture_t (each in [ENG_WEIGHT_MIN,
 * ENG_WEIGHT_MAX], -3..3) of the morph a → b (same topology, checked):
 *   positions lerp(a, b, t) exactly as the engine's morph stage computes them; area-weighted
 *   vertex normals of those positions (the engine's arithmetic, see mesh_export.c); a's UVs,
 *   triangles and materials; each textured material's texture is lerp(texture_a, texture_b,
 *   texture_t) texel by texel (outside [0, 1]: extrapolated in CIE L*a*b*, gamut-clipped, as
 *   the frames are) when b's material has a texture of the same size and b's UV layout is a's
 *   (same UVs, same per-corner UV indices: true of a pair exported from one rig, e.g. ICT).
 *   Otherwise the texture is a's unchanged, with a warning in the log: b's texture would first
 *   have to be resampled into a's UV layout.
 * base_name is the file stem ("0020_a-0500_b-0500", job_frame_name without ".png"; [A-Za-z0-9._-]
 * only). OBJ gives base.obj, base.mtl and base.png (base_mN.png for material N when there are
 * several); GLB base.glb; FBX base.fbx. a, b, base_name and opts (NULL: level 1) are borrowed;
 * out must be empty and receives the files (freed by the caller, also after a failure). */
int ana_export_frame_mesh(const mesh *a, const mesh *b, float t, float texture_t,
                          ana_mesh_format fmt, const char *base_name, const ana_export_opts *opts,
                          ana_export_files *out, md_error *err);

/* Whether ana_export_frame_mesh blends b's textures into every textured material of a: 1 yes;
 * 0 no (a's textures are exported unchanged), with the reason in why (NULL ok). Callers log it
 * once per job as a warning; the per-frame export only logs it at debug level. */
int ana_export_texture_blends(const mesh *a, const mesh *b, char *why, size_t cap);

/* ---- Exports: the animation video (analysis/video.c) ---- */

/* ana_video_loop: analysis/options.h. */

typedef struct ana_video_opts {
    int fps;             /* frames per second, 1..240; 0: 30 */
    int crf;             /* x264 constant rate factor 0..51; -1: 18 (visually lossless) */
    ana_video_loop loop; /* ANA_VIDEO_ONCE by default (zero) */
} ana_video_opts;

typedef struct ana_video ana_video;

/* An H.264 (libx264; else any H.264 encoder libavcodec has) yuv420p MP4 encoder writing to
 * memory. width × height is the frame size; yuv420p needs even sides, so an odd side is padded
 * by one row or column repeating the last one (the video is then 1 pixel larger than the
 * frames). Fails with MD_ENODEV when no H.264 encoder is available. opts NULL: defaults.
 * Encoding is single-threaded with fixed settings, so the same frames give the same bytes. */
int ana_video_new(int width, int height, const ana_video_opts *opts, ana_video **out,
                  md_error *err);
/* Adds the next frame (RGB8, width*height*3 bytes, top row first; borrowed). Frames must come
 * in playing order, source → target. */
int ana_video_add_frame(ana_video *v, const uint8_t *rgb, md_error *err);
/* Flushes the encoder and finishes the MP4 (moov atom first, for progressive playback).
 * *bytes is md_malloc'd and the caller md_free's it. Fails when no frame was added. After
 * finish (successful or not) only ana_video_free may be called. */
int ana_video_finish(ana_video *v, uint8_t **bytes, size_t *len, md_error *err);
void ana_video_free(ana_video *v);

#endif
