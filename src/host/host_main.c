/* host_main.c — kx-host: a driver host process. kxd starts one per driver
 * instance (src/io/hostproc.c) with the transport on fd 3 and nothing else
 * of its own; this program loads the driver's library kexts and the driver
 * (dlopen, dependencies first, as kxd's loader does in-process), then runs
 * the same host as kxd would in-process (kmdf_host.c: the dispatch thread,
 * DriverEntry, dispatch, cancel, unload), reaching the manager only through
 * the channel over the transport (chan_proc.c).
 *
 * A driver whose executable is a Lua script (src/lua) is staged instead of
 * dlopen'ed, and its DriverEntry is the Lua host's.
 *
 * The main thread is the reader: it receives batches from kxd, turns each
 * IRP or control record into a local record and posts the batch to the
 * dispatch thread with one queue push; replies to the driver's synchronous
 * calls wake their callers. When kxd says stop (K_STOP), or goes away, the
 * process ends: nothing of the driver outlives its manager.
 *
 * On the rings the dispatch thread, when idle, receives too (xport.h's
 * turns) for up to --poll-us, and runs what it finds itself: a request
 * then crosses no thread in this process, and no wake-up while busy. It
 * stays a poller while it runs what it found, so the main thread sleeps
 * meanwhile (looking in every millisecond, for a routine that runs long),
 * and takes over when the dispatch thread sleeps or calls kxd and waits
 * for the reply.
 *
 * Confinement (issue 12; the manager's side is src/io/hostsandbox.c): the
 * host closes any descriptor past the transport, drops to the user kxd names
 * (--uid, --gid) before it reads anything of the driver, and installs the
 * seccomp filter (--profile) once the driver and its libraries are mapped,
 * before DriverEntry: see plat_sandbox.h for why there.
 */
#include "hostproc_int.h"

#include "core/plat.h"
#include "core/plat_dl.h"
#include "core/plat_proc.h"
#include "core/plat_sandbox.h"
#include "core/plat_shm.h"
#include "core/plat_sync.h"
#include "core/ring.h"
#include "lua/lua_drv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POST_MAX 256

/* The system buffer: inline when small (as in kxd), else the record's own
 * heap buffer, kept for the next request that fits. */
static int set_buffer(struct hrec *hr, const unsigned char *in, size_t in_len, size_t out_len)
{
    struct io_irp *r = &hr->r;
    size_t n = in_len > out_len ? in_len : out_len;
    r->u.msg.buf_inline = n <= IO_INLINE_BUF;
    void *buf = r->u.inline_buf;
    if (!r->u.msg.buf_inline) {
        if (hr->heap_cap < n) {
            void *p = realloc(hr->heap, n);
            if (!p)
                return 0;
            hr->heap = p;
            hr->heap_cap = n;
        }
        buf = hr->heap;
    }
    if (in_len)
        memcpy(buf, in, in_len);
    if (n > in_len)
        memset((char *)buf + in_len, 0, n - in_len);
    r->buf = n ? buf : NULL;
    r->buf_len = (uint32_t)n;
    return 1;
}

/* The IRP's local record, or NULL with *why set: the request can't be
 * taken and is answered at once with that status. m (the caller's aligned
 * copy) came with in_avail bytes after it (HF_SLOT in flags: its buffer is
 * bulk slot `slot`). */
static struct io_irp *take_irp(struct kx_hostep *ep, uint64_t id, uint32_t flags, uint64_t slot,
                               const struct io_msg_irp *m, const unsigned char *in,
                               size_t in_avail, kx_status *why)
{
    *why = STATUS_INVALID_PARAMETER;
    size_t n = m->in_len > m->out_len ? m->in_len : m->out_len;
    int in_slot = (flags & HF_SLOT) != 0;
    /* A slot's number and length are checked as any other field: a bad one
     * never reaches past the mapping. */
    if (in_slot ? !ep->bulk || in_avail || slot >= HX_BULK_SLOTS || n > HX_BULK_SLOT_BYTES
                : m->in_len != in_avail || m->out_len > KX_IO_MAX_TRANSFER)
        return NULL;
    *why = STATUS_INSUFFICIENT_RESOURCES;
    struct hrec *hr = kx__hp_rec_get(ep, 1, id);
    if (!hr)
        return NULL;
    hr->r.kind = K_IRP;
    hr->r.major = m->major;
    hr->r.u.msg = *m;
    uint64_t gen = atomic_load_explicit(&hr->gen, memory_order_relaxed);
    hr->r.u.msg.irp_id = gen << 32 | hr->idx; /* the driver's IRP names ours */
    if (in_slot) { /* kxd put the input there and cleared what needed it */
        atomic_fetch_add_explicit(&ep->moved, n, memory_order_relaxed);
        hr->in_slot = 1;
        hr->r.u.msg.buf_inline = 0;
        hr->r.buf = ep->bulk + (size_t)slot * HX_BULK_SLOT_BYTES;
        hr->r.buf_len = (uint32_t)n;
        return &hr->r;
    }
    if (!set_buffer(hr, in, m->in_len, m->out_len)) {
        kx__hp_rec_unref(ep, hr, 2);
        return NULL;
    }
    return &hr->r;
}

