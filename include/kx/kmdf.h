/* kx/kmdf.h — the driver API: the AxisOS KMDF (Dk* calls, DRIVER_OBJECT,
 * DEVICE_OBJECT, IRP) in C, with Windows' I/O semantics.
 *
 * A driver is a shared object that exports DriverEntry and imports only the
 * symbols listed in data/exports/kmdf.exports (KPI org.kx.kpi.kmdf) plus libc.
 * The framework calls DriverEntry once on the driver's own dispatch thread;
 * DriverEntry fills MajorFunction[] and DriverUnload, creates devices and
 * links, and returns. From then on the framework calls the dispatch routines
 * on that same thread, one at a time, with IRPs taken from the driver's queue.
 *
 * Design rule 1 — a driver never relies on sharing the kernel's memory.
 * Everything declared here (DRIVER_OBJECT, DEVICE_OBJECT, IRP and the IRP's
 * SystemBuffer) lives in the driver's host, next to the driver. The I/O
 * manager keeps its own records (names, handles, pending tables) keyed by ids
 * and never hands a driver a pointer to them; each Dk* call below reaches the
 * manager as a small message (ids, names, statuses, byte counts). Today the
 * host is the kernel process and a message is a function call; later a host is
 * a separate process and the same calls cross a shared-memory ring. So:
 *  - change manager state only through Dk* calls (writing DeviceObject->Flags
 *    or DeviceName tells the manager nothing);
 *  - do not keep pointers into an IRP after completing it;
 *  - I/O is buffered (METHOD_BUFFERED): a request's bytes are copied into the
 *    IRP's SystemBuffer and results copied out at completion, never shared
 *    with the requester.
 *
 * Threads. Dispatch, cancel and unload routines and DriverEntry all run on
 * the driver's dispatch thread and never concurrently with each other, so a
 * driver that does all its work there needs no locks. DkCompleteRequest,
 * DkSetCancelRoutine, DkIsIrpCancelled and DkCallDriver may be called from any
 * thread. DkPrint, DkCreateSymbolicLink and DkDeleteSymbolicLink take no
 * object, so they identify the driver by the calling thread: call them from
 * framework-run code (DriverEntry, dispatch, cancel or unload routines).
 *
 * Every IRP completes exactly once: a dispatch routine completes it
 * (DkCompleteRequest), passes it to another device (DkCallDriver), or marks it
 * pending (DkMarkIrpPending) and completes it later from any thread. If the
 * requester's deadline passes or its file is closed first, the requester is
 * answered by the manager (STATUS_TIMEOUT / STATUS_CANCELLED) and the driver's
 * later completion is absorbed; the driver still must complete the IRP.
 */
#ifndef KX_KMDF_H
#define KX_KMDF_H

#include <kx/driver_info.h>
#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

/* Marks DriverEntry (and a library kext's functions) as exported; kx builds
 * with -fvisibility=hidden. */
#define KX_DRIVER_EXPORT __attribute__((visibility("default")))

/* ---- Major function codes (WDM values) -------------------------------- */
#define IRP_MJ_CREATE            0x00 /* open: Parameters.Create */
#define IRP_MJ_CLOSE             0x02 /* last reference to an open is gone */
#define IRP_MJ_READ              0x03 /* Parameters.Read; data into SystemBuffer */
#define IRP_MJ_WRITE             0x04 /* Parameters.Write; data in SystemBuffer */
#define IRP_MJ_QUERY_INFORMATION 0x05 /* Parameters.QueryFile; result into SystemBuffer */
#define IRP_MJ_FLUSH_BUFFERS     0x09
#define IRP_MJ_DEVICE_CONTROL    0x0E /* Parameters.DeviceIoControl */
#define IRP_MJ_CLEANUP           0x12 /* the handle was closed; its pending IRPs were cancelled */
#define IRP_MJ_MAXIMUM_FUNCTION  0x1B

/* ---- Access rights, as granted to a handle and required by control codes */
#define FILE_ANY_ACCESS   0x0
#define FILE_READ_ACCESS  0x1
#define FILE_WRITE_ACCESS 0x2

/* ---- Control codes (Windows' CTL_CODE layout) ---------------------------
 * bits 31..16 device type, 15..14 required access, 13..2 function, 1..0
 * method. The manager refuses a DEVICE_CONTROL with STATUS_ACCESS_DENIED
 * before dispatch unless the handle was granted every access bit the code
 * requires, and refuses methods other than METHOD_BUFFERED with
 * STATUS_NOT_SUPPORTED (raw user pointers cannot cross to a driver host). */
