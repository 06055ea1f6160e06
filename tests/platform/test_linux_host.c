/* test_linux_host.c — this machine's own /sys: it publishes without leaving anything out,
 * and every PCI function /sys/bus/pci/devices lists has its IOPCIDevice, found by
 * KXSysfsPath. Skipped (exit 77, SKIP_RETURN_CODE) where /sys/bus/pci is absent. */
#include <kx/platform.h>
#include <kx/registry.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The IOPCIDevice whose KXSysfsPath is path, or KX_REG_ID_NONE. */
static kx_reg_id pci_nub(struct kx_reg *r, const char *path)
{
    kx_reg_id *ids = NULL, found = KX_REG_ID_NONE;
    size_t n = 0;
    assert_int_equal(kx_reg_find_class(r, "IOPCIDevice", &ids, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n && found == KX_REG_ID_NONE; i++) {
        plist_t v = NULL;
        assert_int_equal(kx_reg_prop_copy(r, ids[i], KX_PLATFORM_SYSFS_PATH_KEY, &v),
                         STATUS_SUCCESS);
        if (v && strcmp(plist_get_string_ptr(v, NULL), path) == 0)
            found = ids[i];
        plist_free(v);
    }
    free(ids);
    return found;
}

static void test_host_sysfs_publishes_every_pci_function(void **state)
{
    (void)state;
    struct kx_classes *classes = NULL;
    struct kx_reg *r = NULL;
    struct kx_platform_report rep = {0};
    assert_int_equal(kx_classes_new(&classes), STATUS_SUCCESS);
    assert_int_equal(kx_reg_new(classes, &r), STATUS_SUCCESS);
    assert_int_equal(kx_platform_linux_publish(r, "/sys", &rep), STATUS_SUCCESS);
    for (size_t i = 0; i < rep.n_skipped; i++)
        fprintf(stderr, "left out: %s\n", rep.skipped[i]);
    assert_int_equal(rep.n_skipped, 0);

    DIR *d = opendir("/sys/bus/pci/devices");
    assert_non_null(d);
    size_t functions = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char link[PATH_MAX], real[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "/sys/bus/pci/devices/%s", e->d_name);
        assert_non_null(realpath(link, real));
        assert_true(strncmp(real, "/sys/devices/", 13) == 0);
        if (pci_nub(r, real + 4) == KX_REG_ID_NONE)
            fail_msg("no IOPCIDevice for %s", real);
        functions++;
    }
    closedir(d);
    kx_reg_id *ids = NULL;
    size_t n = 0;
    assert_int_equal(kx_reg_find_class(r, "IOPCIDevice", &ids, &n), STATUS_SUCCESS);
    assert_int_equal(n, functions);
    free(ids);
    kx_platform_report_clear(&rep);
    kx_reg_free(r);
    kx_classes_free(classes);
}

int main(void)
{
    struct stat st;
    if (stat("/sys/bus/pci/devices", &st) != 0) {
        printf("SKIP: /sys/bus/pci is absent on this machine\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_sysfs_publishes_every_pci_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
