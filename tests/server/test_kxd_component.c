/* test_kxd_component.c — components in a running kxd: CMD drivers instantiated per
 * component, DkCreateComponentDevice's names, hardware proxies and their privilege, and
 * components going away under pending reads. Drivers run in kx-host processes (kxd's
 * default), so every call crosses the host transport.
 */
#include "harness.h"
#include "../patience.h"

#include <kx/client.h>

#include <plist/plist.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char platform[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><array>\n"
    "<dict><key>IOObjectClass</key><string>IOService</string>"
    "<key>IORegistryEntryName</key><string>board</string></dict>\n"
    "</array></plist>\n";

/* A private extensions folder: the sample kexts (Sensor) and the component test kexts. */
static int setup(void **state)
{
    struct kxd_proc *p = calloc(1, sizeof *p);
    const char *build = getenv("KX_BUILD_DIR");
    char file[600];
    snprintf(p->dir, sizeof p->dir, "/tmp/kxd-component-XXXXXX");
    if (!build || !mkdtemp(p->dir) || chmod(p->dir, 0755) != 0)
        return -1;
    snprintf(p->ext, sizeof p->ext, "%s/ext", p->dir);
    snprintf(file, sizeof file, "%s/platform.plist", p->dir);
    FILE *f = fopen(file, "w");
    if (!f)
        return -1;
    fputs(platform, f);
    fclose(f);
    if (kxd_sh("mkdir %s && cp -a %s/extensions/. %s/ && cp -a %s/tests/test-extensions/Comp*.kext "
               "%s/",
               p->ext, build, p->ext, build, p->ext) != 0)
        return -1;
    const char *args[] = {"--platform", file, NULL};
    if (kxd_start_args(p, args) != 0)
        return -1;
    *state = p;
    return 0;
}

/* Appends one KXComponent entry (value: its first register, little-endian). */
static void component(char *buf, size_t len, const char *name, unsigned loc, const char *type,
                      const char *address, uint32_t value, const char *other)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char r[8] = {(unsigned char)value, (unsigned char)(value >> 8),
                          (unsigned char)(value >> 16), (unsigned char)(value >> 24)};
    char regs[16];
    size_t k = 0;
    for (size_t i = 0; i < 6; i += 3) { /* 8 bytes: two full groups and a tail */
        uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
        for (int s = 18; s >= 0; s -= 6)
            regs[k++] = b64[(v >> s) & 63];
    }
    uint32_t v = (uint32_t)r[6] << 16 | (uint32_t)r[7] << 8;
    regs[k++] = b64[(v >> 18) & 63];
    regs[k++] = b64[(v >> 12) & 63];
    regs[k++] = b64[(v >> 6) & 63];
    regs[k++] = '=';
    regs[k] = 0;
    size_t at = strlen(buf);
    snprintf(buf + at, len - at,
             "<dict><key>IOObjectClass</key><string>KXComponent</string>"
             "<key>IORegistryEntryName</key><string>%s</string>"
             "<key>IORegistryEntryLocation</key><string>%x</string>"
             "<key>address</key><string>%s</string><key>type</key><string>%s</string>"
             "<key>registers</key><data>%s</data>%s%s%s</dict>\n",
             name, loc, address, type, regs, other ? "<key>other</key><string>" : "",
             other ? other : "", other ? "</string>" : "");
}

static void add(const struct kxd_proc *p, const char *entries)
{
    size_t len = strlen(entries) + 128;
    char *doc = malloc(len);
    assert_non_null(doc);
    snprintf(doc, len, "<?xml version=\"1.0\"?><plist version=\"1.0\"><array>%s</array></plist>",
             entries);
    kx_client *c = kxd_connect(p);
    struct kx_client_nub *nubs = NULL;
    size_t n = 0;
    kx_status st = kx_client_device_add(c, "IOService:/kx/board", "components.plist", doc,
                                        strlen(doc), &nubs, &n);
    if (st != STATUS_SUCCESS)
        fail_msg("device add: %s: %s", kx_status_name(st), kx_client_message(c));
    kx_client_nubs_free(nubs, n);
    kx_client_disconnect(c);
    free(doc);
}

