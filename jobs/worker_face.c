/*
 * worker_face.c — the worker's transform and average jobs (issue 12, items 4 and 5). Each runs
 * alone, after the batch's morph and render jobs: its stored canonical meshes are loaded (a
 * transform's base, from and to; an average's mesh_0 .. mesh_{n-1}), job_face_produce
 * (jobs/facespace.c, the code `morph transform|average` runs) stores the derived meshes and
 * their renders under the job's folder, then manifest.json and session.log are stored and the
 * job is finished in Redis with its artifacts, like a morph job's.
 *
 * Thread: the worker loop's; the sink's put also runs on engine threads (one storage key each).
 * A retry writes the same keys as the attempt before it, after sweeping that attempt's partial
 * writes; a drain that has begun hands the job back uncharged before it starts. A cancel is
 * seen before the job starts, not while it renders (it is one short engine batch).
 */
#define _GNU_SOURCE
#include "jobs/worker_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/facespace.h"

static int face_put(void *user, const char *name, const char *content_type, const void *bytes,
                    size_t len, md_error *err)
{
    (void)content_type;
    wk_job *j = user;
    char key[STG_KEY_MAX];
    if (jr_key_artifact(key, sizeof key, j->id, name) != 0)
        return md_fail(err, MD_EINVAL, "storage key for %s is too long", name);
    int rc = stg_put(j->w->store, key, bytes, len, err);
    size_t n = strlen(name);
    /* A render (not a texture) counts as the job's frame. */
    if (rc == 0 && n > 4 && strcmp(name + n - 4, ".png") == 0 && strstr(name, "_texture") == NULL) {
        atomic_fetch_add(&j->frames_done, 1);
        atomic_fetch_add(&j->w->frames, 1);
        wk_count_frame(j->w, j);
    }
    return rc;
}

static void face_log(void *user, md_log_level level, const char *msg)
{
    wk_job_log(user, level, "%s", msg);
}

/* The inputs (names for messages) as the api stored them; 0 or an error. */
static int load_face_inputs(wk *w, wk_job *j, mesh ***out, char (**names)[JR_INPUT_NAME_MAX],
                            uint32_t *count, md_error *err)
{
    jr_inputs in;
    int rc = jr_inputs_from_json(j->inputs_text, &in, err);
    if (rc != 0)
        return rc;
    int transform = j->spec.kind == JOB_KIND_TRANSFORM;
    uint32_t n = transform ? 3 : in.mesh_count;
    if (n < 2 || n > w->cfg->limits.max_average_meshes + 1)
        return md_fail(err, MD_EINVAL, "the job's inputs name %u mesh(es)", n);
    *out = md_calloc(n, sizeof **out);
    *names = md_calloc(n, sizeof **names);
    if (*out == NULL || *names == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory for %u meshes", n);
    *count = n;
    static const jr_input roles[3] = {JR_IN_BASE, JR_IN_FROM, JR_IN_TO};
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        char key[STG_KEY_MAX], what[48];
        if (transform) {
            rc = jr_key_input(key, sizeof key, j->id, roles[i]);
            snprintf(what, sizeof what, "input %s", jr_input_name(roles[i]));
            snprintf((*names)[i], sizeof(*names)[i], "%s", in.name[roles[i]]);
        } else {
            rc = jr_key_input_mesh(key, sizeof key, j->id, i);
            snprintf(what, sizeof what, "input mesh %u", i + 1);
            snprintf((*names)[i], sizeof(*names)[i], "mesh %u", i + 1);
        }
        if (rc != 0)
            return md_fail(err, MD_EINVAL, "the job id is too long for a storage key");
        rc = wk_load_mesh(w, key, what, &(*out)[i], err);
    }
    return rc;
}

