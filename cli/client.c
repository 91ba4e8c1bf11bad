/*
 * client.c — the `morph` commands that talk to a morphd api: submit, status, wait, cancel and
 * delete (fetch is in fetch.c), plus what they share (client.h). Main thread only; one request
 * at a time through http.c.
 *
 * Errors: bad usage is reported as "morph submit: …" before any request; anything the server
 * or the network says is reported as "morph: 422 topology-mismatch: …" (http_problem()). Exit
 * codes come from base/md.h's table: 2 for bad usage or input the server refused (4xx), 1 for
 * failures (unreachable server, 5xx, a failed or canceled job).
 */
#define _GNU_SOURCE
#include "cli/client.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/sse.h"
#include "jobs/record.h"
#include "jobs/spec.h"

/* ---- Shared ---- */

int client_open(client *cl, md_error *err)
{
    const char *server = cl->server_arg ? cl->server_arg : getenv("MORPHD_SERVER");
    if (server == NULL || server[0] == '\0')
        server = CLIENT_DEFAULT_SERVER;
    if ((size_t)snprintf(cl->server, sizeof cl->server, "%s", server) >= sizeof cl->server)
        return md_fail(err, MD_EINVAL, "server URL is longer than %zu bytes",
                       sizeof cl->server - 1);
    int rc = http_server_check(cl->server, err);
    if (rc != 0)
        return rc;
    const char *key = cl->api_key_arg ? cl->api_key_arg : getenv("MORPHD_API_KEY");
    if (key != NULL && key[0] == '\0')
        key = NULL;
    for (const char *p = key; p && *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return md_fail(err, MD_EINVAL, "the API key contains a control character");
    cl->http.server = cl->server;
    cl->http.api_key = key;
    return http_init(err);
}

void client_close(client *cl)
{
    (void)cl;
    http_cleanup();
}

int client_job_id_check(const char *id, md_error *err)
{
    size_t n = strlen(id);
    int ok = n == 32;
    for (size_t i = 0; ok && i < n; i++)
        ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!ok)
        return md_fail(err, MD_EINVAL, "'%.64s' is not a job id (32 lowercase hex digits)", id);
    return 0;
}

int client_json_object(const http_response *r, json_t **out, md_error *err)
{
    json_error_t jerr;
    *out = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return md_fail(err, MD_EINTERNAL,
                       "the server answered %ld with a body that is not a "
                       "JSON object (%s)",
                       r->status, jerr.text);
    }
    return 0;
}

int client_job_get(const client *cl, const char *id, json_t **job, http_response *r, md_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "/jobs/%s", id);
    *job = NULL;
    int rc = http_get(&cl->http, path, r, err);
    if (rc == 0 && (r->status < 200 || r->status >= 300))
        rc = http_problem(r, err);
    if (rc == 0)
        rc = client_json_object(r, job, err);
    return rc;
}

int client_exit(const char *cmd, int rc, const md_error *err)
{
    if (rc == 0)
        return 0;
    if (cmd != NULL)
        fprintf(stderr, "morph %s: %s\n", cmd, err->msg);
    else
        fprintf(stderr, "morph: %s\n", err->msg);
    return md_err_exit_code(rc);
}

int client_bad_option(int c, char **argv, const char *cmd, md_error *err)
{
    if (c == ':')
        return md_fail(err, MD_EINVAL, "option %s needs a value", argv[optind - 1]);
    return md_fail(err, MD_EINVAL, "unknown option '%s' (see morph %s --help)", argv[optind - 1],
                   cmd);
}

static const char *jstr(const json_t *obj, const char *key, const char *fallback)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : fallback;
}

