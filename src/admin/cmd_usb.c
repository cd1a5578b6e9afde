/* pskprov usb create|inspect|reconcile: USB one-touch setup files [docs/protocol.md section 6].
 * The work is lib/usecase/usb; this file parses options and prints. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prog/commands.h"
#include "core/address.h"
#include "core/parse.h"
#include "core/secret.h"
#include "keys/csv.h"
#include "keys/keys.h"
#include "proto/setupbin.h"
#include "store/store.h"
#include "usecase/usb.h"

static void create_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov usb create --batch NAME --out FILE [--count N]\n"
		"            [--format v1|v2|v3|v4] [--server IPV4[:PORT] | --server-fqdn NAME]\n"
		"            [--current-password PW|-] [--no-consume] [--scramble] [--json]\n\n"
		"Writes one record per available key of the batch (current MEBx password,\n"
		"new MEBx password, PID, PPS, configuration server and port) to a new file of\n"
		"mode 0600, and marks those keys exported. v1 is the default format.\n"
		"  --current-password  the device's MEBx password now (default 'admin');\n"
		"                      '-' reads it from standard input\n"
		"  --no-consume        set the header flag that keeps records after use\n"
		"  --scramble          store record bodies scrambled (obfuscation only)\n");
}

struct create_args {
	struct pp_uc_usb_create_opts o;
	const char *curpw_arg;
	bool json;
};

static int create_opt(struct create_args *a, int c, struct pp_err *err)
{
	struct pp_uc_usb_create_opts *o = &a->o;
	if (c && strchr("boqc", c)) {
		const char **dst = c == 'b'   ? &o->batch
				   : c == 'o' ? &o->out_path
				   : c == 'q' ? &o->server_fqdn
					      : &a->curpw_arg;
		*dst = optarg;
		return 0;
	}
	if (c && strchr("NSj", c)) {
		bool *flag = c == 'N' ? &o->no_consume : c == 'S' ? &o->scramble : &a->json;
		*flag = true;
		return 0;
	}
	if (c == 'n')
		return pp_parse_u32(optarg, 1, PP_UC_USB_MAX_RECORDS, &o->count, "--count", err);
	if (c == 's') {
		struct pp_address addr;
		int rc = pp_address_parse(optarg, o->server_port, 0, "--server", &addr, err);
		if (rc == 0) {
			o->have_server_ipv4 = true;
			memcpy(o->server_ipv4, addr.ip, 4);
			o->server_port = addr.port;
		}
		return rc;
	}
	/* 'f' */
	if (strlen(optarg) != 2 || optarg[0] != 'v' || optarg[1] < '1' || optarg[1] > '4')
		return pp_err_set(err, PP_EINVAL, "--format: '%.20s' is not v1, v2, v3 or v4",
				  optarg);
	o->version = (uint32_t)(optarg[1] - '0');
	return 0;
}

