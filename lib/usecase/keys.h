/* The administrator's key operations over a store: generate a batch, export it (CSV or
 * PSKC), import a file, revoke, show, list and report. The CLI parses options, calls
 * one of these and prints the result; these never print, prompt or exit.
 *
 * Every mutating operation is one transaction (all or nothing) with its audit entry
 * inside it; `actor` names who acts in that entry ("cli:alice"). Errors come as
 * -PP_E* with one line in err that never holds a PPS or a MEBx password. */
#ifndef PSKPROV_USECASE_KEYS_H
#define PSKPROV_USECASE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/err.h"
#include "keys/pskc.h"
#include "keys/record.h"
#include "store/store.h"

#define PP_KEYS_GENERATE_MAX 10000000u          /* keys in one batch */
#define PP_KEYS_SHARED_MAX 100000u              /* devices per shared key */
#define PP_KEYS_IMPORT_MAX (256u * 1024 * 1024) /* bytes of an import file */

/* Progress of a long operation: done of total keys. Called on the caller's thread. */
typedef void (*pp_keys_progress_fn)(void *ctx, uint64_t done, uint64_t total);

enum pp_keys_format { PP_KEYS_CSV = 1, PP_KEYS_PSKC = 2 };
/* "csv", "pskc". */
const char *pp_keys_format_name(enum pp_keys_format f);

/* ---- generate ---- */

struct pp_keys_generate_opts {
	const char *batch; /* pp_batch_name_check; the name must be new */
	uint32_t count;    /* 1..PP_KEYS_GENERATE_MAX */
	uint32_t shared;   /* 0: unique keys; else 2..PP_KEYS_SHARED_MAX devices per key */
	bool derived;      /* PPS derived from one batch secret, stored sealed */
	/* One MEBx password for the whole batch (secret; pp_mebx_password_check), or
	 * NULL for a random one per key of mebx_length characters. */
	const char *mebx_password;
	uint32_t mebx_length;
	const char *actor;
	pp_keys_progress_fn progress; /* may be NULL */
	void *progress_ctx;
};
struct pp_keys_generate_result {
	int64_t batch_id;
	uint32_t count;
	double seconds; /* generating and storing */
};
int pp_keys_generate(struct pp_store *s, const struct pp_keys_generate_opts *o,
		     struct pp_keys_generate_result *res, struct pp_err *err) PP_WUR;

/* ---- export ---- */

struct pp_keys_export_opts {
	const char *batch;
	enum pp_keys_format format;
	const char *path; /* a new file (never overwritten: -PP_EEXIST), mode 0600 */
	/* PSKC: the transport key or passphrase; NULL for CSV. */
	const struct pp_pskc_protection *prot;
	const char *actor;
	pp_keys_progress_fn progress;
	void *progress_ctx;
};
struct pp_keys_export_result {
	size_t count; /* keys written; the available ones among them are now exported */
};
/* Writes the batch's available and exported keys and marks them exported. The file
 * is whole or absent: it is created only when every key is in it, and removed again
 * when the transaction does not commit. -PP_ENOTFOUND: no such batch, or no key to
 * export. */
int pp_keys_export(struct pp_store *s, const struct pp_keys_export_opts *o,
		   struct pp_keys_export_result *res, struct pp_err *err) PP_WUR;

/* ---- import ---- */

/* A file to import, read whole (at most PP_KEYS_IMPORT_MAX bytes). */
struct pp_keys_file {
	struct pp_buf text;         /* wiped on free: it may hold secrets */
	enum pp_keys_format format; /* PSKC when it starts with '<' (after a BOM, spaces) */
	bool not_private;           /* group or others may read it (worth a warning) */
};
int pp_keys_file_read(const char *path, struct pp_keys_file *f, struct pp_err *err) PP_WUR;
void pp_keys_file_free(struct pp_keys_file *f);

/* Whether the file and the protection go together: a PSKC file needs one (have_prot),
 * a CSV file takes none. -PP_EINVAL saying which. pp_keys_import checks it too; a
 * caller that asks for a passphrase calls it first. */
