/*
 * run.c — `morph run SOURCE TARGET -o OUT`: a whole morph job on this machine, no server.
 *
 * Main thread: parse options, load and check inputs (jobs/), build the engine job, run one
 * engine batch, then write manifest.json. Engine threads: each finished frame is PNG-encoded and
 * written (temp file + rename) in the frame callback, so encoding runs on every engine thread in
 * parallel with rendering. The callback touches only its own frame's slot in run_ctx plus
 * mutex-guarded totals.
 *
 * When the video is wanted the callback also hands the frame to job_outputs_frame, which feeds
 * the encoder in frame order. After the batch, the main thread produces the other outputs
 * through jobs/outputs.c, whose sink writes each artifact under OUT/ (temp file + rename; from
 * several threads for the per-frame meshes).
 *
 * Outputs: OUT/frames/NNNN_<src>-<pppp>_<tgt>-<pppp>.png, the analysis artifacts asked for
 * (DESIGN.md §6), OUT/manifest.json, OUT/session.log.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/manifest.h"
#include "jobs/job.h"
#include "mesh/image.h"
#include "base/md.h"
#include "version.h"

static void run_usage(FILE *f)
{
    fprintf(
        f,
        "Usage: morph run SOURCE TARGET -o OUT [options]\n"
        "\n"
        "Morphs SOURCE into TARGET (meshes with the same vertices and triangles: OBJ, FBX,\n"
        "glTF/GLB, PLY or any format assimp reads) and writes\n"
        "  OUT/frames/NNNN_<source>-<pppp>_<target>-<pppp>.png  frame i has weight\n"
        "      t = i/(N-1) toward TARGET; pppp is each mesh's share in permille\n"
        "  OUT/shape_displacement_components.png, OUT/texture_difference_*.png  heatmaps\n"
        "  OUT/statistics.csv, vertex_displacements.csv, texture_differences.csv,\n"
        "      frames.csv      (--outputs csv)\n"
        "  OUT/meshes/<frame>.obj|.glb|.fbx  per-frame meshes (--outputs meshes)\n"
        "  OUT/animation.mp4   H.264 video of the frames in order (--outputs video)\n"
        "  OUT/manifest.json   inputs, options, frames, artifacts, sizes and timings\n"
        "  OUT/session.log     what happened, with times\n"
        "\n"
        "Options:\n"
        "  -o, --output DIR           output folder (created; old frames in it are removed)\n"
        "      --source-texture IMG   texture for SOURCE (PNG/JPEG), instead of its material's\n"
        "      --target-texture IMG   texture for TARGET\n"
        "      --frames N             N frames evenly spaced from SOURCE to TARGET (41)\n"
        "      --weights W,W,...      explicit weights toward TARGET, each 0..1\n"
        "      --size WxH             frame size in pixels (512x512)\n"
        "      --samples N            supersamples per pixel, a square: 1, 4, 9, 16 (4)\n"
        "      --camera SPEC          \"eye=x,y,z;target=x,y,z;up=x,y,z;fov=deg;near=d;far=d\"\n"
        "                             any subset; without eye= the camera is auto-framed on\n"
        "                             both meshes (+Y up, looking down -Z, fov 30)\n"
        "      --ortho H|auto         orthographic, H mesh units tall (auto: fitted)\n"
        "      --background RRGGBB    background colour (ffffff)\n"
        "      --png-level 0..9       zlib level of the PNGs (1)\n"
        "      --outputs LIST         what to produce besides the frames, comma-separated:\n"
        "                             frames, heatmaps, csv, meshes, video; or minimal\n"
        "                             (frames,heatmaps; the default) or all (also: full).\n"
        "                             Frames are always produced. Texture outputs need both\n"
        "                             meshes textured; otherwise they are skipped with a note\n"
        "      --align none|rigid|similarity  align TARGET onto SOURCE before measuring the\n"
        "                             displacement (none)\n"
        "      --heatmap-scale auto|MIN:MAX  colour range of every heatmap panel: auto fits\n"
        "                             each panel's data; MIN:MAX fixes it so jobs compare:\n"
        "                             magnitudes use MIN..MAX, signed values +-max(|MIN|,|MAX|)\n"
        "      --mesh-format obj|glb|fbx  per-frame meshes (obj: with .mtl and texture PNG)\n"
        "      --fps N                frames per second of animation.mp4, 1..120 (30)\n"
        "      --loop once|pingpong   the video plays SOURCE to TARGET, or there and back\n"
        "      --engine cpu|cuda|auto render engine (auto: CUDA when present, else CPU)\n"
        "      --threads N            CPU engine threads (0: one per core; default 0)\n"
        "      --limit NAME=VALUE     raise or lower an input limit (repeatable), see below\n"
        "  -q, --quiet                no progress bar and no summary line\n"
        "  -v, --verbose              log details to stderr as well as session.log\n"
        "  -h, --help                 this text\n"
        "\n"
        "Limits (NAME, default, meaning):\n");
    md_limits_print_help(f);
    fprintf(f, "\nExit status: 0 success, 1 failure, 2 bad usage or bad input.\n");
}

enum {
    OPT_SOURCE_TEXTURE = 256,
    OPT_TARGET_TEXTURE,
    OPT_FRAMES,
    OPT_WEIGHTS,
    OPT_SIZE,
    OPT_SAMPLES,
    OPT_CAMERA,
    OPT_ORTHO,
    OPT_BACKGROUND,
    OPT_PNG_LEVEL,
    OPT_ENGINE,
    OPT_THREADS,
    OPT_LIMIT,
    OPT_OUTPUTS,
    OPT_ALIGN,
    OPT_HEATMAP_SCALE,
    OPT_MESH_FORMAT,
    OPT_FPS,
    OPT_LOOP,
};

typedef struct run_opts {
    job_input_paths paths;
    const char *out_dir;
    job_spec spec;
    md_limits lim;
    eng_config engine;
    int quiet;
    int verbose;
    /* Options are applied after parsing, when the limits are final. */
    const char *frames, *weights, *size, *samples, *camera, *ortho, *background, *png_level;
    const char *outputs, *align, *heatmap_scale, *mesh_format, *fps, *loop;
} run_opts;

