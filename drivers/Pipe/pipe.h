/* pipe.h — /dev/pipe0: a byte pipe whose reads pend until data arrives. */
#ifndef KX_DRIVERS_PIPE_H
#define KX_DRIVERS_PIPE_H

#include <kx/kmdf.h>

#define PIPE_CAPACITY 4096u

/* Output: struct pipe_info. Any access. */
#define IOCTL_PIPE_GET_INFO CTL_CODE(FILE_DEVICE_NAMED_PIPE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

struct pipe_info {
    uint64_t used;          /* bytes buffered */
    uint64_t capacity;
    uint32_t pending_reads; /* reads waiting for data */
    uint32_t opens;         /* open handles (CREATE seen, CLOSE not yet) */
};

#endif
