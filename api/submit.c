/*
 * submit.c — POST /jobs once the body is in (intake.c put the parts in temp files).
 *
 * 1. Thread pool (submit_work): parse the spec (job_spec_from_json; its kind says which parts
 *    are needed), probe the texture parts' headers and reserve the whole request's decode
 *    budget at once (md_budget_reserve), load each mesh with no file opened but the upload
 *    itself (mesh_load_opts .no_external), apply texture parts, check topology, pad textures,
 *    take the bounds of a frame_on part into the spec (the reference mesh itself is not kept),
 *    encode the canonical form and store it under jobs/{id}/inputs/. A morph side named by
 *    spec.source_face / target_face (the owner's face library, faces.c) is read from
 *    faces/{owner}/{id}.mdm instead, already checked and padded, and not copied: the job's
 *    inputs name the face and the worker reads it from there. A morph job with spec.target_morph
 *    has no target part: part 'source' is loaded a second time with that morph target applied
 *    (mesh_load_opts.morph_target) and stored as the target, named "<source stem>-<target>", so
 *    the worker sees an ordinary pair. spec.hide_materials is checked against the meshes'
 *    materials (mesh_hide_check); the meshes are stored whole and the worker hides. Each
 *    texture part is reserved once (the target takes part 'target_texture', if any, as morph
 *    run --target-texture does); textures embedded in the source file are decoded by each of
 *    the two loads, as embedded textures always are, outside the reservation, and so count
 *    twice toward max_request_pixels. Limits (vertices, faces, textures, frames, resolution)
 *    are enforced by the parsers and the spec reader with the server's md_limits.
 * 2. Loop (submit_done → [on_face_names: the faces' names name those inputs] → submit_queue):
 *    one Lua script does the rest atomically (docs/server.md): idempotency key, queue cap, the
 *    named faces still exist, HSET job, XADD, ZADD owner index, SET the key, HINCRBY the
 *    submitted counter, SADD the job to each face's face_jobs.
 * 3. Loop (on_queued): 202 + Location + the job; or, when the key named an existing job or
 *    the queue is full, the stored inputs are deleted (detached pool work) and that job or a
 *    503 queue-full is the answer.
 *
 * api_part_mesh_load (one mesh part and its texture part, as above) is shared with POST /faces
 * (faces.c).
 *
 * The op borrows the request (suspended throughout) and its intake; the pool touches only
 * the op, the intake's read-only part table and the thread-safe storage handle.
 */
#define _GNU_SOURCE
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "jobs/record.h"
#include "jobs/spec.h"
#include "mesh/image.h"
#include "mesh/mesh.h"

typedef struct submit_op {
    api_req *req;
    uv_work_t work;
    char id[JQ_ID_LEN + 1];
    md_limits lim;
    stg *storage;
    const api_intake *in;
    /* Results of the pool work. */
    int rc;
    md_error err;
    int render;
    job_kind kind;
    char *spec_json;
    char *inputs_json;
    uint32_t frames_total;
    struct sha256_ctx request_sha; /* over what the request asks for: see submit_work */
    char request_hash[2 * SHA256_DIGEST_SIZE + 1];
    double created_at;
    uint64_t pixels; /* texture pixels of the request so far (max_request_pixels) */
    /* spec.source_face / target_face: the side's face id ("" for a file part), and the owner
     * whose faces/ they are read from (copied from the request for the pool). */
    char faces[2][JR_FACE_ID_LEN + 1];
    char owner[API_OWNER_MAX];
    jr_inputs inputs; /* what inputs_json was made from; face names are filled on the loop */
} submit_op;

static void op_free(void *p)
{
    submit_op *op = p;
    if (op == NULL)
        return;
    md_free(op->spec_json);
    md_free(op->inputs_json);
    md_free(op);
}

/* ---- Detached clean-up ---- */

typedef struct delete_op {
    uv_work_t work;
    api_server *srv;
    stg *storage;
    char prefix[STG_KEY_MAX];
} delete_op;

static void delete_work(uv_work_t *w)
{
    delete_op *d = w->data;
    md_error err;
    if (stg_delete_prefix(d->storage, d->prefix, &err) != 0)
        md_log(MD_LOG_WARN, "cannot remove %s: %s", d->prefix, err.msg);
}

static void delete_done(uv_work_t *w, int status)
{
    (void)status;
    delete_op *d = w->data;
    d->srv->pool_jobs--;
    md_free(d);
}

void api_storage_delete_job(api_server *s, const char *id)
{
    delete_op *d = md_calloc(1, sizeof *d);
    if (d == NULL)
        return;
    d->srv = s;
    d->storage = s->storage;
    if (jr_key_job_prefix(d->prefix, sizeof d->prefix, id) != 0) {
        md_free(d);
        return;
    }
    d->work.data = d;
    if (uv_queue_work(s->loop, &d->work, delete_work, delete_done) != 0) {
        md_free(d);
        return;
    }
    s->pool_jobs++;
}

/* ---- Pool: parse, check, store ---- */