/* PP_EXIT_* to return at once, or -1 to go on. */
static int create_parse(int argc, char **argv, struct create_args *a)
{
	static const struct option opts[] = {{"batch", required_argument, NULL, 'b'},
					     {"out", required_argument, NULL, 'o'},
					     {"count", required_argument, NULL, 'n'},
					     {"format", required_argument, NULL, 'f'},
					     {"server", required_argument, NULL, 's'},
					     {"server-fqdn", required_argument, NULL, 'q'},
					     {"current-password", required_argument, NULL, 'c'},
					     {"no-consume", no_argument, NULL, 'N'},
					     {"scramble", no_argument, NULL, 'S'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct pp_err err = {0};
	int c;
	while ((c = pp_getopt(argc, argv, "b:o:n:f:s:q:c:NSjh", opts)) != -1) {
		if (c == 'h') {
			create_usage(stdout);
			return PP_EXIT_OK;
		}
		if (c == '?') {
			return PP_EXIT_USAGE; /* pp_getopt said what was wrong */
		}
		if (create_opt(a, c, &err) < 0)
			return pp_usage_error("usb create", "%s", err.msg);
	}
	if (optind != argc)
		return pp_usage_error("usb create", "unexpected argument '%.40s'", argv[optind]);
	if (strcmp(a->curpw_arg, "-") && pp_uc_usb_create_check(&a->o, &err) < 0)
		return pp_usage_error("usb create", "%s", err.msg);
	return -1;
}

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
	struct pp_progress *p = ctx;
	if (!p->label)
		pp_progress_start(p, "records", total);
	pp_progress_update(p, done);
}

static int create_print(const struct create_args *a, const struct pp_uc_usb_create_result *r)
{
	const struct pp_uc_usb_create_opts *o = &a->o;
	if (a->json)
		return pp_json_print(
		    json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:b,s:b}", "path", o->out_path, "batch",
			      o->batch, "version", (json_int_t)r->version, "records",
			      (json_int_t)r->records, "bytes", (json_int_t)r->file_bytes, "mode",
			      "0600", "scrambled", o->scramble, "no_consume", o->no_consume));
	printf("wrote %s: setup.bin v%u, %zu record%s (%zu bytes, mode 0600)%s%s\n", o->out_path,
	       r->version, r->records, r->records == 1 ? "" : "s", r->file_bytes,
	       o->scramble ? ", scrambled" : "", o->no_consume ? ", do-not-consume" : "");
	return PP_EXIT_OK;
}

static void secret_buf_wipe(char (*b)[PP_MEBX_MAX + 2])
{
	pp_wipe(*b, sizeof(*b));
}

static int usb_create(struct pp_cli *cli, int argc, char **argv)
{
	struct create_args a = {.o = {.version = 1, .server_port = PP_UC_USB_PORT_DEFAULT},
				.curpw_arg = "admin"};
	int ec = create_parse(argc, argv, &a);
	if (ec >= 0)
		return ec;
	struct pp_err err = {0};
	pp_cleanup(secret_buf_wipe) char curpw[PP_MEBX_MAX + 2] = "";
	if (!strcmp(a.curpw_arg, "-")) {
		if (pp_read_secret("current MEBx password: ", curpw, sizeof(curpw), &err) < 0)
			return pp_fail("--current-password: %s", err.msg);
		a.o.current_password = curpw;
		if (pp_uc_usb_create_check(&a.o, &err) < 0)
			return pp_usage_error("usb create", "%s", err.msg);
	} else {
		a.o.current_password = a.curpw_arg;
	}
	struct pp_datadir dd;
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	struct pp_progress prog = {0};
	struct pp_uc_usb_create_result res;
	a.o.actor = pp_actor();
	a.o.progress = progress_cb;
	a.o.progress_ctx = &prog;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0 ||
	    pp_uc_usb_create(store, &a.o, &res, &err) < 0)
		return pp_fail_err(&err);
	pp_progress_finish(&prog);
	return create_print(&a, &res);
}

/* ---- inspect ----------------------------------------------------------------- */

static void value_text(const struct pp_usb_var_info *vi, const uint8_t *v, size_t len, bool reveal,
		       char *out, size_t cap)
{
	if (vi && vi->secret && !reveal) {
		snprintf(out, cap, PP_HIDDEN);
		return;
	}
	enum pp_usb_vtype t = vi ? vi->type : PP_USB_VT_BYTES;
	switch (t) {
	case PP_USB_VT_STRING: {
		size_t n = 0;
		for (size_t i = 0; i < len && n + 5 < cap; i++) {
			if (v[i] >= 0x20 && v[i] < 0x7f && v[i] != '\\') {
				out[n++] = (char)v[i];
			} else {
				snprintf(out + n, cap - n, "\\x%02x", v[i]);
				n += 4;
			}
		}
		out[n] = '\0';
		return;
	}
	case PP_USB_VT_U8:
		snprintf(out, cap, "%u", v[0]);
		return;
	case PP_USB_VT_U16:
		snprintf(out, cap, "%u", (unsigned)(v[0] | v[1] << 8));
		return;
	case PP_USB_VT_IPV4_REV:
		snprintf(out, cap, "%u.%u.%u.%u", v[3], v[2], v[1], v[0]);
		return;
	case PP_USB_VT_GUID:
		/* Mixed-endian GUID text, as Windows tools show it. */
		snprintf(out, cap,
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 v[3], v[2], v[1], v[0], v[5], v[4], v[7], v[6], v[8], v[9], v[10], v[11],
			 v[12], v[13], v[14], v[15]);
		return;
	case PP_USB_VT_BYTES:
	default:
		if (len * 2 + 1 > cap)
			len = (cap - 1) / 2;
		pp_hex(v, len, out);
		return;
	}
}

