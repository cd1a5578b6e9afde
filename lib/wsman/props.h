/* A CIM instance or a method's parameters: a small bounded list of (name, text) pairs.
 *
 * Names are XML local names of the property elements ([A-Za-z_][A-Za-z0-9_.-]*, at
 * most PP_WSMAN_NAME_MAX bytes); values are UTF-8 text that XML 1.0 can carry (no NUL,
 * no control characters other than TAB, LF, CR), at most PP_WSMAN_VALUE_MAX bytes.
 * A name may repeat: CIM arrays are sent as repeated elements. Values may be secrets
 * (SetMEBxPassword's Password): wipe with pp_wsman_props_wipe when done. */
#ifndef PSKPROV_WSMAN_PROPS_H
#define PSKPROV_WSMAN_PROPS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define PP_WSMAN_PROPS_MAX 32
#define PP_WSMAN_NAME_MAX 64
#define PP_WSMAN_VALUE_MAX 1024

struct pp_wsman_prop {
	char name[PP_WSMAN_NAME_MAX + 1];
	char value[PP_WSMAN_VALUE_MAX + 1];
};

struct pp_wsman_props {
	size_t count;
	struct pp_wsman_prop item[PP_WSMAN_PROPS_MAX];
};

void pp_wsman_props_init(struct pp_wsman_props *p);
/* Appends a copy; refuses a bad name, a bad or oversized value, or a full list. Error
 * messages name the property, never its value. */
int pp_wsman_props_add(struct pp_wsman_props *p, const char *name, const char *value,
		       struct pp_err *err) PP_WUR;
/* Same with a value of len bytes (not NUL-terminated; a NUL inside is refused). */
int pp_wsman_props_addn(struct pp_wsman_props *p, const char *name, const char *value, size_t len,
			struct pp_err *err) PP_WUR;
/* The first value named `name`, or NULL. */
const char *pp_wsman_props_get(const struct pp_wsman_props *p, const char *name);
/* Wipes every name and value and sets count to 0; accepts NULL. */
void pp_wsman_props_wipe(struct pp_wsman_props *p);

/* True when s is a name this module accepts for an element or a selector. */
bool pp_wsman_name_valid(const char *s);
/* True when the len bytes at s are strict UTF-8 (no overlong forms, surrogates,
 * U+FFFE/U+FFFF) made only of XML 1.0 characters. */
bool pp_wsman_text_valid(const char *s, size_t len);

#endif
