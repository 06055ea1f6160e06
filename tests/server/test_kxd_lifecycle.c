/* test_kxd_lifecycle.c — a driver host that crashes, aborts, exits or hangs
 * in DriverEntry, AddDevice or DriverUnload (the Lifecycle kext, told through
 * its control file): kxd survives, the load or unload answers
 * STATUS_DRIVER_PROCESS_TERMINATED (a death) or STATUS_DRIVER_NOT_RESPONDING
 * (a hang, killed at its deadline) instead of waiting, the devices and links
 * the routine had created are gone, the kernel log names the driver and the
 * routine, and kxd is left with no more descriptors, threads, shared-memory
 * mappings or child processes than before. A host stopped with SIGSTOP
 * misses its heartbeat and is killed as not responding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../patience.h"
#include "harness.h"
#include "kexts/lifecycle.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIFECYCLE_ID "org.kx.test.Lifecycle"

/* Deaths: the default deadline (5 s), so that a sanitizer's report of a
 * crash is never taken for a hang. */
static int death_setup(void **state)
{
    const char *args[] = {"--host-mode", "process", NULL};
    return kxd_setup_args(state, args);
}

/* Hangs and heartbeats: a short deadline. */
static int hang_setup(void **state)
{
    const char *args[] = {"--host-mode", "process", "--hang-ms", "1000", NULL};
    return kxd_setup_args(state, args);
}

static int lifecycle_teardown(void **state)
{
    struct kxd_proc *p = *state;
    char path[64];
    snprintf(path, sizeof path, LIFECYCLE_CONTROL_FMT, (int)p->pid);
    unlink(path);
    return kxd_teardown(state);
}

/* Tells the driver of p's kxd what to do ("AddDevice hang"). */
static void control(const struct kxd_proc *p, const char *line)
{
    char path[64];
    snprintf(path, sizeof path, LIFECYCLE_CONTROL_FMT, (int)p->pid);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", line);
    assert_int_equal(fclose(f), 0);
}

static size_t count_dir(const char *fmt, int pid)
{
    char path[64];
    snprintf(path, sizeof path, fmt, pid);
    DIR *d = opendir(path);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* kxd's shared-memory mappings (memfd or /dev/shm). */
static size_t count_shm(int pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, "memfd:") || strstr(line, "/dev/shm/");
    if (f)
        fclose(f);
    return n;
}

/* kxd's children and how many of them are zombies. */
static void children_of(int pid, size_t *n, size_t *zombies)
{
    *n = *zombies = 0;
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[300], buf[512], st = 0;
        int ppid = 0;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char *rp = fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
        if (rp)
            sscanf(rp + 2, "%c %d", &st, &ppid);
        fclose(f);
        if (ppid == pid) {
            (*n)++;
            *zombies += st == 'Z';
        }
    }
    if (d)
        closedir(d);
}

struct counts {
    size_t fds, threads, shm, kids, zombies;
};

static struct counts counts_of(int pid)
{
    struct counts c = {count_dir("/proc/%d/fd", pid), count_dir("/proc/%d/task", pid),
                       count_shm(pid), 0, 0};
    children_of(pid, &c.kids, &c.zombies);
    return c;
}

/* Nothing leaked (the baseline may still hold the start-up probe's
 * connection, so never more than it). */
static void assert_no_leak(const struct kxd_proc *p, const struct counts *before)
{
    struct counts now;
    T_WAIT_FOR((now = counts_of(p->pid)).fds <= before->fds && now.threads <= before->threads &&
               now.kids <= before->kids);
    now = counts_of(p->pid);
    assert_true(now.fds <= before->fds);
    assert_true(now.threads <= before->threads);
    assert_true(now.shm <= before->shm);
    assert_int_equal(now.kids, before->kids);
    assert_int_equal(now.zombies, 0);
}

static char *kernel_log(const struct kxd_proc *p)
{
    char *out = NULL;
    kxd_run(&out, "KX_SOCKET=%s ./kx log", p->socket);
    return out;
}