static void removed(const struct kxd_proc *p, const char *path)
{
    kx_client *c = kxd_connect(p);
    assert_int_equal(kx_client_device_remove(c, path), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* The whole of a read at offset 0 of link, as text. */
static kx_status read_text(const struct kxd_proc *p, const char *link, char *buf, size_t len)
{
    kx_client *c = kxd_connect(p);
    uint32_t h = 0;
    size_t got = 0;
    kx_status st = kx_client_open(c, link, KX_ACCESS_READ, &h);
    if (st == STATUS_SUCCESS)
        st = kx_client_read(c, h, 0, buf, len - 1, 0, &got);
    buf[st == STATUS_SUCCESS ? got : 0] = 0;
    kx_client_disconnect(c);
    return st;
}

static size_t links_with_prefix(const struct kxd_proc *p, const char *prefix)
{
    kx_client *c = kxd_connect(p);
    struct kx_client_object *objs = NULL;
    size_t n = 0, found = 0;
    if (kx_client_ls(c, &objs, &n) == STATUS_SUCCESS)
        for (size_t i = 0; i < n; i++)
            found += !objs[i].is_device && strncmp(objs[i].name, prefix, strlen(prefix)) == 0;
    kx_client_objects_free(objs, n);
    kx_client_disconnect(c);
    return found;
}

static void expect_text(const struct kxd_proc *p, const char *link, const char *text)
{
    char buf[256];
    kx_status st = read_text(p, link, buf, sizeof buf);
    if (st != STATUS_SUCCESS || strcmp(buf, text) != 0)
        fail_msg("%s: %s \"%s\", wanted \"%s\"", link, kx_status_name(st), buf, text);
}

static void expect_count(const struct kxd_proc *p, const char *cls, const char *want)
{
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "./ioclasscount --socket %s %s", p->socket, cls), 0);
    assert_string_equal(out, want);
    free(out);
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

/* Open handles on every device: a reader's open has finished when it counts. */
static int open_handles(const struct kxd_proc *p)
{
    kx_client *c = kxd_connect(p);
    struct kx_client_object *objs = NULL;
    size_t n = 0;
    int total = 0;
    if (c && kx_client_ls(c, &objs, &n) == STATUS_SUCCESS)
        for (size_t i = 0; i < n; i++)
            total += objs[i].is_device ? (int)objs[i].handles : 0;
    kx_client_objects_free(objs, n);
    kx_client_disconnect(c);
    return total;
}

/* One reader's READ (not its OPEN) is waiting in kxd. */
static int one_read_waiting(const struct kxd_proc *p)
{
    return open_handles(p) == 1 && pending_requests(p) == 1;
}

#define SENSOR_A "5e750a01-0000-4000-8000-00000000000a"

struct sample_read {
    const struct kxd_proc *p;
    const char *link;
    char text[64];
    kx_status status;
    atomic_int done;
};

static void *read_sample_thread(void *arg)
{
    struct sample_read *r = arg;
    r->status = read_text(r->p, r->link, r->text, sizeof r->text);
    atomic_store(&r->done, 1);
    return NULL;
}

static void raise_sample_ready(const struct kxd_proc *p, const char *address)
{
    kx_client *c = kxd_connect(p);
    assert_int_equal(kx_client_event_raise(c, "sample_ready", address, NULL, 0, NULL),
                     STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* Events raised for Sensor that have not reached it yet. */
static uint32_t sample_events_queued(const struct kxd_proc *p)
{
    kx_client *c = kxd_connect(p);
    struct kx_client_event_stat *stats = NULL;
    size_t n = 0;
    uint32_t queued = 0;
    assert_int_equal(kx_client_event_list(c, &stats, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (strstr(stats[i].driver, "Sensor") && strstr(stats[i].names, "sample_ready"))
            queued += stats[i].queued;
    kx_client_event_stats_free(stats, n);
    kx_client_disconnect(c);
    return queued;
}

/* A Sensor read pends until sample_ready names its component, then answers the value. */
static void expect_sample(const struct kxd_proc *p, const char *link, const char *address,
                          const char *text)
{
    struct sample_read r = {.p = p, .link = link};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_sample_thread, &r), 0);
    /* the read may not have reached the driver yet, and an event may overtake it: raise
     * the event again (as a sensor samples again) until the read is answered */
    for (uint64_t start = t_now_ms(); !atomic_load(&r.done) && t_now_ms() - start < T_PATIENCE_MS;
         t_sleep_ms(10))
        raise_sample_ready(p, address);
    pthread_join(t, NULL);
    /* the extra events must not answer the next read: let them all reach the driver */
    T_WAIT_FOR(sample_events_queued(p) == 0);
    assert_int_equal(sample_events_queued(p), 0);
    if (r.status != STATUS_SUCCESS || strcmp(r.text, text) != 0)
        fail_msg("%s: %s \"%s\", wanted \"%s\"", link, kx_status_name(r.status), r.text, text);
}

static void test_sensor_instance_per_component_reads_its_register(void **state)
{
    struct kxd_proc *p = *state;
    char e[2048] = "";
    component(e, sizeof e, "sensor", 1, "sensor", SENSOR_A, 42, NULL);
    component(e, sizeof e, "sensor", 2, "sensor", "5E750B02-0000-4000-8000-00000000000B", 7, NULL);
    add(p, e);
    expect_count(p, "KXSensor", "KXSensor = 2\n");
    expect_sample(p, "/dev/sensor_5e750a_0", SENSOR_A, "42\n");
    /* the other component's address, in its own (upper) case: it wakes only its own reads */
    expect_sample(p, "/dev/sensor_5e750b_0", "5E750B02-0000-4000-8000-00000000000B", "7\n");
    /* kx device poke drives the hardware the driver reads through its proxy */
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "./kx device peek --socket %s " SENSOR_A " 0", p->socket), 0);
    assert_string_equal(out, "0x0000002a\n");
    free(out);
    assert_int_equal(
        kxd_run(NULL, "./kx device poke --socket %s " SENSOR_A " 0 0x1234", p->socket), 0);
    expect_sample(p, "/dev/sensor_5e750a_0", SENSOR_A, "4660\n");
    /* a read of the first sensor stays pending while sample_ready names only the second */
    struct sample_read waiting = {.p = p, .link = "/dev/sensor_5e750a_0"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_sample_thread, &waiting), 0);
    T_WAIT_FOR(one_read_waiting(p));
    raise_sample_ready(p, "5e750b02-0000-4000-8000-00000000000b");
    /* events reach the driver in order: once a later one was handled, so was that one */
    expect_sample(p, "/dev/sensor_5e750b_0", "5e750b02-0000-4000-8000-00000000000b", "7\n");
    assert_int_equal(pending_requests(p), 1);
    assert_int_equal(kxd_run(&out, "./kx device peek --socket %s " SENSOR_A " 6 2>&1", p->socket),
                     1);
    KXD_ASSERT_MATCHES(out, "offset 0x6: invalid parameter");
    free(out);
    assert_int_equal(kxd_run(&out,
                             "./kx device peek --socket %s 00000000-0000-4000-8000-000000000000 0 "
                             "2>&1",
                             p->socket),
                     1);
    KXD_ASSERT_MATCHES(out, "no component has that address");
    free(out);
    /* the component goes: its waiting read completes STATUS_DEVICE_REMOVED, its instance,
     * device and link go with it, the other stays */
    removed(p, "IOService:/kx/board/sensor@1");
    pthread_join(t, NULL);
    assert_int_equal(waiting.status, STATUS_DEVICE_REMOVED);
    assert_int_equal(links_with_prefix(p, "/dev/sensor_5e750a"), 0);
    expect_count(p, "KXSensor", "KXSensor = 1\n");
    expect_sample(p, "/dev/sensor_5e750b_0", "5e750b02-0000-4000-8000-00000000000b", "7\n");
    char buf[64];
    assert_int_equal(read_text(p, "/dev/sensor_5e750a_0", buf, sizeof buf), STATUS_NO_SUCH_FILE);
    assert_int_equal(kxd_run(NULL, "./kx device peek --socket %s " SENSOR_A " 0 2>/dev/null",
                             p->socket),
                     1);
}

