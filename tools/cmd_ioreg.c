/* cmd_ioreg.c — `ioreg` and `ioclasscount` over a registry.
 *
 * ioreg prints the registry as an inverted tree in Apple's line format:
 *
 *   +-o Root  <class IORegistryEntry, id 0x100000100, retain 4>
 *     +-o kx  <class IOPlatformExpertDevice, id 0x100000101, registered, !matched, active, busy 0
 * (0 ms), retain 6>
 *       +-o PCI0@0  <class IOPCIBridge, ...>
 *       | +-o GIGE@1f,6  <class IOPCIDevice, ...>
 *
 * Each level is indented two columns; a column shows "| " while the ancestor at that depth
 * has siblings still to come. Properties (-l for all, or objects picked by -c, -n, -k) follow
 * their node as a "{ ... }" block aligned under it, one `"key" = value` per line, values as
 * ioreg prints them (core/plist_value.c). -r prints the subtrees rooted at the picked objects
 * (-t with their ancestors above), -d limits each tree's depth, -w clips lines to a width
 * ("$" marks a clipped line), -x prints numbers in hex, -a writes XML instead — always with
 * properties, so the output is a platform file (`kx match --platform`).
 *
 * The registry comes from --platform FILE|linux|none, --linux or --sysfs DIR, or else from
 * the running kxd (--socket PATH, $KX_SOCKET): a copy with kxd's ids and states, drivers'
 * instances under their nubs (regcli.c). ioclasscount prints "Class = N" instances of each
 * class (exactly that class, as the class table's instance counts are).
 */
#include "cli.h"
#include "regcli.h"
#include "verbs.h"

#include "core/plist.h"

#include <kx/platform.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_DEPTH 256

static const char ioreg_usage[] =
    "usage: ioreg [" REGCLI_SOURCE_USAGE " | --socket PATH]\n"
    "             [-alrtx] [-c class] [-d depth] [-k key] [-n name] [-p plane] [-w width]\n"
    "  --platform  a platform file, linux (this host's devices) or none\n"
    "  --linux     this host's devices, from /sys\n"
    "  --sysfs     the devices of a sysfs tree (a copy, or a fake one)\n"
    "  (none of these: the running kxd's registry, at --socket PATH or $KX_SOCKET)\n"
    "  -a  archive the output in XML (with properties: a platform file)\n"
    "  -c  show properties of objects of the class or a subclass\n"
    "  -d  limit each tree to this depth\n"
    "  -k  show properties of objects that have the key\n"
    "  -l  show properties of all objects\n"
    "  -n  show properties of objects with the name\n"
    "  -p  traverse the plane (IOService, the default, or IODeviceTree)\n"
    "  -r  show subtrees rooted at objects that match -c, -k or -n\n"
    "  -t  with -r, show each subtree's location in the tree\n"
    "  -w  clip lines to the width (0: no limit; default: the terminal's)\n"
    "  -x  show numbers in hexadecimal\n";

struct ioreg {
    struct kx_reg *reg;
    enum kx_reg_plane plane;
    const char *cls, *name, *key;
    int all, roots, tree, archive, hex;
    unsigned width;
    unsigned depth;      /* 0: no limit */
    kx_reg_id *of_class; /* entries of -c's class, in id order */
    size_t n_of_class;
    char *line; /* the line being built */
    size_t len, cap;
};

/* ---- Lines ------------------------------------------------------------------------------------
 */

static void add(struct ioreg *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *v = realloc(o->line, cap);
        if (!v)
            return; /* out of memory: the line is cut short */
        o->line = v;
        o->cap = cap;
    }
    memcpy(o->line + o->len, s, n);
    o->len += n;
    o->line[o->len] = '\0';
}

static void adds(struct ioreg *o, const char *s)
{
    add(o, s, strlen(s));
}

/* Ends the line: clipped to the width as ioreg clips, width - 1 columns and a "$". */
static void emit(struct ioreg *o)
{
    if (o->width && o->len >= o->width)
        printf("%.*s$\n", (int)(o->width - 1), o->line ? o->line : "");
    else
        printf("%s\n", o->len ? o->line : "");
    o->len = 0;
}

static void indent_node(struct ioreg *o, unsigned depth, const unsigned char *more)
{
    for (unsigned i = 0; i < depth; i++)
        adds(o, more[i] ? "| " : "  ");
}

static void indent_props(struct ioreg *o, unsigned depth, const unsigned char *more, int children)
{
    indent_node(o, depth + 1, more);
    adds(o, children ? "| " : "  ");
}

/* ---- Picking objects --------------------------------------------------------------------------
 */

static int cmp_id(const void *a, const void *b)
{
    kx_reg_id x = *(const kx_reg_id *)a, y = *(const kx_reg_id *)b;
    return (x > y) - (x < y);
}

