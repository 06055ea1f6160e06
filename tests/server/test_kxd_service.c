/* test_kxd_service.c — kxd as a service: start-up mistakes exit with a
 * sysexits status naming what is wrong; detached it logs to --log-file and
 * holds --pidfile (a live holder refuses a second kxd, a stale file is
 * replaced, the file goes at exit); the service manager hears READY=1 only
 * once the boot kexts are loaded; the socket is 0660 in its group and a user
 * outside the group can't connect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "patience.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#define NOBODY 65534

struct svc {
    char dir[64];
    char socket[128], pidfile[128], log[128], err[128], notify[128];
    char kxd[512], ext[512];
};

static void svc_init(struct svc *s)
{
    const char *build = getenv("KX_BUILD_DIR");
    assert_non_null(build);
    snprintf(s->dir, sizeof s->dir, "/tmp/kxd-svc-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->socket, sizeof s->socket, "%s/kxd.sock", s->dir);
    snprintf(s->pidfile, sizeof s->pidfile, "%s/kxd.pid", s->dir);
    snprintf(s->log, sizeof s->log, "%s/kxd.log", s->dir);
    snprintf(s->err, sizeof s->err, "%s/stderr", s->dir);
    snprintf(s->notify, sizeof s->notify, "%s/notify", s->dir);
    snprintf(s->kxd, sizeof s->kxd, "%s/kxd", build);
    snprintf(s->ext, sizeof s->ext, "%s/extensions", build);
}

static void svc_cleanup(struct svc *s)
{
    const char *files[] = {s->socket, s->pidfile, s->log, s->err, s->notify};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        unlink(files[i]);
    char other[160];
    snprintf(other, sizeof other, "%s/other.sock", s->dir);
    unlink(other);
    rmdir(s->dir);
}

/* Starts kxd with the common arguments plus extra (NULL-terminated), its
 * stderr into s->err; returns its pid. */