static long long jint(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

/* "running (rendering, 17/41 frames)" */
static void job_state_text(const json_t *job, char *out, size_t cap)
{
    const json_t *progress = json_object_get(job, "progress");
    snprintf(out, cap, "%s (%s, %lld/%lld frames)", jstr(job, "status", "?"),
             jstr(progress, "stage", "?"), jint(progress, "frames_done"),
             jint(progress, "frames_total"));
}

static void print_job(const json_t *job)
{
    char state[256];
    job_state_text(job, state, sizeof state);
    printf("job        %s\n", jstr(job, "id", "?"));
    printf("kind       %s\n", jstr(job, "kind", "?"));
    printf("status     %s\n", state);
    printf("created    %s\n", jstr(job, "created_at", "-"));
    printf("started    %s\n", jstr(job, "started_at", "-"));
    printf("finished   %s\n", jstr(job, "finished_at", "-"));
    const json_t *in = json_object_get(job, "inputs");
    if (json_is_object(in)) {
        printf("inputs     %lld vertices, %lld faces, %lld texture(s)", jint(in, "vertices"),
               jint(in, "faces"), jint(in, "textures"));
        const char *sides[] = {"source", "target", "mesh"};
        for (int i = 0; i < 3; i++) {
            const json_t *side = json_object_get(in, sides[i]);
            if (json_is_object(side))
                printf("; %s %s (%s)", sides[i], jstr(side, "name", "?"),
                       jstr(side, "format", "?"));
        }
        printf("\n");
    }
    const char *label = jstr(json_object_get(job, "spec"), "label", NULL);
    if (label != NULL)
        printf("label      %s\n", label);
    const char *error = jstr(job, "error", NULL);
    if (error != NULL)
        printf("error      %s\n", error);
    const json_t *arts = json_object_get(job, "artifacts");
    unsigned long long bytes = 0;
    size_t i;
    const json_t *a;
    json_array_foreach(arts, i, a) bytes += (unsigned long long)jint(a, "bytes");
    printf("artifacts  %zu, %llu bytes\n", json_array_size(arts), bytes);
}

/* Parses a whole positive decimal number up to max. */
static int parse_count(const char *opt, const char *text, long max, long *out, md_error *err)
{
    char *end;
    long n = strtol(text, &end, 10);
    if (end == text || *end != '\0' || n < 1 || n > max)
        return md_fail(err, MD_EINVAL, "%s: '%s' is not a whole number from 1 to %ld", opt, text,
                       max);
    *out = n;
    return 0;
}

/* ---- submit ---- */

static void submit_usage(FILE *f)
{
    fprintf(
        f,
        "Usage: morph submit SOURCE TARGET [options]\n"
        "       morph submit SOURCE --target-morph NAME|INDEX [options]\n"
        "       morph submit --render MESH [--turntable N] [options]\n"
        "\n"
        "Uploads a morph job (two meshes with the same vertices and triangles: OBJ, FBX,\n"
        "glTF/GLB, PLY, …) or a render job (one mesh seen from several views) to a morphd\n"
        "api with POST /jobs, and prints the new job's id on stdout. The server checks the\n"
        "meshes before it answers: a bad mesh or a topology mismatch is refused at once.\n"
        "\n"
        "Options:\n"
        "      --source-texture IMG texture for SOURCE (PNG/JPEG), sent as part source_texture\n"
        "      --target-texture IMG texture for TARGET, sent as part target_texture\n"
        "      --target-morph T     morph SOURCE toward its own morph target T (a glTF target\n"
        "                           or FBX blend shape, by name or 0-based index; spec field\n"
        "                           target_morph): give no TARGET file\n"
        "      --hide-materials N,...  leave these materials (by name, in either mesh) out of\n"
        "                           the frames, figures, statistics and CSVs (spec field\n"
        "                           hide_materials; an unknown name is refused at submit)\n"
        "      --spec JSON|@FILE    the job spec (see docs/server.md), inline or from FILE;\n"
        "                           the options below override its fields\n"
        "      --frames N           N frames spread over the range (server default 41)\n"
        "      --range FROM:TO      the weights --frames spreads over, each -3..3 (0:1)\n"
        "      --easing E           linear, smoothstep or sine spacing of --frames (linear)\n"
        "      --weights W,W,...    explicit weights toward TARGET, each -3..3 (<0 an\n"
        "                           anti-face, >1 a caricature)\n"
        "      --shape-weights W,...   the shape's weight per frame (default: the weights)\n"
        "      --texture-weights W,... the texture's weight per frame (default: the weights;\n"
        "                           outside 0..1 extrapolated in CIE L*a*b*, gamut-clipped)\n"
        "      --frame-on MESH      sent as part frame_on: the camera is framed on MESH's\n"
        "                           bounds instead of the pair's (shared framing)\n"
        "      --camera-from MANIFEST  the camera of an earlier job's manifest.json, exactly\n"
        "      --size WxH           frame size in pixels (server default 512x512)\n"
        "      --samples N          supersamples per pixel: 1, 4, 9, 16 … (server default 4)\n"
        "      --label TEXT         free text kept with the job (at most 200 bytes)\n"
        "      --outputs LIST       frames, heatmaps, csv, meshes, video (comma-separated), or\n"
        "                           minimal (server default: frames,heatmaps) or all; the\n"
        "                           spec's align, shape_scale, texture_scale, mesh_format,\n"
        "                           fps and loop go in --spec\n"
        "      --render MESH        a render job of MESH instead of a morph (part mesh)\n"
        "      --turntable N        with --render: N views around the mesh, 10 degrees\n"
        "                           above it (default 36 unless the spec has views)\n"
        "      --idempotency-key K  a retry with the same K returns the same job, not a new one\n"
        "      --json               print the server's job JSON instead of the "
        "id\n" CLIENT_COMMON_HELP "\n"
        "Exit status: 0 accepted, 1 failure (server unreachable or failing), 2 bad usage or\n"
        "input the server refused (its message says why: \"morph: 422 topology-mismatch: …\").\n");
}

enum {
    OPT_SOURCE_TEXTURE = 256,
    OPT_TARGET_TEXTURE,
    OPT_SPEC,
    OPT_FRAMES,
    OPT_SIZE,
    OPT_SAMPLES,
    OPT_LABEL,
    OPT_RENDER,
    OPT_TURNTABLE,
    OPT_IDEMPOTENCY_KEY,
    OPT_OUTPUTS,
    OPT_WEIGHTS,
    OPT_RANGE,
    OPT_EASING,
    OPT_SHAPE_WEIGHTS,
    OPT_TEXTURE_WEIGHTS,
    OPT_FRAME_ON,
    OPT_CAMERA_FROM,
    OPT_TARGET_MORPH,
    OPT_HIDE_MATERIALS,
};

typedef struct submit_opts {
    const char *source, *target, *source_texture, *target_texture, *render;
    const char *spec, *frames, *size, *samples, *label, *turntable, *idempotency_key;
    const char *outputs;
    const char *weights, *range, *easing, *shape_weights, *texture_weights;
    const char *frame_on, *camera_from, *target_morph, *hide_materials;
    int json;
} submit_opts;

/* Checks that an input file can be read, so a typo is reported before anything is sent. */
static int check_input(const char *what, const char *path, md_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || access(path, R_OK) != 0)
        return md_fail(err, MD_ENOENT, "%s '%s': %s", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return md_fail(err, MD_EINVAL, "%s '%s' is not a regular file", what, path);
    return 0;
}

/* A JSON array of n floats; NULL when out of memory. */
static json_t *floats_json(const float *v, uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_real((double)v[i]));
    return a;
}

