/*
 * engine.h — the morph/render engine: one C API, two implementations (the CPU reference in
 * gpu/cpu/, the CUDA engine in gpu/, the .cu files). It knows nothing of files, HTTP or Redis:
 * callers hand it geometry, textures and cameras in memory and receive finished RGB8 frames.
 *
 * A batch is a list of jobs; a job is a mesh pair (source at t = 0, target at t = 1; a render
 * job passes the same mesh twice) plus its frames. One eng_batch_run() renders every frame of
 * every job; each finished frame is handed to the caller's callback, which may run on any engine
 * thread, several at once, so it must be thread-safe (encoding PNGs there is the intended use).
 *
 * Per frame, with a shape weight t and a texture weight u (the same unless asked): positions
 * lerp(source, target, t), extrapolated for t outside [0, 1]; area-weighted vertex normals
 * from the morphed positions; rasterisation into a visibility buffer (depth << 32 | triangle)
 * at samples per pixel (a square grid); a resolve that shades each pixel once where all its
 * samples hit one triangle and per sample on edges; Phong with a head-light (ambient 0.6,
 * diffuse 0.5, specular 0.05, shininess 64, saturating); texture A through A's UVs and texture
 * B through B's UVs, with repeat, trilinear from mip-maps where minified and bilinear where
 * magnified (eng_texture_filter; gpu/shade_math.h), blended by u for u in [0, 1], and for u outside
 * it extrapolated in CIE L*a*b* and clipped to the sRGB gamut (gpu/texel.h, eng_texel_extrapolate);
 * background where nothing is hit. Translucent materials (eng_material.transparency) are drawn in
 * up to ENG_XLU_LAYERS depth-peeled layers per sample, blended back to front over the opaque
 * colour (eng_job_translucent; docs/translucency.md).
 *
 * Everything an eng_job points to is borrowed for the duration of eng_batch_run().
 */
#ifndef GPU_ENGINE_H
#define GPU_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "base/md.h"
#include "gpu/camera.h"

typedef struct eng eng;

typedef enum eng_kind {
    ENG_KIND_AUTO, /* CUDA when built in and a device is present, else CPU */
    ENG_KIND_CPU,
    ENG_KIND_CUDA,
} eng_kind;

typedef struct eng_config {
    eng_kind kind;
    int threads; /* CPU engine threads, CUDA engine frame delivery threads; 0: one per core */
    /* CUDA engine: the most device memory kept for textures across batches (those whose
     * material has a texture_key; gpu/tex_cache.h), bytes; 0 (the zero value): none, every
     * texture is uploaded with each batch. Lowered to a quarter of the device memory free at
     * creation, and taken out of what frames may use. The CPU engine ignores it. */
    uint64_t device_texture_cache_bytes;
} eng_config;

/* ---- Cameras: gpu/camera.h ---- */

/* ---- Jobs ---- */

/* How a shaded point's colour becomes a pixel. The zero value is the default, so a job built
 * with designated initialisers or memset keeps the lit look. */
typedef enum eng_shading {
    ENG_SHADING_PHONG = 0, /* Phong with the head-light (DESIGN.md §3) */
    ENG_SHADING_UNLIT,     /* the sampled (blended) colour as it is: no lighting, no specular;
                              heatmaps use it so a pixel shows exactly its colour-map colour */
} eng_shading;

/* How textures are sampled. The zero value is the default. */
typedef enum eng_texture_filter {
    ENG_FILTER_TRILINEAR = 0, /* mip-mapped: where a texel is smaller than a pixel (minified), the
                                 two nearest levels of the texture's pyramid are sampled
                                 bilinearly and blended, so fine textures show no moire;
                                 magnified textures are exactly bilinear */
    ENG_FILTER_BILINEAR,      /* bilinear from the full-size texture everywhere (aliases when
                                 minified; kept for comparisons) */
} eng_texture_filter;

