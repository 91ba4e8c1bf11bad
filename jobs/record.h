/*
 * record.h — the job record: the one place that spells a job's life. The Redis hash's field
 * names, the statuses and stages and which status may follow which, every Lua script that
 * changes a job (submit, cancel, delete, start, begin, progress, frame, finish, dead-letter,
 * hand-back), the storage keys of a job's objects (inputs, frames, artifacts) and the typed
 * input names the api records and the worker reads back.
 *
 * Pure: nothing here does I/O (like hiredis' reader). The api sends the commands built here on
 * its async hiredis connection, the worker on its blocking one; each interprets the reply with
 * the jr_*_reply helpers, so no other file spells a field, a status, a script or a key.
 * docs/server.md describes the same names for people; this header is where the code gets them.
 * Any thread.
 */
#ifndef JOBS_RECORD_H
#define JOBS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "jobs/queue.h"
#include "base/md.h"

/* ---- Fields of the job hash {prefix}job:{id} ---- */

/* X(ident, name). docs/server.md says what each holds. */
#define JR_FIELDS_MAP(X)                                                                           \
    X(ID, "id")                                                                                    \
    X(KIND, "kind")                                                                                \
    X(OWNER, "owner")                                                                              \
    X(STATUS, "status")                                                                            \
    X(SPEC, "spec")                                                                                \
    X(INPUTS, "inputs")                                                                            \
    X(CREATED_AT, "created_at")                                                                    \
    X(STARTED_AT, "started_at")                                                                    \
    X(FINISHED_AT, "finished_at")                                                                  \
    X(FRAMES_DONE, "frames_done")                                                                  \
    X(FRAMES_TOTAL, "frames_total")                                                                \
    X(STAGE, "stage")                                                                              \
    X(ERROR, "error")                                                                              \
    X(ARTIFACTS, "artifacts")                                                                      \
    X(CANCEL_REQUESTED, "cancel_requested")                                                        \
    X(CANCELED_BY, "canceled_by")                                                                  \
    X(CANCEL_NOTE, "cancel_note")                                                                  \
    X(ATTEMPTS, "attempts")                                                                        \
    X(ENTRY, "entry")                                                                              \
    X(REQUEST_HASH, "request_hash")                                                                \
    X(RENDERING, "rendering")                                                                      \
    X(CRASHES, "crashes")                                                                          \
    X(BATCH_CRASHES, "batch_crashes")                                                              \
    X(LOST, "lost")                                                                                \
    X(FAULT, "fault")

typedef enum jr_field {
#define JR_FIELD_ENUM(ident, name) JR_F_##ident,
    JR_FIELDS_MAP(JR_FIELD_ENUM)
#undef JR_FIELD_ENUM
        JR_F_COUNT
} jr_field;

const char *jr_field_name(jr_field f);
/* The field a name spells, or -1. */
int jr_field_find(const char *name);

/* A job hash as HGETALL gives it, each value borrowed from the reply (NULL when absent). */
typedef struct jr_record {
    const char *v[JR_F_COUNT];
} jr_record;

/* Fills rec from field/value pairs; unknown fields are ignored. */
void jr_record_from_pairs(jr_record *rec, const char *const *fields, const char *const *values,
                          size_t n);
static inline const char *jr_get(const jr_record *rec, jr_field f)
{
    return rec->v[f];
}

/* ---- Statuses, stages and kinds ---- */

typedef enum jr_status {
    JR_QUEUED,
    JR_RUNNING,
    JR_SUCCEEDED,
    JR_FAILED,
    JR_CANCELED,
    JR_STATUS_COUNT
} jr_status;

const char *jr_status_name(jr_status s);
/* The status a name spells, or -1. */
int jr_status_parse(const char *name);
int jr_status_terminal(jr_status s);
/* 1 for a status name that is succeeded, failed or canceled. */
int jr_status_name_terminal(const char *name);
/* The transitions the scripts make: queued → running | canceled; running → queued (hand-back)
 * | succeeded | failed | canceled; queued → failed (dead letter). Terminal states never change. */
