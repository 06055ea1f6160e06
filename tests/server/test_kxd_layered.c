/* test_kxd_layered.c — DkCallDriver across kx-host processes: Filter (its
 * own host) passes every request of /dev/Filter to /dev/Crash (another
 * host). Data through Filter is Crash's data; a request Filter passed on is
 * answered exactly once when Crash completes it, when Crash's host dies with
 * it pending (STATUS_DRIVER_PROCESS_TERMINATED), when Filter's host dies
 * after passing it on (the same status; Crash serves on), when its requester's
 * deadline cancels it (STATUS_TIMEOUT), and when Crash's device goes away
 * (STATUS_DEVICE_REMOVED). Both kexts unload afterwards and kxd exits clean
 * (its sanitizer finds no leaked IRP). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../patience.h"
#include "harness.h"
#include "kexts/crash_ioctl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int layered_setup(void **state)
{
    const char *args[] = {"--host-mode", "process", NULL};
    struct kxd_proc *p = calloc(1, sizeof *p);
    if (!p || kxd_start_args(p, args) != 0) {
        if (p)
            kxd_cleanup(p);
        free(p);
        return -1;
    }
    *state = p;
    return 0;
}

static int log_has(const struct kxd_proc *p, const char *pattern)
{
    char *out = NULL;
    kxd_run(&out, "KX_SOCKET=%s ./kx log", p->socket);
    int n = out ? kxd_count_matches(out, pattern) : 0;
    free(out);
    return n > 0;
}

static void load(kx_client *c, const struct kxd_proc *p, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s.kext", p->test_ext, name);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
}

/* The kx-host pid of the device named name (-1: none). */
static int32_t host_of(kx_client *c, const char *name)
{
    struct kx_client_object *o = NULL;
    size_t n = 0;
    int32_t pid = -1;
    assert_int_equal(kx_client_ls(c, &o, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (o[i].is_device && strcmp(o[i].name, name) == 0)
            pid = o[i].host_pid;
    kx_client_objects_free(o, n);
    return pid;
}

/* A request left pending in Crash through Filter, on a connection of its own. */
struct pender {
    const struct kxd_proc *p;
    uint32_t timeout_ms;
    kx_status st;
};

static void *pend_through_filter(void *arg)
{
    struct pender *pe = arg;
    kx_client *c = NULL;
    uint32_t h;
    size_t got;
    pe->st = kx_client_connect(pe->p->socket, &c);
    if (pe->st == STATUS_SUCCESS)
        pe->st = kx_client_open(c, "/dev/Filter", KX_ACCESS_READ, &h);
    if (pe->st == STATUS_SUCCESS)
        pe->st = kx_client_ioctl(c, h, IOCTL_CRASH_PEND, NULL, 0, NULL, 0, pe->timeout_ms, &got);
    kx_client_disconnect(c);
    return NULL;
}

static void start_pender(pthread_t *t, struct pender *pe)
{
    assert_int_equal(pthread_create(t, NULL, pend_through_filter, pe), 0);
    T_WAIT_FOR(log_has(pe->p, "Crash: request pending"));
    assert_true(log_has(pe->p, "Crash: request pending"));
}

static kx_status ping(kx_client *c, const char *path)
{
    uint32_t h;
    char out[8] = "";
    size_t got = 0;
    kx_status st = kx_client_open(c, path, KX_ACCESS_READ, &h);
    if (st != STATUS_SUCCESS)
        return st;
    st = kx_client_ioctl(c, h, IOCTL_CRASH_PING, NULL, 0, out, sizeof out, 0, &got);
    if (st == STATUS_SUCCESS && (got != 4 || memcmp(out, "pong", 4) != 0))
        st = STATUS_DATA_ERROR;
    kx_client_close(c, h);
    return st;
}

static void test_data_through_the_filter(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    load(c, p, "Crash");
    load(c, p, "Filter");
    int32_t upper = host_of(c, "\\Device\\Filter0"), lower = host_of(c, "\\Device\\Crash0");
    assert_true(upper > 0 && lower > 0 && upper != lower);

    uint32_t hf, hc;
    uint64_t info = 0;
    size_t got = 0;
    char buf[32] = "";
    assert_int_equal(kx_client_open(c, "/dev/Filter", KX_ACCESS_READ | KX_ACCESS_WRITE, &hf),
                     STATUS_SUCCESS);
    assert_int_equal(kx_client_open(c, "/dev/Crash", KX_ACCESS_READ | KX_ACCESS_WRITE, &hc),
                     STATUS_SUCCESS);
    /* written through Filter, read from Crash; and the other way round */
    assert_int_equal(kx_client_write(c, hf, 0, "layered", 7, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, 7);
    assert_int_equal(kx_client_read(c, hc, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, 7);
    assert_memory_equal(buf, "layered", 7);
    assert_int_equal(kx_client_write(c, hc, 0, "direct", 6, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, hf, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, 6);
    assert_memory_equal(buf, "direct", 6);
    /* a control's output bytes come back through Filter */
    assert_int_equal(ping(c, "/dev/Filter"), STATUS_SUCCESS);
    assert_int_equal(kx_client_close(c, hf), STATUS_SUCCESS);
    assert_int_equal(kx_client_close(c, hc), STATUS_SUCCESS);

    assert_int_equal(kx_client_unload(c, "org.kx.test.Filter", 0), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* Crash's host dies while a request Filter passed on is pending there. */
static void test_lower_host_dies_with_a_request(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    load(c, p, "Crash");
    load(c, p, "Filter");
    struct pender pe = {p, UINT32_MAX, STATUS_PENDING};
    pthread_t t;
    start_pender(&t, &pe);

    uint32_t h;
    size_t got;
    assert_int_equal(kx_client_open(c, "/dev/Crash", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_ioctl(c, h, IOCTL_CRASH_SEGV, NULL, 0, NULL, 0, 0, &got),
                     STATUS_DRIVER_PROCESS_TERMINATED);
    pthread_join(t, NULL);
    assert_int_equal(pe.st, STATUS_DRIVER_PROCESS_TERMINATED);
    kx_client_close(c, h);

    /* Filter's host lives on; what it passes down now finds no device */
    T_WAIT_FOR(host_of(c, "\\Device\\Crash0") < 0);
    assert_true(host_of(c, "\\Device\\Filter0") > 0);
    kx_status st = ping(c, "/dev/Filter");
    assert_true(st == STATUS_DEVICE_REMOVED || st == STATUS_NO_SUCH_DEVICE);
    assert_true(log_has(p, "Filter: passing the request down failed"));

    assert_int_equal(kx_client_unload(c, "org.kx.test.Filter", 0), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* Filter's host dies while a request it passed on is pending in Crash: the
 * requester is answered once (STATUS_DRIVER_PROCESS_TERMINATED), Crash's host
 * lives on and serves, and Crash letting the orphaned request go later (its
 * unload) answers nobody twice. */
static void test_upper_host_dies_mid_forward(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    load(c, p, "Crash");
    load(c, p, "Filter");
    struct pender pe = {p, UINT32_MAX, STATUS_PENDING};
    pthread_t t;
    start_pender(&t, &pe);
    int32_t crash_pid = host_of(c, "\\Device\\Crash0");
    assert_true(crash_pid > 0);

    /* the next request to Filter (this open) crashes its host */
    assert_int_equal(kx_client_fault_set(c, "org.kx.test.Filter", "irp=1 action=crash"),
                     STATUS_SUCCESS);
    uint32_t h;
    assert_int_not_equal(kx_client_open(c, "/dev/Filter", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    pthread_join(t, NULL);
    assert_int_equal(pe.st, STATUS_DRIVER_PROCESS_TERMINATED);

    T_WAIT_FOR(log_has(p, "Filter.*driver host kx-host .pid [0-9]+. .*answered"));
    assert_true(log_has(p, "Filter.*driver host kx-host .pid [0-9]+. .*answered"));
    assert_int_equal(host_of(c, "\\Device\\Crash0"), crash_pid);
    assert_int_equal(ping(c, "/dev/Crash"), STATUS_SUCCESS);

    kx_client_unload(c, "org.kx.test.Filter", 0);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* The requester's deadline passes while Crash holds the request: it is
 * answered once, and both drivers go on serving. */
static void test_deadline_cancels_a_passed_request(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    load(c, p, "Crash");
    load(c, p, "Filter");
    struct pender pe = {p, 300, STATUS_PENDING};
    pthread_t t;
    start_pender(&t, &pe);
    pthread_join(t, NULL);
    assert_int_equal(pe.st, STATUS_TIMEOUT);
    assert_int_equal(ping(c, "/dev/Filter"), STATUS_SUCCESS);
    assert_int_equal(ping(c, "/dev/Crash"), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Filter", 0), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* Crash unloads (its device is deleted) under Filter's reference, with a
 * request Filter passed on pending in it. */
static void test_lower_device_deleted(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    load(c, p, "Crash");
    load(c, p, "Filter");
    assert_int_equal(ping(c, "/dev/Filter"), STATUS_SUCCESS);
    /* a request Filter passed on is pending in Crash: the unload answers it */
    struct pender pe = {p, UINT32_MAX, STATUS_PENDING};
    pthread_t t;
    start_pender(&t, &pe);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    pthread_join(t, NULL);
    assert_int_equal(pe.st, STATUS_DEVICE_REMOVED);
    kx_status st = ping(c, "/dev/Filter");
    assert_true(st == STATUS_DEVICE_REMOVED || st == STATUS_NO_SUCH_DEVICE);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Filter", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_data_through_the_filter, layered_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_lower_host_dies_with_a_request, layered_setup,
                                        kxd_teardown),
        cmocka_unit_test_setup_teardown(test_upper_host_dies_mid_forward, layered_setup,
                                        kxd_teardown),
        cmocka_unit_test_setup_teardown(test_deadline_cancels_a_passed_request, layered_setup,
                                        kxd_teardown),
        cmocka_unit_test_setup_teardown(test_lower_device_deleted, layered_setup, kxd_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