typedef struct eng_material {
    float color[3];      /* used when rgba is NULL (untextured), 0..1 */
    const uint8_t *rgba; /* texture, RGBA8 top row first; alpha blends over color; NULL: none */
    int tex_width, tex_height;
    /* Optional: levels 1.. of rgba's mip pyramid, prebuilt by eng_texture_mips_build (a caller
     * that renders the same texture batch after batch, like the worker's live lane, builds them
     * once); NULL: the engine builds them for each batch. The CPU engine samples these; the
     * CUDA engine copies them into its staging buffer instead of building them there (the same
     * bytes) and uploads them with the texture: every batch, or once while a texture_key keeps
     * the texture in its texture cache. Borrowed. */
    const uint8_t *mip_levels;
    /* How much of what lies behind shows through this material's surfaces: 0 opaque (the zero
     * value, so materials built with initialisers stay opaque) .. 1 invisible; in [0, 1]
     * (eng_job_validate). The inputs' opacity (MTL d/Tr/Tf, glTF alpha, FBX opacity) becomes
     * 1 - opacity here. A triangle's transparency is its two sides' blended by the texture
     * weight clamped to [0, 1]; how it renders: eng_job_translucent. Texture alpha is a
     * different thing: it blends the texture over color, within the surface. */
    float transparency;
    /* Optional: a stable identity of rgba (with its mip levels), nonzero, that names the same
     * pixels in every batch as long as the caller uses it: the CUDA engine then keeps the
     * texture on the device across batches (eng_config.device_texture_cache_bytes) and
     * uploads it only when it is not there already. 0 (the zero value): no identity, uploaded
     * with each batch. The key is trusted: two different textures of the same size under one
     * key would render one with the other's pixels, so keys come from content hashes (the
     * worker's: jobs/inputs.c, job_face_key_textures). The CPU engine ignores it. */
    uint64_t texture_key;
} eng_material;

/* Bytes of levels 1.. of a w x h texture's mip pyramid (0 for 1 x 1), and their build into dst
 * (that many bytes) from the RGBA8 texture rgba: what eng_material.mip_levels takes. Any thread. */
size_t eng_texture_mips_bytes(int w, int h);
void eng_texture_mips_build(const uint8_t *rgba, int w, int h, uint8_t *dst);

/* How one mesh of the pair is coloured. Without UVs (tri_uvs NULL) every triangle takes its
 * material's color. */
typedef struct eng_surface {
    const float *uvs;              /* 2 per uv (v up), NULL when untextured */
    const uint32_t *tri_uvs;       /* 3 per triangle, NULL when untextured */
    const uint16_t *tri_materials; /* 1 per triangle; NULL means material 0 everywhere */
    uint32_t uv_count;
    uint32_t material_count; /* >= 1 */
    const eng_material *materials;
} eng_surface;

/* Weights reach from an anti-face at -3 to a caricature at 3 (0 is the source, 1 the target). */
#define ENG_WEIGHT_MIN (-3.0f)
#define ENG_WEIGHT_MAX 3.0f

typedef struct eng_job {
    uint32_t vertex_count;
    uint32_t triangle_count;
    const float *positions[2]; /* [0] source (t = 0), [1] target (t = 1); 3 per vertex */
    const uint32_t *triangles; /* 3 per triangle, shared by both meshes */
    eng_surface surface[2];    /* [0] source colouring, [1] target colouring */
    eng_camera camera;
    int width, height;     /* frame size, pixels */
    int samples;           /* per pixel, a square: 1, 4, 9, 16, ... */
    uint8_t background[3]; /* RGB */
    uint32_t frame_count;
    /* frame_count shape weights t toward the target, each in [ENG_WEIGHT_MIN, ENG_WEIGHT_MAX] */
    const float *weights;
    /* frame_count texture weights in the same range, or NULL: the shape weights */
    const float *texture_weights;
    eng_shading shading;               /* 0 (ENG_SHADING_PHONG) unless asked */
    eng_texture_filter texture_filter; /* 0 (ENG_FILTER_TRILINEAR) unless asked */
    /* Optional (NULL: never). Asked from engine threads before each of the job's frames is
     * rendered (CPU) or delivered (CUDA); nonzero skips the job's remaining frames, which are
     * then never delivered. The job server uses it to stop a canceled job inside a batch that
     * goes on for the other jobs. Must be thread-safe and cheap (an atomic load). */
    int (*canceled)(const void *cancel_ctx);
    const void *cancel_ctx;
} eng_job;

/* Translucent layers kept per sample: a sample shows its opaque surface (or the background)
 * under at most this many translucent surfaces in front of it, the nearest ones; farther
 * translucent surfaces at that sample are dropped (not drawn). See eng_job_translucent. */
#define ENG_XLU_LAYERS 4

/* Whether a job renders translucency: some material of either surface has transparency > 0.
 * Such a job's frames rasterise opaque triangles as usual, skip triangles whose transparency
 * (at the frame's texture weight) is 1, and resolve the others per sample in depth order
 * into up to ENG_XLU_LAYERS layers, blended back to front over the opaque colour with the
 * material's opacity. A job without one takes the opaque path alone, bytes unchanged. */
int eng_job_translucent(const eng_job *job);

/* The memory one frame of width x height at samples per pixel needs while it renders, on
 * either engine: its visibility buffer (8 bytes a sample: depth and triangle) and its RGB
 * image. The api refuses a spec over --limit max_frame_bytes with it (jobs/spec.c: before the
 * meshes are read, so without their materials), and the engines size their buffers with
 * eng_job_frame_bytes, which adds the layers of a translucent job. Geometry (per vertex, per
 * job) comes on top. */