void wk_face_run(wk *w, wk_job *j)
{
    if (wk_draining_s(w) >= 0) {
        wk_release(w, j);
        return;
    }
    wk_begin(w, &j, 1, 1);
    wk_fault_arm(w, &j, 1);
    md_error err;
    md_error_clear(&err);
    mesh **meshes = NULL;
    char(*names)[JR_INPUT_NAME_MAX] = NULL;
    uint32_t count = 0;
    json_t *manifest = json_object();
    json_t *artifacts = json_array();
    const char **name_ptrs = NULL;
    double t0 = md_now();
    if (!atomic_load(&j->cancel))
        wk_sweep_partial(w, j);
    if (atomic_load(&j->cancel)) {
        j->result = WK_CANCELED;
        wk_job_log(j, MD_LOG_INFO, "canceled before rendering");
    } else if (load_face_inputs(w, j, &meshes, &names, &count, &err) != 0) {
        wk_job_fail(j, "loading inputs: %s", err.msg);
    } else if ((name_ptrs = md_calloc(count, sizeof *name_ptrs)) == NULL) {
        wk_job_fail(j, "worker out of memory");
    } else {
        for (uint32_t i = 0; i < count; i++)
            name_ptrs[i] = names[i];
        wk_job_log(j, MD_LOG_INFO, "%s of %u meshes loaded in %.3f s", j->kind, count,
                   md_now() - t0);
        wk_set_stage(w, j, JR_STAGE_RENDERING);
        job_face_sink sink = {.put = face_put, .log = face_log, .user = j};
        if (job_face_produce(w->engine, &j->spec, &w->cfg->limits, (const mesh *const *)meshes,
                             name_ptrs, count, &sink, manifest, artifacts, &err) != 0)
            wk_job_fail(j, "%s", err.msg);
    }
    wk_fault_disarm(w);
    wk_set_stage(w, j, JR_STAGE_FINISHING);

    /* manifest.json: the job, its inputs and spec, what job_face_produce added. */
    jr_status status = j->result == WK_FAILED     ? JR_FAILED
                       : j->result == WK_CANCELED ? JR_CANCELED
                                                  : JR_SUCCEEDED;
    json_t *inputs = json_loads(j->inputs_text, 0, NULL);
    json_t *spec = job_spec_to_json(&j->spec);
    json_t *head =
        json_pack("{s:s,s:s,s:s,s:I,s:s,s:o,s:o}", "id", j->id, "kind", j->kind, "status",
                  jr_status_name(status), "attempt", (json_int_t)j->deliveries, "worker", w->name,
                  "inputs", inputs ? inputs : json_object(), "spec", spec ? spec : json_null());
    if (head != NULL && manifest != NULL) {
        if (j->result == WK_FAILED)
            json_object_set_new(head, "error", json_string(j->error));
        json_object_update(head, manifest);
        char *text = json_dumps(head, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        md_error_clear(&err);
        if (text == NULL ||
            face_put(j, "manifest.json", "application/json", text, strlen(text), &err) != 0)
            wk_job_fail(j, "storing manifest.json: %s", text ? err.msg : "out of memory");
        else
            json_array_append_new(artifacts, json_pack("{s:s,s:I,s:s}", "name", "manifest.json",
                                                       "bytes", (json_int_t)strlen(text),
                                                       "content_type", "application/json"));
        free(text);
    }
    json_decref(head);
    status = j->result == WK_FAILED     ? JR_FAILED
             : j->result == WK_CANCELED ? JR_CANCELED
                                        : JR_SUCCEEDED;
    wk_job_log(j, MD_LOG_INFO, "%s: %u render(s), %.3f s", jr_status_name(status),
               atomic_load(&j->frames_done), md_now() - j->start_mono);
    pthread_mutex_lock(&j->log_lock);
    char *log = j->log.data ? md_strndup(j->log.data, j->log.len) : md_strdup("");
    size_t log_len = j->log.data ? j->log.len : 0;
    pthread_mutex_unlock(&j->log_lock);
    md_error_clear(&err);
    if (log != NULL && face_put(j, "session.log", "text/plain", log, log_len, &err) == 0)
        json_array_append_new(artifacts, json_pack("{s:s,s:I,s:s}", "name", "session.log", "bytes",
                                                   (json_int_t)log_len, "content_type",
                                                   "text/plain; charset=utf-8"));
    md_free(log);
    char *arts = json_dumps(artifacts, JSON_COMPACT);
    wk_finish(w, j, status, j->result == WK_FAILED ? j->error : "", arts ? arts : "[]");
    free(arts);
    json_decref(artifacts);
    json_decref(manifest);
    for (uint32_t i = 0; meshes != NULL && i < count; i++)
        mesh_free(meshes[i]);
    md_free(meshes);
    md_free(names);
    md_free(name_ptrs);
}
