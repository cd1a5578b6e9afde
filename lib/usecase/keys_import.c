/* pp_keys_import: a CSV or PSKC file into the store, all or nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/secret.h"
#include "keys/csv.h"
#include "usecase/keys.h"
#include "usecase/keys_impl.h"

/* A PID read from the file, and where: tells a PID repeated in the file from one
 * already in the store (both are -PP_EEXIST from the insert). */
struct import_seen {
	char pid[PP_PID_LEN + 1];
	unsigned where; /* line (CSV) or KeyPackage (PSKC) */
};

struct import_ctx {
	struct pp_store *s;
	const struct pp_keys_import_opts *o;
	struct pp_err *err;
	struct import_seen *seen;
	size_t nseen, capseen;
	char last_batch[PP_BATCH_NAME_MAX + 1];
	int64_t batch_id;
	uint64_t n;
	uint64_t batches_created;
	uint64_t package; /* PSKC: KeyPackage number, for messages */
};

/* A PSKC document starts with '<' (after a byte order mark and white space). */
static bool looks_like_xml(const uint8_t *p, size_t n)
{
	size_t i = 0;
	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		i = 3;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < n && p[i] == '<';
}

int pp_keys_file_read(const char *path, struct pp_keys_file *f, struct pp_err *err)
{
	memset(f, 0, sizeof(*f));
	pp_buf_init(&f->text, PP_KEYS_IMPORT_MAX);
	int rc = pp_file_read(path, PP_KEYS_IMPORT_MAX, &f->text, err);
	if (rc < 0)
		return rc;
	struct pp_err ignored = {0};
	f->not_private = pp_file_check_private(path, &ignored) < 0;
	f->format = looks_like_xml(f->text.data, f->text.len) ? PP_KEYS_PSKC : PP_KEYS_CSV;
	return 0;
}

void pp_keys_file_free(struct pp_keys_file *f)
{
	if (f)
		pp_buf_free_wipe(&f->text);
}

static int import_remember(struct import_ctx *ic, const struct pp_pid *pid, unsigned where)
{
	if (ic->nseen == ic->capseen) {
		size_t cap = ic->capseen ? 2 * ic->capseen : 1024;
		struct import_seen *n = reallocarray(ic->seen, cap, sizeof(*n));
		if (!n)
			return pp_err_set(ic->err, PP_ENOMEM, "import: out of memory");
		ic->seen = n;
		ic->capseen = cap;
	}
	memcpy(ic->seen[ic->nseen].pid, pid->s, sizeof(pid->s));
	ic->seen[ic->nseen++].where = where;
	return 0;
}

/* The insert said the PID exists: earlier in this file, or in the store before. */
static int import_duplicate(struct import_ctx *ic, const struct pp_pid *pid, unsigned where)
{
	char t[PP_PID_TEXT];
	const char *unit = ic->package ? "KeyPackages" : "lines";
	pp_pid_format(pid, t);
	for (size_t i = 0; i < ic->nseen; i++)
		if (!strcmp(ic->seen[i].pid, pid->s))
			return pp_err_set(ic->err, PP_EEXIST,
					  "PID %s appears twice in the file (%s %u and %u)", t,
					  unit, ic->seen[i].where, where);
	return pp_err_set(ic->err, PP_EEXIST, "%s %u: PID %s is already in the store",
			  ic->package ? "KeyPackage" : "line", where, t);
}

