/* vers.c — Apple 'vers' strings: parse, format, the same way xnu does.
 *
 * The grammar is a small state machine over three numeric fields and an
 * optional stage: MAJOR[.MINOR[.REVISION]][STAGE LEVEL], each field 0-4 digits
 * (major at least one), stage one of d, a, b, f or fc followed by 1-3 digits
 * (at most 255). Whitespace (space, tab, CR, LF) or the end of the string
 * finishes the parse and anything after whitespace is ignored, as in xnu.
 *
 * Two xnu quirks are reproduced on purpose because real Info.plists rely on
 * the kernel's acceptance of them:
 *  - a field may be empty ("1..2" is 1.0.2, "1." is 1.0);
 *  - after a field's fourth digit a single '.' is skipped, and any other
 *    non-digit is re-read by the next field's scanner ("1.2.3456." is valid,
 *    "1234b1" is 1234.0b1).
 */
#include <kx/vers.h>

#include <stdio.h>
#include <string.h>

enum {
    FIELD_DIGITS = 4,  /* major, minor and revision */
    LEVEL_DIGITS = 3,  /* stage level */
    LEVEL_MAX = 255,
};

/* Stage codes are part of the encoding; their order is the pre-release order. */
enum stage {
    STAGE_INVALID = 0,
    STAGE_DEVELOPMENT = 1,
    STAGE_ALPHA = 3,
    STAGE_BETA = 5,
    STAGE_CANDIDATE = 7,
    STAGE_RELEASE = 9,
};

static const int64_t field_mult[3] = {1000000000000LL, 100000000LL, 10000LL};
#define STAGE_MULT 1000LL

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_end(char c) { return c == '\0' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static int is_stage_letter(char c) { return c == 'd' || c == 'a' || c == 'b' || c == 'f'; }

/* Reads a stage prefix at *p; advances past the letters only when a digit
 * follows, as xnu does. */
static enum stage read_stage(const char **p)
{
    const char *s = *p;
    enum stage st = STAGE_INVALID;
    size_t skip = 1;

    switch (s[0]) {
    case 'd': st = STAGE_DEVELOPMENT; break;
    case 'a': st = STAGE_ALPHA; break;
    case 'b': st = STAGE_BETA; break;
    case 'f':
        st = STAGE_CANDIDATE;
        if (s[1] == 'c')
            skip = 2;
        break;
    default:
        return STAGE_INVALID;
    }
    if (!is_digit(s[skip]))
        return STAGE_INVALID;
    *p = s + skip;
    return st;
}

kx_vers kx_vers_parse(const char *s)
{
    int64_t field[3] = {0, 0, 0};
    int64_t level = 0;
    enum stage stage = STAGE_RELEASE;
    const char *p = s;

    if (!s || !is_digit(*s))
        return KX_VERS_INVALID;

    /* Numeric fields: f = 0 major, 1 minor, 2 revision. */
    for (int f = 0; f < 3; f++) {
        int n = 0;
        for (;;) {
            if (n == FIELD_DIGITS) {
                /* Field full: skip one '.', reject a fifth digit, else let
                 * the next scanner classify the character. */
                if (*p == '.')
                    p++;
                else if (is_digit(*p))
                    return KX_VERS_INVALID;
                break;
            }
            if (is_end(*p))
                goto done;
            if (is_digit(*p)) {
                field[f] = field[f] * 10 + (*p - '0');
                p++;
                n++;
            } else if (is_stage_letter(*p)) {
                goto stage_part;
            } else if (*p == '.' && f < 2) {
                p++;
                break;
            } else {
                return KX_VERS_INVALID;
            }
        }
    }

stage_part:
    if (is_end(*p))
        goto done;
    stage = read_stage(&p);
    if (stage == STAGE_INVALID)
        return KX_VERS_INVALID;
    for (int n = 0; !is_end(*p); n++) {
        if (n == LEVEL_DIGITS || !is_digit(*p))
            return KX_VERS_INVALID;
        level = level * 10 + (*p - '0');
        p++;
    }
    if (level > LEVEL_MAX)
        return KX_VERS_INVALID;

done:
    if (stage == STAGE_CANDIDATE && level == 0)
        return KX_VERS_INVALID;
    return field[0] * field_mult[0] + field[1] * field_mult[1] + field[2] * field_mult[2] +
           (int64_t)stage * STAGE_MULT + level;
}

char *kx_vers_format(kx_vers v, char *buf, size_t buf_len)
{
    static const char stage_text[10] = {
        [STAGE_DEVELOPMENT] = 'd', [STAGE_ALPHA] = 'a', [STAGE_BETA] = 'b', [STAGE_CANDIDATE] = 'f'};

    if (!buf || buf_len == 0)
        return buf;
    if (v == 0) {
        snprintf(buf, buf_len, "(missing)");
        return buf;
    }
    int64_t major = v / field_mult[0];
    int64_t minor = v / field_mult[1] % 10000;
    int64_t revision = v / field_mult[2] % 10000;
    int64_t stage = v / STAGE_MULT % 10;
    int64_t level = v % STAGE_MULT;
    int stage_ok = stage == STAGE_RELEASE ? level == 0 : stage_text[stage] != 0;

    if (v < 0 || major > 9999 || !stage_ok || level > LEVEL_MAX ||
        (stage == STAGE_CANDIDATE && level == 0)) {
        snprintf(buf, buf_len, "(invalid)");
        return buf;
    }
    int n = snprintf(buf, buf_len, "%lld.%lld", (long long)major, (long long)minor);
    if (revision && n >= 0 && (size_t)n < buf_len)
        n += snprintf(buf + n, buf_len - (size_t)n, ".%lld", (long long)revision);
    if (stage != STAGE_RELEASE && n >= 0 && (size_t)n < buf_len)
        snprintf(buf + n, buf_len - (size_t)n, "%c%lld", stage_text[stage], (long long)level);
    return buf;
}