/* --weights, --range, --easing, --shape-weights, --texture-weights into spec, parsed by the
 * same setters as `morph run` (so a typo fails here with the option's name) under the default
 * limits; the server checks them again with its own. */
static int frame_list_json(const submit_opts *o, json_t *spec, md_error *err)
{
    if (o->frames != NULL && o->weights != NULL)
        return md_fail(err, MD_EINVAL, "--frames and --weights exclude each other");
    md_limits lim;
    md_limits_default(&lim);
    job_spec js;
    job_spec_init(&js);
    int rc = 0;
    if (o->weights != NULL) {
        rc = job_spec_set_weights(&js, o->weights, &lim, err);
        if (rc == 0) {
            json_object_set_new(spec, "weights", floats_json(js.weights, js.weight_count));
            json_object_del(spec, "frames");
        }
    }
    if (rc == 0 && o->range != NULL) {
        rc = job_spec_set_range(&js, o->range, err);
        if (rc == 0)
            json_object_set_new(spec, "range", json_pack("[f,f]", js.range_from, js.range_to));
    }
    if (rc == 0 && o->easing != NULL) {
        rc = job_spec_set_easing(&js, o->easing, err);
        if (rc == 0)
            json_object_set_new(spec, "easing", json_string(o->easing));
    }
    if (rc == 0 && o->shape_weights != NULL) {
        rc = job_spec_set_shape_weights(&js, o->shape_weights, &lim, err);
        if (rc == 0)
            json_object_set_new(spec, "shape_weights",
                                floats_json(js.shape_weights, js.shape_weight_count));
    }
    if (rc == 0 && o->texture_weights != NULL) {
        rc = job_spec_set_texture_weights(&js, o->texture_weights, &lim, err);
        if (rc == 0)
            json_object_set_new(spec, "texture_weights",
                                floats_json(js.texture_weights, js.texture_weight_count));
    }
    if (rc == 0 && o->camera_from != NULL) {
        /* The manifest's camera as the spec's explicit camera, written as the server reads it. */
        rc = cli_camera_from(&js, o->camera_from, err);
        json_t *full = rc == 0 ? job_spec_to_json(&js) : NULL;
        if (full != NULL)
            json_object_set(spec, "camera", json_object_get(full, "camera"));
        json_decref(full);
    }
    job_spec_free(&js);
    return rc;
}