static int take_provider(struct hrec *hr, const unsigned char *p, size_t len)
{
    struct hx_provider hp;
    if (len < sizeof hp)
        return 0;
    memcpy(&hp, p, sizeof hp);
    hr->prov_mem = malloc(len - sizeof hp + 1);
    if (!hr->prov_mem)
        return 0;
    memcpy(hr->prov_mem, p + sizeof hp, len - sizeof hp);
    const char *s[5];
    size_t off = 0;
    if (!hx_take_strings((const unsigned char *)hr->prov_mem, len - sizeof hp, &off, hp.lens, 5, s))
        return 0;
    hr->prov = (struct kx_io_provider){hp.nub, hp.instance, s[0], s[1], s[2], s[3], s[4], hp.score};
    return hr->prov.ioclass && hr->prov.personality;
}

/* The manager wants a dispatched IRP back: flag it, and take its cancel
 * routine if the driver set one (run on the dispatch thread, like kxd's). */
static struct io_irp *cancel(struct kx_hostep *ep, const struct kx_xrec *x)
{
    struct hrec *t = kx__hp_rec_by_mgr(ep, x->b);
    kx_host_fn fn = NULL;
    if (t) {
        /* No fence: kx__chan_irp_begin marks the dispatch with a
         * read-modify-write of flags after building the view, so one of the
         * two sees the other. */
        atomic_fetch_or(&t->flags, HR_CANCEL);
        if (__atomic_load_n(&t->r.view_built, __ATOMIC_ACQUIRE) &&
            !(atomic_load(&t->flags) & HR_DRV_DONE))
            fn = kx__host_irp_cancel(&t->r);
    }
    struct hrec *c = fn ? kx__hp_rec_get(ep, 0, x->id) : NULL;
    if (!c) {
        /* No routine to run: the manager answers the requester itself. */
        struct kx_xout o = {{HX_CTL_DONE, 0, 0, x->id, STATUS_SUCCESS, 0, 0}, NULL, 0, NULL, 0};
        kx__hp_send(ep, &o);
        if (t)
            kx__hp_rec_unref(ep, t, 1);
        return NULL;
    }
    c->r.kind = K_CANCEL;
    c->r.u.cancel.target = &t->r; /* our lookup reference is the routine's */
    c->r.u.cancel.routine = fn;
    return &c->r;
}

static struct io_irp *take_ctl(struct kx_hostep *ep, const struct kx_xrec *x,
                               const unsigned char *p, kx_io_entry_fn entry)
{
    if (x->a == K_CANCEL)
        return cancel(ep, x);
    struct hrec *hr = kx__hp_rec_get(ep, 0, x->id);
    if (!hr)
        return NULL;
    struct io_irp *r = &hr->r;
    r->kind = (uint8_t)x->a;
    switch (x->a) {
    case K_INIT: r->u.entry = entry; break;
    case K_DEVREL: r->u.dev_cookie = x->b; break;
    case K_ADDDEV:
    case K_REMOVEDEV:
        if (!take_provider(hr, p, x->len)) {
            kx__hp_rec_unref(ep, hr, 1);
            return NULL;
        }
        r->u.provider = &hr->prov;
        break;
    case K_UNLOAD:
    case K_STOP: break;
    default: kx__hp_rec_unref(ep, hr, 1); return NULL;
    }
    return r;
}

