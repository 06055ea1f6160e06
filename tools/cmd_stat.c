/* cmd_stat.c — `kx stat` / kextstat: the loaded kexts in Apple's exact columns.
 *
 * The row format reproduces kext_tools' kextstat_main.c printf widths
 * (research apple-kext.md §3.5) so scripts written for kextstat keep working:
 *   %5d load tag, %4d refs, %#-18llx address, %#-10llx size, %#-10llx wired,
 *   bundle ID, (version), UUID or "no UUID", <linked-against tags, descending>.
 * Load tag 0 (the kernel itself) is never listed. -a adds Apple's
 * Architecture column before the name: every kext kxd runs is built for
 * this machine, so it is this machine's architecture. After Apple's columns,
 * one of kx's own, shown only when some driver runs out of kxd: Host, the
 * kx-host process a driver runs in ("died PID" once that process has died),
 * empty for kexts whose code runs in kxd.
 */
#include "cli.h"
#include "verbs.h"

#include <kx/kernel.h>
#include <kx/kext.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx stat [-a] [-k] [-l] [-b BUNDLE_ID]... [--server] [--json] [--socket PATH]\n"
    "  -a  add the Architecture column\n"
    "  -k  omit kernel components (kx's built-in KPI pseudo-kexts)\n"
    "  -l  omit the header line\n"
    "  -b  show only the kext with this bundle identifier (repeatable)\n"
    "  --server  kxd's own limits and its clients' usage instead of the kexts\n"
    "            (--json always includes them as \"server\")\n";

static int compare_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x < y) - (x > y);
}

static int wanted(const struct kx_client_kext *k, char **ids, size_t n_ids, int omit_kernel)
{
    /* Kernel components have no bundle path of their own. */
    if (omit_kernel && (!k->path || !*k->path))
        return 0;
    if (n_ids == 0)
        return 1;
    for (size_t i = 0; i < n_ids; i++)
        if (strcmp(ids[i], k->id) == 0)
            return 1;
    return 0;
}

static void print_row(const struct kx_client_kext *k, int show_arch)
{
    printf("%5u", (unsigned)k->tag);
    if (k->refs < 0)
        printf(" %4s", "??");
    else
        printf(" %4d", (int)k->refs);
    printf(" %#-18llx %#-10llx %#-10llx", (unsigned long long)k->address,
           (unsigned long long)k->size, (unsigned long long)k->wired);
    if (show_arch)
        printf(" %-18s", kx_kext_host_arch());
    printf(" %s (%s) %s", k->id, k->version, k->uuid && *k->uuid ? k->uuid : "no UUID");
    if (k->n_linked_against) {
        uint32_t *tags = malloc(k->n_linked_against * sizeof *tags);
        if (tags) {
            memcpy(tags, k->linked_against, k->n_linked_against * sizeof *tags);
            qsort(tags, k->n_linked_against, sizeof *tags, compare_desc);
            printf(" <");
            for (size_t i = 0; i < k->n_linked_against; i++)
                printf("%s%u", i ? " " : "", (unsigned)tags[i]);
            printf(">");
            free(tags);
        }
    }
    if (k->host_state == KX_KERNEL_HOST_STOPPED)
        printf(" stopped (%s)", k->host_note && *k->host_note ? k->host_note : "died");
    else if (k->host_state == KX_KERNEL_HOST_RESTARTING)
        printf(" restarting (died %d)", (int)-k->host_pid);
    else if (k->host_pid > 0)
        printf(" %d", (int)k->host_pid);
    else if (k->host_pid < 0)
        printf(" died %d", (int)-k->host_pid);
    putchar('\n');
}

static json_t *kext_json(const struct kx_client_kext *k)
{
    json_t *linked = json_array();
    for (size_t i = 0; i < k->n_linked_against; i++)
        json_array_append_new(linked, json_integer(k->linked_against[i]));
    static const char *const states[] = {NULL, "running", "restarting", "stopped"};
    const char *state = k->host_state < 4 ? states[k->host_state] : NULL;
    return json_pack(
        "{s:I, s:I, s:s, s:s, s:s?, s:s?, s:o, s:I, s:I, s:s, s:i, s:b, s:s?, s:I, s:s?}", "index",
        (json_int_t)k->tag, "refs", (json_int_t)k->refs, "id", k->id, "version", k->version, "uuid",
        k->uuid && *k->uuid ? k->uuid : NULL, "path", k->path && *k->path ? k->path : NULL,
        "linked_against", linked, "address", (json_int_t)k->address, "size", (json_int_t)k->size,
        "architecture", kx_kext_host_arch(), "host_pid",
        (int)(k->host_pid < 0 ? -k->host_pid : k->host_pid), "host_died", k->host_pid < 0,
        "host_state", state, "restarts", (json_int_t)k->restarts, "host_note",
        k->host_note && *k->host_note ? k->host_note : NULL);
}

