/* plat_sandbox.h — a driver host's confinement (the platform layer's part of
 * issue 12's privilege drop): descriptors, user, seccomp.
 *
 * kx-host calls these in order: kx_plat_close_fds_from as it starts (the
 * spawn already closed everything past the transport; this makes the host
 * safe however it was started), kx_plat_drop_user before it reads anything
 * of the driver, kx_plat_readable on each file it is about to dlopen (so a
 * bundle the host's user can't read is named), and kx_plat_seccomp after
 * the driver and its libraries are mapped and before DriverEntry runs.
 *
 * Why there: dlopen needs open, mmap and the loader's syscalls, which the
 * UMD profile refuses; after it, no driver code but its ELF constructors has
 * run, and those ran as the unprivileged user. DriverEntry runs filtered: a
 * KMD or CMD driver may still open files there (the driver profile allows
 * open, as the host's user), a UMD driver may not (it gets everything from
 * the manager). The filter is installed on every thread (TSYNC), so threads
 * a constructor started are filtered too.
 */
#ifndef KX_CORE_PLAT_SANDBOX_H
#define KX_CORE_PLAT_SANDBOX_H

#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

enum kx_sandbox_profile {
    KX_SANDBOX_NONE,   /* no filter (kxd --host-sandbox none) */
    KX_SANDBOX_DRIVER, /* KMD and CMD: files and ioctl, no sockets, no processes */
    KX_SANDBOX_UMD,    /* UMD: only the transport, memory, threads, time */
};

/* "none", "driver", "umd"; NULL for anything else. */
const char *kx_plat_sandbox_profile_name(enum kx_sandbox_profile p);
/* The reverse; -1 if unknown. */
int kx_plat_sandbox_profile_parse(const char *name);

/* Closes every descriptor >= first (close_range, else a walk of
 * /proc/self/fd). */
void kx_plat_close_fds_from(int first);

/* Drops supplementary groups, then sets the gid, then the uid (that order:
 * after setuid the others are no longer permitted), and checks that root
 * can't be regained. Under sanitizers the process is made dumpable again so
 * their runtime can still read /proc/self. STATUS_SUCCESS, or the failing
 * step in why. */
kx_status kx_plat_drop_user(uint32_t uid, uint32_t gid, char *why, size_t why_len);

/* Whether this process can read path; if not, why names the path. */
kx_status kx_plat_readable(const char *path, char *why, size_t why_len);

/* Installs the profile's seccomp filter on every thread of the process.
 * Refused syscalls fail with EPERM; plainly dangerous ones (ptrace, mount,
 * kexec, bpf, module loading...) kill the process. Needs no-new-privs (the
 * spawn sets it). STATUS_SUCCESS, or why. */
kx_status kx_plat_seccomp(enum kx_sandbox_profile profile, char *why, size_t why_len);

#endif /* KX_CORE_PLAT_SANDBOX_H */
