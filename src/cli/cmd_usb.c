/* pskprov usb create|inspect: USB one-touch setup files [protocol.md section 6]. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "keys/csv.h"
#include "keys/keys.h"
#include "proto/setupbin.h"
#include "store/store.h"

#define USB_MAX_RECORDS 1000000u
#define USB_READ_MAX ((size_t)PP_USB_BLOCK * (USB_MAX_RECORDS + 1))

static void create_usage(FILE *out)
{
	fprintf(out,
		"usage: pskprov usb create --batch NAME --out FILE [--count N]\n"
		"            [--format v1|v2|v3|v4] [--server IPV4[:PORT] | --server-fqdn NAME]\n"
		"            [--current-password PW|-] [--no-consume] [--scramble]\n\n"
		"Writes one record per available key of the batch (current MEBx password,\n"
		"new MEBx password, PID, PPS, configuration server and port) to a new file of\n"
		"mode 0600, and marks those keys exported. v1 is the default format.\n"
		"  --current-password  the device's MEBx password now (default 'admin');\n"
		"                      '-' reads it from standard input\n"
		"  --no-consume        set the header flag that keeps records after use\n"
		"  --scramble          store record bodies scrambled (obfuscation only)\n");
}

struct pick {
	char (*pids)[9];
	size_t n, max;
};

static int pick_available(void *arg, const struct pp_key_info *k)
{
	struct pick *p = arg;
	if (k->state != PP_KEY_AVAILABLE || p->n >= p->max)
		return 0;
	memcpy(p->pids[p->n++], k->pid, 9);
	return 0;
}

static int usb_create(struct pp_cli *cli, int argc, char **argv)
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
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct pp_err err = {0};
	const char *batch = NULL, *outpath = NULL, *fqdn = NULL, *curpw_arg = "admin";
	uint32_t count = 0, version = 1;
	uint8_t ip[4];
	uint16_t port = 9971;
	bool have_ip = false, no_consume = false, scramble = false;
	int c;
	while ((c = getopt_long(argc, argv, "b:o:n:f:s:q:c:NSh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			batch = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'n':
			if (pp_parse_u32(optarg, 1, USB_MAX_RECORDS, &count, "--count", &err) < 0)
				return pp_usage_error("usb create", "%s", err.msg);
			break;
		case 'f':
			if (strlen(optarg) != 2 || optarg[0] != 'v' || optarg[1] < '1' ||
			    optarg[1] > '4')
				return pp_usage_error("usb create",
						      "--format: '%.20s' is not v1, v2, v3 or v4",
						      optarg);
			version = (uint32_t)(optarg[1] - '0');
			break;
		case 's':
			if (pp_parse_ipv4_port(optarg, ip, &port, "--server", &err) < 0)
				return pp_usage_error("usb create", "%s", err.msg);
			have_ip = true;
			break;
		case 'q':
			if (!pp_valid_fqdn(optarg))
				return pp_usage_error("usb create",
						      "--server-fqdn: '%.64s' is not a DNS name",
						      optarg);
			fqdn = optarg;
			break;
		case 'c':
			curpw_arg = optarg;
			break;
		case 'N':
			no_consume = true;
			break;
		case 'S':
			scramble = true;
			break;
		case 'h':
			create_usage(stdout);
			return PP_EXIT_OK;
		default:
			create_usage(stderr);
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error("usb create", "unexpected argument '%.40s'", argv[optind]);
	if (!batch || !outpath)
		return pp_usage_error("usb create", "--batch and --out are required");
	if (have_ip && fqdn)
		return pp_usage_error("usb create", "give --server or --server-fqdn, not both");

	char curpw[PP_MEBX_MAX + 2];
	if (!strcmp(curpw_arg, "-")) {
		if (pp_read_secret("current MEBx password: ", curpw, sizeof(curpw), &err) < 0)
			return pp_fail("--current-password: %s", err.msg);
	} else if (strlen(curpw_arg) > PP_MEBX_MAX || !*curpw_arg) {
		return pp_usage_error("usb create", "--current-password: 1 to %d characters",
				      PP_MEBX_MAX);
	} else {
		memcpy(curpw, curpw_arg, strlen(curpw_arg) + 1);
	}

	struct pp_datadir dd;
	struct pp_store *store = NULL;
	struct pick pk = {0};
	uint8_t *file = NULL;
	size_t file_len = 0;
	struct pp_usb_record rec;
	struct pp_pps pps;
	char mebx[PP_MEBX_MAX + 1];
	bool in_tx = false, written = false;
	memset(&pps, 0, sizeof(pps));
	pp_usb_record_init(&rec, 1);
	int rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc < 0)
		goto out;
	struct pp_batch_info bi;
	rc = pp_store_batch_get(store, batch, &bi, &err);
	if (rc < 0)
		goto out;
	pk.max = count ? count : (bi.key_count < USB_MAX_RECORDS ? bi.key_count : USB_MAX_RECORDS);
	pk.pids = calloc(pk.max ? pk.max : 1, sizeof(*pk.pids));
	if (!pk.pids) {
		rc = pp_err_set(&err, PP_ENOMEM, "out of memory");
		goto out;
	}
	struct pp_key_filter f = {.batch = batch, .state = PP_KEY_AVAILABLE, .limit = pk.max};
	rc = pp_store_key_list(store, &f, pick_available, &pk, &err);
	if (rc < 0)
		goto out;
	if (pk.n == 0) {
		rc = pp_err_set(&err, PP_ENOTFOUND, "batch '%s' has no available keys", batch);
		goto out;
	}
	if (count && pk.n < count) {
		rc = pp_err_set(&err, PP_ENOTFOUND,
				"batch '%s' has %zu available keys; --count asks for %u", batch,
				pk.n, count);
		goto out;
	}
	struct pp_usb_header hdr;
	rc = pp_usb_header_init(&hdr, version, no_consume ? PP_USB_HDR_NO_CONSUME : 0,
				(uint32_t)pk.n, &err);
	if (rc == 0)
		rc = pp_usb_header_add_module(&hdr, PP_USB_MOD_ME, &err);
	if (rc == 0)
		rc = pp_usb_header_add_module(&hdr, PP_USB_MOD_AMT, &err);
	if (rc < 0)
		goto out;
	rc = pp_usb_file_size((uint32_t)pk.n, &file_len);
	if (rc < 0 || !(file = calloc(1, file_len))) {
		rc = pp_err_set(&err, PP_ENOMEM, "cannot hold a %zu-record file", pk.n);
		goto out;
	}
	rc = pp_usb_header_write(&hdr, file, &err);
	if (rc < 0)
		goto out;
	rc = pp_store_begin(store, &err);
	if (rc < 0)
		goto out;
	in_tx = true;
	for (size_t i = 0; i < pk.n; i++) {
		rc = pp_store_key_secrets(store, pk.pids[i], &pps, mebx, sizeof(mebx), &err);
		if (rc < 0)
			goto out;
		pp_usb_record_init(&rec, (uint32_t)(i + 1));
		/* Entries sorted by (module, variable), protocol.md section 6. */
		rc = pp_usb_record_add_string(&rec, 1, PP_USB_ME_CURRENT_PASSWORD, curpw, &err);
		if (rc == 0)
			rc = pp_usb_record_add_string(&rec, 1, PP_USB_ME_NEW_PASSWORD, mebx, &err);
		if (rc == 0)
			rc = pp_usb_record_add_string(&rec, 2, PP_USB_AMT_PID, pk.pids[i], &err);
		if (rc == 0)
			rc = pp_usb_record_add_string(&rec, 2, PP_USB_AMT_PPS, pps.s, &err);
		if (rc == 0 && fqdn)
			rc = pp_usb_record_add_string(&rec, 2, PP_USB_AMT_SERVER_FQDN, fqdn, &err);
		if (rc == 0 && have_ip)
			rc = pp_usb_record_add_ipv4(&rec, 2, PP_USB_AMT_SERVER_IPV4, ip, &err);
		if (rc == 0 && (have_ip || fqdn))
			rc = pp_usb_record_add_u16(&rec, 2, PP_USB_AMT_SERVER_PORT, port, &err);
		if (rc == 0)
			rc = pp_usb_record_write(&rec, scramble, file + PP_USB_BLOCK * (i + 1),
						 &err);
		pp_usb_record_wipe(&rec);
		pp_wipe(&pps, sizeof(pps));
		pp_wipe(mebx, sizeof(mebx));
		if (rc < 0)
			goto out;
		rc = pp_store_key_set_state(store, pk.pids[i], PP_KEY_EXPORTED, &err);
		if (rc < 0)
			goto out;
	}
	char detail[128];
	snprintf(detail, sizeof(detail), "setup.bin v%u records=%zu%s%s", version, pk.n,
		 no_consume ? " no-consume" : "", scramble ? " scrambled" : "");
	rc = pp_store_audit_append(store, pp_actor(), "usb.create", batch, detail, &err);
	if (rc < 0)
		goto out;
	rc = pp_file_create(outpath, file, file_len, 0600, &err);
	if (rc < 0)
		goto out;
	written = true;
	rc = pp_store_commit(store, &err);
	if (rc < 0)
		goto out;
	in_tx = false;
	printf("wrote %s: setup.bin v%u, %zu records (%zu bytes, mode 0600)%s%s\n", outpath,
	       version, pk.n, file_len, scramble ? ", scrambled" : "",
	       no_consume ? ", do-not-consume" : "");
