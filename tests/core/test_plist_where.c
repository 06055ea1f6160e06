/* test_plist_where.c — a malformed XML property list is rejected with the
 * line where it goes wrong: a closing tag that closes the wrong element, a
 * value without its key, an unknown element, a bare '&', stray text, an
 * element never closed; good documents still parse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/plist.h"

#include <string.h>

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n"

static void expect_why(const char *xml, const char *want)
{
    plist_t p = NULL;
    const char *why = NULL;
    assert_int_equal(kx_plist_parse(xml, strlen(xml), &p, &why), STATUS_DATA_ERROR);
    assert_null(p);
    assert_non_null(why);
    if (!strstr(why, want))
        fail_msg("expected \"%s\" in \"%s\"", want, why);
}

static void wrong_closing_tag_names_both_lines(void **state)
{
    (void)state;
    expect_why(HEAD "  <key>A</key>\n  <array>\n    <string>x</string>\n  </dict>\n</plist>\n",
               "malformed XML: line 7: </dict> closes <array> (opened on line 5)");
}

static void value_without_key(void **state)
{
    (void)state;
    expect_why(HEAD "  <key>A</key>\n  <string>a</string>\n  <string>b</string>\n</dict>\n</plist>\n",
               "line 6: a <dict> value without its <key>");
}

static void unknown_element(void **state)
{
    (void)state;
    expect_why(HEAD "  <key>A</key>\n  <strng>a</strng>\n</dict>\n</plist>\n",
               "line 5: <strng> is not a property list element");
}

static void bare_ampersand(void **state)
{
    (void)state;
    expect_why(HEAD "  <key>A</key>\n  <string>Tom & Jerry</string>\n</dict>\n</plist>\n",
               "line 5: '&' must be written &amp;");
}

static void stray_text(void **state)
{
    (void)state;
    expect_why(HEAD "  <key>A</key>\n  oops\n  <true/>\n</dict>\n</plist>\n",
               "line 5: text outside any value (in <dict>)");
}

static void never_closed(void **state)
{
    (void)state;
    expect_why(HEAD "  <key>A</key>\n  <array>\n    <true/>\n",
               "malformed XML: line 5: <array> is never closed");
}

static void good_documents_still_parse(void **state)
{
    (void)state;
    static const char xml[] =
        HEAD "  <!-- a <comment> -->\n  <key>A &amp; B</key>\n  <string><![CDATA[<x>]]></string>\n"
             "  <key>C</key>\n  <array><integer>1</integer><dict/></array>\n</dict>\n</plist>\n";
    plist_t p = NULL;
    const char *why = NULL;
    assert_int_equal(kx_plist_parse(xml, sizeof xml - 1, &p, &why), STATUS_SUCCESS);
    plist_free(p);
    char buf[256];
    assert_int_equal(kx_plist_xml_where(xml, sizeof xml - 1, buf, sizeof buf), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrong_closing_tag_names_both_lines),
        cmocka_unit_test(value_without_key),
        cmocka_unit_test(unknown_element),
        cmocka_unit_test(bare_ampersand),
        cmocka_unit_test(stray_text),
        cmocka_unit_test(never_closed),
        cmocka_unit_test(good_documents_still_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
