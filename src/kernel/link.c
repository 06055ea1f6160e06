/* link.c — the link check and kextlibs' symbol-to-library search.
 *
 * A provider is one library a kext may bind to: a library kext's ELF
 * exports, a kernel interface's symbol list, or the C runtime rule. Each
 * provider's names are sorted once and searched with bsearch; a kext
 * declares a handful of libraries, so the check is a few binary searches per
 * import.
 */
#include "link.h"

#include "core/plist.h"
#include "kext/elf.h"

#include <stdlib.h>
#include <string.h>

/* Kernel interface symbol lists, compiled in from data/exports/ (kx_embed). */
extern const unsigned char kx_data_kmdf_exports[];
extern const size_t kx_data_kmdf_exports_len;

static const struct {
    const char *name;
    const unsigned char *data;
    const size_t *len;
} symbol_sets[] = {
    {"kmdf", kx_data_kmdf_exports, &kx_data_kmdf_exports_len},
};

/* The symbol set that stands for the C runtime (org.kx.kpi.libc). */
#define C_RUNTIME_SET "libc"

struct provider {
    struct kx_kext *kext;
    int is_c_runtime;
    char **names; /* sorted; borrowed from elf or text */
    size_t n_names;
    struct kx_elf *elf;
    char *text; /* owned copy of an embedded list, split in place */
};

