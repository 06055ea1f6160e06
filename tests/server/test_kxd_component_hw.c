/* test_kxd_component_hw.c — real hardware through proxies, on a fake sysfs tree (the Linux
 * platform reads sysfs from any root: kxd --platform linux:ROOT): PCI configuration space
 * writes and BAR maps only when kxd was told (--allow-hardware-write), runs as root and the
 * kext asks (KXAllowHardwareWrite), refusals naming the kext, the component and the
 * reason; read-only BAR maps otherwise; access after the component's removal. The driver
 * (tests/server/kexts/hwkext.c) runs in a kx-host process, so the host maps the BAR
 * itself after kxd said yes, and once inside kxd.
 */
#include "harness.h"
#include "../platform/sysfs_fixture.h"

#include <kx/client.h>

#include <plist/plist.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_BASE 0x1000u
#define BAR0        0x100000u
#define BAR_SIZE    4096u
#define GIGE_PCI    "0000:00:1f.6"

struct hw {
    struct kxd_proc p; /* first: kxd_teardown_tree takes the state as a kxd_proc */
    char *sysfs;
    int inproc; /* the driver runs inside kxd */
};

/* A regular file of n bytes, byte i being seed + i, readable and writable by a host's
 * user (the kx-host maps it as nobody). */
static void pattern_file(const char *root, const char *rel, size_t n, unsigned char seed)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc((unsigned char)(seed + i), f);
    fclose(f);
    assert_int_equal(chmod(path, 0666), 0);
}

static void file_bytes(const char *root, const char *rel, size_t off, void *buf, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)off, SEEK_SET), 0);
    assert_int_equal(fread(buf, 1, n, f), n);
    fclose(f);
}

/* The test machine with GIGE's configuration space (256 bytes) and one 4 KiB memory BAR. */
static char *machine(void)
{
    char *root = sfx_new();
    sfx_machine(root);
    pattern_file(root, SFX_GIGE "/config", 256, 0);
    pattern_file(root, SFX_GIGE "/resource0", BAR_SIZE, 0x40);
    char text[400];
    snprintf(text, sizeof text,
             "0x00000000df000000 0x00000000df000fff 0x0000000000040200\n"
             "0x0000000000000000 0x0000000000000000 0x0000000000000000");
    sfx_write(root, SFX_GIGE "/resource", text);
    return root;
}

static int start(void **state, const char *kext, int allow, int inproc)
{
    struct hw *h = calloc(1, sizeof *h);
    const char *build = getenv("KX_BUILD_DIR");
    if (!h)
        return -1;
    snprintf(h->p.dir, sizeof h->p.dir, "/tmp/kxd-hw-XXXXXX");
    if (!build || !mkdtemp(h->p.dir) || chmod(h->p.dir, 0755) != 0)
        return -1;
    setenv("TMPDIR", h->p.dir, 1);
    h->sysfs = machine();
    unsetenv("TMPDIR");
    if (kxd_sh("chmod -R a+rX %s", h->sysfs) != 0)
        return -1;
    snprintf(h->p.ext, sizeof h->p.ext, "%s/ext", h->p.dir);
    if (kxd_sh("mkdir %s && cp -a %s/tests/test-extensions/%s.kext %s/", h->p.ext, build, kext,
               h->p.ext) != 0)
        return -1;
    char platform[400];
    snprintf(platform, sizeof platform, "linux:%s", h->sysfs);
    const char *args[] = {"--platform",
                          platform,
                          "--host-mode",
                          inproc ? "inproc" : "process",
                          allow ? "--allow-hardware-write" : NULL,
                          NULL};
    if (kxd_start_args(&h->p, args) != 0)
        return -1;
    h->inproc = inproc;
    *state = h;
    return 0;
}

static int setup_not_told(void **state)
{
    return start(state, "CompHW", 0, 0);
}
static int setup_kext_not_allowed(void **state)
{
    return start(state, "CompHWPlain", 1, 0);
}
static int setup_allowed(void **state)
{
    return start(state, "CompHW", 1, 0);
}
/* The same driver inside kxd: the same calls, kxd maps the BAR itself. */
static int setup_allowed_inproc(void **state)
{
    return start(state, "CompHW", 1, 1);
}