#define METHOD_BUFFERED   0
#define METHOD_IN_DIRECT  1
#define METHOD_OUT_DIRECT 2
#define METHOD_NEITHER    3
#define CTL_CODE(DeviceType, Function, Method, Access)                                     \
    ((uint32_t)(((uint32_t)(DeviceType) << 16) | ((uint32_t)(Access) << 14) |             \
                ((uint32_t)(Function) << 2) | (uint32_t)(Method)))
#define DEVICE_TYPE_FROM_CTL_CODE(code) (((uint32_t)(code) >> 16) & 0xFFFFu)
#define ACCESS_FROM_CTL_CODE(code)      (((uint32_t)(code) >> 14) & 0x3u)
#define METHOD_FROM_CTL_CODE(code)      ((uint32_t)(code) & 0x3u)

/* Device types used by kx's samples (Windows values); functions 0x800 and
 * above are for drivers' own codes. */
#define FILE_DEVICE_DISK       0x07
#define FILE_DEVICE_NAMED_PIPE 0x11
#define FILE_DEVICE_NULL       0x15
#define FILE_DEVICE_UNKNOWN    0x22

/* ---- QUERY_INFORMATION classes ---------------------------------------- */
#define FileStandardInformation 5 /* FILE_STANDARD_INFORMATION (WDM value) */
typedef struct _FILE_STANDARD_INFORMATION {
    int64_t AllocationSize;
    int64_t EndOfFile; /* size in bytes; 0 for character devices */
    uint32_t NumberOfLinks;
    uint8_t DeletePending;
    uint8_t Directory;
} FILE_STANDARD_INFORMATION;

/* ---- Objects ----------------------------------------------------------- */
typedef struct _DRIVER_OBJECT DRIVER_OBJECT, *PDRIVER_OBJECT;
typedef struct _DEVICE_OBJECT DEVICE_OBJECT, *PDEVICE_OBJECT;
typedef struct _IRP IRP, *PIRP;

/* DriverEntry: runs once on the dispatch thread, within the manager's
 * DriverEntry deadline. Anything but STATUS_SUCCESS fails the start, and the
 * manager then deletes every device and link the driver created. */
typedef kx_status (*PDRIVER_INITIALIZE)(PDRIVER_OBJECT DriverObject);

/* Dispatch routine for one major function. Must complete, pass on or pend the
 * IRP before returning; returns the status it completed with, or
 * STATUS_PENDING. A routine that does none of these is a driver bug: the
 * manager logs it and completes the IRP with STATUS_INTERNAL_ERROR. Missing
 * routines: CREATE, CLEANUP and CLOSE succeed (there is nothing to undo),
 * every other major completes with STATUS_NOT_IMPLEMENTED. */
typedef kx_status (*PDRIVER_DISPATCH)(PDEVICE_OBJECT DeviceObject, PIRP Irp);

/* Cancel routine: runs on the dispatch thread when the IRP's requester goes
 * away (its file is closed). It owns the IRP: it removes it from wherever the
 * driver queued it and completes it, normally with STATUS_CANCELLED. */
typedef void (*PDRIVER_CANCEL)(PDEVICE_OBJECT DeviceObject, PIRP Irp);

/* DriverUnload: runs on the dispatch thread after every handle to the
 * driver's devices was closed. Deletes its links, then its devices, then
 * frees what DriverEntry allocated. Devices and links left behind are deleted
 * by the manager and reported. */
typedef void (*PDRIVER_UNLOAD)(PDRIVER_OBJECT DriverObject);

/* ---- Matching: the provider a personality matched ----------------------
 * A kext's IOKitPersonalities say which registry nubs (IOKit's providers: a
 * PCI function, a USB interface, IOResources) its driver drives. When one of
 * them wins a nub, kx loads the kext (DriverEntry runs once), then calls the
 * driver's Probe, if set, and AddDevice for that nub — WDM's AddDevice, one
 * call per match, so one driver may drive many nubs. Devices the driver
 * creates during AddDevice belong to that match (its instance): when the nub
 * goes away (hot-unplug, kextunload) RemoveDevice runs, the instance's open
 * handles are revoked (pending IRPs complete STATUS_DEVICE_REMOVED), and
 * devices RemoveDevice leaves behind are deleted. A driver without AddDevice
 * is loaded by its match and does its work in DriverEntry (the seed's null
 * driver). */

