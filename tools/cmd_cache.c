/* cmd_cache.c — `kx cache` (alias kextcache): build, list and verify mkext kext caches.
 *
 * `build` writes the boot cache for extensions folders (kx_cache_build: the
 * kexts a filter selects, invalid ones left out with Apple's "is not valid;
 * omitting from mkext" and the reason, kx's validity data, the mtime Apple's
 * rule expects). `list` shows what an archive holds and is meant for any
 * archive, so it accepts other CPUs' caches; `verify` answers "would kx boot
 * from this?", so it demands this machine's CPU type and every entry intact.
 * Exit codes: 0 all good (for build: written, even with kexts left out), 1
 * the archive (or for verify, an entry) is bad, or build failed, 2 usage or
 * I/O errors (the file cannot be read at all).
 *
 * As kextcache with Apple's flags (the first argument a flag, not a
 * subcommand): `-m FILE DIR...` builds an mkext (-mkext, -mkext2 too), with
 * -l / -n / -s choosing the local-root, network-root or safe-boot filter, -z
 * skipping authentication and -a ARCH; `-u DIR` and `-system-caches` rebuild
 * the cache kxd boots from, <DIR>.mkext (for -system-caches, of the default
 * extensions folder) — kx's counterpart of Apple's volume and system caches.
 */
#include "cli.h"
#include "verbs.h"

#include "core/json.h"

#include "kext/mkext.h"

#include <kx/boot.h>
#include <kx/kext.h>

#include <getopt.h>
#include <jansson.h>
#include <plist/plist.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: kx cache list FILE [--json]     kexts and header of an mkext archive\n"
                 "       kx cache verify FILE [--json]   check header, checksum and every kext\n"
                 "       kx cache build -o FILE [--all|--local|--network|--safe] [--no-auth]\n"
                 "                      [--no-exec] [--arch ARCH] [--json] DIR...\n"
                 "                                       write the boot cache for extensions folders\n"
                 "       kextcache -m FILE [-l|-n|-s] [-z] [-a ARCH] DIR...   (Apple's flags)\n"
                 "       kextcache -u DIR | -system-caches   rebuild <DIR>.mkext, the cache kxd reads\n"
                 "Exit status: 0 good, 1 bad archive or kext, 2 usage or I/O error.\n");
}

static int exit_for(kx_status st)
{
    return st == STATUS_DATA_ERROR || st == STATUS_NOT_SUPPORTED ? 1 : 2;
}

/* ======== JSON ======== */

/* Strings from an archive need not be UTF-8; jansson refuses those, and a
 * refused field must not lose the whole record. */
static json_t *jstr(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}

static void set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v);
}

static json_t *header_json(const struct kx_mkext *m)
{
    const struct kx_mkext_header *h = &m->header;
    json_t *o = json_object();
    set(o, "magic", json_integer(h->magic));
    set(o, "signature", json_integer(h->signature));
    set(o, "length", json_integer(h->length));
    set(o, "adler32", json_integer(h->adler32));
    set(o, "version", json_integer(h->version));
    set(o, "n_kexts", json_integer(h->n_kexts));
    set(o, "cpu_type", json_integer(h->cpu_type));
    set(o, "cpu", json_string(kx_mkext_cpu_name(h->cpu_type)));
    set(o, "cpu_subtype", json_integer(h->cpu_subtype));
    if (m->format == 2) {
        set(o, "plist_offset", json_integer(h->plist_offset));
        set(o, "plist_compressed_size", json_integer(h->plist_compressed_size));
        set(o, "plist_full_size", json_integer(h->plist_full_size));
    }
    return o;
}

static json_t *entry_json(const struct kx_mkext_entry *e, size_t idx)
{
    json_t *o = json_object();
    set(o, "index", json_integer((json_int_t)idx));
    set(o, "bundle_id", jstr(e->bundle_id));
    set(o, "version", jstr(e->bundle_version));
    set(o, "bundle_path", jstr(e->bundle_path));
    set(o, "executable_path", jstr(e->executable_path));
    set(o, "has_executable", json_boolean(e->has_executable));
    set(o, "executable_size", json_integer((json_int_t)e->executable_len));
    set(o, "executable_stored_size", json_integer(e->executable_stored_len));
    set(o, "executable_compressed", json_boolean(e->executable_compressed));
    set(o, "executable_sha256_checked", json_boolean(e->executable_sha256_checked));
    set(o, "info_plist_sha256", jstr(e->info_plist_sha256));
    set(o, "status", json_string(kx_status_name(e->status)));
    set(o, "message", jstr(e->message));
    return o;
}

