/* USB setup file (setup.bin): docs/protocol.md section 6. See setupbin.h for the
 * strictness decisions. */
#include "proto/setupbin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"

/* File type GUIDs, raw bytes (docs/protocol.md section 6). */
static const uint8_t usb_guids[PP_USB_VERSION_MAX][16] = {
    {0xb5, 0x16, 0xfb, 0x71, 0x87, 0xcb, 0xf9, 0x4a, 0xb4, 0x41, 0xca, 0x7b, 0x38, 0x35, 0x78,
     0xf9},
    {0x96, 0xb2, 0x81, 0x58, 0xcf, 0x6b, 0x72, 0x4c, 0x8b, 0x91, 0xa1, 0x5e, 0x51, 0x2e, 0x99,
     0xc4},
    {0xa7, 0xf7, 0xf6, 0xc6, 0x89, 0xc4, 0xf6, 0x47, 0x93, 0xed, 0xe2, 0xe5, 0x02, 0x0d, 0xa5,
     0x1d},
    {0xaa, 0xa9, 0x34, 0x52, 0xe1, 0x29, 0xa9, 0x44, 0x8d, 0x4d, 0x08, 0x1c, 0x07, 0xb9, 0x63,
     0x53},
};

/* The variables docs/protocol.md names, sorted by (module, variable). Lengths: MEBx
 * passwords are at most 32 characters; PID and PPS are exact (section 1, no dashes);
 * a host name is one DNS label (63); FQDN and domain at most 255. */
static const struct pp_usb_var_info usb_catalogue[] = {
    {1, 1, "current MEBx password", PP_USB_VT_STRING, 1, 32, true},
    {1, 2, "new MEBx password", PP_USB_VT_STRING, 1, 32, true},
    {1, 3, "manageability selection", PP_USB_VT_U8, 1, 1, false},
    {1, 6, "power package", PP_USB_VT_GUID, 16, 16, false},
    {2, 1, "PID", PP_USB_VT_STRING, 8, 8, false},
    {2, 2, "PPS", PP_USB_VT_STRING, 32, 32, true},
    {2, 4, "configuration server FQDN", PP_USB_VT_STRING, 1, 255, false},
    {2, 10, "SOL/IDER", PP_USB_VT_U8, 1, 1, false},
    {2, 11, "host name", PP_USB_VT_STRING, 1, 63, false},
    {2, 12, "domain", PP_USB_VT_STRING, 1, 255, false},
    {2, 13, "DHCP", PP_USB_VT_U8, 1, 1, false},
    {2, 17, "configuration server IPv4", PP_USB_VT_IPV4_REV, 4, 4, false},
    {2, 18, "configuration server port", PP_USB_VT_U16, 2, 2, false},
    {2, 29, "manual setup", PP_USB_VT_U8, 1, 1, false},
};

#define N_CATALOGUE (sizeof(usb_catalogue) / sizeof(usb_catalogue[0]))
#define MAX_VALUE_LEN (PP_USB_BODY_LEN - PP_USB_ENTRY_HEADER)

static uint32_t var_key(uint16_t module, uint16_t variable)
{
	return (uint32_t)module << 16 | variable;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static bool all_zero(const uint8_t *p, size_t n, size_t *first_nonzero)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i]) {
			*first_nonzero = i;
			return false;
		}
	}
	return true;
}

/* ---- catalogue ---- */

const struct pp_usb_var_info *pp_usb_var_lookup(uint16_t module, uint16_t variable)
{
	for (size_t i = 0; i < N_CATALOGUE; i++) {
		if (usb_catalogue[i].module == module && usb_catalogue[i].variable == variable)
			return &usb_catalogue[i];
	}
	return NULL;
}

const struct pp_usb_var_info *pp_usb_var_catalogue(size_t *count)
{
	if (count)
		*count = N_CATALOGUE;
	return usb_catalogue;
}

const char *pp_usb_vtype_str(enum pp_usb_vtype t)
{
	switch (t) {
	case PP_USB_VT_BYTES:
		return "bytes";
	case PP_USB_VT_STRING:
		return "string";
	case PP_USB_VT_U8:
		return "u8";
	case PP_USB_VT_U16:
		return "u16";
	case PP_USB_VT_IPV4_REV:
		return "ipv4";
	case PP_USB_VT_GUID:
		return "guid";
	}
	return "?";
}

int pp_usb_var_check(uint16_t module, uint16_t variable, const uint8_t *value, size_t len,
		     struct pp_err *err)
{
	if (module == 0 || variable == 0)
		return pp_err_set(err, PP_EINVAL,
				  "variable %u/%u: module and variable must be non-zero", module,
				  variable);
	if (len > MAX_VALUE_LEN)
		return pp_err_set(err, PP_ETOOBIG,
				  "variable %u/%u: %zu bytes, a record body holds at most %d",
				  module, variable, len, MAX_VALUE_LEN);
	if (len && !value)
		return pp_err_set(err, PP_EINVAL, "variable %u/%u: no value", module, variable);
	const struct pp_usb_var_info *vi = pp_usb_var_lookup(module, variable);
	if (!vi)
		return 0;
	if (len < vi->min_len || len > vi->max_len) {
		if (vi->min_len == vi->max_len)
			return pp_err_set(err, PP_EINVAL,
					  "variable %u/%u (%s): length %zu, expected %u", module,
					  variable, vi->name, len, vi->min_len);
		return pp_err_set(err, PP_EINVAL,
				  "variable %u/%u (%s): length %zu, expected %u..%u", module,
				  variable, vi->name, len, vi->min_len, vi->max_len);
	}
	if (vi->type == PP_USB_VT_STRING && memchr(value, 0, len))
		return pp_err_set(err, PP_EINVAL, "variable %u/%u (%s): string holds a NUL byte",
				  module, variable, vi->name);
	return 0;
}

/* ---- file type ---- */

const uint8_t *pp_usb_guid(unsigned version)
{
	if (version < PP_USB_VERSION_MIN || version > PP_USB_VERSION_MAX)
		return NULL;
	return usb_guids[version - 1];
}

