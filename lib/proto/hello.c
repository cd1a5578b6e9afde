/* AMT hello v2/v3 codec (docs/protocol.md section 2). */
#include "proto/hello.h"

#include <string.h>

#include "core/bytes.h"
#include "core/parse.h"

size_t pp_hello_hash_len(uint8_t type)
{
	switch (type) {
	case PP_HELLO_HASH_SHA1:
		return 20;
	case PP_HELLO_HASH_SHA256:
		return 32;
	case PP_HELLO_HASH_SHA384:
		return 48;
	default:
		return 0;
	}
}

static int pid_byte_ok(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/* Fields the two versions share, checked the same way by parse and write. */
static int check_admin(uint16_t v, const char *where, struct pp_err *err)
{
	if (v > 1)
		return pp_err_set(err, PP_EINVAL, "%s: AdminCredentialsSet is %u, expected 0 or 1",
				  where, (unsigned)v);
	return 0;
}

static int check_retry(uint32_t v, const char *where, struct pp_err *err)
{
	if (v > PP_HELLO_RETRY_MAX)
		return pp_err_set(err, PP_EINVAL, "%s: RetryCount is %lu, expected 0..%d", where,
				  (unsigned long)v, PP_HELLO_RETRY_MAX);
	return 0;
}

static int check_pid(const uint8_t *pid, const char *where, struct pp_err *err)
{
	for (size_t i = 0; i < PP_HELLO_PID_LEN; i++)
		if (!pid_byte_ok(pid[i]))
			/* The PID is public, but print the byte in hex: it came off the wire. */
			return pp_err_set(err, PP_EINVAL,
					  "%s: PID byte %zu is 0x%02x, expected 0-9 or A-Z", where,
					  i, pid[i]);
	return 0;
}

static int check_hash(uint8_t type, uint8_t len, size_t i, const char *where, struct pp_err *err)
{
	size_t want = pp_hello_hash_len(type);
	if (want == 0)
		return pp_err_set(err, PP_EINVAL,
				  "%s: hash %zu has type %u, expected 1 (SHA-1), 2 (SHA-256) or "
				  "3 (SHA-384)",
				  where, i, (unsigned)type);
	if (len != want)
		return pp_err_set(err, PP_EINVAL,
				  "%s: hash %zu of type %u has length %u, expected %zu", where, i,
				  (unsigned)type, (unsigned)len, want);
	return 0;
}

static int truncated(struct pp_err *err, const char *where, const char *field, size_t len)
{
	return pp_err_set(err, PP_ETRUNC, "%s: truncated in %s (%zu bytes)", where, field, len);
}

_Static_assert(PP_HELLO_MAX_HASHES == 255 && PP_HELLO_MAX_LEN == 12775,
	       "v3: hashCount is a u8 and the longest hash is SHA-384");

/* The hash entries of a v3 hello, from r. Checks only when dst is NULL (the first pass),
 * else fills dst[0..count). */
static int read_hashes(struct pp_reader *r, size_t count, struct pp_hello_hash *dst,
		       const char *where, size_t len, struct pp_err *err)
{
	for (size_t i = 0; i < count; i++) {
		struct pp_hello_hash e;
		int rc;
		if (pp_rd_u8(r, &e.type) < 0 || pp_rd_u8(r, &e.len) < 0)
			return pp_err_set(err, PP_ETRUNC,
					  "%s: truncated in hash %zu of %zu (%zu bytes)", where, i,
					  count, len);
		if ((rc = check_hash(e.type, e.len, i, where, err)) < 0)
			return rc;
		if (pp_rd_bytes(r, e.hash, e.len) < 0)
			return pp_err_set(err, PP_ETRUNC,
					  "%s: truncated in hash %zu of %zu (%zu bytes)", where, i,
					  count, len);
		if (dst) {
			memset(e.hash + e.len, 0, sizeof(e.hash) - e.len);
			dst[i] = e;
		}
	}
	return 0;
}

/* Header, UUID and the version's own fields into h (which may be NULL: check only). The
 * hashes are read by read_hashes from *r, left just after hashCount. */
static int read_fixed(struct pp_reader *r, size_t len, struct pp_hello *h, size_t *hash_count,
		      const char **where, struct pp_err *err)
{
	uint16_t admin, version;
	uint32_t retry;
	uint8_t smbios[16], pid[PP_HELLO_PID_LEN];
	int rc;

	*where = "hello";
	/* The version decides the layout, so it is read (and judged) first. */
	if (pp_rd_u16le(r, &admin) < 0 || pp_rd_u16le(r, &version) < 0)
		return truncated(err, *where, "header", len);
	if (version == PP_HELLO_V2)
		*where = "hello v2";
	else if (version == PP_HELLO_V3)
		*where = "hello v3";
	else
		return pp_err_set(err, PP_EVERSION,
				  "hello: InterfaceVersion %u is not supported (expected 2 or 3)",
				  (unsigned)version);
	if ((rc = check_admin(admin, *where, err)) < 0)
		return rc;
	if (pp_rd_u32le(r, &retry) < 0)
		return truncated(err, *where, "RetryCount", len);
	if ((rc = check_retry(retry, *where, err)) < 0)
		return rc;
	if (pp_rd_bytes(r, smbios, sizeof(smbios)) < 0)
		return truncated(err, *where, "UUID", len);
	*hash_count = 0;
	if (version == PP_HELLO_V2) {
		if (pp_rd_bytes(r, pid, sizeof(pid)) < 0)
			return truncated(err, *where, "PID", len);
		if ((rc = check_pid(pid, *where, err)) < 0)
			return rc;
	} else {
		uint8_t count;
		if (pp_rd_u8(r, &count) < 0)
			return truncated(err, *where, "hashCount", len);
		*hash_count = count;
	}
	if (h) {
		h->admin_credentials_set = admin;
		h->version = version;
		h->retry_count = retry;
		pp_uuid_from_smbios(smbios, h->uuid);
		if (version == PP_HELLO_V2) {
			memcpy(h->pid, pid, sizeof(pid));
			h->pid[PP_HELLO_PID_LEN] = '\0';
		}
		h->hash_count = *hash_count;
	}
	return 0;
}

/* Two passes over the input: the first checks everything, the second fills *out, so
 * *out stays unchanged on failure without a second 13 KB struct on the stack. */
int pp_hello_parse(const uint8_t *buf, size_t len, struct pp_hello *out, struct pp_err *err)
{
	const char *where;
	size_t count;
	int rc;

	if (!buf && len)
		return pp_err_set(err, PP_EINVAL, "hello: no buffer");
	if (!out)
		return pp_err_set(err, PP_EINVAL, "hello: no output");
	if (len > PP_HELLO_MAX_LEN)
		return pp_err_set(err, PP_ETOOBIG, "hello: %zu bytes, more than any hello (%d)",
				  len, PP_HELLO_MAX_LEN);
	struct pp_reader r = pp_reader_make(buf, len);
	if ((rc = read_fixed(&r, len, NULL, &count, &where, err)) < 0 ||
	    (rc = read_hashes(&r, count, NULL, where, len, err)) < 0)
		return rc;
	if (pp_rd_expect_end(&r) < 0)
		return pp_err_set(err, PP_ETOOBIG, "%s: %zu trailing bytes after the message",
				  where, pp_rd_left(&r));

	memset(out, 0, sizeof(*out));
	r = pp_reader_make(buf, len);
	if ((rc = read_fixed(&r, len, out, &count, &where, err)) < 0 ||
	    (rc = read_hashes(&r, count, out->hashes, where, len, err)) < 0)
		return rc; /* unreachable: the first pass read the same bytes */
	return 0;
}

/* v2 carries the PID and no hashes; adds its bytes to *need. */
static int check_v2_body(const struct pp_hello *h, const char *where, size_t *need,
			 struct pp_err *err)
{
	if (h->hash_count != 0)
		return pp_err_set(err, PP_EINVAL, "%s: has %zu hashes, but v2 carries none", where,
				  h->hash_count);
	if (memchr(h->pid, '\0', sizeof(h->pid)) != h->pid + PP_HELLO_PID_LEN)
		return pp_err_set(err, PP_EINVAL, "%s: PID is not %d characters", where,
				  PP_HELLO_PID_LEN);
	*need += PP_HELLO_PID_LEN;
	return check_pid((const uint8_t *)h->pid, where, err);
}

/* v3 carries the hash list and no PID; adds its bytes to *need. */
static int check_v3_body(const struct pp_hello *h, const char *where, size_t *need,
			 struct pp_err *err)
{
	int rc;
	if (h->pid[0] != '\0')
		return pp_err_set(err, PP_EINVAL, "%s: has a PID, but v3 carries none", where);
	if (h->hash_count > PP_HELLO_MAX_HASHES)
		return pp_err_set(err, PP_ETOOBIG, "%s: hash count %zu is over the cap of %d",
				  where, h->hash_count, PP_HELLO_MAX_HASHES);
	*need += 1;
	for (size_t i = 0; i < h->hash_count; i++) {
		const struct pp_hello_hash *e = &h->hashes[i];
		if ((rc = check_hash(e->type, e->len, i, where, err)) < 0)
			return rc;
		*need += 2 + (size_t)e->len; /* bounded by PP_HELLO_MAX_LEN */
	}
	return 0;
}

/* Writes a checked hello; fails only when w is too small. */
static int write_checked(struct pp_writer *w, const struct pp_hello *h)
{
	uint8_t smbios[16];
	pp_uuid_to_smbios(h->uuid, smbios);
	if (pp_wr_u16le(w, h->admin_credentials_set) < 0 || pp_wr_u16le(w, h->version) < 0 ||
	    pp_wr_u32le(w, h->retry_count) < 0 || pp_wr_bytes(w, smbios, sizeof(smbios)) < 0)
		return -PP_ETOOBIG;
	if (h->version == PP_HELLO_V2)
		return pp_wr_bytes(w, h->pid, PP_HELLO_PID_LEN);
	if (pp_wr_u8(w, (uint8_t)h->hash_count) < 0)
		return -PP_ETOOBIG;
	for (size_t i = 0; i < h->hash_count; i++) {
		const struct pp_hello_hash *e = &h->hashes[i];
		if (pp_wr_u8(w, e->type) < 0 || pp_wr_u8(w, e->len) < 0 ||
		    pp_wr_bytes(w, e->hash, e->len) < 0)
			return -PP_ETOOBIG;
	}
	return 0;
}

int pp_hello_write(const struct pp_hello *h, uint8_t *out, size_t cap, size_t *len,
		   struct pp_err *err)
{
	const char *where;
	size_t need = PP_HELLO_COMMON_LEN;
	int rc;

	if (h->version == PP_HELLO_V2)
		where = "hello v2";
	else if (h->version == PP_HELLO_V3)
		where = "hello v3";
	else
		return pp_err_set(err, PP_EVERSION,
				  "hello: cannot write InterfaceVersion %u (expected 2 or 3)",
				  (unsigned)h->version);
	if ((rc = check_admin(h->admin_credentials_set, where, err)) < 0 ||
	    (rc = check_retry(h->retry_count, where, err)) < 0)
		return rc;
	rc = h->version == PP_HELLO_V2 ? check_v2_body(h, where, &need, err)
				       : check_v3_body(h, where, &need, err);
	if (rc < 0)
		return rc;
	if (cap < need)
		return pp_err_set(err, PP_ETOOBIG, "%s: needs %zu bytes, buffer has %zu", where,
				  need, cap);
	struct pp_writer w = pp_writer_make(out, cap);
	if (write_checked(&w, h) < 0)
		/* Unreachable: need was checked against cap above. */
		return pp_err_set(err, PP_ETOOBIG, "%s: buffer of %zu bytes is too small", where,
				  cap);
	*len = w.len;
	return 0;
}

uint32_t pp_hello_retry_delay_ms(uint32_t retry_count)
{
	/* The wait before hello n+1 is the spacing of n+1's group of five. */
	if (retry_count >= PP_HELLO_RETRY_MAX)
		return PP_HELLO_NO_RETRY;
	uint32_t next = retry_count + 1;
	if (next < 5)
		return 60u * 1000u;
	if (next < 10)
		return 10u * 60u * 1000u;
	return 60u * 60u * 1000u;
}
