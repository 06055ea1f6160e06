/* plat_sandbox.c — a driver host's confinement: descriptors, user, seccomp
 * (libseccomp). See plat_sandbox.h for when kx-host calls what.
 *
 * The filter is an allow list: what the transport, the host's threads and
 * ordinary driver code use. Everything else fails with EPERM, so a driver
 * gets an error it can report instead of dying mysteriously; a short list
 * of plainly dangerous calls kills the process. The lists were checked by
 * running the host tests (test_kxd_host, test_kxd_sandbox) under the filter,
 * in the sanitizer build and in a plain one.
 */
#include "plat_sandbox.h"
#include "plat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Every profile: the transport, memory, threads, signals, time. */
static const char *const base_calls[] = {
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "recvmsg",
    "sendmsg",
    "recvfrom",
    "sendto",
    "shutdown",
    "close",
    "futex",
    "futex_waitv",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "brk",
    "madvise",
    "membarrier",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "time",
    "sched_yield",
    "sched_getaffinity",
    "getcpu", /* the ring's spin asks where it runs (sched_getcpu's fallback) */
    "getpid",
    "gettid",
    "getppid",
    "tgkill",
    "tkill",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigtimedwait",
    "sigaltstack",
    "exit",
    "exit_group",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "set_tid_address",
    "restart_syscall",
    "getrandom",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getrlimit",
    "prlimit64",
    "uname",
    "fstat",
    "newfstatat",
    "lseek",
    "poll",
    "ppoll",
    "getcwd",
};

/* KMD and CMD drivers besides: files (as the host's user), device ioctls,
 * waiting on descriptors. No sockets, no new processes. */
static const char *const driver_calls[] = {
    "open",
    "openat",
    "stat",
    "lstat",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents64",
    "fcntl",
    "ioctl",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "eventfd2",
    "select",
    "pselect6",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "fsync",
    "fdatasync",
    "ftruncate",
    "fadvise64",
};

#ifdef KX_SANITIZED
/* The sanitizer runtime's own needs, allowed only in instrumented builds:
 * reading /proc/self/maps for a report, starting llvm-symbolizer for its
 * one-line summary, and LeakSanitizer's stop-the-world tracer at exit. */
static const char *const sanitizer_calls[] = {
    "readlink",
    "readlinkat",
    "stat",
    "statx",
    "access",
    "faccessat",
    "getdents",
    "getdents64",
    "fcntl",
    "ioctl",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "prctl",
    "ptrace",
    "wait4",
    "waitid",
    "execve",
    "fork",
    "vfork",
    "kill",
    "sched_getparam",
    "sched_getscheduler",
    "sched_setaffinity",
    "arch_prctl",
    "personality",
    "setpgid",
    "getpgid",
};
#endif

/* Plainly dangerous: the process dies (SIGSYS) rather than learn EPERM. */
static const char *const fatal_calls[] = {
#ifndef KX_SANITIZED
    "ptrace",
#endif
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "kexec_load",
    "kexec_file_load",
    "bpf",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "setns",
    "unshare",
    "process_vm_readv",
    "process_vm_writev",
    "perf_event_open",
    "userfaultfd",
    "iopl",
    "ioperm",
    "acct",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "add_key",
    "request_key",
    "keyctl",
    "open_by_handle_at",
    "name_to_handle_at",
    "fsopen",
    "fsmount",
    "move_mount",
    "open_tree",
};

const char *kx_plat_sandbox_profile_name(enum kx_sandbox_profile p)
{
    switch (p) {
    case KX_SANDBOX_NONE: return "none";
    case KX_SANDBOX_DRIVER: return "driver";
    case KX_SANDBOX_UMD: return "umd";
    }
    return NULL;
}

int kx_plat_sandbox_profile_parse(const char *name)
{
    for (int p = KX_SANDBOX_NONE; p <= KX_SANDBOX_UMD; p++)
        if (name && strcmp(name, kx_plat_sandbox_profile_name((enum kx_sandbox_profile)p)) == 0)
            return p;
    return -1;
}

