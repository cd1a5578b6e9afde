#include "wsman/props.h"

#include <stdint.h>
#include <string.h>

#include "core/secret.h"

void pp_wsman_props_init(struct pp_wsman_props *p)
{
	p->count = 0;
}

bool pp_wsman_name_valid(const char *s)
{
	size_t n = 0;
	if (!s)
		return false;
	for (const char *c = s; *c; c++, n++) {
		bool alpha = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_';
		bool other = (*c >= '0' && *c <= '9') || *c == '-' || *c == '.';
		if (n == 0 ? !alpha : !(alpha || other))
			return false;
		if (n >= PP_WSMAN_NAME_MAX)
			return false;
	}
	return n > 0;
}

/* XML 1.0 section 2.2: Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
 * [#x10000-#x10FFFF]. Decoded by hand so overlong forms and surrogates are refused. */
bool pp_wsman_text_valid(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;
	while (i < len) {
		uint8_t b = p[i];
		uint32_t cp;
		size_t n;
		if (b < 0x80) {
			if (b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D)
				return false;
			i++;
			continue;
		} else if (b >= 0xC2 && b <= 0xDF) {
			cp = b & 0x1F;
			n = 1;
		} else if (b >= 0xE0 && b <= 0xEF) {
			cp = b & 0x0F;
			n = 2;
		} else if (b >= 0xF0 && b <= 0xF4) {
			cp = b & 0x07;
			n = 3;
		} else {
			return false;
		}
		if (n > len - i - 1)
			return false;
		for (size_t k = 1; k <= n; k++) {
			uint8_t c = p[i + k];
			if ((c & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (c & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF)
			return false;
		if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
			return false;
		i += n + 1;
	}
	return true;
}

int pp_wsman_props_addn(struct pp_wsman_props *p, const char *name, const char *value, size_t len,
			struct pp_err *err)
{
	if (!pp_wsman_name_valid(name))
		return pp_err_set(err, PP_EINVAL, "property name '%.64s' is not a valid name",
				  name ? name : "");
	if (p->count >= PP_WSMAN_PROPS_MAX)
		return pp_err_set(err, PP_ETOOBIG, "more than %d properties (at '%s')",
				  PP_WSMAN_PROPS_MAX, name);
	if (len > PP_WSMAN_VALUE_MAX)
		return pp_err_set(err, PP_ETOOBIG, "property '%s' is longer than %d bytes", name,
				  PP_WSMAN_VALUE_MAX);
	if (memchr(value, '\0', len) || !pp_wsman_text_valid(value, len))
		return pp_err_set(err, PP_EINVAL,
				  "property '%s' is not UTF-8 text that XML can carry", name);
	struct pp_wsman_prop *it = &p->item[p->count];
	size_t nlen = strlen(name);
	memcpy(it->name, name, nlen + 1);
	memcpy(it->value, value, len);
	it->value[len] = '\0';
	p->count++;
	return 0;
}

int pp_wsman_props_add(struct pp_wsman_props *p, const char *name, const char *value,
		       struct pp_err *err)
{
	if (!value)
		return pp_err_set(err, PP_EINVAL, "property '%.64s' has no value",
				  name ? name : "");
	return pp_wsman_props_addn(p, name, value, strlen(value), err);
}

const char *pp_wsman_props_get(const struct pp_wsman_props *p, const char *name)
{
	for (size_t i = 0; i < p->count; i++) {
		if (strcmp(p->item[i].name, name) == 0)
			return p->item[i].value;
	}
	return NULL;
}

void pp_wsman_props_wipe(struct pp_wsman_props *p)
{
	if (!p)
		return;
	if (p->count > PP_WSMAN_PROPS_MAX)
		p->count = PP_WSMAN_PROPS_MAX;
	pp_wipe(p->item, p->count * sizeof(p->item[0]));
	p->count = 0;
}
