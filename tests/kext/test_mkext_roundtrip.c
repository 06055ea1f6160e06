/* test_mkext_roundtrip.c — what the mkext writers put in, the reader gives
 * back: header fields, info dictionaries with their _MKEXT and _KX keys,
 * executables (compressed or stored), cache info; mkext1 too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mkext_samples.h"

#include "core/plist.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

static struct kx_mkext *write_and_read(const struct kx_mkext_input *in, size_t n,
                                       const struct kx_mkext_write_options *opts, int v1)
{
    void *a = NULL;
    size_t len = 0;
    char why[512] = "";
    kx_status st = v1 ? kx_mkext1_write(in, n, opts, &a, &len, why, sizeof why)
                      : kx_mkext_write(in, n, opts, &a, &len, why, sizeof why);
    if (st != STATUS_SUCCESS)
        fail_msg("write: %s: %s", kx_status_name(st), why);
    struct kx_mkext *m = NULL;
    st = kx_mkext_read(a, len, 0, &m, why, sizeof why);
    if (st != STATUS_SUCCESS)
        fail_msg("read: %s: %s", kx_status_name(st), why);
    assert_int_equal(m->header.length, len);
    free(a);
    return m;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    assert_true(EVP_Digest(p, n, md, &md_len, EVP_sha256(), NULL));
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_mkext2_round_trips_entries(void **state)
{
    (void)state;
    struct samples s;
    samples_init(&s, 20000, 5000);
    struct kx_mkext *m = write_and_read(s.in, 3, NULL, 0);

    assert_int_equal(m->format, 2);
    assert_int_equal(m->header.magic, KX_MKEXT_MAGIC);
    assert_int_equal(m->header.signature, KX_MKEXT_SIGNATURE);
    assert_int_equal(m->header.version, 0x02002001u);
    assert_int_equal(m->header.n_kexts, 3);
    assert_int_equal(m->header.cpu_type, 0x01000007u); /* this machine: x86_64 */
    assert_int_equal(m->header.cpu_subtype, kx_mkext_host_cpu_subtype());
    assert_true(m->header.plist_offset >= KX_MKEXT2_HEADER_LEN);
    assert_int_equal(m->n_entries, 3);
    assert_int_equal(m->n_bad, 0);

    const struct kx_mkext_entry *e = &m->entries[0];
    assert_int_equal(e->status, STATUS_SUCCESS);
    assert_null(e->message);
    assert_string_equal(e->bundle_id, "com.example.text");
    assert_string_equal(e->bundle_version, "1.0.0");
    assert_string_equal(e->bundle_path, "/Library/Extensions/Text.kext");
    assert_string_equal(e->executable_path, "Contents/MacOS/Text");
    assert_true(e->has_executable);
    assert_true(e->executable_compressed);
    assert_true(e->executable_stored_len < s.text_len / 10);
    assert_int_equal(e->executable_len, s.text_len);
    assert_memory_equal(e->executable, s.text, s.text_len);
    assert_true(e->executable_sha256_checked);
    char hex[65];
    sha256_hex(s.in[0].info_plist, s.in[0].info_plist_len, hex);
    assert_string_equal(e->info_plist_sha256, hex);
    sha256_hex(s.text, s.text_len, hex);
    assert_string_equal(kx_plist_string(e->info, KX_MKEXT_KEY_EXECUTABLE_SHA256, NULL), hex);
    /* the info dictionary keeps the kext's own keys */
    assert_string_equal(kx_plist_string(e->info, "CFBundleExecutable", NULL), "Exec");

    e = &m->entries[1];
    assert_int_equal(e->status, STATUS_SUCCESS);
    assert_string_equal(e->bundle_version, "2.1b3");
    assert_false(e->executable_compressed); /* noise: stored, compression did not help */
    assert_int_equal(e->executable_stored_len, s.noise_len);
    assert_memory_equal(e->executable, s.noise, s.noise_len);
    assert_true(e->executable_sha256_checked);

    e = &m->entries[2];
    assert_int_equal(e->status, STATUS_SUCCESS);
    assert_string_equal(e->bundle_id, "com.example.codeless");
    assert_false(e->has_executable);
    assert_null(e->executable);
    assert_null(e->executable_path);
    assert_null(kx_plist_get(e->info, KX_MKEXT_KEY_EXECUTABLE));

    assert_non_null(m->cache_info);
    assert_string_equal(kx_plist_string(m->cache_info, KX_MKEXT_CACHE_BUILDER_VERSION, NULL),
                        KX_MKEXT_BUILDER_VERSION);
    kx_mkext_free(m);
    samples_free(&s);
}

