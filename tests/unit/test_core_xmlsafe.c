#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/bytes.h"
#include "core/err.h"
#include "core/xmlsafe.h"

#define WHAT "test document"

static int parse(const char *xml, size_t max, xmlDoc **doc, struct pp_err *err)
{
	return pp_xml_parse_safe(xml, strlen(xml), max, WHAT, doc, err);
}

/* Parses what must be accepted; free with pp_xml_free_wipe. */
static xmlDoc *parse_ok(const char *xml)
{
	struct pp_err err = {0};
	xmlDoc *doc = NULL;
	if (parse(xml, 1 << 20, &doc, &err) != 0)
		fail_msg("refused: %s", err.msg);
	assert_non_null(doc);
	return doc;
}

static void assert_refused(const char *xml, int code, const char *needle)
{
	struct pp_err err = {0};
	xmlDoc *doc = (xmlDoc *)1;
	assert_int_equal(parse(xml, 1 << 20, &doc, &err), -code);
	assert_null(doc);
	if (!strstr(err.msg, needle))
		fail_msg("error '%s' does not say '%s'", err.msg, needle);
}

static void test_parses_plain_document(void **state)
{
	(void)state;
	xmlDoc *doc = parse_ok("<?xml version=\"1.0\"?>\n<a xmlns=\"urn:x\"><b k=\"v\">text "
			       "&amp; more</b><!-- c --><?pi d?></a>");
	xmlNode *root = xmlDocGetRootElement(doc);
	assert_string_equal((const char *)root->name, "a");
	xmlChar *text = xmlNodeGetContent(root->children);
	assert_string_equal((const char *)text, "text & more");
	xmlFree(text);
	pp_xml_free_wipe(doc);
	pp_xml_free_wipe(NULL);
}

/* Billion laughs, XXE through a general and a parameter entity, an external DTD: all
 * stopped at the DOCTYPE, before any entity is declared or anything fetched. */
static void test_refuses_dtd_and_entities(void **state)
{
	(void)state;
	static const char *const docs[] = {
	    "<!DOCTYPE a [<!ENTITY l \"lol\"><!ENTITY l1 "
	    "\"&l;&l;&l;&l;&l;&l;&l;&l;\">]><a>&l1;</a>",
	    "<!DOCTYPE a [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><a>&xxe;</a>",
	    "<!DOCTYPE a [<!ENTITY % p SYSTEM \"http://192.0.2.1/evil.dtd\"> %p;]><a/>",
	    "<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>",
	    "<!DOCTYPE a PUBLIC \"-//x//y\" \"http://192.0.2.1/a.dtd\"><a/>",
	    "<!DOCTYPE a><a/>",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		assert_refused(docs[i], PP_EINVAL, "document type declaration");
}

static void test_refuses_undeclared_entity(void **state)
{
	(void)state;
	assert_refused("<a>&xxe;</a>", PP_EINVAL, "malformed XML");
	assert_refused("<a><b></a>", PP_EINVAL, "malformed XML");
	assert_refused("<a/><b/>", PP_EINVAL, "malformed XML");
}

/* XInclude is never processed: the element stays an element, nothing is read. */
static void test_xinclude_inert(void **state)
{
	(void)state;
	xmlDoc *doc = parse_ok("<a xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include "
			       "href=\"file:///etc/passwd\" parse=\"text\"/></a>");
	xmlNode *inc = xmlDocGetRootElement(doc)->children;
	assert_int_equal(inc->type, XML_ELEMENT_NODE);
	assert_string_equal((const char *)inc->name, "include");
	assert_null(inc->children);
	pp_xml_free_wipe(doc);
}

static void test_size_caps(void **state)
{
	(void)state;
	struct pp_err err = {0};
	xmlDoc *doc = (xmlDoc *)1;
	assert_int_equal(parse("<a>12345</a>", 11, &doc, &err), -PP_ETOOBIG);
	assert_null(doc);
	assert_non_null(strstr(err.msg, "over the 11-byte cap"));
	assert_int_equal(parse("<a>12345</a>", 12, &doc, &err), 0);
	pp_xml_free_wipe(doc);
	assert_int_equal(pp_xml_parse_safe("", 0, 10, WHAT, &doc, &err), -PP_EINVAL);
	assert_int_equal(pp_xml_parse_safe(NULL, 4, 10, WHAT, &doc, &err), -PP_EINVAL);
}

/* head x nhead, body x nbody, tail x ntail: a NUL-terminated string to free(). */
static char *repeated(const char *head, int nhead, const char *body, int nbody, const char *tail,
		      int ntail)
{
	const char *part[3] = {head, body, tail};
	const int count[3] = {nhead, nbody, ntail};
	struct pp_buf b;
	pp_buf_init(&b, 1 << 20);
	for (int p = 0; p < 3; p++) {
		for (int i = 0; i < count[p]; i++)
			assert_int_equal(pp_buf_append_str(&b, part[p]), 0);
	}
	assert_int_equal(pp_buf_cstr(&b), 0);
	return (char *)b.data;
}

/* Nodes cheaper than PP_XML_NODE_BYTES of input each, past the slack: refused. The same
 * count of elements with a realistic amount of text each is fine. */
static void test_node_budget(void **state)
{
	(void)state;
	char *cheap = repeated("<a>", 1, "<b/>", 4000, "</a>", 1);
	assert_refused(cheap, PP_ETOOBIG, "too many XML nodes");
	free(cheap);
	char *fair = repeated("<a>", 1, "<b>some longer text</b>", 4000, "</a>", 1);
	pp_xml_free_wipe(parse_ok(fair));
	free(fair);
}

static void test_depth_cap(void **state)
{
	(void)state;
	char *ok = repeated("<e>", PP_XML_DEPTH_MAX, "", 0, "</e>", PP_XML_DEPTH_MAX);
	pp_xml_free_wipe(parse_ok(ok));
	free(ok);
	char *deep = repeated("<e>", PP_XML_DEPTH_MAX + 1, "", 0, "</e>", PP_XML_DEPTH_MAX + 1);
	assert_refused(deep, PP_ETOOBIG, "deep");
	free(deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parses_plain_document),
	    cmocka_unit_test(test_refuses_dtd_and_entities),
	    cmocka_unit_test(test_refuses_undeclared_entity),
	    cmocka_unit_test(test_xinclude_inert),
	    cmocka_unit_test(test_size_caps),
	    cmocka_unit_test(test_node_budget),
	    cmocka_unit_test(test_depth_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