out:
	if (in_tx) {
		pp_rollback_quiet(store);
		if (written)
			unlink(outpath);
	}
	if (file) {
		pp_wipe(file, file_len);
		free(file);
	}
	pp_usb_record_wipe(&rec);
	pp_wipe(curpw, sizeof(curpw));
	free(pk.pids);
	pp_store_close(store);
	return rc < 0 ? pp_fail_err(&err) : PP_EXIT_OK;
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
	if (r->type != PP_USB_TYPE_DATA)
		return "invalid";
	return (r->flags & PP_USB_REC_VALID) ? "valid" : "consumed";
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
		json_t *vars = json_array();
		for (size_t j = 0; j < r->n_vars; j++) {
			const struct pp_usb_var *v = &r->vars[j];
			const struct pp_usb_var_info *vi =
			    pp_usb_var_lookup(v->module, v->variable);
			char val[1024];
			value_text(vi, r->body + v->off, v->len, reveal, val, sizeof(val));
			json_array_append_new(
			    vars,
			    json_pack("{s:i,s:i,s:s,s:s,s:i,s:s}", "module", v->module, "variable",
				      v->variable, "name", vi ? vi->name : "unknown", "type",
				      pp_usb_vtype_str(vi ? vi->type : PP_USB_VT_BYTES), "length",
				      v->len, "value", val));
			pp_wipe(val, sizeof(val));
		}
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
		for (size_t j = 0; j < r->n_vars; j++) {
			const struct pp_usb_var *v = &r->vars[j];
			const struct pp_usb_var_info *vi =
			    pp_usb_var_lookup(v->module, v->variable);
			char val[1024];
			value_text(vi, r->body + v->off, v->len, reveal, val, sizeof(val));
			printf("  %u/%-3u %-30s %s\n", v->module, v->variable,
			       vi ? vi->name : "(unknown)", val);
			pp_wipe(val, sizeof(val));
		}
	}
}

