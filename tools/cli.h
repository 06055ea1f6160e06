/* cli.h — small helpers shared by the kx verbs. */
#ifndef KX_TOOLS_CLI_H
#define KX_TOOLS_CLI_H

#include <kx/client.h>
#include <kx/status.h>
#include <stdint.h>

/* Exit codes shared by every verb. */
enum { KX_EXIT_OK = 0, KX_EXIT_FAIL = 1, KX_EXIT_USAGE = 2 };

/* Parses a decimal or 0x-hex unsigned number; 0 on success. */
int kx_cli_parse_u64(const char *s, uint64_t *out);

/* Connects to kxd (socket: explicit, else $KX_SOCKET, else the default);
 * prints why not and returns NULL on failure. */
kx_client *kx_cli_connect(const char *prog, const char *socket_path);

/* "prog: subject: STATUS_X (message)" on stderr, with kxd's explanation
 * when it sent one. */
void kx_cli_report(const char *prog, const char *subject, kx_status st, kx_client *c);

/* A kext argument as kxd should see it: a bundle identifier unchanged, a
 * relative path made absolute against this process's working folder (kxd's
 * is not the user's). malloc'ed; NULL when out of memory. */
char *kx_cli_kext_arg(const char *arg);

#endif