static void test_device_add_refuses_a_component_without_uuid(void **state)
{
    struct kxd_proc *p = *state;
    char e[1024] = "", doc[1200];
    component(e, sizeof e, "sensor", 9, "sensor", "not-a-uuid", 1, NULL);
    snprintf(doc, sizeof doc, "<?xml version=\"1.0\"?><plist version=\"1.0\">%s</plist>", e);
    kx_client *c = kxd_connect(p);
    struct kx_client_nub *nubs = NULL;
    size_t n = 0;
    assert_int_equal(kx_client_device_add(c, "IOService:/kx/board", "bad.plist", doc,
                                          strlen(doc), &nubs, &n),
                     STATUS_DATA_ERROR);
    KXD_ASSERT_MATCHES(kx_client_message(c), "bad.plist: sensor@9: address: a KXComponent needs");
    kx_client_disconnect(c);
    expect_count(p, "KXComponent", "KXComponent = 0\n");
}

static void test_proxy_privilege_follows_the_driver_type(void **state)
{
    struct kxd_proc *p = *state;
    char e[2048] = "";
    component(e, sizeof e, "probe", 1, "probe", "00c0ffee-0000-4000-8000-000000000001", 5,
              "00decade-0000-4000-8000-000000000002");
    component(e, sizeof e, "probe", 2, "probe", "00decade-0000-4000-8000-000000000002", 6,
              "00c0ffee-0000-4000-8000-000000000001");
    add(p, e);
    /* a KMD may open any component, a CMD only its own, a UMD none */
    expect_text(p, "/dev/compkmd_00c0ff_0", "own=STATUS_SUCCESS other=STATUS_SUCCESS value=5\n");
    expect_text(p, "/dev/compcmd_00c0ff_0",
                "own=STATUS_SUCCESS other=STATUS_ACCESS_DENIED value=5\n");
    expect_text(p, "/dev/compcmd_00deca_0",
                "own=STATUS_SUCCESS other=STATUS_ACCESS_DENIED value=6\n");
    expect_text(p, "/dev/compumd_00c0ff_0",
                "own=STATUS_ACCESS_DENIED other=STATUS_ACCESS_DENIED value=0\n");
    /* DriverEntry checked that nothing is bound outside AddDevice (it fails otherwise) */
    expect_count(p, "KXCompKMD KXCompCMD KXCompUMD",
                 "KXCompKMD = 2\nKXCompCMD = 2\nKXCompUMD = 2\n");

    /* the KMD on the first component keeps a proxy on the second: once that is gone, the
     * proxy answers STATUS_DEVICE_REMOVED and nothing else breaks */
    kx_client *c = kxd_connect(p);
    uint32_t h = 0;
    char buf[64];
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/compkmd_00c0ff_0", KX_ACCESS_READ, &h),
                     STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 8, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_memory_equal(buf, "other value=6\n", got);
    removed(p, "IOService:/kx/board/probe@2");
    assert_int_equal(kx_client_read(c, h, 8, buf, sizeof buf, 0, &got), STATUS_DEVICE_REMOVED);
    kx_client_disconnect(c);
    expect_text(p, "/dev/compkmd_00c0ff_0", "own=STATUS_SUCCESS other=STATUS_SUCCESS value=5\n");
    expect_count(p, "KXCompKMD", "KXCompKMD = 1\n");
}

