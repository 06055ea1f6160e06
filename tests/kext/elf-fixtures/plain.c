/* plain.c — a shared object with no driver-info record and a short build-id. */
__attribute__((visibility("default"))) int kxfix_plain_fn(int x)
{
    return x * 2;
}
