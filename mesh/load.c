/*
 * load.c — mesh_load(): the I/O shell around the parsers. Reads the mesh file (bounded by
 * max_file_bytes), picks the parser (our OBJ parser for .obj, assimp for the rest), then reads
 * the MTL libraries and texture files the mesh names, relative to the mesh's folder. Parsers
 * never touch the filesystem; this file is the only place that resolves names to paths.
 *
 * A missing MTL or texture is a warning, not an error: the mesh still renders, in the
 * material's colour, and the warning lands in the session log. A texture that exists but cannot
 * be decoded is an error (the user asked for it and would get a silently wrong picture).
 */
#define _GNU_SOURCE
#include "mesh/mesh_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir of path, with trailing '/', or "" when path has no folder part. */
static void dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        out[0] = '\0';
        return;
    }
    size_t n = (size_t)(slash - path) + 1;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, path, n);
    out[n] = '\0';
}

/* Finds the file a mesh names: as written (absolute or relative to the mesh folder), with
 * Windows separators turned around, and finally by its base name beside the mesh, which is how
 * exported models usually travel. Returns 0 and fills out, or -1. */
static int resolve_name(const char *dir, const char *name, char *out, size_t cap)
{
    char fixed[4096];
    snprintf(fixed, sizeof fixed, "%s", name);
    for (char *p = fixed; *p; p++)
        if (*p == '\\')
            *p = '/';
    if (fixed[0] == '/') {
        snprintf(out, cap, "%s", fixed);
        if (file_exists(out))
            return 0;
    } else {
        snprintf(out, cap, "%s%s", dir, fixed);
        if (file_exists(out))
            return 0;
    }
    const char *base = strrchr(fixed, '/');
    base = base ? base + 1 : fixed;
    snprintf(out, cap, "%s%s", dir, base);
    return file_exists(out) ? 0 : -1;
}

static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    return dot ? dot + 1 : "";
}

static int load_mtllibs(mesh *m, const char *dir, const md_limits *lim, md_error *err)
{
    for (uint32_t i = 0; i < m->mtllib_count; i++) {
        char path[4096];
        if (resolve_name(dir, m->mtllibs[i], path, sizeof path) != 0) {
            md_log(MD_LOG_WARN,
                   "material library '%s' not found beside the mesh; materials "
                   "keep their default colour",
                   m->mtllibs[i]);
            continue;
        }
        char *bytes;
        size_t len;
        int rc = md_read_file(path, lim->max_file_bytes, &bytes, &len, err);
        if (rc == 0) {
            rc = mesh_parse_mtl(m, bytes, len, err);
            md_free(bytes);
        }
        if (rc != 0)
            return md_error_prefix(err, "%s: ", path);
    }
    return 0;
}

static int load_textures(mesh *m, const char *dir, const md_limits *lim, md_error *err)
{
    for (uint32_t i = 0; i < m->material_count; i++) {
        struct mesh_material *mat = &m->materials[i];
        if (mat->texture != NULL || mat->texture_path == NULL)
            continue;
        char path[4096];
        if (resolve_name(dir, mat->texture_path, path, sizeof path) != 0) {
            md_log(MD_LOG_WARN,
                   "texture '%s' of material '%s' not found; the material renders "
                   "in its colour",
                   mat->texture_path, mat->name);
            continue;
        }
        int rc = img_load(path, lim, &mat->texture, err);
        if (rc != 0)
            return md_error_prefix(err, "material '%s': ", mat->name);
    }
    return 0;
}

int mesh_resolve_file(const char *mesh_path, const char *name, char *out, size_t cap)
{
    char dir[4096];
    dir_of(mesh_path, dir, sizeof dir);
    return resolve_name(dir, name, out, cap);
}

int mesh_load(const char *path, const md_limits *lim, mesh **out, md_error *err)
{
    return mesh_load_ex(path, lim, NULL, out, err);
}

int mesh_load_ex(const char *path, const md_limits *lim, mesh_load_opts *opts, mesh **out,
                 md_error *err)
{
    *out = NULL;
    double start = md_now();
    char *bytes = NULL;
    size_t len = 0;
    mesh *m = NULL;
    int rc = md_read_file(path, lim->max_file_bytes, &bytes, &len, err);
    if (rc != 0)
        return rc;
    char dir[4096];
    dir_of(path, dir, sizeof dir);

    char ext[16];
    snprintf(ext, sizeof ext, "%s", extension(path));
    for (char *p = ext; *p; p++)
        *p = (char)tolower((unsigned char)*p);

    int external = opts == NULL || !opts->no_external;
    const char *morph_target = opts != NULL ? opts->morph_target : NULL;
    if (strcmp(ext, "obj") == 0 && morph_target != NULL) {
        rc = md_fail(err, MD_EINVAL,
                     "morph target '%s' was asked for, but OBJ files carry no morph targets "
                     "(use a .glb or .fbx with targets)",
                     morph_target);
    } else if (strcmp(ext, "obj") == 0) {
        rc = mesh_parse_obj(bytes, len, lim, &m, err);
        if (rc == 0 && external)
            rc = load_mtllibs(m, dir, lim, err);
    } else {
        rc = mesh_parse_assimp_ex((const uint8_t *)bytes, len, ext, lim, morph_target, &m, err);
    }
    md_free(bytes);
    double parsed = md_now();
    if (rc == 0 && external && (opts == NULL || !opts->skip_textures))
        rc = load_textures(m, dir, lim, err);
    if (opts != NULL) {
        opts->parse_s = parsed - start;
        opts->texture_s = md_now() - parsed;
    }
    if (rc != 0) {
        mesh_free(m);
        /* md_read_file and img_load already name their path; parsers do not. */
        if (strstr(err->msg, path) == NULL)
            md_error_prefix(err, "%s: ", path);
        return rc;
    }
    *out = m;
    return 0;
}
