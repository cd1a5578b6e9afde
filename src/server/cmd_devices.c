/* pskprov devices list|show|credentials|release, pskprov jobs list|retry, pskprov status */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "prog/commands.h"
#include "core/parse.h"
#include "core/secret.h"
#include "store/store.h"
#include "usecase/devices.h"
#include "usecase/status.h"

static const char *addr_text(const uint8_t a[4], char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	return out;
}

/* The last negotiated TLS version and suite, "-" before any handshake completed. */
static const char *tls_text(const struct pp_device_info *d, char *out, size_t cap)
{
	if (!d->tls_version[0])
		return "-";
	snprintf(out, cap, "%s %s", d->tls_version, d->tls_cipher);
	return out;
}

struct list_ctx {
	json_t *arr;
	uint64_t n;
};

static int device_row(void *arg, const struct pp_device_info *d)
{
	struct list_ctx *lc = arg;
	lc->n++;
	if (lc->arr) {
		json_t *o = pp_uc_device_json(d);
		return o ? json_array_append_new(lc->arr, o) : -PP_ENOMEM;
	}
	char uuid[37], addr[16], t[24], tls[96], pid[PP_PID_TEXT];
	pp_uuid_format(d->uuid, uuid);
	pp_format_time(d->last_seen, t);
	char name[320] = "-";
	if (d->host_name[0])
		snprintf(name, sizeof(name), "%s.%s", d->host_name, d->domain);
	printf("%-36s %-9s %-15s %-12s%s %-28s %-19s %s\n", uuid, pp_pid_text(d->pid, pid),
	       addr_text(d->addr, addr), pp_device_state_name(d->state),
	       d->quarantined ? " QUARANTINED" : "", name, t, tls_text(d, tls, sizeof(tls)));
	return 0;
}

/* --state names a state through parse_state; 0 to go on, -1 after --help, else the
 * exit code of a usage error. */
