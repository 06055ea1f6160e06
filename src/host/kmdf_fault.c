/* kmdf_fault.c — the host's end of fault injection: carrying out the fault
 * the manager marked an IRP's dispatch message with (io_msg_irp.fault),
 * before or instead of the driver's routine, on the dispatch thread.
 *
 * crash, abort, exit and hang exist only in kx-host (built with
 * KX_HOST_PROCESS): kxd refuses them for its own drivers, and leaving the
 * code out of libkx means no rule can ever make kxd kill itself.
 */
#include "kmdf_int.h"

#include "core/plat_sync.h"
#ifdef KX_HOST_PROCESS
#include "core/plat_fault.h"
#include "hostproc_int.h"
#endif

#include <kx/fault.h>
#include <stdio.h>

/* A lost IRP still lets go when the manager asks (its deadline passed, its
 * handle closed): otherwise a close would wait for it until its own limit
 * and an unload could never finish. */
static void drop_lost(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

int kx__host_fault(struct kx_host *h, struct io_irp *rec, kx_status *st)
{
    struct host_irp *hi = host_irp_of(rec);
    struct io_msg_irp m = rec->u.msg;
    rec->u.msg.fault = 0; /* once: an IRP passed on within this host keeps its record */
    switch ((enum kx_fault_action)m.fault) {
    case KX_FAULT_FAIL: /* as a routine completing its own IRP would */
        *st = kx__host_complete(hi, (kx_status)(int32_t)m.fault_arg, 0);
        return 1;
    case KX_FAULT_DELAY: kx_plat_sleep_ns((uint64_t)m.fault_arg * 1000000u); return 0;
    case KX_FAULT_NEVER_COMPLETE: /* pended and forgotten: a lost completion */
        DkMarkIrpPending(&hi->irp);
        if (DkSetCancelRoutine(&hi->irp, drop_lost) == STATUS_CANCELLED)
            drop_lost(hi->irp.DeviceObject, &hi->irp); /* already cancelled */
        *st = STATUS_PENDING;
        return 1;
#ifdef KX_HOST_PROCESS
    case KX_FAULT_CRASH: kx_plat_fault_crash();
    case KX_FAULT_ABORT: kx_plat_fault_abort();
    case KX_FAULT_EXIT: kx_plat_fault_exit();
    case KX_FAULT_HANG: kx_plat_fault_hang();
    case KX_FAULT_CORRUPT_TRANSPORT:
        if (kx__hp_break_transport(h->io))
            kx_plat_fault_hang(); /* sends nothing more: kxd reads the nonsense next */
        /* fall through: a socket has no rings to break */
#endif
    default: {
        char text[120];
        snprintf(text, sizeof text, "fault action %u cannot be carried out in this host; ignored",
                 m.fault);
        kx__chan_report(h->io, h->drv_id, text);
        return 0;
    }
    }
}
