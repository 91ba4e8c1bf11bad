/*
 * spec_json.c — the job spec as JSON: reading a client's spec object (the `spec` part of
 * POST /jobs, docs/server.md) onto a job_spec, and writing the normalised spec back with every
 * default filled in (the api's answer, the `spec` field of the job hash the worker reads).
 *
 * Callers: the api (on its loop or pool threads) and the worker; pure functions of their
 * arguments, no I/O. The JSON objects are borrowed (reading) or returned as new references.
 *
 * Rules the reader enforces, beyond each field's own range (checked by the same predicates as
 * the CLI setters, jobs/job_int.h):
 *   - unknown fields are rejected by name, at every level;
 *   - frames and weights exclude each other; both belong to morph jobs only; range and easing
 *     spread frames, so they refuse weights; shape_weights and texture_weights (null: the
 *     weights) hold one weight per frame; frame_on (morph jobs) is null or a reference's
 *     bounds {name, min, max} with min <= max;
 *   - views belong to render jobs only; a render job without views gets one view, its camera;
 *   - camera.eye picks an explicit camera; target and up need it; near/far numbers need it.
 *     "auto" for eye/target/up/near/far means framed or fitted to the mesh; the writer uses it,
 *     so the written form reads back to the same spec;
 *   - a turntable places the eye itself, so it refuses a camera with an explicit eye;
 *   - target_morph (morph jobs only) is null or a non-empty name or index of at most
 *     JOB_TARGET_MORPH_MAX bytes; the writer writes it only when set;
 *   - hide_materials (morph jobs only) is null or a list of up to JOB_HIDE_MATERIALS_MAX
 *     material names (UTF-8, 1..JOB_MATERIAL_NAME_MAX bytes, no control characters; a
 *     repeated name counts once); the writer writes it only when not empty. Whether each
 *     name is a material of the meshes is checked where the meshes are (the api at submit).
 * The reader works on a copy and replaces the caller's spec only when everything passed.
 */
#include "jobs/job_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/mesh.h"

_Static_assert(JOB_TARGET_MORPH_MAX == MESH_MORPH_TARGET_MAX,
               "spec.target_morph and the loader must accept the same length");

/* ---- Error text ---- */

/* A short rendering of a JSON value for messages ("9000", "\"abc\"", "[1,2,...]"). */
static void describe(const json_t *v, char *out, size_t cap)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (text == NULL) {
        snprintf(out, cap, "(a value that cannot be shown)");
        return;
    }
    if (strlen(text) > 60)
        snprintf(out, cap, "%.57s...", text);
    else
        snprintf(out, cap, "%s", text);
    free(text); /* jansson's allocator, not md_malloc */
}

