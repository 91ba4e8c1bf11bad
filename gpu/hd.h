/*
 * hd.h — the one function qualifier of the engine's shared math. Every function of the headers
 * that both the C compiler and nvcc compile (gpu/texel.h, gpu/morph_math.h, gpu/raster_math.h,
 * gpu/shade_math.h) is `static inline ENG_HD`: __host__ __device__ under nvcc, nothing in C. The
 * CPU engine (gpu/cpu/) and the CUDA kernels (gpu/cuda/kernels.cu) then run the very same
 * per-vertex, per-triangle and per-pixel code; only loops, indexing, atomics and launches
 * differ, so the CPU tests execute what the GPU runs.
 *
 * Same source is not yet same bits: both compilers must also evaluate each float expression the
 * same way. The choice, made in CMakeLists.txt and relied on by every shared header:
 *   - no FMA contraction anywhere: C is compiled with -ffp-contract=off (also the default of
 *     -std=c11, spelled out so that turning on GNU extensions or building on an FMA-by-default
 *     target such as aarch64 cannot change pixels), CUDA with --fmad=false. Explicit fmaf() is
 *     not used: it would make the x86-64 baseline (no FMA unit) call a slow libm routine.
 *   - IEEE division and square root, denormals kept: nvcc's -prec-div=true -prec-sqrt=true
 *     -ftz=false (its defaults, spelled out), and no -ffast-math / --use_fast_math on either side.
 *   - transcendental functions (powf, cbrtf) are the platform's: glibc's and CUDA's may differ
 *     in the last bit, so only the L*a*b* extrapolation of texture weights outside [0, 1]
 *     (gpu/texel.h) can differ between the engines; everything the default job draws uses
 *     + - * / sqrt, floor and llrintf, which are correctly rounded on both.
 */
#ifndef GPU_HD_H
#define GPU_HD_H

#if defined(__CUDACC__)
#define ENG_HD __host__ __device__
#else
#define ENG_HD
#endif

#endif
