/* test_kext_profiles.c — the kernel's interfaces as data: kx's own KPIs, the macOS
 * profiles (checked row by row against the seed's tables), and xnu's System.kext
 * found in an extensions folder. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_kx_interfaces_are_always_there(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    static const char *const ids[] = {"org.kx.kernel", "org.kx.kpi.kmdf", "org.kx.kpi.libc"};
    for (size_t i = 0; i < 3; i++) {
        struct kx_kext *k = kx_kext_repo_lookup(r, ids[i], KX_VERS_INVALID);
        assert_non_null(k);
        assert_true(kx_kext_is_kernel_resource(k));
        assert_true(kx_kext_is_loaded(k));
        assert_true(kx_kext_is_library(k));
        assert_true(kx_kext_is_valid(k));
        assert_non_null(strstr(kx_kext_path(k), "profile:kx/"));
    }
    struct kx_kext *kmdf = kx_kext_repo_lookup(r, "org.kx.kpi.kmdf", KX_VERS_INVALID);
    assert_int_equal(kx_kext_version(kmdf), kx_vers_parse("1.0"));
    assert_int_equal(kx_kext_compatible_version(kmdf), kx_vers_parse("1.0"));
    assert_null(kx_kext_repo_system(r));

    plist_t info = fx_info("org.example.driver", "1.0", NULL);
    fx_set_str(info, "CFBundleExecutable", "Drv");
    fx_lib(info, "org.kx.kpi.kmdf", "1.0");
    fx_lib(info, "org.kx.kpi.libc", "1.0");
    struct kx_kext_resolution *res = fx_resolve(r, fx_adopt(r, info));
    assert_true(kx_kext_resolution_is_loadable(res));
    assert_int_equal(kx_kext_resolution_n_load_order(res), 3);
    kx_kext_resolution_free(res);

    info = fx_info("org.example.future", "1.0", NULL);
    fx_lib(info, "org.kx.kpi.kmdf", "1.1"); /* newer than this kx: the loaded KPI can't serve it */
    res = fx_resolve(r, fx_adopt(r, info));
    assert_true(fx_has(kx_kext_resolution_diags(res), KX_D_LOADED_INCOMPATIBLE, "org.kx.kpi.kmdf",
                       "requested 1.1 not in [compatible 1.0, current 1.0]"));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_profile_names_aliases_and_errors(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    assert_int_equal(kx_kext_repo_use_system(r, "MACOS-10.3.9"), STATUS_SUCCESS);
    assert_string_equal(kx_kext_repo_system(r), "macos-10.3.9");
    assert_int_equal(kx_kext_repo_use_system(r, "modern"), STATUS_INVALID_PARAMETER);
    kx_kext_repo_free(r);

    r = fx_repo(0, "modern");
    assert_string_equal(kx_kext_repo_system(r), "macos-15.4");
    kx_kext_repo_free(r);
    r = fx_repo(0, "macos-10.1.4-5r60"); /* every build of a row finds it */
    assert_string_equal(kx_kext_repo_system(r), "macos-10.1.4-5r48");
    kx_kext_repo_free(r);
    r = fx_repo(0, NULL);
    assert_int_equal(kx_kext_repo_use_system(r, "macos-9.2"), STATUS_KEXT_NOT_FOUND);
    assert_null(kx_kext_repo_system(r));
    kx_kext_repo_free(r);
}

static void test_every_profile_loads_and_is_valid(void **state)
{
    (void)state;
    struct kx_kext_profiles *p = NULL;
    assert_int_equal(kx_kext_profiles_load(&p), STATUS_SUCCESS);
    assert_true(kx_kext_profiles_count(p) > 50);
    int lp64 = 0;
    for (size_t i = 0; i < kx_kext_profiles_count(p); i++) {
        const struct kx_kext_profile_info *x = kx_kext_profiles_get(p, i);
        struct kx_kext_repo *r = fx_repo(0, x->name);
        size_t n = 0;
        for (size_t j = 0; j < kx_kext_repo_count(r); j++) {
            struct kx_kext *k = kx_kext_repo_kext(r, j);
            assert_true(kx_kext_is_valid(k));
            assert_true(kx_kext_is_loaded(k));
            n += strncmp(kx_kext_path(k), "profile:macos", 13) == 0;
        }
        assert_int_equal(n, x->n_kexts);
        struct kx_kext *kernel = kx_kext_repo_lookup(r, "com.apple.kernel", KX_VERS_INVALID);
        assert_non_null(kernel);
        assert_string_equal(kx_kext_version_string(kernel), x->kernel_version);
        /* 10.4 introduced the KPIs, versioned as the kernel */
        struct kx_kext *bsd = kx_kext_repo_lookup(r, "com.apple.kpi.bsd", KX_VERS_INVALID);
        if (bsd)
            assert_string_equal(kx_kext_version_string(bsd), x->kernel_version);
        lp64 += x->is_lp64;
        kx_kext_repo_free(r);
    }
    assert_int_equal(lp64, 1); /* only the modern one */
    assert_null(kx_kext_profiles_get(p, kx_kext_profiles_count(p)));
    kx_kext_profiles_free(p);
}

