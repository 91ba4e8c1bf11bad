/*
 * batches.c — many morph jobs between the owner's stored faces (faces.c), made at once:
 * POST /batches, GET /batches/{id}, POST /batches/{id}/cancel and DELETE /batches/{id}.
 *
 * POST /batches takes a JSON body {"faces": [ids], "pairs": "all" | [[a, b], ...], "spec": {}}
 * (http.c collects it, at most API_BATCH_BODY_MAX bytes):
 * 1. Pool (parse_work): the body, the faces (ids, no repeats, max_batch_meshes), the pairs (ids
 *    from faces, no self-pairs, no repeats, max_batch_pairs), the spec as POST /jobs reads a
 *    morph job's (job_spec_from_json, the same limits) and each face read from the owner's
 *    faces/ once: its counts and a digest of its topology, so a pair whose faces do not share
 *    one is refused (422) with mesh_check_topology's words before anything is recorded.
 * 2. Loop (on_names): the faces' names (they name each job's inputs and frames, as for POST
 *    /jobs with spec.source_face); a face gone by now is refused.
 * 3. Pool (build_work): ids, each job's inputs and request hash, the one command that records
 *    the batch and every job (jr_cmd_batch_submit: one Lua script, all or nothing; the jobs
 *    are recorded as POST /jobs records one, by the same enqueue()), and the 202 body.
 * 4. Loop (on_submitted): 202 + Location, or the refusal (queue full, a face deleted meanwhile).
 * A batch stores no objects of its own: its jobs read their inputs from faces/ in place.
 *
 * The other routes are one script each (record.c) and a reply built by api_batch_json
 * (job_json.c). Another owner's batch is "not found". Loop thread except the pool work, which
 * touches only its op and the thread-safe storage handle; the op borrows the suspended request.
 */
#define _GNU_SOURCE
#include "api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nettle/sha2.h>

#include "jobs/spec.h"
#include "mesh/mesh.h"

typedef struct batch_face {
    char id[JR_FACE_ID_LEN + 1];
    char name[JR_INPUT_NAME_MAX];
    char format[16];
    uint32_t vertices, triangles, textures;
    uint8_t topology[SHA256_DIGEST_SIZE]; /* of the vertex count and the triangle list */
} batch_face;

typedef struct batch_op {
    api_req *req;
    uv_work_t work;
    md_limits lim;
    stg *storage;
    char owner[API_OWNER_MAX];
    char prefix[JQ_PREFIX_MAX];
    uint64_t max_queued, max_per_owner;
    int rc;
    md_error err;
    /* The request, parsed (parse_work). */
    batch_face *faces;
    size_t face_count;
    uint32_t (*pairs)[2]; /* indices into faces */
    size_t pair_count;
    char *spec_json;
    uint32_t frames_total;
    /* The records (build_work). */
    char id[JQ_ID_LEN + 1];
    double created_at;
    char (*job_ids)[JQ_ID_LEN + 1];
    char (*hashes)[2 * SHA256_DIGEST_SIZE + 1];
    char **inputs;
    jr_new_job *jobs;
    jr_cmd cmd;
    char *payload;    /* what cmd borrows */
    char *names_args; /* what the face names command borrows */
    char *reply_text; /* the 202 body */
} batch_op;

static void op_free(void *p)
{
    batch_op *op = p;
    if (op == NULL)
        return;
    for (size_t i = 0; op->inputs != NULL && i < op->pair_count; i++)
        md_free(op->inputs[i]);
    md_free(op->inputs);
    md_free(op->faces);
    md_free(op->pairs);
    md_free(op->spec_json);
    md_free(op->job_ids);
    md_free(op->hashes);
    md_free(op->jobs);
    md_free(op->payload);
    md_free(op->names_args);
    md_free(op->reply_text);
    md_free(op);
}

/* ---- Pool: the body, the faces, the pairs, the spec ---- */

static int face_cmp(const void *a, const void *b, void *faces)
{
    const batch_face *f = faces;
    return strcmp(f[*(const uint32_t *)a].id, f[*(const uint32_t *)b].id);
}

