/* ramdisk.h — /dev/ram0: a sector-addressed block device in memory. */
#ifndef KX_DRIVERS_RAMDISK_H
#define KX_DRIVERS_RAMDISK_H

#include <kx/kmdf.h>

#define RAMDISK_SECTOR_SIZE  512u
#define RAMDISK_SECTOR_COUNT 2048u /* 1 MiB */

/* Output: struct ramdisk_geometry. Any access (as IOCTL_DISK_GET_DRIVE_GEOMETRY). */
#define IOCTL_RAMDISK_GET_GEOMETRY CTL_CODE(FILE_DEVICE_DISK, 0x000, METHOD_BUFFERED, FILE_ANY_ACCESS)

struct ramdisk_geometry {
    uint64_t sector_count;
    uint32_t bytes_per_sector;
    uint32_t reserved;
    uint64_t disk_size; /* bytes */
};

#endif
