/*
 * spec.h — a job's spec: what the client asked for (kind, frames, size, samples, camera,
 * background, PNG level, views, label, outputs) from CLI flags or the api's spec JSON, with the
 * setters that parse user text, its JSON form, and the names a job's files get. Implemented in
 * jobs/spec.c (names too), jobs/spec_json.c and jobs/render.c (view count).
 *
 * The api includes this header and jobs/queue.h, never job.h: the spec's cameras and analysis
 * options come from gpu/camera.h and analysis/options.h, value types without the engine or
 * analysis API. Ownership: a job_spec owns its weight lists (weights, shape and texture weights)
 * and views (job_spec_free).
 */
#ifndef JOBS_SPEC_H
#define JOBS_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "analysis/options.h"
#include "base/md.h"
#include "gpu/camera.h"

typedef enum job_camera_mode {
    JOB_CAMERA_AUTO,     /* framed on the union of both meshes' bounds, fov/ortho kept */
    JOB_CAMERA_EXPLICIT, /* eye/target/up as given; near/far fitted to the meshes */
} job_camera_mode;

typedef enum job_kind {
    JOB_KIND_MORPH,  /* source and target, frames at weights */
    JOB_KIND_RENDER, /* one mesh, one frame per view */
    /* Face space (jobs/facespace.h): base + k (to - from) for each of amounts, one mesh and one
     * frame per amount. */
    JOB_KIND_TRANSFORM,
    JOB_KIND_AVERAGE, /* meshes averaged with mesh_weights: one mesh and one frame */
} job_kind;

/* A camera as the client gave it, before it meets the meshes' bounds. */
typedef struct job_view {
    eng_camera camera; /* with JOB_CAMERA_AUTO only fov/orthographic/height count */
    job_camera_mode camera_mode;
    int ortho_auto; /* orthographic with a height fitted to the meshes */
} job_view;

typedef enum job_views_mode {
    JOB_VIEWS_TURNTABLE, /* turntable_count views orbiting the mesh around +Y */
    JOB_VIEWS_CAMERAS,   /* the cameras in views[] */
} job_views_mode;

#define JOB_LABEL_MAX 200         /* bytes of UTF-8 */
#define JOB_FRAME_ON_NAME_MAX 127 /* bytes of a frame_on reference's name */
/* Bytes of a target_morph name or index; equals MESH_MORPH_TARGET_MAX (checked in
 * jobs/spec_json.c; this header does not include the mesh API). */
#define JOB_TARGET_MORPH_MAX 128
/* hide_materials: at most this many names, each 1..JOB_MATERIAL_NAME_MAX bytes. */
#define JOB_HIDE_MATERIALS_MAX 32
#define JOB_MATERIAL_NAME_MAX 255

/* What a job produces besides manifest.json and session.log (DESIGN.md §6). Frames are always
 * produced: a set without them gets them added. Render jobs produce frames only. */
enum {
    JOB_OUT_FRAMES = 1u << 0,   /* frames/NNNN_....png */
    JOB_OUT_HEATMAPS = 1u << 1, /* shape_displacement_components.png, texture_difference_*.png */
    JOB_OUT_CSV = 1u << 2,      /* statistics, vertex_displacements, texture_differences, frames */
    JOB_OUT_MESHES = 1u << 3,   /* meshes/<frame>.{obj,mtl,png | glb | fbx} */
    JOB_OUT_VIDEO = 1u << 4,    /* animation.mp4 */
};
#define JOB_OUTPUTS_MINIMAL (JOB_OUT_FRAMES | JOB_OUT_HEATMAPS) /* the default of a morph job */
#define JOB_OUTPUTS_ALL                                                                            \
    (JOB_OUT_FRAMES | JOB_OUT_HEATMAPS | JOB_OUT_CSV | JOB_OUT_MESHES | JOB_OUT_VIDEO)
#define JOB_OUTPUT_KINDS 5
#define JOB_FPS_MAX 120

/* How --frames N spaces its weights over the range: u = i / (N - 1) becomes e(u), and the
 * weight is from + (to - from) * e(u). */
typedef enum job_easing {
    JOB_EASING_LINEAR,     /* e(u) = u: evenly spaced */
    JOB_EASING_SMOOTHSTEP, /* e(u) = 3u^2 - 2u^3: slow at both ends */
    JOB_EASING_SINE,       /* e(u) = (1 - cos(pi u)) / 2: slow at both ends, gentler */
} job_easing;

