/* test_kext_validate.c — every Info.plist key of research §7.1, all problems in one pass,
 * and malformed input that must give a diagnostic, never a crash. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Validates an Info dictionary (freed) as an in-memory kext. */
static struct kx_kext *from_dict(plist_t info, const char *arch)
{
    struct kx_kext_options o = fx_options();
    struct kx_kext *k = NULL;
    char *xml = NULL;
    uint32_t len = 0;
    o.arch = arch;
    plist_to_xml(info, &xml, &len);
    plist_free(info);
    assert_int_equal(kx_kext_from_info_plist(xml, len, "Test.kext", &o, &k), STATUS_SUCCESS);
    free(xml);
    return k;
}

static struct kx_kext *from_text(const char *text, size_t len)
{
    struct kx_kext *k = NULL;
    assert_int_equal(kx_kext_from_info_plist(text, len, "Text.kext", NULL, &k), STATUS_SUCCESS);
    assert_non_null(k);
    return k;
}

static void expect(struct kx_kext *k, enum kx_diag_code code, const char *subject, const char *detail)
{
    if (!fx_has(kx_kext_diags(k), code, subject, detail)) {
        fx_dump(kx_kext_diags(k), kx_kext_path(k));
        fail_msg("expected %s (%s) about %s", kx_diag_code_string(code), kx_diag_message(code),
                 subject ? subject : "anything");
    }
}

static void test_every_problem_is_reported_in_one_pass(void **state)
{
    (void)state;
    char id[80];
    memset(id, 'a', 64);
    id[64] = '\0';
    plist_t info = fx_info(id, "1.0.0.0", NULL);
    fx_set_str(info, "OSBundleAllowUserLoad", "yes");
    fx_set_str(info, "OSBundleRequired", "Always");
    fx_set_str(info, "OSBundleDebugLevel", "1");
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_STRING_TOO_LONG, "CFBundleIdentifier", "64");
    expect(k, KX_D_ILLEGAL_VALUE, "CFBundleVersion", "1.0.0.0");
    expect(k, KX_D_ILLEGAL_TYPE, "OSBundleAllowUserLoad", "boolean");
    expect(k, KX_D_ILLEGAL_VALUE, "OSBundleRequired", "Always");
    expect(k, KX_D_DEPRECATED_PROPERTY, "OSBundleDebugLevel", NULL);
    assert_false(kx_kext_is_valid(k));
    kx_kext_free(k);
}

static void test_identifier_and_version_must_be_shorter_than_64(void **state)
{
    (void)state;
    char id[80], ver[80];
    memset(id, 'b', 63);
    id[63] = '\0';
    struct kx_kext *k = from_dict(fx_info(id, "1.0", NULL), NULL);
    assert_true(kx_kext_is_valid(k));
    kx_kext_free(k);

    memcpy(ver, "1.0", 3);
    memset(ver + 3, ' ', 61); /* still parses as 1.0, but is 64 characters */
    ver[64] = '\0';
    k = from_dict(fx_info("com.example.Long", ver, NULL), NULL);
    expect(k, KX_D_STRING_TOO_LONG, "CFBundleVersion", NULL);
    kx_kext_free(k);
}

static void test_required_properties_are_missing(void **state)
{
    (void)state;
    struct kx_kext *k = from_dict(plist_new_dict(), NULL);
    expect(k, KX_D_MISSING_PROPERTY, "CFBundlePackageType", NULL);
    expect(k, KX_D_MISSING_PROPERTY, "CFBundleIdentifier", NULL);
    expect(k, KX_D_MISSING_PROPERTY, "CFBundleVersion", NULL);
    kx_kext_free(k);

    plist_t info = fx_info("com.example.Type", "1.0", NULL);
    fx_set_str(info, "CFBundlePackageType", "APPL");
    k = from_dict(info, NULL);
    expect(k, KX_D_ILLEGAL_VALUE, "CFBundlePackageType", "APPL");
    kx_kext_free(k);

    info = fx_info("com.example.Type", NULL, NULL);
    plist_dict_set_item(info, "CFBundleVersion", plist_new_uint(1));
    k = from_dict(info, NULL);
    expect(k, KX_D_ILLEGAL_TYPE, "CFBundleVersion", "string");
    kx_kext_free(k);
}

