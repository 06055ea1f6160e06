/* test_kext_json.c — the JSON a resolution and `kx check --json` produce: the stable
 * fields {path, id, version, loadable, load_order[{id, version, path}], diagnostics[...]}. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("\"%s\" is not a string", key);
    return json_string_value(v);
}

static void check_kext_object(json_t *o)
{
    assert_true(json_is_object(o));
    str(o, "path");
    assert_true(json_is_boolean(json_object_get(o, "loadable")));
    json_t *order = json_object_get(o, "load_order");
    assert_true(json_is_array(order));
    for (size_t i = 0; i < json_array_size(order); i++) {
        json_t *e = json_array_get(order, i);
        str(e, "id");
        str(e, "version");
        str(e, "path");
    }
    json_t *diags = json_object_get(o, "diagnostics");
    assert_true(json_is_array(diags));
    for (size_t i = 0; i < json_array_size(diags); i++) {
        json_t *d = json_array_get(diags, i);
        str(d, "category");
        str(d, "code");
        str(d, "message");
        json_t *subject = json_object_get(d, "subject");
        assert_true(!subject || json_is_string(subject));
    }
}

static void test_resolution_json_has_the_stable_fields(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, "modern");
    fx_adopt(r, fx_info("com.example.Lib", "1.5", "1.0"));
    plist_t info = fx_info("com.example.App", "2.0", NULL);
    fx_lib(info, "com.example.Lib", "1.2");
    fx_lib(info, "com.apple.kpi.iokit", "20.0");
    struct kx_kext *app = fx_adopt(r, info);
    struct kx_kext_resolution *res = fx_resolve(r, app);
    json_t *o = kx_kext_resolution_to_json(res);
    check_kext_object(o);
    assert_string_equal(str(o, "id"), "com.example.App");
    assert_string_equal(str(o, "version"), "2.0");
    assert_true(json_is_true(json_object_get(o, "loadable")));
    json_t *order = json_object_get(o, "load_order");
    assert_int_equal(json_array_size(order), kx_kext_resolution_n_load_order(res));
    json_t *last = json_array_get(order, json_array_size(order) - 1);
    assert_string_equal(str(last, "id"), "com.example.App");
    assert_string_equal(str(last, "path"), kx_kext_path(app));

    json_t *deps = json_object_get(o, "dependencies");
    assert_true(json_is_array(deps));
    int seen = 0;
    for (size_t i = 0; i < json_array_size(deps); i++) {
        json_t *d = json_array_get(deps, i);
        if (strcmp(str(d, "id"), "com.example.Lib") != 0)
            continue;
        seen = 1;
        assert_string_equal(str(d, "from"), "com.example.App");
        assert_string_equal(str(d, "requested"), "1.2");
        json_t *c = json_array_get(json_object_get(d, "candidates"), 0);
        assert_string_equal(str(c, "verdict"), "chosen");
        assert_non_null(strstr(str(c, "explanation"), "[compatible 1.0, current 1.5]"));
    }
    assert_true(seen);
    json_decref(o);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_failure_json_carries_the_diagnostics(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    fx_adopt(r, fx_info("com.example.Lib", "1.5", "1.0"));
    plist_t info = fx_info("com.example.App", "2.0", NULL);
    fx_lib(info, "com.example.Lib", "2.0");
    struct kx_kext_resolution *res = fx_resolve(r, fx_adopt(r, info));
    json_t *o = kx_kext_resolution_to_json(res);
    check_kext_object(o);
    assert_true(json_is_false(json_object_get(o, "loadable")));
    json_t *diags = json_object_get(o, "diagnostics");
    int found = 0;
    for (size_t i = 0; i < json_array_size(diags); i++) {
        json_t *d = json_array_get(diags, i);
        if (strcmp(str(d, "code"), kx_diag_code_string(KX_D_ONLY_INCOMPATIBLE)) != 0)
            continue;
        found = 1;
        assert_string_equal(str(d, "category"), "dependency");
        assert_string_equal(str(d, "subject"), "com.example.Lib");
        assert_non_null(strstr(str(d, "detail"), "requested 2.0 not in [compatible 1.0, current 1.5]"));
    }
    assert_true(found);
    json_decref(o);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_json_survives_bytes_that_are_not_utf8(void **state)
{
    (void)state;
    static const char xml[] = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>"
                              "<key>CFBundlePackageType</key><string>KEXT</string>"
                              "<key>CFBundleIdentifier</key><string>com.example.Bytes</string>"
                              "<key>CFBundleVersion</key><string>1.0</string>"
                              "<key>Bad\xff key</key><string>bad\xfe value</string></dict></plist>";
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext *k = NULL;
    assert_int_equal(kx_kext_from_info_plist(xml, sizeof xml - 1, "dir\xff/Bytes.kext", NULL, &k),
                     STATUS_SUCCESS);
    assert_int_equal(kx_kext_repo_adopt(r, k), STATUS_SUCCESS);
    struct kx_kext_resolution *res = fx_resolve(r, k);
    json_t *o = kx_kext_resolution_to_json(res);
    assert_non_null(o);
    check_kext_object(o);
    assert_non_null(strstr(str(o, "path"), "\xEF\xBF\xBD")); /* U+FFFD */
    char *text = json_dumps(o, 0);
    assert_non_null(text);
    free(text);
    int found = 0;
    json_t *diags = json_object_get(o, "diagnostics");
    for (size_t i = 0; i < json_array_size(diags); i++)
        found |= strcmp(str(json_array_get(diags, i), "code"), kx_diag_code_string(KX_D_NOT_UTF8)) == 0;
    assert_true(found);
    json_decref(o);
    json_t *arr = kx_diags_to_json(kx_kext_diags(k));
    assert_int_equal(json_array_size(arr), kx_kext_diags(k)->n_items);
    json_decref(arr);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

