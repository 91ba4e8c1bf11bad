/*
 * framing.c — shared framing for `morph run` and `morph submit`: --camera-from MANIFEST reads an
 * earlier job's manifest.json and gives the spec its resolved camera (exactly, from the
 * camera's 9-digit "text"); --frame-on MESH loads a reference mesh and frames the camera on its
 * bounds instead of the pair's. The file reading lives here, on the CLI's main thread; the
 * spec setters they call (jobs/spec.c) are pure. Nothing is kept: the mesh is freed after its
 * bounds are taken.
 */
#include "cli/cli.h"

#include <jansson.h>
#include <stdlib.h>

#include "base/md.h"
#include "jobs/spec.h"
#include "mesh/mesh.h"

#define MANIFEST_MAX ((size_t)64 << 20) /* a manifest of 10000 frames is about 2 MiB */

int cli_camera_from(job_spec *spec, const char *path, md_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = md_read_file(path, MANIFEST_MAX, &text, &len, err);
    if (rc != 0)
        return md_error_prefix(err, "--camera-from: ");
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    md_free(text);
    if (root == NULL)
        return md_fail(err, MD_EINVAL, "--camera-from: %s: line %d column %d: %s", path, jerr.line,
                       jerr.column, jerr.text);
    rc = job_spec_set_camera_from_manifest(spec, root, path, err);
    json_decref(root);
    return rc;
}

int cli_frame_on(job_spec *spec, const char *path, const md_limits *lim, md_error *err)
{
    mesh *m = NULL;
    int rc = mesh_load(path, lim, &m, err);
    if (rc != 0)
        return md_error_prefix(err, "--frame-on: ");
    float min[3], max[3];
    mesh_bounds(m, min, max);
    char stem[JOB_FRAME_ON_NAME_MAX + 1];
    job_path_stem(path, stem, sizeof stem);
    rc = job_spec_set_frame_on(spec, stem, min, max, err);
    mesh_free(m);
    return rc != 0 ? md_error_prefix(err, "--frame-on: ") : 0;
}
