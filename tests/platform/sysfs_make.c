/* sysfs_make — writes sysfs_fixture.h's machine into a new folder under DIR and prints its
 * path, for the shell tests of the CLI. */
#include "sysfs_fixture.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2 || setenv("TMPDIR", argv[1], 1) != 0) {
        fprintf(stderr, "usage: sysfs_make DIR\n");
        return 2;
    }
    char *root = sfx_new();
    sfx_machine(root);
    printf("%s\n", root);
    free(root);
    return 0;
}