/* A registry entry: a nub, or a driver's own instance entry. Ids are never
 * reused; a call on a gone entry fails with STATUS_NO_SUCH_DEVICE. */
typedef uint64_t KX_REGISTRY_ID;

typedef struct _KX_PROVIDER {
    uint32_t Size;               /* sizeof(KX_PROVIDER) */
    KX_REGISTRY_ID Nub;          /* the provider matched */
    KX_REGISTRY_ID Instance;     /* this match's entry, a client of Nub (carries the personality) */
    const char *IOClass;         /* the personality's IOClass */
    const char *Personality;     /* its key in IOKitPersonalities */
    const char *NubClass;        /* "IOPCIDevice", "IOResources", ... */
    const char *NubName;         /* "pci8086,15b8", "IOResources", ... */
    const char *NubLocation;     /* "1f,6", or "" */
} KX_PROVIDER, *PKX_PROVIDER;

/* Probe: may decline the nub (anything but STATUS_SUCCESS), and then the next
 * personality of the match category is tried. *Score holds the personality's
 * IOProbeScore and may be changed (reported, as IOKit's probe may). */
typedef kx_status (*PDRIVER_PROBE)(PDRIVER_OBJECT DriverObject, PKX_PROVIDER Provider,
                                   int32_t *Score);
/* AddDevice: creates the devices (and links) that drive the nub, on the
 * dispatch thread within the DriverEntry deadline. STATUS_SUCCESS; any other
 * status fails the match (its devices are deleted) and the next candidate is
 * tried. The KX_PROVIDER and its strings are valid during the call only:
 * keep Provider->Instance and Provider->Nub. */
typedef kx_status (*PDRIVER_ADD_DEVICE)(PDRIVER_OBJECT DriverObject, PKX_PROVIDER Provider);
/* RemoveDevice: the nub (or the driver's match on it) is going away; runs on
 * the dispatch thread after the instance's handles were revoked. Delete the
 * instance's devices and links and free what AddDevice allocated. */
typedef void (*PDRIVER_REMOVE_DEVICE)(PDRIVER_OBJECT DriverObject, PKX_PROVIDER Provider);

/* Created by the framework before DriverEntry and freed after the driver's
 * thread has stopped. The driver writes MajorFunction[], DriverUnload,
 * DriverExtension, Probe, AddDevice and RemoveDevice; everything else is
 * read-only for it. */
struct _DRIVER_OBJECT {
    uint32_t Size;                              /* sizeof(DRIVER_OBJECT) at build time */
    const char *DriverName;                     /* "\Driver\<name>" */
    const struct kx_driver_info *DriverInfo;    /* the record the driver was started with */
    PDEVICE_OBJECT DeviceObject;                /* this driver's devices, newest first */
    PDRIVER_UNLOAD DriverUnload;
    void *DriverExtension;                      /* the driver's own pointer; NULL at entry */
    PDRIVER_DISPATCH MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1];
    PDRIVER_PROBE Probe;                        /* NULL: accept every match */
    PDRIVER_ADD_DEVICE AddDevice;               /* NULL: nothing to do per match */
    PDRIVER_REMOVE_DEVICE RemoveDevice;         /* NULL: the framework deletes the devices */
};

/* DEVICE_OBJECT.Flags */
#define DO_BUFFERED_IO         0x0004u /* always set: kx I/O is buffered */
#define DO_DEVICE_INITIALIZING 0x0080u /* set while DriverEntry runs; opens wait for it to end */
#define DO_DELETE_PENDING      0x1000u /* DkDeleteDevice was called; open handles still drain */
#define DO_PROXY               0x8000u /* from DkGetDeviceObjectPointer: another driver's device */

/* Created by DkCreateDevice. The object and its extension stay valid after
 * DkDeleteDevice until the last open handle to the device is closed and its
 * CLOSE has been dispatched, so a driver may keep using them in CLEANUP and
 * CLOSE. */
struct _DEVICE_OBJECT {
    uint32_t Size;                 /* sizeof(DEVICE_OBJECT) at build time */
    uint32_t Flags;                /* DO_*, maintained by the framework */
    const char *DeviceName;        /* canonical name, "\Device\<name>" */
    PDRIVER_OBJECT DriverObject;   /* owner; NULL for a proxy */
    PDEVICE_OBJECT NextDevice;     /* next device of the same driver */
    void *DeviceExtension;         /* DeviceExtensionSize zeroed bytes, 16-byte aligned */
    size_t DeviceExtensionSize;
};