/* "spec.width: must be ..., got 9000". */
static int bad(md_error *err, const char *field, const json_t *got, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int bad(md_error *err, const char *field, const json_t *got, const char *fmt, ...)
{
    char what[256], shown[80];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (got == NULL)
        return md_fail(err, MD_EINVAL, "%s: %s", field, what);
    describe(got, shown, sizeof shown);
    return md_fail(err, MD_EINVAL, "%s: %s, got %s", field, what, shown);
}

/* Rejects keys of obj not in known (NULL-terminated), naming every one of them. */
static int check_keys(const json_t *obj, const char *field, const char *const *known, md_error *err)
{
    char names[256] = "";
    size_t used = 0;
    int unknown = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        (void)value;
        int found = 0;
        for (const char *const *k = known; *k != NULL && !found; k++)
            found = strcmp(key, *k) == 0;
        if (found)
            continue;
        unknown++;
        if (used < sizeof names) {
            int n = snprintf(names + used, sizeof names - used, "%s\"%.40s\"",
                             unknown > 1 ? ", " : "", key);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (unknown == 0)
        return 0;
    char list[256] = "";
    used = 0;
    for (const char *const *k = known; *k != NULL && used < sizeof list; k++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s", k == known ? "" : ", ", *k);
        used += n > 0 ? (size_t)n : 0;
    }
    return md_fail(err, MD_EINVAL, "%s: unknown field%s %s (known: %s)", field,
                   unknown > 1 ? "s" : "", names, list);
}

/* ---- Small readers ---- */

static int is_auto(const json_t *v)
{
    return json_is_string(v) && strcmp(json_string_value(v), "auto") == 0;
}

/* An integer (not 41.0) within what ok() allows. */
static int get_int(const json_t *v, long long *out)
{
    if (!json_is_integer(v))
        return -1;
    *out = json_integer_value(v);
    return 0;
}

/* A finite number, integer or real. */
static int get_number(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (!isfinite(d) || !isfinite((float)d))
        return -1;
    *out = d;
    return 0;
}

static int get_vec3(const json_t *v, float out[3])
{
    if (!json_is_array(v) || json_array_size(v) != 3)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        double d;
        if (get_number(json_array_get(v, i), &d) != 0)
            return -1;
        out[i] = (float)d;
    }
    return 0;
}

/* Well-formed UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xe  ? 3
                     : (c >> 3) == 0x1e ? 4
                                        : 0;
        if (len == 0 || i + len > n)
            return 0;
        unsigned cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

/* ---- Cameras ---- */

static const char *const camera_keys[] = {"eye",  "target", "up",    "fov",
                                          "near", "far",    "ortho", NULL};

/* Applies a camera object onto view. field names it in messages ("spec.camera",
 * "spec.views[2]"). */
static int camera_from_json(job_view *view, const json_t *obj, const char *field, md_error *err)
{
    char name[96];
    if (!json_is_object(obj))
        return bad(err, field, obj, "must be a camera object {\"eye\": [x, y, z], ...}");
    int rc = check_keys(obj, field, camera_keys, err);
    if (rc != 0)
        return rc;
    eng_camera cam = view->camera;
    job_camera_mode mode = view->camera_mode;
    int ortho_auto = view->ortho_auto;

    const json_t *v = json_object_get(obj, "eye");
    if (v != NULL) {
        snprintf(name, sizeof name, "%s.eye", field);
        if (is_auto(v))
            mode = JOB_CAMERA_AUTO;
        else if (get_vec3(v, cam.eye) == 0)
            mode = JOB_CAMERA_EXPLICIT;
        else
            return bad(err, name, v, "must be [x, y, z] (finite numbers) or \"auto\"");
    }
    static const char *const vec_names[2] = {"target", "up"};
    float *vec_dst[2] = {cam.target, cam.up};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(obj, vec_names[i]);
        if (v == NULL)
            continue;
        snprintf(name, sizeof name, "%s.%s", field, vec_names[i]);
        if (is_auto(v)) {
            if (mode == JOB_CAMERA_EXPLICIT)
                return bad(err, name, v, "cannot be \"auto\" with an explicit eye");
        } else if (get_vec3(v, vec_dst[i]) != 0) {
            return bad(err, name, v, "must be [x, y, z] (finite numbers) or \"auto\"");
        } else if (mode != JOB_CAMERA_EXPLICIT) {
            return bad(err, name, NULL,
                       "needs an explicit eye (%s.eye); without one the camera is framed on the "
                       "mesh automatically",
                       field);
        }
    }
    v = json_object_get(obj, "fov");
    if (v != NULL) {
        double fov;
        snprintf(name, sizeof name, "%s.fov", field);
        if (get_number(v, &fov) != 0 || !(fov > 0 && fov < 180))
            return bad(err, name, v, "must be a number of degrees between 0 and 180 (exclusive)");
        cam.fov_y_deg = (float)fov;
    }
    eng_camera defaults;
    eng_camera_default(&defaults);
    static const char *const clip_names[2] = {"near", "far"};
    float *clip_dst[2] = {&cam.z_near, &cam.z_far};
    const float clip_default[2] = {defaults.z_near, defaults.z_far};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(obj, clip_names[i]);
        if (v == NULL)
            continue;
        snprintf(name, sizeof name, "%s.%s", field, clip_names[i]);
        double d;
        if (is_auto(v)) {
            *clip_dst[i] = clip_default[i];
        } else if (get_number(v, &d) != 0 || !(d > 0)) {
            return bad(err, name, v, "must be a positive distance or \"auto\"");
        } else if (mode != JOB_CAMERA_EXPLICIT) {
            return bad(err, name, NULL,
                       "needs an explicit eye (%s.eye); an automatic camera fits near and far "
                       "itself",
                       field);
        } else {
            *clip_dst[i] = (float)d;
        }
    }
    v = json_object_get(obj, "ortho");
    if (v != NULL) {
        double h;
        snprintf(name, sizeof name, "%s.ortho", field);
        if (json_is_null(v)) {
            cam.orthographic = 0;
            ortho_auto = 0;
        } else if (is_auto(v)) {
            cam.orthographic = 1;
            ortho_auto = 1;
        } else if (get_number(v, &h) == 0 && job_ortho_height_ok(h)) {
            cam.orthographic = 1;
            cam.ortho_height = (float)h;
            ortho_auto = 0;
        } else {
            return bad(err, name, v,
                       "must be a positive view height, \"auto\", or null (perspective)");
        }
    }
    if (mode == JOB_CAMERA_AUTO) {
        /* Framing replaces eye, target, up, near and far: keep the defaults there, so a spec
         * written "auto" reads back the same. */
        eng_camera_default(&defaults);
        memcpy(cam.eye, defaults.eye, sizeof cam.eye);
        memcpy(cam.target, defaults.target, sizeof cam.target);
        memcpy(cam.up, defaults.up, sizeof cam.up);
        cam.z_near = defaults.z_near;
        cam.z_far = defaults.z_far;
    }
    /* The whole camera: eye apart from target, up across the view, near below far. */
    md_error verr;
    md_error_clear(&verr);
    if (eng_camera_validate(&cam, &verr) != 0) {
        const char *detail = strncmp(verr.msg, "camera: ", 8) == 0 ? verr.msg + 8 : verr.msg;
        return md_fail(err, MD_EINVAL, "%s: %s", field, detail);
    }
    view->camera = cam;
    view->camera_mode = mode;
    view->ortho_auto = ortho_auto;
    return 0;
}

static json_t *vec3_json(const float v[3])
{
    return json_pack("[fff]", (double)v[0], (double)v[1], (double)v[2]);
}

