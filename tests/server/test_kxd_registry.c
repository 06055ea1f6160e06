/* test_kxd_registry.c — the running kxd's registry through the tools: kxd
 * boots two Intel I219s (tests/kernel/fixtures/two-nics.plist) with the sample
 * kexts and the matching test kexts; ioreg and ioclasscount show its registry
 * with its ids, states and drivers' instances, kx match and kx catalog its
 * catalogue and decisions, kx device add makes it match new hardware and kx
 * device remove takes it away again, answering a pending read; changing the
 * registry is root's, reading it everyone's; kx boot --plan --platform says
 * which kext loads for which nub. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "patience.h"

#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

/* A third I219, as `kx device add` takes it. */
static const char third_nic[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>\n"
    "<key>IOObjectClass</key><string>IOPCIDevice</string>\n"
    "<key>IORegistryEntryName</key><string>pci8086,15b8</string>\n"
    "<key>IORegistryEntryLocation</key><string>1f,7</string>\n"
    "<key>vendor-id</key><data>hoAAAA==</data>\n"
    "<key>device-id</key><data>uBUAAA==</data>\n"
    "</dict></plist>\n";

/* A private extensions folder: the sample kexts and the matching test kexts. */
static int setup(void **state)
{
    struct kxd_proc *p = calloc(1, sizeof *p);
    const char *build = getenv("KX_BUILD_DIR"), *src = getenv("KX_SOURCE_DIR");
    char platform[600];
    snprintf(p->dir, sizeof p->dir, "/tmp/kxd-registry-XXXXXX");
    if (!build || !src || !mkdtemp(p->dir) || chmod(p->dir, 0755) != 0)
        return -1;
    snprintf(p->ext, sizeof p->ext, "%s/ext", p->dir);
    snprintf(platform, sizeof platform, "%s/tests/kernel/fixtures/two-nics.plist", src);
    if (kxd_sh("mkdir %s && cp -a %s/extensions/. %s/tests/match-extensions/. %s/", p->ext, build,
               build, p->ext) != 0)
        return -1;
    const char *args[] = {"--platform", platform, NULL};
    if (kxd_start_args(p, args) != 0)
        return -1;
    *state = p;
    return 0;
}

static json_t *run_json(const char *fmt, const char *socket)
{
    char *out = NULL;
    assert_int_equal(kxd_run(&out, fmt, socket), 0);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    if (!j)
        fail_msg("not JSON (%s):\n%s", err.text, out);
    free(out);
    return j;
}

/* The nub of kx match --json at location loc. */
static json_t *report_nub(json_t *report, const char *loc)
{
    size_t i;
    json_t *nub;
    char suffix[64];
    snprintf(suffix, sizeof suffix, "@%s", loc);
    json_array_foreach(json_object_get(report, "nubs"), i, nub)
    {
        const char *path = json_string_value(json_object_get(nub, "path"));
        if (strlen(path) > strlen(suffix) &&
            strcmp(path + strlen(path) - strlen(suffix), suffix) == 0)
            return nub;
    }
    fail_msg("no nub at %s", loc);
    return NULL;
}

static json_t *candidate(json_t *nub, const char *personality)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(nub, "candidates"), i,
                       c) if (strcmp(json_string_value(json_object_get(c, "personality")),
                                     personality) == 0) return c;
    return NULL;
}

static int link_exists(const struct kxd_proc *p, const char *link)
{
    kx_client *c = kxd_connect(p);
    struct kx_client_object *objs = NULL;
    size_t n = 0;
    int found = 0;
    if (c && kx_client_ls(c, &objs, &n) == STATUS_SUCCESS)
        for (size_t i = 0; i < n; i++)
            found |= !objs[i].is_device && strcmp(objs[i].name, link) == 0;
    kx_client_objects_free(objs, n);
    kx_client_disconnect(c);
    return found;
}