static void test_compatible_version_above_current(void **state)
{
    (void)state;
    struct kx_kext *k = from_dict(fx_info("com.example.Compat", "1.0", "2.0"), NULL);
    expect(k, KX_D_COMPAT_ABOVE_CURRENT, "OSBundleCompatibleVersion", "2.0");
    kx_kext_free(k);
    k = from_dict(fx_info("com.example.Compat", "1.0", "not-a-version"), NULL);
    expect(k, KX_D_ILLEGAL_VALUE, "OSBundleCompatibleVersion", NULL);
    assert_false(kx_kext_is_library(k));
    kx_kext_free(k);
}

static void test_unexpanded_build_variables_are_named(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value, *token;
    } cases[] = {
        {"CFBundleVersion", "$(MODULE_VERSION)", "$(MODULE_VERSION)"},
        {"CFBundleIdentifier", "${PRODUCT_BUNDLE_IDENTIFIER}", "${PRODUCT_BUNDLE_IDENTIFIER}"},
        {"CFBundleIdentifier", "as.acidanthera.mieze.${PRODUCT_NAME:rfc1034identifier}",
         "${PRODUCT_NAME:rfc1034identifier}"},
        {"CFBundleVersion", "$MODULE_VERSION", "$MODULE_VERSION"},
        {"CFBundleVersion", "HWSENSORS_REVISION", "HWSENSORS_REVISION"},
        {"CFBundleIdentifier", "FAKESMC_BUNDLE", "FAKESMC_BUNDLE"},
        {"OSBundleCompatibleVersion", "$(MODULE_VERSION)", "$(MODULE_VERSION)"},
        {"OSBundleCompatibleVersion_x86_64", "${CURRENT_PROJECT_VERSION}",
         "${CURRENT_PROJECT_VERSION}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        plist_t info = fx_info("com.example.Vars", "1.0", NULL);
        fx_set_str(info, cases[i].key, cases[i].value);
        struct kx_kext *k = from_dict(info, NULL);
        expect(k, KX_D_UNEXPANDED_VARIABLE, cases[i].key, cases[i].token);
        assert_false(kx_kext_is_valid(k));
        kx_kext_free(k);
    }
    /* Library names and versions are Apple's to validate too. */
    plist_t info = fx_info("com.example.Vars", "1.0", NULL);
    fx_lib(info, "FAKESMCKEYSTORE_BUNDLE", "1.0");
    fx_lib(info, "com.example.Lib", "FAKESMCKEYSTORE_COMPATIBLE");
    fx_lib(info, "com.example.${PRODUCT_NAME}", "1.0");
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_UNEXPANDED_VARIABLE, "OSBundleLibraries/FAKESMCKEYSTORE_BUNDLE",
           "FAKESMCKEYSTORE_BUNDLE");
    expect(k, KX_D_UNEXPANDED_VARIABLE, "OSBundleLibraries/com.example.Lib",
           "FAKESMCKEYSTORE_COMPATIBLE");
    expect(k, KX_D_UNEXPANDED_VARIABLE, "OSBundleLibraries/com.example.${PRODUCT_NAME}",
           "${PRODUCT_NAME}");
    assert_int_equal(kx_kext_n_libraries(k), 0); /* none of them is a request */
    assert_false(kx_kext_is_valid(k));
    kx_kext_free(k);
    /* Dollar signs that are not build variables pass. */
    info = fx_info("com.example.Vars", "1.0", NULL);
    fx_set_str(info, "CFBundleName", "costs $5 or $lower");
    k = from_dict(info, NULL);
    assert_int_equal(kx_kext_diags(k)->n_items, 0);
    kx_kext_free(k);
}

/* Where Apple validates nothing, the same detector finds the same variables, as warnings: the
 * kext stays valid and carries the text as written. */
