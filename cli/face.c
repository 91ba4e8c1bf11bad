/*
 * face.c — `morph transform BASE --from A --to B --amount K[,K2,...] -o OUT` and
 * `morph average M1 M2 ... [--mesh-weights W,...] -o OUT`: face-space stimuli made from several
 * faces of one topology, on this machine with no server (issue 12, items 4 and 5).
 *
 * Main thread: parse options, load every mesh (textures padded, as `morph run` does), compute
 * the derived meshes with jobs/facespace.h (the arithmetic the worker shares), write each as
 * OBJ + MTL (+ texture PNG), render them all in one engine batch with one camera (engine
 * threads write the PNGs) and write manifest.json. Exit status as every subcommand: 0, 1
 * (failure), 2 (bad usage or input).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/md.h"
#include "cli/cli.h"
#include "jobs/facespace.h"
#include "jobs/job.h"
#include "jobs/pipeline.h"
#include "version.h"

/* ---- Usage ---- */

static const char common_help[] =
    "  -o, --output DIR           output folder (created)\n"
    "      --size WxH             frame size in pixels (512x512)\n"
    "      --samples N            supersamples per pixel, a square: 1, 4, 9, 16 (4)\n"
    "      --camera SPEC          \"eye=x,y,z;target=x,y,z;up=x,y,z;fov=deg\" (default: framed\n"
    "                             on the results' bounds, +Y up, looking down -Z, fov 30)\n"
    "      --frame-on MESH        fit the auto camera to MESH's bounds instead, so renders of\n"
    "                             different jobs framed on one reference share one camera\n"
    "      --background RRGGBB    background colour (ffffff)\n"
    "      --png-level 0..9       zlib level of the PNGs (1)\n"
    "      --engine cpu|cuda|auto render engine (auto: CUDA when present, else CPU)\n"
    "      --threads N            CPU engine threads (0: one per core; default 0)\n"
    "      --limit NAME=VALUE     raise or lower an input limit (repeatable; morph run --help\n"
    "                             lists them)\n"
    "  -q, --quiet                no summary line\n"
    "  -h, --help                 this text\n"
    "\n"
    "Meshes are OBJ (with MTL), FBX, glTF/GLB, PLY or anything assimp reads, with the same\n"
    "vertices and triangles. Exit status: 0 success, 1 failure, 2 bad usage or bad input.\n";

static void transform_usage(FILE *f)
{
    fprintf(f,
            "Usage: morph transform BASE --from A --to B --amount K[,K2,...] -o OUT [options]\n"
            "\n"
            "Moves BASE along the direction from face A to face B: positions BASE + K*(B - A)\n"
            "(K = 1 gives BASE the whole difference; -3..3). Writes\n"
            "  OUT/transformed.obj, .mtl (+ transformed_texture.png)  the new face\n"
            "  OUT/transformed.png    its render\n"
            "  OUT/manifest.json      inputs (with SHA-256), amounts, camera, files\n"
            "With a list of amounts, one mesh and one render per amount:\n"
            "  OUT/transformed_NNNN_<pppp>.obj (.mtl, _texture.png) and its render\n"
            "  OUT/transformed_NNNN_<pppp>.png,\n"
            "  NNNN the index and pppp the amount in permille (mPPPP when negative), so names\n"
            "  sort in order; every render shares one camera.\n"
            "The texture is BASE's + K*(B's - A's), per texel in CIE L*a*b*, clipped to the\n"
            "sRGB gamut, when the three meshes share one UV layout and texture size; otherwise\n"
            "the result is untextured and the manifest's texture_note says why.\n"
            "\n"
            "Options:\n"
            "      --from A               the face the direction starts from\n"
            "      --to B                 the face it points to\n"
            "      --amount K[,K2,...]    how far to move, each -3..3\n"
            "%s",
            common_help);
}

