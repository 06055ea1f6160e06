/* cmd_catalog.c — `kx catalog`: the IOCatalogue the extensions folders make, or kxd's.
 *
 * Every personality in catalogue order (kexts by bundle path, personalities in Info.plist
 * order): owning kext, personality name, IOClass, provider class (and the class it is
 * matched as when they differ), IOProbeScore, match category, and its keys. With
 * --extensions the catalogue is made here (personalities it refused are reported on
 * stderr); without, it is the running kxd's. Either way the listing is
 * kx_catalog_report_json's; --json prints it and the text is made from it. Exit status: 0,
 * 1 when a folder or kxd can't be read, 2 usage.
 */
#include "cli.h"
#include "regcli.h"
#include "verbs.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx catalog [--extensions DIR]... [--safe-boot] [--no-auth] [--socket PATH] [--json]\n"
    "Lists every personality of the folders (without --extensions: kxd's catalogue) in\n"
    "catalogue order with its kext, IOClass, provider class and keys.\n";

/* The personality's keys but the three every one has, comma-separated (into buf). */
static const char *keys_text(json_t *keys, char *buf, size_t len)
{
    size_t pos = 0, i;
    json_t *k;
    buf[0] = '\0';
    for (i = 0; i < json_array_size(keys) && (k = json_array_get(keys, i)); i++) {
        const char *key = json_string_value(k);
        if (key && strcmp(key, "IOClass") != 0 && strcmp(key, "IOProviderClass") != 0 &&
            strcmp(key, "CFBundleIdentifier") != 0 && pos < len)
            pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", pos ? ", " : "", key);
    }
    return buf;
}

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static void print_text(json_t *root)
{
    json_t *list = json_object_get(root, "personalities"), *p;
    size_t i, n = json_array_size(list);
    char keys[1024];
    for (i = 0; i < json_array_size(list) && (p = json_array_get(list, i)); i++) {
        const char *as = str(p, "matched_as");
        int translated = strcmp(as, str(p, "provider_class")) != 0;
        json_t *category = json_object_get(p, "category");
        printf("%s \"%s\"\n    IOClass %s on %s%s%s%s, score %lld, %s%s\n    keys: %s\n",
               str(p, "kext"), str(p, "personality"), str(p, "ioclass"), str(p, "provider_class"),
               translated ? " (matched as " : "", translated ? as : "", translated ? ")" : "",
               (long long)json_integer_value(json_object_get(p, "score")),
               json_is_string(category) ? json_string_value(category) : "merges only",
               json_is_true(json_object_get(p, "withheld")) ? ", withheld in safe boot" : "",
               keys_text(json_object_get(p, "keys"), keys, sizeof keys));
    }
    printf("%zu personalit%s\n", n, n == 1 ? "y" : "ies");
}

/* The listing of the folders' catalogue, made here. */
static char *local_listing(const char *const *dirs, size_t n_dirs,
                           const struct kx_kext_options *kopts, int safe_boot)
{
    struct regcli c;
    char *json = NULL;
    if (regcli_init("kx catalog", &c) == 0 &&
        regcli_catalog("kx catalog", dirs, n_dirs, kopts, safe_boot ? KX_CATALOG_SAFE_BOOT : 0,
                       &c) == 0 &&
        kx_catalog_report_json(c.cat, &json) != STATUS_SUCCESS)
        fprintf(stderr, "kx catalog: %s\n", kx_status_string(STATUS_INSUFFICIENT_RESOURCES));
    regcli_free(&c);
    return json;
}

int kx_cmd_catalog(int argc, char **argv)
{
    static const struct option opts[] = {{"extensions", required_argument, NULL, 'e'},
                                         {"safe-boot", no_argument, NULL, 'x'},
                                         {"no-auth", no_argument, NULL, 'A'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"socket", required_argument, NULL, 'K'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dirs[REGCLI_MAX_FOLDERS], *socket = NULL;
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
        case 'K': socket = optarg; break;
        case 'h': printf("%s", usage_text); return KX_EXIT_OK;
        default: fprintf(stderr, "%s", usage_text); return KX_EXIT_USAGE;
        }
    }
    /* --safe-boot and --no-auth shape a catalogue made here; kxd's is its boot's */
    if (optind != argc || (!n_dirs && (safe_boot || kopts.flags))) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    char *text = n_dirs
                     ? local_listing(dirs, n_dirs, &kopts, safe_boot)
                     : regcli_kxd_json("kx catalog", socket, "kxd's catalogue", kx_client_catalog);
    return regcli_show_json("kx catalog", "the listing", text, json, print_text);
}
