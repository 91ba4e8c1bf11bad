/*
 * job.h — a job independent of where it runs: its spec (kind, frames, size, samples, camera,
 * background, PNG level, views, label) from CLI flags or the api's spec JSON, its loaded and
 * checked inputs, the engine jobs built from them, and the names its frames get. `morph run`
 * and the job server's worker use the same pieces.
 *
 * Two kinds: a morph job has a source and a target mesh of one topology and a list of weights;
 * a render job has one mesh and a list of views, each rendered as its own eng_job (the same
 * positions twice, one frame at weight 0).
 *
 * Ownership: job_inputs owns its meshes and the engine-facing material tables; an eng_job
 * filled by job_build() or job_build_render() borrows from the spec and the inputs (or the mesh
 * and materials), which must outlive it.
 */
#ifndef JOBS_JOB_H
#define JOBS_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "analysis/analysis.h"
#include "gpu/engine.h"
#include "mesh/mesh.h"
#include "base/md.h"

/* ---- Spec ---- */

typedef enum job_camera_mode {
    JOB_CAMERA_AUTO,     /* framed on the union of both meshes' bounds, fov/ortho kept */
    JOB_CAMERA_EXPLICIT, /* eye/target/up as given; near/far fitted to the meshes */
} job_camera_mode;

typedef enum job_kind {
    JOB_KIND_MORPH,  /* source and target, frames at weights */
    JOB_KIND_RENDER, /* one mesh, one frame per view */
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

#define JOB_LABEL_MAX 200 /* bytes of UTF-8 */

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

typedef struct job_spec {
    job_kind kind;
    uint32_t frame_count; /* frames evenly spaced from 0 to 1 (ignored when weights given) */
    float *weights;       /* owned; explicit weights, or NULL */
    uint32_t weight_count;
    int weights_given; /* weights came from the client (not filled from frame_count) */
    int width, height;
    int samples;
    eng_camera camera;
    job_camera_mode camera_mode;
    int ortho_auto; /* orthographic with a height fitted to the meshes */
    uint8_t background[3];
    int png_level;
    char label[JOB_LABEL_MAX + 1]; /* free text from the client, "" by default */
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
    ana_scale heatmap_scale;     /* auto, or MIN:MAX for every heatmap panel (ana_scale_range) */
    ana_mesh_format mesh_format; /* per-frame meshes (obj) */
    int fps;                     /* animation.mp4, 1..JOB_FPS_MAX (30) */
    ana_video_loop loop;         /* once (source -> target) or pingpong */
} job_spec;

/* Defaults: a morph job, 41 frames, 512x512, 4 samples, auto camera with fov 30, white, PNG
 * level 1, no label; views (render jobs): a turntable of one view, i.e. the front; outputs
 * frames and heatmaps, no alignment, auto heatmap scale, OBJ meshes, 30 fps, played once. */
void job_spec_init(job_spec *spec);
void job_spec_free(job_spec *spec); /* frees what init/setters allocated; the struct stays */

/* Setters that parse user text and say exactly what is wrong. */
int job_spec_set_frames(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_weights(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_size(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_samples(job_spec *spec, const char *text, const md_limits *lim, md_error *err);
int job_spec_set_camera(job_spec *spec, const char *text, md_error *err);
int job_spec_set_ortho(job_spec *spec, const char *text, md_error *err);      /* height or "auto" */
int job_spec_set_background(job_spec *spec, const char *text, md_error *err); /* RRGGBB */
int job_spec_set_png_level(job_spec *spec, const char *text, md_error *err);
/* "frames,heatmaps,csv,meshes,video" (any subset, comma-separated), "minimal" or "all"/"full". */
int job_spec_set_outputs(job_spec *spec, const char *text, md_error *err);
int job_spec_set_align(job_spec *spec, const char *text, md_error *err); /* none|rigid|similarity */
int job_spec_set_heatmap_scale(job_spec *spec, const char *text, md_error *err); /* auto|MIN:MAX */
int job_spec_set_mesh_format(job_spec *spec, const char *text, md_error *err);   /* obj|glb|fbx */
int job_spec_set_fps(job_spec *spec, const char *text, md_error *err);           /* 1..120 */
int job_spec_set_loop(job_spec *spec, const char *text, md_error *err);          /* once|pingpong */

/* Output names: "frames", "heatmaps", "csv", "meshes", "video" for one JOB_OUT_* bit; NULL for
 * anything else. */
const char *job_output_name(unsigned bit);
/* Parses an output list like job_spec_set_outputs (without the option's name in messages);
 * the result always has JOB_OUT_FRAMES. */
int job_outputs_parse(const char *text, unsigned *out, md_error *err);
/* "frames,heatmaps": the set's names in the order above, into out. */
void job_outputs_format(unsigned outputs, char *out, size_t cap);
const char *job_loop_name(ana_video_loop loop); /* "once", "pingpong" */

/* Fills weights from frame_count when none were given. Idempotent. */
int job_spec_finalize(job_spec *spec, md_error *err);
/* Weight of frame i (after finalize). */
float job_spec_weight(const job_spec *spec, uint32_t i);
uint32_t job_spec_frame_total(const job_spec *spec);

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

/* ---- Manifest pieces (jobs/manifest_json.c) ---- */

/* What `morph run`'s and the worker's manifest.json say alike: a vector as [x, y, z], a
 * resolved camera (eye, target, up, orthographic, near, far, and fov_y_deg or ortho_height). */
json_t *job_vec3_json(const float v[3]);
json_t *job_camera_json(const eng_camera *cam);

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
/* Inputs from meshes already parsed (the worker's, from mesh_decode_canonical). Takes ownership
 * of both meshes, also on failure. target may be NULL (render jobs); otherwise the topologies
 * must match (MD_ETOPOLOGY). Textures are used as they are: canonical meshes come padded. */
int job_inputs_from_meshes(mesh *source, mesh *target, job_inputs **out, md_error *err);
void job_inputs_free(job_inputs *in);
const mesh *job_inputs_mesh(const job_inputs *in, int side); /* 0 source, 1 target (or NULL) */
/* The engine's view of a side's materials (mesh_material_count entries); borrowed. */
const eng_material *job_inputs_materials(const job_inputs *in, int side);

/* The engine's materials of m: colours, and textures borrowed from m (so m must outlive the
 * table). *out is md_malloc'd; the caller md_free's it. */
int job_mesh_materials(const mesh *m, eng_material **out, md_error *err);

/* Fills job for the engine: camera resolved (auto-framed or fitted), weights from the spec.
 * A morph job's only; needs both meshes. */
int job_build(const job_inputs *in, job_spec *spec, eng_job *job, md_error *err);

/* ---- Render jobs (jobs/render.c) ---- */

/* Number of views, so of eng_jobs and frames, of a render job (0 for a morph job). */
uint32_t job_spec_view_count(const job_spec *spec);
/* Fills jobs[0 .. job_spec_view_count(spec)) (caller-allocated), one per view, each one frame
 * at weight 0 of m with positions[0] == positions[1]. Turntable views orbit the centre of m's
 * bounds around +Y at the turntable's elevation, at the auto-framed distance, the first in
 * front (+Z, the auto camera of a morph job) and the rest stepping the eye towards +X; listed
 * views are resolved like a morph job's camera (auto-framed, or explicit with near/far
 * fitted). materials: job_mesh_materials(m) or job_inputs_materials(). Borrows m, materials
 * and spec. */
int job_build_render(const mesh *m, const eng_material *materials, const job_spec *spec,
                     eng_job *jobs, md_error *err);

/* ---- Analysis outputs (jobs/outputs.c) ---- */

/* Everything a morph job produces besides its frames, manifest.json and session.log, made the
 * same way for `morph run` and the worker: CSVs, heatmap figures, per-frame meshes and the
 * video, as named artifacts handed to the caller's sink (which writes files or storage keys).
 *
 * Life of one job's outputs: job_outputs_new() before the engine batch (checks the video's
 * memory bound, so a job that cannot finish fails before rendering); job_outputs_frame() from
 * the frame callback for every frame (any engine thread, concurrently; it copies the frame and
 * feeds the video encoder in index order as the prefix completes, so frames arriving out of
 * order are held only until their predecessors arrive); job_outputs_finish() on the caller's
 * thread after the batch; then the artifacts list and job_outputs_manifest() for manifest.json. */

#define JOB_ARTIFACT_NAME_MAX 384
/* The most RGB bytes job_outputs_frame may hold for the video (frames x width x height x 3). */
#define JOB_VIDEO_HOLD_MAX ((uint64_t)1 << 30)

typedef struct job_artifact {
    char name[JOB_ARTIFACT_NAME_MAX]; /* relative to the job's folder: "meshes/0000_a-...obj" */
    const char *content_type;         /* static: "text/csv", "model/obj", "video/mp4", ... */
    uint64_t bytes;
    double seconds; /* computing, encoding and storing it (shared steps not included) */
} job_artifact;

/* Where artifacts go. put is called from several threads at once (the per-frame meshes are
 * exported in parallel); it must store bytes (borrowed) under name, or fail with a message.
 * log (NULL: md_log) receives the progress lines a person reads ("statistics.csv: 512 bytes,
 * 0.004 s"), also from several threads. */
typedef struct job_output_sink {
    int (*put)(void *user, const char *name, const char *content_type, const void *bytes,
               size_t len, md_error *err);
    void (*log)(void *user, md_log_level level, const char *msg);
    void *user;
} job_output_sink;

typedef struct job_outputs job_outputs;

/* spec, in and job (the morph job's eng_job from job_build: camera, size, weights) are
 * borrowed and must outlive the outputs; source_stem and target_stem are copied (frame names,
 * job_frame_name). A render job, or a spec with frames only, gives outputs that produce
 * nothing. MD_ELIMIT when the video could need more than JOB_VIDEO_HOLD_MAX bytes of held
 * frames ("lower --frames or --size"); MD_ENODEV when there is no H.264 encoder. */
int job_outputs_new(const job_spec *spec, const job_inputs *in, const eng_job *job,
                    const char *source_stem, const char *target_stem, job_outputs **out,
                    md_error *err);
void job_outputs_free(job_outputs *o);
/* Whether frames must be handed to job_outputs_frame (the video is wanted). */
int job_outputs_wants_frames(const job_outputs *o);
/* A rendered frame (f borrowed; the engine's callback argument). Any thread. A failure is
 * also kept and reported again by job_outputs_finish. */
int job_outputs_frame(job_outputs *o, const eng_frame *f, md_error *err);
/* Produces every requested artifact into sink: animation.mp4 (from the frames fed), CSVs,
 * figures (rendered by e, which must be idle), meshes. Texture outputs are skipped with a note
 * when a mesh has no texture. Stops at the first failure. */
int job_outputs_finish(job_outputs *o, eng *e, const job_output_sink *sink, md_error *err);
uint32_t job_outputs_count(const job_outputs *o);
const job_artifact *job_outputs_artifact(const job_outputs *o, uint32_t i);
/* The manifest's "outputs" object: requested set and options, every artifact with bytes and
 * seconds, notes (what was skipped and why), the alignment, the statistics and the shared
 * steps' timings. New reference; NULL when out of memory. */
json_t *job_outputs_manifest(const job_outputs *o);

/* ---- Names ---- */

/* "0007_faceA-0825_faceB-0175.png": frame index, each mesh's name and its share in permille,
 * so names sort in playing order. stems are sanitised to [A-Za-z0-9._]. */
int job_frame_name(uint32_t index, float weight, const char *source_stem, const char *target_stem,
                   char *out, size_t cap);
/* The file name of path without folder and extension, sanitised ("ict_face_identity_A"). */
void job_path_stem(const char *path, char *out, size_t cap);
/* "0003_head-view.png": view index and the mesh's stem (sanitised like job_path_stem), so names
 * sort in view order. MD_EINVAL when it does not fit in cap. */
int job_view_name(uint32_t index, const char *stem, char *out, size_t cap);

#endif
