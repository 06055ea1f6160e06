/* plat_fd.c — open, positional read and close on Linux (POSIX). */
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
