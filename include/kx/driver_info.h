/* kx/driver_info.h — the driver-info record: a driver's identity, readable
 * without running its code (design rule 2).
 *
 * The seed's g_tDriverInfo table becomes a constant struct placed by
 * KX_DRIVER_INFO() in the ELF section ".kx_driver_info". The kext loader reads
 * it with libelf before anything is mapped for execution; its version must
 * equal the bundle's CFBundleVersion (the seed: "the version is stored both in
 * its Info.plist and in its executable"). The layout only grows at the end;
 * `size` tells a reader how much of it the driver was built with.
 */
#ifndef KX_DRIVER_INFO_H
#define KX_DRIVER_INFO_H

#include <stdint.h>

#define KX_DRIVER_INFO_SECTION ".kx_driver_info"
#define KX_DRIVER_INFO_MAGIC 0x5244584Bu /* "KXDR" little-endian */
#define KX_DRIVER_INFO_ABI 1u
#define KX_DRIVER_INFO_TEXT_MAX 64 /* name and version, with the NUL */

/* The seed's three driver types. */
enum kx_driver_type {
    DRIVER_TYPE_KMD = 1, /* "KernelModeDriver" */
    DRIVER_TYPE_UMD = 2, /* "UserModeDriver" */
    DRIVER_TYPE_CMD = 3, /* "ComponentModeDriver" */
};

struct kx_driver_info {
    uint32_t magic;         /* KX_DRIVER_INFO_MAGIC */
    uint32_t abi;           /* KX_DRIVER_INFO_ABI the driver was built with */
    uint32_t size;          /* sizeof(struct kx_driver_info) at build time */
    uint32_t type;          /* enum kx_driver_type */
    int32_t load_priority;  /* lower loads first (the seed's nLoadPriority) */
    uint32_t flags;         /* reserved, 0 */
    char name[KX_DRIVER_INFO_TEXT_MAX];    /* sDriverName: for logs and diagnostics */
    char version[KX_DRIVER_INFO_TEXT_MAX]; /* sVersion: must equal CFBundleVersion */
};

/* Declares the record once per driver executable, e.g.
 *   KX_DRIVER_INFO("AxisNull", DRIVER_TYPE_KMD, 900, "1.0.0");  */
#define KX_DRIVER_INFO(name_, type_, priority_, version_)                                     \
    __attribute__((section(KX_DRIVER_INFO_SECTION), used, aligned(8))) static const struct    \
        kx_driver_info kx_driver_info_record = {KX_DRIVER_INFO_MAGIC, KX_DRIVER_INFO_ABI,       \
                                                sizeof(struct kx_driver_info), (type_),       \
                                                (priority_), 0, name_, version_}

#endif /* KX_DRIVER_INFO_H */
