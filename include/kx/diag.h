/* kx/diag.h — diagnostics: every problem kx finds in a kext, as a value.
 *
 * A diagnostic has a category (Apple's five kextutil headings), a stable kx
 * code ("KX3002"), Apple's message text where Apple has one (so a user can
 * search for it), a subject (the plist key, library ID or file it is about),
 * an optional detail (kx's explanation: the version window, the cycle path)
 * and the file it was found in. Checks collect every diagnostic in one pass;
 * identical diagnostics are stored once.
 */
#ifndef KX_DIAG_H
#define KX_DIAG_H

#include <kx/status.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

typedef struct json_t json_t; /* jansson */

enum kx_diag_category {
    KX_DIAG_VALIDATION,     /* "Validation Failures" */
    KX_DIAG_AUTHENTICATION, /* "Authentication Failures" */
    KX_DIAG_DEPENDENCY,     /* "Dependency Resolution Failures" */
    KX_DIAG_WARNING,        /* "Warnings" */
    KX_DIAG_BOOT_LEVEL,     /* "Boot Level Restrictions" */
    KX_DIAG_N_CATEGORIES
};

/* XX(id, code, category, message). Codes never change meaning and are never
 * reused; new diagnostics take the next free number of their group. Messages
 * in quotes are Apple's (IOKitUser OSKext.c) unless marked "kx:" in the comment. */
