/*
 * test_render_job.c — render jobs (jobs/render.c) on the CPU engine: a cube with a colour per
 * side, offset from the origin, as a turntable of 4 views renders 4 different frames, each
 * looking straight at the side it should; view 0 is bit for bit a morph job's t = 0 frame with
 * the same auto camera; listed views (explicit and auto) and elevation work; a cube that went
 * through the canonical form renders the same; job_inputs_from_meshes takes ownership and
 * checks topology; the builders refuse the other kind's spec; view names sort.
 */
#include "test_util.h"
#include "job_fixtures.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/job.h"

#define SIDE 64

static md_limits lim;

/* The cube of job_fixtures.h: a colour per side, offset from the origin. */
static mesh *make_cube(void)
{
    return jf_cube(&lim);
}

static void read_spec(job_spec *s, const char *text)
{
    jf_read_spec(s, text, &lim);
}

/* Frames of a batch, by job (each job here has one frame, except morphs: frame 0 kept). */
typedef struct frames {
    uint8_t *rgb[8];
    int delivered[8];
} frames;

static int on_frame(void *user, const eng_frame *f)
{
    frames *fr = user;
    if (f->job >= 8 || f->frame != 0 || f->width != SIDE || f->height != SIDE)
        return MD_EINTERNAL;
    memcpy(fr->rgb[f->job], f->rgb, (size_t)SIDE * SIDE * 3);
    fr->delivered[f->job]++;
    return 0;
}

static void run(eng *e, const eng_job *jobs, uint32_t count, frames *fr)
{
    memset(fr, 0, sizeof *fr);
    for (uint32_t i = 0; i < count; i++) {
        fr->rgb[i] = calloc((size_t)SIDE * SIDE, 3);
        md_error err;
        CHECK_OK(eng_job_validate(&jobs[i], &lim, &err), &err);
    }
    md_error err;
    CHECK_OK(eng_batch_run(e, jobs, count, on_frame, fr, NULL, &err), &err);
    for (uint32_t i = 0; i < count; i++)
        CHECK_INT(1, fr->delivered[i]);
}

static void frames_free(frames *fr)
{
    for (int i = 0; i < 8; i++)
        free(fr->rgb[i]);
}

/* The channel (0 r, 1 g, 2 b) that is brightest at the centre, and whether the centre holds
 * the mix the side's colour gives (two channels high for yellow/magenta/cyan). */
static const uint8_t *centre(const uint8_t *rgb)
{
    return rgb + ((size_t)(SIDE / 2) * SIDE + SIDE / 2) * 3;
}

static void check_colour_at(const uint8_t *rgb, int r, int g, int b, const char *what, int line)
{
    const uint8_t *c = centre(rgb);
    int want[3] = {r, g, b};
    for (int k = 0; k < 3; k++) {
        int high = c[k] > 200, low = c[k] < 100;
        if (want[k] ? !high : !low) {
            fprintf(stderr, "%s:%d: %s: centre is (%d, %d, %d), expected %s%s%s\n", __FILE__, line,
                    what, c[0], c[1], c[2], r ? "R" : "-", g ? "G" : "-", b ? "B" : "-");
            test_failures++;
            return;
        }
    }
}
#define CHECK_COLOUR(rgb, r, g, b, what) check_colour_at((rgb), (r), (g), (b), (what), __LINE__)

