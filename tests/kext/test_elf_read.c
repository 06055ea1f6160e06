/* test_elf_read.c — what kx reads from well-formed shared objects built by
 * this tree's CMake (tests/kext/elf-fixtures): class, driver-info record,
 * exported and imported symbols with versions, DT_NEEDED/SONAME, build-id. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kext/elf.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct kx_elf *open_ok(const char *path)
{
    struct kx_elf *e = NULL;
    char why[256] = "";
    kx_status st = kx_elf_open(path, &e, why, sizeof why);
    if (st != STATUS_SUCCESS)
        fail_msg("%s: %s (%s)", path, kx_status_name(st), why);
    return e;
}

static const struct kx_elf_symbol *find_sym(const struct kx_elf_symbol *v, size_t n,
                                            const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

static void test_elf_classifies_by_header(void **state)
{
    (void)state;
    FILE *f = fopen(KXFIX_DRIVER, "rb");
    assert_non_null(f);
    unsigned char buf[64];
    assert_int_equal(fread(buf, 1, sizeof buf, f), sizeof buf);
    fclose(f);
    assert_int_equal(kx_elf_classify(buf, sizeof buf), KX_ELF_KIND_NATIVE_SHARED);
    assert_int_equal(kx_elf_classify(buf, 10), KX_ELF_KIND_NOT_ELF);
    assert_int_equal(kx_elf_classify("#!/bin/sh\necho hi\n", 18), KX_ELF_KIND_NOT_ELF);
    assert_int_equal(kx_elf_classify("", 0), KX_ELF_KIND_NOT_ELF);
}

static void test_elf_reads_driver_info(void **state)
{
    (void)state;
    struct kx_elf *e = open_ok(KXFIX_DRIVER);
    struct kx_driver_info di;
    char why[256] = "";
    assert_int_equal(kx_elf_driver_info(e, &di, why, sizeof why), STATUS_SUCCESS);
    assert_string_equal(di.name, "KxFixDriver");
    assert_string_equal(di.version, "1.2.3");
    assert_int_equal(di.type, DRIVER_TYPE_KMD);
    assert_int_equal(di.load_priority, 900);
    assert_true(kx_elf_has_section(e, KX_DRIVER_INFO_SECTION));
    kx_elf_close(e);
}

static void test_elf_accepts_larger_record_from_newer_build(void **state)
{
    (void)state;
    struct kx_elf *e = open_ok(KXFIX_FUTURE);
    struct kx_driver_info di;
    char why[256] = "";
    assert_int_equal(kx_elf_driver_info(e, &di, why, sizeof why), STATUS_SUCCESS);
    assert_string_equal(di.name, "KxFixFuture");
    assert_string_equal(di.version, "2.0b1");
    assert_int_equal(di.type, DRIVER_TYPE_CMD);
    assert_int_equal(di.load_priority, -5);
    assert_true(di.size > sizeof di);
    kx_elf_close(e);
}

static void test_elf_reports_missing_driver_info(void **state)
{
    (void)state;
    struct kx_elf *e = open_ok(KXFIX_PLAIN);
    struct kx_driver_info di;
    char why[256] = "";
    assert_int_equal(kx_elf_driver_info(e, &di, why, sizeof why), STATUS_INVALID_DRIVER_INFO);
    assert_non_null(strstr(why, "no .kx_driver_info section"));
    assert_false(kx_elf_has_section(e, KX_DRIVER_INFO_SECTION));
    kx_elf_close(e);
}

static void test_elf_splits_exports_and_imports(void **state)
{
    (void)state;
    struct kx_elf *e = open_ok(KXFIX_DRIVER);
    struct kx_elf_dynsyms s;
    char why[256] = "";
    assert_int_equal(kx_elf_dynsyms(e, &s, why, sizeof why), STATUS_SUCCESS);

    const struct kx_elf_symbol *x = find_sym(s.exports, s.n_exports, "kxfix_driver_entry");
    assert_non_null(x);
    assert_int_equal(x->type, STT_FUNC);
    assert_int_equal(x->bind, STB_GLOBAL);
    assert_null(x->file);
    x = find_sym(s.exports, s.n_exports, "kxfix_data");
    assert_non_null(x);
    assert_int_equal(x->type, STT_OBJECT);
    x = find_sym(s.exports, s.n_exports, "kxfix_protected");
    assert_non_null(x);
    assert_int_equal(x->visibility, STV_PROTECTED);
    x = find_sym(s.exports, s.n_exports, "kxfix_weak");
    assert_non_null(x);
    assert_int_equal(x->bind, STB_WEAK);
    assert_null(find_sym(s.exports, s.n_exports, "kxfix_hidden"));
    assert_null(find_sym(s.exports, s.n_exports, "memcpy"));

    /* memcpy@GLIBC_2.14: .gnu.version_r names the C runtime's file */
    x = find_sym(s.imports, s.n_imports, "memcpy");
    assert_non_null(x);
    assert_non_null(x->version);
    assert_int_equal(strncmp(x->version, "GLIBC_", 6), 0);
    assert_string_equal(x->file, "libc.so.6");
    /* a library kext's versioned symbol names its file too */
    x = find_sym(s.imports, s.n_imports, "kxfix_dep_fn");
    assert_non_null(x);
    assert_string_equal(x->version, "KXFIX_1.0");
    assert_string_equal(x->file, "libkxfix_dep.so.1");
    x = find_sym(s.imports, s.n_imports, "kxfix_maybe");
    assert_non_null(x);
    assert_int_equal(x->bind, STB_WEAK);
    assert_null(find_sym(s.imports, s.n_imports, "kxfix_driver_entry"));
    kx_elf_dynsyms_free(&s);
    kx_elf_close(e);
}

