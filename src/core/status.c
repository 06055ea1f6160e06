/* status.c — names, messages and errno equivalents of kx_status, generated
 * from KX_STATUS_MAP, and statuses read back from their names. */
#include <kx/status.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kx_status_name(kx_status status)
{
    static _Thread_local char unknown[32];
    switch (status) {
#define KX_STATUS_CASE(name, value, msg)                                                           \
    case name: return #name;
        KX_STATUS_MAP(KX_STATUS_CASE)
#undef KX_STATUS_CASE
    }
    snprintf(unknown, sizeof unknown, "STATUS_%d", (int)status);
    return unknown;
}

const char *kx_status_string(kx_status status)
{
    switch (status) {
#define KX_STATUS_CASE(name, value, msg)                                                           \
    case name: return msg;
        KX_STATUS_MAP(KX_STATUS_CASE)
#undef KX_STATUS_CASE
    }
    return "unknown status";
}

int kx_status_is_known(int32_t status)
{
    switch (status) {
#define KX_STATUS_CASE(name, value, msg) case value:
        KX_STATUS_MAP(KX_STATUS_CASE)
#undef KX_STATUS_CASE
        return 1;
    default: return 0;
    }
}

/* One row per status that has a closer errno than EIO. Chosen for what a
 * program sees: a cancelled request was interrupted (EINTR, as a signal
 * would), an unknown control code is ENOTTY ("inappropriate ioctl for
 * device", Windows' STATUS_INVALID_DEVICE_REQUEST), a removed device ENODEV
 * (what Linux answers on a hot-unplugged character device). */
int kx_status_to_errno(kx_status status)
{
    switch (status) {
    case STATUS_SUCCESS:
    case STATUS_END_OF_FILE: return 0;
    case STATUS_PENDING: return EINPROGRESS;
    case STATUS_TIMEOUT: return ETIMEDOUT;
    case STATUS_NOT_IMPLEMENTED:
    case STATUS_NOT_SUPPORTED: return EOPNOTSUPP;
    case STATUS_INSUFFICIENT_RESOURCES: return ENOMEM;
    case STATUS_NO_SUCH_DEVICE:
    case STATUS_DEVICE_REMOVED: return ENODEV;
    case STATUS_DEVICE_ALREADY_EXISTS:
    case STATUS_OBJECT_NAME_COLLISION: return EEXIST;
    case STATUS_ACCESS_DENIED: return EACCES;
    case STATUS_PRIVILEGE_NOT_HELD: return EPERM;
    case STATUS_INVALID_HANDLE:
    case STATUS_HANDLE_NOT_FOUND:
    case STATUS_HANDLE_ALIAS_INVALID: return EBADF;
    case STATUS_INVALID_PARAMETER:
    case STATUS_OBJECT_NAME_INVALID: return EINVAL;
    case STATUS_NO_SUCH_FILE:
    case STATUS_OBJECT_NAME_NOT_FOUND:
    case STATUS_KEXT_NOT_FOUND: return ENOENT;
    case STATUS_DEVICE_BUSY:
    case STATUS_KEXT_IN_USE: return EBUSY;
    case STATUS_DEVICE_NOT_READY: return EAGAIN;
    case STATUS_CANCELLED: return EINTR;
    case STATUS_BUFFER_TOO_SMALL: return ERANGE;
    case STATUS_INVALID_DEVICE_REQUEST: return ENOTTY;
    case STATUS_DATA_ERROR: return EBADMSG;
    case STATUS_NOT_A_DIRECTORY: return ENOTDIR;
    case STATUS_TOO_MANY_SYMLINKS: return ELOOP;
    case STATUS_HANDLE_TABLE_FULL: return ENFILE;
    case STATUS_PROTOCOL_ERROR: return EPROTO;
    case STATUS_CONNECTION_REFUSED: return ECONNREFUSED;
    case STATUS_CONNECTION_LOST: return ECONNRESET;
    case STATUS_SYSTEM_SHUTDOWN: return ESHUTDOWN;
    case STATUS_TOO_MANY_CONNECTIONS: return EAGAIN;
    default: return EIO;
    }
}

int32_t kx_status_from_name(const char *text)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end != text && !*end)
        return v >= INT32_MIN && v <= INT32_MAX && kx_status_is_known((int32_t)v) ? (int32_t)v : -1;
    if (!strncmp(text, "STATUS_", 7))
        text += 7;
#define KX_STATUS_NAMED(name, value, msg)                                                          \
    if (!strcmp(text, &#name[7]))                                                                  \
        return value;
    KX_STATUS_MAP(KX_STATUS_NAMED)
#undef KX_STATUS_NAMED
    return -1;
}
