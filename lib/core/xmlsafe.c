#include "core/xmlsafe.h"

#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlversion.h>

#include "core/bytes.h"
#include "core/secret.h"

struct parse_state {
	bool saw_dtd;
	bool over_budget;
	bool too_deep;
	bool have_msg;
	size_t nodes;
	size_t budget;
	unsigned depth;
	xmlSAXHandler sax2; /* libxml2's own handlers, which ours count and then call */
	char msg[160];
};

static struct parse_state *state_of(void *ctx)
{
	return ((xmlParserCtxt *)ctx)->_private;
}

static bool spend(void *ctx, size_t nodes)
{
	struct parse_state *st = state_of(ctx);
	if (!pp_add_ok(st->nodes, nodes, &st->nodes) || st->nodes > st->budget) {
		st->over_budget = true;
		xmlStopParser(ctx);
		return false;
	}
	return true;
}

/* Elements cost a node, each attribute two (the attribute and its text), each namespace
 * declaration one; text runs, comments and processing instructions one each. */
static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
		     int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
		     int nb_defaulted, const xmlChar **attributes)
{
	struct parse_state *st = state_of(ctx);
	if (!spend(ctx, 1 + (size_t)nb_namespaces + 2 * (size_t)nb_attributes))
		return;
	if (++st->depth > PP_XML_DEPTH_MAX) {
		st->too_deep = true;
		xmlStopParser(ctx);
		return;
	}
	if (st->sax2.startElementNs)
		st->sax2.startElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces,
					nb_attributes, nb_defaulted, attributes);
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
	struct parse_state *st = state_of(ctx);
	if (st->depth)
		st->depth--;
	if (st->sax2.endElementNs)
		st->sax2.endElementNs(ctx, localname, prefix, uri);
}

static void on_characters(void *ctx, const xmlChar *ch, int len)
{
	struct parse_state *st = state_of(ctx);
	if (spend(ctx, 1) && st->sax2.characters)
		st->sax2.characters(ctx, ch, len);
}

static void on_whitespace(void *ctx, const xmlChar *ch, int len)
{
	struct parse_state *st = state_of(ctx);
	if (spend(ctx, 1) && st->sax2.ignorableWhitespace)
		st->sax2.ignorableWhitespace(ctx, ch, len);
}

static void on_comment(void *ctx, const xmlChar *value)
{
	struct parse_state *st = state_of(ctx);
	if (spend(ctx, 1) && st->sax2.comment)
		st->sax2.comment(ctx, value);
}

static void on_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	struct parse_state *st = state_of(ctx);
	if (spend(ctx, 1) && st->sax2.processingInstruction)
		st->sax2.processingInstruction(ctx, target, data);
}

/* Any DOCTYPE stops the parser before its internal subset is read. */
static void on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
			       const xmlChar *system_id)
{
	(void)name;
	(void)external_id;
	(void)system_id;
	state_of(ctx)->saw_dtd = true;
	xmlStopParser(ctx);
}

/* Keeps the first message: later ones are consequences of it. */
#if LIBXML_VERSION >= 21200
static void on_error(void *ctx, const xmlError *e)
#else
static void on_error(void *ctx, xmlErrorPtr e)
#endif
{
	struct parse_state *st = ctx ? state_of(ctx) : NULL;
	if (!st || st->have_msg || !e || !e->message)
		return;
	snprintf(st->msg, sizeof(st->msg), "line %d: %s", e->line, e->message);
	size_t n = strlen(st->msg);
	while (n && (st->msg[n - 1] == '\n' || st->msg[n - 1] == ' '))
		st->msg[--n] = '\0';
	st->have_msg = true;
}

static void hook_sax(xmlParserCtxt *ctxt, struct parse_state *st)
{
	xmlSAXHandler *sax = ctxt->sax;
	ctxt->_private = st;
	st->sax2 = *sax;
	sax->internalSubset = on_internal_subset;
	sax->externalSubset = NULL;
	sax->startElementNs = on_start;
	sax->endElementNs = on_end;
	sax->characters = on_characters;
	sax->ignorableWhitespace = on_whitespace;
	sax->comment = on_comment;
	sax->processingInstruction = on_pi;
	sax->serror = on_error;
}

/* The first limit the parse ran into, as an error; 0 when none did. */
static int parse_verdict(const struct parse_state *st, const xmlParserCtxt *ctxt, const xmlDoc *doc,
			 size_t len, const char *what, struct pp_err *err)
{
	if (st->saw_dtd)
		return pp_err_set(err, PP_EINVAL,
				  "%s has a document type declaration (DTDs and entities are "
				  "refused)",
				  what);
	if (st->over_budget)
		return pp_err_set(err, PP_ETOOBIG,
				  "%s has too many XML nodes for its %zu bytes (at most one per "
				  "%d bytes)",
				  what, len, PP_XML_NODE_BYTES);
	if (st->too_deep)
		return pp_err_set(err, PP_ETOOBIG, "%s nests elements more than %d deep", what,
				  PP_XML_DEPTH_MAX);
	if (!doc || !ctxt->wellFormed)
		return pp_err_set(err, PP_EINVAL, "malformed XML: %s",
				  st->have_msg ? st->msg : "not well-formed");
	if (doc->intSubset || doc->extSubset)
		return pp_err_set(err, PP_EINVAL, "%s has a DTD (refused)", what);
	return 0;
}

int pp_xml_parse_safe(const void *xml, size_t len, size_t max, const char *what, xmlDoc **out,
		      struct pp_err *err)
{
	struct parse_state st = {0};
	xmlParserCtxt *ctxt = NULL;
	xmlDoc *doc = NULL;
	int rc;

	*out = NULL;
	if (max > INT_MAX)
		max = INT_MAX;
	if (len > max)
		return pp_err_set(err, PP_ETOOBIG, "%s of %zu bytes is over the %zu-byte cap", what,
				  len, max);
	if (len == 0 || !xml)
		return pp_err_set(err, PP_EINVAL, "empty %s", what);

	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return pp_err_set(err, PP_ENOMEM, "out of memory creating the XML parser");
	hook_sax(ctxt, &st);
	st.budget = len / PP_XML_NODE_BYTES + PP_XML_NODE_SLACK;

	int opts = XML_PARSE_NONET | XML_PARSE_NODICT | XML_PARSE_NOCDATA | XML_PARSE_NOERROR |
		   XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC;
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, "UTF-8", opts);
	if ((rc = parse_verdict(&st, ctxt, doc, len, what, err)) < 0)
		goto out;
	*out = doc;
	doc = NULL;
out:
	pp_xml_free_wipe(doc);
	xmlFreeParserCtxt(ctxt);
	return rc;
}

static void wipe_text(xmlDoc *doc, xmlNode *n)
{
	if (n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE)
		return;
	if (!n->content || n->content == (xmlChar *)&n->properties)
		return;
	if (doc->dict && xmlDictOwns(doc->dict, n->content))
		return;
	pp_wipe(n->content, strlen((const char *)n->content));
}

void pp_xml_free_wipe(xmlDoc *doc)
{
	if (!doc)
		return;
	/* Iterative walk: depth is bounded at parse time, but a loop needs no stack. */
	xmlNode *n = doc->children;
	while (n) {
		wipe_text(doc, n);
		if (n->type == XML_ELEMENT_NODE && n->children) {
			n = n->children;
			continue;
		}
		while (!n->next) {
			n = n->parent;
			if (!n || n == (xmlNode *)doc)
				goto done;
		}
		n = n->next;
	}
done:
	xmlFreeDoc(doc);
}
