/* bench_boot.c — planning a boot of 1,000 generated kexts from the kext cache and
 * from a folder scan, in the same run.
 *
 * The kexts are real bundles in a temporary folder: 150 libraries and 850
 * drivers, each with an Info.plist and a small ELF executable whose
 * driver-info record carries its own load priority; libraries depend on up
 * to two earlier libraries, drivers on up to three; OSBundleRequired values
 * are spread as on a real system (most kexts have none). Drivers carry one
 * or two IOKit personalities, which makes the Info.plists about the size of
 * real ones (the median of the 160 in the shared corpus is 2,051 bytes);
 * the executables are far smaller than real ones (5 KB), which favours the
 * scan. Generation uses a fixed seed, so every run plans the same boot.
 * Authentication is on (the current user is trusted), as at a real boot.
 *
 * Timed, as the median of REPS alternating runs after one warm-up each (the
 * page cache is warm for both, so the comparison is of work, not disk):
 *   plan       kx_boot_plan_make: find (folder listing or cache read and
 *              validity check), read (bundles or archive), resolve and order
 *              both phases — the "planning phase";
 *   plan+exec  the plan, then every executable of both phases in memory
 *              (from the archive, decompressed and SHA-256-checked, or read
 *              from its file): what a loader needs before dlopen.
 *   boot       a whole boot: kx_kernel_new (the plan) and kx_kernel_boot (both
 *              phases: link check, dlopen and start of every kext, from
 *              memfds when the cache was used); teardown is not timed.
 * Aim: planning from the cache at least 5x faster than from the scan.
 */
#include <kx/boot.h>
#include <kx/kernel.h>
#include <kx/kext.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_KEXTS 1000
#define N_LIBS  150
#define SEED    7u
#define REPS    7
#define BOOT_REPS 3
#define AIM     5.0

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t next_rand(uint32_t *s) /* xorshift: the same on every platform */
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static int die(const char *what)
{
    fprintf(stderr, "bench_boot: %s\n", what);
    exit(1);
}

/* ---- Generating the kexts ---- */

static void *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const void *data, size_t len, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die("can't write the generated kexts");
    chmod(path, mode);
}

/* The driver-info record inside the executable: magic "KXDR", ABI 1. */
static unsigned char *find_record(unsigned char *exe, size_t len)
{
    for (size_t i = 0; i + 160 <= len; i++)
        if (memcmp(exe + i, "KXDR", 4) == 0 && exe[i + 4] == 1 && exe[i + 5] == 0)
            return exe + i;
    return NULL;
}

static const char *pick_required(uint32_t *rng, int is_lib)
{
    uint32_t r = next_rand(rng) % 100;
    if (is_lib)
        return r < 20 ? "Root" : NULL;
    return r < 8    ? "Root"
           : r < 16 ? "Local-Root"
           : r < 20 ? "Console"
           : r < 25 ? "Network-Root"
           : r < 30 ? "Safe Boot"
                    : NULL;
}

