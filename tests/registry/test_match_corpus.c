/* test_match_corpus.c — every personality of ../shared/corpus (1,227 of them, with the
 * .vars.json sidecars substituted as tests/kext does) matched against a described machine
 * built from real hardware IDs (fixtures/corpus-platform.plist): an Intel HDA controller, an
 * Intel I219 and a Realtek RTL8111, a Broadcom BCM4360 and an Intel AX200, an I2C controller
 * with a PNP0C50 HID device, a BCM20702A0 Bluetooth controller, an EC, a battery, a PS/2
 * keyboard, and IOResources. Asserts the kexts macOS would choose are chosen, that resource
 * waits behave as IOKit's, and that no personality fails on a key Apple knows.
 *
 * Where a real driver's probe would decline (itlwm matches every Intel function and rejects
 * all but its Wi-Fi cards in probe; VoodooI2CELAN probes for an Elan device), the test says
 * so through kx_match_decline, as the runtime will.
 *
 * Skips (exit 77) when KX_SHARED_DIR is absent.
 */
#include "kext/fixture.h"
#include "reg_fixture.h"

#include <kx/platform.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROOT "IOService:/iMac19,1/AppleACPIPlatformExpert/PCI0@0"

struct corpus {
    char *dir, *ext;
    struct kx_kext_repo *repo;
    struct kx_classes *classes;
    struct kx_catalog *cat;
    struct kx_reg *reg; /* per test: a fresh registry from the platform file */
    char **saved_as;    /* MANIFEST rows, installed as K<row>_... */
    struct kx_kext **kexts;
    size_t n_rows;
};

static char *field(const char *line, int n)
{
    const char *s = line;
    for (int i = 0; i < n && s; i++)
        if ((s = strchr(s, '\t')))
            s++;
    return s ? strndup(s, strcspn(s, "\t\n")) : NULL;
}

static int group_setup(void **state)
{
    struct corpus *c = calloc(1, sizeof *c);
    char *manifest = fx_join(fx_shared(), "corpus/MANIFEST.tsv"), *line = NULL;
    size_t cap = 0, n_alloc = 0;
    FILE *f = fopen(manifest, "r");
    assert_non_null(f);
    c->dir = fx_tmpdir();
    c->ext = fx_join(c->dir, "Extensions");
    fx_mkdirs(c->ext);
    assert_true(getline(&line, &cap, f) > 0); /* header */
    while (getline(&line, &cap, f) > 0) {
        char name[96], *saved = field(line, 3);
        const char *base = strrchr(saved, '/') ? strrchr(saved, '/') + 1 : saved;
        if (c->n_rows == n_alloc) {
            n_alloc = n_alloc ? n_alloc * 2 : 256;
            c->saved_as = realloc(c->saved_as, n_alloc * sizeof *c->saved_as);
            assert_non_null(c->saved_as);
        }
        snprintf(name, sizeof name, "K%03zu_%.40s", c->n_rows, base);
        for (char *p = name; *p; p++)
            if (*p == ' ' || *p == '/')
                *p = '_';
        free(fx_corpus_kext(c->ext, name, saved));
        c->saved_as[c->n_rows++] = saved;
    }
    free(line);
    fclose(f);
    free(manifest);
    c->repo = fx_repo(0, NULL);
    assert_int_equal(kx_kext_repo_add_folder(c->repo, c->ext), STATUS_SUCCESS);
    /* row i's kext is the bundle named K<i>_... */
    c->kexts = calloc(c->n_rows, sizeof *c->kexts);
    for (size_t i = 0; i < kx_kext_repo_count(c->repo); i++) {
        struct kx_kext *x = kx_kext_repo_kext(c->repo, i);
        const char *p = kx_kext_path(x), *b = p && strrchr(p, '/') ? strrchr(p, '/') + 1 : "";
        unsigned row = 0;
        if (sscanf(b, "K%3u_", &row) == 1 && row < c->n_rows)
            c->kexts[row] = x;
    }
    assert_int_equal(kx_classes_new(&c->classes), STATUS_SUCCESS);
    assert_int_equal(kx_catalog_new(c->classes, 0, &c->cat), STATUS_SUCCESS);
    for (size_t i = 0; i < kx_kext_repo_count(c->repo); i++)
        assert_int_equal(kx_catalog_add_kext(c->cat, kx_kext_repo_kext(c->repo, i), NULL),
                         STATUS_SUCCESS);
    *state = c;
    return 0;
}

