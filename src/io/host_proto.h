/* host_proto.h — host.h's messages as transport records (core/xport.h): what
 * kxd's I/O manager (src/io/hostproc.c) and a kx-host process
 * (src/host/chan_proc.c, host_main.c) say to each other.
 *
 * manager -> host
 *   HX_HELLO     once, first: the driver to load (hx_hello + paths)
 *   HX_IRP       id = IRP id; payload: the dispatch message, then the input
 *                (HF_SLOT: a = the bulk slot holding it, nothing after the message)
 *   HX_IRPS      a = n; payload: n hx_irp, each followed by its input padded
 *                to 8 bytes: small IRPs packed (HX_IRPS_BYTES at most), several
 *                to a ring line where each of their own took two
 *   HX_CTL       id = control record id; a = enum io_kind; b = its argument
 *                (K_DEVREL: device cookie; K_CANCEL: target IRP id);
 *                K_ADDDEV/K_REMOVEDEV: payload hx_provider + strings
 *   HX_REPLY     id = call sequence; a = status; b = id out; payload out
 *   HX_PING      id = sequence (heartbeat, when idle); answered HX_PONG by the
 *                host's transport thread
 *   HX_EVENT     id = event record id; payload io_msg_event, name, source,
 *                data; answered by HX_CTL_DONE (a = STATUS_SUCCESS if a
 *                routine ran)
 * host -> manager
 *   HX_HELLO_DONE a = status; b, c = where the driver is mapped; payload why
 *   HX_COMPLETE  id = IRP id; a = status; b = information; c = FileContext
 *                (CREATE); HF_END: the routine called for it returned with it
 *                (the end of the dispatch travels with the answer); payload:
 *                the output bytes (HF_SLOT: none, they are in the IRP's slot)
 *   HX_DONES     a = n; payload: n hx_done, each an HX_COMPLETE with HF_END and
 *                no output bytes (a batch's answers, packed: 32 bytes each where
 *                a record of their own takes a 64-byte ring line)
 *   HX_END       id = IRP id: its dispatch ended without completing it here
 *                (pended, passed on, or completed from another thread)
 *   HX_CTL_DONE  id = control record id; a = status; b = information;
 *                c = K_ADDDEV: Probe's score; K_CANCEL: 1 if a routine ran
 *   HX_CALL      id = sequence; a = enum hx_op; b, c, payload per op;
 *                answered by HX_REPLY
 *   HX_PRINT, HX_REPORT  payload: a kernel log line (DkPrint, a driver bug)
 *   HX_PONG      id = the ping's sequence
 *
 * Ids are the manager's; cookies are the host's (opaque to the manager).
 * Every payload is checked for size before use, by both sides.
 */
#ifndef KX_IO_HOST_PROTO_H
#define KX_IO_HOST_PROTO_H

#include "core/xport.h"
#include "host.h"

#include <kx/io.h>
#include <kx/kmdf.h>
#include <stdint.h>
#include <string.h>

#define HX_VERSION 1

enum hx_type {
    HX_HELLO = 1,
    HX_IRP,
    HX_CTL,
    HX_REPLY,
    HX_EVENT = 10,
    HX_IRPS = 11,
    HX_HELLO_DONE = 32,
    HX_COMPLETE,
    HX_END,
    HX_CTL_DONE,
    HX_CALL,
    HX_PRINT,
    HX_REPORT,
    HX_PING = 8,  /* manager -> host: id = sequence; the host's transport thread answers */
    HX_PONG = 48, /* host -> manager: id = the ping's sequence */
    HX_DONES = 49, /* host -> manager: answers packed (struct hx_done) */
};

#define HF_END  0x1u
#define HF_SLOT 0x2u /* HX_IRP: a = the bulk slot holding the system buffer, and no bytes
                      * follow the message; HX_COMPLETE: the output is in that slot */

/* Bulk slots (ring transport; src/io/hostbulk.c): right after the rings'
 * descriptors kxd sends one message, HX_BULK_HELLO and a sealed memfd of
 * HX_BULK_SLOTS slots of HX_BULK_SLOT_BYTES, which both sides map. */
