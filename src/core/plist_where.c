/* plist_where.c — where an XML property list goes wrong, by line.
 *
 * libplist 2.2 rejects a malformed document without saying where. Once it
 * has, this second pass walks the bytes the way a person reads a plist —
 * elements opened and closed, a <dict>'s keys and values alternating, text
 * only inside leaf elements, entities spelled as XML spells them — counting
 * lines, and names the first thing that breaks a rule: "line 12: </array>
 * closes <dict> (opened on line 9)". It is not a validator: when it finds
 * nothing the caller keeps its general message. It runs only on failure, so
 * the parse of a good file costs nothing more.
 */
#include "plist.h"

#include <stdio.h>
#include <string.h>

struct open_elem {
    char name[16];
    int line;
    int children; /* in a <dict>: even before a <key>, odd before its value */
};

static int is_leaf(const char *name)
{
    static const char *const leaves[] = {"key",  "string", "integer", "real",
                                         "date", "data",   "true",    "false"};
    for (size_t i = 0; i < sizeof leaves / sizeof *leaves; i++)
        if (strcmp(name, leaves[i]) == 0)
            return 1;
    return 0;
}

static int is_known(const char *name)
{
    return is_leaf(name) || strcmp(name, "dict") == 0 || strcmp(name, "array") == 0 ||
           strcmp(name, "plist") == 0;
}

/* 1 when lit is at s[i] within len bytes (s need not end in a NUL). */
static int at(const char *s, size_t len, size_t i, const char *lit)
{
    size_t n = strlen(lit);
    return i + n <= len && memcmp(s + i, lit, n) == 0;
}

static int count_lines(const char *s, size_t from, size_t to)
{
    int n = 0;
    for (size_t i = from; i < to; i++)
        n += s[i] == '\n';
    return n;
}

/* The element name after '<' or '</' at s[i], into name (truncated). */
static void tag_name(const char *s, size_t i, size_t end, char *name, size_t cap)
{
    size_t n = 0;
    while (i < end && s[i] != '>' && s[i] != '/' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r') {
        if (n + 1 < cap)
            name[n++] = s[i];
        i++;
    }
    name[n] = '\0';
}

/* Checks the text between tags: entities, and no text outside a leaf. */
static int check_text(const char *s, size_t from, size_t to, const struct open_elem *top,
                      int line, char *buf, size_t cap)
{
    static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"};
    for (size_t i = from; i < to; i++) {
        if (s[i] == '\n')
            line++;
        if (s[i] == '&') {
            int ok = 0;
            for (size_t e = 0; e < sizeof entities / sizeof *entities && !ok; e++)
                ok = at(s, to, i, entities[e]);
            if (!ok) {
                snprintf(buf, cap, "line %d: '&' must be written &amp;", line);
                return 1;
            }
        }
        if ((!top || !is_leaf(top->name)) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
            s[i] != '\r') {
            snprintf(buf, cap, "line %d: text outside any value%s%s%s", line,
                     top ? " (in <" : "", top ? top->name : "", top ? ">)" : "");
            return 1;
        }
    }
    return 0;
}

int kx_plist_xml_where(const char *s, size_t len, char *buf, size_t cap)
{
    struct open_elem stack[KX_PLIST_MAX_DEPTH + 1];
    size_t sp = 0, i = 0, text_from = 0;
    int line = 1;
    while (i < len) {
        if (s[i] != '<') {
            i++;
            continue;
        }
        if (check_text(s, text_from, i, sp ? &stack[sp - 1] : NULL, line, buf, cap))
            return 1;
        line += count_lines(s, text_from, i);
        int is_comment = at(s, len, i, "<!--"), is_cdata = at(s, len, i, "<![CDATA[");
        const char *close = is_comment ? memmem(s + i, len - i, "-->", 3)
                            : is_cdata ? memmem(s + i, len - i, "]]>", 3)
                                       : memchr(s + i, '>', len - i);
        if (!close || i + 2 >= len) {
            snprintf(buf, cap, "line %d: a tag is cut off at the end", line);
            return 1;
        }
        size_t end = (size_t)(close - s) + (is_comment || is_cdata ? 3 : 1);
        if (is_cdata && (!sp || !is_leaf(stack[sp - 1].name))) {
            snprintf(buf, cap, "line %d: text outside any value", line);
            return 1;
        }
        if (s[i + 1] == '/') {
            char name[16];
            tag_name(s, i + 2, end, name, sizeof name);
            if (!sp) {
                snprintf(buf, cap, "line %d: </%s> closes nothing", line, name);
                return 1;
            }
            if (strcmp(name, stack[sp - 1].name) != 0) {
                snprintf(buf, cap, "line %d: </%s> closes <%s> (opened on line %d)", line, name,
                         stack[sp - 1].name, stack[sp - 1].line);
                return 1;
            }
            if (strcmp(name, "dict") == 0 && stack[sp - 1].children % 2) {
                snprintf(buf, cap, "line %d: the last <key> of this <dict> has no value", line);
                return 1;
            }
            sp--;
        } else if (s[i + 1] != '?' && s[i + 1] != '!') {
            char name[16];
            tag_name(s, i + 1, end, name, sizeof name);
            if (!is_known(name)) {
                snprintf(buf, cap, "line %d: <%s> is not a property list element", line, name);
                return 1;
            }
            struct open_elem *parent = sp ? &stack[sp - 1] : NULL;
            if (parent && is_leaf(parent->name)) {
                snprintf(buf, cap, "line %d: <%s> inside <%s>", line, name, parent->name);
                return 1;
            }
            if (parent && strcmp(parent->name, "dict") == 0 &&
                (parent->children++ % 2 == 0) != (strcmp(name, "key") == 0)) {
                snprintf(buf, cap, "line %d: %s", line,
                         strcmp(name, "key") == 0 ? "two <key>s in a row in a <dict>"
                                                  : "a <dict> value without its <key>");
                return 1;
            }
            if (s[end - 2] != '/' && sp <= KX_PLIST_MAX_DEPTH) {
                struct open_elem *e = &stack[sp++];
                snprintf(e->name, sizeof e->name, "%s", name);
                e->line = line;
                e->children = 0;
            }
        }
        line += count_lines(s, i, end);
        i = text_from = end;
    }
    if (check_text(s, text_from, len, sp ? &stack[sp - 1] : NULL, line, buf, cap))
        return 1;
    if (sp) {
        snprintf(buf, cap, "line %d: <%s> is never closed", stack[sp - 1].line, stack[sp - 1].name);
        return 1;
    }
    return 0;
}