/* The spec JSON: --spec first, then the single-field options over it. *out owned by caller. */
static int build_spec(const submit_opts *o, json_t **out, md_error *err)
{
    json_t *spec = NULL;
    int rc = 0;
    if (o->spec != NULL) {
        char *text = NULL;
        size_t len = 0;
        if (o->spec[0] == '@') {
            rc = md_read_file(o->spec + 1, 1u << 20, &text, &len, err);
            if (rc != 0)
                return md_error_prefix(err, "--spec: ");
        }
        json_error_t jerr;
        spec = text ? json_loadb(text, len, 0, &jerr) : json_loads(o->spec, 0, &jerr);
        md_free(text);
        if (!json_is_object(spec)) {
            rc = spec ? md_fail(err, MD_EINVAL, "--spec: the spec must be a JSON object")
                      : md_fail(err, MD_EINVAL, "--spec: line %d column %d: %s", jerr.line,
                                jerr.column, jerr.text);
            goto done;
        }
    } else {
        spec = json_object();
    }
    long n;
    if (o->frames != NULL) {
        rc = parse_count("--frames", o->frames, 1000000, &n, err);
        if (rc != 0)
            goto done;
        json_object_set_new(spec, "frames", json_integer(n));
        json_object_del(spec, "weights");
    }
    rc = frame_list_json(o, spec, err);
    if (rc != 0)
        goto done;
    if (o->size != NULL) {
        long w, h;
        char *x = strchr(o->size, 'x'), *end;
        w = strtol(o->size, &end, 10);
        if (x == NULL || end != x || w < 1 || w > 65536 ||
            (h = strtol(x + 1, &end, 10), end == x + 1 || *end != '\0' || h < 1 || h > 65536)) {
            rc = md_fail(err, MD_EINVAL, "--size: '%s' is not WIDTHxHEIGHT, e.g. 512x512", o->size);
            goto done;
        }
        json_object_set_new(spec, "width", json_integer(w));
        json_object_set_new(spec, "height", json_integer(h));
    }
    if (o->samples != NULL) {
        rc = parse_count("--samples", o->samples, 1024, &n, err);
        if (rc != 0)
            goto done;
        json_object_set_new(spec, "samples", json_integer(n));
    }
    if (o->label != NULL) {
        if (strlen(o->label) > 200) {
            rc = md_fail(err, MD_EINVAL, "--label: %zu bytes, at most 200", strlen(o->label));
            goto done;
        }
        json_object_set_new(spec, "label", json_string(o->label));
    }
    if (o->target_morph != NULL)
        json_object_set_new(spec, "target_morph", json_string(o->target_morph));
    if (o->hide_materials != NULL) {
        /* The names as a list (the server checks each against the meshes). */
        json_t *names = json_array();
        for (const char *p = o->hide_materials;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            json_array_append_new(names, json_stringn(p, len));
            if (comma == NULL)
                break;
            p = comma + 1;
        }
        json_object_set_new(spec, "hide_materials", names);
    }
    if (o->outputs != NULL) {
        /* "minimal"/"all"/"full" as a string, a list as the array openapi.yaml describes; the
         * names are checked by the server, whose message names spec.outputs[i]. */
        json_t *v;
        if (strcmp(o->outputs, "minimal") == 0 || strcmp(o->outputs, "all") == 0 ||
            strcmp(o->outputs, "full") == 0) {
            v = json_string(o->outputs);
        } else {
            v = json_array();
            for (const char *p = o->outputs; v != NULL;) {
                const char *stop = strchr(p, ',');
                size_t len = stop ? (size_t)(stop - p) : strlen(p);
                json_array_append_new(v, json_stringn(p, len));
                if (stop == NULL)
                    break;
                p = stop + 1;
            }
        }
        json_object_set_new(spec, "outputs", v);
    }
    if (o->render != NULL) {
        json_object_set_new(spec, "kind", json_string("render"));
        n = 36;
        if (o->turntable != NULL) {
            rc = parse_count("--turntable", o->turntable, 100000, &n, err);
            if (rc != 0)
                goto done;
        }
        if (o->turntable != NULL || json_object_get(spec, "views") == NULL)
            json_object_set_new(spec, "views",
                                json_pack("{s:{s:I,s:I}}", "turntable", "count", (json_int_t)n,
                                          "elevation", (json_int_t)10));
    }
done:
    if (rc != 0) {
        json_decref(spec);
        spec = NULL;
    }
    *out = spec;
    return rc;
}

static int submit_parse(int argc, char **argv, submit_opts *o, client *cl, md_error *err)
{
    static const struct option longopts[] = {
        {"source-texture", required_argument, NULL, OPT_SOURCE_TEXTURE},
        {"target-texture", required_argument, NULL, OPT_TARGET_TEXTURE},
        {"target-morph", required_argument, NULL, OPT_TARGET_MORPH},
        {"hide-materials", required_argument, NULL, OPT_HIDE_MATERIALS},
        {"spec", required_argument, NULL, OPT_SPEC},
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
        {"label", required_argument, NULL, OPT_LABEL},
        {"outputs", required_argument, NULL, OPT_OUTPUTS},
        {"render", required_argument, NULL, OPT_RENDER},
        {"turntable", required_argument, NULL, OPT_TURNTABLE},
        {"idempotency-key", required_argument, NULL, OPT_IDEMPOTENCY_KEY},
        {"json", no_argument, NULL, CLIENT_OPT_JSON},
        CLIENT_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SOURCE_TEXTURE:
            o->source_texture = optarg;
            break;
        case OPT_TARGET_TEXTURE:
            o->target_texture = optarg;
            break;
        case OPT_TARGET_MORPH:
            o->target_morph = optarg;
            break;
        case OPT_HIDE_MATERIALS:
            o->hide_materials = optarg;
            break;
        case OPT_SPEC:
            o->spec = optarg;
            break;
        case OPT_FRAMES:
            o->frames = optarg;
            break;
        case OPT_SIZE:
            o->size = optarg;
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
        case OPT_SAMPLES:
            o->samples = optarg;
            break;
        case OPT_LABEL:
            o->label = optarg;
            break;
        case OPT_OUTPUTS:
            o->outputs = optarg;
            break;
        case OPT_RENDER:
            o->render = optarg;
            break;
        case OPT_TURNTABLE:
            o->turntable = optarg;
            break;
        case OPT_IDEMPOTENCY_KEY:
            o->idempotency_key = optarg;
            break;
        case CLIENT_OPT_JSON:
            o->json = 1;
            break;
        case CLIENT_OPT_SERVER:
            cl->server_arg = optarg;
            break;
        case CLIENT_OPT_API_KEY:
            cl->api_key_arg = optarg;
            break;
        case 'h':
            submit_usage(stdout);
            return 1;
        default:
            return client_bad_option(c, argv, "submit", err);
        }
    }
    int files = argc - optind;
    if (o->render != NULL) {
        if (files != 0)
            return md_fail(err, MD_EINVAL, "--render MESH takes no SOURCE or TARGET");
        if (o->source_texture || o->target_texture || o->target_morph)
            return md_fail(err, MD_EINVAL,
                           "--source-texture, --target-texture and --target-morph are for "
                           "morph jobs, not --render");
        return check_input("mesh", o->render, err);
    }
    if (o->turntable != NULL)
        return md_fail(err, MD_EINVAL, "--turntable is for --render jobs");
    if (o->target_morph != NULL) {
        if (files != 1)
            return md_fail(err, MD_EINVAL,
                           "--target-morph morphs SOURCE toward its own morph target: give one "
                           "mesh file, got %d file argument(s)",
                           files);
        if (strlen(o->target_morph) == 0 || strlen(o->target_morph) > JOB_TARGET_MORPH_MAX)
            return md_fail(err, MD_EINVAL,
                           "--target-morph: give a morph target's name or 0-based index, 1 to "
                           "%d bytes",
                           JOB_TARGET_MORPH_MAX);
    } else if (files != 2) {
        return md_fail(err, MD_EINVAL,
                       "expected SOURCE and TARGET mesh files, got %d file argument(s)", files);
    }
    o->source = argv[optind];
    o->target = o->target_morph != NULL ? NULL : argv[optind + 1];
    if (o->idempotency_key != NULL) {
        size_t n = strlen(o->idempotency_key);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)o->idempotency_key[i] <= ' ' || o->idempotency_key[i] == 0x7f)
                return md_fail(err, MD_EINVAL,
                               "--idempotency-key: no spaces or control "
                               "characters, please");
        if (n == 0 || n > 255)
            return md_fail(err, MD_EINVAL, "--idempotency-key: 1 to 255 characters");
    }
    int rc = check_input("source mesh", o->source, err);
    if (rc == 0 && o->target)
        rc = check_input("target mesh", o->target, err);
    if (rc == 0 && o->source_texture)
        rc = check_input("source texture", o->source_texture, err);
    if (rc == 0 && o->target_texture)
        rc = check_input("target texture", o->target_texture, err);
    if (rc == 0 && o->frame_on)
        rc = check_input("--frame-on mesh", o->frame_on, err);
    return rc;
}

