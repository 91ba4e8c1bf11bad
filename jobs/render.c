/*
 * render.c — building a render job for the engine: one mesh, a list of views, and for each
 * view its own eng_job with the mesh as both source and target (positions[0] == positions[1])
 * and one frame at weight 0. The engine then renders every view in one batch like any morph.
 *
 * Callers: the worker (and tests), on their own thread. Pure: the eng_jobs borrow the mesh, its
 * material table and the spec, which must outlive them; nothing is allocated here.
 *
 * Turntable views share one distance: the auto-framed one (eng_camera_frame_bounds, the camera
 * of a morph job), which fits the bounding sphere, so it fits from every side. View 0 is that
 * camera unchanged, so it matches a morph job's frame at t = 0 bit for bit.
 */
#include "jobs/job_int.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

static const float weight_zero = 0.0f;

uint32_t job_spec_view_count(const job_spec *spec)
{
    if (spec->kind != JOB_KIND_RENDER)
        return 0;
    return spec->views_mode == JOB_VIEWS_TURNTABLE ? spec->turntable_count : spec->view_count;
}

/* Turntable view i of count: the auto camera rotated about the box centre, first raised by the
 * elevation (towards +Y), then turned about +Y by 360 * i / count degrees (eye from +Z towards
 * +X). */
static int turntable_camera(const job_spec *spec, uint32_t i, const float min[3],
                            const float max[3], eng_camera *cam, md_error *err)
{
    /* A turntable places the eye: only fov and projection come from the job's camera. */
    job_view base = {spec->camera, JOB_CAMERA_AUTO, spec->ortho_auto};
    int rc = job_camera_resolve(&base, min, max, spec->width, spec->height, cam, err);
    if (rc != 0)
        return rc;
    double azimuth = 2.0 * PI * (double)i / (double)spec->turntable_count;
    double elevation = (double)spec->turntable_elevation_deg * PI / 180.0;
    if (azimuth == 0.0 && elevation == 0.0)
        return 0;
    double distance = (double)cam->eye[2] - (double)cam->target[2];
    double offset[3] = {distance * cos(elevation) * sin(azimuth), distance * sin(elevation),
                        distance * cos(elevation) * cos(azimuth)};
    for (int k = 0; k < 3; k++)
        cam->eye[k] = (float)((double)cam->target[k] + offset[k]);
    eng_camera_fit_clip(cam, min, max);
    rc = eng_camera_validate(cam, err);
    return rc != 0 ? md_error_prefix(err, "turntable view %u: ", i) : 0;
}

int job_build_render(const mesh *m, const eng_material *materials, const job_spec *spec,
                     eng_job *jobs, md_error *err)
{
    if (spec->kind != JOB_KIND_RENDER)
        return md_fail(err, MD_EINVAL, "a morph job is built by job_build, not job_build_render");
    uint32_t count = job_spec_view_count(spec);
    if (count == 0)
        return md_fail(err, MD_EINVAL, "a render job needs at least one view");
    float min[3], max[3];
    mesh_bounds(m, min, max);
    for (uint32_t i = 0; i < count; i++) {
        eng_job *job = &jobs[i];
        memset(job, 0, sizeof *job);
        job->vertex_count = mesh_vertex_count(m);
        job->triangle_count = mesh_triangle_count(m);
        job->triangles = mesh_triangles(m);
        job->positions[0] = job->positions[1] = mesh_positions(m);
        job_surface_fill(&job->surface[0], m, materials);
        job->surface[1] = job->surface[0];
        job->width = spec->width;
        job->height = spec->height;
        job->samples = spec->samples;
        memcpy(job->background, spec->background, 3);
        job->frame_count = 1;
        job->weights = &weight_zero;
        int rc;
        if (spec->views_mode == JOB_VIEWS_TURNTABLE) {
            rc = turntable_camera(spec, i, min, max, &job->camera, err);
        } else {
            rc = job_camera_resolve(&spec->views[i], min, max, spec->width, spec->height,
                                    &job->camera, err);
            if (rc != 0)
                md_error_prefix(err, "view %u: ", i);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}