#define HX_BULK_HELLO      "kx-bulk"
#define HX_BULK_SLOTS      8u
#define HX_BULK_SLOT_BYTES ((uint32_t)1 << 20)
/* A side that waits for its peer after a request that moves bytes polls
 * longer by the time moving them again takes at memory speed (4 bytes a
 * nanosecond): kxd waiting for a large read's answer while the driver fills
 * it, kx-host waiting for a streaming reader's next read while kxd hands
 * the last one on. Beyond the poll window each wait ends in a wake-up,
 * which costs more than the spin on a loaded VM; small requests keep the
 * plain window. */
#define HX_BULK_POLL_NS(bytes) ((uint64_t)(bytes) / 4u)

enum hx_op {
    HXO_CREATE_DEVICE = 1, /* b = cookie, c = instance, payload name; reply b = device id */
    HXO_BIND_DEVICE,       /* b = device id, c = instance */
    HXO_DELETE_DEVICE,     /* b = device id */
    HXO_SET_SECURITY,      /* b = device id, c = uid << 32 | gid, payload uint32 mode */
    HXO_CREATE_LINK,       /* payload link NUL target NUL */
    HXO_DELETE_LINK,       /* payload link NUL */
    HXO_REF_DEVICE,        /* payload name NUL; reply b = device id, payload canonical name */
    HXO_UNREF_DEVICE,      /* b = device id */
    HXO_FORWARD,           /* b = device id, c = FileContext, payload uint64 IRP id */
    HXO_REGISTRY,          /* payload hx_reg + strings + value; reply b = id, payload out */
    HXO_SET_READY,         /* b = device id, c = readiness events */
    HXO_SET_CONTROLS,      /* b = device id, payload kx_io_control_decl[] */
    HXO_EVENT_REGISTER = 32, /* b = 1 subscribe, 0 end; payload name NUL */
    HXO_EVENT_TIMER = 33,    /* b = due ms (UINT32_MAX: cancel), c = period ms; payload name NUL */
};

struct hx_irp {
    uint64_t id; /* the IRP */
    struct io_msg_irp msg;
};
#define HX_IRPS_BYTES    984u /* a packed record stays within one ring record */
#define HX_IRPS_INPUT    64u  /* the largest input that travels packed */
#define HX_PADDED(n)     (((size_t)(n) + 7) & ~(size_t)7)

struct hx_done {
    uint64_t id;          /* the IRP */
    uint64_t information;
    uint64_t file_cookie; /* FileContext (CREATE) */
    int32_t status;
    uint32_t reserved;    /* 0 */
};

struct hx_hello {
    uint32_t version;
    uint32_t n_paths; /* libraries in load order, then the driver */
    uint64_t drv_id;
    struct kx_driver_info info;
    char full_name[KX_IO_NAME_MAX];
    char short_name[64];
    /* then n_paths NUL-terminated paths */
};

struct hx_provider {
    uint64_t nub, instance;
    int32_t score;
    uint32_t lens[5]; /* ioclass, personality, nub_class, nub_name, nub_location,
                       * each with its NUL; 0: NULL */
    /* then the strings */
};

struct hx_reg {
    uint32_t op;
    uint32_t lens[4]; /* key, class_name, name, location with NUL; 0: NULL */
    uint64_t entry;
    uint64_t value_len;
    /* then the strings, then the value */
};

/* The i-th NUL-terminated string of n in p[0..len), or NULL if p ends first. */
static inline const char *hx_string_at(const unsigned char *p, size_t len, size_t i)
{
    size_t off = 0;
    for (size_t k = 0;; k++) {
        const unsigned char *nul = off < len ? memchr(p + off, 0, len - off) : NULL;
        if (!nul)
            return NULL;
        if (k == i)
            return (const char *)(p + off);
        off = (size_t)(nul - p) + 1;
    }
}

/* Strings laid out by length (0: NULL) in p[0..len); advances *off. 1 if all
 * were there and NUL-terminated. */
static inline int hx_take_strings(const unsigned char *p, size_t len, size_t *off,
                                  const uint32_t *lens, size_t n, const char **out)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        if (!lens[i])
            continue;
        if (lens[i] > len - *off || p[*off + lens[i] - 1] != 0)
            return 0;
        out[i] = (const char *)(p + *off);
        *off += lens[i];
    }
    return 1;
}

#endif /* KX_IO_HOST_PROTO_H */