typedef struct _IO_STATUS_BLOCK {
    kx_status Status;
    size_t Information; /* bytes transferred for READ/WRITE/DEVICE_CONTROL/QUERY */
} IO_STATUS_BLOCK;

/* Who asked: the real requesting process, not the daemon that relayed it. */
typedef struct _KX_REQUESTOR {
    int32_t Pid;
    uint32_t Uid;
    uint32_t Gid;
} KX_REQUESTOR;

/* An I/O request as the driver sees it. Owned by the driver from dispatch
 * until it completes it (or passes it on); never touched afterwards. */
struct _IRP {
    uint32_t Size;              /* sizeof(IRP) at build time */
    uint8_t MajorFunction;      /* IRP_MJ_* */
    uint8_t MinorFunction;      /* 0 for every major kx sends today */
    uint16_t Reserved;
    PDEVICE_OBJECT DeviceObject; /* the device this IRP is addressed to */
    /* READ: Length bytes to fill. WRITE: Length bytes to consume.
     * DEVICE_CONTROL: InputBufferLength bytes of input, overwritten in place
     * by up to OutputBufferLength bytes of output (read the input first).
     * QUERY_INFORMATION: Length bytes for the result. Zeroed where it is
     * output-only. NULL when the lengths are 0. */
    void *SystemBuffer;
    /* Per-open context for this device: CREATE may set it; every later IRP
     * of the same open (CLEANUP and CLOSE included) carries it. */
    void *FileContext;
    KX_REQUESTOR Requestor;
    IO_STATUS_BLOCK IoStatus;   /* filled in by DkCompleteRequest */
    union {
        struct {
            uint32_t DesiredAccess; /* FILE_READ_ACCESS | FILE_WRITE_ACCESS as granted */
            uint32_t Options;       /* reserved, 0 */
        } Create;
        struct {
            size_t Length;
            uint64_t ByteOffset;
        } Read;
        struct {
            size_t Length;
            uint64_t ByteOffset;
        } Write;
        struct {
            uint32_t IoControlCode;
            size_t InputBufferLength;
            size_t OutputBufferLength;
        } DeviceIoControl;
        struct {
            uint32_t FileInformationClass;
            size_t Length;
        } QueryFile;
    } Parameters;
    /* Free for the driver that currently owns the IRP (queue links and the
     * like), as Windows' Tail.Overlay.DriverContext. */
    void *DriverContext[4];
};

/* ---- Calls ------------------------------------------------------------- */

/* Appends "[DK] <message>" to the kernel log (kx log) with the time and the
 * calling driver's name. Lines longer than the log's line size are cut. */