int jr_transition_allowed(jr_status from, jr_status to);
/* "queued, running, succeeded, failed or canceled", for error texts. */
const char *jr_status_list(void);

typedef enum jr_stage {
    JR_STAGE_QUEUED,
    JR_STAGE_LOADING,
    JR_STAGE_RENDERING,
    JR_STAGE_FINISHING,
    JR_STAGE_DONE,
    JR_STAGE_COUNT
} jr_stage;

const char *jr_stage_name(jr_stage s);
int jr_stage_parse(const char *name); /* -1 when unknown */

typedef enum jr_kind { JR_KIND_MORPH, JR_KIND_RENDER, JR_KIND_TRANSFORM, JR_KIND_AVERAGE } jr_kind;
const char *jr_kind_name(jr_kind k); /* "morph", "render", "transform", "average" */
/* The kind a name spells; anything else (a record of another version too) → morph. */
jr_kind jr_kind_parse(const char *name);

/* ---- Inputs ---- */

/* A transform's three meshes are base, from and to; an average's meshes are stored as mesh_0,
 * mesh_1, ... (jr_key_input_mesh), their count in jr_inputs.mesh_count. */
typedef enum jr_input {
    JR_IN_SOURCE,
    JR_IN_TARGET,
    JR_IN_MESH,
    JR_IN_BASE,
    JR_IN_FROM,
    JR_IN_TO,
    JR_IN_COUNT
} jr_input;

#define JR_INPUT_NAME_MAX 128
#define JR_INPUT_NOTE_MAX 1024
#define JR_MORPH_TARGET_MAX 128 /* spec.target_morph's cap (JOB_TARGET_MORPH_MAX) */
#define JR_FACE_ID_LEN 64       /* a face id: SHA-256 as lowercase hex (Faces, below) */

/* The inputs field: counts and, per input, the client's name (a sanitised stem, used in frame
 * names), the format it came in, notes on morph targets and, for an input taken from the owner's
 * face library (spec.source_face / target_face), the face's id: that input is read from
 * jr_key_face, not from the job's own inputs/ (no copy). */
typedef struct jr_inputs {
    uint32_t vertices, faces, textures;
    int present[JR_IN_COUNT];
    char name[JR_IN_COUNT][JR_INPUT_NAME_MAX];
    char format[JR_IN_COUNT][16];
    char face[JR_IN_COUNT][JR_FACE_ID_LEN + 1]; /* "" for an uploaded file */
    /* The target taken from the source file's morph targets (spec.target_morph), on the target;
     * and a note on the input for the manifest (mesh_note_morph_target,
     * mesh_note_unused_morph_targets); "" when none. */
    char morph_target[JR_IN_COUNT][JR_MORPH_TARGET_MAX + 1];
    char note[JR_IN_COUNT][JR_INPUT_NOTE_MAX];
    uint32_t mesh_count; /* an average's meshes (0 for the other kinds) */
} jr_inputs;

const char *jr_input_name(jr_input in); /* "source", "target", "mesh", "base", "from", "to" */
/* The first len bytes of in as a name fit for frame names and storage keys: characters other
 * than [A-Za-z0-9._] become '_'; cut to cap - 1 bytes. */
void jr_name_sanitize(const char *in, size_t len, char *out, size_t cap);
/* The inputs field's JSON text; md_free it. NULL when out of memory. */
char *jr_inputs_to_json(const jr_inputs *in);
/* Reads the field back; names are sanitised again (the hash is not trusted), missing names
 * become the input's role ("source"), a face that is not a face id is dropped. MD_EPARSE when
 * text is not a JSON object. */
int jr_inputs_from_json(const char *text, jr_inputs *out, md_error *err);

/* ---- Storage keys of a job's objects ---- */

