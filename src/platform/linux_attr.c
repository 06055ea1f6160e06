/* linux_attr.c — reading sysfs attributes: text, hexadecimal and decimal numbers, links.
 *
 * A sysfs attribute claims a size of 4096 and holds a few bytes, so it is read through a
 * descriptor until end of file rather than by its size. Numbers are parsed strictly — the
 * whole value, within the field's width — because a value the kernel never writes means
 * the tree is damaged or not sysfs, and such a device is left out with the file named
 * rather than published with a guess. Every OS call goes through src/core's platform
 * layer.
 */
#include "platform/linux_int.h"

#include "core/plat.h"
#include "core/plat_fd.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest attribute kx reads: product strings and ACPI paths are far shorter. */
#define ATTR_MAX 512

char *lx_file(const struct lx *x, const char *path, const char *file)
{
    char *s = NULL;
    if (asprintf(&s, "%s%s%s%s", x->root, path, file ? "/" : "", file ? file : "") < 0)
        return NULL;
    return s;
}

const char *lx_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

char *lx_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    return strndup(path, n);
}

int lx_exists(const struct lx *x, const char *path, const char *file)
{
    char *f = lx_file(x, path, file);
    struct kx_plat_stat st;
    int yes = f && kx_plat_stat(f, &st) == STATUS_SUCCESS;
    free(f);
    return yes;
}

kx_status lx_attr(const struct lx *x, const char *path, const char *file, char *buf, size_t len)
{
    char raw[ATTR_MAX + 1];
    char *f = lx_file(x, path, file);
    int fd = -1;
    size_t got = 0;
    if (!f)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx_plat_open_read(f, &fd);
    free(f);
    if (st == STATUS_SUCCESS)
        st = kx_plat_pread(fd, raw, ATTR_MAX, 0, &got);
    kx_plat_close(fd);
    if (st == STATUS_NOT_A_DIRECTORY)
        st = STATUS_NO_SUCH_FILE;
    if (st != STATUS_SUCCESS)
        return st;
    raw[got] = '\0';
    char *s = raw, *e = raw + got;
    while (*s && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    if ((size_t)(e - s) >= len)
        return STATUS_BUFFER_TOO_SMALL;
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = '\0';
    return STATUS_SUCCESS;
}

static kx_status attr_number(const struct lx *x, const char *path, const char *file, int base,
                             uint32_t max, uint32_t *out, char *why, size_t why_len)
{
    char text[64];
    kx_status st = lx_attr(x, path, file, text, sizeof text);
    if (st == STATUS_NO_SUCH_FILE) {
        snprintf(why, why_len, "%s: missing", file);
        return st;
    }
    if (st == STATUS_BUFFER_TOO_SMALL) {
        snprintf(why, why_len, "%s: too long for a number", file);
        return STATUS_DATA_ERROR;
    }
    if (st != STATUS_SUCCESS) {
        snprintf(why, why_len, "%s: %s", file, kx_status_string(st));
        return st;
    }
    const char *digits = text;
    if (base == 16 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        digits += 2;
    int ok = *digits != '\0';
    for (const char *p = digits; ok && *p; p++)
        ok = base == 16 ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p);
    unsigned long long v = ok ? strtoull(digits, NULL, base) : 0;
    if (!*text) {
        snprintf(why, why_len, "%s: empty", file);
        return STATUS_DATA_ERROR;
    }
    if (!ok || strlen(digits) > 10 || v > max) {
        snprintf(why, why_len, "%s: \"%s\" is not a %s number up to 0x%x", file, text,
                 base == 16 ? "hexadecimal" : "decimal", max);
        return STATUS_DATA_ERROR;
    }
    *out = (uint32_t)v;
    return STATUS_SUCCESS;
}

kx_status lx_attr_hex(const struct lx *x, const char *path, const char *file, uint32_t max,
                      uint32_t *out, char *why, size_t why_len)
{
    return attr_number(x, path, file, 16, max, out, why, why_len);
}

kx_status lx_attr_dec(const struct lx *x, const char *path, const char *file, uint32_t max,
                      uint32_t *out, char *why, size_t why_len)
{
    return attr_number(x, path, file, 10, max, out, why, why_len);
}

kx_status lx_link_path(const struct lx *x, const char *path, const char *link, char **out)
{
    char *f = lx_file(x, path, link), *real = NULL;
    struct kx_plat_stat st;
    *out = NULL;
    if (!f)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status s = kx_plat_lstat(f, &st);
    if (s == STATUS_SUCCESS && !st.is_link)
        s = STATUS_NO_SUCH_FILE;
    if (s == STATUS_SUCCESS)
        s = kx_plat_realpath(f, &real);
    free(f);
    if (s != STATUS_SUCCESS)
        return s == STATUS_INSUFFICIENT_RESOURCES ? s : STATUS_NO_SUCH_FILE;
    size_t n = strlen(x->root);
    /* a link leading out of the tree (a copied tree's absolute links) names nothing here */
    if (strncmp(real, x->root, n) != 0 || strncmp(real + n, "/devices/", 9) != 0) {
        free(real);
        return STATUS_NO_SUCH_FILE;
    }
    *out = strdup(real + n);
    free(real);
    return *out ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

void lx_subsystem(const struct lx *x, const char *path, char *buf, size_t len)
{
    char *f = lx_file(x, path, "subsystem"), *target = NULL;
    buf[0] = '\0';
    if (f && kx_plat_readlink(f, &target) == STATUS_SUCCESS)
        snprintf(buf, len, "%s", lx_base(target));
    free(target);
    free(f);
}

const char *lx_scan(const char *s, int base, size_t max_digits, unsigned *out)
{
    char digits[16];
    size_t n = 0;
    while (n < max_digits && n < sizeof digits - 1 &&
           (base == 16 ? isxdigit((unsigned char)s[n]) : isdigit((unsigned char)s[n]))) {
        digits[n] = s[n];
        n++;
    }
    if (!n)
        return NULL;
    digits[n] = '\0';
    *out = (unsigned)strtoul(digits, NULL, base);
    return s + n;
}

int lx_pci_address(const char *s, unsigned *domain, unsigned *bus, unsigned *dev, unsigned *fn)
{
    const char *p = lx_scan(s, 16, 4, domain);
    if (p && *p == ':')
        p = lx_scan(p + 1, 16, 2, bus);
    else
        p = NULL;
    if (p && *p == ':')
        p = lx_scan(p + 1, 16, 2, dev);
    else
        p = NULL;
    if (p && *p == '.')
        p = lx_scan(p + 1, 16, 1, fn);
    else
        p = NULL;
    return p && !*p && *dev <= 31 && *fn <= 7 ? 0 : -1;
}

plist_t lx_data32(uint32_t v)
{
    const char b[4] = {(char)(v & 0xff), (char)((v >> 8) & 0xff), (char)((v >> 16) & 0xff),
                       (char)((v >> 24) & 0xff)};
    return plist_new_data(b, sizeof b);
}

plist_t lx_data_str(const char *s)
{
    return plist_new_data(s, strlen(s) + 1);
}