static int group_teardown(void **state)
{
    struct corpus *c = *state;
    kx_catalog_free(c->cat);
    kx_classes_free(c->classes);
    kx_kext_repo_free(c->repo);
    fx_rmrf(c->dir);
    for (size_t i = 0; i < c->n_rows; i++)
        free(c->saved_as[i]);
    free(c->saved_as);
    free(c->kexts);
    free(c->dir);
    free(c->ext);
    free(c);
    return 0;
}

static int machine_setup(void **state)
{
    struct corpus *c = *state;
    char *path = NULL, why[512] = "";
    const char *src = getenv("KX_SOURCE_DIR");
    assert_non_null(src);
    assert_true(asprintf(&path, "%s/tests/registry/fixtures/corpus-platform.plist", src) > 0);
    assert_int_equal(kx_reg_new(c->classes, &c->reg), STATUS_SUCCESS);
    if (kx_platform_file_read(c->reg, path, why, sizeof why) != STATUS_SUCCESS)
        fail_msg("%s", why);
    free(path);
    return 0;
}

static int machine_teardown(void **state)
{
    struct corpus *c = *state;
    kx_reg_free(c->reg);
    c->reg = NULL;
    return 0;
}

static kx_reg_id at(struct corpus *c, const char *path)
{
    kx_reg_id id = 0;
    if (kx_reg_lookup_path(c->reg, path, &id) != STATUS_SUCCESS)
        fail_msg("no entry at %s", path);
    return id;
}

static struct kx_match *match(struct corpus *c, kx_reg_id nub, unsigned flags)
{
    struct kx_match *m = NULL;
    assert_int_equal(kx_match_nub(c->cat, c->reg, nub, flags, &m), STATUS_SUCCESS);
    return m;
}

/* The chosen candidate of category, or NULL. */
static const struct kx_match_candidate *chosen(const struct kx_match *m, const char *category)
{
    for (size_t i = 0; i < kx_match_n_candidates(m); i++) {
        const struct kx_match_candidate *k = kx_match_candidate(m, i);
        if (k->chosen && k->category && strcmp(k->category, category) == 0)
            return k;
    }
    return NULL;
}

static const char *kext_of(const struct kx_match_candidate *k)
{
    return k ? kx_personality_kext(k->personality) : "(none)";
}

static void test_catalogue_holds_every_corpus_personality(void **state)
{
    struct corpus *c = *state;
    char *tsv = fx_join(fx_shared(), "corpus/PERSONALITIES.tsv"), *line = NULL;
    size_t cap = 0, rows = 0, unreadable = 0, no_id = 0, with_id = 0;
    FILE *f = fopen(tsv, "r");
    assert_non_null(f);
    assert_true(getline(&line, &cap, f) > 0);
    while (getline(&line, &cap, f) > 0) {
        char *saved = field(line, 0);
        rows++;
        for (size_t i = 0; i < c->n_rows; i++)
            if (strcmp(c->saved_as[i], saved) == 0) {
                struct kx_kext *k = c->kexts[i];
                if (!k || !kx_kext_info(k))
                    unreadable++; /* C-preprocessed plists (corpus README, scenario 7) */
                else if (!kx_kext_id(k))
                    no_id++; /* templates whose identifier the build system adds */
                else
                    with_id++;
                break;
            }
        free(saved);
    }
    free(line);
    fclose(f);
    free(tsv);
    assert_int_equal(rows, 1227);
    assert_int_equal(with_id + no_id + unreadable, rows);
    struct kx_personality **list = NULL;
    size_t n = 0;
    assert_int_equal(kx_catalog_list(c->cat, &list, &n), STATUS_SUCCESS);
    kx_catalog_list_free(list, n);
    /* every personality of an identified kext is in the catalogue: none was refused */
    assert_int_equal(n, with_id);
    fprintf(stderr,
            "corpus: %zu of %zu personalities catalogued; %zu in kexts without an "
            "identifier, %zu in unreadable plists\n",
            n, rows, no_id, unreadable);
    assert_true(n >= 1200);
}