static void test_build_variables_elsewhere_are_warnings(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value, *token;
    } cases[] = {
        {"CFBundleGetInfoString", "Pseudoextension, ###KERNEL_VERSION_LONG###",
         "###KERNEL_VERSION_LONG###"},
        {"CFBundleShortVersionString", "HWSENSORS_VERSION", "HWSENSORS_VERSION"},
        {"CFBundleName", "$(PRODUCT_NAME)", "$(PRODUCT_NAME)"},
        {"Source Code", "SOURCE_CODE_LINK", "SOURCE_CODE_LINK"},
        {"RM,Build", "Release-${LOGNAME}", "${LOGNAME}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        plist_t info = fx_info("com.example.Vars", "1.0", NULL);
        fx_set_str(info, cases[i].key, cases[i].value);
        struct kx_kext *k = from_dict(info, NULL);
        expect(k, KX_D_UNEXPANDED_VARIABLE_WARNING, cases[i].key, cases[i].token);
        assert_false(fx_has(kx_kext_diags(k), KX_D_UNEXPANDED_VARIABLE, NULL, NULL));
        assert_true(kx_kext_is_valid(k));
        kx_kext_free(k);
    }
    /* In a personality: $(X) still warns; an upper-case matching value is data. */
    plist_t info = fx_info("com.example.Vars", "1.0", NULL);
    plist_t ps = plist_new_dict(), p = plist_new_dict();
    plist_dict_set_item(p, "IOClass", plist_new_string("$(PRODUCT_NAME)"));
    plist_dict_set_item(p, "IOProviderClass", plist_new_string("IOMedia"));
    plist_dict_set_item(p, "Content Hint", plist_new_string("DOS_FAT_32"));
    plist_dict_set_item(p, "CFBundleIdentifier", plist_new_string("$(PRODUCT_BUNDLE_IDENTIFIER)"));
    plist_dict_set_item(ps, "Media", p);
    plist_dict_set_item(info, "IOKitPersonalities", ps);
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_UNEXPANDED_VARIABLE_WARNING, "IOKitPersonalities/Media/IOClass",
           "$(PRODUCT_NAME)");
    assert_false(fx_has(kx_kext_diags(k), KX_D_UNEXPANDED_VARIABLE_WARNING,
                        "IOKitPersonalities/Media/Content Hint", NULL));
    /* a template's personality identifier is that one finding, not also "another kext's" */
    expect(k, KX_D_UNEXPANDED_VARIABLE_WARNING, "IOKitPersonalities/Media/CFBundleIdentifier",
           "$(PRODUCT_BUNDLE_IDENTIFIER)");
    assert_false(fx_has(kx_kext_diags(k), KX_D_PERSONALITY_OTHER_BUNDLE_ID, NULL, NULL));
    assert_true(kx_kext_is_valid(k));
    kx_kext_free(k);
}

static void test_non_utf8_strings_and_keys(void **state)
{
    (void)state;
    static const char xml[] =
        "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>"
        "<key>CFBundlePackageType</key><string>KEXT</string>"
        "<key>CFBundleIdentifier</key><string>com.example.Utf</string>"
        "<key>CFBundleVersion</key><string>1.0</string>"
        "<key>CFBundleName</key><string>bad\xff\xfe</string>"
        "<key>Bad\xc3</key><true/></dict></plist>";
    struct kx_kext *k = from_text(xml, sizeof xml - 1);
    expect(k, KX_D_NOT_UTF8, "CFBundleName", "value");
    expect(k, KX_D_NOT_UTF8, NULL, "key");
    kx_kext_free(k);
}

static void test_kernel_resource_may_not_declare_libraries(void **state)
{
    (void)state;
    plist_t info = fx_info("com.example.Res", "1.0", "1.0");
    fx_set_bool(info, "OSKernelResource", 1);
    fx_lib(info, "com.apple.kpi.bsd", "8.0");
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_SYSTEM_KEXT_PROPERTY, "OSBundleLibraries", NULL);
    assert_true(kx_kext_is_kernel_resource(k));
    kx_kext_free(k);
}

static void test_driverkit_value_is_for_dexts(void **state)
{
    (void)state;
    plist_t info = fx_info("com.example.DK", "1.0", NULL);
    fx_set_str(info, "OSBundleRequired", "DriverKit");
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_DRIVERKIT_REQUIRED, "OSBundleRequired", NULL);
    assert_null(kx_kext_required(k));
    kx_kext_free(k);
}