int pp_keys_import_check(const struct pp_keys_file *f, const char *name, bool have_prot,
			 struct pp_err *err) PP_WUR;

struct pp_keys_import_opts {
	const char *name; /* the file's name: audit subject and error prefix */
	const struct pp_keys_file *file;
	const struct pp_pskc_protection *prot; /* PSKC only */
	const char *actor;
};
struct pp_keys_import_result {
	uint64_t count;
	uint64_t batches_created;
};
/* Every key is checked before the commit (PSKC: every MAC first); keys land in the
 * 'exported' state, in batches named by the file (created when new; an existing
 * derived or shared batch is refused). A PID twice in the file, or already in the
 * store, is -PP_EEXIST naming the lines (KeyPackages). A file with no key is
 * -PP_EINVAL. */
int pp_keys_import(struct pp_store *s, const struct pp_keys_import_opts *o,
		   struct pp_keys_import_result *res, struct pp_err *err) PP_WUR;

/* ---- one key ---- */

/* Revokes a key. Revoking a revoked key changes nothing and sets *already (no audit
 * entry); a key in a final state (consumed, expired) is -PP_ESTATE. */
int pp_keys_revoke(struct pp_store *s, const struct pp_pid *pid, const char *actor, bool *already,
		   struct pp_err *err) PP_WUR;

struct pp_keys_shown {
	struct pp_key_info info;
	bool revealed;
	struct pp_pps pps;             /* secret, when revealed */
	char mebx[PP_MEBX_PW_MAX + 1]; /* secret, when revealed */
};
/* One key; with reveal, its PPS and MEBx password too, after an audit entry
 * ("keys.reveal") says they were shown. Wipe *out when done. */
int pp_keys_show(struct pp_store *s, const struct pp_pid *pid, bool reveal, const char *actor,
		 struct pp_keys_shown *out, struct pp_err *err) PP_WUR;

/* Keys in PID order; a named batch must exist (-PP_ENOTFOUND). *count gets how many
 * cb saw. */
int pp_keys_list(struct pp_store *s, const struct pp_key_filter *f,
		 int (*cb)(void *ctx, const struct pp_key_info *), void *ctx, uint64_t *count,
		 struct pp_err *err) PP_WUR;

/* ---- report ---- */

enum pp_keys_finding {
	PP_FIND_SHARED,        /* key: a shared key and its use */
	PP_FIND_LOCKED,        /* key: locked out now (failed handshakes) */
	PP_FIND_SILENT,        /* key: exported but never seen by the server */
	PP_FIND_QUARANTINED,   /* device: a cloned or stolen key */
	PP_FIND_SUSPECT_CLONE, /* note: hellos for a key other devices hold */
	PP_FIND_UNKNOWN_PID,   /* note: hellos for a PID the store does not have */
	PP_FIND_MAX
};
struct pp_keys_item {
	enum pp_keys_finding kind;
	uint64_t nth;                        /* 1 for the first of its kind */
	const struct pp_key_info *key;       /* SHARED, LOCKED, SILENT */
	const struct pp_device_info *device; /* QUARANTINED */
	const struct pp_hello_note *note;    /* SUSPECT_CLONE, UNKNOWN_PID */
};
struct pp_keys_report {
	uint64_t n[PP_FIND_MAX];
};
/* Walks keys, then devices, then the hello notes (newest first), calling cb for each
 * finding (now: the time "locked out now" is measured against). A non-zero return of
 * cb stops the walk and is returned. */
int pp_keys_report_walk(struct pp_store *s, int64_t now,
			int (*cb)(void *ctx, const struct pp_keys_item *), void *ctx,
			struct pp_keys_report *out, struct pp_err *err) PP_WUR;
/* The report as one JSON object (`pskprov keys report --json`, GET /api/v1/keys/report):
 * "shared", "quarantined", "locked_out", "exported_never_seen", "suspected_clones",
 * "unknown_pids", each an array of its findings. *out (a json_t, the caller's) is set
 * on success. */
struct json_t;
int pp_keys_report_json(struct pp_store *s, int64_t now, struct json_t **out,
			struct pp_err *err) PP_WUR;

#endif
