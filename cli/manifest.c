/*
 * manifest.c — builds manifest.json with jansson from a finished run and writes it atomically.
 * Runs on the main thread after the engine batch; reads only finished, immutable data.
 */
#include "cli/manifest.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "version.h"

/* A JSON string for text from a file (material names, paths), which need not be UTF-8: jansson
 * refuses invalid UTF-8, so such text is kept with its non-ASCII bytes shown as '?'. */
static json_t *text(const char *s)
{
    if (s == NULL)
        return json_null();
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    char *copy = md_strdup(s);
    if (copy == NULL)
        return json_null();
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    md_free(copy);
    return j ? j : json_null();
}

static json_t *input_json(const char *path, const char *texture_override, const mesh *m)
{
    json_t *materials = json_array();
    for (uint32_t i = 0; i < mesh_material_count(m); i++) {
        float rgb[3];
        mesh_material_color(m, i, rgb);
        const img *tex = mesh_material_texture(m, i);
        const char *tex_path = mesh_material_texture_path(m, i);
        json_t *texture = json_null();
        if (tex != NULL)
            texture = json_pack("{s:o,s:i,s:i}", "path",
                                text(texture_override ? texture_override : tex_path), "width",
                                img_width(tex), "height", img_height(tex));
        json_array_append_new(materials,
                              json_pack("{s:o,s:o,s:o}", "name", text(mesh_material_name(m, i)),
                                        "color", job_vec3_json(rgb), "texture", texture));
    }
    float min[3], max[3];
    mesh_bounds(m, min, max);
    return json_pack("{s:o,s:s,s:I,s:I,s:I,s:o,s:{s:o,s:o}}", "path", text(path), "format",
                     mesh_format(m), "vertices", (json_int_t)mesh_vertex_count(m), "triangles",
                     (json_int_t)mesh_triangle_count(m), "uvs", (json_int_t)mesh_uv_count(m),
                     "materials", materials, "bounds", "min", job_vec3_json(min), "max",
                     job_vec3_json(max));
}

/* The resolved camera, and whether it was framed automatically or given. */
static json_t *camera_json(const job_spec *spec, const eng_camera *cam)
{
    json_t *j = job_camera_json(cam);
    if (j != NULL)
        json_object_set_new(
            j, "mode", json_string(spec->camera_mode == JOB_CAMERA_AUTO ? "auto" : "explicit"));
    return j;
}

int run_manifest_write(const run_manifest *man, md_error *err)
{
    const job_spec *spec = man->spec;
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);

    json_t *weights = json_array();
    json_t *frames = json_array();
    size_t total_bytes = 0;
    for (uint32_t i = 0; i < man->frame_count; i++) {
        const run_frame *f = &man->frames[i];
        char file[600];
        snprintf(file, sizeof file, "frames/%s", f->file);
        json_array_append_new(weights, json_real(job_spec_weight(spec, i)));
        json_array_append_new(frames, json_pack("{s:I,s:f,s:s,s:I}", "index", (json_int_t)i,
                                                "weight", (double)job_spec_weight(spec, i), "file",
                                                file, "bytes", (json_int_t)f->bytes));
        total_bytes += f->bytes;
    }
    char background[8];
    snprintf(background, sizeof background, "%02x%02x%02x", spec->background[0],
             spec->background[1], spec->background[2]);

    const eng_stats *es = &man->engine;
    json_t *root = json_pack(
        "{s:s,s:s,s:{s:s,s:i},s:{s:o,s:o},"
        "s:{s:I,s:o,s:[i,i],s:i,s:o,s:s,s:i},"
        "s:o,s:I,"
        "s:{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f},s:s}",
        "morphd_version", MORPHD_VERSION, "created_at", created, "engine", "name", man->engine_name,
        "threads", man->threads, "inputs", "source",
        input_json(man->paths->source, man->paths->source_texture, job_inputs_mesh(man->inputs, 0)),
        "target",
        input_json(man->paths->target, man->paths->target_texture, job_inputs_mesh(man->inputs, 1)),
        "options", "frames", (json_int_t)man->frame_count, "weights", weights, "size", spec->width,
        spec->height, "samples", spec->samples, "camera", camera_json(spec, &man->job->camera),
        "background", background, "png_level", spec->png_level, "frames", frames, "output_bytes",
        (json_int_t)total_bytes, "timings_s", "parse", man->load.parse_s, "texture_decode",
        man->load.texture_s, "texture_pad", man->load.pad_s, "morph", es->morph_s, "raster",
        es->raster_s, "shade", es->shade_s, "png_encode", man->encode_s, "write", man->write_s,
        "render_wall", es->wall_s, "total", man->total_s, "timings_note",
        "morph, raster, shade, png_encode and write are summed over engine threads; "
        "render_wall and total are wall-clock");
    if (root == NULL)
        return md_fail(err, MD_EINTERNAL, "cannot build manifest.json");
    if (man->outputs != NULL) {
        json_t *outputs = job_outputs_manifest(man->outputs);
        if (outputs == NULL) {
            json_decref(root);
            return md_fail(err, MD_ENOMEM, "out of memory building manifest.json");
        }
        json_object_set_new(outputs, "wall_s", json_real(man->outputs_s));
        json_object_set_new(root, "outputs", outputs);
        json_object_set_new(json_object_get(root, "timings_s"), "outputs",
                            json_real(man->outputs_s));
    }
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(7));
    json_decref(root);
    if (text == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory writing manifest.json");
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", man->out_dir);
    size_t len = strlen(text);
    int rc = md_write_file_atomic(path, text, len, err);
    free(text);
    return rc;
}
