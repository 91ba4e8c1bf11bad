/*
 * manifest_json.c — small pieces of manifest.json: a vector and a resolved camera, for the
 * one manifest builder (jobs/pipeline.c) that `morph run` and the worker share. Pure, any
 * thread.
 */
#include "jobs/job.h"

#include <jansson.h>
#include <stdio.h>

json_t *job_vec3_json(const float v[3])
{
    return json_pack("[f,f,f]", (double)v[0], (double)v[1], (double)v[2]);
}

json_t *job_camera_json(const eng_camera *cam)
{
    json_t *j =
        json_pack("{s:o,s:o,s:o,s:b,s:f,s:f}", "eye", job_vec3_json(cam->eye), "target",
                  job_vec3_json(cam->target), "up", job_vec3_json(cam->up), "orthographic",
                  cam->orthographic, "near", (double)cam->z_near, "far", (double)cam->z_far);
    if (j == NULL)
        return NULL;
    if (cam->orthographic)
        json_object_set_new(j, "ortho_height", json_real(cam->ortho_height));
    else
        json_object_set_new(j, "fov_y_deg", json_real(cam->fov_y_deg));
    /* The numbers above are written with 7 digits, which do not bring a float back exactly;
     * the text has 9, so `--camera TEXT` or `--camera-from manifest.json` renders with this
     * very camera. */
    char text[512];
    job_camera_text(cam, text, sizeof text);
    json_object_set_new(j, "text", json_string(text));
    return j;
}

void job_camera_text(const eng_camera *cam, char *out, size_t cap)
{
    snprintf(out, cap,
             "eye=%.9g,%.9g,%.9g;target=%.9g,%.9g,%.9g;up=%.9g,%.9g,%.9g;fov=%.9g;near=%.9g;"
             "far=%.9g;ortho=%.9g",
             (double)cam->eye[0], (double)cam->eye[1], (double)cam->eye[2], (double)cam->target[0],
             (double)cam->target[1], (double)cam->target[2], (double)cam->up[0], (double)cam->up[1],
             (double)cam->up[2], (double)cam->fov_y_deg, (double)cam->z_near, (double)cam->z_far,
             cam->orthographic ? (double)cam->ortho_height : 0.0);
}
