/* USB one-touch setup files: create for a batch, reconcile a used one [docs/protocol.md
 * section 6]. */
#include "usecase/usb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "keys/csv.h"
#include "proto/setupbin.h"
#include "store/store.h"

#define USB_READ_MAX ((size_t)PP_USB_BLOCK * (PP_UC_USB_MAX_RECORDS + 1))

int pp_uc_usb_create_check(const struct pp_uc_usb_create_opts *o, struct pp_err *err)
{
	if (!o->batch || !o->out_path)
		return pp_err_set(err, PP_EINVAL, "--batch and --out are required");
	if (o->version < 1 || o->version > 4)
		return pp_err_set(err, PP_EINVAL, "--format: v%u is not v1, v2, v3 or v4",
				  o->version);
	if (o->count > PP_UC_USB_MAX_RECORDS)
		return pp_err_set(err, PP_EINVAL, "--count: at most %u", PP_UC_USB_MAX_RECORDS);
	if (o->have_server_ipv4 && o->server_fqdn)
		return pp_err_set(err, PP_EINVAL, "give --server or --server-fqdn, not both");
	if (o->server_fqdn && !pp_valid_fqdn(o->server_fqdn))
		return pp_err_set(err, PP_EINVAL, "--server-fqdn: '%.64s' is not a DNS name",
				  o->server_fqdn);
	if ((o->have_server_ipv4 || o->server_fqdn) && o->server_port == 0)
		return pp_err_set(err, PP_EINVAL, "--server: port 0");
	const char *pw = o->current_password ? o->current_password : "admin";
	if (!*pw || strlen(pw) > PP_MEBX_MAX)
		return pp_err_set(err, PP_EINVAL, "--current-password: 1 to %d characters",
				  PP_MEBX_MAX);
	return 0;
}

/* ---- create ---- */

struct create_job {
	struct pp_store *store;
	const struct pp_uc_usb_create_opts *o;
	char (*pids)[9];
	size_t n, max;
	uint8_t *file;
	size_t file_len;
};

static void create_job_free(struct create_job *j)
{
	if (j->file) {
		pp_wipe(j->file, j->file_len);
		free(j->file);
	}
	free(j->pids);
}

static void pps_wipe(struct pp_pps *p)
{
	pp_wipe(p, sizeof(*p));
}

static void mebx_wipe(char (*m)[PP_STORE_MEBX_MAX + 1])
{
	pp_wipe(*m, sizeof(*m));
}

static void record_wipe(struct pp_usb_record *r)
{
	pp_usb_record_wipe(r);
}

static int pick_available(void *arg, const struct pp_key_info *k)
{
	struct create_job *j = arg;
	if (k->state != PP_KEY_AVAILABLE || j->n >= j->max)
		return 0;
	memcpy(j->pids[j->n++], k->pid, 9);
	return 0;
}

static int pick_keys(struct create_job *j, struct pp_err *err)
{
	const char *batch = j->o->batch;
	struct pp_batch_info bi;
	int rc = pp_store_batch_get(j->store, batch, &bi, err);
	if (rc < 0)
		return rc;
	j->max = j->o->count ? j->o->count
			     : (bi.key_count < PP_UC_USB_MAX_RECORDS ? bi.key_count
								     : PP_UC_USB_MAX_RECORDS);
	j->pids = calloc(j->max ? j->max : 1, sizeof(*j->pids));
	if (!j->pids)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	struct pp_key_filter f = {.batch = batch, .state = PP_KEY_AVAILABLE, .limit = j->max};
	rc = pp_store_key_list(j->store, &f, pick_available, j, err);
	if (rc < 0)
		return rc;
	if (j->n == 0)
		return pp_err_set(err, PP_ENOTFOUND, "batch '%s' has no available keys", batch);
	if (j->o->count && j->n < j->o->count)
		return pp_err_set(err, PP_ENOTFOUND,
				  "batch '%s' has %zu available key%s; --count asks for %u", batch,
				  j->n, j->n == 1 ? "" : "s", j->o->count);
	return 0;
}

static int file_start(struct create_job *j, struct pp_err *err)
{
	struct pp_usb_header hdr;
	uint16_t flags = j->o->no_consume ? PP_USB_HDR_NO_CONSUME : 0;
	int rc = pp_usb_header_init(&hdr, j->o->version, flags, (uint32_t)j->n, err);
	if (rc == 0)
		rc = pp_usb_header_add_module(&hdr, PP_USB_MOD_ME, err);
	if (rc == 0)
		rc = pp_usb_header_add_module(&hdr, PP_USB_MOD_AMT, err);
	if (rc < 0)
		return rc;
	if (pp_usb_file_size((uint32_t)j->n, &j->file_len) < 0 ||
	    !(j->file = calloc(1, j->file_len)))
		return pp_err_set(err, PP_ENOMEM, "cannot hold a %zu-record file", j->n);
	return pp_usb_header_write(&hdr, j->file, err);
}

