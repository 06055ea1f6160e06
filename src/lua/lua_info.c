/* lua_info.c — pre-inspection of a Lua driver: what the loader and kx
 * check learn from the script without running the driver's code.
 *
 * g_tDriverInfo: a small lexer finds the first `g_tDriverInfo = { ... }`
 * outside comments and strings, and only that table constructor is
 * evaluated, in a fresh state with no libraries, a 1 MiB memory limit and a
 * short instruction budget, where every free name stands for the constants
 * table (STATUS_*, IRP_MJ_*, DRIVER_TYPE_*): so `tDKStructs.DRIVER_TYPE_KMD`
 * means what the driver means by it, and a call means an error.
 *
 * requires: every require "name" / require("name") with a literal name must
 * be one of the host's modules.
 */
#include "lua_int.h"

#include "core/plat.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum tok { T_EOF, T_NAME, T_STRING, T_PUNCT };

struct lexer {
    const char *s;
    size_t len, pos;
    size_t start, n; /* the token (a string's contents, without quotes) */
};

/* Length of a long bracket's opening `[==[` at pos, or 0. */
static size_t long_open(const struct lexer *x, size_t pos, size_t *level)
{
    if (pos >= x->len || x->s[pos] != '[')
        return 0;
    size_t p = pos + 1;
    while (p < x->len && x->s[p] == '=')
        p++;
    if (p >= x->len || x->s[p] != '[')
        return 0;
    *level = p - pos - 1;
    return p - pos + 1;
}

/* Skips to after the `]==]` closing a long bracket of level. */
static size_t long_close(const struct lexer *x, size_t pos, size_t level)
{
    for (size_t p = pos; p < x->len; p++) {
        if (x->s[p] != ']')
            continue;
        size_t q = p + 1, eq = 0;
        while (q < x->len && x->s[q] == '=')
            q++, eq++;
        if (eq == level && q < x->len && x->s[q] == ']')
            return q + 1;
    }
    return x->len;
}

static enum tok next(struct lexer *x)
{
    for (;;) {
        while (x->pos < x->len && isspace((unsigned char)x->s[x->pos]))
            x->pos++;
        if (x->pos >= x->len)
            return T_EOF;
        if (x->pos + 1 < x->len && x->s[x->pos] == '-' && x->s[x->pos + 1] == '-') {
            size_t level, open = long_open(x, x->pos + 2, &level);
            if (open) {
                x->pos = long_close(x, x->pos + 2 + open, level);
            } else {
                while (x->pos < x->len && x->s[x->pos] != '\n')
                    x->pos++;
            }
            continue;
        }
        break;
    }
    const char *s = x->s;
    size_t p = x->pos, level, open;
    if (isalpha((unsigned char)s[p]) || s[p] == '_') {
        x->start = p;
        while (p < x->len && (isalnum((unsigned char)s[p]) || s[p] == '_'))
            p++;
        x->n = p - x->start;
        x->pos = p;
        return T_NAME;
    }
    if (s[p] == '"' || s[p] == '\'') {
        char q = s[p++];
        x->start = p;
        while (p < x->len && s[p] != q && s[p] != '\n')
            p += s[p] == '\\' ? 2 : 1;
        x->n = (p < x->len ? p : x->len) - x->start;
        x->pos = p < x->len ? p + 1 : x->len;
        return T_STRING;
    }
    if ((open = long_open(x, p, &level)) != 0) {
        x->start = p + open;
        x->pos = long_close(x, x->start, level);
        x->n = x->pos - x->start >= level + 2 ? x->pos - x->start - (level + 2) : 0;
        return T_STRING;
    }
    x->start = p;
    x->n = 1;
    /* two-character operators that contain '=' */
    if (p + 1 < x->len && s[p + 1] == '=' && strchr("=~<>", s[p]))
        x->n = 2;
    x->pos = p + x->n;
    return T_PUNCT;
}

static int is(const struct lexer *x, enum tok t, enum tok want, const char *text)
{
    return t == want && x->n == strlen(text) && memcmp(x->s + x->start, text, x->n) == 0;
}

/* Finds g_tDriverInfo's constructor: [*start, *end) spans `{ ... }`. */
static int find_info(const char *src, size_t len, size_t *start, size_t *end)
{
    struct lexer x = {src, len, 0, 0, 0};
    enum tok t;
    while ((t = next(&x)) != T_EOF) {
        if (!is(&x, t, T_NAME, "g_tDriverInfo"))
            continue;
        if (!is(&x, next(&x), T_PUNCT, "=") || !is(&x, next(&x), T_PUNCT, "{"))
            continue;
        *start = x.start;
        int depth = 1;
        while (depth && (t = next(&x)) != T_EOF) {
            depth += is(&x, t, T_PUNCT, "{");
            depth -= is(&x, t, T_PUNCT, "}");
        }
        *end = x.pos;
        return depth == 0;
    }
    return 0;
}

struct budget {
    size_t used;
    int steps;
};

static void *small_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct budget *b = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        b->used -= old;
        return NULL;
    }
    if (nsize > old && b->used - old + nsize > (1u << 20))
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        b->used = b->used - old + nsize;
    return p;
}

static void small_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    luaL_error(L, "g_tDriverInfo takes too long to evaluate");
}

static int constants_for_any_name(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    return 1;
}

