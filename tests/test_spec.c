/* test_spec.c — job spec parsing (what `morph run` flags become) and frame names. */
#include "test_util.h"

#include <string.h>

#include "jobs/job.h"

int main(void)
{
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    job_spec s;
    job_spec_init(&s);
    CHECK_INT(41, job_spec_frame_total(&s));
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK_NEAR(0.0, job_spec_weight(&s, 0), 0);
    CHECK_NEAR(0.5, job_spec_weight(&s, 20), 1e-7);
    CHECK_NEAR(1.0, job_spec_weight(&s, 40), 0);

    CHECK_OK(job_spec_set_frames(&s, "5", &lim, &err), &err);
    CHECK_OK(job_spec_finalize(&s, &err), &err);
    CHECK_NEAR(0.25, job_spec_weight(&s, 1), 1e-7);
    CHECK_INT(MD_EINVAL, job_spec_set_frames(&s, "0", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_frames(&s, "12x", &lim, &err));
    CHECK_MSG(&err, "--frames: '12x'");
    CHECK_INT(MD_EINVAL, job_spec_set_frames(&s, "100001", &lim, &err));

    CHECK_OK(job_spec_set_weights(&s, "0, 0.25,1", &lim, &err), &err);
    CHECK_INT(3, job_spec_frame_total(&s));
    CHECK_NEAR(0.25, job_spec_weight(&s, 1), 1e-7);
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "0,1.5", &lim, &err));
    CHECK_MSG(&err, "item 2 '1.5'");
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "0,,1", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "0,0.5x", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_weights(&s, "nan", &lim, &err));

    CHECK_OK(job_spec_set_size(&s, "640x480", &lim, &err), &err);
    CHECK_INT(640, s.width);
    CHECK_INT(480, s.height);
    CHECK_INT(MD_EINVAL, job_spec_set_size(&s, "640", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_size(&s, "0x10", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_size(&s, "99999x10", &lim, &err));
    CHECK_INT(MD_EINVAL, job_spec_set_size(&s, "10x10y", &lim, &err));

    CHECK_OK(job_spec_set_samples(&s, "9", &lim, &err), &err);
    CHECK_INT(9, s.samples);
    CHECK_INT(MD_EINVAL, job_spec_set_samples(&s, "3", &lim, &err));
    CHECK_MSG(&err, "square");
    CHECK_INT(MD_EINVAL, job_spec_set_samples(&s, "81", &lim, &err));

    CHECK_OK(job_spec_set_background(&s, "#102030", &err), &err);
    CHECK_INT(0x10, s.background[0]);
    CHECK_INT(0x30, s.background[2]);
    CHECK_INT(MD_EINVAL, job_spec_set_background(&s, "12345", &err));
    CHECK_INT(MD_EINVAL, job_spec_set_background(&s, "gg0000", &err));

    CHECK_OK(job_spec_set_png_level(&s, "9", &err), &err);
    CHECK_INT(MD_EINVAL, job_spec_set_png_level(&s, "10", &err));

    CHECK_OK(job_spec_set_ortho(&s, "auto", &err), &err);
    CHECK(s.camera.orthographic && s.ortho_auto);
    CHECK_OK(job_spec_set_ortho(&s, "2.5", &err), &err);
    CHECK_NEAR(2.5, s.camera.ortho_height, 1e-6);
    CHECK_INT(MD_EINVAL, job_spec_set_ortho(&s, "-1", &err));

    CHECK_OK(job_spec_set_camera(&s, "eye=0,0,5;target=0,0,0;fov=20", &err), &err);
    CHECK_INT(JOB_CAMERA_EXPLICIT, s.camera_mode);
    CHECK_INT(MD_EINVAL, job_spec_set_camera(&s, "eye=1,2", &err));
    CHECK_MSG(&err, "--camera");

    char name[256];
    CHECK_OK(job_frame_name(7, 0.175f, "faceA", "faceB", name, sizeof name), &err);
    CHECK(strcmp(name, "0007_faceA-0825_faceB-0175.png") == 0);
    CHECK_OK(job_frame_name(0, 0.0f, "a", "b", name, sizeof name), &err);
    CHECK(strcmp(name, "0000_a-1000_b-0000.png") == 0);
    CHECK_OK(job_frame_name(40, 1.0f, "a", "b", name, sizeof name), &err);
    CHECK(strcmp(name, "0040_a-0000_b-1000.png") == 0);
    job_path_stem("/x/y/ict face-A.obj", name, sizeof name);
    CHECK(strcmp(name, "ict_face_A") == 0);
    job_path_stem("noext", name, sizeof name);
    CHECK(strcmp(name, "noext") == 0);
    job_spec_free(&s);
    return test_done();
}