/* The index in faces of id (order: faces sorted by id through order), or -1. */
static long face_find(const batch_face *faces, const uint32_t *order, size_t n, const char *id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(faces[order[mid]].id, id);
        if (c == 0)
            return order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int parse_faces(batch_op *op, json_t *faces, uint32_t **order_out)
{
    md_error *err = &op->err;
    if (!json_is_array(faces))
        return md_fail(err, MD_EINVAL,
                       "'faces' must be an array of face ids (64 hex digits each, as POST /faces "
                       "gave them)");
    size_t n = json_array_size(faces);
    if (n < 2)
        return md_fail(err, MD_EINVAL, "'faces' names %zu face(s); a batch needs at least 2", n);
    if (n > op->lim.max_batch_meshes)
        return md_fail(err, MD_ELIMIT, "'faces' names %zu faces, more than max_batch_meshes=%llu",
                       n, (unsigned long long)op->lim.max_batch_meshes);
    op->faces = md_calloc(n, sizeof *op->faces);
    uint32_t *order = md_calloc(n, sizeof *order);
    if (op->faces == NULL || order == NULL) {
        md_free(order);
        return md_fail(err, MD_ENOMEM, "out of memory");
    }
    op->face_count = n;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(faces, i));
        if (id == NULL || !jr_face_id_valid(id)) {
            md_free(order);
            return md_fail(err, MD_EINVAL,
                           "faces[%zu] is not a face id (64 lowercase hex digits, as POST /faces "
                           "gave it)",
                           i);
        }
        snprintf(op->faces[i].id, sizeof op->faces[i].id, "%s", id);
        order[i] = (uint32_t)i;
    }
    qsort_r(order, n, sizeof *order, face_cmp, op->faces);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(op->faces[order[i]].id, op->faces[order[i - 1]].id) == 0) {
            uint32_t a = order[i - 1] < order[i] ? order[i - 1] : order[i];
            uint32_t b = order[i - 1] < order[i] ? order[i] : order[i - 1];
            md_free(order);
            return md_fail(err, MD_EINVAL, "faces[%u] repeats faces[%u] (%s); name each face once",
                           b, a, op->faces[a].id);
        }
    }
    *order_out = order;
    return 0;
}

static int parse_pairs(batch_op *op, json_t *pairs, const uint32_t *order)
{
    md_error *err = &op->err;
    size_t n = op->face_count;
    if (pairs == NULL || (json_is_string(pairs) && strcmp(json_string_value(pairs), "all") == 0)) {
        uint64_t count = (uint64_t)n * (n - 1) / 2;
        if (count > op->lim.max_batch_pairs)
            return md_fail(err, MD_ELIMIT,
                           "\"all\" pairs of %zu faces are %llu pairs, more than "
                           "max_batch_pairs=%llu",
                           n, (unsigned long long)count,
                           (unsigned long long)op->lim.max_batch_pairs);
        op->pairs = md_calloc((size_t)count, sizeof *op->pairs);
        if (op->pairs == NULL)
            return md_fail(err, MD_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) {
                op->pairs[op->pair_count][0] = (uint32_t)i;
                op->pairs[op->pair_count][1] = (uint32_t)j;
                op->pair_count++;
            }
        return 0;
    }
    if (!json_is_array(pairs))
        return md_fail(err, MD_EINVAL,
                       "'pairs' must be \"all\" or an array of [source, target] face id pairs");
    size_t count = json_array_size(pairs);
    if (count == 0)
        return md_fail(err, MD_EINVAL, "'pairs' is empty; name at least one pair (or \"all\")");
    if (count > op->lim.max_batch_pairs)
        return md_fail(err, MD_ELIMIT, "'pairs' has %zu pairs, more than max_batch_pairs=%llu",
                       count, (unsigned long long)op->lim.max_batch_pairs);
    op->pairs = md_calloc(count, sizeof *op->pairs);
    /* One bit per ordered pair of faces: max_batch_meshes² bits at most. */
    uint8_t *seen = md_calloc((n * n + 7) / 8, 1);
    int rc = 0;
    if (op->pairs == NULL || seen == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < count; k++) {
        json_t *p = json_array_get(pairs, k);
        const char *a = json_string_value(json_array_get(p, 0));
        const char *b = json_string_value(json_array_get(p, 1));
        if (!json_is_array(p) || json_array_size(p) != 2 || a == NULL || b == NULL) {
            rc = md_fail(err, MD_EINVAL,
                         "pairs[%zu] must be [source, target]: two face ids from 'faces'", k);
            goto done;
        }
        long ia = face_find(op->faces, order, n, a), ib = face_find(op->faces, order, n, b);
        if (ia < 0 || ib < 0) {
            rc = md_fail(err, MD_EINVAL, "pairs[%zu][%d] (%.64s) is not one of 'faces'", k,
                         ia < 0 ? 0 : 1, ia < 0 ? a : b);
            goto done;
        }
        if (ia == ib) {
            rc = md_fail(err, MD_EINVAL,
                         "pairs[%zu] pairs faces[%ld] with itself; a morph needs two faces", k, ia);
            goto done;
        }
        size_t bit = (size_t)ia * n + (size_t)ib;
        if (seen[bit / 8] & (1u << (bit % 8))) {
            rc = md_fail(err, MD_EINVAL,
                         "pairs[%zu] repeats an earlier pair (faces[%ld] to faces[%ld]); name "
                         "each pair once",
                         k, ia, ib);
            goto done;
        }
        seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
        op->pairs[k][0] = (uint32_t)ia;
        op->pairs[k][1] = (uint32_t)ib;
        op->pair_count++;
    }
done:
    md_free(seen);
    return rc;
}

