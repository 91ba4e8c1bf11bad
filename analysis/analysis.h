/*
 * analysis.h — the outputs of a morph job besides its frames (issue 4, DESIGN.md §6): shape and
 * texture differences, their figures and CSVs, per-frame meshes and the animation video.
 *
 * The module sits beside gpu/ and mesh/ (jobs → analysis → mesh, base): it takes meshes and
 * frames in memory and returns bytes in memory; the caller stores them (a folder for `morph run`,
 * object storage for the worker). No I/O, no globals, so any thread may call it.
 */
#ifndef ANALYSIS_ANALYSIS_H
#define ANALYSIS_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/mesh.h"
#include "server/md.h"

/* ---- Exports: per-frame meshes (analysis/mesh_export.c) ---- */

typedef enum ana_mesh_format {
    ANA_MESH_OBJ, /* .obj + .mtl + one .png per textured material */
    ANA_MESH_GLB, /* one self-contained glTF 2.0 binary, textures embedded */
    ANA_MESH_FBX, /* binary FBX through assimp's exporter, textures embedded */
} ana_mesh_format;

/* "obj", "glb" or "fbx" → *out; MD_EINVAL naming the accepted values otherwise. */
int ana_mesh_format_parse(const char *name, ana_mesh_format *out, md_error *err);
const char *ana_mesh_format_name(ana_mesh_format fmt); /* "obj", "glb", "fbx" */

/* One output file: a name relative to the folder the caller stores it in, and its bytes. */
typedef struct ana_file {
    char *name;     /* owned, e.g. "0020_a-0500_b-0500.obj" */
    uint8_t *bytes; /* owned */
    size_t len;
} ana_file;

/* The files of one exported frame. Zero-initialise; ana_export_files_free() releases them and
 * leaves the struct empty (so it may be reused). */
typedef struct ana_export_files {
    ana_file *files; /* owned, count entries */
    uint32_t count;
} ana_export_files;

void ana_export_files_free(ana_export_files *files);

typedef struct ana_export_opts {
    int png_level; /* zlib level of the texture PNGs, 0..9 (job_spec's png_level) */
} ana_export_opts;

/* Exports the frame of weight t (0..1) of the morph a → b (same topology, checked):
 *   positions lerp(a, b, t) exactly as the engine's morph stage computes them; area-weighted
 *   vertex normals of those positions (the engine's arithmetic, see mesh_export.c); a's UVs,
 *   triangles and materials; each textured material's texture is lerp(texture_a, texture_b, t)
 *   texel by texel when b's material has a texture of the same size and b's UV layout is a's
 *   (same UVs, same per-corner UV indices: true of a pair exported from one rig, e.g. ICT).
 *   Otherwise the texture is a's unchanged, with a warning in the log: b's texture would first
 *   have to be resampled into a's UV layout.
 * base_name is the file stem ("0020_a-0500_b-0500", job_frame_name without ".png"; [A-Za-z0-9._-]
 * only). OBJ gives base.obj, base.mtl and base.png (base_mN.png for material N when there are
 * several); GLB base.glb; FBX base.fbx. a, b, base_name and opts (NULL: level 1) are borrowed;
 * out must be empty and receives the files (freed by the caller, also after a failure). */
int ana_export_frame_mesh(const mesh *a, const mesh *b, float t, ana_mesh_format fmt,
                          const char *base_name, const ana_export_opts *opts, ana_export_files *out,
                          md_error *err);

/* Whether ana_export_frame_mesh blends b's textures into every textured material of a: 1 yes;
 * 0 no (a's textures are exported unchanged), with the reason in why (NULL ok). Callers log it
 * once per job as a warning; the per-frame export only logs it at debug level. */
int ana_export_texture_blends(const mesh *a, const mesh *b, char *why, size_t cap);

/* ---- Exports: the animation video (analysis/video.c) ---- */

typedef enum ana_video_loop {
    ANA_VIDEO_ONCE, /* frames as fed: source → target */
    ANA_VIDEO_PINGPONG, /* source → target → source, the end frames not repeated (2N − 2 frames) */
} ana_video_loop;

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