static int text_field(lua_State *L, const char *key, char *out, size_t cap)
{
    int ok = lua_getfield(L, -1, key) == LUA_TSTRING && lua_rawlen(L, -1) < cap;
    if (ok)
        snprintf(out, cap, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return ok;
}

static int type_field(lua_State *L, uint32_t *type)
{
    int t = lua_getfield(L, -1, "sDriverType");
    *type = 0;
    if (t == LUA_TNUMBER && lua_isinteger(L, -1))
        *type = (uint32_t)lua_tointeger(L, -1);
    else if (t == LUA_TSTRING)
        for (uint32_t k = DRIVER_TYPE_KMD; k <= DRIVER_TYPE_CMD; k++)
            if (strcmp(lua_tostring(L, -1), kx_lua_type_text(k)) == 0)
                *type = k;
    lua_pop(L, 1);
    return kx_lua_type_text(*type) != NULL;
}

kx_status kx_lua_inspect(const char *src, size_t len, struct kx_driver_info *info, char *why,
                         size_t why_len)
{
    size_t a, b;
    if (!find_info(src, len, &a, &b)) {
        snprintf(why, why_len, "no g_tDriverInfo = { ... } table in the script");
        return STATUS_LUA_DRIVER_INFO_INVALID;
    }
    struct budget bud = {0, 0};
    lua_State *L = lua_newstate(small_alloc, &bud);
    if (!L)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = STATUS_LUA_DRIVER_INFO_INVALID;
    lua_sethook(L, small_hook, LUA_MASKCOUNT, 100000);
    luaL_Buffer code;
    luaL_buffinit(L, &code);
    luaL_addstring(&code, "return ");
    luaL_addlstring(&code, src + a, b - a);
    luaL_pushresult(&code);
    if (luaL_loadbufferx(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=g_tDriverInfo", "t") !=
        LUA_OK) {
        snprintf(why, why_len, "g_tDriverInfo: %s", lua_tostring(L, -1));
        goto out;
    }
    /* _ENV: every name is the constants table. */
    lua_createtable(L, 0, 1);
    lua_createtable(L, 0, 1);
    kx__lua_open_errcheck(L);
    kx__lua_open_structs(L);
    lua_pushnil(L);
    while (lua_next(L, -2)) { /* merge shared_structs into errcheck */
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -5);
    }
    lua_pop(L, 1);
    lua_pushcclosure(L, constants_for_any_name, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setupvalue(L, -2, 1);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        snprintf(why, why_len, "g_tDriverInfo: %s",
                 lua_isstring(L, -1) ? lua_tostring(L, -1) : "not a table");
        goto out;
    }
    memset(info, 0, sizeof *info);
    info->magic = KX_DRIVER_INFO_MAGIC;
    info->abi = KX_DRIVER_INFO_ABI;
    info->size = sizeof *info;
    if (!text_field(L, "sDriverName", info->name, sizeof info->name) || !*info->name) {
        snprintf(why, why_len, "g_tDriverInfo.sDriverName: missing, or not a string under %d bytes",
                 KX_DRIVER_INFO_TEXT_MAX);
    } else if (!text_field(L, "sVersion", info->version, sizeof info->version)) {
        snprintf(why, why_len, "g_tDriverInfo.sVersion: missing, or not a string");
    } else if (!type_field(L, &info->type)) {
        snprintf(why, why_len,
                 "g_tDriverInfo.sDriverType: not one of shared_structs' "
                 "DRIVER_TYPE_KMD, _UMD, _CMD");
    } else {
        int t = lua_getfield(L, -1, "nLoadPriority");
        if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
            info->load_priority = (int32_t)lua_tointeger(L, -1);
            st = STATUS_SUCCESS;
        } else if (t == LUA_TNIL) {
            info->load_priority = 500; /* the seed's default middle */
            st = STATUS_SUCCESS;
        } else {
            snprintf(why, why_len, "g_tDriverInfo.nLoadPriority: not an integer");
        }
    }
out:
    lua_close(L);
    return st;
}

kx_status kx_lua_check_requires(const char *src, size_t len, char *why, size_t why_len)
{
    struct lexer x = {src, len, 0, 0, 0};
    enum tok t;
    while ((t = next(&x)) != T_EOF) {
        if (!is(&x, t, T_NAME, "require"))
            continue;
        t = next(&x);
        if (is(&x, t, T_PUNCT, "("))
            t = next(&x);
        if (t != T_STRING)
            continue; /* a computed name is checked when it runs */
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(x.n < 127 ? x.n : 127), src + x.start);
        if (!kx_lua_module_known(name)) {
            snprintf(why, why_len,
                     "requires \"%s\", which the kx Lua host does not provide "
                     "(errcheck, shared_structs, kmd_api)",
                     name);
            return STATUS_LUA_MODULE_UNKNOWN;
        }
    }
    return STATUS_SUCCESS;
}

kx_status kx_lua_inspect_file(const char *path, struct kx_driver_info *info, char *why,
                              size_t why_len)
{
    void *src = NULL;
    size_t len = 0;
    kx_status st = kx_plat_read_file(path, KX_LUA_SCRIPT_MAX, &src, &len);
    if (st != STATUS_SUCCESS) {
        snprintf(why, why_len, "can't read %s: %s", path, kx_status_name(st));
        return st;
    }
    st = kx_lua_inspect(src, len, info, why, why_len);
    if (st == STATUS_SUCCESS)
        st = kx_lua_check_requires(src, len, why, why_len);
    free(src);
    return st;
}

int kx_lua_script_path(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n > 8 && strcmp(path + n - 8, ".sys.lua") == 0;
}

int kx_lua_script_file(const char *path)
{
    unsigned char head[4] = {0};
    void *src = NULL;
    size_t len = 0;
    if (kx_lua_script_path(path))
        return 1;
    if (kx_plat_read_file(path, KX_LUA_SCRIPT_MAX, &src, &len) != STATUS_SUCCESS)
        return 0; /* too big or unreadable: not a script; the dynamic linker will say */
    memcpy(head, src, len < 4 ? len : 4);
    free(src);
    return len >= 4 && memcmp(head, "\177ELF", 4) != 0 && head[0] != 0x1b;
}
