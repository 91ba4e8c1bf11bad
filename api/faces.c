/*
 * faces.c — the face library: POST /faces, GET /faces, GET /faces/{id}, DELETE /faces/{id}.
 *
 * POST /faces (the body is in; intake.c put the parts in temp files):
 * 1. Pool (post_work): only the parts 'mesh' and optional 'texture'; the mesh is loaded and
 *    checked exactly like a job's input (api_part_mesh_load), its textures padded, and encoded
 *    in the canonical form. The face's id is the SHA-256 of those canonical bytes
 *    (jobs/record.h), and they are stored under faces/{owner}/{id}.mdm unless that object is
 *    there already (content-addressed: it then holds the same bytes).
 * 2. Loop: one Lua script records the face unless the owner has it (201 / 200 with the stored
 *    face) or has max_faces_per_owner faces (409; the object just written is removed).
 * GET and DELETE are one Redis command each (DELETE's script refuses while a queued or running
 * job named the face); DELETE then removes the object on the pool.
 *
 * Loop thread except the pool work, which touches only its op, the intake's read-only parts and
 * the thread-safe storage handle. Another owner's face is "not found", never "forbidden".
 */
#define _GNU_SOURCE
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh/mesh.h"

/* ---- The Face JSON (openapi.yaml, Face) ---- */

/* The face hash as HGETALL gives it (a flat array of field/value pairs) as the Face JSON, or
 * NULL when the reply is not one of this owner's faces. */
static json_t *face_json(const redisReply *r, const char *owner)
{
    const char *own = api_reply_field(r, jr_face_field_name(JR_FF_OWNER));
    const char *id = api_reply_field(r, jr_face_field_name(JR_FF_ID));
    if (own == NULL || id == NULL || strcmp(own, owner) != 0)
        return NULL;
    json_t *face = json_object();
    json_object_set_new(face, "id", json_string(id));
    const char *name = api_reply_field(r, jr_face_field_name(JR_FF_NAME));
    json_object_set_new(face, "name", json_string(name ? name : ""));
    const char *format = api_reply_field(r, jr_face_field_name(JR_FF_FORMAT));
    json_object_set_new(face, "format", json_string(format ? format : ""));
    static const jr_face_field counts[] = {JR_FF_VERTICES, JR_FF_FACES, JR_FF_TEXTURES,
                                           JR_FF_BYTES};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        const char *v = api_reply_field(r, jr_face_field_name(counts[i]));
        json_object_set_new(face, jr_face_field_name(counts[i]),
                            json_integer(v ? strtoll(v, NULL, 10) : 0));
    }
    const char *created = api_reply_field(r, jr_face_field_name(JR_FF_CREATED_AT));
    char when[32];
    jq_time_format(created ? strtod(created, NULL) : 0, when);
    json_object_set_new(face, "created_at", json_string(when));
    return face;
}

/* ---- POST /faces ---- */

typedef struct post_op {
    api_req *req;
    uv_work_t work;
    md_limits lim;
    stg *storage;
    const api_intake *in;
    char owner[API_OWNER_MAX];
    int rc;
    md_error err;
    char id[JR_FACE_ID_LEN + 1];
    char key[STG_KEY_MAX];
    char format[16];
    char name[JR_INPUT_NAME_MAX]; /* the mesh part's stem, sanitised (jr_name_sanitize) */
    uint32_t vertices, faces, textures;
    uint64_t bytes;
    double created_at;
    char full_count[24]; /* the owner's count when max_faces_per_owner refused the face */
} post_op;

static int check_face_parts(const api_intake *in, md_error *err)
{
    if (!in->parts[API_PART_MESH].present)
        return md_fail(err, MD_EINVAL,
                       "missing part 'mesh': POST /faces takes a mesh file in part 'mesh' (and "
                       "optionally its texture in part 'texture')");
    uint32_t meshes = api_intake_count(in, API_PART_MESH);
    uint32_t textures = api_intake_count(in, API_PART_TEXTURE);
    if (meshes > 1 || textures > 1)
        return md_fail(err, MD_EINVAL,
                       "part '%s' appears %u times; POST /faces stores one face (upload each "
                       "face on its own)",
                       meshes > 1 ? "mesh" : "texture", meshes > 1 ? meshes : textures);
    for (int i = 0; i < API_PART_COUNT; i++)
        if (in->parts[i].present && i != API_PART_MESH && i != API_PART_TEXTURE)
            return md_fail(err, MD_EINVAL,
                           "part '%s' does not belong to POST /faces, which takes 'mesh' and "
                           "optionally 'texture'",
                           api_part_names[i]);
    return 0;
}