unsigned pp_usb_version_from_guid(const uint8_t guid[16])
{
	for (unsigned v = PP_USB_VERSION_MIN; v <= PP_USB_VERSION_MAX; v++) {
		if (memcmp(guid, usb_guids[v - 1], 16) == 0)
			return v;
	}
	return 0;
}

const char *pp_usb_note_str(uint32_t note)
{
	switch (note) {
	case PP_USB_NOTE_HEADER_BYTES:
		return "RecordHeaderBytes is not 42 + 2 x modules";
	case PP_USB_NOTE_MODULE_LIST:
		return "module list differs from the modules the records use";
	case PP_USB_NOTE_CONSUMED:
		return "DataRecordsConsumed differs from the records whose valid bit is clear";
	case PP_USB_NOTE_HDR_FLAGS:
		return "unknown header flag bits";
	case PP_USB_NOTE_REC_FLAGS:
		return "unknown record flag bits";
	default:
		return "unknown note";
	}
}

/* ---- header ---- */

int pp_usb_header_init(struct pp_usb_header *h, unsigned version, uint16_t flags,
		       uint32_t data_record_count, struct pp_err *err)
{
	memset(h, 0, sizeof(*h));
	if (!pp_usb_guid(version))
		return pp_err_set(err, PP_EVERSION, "setup.bin version %u: only 1 to 4 exist",
				  version);
	h->version = (uint8_t)version;
	h->record_chunk_count = 1;
	h->record_header_bytes = PP_USB_HEADER_FIXED + 2;
	h->major = (uint8_t)version;
	h->flags = flags;
	h->data_record_count = data_record_count;
	h->data_record_chunk_count = 1;
	return 0;
}

int pp_usb_header_add_module(struct pp_usb_header *h, uint16_t module, struct pp_err *err)
{
	if (module == 0)
		return pp_err_set(err, PP_EINVAL, "module 0 ends the module list");
	if (h->n_modules > PP_USB_MODULES_MAX)
		return pp_err_set(err, PP_EINVAL, "module list: bad count");
	size_t i = 0;
	while (i < h->n_modules && h->modules[i] < module)
		i++;
	if (i < h->n_modules && h->modules[i] == module)
		return 0;
	if (h->n_modules == PP_USB_MODULES_MAX)
		return pp_err_set(err, PP_ETOOBIG, "module list: more than %d modules",
				  PP_USB_MODULES_MAX);
	memmove(&h->modules[i + 1], &h->modules[i], (h->n_modules - i) * sizeof(h->modules[0]));
	h->modules[i] = module;
	h->n_modules++;
	h->record_header_bytes = (uint16_t)(PP_USB_HEADER_FIXED + 2 + 2 * h->n_modules);
	return 0;
}

int pp_usb_header_parse(const uint8_t *block, size_t len, struct pp_usb_header *out,
			struct pp_err *err)
{
	memset(out, 0, sizeof(*out));
	if (len < PP_USB_BLOCK)
		return pp_err_set(err, PP_ETRUNC, "header: %zu bytes, a block is %d", len,
				  PP_USB_BLOCK);
	if (len > PP_USB_BLOCK)
		return pp_err_set(err, PP_ETOOBIG, "header: %zu bytes, a block is %d", len,
				  PP_USB_BLOCK);

	struct pp_reader r = pp_reader_make(block, PP_USB_BLOCK);
	const uint8_t *guid;
	uint16_t reserved;
	if (pp_rd_view(&r, &guid, 16) < 0 || pp_rd_u16le(&r, &out->record_chunk_count) < 0 ||
	    pp_rd_u16le(&r, &out->record_header_bytes) < 0 ||
	    pp_rd_u32le(&r, &out->record_number) < 0 || pp_rd_u8(&r, &out->major) < 0 ||
	    pp_rd_u8(&r, &out->minor) < 0 || pp_rd_u16le(&r, &out->flags) < 0 ||
	    pp_rd_u32le(&r, &out->data_record_count) < 0 ||
	    pp_rd_u32le(&r, &out->data_records_consumed) < 0 ||
	    pp_rd_u16le(&r, &out->data_record_chunk_count) < 0 || pp_rd_u16le(&r, &reserved) < 0)
		return pp_err_set(err, PP_ETRUNC, "header: cut off");

	unsigned version = pp_usb_version_from_guid(guid);
	if (!version) {
		char hex[33];
		pp_hex(guid, 16, hex);
		return pp_err_set(err, PP_EVERSION,
				  "header: unknown file type GUID %s (known: versions 1 to 4)",
				  hex);
	}
	out->version = (uint8_t)version;
	/* Intel's files say 4.0 at bytes 24/25 under the version 4 GUID: the major version
	 * must name the same layout as the GUID; the minor is compatible by definition. */
	if (out->major != version)
		return pp_err_set(err, PP_EVERSION,
				  "header: version %u.%u does not match the version %u file type",
				  out->major, out->minor, version);
	if (out->record_chunk_count != 1)
		return pp_err_set(err, PP_EINVAL, "header: RecordChunkCount %u, expected 1",
				  out->record_chunk_count);
	if (out->record_number != 0)
		return pp_err_set(err, PP_EINVAL, "header: RecordNumber %u, expected 0",
				  out->record_number);
	if (out->data_record_chunk_count != 1)
		return pp_err_set(err, PP_EINVAL, "header: DataRecordChunkCount %u, expected 1",
				  out->data_record_chunk_count);
	if (reserved != 0)
		return pp_err_set(err, PP_EINVAL, "header: reserved field is %u, expected 0",
				  reserved);
	if (out->data_records_consumed > out->data_record_count)
		return pp_err_set(err, PP_EINVAL,
				  "header: DataRecordsConsumed %u exceeds DataRecordCount %u",
				  out->data_records_consumed, out->data_record_count);

	for (;;) {
		uint16_t m;
		if (pp_rd_u16le(&r, &m) < 0)
			return pp_err_set(err, PP_EINVAL, "header: module list not terminated");
		if (m == 0)
			break;
		if (out->n_modules == PP_USB_MODULES_MAX)
			return pp_err_set(err, PP_ETOOBIG, "header: more than %d modules",
					  PP_USB_MODULES_MAX);
		out->modules[out->n_modules++] = m;
	}
	size_t bad;
	if (!all_zero(block + r.off, PP_USB_BLOCK - r.off, &bad))
		return pp_err_set(err, PP_EINVAL,
				  "header: byte %zu after the module list is not zero",
				  r.off + bad);

