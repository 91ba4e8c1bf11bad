/*
 * mip.h — mip pyramids of the engine's textures, built on the host once per texture per batch
 * (gpu/mip.c) by the CPU engine (gpu/cpu/engine_cpu.c) and by the CUDA engine's upload
 * (gpu/cuda/engine_cuda.c), which both then hand the shaders an eng_mip record per material
 * (gpu/kernels.h). Internal to gpu/ and its tests.
 *
 * Level 0 is the texture itself; level l + 1 is level l halved, each side max(1, side / 2)
 * (rounded down), down to 1 x 1 or ENG_MIP_LEVELS levels. Each texel of level l + 1 is the
 * area average of the part of level l it covers: for even sides exactly the 2 x 2 box mean,
 * for odd sides (5 -> 2: each output texel covers 2.5 input texels) the straddling texel
 * counts with its covered fraction, so no row or column of the texture is dropped and a flat
 * texture stays flat. All four channels are averaged alike (straight alpha, as the bilinear
 * filter blends it), in exact integer arithmetic rounded half up, so a pyramid is the same
 * bytes on every machine and the CPU and CUDA engines sample identical levels.
 *
 * Levels 1.. are laid out one after the other, row-major RGBA8, each starting at a multiple of
 * ENG_MIP_ALIGN bytes from the start of the buffer that holds them.
 */
#ifndef GPU_MIP_H
#define GPU_MIP_H

#include <stddef.h>
#include <stdint.h>

#include "gpu/kernels.h"

#define ENG_MIP_ALIGN 16

/* The number of levels of a w x h texture (w, h >= 1): 1 + floor(log2(max(w, h))), capped at
 * ENG_MIP_LEVELS. */
int eng_mip_level_count(int w, int h);

/* The layout of a w x h texture's pyramid: m->levels, every level's size, and in offsets[l]
 * the byte offset of level l >= 1 from the start of the buffer of levels 1.. (offsets[0] = 0,
 * level 0 being the texture itself). Returns the bytes levels 1.. need (0 for a 1 x 1 texture).
 * m->texels is left alone. */
size_t eng_mip_layout(int w, int h, eng_mip *m, size_t offsets[ENG_MIP_LEVELS]);

/* One level down: the area average of the sw x sh RGBA8 image src into the dw x dh image dst,
 * dw = max(1, sw / 2), dh = max(1, sh / 2). Both borrowed; they must not overlap. */
void eng_mip_downsample(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

/* Builds levels 1.. of the w x h texture rgba into dst as eng_mip_layout lays them out
 * (dst holds the bytes it returned), and points m->texels[0] at rgba and m->texels[l] at
 * dst + offsets[l]. Pure; any thread. rgba and dst borrowed, m filled. */
void eng_mip_build(const uint8_t *rgba, int w, int h, uint8_t *dst, eng_mip *m);

#endif
