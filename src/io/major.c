/* major.c — IRP major function names for messages; shared by the manager
 * and the host side (kx-host builds it too). */
#include "host.h"

#include <kx/kmdf.h>

const char *kx__major_name(uint8_t major)
{
    switch (major) {
    case IRP_MJ_CREATE: return "IRP_MJ_CREATE";
    case IRP_MJ_CLOSE: return "IRP_MJ_CLOSE";
    case IRP_MJ_READ: return "IRP_MJ_READ";
    case IRP_MJ_WRITE: return "IRP_MJ_WRITE";
    case IRP_MJ_QUERY_INFORMATION: return "IRP_MJ_QUERY_INFORMATION";
    case IRP_MJ_FLUSH_BUFFERS: return "IRP_MJ_FLUSH_BUFFERS";
    case IRP_MJ_DEVICE_CONTROL: return "IRP_MJ_DEVICE_CONTROL";
    case IRP_MJ_CLEANUP: return "IRP_MJ_CLEANUP";
    default: return "IRP_MJ_(other)";
    }
}