/* Error texts name the part and the client's file name, never the temp path. */
static int part_fail(md_error *err, const api_part *p, api_part_id id)
{
    char *at = strstr(err->msg, p->path);
    if (at != NULL) {
        md_buf b;
        md_buf_init(&b, 4 * MD_ERROR_MSG_MAX);
        md_buf_append(&b, err->msg, (size_t)(at - err->msg));
        md_buf_puts(&b, p->filename[0] ? p->filename : api_part_names[id]);
        md_buf_puts(&b, at + strlen(p->path));
        size_t n = b.len < sizeof err->msg - 1 ? b.len : sizeof err->msg - 1;
        if (b.data != NULL) {
            memcpy(err->msg, b.data, n);
            err->msg[n] = '\0';
        }
        md_buf_free(&b);
        /* mesh_load_ex names the file first; the prefix below names it already. */
        size_t fl = strlen(p->filename);
        if (fl > 0 && strncmp(err->msg, p->filename, fl) == 0 && err->msg[fl] == ':' &&
            err->msg[fl + 1] == ' ')
            memmove(err->msg, err->msg + fl + 2, strlen(err->msg + fl + 2) + 1);
    }
    return md_error_prefix(err, "part '%s'%s%s%s: ", api_part_names[id], p->filename[0] ? " (" : "",
                           p->filename, p->filename[0] ? ")" : "");
}

static uint64_t texture_pixels(const mesh *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < mesh_material_count(m); i++) {
        const img *t = mesh_material_texture(m, i);
        if (t != NULL)
            n += (uint64_t)img_width(t) * (uint64_t)img_height(t);
    }
    return n;
}

/* A texture part, read and probed before any texture of the request is decoded; its bytes wait
 * here until load_part decodes them. */
typedef struct texture_part {
    const api_part *part; /* NULL or absent: the mesh has no texture part */
    char *bytes;          /* owned; freed once decoded */
    size_t len;
    uint32_t width;
    uint32_t height;
} texture_part;

static void texture_parts_free(texture_part *tex, int n)
{
    for (int i = 0; tex != NULL && i < n; i++) {
        md_free(tex[i].bytes);
        tex[i].bytes = NULL;
    }
}

/* Reads and probes the request's texture parts (n of them; absent ones are skipped) and counts
 * their pixels in *pixels against max_request_pixels from the headers alone. */
static int probe_textures(texture_part *tex, int n, const md_limits *lim, uint64_t *pixels,
                          md_error *err)
{
    for (int i = 0; i < n; i++) {
        texture_part *t = &tex[i];
        const api_part *p = t->part;
        if (p == NULL || !p->present)
            continue;
        int rc = md_read_file(p->path, lim->max_file_bytes, &t->bytes, &t->len, err);
        if (rc == 0)
            rc = img_probe((const uint8_t *)t->bytes, t->len, &t->width, &t->height, err);
        uint64_t px = (uint64_t)t->width * t->height;
        if (rc == 0 && *pixels + px > lim->max_request_pixels)
            rc = md_fail(err, MD_ELIMIT,
                         "the image is %ux%u pixels, and with the request's other textures that "
                         "makes %llu pixels, more than max_request_pixels=%llu",
                         t->width, t->height, (unsigned long long)(*pixels + px),
                         (unsigned long long)lim->max_request_pixels);
        if (rc != 0)
            return part_fail(err, p, p->id);
        *pixels += px;
    }
    return 0;
}

/* Reserves the decode budget (max_decode_bytes) for all the probed textures at once: their
 * pixels and the padding of the largest (textures are padded one after another). A request
 * thus gets its whole need or waits and fails holding nothing (base/md_budget.c); the caller
 * ends the reservation with md_budget_release() once the textures are padded. */
static int reserve_textures(const texture_part *tex, int n, md_error *err)
{
    uint64_t need = 0, largest = 0;
    char sizes[96] = "";
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (tex[i].bytes == NULL)
            continue;
        uint64_t px = (uint64_t)tex[i].width * tex[i].height;
        need += img_decode_bytes(tex[i].width, tex[i].height);
        largest = px > largest ? px : largest;
        size_t used = strlen(sizes);
        if (count < 4)
            snprintf(sizes + used, sizeof sizes - used, "%s%ux%u", count ? " and " : "",
                     tex[i].width, tex[i].height);
        else if (count == 4)
            snprintf(sizes + used, sizeof sizes - used, " and more");
        count++;
    }
    if (count == 0)
        return 0;
    need += mesh_pad_texture_bytes(largest);
    char what[160];
    snprintf(what, sizeof what, "this request's %s (%s, padding included)",
             count == 1 ? "texture" : "textures", sizes);
    return md_budget_reserve(need, what, err);
}

/* Loads mesh part p (named like id), with morph target morph_target applied (NULL: the base),
 * and applies its probed texture part t (bytes NULL: none). */
static int load_part(const api_part *p, api_part_id id, const char *morph_target, texture_part *t,
                     const md_limits *lim, uint64_t *pixels, mesh **out, md_error *err)
{
    if (p->ext[0] == '\0')
        return md_fail(err, MD_EFORMAT,
                       "part '%s': the file name '%s' has no extension to tell the format (send "
                       "e.g. face.obj, face.glb, face.fbx or face.ply)",
                       api_part_names[id], p->filename);
    mesh_load_opts opts = {.no_external = 1, .morph_target = morph_target};
    int rc = mesh_load_ex(p->path, lim, &opts, out, err);
    if (rc != 0 && morph_target != NULL) {
        md_error_prefix(err, "spec.target_morph: ");
        return part_fail(err, p, id);
    }
    if (rc != 0)
        return part_fail(err, p, id);
    /* max_request_pixels: textures inside the mesh files count too (the texture parts were
     * counted from their headers by probe_textures before a pixel was decoded). */
    *pixels += texture_pixels(*out);
    if (*pixels > lim->max_request_pixels)
        return md_fail(err, MD_ELIMIT,
                       "part '%s': the request's textures hold %llu pixels, more than "
                       "max_request_pixels=%llu",
                       api_part_names[id], (unsigned long long)*pixels,
                       (unsigned long long)lim->max_request_pixels);
    if (t->bytes == NULL)
        return 0;
    img *tex = NULL;
    rc = img_decode((const uint8_t *)t->bytes, t->len, lim, &tex, err);
    md_free(t->bytes);
    t->bytes = NULL;
    if (rc == 0)
        rc = mesh_set_texture(*out, tex, err); /* takes tex */
    if (rc != 0)
        return part_fail(err, t->part, t->part->id);
    return 0;
}

