/* validate.c — every Info.plist key of research §7.1, checked in one pass.
 *
 * Apple's user-space validator (IOKitUser __OSKextProcessInfoDictionary) is
 * the model: the same keys, types, legal values and message texts. Where it
 * stops at the first failure kx carries on, so a user sees every problem at
 * once. Two checks are kx's own: strings must be valid UTF-8, and no string
 * or key should still hold a build variable ($(X), ${X}, $X, ###X###, or a
 * whole value that is a C macro name such as HWSENSORS_VERSION) — real
 * repositories ship Info.plist templates. One detector (find_placeholder)
 * looks at every string and key; what it finds is an error only where Apple
 * validates the value (CFBundleIdentifier, CFBundleVersion,
 * OSBundleCompatibleVersion, OSBundleLibraries' names and versions: a kext
 * with a template there can't be identified or resolved) and a warning
 * elsewhere (CFBundleGetInfoString, a personality's IOClass), where the
 * literal text is what a loaded kext would carry. Inside IOKitPersonalities
 * the bare-macro form is not looked for: matching values such as DOS_FAT_32
 * are upper-case by nature.
 *
 * Architecture: keys starting with "OS" or "IO" may have a `<key>_<arch>`
 * variant that wins on that architecture (OSKext::getPropertyForHostArch);
 * CFBundle* keys never do.
 */
#include "kext_int.h"

#include "core/plist.h"

#include <stdlib.h>
#include <string.h>

/* At most this many UTF-8 / variable findings per kext: a hostile 10 MB plist
 * must not turn into a million diagnostics (kx_diags_add is linear). */
#define MAX_WALK_FINDINGS 16
/* Subjects quote at most this much of a key. */
#define SUBJECT_KEY_MAX 80

static const char *const legal_required[] = {"Root",      "Local-Root", "Network-Root",
                                             "Console",   "Safe Boot",  "DriverKit",
                                             NULL};

/* Keys only a kext (not a DriverKit extension) may carry. */
static const char *const kext_only_keys[] = {"OSKernelResource", "AppleSecurityExtension",
                                             "AppleKernelExternalComponent",
                                             "OSBundleSharedExecutableIdentifier",
                                             "OSBundleIsInterface", NULL};

struct vctx {
    struct kx_kext *k;
    const char *arch;
    const char *file;
    kx_status st;       /* first allocation failure */
    size_t n_findings[3]; /* findings so far: [0] UTF-8, [1] variable errors, [2] warnings */
    size_t n_dropped[3];  /* beyond MAX_WALK_FINDINGS, the same three */
};

