/* devpolicy.c — parsing kxd's device policy file (format in devpolicy.h). */
#include "devpolicy.h"

#include "core/plat.h"
#include "core/plat_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POLICY_BYTES ((size_t)1 << 20)

static kx_status parse_line(char *line, struct kx_io_device_rule *r, const char **why)
{
    char *save = NULL, *field[5];
    int n = 0;
    for (char *t = strtok_r(line, " \t\r", &save); t && n < 5; t = strtok_r(NULL, " \t\r", &save))
        field[n++] = t;
    if (n != 4) {
        *why = "expected PATTERN OWNER GROUP MODE";
        return STATUS_DATA_ERROR;
    }
    if (strlen(field[0]) >= sizeof r->pattern) {
        *why = "pattern too long";
        return STATUS_DATA_ERROR;
    }
    snprintf(r->pattern, sizeof r->pattern, "%s", field[0]);
    if (kx_plat_user_id(field[1], &r->uid) != STATUS_SUCCESS) {
        *why = "unknown user";
        return STATUS_DATA_ERROR;
    }
    if (kx_plat_group_id(field[2], &r->gid) != STATUS_SUCCESS) {
        *why = "unknown group";
        return STATUS_DATA_ERROR;
    }
    char *end;
    unsigned long mode = strtoul(field[3], &end, 8);
    if (*end || !*field[3] || mode > 0777) {
        *why = "mode must be octal, at most 0777";
        return STATUS_DATA_ERROR;
    }
    r->mode = (uint32_t)mode;
    return STATUS_SUCCESS;
}

kx_status kx_srv_device_policy_read(const char *path, struct kx_io_device_rule **rules, size_t *n,
                                    char **why)
{
    void *data;
    size_t len;
    *rules = NULL;
    *n = 0;
    *why = NULL;
    kx_status st = kx_plat_read_file(path, MAX_POLICY_BYTES, &data, &len);
    if (st != STATUS_SUCCESS) {
        if (asprintf(why, "%s: %s", path, kx_status_string(st)) < 0)
            *why = NULL;
        return st;
    }
    struct kx_io_device_rule *v = NULL;
    size_t count = 0, line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line && st == STATUS_SUCCESS;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        if (strspn(line, " \t\r") == strlen(line))
            continue;
        struct kx_io_device_rule *nv = realloc(v, (count + 1) * sizeof *nv);
        if (!nv) {
            st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        v = nv;
        const char *reason = NULL;
        if ((st = parse_line(line, &v[count], &reason)) == STATUS_SUCCESS)
            count++;
        else if (asprintf(why, "%s:%zu: %s", path, line_no, reason) < 0)
            *why = NULL;
    }
    free(data);
    if (st != STATUS_SUCCESS) {
        free(v);
        return st;
    }
    *rules = v;
    *n = count;
    return STATUS_SUCCESS;
}
