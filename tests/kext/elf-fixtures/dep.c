/* dep.c — a library the driver fixture needs (DT_NEEDED libkxfix_dep.so.1). */
__attribute__((visibility("default"))) int kxfix_dep_fn(int x)
{
    return x + 1;
}
