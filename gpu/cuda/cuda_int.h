/*
 * cuda_int.h — internal to gpu/cuda/: what the host side of the CUDA engine (engine_cuda.c, C)
 * and its kernels (kernels.cu, CUDA C++) share: the per-frame item of the morph stage and the
 * C-callable launchers, one per stage. Each launcher covers every frame of a chunk in one
 * launch: blockIdx.y is the frame, blockIdx.x * blockDim.x + threadIdx.x the element (vertex,
 * triangle or pixel); threads past their frame's element count return at once.
 *
 * The items live in device memory (an offset table: one struct per frame, pointers into the
 * concatenated device buffers). Raster and shade items are the shared params structs of
 * kernels.h as they are; the morph item wraps eng_morph_params with what the GPU needs more:
 * the vertex -> triangle adjacency for the deterministic normal gather, and the view-projection,
 * because the GPU does raster's per-vertex transform (clip = view_proj * pos) in the per-vertex
 * morph launch, with the same arithmetic as eng_cpu_raster.
 */
#ifndef GPU_CUDA_INT_H
#define GPU_CUDA_INT_H

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "gpu/engine_int.h"

typedef struct cu_morph_item {
    eng_morph_params m; /* the shared contract: counts, pos_a/pos_b, t, out_pos, out_normal */
    const uint32_t *adj_first; /* vertex_count + 1 offsets into adj_tri */
    const uint32_t *adj_tri;   /* per vertex, its triangles in ascending order; a triangle that
                                  names the vertex twice appears twice (as the CPU adds it) */
    float view_proj[16];       /* column-major world -> clip, as eng_raster_params */
    float *clip;               /* out: 4 * vertex_count, read by raster and shade */
} cu_morph_item;

/* Threads per block of every launch. */
#define CU_BLOCK 256

/* The raster stage's work split (gpu/raster_math.h: triangles whose box holds more than
 * ENG_RASTER_WALK_MAX samples are cut into tiles). The triangle kernel walks small triangles
 * itself and appends each large one here; a second launch gives every tile a thread. One
 * reservation counter per chunk packs entries (high 24 bits) over tiles (low 40 bits), so
 * entries come in the order of their first tiles and a tile finds its entry by binary search.
 * A triangle that finds no room (more than tile_cap tiles or entry_cap large triangles in the
 * chunk) is walked whole by its own thread, as before the split: slower, same pixels. */
typedef struct cu_raster_entry {
    uint32_t item;       /* frame item (blockIdx.y of the triangle kernel) */
    uint32_t triangle;   /* in that frame's job */
    uint64_t first_tile; /* chunk-wide index of its tile 0 */
} cu_raster_entry;

typedef struct cu_raster_queue {
    unsigned long long *count; /* device, zeroed before each raster launch: entries << 40 | tiles */
    cu_raster_entry *entries;  /* device, entry_cap */
    uint32_t entry_cap;
    uint64_t tile_cap; /* under 2^40; also the grid of the tile launch */
} cu_raster_queue;

#define CU_QUEUE_TILE_BITS 40

/* Launch stage kernels on stream for frames items (device pointers). max_* is the largest
 * element count of any frame in the chunk (the grid's x extent). Return the launch's error
 * (cudaGetLastError), cudaSuccess when queued. */
cudaError_t cu_launch_morph(const cu_morph_item *items, uint32_t frames, uint32_t max_vertices,
                            cudaStream_t stream);
/* One raster pass (gpu/raster_math.h): ENG_RASTER_PASS_OPAQUE into vis, or layer pass k >= 0
 * of the translucent frames (items with layers; the others return at once). Expects the
 * pass's output already cleared to ENG_VIS_EMPTY, earlier passes done, and *queue.count 0
 * (cudaMemsetAsync before each pass). Two launches: triangles, then tiles. */
cudaError_t cu_launch_raster(const eng_raster_params *items, uint32_t frames,
                             uint32_t max_triangles, cu_raster_queue queue, int pass,
                             cudaStream_t stream);
cudaError_t cu_launch_shade(const eng_shade_params *items, uint32_t frames, uint32_t max_pixels,
                            cudaStream_t stream);

/* cudaSuccess when this build holds code the current device can run (machine code for its
 * compute capability, or PTX the driver can compile for it), else the error a launch would
 * fail with (cudaErrorNoKernelImageForDevice...). Asked once, when the engine is created. */
cudaError_t cu_kernels_check(void);

/* nvml.c: the CUDA device's GPU utilisation in percent over NVML's last sample period, or -1
 * when NVML is not there (loaded with dlopen from the driver on first use). Any thread. */
int cu_nvml_utilization(int device);

#ifdef __cplusplus
}
#endif

#endif