	if (out->record_header_bytes != PP_USB_HEADER_FIXED + 2 + 2 * out->n_modules)
		out->notes |= PP_USB_NOTE_HEADER_BYTES;
	if (out->flags & ~PP_USB_HDR_NO_CONSUME)
		out->notes |= PP_USB_NOTE_HDR_FLAGS;
	return 0;
}

int pp_usb_header_write(const struct pp_usb_header *h, uint8_t out[PP_USB_BLOCK],
			struct pp_err *err)
{
	const uint8_t *guid = pp_usb_guid(h->version);
	if (!guid)
		return pp_err_set(err, PP_EVERSION, "header: version %u: only 1 to 4 exist",
				  h->version);
	if (h->major != h->version)
		return pp_err_set(err, PP_EVERSION,
				  "header: major version %u does not match version %u", h->major,
				  h->version);
	if (h->record_chunk_count != 1 || h->data_record_chunk_count != 1)
		return pp_err_set(err, PP_EINVAL, "header: chunk counts must be 1");
	if (h->record_number != 0)
		return pp_err_set(err, PP_EINVAL, "header: RecordNumber must be 0");
	if (h->data_records_consumed > h->data_record_count)
		return pp_err_set(err, PP_EINVAL,
				  "header: DataRecordsConsumed %u exceeds DataRecordCount %u",
				  h->data_records_consumed, h->data_record_count);
	if (h->n_modules > PP_USB_MODULES_MAX)
		return pp_err_set(err, PP_ETOOBIG, "header: more than %d modules",
				  PP_USB_MODULES_MAX);
	for (size_t i = 0; i < h->n_modules; i++) {
		if (h->modules[i] == 0)
			return pp_err_set(err, PP_EINVAL, "header: module 0 in the module list");
	}

	memset(out, 0, PP_USB_BLOCK);
	struct pp_writer w = pp_writer_make(out, PP_USB_BLOCK);
	int rc = pp_wr_bytes(&w, guid, 16);
	if (!rc)
		rc = pp_wr_u16le(&w, h->record_chunk_count);
	if (!rc)
		rc = pp_wr_u16le(&w, h->record_header_bytes);
	if (!rc)
		rc = pp_wr_u32le(&w, h->record_number);
	if (!rc)
		rc = pp_wr_u8(&w, h->major);
	if (!rc)
		rc = pp_wr_u8(&w, h->minor);
	if (!rc)
		rc = pp_wr_u16le(&w, h->flags);
	if (!rc)
		rc = pp_wr_u32le(&w, h->data_record_count);
	if (!rc)
		rc = pp_wr_u32le(&w, h->data_records_consumed);
	if (!rc)
		rc = pp_wr_u16le(&w, h->data_record_chunk_count);
	if (!rc)
		rc = pp_wr_u16le(&w, 0);
	for (size_t i = 0; !rc && i < h->n_modules; i++)
		rc = pp_wr_u16le(&w, h->modules[i]);
	if (!rc)
		rc = pp_wr_u16le(&w, 0);
	if (rc < 0)
		return pp_err_set(err, PP_ETOOBIG, "header: does not fit in %d bytes",
				  PP_USB_BLOCK);
	return 0;
}

/* ---- records ---- */

void pp_usb_scramble(uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(buf[i] + PP_USB_SCRAMBLE_ADD);
}

void pp_usb_descramble(uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(buf[i] - PP_USB_SCRAMBLE_ADD);
}

void pp_usb_record_init(struct pp_usb_record *rec, uint32_t number)
{
	memset(rec, 0, sizeof(*rec));
	rec->type = PP_USB_TYPE_DATA;
	rec->flags = PP_USB_REC_VALID;
	rec->number = number;
}

void pp_usb_record_wipe(struct pp_usb_record *rec)
{
	if (rec)
		pp_wipe(rec, sizeof(*rec));
}

int pp_usb_record_add(struct pp_usb_record *rec, uint16_t module, uint16_t variable,
		      const void *value, size_t len, struct pp_err *err)
{
	int rc = pp_usb_var_check(module, variable, value, len, err);
	if (rc < 0)
		return rc;
	if (rec->body_used > PP_USB_BODY_LEN || rec->n_vars > PP_USB_VARS_MAX)
		return pp_err_set(err, PP_EINVAL, "record %u: inconsistent", rec->number);
	size_t need = PP_USB_ENTRY_HEADER + pad4(len);
	if (need > PP_USB_BODY_LEN - rec->body_used || rec->n_vars == PP_USB_VARS_MAX)
		return pp_err_set(err, PP_ETOOBIG,
				  "record %u: body full (%zu of %d bytes used), variable %u/%u "
				  "needs %zu",
				  rec->number, rec->body_used, PP_USB_BODY_LEN, module, variable,
				  need);

	uint32_t key = var_key(module, variable);
	size_t i = 0;
	while (i < rec->n_vars && var_key(rec->vars[i].module, rec->vars[i].variable) < key)
		i++;
	if (i < rec->n_vars && var_key(rec->vars[i].module, rec->vars[i].variable) == key)
		return pp_err_set(err, PP_EEXIST, "record %u: variable %u/%u already set",
				  rec->number, module, variable);
	size_t pos = rec->body_used;
	if (i < rec->n_vars) {
		size_t voff = rec->vars[i].off;
		if (voff < PP_USB_ENTRY_HEADER || voff - PP_USB_ENTRY_HEADER > rec->body_used)
			return pp_err_set(err, PP_EINVAL, "record %u: inconsistent", rec->number);
		pos = voff - PP_USB_ENTRY_HEADER;
	}

	memmove(rec->body + pos + need, rec->body + pos, rec->body_used - pos);
	struct pp_writer w = pp_writer_make(rec->body + pos, need);
	rc = pp_wr_u16le(&w, module);
	if (!rc)
		rc = pp_wr_u16le(&w, variable);
	if (!rc)
		rc = pp_wr_u16le(&w, (uint16_t)len);
	if (!rc)
		rc = pp_wr_u16le(&w, 0);
	if (!rc)
		rc = pp_wr_bytes(&w, value, len);
	if (!rc)
		rc = pp_wr_zeros(&w, need - PP_USB_ENTRY_HEADER - len);
	if (rc < 0) /* cannot happen: need was sized above */
		return pp_err_set(err, PP_ETOOBIG, "record %u: entry does not fit", rec->number);

	memmove(&rec->vars[i + 1], &rec->vars[i], (rec->n_vars - i) * sizeof(rec->vars[0]));
	for (size_t j = i + 1; j <= rec->n_vars; j++)
		rec->vars[j].off = (uint16_t)(rec->vars[j].off + need);
	rec->vars[i].module = module;
	rec->vars[i].variable = variable;
	rec->vars[i].len = (uint16_t)len;
	rec->vars[i].off = (uint16_t)(pos + PP_USB_ENTRY_HEADER);
	rec->n_vars++;
	rec->body_used += need;
	return 0;
}

