/* mtable.c — compiling a matching dictionary once, when its personality joins the catalogue.
 *
 * Matching a nub then reads parsed fields instead of walking the dictionary: the PCI
 * register lists are numbers, IONameMatch is an array of strings, the USB keys are sorted
 * into absent / number / "*" wildcard. A key whose value has the wrong type is kept as
 * bad_key, so the personality is rejected naming it (IOKit would ignore or misread it).
 * Any other key that starts with "IO" and ends with "Match" but isn't one kx implements is
 * kept as unknown_key: the personality then never matches, and says which key stopped it,
 * rather than matching while silently ignoring a condition its author wrote.
 */
#include "registry_int.h"

#include <stdlib.h>
#include <string.h>

const char *const kx_usb_key_names[KX_USB_N_KEYS] = {
    "idVendor",        "idProduct",          "bcdDevice",           "bDeviceClass",
    "bDeviceSubClass", "bDeviceProtocol",    "bConfigurationValue", "bInterfaceNumber",
    "bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol",
};

const char *const kx_pci_key_names[4] = {"IOPCIMatch", "IOPCIPrimaryMatch", "IOPCISecondaryMatch",
                                         "IOPCIClassMatch"};

/* Every IO...Match key kx implements (IOKitKeys.h and IOPCIFamily's). */
static const char *const known_match_keys[] = {
    "IONameMatch",   "IOPropertyMatch",   "IOPropertyExistsMatch", "IOResourceMatch",
    "IOParentMatch", "IOPathMatch",       "IOLocationMatch",       "IOMatchedServiceCountMatch",
    "IOPCIMatch",    "IOPCIPrimaryMatch", "IOPCISecondaryMatch",   "IOPCIClassMatch",
};

static int is_match_key(const char *key)
{
    size_t n = strlen(key);
    return n > 7 && strncmp(key, "IO", 2) == 0 && strcmp(key + n - 5, "Match") == 0;
}

static int is_known_match_key(const char *key)
{
    for (size_t i = 0; i < sizeof known_match_keys / sizeof known_match_keys[0]; i++)
        if (strcmp(key, known_match_keys[i]) == 0)
            return 1;
    return 0;
}

static const char *string_of(plist_t v)
{
    return plist_get_node_type(v) == PLIST_STRING ? plist_get_string_ptr(v, NULL) : NULL;
}

static void bad(struct kx_mtable *t, const char *key, const char *expected)
{
    if (!t->bad_key) {
        t->bad_key = key;
        t->bad_type = expected;
    }
}

/* A string or an array of strings as a malloc'ed array of copies; -1 for another type. */
static int strings_of(plist_t v, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (plist_get_node_type(v) == PLIST_STRING) {
        if (!(*out = malloc(sizeof **out)) || !((*out)[0] = strdup(plist_get_string_ptr(v, NULL))))
            return -2;
        *n = 1;
        return 0;
    }
    if (plist_get_node_type(v) != PLIST_ARRAY)
        return -1;
    uint32_t len = plist_array_get_size(v);
    if (!len)
        return 0;
    if (!(*out = calloc(len, sizeof **out)))
        return -2;
    for (uint32_t i = 0; i < len; i++) {
        plist_t s = plist_array_get_item(v, i);
        if (plist_get_node_type(s) != PLIST_STRING)
            return -1;
        if (!((*out)[(*n)++] = strdup(plist_get_string_ptr(s, NULL))))
            return -2;
    }
    return 0;
}

static void strings_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* IOPCIBridge::matchKeys' grammar: hex values separated by spaces, each optionally
 * followed by "&mask"; the first text that isn't a number ends the list. */
static int parse_pci(const char *text, uint32_t default_mask, struct kx_pci_term **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    const char *s = text;
    for (;;) {
        char *next = NULL;
        unsigned long value = strtoul(s, &next, 16);
        if (next == s)
            break;
        while (*next == ' ')
            next++;
        unsigned long mask = default_mask;
        if (*next == '&')
            mask = strtoul(next + 1, &next, 16);
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            struct kx_pci_term *v = realloc(*out, cap * sizeof *v);
            if (!v)
                return -1;
            *out = v;
        }
        (*out)[(*n)++] = (struct kx_pci_term){(uint32_t)value, (uint32_t)mask};
        s = next;
    }
    return 0;
}

