#include "wsman/wsxml.h"

#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>

#include "core/secret.h"
#include "wsman/soap.h"

const char *pp_wsxml_ns(const xmlNode *n)
{
	return n->ns && n->ns->href ? (const char *)n->ns->href : "";
}

bool pp_wsxml_is(const xmlNode *n, const char *ns, const char *local)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp(pp_wsxml_ns(n), ns) == 0 &&
	       strcmp((const char *)n->name, local) == 0;
}

const xmlNode *pp_wsxml_next_el(const xmlNode *n)
{
	for (n = n ? n->next : NULL; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE)
			return n;
	}
	return NULL;
}

const xmlNode *pp_wsxml_first_el(const xmlNode *parent)
{
	for (const xmlNode *n = parent->children; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE)
			return n;
	}
	return NULL;
}

static bool xml_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int pp_wsxml_element_only(const xmlNode *parent, const char *what, struct pp_err *err)
{
	for (const xmlNode *n = parent->children; n; n = n->next) {
		if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
			for (const xmlChar *c = n->content; c && *c; c++) {
				if (!xml_space(*c))
					return pp_err_set(
					    err, PP_EINVAL,
					    "%s holds text where only elements belong", what);
			}
		} else if (n->type == XML_ENTITY_REF_NODE || n->type == XML_ENTITY_NODE) {
			return pp_err_set(err, PP_EINVAL, "%s holds an entity reference", what);
		}
	}
	return 0;
}

int pp_wsxml_text(const xmlNode *el, char *out, size_t cap, int flags, const char *what,
		  struct pp_err *err)
{
	size_t len = 0;
	bool started = !(flags & PP_WSXML_TRIM);
	int rc = 0;

	if (cap == 0)
		return pp_err_set(err, PP_ETOOBIG, "%s: no room", what);
	for (const xmlNode *n = el->children; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			rc = pp_err_set(err, PP_EINVAL, "%s has a nested element <%s>", what,
					(const char *)n->name);
			goto fail;
		}
		if (n->type == XML_ENTITY_REF_NODE || n->type == XML_ENTITY_NODE) {
			rc = pp_err_set(err, PP_EINVAL, "%s holds an entity reference", what);
			goto fail;
		}
		if (n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE)
			continue; /* comments, processing instructions */
		for (const xmlChar *c = n->content; c && *c; c++) {
			bool space = xml_space(*c);
			if (!started) {
				if (space)
					continue;
				started = true;
			}
			if (len + 1 < cap) {
				out[len++] = (char)*c;
				continue;
			}
			/* Full: only trailing white space that trimming removes may follow. */
			if ((flags & PP_WSXML_TRIM) && space)
				continue;
			if (flags & PP_WSXML_TRUNCATE) {
				/* Back up to the start of a UTF-8 sequence that fits whole. */
				size_t k = len;
				while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
					k--;
				if (k > 0 && ((unsigned char)out[k - 1] & 0x80)) {
					unsigned char lead = (unsigned char)out[k - 1];
					size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
					if (len - (k - 1) < need)
						len = k - 1;
				}
				goto done;
			}
			goto too_long;
		}
	}
done:
	if (flags & PP_WSXML_TRIM) {
		while (len && xml_space((unsigned char)out[len - 1]))
			len--;
	}
	out[len] = '\0';
	return 0;
too_long:
	rc = pp_err_set(err, PP_ETOOBIG, "%s is longer than %zu bytes", what, cap - 1);
fail:
	pp_wipe(out, cap);
	out[0] = '\0';
	return rc;
}

xmlNode *pp_wsxml_add(xmlNode *parent, xmlNs *ns, const char *name, const char *text)
{
	/* xmlNewTextChild escapes <, >, & and CR; xmlNewChild and xmlNodeSetContent would
	 * instead parse entity references out of the value. */
	return xmlNewTextChild(parent, ns, (const xmlChar *)name, (const xmlChar *)text);
}

int pp_wsxml_serialize(xmlDoc *doc, struct pp_buf *out, struct pp_err *err)
{
	xmlChar *mem = NULL;
	int size = 0;
	int rc;

	xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
	if (!mem || size < 0)
		return pp_err_set(err, PP_ENOMEM, "out of memory serializing XML");
	pp_buf_reset(out);
	if ((size_t)size > PP_WSMAN_DOC_MAX) {
		rc =
		    pp_err_set(err, PP_ETOOBIG, "SOAP envelope of %d bytes is over the %d-byte cap",
			       size, PP_WSMAN_DOC_MAX);
		goto out;
	}
	rc = pp_buf_append(out, mem, (size_t)size);
	if (rc < 0) {
		rc = pp_err_set(err, -rc,
				"SOAP envelope of %d bytes does not fit the output buffer", size);
		goto out;
	}
	rc = pp_buf_cstr(out);
	if (rc < 0)
		rc = pp_err_set(err, -rc, "SOAP envelope does not fit the output buffer");
out:
	pp_wipe(mem, (size_t)size);
	xmlFree(mem);
	return rc;
}