static const char *record_state(const struct pp_usb_record *r)
{
	return pp_uc_record_state_name(pp_uc_usb_record_state(r));
}

/* Each variable of a record with its value as shown (hidden secrets unless reveal),
 * the text wiped after fn. */
typedef void (*var_fn)(void *ctx, const struct pp_usb_var *v, const struct pp_usb_var_info *vi,
		       const char *val);
static void each_var(const struct pp_usb_record *r, bool reveal, var_fn fn, void *ctx)
{
	for (size_t j = 0; j < r->n_vars; j++) {
		const struct pp_usb_var *v = &r->vars[j];
		const struct pp_usb_var_info *vi = pp_usb_var_lookup(v->module, v->variable);
		char val[1024];
		value_text(vi, r->body + v->off, v->len, reveal, val, sizeof(val));
		fn(ctx, v, vi, val);
		pp_wipe(val, sizeof(val));
	}
}

struct var_json {
	json_t *vars;
	bool reveal;
};

static void var_to_json(void *ctx, const struct pp_usb_var *v, const struct pp_usb_var_info *vi,
			const char *val)
{
	struct var_json *vj = ctx;
	/* A hidden secret is null, never the text "(hidden)". */
	bool hidden = vi && vi->secret && !vj->reveal;
	json_array_append_new(
	    vj->vars, json_pack("{s:i,s:i,s:s,s:s,s:i,s:o}", "module", v->module, "variable",
				v->variable, "name", vi ? vi->name : "unknown", "type",
				pp_usb_vtype_str(vi ? vi->type : PP_USB_VT_BYTES), "length", v->len,
				"value", hidden ? json_null() : json_string(val)));
}

static void var_print(void *ctx, const struct pp_usb_var *v, const struct pp_usb_var_info *vi,
		      const char *val)
{
	(void)ctx;
	printf("  %u/%-3u %-30s %s\n", v->module, v->variable, vi ? vi->name : "(unknown)", val);
}

static json_t *inspect_json(const struct pp_usb_file *f, bool reveal)
{
	const struct pp_usb_header *h = &f->header;
	json_t *mods = json_array();
	for (size_t i = 0; i < h->n_modules; i++)
		json_array_append_new(mods, json_integer(h->modules[i]));
	json_t *notes = json_array();
	for (uint32_t bit = 1; bit && bit <= f->notes; bit <<= 1)
		if (f->notes & bit)
			json_array_append_new(notes, json_string(pp_usb_note_str(bit)));
	json_t *hdr =
	    json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:b,s:I,s:I,s:i,s:o}", "version", h->version,
		      "major", h->major, "minor", h->minor, "record_header_bytes",
		      h->record_header_bytes, "record_chunk_count", h->record_chunk_count, "flags",
		      h->flags, "no_consume", (h->flags & PP_USB_HDR_NO_CONSUME) != 0,
		      "data_record_count", (json_int_t)h->data_record_count,
		      "data_records_consumed", (json_int_t)h->data_records_consumed,
		      "data_record_chunk_count", h->data_record_chunk_count, "modules", mods);
	json_t *recs = json_array();
	for (size_t i = 0; i < f->n_records; i++) {
		const struct pp_usb_record *r = &f->records[i];
		struct var_json vj = {json_array(), reveal};
		each_var(r, reveal, var_to_json, &vj);
		json_t *vars = vj.vars;
		json_array_append_new(
		    recs,
		    json_pack("{s:I,s:I,s:s,s:b,s:o}", "number", (json_int_t)r->number, "type",
			      (json_int_t)r->type, "state", record_state(r), "scrambled",
			      (r->flags & PP_USB_REC_SCRAMBLED) != 0, "variables", vars));
	}
	return json_pack("{s:o,s:o,s:o}", "header", hdr, "records", recs, "notes", notes);
}