static json_t *camera_to_json(const job_view *view)
{
    const eng_camera *cam = &view->camera;
    int explicit_eye = view->camera_mode == JOB_CAMERA_EXPLICIT;
    eng_camera defaults;
    eng_camera_default(&defaults);
    int clip_auto = cam->z_near == defaults.z_near && cam->z_far == defaults.z_far;
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    int bad_set = 0;
    bad_set |=
        json_object_set_new(obj, "eye", explicit_eye ? vec3_json(cam->eye) : json_string("auto"));
    bad_set |= json_object_set_new(obj, "target",
                                   explicit_eye ? vec3_json(cam->target) : json_string("auto"));
    bad_set |=
        json_object_set_new(obj, "up", explicit_eye ? vec3_json(cam->up) : json_string("auto"));
    bad_set |= json_object_set_new(obj, "fov", json_real((double)cam->fov_y_deg));
    bad_set |= json_object_set_new(obj, "near",
                                   explicit_eye && !clip_auto ? json_real((double)cam->z_near)
                                                              : json_string("auto"));
    bad_set |= json_object_set_new(obj, "far",
                                   explicit_eye && !clip_auto ? json_real((double)cam->z_far)
                                                              : json_string("auto"));
    json_t *ortho = !cam->orthographic ? json_null()
                    : view->ortho_auto ? json_string("auto")
                                       : json_real((double)cam->ortho_height);
    bad_set |= json_object_set_new(obj, "ortho", ortho);
    if (bad_set) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* ---- Views ---- */

static int turntable_from_json(job_spec *spec, const json_t *obj, const md_limits *lim,
                               md_error *err)
{
    static const char *const keys[] = {"count", "elevation", NULL};
    const char *field = "spec.views.turntable";
    if (!json_is_object(obj))
        return bad(err, field, obj, "must be an object {\"count\": N, \"elevation\": degrees}");
    int rc = check_keys(obj, field, keys, err);
    if (rc != 0)
        return rc;
    long long count = 36;
    double elevation = 0;
    const json_t *v = json_object_get(obj, "count");
    if (v != NULL && (get_int(v, &count) != 0 || !job_views_ok(count, lim)))
        return bad(err, "spec.views.turntable.count", v, "must be an integer from 1 to %llu",
                   (unsigned long long)lim->max_views);
    v = json_object_get(obj, "elevation");
    if (v != NULL && (get_number(v, &elevation) != 0 || !job_elevation_ok(elevation)))
        return bad(err, "spec.views.turntable.elevation", v,
                   "must be a number of degrees between -90 and 90 (exclusive)");
    spec->views_mode = JOB_VIEWS_TURNTABLE;
    spec->turntable_count = (uint32_t)count;
    spec->turntable_elevation_deg = (float)elevation;
    return 0;
}

static int views_from_json(job_spec *spec, const json_t *v, const md_limits *lim, md_error *err)
{
    const char *field = "spec.views";
    if (json_is_object(v)) {
        static const char *const keys[] = {"turntable", NULL};
        int rc = check_keys(v, field, keys, err);
        if (rc != 0)
            return rc;
        const json_t *t = json_object_get(v, "turntable");
        if (t == NULL)
            return bad(err, field, v, "must be {\"turntable\": {...}} or an array of cameras");
        if (spec->camera_mode == JOB_CAMERA_EXPLICIT)
            return bad(err, "spec.camera.eye", NULL,
                       "a turntable places the eye itself; give the views as an array of "
                       "cameras instead");
        return turntable_from_json(spec, t, lim, err);
    }
    size_t n = json_array_size(v);
    if (!json_is_array(v))
        return bad(err, field, v,
                   "must be {\"turntable\": {\"count\": N, \"elevation\": degrees}} or an array "
                   "of 1 to %llu cameras",
                   (unsigned long long)lim->max_views);
    if (!job_views_ok((long long)n, lim))
        return bad(err, field, NULL, "must hold 1 to %llu cameras, got %zu",
                   (unsigned long long)lim->max_views, n);
    job_view *views = md_calloc(n, sizeof *views);
    if (views == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "spec.views[%zu]", i);
        /* Each view starts from the job's camera and overrides what it names. */
        views[i] = (job_view){spec->camera, spec->camera_mode, spec->ortho_auto};
        int rc = camera_from_json(&views[i], json_array_get(v, i), name, err);
        if (rc != 0) {
            md_free(views);
            return rc;
        }
    }
    md_free(spec->views);
    spec->views = views;
    spec->view_count = (uint32_t)n;
    spec->views_mode = JOB_VIEWS_CAMERAS;
    return 0;
}

/* ---- Reading ---- */

static const char *const spec_keys[] = {
    "kind",          "frames",          "weights",      "range",          "easing",
    "shape_weights", "texture_weights", "frame_on",     "width",          "height",
    "samples",       "camera",          "background",   "png_level",      "views",
    "label",         "outputs",         "align",        "shape_scale",    "texture_scale",
    "heatmap_scale", "mesh_format",     "fps",          "loop",           "amount",
    "amounts",       "mesh_weights",    "target_morph", "hide_materials", NULL};

/* A copy of n floats, or NULL for NULL; 0 or MD_ENOMEM. */
static int floats_copy(float **dst, const float *src, uint32_t n, md_error *err)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    *dst = md_malloc_array(n ? n : 1, sizeof **dst);
    if (*dst == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    memcpy(*dst, src, n * sizeof **dst);
    return 0;
}

/* A deep copy, so the reader can fail without touching the caller's spec. */
static int spec_copy(job_spec *dst, const job_spec *src, md_error *err)
{
    *dst = *src;
    dst->weights = NULL;
    dst->shape_weights = NULL;
    dst->texture_weights = NULL;
    dst->views = NULL;
    dst->amounts = NULL;
    dst->mesh_weights = NULL;
    int rc = floats_copy(&dst->weights, src->weights, src->weight_count, err);
    if (rc == 0)
        rc = floats_copy(&dst->amounts, src->amounts, src->amount_count, err);
    if (rc == 0 && src->mesh_weights != NULL) {
        dst->mesh_weights = md_malloc_array(src->mesh_weight_count ? src->mesh_weight_count : 1,
                                            sizeof *dst->mesh_weights);
        if (dst->mesh_weights == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory");
        memcpy(dst->mesh_weights, src->mesh_weights,
               src->mesh_weight_count * sizeof *dst->mesh_weights);
    }
    if (rc == 0)
        rc = floats_copy(&dst->shape_weights, src->shape_weights, src->shape_weight_count, err);
    if (rc == 0)
        rc = floats_copy(&dst->texture_weights, src->texture_weights, src->texture_weight_count,
                         err);
    if (rc != 0)
        return rc;
    if (src->views != NULL) {
        dst->views = md_malloc_array(src->view_count, sizeof *dst->views);
        if (dst->views == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory");
        memcpy(dst->views, src->views, src->view_count * sizeof *dst->views);
    }
    return 0;
}

/* An array of 1 to max_frames weights, each from JOB_WEIGHT_MIN to JOB_WEIGHT_MAX, into a new
 * array; field names it ("spec.weights"), meaning says what a weight is there. */
static int weight_list_from_json(const json_t *v, const char *field, const char *meaning,
                                 const md_limits *lim, float **out, size_t *out_n, md_error *err)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v))
        return bad(err, field, v, "must be an array of 1 to %llu numbers from %g to %g",
                   (unsigned long long)lim->max_frames, JOB_WEIGHT_MIN, JOB_WEIGHT_MAX);
    if (!job_frames_ok((long long)n, lim))
        return bad(err, field, NULL, "must hold 1 to %llu weights, got %zu",
                   (unsigned long long)lim->max_frames, n);
    float *weights = md_malloc_array(n, sizeof *weights);
    if (weights == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(v, i);
        double w;
        if (get_number(item, &w) != 0 || !job_weight_ok(w)) {
            md_free(weights);
            char name[48];
            snprintf(name, sizeof name, "%s[%zu]", field, i);
            return bad(err, name, item, "must be a number from %g to %g (%s)", JOB_WEIGHT_MIN,
                       JOB_WEIGHT_MAX, meaning);
        }
        weights[i] = (float)w;
    }
    *out = weights;
    *out_n = n;
    return 0;
}