/* The whole of `morph submit`; printing: the command (prints the id or JSON and any error, and
 * returns the exit status), else client_submit() (prints nothing, returns 0 or the md error). */
static int submit_main(int argc, char **argv, int check_only, int printing, char *id_out,
                       size_t id_cap, md_error *err_out)
{
    submit_opts o = {0};
    client cl = {0};
    md_error err;
    md_error_clear(&err);
    http_response r = {0};
    json_t *spec = NULL, *job = NULL;
    char *spec_text = NULL;
    const char *who = "submit";
    int opened = 0;

    int rc = submit_parse(argc, argv, &o, &cl, &err);
    if (rc == 1)
        return 0;
    if (rc == 0)
        rc = build_spec(&o, &spec, &err);
    if (rc == 0)
        rc = client_open(&cl, &err);
    if (rc != 0)
        goto done;
    opened = 1;
    if (check_only)
        goto done;
    if (json_object_size(spec) > 0) {
        spec_text = json_dumps(spec, JSON_COMPACT);
        if (spec_text == NULL) {
            rc = md_fail(&err, MD_ENOMEM, "out of memory");
            goto done;
        }
    }

    http_part parts[6]; /* source, target, two textures, frame_on, spec */
    size_t n = 0;
    if (o.render != NULL) {
        parts[n++] = (http_part){.name = "mesh", .file = o.render};
    } else {
        parts[n++] = (http_part){.name = "source", .file = o.source};
        if (o.target)
            parts[n++] = (http_part){.name = "target", .file = o.target};
        if (o.source_texture)
            parts[n++] = (http_part){.name = "source_texture", .file = o.source_texture};
        if (o.target_texture)
            parts[n++] = (http_part){.name = "target_texture", .file = o.target_texture};
        if (o.frame_on)
            parts[n++] = (http_part){.name = "frame_on", .file = o.frame_on};
    }
    if (spec_text != NULL)
        parts[n++] =
            (http_part){.name = "spec", .data = spec_text, .content_type = "application/json"};

    who = NULL;
    rc = http_post_multipart(&cl.http, "/jobs", parts, n, o.idempotency_key, &r, &err);
    if (rc == 0 && (r.status < 200 || r.status >= 300))
        rc = http_problem(&r, &err);
    if (rc == 0)
        rc = client_json_object(&r, &job, &err);
    if (rc != 0)
        goto done;
    const char *id = jstr(job, "id", NULL);
    if (id == NULL) {
        rc = md_fail(&err, MD_EINTERNAL, "the server accepted the job but sent no id");
        goto done;
    }
    if (id_out != NULL && (size_t)snprintf(id_out, id_cap, "%s", id) >= id_cap)
        rc = md_fail(&err, MD_EINTERNAL, "the server sent an id longer than %zu bytes", id_cap);
    else if (printing && o.json)
        printf("%s\n", r.body);
    else if (printing)
        printf("%s\n", id);

done:
    http_response_free(&r);
    json_decref(job);
    json_decref(spec);
    free(spec_text); /* jansson allocates with malloc */
    if (opened)
        client_close(&cl);
    if (!printing) {
        *err_out = err;
        return rc;
    }
    return client_exit(who, rc, &err);
}

int cli_submit(int argc, char **argv)
{
    md_error err;
    return submit_main(argc, argv, 0, 1, NULL, 0, &err);
}

