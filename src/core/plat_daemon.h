/* plat_daemon.h — what a long-running daemon asks of the OS (platform layer):
 * a pid file, a log file, syslog, and the service manager's readiness
 * notification. Compiled into kxd only, so libkx never links libsystemd.
 */
#ifndef KX_CORE_PLAT_DAEMON_H
#define KX_CORE_PLAT_DAEMON_H

#include <kx/log.h>
#include <kx/status.h>
#include <sys/types.h>

/* Claims path as this process's pid file: created exclusively (O_EXCL),
 * holding the pid and a lock (flock) kept until kx_plat_pidfile_release or
 * exit. A file left by a process that is gone (nobody holds its lock) is
 * replaced. When a live process holds it: STATUS_DEVICE_BUSY and *holder is
 * the pid it wrote (0 if unreadable). *fd is -1 on failure. */
kx_status kx_plat_pidfile_claim(const char *path, int *fd, pid_t *holder);
/* Removes the file (while still holding its lock, so no newcomer's file is
 * ever removed) and closes fd. No-op for fd < 0. */
void kx_plat_pidfile_release(const char *path, int fd);

/* A log file opened for appending (created 0640), close-on-exec. */
kx_status kx_plat_log_file_open(const char *path, int *fd);
/* A kx_log_fn writing "TIME kxd[PID]: level: message" lines; arg points to
 * the descriptor (an int that outlives the logger). One write(2) per line,
 * so lines from threads never interleave. */
void kx_plat_log_to_fd(void *arg, enum kx_log_level level, const char *msg);
/* A kx_log_fn for syslog (openlog first with kx_plat_syslog_open). */
void kx_plat_syslog_open(const char *ident);
void kx_plat_log_to_syslog(void *arg, enum kx_log_level level, const char *msg);
/* 1 when a syslog daemon or the journal listens on /dev/log; without one
 * syslog(3) drops every message. */
int kx_plat_syslog_available(void);

/* Tells the service manager (systemd's $NOTIFY_SOCKET) a state such as
 * "READY=1" or "STOPPING=1"; nothing when kxd wasn't started by one. */
void kx_plat_notify(const char *state);

#endif /* KX_CORE_PLAT_DAEMON_H */
