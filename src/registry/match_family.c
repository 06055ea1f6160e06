/* match_family.c — the families' matchPropertyTable: IOPCIFamily's register lists and
 * IOUSBFamily's USB Common Class Specification key sets.
 *
 * PCI (IOPCIBridge::pciMatchNub). The nub's configuration registers are rebuilt from its
 * properties: 0x00 = device-id << 16 | vendor-id, 0x2c = subsystem-id << 16 |
 * subsystem-vendor-id, 0x08 = class-code << 8 | revision-id (IOKit publishes each as
 * 4-byte little-endian data). IOPCIMatch tests 0x00 then 0x2c, IOPCIPrimaryMatch 0x00,
 * IOPCISecondaryMatch 0x2c, IOPCIClassMatch 0x08 with a default mask of 0xffffff00 (the
 * revision byte ignored); every key present must match. A tunnelled nub (Thunderbolt)
 * refuses a personality whose IOPCITunnelCompatible is false.
 *
 * USB (IOUSBDevice/IOUSBInterface::matchPropertyTable, kept by IOUSBHostFamily). A
 * personality must give one of the key sets below; the set fixes the score, to which
 * IOProbeScore is added (clamped to 9000 from 10000 up, so a better set always wins), less
 * 1000 per "*" wildcard used and 500 when idProductMask was needed. Keys outside the set
 * must be absent; vendor-specific sets apply only to class 0xFF nubs, class sets only to
 * others. A personality with idVendor alone matches no set and is refused.
 *
 *   device                                          interface
 *   100000 idVendor idProduct bcdDevice             idVendor idProduct bcdDevice
 *                                                   bConfigurationValue bInterfaceNumber
 *    90000 idVendor idProduct                       idVendor idProduct
 *                                                   bConfigurationValue bInterfaceNumber
 *    80000 idVendor bDeviceSubClass bDeviceProtocol idVendor bInterfaceSubClass
 *                                                   bInterfaceProtocol          (0xFF)
 *    70000 idVendor bDeviceSubClass                 idVendor bInterfaceSubClass (0xFF)
 *    60000 bDeviceClass bDeviceSubClass             bInterfaceClass bInterfaceSubClass
 *          bDeviceProtocol                          bInterfaceProtocol
 *    50000 bDeviceClass bDeviceSubClass             bInterfaceClass bInterfaceSubClass
 *
 * In the top two sets the class keys may be given and must then match. idProductArray
 * replaces idProduct's test (any element); IOMatchCategory IOUSBUserClientInit matches any
 * USB nub with score 9000, IOUSBFamily's own shortcut.
 */
#include "registry_int.h"

#include <stdio.h>
#include <string.h>

/* A number from a property: an integer, or data of 1 to 8 bytes read little-endian (how
 * IOKit stores PCI IDs). 0 when absent or of another type. */
static int prop_u64(plist_t props, const char *key, uint64_t *out)
{
    plist_t v = plist_dict_get_item(props, key);
    *out = 0;
    if (plist_get_node_type(v) == PLIST_UINT) {
        plist_get_uint_val(v, out);
        return 1;
    }
    if (plist_get_node_type(v) == PLIST_DATA) {
        uint64_t len = 0;
        const unsigned char *b = (const unsigned char *)plist_get_data_ptr(v, &len);
        if (!len || len > 8)
            return 0;
        for (uint64_t i = len; i-- > 0;)
            *out = (*out << 8) | b[i];
        return 1;
    }
    return 0;
}

/* ---- PCI --------------------------------------------------------------------------------------
 */

static uint32_t reg16(plist_t props, const char *key)
{
    uint64_t v = 0;
    prop_u64(props, key, &v);
    return (uint32_t)(v & 0xffff);
}

