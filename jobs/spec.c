/*
 * spec.c — the options of a job: defaults, the value checks that CLI flags and the spec JSON
 * (spec_json.c) share, parsing of the CLI's text, frame weights and frame names. Pure
 * functions on a caller-owned job_spec; no I/O. Every parse error names the option and the
 * offending text.
 *
 * Frame weights: explicit (--weights), or --frames N spread over --range FROM:TO (0:1) through
 * an easing curve; then optionally split into shape and texture weights, each list one weight
 * per frame and defaulting to the weights. Every weight lies in [JOB_WEIGHT_MIN, JOB_WEIGHT_MAX].
 */
#include "jobs/job_int.h"
#include "jobs/record.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void job_spec_init(job_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->frame_count = 41;
    spec->width = 512;
    spec->height = 512;
    spec->samples = 4;
    eng_camera_default(&spec->camera);
    spec->camera_mode = JOB_CAMERA_AUTO;
    spec->background[0] = spec->background[1] = spec->background[2] = 255;
    spec->png_level = 1;
    spec->kind = JOB_KIND_MORPH;
    spec->views_mode = JOB_VIEWS_TURNTABLE;
    spec->turntable_count = 1;
    spec->outputs = JOB_OUTPUTS_MINIMAL;
    spec->align = ANA_ALIGN_NONE;
    spec->mesh_format = ANA_MESH_OBJ;
    spec->fps = 30;
    spec->loop = ANA_VIDEO_ONCE;
    spec->range_from = 0.0;
    spec->range_to = 1.0;
    spec->easing = JOB_EASING_LINEAR;
}

/* Drops weights (given or filled), so frame_count rules again. */
static void drop_weights(job_spec *spec)
{
    md_free(spec->weights);
    spec->weights = NULL;
    spec->weight_count = 0;
    spec->weights_given = 0;
}

void job_spec_free(job_spec *spec)
{
    drop_weights(spec);
    md_free(spec->shape_weights);
    md_free(spec->texture_weights);
    spec->shape_weights = spec->texture_weights = NULL;
    spec->shape_weight_count = spec->texture_weight_count = 0;
    md_free(spec->views);
    spec->views = NULL;
    spec->view_count = 0;
    md_free(spec->amounts);
    spec->amounts = NULL;
    spec->amount_count = 0;
    md_free(spec->mesh_weights);
    spec->mesh_weights = NULL;
    spec->mesh_weight_count = 0;
}

int job_spec_check_mesh_count(const job_spec *spec, uint32_t count, const md_limits *lim,
                              md_error *err)
{
    if (count < 2)
        return md_fail(err, MD_EINVAL, "an average needs at least 2 meshes, got %u", count);
    if (count > lim->max_average_meshes)
        return md_fail(err, MD_ELIMIT,
                       "an average takes at most %llu meshes, got %u (--limit "
                       "max_average_meshes=N)",
                       (unsigned long long)lim->max_average_meshes, count);
    if (spec->mesh_weights == NULL)
        return 0;
    if (spec->mesh_weight_count != count)
        return md_fail(err, MD_EINVAL,
                       "spec.mesh_weights: %u weight(s) for %u meshes; give one "
                       "per mesh",
                       spec->mesh_weight_count, count);
    double sum = 0.0;
    for (uint32_t i = 0; i < count; i++)
        sum += spec->mesh_weights[i];
    if (!(sum > 0.0))
        return md_fail(err, MD_EINVAL,
                       "spec.mesh_weights: the weights sum to %g; they need a positive sum", sum);
    return 0;
}

const char *job_kind_name(job_kind kind)
{
    switch (kind) {
    case JOB_KIND_MORPH:
        return "morph";
    case JOB_KIND_RENDER:
        return "render";
    case JOB_KIND_TRANSFORM:
        return "transform";
    case JOB_KIND_AVERAGE:
        return "average";
    }
    return "morph";
}

int job_kind_is_face(job_kind kind)
{
    return kind == JOB_KIND_TRANSFORM || kind == JOB_KIND_AVERAGE;
}

/* ---- Value checks shared with spec_json.c ---- */

int job_frames_ok(long long n, const md_limits *lim)
{
    return n >= 1 && (unsigned long long)n <= lim->max_frames;
}

int job_weight_ok(double w)
{
    return w >= JOB_WEIGHT_MIN && w <= JOB_WEIGHT_MAX;
}

