/*
 * test_gpu_parity.c — the CUDA engine's frames against the CPU engine's (the reference), on:
 *   - synthetic pairs from engine_fixtures.h: textured spheres (perspective, 4 samples), a
 *     jittered grid with two materials and a half-transparent texture (orthographic, 9
 *     samples), an untextured sphere at 1 sample;
 *   - the ICT face pair with the skin textures from $MORPHD_DATA (skipped when absent);
 *   - all of them in one mixed batch (different sizes, sample counts, frame counts, cameras);
 *   - face space: shape and texture weights outside [0, 1] and apart (texture extrapolation);
 *   - large triangles: a quad filling a 2048^2 frame at 64 samples (engine_fixtures.h), which
 *     the CUDA rasteriser splits into tiles;
 *   - translucency (issue 17): test_engine_xlu.c's quads at 1, 4 and 16 samples, with more
 *     translucent surfaces than ENG_XLU_LAYERS and an invisible material, alone and in a
 *     batch with opaque jobs.
 * Both engines run the same math (gpu/morph_math.h, raster_math.h, shade_math.h, texel.h; float
 * rules in gpu/hd.h), so frames whose texture weights lie in [0, 1] must be equal: 0 differing
 * pixels. Only the L*a*b* extrapolation (face space) calls powf and cbrtf, whose CUDA and glibc
 * results may differ in the last bit: there at most 1 % of a frame's pixels may differ by more
 * than 2 levels in a channel. The test prints what it finds.
 *
 * Labelled gpu; exits 77 (skip) when the build has no CUDA engine or the machine no device.
 */
#include "test_util.h"

#include <string.h>

#include "engine_fixtures.h"
#include "gpu/engine_int.h"
#include "jobs/job.h"
/* ---- Rendering a batch into memory ---- */

typedef struct frame_store {
    const eng_job *jobs;
    uint32_t job_count;
    uint8_t ***rgb; /* [job][frame] */
    int calls;      /* atomically counted */
} frame_store;

static int store_cb(void *user, const eng_frame *f)
{
    frame_store *s = user;
    size_t n = (size_t)f->width * (size_t)f->height * 3;
    const eng_job *job = &s->jobs[f->job];
    if (f->job >= s->job_count || f->frame >= job->frame_count || f->width != job->width ||
        f->height != job->height || s->rgb[f->job][f->frame] != NULL)
        return MD_EINTERNAL;
    uint8_t *copy = fx_alloc(n);
    memcpy(copy, f->rgb, n);
    s->rgb[f->job][f->frame] = copy;
    __atomic_fetch_add(&s->calls, 1, __ATOMIC_RELAXED);
    return 0;
}

static frame_store render(eng_kind kind, const eng_job *jobs, uint32_t n)
{
    frame_store s = {jobs, n, fx_alloc(n * sizeof(uint8_t **)), 0};
    for (uint32_t j = 0; j < n; j++)
        s.rgb[j] = fx_alloc(jobs[j].frame_count * sizeof(uint8_t *));
    md_error err;
    md_error_clear(&err);
    eng_config cfg = {kind, 2, 0};
    eng *e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e == NULL)
        return s;
    eng_stats st;
    CHECK_OK(eng_batch_run(e, jobs, n, store_cb, &s, &st, &err), &err);
    if (kind == ENG_KIND_CUDA)
        fprintf(stderr,
                "  cuda: %llu frames, kernels morph %.3f raster %.3f shade %.3f ms, copy %.3f ms, "
                "upload %.3f ms, wall %.3f ms\n",
                (unsigned long long)st.frames, st.morph_s * 1e3, st.raster_s * 1e3,
                st.shade_s * 1e3, st.copy_s * 1e3, st.upload_s * 1e3, st.wall_s * 1e3);
    eng_free(e);
    return s;
}

