/* status.c — names and messages of kx_status, generated from KX_STATUS_MAP. */
#include <kx/status.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kx_status_name(kx_status status)
{
    static _Thread_local char unknown[32];
    switch (status) {
#define KX_STATUS_CASE(name, value, msg)                                                           \
    case name: return #name;
        KX_STATUS_MAP(KX_STATUS_CASE)
#undef KX_STATUS_CASE
    }
    snprintf(unknown, sizeof unknown, "STATUS_%d", (int)status);
    return unknown;
}

const char *kx_status_string(kx_status status)
{
    switch (status) {
#define KX_STATUS_CASE(name, value, msg)                                                           \
    case name: return msg;
        KX_STATUS_MAP(KX_STATUS_CASE)
#undef KX_STATUS_CASE
    }
    return "unknown status";
}

int kx_status_is_known(int32_t status)
{
    switch (status) {
#define KX_STATUS_CASE(name, value, msg) case value:
        KX_STATUS_MAP(KX_STATUS_CASE)
#undef KX_STATUS_CASE
        return 1;
    default: return 0;
    }
}

int32_t kx_status_from_name(const char *text)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end != text && !*end)
        return v >= INT32_MIN && v <= INT32_MAX && kx_status_is_known((int32_t)v) ? (int32_t)v : -1;
    if (!strncmp(text, "STATUS_", 7))
        text += 7;
#define KX_STATUS_NAMED(name, value, msg)                                                          \
    if (!strcmp(text, &#name[7]))                                                                  \
        return value;
    KX_STATUS_MAP(KX_STATUS_NAMED)
#undef KX_STATUS_NAMED
    return -1;
}