static void test_no_personality_fails_on_a_key_apple_knows(void **state)
{
    struct corpus *c = *state;
    kx_reg_id *all = NULL;
    size_t n = 0, rejections = 0;
    struct kx_match **ms = NULL;
    assert_int_equal(kx_reg_list(c->reg, KX_REG_SERVICE, &all, &n), STATUS_SUCCESS);
    assert_int_equal(kx_match_nubs(c->cat, c->reg, all + 1, n - 1, KX_MATCH_EXPLAIN, &ms),
                     STATUS_SUCCESS); /* all but Root */
    for (size_t i = 0; i < n - 1; i++)
        for (size_t j = 0; j < kx_match_n_rejected(ms[i]); j++) {
            const struct kx_match_rejection *r = kx_match_rejected(ms[i], j);
            rejections++;
            if (strstr(r->why, "unknown matching key") || strstr(r->why, "must be "))
                fail_msg("%s \"%s\": %s: %s", kx_personality_kext(r->personality),
                         kx_personality_name(r->personality), r->key, r->why);
        }
    assert_true(rejections > 1000);
    kx_match_free_array(ms, n - 1);
    free(all);
}

static void test_intel_i219_gets_intelmausi(void **state)
{
    struct corpus *c = *state;
    struct kx_match *m = match(c, at(c, ROOT "/GIGE@1f,6"), 0);
    const struct kx_match_candidate *k;
    /* itlwm claims every Intel function (IOPCIPrimaryMatch 0x00008086&0x0000ffff) and its
     * probe declines what isn't one of its Wi-Fi cards */
    while ((k = chosen(m, "IODefaultMatchCategory")) &&
           strcmp(kext_of(k), "as.acidanthera.mieze.IntelMausi") != 0) {
        if (strncmp(kext_of(k), "com.zxystd.", 11) != 0)
            fail_msg("%s chosen before IntelMausi", kext_of(k));
        assert_int_equal(kx_match_decline(m, (size_t)(k - kx_match_candidate(m, 0)), NULL),
                         STATUS_SUCCESS);
    }
    assert_non_null(k);
    assert_string_equal(kx_personality_ioclass(k->personality), "IntelMausi");
    assert_int_equal(k->score, 1000);
    kx_match_free(m);
}

static void test_realtek_rtl8111_gets_realtekrtl8111(void **state)
{
    struct corpus *c = *state;
    struct kx_match *m = match(c, at(c, ROOT "/RP03@1c,2/ETH0@0"), 0);
    assert_string_equal(kext_of(chosen(m, "IODefaultMatchCategory")),
                        "com.insanelymac.RealtekRTL8111");
    kx_match_free(m);
}

static void test_broadcom_wifi_gets_airportbrcmfixup(void **state)
{
    struct corpus *c = *state;
    struct kx_match *m = match(c, at(c, ROOT "/RP01@1c/ARPT@0"), 0);
    const struct kx_match_candidate *k = chosen(m, "IODefaultMatchCategory");
    assert_string_equal(kext_of(k), "as.lvs1974.AirportBrcmFixup");
    assert_string_equal(k->name_matched, "pci14e4,43a0"); /* IONameMatched */
    kx_match_free(m);
}

static void test_intel_wifi_gets_an_openintelwireless_driver(void **state)
{
    struct corpus *c = *state;
    struct kx_match *m = match(c, at(c, ROOT "/RP05@1c,4/WIFI@0"), 0);
    const struct kx_match_candidate *k = chosen(m, "IODefaultMatchCategory");
    assert_non_null(k);
    assert_int_equal(strncmp(kext_of(k), "com.zxystd.", 11), 0);
    kx_match_free(m);
}

