/*
 * engine.c — the engine API of engine.h that does not depend on the implementation: choosing an
 * engine (eng_new), job validation, the per-job setup all engines share, and the checks and
 * timing around eng_batch_run. The work itself goes through the vtable in engine_int.h.
 *
 * Called by the worker and the CLI on their own threads. eng_job_validate is pure and
 * thread-safe; an eng runs one batch at a time (the implementation says so if asked twice).
 *
 * ENG_KIND_AUTO takes the CUDA engine when the build has it (MORPHD_HAVE_CUDA) and a device
 * answers, else the CPU engine; ENG_KIND_CUDA without either is MD_ENODEV with the reason.
 *
 * eng_batch_run validates every job again, against no size limits but for internal consistency
 * (indices in range, counts non-zero, sizes the rasteriser can address): the kernels trust their
 * params, so this is what keeps a bad job from reading out of bounds. Callers apply their
 * configured md_limits with eng_job_validate before they queue work.
 */
#include "gpu/engine_int.h"
#ifdef MORPHD_HAVE_CUDA
#include "gpu/cuda/engine_cuda.h"
#endif

#include <math.h>
#include <string.h>

/* ---- Creating an engine ---- */

int eng_new(const eng_config *cfg, eng **out, md_error *err)
{
    if (out == NULL)
        return md_fail(err, MD_EINVAL, "eng_new: no output pointer");
    *out = NULL;
    eng_config def = {ENG_KIND_AUTO, 0, 0};
    if (cfg == NULL)
        cfg = &def;
    switch (cfg->kind) {
    case ENG_KIND_AUTO:
#ifdef MORPHD_HAVE_CUDA
        if (eng_cuda_device_count(NULL) > 0) {
            md_error cuda_err;
            md_error_clear(&cuda_err);
            int rc = eng_cuda_new(cfg, out, &cuda_err);
            if (rc == 0)
                return 0;
            if (rc == MD_EINVAL)
                return md_fail(err, rc, "%s", cuda_err.msg);
            md_log(MD_LOG_WARN, "engine auto: CUDA device present but unusable (%s); using cpu",
                   cuda_err.msg);
        }
#endif
        return eng_cpu_new(cfg, out, err);
    case ENG_KIND_CPU:
        return eng_cpu_new(cfg, out, err);
    case ENG_KIND_CUDA:
#ifdef MORPHD_HAVE_CUDA
        return eng_cuda_new(cfg, out, err);
#else
        return md_fail(err, MD_ENODEV,
                       "this build has no CUDA engine (built without the CUDA toolkit); use the "
                       "cpu engine");
#endif
    }
    return md_fail(err, MD_EINVAL, "unknown engine kind %d", (int)cfg->kind);
}

void eng_free(eng *e)
{
    if (e != NULL)
        e->vt->destroy(e);
}

void eng_device_stats_get(const eng *e, eng_device_stats *out)
{
    memset(out, 0, sizeof *out);
    out->utilization_pct = -1;
    if (e != NULL && e->vt->device_stats != NULL)
        e->vt->device_stats(e, out);
}

const char *eng_name(const eng *e)
{
    return e != NULL ? e->vt->name : "none";
}

/* ---- Job validation ---- */

/* The integer square root of samples, or 0 when it is not a perfect square. */
static int grid_of(int samples)
{
    if (samples < 1)
        return 0;
    int g = (int)sqrt((double)samples);
    while ((long long)g * g > samples)
        g--;
    while ((long long)(g + 1) * (g + 1) <= samples)
        g++;
    return (long long)g * g == samples ? g : 0;
}

static int check_positions(const float *pos, uint32_t n, const char *which, md_error *err)
{
    for (uint32_t v = 0; v < n; v++) {
        const float *p = pos + (size_t)v * 3;
        if (!isfinite(p[0]) || !isfinite(p[1]) || !isfinite(p[2]))
            return md_fail(err, MD_EINVAL, "%s mesh: vertex %u has a non-finite coordinate", which,
                           v);
    }
    return 0;
}

