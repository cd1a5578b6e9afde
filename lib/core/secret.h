/* Secrets: wiped before free, compared in constant time, never printed. */
#ifndef PSKPROV_CORE_SECRET_H
#define PSKPROV_CORE_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define PP_HIDDEN "(hidden)"

void pp_wipe(void *p, size_t n);
/* Wipes strlen(s) bytes and frees; accepts NULL. */
void pp_str_free_wipe(char *s);
/* Constant-time in n: true when equal. */
bool pp_ct_eq(const void *a, const void *b, size_t n);
/* Constant-time in the length of the longer string. */
bool pp_ct_streq(const char *a, const char *b);
int pp_random(void *out, size_t n) PP_WUR;

/* Zero-filled, page-aligned memory of its own mapping for a long-lived secret (the
 * master key): left out of core dumps (MADV_DONTDUMP), zeroed in a child after fork
 * (MADV_WIPEONFORK), and locked in RAM (mlock) when RLIMIT_MEMLOCK allows; the last
 * two are best effort. NULL when out of memory or n is 0. */
void *pp_secret_alloc(size_t n);
/* Wipes, unlocks and unmaps what pp_secret_alloc(n) returned; accepts NULL. */
void pp_secret_free(void *p, size_t n);

/* Cleanup helpers for __attribute__((cleanup)). */
#define pp_cleanup(fn) __attribute__((cleanup(fn)))
void pp_freep(void *pp);           /* free(*(void **)pp) */
void pp_str_wipe_freep(char **ps); /* pp_str_free_wipe(*ps) */

#endif