static int weights_from_json(job_spec *spec, const json_t *v, const md_limits *lim, md_error *err)
{
    float *weights;
    size_t n;
    int rc = weight_list_from_json(v, "spec.weights",
                                   "the share of the target: 0 the source, 1 the target, below 0 "
                                   "an anti-face, above 1 a caricature",
                                   lim, &weights, &n, err);
    if (rc != 0)
        return rc;
    md_free(spec->weights);
    spec->weights = weights;
    spec->weight_count = (uint32_t)n;
    spec->frame_count = (uint32_t)n;
    spec->weights_given = 1;
    return 0;
}

/* "outputs": an array of names, or one string ("all", "minimal", "full", a name, or names
 * separated by commas as on the command line). */
static int outputs_from_json(job_spec *spec, const json_t *v, md_error *err)
{
    const char *field = "spec.outputs";
    const char *what = "must be \"minimal\", \"all\" or an array of output names (frames, "
                       "heatmaps, csv, meshes, video)";
    md_error perr;
    md_error_clear(&perr);
    unsigned set = JOB_OUT_FRAMES;
    if (json_is_string(v)) {
        if (job_outputs_parse(json_string_value(v), &set, &perr) != 0)
            return bad(err, field, v, "%s", what);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            const char *name = json_string_value(item);
            unsigned one;
            /* Each item is one name: "all" and "minimal" are for the string form. */
            if (name == NULL || strchr(name, ',') != NULL || strcmp(name, "all") == 0 ||
                strcmp(name, "full") == 0 || strcmp(name, "minimal") == 0 ||
                job_outputs_parse(name, &one, &perr) != 0) {
                char item_field[48];
                snprintf(item_field, sizeof item_field, "spec.outputs[%zu]", i);
                return bad(err, item_field, item,
                           "must be one of \"frames\", \"heatmaps\", \"csv\", \"meshes\", "
                           "\"video\"");
            }
            set |= one;
        }
    } else {
        return bad(err, field, v, "%s", what);
    }
    if (spec->kind == JOB_KIND_RENDER && set != JOB_OUT_FRAMES)
        return bad(err, field, v,
                   "a render job produces frames only; heatmaps, csv, meshes and video compare "
                   "two meshes (\"kind\": \"morph\")");
    spec->outputs = set;
    return 0;
}

/* One figure scale: "auto" or "MIN:MAX" into *out; a 400 naming field otherwise. */
static int read_scale(const json_t *v, const char *field, ana_scale *out, md_error *err)
{
    md_error perr;
    md_error_clear(&perr);
    if (!json_is_string(v) || ana_scale_parse(json_string_value(v), out, &perr) != 0)
        return bad(err, field, v, "must be \"auto\" or \"MIN:MAX\" with MIN < MAX (e.g. \"-2:2\")");
    return 0;
}

/* align, shape_scale, texture_scale, heatmap_scale (the shorthand for shape_scale), mesh_format,
 * fps, loop: the options of the analysis outputs. */
static int analysis_from_json(job_spec *spec, const json_t *obj, md_error *err)
{
    static const char *const names[] = {
        "align", "shape_scale", "texture_scale", "heatmap_scale", "mesh_format", "fps", "loop"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char field[32];
        snprintf(field, sizeof field, "spec.%s", names[i]);
        const json_t *v = json_object_get(obj, names[i]);
        if (v != NULL && spec->kind == JOB_KIND_RENDER)
            return bad(err, field, NULL,
                       "only morph jobs have it; a render job produces frames only");
    }
    md_error perr;
    md_error_clear(&perr);
    const json_t *v = json_object_get(obj, "align");
    if (v != NULL &&
        (!json_is_string(v) || ana_align_parse(json_string_value(v), &spec->align, &perr) != 0))
        return bad(err, "spec.align", v, "must be \"none\", \"rigid\" or \"similarity\"");
    v = json_object_get(obj, "shape_scale");
    const json_t *shorthand = json_object_get(obj, "heatmap_scale");
    if (v != NULL && shorthand != NULL)
        return bad(err, "spec.heatmap_scale", NULL,
                   "is the shorthand for shape_scale; give one of them (texture_scale sets the "
                   "texture figures' range)");
    if (v != NULL && read_scale(v, "spec.shape_scale", &spec->shape_scale, err) != 0)
        return MD_EINVAL;
    if (shorthand != NULL &&
        read_scale(shorthand, "spec.heatmap_scale", &spec->shape_scale, err) != 0)
        return MD_EINVAL;
    v = json_object_get(obj, "texture_scale");
    if (v != NULL && read_scale(v, "spec.texture_scale", &spec->texture_scale, err) != 0)
        return MD_EINVAL;
    v = json_object_get(obj, "mesh_format");
    if (v != NULL && (!json_is_string(v) ||
                      ana_mesh_format_parse(json_string_value(v), &spec->mesh_format, &perr) != 0))
        return bad(err, "spec.mesh_format", v, "must be \"obj\", \"glb\" or \"fbx\"");
    v = json_object_get(obj, "fps");
    if (v != NULL) {
        long long n;
        if (get_int(v, &n) != 0 || !job_fps_ok(n))
            return bad(err, "spec.fps", v, "must be an integer from 1 to %d", JOB_FPS_MAX);
        spec->fps = (int)n;
    }
    v = json_object_get(obj, "loop");
    if (v != NULL && (!json_is_string(v) || job_parse_loop(json_string_value(v), &spec->loop) != 0))
        return bad(err, "spec.loop", v, "must be \"once\" or \"pingpong\"");
    return 0;
}

/* range, easing, shape_weights, texture_weights: how a morph job's frame list is made and
 * split, read after frames and weights so the lists' lengths can be checked against it. */