static int check_surface(const eng_job *job, int side, const md_limits *lim, md_error *err)
{
    const eng_surface *s = &job->surface[side];
    const char *which = side == 0 ? "source" : "target";
    if (s->material_count < 1 || s->materials == NULL)
        return md_fail(err, MD_EINVAL, "%s surface: needs at least one material", which);
    if (s->material_count > lim->max_materials)
        return md_fail(err, MD_ELIMIT, "%s surface: %u materials exceed the limit of %llu", which,
                       s->material_count, (unsigned long long)lim->max_materials);
    for (uint32_t m = 0; m < s->material_count; m++) {
        const eng_material *mat = &s->materials[m];
        if (!isfinite(mat->color[0]) || !isfinite(mat->color[1]) || !isfinite(mat->color[2]))
            return md_fail(err, MD_EINVAL, "%s surface: material %u has a non-finite colour", which,
                           m);
        if (!(mat->transparency >= 0.0f && mat->transparency <= 1.0f))
            return md_fail(err, MD_EINVAL,
                           "%s surface: material %u has transparency %g, outside [0, 1] (0 "
                           "opaque, 1 invisible)",
                           which, m, (double)mat->transparency);
        if (mat->rgba == NULL)
            continue;
        if (mat->tex_width < 1 || mat->tex_height < 1)
            return md_fail(err, MD_EINVAL, "%s surface: material %u has a %dx%d texture", which, m,
                           mat->tex_width, mat->tex_height);
        uint64_t tw = (uint64_t)mat->tex_width, th = (uint64_t)mat->tex_height;
        if (tw > lim->max_texture_side || th > lim->max_texture_side ||
            tw * th > lim->max_texture_pixels)
            return md_fail(err, MD_ELIMIT,
                           "%s surface: material %u texture %llux%llu exceeds the limits (side "
                           "%llu, %llu pixels)",
                           which, m, (unsigned long long)tw, (unsigned long long)th,
                           (unsigned long long)lim->max_texture_side,
                           (unsigned long long)lim->max_texture_pixels);
    }
    if (s->tri_materials != NULL) {
        for (uint32_t f = 0; f < job->triangle_count; f++) {
            if (s->tri_materials[f] >= s->material_count)
                return md_fail(err, MD_EINVAL,
                               "%s surface: triangle %u uses material %u but there are %u", which,
                               f, (unsigned)s->tri_materials[f], s->material_count);
        }
    }
    if (s->tri_uvs == NULL)
        return 0;
    if (s->uvs == NULL || s->uv_count == 0)
        return md_fail(err, MD_EINVAL, "%s surface: has UV indices but no UVs", which);
    if (s->uv_count > lim->max_uvs)
        return md_fail(err, MD_ELIMIT, "%s surface: %u UVs exceed the limit of %llu", which,
                       s->uv_count, (unsigned long long)lim->max_uvs);
    for (uint32_t u = 0; u < s->uv_count; u++) {
        if (!isfinite(s->uvs[(size_t)u * 2]) || !isfinite(s->uvs[(size_t)u * 2 + 1]))
            return md_fail(err, MD_EINVAL, "%s surface: UV %u is not finite", which, u);
    }
    for (size_t i = 0; i < (size_t)job->triangle_count * 3; i++) {
        if (s->tri_uvs[i] >= s->uv_count)
            return md_fail(err, MD_EINVAL,
                           "%s surface: triangle %zu has UV index %u but there are %u UVs", which,
                           i / 3, s->tri_uvs[i], s->uv_count);
    }
    return 0;
}

/* Messages name the field and the values; the caller names the job (eng_batch_run prefixes
 * "job N: "), since a job does not know its place in a batch. */
uint64_t eng_frame_bytes(int width, int height, int samples)
{
    if (width < 1 || height < 1 || samples < 1)
        return 0;
    uint64_t pixels = (uint64_t)width * (uint64_t)height;
    return pixels * (uint64_t)samples * sizeof(uint64_t) + pixels * 3;
}

int eng_job_translucent(const eng_job *job)
{
    for (int side = 0; side < 2; side++) {
        const eng_surface *sf = &job->surface[side];
        for (uint32_t m = 0; sf->materials != NULL && m < sf->material_count; m++) {
            if (sf->materials[m].transparency > 0.0f)
                return 1;
        }
    }
    return 0;
}