/* The spec every job gets, read as POST /jobs reads a morph job's spec part. */
static int parse_spec(batch_op *op, json_t *spec_in)
{
    md_error *err = &op->err;
    if (spec_in != NULL && !json_is_object(spec_in))
        return md_fail(err, MD_EINVAL, "'spec' must be a JSON object (a morph job's spec)");
    static const char *const taken[] = {"source_face", "target_face"};
    for (int i = 0; spec_in != NULL && i < 2; i++)
        if (json_object_get(spec_in, taken[i]) != NULL)
            return md_fail(err, MD_EINVAL,
                           "spec.%s does not belong in a batch: 'pairs' names each job's faces",
                           taken[i]);
    job_spec spec;
    job_spec_init(&spec);
    json_t *empty = spec_in ? NULL : json_object();
    int rc = job_spec_from_json(&spec, spec_in ? spec_in : empty, &op->lim, err);
    json_decref(empty);
    if (rc == 0 && spec.kind != JOB_KIND_MORPH)
        rc = md_fail(err, MD_EINVAL, "a batch makes morph jobs; spec.kind \"%s\" is not \"morph\"",
                     job_kind_name(spec.kind));
    if (rc != 0) {
        job_spec_free(&spec);
        return md_error_prefix(err, "spec: ");
    }
    op->frames_total = job_spec_frame_total(&spec);
    json_t *norm = job_spec_to_json(&spec);
    char *text = norm ? json_dumps(norm, JSON_COMPACT) : NULL;
    json_decref(norm);
    op->spec_json = text ? md_strdup(text) : NULL;
    free(text);
    job_spec_free(&spec);
    return op->spec_json ? 0 : md_fail(err, MD_ENOMEM, "out of memory");
}

/* Reads face i from the owner's faces/ (stored checked and padded). */
static int load_face(batch_op *op, size_t i, mesh **out)
{
    char key[STG_KEY_MAX];
    if (jr_key_face(key, sizeof key, op->owner, op->faces[i].id) != 0)
        return md_fail(&op->err, MD_EINTERNAL, "faces[%zu]: the face's storage key does not fit",
                       i);
    uint64_t max64 = op->lim.max_file_bytes * 4;
    size_t max = max64 > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)max64;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = stg_get(op->storage, key, max, &data, &len, &op->err);
    if (rc == MD_ENOENT)
        rc = md_fail(&op->err, MD_EINVAL,
                     "this API key has no face %s (POST /faces stores one; GET /faces lists them)",
                     op->faces[i].id);
    if (rc == 0)
        rc = mesh_decode_canonical(data, len, &op->lim, out, &op->err);
    md_free(data);
    return rc == 0 ? 0 : md_error_prefix(&op->err, "faces[%zu]: ", i);
}

