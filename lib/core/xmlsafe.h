/* One parse policy for untrusted XML (SOAP envelopes, PSKC files), libxml2 underneath.
 *
 * - a size cap before libxml2 sees a byte, and the length passed as an int only then;
 * - XML_PARSE_NONET, no entity substitution (NOENT), no DTD loading or attribute
 *   defaulting (DTDLOAD, DTDATTR), no XInclude, no XML_PARSE_HUGE;
 * - any document type declaration refused: the parser is stopped at the DOCTYPE, before
 *   its internal subset, so no entity is ever declared, expanded (billion laughs) or
 *   fetched (XXE). SOAP 1.2 Part 1 section 5 forbids a DTD outright; RFC 6030 needs none;
 * - a node budget (DOM memory is some 100 to 150 bytes a node: a document of tiny
 *   elements would cost 30 times its size): one node per PP_XML_NODE_BYTES of input,
 *   plus PP_XML_NODE_SLACK; real SOAP and PSKC spend 20 to 38 bytes a node;
 * - elements nested at most PP_XML_DEPTH_MAX deep (libxml2's own cap is 256);
 * - NODICT, so that every text node can be wiped by pp_xml_free_wipe;
 * - the declared encoding ignored: both formats are UTF-8 here. */
#ifndef PSKPROV_CORE_XMLSAFE_H
#define PSKPROV_CORE_XMLSAFE_H

#include <stddef.h>

#include <libxml/tree.h>

#include "core/err.h"

#define PP_XML_NODE_BYTES 10
#define PP_XML_NODE_SLACK 256
#define PP_XML_DEPTH_MAX 32

/* Parses len bytes (at most max) into *out; free with pp_xml_free_wipe. `what` names the
 * document in errors ("XML document", "PSKC document"). -PP_ETOOBIG over the size, node
 * or depth cap, -PP_EINVAL when malformed or with a DTD. */
int pp_xml_parse_safe(const void *xml, size_t len, size_t max, const char *what, xmlDoc **out,
		      struct pp_err *err) PP_WUR;
/* Wipes every text node, then frees the document; accepts NULL. */
void pp_xml_free_wipe(xmlDoc *doc);

#endif