static void test_ioreg_shows_kxds_nubs_instances_ids_and_states(void **state)
{
    struct kxd_proc *p = *state;
    T_WAIT_FOR(link_exists(p, "/dev/matchpci-1c") && link_exists(p, "/dev/matchpci-1f,6"));
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "./ioreg -l -w0 --socket %s", p->socket), 0);
    /* the two nubs, matched, with their properties */
    assert_int_equal(kxd_count_matches(out, "^    \\+-o pci8086,15b8@(1f,6|1c)  <class "
                                            "IOPCIDevice, id 0x[0-9a-f]+, registered, matched, "
                                            "active, busy 0 \\(0 ms\\), retain [0-9]+>$"),
                     2);
    assert_int_equal(kxd_count_matches(out, "\"vendor-id\" = <86800000>$"), 2);
    /* a KXMatchPCI instance under each, a level deeper */
    assert_int_equal(kxd_count_matches(out, "^    [| ] \\+-o KXMatchPCI  <class KXMatchPCI, id "
                                            "0x[0-9a-f]+, registered"),
                     2);
    KXD_ASSERT_MATCHES(out, "\"IOClass\" = \"KXMatchPCI\"$");

    /* the ids are kxd's: the ones kxd's own match report gives */
    json_t *report = run_json("./kx match --json --socket %s", p->socket);
    char line[160];
    snprintf(
        line, sizeof line, "\\+-o pci8086,15b8@1c  <class IOPCIDevice, id 0x%llx,",
        (unsigned long long)json_integer_value(json_object_get(report_nub(report, "1c"), "id")));
    KXD_ASSERT_MATCHES(out, line);
    json_decref(report);
    free(out);

    /* the same through $KX_SOCKET, in the device tree plane: nubs, no instances */
    assert_int_equal(kxd_run(&out, "KX_SOCKET=%s ./ioreg -w0 -p IODeviceTree", p->socket), 0);
    assert_int_equal(kxd_count_matches(out, "\\+-o pci8086,15b8@"), 2);
    assert_int_equal(kxd_count_matches(out, "KXMatchPCI"), 0);
    free(out);
}

static void test_ioclasscount_counts_kxds_instances(void **state)
{
    struct kxd_proc *p = *state;
    T_WAIT_FOR(link_exists(p, "/dev/matchpci-1c") && link_exists(p, "/dev/matchpci-1f,6"));
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "./ioclasscount --socket %s IOPCIDevice KXMatchPCI", p->socket),
                     0);
    assert_string_equal(out, "IOPCIDevice = 2\nKXMatchPCI = 2\n");
    free(out);
}

static void test_kx_match_reports_kxds_decisions(void **state)
{
    struct kxd_proc *p = *state;
    T_WAIT_FOR(link_exists(p, "/dev/matchpci-1c") && link_exists(p, "/dev/matchpci-1f,6"));
    json_t *report = run_json("./kx match --json --socket %s", p->socket);
    const char *locs[] = {"1f,6", "1c"};
    for (size_t i = 0; i < 2; i++) {
        json_t *nub = report_nub(report, locs[i]);
        json_t *pci = candidate(nub, "MatchPCI"), *decline = candidate(nub, "MatchDecline");
        assert_non_null(pci);
        assert_non_null(decline);
        /* MatchDecline comes first by score, declines in probe; MatchPCI drives the nub */
        assert_true(json_is_true(json_object_get(pci, "chosen")));
        assert_true(json_is_true(json_object_get(pci, "loadable")));
        assert_true(json_is_false(json_object_get(decline, "chosen")));
        assert_int_equal(json_integer_value(json_object_get(decline, "score")), 100);
    }
    json_decref(report);
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "./kx match --socket %s", p->socket), 0);
    KXD_ASSERT_MATCHES(out,
                       "^  \\* org\\.kx\\.test\\.MatchPCI \"MatchPCI\" \\(IOClass KXMatchPCI\\) "
                       "score 0, IODefaultMatchCategory, chosen$");
    free(out);
}

static void test_kx_catalog_lists_kxds_personalities(void **state)
{
    struct kxd_proc *p = *state;
    json_t *cat = run_json("./kx catalog --json --socket %s", p->socket);
    size_t i;
    json_t *x;
    int seen = 0;
    json_array_foreach(json_object_get(cat, "personalities"), i, x)
    {
        const char *name = json_string_value(json_object_get(x, "personality"));
        if (strcmp(name, "MatchPCI") == 0) {
            seen |= 1;
            assert_string_equal(json_string_value(json_object_get(x, "provider_class")),
                                "IOPCIDevice");
        }
        seen |= (strcmp(name, "MatchDecline") == 0) << 1;
        seen |= (strcmp(name, "Null") == 0) << 2;
    }
    assert_int_equal(seen, 7);
    json_decref(cat);
}

struct pending_read {
    const struct kxd_proc *p;
    uint32_t handle;
    kx_client *c;
    kx_status status;
};

