/* cmd_fault.c — `kx fault`: fault injection rules in the running kxd
 * (kx/fault.h, docs/io.md "Fault injection").
 *
 *   kx fault DEVICE-OR-KEXT (--irp N | --every N | --probability P) --action A
 *            [--major M] [--seed S]
 *   kx fault --list [--json]
 *   kx fault --clear [DEVICE-OR-KEXT]
 *
 * The options become the rule's words ("irp=2 action=crash"), checked here
 * with kx_fault_parse so a typo is a usage error before kxd is asked; kxd
 * parses them again and answers with the rule as it keeps it. Root (or kxd's
 * own user) only. Exit status: 0, 1 refused or failed, 2 usage.
 */
#include "cli.h"
#include "verbs.h"

#include <getopt.h>
#include <jansson.h>
#include <kx/fault.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx fault [--socket PATH] DEVICE-OR-KEXT (--irp N | --every N | --probability P)\n"
    "                --action ACTION [--major MAJOR] [--seed S]\n"
    "       kx fault [--socket PATH] --list [--json]\n"
    "       kx fault [--socket PATH] --clear [DEVICE-OR-KEXT]\n"
    "Makes IRPs to a device (/dev/null, \\Device\\Null0) or to every device of a loaded\n"
    "kext's driver (its bundle identifier) misbehave, in the driver's host:\n"
    "  --irp N          the Nth IRP from now, once (the open's CREATE counts)\n"
    "  --every N        every Nth IRP\n"
    "  --probability P  each IRP with probability P in (0, 1], drawn from --seed (default 1)\n"
    "  --action         fail:STATUS (complete with it, the driver not called), delay:MS,\n"
    "                   never-complete, and for drivers in kx-host processes only:\n"
    "                   crash, abort, exit, hang\n"
    "  --major          count only IRPs of this major (READ, WRITE, DEVICE_CONTROL, ...)\n"
    "A new rule for a target replaces its old one. --list shows the rules with how many\n"
    "IRPs each saw and hit; --clear removes one target's rule, or all. Root (or kxd's own\n"
    "user) only.\n";

/* The value of word key=... in words ("" when absent). */
static void word_value(const char *words, const char *key, char *out, size_t len)
{
    size_t k = strlen(key);
    out[0] = '\0';
    for (const char *p = words; p && *p;) {
        size_t n = strcspn(p, " ");
        if (n > k && strncmp(p, key, k) == 0 && p[k] == '=')
            snprintf(out, len, "%.*s", (int)(n - k - 1), p + k + 1);
        p += n + strspn(p + n, " ");
    }
}

static json_t *fault_json(const struct kx_client_fault *f)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "target", f->target, "rule", f->rule, "seen",
                          (json_int_t)f->seen, "fired", (json_int_t)f->fired);
    struct kx_fault_rule r;
    if (kx_fault_parse(f->target, f->rule, &r, NULL, 0) != STATUS_SUCCESS)
        return o; /* a rule this kx can't read: the words still tell */
    static const char *const triggers[] = {"irp", "every", "probability"};
    json_object_set_new(o, "trigger", json_string(triggers[r.trigger]));
    if (r.trigger == KX_FAULT_PROBABILITY)
        json_object_set_new(o, "probability", json_real(r.probability));
    else
        json_object_set_new(o, "n", json_integer((json_int_t)r.n));
    json_object_set_new(o, "action", json_string(kx_fault_action_name(r.action)));
    if (r.action == KX_FAULT_FAIL)
        json_object_set_new(o, "status", json_string(kx_status_name(r.status)));
    if (r.action == KX_FAULT_DELAY)
        json_object_set_new(o, "delay_ms", json_integer(r.delay_ms));
    char major[40];
    word_value(f->rule, "major", major, sizeof major);
    json_object_set_new(o, "major", major[0] ? json_string(major) : json_null());
    json_object_set_new(o, "seed", json_integer((json_int_t)r.seed));
    return o;
}