static int read_faces(batch_op *op)
{
    for (size_t i = 0; i < op->face_count; i++) {
        mesh *m = NULL;
        int rc = load_face(op, i, &m);
        if (rc != 0)
            return rc;
        batch_face *f = &op->faces[i];
        f->vertices = mesh_vertex_count(m);
        f->triangles = mesh_triangle_count(m);
        f->textures = api_mesh_texture_count(m);
        snprintf(f->format, sizeof f->format, "%s", mesh_format(m));
        /* Two meshes pass mesh_check_topology exactly when these digests agree. */
        struct sha256_ctx sha;
        sha256_init(&sha);
        uint32_t counts[2] = {f->vertices, f->triangles};
        sha256_update(&sha, sizeof counts, (const uint8_t *)counts);
        sha256_update(&sha, (size_t)f->triangles * 3 * sizeof(uint32_t),
                      (const uint8_t *)mesh_triangles(m));
        sha256_digest(&sha, sizeof f->topology, f->topology);
        mesh_free(m);
    }
    return 0;
}

/* Pair k's faces do not share a topology: mesh_check_topology says how. */
static int topology_fail(batch_op *op, size_t k)
{
    uint32_t a = op->pairs[k][0], b = op->pairs[k][1];
    mesh *ma = NULL, *mb = NULL;
    int rc = load_face(op, a, &ma);
    if (rc == 0)
        rc = load_face(op, b, &mb);
    if (rc == 0)
        rc = mesh_check_topology(ma, mb, &op->err);
    if (rc == 0)
        rc = md_fail(&op->err, MD_ETOPOLOGY, "the faces do not share a topology");
    mesh_free(ma);
    mesh_free(mb);
    return md_error_prefix(&op->err, "pair %zu (faces[%u] as source, faces[%u] as target): ", k, a,
                           b);
}

static void parse_work(uv_work_t *w)
{
    batch_op *op = w->data;
    api_req *req = op->req;
    md_error *err = &op->err;
    uint32_t *order = NULL;
    json_error_t jerr;
    json_t *obj = json_loadb(req->body.data ? req->body.data : "", req->body.len,
                             JSON_REJECT_DUPLICATES, &jerr);
    int rc = 0;
    if (obj == NULL) {
        rc = md_fail(err, MD_EINVAL, "the body is not valid JSON: line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        goto done;
    }
    if (!json_is_object(obj)) {
        rc = md_fail(err, MD_EINVAL,
                     "the body must be a JSON object {\"faces\": [...], \"pairs\": ..., "
                     "\"spec\": {...}}");
        goto done;
    }
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        if (strcmp(key, "faces") != 0 && strcmp(key, "pairs") != 0 && strcmp(key, "spec") != 0) {
            rc = md_fail(err, MD_EINVAL,
                         "unknown field '%.64s'; a batch takes 'faces', 'pairs' and 'spec'", key);
            goto done;
        }
    }
    if ((rc = parse_faces(op, json_object_get(obj, "faces"), &order)) != 0)
        goto done;
    if ((rc = parse_pairs(op, json_object_get(obj, "pairs"), order)) != 0)
        goto done;
    /* A batch larger than the whole queue (or the key's share of it) could never be queued:
     * say so before reading a face (the script checks the room left). */
    if (op->pair_count > op->max_queued ||
        (op->max_per_owner > 0 && op->pair_count > op->max_per_owner)) {
        int queue = op->pair_count > op->max_queued;
        rc = md_fail(err, MD_ELIMIT,
                     "the batch makes %zu jobs, more than %s=%llu can ever hold queued or "
                     "running; send smaller batches",
                     op->pair_count, queue ? "max_queued" : "max_queued_per_owner",
                     (unsigned long long)(queue ? op->max_queued : op->max_per_owner));
        goto done;
    }
    if ((rc = parse_spec(op, json_object_get(obj, "spec"))) != 0)
        goto done;
    if ((rc = read_faces(op)) != 0)
        goto done;
    for (size_t k = 0; k < op->pair_count; k++) {
        const batch_face *a = &op->faces[op->pairs[k][0]], *b = &op->faces[op->pairs[k][1]];
        if (memcmp(a->topology, b->topology, sizeof a->topology) != 0) {
            rc = topology_fail(op, k);
            goto done;
        }
    }
done:
    md_free(order);
    json_decref(obj);
    op->rc = rc;
}

/* ---- Pool: the records and the command ---- */

