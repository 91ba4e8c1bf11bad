/*
 * job.h — a morph job independent of where it runs: its spec (frames, size, samples, camera,
 * background, PNG level), its loaded and checked inputs, the engine job built from them, and
 * the names its frames get. `morph run` uses it today; the worker of the job server will use the
 * same pieces with object storage instead of a folder.
 *
 * Ownership: job_inputs owns both meshes and the engine-facing material tables; an eng_job
 * filled by job_build() borrows from the spec and the inputs, which must outlive it.
 */
#ifndef JOBS_JOB_H
#define JOBS_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "gpu/engine.h"
#include "mesh/mesh.h"
#include "server/md.h"

/* ---- Spec ---- */

typedef enum job_camera_mode {
    JOB_CAMERA_AUTO,     /* framed on the union of both meshes' bounds, fov/ortho kept */
    JOB_CAMERA_EXPLICIT, /* eye/target/up as given; near/far fitted to the meshes */
} job_camera_mode;

typedef struct job_spec {
    uint32_t frame_count; /* frames evenly spaced from 0 to 1 (ignored when weights given) */
    float *weights;       /* owned; explicit weights, or NULL */
    uint32_t weight_count;
    int width, height;
    int samples;
    eng_camera camera;
    job_camera_mode camera_mode;
    int ortho_auto;       /* orthographic with a height fitted to the meshes */
    uint8_t background[3];
    int png_level;
} job_spec;

/* Defaults: 41 frames, 512x512, 4 samples, auto camera with fov 30, white, PNG level 1. */
void job_spec_init(job_spec *spec);
void job_spec_free(job_spec *spec); /* frees what init/setters allocated; the struct stays */

/* Setters that parse user text and say exactly what is wrong. */
int job_spec_set_frames(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_weights(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_size(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_samples(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_camera(job_spec *spec, const char *text, md_error *err);
int job_spec_set_ortho(job_spec *spec, const char *text, md_error *err); /* height or "auto" */
int job_spec_set_background(job_spec *spec, const char *text, md_error *err); /* RRGGBB */
int job_spec_set_png_level(job_spec *spec, const char *text, md_error *err);

/* Fills weights from frame_count when none were given. Idempotent. */
int job_spec_finalize(job_spec *spec, md_error *err);
/* Weight of frame i (after finalize). */
float job_spec_weight(const job_spec *spec, uint32_t i);
uint32_t job_spec_frame_total(const job_spec *spec);

/* ---- Inputs ---- */

typedef struct job_inputs job_inputs;

typedef struct job_input_paths {
    const char *source;
    const char *target;
    const char *source_texture; /* NULL: what the mesh file names */
    const char *target_texture;
} job_input_paths;

typedef struct job_load_stats {
    double parse_s;   /* both meshes and their MTLs */
    double texture_s; /* decoding every texture, overrides included */
    double pad_s;     /* texture padding */
} job_load_stats;

/* Loads both meshes (and texture overrides), checks they share a topology, pads textures.
 * Errors name the file and say "source" or "target". */
int job_inputs_load(const job_input_paths *paths, const md_limits *lim, job_inputs **out,
                    job_load_stats *stats, md_error *err);
void job_inputs_free(job_inputs *in);
const mesh *job_inputs_mesh(const job_inputs *in, int side); /* 0 source, 1 target */

/* Fills job for the engine: camera resolved (auto-framed or fitted), weights from the spec. */
int job_build(const job_inputs *in, job_spec *spec, eng_job *job, md_error *err);

/* ---- Names ---- */

/* "0007_faceA-0825_faceB-0175.png": frame index, each mesh's name and its share in permille,
 * so names sort in playing order. stems are sanitised to [A-Za-z0-9._]. */
int job_frame_name(uint32_t index, float weight, const char *source_stem,
                   const char *target_stem, char *out, size_t cap);
/* The file name of path without folder and extension, sanitised ("ict_face_identity_A"). */
void job_path_stem(const char *path, char *out, size_t cap);

#endif