static int parse_options(int argc, char **argv, run_opts *o, md_error *err)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"source-texture", required_argument, NULL, OPT_SOURCE_TEXTURE},
        {"target-texture", required_argument, NULL, OPT_TARGET_TEXTURE},
        {"frames", required_argument, NULL, OPT_FRAMES},
        {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"size", required_argument, NULL, OPT_SIZE},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"camera", required_argument, NULL, OPT_CAMERA},
        {"ortho", required_argument, NULL, OPT_ORTHO},
        {"background", required_argument, NULL, OPT_BACKGROUND},
        {"png-level", required_argument, NULL, OPT_PNG_LEVEL},
        {"engine", required_argument, NULL, OPT_ENGINE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"outputs", required_argument, NULL, OPT_OUTPUTS},
        {"align", required_argument, NULL, OPT_ALIGN},
        {"heatmap-scale", required_argument, NULL, OPT_HEATMAP_SCALE},
        {"mesh-format", required_argument, NULL, OPT_MESH_FORMAT},
        {"fps", required_argument, NULL, OPT_FPS},
        {"loop", required_argument, NULL, OPT_LOOP},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:qvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o->out_dir = optarg;
            break;
        case OPT_SOURCE_TEXTURE:
            o->paths.source_texture = optarg;
            break;
        case OPT_TARGET_TEXTURE:
            o->paths.target_texture = optarg;
            break;
        case OPT_FRAMES:
            o->frames = optarg;
            break;
        case OPT_WEIGHTS:
            o->weights = optarg;
            break;
        case OPT_SIZE:
            o->size = optarg;
            break;
        case OPT_SAMPLES:
            o->samples = optarg;
            break;
        case OPT_CAMERA:
            o->camera = optarg;
            break;
        case OPT_ORTHO:
            o->ortho = optarg;
            break;
        case OPT_BACKGROUND:
            o->background = optarg;
            break;
        case OPT_PNG_LEVEL:
            o->png_level = optarg;
            break;
        case OPT_ENGINE:
            if (strcmp(optarg, "cpu") == 0)
                o->engine.kind = ENG_KIND_CPU;
            else if (strcmp(optarg, "cuda") == 0)
                o->engine.kind = ENG_KIND_CUDA;
            else if (strcmp(optarg, "auto") == 0)
                o->engine.kind = ENG_KIND_AUTO;
            else
                return md_fail(err, MD_EINVAL, "--engine: '%s' is not cpu, cuda or auto", optarg);
            break;
        case OPT_THREADS: {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || n < 0 || n > 1024)
                return md_fail(err, MD_EINVAL,
                               "--threads: '%s' is not a number from 0 (all cores) to 1024",
                               optarg);
            o->engine.threads = (int)n;
            break;
        }
        case OPT_LIMIT:
            if (md_limits_set(&o->lim, optarg, err) != 0)
                return md_error_prefix(err, "--limit: ");
            break;
        case OPT_OUTPUTS:
            o->outputs = optarg;
            break;
        case OPT_ALIGN:
            o->align = optarg;
            break;
        case OPT_HEATMAP_SCALE:
            o->heatmap_scale = optarg;
            break;
        case OPT_MESH_FORMAT:
            o->mesh_format = optarg;
            break;
        case OPT_FPS:
            o->fps = optarg;
            break;
        case OPT_LOOP:
            o->loop = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            run_usage(stdout);
            return 1;
        case ':':
            return md_fail(err, MD_EINVAL, "option %s needs a value", argv[optind - 1]);
        default:
            return md_fail(err, MD_EINVAL, "unknown option '%s' (see morph run --help)",
                           argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return md_fail(err, MD_EINVAL,
                       "expected SOURCE and TARGET mesh files, got %d file argument(s)",
                       argc - optind);
    o->paths.source = argv[optind];
    o->paths.target = argv[optind + 1];
    if (o->out_dir == NULL)
        return md_fail(err, MD_EINVAL, "-o OUT is required: the folder to write frames to");
    if (o->frames != NULL && o->weights != NULL)
        return md_fail(err, MD_EINVAL, "--frames and --weights exclude each other");

    job_spec *s = &o->spec;
    int rc = 0;
    if (rc == 0 && o->frames)
        rc = job_spec_set_frames(s, o->frames, &o->lim, err);
    if (rc == 0 && o->weights)
        rc = job_spec_set_weights(s, o->weights, &o->lim, err);
    if (rc == 0 && o->size)
        rc = job_spec_set_size(s, o->size, &o->lim, err);
    if (rc == 0 && o->samples)
        rc = job_spec_set_samples(s, o->samples, &o->lim, err);
    if (rc == 0 && o->ortho)
        rc = job_spec_set_ortho(s, o->ortho, err);
    if (rc == 0 && o->camera)
        rc = job_spec_set_camera(s, o->camera, err);
    if (rc == 0 && o->background)
        rc = job_spec_set_background(s, o->background, err);
    if (rc == 0 && o->png_level)
        rc = job_spec_set_png_level(s, o->png_level, err);
    if (rc == 0 && o->outputs)
        rc = job_spec_set_outputs(s, o->outputs, err);
    if (rc == 0 && o->align)
        rc = job_spec_set_align(s, o->align, err);
    if (rc == 0 && o->heatmap_scale)
        rc = job_spec_set_heatmap_scale(s, o->heatmap_scale, err);
    if (rc == 0 && o->mesh_format)
        rc = job_spec_set_mesh_format(s, o->mesh_format, err);
    if (rc == 0 && o->fps)
        rc = job_spec_set_fps(s, o->fps, err);
    if (rc == 0 && o->loop)
        rc = job_spec_set_loop(s, o->loop, err);
    if (rc == 0)
        rc = job_spec_finalize(s, err);
    return rc;
}