static void test_dext_rules(void **state)
{
    (void)state;
    plist_t info = fx_info("com.example.Dext", "1.0", NULL);
    fx_set_str(info, "CFBundlePackageType", "DEXT");
    fx_set_str(info, "CFBundleExecutable", "Dext");
    fx_set_bool(info, "OSKernelResource", 1);
    fx_set_str(info, "OSBundleRequired", "Safe Boot");
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_ILLEGAL_VALUE, "CFBundleExecutable", "CFBundleUEXTExecutable");
    expect(k, KX_D_ILLEGAL_VALUE, "OSKernelResource", "DEXT");
    expect(k, KX_D_ILLEGAL_VALUE, "OSBundleRequired", "Apple");
    kx_kext_free(k);
}

static void test_executable_kext_must_declare_libraries(void **state)
{
    (void)state;
    plist_t info = fx_info("com.example.NoLibs", "1.0", NULL);
    fx_set_str(info, "CFBundleExecutable", "NoLibs");
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_MISSING_PROPERTY, "OSBundleLibraries", NULL);
    assert_true(kx_kext_declares_executable(k));
    kx_kext_free(k);

    info = fx_info("com.example.BadName", "1.0", NULL);
    fx_set_str(info, "CFBundleExecutable", "../../bin/sh");
    fx_lib(info, "org.kx.kpi.kmdf", "1.0");
    k = from_dict(info, NULL);
    expect(k, KX_D_ILLEGAL_VALUE, "CFBundleExecutable", "file name");
    assert_false(kx_kext_declares_executable(k));
    kx_kext_free(k);
}

static void test_codeless_kext_with_libraries_warns(void **state)
{
    (void)state;
    plist_t info = fx_info("com.example.Codeless", "1.0", NULL);
    fx_lib(info, "com.apple.kpi.libkern", "8.0");
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_CODELESS_WITH_LIBRARIES, "OSBundleLibraries", NULL);
    assert_true(kx_kext_is_valid(k));
    kx_kext_free(k);
    /* A codeless library may (its libraries pass to its dependents). */
    info = fx_info("com.example.CodelessLib", "1.0", "1.0");
    fx_lib(info, "com.apple.kpi.libkern", "8.0");
    k = from_dict(info, NULL);
    assert_false(fx_has(kx_kext_diags(k), KX_D_CODELESS_WITH_LIBRARIES, NULL, NULL));
    kx_kext_free(k);
}

static void test_library_entries_are_checked(void **state)
{
    (void)state;
    char long_id[80];
    memset(long_id, 'c', 70);
    long_id[70] = '\0';
    plist_t info = fx_info("com.example.Libs", "1.0", NULL);
    fx_lib(info, "com.example.good", "1.0");
    fx_lib(info, "com.example.badversion", "x.y");
    fx_lib(info, long_id, "1.0");
    plist_dict_set_item(plist_dict_get_item(info, "OSBundleLibraries"), "com.example.number",
                        plist_new_uint(7));
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_ILLEGAL_VALUE, "OSBundleLibraries/com.example.badversion", "x.y");
    expect(k, KX_D_ILLEGAL_TYPE, "OSBundleLibraries/com.example.number", "integer");
    expect(k, KX_D_STRING_TOO_LONG, "OSBundleLibraries/ccc", NULL);
    kx_kext_free(k);

    info = fx_info("com.example.LibsArray", "1.0", NULL);
    plist_dict_set_item(info, "OSBundleLibraries", plist_new_array());
    k = from_dict(info, NULL);
    expect(k, KX_D_ILLEGAL_TYPE, "OSBundleLibraries", "dictionary");
    kx_kext_free(k);
}

static void test_libraries_are_sorted_and_arch_specific_keys_win(void **state)
{
    (void)state;
    plist_t info = fx_info("com.example.Arch", "1.0", NULL);
    fx_lib(info, "com.example.z.plain", "1.0");
    fx_lib(info, "com.example.a.plain", "1.0");
    plist_t x86 = plist_new_dict();
    plist_dict_set_item(x86, "com.example.x86", plist_new_string("2.0"));
    plist_dict_set_item(info, "OSBundleLibraries_x86_64", x86);
    plist_t copy = plist_copy(info);
    struct kx_kext *k = from_dict(info, "x86_64");
    kx_vers req = 0;
    assert_int_equal(kx_kext_n_libraries(k), 1);
    assert_string_equal(kx_kext_library(k, 0, &req), "com.example.x86");
    assert_int_equal(req, kx_vers_parse("2.0"));
    kx_kext_free(k);
    k = from_dict(copy, "i386");
    assert_int_equal(kx_kext_n_libraries(k), 2);
    assert_string_equal(kx_kext_library(k, 0, NULL), "com.example.a.plain");
    assert_string_equal(kx_kext_library(k, 1, NULL), "com.example.z.plain");
    assert_null(kx_kext_library(k, 2, NULL));
    kx_kext_free(k);
}