static void store_free(frame_store *s)
{
    for (uint32_t j = 0; j < s->job_count; j++) {
        for (uint32_t f = 0; f < s->jobs[j].frame_count; f++)
            free(s->rgb[j][f]);
        free(s->rgb[j]);
    }
    free(s->rgb);
}

/* Compares every frame; returns the worst fraction of pixels off by more than 2 levels. exact:
 * any differing pixel fails; else more than 1 % of pixels off by more than 2 levels fails. */
static double compare(const char *what, const frame_store *cpu, const frame_store *gpu, int exact)
{
    double worst = 0;
    for (uint32_t j = 0; j < cpu->job_count; j++) {
        const eng_job *job = &cpu->jobs[j];
        size_t px = (size_t)job->width * (size_t)job->height;
        for (uint32_t f = 0; f < job->frame_count; f++) {
            const uint8_t *a = cpu->rgb[j][f], *b = gpu->rgb[j][f];
            if (a == NULL || b == NULL) {
                fprintf(stderr, "%s: job %u frame %u missing (cpu %p, gpu %p)\n", what, j, f,
                        (const void *)a, (const void *)b);
                test_failures++;
                continue;
            }
            size_t differ = 0, off = 0;
            int max_d = 0;
            for (size_t i = 0; i < px; i++) {
                int d = 0;
                for (int k = 0; k < 3; k++) {
                    int dk = abs((int)a[i * 3 + k] - (int)b[i * 3 + k]);
                    d = dk > d ? dk : d;
                }
                differ += d > 0;
                off += d > 2;
                max_d = d > max_d ? d : max_d;
            }
            double frac = (double)off / (double)px;
            worst = frac > worst ? frac : worst;
            if (differ > 0 || f == 0)
                fprintf(stderr,
                        "%s: job %u frame %u (%dx%d): %zu px differ, %zu by > 2 (%.4f %%), max "
                        "%d\n",
                        what, j, f, job->width, job->height, differ, off, frac * 100, max_d);
            if (exact && differ > 0) {
                fprintf(stderr, "%s: job %u frame %u: expected 0 differing pixels, got %zu\n", what,
                        j, f, differ);
                test_failures++;
            } else if (frac > 0.01) {
                fprintf(stderr, "%s: job %u frame %u: %.3f %% of pixels off by > 2 (max 1 %%)\n",
                        what, j, f, frac * 100);
                test_failures++;
            }
        }
    }
    return worst;
}

static void check_parity(const char *what, const eng_job *jobs, uint32_t n, int exact)
{
    frame_store cpu = render(ENG_KIND_CPU, jobs, n);
    frame_store gpu = render(ENG_KIND_CUDA, jobs, n);
    uint32_t total = 0;
    for (uint32_t j = 0; j < n; j++)
        total += jobs[j].frame_count;
    CHECK_INT(total, cpu.calls);
    CHECK_INT(total, gpu.calls);
    double worst = compare(what, &cpu, &gpu, exact);
    fprintf(stderr, "%s: %u jobs, %u frames, worst %.4f %% of pixels off by > 2\n", what, n, total,
            worst * 100);
    store_free(&cpu);
    store_free(&gpu);
}

/* ---- Synthetic scenes ---- */

/* RGBA: a checker with a gradient; alpha below 255 in one quadrant when translucent. */
static uint8_t *make_texture(int w, int h, int seed, int translucent)
{
    uint8_t *t = fx_alloc((size_t)w * (size_t)h * 4);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t *p = t + ((size_t)y * (size_t)w + (size_t)x) * 4;
            int check = ((x >> 3) ^ (y >> 3) ^ seed) & 1;
            p[0] = (uint8_t)(check ? 220 : 40 + (x * 200) / w);
            p[1] = (uint8_t)((y * 255) / h);
            p[2] = (uint8_t)(seed * 70 + (check ? 30 : 150));
            p[3] = (uint8_t)(translucent && x < w / 2 && y < h / 2 ? 90 : 255);
        }
    }
    return t;
}