/* ---- Output folder ---- */

/* Removes PNGs left in OUT/frames by an earlier run, so the folder holds exactly this job's
 * frames (a shorter re-run would otherwise leave stale frames that sort among the new ones). */
static int clean_frames_dir(const char *dir, md_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return md_fail(err, MD_EIO, "cannot open %s", dir);
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".png") != 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    if (removed > 0)
        md_log(MD_LOG_INFO, "removed %d frame(s) of an earlier run from %s", removed, dir);
    return 0;
}

/* Removes the analysis artifacts an earlier run left in OUT (its meshes/ folder and the
 * top-level files), so OUT holds exactly what this run's manifest lists. */
static void clean_outputs(const char *out_dir)
{
    static const char *const names[] = {
        "statistics.csv",
        "vertex_displacements.csv",
        "texture_differences.csv",
        "frames.csv",
        "animation.mp4",
        "shape_displacement_components.png",
        "texture_difference_components.png",
        "texture_difference_uv_luminance.png",
        "texture_difference_uv_chroma.png",
        "texture_difference_uv_delta_e.png",
    };
    char path[4096];
    int removed = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", out_dir, names[i]);
        removed += unlink(path) == 0;
    }
    snprintf(path, sizeof path, "%s/meshes", out_dir);
    DIR *d = opendir(path);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.' && unlinkat(dirfd(d), e->d_name, 0) == 0)
                removed++;
        closedir(d);
    }
    if (removed > 0)
        md_log(MD_LOG_INFO, "removed %d output file(s) of an earlier run from %s", removed,
               out_dir);
}

