/*
 * engine_cpu.c — the CPU engine: runs a batch by handing (job, frame) tasks to a pool of threads.
 *
 * Called through the vtable from eng_batch_run (engine.c), which has validated every job. The
 * calling thread works as thread 0 and starts threads - 1 more for the batch; they all pull
 * task numbers from one atomic counter (tasks are job-major, so frames come out roughly in
 * order) and run morph -> raster -> shade -> on_frame for each. A failure anywhere (allocation,
 * the callback) is recorded once under a mutex and raises a stop flag that every thread checks
 * before its next task, so the batch ends soon after the first error. Threads are started per
 * batch rather than parked between batches: starting one costs tens of microseconds against
 * tens of milliseconds per frame, and it spares a sleep/wake protocol; what must stay warm (the
 * buffers) does.
 *
 * Ownership: the engine owns one scratch set per thread slot (positions, normals, clip,
 * visibility buffer, translucent layers once a translucent job came, RGB). Scratch only grows, and
 * outlives batches, so a worker that renders job after job of one size allocates nothing in the
 * steady state. Slot i is touched only by thread i during a batch and by nobody between batches;
 * one batch runs at a time per engine (a second concurrent call is refused). Jobs and their arrays
 * are borrowed.
 *
 * Mip pyramids (gpu/mip.h): before the threads start, the calling thread builds levels 1.. of
 * every distinct texture of the batch (same pixels pointer and size: once, however many jobs
 * or materials share it) into one engine-owned buffer, grown and never shrunk like the
 * scratch, and gives every material an eng_mip record whose level 0 is the borrowed texture.
 * Jobs asking for ENG_FILTER_BILINEAR get none and sample their textures as they are. A
 * material that brings its levels (eng_material.mip_levels) is sampled from them unbuilt.
 */
#include "gpu/engine_int.h"
#include "gpu/mip.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 1024
#define SHADE_BANDS_MAX 16     /* most bands one lone frame's shading is split into */
#define SHADE_BAND_ROWS_MIN 16 /* no band of fewer rows (threads cost more than they save) */

typedef struct cpu_scratch {
    float *pos, *normal, *clip;
    size_t vertex_cap;
    uint64_t *vis;
    size_t vis_cap;
    uint64_t *layers; /* translucent jobs only: ENG_XLU_LAYERS visibility buffers */
    size_t layers_cap;
    uint8_t *rgb;
    size_t rgb_cap;
} cpu_scratch;

typedef struct cpu_eng {
    eng base; /* first: the eng * handed out points here */
    int threads;
    cpu_scratch *scratch; /* threads slots */
    uint8_t *mip_buf;     /* levels 1.. of the batch's textures (mip.h layout, one after another) */
    size_t mip_cap;
    atomic_int busy;
} cpu_eng;

typedef struct cpu_thread_stats {
    double morph_s, raster_s, shade_s, deliver_s;
    uint64_t frames;
} cpu_thread_stats;

/* One batch: read-only after start, except the counter, the stop flag and the error. */
typedef struct cpu_batch {
    cpu_eng *e;
    const eng_job *jobs;
    uint32_t job_count;
    const eng_job_setup *setup; /* job_count */
    const eng_mip *const *mips; /* 2 * job_count: per job and side, a record per material or
                                   NULL (bilinear) */
    const uint64_t *first_task; /* job_count + 1 prefix sums of frame counts */
    const uint8_t *translucent; /* job_count: eng_job_translucent */
    uint64_t task_count;
    eng_frame_fn on_frame;
    void *user;
    atomic_uint_fast64_t next_task;
    atomic_int stop;
    pthread_mutex_t err_lock;
    int err_code;
    md_error err;
} cpu_batch;

typedef struct cpu_worker {
    cpu_batch *batch;
    int slot;
    cpu_thread_stats stats;
    pthread_t thread;
    int started;
} cpu_worker;