static int compile_usb(struct kx_mtable *t, plist_t dict)
{
    for (int k = 0; k < KX_USB_N_KEYS; k++) {
        plist_t v = plist_dict_get_item(dict, kx_usb_key_names[k]);
        if (!v)
            continue;
        t->has_usb_keys = 1;
        if (plist_get_node_type(v) == PLIST_UINT) {
            t->usb_form[k] = KX_USB_NUMBER;
            plist_get_uint_val(v, &t->usb[k]);
        } else if (plist_get_node_type(v) == PLIST_STRING &&
                   strcmp(plist_get_string_ptr(v, NULL), "*") == 0) {
            t->usb_form[k] = KX_USB_WILDCARD;
        } else {
            t->usb_form[k] = KX_USB_OTHER;
        }
    }
    plist_t arr = plist_dict_get_item(dict, "idProductArray");
    if (plist_get_node_type(arr) == PLIST_ARRAY) {
        uint32_t n = plist_array_get_size(arr);
        t->has_product_array = t->has_usb_keys = 1;
        if (n && !(t->product_array = calloc(n, sizeof *t->product_array)))
            return -1;
        for (uint32_t i = 0; i < n; i++) {
            plist_t item = plist_array_get_item(arr, i);
            if (plist_get_node_type(item) == PLIST_UINT)
                plist_get_uint_val(item, &t->product_array[t->n_product_array++]);
        }
    } else if (arr) {
        bad(t, "idProductArray", "an array of numbers");
    }
    plist_t mask = plist_dict_get_item(dict, "idProductMask");
    if (plist_get_node_type(mask) == PLIST_UINT) {
        t->has_product_mask = 1;
        plist_get_uint_val(mask, &t->product_mask);
    } else if (mask) {
        bad(t, "idProductMask", "a number");
    }
    const char *cat = string_of(plist_dict_get_item(dict, "IOMatchCategory"));
    t->usb_user_client_init = cat && strcmp(cat, "IOUSBUserClientInit") == 0;
    return 0;
}

static int compile_pci(struct kx_mtable *t, plist_t dict)
{
    for (int k = 0; k < 4; k++) {
        plist_t v = plist_dict_get_item(dict, kx_pci_key_names[k]);
        if (!v)
            continue;
        if (plist_get_node_type(v) != PLIST_STRING) {
            bad(t, kx_pci_key_names[k], "a string");
            continue;
        }
        t->pci_text[k] = plist_get_string_ptr(v, NULL);
        /* the class register's low byte is the revision: IOPCIFamily masks it by default */
        if (parse_pci(t->pci_text[k], k == 3 ? 0xffffff00u : 0xffffffffu, &t->pci[k],
                      &t->n_pci[k]) != 0)
            return -1;
        if (!t->pci[k] && !(t->pci[k] = malloc(sizeof *t->pci[k]))) /* present, but empty */
            return -1;
    }
    plist_t tunnel = plist_dict_get_item(dict, "IOPCITunnelCompatible");
    t->tunnel_compatible = -1;
    if (plist_get_node_type(tunnel) == PLIST_BOOLEAN) {
        uint8_t b = 0;
        plist_get_bool_val(tunnel, &b);
        t->tunnel_compatible = b != 0;
    }
    return 0;
}

/* Appends dict's key/value pairs as one more IOPropertyMatch alternative. */
static int add_subset(struct kx_mtable *t, plist_t dict)
{
    struct kx_subset *v = realloc(t->property_match, (t->n_property_match + 1) * sizeof *v);
    if (!v)
        return -1;
    t->property_match = v;
    struct kx_subset *s = &v[t->n_property_match++];
    uint32_t n = plist_dict_get_size(dict);
    memset(s, 0, sizeof *s);
    if (!n)
        return 0;
    if (!(s->keys = calloc(n, sizeof *s->keys)) || !(s->values = calloc(n, sizeof *s->values)))
        return -1;
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    plist_dict_new_iter(dict, &it);
    for (plist_dict_next_item(dict, it, &key, &val); key && s->n < n;
         plist_dict_next_item(dict, it, &key, &val)) {
        s->keys[s->n] = key; /* kept */
        s->values[s->n++] = val;
        key = NULL;
    }
    free(key);
    free(it);
    return 0;
}

