/* test_kernel_match.c — the kernel's matching runtime, in-process: a kernel
 * boots the kexts of tests/kernel/kexts on a platform file with two Intel I219
 * functions, and phase 2 is matching. What wins loads and drives (per match:
 * Probe, AddDevice, devices, child nubs, resources); what loses, declines or
 * fails gives way in order; what has no personality stays unloaded; nubs
 * and kexts going away take their drivers' instances with them, clients first,
 * completing pending IRPs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "patience.h"
#include "platform/sysfs_fixture.h"

#include <kx/kernel.h>
#include <kx/kmdf.h>
#include <pthread.h>
#include <kx/registry.h>
#include <plist/plist.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define IOCTL_MATCH_VENDOR 0x00222000u /* CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, BUFFERED, ANY) */

static const struct kx_io_cred root_cred = {1, 0, 0};

static struct kx_kernel *boot_on(uint32_t idle_unload_s, const char *platform)
{
    char dir[512], samples[512];
    snprintf(dir, sizeof dir, "%s/tests/match-extensions", getenv("KX_BUILD_DIR"));
    snprintf(samples, sizeof samples, "%s/extensions", getenv("KX_BUILD_DIR"));
    const char *dirs[] = {dir, samples};
    struct kx_io_config io = {sizeof io, NULL, 60000, 60000, 60000, 60000, 1024, NULL, NULL, 0, 0};
    struct kx_kernel_config cfg = {
        sizeof cfg, NULL, dirs, 2, 1, &io, KX_BOOT_LOCAL, NULL, KX_BOOT_NO_CACHE, idle_unload_s};
    struct kx_kernel *k = NULL;
    assert_int_equal(kx_kernel_new(&cfg, &k), STATUS_SUCCESS);
    char *report = NULL;
    kx_kernel_boot_phase(k, 1, 0, &report);
    free(report);
    char why[256];
    assert_int_equal(kx_kernel_publish_platform(k, platform, why, sizeof why), STATUS_SUCCESS);
    kx_kernel_boot_phase(k, 2, 0, &report);
    free(report);
    return k;
}

/* A kernel booted on the platform file with two Intel I219 functions. */
static struct kx_kernel *boot(uint32_t idle_unload_s)
{
    char platform[512];
    snprintf(platform, sizeof platform, "%s/tests/kernel/fixtures/two-nics.plist",
             getenv("KX_SOURCE_DIR"));
    return boot_on(idle_unload_s, platform);
}

static int loaded(struct kx_kernel *k, const char *id)
{
    struct kx_kernel_kext_stat *s;
    size_t n;
    assert_int_equal(kx_kernel_stat(k, &s, &n), STATUS_SUCCESS);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= strcmp(s[i].id, id) == 0;
    kx_kernel_stat_free(s, n);
    return found;
}

/* How many kernel log lines contain text; *order_of (may be NULL) gets the
 * sequence number of the first. */
static int log_count(struct kx_kernel *k, const char *text, uint64_t *first_seq)
{
    static struct kx_io_log_line lines[1024];
    size_t n = kx_io_log_read(kx_kernel_io(k), 0, lines, 1024);
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (strstr(lines[i].text, text)) {
            if (!count && first_seq)
                *first_seq = lines[i].seq;
            count++;
        }
    return count;
}

static int exists(struct kx_kernel *k, const char *link)
{
    kx_io_handle h;
    kx_status st = kx_io_open(kx_kernel_io(k), link, &root_cred, 0, 0, &h);
    if (st == STATUS_SUCCESS)
        kx_io_close(kx_kernel_io(k), h);
    return st == STATUS_SUCCESS;
}

/* The registry ids of the IOPCIDevice nubs, in id order (2 of them). */
static void pci_nubs(struct kx_kernel *k, kx_reg_id out[2])
{
    kx_reg_id *ids;
    size_t n;
    assert_int_equal(kx_reg_find_class(kx_kernel_registry(k), "IOPCIDevice", &ids, &n),
                     STATUS_SUCCESS);
    assert_int_equal(n, 2);
    out[0] = ids[0];
    out[1] = ids[1];
    free(ids);
}

