/* test_kernel_verdict.c — one verdict: `kx check` (kx_kext_resolution_verify),
 * a kernel's dry run and a real load in an in-process kernel agree on every
 * check fixture (verdict/), and name the same first problem.
 *
 * A fixture that passes must really load (and is unloaded again); one that
 * fails must fail all three ways with the same status. A Mach-O executable is
 * written at run time into a mkdtemp folder. A DriverEntry that fails is not
 * a check (no dry run can know it) and has no fixture here.
 */
#include <kx/kernel.h>
#include <kx/kext.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct env {
    char verdict_dir[512], samples_dir[512];
    char tmp[256];
    struct kx_kernel *k;
};

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* MachO.kext: valid metadata, an executable for macOS. */
static void make_macho(const char *dir)
{
    static const unsigned char magic[] = {0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1};
    char p[600];
    snprintf(p, sizeof p, "%s/MachO.kext", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/MachO.kext/Contents", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/MachO.kext/Contents/MacOS", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/MachO.kext/Contents/MacOS/MachO", dir);
    write_file(p, magic, sizeof magic);
    snprintf(p, sizeof p, "%s/MachO.kext/Contents/Info.plist", dir);
    static const char plist[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>"
        "<key>CFBundleExecutable</key><string>MachO</string>"
        "<key>CFBundleIdentifier</key><string>org.kx.test.MachO</string>"
        "<key>CFBundleInfoDictionaryVersion</key><string>6.0</string>"
        "<key>CFBundlePackageType</key><string>KEXT</string>"
        "<key>CFBundleVersion</key><string>1.0.0</string>"
        "<key>OSBundleLibraries</key><dict><key>org.kx.kpi.kmdf</key><string>1.0</string>"
        "</dict></dict></plist>\n";
    write_file(p, plist, sizeof plist - 1);
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    snprintf(e->verdict_dir, sizeof e->verdict_dir, "%s/tests/verdict-extensions",
             getenv("KX_BUILD_DIR"));
    snprintf(e->samples_dir, sizeof e->samples_dir, "%s/extensions", getenv("KX_BUILD_DIR"));
    snprintf(e->tmp, sizeof e->tmp, "/tmp/kx-verdict-XXXXXX");
    assert_non_null(mkdtemp(e->tmp));
    make_macho(e->tmp);
    const char *dirs[] = {e->verdict_dir, e->samples_dir};
    struct kx_io_config io = {sizeof io, NULL, 60000, 60000, 60000, 60000, 1024, NULL, NULL, 0, 0};
    struct kx_kernel_config cfg = {sizeof cfg,       NULL, dirs, 2, 1, &io, KX_BOOT_LOCAL, NULL,
                                   KX_BOOT_NO_CACHE, 0};
    assert_int_equal(kx_kernel_new(&cfg, &e->k), STATUS_SUCCESS);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    char p[600];
    kx_kernel_free(e->k);
    snprintf(p, sizeof p, "%s/MachO.kext/Contents/MacOS/MachO", e->tmp);
    unlink(p);
    snprintf(p, sizeof p, "%s/MachO.kext/Contents/Info.plist", e->tmp);
    unlink(p);
    snprintf(p, sizeof p, "%s/MachO.kext/Contents/MacOS", e->tmp);
    rmdir(p);
    snprintf(p, sizeof p, "%s/MachO.kext/Contents", e->tmp);
    rmdir(p);
    snprintf(p, sizeof p, "%s/MachO.kext", e->tmp);
    rmdir(p);
    rmdir(e->tmp);
    free(e);
    return 0;
}

/* kx check's verdict: the same folders, the KEXT named last, the loader's checks. */
static kx_status check_verdict(struct env *e, const char *path, const char **first_code)
{
    struct kx_kext_options opts = KX_KEXT_OPTIONS_INIT;
    opts.flags = KX_KEXT_NO_AUTH;
    struct kx_kext_repo *r = NULL;
    struct kx_kext *kext = NULL;
    struct kx_kext_resolution *res = NULL;
    int linked = 0;
    assert_int_equal(kx_kext_repo_new(&opts, &r), STATUS_SUCCESS);
    assert_int_equal(kx_kext_repo_add_folder(r, e->verdict_dir), STATUS_SUCCESS);
    assert_int_equal(kx_kext_repo_add_folder(r, e->samples_dir), STATUS_SUCCESS);
    assert_int_equal(kx_kext_repo_add_kext(r, path, &kext), STATUS_SUCCESS);
    assert_int_equal(kx_kext_resolve(r, kext, &res), STATUS_SUCCESS);
    kx_status st = kx_kext_resolution_verify(res, &linked);
    assert_int_equal(st, kx_kext_resolution_status(res));
    assert_int_equal(kx_kext_resolution_is_loadable(res), st == STATUS_SUCCESS);
    const struct kx_diag *d = kx_diags_first_failure(kx_kext_resolution_diags(res));
    *first_code = d ? kx_diag_code_string(d->code) : "";
    if (st == STATUS_SUCCESS)
        assert_true(linked); /* "including linkage": the loader's checks ran */
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
    return st;
}

/* Loads path both ways in the kernel and checks it with kx check; all three must agree. */
static void agree(struct env *e, const char *path, kx_status want, const char *want_code)
{
    const char *code = NULL;
    char *dry = NULL, *real = NULL;
    kx_status checked = check_verdict(e, path, &code);
    kx_status dry_st = kx_kernel_load(e->k, path, NULL, KX_KERNEL_LOAD_DRY_RUN, &dry);
    kx_status real_st = kx_kernel_load(e->k, path, NULL, 0, &real);
    if (checked != want || dry_st != want || real_st != want || strcmp(code, want_code) != 0)
        fail_msg("%s: check %s (%s), dry run %s, load %s; wanted %s (%s)\ndry run: %s\nload: %s",
                 path, kx_status_name(checked), code, kx_status_name(dry_st),
                 kx_status_name(real_st), kx_status_name(want), want_code, dry ? dry : "",
                 real ? real : "");
    if (*want_code) { /* the dry run and the load name the problem kx check names first */
        assert_non_null(strstr(dry, want_code));
        assert_non_null(strstr(real, want_code));
    }
    free(dry);
    free(real);
    if (real_st == STATUS_SUCCESS) {
        char *report = NULL;
        const char *slash = strrchr(path, '/');
        char id[128];
        snprintf(id, sizeof id, "org.kx.test.%.*s", (int)(strlen(slash + 1) - 5), slash + 1);
        assert_int_equal(kx_kernel_unload(e->k, id, NULL, 0, &report), STATUS_SUCCESS);
        free(report);
    }
}

static void fixture(void **state, const char *name, kx_status want, const char *code)
{
    struct env *e = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/%s.kext", e->verdict_dir, name);
    agree(e, path, want, code);
}

static void test_good_loads_every_way(void **state)
{
    fixture(state, "CheckGood", STATUS_SUCCESS, "");
}

static void test_missing_driver_info_record(void **state)
{
    fixture(state, "CheckNoInfo", STATUS_KEXT_VALIDATION_FAILED, "KX1010");
}

static void test_driver_info_version_differs(void **state)
{
    fixture(state, "CheckMismatch", STATUS_KEXT_VALIDATION_FAILED, "KX1011");
}

static void test_undeclared_symbol(void **state)
{
    fixture(state, "CheckUndeclared", STATUS_KEXT_LINK_FAILED, "KX3016");
}

static void test_library_that_cant_load_sinks_its_user(void **state)
{
    fixture(state, "CheckBadLibUser", STATUS_KEXT_VALIDATION_FAILED, "KX1011");
}

static void test_library_and_its_user_load_together(void **state)
{
    fixture(state, "CheckLibUser", STATUS_SUCCESS, "");
}

static void test_missing_library(void **state)
{
    fixture(state, "CheckMissingLib", STATUS_KEXT_DEPENDENCY_FAILED, "KX3001");
}

static void test_macho_executable(void **state)
{
    struct env *e = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/MachO.kext", e->tmp);
    agree(e, path, STATUS_KEXT_NOT_LOADABLE, "KX1015");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_good_loads_every_way),
        T(test_missing_driver_info_record),
        T(test_driver_info_version_differs),
        T(test_undeclared_symbol),
        T(test_library_that_cant_load_sinks_its_user),
        T(test_library_and_its_user_load_together),
        T(test_missing_library),
        T(test_macho_executable),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
