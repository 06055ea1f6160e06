/* test_kxd_unload.c — unloading is refused while anything uses a kext, with
 * every holder named; -r unloads dependents first; SIGTERM unloads all in
 * reverse load order and exits 0. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_unload_refused_names_dependents(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    assert_int_equal(kx_client_unload(c, "org.kx.library.RingBuffer", 0), STATUS_KEXT_IN_USE);
    const char *msg = kx_client_message(c);
    assert_non_null(strstr(msg, "org.kx.driver.Pipe"));
    assert_non_null(strstr(msg, "org.kx.driver.RingLog"));
    assert_non_null(strstr(msg, "outstanding references 2"));
    assert_true(kxd_tag_of(c, "org.kx.library.RingBuffer") != 0);
    kx_client_disconnect(c);
}

static void test_unload_refused_names_open_handles(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, "org.kx.driver.Null", 0), STATUS_KEXT_IN_USE);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getpid());
    assert_non_null(strstr(kx_client_message(c), pid));
    assert_non_null(strstr(kx_client_message(c), "\\Device\\Null0"));
    /* still fully working */
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, h, 0, "abc", 3, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, 3);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, "org.kx.driver.Null", 0), STATUS_SUCCESS);
    assert_int_equal(kxd_tag_of(c, "org.kx.driver.Null"), 0);
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_NO_SUCH_FILE);
    kx_client_disconnect(c);
}

static void test_recursive_unload_goes_newest_first(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    unsigned pipe_tag = kxd_tag_of(c, "org.kx.driver.Pipe");
    unsigned ringlog_tag = kxd_tag_of(c, "org.kx.driver.RingLog");
    assert_true(pipe_tag && ringlog_tag);
    assert_int_equal(kx_client_unload(c, "org.kx.library.RingBuffer", KX_UNLOAD_RECURSIVE),
                     STATUS_SUCCESS);
    const char *msg = kx_client_message(c);
    const char *pipe = strstr(msg, "Unloaded org.kx.driver.Pipe.");
    const char *ringlog = strstr(msg, "Unloaded org.kx.driver.RingLog.");
    const char *lib = strstr(msg, "Unloaded org.kx.library.RingBuffer.");
    assert_true(pipe && ringlog && lib);
    /* reverse load order: the newer dependent first, the library last */
    const char *newer = pipe_tag > ringlog_tag ? pipe : ringlog;
    const char *older = pipe_tag > ringlog_tag ? ringlog : pipe;
    if (!(newer < older && older < lib))
        fail_msg("not in reverse load order:\n%s", msg);
    assert_int_equal(kxd_tag_of(c, "org.kx.driver.Pipe"), 0);
    assert_int_equal(kxd_tag_of(c, "org.kx.driver.RingLog"), 0);
    assert_int_equal(kxd_tag_of(c, "org.kx.library.RingBuffer"), 0);
    assert_true(kxd_tag_of(c, "org.kx.driver.Null") != 0); /* unrelated kexts stay */
    kx_client_disconnect(c);
}

static void test_kernel_components_stay(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    assert_int_equal(kx_client_unload(c, "org.kx.kpi.kmdf", KX_UNLOAD_RECURSIVE),
                     STATUS_KEXT_IN_USE);
    assert_non_null(strstr(kx_client_message(c), "kernel component"));
    kx_client_disconnect(c);
}

static void test_a_failing_stop_leaves_the_kext_loaded(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    char path[600];
    snprintf(path, sizeof path, "%s/NoUnload.kext", p->test_ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    unsigned tag = kxd_tag_of(c, "org.kx.test.NoUnload");
    assert_true(tag != 0);
    assert_int_equal(kx_client_unload(c, "org.kx.test.NoUnload", 0), STATUS_KEXT_START_FAILED);
    assert_non_null(strstr(kx_client_message(c), "no DriverUnload"));
    /* still loaded, same tag, its device still works */
    assert_int_equal(kxd_tag_of(c, "org.kx.test.NoUnload"), tag);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/NoUnload", 0, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    kx_client_disconnect(c);
    /* and the teardown's SIGTERM still unloads everything and exits 0 */
}

/* Lines "loaded X (v) as tag N" and "unloaded X (tag N)" from kxd's stderr. */
static void test_sigterm_unloads_everything_in_reverse_load_order(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    unsigned n_loaded = 0;
    struct kx_client_kext *ks;
    size_t n;
    assert_int_equal(kx_client_stat(c, &ks, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        n_loaded += ks[i].path && *ks[i].path;
    kx_client_kexts_free(ks, n);
    kx_client_disconnect(c);
    assert_true(n_loaded >= 6);

    assert_int_equal(kxd_stop(p), 0);
    char *log = kxd_read_log(p);
    const char *shutdown = strstr(log, "shutting down");
    assert_non_null(shutdown);
    unsigned last = 1000000, n_unloaded = 0;
    for (const char *q = strstr(shutdown, "unloaded "); q; q = strstr(q + 1, "unloaded ")) {
        const char *tag = strstr(q, "(tag ");
        assert_non_null(tag);
        unsigned t = (unsigned)strtoul(tag + 5, NULL, 10);
        assert_true(t < last); /* strictly newest first */
        last = t;
        n_unloaded++;
    }
    assert_int_equal(n_unloaded, n_loaded);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KXD_TEST(test_unload_refused_names_dependents),
        KXD_TEST(test_unload_refused_names_open_handles),
        KXD_TEST(test_recursive_unload_goes_newest_first),
        KXD_TEST(test_kernel_components_stay),
        KXD_TEST(test_a_failing_stop_leaves_the_kext_loaded),
        KXD_TEST(test_sigterm_unloads_everything_in_reverse_load_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