static void test_winners_load_and_drive_each_match(void **state)
{
    (void)state;
    struct kx_kernel *k = boot(0);
    assert_true(loaded(k, "org.kx.test.MatchPCI"));
    assert_false(loaded(k, "org.kx.test.NoPersonality")); /* only on request */
    assert_false(loaded(k, "org.kx.test.NoMatch"));
    assert_int_equal(log_count(k, "MatchPCI: DriverEntry", NULL), 1); /* one load ... */
    assert_int_equal(log_count(k, "MatchPCI: AddDevice", NULL), 2);   /* ... two matches */
    assert_true(exists(k, "/dev/matchpci-1f,6"));
    assert_true(exists(k, "/dev/matchpci-1c"));

    /* The driver reads its nub's properties. */
    kx_io_handle h;
    assert_int_equal(kx_io_open(kx_kernel_io(k), "/dev/matchpci-1f,6", &root_cred, 0, 0, &h),
                     STATUS_SUCCESS);
    unsigned char vendor[8] = {0};
    size_t n = 0;
    assert_int_equal(
        kx_io_ioctl(kx_kernel_io(k), h, IOCTL_MATCH_VENDOR, NULL, 0, vendor, sizeof vendor, 0, &n),
        STATUS_SUCCESS);
    assert_int_equal(n, 4);
    assert_int_equal(vendor[0] | vendor[1] << 8, 0x8086);
    kx_io_close(kx_kernel_io(k), h);

    /* Each match is an instance entry over its nub, carrying its category
     * and what the driver set on it. */
    kx_reg_id nubs[2], *clients;
    size_t nc;
    pci_nubs(k, nubs);
    struct kx_reg *reg = kx_kernel_registry(k);
    assert_int_equal(kx_reg_children(reg, nubs[0], KX_REG_SERVICE, &clients, &nc), STATUS_SUCCESS);
    kx_reg_id mine = 0;
    int n_pciinfo = 0;
    for (size_t i = 0; i < nc; i++) { /* MatchPCI's, and the sample PCIInfo's */
        struct kx_reg_info info;
        assert_int_equal(kx_reg_info(reg, clients[i], &info), STATUS_SUCCESS);
        if (strcmp(info.class_name, "KXMatchPCI") == 0)
            mine = clients[i];
        n_pciinfo += strcmp(info.class_name, "KXPCIInfo") == 0;
    }
    free(clients);
    assert_int_equal(nc, 2);
    assert_int_equal(n_pciinfo, 1);
    assert_true(mine != 0);
    plist_t v = NULL;
    assert_int_equal(kx_reg_prop_copy(reg, mine, "IOMatchCategory", &v), STATUS_SUCCESS);
    assert_string_equal(plist_get_string_ptr(v, NULL), "IODefaultMatchCategory");
    plist_free(v);
    assert_int_equal(kx_reg_prop_copy(reg, mine, "KXTestSeen", &v), STATUS_SUCCESS);
    assert_non_null(v);
    plist_free(v);
    assert_int_equal(kx_reg_prop_copy(reg, nubs[0], "KXTestSeen", &v), STATUS_SUCCESS);
    assert_null(v); /* the nub refused the driver's write */
    kx_kernel_free(k);
}

/* The sample PCIInfo drives every PCI function too, in a category of its own,
 * describing each from its nub's properties. */
static void test_sample_pciinfo_describes_each_function(void **state)
{
    (void)state;
    struct kx_kernel *k = boot(0);
    struct kx_io *io = kx_kernel_io(k);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/pciinfo-1f,6", &root_cred, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    char text[256] = "";
    size_t n = 0;
    assert_int_equal(kx_io_read(io, h, text, sizeof text - 1, 0, 0, &n), STATUS_SUCCESS);
    assert_string_equal(text, "pci8086,15b8 at 1f,6: vendor 0x8086 device 0x15b8 subsystem "
                              "0x0000:0x0000 class 0x020000 revision 0x00\n");
    kx_io_close(io, h);
    assert_true(exists(k, "/dev/pciinfo-1c"));
    assert_true(exists(k, "/dev/matchpci-1c")); /* its category took nothing from MatchPCI */
    kx_kernel_free(k);
}

