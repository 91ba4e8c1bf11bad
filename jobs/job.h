/*
 * job.h — a job independent of where it runs: its spec (jobs/spec.h, included), its loaded
 * and checked inputs, the engine jobs built from them and its analysis outputs. `morph run` and
 * the job server's worker use the same pieces; the api, which only checks and stores a job,
 * includes spec.h alone.
 *
 * Two kinds: a morph job has a source and a target mesh of one topology and a list of weights;
 * a render job has one mesh and a list of views, each rendered as its own eng_job (the same
 * positions twice, one frame at weight 0).
 *
 * Ownership: job_inputs owns its meshes and the engine-facing material tables, or borrows them
 * from job_faces (job_inputs_from_faces); an eng_job
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
#include "jobs/spec.h"
#include "mesh/mesh.h"
#include "base/md.h"

/* ---- Spec: jobs/spec.h ---- */

/* ---- Manifest pieces (jobs/manifest_json.c) ---- */

/* What `morph run`'s and the worker's manifest.json say alike: a vector as [x, y, z], a
 * resolved camera (eye, target, up, orthographic, near, far, and fov_y_deg or ortho_height). */
json_t *job_vec3_json(const float v[3]);
/* The camera object also has "text": job_camera_text, exact. */
json_t *job_camera_json(const eng_camera *cam);
/* "eye=x,y,z;target=x,y,z;up=x,y,z;fov=F;near=N;far=F;ortho=H" with 9 significant digits, so
 * eng_camera_parse (--camera) gives back the same floats; ortho=0 for a perspective camera. */
void job_camera_text(const eng_camera *cam, char *out, size_t cap);

/* ---- Inputs ---- */

typedef struct job_inputs job_inputs;

typedef struct job_input_paths {
    const char *source;
    const char *target;
    const char *source_texture; /* NULL: what the mesh file names */
    const char *target_texture;
    /* NULL, or a morph target of the source file (name or 0-based index, as text): the target
     * mesh is then the source file with that target applied (mesh_load_opts.morph_target) and
     * target is ignored. */
    const char *target_morph;
} job_input_paths;

/* Thread-seconds: job_inputs_load loads the two sides on two threads at once, so the sum can
 * exceed the wall time of the load. */
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
/* Takes spec->hide_materials out of both meshes (mesh_hide_materials): their triangles, and
 * the vertices only those used, are then absent from the frames, figures, statistics, CSVs and
 * exported meshes. The meshes given are not changed: a hidden copy of each (mesh_clone), with
 * its own material tables, replaces them in the inputs (and mips built before are dropped).
 * Before job_build; nothing when the list is empty. Errors (MD_EINVAL) name an unknown
 * material and list the meshes' materials; the inputs are then as they were. */
int job_inputs_hide(job_inputs *in, const job_spec *spec, md_error *err);
/* What job_inputs_hide took out (zeros when nothing). */
const mesh_hide_stats *job_inputs_hidden(const job_inputs *in);
const mesh *job_inputs_mesh(const job_inputs *in, int side); /* 0 source, 1 target (or NULL) */

/* A face prepared once and then shared read-only by many jobs on any threads (the worker's face
 * cache): a parsed mesh, its engine material tables and, with mips, its textures' mip pyramids
 * prebuilt (eng_material.mip_levels), so no job decodes or builds them again. job_face_new
 * takes ownership of m, on failure too. job_face_bytes: the heap memory it holds (mesh,
 * decoded textures, tables, mips), what a memory cap counts. */
typedef struct job_face job_face;
int job_face_new(mesh *m, int mips, job_face **out, md_error *err);
void job_face_free(job_face *f);
uint64_t job_face_bytes(const job_face *f);
const mesh *job_face_mesh(const job_face *f);
/* The engine's texture key (eng_material.texture_key) of material's texture of the face
 * face_id: 64 bits of the face id's SHA-256, mixed with the material index, never 0. Faces
 * are named by the SHA-256 of their content, so one key always names the same pixels; two
 * different textures share a key with odds of about 2^-64 a pair (for a worker holding
 * a thousand textures, about 3e-14 in all), and the engine also checks that a cached entry's
 * size matches. Pure; any thread. */
uint64_t job_texture_key(const char *face_id, uint32_t material);
/* Gives every textured material of f its job_texture_key, so engines may keep the textures
 * across batches; only before f is shared (job_face is immutable once in a cache). */
void job_face_key_textures(job_face *f, const char *face_id);
/* Inputs that borrow faces (target NULL for a render job): both must outlive the inputs, and
 * job_inputs_free leaves them alone. Checks the topology as job_inputs_from_meshes does. */
int job_inputs_from_faces(const job_face *source, const job_face *target, job_inputs **out,
                          md_error *err);
/* The engine's view of a side's materials (mesh_material_count entries); borrowed. */
const eng_material *job_inputs_materials(const job_inputs *in, int side);
/* Builds every texture's mip levels once and hands them to the engine with the materials
 * (eng_material.mip_levels), for inputs rendered batch after batch (the live lane's warm pairs);
 * the pixels are those the engine would build itself. Idempotent. */
int job_inputs_prepare_mips(job_inputs *in, md_error *err);

/* The engine's materials of m: colours, and textures borrowed from m (so m must outlive the
 * table). *out is md_malloc'd; the caller md_free's it. */
int job_mesh_materials(const mesh *m, eng_material **out, md_error *err);

/* Fills job for the engine: camera resolved (auto-framed or fitted), weights from the spec.
 * A morph job's only; needs both meshes. */
int job_build(const job_inputs *in, job_spec *spec, eng_job *job, md_error *err);

/* ---- Render jobs (jobs/render.c) ---- */

/* job_spec_view_count: jobs/spec.h. */
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
 * order are held only until their predecessors arrive); job_outputs_start() just before the
 * batch (the analysis that needs only the inputs runs beside it); job_outputs_finish() on the
 * caller's thread after the batch; then the artifacts list and job_outputs_manifest() for
 * manifest.json. */

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
/* Starts the analysis that needs only the inputs (displacement, texture difference,
 * statistics, CSVs, UV maps) on a thread of its own, so it runs beside the engine batch; sink
 * is copied (its user must outlive the outputs) and receives the log lines and notes. Call it
 * before the batch, on the caller's thread; job_outputs_finish waits for it, as does
 * job_outputs_free for a job that never finishes. Without it, job_outputs_finish does the same
 * work itself. Nothing to do (0) for a spec without CSVs or heatmaps. */
int job_outputs_start(job_outputs *o, const job_output_sink *sink, md_error *err);
/* Produces every requested artifact into sink: animation.mp4 (from the frames fed), CSVs,
 * figures (rendered by e, which must be idle), meshes. Texture outputs are skipped with a note
 * when a mesh has no texture. Stops at the first failure. */
int job_outputs_finish(job_outputs *o, eng *e, const job_output_sink *sink, md_error *err);
/* Waits for the analysis job_outputs_start began, if it still runs: a job that ends without
 * job_outputs_finish (canceled, failed) calls it before its artifacts and manifest are read,
 * since that thread writes both. NULL ok. */
void job_outputs_settle(job_outputs *o);
uint32_t job_outputs_count(const job_outputs *o);
const job_artifact *job_outputs_artifact(const job_outputs *o, uint32_t i);
/* The manifest's "outputs" object: requested set and options, every artifact with bytes and
 * seconds, notes (what was skipped and why), the alignment, the statistics and the shared
 * steps' timings. New reference; NULL when out of memory. */
json_t *job_outputs_manifest(const job_outputs *o);

/* ---- Names: jobs/spec.h ---- */

#endif
