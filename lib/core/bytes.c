#include "core/bytes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secret.h"

int pp_rd_view(struct pp_reader *r, const uint8_t **out, size_t n)
{
	if (n > pp_rd_left(r))
		return -PP_ETRUNC;
	*out = r->data + r->off;
	r->off += n;
	return 0;
}

int pp_rd_bytes(struct pp_reader *r, void *out, size_t n)
{
	const uint8_t *p;
	int rc = pp_rd_view(r, &p, n);
	if (rc < 0)
		return rc;
	if (n)
		memcpy(out, p, n);
	return 0;
}

int pp_rd_skip(struct pp_reader *r, size_t n)
{
	const uint8_t *p;
	return pp_rd_view(r, &p, n);
}

int pp_rd_u8(struct pp_reader *r, uint8_t *out)
{
	const uint8_t *p;
	int rc = pp_rd_view(r, &p, 1);
	if (rc < 0)
		return rc;
	*out = p[0];
	return 0;
}

int pp_rd_u16le(struct pp_reader *r, uint16_t *out)
{
	const uint8_t *p;
	int rc = pp_rd_view(r, &p, 2);
	if (rc < 0)
		return rc;
	*out = (uint16_t)(p[0] | (p[1] << 8));
	return 0;
}

int pp_rd_u32le(struct pp_reader *r, uint32_t *out)
{
	const uint8_t *p;
	int rc = pp_rd_view(r, &p, 4);
	if (rc < 0)
		return rc;
	*out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return 0;
}

int pp_rd_u32be(struct pp_reader *r, uint32_t *out)
{
	const uint8_t *p;
	int rc = pp_rd_view(r, &p, 4);
	if (rc < 0)
		return rc;
	*out = (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
	return 0;
}

int pp_rd_expect_end(const struct pp_reader *r)
{
	return pp_rd_left(r) == 0 ? 0 : -PP_ETOOBIG;
}

int pp_wr_bytes(struct pp_writer *w, const void *src, size_t n)
{
	if (n > w->cap - w->len)
		return -PP_ETOOBIG;
	if (n)
		memcpy(w->data + w->len, src, n);
	w->len += n;
	return 0;
}

int pp_wr_zeros(struct pp_writer *w, size_t n)
{
	if (n > w->cap - w->len)
		return -PP_ETOOBIG;
	memset(w->data + w->len, 0, n);
	w->len += n;
	return 0;
}

int pp_wr_u8(struct pp_writer *w, uint8_t v)
{
	return pp_wr_bytes(w, &v, 1);
}

int pp_wr_u16le(struct pp_writer *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	return pp_wr_bytes(w, b, 2);
}

int pp_wr_u32le(struct pp_writer *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	return pp_wr_bytes(w, b, 4);
}

int pp_wr_u32be(struct pp_writer *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	return pp_wr_bytes(w, b, 4);
}

void pp_buf_init(struct pp_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static int buf_reserve(struct pp_buf *b, size_t extra)
{
	size_t need;
	/* +1 keeps room for the NUL of pp_buf_cstr. */
	if (!pp_add_ok(b->len, extra, &need) || !pp_add_ok(need, 1, &need))
		return -PP_ETOOBIG;
	if (need - 1 > b->max)
		return -PP_ETOOBIG;
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (!pp_mul_ok(ncap, 2, &ncap))
			return -PP_ETOOBIG;
	}
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	uint8_t *p = malloc(ncap);
	if (!p)
		return -PP_ENOMEM;
	if (b->len)
		memcpy(p, b->data, b->len);
	/* Move rather than realloc so an old copy of a secret is wiped, never left. */
	if (b->data) {
		pp_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

int pp_buf_reserve(struct pp_buf *b, size_t extra)
{
	return buf_reserve(b, extra);
}

int pp_buf_append(struct pp_buf *b, const void *src, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc < 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, src, n);
	b->len += n;
	return 0;
}

int pp_buf_append_str(struct pp_buf *b, const char *s)
{
	return pp_buf_append(b, s, strlen(s));
}

int pp_buf_printf(struct pp_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -PP_EINVAL;
	int rc = buf_reserve(b, (size_t)n);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int pp_buf_cstr(struct pp_buf *b)
{
	int rc = buf_reserve(b, 0);
	if (rc < 0)
		return rc;
	b->data[b->len] = '\0';
	return 0;
}

void pp_buf_reset(struct pp_buf *b)
{
	b->len = 0;
}

void pp_buf_free(struct pp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void pp_buf_free_wipe(struct pp_buf *b)
{
	if (b->data)
		pp_wipe(b->data, b->cap);
	pp_buf_free(b);
}
