/* PTHI host-interface frames (docs/protocol.md section 5). */
#include "proto/pthi.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/bytes.h"
#include "core/parse.h"

#define CODE_VERSIONS_FIXED (PP_PTHI_BIOS_VERSION_LEN + 4)

const uint8_t pp_pthi_amthi_guid_le[16] = {0x28, 0x00, 0xf8, 0x12, 0xb7, 0xb4, 0x2d, 0x4b,
					   0xac, 0xa8, 0x46, 0xe0, 0xff, 0x65, 0x81, 0x4c};

struct status_name {
	uint32_t status;
	const char *name;
};

static const struct status_name status_names[] = {
    {PP_PTHI_STATUS_SUCCESS, "success"},
    {PP_PTHI_STATUS_INTERNAL_ERROR, "internal error"},
    {PP_PTHI_STATUS_NOT_READY, "not ready"},
    {PP_PTHI_STATUS_INVALID_AMT_MODE, "invalid AMT mode"},
    {PP_PTHI_STATUS_INVALID_MESSAGE_LENGTH, "invalid message length"},
    {PP_PTHI_STATUS_NOT_PERMITTED, "not permitted"},
    {PP_PTHI_STATUS_INVALID_PROVISIONING_STATE, "invalid provisioning state"},
    {PP_PTHI_STATUS_INVALID_PARAMETER, "invalid parameter"},
};

const char *pp_pthi_status_name(uint32_t status)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (status_names[i].status == status)
			return status_names[i].name;
	}
	return NULL;
}

static size_t code_versions_len(uint32_t count)
{
	/* count <= PP_PTHI_MAX_VERSIONS wherever this is called: no overflow. */
	return CODE_VERSIONS_FIXED + (size_t)count * PP_PTHI_VERSION_ENTRY_LEN;
}

int pp_pthi_header_encode(const struct pp_pthi_header *h, uint8_t *out, size_t cap,
			  struct pp_err *err)
{
	if (cap < PP_PTHI_HEADER_LEN)
		return pp_err_set(err, PP_ETOOBIG, "PTHI: header needs %d bytes, buffer has %zu",
				  PP_PTHI_HEADER_LEN, cap);
	struct pp_writer w = pp_writer_make(out, cap);
	if (pp_wr_u8(&w, h->major) < 0 || pp_wr_u8(&w, h->minor) < 0 ||
	    pp_wr_u16le(&w, h->reserved) < 0 || pp_wr_u32le(&w, h->command) < 0 ||
	    pp_wr_u32le(&w, h->length) < 0)
		return pp_err_set(err, PP_ETOOBIG, "PTHI: header does not fit");
	return 0;
}

int pp_pthi_header_decode(const uint8_t *buf, size_t len, struct pp_pthi_header *out,
			  struct pp_err *err)
{
	struct pp_reader r = pp_reader_make(buf, len);
	struct pp_pthi_header h;
	size_t frame;

	if (!buf && len)
		return pp_err_set(err, PP_EINVAL, "PTHI: no buffer");
	if (pp_rd_u8(&r, &h.major) < 0 || pp_rd_u8(&r, &h.minor) < 0 ||
	    pp_rd_u16le(&r, &h.reserved) < 0 || pp_rd_u32le(&r, &h.command) < 0 ||
	    pp_rd_u32le(&r, &h.length) < 0)
		return pp_err_set(err, PP_ETRUNC, "PTHI: truncated header (%zu of %d bytes)", len,
				  PP_PTHI_HEADER_LEN);
	if (h.major != PP_PTHI_MAJOR || h.minor != PP_PTHI_MINOR)
		return pp_err_set(err, PP_EVERSION,
				  "PTHI: header version %u.%u is not supported (expected %d.%d)",
				  (unsigned)h.major, (unsigned)h.minor, PP_PTHI_MAJOR,
				  PP_PTHI_MINOR);
	if (h.reserved != 0)
		return pp_err_set(err, PP_EINVAL,
				  "PTHI: reserved header field is 0x%04x, expected 0",
				  (unsigned)h.reserved);
	if (!pp_add_ok(PP_PTHI_HEADER_LEN, h.length, &frame) || frame > PP_PTHI_MAX_FRAME)
		return pp_err_set(err, PP_ETOOBIG,
				  "PTHI: payloadLength %lu makes the frame larger than %d bytes",
				  (unsigned long)h.length, PP_PTHI_MAX_FRAME);
	*out = h;
	return 0;
}

