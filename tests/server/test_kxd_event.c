/* test_kxd_event.c — named events through kxd to drivers in kx-host
 * processes (issue 14): `kx event raise` reaches the Keys sample's routine in
 * its host, whose pending read on /dev/keys then completes with the key;
 * `kx events --json` counts it; and when the host dies its registration goes
 * with it (a restarted Keys starts with nothing delivered). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../patience.h"
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int host_setup(void **state)
{
    struct kxd_proc *p = calloc(1, sizeof *p);
    const char *args[] = {"--host-mode", "process", NULL};
    if (!p || kxd_start_args(p, args) != 0) {
        if (p)
            kxd_cleanup(p);
        free(p);
        return -1;
    }
    *state = p;
    return 0;
}

static char *run(const struct kxd_proc *p, const char *args)
{
    char *out = NULL;
    kxd_run(&out, "KX_SOCKET=%s ./kx %s 2>&1", p->socket, args);
    return out;
}

static int32_t keys_host(kx_client *c)
{
    struct kx_client_kext *k = NULL;
    size_t n = 0;
    int32_t pid = 0;
    if (kx_client_stat(c, &k, &n) != STATUS_SUCCESS)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].id, "org.kx.driver.Keys") == 0)
            pid = k[i].host_pid;
    kx_client_kexts_free(k, n);
    return pid;
}

struct reader {
    const struct kxd_proc *p;
    kx_status st;
    char got[64];
};

static void *read_key(void *arg)
{
    struct reader *r = arg;
    kx_client *c = NULL;
    uint32_t h;
    size_t n = 0;
    r->st = kx_client_connect(r->p->socket, &c);
    if (r->st == STATUS_SUCCESS)
        r->st = kx_client_open(c, "/dev/keys", KX_ACCESS_READ, &h);
    if (r->st == STATUS_SUCCESS)
        r->st = kx_client_read(c, h, 0, r->got, sizeof r->got - 1, UINT32_MAX, &n);
    r->got[n] = 0;
    kx_client_disconnect(c);
    return NULL;
}

/* The "delivered" count of \Driver\Keys in `kx events --json` (-1: no entry). */
static long keys_delivered(const struct kxd_proc *p)
{
    char *out = run(p, "events --json");
    const char *at = out ? strstr(out, "\"\\\\Driver\\\\Keys\"") : NULL;
    long n = -1;
    const char *d = at ? strstr(at, "\"delivered\":") : NULL;
    if (d)
        n = strtol(d + strlen("\"delivered\":"), NULL, 10);
    free(out);
    return n;
}

static void test_a_raised_key_completes_a_pending_read_in_a_host(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    char path[600];
    snprintf(path, sizeof path, "%s/Keys.kext", p->ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    assert_true(keys_host(c) > 0); /* Keys runs in a kx-host process */
    char *out = run(p, "events --json");
    assert_non_null(strstr(out, "\"key_down\""));
    free(out);

    struct reader r = {p, STATUS_PENDING, ""};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_key, &r), 0);
    /* Key code 30 (KEY_A), 16 bits little-endian, from a simulated keyboard. */
    out = run(p, "event raise key_down --source sim-keyboard 0x1e00");
    assert_non_null(strstr(out, "key_down: queued for 1 driver(s)"));
    free(out);
    pthread_join(t, NULL);
    assert_int_equal(r.st, STATUS_SUCCESS);
    assert_string_equal(r.got, "30\n");
    T_WAIT_FOR(keys_delivered(p) == 1);
    assert_int_equal(keys_delivered(p), 1);
    out = run(p, "events");
    assert_non_null(strstr(out, "\\Driver\\Keys"));
    free(out);
    /* An event nobody registered for reaches nobody; bad hex is a usage error. */
    out = run(p, "event raise key_up 0x1e00");
    assert_non_null(strstr(out, "key_up: queued for 0 driver(s)"));
    free(out);
    int rc = kxd_sh("cd %s && KX_SOCKET=%s ./kx event raise key_down 0x1 2>/dev/null",
                    getenv("KX_BUILD_DIR"), p->socket);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 2);
    kx_client_disconnect(c);
}

static void test_a_host_death_drops_its_registrations(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    char path[600];
    snprintf(path, sizeof path, "%s/Keys.kext", p->ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    char *out = run(p, "event raise key_down 0x1e00");
    assert_non_null(strstr(out, "queued for 1 driver(s)"));
    free(out);
    T_WAIT_FOR(keys_delivered(p) == 1);
    assert_int_equal(keys_delivered(p), 1);
    int32_t pid = keys_host(c);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    /* The dead host's record goes; by the default restart policy a new
     * Keys may come back, but it starts with nothing delivered. */
    T_WAIT_FOR(keys_delivered(p) != 1);
    assert_true(keys_delivered(p) != 1);
    T_WAIT_FOR(keys_host(c) != pid);
    assert_true(keys_host(c) != pid);
    kx_client_disconnect(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_raised_key_completes_a_pending_read_in_a_host,
                                        host_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_a_host_death_drops_its_registrations, host_setup,
                                        kxd_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
