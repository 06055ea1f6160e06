/* cmd_event.c — `kx event raise` and `kx events`: named events for drivers
 * (issue 14; DkRegisterInterrupt in kx/kmdf.h).
 *
 *   kx event raise NAME [--source S] [DATA]
 *   kx events [--json]
 *
 * DATA is sent as its bytes (no NUL); "0x" followed by hex digits is sent as
 * the bytes it spells, so a test can raise a key code as the Keys driver
 * expects it. Raising is root's (or kxd's own user's); listing is anyone's.
 * Exit status: 0, 1 refused or failed, 2 usage.
 */
#include "cli.h"
#include "verbs.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char raise_usage[] =
    "usage: kx event [--socket PATH] raise NAME [--source S] [DATA]\n"
    "Raises the event NAME for every driver registered for it (DkRegisterInterrupt), with\n"
    "source S and DATA as payload: text as its bytes, or 0xHEX as the bytes it spells.\n"
    "Prints how many drivers it was queued for. Root (or kxd's own user) only.\n";

static const char list_usage[] = "usage: kx events [--socket PATH] [--json]\n"
                                 "Lists per driver its event registrations and timers, and how "
                                 "many events were\ndelivered, are queued and were dropped.\n";

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* DATA's bytes into out (malloc'ed); -1 for malformed hex. */
static long payload(const char *arg, unsigned char **out)
{
    *out = NULL;
    if (!arg)
        return 0;
    size_t n = strlen(arg);
    if (n > 2 && arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X')) {
        if ((n - 2) % 2)
            return -1;
        if (!(*out = malloc((n - 2) / 2 + 1)))
            return -1;
        for (size_t i = 2; i < n; i += 2) {
            int hi = hex_digit(arg[i]), lo = hex_digit(arg[i + 1]);
            if (hi < 0 || lo < 0) {
                free(*out);
                *out = NULL;
                return -1;
            }
            (*out)[(i - 2) / 2] = (unsigned char)(hi << 4 | lo);
        }
        return (long)((n - 2) / 2);
    }
    *out = (unsigned char *)strdup(arg);
    return *out ? (long)n : -1;
}

int kx_cmd_event(int argc, char **argv)
{
    enum { OPT_SOCKET = 1000, OPT_SOURCE };
    static const struct option opts[] = {{"socket", required_argument, NULL, OPT_SOCKET},
                                         {"source", required_argument, NULL, OPT_SOURCE},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *socket = NULL, *source = NULL;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case OPT_SOCKET: socket = optarg; break;
        case OPT_SOURCE: source = optarg; break;
        case 'h': printf("%s", raise_usage); return KX_EXIT_OK;
        default: fprintf(stderr, "%s", raise_usage); return KX_EXIT_USAGE;
        }
    }
    int n_args = argc - optind;
    if (n_args < 2 || n_args > 3 || strcmp(argv[optind], "raise") != 0) {
        fprintf(stderr, "%s", raise_usage);
        return KX_EXIT_USAGE;
    }
    const char *name = argv[optind + 1];
    unsigned char *data = NULL;
    long len = payload(n_args == 3 ? argv[optind + 2] : NULL, &data);
    if (len < 0) {
        fprintf(stderr, "kx event: %s: DATA 0x... needs an even number of hex digits\n",
                argv[optind + 2]);
        return KX_EXIT_USAGE;
    }
    kx_client *c = kx_cli_connect("kx event", socket);
    if (!c) {
        free(data);
        return KX_EXIT_FAIL;
    }
    uint32_t n = 0;
    kx_status st = kx_client_event_raise(c, name, source, data, (size_t)len, &n);
    int rc = KX_EXIT_OK;
    if (st != STATUS_SUCCESS) {
        kx_cli_report("kx event", name, st, c);
        rc = KX_EXIT_FAIL;
    } else {
        printf("%s: queued for %u driver(s)\n", name, n);
    }
    free(data);
    kx_client_disconnect(c);
    return rc;
}

int kx_cmd_events(int argc, char **argv)
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
        case 'h': printf("%s", list_usage); return KX_EXIT_OK;
        default: fprintf(stderr, "%s", list_usage); return KX_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s", list_usage);
        return KX_EXIT_USAGE;
    }
    kx_client *c = kx_cli_connect("kx events", socket);
    if (!c)
        return KX_EXIT_FAIL;
    struct kx_client_event_stat *v = NULL;
    size_t n = 0;
    kx_status st = kx_client_event_list(c, &v, &n);
    if (st != STATUS_SUCCESS) {
        kx_cli_report("kx events", "list", st, c);
        kx_client_disconnect(c);
        return KX_EXIT_FAIL;
    }
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *names = json_array();
            for (const char *p = v[i].names; *p;) {
                size_t k = strcspn(p, ",");
                json_array_append_new(names, json_stringn(p, k));
                p += k + (p[k] == ',');
            }
            json_array_append_new(arr, json_pack("{s:s, s:o, s:i, s:i, s:I, s:I}", "driver",
                                                 v[i].driver, "registrations", names, "timers",
                                                 (int)v[i].n_timers, "queued", (int)v[i].queued,
                                                 "delivered", (json_int_t)v[i].delivered, "dropped",
                                                 (json_int_t)v[i].dropped));
        }
        json_t *root = json_pack("{s:o}", "drivers", arr);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    } else {
        printf("%-24s %9s %9s %7s %6s  %s\n", "Driver", "Delivered", "Dropped", "Queued", "Timers",
               "Events");
        for (size_t i = 0; i < n; i++)
            printf("%-24s %9llu %9llu %7u %6u  %s\n", v[i].driver,
                   (unsigned long long)v[i].delivered, (unsigned long long)v[i].dropped,
                   v[i].queued, v[i].n_timers, v[i].names);
    }
    kx_client_event_stats_free(v, n);
    kx_client_disconnect(c);
    return KX_EXIT_OK;
}
