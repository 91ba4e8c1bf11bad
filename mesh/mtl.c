/*
 * mtl.c — mesh_parse_mtl(): reads a Wavefront material library into the materials an OBJ
 * parse created (matched by name). Fed bytes; no I/O.
 *
 * Called by mesh_load() (load.c) once per mtllib the OBJ named, after mesh_parse_obj(), on the
 * thread that loads the mesh; the mesh belongs to that thread until loading ends.
 *
 * What it reads: newmtl (the rest of the line is the name), Kd (r [g b], clamped to 0..1; a
 * single number is a grey), map_Kd ([options] path; the options listed in option_table are
 * skipped with their arguments, the rest of the line is the path, kept as written for load.c to
 * resolve) and opacity. Everything else (Ka, Ks, Ns, illum, other maps) does not affect our
 * rendering and is ignored. Materials the MTL defines but the OBJ never uses are skipped
 * without reading their statements, so junk in an unused material cannot fail a load (their Tf
 * lines are looked at, leniently, for the rule below).
 *
 * Opacity (docs/materials.md): `d [-halo] F` is the opacity, `Tr F` is 1 - opacity; d wins
 * over Tr when a material has both (some exporters write Tr as opacity; d is the standard).
 * `Tf` is the specification's transmission filter and does not change opacity, except in a
 * library that writes it as opacity the way Maya-style exporters do: when every Tf in the file
 * (every material's, used or not) is exactly 0 0 0 or 1 1 1 and at least one is 1 1 1, a used
 * material with Tf and neither d nor Tr takes Tf as its opacity (1 1 1 opaque, 0 0 0
 * invisible), and the mesh records that the rule was applied (mesh_opacity_from_tf). The
 * ICT-FaceKit library is such a file: opaque materials Tf 1 1 1, eye overlays and lashes
 * Tf 0 0 0. A file whose Tf are all 0 0 0 (a spec-following exporter's "no transmission") or
 * holds any other value reads Tf as the filter, so nothing becomes invisible by it.
 *
 * Ownership: texture paths are md_strdup'ed into the mesh's materials (replacing any earlier
 * path, so a later library or a later definition of the same name wins).
 */
#include "mesh/mesh_int.h"
#include "mesh/objtext.h"

#include <math.h>
#include <string.h>

#define MTL_NAME_MAX 1024
#define MTL_PATH_MAX 4096

/* map_Kd options: name without '-', argument count range, whether the arguments are numbers,
 * and how messages describe the arguments. */
struct mtl_option {
    const char *name;
    int min_args;
    int max_args;
    bool numeric;
    const char *needs;
};

static const struct mtl_option option_table[] = {
    {"blendu", 1, 1, false, "on or off"},
    {"blendv", 1, 1, false, "on or off"},
    {"bm", 1, 1, true, "a number"},
    {"boost", 1, 1, true, "a number"},
    {"cc", 1, 1, false, "on or off"},
    {"clamp", 1, 1, false, "on or off"},
    {"imfchan", 1, 1, false, "a channel (r, g, b, m, l or z)"},
    {"mm", 2, 2, true, "2 numbers"},
    {"o", 1, 3, true, "1 to 3 numbers"},
    {"s", 1, 3, true, "1 to 3 numbers"},
    {"t", 1, 3, true, "1 to 3 numbers"},
    {"texres", 1, 1, true, "a number"},
    {"type", 1, 1, false, "a value"},
};

/* Whether [p, end) is exactly one number. */
static bool is_number(const char *p, const char *end, double *value)
{
    const char *q = p;
    return mesh_text_number(&q, end, value) == 0 && q == end;
}

/* Kd r [g b]. "Kd spectral file" and "Kd xyz x y z" name colours we cannot use; they are
 * ignored and the material keeps its colour. */
