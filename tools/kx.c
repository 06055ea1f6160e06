/* kx.c — the multi-call front end: `kx VERB ...`, or an Apple tool name as
 * argv[0] (kextload, kextstat, ...), dispatched through the table in verbs.h. */
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
    fprintf(out, "\nRun `kx VERB --help` for a verb's options.\n");
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    const char *self = strrchr(argv[0], '/');
    self = self ? self + 1 : argv[0];

    for (size_t i = 0; aliases[i].alias; i++)
        if (strcmp(self, aliases[i].alias) == 0)
            return find_verb(aliases[i].verb)->fn(argc, argv);

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
    return v->fn(argc - 1, argv + 1);
}