static int usb_inspect(struct pp_cli *cli, int argc, char **argv)
{
	(void)cli;
	bool json = false, reveal = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON | PP_FLAG_REVEAL,
			   "usage: pskprov usb inspect FILE [--json] [--reveal]\n\n"
			   "Reads a setup.bin of any version 1 to 4 (also files written by "
			   "Intel's tools)\nand prints its header, records and variables. "
			   "Passwords and PPS show as\n(hidden) unless --reveal.\n",
			   &json, &reveal, &ec))
		return ec;
	if (optind + 1 != argc)
		return pp_usage_error("usb inspect", "expected one FILE");
	const char *path = argv[optind];
	struct pp_err err = {0};
	struct pp_buf b;
	pp_buf_init(&b, USB_READ_MAX);
	struct pp_usb_file f;
	memset(&f, 0, sizeof(f));
	int rc = pp_file_read(path, USB_READ_MAX, &b, &err);
	if (rc == 0)
		rc = pp_usb_file_parse(b.data, b.len, &f, &err);
	pp_buf_free_wipe(&b);
	if (rc < 0)
		return pp_fail("%s: %s", path, err.msg);
	int out = PP_EXIT_OK;
	if (json)
		out = pp_json_print(inspect_json(&f, reveal));
	else
		inspect_text(path, &f, reveal);
	pp_usb_file_free(&f);
	return out;
}

/* ---- reconcile --------------------------------------------------------------- */

