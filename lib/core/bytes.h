/* Bounded byte cursors: every wire read and write goes through these.
 *
 * A reader fails (returns -PP_ETRUNC) rather than read past its end; a writer fails
 * (-PP_ETOOBIG) rather than write past its capacity. A growable buffer has a ceiling
 * fixed when it is created. All integers little-endian unless the name says _be. */
#ifndef PSKPROV_CORE_BYTES_H
#define PSKPROV_CORE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct pp_reader {
	const uint8_t *data;
	size_t len;
	size_t off;
};

static inline struct pp_reader pp_reader_make(const void *data, size_t len)
{
	struct pp_reader r = {.data = data, .len = len, .off = 0};
	return r;
}

static inline size_t pp_rd_left(const struct pp_reader *r)
{
	return r->len - r->off;
}

int pp_rd_u8(struct pp_reader *r, uint8_t *out) PP_WUR;
int pp_rd_u16le(struct pp_reader *r, uint16_t *out) PP_WUR;
int pp_rd_u32le(struct pp_reader *r, uint32_t *out) PP_WUR;
int pp_rd_u32be(struct pp_reader *r, uint32_t *out) PP_WUR;
int pp_rd_bytes(struct pp_reader *r, void *out, size_t n) PP_WUR;
/* Points *out at the next n bytes without copying. */
int pp_rd_view(struct pp_reader *r, const uint8_t **out, size_t n) PP_WUR;
int pp_rd_skip(struct pp_reader *r, size_t n) PP_WUR;
/* Fails with -PP_ETOOBIG when bytes are left: strict formats allow no trailing data. */
int pp_rd_expect_end(const struct pp_reader *r) PP_WUR;

struct pp_writer {
	uint8_t *data;
	size_t cap;
	size_t len;
};

static inline struct pp_writer pp_writer_make(void *data, size_t cap)
{
	struct pp_writer w = {.data = data, .cap = cap, .len = 0};
	return w;
}

int pp_wr_u8(struct pp_writer *w, uint8_t v) PP_WUR;
int pp_wr_u16le(struct pp_writer *w, uint16_t v) PP_WUR;
int pp_wr_u32le(struct pp_writer *w, uint32_t v) PP_WUR;
int pp_wr_u32be(struct pp_writer *w, uint32_t v) PP_WUR;
int pp_wr_bytes(struct pp_writer *w, const void *src, size_t n) PP_WUR;
int pp_wr_zeros(struct pp_writer *w, size_t n) PP_WUR;

/* Growable buffer with a ceiling. */
struct pp_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};

void pp_buf_init(struct pp_buf *b, size_t max);
int pp_buf_append(struct pp_buf *b, const void *src, size_t n) PP_WUR;
int pp_buf_append_str(struct pp_buf *b, const char *s) PP_WUR;
/* Room for extra more bytes (and a NUL) at once, so that appends in many small pieces
 * do not grow the buffer step by step; -PP_ETOOBIG past the ceiling. */
int pp_buf_reserve(struct pp_buf *b, size_t extra) PP_WUR;
int pp_buf_printf(struct pp_buf *b, const char *fmt, ...) PP_PRINTF(2, 3) PP_WUR;
/* Makes data a NUL-terminated string (the NUL is not counted in len). */
int pp_buf_cstr(struct pp_buf *b) PP_WUR;
void pp_buf_reset(struct pp_buf *b);
/* Frees; wipes first when the buffer may have held a secret. */
void pp_buf_free(struct pp_buf *b);
void pp_buf_free_wipe(struct pp_buf *b);

/* Overflow-checked arithmetic. */
static inline bool pp_add_ok(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}
static inline bool pp_mul_ok(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

#endif