uint64_t eng_job_frame_bytes(const eng_job *job)
{
    uint64_t bytes = eng_frame_bytes(job->width, job->height, job->samples);
    if (bytes > 0 && eng_job_translucent(job))
        bytes += (uint64_t)job->width * (uint64_t)job->height * (uint64_t)job->samples *
                 ENG_XLU_LAYERS * sizeof(uint64_t);
    return bytes;
}

int eng_job_validate(const eng_job *job, const md_limits *lim, md_error *err)
{
    if (job == NULL || lim == NULL)
        return md_fail(err, MD_EINVAL, "no job or no limits given");
    if (job->vertex_count == 0)
        return md_fail(err, MD_EINVAL, "the meshes have no vertices");
    if (job->vertex_count > lim->max_vertices)
        return md_fail(err, MD_ELIMIT, "%u vertices exceed the limit of %llu", job->vertex_count,
                       (unsigned long long)lim->max_vertices);
    if (job->triangle_count == 0)
        return md_fail(err, MD_EINVAL, "the meshes have no triangles");
    /* Triangle ids are stored + 1 in 32 bits, next to an all-ones empty marker. */
    if (job->triangle_count > lim->max_triangles || job->triangle_count >= UINT32_MAX - 1)
        return md_fail(err, MD_ELIMIT, "%u triangles exceed the limit of %llu", job->triangle_count,
                       (unsigned long long)lim->max_triangles);
    if (job->positions[0] == NULL || job->positions[1] == NULL || job->triangles == NULL)
        return md_fail(err, MD_EINVAL, "missing positions or triangles");
    if (job->width < 1 || job->height < 1)
        return md_fail(err, MD_EINVAL, "frame size %dx%d must be at least 1x1", job->width,
                       job->height);
    if ((uint64_t)job->width > lim->max_image_side || (uint64_t)job->height > lim->max_image_side)
        return md_fail(err, MD_ELIMIT, "frame size %dx%d exceeds the limit of %llu a side",
                       job->width, job->height, (unsigned long long)lim->max_image_side);
    if (job->samples < 1)
        return md_fail(err, MD_EINVAL, "samples %d must be at least 1", job->samples);
    if ((uint64_t)job->samples > lim->max_samples)
        return md_fail(err, MD_ELIMIT, "samples %d exceed the limit of %llu", job->samples,
                       (unsigned long long)lim->max_samples);
    int grid = grid_of(job->samples);
    if (grid == 0)
        return md_fail(err, MD_EINVAL, "samples %d is not a square (1, 4, 9, 16, ...)",
                       job->samples);
    if ((int64_t)job->width * grid > ENG_MAX_GRID_SIDE ||
        (int64_t)job->height * grid > ENG_MAX_GRID_SIDE)
        return md_fail(err, MD_ELIMIT,
                       "frame %dx%d at %d samples needs a sample grid wider than the engine's "
                       "%d a side",
                       job->width, job->height, job->samples, ENG_MAX_GRID_SIDE);
    /* Materials first: the budget counts translucent layers only when one is. */
    int rc = check_surface(job, 0, lim, err);
    if (rc == 0)
        rc = check_surface(job, 1, lim, err);
    if (rc != 0)
        return rc;
    uint64_t need = eng_job_frame_bytes(job);
    if (need > lim->max_frame_bytes)
        return md_fail(err, MD_EBUDGET,
                       "a %dx%d frame at %d samples needs %.1f MiB to render%s, over the budget "
                       "of %.1f MiB a frame (--limit max_frame_bytes): lower the size or the "
                       "samples",
                       job->width, job->height, job->samples, (double)need / (1 << 20),
                       eng_job_translucent(job) ? " with its translucent layers" : "",
                       (double)lim->max_frame_bytes / (1 << 20));
    if (job->shading != ENG_SHADING_PHONG && job->shading != ENG_SHADING_UNLIT)
        return md_fail(err, MD_EINVAL, "shading %d is neither Phong (0) nor unlit (1)",
                       (int)job->shading);
    if (job->texture_filter != ENG_FILTER_TRILINEAR && job->texture_filter != ENG_FILTER_BILINEAR)
        return md_fail(err, MD_EINVAL,
                       "texture filter %d is neither trilinear (0) nor bilinear (1)",
                       (int)job->texture_filter);
    if (job->frame_count < 1)
        return md_fail(err, MD_EINVAL, "frame count 0: a job needs at least one frame");
    if (job->frame_count > lim->max_frames)
        return md_fail(err, MD_ELIMIT, "frame count %u exceeds the limit of %llu", job->frame_count,
                       (unsigned long long)lim->max_frames);
    if (job->weights == NULL)
        return md_fail(err, MD_EINVAL, "no weights for %u frames", job->frame_count);
    for (uint32_t i = 0; i < job->frame_count; i++) {
        float w = job->weights[i];
        if (!(w >= ENG_WEIGHT_MIN && w <= ENG_WEIGHT_MAX))
            return md_fail(err, MD_EINVAL, "weight of frame %u is %g, outside [%g, %g]", i,
                           (double)w, (double)ENG_WEIGHT_MIN, (double)ENG_WEIGHT_MAX);
        float u = job->texture_weights != NULL ? job->texture_weights[i] : w;
        if (!(u >= ENG_WEIGHT_MIN && u <= ENG_WEIGHT_MAX))
            return md_fail(err, MD_EINVAL, "texture weight of frame %u is %g, outside [%g, %g]", i,
                           (double)u, (double)ENG_WEIGHT_MIN, (double)ENG_WEIGHT_MAX);
    }
    for (size_t i = 0; i < (size_t)job->triangle_count * 3; i++) {
        if (job->triangles[i] >= job->vertex_count)
            return md_fail(err, MD_EINVAL,
                           "triangle %zu has vertex index %u but there are %u vertices", i / 3,
                           job->triangles[i], job->vertex_count);
    }
    rc = check_positions(job->positions[0], job->vertex_count, "source", err);
    if (rc == 0)
        rc = check_positions(job->positions[1], job->vertex_count, "target", err);
    if (rc == 0)
        rc = eng_camera_validate(&job->camera, err);
    return rc;
}

