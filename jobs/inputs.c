/*
 * inputs.c — a job's meshes: loading them from files (and texture overrides) for `morph run`,
 * or taking them already parsed (the worker's, from the canonical form); checking that they can
 * be morphed; padding textures; hiding materials (spec.hide_materials: their triangles are taken
 * out of both meshes, mesh/hide.c says why); the engine's material tables (opacity becomes
 * eng_material.transparency) and surfaces; camera resolution; and the eng_job of a morph job. Runs
 * on the caller's thread, except job_inputs_load, which loads the target on a second thread
 * beside the source (see "Loading both sides at once"); the inputs are immutable once built and
 * may then be read by engine threads.
 *
 * Faces (job_face): a mesh with its material tables and mip pyramids made once and then only
 * read, so the worker's face cache shares one among every job that names it, on any thread.
 * Inputs built from faces borrow them (borrowed[side]); whoever holds the faces (the cache's
 * refcount) keeps them alive until the inputs are freed. Hiding materials replaces a borrowed
 * side by the job's own copy.
 */
#include "jobs/job_int.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

struct job_inputs {
    mesh *meshes[2];
    eng_material *materials[2]; /* engine view of each mesh's materials */
    uint8_t *mips[2];           /* job_inputs_prepare_mips: each side's levels, one block */
    mesh_hide_stats hidden;     /* job_inputs_hide: what was taken out */
    /* The side's mesh, materials and mips belong to a job_face (job_inputs_from_faces): read
     * only, shared with other jobs, never freed here. */
    int borrowed[2];
};

/* A face prepared once for many jobs (job.h). Immutable after job_face_new. */
struct job_face {
    mesh *mesh;
    eng_material *materials;
    uint8_t *mips; /* levels 1.. of every texture, one block; NULL: none built */
    uint64_t bytes;
};

static const char *side_name(int side)
{
    return side == 0 ? "source" : "target";
}

static int load_side(mesh **meshes, int side, const char *path, const char *texture_path,
                     const char *morph_target, const md_limits *lim, job_load_stats *stats,
                     md_error *err)
{
    mesh_load_opts opts = {.skip_textures = texture_path != NULL, .morph_target = morph_target};
    int rc = mesh_load_ex(path, lim, &opts, &meshes[side], err);
    stats->parse_s += opts.parse_s;
    stats->texture_s += opts.texture_s;
    if (rc != 0)
        return md_error_prefix(err, "%s mesh: ", side_name(side));
    if (texture_path != NULL) {
        double start = md_now();
        img *tex = NULL;
        rc = img_load(texture_path, lim, &tex, err);
        if (rc == 0)
            rc = mesh_set_texture(meshes[side], tex, err);
        stats->texture_s += md_now() - start;
        if (rc != 0)
            return md_error_prefix(err, "%s texture: ", side_name(side));
    }
    return 0;
}

int job_mesh_materials(const mesh *m, eng_material **out, md_error *err)
{
    *out = NULL;
    uint32_t count = mesh_material_count(m);
    eng_material *mats = md_calloc(count, sizeof *mats);
    if (mats == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        mesh_material_color(m, i, mats[i].color);
        mats[i].transparency = 1.0f - mesh_material_opacity(m, i);
        const img *tex = mesh_material_texture(m, i);
        if (tex != NULL && mesh_uv_count(m) > 0) {
            mats[i].rgba = img_pixels_const(tex);
            mats[i].tex_width = img_width(tex);
            mats[i].tex_height = img_height(tex);
        }
    }
    *out = mats;
    return 0;
}

void job_surface_fill(eng_surface *s, const mesh *m, const eng_material *materials)
{
    s->uv_count = mesh_uv_count(m);
    s->uvs = s->uv_count ? mesh_uvs(m) : NULL;
    s->tri_uvs = s->uv_count ? mesh_triangle_uvs(m) : NULL;
    s->tri_materials = mesh_triangle_materials(m);
    s->material_count = mesh_material_count(m);
    s->materials = materials;
}

