/* linux_acpi.c — ACPI devices from sysfs, published as AppleACPIPlatform does.
 *
 * A Mac's platform expert, AppleACPIPlatformExpert, publishes the ACPI namespace's devices
 * as IOACPIPlatformDevice nubs named after their node (the last name of the ACPI path
 * without its '_' padding: \_SB_.PCI0.LPCB.EC0_ is EC0), with "name" = _HID as data,
 * "compatible" = the _CIDs as data strings, and _STA. kx adds IOName = _HID, so IONameMatch
 * finds the _HID however a kext spells its test. The namespace root (\, LNXSYSTM) stands
 * for AppleACPIPlatformExpert; the scopes \_SB and \_TZ (LNXSYBUS) and power resources
 * (LNXPOWER) are not devices, so their children hang where they would. A node whose
 * physical device is a PCI function (its physical_node link) is that function's
 * IOPCIDevice, which takes its name, and ACPI devices below it hang under that nub — the
 * embedded controller under LPCB, a touchpad under its I2C controller — as in the lead's
 * and Apple's trees. Other nodes without _HID (empty slots' _ADR-only nodes) are not
 * published. A node's location is its _ADR written as a PCI location ("0", "1F,3"); the
 * resource-derived locations AppleACPIPlatform gives some devices (EC@62) aren't in
 * sysfs, so those have none.
 */
#include "platform/linux_int.h"

