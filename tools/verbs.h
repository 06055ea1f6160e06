/* verbs.h — the kx verbs and the Apple tool names that alias them.
 * Adding a verb: one KX_VERB line here and tools/cmd_<verb>.c. */
#ifndef KX_TOOLS_VERBS_H
#define KX_TOOLS_VERBS_H

/* XX(verb, one-line help) */
#define KX_VERBS(XX)                                                          \
    XX(check, "validate, authenticate and resolve kexts: would they load?")     \
    XX(vers, "print canonical forms of 'vers' version strings, or compare two")

/* XX(alias, verb): argv[0] names that run a verb directly. */
#define KX_ALIASES(XX) \
    XX(kextutil, check)

#define KX_VERB_DECL(verb, help) int kx_cmd_##verb(int argc, char **argv);
KX_VERBS(KX_VERB_DECL)
#undef KX_VERB_DECL

#endif