typedef struct scene {
    fx_mesh sa, sb, ga, gb, plain;
    uint8_t *tex[3];
    eng_material mat_a, mat_b, grid_mats[2], grey;
    uint16_t *grid_tri_mat;
    float w5[5], w3[3], w1[1];
    eng_job jobs[3];
} scene;

static void scene_make(scene *s)
{
    memset(s, 0, sizeof *s);
    const float c0[3] = {0, 0, 0}, c1[3] = {0.05f, -0.02f, 0.1f};
    fx_sphere(&s->sa, 24, 48, c0, 1.0f);
    fx_sphere(&s->sb, 24, 48, c1, 1.3f);
    /* Bumps on the target so normals and silhouettes move. */
    uint32_t seed = 7;
    for (uint32_t v = 0; v < s->sb.vertex_count * 3; v++)
        s->sb.pos[v] += 0.04f * fx_rand(&seed);
    fx_grid(&s->ga, 20, -1, -1, 1, 1, 0.0f, 0.3f, 11, 1);
    fx_grid(&s->gb, 20, -1.2f, -0.8f, 0.9f, 1.1f, 0.2f, 0.3f, 12, 1);
    /* A wave in z so the grid is not flat-lit. */
    for (uint32_t v = 0; v < s->gb.vertex_count; v++)
        s->gb.pos[v * 3 + 2] += 0.2f * sinf(3.0f * s->gb.pos[v * 3]);
    fx_sphere(&s->plain, 12, 20, c0, 0.8f);

    s->tex[0] = make_texture(64, 64, 0, 0);
    s->tex[1] = make_texture(128, 32, 1, 0);
    s->tex[2] = make_texture(32, 32, 2, 1);
    s->mat_a = (eng_material){{0.8f, 0.8f, 0.8f}, s->tex[0], 64, 64, NULL, 0, 0};
    s->mat_b = (eng_material){{0.8f, 0.8f, 0.8f}, s->tex[1], 128, 32, NULL, 0, 0};
    s->grid_mats[0] = (eng_material){{0.9f, 0.2f, 0.1f}, NULL, 0, 0, NULL, 0, 0};
    s->grid_mats[1] = (eng_material){{0.1f, 0.3f, 0.9f}, s->tex[2], 32, 32, NULL, 0, 0};
    s->grey = (eng_material){{0.7f, 0.7f, 0.7f}, NULL, 0, 0, NULL, 0, 0};
    s->grid_tri_mat = fx_alloc(s->ga.triangle_count * sizeof(uint16_t));
    for (uint32_t f = 0; f < s->ga.triangle_count; f++)
        s->grid_tri_mat[f] = (uint16_t)((f / 7) & 1);
    const float w5[5] = {0.0f, 0.25f, 0.5f, 0.8f, 1.0f}, w3[3] = {0.0f, 0.6f, 1.0f};
    memcpy(s->w5, w5, sizeof w5);
    memcpy(s->w3, w3, sizeof w3);
    s->w1[0] = 0.35f;

    /* Job 0: textured spheres, perspective, 4 samples, framed on both. */
    eng_job *j = &s->jobs[0];
    fx_job(j, &s->sa, &s->sb, &s->mat_a, s->w5, 5, 160, 120, 4);
    fx_job_uvs(j, 0, &s->sa);
    fx_job_uvs(j, 1, &s->sb);
    j->surface[1].materials = &s->mat_b;
    float mn[3] = {-1.4f, -1.4f, -1.4f}, mx[3] = {1.4f, 1.4f, 1.4f};
    eng_camera_frame_bounds(&j->camera, mn, mx, 160.0f / 120.0f);

    /* Job 1: the grid pair, two materials per side, orthographic, 9 samples, grey background. */
    j = &s->jobs[1];
    fx_job(j, &s->ga, &s->gb, &s->grey, s->w3, 3, 97, 83, 9);
    for (int side = 0; side < 2; side++) {
        fx_job_uvs(j, side, side == 0 ? &s->ga : &s->gb);
        j->surface[side].material_count = 2;
        j->surface[side].materials = s->grid_mats;
        j->surface[side].tri_materials = s->grid_tri_mat;
    }
    fx_ortho(&j->camera, 0.0f, 0.0f, 2.6f);
    j->camera.eye[0] = 0.7f; /* oblique, so the head-light is not straight on */
    j->background[0] = 30;
    j->background[1] = 60;
    j->background[2] = 90;

    /* Job 2: untextured sphere, 1 sample, default camera moved back. */
    j = &s->jobs[2];
    fx_job(j, &s->plain, NULL, &s->grey, s->w1, 1, 64, 64, 1);
    j->camera.eye[2] = 4.0f;
    j->camera.z_near = 1.0f;
    j->camera.z_far = 10.0f;
}

