/*
 * record.c — the job record (record.h): field names, statuses, stages, the Lua scripts that
 * move a job from state to state, storage keys and the inputs field.
 *
 * Pure and thread-safe: commands are built into a caller's jr_cmd, nothing is sent. The scripts
 * run atomically on the Redis server; every one that ends a job ("retires" it) sets the record's
 * retention EXPIRE and schedules the janitor through {prefix}expiring in the same script, so a
 * record can never expire without its stored objects being found again.
 * The same scripts keep {prefix}active, the per-owner count of jobs queued or running that
 * submit checks against max_queued_per_owner: +1 in submit, -1 in whichever script ends the job
 * (UNCOUNT_LUA), in the same script as the status change.
 *
 * Crash accounting (docs/server.md, "Crashes"): `rendering` is set by the begin script when a
 * worker starts loading and rendering a job ("solo:<worker>" when the job has the engine to
 * itself, "batch:<worker>" otherwise) and cleared by every script that ends or hands back the
 * job. A worker that hits a fatal signal (SIGSEGV, SIGABRT, ...) sets `fault` on the jobs it is
 * rendering from its signal handler before it dies (the fault script). A start script that finds
 * `rendering` set knows the previous worker died while working on this job and charges it:
 * `batch_crashes` when others shared the batch (whatever the cause: the job then runs alone);
 * when it was alone, `crashes` if a fault was recorded (the job crashed the worker) or `lost`
 * if not (SIGKILL, out of memory, a lost node: nothing says the job did it). Dead-lettering
 * takes max_attempts crashes, or max_lost losses (a larger number): batch-mates of a job that
 * takes workers down, and jobs of workers killed from outside, are never dead-lettered for it.
 */
#define _GNU_SOURCE
#include "jobs/record.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Name tables ---- */

