/* future.c — a driver-info record from a "newer" build: the v1 fields followed
 * by fields this kx does not know yet; size says how long it is. */
#include <kx/driver_info.h>

struct future_info {
    struct kx_driver_info v1;
    unsigned long long extra[2];
};

__attribute__((section(KX_DRIVER_INFO_SECTION), used,
               aligned(8))) static const struct future_info kx_driver_info_record = {
    {KX_DRIVER_INFO_MAGIC, KX_DRIVER_INFO_ABI, sizeof(struct future_info), DRIVER_TYPE_CMD, -5, 0,
     "KxFixFuture", "2.0b1"},
    {1, 2}};

__attribute__((visibility("default"))) int kxfix_future_fn(void)
{
    return 7;
}