KX_API void DkPrint(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Creates \Device\<...> for the driver. DeviceName must start with
 * "\Device\" and be unique. The DEVICE_OBJECT and DeviceExtensionSize zeroed
 * bytes of extension are allocated by the framework and freed by it (see
 * DEVICE_OBJECT). New devices are owned by uid 0, gid 0, mode 0600.
 * STATUS_SUCCESS; STATUS_DEVICE_ALREADY_EXISTS; STATUS_OBJECT_NAME_INVALID;
 * STATUS_INVALID_PARAMETER (NULL arguments); STATUS_INVALID_DRIVER_OBJECT
 * (the driver is being torn down); STATUS_INSUFFICIENT_RESOURCES. */
KX_API kx_status DkCreateDevice(PDRIVER_OBJECT DriverObject, const char *DeviceName,
                                size_t DeviceExtensionSize, PDEVICE_OBJECT *DeviceObject);

/* Removes the device from the namespace at once (new opens fail); links still
 * pointing at it are removed and reported. Open handles drain: their IRPs
 * other than CLEANUP and CLOSE fail with STATUS_DEVICE_REMOVED. For a proxy,
 * same as DkDereferenceDeviceObject. STATUS_SUCCESS; STATUS_NO_SUCH_DEVICE
 * (already deleted); STATUS_INVALID_PARAMETER. */
KX_API kx_status DkDeleteDevice(PDEVICE_OBJECT DeviceObject);

/* Makes DeviceName (a "\Device\..." name) reachable as LinkName (a path
 * starting with "/", e.g. "/dev/null"). STATUS_SUCCESS; STATUS_NO_SUCH_DEVICE
 * (no such device); STATUS_OBJECT_NAME_COLLISION (the link exists);
 * STATUS_OBJECT_NAME_INVALID; STATUS_INVALID_DRIVER_OBJECT (not called on a
 * framework thread). */
KX_API kx_status DkCreateSymbolicLink(const char *LinkName, const char *DeviceName);

/* Removes a link this driver created. STATUS_SUCCESS; STATUS_NO_SUCH_FILE (no
 * such link); STATUS_ACCESS_DENIED (another driver's link). */
KX_API kx_status DkDeleteSymbolicLink(const char *LinkName);

/* Sets who may open the device: owner, group and permission bits (0666 for
 * /dev/null). Checked at every open; uid 0 may open anything. READ access
 * needs the r bit, WRITE the w bit, of the owner, group or other triplet that
 * applies. STATUS_SUCCESS; STATUS_INVALID_PARAMETER (mode above 0777). */
KX_API kx_status DkSetDeviceSecurity(PDEVICE_OBJECT DeviceObject, uint32_t Owner, uint32_t Group,
                                     uint32_t Mode);

/* ---- Readiness and control-code sizes (poll and ioctl through files) ----
 * Programs reach devices as files too (kxd --mount): poll(2) asks whether a
 * read or write would wait, and ioctl(2) numbers carry a direction and size
 * that a control code alone does not have. */

#define DEVICE_READY_READ  0x1u /* a read would complete without pending */
#define DEVICE_READY_WRITE 0x2u /* a write would take bytes */

/* Says whether the device can be read and written without waiting: Events
 * is DEVICE_READY_READ | DEVICE_READY_WRITE, either or none. Until a driver
 * first calls it for a device, the device counts as always ready; after,
 * poll(2) on it waits until a call sets a bit it asks for. Call it whenever
 * the answer changes (a pipe: after every read and write). Any thread.
 * STATUS_SUCCESS; STATUS_INVALID_PARAMETER (other bits, a proxy);
 * STATUS_NO_SUCH_DEVICE (deleted). */
KX_API kx_status DkSetDeviceReady(PDEVICE_OBJECT DeviceObject, uint32_t Events);

/* One control code of the device with the bytes it reads (input) and writes
 * (output), each at most KX_CONTROL_LENGTH_MAX. */
typedef struct _KX_CONTROL_CODE {
    uint32_t IoControlCode;
    uint32_t InputLength;
    uint32_t OutputLength;
} KX_CONTROL_CODE;

#define KX_MAX_CONTROL_CODES  32
#define KX_CONTROL_LENGTH_MAX 16383u /* Linux's _IOC size field */

/* Declares the device's control codes (replacing an earlier declaration;
 * the table is copied). Through a file, ioctl(2) reaches only declared
 * codes, by the number docs/fuse.md derives from each: _IOC(dir, device
 * type & 0xFF, function & 0xFF, size), dir _IOC_WRITE with input and
 * _IOC_READ with output, size the larger length. Codes whose numbers would
 * coincide are refused. Any thread. STATUS_SUCCESS; STATUS_INVALID_PARAMETER
 * (more than KX_MAX_CONTROL_CODES, a length above KX_CONTROL_LENGTH_MAX, a
 * method other than METHOD_BUFFERED, a proxy); STATUS_OBJECT_NAME_COLLISION
 * (two codes with one number); STATUS_NO_SUCH_DEVICE. */
KX_API kx_status DkSetDeviceControlCodes(PDEVICE_OBJECT DeviceObject, const KX_CONTROL_CODE *Codes,
                                         size_t Count);

/* Completes the IRP: sets IoStatus and sends the result to the manager, which
 * answers the requester (copying min(Information, requested length) bytes of
 * SystemBuffer back for a successful READ, DEVICE_CONTROL or
 * QUERY_INFORMATION). Called from the IRP's own dispatch routine (the usual
 * case), the answer leaves as that routine returns, in one step with the end
 * of the dispatch; from anywhere else, at once. Clears a cancel routine that
 * is still set. Any thread. Returns Status; STATUS_REQUEST_ALREADY_COMPLETED
 * (and logs it) when the IRP was completed before; STATUS_INVALID_PARAMETER
 * for Status == STATUS_PENDING. */
KX_API kx_status DkCompleteRequest(PIRP Irp, kx_status Status, size_t Information);

/* Declares that the dispatch routine returns before the IRP is completed;
 * the routine then returns STATUS_PENDING and completes it later, from any
 * thread. */
KX_API void DkMarkIrpPending(PIRP Irp);

/* Sets (CancelRoutine != NULL) or clears (NULL) the IRP's cancel routine.
 * Setting: STATUS_SUCCESS, or STATUS_CANCELLED when the IRP was already
 * cancelled (the routine was not set; complete the IRP with STATUS_CANCELLED
 * yourself). Clearing, before completing a pended IRP: STATUS_SUCCESS when
 * the driver still owns the IRP, STATUS_CANCELLED when the cancel routine has
 * been or is about to be called (it owns the IRP; do not complete it). Any
 * thread. */
KX_API kx_status DkSetCancelRoutine(PIRP Irp, PDRIVER_CANCEL CancelRoutine);

/* 1 once cancellation of the IRP was requested (its file is being closed). */
KX_API int DkIsIrpCancelled(PIRP Irp);

/* Passes the IRP to another device (a lower device of a layered driver: one
 * of this driver's devices, or a proxy from DkGetDeviceObjectPointer). It is
 * queued to that device's driver, whose completion answers the requester.
 * Returns STATUS_PENDING: the IRP is no longer the caller's and the dispatch
 * routine returns STATUS_PENDING without touching it. On an error
 * (STATUS_NO_SUCH_DEVICE, STATUS_DEVICE_REMOVED, STATUS_INVALID_PARAMETER) the
 * caller still owns the IRP. FileContext is saved for the caller's device and
 * replaced by the target's context for the same open. Any thread. */
KX_API kx_status DkCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp);

