/* regcli.h — what the registry verbs share: a registry from --platform, --linux or --sysfs,
 * or the running kxd's; a catalogue and a repository from --extensions; a kext's loadability
 * for reports; and kxd's own reports. */
#ifndef KX_TOOLS_REGCLI_H
#define KX_TOOLS_REGCLI_H

#include <kx/client.h>
#include <kx/kext.h>
#include <kx/registry.h>

#include <jansson.h>

#include <stddef.h>

#define REGCLI_MAX_FOLDERS 64

struct regcli {
    struct kx_classes *classes;
    struct kx_reg *reg;
    struct kx_catalog *cat;
    struct kx_kext_repo *repo;
    const char *socket; /* kxd's (--socket); NULL: $KX_SOCKET, else the default */
};

/* The class table; 0, or 1 with the reason printed. Always called first. */
int regcli_init(const char *prog, struct regcli *c);
/* Where the registry's devices come from: --platform FILE|linux|none, --linux (the host's
 * /sys), --sysfs DIR (a fake or copied tree; implies --linux). */
struct regcli_source {
    const char *platform; /* a platform file, "linux", "none" or NULL */
    const char *sysfs;    /* a sysfs root, or NULL */
};

/* The getopt_long options every registry verb takes for its source, with the values
 * regcli_source_option handles. */
#define REGCLI_SOURCE_OPTIONS                                                                      \
    {"platform", required_argument, NULL, 'P'}, {"linux", no_argument, NULL, 'L'},                 \
    {                                                                                              \
        "sysfs", required_argument, NULL, 'S'                                                      \
    }
#define REGCLI_SOURCE_USAGE "--platform FILE|linux|none | --linux | --sysfs DIR"
/* Takes option c ('P', 'L', 'S'); 1 when it was one of them. */
int regcli_source_option(struct regcli_source *s, int c, const char *arg);

/* A registry with the source published: a platform file, the Linux devices of a sysfs tree
 * (devices left out are named on stderr), or nothing but Root, the platform expert and
 * IOResources ("none"); without a source, a copy of the running kxd's (c->socket), with its
 * ids and states. 0, 1 with the reason printed, or KX_EXIT_USAGE when a platform file and a
 * sysfs tree are both given. */
int regcli_registry(const char *prog, const struct regcli_source *src, struct regcli *c);
/* A repository of the folders (the build tree's extensions when none are given) and a
 * catalogue of every personality in it. opts may be NULL; catalog_flags are
 * KX_CATALOG_*. Problems found in personalities are printed on stderr. */
int regcli_catalog(const char *prog, const char *const *dirs, size_t n_dirs,
                   const struct kx_kext_options *opts, unsigned catalog_flags, struct regcli *c);
/* kx_match_loadable_fn over c's repository (ctx is c). */
int regcli_loadable(void *ctx, const char *bundle_id, char **reason);
/* One of kxd's JSON reports (get: kx_client_catalog, kx_client_match_report), or NULL with
 * the reason printed. malloc'ed. */
char *regcli_kxd_json(const char *prog, const char *socket, const char *what,
                      kx_status (*get)(kx_client *, char **));
/* Shows a JSON report (text: malloc'ed and taken; NULL when its reason was printed): as
 * indented JSON with json set, else through print. Returns the tool's exit code. */
int regcli_show_json(const char *prog, const char *what, char *text, int json,
                     void (*print)(json_t *root));
void regcli_free(struct regcli *c);

#endif
