/* kx/status.h — the one status type of kx (design rule 4).
 *
 * Every layer — drivers, the I/O manager, the kext loader, kxd and the client
 * library — reports results as a kx_status. The names and values of the seed's
 * errcheck table (AxisOS lib/errcheck.lua) are kept exactly; values the
 * original lacked are added in the gaps of each hundred so the groups stay
 * recognisable: 2xx/3xx general, 4xx drivers and devices, 5xx security,
 * 6xx I/O, 7xx handles, 8xx kexts, 9xx daemon and transport.
 *
 * The enum, kx_status_name() and kx_status_string() are generated from the one
 * list below and cannot drift apart.
 */
#ifndef KX_STATUS_H
#define KX_STATUS_H

#include <stdint.h>

#if defined(__GNUC__)
#define KX_API __attribute__((visibility("default")))
#else
#define KX_API
#endif

/* XX(name, value, message). Messages for kext errors use Apple's libkern
 * wording (err_libkern.sub) so users can search for them. */
#define KX_STATUS_MAP(XX)                                                                          \
    XX(STATUS_SUCCESS, 0, "success")                                                               \
    XX(STATUS_PENDING, 1, "operation pending")                                                     \
    XX(STATUS_TIMEOUT, 258, "operation timed out")                                                 \
    XX(STATUS_UNSUCCESSFUL, 300, "operation unsuccessful")                                         \
    XX(STATUS_NOT_IMPLEMENTED, 301, "not implemented")                                             \
    XX(STATUS_INSUFFICIENT_RESOURCES, 302, "insufficient resources")                               \
    XX(STATUS_NOT_SUPPORTED, 303, "not supported")                                                 \
    XX(STATUS_INTERNAL_ERROR, 304, "internal error")                                               \
    XX(STATUS_INVALID_DRIVER_OBJECT, 400, "invalid driver object")                                 \
    XX(STATUS_INVALID_DRIVER_ENTRY, 401, "invalid driver entry")                                   \
    XX(STATUS_INVALID_DRIVER_INFO, 402, "invalid driver info")                                     \
    XX(STATUS_DRIVER_VALIDATION_FAILED, 403, "driver validation failed")                           \
    XX(STATUS_DRIVER_INIT_FAILED, 404, "driver initialisation failed")                             \
    XX(STATUS_NO_SUCH_DEVICE, 405, "no such device")                                               \
    XX(STATUS_DEVICE_ALREADY_EXISTS, 406, "device already exists")                                 \
    XX(STATUS_INVALID_DRIVER_TYPE, 407, "invalid driver type")                                     \
    XX(STATUS_DRIVER_UNLOAD_FAILED, 408, "driver unload failed")                                   \
    XX(STATUS_DRIVER_NOT_RESPONDING, 409, "driver is not responding (hung handler)")               \
    XX(STATUS_DRIVER_PROCESS_TERMINATED, 410, "driver host terminated")                            \
    XX(STATUS_DRIVER_INTERNAL_ERROR, 420, "Lua error in driver code (traceback in the kernel log)") \
    XX(STATUS_DRIVER_INSTRUCTION_LIMIT, 421, "Lua driver ran past its instruction limit")         \
    XX(STATUS_DRIVER_MEMORY_LIMIT, 422, "Lua driver ran out of its memory limit")                 \
    XX(STATUS_LUA_DRIVER_INFO_INVALID, 423, "g_tDriverInfo missing or malformed")                 \
    XX(STATUS_LUA_MODULE_UNKNOWN, 424, "the Lua driver requires a module kx does not provide")   \
    XX(STATUS_ACCESS_DENIED, 500, "access denied")                                                 \
    XX(STATUS_PRIVILEGE_NOT_HELD, 501, "privilege not held")                                       \
    XX(STATUS_SYNAPSE_TOKEN_MISMATCH, 502, "synapse token mismatch")                               \
    XX(STATUS_SYNAPSE_TOKEN_EXPIRED, 503, "synapse token expired")                                 \
    XX(STATUS_INVALID_HANDLE, 600, "invalid handle")                                               \
    XX(STATUS_INVALID_PARAMETER, 601, "invalid parameter")                                         \
    XX(STATUS_END_OF_FILE, 602, "end of file")                                                     \
    XX(STATUS_NO_SUCH_FILE, 603, "no such file")                                                   \
    XX(STATUS_DEVICE_BUSY, 604, "device busy")                                                     \
    XX(STATUS_DEVICE_NOT_READY, 605, "device not ready")                                           \
    XX(STATUS_CANCELLED, 606, "request cancelled")                                                 \
    XX(STATUS_DEVICE_REMOVED, 607, "device removed")                                               \
    XX(STATUS_BUFFER_TOO_SMALL, 608, "buffer too small")                                           \
    XX(STATUS_INVALID_DEVICE_REQUEST, 609, "invalid device request")                               \
    XX(STATUS_OBJECT_NAME_INVALID, 610, "object name invalid")                                     \
    XX(STATUS_REQUEST_ALREADY_COMPLETED, 611, "request already completed")                         \
    XX(STATUS_IO_ERROR, 612, "input/output error")                                                 \
    XX(STATUS_DATA_ERROR, 613, "data is corrupt or malformed")                                     \
    XX(STATUS_NOT_A_DIRECTORY, 614, "not a directory")                                             \
    XX(STATUS_OBJECT_NAME_COLLISION, 615, "object name already exists")                            \
    XX(STATUS_TOO_MANY_SYMLINKS, 616, "too many levels of symbolic links")                         \
    XX(STATUS_OBJECT_NAME_NOT_FOUND, 617, "object name not found")                                 \
    XX(STATUS_EVENT_NOT_REGISTERED, 630, "no such event registration or timer")                    \
    XX(STATUS_EVENT_LIMIT, 631, "too many event registrations or timers")                          \
    XX(STATUS_NO_COMPONENT_BOUND, 640, "no component is bound to the driver")                     \
    XX(STATUS_HANDLE_NOT_FOUND, 700, "handle not found")                                           \
    XX(STATUS_HANDLE_TABLE_FULL, 701, "handle table full")                                         \
    XX(STATUS_HANDLE_ALIAS_INVALID, 702, "handle alias invalid")                                   \
    XX(STATUS_KEXT_VALIDATION_FAILED, 800, "(libkern/kext) validation failure (plist/executable)") \
    XX(STATUS_KEXT_AUTHENTICATION_FAILED, 801,                                                     \
       "(libkern/kext) authentication failure (file ownership/permissions)")                       \
    XX(STATUS_KEXT_DEPENDENCY_FAILED, 802, "(libkern/kext) dependency resolution failure")         \
    XX(STATUS_KEXT_LINK_FAILED, 803, "(libkern/kext) link error")                                  \
    XX(STATUS_KEXT_START_FAILED, 804, "(libkern/kext) kext (kmod) start/stop routine failed")      \
    XX(STATUS_KEXT_IN_USE, 805, "(libkern/kext) kext is in use or retained (cannot unload)")       \
    XX(STATUS_KEXT_BOOT_LEVEL, 806, "(libkern/kext) kext not loadable during safe boot")           \
    XX(STATUS_KEXT_NOT_FOUND, 807, "(libkern/kext) kext not found")                                \
    XX(STATUS_KEXT_LOADED_VERSION_DIFFERS, 808,                                                    \
       "(libkern/kext) a different version/uuid is already loaded")                                \
    XX(STATUS_KEXT_NOT_LOADABLE, 809, "(libkern/kext) kext not loadable")                          \
    XX(STATUS_KEXT_DEPENDENCY_LOAD_FAILED, 810, "(libkern/kext) dependency load failed")           \
    XX(STATUS_PROTOCOL_ERROR, 900, "protocol error")                                               \
    XX(STATUS_CONNECTION_REFUSED, 901, "cannot connect to kxd")                                    \
    XX(STATUS_CONNECTION_LOST, 902, "connection to kxd lost")                                      \
    XX(STATUS_SYSTEM_SHUTDOWN, 903, "kxd is shutting down")                                        \
    XX(STATUS_TOO_MANY_CONNECTIONS, 904, "too many connections to kxd")                            \
    XX(STATUS_RING_CORRUPT, 905, "shared-memory ring is corrupt")                                  \
    XX(STATUS_RING_PEER_GONE, 906, "the process at the other end of the ring closed it or died")  \
    XX(STATUS_RING_NOT_IDLE, 920, "a client ring is set up only on an idle connection without one")