static void test_decline_and_failure_give_way_in_order(void **state)
{
    (void)state;
    struct kx_kernel *k = boot(0);
    uint64_t decline = 0, fail = 0, win = 0;
    assert_int_equal(log_count(k, "MatchDecline: Probe pci8086,15b8 score 100", &decline), 2);
    assert_int_equal(log_count(k, "MatchFail: AddDevice", &fail), 2);
    assert_int_equal(log_count(k, "MatchPCI: AddDevice", &win), 2);
    assert_true(decline < fail && fail < win); /* score 100, then 50, then 0 */
    assert_int_equal(log_count(k, "MatchDecline: AddDevice", NULL), 0);
    assert_false(exists(k, "\\Device\\MatchFail")); /* the failed match left nothing */
    kx_kernel_free(k);
}

static void test_driver_nubs_and_resources_are_matched(void **state)
{
    (void)state;
    struct kx_kernel *k = boot(0);
    /* MatchPCI published a KXTestChild nub (a class it declares) per match:
     * MatchChild drives each. It published KXTestResource: MatchWaiter, which
     * waited for it on IOResources, drives IOResources now. */
    assert_true(exists(k, "/dev/matchchild-1f,6"));
    assert_true(exists(k, "/dev/matchchild-1c"));
    assert_true(exists(k, "/dev/matchwaiter"));
    assert_true(kx_reg_resource_published(kx_kernel_registry(k), "KXTestResource"));
    kx_reg_id *ids;
    size_t n;
    assert_int_equal(kx_reg_find_class(kx_kernel_registry(k), "KXTestChild", &ids, &n),
                     STATUS_SUCCESS);
    assert_int_equal(n, 2);
    free(ids);
    kx_kernel_free(k);
}

struct answer {
    _Atomic int done;
    kx_status st;
};

static void on_answer(void *arg, kx_status st, size_t info)
{
    struct answer *a = arg;
    (void)info;
    a->st = st;
    a->done = 1;
}

static void test_terminating_a_nub_removes_its_drivers_clients_first(void **state)
{
    (void)state;
    struct kx_kernel *k = boot(0);
    struct kx_io *io = kx_kernel_io(k);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/matchpci-1f,6", &root_cred, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    char buf[8];
    struct answer a = {0};
    struct kx_io_req r = {.op = KX_IO_OP_READ,
                          .out = buf,
                          .out_len = sizeof buf,
                          .timeout_ms = KX_IO_TIMEOUT_NONE,
                          .done = on_answer,
                          .arg = &a};
    assert_int_equal(kx_io_submit(io, h, &r, 1), STATUS_SUCCESS);

    kx_reg_id nubs[2];
    pci_nubs(k, nubs);
    char path[256];
    assert_int_equal(kx_reg_path(kx_kernel_registry(k), nubs[0], KX_REG_SERVICE, path, sizeof path),
                     STATUS_SUCCESS);
    assert_non_null(strstr(path, "@1f,6"));
    assert_int_equal(kx_kernel_terminate_nub(k, nubs[0]), STATUS_SUCCESS);

    T_WAIT_FOR(a.done);
    assert_int_equal(a.st, STATUS_DEVICE_REMOVED); /* the pending read, answered */
    uint64_t child = 0, parent = 0;
    assert_int_equal(log_count(k, "MatchChild: RemoveDevice child", &child), 1);
    assert_int_equal(log_count(k, "MatchPCI: RemoveDevice pci8086,15b8", &parent), 1);
    assert_true(child < parent); /* depth first */
    assert_false(exists(k, "/dev/matchpci-1f,6"));
    assert_false(exists(k, "/dev/matchchild-1f,6"));
    assert_true(exists(k, "/dev/matchpci-1c")); /* the other function is untouched */
    assert_int_equal(kx_reg_info(kx_kernel_registry(k), nubs[0], &(struct kx_reg_info){0}),
                     STATUS_NO_SUCH_DEVICE);
    assert_int_equal(kx_io_close(io, h), STATUS_INVALID_HANDLE); /* revoked */
    assert_int_equal(kx_kernel_terminate_nub(k, kx_reg_resources(kx_kernel_registry(k))),
                     STATUS_ACCESS_DENIED);
    kx_kernel_free(k);
}