/* An event for the driver's routine: the message, then its bytes. */
static struct io_irp *take_event(struct kx_hostep *ep, const struct kx_xrec *x,
                                 const unsigned char *p)
{
    struct io_msg_event m;
    if (x->len < sizeof m)
        return NULL;
    memcpy(&m, p, sizeof m);
    if ((uint64_t)m.name_len + m.source_len + m.data_len != x->len - sizeof m)
        return NULL;
    struct hrec *hr = kx__hp_rec_get(ep, 0, x->id);
    if (!hr)
        return NULL;
    hr->r.kind = K_EVENT;
    hr->r.u.event = m;
    if (!set_buffer(hr, p + sizeof m, x->len - sizeof m, 0)) {
        kx__hp_rec_unref(ep, hr, 1);
        return NULL;
    }
    return &hr->r;
}

/* Takes the IRP m (id), or answers it at once with why it can't be taken
 * (m NULL: its record was too short to hold it): kxd never waits for a
 * request the driver will not see. */
static struct io_irp *take_or_refuse(struct kx_hostep *ep, uint64_t id, uint32_t flags,
                                     uint64_t slot, const struct io_msg_irp *m,
                                     const unsigned char *in, size_t in_avail)
{
    kx_status why = STATUS_INVALID_PARAMETER;
    struct io_irp *r = m ? take_irp(ep, id, flags, slot, m, in, in_avail, &why) : NULL;
    if (!r) {
        struct kx_xout o = {{HX_COMPLETE, HF_END, 0, id, (uint64_t)why, 0, 0}, NULL, 0, NULL, 0};
        kx__hp_send(ep, &o);
    }
    return r;
}

/* What a batch has taken and not yet posted to the dispatch thread. */
struct taken {
    struct io_irp *recs[POST_MAX];
    struct hrec *irps[POST_MAX]; /* those of recs that are IRPs */
    size_t n, n_irps;
};

/* Posts what t holds, its IRPs findable by the manager's id first (one lock
 * for all). */
static void post_taken(struct kx_hostep *ep, struct taken *t)
{
    kx__hp_rec_publish(ep, t->irps, t->n_irps);
    t->n_irps = 0;
    if (t->n)
        kx__host_post(ep->h, t->recs, t->n);
    t->n = 0;
}

/* Adds r to t, posting the lot when it is full. */
static void add_taken(struct kx_hostep *ep, struct taken *t, struct io_irp *r)
{
    if (r->kind == K_IRP)
        t->irps[t->n_irps++] = hrec_of(r);
    t->recs[t->n++] = r;
    if (t->n == POST_MAX)
        post_taken(ep, t);
}

/* Turns a batch from kxd into local records for the dispatch thread (one
 * queue push per POST_MAX); answers replies and pings at once. Whoever has
 * the receiving turn. */
static void take_batch(struct kx_hostep *ep, struct kx_xbatch *b)
{
    struct taken t;
    t.n = t.n_irps = 0;
    const struct kx_xrec *x;
    const unsigned char *p;
    int stopping = atomic_load(&ep->stopping);
    while (kx_xport_next(b, &x, &p)) {
        struct io_irp *r = NULL;
        switch (x->type) {
        case HX_IRP: {
            struct io_msg_irp m;
            int whole = x->len >= sizeof m; /* else refused: no message */
            if (whole)
                memcpy(&m, p, sizeof m);
            r = take_or_refuse(ep, x->id, x->flags, x->a, whole ? &m : NULL, p + sizeof m,
                               whole ? x->len - sizeof m : 0);
            break;
        }
        case HX_IRPS: /* each as the HX_IRP it stands for */
            for (size_t off = 0, k = 0; k < x->a && x->len - off >= sizeof(struct hx_irp); k++) {
                struct hx_irp e;
                memcpy(&e, p + off, sizeof e);
                off += sizeof e;
                size_t left = x->len - off;
                size_t in = e.msg.in_len <= left ? e.msg.in_len : left;
                if ((r = take_or_refuse(ep, e.id, 0, 0, &e.msg, p + off, in)))
                    add_taken(ep, &t, r);
                off += HX_PADDED(in) < left ? HX_PADDED(in) : left;
            }
            continue;
        case HX_CTL: /* a cancel looks its IRP up: those taken so far go first */
            if (!stopping && t.n_irps)
                post_taken(ep, &t);
            r = stopping ? NULL : take_ctl(ep, x, p, ep->entry);
            break;
        case HX_EVENT: r = stopping ? NULL : take_event(ep, x, p); break;
        case HX_REPLY: kx__hp_reply(ep, x, p); break;
        case HX_PING: { /* answered here, whatever the dispatch thread does */
            struct kx_xout o = {{HX_PONG, 0, 0, x->id, 0, 0, 0}, NULL, 0, NULL, 0};
            kx__hp_send(ep, &o);
            break;
        }
        default: break; /* nothing else comes this way */
        }
        if (!r)
            continue;
        stopping |= r->kind == K_STOP;
        add_taken(ep, &t, r);
    }
    post_taken(ep, &t);
    if (stopping && !atomic_exchange(&ep->stopping, 1) && ep->x->ops->kick)
        ep->x->ops->kick(ep->x); /* the main thread, if asleep, ends its loop */
}

