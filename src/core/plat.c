/* plat.c — files, directories and clocks on Linux (POSIX). */
#include "plat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

kx_status kx_status_from_errno(int err)
{
    switch (err) {
    case 0: return STATUS_SUCCESS;
    case ENOENT: return STATUS_NO_SUCH_FILE;
    case ENOTDIR: return STATUS_NOT_A_DIRECTORY;
    case ELOOP: return STATUS_TOO_MANY_SYMLINKS; /* a link loop is the user's to fix, not I/O */
    case EACCES:
    case EPERM: return STATUS_ACCESS_DENIED;
    case ENOMEM:
    case EMFILE:
    case ENFILE: return STATUS_INSUFFICIENT_RESOURCES;
    case EBUSY: return STATUS_DEVICE_BUSY;
    case EINVAL: return STATUS_INVALID_PARAMETER;
    case ENAMETOOLONG: return STATUS_OBJECT_NAME_INVALID;
    case ETIMEDOUT: return STATUS_TIMEOUT;
    case ECONNREFUSED: return STATUS_CONNECTION_REFUSED;
    case EPIPE:
    case ECONNRESET: return STATUS_CONNECTION_LOST;
    case EFBIG: return STATUS_BUFFER_TOO_SMALL;
    default: return STATUS_IO_ERROR;
    }
}

kx_status kx_plat_mkdir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0)
        return STATUS_SUCCESS;
    return errno == EEXIST ? STATUS_OBJECT_NAME_COLLISION : kx_status_from_errno(errno);
}

static void fill_stat(const struct stat *s, struct kx_plat_stat *st)
{
    st->is_dir = S_ISDIR(s->st_mode);
    st->is_reg = S_ISREG(s->st_mode);
    st->is_link = S_ISLNK(s->st_mode);
    st->uid = s->st_uid;
    st->gid = s->st_gid;
    st->mode = s->st_mode & 07777;
    st->mtime_ns = (int64_t)s->st_mtim.tv_sec * 1000000000LL + s->st_mtim.tv_nsec;
    st->size = (int64_t)s->st_size;
    st->dev = (uint64_t)s->st_dev;
    st->ino = (uint64_t)s->st_ino;
}

kx_status kx_plat_stat(const char *path, struct kx_plat_stat *st)
{
    struct stat s;
    if (stat(path, &s) != 0)
        return kx_status_from_errno(errno);
    fill_stat(&s, st);
    return STATUS_SUCCESS;
}

kx_status kx_plat_lstat(const char *path, struct kx_plat_stat *st)
{
    struct stat s;
    if (lstat(path, &s) != 0)
        return kx_status_from_errno(errno);
    fill_stat(&s, st);
    return STATUS_SUCCESS;
}

kx_status kx_plat_read_file(const char *path, size_t max_len, void **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kx_status_from_errno(errno);
    struct stat s;
    if (fstat(fd, &s) != 0) {
        kx_status st = kx_status_from_errno(errno);
        close(fd);
        return st;
    }
    if (!S_ISREG(s.st_mode)) { /* a folder or a device is not a file we read */
        close(fd);
        return STATUS_INVALID_PARAMETER;
    }
    if ((uint64_t)s.st_size > max_len) {
        close(fd);
        return STATUS_BUFFER_TOO_SMALL;
    }
    size_t len = (size_t)s.st_size;
    char *buf = malloc(len + 1);
    if (!buf) {
        close(fd);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* shrank underneath us, or an I/O error */
            kx_status st = r < 0 ? kx_status_from_errno(errno) : STATUS_IO_ERROR;
            free(buf);
            close(fd);
            return st;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return STATUS_SUCCESS;
}

kx_status kx_plat_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        kx_status st = kx_status_from_errno(errno);
        free(tmp);
        return st;
    }
    const char *p = data;
    size_t done = 0;
    kx_status st = STATUS_SUCCESS;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = kx_status_from_errno(w < 0 ? errno : EIO);
            break;
        }
        done += (size_t)w;
    }
    if (st == STATUS_SUCCESS && fchmod(fd, mode) != 0)
        st = kx_status_from_errno(errno);
    if (close(fd) != 0 && st == STATUS_SUCCESS)
        st = kx_status_from_errno(errno);
    if (st == STATUS_SUCCESS && rename(tmp, path) != 0)
        st = kx_status_from_errno(errno);
    if (st != STATUS_SUCCESS)
        unlink(tmp);
    free(tmp);
    return st;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

kx_status kx_plat_list_dir(const char *path, char ***names, size_t *n_names)
{
    *names = NULL;
    *n_names = 0;
    DIR *dir = opendir(path);
    if (!dir)
        return kx_status_from_errno(errno);
    char **v = NULL;
    size_t n = 0, cap = 0;
    kx_status st = STATUS_SUCCESS;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                st = STATUS_INSUFFICIENT_RESOURCES;
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(e->d_name))) {
            st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        n++;
    }
    closedir(dir);
    if (st != STATUS_SUCCESS) {
        kx_plat_free_names(v, n);
        return st;
    }
    if (n)
        qsort(v, n, sizeof *v, compare_names);
    *names = v;
    *n_names = n;
    return STATUS_SUCCESS;
}

void kx_plat_free_names(char **names, size_t n_names)
{
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
}

kx_status kx_plat_readlink(const char *path, char **target)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return kx_status_from_errno(errno);
    buf[n] = '\0';
    *target = strdup(buf);
    return *target ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

kx_status kx_plat_realpath(const char *path, char **out)
{
    *out = realpath(path, NULL);
    return *out ? STATUS_SUCCESS : kx_status_from_errno(errno);
}

kx_status kx_plat_set_mtime(const char *path, int64_t mtime_ns)
{
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = (time_t)(mtime_ns / 1000000000LL);
    ts[0].tv_nsec = ts[1].tv_nsec = (long)(mtime_ns % 1000000000LL);
    if (utimensat(AT_FDCWD, path, ts, 0) != 0)
        return kx_status_from_errno(errno);
    return STATUS_SUCCESS;
}

void kx_plat_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

uint64_t kx_plat_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int64_t kx_plat_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

char *kx_plat_path_join(const char *a, const char *b)
{
    char *out = NULL;
    size_t la = strlen(a);
    const char *sep = la && a[la - 1] == '/' ? "" : "/";
    if (asprintf(&out, "%s%s%s", a, sep, b) < 0)
        return NULL;
    return out;
}