static int picked(struct ioreg *o, const struct kx_reg_info *i)
{
    if (o->cls && bsearch(&i->id, o->of_class, o->n_of_class, sizeof *o->of_class, cmp_id))
        return 1;
    if (o->name && strcmp(o->name, i->name) == 0)
        return 1;
    if (o->key) {
        plist_t v = NULL;
        kx_reg_prop_copy(o->reg, i->id, o->key, &v);
        if (v) {
            plist_free(v);
            return 1;
        }
    }
    return 0;
}

/* ---- Text -------------------------------------------------------------------------------------
 */

static void print_value(struct ioreg *o, plist_t v)
{
    unsigned flags = o->hex ? KX_PLIST_FORMAT_HEX : 0;
    size_t need = kx_plist_format(v, flags, NULL, 0);
    char *buf = malloc(need + 1);
    if (!buf)
        return;
    kx_plist_format(v, flags, buf, need + 1);
    adds(o, buf);
    free(buf);
}

static void print_props(struct ioreg *o, kx_reg_id id, unsigned depth, const unsigned char *more,
                        int children)
{
    plist_t props = NULL;
    if (kx_reg_props_copy(o->reg, id, &props) != STATUS_SUCCESS)
        return;
    indent_props(o, depth, more, children);
    adds(o, "{");
    emit(o);
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    plist_dict_new_iter(props, &it);
    for (plist_dict_next_item(props, it, &key, &val); key;
         plist_dict_next_item(props, it, &key, &val)) {
        indent_props(o, depth, more, children);
        adds(o, "  \"");
        adds(o, key);
        adds(o, "\" = ");
        print_value(o, val);
        emit(o);
        free(key);
        key = NULL;
    }
    free(it);
    plist_free(props);
    indent_props(o, depth, more, children);
    adds(o, "}");
    emit(o);
    indent_props(o, depth, more, children);
    emit(o);
}

static void print_node(struct ioreg *o, const struct kx_reg_info *i, unsigned depth,
                       const unsigned char *more, int children, int with_props)
{
    char buf[160];
    indent_node(o, depth, more);
    adds(o, "+-o ");
    adds(o, i->name);
    if (*i->location) {
        adds(o, "@");
        adds(o, i->location);
    }
    adds(o, "  <class ");
    adds(o, i->class_name);
    snprintf(buf, sizeof buf, ", id 0x%llx", (unsigned long long)i->id);
    adds(o, buf);
    if (i->is_service) {
        snprintf(buf, sizeof buf, ", %sregistered, %smatched, %s, busy %u (0 ms)",
                 i->state & KX_REG_REGISTERED ? "" : "!", i->state & KX_REG_MATCHED ? "" : "!",
                 i->state & KX_REG_TERMINATED ? "inactive" : "active", i->busy);
        adds(o, buf);
    }
    snprintf(buf, sizeof buf, ", retain %u>", i->retain);
    adds(o, buf);
    emit(o);
    if (with_props)
        print_props(o, i->id, depth, more, children);
}

/* Prints id's subtree; root_depth is where this tree started (-d counts from it). */
static void walk(struct ioreg *o, kx_reg_id id, unsigned depth, unsigned root_depth,
                 unsigned char *more)
{
    struct kx_reg_info i;
    kx_reg_id *kids = NULL;
    size_t n = 0;
    if (kx_reg_info(o->reg, id, &i) != STATUS_SUCCESS)
        return;
    kx_reg_children(o->reg, id, o->plane, &kids, &n);
    int deeper = depth + 1 < MAX_DEPTH && (!o->depth || depth - root_depth + 1 < o->depth);
    if (!deeper)
        n = 0;
    print_node(o, &i, depth, more, n > 0, o->all || picked(o, &i));
    for (size_t k = 0; k < n; k++) {
        more[depth + 1] = k + 1 < n;
        walk(o, kids[k], depth + 1, root_depth, more);
    }
    free(kids);
}

