/*
 * kernels.h — one params struct per engine stage, shared by the CPU reference (gpu/cpu/, .c)
 * and the CUDA kernels (gpu/, .cu), so both implement exactly the same contract. Internal to
 * gpu/: callers outside use engine.h.
 *
 * The three stages of one frame:
 *   morph:  positions lerp(a, b, t) (the shape weight) and area-weighted, normalised vertex
 *           normals;
 *   raster: clip-space positions and a visibility buffer of (width*grid) x (height*grid)
 *           samples, each (depth_bits << 32) | (triangle + 1), ENG_VIS_EMPTY where nothing;
 *           for a translucent job, also ENG_XLU_LAYERS depth-peeled layers of the same keys;
 *   shade:  per pixel, resolve the samples: one shading where all samples hit one triangle,
 *           per-sample shading otherwise, averaged (translucent layers blended back to front
 *           over each point); RGB8 out.
 * The CUDA engine runs each stage for every frame of a batch in one launch, with these structs
 * in an offset table; the CPU engine runs them per frame on its threads.
 */
#ifndef GPU_KERNELS_H
#define GPU_KERNELS_H

#include <stdint.h>

#include "gpu/engine.h"

#define ENG_VIS_EMPTY UINT64_MAX

/* Shading constants (DESIGN.md §3). */
#define ENG_AMBIENT 0.6f
#define ENG_DIFFUSE 0.5f
#define ENG_SPECULAR 0.05f
#define ENG_SHININESS 64.0f

/* Most mip levels of one texture: 2^15 = 32768 texels a side still reaches 1 x 1. */
#define ENG_MIP_LEVELS 16

/* A texture's mip pyramid (gpu/mip.h builds it on the host): level 0 is the material's texture,
 * each further level half the size, RGBA8 rows top first. The pointers are host memory for the
 * CPU engine and device memory in the CUDA engine (its texel buffer, or a texture cache entry). */
typedef struct eng_mip {
    int levels; /* 1..ENG_MIP_LEVELS; 0 in the record of an untextured material */
    int width[ENG_MIP_LEVELS], height[ENG_MIP_LEVELS];
    const uint8_t *texels[ENG_MIP_LEVELS]; /* borrowed */
} eng_mip;

typedef struct eng_morph_params {
    uint32_t vertex_count;
    uint32_t triangle_count;
    const float *pos_a;        /* 3 * vertex_count, t = 0 */
    const float *pos_b;        /* 3 * vertex_count, t = 1 */
    const uint32_t *triangles; /* 3 * triangle_count */
    float t;
    float *out_pos;    /* 3 * vertex_count */
    float *out_normal; /* 3 * vertex_count, unit length (0,0,0 for isolated vertices) */
} eng_morph_params;

typedef struct eng_raster_params {
    uint32_t vertex_count;
    uint32_t triangle_count;
    const float *pos;          /* 3 * vertex_count, morphed */
    const uint32_t *triangles; /* 3 * triangle_count */
    float view_proj[16];       /* column-major, world -> clip (OpenGL conventions, z in [-w,w]) */
    int width, height;         /* frame size in pixels */
    int grid;                  /* samples per pixel side; the sample grid is width*grid wide */
    float *clip;               /* out: 4 * vertex_count clip-space positions */
    uint64_t *vis;             /* out: (width*grid) * (height*grid) samples, row-major, top first */
    /* Translucency (eng_job_translucent), or NULL / 0 for an opaque job, which then rasterises
     * every triangle into vis as it always has. With layers, the opaque pass (pass -1) takes
     * only the triangles whose transparency (eng_tri_transparency of surface at t) is 0, and
     * layer pass k (0 .. ENG_XLU_LAYERS - 1) only those strictly between 0 and 1 into
     * layers + k * samples, each sample keeping the least key in front of vis's key and
     * strictly behind layer k - 1's (depth peeling; gpu/raster_math.h). */
    const eng_surface *surface; /* [0] source, [1] target: the triangles' materials */
    float t;                    /* the frame's texture weight */
    uint64_t *layers;           /* out: ENG_XLU_LAYERS * samples, ENG_VIS_EMPTY where none */
} eng_raster_params;

typedef struct eng_shade_params {
    const float *pos;    /* 3 * vertex_count, morphed (world space) */
    const float *normal; /* 3 * vertex_count, from morph */
    const float *clip;   /* 4 * vertex_count, from raster */
    const uint32_t *triangles;
    const uint64_t *vis;        /* from raster */
    const eng_surface *surface; /* [0] source, [1] target */
    /* Per side, one pyramid per material of that surface (same index), or NULL: textures of
     * that side are sampled bilinearly from level 0 alone (ENG_FILTER_BILINEAR). */
    const eng_mip *mips[2];
    float t;      /* texture weight toward the target's: a blend in [0, 1], else extrapolated in
                     L*a*b* (eng_texel_extrapolate, gpu/texel.h) */
    float eye[3]; /* head-light position = camera eye (orthographic: see dir) */
    float view_dir[3]; /* unit vector eye -> target, used by orthographic cameras */
    int orthographic;
    int shading; /* eng_shading: ENG_SHADING_UNLIT means light 1, specular 0 */
    int width, height, grid;
    uint8_t background[3];
    /* The raster stage's translucent layers (ENG_XLU_LAYERS * samples), or NULL for an opaque
     * job: each sample's colour is then blended back to front, layer k's shading with its
     * triangle's opacity over the colour behind it (gpu/shade_math.h). */
    const uint64_t *layers;
    uint8_t *rgb; /* out: width * height * 3 */
} eng_shade_params;

/* Column-major 4x4 view-projection of a camera for a width/height aspect. */
void eng_camera_view_proj(const eng_camera *cam, float aspect, float out[16]);

/* CPU reference implementations (gpu/cpu/). Each is single-threaded and pure given its params. */
void eng_cpu_morph(const eng_morph_params *p);
/* The normals half of the morph stage on given positions: area-weighted, normalised, in
 * triangle order (see gpu/cpu/morph.c). Outside gpu/ it is eng_vertex_normals (engine.h). */
void eng_cpu_vertex_normals(const float *pos, uint32_t vertex_count, const uint32_t *triangles,
                            uint32_t triangle_count, float *nrm);
/* All passes of the raster stage: the opaque one, and with p->layers every layer pass. */
void eng_cpu_raster(const eng_raster_params *p);
void eng_cpu_shade(const eng_shade_params *p);
/* Rows [row_begin, row_end) of it: each pixel's colour depends on nothing but the read-only
 * params, so bands shaded on different threads give the bytes of one eng_cpu_shade. */
void eng_cpu_shade_rows(const eng_shade_params *p, int row_begin, int row_end);

#endif
