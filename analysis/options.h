/*
 * options.h — the values a job chooses for its analysis outputs, and their names: alignment,
 * the heatmap scales (one per figure kind), per-frame mesh format, video loop. Split from
 * analysis.h so that a job spec (jobs/spec.h), which carries them, can be read by the api without
 * the analysis API. analysis.h includes it; the functions live with the code they configure
 * (displace.c, colormap.c, mesh_export.c).
 */
#ifndef ANALYSIS_OPTIONS_H
#define ANALYSIS_OPTIONS_H

#include "base/md.h"

#include <stddef.h>

/* ---- Shape displacement: alignment of B onto A ---- */

typedef enum ana_align {
    ANA_ALIGN_NONE,       /* B as loaded */
    ANA_ALIGN_RIGID,      /* B rotated and translated onto A (Kabsch, proper rotation) */
    ANA_ALIGN_SIMILARITY, /* B rotated, translated and uniformly scaled onto A (Umeyama) */
} ana_align;

/* "none", "rigid", "similarity". */
const char *ana_align_name(ana_align align);
/* Parses one of those names; MD_EINVAL naming the accepted values otherwise. */
int ana_align_parse(const char *name, ana_align *out, md_error *err);

/* ---- Figures: the heatmap scales ---- */

/* --shape-scale / --texture-scale: auto, or MIN:MAX fixed so that figures compare across jobs.
 * One per figure kind, since the kinds measure in different units (mesh units; L*a*b*). */
typedef struct ana_scale {
    int fixed;      /* 0: auto */
    float min, max; /* when fixed: min < max, both finite */
} ana_scale;

/* "auto" or "MIN:MAX" ("-2:2", "0:1.5e-3"); MD_EINVAL with what was wrong. */
int ana_scale_parse(const char *text, ana_scale *out, md_error *err);
/* The text ana_scale_parse reads back to the same floats: "auto" or "%.9g:%.9g". */
void ana_scale_format(const ana_scale *scale, char *out, size_t cap);

/* ---- Exports: per-frame mesh format ---- */

typedef enum ana_mesh_format {
    ANA_MESH_OBJ, /* .obj + .mtl + one .png per textured material */
    ANA_MESH_GLB, /* one self-contained glTF 2.0 binary, textures embedded */
    ANA_MESH_FBX, /* binary FBX through assimp's exporter, textures embedded */
} ana_mesh_format;

/* "obj", "glb" or "fbx" → *out; MD_EINVAL naming the accepted values otherwise. */
int ana_mesh_format_parse(const char *name, ana_mesh_format *out, md_error *err);
const char *ana_mesh_format_name(ana_mesh_format fmt); /* "obj", "glb", "fbx" */

/* ---- Exports: how the video plays the frames ---- */

typedef enum ana_video_loop {
    ANA_VIDEO_ONCE, /* frames as fed: source → target */
    ANA_VIDEO_PINGPONG, /* source → target → source, the end frames not repeated (2N − 2 frames) */
} ana_video_loop;

#endif