int api_part_mesh_load(const api_part *p, api_part_id id, const api_part *t, const md_limits *lim,
                       uint64_t *pixels, mesh **out, md_error *err)
{
    texture_part tp = {.part = t};
    int rc = probe_textures(&tp, 1, lim, pixels, err);
    if (rc == 0)
        rc = reserve_textures(&tp, 1, err);
    if (rc == 0)
        rc = load_part(p, id, NULL, &tp, lim, pixels, out, err);
    texture_parts_free(&tp, 1);
    return rc;
}

/* Feeds one item to the request hash, length first so items cannot run into each other. */
static void hash_item(submit_op *op, const void *bytes, size_t len)
{
    uint8_t n[8];
    for (int i = 0; i < 8; i++)
        n[i] = (uint8_t)((uint64_t)len >> (8 * i));
    sha256_update(&op->request_sha, sizeof n, n);
    sha256_update(&op->request_sha, len, bytes);
}

/* Stores m under its input key: role's, or an average's mesh index (role JR_IN_COUNT). */
static int store_mesh(submit_op *op, const mesh *m, jr_input role, uint32_t index)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = mesh_encode_canonical(m, &bytes, &len, &op->err);
    if (rc != 0)
        return role == JR_IN_COUNT
                   ? md_error_prefix(&op->err, "encoding mesh %u: ", index + 1)
                   : md_error_prefix(&op->err, "encoding the %s mesh: ", jr_input_name(role));
    hash_item(op, bytes, len);
    char key[STG_KEY_MAX];
    if (role == JR_IN_COUNT)
        jr_key_input_mesh(key, sizeof key, op->id, index);
    else
        jr_key_input(key, sizeof key, op->id, role);
    rc = stg_put(op->storage, key, bytes, len, &op->err);
    md_free(bytes);
    return rc;
}

uint32_t api_mesh_texture_count(const mesh *m)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < mesh_material_count(m); i++)
        n += mesh_material_texture(m, i) != NULL;
    return n;
}

/* Which parts each kind takes (besides spec), the first `need` of them required. */
typedef struct kind_parts {
    const char *name;
    api_part_id parts[7];
    int count, need;
    const char *what; /* what a job of the kind needs, for messages */
} kind_parts;

static const kind_parts kinds_parts[] = {
    [JOB_KIND_MORPH] = {"morph",
                        {API_PART_SOURCE, API_PART_TARGET, API_PART_SOURCE_TEXTURE,
                         API_PART_TARGET_TEXTURE, API_PART_FRAME_ON},
                        5,
                        2,
                        "'source' and 'target' (and optionally their textures)"},
    [JOB_KIND_RENDER] =
        {"render", {API_PART_MESH, API_PART_TEXTURE}, 2, 1, "'mesh' (and optionally 'texture')"},
    [JOB_KIND_TRANSFORM] = {"transform",
                            {API_PART_BASE, API_PART_FROM, API_PART_TO, API_PART_BASE_TEXTURE,
                             API_PART_FROM_TEXTURE, API_PART_TO_TEXTURE, API_PART_FRAME_ON},
                            7,
                            3,
                            "'base', 'from' and 'to' (and optionally their textures)"},
    [JOB_KIND_AVERAGE] = {"average",
                          {API_PART_MESH, API_PART_TEXTURE, API_PART_FRAME_ON},
                          3,
                          1,
                          "2 or more 'mesh' parts (and optionally one 'texture' per mesh)"},
};

