/* test_cli_tools.c — the kx verbs and Apple aliases against a live kxd:
 * kextstat's exact columns, `kx stat --json`, device I/O from the shell with
 * its exit codes, `kx ls --json`, `kx log`, kextload/kextunload, kextlibs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void test_kextstat_prints_apples_columns(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(kxd_run(&out, "./kextstat"), 0);
    /* Apple's columns, then kx's Host column when drivers run in kx-host
     * processes (kxd's default). */
    KXD_ASSERT_MATCHES(out, "^Index Refs Address            Size       Wired      "
                            "Name \\(Version\\) UUID <Linked Against>( Host)?$");
    /* "%5d %4d %#-18llx %#-10llx %#-10llx id (version) UUID <tags> [host pid]" */
    KXD_ASSERT_MATCHES(
        out, "^ +[0-9]+ +[0-9]+ 0x[0-9a-f]+ +0x[0-9a-f]+ +0x[0-9a-f]+ +"
             "org\\.kx\\.driver\\.Pipe \\(1\\.0\\.0\\) "
             "[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12} <[0-9 ]+>( [0-9]+)?$");
    KXD_ASSERT_MATCHES(out,
                       "^    1    0 0                  0          0          org\\.kx\\.kernel ");
    free(out);
    /* -l drops the header, -k the kernel components, -b filters */
    assert_int_equal(kxd_run(&out, "./kextstat -l -k -b org.kx.driver.Null"), 0);
    assert_null(strstr(out, "Index"));
    assert_null(strstr(out, "org.kx.kpi"));
    assert_non_null(strstr(out, "org.kx.driver.Null"));
    assert_null(strstr(out, "org.kx.driver.Zero"));
    free(out);
    /* -a: Apple's Architecture column, before the name */
    assert_int_equal(kxd_run(&out, "./kextstat -a -b org.kx.driver.Null"), 0);
    KXD_ASSERT_MATCHES(out, "^Index Refs Address            Size       Wired      "
                            "Architecture       Name \\(Version\\) UUID <Linked Against>( Host)?$");
    KXD_ASSERT_MATCHES(out, "0x[0-9a-f]+ +[a-z0-9_]+ +org\\.kx\\.driver\\.Null \\(1\\.0\\.0\\) ");
    free(out);
}

static void test_stat_json_has_the_stable_fields(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(kxd_run(&out, "./kx stat --json"), 0);
    json_error_t err;
    json_t *root = json_loads(out, 0, &err);
    assert_non_null(root);
    json_t *kexts = json_object_get(root, "kexts");
    assert_true(json_array_size(kexts) >= 9);
    json_int_t lib_tag = 0, pipe_links_lib = 0;
    size_t i;
    json_t *k;
    json_array_foreach(kexts, i, k)
    {
        assert_true(json_is_integer(json_object_get(k, "index")));
        assert_true(json_is_integer(json_object_get(k, "refs")));
        assert_true(json_is_string(json_object_get(k, "id")));
        assert_true(json_is_string(json_object_get(k, "version")));
        assert_non_null(json_object_get(k, "uuid"));
        assert_non_null(json_object_get(k, "path"));
        assert_true(json_is_array(json_object_get(k, "linked_against")));
        if (!strcmp(json_string_value(json_object_get(k, "id")), "org.kx.library.RingBuffer"))
            lib_tag = json_integer_value(json_object_get(k, "index"));
    }
    json_array_foreach(kexts, i, k)
    {
        if (strcmp(json_string_value(json_object_get(k, "id")), "org.kx.driver.Pipe") != 0)
            continue;
        size_t j;
        json_t *t;
        json_array_foreach(json_object_get(k, "linked_against"), j, t) pipe_links_lib |=
            json_integer_value(t) == lib_tag;
    }
    assert_true(lib_tag > 0 && pipe_links_lib);
    json_decref(root);
    free(out);
}

