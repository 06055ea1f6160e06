/* test_kxd_sandbox.c — kx-host processes drop privileges (issue 12): a host
 * runs as kxd's --host-user (nobody by default when kxd is root) with no
 * supplementary groups, no-new-privs, a seccomp filter (Seccomp: 2) and only
 * stdin, stdout, stderr and the transport (its socket, the rings' memfd and their two
 * eventfds) open; a driver's refused syscall
 * fails with EPERM, a dangerous one kills the host (SIGSYS); a UMD driver may not even open a file;
 * a kext keeps root only when kxd allows it; a bundle the host's user can't read is named;
 * --host-sandbox none turns the filter off. What needs root is skipped
 * (visibly) otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "kexts/crash_ioctl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* kxd booting an empty folder, with extra arguments: the only hosts are
 * the ones a test loads. */
static struct kxd_proc *start(const char *const *extra)
{
    struct kxd_proc *p = calloc(1, sizeof *p);
    assert_non_null(p);
    snprintf(p->dir, sizeof p->dir, "/tmp/kxd-sandbox-XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    assert_int_equal(chmod(p->dir, 0755), 0);
    snprintf(p->ext, sizeof p->ext, "%s/ext", p->dir);
    assert_int_equal(mkdir(p->ext, 0755), 0);
    const char *args[12] = {"--host-mode", "process"};
    size_t n = 2;
    for (size_t i = 0; extra && extra[i] && n < 11; i++)
        args[n++] = extra[i];
    if (kxd_start_args(p, args) != 0) {
        char *log = kxd_read_log(p);
        fail_msg("kxd did not start: %s", log ? log : "");
    }
    return p;
}

static void stop(struct kxd_proc *p)
{
    assert_int_equal(kxd_stop(p), 0);
    /* The filter leaves a sanitizer's exit checks working in the hosts. */
    char *log = kxd_read_log(p);
    assert_non_null(log);
    if (kxd_count_matches(log, "Sanitizer has encountered a fatal error|Can't (open|read)") > 0)
        fail_msg("a host's sanitizer could not run:\n%s", log);
    free(log);
    kxd_sh("rm -rf %s", p->dir);
    free(p);
}

static char *kernel_log(const struct kxd_proc *p)
{
    char *out = NULL;
    kxd_run(&out, "KX_SOCKET=%s ./kx log", p->socket);
    return out;
}

/* Loads NAME.kext from the test kexts; returns its host's pid, from the
 * kernel log's line about its confinement (which must say `says`). */
static int load_host(struct kxd_proc *p, kx_client *c, const char *name, const char *says)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.kext", p->test_ext, name);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    char *log = kernel_log(p);
    assert_non_null(log);
    char pattern[300];
    snprintf(pattern, sizeof pattern, "%s +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) %s", name,
             says);
    KXD_ASSERT_MATCHES(log, pattern);
    const char *at = strstr(log, "driver host kx-host (pid ");
    int pid = at ? atoi(at + strlen("driver host kx-host (pid ")) : 0;
    free(log);
    assert_true(pid > 0);
    return pid;
}

/* The value after "Key:" in /proc/PID/status, spaces folded ("" if none). */
static void status_field(int pid, const char *key, char *out, size_t cap)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    out[0] = 0;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ':')
            continue;
        size_t n = 0;
        for (const char *s = line + klen + 1; *s && *s != '\n' && n + 1 < cap; s++)
            if (!(*s == ' ' || *s == '\t') || (n && out[n - 1] != ' '))
                out[n++] = *s == '\t' ? ' ' : *s;
        while (n && out[n - 1] == ' ')
            n--;
        out[n] = 0;
    }
    fclose(f);
}

/* The host's descriptors, as "0 1 2 3". */
static void fd_list(int pid, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    int seen[64] = {0};
    DIR *d = opendir(path);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.')
            seen[fd < 63 ? fd : 63] = 1;
    }
    closedir(d);
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < 64 && n + 4 < cap; i++)
        if (seen[i])
            n += (size_t)snprintf(out + n, cap - n, "%s%d", n ? " " : "", i);
}

