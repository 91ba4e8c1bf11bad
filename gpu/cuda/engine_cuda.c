/*
 * engine_cuda.c — the CUDA engine's host side: the process's CUDA context, the engine's streams
 * and growing buffers, the upload of a batch, chunking, and frame delivery on host threads. The
 * kernels are in kernels.cu; this file is C11 over the CUDA runtime API, so it builds with the
 * project's C warnings and sanitizers.
 *
 * Called through the vtable from eng_batch_run (engine.c), which has validated every job, on
 * the caller's thread; one batch at a time per engine (a second concurrent call is refused).
 *
 * A batch runs in four steps:
 *   1. Upload. Every job's positions, triangles, vertex -> triangle adjacency (built here, in
 *      triangle order, so the GPU's normal gather adds in the CPU's order), UVs, materials and
 *      device-side eng_surface records go into one pinned staging buffer and one device buffer,
 *      in a single copy. Textures go into one texel buffer, each distinct texture (same pixels
 *      pointer and size) once, however many jobs share it, through a pinned staging buffer of
 *      their own (a host memcpy, then one asynchronous copy at full DMA speed, instead of the
 *      runtime staging pageable memory piecewise). A texture that a trilinear job uses gets its
 *      mip pyramid (gpu/mip.h) right after it in the same buffer: levels 1.. are built on the
 *      host from the pinned copy of level 0, into the pinned buffer (or copied there when the
 *      material brings them prebuilt, eng_material.mip_levels), and go up in the same
 *      copy; each material gets an eng_mip record (device pointers to its levels: the level
 *      offset table) in the geometry buffer, which the shade items point to per side.
 *      Textures whose material carries a texture_key (a worker's cached face) are kept on
 *      the device across batches instead, in the texture cache (gpu/tex_cache.h: LRU under
 *      eng_config.device_texture_cache_bytes, one cudaMalloc'd entry per texture holding level
 *      0 and its whole pyramid): a hit uploads nothing, a miss is staged like any texture and
 *      copied into its new entry. Every entry the batch uses is pinned from before the upload
 *      until the batch's streams are synchronised, so nothing in flight loses its texels; an
 *      entry whose copy was never queued is dropped. The cache's cap comes out of the frame
 *      memory (frame_max) at creation, and when a frame buffer still finds the device full the
 *      cache gives back its unpinned entries first. A keyed texture the cache cannot take
 *      (pinned entries fill it, over the cap) goes into the texel buffer as before.
 *   2. Chunks. The batch's frames (job-major) are cut into chunks whose per-frame device memory
 *      (positions, normals, clip, the raster queue's share, and eng_job_frame_bytes: visibility
 *      buffer, translucent layers where the job has them, and RGB) fits the budget
 *      (1 GiB or an eighth of free memory, MORPHD_CUDA_BUDGET_MB overrides; at least one frame
 *      a chunk). A frame alone over a third of the device memory free at creation (less a
 *      margin; CU_SLOTS slots hold a chunk each) is refused with MD_EBUDGET, never attempted.
 *   3. Per chunk, on one of CU_SLOTS slots (stream + buffers), with no host wait: the item tables
 *      (cuda_int.h) are copied up, then morph, clear + raster (a triangle launch and a tile
 *      launch for the large triangles it queued; a chunk with a translucent frame then runs
 *      ENG_XLU_LAYERS more such pairs, one per layer: depth peeling), shade each run as ONE launch
 * for all frames of the chunk, and the RGB frames are copied into the slot's pinned buffer; events
 * around each stage time it.
 *   4. While the GPU works on chunks k + 1 and k + 2 in the other slots, the calling thread and
 *      up to threads - 1 helpers hand chunk k's frames to the callback (the caller's PNG
 *      encoder); chunk k + 3 reuses chunk k's slot once all of chunk k's callbacks have
 *      returned. So the GPU has two chunks of work queued while the host encodes one, and sits
 *      idle only when encoding a chunk takes longer than rendering two (the host is then the
 *      bottleneck, and a faster GPU could not help).
 *
 * Ownership: the engine owns its streams, events and every buffer; all of them only grow and
 * live until eng_free, so a worker rendering batch after batch of one shape allocates nothing in
 * the steady state. Jobs and their arrays are borrowed for the batch.
 *
 * Errors: every runtime call and launch is checked (CU_TRY). Running out of device or pinned
 * memory returns MD_ENOMEM and leaves the engine usable; any other CUDA error returns
 * MD_EENGINE and marks the engine broken (CUDA errors from kernels are sticky to the context),
 * so every later batch fails at once with the first error and a request to restart the worker.
 */
#include "gpu/cuda/engine_cuda.h"
#include "gpu/cuda/cuda_int.h"
#include "gpu/mip.h"
#include "gpu/raster_math.h"
#include "gpu/tex_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 256
#define MAX_CHUNK_FRAMES 4096u /* also keeps gridDim.y far below its 65535 */
#define DEFAULT_BUDGET ((size_t)1 << 30)
#define ALIGN 256  /* device sub-buffers start on this boundary */
#define CU_SLOTS 3 /* chunks in flight: one delivered, two queued on the GPU */

/* ---- Growing buffers ---- */

/* Device bytes this process's CUDA engines hold (every dev_reserve), for the heartbeat. */
static atomic_size_t cu_device_bytes;

typedef struct dev_buf {
    void *ptr;
    size_t cap;
} dev_buf;