#define KX_DIAG_MAP(XX)                                                                                 \
    /* Validation failures */                                                                           \
    XX(KX_D_BUNDLE_OPEN, "KX1001", VALIDATION, "Failed to open CFBundle (unknown error).")              \
    XX(KX_D_PLIST_PARSE, "KX1002", VALIDATION, "Can't parse info dictionary XML")                       \
    XX(KX_D_MISSING_PROPERTY, "KX1003", VALIDATION, "Info dictionary missing required property/value")  \
    XX(KX_D_SYSTEM_KEXT_PROPERTY, "KX1004", VALIDATION,                                                 \
       "A system kext has a property set that it shouldn't")                                            \
    XX(KX_D_ILLEGAL_TYPE, "KX1005", VALIDATION, "Info dictionary property value is of illegal type")    \
    XX(KX_D_ILLEGAL_VALUE, "KX1006", VALIDATION, "Info dictionary property value is illegal")           \
    XX(KX_D_STRING_TOO_LONG, "KX1007", VALIDATION,                                                      \
       "CFBundleIdentifier and CFBundleVersion must be < 64 characters.")                               \
    XX(KX_D_EXECUTABLE_MISSING, "KX1008", VALIDATION,                                                   \
       "Kext has a CFBundleExecutable property but the executable can't be found")                      \
    XX(KX_D_COMPAT_ABOVE_CURRENT, "KX1009", VALIDATION,                                                 \
       "Compatible version must be lower than current version.")                                        \
    XX(KX_D_EXECUTABLE_BAD, "KX1010", VALIDATION,                                                       \
       "Executable file doesn't contain kernel extension code (no driver-info record or bad ELF "       \
       "layout).")                                                                                      \
    XX(KX_D_DRIVER_INFO_VERSION, "KX1011", VALIDATION,                                                  \
       "Driver-info record version doesn't match CFBundleVersion.") /* kx: seed's 2-place rule */       \
    XX(KX_D_UNEXPANDED_VARIABLE, "KX1012", VALIDATION,                                                  \
       "Info dictionary property value contains an unexpanded build variable") /* kx */                 \
    XX(KX_D_DRIVERKIT_REQUIRED, "KX1013", VALIDATION,                                                   \
       "Kexts may not use the DriverKit value for OSBundleRequired.")                                   \
    XX(KX_D_NOT_UTF8, "KX1014", VALIDATION, "Info dictionary string is not valid UTF-8") /* kx */       \
    XX(KX_D_NO_EXECUTABLE_HERE, "KX1015", VALIDATION,                                                   \
       "Executable does not contain code for this architecture.") /* kx: KX4009's kext, to load */      \
    /* Authentication failures */                                                                       \
    XX(KX_D_OWNER_PERMISSIONS, "KX2001", AUTHENTICATION,                                                \
       "File owner/permissions are incorrect (must be root:wheel, nonwritable by group/other)")         \
    XX(KX_D_FILE_NOT_FOUND, "KX2002", AUTHENTICATION, "File not found")                                 \
    XX(KX_D_SYMLINK_OUTSIDE, "KX2003", AUTHENTICATION,                                                  \
       "Symbolic link points outside of the kext bundle") /* kx: Apple's is fatal too */                \
    XX(KX_D_SYMLINK_OUTSIDE_FOLDER, "KX2004", AUTHENTICATION,                                           \
       "Symbolic link points outside of the extensions folder") /* kx: KX2003, for the bundle */        \
    /* Dependency resolution failures */                                                                \
    XX(KX_D_NO_KEXTS_FOUND, "KX3001", DEPENDENCY, "No kexts found for these libraries")                 \
    XX(KX_D_ONLY_INCOMPATIBLE, "KX3002", DEPENDENCY, "Only incompatible kexts found for these libraries") \
    XX(KX_D_LACK_COMPATIBLE_VERSION, "KX3003", DEPENDENCY,                                              \
       "Kexts found for these libraries lack valid OSBundleCompatibleVersion")                          \
    XX(KX_D_LOADED_INCOMPATIBLE, "KX3004", DEPENDENCY,                                                  \
       "Kexts already loaded for these libraries are not compatible with the requested version")        \
    XX(KX_D_LOADED_NO_COMPATIBLE, "KX3005", DEPENDENCY,                                                 \
       "Kexts already loaded for these libraries have no OSBundleCompatibleVersion")                    \
    XX(KX_D_INDIRECT, "KX3006", DEPENDENCY, "Indirect dependencies can't be resolved")                  \
    XX(KX_D_MULTIPLE_IN_GRAPH, "KX3007", DEPENDENCY,                                                    \
       "Multiple kexts for these libraries occur in the dependency graph")                              \
    XX(KX_D_CIRCULAR, "KX3008", DEPENDENCY, "Some dependencies are causing circular references")        \
    XX(KX_D_DEPS_INVALID, "KX3009", DEPENDENCY, "Dependencies have validation problems")                 \
    XX(KX_D_DEPS_INAUTHENTIC, "KX3010", DEPENDENCY, "Dependencies have incorrect owner/permissions")     \
    XX(KX_D_RAW_KERNEL, "KX3011", DEPENDENCY,                                                           \
       "Kexts may not link against com.apple.kernel; use either com.apple.kpi.* libraries "             \
       "(recommended), or com.apple.kernel.* (for compatiblity with older releases).")                  \
    XX(KX_D_MIXED_KPI_KERNEL, "KX3012", DEPENDENCY,                                                     \
       "Kexts should declare dependencies on either com.apple.kernel* or com.apple.kpi.* libraries, "   \
       "not both.")                                                                                     \
    XX(KX_D_64BIT_KERNEL_LIBS, "KX3013", DEPENDENCY,                                                    \
       "64-bit kexts must use com.apple.kpi.* libraries, not com.apple.kernel* libraries.")             \
    XX(KX_D_PRIVATE_KPI, "KX3014", DEPENDENCY, "Only Apple kexts may link against com.apple.kpi.private.") \
    XX(KX_D_INTERFACE_ONE_DEP, "KX3015", DEPENDENCY, "Interface kext must have exactly one dependency.") \
    XX(KX_D_UNRESOLVED_SYMBOLS, "KX3016", DEPENDENCY,                                                   \
       "The following symbols are unresolved for this kext:")                                           \
    /* Warnings */                                                                                      \
    XX(KX_D_NO_KPI, "KX4001", WARNING,                                                                  \
       "Kext declares no com.apple.kpi.* libraries; if it references any kernel symbols, it may fail "  \
       "to link.")                                                                                      \
    XX(KX_D_CODELESS_WITH_LIBRARIES, "KX4002", WARNING,                                                 \
       "Kext has no executable or compatible version, so it should not declare any "                    \
       "OSBundleLibraries.")                                                                            \
    XX(KX_D_DEPRECATED_PROPERTY, "KX4003", WARNING, "Deprecated property (will be ignored)")            \
    XX(KX_D_REQUIRED_INCONSISTENT, "KX4004", WARNING,                                                   \
       "Dependency lacks appropriate value for OSBundleRequired and may not be available during early " \
       "boot")                                                                                          \
    XX(KX_D_PERSONALITY_NO_BUNDLE_ID, "KX4005", WARNING,                                                \
       "Personality has no CFBundleIdentifier; the kext's identifier will be inserted when sending "    \
       "personalities to the kernel.")                                                                  \
    XX(KX_D_PERSONALITY_OTHER_BUNDLE_ID, "KX4006", WARNING,                                             \
       "Personality CFBundleIdentifier differs from containing kext's (not necessarily a mistake, but " \
       "rarely done)")                                                                                  \
    XX(KX_D_IORESOURCES_CATEGORY, "KX4007", WARNING,                                                    \
       "Personality matches on IOResources but IOMatchCategory is missing or not equal to its "        \
       "IOClass; driver may be blocked from matching or may block others")                             \
    XX(KX_D_SYMLINK_BOOTER, "KX4008", WARNING,                                                          \
       "The booter does not recognize symbolic links; confirm that symbolic links in the kext bundle "  \
       "are not required for booting.")                                                                 \
    XX(KX_D_FOREIGN_EXECUTABLE, "KX4009", WARNING,                                                      \
       "Executable is not an ELF object for this machine; it was skipped.") /* kx */                    \
    XX(KX_D_DUPLICATE_ID, "KX4010", WARNING,                                                            \
       "Several kexts have this bundle identifier; one was chosen.") /* kx */                           \
    XX(KX_D_NOT_USER_LOADABLE, "KX4011", WARNING,                                                       \
       "Kext can't be loaded by a non-root user (OSBundleAllowUserLoad is not true for every kext "     \
       "in its load list).") /* kx */                                                                   \
    XX(KX_D_DEBUG_PROPERTIES, "KX4012", WARNING, "Notice: kext has debug properties set.")              \
    XX(KX_D_INCORRECT_TYPE, "KX4013", WARNING, "Info dictionary property value is of incorrect type")   \
    /* kx: KX1012 in a key whose value Apple doesn't validate */                                        \
    XX(KX_D_UNEXPANDED_VARIABLE_WARNING, "KX4014", WARNING,                                             \
       "Info dictionary property value contains an unexpanded build variable")                          \
    XX(KX_D_WHOLE_KERNEL, "KX4015", WARNING,                                                            \
       "Kext depends on com.apple.kernel, the kernel as a whole; any incompatible kernel change will "  \
       "stop it loading. Declare the com.apple.kernel.* subcomponents it uses.") /* kx: the seed */    \
    /* Boot level restrictions */                                                                       \
    XX(KX_D_NOT_SAFE_BOOT, "KX5001", BOOT_LEVEL, "Kext isn't loadable during safe boot.")               \
    XX(KX_D_DEPS_NOT_SAFE_BOOT, "KX5002", BOOT_LEVEL, "Dependencies aren't loadable during safe boot")