/* ---- Scratch ---- */

static void scratch_release(cpu_scratch *s)
{
    md_free(s->pos);
    md_free(s->normal);
    md_free(s->clip);
    md_free(s->vis);
    md_free(s->layers);
    md_free(s->rgb);
    memset(s, 0, sizeof *s);
}

/* Grows *buf to hold n elements of size; contents are not kept (every stage rewrites its
 * output whole). Returns 0 or -1. */
static int grow(void **buf, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return 0;
    void *p = md_malloc_array(n, size);
    if (p == NULL)
        return -1;
    md_free(*buf);
    *buf = p;
    *cap = n;
    return 0;
}

static int scratch_reserve(cpu_scratch *s, const eng_job *job, int grid, uint32_t job_index,
                           md_error *err)
{
    size_t nv = job->vertex_count;
    if (nv > s->vertex_cap) {
        size_t cap = 0;
        /* The three vertex arrays share one capacity; reset it so a failure leaves none of them
         * claiming more than it holds. */
        s->vertex_cap = 0;
        if (grow((void **)&s->pos, &cap, nv * 3, sizeof(float)) != 0)
            goto nomem;
        cap = 0;
        if (grow((void **)&s->normal, &cap, nv * 3, sizeof(float)) != 0)
            goto nomem;
        cap = 0;
        if (grow((void **)&s->clip, &cap, nv * 4, sizeof(float)) != 0)
            goto nomem;
        s->vertex_cap = nv;
    }
    size_t samples = (size_t)job->width * (size_t)grid * (size_t)job->height * (size_t)grid;
    if (grow((void **)&s->vis, &s->vis_cap, samples, sizeof(uint64_t)) != 0)
        return md_fail(err, MD_ENOMEM,
                       "job %u: cannot allocate the %zu MiB visibility buffer for %dx%d pixels at "
                       "%d samples",
                       job_index, samples * sizeof(uint64_t) >> 20, job->width, job->height,
                       job->samples);
    if (eng_job_translucent(job) &&
        grow((void **)&s->layers, &s->layers_cap, samples * ENG_XLU_LAYERS, sizeof(uint64_t)) != 0)
        return md_fail(err, MD_ENOMEM,
                       "job %u: cannot allocate the %zu MiB of translucent layers for %dx%d "
                       "pixels at %d samples",
                       job_index, samples * ENG_XLU_LAYERS * sizeof(uint64_t) >> 20, job->width,
                       job->height, job->samples);
    if (grow((void **)&s->rgb, &s->rgb_cap, (size_t)job->width * (size_t)job->height * 3, 1) != 0)
        return md_fail(err, MD_ENOMEM, "job %u: cannot allocate a %dx%d frame", job_index,
                       job->width, job->height);
    return 0;
nomem:
    return md_fail(err, MD_ENOMEM, "job %u: cannot allocate vertex buffers for %u vertices",
                   job_index, job->vertex_count);
}

/* ---- Workers ---- */

static void batch_fail(cpu_batch *b, int code, const md_error *err)
{
    pthread_mutex_lock(&b->err_lock);
    if (b->err_code == 0) {
        b->err_code = code;
        b->err = *err;
        b->err.code = code;
    }
    pthread_mutex_unlock(&b->err_lock);
    atomic_store(&b->stop, 1);
}