static int frame_list_from_json(job_spec *spec, const json_t *obj, int render, const md_limits *lim,
                                md_error *err)
{
    static const char *const names[] = {"range", "easing", "shape_weights", "texture_weights"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char field[32];
        snprintf(field, sizeof field, "spec.%s", names[i]);
        if (render && json_object_get(obj, names[i]) != NULL)
            return bad(err, field, NULL,
                       "only morph jobs have it; a render job renders one frame per view");
        if (i < 2 && json_object_get(obj, names[i]) != NULL && spec->weights_given)
            return bad(err, field, NULL,
                       "spreads the frames of \"frames\"; explicit weights are used as given "
                       "(drop %s, or give frames instead of weights)",
                       names[i]);
    }
    const json_t *v = json_object_get(obj, "range");
    if (v != NULL) {
        double from, to;
        if (!json_is_array(v) || json_array_size(v) != 2 ||
            get_number(json_array_get(v, 0), &from) != 0 ||
            get_number(json_array_get(v, 1), &to) != 0 || !job_weight_ok(from) ||
            !job_weight_ok(to))
            return bad(err, "spec.range", v,
                       "must be [from, to], two weights from %g to %g ([0, 1] goes from the "
                       "source to the target, [-1, 2] from an anti-face to a caricature)",
                       JOB_WEIGHT_MIN, JOB_WEIGHT_MAX);
        spec->range_from = from;
        spec->range_to = to;
    }
    v = json_object_get(obj, "easing");
    if (v != NULL && (!json_is_string(v) || job_easing_parse(json_string_value(v), &spec->easing)))
        return bad(err, "spec.easing", v, "must be \"linear\", \"smoothstep\" or \"sine\"");
    static const char *const meanings[2] = {"the target's share of the shape",
                                            "the target's share of the texture"};
    float **dst[2] = {&spec->shape_weights, &spec->texture_weights};
    uint32_t *dst_n[2] = {&spec->shape_weight_count, &spec->texture_weight_count};
    for (int k = 0; k < 2; k++) {
        char field[32];
        snprintf(field, sizeof field, "spec.%s", names[2 + k]);
        v = json_object_get(obj, names[2 + k]);
        if (v == NULL)
            continue;
        float *list = NULL;
        size_t n = 0;
        if (!json_is_null(v)) { /* null: the weights */
            int rc = weight_list_from_json(v, field, meanings[k], lim, &list, &n, err);
            if (rc != 0)
                return rc;
            if (n != spec->frame_count) {
                md_free(list);
                return bad(err, field, NULL,
                           "must hold one weight per frame: %u frames, got %zu weights",
                           spec->frame_count, n);
            }
        }
        md_free(*dst[k]);
        *dst[k] = list;
        *dst_n[k] = (uint32_t)n;
    }
    return 0;
}

/* "frame_on": null, or the reference's bounds {"name": "...", "min": [x, y, z], "max": [...]}
 * (what the api makes of a frame_on part, and what a client may send itself). */
static int frame_on_from_json(job_spec *spec, const json_t *v, md_error *err)
{
    static const char *const keys[] = {"name", "min", "max", NULL};
    const char *field = "spec.frame_on";
    if (json_is_null(v)) {
        spec->frame_on = 0;
        spec->frame_on_name[0] = '\0';
        memset(spec->frame_on_min, 0, sizeof spec->frame_on_min);
        memset(spec->frame_on_max, 0, sizeof spec->frame_on_max);
        return 0;
    }
    if (!json_is_object(v))
        return bad(err, field, v,
                   "must be null or {\"name\": \"...\", \"min\": [x, y, z], \"max\": [x, y, z]} "
                   "(or send the reference mesh as part 'frame_on')");
    int rc = check_keys(v, field, keys, err);
    if (rc != 0)
        return rc;
    float min[3], max[3];
    const json_t *name = json_object_get(v, "name");
    if (name != NULL && !json_is_string(name))
        return bad(err, "spec.frame_on.name", name, "must be a string");
    if (get_vec3(json_object_get(v, "min"), min) != 0)
        return bad(err, "spec.frame_on.min", json_object_get(v, "min"),
                   "must be [x, y, z] (finite numbers)");
    if (get_vec3(json_object_get(v, "max"), max) != 0)
        return bad(err, "spec.frame_on.max", json_object_get(v, "max"),
                   "must be [x, y, z] (finite numbers)");
    md_error perr;
    md_error_clear(&perr);
    if (job_spec_set_frame_on(spec, name ? json_string_value(name) : "reference", min, max,
                              &perr) != 0)
        return bad(err, field, v, "must have min <= max in every coordinate");
    return 0;
}

/* ---- Face-space kinds (transform, average) ---- */

/* The fields of the other kinds, refused by name for transform and average jobs. */
static const char *const face_refused[] = {"frames",        "weights",
                                           "range",         "easing",
                                           "shape_weights", "texture_weights",
                                           "views",         "outputs",
                                           "align",         "heatmap_scale",
                                           "shape_scale",   "texture_scale",
                                           "mesh_format",   "fps",
                                           "loop",          NULL};