static void test_mkext2_empty_archive_round_trips(void **state)
{
    (void)state;
    struct kx_mkext *m = write_and_read(NULL, 0, NULL, 0);
    assert_int_equal(m->n_entries, 0);
    assert_int_equal(m->header.n_kexts, 0);
    kx_mkext_free(m);
}

static void test_mkext2_takes_parsed_dicts_and_cache_info(void **state)
{
    (void)state;
    plist_t info = plist_new_dict();
    plist_dict_set_item(info, "CFBundleIdentifier", plist_new_string("com.example.dict"));
    plist_dict_set_item(info, "CFBundleVersion", plist_new_string("4.0"));
    /* stale archive keys from a dictionary taken out of another archive */
    plist_dict_set_item(info, KX_MKEXT_KEY_EXECUTABLE, plist_new_uint(12345));
    plist_dict_set_item(info, KX_MKEXT_KEY_EXECUTABLE_SHA256, plist_new_string("00"));
    plist_t ci = plist_new_dict();
    plist_t folders = plist_new_array();
    plist_array_append_item(folders, plist_new_string("/Library/Extensions"));
    plist_dict_set_item(ci, "SourceFolders", folders);
    plist_dict_set_item(ci, "ContentDigest", plist_new_string("abc123"));

    struct kx_mkext_input in = {NULL, 0, info, "/L/E/Dict.kext", NULL, NULL, 0};
    struct kx_mkext_write_options opts = {ci, 0, 0};
    struct kx_mkext *m = write_and_read(&in, 1, &opts, 0);
    assert_int_equal(m->n_bad, 0);
    const struct kx_mkext_entry *e = &m->entries[0];
    assert_string_equal(e->bundle_id, "com.example.dict");
    assert_false(e->has_executable);
    assert_null(kx_plist_get(e->info, KX_MKEXT_KEY_EXECUTABLE));
    assert_null(kx_plist_get(e->info, KX_MKEXT_KEY_EXECUTABLE_SHA256));
    assert_non_null(e->info_plist_sha256);
    assert_string_equal(kx_plist_string(m->cache_info, "ContentDigest", NULL), "abc123");
    assert_int_equal(plist_array_get_size(kx_plist_get(m->cache_info, "SourceFolders")), 1);
    assert_string_equal(kx_plist_string(m->cache_info, KX_MKEXT_CACHE_BUILDER_VERSION, NULL),
                        KX_MKEXT_BUILDER_VERSION);
    /* the caller's objects are untouched */
    assert_non_null(plist_dict_get_item(info, KX_MKEXT_KEY_EXECUTABLE));
    kx_mkext_free(m);
    plist_free(info);
    plist_free(ci);
}

static void test_mkext2_accepts_binary_info_plist(void **state)
{
    (void)state;
    plist_t info = plist_new_dict();
    plist_dict_set_item(info, "CFBundleIdentifier", plist_new_string("com.example.bin"));
    char *bin = NULL;
    uint32_t bin_len = 0;
    plist_to_bin(info, &bin, &bin_len);
    assert_non_null(bin);
    uint8_t exe[100] = {0};
    struct kx_mkext_input in = {bin, bin_len, NULL, "/L/E/Bin.kext", "Bin", exe, sizeof exe};
    struct kx_mkext *m = write_and_read(&in, 1, NULL, 0);
    assert_string_equal(m->entries[0].bundle_id, "com.example.bin");
    assert_int_equal(m->entries[0].executable_len, sizeof exe);
    kx_mkext_free(m);
    plist_to_bin_free(bin);
    plist_free(info);
}

static void test_mkext_writer_rejects_bad_input(void **state)
{
    (void)state;
    void *a = NULL;
    size_t len = 0;
    char why[512];
    static const char info[] = SAMPLE_INFO("com.example.x", "1.0");
    struct kx_mkext_input in[2] = {{info, sizeof info - 1, NULL, "/L/E/Good.kext", NULL, NULL, 0},
                                   {info, sizeof info - 1, NULL, NULL, NULL, NULL, 0}};
    assert_int_equal(kx_mkext_write(in, 2, NULL, &a, &len, why, sizeof why),
                     STATUS_INVALID_PARAMETER);
    assert_string_equal(why, "entry 1: no bundle path");
    assert_null(a);

    in[1] = (struct kx_mkext_input){"<plist><dict>", 13, NULL, "/L/E/Bad.kext", NULL, NULL, 0};
    assert_int_equal(kx_mkext_write(in, 2, NULL, &a, &len, why, sizeof why),
                     STATUS_INVALID_PARAMETER);
    assert_non_null(strstr(why, "entry 1 (/L/E/Bad.kext): Info.plist"));

    static const char array[] = "<plist><array/></plist>";
    in[1] = (struct kx_mkext_input){array, sizeof array - 1, NULL, "/L/E/Arr.kext", NULL, NULL, 0};
    assert_int_equal(kx_mkext1_write(in, 2, NULL, &a, &len, why, sizeof why),
                     STATUS_INVALID_PARAMETER);
    assert_non_null(strstr(why, "not a dictionary"));

    plist_t not_dict = plist_new_string("x");
    struct kx_mkext_write_options opts = {not_dict, 0, 0};
    assert_int_equal(kx_mkext_write(in, 1, &opts, &a, &len, why, sizeof why),
                     STATUS_INVALID_PARAMETER);
    assert_non_null(strstr(why, "_KXCacheInfo"));
    plist_free(not_dict);
}

