/* test_kxd_fault.c — kx fault against a real kxd: a crash injected into the
 * second IRP to /dev/null, whose driver runs in a kx-host process, kills that
 * host; the IRP is answered STATUS_DRIVER_PROCESS_TERMINATED by the real
 * containment while kxd serves everything else; --list shows the rule and its
 * counters, --clear removes it. fail, never-complete, exit, abort and hang
 * act in hosts too, and a host that writes nonsense into its transport's rings
 * (corrupt-transport) is killed and named while kxd serves the others. With drivers in kxd, the actions that would
 * take kxd down are refused by name, and fail works through a kext's bundle
 * identifier. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../patience.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

static int start_in(void **state, const char *mode)
{
    struct kxd_proc *p = calloc(1, sizeof *p);
    const char *args[] = {"--host-mode", mode, NULL};
    if (!p || kxd_start_args(p, args) != 0) {
        if (p)
            kxd_cleanup(p);
        free(p);
        return -1;
    }
    *state = p;
    return 0;
}

/* Drivers in kx-host processes, or (for the refusals) in kxd itself. */
static int host_setup(void **state)
{
    return start_in(state, "process");
}
static int inproc_setup(void **state)
{
    return start_in(state, "inproc");
}

/* `kx fault ARGS` against p's kxd: exit status, output (stderr too) in *out. */
static int kx_fault(const struct kxd_proc *p, char **out, const char *args)
{
    return kxd_run(out, "KX_SOCKET=%s ./kx fault %s 2>&1", p->socket, args);
}

static void expect_fault(const struct kxd_proc *p, const char *args, int rc, const char *pattern)
{
    char *out = NULL;
    int got = kx_fault(p, &out, args);
    if (got != rc)
        fail_msg("kx fault %s: exit %d, wanted %d:\n%s", args, got, rc, out ? out : "");
    if (pattern)
        KXD_ASSERT_MATCHES(out ? out : "", pattern);
    free(out);
}

static int log_has(const struct kxd_proc *p, const char *pattern)
{
    char *log = NULL;
    kxd_run(&log, "KX_SOCKET=%s ./kx log", p->socket);
    int n = log ? kxd_count_matches(log, pattern) : 0;
    free(log);
    return n > 0;
}

static void test_crash_on_the_second_irp_is_contained(void **state)
{
    struct kxd_proc *p = *state;
    expect_fault(p, "/dev/null --irp 2 --action crash", 0,
                 "^/dev/null: irp=2 action=crash seed=1$");
    expect_fault(p, "--list", 0, "^/dev/null +irp=2 action=crash seed=1 seen=0 fired=0$");
    expect_fault(p, "--list --json", 0, "\"action\": \"crash\"");

    kx_client *c = kxd_connect(p);
    uint32_t h;
    uint64_t info = 0;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "x", 1, 0, &info), STATUS_DRIVER_PROCESS_TERMINATED);

    /* kxd keeps serving: another driver in another host answers */
    uint32_t z;
    char buf[4] = "abc";
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &z), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, z, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, sizeof buf);
    assert_memory_equal(buf, "\0\0\0\0", 4);
    assert_int_equal(kx_client_close(c, z), STATUS_SUCCESS);

    /* the kernel log names the fault and the death it caused */
    assert_true(log_has(p, "Null +\\[IO\\] fault injected: action=crash for IRP_MJ_WRITE IRP 2 "
                           "to \\\\Device\\\\Null.* \\(the rule for /dev/null\\)"));
    T_WAIT_FOR(log_has(p, "Null +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) (killed by "
                          "signal SIGSEGV|exited with status [0-9]+: AddressSanitizer: SEGV)"));
    assert_true(log_has(p, "Null +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) (killed by signal "
                           "SIGSEGV|exited with status [0-9]+: AddressSanitizer: SEGV)"));
    kx_client_disconnect(c);

    expect_fault(p, "--list", 0, "^/dev/null +irp=2 action=crash seed=1 seen=2 fired=1$");
    expect_fault(p, "--list --json", 0, "\"fired\": 1");
    expect_fault(p, "--clear /dev/null", 0, "^1 fault rule\\(s\\) cleared$");
    char *out = NULL;
    assert_int_equal(kx_fault(p, &out, "--list"), 0);
    assert_string_equal(out, "");
    free(out);
    expect_fault(p, "--clear /dev/null", 1, "/dev/null: STATUS_OBJECT_NAME_NOT_FOUND");
}

