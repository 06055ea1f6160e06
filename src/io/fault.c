/* fault.c — fault injection rules: reading, writing and advancing them (kx/fault.h).
 *
 * The probability trigger draws from splitmix64 seeded by the rule, not from the C
 * library's generator: the sequence of hits must be the same on every machine and in
 * every process (kxd decides, a soak replays), and the state must fit in the rule.
 */
#include <kx/fault.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    uint8_t major;
} majors[] = {
    {"CREATE", 0x00},
    {"CLOSE", 0x02},
    {"READ", 0x03},
    {"WRITE", 0x04},
    {"QUERY_INFORMATION", 0x05},
    {"FLUSH_BUFFERS", 0x09},
    {"DEVICE_CONTROL", 0x0E},
    {"CLEANUP", 0x12},
};

static const char *const action_names[] = {
    [KX_FAULT_NONE] = "none",
    [KX_FAULT_FAIL] = "fail",
    [KX_FAULT_DELAY] = "delay",
    [KX_FAULT_CRASH] = "crash",
    [KX_FAULT_ABORT] = "abort",
    [KX_FAULT_HANG] = "hang",
    [KX_FAULT_NEVER_COMPLETE] = "never-complete",
    [KX_FAULT_EXIT] = "exit",
    [KX_FAULT_CORRUPT_TRANSPORT] = "corrupt-transport",
};