static int check_parts(submit_op *op, const job_spec *spec)
{
    const api_intake *in = op->in;
    const kind_parts *k = &kinds_parts[spec->kind];
    int morph = spec->kind == JOB_KIND_MORPH;
    int target_morph = morph && spec->target_morph[0] != '\0';
    if (target_morph && in->parts[API_PART_TARGET].present)
        return md_fail(&op->err, MD_EINVAL,
                       "spec.target_morph makes the target from part 'source' (its morph target "
                       "'%s'), and part 'target' was sent too; send one or the other",
                       spec->target_morph);
    if (target_morph && (op->faces[0][0] || op->faces[1][0]))
        return md_fail(&op->err, MD_EINVAL,
                       "spec.target_morph makes the target from part 'source', and spec.%s_face "
                       "names a stored face; send the source file as part 'source' and no face",
                       op->faces[0][0] ? "source" : "target");
    /* A morph side may be a stored face (spec.source_face / target_face) instead of parts. */
    static const api_part_id side_part[] = {API_PART_SOURCE, API_PART_TARGET};
    static const api_part_id side_texture[] = {API_PART_SOURCE_TEXTURE, API_PART_TARGET_TEXTURE};
    for (int side = 0; morph && side < 2; side++) {
        if (!op->faces[side][0])
            continue;
        if (in->parts[side_part[side]].present || in->parts[side_texture[side]].present)
            return md_fail(&op->err, MD_EINVAL,
                           "spec.%s_face names a stored face, and part '%s' was sent too; send "
                           "the face or the file(s), not both",
                           side == 0 ? "source" : "target",
                           api_part_names[in->parts[side_part[side]].present ? side_part[side]
                                                                             : side_texture[side]]);
    }
    char missing[128] = "";
    for (int i = 0; i < k->need; i++)
        if (!in->parts[k->parts[i]].present && !(morph && i < 2 && op->faces[i][0]) &&
            !(target_morph && i == 1))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s'%s'",
                     missing[0] ? ", " : "", api_part_names[k->parts[i]]);
    if (missing[0])
        return md_fail(&op->err, MD_EINVAL, "missing part(s) %s: a %s job needs %s", missing,
                       k->name,
                       morph ? "'source' and 'target' (and optionally their textures), or "
                               "spec.source_face / spec.target_face naming stored faces"
                             : k->what);
    for (int id = 0; id < API_PART_COUNT; id++) {
        int taken = id == API_PART_SPEC;
        for (int i = 0; i < k->count; i++)
            taken |= (int)k->parts[i] == id;
        if (in->parts[id].present && !taken)
            return md_fail(&op->err, MD_EINVAL,
                           "part '%s' does not belong to %s jobs (spec.kind), which take %s",
                           api_part_names[id], k->name, k->what);
    }
    uint32_t meshes = api_intake_count(in, API_PART_MESH);
    uint32_t textures = api_intake_count(in, API_PART_TEXTURE);
    if (spec->kind != JOB_KIND_AVERAGE) {
        if (meshes > 1 || textures > 1)
            return md_fail(&op->err, MD_EINVAL,
                           "part '%s' appears %u times; only average jobs (spec.kind "
                           "\"average\") take several",
                           meshes > 1 ? "mesh" : "texture", meshes > 1 ? meshes : textures);
        return 0;
    }
    if (meshes < 2)
        return md_fail(&op->err, MD_EINVAL, "an average needs at least 2 'mesh' parts, got %u",
                       meshes);
    if (textures != 0 && textures != meshes)
        return md_fail(&op->err, MD_EINVAL,
                       "'texture' parts pair with the 'mesh' parts in order (the first texture "
                       "with the first mesh): send none or one per mesh; got %u for %u meshes",
                       textures, meshes);
    return job_spec_check_mesh_count(spec, meshes, &op->lim, &op->err);
}

/* Part frame_on: a reference mesh (any format, any topology, no texture needed) whose bounds
 * frame the camera; only its bounds and name go into the spec, the mesh is not stored. */
static int apply_frame_on(submit_op *op, job_spec *spec, int spec_has_frame_on)
{
    const api_part *p = &op->in->parts[API_PART_FRAME_ON];
    if (!p->present)
        return 0;
    if (spec_has_frame_on)
        return md_fail(&op->err, MD_EINVAL,
                       "part 'frame_on' and spec.frame_on both give the framing; send one");
    mesh *m = NULL;
    if (p->ext[0] == '\0')
        return md_fail(&op->err, MD_EFORMAT,
                       "part 'frame_on': the file name '%s' has no extension to tell the format "
                       "(send e.g. average.obj, average.glb or average.ply)",
                       p->filename);
    mesh_load_opts opts = {.no_external = 1};
    int rc = mesh_load_ex(p->path, &op->lim, &opts, &m, &op->err);
    if (rc != 0)
        return part_fail(&op->err, p, API_PART_FRAME_ON);
    float min[3], max[3];
    mesh_bounds(m, min, max);
    mesh_free(m);
    rc = job_spec_set_frame_on(spec, p->stem, min, max, &op->err);
    return rc != 0 ? part_fail(&op->err, p, API_PART_FRAME_ON) : 0;
}

/* The face id that stands for mesh i of the job, or "" (a part): only morph jobs name faces. */
static const char *side_face(const submit_op *op, int i)
{
    return op->kind == JOB_KIND_MORPH && i >= 0 && i < 2 ? op->faces[i] : "";
}

static int inputs_json(submit_op *op, const job_spec *spec, mesh *const *meshes,
                       const api_part_id *ids, const jr_input *roles, int n)
{
    jr_inputs in;
    memset(&in, 0, sizeof in);
    in.vertices = mesh_vertex_count(meshes[0]);
    in.faces = mesh_triangle_count(meshes[0]);
    for (int i = 0; i < n; i++) {
        in.textures += api_mesh_texture_count(meshes[i]);
        in.present[roles[i]] = 1;
        /* A face's name comes from its record, on the loop (face_names); until then its id. */
        const char *face = side_face(op, i);
        snprintf(in.name[roles[i]], sizeof in.name[roles[i]], "%s",
                 face[0] ? face : op->in->parts[ids[i]].stem);
        snprintf(in.format[roles[i]], sizeof in.format[roles[i]], "%s", mesh_format(meshes[i]));
        snprintf(in.face[roles[i]], sizeof in.face[roles[i]], "%s", face);
    }
    if (spec->kind == JOB_KIND_MORPH && spec->target_morph[0] != '\0') {
        /* The target is the source's morph target: "<source stem>-<target>", as morph run. */
        char named[sizeof in.name[0] + JOB_TARGET_MORPH_MAX + 2];
        int len = snprintf(named, sizeof named, "%s-%s", op->in->parts[API_PART_SOURCE].stem,
                           spec->target_morph);
        size_t used = len < 0 ? 0 : (size_t)len < sizeof named ? (size_t)len : sizeof named - 1;
        jr_name_sanitize(named, used, in.name[JR_IN_TARGET], sizeof in.name[JR_IN_TARGET]);
        _Static_assert(JR_MORPH_TARGET_MAX == JOB_TARGET_MORPH_MAX, "one cap for target_morph");
        snprintf(in.morph_target[JR_IN_TARGET], sizeof in.morph_target[JR_IN_TARGET], "%s",
                 spec->target_morph);
        mesh_note_morph_target(spec->target_morph, in.name[JR_IN_SOURCE], in.note[JR_IN_TARGET],
                               sizeof in.note[JR_IN_TARGET]);
    } else {
        /* A file's morph targets left unused get the note morph run writes (a stored face
         * keeps none: its canonical form holds the base mesh only). */
        for (int i = 0; i < n; i++)
            mesh_note_unused_morph_targets(meshes[i], in.name[roles[i]], in.note[roles[i]],
                                           sizeof in.note[roles[i]]);
    }
    op->inputs = in;
    op->inputs_json = jr_inputs_to_json(&in);
    return op->inputs_json ? 0 : md_fail(&op->err, MD_ENOMEM, "out of memory");
}

