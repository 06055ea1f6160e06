/* test_kxd_boot.c — kxd boots in two phases from the kext cache or a folder
 * scan: the same kexts in the same order either way; a stale or damaged
 * cache falls back to the scan and is rebuilt; single-user stops after phase
 * 1; safe boot ignores the cache and loads only OSBundleRequired kexts; a
 * phase-1 kext that published nothing is unloaded after phase 2. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A private copy of build/extensions (plus Idle.kext): tests edit it. */
struct boot_env {
    struct kxd_proc p;
    char cache[600];
};

static int setup(void **state)
{
    struct boot_env *e = calloc(1, sizeof *e);
    const char *build = getenv("KX_BUILD_DIR");
    snprintf(e->p.dir, sizeof e->p.dir, "/tmp/kxd-boot-XXXXXX");
    if (!mkdtemp(e->p.dir) || chmod(e->p.dir, 0755) != 0)
        return -1;
    snprintf(e->p.ext, sizeof e->p.ext, "%s/ext", e->p.dir);
    snprintf(e->cache, sizeof e->cache, "%s.mkext", e->p.ext); /* kxd's default */
    if (kxd_sh("cp -a %s/extensions %s && cp -a %s/tests/boot-extensions/Idle.kext %s/", build,
               e->p.ext, build, e->p.ext) != 0)
        return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct boot_env *e = *state;
    if (e->p.pid > 0)
        kxd_stop(&e->p);
    kxd_sh("rm -rf %s", e->p.dir);
    free(e);
    return 0;
}

/* Starts kxd on the private folder (extra args may be NULL), waits for it. */
static void boot(struct boot_env *e, const char *const *extra)
{
    assert_int_equal(kxd_start_args(&e->p, extra), 0);
}

static void stop(struct boot_env *e)
{
    assert_int_equal(kxd_stop(&e->p), 0);
}

/* Non-component kexts by load tag: "id id id". */
static char *load_order(struct boot_env *e)
{
    kx_client *c = kxd_connect(&e->p);
    struct kx_client_kext *ks;
    size_t n;
    assert_int_equal(kx_client_stat(c, &ks, &n), STATUS_SUCCESS);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    for (size_t i = 0; i < n; i++)
        if (ks[i].path && *ks[i].path)
            fprintf(f, "%s ", ks[i].id);
    fclose(f);
    kx_client_kexts_free(ks, n);
    kx_client_disconnect(c);
    return out;
}

static int log_has(struct boot_env *e, const char *needle)
{
    char *log = kxd_read_log(&e->p);
    int found = strstr(log, needle) != NULL;
    free(log);
    return found;
}

static void test_cache_boot_loads_what_a_scan_loads_in_the_same_order(void **state)
{
    struct boot_env *e = *state;
    const char *no_cache[] = {"--no-cache", NULL};
    boot(e, no_cache);
    char *scanned = load_order(e);
    assert_true(log_has(e, "local boot from the scan"));
    stop(e);

    /* kx cache build, as an administrator would */
    assert_int_equal(kxd_sh("%s/kx cache build --no-auth -o %s %s >/dev/null",
                            getenv("KX_BUILD_DIR"), e->cache, e->p.ext),
                     0);
    boot(e, NULL);
    assert_true(log_has(e, "local boot from the kext cache"));
    char *cached = load_order(e);
    assert_string_equal(cached, scanned);
    /* libraries before their dependents; RamDisk (600) before Null (900) */
    assert_true(strstr(cached, "RingBuffer") < strstr(cached, "Pipe"));
    assert_true(strstr(cached, "RamDisk") < strstr(cached, "driver.Null"));
    /* devices from cache-loaded kexts work */
    kx_client *c = kxd_connect(&e->p);
    uint32_t h;
    uint64_t info;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "abc", 3, 0, &info), STATUS_SUCCESS);
    kx_client_disconnect(c);
    free(scanned);
    free(cached);
}

/* Executables read from the cache live in kxd's memfds, which a kx-host
 * running as another user cannot open by path: kxd passes them. */
