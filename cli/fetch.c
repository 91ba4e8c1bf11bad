/*
 * fetch.c — `morph fetch ID -o DIR`: downloads every artifact of a job into DIR, keeping the
 * names the server gives (DIR/frames/0000_….png, DIR/manifest.json, …). Main thread only.
 *
 * Each artifact streams into DIR/NAME.part.XXXXXX (never whole in memory), is checked against
 * the size the job lists, fsync()ed and renamed into place, so DIR never holds a half-written
 * file under a final name. That makes fetch resumable: a file already present with the listed
 * size is skipped. Names come from the server but are checked here too (relative, no "." or
 * ".." segments, no control characters) before they become paths.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "jobs/record.h"

static void fetch_usage(FILE *f)
{
    fprintf(f,
            "Usage: morph fetch ID -o DIR [options]\n"
            "\n"
            "Downloads every artifact of a job (frames, manifest.json, session.log, …) into DIR\n"
            "under the names the server lists, streaming each to a temporary file that is\n"
            "renamed into place when complete. Files already in DIR with the listed size are\n"
            "skipped, so an interrupted fetch is resumed by running it again. A job that is\n"
            "not finished yet is fetched as far as it got (a note says so).\n"
            "\n"
            "Options:\n"
            "  -o, --output DIR         where to write (created)\n"
            "  -q, --quiet              no progress bar and no summary line\n" CLIENT_COMMON_HELP
            "\n"
            "Exit status: 0 every artifact is in DIR, 1 failure (server unreachable or failing,\n"
            "a short download, a file that cannot be written), 2 bad usage or no such job.\n");
}

/* An artifact name is a relative path of plain segments. */
static int name_check(const char *name, md_error *err)
{
    size_t len = strlen(name);
    int ok = len > 0 && len < 1024 && name[0] != '/';
    const char *seg = name;
    for (size_t i = 0; ok && i <= len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == '/' || ch == '\0') {
            size_t n = (size_t)(name + i - seg);
            ok = n > 0 && !(n == 1 && seg[0] == '.') && !(n == 2 && seg[0] == '.' && seg[1] == '.');
            seg = name + i + 1;
        } else {
            ok = ch >= ' ' && ch != 0x7f && ch != '\\';
        }
    }
    if (!ok)
        return md_fail(err, MD_EINTERNAL,
                       "the server listed an artifact named '%.200s', which "
                       "is not a safe relative path; refused",
                       name);
    return 0;
}

/* "/jobs/ID/artifacts/" + name with every byte outside [A-Za-z0-9._~/-] percent-encoded. */
static int artifact_path(const char *id, const char *name, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    int n = snprintf(out, cap, "/jobs/%s/artifacts/", id);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    size_t at = (size_t)n;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("._~/-", *p) != NULL;
        if (at + 4 > cap)
            return -1;
        if (plain) {
            out[at++] = (char)*p;
        } else {
            out[at++] = '%';
            out[at++] = hex[*p >> 4];
            out[at++] = hex[*p & 15];
        }
    }
    out[at] = '\0';
    return 0;
}