/* ---- Faces named by the spec ---- */

/* Takes spec.source_face and spec.target_face out of obj (the job's spec never holds them; its
 * inputs name the faces) into op->faces. */
static int take_faces(submit_op *op, json_t *obj)
{
    static const char *const keys[2] = {"source_face", "target_face"};
    for (int side = 0; side < 2; side++) {
        json_t *v = json_object_get(obj, keys[side]);
        if (v == NULL || json_is_null(v)) {
            json_object_del(obj, keys[side]);
            continue;
        }
        const char *id = json_string_value(v);
        if (!jr_face_id_valid(id))
            return md_fail(&op->err, MD_EINVAL,
                           "spec.%s must be a face id (64 lowercase hex digits) that POST /faces "
                           "gave",
                           keys[side]);
        snprintf(op->faces[side], sizeof op->faces[side], "%s", id);
        json_object_del(obj, keys[side]);
    }
    return 0;
}

/* Reads a face's canonical form from the owner's faces/ (stored checked and padded). */
static int load_face(submit_op *op, int side, mesh **out)
{
    const char *what = side == 0 ? "source_face" : "target_face";
    char key[STG_KEY_MAX];
    if (jr_key_face(key, sizeof key, op->owner, op->faces[side]) != 0)
        return md_fail(&op->err, MD_EINTERNAL, "spec.%s: the face's storage key does not fit",
                       what);
    uint64_t max64 = op->lim.max_file_bytes * 4;
    size_t max = max64 > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)max64;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = stg_get(op->storage, key, max, &data, &len, &op->err);
    if (rc == MD_ENOENT)
        rc = md_fail(&op->err, MD_EINVAL,
                     "this API key has no face %s (POST /faces stores one; GET /faces lists "
                     "them)",
                     op->faces[side]);
    if (rc == 0)
        rc = mesh_decode_canonical(data, len, &op->lim, out, &op->err);
    md_free(data);
    return rc == 0 ? 0 : md_error_prefix(&op->err, "spec.%s: ", what);
}

/* An average's inputs: the first mesh's name and format as "mesh", and how many there are. */
static int average_inputs_json(submit_op *op, mesh *const *meshes, uint32_t n)
{
    jr_inputs in;
    memset(&in, 0, sizeof in);
    in.vertices = mesh_vertex_count(meshes[0]);
    in.faces = mesh_triangle_count(meshes[0]);
    for (uint32_t i = 0; i < n; i++)
        in.textures += api_mesh_texture_count(meshes[i]);
    in.present[JR_IN_MESH] = 1;
    in.mesh_count = n;
    snprintf(in.name[JR_IN_MESH], sizeof in.name[JR_IN_MESH], "%s",
             op->in->parts[API_PART_MESH].stem);
    snprintf(in.format[JR_IN_MESH], sizeof in.format[JR_IN_MESH], "%s", mesh_format(meshes[0]));
    op->inputs_json = jr_inputs_to_json(&in);
    return op->inputs_json ? 0 : md_fail(&op->err, MD_ENOMEM, "out of memory");
}