static void build_work(uv_work_t *w)
{
    batch_op *op = w->data;
    md_error *err = &op->err;
    size_t n = op->pair_count;
    int rc = 0;
    op->job_ids = md_calloc(n, sizeof *op->job_ids);
    op->hashes = md_calloc(n, sizeof *op->hashes);
    op->inputs = md_calloc(n, sizeof *op->inputs);
    op->jobs = md_calloc(n, sizeof *op->jobs);
    api_batch_job *states = md_calloc(n, sizeof *states);
    if (op->job_ids == NULL || op->hashes == NULL || op->inputs == NULL || op->jobs == NULL ||
        states == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = jq_id_new(op->id, err)) != 0)
        goto done;
    char frames_total[16];
    snprintf(frames_total, sizeof frames_total, "%u", op->frames_total);
    for (size_t k = 0; k < n; k++) {
        const batch_face *a = &op->faces[op->pairs[k][0]], *b = &op->faces[op->pairs[k][1]];
        if ((rc = jq_id_new(op->job_ids[k], err)) != 0)
            goto done;
        /* The inputs as POST /jobs records a morph job whose sides are stored faces. */
        jr_inputs in;
        memset(&in, 0, sizeof in);
        in.vertices = a->vertices;
        in.faces = a->triangles;
        in.textures = a->textures + b->textures;
        const batch_face *side[2] = {a, b};
        static const jr_input roles[2] = {JR_IN_SOURCE, JR_IN_TARGET};
        for (int s = 0; s < 2; s++) {
            jr_input r = roles[s];
            in.present[r] = 1;
            snprintf(in.name[r], sizeof in.name[r], "%s", side[s]->name);
            snprintf(in.format[r], sizeof in.format[r], "%s", side[s]->format);
            snprintf(in.face[r], sizeof in.face[r], "%s", side[s]->id);
        }
        op->inputs[k] = jr_inputs_to_json(&in);
        if (op->inputs[k] == NULL) {
            rc = md_fail(err, MD_ENOMEM, "out of memory");
            goto done;
        }
        /* What the job does: its spec, its inputs (which name the faces by id and so by
         * content), as POST /jobs hashes a request. */
        struct sha256_ctx sha;
        uint8_t digest[SHA256_DIGEST_SIZE];
        sha256_init(&sha);
        sha256_update(&sha, strlen(op->spec_json), (const uint8_t *)op->spec_json);
        sha256_update(&sha, 1, (const uint8_t *)"\n");
        sha256_update(&sha, strlen(op->inputs[k]), (const uint8_t *)op->inputs[k]);
        sha256_digest(&sha, sizeof digest, digest);
        for (size_t i = 0; i < sizeof digest; i++)
            snprintf(op->hashes[k] + 2 * i, 3, "%02x", digest[i]);
        op->jobs[k] = (jr_new_job){.id = op->job_ids[k],
                                   .kind = JR_KIND_MORPH,
                                   .owner = op->owner,
                                   .spec_json = op->spec_json,
                                   .inputs_json = op->inputs[k],
                                   .frames_total = op->frames_total,
                                   .created_at = op->created_at,
                                   .request_hash = op->hashes[k],
                                   .faces = {a->id, b->id}};
        states[k] = (api_batch_job){.id = op->job_ids[k],
                                    .source_face = a->id,
                                    .target_face = b->id,
                                    .v = {[JR_BJ_STATUS] = jr_status_name(JR_QUEUED),
                                          [JR_BJ_STAGE] = jr_stage_name(JR_STAGE_QUEUED),
                                          [JR_BJ_FRAMES_DONE] = "0",
                                          [JR_BJ_FRAMES_TOTAL] = frames_total,
                                          [JR_BJ_ERROR] = ""}};
    }
    jr_new_batch b = {.id = op->id,
                      .owner = op->owner,
                      .spec_json = op->spec_json,
                      .created_at = op->created_at,
                      .jobs = op->jobs,
                      .count = n};
    if (jr_cmd_batch_submit(&op->cmd, op->prefix, &b, op->max_queued, op->max_per_owner,
                            &op->payload) != 0) {
        rc = md_fail(err, MD_EINTERNAL, "the batch's command could not be built");
        goto done;
    }
    char created[32];
    snprintf(created, sizeof created, "%.3f", op->created_at);
    json_t *body = api_batch_json(op->id, created, op->spec_json, states, n);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    op->reply_text = text ? md_strdup(text) : NULL;
    free(text);
    if (op->reply_text == NULL)
        rc = md_fail(err, MD_ENOMEM, "out of memory");