static void test_short_address_collisions_grow_the_name(void **state)
{
    struct kxd_proc *p = *state;
    char e[4096] = "";
    component(e, sizeof e, "sensor", 1, "sensor", "abcdef12-0000-4000-8000-000000000001", 1, NULL);
    component(e, sizeof e, "sensor", 2, "sensor", "abcdef12-0000-4000-8000-000000000002", 2, NULL);
    component(e, sizeof e, "sensor", 3, "sensor", "abcdef12-0000-4000-8000-000000000003", 3, NULL);
    add(p, e);
    /* matched in order: 6 digits, then 8, then 12; never one device taking another's name */
    expect_sample(p, "/dev/sensor_abcdef_0", "abcdef12-0000-4000-8000-000000000001", "1\n");
    expect_sample(p, "/dev/sensor_abcdef12_0", "abcdef12-0000-4000-8000-000000000002", "2\n");
    expect_sample(p, "/dev/sensor_abcdef120000_0", "abcdef12-0000-4000-8000-000000000003",
                  "3\n");
    assert_int_equal(links_with_prefix(p, "/dev/sensor_abcdef"), 3);
}

#define LUA_SENSOR "1a5e7501-0000-4000-8000-000000000001"
#define LUA_SENSOR_B "2b5e7502-0000-4000-8000-000000000002"