static int parse_common(int argc, char **argv, const char *cmd, bool *json, int *state,
			int (*parse_state)(const char *, int *, struct pp_err *))
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"state", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct pp_err err = {0};
	int c;
	while ((c = pp_getopt(argc, argv, "js:h", opts)) != -1) {
		if (c == 'j') {
			*json = true;
		} else if (c == 's') {
			if (parse_state(optarg, state, &err) < 0)
				return pp_usage_error(cmd, "--state: %s", err.msg);
		} else if (c == 'h') {
			printf("usage: pskprov %s [--state S] [--json]\n", cmd);
			return -1;
		} else {
			return PP_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return pp_usage_error(cmd, "unexpected argument '%.40s'", argv[optind]);
	return 0;
}

static const char *dev_state_name(int i)
{
	return pp_device_state_name((enum pp_device_state)i);
}
static const char *job_state_name(int i)
{
	return pp_job_state_name((enum pp_job_state)i);
}

/* A listing command: devices list and jobs list differ only in these. */
struct listing {
	const char *cmd;
	int (*parse_state)(const char *, int *, struct pp_err *);
	void (*header)(void);
	int (*list)(struct pp_store *s, int state, struct list_ctx *lc, struct pp_err *err);
	const char *one, *many;
};

static int run_listing(const struct listing *l, struct pp_cli *cli, int argc, char **argv)
{
	bool json = false;
	int state = -1;
	int urc = parse_common(argc, argv, l->cmd, &json, &state, l->parse_state);
	if (urc)
		return urc < 0 ? PP_EXIT_OK : urc;
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	pp_cleanup(json_decrefp) json_t *arr = json ? json_array() : NULL;
	struct list_ctx lc = {.arr = arr};
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	if (!json)
		l->header();
	if (l->list(store, state, &lc, &err) < 0)
		return pp_fail_err(&err);
	if (json)
		return pp_json_print(json_incref(arr));
	pp_count_line(lc.n, l->one, l->many);
	return PP_EXIT_OK;
}

static void devices_header(void)
{
	printf("%-36s %-9s %-15s %-12s %-28s %-19s %s\n", "UUID", "PID", "ADDRESS", "STATE", "NAME",
	       "LAST SEEN (UTC)", "TLS");
}

static const char devices_list_usage[] =
    "usage: pskprov devices list [OPTIONS]\n"
    "\n"
    "  --state seen|configuring|provisioned|failed|quarantined\n"
    "  --batch NAME        devices whose current key is of batch NAME\n"
    "  --quarantined       devices ever quarantined\n"
    "  --search TEXT       part of a UUID, PID (with or without its dash), address or\n"
    "                      host name, any case\n"
    "  --sort first_seen|last_seen|host_name|address|state|pid\n"
    "  --desc              descending\n"
    "  --limit N           the first N (1..1000000); the count line names the cursor\n"
    "  --after CURSOR      the page after a previous listing's cursor (same filters)\n"
    "  --json              the devices as a JSON array\n";

/* One option of devices list into q; 0, or the exit code of a usage error. */
static int devices_list_opt(int c, struct pp_uc_device_query *q, bool *json)
{
	struct pp_err err = {0};
	uint64_t n = 0;
	switch (c) {
	case 'j':
		*json = true;
		return 0;
	case 's':
		if (pp_uc_device_state_parse(optarg, &q->state, &err) < 0)
			return pp_usage_error("devices list", "--state: %s", err.msg);
		return 0;
	case 'b':
		q->batch = optarg;
		return 0;
	case 'q':
		q->quarantined = true;
		return 0;
	case 'S':
		q->search = optarg;
		return 0;
	case 'o':
		q->sort = optarg;
		return 0;
	case 'd':
		q->desc = true;
		return 0;
	case 'l':
		if (pp_parse_u64(optarg, 1, 1000000, &n, "--limit", &err) < 0)
			return pp_usage_error("devices list", "%s", err.msg);
		q->limit = n;
		return 0;
	case 'a':
		q->after = optarg;
		return 0;
	default:
		return PP_EXIT_USAGE;
	}
}

static int devices_list_args(int argc, char **argv, struct pp_uc_device_query *q, bool *json)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"state", required_argument, NULL, 's'},
					     {"batch", required_argument, NULL, 'b'},
					     {"quarantined", no_argument, NULL, 'q'},
					     {"search", required_argument, NULL, 'S'},
					     {"sort", required_argument, NULL, 'o'},
					     {"desc", no_argument, NULL, 'd'},
					     {"limit", required_argument, NULL, 'l'},
					     {"after", required_argument, NULL, 'a'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c, rc;
	memset(q, 0, sizeof(*q));
	q->state = -1;
	while ((c = pp_getopt(argc, argv, "js:h", opts)) != -1) {
		if (c == 'h') {
			fputs(devices_list_usage, stdout);
			return -1;
		}
		if ((rc = devices_list_opt(c, q, json)) != 0)
			return rc;
	}
	if (optind != argc)
		return pp_usage_error("devices list", "unexpected argument '%.40s'", argv[optind]);
	return 0;
}

static int devices_list(struct pp_cli *cli, int argc, char **argv)
{
	struct pp_uc_device_query q;
	bool json = false;
	int urc = devices_list_args(argc, argv, &q, &json);
	if (urc)
		return urc < 0 ? PP_EXIT_OK : urc;
	struct pp_err err = {0};
	struct pp_datadir dd;
	struct pp_uc_device_page page;
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	pp_cleanup(json_decrefp) json_t *arr = json ? json_array() : NULL;
	struct list_ctx lc = {.arr = arr};
	if (pp_datadir_open(cli, &dd, &store, &err) < 0)
		return pp_fail_err(&err);
	if (!json)
		devices_header();
	if (pp_uc_device_query(store, &q, device_row, &lc, &page, &err) < 0)
		return pp_fail_err(&err);
	/* JSON stays the array it always was (scripts read it); the total and the next
	 * cursor go to standard error with the count, as in text. */
	if (!json)
		pp_count_line(lc.n, "device", "devices");
	if (json && pp_json_print(json_incref(arr)) != PP_EXIT_OK)
		return PP_EXIT_FAIL;
	if (page.total != lc.n || page.next_cursor[0])
		fprintf(stderr, "%llu matching in all%s%s\n", (unsigned long long)page.total,
			page.next_cursor[0] ? "; next page: --after " : "", page.next_cursor);
	return PP_EXIT_OK;
}