done:
    md_free(states);
    op->rc = rc;
}

/* ---- Loop: names, record, answer ---- */

static void on_submitted(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    batch_op *op = priv;
    api_req *req = op->req;
    api_server *s = req->srv;
    redisReply *reply = r;
    if (api_reply_word_pair(req, reply, "recording the batch") != 0)
        return;
    const char *other = reply->element[1]->str;
    switch (jr_submit_reply(reply->element[0]->str)) {
    case JR_SUBMIT_OK:
        break;
    case JR_SUBMIT_FULL:
        api_reply_code(req, MD_EBUSY,
                       "the queue has no room for %zu more jobs (max_queued=%llu jobs queued or "
                       "running); try again later or send a smaller batch",
                       op->pair_count, (unsigned long long)s->lim.max_queued);
        return;
    case JR_SUBMIT_OWNER_FULL:
        api_reply_code(req, MD_EBUSY,
                       "this API key's share of the queue has no room for %zu more jobs: owner "
                       "'%s' has %s job(s) queued or running and max_queued_per_owner=%llu",
                       op->pair_count, req->owner, other,
                       (unsigned long long)s->lim.max_queued_per_owner);
        return;
    case JR_SUBMIT_NO_FACE:
        api_reply_code(req, MD_EINVAL,
                       "a face the batch names was deleted while the batch was submitted (%s); "
                       "upload it again (POST /faces)",
                       other);
        return;
    default:
        api_reply_code(req, MD_EINTERNAL, "recording the batch failed: reply '%s'",
                       reply->element[0]->str);
        return;
    }
    char loc[64];
    snprintf(loc, sizeof loc, "/batches/%s", op->id);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(op->reply_text), op->reply_text, MHD_RESPMEM_MUST_COPY);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
    }
    md_log(MD_LOG_INFO, "batch %s queued: %zu jobs (owner %s)", op->id, op->pair_count, req->owner);
    api_req_reply(req, 202, resp);
}

static void build_done(uv_work_t *w, int status)
{
    batch_op *op = w->data;
    api_req *req = op->req;
    if (status != 0) {
        api_reply_code(req, MD_EINTERNAL, "the batch was not processed (%s)", uv_strerror(status));
        return;
    }
    if (op->rc != 0) {
        api_reply_error(req, &op->err);
        return;
    }
    if (api_redis_cmd(req->srv, on_submitted, op, op->cmd.argc, op->cmd.argv, op->cmd.argvlen) != 0)
        api_reply_redis_down(req);
}

static void on_names(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    batch_op *op = priv;
    api_req *req = op->req;
    redisReply *reply = r;
    if (reply == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != op->face_count) {
        api_reply_code(req, MD_EINTERNAL, "reading the faces' names failed: %s",
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
        return;
    }
    for (size_t i = 0; i < op->face_count; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len == 0) {
            api_reply_code(req, MD_EINVAL,
                           "faces[%zu]: this API key has no face %s (POST /faces stores one; GET "
                           "/faces lists them)",
                           i, op->faces[i].id);
            return;
        }
        jr_name_sanitize(e->str, e->len, op->faces[i].name, sizeof op->faces[i].name);
    }
    op->created_at = jq_wall_now();
    if (uv_queue_work(req->srv->loop, &op->work, build_work, build_done) != 0)
        api_reply_code(req, MD_EINTERNAL, "cannot schedule the batch's records");
}