static void post_work(uv_work_t *w)
{
    post_op *op = w->data;
    mesh *m = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    uint64_t pixels = 0;
    int rc = check_face_parts(op->in, &op->err);
    if (rc == 0)
        rc = api_part_mesh_load(&op->in->parts[API_PART_MESH], API_PART_MESH,
                                &op->in->parts[API_PART_TEXTURE], &op->lim, &pixels, &m, &op->err);
    if (rc == 0)
        rc = mesh_pad_textures(m, &op->err);
    md_budget_release(); /* the texture's decode reservation, held through padding */
    if (rc == 0)
        rc = mesh_encode_canonical(m, &bytes, &len, &op->err);
    if (rc == 0) {
        md_sha256_hex(bytes, len, op->id);
        op->vertices = mesh_vertex_count(m);
        op->faces = mesh_triangle_count(m);
        op->textures = api_mesh_texture_count(m);
        op->bytes = len;
        snprintf(op->format, sizeof op->format, "%s", mesh_format(m));
        if (jr_key_face(op->key, sizeof op->key, op->owner, op->id) != 0)
            rc = md_fail(&op->err, MD_EINTERNAL, "the face's storage key does not fit");
    }
    /* Content-addressed: an object already under the key holds these very bytes (the key is
     * their hash), so the same face sent again is not written again. */
    uint64_t stored = 0;
    md_error head_err;
    if (rc == 0 && !(stg_head(op->storage, op->key, &stored, &head_err) == 0 && stored == len))
        rc = stg_put(op->storage, op->key, bytes, len, &op->err);
    md_free(bytes);
    mesh_free(m);
    for (int i = 0; i < API_PART_COUNT; i++)
        if (op->in->parts[i].present && op->in->parts[i].path[0])
            unlink(op->in->parts[i].path);
    for (uint32_t i = 0; i < op->in->more_count; i++)
        if (op->in->more[i].path[0])
            unlink(op->in->more[i].path);
    op->rc = rc;
}

static void remove_work(uv_work_t *w)
{
    post_op *op = w->data;
    md_error err;
    if (stg_delete(op->storage, op->key, &err) != 0)
        md_log(MD_LOG_WARN, "cannot remove %s: %s", op->key, err.msg);
}

static void reply_full(post_op *op)
{
    api_reply_code(op->req, MD_ECONFLICT,
                   "this API key keeps %s faces, max_faces_per_owner=%llu; delete some "
                   "(DELETE /faces/{id}) before adding more",
                   op->full_count, (unsigned long long)op->lim.max_faces_per_owner);
}

static void remove_done(uv_work_t *w, int status)
{
    (void)status;
    reply_full(w->data);
}

static void on_existing_face(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    post_op *op = priv;
    json_t *face = face_json(r, op->req->owner);
    if (face == NULL) {
        api_reply_code(op->req, MD_ECONFLICT, "face %s was deleted while it was sent; retry",
                       op->id);
        return;
    }
    api_reply_json(op->req, 200, face);
}