static void test_mkext_file_round_trips_with_mode_0644(void **state)
{
    (void)state;
    struct samples s;
    samples_init(&s, 3000, 3000);
    char dir[] = "/tmp/kx-mkextXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/Extensions.mkext", dir);
    char why[512] = "";
    assert_int_equal(kx_mkext_write_file(path, s.in, 3, NULL, why, sizeof why), STATUS_SUCCESS);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    struct kx_mkext *m = NULL;
    assert_int_equal(kx_mkext_read_file(path, 0, &m, why, sizeof why), STATUS_SUCCESS);
    assert_int_equal(m->n_entries, 3);
    kx_mkext_free(m);
    unlink(path);
    rmdir(dir);
    assert_int_equal(kx_mkext_read_file(path, 0, &m, why, sizeof why), STATUS_NO_SUCH_FILE);
    assert_null(m);
    samples_free(&s);
}

static void test_mkext1_round_trips_through_lzss(void **state)
{
    (void)state;
    struct samples s;
    samples_init(&s, 20000, 5000);
    struct kx_mkext *m = write_and_read(s.in, 3, NULL, 1);
    assert_int_equal(m->format, 1);
    assert_int_equal(m->header.version, 0x01008000u);
    assert_int_equal(m->n_entries, 3);
    assert_int_equal(m->n_bad, 0);
    const struct kx_mkext_entry *e = entry_by_id(m, "com.example.text");
    assert_non_null(e);
    assert_null(e->bundle_path); /* mkext1 has none */
    assert_true(e->executable_compressed);
    assert_int_equal(e->executable_len, s.text_len);
    assert_memory_equal(e->executable, s.text, s.text_len);
    assert_false(e->executable_sha256_checked);
    e = entry_by_id(m, "com.example.noise");
    assert_non_null(e);
    assert_false(e->executable_compressed);
    assert_memory_equal(e->executable, s.noise, s.noise_len);
    e = entry_by_id(m, "com.example.codeless");
    assert_non_null(e);
    assert_false(e->has_executable);
    assert_string_equal(e->bundle_version, "3.0");
    kx_mkext_free(m);
    samples_free(&s);
}

static void test_mkext_foreign_cpu_needs_any_cpu_flag(void **state)
{
    (void)state;
    struct samples s;
    samples_init(&s, 100, 100);
    struct kx_mkext_write_options opts = {NULL, 0x0100000Cu, 2}; /* arm64e */
    void *a = NULL;
    size_t len = 0;
    char why[512] = "";
    assert_int_equal(kx_mkext_write(s.in, 3, &opts, &a, &len, why, sizeof why), STATUS_SUCCESS);
    struct kx_mkext *m = NULL;
    assert_int_equal(kx_mkext_read(a, len, 0, &m, why, sizeof why), STATUS_NOT_SUPPORTED);
    assert_non_null(strstr(why, "arm64"));
    assert_null(m);
    assert_int_equal(kx_mkext_read(a, len, KX_MKEXT_READ_ANY_CPU, &m, why, sizeof why),
                     STATUS_SUCCESS);
    assert_int_equal(m->header.cpu_type, 0x0100000Cu);
    assert_int_equal(m->header.cpu_subtype, 2);
    kx_mkext_free(m);
    free(a);
    samples_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkext2_round_trips_entries),
        cmocka_unit_test(test_mkext2_empty_archive_round_trips),
        cmocka_unit_test(test_mkext2_takes_parsed_dicts_and_cache_info),
        cmocka_unit_test(test_mkext2_accepts_binary_info_plist),
        cmocka_unit_test(test_mkext_writer_rejects_bad_input),
        cmocka_unit_test(test_mkext_file_round_trips_with_mode_0644),
        cmocka_unit_test(test_mkext1_round_trips_through_lzss),
        cmocka_unit_test(test_mkext_foreign_cpu_needs_any_cpu_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
