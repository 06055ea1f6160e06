/* kmdf_ready.c — DkSetDeviceReady and DkSetDeviceControlCodes: the driver's
 * side of poll(2) and ioctl(2) through files (kxd --mount).
 *
 * Both only check what the driver passes and send one message over the
 * channel (host.h): a call into the manager in kxd, HXO_SET_READY or
 * HXO_SET_CONTROLS from a kx-host process.
 */
#include "kmdf_int.h"

_Static_assert(DEVICE_READY_READ == KX_IO_READY_READ && DEVICE_READY_WRITE == KX_IO_READY_WRITE,
               "kmdf.h and io.h readiness bits differ");
_Static_assert(KX_MAX_CONTROL_CODES == KX_IO_MAX_CONTROLS &&
                   KX_CONTROL_LENGTH_MAX == KX_IO_CONTROL_LENGTH_MAX,
               "kmdf.h and io.h control-code limits differ");

static struct host_device *own_device(PDEVICE_OBJECT d)
{
    struct host_device *hd = (struct host_device *)(void *)d;
    if (!hd || hd->magic != HOST_DEV_MAGIC || (d->Flags & DO_PROXY))
        return NULL;
    return hd;
}

kx_status DkSetDeviceReady(PDEVICE_OBJECT DeviceObject, uint32_t Events)
{
    struct host_device *hd = own_device(DeviceObject);
    if (!hd || (Events & ~(DEVICE_READY_READ | DEVICE_READY_WRITE)))
        return STATUS_INVALID_PARAMETER;
    return kx__chan_set_ready(hd->host->io, hd->host->drv_id, hd->dev_id, Events);
}

kx_status DkSetDeviceControlCodes(PDEVICE_OBJECT DeviceObject, const KX_CONTROL_CODE *Codes,
                                  size_t Count)
{
    struct host_device *hd = own_device(DeviceObject);
    if (!hd || Count > KX_MAX_CONTROL_CODES || (Count && !Codes))
        return STATUS_INVALID_PARAMETER;
    struct kx_io_control_decl decls[KX_MAX_CONTROL_CODES];
    for (size_t i = 0; i < Count; i++) {
        if (Codes[i].InputLength > KX_CONTROL_LENGTH_MAX ||
            Codes[i].OutputLength > KX_CONTROL_LENGTH_MAX ||
            METHOD_FROM_CTL_CODE(Codes[i].IoControlCode) != METHOD_BUFFERED)
            return STATUS_INVALID_PARAMETER;
        decls[i] = (struct kx_io_control_decl){Codes[i].IoControlCode, Codes[i].InputLength,
                                               Codes[i].OutputLength};
    }
    return kx__chan_set_controls(hd->host->io, hd->host->drv_id, hd->dev_id, decls, Count);
}