/* Typed adds refuse a known variable of another type; unknown ones take any. */
static int check_type(uint16_t module, uint16_t variable, enum pp_usb_vtype t, struct pp_err *err)
{
	const struct pp_usb_var_info *vi = pp_usb_var_lookup(module, variable);
	if (vi && vi->type != t)
		return pp_err_set(err, PP_EINVAL, "variable %u/%u (%s) is a %s, not a %s", module,
				  variable, vi->name, pp_usb_vtype_str(vi->type),
				  pp_usb_vtype_str(t));
	return 0;
}

int pp_usb_record_add_u8(struct pp_usb_record *rec, uint16_t module, uint16_t variable, uint8_t v,
			 struct pp_err *err)
{
	int rc = check_type(module, variable, PP_USB_VT_U8, err);
	if (rc < 0)
		return rc;
	return pp_usb_record_add(rec, module, variable, &v, 1, err);
}

int pp_usb_record_add_u16(struct pp_usb_record *rec, uint16_t module, uint16_t variable, uint16_t v,
			  struct pp_err *err)
{
	int rc = check_type(module, variable, PP_USB_VT_U16, err);
	if (rc < 0)
		return rc;
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	return pp_usb_record_add(rec, module, variable, b, 2, err);
}

int pp_usb_record_add_ipv4(struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			   const uint8_t ip[4], struct pp_err *err)
{
	int rc = check_type(module, variable, PP_USB_VT_IPV4_REV, err);
	if (rc < 0)
		return rc;
	uint8_t b[4] = {ip[3], ip[2], ip[1], ip[0]};
	return pp_usb_record_add(rec, module, variable, b, 4, err);
}

int pp_usb_record_add_string(struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			     const char *s, struct pp_err *err)
{
	int rc = check_type(module, variable, PP_USB_VT_STRING, err);
	if (rc < 0)
		return rc;
	if (!s)
		return pp_err_set(err, PP_EINVAL, "variable %u/%u: no value", module, variable);
	return pp_usb_record_add(rec, module, variable, s, strlen(s), err);
}

int pp_usb_record_write(const struct pp_usb_record *rec, bool scramble, uint8_t out[PP_USB_BLOCK],
			struct pp_err *err)
{
	int rc = 0;
	memset(out, 0, PP_USB_BLOCK);
	if (rec->type > PP_USB_TYPE_DATA)
		return pp_err_set(err, PP_EINVAL, "record %u: RecordType %u is neither 0 nor 1",
				  rec->number, rec->type);
	if (rec->number == 0)
		return pp_err_set(err, PP_EINVAL, "record: RecordNumber 0 (records count from 1)");
	if (rec->n_vars > PP_USB_VARS_MAX)
		return pp_err_set(err, PP_EINVAL, "record %u: too many variables", rec->number);

	uint32_t flags = rec->flags & ~PP_USB_REC_SCRAMBLED;
	if (scramble)
		flags |= PP_USB_REC_SCRAMBLED;
	struct pp_writer w = pp_writer_make(out, PP_USB_REC_HEADER_BYTES);
	if (pp_wr_u32le(&w, rec->type) < 0 || pp_wr_u32le(&w, flags) < 0 ||
	    pp_wr_zeros(&w, 8) < 0 || pp_wr_u16le(&w, 1) < 0 ||
	    pp_wr_u16le(&w, PP_USB_REC_HEADER_BYTES) < 0 || pp_wr_u32le(&w, rec->number) < 0) {
		rc = pp_err_set(err, PP_ETOOBIG, "record %u: header does not fit", rec->number);
		goto out;
	}

	struct pp_writer b = pp_writer_make(out + PP_USB_REC_HEADER_BYTES, PP_USB_BODY_LEN);
	uint32_t prev = 0;
	for (size_t i = 0; i < rec->n_vars; i++) {
		const struct pp_usb_var *v = &rec->vars[i];
		uint32_t key = var_key(v->module, v->variable);
		if (i > 0 && key <= prev) {
			rc = pp_err_set(err, PP_EINVAL,
					"record %u: variable %u/%u out of order or repeated",
					rec->number, v->module, v->variable);
			goto out;
		}
		prev = key;
		if ((size_t)v->off + v->len > PP_USB_BODY_LEN) {
			rc = pp_err_set(err, PP_EINVAL,
					"record %u: variable %u/%u lies outside the body",
					rec->number, v->module, v->variable);
			goto out;
		}
		const uint8_t *val = rec->body + v->off;
		rc = pp_usb_var_check(v->module, v->variable, val, v->len, err);
		if (rc < 0) {
			pp_err_prefix(err, "record %u", rec->number);
			goto out;
		}
		if (pp_wr_u16le(&b, v->module) < 0 || pp_wr_u16le(&b, v->variable) < 0 ||
		    pp_wr_u16le(&b, v->len) < 0 || pp_wr_u16le(&b, 0) < 0 ||
		    pp_wr_bytes(&b, val, v->len) < 0 ||
		    pp_wr_zeros(&b, pad4(v->len) - v->len) < 0) {
			rc = pp_err_set(err, PP_ETOOBIG,
					"record %u: entries need more than the %d-byte body",
					rec->number, PP_USB_BODY_LEN);
			goto out;
		}
	}
	/* The rest of the body is zero (memset above): the terminator and the padding. */
	if (scramble)
		pp_usb_scramble(out + PP_USB_REC_HEADER_BYTES, PP_USB_BODY_LEN);
out:
	if (rc < 0)
		pp_wipe(out, PP_USB_BLOCK);
	return rc;
}