/* Each returns 0, or MD_EINVAL when the key does not fit in cap. */
int jr_key_job_prefix(char *out, size_t cap, const char *id);         /* jobs/{id}/ */
int jr_key_frames_prefix(char *out, size_t cap, const char *id);      /* jobs/{id}/frames/ */
int jr_key_input(char *out, size_t cap, const char *id, jr_input in); /* jobs/{id}/inputs/x.mdm */
/* jobs/{id}/inputs/mesh_{index}.mdm: an average's mesh index. */
int jr_key_input_mesh(char *out, size_t cap, const char *id, uint32_t index);
int jr_key_artifact(char *out, size_t cap, const char *id, const char *name); /* jobs/{id}/name */
/* The artifact name of a frame ("frames/<name>"), as artifacts lists and manifests give it. */
int jr_frame_artifact_name(char *out, size_t cap, const char *frame_name);

/* ---- Commands ---- */

/* {prefix}job:{id}, the job hash (for HGETALL). 0 or MD_EINVAL when it does not fit. */
int jr_job_key(char *out, size_t cap, const char *prefix, const char *id);

#define JR_ARGV_MAX 64
#define JR_SCRATCH 4096

/* One Redis command (an EVAL of a record script, usually) as argv. Strings the caller passes
 * are borrowed and must outlive the send; keys and numbers live in scratch. */
typedef struct jr_cmd {
    int argc;
    const char *argv[JR_ARGV_MAX];
    size_t argvlen[JR_ARGV_MAX];
    char scratch[JR_SCRATCH];
    size_t used;
} jr_cmd;

/* A new job as POST /jobs records it. All strings borrowed. */
typedef struct jr_new_job {
    const char *id;
    jr_kind kind;
    const char *owner;
    const char *spec_json;
    const char *inputs_json;
    uint32_t frames_total;
    double created_at;        /* unix seconds */
    const char *request_hash; /* hex digest of what the request asked for */
    const char *faces[2];     /* the source's and target's face ids; NULL for a file part */
} jr_new_job;

/* Submission: idempotency key (empty: none), queue cap, the owner's cap (max_per_owner jobs
 * queued or running; 0: none), that each face the job names still exists, HSET, XADD, owner
 * index, counters, and the job's id in each face's face_jobs set (DELETE /faces refuses while
 * it is queued or running). */
int jr_cmd_submit(jr_cmd *c, const char *prefix, const jr_new_job *job, uint64_t max_queued,
                  uint64_t max_per_owner, const char *idem_key);
typedef enum jr_submit_result {
    JR_SUBMIT_OK,         /* element[1]: the stream entry */
    JR_SUBMIT_FULL,       /* the queue is at max_queued */
    JR_SUBMIT_OWNER_FULL, /* element[1]: the owner's count, at max_per_owner */
    JR_SUBMIT_EXISTS,     /* element[1]: the job the key named, same request */
    JR_SUBMIT_MISMATCH,   /* element[1]: the job the key named, for a different request */
    JR_SUBMIT_NO_FACE,    /* element[1]: the id of a face the job named that is gone */
    JR_SUBMIT_ODD
} jr_submit_result;
jr_submit_result jr_submit_reply(const char *word);
/* The fields of the new job's hash (entry excluded), for answering without a read back:
 * fills up to JR_F_COUNT pairs; returns how many. */
size_t jr_new_job_pairs(const jr_new_job *job, const char *entry, char frames_total[16],
                        char created_at[32], const char **fields, const char **values);

/* Cancel by owner at time now. Reply: a status word: "canceled" (was queued), "running"
 * (cancel_requested set), "missing" (no such job of this owner) or the terminal status. */
int jr_cmd_cancel(jr_cmd *c, const char *prefix, const char *id, const char *owner, double now,
                  int auth_on);

/* Delete by owner. Reply: "ok", "running" (refused) or "missing". */
int jr_cmd_delete(jr_cmd *c, const char *prefix, const char *id, const char *owner);

