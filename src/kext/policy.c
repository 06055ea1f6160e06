/* policy.c — the rules on what a kext may link against and when it may load.
 *
 * Per kext (research §2.4, §2.5), classified by identifier prefix:
 * `com.apple.kernel` exactly is the raw kernel (refused since OSKext, 10.6;
 * the releases before allowed it, and the seed warns it is brittle: any
 * incompatible kernel change raises its compatible version),
 * `com.apple.kernel.*` the old kernel subcomponents (10.0-10.3 style),
 * `com.apple.kpi.*` the KPI collections of 10.4 and later, `org.kx.kpi.*`
 * kx's own KPIs. The seed's kext-dependencies document says a kext that
 * mixes KPI collections with kernel subcomponents fails to load, so kx makes
 * Apple's later warning an error. On a 64-bit kernel (the modern profile, or
 * a 64-bit architecture without a profile) subcomponents are refused
 * outright. com.apple.kpi.private needs an Apple identifier and Apple's
 * copyright string; an interface kext has exactly one library.
 *
 * Per load list (§2.7, §2.8, §4.3): OSBundleRequired consistency between a
 * kext and its dependencies (a warning), OSBundleAllowUserLoad of every kext
 * (it decides whether a non-root user may ask for the load; a warning only
 * with KX_KEXT_FOR_USER, where it matters, and one naming every kext that
 * lacks it — root's loads and boots never meet the rule), and
 * with KX_KEXT_SAFE_BOOT the safe-boot filter on the kext and every
 * dependency.
 */
#include "kext_int.h"

#include <stdlib.h>
#include <string.h>

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

kx_status kx__policy_libraries(const struct kx_kext_repo *r, struct kx_kext *k)
{
    const char *raw = NULL, *component = NULL, *apple_kpi = NULL, *private_kpi = NULL;
    int kx_kpi = 0;
    kx_status st = STATUS_SUCCESS;
    struct kx_diags *d = &k->dep_diags;

    for (size_t i = 0; i < k->n_libs; i++) {
        const char *id = k->libs[i].id;
        if (strcmp(id, "com.apple.kernel") == 0)
            raw = id;
        else if (has_prefix(id, "com.apple.kernel."))
            component = component ? component : id;
        else if (has_prefix(id, "com.apple.kpi."))
            apple_kpi = apple_kpi ? apple_kpi : id;
        else if (has_prefix(id, "org.kx.kpi."))
            kx_kpi = 1;
        if (strcmp(id, "com.apple.kpi.private") == 0)
            private_kpi = id;
    }
    if (raw && r->pre_oskext)
        st = kx_diags_add(d, KX_D_WHOLE_KERNEL, k->path, raw, "allowed before Mac OS X 10.6");
    else if (raw)
        st = kx_diags_add(d, KX_D_RAW_KERNEL, k->path, raw, NULL);
    if (st == STATUS_SUCCESS && apple_kpi && component)
        st = kx_diags_add(d, KX_D_MIXED_KPI_KERNEL, k->path, component,
                          "declared together with %s; a kext that mixes them fails to load",
                          apple_kpi);
    if (st == STATUS_SUCCESS && component && r->is_lp64)
        st = kx_diags_add(d, KX_D_64BIT_KERNEL_LIBS, k->path, component,
                          "the kernel checked against is 64-bit");
    if (st == STATUS_SUCCESS && private_kpi &&
        (!k->id || !has_prefix(k->id, "com.apple.") || !k->apple_copyright))
        st = kx_diags_add(d, KX_D_PRIVATE_KPI, k->path, private_kpi,
                          "needs a com.apple. identifier and an Apple copyright string");
    if (st == STATUS_SUCCESS && k->is_interface && !k->is_kernel_resource && k->n_libs != 1)
        st = kx_diags_add(d, KX_D_INTERFACE_ONE_DEP, k->path, "OSBundleLibraries",
                          "declares %zu", k->n_libs);
    if (st == STATUS_SUCCESS && k->declares_exec && !k->is_kernel_resource && !raw &&
        !component && !apple_kpi && !kx_kpi && k->n_libs > 0)
        st = kx_diags_add(d, KX_D_NO_KPI, k->path, NULL,
                          "kx drivers declare org.kx.kpi.* libraries the same way");
    return st;
}

int kx__loadable_in_safe_boot(const struct kx_kext *k)
{
    /* k->required holds only legal values; DriverKit is legal for dexts only. */
    return k->is_kernel_resource || k->is_dext || k->required != NULL;
}

/* §2.7: which OSBundleRequired values a dependency of a kext needing `req` may have. */
int kx__policy_required_consistent(const char *req, const char *dep)
{
    if (!req || strcmp(req, "Safe Boot") == 0)
        return 1; /* nothing promised about early boot */
    if (strcmp(req, "Local-Root") == 0)
        return dep && (!strcmp(dep, "Root") || !strcmp(dep, "Local-Root") || !strcmp(dep, "Console"));
    if (strcmp(req, "Network-Root") == 0)
        return dep && (!strcmp(dep, "Root") || !strcmp(dep, "Network-Root") ||
                       !strcmp(dep, "Console"));
    return dep && strcmp(dep, "Safe Boot") != 0; /* Root, Console, DriverKit */
}

kx_status kx__policy_graph(const struct kx_kext_repo *r, struct kx_kext_resolution *res)
{
    struct kx_kext *root = res->root;
    int safe_boot = (r->opts.flags & KX_KEXT_SAFE_BOOT) != 0;
    kx_status st = STATUS_SUCCESS;

    if (safe_boot && !kx__loadable_in_safe_boot(root))
        st = kx_diags_add(&res->diags, KX_D_NOT_SAFE_BOOT, root->path, "OSBundleRequired", "%s",
                          root->required ? root->required : "not set");
    char *lacking = NULL; /* the kexts without OSBundleAllowUserLoad, for one KX4011 */
    size_t len = 0;
    for (size_t i = 0; i < res->n_order && st == STATUS_SUCCESS; i++) {
        struct kx_kext *d = res->order[i];
        const char *name = d->id ? d->id : d->path;
        if (!d->allow_user_load) {
            res->user_loadable = 0;
            size_t n = strlen(name);
            char *grown = realloc(lacking, len + n + 3);
            if (!grown) {
                st = STATUS_INSUFFICIENT_RESOURCES;
                break;
            }
            lacking = grown;
            memcpy(lacking + len, len ? ", " : "", len ? 2 : 0);
            len += len ? 2 : 0;
            memcpy(lacking + len, name, n + 1);
            len += n;
        }
        if (d == root)
            continue;
        if (safe_boot && !kx__loadable_in_safe_boot(d))
            st = kx_diags_add(&res->diags, KX_D_DEPS_NOT_SAFE_BOOT, root->path, name,
                              "OSBundleRequired %s", d->required ? d->required : "not set");
        if (st == STATUS_SUCCESS && !kx__policy_required_consistent(root->required, d->required))
            st = kx_diags_add(&res->diags, KX_D_REQUIRED_INCONSISTENT, root->path, name,
                              "the kext is %s; the dependency has %s", root->required,
                              d->required ? d->required : "OSBundleRequired not set");
    }
    if (st == STATUS_SUCCESS && lacking && (r->opts.flags & KX_KEXT_FOR_USER))
        st = kx_diags_add(&res->diags, KX_D_NOT_USER_LOADABLE, root->path,
                          root->id ? root->id : root->path,
                          "OSBundleAllowUserLoad is not true for %s", lacking);
    free(lacking);
    return st;
}