void kx_mnub_family_init(struct kx_mnub *n)
{
    plist_t props = n->e->props;
    if (n->is_pci) {
        uint64_t class_code = 0, revision = 0;
        prop_u64(props, "class-code", &class_code);
        prop_u64(props, "revision-id", &revision);
        n->pci_id = reg16(props, "device-id") << 16 | reg16(props, "vendor-id");
        n->pci_subsystem = reg16(props, "subsystem-id") << 16 | reg16(props, "subsystem-vendor-id");
        n->pci_class = (uint32_t)(class_code & 0xffffff) << 8 | (uint32_t)(revision & 0xff);
        n->pci_tunnelled = plist_dict_get_item(props, "IOPCITunnelled") != NULL;
    }
    if (n->is_usb_device || n->is_usb_interface) {
        for (int k = 0; k < KX_USB_N_KEYS; k++) {
            plist_t v = plist_dict_get_item(props, kx_usb_key_names[k]);
            /* IOUSBFamily compares numbers with numbers (OSNumber::isEqualTo) */
            if ((n->usb_has[k] = plist_get_node_type(v) == PLIST_UINT))
                plist_get_uint_val(v, &n->usb[k]);
        }
        prop_u64(props, n->is_usb_device ? "bDeviceClass" : "bInterfaceClass", &n->usb_class);
    }
}

static int terms_match(const struct kx_pci_term *t, size_t n, uint32_t reg)
{
    for (size_t i = 0; i < n; i++)
        if ((t[i].value & t[i].mask) == (reg & t[i].mask))
            return 1;
    return 0;
}

int kx_match_pci(const struct kx_mnub *n, const struct kx_mtable *t, struct kx_mfail *f)
{
    uint32_t r00 = n->pci_id, r2c = n->pci_subsystem, r08 = n->pci_class;
    for (int k = 0; k < 4; k++) {
        if (!t->pci[k])
            continue;
        int ok = (k == 0 && (terms_match(t->pci[k], t->n_pci[k], r00) ||
                             terms_match(t->pci[k], t->n_pci[k], r2c))) ||
                 (k == 1 && terms_match(t->pci[k], t->n_pci[k], r00)) ||
                 (k == 2 && terms_match(t->pci[k], t->n_pci[k], r2c)) ||
                 (k == 3 && terms_match(t->pci[k], t->n_pci[k], r08));
        if (ok)
            continue;
        if (k == 3)
            kx_mfail_set(f, kx_pci_key_names[k], "the nub's class register is 0x%08x; \"%.90s\" %s",
                         r08, t->pci_text[k], t->n_pci[k] ? "doesn't match it" : "lists nothing");
        else
            kx_mfail_set(f, kx_pci_key_names[k],
                         "the nub is 0x%08x (subsystem 0x%08x); \"%.90s%s\" %s", r00, r2c,
                         t->pci_text[k], strlen(t->pci_text[k]) > 90 ? "..." : "",
                         t->n_pci[k] ? "doesn't match it" : "lists nothing");
        return 0;
    }
    if (t->tunnel_compatible == 0 && n->pci_tunnelled &&
        !(t->ioclass && strcmp(t->ioclass, "IOPCI2PCIBridge") == 0)) {
        kx_mfail_set(f, "IOPCITunnelCompatible",
                     "the nub is tunnelled (Thunderbolt) and the personality is not tunnel "
                     "compatible");
        return 0;
    }
    return 1;
}

/* ---- USB --------------------------------------------------------------------------------------
 */

struct usb_eval {
    int exists[KX_USB_N_KEYS], match[KX_USB_N_KEYS], wild[KX_USB_N_KEYS];
    int product_exists, used_mask;
};