/* The batch a row names: found (a plain one) or created. */
static int import_batch(struct import_ctx *ic, const char *name, unsigned line)
{
	struct pp_batch_info bi;
	struct pp_err e2 = {0};
	int rc = pp_store_batch_get(ic->s, name, &bi, &e2);
	if (rc == -PP_ENOTFOUND) {
		struct pp_batch_new nb = {.name = name};
		if (pp_store_batch_create(ic->s, &nb, &bi.id, ic->err) < 0)
			return pp_err_prefix(ic->err, "line %u", line);
		ic->batches_created++;
	} else if (rc < 0) {
		*ic->err = e2;
		return pp_err_prefix(ic->err, "line %u", line);
	} else if (bi.derived || bi.shared_max) {
		return pp_err_set(ic->err, PP_ESTATE,
				  "line %u: batch '%s' %s; imported keys need a batch of their own",
				  line, name, bi.derived ? "is derived" : "holds shared keys");
	}
	ic->batch_id = bi.id;
	snprintf(ic->last_batch, sizeof(ic->last_batch), "%s", name);
	return 0;
}

static int import_row(void *arg, const struct pp_key_record *row, unsigned line)
{
	struct import_ctx *ic = arg;
	int rc;
	if (strcmp(ic->last_batch, row->batch) && (rc = import_batch(ic, row->batch, line)) < 0)
		return rc;
	struct pp_key_new k = {.pid = row->pid.s,
			       .pps = row->pps.s,
			       .mebx_password = row->mebx,
			       .batch_id = ic->batch_id,
			       .max_devices = 1,
			       .state = PP_KEY_EXPORTED};
	rc = pp_store_key_insert(ic->s, &k, ic->err);
	if (rc == -PP_EEXIST)
		return import_duplicate(ic, &row->pid, line);
	if (rc < 0)
		return pp_err_prefix(ic->err, "line %u", line);
	ic->n++;
	return import_remember(ic, &row->pid, line);
}

static int import_pskc_key(void *arg, const struct pp_key_record *k)
{
	struct import_ctx *ic = arg;
	ic->package++;
	return import_row(ic, k, (unsigned)ic->package);
}

/* In the transaction: every key, then the audit entry. */
static int import_tx(void *arg, struct pp_err *err)
{
	struct import_ctx *ic = arg;
	const struct pp_keys_import_opts *o = ic->o;
	const struct pp_keys_file *f = o->file;
	bool pskc = f->format == PP_KEYS_PSKC;
	int rc;
	if (pskc)
		rc = pp_pskc_read(f->text.data, f->text.len, o->prot, import_pskc_key, ic, err);
	else
		rc = pp_csv_parse((const char *)f->text.data, f->text.len, import_row, ic, err);
	if (rc == 0 && ic->n == 0)
		rc = pp_err_set(err, PP_EINVAL, "no keys in the file");
	if (rc < 0)
		return rc;
	char detail[96];
	snprintf(detail, sizeof(detail), "format=%s keys=%llu", pp_keys_format_name(f->format),
		 (unsigned long long)ic->n);
	return pp_store_audit_append(ic->s, o->actor, "keys.import", o->name, detail, err);
}

static void import_ctx_free(struct import_ctx *ic)
{
	free(ic->seen);
}

int pp_keys_import_check(const struct pp_keys_file *f, const char *name, bool have_prot,
			 struct pp_err *err)
{
	if (f->format == PP_KEYS_PSKC && !have_prot)
		return pp_err_set(err, PP_EINVAL,
				  "%s is a PSKC container: give --transport-key or --passphrase",
				  name);
	if (f->format != PP_KEYS_PSKC && have_prot)
		return pp_err_set(err, PP_EINVAL,
				  "%s is not a PSKC container (it does not start with '<')", name);
	return 0;
}

int pp_keys_import(struct pp_store *s, const struct pp_keys_import_opts *o,
		   struct pp_keys_import_result *res, struct pp_err *err)
{
	pp_cleanup(import_ctx_free) struct import_ctx ic = {.s = s, .o = o, .err = err};
	memset(res, 0, sizeof(*res));
	int rc = pp_keys_import_check(o->file, o->name, o->prot != NULL, err);
	if (rc < 0)
		return rc;
	if (pp_keys_in_tx(s, import_tx, &ic, err) < 0)
		return pp_err_prefix(err, "%s", o->name);
	res->count = ic.n;
	res->batches_created = ic.batches_created;
	return 0;
}
