/* test_io_samples.c — the sample kexts as built in build/extensions, loaded
 * the way a loader will: library kexts first (RTLD_NOW | RTLD_LOCAL), their
 * dependents bound to them by soname, the driver-info record read from the
 * ELF file without running code, DriverEntry found with dlsym. Then each
 * driver's observable behaviour, and the KPI export list. */
#include "io_test.h"

#include "core/plist.h"
#include "io/host.h"

#include "../../drivers/Pipe/pipe.h"
#include "../../drivers/RamDisk/ramdisk.h"
#include "../../drivers/RingLog/ringlog.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <gelf.h>
#include <stdlib.h>
#include <unistd.h>

enum { K_RINGBUFFER, K_NULL, K_ZERO, K_RINGLOG, K_RAMDISK, K_PIPE, K_N };
static const char *const kext_names[K_N] = {"RingBuffer", "Null", "Zero",
                                            "RingLog",    "RamDisk", "Pipe"};

struct kext {
    char bundle[512], exe[512];
    void *dl;
    kx_io_entry_fn entry;
    struct kx_driver_info info;
};

/* Test fixture, loaded once for the group. */
static struct kext kexts[K_N];
static int library_was_required; /* RingLog refused to load before RingBuffer */

static int read_record(const char *path, struct kx_driver_info *out)
{
    int found = 0, fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    size_t shstr;
    if (e && elf_getshdrstrndx(e, &shstr) == 0) {
        for (Elf_Scn *s = NULL; (s = elf_nextscn(e, s));) {
            GElf_Shdr sh;
            gelf_getshdr(s, &sh);
            const char *name = elf_strptr(e, shstr, sh.sh_name);
            Elf_Data *d = name && strcmp(name, KX_DRIVER_INFO_SECTION) == 0 ? elf_getdata(s, NULL)
                                                                            : NULL;
            if (d && d->d_size >= sizeof *out) {
                memcpy(out, d->d_buf, sizeof *out);
                found = 1;
            }
        }
    }
    elf_end(e);
    close(fd);
    return found;
}

static int group_setup(void **state)
{
    (void)state;
    const char *b = getenv("KX_BUILD_DIR");
    if (!b)
        return -1;
    for (int i = 0; i < K_N; i++) {
        snprintf(kexts[i].bundle, sizeof kexts[i].bundle, "%s/extensions/%s.kext", b,
                 kext_names[i]);
        snprintf(kexts[i].exe, sizeof kexts[i].exe, "%s/Contents/Linux/%s", kexts[i].bundle,
                 kext_names[i]);
    }
    /* A dependent cannot load before its library: there is no search path. */
    void *early = dlopen(kexts[K_RINGLOG].exe, RTLD_NOW | RTLD_LOCAL);
    library_was_required = early == NULL && strstr(dlerror(), "org.kx.library.RingBuffer");
    if (early)
        dlclose(early);
    for (int i = 0; i < K_N; i++) {
        if (!(kexts[i].dl = dlopen(kexts[i].exe, RTLD_NOW | RTLD_LOCAL))) {
            fprintf(stderr, "dlopen %s: %s\n", kexts[i].exe, dlerror());
            return -1;
        }
        if (i == K_RINGBUFFER)
            continue; /* a library: no DriverEntry, no record */
        void *sym = dlsym(kexts[i].dl, "DriverEntry");
        memcpy(&kexts[i].entry, &sym, sizeof sym);
        if (!kexts[i].entry || !read_record(kexts[i].exe, &kexts[i].info))
            return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = K_N; i-- > 0;)
        if (kexts[i].dl)
            dlclose(kexts[i].dl);
    return 0;
}

static kx_io_driver_id start(struct kx_io *io, int k)
{
    struct kx_io_driver_params p = {sizeof p, &kexts[k].info, kexts[k].entry, NULL, 0, NULL, NULL, 0, 0};
    kx_io_driver_id id = 0;
    assert_int_equal(kx_io_driver_start(io, &p, &id), STATUS_SUCCESS);
    return id;
}

static int log_has(struct kx_io *io, const char *text)
{
    struct kx_io_log_line *lines = calloc(64, sizeof *lines);
    size_t n = kx_io_log_read(io, 0, lines, 64);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= strcmp(lines[i].text, text) == 0;
    free(lines);
    return found;
}