static size_t grow_size(size_t n)
{
    size_t extra = n / 4;
    size_t cap = n + extra < n ? n : n + extra; /* headroom, so slow growth reallocates rarely */
    return (cap + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
}

/* Contents are not kept: every user rewrites its buffer whole. */
static cudaError_t dev_reserve(dev_buf *b, size_t n)
{
    if (n <= b->cap)
        return cudaSuccess;
    if (b->ptr != NULL) {
        cudaError_t ce = cudaFree(b->ptr);
        atomic_fetch_sub(&cu_device_bytes, b->cap);
        b->ptr = NULL;
        b->cap = 0;
        if (ce != cudaSuccess)
            return ce;
    }
    size_t cap = grow_size(n);
    cudaError_t ce = cudaMalloc(&b->ptr, cap);
    if (ce != cudaSuccess) {
        b->ptr = NULL;
        return ce;
    }
    b->cap = cap;
    atomic_fetch_add(&cu_device_bytes, cap);
    return cudaSuccess;
}

/* Frees a device buffer for good (cu_destroy). */
static void dev_release(dev_buf *b)
{
    if (b->ptr != NULL) {
        (void)cudaFree(b->ptr);
        atomic_fetch_sub(&cu_device_bytes, b->cap);
    }
    b->ptr = NULL;
    b->cap = 0;
}

static cudaError_t pin_reserve(dev_buf *b, size_t n)
{
    if (n <= b->cap)
        return cudaSuccess;
    if (b->ptr != NULL) {
        cudaError_t ce = cudaFreeHost(b->ptr);
        b->ptr = NULL;
        b->cap = 0;
        if (ce != cudaSuccess)
            return ce;
    }
    size_t cap = grow_size(n);
    cudaError_t ce = cudaMallocHost(&b->ptr, cap);
    if (ce != cudaSuccess) {
        b->ptr = NULL;
        return ce;
    }
    b->cap = cap;
    return cudaSuccess;
}

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

/* ---- The engine ---- */

enum { EV_START, EV_MORPH, EV_RASTER, EV_SHADE, EV_COPY, EV_COUNT };

/* A slot: a stream and the buffers of one chunk in flight. */
typedef struct cu_slot {
    cudaStream_t stream;
    cudaEvent_t ev[EV_COUNT];
    dev_buf items, pos, normal, clip, vis, layers, rgb, queue; /* device; queue: cu_raster_queue */
    dev_buf items_host, rgb_host;                              /* pinned */
    uint64_t first, count;                                     /* frames of the batch it holds */
    int queued;                                                /* queued and not yet delivered */
} cu_slot;

typedef struct cu_eng {
    eng base; /* first: the eng * handed out points here */
    int device;
    int threads;         /* frame delivery threads, the caller included */
    size_t budget;       /* a chunk's target */
    size_t frame_max;    /* the most one frame may take: a slot's share of free memory */
    size_t memory_total; /* the device's, for the heartbeat */
    atomic_int busy;
    int broken;
    char broken_msg[384];
    int streams_ready; /* slots' streams and events created */
    cu_slot slot[CU_SLOTS];
    dev_buf geom, geom_host, tex, tex_host;
    cudaEvent_t uploaded;
    /* Keyed textures kept across batches (gpu/tex_cache.h); NULL when the cap is 0. Its
     * allocator records a CUDA error other than out-of-memory here, for cu_fail. */
    eng_tex_cache *tex_cache;
    cudaError_t tex_cache_error;
} cu_eng;

static int cu_fail(cu_eng *e, cudaError_t ce, const char *call, md_error *err)
{
    if (ce == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError(); /* not sticky: clear it so the next call starts clean */
        return md_fail(err, MD_ENOMEM, "cuda engine: %s: %s (try fewer or smaller jobs a batch)",
                       call, cudaGetErrorString(ce));
    }
    if (e != NULL && !e->broken) {
        e->broken = 1;
        snprintf(e->broken_msg, sizeof e->broken_msg, "%s failed: %s: %s", call,
                 cudaGetErrorName(ce), cudaGetErrorString(ce));
    }
    return md_fail(err, MD_EENGINE,
                   "cuda engine: %s failed: %s: %s; the engine is unusable, restart the worker",
                   call, cudaGetErrorName(ce), cudaGetErrorString(ce));
}

/* Checks a CUDA call; on failure sets rc and jumps to the function's one cleanup label. */
#define CU_TRY(call)                                                                               \
    do {                                                                                           \
        cudaError_t ce_ = (call);                                                                  \
        if (ce_ != cudaSuccess) {                                                                  \
            rc = cu_fail(e, ce_, #call, err);                                                      \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

/* dev_reserve, but when the device is out of memory the texture cache first gives back its
 * unpinned entries (textures of earlier batches) and the reservation is tried once more:
 * frames come before cached textures. */
static cudaError_t dev_reserve_or_trim(cu_eng *e, dev_buf *b, size_t n)
{
    cudaError_t ce = dev_reserve(b, n);
    if (ce == cudaErrorMemoryAllocation && eng_tex_cache_trim(e->tex_cache) > 0) {
        (void)cudaGetLastError();
        ce = dev_reserve(b, n);
    }
    return ce;
}

/* ---- The texture cache's device memory ---- */

static int tex_cache_alloc(void *ctx, uint64_t bytes, void **out)
{
    cu_eng *e = ctx;
    *out = NULL;
    cudaError_t ce = cudaMalloc(out, (size_t)bytes);
    if (ce == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        *out = NULL;
        return MD_ENOMEM;
    }
    if (ce != cudaSuccess) {
        e->tex_cache_error = ce;
        *out = NULL;
        return MD_EENGINE;
    }
    atomic_fetch_add(&cu_device_bytes, (size_t)bytes);
    return 0;
}

static void tex_cache_release_mem(void *ctx, void *ptr, uint64_t bytes)
{
    (void)ctx;
    (void)cudaFree(ptr); /* best effort: after a sticky error there is nothing to do */
    atomic_fetch_sub(&cu_device_bytes, (size_t)bytes);
}

/* ---- The process's context ---- */

static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static int ctx_devices;
static cudaError_t ctx_status;

static void ctx_init(void)
{
    int n = 0;
    cudaError_t ce = cudaGetDeviceCount(&n);
    if (ce == cudaSuccess && n > 0) {
        ce = cudaSetDevice(0);
        if (ce == cudaSuccess)
            ce = cudaFree(NULL); /* creates the primary context now, not inside a batch */
    }
    ctx_status = ce;
    ctx_devices = ce == cudaSuccess ? n : 0;
}

int eng_cuda_device_count(md_error *err)
{
    pthread_once(&ctx_once, ctx_init);
    if (ctx_status == cudaErrorInsufficientDriver || ctx_status == cudaErrorNoDevice)
        md_fail(err, MD_ENODEV,
                "no CUDA device on this machine (no NVIDIA driver, a driver older than this "
                "build's CUDA runtime, or no GPU: %s); use the cpu engine (--engine cpu)",
                cudaGetErrorName(ctx_status));
    else if (ctx_status != cudaSuccess)
        md_fail(err, MD_ENODEV, "no usable CUDA device (%s: %s); use the cpu engine (--engine cpu)",
                cudaGetErrorName(ctx_status), cudaGetErrorString(ctx_status));
    else if (ctx_devices == 0)
        md_fail(err, MD_ENODEV, "no CUDA device found; use the cpu engine (--engine cpu)");
    return ctx_devices;
}

/* ---- Upload ---- */

/* Where job j's data lives, as device addresses, once uploaded. */
typedef struct job_dev {
    size_t off_pos[2], off_tri, off_adj_first, off_adj_tri, off_surface;
    size_t off_uvs[2], off_tri_uvs[2], off_tri_mat[2], off_mat[2];
    size_t off_mips[2]; /* trilinear jobs: an eng_mip per material of the side */
    eng_job_setup setup;
    int translucent; /* eng_job_translucent: its frames get layer buffers and passes */
} job_dev;

typedef struct tex_entry {
    const uint8_t *rgba;
    int w, h;
    uint64_t key;      /* eng_material.texture_key; 0: none */
    size_t off;        /* level 0 in the texel buffer and its staging copy (not cached) */
    size_t levels_off; /* levels 1.. (mip.h layout), when mipped */
    int mipped;        /* a trilinear job samples it: its pyramid is built and uploaded */
    /* In the texture cache: entry holds level 0 then, at levels_in_entry, levels 1..; every
     * cached texture has its pyramid, whichever job brought it. hit: there from an earlier
     * batch, nothing goes up; else staged at stage_off and copied up (filled once queued). */
    int cached, hit, filled;
    void *entry;
    size_t entry_bytes, levels_in_entry, stage_off;
    const uint8_t *dev0, *dev_levels; /* device addresses of level 0 and levels 1.. */
    /* The caller's prebuilt levels 1.. (eng_material.mip_levels, e.g. a worker's cached face),
     * copied instead of built; NULL: built from the staging copy. Borrowed. */
    const uint8_t *mip_levels;
} tex_entry;

typedef struct batch {
    const eng_job *jobs;
    uint32_t job_count;
    job_dev *dev;
    tex_entry *tex;
    size_t tex_count, tex_bytes, geom_bytes;
    size_t stage_bytes; /* tex_bytes (the texel buffer's textures), then cache misses */
    uint64_t frame_count;
    uint32_t *frame_job; /* per batch frame: its job; frames are job-major */
    uint32_t *frame_index;
} batch;

static size_t take(size_t *cursor, size_t bytes)
{
    size_t at = *cursor;
    *cursor = align_up(at + bytes);
    return at;
}

/* The batch's texture of material m: a keyed texture is the same texture wherever its key
 * appears (engine.h), whatever the pixels' address; an unkeyed one is its pixels' address. */
static size_t tex_find(const batch *b, const eng_material *m)
{
    for (size_t i = 0; i < b->tex_count; i++) {
        const tex_entry *t = &b->tex[i];
        if (t->key != m->texture_key || t->w != m->tex_width || t->h != m->tex_height)
            continue;
        if (t->key != 0 || t->rgba == m->rgba)
            return i;
    }
    return (size_t)-1;
}

/* Pass 1: offsets of everything in the geometry buffer, and the distinct textures. */
static int batch_layout(batch *b, md_error *err)
{
    size_t cur = 0, tex_cap = 0;
    for (uint32_t j = 0; j < b->job_count; j++) {
        const eng_job *job = &b->jobs[j];
        job_dev *d = &b->dev[j];
        size_t nv = job->vertex_count, nt = job->triangle_count;
        eng_job_setup_make(job, &d->setup);
        d->translucent = eng_job_translucent(job);
        d->off_pos[0] = take(&cur, nv * 3 * sizeof(float));
        d->off_pos[1] = job->positions[1] == job->positions[0] ? d->off_pos[0]
                                                               : take(&cur, nv * 3 * sizeof(float));
        d->off_tri = take(&cur, nt * 3 * sizeof(uint32_t));
        d->off_adj_first = take(&cur, (nv + 1) * sizeof(uint32_t));
        d->off_adj_tri = take(&cur, nt * 3 * sizeof(uint32_t));
        d->off_surface = take(&cur, 2 * sizeof(eng_surface));
        for (int s = 0; s < 2; s++) {
            const eng_surface *sf = &job->surface[s];
            int uv = sf->tri_uvs != NULL && sf->uvs != NULL;
            d->off_uvs[s] = uv ? take(&cur, (size_t)sf->uv_count * 2 * sizeof(float)) : 0;
            d->off_tri_uvs[s] = uv ? take(&cur, nt * 3 * sizeof(uint32_t)) : 0;
            d->off_tri_mat[s] = sf->tri_materials != NULL ? take(&cur, nt * sizeof(uint16_t)) : 0;
            d->off_mat[s] = take(&cur, (size_t)sf->material_count * sizeof(eng_material));
            const int trilinear = job->texture_filter == ENG_FILTER_TRILINEAR;
            d->off_mips[s] =
                trilinear ? take(&cur, (size_t)sf->material_count * sizeof(eng_mip)) : 0;
            for (uint32_t m = 0; m < sf->material_count; m++) {
                const eng_material *mat = &sf->materials[m];
                if (mat->rgba == NULL)
                    continue;
                const size_t found = tex_find(b, mat);
                if (found != (size_t)-1) {
                    b->tex[found].mipped |= trilinear;
                    if (b->tex[found].mip_levels == NULL)
                        b->tex[found].mip_levels = mat->mip_levels;
                    continue;
                }
                if (b->tex_count == tex_cap) {
                    size_t cap = tex_cap ? tex_cap * 2 : 8;
                    tex_entry *t = md_realloc_array(b->tex, cap, sizeof *t);
                    if (t == NULL)
                        return md_fail(err, MD_ENOMEM, "cuda engine: texture table");
                    b->tex = t;
                    tex_cap = cap;
                }
                tex_entry *t = &b->tex[b->tex_count++];
                memset(t, 0, sizeof *t);
                t->rgba = mat->rgba;
                t->w = mat->tex_width;
                t->h = mat->tex_height;
                t->key = mat->texture_key;
                t->mipped = trilinear;
                t->mip_levels = mat->mip_levels;
            }
        }
    }
    b->geom_bytes = cur;
    return 0;
}

static size_t mips_bytes(const tex_entry *t)
{
    eng_mip layout;
    size_t offsets[ENG_MIP_LEVELS];
    return eng_mip_layout(t->w, t->h, &layout, offsets);
}

/* Where each distinct texture lives: keyed ones in the texture cache when it takes them (each
 * acquire pins the entry until batch_textures_release), the others in the texel buffer, all
 * level-0 textures first, then the pyramids (a texture turns out mipped only once every job
 * has been seen). The staging buffer holds the texel buffer's image, then each cache miss. A
 * keyed texture the cache refuses (no unpinned room, over the cap, no device memory) goes the
 * per-batch way, same pixels. */
static int batch_textures(cu_eng *e, batch *b, md_error *err)
{
    int rc = 0;
    for (size_t i = 0; i < b->tex_count && e->tex_cache != NULL; i++) {
        tex_entry *t = &b->tex[i];
        if (t->key == 0)
            continue;
        t->levels_in_entry = align_up((size_t)t->w * (size_t)t->h * 4);
        t->entry_bytes = t->levels_in_entry + mips_bytes(t);
        int hit = 0;
        int got = eng_tex_cache_acquire(e->tex_cache, t->key, t->entry_bytes, &t->entry, &hit);
        if (got == 0) {
            t->cached = 1;
            t->hit = hit;
            t->mipped = 1;
        } else if (got != MD_EBUDGET && got != MD_ENOMEM) {
            cudaError_t ce =
                e->tex_cache_error != cudaSuccess ? e->tex_cache_error : cudaErrorUnknown;
            rc = cu_fail(e, ce, "cudaMalloc (texture cache entry)", err);
            goto done;
        }
    }
    size_t at = 0;
    for (size_t i = 0; i < b->tex_count; i++) {
        tex_entry *t = &b->tex[i];
        if (t->cached)
            continue;
        t->off = at;
        at = align_up(at + (size_t)t->w * (size_t)t->h * 4);
    }
    for (size_t i = 0; i < b->tex_count; i++) {
        tex_entry *t = &b->tex[i];
        if (t->cached || !t->mipped)
            continue;
        t->levels_off = at;
        at = align_up(at + mips_bytes(t));
    }
    b->tex_bytes = at;
    for (size_t i = 0; i < b->tex_count; i++) {
        tex_entry *t = &b->tex[i];
        if (!t->cached || t->hit)
            continue;
        t->stage_off = at;
        at = align_up(at + t->entry_bytes);
    }
    b->stage_bytes = at;
done:
    return rc;
}

/* Unpins the batch's cache entries once nothing reads them (the streams are synchronised, or
 * the engine is broken). A miss whose copy was never queued is dropped, never hit later. */
static void batch_textures_release(cu_eng *e, const batch *b)
{
    for (size_t i = 0; i < b->tex_count; i++) {
        const tex_entry *t = &b->tex[i];
        if (t->cached)
            eng_tex_cache_release(e->tex_cache, t->key, t->hit || t->filled);
    }
}

/* The device addresses of each texture, once the texel buffer is reserved. */
static void batch_textures_place(const cu_eng *e, batch *b)
{
    for (size_t i = 0; i < b->tex_count; i++) {
        tex_entry *t = &b->tex[i];
        if (t->cached) {
            t->dev0 = t->entry;
            t->dev_levels = (const uint8_t *)t->entry + t->levels_in_entry;
        } else {
            t->dev0 = (const uint8_t *)e->tex.ptr + t->off;
            t->dev_levels = (const uint8_t *)e->tex.ptr + t->levels_off;
        }
    }
}

/* Pass 2: fills the pinned staging copy; device pointers are geom/tex base + offsets. */
static int batch_fill(const batch *b, cu_eng *e, uint32_t *cursor, md_error *err)
{
    char *host = e->geom_host.ptr;
    char *gdev = e->geom.ptr;
    (void)err;
    for (uint32_t j = 0; j < b->job_count; j++) {
        const eng_job *job = &b->jobs[j];
        const job_dev *d = &b->dev[j];
        size_t nv = job->vertex_count, nt = job->triangle_count;
        memcpy(host + d->off_pos[0], job->positions[0], nv * 3 * sizeof(float));
        memcpy(host + d->off_pos[1], job->positions[1], nv * 3 * sizeof(float));
        memcpy(host + d->off_tri, job->triangles, nt * 3 * sizeof(uint32_t));

        /* Adjacency in triangle order: counting sort of the corners by vertex, stable. */
        uint32_t *first = (uint32_t *)(host + d->off_adj_first);
        uint32_t *adj = (uint32_t *)(host + d->off_adj_tri);
        memset(first, 0, (nv + 1) * sizeof *first);
        for (size_t i = 0; i < nt * 3; i++)
            first[job->triangles[i] + 1]++;
        for (size_t v = 0; v < nv; v++)
            first[v + 1] += first[v];
        memcpy(cursor, first, nv * sizeof *cursor);
        for (size_t i = 0; i < nt * 3; i++)
            adj[cursor[job->triangles[i]]++] = (uint32_t)(i / 3);

        eng_surface *surf = (eng_surface *)(host + d->off_surface);
        for (int s = 0; s < 2; s++) {
            const eng_surface *sf = &job->surface[s];
            eng_surface ds = *sf;
            int uv = sf->tri_uvs != NULL && sf->uvs != NULL;
            if (uv) {
                memcpy(host + d->off_uvs[s], sf->uvs, (size_t)sf->uv_count * 2 * sizeof(float));
                memcpy(host + d->off_tri_uvs[s], sf->tri_uvs, nt * 3 * sizeof(uint32_t));
                ds.uvs = (const float *)(gdev + d->off_uvs[s]);
                ds.tri_uvs = (const uint32_t *)(gdev + d->off_tri_uvs[s]);
            } else {
                ds.uvs = NULL;
                ds.tri_uvs = NULL;
            }
            if (sf->tri_materials != NULL) {
                memcpy(host + d->off_tri_mat[s], sf->tri_materials, nt * sizeof(uint16_t));
                ds.tri_materials = (const uint16_t *)(gdev + d->off_tri_mat[s]);
            }
            eng_material *mats = (eng_material *)(host + d->off_mat[s]);
            for (uint32_t m = 0; m < sf->material_count; m++) {
                mats[m] = sf->materials[m];
                if (mats[m].rgba != NULL)
                    mats[m].rgba = b->tex[tex_find(b, &mats[m])].dev0;
            }
            ds.materials = (const eng_material *)(gdev + d->off_mat[s]);
            surf[s] = ds;
            if (job->texture_filter != ENG_FILTER_TRILINEAR)
                continue;
            /* The level offset table of each material's texture, as device pointers. */
            eng_mip *mips = (eng_mip *)(host + d->off_mips[s]);
            for (uint32_t m = 0; m < sf->material_count; m++) {
                memset(&mips[m], 0, sizeof mips[m]);
                if (sf->materials[m].rgba == NULL)
                    continue;
                const tex_entry *t = &b->tex[tex_find(b, &sf->materials[m])];
                size_t offsets[ENG_MIP_LEVELS];
                eng_mip_layout(t->w, t->h, &mips[m], offsets);
                mips[m].texels[0] = t->dev0;
                for (int l = 1; l < mips[m].levels; l++)
                    mips[m].texels[l] = t->dev_levels + offsets[l];
            }
        }
    }
    return 0;
}

static int batch_upload(cu_eng *e, batch *b, md_error *err)
{
    int rc = 0;
    uint32_t *cursor = NULL;
    uint32_t max_nv = 0;
    rc = batch_layout(b, err);
    if (rc == 0)
        rc = batch_textures(e, b, err);
    if (rc != 0)
        goto done;
    for (uint32_t j = 0; j < b->job_count; j++)
        max_nv = b->jobs[j].vertex_count > max_nv ? b->jobs[j].vertex_count : max_nv;
    cursor = md_malloc_array(max_nv, sizeof *cursor);
    if (cursor == NULL) {
        rc = md_fail(err, MD_ENOMEM, "cuda engine: adjacency scratch for %u vertices", max_nv);
        goto done;
    }
    /* The previous batch's copies finished before it returned, so these buffers are free. */
    CU_TRY(dev_reserve_or_trim(e, &e->geom, b->geom_bytes));
    CU_TRY(pin_reserve(&e->geom_host, b->geom_bytes));
    CU_TRY(dev_reserve_or_trim(e, &e->tex, b->tex_bytes > 0 ? b->tex_bytes : 1));
    CU_TRY(pin_reserve(&e->tex_host, b->stage_bytes > 0 ? b->stage_bytes : 1));
    batch_textures_place(e, b);
    rc = batch_fill(b, e, cursor, err);
    if (rc != 0)
        goto done;
    cudaStream_t st = e->slot[0].stream;
    CU_TRY(
        cudaMemcpyAsync(e->geom.ptr, e->geom_host.ptr, b->geom_bytes, cudaMemcpyHostToDevice, st));
    /* Textures are borrowed pixels in pageable memory: copied into the pinned staging buffer
     * (so the caller may change them once the batch returns), then up in one copy. */
    for (size_t i = 0; i < b->tex_count; i++) {
        tex_entry *t = &b->tex[i];
        if (t->hit)
            continue; /* on the device since an earlier batch */
        uint8_t *stage = (uint8_t *)e->tex_host.ptr;
        uint8_t *level0 = stage + (t->cached ? t->stage_off : t->off);
        uint8_t *levels = t->cached ? level0 + t->levels_in_entry : stage + t->levels_off;
        memcpy(level0, t->rgba, (size_t)t->w * (size_t)t->h * 4);
        if (t->mipped && t->mip_levels != NULL) {
            /* Prebuilt by the caller in the same layout (engine.h): copied, not rebuilt. */
            memcpy(levels, t->mip_levels, eng_texture_mips_bytes(t->w, t->h));
        } else if (t->mipped) {
            eng_mip host_levels; /* host pointers, only to build; the records hold device ones */
            eng_mip_build(level0, t->w, t->h, levels, &host_levels);
        }
        if (t->cached) {
            CU_TRY(cudaMemcpyAsync(t->entry, level0, t->entry_bytes, cudaMemcpyHostToDevice, st));
            t->filled = 1;
        }
    }
    if (b->tex_bytes > 0)
        CU_TRY(
            cudaMemcpyAsync(e->tex.ptr, e->tex_host.ptr, b->tex_bytes, cudaMemcpyHostToDevice, st));
    CU_TRY(cudaEventRecord(e->uploaded, st));
    for (int s = 1; s < CU_SLOTS; s++)
        CU_TRY(cudaStreamWaitEvent(e->slot[s].stream, e->uploaded, 0));
done:
    md_free(cursor);
    return rc;
}

/* ---- Chunks ---- */

/* The raster queue's share of one frame of job at grid samples a side (cuda_int.h): tiles to
 * cover its sample grid CU_QUEUE_OVERLAP times, and entries for as many large triangles as
 * those tiles can belong to (each has at least two tiles), at most the job's triangles. About
 * 0.2 byte a sample, against the visibility buffer's 8. */
#define CU_QUEUE_OVERLAP 4

static void queue_share(const eng_job *job, int grid, uint64_t *tiles, uint64_t *entries)
{
    const uint64_t tx =
        ((uint64_t)job->width * (uint64_t)grid + ENG_RASTER_TILE - 1) / ENG_RASTER_TILE;
    const uint64_t ty =
        ((uint64_t)job->height * (uint64_t)grid + ENG_RASTER_TILE - 1) / ENG_RASTER_TILE;
    *tiles = tx * ty * CU_QUEUE_OVERLAP;
    *entries = *tiles / 2 < job->triangle_count ? *tiles / 2 : job->triangle_count;
}

/* Device bytes one frame of job needs in a slot: positions, normals, clip, its raster queue
 * share, then the engines' budget function (visibility buffer, translucent layers where the
 * job has them, and RGB); grid * grid is job->samples. */
static size_t frame_bytes(const eng_job *job, int grid)
{
    size_t nv = job->vertex_count;
    uint64_t tiles, entries;
    queue_share(job, grid, &tiles, &entries);
    return align_up(nv * 3 * sizeof(float)) * 2 + align_up(nv * 4 * sizeof(float)) +
           align_up((size_t)entries * sizeof(cu_raster_entry)) +
           align_up((size_t)eng_job_frame_bytes(job));
}

/* How many frames from first form the next chunk; 0 when the first alone is over frame_max. */
static uint64_t chunk_frames(const cu_eng *e, const batch *b, uint64_t first)
{
    size_t used = 0;
    uint64_t n = 0;
    while (first + n < b->frame_count && n < MAX_CHUNK_FRAMES) {
        uint32_t j = b->frame_job[first + n];
        size_t fb = frame_bytes(&b->jobs[j], b->dev[j].setup.grid);
        if (n == 0 && fb > e->frame_max)
            return 0;
        if (n > 0 && used + fb > e->budget)
            break;
        used += fb;
        n++;
    }
    return n;
}

/* The error for frame first, which alone needs more than a slot may hold. */
static int over_budget(const cu_eng *e, const batch *b, uint64_t first, md_error *err)
{
    const eng_job *job = &b->jobs[b->frame_job[first]];
    return md_fail(err, MD_EBUDGET,
                   "cuda engine: job %u: a %dx%d frame at %d samples needs %.1f MiB on the "
                   "device, over the %.1f MiB a frame may take on this GPU (a third of its free "
                   "memory, less a margin): lower the size or the samples, or lower "
                   "--limit max_frame_bytes so that the api refuses such jobs",
                   b->frame_job[first], job->width, job->height, job->samples,
                   (double)frame_bytes(job, b->dev[b->frame_job[first]].setup.grid) / (1 << 20),
                   (double)e->frame_max / (1 << 20));
}

/* Lays out, fills and queues chunk [first, first + count) on slot s. No host waits. */
static int chunk_queue(cu_eng *e, const batch *b, int s, uint64_t first, uint64_t count,
                       md_error *err)
{
    int rc = 0;
    cu_slot *sl = &e->slot[s];
    size_t pos_b = 0, clip_b = 0, vis_b = 0, layers_b = 0, rgb_b = 0;
    uint64_t tile_cap = 0, entry_cap = 0;
    uint32_t max_nv = 0, max_nt = 0, max_px = 0;
    for (uint64_t i = 0; i < count; i++) {
        const eng_job *job = &b->jobs[b->frame_job[first + i]];
        int g = b->dev[b->frame_job[first + i]].setup.grid;
        pos_b += align_up((size_t)job->vertex_count * 3 * sizeof(float));
        clip_b += align_up((size_t)job->vertex_count * 4 * sizeof(float));
        vis_b += align_up((size_t)job->width * (size_t)g * (size_t)job->height * (size_t)g *
                          sizeof(uint64_t));
        if (b->dev[b->frame_job[first + i]].translucent)
            layers_b += align_up((size_t)job->width * (size_t)g * (size_t)job->height * (size_t)g *
                                 ENG_XLU_LAYERS * sizeof(uint64_t));
        rgb_b += (size_t)job->width * (size_t)job->height * 3;
        uint64_t tiles, entries;
        queue_share(job, g, &tiles, &entries);
        tile_cap += tiles;
        entry_cap += entries;
        max_nv = job->vertex_count > max_nv ? job->vertex_count : max_nv;
        max_nt = job->triangle_count > max_nt ? job->triangle_count : max_nt;
        uint32_t px = (uint32_t)job->width * (uint32_t)job->height;
        max_px = px > max_px ? px : max_px;
    }
    const size_t morph_off = 0;
    const size_t raster_off = align_up(count * sizeof(cu_morph_item));
    const size_t shade_off = raster_off + align_up(count * sizeof(eng_raster_params));
    const size_t items_b = shade_off + align_up(count * sizeof(eng_shade_params));
    /* The counter, then the entries. Caps far beyond any chunk the budget admits keep the
     * packed counter's fields (cuda_int.h) and the tile launch's grid in range. */
    const uint64_t tile_max = (1ull << CU_QUEUE_TILE_BITS) - 1, entry_max = (1ull << 24) - 1;
    tile_cap = tile_cap < tile_max ? tile_cap : tile_max;
    entry_cap = entry_cap < entry_max ? entry_cap : entry_max;
    const size_t queue_b = align_up(sizeof(unsigned long long)) +
                           align_up((size_t)entry_cap * sizeof(cu_raster_entry));

    CU_TRY(dev_reserve_or_trim(e, &sl->items, items_b));
    CU_TRY(dev_reserve_or_trim(e, &sl->pos, pos_b));
    CU_TRY(dev_reserve_or_trim(e, &sl->normal, pos_b));
    CU_TRY(dev_reserve_or_trim(e, &sl->clip, clip_b));
    CU_TRY(dev_reserve_or_trim(e, &sl->vis, vis_b));
    if (layers_b > 0)
        CU_TRY(dev_reserve_or_trim(e, &sl->layers, layers_b));
    CU_TRY(dev_reserve_or_trim(e, &sl->rgb, rgb_b));
    CU_TRY(dev_reserve_or_trim(e, &sl->queue, queue_b));
    CU_TRY(pin_reserve(&sl->items_host, items_b));
    CU_TRY(pin_reserve(&sl->rgb_host, rgb_b));

    char *ih = sl->items_host.ptr;
    cu_morph_item *mi = (cu_morph_item *)(ih + morph_off);
    eng_raster_params *ri = (eng_raster_params *)(ih + raster_off);
    eng_shade_params *si = (eng_shade_params *)(ih + shade_off);
    char *gdev = e->geom.ptr;
    size_t at_pos = 0, at_clip = 0, at_vis = 0, at_layers = 0, at_rgb = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint32_t j = b->frame_job[first + i];
        const eng_job *job = &b->jobs[j];
        const job_dev *d = &b->dev[j];
        const uint32_t fi = b->frame_index[first + i];
        const float t = job->weights[fi];
        const float tex_t = job->texture_weights != NULL ? job->texture_weights[fi] : t;
        float *pos = (float *)((char *)sl->pos.ptr + at_pos);
        float *nrm = (float *)((char *)sl->normal.ptr + at_pos);
        float *clip = (float *)((char *)sl->clip.ptr + at_clip);
        uint64_t *vis = (uint64_t *)((char *)sl->vis.ptr + at_vis);
        uint8_t *rgb = (uint8_t *)sl->rgb.ptr + at_rgb;
        const uint32_t *tris = (const uint32_t *)(gdev + d->off_tri);
        const int g = d->setup.grid;

        memset(&mi[i], 0, sizeof mi[i]);
        mi[i].m.vertex_count = job->vertex_count;
        mi[i].m.triangle_count = job->triangle_count;
        mi[i].m.pos_a = (const float *)(gdev + d->off_pos[0]);
        mi[i].m.pos_b = (const float *)(gdev + d->off_pos[1]);
        mi[i].m.triangles = tris;
        mi[i].m.t = t;
        mi[i].m.out_pos = pos;
        mi[i].m.out_normal = nrm;
        mi[i].adj_first = (const uint32_t *)(gdev + d->off_adj_first);
        mi[i].adj_tri = (const uint32_t *)(gdev + d->off_adj_tri);
        memcpy(mi[i].view_proj, d->setup.view_proj, sizeof mi[i].view_proj);
        mi[i].clip = clip;

        memset(&ri[i], 0, sizeof ri[i]);
        ri[i].vertex_count = job->vertex_count;
        ri[i].triangle_count = job->triangle_count;
        ri[i].pos = pos;
        ri[i].triangles = tris;
        memcpy(ri[i].view_proj, d->setup.view_proj, sizeof ri[i].view_proj);
        ri[i].width = job->width;
        ri[i].height = job->height;
        ri[i].grid = g;
        ri[i].clip = clip;
        ri[i].vis = vis;
        uint64_t *layers = NULL;
        if (d->translucent) {
            layers = (uint64_t *)((char *)sl->layers.ptr + at_layers);
            at_layers += align_up((size_t)job->width * (size_t)g * (size_t)job->height * (size_t)g *
                                  ENG_XLU_LAYERS * sizeof(uint64_t));
            ri[i].surface = (const eng_surface *)(gdev + d->off_surface);
            ri[i].t = tex_t;
            ri[i].layers = layers;
        }

        memset(&si[i], 0, sizeof si[i]);
        si[i].pos = pos;
        si[i].normal = nrm;
        si[i].clip = clip;
        si[i].triangles = tris;
        si[i].vis = vis;
        si[i].surface = (const eng_surface *)(gdev + d->off_surface);
        if (job->texture_filter == ENG_FILTER_TRILINEAR) {
            si[i].mips[0] = (const eng_mip *)(gdev + d->off_mips[0]);
            si[i].mips[1] = (const eng_mip *)(gdev + d->off_mips[1]);
        }
        si[i].t = tex_t;
        memcpy(si[i].eye, d->setup.eye, sizeof si[i].eye);
        memcpy(si[i].view_dir, d->setup.view_dir, sizeof si[i].view_dir);
        si[i].orthographic = job->camera.orthographic;
        si[i].shading = (int)job->shading;
        si[i].width = job->width;
        si[i].height = job->height;
        si[i].grid = g;
        memcpy(si[i].background, job->background, sizeof si[i].background);
        si[i].layers = layers;
        si[i].rgb = rgb;

        at_pos += align_up((size_t)job->vertex_count * 3 * sizeof(float));
        at_clip += align_up((size_t)job->vertex_count * 4 * sizeof(float));
        at_vis += align_up((size_t)job->width * (size_t)g * (size_t)job->height * (size_t)g *
                           sizeof(uint64_t));
        at_rgb += (size_t)job->width * (size_t)job->height * 3;
    }

    cudaStream_t st = sl->stream;
    char *idev = sl->items.ptr;
    CU_TRY(cudaMemcpyAsync(idev, ih, items_b, cudaMemcpyHostToDevice, st));
    CU_TRY(cudaEventRecord(sl->ev[EV_START], st));
    CU_TRY(cu_launch_morph((const cu_morph_item *)(idev + morph_off), (uint32_t)count, max_nv, st));
    CU_TRY(cudaEventRecord(sl->ev[EV_MORPH], st));
    CU_TRY(cudaMemsetAsync(sl->vis.ptr, 0xff, vis_b, st)); /* every sample ENG_VIS_EMPTY */
    cu_raster_queue queue = {
        .count = (unsigned long long *)sl->queue.ptr,
        .entries =
            (cu_raster_entry *)((char *)sl->queue.ptr + align_up(sizeof(unsigned long long))),
        .entry_cap = (uint32_t)entry_cap,
        .tile_cap = tile_cap,
    };
    CU_TRY(cudaMemsetAsync(queue.count, 0, sizeof *queue.count, st));
    CU_TRY(cu_launch_raster((const eng_raster_params *)(idev + raster_off), (uint32_t)count, max_nt,
                            queue, ENG_RASTER_PASS_OPAQUE, st));
    if (layers_b > 0) {
        /* Depth peeling (gpu/raster_math.h): one pass a layer, each after the one before. Chunks
         * without a translucent frame launch none of this. */
        CU_TRY(cudaMemsetAsync(sl->layers.ptr, 0xff, layers_b, st));
        for (int pass = 0; pass < ENG_XLU_LAYERS; pass++) {
            CU_TRY(cudaMemsetAsync(queue.count, 0, sizeof *queue.count, st));
            CU_TRY(cu_launch_raster((const eng_raster_params *)(idev + raster_off), (uint32_t)count,
                                    max_nt, queue, pass, st));
        }
    }
    CU_TRY(cudaEventRecord(sl->ev[EV_RASTER], st));
    CU_TRY(
        cu_launch_shade((const eng_shade_params *)(idev + shade_off), (uint32_t)count, max_px, st));
    CU_TRY(cudaEventRecord(sl->ev[EV_SHADE], st));
    CU_TRY(cudaMemcpyAsync(sl->rgb_host.ptr, sl->rgb.ptr, rgb_b, cudaMemcpyDeviceToHost, st));
    CU_TRY(cudaEventRecord(sl->ev[EV_COPY], st));
    sl->first = first;
    sl->count = count;
    sl->queued = 1;
done:
    return rc;
}

/* ---- Delivery ---- */

typedef struct delivery {
    const batch *b;
    const cu_slot *sl;
    const size_t *rgb_off; /* per frame of the chunk */
    eng_frame_fn on_frame;
    void *user;
    atomic_uint_fast64_t next;
    atomic_int stop;
    pthread_mutex_t lock;
    int err_code;
    md_error err;
    double deliver_s; /* under lock */
    uint64_t frames;  /* under lock */
} delivery;

static void *deliver_main(void *arg)
{
    delivery *dl = arg;
    double spent = 0;
    uint64_t done_frames = 0;
    md_error err;
    md_error_clear(&err);
    int rc = 0;
    while (!atomic_load(&dl->stop)) {
        uint64_t i = atomic_fetch_add(&dl->next, 1);
        if (i >= dl->sl->count)
            break;
        uint64_t bf = dl->sl->first + i;
        uint32_t j = dl->b->frame_job[bf];
        const eng_job *job = &dl->b->jobs[j];
        if (job->canceled != NULL && job->canceled(job->cancel_ctx))
            continue;
        eng_frame fr = {
            .job = j,
            .frame = dl->b->frame_index[bf],
            .weight = job->weights[dl->b->frame_index[bf]],
            .texture_weight = job->texture_weights != NULL
                                  ? job->texture_weights[dl->b->frame_index[bf]]
                                  : job->weights[dl->b->frame_index[bf]],
            .width = job->width,
            .height = job->height,
            .rgb = (const uint8_t *)dl->sl->rgb_host.ptr + dl->rgb_off[i],
        };
        double t0 = md_now();
        int cb = dl->on_frame(dl->user, &fr);
        spent += md_now() - t0;
        if (cb < 0)
            rc = md_fail(&err, cb, "job %u frame %u: the frame callback failed: %s", fr.job,
                         fr.frame, md_strerror(cb));
        else if (cb > 0)
            rc = md_fail(&err, MD_EINTERNAL,
                         "job %u frame %u: the frame callback returned %d, not 0 or an error code",
                         fr.job, fr.frame, cb);
        if (rc != 0)
            break;
        done_frames++;
    }
    pthread_mutex_lock(&dl->lock);
    dl->deliver_s += spent;
    dl->frames += done_frames;
    if (rc != 0 && dl->err_code == 0) {
        dl->err_code = rc;
        dl->err = err;
    }
    pthread_mutex_unlock(&dl->lock);
    if (rc != 0)
        atomic_store(&dl->stop, 1);
    return NULL;
}

/* Waits for slot s's chunk, adds its kernel times, and hands its frames to the callback on up
 * to e->threads threads (the caller is one). */
static int chunk_deliver(cu_eng *e, const batch *b, int s, eng_frame_fn on_frame, void *user,
                         eng_stats *stats, md_error *err)
{
    int rc = 0;
    cu_slot *sl = &e->slot[s];
    size_t *rgb_off = NULL;
    pthread_t *helpers = NULL;
    int started = 0, lock_ready = 0;
    delivery dl;
    memset(&dl, 0, sizeof dl);
    sl->queued = 0;
    CU_TRY(cudaEventSynchronize(sl->ev[EV_COPY]));
    float ms[EV_COUNT - 1];
    for (int k = 0; k + 1 < EV_COUNT; k++)
        CU_TRY(cudaEventElapsedTime(&ms[k], sl->ev[k], sl->ev[k + 1]));
    stats->morph_s += ms[0] * 1e-3;
    stats->raster_s += ms[1] * 1e-3;
    stats->shade_s += ms[2] * 1e-3;
    stats->copy_s += ms[3] * 1e-3;

    rgb_off = md_malloc_array(sl->count, sizeof *rgb_off);
    helpers = md_calloc((size_t)e->threads, sizeof *helpers);
    if (rgb_off == NULL || helpers == NULL) {
        rc = md_fail(err, MD_ENOMEM, "cuda engine: delivery tables");
        goto done;
    }
    size_t at = 0;
    for (uint64_t i = 0; i < sl->count; i++) {
        const eng_job *job = &b->jobs[b->frame_job[sl->first + i]];
        rgb_off[i] = at;
        at += (size_t)job->width * (size_t)job->height * 3;
    }
    dl.b = b;
    dl.sl = sl;
    dl.rgb_off = rgb_off;
    dl.on_frame = on_frame;
    dl.user = user;
    atomic_init(&dl.next, 0);
    atomic_init(&dl.stop, 0);
    if (pthread_mutex_init(&dl.lock, NULL) != 0) {
        rc = md_fail(err, MD_EENGINE, "cuda engine: cannot create the delivery lock");
        goto done;
    }
    lock_ready = 1;
    int n = e->threads;
    if ((uint64_t)n > sl->count)
        n = (int)sl->count;
    for (int i = 1; i < n; i++) {
        if (pthread_create(&helpers[i], NULL, deliver_main, &dl) != 0)
            break; /* fewer hands, same work */
        started = i;
    }
    deliver_main(&dl);
    for (int i = 1; i <= started; i++)
        pthread_join(helpers[i], NULL);
    if (started + 1 > stats->threads)
        stats->threads = started + 1;
    stats->deliver_s += dl.deliver_s;
    stats->frames += dl.frames;
    if (dl.err_code != 0) {
        rc = dl.err_code;
        if (err != NULL)
            *err = dl.err;
    }
done:
    if (lock_ready)
        pthread_mutex_destroy(&dl.lock);
    md_free(helpers);
    md_free(rgb_off);
    return rc;
}

/* ---- The vtable ---- */

static int cu_batch_run(eng *base, const eng_job *jobs, uint32_t job_count, eng_frame_fn on_frame,
                        void *user, eng_stats *stats, md_error *err)
{
    cu_eng *e = (cu_eng *)base;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&e->busy, &expected, 1))
        return md_fail(err, MD_EINVAL,
                       "this engine is already running a batch; use one engine per thread");
    int rc = 0;
    batch b;
    memset(&b, 0, sizeof b);
    if (e->broken) {
        rc = md_fail(err, MD_EENGINE,
                     "cuda engine: unusable since an earlier error (%s); restart the worker",
                     e->broken_msg);
        goto done;
    }
    CU_TRY(cudaSetDevice(e->device)); /* the runtime's current device is per host thread */
    b.jobs = jobs;
    b.job_count = job_count;
    for (uint32_t j = 0; j < job_count; j++)
        b.frame_count += jobs[j].frame_count;
    b.dev = md_calloc(job_count, sizeof *b.dev);
    b.frame_job = md_malloc_array(b.frame_count, sizeof *b.frame_job);
    b.frame_index = md_malloc_array(b.frame_count, sizeof *b.frame_index);
    if (b.dev == NULL || b.frame_job == NULL || b.frame_index == NULL) {
        rc = md_fail(err, MD_ENOMEM, "cuda engine: batch tables for %u jobs", job_count);
        goto done;
    }
    uint64_t k = 0;
    for (uint32_t j = 0; j < job_count; j++) {
        for (uint32_t f = 0; f < jobs[j].frame_count; f++, k++) {
            b.frame_job[k] = j;
            b.frame_index[k] = f;
        }
    }
    double t0 = md_now();
    rc = batch_upload(e, &b, err);
    if (rc != 0)
        goto done;
    stats->upload_s = md_now() - t0;
    for (size_t i = 0; i < b.tex_count; i++) {
        if (b.tex[i].cached && b.tex[i].hit)
            stats->texture_cache_hits++;
        else if (b.tex[i].cached)
            stats->texture_cache_misses++;
    }

    /* Chunk k runs in slot k % CU_SLOTS; the chunks after it are queued before chunk k is
     * delivered, as many as there are free slots. */
    uint64_t next = 0;
    int head = 0;   /* the slot delivered next: the oldest queued chunk */
    int queued = 0; /* chunks queued, not yet delivered */
    while (rc == 0) {
        while (queued < CU_SLOTS && next < b.frame_count) {
            uint64_t n = chunk_frames(e, &b, next);
            rc = n > 0 ? chunk_queue(e, &b, (head + queued) % CU_SLOTS, next, n, err)
                       : over_budget(e, &b, next, err);
            if (rc != 0)
                break;
            next += n;
            queued++;
        }
        if (rc != 0 || queued == 0)
            break;
        rc = chunk_deliver(e, &b, head, on_frame, user, stats, err);
        head = (head + 1) % CU_SLOTS;
        queued--;
    }
done:
    /* Nothing may still be writing the engine's buffers when the next batch fills them. Errors
     * here matter only when the batch had none (a later chunk's kernel fault, say). */
    if (e->streams_ready && !e->broken) {
        for (int s = 0; s < CU_SLOTS; s++) {
            cudaError_t ce = cudaStreamSynchronize(e->slot[s].stream);
            if (ce != cudaSuccess && rc == 0)
                rc = cu_fail(e, ce, "cudaStreamSynchronize", err);
            else if (ce != cudaSuccess)
                (void)cu_fail(e, ce, "cudaStreamSynchronize", NULL);
            e->slot[s].queued = 0;
        }
    }
    batch_textures_release(e, &b);
    md_free(b.dev);
    md_free(b.tex);
    md_free(b.frame_job);
    md_free(b.frame_index);
    atomic_store(&e->busy, 0);
    return rc;
}

static void cu_destroy(eng *base)
{
    cu_eng *e = (cu_eng *)base;
    /* Best effort: after a sticky error these calls fail too, and there is nothing to do. */
    (void)cudaSetDevice(e->device);
    for (int s = 0; s < CU_SLOTS; s++) {
        cu_slot *sl = &e->slot[s];
        if (sl->stream != NULL)
            (void)cudaStreamSynchronize(sl->stream);
        dev_buf *dev[] = {&sl->items, &sl->pos,    &sl->normal, &sl->clip,
                          &sl->vis,   &sl->layers, &sl->rgb,    &sl->queue};
        for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
            dev_release(dev[i]);
        (void)cudaFreeHost(sl->items_host.ptr);
        (void)cudaFreeHost(sl->rgb_host.ptr);
        for (int k = 0; k < EV_COUNT; k++)
            if (sl->ev[k] != NULL)
                (void)cudaEventDestroy(sl->ev[k]);
        if (sl->stream != NULL)
            (void)cudaStreamDestroy(sl->stream);
    }
    eng_tex_cache_free(e->tex_cache); /* the streams are synchronised above */
    dev_release(&e->geom);
    dev_release(&e->tex);
    (void)cudaFreeHost(e->geom_host.ptr);
    (void)cudaFreeHost(e->tex_host.ptr);
    if (e->uploaded != NULL)
        (void)cudaEventDestroy(e->uploaded);
    md_free(e);
}

static void cu_device_stats(const eng *base, eng_device_stats *out)
{
    const cu_eng *e = (const cu_eng *)base;
    out->memory_used_bytes = atomic_load(&cu_device_bytes);
    out->memory_total_bytes = e->memory_total;
    out->utilization_pct = cu_nvml_utilization(e->device);
    eng_tex_cache_stats ts;
    eng_tex_cache_stats_get(e->tex_cache, &ts);
    out->texture_cache_bytes = ts.bytes;
    out->texture_cache_cap = ts.cap;
}

static const eng_vtable cu_vtable = {
    .name = "cuda",
    .destroy = cu_destroy,
    .batch_run = cu_batch_run,
    .device_stats = cu_device_stats,
};

/* The chunk budget: MORPHD_CUDA_BUDGET_MB, else 1 GiB or an eighth of free memory. */
static size_t budget_of(void)
{
    const char *env = getenv("MORPHD_CUDA_BUDGET_MB");
    if (env != NULL && *env != '\0') {
        char *end = NULL;
        unsigned long long mb = strtoull(env, &end, 10);
        if (end != NULL && *end == '\0' && mb > 0 && mb < ((size_t)1 << 24))
            return (size_t)mb << 20;
        md_log(MD_LOG_WARN, "cuda engine: ignoring MORPHD_CUDA_BUDGET_MB='%s'", env);
    }
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        return DEFAULT_BUDGET;
    }
    return free_b / 8 < DEFAULT_BUDGET ? free_b / 8 : DEFAULT_BUDGET;
}