static void add(struct vctx *v, enum kx_diag_code code, const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(struct vctx *v, enum kx_diag_code code, const char *subject, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kx_status st = kx_diags_addv(&v->k->diags, code, v->file, subject, fmt, ap);
    va_end(ap);
    if (st != STATUS_SUCCESS && v->st == STATUS_SUCCESS)
        v->st = st;
}

plist_t kx__kext_get(const struct kx_kext *k, const char *key, const char *arch)
{
    plist_t info = kx__kext_info(k);
    if (!kx_plist_is(info, PLIST_DICT))
        return NULL;
    if (arch && ((key[0] == 'O' && key[1] == 'S') || (key[0] == 'I' && key[1] == 'O'))) {
        /* "<key>_<arch>", built by hand: snprintf would cost more than the lookup */
        char buf[128];
        size_t kl = strlen(key), al = strlen(arch);
        if (kl + 1 + al < sizeof buf) {
            strcpy(buf, key); /* both lengths were checked above */
            buf[kl] = '_';
            strcpy(buf + kl + 1, arch);
            plist_t v = plist_dict_get_item(info, buf);
            if (v)
                return v;
        }
    }
    return plist_dict_get_item(info, key);
}

/* ---- Build variables ------------------------------------------------------------------------- */

static int is_ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int is_ident(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
static int is_upper_ident(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

/* Finds the first build variable in s[0..len); *at and *tok_len delimit it. */
static int find_variable(const char *s, size_t len, size_t *at, size_t *tok_len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '$' && i + 1 < len && (s[i + 1] == '(' || s[i + 1] == '{')) {
            char close = s[i + 1] == '(' ? ')' : '}';
            size_t j = i + 2;
            if (j >= len || !is_ident_start(s[j]))
                continue;
            while (j < len && is_ident(s[j]))
                j++;
            while (j < len && s[j] != close && j - i < 128) /* ":rfc1034identifier" etc. */
                j++;
            if (j < len && s[j] == close) {
                *at = i;
                *tok_len = j + 1 - i;
                return 1;
            }
        } else if (s[i] == '$' && i + 2 < len && s[i + 1] >= 'A' && s[i + 1] <= 'Z') {
            size_t j = i + 1; /* bare $NAME: upper case only, so "$5" or "$foo" pass */
            while (j < len && is_upper_ident(s[j]))
                j++;
            if (j - i > 2) {
                *at = i;
                *tok_len = j - i;
                return 1;
            }
        } else if (s[i] == '#' && i + 6 < len && s[i + 1] == '#' && s[i + 2] == '#') {
            size_t j = i + 3; /* xnu's newvers.pl: ###KERNEL_VERSION_LONG### */
            while (j < len && is_upper_ident(s[j]))
                j++;
            if (j > i + 3 && j + 3 <= len && memcmp(s + j, "###", 3) == 0) {
                *at = i;
                *tok_len = j + 3 - i;
                return 1;
            }
        }
    }
    return 0;
}

/* "HWSENSORS_REVISION": a whole value that is still a C macro name
 * (Info.plist preprocessing that never happened). */
static int looks_like_macro(const char *s, size_t len)
{
    int underscore = 0;
    if (!len || !(s[0] >= 'A' && s[0] <= 'Z'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_upper_ident(s[i]))
            return 0;
        underscore |= s[i] == '_';
    }
    return underscore;
}

/* The one detector, for every string and key. macros: also a whole value that is a C macro. */
static int find_placeholder(const char *s, size_t len, int macros, size_t *at, size_t *tok_len)
{
    if (find_variable(s, len, at, tok_len))
        return 1;
    if (macros && looks_like_macro(s, len)) {
        *at = 0;
        *tok_len = len;
        return 1;
    }
    return 0;
}

/* Where Apple validates the value (path as the walk spells it: "CFBundleVersion",
 * "OSBundleLibraries_x86_64/com.x.y"), a build variable is an error. */
static int apple_validates(const char *path)
{
    static const struct {
        const char *key;
        int per_arch, children;
    } keys[] = {{"CFBundleIdentifier", 0, 0}, {"CFBundleVersion", 0, 0},
                {"OSBundleCompatibleVersion", 1, 0}, {"OSBundleLibraries", 1, 1}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t n = strlen(keys[i].key);
        if (strncmp(path, keys[i].key, n) != 0)
            continue;
        const char *rest = path + n;
        if (keys[i].per_arch && *rest == '_')
            rest = strchr(rest, '/') ? strchr(rest, '/') : rest + strlen(rest);
        if (keys[i].children ? *rest == '/' && !strchr(rest + 1, '/') : *rest == '\0')
            return 1;
    }
    return 0;
}

/* ---- The UTF-8 and variable walk over the whole dictionary ------------------------------------ */

static void finding(struct vctx *v, enum kx_diag_code code, const char *path, const char *fmt,
                    const char *tok, size_t tok_len)
{
    size_t kind = code == KX_D_NOT_UTF8 ? 0 : code == KX_D_UNEXPANDED_VARIABLE ? 1 : 2;
    if (v->n_findings[kind] >= MAX_WALK_FINDINGS) {
        v->n_dropped[kind]++;
        return;
    }
    v->n_findings[kind]++;
    if (tok)
        add(v, code, path, fmt, (int)(tok_len > 64 ? 64 : tok_len), tok);
    else
        add(v, code, path, "%s", fmt);
}

/* Appends "/key" (cut to SUBJECT_KEY_MAX, never inside a UTF-8 sequence) to path;
 * returns the new string. */
static char *child_path(const char *path, const char *key, size_t key_len)
{
    char *out = NULL;
    int n = (int)(key_len > SUBJECT_KEY_MAX ? SUBJECT_KEY_MAX : key_len);
    while (n > 0 && (size_t)n < key_len && ((unsigned char)key[n] & 0xC0) == 0x80)
        n--;
    if (asprintf(&out, "%s%s%.*s%s", path, *path ? "/" : "", n, key,
                 key_len > SUBJECT_KEY_MAX ? "..." : "") < 0)
        return NULL;
    return out;
}

/* in_personality: under IOKitPersonalities, where bare upper-case values are matching data. */
static void check_text(struct vctx *v, const char *path, const char *s, size_t len, int is_key,
                       int in_personality)
{
    size_t at, tok_len;
    if (!kx_utf8_valid(s, len)) {
        finding(v, KX_D_NOT_UTF8, path,
                is_key ? "a key is not valid UTF-8" : "the value is not valid UTF-8", NULL, 0);
        return;
    }
    if (find_placeholder(s, len, !in_personality, &at, &tok_len))
        finding(v,
                apple_validates(path) ? KX_D_UNEXPANDED_VARIABLE
                                      : KX_D_UNEXPANDED_VARIABLE_WARNING,
                path,
                is_key ? "the key %.*s is a build variable that was never substituted"
                       : "%.*s is a build variable that was never substituted",
                s + at, tok_len);
}

static int in_personality(const char *path)
{
    return strncmp(path, "IOKitPersonalities", 18) == 0 &&
           (path[18] == '\0' || path[18] == '/' || path[18] == '_');
}

static void walk(struct vctx *v, plist_t node, const char *path, int depth)
{
    plist_type t = plist_get_node_type(node);
    if (depth > KX_PLIST_MAX_DEPTH || v->st != STATUS_SUCCESS)
        return;
    if (t == PLIST_STRING) {
        uint64_t len = 0;
        const char *s = plist_get_string_ptr(node, &len);
        if (s)
            check_text(v, path, s, (size_t)len, 0, in_personality(path));
    } else if (t == PLIST_ARRAY) {
        uint32_t n = plist_array_get_size(node);
        for (uint32_t i = 0; i < n; i++) {
            char idx[16];
            int m = snprintf(idx, sizeof idx, "[%u]", i);
            char *p = child_path(path, idx, (size_t)m);
            if (!p) {
                v->st = STATUS_INSUFFICIENT_RESOURCES;
                return;
            }
            walk(v, plist_array_get_item(node, i), p, depth + 1);
            free(p);
        }
    } else if (t == PLIST_DICT) {
        plist_dict_iter it = NULL;
        plist_dict_new_iter(node, &it);
        for (;;) {
            char *key = NULL;
            plist_t val = NULL;
            plist_dict_next_item(node, it, &key, &val);
            if (!val) {
                free(key);
                break;
            }
            size_t klen = key ? strlen(key) : 0;
            char *p = child_path(path, key ? key : "", klen);
            if (!p) {
                free(key);
                v->st = STATUS_INSUFFICIENT_RESOURCES;
                break;
            }
            if (key)
                check_text(v, p, key, klen, 1, in_personality(path));
            walk(v, val, p, depth + 1);
            free(p);
            free(key);
        }
        free(it);
    }
}

/* ---- Typed getters that report ---------------------------------------------------------------- */

/* The string value of a top-level key, NULL when absent or reported as bad.
 * `required` reports absence; UTF-8 and variable problems were already
 * reported by the walk, so such values are silently unusable here. */
static const char *get_string(struct vctx *v, const char *key, int arch_variant, int required,
                              size_t *len_out)
{
    plist_t node = arch_variant ? kx__kext_get(v->k, key, v->arch) : plist_dict_get_item(v->k->info, key);
    uint64_t len = 0;
    const char *s;
    size_t at, tok;
    if (!node) {
        if (required)
            add(v, KX_D_MISSING_PROPERTY, key, NULL);
        return NULL;
    }
    if (plist_get_node_type(node) != PLIST_STRING) {
        add(v, KX_D_ILLEGAL_TYPE, key, "is %s %s, must be a string",
            plist_get_node_type(node) == PLIST_ARRAY ? "an" : "a", kx_plist_type_name(node));
        return NULL;
    }
    s = plist_get_string_ptr(node, &len);
    if (!s || !kx_utf8_valid(s, (size_t)len) || find_placeholder(s, (size_t)len, 1, &at, &tok))
        return NULL;
    if (strlen(s) != (size_t)len) { /* an embedded NUL would cut every C string use short */
        add(v, KX_D_ILLEGAL_VALUE, key, "contains a NUL character");
        return NULL;
    }
    if (len_out)
        *len_out = (size_t)len;
    return s;
}

/* 1 when key is a boolean and true; reports a wrong type. */
static int get_bool(struct vctx *v, const char *key)
{
    plist_t node = kx__kext_get(v->k, key, v->arch);
    uint8_t b = 0;
    if (!node)
        return 0;
    if (plist_get_node_type(node) != PLIST_BOOLEAN) {
        add(v, KX_D_ILLEGAL_TYPE, key, "is a %s, must be a boolean", kx_plist_type_name(node));
        return 0;
    }
    plist_get_bool_val(node, &b);
    return b != 0;
}

/* Parses a version-valued string; reports length, macros and bad syntax. */
static kx_vers parse_version(struct vctx *v, const char *subject, const char *s, size_t len)
{
    kx_vers ver;
    if (len > KX_KEXT_STRING_MAX) {
        add(v, KX_D_STRING_TOO_LONG, subject, "%zu characters", len);
        return KX_VERS_INVALID;
    }
    ver = kx_vers_parse(s);
    if (ver == KX_VERS_INVALID)
        add(v, KX_D_ILLEGAL_VALUE, subject, "'%s' is not a version ('vers' format)", s);
    return ver;
}

/* ---- Key groups ------------------------------------------------------------------------------- */

static void check_identity(struct vctx *v)
{
    struct kx_kext *k = v->k;
    size_t len = 0;
    const char *type = get_string(v, "CFBundlePackageType", 0, 1, NULL);
    if (type && strcmp(type, "KEXT") != 0 && strcmp(type, "DEXT") != 0)
        add(v, KX_D_ILLEGAL_VALUE, "CFBundlePackageType", "'%s' (must be KEXT or DEXT)", type);
    k->is_dext = type && strcmp(type, "DEXT") == 0;

    const char *id = get_string(v, "CFBundleIdentifier", 0, 1, &len);
    if (id && len == 0)
        add(v, KX_D_ILLEGAL_VALUE, "CFBundleIdentifier", "is empty");
    else if (id && len > KX_KEXT_STRING_MAX)
        add(v, KX_D_STRING_TOO_LONG, "CFBundleIdentifier", "%zu characters", len);
    else if (id)
        k->id = id;

    const char *vs = get_string(v, "CFBundleVersion", 0, 1, &len);
    if (vs) {
        k->version_str = vs;
        k->version = parse_version(v, "CFBundleVersion", vs, len);
    }

    const char *cs = get_string(v, "OSBundleCompatibleVersion", 1, 0, &len);
    if (cs) {
        k->compat_str = cs;
        k->compat = parse_version(v, "OSBundleCompatibleVersion", cs, len);
        if (k->compat != KX_VERS_INVALID && k->version != KX_VERS_INVALID && k->compat > k->version)
            add(v, KX_D_COMPAT_ABOVE_CURRENT, "OSBundleCompatibleVersion", "%s > CFBundleVersion %s",
                cs, vs);
    }
}

static void check_flags_and_executable(struct vctx *v)
{
    struct kx_kext *k = v->k;
    plist_t exec = plist_dict_get_item(k->info, "CFBundleExecutable");

    k->is_interface = get_bool(v, "OSBundleIsInterface");
    k->is_kernel_resource = get_bool(v, "OSKernelResource");
    k->allow_user_load = get_bool(v, "OSBundleAllowUserLoad");
    if (get_bool(v, "OSBundleEnableKextLogging"))
        add(v, KX_D_DEBUG_PROPERTIES, "OSBundleEnableKextLogging", NULL);
    if (kx__kext_get(k, "OSBundleDebugLevel", v->arch))
        add(v, KX_D_DEPRECATED_PROPERTY, "OSBundleDebugLevel", NULL);

    if (exec) {
        size_t len = 0;
        const char *name = get_string(v, "CFBundleExecutable", 0, 0, &len);
        plist_t node = plist_dict_get_item(k->info, "CFBundleExecutable");
        uint64_t n = 0;
        const char *raw = kx_plist_is(node, PLIST_STRING) ? plist_get_string_ptr(node, &n) : NULL;
        if (!name && raw && kx_utf8_valid(raw, (size_t)n) && strlen(raw) == (size_t)n) {
            /* a build variable (a warning): the kext still has code, under a name that
             * only the build knew, so looking for the file reports it missing */
            name = raw;
            len = (size_t)n;
        }
        if (k->is_dext)
            add(v, KX_D_ILLEGAL_VALUE, "CFBundleExecutable",
                "a DriverKit extension names its executable in CFBundleUEXTExecutable");
        else if (name && (len == 0 || strchr(name, '/') || strcmp(name, ".") == 0 ||
                          strcmp(name, "..") == 0))
            add(v, KX_D_ILLEGAL_VALUE, "CFBundleExecutable", "'%s' is not a file name", name);
        else if (name)
            k->declares_exec = 1;
    }
    for (size_t i = 0; k->is_dext && kext_only_keys[i]; i++)
        if (plist_dict_get_item(k->info, kext_only_keys[i]))
            add(v, KX_D_ILLEGAL_VALUE, kext_only_keys[i],
                "not allowed in a DriverKit extension (DEXT)");
}

static void check_required(struct vctx *v)
{
    struct kx_kext *k = v->k;
    const char *req = get_string(v, "OSBundleRequired", 1, 0, NULL);
    size_t i;
    if (!req)
        return;
    for (i = 0; legal_required[i] && strcmp(req, legal_required[i]) != 0; i++)
        ;
    if (!legal_required[i]) {
        add(v, KX_D_ILLEGAL_VALUE, "OSBundleRequired",
            "'%s' (legal: Root, Local-Root, Network-Root, Console, Safe Boot)", req);
        return;
    }
    if (!k->is_dext && strcmp(req, "DriverKit") == 0) {
        add(v, KX_D_DRIVERKIT_REQUIRED, "OSBundleRequired", NULL);
        return;
    }
    if (k->is_dext && (!k->id || strncmp(k->id, "com.apple.", 10) != 0 ||
                       (strcmp(req, "DriverKit") != 0 && strcmp(req, "Safe Boot") != 0))) {
        add(v, KX_D_ILLEGAL_VALUE, "OSBundleRequired",
            "only Apple's DriverKit extensions may set it, to DriverKit or Safe Boot");
        return;
    }
    k->required = req;
}

static int compare_libs(const void *a, const void *b)
{
    return strcmp(((const struct kx_kext_lib *)a)->id, ((const struct kx_kext_lib *)b)->id);
}

static void add_library(struct vctx *v, const char *id, plist_t val)
{
    struct kx_kext *k = v->k;
    char *subject = child_path("OSBundleLibraries", id, strlen(id));
    uint64_t len = 0;
    const char *s;
    size_t at, tok;
    kx_vers req = KX_VERS_INVALID;
    if (!subject) {
        v->st = STATUS_INSUFFICIENT_RESOURCES;
        return;
    }
    if (strlen(id) > KX_KEXT_STRING_MAX)
        add(v, KX_D_STRING_TOO_LONG, subject, "identifier of %zu characters", strlen(id));
    if (plist_get_node_type(val) != PLIST_STRING) {
        add(v, KX_D_ILLEGAL_TYPE, subject, "is a %s, must be a version string",
            kx_plist_type_name(val));
        free(subject);
        return;
    }
    s = plist_get_string_ptr(val, &len);
    if (!s || !kx_utf8_valid(s, (size_t)len) || find_placeholder(s, (size_t)len, 1, &at, &tok) ||
        !kx_utf8_valid(id, strlen(id)) || find_placeholder(id, strlen(id), 1, &at, &tok)) {
        free(subject); /* reported by the walk */
        return;
    }
    req = parse_version(v, subject, s, (size_t)len);
    free(subject);

    struct kx_kext_lib *libs = realloc(k->libs, (k->n_libs + 1) * sizeof *libs);
    if (!libs) {
        v->st = STATUS_INSUFFICIENT_RESOURCES;
        return;
    }
    k->libs = libs;
    struct kx_kext_lib *l = &k->libs[k->n_libs];
    l->id = strdup(id);
    l->requested_str = strdup(s);
    l->requested = req;
    if (!l->id || !l->requested_str) {
        free(l->id);
        free(l->requested_str);
        v->st = STATUS_INSUFFICIENT_RESOURCES;
        return;
    }
    k->n_libs++;
}

static void check_libraries(struct vctx *v)
{
    struct kx_kext *k = v->k;
    plist_t libs = kx__kext_get(k, "OSBundleLibraries", v->arch);
    if (libs && plist_get_node_type(libs) != PLIST_DICT) {
        add(v, KX_D_ILLEGAL_TYPE, "OSBundleLibraries", "is a %s, must be a dictionary",
            kx_plist_type_name(libs));
        libs = NULL;
    } else if (libs) {
        plist_dict_iter it = NULL;
        plist_dict_new_iter(libs, &it);
        for (;;) {
            char *key = NULL;
            plist_t val = NULL;
            plist_dict_next_item(libs, it, &key, &val);
            if (!val) {
                free(key);
                break;
            }
            if (key)
                add_library(v, key, val);
            free(key);
        }
        free(it);
        if (k->n_libs > 1)
            qsort(k->libs, k->n_libs, sizeof *k->libs, compare_libs);
    }

    if (k->is_kernel_resource && libs)
        add(v, KX_D_SYSTEM_KEXT_PROPERTY, "OSBundleLibraries",
            "a kernel resource (OSKernelResource) may not declare libraries");
    else if (k->declares_exec && !k->is_kernel_resource && (!libs || plist_dict_get_size(libs) == 0))
        add(v, KX_D_MISSING_PROPERTY, "OSBundleLibraries",
            "a kext with an executable must declare the libraries it links against");
    else if (!k->declares_exec && k->compat == KX_VERS_INVALID && libs &&
             plist_dict_get_size(libs) > 0 && !k->is_dext)
        add(v, KX_D_CODELESS_WITH_LIBRARIES, "OSBundleLibraries", NULL);
}

static void check_personality(struct vctx *v, const char *name, plist_t p)
{
    char *subj = child_path("IOKitPersonalities", name, strlen(name));
    if (!subj) {
        v->st = STATUS_INSUFFICIENT_RESOURCES;
        return;
    }
    if (plist_get_node_type(p) != PLIST_DICT) {
        add(v, KX_D_ILLEGAL_TYPE, subj, "is a %s, must be a dictionary", kx_plist_type_name(p));
        free(subj);
        return;
    }
    static const char *const required[] = {"IOClass", "IOProviderClass", NULL};
    for (size_t i = 0; required[i]; i++) {
        plist_t n = plist_dict_get_item(p, required[i]);
        if (!n)
            add(v, KX_D_MISSING_PROPERTY, subj, "%s", required[i]);
        else if (plist_get_node_type(n) != PLIST_STRING)
            add(v, KX_D_ILLEGAL_TYPE, subj, "%s is a %s, must be a string", required[i],
                kx_plist_type_name(n));
    }
    plist_t bid = plist_dict_get_item(p, "CFBundleIdentifier");
    const char *bid_s = kx_plist_string(p, "CFBundleIdentifier", NULL);
    size_t at, tok;
    if (!bid)
        add(v, KX_D_PERSONALITY_NO_BUNDLE_ID, subj, NULL);
    else if (!bid_s)
        add(v, KX_D_ILLEGAL_TYPE, subj, "CFBundleIdentifier is a %s, must be a string",
            kx_plist_type_name(bid));
    else if (v->k->id && strcmp(bid_s, v->k->id) != 0 &&
             !find_placeholder(bid_s, strlen(bid_s), 0, &at, &tok)) /* KX4014 said it */
        add(v, KX_D_PERSONALITY_OTHER_BUNDLE_ID, subj, "%s", bid_s);

    plist_t score = plist_dict_get_item(p, "IOProbeScore");
    if (score && plist_get_node_type(score) != PLIST_UINT)
        add(v, KX_D_INCORRECT_TYPE, subj, "IOProbeScore is a %s, should be an integer",
            kx_plist_type_name(score));

    const char *provider = kx_plist_string(p, "IOProviderClass", NULL);
    const char *cls = kx_plist_string(p, "IOClass", NULL);
    const char *category = kx_plist_string(p, "IOMatchCategory", NULL);
    if (provider && strcmp(provider, "IOResources") == 0 &&
        (!category || !cls || strcmp(category, cls) != 0))
        add(v, KX_D_IORESOURCES_CATEGORY, subj, NULL);

    plist_t debug = plist_dict_get_item(p, "IOKitDebug");
    uint64_t dv = 0;
    if (debug && plist_get_node_type(debug) == PLIST_UINT) {
        plist_get_uint_val(debug, &dv);
        if (dv)
            add(v, KX_D_DEBUG_PROPERTIES, subj, "IOKitDebug = %llu", (unsigned long long)dv);
    }
    free(subj);
}

static void check_personalities(struct vctx *v)
{
    plist_t ps = kx__kext_get(v->k, "IOKitPersonalities", v->arch);
    if (!ps)
        return;
    if (plist_get_node_type(ps) != PLIST_DICT) {
        add(v, KX_D_ILLEGAL_TYPE, "IOKitPersonalities", "is a %s, must be a dictionary",
            kx_plist_type_name(ps));
        return;
    }
    plist_dict_iter it = NULL;
    plist_dict_new_iter(ps, &it);
    for (;;) {
        char *key = NULL;
        plist_t val = NULL;
        plist_dict_next_item(ps, it, &key, &val);
        if (!val) {
            free(key);
            break;
        }
        if (key && kx_utf8_valid(key, strlen(key)))
            check_personality(v, key, val);
        free(key);
        if (v->st != STATUS_SUCCESS)
            break;
    }
    free(it);
}

/* ---- Apple's copyright rule (kxld_validate_copyright_string) ---------------------------------- */

/* Years between the two markers: comma/space separated "YYYY" or "YYYY-YYYY". */
static int years_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t start, n;
        while (i < len && (s[i] == ' ' || s[i] == ',' || s[i] == '\t'))
            i++;
        if (i == len)
            break;
        start = i;
        while (i < len && s[i] != ' ' && s[i] != ',' && s[i] != '\t')
            i++;
        n = i - start;
        if (n != 4 && n != 9)
            return 0;
        for (size_t j = 0; j < n; j++) {
            int want_dash = n == 9 && j == 4;
            if (want_dash ? s[start + j] != '-' : !(s[start + j] >= '0' && s[start + j] <= '9'))
                return 0;
        }
    }
    return 1;
}