static int log_has(const struct kxd_proc *p, const char *pattern)
{
    char *log = kernel_log(p);
    int n = log ? kxd_count_matches(log, pattern) : 0;
    free(log);
    return n > 0;
}

static kx_status open_close(kx_client *c, const char *path)
{
    uint32_t h;
    kx_status st = kx_client_open(c, path, KX_ACCESS_READ, &h);
    if (st == STATUS_SUCCESS)
        kx_client_close(c, h);
    return st;
}

/* The kernel log's line about the host's death for action. */
static const char *death_line(const char *action)
{
    if (strcmp(action, "crash") == 0)
        return "Lifecycle +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) (killed by signal "
               "SIGSEGV|exited with status [0-9]+: AddressSanitizer: SEGV)";
    if (strcmp(action, "abort") == 0)
        return "Lifecycle +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by signal SIGABRT";
    if (strcmp(action, "exit") == 0)
        return "Lifecycle +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) exited with status 3";
    return "Lifecycle +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by signal SIGKILL.* "
           "by the watchdog: not responding";
}

static kx_status answer_for(const char *action)
{
    return strcmp(action, "hang") == 0 ? STATUS_DRIVER_NOT_RESPONDING
                                       : STATUS_DRIVER_PROCESS_TERMINATED;
}

static void load_path(const struct kxd_proc *p, char *path, size_t len)
{
    snprintf(path, len, "%s/Lifecycle.kext", p->test_ext);
}

/* DriverEntry dies or hangs: the load answers so, nothing of the driver
 * stays (its device and link were made before it died), the kext is not
 * loaded. */
static void entry_fails(void **state, const char *action)
{
    struct kxd_proc *p = *state;
    struct counts before = counts_of(p->pid);
    char line[64], path[600];
    snprintf(line, sizeof line, "DriverEntry %s", action);
    control(p, line);
    kx_client *c = kxd_connect(p);
    load_path(p, path, sizeof path);
    assert_int_equal(kx_client_load(c, path, 0), answer_for(action));
    assert_int_equal(kxd_tag_of(c, LIFECYCLE_ID), 0);
    assert_int_equal(open_close(c, "/dev/Lifecycle"), STATUS_NO_SUCH_FILE);
    T_WAIT_FOR(log_has(p, death_line(action)));
    char *log = kernel_log(p);
    KXD_ASSERT_MATCHES(log, "Lifecycle +\\[DK\\] Lifecycle: DriverEntry: ");
    KXD_ASSERT_MATCHES(log, death_line(action));
    if (strcmp(action, "hang") == 0)
        KXD_ASSERT_MATCHES(log, "Lifecycle +\\[IO\\] DriverEntry did not return within its "
                                "deadline \\(1000 ms\\): driver not responding, its host process "
                                "killed; [1-9][0-9]* object\\(s\\) it created were deleted");
    else
        KXD_ASSERT_MATCHES(log, "Lifecycle +\\[IO\\] DriverEntry failed: "
                                "STATUS_DRIVER_PROCESS_TERMINATED; [1-9][0-9]* object\\(s\\)");
    if (strcmp(action, "hang") != 0)
        KXD_ASSERT_MATCHES(log,
                           "answered STATUS_DRIVER_PROCESS_TERMINATED; it died in DriverEntry");
    free(log);
    /* kxd serves the rest */
    assert_int_equal(open_close(c, "/dev/null"), STATUS_SUCCESS);
    kx_client_disconnect(c);
    assert_no_leak(p, &before);
}

/* AddDevice dies or hangs: the match fails with the host's status, the
 * driver goes with its host (DriverEntry's device too), and the kext, still
 * loaded, unloads. */