/* amount / amounts (transform) and mesh_weights (average); each refused for the other kinds. */
static int face_from_json(job_spec *spec, const json_t *obj, const md_limits *lim, md_error *err)
{
    const char *kind = job_kind_name(spec->kind);
    const json_t *amount = json_object_get(obj, "amount");
    const json_t *amounts = json_object_get(obj, "amounts");
    const json_t *weights = json_object_get(obj, "mesh_weights");
    if (!job_kind_is_face(spec->kind)) {
        if (amount != NULL || amounts != NULL)
            return bad(err, amount != NULL ? "spec.amount" : "spec.amounts", NULL,
                       "only transform jobs (\"kind\": \"transform\") have it");
        if (weights != NULL)
            return bad(err, "spec.mesh_weights", NULL,
                       "only average jobs (\"kind\": \"average\") have it");
        return 0;
    }
    for (size_t i = 0; face_refused[i] != NULL; i++)
        if (json_object_get(obj, face_refused[i]) != NULL) {
            char field[40];
            snprintf(field, sizeof field, "spec.%s", face_refused[i]);
            return bad(err, field, NULL,
                       "%s %s job has none: it writes %s.obj and renders it once%s",
                       spec->kind == JOB_KIND_AVERAGE ? "an" : "a", kind,
                       spec->kind == JOB_KIND_TRANSFORM ? "transformed" : "average",
                       spec->kind == JOB_KIND_TRANSFORM ? " per amount" : "");
        }
    spec->outputs = JOB_OUT_FRAMES;
    if (spec->kind == JOB_KIND_TRANSFORM) {
        if (weights != NULL)
            return bad(err, "spec.mesh_weights", NULL,
                       "only average jobs (\"kind\": \"average\") have it");
        if (amount != NULL && amounts != NULL)
            return bad(err, "spec.amounts", NULL, "give either amount or amounts, not both");
        if (amount != NULL) {
            if (!json_is_number(amount) || !job_weight_ok(json_number_value(amount)))
                return bad(err, "spec.amount", amount, "must be a number from %g to %g",
                           JOB_WEIGHT_MIN, JOB_WEIGHT_MAX);
            float *one = md_malloc(sizeof *one);
            if (one == NULL)
                return md_fail(err, MD_ENOMEM, "out of memory");
            *one = (float)json_number_value(amount);
            md_free(spec->amounts);
            spec->amounts = one;
            spec->amount_count = 1;
        } else if (amounts != NULL) {
            float *list = NULL;
            size_t n = 0;
            int rc =
                weight_list_from_json(amounts, "spec.amounts", "an amount", lim, &list, &n, err);
            if (rc != 0)
                return rc;
            md_free(spec->amounts);
            spec->amounts = list;
            spec->amount_count = (uint32_t)n;
        }
        if (spec->amounts == NULL)
            return bad(err, "spec.amounts", NULL,
                       "a transform job needs amount (a number) or amounts (a list), each from "
                       "%g to %g: the new face is base + amount * (to - from)",
                       JOB_WEIGHT_MIN, JOB_WEIGHT_MAX);
        return 0;
    }
    if (amount != NULL || amounts != NULL)
        return bad(err, amount != NULL ? "spec.amount" : "spec.amounts", NULL,
                   "only transform jobs (\"kind\": \"transform\") have it");
    if (weights == NULL || json_is_null(weights)) {
        md_free(spec->mesh_weights);
        spec->mesh_weights = NULL;
        spec->mesh_weight_count = 0;
        return 0;
    }
    size_t n = json_array_size(weights);
    if (!json_is_array(weights) || n < 2 || n > lim->max_average_meshes)
        return bad(err, "spec.mesh_weights", weights,
                   "must be null (equal weights) or an array of 2 to %llu numbers, one per "
                   "'mesh' part",
                   (unsigned long long)lim->max_average_meshes);
    double *list = md_malloc_array(n, sizeof *list);
    if (list == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(weights, i);
        double w = json_number_value(item);
        if (!json_is_number(item) || !isfinite(w) || w < 0.0) {
            md_free(list);
            char field[48];
            snprintf(field, sizeof field, "spec.mesh_weights[%zu]", i);
            return bad(err, field, item, "must be a number, 0 or more");
        }
        list[i] = w;
    }
    md_free(spec->mesh_weights);
    spec->mesh_weights = list;
    spec->mesh_weight_count = (uint32_t)n;
    return 0;
}

