#include "core/query.h"

#include <stdio.h>
#include <string.h>

#include "core/bytes.h"
#include "core/parse.h"

#define CURSOR_VERSION 1

/* Percent-decodes in[0..n) into out (cap bytes with the NUL): 0, or -1 bad escape, -2
 * too long, -3 a byte that is not printable ASCII. */
static int decode(const char *in, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)in[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = pp_hex_digit(in[i + 1]), lo = pp_hex_digit(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c > 0x7e)
			return -3;
		if (k + 1 >= cap)
			return -2;
		out[k++] = (char)c;
	}
	out[k] = '\0';
	return 0;
}

static bool allowed_name(const char *name, const char *const *allowed)
{
	for (size_t i = 0; allowed && allowed[i]; i++)
		if (strcmp(allowed[i], name) == 0)
			return true;
	return false;
}

/* One "name=value" of n bytes into q's next slot. */
static int parse_one(const char *s, size_t n, const char *const *allowed, struct pp_query *q,
		     char *field, size_t cap, struct pp_err *err)
{
	const char *eq = memchr(s, '=', n);
	size_t nlen = eq ? (size_t)(eq - s) : n;
	char name[PP_QUERY_NAME_MAX + 1];
	int rc = decode(s, nlen, name, sizeof(name));
	if (rc < 0 || !name[0])
		return pp_err_set(err, PP_EINVAL, "malformed query parameter name");
	snprintf(field, cap, "%s", name);
	if (!allowed_name(name, allowed))
		return pp_err_set(err, PP_EINVAL, "unknown query parameter '%s'", name);
	if (pp_query_get(q, name))
		return pp_err_set(err, PP_EINVAL, "query parameter '%s' given twice", name);
	if (q->n >= PP_QUERY_MAX)
		return pp_err_set(err, PP_EINVAL, "more than %d query parameters", PP_QUERY_MAX);
	const char *v = eq ? eq + 1 : s + n;
	rc = decode(v, (size_t)(s + n - v), q->p[q->n].value, sizeof(q->p[q->n].value));
	if (rc == -1)
		return pp_err_set(err, PP_EINVAL, "%s: a bad %%-escape", name);
	if (rc == -2)
		return pp_err_set(err, PP_EINVAL, "%s: longer than %d characters", name,
				  PP_QUERY_VALUE_MAX);
	if (rc == -3)
		return pp_err_set(err, PP_EINVAL, "%s: not printable ASCII", name);
	memcpy(q->p[q->n].name, name, sizeof(name));
	q->n++;
	return 0;
}

int pp_query_parse(const char *text, const char *const *allowed, struct pp_query *q, char *field,
		   size_t cap, struct pp_err *err)
{
	memset(q, 0, sizeof(*q));
	if (cap)
		field[0] = '\0';
	if (!text || !*text)
		return 0;
	size_t len = strnlen(text, PP_QUERY_TEXT_MAX + 1);
	if (len > PP_QUERY_TEXT_MAX)
		return pp_err_set(err, PP_EINVAL, "query string over %d bytes", PP_QUERY_TEXT_MAX);
	const char *s = text, *end = text + len;
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		size_t n = amp ? (size_t)(amp - s) : (size_t)(end - s);
		int rc = parse_one(s, n, allowed, q, field, cap, err);
		if (rc < 0)
			return rc;
		s += n + (amp ? 1 : 0);
		if (amp && s == end && cap)
			field[0] = '\0';
		if (amp && s == end)
			return pp_err_set(err, PP_EINVAL, "malformed query string (ends with '&')");
	}
	if (cap)
		field[0] = '\0';
	return 0;
}

const char *pp_query_get(const struct pp_query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->p[i].name, name) == 0)
			return q->p[i].value;
	return NULL;
}

int pp_query_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out, const char *name,
		 struct pp_err *err)
{
	uint64_t x = 0;
	size_t n = strlen(v);
	bool ok = n > 0 && n <= 19 && (v[0] != '0' || n == 1);
	for (size_t i = 0; ok && i < n; i++) {
		ok = v[i] >= '0' && v[i] <= '9';
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (!ok || x < lo || x > hi)
		return pp_err_set(err, PP_EINVAL, "%s must be an integer from %llu to %llu", name,
				  (unsigned long long)lo, (unsigned long long)hi);
	*out = x;
	return 0;
}

int pp_query_bool(const char *v, bool *out, const char *name, struct pp_err *err)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
		*out = v[0] == 't';
		return 0;
	}
	return pp_err_set(err, PP_EINVAL, "%s must be true or false", name);
}

int pp_query_enum(const char *v, const char *const *names, int *out, const char *name,
		  struct pp_err *err)
{
	char list[256] = "";
	size_t k = 0;
	for (int i = 0; names[i]; i++) {
		if (strcmp(names[i], v) == 0) {
			*out = i;
			return 0;
		}
		int w = snprintf(list + k, sizeof(list) - k, "%s%s", i ? ", " : "", names[i]);
		if (w > 0 && (size_t)w < sizeof(list) - k)
			k += (size_t)w;
	}
	return pp_err_set(err, PP_EINVAL, "%s must be one of: %s", name, list);
}