/* Body: entries {u16 module, u16 variable, u16 length, u16 reserved, value, padding to
 * 4}, strictly ascending by (module, variable), ended by a zero module or variable, or
 * by the end of the body exactly. Everything from the terminator on must be zero (what
 * Intel's tool and ours write), so a record that parses is written back identically. */
static int parse_body(struct pp_usb_record *rec, struct pp_err *err)
{
	size_t off = 0;
	uint32_t prev = 0;
	while (off < PP_USB_BODY_LEN) {
		struct pp_reader r = pp_reader_make(rec->body + off, PP_USB_BODY_LEN - off);
		uint16_t module, variable, len, reserved;
		if (pp_rd_u16le(&r, &module) < 0 || pp_rd_u16le(&r, &variable) < 0)
			return pp_err_set(err, PP_EINVAL, "body offset %zu: entry cut off", off);
		if (module == 0 || variable == 0)
			break;
		if (pp_rd_u16le(&r, &len) < 0 || pp_rd_u16le(&r, &reserved) < 0)
			return pp_err_set(err, PP_EINVAL,
					  "body offset %zu: entry %u/%u runs past the body", off,
					  module, variable);
		if (reserved != 0)
			return pp_err_set(err, PP_EINVAL,
					  "body offset %zu: entry %u/%u: reserved field is %u, "
					  "expected 0",
					  off, module, variable, reserved);
		size_t padded = pad4(len);
		if (padded > pp_rd_left(&r))
			return pp_err_set(err, PP_EINVAL,
					  "body offset %zu: entry %u/%u: length %u runs past the "
					  "body (%zu bytes left)",
					  off, module, variable, len, pp_rd_left(&r));
		uint32_t key = var_key(module, variable);
		if (rec->n_vars > 0 && key <= prev)
			return pp_err_set(err, PP_EINVAL,
					  "body offset %zu: entry %u/%u does not follow %u/%u "
					  "(entries are sorted, each once)",
					  off, module, variable, prev >> 16, prev & 0xffff);
		const uint8_t *value = rec->body + off + PP_USB_ENTRY_HEADER;
		size_t bad;
		if (!all_zero(value + len, padded - len, &bad))
			return pp_err_set(err, PP_EINVAL,
					  "body offset %zu: entry %u/%u: padding byte not zero",
					  off, module, variable);
		int rc = pp_usb_var_check(module, variable, value, len, err);
		if (rc < 0) {
			pp_err_prefix(err, "body offset %zu", off);
			return rc;
		}
		if (rec->n_vars == PP_USB_VARS_MAX) /* unreachable: 8 bytes per entry */
			return pp_err_set(err, PP_EINVAL, "too many entries");
		struct pp_usb_var *v = &rec->vars[rec->n_vars++];
		v->module = module;
		v->variable = variable;
		v->len = len;
		v->off = (uint16_t)(off + PP_USB_ENTRY_HEADER);
		prev = key;
		off += PP_USB_ENTRY_HEADER + padded;
	}
	rec->body_used = off;
	size_t bad;
	if (!all_zero(rec->body + off, PP_USB_BODY_LEN - off, &bad))
		return pp_err_set(err, PP_EINVAL, "body offset %zu: not zero after the last entry",
				  off + bad);
	return 0;
}

int pp_usb_record_parse(const uint8_t *block, size_t len, struct pp_usb_record *out,
			struct pp_err *err)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if (len < PP_USB_BLOCK)
		return pp_err_set(err, PP_ETRUNC, "record: %zu bytes, a block is %d", len,
				  PP_USB_BLOCK);
	if (len > PP_USB_BLOCK)
		return pp_err_set(err, PP_ETOOBIG, "record: %zu bytes, a block is %d", len,
				  PP_USB_BLOCK);

	struct pp_reader r = pp_reader_make(block, PP_USB_BLOCK);
	const uint8_t *reserved, *body;
	uint16_t chunks, header_bytes;
	if (pp_rd_u32le(&r, &out->type) < 0 || pp_rd_u32le(&r, &out->flags) < 0 ||
	    pp_rd_view(&r, &reserved, 8) < 0 || pp_rd_u16le(&r, &chunks) < 0 ||
	    pp_rd_u16le(&r, &header_bytes) < 0 || pp_rd_u32le(&r, &out->number) < 0 ||
	    pp_rd_view(&r, &body, PP_USB_BODY_LEN) < 0 || pp_rd_expect_end(&r) < 0)
		return pp_err_set(err, PP_ETRUNC, "record: cut off");

	size_t bad;
	if (out->type > PP_USB_TYPE_DATA)
		rc = pp_err_set(err, PP_EINVAL, "RecordType %u, expected 0 (invalid) or 1 (data)",
				out->type);
	else if (!all_zero(reserved, 8, &bad))
		rc = pp_err_set(err, PP_EINVAL, "reserved byte %zu is not zero", 8 + bad);
	else if (chunks != 1)
		rc = pp_err_set(err, PP_EINVAL, "ChunkCount %u, expected 1", chunks);
	else if (header_bytes != PP_USB_REC_HEADER_BYTES)
		rc = pp_err_set(err, PP_EINVAL, "HeaderBytes %u, expected %d", header_bytes,
				PP_USB_REC_HEADER_BYTES);
	else {
		memcpy(out->body, body, PP_USB_BODY_LEN);
		if (out->flags & PP_USB_REC_SCRAMBLED)
			pp_usb_descramble(out->body, PP_USB_BODY_LEN);
		rc = parse_body(out, err);
	}
	if (rc < 0) {
		pp_usb_record_wipe(out);
		return rc;
	}
	if (out->flags & ~(PP_USB_REC_VALID | PP_USB_REC_SCRAMBLED))
		out->notes |= PP_USB_NOTE_REC_FLAGS;
	return 0;
}