static void parse_done(uv_work_t *w, int status)
{
    batch_op *op = w->data;
    api_req *req = op->req;
    if (status != 0) {
        api_reply_code(req, MD_EINTERNAL, "the batch was not processed (%s)", uv_strerror(status));
        return;
    }
    if (op->rc != 0) {
        api_reply_error(req, &op->err);
        return;
    }
    const char **ids = md_calloc(op->face_count, sizeof *ids);
    if (ids == NULL) {
        api_reply_code(req, MD_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < op->face_count; i++)
        ids[i] = op->faces[i].id;
    jr_cmd cmd;
    int rc =
        jr_cmd_batch_face_names(&cmd, op->prefix, op->owner, ids, op->face_count, &op->names_args);
    md_free(ids);
    if (rc != 0) {
        api_reply_code(req, MD_EINTERNAL, "the face names command could not be built");
        return;
    }
    if (api_redis_cmd(req->srv, on_names, op, cmd.argc, cmd.argv, cmd.argvlen) != 0)
        api_reply_redis_down(req);
}

void api_batch_post(api_req *req)
{
    api_server *s = req->srv;
    if (req->body.err == MD_ELIMIT) {
        api_reply_code(req, MD_ELIMIT, "the body is larger than %d bytes", API_BATCH_BODY_MAX);
        return;
    }
    if (req->body.err != 0) {
        api_reply_code(req, MD_ENOMEM, "out of memory reading the body");
        return;
    }
    const char *type =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (type != NULL && strncasecmp(type, "application/json", 16) != 0) {
        api_reply_code(
            req, MD_EFORMAT,
            "POST /batches takes a JSON body (Content-Type: application/json), not %.80s", type);
        return;
    }
    if (!s->redis.ready) {
        api_reply_redis_down(req);
        return;
    }
    batch_op *op = api_req_op_new(req, sizeof *op, op_free);
    if (op == NULL)
        return;
    op->req = req;
    op->lim = s->lim;
    op->storage = s->storage;
    snprintf(op->owner, sizeof op->owner, "%s", req->owner);
    snprintf(op->prefix, sizeof op->prefix, "%s", s->prefix);
    op->max_queued = s->lim.max_queued;
    /* As for POST /jobs: the per-owner share applies with API keys only. */
    op->max_per_owner = s->keys != NULL ? s->lim.max_queued_per_owner : 0;
    md_error_clear(&op->err);
    op->work.data = op;
    if (uv_queue_work(s->loop, &op->work, parse_work, parse_done) != 0) {
        api_reply_code(req, MD_EINTERNAL, "cannot schedule the batch's parsing");
        return;
    }
    api_req_suspend(req);
}

/* ---- GET /batches/{id} ---- */

/* The Batch JSON from a jr_cmd_batch_get reply, or NULL when it is "missing" or malformed. */
json_t *api_batch_json_reply(const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "ok") != 0)
        return NULL;
    const redisReply *h = r->element[1];
    const char *id = api_reply_field(h, jr_batch_field_name(JR_BF_ID));
    const char *jobs_text = api_reply_field(h, jr_batch_field_name(JR_BF_JOBS));
    json_t *jobs = jobs_text ? json_loads(jobs_text, 0, NULL) : NULL;
    size_t n = json_array_size(jobs);
    if (id == NULL || !json_is_array(jobs) || r->elements != n + 2) {
        json_decref(jobs);
        return NULL;
    }
    api_batch_job *states = md_calloc(n ? n : 1, sizeof *states);
    json_t *out = NULL;
    if (states == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(jobs, i);
        const redisReply *v = r->element[i + 2];
        states[i].id = json_string_value(json_object_get(j, "id"));
        states[i].source_face = json_string_value(json_object_get(j, "source_face"));
        states[i].target_face = json_string_value(json_object_get(j, "target_face"));
        if (states[i].id == NULL || states[i].source_face == NULL || states[i].target_face == NULL)
            goto done;
        for (size_t f = 0; v->type == REDIS_REPLY_ARRAY && f < v->elements && f < JR_BJ_COUNT; f++)
            if (v->element[f]->type == REDIS_REPLY_STRING)
                states[i].v[f] = v->element[f]->str;
    }
    out = api_batch_json(id, api_reply_field(h, jr_batch_field_name(JR_BF_CREATED_AT)),
                         api_reply_field(h, jr_batch_field_name(JR_BF_SPEC)), states, n);
done:
    md_free(states);
    json_decref(jobs);
    return out;
}

static int batch_terminal(const json_t *batch)
{
    const char *st = json_string_value(json_object_get(batch, "status"));
    return st != NULL && jr_status_name_terminal(st);
}

static void reply_batch(api_req *req, unsigned status, const redisReply *r)
{
    json_t *batch = api_batch_json_reply(r);
    if (batch == NULL) {
        api_reply_code(req, MD_ENOENT, "no batch %s", req->id);
        return;
    }
    api_reply_polled(req, status, batch, batch_terminal(batch));
}

static void on_batch(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    if (r == NULL) {
        api_reply_redis_down(req);
        return;
    }
    reply_batch(req, 200, r);
}