static plist_t personality(const char *cls, const char *provider)
{
    plist_t p = plist_new_dict();
    if (cls)
        plist_dict_set_item(p, "IOClass", plist_new_string(cls));
    if (provider)
        plist_dict_set_item(p, "IOProviderClass", plist_new_string(provider));
    return p;
}

static void test_personalities_are_checked(void **state)
{
    (void)state;
    plist_t info = fx_info("com.example.Pers", "1.0", NULL);
    plist_t ps = plist_new_dict();
    plist_t p;
    p = personality("Drv", "IOPCIDevice"); /* no CFBundleIdentifier */
    plist_dict_set_item(ps, "NoId", p);
    p = personality("Drv", "IOPCIDevice");
    plist_dict_set_item(p, "CFBundleIdentifier", plist_new_string("com.apple.other"));
    plist_dict_set_item(p, "IOProbeScore", plist_new_string("1000"));
    plist_dict_set_item(p, "IOKitDebug", plist_new_uint(65535));
    plist_dict_set_item(ps, "Other", p);
    p = personality("Res", "IOResources");
    plist_dict_set_item(p, "CFBundleIdentifier", plist_new_string("com.example.Pers"));
    plist_dict_set_item(ps, "Resources", p);
    p = personality(NULL, "IOPCIDevice");
    plist_dict_set_item(p, "CFBundleIdentifier", plist_new_string("com.example.Pers"));
    plist_dict_set_item(ps, "NoClass", p);
    plist_dict_set_item(ps, "NotADict", plist_new_string("x"));
    plist_dict_set_item(info, "IOKitPersonalities", ps);
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_PERSONALITY_NO_BUNDLE_ID, "IOKitPersonalities/NoId", NULL);
    expect(k, KX_D_PERSONALITY_OTHER_BUNDLE_ID, "IOKitPersonalities/Other", "com.apple.other");
    expect(k, KX_D_INCORRECT_TYPE, "IOKitPersonalities/Other", "IOProbeScore");
    expect(k, KX_D_DEBUG_PROPERTIES, "IOKitPersonalities/Other", "IOKitDebug");
    expect(k, KX_D_IORESOURCES_CATEGORY, "IOKitPersonalities/Resources", NULL);
    expect(k, KX_D_MISSING_PROPERTY, "IOKitPersonalities/NoClass", "IOClass");
    expect(k, KX_D_ILLEGAL_TYPE, "IOKitPersonalities/NotADict", "dictionary");
    kx_kext_free(k);
}

static void test_kext_logging_is_a_debug_property(void **state)
{
    (void)state;
    plist_t info = fx_info("com.example.Log", "1.0", NULL);
    fx_set_bool(info, "OSBundleEnableKextLogging", 1);
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_DEBUG_PROPERTIES, "OSBundleEnableKextLogging", NULL);
    assert_true(kx_kext_is_valid(k));
    kx_kext_free(k);
}

static void test_top_level_must_be_a_dictionary(void **state)
{
    (void)state;
    static const char xml[] = "<?xml version=\"1.0\"?><plist version=\"1.0\"><array/></plist>";
    struct kx_kext *k = from_text(xml, sizeof xml - 1);
    expect(k, KX_D_PLIST_PARSE, NULL, "array");
    kx_kext_free(k);
}

/* ---- Malformed input: a diagnostic, never a crash ---------------------------------------- */

static void test_truncated_plists_are_rejected(void **state)
{
    (void)state;
    char *xml = NULL, *bin = NULL;
    uint32_t xl = 0, bl = 0;
    plist_t info = fx_info("com.example.Trunc", "1.0", "1.0");
    fx_lib(info, "com.apple.kpi.bsd", "8.0");
    plist_to_xml(info, &xml, &xl);
    plist_to_bin(info, &bin, &bl);
    plist_free(info);
    for (uint32_t n = 0; n < xl; n += 7) {
        struct kx_kext *k = from_text(xml, n);
        assert_true(kx_diags_count_errors(kx_kext_diags(k)) > 0);
        kx_kext_free(k);
    }
    for (uint32_t n = 0; n < bl; n++) {
        struct kx_kext *k = from_text(bin, n);
        assert_true(kx_diags_count_errors(kx_kext_diags(k)) > 0);
        kx_kext_free(k);
    }
    free(xml);
    free(bin);
}