int client_submit(int argc, char **argv, int check_only, char *id, size_t id_cap, md_error *err)
{
    md_error_clear(err);
    return submit_main(argc, argv, check_only, 0, id, id_cap, err);
}

int client_submit_spec(int argc, char **argv, json_t **spec, const char **not_batchable,
                       md_error *err)
{
    submit_opts o = {0};
    client cl = {0};
    md_error_clear(err);
    *spec = NULL;
    *not_batchable = NULL;
    int rc = submit_parse(argc, argv, &o, &cl, err);
    if (rc == 1)
        return md_fail(err, MD_EINVAL, "--help is not a job option");
    if (rc == 0)
        rc = build_spec(&o, spec, err);
    /* What a POST /batches body cannot carry: a file part, a per-job key, another kind. */
    if (o.frame_on != NULL)
        *not_batchable = "--frame-on (a file part of each job)";
    else if (o.idempotency_key != NULL)
        *not_batchable = "--idempotency-key (a key of each job)";
    else if (o.render != NULL || o.target_morph != NULL)
        *not_batchable = "--render and --target-morph (a batch morphs pairs of faces)";
    return rc;
}

/* ---- Commands that take one job id ---- */

int client_id_parse(int argc, char **argv, const char *cmd, const char *shortopts,
                    const struct option *longopts, void (*usage)(FILE *), id_opts *o, client *cl,
                    md_error *err)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case CLIENT_OPT_JSON:
            o->json = 1;
            break;
        case CLIENT_OPT_TIMEOUT:
            o->timeout = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case CLIENT_OPT_SERVER:
            cl->server_arg = optarg;
            break;
        case CLIENT_OPT_API_KEY:
            cl->api_key_arg = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return client_bad_option(c, argv, cmd, err);
        }
    }
    if (argc - optind != 1)
        return md_fail(err, MD_EINVAL, "expected one job id, got %d argument(s)", argc - optind);
    o->id = argv[optind];
    return client_job_id_check(o->id, err);
}

/* ---- status ---- */

static void status_usage(FILE *f)
{
    fprintf(f,
            "Usage: morph status ID [--json] [options]\n"
            "\n"
            "Prints a job's state: status, stage and frames done, times, inputs, error and\n"
            "artifacts (GET /jobs/ID).\n"
            "\n"
            "Options:\n"
            "      --json               print the server's job JSON as it came\n" CLIENT_COMMON_HELP
            "\n"
            "Exit status: 0 the job was read (whatever its status), 1 failure (server\n"
            "unreachable or failing), 2 bad usage or no such job.\n");
}

int cli_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, CLIENT_OPT_JSON},
        CLIENT_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    id_opts o = {0};
    client cl = {0};
    md_error err;
    md_error_clear(&err);
    http_response r = {0};
    json_t *job = NULL;
    int rc = client_id_parse(argc, argv, "status", ":h", longopts, status_usage, &o, &cl, &err);
    if (rc == 1)
        return 0;
    if (rc == 0)
        rc = client_open(&cl, &err);
    if (rc != 0)
        return client_exit("status", rc, &err);
    rc = client_job_get(&cl, o.id, &job, &r, &err);
    if (rc == 0 && o.json)
        printf("%s\n", r.body);
    else if (rc == 0)
        print_job(job);
    json_decref(job);
    http_response_free(&r);
    client_close(&cl);
    return client_exit(NULL, rc, &err);
}

/* ---- wait ---- */

