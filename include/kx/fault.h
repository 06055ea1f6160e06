/* kx/fault.h — fault injection rules: which IRPs to a device or kext misbehave, and how.
 *
 * A rule names a target (a device path such as "/dev/null" or "\Device\Null", or a kext's
 * bundle identifier), a trigger (the Nth IRP from now, CREATE counted; every Nth; or each
 * IRP with probability P drawn from a generator seeded by the rule, so a run repeats
 * exactly), an optional major function filter, and an action the driver's host carries out
 * in place of (or before) the driver's routine: fail with a status, delay, crash (SIGSEGV),
 * abort, hang, never complete, or exit. The manager decides which IRP a rule hits; the host
 * acts, so crashes and hangs exercise the real containment paths.
 *
 * A rule is written as one line of words, the form `kx fault` sends to kxd and lists back:
 *
 *     irp=N | every=N | probability=P   action=fail:STATUS|delay:MS|crash|abort|hang|
 *     never-complete|exit|corrupt-transport   [major=CREATE|READ|...|N]   [seed=S]
 *
 * kx_fault_parse reads it, kx_fault_format writes it back (with the counters), and
 * kx_fault_hit advances a rule by one IRP. Rules are values: no allocation, no locks (the
 * owner of a rule list serializes kx_fault_hit).
 */
#ifndef KX_FAULT_H
#define KX_FAULT_H

#include <kx/status.h>

#include <stddef.h>
#include <stdint.h>

#define KX_FAULT_TARGET_MAX 256
#define KX_FAULT_ANY_MAJOR  0xFFu

enum kx_fault_trigger {
    KX_FAULT_NTH,         /* the Nth matching IRP from now, once */
    KX_FAULT_EVERY,       /* every Nth matching IRP */
    KX_FAULT_PROBABILITY, /* each matching IRP with probability P */
};

enum kx_fault_action {
    KX_FAULT_NONE,
    KX_FAULT_FAIL,           /* complete with status, the driver not called */
    KX_FAULT_DELAY,          /* wait delay_ms, then call the driver */
    KX_FAULT_CRASH,          /* the host dereferences NULL */
    KX_FAULT_ABORT,          /* the host calls abort() */
    KX_FAULT_HANG,           /* the routine never returns */
    KX_FAULT_NEVER_COMPLETE, /* the IRP is pended and forgotten */
    KX_FAULT_EXIT,           /* the host exits with status 1 */
    KX_FAULT_CORRUPT_TRANSPORT, /* the host writes nonsense into its transport's rings, then hangs */
};

struct kx_fault_rule {
    char target[KX_FAULT_TARGET_MAX];
    enum kx_fault_trigger trigger;
    uint64_t n;         /* NTH, EVERY */
    double probability; /* PROBABILITY, in (0, 1] */
    uint8_t major;      /* IRP_MJ_*, or KX_FAULT_ANY_MAJOR */
    enum kx_fault_action action;
    kx_status status;  /* FAIL */
    uint32_t delay_ms; /* DELAY */
    uint64_t seed;
    /* Progress: IRPs seen that matched the filter, and how many the rule hit. */
    uint64_t seen, fired;
    uint64_t rng; /* the generator's state, started from seed */
};

/* Reads a rule's words (see above) for target. STATUS_INVALID_PARAMETER with the reason,
 * naming the word, in err (may be NULL) when a word is unknown, repeated or out of range,
 * or when the trigger or the action is missing. */
KX_API kx_status kx_fault_parse(const char *target, const char *words, struct kx_fault_rule *out,
                                char *err, size_t err_len);

/* The rule as words that kx_fault_parse reads back, followed by "seen=N fired=N" when
 * with_counts is set. Returns the length it needed (as snprintf). */
KX_API int kx_fault_format(const struct kx_fault_rule *r, int with_counts, char *buf, size_t len);

/* One IRP with major function major reached the rule's target: counts it and returns the
 * action to take (KX_FAULT_NONE when the rule doesn't hit it). A spent NTH rule returns
 * KX_FAULT_NONE ever after; kx_fault_spent says so. */
KX_API enum kx_fault_action kx_fault_hit(struct kx_fault_rule *r, uint8_t major);
KX_API int kx_fault_spent(const struct kx_fault_rule *r);

/* "crash", "never-complete", ... ; NULL for an unknown action. */
KX_API const char *kx_fault_action_name(enum kx_fault_action a);

#endif /* KX_FAULT_H */