/* fail and never-complete through hosts; exit on the CREATE of an open. */
static void test_fail_never_complete_and_exit_in_hosts(void **state)
{
    struct kxd_proc *p = *state;
    expect_fault(p, "org.kx.driver.Null --every 2 --major WRITE --action fail:STATUS_DEVICE_BUSY",
                 0, NULL);
    expect_fault(p, "/dev/zero --irp 2 --action never-complete", 0, NULL);
    expect_fault(p, "/dev/pipe0 --irp 1 --action exit", 0, NULL);
    kx_client *c = kxd_connect(p);
    uint32_t h;
    uint64_t info = 0;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    kx_status want[] = {STATUS_SUCCESS, STATUS_DEVICE_BUSY, STATUS_SUCCESS, STATUS_DEVICE_BUSY};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        assert_int_equal(kx_client_write(c, h, 0, "x", 1, 0, &info), want[i]);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);

    char buf[4];
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 100, &got), STATUS_TIMEOUT);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, sizeof buf);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);

    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &h),
                     STATUS_DRIVER_PROCESS_TERMINATED);
    T_WAIT_FOR(
        log_has(p, "Pipe +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) exited with status 1"));
    assert_true(
        log_has(p, "Pipe +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) exited with status 1"));
    /* the other hosts were not touched */
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

static void test_in_kxd_refuses_what_would_kill_it_and_fails_by_kext(void **state)
{
    struct kxd_proc *p = *state;
    expect_fault(p, "/dev/null --irp 1 --action crash", 1,
                 "STATUS_NOT_SUPPORTED.*\n.*/dev/null: kx fault: action=crash needs a driver in "
                 "a kx-host process, and \\\\Driver\\\\Null runs in kxd");
    expect_fault(p, "/dev/null --every 1 --action hang", 1, "STATUS_NOT_SUPPORTED");
    expect_fault(p, "/dev/nothing --irp 1 --action never-complete", 1,
                 "/dev/nothing: STATUS_NO_SUCH_FILE");
    expect_fault(p, "org.kx.nothing --irp 1 --action never-complete", 1,
                 "org.kx.nothing: STATUS_KEXT_NOT_FOUND");
    expect_fault(p, "/dev/null --irp 1 --action explode", 2, "'action=explode' wants");
    expect_fault(p, "/dev/null --action crash", 2, "no trigger");
    expect_fault(p, "--list --clear", 2, "usage");

    expect_fault(p, "org.kx.driver.Null --irp 2 --major WRITE --action fail:STATUS_DEVICE_BUSY", 0,
                 "^org.kx.driver.Null: irp=2 action=fail:STATUS_DEVICE_BUSY major=WRITE");
    kx_client *c = kxd_connect(p);
    uint32_t h;
    uint64_t info = 0;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "x", 1, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "x", 1, 0, &info), STATUS_DEVICE_BUSY);
    assert_int_equal(kx_client_write(c, h, 0, "x", 1, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);

    struct kx_client_fault *fs = NULL;
    size_t n = 0;
    assert_int_equal(kx_client_fault_list(c, &fs, &n), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_string_equal(fs[0].target, "org.kx.driver.Null");
    assert_int_equal(fs[0].seen, 2); /* a spent irp= rule counts no more */
    assert_int_equal(fs[0].fired, 1);
    kx_client_faults_free(fs, n);
    uint64_t cleared = 0;
    assert_int_equal(kx_client_fault_clear(c, NULL, &cleared), STATUS_SUCCESS);
    assert_int_equal(cleared, 1);
    kx_client_disconnect(c);
}

/* abort kills its host; hang leaves the IRP to its deadline (kxd kills the
 * stuck host when it stops). */
static void test_abort_and_hang_in_hosts(void **state)
{
    struct kxd_proc *p = *state;
    expect_fault(p, "/dev/ram0 --irp 2 --action abort", 0, NULL);
    expect_fault(p, "org.kx.driver.Zero --irp 2 --major READ --action hang", 0, NULL);
    kx_client *c = kxd_connect(p);
    uint32_t h;
    char buf[4];
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/ram0", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got),
                     STATUS_DRIVER_PROCESS_TERMINATED);
    T_WAIT_FOR(log_has(p, "RamDisk +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by "
                          "signal SIGABRT"));
    assert_true(log_has(p, "RamDisk +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by "
                           "signal SIGABRT"));

    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 100, &got), STATUS_TIMEOUT);
    /* kxd still serves a driver in another host */
    uint64_t info = 0;
    uint32_t n;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &n), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, n, 0, "x", 1, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_close(c, n), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

