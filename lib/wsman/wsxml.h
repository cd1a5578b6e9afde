/* libxml2, used safely: internal helpers of lib/wsman (not part of the public API).
 *
 * Parsing: core/xmlsafe.h (pp_xml_parse_safe with PP_WSMAN_DOC_MAX, freed with
 * pp_xml_free_wipe): SOAP 1.2 Part 1 section 5, "A SOAP message MUST NOT contain a
 * Document Type Declaration", so entities other than the five predefined ones cannot exist.
 * Building: text only ever enters the tree through xmlNewTextChild, which escapes it. */
#ifndef PSKPROV_WSMAN_WSXML_H
#define PSKPROV_WSMAN_WSXML_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "core/bytes.h"
#include "core/err.h"

bool pp_wsxml_is(const xmlNode *n, const char *ns, const char *local);
const char *pp_wsxml_ns(const xmlNode *n);
/* First / next sibling element, or NULL. */
const xmlNode *pp_wsxml_first_el(const xmlNode *parent);
const xmlNode *pp_wsxml_next_el(const xmlNode *n);
/* Fails when parent holds non-blank text or an entity reference among its elements. */
int pp_wsxml_element_only(const xmlNode *parent, const char *what, struct pp_err *err) PP_WUR;

enum {
	PP_WSXML_TRIM = 1,     /* strip leading and trailing XML white space */
	PP_WSXML_TRUNCATE = 2, /* cut at cap - 1 (on a UTF-8 boundary) instead of failing */
};
/* The character data of a leaf element into out (cap bytes, NUL-terminated). Fails on
 * a nested element or when longer than cap - 1. `what` names the element in errors. */
int pp_wsxml_text(const xmlNode *el, char *out, size_t cap, int flags, const char *what,
		  struct pp_err *err) PP_WUR;

/* Appends an element with escaped text (or none when text is NULL); NULL on ENOMEM. */
xmlNode *pp_wsxml_add(xmlNode *parent, xmlNs *ns, const char *name, const char *text);
/* Serializes as UTF-8 into out (reset first), refusing more than PP_WSMAN_DOC_MAX bytes
 * or more than out's ceiling. libxml2's own copy is wiped before it is freed. */
int pp_wsxml_serialize(xmlDoc *doc, struct pp_buf *out, struct pp_err *err) PP_WUR;

#endif
