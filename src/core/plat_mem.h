/* plat_mem.h — anonymous in-memory files, the platform layer's part of
 * loading a kext straight from the kext cache: the loader hands
 * "/proc/self/fd/N" to dlopen, so an executable that came out of an mkext
 * archive never has to be written to disk. errno is translated here. Also
 * anonymous pages a pool can give back to the system.
 */
#ifndef KX_CORE_PLAT_MEM_H
#define KX_CORE_PLAT_MEM_H

#include <kx/status.h>
#include <stddef.h>

/* Creates a memory file (memfd_create, close-on-exec) called name (shown in
 * /proc/self/maps; truncated by the kernel past 249 bytes), writes the len
 * bytes of data into it and seals it against writing, growing and shrinking,
 * so what dlopen maps is exactly what the caller checked. *fd is -1 on
 * failure; on success the caller closes it with kx_plat_close (plat.h) once
 * the object is mapped. Returns STATUS_NOT_SUPPORTED when the kernel has no
 * memfd_create, STATUS_INSUFFICIENT_RESOURCES, or the translated errno. */
kx_status kx_plat_memfd_from_bytes(const char *name, const void *data, size_t len, int *fd);

/* "/proc/<this process>/fd/<fd>" into buf (at least 32 bytes): a path this
 * process and its children can open; returns buf. */
char *kx_plat_fd_path(int fd, char *buf, size_t buf_len);
/* The fd that path names when it is one of kx_plat_fd_path's for this
 * process; -1 for any other path. */
int kx_plat_fd_of_path(const char *path);

/* len bytes of private anonymous memory, zero-filled and page aligned (for
 * pools that hand memory back); NULL when out of memory. */
void *kx_plat_pages_alloc(size_t len);
void kx_plat_pages_free(void *p, size_t len);
/* Returns the memory behind [p, p+len) to the system: the range stays
 * mapped, reads as zeros, and costs memory again only where written. */
void kx_plat_pages_discard(void *p, size_t len);

#endif /* KX_CORE_PLAT_MEM_H */