typedef enum kx_status {
#define KX_STATUS_ENUM(name, value, msg) name = value,
    KX_STATUS_MAP(KX_STATUS_ENUM)
#undef KX_STATUS_ENUM
} kx_status;

/* "STATUS_END_OF_FILE" for STATUS_END_OF_FILE; "STATUS_<n>" for unknown values
 * (a thread-local buffer, valid until the next call on that thread). */
KX_API const char *kx_status_name(kx_status status);

/* A short human sentence for the status ("end of file"). */
KX_API const char *kx_status_string(kx_status status);

/* The errno a POSIX interface reports for status (kx's FUSE mount answers
 * the kernel with it): 0 for STATUS_SUCCESS and for STATUS_END_OF_FILE (end
 * of file is a short read, not an error; a write at the end of a device is
 * the caller's to turn into ENOSPC), EIO for statuses without a closer
 * meaning. The reverse, many-to-one, is kx_status_from_errno in
 * src/core/plat.c. */
KX_API int kx_status_to_errno(kx_status status);

/* 1 if status is one of the values above. */
KX_API int kx_status_is_known(int32_t status);

/* The status "STATUS_ACCESS_DENIED", "ACCESS_DENIED" or "500" names; -1 when the text
 * names none of the values above. */
KX_API int32_t kx_status_from_name(const char *text);

/* Only STATUS_SUCCESS; callers decide themselves whether STATUS_END_OF_FILE
 * counts as success (for `kx cat` it does). */
static inline int kx_status_ok(kx_status s)
{
    return s == STATUS_SUCCESS;
}

#endif /* KX_STATUS_H */