/* ---- The seed's tables, row by row ----------------------------------------------------------- */

struct lines {
    char **v;
    size_t n;
};

static struct lines seed_lines(void)
{
    char *path = fx_join(fx_shared(), "seeds/kext-dependencies.txt");
    FILE *f = fopen(path, "r");
    struct lines L = {NULL, 0};
    char *line = NULL;
    size_t cap = 0;
    assert_non_null(f);
    while (getline(&line, &cap, f) >= 0) {
        char *s = line, *e;
        while (isspace((unsigned char)*s))
            s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*s)
            continue;
        L.v = realloc(L.v, (L.n + 1) * sizeof *L.v);
        assert_non_null(L.v);
        L.v[L.n++] = strdup(s);
    }
    free(line);
    fclose(f);
    free(path);
    return L;
}

static void free_lines(struct lines *L)
{
    for (size_t i = 0; i < L->n; i++)
        free(L->v[i]);
    free(L->v);
}

/* Releases already named: the first row of a release gets the plain name. */
struct seen {
    char v[128][16];
    size_t n;
};

static int seen_before(struct seen *s, const char *release)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], release) == 0)
            return 1;
    assert_true(s->n < 128);
    snprintf(s->v[s->n++], sizeof s->v[0], "%s", release);
    return 0;
}

/* The documented naming rule: macos-<release>, and for a further row of the same
 * release -<first build, lower case> or, without a build, -<label words>. */
static void profile_name(struct seen *seen, const char *label, char *out, size_t len)
{
    char release[16] = {0}, suffix[64] = {0};
    size_t i = 0;
    while (label[i] && label[i] != ' ' && i < sizeof release - 1) {
        release[i] = label[i];
        i++;
    }
    const char *build = strstr(label, "(Build");
    if (build) {
        build = strchr(build, ' ');
        size_t j = 0;
        for (build++; *build && !strchr(",- )", *build) && j < sizeof suffix - 1; build++)
            suffix[j++] = (char)tolower((unsigned char)*build);
    } else if (label[i] == ' ') {
        size_t j = 0;
        for (const char *w = label + i + 1; *w && j < sizeof suffix - 1; w++)
            suffix[j++] = *w == ' ' ? '-' : (char)tolower((unsigned char)*w);
    }
    if (seen_before(seen, release))
        snprintf(out, len, "macos-%s-%s", release, suffix);
    else
        snprintf(out, len, "macos-%s", release);
}

static void expect_version(struct kx_kext_repo *r, const char *profile, const char *column,
                           const char *value)
{
    char id[96];
    char want[32];
    snprintf(id, sizeof id, "com.apple.%s", column);
    snprintf(want, sizeof want, "%s", value);
    char *mark = strstr(want, "(");
    int loadable_family = mark && strcmp(mark, "(L)") == 0;
    if (mark)
        *mark = '\0';
    struct kx_kext *k = kx_kext_repo_lookup(r, id, KX_VERS_INVALID);
    if (loadable_family) { /* left the kernel: the profile must not provide it */
        if (k)
            fail_msg("%s provides %s, which the table marks (L)", profile, id);
        return;
    }
    if (!k)
        fail_msg("%s lacks %s", profile, id);
    if (strcmp(kx_kext_version_string(k), want) != 0)
        fail_msg("%s: %s is %s, the table says %s", profile, id, kx_kext_version_string(k), want);
    assert_true(kx_kext_is_kernel_resource(k));
}