/* The index of name in names[0..count), or -1 (also for NULL). */
static int name_find(const char *const *names, int count, const char *name)
{
    for (int i = 0; name != NULL && i < count; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* names[i], or "" outside the table. */
static const char *name_of(const char *const *names, int count, int i)
{
    return i >= 0 && i < count ? names[i] : "";
}

/* ---- Fields ---- */

static const char *const field_names[JR_F_COUNT] = {
#define JR_FIELD_NAME(ident, name) name,
    JR_FIELDS_MAP(JR_FIELD_NAME)
#undef JR_FIELD_NAME
};

const char *jr_field_name(jr_field f)
{
    return name_of(field_names, JR_F_COUNT, (int)f);
}

int jr_field_find(const char *name)
{
    return name_find(field_names, JR_F_COUNT, name);
}

void jr_record_from_pairs(jr_record *rec, const char *const *fields, const char *const *values,
                          size_t n)
{
    memset(rec, 0, sizeof *rec);
    for (size_t i = 0; i < n; i++) {
        int f = jr_field_find(fields[i]);
        if (f >= 0)
            rec->v[f] = values[i];
    }
}

/* ---- Statuses, stages, kinds ---- */

static const char *const status_names[JR_STATUS_COUNT] = {"queued", "running", "succeeded",
                                                          "failed", "canceled"};

const char *jr_status_name(jr_status s)
{
    return name_of(status_names, JR_STATUS_COUNT, (int)s);
}

int jr_status_parse(const char *name)
{
    return name_find(status_names, JR_STATUS_COUNT, name);
}

int jr_status_terminal(jr_status s)
{
    return s == JR_SUCCEEDED || s == JR_FAILED || s == JR_CANCELED;
}

int jr_status_name_terminal(const char *name)
{
    int s = jr_status_parse(name);
    return s >= 0 && jr_status_terminal((jr_status)s);
}

int jr_transition_allowed(jr_status from, jr_status to)
{
    switch (from) {
    case JR_QUEUED:
        return to == JR_RUNNING || to == JR_CANCELED || to == JR_FAILED;
    case JR_RUNNING:
        return to == JR_QUEUED || to == JR_SUCCEEDED || to == JR_FAILED || to == JR_CANCELED;
    default:
        return 0;
    }
}

const char *jr_status_list(void)
{
    return "queued, running, succeeded, failed or canceled";
}

static const char *const stage_names[JR_STAGE_COUNT] = {"queued", "loading", "rendering",
                                                        "finishing", "done"};

const char *jr_stage_name(jr_stage s)
{
    return name_of(stage_names, JR_STAGE_COUNT, (int)s);
}

int jr_stage_parse(const char *name)
{
    return name_find(stage_names, JR_STAGE_COUNT, name);
}

static const char *const kind_names[] = {"morph", "render", "transform", "average"};

const char *jr_kind_name(jr_kind k)
{
    return (unsigned)k < 4 ? kind_names[k] : "morph";
}

jr_kind jr_kind_parse(const char *name)
{
    for (int i = 0; name != NULL && i < 4; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return (jr_kind)i;
    return JR_KIND_MORPH;
}

/* ---- Inputs ---- */

static const char *const input_names[JR_IN_COUNT] = {"source", "target", "mesh",
                                                     "base",   "from",   "to"};

const char *jr_input_name(jr_input in)
{
    return name_of(input_names, JR_IN_COUNT, (int)in);
}

void jr_name_sanitize(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && in[i] != '\0' && n + 1 < cap; i++) {
        char c = in[i];
        out[n++] = isalnum((unsigned char)c) || c == '.' || c == '_' ? c : '_';
    }
    out[n] = '\0';
}

char *jr_inputs_to_json(const jr_inputs *in)
{
    json_t *o = json_pack("{s:I,s:I,s:I}", "vertices", (json_int_t)in->vertices, "faces",
                          (json_int_t)in->faces, "textures", (json_int_t)in->textures);
    if (o == NULL)
        return NULL;
    if (in->mesh_count > 0)
        json_object_set_new(o, "mesh_count", json_integer(in->mesh_count));
    for (int i = 0; i < JR_IN_COUNT; i++) {
        if (!in->present[i])
            continue;
        json_t *side = json_pack("{s:s,s:s}", "name", in->name[i], "format", in->format[i]);
        if (side != NULL && in->face[i][0])
            json_object_set_new(side, "face", json_string(in->face[i]));
        if (side != NULL && in->morph_target[i][0])
            json_object_set_new(side, "morph_target", json_string(in->morph_target[i]));
        if (side != NULL && in->note[i][0])
            json_object_set_new(side, "note", json_string(in->note[i]));
        json_object_set_new(o, input_names[i], side);
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *out = text ? md_strdup(text) : NULL;
    free(text);
    return out;
}

static uint32_t count_of(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v < 0 || v > UINT32_MAX ? 0 : (uint32_t)v;
}

int jr_inputs_from_json(const char *text, jr_inputs *out, md_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        return md_fail(err, MD_EPARSE, "the job's inputs field is not a JSON object");
    }
    out->vertices = count_of(o, "vertices");
    out->faces = count_of(o, "faces");
    out->textures = count_of(o, "textures");
    out->mesh_count = count_of(o, "mesh_count");
    for (int i = 0; i < JR_IN_COUNT; i++) {
        const json_t *side = json_object_get(o, input_names[i]);
        const char *name = json_string_value(json_object_get(side, "name"));
        const char *format = json_string_value(json_object_get(side, "format"));
        out->present[i] = json_is_object(side);
        const char *given = name != NULL && name[0] ? name : input_names[i];
        jr_name_sanitize(given, strlen(given), out->name[i], sizeof out->name[i]);
        if (out->name[i][0] == '\0')
            snprintf(out->name[i], sizeof out->name[i], "%s", input_names[i]);
        snprintf(out->format[i], sizeof out->format[i], "%s", format ? format : "");
        const char *face = json_string_value(json_object_get(side, "face"));
        if (jr_face_id_valid(face))
            snprintf(out->face[i], sizeof out->face[i], "%s", face);
        const char *target = json_string_value(json_object_get(side, "morph_target"));
        snprintf(out->morph_target[i], sizeof out->morph_target[i], "%s", target ? target : "");
        const char *note = json_string_value(json_object_get(side, "note"));
        snprintf(out->note[i], sizeof out->note[i], "%s", note ? note : "");
    }
    json_decref(o);
    return 0;
}

/* ---- Storage keys ---- */

static int key_fmt(char *out, size_t cap, const char *fmt, const char *a, const char *b)
{
    int n = snprintf(out, cap, fmt, a, b);
    return n < 0 || (size_t)n >= cap ? MD_EINVAL : 0;
}

int jr_key_job_prefix(char *out, size_t cap, const char *id)
{
    return key_fmt(out, cap, "jobs/%s/%s", id, "");
}

int jr_key_frames_prefix(char *out, size_t cap, const char *id)
{
    return key_fmt(out, cap, "jobs/%s/frames/%s", id, "");
}

int jr_key_input(char *out, size_t cap, const char *id, jr_input in)
{
    return key_fmt(out, cap, "jobs/%s/inputs/%s.mdm", id, jr_input_name(in));
}

int jr_key_input_mesh(char *out, size_t cap, const char *id, uint32_t index)
{
    char name[24];
    snprintf(name, sizeof name, "mesh_%u", index);
    return key_fmt(out, cap, "jobs/%s/inputs/%s.mdm", id, name);
}

int jr_key_artifact(char *out, size_t cap, const char *id, const char *name)
{
    return key_fmt(out, cap, "jobs/%s/%s", id, name);
}

int jr_frame_artifact_name(char *out, size_t cap, const char *frame_name)
{
    return key_fmt(out, cap, "frames/%s%s", frame_name, "");
}

/* ---- Building commands ---- */

static void cmd_init(jr_cmd *c)
{
    c->argc = 0;
    c->used = 0;
}

/* Appends a borrowed argument. */
static int arg(jr_cmd *c, const char *s)
{
    if (c->argc >= JR_ARGV_MAX)
        return MD_ELIMIT;
    c->argv[c->argc] = s;
    c->argvlen[c->argc] = strlen(s);
    c->argc++;
    return 0;
}

/* Appends a formatted argument kept in the command's scratch. */
static int argf(jr_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int argf(jr_cmd *c, const char *fmt, ...)
{
    if (c->argc >= JR_ARGV_MAX || c->used >= JR_SCRATCH)
        return MD_ELIMIT;
    va_list ap;
    va_start(ap, fmt);
    char *at = c->scratch + c->used;
    int n = vsnprintf(at, JR_SCRATCH - c->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= JR_SCRATCH - c->used)
        return MD_ELIMIT;
    c->used += (size_t)n + 1;
    c->argv[c->argc] = at;
    c->argvlen[c->argc] = (size_t)n;
    c->argc++;
    return 0;
}

/* Keys and names a script needs besides the job hash. */
static int arg_key(jr_cmd *c, const char *prefix, const char *name)
{
    return argf(c, "%s%s", prefix, name);
}

static int arg_job_key(jr_cmd *c, const char *prefix, const char *id)
{
    return argf(c, "%sjob:%s", prefix, id);
}

/* Appends a key built by a jr_*_key function (rc its result) into the command's scratch. */
static int arg_built(jr_cmd *c, int rc, const char *key)
{
    return rc != 0 ? rc : argf(c, "%s", key);
}

int jr_job_key(char *out, size_t cap, const char *prefix, const char *id)
{
    return key_fmt(out, cap, "%sjob:%s", prefix, id);
}

/* "EVAL script nkeys". */
static int eval_head(jr_cmd *c, const char *script, int nkeys)
{
    cmd_init(c);
    int rc = arg(c, "EVAL");
    if (rc == 0)
        rc = arg(c, script);
    if (rc == 0)
        rc = argf(c, "%d", nkeys);
    return rc;
}

static int arg_time(jr_cmd *c, double t)
{
    return argf(c, "%.3f", t);
}

int jr_finished_counter_field(char *out, size_t cap, jr_kind kind, jr_status status)
{
    char labels[96];
    snprintf(labels, sizeof labels, "kind=\"%s\",status=\"%s\"", jr_kind_name(kind),
             jr_status_name(status));
    return jq_metric_counter_field(out, cap, JQ_M_JOBS_FINISHED, labels);
}

/* ---- The scripts ---- */

/* Every terminal transition ends with retire(): the record's retention EXPIRE, and its id in
 * {p}expiring at the time it expires, where the janitor finds it to delete the objects. */
#define RETIRE_LUA                                                                                 \
    "local function retire(job, expiring, id, now, ttl)\n"                                         \
    "  redis.call('EXPIRE', job, ttl)\n"                                                           \
    "  redis.call('ZADD', expiring, tonumber(now) + tonumber(ttl), id)\n"                          \
    "end\n"

/* {p}active holds, per owner, how many of its jobs are queued or running: the count
 * max_queued_per_owner is checked against. submit adds 1; every script that moves a job from
 * queued/running to an end (or deletes a queued one) calls uncount() in the same script, once,
 * since each first checks the status it changes. A field at 0 is removed, and the count never
 * goes below 0 (jobs queued before the hash existed end without having been counted). */
#define UNCOUNT_LUA                                                                                \
    "local function uncount(owner, active)\n"                                                      \
    "  if owner and redis.call('HINCRBY', active, owner, -1) <= 0 then\n"                          \
    "    redis.call('HDEL', active, owner)\n"                                                      \
    "  end\n"                                                                                      \
    "end\n"

/* enqueue() writes a new job that every check passed: its hash (the field/value pairs), a stream
 * entry, the owner index, the submitted counter, the owner's active count and the job's id in
 * the face_jobs set of each face it names (fj1, fj2: '' for a file part). Shared by submit and
 * batch_submit, so a job of a batch is recorded exactly as POST /jobs records one. */
#define ENQUEUE_LUA                                                                                \
    "local function enqueue(job, stream, index, metrics, active, counter, owner, id, score,\n"     \
    "                       fj1, fj2, pairs)\n"                                                    \
    "  redis.call('HSET', job, unpack(pairs))\n"                                                   \
    "  local entry = redis.call('XADD', stream, '*', 'id', id)\n"                                  \
    "  redis.call('HSET', job, 'entry', entry)\n"                                                  \
    "  redis.call('ZADD', index, score, id)\n"                                                     \
    "  redis.call('HINCRBY', metrics, counter, 1)\n"                                               \
    "  redis.call('HINCRBY', active, owner, 1)\n"                                                  \
    "  if fj1 ~= '' then redis.call('SADD', fj1, id) end\n"                                        \
    "  if fj2 ~= '' then redis.call('SADD', fj2, id) end\n"                                        \
    "  return entry\n"                                                                             \
    "end\n"

/* KEYS: job, stream, owner index, metrics, idempotency key ('' for none), active counts, then
 *       the source face's hash and face_jobs set, the target's ('' for a file part).
 * ARGV: id, max_queued, score, submitted counter field, job key prefix, request hash,
 *       idempotency TTL, owner, max_queued_per_owner (0: none), field/value pairs...
 * Reply: {'ok', entry}, {'full', ''}, {'owner_full', the owner's count}, {'exists', id},
 * {'mismatch', id} or {'no_face', the face hash's key}. */
static const char submit_lua[] = ENQUEUE_LUA
    "if KEYS[5] ~= '' then\n"
    "  local old = redis.call('GET', KEYS[5])\n"
    "  if old and redis.call('EXISTS', ARGV[5] .. old) == 1 then\n"
    "    local h = redis.call('HGET', ARGV[5] .. old, 'request_hash')\n"
    "    if h and h ~= '' and h ~= ARGV[6] then return {'mismatch', old} end\n"
    "    return {'exists', old}\n"
    "  end\n"
    "end\n"
    "if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[2]) then return {'full', ''} end\n"
    "local mine = tonumber(redis.call('HGET', KEYS[6], ARGV[8]) or '0') or 0\n"
    "if tonumber(ARGV[9]) > 0 and mine >= tonumber(ARGV[9]) then\n"
    "  return {'owner_full', tostring(mine)}\n"
    "end\n"
    "for i = 7, 9, 2 do\n"
    "  if KEYS[i] ~= '' and redis.call('EXISTS', KEYS[i]) == 0 then return {'no_face', KEYS[i]} "
    "end\n"
    "end\n"
    "local entry = enqueue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6], ARGV[4], ARGV[8], "
    "ARGV[1],\n"
    "                      ARGV[3], KEYS[8], KEYS[10], {unpack(ARGV, 10)})\n"
    "if KEYS[5] ~= '' then redis.call('SET', KEYS[5], ARGV[1], 'EX', ARGV[7]) end\n"
    "return {'ok', entry}\n";

/* cancel_one(job, metrics, active, a) cancels one job of owner a[1] at time a[2]; a holds the
 * cancel script's ARGV: owner, now, finished counter (morph), finished counter (render), error
 * when queued, note when running, canceled_by, finished counters (transform, average).
 * Returns 'canceled' (was queued), 'running' (cancel_requested set), 'missing' or the terminal
 * status. Shared by cancel, batch_cancel and batch_delete. */
#define CANCEL_LUA                                                                                 \
    "local function cancel_one(job, metrics, active, a)\n"                                         \
    "  local st = redis.call('HMGET', job, 'status', 'owner', 'kind')\n"                           \
    "  if not st[1] or st[2] ~= a[1] then return 'missing' end\n"                                  \
    "  if st[1] == 'queued' then\n"                                                                \
    "    redis.call('HSET', job, 'status', 'canceled', 'finished_at', a[2], 'stage', 'done',\n"    \
    "               'error', a[5], 'canceled_by', a[7])\n"                                         \
    "    local counters = {render = a[4], transform = a[8], average = a[9]}\n"                     \
    "    redis.call('HINCRBY', metrics, counters[st[3] or ''] or a[3], 1)\n"                       \
    "    uncount(st[2], active)\n"                                                                 \
    "    return 'canceled'\n"                                                                      \
    "  end\n"                                                                                      \
    "  if st[1] == 'running' then\n"                                                               \
    "    if redis.call('HGET', job, 'cancel_requested') ~= '1' then\n"                             \
    "      redis.call('HSET', job, 'cancel_requested', '1', 'cancel_note', a[6],\n"                \
    "                 'canceled_by', a[7])\n"                                                      \
    "    end\n"                                                                                    \
    "    return 'running'\n"                                                                       \
    "  end\n"                                                                                      \
    "  return st[1]\n"                                                                             \
    "end\n"

/* delete_one(job, index, active, owner, id): 'ok', 'running' (refused) or 'missing'. Shared by
 * delete and batch_delete. */
#define DELETE_LUA                                                                                 \
    "local function delete_one(job, index, active, owner, id)\n"                                   \
    "  local st = redis.call('HMGET', job, 'status', 'owner')\n"                                   \
    "  if not st[1] or st[2] ~= owner then return 'missing' end\n"                                 \
    "  if st[1] == 'running' then return 'running' end\n"                                          \
    "  if st[1] == 'queued' then uncount(st[2], active) end\n"                                     \
    "  redis.call('DEL', job)\n"                                                                   \
    "  redis.call('ZREM', index, id)\n"                                                            \
    "  return 'ok'\n"                                                                              \
    "end\n"

/* KEYS: job, metrics, active counts. ARGV: as cancel_one's a. */
static const char cancel_lua[] =
    UNCOUNT_LUA CANCEL_LUA "return cancel_one(KEYS[1], KEYS[2], KEYS[3], ARGV)\n";

/* KEYS: job, owner index, active counts. ARGV: owner, id. */
static const char delete_lua[] =
    UNCOUNT_LUA DELETE_LUA "return delete_one(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])\n";

/* KEYS: job, stream, dead stream, expiring, active counts. ARGV: group, entry, now, deliveries,
 * retention_s, max_attempts, id, max_lost. */
static const char start_lua[] = RETIRE_LUA UNCOUNT_LUA
    "local function done()\n"
    "  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2]); redis.call('XDEL', KEYS[2], ARGV[2])\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then done(); return {'gone', ''} end\n"
    "local h = redis.call('HMGET', KEYS[1], 'status', 'kind', 'cancel_requested', 'rendering',\n"
    "                     'crashes', 'batch_crashes', 'cancel_note', 'lost', 'fault')\n"
    "local st, kind = h[1], h[2] or 'morph'\n"
    "if st ~= 'queued' and st ~= 'running' then\n"
    "  done()\n"
    "  if redis.call('TTL', KEYS[1]) == -1 then retire(KEYS[1], KEYS[4], ARGV[7], ARGV[3], "
    "ARGV[5]) end\n"
    "  return {'skip', kind}\n"
    "end\n"
    "if h[3] == '1' then\n"
    "  redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', ARGV[3], 'stage', 'done',\n"
    "             'rendering', '', 'error', h[7] or 'canceled before a worker started it')\n"
    "  uncount(redis.call('HGET', KEYS[1], 'owner'), KEYS[5])\n"
    "  retire(KEYS[1], KEYS[4], ARGV[7], ARGV[3], ARGV[5]); done()\n"
    "  return {'canceled', kind}\n"
    "end\n"
    "local crashes = tonumber(h[5] or '0') or 0\n"
    "local batch_crashes = tonumber(h[6] or '0') or 0\n"
    "local lost = tonumber(h[8] or '0') or 0\n"
    "if h[4] and h[4] ~= '' then\n"
    "  if string.sub(h[4], 1, 5) ~= 'solo:' then batch_crashes = batch_crashes + 1\n"
    "  elseif h[9] and h[9] ~= '' then crashes = crashes + 1\n"
    "  else lost = lost + 1 end\n"
    "  redis.call('HSET', KEYS[1], 'crashes', crashes, 'batch_crashes', batch_crashes, 'lost',\n"
    "             lost, 'rendering', '', 'fault', '')\n"
    "end\n"
    "local err = nil\n"
    "if crashes >= tonumber(ARGV[6]) then\n"
    "  err = 'dead-lettered: the worker crashed ' .. crashes .. ' time(s) (' .. (h[9] or 'fault')\n"
    "    .. ') while rendering this job on its own (max_attempts=' .. ARGV[6] .. '); the job '\n"
    "    .. 'crashes the worker: check its inputs and spec'\n"
    "elseif lost >= tonumber(ARGV[8]) then\n"
    "  err = 'dead-lettered: the worker was killed ' .. lost .. ' time(s) while rendering this '\n"
    "    .. 'job on its own, with no fault recorded (out of memory? killed from outside?); '\n"
    "    .. 'limit ' .. ARGV[8]\n"
    "end\n"
    "if err then\n"
    "  redis.call('XADD', KEYS[3], '*', 'id', ARGV[7], 'entry', ARGV[2], 'deliveries', ARGV[4],\n"
    "             'reason', err)\n"
    "  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', err, 'finished_at', ARGV[3],\n"
    "             'stage', 'done')\n"
    "  uncount(redis.call('HGET', KEYS[1], 'owner'), KEYS[5])\n"
    "  retire(KEYS[1], KEYS[4], ARGV[7], ARGV[3], ARGV[5]); done()\n"
    "  return {'dead', kind, err}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[3], 'attempts',\n"
    "           ARGV[4], 'stage', 'loading', 'frames_done', '0', 'entry', ARGV[2])\n"
    "return {'ok', kind, redis.call('HGET', KEYS[1], 'spec') or '',\n"
    "        redis.call('HGET', KEYS[1], 'created_at') or '',\n"
    "        redis.call('HGET', KEYS[1], 'inputs') or '', tostring(crashes),\n"
    "        tostring(batch_crashes), tostring(lost),\n"
    "        redis.call('HGET', KEYS[1], 'owner') or ''}\n";

/* KEYS: the job hashes of a group whose worker hit a fatal signal. ARGV: the signal's name.
 * Sent from the worker's fault handler (worker_fault.c), pre-formatted. */
static const char fault_lua[] =
    "for _, k in ipairs(KEYS) do\n"
    "  local r = redis.call('HGET', k, 'rendering')\n"
    "  if r and r ~= '' then redis.call('HSET', k, 'fault', ARGV[1]) end\n"
    "end\n"
    "return #KEYS\n";

/* KEYS: job. ARGV: field, value: sets it while the job runs. */
static const char set_running_lua[] = "if redis.call('HGET', KEYS[1], 'status') == 'running' then\n"
                                      "  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1\n"
                                      "end\n"
                                      "return 0\n";

/* KEYS: job. ARGV: rendering value. */
static const char begin_lua[] = "if redis.call('HGET', KEYS[1], 'status') == 'running' then\n"
                                "  redis.call('HSET', KEYS[1], 'rendering', ARGV[1]) return 1\n"
                                "end\n"
                                "return 0\n";

/* KEYS: job, metrics. ARGV: frames counter field. A deleted job's hash is not recreated. */
static const char frame_lua[] = "local n = tonumber(ARGV[2])\n"
                                "if redis.call('HGET', KEYS[1], 'status') == 'running' then\n"
                                "  redis.call('HINCRBY', KEYS[1], 'frames_done', n)\n"
                                "end\n"
                                "redis.call('HINCRBY', KEYS[2], ARGV[1], n)\n"
                                "return 1\n";

/* KEYS: job, stream, expiring, active counts. ARGV: group, entry, status, now, error, artifacts,
 * retention_s, frames_done, id. A job whose cancel was requested ends canceled even if every
 * frame made it, with the note the cancel left as its error. */
static const char finish_lua[] = RETIRE_LUA UNCOUNT_LUA
    "local st = ARGV[3]\n"
    "local h = redis.call('HMGET', KEYS[1], 'status', 'cancel_requested', 'cancel_note')\n"
    "if h[1] == 'running' or h[1] == 'queued' then\n"
    "  local err = ARGV[5]\n"
    "  if st == 'succeeded' and h[2] == '1' then st = 'canceled' end\n"
    "  if st == 'canceled' and err == '' then err = h[3] or 'canceled while running' end\n"
    "  redis.call('HSET', KEYS[1], 'status', st, 'finished_at', ARGV[4], 'stage', 'done',\n"
    "             'artifacts', ARGV[6], 'frames_done', ARGV[8], 'rendering', '')\n"
    "  if err ~= '' then redis.call('HSET', KEYS[1], 'error', err)\n"
    "  else redis.call('HDEL', KEYS[1], 'error') end\n"
    "  uncount(redis.call('HGET', KEYS[1], 'owner'), KEYS[4])\n"
    "  retire(KEYS[1], KEYS[3], ARGV[9], ARGV[4], ARGV[7])\n"
    "else\n"
    "  st = 'skip'\n"
    "end\n"
    "redis.call('XACK', KEYS[2], ARGV[1], ARGV[2]); redis.call('XDEL', KEYS[2], ARGV[2])\n"
    "return st\n";

/* KEYS: job, stream, dead stream, expiring, active counts. ARGV: group, entry, id, deliveries,
 * reason, now, retention_s, error. */
static const char dead_lua[] = RETIRE_LUA UNCOUNT_LUA
    "redis.call('XADD', KEYS[3], '*', 'id', ARGV[3], 'entry', ARGV[2], 'deliveries', ARGV[4],\n"
    "           'reason', ARGV[5])\n"
    "redis.call('XACK', KEYS[2], ARGV[1], ARGV[2]); redis.call('XDEL', KEYS[2], ARGV[2])\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'gone', ''} end\n"
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "local kind = redis.call('HGET', KEYS[1], 'kind') or 'morph'\n"
    "if st ~= 'queued' and st ~= 'running' then return {'skip', kind} end\n"
    "redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[8], 'finished_at', ARGV[6],\n"
    "           'stage', 'done', 'rendering', '')\n"
    "uncount(redis.call('HGET', KEYS[1], 'owner'), KEYS[5])\n"
    "retire(KEYS[1], KEYS[4], ARGV[3], ARGV[6], ARGV[7])\n"
    "return {'failed', kind}\n";

/* KEYS: job, stream, expiring, active counts. ARGV: group, entry, now, retention_s, id. */
static const char release_lua[] = RETIRE_LUA UNCOUNT_LUA
    "local function done()\n"
    "  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2]); redis.call('XDEL', KEYS[2], ARGV[2])\n"
    "end\n"
    "local h = redis.call('HMGET', KEYS[1], 'status', 'cancel_requested', 'cancel_note')\n"
    "if h[1] ~= 'running' then done(); return 'skip' end\n"
    "if h[2] == '1' then\n"
    "  redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', ARGV[3], 'stage', 'done',\n"
    "             'rendering', '', 'error', h[3] or 'canceled while running')\n"
    "  uncount(redis.call('HGET', KEYS[1], 'owner'), KEYS[4])\n"
    "  retire(KEYS[1], KEYS[3], ARGV[5], ARGV[3], ARGV[4]); done()\n"
    "  return 'canceled'\n"
    "end\n"
    "local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[5])\n"
    "redis.call('HSET', KEYS[1], 'status', 'queued', 'stage', 'queued', 'frames_done', '0',\n"
    "           'rendering', '', 'entry', e)\n"
    "done()\n"
    "return 'queued'\n";

/* ---- Face scripts ---- */

/* KEYS: face hash, the owner's faces index. ARGV: id, max_faces (0: none), score,
 * field/value pairs... */
static const char face_put_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists', ''} end\n"
    "local n = redis.call('ZCARD', KEYS[2])\n"
    "if tonumber(ARGV[2]) > 0 and n >= tonumber(ARGV[2]) then return {'full', tostring(n)} end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 4))\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])\n"
    "return {'created', ''}\n";

/* KEYS: face hash, the owner's faces index, the face's job set. ARGV: id, job key prefix. */
static const char face_delete_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', ''} end\n"
    "for _, j in ipairs(redis.call('SMEMBERS', KEYS[3])) do\n"
    "  local st = redis.call('HGET', ARGV[2] .. j, 'status')\n"
    "  if st == 'queued' or st == 'running' then return {'busy', j} end\n"
    "  redis.call('SREM', KEYS[3], j)\n"
    "end\n"
    "redis.call('DEL', KEYS[1], KEYS[3])\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "return {'ok', ''}\n";

/* KEYS: face hashes. */
static const char face_names_lua[] =
    "local out = {}\n"
    "for i, k in ipairs(KEYS) do out[i] = redis.call('HGET', k, 'name') or '' end\n"
    "return out\n";

/* KEYS: the owner's faces index. ARGV: max score, count, face hash key prefix. */
static const char face_list_lua[] =
    "local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES',\n"
    "                       'LIMIT', 0, tonumber(ARGV[2]))\n"
    "local out = {}\n"
    "for i = 1, #ids, 2 do\n"
    "  local h = redis.call('HGETALL', ARGV[3] .. ids[i])\n"
    "  if #h == 0 then redis.call('ZREM', KEYS[1], ids[i])\n"
    "  else table.insert(out, ids[i + 1]); table.insert(out, h) end\n"
    "end\n"
    "return out\n";

/* ---- Batch scripts ---- */

/* KEYS: batch, stream, owner index, metrics, active counts.
 * ARGV: owner, max_queued, max_queued_per_owner (0: none), score, submitted counter field, the
 *       jobs as JSON ([{key, id, faces: [hash, face_jobs, hash, face_jobs], pairs}]), then the
 *       batch's field/value pairs. Every check comes before the first write: all or nothing. */
static const char batch_submit_lua[] = ENQUEUE_LUA
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists', ''} end\n"
    "local jobs = cjson.decode(ARGV[6])\n"
    "local n = #jobs\n"
    "if redis.call('XLEN', KEYS[2]) + n > tonumber(ARGV[2]) then return {'full', ''} end\n"
    "local mine = tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '0') or 0\n"
    "if tonumber(ARGV[3]) > 0 and mine + n > tonumber(ARGV[3]) then\n"
    "  return {'owner_full', tostring(mine)}\n"
    "end\n"
    "local seen = {}\n"
    "for _, j in ipairs(jobs) do\n"
    "  for i = 1, 3, 2 do\n"
    "    local f = j.faces[i]\n"
    "    if not seen[f] then\n"
    "      if redis.call('EXISTS', f) == 0 then return {'no_face', f} end\n"
    "      seen[f] = true\n"
    "    end\n"
    "  end\n"
    "end\n"
    "for _, j in ipairs(jobs) do\n"
    "  enqueue(j.key, KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[5], ARGV[1], j.id, ARGV[4],\n"
    "          j.faces[2], j.faces[4], j.pairs)\n"
    "end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 7))\n"
    "return {'ok', ''}\n";

/* KEYS: batch. ARGV: owner, job key prefix, the job fields to read (jr_batch_job_field). */
static const char batch_get_lua[] =
    "if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {'missing'} end\n"
    "local out = {'ok', redis.call('HGETALL', KEYS[1])}\n"
    "for _, j in ipairs(cjson.decode(redis.call('HGET', KEYS[1], 'jobs'))) do\n"
    "  table.insert(out, redis.call('HMGET', ARGV[2] .. j.id, unpack(ARGV, 3)))\n"
    "end\n"
    "return out\n";

/* KEYS: batch, metrics, active counts. ARGV: cancel_one's a (9 values), job key prefix. */
static const char batch_cancel_lua[] = UNCOUNT_LUA CANCEL_LUA
    "if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {'missing'} end\n"
    "local q, r = 0, 0\n"
    "for _, j in ipairs(cjson.decode(redis.call('HGET', KEYS[1], 'jobs'))) do\n"
    "  local w = cancel_one(ARGV[10] .. j.id, KEYS[2], KEYS[3], ARGV)\n"
    "  if w == 'canceled' then q = q + 1 elseif w == 'running' then r = r + 1 end\n"
    "end\n"
    "return {'ok', q, r}\n";

/* KEYS: batch, metrics, active counts, owner index, expiring. ARGV: cancel_one's a (9 values),
 * job key prefix. */
static const char batch_delete_lua[] = UNCOUNT_LUA CANCEL_LUA DELETE_LUA
    "if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {'missing'} end\n"
    "local deleted, running = 0, 0\n"
    "for _, j in ipairs(cjson.decode(redis.call('HGET', KEYS[1], 'jobs'))) do\n"
    "  local key = ARGV[10] .. j.id\n"
    "  cancel_one(key, KEYS[2], KEYS[3], ARGV)\n"
    "  local w = delete_one(key, KEYS[4], KEYS[3], ARGV[1], j.id)\n"
    "  if w == 'ok' then\n"
    "    deleted = deleted + 1\n"
    "    redis.call('ZADD', KEYS[5], ARGV[2], j.id)\n"
    "  elseif w == 'running' then\n"
    "    running = running + 1\n"
    "  end\n"
    "end\n"
    "if running > 0 then return {'running', running} end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return {'ok', deleted}\n";

/* ARGV: the owner's face key prefix, the ids as JSON. */
static const char batch_face_names_lua[] =
    "local out = {}\n"
    "for i, id in ipairs(cjson.decode(ARGV[2])) do\n"
    "  out[i] = redis.call('HGET', ARGV[1] .. id, 'name') or ''\n"
    "end\n"
    "return out\n";

const char *const *jr_scripts(void)
{
    static const char *const all[] = {submit_lua,
                                      cancel_lua,
                                      delete_lua,
                                      start_lua,
                                      set_running_lua,
                                      begin_lua,
                                      frame_lua,
                                      finish_lua,
                                      dead_lua,
                                      release_lua,
                                      fault_lua,
                                      face_put_lua,
                                      face_delete_lua,
                                      face_list_lua,
                                      face_names_lua,
                                      batch_submit_lua,
                                      batch_get_lua,
                                      batch_cancel_lua,
                                      batch_delete_lua,
                                      batch_face_names_lua,
                                      NULL};
    return all;
}

/* ---- Commands ---- */

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int try_rc_ = (x);                                                                         \
        if (try_rc_ != 0)                                                                          \
            return try_rc_;                                                                        \
    } while (0)

size_t jr_new_job_pairs(const jr_new_job *job, const char *entry, char frames_total[16],
                        char created_at[32], const char **fields, const char **values)
{
    snprintf(frames_total, 16, "%u", job->frames_total);
    snprintf(created_at, 32, "%.3f", job->created_at);
    const struct {
        jr_field f;
        const char *v;
    } pairs[] = {
        {JR_F_ID, job->id},
        {JR_F_KIND, jr_kind_name(job->kind)},
        {JR_F_OWNER, job->owner},
        {JR_F_STATUS, jr_status_name(JR_QUEUED)},
        {JR_F_SPEC, job->spec_json},
        {JR_F_INPUTS, job->inputs_json},
        {JR_F_CREATED_AT, created_at},
        {JR_F_FRAMES_DONE, "0"},
        {JR_F_FRAMES_TOTAL, frames_total},
        {JR_F_STAGE, jr_stage_name(JR_STAGE_QUEUED)},
        {JR_F_ERROR, ""},
        {JR_F_ARTIFACTS, "[]"},
        {JR_F_CANCEL_REQUESTED, "0"},
        {JR_F_ATTEMPTS, "0"},
        {JR_F_REQUEST_HASH, job->request_hash ? job->request_hash : ""},
        {JR_F_ENTRY, entry},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        if (pairs[i].f == JR_F_ENTRY && entry == NULL)
            continue;
        fields[n] = jr_field_name(pairs[i].f);
        values[n] = pairs[i].v;
        n++;
    }
    return n;
}

int jr_cmd_submit(jr_cmd *c, const char *prefix, const jr_new_job *job, uint64_t max_queued,
                  uint64_t max_per_owner, const char *idem_key)
{
    char counter[192], label[48];
    snprintf(label, sizeof label, "kind=\"%s\"", jr_kind_name(job->kind));
    TRY(jq_metric_counter_field(counter, sizeof counter, JQ_M_JOBS_SUBMITTED, label));
    TRY(eval_head(c, submit_lua, 10));
    TRY(arg_job_key(c, prefix, job->id));
    TRY(arg_key(c, prefix, "jobs"));
    TRY(argf(c, "%sowner:%s", prefix, job->owner));
    TRY(arg_key(c, prefix, "metrics"));
    if (idem_key != NULL && idem_key[0])
        TRY(argf(c, "%sidem:%s:%s", prefix, job->owner, idem_key));
    else
        TRY(arg(c, ""));
    TRY(arg_key(c, prefix, JQ_ACTIVE));
    for (int side = 0; side < 2; side++) {
        char key[JQ_KEY_MAX];
        if (job->faces[side] == NULL) {
            TRY(arg(c, ""));
            TRY(arg(c, ""));
            continue;
        }
        TRY(arg_built(c, jr_face_key(key, sizeof key, prefix, job->owner, job->faces[side]), key));
        TRY(arg_built(c, jr_face_jobs_key(key, sizeof key, prefix, job->owner, job->faces[side]),
                      key));
    }
    TRY(arg(c, job->id));
    TRY(argf(c, "%llu", (unsigned long long)max_queued));
    TRY(argf(c, "%.0f", job->created_at * 1000.0));
    TRY(argf(c, "%s", counter));
    TRY(argf(c, "%sjob:", prefix));
    TRY(arg(c, job->request_hash ? job->request_hash : ""));
    TRY(argf(c, "%d", JQ_IDEMPOTENCY_TTL_S));
    TRY(arg(c, job->owner));
    TRY(argf(c, "%llu", (unsigned long long)max_per_owner));
    /* The pairs' number buffers live in scratch too. */
    if (c->used + 48 > JR_SCRATCH)
        return MD_ELIMIT;
    char *frames_total = c->scratch + c->used;
    char *created_at = frames_total + 16;
    c->used += 48;
    const char *f[JR_F_COUNT], *v[JR_F_COUNT];
    size_t n = jr_new_job_pairs(job, NULL, frames_total, created_at, f, v);
    for (size_t i = 0; i < n; i++) {
        TRY(arg(c, f[i]));
        TRY(arg(c, v[i]));
    }
    return 0;
}

jr_submit_result jr_submit_reply(const char *word)
{
    if (word == NULL)
        return JR_SUBMIT_ODD;
    if (strcmp(word, "ok") == 0)
        return JR_SUBMIT_OK;
    if (strcmp(word, "full") == 0)
        return JR_SUBMIT_FULL;
    if (strcmp(word, "owner_full") == 0)
        return JR_SUBMIT_OWNER_FULL;
    if (strcmp(word, "exists") == 0)
        return JR_SUBMIT_EXISTS;
    if (strcmp(word, "mismatch") == 0)
        return JR_SUBMIT_MISMATCH;
    if (strcmp(word, "no_face") == 0)
        return JR_SUBMIT_NO_FACE;
    return JR_SUBMIT_ODD;
}

int jr_cmd_cancel(jr_cmd *c, const char *prefix, const char *id, const char *owner, double now,
                  int auth_on)
{
    char when[32], m[192], r[192], t[192], a[192];
    jq_time_format(now, when);
    TRY(jr_finished_counter_field(m, sizeof m, JR_KIND_MORPH, JR_CANCELED));
    TRY(jr_finished_counter_field(r, sizeof r, JR_KIND_RENDER, JR_CANCELED));
    TRY(jr_finished_counter_field(t, sizeof t, JR_KIND_TRANSFORM, JR_CANCELED));
    TRY(jr_finished_counter_field(a, sizeof a, JR_KIND_AVERAGE, JR_CANCELED));
    TRY(eval_head(c, cancel_lua, 3));
    TRY(arg_job_key(c, prefix, id));
    TRY(arg_key(c, prefix, "metrics"));
    TRY(arg_key(c, prefix, JQ_ACTIVE));
    TRY(arg(c, owner));
    TRY(arg_time(c, now));
    TRY(argf(c, "%s", m));
    TRY(argf(c, "%s", r));
    TRY(argf(c, "canceled before a worker started it, at %s%s%s", when, auth_on ? " by " : "",
             auth_on ? owner : ""));
    TRY(argf(c, "canceled while running: cancel requested at %s%s%s", when, auth_on ? " by " : "",
             auth_on ? owner : ""));
    TRY(arg(c, auth_on ? owner : ""));
    TRY(argf(c, "%s", t));
    TRY(argf(c, "%s", a));
    return 0;
}

int jr_cmd_delete(jr_cmd *c, const char *prefix, const char *id, const char *owner)
{
    TRY(eval_head(c, delete_lua, 3));
    TRY(arg_job_key(c, prefix, id));
    TRY(argf(c, "%sowner:%s", prefix, owner));
    TRY(arg_key(c, prefix, JQ_ACTIVE));
    TRY(arg(c, owner));
    TRY(arg(c, id));
    return 0;
}

int jr_cmd_start(jr_cmd *c, const char *prefix, const char *id, const char *entry, double now,
                 long long deliveries, int retention_s, int max_attempts, int max_lost)
{
    TRY(eval_head(c, start_lua, 5));
    TRY(arg_job_key(c, prefix, id));
    TRY(arg_key(c, prefix, "jobs"));
    TRY(arg_key(c, prefix, "dead"));
    TRY(arg_key(c, prefix, JQ_EXPIRING));
    TRY(arg_key(c, prefix, JQ_ACTIVE));
    TRY(arg(c, JQ_GROUP));
    TRY(arg(c, entry));
    TRY(arg_time(c, now));
    TRY(argf(c, "%lld", deliveries));
    TRY(argf(c, "%d", retention_s));
    TRY(argf(c, "%d", max_attempts));
    TRY(arg(c, id));
    TRY(argf(c, "%d", max_lost));
    return 0;
}

int jr_cmd_fault(jr_cmd *c, const char *prefix, const char *const *ids, uint32_t count,
                 const char *what)
{
    if (count == 0 || count > JR_FAULT_IDS_MAX)
        return MD_EINVAL;
    TRY(eval_head(c, fault_lua, (int)count));
    for (uint32_t i = 0; i < count; i++)
        TRY(arg_job_key(c, prefix, ids[i]));
    TRY(arg(c, what));
    return 0;
}

jr_start_result jr_start_reply(const char *word)
{
    static const struct {
        const char *word;
        jr_start_result r;
    } words[] = {{"ok", JR_START_OK},
                 {"gone", JR_START_GONE},
                 {"skip", JR_START_SKIP},
                 {"canceled", JR_START_CANCELED},
                 {"dead", JR_START_DEAD}};
    for (size_t i = 0; word != NULL && i < sizeof words / sizeof words[0]; i++)
        if (strcmp(word, words[i].word) == 0)
            return words[i].r;
    return JR_START_ODD;
}

int jr_cmd_begin(jr_cmd *c, const char *prefix, const char *id, const char *who, int solo)
{
    TRY(eval_head(c, begin_lua, 1));
    TRY(arg_job_key(c, prefix, id));
    TRY(argf(c, "%s:%s", solo ? "solo" : "batch", who));
    return 0;
}

int jr_cmd_stage(jr_cmd *c, const char *prefix, const char *id, jr_stage stage)
{
    TRY(eval_head(c, set_running_lua, 1));
    TRY(arg_job_key(c, prefix, id));
    TRY(arg(c, jr_field_name(JR_F_STAGE)));
    TRY(arg(c, jr_stage_name(stage)));
    return 0;
}

int jr_cmd_frame_done(jr_cmd *c, const char *prefix, const char *id, uint32_t count)
{
    char field[192];
    TRY(jq_metric_counter_field(field, sizeof field, JQ_M_FRAMES_RENDERED, ""));
    TRY(eval_head(c, frame_lua, 2));
    TRY(arg_job_key(c, prefix, id));
    TRY(arg_key(c, prefix, "metrics"));
    TRY(argf(c, "%s", field));
    TRY(argf(c, "%u", count));
    return 0;
}

int jr_cmd_finish(jr_cmd *c, const char *prefix, const char *id, const char *entry,
                  jr_status status, double now, const char *error, const char *artifacts,
                  int retention_s, uint32_t frames_done)
{
    TRY(eval_head(c, finish_lua, 4));
    TRY(arg_job_key(c, prefix, id));
    TRY(arg_key(c, prefix, "jobs"));
    TRY(arg_key(c, prefix, JQ_EXPIRING));
    TRY(arg_key(c, prefix, JQ_ACTIVE));
    TRY(arg(c, JQ_GROUP));
    TRY(arg(c, entry));
    TRY(arg(c, jr_status_name(status)));
    TRY(arg_time(c, now));
    TRY(arg(c, error ? error : ""));
    TRY(arg(c, artifacts ? artifacts : "[]"));
    TRY(argf(c, "%d", retention_s));
    TRY(argf(c, "%u", frames_done));
    TRY(arg(c, id));
    return 0;
}

int jr_cmd_dead(jr_cmd *c, const char *prefix, const char *id, const char *entry,
                long long deliveries, const char *reason, double now, int retention_s,
                const char *error)
{
    TRY(eval_head(c, dead_lua, 5));
    TRY(arg_job_key(c, prefix, id));
    TRY(arg_key(c, prefix, "jobs"));
    TRY(arg_key(c, prefix, "dead"));
    TRY(arg_key(c, prefix, JQ_EXPIRING));
    TRY(arg_key(c, prefix, JQ_ACTIVE));
    TRY(arg(c, JQ_GROUP));
    TRY(arg(c, entry));
    TRY(arg(c, id));
    TRY(argf(c, "%lld", deliveries));
    TRY(arg(c, reason));
    TRY(arg_time(c, now));
    TRY(argf(c, "%d", retention_s));
    TRY(arg(c, error));
    return 0;
}

int jr_cmd_release(jr_cmd *c, const char *prefix, const char *id, const char *entry, double now,
                   int retention_s)
{
    TRY(eval_head(c, release_lua, 4));
    TRY(arg_job_key(c, prefix, id));
    TRY(arg_key(c, prefix, "jobs"));
    TRY(arg_key(c, prefix, JQ_EXPIRING));
    TRY(arg_key(c, prefix, JQ_ACTIVE));
    TRY(arg(c, JQ_GROUP));
    TRY(arg(c, entry));
    TRY(arg_time(c, now));
    TRY(argf(c, "%d", retention_s));
    TRY(arg(c, id));
    return 0;
}

/* ---- Faces ---- */

static const char *const face_field_names[JR_FF_COUNT] = {
#define JR_FACE_FIELD_NAME(ident, name) name,
    JR_FACE_FIELDS_MAP(JR_FACE_FIELD_NAME)
#undef JR_FACE_FIELD_NAME
};

const char *jr_face_field_name(jr_face_field f)
{
    return name_of(face_field_names, JR_FF_COUNT, (int)f);
}

int jr_face_id_valid(const char *id)
{
    if (id == NULL || strlen(id) != JR_FACE_ID_LEN)
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Owners come from the --api-keys table ([A-Za-z0-9._-]); a '/' or ':' would let one owner's
 * keys reach into another's, so they are refused here too. */
static int face_names_ok(const char *owner, const char *id)
{
    return owner != NULL && owner[0] != '\0' && strpbrk(owner, "/:") == NULL &&
           strcmp(owner, ".") != 0 && strcmp(owner, "..") != 0 && jr_face_id_valid(id);
}

int jr_key_face(char *out, size_t cap, const char *owner, const char *id)
{
    if (!face_names_ok(owner, id))
        return MD_EINVAL;
    int n = snprintf(out, cap, "faces/%s/%s.mdm", owner, id);
    return n < 0 || (size_t)n >= cap ? MD_EINVAL : 0;
}

int jr_face_key(char *out, size_t cap, const char *prefix, const char *owner, const char *id)
{
    if (!face_names_ok(owner, id))
        return MD_EINVAL;
    int n = snprintf(out, cap, "%sface:%s:%s", prefix, owner, id);
    return n < 0 || (size_t)n >= cap ? MD_EINVAL : 0;
}

int jr_faces_key(char *out, size_t cap, const char *prefix, const char *owner)
{
    if (owner == NULL || owner[0] == '\0' || strchr(owner, ':') != NULL)
        return MD_EINVAL;
    return key_fmt(out, cap, "%sfaces:%s", prefix, owner);
}

int jr_face_jobs_key(char *out, size_t cap, const char *prefix, const char *owner, const char *id)
{
    if (!face_names_ok(owner, id))
        return MD_EINVAL;
    int n = snprintf(out, cap, "%sface_jobs:%s:%s", prefix, owner, id);
    return n < 0 || (size_t)n >= cap ? MD_EINVAL : 0;
}

int jr_cmd_face_put(jr_cmd *c, const char *prefix, const jr_new_face *face, uint64_t max_faces)
{
    char key[JQ_KEY_MAX];
    TRY(eval_head(c, face_put_lua, 2));
    TRY(arg_built(c, jr_face_key(key, sizeof key, prefix, face->owner, face->id), key));
    TRY(arg_built(c, jr_faces_key(key, sizeof key, prefix, face->owner), key));
    TRY(arg(c, face->id));
    TRY(argf(c, "%llu", (unsigned long long)max_faces));
    TRY(argf(c, "%.0f", face->created_at * 1000.0));
    TRY(arg(c, jr_face_field_name(JR_FF_ID)));
    TRY(arg(c, face->id));
    TRY(arg(c, jr_face_field_name(JR_FF_OWNER)));
    TRY(arg(c, face->owner));
    TRY(arg(c, jr_face_field_name(JR_FF_NAME)));
    TRY(arg(c, face->name));
    TRY(arg(c, jr_face_field_name(JR_FF_FORMAT)));
    TRY(arg(c, face->format));
    TRY(arg(c, jr_face_field_name(JR_FF_VERTICES)));
    TRY(argf(c, "%u", face->vertices));
    TRY(arg(c, jr_face_field_name(JR_FF_FACES)));
    TRY(argf(c, "%u", face->faces));
    TRY(arg(c, jr_face_field_name(JR_FF_TEXTURES)));
    TRY(argf(c, "%u", face->textures));
    TRY(arg(c, jr_face_field_name(JR_FF_BYTES)));
    TRY(argf(c, "%llu", (unsigned long long)face->bytes));
    TRY(arg(c, jr_face_field_name(JR_FF_CREATED_AT)));
    TRY(arg_time(c, face->created_at));
    return 0;
}

jr_face_put_result jr_face_put_reply(const char *word)
{
    if (word == NULL)
        return JR_FACE_ODD;
    if (strcmp(word, "created") == 0)
        return JR_FACE_CREATED;
    if (strcmp(word, "exists") == 0)
        return JR_FACE_EXISTS;
    if (strcmp(word, "full") == 0)
        return JR_FACE_FULL;
    return JR_FACE_ODD;
}

int jr_cmd_face_delete(jr_cmd *c, const char *prefix, const char *owner, const char *id)
{
    char key[JQ_KEY_MAX];
    TRY(eval_head(c, face_delete_lua, 3));
    TRY(arg_built(c, jr_face_key(key, sizeof key, prefix, owner, id), key));
    TRY(arg_built(c, jr_faces_key(key, sizeof key, prefix, owner), key));
    TRY(arg_built(c, jr_face_jobs_key(key, sizeof key, prefix, owner, id), key));
    TRY(arg(c, id));
    TRY(argf(c, "%sjob:", prefix));
    return 0;
}

int jr_cmd_face_list(jr_cmd *c, const char *prefix, const char *owner, const char *max, int count)
{
    char key[JQ_KEY_MAX];
    TRY(eval_head(c, face_list_lua, 1));
    TRY(arg_built(c, jr_faces_key(key, sizeof key, prefix, owner), key));
    TRY(arg(c, max));
    TRY(argf(c, "%d", count));
    TRY(argf(c, "%sface:%s:", prefix, owner));
    return 0;
}

int jr_cmd_face_names(jr_cmd *c, const char *prefix, const char *owner, const char *const *ids,
                      int n)
{
    if (n < 1 || n > 2)
        return MD_EINVAL;
    char key[JQ_KEY_MAX];
    TRY(eval_head(c, face_names_lua, n));
    for (int i = 0; i < n; i++)
        TRY(arg_built(c, jr_face_key(key, sizeof key, prefix, owner, ids[i]), key));
    return 0;
}

/* ---- Batches ---- */

static const char *const batch_field_names[JR_BF_COUNT] = {
#define JR_BATCH_FIELD_NAME(ident, name) name,
    JR_BATCH_FIELDS_MAP(JR_BATCH_FIELD_NAME)
#undef JR_BATCH_FIELD_NAME
};

const char *jr_batch_field_name(jr_batch_field f)
{
    return name_of(batch_field_names, JR_BF_COUNT, (int)f);
}

int jr_batch_key(char *out, size_t cap, const char *prefix, const char *id)
{
    return key_fmt(out, cap, "%sbatch:%s", prefix, id);
}

/* Hands text (jansson's, from json_dumps) over as md_malloc'ed *payload. */
static int take_payload(json_t *doc, char **payload)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    *payload = text ? md_strdup(text) : NULL;
    free(text);
    return *payload ? 0 : MD_ENOMEM;
}

/* The batch's jobs field: [{id, source_face, target_face}]. */
static char *batch_jobs_text(const jr_new_batch *b)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < b->count; i++) {
        const jr_new_job *j = &b->jobs[i];
        if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "id", j->id, "source_face",
                                                 j->faces[0], "target_face", j->faces[1])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *text = NULL;
    return take_payload(arr, &text) == 0 ? text : NULL;
}

