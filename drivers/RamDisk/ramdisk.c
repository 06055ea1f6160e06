/* ramdisk.c — /dev/ram0: a RAM disk of RAMDISK_SECTOR_COUNT sectors. Reads and
 * writes must start on a sector boundary and cover whole sectors
 * (STATUS_INVALID_PARAMETER otherwise, the sector size in kx log); they honour the byte offset, stop at
 * the end of the disk, and a read starting at the end returns
 * STATUS_END_OF_FILE. A control code reports the geometry.
 */
#include "ramdisk.h"

#include <stdlib.h>
#include <string.h>

KX_DRIVER_INFO("RamDisk", DRIVER_TYPE_KMD, 600, KX_KEXT_VERSION);

#define RAMDISK_DEVICE "\\Device\\RamDisk0"
#define RAMDISK_LINK   "/dev/ram0"
#define RAMDISK_BYTES  ((uint64_t)RAMDISK_SECTOR_SIZE * RAMDISK_SECTOR_COUNT)
#define GID_DISK       6

struct ramdisk_ext {
    unsigned char *data;
};

static unsigned char *disk(PDEVICE_OBJECT dev)
{
    return ((struct ramdisk_ext *)dev->DeviceExtension)->data;
}

/* Checks a transfer and clips it to the disk; 0 bytes at the end. A
 * refusal says the sector size in the kernel log (kx log): the status alone
 * can't tell the caller what a valid transfer is. */
static kx_status span(const char *what, uint64_t off, size_t len, size_t *n)
{
    if (off % RAMDISK_SECTOR_SIZE || len % RAMDISK_SECTOR_SIZE) {
        DkPrint("RamDisk: %s of %zu bytes at offset %llu refused: transfers must start and end "
                "on a %u-byte sector boundary",
                what, len, (unsigned long long)off, (unsigned)RAMDISK_SECTOR_SIZE);
        return STATUS_INVALID_PARAMETER;
    }
    if (off >= RAMDISK_BYTES)
        return STATUS_END_OF_FILE;
    *n = len < RAMDISK_BYTES - off ? len : (size_t)(RAMDISK_BYTES - off);
    return STATUS_SUCCESS;
}

static kx_status rd_read(PDEVICE_OBJECT dev, PIRP irp)
{
    uint64_t off = irp->Parameters.Read.ByteOffset;
    size_t n = 0;
    kx_status st = span("read", off, irp->Parameters.Read.Length, &n);
    if (st == STATUS_SUCCESS && n)
        memcpy(irp->SystemBuffer, disk(dev) + off, n);
    return DkCompleteRequest(irp, st, n);
}

static kx_status rd_write(PDEVICE_OBJECT dev, PIRP irp)
{
    uint64_t off = irp->Parameters.Write.ByteOffset;
    size_t n = 0;
    kx_status st = span("write", off, irp->Parameters.Write.Length, &n);
    if (st == STATUS_SUCCESS && n)
        memcpy(disk(dev) + off, irp->SystemBuffer, n);
    return DkCompleteRequest(irp, st, n);
}

static kx_status rd_control(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    if (irp->Parameters.DeviceIoControl.IoControlCode != IOCTL_RAMDISK_GET_GEOMETRY)
        return DkCompleteRequest(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    struct ramdisk_geometry g = {RAMDISK_SECTOR_COUNT, RAMDISK_SECTOR_SIZE, 0, RAMDISK_BYTES};
    if (irp->Parameters.DeviceIoControl.OutputBufferLength < sizeof g)
        return DkCompleteRequest(irp, STATUS_BUFFER_TOO_SMALL, 0);
    memcpy(irp->SystemBuffer, &g, sizeof g);
    return DkCompleteRequest(irp, STATUS_SUCCESS, sizeof g);
}

static kx_status rd_query(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    if (irp->Parameters.QueryFile.FileInformationClass != FileStandardInformation)
        return DkCompleteRequest(irp, STATUS_INVALID_PARAMETER, 0);
    if (irp->Parameters.QueryFile.Length < sizeof(FILE_STANDARD_INFORMATION))
        return DkCompleteRequest(irp, STATUS_BUFFER_TOO_SMALL, 0);
    FILE_STANDARD_INFORMATION info = {(int64_t)RAMDISK_BYTES, (int64_t)RAMDISK_BYTES, 1, 0, 0};
    memcpy(irp->SystemBuffer, &info, sizeof info);
    return DkCompleteRequest(irp, STATUS_SUCCESS, sizeof info);
}

static kx_status rd_flush(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev; /* memory is always "on disk" */
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static void rd_unload(PDRIVER_OBJECT drv)
{
    DkDeleteSymbolicLink(RAMDISK_LINK);
    PDEVICE_OBJECT dev = drv->DeviceObject;
    if (dev) {
        free(disk(dev));
        DkDeleteDevice(dev);
    }
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_READ] = rd_read;
    drv->MajorFunction[IRP_MJ_WRITE] = rd_write;
    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = rd_control;
    drv->MajorFunction[IRP_MJ_QUERY_INFORMATION] = rd_query;
    drv->MajorFunction[IRP_MJ_FLUSH_BUFFERS] = rd_flush;
    drv->DriverUnload = rd_unload;
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(drv, RAMDISK_DEVICE, sizeof(struct ramdisk_ext), &dev);
    if (st != STATUS_SUCCESS)
        return st;
    struct ramdisk_ext *ext = dev->DeviceExtension;
    if (!(ext->data = calloc(1, RAMDISK_BYTES))) {
        DkDeleteDevice(dev);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    DkSetDeviceSecurity(dev, 0, GID_DISK, 0660); /* root:disk, as Linux block devices */
    static const KX_CONTROL_CODE codes[] = {
        {IOCTL_RAMDISK_GET_GEOMETRY, 0, sizeof(struct ramdisk_geometry)}};
    DkSetDeviceControlCodes(dev, codes, 1); /* ioctl(2) through kxd's mount */
    if ((st = DkCreateSymbolicLink(RAMDISK_LINK, RAMDISK_DEVICE)) != STATUS_SUCCESS) {
        free(ext->data);
        DkDeleteDevice(dev);
    }
    return st;
}
