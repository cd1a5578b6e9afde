/* The safe XML parse policy: arbitrary bytes. Whatever parses has no DTD, nests at most
 * PP_XML_DEPTH_MAX elements and frees (wiping its text) without error. */
#include <stdint.h>
#include <stdlib.h>

#include "core/xmlsafe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static unsigned depth_of(const xmlNode *n)
{
	unsigned best = 0;
	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		unsigned d = 1 + depth_of(n->children);
		if (d > best)
			best = d;
	}
	return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_err err;
	xmlDoc *doc = NULL;
	if (pp_xml_parse_safe(data, size, 64 * 1024, "fuzz document", &doc, &err) != 0) {
		check(doc == NULL);
		return 0;
	}
	check(doc && !doc->intSubset && !doc->extSubset);
	check(depth_of(doc->children) <= PP_XML_DEPTH_MAX);
	pp_xml_free_wipe(doc);
	return 0;
}