/* ---- getters ---- */

int pp_usb_record_get(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
		      const uint8_t **value, size_t *len)
{
	size_t n = rec->n_vars < PP_USB_VARS_MAX ? rec->n_vars : PP_USB_VARS_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct pp_usb_var *v = &rec->vars[i];
		if (v->module == module && v->variable == variable) {
			if ((size_t)v->off + v->len > PP_USB_BODY_LEN)
				return -PP_EINVAL;
			*value = rec->body + v->off;
			*len = v->len;
			return 0;
		}
	}
	return -PP_ENOTFOUND;
}

static int get_exact(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
		     size_t want, const uint8_t **value, struct pp_err *err)
{
	size_t len;
	int rc = pp_usb_record_get(rec, module, variable, value, &len);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "record %u: no variable %u/%u", rec->number,
				  module, variable);
	if (rc < 0)
		return pp_err_set(err, PP_EINVAL, "record %u: inconsistent", rec->number);
	if (want && len != want)
		return pp_err_set(err, PP_EINVAL,
				  "record %u: variable %u/%u has %zu bytes, not %zu", rec->number,
				  module, variable, len, want);
	return 0;
}

/* The fixed-size getters: the bytes of an exact-length variable, little-endian. */
int pp_usb_record_get_u8(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			 uint8_t *out, struct pp_err *err)
{
	const uint8_t *v;
	int rc = get_exact(rec, module, variable, 1, &v, err);
	if (rc == 0)
		*out = v[0];
	return rc;
}

int pp_usb_record_get_u16(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			  uint16_t *out, struct pp_err *err)
{
	const uint8_t *v;
	int rc = get_exact(rec, module, variable, 2, &v, err);
	if (rc == 0)
		*out = (uint16_t)(v[0] | v[1] << 8);
	return rc;
}

/* An IPv4 address is stored as a little-endian u32: the bytes in reverse. */
int pp_usb_record_get_ipv4(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			   uint8_t out[4], struct pp_err *err)
{
	const uint8_t *v;
	int rc = get_exact(rec, module, variable, 4, &v, err);
	for (size_t i = 0; rc == 0 && i < 4; i++)
		out[i] = v[3 - i];
	return rc;
}

int pp_usb_record_get_string(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			     char *out, size_t cap, struct pp_err *err)
{
	const uint8_t *v;
	size_t len;
	int rc = pp_usb_record_get(rec, module, variable, &v, &len);
	if (rc < 0)
		return pp_err_set(err, -rc, "record %u: no variable %u/%u", rec->number, module,
				  variable);
	if (len && memchr(v, 0, len))
		return pp_err_set(err, PP_EINVAL, "record %u: variable %u/%u holds a NUL byte",
				  rec->number, module, variable);
	if (cap <= len)
		return pp_err_set(err, PP_ETOOBIG,
				  "record %u: variable %u/%u has %zu bytes, room for %zu",
				  rec->number, module, variable, len, cap ? cap - 1 : 0);
	if (len)
		memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

/* ---- whole file ---- */

int pp_usb_file_size(uint32_t data_record_count, size_t *out)
{
	size_t blocks;
	if (!pp_add_ok((size_t)data_record_count, 1, &blocks) ||
	    !pp_mul_ok(blocks, PP_USB_BLOCK, out))
		return -PP_ETOOBIG;
	return 0;
}

static int check_size(const struct pp_usb_header *h, size_t len, struct pp_err *err)
{
	size_t want;
	if (pp_usb_file_size(h->data_record_count, &want) < 0)
		return pp_err_set(err, PP_ETOOBIG, "header: DataRecordCount %u is too large",
				  h->data_record_count);
	if (len < want)
		return pp_err_set(err, PP_ETRUNC,
				  "header announces %u records (%zu bytes); the file has %zu bytes",
				  h->data_record_count, want, len);
	if (len > want)
		return pp_err_set(err, PP_ETOOBIG,
				  "header announces %u records (%zu bytes); the file has %zu bytes",
				  h->data_record_count, want, len);
	return 0;
}

/* Checks across records, shared by the in-memory and the streaming readers. */
struct scan {
	const struct pp_usb_header *h;
	uint32_t seen;
	uint32_t cleared; /* data records whose valid bit is clear */
	bool listed_used[PP_USB_MODULES_MAX];
	uint32_t notes;
};

static void scan_init(struct scan *s, const struct pp_usb_header *h)
{
	memset(s, 0, sizeof(*s));
	s->h = h;
	s->notes = h->notes;
	for (size_t i = 0; i < h->n_modules; i++) {
		for (size_t j = 0; j < i; j++) {
			if (h->modules[j] == h->modules[i])
				s->notes |= PP_USB_NOTE_MODULE_LIST;
		}
	}
}

static int scan_record(struct scan *s, const struct pp_usb_record *rec, struct pp_err *err)
{
	if (rec->number != s->seen + 1)
		return pp_err_set(err, PP_EINVAL, "record %u has RecordNumber %u", s->seen + 1,
				  rec->number);
	s->seen++;
	s->notes |= rec->notes;
	if (rec->type == PP_USB_TYPE_DATA && !(rec->flags & PP_USB_REC_VALID))
		s->cleared++;
	for (size_t i = 0; i < rec->n_vars; i++) {
		bool listed = false;
		for (size_t j = 0; j < s->h->n_modules; j++) {
			if (s->h->modules[j] == rec->vars[i].module) {
				s->listed_used[j] = true;
				listed = true;
			}
		}
		if (!listed)
			s->notes |= PP_USB_NOTE_MODULE_LIST;
	}
	return 0;
}

static uint32_t scan_finish(const struct scan *s)
{
	uint32_t notes = s->notes;
	for (size_t j = 0; j < s->h->n_modules; j++) {
		if (!s->listed_used[j])
			notes |= PP_USB_NOTE_MODULE_LIST;
	}
	if (s->cleared != s->h->data_records_consumed)
		notes |= PP_USB_NOTE_CONSUMED;
	return notes;
}

void pp_usb_file_free(struct pp_usb_file *f)
{
	if (!f)
		return;
	if (f->records) {
		pp_wipe(f->records, f->n_records * sizeof(f->records[0]));
		free(f->records);
	}
	memset(f, 0, sizeof(*f));
}

int pp_usb_file_parse(const uint8_t *buf, size_t len, struct pp_usb_file *out, struct pp_err *err)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if (len < PP_USB_BLOCK)
		return pp_err_set(err, PP_ETRUNC, "setup.bin: %zu bytes, shorter than the header",
				  len);
	if (len % PP_USB_BLOCK)
		return pp_err_set(err, PP_EINVAL,
				  "setup.bin: %zu bytes is not a whole number of %d-byte blocks",
				  len, PP_USB_BLOCK);
	rc = pp_usb_header_parse(buf, PP_USB_BLOCK, &out->header, err);
	if (rc < 0)
		goto out;
	rc = check_size(&out->header, len, err);
	if (rc < 0)
		goto out;

	size_t n = out->header.data_record_count;
	if (n) {
		out->records = calloc(n, sizeof(out->records[0]));
		if (!out->records) {
			rc = pp_err_set(err, PP_ENOMEM, "%zu records", n);
			goto out;
		}
	}
	out->n_records = n;
	struct scan s;
	scan_init(&s, &out->header);
	for (size_t i = 0; i < n; i++) {
		rc = pp_usb_record_parse(buf + PP_USB_BLOCK * (i + 1), PP_USB_BLOCK,
					 &out->records[i], err);
		if (rc < 0) {
			pp_err_prefix(err, "record %zu", i + 1);
			goto out;
		}
		rc = scan_record(&s, &out->records[i], err);
		if (rc < 0)
			goto out;
	}
	out->notes = scan_finish(&s);
	rc = 0;
out:
	if (rc < 0) {
		pp_err_prefix(err, "setup.bin");
		pp_usb_file_free(out);
	}
	return rc;
}

