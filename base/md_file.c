/*
 * md_file.c — small filesystem helpers shared by the CLI and the storage layer: bounded whole-file
 * reads, atomic writes (temp file + rename) and mkdir -p. Thread-safe; errors name the path.
 */
#define _GNU_SOURCE
#include "base/md.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double md_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int md_read_file(const char *path, uint64_t max_bytes, char **out, size_t *len, md_error *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return md_fail(err, errno == ENOENT ? MD_ENOENT : MD_EIO, "cannot open %s: %s", path,
                       strerror(errno));
    int rc = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = md_fail(err, MD_EIO, "cannot stat %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = md_fail(err, MD_EINVAL, "%s is not a regular file", path);
        goto done;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        rc = md_fail(err, MD_ELIMIT, "%s is %lld bytes, more than the limit of %llu bytes", path,
                     (long long)st.st_size, (unsigned long long)max_bytes);
        goto done;
    }
    size_t size = (size_t)st.st_size;
    buf = md_malloc(size + 1);
    if (buf == NULL) {
        rc = md_fail(err, MD_ENOMEM, "out of memory reading %s (%zu bytes)", path, size);
        goto done;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = md_fail(err, MD_EIO, "cannot read %s: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break; /* the file shrank while we read it: use what is there */
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    buf = NULL;
done:
    md_free(buf);
    close(fd);
    return rc;
}

int md_write_file_atomic(const char *path, const void *data, size_t len, md_error *err)
{
    size_t plen = strlen(path);
    char *tmp = md_malloc(plen + 32);
    if (tmp == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory writing %s", path);
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)gettid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = md_fail(err, MD_EIO, "cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = md_fail(err, MD_EIO, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            goto done;
        }
        p += n;
        left -= (size_t)n;
    }
    if (close(fd) != 0) {
        rc = md_fail(err, MD_EIO, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        rc = md_fail(err, MD_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
    }
done:
    md_free(tmp);
    return rc;
}

int md_mkdir_p(const char *path, md_error *err)
{
    char *copy = md_strdup(path);
    if (copy == NULL)
        return md_fail(err, MD_ENOMEM, "out of memory");
    int rc = 0;
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            rc = md_fail(err, MD_EIO, "cannot create directory %s: %s", copy, strerror(errno));
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    md_free(copy);
    return rc;
}
