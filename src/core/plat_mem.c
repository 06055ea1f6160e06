/* plat_mem.c — memfd-backed files for executables held in memory (Linux). */
#include "plat_mem.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

kx_status kx_plat_memfd_from_bytes(const char *name, const void *data, size_t len, int *fd)
{
    *fd = -1;
    int m = memfd_create(name && *name ? name : "kx-memfd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (m < 0)
        return errno == ENOSYS ? STATUS_NOT_SUPPORTED : kx_status_from_errno(errno);
    const char *p = data;
    size_t done = 0;
    kx_status st = STATUS_SUCCESS;
    while (done < len) {
        ssize_t w = write(m, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = w < 0 ? kx_status_from_errno(errno) : STATUS_IO_ERROR;
            break;
        }
        done += (size_t)w;
    }
    /* Sealed, so nothing can change the bytes between the caller's check and the mapping. */
    if (st == STATUS_SUCCESS &&
        fcntl(m, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
        st = kx_status_from_errno(errno);
    if (st != STATUS_SUCCESS) {
        close(m);
        return st;
    }
    *fd = m;
    return STATUS_SUCCESS;
}

char *kx_plat_fd_path(int fd, char *buf, size_t buf_len)
{
    /* By pid, not "self": a kx-host process kxd starts opens the same file
     * through it (it is kxd's descriptor, not the host's). */
    snprintf(buf, buf_len, "/proc/%d/fd/%d", (int)getpid(), fd);
    return buf;
}

int kx_plat_fd_of_path(const char *path)
{
    char prefix[32];
    int len = snprintf(prefix, sizeof prefix, "/proc/%d/fd/", (int)getpid());
    if (!path || len <= 0 || strncmp(path, prefix, (size_t)len) != 0)
        return -1;
    char *end;
    long fd = strtol(path + len, &end, 10);
    return *end || end == path + len || fd < 0 || fd > INT_MAX ? -1 : (int)fd;
}

void *kx_plat_pages_alloc(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void kx_plat_pages_free(void *p, size_t len)
{
    if (p)
        munmap(p, len);
}

void kx_plat_pages_discard(void *p, size_t len)
{
    madvise(p, len, MADV_DONTNEED);
}