void eng_job_setup_make(const eng_job *job, eng_job_setup *out)
{
    const eng_camera *cam = &job->camera;
    eng_camera_view_proj(cam, (float)job->width / (float)job->height, out->view_proj);
    double f[3], fl = 0;
    for (int k = 0; k < 3; k++) {
        f[k] = (double)cam->target[k] - (double)cam->eye[k];
        fl += f[k] * f[k];
    }
    fl = sqrt(fl);
    for (int k = 0; k < 3; k++) {
        out->eye[k] = cam->eye[k];
        out->view_dir[k] = (float)(fl > 0 ? f[k] / fl : 0.0);
    }
    out->grid = grid_of(job->samples);
}

/* ---- Running a batch ---- */

int eng_batch_run(eng *e, const eng_job *jobs, uint32_t job_count, eng_frame_fn on_frame,
                  void *user, eng_stats *stats, md_error *err)
{
    double t0 = md_now();
    eng_stats local;
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    int rc = 0;
    if (e == NULL || on_frame == NULL || (jobs == NULL && job_count > 0)) {
        rc = md_fail(err, MD_EINVAL, "eng_batch_run: missing engine, jobs or frame callback");
        goto done;
    }
    md_limits any;
#define MD_LIMIT_ANY(name, type, def, help) any.name = (type)UINT64_MAX;
    MD_LIMITS_MAP(MD_LIMIT_ANY)
#undef MD_LIMIT_ANY
    for (uint32_t j = 0; j < job_count; j++) {
        rc = eng_job_validate(&jobs[j], &any, err);
        if (rc != 0) {
            md_error_prefix(err, "job %u: ", j);
            goto done;
        }
    }
    if (job_count > 0)
        rc = e->vt->batch_run(e, jobs, job_count, on_frame, user, stats, err);
done:
    stats->wall_s = md_now() - t0;
    return rc;
}
