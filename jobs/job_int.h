/*
 * job_int.h — what the jobs module's own files share (spec.c, spec_json.c, inputs.c,
 * render.c): the value checks behind both the CLI setters and the spec JSON, so a limit is
 * enforced by one piece of code whatever the front end, and the engine-facing helpers that
 * morph and render jobs both use. Everything else goes through job.h.
 */
#ifndef JOBS_JOB_INT_H
#define JOBS_JOB_INT_H

#include "jobs/job.h"

/* ---- Value checks (spec.c); each returns nonzero when the value is allowed ---- */

int job_frames_ok(long long n, const md_limits *lim);     /* 1..max_frames */
int job_weight_ok(double w);                              /* JOB_WEIGHT_MIN..JOB_WEIGHT_MAX */
int job_image_side_ok(long long n, const md_limits *lim); /* 1..max_image_side */
int job_samples_ok(long long n, const md_limits *lim);    /* a square, 1..max_samples */
int job_png_level_ok(long long n);                        /* 0..9 */
int job_ortho_height_ok(double h);                        /* positive and finite */
int job_views_ok(long long n, const md_limits *lim);      /* 1..max_views */
int job_elevation_ok(double deg);                         /* (-90, 90) */
int job_fps_ok(long long n);                              /* 1..JOB_FPS_MAX */
/* "once" or "pingpong"; 0 or -1. */
int job_parse_loop(const char *text, ana_video_loop *out);
/* "rrggbb" or "#rrggbb" in hex into rgb; 0 or -1. */
int job_parse_colour(const char *text, uint8_t rgb[3]);

/* ---- Engine-facing helpers (inputs.c) ---- */

/* The camera a view gets for geometry within [min, max] at width x height: auto-framed (fov
 * and projection kept; a given ortho height kept unless ortho_auto), or explicit with near/far
 * fitted when left at their defaults and an auto ortho height fitted. Validated. */
int job_camera_resolve(const job_view *view, const float min[3], const float max[3], int width,
                       int height, eng_camera *out, md_error *err);
/* How m is coloured, with its materials table (job_mesh_materials). Borrows both. */
void job_surface_fill(eng_surface *s, const mesh *m, const eng_material *materials);

#endif
