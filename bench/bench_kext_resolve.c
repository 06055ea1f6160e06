/* bench_kext_resolve.c — how resolution scales: a generated repository of 1k, 10k and
 * 100k kexts (three versions per identifier, a random DAG of libraries, fixed seed),
 * timed for building the repository, resolving every kext at once
 * (kx_kext_repo_resolve_all) and full per-kext resolutions with load order and
 * explanations (kx_kext_resolve) on a sample. Each size runs in its own process, so
 * the peak RSS reported is that size's own. Target: 10k kexts resolved in < 50 ms,
 * with growth close to linear (x10 per x10 kexts).
 *
 * Kexts are built from libplist dictionaries in memory (the same validation as a
 * bundle's Info.plist, without the file system, which this benchmark isn't about).
 */
#include "kext/kext_int.h"

#include <kx/kext.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEED 42u
#define VERSIONS 3       /* per identifier: 1.0 (compat 1.0), 1.1 (compat 1.0), 2.0 (compat 2.0) */
#define MAX_LIBS 4       /* per kext: 0..4 random earlier identifiers, plus org.kx.kpi.kmdf */
#define SAMPLE 200       /* kexts resolved in full */

static const char *const versions[VERSIONS] = {"1.0", "1.1", "2.0"};
static const char *const compats[VERSIONS] = {"1.0", "1.0", "2.0"};
static const char *const requests[] = {"1.0", "1.0", "1.1", "1.1", "2.0", "1.5"};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift: deterministic across platforms, unlike rand(). */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

struct result {
    size_t kexts, resolvable;
    double build_ms, all_ms, one_us, avg_order;
    long peak_kb;
};

static int run_size(size_t n_kexts, struct result *out)
{
    struct kx_kext_options o = KX_KEXT_OPTIONS_INIT;
    struct kx_kext_repo *r = NULL;
    uint32_t rng = SEED;
    size_t n_ids = (n_kexts + VERSIONS - 1) / VERSIONS;
    char id[32], lib[32], path[64];
    o.flags = KX_KEXT_NO_EXEC | KX_KEXT_NO_AUTH;
    if (kx_kext_repo_new(&o, &r) != STATUS_SUCCESS)
        return -1;

    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n_ids; i++) {
        /* every version of identifier i shares its libraries: a random DAG over identifiers */
        size_t n_libs = i ? next_rand(&rng) % (MAX_LIBS + 1) : 0;
        size_t libs[MAX_LIBS];
        const char *req[MAX_LIBS];
        for (size_t l = 0; l < n_libs; l++) {
            libs[l] = next_rand(&rng) % i;
            req[l] = requests[next_rand(&rng) % (sizeof requests / sizeof requests[0])];
        }
        snprintf(id, sizeof id, "com.bench.k%zu", i);
        for (size_t v = 0; v < VERSIONS; v++) {
            plist_t d = plist_new_dict(), deps = plist_new_dict();
            plist_dict_set_item(d, "CFBundlePackageType", plist_new_string("KEXT"));
            plist_dict_set_item(d, "CFBundleIdentifier", plist_new_string(id));
            plist_dict_set_item(d, "CFBundleVersion", plist_new_string(versions[v]));
            plist_dict_set_item(d, "OSBundleCompatibleVersion", plist_new_string(compats[v]));
            plist_dict_set_item(deps, "org.kx.kpi.kmdf", plist_new_string("1.0"));
            for (size_t l = 0; l < n_libs; l++) {
                snprintf(lib, sizeof lib, "com.bench.k%zu", libs[l]);
                plist_dict_set_item(deps, lib, plist_new_string(req[l]));
            }
            plist_dict_set_item(d, "OSBundleLibraries", deps);
            snprintf(path, sizeof path, "bench/%s-%s.kext", id, versions[v]);
            struct kx_kext *k = kx__kext_alloc(path);
            if (!k || kx__kext_set_info(k, d, NULL) != STATUS_SUCCESS ||
                kx_kext_repo_adopt(r, k) != STATUS_SUCCESS)
                return -1;
        }
    }
    uint64_t t1 = now_ns();
    size_t resolvable = 0;
    if (kx_kext_repo_resolve_all(r, &resolvable) != STATUS_SUCCESS)
        return -1;
    uint64_t t2 = now_ns();

    size_t total_order = 0, sample = n_kexts < SAMPLE ? n_kexts : SAMPLE;
    size_t count = kx_kext_repo_count(r);
    for (size_t s = 0; s < sample; s++) {
        struct kx_kext_resolution *res = NULL;
        struct kx_kext *k = kx_kext_repo_kext(r, count - 1 - (next_rand(&rng) % n_kexts));
        if (kx_kext_resolve(r, k, &res) != STATUS_SUCCESS)
            return -1;
        total_order += kx_kext_resolution_n_load_order(res);
        kx_kext_resolution_free(res);
    }
    uint64_t t3 = now_ns();

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->kexts = n_ids * VERSIONS;
    out->resolvable = resolvable;
    out->build_ms = (double)(t1 - t0) / 1e6;
    out->all_ms = (double)(t2 - t1) / 1e6;
    out->one_us = (double)(t3 - t2) / 1e3 / (double)sample;
    out->avg_order = (double)total_order / (double)sample;
    out->peak_kb = ru.ru_maxrss;
    kx_kext_repo_free(r);
    return 0;
}

/* Runs one size in a child so its peak RSS is its own. */
static int measure(size_t n, struct result *res)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct result r;
        memset(&r, 0, sizeof r);
        int rc = run_size(n, &r);
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(rc == 0 && w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], res, sizeof *res);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return got == (ssize_t)sizeof *res && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(void)
{
    static const size_t sizes[] = {1000, 10000, 100000};
    struct result res[3];
    printf("kext resolution: %d versions per identifier, 0-%d random earlier libraries per "
           "identifier, seed %u\n",
           VERSIONS, MAX_LIBS, SEED);
    printf("%8s %10s %10s %14s %12s %16s %10s\n", "kexts", "resolvable", "build ms",
           "resolve-all ms", "resolve us", "avg load order", "peak MB");
    for (size_t i = 0; i < 3; i++) {
        if (measure(sizes[i], &res[i]) != 0) {
            fprintf(stderr, "bench_kext_resolve: %zu kexts failed\n", sizes[i]);
            return 1;
        }
        printf("%8zu %10zu %10.1f %14.2f %12.1f %16.1f %10.1f\n", res[i].kexts, res[i].resolvable,
               res[i].build_ms, res[i].all_ms, res[i].one_us, res[i].avg_order,
               (double)res[i].peak_kb / 1024.0);
    }
    printf("growth of resolve-all: 1k->10k x%.1f, 10k->100k x%.1f (linear: x10)\n",
           res[1].all_ms / res[0].all_ms, res[2].all_ms / res[1].all_ms);
    printf("growth of build:       1k->10k x%.1f, 10k->100k x%.1f\n",
           res[1].build_ms / res[0].build_ms, res[2].build_ms / res[1].build_ms);
    printf("10k kexts resolved in %.2f ms: %s (target < 50 ms)\n", res[1].all_ms,
           res[1].all_ms < 50.0 ? "met" : "MISSED");
    return 0;
}
