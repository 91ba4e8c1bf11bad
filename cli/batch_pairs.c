/*
 * batch_pairs.c — what `morph batch DIR` works on: the mesh files of DIR (sorted by name, so a
 * batch is the same on every machine), each mesh's texture, and the pairs: every unordered pair,
 * or those a PAIRS.csv lists. Main thread of the batch process; the batch_set owns every string.
 *
 * A mesh's texture is what its material (MTL, or the file itself) names; when it names none, an
 * image beside it with the same stem (face1.obj, face1.png) is used as the texture override.
 * For a server, which reads no file but the uploaded ones, the texture the material names is
 * resolved here too and sent as the texture part (the first textured material's).
 * Counts are capped (max_batch_meshes, max_batch_pairs) before the arrays are allocated.
 */
#define _GNU_SOURCE
#include "cli/batch.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mesh/mesh.h"

/* ---- Meshes of the folder ---- */

static const char *extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot != NULL && dot != name ? dot + 1 : NULL;
}

static int is_mesh_name(const char *name)
{
    static const char *const formats[] = {"obj", "fbx", "glb", "gltf", "ply"};
    const char *ext = extension(name);
    for (size_t i = 0; ext != NULL && i < sizeof formats / sizeof formats[0]; i++)
        if (strcasecmp(ext, formats[i]) == 0)
            return 1;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const batch_mesh *)a)->name, ((const batch_mesh *)b)->name);
}

/* The texture file the mesh's first textured material names, resolved as mesh_load resolves
 * it, into out ("" when it names none or the file is not there). Returns 1 when the mesh names
 * a texture; a mesh that does not parse counts as naming one, so its pairs fail with the
 * parser's message rather than with a texture it never asked for. */
static int own_texture(const char *path, const md_limits *lim, char *out, size_t cap)
{
    mesh_load_opts opts = {.skip_textures = 1};
    mesh *m = NULL;
    md_error err;
    out[0] = '\0';
    if (mesh_load_ex(path, lim, &opts, &m, &err) != 0)
        return 1;
    const char *named = NULL;
    for (uint32_t i = 0; i < mesh_material_count(m) && named == NULL; i++)
        named = mesh_material_texture_path(m, i);
    if (named != NULL && mesh_resolve_file(path, named, out, cap) != 0)
        out[0] = '\0';
    mesh_free(m);
    return named != NULL;
}

/* DIR/<stem>.png, .jpg or .jpeg (either case), or NULL. */
static char *same_named_image(const char *dir, const char *stem)
{
    static const char *const exts[] = {"png", "jpg", "jpeg", "PNG", "JPG", "JPEG"};
    char path[4096];
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s.%s", dir, stem, exts[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            return md_strdup(path);
    }
    return NULL;
}

static int add_mesh(batch_set *set, uint32_t cap, const char *dir, const char *name, md_error *err)
{
    if (set->mesh_count >= cap)
        return md_fail(err, MD_ELIMIT,
                       "%s holds more than %u meshes (limit max_batch_meshes; raise it with "
                       "--limit max_batch_meshes=N)",
                       dir, cap);
    batch_mesh *m = &set->meshes[set->mesh_count];
    size_t path_len = strlen(dir) + 1 + strlen(name);
    if (path_len >= 4000)
        return md_fail(err, MD_EINVAL, "%s/%s: the path is longer than 4000 bytes", dir, name);
    m->name = md_strdup(name);
    m->path = md_malloc(path_len + 1);
    m->stem = md_strdup(name);
    if (m->name == NULL || m->path == NULL || m->stem == NULL) {
        md_free(m->name);
        md_free(m->path);
        md_free(m->stem);
        return md_fail(err, MD_ENOMEM, "out of memory listing %s", dir);
    }
    snprintf(m->path, path_len + 1, "%s/%s", dir, name);
    *strrchr(m->stem, '.') = '\0';
    set->mesh_count++;
    return 0;
}

