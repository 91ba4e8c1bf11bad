/*
 * tmp.c — the api's private temp folder for partial uploads ($TMPDIR/morphd-api-XXXXXX), and the
 * sweep of the folders that api processes killed without a chance to clean up (kill -9, the OOM
 * killer, a lost machine) left behind.
 *
 * api_run calls api_tmp_start before the loop and api_tmp_stop after it, on the main thread;
 * api_rm_tree is also called by intake.c for a request's folder, on any thread (no shared state).
 *
 * Liveness: each api holds an exclusive flock on <root>/.lock for its whole life; the kernel
 * drops it when the process dies, however it dies. The lock file is made under another name,
 * locked, and only then renamed to .lock, so no sweeper can ever find an unlocked .lock in a live
 * api's folder. At start the api sweeps $TMPDIR/morphd-api-*: a folder whose .lock it can lock
 * (non-blocking) belongs to a dead api and is removed while the sweeper holds the lock; a folder
 * without a .lock (made by an api older than this scheme, or caught between mkdtemp and the
 * rename) is removed only when its mtime is over API_TMP_LEGACY_AGE_S old. Only real folders
 * owned by our effective uid are considered, and removal works on descriptors (openat with
 * O_NOFOLLOW, unlinkat), so a symlink is removed as a name and never followed, and a folder
 * swapped for a link mid-sweep is not entered.
 */
#define _GNU_SOURCE
#include "api/api_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX "morphd-api-"
#define TMP_LOCK ".lock"
#define TMP_LOCK_NEW ".lock.new"
#define TMP_DEPTH_MAX 16 /* our trees are root/req-XXXXXX/part; deeper is not ours */

/* ---- Removing a tree without following links ---- */

/* Removes everything inside the open folder dfd (borrowed); adds the sizes of the regular files
 * removed to *bytes. Returns 0 when the folder is empty afterwards. */
static int rm_contents(int dfd, int depth, uint64_t *bytes)
{
    if (depth > TMP_DEPTH_MAX)
        return -1;
    /* Unlinking while reading may hide entries from readdir; a second round finds them. */
    for (int round = 0; round < 3; round++) {
        int copy = dup(dfd);
        DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
        if (d == NULL) {
            if (copy >= 0)
                close(copy);
            return -1;
        }
        rewinddir(d);
        int removed = 0, left = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            const char *name = de->d_name;
            if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                continue;
            struct stat st;
            if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue; /* gone meanwhile */
            if (S_ISDIR(st.st_mode)) {
                int cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd >= 0) {
                    rm_contents(cfd, depth + 1, bytes);
                    close(cfd);
                }
                if (unlinkat(dfd, name, AT_REMOVEDIR) == 0)
                    removed++;
                else
                    left++;
            } else if (unlinkat(dfd, name, 0) == 0) {
                if (S_ISREG(st.st_mode))
                    *bytes += (uint64_t)st.st_size;
                removed++;
            } else {
                left++;
            }
        }
        closedir(d);
        if (left == 0 && removed == 0)
            return 0;
        if (left > 0 && removed == 0)
            return -1; /* no progress */
    }
    return 0;
}