static void average_usage(FILE *f)
{
    fprintf(f,
            "Usage: morph average M1 M2 [M3 ...] [--mesh-weights W1,W2,...] -o OUT [options]\n"
            "\n"
            "Averages faces: positions sum(w_i * M_i). Writes\n"
            "  OUT/average.obj, .mtl (+ average_texture.png)  the average face\n"
            "  OUT/average.png        its render\n"
            "  OUT/manifest.json      inputs (with SHA-256), weights as given and used, camera\n"
            "The texture is the weighted average of the textures (their sRGB values) when all\n"
            "meshes share one UV layout and texture size; otherwise the result is untextured\n"
            "and the manifest's texture_note says why. A continuum toward the average is an\n"
            "ordinary `morph run FACE OUT/average.obj`.\n"
            "\n"
            "Options:\n"
            "      --mesh-weights W,...   one weight per mesh, each 0 or more, positive sum;\n"
            "                             normalised to sum 1 (default: equal weights)\n"
            "%s",
            common_help);
}

/* ---- Options ---- */

enum {
    OPT_FROM = 256,
    OPT_TO,
    OPT_AMOUNT,
    OPT_MESH_WEIGHTS,
    OPT_SIZE,
    OPT_SAMPLES,
    OPT_CAMERA,
    OPT_FRAME_ON,
    OPT_BACKGROUND,
    OPT_PNG_LEVEL,
    OPT_ENGINE,
    OPT_THREADS,
    OPT_LIMIT,
};

typedef struct face_opts {
    int transform; /* else average */
    const char *out_dir;
    const char *from, *to, *amount, *mesh_weights;
    const char **paths; /* positional meshes; borrowed from argv */
    uint32_t path_count;
    const char *frame_on;
    job_spec spec;
    md_limits lim;
    eng_config engine;
    int quiet;
} face_opts;

/* 0, 1 for --help, or an error (MD_EINVAL) with the message in err. */
static int parse_options(int argc, char **argv, face_opts *o, md_error *err)
{
    static const struct option longs[] = {
        {"output", required_argument, NULL, 'o'},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"amount", required_argument, NULL, OPT_AMOUNT},
        {"mesh-weights", required_argument, NULL, OPT_MESH_WEIGHTS},
        {"size", required_argument, NULL, OPT_SIZE},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"camera", required_argument, NULL, OPT_CAMERA},
        {"frame-on", required_argument, NULL, OPT_FRAME_ON},
        {"background", required_argument, NULL, OPT_BACKGROUND},
        {"png-level", required_argument, NULL, OPT_PNG_LEVEL},
        {"engine", required_argument, NULL, OPT_ENGINE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = o->transform ? "transform" : "average";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:qh", longs, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'o':
            o->out_dir = optarg;
            break;
        case OPT_FROM:
        case OPT_TO:
        case OPT_AMOUNT:
            if (!o->transform)
                return md_fail(err, MD_EINVAL, "%s belongs to morph transform, not average",
                               argv[optind - 2]);
            *(c == OPT_FROM ? &o->from : c == OPT_TO ? &o->to : &o->amount) = optarg;
            break;
        case OPT_MESH_WEIGHTS:
            if (o->transform)
                return md_fail(err, MD_EINVAL,
                               "--mesh-weights belongs to morph average, not transform");
            o->mesh_weights = optarg;
            break;
        case OPT_SIZE:
            rc = job_spec_set_size(&o->spec, optarg, &o->lim, err);
            break;
        case OPT_SAMPLES:
            rc = job_spec_set_samples(&o->spec, optarg, &o->lim, err);
            break;
        case OPT_CAMERA:
            rc = job_spec_set_camera(&o->spec, optarg, err);
            break;
        case OPT_FRAME_ON:
            o->frame_on = optarg;
            break;
        case OPT_BACKGROUND:
            rc = job_spec_set_background(&o->spec, optarg, err);
            break;
        case OPT_PNG_LEVEL:
            rc = job_spec_set_png_level(&o->spec, optarg, err);
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
            char *end = NULL;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || n < 0 || n > 1024)
                return md_fail(err, MD_EINVAL,
                               "--threads: '%s' is not a number from 0 (all cores) to 1024",
                               optarg);
            o->engine.threads = (int)n;
            break;
        }
        case OPT_LIMIT:
            rc = md_limits_set(&o->lim, optarg, err);
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            return 1;
        default:
            return md_fail(err, MD_EINVAL, "unknown or incomplete option '%s' (morph %s --help)",
                           argv[optind - 1], cmd);
        }
        if (rc != 0)
            return rc;
    }
    o->paths = (const char **)argv + optind;
    o->path_count = (uint32_t)(argc - optind);
    if (o->out_dir == NULL)
        return md_fail(err, MD_EINVAL, "give an output folder with -o OUT (morph %s --help)", cmd);
    if (o->transform) {
        if (o->path_count != 1)
            return md_fail(err, MD_EINVAL,
                           "morph transform takes one BASE mesh, got %u (morph transform --help)",
                           o->path_count);
        if (o->from == NULL || o->to == NULL || o->amount == NULL)
            return md_fail(err, MD_EINVAL, "morph transform needs --from A, --to B and --amount K");
        return 0;
    }
    return job_face_average_count_ok(o->path_count, &o->lim, err);
}