static void test_profiles_match_the_seed_tables(void **state)
{
    fx_need_shared();
    (void)state;
    struct lines L = seed_lines();
    struct seen seen = {.n = 0};
    size_t rows = 0, i = 0;

    /* Table 1: columns are releases, rows are identifiers. */
    /* (the number is followed by non-breaking spaces in the seed) */
    while (i < L.n && !(strncmp(L.v[i], "Table 1", 7) == 0 && !isdigit((unsigned char)L.v[i][7])))
        i++;
    while (i < L.n && strcmp(L.v[i], "CFBundleIdentifier") != 0)
        i++;
    assert_true(i + 8 < L.n);
    const char *cols[7];
    char names[7][64];
    for (size_t c = 0; c < 7; c++) {
        cols[c] = L.v[i + 1 + c];
        profile_name(&seen, cols[c], names[c], sizeof names[c]);
    }
    for (size_t c = 0; c < 7; c++) {
        struct kx_kext_repo *r = fx_repo(0, names[c]);
        for (size_t j = i + 8; j + 7 < L.n && strncmp(L.v[j], "com.apple.", 10) == 0; j += 8)
            expect_version(r, names[c], L.v[j] + 10, L.v[j + 1 + c]);
        kx_kext_repo_free(r);
        rows++;
    }

    /* Tables 2 to 6: rows are releases, columns are components. */
    for (; i < L.n; i++) {
        if (strncmp(L.v[i], "Table ", 6) != 0 || L.v[i][6] < '2' || L.v[i][6] > '6' ||
            isdigit((unsigned char)L.v[i][7]))
            continue;
        size_t j = i + 1;
        assert_string_equal(L.v[j], "System release");
        const char *comp[8];
        size_t nc = 0;
        for (j++; j < L.n && strncmp(L.v[j], "10.", 3) != 0; j++) {
            assert_true(nc < 8);
            comp[nc++] = L.v[j];
        }
        for (; j + nc < L.n && strncmp(L.v[j], "10.", 3) == 0; j += nc + 1) {
            char name[64];
            profile_name(&seen, L.v[j], name, sizeof name);
            struct kx_kext_repo *r = fx_repo(0, name);
            for (size_t c = 0; c < nc; c++)
                expect_version(r, name, comp[c], L.v[j + 1 + c]);
            kx_kext_repo_free(r);
            rows++;
        }
        i = j - 1;
    }
    /* 7 columns of table 1, 7 + 10 + 2 + 16 + 11 rows of tables 2-6 */
    assert_int_equal(rows, 7 + 7 + 10 + 2 + 16 + 11);
    free_lines(&L);
}

static void test_modern_profile_is_xnu_11417(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, "modern");
    struct kx_kext *iokit = kx_kext_repo_lookup(r, "com.apple.kpi.iokit", KX_VERS_INVALID);
    assert_string_equal(kx_kext_version_string(iokit), "24.4.0");
    assert_int_equal(kx_kext_compatible_version(iokit), kx_vers_parse("7.0"));
    struct kx_kext *nmi = kx_kext_repo_lookup(r, "com.apple.driver.AppleNMI", KX_VERS_INVALID);
    assert_non_null(nmi);
    assert_false(kx_kext_is_library(nmi));
    assert_null(kx_kext_repo_lookup(r, "com.apple.kernel.6.0", KX_VERS_INVALID));
    kx_kext_repo_free(r);
}

/* ---- xnu's System.kext in an extensions folder ----------------------------------------------- */

/* Installs the corpus copy of xnu's config/System.kext (tag folder `xnu`) into dir, in
 * xnu's flat layout or with Contents/. */
static void install_system_kext(const char *dir, const char *xnu, int contents)
{
    static const char *const plugins[] = {
        "AppleNMI",     "ApplePlatformFamily", "BSDKernel",    "BSDKernel6.0",       "IOKit",
        "IOKit6.0",     "IONVRAMFamily",       "IOSystemManagement", "Kasan",        "Kcov",
        "Libkern",      "Libkern6.0",          "MACFramework", "Mach",               "Mach6.0",
        "Private",      "System6.0",           "Unsupported"};
    char *corpus = NULL, *sys = fx_join(dir, "System.kext");
    assert_true(asprintf(&corpus, "%s/corpus/kexts/apple-oss-distributions__%s", fx_shared(), xnu) > 0);
    for (size_t i = 0; i < sizeof plugins / sizeof plugins[0] + 1; i++) {
        char *saved = NULL, *probe = NULL, *dest = NULL;
        size_t len;
        if (i == 0)
            assert_true(asprintf(&saved, "kexts/apple-oss-distributions__%s/config__System.kext__Info.plist", xnu) > 0);
        else
            assert_true(asprintf(&saved, "kexts/apple-oss-distributions__%s/config__System.kext__PlugIns__%s.kext__Info.plist",
                                 xnu, plugins[i - 1]) > 0);
        assert_true(asprintf(&probe, "%s/corpus/%s", fx_shared(), saved) > 0);
        FILE *f = fopen(probe, "r");
        if (f) {
            fclose(f);
            char *data = fx_corpus_plist(saved, &len);
            if (i == 0)
                assert_true(asprintf(&dest, "%s/%sInfo.plist", sys, contents ? "Contents/" : "") > 0);
            else
                assert_true(asprintf(&dest, "%s/%sPlugIns/%s.kext/Info.plist", sys,
                                     contents ? "Contents/" : "", plugins[i - 1]) > 0);
            fx_write(dest, data, len);
            free(data);
        }
        free(saved);
        free(probe);
        free(dest);
    }
    free(corpus);
    free(sys);
}