static void test_device_io_from_the_shell(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(kxd_run(&out, "./kx write /dev/null hello"), 0);
    assert_string_equal(out, "5\n");
    free(out);
    /* end of file is success, with nothing printed */
    assert_int_equal(kxd_run(&out, "./kx cat /dev/null"), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(kxd_run(&out, "./kx cat --count 4 /dev/zero | od -An -tx1"), 0);
    KXD_ASSERT_MATCHES(out, "^ 00 00 00 00$");
    free(out);
    /* a sector written at an offset reads back from that offset */
    assert_int_equal(kxd_run(&out,
                             "head -c 512 /dev/urandom > %s/sector && "
                             "./kx write --offset 1024 /dev/ram0 < %s/sector",
                             getenv("KX_TMP"), getenv("KX_TMP")),
                     0);
    assert_string_equal(out, "512\n");
    free(out);
    assert_int_equal(kxd_run(NULL, "./kx cat --offset 1024 --count 512 /dev/ram0 | cmp - %s/sector",
                             getenv("KX_TMP")),
                     0);
    /* a failure prints the STATUS_* name and exits 1 */
    assert_int_equal(kxd_run(&out, "./kx cat /dev/nothing 2>&1"), 1);
    assert_non_null(strstr(out, "STATUS_NO_SUCH_FILE"));
    free(out);
    assert_int_equal(kxd_run(&out, "./kx cat --timeout 100 /dev/pipe0 2>&1"), 1);
    assert_non_null(strstr(out, "STATUS_TIMEOUT"));
    free(out);
}

static void test_ioctl_prints_the_output_in_hex(void **state)
{
    (void)state;
    char *out;
    /* RamDisk's geometry: CTL_CODE(FILE_DEVICE_DISK 7, 0, BUFFERED, ANY) */
    assert_int_equal(kxd_run(&out, "./kx ioctl /dev/ram0 0x70000"), 0);
    KXD_ASSERT_MATCHES(out, "^([0-9a-f]{2})+$");
    free(out);
    assert_int_equal(kxd_run(&out, "./kx ioctl /dev/ram0 0x70000 zz 2>&1"), 2); /* bad hex */
    free(out);
}

static void test_ls_and_log(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(kxd_run(&out, "./kx ls --json"), 0);
    json_error_t err;
    json_t *root = json_loads(out, 0, &err);
    assert_non_null(root);
    int has_null_link = 0;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(root, "links"), i, o) has_null_link |=
        !strcmp(json_string_value(json_object_get(o, "name")), "/dev/null") &&
        !strcmp(json_string_value(json_object_get(o, "target")), "\\Device\\Null0");
    assert_true(has_null_link);
    assert_true(json_array_size(json_object_get(root, "devices")) >= 5);
    json_decref(root);
    free(out);
    assert_int_equal(kxd_run(&out, "./kx write /dev/null hi >/dev/null && ./kx log"), 0);
    KXD_ASSERT_MATCHES(out, "Null +\\[DK\\] NULL: IRP_MJ_WRITE received");
    KXD_ASSERT_MATCHES(out, "kext +loaded org\\.kx\\.driver\\.Null");
    free(out);
}

static void test_kextload_and_kextunload(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(kxd_run(&out, "./kextunload -b org.kx.driver.Zero"), 0);
    assert_non_null(strstr(out, "org.kx.driver.Zero unloaded and personalities removed."));
    free(out);
    assert_int_equal(kxd_run(&out, "./kextload -b org.kx.driver.Zero"), 0);
    assert_non_null(strstr(out, "loaded successfully (or already loaded)"));
    free(out);
    /* refused: the kext is in use; Apple's wording, EX_OSERR */
    assert_int_equal(kxd_run(&out, "./kextunload org.kx.library.RingBuffer 2>&1"), 71);
    assert_non_null(strstr(out, "Failed to unload org.kx.library.RingBuffer"));
    assert_non_null(strstr(out, "org.kx.driver.Pipe"));
    free(out);
    assert_int_equal(kxd_run(&out, "./kextload -b com.example.missing 2>&1"), 71);
    assert_non_null(strstr(out, "failed to load - (libkern/kext) kext not found"));
    free(out);
    /* -d KEXT: a dependency kxd's folders don't hold loads first, from the named bundle */
    assert_int_equal(kxd_run(&out, "./kextload tests/verdict-extensions/CheckLibUser.kext 2>&1"),
                     71);
    free(out);
    assert_int_equal(kxd_run(&out, "./kextload -d tests/verdict-extensions/CheckLib.kext "
                                   "tests/verdict-extensions/CheckLibUser.kext"),
                     0);
    free(out);
    assert_int_equal(
        kxd_run(&out, "./kextstat -l -b org.kx.test.CheckLib -b org.kx.test.CheckLibUser"), 0);
    assert_non_null(strstr(out, "org.kx.test.CheckLib (1.0.0)"));
    assert_non_null(strstr(out, "org.kx.test.CheckLibUser (1.0.0)"));
    free(out);
    /* -r DIR: the same from a folder; -b finds a kext there */
    assert_int_equal(kxd_run(&out, "./kextunload -r -b org.kx.test.CheckLib"), 0);
    free(out);
    assert_int_equal(kxd_run(&out, "./kextload -r tests/verdict-extensions "
                                   "tests/verdict-extensions/CheckLibUser.kext 2>&1"),
                     0);
    free(out);
    assert_int_equal(
        kxd_run(&out, "./kextload -r tests/verdict-extensions -b org.kx.test.CheckGood"), 0);
    assert_non_null(strstr(out, "loaded successfully (or already loaded)"));
    free(out);
    assert_int_equal(kxd_run(&out, "./kextload -r /nonexistent -b org.kx.driver.Null 2>&1"), 2);
    assert_non_null(strstr(out, "-r /nonexistent"));
    free(out);
}