/* ---- Easing ---- */

static const char *const easing_names[] = {"linear", "smoothstep", "sine"};

const char *job_easing_name(job_easing easing)
{
    return (unsigned)easing < 3 ? easing_names[easing] : "linear";
}

int job_easing_parse(const char *text, job_easing *out)
{
    for (int i = 0; i < 3; i++)
        if (text != NULL && strcmp(text, easing_names[i]) == 0) {
            *out = (job_easing)i;
            return 0;
        }
    return -1;
}

double job_easing_apply(job_easing easing, double u)
{
    if (u <= 0.0)
        return 0.0;
    if (u >= 1.0)
        return 1.0;
    switch (easing) {
    case JOB_EASING_SMOOTHSTEP:
        return u * u * (3.0 - 2.0 * u);
    case JOB_EASING_SINE:
        return 0.5 - 0.5 * cos(3.14159265358979323846 * u);
    case JOB_EASING_LINEAR:
        break;
    }
    return u;
}

int job_image_side_ok(long long n, const md_limits *lim)
{
    return n >= 1 && (unsigned long long)n <= lim->max_image_side;
}

int job_samples_ok(long long n, const md_limits *lim)
{
    if (n < 1 || (unsigned long long)n > lim->max_samples)
        return 0;
    long long side = 0;
    while ((side + 1) * (side + 1) <= n)
        side++;
    return side * side == n;
}

int job_png_level_ok(long long n)
{
    return n >= 0 && n <= 9;
}

int job_ortho_height_ok(double h)
{
    return h > 0 && isfinite(h);
}

int job_views_ok(long long n, const md_limits *lim)
{
    return n >= 1 && (unsigned long long)n <= lim->max_views;
}

int job_elevation_ok(double deg)
{
    return deg > -90.0 && deg < 90.0;
}

int job_fps_ok(long long n)
{
    return n >= 1 && n <= JOB_FPS_MAX;
}

int job_parse_loop(const char *text, ana_video_loop *out)
{
    if (strcmp(text, "once") == 0)
        *out = ANA_VIDEO_ONCE;
    else if (strcmp(text, "pingpong") == 0)
        *out = ANA_VIDEO_PINGPONG;
    else
        return -1;
    return 0;
}

const char *job_loop_name(ana_video_loop loop)
{
    return loop == ANA_VIDEO_PINGPONG ? "pingpong" : "once";
}

/* ---- Output sets ---- */

static const char *const output_names[JOB_OUTPUT_KINDS] = {"frames", "heatmaps", "csv", "meshes",
                                                           "video"};

const char *job_output_name(unsigned bit)
{
    for (int i = 0; i < JOB_OUTPUT_KINDS; i++)
        if (bit == 1u << i)
            return output_names[i];
    return NULL;
}

int job_outputs_parse(const char *text, unsigned *out, md_error *err)
{
    if (strcmp(text, "minimal") == 0) {
        *out = JOB_OUTPUTS_MINIMAL;
        return 0;
    }
    if (strcmp(text, "all") == 0 || strcmp(text, "full") == 0) {
        *out = JOB_OUTPUTS_ALL;
        return 0;
    }
    unsigned set = JOB_OUT_FRAMES;
    const char *p = text;
    for (;;) {
        const char *stop = strchr(p, ',');
        size_t len = stop ? (size_t)(stop - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < JOB_OUTPUT_KINDS && found < 0; i++)
            if (strlen(output_names[i]) == len && strncmp(p, output_names[i], len) == 0)
                found = i;
        if (found < 0)
            return md_fail(err, MD_EINVAL,
                           "'%.*s' is not an output (frames, heatmaps, csv, meshes, video; or "
                           "minimal, all)",
                           (int)(len > 40 ? 40 : len), p);
        set |= 1u << found;
        if (stop == NULL)
            break;
        p = stop + 1;
    }
    *out = set;
    return 0;
}

void job_outputs_format(unsigned outputs, char *out, size_t cap)
{
    size_t used = 0;
    if (cap > 0)
        out[0] = '\0';
    for (int i = 0; i < JOB_OUTPUT_KINDS && used < cap; i++) {
        if (!(outputs & (1u << i)))
            continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? "," : "", output_names[i]);
        used += n > 0 ? (size_t)n : 0;
    }
}