static void scene_free(scene *s)
{
    fx_mesh_free(&s->sa);
    fx_mesh_free(&s->sb);
    fx_mesh_free(&s->ga);
    fx_mesh_free(&s->gb);
    fx_mesh_free(&s->plain);
    for (int i = 0; i < 3; i++)
        free(s->tex[i]);
    free(s->grid_tri_mat);
}

/* ---- The ICT pair ---- */

typedef struct ict {
    job_inputs *in;
    job_spec spec;
    eng_job job;
    int ready;
} ict;

static void ict_load(ict *c, const char *size, const char *weights)
{
    memset(c, 0, sizeof *c);
    const char *rel[4] = {"faces/ict/ict_face_identity_A.obj", "faces/ict/ict_face_identity_B.obj",
                          "textures/skin_A.png", "textures/skin_B.png"};
    char *path[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 4; i++) {
        const char *p = test_data_try(rel[i]);
        if (p == NULL) {
            fprintf(stderr, "ICT pair: %s not found, skipping that part\n", rel[i]);
            goto out;
        }
        path[i] = md_strdup(p);
    }
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    job_input_paths paths = {path[0], path[1], path[2], path[3], NULL};
    job_spec_init(&c->spec);
    int rc = job_inputs_load(&paths, &lim, &c->in, NULL, &err);
    if (rc == 0)
        rc = job_spec_set_weights(&c->spec, weights, &lim, &err);
    if (rc == 0)
        rc = job_spec_set_size(&c->spec, size, &lim, &err);
    if (rc == 0)
        rc = job_build(c->in, &c->spec, &c->job, &err);
    CHECK_OK(rc, &err);
    c->ready = rc == 0;
out:
    for (int i = 0; i < 4; i++)
        md_free(path[i]);
}

static void ict_free(ict *c)
{
    job_inputs_free(c->in);
    job_spec_free(&c->spec);
}

/* ---- Translucency (issue 17): the scenes of test_engine_xlu.c ---- */

typedef struct xlu_scene {
    fx_mesh mesh;
    uint16_t *tri_mat;
    eng_material mats[FX_XLU_MATS];
    eng_job job;
} xlu_scene;

static const float xlu_weight[1] = {0.0f};

/* Quads over blue: red at opacity 0.75 (partly over the background), green at 0.5, and an
 * invisible one over everything; with layers > 2, that many more translucent quads stacked in
 * the middle, so some samples have more than ENG_XLU_LAYERS translucent surfaces. */
static void xlu_make(xlu_scene *x, int stacked, int samples, eng_shading shading)
{
    fx_quad q[4 + 8] = {
        {-0.75f, -0.75f, 0.75f, 0.75f, 0.0f, FX_XLU_BLUE},
        {-0.9f, -0.5f, 0.3f, 0.5f, 0.25f, FX_XLU_RED},
        {-0.25f, -0.25f, 0.5f, 0.9f, 0.5f, FX_XLU_GREEN},
        {-1.0f, -1.0f, 1.0f, 1.0f, 0.75f, FX_XLU_HIDDEN},
    };
    for (int i = 0; i < stacked && i < 8; i++)
        q[4 + i] = (fx_quad){-0.41f,
                             -0.37f,
                             0.33f,
                             0.29f,
                             0.05f + 0.08f * (float)i,
                             i % 2 ? FX_XLU_RED : FX_XLU_GREEN};
    fx_quads(&x->mesh, &x->tri_mat, q, 4 + (stacked < 8 ? stacked : 8));
    fx_xlu_materials(x->mats);
    fx_xlu_job(&x->job, &x->mesh, x->tri_mat, x->mats, xlu_weight, samples);
    x->job.shading = shading;
}

