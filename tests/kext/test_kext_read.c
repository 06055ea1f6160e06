/* test_kext_read.c — reading bundles: layouts, plug-ins, executables, broken bundles. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    *state = fx_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    fx_rmrf(*state);
    free(*state);
    return 0;
}

static struct kx_kext *read_ok(const char *bundle, const struct kx_kext_options *o)
{
    struct kx_kext *k = NULL;
    assert_int_equal(kx_kext_read(bundle, o, &k), STATUS_SUCCESS);
    assert_non_null(k);
    return k;
}

static void test_contents_layout_is_read(void **state)
{
    struct kx_kext_options o = fx_options();
    plist_t info = fx_info("com.example.Foo", "1.2.3", "1.0");
    fx_set_bool(info, "OSBundleAllowUserLoad", 1);
    fx_set_str(info, "OSBundleRequired", "Console");
    char *b = fx_kext(*state, "Foo", info);
    struct kx_kext *k = read_ok(b, &o);
    assert_string_equal(kx_kext_id(k), "com.example.Foo");
    assert_string_equal(kx_kext_version_string(k), "1.2.3");
    assert_int_equal(kx_kext_version(k), kx_vers_parse("1.2.3"));
    assert_int_equal(kx_kext_compatible_version(k), kx_vers_parse("1.0"));
    assert_true(kx_kext_is_library(k));
    assert_true(kx_kext_allows_user_load(k));
    assert_string_equal(kx_kext_required(k), "Console");
    assert_true(kx_kext_is_valid(k));
    assert_true(kx_kext_is_authentic(k));
    assert_int_equal(kx_kext_diags(k)->n_items, 0);
    assert_non_null(kx_kext_info(k));
    kx_kext_free(k);
    free(b);
}

static void test_flat_layout_is_read(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_kext_flat(*state, "Flat", fx_info("com.example.Flat", "2.0", NULL));
    struct kx_kext *k = read_ok(b, &o);
    assert_string_equal(kx_kext_id(k), "com.example.Flat");
    assert_false(kx_kext_is_library(k));
    assert_true(kx_kext_is_valid(k));
    kx_kext_free(k);
    free(b);
}

static void test_binary_plist_is_read(void **state)
{
    struct kx_kext_options o = fx_options();
    plist_t info = fx_info("com.example.Bin", "3.0", NULL);
    char *bin = NULL, *b = fx_join(*state, "Bin.kext"), *f = fx_join(b, "Contents/Info.plist");
    uint32_t len = 0;
    plist_to_bin(info, &bin, &len);
    fx_write(f, bin, len);
    struct kx_kext *k = read_ok(b, &o);
    assert_string_equal(kx_kext_id(k), "com.example.Bin");
    kx_kext_free(k);
    free(bin);
    plist_free(info);
    free(f);
    free(b);
}

static void test_plugins_are_kexts_of_their_own(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_kext(*state, "Host", fx_info("com.example.Host", "1.0", NULL));
    char *plugdir = fx_join(b, "Contents/PlugIns");
    char *p1 = fx_kext(plugdir, "A", fx_info("com.example.Host.A", "1.0", NULL));
    char *p2 = fx_kext(plugdir, "B", fx_info("com.example.Host.B", "1.0", NULL));
    char *junk = fx_join(plugdir, "notes.txt");
    fx_write_str(junk, "not a kext");
    struct kx_kext *k = read_ok(b, &o);
    assert_int_equal(kx_kext_n_plugins(k), 2);
    assert_string_equal(kx_kext_id(kx_kext_plugin(k, 0)), "com.example.Host.A");
    assert_string_equal(kx_kext_id(kx_kext_plugin(k, 1)), "com.example.Host.B");
    assert_null(kx_kext_plugin(k, 2));
    kx_kext_free(k);
    free(junk);
    free(p1);
    free(p2);
    free(plugdir);
    free(b);
}

static void test_missing_info_plist_is_a_diagnostic(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_join(*state, "Empty.kext");
    fx_mkdirs(b);
    struct kx_kext *k = read_ok(b, &o);
    assert_true(fx_has(kx_kext_diags(k), KX_D_BUNDLE_OPEN, "Info.plist", NULL));
    assert_false(kx_kext_is_valid(k));
    assert_null(kx_kext_id(k));
    kx_kext_free(k);
    free(b);
}

static void test_broken_plist_is_a_diagnostic(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_join(*state, "Broken.kext"), *f = fx_join(b, "Contents/Info.plist");
    fx_write_str(f, "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>CFBundle");
    struct kx_kext *k = read_ok(b, &o);
    assert_true(fx_has(kx_kext_diags(k), KX_D_PLIST_PARSE, NULL, NULL));
    kx_kext_free(k);
    free(f);
    free(b);
}

static void test_path_that_is_not_a_folder_fails(void **state)
{
    struct kx_kext_options o = fx_options();
    struct kx_kext *k = NULL;
    char *f = fx_join(*state, "File.kext"), *missing = fx_join(*state, "Missing.kext");
    fx_write_str(f, "x");
    assert_int_equal(kx_kext_read(f, &o, &k), STATUS_NOT_A_DIRECTORY);
    assert_null(k);
    assert_int_equal(kx_kext_read(missing, &o, &k), STATUS_NO_SUCH_FILE);
    free(f);
    free(missing);
}

static void test_from_info_plist_bytes(void **state)
{
    (void)state;
    static const char xml[] = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>"
                              "<key>CFBundlePackageType</key><string>KEXT</string>"
                              "<key>CFBundleIdentifier</key><string>com.example.Mem</string>"
                              "<key>CFBundleVersion</key><string>1.0</string></dict></plist>";
    struct kx_kext *k = NULL;
    assert_int_equal(kx_kext_from_info_plist(xml, sizeof xml - 1, "mem", NULL, &k),
                     STATUS_SUCCESS);
    assert_string_equal(kx_kext_id(k), "com.example.Mem");
    assert_true(kx_kext_is_valid(k));
    kx_kext_free(k);
    assert_int_equal(kx_kext_from_info_plist("garbage", 7, NULL, NULL, &k), STATUS_SUCCESS);
    assert_true(fx_has(kx_kext_diags(k), KX_D_PLIST_PARSE, NULL, NULL));
    kx_kext_free(k);
}

/* ---- Executables -------------------------------------------------------------------------- */

