/* lua_kext.c — see lua_kext.h. */
#include "lua_kext.h"

#include "server/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    ok &= fclose(f) == 0;
    chmod(path, 0644);
    return ok ? 0 : -1;
}

char *lua_kext_make(const char *dir, const char *name, const char *file, const char *version,
                    const char *script)
{
    char path[1024], kext[900];
    snprintf(kext, sizeof kext, "%s/%s.kext", dir, name);
    const char *dirs[] = {"", "/Contents", "/Contents/Linux"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", kext, dirs[i]);
        mkdir(path, 0755);
        chmod(path, 0755);
    }
    char plist[2048];
    snprintf(plist, sizeof plist,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
             "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
             "<plist version=\"1.0\"><dict>\n"
             "<key>CFBundleExecutable</key><string>%s</string>\n"
             "<key>CFBundleIdentifier</key><string>org.kx.test.%s</string>\n"
             "<key>CFBundleInfoDictionaryVersion</key><string>6.0</string>\n"
             "<key>CFBundleName</key><string>%s</string>\n"
             "<key>CFBundlePackageType</key><string>KEXT</string>\n"
             "<key>CFBundleVersion</key><string>%s</string>\n"
             "<key>OSBundleLibraries</key><dict>"
             "<key>org.kx.kpi.kmdf</key><string>1.0</string></dict>\n"
             "</dict></plist>\n",
             file, name, name, version);
    snprintf(path, sizeof path, "%s/Contents/Info.plist", kext);
    if (write_text(path, plist) != 0)
        return NULL;
    snprintf(path, sizeof path, "%s/Contents/Linux/%s", kext, file);
    if (write_text(path, script) != 0)
        return NULL;
    return strdup(kext);
}

char *lua_seed_null(void)
{
    const char *shared = getenv("KX_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/seeds/axisos-kmdf-api-and-null-driver.md",
             shared ? shared : "../shared");
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *head = NULL;
    for (const char *p = text; (p = strstr(p, "File: `/drivers/null.sys.lua`")); p++)
        head = p;
    const char *open = head ? strstr(head, "```lua\n") : NULL;
    const char *close = open ? strstr(open + 7, "\n```") : NULL;
    if (!close)
        return NULL;
    return strndup(open + 7, (size_t)(close - open - 7) + 1);
}

int lua_in_order(const char *text, const char *const *needles, size_t n)
{
    const char *at = text;
    for (size_t i = 0; i < n; i++) {
        const char *hit = at ? strstr(at, needles[i]) : NULL;
        if (!hit) {
            fprintf(stderr, "not found in order: %s\n", needles[i]);
            return 0;
        }
        at = hit + strlen(needles[i]);
    }
    return 1;
}

kx_status lua_kext_load(kx_client *c, const char *kext)
{
    kx_status st = kx_client_load(c, kext, 0);
    if (st != STATUS_SUCCESS)
        fprintf(stderr, "load %s: %s\n%s\n", kext, kx_status_name(st), kx_client_message(c));
    return st;
}

static int setup_mode(void **state, const char *mode)
{
    const char *args[] = {"--host-mode", mode, NULL};
    return kxd_setup_args(state, args);
}

int lua_setup_host(void **state)
{
    return setup_mode(state, "process");
}

int lua_setup_inproc(void **state)
{
    return setup_mode(state, "inproc");
}

char *lua_kernel_log(const struct kxd_proc *p)
{
    char *out = NULL;
    kxd_run(&out, "KX_SOCKET=%s ./kx log", p->socket);
    return out;
}