/* Logs the device the engine runs on, and refuses one this build has no code for: better
 * now, with the device named, than "no kernel image" at the first launch of a batch. */
static int describe_device(cu_eng *e, uint64_t cache_want, md_error *err)
{
    int device = e->device;
    struct cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, device) != cudaSuccess) {
        (void)cudaGetLastError();
        memset(&p, 0, sizeof p);
        snprintf(p.name, sizeof p.name, "(unnamed)");
    }
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess)
        (void)cudaGetLastError();
    /* CU_SLOTS slots, each may hold one frame alone; keep 512 MiB or 1/16 of the device for
     * the batch's geometry, textures and the runtime. */
    size_t margin = total_b / 16 > ((size_t)512 << 20) ? total_b / 16 : (size_t)512 << 20;
    /* The texture cache may fill up to its cap between batches, so its cap (at most a quarter
     * of the free memory) comes out of what frames may take; and should frames still find the
     * device full, the cache gives its unpinned entries back (dev_reserve_or_trim). */
    size_t cache_cap = (size_t)(cache_want < free_b / 4 ? cache_want : free_b / 4);
    e->frame_max = free_b > margin + cache_cap ? (free_b - margin - cache_cap) / CU_SLOTS : 0;
    e->memory_total = total_b;
    if (cache_cap > 0) {
        e->tex_cache = eng_tex_cache_new(cache_cap, tex_cache_alloc, tex_cache_release_mem, e);
        if (e->tex_cache == NULL)
            return md_fail(err, MD_ENOMEM, "cuda engine: out of memory for the texture cache");
    }
    cudaError_t ce = cu_kernels_check();
    if (ce != cudaSuccess)
        return md_fail(err, MD_ENODEV,
                       "cuda engine: device %d, %s (compute capability %d.%d), cannot run this "
                       "build's kernels (%s: %s); rebuild with its architecture in "
                       "CMAKE_CUDA_ARCHITECTURES (e.g. -DCMAKE_CUDA_ARCHITECTURES=%d%d), or use "
                       "the cpu engine (--engine cpu)",
                       device, p.name, p.major, p.minor, cudaGetErrorName(ce),
                       cudaGetErrorString(ce), p.major, p.minor);
    md_log(MD_LOG_INFO,
           "cuda engine: device %d, %s, compute capability %d.%d, %.1f GiB (%.1f GiB free), "
           "chunk budget %zu MiB, a frame at most %zu MiB, texture cache %zu MiB",
           device, p.name, p.major, p.minor, (double)total_b / (1u << 30),
           (double)free_b / (1u << 30), e->budget >> 20, e->frame_max >> 20, cache_cap >> 20);
    return 0;
}