/* A proxy DEVICE_OBJECT for another driver's device, usable with
 * DkCallDriver; released with DkDereferenceDeviceObject (or when the driver
 * is torn down). STATUS_SUCCESS; STATUS_NO_SUCH_DEVICE;
 * STATUS_INSUFFICIENT_RESOURCES. */
KX_API kx_status DkGetDeviceObjectPointer(PDRIVER_OBJECT DriverObject, const char *DeviceName,
                                          PDEVICE_OBJECT *DeviceObject);
KX_API void DkDereferenceDeviceObject(PDEVICE_OBJECT DeviceObject);

/* ---- The registry, as drivers reach it ----------------------------------
 * Property values are IOKit's types; these calls carry the four scalar ones
 * (arrays and dictionaries: DkCopyProperties). Reading works on any entry;
 * writing on the driver's own instances and the nubs it published. */

typedef enum _KX_PROPERTY_TYPE {
    KxPropertyNone = 0,
    KxPropertyNumber = 1,  /* uint64_t (8 bytes) */
    KxPropertyString = 2,  /* NUL-terminated text */
    KxPropertyData = 3,    /* bytes */
    KxPropertyBoolean = 4, /* uint8_t, 0 or 1 */
    KxPropertyOther = 5,   /* an array or a dictionary: read it with DkCopyProperties */
} KX_PROPERTY_TYPE;

/* Reads property Key of Entry into Buffer (Length bytes) as *Type says.
 * *ResultLength (may be NULL) is the value's size (strings: with the NUL).
 * STATUS_SUCCESS; STATUS_OBJECT_NAME_NOT_FOUND (no such key);
 * STATUS_BUFFER_TOO_SMALL (*ResultLength says how much is needed);
 * STATUS_NO_SUCH_DEVICE (no such entry); STATUS_INVALID_PARAMETER. Any
 * thread of the driver. */
KX_API kx_status DkGetProperty(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Entry, const char *Key,
                               KX_PROPERTY_TYPE *Type, void *Buffer, size_t Length,
                               size_t *ResultLength);
/* Sets property Key of Entry (Length bytes of Type; strings may pass 0 for
 * their strlen). STATUS_SUCCESS; STATUS_ACCESS_DENIED (not the driver's
 * entry); STATUS_NO_SUCH_DEVICE; STATUS_INVALID_PARAMETER. */
KX_API kx_status DkSetProperty(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Entry, const char *Key,
                               KX_PROPERTY_TYPE Type, const void *Value, size_t Length);
/* The whole property table of Entry as an XML property list (NUL-terminated)
 * in Buffer; sizes as DkGetProperty. */