const char *kx_fault_action_name(enum kx_fault_action a)
{
    return (unsigned)a < sizeof action_names / sizeof *action_names ? action_names[a] : NULL;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A whole decimal number in [min, max], all of text (digits only: no sign, no space). */
static int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*text)
        return -1;
    for (; *text; text++) {
        unsigned d = (unsigned)(*text - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_major(const char *text, uint8_t *out)
{
    uint64_t v;
    if (!strncmp(text, "IRP_MJ_", 7))
        text += 7;
    for (size_t i = 0; i < sizeof majors / sizeof *majors; i++)
        if (!strcmp(text, majors[i].name)) {
            *out = majors[i].major;
            return 0;
        }
    if (parse_u64(text, 0, 0x1B, &v) != 0) /* IRP_MJ_MAXIMUM_FUNCTION */
        return -1;
    *out = (uint8_t)v;
    return 0;
}

static int parse_action(const char *text, struct kx_fault_rule *r)
{
    uint64_t v;
    if (!strncmp(text, "fail:", 5)) {
        int32_t st = kx_status_from_name(text + 5);
        if (st <= 0) /* failing with success or pending is no fault */
            return -1;
        r->action = KX_FAULT_FAIL;
        r->status = (kx_status)st;
        return 0;
    }
    if (!strncmp(text, "delay:", 6)) {
        if (parse_u64(text + 6, 0, 3600000, &v) != 0)
            return -1;
        r->action = KX_FAULT_DELAY;
        r->delay_ms = (uint32_t)v;
        return 0;
    }
    for (int a = KX_FAULT_CRASH; a <= KX_FAULT_CORRUPT_TRANSPORT; a++)
        if (!strcmp(text, action_names[a])) {
            r->action = (enum kx_fault_action)a;
            return 0;
        }
    return -1;
}

/* One key=value word into r; the key's bit in *have. Returns the reason, or NULL. */
static const char *parse_word(char *word, struct kx_fault_rule *r, unsigned *have)
{
    static const char *const keys[] = {"irp", "every", "probability", "action", "major", "seed"};
    char *eq = strchr(word, '=');
    if (!eq)
        return "is not key=value";
    *eq = '\0';
    const char *val = eq + 1;
    unsigned k = 0;
    while (k < sizeof keys / sizeof *keys && strcmp(word, keys[k]) != 0)
        k++;
    if (k == sizeof keys / sizeof *keys)
        return "is not a fault rule key (irp, every, probability, action, major, seed)";
    if (*have & (1u << k))
        return "is given twice";
    if (k <= 2 && (*have & 7u))
        return "is a second trigger (give one of irp, every, probability)";
    *have |= 1u << k;
    switch (k) {
    case 0:
    case 1:
        r->trigger = k == 0 ? KX_FAULT_NTH : KX_FAULT_EVERY;
        return parse_u64(val, 1, UINT64_MAX, &r->n) ? "wants a whole number of at least 1" : NULL;
    case 2: {
        char *end;
        r->trigger = KX_FAULT_PROBABILITY;
        r->probability = strtod(val, &end);
        return *val && !*end && r->probability > 0 && r->probability <= 1
                   ? NULL
                   : "wants a number in (0, 1]";
    }
    case 3:
        return parse_action(val, r) ? "wants fail:STATUS (a failure status), delay:MS, crash, "
                                      "abort, hang, never-complete or exit"
                                    : NULL;
    case 4:
        return parse_major(val, &r->major) ? "wants an IRP major (READ, IRP_MJ_WRITE, 14...)"
                                           : NULL;
    default: return parse_u64(val, 0, UINT64_MAX, &r->seed) ? "wants a whole number" : NULL;
    }
}

kx_status kx_fault_parse(const char *target, const char *words, struct kx_fault_rule *out,
                         char *err, size_t err_len)
{
    struct kx_fault_rule r;
    memset(&r, 0, sizeof r);
    r.major = KX_FAULT_ANY_MAJOR;
    r.seed = 1;
    const char *why = NULL;
    char word[128] = "";
    unsigned have = 0;
    if (!target || !*target || strlen(target) >= sizeof r.target)
        why = "the target must be a device path or a bundle identifier";
    for (const char *p = words ? words : ""; !why && *p;) {
        size_t n = strcspn(p, " \t");
        if (n >= sizeof word) {
            snprintf(word, sizeof word, "%.40s...", p);
            why = "is too long";
            break;
        }
        memcpy(word, p, n);
        word[n] = '\0';
        p += n + strspn(p + n, " \t");
        char copy[sizeof word];
        memcpy(copy, word, sizeof copy);
        if (n)
            why = parse_word(copy, &r, &have);
    }
    if (!why && !(have & 7u))
        why = "no trigger: give irp=N, every=N or probability=P";
    else if (!why && !(have & 8u))
        why = "no action: give action=...";
    if (why) {
        if (err && err_len)
            snprintf(err, err_len, "fault rule%s%s%s %s", word[0] ? ": '" : "", word,
                     word[0] ? "'" : "", why);
        return STATUS_INVALID_PARAMETER;
    }
    snprintf(r.target, sizeof r.target, "%s", target);
    r.rng = r.seed;
    *out = r;
    return STATUS_SUCCESS;
}

int kx_fault_format(const struct kx_fault_rule *r, int with_counts, char *buf, size_t len)
{
    char trig[64], act[96], major[40] = "", counts[64] = "";
    switch (r->trigger) {
    case KX_FAULT_NTH: snprintf(trig, sizeof trig, "irp=%llu", (unsigned long long)r->n); break;
    case KX_FAULT_EVERY: snprintf(trig, sizeof trig, "every=%llu", (unsigned long long)r->n); break;
    default: snprintf(trig, sizeof trig, "probability=%.17g", r->probability); break;
    }
    if (r->action == KX_FAULT_FAIL)
        snprintf(act, sizeof act, "fail:%s", kx_status_name(r->status));
    else if (r->action == KX_FAULT_DELAY)
        snprintf(act, sizeof act, "delay:%u", r->delay_ms);
    else
        snprintf(act, sizeof act, "%s", kx_fault_action_name(r->action));
    if (r->major != KX_FAULT_ANY_MAJOR) {
        const char *name = NULL;
        for (size_t i = 0; i < sizeof majors / sizeof *majors; i++)
            if (majors[i].major == r->major)
                name = majors[i].name;
        if (name)
            snprintf(major, sizeof major, " major=%s", name);
        else
            snprintf(major, sizeof major, " major=%u", r->major);
    }
    if (with_counts)
        snprintf(counts, sizeof counts, " seen=%llu fired=%llu", (unsigned long long)r->seen,
                 (unsigned long long)r->fired);
    return snprintf(buf, len, "%s action=%s%s seed=%llu%s", trig, act, major,
                    (unsigned long long)r->seed, counts);
}

int kx_fault_spent(const struct kx_fault_rule *r)
{
    return r->trigger == KX_FAULT_NTH && r->fired > 0;
}

enum kx_fault_action kx_fault_hit(struct kx_fault_rule *r, uint8_t major)
{
    if (r->major != KX_FAULT_ANY_MAJOR && r->major != major)
        return KX_FAULT_NONE;
    if (kx_fault_spent(r))
        return KX_FAULT_NONE;
    r->seen++;
    int hit;
    switch (r->trigger) {
    case KX_FAULT_NTH: hit = r->seen == r->n; break;
    case KX_FAULT_EVERY: hit = r->seen % r->n == 0; break;
    default: /* 53 random bits as a fraction in [0, 1) */
        hit = (double)(splitmix64(&r->rng) >> 11) * 0x1p-53 < r->probability;
        break;
    }
    if (!hit)
        return KX_FAULT_NONE;
    r->fired++;
    return r->action;
}