static void test_cache_boot_runs_drivers_in_host_processes(void **state)
{
    struct boot_env *e = *state;
    assert_int_equal(kxd_sh("%s/kx cache build --no-auth -o %s %s >/dev/null",
                            getenv("KX_BUILD_DIR"), e->cache, e->p.ext),
                     0);
    const char *hosts[] = {"--host-mode", "process", NULL};
    boot(e, hosts);
    assert_true(log_has(e, "local boot from the kext cache"));
    assert_false(log_has(e, "could not start it"));
    kx_client *c = kxd_connect(&e->p);
    struct kx_client_kext *ks;
    size_t n, hosted = 0;
    assert_int_equal(kx_client_stat(c, &ks, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        hosted += ks[i].host_pid > 0;
    kx_client_kexts_free(ks, n);
    assert_true(hosted >= 4); /* RamDisk, Null, Zero, Pipe, RingLog */
    uint32_t h;
    char buf[4] = "xxx";
    size_t got;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, sizeof buf);
    assert_memory_equal(buf, "\0\0\0\0", 4);
    /* Pipe links against RingBuffer, also from the cache, in the same host. */
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

static void test_missing_or_stale_cache_is_rebuilt_after_boot(void **state)
{
    struct boot_env *e = *state;
    boot(e, NULL); /* no cache yet */
    assert_true(log_has(e, "no cache at"));
    assert_true(log_has(e, "kext cache rebuilt"));
    stop(e);
    struct stat st;
    assert_int_equal(stat(e->cache, &st), 0);

    boot(e, NULL);
    assert_true(log_has(e, "from the kext cache"));
    stop(e);

    /* an in-place edit of one bundle: Apple's folder-mtime rule can't see it */
    assert_int_equal(kxd_sh("touch %s/Zero.kext/Contents/Info.plist", e->p.ext), 0);
    boot(e, NULL);
    assert_true(log_has(e, "scan of the extensions folders"));
    assert_true(log_has(e, "Zero.kext"));
    assert_true(log_has(e, "kext cache rebuilt"));
    stop(e);
    boot(e, NULL);
    assert_true(log_has(e, "from the kext cache"));
}

static void test_damaged_cache_falls_back_and_the_boot_succeeds(void **state)
{
    struct boot_env *e = *state;
    boot(e, NULL);
    stop(e);
    char *before = NULL;
    /* flip one byte in the middle of the archive */
    assert_int_equal(
        kxd_sh("printf '\\377' | dd of=%s bs=1 seek=200 conv=notrunc 2>/dev/null", e->cache), 0);
    boot(e, NULL);
    assert_true(log_has(e, "scan of the extensions folders"));
    assert_true(log_has(e, "checksum"));
    before = load_order(e);
    assert_non_null(strstr(before, "org.kx.driver.Pipe"));
    free(before);
}

static void test_single_user_boot_runs_phase_one_only(void **state)
{
    struct boot_env *e = *state;
    const char *args[] = {"--boot", "single-user", NULL};
    boot(e, args);
    char *order = load_order(e);
    assert_non_null(strstr(order, "org.kx.driver.Null"));    /* Root */
    assert_non_null(strstr(order, "org.kx.driver.RamDisk")); /* Local-Root */
    assert_null(strstr(order, "org.kx.driver.Pipe"));        /* no OSBundleRequired */
    assert_null(strstr(order, "org.kx.driver.RingLog"));     /* Safe Boot: never the booter's */
    /* and no daemon: the idle phase-1 kext is not cleaned up, no cache is written */
    assert_non_null(strstr(order, "org.kx.test.Idle"));
    assert_false(log_has(e, "kext cache rebuilt"));
    free(order);
}

static void test_safe_boot_ignores_the_cache_and_loads_only_required_kexts(void **state)
{
    struct boot_env *e = *state;
    boot(e, NULL); /* leaves a current cache behind */
    stop(e);
    const char *args[] = {"--boot", "safe", NULL};
    boot(e, args);
    assert_true(log_has(e, "safe boot from the scan"));
    char *order = load_order(e);
    assert_non_null(strstr(order, "org.kx.driver.RingLog")); /* Safe Boot: phase 2 */
    assert_null(strstr(order, "org.kx.driver.Pipe"));        /* no OSBundleRequired */
    free(order);
    /* nor on demand */
    kx_client *c = kxd_connect(&e->p);
    assert_int_equal(kx_client_load(c, "org.kx.driver.Pipe", 0), STATUS_KEXT_BOOT_LEVEL);
    assert_non_null(strstr(kx_client_message(c), "safe boot"));
    kx_client_disconnect(c);
}

static void test_phase_one_kext_that_published_nothing_is_unloaded(void **state)
{
    struct boot_env *e = *state;
    boot(e, NULL);
    char *order = load_order(e);
    assert_null(strstr(order, "org.kx.test.Idle"));
    assert_true(log_has(e, "org.kx.test.Idle created no device and nothing needs it"));
    /* RingBuffer published nothing either, but Pipe and RingLog need it */
    assert_non_null(strstr(order, "org.kx.library.RingBuffer"));
    free(order);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_boot_loads_what_a_scan_loads_in_the_same_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_boot_runs_drivers_in_host_processes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_or_stale_cache_is_rebuilt_after_boot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damaged_cache_falls_back_and_the_boot_succeeds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_single_user_boot_runs_phase_one_only, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_safe_boot_ignores_the_cache_and_loads_only_required_kexts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phase_one_kext_that_published_nothing_is_unloaded,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
