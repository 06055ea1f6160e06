/* plat_daemon.c — pid file, log file, syslog and sd_notify for kxd.
 *
 * The pid file is both a name and a lock. The name (O_EXCL) stops two
 * daemons racing to create it; the flock held for the daemon's life tells a
 * file whose writer is alive from one a crash left behind, without trusting
 * a pid that the system may have given to another process since. A stale
 * file is unlinked and the exclusive create retried, a bounded number of
 * times so that two newcomers fighting over a stale file both finish.
 */
#include "plat_daemon.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static pid_t read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long v = strtol(buf, NULL, 10);
    return v > 0 ? (pid_t)v : 0;
}

kx_status kx_plat_pidfile_claim(const char *path, int *fd, pid_t *holder)
{
    *fd = -1;
    *holder = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        int f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (f >= 0) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
            /* Nobody else can have locked a file created just now. */
            if (flock(f, LOCK_EX | LOCK_NB) != 0 || write(f, buf, (size_t)n) != n) {
                int err = errno;
                unlink(path);
                close(f);
                return kx_status_from_errno(err);
            }
            *fd = f;
            return STATUS_SUCCESS;
        }
        if (errno != EEXIST)
            return kx_status_from_errno(errno);
        int old = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (old < 0) {
            if (errno == ENOENT)
                continue; /* its owner removed it meanwhile */
            return kx_status_from_errno(errno);
        }
        if (flock(old, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            *holder = read_pid(old);
            close(old);
            return err == EWOULDBLOCK ? STATUS_DEVICE_BUSY : kx_status_from_errno(err);
        }
        /* Stale: remove it while holding its lock, then create ours. */
        unlink(path);
        close(old);
    }
    return STATUS_DEVICE_BUSY;
}

void kx_plat_pidfile_release(const char *path, int fd)
{
    if (fd < 0)
        return;
    unlink(path);
    close(fd);
}

kx_status kx_plat_log_file_open(const char *path, int *fd)
{
    int f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
    if (f < 0)
        return kx_status_from_errno(errno);
    *fd = f;
    return STATUS_SUCCESS;
}

void kx_plat_log_to_fd(void *arg, enum kx_log_level level, const char *msg)
{
    static const char *const tag[] = {"error: ", "warning: ", "", "debug: "};
    int fd = *(const int *)arg;
    struct timespec ts;
    struct tm tm;
    char when[32] = "";
    clock_gettime(CLOCK_REALTIME, &ts);
    if (gmtime_r(&ts.tv_sec, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *line = NULL;
    int n = asprintf(&line, "%s kxd[%ld]: %s%s\n", when, (long)getpid(),
                     level <= KX_LOG_DEBUG ? tag[level] : "", msg);
    if (n > 0) {
        ssize_t w = write(fd, line, (size_t)n);
        (void)w; /* a full disk loses log lines, never the daemon */
    }
    free(line);
}

void kx_plat_syslog_open(const char *ident) { openlog(ident, LOG_PID, LOG_DAEMON); }

void kx_plat_log_to_syslog(void *arg, enum kx_log_level level, const char *msg)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    (void)arg;
    syslog(level <= KX_LOG_DEBUG ? prio[level] : LOG_INFO, "%s", msg);
}

int kx_plat_syslog_available(void)
{
    struct stat sb;
    return stat("/dev/log", &sb) == 0 && S_ISSOCK(sb.st_mode);
}

void kx_plat_notify(const char *state) { sd_notify(0, state); }