#include "core/plat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kx_status lx_acpi_name(const struct lx *x, const char *path, char *buf, size_t len)
{
    char full[256];
    kx_status st = lx_attr(x, path, "path", full, sizeof full);
    if (st != STATUS_SUCCESS)
        return st == STATUS_BUFFER_TOO_SMALL ? STATUS_DATA_ERROR : st;
    const char *dot = strrchr(full, '.');
    const char *name = dot ? dot + 1 : full[0] == '\\' ? full + 1 : full;
    size_t n = strlen(name);
    while (n > 1 && name[n - 1] == '_')
        n--;
    if (!n || n > 4 || n >= len)
        return STATUS_DATA_ERROR;
    for (size_t i = 0; i < n; i++)
        if (!isupper((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) && name[i] != '_')
            return STATUS_DATA_ERROR;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return STATUS_SUCCESS;
}

/* The _CIDs from "acpi:HID:CID1:CID2:" as NUL-separated strings; *len 0 when none. */
static void cids_of(const char *modalias, char *buf, size_t size, size_t *len)
{
    *len = 0;
    if (strncmp(modalias, "acpi:", 5) != 0)
        return;
    const char *p = strchr(modalias + 5, ':'); /* past the _HID */
    while (p && p[1]) {
        const char *start = p + 1, *end = strchr(start, ':');
        size_t n = end ? (size_t)(end - start) : strlen(start);
        if (n && *len + n + 1 <= size) {
            memcpy(buf + *len, start, n);
            buf[*len + n] = '\0';
            *len += n + 1;
        }
        p = end;
    }
}

static kx_status publish_expert(struct lx *x, const char *path, kx_reg_id *out)
{
    struct lx_slot slot;
    kx_status st = lx_resolve_parent(x, path, &slot);
    if (st != STATUS_SUCCESS)
        return st;
    return lx_publish(x, path, slot.service, KX_REG_ID_NONE, "AppleACPIPlatformExpert",
                      "AppleACPIPlatformExpert", NULL, plist_new_dict(), out);
}

/* The PCI function this node is the companion of, or NULL. */
static char *pci_physical(const struct lx *x, const char *path)
{
    char *phys = NULL, subsystem[16];
    if (lx_link_path(x, path, "physical_node", &phys) != STATUS_SUCCESS)
        return NULL;
    lx_subsystem(x, phys, subsystem, sizeof subsystem);
    if (strcmp(subsystem, "pci") == 0)
        return phys;
    free(phys);
    return NULL;
}

kx_status lx_acpi_node(struct lx *x, const char *path, kx_reg_id *out)
{
    char hid[64] = "", name[8], modalias[256] = "", why[128], location[16], cids[256];
    uint32_t adr = 0, sta = 0;
    size_t n_cids = 0;
    *out = KX_REG_ID_NONE;
    kx_status st = lx_attr(x, path, "hid", hid, sizeof hid);
    if (st != STATUS_SUCCESS && st != STATUS_NO_SUCH_FILE)
        return lx_skip(x, path, "hid: %s", kx_status_string(st));
    if (strcmp(hid, "LNXSYSTM") == 0)
        return publish_expert(x, path, out);
    if (strcmp(hid, "LNXSYBUS") == 0 || strcmp(hid, "LNXPOWER") == 0)
        return STATUS_SUCCESS;
    char *phys = pci_physical(x, path);
    if (phys) {
        st = lx_ensure(x, phys, out);
        free(phys);
        return st;
    }
    if (!*hid)
        return STATUS_SUCCESS;

    if ((st = lx_acpi_name(x, path, name, sizeof name)) != STATUS_SUCCESS)
        return lx_skip(x, path, "path: %s",
                       st == STATUS_NO_SUCH_FILE ? "missing" : "not an ACPI path");
    if (lx_attr(x, path, "modalias", modalias, sizeof modalias) == STATUS_SUCCESS)
        cids_of(modalias, cids, sizeof cids, &n_cids);
    st = lx_attr_hex(x, path, "adr", 0xffffffffu, &adr, why, sizeof why);
    if (st == STATUS_DATA_ERROR)
        return lx_skip(x, path, "%s", why);
    location[0] = '\0';
    if (st == STATUS_SUCCESS && (adr & 0xffff))
        snprintf(location, sizeof location, "%X,%X", adr >> 16, adr & 0xffff);
    else if (st == STATUS_SUCCESS)
        snprintf(location, sizeof location, "%X", adr >> 16);
    kx_status sta_st = lx_attr_dec(x, path, "status", 0xffffffffu, &sta, why, sizeof why);
    if (sta_st == STATUS_DATA_ERROR)
        return lx_skip(x, path, "%s", why);

    struct lx_slot slot;
    if ((st = lx_resolve_parent(x, path, &slot)) != STATUS_SUCCESS)
        return st;
    plist_t props = plist_new_dict();
    plist_dict_set_item(props, "IOName", plist_new_string(hid));
    plist_dict_set_item(props, "name", lx_data_str(hid));
    if (n_cids)
        plist_dict_set_item(props, "compatible", plist_new_data(cids, n_cids));
    if (sta_st == STATUS_SUCCESS)
        plist_dict_set_item(props, "_STA", plist_new_uint(sta));
    return lx_publish(x, path, slot.nub, lx_nearest_dt(x, slot.nub), "IOACPIPlatformDevice", name,
                      *location ? location : NULL, props, out);
}

kx_status lx_acpi_publish_below(struct lx *x, const char *companion)
{
    char *dir = lx_file(x, companion, NULL);
    char **names = NULL;
    size_t n = 0;
    if (!dir)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx_plat_list_dir(dir, &names, &n);
    free(dir);
    if (st != STATUS_SUCCESS)
        return st == STATUS_INSUFFICIENT_RESOURCES ? st : STATUS_SUCCESS;
    for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
        char *child = NULL, subsystem[16];
        kx_reg_id id;
        if (asprintf(&child, "%s/%s", companion, names[i]) < 0) {
            st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        lx_subsystem(x, child, subsystem, sizeof subsystem);
        if (strcmp(subsystem, "acpi") == 0 && x->depth < 16) {
            st = lx_ensure(x, child, &id);
            x->depth++;
            if (st == STATUS_SUCCESS || st == STATUS_NO_SUCH_DEVICE)
                st = lx_acpi_publish_below(x, child);
            x->depth--;
        }
        free(child);
    }
    kx_plat_free_names(names, n);
    return st;
}