KX_API kx_status DkCopyProperties(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Entry, char *Buffer,
                                  size_t Length, size_t *ResultLength);
/* Publishes a nub of ClassName (a built-in IOKit class, or one a kext declares
 * in its Info.plist's KXClasses) as a client of Provider (one of the driver's
 * instances or nubs), with properties from an XML dictionary (may be NULL). It
 * is then matched like any nub (stacking: VoodooI2C's controller publishes
 * device nubs that VoodooI2CHID matches). *Nub (may be NULL) gets its id.
 * The nub goes away with its provider, or with DkTerminateNub. */
KX_API kx_status DkPublishNub(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Provider,
                              const char *ClassName, const char *Name, const char *Location,
                              const char *PropertiesXml, KX_REGISTRY_ID *Nub);
/* Terminates a nub the driver published: the drivers on it are removed first. */
KX_API kx_status DkTerminateNub(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Nub);
/* Publishes a resource on IOResources (IOService::publishResource): personalities
 * waiting for it with IOResourceMatch are matched now. */
KX_API kx_status DkPublishResource(PDRIVER_OBJECT DriverObject, const char *Name);
/* Makes a device created outside AddDevice part of Instance, so that it is
 * removed with it. STATUS_SUCCESS; STATUS_NO_SUCH_DEVICE; STATUS_ACCESS_DENIED. */
KX_API kx_status DkAttachDevice(PDEVICE_OBJECT DeviceObject, KX_REGISTRY_ID Instance);

/* "STATUS_END_OF_FILE" for messages. */
KX_API const char *DkStatusName(kx_status Status);

/* ---- Events (issue 14) ------------------------------------------------------
 * Named events reach a driver as calls of the routine it registered, made on
 * its own dispatch thread: never while one of its IRP routines runs, in kxd
 * or in a kx-host process alike. Sources: component_added/component_removed
 * (the registry), device_added/device_removed (Linux hot-plug, Source = the
 * sysfs path), key_down/key_up (evdev, Data = the uint16_t key code), timers
 * (DkSetTimer) and `kx event raise`. Each driver's queue is bounded: on
 * overflow events are dropped and counted (`kx events`), never waited for.
 * Sequence counts the events of one Source raised for this driver, from 1 and
 * dropped ones included, so a gap tells the driver it lost some. Registrations and timers end with
 * the driver (unload, or its host process dying). */

typedef struct _KX_EVENT {
    const char *Name;
    const char *Source; /* "" when the raiser named none */
    const void *Data;   /* valid during the routine only */
    size_t DataLength;
    uint64_t Sequence;
} KX_EVENT, *PKX_EVENT;

typedef void (*PKX_EVENT_ROUTINE)(PDRIVER_OBJECT DriverObject, const KX_EVENT *Event, void *Context);

/* Subscribes to EventName (at most 63 bytes; a second call replaces the
 * routine). STATUS_SUCCESS; STATUS_EVENT_LIMIT (64 per driver);
 * STATUS_INVALID_PARAMETER. Any thread of the driver. */
KX_API kx_status DkRegisterInterrupt(PDRIVER_OBJECT DriverObject, const char *EventName,
                                     PKX_EVENT_ROUTINE Routine, void *Context);
/* Ends the subscription: events already queued for it are dropped.
 * STATUS_SUCCESS; STATUS_EVENT_NOT_REGISTERED; STATUS_INVALID_PARAMETER. */
KX_API kx_status DkUnregisterInterrupt(PDRIVER_OBJECT DriverObject, const char *EventName);
/* Raises EventName (Source "timer") for this driver alone after DueMs, then
 * every PeriodMs; replaces a timer of the same name. STATUS_SUCCESS;
 * STATUS_EVENT_LIMIT (64 per driver); STATUS_INVALID_PARAMETER. */
KX_API kx_status DkSetTimer(PDRIVER_OBJECT DriverObject, const char *EventName, uint32_t DueMs,
                            uint32_t PeriodMs);
/* STATUS_SUCCESS; STATUS_EVENT_NOT_REGISTERED (no such timer, or a one-shot
 * that already fired). */
KX_API kx_status DkCancelTimer(PDRIVER_OBJECT DriverObject, const char *EventName);