/* Entries sorted by (module, variable), docs/protocol.md section 6. */
static int record_fill(struct pp_usb_record *rec, const struct pp_uc_usb_create_opts *o,
		       const char *pid, const char *pps, const char *mebx, struct pp_err *err)
{
	const char *cur = o->current_password ? o->current_password : "admin";
	int rc = pp_usb_record_add_string(rec, 1, PP_USB_ME_CURRENT_PASSWORD, cur, err);
	if (rc == 0)
		rc = pp_usb_record_add_string(rec, 1, PP_USB_ME_NEW_PASSWORD, mebx, err);
	if (rc == 0)
		rc = pp_usb_record_add_string(rec, 2, PP_USB_AMT_PID, pid, err);
	if (rc == 0)
		rc = pp_usb_record_add_string(rec, 2, PP_USB_AMT_PPS, pps, err);
	if (rc == 0 && o->server_fqdn)
		rc = pp_usb_record_add_string(rec, 2, PP_USB_AMT_SERVER_FQDN, o->server_fqdn, err);
	if (rc == 0 && o->have_server_ipv4)
		rc = pp_usb_record_add_ipv4(rec, 2, PP_USB_AMT_SERVER_IPV4, o->server_ipv4, err);
	if (rc == 0 && (o->have_server_ipv4 || o->server_fqdn))
		rc = pp_usb_record_add_u16(rec, 2, PP_USB_AMT_SERVER_PORT, o->server_port, err);
	return rc;
}

/* Record i (0-based) of the file, for key pids[i]; the key becomes exported. */
static int record_export(struct create_job *j, size_t i, struct pp_err *err)
{
	pp_cleanup(pps_wipe) struct pp_pps pps = {0};
	pp_cleanup(mebx_wipe) char mebx[PP_STORE_MEBX_MAX + 1] = "";
	pp_cleanup(record_wipe) struct pp_usb_record rec;
	pp_usb_record_init(&rec, (uint32_t)(i + 1));
	int rc = pp_store_key_secrets(j->store, j->pids[i], &pps, mebx, sizeof(mebx), err);
	if (rc < 0)
		return rc;
	rc = record_fill(&rec, j->o, j->pids[i], pps.s, mebx, err);
	if (rc == 0)
		rc = pp_usb_record_write(&rec, j->o->scramble, j->file + PP_USB_BLOCK * (i + 1),
					 err);
	if (rc == 0)
		rc = pp_store_key_set_state(j->store, j->pids[i], PP_KEY_EXPORTED, err);
	return rc;
}

static int records_export(struct create_job *j, struct pp_err *err)
{
	for (size_t i = 0; i < j->n; i++) {
		int rc = record_export(j, i, err);
		if (rc < 0)
			return rc;
		if (j->o->progress)
			j->o->progress(j->o->progress_ctx, i + 1, j->n);
	}
	char detail[128];
	snprintf(detail, sizeof(detail), "setup.bin v%u records=%zu%s%s", j->o->version, j->n,
		 j->o->no_consume ? " no-consume" : "", j->o->scramble ? " scrambled" : "");
	return pp_store_audit_append(j->store, j->o->actor, "usb.create", j->o->batch, detail, err);
}

int pp_uc_usb_create(struct pp_store *s, const struct pp_uc_usb_create_opts *o,
		     struct pp_uc_usb_create_result *res, struct pp_err *err)
{
	pp_cleanup(create_job_free) struct create_job j = {.store = s, .o = o};
	memset(res, 0, sizeof(*res));
	int rc = pp_uc_usb_create_check(o, err);
	if (rc < 0 || (rc = pp_store_begin(s, err)) < 0)
		return rc;
	/* Keys picked inside the transaction: no other writer exports them meanwhile. */
	rc = pick_keys(&j, err);
	if (rc == 0)
		rc = file_start(&j, err);
	if (rc == 0)
		rc = records_export(&j, err);
	if (rc == 0)
		rc = pp_file_create(o->out_path, j.file, j.file_len, 0600, err);
	if (rc < 0) {
		pp_store_rollback_quiet(s);
		return rc;
	}
	if ((rc = pp_store_commit(s, err)) < 0) {
		pp_store_rollback_quiet(s);
		unlink(o->out_path);
		return rc;
	}
	*res = (struct pp_uc_usb_create_result){o->version, j.n, j.file_len};
	return 0;
}

/* ---- reconcile ---- */

const char *pp_uc_record_state_name(enum pp_uc_record_state st)
{
	static const char *const names[] = {"invalid", "valid", "consumed"};
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "invalid";
}

enum pp_uc_record_state pp_uc_usb_record_state(const struct pp_usb_record *r)
{
	if (r->type != PP_USB_TYPE_DATA)
		return PP_UC_REC_INVALID;
	return (r->flags & PP_USB_REC_VALID) ? PP_UC_REC_VALID : PP_UC_REC_CONSUMED;
}

int pp_uc_usb_file_load(const char *path, struct pp_usb_file *f, struct pp_err *err)
{
	struct pp_buf b;
	pp_buf_init(&b, USB_READ_MAX);
	int rc = pp_file_read(path, USB_READ_MAX, &b, err);
	if (rc == 0)
		rc = pp_usb_file_parse(b.data, b.len, f, err);
	pp_buf_free_wipe(&b);
	return rc < 0 ? pp_err_prefix(err, "%s", path) : 0;
}