static void test_bundles_and_records_agree(void **state)
{
    (void)state;
    assert_true(library_was_required);
    for (int i = 0; i < K_N; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/Contents/Info.plist", kexts[i].bundle);
        plist_t pl = NULL;
        const char *why = NULL;
        assert_int_equal(kx_plist_read_file(path, &pl, &why), STATUS_SUCCESS);
        assert_string_equal(kx_plist_string(pl, "CFBundleExecutable", NULL), kext_names[i]);
        assert_string_equal(kx_plist_string(pl, "CFBundlePackageType", NULL), "KEXT");
        plist_t libs = kx_plist_get(pl, "OSBundleLibraries");
        assert_string_equal(kx_plist_string(libs, "org.kx.kpi.libc", NULL), "1.0");
        if (i == K_RINGBUFFER) {
            assert_string_equal(kx_plist_string(pl, "CFBundleIdentifier", NULL),
                                "org.kx.library.RingBuffer");
            assert_string_equal(kx_plist_string(pl, "OSBundleCompatibleVersion", NULL), "1.0");
        } else {
            /* One source of truth: the record says what the plist says. */
            assert_string_equal(kx_plist_string(pl, "CFBundleVersion", NULL),
                                kexts[i].info.version);
            assert_string_equal(kexts[i].info.name, kext_names[i]);
            assert_string_equal(kx_plist_string(libs, "org.kx.kpi.kmdf", NULL), "1.0");
        }
        if (i == K_RINGLOG || i == K_PIPE)
            assert_non_null(kx_plist_string(libs, "org.kx.library.RingBuffer", NULL));
        plist_free(pl);
    }
}

static void test_exports_list_is_the_kpi_table_and_covers_every_driver(void **state)
{
    (void)state;
    char path[600], line[128];
    snprintf(path, sizeof path, "%s/data/exports/kmdf.exports", getenv("KX_SOURCE_DIR"));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = 0;
    char names[64][64];
    while (n < 64 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(names[n++], sizeof names[0], "%s", line);
    }
    fclose(f);
    size_t k = 0;
    for (; kx__kmdf_symbols[k].name; k++) {
        int listed = 0;
        for (size_t i = 0; i < n; i++)
            listed |= strcmp(names[i], kx__kmdf_symbols[k].name) == 0;
        if (!listed)
            fail_msg("%s is in the KPI table but not in kmdf.exports", kx__kmdf_symbols[k].name);
        /* and the running executable really exports it to drivers */
        assert_non_null(dlsym(RTLD_DEFAULT, kx__kmdf_symbols[k].name));
    }
    assert_int_equal(k, n);
    /* Every Dk* a sample driver imports is on the list. */
    for (int d = K_NULL; d < K_N; d++) {
        int fd = open(kexts[d].exe, O_RDONLY);
        Elf *e = elf_begin(fd, ELF_C_READ, NULL);
        for (Elf_Scn *s = NULL; (s = elf_nextscn(e, s));) {
            GElf_Shdr sh;
            gelf_getshdr(s, &sh);
            if (sh.sh_type != SHT_DYNSYM)
                continue;
            Elf_Data *data = elf_getdata(s, NULL);
            for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
                GElf_Sym sym;
                gelf_getsym(data, (int)i, &sym);
                const char *name = elf_strptr(e, sh.sh_link, sym.st_name);
                if (sym.st_shndx != SHN_UNDEF || strncmp(name, "Dk", 2) != 0)
                    continue;
                int listed = 0;
                for (size_t j = 0; j < n; j++)
                    listed |= strcmp(names[j], name) == 0;
                if (!listed)
                    fail_msg("%s imports %s, which kmdf.exports does not list", kext_names[d],
                             name);
            }
        }
        elf_end(e);
        close(fd);
    }
}