static void submit_work(uv_work_t *w)
{
    submit_op *op = w->data;
    md_error *err = &op->err;
    job_spec spec;
    job_spec_init(&spec);
    json_t *obj = NULL;
    mesh **meshes = NULL;
    texture_part *tex_parts = NULL;
    int n = 0;
    int rc = 0;
    const api_part *sp = &op->in->parts[API_PART_SPEC];
    if (sp->present && sp->text != NULL && sp->bytes > 0) {
        json_error_t jerr;
        obj = json_loadb(sp->text, sp->bytes, JSON_REJECT_DUPLICATES, &jerr);
        if (obj == NULL) {
            rc = md_fail(err, MD_EINVAL, "part 'spec' is not valid JSON: line %d column %d: %s",
                         jerr.line, jerr.column, jerr.text);
            goto done;
        }
    } else {
        obj = json_object();
    }
    if (!json_is_object(obj)) {
        rc = md_fail(err, MD_EINVAL, "part 'spec' must be a JSON object");
        goto done;
    }
    if ((rc = take_faces(op, obj)) != 0)
        goto done;
    if ((rc = job_spec_from_json(&spec, obj, &op->lim, err)) != 0)
        goto done;
    op->render = spec.kind == JOB_KIND_RENDER;
    op->kind = spec.kind;
    if (spec.kind != JOB_KIND_MORPH && (op->faces[0][0] || op->faces[1][0])) {
        rc = md_fail(err, MD_EINVAL,
                     "spec.source_face and spec.target_face are for morph jobs; a %s job takes "
                     "its meshes as parts",
                     job_kind_name(spec.kind));
        goto done;
    }
    if ((rc = check_parts(op, &spec)) != 0)
        goto done;

    /* The meshes, in the order the kind stores them (roles; an average's by index). */
    static const api_part_id morph_ids[] = {API_PART_SOURCE, API_PART_TARGET};
    static const api_part_id morph_tex[] = {API_PART_SOURCE_TEXTURE, API_PART_TARGET_TEXTURE};
    static const jr_input morph_roles[] = {JR_IN_SOURCE, JR_IN_TARGET};
    static const api_part_id render_ids[] = {API_PART_MESH};
    static const api_part_id render_tex[] = {API_PART_TEXTURE};
    static const jr_input render_roles[] = {JR_IN_MESH};
    static const api_part_id transform_ids[] = {API_PART_BASE, API_PART_FROM, API_PART_TO};
    static const api_part_id transform_tex[] = {API_PART_BASE_TEXTURE, API_PART_FROM_TEXTURE,
                                                API_PART_TO_TEXTURE};
    static const jr_input transform_roles[] = {JR_IN_BASE, JR_IN_FROM, JR_IN_TO};
    const api_part_id *ids = morph_ids, *tex = morph_tex;
    const jr_input *roles = morph_roles;
    n = 2;
    if (spec.kind == JOB_KIND_RENDER) {
        ids = render_ids, tex = render_tex, roles = render_roles, n = 1;
    } else if (spec.kind == JOB_KIND_TRANSFORM) {
        ids = transform_ids, tex = transform_tex, roles = transform_roles, n = 3;
    } else if (spec.kind == JOB_KIND_AVERAGE) {
        n = (int)api_intake_count(op->in, API_PART_MESH);
    }
    meshes = md_calloc((size_t)n, sizeof *meshes);
    tex_parts = md_calloc((size_t)n, sizeof *tex_parts);
    if (meshes == NULL || tex_parts == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (spec.kind != JOB_KIND_AVERAGE && side_face(op, i)[0])
            continue; /* a stored face: read below, no texture part */
        tex_parts[i].part = spec.kind == JOB_KIND_AVERAGE
                                ? api_intake_nth(op->in, API_PART_TEXTURE, (uint32_t)i)
                                : &op->in->parts[tex[i]];
    }
    /* Every texture part is probed and the request's whole decode budget reserved before any
     * pixel is decoded; the reservation ends once padding (the last decode-budget user) is
     * done, and the decoded textures give their share back when the meshes are freed. */
    rc = probe_textures(tex_parts, n, &op->lim, &op->pixels, err);
    if (rc == 0)
        rc = reserve_textures(tex_parts, n, err);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (spec.kind == JOB_KIND_AVERAGE) {
            const api_part *p = api_intake_nth(op->in, API_PART_MESH, (uint32_t)i);
            rc = load_part(p, API_PART_MESH, NULL, &tex_parts[i], &op->lim, &op->pixels, &meshes[i],
                           err);
        } else if (side_face(op, i)[0]) {
            rc = load_face(op, i, &meshes[i]);
        } else if (spec.kind == JOB_KIND_MORPH && i == 1 && spec.target_morph[0] != '\0') {
            /* The source file again, with its morph target: the target. */
            rc = load_part(&op->in->parts[API_PART_SOURCE], API_PART_SOURCE, spec.target_morph,
                           &tex_parts[i], &op->lim, &op->pixels, &meshes[i], err);
        } else {
            rc = load_part(&op->in->parts[ids[i]], ids[i], NULL, &tex_parts[i], &op->lim,
                           &op->pixels, &meshes[i], err);
        }
    }
    for (int i = 1; rc == 0 && i < n; i++) {
        rc = mesh_check_topology(meshes[0], meshes[i], err);
        if (rc != 0 && n > 2) {
            const api_part *first = spec.kind == JOB_KIND_AVERAGE
                                        ? api_intake_nth(op->in, API_PART_MESH, 0)
                                        : &op->in->parts[ids[0]];
            const api_part *other = spec.kind == JOB_KIND_AVERAGE
                                        ? api_intake_nth(op->in, API_PART_MESH, (uint32_t)i)
                                        : &op->in->parts[ids[i]];
            md_error_prefix(err, "part '%s' (%s) as source and part '%s' (%s) as target: ",
                            api_part_names[first->id], first->filename, api_part_names[other->id],
                            other->filename);
        }
    }
    /* Named materials must exist: a typo fails here (400) rather than in the worker. The
     * worker takes them out (job_inputs_hide); the stored meshes stay whole. */
    if (rc == 0 && spec.kind == JOB_KIND_MORPH && spec.hide_count > 0) {
        const char *names[JOB_HIDE_MATERIALS_MAX];
        for (uint32_t i = 0; i < spec.hide_count; i++)
            names[i] = spec.hide_materials[i];
        rc = mesh_hide_check(meshes[0], meshes[1], names, spec.hide_count, err);
        if (rc != 0)
            md_error_prefix(err, "spec.hide_materials: ");
    }
    /* A face was padded before it was stored. */
    for (int i = 0; rc == 0 && i < n; i++)
        if (!side_face(op, i)[0])
            rc = mesh_pad_textures(meshes[i], err);
    md_budget_release();
    if (rc == 0)
        rc = apply_frame_on(op, &spec, spec.frame_on);
    if (rc != 0)
        goto done;
    if (spec.kind == JOB_KIND_AVERAGE)
        rc = average_inputs_json(op, meshes, (uint32_t)n);
    else
        rc = inputs_json(op, &spec, meshes, ids, roles, n);
    if (rc != 0)
        goto done;
    json_t *norm = job_spec_to_json(&spec);
    char *text = norm ? json_dumps(norm, JSON_COMPACT) : NULL;
    json_decref(norm);
    op->spec_json = text ? md_strdup(text) : NULL;
    free(text);
    if (op->spec_json == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    op->frames_total = op->render ? job_spec_view_count(&spec) : job_spec_frame_total(&spec);
    /* The request hash covers what the job will do: the normalised spec, the inputs' names and
     * formats, and each canonical mesh (geometry, materials, textures); a face by its id, the
     * hash of its canonical form (its name, filled in later, is fixed by the id and owner). Two
     * requests with the same Idempotency-Key must agree on it (docs/server.md). */
    sha256_init(&op->request_sha);
    hash_item(op, op->spec_json, strlen(op->spec_json));
    hash_item(op, op->inputs_json, strlen(op->inputs_json));
    for (int i = 0; rc == 0 && i < n; i++) {
        if (side_face(op, i)[0])
            hash_item(op, op->faces[i], strlen(op->faces[i])); /* read in place: no copy */
        else
            rc = store_mesh(op, meshes[i], spec.kind == JOB_KIND_AVERAGE ? JR_IN_COUNT : roles[i],
                            (uint32_t)i);
    }
    if (rc != 0) {
        char prefix[STG_KEY_MAX];
        if (jr_key_job_prefix(prefix, sizeof prefix, op->id) == 0)
            stg_delete_prefix(op->storage, prefix, NULL);
    } else {
        uint8_t digest[SHA256_DIGEST_SIZE];
        sha256_digest(&op->request_sha, sizeof digest, digest);
        for (size_t i = 0; i < sizeof digest; i++)
            snprintf(op->request_hash + 2 * i, 3, "%02x", digest[i]);
    }
done:
    md_budget_release(); /* when a step above failed holding it */
    texture_parts_free(tex_parts, n);
    md_free(tex_parts);
    for (int i = 0; meshes != NULL && i < n; i++)
        mesh_free(meshes[i]);
    md_free(meshes);
    json_decref(obj);
    job_spec_free(&spec);
    /* The temp files are done with; removing them here keeps unlinks off the loop. */
    for (int i = 0; i < API_PART_COUNT; i++)
        if (op->in->parts[i].present && op->in->parts[i].path[0])
            unlink(op->in->parts[i].path);
    for (uint32_t i = 0; i < op->in->more_count; i++)
        if (op->in->more[i].path[0])
            unlink(op->in->more[i].path);
    op->rc = rc;
}