int pp_pthi_frame_remaining(const uint8_t *hdr, size_t hdr_len, size_t *remaining,
			    struct pp_err *err)
{
	struct pp_pthi_header h;
	int rc = pp_pthi_header_decode(hdr, hdr_len, &h, err);
	if (rc < 0)
		return rc;
	*remaining = h.length;
	return 0;
}

/* Checks that the buffer holds exactly the frame the header announces. */
static int check_frame_len(const struct pp_pthi_header *h, size_t len, const char *what,
			   struct pp_err *err)
{
	size_t frame = PP_PTHI_HEADER_LEN + (size_t)h->length; /* capped by header_decode */
	if (len < frame)
		return pp_err_set(err, PP_ETRUNC, "PTHI %s: truncated (%zu of %zu bytes)", what,
				  len, frame);
	if (len > frame)
		return pp_err_set(err, PP_ETOOBIG, "PTHI %s: %zu trailing bytes after the frame",
				  what, len - frame);
	return 0;
}

int pp_pthi_request_parse(const uint8_t *buf, size_t len, struct pp_pthi_request *req,
			  struct pp_err *err)
{
	struct pp_pthi_header h;
	const char *name;
	int rc;

	if ((rc = pp_pthi_header_decode(buf, len, &h, err)) < 0)
		return rc;
	if (h.command & PP_PTHI_RESPONSE_BIT)
		return pp_err_set(err, PP_EPROTO,
				  "PTHI request: command 0x%08lx has the response bit set",
				  (unsigned long)h.command);
	name = pp_pthi_command_name(h.command);
	if (!name)
		return pp_err_set(err, PP_EINVAL, "PTHI request: unknown command 0x%08lx",
				  (unsigned long)h.command);
	if (h.length != 0)
		return pp_err_set(err, PP_EPROTO,
				  "PTHI request %s: payloadLength is %lu, the command takes none",
				  name, (unsigned long)h.length);
	if ((rc = check_frame_len(&h, len, name, err)) < 0)
		return rc;
	req->command = h.command;
	return 0;
}

int pp_pthi_request_write(uint32_t command, uint8_t *out, size_t cap, size_t *len,
			  struct pp_err *err)
{
	struct pp_pthi_header h = {
	    .major = PP_PTHI_MAJOR,
	    .minor = PP_PTHI_MINOR,
	    .reserved = 0,
	    .command = command,
	    .length = 0,
	};
	int rc;

	if (!pp_pthi_command_name(command))
		return pp_err_set(err, PP_EINVAL, "PTHI request: unknown command 0x%08lx",
				  (unsigned long)command);
	if ((rc = pp_pthi_header_encode(&h, out, cap, err)) < 0)
		return rc;
	*len = PP_PTHI_HEADER_LEN;
	return 0;
}

