/*
 * cli.h — the pieces of the `morph` command: one function per subcommand, and the terminal
 * progress bar they share. Internal to cli/.
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Subcommands: argv[0] is the subcommand name. Return the process exit code. */
int cli_run(int argc, char **argv);
int cli_sample(int argc, char **argv);
/* Face-space stimuli from several faces (face.c): BASE + K*(B - A), and weighted averages. */
int cli_transform(int argc, char **argv);
int cli_average(int argc, char **argv);
/* Client commands, talking to a morphd api (client.c, fetch.c). */
int cli_submit(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_wait(int argc, char **argv);
int cli_fetch(int argc, char **argv);
int cli_cancel(int argc, char **argv);
int cli_delete(int argc, char **argv);

/* `morph run` as a function (run.c), for `morph batch`: argv as `morph run` takes it (argv[0]
 * is the command's name). check_only: parse and check the options and stop before touching OUT.
 * Returns 0 when the job ran (or checked), 1 after printing --help, else a negative md error code
 * with err saying why. Prints what `morph run` prints (-q silences the bar and summary). */
struct md_error;
int cli_run_job(int argc, char **argv, int check_only, struct md_error *err);
int cli_batch(int argc, char **argv);

/* Shared framing for `run` and `submit` (framing.c). Both read a file and set spec (the CLI's
 * job_spec, jobs/spec.h); errors name the option and the file. */
struct job_spec;
struct md_limits;
struct md_error;
/* --camera-from MANIFEST: the explicit camera of an earlier job's manifest.json. */
int cli_camera_from(struct job_spec *spec, const char *path, struct md_error *err);
/* --frame-on MESH: frame the camera on MESH's bounds (any format morph run reads). */
int cli_frame_on(struct job_spec *spec, const char *path, const struct md_limits *lim,
                 struct md_error *err);

/* `morph run --replay MANIFEST` (replay.c): the inputs and the normalised spec of an earlier
 * run, from its manifest.json. Every input file and texture is found by the path recorded and
 * must still have the SHA-256 recorded (an error names the file and both hashes). */
typedef struct cli_replay {
    char *source, *target;                 /* owned */
    char *source_texture, *target_texture; /* owned; NULL: the textures the meshes name */
    char *target_morph; /* owned; NULL, or the source's morph target (--target-morph) */
    char engine[16];    /* the engine that ran ("cpu", "cuda"; "" unknown) */
    char version[64];   /* the morph version that wrote the manifest */
} cli_replay;
int cli_replay_load(const char *manifest_path, const struct md_limits *lim, struct job_spec *spec,
                    cli_replay *out, struct md_error *err);
void cli_replay_free(cli_replay *r);
/* The manifest side (run.c's sink): adds sha256 to inputs.<role> and to each material texture,
 * and texture_override where --source-texture / --target-texture replaced the mesh's. */
struct json_t;
int cli_replay_note_inputs(struct json_t *inputs, const char *source_texture,
                           const char *target_texture, struct md_error *err);

/* A one-line progress bar on stderr, drawn only when stderr is a terminal and enabled.
 * cli_progress_tick() is thread-safe (frames finish on engine threads). */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_new(const char *label, uint64_t total, int enabled);
void cli_progress_tick(cli_progress *p);
/* Sets the figures outright (for progress reported by a server); redraws when they changed. */
void cli_progress_set(cli_progress *p, uint64_t done, uint64_t total);
void cli_progress_free(cli_progress *p); /* ends the line; NULL ok */

#endif