/* A worker took the stream entry: marks the job running unless it is gone, terminal or
 * canceled. A job whose hash says a worker was rendering it (that worker died) is charged here
 * (record.c's design comment): batch_crashes when it shared the batch; alone, crashes when the
 * dying worker recorded a fault, lost otherwise. When crashes reach max_attempts or lost reach
 * max_lost the job is dead-lettered in the same script.
 * Reply: {"ok", kind, spec, created_at, inputs, crashes, batch_crashes, lost, owner} |
 * {"gone", ""} |
 * {"skip", kind} | {"canceled", kind} | {"dead", kind, error}. */
int jr_cmd_start(jr_cmd *c, const char *prefix, const char *id, const char *entry, double now,
                 long long deliveries, int retention_s, int max_attempts, int max_lost);

/* The fault mark a dying worker sends for the jobs it renders (ids: count of them, at most
 * JR_FAULT_IDS_MAX); what names the signal. Reply: an integer. */
#define JR_FAULT_IDS_MAX 32
int jr_cmd_fault(jr_cmd *c, const char *prefix, const char *const *ids, uint32_t count,
                 const char *what);
typedef enum jr_start_result {
    JR_START_OK,
    JR_START_GONE,
    JR_START_SKIP,
    JR_START_CANCELED,
    JR_START_DEAD,
    JR_START_ODD
} jr_start_result;
jr_start_result jr_start_reply(const char *word);

/* The worker begins work on the job (loading, then rendering): records that worker `who` is
 * rendering it, alone (solo) or with others, so a crash is charged to the job only from here. */
int jr_cmd_begin(jr_cmd *c, const char *prefix, const char *id, const char *who, int solo);

/* Sets the stage of a running job (a cancel or deletion is never overwritten). */
int jr_cmd_stage(jr_cmd *c, const char *prefix, const char *id, jr_stage stage);

/* count more frames stored: frames_done (only while running) and the frames counter. */
int jr_cmd_frame_done(jr_cmd *c, const char *prefix, const char *id, uint32_t count);

/* Finishes the job: status (a succeeded job whose cancel was requested ends canceled, with an
 * error that says when and by whom), error ("" for none), artifacts (JSON), frames_done,
 * retention, XACK+XDEL. Reply: the status it ended in, or "skip" when no longer running. */
int jr_cmd_finish(jr_cmd *c, const char *prefix, const char *id, const char *entry,
                  jr_status status, double now, const char *error, const char *artifacts,
                  int retention_s, uint32_t frames_done);

/* Dead-letters an entry whose job a backstop gave up on (delivered too often): XADD to the
 * dead stream, XACK+XDEL, status failed with error. Reply: {status it ended in or
 * "gone"/"skip", kind}. */
int jr_cmd_dead(jr_cmd *c, const char *prefix, const char *id, const char *entry,
                long long deliveries, const char *reason, double now, int retention_s,
                const char *error);

/* Hands a running job back to the queue without charging it (a worker draining on SIGTERM):
 * status queued, a fresh stream entry, the old one acked and deleted. A job whose cancel was
 * requested ends canceled instead. Reply: "queued", "canceled" or "skip". */
int jr_cmd_release(jr_cmd *c, const char *prefix, const char *id, const char *entry, double now,
                   int retention_s);

/* The finished counter's field for a kind and status (jq metrics), used by the scripts. */
int jr_finished_counter_field(char *out, size_t cap, jr_kind kind, jr_status status);

/* ---- Faces (the face library, POST /faces) ---- */

/* A face's id is md_sha256_hex of its canonical form (mesh_encode_canonical of the mesh with
 * its texture part applied and padded: geometry, UVs, materials and every texture as PNG), so
 * the id is also the SHA-256 of the object stored under jr_key_face (JR_FACE_ID_LEN digits). */

