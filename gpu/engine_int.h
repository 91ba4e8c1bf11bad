/*
 * engine_int.h — internal to gpu/: the vtable behind the opaque eng, the per-job setup that
 * every engine derives the same way from an eng_job (so CPU and CUDA frames share one camera
 * matrix), the CPU engine's constructor, and one test hook of the CPU rasteriser.
 * Nothing outside gpu/ and its tests includes this.
 */
#ifndef GPU_ENGINE_INT_H
#define GPU_ENGINE_INT_H

#include "gpu/engine.h"
#include "gpu/kernels.h"

/* Longest side of a sample grid (width * grid or height * grid). The rasteriser works in 24.8
 * fixed point with a guard band of twice this, so its int64 edge functions cannot overflow. */
#define ENG_MAX_GRID_SIDE (1 << 20)

typedef struct eng_vtable {
    const char *name;
    void (*destroy)(eng *e);
    /* Jobs are validated and stats zeroed by the caller (engine.c); wall_s is set there too. */
    int (*batch_run)(eng *e, const eng_job *jobs, uint32_t job_count, eng_frame_fn on_frame,
                     void *user, eng_stats *stats, md_error *err);
    /* Optional (NULL: no device); any thread, concurrently with batch_run. */
    void (*device_stats)(const eng *e, eng_device_stats *out);
} eng_vtable;

/* Every engine embeds this as its first member. */
struct eng {
    const eng_vtable *vt;
};

/* What a frame of a job needs beyond the job itself, computed once per job. */
typedef struct eng_job_setup {
    float view_proj[16]; /* column-major world -> clip for the job's aspect */
    float eye[3];
    float view_dir[3]; /* unit, eye -> target */
    int grid;          /* samples per pixel side: sqrt(samples) */
} eng_job_setup;

void eng_job_setup_make(const eng_job *job, eng_job_setup *out);

int eng_cpu_new(const eng_config *cfg, eng **out, md_error *err);

/* Test hook: the same triangle setup and coverage test as eng_cpu_raster, but counts[s] is the
 * number of triangles covering sample s (no depth test); vis is not touched, clip is written.
 * counts has (width*grid) * (height*grid) entries and is zeroed first. */
void eng_cpu_raster_coverage(const eng_raster_params *p, uint32_t *counts);

#endif
