/*
 * default_job.h — the default job the benches measure, loaded once: the ICT face pair with the
 * 2048² skin textures from the shared data folder, the default spec (41 frames at 512², 4
 * samples) and its engine job. A header (static functions) because every bench source is its own
 * program.
 */
#ifndef BENCH_DEFAULT_JOB_H
#define BENCH_DEFAULT_JOB_H

#include <stdio.h>

#include "base/md.h"
#include "jobs/job.h"

typedef struct bench_job {
    job_inputs *in;
    job_spec spec;
    eng_job job;
    char texture_a[1024]; /* skin_A.png's path, for benches that want a texture */
} bench_job;

/* Loads the default job from data; on failure err says what is missing. */
static inline int bench_job_load(const char *data, bench_job *b, md_error *err)
{
    char path[4][1024];
    const char *rel[4] = {"faces/ict/ict_face_identity_A.obj", "faces/ict/ict_face_identity_B.obj",
                          "textures/skin_A.png", "textures/skin_B.png"};
    for (int i = 0; i < 4; i++)
        snprintf(path[i], sizeof path[i], "%s/%s", data, rel[i]);
    snprintf(b->texture_a, sizeof b->texture_a, "%s", path[2]);
    md_limits lim;
    md_limits_default(&lim);
    job_input_paths paths = {path[0], path[1], path[2], path[3], NULL};
    b->in = NULL;
    job_spec_init(&b->spec);
    int rc = job_inputs_load(&paths, &lim, &b->in, NULL, err);
    if (rc == 0)
        rc = job_build(b->in, &b->spec, &b->job, err);
    return rc;
}

static inline void bench_job_free(bench_job *b)
{
    job_inputs_free(b->in);
    job_spec_free(&b->spec);
}

#endif
