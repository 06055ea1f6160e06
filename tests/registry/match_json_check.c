/* match_json_check.c — reads `kx match --json` on stdin, checks its exact shape, and prints
 * one line per decision for test_cli_registry.sh to grep:
 *   <path> TAB <personality> TAB chosen|candidate|rejected:<key>
 * Exit 1 (with the reason on stderr) when a field is missing, extra or of the wrong type. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int bad(const char *what)
{
    fprintf(stderr, "match_json_check: %s\n", what);
    return 1;
}

/* Every key of o is in keys and every key of keys but the optional ones is in o. */
static int exact(json_t *o, const char *const *keys, size_t n, const char *const *optional)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return 0;
    json_object_foreach(o, k, v)
    {
        int known = 0;
        for (size_t i = 0; i < n; i++)
            known |= strcmp(k, keys[i]) == 0;
        for (size_t i = 0; optional && optional[i]; i++)
            known |= strcmp(k, optional[i]) == 0;
        if (!known)
            return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(o, keys[i]))
            return 0;
    return 1;
}

int main(void)
{
    static const char *const nub_keys[] = {"path", "id", "class", "name", "candidates", "rejected"};
    static const char *const cand_keys[] = {"kext",     "personality", "ioclass", "score",
                                            "category", "chosen",      "loadable"};
    static const char *const cand_optional[] = {"reason", "merge", NULL};
    static const char *const rej_keys[] = {"kext", "personality", "key", "why"};
    json_error_t err;
    json_t *root = json_loadf(stdin, 0, &err), *nubs = json_object_get(root, "nubs");
    if (!root)
        return bad(err.text);
    if (!json_is_array(nubs) || !json_is_array(json_object_get(root, "never_match")))
        return bad("no nubs or never_match array");
    size_t i, j;
    json_t *nub, *x;
    json_array_foreach(nubs, i, nub)
    {
        if (!exact(nub, nub_keys, 6, NULL) || !json_is_string(json_object_get(nub, "path")) ||
            !json_is_integer(json_object_get(nub, "id")))
            return bad("a nub's fields");
        const char *path = json_string_value(json_object_get(nub, "path"));
        json_array_foreach(json_object_get(nub, "candidates"), j, x)
        {
            json_t *cat = json_object_get(x, "category");
            if (!exact(x, cand_keys, 7, cand_optional) ||
                !json_is_integer(json_object_get(x, "score")) ||
                !json_is_boolean(json_object_get(x, "chosen")) ||
                !json_is_boolean(json_object_get(x, "loadable")) ||
                !(json_is_string(cat) || json_is_null(cat)) ||
                (json_is_false(json_object_get(x, "loadable")) &&
                 !json_is_string(json_object_get(x, "reason"))))
                return bad("a candidate's fields");
            printf("%s\t%s\t%s\n", path, json_string_value(json_object_get(x, "personality")),
                   json_is_true(json_object_get(x, "chosen")) ? "chosen" : "candidate");
        }
        json_array_foreach(json_object_get(nub, "rejected"), j, x)
        {
            if (!exact(x, rej_keys, 4, NULL))
                return bad("a rejection's fields");
            printf("%s\t%s\trejected:%s\n", path,
                   json_string_value(json_object_get(x, "personality")),
                   json_string_value(json_object_get(x, "key")));
        }
    }
    json_decref(root);
    return 0;
}