/* Weights of a morph job: the share of the target, from an anti-face at -3 through the source
 * (0) and the target (1) to a caricature at 3. */
#define JOB_WEIGHT_MIN (-3.0)
#define JOB_WEIGHT_MAX 3.0

typedef struct job_spec {
    job_kind kind;
    uint32_t frame_count; /* frames spread over range (ignored when weights given) */
    float *weights;       /* owned; explicit weights, or NULL */
    uint32_t weight_count;
    int weights_given;             /* weights came from the client (not filled from frame_count) */
    double range_from, range_to;   /* the weights frame_count spreads over (0, 1) */
    job_easing easing;             /* how they are spaced (linear) */
    float *shape_weights;          /* owned; one per frame, or NULL: the weights */
    uint32_t shape_weight_count;   /* as given; must equal the frame count */
    float *texture_weights;        /* owned; one per frame, or NULL: the weights */
    uint32_t texture_weight_count; /* as given; must equal the frame count */
    /* Shared framing: the camera is fitted to these bounds (a reference mesh's) instead of the
     * pair's, so jobs framed on one reference share one camera. */
    int frame_on;
    char frame_on_name[JOB_FRAME_ON_NAME_MAX + 1]; /* the reference's stem, [A-Za-z0-9._] */
    float frame_on_min[3], frame_on_max[3];
    int width, height;
    int samples;
    eng_camera camera;
    job_camera_mode camera_mode;
    int ortho_auto; /* orthographic with a height fitted to the meshes */
    uint8_t background[3];
    int png_level;
    char label[JOB_LABEL_MAX + 1]; /* free text from the client, "" by default */
    /* Morph jobs: "" (a target part is the target), or a morph target of the source file (its
     * name or 0-based index in decimal, mesh_load_opts.morph_target): the target is then the
     * source with that target applied, and the job has no target part. */
    char target_morph[JOB_TARGET_MORPH_MAX + 1];
    /* Morph jobs: materials left out of the frames, figures, statistics, CSVs and per-frame
     * meshes (job_inputs_hide), by name as the mesh files give them; distinct, in the order
     * given; none by default. */
    uint32_t hide_count;
    char hide_materials[JOB_HIDE_MATERIALS_MAX][JOB_MATERIAL_NAME_MAX + 1];
    /* Render jobs. A turntable takes fov and projection from camera; listed views start from
     * camera and override what they name. */
    job_views_mode views_mode;
    uint32_t turntable_count;      /* JOB_VIEWS_TURNTABLE: 1..max_views */
    float turntable_elevation_deg; /* above the horizontal plane, (-90, 90) */
    job_view *views;               /* owned; JOB_VIEWS_CAMERAS */
    uint32_t view_count;
    /* Outputs (morph jobs; a render job has JOB_OUT_FRAMES and the defaults below). */
    unsigned outputs;            /* JOB_OUT_* bits, always with JOB_OUT_FRAMES */
    ana_align align;             /* B onto A before the displacement (none) */
    ana_scale shape_scale;       /* auto, or MIN:MAX for the shape figure (mesh units) */
    ana_scale texture_scale;     /* auto, or MIN:MAX for the texture figures (L*a*b* units) */
    ana_mesh_format mesh_format; /* per-frame meshes (obj) */
    int fps;                     /* animation.mp4, 1..JOB_FPS_MAX (30) */
    ana_video_loop loop;         /* once (source -> target) or pingpong */
    /* Face-space jobs (JOB_KIND_TRANSFORM, JOB_KIND_AVERAGE; jobs/facespace.h). */
    float *amounts; /* owned; transform: 1..max_frames amounts, each -3..3 */
    uint32_t amount_count;
    double *mesh_weights; /* owned; average: one per mesh, >= 0, as given (NULL: equal) */
    uint32_t mesh_weight_count;
} job_spec;

/* Defaults: a morph job, 41 frames, 512x512, 4 samples, auto camera with fov 30, white, PNG
 * level 1, no label; views (render jobs): a turntable of one view, i.e. the front; outputs
 * frames and heatmaps, no alignment, auto heatmap scale, OBJ meshes, 30 fps, played once. */
void job_spec_init(job_spec *spec);
void job_spec_free(job_spec *spec); /* frees what init/setters allocated; the struct stays */

