/* test_kxd_security.c — credentials come from the socket: non-root clients
 * may not unload, may load only by bundle identifier and only kexts whose
 * whole load list allows user load, and get no answer that depends on a
 * path kxd would read for them; device owner,
 * group and mode are enforced at open, and a control code's access bits
 * against the handle's access. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

/* What the unprivileged child saw, one bit per expectation that failed. */
enum {
    NOBODY_CONNECT = 1 << 0,
    NOBODY_LOAD_REFUSED = 1 << 1,
    NOBODY_UNLOAD_REFUSED = 1 << 2,
    NOBODY_RAMDISK_REFUSED = 1 << 3,
    NOBODY_NULL_ALLOWED = 1 << 4,
    NOBODY_USER_LOAD_ALLOWED = 1 << 5,
    NOBODY_RINGLOG_WRITE_REFUSED = 1 << 6,
    NOBODY_PATH_REFUSED = 1 << 7,
    NOBODY_LOG_REFUSED = 1 << 8,
};

static int as_nobody(const struct kxd_proc *p)
{
    int failed = 0;
    kx_client *c = kxd_connect(p);
    if (!c)
        return NOBODY_CONNECT;
    uint32_t h;
    /* Unloading always needs root. */
    if (kx_client_unload(c, "org.kx.driver.Null", 0) != STATUS_ACCESS_DENIED)
        failed |= NOBODY_UNLOAD_REFUSED;
    /* Undeclared doesn't set OSBundleAllowUserLoad: only root may load it. */
    if (kx_client_load(c, "org.kx.test.Undeclared", 0) != STATUS_ACCESS_DENIED ||
        !strstr(kx_client_message(c), "org.kx.test.Undeclared"))
        failed |= NOBODY_LOAD_REFUSED;
    /* Paths are refused before kxd touches them, dry run or not, whether
     * the path exists, is private to root, or is a real kext. */
    char path[600];
    snprintf(path, sizeof path, "%s/UserLoad.kext", p->test_ext);
    const char *paths[] = {"/root", "/root/.profile", "/root/nonexistent", path};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        for (uint32_t flags = 0; flags <= KX_LOAD_DRY_RUN; flags += KX_LOAD_DRY_RUN)
            if (kx_client_load(c, paths[i], flags) != STATUS_ACCESS_DENIED ||
                !strstr(kx_client_message(c), "must be running as root to load kexts by path"))
                failed |= NOBODY_PATH_REFUSED;
    /* Drivers may log secrets: the kernel log is not for everyone. */
    struct kx_client_log_line *lines = NULL;
    size_t n_lines = 0;
    if (kx_client_log(c, 0, &lines, &n_lines) != STATUS_ACCESS_DENIED)
        failed |= NOBODY_LOG_REFUSED;
    kx_client_log_free(lines, n_lines);
    /* /dev/ram0 is root:disk 0660: not even an open for no access */
    if (kx_client_open(c, "/dev/ram0", KX_ACCESS_READ, &h) != STATUS_ACCESS_DENIED ||
        kx_client_open(c, "/dev/ram0", 0, &h) != STATUS_ACCESS_DENIED)
        failed |= NOBODY_RAMDISK_REFUSED;
    /* /dev/ringlog is 0644: reading is fine, writing is not */
    if (kx_client_open(c, "/dev/ringlog", KX_ACCESS_WRITE, &h) != STATUS_ACCESS_DENIED)
        failed |= NOBODY_RINGLOG_WRITE_REFUSED;
    /* /dev/null is 0666 */
    uint64_t info = 0;
    if (kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h) != STATUS_SUCCESS ||
        kx_client_write(c, h, 0, "x", 1, 0, &info) != STATUS_SUCCESS || info != 1)
        failed |= NOBODY_NULL_ALLOWED;
    if (kx_client_load(c, "org.kx.test.UserLoad", 0) != STATUS_SUCCESS)
        failed |= NOBODY_USER_LOAD_ALLOWED;
    kx_client_disconnect(c);
    return failed;
}

static void test_non_root_client_is_refused_what_needs_root(void **state)
{
    struct kxd_proc *p = *state;
    if (getuid() != 0)
        skip(); /* needs root to become nobody */
    /* Root makes kxd know the test kexts (a dry run reads them), so that
     * nobody can name them by bundle identifier. */
    kx_client *rc = kxd_connect(p);
    char path[600];
    const char *names[] = {"UserLoad", "Undeclared"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.kext", p->test_ext, names[i]);
        kx_client_load(rc, path, KX_LOAD_DRY_RUN);
    }
    kx_client_disconnect(rc);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(0xFF);
        _exit(as_nobody(p));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("unprivileged client: failed expectations 0x%x", WEXITSTATUS(status));
    /* the user-loadable kext really is loaded, and by the kernel's rules */
    kx_client *c = kxd_connect(p);
    assert_true(kxd_tag_of(c, "org.kx.test.UserLoad") != 0);
    assert_true(kxd_tag_of(c, "org.kx.driver.Null") != 0);
    kx_client_disconnect(c);
}