/* Runs the kx binary; returns its exit status and its stdout parsed as JSON. */
static json_t *run_kx(const char *args, int *status)
{
    const char *build = getenv("KX_BUILD_DIR");
    char *cmd = NULL;
    assert_non_null(build);
    assert_true(asprintf(&cmd, "'%s/kx' %s", build, args) > 0);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_error_t err;
    json_t *j = json_loadf(p, 0, &err);
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (!j)
        fail_msg("%s: no JSON (%s)", cmd, err.text);
    free(cmd);
    return j;
}

static void test_kx_check_json_output(void **state)
{
    (void)state;
    char *dir = fx_tmpdir(), *ext = fx_join(dir, "ext");
    free(fx_kext(ext, "Lib", fx_info("com.example.Lib", "1.5", "1.0")));
    plist_t good = fx_info("com.example.Good", "1.0", NULL);
    fx_lib(good, "com.example.Lib", "1.0");
    char *g = fx_kext(dir, "Good", good);
    plist_t bad = fx_info("com.example.Bad", "1.0", NULL);
    fx_lib(bad, "com.example.Lib", "9.0");
    char *b = fx_kext(dir, "Bad", bad);

    char *args = NULL;
    int status = -1;
    assert_true(asprintf(&args, "check --json --no-auth --extensions '%s' '%s'", ext, g) > 0);
    json_t *j = run_kx(args, &status);
    assert_int_equal(status, 0);
    json_t *kexts = json_object_get(j, "kexts");
    assert_int_equal(json_array_size(kexts), 1);
    check_kext_object(json_array_get(kexts, 0));
    assert_true(json_is_true(json_object_get(json_array_get(kexts, 0), "loadable")));
    assert_true(json_is_array(json_object_get(j, "repository")));
    json_decref(j);
    free(args);

    assert_true(asprintf(&args, "check --json --no-auth --system modern --extensions '%s' '%s' '%s'",
                         ext, g, b) > 0);
    j = run_kx(args, &status);
    assert_int_equal(status, 1);
    kexts = json_object_get(j, "kexts");
    assert_int_equal(json_array_size(kexts), 2);
    assert_true(json_is_false(json_object_get(json_array_get(kexts, 1), "loadable")));
    assert_string_equal(str(j, "system"), "macos-15.4");
    json_decref(j);
    free(args);

    assert_true(asprintf(&args, "check --json --no-auth '%s/Missing.kext'", dir) > 0);
    j = run_kx(args, &status);
    assert_int_equal(status, 2);
    json_t *m = json_array_get(json_object_get(j, "kexts"), 0);
    assert_true(json_is_false(json_object_get(m, "loadable")));
    str(m, "error");
    json_decref(j);
    free(args);

    j = run_kx("check --system list --json", &status);
    assert_int_equal(status, 0);
    assert_true(json_array_size(json_object_get(j, "profiles")) > 50);
    json_decref(j);

    free(g);
    free(b);
    free(ext);
    fx_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolution_json_has_the_stable_fields),
        cmocka_unit_test(test_failure_json_carries_the_diagnostics),
        cmocka_unit_test(test_json_survives_bytes_that_are_not_utf8),
        cmocka_unit_test(test_kx_check_json_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
