/* test_kext_corpus.c — the real Info.plists of ../shared/corpus and the dependency
 * scenarios 1-7 of its README. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LILU_100 "kexts/acidanthera__Lilu@b56a25ff/Lilu__Info.plist"
#define LILU_110 "kexts/acidanthera__Lilu@5ac243e3/Lilu__Info.plist"
#define LILU_118 "kexts/acidanthera__Lilu@be60a923/Lilu__Info.plist"
#define LILU_120 "kexts/acidanthera__Lilu@9634205b/Lilu__Info.plist"
#define LILU_172 "kexts/acidanthera__Lilu/Lilu__Info.plist"
#define APPLEALC_112 "kexts/acidanthera__AppleALC@9f2516c7/AppleALC__Info.plist"
#define PINCONFIGS "kexts/acidanthera__AppleALC/Resources__PinConfigs.kext__Contents__Info.plist"
#define IOACPI "kexts/apple-oss-distributions__IOACPIFamily/Info-IOACPIFamily.plist"
#define IOPCI "kexts/apple-oss-distributions__IOPCIFamily/Info-IOPCIFamily.plist"

struct env {
    char *dir, *ext;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    e->dir = fx_tmpdir();
    e->ext = fx_join(e->dir, "Extensions");
    fx_mkdirs(e->ext);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    fx_rmrf(e->dir);
    free(e->dir);
    free(e->ext);
    free(e);
    return 0;
}

static void install(struct env *e, const char *name, const char *saved_as)
{
    free(fx_corpus_kext(e->ext, name, saved_as));
}

/* A modern-kernel repository over e->ext; metadata only (the corpus has no executables). */
static struct kx_kext_repo *repo_over(struct env *e)
{
    struct kx_kext_repo *r = fx_repo(0, "modern");
    assert_int_equal(kx_kext_repo_add_folder(r, e->ext), STATUS_SUCCESS);
    return r;
}

static struct kx_kext *kext_named(struct kx_kext_repo *r, struct env *e, const char *name)
{
    char *b = NULL;
    assert_true(asprintf(&b, "%s/%s.kext", e->ext, name) > 0);
    struct kx_kext *k = fx_add(r, b);
    free(b);
    return k;
}

/* The version window a request for lib should be explained with, built from the data. */
static void window(struct kx_kext *from, const char *lib, struct kx_kext *cand, char *out,
                   size_t len)
{
    const char *requested = NULL;
    plist_t libs = plist_dict_get_item(kx_kext_info(from), "OSBundleLibraries_x86_64");
    if (!libs)
        libs = plist_dict_get_item(kx_kext_info(from), "OSBundleLibraries");
    requested = plist_get_string_ptr(plist_dict_get_item(libs, lib), NULL);
    const char *compat = plist_get_string_ptr(
        plist_dict_get_item(kx_kext_info(cand), "OSBundleCompatibleVersion"), NULL);
    snprintf(out, len, "requested %s not in [compatible %s, current %s]", requested, compat,
             kx_kext_version_string(cand));
}

/* ---- Scenario 1: the compatibility window ------------------------------------------------- */