static void test_elf_exports_carry_defined_versions(void **state)
{
    (void)state;
    struct kx_elf *e = open_ok(KXFIX_DEP);
    struct kx_elf_dynsyms s;
    char why[256] = "";
    assert_int_equal(kx_elf_dynsyms(e, &s, why, sizeof why), STATUS_SUCCESS);
    const struct kx_elf_symbol *x = find_sym(s.exports, s.n_exports, "kxfix_dep_fn");
    assert_non_null(x);
    assert_string_equal(x->version, "KXFIX_1.0");
    assert_null(x->file);
    /* the version script made everything else local */
    assert_int_equal(s.n_exports, 1);
    kx_elf_dynsyms_free(&s);
    kx_elf_close(e);
}

static void test_elf_lists_needed_and_soname(void **state)
{
    (void)state;
    struct kx_elf *e = open_ok(KXFIX_DRIVER);
    const char **needed = NULL, *soname = NULL;
    size_t n = 0;
    char why[256] = "";
    assert_int_equal(kx_elf_dynamic(e, &needed, &n, &soname, why, sizeof why), STATUS_SUCCESS);
    int has_dep = 0, has_libc = 0;
    for (size_t i = 0; i < n; i++) {
        has_dep |= strcmp(needed[i], "libkxfix_dep.so.1") == 0;
        has_libc |= strcmp(needed[i], "libc.so.6") == 0;
    }
    assert_true(has_dep);
    assert_true(has_libc);
    assert_string_equal(soname, "libkxfix_driver.so");
    free(needed);
    kx_elf_close(e);

    e = open_ok(KXFIX_DEP);
    assert_int_equal(kx_elf_dynamic(e, NULL, NULL, &soname, why, sizeof why), STATUS_SUCCESS);
    assert_string_equal(soname, "libkxfix_dep.so.1");
    kx_elf_close(e);
}

static void test_elf_formats_build_id_as_uuid(void **state)
{
    (void)state;
    const uint8_t *id;
    size_t len;
    char why[256] = "", uuid[KX_ELF_UUID_LEN];

    struct kx_elf *e = open_ok(KXFIX_DRIVER);
    assert_int_equal(kx_elf_build_id(e, &id, &len, why, sizeof why), STATUS_SUCCESS);
    assert_int_equal(len, 20);
    assert_int_equal(kx_elf_uuid_format(id, len, uuid), STATUS_SUCCESS);
    assert_string_equal(uuid, "01234567-89AB-CDEF-FEDC-BA9876543210");
    kx_elf_close(e);

    /* shorter than 16 bytes: zero-padded on the right */
    e = open_ok(KXFIX_PLAIN);
    assert_int_equal(kx_elf_build_id(e, &id, &len, why, sizeof why), STATUS_SUCCESS);
    assert_int_equal(len, 4);
    assert_int_equal(kx_elf_uuid_format(id, len, uuid), STATUS_SUCCESS);
    assert_string_equal(uuid, "DEADBEEF-0000-0000-0000-000000000000");
    kx_elf_close(e);

    e = open_ok(KXFIX_FUTURE);
    assert_int_equal(kx_elf_build_id(e, &id, &len, why, sizeof why), STATUS_SUCCESS);
    assert_null(id);
    assert_int_equal(len, 0);
    assert_int_equal(kx_elf_uuid_format(id, len, uuid), STATUS_INVALID_PARAMETER);
    assert_string_equal(uuid, "no UUID");
    kx_elf_close(e);
}

static void test_elf_open_reports_missing_file(void **state)
{
    (void)state;
    struct kx_elf *e = (struct kx_elf *)1;
    char why[256] = "";
    assert_int_equal(kx_elf_open("/nonexistent/kx/Foo", &e, why, sizeof why), STATUS_NO_SUCH_FILE);
    assert_null(e);
    assert_true(why[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_classifies_by_header),
        cmocka_unit_test(test_elf_reads_driver_info),
        cmocka_unit_test(test_elf_accepts_larger_record_from_newer_build),
        cmocka_unit_test(test_elf_reports_missing_driver_info),
        cmocka_unit_test(test_elf_splits_exports_and_imports),
        cmocka_unit_test(test_elf_exports_carry_defined_versions),
        cmocka_unit_test(test_elf_lists_needed_and_soname),
        cmocka_unit_test(test_elf_formats_build_id_as_uuid),
        cmocka_unit_test(test_elf_open_reports_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