static void generate(const char *dir, unsigned char *exe, size_t exe_len)
{
    unsigned char *rec = find_record(exe, exe_len);
    uint32_t rng = SEED;
    char path[1024], plist[8192], libs[1024], pers[4096];
    if (!rec)
        die("the fixture executable has no driver-info record");
    for (size_t i = 0; i < N_KEXTS; i++) {
        int is_lib = i < N_LIBS;
        size_t n_deps = is_lib ? (i ? next_rand(&rng) % 3 : 0) : next_rand(&rng) % 4;
        const char *req = pick_required(&rng, is_lib);
        int32_t prio = (int32_t)(100 * (1 + next_rand(&rng) % 9));
        char name[32], id[64];
        snprintf(name, sizeof name, "%s%03zu", is_lib ? "Lib" : "Drv", i);
        snprintf(id, sizeof id, "com.bench.boot.%s%zu", is_lib ? "lib" : "drv", i);
        int off = snprintf(libs, sizeof libs, "<key>org.kx.kpi.kmdf</key><string>1.0</string>");
        for (size_t d = 0; d < n_deps && i > 0; d++) {
            size_t lib = next_rand(&rng) % (is_lib ? i : N_LIBS);
            off += snprintf(libs + off, sizeof libs - (size_t)off,
                            "<key>com.bench.boot.lib%zu</key><string>1.0</string>", lib);
        }
        int poff = 0;
        size_t n_pers = is_lib ? 0 : 1 + next_rand(&rng) % 2;
        for (size_t k = 0; k < n_pers; k++)
            poff += snprintf(
                pers + poff, sizeof pers - (size_t)poff,
                "\t\t<key>%s %s</key>\n\t\t<dict>\n"
                "\t\t\t<key>CFBundleIdentifier</key><string>%s</string>\n"
                "\t\t\t<key>IOClass</key><string>Bench%sDriver</string>\n"
                "\t\t\t<key>IOMatchCategory</key><string>Bench%sDriver</string>\n"
                "\t\t\t<key>IOPCIMatch</key><string>0x%04x8086 0x%04x10de</string>\n"
                "\t\t\t<key>IOProbeScore</key><integer>%u</integer>\n"
                "\t\t\t<key>IOProviderClass</key><string>%s</string>\n"
                "\t\t\t<key>Properties</key>\n\t\t\t<dict>\n"
                "\t\t\t\t<key>Features</key><array><string>dma</string><string>msi</string>"
                "<string>power-management</string></array>\n"
                "\t\t\t\t<key>MaxUnits</key><integer>%u</integer>\n"
                "\t\t\t\t<key>Model</key><string>Bench device %zu, function %zu</string>\n"
                "\t\t\t</dict>\n\t\t</dict>\n",
                name, k ? "USB" : "PCI", id, name, name, (unsigned)(i * 7 + k) & 0xffffu,
                (unsigned)(i * 13 + k) & 0xffffu, 1000u + (unsigned)k * 100u,
                k ? "IOUSBHostInterface" : "IOPCIDevice", 1u + (unsigned)(i % 8), i, k);
        int len = snprintf(
            plist, sizeof plist,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
            "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
            "<plist version=\"1.0\">\n<dict>\n"
            "\t<key>CFBundleDevelopmentRegion</key><string>English</string>\n"
            "\t<key>CFBundleExecutable</key><string>%s</string>\n"
            "\t<key>CFBundleIdentifier</key><string>%s</string>\n"
            "\t<key>CFBundleInfoDictionaryVersion</key><string>6.0</string>\n"
            "\t<key>CFBundleName</key><string>%s</string>\n"
            "\t<key>CFBundlePackageType</key><string>KEXT</string>\n"
            "\t<key>CFBundleShortVersionString</key><string>1.0.0</string>\n"
            "\t<key>CFBundleSignature</key><string>?\?\?\?</string>\n"
            "\t<key>CFBundleVersion</key><string>1.0.0</string>\n"
            "%s%s%s%s%s%s"
            "\t<key>NSHumanReadableCopyright</key><string>Copyright 2026 The "
            "kx benchmark. All rights reserved.</string>\n"
            "\t<key>OSBundleLibraries</key><dict>%s</dict>\n"
            "%s%s%s"
            "</dict>\n</plist>\n",
            name, id, name, n_pers ? "\t<key>IOKitPersonalities</key>\n\t<dict>\n" : "",
            n_pers ? pers : "", n_pers ? "\t</dict>\n" : "",
            is_lib ? "\t<key>OSBundleCompatibleVersion</key><string>" : "", is_lib ? "1.0" : "",
            is_lib ? "</string>\n" : "", libs, req ? "\t<key>OSBundleRequired</key><string>" : "",
            req ? req : "", req ? "</string>\n" : "");
        snprintf(path, sizeof path, "%s/%s.kext/Contents/Linux", dir, name);
        char *slash = path + strlen(dir);
        for (char *s = slash + 1; *s; s++)
            if (*s == '/') {
                *s = '\0';
                mkdir(path, 0755);
                *s = '/';
            }
        mkdir(path, 0755);
        memcpy(rec + 16, &prio, sizeof prio);
        snprintf(path, sizeof path, "%s/%s.kext/Contents/Linux/%s", dir, name, name);
        write_all(path, exe, exe_len, 0755);
        snprintf(path, sizeof path, "%s/%s.kext/Contents/Info.plist", dir, name);
        write_all(path, plist, (size_t)len, 0644);
    }
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* ---- Timing ---- */

struct run {
    double plan_ms, exec_ms;
    size_t n1, n2, source;
};

static struct kx_kext_options options(void)
{
    struct kx_kext_options o = KX_KEXT_OPTIONS_INIT;
    o.trusted_uid = getuid();
    o.trusted_gid = getgid();
    return o;
}

/* One plan; with_exec also brings every executable of both phases into memory. */
static struct run plan_once(const struct kx_boot_config *cfg, unsigned char **ids, size_t *ids_len)
{
    struct kx_kext_options o = options();
    struct kx_kext_repo *r = NULL;
    struct kx_boot_plan *p = NULL;
    struct run run = {0, 0, 0, 0, 0};
    uint64_t t0 = now_ns();
    if (kx_kext_repo_new(&o, &r) != STATUS_SUCCESS ||
        kx_boot_plan_make(cfg, r, &p) != STATUS_SUCCESS)
        die("kx_boot_plan_make failed");
    uint64_t t1 = now_ns();
    size_t bytes = 0;
    for (int list = KX_BOOT_PHASE1; list <= KX_BOOT_PHASE2; list++)
        for (size_t i = 0; i < kx_boot_plan_count(p, (enum kx_boot_list)list); i++) {
            const struct kx_boot_item *b = kx_boot_plan_item(p, (enum kx_boot_list)list, i);
            const void *data = NULL;
            size_t len = 0;
            if (kx_boot_plan_executable(p, b->kext, &data, &len, NULL, 0) == STATUS_SUCCESS) {
                bytes += len;
            } else if (kx_kext_executable(b->kext)) {
                void *file = read_all(kx_kext_executable(b->kext), &len);
                bytes += file ? len : 0;
                free(file);
            }
        }
    uint64_t t2 = now_ns();
    run.plan_ms = (double)(t1 - t0) / 1e6;
    run.exec_ms = (double)(t2 - t0) / 1e6;
    run.n1 = kx_boot_plan_count(p, KX_BOOT_PHASE1);
    run.n2 = kx_boot_plan_count(p, KX_BOOT_PHASE2);
    run.source = kx_boot_plan_source(p);
    if (ids) { /* the order of both phases, to check that cache and scan agree */
        size_t n = 0;
        char *s = NULL;
        FILE *f = open_memstream(&s, &n);
        for (int list = KX_BOOT_PHASE1; f && list <= KX_BOOT_PHASE2; list++)
            for (size_t i = 0; i < kx_boot_plan_count(p, (enum kx_boot_list)list); i++)
                fprintf(f, "%d %s\n", list, kx_boot_plan_item(p, (enum kx_boot_list)list, i)->path);
        if (!f || fclose(f) != 0)
            die("out of memory");
        *ids = (unsigned char *)s;
        *ids_len = n;
    }
    (void)bytes;
    kx_boot_plan_free(p);
    kx_kext_repo_free(r);
    return run;
}

/* A whole boot in a fresh kernel; returns its milliseconds and how many
 * kexts it loaded. */
static double boot_once(const struct kx_boot_config *cfg, size_t *n_loaded)
{
    /* The kernel trusts root only; the bench's files belong to whoever runs
     * it, so it boots without authentication (a cache built with it still
     * qualifies). */
    struct kx_kernel_config kc = {sizeof kc, NULL, cfg->folders, cfg->n_folders, 1, NULL,
                                  cfg->mode, cfg->cache_path, cfg->flags, 0};
    struct kx_kernel *k = NULL;
    uint64_t t0 = now_ns();
    if (kx_kernel_new(&kc, &k) != STATUS_SUCCESS)
        die("kx_kernel_new failed");
    kx_kernel_boot(k, 0, NULL);
    double ms = (double)(now_ns() - t0) / 1e6;
    struct kx_kernel_kext_stat *st = NULL;
    size_t n = 0;
    if (kx_kernel_stat(k, &st, &n) == STATUS_SUCCESS)
        *n_loaded = n;
    kx_kernel_stat_free(st, n);
    kx_kernel_free(k);
    return ms;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, compare_double);
    return v[n / 2];
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], ext[600], cache[640];
    size_t exe_len = 0;
    unsigned char *exe = read_all(BENCH_BOOT_DRIVER, &exe_len);
    if (!exe)
        die("can't read the fixture executable " BENCH_BOOT_DRIVER);
    snprintf(dir, sizeof dir, "%s/kx-bench-boot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        die("mkdtemp failed");
    snprintf(ext, sizeof ext, "%s/Extensions", dir);
    snprintf(cache, sizeof cache, "%s/Extensions.mkext", dir);
    mkdir(ext, 0755);
    generate(ext, exe, exe_len);
    free(exe);

    struct kx_kext_options o = options();
    struct kx_cache_build_report rep = KX_CACHE_BUILD_REPORT_INIT;
    const char *folders[] = {ext};
    char why[512] = "";
    uint64_t t0 = now_ns();
    if (kx_cache_build(cache, folders, 1, KX_CACHE_ALL, &o, &rep, why, sizeof why) !=
        STATUS_SUCCESS)
        die(why);
    double build_ms = (double)(now_ns() - t0) / 1e6;

    struct kx_boot_config from_cache = {KX_BOOT_LOCAL, folders, 1, cache, 0};
    struct kx_boot_config from_scan = {KX_BOOT_LOCAL, folders, 1, cache, KX_BOOT_NO_CACHE};
    unsigned char *order_cache = NULL, *order_scan = NULL;
    size_t len_cache = 0, len_scan = 0;
    struct run warm_c = plan_once(&from_cache, &order_cache, &len_cache);
    struct run warm_s = plan_once(&from_scan, &order_scan, &len_scan);
    if (warm_c.source != KX_BOOT_FROM_CACHE || warm_s.source != KX_BOOT_FROM_SCAN)
        die("the cache was not used");
    if (len_cache != len_scan || memcmp(order_cache, order_scan, len_cache) != 0)
        die("the plans from the cache and from the scan differ");
    free(order_cache);
    free(order_scan);

    double plan_c[REPS], plan_s[REPS], exec_c[REPS], exec_s[REPS], check[REPS];
    for (int i = 0; i < REPS; i++) {
        struct run c = plan_once(&from_cache, NULL, NULL);
        struct run s = plan_once(&from_scan, NULL, NULL);
        enum kx_cache_verdict v;
        uint64_t c0 = now_ns();
        kx_cache_check(&from_cache, &o, &v, NULL, 0);
        check[i] = (double)(now_ns() - c0) / 1e6;
        plan_c[i] = c.plan_ms;
        plan_s[i] = s.plan_ms;
        exec_c[i] = c.exec_ms;
        exec_s[i] = s.exec_ms;
    }
    double boot_c[BOOT_REPS], boot_s[BOOT_REPS];
    size_t loaded_c = 0, loaded_s = 0;
    for (int i = 0; i < BOOT_REPS; i++) {
        boot_c[i] = boot_once(&from_cache, &loaded_c);
        boot_s[i] = boot_once(&from_scan, &loaded_s);
    }
    if (loaded_c != loaded_s)
        die("booting from the cache and from the scan loaded different kexts");
    double bc = median(boot_c, BOOT_REPS), bs = median(boot_s, BOOT_REPS);
    double pc = median(plan_c, REPS), ps = median(plan_s, REPS);
    double ec = median(exec_c, REPS), es = median(exec_s, REPS);
    printf("boot planning: %d generated kexts (%d libraries), seed %u, median of %d runs\n",
           N_KEXTS, N_LIBS, SEED, REPS);
    printf("  phase 1: %zu kexts, phase 2: %zu kexts; cache %zu bytes, built in %.1f ms\n",
           warm_c.n1, warm_c.n2, rep.archive_len, build_ms);
    printf("  %-34s %10s %10s %10s\n", "", "cache ms", "scan ms", "scan/cache");
    printf("  %-34s %10.2f %10.2f %9.1fx\n", "plan (find, read, resolve, order)", pc, ps, ps / pc);
    printf("  %-34s %10.2f %10.2f %9.1fx\n", "plan + every executable in memory", ec, es, es / ec);
    printf("  %-34s %10.2f %10.2f %9.1fx   (%zu kexts loaded, median of %d)\n",
           "whole boot (plan + load + start)", bc, bs, bs / bc, loaded_c, BOOT_REPS);
    printf("  the cache check alone (read, Adler-32, boot index, stat digest): %.2f ms\n",
           median(check, REPS));
    printf("  aim: planning from the cache >= %.0fx faster: %s\n", AIM,
           ps / pc >= AIM ? "met" : "NOT met");
    kx_cache_build_report_clear(&rep);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