static void test_kextunload_class_then_personalities(void **state)
{
    (void)state;
    struct kx_kernel *k = boot(0);
    char *report = NULL;
    /* -c CLASS: the class's instances go; code and personalities stay. */
    assert_int_equal(kx_kernel_unload(k, "KXMatchPCI", NULL, KX_KERNEL_UNLOAD_CLASS, &report),
                     STATUS_SUCCESS);
    assert_non_null(strstr(report, "Terminated 2 instance(s) of class KXMatchPCI"));
    free(report);
    assert_true(loaded(k, "org.kx.test.MatchPCI"));
    assert_false(exists(k, "/dev/matchpci-1c"));
    assert_false(exists(k, "/dev/matchchild-1c")); /* its nubs' drivers went first */
    /* ... so a rematch brings them back. */
    kx_kernel_match_all(k);
    kx_kernel_match_wait(k);
    assert_true(exists(k, "/dev/matchpci-1c"));
    /* -p: instances and personalities go, the code stays; a rematch finds no
     * driver for the NICs. */
    assert_int_equal(
        kx_kernel_unload(k, "org.kx.test.MatchPCI", NULL, KX_KERNEL_UNLOAD_PERSONALITIES, &report),
        STATUS_SUCCESS);
    assert_non_null(strstr(report, "removed 1 personality"));
    free(report);
    assert_true(loaded(k, "org.kx.test.MatchPCI"));
    kx_kernel_match_all(k);
    kx_kernel_match_wait(k);
    assert_false(exists(k, "/dev/matchpci-1c"));
    /* kextload sends the personalities again and matches: back. */
    assert_int_equal(kx_kernel_load(k, "org.kx.test.MatchPCI", NULL, 0, &report), STATUS_SUCCESS);
    free(report);
    kx_kernel_match_wait(k);
    assert_true(exists(k, "/dev/matchpci-1c"));
    kx_kernel_free(k);
}

static void test_kextunload_waits_for_open_devices_then_takes_everything(void **state)
{
    (void)state;
    struct kx_kernel *k = boot(0);
    kx_io_handle h;
    assert_int_equal(
        kx_io_open(kx_kernel_io(k), "/dev/matchpci-1c", &root_cred, KX_IO_ACCESS_READ, 0, &h),
        STATUS_SUCCESS);
    char *report = NULL;
    assert_int_equal(kx_kernel_unload(k, "org.kx.test.MatchPCI", NULL, 0, &report),
                     STATUS_KEXT_IN_USE);
    assert_non_null(strstr(report, "open by pid 1"));
    free(report);
    assert_true(exists(k, "/dev/matchpci-1f,6")); /* nothing was taken */
    kx_io_close(kx_kernel_io(k), h);
    assert_int_equal(kx_kernel_unload(k, "org.kx.test.MatchPCI", NULL, 0, &report), STATUS_SUCCESS);
    free(report);
    assert_false(loaded(k, "org.kx.test.MatchPCI"));
    assert_false(exists(k, "/dev/matchpci-1c"));
    assert_int_equal(log_count(k, "MatchPCI: RemoveDevice", NULL), 2);
    /* Its personalities went with it: a rematch doesn't bring it back. */
    kx_kernel_match_all(k);
    kx_kernel_match_wait(k);
    assert_false(loaded(k, "org.kx.test.MatchPCI"));
    kx_kernel_free(k);
}