/* ---- Artifacts into OUT (main thread, and mesh export threads at once) ---- */

typedef struct run_sink {
    const char *out_dir;
    int quiet;
    pthread_mutex_t mkdir_lock;
} run_sink;

static int sink_put(void *user, const char *name, const char *content_type, const void *bytes,
                    size_t len, md_error *err)
{
    (void)content_type;
    run_sink *s = user;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s->out_dir, name);
    const char *slash = strrchr(name, '/');
    if (slash != NULL) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%.*s", s->out_dir, (int)(slash - name), name);
        pthread_mutex_lock(&s->mkdir_lock);
        int rc = md_mkdir_p(dir, err);
        pthread_mutex_unlock(&s->mkdir_lock);
        if (rc != 0)
            return rc;
    }
    return md_write_file_atomic(path, bytes, len, err);
}

static void sink_log(void *user, md_log_level level, const char *msg)
{
    run_sink *s = user;
    md_log(level, "%s", msg);
    /* Progress a person watches: what is being produced (warnings reach stderr anyway). */
    if (!s->quiet && level == MD_LOG_INFO)
        fprintf(stderr, "morph run: %s\n", msg);
}

/* ---- Frame delivery (engine threads) ---- */

typedef struct run_ctx {
    const char *frames_dir;
    const job_spec *spec;
    char source_stem[128], target_stem[128];
    run_frame *frames; /* one slot per frame, written only by the thread delivering it */
    cli_progress *progress;
    job_outputs *outputs; /* the video's frames, in order */
    pthread_mutex_t lock;
    double encode_s, write_s;
    uint64_t bytes;
} run_ctx;