static void inspect_text(const char *path, const struct pp_usb_file *f, bool reveal)
{
	const struct pp_usb_header *h = &f->header;
	printf("%s: setup.bin version %u (major %u, minor %u)\n", path, h->version, h->major,
	       h->minor);
	printf("  records        %u data, %u consumed (header count)\n", h->data_record_count,
	       h->data_records_consumed);
	printf("  flags          0x%04x%s\n", h->flags,
	       (h->flags & PP_USB_HDR_NO_CONSUME) ? " (do not consume)" : "");
	printf("  record header  %u bytes, chunks %u/%u\n", h->record_header_bytes,
	       h->record_chunk_count, h->data_record_chunk_count);
	printf("  modules       ");
	if (!h->n_modules)
		printf(" (none listed)");
	for (size_t i = 0; i < h->n_modules; i++)
		printf(" %u", h->modules[i]);
	printf("\n");
	for (uint32_t bit = 1; bit && bit <= f->notes; bit <<= 1)
		if (f->notes & bit)
			printf("  note: %s\n", pp_usb_note_str(bit));
	for (size_t i = 0; i < f->n_records; i++) {
		const struct pp_usb_record *r = &f->records[i];
		printf("record %u: %s%s\n", r->number, record_state(r),
		       (r->flags & PP_USB_REC_SCRAMBLED) ? ", scrambled" : "");
		each_var(r, reveal, var_print, NULL);
	}
}

static void usb_file_freep(struct pp_usb_file *f)
{
	pp_usb_file_free(f);
}

static int usb_inspect(struct pp_cli *cli, int argc, char **argv)
{
	(void)cli;
	bool json = false, reveal = false;
	int ec;
	if (pp_parse_flags(
		argc, argv, PP_FLAG_JSON | PP_FLAG_REVEAL,
		"usage: pskprov usb inspect FILE [--json] [--reveal]\n\n"
		"Reads a setup.bin of any version 1 to 4 (also files written by "
		"Intel's tools)\nand prints its header, records and variables. "
		"Passwords and PPS show as\n(hidden) unless --reveal (null with --json).\n",
		&json, &reveal, &ec))
		return ec;
	if (optind + 1 != argc)
		return pp_usage_error("usb inspect", "expected one FILE");
	const char *path = argv[optind];
	struct pp_err err = {0};
	pp_cleanup(usb_file_freep) struct pp_usb_file f;
	memset(&f, 0, sizeof(f));
	if (pp_uc_usb_file_load(path, &f, &err) < 0)
		return pp_fail_err(&err);
	int out = PP_EXIT_OK;
	if (json)
		out = pp_json_print(inspect_json(&f, reveal));
	else
		inspect_text(path, &f, reveal);
	return out;
}

/* ---- reconcile --------------------------------------------------------------- */

static json_t *reconcile_row_json(const struct pp_uc_reconcile_row *r)
{
	char pid[PP_PID_TEXT];
	return json_pack("{s:I,s:o,s:s,s:o,s:b}", "record", (json_int_t)r->record, "pid",
			 r->pid[0] ? json_string(pp_pid_text(r->pid, pid)) : json_null(),
			 "record_state", pp_uc_record_state_name(r->record_state), "key_state",
			 r->known ? json_string(pp_key_state_name(r->key_state)) : json_null(),
			 "heard_from", r->known && r->heard_from);
}

