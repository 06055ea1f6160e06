/* plat_fd.c — open, positional read and write, and close on Linux (POSIX). */
#include "plat_fd.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

kx_status kx_plat_open_read(const char *path, int *fd)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    return *fd >= 0 ? STATUS_SUCCESS : kx_status_from_errno(errno);
}

kx_status kx_plat_pread(int fd, void *buf, size_t len, uint64_t offset, size_t *got)
{
    char *p = buf;
    *got = 0;
    while (*got < len) {
        ssize_t r = pread(fd, p + *got, len - *got, (off_t)(offset + *got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return kx_status_from_errno(errno);
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return STATUS_SUCCESS;
}

kx_status kx_plat_open_rw(const char *path, int *fd)
{
    *fd = open(path, O_RDWR | O_CLOEXEC);
    return *fd >= 0 ? STATUS_SUCCESS : kx_status_from_errno(errno);
}

kx_status kx_plat_pwrite(int fd, const void *buf, size_t len, uint64_t offset)
{
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t w = pwrite(fd, p + done, len - done, (off_t)(offset + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return kx_status_from_errno(errno);
        if (w == 0)
            return STATUS_INVALID_PARAMETER; /* beyond the end of what the file holds */
        done += (size_t)w;
    }
    return STATUS_SUCCESS;
}
