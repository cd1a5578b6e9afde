/* USB one-touch setup files as the administrator uses them [docs/protocol.md section 6]:
 * write a setup.bin for a batch (its keys become exported), and read a used one back
 * (the keys of consumed records become in-use). The store and options in, a result out;
 * no printing. Secrets never reach an error message. */
#ifndef PSKPROV_USECASE_USB_H
#define PSKPROV_USECASE_USB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"
#include "keys/keys.h"
#include "store/store.h"

#define PP_UC_USB_MAX_RECORDS 1000000u
#define PP_UC_USB_PORT_DEFAULT 9971

/* Called after each record written or read: done of total. */
typedef void (*pp_uc_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct pp_uc_usb_create_opts {
	const char *batch;
	const char *out_path;         /* created 0600; never overwritten */
	uint32_t count;               /* 0: every available key of the batch */
	uint32_t version;             /* 1..4 */
	const char *current_password; /* the device's MEBx password now; NULL: "admin" */
	const char *server_fqdn;      /* NULL: none */
	bool have_server_ipv4;
	uint8_t server_ipv4[4];
	uint16_t server_port; /* written with a server address or name */
	bool no_consume;      /* header flag: the firmware keeps records after use */
	bool scramble;        /* record bodies scrambled (obfuscation only) */
	const char *actor;    /* audit log actor */
	pp_uc_progress_fn progress;
	void *progress_ctx;
};

struct pp_uc_usb_create_result {
	uint32_t version;
	size_t records;
	size_t file_bytes;
};

/* Checks the options (the same one-line messages the CLI gives). */
int pp_uc_usb_create_check(const struct pp_uc_usb_create_opts *o, struct pp_err *err) PP_WUR;

/* One transaction: picks the batch's available keys (in PID order), writes the file
 * atomically (a temporary file linked into place: out_path appears whole or not at
 * all, and an existing one is refused), marks the keys exported and audits
 * "usb.create". On any failure nothing is left: no file, no change in the store. */
int pp_uc_usb_create(struct pp_store *s, const struct pp_uc_usb_create_opts *o,
		     struct pp_uc_usb_create_result *res, struct pp_err *err) PP_WUR;

enum pp_uc_record_state { PP_UC_REC_INVALID, PP_UC_REC_VALID, PP_UC_REC_CONSUMED };
/* "invalid", "valid", "consumed" */
const char *pp_uc_record_state_name(enum pp_uc_record_state st);
struct pp_usb_record;
struct pp_usb_file;
/* Reads and parses a setup.bin of any version (at most PP_UC_USB_MAX_RECORDS records);
 * errors start with the path. Free f with pp_usb_file_free, also after a failure. */
int pp_uc_usb_file_load(const char *path, struct pp_usb_file *f, struct pp_err *err) PP_WUR;
/* Not a data record: invalid; a data record with its valid flag: valid; else consumed. */
enum pp_uc_record_state pp_uc_usb_record_state(const struct pp_usb_record *r);

struct pp_uc_reconcile_row {
	uint32_t record;
	char pid[9]; /* canonical, undashed; "" for a record without a PID */
	enum pp_uc_record_state record_state;
	bool known;                  /* the store has the key */
	enum pp_key_state key_state; /* when known, after reconciling */
	bool heard_from;             /* a device proved the key (use_count > 0) */
};

struct pp_uc_reconcile_opts {
	const char *path;
	const char *actor;
	pp_uc_progress_fn progress;
	void *progress_ctx;
};

struct pp_uc_reconcile_result {
	struct pp_uc_reconcile_row *rows;
	size_t n_rows;
	uint64_t consumed, marked_in_use, never_heard_from, still_valid, unknown_to_store;
};

/* Reads a used setup.bin and, in one transaction, marks the keys of its consumed
 * records in-use (available or exported ones), audits "usb.reconcile" and fills res
 * (free it with pp_uc_reconcile_result_free, also after a failure). Records whose key
 * the store does not know are counted in unknown_to_store, not an error here; see
 * pp_uc_reconcile_unknown_err. */
int pp_uc_usb_reconcile(struct pp_store *s, const struct pp_uc_reconcile_opts *o,
			struct pp_uc_reconcile_result *res, struct pp_err *err) PP_WUR;
void pp_uc_reconcile_result_free(struct pp_uc_reconcile_result *res);
/* -PP_ENOTFOUND "<path>: N records hold keys this store does not know" when there are
 * such records, else 0. */
int pp_uc_reconcile_unknown_err(const struct pp_uc_reconcile_result *res, const char *path,
				struct pp_err *err) PP_WUR;

#endif
