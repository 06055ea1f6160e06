/* kx.c — the multi-call front end: `kx VERB ...`, or an Apple tool name as
 * argv[0] (kextload, kextstat, ...), dispatched through the table in verbs.h.
 *
 * `--version` as the first argument is answered here, the same way for kx,
 * every verb and every alias ("kextstat (kx) 0.1.0"), so no verb can forget
 * it; each verb answers its own `--help`. */
#include "verbs.h"

#include <stdio.h>
#include <string.h>

struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct verb verbs[] = {
#define KX_VERB_ROW(verb, help) {#verb, kx_cmd_##verb, help},
    KX_VERBS(KX_VERB_ROW)
#undef KX_VERB_ROW
};

static const struct {
    const char *alias;
    const char *verb;
} aliases[] = {
#define KX_ALIAS_ROW(alias, verb) {#alias, #verb},
    KX_ALIASES(KX_ALIAS_ROW)
#undef KX_ALIAS_ROW
    {NULL, NULL}};

static const struct verb *find_verb(const char *name)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

static int usage(FILE *out)
{
    fprintf(out, "usage: kx VERB [ARGS...]\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(out, "  %-8s %s\n", verbs[i].name, verbs[i].help);
    fprintf(out, "\nRun `kx VERB --help` for a verb's options; `--version` prints kx's version.\n");
    return out == stdout ? 0 : 2;
}

/* "kx VERSION", "kx VERB VERSION" or "ALIAS (kx) VERSION" when the first argument asks for
 * it; -1 otherwise. */
static int version(const char *verb, const char *alias, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--version") != 0)
        return -1;
    if (alias)
        printf("%s (kx) %s\n", alias, KX_VERSION_STRING);
    else
        printf("kx%s%s %s\n", verb ? " " : "", verb ? verb : "", KX_VERSION_STRING);
    return 0;
}

int main(int argc, char **argv)
{
    const char *self = strrchr(argv[0], '/');
    self = self ? self + 1 : argv[0];
    int rc;

    for (size_t i = 0; aliases[i].alias; i++)
        if (strcmp(self, aliases[i].alias) == 0)
            return (rc = version(NULL, self, argc, argv)) >= 0
                       ? rc
                       : find_verb(aliases[i].verb)->fn(argc, argv);
    if ((rc = version(NULL, NULL, argc, argv)) >= 0)
        return rc;

    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout);
    const struct verb *v = find_verb(argv[1]);
    if (!v) {
        fprintf(stderr, "kx: unknown verb '%s'\n", argv[1]);
        return usage(stderr);
    }
    if ((rc = version(argv[1], NULL, argc - 1, argv + 1)) >= 0)
        return rc;
    return v->fn(argc - 1, argv + 1);
}