static void test_idle_kexts_unload(void **state)
{
    (void)state;
    struct kx_kernel *k = boot(1);
    kx_reg_id nubs[2];
    pci_nubs(k, nubs);
    assert_true(loaded(k, "org.kx.test.MatchPCI"));
    assert_int_equal(kx_kernel_terminate_nub(k, nubs[0]), STATUS_SUCCESS);
    assert_int_equal(kx_kernel_terminate_nub(k, nubs[1]), STATUS_SUCCESS);
    /* No instance left: after a second of that it unloads, and so do the
     * kexts that were tried and declined. */
    T_WAIT_FOR(!loaded(k, "org.kx.test.MatchPCI"));
    assert_false(loaded(k, "org.kx.test.MatchPCI"));
    T_WAIT_FOR(!loaded(k, "org.kx.test.MatchDecline"));
    assert_false(loaded(k, "org.kx.test.MatchDecline"));
    assert_true(loaded(k, "org.kx.test.MatchWaiter")); /* still drives IOResources */
    kx_kernel_free(k);
}

/* On a (fake) Linux machine: udev's remove takes the I219's drivers away,
 * answering a pending read; add brings them back. */
static void test_hot_unplug_and_replug_on_linux(void **state)
{
    (void)state;
    char *root = sfx_new();
    sfx_machine(root);
    char platform[600];
    snprintf(platform, sizeof platform, "linux:%s", root);
    struct kx_kernel *k = boot_on(0, platform);
    struct kx_io *io = kx_kernel_io(k);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/matchpci-1F,6", &root_cred, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    char buf[8];
    struct answer a = {0};
    struct kx_io_req r = {.op = KX_IO_OP_READ, .out = buf, .out_len = sizeof buf,
                          .timeout_ms = KX_IO_TIMEOUT_NONE, .done = on_answer, .arg = &a};
    assert_int_equal(kx_io_submit(io, h, &r, 1), STATUS_SUCCESS);

    sfx_remove(root, SFX_GIGE);
    assert_int_equal(kx_kernel_platform_event(k, "remove", "/devices/pci0000:00/0000:00:1f.6"),
                     STATUS_SUCCESS);
    T_WAIT_FOR(a.done);
    assert_int_equal(a.st, STATUS_DEVICE_REMOVED);
    assert_false(exists(k, "/dev/matchpci-1F,6"));
    assert_false(exists(k, "/dev/pciinfo-1F,6"));
    assert_true(exists(k, "/dev/pciinfo-1F,3")); /* the HDA function stays */

    sfx_pci(root, SFX_GIGE, 0x8086, 0x15b8, 0x1458, 0xe000, 0x020000, 0x10);
    assert_int_equal(kx_kernel_platform_event(k, "add", "/devices/pci0000:00/0000:00:1f.6"),
                     STATUS_SUCCESS);
    assert_true(exists(k, "/dev/matchpci-1F,6"));
    kx_kernel_free(k);
    sfx_free(root);
}

/* Hot-plug as named events (issue 14): a driver registered for
 * device_added / device_removed hears each applied udev event, with the
 * device's sysfs path as source, in order. */
static struct {
    pthread_mutex_t lock;
    char log[1024];
} hp_heard = {PTHREAD_MUTEX_INITIALIZER, ""};

static void on_hotplug(PDRIVER_OBJECT d, const KX_EVENT *e, void *ctx)
{
    (void)d;
    (void)ctx;
    const char *tail = strstr(e->Source, "/devices/");
    pthread_mutex_lock(&hp_heard.lock);
    size_t n = strlen(hp_heard.log);
    snprintf(hp_heard.log + n, sizeof hp_heard.log - n, "%s %s;", e->Name, tail ? tail : e->Source);
    pthread_mutex_unlock(&hp_heard.lock);
}