static int printable(uint8_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* A string field of field_len bytes holding n characters then zeros. */
static int check_field(const uint8_t *p, size_t n, size_t field_len, const char *what,
		       const char *name, struct pp_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (!printable(p[i]))
			return pp_err_set(err, PP_EINVAL,
					  "PTHI %s: %s byte %zu is 0x%02x, not printable ASCII",
					  name, what, i, p[i]);
	for (size_t i = n; i < field_len; i++)
		if (p[i] != 0)
			return pp_err_set(err, PP_EINVAL,
					  "PTHI %s: %s padding byte %zu is 0x%02x, expected 0",
					  name, what, i, p[i]);
	return 0;
}

static int check_pid(const uint8_t *pid, const char *name, struct pp_err *err)
{
	for (size_t i = 0; i < PP_PTHI_PID_LEN; i++)
		if (!((pid[i] >= '0' && pid[i] <= '9') || (pid[i] >= 'A' && pid[i] <= 'Z')))
			return pp_err_set(err, PP_EINVAL,
					  "PTHI %s: PID byte %zu is 0x%02x, expected 0-9 or A-Z",
					  name, i, pid[i]);
	return 0;
}

static int check_state(uint32_t v, const char *name, struct pp_err *err)
{
	if (v > PP_PTHI_STATE_POST)
		return pp_err_set(err, PP_EINVAL,
				  "PTHI %s: provisioning state %lu, expected 0 (pre), 1 (in) or 2 "
				  "(post)",
				  name, (unsigned long)v);
	return 0;
}

static int check_tls_mode(uint32_t v, const char *name, struct pp_err *err)
{
	if (v != PP_PTHI_TLS_PSK && v != PP_PTHI_TLS_PKI)
		return pp_err_set(err, PP_EINVAL,
				  "PTHI %s: TLS mode %lu, expected 1 (PSK) or 2 (PKI)", name,
				  (unsigned long)v);
	return 0;
}

/* Length of a NUL-terminated string held in a char array of cap bytes; cap when it has
 * no NUL. */
static size_t bounded_len(const char *s, size_t cap)
{
	const char *nul = memchr(s, '\0', cap);
	return nul ? (size_t)(nul - s) : cap;
}

static int check_code_versions(const struct pp_pthi_code_versions *cv, const char *name,
			       struct pp_err *err)
{
	size_t n = bounded_len(cv->bios, sizeof(cv->bios));
	int rc;

	if (n >= sizeof(cv->bios))
		return pp_err_set(err, PP_EINVAL, "PTHI %s: BIOS version over %zu characters", name,
				  sizeof(cv->bios) - 1);
	if ((rc = check_field((const uint8_t *)cv->bios, n, n, "BIOS version", name, err)) < 0)
		return rc;
	if (cv->count > PP_PTHI_MAX_VERSIONS)
		return pp_err_set(err, PP_ETOOBIG, "PTHI %s: %lu version entries, the cap is %d",
				  name, (unsigned long)cv->count, PP_PTHI_MAX_VERSIONS);
	for (uint32_t i = 0; i < cv->count; i++) {
		const struct pp_pthi_version_entry *e = &cv->versions[i];
		const char *fields[2] = {e->description, e->version};
		for (int f = 0; f < 2; f++) {
			size_t fl = bounded_len(fields[f], PP_PTHI_VERSION_STRING_LEN + 1);
			if (fl > PP_PTHI_VERSION_STRING_LEN)
				return pp_err_set(err, PP_EINVAL,
						  "PTHI %s: entry %lu %s over %d characters", name,
						  (unsigned long)i, f ? "version" : "description",
						  PP_PTHI_VERSION_STRING_LEN);
			if ((rc = check_field((const uint8_t *)fields[f], fl, fl,
					      f ? "version" : "description", name, err)) < 0)
				return rc;
		}
	}
	return 0;
}

/* Reads one {u16 len, char[20]} string of a version entry. */
static int read_version_string(struct pp_reader *r, char out[PP_PTHI_VERSION_STRING_LEN + 1],
			       uint32_t i, const char *what, const char *name, struct pp_err *err)
{
	uint16_t n;
	const uint8_t *p;
	int rc;

	if (pp_rd_u16le(r, &n) < 0 || pp_rd_view(r, &p, PP_PTHI_VERSION_STRING_LEN) < 0)
		return pp_err_set(err, PP_EPROTO, "PTHI %s: entry %lu ends early", name,
				  (unsigned long)i);
	if (n > PP_PTHI_VERSION_STRING_LEN)
		return pp_err_set(err, PP_EINVAL,
				  "PTHI %s: entry %lu %s length %u, the field holds %d", name,
				  (unsigned long)i, what, (unsigned)n, PP_PTHI_VERSION_STRING_LEN);
	if ((rc = check_field(p, n, PP_PTHI_VERSION_STRING_LEN, what, name, err)) < 0)
		return rc;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int parse_code_versions(struct pp_reader *r, struct pp_pthi_code_versions *cv,
			       const char *name, struct pp_err *err)
{
	size_t data = pp_rd_left(r);
	const uint8_t *bios;
	int rc;

	if (data < CODE_VERSIONS_FIXED)
		return pp_err_set(err, PP_EPROTO, "PTHI %s: %zu data bytes, expected at least %d",
				  name, data, CODE_VERSIONS_FIXED);
	if (pp_rd_view(r, &bios, PP_PTHI_BIOS_VERSION_LEN) < 0 || pp_rd_u32le(r, &cv->count) < 0)
		return pp_err_set(err, PP_EPROTO, "PTHI %s: data ends early", name);
	if (cv->count > PP_PTHI_MAX_VERSIONS)
		return pp_err_set(err, PP_ETOOBIG, "PTHI %s: %lu version entries, the cap is %d",
				  name, (unsigned long)cv->count, PP_PTHI_MAX_VERSIONS);
	if (data != code_versions_len(cv->count))
		return pp_err_set(err, PP_EPROTO,
				  "PTHI %s: %zu data bytes, expected %zu for %lu entries", name,
				  data, code_versions_len(cv->count), (unsigned long)cv->count);
	const uint8_t *nul = memchr(bios, 0, PP_PTHI_BIOS_VERSION_LEN);
	if (!nul)
		return pp_err_set(err, PP_EINVAL, "PTHI %s: BIOS version is not NUL-terminated",
				  name);
	size_t n = (size_t)(nul - bios);
	if ((rc = check_field(bios, n, PP_PTHI_BIOS_VERSION_LEN, "BIOS version", name, err)) < 0)
		return rc;
	memcpy(cv->bios, bios, n);
	cv->bios[n] = '\0';
	for (uint32_t i = 0; i < cv->count; i++) {
		struct pp_pthi_version_entry *e = &cv->versions[i];
		if ((rc = read_version_string(r, e->description, i, "description", name, err)) < 0)
			return rc;
		if ((rc = read_version_string(r, e->version, i, "version", name, err)) < 0)
			return rc;
	}
	return 0;
}

/* ---- the commands' data, as a table ---- */

struct pthi_codec;
typedef int (*pthi_check_fn)(const struct pthi_codec *c, const struct pp_pthi_response *resp,
			     struct pp_err *err);
typedef int (*pthi_write_fn)(const struct pthi_codec *c, struct pp_writer *w,
			     const struct pp_pthi_response *resp);
typedef int (*pthi_read_fn)(const struct pthi_codec *c, struct pp_reader *r,
			    struct pp_pthi_response *out, struct pp_err *err);

#define DATA_VARIABLE SIZE_MAX

/* Each command: its data bytes in a successful response (DATA_VARIABLE: sized by the
 * data), how the data is checked before it is written, how it is written, and how it is
 * read (and checked as it is read). NULL: no such step. A command whose data is one u32
 * names the field (u32_off) and its range check (u32_ok) and uses the u32_* steps. */
struct pthi_codec {
	uint32_t command;
	const char *name;
	size_t data_len;
	pthi_check_fn check;
	pthi_write_fn write;
	pthi_read_fn read;
	size_t u32_off;
	int (*u32_ok)(uint32_t v, const char *name, struct pp_err *err);
};

static int short_data(const struct pthi_codec *c, struct pp_err *err)
{
	/* Unreachable: the data length is checked before any of it is read. */
	return pp_err_set(err, PP_EPROTO, "PTHI %s response: data ends early", c->name);
}

static uint32_t u32_of(const struct pthi_codec *c, const struct pp_pthi_response *resp)
{
	uint32_t v;
	memcpy(&v, (const uint8_t *)resp + c->u32_off, sizeof(v));
	return v;
}

static int u32_check(const struct pthi_codec *c, const struct pp_pthi_response *resp,
		     struct pp_err *err)
{
	return c->u32_ok(u32_of(c, resp), c->name, err);
}

static int u32_write(const struct pthi_codec *c, struct pp_writer *w,
		     const struct pp_pthi_response *resp)
{
	return pp_wr_u32le(w, u32_of(c, resp));
}

static int u32_read(const struct pthi_codec *c, struct pp_reader *r, struct pp_pthi_response *out,
		    struct pp_err *err)
{
	uint32_t v;
	if (pp_rd_u32le(r, &v) < 0)
		return short_data(c, err);
	memcpy((uint8_t *)out + c->u32_off, &v, sizeof(v));
	return c->u32_ok(v, c->name, err);
}

/* The UUID travels in SMBIOS byte order (docs/protocol.md section 5). */
static int uuid_write(const struct pthi_codec *c, struct pp_writer *w,
		      const struct pp_pthi_response *resp)
{
	uint8_t smbios[16];
	(void)c;
	pp_uuid_to_smbios(resp->uuid, smbios);
	return pp_wr_bytes(w, smbios, sizeof(smbios));
}

static int uuid_read(const struct pthi_codec *c, struct pp_reader *r, struct pp_pthi_response *out,
		     struct pp_err *err)
{
	uint8_t smbios[16];
	if (pp_rd_bytes(r, smbios, sizeof(smbios)) < 0)
		return short_data(c, err);
	pp_uuid_from_smbios(smbios, out->uuid);
	return 0;
}

static int pid_check(const struct pthi_codec *c, const struct pp_pthi_response *resp,
		     struct pp_err *err)
{
	if (memchr(resp->pid, '\0', sizeof(resp->pid)) != resp->pid + PP_PTHI_PID_LEN)
		return pp_err_set(err, PP_EINVAL, "PTHI %s: PID is not %d characters", c->name,
				  PP_PTHI_PID_LEN);
	return check_pid((const uint8_t *)resp->pid, c->name, err);
}

static int pid_write(const struct pthi_codec *c, struct pp_writer *w,
		     const struct pp_pthi_response *resp)
{
	(void)c;
	return pp_wr_bytes(w, resp->pid, PP_PTHI_PID_LEN);
}

static int pid_read(const struct pthi_codec *c, struct pp_reader *r, struct pp_pthi_response *out,
		    struct pp_err *err)
{
	const uint8_t *pid;
	int rc;
	if (pp_rd_view(r, &pid, PP_PTHI_PID_LEN) < 0)
		return short_data(c, err);
	if ((rc = check_pid(pid, c->name, err)) < 0)
		return rc;
	memcpy(out->pid, pid, PP_PTHI_PID_LEN);
	out->pid[PP_PTHI_PID_LEN] = '\0';
	return 0;
}

static int code_versions_check(const struct pthi_codec *c, const struct pp_pthi_response *resp,
			       struct pp_err *err)
{
	return check_code_versions(&resp->code_versions, c->name, err);
}

/* A {u16 length, char[20]} string, zero-padded. */
static int version_string_write(struct pp_writer *w, const char *s)
{
	size_t n = strlen(s); /* checked: <= PP_PTHI_VERSION_STRING_LEN */
	if (pp_wr_u16le(w, (uint16_t)n) < 0 || pp_wr_bytes(w, s, n) < 0)
		return -PP_ETOOBIG;
	return pp_wr_zeros(w, PP_PTHI_VERSION_STRING_LEN - n);
}

static int code_versions_write(const struct pthi_codec *c, struct pp_writer *w,
			       const struct pp_pthi_response *resp)
{
	const struct pp_pthi_code_versions *cv = &resp->code_versions;
	size_t n = strlen(cv->bios); /* checked: NUL within the array */
	(void)c;
	if (pp_wr_bytes(w, cv->bios, n) < 0 || pp_wr_zeros(w, PP_PTHI_BIOS_VERSION_LEN - n) < 0 ||
	    pp_wr_u32le(w, cv->count) < 0)
		return -PP_ETOOBIG;
	for (uint32_t i = 0; i < cv->count; i++) {
		if (version_string_write(w, cv->versions[i].description) < 0 ||
		    version_string_write(w, cv->versions[i].version) < 0)
			return -PP_ETOOBIG;
	}
	return 0;
}

static int code_versions_read(const struct pthi_codec *c, struct pp_reader *r,
			      struct pp_pthi_response *out, struct pp_err *err)
{
	return parse_code_versions(r, &out->code_versions, c->name, err);
}

#define U32_DATA(field, ok)                                                                        \
	4, u32_check, u32_write, u32_read, offsetof(struct pp_pthi_response, field), ok

static const struct pthi_codec codecs[] = {
    {PP_PTHI_GET_PROVISIONING_STATE, "GetProvisioningState",
     U32_DATA(provisioning_state, check_state)},
    {PP_PTHI_GET_CODE_VERSIONS, "GetCodeVersions", DATA_VARIABLE, code_versions_check,
     code_versions_write, code_versions_read, 0, NULL},
    {PP_PTHI_CFG_START_CONFIGURATION, "CFG_StartConfiguration", 0, NULL, NULL, NULL, 0, NULL},
    {PP_PTHI_GET_PROVISIONING_TLS_MODE, "GetProvisioningTLSMode",
     U32_DATA(tls_mode, check_tls_mode)},
    {PP_PTHI_CFG_GET_PID, "CFG_GetPID", PP_PTHI_PID_LEN, pid_check, pid_write, pid_read, 0, NULL},
    {PP_PTHI_GET_UUID, "GetUUID", 16, NULL, uuid_write, uuid_read, 0, NULL},
};

static const struct pthi_codec *codec_find(uint32_t command)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		if (codecs[i].command == command)
			return &codecs[i];
	}
	return NULL;
}