static int compile_generic(struct kx_mtable *t, plist_t dict)
{
    plist_t v;
    int rc = 0;
    if ((v = plist_dict_get_item(dict, "IONameMatch")) &&
        (rc = strings_of(v, &t->names, &t->n_names)) != 0) {
        if (rc == -2)
            return -1;
        bad(t, "IONameMatch", "a string or an array of strings");
    }
    if ((v = plist_dict_get_item(dict, "IOResourceMatch")) &&
        (rc = strings_of(v, &t->resources, &t->n_resources)) != 0) {
        if (rc == -2)
            return -1;
        bad(t, "IOResourceMatch", "a string or an array of strings");
    }
    if ((v = plist_dict_get_item(dict, "IOPropertyMatch"))) {
        plist_type type = plist_get_node_type(v);
        t->has_property_match = 1;
        if (type == PLIST_DICT)
            rc = add_subset(t, v);
        else if (type == PLIST_ARRAY) /* IOKit skips elements that aren't dictionaries */
            for (uint32_t i = 0; rc == 0 && i < plist_array_get_size(v); i++)
                if (plist_get_node_type(plist_array_get_item(v, i)) == PLIST_DICT)
                    rc = add_subset(t, plist_array_get_item(v, i));
        if (rc != 0)
            return -1;
        if (type != PLIST_DICT && type != PLIST_ARRAY)
            bad(t, "IOPropertyMatch", "a dictionary or an array of dictionaries");
    }
    if ((v = plist_dict_get_item(dict, "IOPropertyExistsMatch"))) {
        plist_type type = plist_get_node_type(v);
        if (type == PLIST_STRING || type == PLIST_ARRAY)
            t->exists_match = v;
        else
            bad(t, "IOPropertyExistsMatch", "a string or an array of strings");
    }
    if ((v = plist_dict_get_item(dict, "IOPathMatch")) && !(t->path_match = string_of(v)))
        bad(t, "IOPathMatch", "a string");
    if ((v = plist_dict_get_item(dict, "IOLocationMatch"))) {
        if (plist_get_node_type(v) == PLIST_DICT) {
            if (!(t->location_table =
                      kx_mtable_compile(v, string_of(plist_dict_get_item(v, "IOProviderClass")))))
                return -1;
        } else if (!(t->location = string_of(v))) {
            bad(t, "IOLocationMatch", "a string or a dictionary");
        }
    }
    if ((v = plist_dict_get_item(dict, "IOParentMatch"))) {
        if (plist_get_node_type(v) != PLIST_DICT)
            bad(t, "IOParentMatch", "a dictionary");
        else if (!(t->parent_table =
                       kx_mtable_compile(v, string_of(plist_dict_get_item(v, "IOProviderClass")))))
            return -1;
    }
    if ((v = plist_dict_get_item(dict, "IORegistryEntryID"))) {
        if (plist_get_node_type(v) == PLIST_UINT) {
            t->has_entry_id = 1;
            plist_get_uint_val(v, &t->entry_id);
        } else {
            bad(t, "IORegistryEntryID", "a number");
        }
    }
    if ((v = plist_dict_get_item(dict, "IOMatchedServiceCountMatch"))) {
        if (plist_get_node_type(v) == PLIST_UINT) {
            t->has_service_count = 1;
            plist_get_uint_val(v, &t->service_count);
        } else {
            bad(t, "IOMatchedServiceCountMatch", "a number");
        }
    }
    return 0;
}

static void find_unknown_key(struct kx_mtable *t, plist_t dict)
{
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    plist_dict_new_iter(dict, &it);
    for (plist_dict_next_item(dict, it, &key, &val); key;
         plist_dict_next_item(dict, it, &key, &val)) {
        if (!t->unknown_key && is_match_key(key) && !is_known_match_key(key)) {
            t->unknown_key = key; /* kept */
        } else {
            free(key);
        }
        key = NULL;
    }
    free(it);
}

/* IOService::matchInternal's keys: when a table holds nothing else, no family looks at it. */
static int generic_only(plist_t dict)
{
    static const char *const keys[] = {"IOProviderClass",
                                       "IONameMatch",
                                       "IOPropertyMatch",
                                       "IOPropertyExistsMatch",
                                       "IOPathMatch",
                                       "IORegistryEntryID",
                                       "IOMatchedServiceCountMatch",
                                       "IOBSDName",
                                       "IOBSDMajor",
                                       "IOBSDMinor",
                                       "IOBSDUnit"};
    uint32_t n = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        n += plist_dict_get_item(dict, keys[i]) != NULL;
    plist_t loc = plist_dict_get_item(dict, "IOLocationMatch");
    n += plist_get_node_type(loc) == PLIST_STRING;
    return n == plist_dict_get_size(dict);
}

struct kx_mtable *kx_mtable_compile(plist_t dict, const char *provider_class)
{
    struct kx_mtable *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->dict = dict;
    t->provider_class = provider_class;
    t->generic_only = generic_only(dict);
    t->ioclass = string_of(plist_dict_get_item(dict, "IOClass"));
    t->has_bsd_keys =
        plist_dict_get_item(dict, "IOBSDName") || plist_dict_get_item(dict, "IOBSDMajor") ||
        plist_dict_get_item(dict, "IOBSDMinor") || plist_dict_get_item(dict, "IOBSDUnit");
    find_unknown_key(t, dict);
    if (compile_generic(t, dict) != 0 || compile_pci(t, dict) != 0 || compile_usb(t, dict) != 0) {
        kx_mtable_free(t);
        return NULL;
    }
    return t;
}

void kx_mtable_free(struct kx_mtable *t)
{
    if (!t)
        return;
    free(t->unknown_key);
    strings_free(t->names, t->n_names);
    strings_free(t->resources, t->n_resources);
    for (size_t i = 0; i < t->n_property_match; i++) {
        strings_free(t->property_match[i].keys, t->property_match[i].n);
        free(t->property_match[i].values);
    }
    free(t->property_match);
    kx_mtable_free(t->location_table);
    kx_mtable_free(t->parent_table);
    for (int k = 0; k < 4; k++)
        free(t->pci[k]);
    free(t->product_array);
    free(t);
}