/* Removes name (a folder, or anything else as a plain name) under the open folder pfd. */
static int rm_at(int pfd, const char *name, uint64_t *bytes)
{
    int dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? 0 : unlinkat(pfd, name, 0);
    rm_contents(dfd, 0, bytes);
    close(dfd);
    return unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

void api_rm_tree(const char *path)
{
    uint64_t bytes = 0;
    rm_at(AT_FDCWD, path, &bytes);
}

/* ---- The sweep ---- */

typedef struct sweep_stats {
    unsigned removed;
    unsigned live;
    unsigned young;
    uint64_t bytes;
} sweep_stats;

/* Decides about one candidate folder name under pfd and removes it when its api is gone. */
static void sweep_one(int pfd, const char *parent, const char *name, time_t now, sweep_stats *ss)
{
    struct stat st;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != geteuid())
        return; /* a link, a file, or another user's: not ours to judge */
    int dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    struct stat again;
    int lfd = -1;
    if (fstat(dfd, &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino)
        goto done; /* swapped under us */
    lfd = openat(dfd, TMP_LOCK, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    const char *why;
    char age[64];
    if (lfd >= 0) {
        if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
            ss->live++; /* its api is alive (or another sweeper is removing it) */
            goto done;
        }
        why = "its api is gone";
    } else {
        double hours = difftime(now, st.st_mtime) / 3600.0;
        if (errno != ENOENT || difftime(now, st.st_mtime) < API_TMP_LEGACY_AGE_S) {
            ss->young++;
            goto done;
        }
        snprintf(age, sizeof age, "no lock file, %.1f h old", hours);
        why = age;
    }
    uint64_t bytes = 0;
    /* Holding the dead api's lock while removing keeps a second sweeper out. */
    rm_contents(dfd, 0, &bytes);
    if (unlinkat(pfd, name, AT_REMOVEDIR) == 0) {
        ss->removed++;
        ss->bytes += bytes;
        md_log(MD_LOG_INFO, "removed upload temp folder %s/%s (%s; %llu bytes)", parent, name, why,
               (unsigned long long)bytes);
    } else if (errno != ENOENT) {
        md_log(MD_LOG_WARN, "cannot remove upload temp folder %s/%s (%s): %s", parent, name, why,
               strerror(errno));
    }
done:
    if (lfd >= 0)
        close(lfd);
    close(dfd);
}

static void sweep(const char *parent, const char *own)
{
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int copy = pfd >= 0 ? dup(pfd) : -1;
    DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
    if (d == NULL) {
        md_log(MD_LOG_WARN, "cannot read %s to sweep old upload temp folders: %s", parent,
               strerror(errno));
        if (copy >= 0)
            close(copy);
        if (pfd >= 0)
            close(pfd);
        return;
    }
    sweep_stats ss = {0};
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
            strcmp(de->d_name, own) != 0)
            sweep_one(pfd, parent, de->d_name, now, &ss);
    }
    closedir(d);
    close(pfd);
    /* A warning: an api died without cleaning up, which an operator may want to know. */
    if (ss.removed > 0)
        md_log(MD_LOG_WARN,
               "swept %u upload temp folder(s) of api processes that are gone from %s (%llu "
               "bytes); %u in use kept",
               ss.removed, parent, (unsigned long long)ss.bytes, ss.live);
    else
        md_log(MD_LOG_DEBUG, "no upload temp folder to sweep in %s (%u in use, %u recent)", parent,
               ss.live, ss.young);
}

/* ---- Our own folder ---- */

int api_tmp_start(api_server *s, md_error *err)
{
    const char *tmp = getenv("TMPDIR");
    const char *parent = tmp && tmp[0] ? tmp : "/tmp";
    int n = snprintf(s->tmp_root, sizeof s->tmp_root, "%s/" TMP_PREFIX "XXXXXX", parent);
    if (n < 0 || (size_t)n >= sizeof s->tmp_root) {
        s->tmp_root[0] = '\0';
        return md_fail(err, MD_EINVAL, "TMPDIR is too long: %s", parent);
    }
    if (mkdtemp(s->tmp_root) == NULL) {
        int e = errno;
        s->tmp_root[0] = '\0';
        return md_fail(err, MD_EIO, "cannot create a temp folder under %s: %s", parent,
                       strerror(e));
    }
    int rc = 0;
    int dfd = open(s->tmp_root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int lfd = dfd < 0 ? -1
                      : openat(dfd, TMP_LOCK_NEW,
                               O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0 ||
        renameat(dfd, TMP_LOCK_NEW, dfd, TMP_LOCK) != 0) {
        rc = md_fail(err, MD_EIO, "cannot make the lock file of %s: %s", s->tmp_root,
                     strerror(errno));
        if (lfd >= 0)
            close(lfd);
        lfd = -1;
    } else {
        char text[64];
        int len = snprintf(text, sizeof text, "morphd api pid %ld\n", (long)getpid());
        if (write(lfd, text, (size_t)len) < 0)
            md_log(MD_LOG_DEBUG, "%s/" TMP_LOCK ": %s", s->tmp_root, strerror(errno));
    }
    if (dfd >= 0)
        close(dfd);
    if (rc != 0) {
        api_rm_tree(s->tmp_root);
        s->tmp_root[0] = '\0';
        return rc;
    }
    s->tmp_lock_fd = lfd;
    md_log(MD_LOG_DEBUG, "upload temp folder %s", s->tmp_root);
    sweep(parent, strrchr(s->tmp_root, '/') + 1);
    return 0;
}

void api_tmp_stop(api_server *s)
{
    if (s->tmp_root[0])
        api_rm_tree(s->tmp_root);
    s->tmp_root[0] = '\0';
    if (s->tmp_lock_fd >= 0)
        close(s->tmp_lock_fd);
    s->tmp_lock_fd = -1;
}