static void usb_compare(const struct kx_mtable *t, const struct kx_mnub *n, struct usb_eval *u)
{
    memset(u, 0, sizeof *u);
    for (int k = 0; k < KX_USB_N_KEYS; k++) {
        u->exists[k] = t->usb_form[k] != KX_USB_ABSENT;
        if (t->usb_form[k] == KX_USB_NUMBER)
            u->match[k] = n->usb_has[k] && n->usb[k] == t->usb[k];
        else if (t->usb_form[k] == KX_USB_WILDCARD)
            u->match[k] = u->wild[k] = 1;
    }
    u->product_exists = u->exists[KX_USB_PRODUCT];
    uint64_t product = n->usb[KX_USB_PRODUCT];
    int has_product = n->usb_has[KX_USB_PRODUCT];
    if (t->has_product_array) {
        u->match[KX_USB_PRODUCT] = u->wild[KX_USB_PRODUCT] = 0;
        for (size_t i = 0; has_product && i < t->n_product_array; i++)
            if (t->product_array[i] == product)
                u->match[KX_USB_PRODUCT] = 1;
    }
    if (!u->match[KX_USB_PRODUCT] && t->has_product_mask && has_product) {
        uint64_t m = t->product_mask;
        if (t->has_product_array) {
            for (size_t i = 0; i < t->n_product_array; i++)
                if ((t->product_array[i] & m) == (product & m))
                    u->match[KX_USB_PRODUCT] = 1;
        } else if (t->usb_form[KX_USB_PRODUCT] == KX_USB_NUMBER) {
            u->match[KX_USB_PRODUCT] = (t->usb[KX_USB_PRODUCT] & m) == (product & m);
        }
        u->used_mask = u->match[KX_USB_PRODUCT];
    }
}

/* "absent or matching" */
#define OPT(k) (!u.exists[k] || u.match[k])

static int64_t usb_tier(const struct kx_mnub *n, const struct usb_eval *up, unsigned *wild)
{
    struct usb_eval u = *up;
    int dev = n->is_usb_device;
    int C = dev ? KX_USB_DEVICE_CLASS : KX_USB_INTERFACE_CLASS,
        S = dev ? KX_USB_DEVICE_SUBCLASS : KX_USB_INTERFACE_SUBCLASS,
        P = dev ? KX_USB_DEVICE_PROTOCOL : KX_USB_INTERFACE_PROTOCOL;
    int V = KX_USB_VENDOR, D = KX_USB_PRODUCT, R = KX_USB_RELEASE;
    /* bConfigurationValue and bInterfaceNumber belong to the interface sets only */
    int cfg_ok = dev || (u.match[KX_USB_CONFIGURATION] && u.match[KX_USB_INTERFACE_NUMBER]);
    int no_cfg = dev || (!u.exists[KX_USB_CONFIGURATION] && !u.exists[KX_USB_INTERFACE_NUMBER]);
    unsigned wcfg =
        dev ? 0 : (unsigned)(u.wild[KX_USB_CONFIGURATION] + u.wild[KX_USB_INTERFACE_NUMBER]);
    uint64_t nub_class = n->usb_class;
    if (u.match[V] && u.match[D] && u.match[R] && cfg_ok && OPT(C) && OPT(S) && OPT(P)) {
        *wild = (unsigned)(u.wild[V] + u.wild[D] + u.wild[R]) + wcfg;
        return 100000;
    }
    if (u.match[V] && u.match[D] && cfg_ok && OPT(R) && OPT(C) && OPT(S) && OPT(P)) {
        *wild = (unsigned)(u.wild[V] + u.wild[D]) + wcfg;
        return 90000;
    }
    if (nub_class == 0xff) {
        if (u.match[V] && u.match[S] && u.match[P] && OPT(C) && !u.exists[R] && !u.product_exists &&
            no_cfg) {
            *wild = (unsigned)(u.wild[V] + u.wild[S] + u.wild[P]);
            return 80000;
        }
        if (u.match[V] && u.match[S] && OPT(C) && !u.exists[P] && !u.exists[R] &&
            !u.product_exists && no_cfg) {
            *wild = (unsigned)(u.wild[V] + u.wild[S]);
            return 70000;
        }
        return 0;
    }
    if (u.match[C] && u.match[S] && u.match[P] && !u.exists[R] && !u.exists[V] &&
        !u.product_exists && no_cfg) {
        *wild = (unsigned)(u.wild[C] + u.wild[S] + u.wild[P]);
        return 60000;
    }
    if (u.match[C] && u.match[S] && !u.exists[P] && !u.exists[R] && !u.exists[V] &&
        !u.product_exists && no_cfg) {
        *wild = (unsigned)(u.wild[C] + u.wild[S]);
        return 50000;
    }
    return 0;
}

