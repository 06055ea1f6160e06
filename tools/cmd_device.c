/* cmd_device.c — `kx device add|remove`: hardware arriving and leaving in kxd's registry.
 *
 * add PARENT-PATH FILE publishes the entries FILE describes (ioreg -a's form: a dictionary,
 * or an array of them as `ioreg -a -r` writes them) under the entry at PARENT-PATH in both
 * planes, as a bus publishes a device it found, and kxd matches them: when the command
 * returns, the winners' kexts are loaded and their drivers drive the new nubs. The file is
 * read here and sent, so kxd never opens the caller's path; kxd checks it and a bad one
 * publishes nothing, the error naming the file, the entry and the key. remove PATH
 * terminates the entry and everything above it (drivers' RemoveDevice runs, pending
 * requests complete STATUS_DEVICE_REMOVED). peek ADDRESS OFFSET and poke ADDRESS OFFSET VALUE
 * read and write the 32-bit little-endian register at OFFSET of the component with that
 * address (its register file; a PCI function's configuration space, read-only), as drivers
 * see it through their proxies. All are root's. Exit status: 0, 1 refused or failed, 2 usage.
 */
#include "cli.h"
#include "verbs.h"

#include "core/plat.h"
#include "core/plist.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx device add [--socket PATH] [--json] PARENT-PATH FILE\n"
    "       kx device remove [--socket PATH] PATH\n"
    "       kx device peek [--socket PATH] ADDRESS OFFSET\n"
    "       kx device poke [--socket PATH] ADDRESS OFFSET VALUE\n"
    "add publishes the entries FILE describes (ioreg -a's XML: a dictionary, or an array of\n"
    "them) under the registry entry PARENT-PATH (IOService:/kx) and waits until kxd has\n"
    "matched them; remove terminates the entry at PATH and every driver above it; peek and\n"
    "poke read and write the 32-bit register at OFFSET of the component whose address\n"
    "(a UUID) is ADDRESS.\n";

/* A number in C's notation (0x1f, 31) that fits 32 bits; 0 if text is none. */
static int parse_u32(const char *text, uint32_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text || *end || v > UINT32_MAX || text[0] == '-')
        return 0;
    *out = (uint32_t)v;
    return 1;
}

static int register_access(kx_client *c, const char *verb, char **args)
{
    uint32_t offset = 0, value = 0;
    if (!parse_u32(args[1], &offset) || (strcmp(verb, "poke") == 0 && !parse_u32(args[2], &value))) {
        fprintf(stderr, "kx device %s: %s: not a 32-bit number\n", verb,
                parse_u32(args[1], &offset) ? args[2] : args[1]);
        return KX_EXIT_USAGE;
    }
    unsigned char b[4] = {(unsigned char)value, (unsigned char)(value >> 8),
                          (unsigned char)(value >> 16), (unsigned char)(value >> 24)};
    kx_status st = strcmp(verb, "peek") == 0
                       ? kx_client_device_peek(c, args[0], offset, b, sizeof b)
                       : kx_client_device_poke(c, args[0], offset, b, sizeof b);
    if (st != STATUS_SUCCESS) {
        char what[32];
        snprintf(what, sizeof what, "kx device %s", verb);
        kx_cli_report(what, args[0], st, c);
        return KX_EXIT_FAIL;
    }
    if (strcmp(verb, "peek") == 0)
        printf("0x%08x\n", (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                 (uint32_t)b[3] << 24);
    return KX_EXIT_OK;
}

static int add(kx_client *c, const char *parent, const char *file, int as_json)
{
    void *data = NULL;
    size_t len = 0;
    kx_status st = kx_plat_read_file(file, KX_PLIST_MAX_BYTES, &data, &len);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "kx device add: %s: %s\n", file, kx_status_string(st));
        return KX_EXIT_FAIL;
    }
    struct kx_client_nub *nubs = NULL;
    size_t n = 0;
    st = kx_client_device_add(c, parent, file, data, len, &nubs, &n);
    free(data);
    if (st != STATUS_SUCCESS) {
        kx_cli_report("kx device add", file, st, c);
        return KX_EXIT_FAIL;
    }
    if (as_json) {
        json_t *a = json_array(), *root = json_object();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_integer((json_int_t)nubs[i].id));
            json_object_set_new(o, "path", json_string(nubs[i].path));
            json_array_append_new(a, o);
        }
        json_object_set_new(root, "published", a);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s  <id 0x%llx>\n", nubs[i].path, (unsigned long long)nubs[i].id);
    }
    kx_client_nubs_free(nubs, n);
    return KX_EXIT_OK;
}

int kx_cmd_device(int argc, char **argv)
{
    enum { OPT_SOCKET = 1000, OPT_JSON };
    static const struct option opts[] = {{"socket", required_argument, NULL, OPT_SOCKET},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *socket = NULL;
    int as_json = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case OPT_SOCKET: socket = optarg; break;
        case OPT_JSON: as_json = 1; break;
        case 'h': printf("%s", usage_text); return KX_EXIT_OK;
        default: fprintf(stderr, "%s", usage_text); return KX_EXIT_USAGE;
        }
    }
    int n = argc - optind;
    const char *verb = n > 0 ? argv[optind] : "";
    int is_add = strcmp(verb, "add") == 0, is_remove = strcmp(verb, "remove") == 0;
    int is_peek = strcmp(verb, "peek") == 0, is_poke = strcmp(verb, "poke") == 0;
    if (!(is_add && n == 3) && !(is_remove && n == 2) && !(is_peek && n == 3) &&
        !(is_poke && n == 4)) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    char what[32];
    snprintf(what, sizeof what, "kx device %s", verb);
    kx_client *c = kx_cli_connect(what, socket);
    if (!c)
        return KX_EXIT_FAIL;
    int rc = KX_EXIT_OK;
    if (is_peek || is_poke) {
        rc = register_access(c, verb, argv + optind + 1);
    } else if (is_add) {
        rc = add(c, argv[optind + 1], argv[optind + 2], as_json);
    } else {
        kx_status st = kx_client_device_remove(c, argv[optind + 1]);
        if (st != STATUS_SUCCESS) {
            kx_cli_report("kx device remove", argv[optind + 1], st, c);
            rc = KX_EXIT_FAIL;
        }
    }
    kx_client_disconnect(c);
    return rc;
}
