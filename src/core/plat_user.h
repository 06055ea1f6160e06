/* plat_user.h — user and group names (the platform layer). */
#ifndef KX_CORE_PLAT_USER_H
#define KX_CORE_PLAT_USER_H

#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

/* A user or group by name, or by decimal number. STATUS_NO_SUCH_FILE when
 * the system knows no such name. */
kx_status kx_plat_user_id(const char *name, uint32_t *uid);
kx_status kx_plat_group_id(const char *name, uint32_t *gid);
/* A user's uid and primary gid by name (or decimal uid). */
kx_status kx_plat_user_ids(const char *name, uint32_t *uid, uint32_t *gid);

/* 1 when gid is uid's primary group (primary_gid, as the socket told it) or
 * one of its supplementary groups in the group database. */
int kx_plat_user_in_group(uint32_t uid, uint32_t primary_gid, uint32_t gid);

/* "user:group" for messages about who owns a file, one form everywhere:
 * the names the system knows (numbers for ids it doesn't), except that gid
 * 0 is "wheel" as on macOS, so the trusted owner 0:0 reads "root:wheel" as
 * in Apple's messages. Writes at most len bytes (NUL included) to buf. */
void kx_plat_owner_string(uint32_t uid, uint32_t gid, char *buf, size_t len);

/* The effective uid this process runs as. */
uint32_t kx_plat_self_uid(void);
/* The effective gid. */
uint32_t kx_plat_self_gid(void);

#endif /* KX_CORE_PLAT_USER_H */
