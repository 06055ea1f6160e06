/* test_kxd_load.c — kxd boots the sample kexts and loads kexts with their
 * dependencies; link failures and failing DriverEntry leave nothing behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sequence number of the newest kernel log line. */
static uint64_t log_end(kx_client *c)
{
    struct kx_client_log_line *lines;
    size_t n;
    assert_int_equal(kx_client_log(c, 0, &lines, &n), STATUS_SUCCESS);
    uint64_t seq = n ? lines[n - 1].seq : 0;
    kx_client_log_free(lines, n);
    return seq;
}

/* Sequence number of the first log line after `since` mentioning needle, or 0. */
static uint64_t log_find(kx_client *c, uint64_t since, const char *needle)
{
    struct kx_client_log_line *lines;
    size_t n;
    uint64_t seq = 0;
    assert_int_equal(kx_client_log(c, since, &lines, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n && !seq; i++)
        if (strstr(lines[i].text, needle))
            seq = lines[i].seq;
    kx_client_log_free(lines, n);
    return seq;
}

static void test_boot_loads_libraries_before_their_dependents(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    assert_non_null(c);
    unsigned lib = kxd_tag_of(c, "org.kx.library.RingBuffer");
    unsigned pipe = kxd_tag_of(c, "org.kx.driver.Pipe");
    unsigned ringlog = kxd_tag_of(c, "org.kx.driver.RingLog");
    assert_true(lib && pipe && ringlog);
    assert_true(lib < pipe && lib < ringlog);

    struct kx_client_kext *ks;
    size_t n;
    assert_int_equal(kx_client_stat(c, &ks, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ks[i].id, "org.kx.driver.Pipe") == 0) {
            int linked = 0;
            for (size_t d = 0; d < ks[i].n_linked_against; d++)
                linked |= ks[i].linked_against[d] == lib;
            assert_true(linked);
            assert_non_null(strstr(ks[i].path, "Pipe.kext"));
        }
        if (strcmp(ks[i].id, "org.kx.library.RingBuffer") == 0)
            assert_int_equal(ks[i].refs, 2); /* RingLog and Pipe hold it */
    }
    kx_client_kexts_free(ks, n);
    kx_client_disconnect(c);
}

static void test_load_brings_dependencies_first(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    assert_int_equal(kx_client_unload(c, "org.kx.library.RingBuffer", KX_UNLOAD_RECURSIVE),
                     STATUS_SUCCESS);
    assert_int_equal(kxd_tag_of(c, "org.kx.library.RingBuffer"), 0);
    assert_int_equal(kxd_tag_of(c, "org.kx.driver.Pipe"), 0);

    uint64_t before = log_end(c);
    assert_int_equal(kx_client_load(c, "org.kx.driver.Pipe", 0), STATUS_SUCCESS);
    unsigned lib = kxd_tag_of(c, "org.kx.library.RingBuffer");
    unsigned pipe = kxd_tag_of(c, "org.kx.driver.Pipe");
    assert_true(lib && pipe && lib < pipe);
    /* The kernel log tells the same story: the library, then the driver, whose
     * DriverEntry ran after its library was in place. */
    uint64_t lib_at = log_find(c, before, "loaded org.kx.library.RingBuffer (1.0.0) as tag");
    uint64_t pipe_at = log_find(c, before, "loaded org.kx.driver.Pipe (1.0.0) as tag");
    assert_true(lib_at && pipe_at && lib_at < pipe_at);

    /* Loading it again is a no-op success. */
    assert_int_equal(kx_client_load(c, "org.kx.driver.Pipe", 0), STATUS_SUCCESS);
    assert_non_null(strstr(kx_client_message(c), "already loaded"));
    assert_int_equal(kxd_tag_of(c, "org.kx.driver.Pipe"), pipe);
    kx_client_disconnect(c);
}

static void test_undeclared_dependency_fails_to_link(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    char path[600];
    snprintf(path, sizeof path, "%s/Undeclared.kext", p->test_ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_KEXT_LINK_FAILED);
    const char *msg = kx_client_message(c);
    assert_non_null(strstr(msg, "The following symbols are unresolved for this kext:"));
    assert_non_null(strstr(msg, "ringbuf_new"));
    assert_non_null(strstr(msg, "org.kx.library.RingBuffer")); /* the undeclared DT_NEEDED */
    assert_int_equal(kxd_tag_of(c, "org.kx.test.Undeclared"), 0);
    /* A dry run reports the same without loading anything. */
    assert_int_equal(kx_client_load(c, path, KX_LOAD_DRY_RUN), STATUS_KEXT_LINK_FAILED);
    kx_client_disconnect(c);
}

static void test_failed_driver_entry_undoes_the_whole_load(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    assert_int_equal(kx_client_unload(c, "org.kx.library.RingBuffer", KX_UNLOAD_RECURSIVE),
                     STATUS_SUCCESS);
    char path[600];
    snprintf(path, sizeof path, "%s/FailEntry.kext", p->test_ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_KEXT_START_FAILED);
    assert_non_null(strstr(kx_client_message(c), "DriverEntry failed"));
    /* RingBuffer was loaded for it and is gone again. */
    assert_int_equal(kxd_tag_of(c, "org.kx.test.FailEntry"), 0);
    assert_int_equal(kxd_tag_of(c, "org.kx.library.RingBuffer"), 0);
    /* and the kernel is consistent: the library loads again normally */
    assert_int_equal(kx_client_load(c, "org.kx.driver.RingLog", 0), STATUS_SUCCESS);
    assert_true(kxd_tag_of(c, "org.kx.library.RingBuffer") != 0);
    kx_client_disconnect(c);
}

static void test_unknown_kext_is_not_found(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    assert_int_equal(kx_client_load(c, "com.example.nothing", 0), STATUS_KEXT_NOT_FOUND);
    assert_non_null(strstr(kx_client_message(c), "com.example.nothing"));
    assert_int_equal(kx_client_unload(c, "com.example.nothing", 0), STATUS_KEXT_NOT_FOUND);
    kx_client_disconnect(c);
}

static void test_another_version_of_a_loaded_kext_is_refused(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    char path[600];
    snprintf(path, sizeof path, "%s/../version-extensions/NullTwo.kext", p->test_ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_KEXT_LOADED_VERSION_DIFFERS);
    const char *msg = kx_client_message(c);
    assert_non_null(strstr(msg, "version 1.0.0 is loaded"));
    assert_non_null(strstr(msg, "2.0.0"));
    /* the loaded one is untouched */
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

static void test_driver_info_must_match_the_bundle_version(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    char path[600];
    snprintf(path, sizeof path, "%s/Mismatch.kext", p->test_ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_KEXT_VALIDATION_FAILED);
    const char *msg = kx_client_message(c);
    assert_non_null(strstr(msg, "Driver-info record version doesn't match CFBundleVersion."));
    assert_non_null(strstr(msg, "9.9.9"));
    assert_int_equal(kxd_tag_of(c, "org.kx.test.Mismatch"), 0);
    kx_client_disconnect(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KXD_TEST(test_boot_loads_libraries_before_their_dependents),
        KXD_TEST(test_load_brings_dependencies_first),
        KXD_TEST(test_undeclared_dependency_fails_to_link),
        KXD_TEST(test_failed_driver_entry_undoes_the_whole_load),
        KXD_TEST(test_unknown_kext_is_not_found),
        KXD_TEST(test_another_version_of_a_loaded_kext_is_refused),
        KXD_TEST(test_driver_info_must_match_the_bundle_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