static int list(kx_client *c, int as_json)
{
    struct kx_client_fault *fs = NULL;
    size_t n = 0;
    kx_status st = kx_client_fault_list(c, &fs, &n);
    if (st != STATUS_SUCCESS) {
        kx_cli_report("kx fault", "--list", st, c);
        return KX_EXIT_FAIL;
    }
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, fault_json(&fs[i]));
        json_t *root = json_pack("{s:o}", "faults", arr);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%-24s %s seen=%llu fired=%llu\n", fs[i].target, fs[i].rule,
                   (unsigned long long)fs[i].seen, (unsigned long long)fs[i].fired);
    }
    kx_client_faults_free(fs, n);
    return KX_EXIT_OK;
}

static void add_word(char *words, size_t len, const char *key, const char *val)
{
    size_t n = strlen(words);
    snprintf(words + n, len - n, "%s%s=%s", n ? " " : "", key, val);
}

int kx_cmd_fault(int argc, char **argv)
{
    enum {
        OPT_SOCKET = 1000,
        OPT_IRP,
        OPT_EVERY,
        OPT_PROB,
        OPT_ACTION,
        OPT_MAJOR,
        OPT_SEED,
        OPT_LIST,
        OPT_CLEAR,
        OPT_JSON
    };
    static const struct option opts[] = {{"socket", required_argument, NULL, OPT_SOCKET},
                                         {"irp", required_argument, NULL, OPT_IRP},
                                         {"every", required_argument, NULL, OPT_EVERY},
                                         {"probability", required_argument, NULL, OPT_PROB},
                                         {"action", required_argument, NULL, OPT_ACTION},
                                         {"major", required_argument, NULL, OPT_MAJOR},
                                         {"seed", required_argument, NULL, OPT_SEED},
                                         {"list", no_argument, NULL, OPT_LIST},
                                         {"clear", no_argument, NULL, OPT_CLEAR},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *socket = NULL;
    char words[1024] = "";
    int do_list = 0, do_clear = 0, as_json = 0, n_words = 0;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        static const char *const keys[] = {"irp",    "every", "probability",
                                           "action", "major", "seed"};
        switch (c) {
        case OPT_SOCKET: socket = optarg; break;
        case OPT_IRP:
        case OPT_EVERY:
        case OPT_PROB:
        case OPT_ACTION:
        case OPT_MAJOR:
        case OPT_SEED:
            add_word(words, sizeof words, keys[c - OPT_IRP], optarg);
            n_words++;
            break;
        case OPT_LIST: do_list = 1; break;
        case OPT_CLEAR: do_clear = 1; break;
        case OPT_JSON: as_json = 1; break;
        case 'h': printf("%s", usage_text); return KX_EXIT_OK;
        default: fprintf(stderr, "%s", usage_text); return KX_EXIT_USAGE;
        }
    }
    int n_args = argc - optind;
    const char *target = n_args ? argv[optind] : NULL;
    if (do_list + do_clear > 1 || ((do_list || do_clear) && n_words) || (do_list && n_args) ||
        (do_clear && n_args > 1) || (as_json && !do_list) ||
        (!do_list && !do_clear && n_args != 1)) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    if (!do_list && !do_clear) {
        struct kx_fault_rule r;
        char why[512];
        if (kx_fault_parse(target, words, &r, why, sizeof why) != STATUS_SUCCESS) {
            fprintf(stderr, "kx fault: %s: %s\n", target, why);
            return KX_EXIT_USAGE;
        }
    }
    kx_client *c = kx_cli_connect("kx fault", socket);
    if (!c)
        return KX_EXIT_FAIL;
    int rc = KX_EXIT_OK;
    if (do_list) {
        rc = list(c, as_json);
    } else if (do_clear) {
        uint64_t n = 0;
        kx_status st = kx_client_fault_clear(c, target, &n);
        if (st != STATUS_SUCCESS) {
            kx_cli_report("kx fault", target ? target : "--clear", st, c);
            rc = KX_EXIT_FAIL;
        } else
            printf("%llu fault rule(s) cleared\n", (unsigned long long)n);
    } else {
        kx_status st = kx_client_fault_set(c, target, words);
        if (st != STATUS_SUCCESS) {
            kx_cli_report("kx fault", target, st, c);
            rc = KX_EXIT_FAIL;
        } else
            printf("%s: %s\n", target, kx_client_message(c));
    }
    kx_client_disconnect(c);
    return rc;
}