const char *pp_pthi_command_name(uint32_t command)
{
	const struct pthi_codec *c = codec_find(command);
	return c ? c->name : NULL;
}

/* Data bytes of a checked successful response. */
static size_t response_data_len(const struct pthi_codec *c, const struct pp_pthi_response *resp)
{
	return c->data_len == DATA_VARIABLE ? code_versions_len(resp->code_versions.count)
					    : c->data_len;
}

int pp_pthi_response_write(const struct pp_pthi_response *resp, uint8_t *out, size_t cap,
			   size_t *len, struct pp_err *err)
{
	const struct pthi_codec *c = codec_find(resp->command);
	bool success = resp->status == PP_PTHI_STATUS_SUCCESS;
	size_t data_len = 0;
	int rc;

	if (!c)
		return pp_err_set(err, PP_EINVAL, "PTHI response: unknown command 0x%08lx",
				  (unsigned long)resp->command);
	if (success) {
		if (c->check && (rc = c->check(c, resp, err)) < 0)
			return rc;
		data_len = response_data_len(c, resp);
	}
	size_t frame = PP_PTHI_HEADER_LEN + 4 + data_len; /* at most 2285 bytes */
	if (cap < frame)
		return pp_err_set(err, PP_ETOOBIG,
				  "PTHI %s: response needs %zu bytes, buffer has %zu", c->name,
				  frame, cap);

	struct pp_pthi_header h = {
	    .major = PP_PTHI_MAJOR,
	    .minor = PP_PTHI_MINOR,
	    .reserved = 0,
	    .command = resp->command | PP_PTHI_RESPONSE_BIT,
	    .length = (uint32_t)(4 + data_len),
	};
	if ((rc = pp_pthi_header_encode(&h, out, cap, err)) < 0)
		return rc;
	struct pp_writer w = pp_writer_make(out, cap);
	w.len = PP_PTHI_HEADER_LEN;
	if (pp_wr_u32le(&w, resp->status) < 0 || (success && c->write && c->write(c, &w, resp) < 0))
		/* Unreachable: frame was checked against cap above. */
		return pp_err_set(err, PP_ETOOBIG, "PTHI %s: buffer of %zu bytes is too small",
				  c->name, cap);
	*len = w.len;
	return 0;
}

