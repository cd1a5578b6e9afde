/* "Did you mean": the nearest of a list of names to a word a user typed. */
#ifndef PSKPROV_CORE_SUGGEST_H
#define PSKPROV_CORE_SUGGEST_H

#include <stddef.h>

/* The candidate nearest to `word` by edit distance (insertions, deletions,
 * substitutions and swaps of neighbours), when it is near enough to be a typo: at most
 * 1 edit for words of up to 4 characters, 2 up to 8, 3 beyond; or a candidate that
 * `word` is a prefix of (at least 2 characters) when only one candidate has that
 * prefix. NULL when none is near, when two are equally near, or when word is empty.
 * Candidates are a NULL-terminated array when n is 0, else n entries. */
const char *pp_suggest(const char *word, const char *const *cands, size_t n);

/* The same over a table of structs whose first member is the name (a const char *):
 * `stride` is the size of one entry; the table ends at a NULL name. */
const char *pp_suggest_table(const char *word, const void *table, size_t stride);

#endif