static int parse_kd(mesh_text *t, struct mesh_material *mat, const char *p, const char *end,
                    md_error *err)
{
    char quoted[48];
    float rgb[3];
    int count = 0;
    while (p < end && *p != '#') {
        const char *tok_end = mesh_text_token_end(p, end);
        double value;
        if (count == 0 && (mesh_text_keyword_ci(p, tok_end, "spectral") ||
                           mesh_text_keyword_ci(p, tok_end, "xyz")))
            return 0;
        if (count == 3)
            break;
        if (!is_number(p, tok_end, &value))
            return md_fail(err, MD_EPARSE, "line %zu: 'Kd' needs 1 or 3 numbers, got '%s'", t->line,
                           mesh_text_quote(p, tok_end, quoted, sizeof quoted));
        if (!isfinite(value))
            return md_fail(err, MD_EPARSE, "line %zu: colour is not finite ('%s')", t->line,
                           mesh_text_quote(p, tok_end, quoted, sizeof quoted));
        rgb[count++] = value < 0 ? 0.0f : value > 1 ? 1.0f : (float)value;
        p = mesh_text_skip_space(tok_end, end);
    }
    if (count == 1)
        rgb[1] = rgb[2] = rgb[0];
    else if (count != 3)
        return md_fail(err, MD_EPARSE, "line %zu: 'Kd' needs 1 or 3 numbers, got %d", t->line,
                       count);
    memcpy(mat->kd, rgb, sizeof rgb);
    return 0;
}

/* Skips one map option at *p (which starts with '-') and its arguments. */
static int skip_option(mesh_text *t, const char **pp, const char *end, md_error *err)
{
    char quoted[48];
    const char *p = *pp;
    const char *opt_end = mesh_text_token_end(p, end);
    const struct mtl_option *opt = NULL;
    for (size_t i = 0; i < sizeof option_table / sizeof option_table[0]; i++)
        if (mesh_text_keyword(p + 1, opt_end, option_table[i].name))
            opt = &option_table[i];
    /* An option we do not know: skip it and any numbers after it (the form vendor extensions
     * take). */
    static const struct mtl_option unknown = {"", 0, 16, true, ""};
    if (opt == NULL)
        opt = &unknown;
    p = mesh_text_skip_space(opt_end, end);
    for (int n = 0; n < opt->max_args; n++) {
        const char *arg_end = mesh_text_token_end(p, end);
        double value;
        bool ok = p < end && (!opt->numeric || is_number(p, arg_end, &value));
        if (!ok && n < opt->min_args)
            return md_fail(err, MD_EPARSE,
                           "line %zu: map_Kd option '%s' needs %s before the file name", t->line,
                           mesh_text_quote(*pp, opt_end, quoted, sizeof quoted), opt->needs);
        if (!ok)
            break;
        p = mesh_text_skip_space(arg_end, end);
    }
    *pp = p;
    return 0;
}

/* map_Kd [-option args ...] path with spaces */
static int parse_map_kd(mesh_text *t, struct mesh_material *mat, const char *p, const char *end,
                        md_error *err)
{
    while (p < end && *p == '-') {
        int rc = skip_option(t, &p, end, err);
        if (rc != 0)
            return rc;
    }
    if (end - p >= 2 && *p == '"' && end[-1] == '"') {
        p++;
        end--;
    }
    if (p == end)
        return md_fail(err, MD_EPARSE, "line %zu: 'map_Kd' names no file", t->line);
    if ((size_t)(end - p) > MTL_PATH_MAX)
        return md_fail(err, MD_EPARSE, "line %zu: map_Kd file name longer than %d bytes", t->line,
                       MTL_PATH_MAX);
    char *path = md_strndup(p, (size_t)(end - p));
    if (path == NULL)
        return md_fail(err, MD_ENOMEM, "line %zu: out of memory", t->line);
    md_free(mat->texture_path);
    mat->texture_path = path;
    return 0;
}

/* ---- Opacity ---- */

/* What one library says about a material's opacity; kept per material of the mesh while the
 * library is read, applied at its end (Tf needs the whole file). */
struct mtl_opacity {
    bool has_d, has_tr, has_tf;
    float d, tr, tf; /* tf: 0 or 1, only when the Tf was exactly 0 0 0 or 1 1 1 */
};

/* d [-halo] F or Tr F: one number, clamped to 0..1. */
static int parse_factor(mesh_text *t, const char *keyword, const char *p, const char *end,
                        float *out, md_error *err)
{
    char quoted[48];
    const char *tok_end = mesh_text_token_end(p, end);
    if (mesh_text_keyword_ci(p, tok_end, "-halo")) {
        p = mesh_text_skip_space(tok_end, end);
        tok_end = mesh_text_token_end(p, end);
    }
    double value;
    if (p >= end || *p == '#' || !is_number(p, tok_end, &value) || !isfinite(value))
        return md_fail(err, MD_EPARSE, "line %zu: '%s' needs a number from 0 to 1, got '%s'",
                       t->line, keyword, mesh_text_quote(p, tok_end, quoted, sizeof quoted));
    *out = value < 0 ? 0.0f : value > 1 ? 1.0f : (float)value;
    return 0;
}