static int deliver_frame(void *user, const eng_frame *f)
{
    run_ctx *ctx = user;
    md_error err;
    md_error_clear(&err);
    run_frame *slot = &ctx->frames[f->frame];
    int rc = job_frame_name(f->frame, f->weight, ctx->source_stem, ctx->target_stem, slot->file,
                            sizeof slot->file);
    if (rc != 0)
        return rc;
    if (job_outputs_wants_frames(ctx->outputs)) {
        rc = job_outputs_frame(ctx->outputs, f, &err);
        if (rc != 0) {
            md_log(MD_LOG_ERROR, "frame %u: %s", f->frame, err.msg);
            return rc;
        }
    }
    double t0 = md_now();
    uint8_t *png = NULL;
    size_t png_len = 0;
    rc = img_encode_png(f->rgb, f->width, f->height, 3, ctx->spec->png_level, &png, &png_len, &err);
    double t1 = md_now();
    if (rc == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", ctx->frames_dir, slot->file);
        rc = md_write_file_atomic(path, png, png_len, &err);
    }
    double t2 = md_now();
    md_free(png);
    if (rc != 0) {
        md_log(MD_LOG_ERROR, "frame %u: %s", f->frame, err.msg);
        return rc;
    }
    slot->weight = f->weight;
    slot->bytes = png_len;
    slot->done = 1;
    md_log(MD_LOG_DEBUG, "frame %u (t=%.4f) -> %s, %zu bytes", f->frame, (double)f->weight,
           slot->file, png_len);
    pthread_mutex_lock(&ctx->lock);
    ctx->encode_s += t1 - t0;
    ctx->write_s += t2 - t1;
    ctx->bytes += png_len;
    pthread_mutex_unlock(&ctx->lock);
    cli_progress_tick(ctx->progress);
    return 0;
}

/* ---- The command ---- */

static FILE *open_session_log(const char *out_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/session.log", out_dir);
    return fopen(path, "w");
}

