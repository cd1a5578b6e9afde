/* USB setup file (setup.bin), docs/protocol.md section 6 [AMT].
 *
 * One 512-byte header block, then one 512-byte block per machine. Each data record
 * carries a 488-byte body of (module, variable, length, reserved, value) entries,
 * padded to 4 bytes, sorted, optionally scrambled (+0x11 per byte: obfuscation only).
 *
 * Reading is strict about structure (lengths, padding, ordering, reserved fields,
 * record numbering, file size) and tolerant of the oddities Intel's own tool writes:
 * those are accepted and reported as notes (PP_USB_NOTE_*) for `usb inspect`:
 *   - RecordHeaderBytes other than 42 + 2 x modules (ACU 12.1 writes 46 with an empty
 *     module list);
 *   - a module list that does not match the modules the records use (same file);
 *   - DataRecordsConsumed different from the number of data records whose valid bit
 *     is clear (a crash between the two consumption writes leaves it one behind; the
 *     valid bit is authoritative);
 *   - flag bits this code does not know (kept verbatim when written back).
 * Everything that is accepted is written back byte for byte by the writers below.
 *
 * Secrets: 1/1, 1/2 (MEBx passwords) and 2/2 (PPS) are flagged secret in the
 * catalogue. A struct pp_usb_record may hold them: pp_usb_record_wipe it, and
 * pp_usb_file_free wipes every record. */
#ifndef PSKPROV_PROTO_SETUPBIN_H
#define PSKPROV_PROTO_SETUPBIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PP_USB_BLOCK 512
#define PP_USB_HEADER_FIXED 40 /* header bytes before the module list */
#define PP_USB_REC_HEADER_BYTES 24
#define PP_USB_BODY_LEN (PP_USB_BLOCK - PP_USB_REC_HEADER_BYTES) /* 488 */
#define PP_USB_ENTRY_HEADER 8
/* Every entry takes at least 8 bytes, so a body holds at most 61. */
#define PP_USB_VARS_MAX (PP_USB_BODY_LEN / PP_USB_ENTRY_HEADER)
#define PP_USB_MODULES_MAX 32
#define PP_USB_SCRAMBLE_ADD 0x11

#define PP_USB_VERSION_MIN 1
#define PP_USB_VERSION_MAX 4

/* Header flags. */
#define PP_USB_HDR_NO_CONSUME 0x0001u
/* Record flags. */
#define PP_USB_REC_VALID 0x00000001u
#define PP_USB_REC_SCRAMBLED 0x00000002u
/* RecordType. */
#define PP_USB_TYPE_INVALID 0u
#define PP_USB_TYPE_DATA 1u

/* Tolerated oddities found while reading (bit mask). */
#define PP_USB_NOTE_HEADER_BYTES 0x01u /* RecordHeaderBytes != 42 + 2 x modules */
#define PP_USB_NOTE_MODULE_LIST 0x02u  /* module list != modules used by the records */
#define PP_USB_NOTE_CONSUMED 0x04u     /* DataRecordsConsumed != data records not valid */
#define PP_USB_NOTE_HDR_FLAGS 0x08u    /* unknown header flag bits */
#define PP_USB_NOTE_REC_FLAGS 0x10u    /* unknown record flag bits (some record) */

/* Module/variable identifiers named in docs/protocol.md section 6. */
enum {
	PP_USB_MOD_ME = 1,
	PP_USB_MOD_AMT = 2,
	PP_USB_ME_CURRENT_PASSWORD = 1,
	PP_USB_ME_NEW_PASSWORD = 2,
	PP_USB_ME_MANAGEABILITY = 3,
	PP_USB_ME_POWER_PACKAGE = 6,
	PP_USB_AMT_PID = 1,
	PP_USB_AMT_PPS = 2,
	PP_USB_AMT_SERVER_FQDN = 4,
	PP_USB_AMT_SOL_IDER = 10,
	PP_USB_AMT_HOST_NAME = 11,
	PP_USB_AMT_DOMAIN = 12,
	PP_USB_AMT_DHCP = 13,
	PP_USB_AMT_SERVER_IPV4 = 17,
	PP_USB_AMT_SERVER_PORT = 18,
	PP_USB_AMT_MANUAL_SETUP = 29,
};

/* ---- variable catalogue ---- */

enum pp_usb_vtype {
	PP_USB_VT_BYTES = 0, /* unknown variables: kept and shown as bytes */
	PP_USB_VT_STRING,    /* no NUL inside, not NUL-terminated on the wire */
	PP_USB_VT_U8,
	PP_USB_VT_U16,      /* little-endian */
	PP_USB_VT_IPV4_REV, /* a.b.c.d stored as d c b a */
	PP_USB_VT_GUID,     /* 16 raw bytes */
};

struct pp_usb_var_info {
	uint16_t module;
	uint16_t variable;
	const char *name;
	enum pp_usb_vtype type;
	uint16_t min_len;
	uint16_t max_len;
	bool secret; /* inspect prints PP_HIDDEN */
};

