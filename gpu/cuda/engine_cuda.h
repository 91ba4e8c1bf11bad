/*
 * engine_cuda.h — internal to gpu/: the CUDA engine's constructor and device probe, called by
 * eng_new (engine.c) when the build has the CUDA engine (MORPHD_HAVE_CUDA). C-callable; the
 * implementation is engine_cuda.c (host, C11 over the CUDA runtime API) and kernels.cu.
 */
#ifndef GPU_CUDA_ENGINE_CUDA_H
#define GPU_CUDA_ENGINE_CUDA_H

#include "gpu/engine_int.h"

/* The number of usable CUDA devices, creating the process's one CUDA context on device 0 the
 * first time (thread-safe; later calls return the remembered answer). 0 when there is none or
 * the runtime cannot start; err (NULL ok) then says why, in words for a person. */
int eng_cuda_device_count(md_error *err);

/* A CUDA engine on device 0: streams, events and (growing) buffers of its own, sharing the
 * process's context. MD_ENODEV with the reason when there is no device. cfg->threads is the
 * number of frame-delivery threads (0: one per online core). */
int eng_cuda_new(const eng_config *cfg, eng **out, md_error *err);

#endif