/* Header, command and frame length of a response to the command named name. */
static int response_header(const uint8_t *buf, size_t len, uint32_t expected_command,
			   const char *name, struct pp_pthi_header *h, struct pp_err *err)
{
	int rc;
	if ((rc = pp_pthi_header_decode(buf, len, h, err)) < 0) {
		pp_err_prefix(err, "%s response", name);
		return rc;
	}
	if (!(h->command & PP_PTHI_RESPONSE_BIT))
		return pp_err_set(err, PP_EPROTO,
				  "PTHI %s response: command 0x%08lx lacks the response bit", name,
				  (unsigned long)h->command);
	if ((h->command & ~PP_PTHI_RESPONSE_BIT) != expected_command)
		return pp_err_set(err, PP_EPROTO,
				  "PTHI %s response: answers command 0x%08lx, expected 0x%08lx",
				  name, (unsigned long)h->command,
				  (unsigned long)(expected_command | PP_PTHI_RESPONSE_BIT));
	if (h->length < 4)
		return pp_err_set(err, PP_EPROTO,
				  "PTHI %s response: payloadLength %lu has no room for the status",
				  name, (unsigned long)h->length);
	return check_frame_len(h, len, name, err);
}

/* A status other than success carries no data; it is returned (in *resp) as -PP_ESTATE. */
static int response_failed(struct pp_reader *r, const struct pp_pthi_response *out,
			   const char *name, struct pp_pthi_response *resp, struct pp_err *err)
{
	if (pp_rd_left(r) != 0)
		return pp_err_set(err, PP_EPROTO,
				  "PTHI %s response: status 0x%lx with %zu data bytes, expected "
				  "none",
				  name, (unsigned long)out->status, pp_rd_left(r));
	const char *sname = pp_pthi_status_name(out->status);
	*resp = *out;
	return pp_err_set(err, PP_ESTATE, "PTHI %s: device returned status 0x%lx (%s)", name,
			  (unsigned long)out->status, sname ? sname : "unknown status");
}

