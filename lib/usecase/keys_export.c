/* pp_keys_export: a batch's keys to a new CSV or PSKC file of mode 0600. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/secret.h"
#include "keys/csv.h"
#include "usecase/keys.h"
#include "usecase/keys_impl.h"

#define CSV_MAX ((size_t)4 << 30)

struct export_ctx {
	struct pp_store *s;
	const struct pp_keys_export_opts *o;
	struct pp_key_info *v; /* the keys to export (public fields only) */
	size_t n, cap;
	struct pp_buf out;
	struct pp_pskc_writer *pw;
	bool file_written;
};

const char *pp_keys_format_name(enum pp_keys_format f)
{
	return f == PP_KEYS_PSKC ? "pskc" : "csv";
}

static void export_ctx_free(struct export_ctx *x)
{
	free(x->v);
	pp_buf_free_wipe(&x->out);
	pp_pskc_writer_free(x->pw);
}

static int collect_key(void *arg, const struct pp_key_info *k)
{
	struct export_ctx *x = arg;
	if (k->state != PP_KEY_AVAILABLE && k->state != PP_KEY_EXPORTED)
		return 0;
	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 1024;
		void *p = reallocarray(x->v, ncap, sizeof(*x->v));
		if (!p)
			return -PP_ENOMEM;
		x->v = p;
		x->cap = ncap;
	}
	x->v[x->n++] = *k;
	return 0;
}

/* Adds key i to the document and marks it exported. */
static int export_one(struct export_ctx *x, size_t i, struct pp_err *err)
{
	pp_cleanup(pp_key_record_wipe) struct pp_key_record row;
	memset(&row, 0, sizeof(row));
	memcpy(row.pid.s, x->v[i].pid, sizeof(row.pid.s));
	snprintf(row.batch, sizeof(row.batch), "%s", x->o->batch);
	int rc = pp_store_key_secrets(x->s, row.pid.s, &row.pps, row.mebx, sizeof(row.mebx), err);
	if (rc < 0)
		return rc;
	if (x->pw)
		rc = pp_pskc_writer_add(x->pw, &row, err);
	else if (pp_csv_write_row(&x->out, &row) < 0)
		rc = pp_err_set(err, PP_ENOMEM, "export: out of memory");
	if (rc == 0 && x->v[i].state == PP_KEY_AVAILABLE)
		rc = pp_store_key_set_state(x->s, x->v[i].pid, PP_KEY_EXPORTED, err);
	return rc;
}

static int export_render(struct export_ctx *x, struct pp_err *err)
{
	const struct pp_keys_export_opts *o = x->o;
	if (!x->pw && pp_csv_write_header(&x->out) < 0)
		return pp_err_set(err, PP_ENOMEM, "export: out of memory");
	for (size_t i = 0; i < x->n; i++) {
		int rc = export_one(x, i, err);
		if (rc < 0)
			return rc;
		if (o->progress)
			o->progress(o->progress_ctx, i + 1, x->n);
	}
	return x->pw ? pp_pskc_writer_finish(x->pw, &x->out, err) : 0;
}

static int export_audit(struct export_ctx *x, struct pp_err *err)
{
	const struct pp_keys_export_opts *o = x->o;
	const char *prot = "";
	if (o->format == PP_KEYS_PSKC)
		prot = o->prot->kind == PP_PSKC_TRANSPORT_KEY ? " protect=transport-key"
							      : " protect=passphrase";
	char detail[96];
	snprintf(detail, sizeof(detail), "format=%s keys=%zu%s", pp_keys_format_name(o->format),
		 x->n, prot);
	return pp_store_audit_append(x->s, o->actor, "keys.export", o->batch, detail, err);
}

static int export_check(const struct pp_keys_export_opts *o, struct pp_err *err)
{
	if (o->format != PP_KEYS_CSV && o->format != PP_KEYS_PSKC)
		return pp_err_set(err, PP_EINVAL, "export: unknown format");
	if ((o->format == PP_KEYS_PSKC) != (o->prot != NULL))
		return pp_err_set(err, PP_EINVAL,
				  "export: PSKC, and only PSKC, needs a "
				  "transport key or passphrase");
	if (!o->batch || !o->path)
		return pp_err_set(err, PP_EINVAL, "export: a batch and a file are required");
	return 0;
}

/* The keys to export, read before the transaction. */
static int export_collect(struct export_ctx *x, struct pp_err *err)
{
	struct pp_batch_info bi;
	int rc = pp_store_batch_get(x->s, x->o->batch, &bi, err);
	if (rc < 0)
		return rc;
	struct pp_key_filter f = {.batch = x->o->batch, .state = -1, .limit = 0};
	rc = pp_store_key_list(x->s, &f, collect_key, x, err);
	if (rc == -PP_ENOMEM)
		return pp_err_set(err, PP_ENOMEM, "export: out of memory");
	if (rc == 0 && x->n == 0)
		rc = pp_err_set(err, PP_ENOTFOUND,
				"batch '%s' has no available or exported keys to export",
				x->o->batch);
	return rc;
}

/* In the transaction: renders, audits, then creates the file (last: when the commit
 * fails, the caller removes it). */
static int export_tx(void *arg, struct pp_err *err)
{
	struct export_ctx *x = arg;
	int rc = export_render(x, err);
	if (rc == 0)
		rc = export_audit(x, err);
	if (rc == 0)
		rc = pp_file_create(x->o->path, x->out.data, x->out.len, 0600, err);
	x->file_written = rc == 0;
	return rc;
}

int pp_keys_export(struct pp_store *s, const struct pp_keys_export_opts *o,
		   struct pp_keys_export_result *res, struct pp_err *err)
{
	pp_cleanup(export_ctx_free) struct export_ctx x = {.s = s, .o = o};
	memset(res, 0, sizeof(*res));
	int rc = export_check(o, err);
	if (rc < 0)
		return rc;
	pp_buf_init(&x.out, o->format == PP_KEYS_PSKC ? PP_PSKC_DOC_MAX : CSV_MAX);
	if (o->format == PP_KEYS_PSKC && (rc = pp_pskc_writer_new(o->prot, &x.pw, err)) < 0)
		return rc;
	rc = export_collect(&x, err);
	if (rc == 0)
		rc = pp_keys_in_tx(s, export_tx, &x, err);
	if (rc < 0 && x.file_written)
		unlink(o->path);
	if (rc < 0)
		return rc;
	res->count = x.n;
	return 0;
}
