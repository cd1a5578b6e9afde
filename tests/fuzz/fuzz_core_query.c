/* The API's query strings and cursors (lib/core/query.c): arbitrary text. A parsed
 * query holds only allowed, distinct names and printable values within bounds; a
 * cursor that decodes encodes back to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void query_one(const char *text)
{
	static const char *const allowed[] = {"state", "q", "limit", "cursor", "sort", NULL};
	struct pp_query q;
	char field[PP_QUERY_NAME_MAX + 1];
	if (pp_query_parse(text, allowed, &q, field, sizeof(field), NULL) != 0)
		return;
	check(q.n <= PP_QUERY_MAX);
	for (size_t i = 0; i < q.n; i++) {
		check(pp_query_get(&q, q.p[i].name) == q.p[i].value);
		for (const char *v = q.p[i].value; *v; v++)
			check(*v >= 0x20 && *v <= 0x7e);
	}
}

static void cursor_one(const char *text)
{
	/* Bound to listing 0, sort 0, ascending, filter digest 0. */
	struct pp_cursor want = {0}, got;
	if (pp_cursor_decode(text, &want, &got, NULL) != 0)
		return;
	check(strlen(got.text) <= PP_CURSOR_TEXT_MAX);
	char hex[PP_CURSOR_HEX_MAX + 1];
	check(pp_cursor_encode(&got, hex, sizeof(hex)) == 0);
	check(strcmp(hex, text) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	query_one(text);
	cursor_one(text);
	free(text);
	return 0;
}