uint64_t eng_frame_bytes(int width, int height, int samples);
/* The memory one frame of job needs: eng_frame_bytes, plus ENG_XLU_LAYERS * 8 bytes a sample
 * when eng_job_translucent (40 bytes a sample in all). eng_job_validate refuses a job over
 * max_frame_bytes with it, so a translucent job that passed the api's opaque check can still
 * be refused, with a message, by the worker. */
uint64_t eng_job_frame_bytes(const eng_job *job);

/* Checks a job against the limits and for internal consistency (indices in range, samples a
 * square, weights in [ENG_WEIGHT_MIN, ENG_WEIGHT_MAX], camera valid, a frame within
 * max_frame_bytes) before any work; errors say which job and what. */
int eng_job_validate(const eng_job *job, const md_limits *lim, md_error *err);

/* ---- The morph stage on the host ---- */

/* The CPU reference of the morph stage (gpu/cpu/morph.c), for callers that need exactly the
 * positions and normals frames are rendered from (analysis/: displacement normals, exported
 * meshes): out_pos = (1 - t) * a + t * b per coordinate (3 * vertex_count floats), out_normal
 * as eng_vertex_normals of out_pos. Pure and single-threaded; any thread. All borrowed. */
void eng_morph_geometry(const float *pos_a, const float *pos_b, uint32_t vertex_count,
                        const uint32_t *triangles, uint32_t triangle_count, float t, float *out_pos,
                        float *out_normal);
/* The engine's vertex normals of pos: area-weighted, in triangle order, normalised; (0, 0, 0)
 * where the sum vanishes (3 * vertex_count floats into nrm). Pure; any thread. */
void eng_vertex_normals(const float *pos, uint32_t vertex_count, const uint32_t *triangles,
                        uint32_t triangle_count, float *nrm);

/* ---- Running a batch ---- */

typedef struct eng_frame {
    uint32_t job;         /* index into the batch */
    uint32_t frame;       /* index into that job's weights */
    float weight;         /* the shape weight */
    float texture_weight; /* the texture weight (= weight unless the job gave texture_weights) */
    int width, height;
    const uint8_t *rgb; /* width*height*3 bytes, top row first; valid only inside the callback */
} eng_frame;

/* Called once per finished frame, from engine threads, possibly concurrently. Return 0 to go
 * on; a negative md error code stops the batch and eng_batch_run returns it. */
typedef int (*eng_frame_fn)(void *user, const eng_frame *frame);

typedef struct eng_stats {
    double morph_s;   /* morph + normals; CPU: summed over threads; CUDA: kernel time */
    double raster_s;  /* visibility buffer */
    double shade_s;   /* resolve + shade + supersample */
    double deliver_s; /* inside the frame callbacks (summed over threads) */
    double wall_s;    /* the whole eng_batch_run call */
    uint64_t frames;
    int threads;     /* CPU threads used (CUDA: frame delivery threads) */
    double upload_s; /* CUDA: geometry and textures to the device, host wall time */
    double copy_s;   /* CUDA: device -> host frame copies (event time) */
    /* CUDA: distinct keyed textures of the batch (eng_material.texture_key) found on the
     * device (hits) or uploaded into the texture cache (misses); a keyed texture the cache
     * could not take (full of pinned entries, over the cap, disabled) counts in neither and is
     * uploaded with the batch. Always 0 on the CPU engine. */
    uint64_t texture_cache_hits;
    uint64_t texture_cache_misses;
} eng_stats;

/* What a worker reports of its device in its heartbeat (/metrics). */
typedef struct eng_device_stats {
    uint64_t memory_used_bytes;  /* device memory the engine holds; 0 on the CPU engine */
    uint64_t memory_total_bytes; /* the device's memory; 0 on the CPU engine */
    int utilization_pct; /* GPU busy share over NVML's last sample period, 0..100; -1 unknown
                            (the CPU engine, or no NVML from the driver): never a made-up 0 */
    uint64_t texture_cache_bytes; /* device memory the texture cache holds (part of
                                     memory_used_bytes); 0 on the CPU engine */
    uint64_t texture_cache_cap;   /* its cap after the engine's own limit; 0: no cache */
} eng_device_stats;

int eng_new(const eng_config *cfg, eng **out, md_error *err);
void eng_free(eng *e);
const char *eng_name(const eng *e); /* "cpu" or "cuda" */
/* Any thread, also while a batch runs; e NULL or a CPU engine: zeros and -1. */
void eng_device_stats_get(const eng *e, eng_device_stats *out);

/* Renders every frame of every job. Stops at the first error (a callback's or the engine's) and
 * returns it; frames already delivered stay delivered. stats (NULL ok) is filled either way. */
int eng_batch_run(eng *e, const eng_job *jobs, uint32_t job_count, eng_frame_fn on_frame,
                  void *user, eng_stats *stats, md_error *err);

#endif