/* ---- Loop: queue in Redis and answer ---- */

static void on_existing(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    json_t *job = api_job_json_reply(r);
    if (job == NULL) {
        api_reply_code(req, MD_ECONFLICT,
                       "the Idempotency-Key names a job that no longer exists; retry");
        return;
    }
    char loc[64];
    snprintf(loc, sizeof loc, "/jobs/%s", json_string_value(json_object_get(job, "id")));
    struct MHD_Response *resp = api_response_json(job);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
    api_req_reply(req, 202, resp);
}

static jr_new_job new_job(const submit_op *op)
{
    jr_new_job job = {.id = op->id,
                      .kind = jr_kind_parse(job_kind_name(op->kind)),
                      .owner = op->req->owner,
                      .spec_json = op->spec_json,
                      .inputs_json = op->inputs_json,
                      .frames_total = op->frames_total,
                      .created_at = op->created_at,
                      .request_hash = op->request_hash,
                      .faces = {side_face(op, 0)[0] ? op->faces[0] : NULL,
                                side_face(op, 1)[0] ? op->faces[1] : NULL}};
    return job;
}

static void on_queued(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    submit_op *op = priv;
    api_req *req = op->req;
    api_server *s = req->srv;
    redisReply *reply = r;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        api_storage_delete_job(s, op->id);
        if (reply == NULL)
            api_reply_redis_down(req);
        else
            api_reply_code(req, MD_EINTERNAL, "queueing the job failed: %s",
                           reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
        return;
    }
    const char *other = reply->element[1]->str;
    jr_submit_result result = jr_submit_reply(reply->element[0]->str);
    /* Any answer but a queued job leaves this request's stored inputs unused. */
    if (result != JR_SUBMIT_OK)
        api_storage_delete_job(s, op->id);
    switch (result) {
    case JR_SUBMIT_OK:
        break;
    case JR_SUBMIT_FULL:
        api_reply_code(req, MD_EBUSY,
                       "the queue is full: max_queued=%llu jobs are queued or running; try again "
                       "later",
                       (unsigned long long)s->lim.max_queued);
        return;
    case JR_SUBMIT_OWNER_FULL:
        api_reply_code(req, MD_EBUSY,
                       "this API key's share of the queue is full: owner '%s' has %s job(s) "
                       "queued or running and max_queued_per_owner=%llu; try again when some "
                       "have finished (or cancel some)",
                       req->owner, other, (unsigned long long)s->lim.max_queued_per_owner);
        return;
    case JR_SUBMIT_MISMATCH:
        api_reply_code(req, MD_EIDEMPOTENCY,
                       "the Idempotency-Key '%s' was used for job %s with a different request "
                       "(other meshes, textures or spec); use a new key for a new request",
                       op->in->idem_key, other);
        return;
    case JR_SUBMIT_NO_FACE:
        api_reply_code(req, MD_EINVAL,
                       "a face the spec names was deleted while the job was submitted (%s); "
                       "upload it again (POST /faces)",
                       other);
        return;
    case JR_SUBMIT_EXISTS: {
        char key[JQ_KEY_MAX];
        jr_job_key(key, sizeof key, s->prefix, other);
        const char *argv[] = {"HGETALL", key};
        if (api_redis_cmd(s, on_existing, req, 2, argv, NULL) != 0)
            api_reply_redis_down(req);
        return;
    }
    default:
        api_reply_code(req, MD_EINTERNAL, "queueing the job failed: odd reply '%s'",
                       reply->element[0]->str);
        return;
    }
    jr_new_job job = new_job(op);
    const char *f[JR_F_COUNT], *v[JR_F_COUNT];
    char frames_total[16], created_at[32];
    size_t n = jr_new_job_pairs(&job, other, frames_total, created_at, f, v);
    json_t *body = api_job_json(f, v, n);
    char loc[64];
    snprintf(loc, sizeof loc, "/jobs/%s", op->id);
    struct MHD_Response *resp = api_response_json(body);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
    md_log(MD_LOG_INFO, "job %s queued (%s, owner %s)", op->id, jr_kind_name(job.kind), req->owner);
    api_req_reply(req, 202, resp);
}

