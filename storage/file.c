/*
 * file.c — the file:// backend of storage.h: the object under key K is the regular file
 * <root>/K, and the folders between are created on demand and removed again when they empty.
 *
 * Called through storage.c from any thread (api thread pool, worker engine threads), so no
 * state here is shared and mutable: the store holds only an fd of the root folder (every path
 * is resolved with the *at() calls relative to it) and the root path for messages. A reader owns
 * an fd and reads with pread, so several threads may read one reader. A writer owns an fd and a
 * temp file and belongs to one thread at a time.
 *
 * Crash safety: a write goes to a temp file in the object's own folder, named ".tmp.<pid>.<n>"
 * (keys cannot have a segment starting with '.', so it never collides with an object and is
 * never listed); it is fsynced, renamed over the key, and then the folder is fsynced. So after a
 * crash the object holds the old or the new complete content. Folders created on the way are
 * made durable by fsyncing their parent. Deletes are not fsynced: a crash right after a delete
 * may bring the object back, whole.
 *
 * Races between threads are settled by the filesystem: a folder that a delete prunes while a
 * put is about to create a file in it makes the put's open fail with ENOENT, and the put then
 * creates the folder again (open_temp retries). A folder holding a temp file is never empty,
 * so it cannot be pruned under a writer. Temp files left by a crash are removed by
 * stg_delete_prefix of a prefix that covers their folder.
 *
 * Limits of the filesystem that S3 has not: a segment longer than NAME_MAX (255 bytes) is
 * refused with MD_EINVAL, and "a" cannot be an object while "a/b" is one (MD_EINVAL, either way).
 */
#define _GNU_SOURCE
#include "storage/storage_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct file_stg {
    stg base;
    int root_fd; /* owned; O_DIRECTORY */
    char *root;  /* owned; absolute path, for messages */
} file_stg;

typedef struct file_writer {
    stg_writer base;
    int fd;                     /* owned; the temp file */
    int failed;                 /* a write failed, so commit must not publish a torn object */
    char key[STG_KEY_MAX + 1];  /* final name, relative to the root */
    char tmp[STG_KEY_MAX + 64]; /* temp name, relative to the root */
} file_writer;

typedef struct file_reader {
    stg_reader base;
    int fd; /* owned */
    char key[STG_KEY_MAX + 1];
} file_reader;

/* Temp name counter, shared by all stores of the process; O_EXCL settles collisions with other
 * processes sharing the folder (two containers may both run as pid 1). */
static atomic_uint tmp_count;

/* ---- Paths and folders ---- */

/* Copies the folder part of key ("a/b" of "a/b/c", "" of "c") into dir; returns its length. */
static size_t key_dir(const char *key, char *dir)
{
    const char *slash = strrchr(key, '/');
    size_t n = slash == NULL ? 0 : (size_t)(slash - key);
    memcpy(dir, key, n);
    dir[n] = '\0';
    return n;
}