#undef OPT

/* The keys a device's sets use, or an interface's. */
static int usb_key_applies(const struct kx_mnub *n, int k)
{
    if (k <= KX_USB_RELEASE)
        return 1;
    return n->is_usb_device ? k <= KX_USB_DEVICE_PROTOCOL : k >= KX_USB_CONFIGURATION;
}

/* Why no key set matched: the first key given that doesn't match, else the set's rule. */
static void usb_explain(const struct kx_mnub *n, const struct kx_mtable *t,
                        const struct usb_eval *u, struct kx_mfail *f)
{
    const char *kind = n->is_usb_device ? "device" : "interface";
    for (int k = 0; k < KX_USB_N_KEYS; k++) {
        if (!usb_key_applies(n, k) ||
            (!u->exists[k] && !(k == KX_USB_PRODUCT && t->has_product_array)))
            continue;
        if (u->match[k])
            continue;
        uint64_t have = n->usb[k];
        int has = n->usb_has[k];
        if (k == KX_USB_PRODUCT && t->has_product_array)
            kx_mfail_set(f, "idProductArray", "the nub's idProduct %llu is not in the array",
                         (unsigned long long)have);
        else if (t->usb_form[k] == KX_USB_OTHER)
            kx_mfail_set(f, kx_usb_key_names[k], "must be a number or \"*\"");
        else if (has)
            kx_mfail_set(f, kx_usb_key_names[k], "%llu wanted, the nub's is %llu",
                         (unsigned long long)t->usb[k], (unsigned long long)have);
        else
            kx_mfail_set(f, kx_usb_key_names[k], "%llu wanted, the nub has none",
                         (unsigned long long)t->usb[k]);
        return;
    }
    if (!t->has_usb_keys) {
        kx_mfail_set(f, "IOProviderClass",
                     "a USB %s matches only personalities with a USB Common Class Specification "
                     "key set (idVendor and idProduct, or class keys); this one has none",
                     kind);
        return;
    }
    const char *first = "idVendor";
    for (int k = 0; k < KX_USB_N_KEYS; k++)
        if (u->exists[k] && usb_key_applies(n, k)) {
            first = kx_usb_key_names[k];
            break;
        }
    int vendor_only = u->exists[KX_USB_VENDOR] && !u->product_exists && !t->has_product_array;
    kx_mfail_set(f, first,
                 "%s: the keys given form no USB Common Class Specification key set for this %s "
                 "(idVendor needs idProduct%s, or the %s-class keys on a class 0xFF %s)",
                 vendor_only ? "vendor-only personalities are refused" : "no key set", kind,
                 n->is_usb_device ? "" : " with bConfigurationValue and bInterfaceNumber",
                 n->is_usb_device ? "device-sub" : "interface-sub", kind);
}

int kx_match_usb(const struct kx_mnub *n, const struct kx_mtable *t, int64_t *score,
                 struct kx_mfail *f)
{
    if (t->usb_user_client_init) {
        *score = 9000;
        return 1;
    }
    struct usb_eval u;
    unsigned wild = 0;
    usb_compare(t, n, &u);
    int64_t tier = usb_tier(n, &u, &wild);
    if (!tier) {
        if (f->want_text)
            usb_explain(n, t, &u, f);
        else
            f->key = "idVendor";
        return 0;
    }
    int64_t probe = *score >= 10000 ? 9000 : *score;
    *score = tier + probe - (int64_t)wild * 1000 - (u.used_mask ? 500 : 0);
    return 1;
}