/* The dispatch thread's idle hook: receives for up to poll_ns (longer
 * after requests that moved bytes through the bulk slots); 1 if it
 * posted records (to itself). A poll that finds records keeps its place
 * among the pollers (ep->polling): while the thread runs them the ring stays
 * disarmed, so kxd's next batch waits for it in the ring instead of waking
 * the main thread, which looks in now and then (xport.h) in case a routine
 * takes long. The place goes when the poll finds nothing (the thread
 * sleeps next) or a routine waits for kxd's reply (kx__hp_poll_leave). */
static int idle_poll(void *arg)
{
    struct kx_hostep *ep = arg;
    struct kx_xport *x = ep->x;
    /* A small request between large ones (a read into an unaligned buffer
     * ends in one) halves the reach of the large ones instead of ending it. */
    uint64_t moved = atomic_exchange_explicit(&ep->moved, 0, memory_order_relaxed);
    ep->poll_moved = moved > ep->poll_moved / 2 ? moved : ep->poll_moved / 2;
    uint64_t until = 0;
    if (!ep->polling) {
        x->ops->poll_begin(x);
        ep->polling = 1;
    }
    for (unsigned i = 1;; i++) {
        kx_status st = x->ops->poll(x, &ep->pbatch);
        if (st == STATUS_SUCCESS) {
            take_batch(ep, &ep->pbatch);
            x->ops->poll_done(x);
            return 1;
        }
        if (st != STATUS_TIMEOUT)
            break; /* kxd went, or broke the rings: the main thread's to see */
        if (kx__queue_peek(&ep->h->q, 0))
            return 1; /* the main thread had the turn and posted */
        kx_plat_cpu_relax();
        if (i % 32 == 0) {
            uint64_t now = kx_plat_monotonic_ns();
            if (!until)
                until = now + ep->poll_ns + HX_BULK_POLL_NS(ep->poll_moved);
            else if (now >= until)
                break;
        }
    }
    /* Sleep next: the main thread receives meanwhile. */
    kx__hp_poll_leave(ep);
    return 0;
}

/* What kxd asked of this host's confinement, and whether the start of it
 * (the user drop) worked. */
struct confine {
    int has_user;
    uint32_t uid, gid;
    enum kx_sandbox_profile profile;
    uint32_t n_fds; /* executables kxd passed as fds 4.. (from its kext cache) */
    int ring;       /* --transport ring: the rings' descriptors come first on fd 3 */
    uint32_t poll_us; /* --poll-us: the dispatch thread's idle poll of the rings */
    kx_status st;
    char why[256];
};

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    if (!s || !*s || *end || v > UINT32_MAX)
        return 0;
    *out = (uint32_t)v;
    return 1;
}

/* kx-host [--profile none|driver|umd] [--uid N --gid N] [--fds N]
 * [--transport ring|socket] [--poll-us N]; a host started without arguments gets the
 * tightest profile a KMD driver works with, and the socket transport. */
static void parse_args(int argc, char **argv, struct confine *c)
{
    c->profile = KX_SANDBOX_DRIVER;
    int has_gid = 0;
    for (int i = 1; i < argc && c->st == STATUS_SUCCESS; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int p = -1;
        if (strcmp(argv[i], "--profile") == 0 && (p = kx_plat_sandbox_profile_parse(v)) >= 0)
            c->profile = (enum kx_sandbox_profile)p;
        else if (strcmp(argv[i], "--uid") == 0 && parse_u32(v, &c->uid))
            c->has_user = 1;
        else if (strcmp(argv[i], "--gid") == 0 && parse_u32(v, &c->gid))
            has_gid = 1;
        else if (strcmp(argv[i], "--fds") == 0 && parse_u32(v, &c->n_fds) &&
                 c->n_fds <= KX_HOST_PASS_MAX)
            continue;
        else if (strcmp(argv[i], "--poll-us") == 0 && parse_u32(v, &c->poll_us))
            continue;
        else if (strcmp(argv[i], "--transport") == 0 && v &&
                 (!strcmp(v, "ring") || !strcmp(v, "socket")))
            c->ring = !strcmp(v, "ring");
        else {
            c->st = STATUS_INVALID_PARAMETER;
            snprintf(c->why, sizeof c->why, "kx-host: bad argument %s", argv[i]);
        }
    }
    if (c->st == STATUS_SUCCESS && c->has_user != has_gid) {
        c->st = STATUS_INVALID_PARAMETER;
        snprintf(c->why, sizeof c->why, "kx-host: --uid and --gid go together");
    }
}

