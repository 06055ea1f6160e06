/* cmd_log.c — `kx log`: the kernel log ring (DkPrint lines and kxd's own). */
#include "cli.h"
#include "verbs.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: kx log [--since SEQ] [--follow] [--json] [--socket PATH]\n"
    "Prints the kernel log: time, source and text of each line.\n";

static void print_line(const struct kx_client_log_line *l, int as_json)
{
    if (as_json) {
        json_t *o = json_pack("{s:I, s:I, s:s, s:s}", "seq", (json_int_t)l->seq, "time_ns",
                              (json_int_t)l->time_ns, "source", l->source, "text", l->text);
        json_dumpf(o, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(o);
        return;
    }
    time_t secs = (time_t)(l->time_ns / 1000000000ULL);
    struct tm tm;
    char when[32];
    localtime_r(&secs, &tm);
    strftime(when, sizeof when, "%H:%M:%S", &tm);
    printf("%s.%03u %-12s %s\n", when, (unsigned)(l->time_ns / 1000000ULL % 1000), l->source,
           l->text);
}

int kx_cmd_log(int argc, char **argv)
{
    enum { OPT_JSON = 1000, OPT_SOCKET, OPT_SINCE, OPT_FOLLOW, OPT_HELP };
    static const struct option opts[] = {{"json", no_argument, NULL, OPT_JSON},
                                         {"socket", required_argument, NULL, OPT_SOCKET},
                                         {"since", required_argument, NULL, OPT_SINCE},
                                         {"follow", no_argument, NULL, OPT_FOLLOW},
                                         {"help", no_argument, NULL, OPT_HELP},
                                         {NULL, 0, NULL, 0}};
    const char *socket = NULL;
    int as_json = 0, follow = 0, c;
    uint64_t since = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: as_json = 1; break;
        case OPT_SOCKET: socket = optarg; break;
        case 'f':
        case OPT_FOLLOW: follow = 1; break;
        case OPT_SINCE:
            if (kx_cli_parse_u64(optarg, &since) == 0)
                break;
            /* fall through */
        default: fprintf(stderr, "%s", usage_text); return KX_EXIT_USAGE;
        case 'h':
        case OPT_HELP: printf("%s", usage_text); return KX_EXIT_OK;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    kx_client *cl = kx_cli_connect("kx log", socket);
    if (!cl)
        return KX_EXIT_FAIL;
    int rc = KX_EXIT_OK;
    do {
        struct kx_client_log_line *lines;
        size_t n;
        kx_status st = kx_client_log(cl, since, &lines, &n);
        if (st != STATUS_SUCCESS) {
            kx_cli_report("kx log", "log", st, cl);
            rc = KX_EXIT_FAIL;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            print_line(&lines[i], as_json);
            since = lines[i].seq;
        }
        kx_client_log_free(lines, n);
        fflush(stdout);
        if (follow)
            usleep(200 * 1000);
    } while (follow);
    kx_client_disconnect(cl);
    return rc;
}