/* X(ident, name): the fields of the face hash {prefix}face:{owner}:{id}. */
#define JR_FACE_FIELDS_MAP(X)                                                                      \
    X(ID, "id")                                                                                    \
    X(OWNER, "owner")                                                                              \
    X(NAME, "name")                                                                                \
    X(FORMAT, "format")                                                                            \
    X(VERTICES, "vertices")                                                                        \
    X(FACES, "faces")                                                                              \
    X(TEXTURES, "textures")                                                                        \
    X(BYTES, "bytes")                                                                              \
    X(CREATED_AT, "created_at")

typedef enum jr_face_field {
#define JR_FACE_FIELD_ENUM(ident, name) JR_FF_##ident,
    JR_FACE_FIELDS_MAP(JR_FACE_FIELD_ENUM)
#undef JR_FACE_FIELD_ENUM
        JR_FF_COUNT
} jr_face_field;

const char *jr_face_field_name(jr_face_field f);
/* 1 when id is exactly JR_FACE_ID_LEN lowercase hex digits. */
int jr_face_id_valid(const char *id);
/* Storage: faces/{owner}/{id}.mdm, the canonical form. 0, or MD_EINVAL when the id is not a
 * face id, the owner is empty or holds '/', or the key does not fit in cap. */
int jr_key_face(char *out, size_t cap, const char *owner, const char *id);
/* Redis: {prefix}face:{owner}:{id} (hash), {prefix}faces:{owner} (sorted set of ids by
 * created_at in ms), {prefix}face_jobs:{owner}:{id} (set of ids of jobs that named the face). */
int jr_face_key(char *out, size_t cap, const char *prefix, const char *owner, const char *id);
int jr_faces_key(char *out, size_t cap, const char *prefix, const char *owner);
int jr_face_jobs_key(char *out, size_t cap, const char *prefix, const char *owner, const char *id);

/* A face as POST /faces records it. Strings borrowed. */
typedef struct jr_new_face {
    const char *id;
    const char *owner;
    const char *name;
    const char *format;
    uint32_t vertices, faces, textures;
    uint64_t bytes;    /* of the canonical form */
    double created_at; /* unix seconds */
} jr_new_face;

/* Records a face unless the owner has it already (then nothing changes) or has max_faces
 * (0: none). Reply: {"created", ""} | {"exists", ""} | {"full", the owner's count}. */
int jr_cmd_face_put(jr_cmd *c, const char *prefix, const jr_new_face *face, uint64_t max_faces);
typedef enum jr_face_put_result {
    JR_FACE_CREATED,
    JR_FACE_EXISTS,
    JR_FACE_FULL,
    JR_FACE_ODD
} jr_face_put_result;
jr_face_put_result jr_face_put_reply(const char *word);

/* Deletes the owner's face unless a queued or running job named it (the face_jobs set; ids of
 * jobs that ended or are gone are dropped from it on the way). Reply: {"ok", ""} |
 * {"missing", ""} | {"busy", the job's id}. */
int jr_cmd_face_delete(jr_cmd *c, const char *prefix, const char *owner, const char *id);

/* The name field of each of the owner's faces ids[0..n) (n at most 2); "" for one that is not
 * there. Reply: an array of n strings. */
int jr_cmd_face_names(jr_cmd *c, const char *prefix, const char *owner, const char *const *ids,
                      int n);

/* The owner's faces, newest first: at most count with a score (created_at, ms) at or below
 * max ("+inf" for the first page). Reply: a flat array of {score, HGETALL of the face} pairs
 * (faces whose hash is gone are dropped from the index and skipped). */
int jr_cmd_face_list(jr_cmd *c, const char *prefix, const char *owner, const char *max, int count);

/* ---- Batches (POST /batches: many morph jobs between stored faces, made at once) ---- */

/* X(ident, name): the fields of the batch hash {prefix}batch:{id}. `jobs` is a JSON array of
 * {"id", "source_face", "target_face"} in the order the batch made them; `spec` the normalised
 * spec every job got. A batch has no status of its own: it is read from its jobs' hashes. */