/* A used USB file comes back from the field: its consumed records say which keys went
 * into machines. Those keys are marked in-use (they are on a device now); records whose
 * key no device ever said hello with are listed: a machine that took a key and never
 * reached the server. */
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
	const char *path = argv[optind];
	struct pp_err err = {0};
	struct pp_buf b;
	struct pp_usb_file f;
	struct pp_datadir dd;
	struct pp_store *store = NULL;
	json_t *arr = json ? json_array() : NULL;
	bool in_tx = false;
	uint64_t consumed = 0, valid = 0, marked = 0, silent = 0, unknown = 0;
	memset(&f, 0, sizeof(f));
	pp_buf_init(&b, USB_READ_MAX);
	int rc = pp_file_read(path, USB_READ_MAX, &b, &err);
	if (rc == 0)
		rc = pp_usb_file_parse(b.data, b.len, &f, &err);
	pp_buf_free_wipe(&b);
	if (rc < 0) {
		pp_err_prefix(&err, "%s", path);
		goto out;
	}
	rc = pp_datadir_open(cli, &dd, &store, &err);
	if (rc < 0)
		goto out;
	rc = pp_store_begin(store, &err);
	if (rc < 0)
		goto out;
	in_tx = true;
	if (!json)
		printf("%-7s %-10s %-9s %-9s %s\n", "RECORD", "PID", "RECORD", "KEY", "DEVICE");
	for (size_t i = 0; i < f.n_records; i++) {
		const struct pp_usb_record *r = &f.records[i];
		char pidtext[16] = "";
		struct pp_pid pid;
		const char *rstate = r->type != PP_USB_TYPE_DATA     ? "invalid"
				     : (r->flags & PP_USB_REC_VALID) ? "valid"
								     : "consumed";
		if (pp_usb_record_get_string(r, PP_USB_MOD_AMT, PP_USB_AMT_PID, pidtext,
					     sizeof(pidtext), &err) < 0 ||
		    pp_pid_parse(pidtext, &pid, &err) < 0) {
			/* A record without a PID (Intel's own tools write such files). */
			if (!json)
				printf("%-7u %-10s %-9s %-9s %s\n", r->number, "-", rstate, "-",
				       "-");
			continue;
		}
		char pidshow[PP_PID_TEXT];
		pp_pid_format(&pid, pidshow);
		struct pp_key_info k;
		const char *heard = "-";
		int krc = pp_store_key_get(store, pid.s, &k, &err);
		if (krc == -PP_ENOTFOUND) {
			unknown++;
		} else if (krc < 0) {
			rc = krc;
			goto out;
		} else if (!strcmp(rstate, "consumed")) {
			consumed++;
			if (k.state == PP_KEY_EXPORTED || k.state == PP_KEY_AVAILABLE) {
				if (k.state == PP_KEY_AVAILABLE)
					rc = pp_store_key_set_state(store, pid.s, PP_KEY_EXPORTED,
								    &err);
				if (rc == 0)
					rc = pp_store_key_set_state(store, pid.s, PP_KEY_IN_USE,
								    &err);
				if (rc < 0)
					goto out;
				marked++;
				k.state = PP_KEY_IN_USE;
			}
			heard = k.use_count ? "heard from" : "NEVER HEARD FROM";
			if (!k.use_count)
				silent++;
		} else if (!strcmp(rstate, "valid")) {
			valid++;
		}
		const char *kstate = krc == 0 ? pp_key_state_name(k.state) : "UNKNOWN";
		if (json) {
			json_array_append_new(
			    arr, json_pack("{s:I,s:s,s:s,s:s,s:b}", "record", (json_int_t)r->number,
					   "pid", pidshow, "record_state", rstate, "key_state",
					   kstate, "heard_from", krc == 0 && k.use_count > 0));
		} else {
			printf("%-7u %-10s %-9s %-9s %s\n", r->number, pidshow, rstate, kstate,
			       heard);
		}
	}
	char detail[160];
	snprintf(detail, sizeof(detail),
		 "consumed=%llu marked=%llu never_heard=%llu valid=%llu unknown=%llu",
		 (unsigned long long)consumed, (unsigned long long)marked,
		 (unsigned long long)silent, (unsigned long long)valid,
		 (unsigned long long)unknown);
	rc = pp_store_audit_append(store, pp_actor(), "usb.reconcile", path, detail, &err);
	if (rc == 0)
		rc = pp_store_commit(store, &err);
	if (rc < 0)
		goto out;
	in_tx = false;
	if (json) {
		rc = pp_json_print(json_pack(
		    "{s:o,s:I,s:I,s:I,s:I,s:I}", "records", arr, "consumed", (json_int_t)consumed,
		    "marked_in_use", (json_int_t)marked, "never_heard_from", (json_int_t)silent,
		    "still_valid", (json_int_t)valid, "unknown_to_store", (json_int_t)unknown));
		arr = NULL;
		if (rc != PP_EXIT_OK)
			rc = -PP_EIO;
	} else {
		printf("%llu consumed (%llu marked in-use now), %llu never heard from, %llu still "
		       "unused, %llu not in this store\n",
		       (unsigned long long)consumed, (unsigned long long)marked,
		       (unsigned long long)silent, (unsigned long long)valid,
		       (unsigned long long)unknown);
	}
	if (rc == 0 && unknown)
		rc = pp_err_set(&err, PP_ENOTFOUND,
				"%s: %llu records hold keys this store does not know", path,
				(unsigned long long)unknown);
out:
	if (in_tx)
		pp_rollback_quiet(store);
	json_decref(arr);
	pp_usb_file_free(&f);
	pp_store_close(store);
	return rc < 0 ? pp_fail_err(&err) : PP_EXIT_OK;
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
