/*
 * manifest_json.c — small pieces of manifest.json: a vector and a resolved camera, for the
 * one manifest builder (jobs/pipeline.c) that `morph run` and the worker share. Pure, any
 * thread.
 */
#include "jobs/job.h"

#include <jansson.h>

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
    return j;
}
