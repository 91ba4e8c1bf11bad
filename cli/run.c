/*
 * run.c — `morph run SOURCE TARGET -o OUT`: a whole morph job on this machine, no server.
 *
 * Main thread: parse options, clean OUT of an earlier run's outputs, load and check inputs
 * (jobs/), then hand the job to the job pipeline (jobs/pipeline.h), the same one the worker
 * uses: it builds the engine job, renders it in one engine batch, delivers each frame (PNG
 * encoded on the engine threads, in parallel with rendering), produces the analysis outputs and
 * builds manifest.json. This file's sink writes every artifact under OUT/ (temp file + rename;
 * from several engine and mesh export threads at once, with folders made under a lock), ticks
 * the progress bar, and adds the manifest's input paths, created_at and load timings.
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
#include "jobs/job.h"
#include "base/md.h"
#include "jobs/pipeline.h"
#include "version.h"

static void run_usage(FILE *f)
{
    fprintf(
        f,
        "Usage: morph run SOURCE TARGET -o OUT [options]\n"
        "       morph run SOURCE --target-morph NAME|INDEX -o OUT [options]\n"
        "\n"
        "Morphs SOURCE into TARGET (meshes with the same vertices and triangles: OBJ, FBX,\n"
        "glTF/GLB, PLY or any format assimp reads) and writes\n"
        "  OUT/frames/NNNN_<source>-<pppp>_<target>-<pppp>.png  frame i has weight\n"
        "      t = i/(N-1) toward TARGET; pppp is each mesh's share in permille, mNNNN\n"
        "      when negative; _texture-<pppp> is added when the texture weight differs\n"
        "  OUT/shape_displacement_components.png, OUT/texture_difference_*.png  heatmaps\n"
        "  OUT/statistics.csv, vertex_displacements.csv, texture_differences.csv,\n"
        "      frames.csv      (--outputs csv)\n"
        "  OUT/meshes/<frame>.obj|.glb|.fbx  per-frame meshes (--outputs meshes)\n"
        "  OUT/animation.mp4   H.264 video of the frames in order (--outputs video)\n"
        "  OUT/manifest.json   inputs, options, frames, artifacts, sizes and timings\n"
        "  OUT/session.log     what happened, with times\n"
        "\n"
        "With --target-morph, SOURCE (a .glb/.gltf or .fbx with morph targets: glTF targets,\n"
        "FBX blend shapes) morphs from its base toward its own morph target NAME, or INDEX\n"
        "counted from 0; there is no TARGET file. A SOURCE that has morph targets used\n"
        "without it gets a note naming them in manifest.json and session.log.\n"
        "\n"
        "Options:\n"
        "  -o, --output DIR           output folder (created; old frames in it are removed)\n"
        "      --target-morph NAME    morph toward SOURCE's own morph target (name or index)\n"
        "      --source-texture IMG   texture for SOURCE (PNG/JPEG), instead of its material's\n"
        "      --target-texture IMG   texture for TARGET\n"
        "      --frames N             N frames spread over --range (41)\n"
        "      --range FROM:TO        the weights --frames spreads over, each -3..3 (0:1:\n"
        "                             SOURCE to TARGET; -1:2 anti-face to caricature)\n"
        "      --easing linear|smoothstep|sine  spacing of the --frames weights: even, or\n"
        "                             slow at both ends (linear)\n"
        "      --weights W,W,...      explicit weights toward TARGET, each -3..3: 0 is\n"
        "                             SOURCE, 1 TARGET, <0 an anti-face, >1 a caricature\n"
        "      --shape-weights W,...  the shape's weight per frame (default: the weights)\n"
        "      --texture-weights W,...  the texture's weight per frame (default: the\n"
        "                             weights); outside 0..1 the colours are extrapolated\n"
        "                             in CIE L*a*b* and clipped to the sRGB gamut\n"
        "      --size WxH             frame size in pixels (512x512)\n"
        "      --samples N            supersamples per pixel, a square: 1, 4, 9, 16 (4)\n"
        "      --camera SPEC          \"eye=x,y,z;target=x,y,z;up=x,y,z;fov=deg;near=d;far=d\"\n"
        "                             any subset; without eye= the camera is auto-framed on\n"
        "                             both meshes (+Y up, looking down -Z, fov 30)\n"
        "      --frame-on MESH        fit the auto camera to MESH's bounds instead of the\n"
        "                             pair's, so jobs framed on one reference face (e.g. an\n"
        "                             average) share one camera; MESH needs no texture and\n"
        "                             may have any topology\n"
        "      --camera-from MANIFEST render with the resolved camera of an earlier job's\n"
        "                             manifest.json (exactly: its camera.text)\n"
        "      --replay MANIFEST      run an earlier `morph run` again from its\n"
        "                             manifest.json: the same inputs (found by path, refused\n"
        "                             when a file's SHA-256 changed), spec and engine give\n"
        "                             byte-identical frames and CSVs; no SOURCE/TARGET, and\n"
        "                             only -o, --engine, --threads, --limit, -q, -v with it\n"
        "      --ortho H|auto         orthographic, H mesh units tall (auto: fitted)\n"
        "      --background RRGGBB    background colour (ffffff)\n"
        "      --png-level 0..9       zlib level of the PNGs (1)\n"
        "      --outputs LIST         what to produce besides the frames, comma-separated:\n"
        "                             frames, heatmaps, csv, meshes, video; or minimal\n"
        "                             (frames,heatmaps; the default) or all (also: full).\n"
        "                             Frames are always produced. Texture outputs need both\n"
        "                             meshes textured; otherwise they are skipped with a note\n");
    fprintf(f,
            "      --align none|rigid|similarity  align TARGET onto SOURCE before measuring the\n"
            "                             displacement (none)\n"
            "      --shape-scale auto|MIN:MAX  colour range of the shape figure, mesh units:\n"
            "                             auto fits each panel's data; MIN:MAX fixes it so jobs\n"
            "                             compare: magnitudes MIN..MAX (0..max(|MIN|,|MAX|) when\n"
            "                             MIN < 0), signed values +-max(|MIN|,|MAX|)\n"
            "      --texture-scale auto|MIN:MAX  the same for the texture figures (mesh panels\n"
            "                             and UV maps), in L*a*b* units\n"
            "      --heatmap-scale auto|MIN:MAX  the shorthand for --shape-scale\n"
            "      --mesh-format obj|glb|fbx  per-frame meshes (obj: with .mtl and texture PNG)\n"
            "      --fps N                frames per second of animation.mp4, 1..120 (30)\n"
            "      --loop once|pingpong   the video plays SOURCE to TARGET, or there and back\n"
            "      --hide-materials NAME,...  leave these materials (by name, either mesh) out\n"
            "                             of the frames, figures, statistics, CSVs and meshes\n"
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
    OPT_SHAPE_SCALE,
    OPT_TEXTURE_SCALE,
    OPT_MESH_FORMAT,
    OPT_FPS,
    OPT_LOOP,
    OPT_REPLAY,
    OPT_RANGE,
    OPT_EASING,
    OPT_SHAPE_WEIGHTS,
    OPT_TEXTURE_WEIGHTS,
    OPT_FRAME_ON,
    OPT_CAMERA_FROM,
    OPT_TARGET_MORPH,
    OPT_HIDE_MATERIALS,
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
    const char *outputs, *align, *heatmap_scale, *shape_scale, *texture_scale, *mesh_format, *fps,
        *loop, *hide_materials;
    const char *range, *easing, *shape_weights, *texture_weights, *frame_on, *camera_from;
    const char *replay;  /* --replay MANIFEST */
    cli_replay replayed; /* what it gave: paths owned here */
    int engine_given;
    const char *spec_option; /* the first option that shapes the job (refused with --replay) */
} run_opts;