static void test_usb_bluetooth_gets_brcmpatchram(void **state)
{
    struct corpus *c = *state;
    struct kx_match *m = match(c, at(c, ROOT "/XHC@14/BCM20702A0@14100000"), 0);
    const struct kx_match_candidate *k = chosen(m, "BrcmPatchRAM3");
    assert_string_equal(kext_of(k), "as.acidanthera.BrcmPatchRAM3");
    assert_int_equal(k->score, 94000); /* idVendor + idProduct, IOProbeScore 4000 */
    /* the 10.10-era copy names IOUSBDevice and matches as IOUSBHostDevice */
    k = chosen(m, "BrcmPatchRAM");
    assert_string_equal(kext_of(k), "as.acidanthera.BrcmPatchRAM");
    assert_string_equal(kx_personality_provider_class(k->personality), "IOUSBDevice");
    kx_match_free(m);
}

static void test_acpi_battery_and_embedded_controller(void **state)
{
    struct corpus *c = *state;
    struct kx_match *m = match(c, at(c, ROOT "/LPCB@1f/BAT0"), 0);
    const struct kx_match_candidate *k = chosen(m, "IODefaultMatchCategory");
    assert_string_equal(kx_personality_name(k->personality), "ACPI Battery Manager");
    assert_string_equal(k->name_matched, "PNP0C0A");
    kx_match_free(m);
    /* no corpus kext drives a PNP0C09 EC; those that could try say why not: the names or
     * properties they look for */
    m = match(c, at(c, ROOT "/LPCB@1f/EC@62"), KX_MATCH_EXPLAIN);
    assert_int_equal(kx_match_n_candidates(m), 0);
    assert_true(kx_match_n_rejected(m) > 10);
    for (size_t i = 0; i < kx_match_n_rejected(m); i++) {
        const char *key = kx_match_rejected(m, i)->key;
        if (strcmp(key, "IONameMatch") != 0 && strcmp(key, "IOPropertyMatch") != 0)
            fail_msg("rejected on %s", key);
    }
    kx_match_free(m);
}

static int is_lilu(const struct kx_personality *p)
{
    return strcmp(kx_personality_kext(p), "as.vit9696.Lilu") == 0;
}

static void test_resources_wait_for_iobsd_then_match(void **state)
{
    struct corpus *c = *state;
    kx_reg_id res = kx_reg_resources(c->reg);
    struct kx_match *m = match(c, res, 0);
    /* AppleALC waits for IOKit, published at start: it matches */
    assert_string_equal(kext_of(chosen(m, "AppleALC")), "as.vit9696.AppleALC");
    /* Lilu 1.7.2 waits for IOBSD, which this machine hasn't published yet */
    size_t waiting = 0;
    for (size_t i = 0; i < kx_match_n_rejected(m); i++) {
        const struct kx_match_rejection *r = kx_match_rejected(m, i);
        if (is_lilu(r->personality)) {
            assert_true(r->waiting);
            assert_string_equal(r->why, "waiting for resource IOBSD");
            waiting++;
        }
    }
    assert_true(waiting >= 1);
    kx_match_free(m);
    assert_int_equal(kx_reg_resource_publish(c->reg, "IOBSD", NULL), STATUS_SUCCESS);
    m = match(c, res, 0);
    for (size_t i = 0; i < kx_match_n_rejected(m); i++)
        assert_false(is_lilu(kx_match_rejected(m, i)->personality));
    assert_string_equal(kext_of(chosen(m, "Lilu")), "as.vit9696.Lilu");
    kx_match_free(m);
}

