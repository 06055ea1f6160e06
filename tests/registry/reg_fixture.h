/* reg_fixture.h — a registry, a class table and a catalogue for one test, nubs built
 * the way IOKit's families publish them (PCI IDs as 4-byte little-endian data, USB IDs as
 * numbers, ACPI _HID/_CID as data strings), and personalities built in memory. Every
 * helper aborts the test on failure.
 */
#ifndef KX_TESTS_REG_FIXTURE_H
#define KX_TESTS_REG_FIXTURE_H

#include <kx/registry.h>

#include <plist/plist.h>
#include <stdint.h>

struct rfx {
    struct kx_classes *classes;
    struct kx_reg *reg;
    struct kx_catalog *cat;
};

/* cmocka group setup/teardown: *state becomes a struct rfx (flags: KX_CATALOG_*). */
int rfx_setup(void **state);
int rfx_setup_safe_boot(void **state);
int rfx_teardown(void **state);

/* ---- Nubs (published under parent, or the platform expert when parent is 0) ---------------- */

kx_reg_id rfx_pci(struct rfx *f, kx_reg_id parent, const char *name, const char *location,
                  uint16_t vendor, uint16_t device, uint16_t subvendor, uint16_t subdevice,
                  uint32_t class_code, uint8_t revision);
kx_reg_id rfx_usb_device(struct rfx *f, kx_reg_id parent, const char *name, uint16_t vendor,
                         uint16_t product, uint16_t bcd, uint8_t cls, uint8_t subclass,
                         uint8_t protocol);
kx_reg_id rfx_usb_interface(struct rfx *f, kx_reg_id device, uint16_t vendor, uint16_t product,
                            uint8_t config, uint8_t number, uint8_t cls, uint8_t subclass,
                            uint8_t protocol);
/* An IOACPIPlatformDevice: "name" = _HID, "compatible" = _CID (NULL: none), both data. */
kx_reg_id rfx_acpi(struct rfx *f, kx_reg_id parent, const char *name, const char *hid,
                   const char *cid);
/* Any class, with props (taken; NULL: none). */
kx_reg_id rfx_nub(struct rfx *f, kx_reg_id parent, const char *class_name, const char *name,
                  const char *location, plist_t props);

/* data holding v as 4 little-endian bytes; data holding s and its NUL */
plist_t rfx_data32(uint32_t v);
plist_t rfx_data_str(const char *s);

/* ---- Personalities ------------------------------------------------------------------------- */

/* {IOClass, IOProviderClass} */
plist_t rfx_pers(const char *ioclass, const char *provider);
void rfx_str(plist_t d, const char *key, const char *value);
void rfx_num(plist_t d, const char *key, uint64_t value);
/* An array of strings from a NULL-terminated list. */
plist_t rfx_strings(const char *first, ...);

/* Adds a kext to the catalogue: bundle path "/Library/Extensions/<name>.kext", identifier
 * id, personalities as (name, dictionary) pairs ending with NULL; the dictionaries are
 * taken. has_executable 0 makes a codeless kext. Returns how many were added. */
size_t rfx_kext(struct rfx *f, const char *id, const char *name, int has_executable, ...);

/* ---- Matching ------------------------------------------------------------------------------ */

struct kx_match *rfx_match(struct rfx *f, kx_reg_id nub, unsigned flags);
/* The candidate / rejection of that personality name, or NULL. */
const struct kx_match_candidate *rfx_cand(const struct kx_match *m, const char *personality);
const struct kx_match_rejection *rfx_rej(const struct kx_match *m, const char *personality);
/* The personality name chosen in category, or NULL. */
const char *rfx_chosen(const struct kx_match *m, const char *category);
/* Index of the candidate named personality (fails the test when absent). */
size_t rfx_cand_index(const struct kx_match *m, const char *personality);

#endif