static void test_ten_megabyte_string_is_read(void **state)
{
    (void)state;
    size_t n = 10u << 20;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    big[n / 2] = '\xff'; /* and invalid UTF-8 in the middle */
    plist_t info = fx_info("com.example.Big", "1.0", NULL);
    fx_set_str(info, "CFBundleGetInfoString", big);
    free(big);
    struct kx_kext *k = from_dict(info, NULL);
    expect(k, KX_D_NOT_UTF8, "CFBundleGetInfoString", NULL);
    kx_kext_free(k);
}

static char *nested(const char *open, const char *close, int depth, size_t *len)
{
    size_t ol = strlen(open), cl = strlen(close), cap = 128 + (ol + cl) * (size_t)depth;
    char *s = malloc(cap), *p = s;
    assert_non_null(s);
    p += sprintf(p, "<?xml version=\"1.0\"?><plist version=\"1.0\">");
    for (int i = 0; i < depth; i++)
        p += sprintf(p, "%s", open);
    for (int i = 0; i < depth; i++)
        p += sprintf(p, "%s", close);
    p += sprintf(p, "</plist>");
    *len = (size_t)(p - s);
    return s;
}

static void test_deep_nesting_is_refused_before_parsing(void **state)
{
    (void)state;
    size_t len;
    char *s = nested("<array>", "</array>", 200000, &len);
    struct kx_kext *k = from_text(s, len);
    expect(k, KX_D_PLIST_PARSE, NULL, "deeper");
    kx_kext_free(k);
    free(s);
    s = nested("<dict><key>a</key>", "</dict>", 300, &len);
    k = from_text(s, len);
    expect(k, KX_D_PLIST_PARSE, NULL, "deeper");
    kx_kext_free(k);
    free(s);
    s = nested("<array>", "</array>", 100, &len); /* deep, but allowed: not a dictionary */
    k = from_text(s, len);
    expect(k, KX_D_PLIST_PARSE, NULL, "array");
    kx_kext_free(k);
    free(s);
}

/* A binary plist of objects 0..n-1: each an array holding the next; the last is `true`. */
static char *bplist_chain(uint32_t n, uint32_t last_ref, size_t *len)
{
    size_t objs = (size_t)n * 5 + 1, size = 8 + objs + (size_t)(n + 1) * 4 + 32;
    unsigned char *b = calloc(1, size), *p = b + 8;
    uint32_t *offs = calloc(n + 1, sizeof *offs);
    assert_non_null(b);
    assert_non_null(offs);
    memcpy(b, "bplist00", 8);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t ref = i + 1 == n ? last_ref : i + 1;
        offs[i] = (uint32_t)(p - b);
        *p++ = 0xA1;
        *p++ = (unsigned char)(ref >> 24);
        *p++ = (unsigned char)(ref >> 16);
        *p++ = (unsigned char)(ref >> 8);
        *p++ = (unsigned char)ref;
    }
    offs[n] = (uint32_t)(p - b);
    *p++ = 0x09; /* true */
    size_t table = (size_t)(p - b);
    for (uint32_t i = 0; i <= n; i++) {
        *p++ = (unsigned char)(offs[i] >> 24);
        *p++ = (unsigned char)(offs[i] >> 16);
        *p++ = (unsigned char)(offs[i] >> 8);
        *p++ = (unsigned char)offs[i];
    }
    p += 6;
    *p++ = 4; /* offset size */
    *p++ = 4; /* reference size */
    uint64_t fields[3] = {n + 1, 0, table};
    for (int f = 0; f < 3; f++)
        for (int i = 7; i >= 0; i--)
            *p++ = (unsigned char)(fields[f] >> (8 * i));
    *len = (size_t)(p - b);
    free(offs);
    return (char *)b;
}