static int device_arg(const char *cmd, int argc, char **argv, const char **ref)
{
	if (optind + 1 != argc)
		return pp_usage_error(cmd, "expected one device (UUID, PID, address or host name)");
	*ref = argv[optind];
	return 0;
}

static void device_show_text(const struct pp_device_info *d)
{
	char u[37], addr[16], t1[24], t2[24], t3[24], tls[96], pid[PP_PID_TEXT];
	pp_uuid_format(d->uuid, u);
	pp_format_time(d->first_seen, t1);
	pp_format_time(d->last_seen, t2);
	pp_format_time(d->provisioned_at, t3);
	printf("uuid           %s\n", u);
	printf("pid            %s\n", pp_pid_text(d->pid, pid));
	printf("address        %s\n", addr_text(d->addr, addr));
	printf("state          %s%s\n", pp_device_state_name(d->state),
	       d->quarantined ? " (QUARANTINED)" : "");
	printf("name           %s%s%s\n", d->host_name, d->host_name[0] ? "." : "", d->domain);
	printf("credentials    %s\n",
	       d->has_credentials ? "escrowed (devices credentials --reveal)" : "none");
	printf("first seen     %s UTC\n", t1);
	printf("last seen      %s UTC\n", t2);
	printf("provisioned    %s\n", d->provisioned_at ? t3 : "-");
	printf("tls            %s\n", tls_text(d, tls, sizeof(tls)));
	if (d->last_error[0])
		printf("last error     %s\n", d->last_error);
}

/* Each job with its events: into the JSON array ctx, or printed when ctx is NULL. */
static int history_row(void *ctx, const struct pp_job *j, const struct pp_job_event *ev, size_t n)
{
	json_t *arr = ctx;
	if (arr) {
		json_t *o = pp_uc_job_json(j), *evs = json_array();
		for (size_t i = 0; o && evs && i < n; i++)
			json_array_append_new(evs, pp_uc_job_event_json(&ev[i]));
		if (!o || !evs || json_object_set_new(o, "events", evs) < 0 ||
		    json_array_append_new(arr, o) < 0)
			return -PP_ENOMEM;
		return 0;
	}
	char t[24];
	printf("\njob %lld  %s  step %s  attempts %u%s%s\n", (long long)j->id,
	       pp_job_state_name(j->state), pp_job_step_name(j->step), j->attempts,
	       j->last_error[0] ? "  last error: " : "", j->last_error);
	for (size_t i = 0; i < n; i++) {
		pp_format_time(ev[i].time, t);
		printf("  %s  %-14s %s\n", t, ev[i].event, ev[i].detail);
	}
	return 0;
}

static int devices_show(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false;
	int ec;
	if (pp_parse_flags(
		argc, argv, PP_FLAG_JSON,
		"usage: pskprov devices show DEVICE [--json]\n\n"
		"DEVICE: a UUID, a PID (with or without its dash), an IPv4 address or a\n"
		"host name (alone or with its domain).\n",
		&json, NULL, &ec))
		return ec;
	const char *ref = NULL;
	int urc = device_arg("devices show", argc, argv, &ref);
	if (urc)
		return urc;
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	struct pp_device_info d;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0 ||
	    pp_uc_device_find(store, ref, &d, NULL, &err) < 0)
		return pp_fail_err(&err);
	if (json) {
		pp_cleanup(json_decrefp) json_t *jobs = json_array();
		if (!jobs || pp_uc_device_history(store, d.uuid, history_row, jobs, &err) < 0)
			return pp_fail_err(&err);
		/* The device's fields as before, its jobs beside them. */
		json_t *o = pp_uc_device_json(&d);
		if (!o || json_object_set(o, "jobs", jobs) < 0) {
			json_decref(o);
			(void)pp_err_set(&err, PP_ENOMEM, "out of memory");
			return pp_fail_err(&err);
		}
		return pp_json_print(o);
	}
	device_show_text(&d);
	if (pp_uc_device_history(store, d.uuid, history_row, NULL, &err) < 0)
		return pp_fail_err(&err);
	return PP_EXIT_OK;
}

