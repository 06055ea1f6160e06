/* diag.c — the diagnostic list: add, de-duplicate, print, export as JSON. */
#include <kx/diag.h>

#include "json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *code;
    enum kx_diag_category cat;
    const char *message;
} diag_table[] = {
#define KX_DIAG_ROW(id, code, cat, msg) [id] = {code, KX_DIAG_##cat, msg},
    KX_DIAG_MAP(KX_DIAG_ROW)
#undef KX_DIAG_ROW
};

static const char *const category_names[KX_DIAG_N_CATEGORIES] = {
    "Validation Failures", "Authentication Failures", "Dependency Resolution Failures",
    "Warnings", "Boot Level Restrictions"};
static const char *const category_keys[KX_DIAG_N_CATEGORIES] = {
    "validation", "authentication", "dependency", "warning", "boot-level"};

const char *kx_diag_code_string(enum kx_diag_code code)
{
    return code < KX_D_N_CODES ? diag_table[code].code : "KX0000";
}

const char *kx_diag_message(enum kx_diag_code code)
{
    return code < KX_D_N_CODES ? diag_table[code].message : "unknown diagnostic";
}

enum kx_diag_category kx_diag_category_of(enum kx_diag_code code)
{
    return code < KX_D_N_CODES ? diag_table[code].cat : KX_DIAG_VALIDATION;
}

const char *kx_diag_category_name(enum kx_diag_category cat)
{
    return cat < KX_DIAG_N_CATEGORIES ? category_names[cat] : "Diagnostics";
}

