/* cmd_info.c — `kx info KEXT`: everything known about one kext, like modinfo.
 *
 * Three sources, each said where it answers: the bundle (Info.plist keys,
 * libraries, personalities, and the executable read statically: its format,
 * driver-info record and UUID), the verdict a load would get (the loader's
 * own checks, kx_kext_resolution_verify, against the --extensions folders),
 * and the running kernel (kxd's load tag, references, address) when a kxd
 * answers — its absence is a line of the report, not an error. KEXT is a
 * bundle path, or a bundle identifier looked up in the folders (and, when no
 * folder has it, among kxd's loaded kexts). Exit status: 0 found, 1 the kext
 * is nowhere, 2 usage or I/O error.
 */
#include "cli.h"
#include "verbs.h"

#include "kext/elf.h"
#include "lua/lua_drv.h"

#include <kx/kext.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx info [--extensions DIR]... [--system NAME] [--no-auth] [--socket PATH] [--json]\n"
    "               KEXT|BUNDLE_ID\n"
    "Everything known about a kext: its bundle, its executable, the verdict a load would\n"
    "get, and its state in kxd when one is running.\n";

/* What the executable says about itself, read without running it. */
static json_t *executable_json(const struct kx_kext *k)
{
    const char *exe = kx_kext_executable(k);
    const struct kx_diags *d = kx_kext_diags(k);
    if (!kx_kext_declares_executable(k))
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "path", exe ? json_string(exe) : json_null());
    for (size_t i = 0; !exe && i < d->n_items; i++)
        if (d->items[i].code == KX_D_FOREIGN_EXECUTABLE && d->items[i].detail)
            json_object_set_new(o, "format", json_string(d->items[i].detail));
    if (!exe)
        return o;
    struct kx_driver_info info;
    char why[256] = "", uuid[KX_ELF_UUID_LEN] = "";
    if (kx_lua_script_path(exe)) { /* g_tDriverInfo, read without running the script */
        json_object_set_new(o, "format", json_string("a Lua driver script"));
        if (kx_lua_inspect_file(exe, &info, why, sizeof why) != STATUS_SUCCESS) {
            json_object_set_new(o, "error", json_string(why));
            json_object_set_new(o, "driver_info", json_null());
            return o;
        }
        json_object_set_new(o, "driver_info",
                            json_pack("{s:s, s:i, s:i, s:s}", "name", info.name, "type",
                                      (int)info.type, "load_priority", (int)info.load_priority,
                                      "version", info.version));
        return o;
    }
    json_object_set_new(o, "format", json_string("ELF shared object for this machine"));
    struct kx_elf *elf = NULL;
    const uint8_t *id = NULL;
    size_t id_len = 0;
    if (kx_elf_open(exe, &elf, why, sizeof why) != STATUS_SUCCESS) {
        json_object_set_new(o, "error", json_string(why));
        return o;
    }
    if (kx_elf_driver_info(elf, &info, why, sizeof why) == STATUS_SUCCESS)
        json_object_set_new(o, "driver_info",
                            json_pack("{s:s, s:i, s:i, s:s}", "name", info.name, "type",
                                      (int)info.type, "load_priority", (int)info.load_priority,
                                      "version", info.version));
    else
        json_object_set_new(o, "driver_info", json_null());
    if (kx_elf_build_id(elf, &id, &id_len, NULL, 0) == STATUS_SUCCESS && id_len &&
        kx_elf_uuid_format(id, id_len, uuid) == STATUS_SUCCESS)
        json_object_set_new(o, "uuid", json_string(uuid));
    kx_elf_close(elf);
    return o;
}

static json_t *personalities_json(const struct kx_kext *k)
{
    json_t *a = json_array();
    plist_t ps = plist_dict_get_item(kx_kext_info(k), "IOKitPersonalities");
    plist_dict_iter it = NULL;
    if (!ps || plist_get_node_type(ps) != PLIST_DICT)
        return a;
    plist_dict_new_iter(ps, &it);
    for (;;) {
        char *name = NULL;
        plist_t p = NULL;
        plist_dict_next_item(ps, it, &name, &p);
        if (!p) {
            free(name);
            break;
        }
        plist_t cls =
            plist_get_node_type(p) == PLIST_DICT ? plist_dict_get_item(p, "IOClass") : NULL;
        plist_t prov =
            plist_get_node_type(p) == PLIST_DICT ? plist_dict_get_item(p, "IOProviderClass") : NULL;
        json_array_append_new(a, json_pack("{s:s?, s:s?, s:s?}", "name", name, "IOClass",
                                           cls && plist_get_node_type(cls) == PLIST_STRING
                                               ? plist_get_string_ptr(cls, NULL)
                                               : NULL,
                                           "IOProviderClass",
                                           prov && plist_get_node_type(prov) == PLIST_STRING
                                               ? plist_get_string_ptr(prov, NULL)
                                               : NULL));
        free(name);
    }
    free(it);
    return a;
}