enum kx_diag_code {
#define KX_DIAG_ENUM(id, code, cat, msg) id,
    KX_DIAG_MAP(KX_DIAG_ENUM)
#undef KX_DIAG_ENUM
        KX_D_N_CODES
};

struct kx_diag {
    enum kx_diag_code code;
    char *subject; /* key, library ID, symbol or file the message is about; may be NULL */
    char *detail;  /* kx's explanation; may be NULL */
    char *file;    /* file the problem was found in; may be NULL */
};

/* A growable, de-duplicated list. Zero-initialise (KX_DIAGS_INIT) before use. */
struct kx_diags {
    struct kx_diag *items;
    size_t n_items;
    size_t cap;
};
#define KX_DIAGS_INIT {NULL, 0, 0}

KX_API const char *kx_diag_code_string(enum kx_diag_code code); /* "KX3002" */
KX_API const char *kx_diag_message(enum kx_diag_code code);
KX_API enum kx_diag_category kx_diag_category_of(enum kx_diag_code code);
KX_API const char *kx_diag_category_name(enum kx_diag_category cat); /* "Warnings" */
/* Short machine name for JSON: "validation", "authentication", "dependency",
 * "warning", "boot-level". */
KX_API const char *kx_diag_category_key(enum kx_diag_category cat);

/* Adds one diagnostic (copies subject and file; detail is printf-formatted,
 * NULL for none). Duplicates (same code, subject, detail, file) are dropped.
 * Returns STATUS_INSUFFICIENT_RESOURCES only when memory runs out. */
KX_API kx_status kx_diags_add(struct kx_diags *d, enum kx_diag_code code, const char *file,
                              const char *subject, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));
KX_API kx_status kx_diags_addv(struct kx_diags *d, enum kx_diag_code code, const char *file,
                               const char *subject, const char *detail_fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Appends copies of every diagnostic of src. */
KX_API kx_status kx_diags_merge(struct kx_diags *dst, const struct kx_diags *src);

/* Number of diagnostics in a category; and of those that make a kext
 * unloadable (every category but warnings). */
KX_API size_t kx_diags_count(const struct kx_diags *d, enum kx_diag_category cat);
KX_API size_t kx_diags_count_errors(const struct kx_diags *d);

/* The first diagnostic outside Warnings (one that makes a kext unloadable), or NULL. Borrowed. */
KX_API const struct kx_diag *kx_diags_first_failure(const struct kx_diags *d);

/* One diagnostic as one line, "KX3001 No kexts found for these libraries: com.x.lib: requested
 * 1.0" (code, message, then subject and detail when set): the form a boot plan, the kext cache
 * and the kernel's log give a kext's reason in. malloc'ed; NULL when memory runs out. */
KX_API char *kx_diag_line(const struct kx_diag *d);

/* kextutil-style report: "Diagnostics for PATH:" then one block per category. */
KX_API void kx_diags_print(const struct kx_diags *d, const char *path, FILE *out);

/* JSON array of {"category","code","message","subject","detail","file"}; bytes that aren't
 * UTF-8 (file names, quotes of broken plists) become U+FFFD. A new reference. */
KX_API json_t *kx_diags_to_json(const struct kx_diags *d);

KX_API void kx_diags_clear(struct kx_diags *d);

#endif /* KX_DIAG_H */
