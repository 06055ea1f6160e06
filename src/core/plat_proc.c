/* plat_proc.c — driver host processes: spawning with only the transport
 * inherited, reaping with a reason, and the packet socket they talk over. */
#include "plat_proc.h"
#include "plat.h"
#include "plat_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

kx_status kx_plat_packet_pair(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
        return kx_status_from_errno(errno);
    return STATUS_SUCCESS;
}

kx_status kx_plat_packet_send(int fd, struct iovec *iov, int n)
{
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    for (;;) {
        ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (r >= 0)
            return STATUS_SUCCESS;
        if (errno == EINTR)
            continue;
        return errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN
                   ? STATUS_CONNECTION_LOST
                   : kx_status_from_errno(errno);
    }
}

kx_status kx_plat_packet_recv(int fd, void *buf, size_t cap, size_t *got)
{
    *got = 0;
    for (;;) {
        struct iovec iov = {buf, cap};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t r = recvmsg(fd, &mh, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == ENOTCONN)))
            return STATUS_CONNECTION_LOST;
        if (r < 0)
            return kx_status_from_errno(errno);
        if (mh.msg_flags & MSG_TRUNC)
            return STATUS_DATA_ERROR;
        *got = (size_t)r;
        return STATUS_SUCCESS;
    }
}

void kx_plat_packet_shutdown(int fd)
{
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

kx_status kx_plat_host_spawn(const char *path, const char *argv0, const char *const *args,
                             int xport_fd, const int *pass_fds, size_t n_pass, pid_t *pid,
                             int *err_fd)
{
    *pid = -1;
    *err_fd = -1;
    if (n_pass > KX_HOST_PASS_MAX)
        return STATUS_INVALID_PARAMETER;
    const char *argv[16] = {argv0};
    size_t n = 1;
    for (; args && args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) != 0)
        return kx_status_from_errno(errno);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        int err = errno;
        close(ep[0]);
        close(ep[1]);
        return kx_status_from_errno(err);
    }
    pid_t child = fork();
    if (child < 0) {
        int err = errno;
        close(ep[0]);
        close(ep[1]);
        close(devnull);
        return kx_status_from_errno(err);
    }
    if (child == 0) {
        /* Only async-signal-safe calls from here: kxd has threads. The
         * transport may already sit on a low number, so it moves first. */
        int x = fcntl(xport_fd, F_DUPFD, 10);
        int e = fcntl(ep[1], F_DUPFD, 10);
        int moved[KX_HOST_PASS_MAX];
        for (size_t i = 0; i < n_pass; i++)
            if ((moved[i] = fcntl(pass_fds[i], F_DUPFD, 10)) < 0)
                _exit(127);
        if (x < 0 || e < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(e, 2) < 0 ||
            dup2(x, KX_HOST_XPORT_FD) < 0)
            _exit(127);
        for (size_t i = 0; i < n_pass; i++)
            if (dup2(moved[i], KX_HOST_XPORT_FD + 1 + (int)i) < 0)
                _exit(127);
        syscall(SYS_close_range, KX_HOST_XPORT_FD + 1 + (unsigned)n_pass, ~0u, 0);
        /* A process group of its own: a terminal's Ctrl-C stops kxd, which
         * then unloads its drivers, instead of killing them under it. (No
         * parent-death signal: it follows the forking thread, not kxd; a
         * host ends when kxd's end of the transport closes.) */
        setpgid(0, 0);
        /* Nothing the driver execs gains privileges (set-id bits, file
         * capabilities): the first step of issue 12's privilege drop. */
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        char *const *av;
        memcpy(&av, &(const char *const *){argv}, sizeof av); /* execv's historic prototype */
        execv(path, av);
        _exit(127);
    }
    close(ep[1]);
    close(devnull);
    *pid = child;
    *err_fd = ep[0];
    return STATUS_SUCCESS;
}

void kx_plat_child_reap(pid_t pid, uint32_t wait_ms, char *how, size_t how_len, int *exit_code,
                        int *signo)
{
    *exit_code = -1;
    *signo = 0;
    int status = 0;
    uint64_t until = kx_plat_monotonic_ns() + (uint64_t)wait_ms * 1000000u;
    pid_t r;
    for (;;) {
        r = waitpid(pid, &status, WNOHANG);
        if (r != 0 || kx_plat_monotonic_ns() >= until)
            break;
        kx_plat_sleep_ns(1000000);
    }
    if (r == 0) {
        kill(pid, SIGKILL);
        while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
            ;
    }
    if (r < 0) {
        snprintf(how, how_len, "ended (not reaped: %s)", strerror(errno));
        return;
    }
    if (WIFEXITED(status)) {
        *exit_code = WEXITSTATUS(status);
        snprintf(how, how_len, "exited with status %d", *exit_code);
    } else if (WIFSIGNALED(status)) {
        *signo = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(*signo);
        snprintf(how, how_len, "killed by signal SIG%s (%s)", abbrev ? abbrev : "?",
                 strsignal(*signo));
    } else {
        snprintf(how, how_len, "ended (wait status %#x)", (unsigned)status);
    }
}

void kx_plat_child_kill(pid_t pid)
{
    if (pid > 0)
        kill(pid, SIGKILL);
}

size_t kx_plat_read_some(int fd, void *buf, size_t cap)
{
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0 && errno == EINTR)
            continue;
        return r > 0 ? (size_t)r : 0;
    }
}

char *kx_plat_self_exe(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = 0;
    return strdup(buf);
}

void kx_plat_set_process_name(const char *name)
{
    prctl(PR_SET_NAME, name, 0, 0, 0);
}
