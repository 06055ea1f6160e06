/* fuzz_kext_read.c — libFuzzer target for the kext reader: Info.plist bytes (XML or
 * binary) through parsing, §7.1 validation, a repository and resolution, then every
 * report (text and JSON). Any input must give diagnostics, never a crash or a leak.
 *
 * The bytes are read in memory (kx_kext_from_info_plist), which is the same parsing and
 * validation kx_kext_read runs on Contents/Info.plist, without a file per iteration.
 */
#include <kx/kext.h>

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kx_kext_options o = KX_KEXT_OPTIONS_INIT;
    struct kx_kext_repo *r = NULL;
    struct kx_kext *k = NULL;
    struct kx_kext_resolution *res = NULL;
    o.flags = KX_KEXT_NO_EXEC | KX_KEXT_NO_AUTH | KX_KEXT_SAFE_BOOT;

    if (kx_kext_repo_new(&o, &r) != STATUS_SUCCESS)
        return 0;
    if (kx_kext_from_info_plist(data, size, "fuzz.kext", &o, &k) != STATUS_SUCCESS ||
        kx_kext_repo_adopt(r, k) != STATUS_SUCCESS)
        goto out;
    if (kx_kext_resolve(r, k, &res) == STATUS_SUCCESS) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (f) {
            kx_diags_print(kx_kext_resolution_diags(res), kx_kext_path(k), f);
            fclose(f);
        }
        free(text);
        json_decref(kx_kext_resolution_to_json(res));
        kx_kext_resolution_free(res);
    }
    size_t n = 0;
    kx_kext_repo_resolve_all(r, &n);
out:
    kx_kext_repo_free(r);
    return 0;
}