#define JR_BATCH_FIELDS_MAP(X)                                                                     \
    X(ID, "id")                                                                                    \
    X(OWNER, "owner")                                                                              \
    X(CREATED_AT, "created_at")                                                                    \
    X(SPEC, "spec")                                                                                \
    X(JOBS, "jobs")

typedef enum jr_batch_field {
#define JR_BATCH_FIELD_ENUM(ident, name) JR_BF_##ident,
    JR_BATCH_FIELDS_MAP(JR_BATCH_FIELD_ENUM)
#undef JR_BATCH_FIELD_ENUM
        JR_BF_COUNT
} jr_batch_field;

const char *jr_batch_field_name(jr_batch_field f);
/* {prefix}batch:{id}. 0 or MD_EINVAL when it does not fit. */
int jr_batch_key(char *out, size_t cap, const char *prefix, const char *id);

/* A new batch: its jobs are morph jobs that each name two faces (faces[0], faces[1] set). */
typedef struct jr_new_batch {
    const char *id;
    const char *owner;
    const char *spec_json;
    double created_at;
    const jr_new_job *jobs; /* borrowed, count of them */
    size_t count;
} jr_new_batch;

/* Records the batch and all its jobs in one script, or none of them: the queue cap and the
 * owner's cap must hold room for every job, and every face the jobs name must still exist.
 * The jobs are recorded as jr_cmd_submit records one (no idempotency key). *payload gets the
 * md_malloc'ed JSON arguments the command borrows: keep them until the reply, then md_free
 * *payload (whatever the result; NULL when nothing was allocated).
 * Reply as jr_cmd_submit's, read with jr_submit_reply: {'ok', ''} | {'full', ''} |
 * {'owner_full', count} | {'no_face', the face hash's key} | {'exists', ''} (the id is taken). */
int jr_cmd_batch_submit(jr_cmd *c, const char *prefix, const jr_new_batch *b, uint64_t max_queued,
                        uint64_t max_per_owner, char **payload);

/* What a batch read gives of each job, in this order (jr_cmd_batch_get). */
typedef enum jr_batch_job_field {
    JR_BJ_STATUS,
    JR_BJ_STAGE,
    JR_BJ_FRAMES_DONE,
    JR_BJ_FRAMES_TOTAL,
    JR_BJ_ERROR,
    JR_BJ_COUNT
} jr_batch_job_field;

/* Reads the owner's batch and the state of each of its jobs. Reply: {'missing'} or
 * {'ok', HGETALL of the batch, then per job (in the order of the jobs field) an array of
 * JR_BJ_COUNT values (nil for a job that is gone)}. */
int jr_cmd_batch_get(jr_cmd *c, const char *prefix, const char *id, const char *owner);

/* Cancels every job of the owner's batch as jr_cmd_cancel cancels one. Reply: {'missing'} or
 * {'ok', how many were canceled while queued, how many running got cancel_requested}. */
int jr_cmd_batch_cancel(jr_cmd *c, const char *prefix, const char *id, const char *owner,
                        double now, int auth_on);

/* Cancels every job of the owner's batch, deletes those not running (as jr_cmd_delete; their
 * ids go to {prefix}expiring at now, where the janitor deletes their stored objects) and, when
 * none is left running, the batch. Reply: {'missing'} | {'ok', jobs deleted} |
 * {'running', how many still run (cancel requested)}. */
int jr_cmd_batch_delete(jr_cmd *c, const char *prefix, const char *id, const char *owner,
                        double now, int auth_on);

/* The name field of each of the owner's faces ids[0..n), "" for one that is gone; *payload as
 * for jr_cmd_batch_submit. Reply: an array of n strings. */
int jr_cmd_batch_face_names(jr_cmd *c, const char *prefix, const char *owner,
                            const char *const *ids, size_t n, char **payload);

/* ---- Names of the Lua scripts, for tests and logs ---- */

/* The text of every script, so a test can check each compiles (SCRIPT LOAD). NULL-terminated. */
const char *const *jr_scripts(void);

#endif