static int devices_release(struct pp_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"reason", required_argument, NULL, 'r'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *reason = NULL, *ref = NULL;
	bool json = false;
	int c;
	while ((c = pp_getopt(argc, argv, "r:jh", opts)) != -1) {
		if (c == 'r')
			reason = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 'h') {
			printf("usage: pskprov devices release DEVICE --reason TEXT [--json]\n\n"
			       "Releases a quarantined device: it goes to failed, so its next\n"
			       "hello starts over (a device that still holds another's key is\n"
			       "quarantined again). Recorded in the audit log with the reason.\n");
			return PP_EXIT_OK;
		} else
			return PP_EXIT_USAGE;
	}
	int urc = device_arg("devices release", argc, argv, &ref);
	if (urc)
		return urc;
	if (!reason)
		return pp_usage_error("devices release", "--reason is required");
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	struct pp_device_info d;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0 ||
	    pp_uc_device_release(store, ref, pp_actor(), reason, (int64_t)time(NULL), &d, &err) < 0)
		return pp_fail_err(&err);
	if (json)
		return pp_json_print(json_pack("{s:o}", "device", pp_uc_device_json(&d)));
	char u[37];
	pp_uuid_format(d.uuid, u);
	printf("released %s: now %s\n", u, pp_device_state_name(d.state));
	return PP_EXIT_OK;
}

static void secrets_wipe(struct pp_device_secrets *sec)
{
	pp_wipe(sec, sizeof(*sec));
}

static int credentials_print(const struct pp_device_info *d, const struct pp_device_secrets *sec,
			     bool json)
{
	char u[37];
	pp_uuid_format(d->uuid, u);
	if (json)
		return pp_json_print(json_pack(
		    "{s:s,s:s,s:s,s:s}", "uuid", u, "admin_user", sec->admin_user, "admin_password",
		    sec->admin_password, "mebx_password", sec->mebx_password));
	printf("uuid            %s\n", u);
	printf("admin user      %s\n", sec->admin_user);
	printf("admin password  %s\n", sec->admin_password);
	printf("MEBx password   %s\n", sec->mebx_password);
	return PP_EXIT_OK;
}

static int devices_credentials(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false, reveal = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON | PP_FLAG_REVEAL,
			   "usage: pskprov devices credentials DEVICE --reveal [--json]\n\n"
			   "Prints the escrowed admin account and MEBx password of a device\n"
			   "(DEVICE as for devices show). Every reveal is recorded in the audit\n"
			   "log first.\n",
			   &json, &reveal, &ec))
		return ec;
	const char *ref = NULL;
	int urc = device_arg("devices credentials", argc, argv, &ref);
	if (urc)
		return urc;
	if (!reveal)
		return pp_usage_error("devices credentials",
				      "--reveal is required: this prints secrets");
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	pp_cleanup(secrets_wipe) struct pp_device_secrets sec;
	struct pp_device_info d;
	memset(&sec, 0, sizeof(sec));
	if (pp_datadir_open(cli, &dd, &store, &err) < 0 ||
	    pp_uc_device_credentials(store, ref, pp_actor(), &d, &sec, &err) < 0)
		return pp_fail_err(&err);
	return credentials_print(&d, &sec, json);
}

int cmd_devices(struct pp_cli *cli, int argc, char **argv)
{
	static const struct pp_command table[] = {
	    {"list", devices_list, "list devices (quarantined ones flagged)"},
	    {"show", devices_show, "show one device"},
	    {"credentials", devices_credentials, "print a device's escrowed credentials"},
	    {"release", devices_release, "release a quarantined device (audited)"},
	    {NULL, NULL, NULL},
	};
	return pp_dispatch(cli, "devices", table, argc, argv);
}

static int job_row(void *arg, const struct pp_job *j)
{
	struct list_ctx *lc = arg;
	lc->n++;
	char uuid[37], addr[16], pid[PP_PID_TEXT];
	pp_uuid_format(j->uuid, uuid);
	if (lc->arr) {
		json_t *o = pp_uc_job_json(j);
		return o ? json_array_append_new(lc->arr, o) : -PP_ENOMEM;
	}
	printf("%6lld %-36s %-9s %-15s %-8s %-12s %3u  %s\n", (long long)j->id, uuid,
	       pp_pid_text(j->pid, pid), addr_text(j->addr, addr), pp_job_state_name(j->state),
	       pp_job_step_name(j->step), j->attempts, j->last_error);
	return 0;
}

