/* cmd_vers.c — `kx vers`: canonical forms and comparison of 'vers' strings. */
#include "verbs.h"

#include <kx/vers.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: kx vers [--json] [VERSION...]\n"
                 "       kx vers --compare A B\n"
                 "With no VERSION, reads one version per line from standard input.\n"
                 "Prints each canonical form, or `invalid`.\n");
}

static void emit(const char *input, int as_json, json_t *arr)
{
    char buf[KX_VERS_FORMAT_MAX];
    kx_vers v = kx_vers_parse(input);
    if (as_json) {
        json_array_append_new(arr, json_pack("{s:s, s:b, s:s?}", "input", input, "valid",
                                             v != KX_VERS_INVALID, "canonical",
                                             v == KX_VERS_INVALID ? NULL : kx_vers_format(v, buf, sizeof buf)));
    } else {
        puts(v == KX_VERS_INVALID ? "invalid" : kx_vers_format(v, buf, sizeof buf));
    }
}

static int compare(const char *a, const char *b)
{
    kx_vers va = kx_vers_parse(a), vb = kx_vers_parse(b);
    if (va == KX_VERS_INVALID || vb == KX_VERS_INVALID) {
        fprintf(stderr, "kx vers: invalid version: %s\n", va == KX_VERS_INVALID ? a : b);
        return 2;
    }
    int c = kx_vers_compare(va, vb);
    puts(c < 0 ? "<" : c > 0 ? ">" : "=");
    return 0;
}

int kx_cmd_vers(int argc, char **argv)
{
    static const struct option opts[] = {
        {"compare", no_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int do_compare = 0, as_json = 0, c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': do_compare = 1; break;
        case 'j': as_json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (do_compare) {
        if (argc - optind != 2) {
            usage(stderr);
            return 2;
        }
        return compare(argv[optind], argv[optind + 1]);
    }

    json_t *arr = as_json ? json_array() : NULL;
    if (optind < argc) {
        for (int i = optind; i < argc; i++)
            emit(argv[i], as_json, arr);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            if (n > 0 && line[n - 1] == '\n')
                line[n - 1] = '\0';
            emit(line, as_json, arr);
        }
        free(line);
    }
    if (as_json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(arr);
    }
    return 0;
}
