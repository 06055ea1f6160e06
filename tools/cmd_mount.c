/* cmd_mount.c — `kx mount DIR`: asks the running kxd to serve its /dev links
 * as files in DIR, as `kxd --mount DIR` does at start (docs/fuse.md).
 *
 * The folder is made absolute here, against the caller's working folder,
 * because kxd runs elsewhere. The mount is kxd's: it stays until kxd stops.
 * Root or kxd's own user. Exit status: 0, 1 refused or failed, 2 usage.
 */
#include "cli.h"
#include "verbs.h"

#include "core/plat.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx mount [--socket PATH] DIR\n"
    "kxd serves its /dev links as files in DIR (DIR/null, DIR/ram0, ...) until it stops;\n"
    "a stale mount of a crashed kxd there is replaced. Root (or kxd's own user) only.\n";

int kx_cmd_mount(int argc, char **argv)
{
    enum { OPT_SOCKET = 1000 };
    static const struct option opts[] = {{"socket", required_argument, NULL, OPT_SOCKET},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *socket = NULL;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case OPT_SOCKET: socket = optarg; break;
        case 'h': printf("%s", usage_text); return KX_EXIT_OK;
        default: fprintf(stderr, "%s", usage_text); return KX_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    const char *dir = argv[optind];
    /* An absolute path is sent untouched: a stale mount there fails every
     * stat, and kxd is the one to replace it. */
    char *abs = NULL;
    kx_status st = dir[0] == '/' ? ((abs = strdup(dir)) ? STATUS_SUCCESS
                                                        : STATUS_INSUFFICIENT_RESOURCES)
                                 : kx_plat_realpath(dir, &abs);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "kx mount: %s: %s\n", dir, kx_status_string(st));
        return KX_EXIT_FAIL;
    }
    kx_client *c = kx_cli_connect("kx mount", socket);
    if (!c) {
        free(abs);
        return KX_EXIT_FAIL;
    }
    st = kx_client_mount(c, abs);
    if (st != STATUS_SUCCESS)
        kx_cli_report("kx mount", abs, st, c);
    kx_client_disconnect(c);
    free(abs);
    return st == STATUS_SUCCESS ? KX_EXIT_OK : KX_EXIT_FAIL;
}