/* Loads the libraries and the driver named in HX_HELLO, under the user
 * already dropped to, then installs the seccomp filter; answers
 * HELLO_DONE. */
static kx_status hello(struct kx_hostep *ep, const struct kx_xrec *x, const unsigned char *p,
                       struct hx_hello *hh, kx_io_entry_fn *entry, const struct confine *c)
{
    char why[512] = "";
    kx_status st = c->st;
    if (st != STATUS_SUCCESS)
        snprintf(why, sizeof why, "%s", c->why);
    uint64_t address = 0, size = 0;
    if (st != STATUS_SUCCESS) {
    } else if (x->type != HX_HELLO || x->len < sizeof *hh) {
        snprintf(why, sizeof why, "kx-host: the first record is not HELLO");
        st = STATUS_DATA_ERROR;
    } else {
        memcpy(hh, p, sizeof *hh);
        hh->full_name[sizeof hh->full_name - 1] = 0;
        hh->short_name[sizeof hh->short_name - 1] = 0;
        if (hh->version != HX_VERSION || !hh->n_paths) {
            snprintf(why, sizeof why, "kx-host: protocol version %u, expected %u", hh->version,
                     (unsigned)HX_VERSION);
            st = STATUS_NOT_SUPPORTED;
        }
    }
    void *dl = NULL;
    int lua = 0;
    for (uint32_t i = 0; st == STATUS_SUCCESS && i < hh->n_paths; i++) {
        const char *path = hx_string_at(p + sizeof *hh, x->len - sizeof *hh, i);
        char *dlwhy = NULL;
        if (!path) {
            st = STATUS_DATA_ERROR;
            snprintf(why, sizeof why, "kx-host: HELLO names %u paths, has fewer", hh->n_paths);
        } else if (c->has_user &&
                   (st = kx_plat_readable(path, why, sizeof why)) != STATUS_SUCCESS) {
            /* Named here: the dynamic linker's message would not say whose
             * permission was missing. */
        } else if (i + 1 == hh->n_paths && kx_lua_script_file(path)) {
            /* A Lua driver: its script is staged for the Lua DriverEntry,
             * and read now, before the filter. */
            lua = 1;
            st = kx_lua_stage(hh->info.name, path, why, sizeof why);
        } else if ((st = kx_plat_dl_open(path, &dl, &dlwhy)) != STATUS_SUCCESS) {
            snprintf(why, sizeof why, "the dynamic linker refused %s: %s", path,
                     dlwhy ? dlwhy : "?");
        }
        free(dlwhy);
    }
    if (st == STATUS_SUCCESS && lua) {
        *entry = kx_lua_driver_entry;
    } else if (st == STATUS_SUCCESS) {
        kx_plat_dl_extent(dl, &address, &size);
        *entry = (kx_io_entry_fn)kx_plat_dl_sym(dl, "DriverEntry");
        if (!*entry) {
            st = STATUS_INVALID_DRIVER_ENTRY;
            snprintf(why, sizeof why, "%s exports no DriverEntry", hh->short_name);
        }
    }
    /* Mapped, DriverEntry not run: the filter goes on now (plat_sandbox.h). */
    if (st == STATUS_SUCCESS)
        st = kx_plat_seccomp(c->profile, why, sizeof why);
    if (st == STATUS_SUCCESS) {
        ep->drv_id = hh->drv_id;
        st = kx__host_new((struct kx_io *)(void *)ep, hh->drv_id, hh->full_name, hh->short_name,
                          &hh->info, &ep->h);
    }
    struct kx_xout o = {
        {HX_HELLO_DONE, 0, 0, 0, (uint64_t)st, address, size}, why, strlen(why) + 1, NULL, 0};
    kx__hp_send(ep, &o);
    return st;
}

/* kxd's bulk slots, whose descriptor follows the rings' on fd 3: mapped
 * once its size is sealed as the protocol says (a region that could shrink
 * would turn an access into SIGBUS). */