int eng_cuda_new(const eng_config *cfg, eng **out, md_error *err)
{
    int threads = cfg->threads;
    if (threads < 0 || threads > MAX_THREADS)
        return md_fail(err, MD_EINVAL, "cuda engine: threads %d is outside 0..%d (0: one per core)",
                       threads, MAX_THREADS);
    if (eng_cuda_device_count(err) < 1)
        return MD_ENODEV;
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores < 1 ? 1 : (cores > MAX_THREADS ? MAX_THREADS : (int)cores);
    }
    cu_eng *e = md_calloc(1, sizeof *e);
    if (e == NULL)
        return md_fail(err, MD_ENOMEM, "cuda engine: out of memory");
    int rc = 0;
    e->base.vt = &cu_vtable;
    e->device = 0;
    e->threads = threads;
    atomic_init(&e->busy, 0);
    CU_TRY(cudaSetDevice(e->device));
    for (int s = 0; s < CU_SLOTS; s++) {
        CU_TRY(cudaStreamCreateWithFlags(&e->slot[s].stream, cudaStreamNonBlocking));
        for (int k = 0; k < EV_COUNT; k++)
            CU_TRY(cudaEventCreate(&e->slot[s].ev[k]));
    }
    CU_TRY(cudaEventCreateWithFlags(&e->uploaded, cudaEventDisableTiming));
    e->streams_ready = 1;
    e->budget = budget_of();
    if ((rc = describe_device(e, cfg->device_texture_cache_bytes, err)) != 0)
        goto done;
    *out = &e->base;
done:
    if (rc != 0)
        cu_destroy(&e->base);
    return rc;
}