static void test_system_kext_in_a_folder_serves_apple_kexts(void **state)
{
    fx_need_shared();
    (void)state;
    for (int contents = 0; contents < 2; contents++) {
        char *dir = fx_tmpdir(), *ext = fx_join(dir, "Extensions"), *kexts = fx_join(dir, "Kexts");
        install_system_kext(ext, "xnu", contents);
        char *pci = fx_corpus_kext(kexts, "IOPCIFamily",
                                   "kexts/apple-oss-distributions__IOPCIFamily/Info-IOPCIFamily.plist");
        struct kx_kext_repo *r = fx_repo(0, NULL);
        assert_int_equal(kx_kext_repo_add_folder(r, ext), STATUS_SUCCESS);
        struct kx_kext *bsd = kx_kext_repo_lookup(r, "com.apple.kpi.bsd", KX_VERS_INVALID);
        assert_non_null(bsd);
        assert_string_equal(kx_kext_version_string(bsd), "24.4.0");
        assert_true(kx_kext_is_kernel_resource(bsd));
        assert_false(kx_kext_is_loaded(bsd)); /* on disk, not the running kernel */
        struct kx_kext_resolution *res = fx_resolve(r, fx_add(r, pci));
        if (!kx_kext_resolution_is_loadable(res))
            fx_dump(kx_kext_resolution_diags(res), pci);
        assert_true(kx_kext_resolution_is_loadable(res));
        assert_true(fx_order_index(res, "com.apple.kpi.private") >= 0);
        kx_kext_resolution_free(res);
        kx_kext_repo_free(r);
        free(pci);
        free(kexts);
        free(ext);
        fx_rmrf(dir);
        free(dir);
    }
}

static void test_old_system_kext_serves_old_kexts_on_32_bit(void **state)
{
    fx_need_shared();
    (void)state;
    char *dir = fx_tmpdir(), *ext = fx_join(dir, "Extensions"), *kexts = fx_join(dir, "Kexts");
    install_system_kext(ext, "xnu@xnu-1456.1.26", 0);
    char *net = fx_corpus_kext(kexts, "IONetworkingFamily",
                               "kexts/apple-oss-distributions__IONetworkingFamily/"
                               "pbxbuild.data__IONetworkingFamily.build__Info.plist");
    struct kx_kext_options o = fx_options();
    o.arch = "i386";
    struct kx_kext_repo *r = NULL;
    assert_int_equal(kx_kext_repo_new(&o, &r), STATUS_SUCCESS);
    assert_int_equal(kx_kext_repo_add_folder(r, ext), STATUS_SUCCESS);
    struct kx_kext_resolution *res = fx_resolve(r, fx_add(r, net));
    if (!kx_kext_resolution_is_loadable(res))
        fx_dump(kx_kext_resolution_diags(res), net);
    assert_true(kx_kext_resolution_is_loadable(res));
    assert_true(fx_order_index(res, "com.apple.kernel.bsd") >= 0);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);

    r = fx_repo(0, NULL); /* the same on a 64-bit architecture: subcomponents are refused */
    o = fx_options();
    o.arch = "x86_64";
    kx_kext_repo_free(r);
    assert_int_equal(kx_kext_repo_new(&o, &r), STATUS_SUCCESS);
    assert_int_equal(kx_kext_repo_add_folder(r, ext), STATUS_SUCCESS);
    res = fx_resolve(r, fx_add(r, net));
    assert_true(fx_has(kx_kext_resolution_diags(res), KX_D_64BIT_KERNEL_LIBS, "com.apple.kernel.",
                       NULL));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
    free(net);
    free(kexts);
    free(ext);
    fx_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kx_interfaces_are_always_there),
        cmocka_unit_test(test_profile_names_aliases_and_errors),
        cmocka_unit_test(test_every_profile_loads_and_is_valid),
        cmocka_unit_test(test_profiles_match_the_seed_tables),
        cmocka_unit_test(test_modern_profile_is_xnu_11417),
        cmocka_unit_test(test_system_kext_in_a_folder_serves_apple_kexts),
        cmocka_unit_test(test_old_system_kext_serves_old_kexts_on_32_bit),
    };
    return fx_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