/* -r: every picked object's subtree, in tree order (not looking inside a printed one). */
static void walk_roots(struct ioreg *o, kx_reg_id id, unsigned char *more)
{
    struct kx_reg_info i;
    if (kx_reg_info(o->reg, id, &i) != STATUS_SUCCESS)
        return;
    if (picked(o, &i)) {
        unsigned depth = 0;
        memset(more, 0, MAX_DEPTH);
        if (o->tree) { /* its ancestors first, without properties */
            kx_reg_id up[MAX_DEPTH];
            size_t n_up = 0;
            for (kx_reg_id a = id; n_up < MAX_DEPTH - 1;) {
                kx_reg_id *parents = NULL;
                size_t np = 0;
                kx_reg_parents(o->reg, a, o->plane, &parents, &np);
                a = np ? parents[0] : KX_REG_ID_NONE;
                free(parents);
                if (!a)
                    break;
                up[n_up++] = a;
            }
            while (n_up) {
                struct kx_reg_info ai;
                if (kx_reg_info(o->reg, up[--n_up], &ai) == STATUS_SUCCESS)
                    print_node(o, &ai, depth++, more, 1, 0);
            }
        }
        walk(o, id, depth, depth, more);
        return;
    }
    kx_reg_id *kids = NULL;
    size_t n = 0;
    kx_reg_children(o->reg, id, o->plane, &kids, &n);
    for (size_t k = 0; k < n; k++)
        walk_roots(o, kids[k], more);
    free(kids);
}

/* ---- Archive ----------------------------------------------------------------------------------
 */

static void prune(plist_t node, unsigned levels)
{
    plist_t kids = plist_dict_get_item(node, "IORegistryEntryChildren");
    if (!kids)
        return;
    if (levels <= 1) {
        plist_dict_remove_item(node, "IORegistryEntryChildren");
        return;
    }
    for (uint32_t i = 0; i < plist_array_get_size(kids); i++)
        prune(plist_array_get_item(kids, i), levels - 1);
}

static void collect_roots(struct ioreg *o, kx_reg_id id, plist_t out)
{
    struct kx_reg_info i;
    plist_t tree = NULL;
    if (kx_reg_info(o->reg, id, &i) != STATUS_SUCCESS)
        return;
    if (picked(o, &i)) {
        if (kx_platform_tree_build(o->reg, id, o->plane, &tree) == STATUS_SUCCESS) {
            if (o->depth)
                prune(tree, o->depth);
            plist_array_append_item(out, tree);
        }
        return;
    }
    kx_reg_id *kids = NULL;
    size_t n = 0;
    kx_reg_children(o->reg, id, o->plane, &kids, &n);
    for (size_t k = 0; k < n; k++)
        collect_roots(o, kids[k], out);
    free(kids);
}

static int archive(struct ioreg *o)
{
    plist_t out = NULL;
    if (o->roots) {
        out = plist_new_array();
        collect_roots(o, kx_reg_root(o->reg), out);
    } else if (kx_platform_tree_build(o->reg, kx_reg_root(o->reg), o->plane, &out) ==
               STATUS_SUCCESS) {
        if (o->depth)
            prune(out, o->depth);
    }
    char *xml = NULL;
    uint32_t len = 0;
    if (out)
        plist_to_xml(out, &xml, &len);
    plist_free(out);
    if (!xml) {
        fprintf(stderr, "ioreg: %s\n", kx_status_string(STATUS_INSUFFICIENT_RESOURCES));
        return KX_EXIT_FAIL;
    }
    fwrite(xml, 1, len, stdout);
    free(xml);
    return KX_EXIT_OK;
}

/* ---- ioreg ------------------------------------------------------------------------------------
 */

static unsigned terminal_width(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        return ws.ws_col;
    return 0;
}

int kx_cmd_ioreg(int argc, char **argv)
{
    static const struct option opts[] = {REGCLI_SOURCE_OPTIONS,
                                         {"socket", required_argument, NULL, 'K'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct ioreg o;
    struct regcli_source src = {NULL, NULL};
    const char *socket = NULL, *plane = "IOService";
    uint64_t v = 0;
    memset(&o, 0, sizeof o);
    o.width = terminal_width();
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "ac:d:hk:ln:p:rtw:x", opts, NULL)) != -1;) {
        switch (c) {
        case 'P':
        case 'L':
        case 'S': regcli_source_option(&src, c, optarg); break;
        case 'K': socket = optarg; break;
        case 'a': o.archive = 1; break;
        case 'c': o.cls = optarg; break;
        case 'k': o.key = optarg; break;
        case 'l': o.all = 1; break;
        case 'n': o.name = optarg; break;
        case 'p': plane = optarg; break;
        case 'r': o.roots = 1; break;
        case 't': o.tree = 1; break;
        case 'x': o.hex = 1; break;
        case 'd':
        case 'w':
            if (kx_cli_parse_u64(optarg, &v) != 0 || v > 100000) {
                fprintf(stderr, "ioreg: invalid %s \"%s\"\n", c == 'd' ? "depth" : "width", optarg);
                return KX_EXIT_USAGE;
            }
            if (c == 'd')
                o.depth = (unsigned)v;
            else
                o.width = (unsigned)v;
            break;
        case 'h': printf("%s", ioreg_usage); return KX_EXIT_OK;
        default: fprintf(stderr, "%s", ioreg_usage); return KX_EXIT_USAGE;
        }
    }
    if (optind != argc || (o.roots && !o.cls && !o.name && !o.key)) {
        fprintf(stderr, "%s", ioreg_usage);
        return KX_EXIT_USAGE;
    }
    if (kx_reg_plane_from_name(plane, &o.plane) != 0) {
        fprintf(stderr, "ioreg: unknown plane \"%s\" (IOService or IODeviceTree)\n", plane);
        return KX_EXIT_USAGE;
    }
    struct regcli c;
    int rc = regcli_init("ioreg", &c);
    c.socket = socket;
    if (rc == 0)
        rc = regcli_registry("ioreg", &src, &c);
    if (rc != 0) {
        regcli_free(&c);
        return rc == KX_EXIT_USAGE ? rc : KX_EXIT_FAIL;
    }
    o.reg = c.reg;
    if (o.cls)
        kx_reg_find_class(o.reg, o.cls, &o.of_class, &o.n_of_class);
    if (o.archive) {
        rc = archive(&o);
    } else {
        unsigned char more[MAX_DEPTH] = {0};
        if (o.roots)
            walk_roots(&o, kx_reg_root(o.reg), more);
        else
            walk(&o, kx_reg_root(o.reg), 0, 0, more);
    }
    free(o.of_class);
    free(o.line);
    regcli_free(&c);
    return rc;
}