int job_inputs_from_meshes(mesh *source, mesh *target, job_inputs **out, md_error *err)
{
    *out = NULL;
    job_inputs *in = md_calloc(1, sizeof *in);
    if (in == NULL) {
        mesh_free(source);
        mesh_free(target);
        return md_fail(err, MD_ENOMEM, "out of memory");
    }
    in->meshes[0] = source;
    in->meshes[1] = target;
    int rc = source == NULL ? md_fail(err, MD_EINVAL, "a job needs a source mesh") : 0;
    if (rc == 0 && target != NULL)
        rc = mesh_check_topology(source, target, err);
    for (int side = 0; rc == 0 && side < 2; side++)
        if (in->meshes[side] != NULL)
            rc = job_mesh_materials(in->meshes[side], &in->materials[side], err);
    if (rc != 0) {
        job_inputs_free(in);
        return rc;
    }
    *out = in;
    return 0;
}

/* ---- Loading both sides at once ----
 *
 * The two sides are independent until the topology check: each side's parse, texture decode
 * and padding run on a thread of their own (the source's on the caller's thread), so the two
 * 2048² textures of the default job decode and pad side by side instead of one after the other.
 * Each side writes only its own slot; errors are reported source first, as before. A side's
 * textures are padded before the topology check now, so a mismatched pair costs its padding
 * too (tens of milliseconds) before failing. */

typedef struct load_task {
    mesh **meshes;
    int side;
    const char *path, *texture_path, *morph_target;
    const md_limits *lim;
    job_load_stats stats;
    int rc;
    md_error err;
} load_task;

static void *load_task_run(void *arg)
{
    load_task *t = arg;
    md_error_clear(&t->err);
    t->rc = load_side(t->meshes, t->side, t->path, t->texture_path, t->morph_target, t->lim,
                      &t->stats, &t->err);
    if (t->rc == 0) {
        double start = md_now();
        t->rc = mesh_pad_textures(t->meshes[t->side], &t->err);
        t->stats.pad_s = md_now() - start;
        if (t->rc != 0)
            md_error_prefix(&t->err, "%s texture padding: ", side_name(t->side));
    }
    return NULL;
}

int job_inputs_load(const job_input_paths *paths, const md_limits *lim, job_inputs **out,
                    job_load_stats *stats, md_error *err)
{
    *out = NULL;
    job_load_stats local = {0};
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    mesh *meshes[2] = {NULL, NULL};
    load_task tasks[2] = {
        {.meshes = meshes,
         .side = 0,
         .path = paths->source,
         .texture_path = paths->source_texture,
         .lim = lim},
        {.meshes = meshes, .side = 1, .texture_path = paths->target_texture, .lim = lim},
    };
    if (paths->target_morph != NULL) {
        tasks[1].path = paths->source;
        tasks[1].morph_target = paths->target_morph;
    } else {
        tasks[1].path = paths->target;
    }
    pthread_t target_thread;
    int threaded = pthread_create(&target_thread, NULL, load_task_run, &tasks[1]) == 0;
    load_task_run(&tasks[0]);
    if (threaded)
        pthread_join(target_thread, NULL);
    else
        load_task_run(&tasks[1]); /* no thread to be had: one after the other */
    int rc = 0;
    for (int side = 0; side < 2; side++) {
        stats->parse_s += tasks[side].stats.parse_s;
        stats->texture_s += tasks[side].stats.texture_s;
        stats->pad_s += tasks[side].stats.pad_s;
        if (rc == 0 && tasks[side].rc != 0) {
            rc = tasks[side].rc;
            *err = tasks[side].err;
        }
    }
    if (rc == 0)
        rc = mesh_check_topology(meshes[0], meshes[1], err);
    if (rc != 0) {
        mesh_free(meshes[0]);
        mesh_free(meshes[1]);
        return rc;
    }
    return job_inputs_from_meshes(meshes[0], meshes[1], out, err);
}

void job_inputs_free(job_inputs *in)
{
    if (in == NULL)
        return;
    for (int side = 0; side < 2; side++) {
        if (in->borrowed[side])
            continue;
        mesh_free(in->meshes[side]);
        md_free(in->materials[side]);
        md_free(in->mips[side]);
    }
    md_free(in);
}