static void test_hostile_binary_plists_are_rejected(void **state)
{
    (void)state;
    size_t len;
    char *b = bplist_chain(100000, 0, &len); /* 100,000 nested arrays */
    struct kx_kext *k = from_text(b, len);
    expect(k, KX_D_PLIST_PARSE, NULL, "binary");
    kx_kext_free(k);
    free(b);
    b = bplist_chain(3, 0, &len); /* the last array points back at the first: a cycle */
    k = from_text(b, len);
    expect(k, KX_D_PLIST_PARSE, NULL, NULL);
    kx_kext_free(k);
    free(b);
    b = bplist_chain(3, 999, &len); /* a reference past the last object */
    k = from_text(b, len);
    expect(k, KX_D_PLIST_PARSE, NULL, NULL);
    kx_kext_free(k);
    free(b);

    /* Garbage after a valid header, and a trailer claiming 2^60 objects. */
    unsigned char junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    memcpy(junk, "bplist00", 8);
    k = from_text((char *)junk, sizeof junk);
    expect(k, KX_D_PLIST_PARSE, NULL, NULL);
    kx_kext_free(k);
    memset(junk + sizeof junk - 32, 0, 32);
    junk[sizeof junk - 26] = 1;
    junk[sizeof junk - 25] = 1;
    junk[sizeof junk - 24] = 0x10; /* number of objects: 2^60 */
    junk[sizeof junk - 1] = 8;
    k = from_text((char *)junk, sizeof junk);
    expect(k, KX_D_PLIST_PARSE, NULL, NULL);
    kx_kext_free(k);
}

/* Bug found by fuzz_kext_read: libplist 2.2 abort()s iterating a binary dictionary whose
 * UTF-16 key holds a NUL character ("length == strlen(*val)"); the pre-screen refuses it. */
static void test_binary_key_with_nul_is_refused_not_aborted(void **state)
{
    (void)state;
    static const unsigned char b[] = {
        'b', 'p', 'l', 'i', 's', 't', '0', '0',
        0xD1, 0x01, 0x02,          /* object 0 (offset 8): dict, key 1 -> value 2 */
        0x62, 0x00, 'a', 0x00, 0x00, /* object 1 (offset 11): UTF-16 "a\0" */
        0x09,                      /* object 2 (offset 16): true */
        8, 11, 16,                 /* offset table at 17 */
        0, 0, 0, 0, 0, 0, 1, 1,    /* trailer: offset size 1, reference size 1 */
        0, 0, 0, 0, 0, 0, 0, 3,    /* 3 objects */
        0, 0, 0, 0, 0, 0, 0, 0,    /* top object 0 */
        0, 0, 0, 0, 0, 0, 0, 17};  /* offset table offset */
    struct kx_kext *k = from_text((const char *)b, sizeof b);
    expect(k, KX_D_PLIST_PARSE, NULL, "binary");
    kx_kext_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_problem_is_reported_in_one_pass),
        cmocka_unit_test(test_identifier_and_version_must_be_shorter_than_64),
        cmocka_unit_test(test_required_properties_are_missing),
        cmocka_unit_test(test_compatible_version_above_current),
        cmocka_unit_test(test_unexpanded_build_variables_are_named),
        cmocka_unit_test(test_build_variables_elsewhere_are_warnings),
        cmocka_unit_test(test_non_utf8_strings_and_keys),
        cmocka_unit_test(test_kernel_resource_may_not_declare_libraries),
        cmocka_unit_test(test_driverkit_value_is_for_dexts),
        cmocka_unit_test(test_dext_rules),
        cmocka_unit_test(test_executable_kext_must_declare_libraries),
        cmocka_unit_test(test_codeless_kext_with_libraries_warns),
        cmocka_unit_test(test_library_entries_are_checked),
        cmocka_unit_test(test_libraries_are_sorted_and_arch_specific_keys_win),
        cmocka_unit_test(test_personalities_are_checked),
        cmocka_unit_test(test_kext_logging_is_a_debug_property),
        cmocka_unit_test(test_top_level_must_be_a_dictionary),
        cmocka_unit_test(test_truncated_plists_are_rejected),
        cmocka_unit_test(test_ten_megabyte_string_is_read),
        cmocka_unit_test(test_deep_nesting_is_refused_before_parsing),
        cmocka_unit_test(test_hostile_binary_plists_are_rejected),
        cmocka_unit_test(test_binary_key_with_nul_is_refused_not_aborted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