static int reconcile_json(const struct pp_uc_reconcile_result *res)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < res->n_rows; i++)
		if (json_array_append_new(arr, reconcile_row_json(&res->rows[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	if (!arr)
		return pp_fail("out of memory");
	return pp_json_print(json_pack(
	    "{s:o,s:I,s:I,s:I,s:I,s:I}", "records", arr, "consumed", (json_int_t)res->consumed,
	    "marked_in_use", (json_int_t)res->marked_in_use, "never_heard_from",
	    (json_int_t)res->never_heard_from, "still_valid", (json_int_t)res->still_valid,
	    "unknown_to_store", (json_int_t)res->unknown_to_store));
}

static const char *heard_text(const struct pp_uc_reconcile_row *r)
{
	if (!r->known || r->record_state != PP_UC_REC_CONSUMED)
		return "-";
	return r->heard_from ? "heard from" : "NEVER HEARD FROM";
}

static void reconcile_text(const struct pp_uc_reconcile_result *res)
{
	printf("%-7s %-10s %-9s %-9s %s\n", "RECORD", "PID", "RECORD", "KEY", "DEVICE");
	for (size_t i = 0; i < res->n_rows; i++) {
		const struct pp_uc_reconcile_row *r = &res->rows[i];
		char pid[PP_PID_TEXT];
		const char *kstate = !r->pid[0]  ? "-"
				     : !r->known ? "UNKNOWN"
						 : pp_key_state_name(r->key_state);
		printf("%-7u %-10s %-9s %-9s %s\n", r->record, pp_pid_text(r->pid, pid),
		       pp_uc_record_state_name(r->record_state), kstate, heard_text(r));
	}
	printf("%llu consumed (%llu marked in-use now), %llu never heard from, %llu still "
	       "unused, %llu not in this store\n",
	       (unsigned long long)res->consumed, (unsigned long long)res->marked_in_use,
	       (unsigned long long)res->never_heard_from, (unsigned long long)res->still_valid,
	       (unsigned long long)res->unknown_to_store);
}

static void reconcile_result_freep(struct pp_uc_reconcile_result *res)
{
	pp_uc_reconcile_result_free(res);
}

/* A used USB file comes back from the field: its consumed records say which keys went
 * into machines. Those keys are marked in-use (they are on a device now); records whose
 * key no device ever proved are listed: a machine that took a key and never reached
 * the server. */
static int usb_reconcile(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON,
			   "usage: pskprov usb reconcile FILE [--json]\n\n"
			   "Reads a used setup.bin: marks the keys of consumed records in-use "
			   "and lists\nthe records whose key no device has said hello with "
			   "yet. Exit 0; 1 on a bad\nfile or a record the store does not "
			   "know.\n",
			   &json, NULL, &ec))
		return ec;
	if (optind + 1 != argc)
		return pp_usage_error("usb reconcile", "expected one FILE");
	struct pp_progress prog = {0};
	struct pp_uc_reconcile_opts o = {.path = argv[optind],
					 .actor = pp_actor(),
					 .progress = progress_cb,
					 .progress_ctx = &prog};
	pp_cleanup(reconcile_result_freep) struct pp_uc_reconcile_result res = {0};
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	struct pp_err err = {0};
	struct pp_datadir dd;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0 ||
	    pp_uc_usb_reconcile(store, &o, &res, &err) < 0)
		return pp_fail_err(&err);
	pp_progress_finish(&prog);
	int out = json ? reconcile_json(&res) : (reconcile_text(&res), PP_EXIT_OK);
	if (out == PP_EXIT_OK && pp_uc_reconcile_unknown_err(&res, o.path, &err) < 0)
		return pp_fail_err(&err);
	return out;
}

int cmd_usb(struct pp_cli *cli, int argc, char **argv)
{
	static const struct pp_command table[] = {
	    {"create", usb_create, "write a setup.bin for a batch (file 0600)"},
	    {"inspect", usb_inspect, "print a setup.bin (secrets hidden unless --reveal)"},
	    {"reconcile", usb_reconcile, "mark the keys of used records; list the silent ones"},
	    {NULL, NULL, NULL},
	};
	return pp_dispatch(cli, "usb", table, argc, argv);
}