/* Setters that parse user text and say exactly what is wrong. */
int job_spec_set_frames(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_weights(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
/* "FROM:TO", each from -3 to 3 (FROM == TO allowed: every frame the same weight). */
int job_spec_set_range(job_spec *spec, const char *text, md_error *err);
/* "linear", "smoothstep" or "sine" (job_easing). */
int job_spec_set_easing(job_spec *spec, const char *text, md_error *err);
/* Frames the camera on [min, max] (a reference mesh's bounds; name is its stem, sanitised and
 * cut to JOB_FRAME_ON_NAME_MAX) instead of the pair's. MD_EINVAL unless every number is finite
 * and min <= max. */
int job_spec_set_frame_on(job_spec *spec, const char *name, const float min[3], const float max[3],
                          md_error *err);
/* The resolved camera of an earlier job's manifest.json (its "camera"), as an explicit camera
 * with its near and far: a job given it renders with exactly that camera. what names the file
 * in messages. Borrows manifest. */
int job_spec_set_camera_from_manifest(job_spec *spec, const json_t *manifest, const char *what,
                                      md_error *err);
/* Comma-separated weights from -3 to 3, one per frame (checked against the frame count by
 * job_spec_finalize, since --frames may come later). */
int job_spec_set_shape_weights(job_spec *spec, const char *text, const md_limits *lim,
                               md_error *err);
int job_spec_set_texture_weights(job_spec *spec, const char *text, const md_limits *lim,
                                 md_error *err);
int job_spec_set_size(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_samples(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_camera(job_spec *spec, const char *text, md_error *err);
int job_spec_set_ortho(job_spec *spec, const char *text, md_error *err);      /* height or "auto" */
int job_spec_set_background(job_spec *spec, const char *text, md_error *err); /* RRGGBB */
int job_spec_set_png_level(job_spec *spec, const char *text, md_error *err);
/* "frames,heatmaps,csv,meshes,video" (any subset, comma-separated), "minimal" or "all"/"full". */
int job_spec_set_outputs(job_spec *spec, const char *text, md_error *err);
int job_spec_set_align(job_spec *spec, const char *text, md_error *err); /* none|rigid|similarity */
/* auto|MIN:MAX, each figure kind its own range (ana_scale_range): the shape figure's in mesh
 * units, the texture figures' (the mesh panels and the UV maps) in L*a*b* units. */
int job_spec_set_shape_scale(job_spec *spec, const char *text, md_error *err);
int job_spec_set_texture_scale(job_spec *spec, const char *text, md_error *err);
/* --heatmap-scale, kept as the shorthand for --shape-scale (before 2026-12 it set every figure's
 * range, which turned the texture figure into one colour): sets shape_scale. */
int job_spec_set_heatmap_scale(job_spec *spec, const char *text, md_error *err);
int job_spec_set_mesh_format(job_spec *spec, const char *text, md_error *err); /* obj|glb|fbx */
int job_spec_set_fps(job_spec *spec, const char *text, md_error *err);         /* 1..120 */
int job_spec_set_loop(job_spec *spec, const char *text, md_error *err);        /* once|pingpong */
/* --hide-materials NAME,...: comma-separated material names (a name cannot hold a comma here;
 * the spec JSON's list can), appended to hide_materials; a repeated name counts once. */
int job_spec_set_hide_materials(job_spec *spec, const char *text, md_error *err);
/* Appends one name of len bytes to hide_materials (what names the option in messages):
 * MD_EINVAL when empty, longer than JOB_MATERIAL_NAME_MAX, holding a NUL or a control
 * character, or one too many. A name already there is not added again. */
int job_spec_add_hidden(job_spec *spec, const char *name, size_t len, const char *what,
                        md_error *err);

/* Output names: "frames", "heatmaps", "csv", "meshes", "video" for one JOB_OUT_* bit; NULL for
 * anything else. */
const char *job_output_name(unsigned bit);
/* Parses an output list like job_spec_set_outputs (without the option's name in messages);
 * the result always has JOB_OUT_FRAMES. */
int job_outputs_parse(const char *text, unsigned *out, md_error *err);
/* "frames,heatmaps": the set's names in the order above, into out. */
void job_outputs_format(unsigned outputs, char *out, size_t cap);
const char *job_loop_name(ana_video_loop loop); /* "once", "pingpong" */

/* "morph", "render", "transform", "average". */
const char *job_kind_name(job_kind kind);
/* Whether kind is a face-space kind (transform, average). */
int job_kind_is_face(job_kind kind);

/* "linear", "smoothstep", "sine"; the easing a name spells (0) or -1. */
const char *job_easing_name(job_easing easing);
int job_easing_parse(const char *text, job_easing *out);
/* e(u) of an easing for u in [0, 1]; e(0) = 0 and e(1) = 1 exactly. */
double job_easing_apply(job_easing easing, double u);

/* Fills weights from frame_count, range and easing when none were given, and checks that
 * shape and texture weights, when given, have one weight per frame (MD_EINVAL saying how many
 * of each). Idempotent. */
int job_spec_finalize(job_spec *spec, md_error *err);
/* MD_EBUDGET when one frame of the spec (its size and samples; every view of a render job has
 * them) needs more than lim->max_frame_bytes to render (eng_frame_bytes), with the figures and
 * what to lower. The api calls it at submit (job_spec_from_json), before any mesh is read, so
 * it counts an opaque frame: translucent materials (engine.h eng_job_translucent) add
 * ENG_XLU_LAYERS * 8 bytes a sample, which eng_job_validate checks (eng_job_frame_bytes) when
 * the worker or `morph run` builds the job, failing it with both figures. */
int job_spec_check_budget(const job_spec *spec, const md_limits *lim, md_error *err);
/* An average of count meshes: MD_EINVAL unless count is 2..lim->max_average_meshes (else
 * MD_ELIMIT) and the spec's mesh_weights, when given, are count numbers of positive sum. */
int job_spec_check_mesh_count(const job_spec *spec, uint32_t count, const md_limits *lim,
                              md_error *err);
/* Weight of frame i (after finalize), and its shape and texture weights (the weight unless
 * shape_weights / texture_weights were given). */
float job_spec_weight(const job_spec *spec, uint32_t i);
/* The frame list's shape and texture weights (after finalize; borrowed from spec). */
const float *job_spec_shape_weights(const job_spec *spec);
const float *job_spec_texture_weights(const job_spec *spec);
/* Whether any texture weight lies outside [0, 1] (extrapolated in L*a*b*, gamut-clipped). */
int job_spec_texture_extrapolates(const job_spec *spec);
uint32_t job_spec_frame_total(const job_spec *spec);
/* Number of views, so of eng_jobs and frames, of a render job (0 for a morph job; the views are
 * built by job_build_render, jobs/render.c). */
uint32_t job_spec_view_count(const job_spec *spec);

/* ---- Spec JSON (jobs/spec_json.c) ---- */

/* Applies a client's spec JSON object (docs/server.md, "Spec") onto spec, whose defaults
 * job_spec_init set. Every field is optional. Errors are MD_EINVAL with a detail naming the
 * field and what was wrong ("spec.width: must be an integer from 1 to 8192, got 9000");
 * unknown fields are rejected by name. Limits come from lim, checked by the same code as the
 * CLI setters. obj is borrowed. On error spec is left as it was. */
int job_spec_from_json(job_spec *spec, const json_t *obj, const md_limits *lim, md_error *err);
/* The normalised spec with every default filled in, as the api returns it and the worker reads
 * it back: job_spec_from_json(job_spec_to_json(s)) gives s again. New reference; NULL when
 * out of memory. */
json_t *job_spec_to_json(const job_spec *spec);

/* ---- Names ---- */

/* "0007_faceA-0825_faceB-0175.png": frame index, each mesh's name and its share of the shape
 * in permille; the index leads, so names sort in playing order whatever the weights. A negative
 * share is written m and its magnitude ("0000_faceA-1500_faceB-m0500.png" at weight -0.5,
 * "..._faceA-m0500_faceB-1500.png" at 1.5), so names keep to [A-Za-z0-9._-] and weights in
 * [0, 1] keep the names they always had. When the texture weight differs from the shape weight,
 * "_texture-PPPP" (the target's share of the texture, written the same way) comes before
 * ".png". stems are sanitised to [A-Za-z0-9._]. */
int job_frame_name(uint32_t index, float shape_weight, float texture_weight,
                   const char *source_stem, const char *target_stem, char *out, size_t cap);
/* The file name of path without folder and extension, sanitised ("ict_face_identity_A"). */
void job_path_stem(const char *path, char *out, size_t cap);
/* "0003_head-view.png": view index and the mesh's stem (sanitised like job_path_stem), so names
 * sort in view order. MD_EINVAL when it does not fit in cap. */
int job_view_name(uint32_t index, const char *stem, char *out, size_t cap);

#endif