/* ---- cursors ---- */

uint64_t pp_query_digest(const char *const *values, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		const char *v = values[i];
		/* A marker byte tells an absent value from an empty one. */
		h = (h ^ (v ? 1u : 2u)) * 0x100000001b3ULL;
		for (; v && *v; v++)
			h = (h ^ (unsigned char)*v) * 0x100000001b3ULL;
		h = (h ^ 0xffu) * 0x100000001b3ULL;
	}
	return h;
}

static int wr_u64be(struct pp_writer *w, uint64_t v)
{
	int rc = pp_wr_u32be(w, (uint32_t)(v >> 32));
	return rc < 0 ? rc : pp_wr_u32be(w, (uint32_t)v);
}

static int rd_u64be(struct pp_reader *r, uint64_t *v)
{
	uint32_t hi, lo;
	int rc = pp_rd_u32be(r, &hi);
	if (rc == 0)
		rc = pp_rd_u32be(r, &lo);
	if (rc == 0)
		*v = (uint64_t)hi << 32 | lo;
	return rc;
}

int pp_cursor_encode(const struct pp_cursor *c, char *out, size_t cap)
{
	uint8_t raw[PP_CURSOR_HEX_MAX / 2];
	size_t tl = strnlen(c->text, sizeof(c->text));
	if (tl > PP_CURSOR_TEXT_MAX || cap < 2 * (28 + tl) + 1)
		return -PP_EINVAL;
	struct pp_writer w = pp_writer_make(raw, sizeof(raw));
	int rc = pp_wr_u8(&w, CURSOR_VERSION);
	if (rc == 0)
		rc = pp_wr_u8(&w, c->kind);
	if (rc == 0)
		rc = pp_wr_u8(&w, (uint8_t)(c->sort | (c->desc ? 0x80 : 0)));
	if (rc == 0)
		rc = wr_u64be(&w, c->filter);
	if (rc == 0)
		rc = wr_u64be(&w, (uint64_t)c->id);
	if (rc == 0)
		rc = wr_u64be(&w, (uint64_t)c->num);
	if (rc == 0)
		rc = pp_wr_u8(&w, (uint8_t)tl);
	if (rc == 0)
		rc = pp_wr_bytes(&w, c->text, tl);
	if (rc < 0)
		return -PP_EINVAL;
	pp_hex(raw, w.len, out);
	return 0;
}

static int cursor_read(struct pp_reader *r, struct pp_cursor *c)
{
	uint8_t ver, sort, tl;
	uint64_t id = 0, num = 0;
	int rc = pp_rd_u8(r, &ver);
	if (rc == 0)
		rc = pp_rd_u8(r, &c->kind);
	if (rc == 0)
		rc = pp_rd_u8(r, &sort);
	if (rc == 0)
		rc = rd_u64be(r, &c->filter);
	if (rc == 0)
		rc = rd_u64be(r, &id);
	if (rc == 0)
		rc = rd_u64be(r, &num);
	if (rc == 0)
		rc = pp_rd_u8(r, &tl);
	if (rc == 0 && (ver != CURSOR_VERSION || tl > PP_CURSOR_TEXT_MAX))
		rc = -PP_EINVAL;
	if (rc == 0)
		rc = pp_rd_bytes(r, c->text, tl);
	if (rc == 0)
		rc = pp_rd_expect_end(r);
	if (rc < 0)
		return rc;
	c->text[tl] = '\0';
	for (size_t i = 0; i < tl; i++)
		if (c->text[i] == '\0')
			return -PP_EINVAL;
	c->sort = sort & 0x7f;
	c->desc = (sort & 0x80) != 0;
	c->id = (int64_t)id;
	c->num = (int64_t)num;
	return 0;
}

int pp_cursor_decode(const char *text, const struct pp_cursor *want, struct pp_cursor *out,
		     struct pp_err *err)
{
	uint8_t raw[PP_CURSOR_HEX_MAX / 2];
	size_t n = strnlen(text, PP_CURSOR_HEX_MAX + 1);
	memset(out, 0, sizeof(*out));
	bool ok = n > 0 && n <= PP_CURSOR_HEX_MAX && n % 2 == 0;
	for (size_t i = 0; ok && i < n; i++)
		ok = (text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f');
	if (ok)
		ok = pp_unhex(text, raw, n / 2) == 0;
	struct pp_reader r = pp_reader_make(raw, n / 2);
	if (!ok || cursor_read(&r, out) < 0) {
		memset(out, 0, sizeof(*out));
		return pp_err_set(err, PP_EINVAL, "cursor is not one this server made");
	}
	if (out->kind != want->kind || out->sort != want->sort || out->desc != want->desc ||
	    out->filter != want->filter)
		return pp_err_set(err, PP_EINVAL,
				  "cursor belongs to another listing, sort or filter: start "
				  "again without it");
	return 0;
}