static int fields_from_json(job_spec *spec, const json_t *obj, const md_limits *lim, md_error *err)
{
    if (!json_is_object(obj))
        return bad(err, "spec", obj, "must be a JSON object");
    int rc = check_keys(obj, "spec", spec_keys, err);
    if (rc != 0)
        return rc;

    const json_t *v = json_object_get(obj, "kind");
    if (v != NULL) {
        const char *s = json_string_value(v);
        if (s != NULL && strcmp(s, "morph") == 0)
            spec->kind = JOB_KIND_MORPH;
        else if (s != NULL && strcmp(s, "render") == 0)
            spec->kind = JOB_KIND_RENDER;
        else if (s != NULL && strcmp(s, "transform") == 0)
            spec->kind = JOB_KIND_TRANSFORM;
        else if (s != NULL && strcmp(s, "average") == 0)
            spec->kind = JOB_KIND_AVERAGE;
        else
            return bad(err, "spec.kind", v,
                       "must be \"morph\", \"render\", \"transform\" or \"average\"");
    }
    int render = spec->kind == JOB_KIND_RENDER;
    if (render)
        spec->outputs = JOB_OUT_FRAMES;
    rc = face_from_json(spec, obj, lim, err);
    if (rc != 0)
        return rc;

    v = json_object_get(obj, "outputs");
    if (v != NULL) {
        rc = outputs_from_json(spec, v, err);
        if (rc != 0)
            return rc;
    }
    rc = analysis_from_json(spec, obj, err);
    if (rc != 0)
        return rc;

    v = json_object_get(obj, "label");
    if (v != NULL) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (s == NULL)
            return bad(err, "spec.label", v, "must be a string");
        if (n > JOB_LABEL_MAX)
            return bad(err, "spec.label", NULL, "%zu bytes, more than the %d allowed", n,
                       JOB_LABEL_MAX);
        if (strlen(s) != n || !utf8_ok((const unsigned char *)s, n))
            return bad(err, "spec.label", NULL, "must be UTF-8 text without NUL characters");
        memcpy(spec->label, s, n + 1);
    }

    v = json_object_get(obj, "target_morph");
    if (v != NULL && !json_is_null(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (spec->kind != JOB_KIND_MORPH)
            return bad(err, "spec.target_morph", NULL,
                       "only morph jobs have it (a morph target of the source file as the "
                       "target), not %s jobs",
                       job_kind_name(spec->kind));
        if (s == NULL)
            return bad(err, "spec.target_morph", v,
                       "must be a string: a morph target's name or 0-based index");
        if (n == 0 || n > JOB_TARGET_MORPH_MAX)
            return bad(err, "spec.target_morph", NULL, "%zu bytes; give 1 to %d", n,
                       JOB_TARGET_MORPH_MAX);
        if (strlen(s) != n || !utf8_ok((const unsigned char *)s, n))
            return bad(err, "spec.target_morph", NULL, "must be UTF-8 text without NUL characters");
        memcpy(spec->target_morph, s, n + 1);
    } else if (v != NULL) {
        spec->target_morph[0] = '\0';
    }

    v = json_object_get(obj, "hide_materials");
    if (v != NULL && !json_is_null(v)) {
        if (spec->kind != JOB_KIND_MORPH)
            return bad(err, "spec.hide_materials", NULL, "only morph jobs have it, not %s jobs",
                       job_kind_name(spec->kind));
        if (!json_is_array(v))
            return bad(err, "spec.hide_materials", v, "must be a list of material names");
        if (json_array_size(v) > JOB_HIDE_MATERIALS_MAX)
            return bad(err, "spec.hide_materials", NULL, "%zu names; at most %d are allowed",
                       json_array_size(v), JOB_HIDE_MATERIALS_MAX);
        spec->hide_count = 0;
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            const char *name = json_string_value(item);
            size_t n = json_string_length(item);
            char field[48];
            snprintf(field, sizeof field, "spec.hide_materials[%zu]", i);
            if (name == NULL)
                return bad(err, field, item, "must be a string: a material's name");
            if (strlen(name) != n || !utf8_ok((const unsigned char *)name, n))
                return bad(err, field, NULL, "must be UTF-8 text without NUL characters");
            int added = job_spec_add_hidden(spec, name, n, field, err);
            if (added != 0)
                return added;
        }
    } else if (v != NULL) {
        spec->hide_count = 0;
    }

    const json_t *frames = json_object_get(obj, "frames");
    const json_t *weights = json_object_get(obj, "weights");
    if (render && (frames != NULL || weights != NULL))
        return bad(err, frames != NULL ? "spec.frames" : "spec.weights", NULL,
                   "only morph jobs have frames; a render job renders one frame per view");
    if (frames != NULL && weights != NULL)
        return bad(err, "spec.weights", NULL,
                   "give either frames (evenly spaced) or weights, not both");
    if (frames != NULL) {
        long long n;
        if (get_int(frames, &n) != 0 || !job_frames_ok(n, lim))
            return bad(err, "spec.frames", frames, "must be an integer from 1 to %llu",
                       (unsigned long long)lim->max_frames);
        md_free(spec->weights);
        spec->weights = NULL;
        spec->weight_count = 0;
        spec->weights_given = 0;
        spec->frame_count = (uint32_t)n;
    }
    if (weights != NULL) {
        rc = weights_from_json(spec, weights, lim, err);
        if (rc != 0)
            return rc;
    }
    rc = frame_list_from_json(spec, obj, render, lim, err);
    if (rc != 0)
        return rc;
    v = json_object_get(obj, "frame_on");
    if (v != NULL && render)
        return bad(err, "spec.frame_on", NULL,
                   "only morph jobs have it; a render job frames each view on its mesh");
    if (v != NULL) {
        rc = frame_on_from_json(spec, v, err);
        if (rc != 0)
            return rc;
    }

    static const char *const side_names[2] = {"width", "height"};
    int *side_dst[2] = {&spec->width, &spec->height};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(obj, side_names[i]);
        long long n;
        if (v == NULL)
            continue;
        if (get_int(v, &n) != 0 || !job_image_side_ok(n, lim)) {
            char name[32];
            snprintf(name, sizeof name, "spec.%s", side_names[i]);
            return bad(err, name, v, "must be an integer from 1 to %llu pixels",
                       (unsigned long long)lim->max_image_side);
        }
        *side_dst[i] = (int)n;
    }
    v = json_object_get(obj, "samples");
    if (v != NULL) {
        long long n;
        if (get_int(v, &n) != 0 || !job_samples_ok(n, lim))
            return bad(err, "spec.samples", v,
                       "must be a square number of samples per pixel (1, 4, 9, 16, ...) no "
                       "larger than %llu",
                       (unsigned long long)lim->max_samples);
        spec->samples = (int)n;
    }
    v = json_object_get(obj, "png_level");
    if (v != NULL) {
        long long n;
        if (get_int(v, &n) != 0 || !job_png_level_ok(n))
            return bad(err, "spec.png_level", v, "must be an integer zlib level from 0 to 9");
        spec->png_level = (int)n;
    }
    v = json_object_get(obj, "background");
    if (v != NULL) {
        const char *s = json_string_value(v);
        if (s == NULL || job_parse_colour(s, spec->background) != 0)
            return bad(err, "spec.background", v,
                       "must be a colour \"rrggbb\" or \"#rrggbb\" in hex");
    }

    v = json_object_get(obj, "camera");
    if (v != NULL) {
        job_view base = {spec->camera, spec->camera_mode, spec->ortho_auto};
        rc = camera_from_json(&base, v, "spec.camera", err);
        if (rc != 0)
            return rc;
        spec->camera = base.camera;
        spec->camera_mode = base.camera_mode;
        spec->ortho_auto = base.ortho_auto;
    }

    v = json_object_get(obj, "views");
    if (v != NULL) {
        if (!render)
            return bad(err, "spec.views", NULL,
                       "only render jobs (\"kind\": \"render\") have views");
        return views_from_json(spec, v, lim, err);
    }
    if (render) {
        /* No views: one, the job's camera (framed from the front unless it has an eye). */
        job_view *one = md_malloc(sizeof *one);
        if (one == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory");
        *one = (job_view){spec->camera, spec->camera_mode, spec->ortho_auto};
        md_free(spec->views);
        spec->views = one;
        spec->view_count = 1;
        spec->views_mode = JOB_VIEWS_CAMERAS;
    }
    return 0;
}

int job_spec_from_json(job_spec *spec, const json_t *obj, const md_limits *lim, md_error *err)
{
    job_spec next;
    int rc = spec_copy(&next, spec, err);
    if (rc == 0)
        rc = fields_from_json(&next, obj, lim, err);
    if (rc == 0)
        rc = job_spec_check_budget(&next, lim, err);
    if (rc != 0) {
        job_spec_free(&next);
        return rc;
    }
    job_spec_free(spec);
    *spec = next;
    return 0;
}

/* ---- Writing ---- */