static int fsync_dir(file_stg *fs, const char *dir)
{
    int fd = openat(fs->root_fd, dir[0] == '\0' ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Removes dir and then its parents while they are empty. Best effort: a folder that is not
 * empty (or already gone) ends it. */
static void prune_dirs(file_stg *fs, const char *dir)
{
    char path[STG_KEY_MAX + 1];
    size_t n = strlen(dir);
    memcpy(path, dir, n + 1);
    while (n > 0) {
        if (unlinkat(fs->root_fd, path, AT_REMOVEDIR) != 0)
            return;
        while (n > 0 && path[n - 1] != '/')
            n--;
        if (n > 0)
            n--;
        path[n] = '\0';
    }
}

#define RETRY 1 /* a folder vanished under us (pruned by a delete): start over */

/* Creates the folders of dir below the root, fsyncing the parent of each one it creates.
 * Returns 0, RETRY, or a negative code. */
static int ensure_dirs(file_stg *fs, const char *key, const char *dir, md_error *err)
{
    char path[STG_KEY_MAX + 1];
    char q[STG_QUOTE_CAP];
    size_t n = strlen(dir);
    if (n == 0)
        return 0;
    memcpy(path, dir, n + 1);
    for (size_t i = 0; i <= n; i++) {
        if (i < n && dir[i] != '/')
            continue;
        path[i] = '\0';
        if (mkdirat(fs->root_fd, path, 0755) == 0) {
            char parent[STG_KEY_MAX + 1];
            key_dir(path, parent);
            if (fsync_dir(fs, parent) != 0) {
                if (errno == ENOENT)
                    return RETRY;
                return md_fail(err, MD_EIO, "cannot sync folder %s/%s: %s", fs->root, parent,
                               strerror(errno));
            }
        } else if (errno == ENOENT) {
            return RETRY;
        } else if (errno == ENOTDIR) {
            return md_fail(err, MD_EINVAL,
                           "cannot store %s in %s: part of its path is an object, not a folder",
                           stg_key_quote(key, q, sizeof q), fs->base.url);
        } else if (errno == ENAMETOOLONG) {
            return md_fail(err, MD_EINVAL,
                           "cannot store %s in %s: a segment is longer than %d bytes",
                           stg_key_quote(key, q, sizeof q), fs->base.url, NAME_MAX);
        } else if (errno != EEXIST) {
            return md_fail(err, MD_EIO, "cannot create folder %s/%s: %s", fs->root, path,
                           strerror(errno));
        }
        path[i] = dir[i];
    }
    return 0;
}

/* ---- Writing ---- */

static void writer_free(file_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    md_free(w);
}

static int file_writer_open(stg *s, const char *key, stg_writer **out, md_error *err)
{
    file_stg *fs = (file_stg *)s;
    char q[STG_QUOTE_CAP];
    file_writer *w = md_calloc(1, sizeof *w);
    if (w == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory opening a writer for %s",
                       stg_key_quote(key, q, sizeof q));
    w->base.store = s;
    w->fd = -1;
    snprintf(w->key, sizeof w->key, "%s", key);
    char dir[STG_KEY_MAX + 1];
    size_t dlen = key_dir(key, dir);
    int rc = 0;
    /* Each retry means another thread pruned or took our name meanwhile; that does not go on
     * for long, but the bound keeps a broken filesystem from spinning us forever. */
    for (int attempt = 0; attempt < 100; attempt++) {
        rc = ensure_dirs(fs, key, dir, err);
        if (rc < 0)
            goto done;
        if (rc == RETRY)
            continue;
        snprintf(w->tmp, sizeof w->tmp, "%s%s.tmp.%ld.%u", dir, dlen > 0 ? "/" : "", (long)getpid(),
                 atomic_fetch_add(&tmp_count, 1u));
        w->fd = openat(fs->root_fd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (w->fd >= 0)
            break;
        if (errno == ENOENT || errno == EEXIST) {
            rc = RETRY;
            continue;
        }
        if (errno == ENOTDIR)
            rc = md_fail(err, MD_EINVAL,
                         "cannot store %s in %s: part of its path is an object, not a folder",
                         stg_key_quote(key, q, sizeof q), s->url);
        else
            rc = md_fail(err, MD_EIO, "cannot create %s/%s: %s", fs->root, w->tmp, strerror(errno));
        goto done;
    }
    if (w->fd < 0)
        rc = md_fail(err, MD_EIO,
                     "cannot create a temp file for %s in %s: its folder kept "
                     "vanishing",
                     stg_key_quote(key, q, sizeof q), s->url);
done:
    if (rc != 0) {
        writer_free(w);
        return rc;
    }
    *out = &w->base;
    return 0;
}

static int file_writer_write(stg_writer *base, const void *data, size_t len, md_error *err)
{
    file_writer *w = (file_writer *)base;
    file_stg *fs = (file_stg *)base->store;
    if (w->failed)
        return md_fail(err, MD_EIO, "writer for %s/%s already failed", fs->root, w->key);
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            w->failed = 1;
            return md_fail(err, MD_EIO, "cannot write %s/%s: %s", fs->root, w->tmp,
                           strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void file_writer_abort(stg_writer *base)
{
    file_writer *w = (file_writer *)base;
    file_stg *fs = (file_stg *)base->store;
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    unlinkat(fs->root_fd, w->tmp, 0);
    char dir[STG_KEY_MAX + 1];
    key_dir(w->key, dir);
    prune_dirs(fs, dir);
    writer_free(w);
}

static int file_writer_commit(stg_writer *base, md_error *err)
{
    file_writer *w = (file_writer *)base;
    file_stg *fs = (file_stg *)base->store;
    char q[STG_QUOTE_CAP];
    int rc = 0;
    if (w->failed) {
        rc =
            md_fail(err, MD_EIO, "not committing %s/%s: an earlier write failed", fs->root, w->key);
        goto fail;
    }
    if (fsync(w->fd) != 0) {
        rc = md_fail(err, MD_EIO, "cannot sync %s/%s: %s", fs->root, w->tmp, strerror(errno));
        goto fail;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        rc = md_fail(err, MD_EIO, "cannot write %s/%s: %s", fs->root, w->tmp, strerror(errno));
        goto fail;
    }
    if (renameat(fs->root_fd, w->tmp, fs->root_fd, w->key) != 0) {
        int e = errno;
        if (e == EISDIR || e == ENOTEMPTY || e == EEXIST)
            rc = md_fail(err, MD_EINVAL,
                         "cannot store %s in %s: other objects' keys start with %s/, and a "
                         "key cannot be both an object and a folder here",
                         stg_key_quote(w->key, q, sizeof q), base->store->url, w->key);
        else if (e == ENOENT)
            rc = md_fail(err, MD_EIO,
                         "cannot store %s in %s: its temp file was deleted while it was written "
                         "(a delete of its prefix?)",
                         stg_key_quote(w->key, q, sizeof q), base->store->url);
        else
            rc = md_fail(err, MD_EIO, "cannot rename %s/%s to %s/%s: %s", fs->root, w->tmp,
                         fs->root, w->key, strerror(e));
        goto fail;
    }
    char dir[STG_KEY_MAX + 1];
    key_dir(w->key, dir);
    if (fsync_dir(fs, dir) != 0 && errno != ENOENT)
        rc = md_fail(err, MD_EIO, "stored %s/%s but cannot sync its folder: %s", fs->root, w->key,
                     strerror(errno));
    writer_free(w);
    return rc;
fail:
    file_writer_abort(base);
    return rc;
}

static int file_put(stg *s, const char *key, const void *data, size_t len, md_error *err)
{
    stg_writer *w = NULL;
    int rc = file_writer_open(s, key, &w, err);
    if (rc != 0)
        return rc;
    rc = file_writer_write(w, data, len, err);
    if (rc != 0) {
        file_writer_abort(w);
        return rc;
    }
    return file_writer_commit(w, err);
}

/* ---- Reading ---- */

static int not_found(file_stg *fs, const char *key, md_error *err)
{
    char q[STG_QUOTE_CAP];
    return md_fail(err, MD_ENOENT, "no object %s in %s", stg_key_quote(key, q, sizeof q),
                   fs->base.url);
}

static int file_reader_open(stg *s, const char *key, stg_reader **out, md_error *err)
{
    file_stg *fs = (file_stg *)s;
    /* O_NONBLOCK so a FIFO someone left at a key's path cannot hang us; regular files ignore
     * it. O_NOFOLLOW: the store does not follow links. */
    int fd = openat(fs->root_fd, key, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == ENAMETOOLONG)
            return not_found(fs, key, err);
        return md_fail(err, MD_EIO, "cannot open %s/%s: %s", fs->root, key, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = md_fail(err, MD_EIO, "cannot stat %s/%s: %s", fs->root, key, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return not_found(fs, key, err);
    }
    file_reader *r = md_calloc(1, sizeof *r);
    if (r == NULL) {
        close(fd);
        return md_fail(err, MD_ENOMEM, "out of memory opening %s/%s", fs->root, key);
    }
    r->base.store = s;
    r->base.size = (uint64_t)st.st_size;
    r->fd = fd;
    snprintf(r->key, sizeof r->key, "%s", key);
    *out = &r->base;
    return 0;
}

static int64_t file_reader_read(stg_reader *base, uint64_t offset, void *buf, size_t cap,
                                md_error *err)
{
    file_reader *r = (file_reader *)base;
    file_stg *fs = (file_stg *)base->store;
    size_t got = 0;
    while (got < cap) {
        ssize_t n = pread(r->fd, (char *)buf + got, cap - got, (off_t)(offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return md_fail(err, MD_EIO, "cannot read %s/%s at byte %llu: %s", fs->root, r->key,
                           (unsigned long long)(offset + got), strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (int64_t)got;
}

static void file_reader_close(stg_reader *base)
{
    file_reader *r = (file_reader *)base;
    close(r->fd);
    md_free(r);
}

static int file_head(stg *s, const char *key, uint64_t *size, md_error *err)
{
    file_stg *fs = (file_stg *)s;
    struct stat st;
    if (fstatat(fs->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)
            return not_found(fs, key, err);
        return md_fail(err, MD_EIO, "cannot stat %s/%s: %s", fs->root, key, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return not_found(fs, key, err);
    *size = (uint64_t)st.st_size;
    return 0;
}

/* ---- Deleting ---- */

static int file_delete(stg *s, const char *key, md_error *err)
{
    file_stg *fs = (file_stg *)s;
    if (unlinkat(fs->root_fd, key, 0) != 0) {
        int e = errno;
        struct stat st;
        /* Absent, or a folder (EISDIR on Linux, EPERM in POSIX): no object by that key. */
        if (e == ENOENT || e == ENOTDIR || e == EISDIR || e == ENAMETOOLONG)
            return 0;
        if (e == EPERM && fstatat(fs->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode))
            return 0;
        return md_fail(err, MD_EIO, "cannot delete %s/%s: %s", fs->root, key, strerror(e));
    }
    char dir[STG_KEY_MAX + 1];
    key_dir(key, dir);
    prune_dirs(fs, dir);
    return 0;
}

/* ---- Walking: stg_list and stg_delete_prefix ---- */

typedef struct walk_item {
    char *key; /* owned */
    uint64_t size;
} walk_item;

typedef struct walk {
    file_stg *fs;
    const char *prefix;
    size_t plen;
    int remove; /* delete what matches instead of collecting it */
    int sweep;  /* delete only other processes' temp files (stg_sweep_partial) */
    size_t swept;
    walk_item *items; /* owned; collected when listing */
    size_t count, cap;
    md_error *err;
} walk;

/* True when everything in folder rel (of rlen bytes, "" = root) has keys starting with prefix:
 * rel + "/" starts with prefix. */
static int folder_under(const walk *wk, const char *rel, size_t rlen)
{
    if (rlen == 0)
        return wk->plen == 0;
    if (wk->plen <= rlen)
        return memcmp(rel, wk->prefix, wk->plen) == 0;
    return wk->plen == rlen + 1 && memcmp(rel, wk->prefix, rlen) == 0 && wk->prefix[rlen] == '/';
}

/* True when some key in folder rel may start with prefix. */
static int folder_overlaps(const walk *wk, const char *rel, size_t rlen)
{
    return folder_under(wk, rel, rlen) ||
           (wk->plen > rlen && memcmp(wk->prefix, rel, rlen) == 0 && wk->prefix[rlen] == '/');
}

static int walk_collect(walk *wk, const char *key, size_t klen, uint64_t size)
{
    if (wk->count == wk->cap) {
        size_t cap = wk->cap == 0 ? 64 : wk->cap * 2;
        walk_item *items = md_realloc_array(wk->items, cap, sizeof *items);
        if (items == NULL)
            return md_fail(wk->err, MD_ENOMEM, "out of memory listing %s", wk->fs->base.url);
        wk->items = items;
        wk->cap = cap;
    }
    char *copy = md_strndup(key, klen);
    if (copy == NULL)
        return md_fail(wk->err, MD_ENOMEM, "out of memory listing %s", wk->fs->base.url);
    wk->items[wk->count].key = copy;
    wk->items[wk->count].size = size;
    wk->count++;
    return 0;
}

/* ".tmp.<pid>.<n>" of a process other than this one. */
static int foreign_temp(const char *name)
{
    if (strncmp(name, ".tmp.", 5) != 0)
        return 0;
    char *end;
    long pid = strtol(name + 5, &end, 10);
    return end != name + 5 && *end == '.' && pid != (long)getpid();
}

/* Walks folder path[0..rlen) (path is a buffer of WALK_PATH_CAP bytes that the walk extends
 * and restores). Recursion is bounded by the key length: at most STG_KEY_MAX / 2 levels. */
#define WALK_PATH_CAP (STG_KEY_MAX + NAME_MAX + 2)

static int walk_dir(walk *wk, char *path, size_t rlen)
{
    file_stg *fs = wk->fs;
    int dfd = openat(fs->root_fd, rlen == 0 ? "." : path,
                     O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
            return 0; /* nothing stored there */
        return md_fail(wk->err, MD_EIO, "cannot open folder %s/%s: %s", fs->root, path,
                       strerror(errno));
    }
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        int rc = md_fail(wk->err, MD_EIO, "cannot read folder %s/%s: %s", fs->root, path,
                         strerror(errno));
        close(dfd);
        return rc;
    }
    int under = folder_under(wk, path, rlen);
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                rc = md_fail(wk->err, MD_EIO, "cannot read folder %s/%s: %s", fs->root, path,
                             strerror(errno));
            break;
        }
        const char *name = de->d_name;
        size_t nlen = strlen(name);
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* deleted meanwhile */
        if (name[0] == '.' && wk->sweep) {
            if (under && S_ISREG(st.st_mode) && foreign_temp(name)) {
                if (unlinkat(dfd, name, 0) == 0)
                    wk->swept++;
                else if (errno != ENOENT)
                    rc = md_fail(wk->err, MD_EIO, "cannot delete %s/%s/%s: %s", fs->root, path,
                                 name, strerror(errno));
                if (rc != 0)
                    break;
            }
            continue;
        }
        if (name[0] == '.') {
            /* A temp file: never listed; removed with the folder it is in. */
            if (wk->remove && under && S_ISREG(st.st_mode) && unlinkat(dfd, name, 0) != 0 &&
                errno != ENOENT) {
                rc = md_fail(wk->err, MD_EIO, "cannot delete %s/%s/%s: %s", fs->root, path, name,
                             strerror(errno));
                break;
            }
            continue;
        }
        size_t clen = rlen + (rlen > 0) + nlen;
        if (!stg_segment_ok(name, nlen) || clen > STG_KEY_MAX)
            continue; /* not something the store wrote */
        if (rlen > 0)
            path[rlen] = '/';
        memcpy(path + rlen + (rlen > 0), name, nlen + 1);
        if (S_ISDIR(st.st_mode)) {
            if (folder_overlaps(wk, path, clen)) {
                rc = walk_dir(wk, path, clen);
                if (rc == 0 && wk->remove && folder_under(wk, path, clen))
                    unlinkat(dfd, name, AT_REMOVEDIR); /* fails if a writer is busy there */
            }
        } else if (S_ISREG(st.st_mode) && clen >= wk->plen &&
                   memcmp(path, wk->prefix, wk->plen) == 0) {
            if (wk->sweep)
                ; /* committed objects stay */
            else if (!wk->remove)
                rc = walk_collect(wk, path, clen, (uint64_t)st.st_size);
            else if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
                rc = md_fail(wk->err, MD_EIO, "cannot delete %s/%s: %s", fs->root, path,
                             strerror(errno));
        }
        path[rlen] = '\0';
        if (rc != 0)
            break;
    }
    closedir(d);
    return rc;
}

/* Starts a walk in the deepest folder the prefix names in full ("jobs/abc" for "jobs/abc/",
 * "jobs" for "jobs/ab", the root for "jobs"). */
static int walk_run(walk *wk, char *path)
{
    const char *slash = strrchr(wk->prefix, '/');
    size_t rlen = slash == NULL ? 0 : (size_t)(slash - wk->prefix);
    memcpy(path, wk->prefix, rlen);
    path[rlen] = '\0';
    int rc = walk_dir(wk, path, rlen);
    if (rc == 0 && wk->remove) {
        path[rlen] = '\0';
        prune_dirs(wk->fs, path);
    }
    return rc;
}

static int file_delete_prefix(stg *s, const char *prefix, md_error *err)
{
    char path[WALK_PATH_CAP];
    walk wk = {
        .fs = (file_stg *)s, .prefix = prefix, .plen = strlen(prefix), .remove = 1, .err = err};
    return walk_run(&wk, path);
}

static int file_sweep_partial(stg *s, const char *prefix, size_t *removed, md_error *err)
{
    char path[WALK_PATH_CAP];
    walk wk = {
        .fs = (file_stg *)s, .prefix = prefix, .plen = strlen(prefix), .sweep = 1, .err = err};
    int rc = walk_run(&wk, path);
    if (removed != NULL)
        *removed = wk.swept;
    return rc;
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const walk_item *)a)->key, ((const walk_item *)b)->key);
}

static int file_list(stg *s, const char *prefix, stg_list_fn fn, void *user, md_error *err)
{
    char path[WALK_PATH_CAP];
    walk wk = {.fs = (file_stg *)s, .prefix = prefix, .plen = strlen(prefix), .err = err};
    int rc = walk_run(&wk, path);
    if (rc == 0) {
        /* Folders are read in no particular order, and '/' sorts after '-' and '.', so the
         * byte order of whole keys needs a sort of its own. */
        if (wk.count > 1)
            qsort(wk.items, wk.count, sizeof *wk.items, item_cmp);
        for (size_t i = 0; i < wk.count; i++) {
            if (fn(user, wk.items[i].key, wk.items[i].size) != 0)
                break;
        }
    }
    for (size_t i = 0; i < wk.count; i++)
        md_free(wk.items[i].key);
    md_free(wk.items);
    return rc;
}

/* ---- Store ---- */

static void file_destroy(stg *s)
{
    file_stg *fs = (file_stg *)s;
    close(fs->root_fd);
    md_free(fs->root);
    md_free(fs->base.url);
    md_free(fs);
}

static const stg_vtable file_vtable = {
    .destroy = file_destroy,
    .put = file_put,
    .writer_open = file_writer_open,
    .writer_write = file_writer_write,
    .writer_commit = file_writer_commit,
    .writer_abort = file_writer_abort,
    .reader_open = file_reader_open,
    .reader_read = file_reader_read,
    .reader_close = file_reader_close,
    .head = file_head,
    .del = file_delete,
    .delete_prefix = file_delete_prefix,
    .sweep_partial = file_sweep_partial,
    .presign_get = NULL, /* files have no URL a client could fetch: callers stream */
    .list = file_list,
};

int stg_file_open(const char *root, const char *url, stg **out, md_error *err)
{
    int rc = md_mkdir_p(root, err);
    if (rc != 0) {
        if (err != NULL)
            md_error_prefix(err, "cannot open storage %s: ", url);
        return rc;
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return md_fail(err, errno == ENOTDIR ? MD_EINVAL : MD_EIO, "cannot open storage %s: %s: %s",
                       url, root, strerror(errno));
    file_stg *fs = md_calloc(1, sizeof *fs);
    if (fs == NULL) {
        close(fd);
        return md_fail(err, MD_ENOMEM, "out of memory opening storage %s", url);
    }
    fs->base.vt = &file_vtable;
    fs->root_fd = fd;
    fs->root = md_strdup(root);
    fs->base.url = md_strdup(url);
    if (fs->root == NULL || fs->base.url == NULL) {
        file_destroy(&fs->base);
        return md_fail(err, MD_ENOMEM, "out of memory opening storage %s", url);
    }
    *out = &fs->base;
    return 0;
}