static int parse_options(int argc, char **argv, run_opts *o, md_error *err)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"source-texture", required_argument, NULL, OPT_SOURCE_TEXTURE},
        {"target-texture", required_argument, NULL, OPT_TARGET_TEXTURE},
        {"frames", required_argument, NULL, OPT_FRAMES},
        {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"range", required_argument, NULL, OPT_RANGE},
        {"easing", required_argument, NULL, OPT_EASING},
        {"shape-weights", required_argument, NULL, OPT_SHAPE_WEIGHTS},
        {"texture-weights", required_argument, NULL, OPT_TEXTURE_WEIGHTS},
        {"frame-on", required_argument, NULL, OPT_FRAME_ON},
        {"camera-from", required_argument, NULL, OPT_CAMERA_FROM},
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
        {"shape-scale", required_argument, NULL, OPT_SHAPE_SCALE},
        {"texture-scale", required_argument, NULL, OPT_TEXTURE_SCALE},
        {"mesh-format", required_argument, NULL, OPT_MESH_FORMAT},
        {"fps", required_argument, NULL, OPT_FPS},
        {"loop", required_argument, NULL, OPT_LOOP},
        {"replay", required_argument, NULL, OPT_REPLAY},
        {"target-morph", required_argument, NULL, OPT_TARGET_MORPH},
        {"hide-materials", required_argument, NULL, OPT_HIDE_MATERIALS},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    int li = -1;
    while ((c = getopt_long(argc, argv, "o:qvh", longopts, &li)) != -1) {
        /* Everything but where the output goes and how the engine runs shapes the job. */
        if (o->spec_option == NULL && c >= OPT_SOURCE_TEXTURE && c != OPT_ENGINE &&
            c != OPT_THREADS && c != OPT_LIMIT && c != OPT_REPLAY && li >= 0)
            o->spec_option = longopts[li].name;
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
        case OPT_RANGE:
            o->range = optarg;
            break;
        case OPT_EASING:
            o->easing = optarg;
            break;
        case OPT_SHAPE_WEIGHTS:
            o->shape_weights = optarg;
            break;
        case OPT_TEXTURE_WEIGHTS:
            o->texture_weights = optarg;
            break;
        case OPT_FRAME_ON:
            o->frame_on = optarg;
            break;
        case OPT_CAMERA_FROM:
            o->camera_from = optarg;
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
        case OPT_REPLAY:
            o->replay = optarg;
            break;
        case OPT_ENGINE:
            o->engine_given = 1;
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
        case OPT_SHAPE_SCALE:
            o->shape_scale = optarg;
            break;
        case OPT_TEXTURE_SCALE:
            o->texture_scale = optarg;
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
        case OPT_HIDE_MATERIALS:
            o->hide_materials = optarg;
            break;
        case OPT_TARGET_MORPH:
            if (strlen(optarg) == 0 || strlen(optarg) > MESH_MORPH_TARGET_MAX)
                return md_fail(err, MD_EINVAL,
                               "--target-morph needs a morph target name or index of at most %d "
                               "characters",
                               MESH_MORPH_TARGET_MAX);
            o->paths.target_morph = optarg;
            o->spec_option = o->spec_option ? o->spec_option : "target-morph";
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
    if (o->replay != NULL) {
        if (argc - optind != 0 || o->spec_option != NULL)
            return md_fail(err, MD_EINVAL,
                           "--replay takes the inputs and every option of the job from the "
                           "manifest: give only -o, --engine, --threads, --limit, -q or -v with "
                           "it (got %s%s)",
                           argc - optind != 0 ? "" : "--",
                           argc - optind != 0 ? argv[optind] : o->spec_option);
        if (o->out_dir == NULL)
            return md_fail(err, MD_EINVAL, "-o OUT is required: the folder to write frames to");
        int rc = cli_replay_load(o->replay, &o->lim, &o->spec, &o->replayed, err);
        if (rc != 0)
            return rc;
        o->paths.source = o->replayed.source;
        o->paths.target = o->replayed.target;
        o->paths.source_texture = o->replayed.source_texture;
        o->paths.target_texture = o->replayed.target_texture;
        o->paths.target_morph = o->replayed.target_morph;
        if (!o->engine_given && strcmp(o->replayed.engine, "cpu") == 0)
            o->engine.kind = ENG_KIND_CPU;
        else if (!o->engine_given && strcmp(o->replayed.engine, "cuda") == 0)
            o->engine.kind = ENG_KIND_CUDA;
        if (strcmp(o->replayed.version, MORPHD_VERSION) != 0)
            md_log(MD_LOG_WARN,
                   "--replay: the manifest was written by morph %s, this is %s: outputs may "
                   "differ where the renderer changed",
                   o->replayed.version, MORPHD_VERSION);
        return 0;
    }
    if (o->paths.target_morph != NULL) {
        if (argc - optind != 1)
            return md_fail(err, MD_EINVAL,
                           "--target-morph morphs SOURCE toward its own morph target: give one "
                           "mesh file, got %d file argument(s)",
                           argc - optind);
        o->paths.source = argv[optind];
        o->paths.target = argv[optind];
    } else if (argc - optind != 2) {
        return md_fail(err, MD_EINVAL,
                       "expected SOURCE and TARGET mesh files, got %d file argument(s)",
                       argc - optind);
    } else {
        o->paths.source = argv[optind];
        o->paths.target = argv[optind + 1];
    }
    if (o->out_dir == NULL)
        return md_fail(err, MD_EINVAL, "-o OUT is required: the folder to write frames to");
    if (o->frames != NULL && o->weights != NULL)
        return md_fail(err, MD_EINVAL, "--frames and --weights exclude each other");
    if (o->weights != NULL && (o->range != NULL || o->easing != NULL))
        return md_fail(err, MD_EINVAL,
                       "%s spreads the weights of --frames; explicit --weights are used as given",
                       o->range != NULL ? "--range" : "--easing");

    job_spec *s = &o->spec;
    int rc = 0;
    if (rc == 0 && o->frames)
        rc = job_spec_set_frames(s, o->frames, &o->lim, err);
    if (rc == 0 && o->weights)
        rc = job_spec_set_weights(s, o->weights, &o->lim, err);
    if (rc == 0 && o->range)
        rc = job_spec_set_range(s, o->range, err);
    if (rc == 0 && o->easing)
        rc = job_spec_set_easing(s, o->easing, err);
    if (rc == 0 && o->shape_weights)
        rc = job_spec_set_shape_weights(s, o->shape_weights, &o->lim, err);
    if (rc == 0 && o->texture_weights)
        rc = job_spec_set_texture_weights(s, o->texture_weights, &o->lim, err);
    if (rc == 0 && o->size)
        rc = job_spec_set_size(s, o->size, &o->lim, err);
    if (rc == 0 && o->samples)
        rc = job_spec_set_samples(s, o->samples, &o->lim, err);
    if (rc == 0 && o->ortho)
        rc = job_spec_set_ortho(s, o->ortho, err);
    if (o->camera != NULL && o->camera_from != NULL)
        return md_fail(err, MD_EINVAL, "--camera and --camera-from exclude each other");
    if (rc == 0 && o->camera)
        rc = job_spec_set_camera(s, o->camera, err);
    if (rc == 0 && o->camera_from)
        rc = cli_camera_from(s, o->camera_from, err);
    if (rc == 0 && o->frame_on)
        rc = cli_frame_on(s, o->frame_on, &o->lim, err);
    if (rc == 0 && o->background)
        rc = job_spec_set_background(s, o->background, err);
    if (rc == 0 && o->png_level)
        rc = job_spec_set_png_level(s, o->png_level, err);
    if (rc == 0 && o->outputs)
        rc = job_spec_set_outputs(s, o->outputs, err);
    if (rc == 0 && o->align)
        rc = job_spec_set_align(s, o->align, err);
    if (rc == 0 && o->heatmap_scale && o->shape_scale)
        rc = md_fail(err, MD_EINVAL,
                     "--heatmap-scale is the shorthand for --shape-scale: give one of them "
                     "(--texture-scale sets the texture figures' range)");
    if (rc == 0 && o->heatmap_scale)
        rc = job_spec_set_heatmap_scale(s, o->heatmap_scale, err);
    if (rc == 0 && o->shape_scale)
        rc = job_spec_set_shape_scale(s, o->shape_scale, err);
    if (rc == 0 && o->texture_scale)
        rc = job_spec_set_texture_scale(s, o->texture_scale, err);
    if (rc == 0 && o->mesh_format)
        rc = job_spec_set_mesh_format(s, o->mesh_format, err);
    if (rc == 0 && o->fps)
        rc = job_spec_set_fps(s, o->fps, err);
    if (rc == 0 && o->loop)
        rc = job_spec_set_loop(s, o->loop, err);
    if (rc == 0 && o->hide_materials)
        rc = job_spec_set_hide_materials(s, o->hide_materials, err);
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

/* ---- Artifacts into OUT (engine threads, mesh export threads and the main thread) ---- */

typedef struct run_sink {
    const char *out_dir;
    int quiet;
    pthread_mutex_t mkdir_lock;
    cli_progress *progress;
    const job_input_paths *paths;
    job_load_stats load;
    const char *replay_of; /* --replay MANIFEST, recorded in the new manifest */
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

static void sink_frame_stored(void *user, uint32_t index)
{
    (void)index;
    run_sink *s = user;
    cli_progress_tick(s->progress);
}

/* inputs.<role>: a texture override's path instead of the material's. */
static void note_texture(json_t *input, const char *texture_override)
{
    size_t i;
    json_t *material;
    json_array_foreach(json_object_get(input, "materials"), i, material)
    {
        json_t *texture = json_object_get(material, "texture");
        if (texture_override != NULL && json_is_object(texture))
            json_object_set_new(texture, "path", job_pipe_text_json(texture_override));
    }
}

/* manifest.json: the pipeline's fields (the input paths came with the job), plus texture
 * overrides, when it was made and the load's stages. */
static int sink_manifest(void *user, json_t *root, md_error *err)
{
    run_sink *s = user;
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(root, "created_at", json_string(created));
    json_t *inputs = json_object_get(root, "inputs");
    note_texture(json_object_get(inputs, "source"), s->paths->source_texture);
    note_texture(json_object_get(inputs, "target"), s->paths->target_texture);
    /* What --replay needs: every input's SHA-256 and which textures were given by hand. */
    int rc =
        cli_replay_note_inputs(inputs, s->paths->source_texture, s->paths->target_texture, err);
    if (rc != 0)
        return rc;
    if (s->replay_of != NULL)
        json_object_set_new(root, "replay_of", job_pipe_text_json(s->replay_of));
    json_t *timings = json_object_get(root, "timings_s");
    json_object_set_new(timings, "parse", json_real(s->load.parse_s));
    json_object_set_new(timings, "texture_decode", json_real(s->load.texture_s));
    json_object_set_new(timings, "texture_pad", json_real(s->load.pad_s));
    /* The two sides load on two threads at once (job_inputs_load); load is their wall time. */
    json_t *note = json_object_get(root, "timings_note");
    if (json_is_string(note)) {
        char text[1024];
        snprintf(text, sizeof text,
                 "%s; parse, texture_decode and texture_pad are summed over the two loading "
                 "threads, load is wall-clock",
                 json_string_value(note));
        json_object_set_new(root, "timings_note", json_string(text));
    }
    return 0;
}

/* ---- The command ---- */

static FILE *open_session_log(const char *out_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/session.log", out_dir);
    return fopen(path, "w");
}

/* Notes on morph targets in the manifest's inputs (and the log): the target a --target-morph
 * run used, or the targets a mesh file has that a plain run ignores. */
static void add_morph_notes(json_t *inputs, const job_input_paths *paths, const job_inputs *in)
{
    char note[1024];
    if (paths->target_morph != NULL) {
        mesh_note_morph_target(paths->target_morph, paths->source, note, sizeof note);
        json_t *target = json_object_get(inputs, "target");
        json_object_set_new(target, "morph_target", json_string(paths->target_morph));
        json_object_set_new(target, "note", job_pipe_text_json(note));
        md_log(MD_LOG_INFO, "target: %s", note);
        return;
    }
    for (int side = 0; side < 2; side++) {
        const char *path = side ? paths->target : paths->source;
        if (!mesh_note_unused_morph_targets(job_inputs_mesh(in, side), path, note, sizeof note))
            continue;
        json_object_set_new(json_object_get(inputs, side ? "target" : "source"), "note",
                            job_pipe_text_json(note));
        md_log(MD_LOG_WARN, "%s", note);
    }
}

int cli_run(int argc, char **argv)
{
    md_error err;
    int rc = cli_run_job(argc, argv, 0, &err);
    return rc == 1 ? 0 : md_err_exit_code(rc);
}

int cli_run_job(int argc, char **argv, int check_only, md_error *out_err)
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
    job_pipe *pipe = NULL;
    json_t *inputs_json = NULL; /* the manifest's input paths */
    FILE *log = NULL;
    run_sink sink = {.paths = &o.paths};
    pthread_mutex_init(&sink.mkdir_lock, NULL);
    int rc = parse_options(argc, argv, &o, &err);
    if (rc == 1) /* --help */
        goto done;
    if (rc != 0) {
        if (!check_only)
            fprintf(stderr, "morph run: %s\n", err.msg);
        goto done;
    }
    if (check_only)
        goto done;
    if (o.verbose)
        md_log_set_stderr_level(MD_LOG_INFO);
    sink.out_dir = o.out_dir;
    sink.quiet = o.quiet;
    sink.replay_of = o.replay;

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

    double load_start = md_now();
    rc = job_inputs_load(&o.paths, &o.lim, &in, &sink.load, &err);
    double load_s = md_now() - load_start;
    if (rc == 0)
        rc = job_inputs_hide(in, &o.spec, &err);
    if (rc != 0)
        goto fail;
    for (int side = 0; side < 2; side++) {
        const mesh *m = job_inputs_mesh(in, side);
        md_log(MD_LOG_INFO, "%s: %s, %u vertices, %u triangles, %u uvs, %u material(s)",
               side ? "target" : "source", mesh_format(m), mesh_vertex_count(m),
               mesh_triangle_count(m), mesh_uv_count(m), mesh_material_count(m));
        if (mesh_opacity_from_tf(m))
            md_log(MD_LOG_INFO,
                   "%s: its MTL writes Tf as opacity (all 0 0 0 or 1 1 1): materials without d "
                   "or Tr took their Tf as opacity",
                   side ? "target" : "source");
    }
    const mesh_hide_stats *hidden = job_inputs_hidden(in);
    if (o.spec.hide_count > 0)
        md_log(MD_LOG_INFO,
               "hidden materials: %u triangles and %u vertices taken out of both meshes",
               hidden->triangles, hidden->vertices);
    const job_load_stats *load = &sink.load;
    md_log(MD_LOG_INFO,
           "loaded in %.3f s (thread-seconds: parse %.3f, textures %.3f, padding %.3f)", load_s,
           load->parse_s, load->texture_s, load->pad_s);

    rc = eng_new(&o.engine, &engine, &err);
    if (rc == 0)
        rc = job_pipe_new(engine, &o.lim, 1, &pipe, &err);
    if (rc != 0)
        goto fail;
    char source_stem[128], target_stem[128];
    job_path_stem(o.paths.source, source_stem, sizeof source_stem);
    if (o.paths.target_morph != NULL) {
        /* Frames name the target by the morph target, as "<file>-<target>". */
        char named[400];
        snprintf(named, sizeof named, "%s-%s", source_stem, o.paths.target_morph);
        job_path_stem(named, target_stem, sizeof target_stem);
    } else {
        job_path_stem(o.paths.target, target_stem, sizeof target_stem);
    }
    job_pipe_sink hooks = {.put = sink_put,
                           .log = sink_log,
                           .frame_stored = sink_frame_stored,
                           .manifest = sink_manifest,
                           .user = &sink};
    inputs_json =
        json_pack("{s:{s:o},s:{s:o}}", "source", "path", job_pipe_text_json(o.paths.source),
                  "target", "path", job_pipe_text_json(o.paths.target));
    if (inputs_json != NULL)
        add_morph_notes(inputs_json, &o.paths, in);
    job_pipe_job job = {.spec = &o.spec,
                        .inputs = in,
                        .stems = {source_stem, target_stem},
                        .inputs_json = inputs_json,
                        .start_mono = start,
                        .load_s = load_s,
                        .sink = &hooks};
    rc = job_pipe_add(pipe, &job, &err);
    if (rc != 0)
        goto fail;
    char wanted[128];
    job_outputs_format(o.spec.outputs, wanted, sizeof wanted);
    md_log(MD_LOG_INFO, "outputs: %s", wanted);
    uint32_t frame_count = job_pipe_job_totals(pipe, 0).frame_total;
    sink.progress = cli_progress_new("frames", frame_count, !o.quiet);
    md_log(MD_LOG_INFO, "rendering %u frame(s) at %dx%d, %d samples, engine %s", frame_count,
           o.spec.width, o.spec.height, o.spec.samples, eng_name(engine));

    rc = job_pipe_render(pipe, &err);
    cli_progress_free(sink.progress);
    sink.progress = NULL;
    if (rc == 0)
        rc = job_pipe_error(pipe, 0, &err); /* a frame that could not be written */
    if (rc == 0)
        rc = job_pipe_outputs(pipe, 0, &err);
    if (rc == 0)
        rc = job_pipe_manifest(pipe, 0, &err);
    if (rc != 0)
        goto fail;
    const eng_stats *stats = job_pipe_stats(pipe);
    job_pipe_totals totals = job_pipe_job_totals(pipe, 0);
    double total_s = md_now() - start;
    md_log(MD_LOG_INFO,
           "done in %.3f s: morph %.3f, raster %.3f, shade %.3f, encode %.3f, write %.3f "
           "(thread-seconds), render wall %.3f s, %llu bytes of PNG",
           total_s, stats->morph_s, stats->raster_s, stats->shade_s, totals.encode_s,
           totals.write_s, stats->wall_s, (unsigned long long)totals.bytes);
    if (!o.quiet)
        printf("morph: %u frames in %s/frames, %u other artifact(s), manifest "
               "%s/manifest.json (%.2f s, engine %s, %d thread%s)\n",
               frame_count, o.out_dir, job_outputs_count(job_pipe_outputs_of(pipe, 0)), o.out_dir,
               total_s, eng_name(engine), stats->threads, stats->threads == 1 ? "" : "s");
    goto done;

fail:
    md_log(MD_LOG_ERROR, "%s", err.msg); /* to stderr and session.log */
done:
    cli_progress_free(sink.progress);
    md_log_set_file(NULL);
    if (log != NULL)
        fclose(log);
    job_pipe_free(pipe); /* before the inputs and spec it borrows */
    json_decref(inputs_json);
    pthread_mutex_destroy(&sink.mkdir_lock);
    eng_free(engine);
    job_inputs_free(in);
    job_spec_free(&o.spec);
    cli_replay_free(&o.replayed);
    *out_err = err;
    return rc;
}
