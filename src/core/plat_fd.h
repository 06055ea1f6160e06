/* plat_fd.h — file descriptors for readers that want a file without loading
 * it whole (libelf reads lazily from a descriptor). Part of the platform layer:
 * errno is translated here and nowhere above.
 */
#ifndef KX_CORE_PLAT_FD_H
#define KX_CORE_PLAT_FD_H

#include "plat.h"

#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

/* open(2) read-only, close-on-exec; the caller closes *fd with kx_plat_close (plat.h). */
kx_status kx_plat_open_read(const char *path, int *fd);

/* pread(2) until len bytes or end of file; *got is how many were read. */
kx_status kx_plat_pread(int fd, void *buf, size_t len, uint64_t offset, size_t *got);

/* open(2) read-write, close-on-exec (a device file kx writes in place: PCI config space). */
kx_status kx_plat_open_rw(const char *path, int *fd);
/* pwrite(2) until all len bytes are written; a short write is STATUS_INVALID_PARAMETER. */
kx_status kx_plat_pwrite(int fd, const void *buf, size_t len, uint64_t offset);


#endif /* KX_CORE_PLAT_FD_H */