/* ---- ioclasscount -----------------------------------------------------------------------------
 */

struct class_count {
    char name[KX_REG_NAME_MAX];
    size_t n;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct class_count *)a)->name, ((const struct class_count *)b)->name);
}

int kx_cmd_ioclasscount(int argc, char **argv)
{
    static const struct option opts[] = {REGCLI_SOURCE_OPTIONS,
                                         {"socket", required_argument, NULL, 'K'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct regcli_source src = {NULL, NULL};
    const char *socket = NULL;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (c == 'K') {
            socket = optarg;
        } else if (!regcli_source_option(&src, c, optarg)) {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: ioclasscount [" REGCLI_SOURCE_USAGE " | --socket PATH] [CLASS...]\n"
                    "Prints how many instances of each class (of every class with one when none "
                    "is named) the registry holds: the file's, else kxd's.\n");
            return c == 'h' ? KX_EXIT_OK : KX_EXIT_USAGE;
        }
    }
    struct regcli c;
    int rc = regcli_init("ioclasscount", &c);
    c.socket = socket;
    if (rc == 0)
        rc = regcli_registry("ioclasscount", &src, &c);
    if (rc != 0) {
        regcli_free(&c);
        return rc == KX_EXIT_USAGE ? rc : KX_EXIT_FAIL;
    }
    /* every entry, in either plane, once */
    kx_reg_id *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, n_counts = 0;
    kx_reg_list(c.reg, KX_REG_SERVICE, &a, &na);
    kx_reg_list(c.reg, KX_REG_DEVICE_TREE, &b, &nb);
    kx_reg_id *ids = malloc((na + nb + 1) * sizeof *ids);
    struct class_count *counts = calloc(na + nb + 1, sizeof *counts);
    if (!ids || !counts) {
        fprintf(stderr, "ioclasscount: %s\n", kx_status_string(STATUS_INSUFFICIENT_RESOURCES));
        free(a);
        free(b);
        free(ids);
        free(counts);
        regcli_free(&c);
        return KX_EXIT_FAIL;
    }
    if (na)
        memcpy(ids, a, na * sizeof *ids);
    if (nb)
        memcpy(ids + na, b, nb * sizeof *ids);
    qsort(ids, na + nb, sizeof *ids, cmp_id);
    for (size_t i = 0; i < na + nb; i++) {
        struct kx_reg_info info;
        if ((i && ids[i] == ids[i - 1]) || kx_reg_info(c.reg, ids[i], &info) != STATUS_SUCCESS)
            continue;
        size_t k = 0;
        while (k < n_counts && strcmp(counts[k].name, info.class_name) != 0)
            k++;
        if (k == n_counts)
            snprintf(counts[n_counts++].name, KX_REG_NAME_MAX, "%s", info.class_name);
        counts[k].n++;
    }
    qsort(counts, n_counts, sizeof *counts, by_name);
    if (optind == argc) {
        for (size_t k = 0; k < n_counts; k++)
            printf("%s = %zu\n", counts[k].name, counts[k].n);
    }
    for (int i = optind; i < argc; i++) {
        size_t n = 0;
        for (size_t k = 0; k < n_counts; k++)
            if (strcmp(counts[k].name, argv[i]) == 0)
                n = counts[k].n;
        printf("%s = %zu\n", argv[i], n);
    }
    free(a);
    free(b);
    free(ids);
    free(counts);
    regcli_free(&c);
    return KX_EXIT_OK;
}