static int log_has(const struct kxd_proc *p, const char *text)
{
    char *log = NULL;
    kxd_run(&log, "KX_SOCKET=%s ./kx log", p->socket);
    int found = log && strstr(log, text) != NULL;
    free(log);
    return found;
}

/* drivers/LuaSensor: a Lua CMD driver opens its own component's proxy in fAddDevice; its
 * reads pend until DkRegisterInterrupt hears sample_ready for its own component, and it
 * counts samples in its instance's registry property (DkGetProperty/DkSetProperty). */
static void test_lua_sensor_reads_its_register_on_its_own_events(void **state)
{
    struct kxd_proc *p = *state;
    char e[2048] = "";
    component(e, sizeof e, "lsensor", 1, "lua-sensor", LUA_SENSOR, 99, NULL);
    component(e, sizeof e, "lsensor", 2, "lua-sensor", LUA_SENSOR_B, 5, NULL);
    add(p, e);
    expect_count(p, "KXLuaSensor", "KXLuaSensor = 2\n");
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "./ioreg -l -w0 --socket %s", p->socket), 0);
    assert_int_equal(kxd_count_matches(out, "\"KXLuaSensorSamples\" = 0"), 2);
    free(out);
    expect_sample(p, "/dev/luasensor_1a5e75_0", LUA_SENSOR, "99\n");
    T_WAIT_FOR(log_has(p, "LuaSensor: sample_ready from " LUA_SENSOR " #1, sample 1"));
    assert_true(log_has(p, "LuaSensor: sample_ready from " LUA_SENSOR " #1, sample 1"));
    assert_int_equal(
        kxd_run(NULL, "./kx device poke --socket %s " LUA_SENSOR " 0 0x10", p->socket), 0);
    expect_sample(p, "/dev/luasensor_1a5e75_0", LUA_SENSOR, "16\n");
    /* the other component's events (in upper case) wake only its own reads */
    expect_sample(p, "/dev/luasensor_2b5e75_0", "2B5E7502-0000-4000-8000-000000000002", "5\n");

    out = NULL;
    assert_int_equal(kxd_run(&out, "./ioreg -l -w0 --socket %s", p->socket), 0);
    /* expect_sample raises events until the read is answered: each counted at least one */
    assert_int_equal(kxd_count_matches(out, "\"KXLuaSensorSamples\" = [1-9]"), 2);
    free(out);

    /* a waiting read: fRemoveDevice completes it STATUS_DEVICE_REMOVED, releases the proxy
     * and deletes the device */
    struct sample_read waiting = {.p = p, .link = "/dev/luasensor_1a5e75_0"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_sample_thread, &waiting), 0);
    T_WAIT_FOR(one_read_waiting(p));
    assert_int_equal(pending_requests(p), 1);
    removed(p, "IOService:/kx/board/lsensor@1");
    pthread_join(t, NULL);
    assert_int_equal(waiting.status, STATUS_DEVICE_REMOVED);
    expect_count(p, "KXLuaSensor", "KXLuaSensor = 1\n");
    assert_int_equal(links_with_prefix(p, "/dev/luasensor_1a5e75"), 0);
    removed(p, "IOService:/kx/board/lsensor@2");
    expect_count(p, "KXLuaSensor", "KXLuaSensor = 0\n");
    assert_int_equal(links_with_prefix(p, "/dev/luasensor_"), 0);
}

