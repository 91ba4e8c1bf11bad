/*
 * test_engine_xlu_data.c — translucency on a real face (issue 17, item 1): the ICT face pair
 * from $MORPHD_DATA with the skin textures, frame t = 0.5 at 512 x 512, the triangles of the
 * face's right half (world x above the middle of the bounds; the image's right side) in a copy
 * of their material at transparency 0.6, so the eyes, mouth and inner surfaces behind show
 * through and the skin fades.
 *   - the same split with transparency 0 is an opaque job and gives the original frame's bytes;
 *   - translucent, the image's left 40 % (the opaque half) keeps its bytes, and the right half
 *     changes in many pixels;
 *   - the frame is written as xlu_ict.png in the working directory (the build's tests/ folder
 *     under ctest) to be looked at.
 * Skips (77) without the data.
 */
#include "test_util.h"

#include <stdio.h>
#include <string.h>

#include "gpu/engine.h"
#include "jobs/job.h"
#include "mesh/image.h"

typedef struct one_frame {
    uint8_t *rgb;
    size_t size;
} one_frame;

static int keep_cb(void *user, const eng_frame *f)
{
    one_frame *o = user;
    if ((size_t)f->width * (size_t)f->height * 3 == o->size)
        memcpy(o->rgb, f->rgb, o->size);
    return 0;
}

static uint8_t *render(const eng_job *job)
{
    md_error err;
    md_error_clear(&err);
    eng_config cfg = {ENG_KIND_CPU, 0, 0};
    eng *e = NULL;
    CHECK_OK(eng_new(&cfg, &e, &err), &err);
    if (e == NULL)
        return NULL;
    one_frame o = {md_calloc((size_t)job->width * (size_t)job->height * 3, 1),
                   (size_t)job->width * (size_t)job->height * 3};
    CHECK_OK(eng_batch_run(e, job, 1, keep_cb, &o, NULL, &err), &err);
    eng_free(e);
    return o.rgb;
}

int main(void)
{
    const char *rel[4] = {"faces/ict/ict_face_identity_A.obj", "faces/ict/ict_face_identity_B.obj",
                          "textures/skin_A.png", "textures/skin_B.png"};
    char *path[4];
    for (int i = 0; i < 4; i++)
        path[i] = md_strdup(test_data(rel[i])); /* exits 77 when missing */
    md_limits lim;
    md_limits_default(&lim);
    md_error err;
    md_error_clear(&err);
    job_input_paths paths = {path[0], path[1], path[2], path[3], NULL};
    job_spec spec;
    job_spec_init(&spec);
    job_inputs *in = NULL;
    eng_job job;
    int rc = job_inputs_load(&paths, &lim, &in, NULL, &err);
    if (rc == 0)
        rc = job_spec_set_weights(&spec, "0.5", &lim, &err);
    if (rc == 0)
        rc = job_spec_set_size(&spec, "512x512", &lim, &err);
    if (rc == 0)
        rc = job_build(in, &spec, &job, &err);
    CHECK_OK(rc, &err);
    if (rc != 0)
        return test_done();

    /* The right half: triangles whose centroid (source mesh) lies right of the middle. */
    float lo = 1e30f, hi = -1e30f;
    for (uint32_t v = 0; v < job.vertex_count; v++) {
        const float x = job.positions[0][(size_t)v * 3];
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    const float mid = 0.5f * (lo + hi);
    uint16_t *tri_mat[2];
    eng_material *mats[2];
    eng_job split = job;
    for (int s = 0; s < 2; s++) {
        const eng_surface *sf = &job.surface[s];
        const uint32_t n = sf->material_count;
        mats[s] = md_calloc((size_t)n * 2, sizeof *mats[s]);
        tri_mat[s] = md_calloc(job.triangle_count, sizeof *tri_mat[s]);
        for (uint32_t m = 0; m < n; m++)
            mats[s][m] = mats[s][n + m] = sf->materials[m]; /* n + m: m's translucent copy */
        uint32_t right = 0;
        for (uint32_t f = 0; f < job.triangle_count; f++) {
            const uint32_t *t = job.triangles + (size_t)f * 3;
            const float cx =
                (job.positions[0][(size_t)t[0] * 3] + job.positions[0][(size_t)t[1] * 3] +
                 job.positions[0][(size_t)t[2] * 3]) /
                3.0f;
            const uint16_t m = sf->tri_materials != NULL ? sf->tri_materials[f] : 0;
            tri_mat[s][f] = (uint16_t)(cx > mid ? n + m : m);
            right += cx > mid;
        }
        CHECK(right > job.triangle_count / 4);
        split.surface[s].materials = mats[s];
        split.surface[s].material_count = n * 2;
        split.surface[s].tri_materials = tri_mat[s];
    }

    uint8_t *base = render(&job);
    uint8_t *same = render(&split); /* the copies still opaque */
    CHECK_INT(0, eng_job_translucent(&split));
    const size_t bytes = (size_t)job.width * (size_t)job.height * 3;
    CHECK(base != NULL && same != NULL && memcmp(base, same, bytes) == 0);

    for (int s = 0; s < 2; s++) {
        for (uint32_t m = job.surface[s].material_count; m < split.surface[s].material_count; m++)
            mats[s][m].transparency = 0.6f;
    }
    CHECK_INT(1, eng_job_translucent(&split));
    uint8_t *xlu = render(&split);
    if (base != NULL && xlu != NULL) {
        uint64_t left_diff = 0, right_diff = 0;
        for (int y = 0; y < job.height; y++) {
            for (int x = 0; x < job.width; x++) {
                const size_t i = ((size_t)y * (size_t)job.width + (size_t)x) * 3;
                const int d = memcmp(base + i, xlu + i, 3) != 0;
                if (x < job.width * 2 / 5)
                    left_diff += d;
                else if (x >= job.width / 2)
                    right_diff += d;
            }
        }
        fprintf(stderr,
                "translucent right half: %llu pixels changed on the right, %llu on the "
                "left 40 %%\n",
                (unsigned long long)right_diff, (unsigned long long)left_diff);
        CHECK_INT(0, left_diff);
        CHECK(right_diff > 5000);
        uint8_t *png = NULL;
        size_t png_len = 0;
        CHECK_OK(img_encode_png(xlu, job.width, job.height, 3, 6, &png, &png_len, &err), &err);
        FILE *f = fopen("xlu_ict.png", "wb");
        CHECK(f != NULL);
        if (f != NULL) {
            CHECK_INT(png_len, fwrite(png, 1, png_len, f));
            fclose(f);
        }
        md_free(png);
    }
    md_free(base);
    md_free(same);
    md_free(xlu);
    for (int s = 0; s < 2; s++) {
        md_free(mats[s]);
        md_free(tri_mat[s]);
    }
    job_inputs_free(in);
    job_spec_free(&spec);
    for (int i = 0; i < 4; i++)
        md_free(path[i]);
    return test_done();
}