int batch_set_scan(const char *dir, const md_limits *lim, int resolve_own, batch_set *set,
                   md_error *err)
{
    memset(set, 0, sizeof *set);
    uint32_t cap = lim->max_batch_meshes > 100000 ? 100000 : (uint32_t)lim->max_batch_meshes;
    DIR *d = opendir(dir);
    if (d == NULL)
        return md_fail(err, MD_ENOENT, "cannot open the folder %s: %s", dir, strerror(errno));
    int rc = 0;
    set->meshes = md_calloc(cap > 0 ? cap : 1, sizeof *set->meshes);
    if (set->meshes == NULL)
        rc = md_fail(err, MD_ENOMEM, "out of memory listing %s", dir);
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !is_mesh_name(e->d_name))
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        rc = add_mesh(set, cap, dir, e->d_name, err);
    }
    closedir(d);
    if (rc != 0)
        return rc;
    if (set->mesh_count < 2)
        return md_fail(err, MD_EINVAL,
                       "%s holds %u mesh file(s) (.obj, .fbx, .glb, .gltf, .ply); a batch needs "
                       "at least two",
                       dir, set->mesh_count);
    qsort(set->meshes, set->mesh_count, sizeof *set->meshes, by_name);
    for (uint32_t i = 1; i < set->mesh_count; i++)
        if (strcmp(set->meshes[i - 1].stem, set->meshes[i].stem) == 0)
            return md_fail(err, MD_EINVAL,
                           "%s: %s and %s have the same name without the extension, so their "
                           "pair folders would clash; rename one",
                           dir, set->meshes[i - 1].name, set->meshes[i].name);
    for (uint32_t i = 0; i < set->mesh_count; i++) {
        batch_mesh *m = &set->meshes[i];
        char *image = same_named_image(dir, m->stem);
        if (image == NULL && !resolve_own)
            continue;
        char own[4096];
        if (own_texture(m->path, lim, own, sizeof own)) {
            md_free(image);
            image = resolve_own && own[0] != '\0' ? md_strdup(own) : NULL;
        }
        m->texture = image;
    }
    return 0;
}

/* ---- Pairs ---- */

static int pairs_alloc(batch_set *set, uint64_t count, const md_limits *lim, md_error *err)
{
    if (count > lim->max_batch_pairs || count > UINT32_MAX)
        return md_fail(err, MD_ELIMIT,
                       "%llu pairs is more than max_batch_pairs (%llu); raise it with --limit "
                       "max_batch_pairs=N",
                       (unsigned long long)count, (unsigned long long)lim->max_batch_pairs);
    md_free(set->pairs);
    set->pair_count = 0;
    set->pairs = md_malloc_array(count > 0 ? count : 1, sizeof *set->pairs);
    if (set->pairs == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %llu pairs", (unsigned long long)count);
    return 0;
}

int batch_set_all_pairs(batch_set *set, const md_limits *lim, md_error *err)
{
    uint64_t n = set->mesh_count;
    int rc = pairs_alloc(set, n * (n - 1) / 2, lim, err);
    for (uint32_t a = 0; rc == 0 && a < set->mesh_count; a++)
        for (uint32_t b = a + 1; b < set->mesh_count; b++)
            set->pairs[set->pair_count++] = (batch_pair){a, b};
    return rc;
}

static int find_mesh(const batch_set *set, const char *name, size_t len, uint32_t *out)
{
    for (uint32_t i = 0; i < set->mesh_count; i++)
        if (strlen(set->meshes[i].name) == len && memcmp(set->meshes[i].name, name, len) == 0) {
            *out = i;
            return 1;
        }
    return 0;
}

/* The field [*p, end) up to a ',' or the line's end, trimmed of blanks. */
static void next_field(const char **p, const char *end, const char **field, size_t *len)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    const char *stop = s < end ? memchr(s, ',', (size_t)(end - s)) : NULL;
    const char *e = stop != NULL ? stop : end;
    *p = stop != NULL ? stop + 1 : end;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *field = s;
    *len = (size_t)(e - s);
}

static int parse_lines(batch_set *set, const char *text, size_t len, const char *file,
                       const md_limits *lim, uint8_t *listed, md_error *err);