int main(void)
{
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    eng *e = NULL;
    eng_config cfg = {.kind = ENG_KIND_CPU, .threads = 2};
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e == NULL)
        return test_done();

    /* ---- A turntable of 4 ---- */
    job_inputs *in = NULL;
    CHECK_OK(job_inputs_from_meshes(make_cube(), NULL, &in, &err), &err);
    CHECK(job_inputs_mesh(in, 1) == NULL);
    const mesh *cube = job_inputs_mesh(in, 0);
    job_spec spec;
    read_spec(&spec, "{\"kind\":\"render\",\"width\":64,\"height\":64,\"samples\":4,"
                     "\"views\":{\"turntable\":{\"count\":4,\"elevation\":0}}}");
    CHECK_INT(4, job_spec_view_count(&spec));
    eng_job jobs[8];
    CHECK_OK(job_build_render(cube, job_inputs_materials(in, 0), &spec, jobs, &err), &err);
    for (int i = 0; i < 4; i++) {
        CHECK(jobs[i].positions[0] == jobs[i].positions[1]);
        CHECK_INT(1, jobs[i].frame_count);
        CHECK_NEAR(0.0, jobs[i].weights[0], 0);
    }
    /* The eye orbits the box centre at one distance. */
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(0.3, jobs[i].camera.target[0], 1e-6);
        CHECK_NEAR(0.2, jobs[i].camera.target[1], 1e-6);
        CHECK_NEAR(-0.1, jobs[i].camera.target[2], 1e-6);
        double d2 = 0, d0 = 0;
        for (int k = 0; k < 3; k++) {
            double d = (double)jobs[i].camera.eye[k] - jobs[i].camera.target[k];
            double z = (double)jobs[0].camera.eye[k] - jobs[0].camera.target[k];
            d2 += d * d;
            d0 += z * z;
        }
        CHECK_NEAR(sqrt(d0), sqrt(d2), 1e-5);
        CHECK_NEAR(0.2, jobs[i].camera.eye[1], 1e-5); /* elevation 0 */
    }
    CHECK(jobs[1].camera.eye[0] > 1.3f && jobs[3].camera.eye[0] < -0.7f);
    CHECK(jobs[2].camera.eye[2] < -1.1f);
    frames tt;
    run(e, jobs, 4, &tt);
    CHECK_COLOUR(tt.rgb[0], 1, 0, 0, "view 0 (front, +Z)");
    CHECK_COLOUR(tt.rgb[1], 0, 1, 0, "view 1 (+X)");
    CHECK_COLOUR(tt.rgb[2], 0, 0, 1, "view 2 (back, -Z)");
    CHECK_COLOUR(tt.rgb[3], 1, 1, 0, "view 3 (-X)");
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            CHECK(test_max_diff(tt.rgb[i], tt.rgb[j], SIDE, SIDE) > 100);

    /* ---- View 0 is a morph job's t = 0 frame with the same auto camera ---- */
    job_inputs *pair = NULL;
    CHECK_OK(job_inputs_from_meshes(make_cube(), make_cube(), &pair, &err), &err);
    job_spec morph;
    read_spec(&morph, "{\"weights\":[0],\"width\":64,\"height\":64,\"samples\":4}");
    eng_job morph_job;
    CHECK_OK(job_build(pair, &morph, &morph_job, &err), &err);
    CHECK(memcmp(&morph_job.camera, &jobs[0].camera, sizeof morph_job.camera) == 0);
    frames mf;
    run(e, &morph_job, 1, &mf);
    CHECK_INT(0, test_max_diff(mf.rgb[0], tt.rgb[0], SIDE, SIDE));

    /* The builders refuse the other kind, and a morph needs a target. */
    CHECK_INT(MD_EINVAL, job_build(in, &morph, &morph_job, &err));
    CHECK_MSG(&err, "needs a target mesh");
    CHECK_INT(MD_EINVAL, job_build(pair, &spec, &morph_job, &err));
    CHECK_MSG(&err, "job_build_render");
    CHECK_INT(MD_EINVAL, job_build_render(cube, job_inputs_materials(in, 0), &morph, jobs, &err));
    CHECK_MSG(&err, "job_build, not job_build_render");
    frames_free(&mf);
    job_spec_free(&morph);
    job_inputs_free(pair);

    /* ---- Listed views: explicit eye (near/far fitted), auto (= turntable view 0) ---- */
    job_spec listed;
    read_spec(&listed, "{\"kind\":\"render\",\"width\":64,\"height\":64,\"samples\":4,"
                       "\"views\":[{\"eye\":[0.3,0.2,12],\"target\":[0.3,0.2,-0.1]},{}]}");
    CHECK_OK(job_build_render(cube, job_inputs_materials(in, 0), &listed, jobs, &err), &err);
    CHECK(jobs[0].camera.z_near > 5 && jobs[0].camera.z_far < 20);
    frames lf;
    run(e, jobs, 2, &lf);
    CHECK_COLOUR(lf.rgb[0], 1, 0, 0, "listed view 0");
    CHECK(test_max_diff(lf.rgb[0], tt.rgb[0], SIDE, SIDE) > 0); /* farther: smaller */
    CHECK_INT(0, test_max_diff(lf.rgb[1], tt.rgb[0], SIDE, SIDE));
    frames_free(&lf);
    job_spec_free(&listed);

    /* ---- Elevation: from 60 degrees up the top shows at the centre ---- */
    job_spec raised;
    read_spec(&raised, "{\"kind\":\"render\",\"width\":64,\"height\":64,\"samples\":4,"
                       "\"views\":{\"turntable\":{\"count\":2,\"elevation\":60}}}");
    CHECK_OK(job_build_render(cube, job_inputs_materials(in, 0), &raised, jobs, &err), &err);
    frames rf;
    run(e, jobs, 2, &rf);
    CHECK_COLOUR(rf.rgb[0], 1, 0, 1, "elevated view 0 (top)");
    CHECK_COLOUR(rf.rgb[1], 1, 0, 1, "elevated view 1 (top)");
    CHECK(test_max_diff(rf.rgb[0], rf.rgb[1], SIDE, SIDE) > 100);
    frames_free(&rf);
    job_spec_free(&raised);

    /* ---- The worker's path: canonical bytes -> mesh -> inputs -> the same frame ---- */
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_OK(mesh_encode_canonical(cube, &bytes, &len, &err), &err);
    mesh *decoded = NULL;
    CHECK_OK(mesh_decode_canonical(bytes, len, &lim, &decoded, &err), &err);
    md_free(bytes);
    job_inputs *from_canon = NULL;
    CHECK_OK(job_inputs_from_meshes(decoded, NULL, &from_canon, &err), &err);
    if (from_canon != NULL) {
        CHECK_OK(job_build_render(job_inputs_mesh(from_canon, 0),
                                  job_inputs_materials(from_canon, 0), &spec, jobs, &err),
                 &err);
        frames cf;
        run(e, jobs, 1, &cf);
        CHECK_INT(0, test_max_diff(cf.rgb[0], tt.rgb[0], SIDE, SIDE));
        frames_free(&cf);
    }
    job_inputs_free(from_canon);

    /* ---- job_inputs_from_meshes: topology checked, meshes owned even on failure ---- */
    static const char tri_obj[] = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n";
    mesh *tri = NULL;
    CHECK_OK(mesh_parse_obj(tri_obj, strlen(tri_obj), &lim, &tri, &err), &err);
    job_inputs *mismatch = (job_inputs *)&lim;
    CHECK_INT(MD_ETOPOLOGY, job_inputs_from_meshes(make_cube(), tri, &mismatch, &err));
    CHECK(mismatch == NULL);
    CHECK_MSG(&err, "source has 8 vertices, target 3");

    /* ---- Names ---- */
    char name[64];
    CHECK_OK(job_view_name(3, "head", name, sizeof name), &err);
    CHECK(strcmp(name, "0003_head-view.png") == 0);
    CHECK_OK(job_view_name(12, "a b/c", name, sizeof name), &err);
    CHECK(strcmp(name, "0012_a_b_c-view.png") == 0);
    CHECK_INT(MD_EINVAL, job_view_name(1, "head", name, 8));

    frames_free(&tt);
    job_spec_free(&spec);
    job_inputs_free(in);
    eng_free(e);
    return test_done();
}