static void *read_thread(void *arg)
{
    struct pending_read *r = arg;
    char buf[16];
    size_t got = 0;
    r->status = kx_client_read(r->c, r->handle, 0, buf, sizeof buf, UINT32_MAX, &got);
    return NULL;
}

static int pending_requests(const struct kxd_proc *p)
{
    kx_client *c = kxd_connect(p);
    struct kx_client_server s;
    int n = 0;
    if (c && kx_client_server(c, &s) == STATUS_SUCCESS)
        for (size_t i = 0; i < s.n_listed; i++)
            n += (int)s.conns[i].pending;
    kx_client_server_free(&s);
    kx_client_disconnect(c);
    return n - 1; /* the SERVER request asking */
}

static void test_device_add_matches_and_remove_answers_pending_reads(void **state)
{
    struct kxd_proc *p = *state;
    char file[600];
    snprintf(file, sizeof file, "%s/third-nic.plist", p->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(third_nic, f);
    fclose(f);

    char *out = NULL;
    assert_int_equal(kxd_run(&out, "./kx device add --socket %s IOService:/kx %s", p->socket, file),
                     0);
    KXD_ASSERT_MATCHES(out, "^IOService:/kx/pci8086,15b8@1f,7  <id 0x[0-9a-f]+>$");
    free(out);
    /* matched before the command returned */
    assert_true(link_exists(p, "/dev/matchpci-1f,7"));
    assert_int_equal(kxd_run(&out, "./ioclasscount --socket %s KXMatchPCI", p->socket), 0);
    assert_string_equal(out, "KXMatchPCI = 3\n");
    free(out);

    struct pending_read r = {p, 0, kxd_connect(p), STATUS_SUCCESS};
    assert_non_null(r.c);
    assert_int_equal(kx_client_open(r.c, "/dev/matchpci-1f,7", KX_ACCESS_READ, &r.handle),
                     STATUS_SUCCESS);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_thread, &r), 0);
    T_WAIT_FOR(pending_requests(p) == 1);
    assert_int_equal(pending_requests(p), 1);

    assert_int_equal(
        kxd_run(NULL, "./kx device remove --socket %s IOService:/kx/pci8086,15b8@1f,7", p->socket),
        0);
    pthread_join(t, NULL);
    assert_int_equal(r.status, STATUS_DEVICE_REMOVED);
    kx_client_disconnect(r.c);
    assert_false(link_exists(p, "/dev/matchpci-1f,7"));
    assert_true(link_exists(p, "/dev/matchpci-1c"));
    assert_int_equal(
        kxd_run(&out, "./kx device add --json --socket %s IOService:/kx %s", p->socket, file), 0);
    KXD_ASSERT_MATCHES(out, "\"path\": \"IOService:/kx/pci8086,15b8@1f,7\"");
    free(out);
}

static void test_malformed_device_file_names_the_file_and_key(void **state)
{
    struct kxd_proc *p = *state;
    char file[600];
    snprintf(file, sizeof file, "%s/bad.plist", p->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>IORegistryEntryName</key>"
          "<string>nic</string><key>IORegistryEntryChildren</key><dict/></dict></plist>\n",
          f);
    fclose(f);
    char *out = NULL;
    assert_int_equal(
        kxd_run(&out, "./kx device add --socket %s IOService:/kx %s 2>&1", p->socket, file), 1);
    assert_non_null(strstr(out, "STATUS_DATA_ERROR"));
    char want[700];
    snprintf(want, sizeof want, "%s: nic: IOObjectClass: missing", file);
    if (!strstr(out, want))
        fail_msg("expected \"%s\" in:\n%s", want, out);
    free(out);
    assert_int_equal(
        kxd_run(&out, "./kx device add --socket %s IOService:/kx/nowhere %s 2>&1", p->socket, file),
        1);
    assert_non_null(strstr(out, "IOService:/kx/nowhere"));
    free(out);
}

enum {
    NOBODY_CONNECT = 1 << 0,
    NOBODY_ADD_REFUSED = 1 << 1,
    NOBODY_REMOVE_REFUSED = 1 << 2,
    NOBODY_READS_ALLOWED = 1 << 3,
};

