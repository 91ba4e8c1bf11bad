/*
 * batch.h — the pieces of `morph batch` (batch.c runs the pairs; batch_pairs.c finds the meshes
 * and the pairs; batch_summary.c decides which pairs are done and writes summary.csv). Internal
 * to cli/. Everything here runs on the main thread of the batch process.
 */
#ifndef CLI_BATCH_H
#define CLI_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/md.h"

/* One mesh file of DIR. */
typedef struct batch_mesh {
    char *name;    /* file name in DIR, owned */
    char *path;    /* DIR/name, owned */
    char *stem;    /* name without its extension (names the pair folders), owned */
    char *texture; /* owned; the texture override: a same-named image beside a mesh that names
                      no texture of its own, or (resolve_own) the file its material names;
                      NULL: the mesh's own (read by morph run through its MTL) or none */
} batch_mesh;

/* A pair: source and target, indexes into the meshes. */
typedef struct batch_pair {
    uint32_t source, target;
} batch_pair;

typedef struct batch_set {
    batch_mesh *meshes; /* owned, sorted by name */
    uint32_t mesh_count;
    batch_pair *pairs; /* owned */
    uint32_t pair_count;
} batch_set;

/* Finds the meshes of dir (.obj, .fbx, .glb, .gltf, .ply; at most lim->max_batch_meshes) and
 * each one's texture; resolve_own: also the texture file a mesh's material names (for a server,
 * which is sent the files). Errors name the folder or the clashing files. */
int batch_set_scan(const char *dir, const md_limits *lim, int resolve_own, batch_set *set,
                   md_error *err);
/* Every unordered pair, the earlier name as the source (at most lim->max_batch_pairs). */
int batch_set_all_pairs(batch_set *set, const md_limits *lim, md_error *err);
/* The pairs listed in a PAIRS.csv's text (fed, not read: file names it in messages): lines
 * "SOURCE,TARGET" of file names in the folder; an optional "source,target" header, blank lines
 * and lines starting with '#' are skipped. Errors name the line. */
int batch_set_parse_pairs(batch_set *set, const char *text, size_t len, const char *file,
                          const md_limits *lim, md_error *err);
void batch_set_free(batch_set *set);

/* The pair's folder name "<source stem>__<target stem>" into out. */
void batch_pair_name(const batch_set *set, const batch_pair *p, char *out, size_t cap);

/* ---- Outcomes and summary.csv (batch_summary.c) ---- */

typedef enum batch_status { BATCH_NOT_RUN, BATCH_OK, BATCH_FAILED, BATCH_SKIPPED } batch_status;

typedef struct batch_result {
    batch_status status;
    double seconds; /* wall-clock of the pair's run; < 0 when it did not run */
    char message[MD_ERROR_MSG_MAX];
} batch_result;

/* 1 when dir holds a finished pair: its manifest.json parses, lists every frame of the job
 * (frame_count == frames_total > 0), and every frame and output artifact it lists is in dir with
 * the size it lists. 0 otherwise (also when there is no manifest). */
int batch_pair_complete(const char *dir);

/* Writes out_dir/summary.csv (atomically): pair,status,seconds,mean_total_displacement,
 * mean_delta_e00,message, one row per pair in order; the means come from each pair folder's
 * statistics.csv (empty when the pair has none). */
int batch_summary_write(const char *out_dir, const batch_set *set, const batch_result *results,
                        md_error *err);

/* ---- The pending pairs as one batch on a server (batch_server.c) ---- */

typedef struct batch_server {
    const char *server, *api_key; /* --server, --api-key (NULL: $MORPHD_API_KEY); borrowed */
    const char *out;              /* OUT; each pair's artifacts go to OUT/<pair>/ */
    const batch_set *set;         /* borrowed */
    batch_result *results;        /* pairs with status BATCH_NOT_RUN are the pending ones */
    const json_t *spec;           /* every job's spec (client_submit_spec), borrowed */
    int quiet;                    /* no line naming the batch */
    void (*finished)(void *user, uint32_t pair); /* called once per pair whose outcome is set */
    void *user;
    char batch_id[64]; /* out: the batch made, "" if none */
} batch_server;

/* Stores the pending pairs' meshes as faces (POST /faces), makes one batch of the pending pairs
 * (POST /batches), follows it and fetches each job's artifacts into its pair's folder. Returns
 * 0 when every pending pair has its outcome (a transport failure fails them with its message),
 * 1 when the server made no batch (it refused a face or the batch: err says who refused what;
 * the caller submits each pair as its own job), or a negative md error (out of memory). */
int batch_server_run(batch_server *s, md_error *err);

#endif
