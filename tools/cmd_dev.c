/* cmd_dev.c — device I/O from the shell: kx cat, kx write, kx ioctl, kx ls.
 *
 * Each verb opens the device through kxd, does its I/O and closes it. A
 * failure prints the STATUS_* name and exits 1; end of file is success.
 */
#include "cli.h"
#include "core/plat_user.h"
#include "verbs.h"

#include <kx/kernel.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK ((size_t)64 << 10)

enum { OPT_SOCKET = 1000, OPT_OFFSET, OPT_COUNT, OPT_TIMEOUT, OPT_OUT_LEN, OPT_JSON, OPT_HELP };

static const struct option common_opts[] = {{"socket", required_argument, NULL, OPT_SOCKET},
                                            {"offset", required_argument, NULL, OPT_OFFSET},
                                            {"count", required_argument, NULL, OPT_COUNT},
                                            {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                            {"out-len", required_argument, NULL, OPT_OUT_LEN},
                                            {"json", no_argument, NULL, OPT_JSON},
                                            {"help", no_argument, NULL, OPT_HELP},
                                            {NULL, 0, NULL, 0}};

struct dev_args {
    const char *socket;
    uint64_t offset, count, out_len;
    uint32_t timeout_ms;
    int has_count, as_json;
};

/* Parses the options every device verb shares; returns optind or -1. */
static int parse(int argc, char **argv, const char *usage, struct dev_args *a)
{
    uint64_t v;
    int c;
    memset(a, 0, sizeof *a);
    a->out_len = 4096;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", common_opts, NULL)) != -1) {
        switch (c) {
        case OPT_SOCKET: a->socket = optarg; break;
        case OPT_JSON: a->as_json = 1; break;
        case OPT_OFFSET:
        case OPT_COUNT:
        case OPT_TIMEOUT:
        case OPT_OUT_LEN:
            if (kx_cli_parse_u64(optarg, &v) != 0 || (c == OPT_TIMEOUT && v > UINT32_MAX)) {
                fprintf(stderr, "kx %s: bad number '%s'\n", argv[0], optarg);
                return -1;
            }
            if (c == OPT_OFFSET)
                a->offset = v;
            else if (c == OPT_COUNT)
                a->count = v, a->has_count = 1;
            else if (c == OPT_TIMEOUT)
                a->timeout_ms = (uint32_t)v;
            else
                a->out_len = v;
            break;
        case 'h':
        case OPT_HELP: printf("%s", usage); exit(0);
        default: fprintf(stderr, "%s", usage); return -1;
        }
    }
    return optind;
}

/* Checks the operands after the options (at least min, at most max, named
 * by `operands`, e.g. "DEVICE CODE [HEX]"); says what is wrong before the
 * usage. 0 when they fit. */
static int check_operands(const char *verb, const char *usage, char **rest, int n, int min, int max,
                          const char *operands)
{
    if (n >= min && n <= max)
        return 0;
    if (n < min)
        fprintf(stderr, "kx %s: missing operand: expects %s\n", verb, operands);
    else
        fprintf(stderr, "kx %s: unexpected argument '%s'%s\n", verb, rest[max],
                rest[max][0] == '-' ? " (options go before the operands)" : "");
    fprintf(stderr, "%s", usage);
    return -1;
}

static int open_dev(kx_client *c, const char *prog, const char *path, uint32_t access, uint32_t *h)
{
    kx_status st = kx_client_open(c, path, access, h);
    if (st != STATUS_SUCCESS) {
        kx_cli_report(prog, path, st, c);
        return -1;
    }
    return 0;
}

/* A read, write or control the driver refused: its reason (a disk's sector
 * size, say) is in the kernel log, which the status alone can't carry. */
static void report_io(const char *prog, const char *path, kx_status st, kx_client *c)
{
    kx_cli_report(prog, path, st, c);
    if (st == STATUS_INVALID_PARAMETER || st == STATUS_INVALID_DEVICE_REQUEST)
        fprintf(stderr, "%s: %s refused the request as given; kx log shows the driver's reason\n",
                prog, path);
}

int kx_cmd_cat(int argc, char **argv)
{
    static const char usage[] =
        "usage: kx cat [--offset N] [--count N] [--timeout MS] [--socket PATH] DEVICE\n"
        "Copies what the device returns to standard output until end of file or N bytes.\n";
    struct dev_args a;
    int i = parse(argc, argv, usage, &a);
    if (i < 0 || check_operands("cat", usage, argv + i, argc - i, 1, 1, "DEVICE") != 0)
        return KX_EXIT_USAGE;
    kx_client *c = kx_cli_connect("kx cat", a.socket);
    uint32_t h;
    if (!c || open_dev(c, "kx cat", argv[i], KX_ACCESS_READ, &h) != 0) {
        kx_client_disconnect(c);
        return KX_EXIT_FAIL;
    }
    char *buf = malloc(CHUNK);
    int rc = buf ? KX_EXIT_OK : KX_EXIT_FAIL;
    uint64_t done = 0, offset = a.offset;
    while (buf && (!a.has_count || done < a.count)) {
        size_t want = CHUNK, got = 0;
        if (a.has_count && a.count - done < want)
            want = (size_t)(a.count - done);
        kx_status st = kx_client_read(c, h, offset, buf, want, a.timeout_ms, &got);
        if (got) { /* flushed per chunk: a pipe's reader sees data as it arrives */
            fwrite(buf, 1, got, stdout);
            fflush(stdout);
        }
        done += got;
        offset += got;
        if (st == STATUS_END_OF_FILE)
            break;
        if (st != STATUS_SUCCESS) {
            fflush(stdout);
            report_io("kx cat", argv[i], st, c);
            rc = KX_EXIT_FAIL;
            break;
        }
        if (got == 0) /* success with nothing: the device has no more for now */
            break;
    }
    free(buf);
    fflush(stdout);
    kx_client_close(c, h);
    kx_client_disconnect(c);
    return rc;
}