static void test_voodooi2c_stack_reaches_voodooi2chid(void **state)
{
    struct corpus *c = *state;
    kx_reg_id i2c = at(c, ROOT "/I2C0@15"), cnub = 0, dnub = 0;
    struct kx_match *m = match(c, i2c, 0);
    assert_string_equal(kx_personality_name(chosen(m, "IODefaultMatchCategory")->personality),
                        "VoodooI2CPCIController");
    kx_match_free(m);
    /* VoodooI2CPCIController publishes its controller nub; the controller driver publishes a
     * device nub for the PNP0C50 ACPI child, "compatible" as a string */
    assert_int_equal(kx_reg_publish(c->reg, i2c, KX_REG_PLANE_BIT(KX_REG_SERVICE),
                                    "VoodooI2CControllerNub", "VoodooI2CControllerNub", NULL, NULL,
                                    &cnub),
                     STATUS_SUCCESS);
    m = match(c, cnub, 0);
    assert_string_equal(kx_personality_name(chosen(m, "IODefaultMatchCategory")->personality),
                        "VoodooI2CControllerDriver");
    kx_match_free(m);
    plist_t props = plist_new_dict();
    plist_dict_set_item(props, "compatible", plist_new_string("PNP0C50"));
    assert_int_equal(kx_reg_publish(c->reg, cnub, KX_REG_PLANE_BIT(KX_REG_SERVICE),
                                    "VoodooI2CDeviceNub", "TPD0", NULL, props, &dnub),
                     STATUS_SUCCESS);
    m = match(c, dnub, 0);
    const struct kx_match_candidate *k = chosen(m, "IODefaultMatchCategory");
    /* VoodooI2CELAN's PNP0C50 personality scores higher; its probe wants an Elan device */
    if (k && strcmp(kext_of(k), "me.kishorprins.VoodooI2CELAN") == 0) {
        assert_int_equal(kx_match_decline(m, (size_t)(k - kx_match_candidate(m, 0)), NULL),
                         STATUS_SUCCESS);
        k = chosen(m, "IODefaultMatchCategory");
    }
    assert_string_equal(kext_of(k), "com.alexandred.VoodooI2CHID");
    assert_string_equal(kx_personality_ioclass(k->personality), "VoodooI2CHIDDevice");
    kx_match_free(m);
}

static void test_indexed_and_explained_passes_agree_on_every_nub(void **state)
{
    struct corpus *c = *state;
    kx_reg_id *all = NULL;
    size_t n = 0;
    struct kx_match **fast = NULL, **full = NULL;
    assert_int_equal(kx_reg_list(c->reg, KX_REG_SERVICE, &all, &n), STATUS_SUCCESS);
    assert_int_equal(kx_match_nubs(c->cat, c->reg, all + 1, n - 1, 0, &fast), STATUS_SUCCESS);
    assert_int_equal(kx_match_nubs(c->cat, c->reg, all + 1, n - 1, KX_MATCH_EXPLAIN, &full),
                     STATUS_SUCCESS);
    for (size_t i = 0; i < n - 1; i++) {
        assert_int_equal(kx_match_n_candidates(fast[i]), kx_match_n_candidates(full[i]));
        for (size_t j = 0; j < kx_match_n_candidates(fast[i]); j++)
            assert_ptr_equal(kx_match_candidate(fast[i], j)->personality,
                             kx_match_candidate(full[i], j)->personality);
    }
    kx_match_free_array(fast, n - 1);
    kx_match_free_array(full, n - 1);
    free(all);
}

int main(void)
{
    const char *shared = getenv("KX_SHARED_DIR");
    struct stat st;
    char corpus[4096];
    snprintf(corpus, sizeof corpus, "%s/corpus/kexts", shared ? shared : "");
    if (!shared || stat(corpus, &st) != 0) {
        printf("SKIP: test_match_corpus needs the shared corpus; %s is absent "
               "(set KX_SHARED_DIR, or the KX_SHARED_DIR CMake variable)\n",
               shared ? corpus : "KX_SHARED_DIR");
        return 77;
    }
#define T(fn) cmocka_unit_test_setup_teardown(fn, machine_setup, machine_teardown)
    const struct CMUnitTest tests[] = {
        T(test_catalogue_holds_every_corpus_personality),
        T(test_no_personality_fails_on_a_key_apple_knows),
        T(test_intel_i219_gets_intelmausi),
        T(test_realtek_rtl8111_gets_realtekrtl8111),
        T(test_broadcom_wifi_gets_airportbrcmfixup),
        T(test_intel_wifi_gets_an_openintelwireless_driver),
        T(test_usb_bluetooth_gets_brcmpatchram),
        T(test_acpi_battery_and_embedded_controller),
        T(test_resources_wait_for_iobsd_then_match),
        T(test_voodooi2c_stack_reaches_voodooi2chid),
        T(test_indexed_and_explained_passes_agree_on_every_nub),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