/* The errno the driver saw for IOCTL code (0: the call worked). */
static int driver_errno(kx_client *c, const char *dev, uint32_t code)
{
    uint32_t h;
    int32_t err = -1;
    size_t got = 0;
    assert_int_equal(kx_client_open(c, dev, KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_ioctl(c, h, code, NULL, 0, &err, sizeof err, 0, &got),
                     STATUS_SUCCESS);
    assert_int_equal(got, sizeof err);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    return err;
}

static void test_host_is_confined(void **state)
{
    (void)state;
    struct kxd_proc *p = start(NULL);
    kx_client *c = kxd_connect(p);
    int root = geteuid() == 0;
    int pid = load_host(p, c, "Crash",
                        root ? "runs as nobody \\(uid 65534, gid 65534\\), seccomp profile driver"
                             : "runs as kxd's user, seccomp profile driver");
    char v[256];
    status_field(pid, "Seccomp", v, sizeof v);
    assert_string_equal(v, "2");
    status_field(pid, "NoNewPrivs", v, sizeof v);
    assert_string_equal(v, "1");
    fd_list(pid, v, sizeof v);
    /* /dev/null, /dev/null, the stderr pipe, the socket, the rings' memfd and eventfds */
    assert_string_equal(v, "0 1 2 3 4 5 6");
    /* refused with EPERM, not killed; files are still the driver's */
    assert_int_equal(driver_errno(c, "/dev/Crash", IOCTL_CRASH_SOCKET), EPERM);
    assert_int_equal(driver_errno(c, "/dev/Crash", IOCTL_CRASH_OPEN), 0);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
    stop(p);
}

static void test_host_runs_as_nobody(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* only root's kxd gives its hosts another user */
    struct kxd_proc *p = start(NULL);
    kx_client *c = kxd_connect(p);
    int pid = load_host(p, c, "Crash", "runs as nobody");
    char v[256];
    status_field(pid, "Uid", v, sizeof v);
    assert_string_equal(v, "65534 65534 65534 65534");
    status_field(pid, "Gid", v, sizeof v);
    assert_string_equal(v, "65534 65534 65534 65534");
    status_field(pid, "Groups", v, sizeof v);
    assert_string_equal(v, "");
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
    stop(p);
}

static void test_dangerous_call_kills_the_host(void **state)
{
    (void)state;
    struct kxd_proc *p = start(NULL);
    kx_client *c = kxd_connect(p);
    load_host(p, c, "Crash", "runs as .*, seccomp profile driver");
    uint32_t h;
    int32_t err = -1;
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/Crash", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_ioctl(c, h, IOCTL_CRASH_UNSHARE, NULL, 0, &err, sizeof err, 0, &got),
                     STATUS_DRIVER_PROCESS_TERMINATED);
    char *log = kernel_log(p);
    KXD_ASSERT_MATCHES(log, "Crash +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by signal "
                            "SIGSYS");
    free(log);
    kx_client_close(c, h);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
    stop(p);
}

static void test_umd_host_opens_nothing(void **state)
{
    (void)state;
    struct kxd_proc *p = start(NULL);
    kx_client *c = kxd_connect(p);
    int pid = load_host(p, c, "CrashUMD", "runs as .*, seccomp profile umd");
    char v[64];
    status_field(pid, "Seccomp", v, sizeof v);
    assert_string_equal(v, "2");
    assert_int_equal(driver_errno(c, "/dev/CrashUMD", IOCTL_CRASH_OPEN), EPERM);
    assert_int_equal(driver_errno(c, "/dev/CrashUMD", IOCTL_CRASH_SOCKET), EPERM);
    assert_int_equal(kx_client_unload(c, "org.kx.test.CrashUMD", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
    stop(p);
}

static void test_sandbox_none_turns_the_filter_off(void **state)
{
    (void)state;
    const char *args[] = {"--host-sandbox", "none", NULL};
    struct kxd_proc *p = start(args);
    kx_client *c = kxd_connect(p);
    int pid = load_host(p, c, "Crash", "runs as .*, seccomp profile none");
    char v[64];
    status_field(pid, "Seccomp", v, sizeof v);
    assert_string_equal(v, "0");
    status_field(pid, "NoNewPrivs", v, sizeof v);
    assert_string_equal(v, "1");
    assert_int_equal(driver_errno(c, "/dev/Crash", IOCTL_CRASH_SOCKET), 0);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
    stop(p);
}

static void test_keep_root_needs_kxd_permission(void **state)
{
    (void)state;
    struct kxd_proc *p = start(NULL);
    char *out = NULL;
    assert_int_not_equal(
        kxd_run(&out, "KX_SOCKET=%s ./kextload %s/KeepRoot.kext 2>&1", p->socket, p->test_ext), 0);
    KXD_ASSERT_MATCHES(out, "org\\.kx\\.test\\.KeepRoot: .*KXHostKeepRoot.*--allow-host-root");
    free(out);
    stop(p);

    const char *args[] = {"--allow-host-root", NULL};
    p = start(args);
    kx_client *c = kxd_connect(p);
    int pid = load_host(p, c, "KeepRoot", "runs as kxd's user \\(the kext keeps root");
    char v[64];
    status_field(pid, "Seccomp", v, sizeof v);
    assert_string_equal(v, "2");
    if (geteuid() == 0) {
        status_field(pid, "Uid", v, sizeof v);
        assert_string_equal(v, "0 0 0 0");
    }
    assert_int_equal(kx_client_unload(c, "org.kx.test.KeepRoot", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
    stop(p);
}

static void test_unreadable_bundle_is_named(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* only root's kxd gives its hosts another user */
    struct kxd_proc *p = start(NULL);
    assert_int_equal(
        kxd_sh("cp -R %s/Crash.kext %s/ && chmod 0700 %s/Crash.kext/Contents/Linux/Crash",
               p->test_ext, p->dir, p->dir),
        0);
    char *out = NULL;
    assert_int_not_equal(
        kxd_run(&out, "KX_SOCKET=%s ./kextload %s/Crash.kext 2>&1", p->socket, p->dir), 0);
    char *log = kernel_log(p);
    char pattern[600];
    snprintf(pattern, sizeof pattern,
             "can't read %s/Crash\\.kext/Contents/Linux/Crash as uid 65534: Permission denied",
             p->dir);
    KXD_ASSERT_MATCHES(log, pattern);
    free(log);
    free(out);
    stop(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_is_confined),
        cmocka_unit_test(test_host_runs_as_nobody),
        cmocka_unit_test(test_dangerous_call_kills_the_host),
        cmocka_unit_test(test_umd_host_opens_nothing),
        cmocka_unit_test(test_sandbox_none_turns_the_filter_off),
        cmocka_unit_test(test_keep_root_needs_kxd_permission),
        cmocka_unit_test(test_unreadable_bundle_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
