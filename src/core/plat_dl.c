/* plat_dl.c — dlopen, dlsym and the mapped extent of a loaded object. */
#include "plat_dl.h"

#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

kx_status kx_plat_dl_open(const char *path, void **handle, char **why)
{
    *why = NULL;
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*handle)
        return STATUS_SUCCESS;
    const char *msg = dlerror();
    *why = strdup(msg ? msg : "dlopen failed");
    return STATUS_KEXT_LINK_FAILED;
}

void *kx_plat_dl_sym(void *handle, const char *name)
{
    return handle ? dlsym(handle, name) : NULL;
}

void kx_plat_dl_close(void *handle)
{
    if (handle)
        dlclose(handle);
}

struct extent {
    uintptr_t base;
    uint64_t lo, hi;
    int found;
};

static int visit(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct extent *e = arg;
    if (info->dlpi_addr != e->base)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!e->found || lo < e->lo)
            e->lo = lo;
        if (!e->found || hi > e->hi)
            e->hi = hi;
        e->found = 1;
    }
    return e->found;
}

kx_status kx_plat_dl_extent(void *handle, uint64_t *address, uint64_t *size)
{
    struct link_map *lm = NULL;
    *address = *size = 0;
    if (!handle || dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
        return STATUS_INVALID_PARAMETER;
    struct extent e = {lm->l_addr, 0, 0, 0};
    dl_iterate_phdr(visit, &e);
    if (!e.found)
        return STATUS_NO_SUCH_FILE;
    *address = e.lo;
    *size = e.hi - e.lo;
    return STATUS_SUCCESS;
}