/* Reads all of stdin into a malloc'ed buffer. */
static char *slurp_stdin(size_t *len)
{
    size_t cap = CHUNK, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    *len = n;
    return buf;
}

int kx_cmd_write(int argc, char **argv)
{
    static const char usage[] =
        "usage: kx write [--offset N] [--timeout MS] [--socket PATH] DEVICE [DATA]\n"
        "Writes DATA (or standard input) and prints the byte count the driver reported.\n";
    struct dev_args a;
    int i = parse(argc, argv, usage, &a);
    if (i < 0 || check_operands("write", usage, argv + i, argc - i, 1, 2, "DEVICE [DATA]") != 0)
        return KX_EXIT_USAGE;
    size_t len;
    char *data = argc - i == 2 ? strdup(argv[i + 1]) : slurp_stdin(&len);
    if (!data)
        return KX_EXIT_FAIL;
    if (argc - i == 2)
        len = strlen(data);
    kx_client *c = kx_cli_connect("kx write", a.socket);
    uint32_t h;
    if (!c || open_dev(c, "kx write", argv[i], KX_ACCESS_WRITE, &h) != 0) {
        free(data);
        kx_client_disconnect(c);
        return KX_EXIT_FAIL;
    }
    int rc = KX_EXIT_OK;
    uint64_t total = 0;
    size_t pos = 0;
    do { /* large inputs go as several WRITE IRPs at advancing offsets */
        size_t n = len - pos > KX_CLIENT_IO_MAX ? KX_CLIENT_IO_MAX : len - pos;
        uint64_t info = 0;
        kx_status st = kx_client_write(c, h, a.offset + pos, data + pos, n, a.timeout_ms, &info);
        if (st != STATUS_SUCCESS) {
            report_io("kx write", argv[i], st, c);
            rc = KX_EXIT_FAIL;
            break;
        }
        total += info;
        pos += n;
    } while (pos < len);
    if (rc == KX_EXIT_OK)
        printf("%llu\n", (unsigned long long)total);
    free(data);
    kx_client_close(c, h);
    kx_client_disconnect(c);
    return rc;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_hex(const char *hex, unsigned char **out, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2)
        return -1;
    *out = malloc(n / 2 + 1);
    if (!*out)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(*out);
            return -1;
        }
        (*out)[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

int kx_cmd_ioctl(int argc, char **argv)
{
    static const char usage[] =
        "usage: kx ioctl [--out-len N] [--timeout MS] [--socket PATH] DEVICE CODE [HEX]\n"
        "Sends a DEVICE_CONTROL request with HEX as input; prints the output buffer in hex.\n";
    struct dev_args a;
    int i = parse(argc, argv, usage, &a);
    uint64_t code;
    if (i < 0 || check_operands("ioctl", usage, argv + i, argc - i, 2, 3, "DEVICE CODE [HEX]") != 0)
        return KX_EXIT_USAGE;
    if (kx_cli_parse_u64(argv[i + 1], &code) != 0 || code > UINT32_MAX) {
        fprintf(stderr, "kx ioctl: bad control code '%s': a 32-bit number, decimal or 0x hex\n",
                argv[i + 1]);
        return KX_EXIT_USAGE;
    }
    if (a.out_len > KX_CLIENT_IO_MAX) {
        fprintf(stderr, "kx ioctl: --out-len %llu is over the most one request carries (%u)\n",
                (unsigned long long)a.out_len, (unsigned)KX_CLIENT_IO_MAX);
        return KX_EXIT_USAGE;
    }
    unsigned char *in = NULL;
    size_t in_len = 0;
    if (argc - i == 3 && parse_hex(argv[i + 2], &in, &in_len) != 0) {
        fprintf(stderr, "kx ioctl: bad input '%s': an even number of hex digits\n", argv[i + 2]);
        return KX_EXIT_USAGE;
    }
    unsigned char *out = malloc(a.out_len ? a.out_len : 1);
    kx_client *c = out ? kx_cli_connect("kx ioctl", a.socket) : NULL;
    uint32_t h;
    /* Open with exactly the access the control code declares (its bits 14-15,
     * CTL_CODE's layout), so FILE_ANY_ACCESS controls work on read-only devices. */
    uint32_t access = ((uint32_t)code >> 14) & (KX_ACCESS_READ | KX_ACCESS_WRITE);
    if (!c || open_dev(c, "kx ioctl", argv[i], access, &h) != 0) {
        free(in);
        free(out);
        kx_client_disconnect(c);
        return KX_EXIT_FAIL;
    }
    size_t got = 0;
    kx_status st =
        kx_client_ioctl(c, h, (uint32_t)code, in, in_len, out, a.out_len, a.timeout_ms, &got);
    int rc = KX_EXIT_OK;
    if (st != STATUS_SUCCESS) {
        report_io("kx ioctl", argv[i], st, c);
        rc = KX_EXIT_FAIL;
    } else {
        for (size_t k = 0; k < got; k++)
            printf("%02x", out[k]);
        putchar('\n');
    }
    free(in);
    free(out);
    kx_client_close(c, h);
    kx_client_disconnect(c);
    return rc;
}

int kx_cmd_ls(int argc, char **argv)
{
    static const char usage[] = "usage: kx ls [--json] [--socket PATH]\n"
                                "Lists kxd's symbolic links and devices, and the drivers\n"
                                "whose kx-host process died and that are restarting or stopped.\n";
    struct dev_args a;
    int i = parse(argc, argv, usage, &a);
    if (i < 0 || check_operands("ls", usage, argv + i, argc - i, 0, 0, "") != 0)
        return KX_EXIT_USAGE;
    kx_client *c = kx_cli_connect("kx ls", a.socket);
    if (!c)
        return KX_EXIT_FAIL;
    struct kx_client_object *objs;
    size_t n;
    kx_status st = kx_client_ls(c, &objs, &n);
    if (st != STATUS_SUCCESS) {
        kx_cli_report("kx ls", "listing", st, c);
        kx_client_disconnect(c);
        return KX_EXIT_FAIL;
    }
    /* Drivers without devices because their host died: from kextstat's list. */
    struct kx_client_kext *kexts = NULL;
    size_t n_kexts = 0;
    if (kx_client_stat(c, &kexts, &n_kexts) != STATUS_SUCCESS)
        n_kexts = 0;
    if (a.as_json) {
        json_t *links = json_array(), *devices = json_array(), *down = json_array();
        for (size_t k = 0; k < n_kexts; k++)
            if (kexts[k].host_state == KX_KERNEL_HOST_RESTARTING ||
                kexts[k].host_state == KX_KERNEL_HOST_STOPPED)
                json_array_append_new(
                    down,
                    json_pack(
                        "{s:s, s:s, s:I, s:s?}", "kext", kexts[k].id, "state",
                        kexts[k].host_state == KX_KERNEL_HOST_STOPPED ? "stopped" : "restarting",
                        (json_int_t)kexts[k].restarts, "note",
                        kexts[k].host_note && *kexts[k].host_note ? kexts[k].host_note : NULL));
        for (size_t k = 0; k < n; k++) {
            const struct kx_client_object *o = &objs[k];
            char mode[8];
            snprintf(mode, sizeof mode, "%04o", (unsigned)o->mode);
            if (o->is_device)
                json_array_append_new(
                    devices, json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:i}", "name", o->name,
                                       "driver", o->driver, "uid", (json_int_t)o->uid, "gid",
                                       (json_int_t)o->gid, "mode", mode, "handles",
                                       (json_int_t)o->handles, "host_pid", (int)o->host_pid));
            else
                json_array_append_new(
                    links, json_pack("{s:s, s:s}", "name", o->name, "target", o->target));
        }
        json_t *root =
            json_pack("{s:o, s:o, s:o}", "links", links, "devices", devices, "drivers_down", down);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    } else {
        for (size_t k = 0; k < n; k++) {
            const struct kx_client_object *o = &objs[k];
            if (!o->is_device)
                printf("%-24s -> %s\n", o->name, o->target);
        }
        for (size_t k = 0; k < n; k++) {
            const struct kx_client_object *o = &objs[k];
            char owner[160];
            if (!o->is_device)
                continue;
            kx_plat_owner_string(o->uid, o->gid, owner, sizeof owner);
            printf("%-24s %04o %-12s %-16s %u open", o->name, (unsigned)o->mode, owner, o->driver,
                   (unsigned)o->handles);
            if (o->host_pid)
                printf("  host %d", (int)o->host_pid);
            putchar('\n');
        }
        for (size_t k = 0; k < n_kexts; k++) {
            if (kexts[k].host_state == KX_KERNEL_HOST_STOPPED)
                printf("%-24s driver stopped: %s\n", kexts[k].id,
                       kexts[k].host_note && *kexts[k].host_note ? kexts[k].host_note
                                                                 : "its host died");
            else if (kexts[k].host_state == KX_KERNEL_HOST_RESTARTING)
                printf("%-24s driver restarting (its host died)\n", kexts[k].id);
        }
    }
    kx_client_kexts_free(kexts, n_kexts);
    kx_client_objects_free(objs, n);
    kx_client_disconnect(c);
    return KX_EXIT_OK;
}