int batch_set_parse_pairs(batch_set *set, const char *text, size_t len, const char *file,
                          const md_limits *lim, md_error *err)
{
    /* At most one pair a line, and at most max_batch_pairs: together they bound the array. */
    uint64_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    int rc =
        pairs_alloc(set, lines < lim->max_batch_pairs ? lines : lim->max_batch_pairs, lim, err);
    if (rc != 0)
        return rc;
    /* Which (source, target) were listed, a bit per ordered pair, for the duplicate check. */
    uint64_t bits = (uint64_t)set->mesh_count * set->mesh_count;
    uint8_t *listed = md_calloc(bits / 8 + 1, 1);
    if (listed == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for the pairs of %s", file);
    rc = parse_lines(set, text, len, file, lim, listed, err);
    md_free(listed);
    return rc;
}

static int parse_lines(batch_set *set, const char *text, size_t len, const char *file,
                       const md_limits *lim, uint8_t *listed, md_error *err)
{
    const char *p = text, *end = text + len;
    int seen_data = 0;
    for (unsigned line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol != NULL ? eol : end;
        const char *next = eol != NULL ? eol + 1 : end;
        const char *q = p;
        while (q < stop && isspace((unsigned char)*q))
            q++;
        if (q == stop || *q == '#') {
            p = next;
            continue;
        }
        const char *f[2];
        size_t n[2];
        next_field(&q, stop, &f[0], &n[0]);
        next_field(&q, stop, &f[1], &n[1]);
        int first = !seen_data;
        seen_data = 1;
        if (first && n[0] == 6 && n[1] == 6 && memcmp(f[0], "source", 6) == 0 &&
            memcmp(f[1], "target", 6) == 0) {
            p = next;
            continue;
        }
        if (q < stop || n[0] == 0 || n[1] == 0)
            return md_fail(err, MD_EINVAL,
                           "%s line %u: expected two file names separated by a comma "
                           "(SOURCE,TARGET)",
                           file, line);
        uint32_t idx[2];
        for (int k = 0; k < 2; k++)
            if (!find_mesh(set, f[k], n[k], &idx[k]))
                return md_fail(err, MD_EINVAL,
                               "%s line %u: '%.*s' is not a mesh file of the folder (names are "
                               "file names such as %s)",
                               file, line, (int)(n[k] > 200 ? 200 : n[k]), f[k],
                               set->meshes[0].name);
        if (idx[0] == idx[1])
            return md_fail(err, MD_EINVAL,
                           "%s line %u: a pair needs two different meshes, got %s twice", file,
                           line, set->meshes[idx[0]].name);
        uint64_t bit = (uint64_t)idx[0] * set->mesh_count + idx[1];
        uint64_t mirror = (uint64_t)idx[1] * set->mesh_count + idx[0];
        if ((listed[bit / 8] >> (bit % 8) & 1) || (listed[mirror / 8] >> (mirror % 8) & 1))
            return md_fail(err, MD_EINVAL, "%s line %u: the pair %s,%s is listed twice", file, line,
                           set->meshes[idx[0]].name, set->meshes[idx[1]].name);
        listed[bit / 8] |= (uint8_t)(1u << (bit % 8));
        if (set->pair_count >= lim->max_batch_pairs)
            return md_fail(err, MD_ELIMIT,
                           "%s line %u: more than max_batch_pairs (%llu) pairs; raise it with "
                           "--limit max_batch_pairs=N",
                           file, line, (unsigned long long)lim->max_batch_pairs);
        set->pairs[set->pair_count++] = (batch_pair){idx[0], idx[1]};
        p = next;
    }
    if (set->pair_count == 0)
        return md_fail(err, MD_EINVAL, "%s lists no pairs", file);
    return 0;
}

void batch_pair_name(const batch_set *set, const batch_pair *p, char *out, size_t cap)
{
    snprintf(out, cap, "%s__%s", set->meshes[p->source].stem, set->meshes[p->target].stem);
}

void batch_set_free(batch_set *set)
{
    for (uint32_t i = 0; set->meshes != NULL && i < set->mesh_count; i++) {
        md_free(set->meshes[i].name);
        md_free(set->meshes[i].path);
        md_free(set->meshes[i].stem);
        md_free(set->meshes[i].texture);
    }
    md_free(set->meshes);
    md_free(set->pairs);
    memset(set, 0, sizeof *set);
}
