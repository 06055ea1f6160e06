/* status.c — names and messages of kx_status, generated from KX_STATUS_MAP. */
#include <kx/status.h>
#include <stdio.h>

const char *kx_status_name(kx_status status)
{
    static _Thread_local char unknown[32];
    switch (status) {
#define KX_STATUS_CASE(name, value, msg) \
    case name:                           \
        return #name;
        KX_STATUS_MAP(KX_STATUS_CASE)
#undef KX_STATUS_CASE
    }
    snprintf(unknown, sizeof unknown, "STATUS_%d", (int)status);
    return unknown;
}

const char *kx_status_string(kx_status status)
{
    switch (status) {
#define KX_STATUS_CASE(name, value, msg) \
    case name:                           \
        return msg;
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
    default:
        return 0;
    }
}