/* A consumed record's key went into a machine: it is in-use now. */
static int key_mark_in_use(struct pp_store *s, struct pp_key_info *k, uint64_t *marked,
			   struct pp_err *err)
{
	if (k->state != PP_KEY_EXPORTED && k->state != PP_KEY_AVAILABLE)
		return 0;
	int rc = 0;
	if (k->state == PP_KEY_AVAILABLE)
		rc = pp_store_key_set_state(s, k->pid, PP_KEY_EXPORTED, err);
	if (rc == 0)
		rc = pp_store_key_set_state(s, k->pid, PP_KEY_IN_USE, err);
	if (rc == 0) {
		k->state = PP_KEY_IN_USE;
		(*marked)++;
	}
	return rc;
}

static int reconcile_row(struct pp_store *s, const struct pp_usb_record *r,
			 struct pp_uc_reconcile_row *row, struct pp_uc_reconcile_result *res,
			 struct pp_err *err)
{
	char text[16] = "";
	struct pp_pid pid;
	struct pp_err ignored;
	*row = (struct pp_uc_reconcile_row){.record = r->number,
					    .record_state = pp_uc_usb_record_state(r)};
	/* A record without a PID: Intel's own tools write such files. */
	if (pp_usb_record_get_string(r, PP_USB_MOD_AMT, PP_USB_AMT_PID, text, sizeof(text),
				     &ignored) < 0 ||
	    pp_pid_parse(text, &pid, &ignored) < 0)
		return 0;
	memcpy(row->pid, pid.s, sizeof(row->pid));
	struct pp_key_info k;
	int rc = pp_store_key_get(s, row->pid, &k, err);
	if (rc == -PP_ENOTFOUND) {
		pp_err_clear(err);
		res->unknown_to_store++;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (row->record_state == PP_UC_REC_CONSUMED) {
		res->consumed++;
		if ((rc = key_mark_in_use(s, &k, &res->marked_in_use, err)) < 0)
			return rc;
		res->never_heard_from += k.use_count == 0;
	} else if (row->record_state == PP_UC_REC_VALID) {
		res->still_valid++;
	}
	row->known = true;
	row->key_state = k.state;
	row->heard_from = k.use_count > 0;
	return 0;
}

static int reconcile_rows(struct pp_store *s, const struct pp_uc_reconcile_opts *o,
			  const struct pp_usb_file *f, struct pp_uc_reconcile_result *res,
			  struct pp_err *err)
{
	res->rows = calloc(f->n_records ? f->n_records : 1, sizeof(*res->rows));
	if (!res->rows)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	for (size_t i = 0; i < f->n_records; i++) {
		int rc = reconcile_row(s, &f->records[i], &res->rows[i], res, err);
		if (rc < 0)
			return rc;
		res->n_rows = i + 1;
		if (o->progress)
			o->progress(o->progress_ctx, i + 1, f->n_records);
	}
	char detail[160];
	snprintf(detail, sizeof(detail),
		 "consumed=%llu marked=%llu never_heard=%llu valid=%llu unknown=%llu",
		 (unsigned long long)res->consumed, (unsigned long long)res->marked_in_use,
		 (unsigned long long)res->never_heard_from, (unsigned long long)res->still_valid,
		 (unsigned long long)res->unknown_to_store);
	return pp_store_audit_append(s, o->actor, "usb.reconcile", o->path, detail, err);
}

static void usb_file_freep(struct pp_usb_file *f)
{
	pp_usb_file_free(f);
}

int pp_uc_usb_reconcile(struct pp_store *s, const struct pp_uc_reconcile_opts *o,
			struct pp_uc_reconcile_result *res, struct pp_err *err)
{
	pp_cleanup(usb_file_freep) struct pp_usb_file f;
	memset(&f, 0, sizeof(f));
	memset(res, 0, sizeof(*res));
	int rc = pp_uc_usb_file_load(o->path, &f, err);
	if (rc < 0)
		return rc;
	if ((rc = pp_store_begin(s, err)) < 0)
		return rc;
	rc = reconcile_rows(s, o, &f, res, err);
	if (rc == 0)
		rc = pp_store_commit(s, err);
	if (rc < 0)
		pp_store_rollback_quiet(s);
	return rc;
}

void pp_uc_reconcile_result_free(struct pp_uc_reconcile_result *res)
{
	if (!res)
		return;
	free(res->rows);
	res->rows = NULL;
	res->n_rows = 0;
}

int pp_uc_reconcile_unknown_err(const struct pp_uc_reconcile_result *res, const char *path,
				struct pp_err *err)
{
	if (!res->unknown_to_store)
		return 0;
	uint64_t n = res->unknown_to_store;
	return pp_err_set(err, PP_ENOTFOUND, "%s: %llu %s this store does not know", path,
			  (unsigned long long)n,
			  n == 1 ? "record holds a key" : "records hold keys");
}
