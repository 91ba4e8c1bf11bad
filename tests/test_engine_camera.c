/*
 * test_engine_camera.c — cameras: the view-projection matches OpenGL conventions, auto-framing
 * fills the same fraction of the frame at any unit scale (1e-3 to 1e3) and keeps the mesh
 * inside, near/far fitting, the text form (with precise errors), and validation.
 */
#include "engine_fixtures.h"
#include "gpu/kernels.h"

static void project(const float m[16], const float p[3], float ndc[3])
{
    float c[4];
    for (int r = 0; r < 4; r++)
        c[r] = m[r] * p[0] + m[4 + r] * p[1] + m[8 + r] * p[2] + m[12 + r];
    for (int k = 0; k < 3; k++)
        ndc[k] = c[k] / c[3];
}

static void test_view_proj(void)
{
    eng_camera cam;
    eng_camera_default(&cam);
    md_error err;
    CHECK_OK(eng_camera_validate(&cam, &err), &err);
    float m[16], ndc[3];
    eng_camera_view_proj(&cam, 1.0f, m);
    float origin[3] = {0, 0, 0};
    project(m, origin, ndc);
    CHECK_NEAR(0.0, ndc[0], 1e-6);
    CHECK_NEAR(0.0, ndc[1], 1e-6);
    CHECK(ndc[2] > -1 && ndc[2] < 1);
    /* The top of a 30 degree view at distance 1 maps to NDC y = 1; +X goes right. */
    float top[3] = {0, (float)tan(15 * 3.14159265358979 / 180), 0};
    project(m, top, ndc);
    CHECK_NEAR(1.0, ndc[1], 1e-5);
    float right[3] = {0.1f, 0, 0};
    project(m, right, ndc);
    CHECK(ndc[0] > 0);
    /* Aspect 2: x is squeezed by 2. */
    eng_camera_view_proj(&cam, 2.0f, m);
    float topright[3] = {top[1], top[1], 0};
    project(m, topright, ndc);
    CHECK_NEAR(0.5, ndc[0], 1e-5);
    /* Near maps to -1, far to +1. */
    float pn[3] = {0, 0, 1 - cam.z_near}, pf[3] = {0, 0, 1 - cam.z_far};
    project(m, pn, ndc);
    CHECK_NEAR(-1.0, ndc[2], 1e-4);
    project(m, pf, ndc);
    CHECK_NEAR(1.0, ndc[2], 1e-4);
    /* Orthographic: height 4 maps y = 2 to the top, independent of depth. */
    cam.orthographic = 1;
    cam.ortho_height = 4.0f;
    eng_camera_view_proj(&cam, 1.0f, m);
    float p2[3] = {0, 2, -3};
    project(m, p2, ndc);
    CHECK_NEAR(1.0, ndc[1], 1e-6);
}

/* Fraction of pixels not background, and whether any touch the frame's border. */
static double coverage(const eng_job *job, int *touches_border)
{
    uint8_t *rgb = fx_render(job, 2);
    if (rgb == NULL)
        return -1;
    long n = 0;
    *touches_border = 0;
    for (int y = 0; y < job->height; y++) {
        for (int x = 0; x < job->width; x++) {
            const uint8_t *p = rgb + ((size_t)y * (size_t)job->width + (size_t)x) * 3;
            int hit = p[0] != 255 || p[1] != 0 || p[2] != 255;
            n += hit;
            if (hit && (x == 0 || y == 0 || x == job->width - 1 || y == job->height - 1))
                *touches_border = 1;
        }
    }
    free(rgb);
    return (double)n / ((double)job->width * job->height);
}

static void test_frame_bounds(void)
{
    const float scales[3] = {1e-3f, 1.0f, 1e3f};
    const int sizes[2][2] = {{160, 96}, {90, 150}}; /* wide and tall */
    for (int ortho = 0; ortho < 2; ortho++) {
        for (int sz = 0; sz < 2; sz++) {
            double frac[3];
            for (int s = 0; s < 3; s++) {
                float sc = scales[s];
                float c[3] = {3 * sc, -2 * sc, 5 * sc};
                fx_mesh m;
                fx_sphere(&m, 32, 64, c, sc);
                eng_material mat = {{0.5f, 0.5f, 0.5f}, NULL, 0, 0, NULL, 0, 0};
                float w0 = 0;
                eng_job job;
                int w = sizes[sz][0], h = sizes[sz][1];
                fx_job(&job, &m, NULL, &mat, &w0, 1, w, h, 1);
                job.background[0] = 255;
                job.background[1] = 0;
                job.background[2] = 255;
                job.camera.orthographic = ortho;
                float mn[3] = {c[0] - sc, c[1] - sc, c[2] - sc};
                float mx[3] = {c[0] + sc, c[1] + sc, c[2] + sc};
                eng_camera_frame_bounds(&job.camera, mn, mx, (float)w / (float)h);
                md_error err;
                CHECK_OK(eng_camera_validate(&job.camera, &err), &err);
                int border = 0;
                frac[s] = coverage(&job, &border);
                CHECK_INT(0, border);
                fx_mesh_free(&m);
            }
            /* The sphere's disc has 1/(sqrt(3) * 1.05) of the framed radius, about 14% of the
             * frame's area with the short side 1, and the same at every scale. */
            for (int s = 0; s < 3; s++) {
                if (!(frac[s] > 0.12 && fabs(frac[s] - frac[1]) < 0.005))
                    fprintf(stderr, "%s %dx%d scale %g: %.4f of the frame (scale 1: %.4f)\n",
                            ortho ? "ortho" : "perspective", sizes[sz][0], sizes[sz][1],
                            (double)scales[s], frac[s], frac[1]);
                CHECK(frac[s] > 0.12);
                CHECK_NEAR(frac[1], frac[s], 0.005);
            }
        }
    }
}