static void jobs_header(void)
{
	printf("%6s %-36s %-9s %-15s %-8s %-12s %3s  %s\n", "ID", "UUID", "PID", "ADDRESS", "STATE",
	       "STEP", "TRY", "LAST ERROR");
}

static int jobs_walk(struct pp_store *s, int state, struct list_ctx *lc, struct pp_err *err)
{
	return pp_uc_job_list(s, state, job_row, lc, NULL, err);
}

static int jobs_list(struct pp_cli *cli, int argc, char **argv)
{
	static const struct listing l = {
	    "jobs list", pp_uc_job_state_parse, jobs_header, jobs_walk, "job", "jobs"};
	return run_listing(&l, cli, argc, argv);
}

static int jobs_retry(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON,
			   "usage: pskprov jobs retry ID [--json]\n\n"
			   "Runs a failed job again: pending, runnable now, attempts from 0,\n"
			   "resuming after its last durable step. Recorded in the audit log.\n",
			   &json, NULL, &ec))
		return ec;
	if (optind + 1 != argc)
		return pp_usage_error("jobs retry", "expected one job id");
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	struct pp_job j;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0 ||
	    pp_uc_job_retry(store, argv[optind], pp_actor(), (int64_t)time(NULL), &j, &err) < 0)
		return pp_fail_err(&err);
	if (json)
		return pp_json_print(json_pack("{s:o}", "job", pp_uc_job_json(&j)));
	printf("job %lld: %s, attempts %u, resumes after step %s\n", (long long)j.id,
	       pp_job_state_name(j.state), j.attempts, pp_job_step_name(j.step));
	return PP_EXIT_OK;
}

int cmd_jobs(struct pp_cli *cli, int argc, char **argv)
{
	static const struct pp_command table[] = {
	    {"list", jobs_list, "list provisioning jobs"},
	    {"retry", jobs_retry, "run a failed job again (audited)"},
	    {NULL, NULL, NULL},
	};
	return pp_dispatch(cli, "jobs", table, argc, argv);
}

static int status_json(const struct pp_store_counts *k)
{
	return pp_json_print(pp_uc_status_json(k));
}

static int status_text(const struct pp_datadir *dd, const struct pp_store_counts *k)
{
	printf("data directory  %s\n", dd->dir);
	printf("keys           ");
	for (int i = 0; i < PP_KEY_STATE_MAX; i++)
		printf(" %s %llu", pp_key_state_name((enum pp_key_state)i),
		       (unsigned long long)k->keys_by_state[i]);
	printf("\ndevices        ");
	for (int i = 0; i < PP_DEV_STATE_MAX; i++)
		printf(" %s %llu", dev_state_name(i), (unsigned long long)k->devices_by_state[i]);
	printf("\njobs           ");
	for (int i = 0; i < PP_JOB_STATE_MAX; i++)
		printf(" %s %llu", job_state_name(i), (unsigned long long)k->jobs_by_state[i]);
	printf("\n");
	return PP_EXIT_OK;
}

int cmd_status(struct pp_cli *cli, int argc, char **argv)
{
	bool json = false;
	int ec;
	if (pp_parse_flags(argc, argv, PP_FLAG_JSON,
			   "usage: pskprov status [--json]\n\nCounts of keys, devices and "
			   "jobs by state.\n",
			   &json, NULL, &ec))
		return ec;
	if (optind != argc)
		return pp_usage_error("status", "unexpected argument '%.40s'", argv[optind]);
	struct pp_err err = {0};
	struct pp_datadir dd;
	pp_cleanup(pp_cli_store_closep) struct pp_store *store = NULL;
	struct pp_store_counts k;
	if (pp_datadir_open(cli, &dd, &store, &err) < 0 || pp_store_counts(store, &k, &err) < 0)
		return pp_fail_err(&err);
	return json ? status_json(&k) : status_text(&dd, &k);
}
