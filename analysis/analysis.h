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
 * Sections: the numeric core (displacement, colour, texture difference, statistics, CSV) comes
 * first; the figures (cairo heatmaps) and the per-frame mesh / video export follow in their own
 * ruled sections.
 */
#ifndef ANALYSIS_ANALYSIS_H
#define ANALYSIS_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/mesh.h"
#include "server/md.h"

/* ======================================================================================== */
/* ---- Shape displacement (analysis/displace.c) ---- */

typedef enum ana_align {
    ANA_ALIGN_NONE,       /* B as loaded */
    ANA_ALIGN_RIGID,      /* B rotated and translated onto A (Kabsch, proper rotation) */
    ANA_ALIGN_SIMILARITY, /* B rotated, translated and uniformly scaled onto A (Umeyama) */
} ana_align;

/* "none", "rigid", "similarity". */
const char *ana_align_name(ana_align align);
/* Parses one of those names; MD_EINVAL naming the accepted values otherwise. */
int ana_align_parse(const char *name, ana_align *out, md_error *err);

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
 * textured material (lowest index), width x height texels, rows top first (v up, as the
 * engine). Every triangle of A using that material is rasterised in texel space (a texel is
 * covered when its centre lies in the UV triangle; UVs outside [0,1) repeat); when triangles
 * overlap in UV space, the lowest-numbered triangle owns the texel. Triangles of A using other
 * materials are not measured (they live in other texture spaces). For a covered texel with
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

/* A growing text buffer with a maximum (bytes, excluding the NUL kept after the data). */
typedef struct ana_buf {
    char *data; /* owned; NUL-terminated when non-NULL */
    size_t len, cap, max;
} ana_buf;

void ana_buf_init(ana_buf *b, size_t max);
void ana_buf_free(ana_buf *b); /* frees data; the struct may be initialised again */

/* Each appends a whole CSV file: a header line, then rows; '\n' line ends; numbers printed so
 * they read back to the same float ("%.9g") or double (shortest of %.15g/%.17g). MD_ELIMIT when
 * the buffer's maximum would be exceeded, MD_ENOMEM.
 *
 * statistics.csv: metric,component,mean,std,min,max,p25,p50,p75,p95,p99 with rows
 *   shape,normal / shape,tangential / shape,total (mesh units) and, when s->has_texture,
 *   texture,luminance / texture,chroma / texture,delta_e (L*a*b* units, covered texels). */
int ana_csv_statistics(ana_buf *b, const ana_summary *s, md_error *err);
/* vertex_displacements.csv: vertex_id,x_a,y_a,z_a,x_b,y_b,z_b,normal_disp,tangent_disp,total_disp
 * one row per vertex, ids from 0; x_b.. are B' (after the alignment). */
int ana_csv_vertex_displacements(ana_buf *b, const ana_displacement_result *r, md_error *err);
/* texture_differences.csv: pixel_x,pixel_y,luminance_diff,chroma_diff,delta_e for the covered
 * texels with x % step == 0 and y % step == 0 (step 4 in the job), pixel_y counted from the top
 * row of the texture. */
int ana_csv_texture_differences(ana_buf *b, const ana_texdiff_result *r, int step, md_error *err);
/* frames.csv:
 * index,weight,mean_disp_from_source,max_disp_from_source,mean_disp_from_target,max_disp_from_target
 */
int ana_csv_frames(ana_buf *b, const ana_frame_stat *frames, uint32_t frame_count, md_error *err);

/* ======================================================================================== */

#endif