static kx_status hotplug_entry(PDRIVER_OBJECT d)
{
    kx_status st = DkRegisterInterrupt(d, "device_added", on_hotplug, NULL);
    return st == STATUS_SUCCESS ? DkRegisterInterrupt(d, "device_removed", on_hotplug, NULL) : st;
}

static int hp_heard_is(const char *text)
{
    pthread_mutex_lock(&hp_heard.lock);
    int same = strcmp(hp_heard.log, text) == 0;
    pthread_mutex_unlock(&hp_heard.lock);
    return same;
}

static void test_hot_plug_raises_device_events(void **state)
{
    (void)state;
    char *root = sfx_new();
    sfx_machine(root);
    char platform[600];
    snprintf(platform, sizeof platform, "linux:%s", root);
    struct kx_kernel *k = boot_on(0, platform);
    struct kx_driver_info info = {KX_DRIVER_INFO_MAGIC, KX_DRIVER_INFO_ABI,
                                  sizeof(struct kx_driver_info), DRIVER_TYPE_KMD, 500, 0,
                                  "HotplugEvents", "1.0.0"};
    struct kx_io_driver_params p = {sizeof p, &info, hotplug_entry, NULL, 0, NULL, NULL, 0, 0};
    kx_io_driver_id id;
    assert_int_equal(kx_io_driver_start(kx_kernel_io(k), &p, &id), STATUS_SUCCESS);
    sfx_remove(root, SFX_GIGE);
    assert_int_equal(kx_kernel_platform_event(k, "remove", "/devices/pci0000:00/0000:00:1f.6"),
                     STATUS_SUCCESS);
    sfx_pci(root, SFX_GIGE, 0x8086, 0x15b8, 0x1458, 0xe000, 0x020000, 0x10);
    assert_int_equal(kx_kernel_platform_event(k, "add", "/devices/pci0000:00/0000:00:1f.6"),
                     STATUS_SUCCESS);
    const char *expect = "device_removed /devices/pci0000:00/0000:00:1f.6;"
                         "device_added /devices/pci0000:00/0000:00:1f.6;";
    T_WAIT_FOR(hp_heard_is(expect));
    assert_string_equal(hp_heard.log, expect);
    kx_kernel_free(k);
    sfx_free(root);
}

/* A real keyboard's nub goes when udev removes its event device, taking the Keys device
 * made for it; a simulated keyboard's stays (issue 14). */
static void test_keyboard_nub_goes_with_its_event_device(void **state)
{
    (void)state;
    static const char keyboards[] =
        "<?xml version=\"1.0\"?><plist version=\"1.0\"><array>"
        "<dict><key>IOObjectClass</key><string>IOHIDKeyboard</string>"
        "<key>IORegistryEntryName</key><string>keyboard</string>"
        "<key>IORegistryEntryLocation</key><string>event7</string>"
        "<key>source</key><string>/dev/input/event7</string><key>simulated</key><false/></dict>"
        "<dict><key>IOObjectClass</key><string>IOHIDKeyboard</string>"
        "<key>IORegistryEntryName</key><string>keyboard</string>"
        "<key>IORegistryEntryLocation</key><string>sim1</string>"
        "<key>source</key><string>/dev/input/sim1</string><key>simulated</key><true/></dict>"
        "</array></plist>";
    char *root = sfx_new();
    sfx_machine(root);
    char platform[600], why[256];
    snprintf(platform, sizeof platform, "linux:%s", root);
    struct kx_kernel *k = boot_on(0, platform);
    plist_t tree = NULL;
    plist_from_xml(keyboards, sizeof keyboards - 1, &tree);
    assert_non_null(tree);
    uint64_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(kx_kernel_publish_nubs(k, kx_reg_platform(kx_kernel_registry(k)), tree,
                                            "keyboards.plist", &ids, &n, why, sizeof why),
                     STATUS_SUCCESS);
    plist_free(tree);
    free(ids);
    assert_true(exists(k, "/dev/keys_event7"));
    assert_true(exists(k, "/dev/keys_sim1"));
    assert_int_equal(kx_kernel_platform_event(
                         k, "remove", "/devices/platform/i8042/serio0/input/input7/event7"),
                     STATUS_SUCCESS);
    T_WAIT_FOR(!exists(k, "/dev/keys_event7"));
    assert_false(exists(k, "/dev/keys_event7"));
    assert_true(exists(k, "/dev/keys_sim1"));
    kx_kernel_free(k);
    sfx_free(root);
}