const char *kx_diag_category_key(enum kx_diag_category cat)
{
    return cat < KX_DIAG_N_CATEGORIES ? category_keys[cat] : "unknown";
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int is_duplicate(const struct kx_diags *d, enum kx_diag_code code, const char *file,
                        const char *subject, const char *detail)
{
    for (size_t i = 0; i < d->n_items; i++) {
        const struct kx_diag *x = &d->items[i];
        if (x->code == code && same_text(x->subject, subject) && same_text(x->detail, detail) &&
            same_text(x->file, file))
            return 1;
    }
    return 0;
}

static kx_status push(struct kx_diags *d, enum kx_diag_code code, const char *file,
                      const char *subject, char *detail /* owned */)
{
    if (is_duplicate(d, code, file, subject, detail)) {
        free(detail);
        return STATUS_SUCCESS;
    }
    if (d->n_items == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct kx_diag *items = realloc(d->items, cap * sizeof *items);
        if (!items) {
            free(detail);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        d->items = items;
        d->cap = cap;
    }
    struct kx_diag *x = &d->items[d->n_items];
    x->code = code;
    x->detail = detail;
    x->subject = subject ? strdup(subject) : NULL;
    x->file = file ? strdup(file) : NULL;
    if ((subject && !x->subject) || (file && !x->file)) {
        free(x->subject);
        free(x->file);
        free(x->detail);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    d->n_items++;
    return STATUS_SUCCESS;
}

kx_status kx_diags_addv(struct kx_diags *d, enum kx_diag_code code, const char *file,
                        const char *subject, const char *detail_fmt, va_list ap)
{
    char *detail = NULL;
    if (detail_fmt && vasprintf(&detail, detail_fmt, ap) < 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    return push(d, code, file, subject, detail);
}

kx_status kx_diags_add(struct kx_diags *d, enum kx_diag_code code, const char *file,
                       const char *subject, const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    kx_status st = kx_diags_addv(d, code, file, subject, detail_fmt, ap);
    va_end(ap);
    return st;
}

kx_status kx_diags_merge(struct kx_diags *dst, const struct kx_diags *src)
{
    for (size_t i = 0; i < src->n_items; i++) {
        const struct kx_diag *x = &src->items[i];
        char *detail = x->detail ? strdup(x->detail) : NULL;
        if (x->detail && !detail)
            return STATUS_INSUFFICIENT_RESOURCES;
        kx_status st = push(dst, x->code, x->file, x->subject, detail);
        if (st != STATUS_SUCCESS)
            return st;
    }
    return STATUS_SUCCESS;
}

size_t kx_diags_count(const struct kx_diags *d, enum kx_diag_category cat)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_items; i++)
        n += kx_diag_category_of(d->items[i].code) == cat;
    return n;
}

size_t kx_diags_count_errors(const struct kx_diags *d)
{
    return d->n_items - kx_diags_count(d, KX_DIAG_WARNING);
}

const struct kx_diag *kx_diags_first_failure(const struct kx_diags *d)
{
    for (size_t i = 0; i < d->n_items; i++)
        if (kx_diag_category_of(d->items[i].code) != KX_DIAG_WARNING)
            return &d->items[i];
    return NULL;
}

char *kx_diag_line(const struct kx_diag *d)
{
    const char *msg = kx_diag_message(d->code);
    size_t n = strlen(msg);
    /* Apple's list headings ("...unresolved for this kext:") bring their own colon */
    const char *sep = n && msg[n - 1] == ':' ? " " : ": ";
    char *out = NULL;
    if (asprintf(&out, "%s %s%s%s%s%s", kx_diag_code_string(d->code), msg, d->subject ? sep : "",
                 d->subject ? d->subject : "", d->detail ? (d->subject ? ": " : sep) : "",
                 d->detail ? d->detail : "") < 0)
        return NULL;
    return out;
}

/* Groups lines by category, then by message, the way kextutil lays them out:
 *
 *   Diagnostics for /L/E/Foo.kext:
 *   Dependency Resolution Failures:
 *       Only incompatible kexts found for these libraries: [KX3002]
 *           com.example.Lib - requested 2.0 not in [compatible 1.0, current 1.5]
 */
void kx_diags_print(const struct kx_diags *d, const char *path, FILE *out)
{
    if (d->n_items == 0)
        return;
    fprintf(out, "Diagnostics for %s:\n", path ? path : "(unknown)");
    for (int cat = 0; cat < KX_DIAG_N_CATEGORIES; cat++) {
        if (kx_diags_count(d, (enum kx_diag_category)cat) == 0)
            continue;
        fprintf(out, "%s:\n", category_names[cat]);
        for (size_t i = 0; i < d->n_items; i++) {
            const struct kx_diag *x = &d->items[i];
            if ((int)kx_diag_category_of(x->code) != cat)
                continue;
            int seen = 0; /* message already printed by an earlier item */
            for (size_t j = 0; j < i && !seen; j++)
                seen = d->items[j].code == x->code;
            if (seen)
                continue;
            fprintf(out, "    %s [%s]\n", kx_diag_message(x->code), kx_diag_code_string(x->code));
            for (size_t j = i; j < d->n_items; j++) {
                const struct kx_diag *y = &d->items[j];
                if (y->code != x->code || (!y->subject && !y->detail && !y->file))
                    continue;
                fprintf(out, "        %s%s%s", y->subject ? y->subject : "",
                        y->subject && y->detail ? " - " : "", y->detail ? y->detail : "");
                if (y->file && (!path || strcmp(y->file, path) != 0))
                    fprintf(out, "%s(%s)", y->subject || y->detail ? " " : "", y->file);
                fputc('\n', out);
            }
        }
    }
}

json_t *kx_diags_to_json(const struct kx_diags *d)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < d->n_items; i++) {
        const struct kx_diag *x = &d->items[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "category",
                              kx_diag_category_key(kx_diag_category_of(x->code)), "code",
                              kx_diag_code_string(x->code), "message", kx_diag_message(x->code),
                              "subject", kx_json_string(x->subject), "detail",
                              kx_json_string(x->detail), "file", kx_json_string(x->file));
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

void kx_diags_clear(struct kx_diags *d)
{
    for (size_t i = 0; i < d->n_items; i++) {
        free(d->items[i].subject);
        free(d->items[i].detail);
        free(d->items[i].file);
    }
    free(d->items);
    d->items = NULL;
    d->n_items = d->cap = 0;
}
