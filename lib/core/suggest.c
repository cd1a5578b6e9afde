/* Nearest-name suggestions for unknown commands and options. */
#include "core/suggest.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { SUGGEST_MAX_LEN = 64 };

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;
	return m < c ? m : c;
}

/* Optimal string alignment distance; words over SUGGEST_MAX_LEN are never near. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return SIZE_MAX;
	size_t d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[la][lb];
}

static size_t typo_budget(size_t len)
{
	return len <= 4 ? 1 : len <= 8 ? 2 : 3;
}

struct nearest {
	const char *best;
	size_t dist;
	bool tie;
	const char *prefixed; /* the one candidate word is a prefix of */
	size_t n_prefixed;
};

static void consider(struct nearest *n, const char *word, const char *cand)
{
	size_t wl = strlen(word);
	if (wl >= 2 && !strncmp(cand, word, wl)) {
		n->prefixed = cand;
		n->n_prefixed++;
	}
	size_t d = edit_distance(word, cand);
	if (d < n->dist) {
		n->best = cand;
		n->dist = d;
		n->tie = false;
	} else if (d == n->dist && n->best && strcmp(n->best, cand)) {
		n->tie = true;
	}
}

static const char *verdict(const struct nearest *n, const char *word)
{
	if (n->best && n->dist == 0)
		return NULL; /* the word is a name: nothing to suggest */
	if (n->best && !n->tie && n->dist > 0 && n->dist <= typo_budget(strlen(word)))
		return n->best;
	if (n->n_prefixed == 1)
		return n->prefixed;
	return NULL;
}

const char *pp_suggest(const char *word, const char *const *cands, size_t n)
{
	if (!word || !word[0] || !cands)
		return NULL;
	struct nearest near = {.dist = SIZE_MAX};
	for (size_t i = 0; n ? i < n : cands[i] != NULL; i++)
		if (cands[i])
			consider(&near, word, cands[i]);
	return verdict(&near, word);
}

const char *pp_suggest_table(const char *word, const void *table, size_t stride)
{
	if (!word || !word[0] || !table || stride < sizeof(const char *))
		return NULL;
	struct nearest near = {.dist = SIZE_MAX};
	for (const char *p = table;; p += stride) {
		const char *name;
		memcpy(&name, p, sizeof(name));
		if (!name)
			break;
		consider(&near, word, name);
	}
	return verdict(&near, word);
}