static void xlu_free(xlu_scene *x)
{
    fx_mesh_free(&x->mesh);
    free(x->tri_mat);
}

int main(void)
{
    fx_require_cuda_device();
    scene s;
    scene_make(&s);
    check_parity("synthetic", s.jobs, 3, 1);

    /* Face space: shape and texture weights outside [0, 1] and apart, so both shaders run
     * gpu/texel.h's L*a*b* extrapolation (CUDA's powf and cbrtf may differ from glibc's in
     * the last bit, which the tolerance covers). */
    float fs_shape[3] = {-0.5f, 1.5f, 0.0f}, fs_texture[3] = {-0.5f, 2.0f, 1.0f};
    eng_job fs[2] = {s.jobs[0], s.jobs[1]};
    fs[0].frame_count = 3;
    fs[0].weights = fs_shape;
    fs[0].texture_weights = fs_texture;
    fs[1].texture_weights = fs_texture; /* the grid keeps its shape weights 0, 0.6, 1 */
    check_parity("face space", fs, 2, 0);

    /* Large triangles (issue 10): the quad of engine_fixtures.h, each triangle's box the whole
     * 16384^2 sample grid, split into tiles on the GPU (gpu/raster_math.h); exact. */
    fx_mesh quad;
    eng_material quad_mat;
    const float quad_weight = 0.0f;
    eng_job quad_job;
    fx_quad_job(&quad_job, &quad, &quad_mat, &quad_weight);
    check_parity("quad", &quad_job, 1, 1);
    fx_mesh_free(&quad);

    /* Translucency: one and two layers, more layers than kept, an invisible material; at 16
     * samples the big quads go through the tile kernel in every layer pass too. Exact. Then
     * in a batch with opaque jobs, so chunks mix frames with and without layers. */
    xlu_scene xs[3];
    xlu_make(&xs[0], 0, 1, ENG_SHADING_UNLIT);
    xlu_make(&xs[1], 6, 4, ENG_SHADING_PHONG);
    xlu_make(&xs[2], 3, 16, ENG_SHADING_PHONG);
    for (int i = 0; i < 3; i++) {
        char what[64];
        snprintf(what, sizeof what, "translucent %d", i);
        check_parity(what, &xs[i].job, 1, 1);
    }
    eng_job xmix[5] = {s.jobs[0], xs[1].job, s.jobs[2], xs[2].job, s.jobs[1]};
    check_parity("translucent mixed", xmix, 5, 1);
    for (int i = 0; i < 3; i++)
        xlu_free(&xs[i]);

    ict face, small;
    ict_load(&face, "512x512", "0,0.25,0.5,0.75,1");
    ict_load(&small, "200x300", "0.1,0.9");
    if (face.ready)
        check_parity("ict", &face.job, 1, 1);

    /* The mixed batch: every job above, sizes and frame counts differing. */
    eng_job mixed[6];
    uint32_t n = 0;
    mixed[n++] = s.jobs[2];
    if (face.ready)
        mixed[n++] = face.job;
    mixed[n++] = s.jobs[0];
    if (small.ready)
        mixed[n++] = small.job;
    mixed[n++] = s.jobs[1];
    mixed[n++] = s.jobs[0];
    check_parity("mixed", mixed, n, 1);

    if (face.ready)
        ict_free(&face);
    if (small.ready)
        ict_free(&small);
    scene_free(&s);
    return test_done();
}