static int compare_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Libraries every ELF on this system may name in DT_NEEDED: the C runtime. */
static int is_c_runtime_file(const char *file)
{
    static const char *const prefixes[] = {"libc.so", "libm.so", "libpthread.so", "libdl.so",
                                           "librt.so", "ld-linux", "libgcc_s.so"};
    for (size_t i = 0; file && i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(file, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

/* An import the C runtime satisfies: versioned by a C library, or the
 * sanitizer runtime an instrumented build links into the executable. */
static int is_c_runtime_import(const struct kx_elf_symbol *s)
{
    static const char *const runtime_prefixes[] = {"__asan_", "__ubsan_", "__sanitizer_",
                                                   "__lsan_", "__tsan_", "__msan_"};
    if (is_c_runtime_file(s->file))
        return 1;
    for (size_t i = 0; i < sizeof runtime_prefixes / sizeof runtime_prefixes[0]; i++)
        if (strncmp(s->name, runtime_prefixes[i], strlen(runtime_prefixes[i])) == 0)
            return 1;
    return 0;
}

static void provider_clear(struct provider *p)
{
    free(p->names);
    free(p->text);
    kx_elf_close(p->elf);
    memset(p, 0, sizeof *p);
}

static kx_status load_symbol_set(struct provider *p, const char *set)
{
    if (strcmp(set, C_RUNTIME_SET) == 0) {
        p->is_c_runtime = 1;
        return STATUS_SUCCESS;
    }
    for (size_t i = 0; i < sizeof symbol_sets / sizeof symbol_sets[0]; i++) {
        if (strcmp(set, symbol_sets[i].name) != 0)
            continue;
        size_t len = *symbol_sets[i].len;
        if (!(p->text = malloc(len + 1)))
            return STATUS_INSUFFICIENT_RESOURCES;
        memcpy(p->text, symbol_sets[i].data, len);
        p->text[len] = '\0';
        size_t cap = 16;
        if (!(p->names = malloc(cap * sizeof *p->names)))
            return STATUS_INSUFFICIENT_RESOURCES;
        for (char *save = NULL, *line = strtok_r(p->text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            if (!*line || *line == '#')
                continue;
            if (p->n_names == cap) {
                char **nn = realloc(p->names, (cap *= 2) * sizeof *nn);
                if (!nn)
                    return STATUS_INSUFFICIENT_RESOURCES;
                p->names = nn;
            }
            p->names[p->n_names++] = line;
        }
        qsort(p->names, p->n_names, sizeof *p->names, compare_str);
        return STATUS_SUCCESS;
    }
    return STATUS_SUCCESS; /* an unknown set exports nothing */
}

static const char *exec_path(kx_link_exec_fn fn, void *arg, struct kx_kext *k)
{
    return fn ? fn(arg, k) : kx_kext_executable(k);
}

/* What library `lib` offers to link against. */
static kx_status provider_init(struct provider *p, struct kx_kext *lib, kx_link_exec_fn exec,
                               void *exec_arg)
{
    memset(p, 0, sizeof *p);
    p->kext = lib;
    const char *set = kx_plist_string(kx_kext_info(lib), "KXSymbolSet", NULL);
    if (set)
        return load_symbol_set(p, set);
    const char *exe = exec_path(exec, exec_arg, lib);
    if (!exe)
        return STATUS_SUCCESS; /* codeless: nothing to bind to */
    struct kx_elf_dynsyms syms;
    kx_status st = kx_elf_open(exe, &p->elf, NULL, 0);
    if (st == STATUS_SUCCESS)
        st = kx_elf_dynsyms(p->elf, &syms, NULL, 0);
    if (st != STATUS_SUCCESS)
        return STATUS_SUCCESS; /* the library's own validation reports its executable */
    if (syms.n_exports && !(p->names = malloc(syms.n_exports * sizeof *p->names))) {
        kx_elf_dynsyms_free(&syms);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    for (size_t i = 0; i < syms.n_exports; i++)
        p->names[p->n_names++] = (char *)syms.exports[i].name; /* owned by p->elf */
    kx_elf_dynsyms_free(&syms);
    qsort(p->names, p->n_names, sizeof *p->names, compare_str);
    return STATUS_SUCCESS;
}

static int provides(const struct provider *p, const struct kx_elf_symbol *s)
{
    if (p->is_c_runtime)
        return is_c_runtime_import(s);
    const char *key = s->name;
    return p->n_names && bsearch(&key, p->names, p->n_names, sizeof *p->names, compare_str);
}

/* The executable's imports and DT_NEEDED names; close *elf when done. */
static kx_status open_imports(const char *exe, struct kx_elf **elf, struct kx_elf_dynsyms *syms,
                              const char ***needed, size_t *n_needed)
{
    const char *soname;
    kx_status st = kx_elf_open(exe, elf, NULL, 0);
    if (st == STATUS_SUCCESS)
        st = kx_elf_dynsyms(*elf, syms, NULL, 0);
    if (st == STATUS_SUCCESS)
        st = kx_elf_dynamic(*elf, needed, n_needed, &soname, NULL, 0);
    return st;
}

kx_status kx_link_check(struct kx_kext *k, struct kx_kext *const *libs, size_t n_libs,
                        kx_link_exec_fn exec, void *exec_arg, struct kx_diags *diags)
{
    const char *exe = exec_path(exec, exec_arg, k);
    if (!exe)
        return STATUS_SUCCESS;
    const char *path = kx_kext_path(k);
    struct provider *ps = calloc(n_libs ? n_libs : 1, sizeof *ps);
    struct kx_elf *elf = NULL;
    struct kx_elf_dynsyms syms = {0};
    const char **needed = NULL;
    size_t n_needed = 0, n_ready = 0;
    kx_status st = ps ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    for (; st == STATUS_SUCCESS && n_ready < n_libs; n_ready++)
        st = provider_init(&ps[n_ready], libs[n_ready], exec, exec_arg);
    if (st == STATUS_SUCCESS)
        st = open_imports(exe, &elf, &syms, &needed, &n_needed);
    if (st != STATUS_SUCCESS) {
        if (st != STATUS_INSUFFICIENT_RESOURCES)
            kx_diags_add(diags, KX_D_EXECUTABLE_BAD, path, exe, NULL);
        goto done;
    }

    int failed = 0;
    for (size_t i = 0; i < syms.n_imports; i++) {
        const struct kx_elf_symbol *s = &syms.imports[i];
        int found = s->bind == 2 /* STB_WEAK: may stay unresolved */;
        for (size_t j = 0; j < n_libs && !found; j++)
            found = provides(&ps[j], s);
        if (!found) {
            failed = 1;
            kx_diags_add(diags, KX_D_UNRESOLVED_SYMBOLS, path, s->name, "%s",
                         is_c_runtime_import(s) ? "a C library symbol: declare org.kx.kpi.libc"
                                                : "no declared library exports it");
        }
    }
    /* DT_NEEDED must name the C runtime or a declared library's SONAME (its
     * bundle identifier): anything else would make the dynamic linker look
     * for an undeclared library on disk. */
    for (size_t i = 0; i < n_needed; i++) {
        int ok = is_c_runtime_file(needed[i]);
        for (size_t j = 0; j < n_libs && !ok; j++)
            ok = kx_kext_id(libs[j]) && strcmp(kx_kext_id(libs[j]), needed[i]) == 0;
        if (!ok) {
            failed = 1;
            kx_diags_add(diags, KX_D_EXECUTABLE_BAD, path, needed[i],
                         "DT_NEEDED names a library that is not a declared OSBundleLibraries "
                         "entry");
        }
    }
    st = failed ? STATUS_KEXT_LINK_FAILED : STATUS_SUCCESS;
done:
    free(needed);
    kx_elf_dynsyms_free(&syms);
    kx_elf_close(elf);
    for (size_t i = 0; ps && i < n_ready; i++)
        provider_clear(&ps[i]);
    free(ps);
    return st;
}

static int compare_use(const void *a, const void *b)
{
    const struct kx_link_use *x = a, *y = b;
    return strcmp(kx_kext_id(x->lib), kx_kext_id(y->lib));
}

static kx_status push_name(char ***v, size_t *n, const char *name)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return STATUS_INSUFFICIENT_RESOURCES;
    *v = nv;
    if (!(nv[*n] = strdup(name)))
        return STATUS_INSUFFICIENT_RESOURCES;
    (*n)++;
    return STATUS_SUCCESS;
}

kx_status kx_link_find_libraries(struct kx_kext_repo *repo, struct kx_kext *k,
                                 struct kx_link_report *out)
{
    memset(out, 0, sizeof *out);
    if (!kx_kext_executable(k))
        return STATUS_SUCCESS;
    /* Every library in the repository is a candidate: the highest version of
     * each identifier, as a fresh request would get. */
    size_t n_kexts = kx_kext_repo_count(repo), n_ps = 0;
    struct provider *ps = calloc(n_kexts ? n_kexts : 1, sizeof *ps);
    struct kx_elf *elf = NULL;
    struct kx_elf_dynsyms syms = {0};
    const char **needed = NULL;
    size_t n_needed = 0;
    kx_status st = ps ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; st == STATUS_SUCCESS && i < n_kexts; i++) {
        struct kx_kext *lib = kx_kext_repo_kext(repo, i);
        if (lib == k || !kx_kext_is_library(lib) || !kx_kext_id(lib) ||
            kx_kext_repo_lookup(repo, kx_kext_id(lib), KX_VERS_INVALID) != lib)
            continue;
        if ((st = provider_init(&ps[n_ps], lib, NULL, NULL)) == STATUS_SUCCESS)
            n_ps++;
    }
    if (st == STATUS_SUCCESS)
        st = open_imports(kx_kext_executable(k), &elf, &syms, &needed, &n_needed);
    size_t *counts = st == STATUS_SUCCESS ? calloc(n_ps ? n_ps : 1, sizeof *counts) : NULL;
    if (st == STATUS_SUCCESS && !counts)
        st = STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; st == STATUS_SUCCESS && i < syms.n_imports; i++) {
        const struct kx_elf_symbol *s = &syms.imports[i];
        size_t hits = 0;
        for (size_t j = 0; j < n_ps; j++)
            if (provides(&ps[j], s)) {
                counts[j]++;
                hits++;
            }
        if (hits == 1)
            out->n_unique++;
        else if (hits == 0 && s->bind != 2)
            st = push_name(&out->missing, &out->n_missing, s->name);
        else if (hits > 1)
            st = push_name(&out->multiple, &out->n_multiple, s->name);
    }
    for (size_t j = 0; st == STATUS_SUCCESS && j < n_ps; j++) {
        if (!counts[j])
            continue;
        struct kx_link_use *nu = realloc(out->uses, (out->n_uses + 1) * sizeof *nu);
        if (!nu) {
            st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        out->uses = nu;
        out->uses[out->n_uses++] = (struct kx_link_use){ps[j].kext, counts[j]};
    }
    if (out->n_uses)
        qsort(out->uses, out->n_uses, sizeof *out->uses, compare_use);
    free(counts);
    free(needed);
    kx_elf_dynsyms_free(&syms);
    kx_elf_close(elf);
    for (size_t i = 0; i < n_ps; i++)
        provider_clear(&ps[i]);
    free(ps);
    if (st != STATUS_SUCCESS)
        kx_link_report_free(out);
    return st;
}

void kx_link_report_free(struct kx_link_report *r)
{
    for (size_t i = 0; i < r->n_missing; i++)
        free(r->missing[i]);
    for (size_t i = 0; i < r->n_multiple; i++)
        free(r->multiple[i]);
    free(r->missing);
    free(r->multiple);
    free(r->uses);
    memset(r, 0, sizeof *r);
}
