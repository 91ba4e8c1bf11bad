/*
 * facespace.h — face-space stimuli made from several faces of one topology (issue 12, items 4
 * and 5): a transform, BASE + K·(TO − FROM) (a third face moved along the direction from one
 * face to another), and a weighted average, Σ wᵢ·Mᵢ. The one place their arithmetic lives, for
 * `morph transform`, `morph average` and the job server alike (jobs/facespace.c), with the
 * option parsing both share; the derived meshes' OBJ files, their render and the whole job
 * (job_face_produce) are jobs/facespace_job.c.
 *
 * Ownership: meshes and names are borrowed; a derived mesh (mesh_derive) belongs to the caller
 * (mesh_free). Every function runs on the caller's thread; job_face_render's callback runs on
 * engine threads, several at once.
 */
#ifndef JOBS_FACESPACE_H
#define JOBS_FACESPACE_H

#include <stddef.h>
#include <stdint.h>

#include "base/md.h"
#include "gpu/engine.h"
#include "jobs/spec.h"
#include "mesh/mesh.h"
#include "mesh/write.h"

#include <jansson.h>

#define JOB_FACE_NOTE_MAX 256 /* bytes of a note on what happened to the textures */
#define JOB_FACE_NAME_MAX 64  /* bytes of an output's file name */

/* MD_ETOPOLOGY unless every mesh has the topology of meshes[0], naming both files
 * ("b.obj has 478 vertices, a.obj 9409: ..."). */
int job_face_check_topology(const mesh *const *meshes, const char *const *names, uint32_t count,
                            md_error *err);

/* BASE + amount·(TO − FROM): positions per coordinate in float, base + amount * (to - from).
 * Textures when BASE, FROM and TO share one texture layout (mesh_same_texture_layout): every
 * texel's colour BASE + amount·(TO − FROM) in CIE L*a*b*, clipped to the sRGB gamut
 * (eng_lab_to_srgb_clipped, gpu/texel.h), alpha the same in 0..255, clamped; amount 0 copies
 * BASE's texture exactly. Otherwise the result is untextured, with the reason in note. Material
 * colours (untextured materials) stay BASE's. names: base, from, to (for messages). amount in
 * [JOB_WEIGHT_MIN, JOB_WEIGHT_MAX]. */
int job_face_transform(const mesh *base, const mesh *from, const mesh *to,
                       const char *const names[3], float amount, mesh **out,
                       char note[JOB_FACE_NOTE_MAX], md_error *err);

/* Σ weights[i]·meshes[i] (weights normalised: non-negative, summing to 1; job_face_weights),
 * positions summed in double and rounded to float. Textures when every mesh shares meshes[0]'s
 * texture layout: the encoded sRGB values (and alpha) averaged with the same weights, rounded;
 * otherwise untextured, with the reason in note. Material colours stay meshes[0]'s.
 * count: 2..lim->max_average_meshes. */
int job_face_average(const mesh *const *meshes, const char *const *names, uint32_t count,
                     const double *weights, const md_limits *lim, mesh **out,
                     char note[JOB_FACE_NOTE_MAX], md_error *err);

/* ---- Options ---- */

/* "K" or "K1,K2,...": amounts from -3 to 3, at most lim->max_frames of them. *out is
 * md_malloc'd (md_free). what names the option in messages ("--amount", "spec.amounts"). */
int job_face_amounts(const char *text, const char *what, const md_limits *lim, float **out,
                     uint32_t *count, md_error *err);
/* The weights of an average of count meshes: text NULL gives equal weights; otherwise
 * "w1,w2,..." with exactly count finite non-negative numbers of positive sum. Normalised to
 * sum 1 into out (count doubles); *normalised says whether that changed what was given. */
int job_face_weights(const char *text, const char *what, uint32_t count, double *out,
                     int *normalised, md_error *err);
/* given (given_count weights as the client sent them; NULL: equal weights) checked against
 * count meshes like job_face_weights and normalised into out (count doubles; may be given). */
int job_face_weights_normalise(const double *given, uint32_t given_count, uint32_t count,
                               const char *what, double *out, int *normalised, md_error *err);
/* count: 2..lim->max_average_meshes, else MD_EINVAL / MD_ELIMIT saying so. */
int job_face_average_count_ok(uint32_t count, const md_limits *lim, md_error *err);

/* ---- Outputs ---- */

/* The stem of output index of count: stem itself when count is 1 ("transformed"), else
 * "<stem>_NNNN_<pppp>" with the amount in permille, negative written m and its magnitude
 * ("transformed_0000_m0500", "transformed_0001_1500"), so names sort in playing order. */
int job_face_output_stem(const char *stem, uint32_t index, uint32_t count, float amount, char *out,
                         size_t cap);
/* m as base.obj + base.mtl (+ base_texture.png, or base_texture_mN.png per textured material
 * when several are; mesh_write_obj), so base.png stays free for its render; with its
 * area-weighted vertex normals; PNGs at png_level. */
int job_face_write_obj(const mesh *m, const char *base, int png_level, mesh_files *out,
                       md_error *err);

/* Receives the PNG (borrowed) of frame index; any engine thread. Nonzero stops the batch. */
typedef int (*job_face_frame_fn)(void *user, uint32_t index, const uint8_t *png, size_t len,
                                 md_error *err);
/* Renders each of count meshes once, in ONE engine batch, with spec's size, samples,
 * background, PNG level and camera: an explicit camera as given, an auto camera framed on
 * spec's frame_on bounds when set, else on the union of all meshes' bounds, so a continuum
 * shares one camera. The camera used goes to *camera (NULL ok). */
int job_face_render(eng *e, const mesh *const *meshes, uint32_t count, const job_spec *spec,
                    const md_limits *lim, job_face_frame_fn fn, void *user, eng_camera *camera,
                    md_error *err);

/* ---- The whole job ---- */

/* Where a face-space job's files go (names relative to the job's folder). put may be called
 * from engine threads, several at once; log (NULL ok) from the caller's thread. */
typedef struct job_face_sink {
    int (*put)(void *user, const char *name, const char *content_type, const void *bytes,
               size_t len, md_error *err);
    void (*log)(void *user, md_log_level level, const char *msg);
    void *user;
} job_face_sink;

/* A whole transform or average job, the same for `morph transform|average` and the worker:
 * from the loaded inputs (transform: base, from, to; average: the meshes, count of them,
 * textures padded) and spec (kind, amounts or mesh_weights, size, samples, camera, frame_on,
 * background, PNG level), computes every derived mesh, stores its OBJ files and its render
 * through sink (transformed.obj|.mtl|_texture.png|.png, transformed_NNNN_<pppp>.* for several
 * amounts; average.*), and adds to manifest (borrowed JSON object) outputs, mesh_weights (the
 * normalised ones used) and their note, texture_blend and texture_note, camera, engine and
 * render; and to artifacts (borrowed array, NULL ok) {name, bytes, content_type} per file.
 * names name the inputs in messages. Borrows everything. */
int job_face_produce(eng *e, const job_spec *spec, const md_limits *lim, const mesh *const *inputs,
                     const char *const *names, uint32_t count, const job_face_sink *sink,
                     json_t *manifest, json_t *artifacts, md_error *err);

#endif
