/* plat.h — the platform layer: the only code in libkx that calls the host OS
 * for files, directories and clocks (design rule: src/core/plat is the one
 * place errno is read and translated into a kx_status).
 */
#ifndef KX_CORE_PLAT_H
#define KX_CORE_PLAT_H

#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct kx_plat_stat {
    int is_dir, is_reg, is_link;
    uid_t uid;
    gid_t gid;
    mode_t mode;      /* permission bits only (07777) */
    int64_t mtime_ns; /* wall clock, nanoseconds since the epoch */
    int64_t size;
    uint64_t dev, ino;
};

kx_status kx_status_from_errno(int err);

/* stat(2) / lstat(2). */
kx_status kx_plat_stat(const char *path, struct kx_plat_stat *st);
kx_status kx_plat_lstat(const char *path, struct kx_plat_stat *st);

/* Whole file into a malloc'ed buffer with a trailing NUL (not counted in
 * *out_len). Files larger than max_len fail with STATUS_BUFFER_TOO_SMALL. */
kx_status kx_plat_read_file(const char *path, size_t max_len, void **out, size_t *out_len);

/* Writes via a temporary file in the same folder and rename(2), so readers
 * see the old or the new content, never half of it. */
kx_status kx_plat_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir(2): STATUS_OBJECT_NAME_COLLISION when something is already there. */
kx_status kx_plat_mkdir(const char *path, mode_t mode);

/* Names in a directory except "." and "..", sorted bytewise; free with
 * kx_plat_free_names. */
kx_status kx_plat_list_dir(const char *path, char ***names, size_t *n_names);
void kx_plat_free_names(char **names, size_t n_names);

/* readlink(2) into a malloc'ed string. */
kx_status kx_plat_readlink(const char *path, char **target);

/* realpath(3) into a malloc'ed string. */
kx_status kx_plat_realpath(const char *path, char **out);

/* Sets access and modification time (seconds and nanoseconds). */
kx_status kx_plat_set_mtime(const char *path, int64_t mtime_ns);

/* close(2) of a descriptor the platform layer opened; -1 is ignored. */
void kx_plat_close(int fd);

uint64_t kx_plat_monotonic_ns(void);
int64_t kx_plat_wall_ns(void);

/* "a" + "/" + "b" into a malloc'ed string (NULL on allocation failure). */
char *kx_plat_path_join(const char *a, const char *b);

#endif /* KX_CORE_PLAT_H */