int pp_pthi_response_parse(const uint8_t *buf, size_t len, uint32_t expected_command,
			   struct pp_pthi_response *resp, struct pp_err *err)
{
	const struct pthi_codec *c = codec_find(expected_command);
	struct pp_pthi_response out = {.command = expected_command};
	struct pp_pthi_header h;
	int rc;

	if (!c)
		return pp_err_set(err, PP_EINVAL,
				  "PTHI response: expected command 0x%08lx is unknown",
				  (unsigned long)expected_command);
	if ((rc = response_header(buf, len, expected_command, c->name, &h, err)) < 0)
		return rc;
	struct pp_reader r = pp_reader_make(buf + PP_PTHI_HEADER_LEN, h.length);
	if (pp_rd_u32le(&r, &out.status) < 0)
		return pp_err_set(err, PP_ETRUNC, "PTHI %s response: truncated status", c->name);
	if (out.status != PP_PTHI_STATUS_SUCCESS)
		return response_failed(&r, &out, c->name, resp, err);
	if (c->data_len != DATA_VARIABLE && pp_rd_left(&r) != c->data_len)
		return pp_err_set(err, PP_EPROTO, "PTHI %s response: %zu data bytes, expected %zu",
				  c->name, pp_rd_left(&r), c->data_len);
	if (c->read && (rc = c->read(c, &r, &out, err)) < 0)
		return rc;
	if (pp_rd_expect_end(&r) < 0)
		return pp_err_set(err, PP_EPROTO, "PTHI %s response: %zu unread data bytes",
				  c->name, pp_rd_left(&r));
	*resp = out;
	return 0;
}