static json_t *entries_json(const struct kx_mkext *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->n_entries; i++)
        json_array_append_new(a, entry_json(&m->entries[i], i));
    return a;
}

/* The fields every `kx cache` JSON report starts with. */
static json_t *report(const char *file, int ok)
{
    json_t *o = json_object();
    set(o, "file", jstr(file));
    set(o, "ok", json_boolean(ok));
    return o;
}

static void print_json(json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(o);
}

/* ======== Text ======== */

static void print_header(const char *file, const struct kx_mkext *m)
{
    const struct kx_mkext_header *h = &m->header;
    printf("%s: mkext%d (version 0x%08x), %zu kext%s, %s (cputype 0x%08x, subtype %u), "
           "%u bytes, adler32 0x%08x\n",
           file, m->format, h->version, m->n_entries, m->n_entries == 1 ? "" : "s",
           kx_mkext_cpu_name(h->cpu_type), h->cpu_type, h->cpu_subtype, h->length, h->adler32);
    if (m->format == 2)
        printf("plist at %u, %u bytes (%s)\n", h->plist_offset, h->plist_full_size,
               h->plist_compressed_size ? "compressed" : "stored");
}

static void print_entries(const struct kx_mkext *m)
{
    printf("%-40s %-14s %10s  %-6s %s\n", "Bundle ID", "Version", "Executable", "Status",
           "Bundle path");
    for (size_t i = 0; i < m->n_entries; i++) {
        const struct kx_mkext_entry *e = &m->entries[i];
        char size[24];
        if (e->has_executable && e->status == STATUS_SUCCESS)
            snprintf(size, sizeof size, "%zu", e->executable_len);
        else
            snprintf(size, sizeof size, "%s", e->has_executable ? "?" : "-");
        printf("%-40s %-14s %10s  %-6s %s\n", e->bundle_id ? e->bundle_id : "(none)",
               e->bundle_version ? e->bundle_version : "(none)", size,
               e->status == STATUS_SUCCESS ? "ok" : "bad", e->bundle_path ? e->bundle_path : "-");
        if (e->message)
            printf("    %s\n", e->message);
    }
}

/* ======== Subcommands ======== */

static int archive_error(const char *file, kx_status st, const char *why, int as_json)
{
    if (as_json) {
        json_t *o = report(file, 0);
        set(o, "status", json_string(kx_status_name(st)));
        set(o, "error", jstr(why));
        print_json(o);
    } else {
        fprintf(stderr, "kx cache: %s: %s\n", file, why);
    }
    return exit_for(st);
}

static int cmd_list(const char *file, int as_json)
{
    struct kx_mkext *m = NULL;
    char why[512] = "";
    kx_status st = kx_mkext_read_file(file, KX_MKEXT_READ_ANY_CPU, &m, why, sizeof why);
    if (st != STATUS_SUCCESS)
        return archive_error(file, st, why, as_json);
    if (as_json) {
        json_t *o = report(file, 1);
        set(o, "format", json_string(m->format == 1 ? "mkext1" : "mkext2"));
        set(o, "header", header_json(m));
        set(o, "cache_info", kx_json_plist(m->cache_info));
        set(o, "entries", entries_json(m));
        print_json(o);
    } else {
        print_header(file, m);
        print_entries(m);
    }
    kx_mkext_free(m);
    return 0;
}