#define BULK 100

struct batch {
    const struct kxd_proc *p;
    kx_client *c;
    uint32_t handles[BULK / 2];
    struct kx_client_io ios[BULK / 2];
    char bufs[BULK / 2][16];
};

static void *pend_reads(void *arg)
{
    struct batch *b = arg;
    for (size_t i = 0; i < BULK / 2; i++)
        b->ios[i] = (struct kx_client_io){.op = KX_CLIENT_OP_READ,
                                          .handle = b->handles[i],
                                          .offset = 4096, /* CompCMD pends it */
                                          .timeout_ms = UINT32_MAX,
                                          .out = b->bufs[i],
                                          .out_len = sizeof b->bufs[i]};
    kx_client_submit(b->c, b->ios, BULK / 2);
    return NULL;
}

/* Entries below (and with) entry in a registry dump. */
static size_t entries_below(plist_t entry)
{
    size_t n = 1;
    plist_t kids = plist_dict_get_item(entry, "IORegistryEntryChildren");
    for (uint32_t i = 0; kids && i < plist_array_get_size(kids); i++)
        n += entries_below(plist_array_get_item(kids, i));
    return n;
}

/* What kxd holds that a component's life could leave behind: registry entries in both
 * planes, descriptors, bytes charged to clients. */
struct holdings {
    size_t entries[2], fds;
    uint64_t bytes_held;
};

static struct holdings holdings(const struct kxd_proc *p)
{
    struct holdings h = {{0, 0}, 0, 0};
    kx_client *c = kxd_connect(p);
    for (uint32_t plane = 0; plane < 2; plane++) {
        void *data = NULL;
        size_t len = 0;
        plist_t root = NULL;
        assert_int_equal(kx_client_registry(c, plane, &data, &len), STATUS_SUCCESS);
        plist_from_bin(data, (uint32_t)len, &root);
        free(data);
        assert_non_null(root);
        h.entries[plane] = entries_below(root);
        plist_free(root);
    }
    struct kx_client_server s;
    assert_int_equal(kx_client_server(c, &s), STATUS_SUCCESS);
    h.bytes_held = s.bytes_held;
    kx_client_server_free(&s);
    kx_client_disconnect(c);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "ls /proc/%d/fd | wc -l", (int)p->pid);
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "%s", cmd), 0);
    h.fds = (size_t)strtoul(out, NULL, 10);
    free(out);
    return h;
}

static int same_holdings(const struct holdings *a, const struct holdings *b)
{
    return a->entries[0] == b->entries[0] && a->entries[1] == b->entries[1] &&
           a->fds == b->fds && a->bytes_held == b->bytes_held;
}

