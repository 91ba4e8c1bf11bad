/*
 * camera.h — the engine's camera as a value (eng_camera) and the functions on it alone:
 * defaults, auto-framing, clip fitting, parsing and validation (gpu/camera.c). Split from
 * engine.h so that a job spec (jobs/spec.h), which carries cameras, can be read by the api
 * without the engine's API. engine.h includes it.
 */
#ifndef GPU_CAMERA_H
#define GPU_CAMERA_H

#include "base/md.h"

typedef struct eng_camera {
    float eye[3];
    float target[3];
    float up[3];
    float fov_y_deg;  /* vertical field of view, perspective cameras */
    int orthographic; /* nonzero: orthographic projection ortho_height world units tall */
    float ortho_height;
    float z_near, z_far; /* clip distances along the view direction, world units, 0 < near < far */
} eng_camera;

/* +Y up, looking down -Z from (0,0,1) at the origin, fov 30, near 0.01, far 100. */
void eng_camera_default(eng_camera *cam);
/* Auto-framing: keeps fov/orthographic, and places the eye on +Z of the box centre looking down
 * -Z, far enough that the box's bounding sphere fits the view at this aspect (width/height).
 * Sets near/far around the sphere. Works for any unit scale. */
void eng_camera_frame_bounds(eng_camera *cam, const float min[3], const float max[3], float aspect);
/* Sets near/far so the sphere around [min,max] lies between them, as seen from cam->eye. */
void eng_camera_fit_clip(eng_camera *cam, const float min[3], const float max[3]);
/* Parses "eye=x,y,z;target=x,y,z;up=x,y,z;fov=deg;near=d;far=d;ortho=height" (any subset, any
 * order); fields not named keep their values. *explicit_eye is set when eye= was given. */
int eng_camera_parse(const char *spec, eng_camera *cam, int *explicit_eye, md_error *err);
/* Checks a camera is usable (finite, eye != target, up not parallel to the view, 0 < fov < 180,
 * 0 < near < far). */
int eng_camera_validate(const eng_camera *cam, md_error *err);

#endif