static json_t *bundle_json(struct kx_kext_repo *repo, struct kx_kext *k)
{
    json_t *libs = json_object();
    for (size_t i = 0; i < kx_kext_n_libraries(k); i++) {
        kx_vers v = KX_VERS_INVALID;
        const char *id = kx_kext_library(k, i, &v);
        char buf[64] = "?";
        kx_vers_format(v, buf, sizeof buf);
        json_object_set_new(libs, id, json_string(buf));
    }
    struct kx_kext_resolution *res = NULL;
    int linked = 0;
    kx_status verdict = kx_kext_resolve(repo, k, &res);
    if (verdict == STATUS_SUCCESS)
        verdict = kx_kext_resolution_verify(res, &linked);
    json_t *diags = res ? kx_diags_to_json(kx_kext_resolution_diags(res)) : json_array();
    kx_kext_resolution_free(res);
    char compat[64] = "";
    if (kx_kext_compatible_version(k) != KX_VERS_INVALID)
        kx_vers_format(kx_kext_compatible_version(k), compat, sizeof compat);
    return json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:b, s:o, s:o, s:o, s:s, s:b, s:b, s:o}",
                     "path", kx_kext_path(k), "id", kx_kext_id(k), "version",
                     kx_kext_version_string(k), "compatible_version", *compat ? compat : NULL,
                     "required", kx_kext_required(k), "allow_user_load",
                     kx_kext_allows_user_load(k), "libraries", libs, "personalities",
                     personalities_json(k), "executable", executable_json(k), "verdict",
                     kx_status_name(verdict), "loadable", verdict == STATUS_SUCCESS,
                     "linkage_checked", linked, "diagnostics", diags ? diags : json_array());
}

/* kxd's record of the kext, JSON null when it isn't loaded; *reached says whether kxd answered. */
static json_t *kernel_json(const char *socket, const char *id, const char *path, int *reached)
{
    kx_client *c = NULL;
    struct kx_client_kext *v = NULL;
    size_t n = 0;
    json_t *o = json_null();
    *reached = kx_client_connect(socket, &c) == STATUS_SUCCESS &&
               kx_client_stat(c, &v, &n) == STATUS_SUCCESS;
    for (size_t i = 0; *reached && i < n; i++)
        if ((id && strcmp(v[i].id, id) == 0) ||
            (path && v[i].path && strcmp(v[i].path, path) == 0)) {
            json_t *linked = json_array();
            for (size_t j = 0; j < v[i].n_linked_against; j++)
                json_array_append_new(linked, json_integer(v[i].linked_against[j]));
            json_decref(o);
            o = json_pack(
                "{s:I, s:I, s:s, s:s, s:s?, s:s?, s:I, s:I, s:o}", "index", (json_int_t)v[i].tag,
                "refs", (json_int_t)v[i].refs, "id", v[i].id, "version", v[i].version, "uuid",
                v[i].uuid && *v[i].uuid ? v[i].uuid : NULL, "path",
                v[i].path && *v[i].path ? v[i].path : NULL, "address", (json_int_t)v[i].address,
                "size", (json_int_t)v[i].size, "linked_against", linked);
        }
    kx_client_kexts_free(v, n);
    kx_client_disconnect(c);
    return o;
}