int kx__apple_copyright_valid(const char *s)
{
    static const char mark[] = "Copyright \xC2\xA9 ";
    static const char rights[] = " Apple Inc. All rights reserved.";
    const char *c, *r;
    if (!s)
        return 0;
    c = strstr(s, mark);
    r = strstr(s, rights);
    if (!c || !r || c > r)
        return 0;
    c += sizeof mark - 1;
    return r >= c && years_valid(c, (size_t)(r - c));
}

/* ---- Entry point ------------------------------------------------------------------------------ */

kx_status kx__kext_validate(struct kx_kext *k, const char *arch)
{
    struct vctx v = {k, arch, k->info_path ? k->info_path : k->path, STATUS_SUCCESS, {0}, {0}};
    if (!k->info)
        return STATUS_SUCCESS; /* the reader already reported why */
    if (plist_get_node_type(k->info) != PLIST_DICT) {
        add(&v, KX_D_PLIST_PARSE, "Info.plist", "the top level is a %s, not a dictionary",
            kx_plist_type_name(k->info));
        return v.st;
    }
    walk(&v, k->info, "", 0);
    static const enum kx_diag_code dropped[] = {KX_D_NOT_UTF8, KX_D_UNEXPANDED_VARIABLE,
                                                KX_D_UNEXPANDED_VARIABLE_WARNING};
    for (size_t i = 0; i < 3; i++)
        if (v.n_dropped[i])
            add(&v, dropped[i], "Info.plist", "%zu more strings not listed", v.n_dropped[i]);
    check_identity(&v);
    check_flags_and_executable(&v);
    check_required(&v);
    check_libraries(&v);
    check_personalities(&v);
    k->apple_copyright =
        kx__apple_copyright_valid(kx_plist_string(k->info, "NSHumanReadableCopyright", NULL)) ||
        kx__apple_copyright_valid(kx_plist_string(k->info, "CFBundleGetInfoString", NULL));
    return v.st;
}