/* Tf r [g b]: 1 and *grey (0 or 1) when it is exactly 0 0 0 or 1 1 1 (or a single 0 or 1);
 * 0 for anything else, spectral and xyz forms and malformed lines included (Tf never fails a
 * load: it is only a hint). */
static int tf_binary(const char *p, const char *end, float *grey)
{
    double v[3];
    int count = 0;
    while (p < end && *p != '#') {
        const char *tok_end = mesh_text_token_end(p, end);
        if (count == 3 || !is_number(p, tok_end, &v[count]))
            return 0;
        count++;
        p = mesh_text_skip_space(tok_end, end);
    }
    if (count == 1)
        v[1] = v[2] = v[0];
    else if (count != 3)
        return 0;
    if (v[0] != v[1] || v[1] != v[2] || (v[0] != 0.0 && v[0] != 1.0))
        return 0;
    *grey = (float)v[0];
    return 1;
}

/* Applies what the library said: d, else 1 - Tr, else Tf under the rule (see the top). */
static void apply_opacity(mesh *m, const struct mtl_opacity *op, bool tf_rule)
{
    for (uint32_t i = 0; i < m->material_count; i++) {
        if (op[i].has_d) {
            m->materials[i].opacity = op[i].d;
        } else if (op[i].has_tr) {
            m->materials[i].opacity = 1.0f - op[i].tr;
        } else if (tf_rule && op[i].has_tf) {
            m->materials[i].opacity = op[i].tf;
            m->opacity_from_tf = 1;
        }
    }
}

int mesh_parse_mtl(mesh *m, const char *bytes, size_t len, md_error *err)
{
    mesh_text t;
    int current = -1; /* the material being defined, -1 when the OBJ does not use it */
    bool tf_one = false, tf_other = false; /* some Tf is 1 1 1; some Tf is not 0 0 0 or 1 1 1 */
    struct mtl_opacity *op = md_calloc(m->material_count ? m->material_count : 1, sizeof *op);
    int rc = mesh_text_begin(&t, bytes, len, "MTL", err);
    if (rc == 0 && op == NULL)
        rc = md_fail(err, MD_ENOMEM, "out of memory");
    if (rc != 0)
        goto done;
    for (;;) {
        const char *p;
        const char *end;
        int more = mesh_text_next(&t, &p, &end, err);
        if (more <= 0) {
            rc = more;
            break;
        }
        const char *kw_end = mesh_text_token_end(p, end);
        const char *rest = mesh_text_skip_space(kw_end, end);
        if (mesh_text_keyword_ci(p, kw_end, "newmtl")) {
            char name[MTL_NAME_MAX + 1];
            size_t n = (size_t)(end - rest);
            if (n > MTL_NAME_MAX) {
                rc = md_fail(err, MD_EPARSE, "line %zu: material name longer than %d bytes", t.line,
                             MTL_NAME_MAX);
                break;
            }
            memcpy(name, rest, n);
            name[n] = '\0';
            current = mesh_material_find(m, name);
        } else if (current >= 0 && mesh_text_keyword_ci(p, kw_end, "Kd")) {
            rc = parse_kd(&t, &m->materials[current], rest, end, err);
        } else if (current >= 0 && mesh_text_keyword_ci(p, kw_end, "map_Kd")) {
            rc = parse_map_kd(&t, &m->materials[current], rest, end, err);
        } else if (current >= 0 && mesh_text_keyword_ci(p, kw_end, "d")) {
            rc = parse_factor(&t, "d", rest, end, &op[current].d, err);
            op[current].has_d = true;
        } else if (current >= 0 && mesh_text_keyword_ci(p, kw_end, "Tr")) {
            rc = parse_factor(&t, "Tr", rest, end, &op[current].tr, err);
            op[current].has_tr = true;
        } else if (mesh_text_keyword_ci(p, kw_end, "Tf")) {
            float grey = 0;
            if (!tf_binary(rest, end, &grey))
                tf_other = true;
            else if (grey == 1.0f)
                tf_one = true;
            if (current >= 0) {
                op[current].has_tf = !tf_other;
                op[current].tf = grey;
            }
        }
        if (rc != 0)
            break;
    }
    if (rc == 0)
        apply_opacity(m, op, tf_one && !tf_other);
done:
    md_free(op);
    mesh_text_end(&t);
    return rc;
}