static uint32_t job_of_task(const cpu_batch *b, uint64_t task)
{
    uint32_t lo = 0, hi = b->job_count; /* first_task[lo] <= task < first_task[hi] */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (b->first_task[mid] <= task)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* ---- Shading a lone frame on several threads ---- */

typedef struct shade_band {
    const eng_shade_params *p;
    int row_begin, row_end;
    pthread_t thread;
    int started;
} shade_band;

static void *shade_band_main(void *arg)
{
    shade_band *band = arg;
    eng_cpu_shade_rows(band->p, band->row_begin, band->row_end);
    return NULL;
}

/* Shades the frame; when the batch has fewer frames than the engine has threads (a live frame:
 * one), the threads left without a frame would idle, so the frame's rows are split into bands
 * shaded side by side (the same bytes: eng_cpu_shade_rows). Rasterisation stays on one thread. */
static void shade_frame(const cpu_batch *b, const eng_shade_params *sp)
{
    uint64_t share = b->task_count ? (uint64_t)b->e->threads / b->task_count : 1;
    int bands = share > SHADE_BANDS_MAX ? SHADE_BANDS_MAX : (int)share;
    if (bands > sp->height / SHADE_BAND_ROWS_MIN)
        bands = sp->height / SHADE_BAND_ROWS_MIN;
    if (bands < 2) {
        eng_cpu_shade(sp);
        return;
    }
    shade_band band[SHADE_BANDS_MAX];
    for (int i = 0; i < bands; i++)
        band[i] = (shade_band){.p = sp,
                               .row_begin = (int)((int64_t)sp->height * i / bands),
                               .row_end = (int)((int64_t)sp->height * (i + 1) / bands)};
    for (int i = 1; i < bands; i++)
        band[i].started = pthread_create(&band[i].thread, NULL, shade_band_main, &band[i]) == 0;
    shade_band_main(&band[0]);
    for (int i = 1; i < bands; i++) {
        if (band[i].started)
            pthread_join(band[i].thread, NULL);
        else
            shade_band_main(&band[i]); /* no thread: this one shades the band itself */
    }
}

static int render_task(cpu_batch *b, cpu_scratch *s, cpu_thread_stats *st, uint64_t task,
                       md_error *err)
{
    uint32_t j = job_of_task(b, task);
    uint32_t frame = (uint32_t)(task - b->first_task[j]);
    const eng_job *job = &b->jobs[j];
    const eng_job_setup *su = &b->setup[j];
    const float t = job->weights[frame];
    const float tex_t = job->texture_weights != NULL ? job->texture_weights[frame] : t;
    if (job->canceled != NULL && job->canceled(job->cancel_ctx))
        return 0;

    int rc = scratch_reserve(s, job, su->grid, j, err);
    if (rc != 0)
        return rc;

    double t0 = md_now();
    eng_morph_params mp = {
        .vertex_count = job->vertex_count,
        .triangle_count = job->triangle_count,
        .pos_a = job->positions[0],
        .pos_b = job->positions[1],
        .triangles = job->triangles,
        .t = t,
        .out_pos = s->pos,
        .out_normal = s->normal,
    };
    eng_cpu_morph(&mp);
    double t1 = md_now();

    eng_raster_params rp = {
        .vertex_count = job->vertex_count,
        .triangle_count = job->triangle_count,
        .pos = s->pos,
        .triangles = job->triangles,
        .width = job->width,
        .height = job->height,
        .grid = su->grid,
        .clip = s->clip,
        .vis = s->vis,
    };
    if (b->translucent[j]) {
        rp.surface = job->surface;
        rp.t = tex_t;
        rp.layers = s->layers;
    }
    memcpy(rp.view_proj, su->view_proj, sizeof rp.view_proj);
    eng_cpu_raster(&rp);
    double t2 = md_now();

    eng_shade_params sp = {
        .pos = s->pos,
        .normal = s->normal,
        .clip = s->clip,
        .triangles = job->triangles,
        .vis = s->vis,
        .surface = job->surface,
        .mips = {b->mips[2 * (size_t)j], b->mips[2 * (size_t)j + 1]},
        .t = tex_t,
        .orthographic = job->camera.orthographic,
        .shading = (int)job->shading,
        .width = job->width,
        .height = job->height,
        .grid = su->grid,
        .layers = b->translucent[j] ? s->layers : NULL,
        .rgb = s->rgb,
    };
    memcpy(sp.eye, su->eye, sizeof sp.eye);
    memcpy(sp.view_dir, su->view_dir, sizeof sp.view_dir);
    memcpy(sp.background, job->background, sizeof sp.background);
    shade_frame(b, &sp);
    double t3 = md_now();

    eng_frame fr = {
        .job = j,
        .frame = frame,
        .weight = t,
        .texture_weight = tex_t,
        .width = job->width,
        .height = job->height,
        .rgb = s->rgb,
    };
    rc = b->on_frame(b->user, &fr);
    double t4 = md_now();

    st->morph_s += t1 - t0;
    st->raster_s += t2 - t1;
    st->shade_s += t3 - t2;
    st->deliver_s += t4 - t3;
    if (rc < 0)
        return md_fail(err, rc, "job %u frame %u: the frame callback failed: %s", j, frame,
                       md_strerror(rc));
    if (rc > 0)
        return md_fail(err, MD_EINTERNAL,
                       "job %u frame %u: the frame callback returned %d, not 0 or an error code", j,
                       frame, rc);
    st->frames++;
    return 0;
}

static void *worker_main(void *arg)
{
    cpu_worker *w = arg;
    cpu_batch *b = w->batch;
    cpu_scratch *s = &b->e->scratch[w->slot];
    md_error err;
    md_error_clear(&err);
    while (!atomic_load(&b->stop)) {
        uint64_t task = atomic_fetch_add(&b->next_task, 1);
        if (task >= b->task_count)
            break;
        int rc = render_task(b, s, &w->stats, task, &err);
        if (rc != 0) {
            batch_fail(b, rc, &err);
            break;
        }
    }
    return NULL;
}

/* ---- Mip pyramids ---- */

/* The batch's pyramids: records (one per material of every trilinear job's sides) and the
 * per-job-side pointers into them. Owned by the batch run; levels live in e->mip_buf. */
typedef struct cpu_mips {
    eng_mip *records;
    const eng_mip **side; /* 2 * job_count */
} cpu_mips;

#define MIPS_PREBUILT (SIZE_MAX - 1) /* level_off of a material whose levels the caller built */

/* The first record before index whose level 0 is mat's texture (same pixels and size), or -1. */
static long same_texture_before(const eng_mip *rec, size_t index, const eng_material *mat)
{
    for (size_t i = 0; i < index; i++) {
        if (rec[i].levels >= 1 && rec[i].texels[0] == mat->rgba &&
            rec[i].width[0] == mat->tex_width && rec[i].height[0] == mat->tex_height)
            return (long)i;
    }
    return -1;
}

static int mips_build(cpu_eng *e, const eng_job *jobs, uint32_t job_count, cpu_mips *out,
                      md_error *err)
{
    size_t count = 0;
    for (uint32_t j = 0; j < job_count; j++) {
        if (jobs[j].texture_filter == ENG_FILTER_TRILINEAR)
            count += (size_t)jobs[j].surface[0].material_count + jobs[j].surface[1].material_count;
    }
    out->records = md_calloc(count > 0 ? count : 1, sizeof *out->records);
    out->side = md_calloc((size_t)job_count * 2, sizeof *out->side);
    if (out->records == NULL || out->side == NULL)
        return md_fail(err, MD_ENOMEM, "cannot allocate the mip tables of %zu materials", count);
    /* Pass 1: layouts, and the bytes of each distinct texture's levels (offset in texels[1] as
     * an integer until the buffer exists; distinct textures own their range). */
    size_t bytes = 0, n = 0;
    size_t *level_off = md_calloc(count > 0 ? count : 1, sizeof *level_off);
    if (level_off == NULL)
        return md_fail(err, MD_ENOMEM, "cannot allocate the mip tables of %zu materials", count);
    for (uint32_t j = 0; j < job_count; j++) {
        if (jobs[j].texture_filter != ENG_FILTER_TRILINEAR)
            continue;
        for (int sd = 0; sd < 2; sd++) {
            const eng_surface *sf = &jobs[j].surface[sd];
            out->side[2 * (size_t)j + (size_t)sd] = &out->records[n];
            for (uint32_t m = 0; m < sf->material_count; m++, n++) {
                const eng_material *mat = &sf->materials[m];
                if (mat->rgba == NULL)
                    continue; /* levels 0: untextured */
                if (same_texture_before(out->records, n, mat) >= 0) {
                    out->records[n].levels = 1; /* marked; filled in pass 2 */
                    out->records[n].texels[0] = mat->rgba;
                    out->records[n].width[0] = mat->tex_width;
                    out->records[n].height[0] = mat->tex_height;
                    level_off[n] = SIZE_MAX;
                    continue;
                }
                size_t offsets[ENG_MIP_LEVELS];
                const size_t need =
                    eng_mip_layout(mat->tex_width, mat->tex_height, &out->records[n], offsets);
                out->records[n].texels[0] = mat->rgba;
                if (mat->mip_levels != NULL) {
                    /* Prebuilt by the caller (engine.h): point at them, build nothing. */
                    for (int l = 1; l < out->records[n].levels; l++)
                        out->records[n].texels[l] = mat->mip_levels + offsets[l];
                    level_off[n] = MIPS_PREBUILT;
                    continue;
                }
                level_off[n] = bytes;
                bytes += need;
            }
        }
    }
    int rc = 0;
    if (bytes > e->mip_cap) {
        uint8_t *buf = md_malloc(bytes);
        if (buf == NULL) {
            rc = md_fail(err, MD_ENOMEM, "cannot allocate %zu MiB for the textures' mip levels",
                         bytes >> 20);
            goto done;
        }
        md_free(e->mip_buf);
        e->mip_buf = buf;
        e->mip_cap = bytes;
    }
    /* Pass 2: build each distinct texture's levels, then copy its record to its sharers. */
    for (size_t i = 0; i < n; i++) {
        eng_mip *r = &out->records[i];
        if (r->levels < 1 || level_off[i] == SIZE_MAX || level_off[i] == MIPS_PREBUILT)
            continue;
        eng_mip_build(r->texels[0], r->width[0], r->height[0], e->mip_buf + level_off[i], r);
    }
    for (size_t i = 0; i < n; i++) {
        if (level_off[i] != SIZE_MAX)
            continue;
        eng_material mat = {.rgba = out->records[i].texels[0],
                            .tex_width = out->records[i].width[0],
                            .tex_height = out->records[i].height[0]};
        const long first = same_texture_before(out->records, i, &mat);
        out->records[i] = out->records[first];
    }
done:
    md_free(level_off);
    return rc;
}

static void mips_release(cpu_mips *m)
{
    md_free(m->records);
    md_free(m->side);
}

/* ---- The vtable ---- */

static int cpu_batch_run(eng *base, const eng_job *jobs, uint32_t job_count, eng_frame_fn on_frame,
                         void *user, eng_stats *stats, md_error *err)
{
    cpu_eng *e = (cpu_eng *)base;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&e->busy, &expected, 1))
        return md_fail(err, MD_EINVAL,
                       "this engine is already running a batch; use one engine per thread");

    int rc = 0;
    int lock_ready = 0;
    eng_job_setup *setup = md_malloc_array(job_count, sizeof *setup);
    uint64_t *first = md_malloc_array((size_t)job_count + 1, sizeof *first);
    uint8_t *translucent = md_malloc_array(job_count, sizeof *translucent);
    cpu_worker *workers = md_calloc((size_t)e->threads, sizeof *workers);
    cpu_batch b;
    memset(&b, 0, sizeof b);
    cpu_mips mips = {NULL, NULL};
    if (setup == NULL || first == NULL || translucent == NULL || workers == NULL) {
        rc = md_fail(err, MD_ENOMEM, "cannot allocate the batch tables for %u jobs", job_count);
        goto done;
    }
    rc = mips_build(e, jobs, job_count, &mips, err);
    if (rc != 0)
        goto done;
    first[0] = 0;
    for (uint32_t j = 0; j < job_count; j++) {
        eng_job_setup_make(&jobs[j], &setup[j]);
        first[j + 1] = first[j] + jobs[j].frame_count;
        translucent[j] = (uint8_t)eng_job_translucent(&jobs[j]);
    }
    b.e = e;
    b.jobs = jobs;
    b.job_count = job_count;
    b.setup = setup;
    b.mips = mips.side;
    b.first_task = first;
    b.translucent = translucent;
    b.task_count = first[job_count];
    b.on_frame = on_frame;
    b.user = user;
    atomic_init(&b.next_task, 0);
    atomic_init(&b.stop, 0);
    if (pthread_mutex_init(&b.err_lock, NULL) != 0) {
        rc = md_fail(err, MD_EENGINE, "cannot create the batch's error lock");
        goto done;
    }
    lock_ready = 1;

    int n = e->threads;
    if ((uint64_t)n > b.task_count)
        n = (int)b.task_count;
    for (int i = 0; i < n; i++) {
        workers[i].batch = &b;
        workers[i].slot = i;
    }
    /* Thread 0 is the caller; a thread that cannot start only means fewer hands. */
    int running = 1;
    for (int i = 1; i < n; i++) {
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            md_log(MD_LOG_WARN, "cpu engine: could only start %d of %d threads", i, n);
            break;
        }
        workers[i].started = 1;
        running++;
    }
    worker_main(&workers[0]);
    for (int i = 1; i < n; i++) {
        if (workers[i].started)
            pthread_join(workers[i].thread, NULL);
    }
    for (int i = 0; i < n; i++) {
        stats->morph_s += workers[i].stats.morph_s;
        stats->raster_s += workers[i].stats.raster_s;
        stats->shade_s += workers[i].stats.shade_s;
        stats->deliver_s += workers[i].stats.deliver_s;
        stats->frames += workers[i].stats.frames;
    }
    stats->threads = running;
    if (b.err_code != 0) {
        rc = b.err_code;
        if (err != NULL)
            *err = b.err;
    }