/* A minimal 64-bit little-endian ELF header: enough for the identity check. */
static void write_elf(const char *path, unsigned type, unsigned machine)
{
    Elf64_Ehdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.e_ident, ELFMAG, SELFMAG);
    h.e_ident[EI_CLASS] = ELFCLASS64;
    h.e_ident[EI_DATA] = ELFDATA2LSB;
    h.e_ident[EI_VERSION] = EV_CURRENT;
    h.e_type = (Elf64_Half)type;
    h.e_machine = (Elf64_Half)machine;
    h.e_version = EV_CURRENT;
    h.e_ehsize = sizeof h;
    fx_write(path, &h, sizeof h);
}

static char *exec_kext(const char *dir, const char *name)
{
    plist_t info = fx_info("com.example.Exec", "1.0", NULL);
    fx_set_str(info, "CFBundleExecutable", "Exec");
    fx_lib(info, "org.kx.kpi.kmdf", "1.0");
    return fx_kext(dir, name, info);
}

static struct kx_kext *read_with_exec(const char *bundle, const char *arch)
{
    struct kx_kext_options o = fx_options();
    o.flags &= ~KX_KEXT_NO_EXEC;
    o.arch = arch;
    return read_ok(bundle, &o);
}

static void test_linux_executable_is_found_first(void **state)
{
    char *b = exec_kext(*state, "Exec");
    char *lin = fx_join(b, "Contents/Linux/Exec"), *mac = fx_join(b, "Contents/MacOS/Exec");
    write_elf(lin, ET_DYN, EM_X86_64);
    fx_write(mac, "\xcf\xfa\xed\xfe", 4);
    struct kx_kext *k = read_with_exec(b, "x86_64");
    assert_non_null(kx_kext_executable(k));
    assert_non_null(strstr(kx_kext_executable(k), "Contents/Linux/Exec"));
    assert_int_equal(kx_diags_count_errors(kx_kext_diags(k)), 0);
    assert_false(fx_has(kx_kext_diags(k), KX_D_FOREIGN_EXECUTABLE, NULL, NULL));
    kx_kext_free(k);
    free(lin);
    free(mac);
    free(b);
}

static void test_macho_executable_is_foreign_and_skipped(void **state)
{
    char *b = exec_kext(*state, "Mac");
    char *mac = fx_join(b, "Contents/MacOS/Exec");
    fx_write(mac, "\xcf\xfa\xed\xfe\x07\x00\x00\x01", 8);
    struct kx_kext *k = read_with_exec(b, NULL);
    assert_null(kx_kext_executable(k));
    assert_true(fx_has(kx_kext_diags(k), KX_D_FOREIGN_EXECUTABLE, "Contents/MacOS/Exec", "Mach-O"));
    assert_true(kx_kext_is_valid(k));
    kx_kext_free(k);
    free(mac);
    free(b);
}

/* Valid, but not loadable here: the loader's verdict, which kx check gives too (KX1015). A
 * metadata-only check (KX_KEXT_NO_EXEC) can't say, and says it didn't look. */