int pp_usb_file_write(const struct pp_usb_file *f, uint8_t *out, size_t cap, size_t *out_len,
		      struct pp_err *err)
{
	size_t size;
	int rc;
	if (f->n_records != f->header.data_record_count)
		return pp_err_set(err, PP_EINVAL, "setup.bin: %zu records, DataRecordCount %u",
				  f->n_records, f->header.data_record_count);
	if (pp_usb_file_size(f->header.data_record_count, &size) < 0 || cap < size)
		return pp_err_set(err, PP_ETOOBIG, "setup.bin: %u records do not fit in %zu bytes",
				  f->header.data_record_count, cap);
	rc = pp_usb_header_write(&f->header, out, err);
	for (size_t i = 0; rc == 0 && i < f->n_records; i++) {
		const struct pp_usb_record *rec = &f->records[i];
		if (rec->number != i + 1) {
			rc = pp_err_set(err, PP_EINVAL, "record %zu has RecordNumber %u", i + 1,
					rec->number);
			break;
		}
		rc = pp_usb_record_write(rec, rec->flags & PP_USB_REC_SCRAMBLED,
					 out + PP_USB_BLOCK * (i + 1), err);
	}
	if (rc < 0) {
		pp_wipe(out, size);
		return rc;
	}
	*out_len = size;
	return 0;
}

/* ---- consumption ---- */

#define CONSUME_BATCH 64 /* blocks read at a time while validating */

static int pread_full(int fd, void *buf, size_t n, off_t off)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t k = pread(fd, p, n, off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -PP_EIO;
		}
		if (k == 0)
			return -PP_ETRUNC;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t k = pwrite(fd, p, n, off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -PP_EIO;
		}
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