/* amounts (transform) or mesh_weights (average, null: equal) into obj; nonzero on failure. */
static int face_to_json(const job_spec *spec, json_t *obj)
{
    if (spec->kind == JOB_KIND_TRANSFORM) {
        json_t *a = json_array();
        int failed = a == NULL;
        for (uint32_t i = 0; a != NULL && i < spec->amount_count; i++)
            failed |= json_array_append_new(a, json_real((double)spec->amounts[i]));
        return failed | json_object_set_new(obj, "amounts", a);
    }
    if (spec->mesh_weights == NULL)
        return json_object_set_new(obj, "mesh_weights", json_null());
    json_t *w = json_array();
    int failed = w == NULL;
    for (uint32_t i = 0; w != NULL && i < spec->mesh_weight_count; i++)
        failed |= json_array_append_new(w, json_real(spec->mesh_weights[i]));
    return failed | json_object_set_new(obj, "mesh_weights", w);
}

json_t *job_spec_to_json(const job_spec *spec)
{
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    int render = spec->kind == JOB_KIND_RENDER;
    int face = job_kind_is_face(spec->kind);
    int failed = json_object_set_new(obj, "kind", json_string(job_kind_name(spec->kind)));
    if (face)
        failed |= face_to_json(spec, obj);
    if (face) {
        /* The face kinds have neither frames nor views nor analysis outputs. */
    } else if (!render && spec->weights_given && spec->weights != NULL) {
        json_t *w = json_array();
        for (uint32_t i = 0; w != NULL && i < spec->weight_count; i++)
            failed |= json_array_append_new(w, json_real((double)spec->weights[i]));
        failed |= json_object_set_new(obj, "weights", w);
    } else if (!render) {
        failed |= json_object_set_new(obj, "frames", json_integer(spec->frame_count));
        failed |=
            json_object_set_new(obj, "range", json_pack("[f,f]", spec->range_from, spec->range_to));
        failed |= json_object_set_new(obj, "easing", json_string(job_easing_name(spec->easing)));
    }
    const float *lists[2] = {spec->shape_weights, spec->texture_weights};
    const uint32_t counts[2] = {spec->shape_weight_count, spec->texture_weight_count};
    static const char *const list_names[2] = {"shape_weights", "texture_weights"};
    for (int k = 0; k < 2 && !render && !face; k++) {
        json_t *w = lists[k] != NULL ? json_array() : json_null();
        for (uint32_t i = 0; lists[k] != NULL && w != NULL && i < counts[k]; i++)
            failed |= json_array_append_new(w, json_real((double)lists[k][i]));
        failed |= json_object_set_new(obj, list_names[k], w);
    }
    failed |= json_object_set_new(obj, "width", json_integer(spec->width));
    failed |= json_object_set_new(obj, "height", json_integer(spec->height));
    failed |= json_object_set_new(obj, "samples", json_integer(spec->samples));
    job_view base = {spec->camera, spec->camera_mode, spec->ortho_auto};
    failed |= json_object_set_new(obj, "camera", camera_to_json(&base));
    char colour[8];
    snprintf(colour, sizeof colour, "%02x%02x%02x", spec->background[0], spec->background[1],
             spec->background[2]);
    failed |= json_object_set_new(obj, "background", json_string(colour));
    failed |= json_object_set_new(obj, "png_level", json_integer(spec->png_level));
    if (render && spec->views_mode == JOB_VIEWS_TURNTABLE) {
        failed |= json_object_set_new(obj, "views",
                                      json_pack("{s:{s:I,s:f}}", "turntable", "count",
                                                (json_int_t)spec->turntable_count, "elevation",
                                                (double)spec->turntable_elevation_deg));
    } else if (render) {
        json_t *views = json_array();
        for (uint32_t i = 0; views != NULL && i < spec->view_count; i++)
            failed |= json_array_append_new(views, camera_to_json(&spec->views[i]));
        failed |= json_object_set_new(obj, "views", views);
    }
    failed |= json_object_set_new(obj, "label", json_string(spec->label));
    if (spec->kind == JOB_KIND_MORPH && spec->target_morph[0] != '\0')
        failed |= json_object_set_new(obj, "target_morph", json_string(spec->target_morph));
    if (spec->kind == JOB_KIND_MORPH && spec->hide_count > 0) {
        json_t *hide = json_array();
        for (uint32_t i = 0; hide != NULL && i < spec->hide_count; i++)
            failed |= json_array_append_new(hide, json_string(spec->hide_materials[i]));
        failed |= json_object_set_new(obj, "hide_materials", hide);
    }
    /* A render job produces frames only, whatever the struct says. */
    unsigned wanted = render ? JOB_OUT_FRAMES : spec->outputs | JOB_OUT_FRAMES;
    json_t *outputs = json_array();
    for (int i = 0; outputs != NULL && i < JOB_OUTPUT_KINDS; i++)
        if (wanted & (1u << i))
            failed |= json_array_append_new(outputs, json_string(job_output_name(1u << i)));
    if (!face)
        failed |= json_object_set_new(obj, "outputs", outputs);
    else
        json_decref(outputs);
    if (face) {
        json_t *frame_on = !spec->frame_on ? json_null()
                                           : json_pack("{s:s,s:o,s:o}", "name", spec->frame_on_name,
                                                       "min", vec3_json(spec->frame_on_min), "max",
                                                       vec3_json(spec->frame_on_max));
        failed |= json_object_set_new(obj, "frame_on", frame_on);
    } else if (!render) {
        char shape[64], texture[64];
        ana_scale_format(&spec->shape_scale, shape, sizeof shape);
        ana_scale_format(&spec->texture_scale, texture, sizeof texture);
        failed |= json_object_set_new(obj, "align", json_string(ana_align_name(spec->align)));
        failed |= json_object_set_new(obj, "shape_scale", json_string(shape));
        failed |= json_object_set_new(obj, "texture_scale", json_string(texture));
        failed |= json_object_set_new(obj, "mesh_format",
                                      json_string(ana_mesh_format_name(spec->mesh_format)));
        failed |= json_object_set_new(obj, "fps", json_integer(spec->fps));
        failed |= json_object_set_new(obj, "loop", json_string(job_loop_name(spec->loop)));
        json_t *frame_on = !spec->frame_on ? json_null()
                                           : json_pack("{s:s,s:o,s:o}", "name", spec->frame_on_name,
                                                       "min", vec3_json(spec->frame_on_min), "max",
                                                       vec3_json(spec->frame_on_max));
        failed |= json_object_set_new(obj, "frame_on", frame_on);
    }
    if (failed) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}
