/*
 * inputs.c — loading a job's two meshes (and texture overrides), checking that they can be
 * morphed, padding their textures, and turning them into an eng_job for the engine.
 * Runs on the caller's thread; the inputs are immutable once loaded and may then be read by
 * engine threads.
 */
#include "jobs/job.h"

#include <math.h>
#include <string.h>

struct job_inputs {
    mesh *meshes[2];
    eng_material *materials[2]; /* engine view of each mesh's materials */
};

static const char *side_name(int side)
{
    return side == 0 ? "source" : "target";
}

static int load_side(job_inputs *in, int side, const char *path, const char *texture_path,
                     const md_limits *lim, job_load_stats *stats, md_error *err)
{
    mesh_load_opts opts = {.skip_textures = texture_path != NULL};
    int rc = mesh_load_ex(path, lim, &opts, &in->meshes[side], err);
    stats->parse_s += opts.parse_s;
    stats->texture_s += opts.texture_s;
    if (rc != 0)
        return md_error_prefix(err, "%s mesh: ", side_name(side));
    if (texture_path != NULL) {
        double start = md_now();
        img *tex = NULL;
        rc = img_load(texture_path, lim, &tex, err);
        if (rc == 0)
            rc = mesh_set_texture(in->meshes[side], tex, err);
        stats->texture_s += md_now() - start;
        if (rc != 0)
            return md_error_prefix(err, "%s texture: ", side_name(side));
    }
    return 0;
}

static int build_materials(job_inputs *in, int side, md_error *err)
{
    const mesh *m = in->meshes[side];
    uint32_t count = mesh_material_count(m);
    eng_material *mats = md_calloc(count, sizeof *mats);
    if (mats == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        mesh_material_color(m, i, mats[i].color);
        const img *tex = mesh_material_texture(m, i);
        if (tex != NULL && mesh_uv_count(m) > 0) {
            mats[i].rgba = img_pixels_const(tex);
            mats[i].tex_width = img_width(tex);
            mats[i].tex_height = img_height(tex);
        }
    }
    in->materials[side] = mats;
    return 0;
}

int job_inputs_load(const job_input_paths *paths, const md_limits *lim, job_inputs **out,
                    job_load_stats *stats, md_error *err)
{
    *out = NULL;
    job_load_stats local = {0};
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    job_inputs *in = md_calloc(1, sizeof *in);
    if (in == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    int rc = load_side(in, 0, paths->source, paths->source_texture, lim, stats, err);
    if (rc == 0)
        rc = load_side(in, 1, paths->target, paths->target_texture, lim, stats, err);
    if (rc == 0)
        rc = mesh_check_topology(in->meshes[0], in->meshes[1], err);
    double start = md_now();
    for (int side = 0; rc == 0 && side < 2; side++) {
        rc = mesh_pad_textures(in->meshes[side], err);
        if (rc != 0)
            md_error_prefix(err, "%s texture padding: ", side_name(side));
    }
    stats->pad_s = md_now() - start;
    for (int side = 0; rc == 0 && side < 2; side++)
        rc = build_materials(in, side, err);
    if (rc != 0) {
        job_inputs_free(in);
        return rc;
    }
    *out = in;
    return 0;
}

void job_inputs_free(job_inputs *in)
{
    if (in == NULL)
        return;
    for (int side = 0; side < 2; side++) {
        mesh_free(in->meshes[side]);
        md_free(in->materials[side]);
    }
    md_free(in);
}

const mesh *job_inputs_mesh(const job_inputs *in, int side)
{
    return in->meshes[side != 0];
}

/* The camera every frame of the job shares: framed on the union of both meshes' bounds so the
 * whole morph stays in view, or the user's eye with clip planes fitted to the meshes. */
static int resolve_camera(const job_inputs *in, const job_spec *spec, eng_camera *cam,
                          md_error *err)
{
    float min[3], max[3], bmin[3], bmax[3];
    mesh_bounds(in->meshes[0], min, max);
    mesh_bounds(in->meshes[1], bmin, bmax);
    for (int k = 0; k < 3; k++) {
        min[k] = fminf(min[k], bmin[k]);
        max[k] = fmaxf(max[k], bmax[k]);
    }
    *cam = spec->camera;
    float aspect = (float)spec->width / (float)spec->height;
    if (spec->camera_mode == JOB_CAMERA_AUTO) {
        float ortho_height = cam->ortho_height;
        eng_camera_frame_bounds(cam, min, max, aspect);
        if (cam->orthographic && !spec->ortho_auto && ortho_height > 0)
            cam->ortho_height = ortho_height;
    } else {
        eng_camera defaults;
        eng_camera_default(&defaults);
        /* near/far the user did not set are fitted, so any unit scale renders. */
        if (cam->z_near == defaults.z_near && cam->z_far == defaults.z_far)
            eng_camera_fit_clip(cam, min, max);
        if (cam->orthographic && spec->ortho_auto) {
            float r = 0;
            for (int k = 0; k < 3; k++)
                r += (max[k] - min[k]) * (max[k] - min[k]);
            r = sqrtf(r) * 0.5f;
            cam->ortho_height = 2.1f * (r > 0 ? r : 1.0f) / fminf(1.0f, aspect);
        }
    }
    int rc = eng_camera_validate(cam, err);
    return rc != 0 ? md_error_prefix(err, "camera: ") : 0;
}

int job_build(const job_inputs *in, job_spec *spec, eng_job *job, md_error *err)
{
    memset(job, 0, sizeof *job);
    int rc = job_spec_finalize(spec, err);
    if (rc != 0)
        return rc;
    const mesh *a = in->meshes[0];
    job->vertex_count = mesh_vertex_count(a);
    job->triangle_count = mesh_triangle_count(a);
    job->triangles = mesh_triangles(a);
    for (int side = 0; side < 2; side++) {
        const mesh *m = in->meshes[side];
        job->positions[side] = mesh_positions(m);
        eng_surface *s = &job->surface[side];
        s->uv_count = mesh_uv_count(m);
        s->uvs = s->uv_count ? mesh_uvs(m) : NULL;
        s->tri_uvs = s->uv_count ? mesh_triangle_uvs(m) : NULL;
        s->tri_materials = mesh_triangle_materials(m);
        s->material_count = mesh_material_count(m);
        s->materials = in->materials[side];
    }
    job->width = spec->width;
    job->height = spec->height;
    job->samples = spec->samples;
    memcpy(job->background, spec->background, 3);
    job->frame_count = spec->weight_count;
    job->weights = spec->weights;
    return resolve_camera(in, spec, &job->camera, err);
}