static void test_kextlibs_names_the_missing_library(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(kxd_run(&out, "./kextlibs -r extensions tests/test-extensions/Undeclared.kext "
                                   "2>/dev/null"),
                     0);
    KXD_ASSERT_MATCHES(out, "^    org\\.kx\\.library\\.RingBuffer = 1\\.0$");
    KXD_ASSERT_MATCHES(out, "^    org\\.kx\\.kpi\\.kmdf = 1\\.0$");
    free(out);
    /* without the folder holding RingBuffer, its symbols are found nowhere */
    assert_int_equal(kxd_run(&out,
                             "./kx libs --undef-symbols tests/test-extensions/Undeclared.kext "
                             "2>&1"),
                     1);
    KXD_ASSERT_MATCHES(out, "^    ringbuf_new$");
    free(out);
}

/* kx info: the bundle, its executable, the loader's verdict and kxd's record in one report. */
static void test_kx_info(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(
        kxd_run(&out, "./kx info --no-auth --extensions extensions org.kx.driver.Null"), 0);
    KXD_ASSERT_MATCHES(out, "^identifier: +org\\.kx\\.driver\\.Null$");
    KXD_ASSERT_MATCHES(out, "^driver-info: +Null, version 1\\.0\\.0, load priority [0-9]+$");
    KXD_ASSERT_MATCHES(out, "^verdict: +loadable \\(including linkage\\)$");
    KXD_ASSERT_MATCHES(out, "^kernel: +loaded, index [0-9]+, refs 0, address 0x[0-9a-f]+");
    free(out);
    /* a kext the loader refuses says why; one kxd hasn't loaded says so */
    assert_int_equal(kxd_run(&out, "./kx info --no-auth --extensions extensions "
                                   "tests/verdict-extensions/CheckMismatch.kext"),
                     0);
    KXD_ASSERT_MATCHES(out, "^verdict: +STATUS_KEXT_VALIDATION_FAILED \\(including linkage\\)$");
    KXD_ASSERT_MATCHES(out, "^  KX1011 ");
    KXD_ASSERT_MATCHES(out, "^kernel: +not loaded$");
    free(out);
    assert_int_equal(kxd_run(&out, "./kx info --json --no-auth --extensions extensions "
                                   "org.kx.library.RingBuffer"),
                     0);
    assert_non_null(strstr(out, "\"kxd_reachable\": true"));
    assert_non_null(strstr(out, "\"compatible_version\": \"1.0\""));
    free(out);
    assert_int_equal(kxd_run(&out, "./kx info com.example.nowhere 2>&1"), 1);
    assert_non_null(strstr(out, "no such kext"));
    free(out);
}

int main(void)
{
    char tmp[] = "/tmp/kx-cli-XXXXXX";
    if (!mkdtemp(tmp))
        return 1;
    setenv("KX_TMP", tmp, 1);
    const struct CMUnitTest tests[] = {
        KXD_TEST(test_kextstat_prints_apples_columns),
        KXD_TEST(test_kx_info),
        KXD_TEST(test_stat_json_has_the_stable_fields),
        KXD_TEST(test_device_io_from_the_shell),
        KXD_TEST(test_ioctl_prints_the_output_in_hex),
        KXD_TEST(test_ls_and_log),
        KXD_TEST(test_kextload_and_kextunload),
        KXD_TEST(test_kextlibs_names_the_missing_library),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cleanup[128];
    snprintf(cleanup, sizeof cleanup, "rm -rf %s", tmp);
    if (system(cleanup) != 0)
        rc = rc ? rc : 1;
    return rc;
}