done:
    if (lock_ready)
        pthread_mutex_destroy(&b.err_lock);
    mips_release(&mips);
    md_free(workers);
    md_free(first);
    md_free(translucent);
    md_free(setup);
    atomic_store(&e->busy, 0);
    return rc;
}

static void cpu_destroy(eng *base)
{
    cpu_eng *e = (cpu_eng *)base;
    for (int i = 0; i < e->threads; i++)
        scratch_release(&e->scratch[i]);
    md_free(e->scratch);
    md_free(e->mip_buf);
    md_free(e);
}

static const eng_vtable cpu_vtable = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .batch_run = cpu_batch_run,
};

int eng_cpu_new(const eng_config *cfg, eng **out, md_error *err)
{
    int threads = cfg->threads;
    if (threads < 0 || threads > MAX_THREADS)
        return md_fail(err, MD_EINVAL, "cpu engine: threads %d is outside 0..%d (0: one per core)",
                       threads, MAX_THREADS);
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores < 1 ? 1 : (cores > MAX_THREADS ? MAX_THREADS : (int)cores);
    }
    cpu_eng *e = md_calloc(1, sizeof *e);
    cpu_scratch *scratch = md_calloc((size_t)threads, sizeof *scratch);
    if (e == NULL || scratch == NULL) {
        md_free(e);
        md_free(scratch);
        return md_fail(err, MD_ENOMEM, "cpu engine: out of memory");
    }
    e->base.vt = &cpu_vtable;
    e->threads = threads;
    e->scratch = scratch;
    atomic_init(&e->busy, 0);
    *out = &e->base;
    return 0;
}