static void test_macho_executable_is_not_loadable(void **state)
{
    char *b = exec_kext(*state, "Mac");
    char *mac = fx_join(b, "Contents/MacOS/Exec");
    fx_write(mac, "\xcf\xfa\xed\xfe\x07\x00\x00\x01", 8);
    for (int no_exec = 0; no_exec < 2; no_exec++) {
        struct kx_kext_options o = fx_options();
        struct kx_kext_repo *r = NULL;
        struct kx_kext *k = NULL;
        int linked = -1;
        if (!no_exec)
            o.flags &= ~KX_KEXT_NO_EXEC;
        assert_int_equal(kx_kext_repo_new(&o, &r), STATUS_SUCCESS);
        assert_int_equal(kx_kext_repo_add_kext(r, b, &k), STATUS_SUCCESS);
        if (!no_exec)
            assert_true(kx_kext_lacks_executable(k));
        struct kx_kext_resolution *res = fx_resolve(r, k);
        kx_status st = kx_kext_resolution_verify(res, &linked);
        assert_int_equal(linked, !no_exec);
        assert_int_equal(st, no_exec ? STATUS_SUCCESS : STATUS_KEXT_NOT_LOADABLE);
        assert_int_equal(kx_kext_resolution_is_loadable(res), no_exec);
        assert_int_equal(fx_has(kx_kext_resolution_diags(res), KX_D_NO_EXECUTABLE_HERE,
                                "CFBundleExecutable", NULL),
                         !no_exec);
        kx_kext_resolution_free(res);
        kx_kext_repo_free(r);
    }
    free(mac);
    free(b);
}

static void test_elf_for_another_machine_is_foreign(void **state)
{
    char *b = exec_kext(*state, "Arm");
    char *lin = fx_join(b, "Contents/Linux/Exec");
    write_elf(lin, ET_DYN, EM_AARCH64);
    struct kx_kext *k = read_with_exec(b, "x86_64");
    assert_null(kx_kext_executable(k));
    assert_true(fx_has(kx_kext_diags(k), KX_D_FOREIGN_EXECUTABLE, NULL, "x86_64"));
    kx_kext_free(k);
    /* ... and usable when that machine is the one asked for. */
    k = read_with_exec(b, "arm64");
    assert_non_null(kx_kext_executable(k));
    kx_kext_free(k);
    free(lin);
    free(b);
}

static void test_bad_executables_are_validation_failures(void **state)
{
    static const struct {
        const char *name;
        int kind; /* 0 garbage, 1 empty, 2 ET_EXEC, 3 truncated ELF */
    } cases[] = {{"Garbage", 0}, {"Empty", 1}, {"NotShared", 2}, {"Truncated", 3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *b = exec_kext(*state, cases[i].name);
        char *lin = fx_join(b, "Contents/Linux/Exec");
        if (cases[i].kind == 0)
            fx_write_str(lin, "#!/bin/sh\necho not a driver\n");
        else if (cases[i].kind == 1)
            fx_write(lin, "", 0);
        else if (cases[i].kind == 2)
            write_elf(lin, ET_EXEC, EM_X86_64);
        else
            fx_write(lin, "\x7f" "ELF\x02\x01", 6);
        struct kx_kext *k = read_with_exec(b, "x86_64");
        if (!fx_has(kx_kext_diags(k), KX_D_EXECUTABLE_BAD, "Contents/Linux/Exec", NULL)) {
            fx_dump(kx_kext_diags(k), cases[i].name);
            fail_msg("%s: no KX_D_EXECUTABLE_BAD", cases[i].name);
        }
        assert_false(kx_kext_is_valid(k));
        assert_null(kx_kext_executable(k));
        kx_kext_free(k);
        free(lin);
        free(b);
    }
}

static void test_missing_executable_and_flat_lookup(void **state)
{
    char *b = exec_kext(*state, "NoExec");
    struct kx_kext *k = read_with_exec(b, NULL);
    assert_true(fx_has(kx_kext_diags(k), KX_D_EXECUTABLE_MISSING, "CFBundleExecutable", "Exec"));
    kx_kext_free(k);
    free(b);

    plist_t info = fx_info("com.example.FlatExec", "1.0", NULL);
    fx_set_str(info, "CFBundleExecutable", "Drv");
    fx_lib(info, "org.kx.kpi.kmdf", "1.0");
    b = fx_kext_flat(*state, "FlatExec", info);
    char *exe = fx_join(b, "Drv");
    write_elf(exe, ET_DYN, EM_X86_64);
    k = read_with_exec(b, "x86_64");
    assert_non_null(kx_kext_executable(k));
    kx_kext_free(k);
    free(exe);
    free(b);
}

static void test_no_exec_skips_executables(void **state)
{
    struct kx_kext_options o = fx_options(); /* KX_KEXT_NO_EXEC */
    char *b = exec_kext(*state, "Skip");
    struct kx_kext *k = read_ok(b, &o);
    assert_true(kx_kext_declares_executable(k));
    assert_null(kx_kext_executable(k));
    assert_int_equal(kx_kext_diags(k)->n_items, 0);
    kx_kext_free(k);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_contents_layout_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flat_layout_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_plist_is_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugins_are_kexts_of_their_own, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_info_plist_is_a_diagnostic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_plist_is_a_diagnostic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_that_is_not_a_folder_fails, setup, teardown),
        cmocka_unit_test(test_from_info_plist_bytes),
        cmocka_unit_test_setup_teardown(test_linux_executable_is_found_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_macho_executable_is_foreign_and_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_macho_executable_is_not_loadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elf_for_another_machine_is_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_executables_are_validation_failures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_executable_and_flat_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_exec_skips_executables, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