/* ---- Components and hardware proxies ------------------------------------
 * A component is a registry nub of class KXComponent with an "address" (a
 * UUID) and a "type": simulated ones from platform files and kx device add,
 * real ones beside each Linux PCI function. A CMD (component-mode) driver's
 * personality matches components (IOProviderClass KXComponent, IOPropertyMatch
 * on "type"); each match is one instance of the driver, with that component
 * bound to it while its Probe, AddDevice and RemoveDevice run. */

/* The bound component's address ("8-4-4-4-12" hex, 37 bytes with the NUL).
 * STATUS_SUCCESS; STATUS_NO_COMPONENT_BOUND (not in AddDevice/RemoveDevice of
 * a component match); STATUS_BUFFER_TOO_SMALL; STATUS_INVALID_PARAMETER. */
KX_API kx_status DkGetComponentAddress(PDRIVER_OBJECT DriverObject, char *Buffer, size_t Size);

/* The seed's helper: creates \Device\<Type>_<ShortAddr> (no extension) and
 * links it as /dev/<Type>_<ShortAddr>_<Index>. ShortAddr is the address's
 * first 6 hex digits; Index counts the devices this call created for the
 * instance, from 0 (the device name carries "_<Index>" from the second on).
 * When another component's device already has the name, ShortAddr grows to
 * 8, 12, then all 32 digits; then STATUS_OBJECT_NAME_COLLISION. The link is
 * deleted with the device (DkDeleteDevice, RemoveDevice, unload). Other
 * statuses as DkGetComponentAddress, DkCreateDevice, DkCreateSymbolicLink. */
KX_API kx_status DkCreateComponentDevice(PDRIVER_OBJECT DriverObject, const char *TypeName,
                                         PDEVICE_OBJECT *DeviceObject);

/* Typed access to a component's hardware: a simulated component's register
 * file, a PCI function's configuration space and BARs. Privileged, checked by kx: a
 * KMD may open any component; a CMD only the component bound to the instance
 * whose Probe or AddDevice is running (so a CMD opens its proxy there and
 * keeps it); a UMD none (STATUS_ACCESS_DENIED). STATUS_NO_SUCH_DEVICE (no
 * component has the address). Released with DkReleaseHardwareProxy or at
 * unload. */
typedef struct _KX_HARDWARE_PROXY *PKX_HARDWARE_PROXY;
KX_API kx_status DkGetHardwareProxy(PDRIVER_OBJECT DriverObject, const char *Address,
                                    PKX_HARDWARE_PROXY *Proxy);
/* Length bytes at Offset. STATUS_SUCCESS; STATUS_INVALID_PARAMETER (outside
 * the register file or config space); STATUS_DEVICE_REMOVED (the component
 * is gone); STATUS_ACCESS_DENIED (writing config space without kxd
 * --allow-hardware-write, kxd running as root and KXAllowHardwareWrite =
 * true in the kext's Info.plist). Any thread of the driver. */
KX_API kx_status DkProxyRead(PKX_HARDWARE_PROXY Proxy, uint32_t Offset, void *Buffer,
                             size_t Length);
KX_API kx_status DkProxyWrite(PKX_HARDWARE_PROXY Proxy, uint32_t Offset, const void *Buffer,
                              size_t Length);
/* Maps BAR Index (0-5) of a PCI function's component into the driver's memory, shared:
 * read-only, or read-write when Write is non-zero, which, as configuration space writes,
 * needs all of kxd --allow-hardware-write, kxd running as root and KXAllowHardwareWrite =
 * true in the kext's Info.plist (else STATUS_ACCESS_DENIED, logged naming the kext, the
 * component and the reason). *Length is the BAR's size. kxd checks, the driver's own
 * process maps the function's sysfs resourceN (a kx-host as its own user). Each call asks
 * kxd again and then gives the map made before, if any; maps stay until the proxy is
 * released (at unload at the latest). STATUS_NOT_SUPPORTED (a simulated component, an I/O
 * port BAR); STATUS_INVALID_PARAMETER (no such BAR); STATUS_DEVICE_REMOVED (the component
 * is gone). */
KX_API kx_status DkProxyMapBar(PKX_HARDWARE_PROXY Proxy, uint32_t Index, int Write,
                               volatile void **Address, size_t *Length);
/* The component's registry entry, for DkGetProperty. */
KX_API KX_REGISTRY_ID DkProxyEntry(PKX_HARDWARE_PROXY Proxy);
KX_API void DkReleaseHardwareProxy(PKX_HARDWARE_PROXY Proxy);

#endif /* KX_KMDF_H */