static void submit_queue(submit_op *op)
{
    api_req *req = op->req;
    api_server *s = req->srv;
    op->created_at = jq_wall_now();
    jr_new_job job = new_job(op);
    jr_cmd cmd;
    /* The per-owner share applies to API keys; without them every job is "anonymous" and only
     * max_queued caps the queue. */
    uint64_t per_owner = s->keys != NULL ? s->lim.max_queued_per_owner : 0;
    if (jr_cmd_submit(&cmd, s->prefix, &job, s->lim.max_queued, per_owner, op->in->idem_key) != 0) {
        api_storage_delete_job(s, op->id);
        api_reply_code(req, MD_EINTERNAL, "the job's submission command did not fit");
        return;
    }
    if (api_redis_cmd(s, on_queued, op, cmd.argc, cmd.argv, cmd.argvlen) != 0) {
        api_storage_delete_job(s, op->id);
        api_reply_redis_down(req);
    }
}

/* The names of the faces the job names, from their records: they name the inputs (and the
 * frames), as a file part's name would. */
static void on_face_names(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    submit_op *op = priv;
    api_req *req = op->req;
    redisReply *reply = r;
    if (reply == NULL) {
        api_storage_delete_job(req->srv, op->id);
        api_reply_redis_down(req);
        return;
    }
    size_t k = 0;
    static const jr_input roles[2] = {JR_IN_SOURCE, JR_IN_TARGET};
    for (int side = 0; side < 2; side++) {
        if (!op->faces[side][0])
            continue;
        const redisReply *e =
            reply->type == REDIS_REPLY_ARRAY && k < reply->elements ? reply->element[k] : NULL;
        k++;
        if (e == NULL || e->type != REDIS_REPLY_STRING || e->len == 0) {
            api_storage_delete_job(req->srv, op->id);
            api_reply_code(req, MD_EINVAL,
                           "spec.%s_face: this API key has no face %s (POST /faces stores one; "
                           "GET /faces lists them)",
                           side == 0 ? "source" : "target", op->faces[side]);
            return;
        }
        char *name = op->inputs.name[roles[side]];
        jr_name_sanitize(e->str, e->len, name, sizeof op->inputs.name[0]);
    }
    char *text = jr_inputs_to_json(&op->inputs);
    if (text == NULL) {
        api_storage_delete_job(req->srv, op->id);
        api_reply_code(req, MD_ENOMEM, "out of memory");
        return;
    }
    md_free(op->inputs_json);
    op->inputs_json = text;
    submit_queue(op);
}

static void submit_done(uv_work_t *w, int status)
{
    submit_op *op = w->data;
    api_req *req = op->req;
    if (status != 0) {
        api_reply_code(req, MD_EINTERNAL, "the job was not processed (%s)", uv_strerror(status));
        return;
    }
    if (op->rc != 0) {
        api_reply_error(req, &op->err);
        return;
    }
    if (!side_face(op, 0)[0] && !side_face(op, 1)[0]) {
        submit_queue(op);
        return;
    }
    const char *ids[2];
    int n = 0;
    for (int side = 0; side < 2; side++)
        if (op->faces[side][0])
            ids[n++] = op->faces[side];
    jr_cmd cmd;
    if (jr_cmd_face_names(&cmd, req->srv->prefix, req->owner, ids, n) != 0) {
        api_storage_delete_job(req->srv, op->id);
        api_reply_code(req, MD_EINTERNAL, "the face names command did not fit");
        return;
    }
    if (api_redis_cmd(req->srv, on_face_names, op, cmd.argc, cmd.argv, cmd.argvlen) != 0) {
        api_storage_delete_job(req->srv, op->id);
        api_reply_redis_down(req);
    }
}

void api_submit(api_req *req)
{
    if (api_intake_finish(req) != 0)
        return;
    api_server *s = req->srv;
    if (!s->redis.ready) {
        /* Refuse before parsing: the job could not be queued anyway. */
        api_reply_redis_down(req);
        return;
    }
    submit_op *op = api_req_op_new(req, sizeof *op, op_free);
    if (op == NULL)
        return;
    op->req = req;
    op->lim = s->lim;
    op->storage = s->storage;
    op->in = req->intake;
    snprintf(op->owner, sizeof op->owner, "%s", req->owner);
    md_error_clear(&op->err);
    if (jq_id_new(op->id, &op->err) != 0) {
        api_reply_error(req, &op->err);
        return;
    }
    op->work.data = op;
    if (uv_queue_work(s->loop, &op->work, submit_work, submit_done) != 0) {
        api_reply_code(req, MD_EINTERNAL, "cannot schedule the job's parsing");
        return;
    }
    api_req_suspend(req);
}