/* ---- Outputs ---- */

static int put_file(void *user, const char *name, const char *content_type, const void *bytes,
                    size_t len, md_error *err)
{
    (void)content_type;
    const char *dir = user;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return md_write_file_atomic(path, bytes, len, err);
}

static void log_line(void *user, md_log_level level, const char *msg)
{
    (void)user;
    md_log(level, "%s", msg);
}

/* inputs[] of the manifest: path, role, vertex count and SHA-256 of each mesh file. */
static int input_json(json_t *inputs, const char *role, const char *path, const mesh *m,
                      md_error *err)
{
    char hex[65];
    int rc = md_sha256_file(path, hex, err);
    if (rc != 0)
        return rc;
    json_array_append_new(inputs, json_pack("{s:s,s:o,s:s,s:I,s:I}", "role", role, "path",
                                            job_pipe_text_json(path), "sha256", hex, "vertices",
                                            (json_int_t)mesh_vertex_count(m), "triangles",
                                            (json_int_t)mesh_triangle_count(m)));
    return 0;
}

/* ---- The commands ---- */

static int face_main(int argc, char **argv, int transform)
{
    const char *cmd = transform ? "transform" : "average";
    char prog[32];
    snprintf(prog, sizeof prog, "morph %s", cmd);
    md_log_set_program(prog);
    face_opts o;
    memset(&o, 0, sizeof o);
    o.transform = transform;
    md_limits_default(&o.lim);
    job_spec_init(&o.spec);
    o.engine.kind = ENG_KIND_AUTO;
    md_error err;
    md_error_clear(&err);
    mesh **inputs = NULL;
    const char **names = NULL;
    uint32_t input_count = 0;
    eng *engine = NULL;
    json_t *manifest = NULL;
    double start = md_now();

    int rc = parse_options(argc, argv, &o, &err);
    if (rc == 1) {
        (transform ? transform_usage : average_usage)(stdout);
        rc = 0;
        goto done;
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        goto done;
    }
    if (!o.quiet)
        md_log_set_stderr_level(MD_LOG_INFO);
    if (o.frame_on != NULL && (rc = cli_frame_on(&o.spec, o.frame_on, &o.lim, &err)) != 0)
        goto fail;
    if (transform) {
        o.spec.kind = JOB_KIND_TRANSFORM;
        rc = job_face_amounts(o.amount, "--amount", &o.lim, &o.spec.amounts, &o.spec.amount_count,
                              &err);
        input_count = 3;
    } else {
        o.spec.kind = JOB_KIND_AVERAGE;
        input_count = o.path_count;
        if (o.mesh_weights != NULL) {
            int normalised = 0;
            o.spec.mesh_weights = md_calloc(input_count, sizeof *o.spec.mesh_weights);
            o.spec.mesh_weight_count = input_count;
            rc = o.spec.mesh_weights == NULL
                     ? md_fail(&err, MD_ENOMEM, "out of memory")
                     : job_face_weights(o.mesh_weights, "--mesh-weights", input_count,
                                        o.spec.mesh_weights, &normalised, &err);
            if (rc == 0 && normalised && !o.quiet)
                fprintf(stderr, "%s: mesh weights normalised to sum 1\n", prog);
        }
    }
    if (rc != 0)
        goto fail;
    names = md_calloc(input_count, sizeof *names);
    inputs = md_calloc(input_count, sizeof *inputs);
    if (names == NULL || inputs == NULL) {
        rc = md_fail(&err, MD_ENOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < input_count; i++)
        names[i] = !transform ? o.paths[i] : i == 0 ? o.paths[0] : i == 1 ? o.from : o.to;
    for (uint32_t i = 0; i < input_count; i++) {
        rc = mesh_load(names[i], &o.lim, &inputs[i], &err);
        if (rc == 0)
            rc = mesh_pad_textures(inputs[i], &err);
        if (rc != 0)
            goto fail;
    }
    if ((rc = job_face_check_topology((const mesh *const *)inputs, names, input_count, &err)) != 0)
        goto fail;
    if ((rc = md_mkdir_p(o.out_dir, &err)) != 0)
        goto fail;

    manifest = json_pack("{s:s,s:s,s:[]}", "kind", cmd, "morphd_version", MORPHD_VERSION, "inputs");
    json_t *jin = json_object_get(manifest, "inputs");
    for (uint32_t i = 0; i < input_count; i++) {
        const char *role = transform ? (i == 0 ? "base" : i == 1 ? "from" : "to") : "mesh";
        if ((rc = input_json(jin, role, names[i], inputs[i], &err)) != 0)
            goto fail;
    }
    if (o.mesh_weights != NULL)
        json_object_set_new(manifest, "mesh_weights_given", json_string(o.mesh_weights));
    if ((rc = eng_new(&o.engine, &engine, &err)) != 0)
        goto fail;
    job_face_sink sink = {.put = put_file, .log = log_line, .user = (void *)o.out_dir};
    rc = job_face_produce(engine, &o.spec, &o.lim, (const mesh *const *)inputs, names, input_count,
                          &sink, manifest, NULL, &err);
    if (rc != 0)
        goto fail;
    json_object_set_new(manifest, "spec", job_spec_to_json(&o.spec));
    char *text = json_dumps(manifest, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    rc = text == NULL ? md_fail(&err, MD_ENOMEM, "out of memory")
                      : put_file((void *)o.out_dir, "manifest.json", "application/json", text,
                                 strlen(text), &err);
    free(text);
    if (rc != 0)
        goto fail;
    if (!o.quiet)
        printf("%s: %u mesh(es) and render(s) in %s, manifest %s/manifest.json (%.2f s, engine "
               "%s)\n",
               prog, transform ? o.spec.amount_count : 1, o.out_dir, o.out_dir, md_now() - start,
               eng_name(engine));
    goto done;

fail:
    fprintf(stderr, "%s: %s\n", prog, err.msg);
done:
    for (uint32_t i = 0; inputs != NULL && i < input_count; i++)
        mesh_free(inputs[i]);
    md_free(inputs);
    md_free(names);
    json_decref(manifest);
    eng_free(engine);
    job_spec_free(&o.spec);
    return md_err_exit_code(rc);
}

int cli_transform(int argc, char **argv)
{
    return face_main(argc, argv, 1);
}

int cli_average(int argc, char **argv)
{
    return face_main(argc, argv, 0);
}
