/*
 * manifest.h — what `morph run` writes to OUT/manifest.json: inputs, normalised options, every
 * frame with its weight, file and size, per-stage timings, engine and version. Internal to cli/.
 */
#ifndef CLI_MANIFEST_H
#define CLI_MANIFEST_H

#include <stddef.h>

#include "jobs/job.h"

typedef struct run_frame {
    char file[512]; /* name under frames/ */
    float weight;
    size_t bytes;
    int done;
} run_frame;

typedef struct run_manifest {
    const char *out_dir;
    const job_input_paths *paths;
    const job_inputs *inputs;
    const job_spec *spec;
    const eng_job *job; /* resolved camera */
    const char *engine_name;
    int threads;
    const run_frame *frames;
    uint32_t frame_count;
    job_load_stats load;
    eng_stats engine;
    double encode_s, write_s, total_s;
    const job_outputs *outputs; /* the analysis artifacts; NULL: none */
    double outputs_s;           /* producing them, wall-clock */
} run_manifest;

/* Writes OUT/manifest.json atomically. */
int run_manifest_write(const run_manifest *man, md_error *err);

#endif