int job_parse_colour(const char *text, uint8_t rgb[3])
{
    const char *hex = text[0] == '#' ? text + 1 : text;
    unsigned v[3];
    int ok = strlen(hex) == 6;
    for (int i = 0; ok && i < 6; i++)
        ok = isxdigit((unsigned char)hex[i]) != 0;
    if (!ok || sscanf(hex, "%2x%2x%2x", &v[0], &v[1], &v[2]) != 3)
        return -1;
    for (int i = 0; i < 3; i++)
        rgb[i] = (uint8_t)v[i];
    return 0;
}

/* ---- CLI text setters ---- */

/* Parses a whole decimal integer; 0 on success. */
static int parse_long(const char *text, long *out)
{
    if (text == NULL || *text == '\0')
        return -1;
    errno = 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int job_spec_set_frames(job_spec *spec, const char *text, const md_limits *lim, md_error *err)
{
    long n;
    if (parse_long(text, &n) != 0 || !job_frames_ok(n, lim))
        return md_fail(err, MD_EINVAL, "--frames: '%s' is not a whole number from 1 to %llu", text,
                       (unsigned long long)lim->max_frames);
    spec->frame_count = (uint32_t)n;
    drop_weights(spec);
    return 0;
}

/* A comma-separated list of weights from JOB_WEIGHT_MIN to JOB_WEIGHT_MAX for option (in
 * messages, with what a weight means there) into a new array (*out, md_malloc'd). */
static int parse_weight_list(const char *option, const char *meaning, const char *text,
                             const md_limits *lim, float **out, uint32_t *out_count, md_error *err)
{
    size_t count = 1;
    for (const char *p = text; *p; p++)
        count += *p == ',';
    if (count > lim->max_frames)
        return md_fail(err, MD_EINVAL, "%s: %zu weights, more than the limit of %llu", option,
                       count, (unsigned long long)lim->max_frames);
    float *weights = md_malloc_array(count, sizeof *weights);
    if (weights == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    const char *p = text;
    for (size_t i = 0; i < count; i++) {
        errno = 0;
        char *end;
        double w = strtod(p, &end);
        while (end > p && isspace((unsigned char)end[-1]))
            end--;
        const char *stop = strchr(p, ',');
        size_t len = stop ? (size_t)(stop - p) : strlen(p);
        int blank = 1;
        for (const char *q = end; q < p + len; q++)
            blank &= isspace((unsigned char)*q) != 0;
        if (end == p || errno != 0 || !blank || !job_weight_ok(w)) {
            md_free(weights);
            return md_fail(err, MD_EINVAL, "%s: item %zu '%.*s' is not a number from %g to %g (%s)",
                           option, i + 1, (int)(len > 40 ? 40 : len), p, JOB_WEIGHT_MIN,
                           JOB_WEIGHT_MAX, meaning);
        }
        weights[i] = (float)w;
        p += len + (stop ? 1 : 0);
    }
    *out = weights;
    *out_count = (uint32_t)count;
    return 0;
}

#define WEIGHT_MEANING                                                                             \
    "a weight is the share of the target: 0 the source, 1 the target, below 0 an anti-face, "      \
    "above 1 a caricature"

int job_spec_set_weights(job_spec *spec, const char *text, const md_limits *lim, md_error *err)
{
    float *weights;
    uint32_t count;
    int rc = parse_weight_list("--weights", WEIGHT_MEANING, text, lim, &weights, &count, err);
    if (rc != 0)
        return rc;
    drop_weights(spec);
    spec->weights = weights;
    spec->weight_count = count;
    spec->frame_count = count;
    spec->weights_given = 1;
    return 0;
}

int job_spec_set_shape_weights(job_spec *spec, const char *text, const md_limits *lim,
                               md_error *err)
{
    float *weights;
    uint32_t count;
    int rc = parse_weight_list("--shape-weights", "the target's share of the shape", text, lim,
                               &weights, &count, err);
    if (rc != 0)
        return rc;
    md_free(spec->shape_weights);
    spec->shape_weights = weights;
    spec->shape_weight_count = count;
    return 0;
}

int job_spec_set_texture_weights(job_spec *spec, const char *text, const md_limits *lim,
                                 md_error *err)
{
    float *weights;
    uint32_t count;
    int rc = parse_weight_list("--texture-weights", "the target's share of the texture", text, lim,
                               &weights, &count, err);
    if (rc != 0)
        return rc;
    md_free(spec->texture_weights);
    spec->texture_weights = weights;
    spec->texture_weight_count = count;
    return 0;
}

int job_spec_set_range(job_spec *spec, const char *text, md_error *err)
{
    const char *colon = strchr(text, ':');
    double v[2];
    int ok = colon != NULL;
    for (int i = 0; ok && i < 2; i++) {
        const char *start = i == 0 ? text : colon + 1;
        const char *stop = i == 0 ? colon : start + strlen(start);
        char *end;
        errno = 0;
        v[i] = strtod(start, &end);
        ok = end != start && end == stop && errno == 0 && job_weight_ok(v[i]);
    }
    if (!ok)
        return md_fail(err, MD_EINVAL,
                       "--range: '%s' is not FROM:TO with each weight from %g to %g (0:1 goes "
                       "from the source to the target, -1:2 from an anti-face to a caricature)",
                       text, JOB_WEIGHT_MIN, JOB_WEIGHT_MAX);
    spec->range_from = v[0];
    spec->range_to = v[1];
    return 0;
}

int job_spec_set_frame_on(job_spec *spec, const char *name, const float min[3], const float max[3],
                          md_error *err)
{
    for (int k = 0; k < 3; k++)
        if (!isfinite(min[k]) || !isfinite(max[k]) || !(min[k] <= max[k]))
            return md_fail(err, MD_EINVAL,
                           "frame on '%.60s': bounds [%g, %g, %g] .. [%g, %g, %g] are not finite "
                           "numbers with min <= max",
                           name, (double)min[0], (double)min[1], (double)min[2], (double)max[0],
                           (double)max[1], (double)max[2]);
    jr_name_sanitize(name, strlen(name), spec->frame_on_name, sizeof spec->frame_on_name);
    memcpy(spec->frame_on_min, min, sizeof spec->frame_on_min);
    memcpy(spec->frame_on_max, max, sizeof spec->frame_on_max);
    spec->frame_on = 1;
    return 0;
}

/* The camera of a manifest without "text" (written before it existed): its numbers, which
 * were written with 7 significant digits. */
static int camera_text_from_numbers(const json_t *cam, char *out, size_t cap)
{
    static const char *const vec_names[3] = {"eye", "target", "up"};
    eng_camera c;
    eng_camera_default(&c);
    float *vec[3] = {c.eye, c.target, c.up};
    for (int i = 0; i < 3; i++) {
        const json_t *v = json_object_get(cam, vec_names[i]);
        if (json_array_size(v) != 3)
            return -1;
        for (size_t k = 0; k < 3; k++) {
            if (!json_is_number(json_array_get(v, k)))
                return -1;
            vec[i][k] = (float)json_number_value(json_array_get(v, k));
        }
    }
    const json_t *near = json_object_get(cam, "near"), *far = json_object_get(cam, "far");
    if (!json_is_number(near) || !json_is_number(far))
        return -1;
    c.z_near = (float)json_number_value(near);
    c.z_far = (float)json_number_value(far);
    const json_t *h = json_object_get(cam, "ortho_height");
    const json_t *fov = json_object_get(cam, "fov_y_deg");
    if (json_is_true(json_object_get(cam, "orthographic")) && json_is_number(h)) {
        c.orthographic = 1;
        c.ortho_height = (float)json_number_value(h);
    } else if (json_is_number(fov)) {
        c.fov_y_deg = (float)json_number_value(fov);
    } else {
        return -1;
    }
    job_camera_text(&c, out, cap);
    return 0;
}

int job_spec_set_camera_from_manifest(job_spec *spec, const json_t *manifest, const char *what,
                                      md_error *err)
{
    const json_t *cam = json_object_get(manifest, "camera");
    if (!json_is_object(cam))
        return md_fail(err, MD_EINVAL,
                       "--camera-from: %s has no \"camera\" object (use the manifest.json of a "
                       "morph job)",
                       what);
    char built[512];
    const char *text = json_string_value(json_object_get(cam, "text"));
    if (text == NULL) {
        if (camera_text_from_numbers(cam, built, sizeof built) != 0)
            return md_fail(err, MD_EINVAL,
                           "--camera-from: %s: \"camera\" needs eye, target and up as [x, y, z], "
                           "near, far, and fov_y_deg or ortho_height",
                           what);
        text = built;
    }
    eng_camera c;
    eng_camera_default(&c);
    int explicit_eye = 0;
    md_error perr;
    md_error_clear(&perr);
    int rc = eng_camera_parse(text, &c, &explicit_eye, &perr);
    if (rc == 0 && !explicit_eye)
        rc = md_fail(&perr, MD_EINVAL, "camera.text has no eye");
    if (rc == 0)
        rc = eng_camera_validate(&c, &perr);
    if (rc != 0)
        return md_fail(err, MD_EINVAL, "--camera-from: %s: %s", what, perr.msg);
    spec->camera = c;
    spec->camera_mode = JOB_CAMERA_EXPLICIT;
    spec->ortho_auto = 0;
    return 0;
}

int job_spec_set_easing(job_spec *spec, const char *text, md_error *err)
{
    if (job_easing_parse(text, &spec->easing) != 0)
        return md_fail(err, MD_EINVAL, "--easing: '%s' is not linear, smoothstep or sine", text);
    return 0;
}

int job_spec_set_size(job_spec *spec, const char *text, const md_limits *lim, md_error *err)
{
    char *end;
    errno = 0;
    long w = strtol(text, &end, 10);
    long h = -1;
    if (errno == 0 && end != text && (*end == 'x' || *end == 'X')) {
        const char *hs = end + 1;
        h = strtol(hs, &end, 10);
        if (end == hs || *end != '\0' || errno != 0)
            h = -1;
    }
    if (!job_image_side_ok(w, lim) || !job_image_side_ok(h, lim))
        return md_fail(err, MD_EINVAL,
                       "--size: '%s' is not WIDTHxHEIGHT with each side from 1 to %llu pixels",
                       text, (unsigned long long)lim->max_image_side);
    spec->width = (int)w;
    spec->height = (int)h;
    return 0;
}

int job_spec_set_samples(job_spec *spec, const char *text, const md_limits *lim, md_error *err)
{
    long n;
    if (parse_long(text, &n) != 0 || !job_samples_ok(n, lim))
        return md_fail(err, MD_EINVAL,
                       "--samples: '%s' must be a square number of samples per pixel (1, 4, 9, "
                       "16, ...) no larger than %llu",
                       text, (unsigned long long)lim->max_samples);
    spec->samples = (int)n;
    return 0;
}

int job_spec_set_camera(job_spec *spec, const char *text, md_error *err)
{
    int explicit_eye = 0;
    int rc = eng_camera_parse(text, &spec->camera, &explicit_eye, err);
    if (rc != 0) {
        md_error_prefix(err, "--camera: ");
        err->code = MD_EINVAL; /* a bad option value, whatever the parser called it */
        return MD_EINVAL;
    }
    if (explicit_eye)
        spec->camera_mode = JOB_CAMERA_EXPLICIT;
    if (spec->camera.orthographic)
        spec->ortho_auto = 0;
    return 0;
}

int job_spec_set_ortho(job_spec *spec, const char *text, md_error *err)
{
    if (strcmp(text, "auto") == 0) {
        spec->camera.orthographic = 1;
        spec->ortho_auto = 1;
        return 0;
    }
    char *end;
    errno = 0;
    double h = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !job_ortho_height_ok(h))
        return md_fail(err, MD_EINVAL,
                       "--ortho: '%s' is neither 'auto' nor a positive view height in mesh units",
                       text);
    spec->camera.orthographic = 1;
    spec->camera.ortho_height = (float)h;
    spec->ortho_auto = 0;
    return 0;
}

int job_spec_set_background(job_spec *spec, const char *text, md_error *err)
{
    if (job_parse_colour(text, spec->background) == 0)
        return 0;
    return md_fail(err, MD_EINVAL, "--background: '%s' is not a colour RRGGBB in hex (ffffff)",
                   text);
}

int job_spec_set_png_level(job_spec *spec, const char *text, md_error *err)
{
    long n;
    if (parse_long(text, &n) != 0 || !job_png_level_ok(n))
        return md_fail(err, MD_EINVAL, "--png-level: '%s' is not a zlib level from 0 to 9", text);
    spec->png_level = (int)n;
    return 0;
}

int job_spec_set_outputs(job_spec *spec, const char *text, md_error *err)
{
    unsigned set;
    if (job_outputs_parse(text, &set, err) != 0)
        return md_error_prefix(err, "--outputs: ");
    spec->outputs = set;
    return 0;
}

int job_spec_set_align(job_spec *spec, const char *text, md_error *err)
{
    if (ana_align_parse(text, &spec->align, err) != 0)
        return md_fail(err, MD_EINVAL, "--align: '%s' is not none, rigid or similarity", text);
    return 0;
}

int job_spec_set_shape_scale(job_spec *spec, const char *text, md_error *err)
{
    if (ana_scale_parse(text, &spec->shape_scale, err) != 0)
        return md_error_prefix(err, "--shape-scale: ");
    return 0;
}

int job_spec_set_texture_scale(job_spec *spec, const char *text, md_error *err)
{
    if (ana_scale_parse(text, &spec->texture_scale, err) != 0)
        return md_error_prefix(err, "--texture-scale: ");
    return 0;
}

int job_spec_set_heatmap_scale(job_spec *spec, const char *text, md_error *err)
{
    if (ana_scale_parse(text, &spec->shape_scale, err) != 0)
        return md_error_prefix(err, "--heatmap-scale (the shorthand for --shape-scale): ");
    return 0;
}

int job_spec_set_mesh_format(job_spec *spec, const char *text, md_error *err)
{
    if (ana_mesh_format_parse(text, &spec->mesh_format, err) != 0)
        return md_fail(err, MD_EINVAL, "--mesh-format: '%s' is not obj, glb or fbx", text);
    return 0;
}

int job_spec_set_fps(job_spec *spec, const char *text, md_error *err)
{
    long n;
    if (parse_long(text, &n) != 0 || !job_fps_ok(n))
        return md_fail(err, MD_EINVAL, "--fps: '%s' is not a whole number from 1 to %d", text,
                       JOB_FPS_MAX);
    spec->fps = (int)n;
    return 0;
}

int job_spec_set_loop(job_spec *spec, const char *text, md_error *err)
{
    if (job_parse_loop(text, &spec->loop) != 0)
        return md_fail(err, MD_EINVAL, "--loop: '%s' is not once or pingpong", text);
    return 0;
}

int job_spec_add_hidden(job_spec *spec, const char *name, size_t len, const char *what,
                        md_error *err)
{
    if (len == 0)
        return md_fail(err, MD_EINVAL, "%s: a material name is empty", what);
    if (len > JOB_MATERIAL_NAME_MAX)
        return md_fail(err, MD_EINVAL, "%s: a material name of %zu bytes; at most %d are allowed",
                       what, len, JOB_MATERIAL_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return md_fail(err, MD_EINVAL,
                           "%s: a material name holds a control character (byte %zu)", what, i);
    for (uint32_t i = 0; i < spec->hide_count; i++)
        if (strlen(spec->hide_materials[i]) == len &&
            memcmp(spec->hide_materials[i], name, len) == 0)
            return 0;
    if (spec->hide_count == JOB_HIDE_MATERIALS_MAX)
        return md_fail(err, MD_EINVAL, "%s: more than %d materials", what, JOB_HIDE_MATERIALS_MAX);
    memcpy(spec->hide_materials[spec->hide_count], name, len);
    spec->hide_materials[spec->hide_count][len] = '\0';
    spec->hide_count++;
    return 0;
}

int job_spec_set_hide_materials(job_spec *spec, const char *text, md_error *err)
{
    if (text[0] == '\0')
        return md_fail(err, MD_EINVAL, "--hide-materials: give material names, comma-separated");
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int rc = job_spec_add_hidden(spec, p, len, "--hide-materials", err);
        if (rc != 0)
            return rc;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

int job_spec_finalize(job_spec *spec, md_error *err)
{
    if (spec->weights == NULL) {
        if (spec->frame_count == 0)
            return md_fail(err, MD_EINVAL, "a job needs at least one frame");
        spec->weights = md_malloc_array(spec->frame_count, sizeof *spec->weights);
        if (spec->weights == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory");
        /* from + (to - from) * e(u) with from = 0, to = 1 and linear easing is u itself, so the
         * default weights are the i / (N - 1) they always were. */
        const double from = spec->range_from, span = spec->range_to - spec->range_from;
        for (uint32_t i = 0; i < spec->frame_count; i++) {
            double u = spec->frame_count == 1 ? 0.0 : (double)i / (double)(spec->frame_count - 1);
            spec->weights[i] = (float)(from + span * job_easing_apply(spec->easing, u));
        }
        spec->weight_count = spec->frame_count;
    }
    static const char *const names[2] = {"shape", "texture"};
    const uint32_t counts[2] = {spec->shape_weight_count, spec->texture_weight_count};
    const float *lists[2] = {spec->shape_weights, spec->texture_weights};
    for (int k = 0; k < 2; k++)
        if (lists[k] != NULL && counts[k] != spec->weight_count)
            return md_fail(err, MD_EINVAL,
                           "%s weights (--%s-weights, spec.%s_weights): %u given for %u frames; "
                           "give one per frame",
                           names[k], names[k], names[k], counts[k], spec->weight_count);
    return 0;
}

/* The opaque frame only: the materials are not known before the meshes are read (spec.h). */
int job_spec_check_budget(const job_spec *spec, const md_limits *lim, md_error *err)
{
    uint64_t need = eng_frame_bytes(spec->width, spec->height, spec->samples);
    if (need <= lim->max_frame_bytes)
        return 0;
    return md_fail(err, MD_EBUDGET,
                   "a %dx%d frame at %d samples needs %.1f MiB to render (8 bytes a sample and "
                   "the image), over this server's budget of %.1f MiB a frame "
                   "(max_frame_bytes): lower width, height or samples",
                   spec->width, spec->height, spec->samples, (double)need / (1 << 20),
                   (double)lim->max_frame_bytes / (1 << 20));
}

float job_spec_weight(const job_spec *spec, uint32_t i)
{
    return spec->weights != NULL && i < spec->weight_count ? spec->weights[i] : 0.0f;
}

const float *job_spec_shape_weights(const job_spec *spec)
{
    return spec->shape_weights != NULL ? spec->shape_weights : spec->weights;
}

const float *job_spec_texture_weights(const job_spec *spec)
{
    return spec->texture_weights != NULL ? spec->texture_weights : spec->weights;
}

int job_spec_texture_extrapolates(const job_spec *spec)
{
    const float *tw = job_spec_texture_weights(spec);
    for (uint32_t i = 0; tw != NULL && i < spec->weight_count; i++)
        if (!(tw[i] >= 0.0f && tw[i] <= 1.0f))
            return 1;
    return 0;
}

uint32_t job_spec_frame_total(const job_spec *spec)
{
    if (spec->kind == JOB_KIND_TRANSFORM)
        return spec->amount_count;
    if (spec->kind == JOB_KIND_AVERAGE)
        return 1;
    return spec->weights != NULL ? spec->weight_count : spec->frame_count;
}

/* ---- Names ---- */

void job_path_stem(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    jr_name_sanitize(base, len, out, cap);
    if (out[0] == '\0' && cap > 4)
        snprintf(out, cap, "mesh");
}

int job_view_name(uint32_t index, const char *stem, char *out, size_t cap)
{
    char clean[256];
    jr_name_sanitize(stem, strlen(stem), clean, sizeof clean);
    int len = snprintf(out, cap, "%04u_%s-view.png", index, clean[0] ? clean : "mesh");
    return len < 0 || (size_t)len >= cap ? MD_EINVAL : 0;
}

/* A share in permille as names spell it: "0250", "1500", "m0500" for -500. */
static void permille_text(int permille, char out[8])
{
    if (permille < 0)
        snprintf(out, 8, "m%04d", -permille > 9999 ? 9999 : -permille);
    else
        snprintf(out, 8, "%04d", permille > 9999 ? 9999 : permille);
}

int job_frame_name(uint32_t index, float shape_weight, float texture_weight,
                   const char *source_stem, const char *target_stem, char *out, size_t cap)
{
    int target_permille = (int)lround((double)shape_weight * 1000.0);
    char src[8], dst[8], tex[24] = "";
    permille_text(1000 - target_permille, src);
    permille_text(target_permille, dst);
    if (texture_weight != shape_weight) {
        char t[8];
        permille_text((int)lround((double)texture_weight * 1000.0), t);
        snprintf(tex, sizeof tex, "_texture-%s", t);
    }
    int n = snprintf(out, cap, "%04u_%s-%s_%s-%s%s.png", index, source_stem, src, target_stem, dst,
                     tex);
    return n < 0 || (size_t)n >= cap ? MD_EINVAL : 0;
}