static void on_face_put(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    post_op *op = priv;
    api_req *req = op->req;
    api_server *s = req->srv;
    redisReply *reply = r;
    if (api_reply_word_pair(req, reply, "recording the face") != 0)
        return;
    switch (jr_face_put_reply(reply->element[0]->str)) {
    case JR_FACE_CREATED: {
        json_t *face = json_object();
        json_object_set_new(face, "id", json_string(op->id));
        json_object_set_new(face, "name", json_string(op->name));
        json_object_set_new(face, "format", json_string(op->format));
        json_object_set_new(face, "vertices", json_integer(op->vertices));
        json_object_set_new(face, "faces", json_integer(op->faces));
        json_object_set_new(face, "textures", json_integer(op->textures));
        json_object_set_new(face, "bytes", json_integer((json_int_t)op->bytes));
        char when[32];
        jq_time_format(op->created_at, when);
        json_object_set_new(face, "created_at", json_string(when));
        char loc[96];
        snprintf(loc, sizeof loc, "/faces/%s", op->id);
        struct MHD_Response *resp = api_response_json(face);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
        md_log(MD_LOG_INFO, "face %s stored (owner %s)", op->id, req->owner);
        api_req_reply(req, 201, resp);
        return;
    }
    case JR_FACE_EXISTS: {
        char key[JQ_KEY_MAX];
        jr_face_key(key, sizeof key, s->prefix, req->owner, op->id);
        const char *argv[] = {"HGETALL", key};
        if (api_redis_cmd(s, on_existing_face, op, 2, argv, NULL) != 0)
            api_reply_redis_down(req);
        return;
    }
    case JR_FACE_FULL:
        /* The object just written goes first; the request (and op) live until the reply. */
        snprintf(op->full_count, sizeof op->full_count, "%s", reply->element[1]->str);
        op->work.data = op;
        if (uv_queue_work(s->loop, &op->work, remove_work, remove_done) != 0) {
            md_log(MD_LOG_WARN, "cannot schedule removing %s", op->key);
            reply_full(op);
        }
        return;
    default:
        api_reply_code(req, MD_EINTERNAL, "recording the face failed: odd reply '%s'",
                       reply->element[0]->str);
        return;
    }
}

static void post_done(uv_work_t *w, int status)
{
    post_op *op = w->data;
    api_req *req = op->req;
    api_server *s = req->srv;
    if (status != 0) {
        api_reply_code(req, MD_EINTERNAL, "the face was not processed (%s)", uv_strerror(status));
        return;
    }
    if (op->rc != 0) {
        api_reply_error(req, &op->err);
        return;
    }
    op->created_at = jq_wall_now();
    const char *stem = op->in->parts[API_PART_MESH].stem;
    jr_name_sanitize(stem, strlen(stem), op->name, sizeof op->name);
    if (op->name[0] == '\0')
        snprintf(op->name, sizeof op->name, "face");
    jr_new_face face = {.id = op->id,
                        .owner = req->owner,
                        .name = op->name,
                        .format = op->format,
                        .vertices = op->vertices,
                        .faces = op->faces,
                        .textures = op->textures,
                        .bytes = op->bytes,
                        .created_at = op->created_at};
    jr_cmd cmd;
    if (jr_cmd_face_put(&cmd, s->prefix, &face, s->lim.max_faces_per_owner) != 0) {
        api_reply_code(req, MD_EINTERNAL, "the face's command did not fit");
        return;
    }
    if (api_redis_cmd(s, on_face_put, op, cmd.argc, cmd.argv, cmd.argvlen) != 0)
        api_reply_redis_down(req);
}

void api_face_post(api_req *req)
{
    if (api_intake_finish(req) != 0)
        return;
    api_server *s = req->srv;
    if (!s->redis.ready) {
        api_reply_redis_down(req);
        return;
    }
    post_op *op = api_req_op_new(req, sizeof *op, NULL);
    if (op == NULL)
        return;
    op->req = req;
    op->lim = s->lim;
    op->storage = s->storage;
    op->in = req->intake;
    snprintf(op->owner, sizeof op->owner, "%s", req->owner);
    md_error_clear(&op->err);
    op->work.data = op;
    if (uv_queue_work(s->loop, &op->work, post_work, post_done) != 0) {
        api_reply_code(req, MD_EINTERNAL, "cannot schedule the face's parsing");
        return;
    }
    api_req_suspend(req);
}

/* ---- GET /faces/{id} ---- */

static void on_face(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    if (r == NULL) {
        api_reply_redis_down(req);
        return;
    }
    json_t *face = face_json(r, req->owner);
    if (face == NULL) {
        api_reply_code(req, MD_ENOENT, "no face %s", req->face_id);
        return;
    }
    api_reply_json(req, 200, face);
}