static int teardown(void **state)
{
    struct hw *h = *state;
    free(h->sysfs); /* inside kxd's folder, which the harness removes */
    return kxd_teardown_tree(state);
}

/* Finds, below entry, the KXComponent whose pci-address is pci: its address and its path
 * ("IOService:/..."; prefix is entry's). 1 when found. */
static int find_component(plist_t entry, const char *prefix, const char *pci, char *address,
                          char *path, size_t path_len)
{
    plist_t kids = plist_dict_get_item(entry, "IORegistryEntryChildren");
    for (uint32_t i = 0; kids && i < plist_array_get_size(kids); i++) {
        plist_t kid = plist_array_get_item(kids, i);
        plist_t name = plist_dict_get_item(kid, "IORegistryEntryName");
        plist_t loc = plist_dict_get_item(kid, "IORegistryEntryLocation");
        plist_t cls = plist_dict_get_item(kid, "IOObjectClass");
        plist_t pa = plist_dict_get_item(kid, "pci-address");
        char here[1024];
        snprintf(here, sizeof here, "%s/%s%s%s", prefix,
                 name ? plist_get_string_ptr(name, NULL) : "?", loc ? "@" : "",
                 loc ? plist_get_string_ptr(loc, NULL) : "");
        if (cls && pa && strcmp(plist_get_string_ptr(cls, NULL), "KXComponent") == 0 &&
            strcmp(plist_get_string_ptr(pa, NULL), pci) == 0) {
            snprintf(address, 37, "%s",
                     plist_get_string_ptr(plist_dict_get_item(kid, "address"), NULL));
            snprintf(path, path_len, "%s", here);
            return 1;
        }
        if (find_component(kid, here, pci, address, path, path_len))
            return 1;
    }
    return 0;
}

/* GIGE's component: its address and registry path. */
static void gige(const struct hw *h, char address[37], char *path, size_t path_len)
{
    kx_client *c = kxd_connect(&h->p);
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(kx_client_registry(c, 0, &data, &len), STATUS_SUCCESS);
    kx_client_disconnect(c);
    plist_t root = NULL;
    plist_from_bin(data, (uint32_t)len, &root);
    free(data);
    assert_non_null(root);
    int found = find_component(root, "IOService:", GIGE_PCI, address, path, path_len);
    plist_free(root);
    assert_true(found);
}

/* /dev/comphw opened, GIGE's proxy selected. */
static kx_client *open_gige(const struct hw *h, uint32_t *handle, char *path, size_t path_len)
{
    char address[37];
    gige(h, address, path, path_len);
    kx_client *c = kxd_connect(&h->p);
    assert_int_equal(kx_client_open(c, "/dev/comphw", KX_ACCESS_READ | KX_ACCESS_WRITE, handle),
                     STATUS_SUCCESS);
    size_t n = 0;
    assert_int_equal(kx_client_write(c, *handle, 0, address, strlen(address), 0, &n),
                     STATUS_SUCCESS);
    return c;
}

static kx_status put(kx_client *c, uint32_t h, uint64_t off, const void *buf, size_t len)
{
    size_t n = 0;
    return kx_client_write(c, h, off, buf, len, 0, &n);
}

static kx_status get(kx_client *c, uint32_t h, uint64_t off, void *buf, size_t len)
{
    size_t n = 0;
    kx_status st = kx_client_read(c, h, off, buf, len, 0, &n);
    return st == STATUS_SUCCESS && n != len ? STATUS_DATA_ERROR : st;
}

static int log_says(const struct hw *h, const char *a, const char *b)
{
    char *log = kxd_read_log(&h->p);
    int found = 0;
    for (const char *line = log; line && *line && !found;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        char *one = strndup(line, n);
        found = strstr(one, "org.kx.test.CompHW") && strstr(one, a) && strstr(one, b);
        free(one);
        line = end ? end + 1 : line + n;
    }
    free(log);
    return found;
}