static void test_control_code_access_is_checked_against_the_handle(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t h;
    size_t got;
    unsigned char out[64];
    /* RingLog's clear needs write access; GET_INFO needs none. */
    const uint32_t clear = (0x22u << 16) | (2u << 14) | (0x800u << 2);
    const uint32_t info = (0x22u << 16) | (0x802u << 2);
    assert_int_equal(kx_client_open(c, "/dev/ringlog", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_ioctl(c, h, clear, NULL, 0, NULL, 0, 0, &got), STATUS_ACCESS_DENIED);
    assert_int_equal(kx_client_ioctl(c, h, info, NULL, 0, out, sizeof out, 0, &got),
                     STATUS_SUCCESS);
    assert_true(got > 0);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    assert_int_equal(kx_client_open(c, "/dev/ringlog", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_ioctl(c, h, clear, NULL, 0, NULL, 0, 0, &got), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* A policy file's owner, group and mode win over the driver's. */
static void test_device_policy_overrides_the_driver(void **state)
{
    (void)state;
    if (getuid() != 0)
        skip();
    struct kxd_proc p;
    memset(&p, 0, sizeof p);
    snprintf(p.dir, sizeof p.dir, "/tmp/kxd-test-XXXXXX");
    assert_non_null(mkdtemp(p.dir));
    assert_int_equal(chmod(p.dir, 0755), 0);
    char policy[400];
    snprintf(policy, sizeof policy, "%s/devices.policy", p.dir);
    FILE *f = fopen(policy, "w");
    fprintf(f, "# who may open what\n"
               "/dev/null   root   root    0600   # only root now\n"
               "/dev/ram*   nobody nogroup 0600\n");
    fclose(f);
    const char *extra[] = {"--device-policy", policy, NULL};
    assert_int_equal(kxd_start_args(&p, extra), 0);

    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(0xFF);
        kx_client *c = kxd_connect(&p);
        uint32_t h;
        int failed = 0;
        if (kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h) != STATUS_ACCESS_DENIED)
            failed |= 1;
        if (kx_client_open(c, "/dev/ram0", KX_ACCESS_READ | KX_ACCESS_WRITE, &h) != STATUS_SUCCESS)
            failed |= 2;
        if (kx_client_open(c, "\\Device\\RamDisk0", KX_ACCESS_READ, &h) != STATUS_SUCCESS)
            failed |= 4; /* the canonical name is the same device */
        kx_client_disconnect(c);
        _exit(failed);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status))
        fail_msg("policy not applied as expected: 0x%x", WEXITSTATUS(status));
    kx_client *c = kxd_connect(&p);
    struct kx_client_object *objs;
    size_t n;
    assert_int_equal(kx_client_ls(c, &objs, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (objs[i].is_device && !strcmp(objs[i].name, "\\Device\\Null0"))
            assert_int_equal(objs[i].mode, 0600);
    kx_client_objects_free(objs, n);
    kx_client_disconnect(c);
    assert_int_equal(kxd_stop(&p), 0);
    unlink(policy);
    kxd_cleanup(&p);
}

static void test_bad_policy_file_names_file_and_line(void **state)
{
    (void)state;
    struct kxd_proc p;
    memset(&p, 0, sizeof p);
    snprintf(p.dir, sizeof p.dir, "/tmp/kxd-test-XXXXXX");
    assert_non_null(mkdtemp(p.dir));
    char policy[400];
    snprintf(policy, sizeof policy, "%s/bad.policy", p.dir);
    FILE *f = fopen(policy, "w");
    fprintf(f, "/dev/null root root 0666\n/dev/zero no-such-user-here root 0644\n");
    fclose(f);
    const char *extra[] = {"--device-policy", policy, NULL};
    assert_int_equal(kxd_start_args(&p, extra), -1); /* kxd refuses to start */
    char *log = kxd_read_log(&p);
    char expected[450];
    snprintf(expected, sizeof expected, "%s:2: unknown user", policy);
    assert_non_null(strstr(log, expected));
    free(log);
    unlink(policy);
    kxd_cleanup(&p);
}

/* kxd --log-public opens the kernel log to every client. */
static void test_log_public_lets_anyone_read_the_log(void **state)
{
    (void)state;
    if (getuid() != 0)
        skip();
    struct kxd_proc p;
    memset(&p, 0, sizeof p);
    const char *extra[] = {"--log-public", NULL};
    assert_int_equal(kxd_start_args(&p, extra), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(0xFF);
        kx_client *c = kxd_connect(&p);
        struct kx_client_log_line *lines = NULL;
        size_t n = 0;
        kx_status st = kx_client_log(c, 0, &lines, &n);
        kx_client_log_free(lines, n);
        kx_client_disconnect(c);
        _exit(st == STATUS_SUCCESS && n > 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(kxd_stop(&p), 0);
    kxd_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KXD_TEST(test_non_root_client_is_refused_what_needs_root),
        KXD_TEST(test_control_code_access_is_checked_against_the_handle),
        cmocka_unit_test(test_device_policy_overrides_the_driver),
        cmocka_unit_test(test_log_public_lets_anyone_read_the_log),
        cmocka_unit_test(test_bad_policy_file_names_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
