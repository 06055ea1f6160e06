/* ringlog.h — /dev/ringlog's control codes (AxisOS ringfs: clear, resize). */
#ifndef KX_DRIVERS_RINGLOG_H
#define KX_DRIVERS_RINGLOG_H

#include <kx/kmdf.h>

#define RINGLOG_DEFAULT_SIZE 4096u

/* Empties the log. Needs write access. */
#define IOCTL_RINGLOG_CLEAR CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_WRITE_ACCESS)
/* Input: uint32_t new size (> 0); keeps the newest bytes. Needs write access. */
#define IOCTL_RINGLOG_RESIZE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_WRITE_ACCESS)
/* Output: struct ringlog_info. Any access. */
#define IOCTL_RINGLOG_GET_INFO CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)

struct ringlog_info {
    uint64_t used;
    uint64_t capacity;
};

#endif