static int as_nobody(const struct kxd_proc *p)
{
    int failed = 0;
    kx_client *c = kxd_connect(p);
    if (!c)
        return NOBODY_CONNECT;
    struct kx_client_nub *nubs = NULL;
    size_t n = 0;
    if (kx_client_device_add(c, "IOService:/kx", "third-nic.plist", third_nic, strlen(third_nic),
                             &nubs, &n) != STATUS_ACCESS_DENIED)
        failed |= NOBODY_ADD_REFUSED;
    kx_client_nubs_free(nubs, n);
    if (kx_client_device_remove(c, "IOService:/kx/pci8086,15b8@1c") != STATUS_ACCESS_DENIED)
        failed |= NOBODY_REMOVE_REFUSED;
    void *tree = NULL;
    size_t len = 0;
    char *catalog = NULL, *report = NULL;
    if (kx_client_registry(c, 0, &tree, &len) != STATUS_SUCCESS || !len ||
        kx_client_catalog(c, &catalog) != STATUS_SUCCESS ||
        kx_client_match_report(c, &report) != STATUS_SUCCESS)
        failed |= NOBODY_READS_ALLOWED;
    free(tree);
    free(catalog);
    free(report);
    kx_client_disconnect(c);
    return failed;
}

static void test_only_root_changes_the_registry_everyone_reads_it(void **state)
{
    struct kxd_proc *p = *state;
    if (getuid() != 0)
        skip(); /* needs root to become nobody */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(0xFF);
        _exit(as_nobody(p));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("unprivileged client: failed expectations 0x%x", WEXITSTATUS(status));
    T_WAIT_FOR(link_exists(p, "/dev/matchpci-1c"));
    assert_true(link_exists(p, "/dev/matchpci-1c")); /* the refused remove removed nothing */
}

static void test_boot_plan_names_the_nub_each_kext_loads_for(void **state)
{
    struct kxd_proc *p = *state;
    char *out = NULL;
    assert_int_equal(kxd_run(&out,
                             "./kx boot --plan --no-auth --no-cache --extensions %s "
                             "--platform %s/tests/kernel/fixtures/two-nics.plist",
                             p->ext, getenv("KX_SOURCE_DIR")),
                     0);
    KXD_ASSERT_MATCHES(out,
                       "^  org\\.kx\\.test\\.MatchPCI loads because org\\.kx\\.test\\.MatchPCI "
                       "personality MatchPCI matches IOService:/kx/pci8086,15b8@1f,6, if the "
                       "candidates above decline it$");
    KXD_ASSERT_MATCHES(out, "^  org\\.kx\\.test\\.MatchDecline loads because org\\.kx\\.test\\."
                            "MatchDecline personality MatchDecline matches "
                            "IOService:/kx/pci8086,15b8@1c$");
    free(out);
    json_t *plan = NULL;
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "./kx boot --plan --json --no-auth --no-cache --extensions %s "
             "--platform %s/tests/kernel/fixtures/two-nics.plist",
             p->ext, getenv("KX_SOURCE_DIR"));
    plan = run_json("%s", cmd);
    size_t i;
    json_t *m;
    int pci = 0;
    json_array_foreach(json_object_get(plan, "matching"), i, m) pci +=
        strcmp(json_string_value(json_object_get(m, "personality")), "MatchPCI") == 0 &&
        json_is_true(json_object_get(m, "fallback"));
    assert_int_equal(pci, 2);
    json_decref(plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ioreg_shows_kxds_nubs_instances_ids_and_states, setup,
                                        kxd_teardown_tree),
        cmocka_unit_test_setup_teardown(test_ioclasscount_counts_kxds_instances, setup, kxd_teardown_tree),
        cmocka_unit_test_setup_teardown(test_kx_match_reports_kxds_decisions, setup, kxd_teardown_tree),
        cmocka_unit_test_setup_teardown(test_kx_catalog_lists_kxds_personalities, setup, kxd_teardown_tree),
        cmocka_unit_test_setup_teardown(test_device_add_matches_and_remove_answers_pending_reads,
                                        setup, kxd_teardown_tree),
        cmocka_unit_test_setup_teardown(test_malformed_device_file_names_the_file_and_key, setup,
                                        kxd_teardown_tree),
        cmocka_unit_test_setup_teardown(test_only_root_changes_the_registry_everyone_reads_it,
                                        setup, kxd_teardown_tree),
        cmocka_unit_test_setup_teardown(test_boot_plan_names_the_nub_each_kext_loads_for, setup,
                                        kxd_teardown_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