static void test_null_is_the_seed_dev_null(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    kx_io_driver_id id = start(io, K_NULL);
    kx_io_handle h;
    assert_int_equal(
        kx_io_open(io, "/dev/null", &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
        STATUS_SUCCESS);
    size_t n = 0;
    assert_int_equal(kx_io_write(io, h, "hello", 5, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 5);
    char buf[16];
    n = 99;
    assert_int_equal(kx_io_read(io, h, buf, sizeof buf, 0, 0, &n), STATUS_END_OF_FILE);
    assert_int_equal(n, 0);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    assert_true(log_has(io, "[DK] Null DriverEntry completed successfully."));
    assert_true(log_has(io, "[DK] NULL: IRP_MJ_WRITE received, discarding 5 bytes."));
    assert_true(log_has(io, "[DK] NULL: IRP_MJ_READ received, returning EOF."));
    assert_true(log_has(io, "[DK] NULL: IRP_MJ_CLOSE received."));
    assert_int_equal(kx_io_driver_unload(io, id, 0), STATUS_SUCCESS);
    assert_true(log_has(io, "[DK] Null DriverUnload completed."));
    assert_int_equal(kx_io_open(io, "/dev/null", &t_user, 0, 0, &h), STATUS_NO_SUCH_FILE);
    kx_io_free(io);
}

static void test_zero_reads_zeros(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    start(io, K_ZERO);
    kx_io_handle h;
    assert_int_equal(
        kx_io_open(io, "/dev/zero", &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
        STATUS_SUCCESS);
    char buf[5000];
    memset(buf, 'x', sizeof buf);
    size_t n = 0;
    assert_int_equal(kx_io_read(io, h, buf, sizeof buf, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(kx_io_write(io, h, buf, 123, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 123);
    FILE_STANDARD_INFORMATION info;
    struct kx_io_req q = {.op = KX_IO_OP_QUERY_INFORMATION, .code = FileStandardInformation,
                          .out = &info, .out_len = sizeof info};
    assert_int_equal(kx_io_call(io, h, &q, &n), STATUS_SUCCESS);
    assert_int_equal(n, sizeof info);
    assert_int_equal(info.EndOfFile, 0);
    kx_io_close(io, h);
    kx_io_free(io);
}

static void test_ringlog_keeps_the_newest_bytes(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    start(io, K_RINGLOG);
    kx_io_handle h, ro;
    assert_int_equal(
        kx_io_open(io, "/dev/ringlog", &t_root, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
        STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/ringlog", &t_user, KX_IO_ACCESS_WRITE, 0, &ro),
                     STATUS_ACCESS_DENIED); /* 0644: users only read */
    assert_int_equal(kx_io_open(io, "/dev/ringlog", &t_user, KX_IO_ACCESS_READ, 0, &ro),
                     STATUS_SUCCESS);
    size_t n;
    assert_int_equal(kx_io_write(io, h, "hello ", 6, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(kx_io_write(io, h, "world", 5, 0, 0, &n), STATUS_SUCCESS);
    char buf[64] = {0};
    assert_int_equal(kx_io_read(io, ro, buf, sizeof buf, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 11);
    assert_memory_equal(buf, "hello world", 11);
    /* Reads do not consume; offsets work; the end is an end. */
    assert_int_equal(kx_io_read(io, ro, buf, sizeof buf, 6, 0, &n), STATUS_SUCCESS);
    assert_memory_equal(buf, "world", 5);
    assert_int_equal(kx_io_read(io, ro, buf, sizeof buf, 11, 0, &n), STATUS_END_OF_FILE);
    struct ringlog_info info;
    assert_int_equal(kx_io_ioctl(io, ro, IOCTL_RINGLOG_GET_INFO, NULL, 0, &info, sizeof info, 0,
                                 &n),
                     STATUS_SUCCESS);
    assert_int_equal(info.used, 11);
    assert_int_equal(info.capacity, RINGLOG_DEFAULT_SIZE);
    assert_int_equal(kx_io_ioctl(io, ro, IOCTL_RINGLOG_GET_INFO, NULL, 0, &info, 4, 0, &n),
                     STATUS_BUFFER_TOO_SMALL);
    /* Clearing and resizing need write access, checked by the manager. */
    assert_int_equal(kx_io_ioctl(io, ro, IOCTL_RINGLOG_CLEAR, NULL, 0, NULL, 0, 0, NULL),
                     STATUS_ACCESS_DENIED);
    uint32_t size = 5;
    assert_int_equal(kx_io_ioctl(io, h, IOCTL_RINGLOG_RESIZE, &size, sizeof size, NULL, 0, 0,
                                 NULL),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_read(io, ro, buf, sizeof buf, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "world", 5); /* the newest bytes survive the trim */
    assert_int_equal(kx_io_write(io, h, "123", 3, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(kx_io_read(io, ro, buf, sizeof buf, 0, 0, &n), STATUS_SUCCESS);
    assert_memory_equal(buf, "ld123", 5);
    size = 0;
    assert_int_equal(kx_io_ioctl(io, h, IOCTL_RINGLOG_RESIZE, &size, sizeof size, NULL, 0, 0,
                                 NULL),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_io_ioctl(io, h, IOCTL_RINGLOG_CLEAR, NULL, 0, NULL, 0, 0, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_read(io, ro, buf, sizeof buf, 0, 0, &n), STATUS_END_OF_FILE);
    kx_io_close(io, h);
    kx_io_close(io, ro);
    kx_io_free(io);
}

static void test_ramdisk_is_sector_addressed(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    start(io, K_RAMDISK);
    const struct kx_io_cred disk_user = {7, 1000, 6};
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/ram0", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_ACCESS_DENIED); /* root:disk 0660 */
    assert_int_equal(
        kx_io_open(io, "/dev/ram0", &disk_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
        STATUS_SUCCESS);
    static unsigned char sector[RAMDISK_SECTOR_SIZE * 2], back[RAMDISK_SECTOR_SIZE * 2];
    for (size_t i = 0; i < sizeof sector; i++)
        sector[i] = (unsigned char)(i * 7);
    size_t n;
    assert_int_equal(kx_io_write(io, h, sector, sizeof sector, 3 * RAMDISK_SECTOR_SIZE, 0, &n),
                     STATUS_SUCCESS);
    assert_int_equal(n, sizeof sector);
    assert_int_equal(kx_io_read(io, h, back, RAMDISK_SECTOR_SIZE, 4 * RAMDISK_SECTOR_SIZE, 0, &n),
                     STATUS_SUCCESS);
    assert_memory_equal(back, sector + RAMDISK_SECTOR_SIZE, RAMDISK_SECTOR_SIZE);
    assert_int_equal(kx_io_read(io, h, back, RAMDISK_SECTOR_SIZE, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(back[0], 0); /* untouched sectors read as zeros */
    /* Whole sectors only; the end is an end; spans are clipped. */
    assert_int_equal(kx_io_read(io, h, back, 100, 0, 0, &n), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_io_write(io, h, sector, RAMDISK_SECTOR_SIZE, 100, 0, &n),
                     STATUS_INVALID_PARAMETER);
    uint64_t end = (uint64_t)RAMDISK_SECTOR_SIZE * RAMDISK_SECTOR_COUNT;
    assert_int_equal(kx_io_read(io, h, back, RAMDISK_SECTOR_SIZE, end, 0, &n), STATUS_END_OF_FILE);
    assert_int_equal(kx_io_read(io, h, back, sizeof back, end - RAMDISK_SECTOR_SIZE, 0, &n),
                     STATUS_SUCCESS);
    assert_int_equal(n, RAMDISK_SECTOR_SIZE);
    struct ramdisk_geometry g;
    assert_int_equal(kx_io_ioctl(io, h, IOCTL_RAMDISK_GET_GEOMETRY, NULL, 0, &g, sizeof g, 0, &n),
                     STATUS_SUCCESS);
    assert_int_equal(n, sizeof g);
    assert_int_equal(g.bytes_per_sector, RAMDISK_SECTOR_SIZE);
    assert_int_equal(g.sector_count, RAMDISK_SECTOR_COUNT);
    assert_int_equal(g.disk_size, end);
    FILE_STANDARD_INFORMATION info;
    struct kx_io_req q = {.op = KX_IO_OP_QUERY_INFORMATION, .code = FileStandardInformation,
                          .out = &info, .out_len = sizeof info};
    assert_int_equal(kx_io_call(io, h, &q, &n), STATUS_SUCCESS);
    assert_int_equal(info.EndOfFile, (int64_t)end);
    struct kx_io_req flush = {.op = KX_IO_OP_FLUSH};
    assert_int_equal(kx_io_call(io, h, &flush, NULL), STATUS_SUCCESS);
    kx_io_close(io, h);
    kx_io_free(io);
}

struct got {
    atomic_int n;
    atomic_int status;
    atomic_size_t info;
};

static void got_done(void *arg, kx_status st, size_t info)
{
    struct got *g = arg;
    atomic_store(&g->status, st);
    atomic_store(&g->info, info);
    atomic_fetch_add(&g->n, 1);
}

static int wait_got(struct got *g)
{
    T_WAIT_FOR(atomic_load(&g->n));
    return atomic_load(&g->n);
}

static struct pipe_info pipe_info(struct kx_io *io, kx_io_handle h)
{
    struct pipe_info pi;
    assert_int_equal(kx_io_ioctl(io, h, IOCTL_PIPE_GET_INFO, NULL, 0, &pi, sizeof pi, 0, NULL),
                     STATUS_SUCCESS);
    return pi;
}

static void test_pipe_read_pends_until_a_write(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    start(io, K_PIPE);
    kx_io_handle r, w;
    assert_int_equal(kx_io_open(io, "/dev/pipe0", &t_user, KX_IO_ACCESS_READ, 0, &r),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/pipe0", &t_user, KX_IO_ACCESS_WRITE, 0, &w),
                     STATUS_SUCCESS);
    assert_int_equal(pipe_info(io, r).opens, 2);
    char a[8] = {0}, b[8] = {0};
    struct got ga = {0}, gb = {0};
    struct kx_io_req ra = {.op = KX_IO_OP_READ, .out = a, .out_len = 3, .done = got_done,
                           .arg = &ga};
    struct kx_io_req rb = {.op = KX_IO_OP_READ, .out = b, .out_len = 8, .done = got_done,
                           .arg = &gb};
    assert_int_equal(kx_io_submit(io, r, &ra, 1), STATUS_SUCCESS);
    assert_int_equal(kx_io_submit(io, r, &rb, 1), STATUS_SUCCESS);
    T_WAIT_FOR(pipe_info(io, w).pending_reads == 2);
    assert_int_equal(pipe_info(io, w).pending_reads, 2); /* nothing to read: both pend */
    assert_int_equal(atomic_load(&ga.n), 0);
    size_t n;
    assert_int_equal(kx_io_write(io, w, "abcdef", 6, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 6);
    assert_true(wait_got(&ga) && wait_got(&gb));
    /* First come, first served. */
    assert_int_equal(atomic_load(&ga.info), 3);
    assert_memory_equal(a, "abc", 3);
    assert_int_equal(atomic_load(&gb.info), 3);
    assert_memory_equal(b, "def", 3);
    /* Data waiting is read at once. */
    assert_int_equal(kx_io_write(io, w, "xyz", 3, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(kx_io_read(io, r, a, sizeof a, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 3);
    assert_memory_equal(a, "xyz", 3);
    kx_io_close(io, r);
    kx_io_close(io, w);
    kx_io_free(io);
}

static void test_pipe_deadline_and_close_lose_no_data(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    start(io, K_PIPE);
    kx_io_handle r, w;
    assert_int_equal(kx_io_open(io, "/dev/pipe0", &t_user, KX_IO_ACCESS_READ, 0, &r),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/pipe0", &t_user, KX_IO_ACCESS_WRITE, 0, &w),
                     STATUS_SUCCESS);
    char buf[8] = {0};
    size_t n;
    assert_int_equal(kx_io_read(io, r, buf, sizeof buf, 0, 50, &n), STATUS_TIMEOUT);
    /* The timed-out read was withdrawn from the pipe (its cancel routine ran),
     * so the next write is kept for the next reader, not handed to a ghost. */
    T_WAIT_FOR(pipe_info(io, w).pending_reads == 0);
    assert_int_equal(pipe_info(io, w).pending_reads, 0);
    assert_int_equal(kx_io_write(io, w, "kept", 4, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(kx_io_read(io, r, buf, sizeof buf, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "kept", 4);
    /* Closing the reader cancels its pending read. */
    struct got g = {0};
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out = buf, .out_len = 8,
                           .timeout_ms = KX_IO_TIMEOUT_NONE, .done = got_done, .arg = &g};
    assert_int_equal(kx_io_submit(io, r, &rd, 1), STATUS_SUCCESS);
    T_WAIT_FOR(pipe_info(io, w).pending_reads == 1);
    assert_int_equal(pipe_info(io, w).pending_reads, 1); /* pending when the close comes */
    assert_int_equal(kx_io_close(io, r), STATUS_SUCCESS);
    assert_int_equal(atomic_load(&g.n), 1);
    assert_int_equal(atomic_load(&g.status), STATUS_CANCELLED);
    struct pipe_info pi = pipe_info(io, w);
    assert_int_equal(pi.pending_reads, 0);
    assert_int_equal(pi.opens, 1); /* the reader's CLOSE arrived */
    kx_io_close(io, w);
    kx_io_free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundles_and_records_agree),
        cmocka_unit_test(test_exports_list_is_the_kpi_table_and_covers_every_driver),
        cmocka_unit_test(test_null_is_the_seed_dev_null),
        cmocka_unit_test(test_zero_reads_zeros),
        cmocka_unit_test(test_ringlog_keeps_the_newest_bytes),
        cmocka_unit_test(test_ramdisk_is_sector_addressed),
        cmocka_unit_test(test_pipe_read_pends_until_a_write),
        cmocka_unit_test(test_pipe_deadline_and_close_lose_no_data),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