int cli_run(int argc, char **argv)
{
    double start = md_now();
    run_opts o;
    memset(&o, 0, sizeof o);
    md_limits_default(&o.lim);
    job_spec_init(&o.spec);
    o.engine.kind = ENG_KIND_AUTO;
    md_error err;
    md_error_clear(&err);
    md_log_set_program("morph run");

    job_inputs *in = NULL;
    eng *engine = NULL;
    FILE *log = NULL;
    run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    pthread_mutex_init(&ctx.lock, NULL);
    int rc = parse_options(argc, argv, &o, &err);
    if (rc == 1) { /* --help */
        rc = 0;
        goto done;
    }
    if (rc != 0) {
        fprintf(stderr, "morph run: %s\n", err.msg);
        goto done;
    }
    if (o.verbose)
        md_log_set_stderr_level(MD_LOG_INFO);

    char frames_dir[4096];
    snprintf(frames_dir, sizeof frames_dir, "%s/frames", o.out_dir);
    rc = md_mkdir_p(frames_dir, &err);
    if (rc == 0)
        rc = clean_frames_dir(frames_dir, &err);
    if (rc != 0)
        goto fail;
    log = open_session_log(o.out_dir);
    if (log != NULL)
        md_log_set_file(log);
    clean_outputs(o.out_dir);
    md_log(MD_LOG_INFO, "morph %s: %s -> %s, output %s", MORPHD_VERSION, o.paths.source,
           o.paths.target, o.out_dir);

    job_load_stats load;
    rc = job_inputs_load(&o.paths, &o.lim, &in, &load, &err);
    if (rc != 0)
        goto fail;
    for (int side = 0; side < 2; side++) {
        const mesh *m = job_inputs_mesh(in, side);
        md_log(MD_LOG_INFO, "%s: %s, %u vertices, %u triangles, %u uvs, %u material(s)",
               side ? "target" : "source", mesh_format(m), mesh_vertex_count(m),
               mesh_triangle_count(m), mesh_uv_count(m), mesh_material_count(m));
    }
    md_log(MD_LOG_INFO, "loaded in %.3f s (parse %.3f, textures %.3f, padding %.3f)",
           load.parse_s + load.texture_s + load.pad_s, load.parse_s, load.texture_s, load.pad_s);

    eng_job job;
    rc = job_build(in, &o.spec, &job, &err);
    if (rc == 0)
        rc = eng_job_validate(&job, &o.lim, &err);
    if (rc == 0)
        rc = eng_new(&o.engine, &engine, &err);
    if (rc != 0)
        goto fail;

    ctx.frames_dir = frames_dir;
    ctx.spec = &o.spec;
    job_path_stem(o.paths.source, ctx.source_stem, sizeof ctx.source_stem);
    job_path_stem(o.paths.target, ctx.target_stem, sizeof ctx.target_stem);
    ctx.frames = md_calloc(job.frame_count, sizeof *ctx.frames);
    if (ctx.frames == NULL) {
        rc = md_fail(&err, MD_ENOMEM, "out of memory");
        goto fail;
    }
    rc = job_outputs_new(&o.spec, in, &job, ctx.source_stem, ctx.target_stem, &ctx.outputs, &err);
    if (rc != 0)
        goto fail;
    char wanted[128];
    job_outputs_format(o.spec.outputs, wanted, sizeof wanted);
    md_log(MD_LOG_INFO, "outputs: %s", wanted);
    ctx.progress = cli_progress_new("frames", job.frame_count, !o.quiet);
    md_log(MD_LOG_INFO, "rendering %u frame(s) at %dx%d, %d samples, engine %s", job.frame_count,
           job.width, job.height, job.samples, eng_name(engine));

    eng_stats stats;
    memset(&stats, 0, sizeof stats);
    rc = eng_batch_run(engine, &job, 1, deliver_frame, &ctx, &stats, &err);
    cli_progress_free(ctx.progress);
    ctx.progress = NULL;
    if (rc != 0)
        goto fail;

    run_sink sink_state = {.out_dir = o.out_dir, .quiet = o.quiet};
    pthread_mutex_init(&sink_state.mkdir_lock, NULL);
    job_output_sink sink = {.put = sink_put, .log = sink_log, .user = &sink_state};
    double outputs_t0 = md_now();
    rc = job_outputs_finish(ctx.outputs, engine, &sink, &err);
    double outputs_s = md_now() - outputs_t0;
    pthread_mutex_destroy(&sink_state.mkdir_lock);
    if (rc != 0)
        goto fail;

    run_manifest man = {
        .out_dir = o.out_dir,
        .paths = &o.paths,
        .inputs = in,
        .spec = &o.spec,
        .job = &job,
        .engine_name = eng_name(engine),
        .threads = stats.threads,
        .frames = ctx.frames,
        .frame_count = job.frame_count,
        .load = load,
        .engine = stats,
        .encode_s = ctx.encode_s,
        .write_s = ctx.write_s,
        .outputs = ctx.outputs,
        .outputs_s = outputs_s,
        .total_s = md_now() - start,
    };
    rc = run_manifest_write(&man, &err);
    if (rc != 0)
        goto fail;
    md_log(MD_LOG_INFO,
           "done in %.3f s: morph %.3f, raster %.3f, shade %.3f, encode %.3f, write %.3f "
           "(thread-seconds), render wall %.3f s, %llu bytes of PNG",
           man.total_s, stats.morph_s, stats.raster_s, stats.shade_s, ctx.encode_s, ctx.write_s,
           stats.wall_s, (unsigned long long)ctx.bytes);
    if (!o.quiet)
        printf("morph: %u frames in %s/frames, %u other artifact(s), manifest "
               "%s/manifest.json (%.2f s, engine %s, %d thread%s)\n",
               job.frame_count, o.out_dir, job_outputs_count(ctx.outputs), o.out_dir, man.total_s,
               eng_name(engine), stats.threads, stats.threads == 1 ? "" : "s");
    goto done;

fail:
    md_log(MD_LOG_ERROR, "%s", err.msg); /* to stderr and session.log */
done:
    cli_progress_free(ctx.progress);
    md_log_set_file(NULL);
    if (log != NULL)
        fclose(log);
    md_free(ctx.frames);
    job_outputs_free(ctx.outputs);
    pthread_mutex_destroy(&ctx.lock);
    eng_free(engine);
    job_inputs_free(in);
    job_spec_free(&o.spec);
    return md_err_exit_code(rc);
}