static void put_u32le(uint8_t b[4], uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

/* A regular file of whole blocks, header included; *len gets its size. */
static int check_file_shape(int fd, const char *path, size_t *len, struct pp_err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return pp_err_set(err, PP_EIO, "cannot stat '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pp_err_set(err, PP_EIO, "'%s' is not a regular file", path);
	if (st.st_size < 0 || (uint64_t)st.st_size > SIZE_MAX)
		return pp_err_set(err, PP_ETOOBIG, "'%s' is too large", path);
	*len = (size_t)st.st_size;
	if (*len < PP_USB_BLOCK)
		return pp_err_set(err, PP_ETRUNC, "setup.bin: %zu bytes, shorter than the header",
				  *len);
	if (*len % PP_USB_BLOCK)
		return pp_err_set(err, PP_EINVAL,
				  "setup.bin: %zu bytes is not a whole number of %d-byte blocks",
				  *len, PP_USB_BLOCK);
	return 0;
}

/* Where validate_fd puts the first valid data record. */
struct first_valid {
	struct pp_usb_record *rec;
	uint32_t index;
	bool have;
};

/* Parses and scans the data records, CONSUME_BATCH blocks at a time through batch. */
static int scan_records_fd(int fd, const char *path, struct pp_usb_header *h, uint8_t *batch,
			   struct first_valid *first, struct pp_err *err)
{
	pp_cleanup(pp_usb_record_wipe) struct pp_usb_record cur = {0};
	struct scan s;
	uint32_t n = h->data_record_count;
	int rc;

	scan_init(&s, h);
	for (uint32_t i = 0; i < n;) {
		uint32_t k = n - i < CONSUME_BATCH ? n - i : CONSUME_BATCH;
		rc = pread_full(fd, batch, (size_t)k * PP_USB_BLOCK,
				(off_t)PP_USB_BLOCK * ((off_t)i + 1));
		if (rc < 0)
			return pp_err_set(err, -rc, "cannot read record %u of '%s'", i + 1, path);
		for (uint32_t j = 0; j < k; j++, i++) {
			rc = pp_usb_record_parse(batch + (size_t)j * PP_USB_BLOCK, PP_USB_BLOCK,
						 &cur, err);
			if (rc < 0)
				return pp_err_prefix(err, "record %u", i + 1);
			if ((rc = scan_record(&s, &cur, err)) < 0)
				return rc;
			if (!first->have && cur.type == PP_USB_TYPE_DATA &&
			    (cur.flags & PP_USB_REC_VALID)) {
				*first->rec = cur;
				first->index = i;
				first->have = true;
			}
		}
	}
	h->notes = scan_finish(&s);
	return 0;
}

static void batch_freep(uint8_t **batch)
{
	if (*batch)
		pp_wipe(*batch, (size_t)CONSUME_BATCH * PP_USB_BLOCK);
	free(*batch);
}

/* Reads and validates the whole file through fd; copies the first valid data record
 * into *first when there is one. */
static int validate_fd(int fd, const char *path, struct pp_usb_header *h, struct first_valid *first,
		       struct pp_err *err)
{
	pp_cleanup(batch_freep) uint8_t *batch = NULL;
	size_t len = 0;
	int rc;

	first->have = false;
	if ((rc = check_file_shape(fd, path, &len, err)) < 0)
		return rc;
	batch = malloc((size_t)CONSUME_BATCH * PP_USB_BLOCK);
	if (!batch)
		return pp_err_set(err, PP_ENOMEM, "reading '%s'", path);
	if ((rc = pread_full(fd, batch, PP_USB_BLOCK, 0)) < 0)
		rc = pp_err_set(err, -rc, "cannot read the header of '%s'", path);
	if (rc < 0 || (rc = pp_usb_header_parse(batch, PP_USB_BLOCK, h, err)) < 0 ||
	    (rc = check_size(h, len, err)) < 0 ||
	    (rc = scan_records_fd(fd, path, h, batch, first, err)) < 0) {
		if (rc != -PP_EIO && rc != -PP_ENOMEM)
			pp_err_prefix(err, "setup.bin '%s' is corrupted", path);
		return rc;
	}
	return 0;
}

/* docs/protocol.md section 6: a setup file applies only to a device still at the factory
 * MEBx password, and the record must name that password (ME 1/1). */
static int check_current_password(const char *path, const struct pp_usb_record *rec,
				  const char *device_pw, struct pp_err *err)
{
	const uint8_t *cur;
	size_t cur_len;

	if (!pp_ct_streq(device_pw, "admin"))
		return pp_err_set(err, PP_ESTATE,
				  "the device's MEBx password is no longer the default; a setup "
				  "file applies only before it is changed");
	if (pp_usb_record_get(rec, PP_USB_MOD_ME, PP_USB_ME_CURRENT_PASSWORD, &cur, &cur_len) < 0)
		return pp_err_set(err, PP_EPERM,
				  "setup.bin '%s' record %u has no current MEBx password (1/1)",
				  path, rec->number);
	size_t dev_len = strlen(device_pw);
	bool same_len = cur_len == dev_len;
	bool same = pp_ct_eq(cur, device_pw, same_len ? cur_len : 0);
	if (!(same_len && same))
		return pp_err_set(err, PP_EPERM,
				  "setup.bin '%s' record %u: current MEBx password (1/1) does not "
				  "match the device's",
				  path, rec->number);
	return 0;
}

/* Clears the record's valid bit (durably), then counts it in the header. */
static int mark_consumed(int fd, const char *path, const struct pp_usb_header *h, uint32_t idx,
			 struct pp_usb_record *rec, struct pp_err *err)
{
	/* The valid bit first: it is what decides whether a record is taken again. */
	uint8_t b[4];
	uint32_t new_flags = rec->flags & ~PP_USB_REC_VALID;
	put_u32le(b, new_flags);
	off_t rec_off = (off_t)PP_USB_BLOCK * ((off_t)idx + 1);
	if (pwrite_full(fd, b, 4, rec_off + 4) < 0 || fsync(fd) < 0)
		return pp_err_set(err, PP_EIO, "cannot mark record %u of '%s' consumed: %s",
				  rec->number, path, strerror(errno));
	rec->flags = new_flags;
	if (h->data_records_consumed < h->data_record_count) {
		/* Best effort: a count left behind is what a crash here leaves too, and
		 * readers accept it (PP_USB_NOTE_CONSUMED). */
		put_u32le(b, h->data_records_consumed + 1);
		if (pwrite_full(fd, b, 4, 32) == 0) {
			int synced = fsync(fd);
			(void)synced;
		}
	}
	return 0;
}

/* Under the lock: the first valid record into out, checked, then marked consumed. */
static int consume_locked(int fd, const char *path, const char *device_pw,
			  struct pp_usb_record *out, struct pp_err *err)
{
	struct pp_usb_header h;
	struct first_valid first = {.rec = out};
	int rc;

	if ((rc = validate_fd(fd, path, &h, &first, err)) < 0)
		return rc;
	if (!first.have)
		return pp_err_set(err, PP_ENOTFOUND,
				  "setup.bin '%s': no valid record left (%u records, %u consumed)",
				  path, h.data_record_count, h.data_records_consumed);
	if ((rc = check_current_password(path, out, device_pw, err)) < 0)
		return rc;
	if (h.flags & PP_USB_HDR_NO_CONSUME)
		return 0;
	return mark_consumed(fd, path, &h, first.index, out, err);
}

int pp_usb_consume_next(const char *path, const char *device_current_mebx_password,
			struct pp_usb_record *out, struct pp_err *err)
{
	pp_cleanup(pp_closep) int fd = -1;
	int rc;

	if (!out)
		return pp_err_set(err, PP_EINVAL, "no record to fill");
	memset(out, 0, sizeof(*out));
	if (!path || !device_current_mebx_password)
		return pp_err_set(err, PP_EINVAL, "no path or no device password");

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return pp_err_set(err, errno == ENOENT ? PP_ENOTFOUND : PP_EIO,
				  "cannot open '%s': %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return pp_err_set(err, errno == EWOULDBLOCK ? PP_EBUSY : PP_EIO,
				  "cannot lock '%s': %s", path, strerror(errno));
	rc = consume_locked(fd, path, device_current_mebx_password, out, err);
	if (rc < 0)
		pp_usb_record_wipe(out);
	return rc;
}