static pid_t svc_spawn(const struct svc *s, const char *const *extra)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(s->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        const char *argv[32] = {"kxd",      "--no-auth", "--no-cache",      "--platform",
                                "none",     "--socket",  s->socket,         "--extensions",
                                s->ext};
        size_t n = 9;
        for (size_t i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        execv(s->kxd, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Runs kxd to its exit (a detaching kxd exits once the daemon serves). */
static int svc_run(const struct svc *s, const char *const *extra)
{
    pid_t pid = svc_spawn(s, extra);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *slurp(const char *path)
{
    struct kxd_proc p;
    snprintf(p.log, sizeof p.log, "%s", path);
    return kxd_read_log(&p);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static long read_pidfile(const char *path)
{
    char *text = slurp(path);
    long pid = strtol(text, NULL, 10);
    free(text);
    return pid;
}

static void missing_extensions_folder_exits_noinput(void **state)
{
    (void)state;
    struct svc s;
    svc_init(&s);
    snprintf(s.ext, sizeof s.ext, "%s/nonexistent", s.dir);
    assert_int_equal(svc_run(&s, NULL), EX_NOINPUT);
    char *err = slurp(s.err);
    assert_non_null(strstr(err, "--extensions"));
    assert_non_null(strstr(err, s.ext));
    free(err);
    assert_false(exists(s.socket)); /* nothing half-done */
    svc_cleanup(&s);
}

static void unknown_socket_group_exits_nouser(void **state)
{
    (void)state;
    struct svc s;
    svc_init(&s);
    const char *extra[] = {"--foreground", "--socket-group", "no-such-group-here", NULL};
    assert_int_equal(svc_run(&s, extra), EX_NOUSER);
    char *err = slurp(s.err);
    assert_non_null(strstr(err, "no-such-group-here"));
    free(err);
    svc_cleanup(&s);
}

/* The polling options take microseconds within their limit (0: never), and
 * --ring-inline on or off; anything else is a usage error naming the option. */
static void polling_options_say_what_is_wrong(void **state)
{
    (void)state;
    struct svc s;
    svc_init(&s);
    const char *bad[][3] = {{"--ring-poll-us", "10001", "--ring-poll-us"},
                            {"--ring-poll-us", "-1", "--ring-poll-us"},
                            {"--host-poll-us", "1000001", "--host-poll-us"},
                            {"--host-poll-us", "20us", "--host-poll-us"},
                            {"--ring-inline", "maybe", "--ring-inline"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *extra[] = {"--foreground", bad[i][0], bad[i][1], NULL};
        assert_int_equal(svc_run(&s, extra), 2);
        char *err = slurp(s.err);
        assert_non_null(strstr(err, bad[i][2]));
        free(err);
        assert_false(exists(s.socket));
    }
    const char *good[] = {"--foreground", "--check",      "--ring-poll-us", "0", "--host-poll-us",
                          "0",            "--ring-inline", "off",          NULL};
    assert_int_equal(svc_run(&s, good), 0);
    svc_cleanup(&s);
}

/* Detached: logs to the file, holds the pid file; a second kxd on the same
 * pid file is refused naming the first's pid; SIGTERM removes the file. */
static void detached_logs_to_file_and_holds_pidfile(void **state)
{
    (void)state;
    struct svc s;
    svc_init(&s);
    const char *extra[] = {"--pidfile", s.pidfile, "--log-file", s.log, NULL};
    assert_int_equal(svc_run(&s, extra), 0);
    long pid = read_pidfile(s.pidfile);
    assert_true(pid > 0);
    assert_int_equal(kill((pid_t)pid, 0), 0);
    char *log = slurp(s.log);
    assert_non_null(strstr(log, "loaded org.kx.driver.Null"));
    assert_non_null(strstr(log, "serving on"));
    free(log);

    char other[160], holder[64];
    snprintf(other, sizeof other, "%s/other.sock", s.dir);
    const char *again[] = {"--pidfile", s.pidfile, "--socket", other, NULL};
    assert_int_equal(svc_run(&s, again), EX_TEMPFAIL);
    char *err = slurp(s.err);
    snprintf(holder, sizeof holder, "already running as pid %ld", pid);
    assert_non_null(strstr(err, holder));
    free(err);
    assert_int_equal(read_pidfile(s.pidfile), pid); /* untouched */

    assert_int_equal(kill((pid_t)pid, SIGTERM), 0);
    T_WAIT_FOR(!exists(s.pidfile) && !exists(s.socket));
    assert_false(exists(s.pidfile));
    log = slurp(s.log); /* complete: the pid file goes last */
    assert_non_null(strstr(log, "shutting down"));
    free(log);
    svc_cleanup(&s);
}

/* A pid file nobody holds (a crashed kxd's) is replaced. */
static void stale_pidfile_is_replaced(void **state)
{
    (void)state;
    struct kxd_proc p;
    memset(&p, 0, sizeof p);
    snprintf(p.dir, sizeof p.dir, "/tmp/kxd-test-XXXXXX");
    assert_non_null(mkdtemp(p.dir));
    assert_int_equal(chmod(p.dir, 0755), 0);
    char pidfile[300];
    snprintf(pidfile, sizeof pidfile, "%s/kxd.pid", p.dir);
    FILE *f = fopen(pidfile, "w");
    assert_non_null(f);
    fputs("999999\n", f);
    fclose(f);
    const char *extra[] = {"--pidfile", pidfile, NULL};
    assert_int_equal(kxd_start_args(&p, extra), 0);
    assert_int_equal(read_pidfile(pidfile), p.pid);
    assert_int_equal(kxd_stop(&p), 0);
    assert_false(exists(pidfile));
    kxd_cleanup(&p);
}

/* READY=1 reaches $NOTIFY_SOCKET after the boot kexts are loaded (their
 * lines are in the log by then); STOPPING=1 when kxd shuts down. */
static void ready_is_notified_after_boot(void **state)
{
    (void)state;
    struct svc s;
    svc_init(&s);
    int ns = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(ns >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s.notify);
    assert_int_equal(bind(ns, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {T_PATIENCE_MS / 1000, 0};
    assert_int_equal(setsockopt(ns, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);

    setenv("NOTIFY_SOCKET", s.notify, 1);
    const char *extra[] = {"--foreground", NULL};
    pid_t pid = svc_spawn(&s, extra);
    unsetenv("NOTIFY_SOCKET");

    char buf[256];
    ssize_t n = recv(ns, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "READY=1"));
    char *err = slurp(s.err);
    assert_non_null(strstr(err, "loaded org.kx.driver.Null"));
    assert_non_null(strstr(err, "serving on"));
    free(err);

    kill(pid, SIGTERM);
    n = recv(ns, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "STOPPING=1"));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ns);
    svc_cleanup(&s);
}

static void socket_is_0660_in_its_group(void **state)
{
    (void)state;
    struct kxd_proc p;
    assert_int_equal(kxd_start(&p), 0); /* as root the harness names group 65534 */
    struct stat sb;
    assert_int_equal(stat(p.socket, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0660);
    if (geteuid() == 0)
        assert_int_equal(sb.st_gid, NOBODY);
    assert_int_equal(kxd_stop(&p), 0);
    kxd_cleanup(&p);
}

/* A user outside the socket's group is refused at connect; root is not. */
static void outside_the_group_is_refused_at_connect(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* needs root to become nobody */
    struct kxd_proc p;
    memset(&p, 0, sizeof p);
    const char *extra[] = {"--socket-group", "0", NULL};
    assert_int_equal(kxd_start_args(&p, extra), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(2);
        kx_client *c = NULL;
        kx_status st = kx_client_connect(p.socket, &c);
        kx_client_disconnect(c);
        _exit(st == STATUS_ACCESS_DENIED ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    kx_client *c = kxd_connect(&p);
    assert_non_null(c);
    kx_client_disconnect(c);
    assert_int_equal(kxd_stop(&p), 0);
    kxd_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_extensions_folder_exits_noinput),
        cmocka_unit_test(unknown_socket_group_exits_nouser),
        cmocka_unit_test(polling_options_say_what_is_wrong),
        cmocka_unit_test(detached_logs_to_file_and_holds_pidfile),
        cmocka_unit_test(stale_pidfile_is_replaced),
        cmocka_unit_test(ready_is_notified_after_boot),
        cmocka_unit_test(socket_is_0660_in_its_group),
        cmocka_unit_test(outside_the_group_is_refused_at_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
