/* fixture.c — see fixture.h. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fx_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = NULL;
    assert_true(asprintf(&tmpl, "%s/kx-kext-test-XXXXXX", base && *base ? base : "/tmp") > 0);
    assert_non_null(mkdtemp(tmpl));
    /* mkdtemp makes 0700; authentication wants nothing group/other-writable, which holds. */
    return tmpl;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fx_rmrf(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *fx_join(const char *a, const char *b)
{
    char *out = NULL;
    assert_true(asprintf(&out, "%s/%s", a, b) > 0);
    return out;
}

void fx_mkdirs(const char *path)
{
    char *p = strdup(path);
    assert_non_null(p);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    mkdir(p, 0755);
    free(p);
}

void fx_write(const char *path, const void *data, size_t len)
{
    char *dir = strdup(path);
    assert_non_null(dir);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        fx_mkdirs(dir);
    }
    free(dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    chmod(path, 0644);
}

void fx_write_str(const char *path, const char *text) { fx_write(path, text, strlen(text)); }

plist_t fx_info(const char *id, const char *version, const char *compat)
{
    plist_t d = plist_new_dict();
    plist_dict_set_item(d, "CFBundlePackageType", plist_new_string("KEXT"));
    if (id)
        plist_dict_set_item(d, "CFBundleIdentifier", plist_new_string(id));
    if (version)
        plist_dict_set_item(d, "CFBundleVersion", plist_new_string(version));
    if (compat)
        plist_dict_set_item(d, "OSBundleCompatibleVersion", plist_new_string(compat));
    return d;
}

void fx_lib(plist_t info, const char *lib, const char *version)
{
    plist_t libs = plist_dict_get_item(info, "OSBundleLibraries");
    if (!libs) {
        plist_dict_set_item(info, "OSBundleLibraries", plist_new_dict());
        libs = plist_dict_get_item(info, "OSBundleLibraries");
    }
    plist_dict_set_item(libs, lib, plist_new_string(version));
}

void fx_set_str(plist_t info, const char *key, const char *value)
{
    plist_dict_set_item(info, key, plist_new_string(value));
}

void fx_set_bool(plist_t info, const char *key, int value)
{
    plist_dict_set_item(info, key, plist_new_bool(value ? 1 : 0));
}

static char *write_kext(const char *dir, const char *name, plist_t info, const char *inner)
{
    char *xml = NULL, *bundle = NULL, *file = NULL;
    uint32_t len = 0;
    assert_true(asprintf(&bundle, "%s/%s.kext", dir, name) > 0);
    assert_true(asprintf(&file, "%s/%s", bundle, inner) > 0);
    plist_to_xml(info, &xml, &len);
    assert_non_null(xml);
    fx_write(file, xml, len);
    free(xml);
    free(file);
    plist_free(info);
    return bundle;
}

char *fx_kext(const char *dir, const char *name, plist_t info)
{
    return write_kext(dir, name, info, "Contents/Info.plist");
}

char *fx_kext_flat(const char *dir, const char *name, plist_t info)
{
    return write_kext(dir, name, info, "Info.plist");
}

struct kx_kext_options fx_options(void)
{
    struct kx_kext_options o = KX_KEXT_OPTIONS_INIT;
    o.flags = KX_KEXT_NO_EXEC;
    o.trusted_uid = getuid();
    o.trusted_gid = getgid();
    return o;
}

/* ---- Diagnostics --------------------------------------------------------------------------- */

int fx_has(const struct kx_diags *d, enum kx_diag_code code, const char *subject,
           const char *detail)
{
    for (size_t i = 0; i < d->n_items; i++) {
        const struct kx_diag *x = &d->items[i];
        if (x->code != code)
            continue;
        if (subject && (!x->subject || !strstr(x->subject, subject)))
            continue;
        if (detail && (!x->detail || !strstr(x->detail, detail)))
            continue;
        return 1;
    }
    return 0;
}

void fx_dump(const struct kx_diags *d, const char *what)
{
    kx_diags_print(d, what, stderr);
}

/* ---- Corpus -------------------------------------------------------------------------------- */

static int shared_present(void)
{
    const char *s = getenv("KX_SHARED_DIR");
    struct stat st;
    return s && stat(s, &st) == 0 && S_ISDIR(st.st_mode);
}

void fx_need_shared(void)
{
    if (shared_present())
        return;
    const char *s = getenv("KX_SHARED_DIR");
    fprintf(stderr,
            "skipped: KX_SHARED_DIR (%s) is not a folder; configure with "
            "-DKX_SHARED_DIR=<a copy of ../shared> to run this test\n",
            s ? s : "unset");
    skip();
}

int fx_exit_status(int failed)
{
    return failed ? failed : shared_present() ? 0 : FX_SKIP;
}

const char *fx_shared(void)
{
    const char *s = getenv("KX_SHARED_DIR");
    struct stat st;
    if (!s || stat(s, &st) != 0)
        fail_msg("KX_SHARED_DIR is not set or missing (%s): the corpus tests need ../shared",
                 s ? s : "unset");
    return s;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("can't read %s", path);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Replaces every occurrence of tok by val in *buf. */
static void replace_all(char **buf, size_t *len, const char *tok, const char *val)
{
    size_t tl = strlen(tok), vl = strlen(val);
    if (tl == 0)
        return;
    for (size_t i = 0; i + tl <= *len;) {
        if (memcmp(*buf + i, tok, tl) != 0) {
            i++;
            continue;
        }
        char *nb = malloc(*len - tl + vl + 1);
        assert_non_null(nb);
        memcpy(nb, *buf, i);
        memcpy(nb + i, val, vl);
        memcpy(nb + i + vl, *buf + i + tl, *len - i - tl);
        *len = *len - tl + vl;
        nb[*len] = '\0';
        free(*buf);
        *buf = nb;
        i += vl;
    }
}

static int longer_first(const void *a, const void *b)
{
    size_t x = strlen(*(const char *const *)a), y = strlen(*(const char *const *)b);
    return (x < y) - (x > y);
}

char *fx_corpus_plist(const char *saved_as, size_t *len)
{
    char *path = NULL, *vars = NULL;
    assert_true(asprintf(&path, "%s/corpus/%s", fx_shared(), saved_as) > 0);
    char *buf = slurp(path, len);
    assert_true(asprintf(&vars, "%s.vars.json", path) > 0);
    json_t *j = json_load_file(vars, 0, NULL);
    if (j) {
        json_t *ex = json_object_get(j, "expanded");
        const char *toks[256];
        size_t n = 0;
        const char *key;
        json_t *val;
        json_object_foreach(ex, key, val) if (n < 256 && json_is_string(val)) toks[n++] = key;
        qsort(toks, n, sizeof toks[0], longer_first); /* $(A_B) before $(A) */
        for (size_t i = 0; i < n; i++)
            replace_all(&buf, len, toks[i], json_string_value(json_object_get(ex, toks[i])));
        json_decref(j);
    }
    free(vars);
    free(path);
    return buf;
}

char *fx_corpus_kext(const char *dir, const char *name, const char *saved_as)
{
    size_t len = 0;
    char *data = fx_corpus_plist(saved_as, &len), *bundle = NULL, *file = NULL;
    assert_true(asprintf(&bundle, "%s/%s.kext", dir, name) > 0);
    file = fx_join(bundle, "Contents/Info.plist");
    fx_write(file, data, len);
    free(file);
    free(data);
    return bundle;
}

/* ---- Repository helpers -------------------------------------------------------------------- */

struct kx_kext_repo *fx_repo(unsigned flags, const char *system)
{
    struct kx_kext_options o = fx_options();
    struct kx_kext_repo *r = NULL;
    o.flags |= flags;
    assert_int_equal(kx_kext_repo_new(&o, &r), STATUS_SUCCESS);
    if (system)
        assert_int_equal(kx_kext_repo_use_system(r, system), STATUS_SUCCESS);
    return r;
}

struct kx_kext_resolution *fx_resolve(struct kx_kext_repo *r, struct kx_kext *k)
{
    struct kx_kext_resolution *res = NULL;
    assert_int_equal(kx_kext_resolve(r, k, &res), STATUS_SUCCESS);
    assert_non_null(res);
    return res;
}

struct kx_kext *fx_add(struct kx_kext_repo *r, const char *bundle)
{
    struct kx_kext *k = NULL;
    assert_int_equal(kx_kext_repo_add_kext(r, bundle, &k), STATUS_SUCCESS);
    assert_non_null(k);
    return k;
}

const struct kx_kext_candidate *fx_candidate(const struct kx_kext_dep *dep, const char *suffix)
{
    size_t sl = strlen(suffix);
    for (size_t i = 0; i < dep->n_candidates; i++) {
        const char *p = kx_kext_path(dep->candidates[i].kext);
        size_t pl = strlen(p);
        if (pl >= sl && strcmp(p + pl - sl, suffix) == 0)
            return &dep->candidates[i];
    }
    fail_msg("no candidate %s for %s", suffix, dep->id);
    return NULL;
}

const struct kx_kext_dep *fx_dep(const struct kx_kext_resolution *res, const char *from_id,
                                 const char *lib_id)
{
    for (size_t i = 0; i < kx_kext_resolution_n_deps(res); i++) {
        const struct kx_kext_dep *d = kx_kext_resolution_dep(res, i);
        const char *f = kx_kext_id(d->from);
        if (f && strcmp(f, from_id) == 0 && strcmp(d->id, lib_id) == 0)
            return d;
    }
    fail_msg("no edge %s -> %s", from_id, lib_id);
    return NULL;
}

int fx_order_index(const struct kx_kext_resolution *res, const char *id)
{
    for (size_t i = 0; i < kx_kext_resolution_n_load_order(res); i++) {
        const char *x = kx_kext_id(kx_kext_resolution_load_order(res, i));
        if (x && strcmp(x, id) == 0)
            return (int)i;
    }
    return -1;
}

struct kx_kext *fx_adopt(struct kx_kext_repo *r, plist_t info)
{
    char *xml = NULL, *path = NULL;
    uint32_t len = 0;
    const char *id = NULL, *version = NULL;
    plist_t n = plist_dict_get_item(info, "CFBundleIdentifier");
    if (n && plist_get_node_type(n) == PLIST_STRING)
        id = plist_get_string_ptr(n, NULL);
    n = plist_dict_get_item(info, "CFBundleVersion");
    if (n && plist_get_node_type(n) == PLIST_STRING)
        version = plist_get_string_ptr(n, NULL);
    assert_true(asprintf(&path, "mem/%s-%s.kext", id ? id : "noid", version ? version : "0") > 0);
    plist_to_xml(info, &xml, &len);
    plist_free(info);
    struct kx_kext *k = NULL;
    struct kx_kext_options o = fx_options();
    assert_int_equal(kx_kext_from_info_plist(xml, len, path, &o, &k), STATUS_SUCCESS);
    assert_int_equal(kx_kext_repo_adopt(r, k), STATUS_SUCCESS);
    free(xml);
    free(path);
    return k;
}
