/*
 * replay.c — `morph run --replay MANIFEST`: regenerate stimuli exactly from the manifest.json
 * that travels with them. The writer (run.c's manifest hook, through cli_replay_note_inputs)
 * records the SHA-256 of every input: inputs.source and inputs.target, each material's texture,
 * and inputs.<role>.texture_override when --source-texture / --target-texture replaced the
 * texture the mesh names. The reader takes the paths and the normalised spec ("spec", the same
 * JSON the api accepts) back, and refuses when a file is missing or its bytes changed: the
 * point of a replay is the same bytes out, which needs the same bytes in. The renderer is
 * deterministic (fixed-order arithmetic, no randomness), so the same inputs, spec, engine and
 * build give byte-identical frames and CSVs; the manifest's timings differ.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <string.h>

#include "jobs/job.h"
#include "mesh/mesh.h"

static const char *const roles[2] = {"source", "target"};

/* The file a material's texture path means: an override's path as given; a path from the mesh
 * file resolved as the mesh loader resolves it. NULL when not found. */
static const char *texture_file(const char *mesh_path, const char *tpath, int overridden, char *buf,
                                size_t cap)
{
    if (overridden)
        return tpath;
    return mesh_resolve_file(mesh_path, tpath, buf, cap) == 0 ? buf : NULL;
}

int cli_replay_note_inputs(json_t *inputs, const char *source_texture, const char *target_texture,
                           md_error *err)
{
    const char *overrides[2] = {source_texture, target_texture};
    for (int r = 0; r < 2; r++) {
        json_t *in = json_object_get(inputs, roles[r]);
        const char *path = json_string_value(json_object_get(in, "path"));
        char hex[65];
        if (path == NULL)
            continue;
        int rc = md_sha256_file(path, hex, err);
        if (rc != 0)
            return rc;
        json_object_set_new(in, "sha256", json_string(hex));
        if (overrides[r] != NULL)
            json_object_set_new(in, "texture_override", json_string(overrides[r]));
        size_t i;
        json_t *material;
        json_array_foreach(json_object_get(in, "materials"), i, material)
        {
            json_t *texture = json_object_get(material, "texture");
            const char *tpath = json_string_value(json_object_get(texture, "path"));
            char buf[4096];
            const char *file =
                tpath ? texture_file(path, tpath, overrides[r] != NULL, buf, sizeof buf) : NULL;
            if (file == NULL)
                continue;
            if ((rc = md_sha256_file(file, hex, err)) != 0)
                return rc;
            json_object_set_new(texture, "sha256", json_string(hex));
        }
    }
    return 0;
}

/* path still hashes to the recorded hex. what: "source mesh", "texture of material M_Face"... */
static int check_file(const char *manifest, const char *what, const char *path,
                      const char *recorded, md_error *err)
{
    if (path == NULL || recorded == NULL)
        return md_fail(err, MD_EINVAL,
                       "%s: the %s has no path or sha256: this manifest was not written by a "
                       "morph run that records its inputs (morph 0.1.0 of 2026-12-03 or later)",
                       manifest, what);
    char hex[65];
    int rc = md_sha256_file(path, hex, err);
    if (rc != 0) {
        md_error_prefix(err, "--replay %s: the %s: ", manifest, what);
        return rc;
    }
    if (strcmp(hex, recorded) != 0)
        return md_fail(err, MD_EINVAL,
                       "--replay %s: the %s %s has changed since the manifest was written "
                       "(sha256 %.12s... recorded, %.12s... now): a replay needs the same "
                       "inputs",
                       manifest, what, path, recorded, hex);
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? md_strdup(s) : NULL;
}

int cli_replay_load(const char *manifest_path, const md_limits *lim, job_spec *spec,
                    cli_replay *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_load_file(manifest_path, 0, &jerr);
    if (root == NULL)
        return md_fail(err, MD_EINVAL, "--replay %s: not a readable manifest (line %d: %s)",
                       manifest_path, jerr.line, jerr.text);
    int rc = 0;
    json_t *inputs = json_object_get(root, "inputs");
    json_t *spec_json = json_object_get(root, "spec");
    if (!json_is_object(inputs) || !json_is_object(spec_json)) {
        rc = md_fail(err, MD_EINVAL,
                     "--replay %s: no inputs or spec: not the manifest.json of a morph run",
                     manifest_path);
        goto done;
    }
    for (int r = 0; r < 2 && rc == 0; r++) {
        json_t *in = json_object_get(inputs, roles[r]);
        const char *path = json_string_value(json_object_get(in, "path"));
        char what[160];
        snprintf(what, sizeof what, "%s mesh", roles[r]);
        rc = check_file(manifest_path, what, path, json_string_value(json_object_get(in, "sha256")),
                        err);
        const char *tex = json_string_value(json_object_get(in, "texture_override"));
        size_t i;
        json_t *material;
        json_array_foreach(json_object_get(in, "materials"), i, material)
        {
            json_t *texture = json_object_get(material, "texture");
            if (rc != 0 || !json_is_object(texture) || path == NULL)
                continue;
            snprintf(what, sizeof what, "%s texture of material '%s'", roles[r],
                     json_string_value(json_object_get(material, "name")) ?: "?");
            const char *tpath = json_string_value(json_object_get(texture, "path"));
            char buf[4096];
            const char *file =
                tpath ? texture_file(path, tpath, tex != NULL, buf, sizeof buf) : NULL;
            if (tpath != NULL && file == NULL)
                rc = md_fail(err, MD_ENOENT, "--replay %s: the %s %s is not found beside %s",
                             manifest_path, what, tpath, path);
            else
                rc = check_file(manifest_path, what, file,
                                json_string_value(json_object_get(texture, "sha256")), err);
        }
        if (rc == 0) {
            *(r == 0 ? &out->source : &out->target) = md_strdup(path);
            *(r == 0 ? &out->source_texture : &out->target_texture) = dup_or_null(tex);
            if (r == 1)
                out->target_morph =
                    dup_or_null(json_string_value(json_object_get(in, "morph_target")));
        }
    }
    if (rc == 0) {
        rc = job_spec_from_json(spec, spec_json, lim, err);
        if (rc != 0)
            md_error_prefix(err, "--replay %s: spec: ", manifest_path);
    }
    if (rc == 0) {
        snprintf(out->engine, sizeof out->engine, "%s",
                 json_string_value(json_object_get(root, "engine")) ?: "");
        snprintf(out->version, sizeof out->version, "%s",
                 json_string_value(json_object_get(root, "morphd_version")) ?: "");
    }
done:
    json_decref(root);
    if (rc != 0)
        cli_replay_free(out);
    return rc;
}

void cli_replay_free(cli_replay *r)
{
    md_free(r->source);
    md_free(r->target);
    md_free(r->target_morph);
    md_free(r->source_texture);
    md_free(r->target_texture);
    memset(r, 0, sizeof *r);
}