/* One job of the batch_submit payload: its key, id, face keys and field/value pairs. */
static json_t *batch_job_json(const char *prefix, const jr_new_job *j)
{
    char key[JQ_KEY_MAX], frames_total[16], created_at[32];
    if (j->faces[0] == NULL || j->faces[1] == NULL || jr_job_key(key, sizeof key, prefix, j->id))
        return NULL;
    json_t *o = json_pack("{s:s, s:s, s:[], s:[]}", "key", key, "id", j->id, "faces", "pairs");
    json_t *faces = json_object_get(o, "faces"), *pairs = json_object_get(o, "pairs");
    for (int side = 0; o != NULL && side < 2; side++) {
        char fk[JQ_KEY_MAX], fj[JQ_KEY_MAX];
        if (jr_face_key(fk, sizeof fk, prefix, j->owner, j->faces[side]) != 0 ||
            jr_face_jobs_key(fj, sizeof fj, prefix, j->owner, j->faces[side]) != 0 ||
            json_array_append_new(faces, json_string(fk)) != 0 ||
            json_array_append_new(faces, json_string(fj)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    const char *f[JR_F_COUNT], *v[JR_F_COUNT];
    size_t n = jr_new_job_pairs(j, NULL, frames_total, created_at, f, v);
    for (size_t i = 0; o != NULL && i < n; i++) {
        if (json_array_append_new(pairs, json_string(f[i])) != 0 ||
            json_array_append_new(pairs, json_string(v[i])) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int jr_cmd_batch_submit(jr_cmd *c, const char *prefix, const jr_new_batch *b, uint64_t max_queued,
                        uint64_t max_per_owner, char **payload)
{
    *payload = NULL;
    char counter[192], label[48];
    snprintf(label, sizeof label, "kind=\"%s\"", jr_kind_name(JR_KIND_MORPH));
    TRY(jq_metric_counter_field(counter, sizeof counter, JQ_M_JOBS_SUBMITTED, label));
    char *jobs_text = batch_jobs_text(b);
    json_t *jobs = json_array();
    for (size_t i = 0; jobs != NULL && jobs_text != NULL && i < b->count; i++) {
        if (json_array_append_new(jobs, batch_job_json(prefix, &b->jobs[i])) != 0) {
            json_decref(jobs);
            jobs = NULL;
        }
    }
    if (jobs_text == NULL || jobs == NULL) {
        json_decref(jobs);
        md_free(jobs_text);
        return MD_ENOMEM;
    }
    /* One payload holds both texts the command borrows: the jobs argument, a NUL, the batch's
     * jobs field. */
    char *args = NULL;
    int rc = take_payload(jobs, &args);
    if (rc == 0) {
        size_t a = strlen(args), t = strlen(jobs_text);
        *payload = md_malloc(a + t + 2);
        if (*payload == NULL) {
            rc = MD_ENOMEM;
        } else {
            memcpy(*payload, args, a + 1);
            memcpy(*payload + a + 1, jobs_text, t + 1);
        }
    }
    md_free(args);
    md_free(jobs_text);
    if (rc != 0)
        return rc;
    const char *jobs_arg = *payload, *jobs_field = *payload + strlen(*payload) + 1;
    char key[JQ_KEY_MAX];
    TRY(eval_head(c, batch_submit_lua, 5));
    TRY(arg_built(c, jr_batch_key(key, sizeof key, prefix, b->id), key));
    TRY(arg_key(c, prefix, "jobs"));
    TRY(argf(c, "%sowner:%s", prefix, b->owner));
    TRY(arg_key(c, prefix, "metrics"));
    TRY(arg_key(c, prefix, JQ_ACTIVE));
    TRY(arg(c, b->owner));
    TRY(argf(c, "%llu", (unsigned long long)max_queued));
    TRY(argf(c, "%llu", (unsigned long long)max_per_owner));
    TRY(argf(c, "%.0f", b->created_at * 1000.0));
    TRY(argf(c, "%s", counter));
    TRY(arg(c, jobs_arg));
    TRY(arg(c, jr_batch_field_name(JR_BF_ID)));
    TRY(arg(c, b->id));
    TRY(arg(c, jr_batch_field_name(JR_BF_OWNER)));
    TRY(arg(c, b->owner));
    TRY(arg(c, jr_batch_field_name(JR_BF_CREATED_AT)));
    TRY(arg_time(c, b->created_at));
    TRY(arg(c, jr_batch_field_name(JR_BF_SPEC)));
    TRY(arg(c, b->spec_json));
    TRY(arg(c, jr_batch_field_name(JR_BF_JOBS)));
    TRY(arg(c, jobs_field));
    return 0;
}

int jr_cmd_batch_get(jr_cmd *c, const char *prefix, const char *id, const char *owner)
{
    static const jr_field fields[JR_BJ_COUNT] = {
        [JR_BJ_STATUS] = JR_F_STATUS,
        [JR_BJ_STAGE] = JR_F_STAGE,
        [JR_BJ_FRAMES_DONE] = JR_F_FRAMES_DONE,
        [JR_BJ_FRAMES_TOTAL] = JR_F_FRAMES_TOTAL,
        [JR_BJ_ERROR] = JR_F_ERROR,
    };
    char key[JQ_KEY_MAX];
    TRY(eval_head(c, batch_get_lua, 1));
    TRY(arg_built(c, jr_batch_key(key, sizeof key, prefix, id), key));
    TRY(arg(c, owner));
    TRY(argf(c, "%sjob:", prefix));
    for (int i = 0; i < JR_BJ_COUNT; i++)
        TRY(arg(c, jr_field_name(fields[i])));
    return 0;
}

/* The keys and the 9 cancel_one values of batch_cancel and batch_delete. */
static int batch_cancel_args(jr_cmd *c, const char *script, const char *prefix, const char *id,
                             const char *owner, double now, int auth_on, int with_delete_keys)
{
    char key[JQ_KEY_MAX], when[32], m[192], r[192], t[192], a[192];
    jq_time_format(now, when);
    TRY(jr_finished_counter_field(m, sizeof m, JR_KIND_MORPH, JR_CANCELED));
    TRY(jr_finished_counter_field(r, sizeof r, JR_KIND_RENDER, JR_CANCELED));
    TRY(jr_finished_counter_field(t, sizeof t, JR_KIND_TRANSFORM, JR_CANCELED));
    TRY(jr_finished_counter_field(a, sizeof a, JR_KIND_AVERAGE, JR_CANCELED));
    TRY(eval_head(c, script, with_delete_keys ? 5 : 3));
    TRY(arg_built(c, jr_batch_key(key, sizeof key, prefix, id), key));
    TRY(arg_key(c, prefix, "metrics"));
    TRY(arg_key(c, prefix, JQ_ACTIVE));
    if (with_delete_keys) {
        TRY(argf(c, "%sowner:%s", prefix, owner));
        TRY(arg_key(c, prefix, JQ_EXPIRING));
    }
    TRY(arg(c, owner));
    TRY(arg_time(c, now));
    TRY(argf(c, "%s", m));
    TRY(argf(c, "%s", r));
    TRY(argf(c, "canceled before a worker started it, at %s%s%s (batch %s canceled)", when,
             auth_on ? " by " : "", auth_on ? owner : "", id));
    TRY(argf(c, "canceled while running: cancel requested at %s%s%s (batch %s canceled)", when,
             auth_on ? " by " : "", auth_on ? owner : "", id));
    TRY(arg(c, auth_on ? owner : ""));
    TRY(argf(c, "%s", t));
    TRY(argf(c, "%s", a));
    TRY(argf(c, "%sjob:", prefix));
    return 0;
}

int jr_cmd_batch_cancel(jr_cmd *c, const char *prefix, const char *id, const char *owner,
                        double now, int auth_on)
{
    return batch_cancel_args(c, batch_cancel_lua, prefix, id, owner, now, auth_on, 0);
}

int jr_cmd_batch_delete(jr_cmd *c, const char *prefix, const char *id, const char *owner,
                        double now, int auth_on)
{
    return batch_cancel_args(c, batch_delete_lua, prefix, id, owner, now, auth_on, 1);
}

int jr_cmd_batch_face_names(jr_cmd *c, const char *prefix, const char *owner,
                            const char *const *ids, size_t n, char **payload)
{
    *payload = NULL;
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (!jr_face_id_valid(ids[i]) || json_array_append_new(arr, json_string(ids[i])) != 0) {
            json_decref(arr);
            return MD_EINVAL;
        }
    }
    TRY(take_payload(arr, payload));
    TRY(eval_head(c, batch_face_names_lua, 0));
    TRY(argf(c, "%sface:%s:", prefix, owner));
    TRY(arg(c, *payload));
    return 0;
}