/* Builds the mip levels of every textured material of m into one block (*out, NULL when no
 * material is textured) and points the materials' mip_levels at them; *bytes its size. */
static int build_mips(const mesh *m, eng_material *mats, uint8_t **out, size_t *bytes,
                      const char *what, md_error *err)
{
    uint32_t count = mesh_material_count(m);
    size_t need = 0;
    *out = NULL;
    *bytes = 0;
    for (uint32_t i = 0; i < count; i++)
        if (mats[i].rgba != NULL)
            need += eng_texture_mips_bytes(mats[i].tex_width, mats[i].tex_height);
    if (need == 0)
        return 0;
    uint8_t *block = md_malloc(need);
    if (block == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %zu MiB of the %s's mip levels",
                       need >> 20, what);
    size_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (mats[i].rgba == NULL)
            continue;
        eng_texture_mips_build(mats[i].rgba, mats[i].tex_width, mats[i].tex_height, block + at);
        mats[i].mip_levels = block + at;
        at += eng_texture_mips_bytes(mats[i].tex_width, mats[i].tex_height);
    }
    *out = block;
    *bytes = need;
    return 0;
}

int job_inputs_prepare_mips(job_inputs *in, md_error *err)
{
    for (int side = 0; side < 2; side++) {
        size_t bytes;
        /* A borrowed side is a job_face's, which built its levels (or chose not to) once. */
        if (in->meshes[side] == NULL || in->mips[side] != NULL || in->borrowed[side])
            continue;
        int rc = build_mips(in->meshes[side], in->materials[side], &in->mips[side], &bytes,
                            side_name(side), err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- Faces prepared once ---- */

int job_face_new(mesh *m, int mips, job_face **out, md_error *err)
{
    *out = NULL;
    job_face *f = md_calloc(1, sizeof *f);
    if (f == NULL) {
        mesh_free(m);
        return md_fail(err, MD_ENOMEM, "out of memory");
    }
    f->mesh = m;
    int rc = m == NULL ? md_fail(err, MD_EINVAL, "a face needs a mesh") : 0;
    if (rc == 0)
        rc = job_mesh_materials(m, &f->materials, err);
    size_t mip_bytes = 0;
    if (rc == 0 && mips)
        rc = build_mips(m, f->materials, &f->mips, &mip_bytes, "face", err);
    if (rc != 0) {
        job_face_free(f);
        return rc;
    }
    f->bytes = sizeof *f + mesh_memory_bytes(m) +
               (uint64_t)mesh_material_count(m) * sizeof *f->materials + mip_bytes;
    *out = f;
    return 0;
}

void job_face_free(job_face *f)
{
    if (f == NULL)
        return;
    mesh_free(f->mesh);
    md_free(f->materials);
    md_free(f->mips);
    md_free(f);
}

uint64_t job_face_bytes(const job_face *f)
{
    return f != NULL ? f->bytes : 0;
}

const mesh *job_face_mesh(const job_face *f)
{
    return f != NULL ? f->mesh : NULL;
}

/* ---- Texture keys ---- */

/* splitmix64's finaliser: a bijection of 64-bit words that spreads every input bit over the
 * output. */
static uint64_t mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t job_texture_key(const char *face_id, uint32_t material)
{
    /* A face id is the SHA-256 of the face's content in hex: its first 16 digits are 64 bits
     * of that hash. Anything else (no worker passes it) is hashed whole with FNV-1a. */
    uint64_t h = 0;
    size_t n = strlen(face_id);
    int hex = n >= 16;
    for (size_t i = 0; i < 16 && hex; i++) {
        char c = face_id[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            hex = 0;
        h = h << 4 | (uint64_t)(v < 0 ? 0 : v);
    }
    if (!hex) {
        h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < n; i++)
            h = (h ^ (unsigned char)face_id[i]) * 0x100000001b3ull;
    }
    /* For one material index, distinct faces give distinct keys (h + constant, then a
     * bijection); for one face, distinct materials do too (the odd multiplier). */
    uint64_t key = mix64(h + ((uint64_t)material + 1) * 0x9e3779b97f4a7c15ull);
    return key != 0 ? key : 1; /* 0 means "no key" */
}

void job_face_key_textures(job_face *f, const char *face_id)
{
    uint32_t count = mesh_material_count(f->mesh);
    for (uint32_t i = 0; i < count; i++)
        if (f->materials[i].rgba != NULL)
            f->materials[i].texture_key = job_texture_key(face_id, i);
}

int job_inputs_from_faces(const job_face *source, const job_face *target, job_inputs **out,
                          md_error *err)
{
    *out = NULL;
    if (source == NULL)
        return md_fail(err, MD_EINVAL, "a job needs a source mesh");
    if (target != NULL) {
        int rc = mesh_check_topology(source->mesh, target->mesh, err);
        if (rc != 0)
            return rc;
    }
    job_inputs *in = md_calloc(1, sizeof *in);
    if (in == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    const job_face *faces[2] = {source, target};
    for (int side = 0; side < 2; side++) {
        if (faces[side] == NULL)
            continue;
        /* Read only from here on: job_build and the engine take const views, and
         * job_inputs_prepare_mips and job_inputs_free skip borrowed sides. */
        in->meshes[side] = faces[side]->mesh;
        in->materials[side] = faces[side]->materials;
        in->borrowed[side] = 1;
    }
    *out = in;
    return 0;
}

int job_inputs_hide(job_inputs *in, const job_spec *spec, md_error *err)
{
    memset(&in->hidden, 0, sizeof in->hidden);
    if (spec->hide_count == 0)
        return 0;
    const char *names[JOB_HIDE_MATERIALS_MAX];
    for (uint32_t i = 0; i < spec->hide_count; i++)
        names[i] = spec->hide_materials[i];
    /* Checked first, so a typo costs no copy. */
    int rc = mesh_hide_check(in->meshes[0], in->meshes[1], names, spec->hide_count, err);
    /* The meshes are never changed in place (another reader may share them): the hidden pair
     * is a copy, with its own material tables, and replaces them. */
    mesh *copies[2] = {NULL, NULL};
    eng_material *mats[2] = {NULL, NULL};
    for (int side = 0; rc == 0 && side < 2; side++)
        if (in->meshes[side] != NULL)
            rc = mesh_clone(in->meshes[side], &copies[side], err);
    if (rc == 0)
        rc = mesh_hide_materials(copies[0], copies[1], names, spec->hide_count, &in->hidden, err);
    for (int side = 0; rc == 0 && side < 2; side++)
        if (copies[side] != NULL)
            rc = job_mesh_materials(copies[side], &mats[side], err);
    if (rc != 0) {
        for (int side = 0; side < 2; side++) {
            mesh_free(copies[side]);
            md_free(mats[side]);
        }
        memset(&in->hidden, 0, sizeof in->hidden);
        return md_error_prefix(err, "hide_materials: ");
    }
    for (int side = 0; side < 2; side++) {
        if (copies[side] == NULL)
            continue;
        if (!in->borrowed[side]) { /* a face's belong to the face, shared with other jobs */
            mesh_free(in->meshes[side]);
            md_free(in->materials[side]);
            md_free(in->mips[side]);
        }
        in->borrowed[side] = 0;
        in->mips[side] = NULL;
        in->meshes[side] = copies[side];
        in->materials[side] = mats[side];
    }
    return 0;
}

const mesh_hide_stats *job_inputs_hidden(const job_inputs *in)
{
    return &in->hidden;
}

const mesh *job_inputs_mesh(const job_inputs *in, int side)
{
    return in->meshes[side != 0];
}

const eng_material *job_inputs_materials(const job_inputs *in, int side)
{
    return in->materials[side != 0];
}

int job_camera_resolve(const job_view *view, const float min[3], const float max[3], int width,
                       int height, eng_camera *out, md_error *err)
{
    eng_camera *cam = out;
    *cam = view->camera;
    float aspect = (float)width / (float)height;
    if (view->camera_mode == JOB_CAMERA_AUTO) {
        float ortho_height = cam->ortho_height;
        eng_camera_frame_bounds(cam, min, max, aspect);
        if (cam->orthographic && !view->ortho_auto && ortho_height > 0)
            cam->ortho_height = ortho_height;
    } else {
        eng_camera defaults;
        eng_camera_default(&defaults);
        /* near/far the user did not set are fitted, so any unit scale renders. */
        if (cam->z_near == defaults.z_near && cam->z_far == defaults.z_far)
            eng_camera_fit_clip(cam, min, max);
        if (cam->orthographic && view->ortho_auto) {
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

/* Grows [min, max] by the morphed positions at shape weight t (the engine's arithmetic). */
static void grow_bounds_at(const mesh *a, const mesh *b, float t, float min[3], float max[3])
{
    const float *pa = mesh_positions(a), *pb = mesh_positions(b);
    const float s = 1.0f - t;
    const size_t n3 = (size_t)mesh_vertex_count(a) * 3;
    for (size_t i = 0; i < n3; i++) {
        float p = s * pa[i] + t * pb[i];
        min[i % 3] = fminf(min[i % 3], p);
        max[i % 3] = fmaxf(max[i % 3], p);
    }
}

/* The camera every frame of the job shares, auto-framed (or an explicit eye with clip planes
 * fitted) on the bounds of every frame of the morph: the union of both meshes' bounds and, when
 * shape weights leave [0, 1], of the caricature or anti-face at the extreme weights. Each
 * coordinate is linear in t, so the shapes at the smallest and largest weight bound every frame
 * between them; weights inside [0, 1] keep the camera of the pair alone. With frame_on the
 * bounds are the reference mesh's alone, so every job framed on one reference gets one camera
 * whatever its pair. */
static int resolve_camera(const job_inputs *in, const job_spec *spec, eng_camera *cam,
                          md_error *err)
{
    job_view view = {spec->camera, spec->camera_mode, spec->ortho_auto};
    if (spec->frame_on)
        return job_camera_resolve(&view, spec->frame_on_min, spec->frame_on_max, spec->width,
                                  spec->height, cam, err);
    float min[3], max[3], bmin[3], bmax[3];
    mesh_bounds(in->meshes[0], min, max);
    mesh_bounds(in->meshes[1], bmin, bmax);
    for (int k = 0; k < 3; k++) {
        min[k] = fminf(min[k], bmin[k]);
        max[k] = fmaxf(max[k], bmax[k]);
    }
    const float *sw = job_spec_shape_weights(spec);
    float lo = 0.0f, hi = 1.0f;
    for (uint32_t i = 0; sw != NULL && i < spec->weight_count; i++) {
        lo = fminf(lo, sw[i]);
        hi = fmaxf(hi, sw[i]);
    }
    if (lo < 0.0f)
        grow_bounds_at(in->meshes[0], in->meshes[1], lo, min, max);
    if (hi > 1.0f)
        grow_bounds_at(in->meshes[0], in->meshes[1], hi, min, max);
    return job_camera_resolve(&view, min, max, spec->width, spec->height, cam, err);
}

int job_build(const job_inputs *in, job_spec *spec, eng_job *job, md_error *err)
{
    memset(job, 0, sizeof *job);
    if (spec->kind != JOB_KIND_MORPH)
        return md_fail(err, MD_EINVAL, "a render job is built by job_build_render, not job_build");
    if (in->meshes[1] == NULL)
        return md_fail(err, MD_EINVAL, "a morph job needs a target mesh");
    int rc = job_spec_finalize(spec, err);
    if (rc != 0)
        return rc;
    const mesh *a = in->meshes[0];
    job->vertex_count = mesh_vertex_count(a);
    job->triangle_count = mesh_triangle_count(a);
    job->triangles = mesh_triangles(a);
    for (int side = 0; side < 2; side++) {
        job->positions[side] = mesh_positions(in->meshes[side]);
        job_surface_fill(&job->surface[side], in->meshes[side], in->materials[side]);
    }
    job->width = spec->width;
    job->height = spec->height;
    job->samples = spec->samples;
    memcpy(job->background, spec->background, 3);
    job->frame_count = spec->weight_count;
    job->weights = job_spec_shape_weights(spec);
    job->texture_weights = job_spec_texture_weights(spec);
    return resolve_camera(in, spec, &job->camera, err);
}