void kx_plat_close_fds_from(int first)
{
    if (syscall(SYS_close_range, (unsigned)first, ~0u, 0) == 0)
        return;
    /* Kernels before 5.9: walk the table; collect first, the walk's own
     * descriptor is in it. */
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int fds[1024], n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 1024;) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (e->d_name[0] != '.' && !*end && fd >= first && fd <= INT_MAX && fd != dirfd(d))
            fds[n++] = (int)fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

kx_status kx_plat_drop_user(uint32_t uid, uint32_t gid, char *why, size_t why_len)
{
    const char *step = NULL;
    if (setgroups(0, NULL) != 0)
        step = "setgroups";
    else if (setgid((gid_t)gid) != 0)
        step = "setgid";
    else if (setuid((uid_t)uid) != 0)
        step = "setuid";
    if (step) {
        int err = errno;
        snprintf(why, why_len, "kx-host: %s(%u/%u): %s", step, (unsigned)uid, (unsigned)gid,
                 strerror(err));
        return kx_status_from_errno(err);
    }
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(why, why_len, "kx-host: still able to become root after setuid(%u)",
                 (unsigned)uid);
        return STATUS_ACCESS_DENIED;
    }
#ifdef KX_SANITIZED
    /* The id change made us undumpable, which hides /proc/self from
     * ourselves: the sanitizer's report reads /proc/self/maps. */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
    return STATUS_SUCCESS;
}

kx_status kx_plat_readable(const char *path, char *why, size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return STATUS_SUCCESS;
    }
    int err = errno;
    snprintf(why, why_len, "can't read %s as uid %u: %s", path, (unsigned)getuid(), strerror(err));
    return kx_status_from_errno(err);
}

static int add_rules(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n,
                     const char **bad)
{
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        int rc = seccomp_rule_add(ctx, action, nr, 0);
        if (rc != 0 && rc != -EEXIST) {
            *bad = names[i];
            return rc;
        }
    }
    return 0;
}

#define N(a) (sizeof(a) / sizeof(a)[0])

kx_status kx_plat_seccomp(enum kx_sandbox_profile profile, char *why, size_t why_len)
{
    if (profile == KX_SANDBOX_NONE)
        return STATUS_SUCCESS;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        snprintf(why, why_len, "kx-host: seccomp_init failed");
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    const char *bad = "TSYNC";
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0)
        rc = add_rules(ctx, SCMP_ACT_ALLOW, base_calls, N(base_calls), &bad);
    if (rc == 0 && profile == KX_SANDBOX_DRIVER)
        rc = add_rules(ctx, SCMP_ACT_ALLOW, driver_calls, N(driver_calls), &bad);
#ifdef KX_SANITIZED
    if (rc == 0)
        rc = add_rules(ctx, SCMP_ACT_ALLOW, sanitizer_calls, N(sanitizer_calls), &bad);
    /* UMD still opens nothing for writing: the report only reads. */
    if (rc == 0 && profile == KX_SANDBOX_UMD) {
        bad = "openat";
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY));
    }
    /* llvm-symbolizer is a child process. */
    if (rc == 0)
        rc = add_rules(ctx, SCMP_ACT_ALLOW, (const char *const[]){"clone"}, 1, &bad);
#else
    /* Threads, not processes: clone only with CLONE_THREAD. clone3 passes
     * its flags in memory a filter can't read, so it reports ENOSYS and
     * the C library falls back to clone. */
    if (rc == 0) {
        bad = "clone";
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    }
#endif
    if (rc == 0) {
        bad = "clone3";
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    }
    if (rc == 0)
        rc = add_rules(ctx, SCMP_ACT_KILL_PROCESS, fatal_calls, N(fatal_calls), &bad);
    if (rc == 0) {
        bad = "seccomp_load";
        rc = seccomp_load(ctx);
    }
    seccomp_release(ctx);
    if (rc != 0) {
        snprintf(why, why_len, "kx-host: seccomp filter (%s profile): %s: %s",
                 kx_plat_sandbox_profile_name(profile), bad, strerror(-rc));
        return kx_status_from_errno(-rc);
    }
    return STATUS_SUCCESS;
}