/* The catalogue entry for (module, variable), or NULL when the variable is unknown. */
const struct pp_usb_var_info *pp_usb_var_lookup(uint16_t module, uint16_t variable);
/* The whole catalogue, sorted by (module, variable). */
const struct pp_usb_var_info *pp_usb_var_catalogue(size_t *count);
const char *pp_usb_vtype_str(enum pp_usb_vtype t);
/* Checks a value against the catalogue (length range; strings without NUL).
 * Unknown variables accept any length up to the body. */
int pp_usb_var_check(uint16_t module, uint16_t variable, const uint8_t *value, size_t len,
		     struct pp_err *err) PP_WUR;

/* ---- file type ---- */

/* The 16 raw GUID bytes of a version 1..4, NULL otherwise. */
const uint8_t *pp_usb_guid(unsigned version);
/* 1..4, or 0 for an unknown GUID. */
unsigned pp_usb_version_from_guid(const uint8_t guid[16]);

/* ---- header ---- */

struct pp_usb_header {
	uint8_t version;              /* 1..4, from the GUID; major must equal it */
	uint16_t record_chunk_count;  /* 1 */
	uint16_t record_header_bytes; /* 42 + 2 x modules when we write */
	uint32_t record_number;       /* 0 */
	uint8_t major;
	uint8_t minor;
	uint16_t flags; /* PP_USB_HDR_* */
	uint32_t data_record_count;
	uint32_t data_records_consumed;
	uint16_t data_record_chunk_count; /* 1 */
	size_t n_modules;
	uint16_t modules[PP_USB_MODULES_MAX];
	uint32_t notes; /* PP_USB_NOTE_HEADER_BYTES, PP_USB_NOTE_HDR_FLAGS */
};

/* A header for `version` with no modules yet (RecordHeaderBytes 42), minor 0. */
int pp_usb_header_init(struct pp_usb_header *h, unsigned version, uint16_t flags,
		       uint32_t data_record_count, struct pp_err *err) PP_WUR;
/* Adds a module to the list unless present (kept ascending) and sets RecordHeaderBytes
 * to 42 + 2 x modules. */
int pp_usb_header_add_module(struct pp_usb_header *h, uint16_t module, struct pp_err *err) PP_WUR;
/* Parses one header block; len must be exactly 512. */
int pp_usb_header_parse(const uint8_t *block, size_t len, struct pp_usb_header *out,
			struct pp_err *err) PP_WUR;
/* Writes the fields as they are (RecordHeaderBytes and flags verbatim, so a parsed
 * header is written back unchanged); refuses an unknown version, major != version,
 * zero or too many modules, chunk counts other than 1, RecordNumber other than 0, or
 * DataRecordsConsumed > DataRecordCount. */
int pp_usb_header_write(const struct pp_usb_header *h, uint8_t out[PP_USB_BLOCK],
			struct pp_err *err) PP_WUR;

/* ---- records ---- */

struct pp_usb_var {
	uint16_t module;
	uint16_t variable;
	uint16_t len;
	uint16_t off; /* of the value, in body */
};

struct pp_usb_record {
	uint32_t type;                 /* PP_USB_TYPE_* */
	uint32_t flags;                /* PP_USB_REC_*; SCRAMBLED says how it was read */
	uint32_t number;               /* RecordNumber, 1-based */
	uint8_t body[PP_USB_BODY_LEN]; /* descrambled; entries then zeros */
	size_t body_used;              /* bytes of entries before the terminator */
	size_t n_vars;
	struct pp_usb_var vars[PP_USB_VARS_MAX]; /* sorted, as in body */
	uint32_t notes;                          /* PP_USB_NOTE_REC_FLAGS */
};

void pp_usb_scramble(uint8_t *buf, size_t n);
void pp_usb_descramble(uint8_t *buf, size_t n);

/* A data record (type 1, valid) with an empty body. */
void pp_usb_record_init(struct pp_usb_record *rec, uint32_t number);
/* Wipes the whole record (it may hold passwords and a PPS); accepts NULL. */
void pp_usb_record_wipe(struct pp_usb_record *rec);

/* Adds one entry, kept in (module, variable) order; checks the value against the
 * catalogue. -PP_EEXIST for a duplicate, -PP_ETOOBIG when the body is full. */
int pp_usb_record_add(struct pp_usb_record *rec, uint16_t module, uint16_t variable,
		      const void *value, size_t len, struct pp_err *err) PP_WUR;
int pp_usb_record_add_u8(struct pp_usb_record *rec, uint16_t module, uint16_t variable, uint8_t v,
			 struct pp_err *err) PP_WUR;
int pp_usb_record_add_u16(struct pp_usb_record *rec, uint16_t module, uint16_t variable, uint16_t v,
			  struct pp_err *err) PP_WUR;
/* ip is a.b.c.d in network order; stored d c b a. */
int pp_usb_record_add_ipv4(struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			   const uint8_t ip[4], struct pp_err *err) PP_WUR;
/* The string without its NUL. */
int pp_usb_record_add_string(struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			     const char *s, struct pp_err *err) PP_WUR;