static void test_scenario1_compatibility_window(void **state)
{
    fx_need_shared();
    struct env *e = *state;
    install(e, "Lilu-1.0.0", LILU_100);
    install(e, "Lilu-1.1.0", LILU_110);
    install(e, "Lilu-1.1.8", LILU_118);
    install(e, "Lilu-1.2.0", LILU_120);
    install(e, "Lilu-1.7.2", LILU_172);
    install(e, "AppleALC", APPLEALC_112);
    install(e, "PinConfigs", PINCONFIGS);
    struct kx_kext_repo *r = repo_over(e);
    struct kx_kext *alc = kext_named(r, e, "AppleALC");
    struct kx_kext_resolution *res = fx_resolve(r, alc);
    if (!kx_kext_resolution_is_loadable(res))
        fx_dump(kx_kext_resolution_diags(res), "AppleALC 1.1.2");
    assert_true(kx_kext_resolution_is_loadable(res));

    const struct kx_kext_dep *d = fx_dep(res, "as.vit9696.AppleALC", "as.vit9696.Lilu");
    assert_ptr_equal(d->chosen, kext_named(r, e, "Lilu-1.1.8"));
    assert_int_equal(fx_candidate(d, "Lilu-1.1.8.kext")->verdict, KX_CAND_CHOSEN);
    assert_int_equal(fx_candidate(d, "Lilu-1.2.0.kext")->verdict, KX_CAND_BELOW_COMPAT);
    assert_int_equal(fx_candidate(d, "Lilu-1.7.2.kext")->verdict, KX_CAND_BELOW_COMPAT);
    assert_int_equal(fx_candidate(d, "Lilu-1.0.0.kext")->verdict, KX_CAND_ABOVE_CURRENT);
    /* 1.1.0 would do too; the highest compatible version wins */
    assert_int_equal(fx_candidate(d, "Lilu-1.1.0.kext")->verdict, KX_CAND_SUPERSEDED);

    char want[160], line[320];
    window(alc, "as.vit9696.Lilu", kext_named(r, e, "Lilu-1.2.0"), want, sizeof want);
    assert_string_equal(kx_kext_candidate_explain(d, fx_candidate(d, "Lilu-1.2.0.kext"), line,
                                                  sizeof line),
                        want);
    window(alc, "as.vit9696.Lilu", kext_named(r, e, "Lilu-1.0.0"), want, sizeof want);
    assert_string_equal(kx_kext_candidate_explain(d, fx_candidate(d, "Lilu-1.0.0.kext"), line,
                                                  sizeof line),
                        want);
    assert_true(fx_order_index(res, "as.vit9696.Lilu") < fx_order_index(res, "as.vit9696.AppleALC"));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

/* ---- Scenario 2: per-plugin minimums ------------------------------------------------------- */

static void test_scenario2_per_plugin_minimums(void **state)
{
    fx_need_shared();
    struct env *e = *state;
    install(e, "Lilu", LILU_120);
    install(e, "IOACPIFamily", IOACPI);
    install(e, "IOPCIFamily", IOPCI);
    install(e, "VirtualSMC", "kexts/acidanthera__VirtualSMC/VirtualSMC__Info.plist");
    install(e, "WhateverGreen", "kexts/acidanthera__WhateverGreen/WhateverGreen__Info.plist");
    install(e, "AppleALC", "kexts/acidanthera__AppleALC/AppleALC__AppleALC-Info.plist");
    install(e, "NVMeFix", "kexts/acidanthera__NVMeFix/NVMeFix__Info.plist");
    install(e, "HibernationFixup", "kexts/acidanthera__HibernationFixup/HibernationFixup__Info.plist");
    struct kx_kext_repo *r = repo_over(e);
    struct kx_kext *lilu = kext_named(r, e, "Lilu");

    static const char *const good[] = {"VirtualSMC", "WhateverGreen", "AppleALC"};
    for (size_t i = 0; i < 3; i++) {
        struct kx_kext_resolution *res = fx_resolve(r, kext_named(r, e, good[i]));
        if (!kx_kext_resolution_is_loadable(res)) {
            fx_dump(kx_kext_resolution_diags(res), good[i]);
            fail_msg("%s should resolve against Lilu 1.2.0", good[i]);
        }
        assert_true(fx_order_index(res, "as.vit9696.Lilu") >= 0);
        kx_kext_resolution_free(res);
    }
    static const char *const bad[] = {"NVMeFix", "HibernationFixup"};
    for (size_t i = 0; i < 2; i++) {
        struct kx_kext *k = kext_named(r, e, bad[i]);
        struct kx_kext_resolution *res = fx_resolve(r, k);
        char want[160];
        window(k, "as.vit9696.Lilu", lilu, want, sizeof want);
        if (!fx_has(kx_kext_resolution_diags(res), KX_D_ONLY_INCOMPATIBLE, "as.vit9696.Lilu", want)) {
            fx_dump(kx_kext_resolution_diags(res), bad[i]);
            fail_msg("%s: expected \"%s\"", bad[i], want);
        }
        assert_false(kx_kext_resolution_is_loadable(res));
        kx_kext_resolution_free(res);
    }
    kx_kext_repo_free(r);
}

/* ---- Scenario 3: two levels ------------------------------------------------------------------- */

static void test_scenario3_two_levels(void **state)
{
    fx_need_shared();
    struct env *e = *state;
    install(e, "IOACPIFamily", IOACPI);
    install(e, "VirtualSMC", "kexts/acidanthera__VirtualSMC/VirtualSMC__Info.plist");
    install(e, "SMCProcessor", "kexts/acidanthera__VirtualSMC/Sensors__SMCProcessor__Info.plist");
    struct kx_kext_repo *r = repo_over(e);
    static const char *const both[] = {"VirtualSMC", "SMCProcessor"};
    for (size_t i = 0; i < 2; i++) { /* without Lilu both fail, naming Lilu */
        struct kx_kext_resolution *res = fx_resolve(r, kext_named(r, e, both[i]));
        assert_false(kx_kext_resolution_is_loadable(res));
        assert_true(fx_has(kx_kext_resolution_diags(res), KX_D_NO_KEXTS_FOUND, "as.vit9696.Lilu",
                           NULL));
        kx_kext_resolution_free(res);
    }
    struct kx_kext_resolution *res = fx_resolve(r, kext_named(r, e, "SMCProcessor"));
    assert_true(fx_has(kx_kext_resolution_diags(res), KX_D_INDIRECT, "as.vit9696.VirtualSMC", NULL));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);

    install(e, "Lilu", LILU_172);
    r = repo_over(e);
    res = fx_resolve(r, kext_named(r, e, "SMCProcessor"));
    if (!kx_kext_resolution_is_loadable(res))
        fx_dump(kx_kext_resolution_diags(res), "SMCProcessor");
    assert_true(kx_kext_resolution_is_loadable(res));
    int lilu = fx_order_index(res, "as.vit9696.Lilu"), vsmc = fx_order_index(res, "as.vit9696.VirtualSMC"),
        proc = fx_order_index(res, "as.vit9696.SMCProcessor");
    assert_true(lilu >= 0 && lilu < vsmc && vsmc < proc);
    assert_int_equal(proc, (int)kx_kext_resolution_n_load_order(res) - 1);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

/* ---- Scenario 4: the exact boundary ------------------------------------------------------------ */

static void test_scenario4_exact_boundary(void **state)
{
    fx_need_shared();
    struct env *e = *state;
    install(e, "IOACPIFamily", IOACPI);
    struct kx_kext_repo *r = repo_over(e);
    struct kx_kext *acpi = kext_named(r, e, "IOACPIFamily");
    struct kx_kext_resolution *res = fx_resolve(r, acpi);
    const struct kx_kext_dep *d = fx_dep(res, "com.apple.iokit.IOACPIFamily", "com.apple.kpi.iokit");
    assert_non_null(d->chosen);
    assert_int_equal(d->requested, kx_kext_compatible_version(d->chosen)); /* 7.0 == 7.0 */
    assert_int_equal(d->candidates[0].verdict, KX_CAND_CHOSEN);
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

/* ---- Scenario 5: one identifier, two bundles ---------------------------------------------------- */

/* The path of the copy BrcmPatchRAM3 gets (a static buffer). */
static const char *firmware_choice(struct env *e, int *warned)
{
    struct kx_kext_repo *r = repo_over(e);
    struct kx_kext_resolution *res = fx_resolve(r, kext_named(r, e, "BrcmPatchRAM3"));
    const struct kx_kext_dep *d = fx_dep(res, "as.acidanthera.BrcmPatchRAM3",
                                         "as.acidanthera.BrcmFirmwareStore");
    static char path[512];
    assert_non_null(d->chosen);
    snprintf(path, sizeof path, "%s", kx_kext_path(d->chosen));
    *warned = fx_has(kx_kext_resolution_diags(res), KX_D_DUPLICATE_ID,
                     "as.acidanthera.BrcmFirmwareStore", path) &&
              fx_has(kx_kext_repo_diags(r), KX_D_DUPLICATE_ID, "as.acidanthera.BrcmFirmwareStore",
                     "most recently added");
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
    return path;
}

static void test_scenario5_duplicate_identifier(void **state)
{
    fx_need_shared();
    struct env *e = *state;
    install(e, "BrcmFirmwareData", "kexts/acidanthera__BrcmPatchRAM/BrcmPatchRAM__BrcmFirmwareData-Info.plist");
    install(e, "BrcmFirmwareRepo", "kexts/acidanthera__BrcmPatchRAM/BrcmPatchRAM__BrcmFirmwareRepo-Info.plist");
    install(e, "BrcmPatchRAM3", "kexts/acidanthera__BrcmPatchRAM/BrcmPatchRAM__BrcmPatchRAM3-Info.plist");
    int warned1 = 0, warned2 = 0;
    char first[512];
    snprintf(first, sizeof first, "%s", firmware_choice(e, &warned1));
    const char *second = firmware_choice(e, &warned2);
    assert_true(warned1 && warned2);
    assert_string_equal(first, second); /* deterministic */
    /* folders are read in name order, and among equal versions the last added wins */
    assert_non_null(strstr(first, "BrcmFirmwareRepo.kext"));
}

/* ---- Scenario 6: every plist of the corpus ------------------------------------------------------ */

static char *field(char *line, int n)
{
    char *s = line;
    for (int i = 0; i < n && s; i++) {
        s = strchr(s, '\t');
        if (s)
            s++;
    }
    if (!s)
        return NULL;
    size_t len = strcspn(s, "\t\n");
    char *out = strndup(s, len);
    assert_non_null(out);
    return out;
}

static void test_scenario6_every_corpus_plist(void **state)
{
    fx_need_shared();
    (void)state;
    char *manifest = fx_join(fx_shared(), "corpus/MANIFEST.tsv");
    FILE *f = fopen(manifest, "r");
    char *line = NULL;
    size_t cap = 0, n_rows = 0, n_identity = 0, n_rejected = 0;
    assert_non_null(f);
    assert_true(getline(&line, &cap, f) > 0); /* header */
    while (getline(&line, &cap, f) > 0) {
        char *saved = field(line, 3), *raw_id = field(line, 4), *raw_ver = field(line, 5),
             *rid = field(line, 13), *rver = field(line, 14), *rcompat = field(line, 15);
        size_t len = 0;
        char *data = fx_corpus_plist(saved, &len);
        struct kx_kext *k = NULL;
        struct kx_kext_options o = fx_options();
        assert_int_equal(kx_kext_from_info_plist(data, len, saved, &o, &k), STATUS_SUCCESS);
        const struct kx_diags *d = kx_kext_diags(k);
        n_rows++;
        if (fx_has(d, KX_D_PLIST_PARSE, NULL, NULL)) {
            /* only C-preprocessed plists may fail to parse (scenario 7) */
            if (!strstr(data, "\n#if"))
                fail_msg("%s doesn't parse", saved);
            n_rejected++;
        } else if (!*raw_id || !*raw_ver) {
            /* a template whose build system adds the identity (Xcode's generated keys) */
            if (!fx_has(d, KX_D_MISSING_PROPERTY, *raw_id ? "CFBundleVersion" : "CFBundleIdentifier",
                        NULL)) {
                fx_dump(d, saved);
                fail_msg("%s: the missing identity isn't reported", saved);
            }
            n_rejected++;
        } else if (kx_vers_parse(rver) == KX_VERS_INVALID || strchr(rid, '$')) {
            /* deliberately unresolvable: the message names the key and what is left */
            const char *key = strchr(rid, '$') ? "CFBundleIdentifier" : "CFBundleVersion";
            const char *left = strchr(rid, '$') ? strchr(rid, '$') : rver;
            if (!fx_has(d, KX_D_UNEXPANDED_VARIABLE, key, left)) {
                fx_dump(d, saved);
                fail_msg("%s: no clear message for %s = %s", saved, key, left);
            }
            assert_false(kx_kext_is_valid(k));
            n_rejected++;
        } else {
            if (!kx_kext_id(k) || strcmp(kx_kext_id(k), rid) != 0 ||
                kx_kext_version(k) != kx_vers_parse(rver) ||
                (*rcompat && kx_kext_compatible_version(k) != kx_vers_parse(rcompat))) {
                fx_dump(d, saved);
                fail_msg("%s: read %s %s, the manifest says %s %s", saved,
                         kx_kext_id(k) ? kx_kext_id(k) : "(none)",
                         kx_kext_version_string(k) ? kx_kext_version_string(k) : "(none)", rid,
                         rver);
            }
            assert_false(fx_has(d, KX_D_STRING_TOO_LONG, NULL, NULL));
            n_identity++;
        }
        kx_kext_free(k);
        free(data);
        free(saved);
        free(raw_id);
        free(raw_ver);
        free(rid);
        free(rver);
        free(rcompat);
    }
    free(line);
    fclose(f);
    free(manifest);
    assert_true(n_rows >= 190);
    assert_int_equal(n_identity + n_rejected, n_rows);
    fprintf(stderr, "corpus: %zu read, %zu rejected with a reason\n", n_identity, n_rejected);
    assert_true(n_rejected > 0 && n_rejected * 10 < n_rows);
}

/* ---- The modern profile knows the families real kexts link against ------------------------------ */

/* Every Apple library a corpus kext declares that macOS 15 ships: the modern profile must serve
 * each request for one, alone in a folder (no copy of the family beside it). */
static const char *const modern_families[] = {
    "com.apple.iokit.IOPCIFamily",     "com.apple.iokit.IOACPIFamily",
    "com.apple.iokit.IONetworkingFamily", "com.apple.iokit.IOStorageFamily",
    "com.apple.iokit.IOHIDFamily",     "com.apple.iokit.IOHIDSystem",
    "com.apple.iokit.IOGraphicsFamily", "com.apple.iokit.IOAudioFamily",
    "com.apple.iokit.IOUSBHostFamily", "com.apple.iokit.IOSCSIArchitectureModelFamily",
    "com.apple.iokit.IOSMBusFamily",   "com.apple.iokit.IOReportFamily",
    "com.apple.iokit.IOSkywalkFamily", "com.apple.driver.AppleACPIPlatform",
    "com.apple.driver.AppleUSBHostMergeProperties", "com.apple.driver.corecapture"};

static int is_modern_family(const char *id)
{
    for (size_t i = 0; id && i < sizeof modern_families / sizeof modern_families[0]; i++)
        if (strcmp(id, modern_families[i]) == 0)
            return 1;
    return 0;
}

static void test_modern_profile_serves_the_corpus_families(void **state)
{
    fx_need_shared();
    (void)state;
    char *manifest = fx_join(fx_shared(), "corpus/MANIFEST.tsv");
    FILE *f = fopen(manifest, "r");
    char *line = NULL;
    size_t cap = 0, n_requests = 0;
    assert_non_null(f);
    assert_true(getline(&line, &cap, f) > 0); /* header */
    while (getline(&line, &cap, f) > 0) {
        char *saved = field(line, 3);
        size_t len = 0;
        char *data = fx_corpus_plist(saved, &len);
        struct kx_kext_repo *r = fx_repo(0, "modern");
        struct kx_kext *k = NULL;
        struct kx_kext_options o = fx_options();
        assert_int_equal(kx_kext_from_info_plist(data, len, saved, &o, &k), STATUS_SUCCESS);
        assert_int_equal(kx_kext_repo_adopt(r, k), STATUS_SUCCESS);
        for (size_t i = 0; i < kx_kext_n_libraries(k); i++)
            n_requests += is_modern_family(kx_kext_library(k, i, NULL));
        struct kx_kext_resolution *res = fx_resolve(r, k);
        const struct kx_diags *d = kx_kext_resolution_diags(res);
        for (size_t i = 0; i < d->n_items; i++)
            if (d->items[i].code == KX_D_NO_KEXTS_FOUND && is_modern_family(d->items[i].subject)) {
                fx_dump(d, saved);
                fail_msg("%s: the modern profile has no %s", saved, d->items[i].subject);
            }
        kx_kext_resolution_free(res);
        kx_kext_repo_free(r);
        free(data);
        free(saved);
    }
    free(line);
    fclose(f);
    free(manifest);
    assert_true(n_requests >= 100); /* the corpus does ask for them */
}

/* ---- Scenario 7: robustness -------------------------------------------------------------------- */

static void test_scenario7_odd_plists(void **state)
{
    fx_need_shared();
    (void)state;
    static const char *const ok[] = {
        /* no XML declaration, single-quoted attributes */
        "kexts/acidanthera__BrcmPatchRAM/firmwares__0a5c_216f__BrcmFirmwareInjector_0a5c_216f.kext__Contents__Info.plist",
        /* IOKitUser's pre-10.0 "Modules" plist, version="0.9" */
        "kexts/apple-oss-distributions__IOKitUser/Info.plist",
    };
    for (size_t i = 0; i < 2; i++) {
        size_t len = 0;
        char *data = fx_corpus_plist(ok[i], &len);
        struct kx_kext *k = NULL;
        assert_int_equal(kx_kext_from_info_plist(data, len, ok[i], NULL, &k), STATUS_SUCCESS);
        if (!kx_kext_is_valid(k)) {
            fx_dump(kx_kext_diags(k), ok[i]);
            fail_msg("%s should be read", ok[i]);
        }
        assert_non_null(kx_kext_id(k));
        kx_kext_free(k);
        free(data);
    }
    size_t len = 0;
    const char *storage = "kexts/apple-oss-distributions__IOStorageFamily/Info.plist";
    char *data = fx_corpus_plist(storage, &len); /* #if lines inside a <dict> */
    struct kx_kext *k = NULL;
    assert_int_equal(kx_kext_from_info_plist(data, len, storage, NULL, &k), STATUS_SUCCESS);
    assert_true(fx_has(kx_kext_diags(k), KX_D_PLIST_PARSE, NULL, "malformed"));
    kx_kext_free(k);
    free(data);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_scenario1_compatibility_window),
        T(test_scenario2_per_plugin_minimums),
        T(test_scenario3_two_levels),
        T(test_scenario4_exact_boundary),
        T(test_scenario5_duplicate_identifier),
        cmocka_unit_test(test_scenario6_every_corpus_plist),
        cmocka_unit_test(test_scenario7_odd_plists),
        cmocka_unit_test(test_modern_profile_serves_the_corpus_families),
    };
#undef T
    return fx_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