static kx_status map_bulk(struct kx_hostep *ep)
{
    char hello[sizeof HX_BULK_HELLO];
    size_t got = 0, size = 0;
    int fd = -1, n = 0;
    kx_status st =
        kx_plat_sock_recv_fds(KX_HOST_XPORT_FD, hello, sizeof hello, &got, &fd, 1, &n);
    if (st != STATUS_SUCCESS)
        return st;
    void *p = NULL;
    if (n != 1 || got != sizeof hello || memcmp(hello, HX_BULK_HELLO, sizeof hello) != 0)
        st = STATUS_PROTOCOL_ERROR;
    else if ((st = kx_plat_shm_check(fd, &size)) == STATUS_SUCCESS &&
             size != (size_t)HX_BULK_SLOTS * HX_BULK_SLOT_BYTES)
        st = STATUS_PROTOCOL_ERROR;
    if (st == STATUS_SUCCESS && (st = kx_plat_shm_map(fd, size, &p)) == STATUS_SUCCESS)
        ep->bulk = p; /* mapped until the process ends */
    if (n)
        kx_plat_close(fd);
    return st;
}

/* The socket on fd 3, or the rings whose descriptors arrive on it. */
static kx_status transport(struct kx_hostep *ep, const struct confine *c)
{
    if (!c->ring)
        return kx_xport_sock_new(KX_HOST_XPORT_FD, &ep->x);
    char *why = NULL;
    kx_status st = kx_ring_attach_socket("kxd", KX_HOST_XPORT_FD, &ep->ring, &why);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "kx-host: %s\n", why ? why : kx_status_name(st));
        free(why);
        return st;
    }
    if ((st = map_bulk(ep)) != STATUS_SUCCESS) {
        fprintf(stderr, "kx-host: no bulk slots: %s\n", kx_status_name(st));
        kx_ring_close(ep->ring);
        return st;
    }
    return kx_xport_ring_new(ep->ring, KX_HOST_XPORT_FD, &ep->x);
}

int main(int argc, char **argv)
{
    kx_plat_set_process_name("kx-host");
    struct confine c = {0};
    parse_args(argc, argv, &c);
    /* Nothing but stdin, stdout, stderr, the transport and the executables
     * kxd passed (--fds), however started. */
    kx_plat_close_fds_from(KX_HOST_XPORT_FD + 1 + (int)c.n_fds);
    if (c.st == STATUS_SUCCESS && c.has_user)
        c.st = kx_plat_drop_user(c.uid, c.gid, c.why, sizeof c.why);
    struct kx_hostep *ep = calloc(1, sizeof *ep);
    struct kx_xbatch b = {0};
    if (!ep || pthread_mutex_init(&ep->lock, NULL) || transport(ep, &c) != STATUS_SUCCESS) {
        fprintf(stderr, "kx-host: no transport on fd %d\n", KX_HOST_XPORT_FD);
        return 2;
    }
    const struct kx_xrec *x;
    const unsigned char *p;
    struct hx_hello hh;
    kx_io_entry_fn entry = NULL;
    if (kx_xport_recv(ep->x, &b) != STATUS_SUCCESS || !kx_xport_next(&b, &x, &p) ||
        hello(ep, x, p, &hh, &entry, &c) != STATUS_SUCCESS)
        return 2; /* kxd has the reason */

    ep->entry = entry;
    if (c.poll_us && ep->x->ops->poll) {
        ep->poll_ns = (uint64_t)c.poll_us * 1000u;
        kx__host_set_idle(ep->h, idle_poll, ep);
    }
    kx_status st;
    while (!atomic_load(&ep->stopping) &&
           ((st = kx_xport_recv(ep->x, &b)) == STATUS_SUCCESS || st == STATUS_TIMEOUT))
        if (st == STATUS_SUCCESS)
            take_batch(ep, &b);
    if (!atomic_load(&ep->stopping)) {
        /* kxd went away: nobody is left to answer. */
        _Exit(0);
    }
    kx__host_free(ep->h); /* joins the dispatch thread; its last answers are sent */
    ep->x->ops->free(ep->x);
    for (uint32_t i = 0; i < ep->n_slabs; i++) {
        for (uint32_t k = 0; k < HP_SLAB; k++) {
            free(ep->slabs[i][k].heap);
            free(ep->slabs[i][k].prov_mem);
        }
        free(ep->slabs[i]);
    }
    kx_xbatch_free(&b);
    kx_xbatch_free(&ep->pbatch);
    pthread_mutex_destroy(&ep->lock);
    free(ep);
    return 0;
}