/* Serialises one record block from rec->vars (scrambled or not; the output's
 * SCRAMBLED bit follows `scramble`, other flag bits are rec->flags). Refuses a record
 * that would not parse back: type not 0/1, number 0, entries unsorted, out of body, or
 * against the catalogue. */
int pp_usb_record_write(const struct pp_usb_record *rec, bool scramble, uint8_t out[PP_USB_BLOCK],
			struct pp_err *err) PP_WUR;

/* Parses one record block (len exactly 512), for streaming loops. Does not check
 * RecordNumber against the position: a streaming caller checks
 * out->number == index + 1 itself (pp_usb_file_parse and pp_usb_consume_next do).
 * On failure *out is wiped. */
int pp_usb_record_parse(const uint8_t *block, size_t len, struct pp_usb_record *out,
			struct pp_err *err) PP_WUR;

/* Finds (module, variable): -PP_ENOTFOUND when absent. *value points into rec->body. */
int pp_usb_record_get(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
		      const uint8_t **value, size_t *len) PP_WUR;
/* Typed getters: -PP_ENOTFOUND when absent, -PP_EINVAL on a length that does not fit
 * the type. */
int pp_usb_record_get_u8(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			 uint8_t *out, struct pp_err *err) PP_WUR;
int pp_usb_record_get_u16(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			  uint16_t *out, struct pp_err *err) PP_WUR;
/* out is a.b.c.d in network order. */
int pp_usb_record_get_ipv4(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			   uint8_t out[4], struct pp_err *err) PP_WUR;
/* Copies the string and a NUL into out; -PP_ETOOBIG when cap <= length. The caller
 * wipes out when the variable is secret. */
int pp_usb_record_get_string(const struct pp_usb_record *rec, uint16_t module, uint16_t variable,
			     char *out, size_t cap, struct pp_err *err) PP_WUR;

/* ---- whole file ---- */

struct pp_usb_file {
	struct pp_usb_header header;
	size_t n_records;
	struct pp_usb_record *records;
	uint32_t notes; /* every PP_USB_NOTE_* found in the header, the records and across */
};

/* 512 x (1 + count), overflow-checked. */
int pp_usb_file_size(uint32_t data_record_count, size_t *out) PP_WUR;

/* Parses and validates a whole file held in memory: length a multiple of 512 and equal
 * to 512 x (1 + DataRecordCount), known GUID (-PP_EVERSION otherwise), major version
 * equal to the GUID's version, DataRecordsConsumed <= DataRecordCount, every record
 * well formed with RecordNumber n + 1. On failure *out is empty. */
int pp_usb_file_parse(const uint8_t *buf, size_t len, struct pp_usb_file *out,
		      struct pp_err *err) PP_WUR;
/* Writes header and records into out (cap >= pp_usb_file_size); each record is
 * scrambled when its SCRAMBLED flag is set. Checks n_records == DataRecordCount. */
int pp_usb_file_write(const struct pp_usb_file *f, uint8_t *out, size_t cap, size_t *out_len,
		      struct pp_err *err) PP_WUR;
/* Wipes and frees the records; accepts NULL. */
void pp_usb_file_free(struct pp_usb_file *f);

/* Short description of one PP_USB_NOTE_* bit, for inspect. */
const char *pp_usb_note_str(uint32_t note);

/* ---- consumption, device side ---- */

/* Takes the next record from the setup file at path, in place and durably:
 *   1. opens it O_RDWR|O_CLOEXEC, takes an exclusive flock (-PP_EBUSY if held), and
 *      validates the whole file as pp_usb_file_parse does: a corrupted file is refused
 *      (-PP_EINVAL, -PP_ETRUNC, -PP_ETOOBIG or -PP_EVERSION) and left untouched;
 *   2. picks the first record with RecordType 1 and the valid bit set; none left:
 *      -PP_ENOTFOUND (exhausted);
 *   3. applies only while device_current_mebx_password is still "admin": otherwise
 *      -PP_ESTATE (device password already changed);
 *   4. and only when the record's 1/1 current password equals it (constant time):
 *      otherwise, or when 1/1 is missing, -PP_EPERM;
 *   5. unless the header says do-not-consume: clears the record's valid bit (pwrite of
 *      its 4-byte flags field) and fsyncs, then increments DataRecordsConsumed (pwrite,
 *      fsync; it stays at DataRecordCount if already there).
 * Steps 1-4 change nothing. The valid bit is written first and is authoritative: a
 * crash between the writes leaves a readable file whose record is consumed and whose
 * count lags by one (noted, accepted). Once the valid bit is durable, a failure to
 * update the count is not reported as an error, for the same reason.
 * On success *out holds the record with its secrets (pp_usb_record_wipe it); on
 * failure *out is wiped. */
int pp_usb_consume_next(const char *path, const char *device_current_mebx_password,
			struct pp_usb_record *out, struct pp_err *err) PP_WUR;

#endif