static json_t *server_json(const struct kx_client_server *s)
{
    json_t *conns = json_array();
    for (size_t i = 0; i < s->n_listed; i++) {
        const struct kx_client_conn *k = &s->conns[i];
        json_array_append_new(
            conns, json_pack("{s:I, s:i, s:I, s:I, s:I, s:I, s:b}", "id", (json_int_t)k->id, "pid",
                             (int)k->pid, "uid", (json_int_t)k->uid, "pending",
                             (json_int_t)k->pending, "handles", (json_int_t)k->handles,
                             "bytes_held", (json_int_t)k->bytes_held, "throttled", k->throttled));
    }
    json_t *limits = json_pack(
        "{s:I, s:I, s:I, s:I}", "client_bytes", (json_int_t)s->conn_bytes_limit, "total_bytes",
        (json_int_t)s->total_bytes_limit, "connections", (json_int_t)s->max_conns,
        "connections_per_user", (json_int_t)s->max_conns_per_user);
    return json_pack("{s:o, s:I, s:I, s:I, s:I, s:o}", "limits", limits, "connections",
                     (json_int_t)s->n_conns, "throttled", (json_int_t)s->n_throttled, "bytes_held",
                     (json_int_t)s->bytes_held, "refused", (json_int_t)s->refused, "clients",
                     conns);
}

static void print_server(const struct kx_client_server *s)
{
    printf("Limits: %llu bytes per client, %llu bytes in all, %u connections, %u per user\n",
           (unsigned long long)s->conn_bytes_limit, (unsigned long long)s->total_bytes_limit,
           (unsigned)s->max_conns, (unsigned)s->max_conns_per_user);
    printf("Now: %u connection%s, %llu bytes held, %u throttled, %llu refused\n",
           (unsigned)s->n_conns, s->n_conns == 1 ? "" : "s", (unsigned long long)s->bytes_held,
           (unsigned)s->n_throttled, (unsigned long long)s->refused);
    printf("%8s %8s %6s %7s %7s %12s %s\n", "Conn", "PID", "UID", "Pending", "Handles", "Bytes",
           "Throttled");
    for (size_t i = 0; i < s->n_listed; i++) {
        const struct kx_client_conn *k = &s->conns[i];
        printf("%8llu %8d %6u %7u %7u %12llu %s\n", (unsigned long long)k->id, (int)k->pid,
               (unsigned)k->uid, (unsigned)k->pending, (unsigned)k->handles,
               (unsigned long long)k->bytes_held, k->throttled ? "yes" : "no");
    }
}

int kx_cmd_stat(int argc, char **argv)
{
    enum { OPT_JSON = 1000, OPT_SOCKET, OPT_HELP, OPT_SERVER };
    static const struct option opts[] = {{"json", no_argument, NULL, OPT_JSON},
                                         {"server", no_argument, NULL, OPT_SERVER},
                                         {"socket", required_argument, NULL, OPT_SOCKET},
                                         {"help", no_argument, NULL, OPT_HELP},
                                         {"bundle-id", required_argument, NULL, 'b'},
                                         {"no-kernel", no_argument, NULL, 'k'},
                                         {"list-only", no_argument, NULL, 'l'},
                                         {"arch", no_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    const char *socket = NULL;
    int as_json = 0, omit_kernel = 0, no_header = 0, server = 0, show_arch = 0, c;
    char **ids = calloc((size_t)argc, sizeof *ids);
    size_t n_ids = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:klah", opts, NULL)) != -1) {
        switch (c) {
        case 'a': show_arch = 1; break;
        case 'b': ids[n_ids++] = optarg; break;
        case 'k': omit_kernel = 1; break;
        case 'l': no_header = 1; break;
        case OPT_JSON: as_json = 1; break;
        case OPT_SERVER: server = 1; break;
        case OPT_SOCKET: socket = optarg; break;
        case 'h':
        case OPT_HELP:
            printf("%s", usage_text);
            free(ids);
            return KX_EXIT_OK;
        default:
            fprintf(stderr, "%s", usage_text);
            free(ids);
            return KX_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s", usage_text);
        free(ids);
        return KX_EXIT_USAGE;
    }
    kx_client *cl = kx_cli_connect("kextstat", socket);
    struct kx_client_kext *kexts = NULL;
    size_t n = 0;
    struct kx_client_server srv = {0};
    kx_status st = cl ? kx_client_stat(cl, &kexts, &n) : STATUS_CONNECTION_REFUSED;
    if (st == STATUS_SUCCESS && (as_json || server))
        st = kx_client_server(cl, &srv);
    if (st != STATUS_SUCCESS) {
        if (cl)
            kx_cli_report("kextstat", "listing", st, cl);
        kx_client_kexts_free(kexts, n);
        kx_client_disconnect(cl);
        free(ids);
        return KX_EXIT_FAIL;
    }
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            if (wanted(&kexts[i], ids, n_ids, omit_kernel))
                json_array_append_new(arr, kext_json(&kexts[i]));
        json_t *root = json_pack("{s:o, s:o}", "kexts", arr, "server", server_json(&srv));
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    } else if (server) {
        print_server(&srv);
    } else {
        /* The Host column appears only when some driver runs in a host process:
         * with every driver in kxd the output is Apple's, byte for byte. */
        int hosts = 0;
        for (size_t i = 0; i < n; i++)
            hosts |= kexts[i].host_pid != 0;
        if (!no_header)
            printf("Index Refs Address            Size       Wired      %s"
                   "Name (Version) UUID <Linked Against>%s\n",
                   show_arch ? "Architecture       " : "", hosts ? " Host" : "");
        for (size_t i = 0; i < n; i++)
            if (kexts[i].tag != 0 && wanted(&kexts[i], ids, n_ids, omit_kernel))
                print_row(&kexts[i], show_arch);
    }
    kx_client_kexts_free(kexts, n);
    kx_client_server_free(&srv);
    kx_client_disconnect(cl);
    free(ids);
    return KX_EXIT_OK;
}