static int cmd_verify(const char *file, int as_json)
{
    struct kx_mkext *m = NULL;
    char why[512] = "";
    kx_status st = kx_mkext_read_file(file, 0, &m, why, sizeof why);
    if (st != STATUS_SUCCESS)
        return archive_error(file, st, why, as_json);
    const struct kx_mkext_entry *first_bad = NULL;
    for (size_t i = 0; i < m->n_entries && !first_bad; i++)
        if (m->entries[i].status != STATUS_SUCCESS)
            first_bad = &m->entries[i];
    /* kx's own caches also carry a boot index, which a boot reads instead of the plist */
    char index_why[512] = "";
    kx_status ix = first_bad ? STATUS_NOT_SUPPORTED
                             : kx_cache_verify_index(file, NULL, index_why, sizeof index_why);
    int index_bad = ix != STATUS_SUCCESS && ix != STATUS_NOT_SUPPORTED;
    if (as_json) {
        json_t *o = report(file, !first_bad && !index_bad);
        set(o, "format", json_string(m->format == 1 ? "mkext1" : "mkext2"));
        set(o, "n_kexts", json_integer((json_int_t)m->n_entries));
        set(o, "n_bad", json_integer((json_int_t)m->n_bad));
        set(o, "first_bad", jstr(first_bad ? first_bad->message : NULL));
        set(o, "boot_index", ix == STATUS_SUCCESS         ? json_string("ok")
                             : ix == STATUS_NOT_SUPPORTED ? json_null()
                                                          : jstr(index_why));
        set(o, "entries", entries_json(m));
        print_json(o);
    } else if (first_bad) {
        fprintf(stderr, "kx cache: %s: %zu of %zu kexts failed verification; first: %s\n", file,
                m->n_bad, m->n_entries, first_bad->message);
    } else if (index_bad) {
        fprintf(stderr, "kx cache: %s: %s\n", file, index_why);
    } else {
        printf("%s: ok (mkext%d, %zu kext%s%s)\n", file, m->format, m->n_entries,
               m->n_entries == 1 ? "" : "s", ix == STATUS_SUCCESS ? ", kx boot index" : "");
    }
    kx_mkext_free(m);
    return first_bad || index_bad ? 1 : 0;
}

/* ======== build ======== */

#define MAX_FOLDERS 64

static int cmd_build(int argc, char **argv)
{
    enum { OPT_ALL = 1000, OPT_LOCAL, OPT_NETWORK, OPT_SAFE, OPT_NO_AUTH, OPT_NO_EXEC, OPT_ARCH,
           OPT_JSON };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"all", no_argument, NULL, OPT_ALL},
        {"local", no_argument, NULL, OPT_LOCAL},  {"network", no_argument, NULL, OPT_NETWORK},
        {"safe", no_argument, NULL, OPT_SAFE},    {"no-auth", no_argument, NULL, OPT_NO_AUTH},
        {"no-exec", no_argument, NULL, OPT_NO_EXEC}, {"arch", required_argument, NULL, OPT_ARCH},
        {"json", no_argument, NULL, OPT_JSON},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct kx_kext_options kopts = KX_KEXT_OPTIONS_INIT;
    enum kx_cache_filter filter = KX_CACHE_ALL;
    const char *out = NULL, *folders[MAX_FOLDERS];
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_ALL: filter = KX_CACHE_ALL; break;
        case OPT_LOCAL: filter = KX_CACHE_LOCAL; break;
        case OPT_NETWORK: filter = KX_CACHE_NETWORK; break;
        case OPT_SAFE: filter = KX_CACHE_SAFE; break;
        case OPT_NO_AUTH: kopts.flags |= KX_KEXT_NO_AUTH; break;
        case OPT_NO_EXEC: kopts.flags |= KX_KEXT_NO_EXEC; break;
        case OPT_ARCH: kopts.arch = optarg; break;
        case OPT_JSON: as_json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    size_t n_folders = (size_t)(argc - optind);
    if (!out || n_folders == 0 || n_folders > MAX_FOLDERS) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < n_folders; i++)
        folders[i] = argv[optind + (int)i];

    struct kx_cache_build_report rep = KX_CACHE_BUILD_REPORT_INIT;
    char why[1024] = "";
    kx_status st = kx_cache_build(out, folders, n_folders, filter, &kopts, &rep, why, sizeof why);
    int rc = st == STATUS_SUCCESS                                          ? 0
             : st == STATUS_INSUFFICIENT_RESOURCES || st == STATUS_DEVICE_BUSY ||
                       st == STATUS_INVALID_PARAMETER
                 ? 1
                 : 2;
    if (as_json) {
        json_t *o = report(out, st == STATUS_SUCCESS);
        set(o, "filter", json_string(kx_cache_filter_name(filter)));
        set(o, "status", json_string(kx_status_name(st)));
        set(o, "error", st == STATUS_SUCCESS ? json_null() : jstr(why));
        set(o, "n_archived", json_integer((json_int_t)rep.n_archived));
        set(o, "n_filtered", json_integer((json_int_t)rep.n_filtered));
        set(o, "bytes", json_integer((json_int_t)rep.archive_len));
        json_t *om = kx_diags_to_json(&rep.omitted);
        set(o, "omitted", om ? om : json_array());
        print_json(o);
    } else {
        for (size_t i = 0; i < rep.omitted.n_items; i++)
            fprintf(stderr, "kx cache: %s is not valid; omitting from mkext: %s\n",
                    rep.omitted.items[i].file, rep.omitted.items[i].detail);
        if (st == STATUS_SUCCESS)
            printf("%s: %zu kext%s (%zu left out by --%s, %zu invalid), %zu bytes\n", out,
                   rep.n_archived, rep.n_archived == 1 ? "" : "s", rep.n_filtered,
                   kx_cache_filter_name(filter), rep.omitted.n_items, rep.archive_len);
        else
            fprintf(stderr, "kx cache: build %s: %s\n", out, why);
    }
    kx_cache_build_report_clear(&rep);
    return rc;
}