/* Downloads one artifact to dest via a temporary file; expected < 0: size not listed. */
static int fetch_one(const client *cl, const char *url_path, const char *dest, long long expected,
                     unsigned long long *bytes, md_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.part.XXXXXX", dest);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return md_fail(err, MD_EIO, "cannot create %s: %s", tmp, strerror(errno));
    /* mkstemp() makes the file 0600; give it the mode a plain create would (0666 & ~umask). */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        close(fd);
        unlink(tmp);
        return md_fail(err, MD_EIO, "cannot set the mode of %s: %s", tmp, strerror(errno));
    }
    FILE *f = fdopen(fd, "wb");
    if (f == NULL) {
        close(fd);
        unlink(tmp);
        return md_fail(err, MD_EIO, "cannot open %s: %s", tmp, strerror(errno));
    }
    http_response r = {0};
    unsigned long long written = 0;
    int rc = http_download(&cl->http, url_path, f, &written, &r, err);
    if (rc == 0 && (r.status < 200 || r.status >= 300))
        rc = http_problem(&r, err);
    if (rc == 0 && expected >= 0 && written != (unsigned long long)expected)
        rc = md_fail(err, MD_EIO, "%s: got %llu bytes, the job lists %lld", url_path, written,
                     expected);
    if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = md_fail(err, MD_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = md_fail(err, MD_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = md_fail(err, MD_EIO, "cannot rename %s to %s: %s", tmp, dest, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    http_response_free(&r);
    *bytes = written;
    return rc;
}

/* mkdir -p of the folder that will hold path. */
static int make_parent(const char *path, md_error *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return 0;
    *slash = '\0';
    return md_mkdir_p(dir, err);
}

int client_fetch_job(const client *cl, const char *id, const char *dir, int quiet, md_error *err)
{
    int rc = 0;
    http_response r = {0};
    json_t *job = NULL;
    cli_progress *bar = NULL;
    size_t fetched = 0, skipped = 0;
    unsigned long long total_bytes = 0;
    rc = client_job_get(cl, id, &job, &r, err);
    if (rc == 0)
        rc = md_mkdir_p(dir, err);
    if (rc != 0)
        goto done;
    const char *status = json_string_value(json_object_get(job, "status"));
    const json_t *arts = json_object_get(job, "artifacts");
    if (!jr_status_name_terminal(status))
        fprintf(stderr, "morph: note: job %s is %s; fetching the %zu artifact(s) it has so far\n",
                id, status ? status : "in an unknown state", json_array_size(arts));

    bar = cli_progress_new("artifacts", json_array_size(arts), !quiet);
    size_t i;
    const json_t *a;
    json_array_foreach(arts, i, a)
    {
        const char *name = json_string_value(json_object_get(a, "name"));
        const json_t *bytes_j = json_object_get(a, "bytes");
        long long expected = json_is_integer(bytes_j) ? json_integer_value(bytes_j) : -1;
        char url_path[4096], dest[4096];
        rc = name ? name_check(name, err)
                  : md_fail(err, MD_EINTERNAL, "artifact %zu of the job has no name", i);
        if (rc != 0)
            break;
        if (artifact_path(id, name, url_path, sizeof url_path) != 0 ||
            (size_t)snprintf(dest, sizeof dest, "%s/%s", dir, name) >= sizeof dest) {
            rc = md_fail(err, MD_EINVAL, "artifact '%.200s': path too long", name);
            break;
        }
        struct stat st;
        if (expected >= 0 && stat(dest, &st) == 0 && S_ISREG(st.st_mode) &&
            (long long)st.st_size == expected) {
            skipped++;
            cli_progress_tick(bar);
            continue;
        }
        unsigned long long got = 0;
        rc = make_parent(dest, err);
        if (rc == 0)
            rc = fetch_one(cl, url_path, dest, expected, &got, err);
        if (rc != 0)
            break;
        fetched++;
        total_bytes += got;
        cli_progress_tick(bar);
    }
    cli_progress_free(bar);
    if (rc == 0 && !quiet && skipped > 0)
        printf("fetched %zu artifact(s) to %s (%llu bytes), %zu already there with the right "
               "size\n",
               fetched, dir, total_bytes, skipped);
    else if (rc == 0 && !quiet)
        printf("fetched %zu artifact(s) to %s (%llu bytes)\n", fetched, dir, total_bytes);

done:
    json_decref(job);
    http_response_free(&r);
    return rc;
}

int cli_fetch(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        CLIENT_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    id_opts o = {0};
    client cl = {0};
    md_error err;
    md_error_clear(&err);
    int rc = client_id_parse(argc, argv, "fetch", ":ho:q", longopts, fetch_usage, &o, &cl, &err);
    if (rc == 1)
        return 0;
    if (rc == 0 && o.output == NULL)
        rc = md_fail(&err, MD_EINVAL, "-o DIR is required: the folder to write artifacts to");
    if (rc == 0 && strlen(o.output) > 2048)
        rc = md_fail(&err, MD_EINVAL, "-o: the folder name is longer than 2048 bytes");
    if (rc == 0)
        rc = client_open(&cl, &err);
    if (rc != 0)
        return client_exit("fetch", rc, &err);

    rc = client_fetch_job(&cl, o.id, o.output, o.quiet, &err);
    client_close(&cl);
    return client_exit(NULL, rc, &err);
}