static void add_device_fails(void **state, const char *action)
{
    struct kxd_proc *p = *state;
    struct counts before = counts_of(p->pid);
    char line[64], path[600];
    snprintf(line, sizeof line, "AddDevice %s", action);
    control(p, line);
    kx_client *c = kxd_connect(p);
    load_path(p, path, sizeof path);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    const char *failed = strcmp(action, "hang") == 0
                             ? "org.kx.test.Lifecycle \\(KXLifecycle\\) failed to start - "
                               "STATUS_DRIVER_NOT_RESPONDING"
                             : "org.kx.test.Lifecycle \\(KXLifecycle\\) failed to start - "
                               "STATUS_DRIVER_PROCESS_TERMINATED";
    T_WAIT_FOR(log_has(p, failed) && log_has(p, death_line(action)));
    char *log = kernel_log(p);
    KXD_ASSERT_MATCHES(log, "Lifecycle +\\[DK\\] Lifecycle: AddDevice: ");
    KXD_ASSERT_MATCHES(log, failed);
    KXD_ASSERT_MATCHES(log, death_line(action));
    KXD_ASSERT_MATCHES(log, strcmp(action, "hang") == 0
                                ? "Probe or AddDevice did not return"
                                : "answered STATUS_DRIVER_PROCESS_TERMINATED; it died in Probe or "
                                  "AddDevice");
    free(log);
    T_WAIT_FOR(open_close(c, "/dev/Lifecycle") == STATUS_NO_SUCH_FILE);
    assert_int_equal(open_close(c, "/dev/Lifecycle"), STATUS_NO_SUCH_FILE);
    assert_int_equal(open_close(c, "/dev/LifecycleAdd"), STATUS_NO_SUCH_FILE);
    assert_int_equal(open_close(c, "/dev/null"), STATUS_SUCCESS);
    assert_true(kxd_tag_of(c, LIFECYCLE_ID) != 0);
    assert_int_equal(kx_client_unload(c, LIFECYCLE_ID, 0), STATUS_SUCCESS);
    assert_int_equal(kxd_tag_of(c, LIFECYCLE_ID), 0);
    kx_client_disconnect(c);
    assert_no_leak(p, &before);
}

/* DriverUnload dies or hangs: the unload answers so, and the kext is
 * unloaded all the same with its devices and links. */
static void unload_fails(void **state, const char *action)
{
    struct kxd_proc *p = *state;
    struct counts before = counts_of(p->pid);
    char line[64], path[600];
    snprintf(line, sizeof line, "DriverUnload %s", action);
    control(p, line);
    kx_client *c = kxd_connect(p);
    load_path(p, path, sizeof path);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    T_WAIT_FOR(open_close(c, "/dev/LifecycleAdd") == STATUS_SUCCESS);
    assert_int_equal(open_close(c, "/dev/LifecycleAdd"), STATUS_SUCCESS);
    assert_int_equal(open_close(c, "/dev/Lifecycle"), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, LIFECYCLE_ID, 0), answer_for(action));
    assert_int_equal(kxd_tag_of(c, LIFECYCLE_ID), 0);
    assert_int_equal(open_close(c, "/dev/Lifecycle"), STATUS_NO_SUCH_FILE);
    assert_int_equal(open_close(c, "/dev/LifecycleAdd"), STATUS_NO_SUCH_FILE);
    T_WAIT_FOR(log_has(p, death_line(action)));
    char *log = kernel_log(p);
    KXD_ASSERT_MATCHES(log, "Lifecycle +\\[DK\\] Lifecycle: DriverUnload: ");
    KXD_ASSERT_MATCHES(log, death_line(action));
    KXD_ASSERT_MATCHES(log, strcmp(action, "hang") == 0
                                ? "Lifecycle +\\[IO\\] DriverUnload did not return within its "
                                  "deadline: driver not responding"
                                : "Lifecycle +\\[IO\\] DriverUnload did not return: its host "
                                  "process died");
    free(log);
    assert_int_equal(open_close(c, "/dev/null"), STATUS_SUCCESS);
    kx_client_disconnect(c);
    assert_no_leak(p, &before);
}

#define CASES(routine, fn)                                                                         \
    static void test_##routine##_crash(void **state)                                               \
    {                                                                                              \
        fn(state, "crash");                                                                        \
    }                                                                                              \
    static void test_##routine##_abort(void **state)                                               \
    {                                                                                              \
        fn(state, "abort");                                                                        \
    }                                                                                              \
    static void test_##routine##_exit(void **state)                                                \
    {                                                                                              \
        fn(state, "exit");                                                                         \
    }                                                                                              \
    static void test_##routine##_hang(void **state)                                                \
    {                                                                                              \
        fn(state, "hang");                                                                         \
    }