void api_face_get(api_req *req)
{
    char key[JQ_KEY_MAX];
    if (jr_face_key(key, sizeof key, req->srv->prefix, req->owner, req->face_id) != 0) {
        api_reply_code(req, MD_ENOENT, "no face %s", req->face_id);
        return;
    }
    const char *argv[] = {"HGETALL", key};
    if (api_redis_cmd(req->srv, on_face, req, 2, argv, NULL) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- GET /faces ---- */

#define FACE_LIST_MAX 100

typedef struct list_op {
    api_req *req;
    api_listing page;
    int fetch;
} list_op;

static void on_face_list(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    list_op *op = priv;
    api_req *req = op->req;
    redisReply *reply = r;
    if (reply == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        api_reply_code(req, MD_EINTERNAL, "listing faces failed: %s",
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
        return;
    }
    json_t *faces = json_array();
    char last[128] = "";
    int taken = 0, more = 0;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *score = reply->element[i], *hash = reply->element[i + 1];
        if (score->type != REDIS_REPLY_STRING)
            continue;
        json_t *face = face_json(hash, req->owner);
        if (face == NULL)
            continue;
        const char *id = json_string_value(json_object_get(face, "id"));
        if (api_listing_given(&op->page, score->str, id)) {
            json_decref(face);
            continue;
        }
        if (taken == op->page.limit) {
            json_decref(face);
            more = 1;
            break;
        }
        snprintf(last, sizeof last, "%s:%s", score->str, id);
        json_array_append_new(faces, face);
        taken++;
    }
    if ((int)(reply->elements / 2) >= op->fetch)
        more = 1;
    json_t *next = more && last[0] ? json_string(last) : json_null();
    api_reply_json(req, 200, json_pack("{s:o,s:o}", "faces", faces, "next_cursor", next));
}

void api_face_list(api_req *req)
{
    api_listing page;
    if (api_listing_read(req, FACE_LIST_MAX, jr_face_id_valid, &page) != 0)
        return;
    list_op *op = api_req_op_new(req, sizeof *op, NULL);
    if (op == NULL)
        return;
    op->req = req;
    op->page = page;
    /* Extra entries cover faces sharing the cursor's millisecond. */
    op->fetch = page.limit + 32;
    jr_cmd cmd;
    if (jr_cmd_face_list(&cmd, req->srv->prefix, req->owner, op->page.max_score, op->fetch) != 0) {
        api_reply_code(req, MD_EINTERNAL, "the list command did not fit");
        return;
    }
    if (api_redis_cmd(req->srv, on_face_list, op, cmd.argc, cmd.argv, cmd.argvlen) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- DELETE /faces/{id} ---- */

typedef struct delete_op {
    api_req *req;
    uv_work_t work;
    stg *storage;
    char key[STG_KEY_MAX];
} delete_op;

static void delete_work(uv_work_t *w)
{
    delete_op *op = w->data;
    md_error err;
    /* The record is gone already; an object left behind is only space, and logged. */
    if (stg_delete(op->storage, op->key, &err) != 0)
        md_log(MD_LOG_WARN, "face deleted, but not its object %s: %s", op->key, err.msg);
}

static void delete_done(uv_work_t *w, int status)
{
    (void)status;
    delete_op *op = w->data;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    api_req_reply(op->req, 204, resp);
}

static void on_face_delete(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    delete_op *op = priv;
    api_req *req = op->req;
    redisReply *reply = r;
    if (api_reply_word_pair(req, reply, "deleting the face") != 0)
        return;
    const char *word = reply->element[0]->str;
    if (strcmp(word, "missing") == 0) {
        api_reply_code(req, MD_ENOENT, "no face %s", req->face_id);
        return;
    }
    if (strcmp(word, "busy") == 0) {
        api_reply_code(req, MD_ECONFLICT,
                       "face %s is used by job %s, which is queued or running; delete the face "
                       "when the job has ended (or cancel it)",
                       req->face_id, reply->element[1]->str);
        return;
    }
    op->work.data = op;
    if (uv_queue_work(req->srv->loop, &op->work, delete_work, delete_done) != 0)
        api_reply_code(req, MD_EINTERNAL, "cannot schedule removing the face's object");
}

void api_face_delete(api_req *req)
{
    api_server *s = req->srv;
    delete_op *op = api_req_op_new(req, sizeof *op, NULL);
    if (op == NULL)
        return;
    op->req = req;
    op->storage = s->storage;
    jr_cmd cmd;
    if (jr_key_face(op->key, sizeof op->key, req->owner, req->face_id) != 0 ||
        jr_cmd_face_delete(&cmd, s->prefix, req->owner, req->face_id) != 0) {
        api_reply_code(req, MD_ENOENT, "no face %s", req->face_id);
        return;
    }
    if (api_redis_cmd(s, on_face_delete, op, cmd.argc, cmd.argv, cmd.argvlen) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}