/* Whether kxd's own memory maps GIGE's BAR file now. */
static int kxd_maps_the_bar(const struct hw *h)
{
    char *out = NULL;
    int rc =
        kxd_run(&out, "grep -c '%s/%s/resource0' /proc/%d/maps", h->sysfs, SFX_GIGE, (int)h->p.pid);
    int n = rc == 0 && out ? atoi(out) : 0;
    free(out);
    return n > 0;
}

/* Reads always work, writes never: config space and the BAR stay as they were. */
static void expect_read_only(const struct hw *h, const char *reason)
{
    char path[1024], address[37];
    uint32_t handle = 0;
    kx_client *c = open_gige(h, &handle, path, sizeof path);
    gige(h, address, path, sizeof path);
    unsigned char got[16], want[16], poke[4] = {0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(get(c, handle, CONFIG_BASE + 0x40, got, sizeof got), STATUS_SUCCESS);
    file_bytes(h->sysfs, SFX_GIGE "/config", 0x40, want, sizeof want);
    assert_memory_equal(got, want, sizeof got);
    assert_int_equal(put(c, handle, CONFIG_BASE + 0x40, poke, sizeof poke), STATUS_ACCESS_DENIED);
    assert_true(log_says(h, address, reason));
    file_bytes(h->sysfs, SFX_GIGE "/config", 0x40, got, sizeof got);
    assert_memory_equal(got, want, sizeof got);
    /* the BAR maps read-only: the host sees the file's bytes, and can't write them */
    assert_int_equal(get(c, handle, BAR0 + 0x100, got, sizeof got), STATUS_SUCCESS);
    file_bytes(h->sysfs, SFX_GIGE "/resource0", 0x100, want, sizeof want);
    assert_memory_equal(got, want, sizeof got);
    assert_int_equal(put(c, handle, BAR0 + 0x100, poke, sizeof poke), STATUS_ACCESS_DENIED);
    file_bytes(h->sysfs, SFX_GIGE "/resource0", 0x100, got, sizeof got);
    assert_memory_equal(got, want, sizeof got);
    kx_client_disconnect(c);
}

static void test_writes_refused_unless_kxd_is_told(void **state)
{
    struct hw *h = *state;
    expect_read_only(h, "--allow-hardware-write");
    /* kx device poke too, saying what it needs */
    char address[37], path[1024];
    gige(h, address, path, sizeof path);
    kx_client *c = kxd_connect(&h->p);
    assert_int_equal(kx_client_device_poke(c, address, 0x48, "\x01", 1), STATUS_ACCESS_DENIED);
    assert_non_null(strstr(kx_client_message(c), "--allow-hardware-write"));
    kx_client_disconnect(c);
}

static void test_writes_refused_unless_the_kext_asks(void **state)
{
    struct hw *h = *state;
    /* CompHWPlain's id contains CompHW too: log_says finds its refusal */
    expect_read_only(h, "KXAllowHardwareWrite");
}

static void test_writes_reach_config_space_and_the_bar_when_allowed(void **state)
{
    struct hw *h = *state;
    char path[1024];
    uint32_t handle = 0;
    kx_client *c = open_gige(h, &handle, path, sizeof path);
    unsigned char poke[4] = {0xde, 0xad, 0xbe, 0xef}, got[4];
    assert_int_equal(put(c, handle, CONFIG_BASE + 0x44, poke, sizeof poke), STATUS_SUCCESS);
    file_bytes(h->sysfs, SFX_GIGE "/config", 0x44, got, sizeof got);
    assert_memory_equal(got, poke, sizeof poke);
    assert_int_equal(get(c, handle, CONFIG_BASE + 0x44, got, sizeof got), STATUS_SUCCESS);
    assert_memory_equal(got, poke, sizeof poke);
    char address[37];
    gige(h, address, path, sizeof path);
    assert_int_equal(kx_client_device_poke(c, address, 0x44, "\x5a", 1), STATUS_SUCCESS);
    file_bytes(h->sysfs, SFX_GIGE "/config", 0x44, got, 1);
    assert_int_equal(got[0], 0x5a);
    /* through the host's shared map, into the file */
    assert_int_equal(put(c, handle, BAR0 + 0x200, poke, sizeof poke), STATUS_SUCCESS);
    file_bytes(h->sysfs, SFX_GIGE "/resource0", 0x200, got, sizeof got);
    assert_memory_equal(got, poke, sizeof poke);
    /* outside the BAR, a BAR that isn't there */
    assert_int_equal(get(c, handle, BAR0 + BAR_SIZE - 2, got, sizeof got),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(get(c, handle, 2 * BAR0, got, sizeof got), STATUS_INVALID_PARAMETER);
    /* the component goes: every access fails STATUS_DEVICE_REMOVED, nothing crashes */
    assert_int_equal(kx_client_device_remove(c, path), STATUS_SUCCESS);
    assert_int_equal(get(c, handle, CONFIG_BASE, got, sizeof got), STATUS_DEVICE_REMOVED);
    assert_int_equal(put(c, handle, CONFIG_BASE, poke, sizeof poke), STATUS_DEVICE_REMOVED);
    assert_int_equal(get(c, handle, BAR0, got, sizeof got), STATUS_DEVICE_REMOVED);
    assert_int_equal(put(c, handle, BAR0, poke, sizeof poke), STATUS_DEVICE_REMOVED);
    /* the map made before stays until the driver lets its proxy go: at unload here */
    assert_int_equal(kxd_maps_the_bar(h), h->inproc);
    assert_int_equal(kx_client_close(c, handle), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, "org.kx.test.CompHW", 0), STATUS_SUCCESS);
    assert_false(kxd_maps_the_bar(h));
    kx_client_disconnect(c);
}

/* component_added / component_removed reach a driver registered for them, in order, with
 * the component's address as source. */
static void test_component_events_name_the_address(void **state)
{
    struct hw *h = *state;
    static const char doc[] =
        "<?xml version=\"1.0\"?><plist version=\"1.0\"><array>"
        "<dict><key>IOObjectClass</key><string>KXComponent</string>"
        "<key>IORegistryEntryName</key><string>probe</string>"
        "<key>IORegistryEntryLocation</key><string>7</string>"
        "<key>address</key><string>feedface-0000-4000-8000-000000000007</string>"
        "<key>type</key><string>unclaimed</string></dict></array></plist>";
    kx_client *c = kxd_connect(&h->p);
    struct kx_client_nub *nubs = NULL;
    size_t n = 0;
    assert_int_equal(
        kx_client_device_add(c, "IOService:/kx", "probe.plist", doc, sizeof doc - 1, &nubs, &n),
        STATUS_SUCCESS);
    kx_client_nubs_free(nubs, n);
    assert_int_equal(kx_client_device_remove(c, "IOService:/kx/probe@7"), STATUS_SUCCESS);
    uint32_t handle = 0;
    assert_int_equal(kx_client_open(c, "/dev/comphw", KX_ACCESS_READ, &handle), STATUS_SUCCESS);
    static const char want[] = "added feedface-0000-4000-8000-000000000007\n"
                               "removed feedface-0000-4000-8000-000000000007\n";
    char got[512] = "";
    size_t len = 0;
    for (int tries = 0; tries < 500 && strcmp(got, want) != 0; tries++) {
        if (tries)
            usleep(10000); /* events are queued: they may trail the answers */
        assert_int_equal(kx_client_read(c, handle, 0x2000, got, sizeof got - 1, 0, &len),
                         STATUS_SUCCESS);
        got[len] = 0;
    }
    assert_string_equal(got, want);
    kx_client_disconnect(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writes_refused_unless_kxd_is_told, setup_not_told,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writes_refused_unless_the_kext_asks,
                                        setup_kext_not_allowed, teardown),
        cmocka_unit_test_setup_teardown(test_writes_reach_config_space_and_the_bar_when_allowed,
                                        setup_allowed, teardown),
        cmocka_unit_test_setup_teardown(test_writes_reach_config_space_and_the_bar_when_allowed,
                                        setup_allowed_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_component_events_name_the_address, setup_not_told,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
