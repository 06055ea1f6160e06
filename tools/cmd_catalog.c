/* cmd_catalog.c — `kx catalog`: the IOCatalogue the extensions folders make.
 *
 * Every personality in catalogue order (kexts by bundle path, personalities in Info.plist
 * order): owning kext, personality name, IOClass, provider class (and the class it is
 * matched as when they differ), IOProbeScore, match category, and its keys. Personalities
 * the catalogue refused are reported on stderr. Exit status: 0, 1 when a folder can't be
 * read, 2 usage.
 */
#include "cli.h"
#include "regcli.h"
#include "verbs.h"

#include "core/json.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx catalog [--extensions DIR]... [--safe-boot] [--no-auth] [--json]\n"
    "Lists every personality of the folders in catalogue order with its kext, IOClass,\n"
    "provider class and keys.\n";

/* The personality's keys but the three every one has, comma-separated (into buf). */
static const char *keys_text(plist_t dict, char *buf, size_t len)
{
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    size_t pos = 0;
    buf[0] = '\0';
    plist_dict_new_iter(dict, &it);
    for (plist_dict_next_item(dict, it, &key, &val); key;
         plist_dict_next_item(dict, it, &key, &val)) {
        if (strcmp(key, "IOClass") != 0 && strcmp(key, "IOProviderClass") != 0 &&
            strcmp(key, "CFBundleIdentifier") != 0 && pos < len)
            pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", pos ? ", " : "", key);
        free(key);
        key = NULL;
    }
    free(it);
    return buf;
}

static json_t *keys_json(plist_t dict)
{
    json_t *a = json_array();
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    plist_dict_new_iter(dict, &it);
    for (plist_dict_next_item(dict, it, &key, &val); key;
         plist_dict_next_item(dict, it, &key, &val)) {
        json_array_append_new(a, kx_json_string(key));
        free(key);
        key = NULL;
    }
    free(it);
    return a;
}

static json_t *personality_json(struct kx_personality *p)
{
    json_t *j = json_object();
    const char *category = kx_personality_category(p);
    json_object_set_new(j, "kext", kx_json_string(kx_personality_kext(p)));
    json_object_set_new(j, "bundle_path", kx_json_string(kx_personality_bundle_path(p)));
    json_object_set_new(j, "personality", kx_json_string(kx_personality_name(p)));
    json_object_set_new(j, "ioclass", kx_json_string(kx_personality_ioclass(p)));
    json_object_set_new(j, "provider_class", kx_json_string(kx_personality_provider_class(p)));
    json_object_set_new(j, "matched_as", kx_json_string(kx_personality_matched_as(p)));
    json_object_set_new(j, "score", json_integer(kx_personality_probe_score(p)));
    json_object_set_new(j, "category", kx_json_string(category));
    json_object_set_new(j, "code_bundle", kx_json_string(kx_personality_code_bundle(p)));
    json_object_set_new(j, "merge_only", json_boolean(kx_personality_merge_only(p)));
    json_object_set_new(j, "withheld", json_boolean(kx_personality_withheld(p)));
    json_object_set_new(j, "keys", keys_json(kx_personality_dict(p)));
    return j;
}

int kx_cmd_catalog(int argc, char **argv)
{
    static const struct option opts[] = {{"extensions", required_argument, NULL, 'e'},
                                         {"safe-boot", no_argument, NULL, 'x'},
                                         {"no-auth", no_argument, NULL, 'A'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dirs[REGCLI_MAX_FOLDERS];
    size_t n_dirs = 0;
    int json = 0, safe_boot = 0;
    struct kx_kext_options kopts = KX_KEXT_OPTIONS_INIT;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'e':
            if (n_dirs == REGCLI_MAX_FOLDERS) {
                fprintf(stderr, "%s", usage_text);
                return KX_EXIT_USAGE;
            }
            dirs[n_dirs++] = optarg;
            break;
        case 'x': safe_boot = 1; break;
        case 'A': kopts.flags |= KX_KEXT_NO_AUTH; break;
        case 'j': json = 1; break;
        case 'h': printf("%s", usage_text); return KX_EXIT_OK;
        default: fprintf(stderr, "%s", usage_text); return KX_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    struct regcli c;
    if (regcli_init("kx catalog", &c) != 0 ||
        regcli_catalog("kx catalog", dirs, n_dirs, &kopts, safe_boot ? KX_CATALOG_SAFE_BOOT : 0,
                       &c) != 0) {
        regcli_free(&c);
        return KX_EXIT_FAIL;
    }
    struct kx_personality **list = NULL;
    size_t n = 0;
    if (kx_catalog_list(c.cat, &list, &n) != STATUS_SUCCESS) {
        fprintf(stderr, "kx catalog: %s\n", kx_status_string(STATUS_INSUFFICIENT_RESOURCES));
        regcli_free(&c);
        return KX_EXIT_FAIL;
    }
    if (json) {
        json_t *arr = json_array(), *root = json_object();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, personality_json(list[i]));
        json_object_set_new(root, "personalities", arr);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    } else {
        char keys[1024];
        for (size_t i = 0; i < n; i++) {
            struct kx_personality *p = list[i];
            const char *as = kx_personality_matched_as(p);
            int translated = strcmp(as, kx_personality_provider_class(p)) != 0;
            printf("%s \"%s\"\n    IOClass %s on %s%s%s%s, score %lld, %s%s\n    keys: %s\n",
                   kx_personality_kext(p), kx_personality_name(p), kx_personality_ioclass(p),
                   kx_personality_provider_class(p), translated ? " (matched as " : "",
                   translated ? as : "", translated ? ")" : "",
                   (long long)kx_personality_probe_score(p),
                   kx_personality_category(p) ? kx_personality_category(p) : "merges only",
                   kx_personality_withheld(p) ? ", withheld in safe boot" : "",
                   keys_text(kx_personality_dict(p), keys, sizeof keys));
        }
        printf("%zu personalit%s\n", n, n == 1 ? "y" : "ies");
    }
    kx_catalog_list_free(list, n);
    regcli_free(&c);
    return KX_EXIT_OK;
}