static void test_fit_clip(void)
{
    eng_camera cam;
    eng_camera_default(&cam);
    cam.eye[2] = 5.0f;
    float mn[3] = {-1, -1, -1}, mx[3] = {1, 1, 1}; /* r = sqrt(3) */
    eng_camera_fit_clip(&cam, mn, mx);
    double r = sqrt(3.0);
    CHECK_NEAR(5 - 1.5 * r, cam.z_near, 1e-5);
    CHECK_NEAR(5 + 1.5 * r, cam.z_far, 1e-5);
    /* Eye inside the sphere: near stays positive and small, far beyond the sphere. */
    cam.eye[2] = 0.5f;
    eng_camera_fit_clip(&cam, mn, mx);
    CHECK(cam.z_near > 0 && cam.z_near < 0.01);
    CHECK(cam.z_far > 0.5 + r);
    md_error err;
    CHECK_OK(eng_camera_validate(&cam, &err), &err);
}

static void test_parse(void)
{
    md_error err;
    md_error_clear(&err);
    eng_camera cam;
    eng_camera_default(&cam);
    int explicit_eye = -1;
    CHECK_OK(eng_camera_parse(" eye = 1, 2 ,3 ;target=0,0.5,0; up=0,0,1 ;fov=45; near=0.5;far=50;",
                              &cam, &explicit_eye, &err),
             &err);
    CHECK_INT(1, explicit_eye);
    CHECK_NEAR(2.0, cam.eye[1], 0);
    CHECK_NEAR(0.5, cam.target[1], 0);
    CHECK_NEAR(1.0, cam.up[2], 0);
    CHECK_NEAR(45.0, cam.fov_y_deg, 0);
    CHECK_NEAR(0.5, cam.z_near, 0);
    CHECK_NEAR(50.0, cam.z_far, 0);
    CHECK_INT(0, cam.orthographic);
    CHECK_OK(eng_camera_parse("ortho=2.5", &cam, &explicit_eye, &err), &err);
    CHECK_INT(0, explicit_eye);
    CHECK_INT(1, cam.orthographic);
    CHECK_NEAR(2.5, cam.ortho_height, 0);
    CHECK_NEAR(2.0, cam.eye[1], 0); /* untouched */
    CHECK_OK(eng_camera_parse("ortho=0", &cam, NULL, &err), &err);
    CHECK_INT(0, cam.orthographic);
    CHECK_OK(eng_camera_parse("", &cam, NULL, &err), &err);

    struct {
        const char *spec, *msg;
    } bad[] = {
        {"eye=x,1", "camera: 'eye' needs 3 numbers, got 'x,1'"},
        {"eye=1,2", "camera: 'eye' needs 3 numbers, got '1,2'"},
        {"target=1,2,3,4", "camera: 'target' needs 3 numbers, got '1,2,3,4'"},
        {"up=1,,2", "'up' needs 3 numbers"},
        {"fov=abc", "camera: 'fov' needs a number, got 'abc'"},
        {"near=nan", "'near' needs a number"},
        {"far=1e99", "'far' needs a number"},
        {"ortho=-1", "'ortho' needs a height > 0"},
        {"fov=30;zoom=2", "camera: unknown key 'zoom' (valid keys: eye, target, up, fov, near, "
                          "far, ortho)"},
        {"fov 30", "camera: 'fov 30' is not key=value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eng_camera before;
        eng_camera_default(&before);
        cam = before;
        md_error_clear(&err);
        CHECK_INT(MD_EPARSE, eng_camera_parse(bad[i].spec, &cam, NULL, &err));
        CHECK_MSG(&err, bad[i].msg);
        CHECK(memcmp(&cam, &before, sizeof cam) == 0); /* a failed parse changes nothing */
    }
}

static void test_validate(void)
{
    md_error err;
    eng_camera cam;
    eng_camera_default(&cam);
    memcpy(cam.target, cam.eye, sizeof cam.eye);
    CHECK_INT(MD_EINVAL, eng_camera_validate(&cam, &err));
    CHECK_MSG(&err, "eye and target are the same point");

    eng_camera_default(&cam);
    cam.up[1] = 0;
    cam.up[2] = -2;
    CHECK_INT(MD_EINVAL, eng_camera_validate(&cam, &err));
    CHECK_MSG(&err, "is parallel to the view direction");

    eng_camera_default(&cam);
    cam.fov_y_deg = 180;
    CHECK_INT(MD_EINVAL, eng_camera_validate(&cam, &err));
    CHECK_MSG(&err, "fov 180 must be between 0 and 180");

    eng_camera_default(&cam);
    cam.z_near = 2;
    cam.z_far = 1;
    CHECK_INT(MD_EINVAL, eng_camera_validate(&cam, &err));
    CHECK_MSG(&err, "near 2 and far 1");

    eng_camera_default(&cam);
    cam.eye[0] = NAN;
    CHECK_INT(MD_EINVAL, eng_camera_validate(&cam, &err));
    CHECK_MSG(&err, "eye");
    CHECK_MSG(&err, "not finite");

    eng_camera_default(&cam);
    cam.orthographic = 1;
    cam.ortho_height = 0;
    CHECK_INT(MD_EINVAL, eng_camera_validate(&cam, &err));
    CHECK_MSG(&err, "ortho height 0");
}

int main(void)
{
    test_view_proj();
    test_frame_bounds();
    test_fit_clip();
    test_parse();
    test_validate();
    return test_done();
}