static void wait_usage(FILE *f)
{
    fprintf(
        f,
        "Usage: morph wait ID [--timeout S] [options]\n"
        "\n"
        "Waits until a job is finished, with a progress bar when stderr is a terminal. It\n"
        "follows the job's event stream (GET /jobs/ID/events) while the server offers one,\n"
        "then reads the outcome with GET /jobs/ID; without a stream (an older server, a\n"
        "proxy that cuts it, 45 s of silence) it polls GET /jobs/ID as often as the server's\n"
        "Retry-After asks, else every second. On success prints \"job ID succeeded: …\"\n"
        "(or the job JSON with --json). Once the server has answered, a spell when it is\n"
        "unreachable or busy (502/503/504) is retried, up to 5 times in a row; a server that\n"
        "never answered fails at once.\n"
        "\n"
        "Options:\n"
        "      --timeout S          give up after S seconds (default: wait as long as it takes)\n"
        "      --json               print the finished job's JSON\n"
        "  -q, --quiet              no progress bar and no summary line\n" CLIENT_COMMON_HELP "\n"
        "Exit status: 0 the job succeeded; 1 it failed or was canceled (the server's error\n"
        "is printed), the timeout passed, or the server is unreachable; 2 bad usage or no\n"
        "such job.\n");
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One poll; returns 0 with *job set, or an error; *transient tells whether a retry may help. */
static int wait_poll(const client *cl, const char *id, json_t **job, http_response *r,
                     int *transient, md_error *err)
{
    *transient = 0;
    int rc = client_job_get(cl, id, job, r, err);
    if (rc != 0 && (r->status == 0 || r->status == 502 || r->status == 503 || r->status == 504))
        *transient = rc != MD_EINVAL && rc != MD_ELIMIT;
    return rc;
}

/* ---- Following GET /jobs/{id}/events ---- */

#define WAIT_EVENTS_IDLE_S 45.0 /* three missed heartbeats: the stream is dead, poll instead */

typedef struct wait_events {
    cli_sse sse;
    cli_progress *bar;
    char *stage;
    int finished; /* a terminal status or "gone" arrived */
    md_error err; /* a parse failure */
} wait_events;

static int on_event(void *user, const char *event, const char *data, size_t len)
{
    wait_events *w = user;
    json_t *j = json_loadb(data, len, 0, NULL);
    if (strcmp(event, "progress") == 0 && j != NULL) {
        snprintf(w->stage, 16, "%-9.9s", jstr(j, "stage", "?"));
        cli_progress_set(w->bar, (uint64_t)jint(j, "frames_done"),
                         (uint64_t)jint(j, "frames_total"));
    } else if (strcmp(event, "status") == 0 && j != NULL) {
        w->finished = jr_status_name_terminal(jstr(j, "status", ""));
    } else if (strcmp(event, "gone") == 0) {
        w->finished = 1;
    }
    json_decref(j);
    return w->finished;
}

static int on_stream_bytes(void *user, const char *bytes, size_t n)
{
    wait_events *w = user;
    return cli_sse_feed(&w->sse, bytes, n, on_event, w, &w->err);
}

/* Follows the job's event stream until it reports the end (a terminal status, or the job gone)
 * or fails in any way (a server without the route, a dropped connection, silence, the
 * deadline); the caller then asks GET /jobs/{id} for the outcome, so this only saves the polls
 * and makes the progress bar live. */
static void wait_events_follow(const client *cl, const char *id, double deadline, cli_progress *bar,
                               char stage[16])
{
    char path[128];
    snprintf(path, sizeof path, "/jobs/%s/events", id);
    wait_events w = {.bar = bar, .stage = stage};
    cli_sse_init(&w.sse);
    md_error_clear(&w.err);
    const http_stream stream = {
        .on_data = on_stream_bytes, .user = &w, .idle_s = WAIT_EVENTS_IDLE_S, .deadline = deadline};
    http_response r = {0};
    md_error err;
    http_get_stream(&cl->http, path, &stream, &r, &err);
    http_response_free(&r);
    cli_sse_free(&w.sse);
}

/* Waits for job id until it is finished: follows its event stream while the server offers
 * one, then polls (see wait_usage for the pacing and retries); bar (NULL: none) shows the
 * server's progress under the label stage, which this rewrites. On return *job and r hold the
 * last answer (caller frees both). 0 when the job succeeded. */
static int wait_loop(const client *cl, const char *id, double timeout, cli_progress *bar,
                     char stage[16], json_t **job, http_response *r, md_error *err)
{
    int rc = 0;
    double start = md_now();
    wait_events_follow(cl, id, timeout > 0 ? start + timeout : 0, bar, stage);
    int failures = 0, answered = 0;
    for (;;) {
        int transient;
        json_decref(*job);
        *job = NULL;
        http_response_free(r);
        rc = wait_poll(cl, id, job, r, &transient, err);
        double pause = 1.0;
        if (rc != 0) {
            /* Retry only a server that answered before: a wrong URL should fail at once. */
            if (!transient || !answered || ++failures > 5)
                break;
            pause = r->retry_after_s > 0 ? (double)r->retry_after_s : (double)failures;
        } else {
            failures = 0;
            answered = 1;
            int status = jr_status_parse(jstr(*job, "status", ""));
            const json_t *progress = json_object_get(*job, "progress");
            snprintf(stage, 16, "%-9.9s", jstr(progress, "stage", "?"));
            cli_progress_set(bar, (uint64_t)jint(progress, "frames_done"),
                             (uint64_t)jint(progress, "frames_total"));
            if (status == JR_SUCCEEDED)
                break;
            if (status == JR_FAILED) {
                rc = md_fail(err, MD_EENGINE, "job %s failed: %s", id,
                             jstr(*job, "error", "(the server gave no reason)"));
                break;
            }
            if (status == JR_CANCELED) {
                rc = md_fail(err, MD_ECANCELED, "job %s was canceled%s%s", id,
                             jstr(*job, "error", NULL) ? ": " : "", jstr(*job, "error", ""));
                break;
            }
            if (r->retry_after_s >= 0)
                pause = r->retry_after_s;
        }
        if (pause < 0.2)
            pause = 0.2; /* Retry-After: 0 must not become a busy loop */
        if (pause > 30)
            pause = 30;
        double now = md_now();
        if (timeout > 0 && now - start >= timeout) {
            char state[MD_ERROR_MSG_MAX] = "unknown";
            if (rc != 0)
                snprintf(state, sizeof state, "%s", err->msg);
            else if (*job != NULL)
                job_state_text(*job, state, sizeof state);
            rc = md_fail(err, MD_EIO, "gave up after %g s waiting for job %s: %s", timeout, id,
                         state);
            break;
        }
        if (timeout > 0 && now + pause > start + timeout)
            pause = start + timeout - now;
        sleep_s(pause);
    }
    return rc;
}

int client_wait_job(const client *cl, const char *id, md_error *err)
{
    char stage[16] = "";
    json_t *job = NULL;
    http_response r = {0};
    int rc = wait_loop(cl, id, 0, NULL, stage, &job, &r, err);
    json_decref(job);
    http_response_free(&r);
    return rc;
}

int cli_wait(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, CLIENT_OPT_TIMEOUT},
        {"json", no_argument, NULL, CLIENT_OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        CLIENT_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    id_opts o = {0};
    client cl = {0};
    md_error err;
    md_error_clear(&err);
    http_response r = {0};
    json_t *job = NULL;
    double timeout = 0;
    int rc = client_id_parse(argc, argv, "wait", ":hq", longopts, wait_usage, &o, &cl, &err);
    if (rc == 1)
        return 0;
    if (rc == 0 && o.timeout != NULL) {
        char *end;
        timeout = strtod(o.timeout, &end);
        if (end == o.timeout || *end != '\0' || !(timeout > 0) || timeout > 1e9)
            rc = md_fail(&err, MD_EINVAL, "--timeout: '%s' is not a positive number of seconds",
                         o.timeout);
    }
    if (rc == 0)
        rc = client_open(&cl, &err);
    if (rc != 0)
        return client_exit("wait", rc, &err);

    char stage[16] = "queued   ";
    cli_progress *bar = cli_progress_new(stage, 0, !o.quiet);
    rc = wait_loop(&cl, o.id, timeout, bar, stage, &job, &r, &err);
    cli_progress_free(bar);
    if (rc == 0 && o.json) {
        printf("%s\n", r.body);
    } else if (rc == 0 && !o.quiet) {
        const json_t *progress = json_object_get(job, "progress");
        printf("job %s succeeded: %lld/%lld frames, %zu artifact(s)\n", o.id,
               jint(progress, "frames_done"), jint(progress, "frames_total"),
               json_array_size(json_object_get(job, "artifacts")));
    }
    json_decref(job);
    http_response_free(&r);
    client_close(&cl);
    return client_exit(NULL, rc, &err);
}

/* ---- cancel and delete ---- */

static void cancel_usage(FILE *f)
{
    fprintf(f,
            "Usage: morph cancel ID [--json] [options]\n"
            "\n"
            "Cancels a job (POST /jobs/ID/cancel): a queued job is canceled at once, a running\n"
            "one stops at its next stage boundary or frame. Prints the job's status after the\n"
            "request (\"canceled\", or \"running\" while the stop is pending).\n"
            "\n"
            "Options:\n"
            "      --json               print the server's answer as it came\n" CLIENT_COMMON_HELP
            "\n"
            "Exit status: 0 done, 1 failure (server unreachable or failing), 2 bad usage,\n"
            "no such job, or a job that cannot be canceled (409).\n");
}

static void delete_usage(FILE *f)
{
    fprintf(f, "Usage: morph delete ID [options]\n"
               "\n"
               "Deletes a queued or finished job, its record and its artifacts (DELETE /jobs/ID).\n"
               "A running job cannot be deleted (409): cancel it first.\n"
               "\n"
               "Options:\n" CLIENT_COMMON_HELP "\n"
               "Exit status: 0 deleted, 1 failure (server unreachable or failing), 2 bad usage,\n"
               "no such job, or a running job (409).\n");
}

static int id_action(int argc, char **argv, const char *cmd, void (*usage)(FILE *))
{
    static const struct option cancel_longopts[] = {
        {"json", no_argument, NULL, CLIENT_OPT_JSON},
        CLIENT_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    static const struct option delete_longopts[] = {
        CLIENT_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int cancel = strcmp(cmd, "cancel") == 0;
    id_opts o = {0};
    client cl = {0};
    md_error err;
    md_error_clear(&err);
    http_response r = {0};
    json_t *job = NULL;
    int rc = client_id_parse(argc, argv, cmd, ":h", cancel ? cancel_longopts : delete_longopts,
                             usage, &o, &cl, &err);
    if (rc == 1)
        return 0;
    if (rc == 0)
        rc = client_open(&cl, &err);
    if (rc != 0)
        return client_exit(cmd, rc, &err);
    char path[128];
    snprintf(path, sizeof path, cancel ? "/jobs/%s/cancel" : "/jobs/%s", o.id);
    rc = http_send(&cl.http, cancel ? "POST" : "DELETE", path, &r, &err);
    if (rc == 0 && (r.status < 200 || r.status >= 300))
        rc = http_problem(&r, &err);
    if (rc == 0 && cancel && o.json) {
        printf("%s\n", r.body);
    } else if (rc == 0 && cancel) {
        /* The answer is the job when the server sends one; otherwise read it back. */
        if (client_json_object(&r, &job, &err) != 0) {
            http_response_free(&r);
            rc = client_job_get(&cl, o.id, &job, &r, &err);
        }
        if (rc == 0)
            printf("%s%s\n", jstr(job, "status", "?"),
                   jr_status_parse(jstr(job, "status", "")) == JR_RUNNING ? " (cancel requested)"
                                                                          : "");
    }
    json_decref(job);
    http_response_free(&r);
    client_close(&cl);
    return client_exit(NULL, rc, &err);
}

int cli_cancel(int argc, char **argv)
{
    return id_action(argc, argv, "cancel", cancel_usage);
}

int cli_delete(int argc, char **argv)
{
    return id_action(argc, argv, "delete", delete_usage);
}