CASES(driver_entry, entry_fails)
CASES(add_device, add_device_fails)
CASES(driver_unload, unload_fails)

/* A host that stops (SIGSTOP) while idle misses its heartbeat: killed, the
 * driver torn down, reported as not responding. */
static void test_missed_heartbeat(void **state)
{
    struct kxd_proc *p = *state;
    struct counts before = counts_of(p->pid);
    kx_client *c = kxd_connect(p);
    char path[600];
    load_path(p, path, sizeof path);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    T_WAIT_FOR(open_close(c, "/dev/LifecycleAdd") == STATUS_SUCCESS);
    assert_int_equal(open_close(c, "/dev/LifecycleAdd"), STATUS_SUCCESS);
    struct kx_client_kext *kexts = NULL;
    size_t n = 0;
    int32_t pid = 0;
    assert_int_equal(kx_client_stat(c, &kexts, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (strcmp(kexts[i].id, LIFECYCLE_ID) == 0)
            pid = kexts[i].host_pid;
    kx_client_kexts_free(kexts, n);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    const char *killed = "Lifecycle +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by "
                         "signal SIGKILL.* by the watchdog: not responding, its transport thread "
                         "missed a heartbeat";
    T_WAIT_FOR(log_has(p, killed));
    char *log = kernel_log(p);
    KXD_ASSERT_MATCHES(log, killed);
    KXD_ASSERT_MATCHES(log, "Lifecycle +\\[IO\\] kx-host \\(pid [0-9]+\\) did not answer a "
                            "heartbeat for [0-9]+ ms: driver not responding; its host process is "
                            "killed");
    free(log);
    T_WAIT_FOR(open_close(c, "/dev/Lifecycle") == STATUS_NO_SUCH_FILE);
    assert_int_equal(open_close(c, "/dev/Lifecycle"), STATUS_NO_SUCH_FILE);
    assert_int_equal(open_close(c, "/dev/LifecycleAdd"), STATUS_NO_SUCH_FILE);
    assert_int_equal(open_close(c, "/dev/null"), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, LIFECYCLE_ID, 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
    assert_no_leak(p, &before);
}

/* A host that answers its heartbeats stays: idle for several periods, the
 * driver still serves. */
static void test_heartbeat_answered(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    char path[600];
    load_path(p, path, sizeof path);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    assert_int_equal(open_close(c, "/dev/Lifecycle"), STATUS_SUCCESS);
    for (int i = 0; i < 4; i++) {
        t_sleep_ms(1000); /* idle through a heartbeat period: pings are sent and answered */
        assert_int_equal(open_close(c, "/dev/Lifecycle"), STATUS_SUCCESS);
    }
    assert_false(log_has(p, "heartbeat"));
    assert_int_equal(kx_client_unload(c, LIFECYCLE_ID, 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

#define DEATH(fn) cmocka_unit_test_setup_teardown(fn, death_setup, lifecycle_teardown)
#define HANG(fn)  cmocka_unit_test_setup_teardown(fn, hang_setup, lifecycle_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        DEATH(test_driver_entry_crash),  DEATH(test_driver_entry_abort),
        DEATH(test_driver_entry_exit),   HANG(test_driver_entry_hang),
        DEATH(test_add_device_crash),    DEATH(test_add_device_abort),
        DEATH(test_add_device_exit),     HANG(test_add_device_hang),
        DEATH(test_driver_unload_crash), DEATH(test_driver_unload_abort),
        DEATH(test_driver_unload_exit),  HANG(test_driver_unload_hang),
        HANG(test_missed_heartbeat),     HANG(test_heartbeat_answered),
    };
    if (getenv("KX_TEST_FILTER")) /* one case by name, when debugging */
        cmocka_set_test_filter(getenv("KX_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