/* kextcache's own flags, turned into a `build` command line. */
static int kextcache_flags(int argc, char **argv)
{
    const char *bargv[MAX_FOLDERS + 16];
    int n = 0, rc;
    char *default_out = NULL;
    const char *out = NULL, *filter = "--all", *arch = NULL, *update = NULL;
    int no_auth = 0, system_caches = 0;
    const char *dirs[MAX_FOLDERS];
    size_t n_dirs = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(s, "-m") || !strcmp(s, "-mkext") || !strcmp(s, "-mkext2")) && next)
            out = argv[++i];
        else if (!strcmp(s, "-l") || !strcmp(s, "-local-root"))
            filter = "--local";
        else if (!strcmp(s, "-n") || !strcmp(s, "-network-root"))
            filter = "--network";
        else if (!strcmp(s, "-s") || !strcmp(s, "-safe-boot"))
            filter = "--safe";
        else if (!strcmp(s, "-z") || !strcmp(s, "-no-authentication"))
            no_auth = 1;
        else if ((!strcmp(s, "-a") || !strcmp(s, "-arch")) && next)
            arch = argv[++i];
        else if ((!strcmp(s, "-u") || !strcmp(s, "-update-volume")) && next)
            update = argv[++i];
        else if (!strcmp(s, "-system-caches"))
            system_caches = 1;
        else if (!strcmp(s, "-q") || !strcmp(s, "-quiet") || !strcmp(s, "-v"))
            continue; /* kx's build report is one line either way */
        else if (s[0] != '-' && n_dirs < MAX_FOLDERS)
            dirs[n_dirs++] = s;
        else {
            fprintf(stderr, "kextcache: unknown or incomplete option %s\n", s);
            usage(stderr);
            return KX_EXIT_USAGE;
        }
    }
#ifdef KX_DEFAULT_EXTENSIONS
    if (system_caches && n_dirs == 0)
        dirs[n_dirs++] = KX_DEFAULT_EXTENSIONS;
#endif
    if (update && n_dirs < MAX_FOLDERS)
        dirs[n_dirs++] = update;
    if ((update || system_caches) && !out && n_dirs &&
        asprintf(&default_out, "%s.mkext", dirs[0]) > 0) /* the cache kxd reads */
        out = default_out;
    if (!out || n_dirs == 0) {
        usage(stderr);
        free(default_out);
        return KX_EXIT_USAGE;
    }
    bargv[n++] = "build";
    bargv[n++] = "-o";
    bargv[n++] = out;
    bargv[n++] = filter;
    if (no_auth)
        bargv[n++] = "--no-auth";
    if (arch) {
        bargv[n++] = "--arch";
        bargv[n++] = arch;
    }
    for (size_t i = 0; i < n_dirs; i++)
        bargv[n++] = dirs[i];
    bargv[n] = NULL;
    rc = cmd_build(n, (char **)bargv);
    free(default_out);
    return rc;
}

int kx_cmd_cache(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (sub[0] == '-' && sub[1] != '-')
        return kextcache_flags(argc, argv);
    if (strcmp(sub, "build") == 0)
        return cmd_build(argc - 1, argv + 1);
    if (strcmp(sub, "list") != 0 && strcmp(sub, "verify") != 0) {
        fprintf(stderr, "kx cache: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': as_json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - 1 - optind != 1) {
        usage(stderr);
        return 2;
    }
    const char *file = argv[1 + optind];
    return strcmp(sub, "list") == 0 ? cmd_list(file, as_json) : cmd_verify(file, as_json);
}