static void test_a_host_that_corrupts_its_rings_is_killed(void **state)
{
    struct kxd_proc *p = *state;
    const char *transport = getenv("KX_TEST_HOST_TRANSPORT");
    if (transport && strcmp(transport, "ring") != 0)
        skip(); /* a socket has no rings to corrupt */
    expect_fault(p, "/dev/null --irp 2 --action corrupt-transport", 0,
                 "^/dev/null: irp=2 action=corrupt-transport seed=1$");
    kx_client *c = kxd_connect(p);
    uint32_t h;
    uint64_t info = 0;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "x", 1, 0, &info), STATUS_DRIVER_PROCESS_TERMINATED);
    /* named before its requests were answered, then its death as any other */
    assert_true(log_has(p, "Null +\\[IO\\] Null broke its transport \\(STATUS_RING_CORRUPT: "
                           "record type [0-9]+ of [0-9]+ bytes where a record was due\\); "
                           "killing kx-host \\(pid [0-9]+\\)"));
    T_WAIT_FOR(log_has(p, "Null +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by "
                          "signal SIGKILL"));
    assert_true(log_has(p, "Null +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by "
                           "signal SIGKILL"));
    /* kxd keeps serving the drivers in other hosts */
    char buf[4];
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, sizeof buf);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* In a child that became nobody: 0 when every fault request is refused. */
static int nobody_is_refused(const struct kxd_proc *p)
{
    kx_client *c = NULL;
    if (kx_client_connect(p->socket, &c) != STATUS_SUCCESS)
        return 1;
    int failed = 0;
    if (kx_client_fault_set(c, "/dev/null", "irp=1 action=fail:STATUS_DEVICE_BUSY") !=
            STATUS_ACCESS_DENIED ||
        !strstr(kx_client_message(c), "only root"))
        failed |= 2;
    struct kx_client_fault *fs = NULL;
    size_t n = 0;
    if (kx_client_fault_list(c, &fs, &n) != STATUS_ACCESS_DENIED)
        failed |= 4;
    kx_client_faults_free(fs, n);
    if (kx_client_fault_clear(c, NULL, NULL) != STATUS_ACCESS_DENIED)
        failed |= 8;
    kx_client_disconnect(c);
    return failed;
}

static void test_non_root_may_not_inject(void **state)
{
    struct kxd_proc *p = *state;
    if (getuid() != 0)
        skip(); /* needs root to become nobody */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(0xFF);
        _exit(nobody_is_refused(p));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("unprivileged client: failed expectations 0x%x", WEXITSTATUS(status));
    /* and nothing was set */
    kx_client *c = kxd_connect(p);
    struct kx_client_fault *fs = NULL;
    size_t n = 9;
    assert_int_equal(kx_client_fault_list(c, &fs, &n), STATUS_SUCCESS);
    assert_int_equal(n, 0);
    kx_client_faults_free(fs, n);
    kx_client_disconnect(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_on_the_second_irp_is_contained, host_setup,
                                        kxd_teardown),
        cmocka_unit_test_setup_teardown(test_fail_never_complete_and_exit_in_hosts, host_setup,
                                        kxd_teardown),
        cmocka_unit_test_setup_teardown(test_abort_and_hang_in_hosts, host_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_a_host_that_corrupts_its_rings_is_killed, host_setup,
                                        kxd_teardown),
        cmocka_unit_test_setup_teardown(test_in_kxd_refuses_what_would_kill_it_and_fails_by_kext,
                                        inproc_setup, kxd_teardown),
        KXD_TEST(test_non_root_may_not_inject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