/* o[key] as a string, or dflt. */
static const char *str(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static void print_executable(json_t *exe)
{
    if (!json_is_object(exe)) {
        printf("executable:      none (codeless)\n");
        return;
    }
    printf("executable:      %s (%s)\n", str(exe, "path", "not usable here"),
           str(exe, "format", "missing"));
    json_t *di = json_object_get(exe, "driver_info");
    if (json_is_object(di))
        printf("driver-info:     %s, version %s, load priority %d\n", str(di, "name", "?"),
               str(di, "version", "?"),
               (int)json_integer_value(json_object_get(di, "load_priority")));
    else
        printf("driver-info:     none (default load priority)\n");
    if (json_object_get(exe, "uuid"))
        printf("UUID:            %s\n", str(exe, "uuid", ""));
}

static void print_bundle(json_t *b)
{
    const char *lib;
    json_t *v;
    size_t i;
    printf("path:            %s\n", str(b, "path", "?"));
    printf("identifier:      %s\n", str(b, "id", "(none)"));
    printf("version:         %s\n", str(b, "version", "(none)"));
    if (json_object_get(b, "compatible_version") &&
        !json_is_null(json_object_get(b, "compatible_version")))
        printf("compatible with: %s (a library)\n", str(b, "compatible_version", ""));
    printf("required:        %s\n", str(b, "required", "(not set: loads after boot)"));
    printf("user load:       %s\n",
           json_is_true(json_object_get(b, "allow_user_load")) ? "allowed" : "root only");
    json_t *libs = json_object_get(b, "libraries");
    for (void *it = json_object_iter(libs); it; it = json_object_iter_next(libs, it)) {
        lib = json_object_iter_key(it);
        printf("library:         %s %s\n", lib, json_string_value(json_object_iter_value(it)));
    }
    json_t *ps = json_object_get(b, "personalities");
    for (i = 0; i < json_array_size(ps); i++) {
        v = json_array_get(ps, i);
        printf("personality:     %s (%s on %s)\n", str(v, "name", "?"), str(v, "IOClass", "?"),
               str(v, "IOProviderClass", "?"));
    }
    print_executable(json_object_get(b, "executable"));
    printf("verdict:         %s%s\n",
           json_is_true(json_object_get(b, "loadable")) ? "loadable" : str(b, "verdict", "?"),
           json_is_true(json_object_get(b, "linkage_checked")) ? " (including linkage)" : "");
    json_t *diags = json_object_get(b, "diagnostics");
    for (i = 0; i < json_array_size(diags); i++) {
        v = json_array_get(diags, i);
        if (strcmp(str(v, "category", ""), "warning") != 0)
            printf("  %s %s%s%s\n", str(v, "code", ""), str(v, "message", ""),
                   json_object_get(v, "subject") ? ": " : "", str(v, "subject", ""));
    }
}

static void print_text(json_t *bundle, json_t *kernel, int reached)
{
    if (bundle)
        print_bundle(bundle);
    if (!reached)
        printf("kernel:          kxd not reachable\n");
    else if (json_is_null(kernel))
        printf("kernel:          not loaded\n");
    else
        printf("kernel:          loaded, index %d, refs %d, address %#llx, size %#llx\n",
               (int)json_integer_value(json_object_get(kernel, "index")),
               (int)json_integer_value(json_object_get(kernel, "refs")),
               (unsigned long long)json_integer_value(json_object_get(kernel, "address")),
               (unsigned long long)json_integer_value(json_object_get(kernel, "size")));
}

int kx_cmd_info(int argc, char **argv)
{
    enum { OPT_EXT = 1000, OPT_SYSTEM, OPT_NO_AUTH, OPT_SOCKET, OPT_JSON, OPT_HELP };
    static const struct option opts[] = {{"extensions", required_argument, NULL, OPT_EXT},
                                         {"system", required_argument, NULL, OPT_SYSTEM},
                                         {"no-auth", no_argument, NULL, OPT_NO_AUTH},
                                         {"socket", required_argument, NULL, OPT_SOCKET},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {"help", no_argument, NULL, OPT_HELP},
                                         {NULL, 0, NULL, 0}};
    const char *dirs[64], *system = NULL, *socket = NULL;
    size_t n_dirs = 0;
    int as_json = 0, c, rc = KX_EXIT_OK;
    struct kx_kext_options kopts = KX_KEXT_OPTIONS_INIT;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_EXT:
            if (n_dirs == sizeof dirs / sizeof dirs[0]) {
                fprintf(stderr, "kx info: too many folders\n");
                return KX_EXIT_USAGE;
            }
            dirs[n_dirs++] = optarg;
            break;
        case OPT_SYSTEM: system = optarg; break;
        case OPT_NO_AUTH: kopts.flags |= KX_KEXT_NO_AUTH; break;
        case OPT_SOCKET: socket = optarg; break;
        case OPT_JSON: as_json = 1; break;
        case 'h':
        case OPT_HELP: printf("%s", usage_text); return KX_EXIT_OK;
        default: fprintf(stderr, "%s", usage_text); return KX_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    const char *what = argv[optind];
    int is_path = strchr(what, '/') || strstr(what, ".kext");
    struct kx_kext_repo *repo = NULL;
    struct kx_kext *k = NULL;
    kx_status st = kx_kext_repo_new(&kopts, &repo);
    if (st == STATUS_SUCCESS && system &&
        (st = kx_kext_repo_use_system(repo, system)) != STATUS_SUCCESS)
        fprintf(stderr, "kx info: unknown system profile '%s'\n", system);
    for (size_t i = 0; st == STATUS_SUCCESS && i < n_dirs; i++)
        if ((st = kx_kext_repo_add_folder(repo, dirs[i])) != STATUS_SUCCESS)
            fprintf(stderr, "kx info: %s: %s\n", dirs[i], kx_status_string(st));
    if (st == STATUS_SUCCESS && is_path &&
        (st = kx_kext_repo_add_kext(repo, what, &k)) != STATUS_SUCCESS)
        fprintf(stderr, "kx info: %s: %s\n", what, kx_status_string(st));
    if (st != STATUS_SUCCESS) {
        kx_kext_repo_free(repo);
        return KX_EXIT_USAGE;
    }
    if (!is_path)
        k = kx_kext_repo_lookup(repo, what, KX_VERS_INVALID);
    json_t *bundle = k ? bundle_json(repo, k) : NULL;
    int reached = 0;
    json_t *kernel = kernel_json(socket, k ? kx_kext_id(k) : what, NULL, &reached);
    if (!bundle && json_is_null(kernel)) {
        fprintf(stderr, "kx info: %s: no such kext in the extensions folders%s\n", what,
                reached ? " or loaded in kxd" : " (and kxd is not reachable)");
        rc = KX_EXIT_FAIL;
    } else if (as_json) {
        json_t *root = json_pack("{s:o, s:b, s:O}", "bundle", bundle ? bundle : json_null(),
                                 "kxd_reachable", reached, "kernel", kernel);
        bundle = NULL;
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    } else {
        print_text(bundle, kernel, reached);
    }
    json_decref(bundle);
    json_decref(kernel);
    kx_kext_repo_free(repo);
    return rc;
}