/* What the kernel logged, for the hardware-write refusal's words. */
static char hw_log[4096];
static void hw_logger(void *arg, enum kx_log_level level, const char *msg)
{
    (void)arg;
    (void)level;
    size_t at = strlen(hw_log);
    snprintf(hw_log + at, sizeof hw_log - at, "%s\n", msg);
}

/* As a user other than root, config space writes are refused even with writes allowed: the
 * kernel (not Linux's permissions: the fake config file is anyone's) says kxd isn't root.
 * Runs in a child that becomes nobody. */
static int poke_as_nobody(const char *root)
{
    if (setgid(65534) != 0 || setuid(65534) != 0)
        return 10;
    struct kx_logger lg = {hw_logger, NULL, KX_LOG_DEBUG};
    struct kx_kernel_config cfg = {sizeof cfg, &lg, NULL, 0, 1, NULL, KX_BOOT_LOCAL, NULL,
                                   KX_BOOT_NO_CACHE, 0};
    struct kx_kernel *k = NULL;
    char platform[600], why[256];
    snprintf(platform, sizeof platform, "linux:%s", root);
    if (kx_kernel_new(&cfg, &k) != STATUS_SUCCESS ||
        kx_kernel_publish_platform(k, platform, why, sizeof why) != STATUS_SUCCESS)
        return 11;
    kx_kernel_set_hardware_write(k, 1);
    unsigned char b = 0x5a;
    /* GIGE's component (its address is asserted in test_linux_publish) */
    kx_status st = kx_kernel_component_access(k, "9223f303-a8d3-5584-9382-fef5aa728318", 0x40,
                                              &b, 1, 1);
    kx_kernel_free(k);
    if (st != STATUS_ACCESS_DENIED)
        return 12;
    return strstr(hw_log, "does not run as root") ? 0 : 13;
}

static void test_config_writes_need_root(void **state)
{
    (void)state;
    if (getuid() != 0)
        skip(); /* needs root to become nobody */
    char *root = sfx_new();
    sfx_machine(root);
    char config[600], cmd[700];
    snprintf(config, sizeof config, "%s/%s/config", root, SFX_GIGE);
    FILE *f = fopen(config, "wb");
    assert_non_null(f);
    for (int i = 0; i < 256; i++)
        fputc(0, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "chmod -R a+rX %s && chmod 0666 %s", root, config);
    assert_int_equal(system(cmd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(poke_as_nobody(root));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    f = fopen(config, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0x40, SEEK_SET), 0);
    assert_int_equal(fgetc(f), 0); /* unchanged */
    fclose(f);
    sfx_free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_winners_load_and_drive_each_match),
        cmocka_unit_test(test_hot_plug_raises_device_events),
        cmocka_unit_test(test_sample_pciinfo_describes_each_function),
        cmocka_unit_test(test_decline_and_failure_give_way_in_order),
        cmocka_unit_test(test_driver_nubs_and_resources_are_matched),
        cmocka_unit_test(test_terminating_a_nub_removes_its_drivers_clients_first),
        cmocka_unit_test(test_kextunload_class_then_personalities),
        cmocka_unit_test(test_kextunload_waits_for_open_devices_then_takes_everything),
        cmocka_unit_test(test_idle_kexts_unload),
        cmocka_unit_test(test_hot_unplug_and_replug_on_linux),
        cmocka_unit_test(test_keyboard_nub_goes_with_its_event_device),
        cmocka_unit_test(test_config_writes_need_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