void api_batch_get(api_req *req)
{
    jr_cmd cmd;
    if (jr_cmd_batch_get(&cmd, req->srv->prefix, req->id, req->owner) != 0) {
        api_reply_code(req, MD_EINTERNAL, "the batch read command did not fit");
        return;
    }
    if (api_redis_cmd(req->srv, on_batch, req, cmd.argc, cmd.argv, cmd.argvlen) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- POST /batches/{id}/cancel ---- */

typedef struct cancel_op {
    int missing;
    long long running; /* jobs that got cancel_requested */
} cancel_op;

static void on_cancel(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    cancel_op *op = req->op;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
        reply->element[0]->type == REDIS_REPLY_STRING) {
        op->missing = strcmp(reply->element[0]->str, "missing") == 0;
        if (reply->elements == 3 && reply->element[2]->type == REDIS_REPLY_INTEGER)
            op->running = reply->element[2]->integer;
    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        md_log(MD_LOG_WARN, "cancel batch %s: %s", req->id, reply->str);
    }
}

static void on_cancel_batch(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    cancel_op *op = req->op;
    if (r == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (op->missing) {
        api_reply_code(req, MD_ENOENT, "no batch %s", req->id);
        return;
    }
    /* 202 while running jobs still have to notice their cancel; 200 when all have ended. */
    reply_batch(req, op->running > 0 ? 202 : 200, r);
}

void api_batch_cancel(api_req *req)
{
    api_server *s = req->srv;
    cancel_op *op = api_req_op_new(req, sizeof *op, NULL);
    if (op == NULL)
        return;
    jr_cmd cancel, get;
    if (jr_cmd_batch_cancel(&cancel, s->prefix, req->id, req->owner, jq_wall_now(),
                            s->keys != NULL) != 0 ||
        jr_cmd_batch_get(&get, s->prefix, req->id, req->owner) != 0) {
        api_reply_code(req, MD_EINTERNAL, "the cancel command did not fit");
        return;
    }
    /* Pipelined: the read sees what the cancel left. */
    if (api_redis_cmd(s, on_cancel, req, cancel.argc, cancel.argv, cancel.argvlen) != 0 ||
        api_redis_cmd(s, on_cancel_batch, req, get.argc, get.argv, get.argvlen) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}

/* ---- DELETE /batches/{id} ---- */

static void on_delete(redisAsyncContext *c, void *r, void *priv)
{
    (void)c;
    api_req *req = priv;
    redisReply *reply = r;
    if (reply == NULL) {
        api_reply_redis_down(req);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        api_reply_code(req, MD_EINTERNAL, "deleting the batch failed: %s",
                       reply->type == REDIS_REPLY_ERROR ? reply->str : "odd reply");
        return;
    }
    const char *word = reply->element[0]->str;
    long long n = reply->elements > 1 && reply->element[1]->type == REDIS_REPLY_INTEGER
                      ? reply->element[1]->integer
                      : 0;
    if (strcmp(word, "missing") == 0) {
        api_reply_code(req, MD_ENOENT, "no batch %s", req->id);
    } else if (strcmp(word, "running") == 0) {
        api_reply_code(req, MD_ECONFLICT,
                       "batch %s still has %lld running job(s); their cancel is requested and "
                       "the others are deleted: DELETE the batch again once they have stopped "
                       "(GET /batches/%s shows them)",
                       req->id, n, req->id);
    } else if (strcmp(word, "ok") == 0) {
        md_log(MD_LOG_INFO, "batch %s deleted with %lld job(s) (owner %s)", req->id, n, req->owner);
        api_req_reply(req, 204,
                      MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
    } else {
        api_reply_code(req, MD_EINTERNAL, "deleting the batch failed: reply '%s'", word);
    }
}

void api_batch_delete(api_req *req)
{
    api_server *s = req->srv;
    jr_cmd cmd;
    if (jr_cmd_batch_delete(&cmd, s->prefix, req->id, req->owner, jq_wall_now(), s->keys != NULL) !=
        0) {
        api_reply_code(req, MD_EINTERNAL, "the delete command did not fit");
        return;
    }
    if (api_redis_cmd(s, on_delete, req, cmd.argc, cmd.argv, cmd.argvlen) != 0) {
        api_reply_redis_down(req);
        return;
    }
    api_req_suspend(req);
}