static void test_hundred_components_removed_under_pending_reads(void **state)
{
    struct kxd_proc *p = *state;
    size_t len = BULK * 600;
    char *e = calloc(1, len);
    assert_non_null(e);
    char addr[BULK][40], link[BULK][64];
    /* the baseline: CompCMD loaded (its host's transport is kxd's too) and idle again */
    component(e, len, "warmup", 0, "bulk", "0ddba11c-0000-4000-8000-000000000000", 1, NULL);
    add(p, e);
    removed(p, "IOService:/kx/board/warmup@0");
    e[0] = 0;
    T_WAIT_FOR(links_with_prefix(p, "/dev/compcmd_") == 0);
    const struct holdings before = holdings(p);
    for (unsigned i = 0; i < BULK; i++) {
        snprintf(addr[i], sizeof addr[i], "%06x00-0000-4000-8000-%012x", 0xb00000 + i, i);
        snprintf(link[i], sizeof link[i], "/dev/compcmd_%06x_0", 0xb00000 + i);
        component(e, len, "bulk", i, "bulk", addr[i], 1000 + i, NULL);
    }
    add(p, e);
    free(e);
    expect_count(p, "KXCompCMD", "KXCompCMD = 100\n");
    for (unsigned i = 0; i < BULK; i++) {
        char want[80];
        snprintf(want, sizeof want, "own=STATUS_SUCCESS other=STATUS_NO_SUCH_DEVICE value=%u\n",
                 1000 + i);
        expect_text(p, link[i], want);
    }
    /* two connections, fifty reads each, all pending in the drivers */
    struct batch b[2];
    pthread_t t[2];
    for (size_t k = 0; k < 2; k++) {
        b[k].p = p;
        b[k].c = kxd_connect(p);
        for (size_t i = 0; i < BULK / 2; i++)
            assert_int_equal(kx_client_open(b[k].c, link[k * (BULK / 2) + i], KX_ACCESS_READ,
                                            &b[k].handles[i]),
                             STATUS_SUCCESS);
        assert_int_equal(pthread_create(&t[k], NULL, pend_reads, &b[k]), 0);
    }
    T_WAIT_FOR(pending_requests(p) == BULK);
    assert_int_equal(pending_requests(p), BULK);
    /* removed in a shuffled order (a fixed seed: the same order every run) */
    unsigned order[BULK];
    for (unsigned i = 0; i < BULK; i++)
        order[i] = i;
    unsigned seed = 14;
    for (unsigned i = BULK - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        unsigned j = (seed >> 16) % (i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (unsigned i = 0; i < BULK; i++) {
        char path[64];
        snprintf(path, sizeof path, "IOService:/kx/board/bulk@%x", order[i]);
        removed(p, path);
    }
    for (size_t k = 0; k < 2; k++) {
        pthread_join(t[k], NULL);
        for (size_t i = 0; i < BULK / 2; i++)
            if (b[k].ios[i].status != STATUS_DEVICE_REMOVED)
                fail_msg("read %zu: %s", k * (BULK / 2) + i, kx_status_name(b[k].ios[i].status));
        kx_client_disconnect(b[k].c);
    }
    assert_int_equal(links_with_prefix(p, "/dev/compcmd_"), 0);
    expect_count(p, "KXCompCMD KXComponent", "KXCompCMD = 0\nKXComponent = 0\n");
    char buf[64];
    assert_int_equal(read_text(p, link[0], buf, sizeof buf), STATUS_NO_SUCH_FILE);
    /* memory back to the baseline: every entry, descriptor and charged byte given back
     * (closing connections may lag the last answer a little) */
    struct holdings after;
    T_WAIT_FOR((after = holdings(p), same_holdings(&after, &before)));
    assert_int_equal(after.entries[0], before.entries[0]);
    assert_int_equal(after.entries[1], before.entries[1]);
    assert_int_equal(after.fds, before.fds);
    assert_int_equal(after.bytes_held, before.bytes_held);
}

/* kxd on this machine's own PCI functions, with PCIConfig alone. */
static int setup_linux(void **state)
{
    struct kxd_proc *p = calloc(1, sizeof *p);
    const char *build = getenv("KX_BUILD_DIR");
    snprintf(p->dir, sizeof p->dir, "/tmp/kxd-pciconf-XXXXXX");
    if (!build || !mkdtemp(p->dir) || chmod(p->dir, 0755) != 0)
        return -1;
    snprintf(p->ext, sizeof p->ext, "%s/ext", p->dir);
    if (kxd_sh("mkdir %s && cp -a %s/extensions/PCIConfig.kext %s/", p->ext, build, p->ext) != 0)
        return -1;
    const char *args[] = {"--platform", "linux", NULL};
    if (kxd_start_args(p, args) != 0)
        return -1;
    *state = p;
    return 0;
}

/* `lspci -xxx`'s bytes of function pci (its "OO: xx xx ..." lines, 256 bytes as root):
 * how many it gave, 0 when lspci isn't installed or says nothing. */
static size_t lspci_bytes(const char *pci, unsigned char *out, size_t cap)
{
    char cmd[128], line[256];
    snprintf(cmd, sizeof cmd, "lspci -xxx -s %s 2>/dev/null", pci);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned off = 0;
        int used = 0;
        if (sscanf(line, "%x:%n", &off, &used) != 1 || line[used] != ' ' || off != n)
            continue; /* the title line */
        const char *p = line + used;
        unsigned byte = 0;
        int k = 0;
        while (n < cap && sscanf(p, " %2x%n", &byte, &k) == 1) {
            out[n++] = (unsigned char)byte;
            p += k;
        }
    }
    if (f)
        pclose(f);
    return n;
}

/* The first PCI function of domain 0 whose configuration space this process reads whole. */
static int readable_function(unsigned char config[4096], size_t *size, char link[64],
                             char pci[16])
{
    FILE *ls = popen("ls /sys/bus/pci/devices 2>/dev/null", "r");
    char name[64];
    int found = 0;
    while (ls && !found && fgets(name, sizeof name, ls)) {
        unsigned bus, dev, fn;
        name[strcspn(name, "\n")] = 0;
        if (sscanf(name, "0000:%x:%x.%x", &bus, &dev, &fn) != 3)
            continue;
        char path[128];
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/config", name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        *size = fread(config, 1, 4096, f);
        fclose(f);
        snprintf(link, 64, "/dev/pciconf_%02x_%02x_%x", bus, dev, fn);
        snprintf(pci, 16, "0000:%02x:%02x.%x", bus, dev, fn);
        found = *size > 64; /* more than an unprivileged reader sees */
    }
    if (ls)
        pclose(ls);
    return found;
}

static void test_pci_config_space_equals_sysfs_and_lspci(void **state)
{
    struct kxd_proc *p = *state;
    unsigned char want[4096], got[4096];
    size_t size = 0;
    char link[64], pci[16];
    if (!readable_function(want, &size, link, pci)) {
        print_message("[  SKIPPED ] no PCI function with a readable configuration space here\n");
        skip();
    }
    T_WAIT_FOR(links_with_prefix(p, link) == 1);
    kx_client *c = kxd_connect(p);
    uint32_t h = 0;
    assert_int_equal(kx_client_open(c, link, KX_ACCESS_READ, &h), STATUS_SUCCESS);
    size_t total = 0, n = 0;
    kx_status st;
    do
        st = kx_client_read(c, h, total, got + total, sizeof got - total, 0, &n);
    while (st == STATUS_SUCCESS && n && (total += n) < sizeof got);
    assert_int_equal(st, total == sizeof got ? STATUS_SUCCESS : STATUS_END_OF_FILE);
    assert_int_equal(total, size);
    assert_memory_equal(got, want, size);
    kx_client_disconnect(c);
    /* and what lspci shows (its 256 bytes as root), where it is installed */
    unsigned char shown[256];
    size_t shown_len = lspci_bytes(pci, shown, sizeof shown);
    if (!shown_len) {
        print_message("[  SKIPPED ] lspci -xxx: not installed or silent here; compared with "
                      "sysfs only\n");
        return;
    }
    assert_true(shown_len <= total);
    assert_memory_equal(got, shown, shown_len);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, kxd_teardown_tree)
    const struct CMUnitTest tests[] = {
        T(test_sensor_instance_per_component_reads_its_register),
        T(test_device_add_refuses_a_component_without_uuid),
        T(test_proxy_privilege_follows_the_driver_type),
        T(test_short_address_collisions_grow_the_name),
        T(test_hundred_components_removed_under_pending_reads),
        T(test_lua_sensor_reads_its_register_on_its_own_events),
        cmocka_unit_test_setup_teardown(test_pci_config_space_equals_sysfs_and_lspci, setup_linux,
                                        kxd_teardown_tree),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
