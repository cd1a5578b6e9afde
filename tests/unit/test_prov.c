/* The provisioning engine without sockets: a scripted device answers each request with
 * envelopes from lib/wsman's device side (as the emulator does), with faults, refusals,
 * lost connections and crash points injected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/parse.h"
#include "core/secret.h"
#include "prov/prov.h"
#include "wsman/amt.h"
#include "core/base64.h"

#define MEBX_OLD "Old-Pass1!"
#define REALM "Digest:0123456789ABCDEF0123456789ABCDEF"

static const uint8_t UUID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* ---- the scripted device ---- */

struct fake {
	uint32_t state;         /* ProvisioningState */
	uint8_t uuid[16];       /* what GetUuid answers */
	int fault_at;           /* answer the n-th request (1-based) with a fault */
	const char *fault_text; /* its reason (NULL: the standard one) */
	int rv_at;              /* answer the n-th request with ReturnValue 0x24 */
	int garbage_at;         /* answer the n-th request with junk */
	int pull_items;         /* SoftwareIdentity items per Pull (0: all) */
	bool pull_forever;      /* never EndOfSequence */
	int store_rc[8];        /* by enum pp_prov_store_op */
	int eexist_once;        /* NEXT_KEY answers EEXIST this many times first */
	int refuse_auth;        /* refuse Digest this many times */
	const char *reserve;    /* the host name the store reserves at BIND (NULL: the candidate) */
	char mebx_now[40];      /* the password the device takes */
	/* what happened */
	int nreq;
	char seen[40][96]; /* "Get AMT_GeneralSettings", "SetMEBxPassword", ... */
	enum pp_job_step records[16];
	int nrec;
	int nstore;
	enum pp_prov_store_op stores[16];
	struct pp_wsman_props put; /* the last Put's instance */
	char last_password[40];    /* Digest password of the last request */
	enum pp_prov_transport last_transport;
	int pulled;
};

static const char *const SW_IDS[] = {"Flash", "Netstack", "AMTApps",     "AMT",
				     "Sku",   "VendorID", "Build Number"};
#define SW_N ((int)(sizeof(SW_IDS) / sizeof(SW_IDS[0])))

static void gs_instance(struct pp_wsman_props *o)
{
	pp_wsman_props_init(o);
	assert_int_equal(
	    pp_wsman_props_add(o, "ElementName", "Intel(r) AMT: General Settings", NULL), 0);
	assert_int_equal(
	    pp_wsman_props_add(o, "InstanceID", "Intel(r) AMT: General Settings", NULL), 0);
	assert_int_equal(pp_wsman_props_add(o, "NetworkInterfaceEnabled", "true", NULL), 0);
	assert_int_equal(pp_wsman_props_add(o, "DigestRealm", REALM, NULL), 0);
	assert_int_equal(pp_wsman_props_add(o, "HostName", "", NULL), 0);
	assert_int_equal(pp_wsman_props_add(o, "DomainName", "", NULL), 0);
	assert_int_equal(pp_wsman_props_add(o, "PingResponseEnabled", "true", NULL), 0);
	assert_int_equal(pp_wsman_props_add(o, "AMTNetworkEnabled", "1", NULL), 0);
}

static void answer_enum(struct fake *f, const struct pp_wsman_request *q, struct pp_buf *out)
{
	struct pp_wsman_props items[SW_N];
	if (q->op == PP_WSMAN_OP_ENUMERATE) {
		f->pulled = 0;
		assert_int_equal(
		    pp_wsman_enum_response_build(q, "ctx-1", NULL, 0, false, out, NULL), 0);
		return;
	}
	assert_string_equal(q->enum_context, f->pulled ? "ctx-2" : "ctx-1");
	int n = f->pull_items ? f->pull_items : SW_N;
	int k = 0;
	for (; k < n && (f->pull_forever || f->pulled < SW_N); k++, f->pulled++) {
		pp_wsman_props_init(&items[k]);
		const char *id = SW_IDS[f->pulled % SW_N];
		assert_int_equal(pp_wsman_props_add(&items[k], "InstanceID", id, NULL), 0);
		assert_int_equal(pp_wsman_props_add(&items[k], "IsEntity", "true", NULL), 0);
		assert_int_equal(pp_wsman_props_add(&items[k], "VersionString",
						    !strcmp(id, "AMT") ? "11.8.50" : "1.0", NULL),
				 0);
	}
	bool end = !f->pull_forever && f->pulled >= SW_N;
	assert_int_equal(
	    pp_wsman_enum_response_build(q, end ? NULL : "ctx-2", items, (size_t)k, end, out, NULL),
	    0);
}

static void answer_method(struct fake *f, const struct pp_wsman_request *q, struct pp_buf *out)
{
	struct pp_wsman_props o;
	pp_wsman_props_init(&o);
	if (!strcmp(q->method, PP_AMT_COMMIT_CHANGES))
		f->state = PP_AMT_STATE_POST;
	if (!strcmp(q->method, PP_AMT_SET_MEBX_PASSWORD))
		snprintf(f->mebx_now, sizeof(f->mebx_now), "%s",
			 pp_wsman_props_get(&q->params, PP_AMT_P_PASSWORD));
	if (!strcmp(q->method, "GetUuid")) {
		char b64[32];
		uint8_t wire[16];
		pp_uuid_to_smbios(f->uuid, wire); /* as the hello: SMBIOS byte order */
		assert_int_equal(pp_b64_encode(wire, 16, b64, sizeof(b64), NULL), 0);
		assert_int_equal(pp_wsman_props_add(&o, "UUID", b64, NULL), 0);
	}
	if (!strcmp(q->method, PP_AMT_GET_LOW_ACCURACY_TIME_SYNCH))
		assert_int_equal(pp_wsman_props_add(&o, PP_AMT_P_TA0, "1700000000", NULL), 0);
	uint32_t rv = f->nreq == f->rv_at ? PP_AMT_STATUS_INVALID_PARAMETER : 0;
	assert_int_equal(pp_wsman_output_build(q, rv, o.count ? &o : NULL, out, NULL), 0);
	pp_wsman_props_wipe(&o);
}

/* The fault reason as a device chooses to word it. */
static void say_instead(struct pp_buf *out, const char *std, const char *text)
{
	char *doc = calloc(1, out->len + 1), *at;
	assert_non_null(doc);
	memcpy(doc, out->data, out->len);
	assert_non_null(at = strstr(doc, std));
	*at = '\0';
	pp_buf_reset(out);
	assert_int_equal(pp_buf_append_str(out, doc), 0);
	assert_int_equal(pp_buf_append_str(out, text), 0);
	assert_int_equal(pp_buf_append_str(out, at + strlen(std)), 0);
	free(doc);
}

static void answer(struct fake *f, const struct pp_wsman_request *q, struct pp_buf *out)
{
	struct pp_wsman_props o;
	const char *cls = pp_wsman_class_name(q->resource_uri);
	if (f->nreq == f->fault_at) {
		assert_int_equal(
		    pp_wsman_fault_build(q, PP_WSMAN_FAULT_ACCESS_DENIED, NULL, out, NULL, NULL),
		    0);
		if (f->fault_text)
			say_instead(out, "The sender was not authorized to access the resource.",
				    f->fault_text);
		return;
	}
	switch (q->op) {
	case PP_WSMAN_OP_GET:
		pp_wsman_props_init(&o);
		if (!strcmp(cls, PP_AMT_GENERAL_SETTINGS)) {
			gs_instance(&o);
		} else {
			char st[4];
			snprintf(st, sizeof(st), "%u", f->state);
			assert_int_equal(pp_wsman_props_add(&o, "ProvisioningState", st, NULL), 0);
		}
		assert_int_equal(pp_wsman_response_build(q, cls, &o, out, NULL), 0);
		return;
	case PP_WSMAN_OP_PUT:
		f->put = q->params;
		assert_int_equal(pp_wsman_response_build(q, cls, &q->params, out, NULL), 0);
		return;
	case PP_WSMAN_OP_ENUMERATE:
	case PP_WSMAN_OP_PULL:
		answer_enum(f, q, out);
		return;
	default:
		answer_method(f, q, out);
		return;
	}
}

static const char *op_name(const struct pp_wsman_request *q)
{
	switch (q->op) {
	case PP_WSMAN_OP_GET:
		return "Get";
	case PP_WSMAN_OP_PUT:
		return "Put";
	case PP_WSMAN_OP_ENUMERATE:
		return "Enumerate";
	case PP_WSMAN_OP_PULL:
		return "Pull";
	default:
		return q->method;
	}
}

/* One request through the scripted device: fills ev. */
static void device(struct fake *f, struct pp_prov *p, struct pp_buf *out, struct pp_prov_event *ev)
{
	const struct pp_buf *req = pp_prov_request(p);
	struct pp_wsman_request *q = calloc(1, sizeof(*q));
	assert_non_null(q);
	assert_int_equal(pp_wsman_request_parse(req->data, req->len, q, NULL), 0);
	f->nreq++;
	assert_true(f->nreq < 40);
	snprintf(f->seen[f->nreq - 1], sizeof(f->seen[0]), "%s %s", op_name(q),
		 pp_wsman_class_name(q->resource_uri));
	snprintf(f->last_password, sizeof(f->last_password), "%s", pp_prov_auth_password(p));
	pp_buf_reset(out);
	ev->http_status = 200;
	if (f->nreq == f->garbage_at) {
		assert_int_equal(pp_buf_append_str(out, "<not-soap/>"), 0);
	} else {
		answer(f, q, out);
	}
	if (out->len > 11 && strstr((const char *)out->data, "Fault>") && f->nreq == f->fault_at)
		ev->http_status = 400;
	ev->kind = PV_EV_RESPONSE;
	ev->body = out->data;
	ev->body_len = out->len;
	pp_wsman_request_wipe(q);
	free(q);
}

/* With PP_PROV_SEED set, the first run writes its conversation as a seed for
 * tests/fuzz/fuzz_prov.c (u16 length, u8 status, body). */
static FILE *seed;

static void seed_chunk(const void *body, size_t len, uint8_t st)
{
	if (!seed)
		return;
	uint8_t h[3] = {(uint8_t)len, (uint8_t)(len >> 8), st};
	fwrite(h, 1, 3, seed);
	fwrite(body, 1, len, seed);
}

/* ---- the driver ---- */

static int fixed_password(void *rng, size_t len, char *out)
{
	(void)rng;
	static const char pw[] = "Aa1!Bb2@Cc3#Dd4$Ee5%Ff6^Gg7&Hh8*";
	memcpy(out, pw, len);
	out[len] = '\0';
	return 0;
}

static int fixed_key(void *rng, struct pp_pid *pid, struct pp_pps *pps)
{
	(void)rng;
	assert_int_equal(pp_pid_parse("0000-037M", pid, NULL), 0);
	assert_int_equal(pp_pps_parse("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ", pps, NULL), 0);
	return 0;
}

static struct pp_prov_policy policy = {
    .rotate_psk = true,
    .set_time = true,
    .max_attempts = 5,
    .admin_user = "admin",
    .admin_password_length = 16,
    .mebx_password_length = 12,
    .domain = "example.test",
    .host_name_template = "amt-{pid}",
    .gen_password = fixed_password,
    .gen_key = fixed_key,
};

static void job_init(struct pp_job *j, enum pp_job_step step)
{
	memset(j, 0, sizeof(*j));
	j->id = 7;
	memcpy(j->uuid, UUID, 16);
	memcpy(j->pid, "ABCD1234", 9);
	j->step = step;
	j->attempts = 1;
	j->addr[0] = 127;
	j->addr[3] = 9;
}

static void engine_init(struct pp_prov *p, enum pp_job_step step, bool have_sec)
{
	struct pp_job j;
	job_init(&j, step);
	pp_prov_init(p, &policy, &j);
	snprintf(p->mebx_old, sizeof(p->mebx_old), "%s", MEBX_OLD);
	if (have_sec) {
		p->have_sec = true;
		snprintf(p->sec.admin_user, sizeof(p->sec.admin_user), "admin");
		snprintf(p->sec.admin_password, sizeof(p->sec.admin_password), "Escrowed-Admin1!");
		snprintf(p->sec.mebx_password, sizeof(p->sec.mebx_password), "Escrowed-Mebx1!");
	}
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->state = PP_AMT_STATE_IN;
	memcpy(f->uuid, UUID, 16);
}

/* Runs the engine against the device until it finishes or fails; `hook` may replace
 * the event for the n-th action (crash points, lost connections). */
typedef bool (*hook_fn)(struct fake *f, int n, const struct pp_prov_action *a,
			struct pp_prov_event *ev);

static struct pp_prov_action run(struct fake *f, struct pp_prov *p, hook_fn hook)
{
	struct pp_wsman_response *scratch = calloc(1, sizeof(*scratch));
	struct pp_buf out;
	struct pp_err serr = {0};
	struct pp_prov_action a;
	struct pp_prov_event ev = {.kind = PV_EV_START, .now = 1000};
	pp_buf_init(&out, PP_WSMAN_DOC_MAX);
	assert_non_null(scratch);
	enum pp_job_step reached = p->job.step;
	for (int n = 0; n < 200; n++) {
		pp_prov_step(p, &ev, &a);
		if (p->job.step != reached) /* the steps reached, in memory */
			f->records[f->nrec++] = reached = p->job.step;
		if (a.kind == PV_ACT_FINISH || a.kind == PV_ACT_FAIL)
			break;
		memset(&ev, 0, sizeof(ev));
		ev.now = 1000 + n;
		ev.scratch = scratch;
		if (hook && hook(f, n, &a, &ev))
			continue;
		if (a.kind == PV_ACT_STORE) {
			f->stores[f->nstore++] = a.op;
			ev.kind = PV_EV_STORE_DONE;
			ev.store_rc = f->store_rc[a.op];
			if (a.op == PV_OP_NEXT_KEY && f->eexist_once-- > 0)
				ev.store_rc = -PP_EEXIST;
			if (a.op == PV_OP_NEXT_KEY && ev.store_rc == 0)
				fixed_key(NULL, &p->next_pid, &p->next_pps);
			if (a.op == PV_OP_BIND && ev.store_rc == 0 && f->reserve)
				snprintf(p->host_name, sizeof(p->host_name), "%s", f->reserve);
			ev.store_err = &serr;
			seed_chunk("", 0, 0);
			continue;
		}
		f->last_transport = a.transport;
		if (f->refuse_auth > 0) {
			f->refuse_auth--;
			ev.kind = PV_EV_AUTH_REFUSED;
			continue;
		}
		device(f, p, &out, &ev);
		seed_chunk(ev.body, ev.body_len, ev.http_status == 200 ? 0 : 0x80);
	}
	pp_buf_free_wipe(&out);
	free(scratch);
	return a;
}

static const char *const FULL[] = {
    "Get AMT_GeneralSettings",
    "Get AMT_SetupAndConfigurationService",
    "GetUuid AMT_SetupAndConfigurationService",
    "Enumerate CIM_SoftwareIdentity",
    "Pull CIM_SoftwareIdentity",
    "SetAdminAclEntryEx AMT_AuthorizationService",
    "SetMEBxPassword AMT_SetupAndConfigurationService",
    "SetTLSPSK AMT_SetupAndConfigurationService",
    "Put AMT_GeneralSettings",
    "GetLowAccuracyTimeSynch AMT_TimeSynchronizationService",
    "SetHighAccuracyTimeSynch AMT_TimeSynchronizationService",
    "CommitChanges AMT_SetupAndConfigurationService",
};
#define FULL_N ((int)(sizeof(FULL) / sizeof(FULL[0])))

static void test_full_sequence(void **state)
{
	(void)state;
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	engine_init(&p, PP_STEP_NONE, false);
	const char *seed_path = getenv("PP_PROV_SEED");
	if (seed_path && (seed = fopen(seed_path, "wb")) != NULL)
		fputc(0, seed);
	struct pp_prov_action a = run(&f, &p, NULL);
	if (seed)
		fclose(seed);
	seed = NULL;
	assert_int_equal(a.kind, PV_ACT_FINISH);
	assert_int_equal(f.nreq, FULL_N);
	for (int i = 0; i < FULL_N; i++)
		assert_string_equal(f.seen[i], FULL[i]);
	/* The key bound once the device proved it; stored before sent: the escrow before the
	 * account, the key before SetTLSPSK, the commit before CommitChanges; success last. */
	enum pp_prov_store_op want_ops[] = {PV_OP_BIND, PV_OP_ESCROW, PV_OP_NEXT_KEY, PV_OP_STEP,
					    PV_OP_COMPLETE};
	assert_int_equal(f.nstore, 5);
	assert_memory_equal(f.stores, want_ops, sizeof(want_ops));
	/* Every step reached, in order; only COMMIT_SENT (PV_OP_STEP above) was written. */
	enum pp_job_step want_rec[] = {PP_STEP_READ,  PP_STEP_ACL,  PP_STEP_MEBX,       PP_STEP_PSK,
				       PP_STEP_NAMES, PP_STEP_TIME, PP_STEP_COMMIT_SENT};
	assert_int_equal(f.nrec, 7);
	assert_memory_equal(f.records, want_rec, sizeof(want_rec));
	assert_string_equal(p.fw_version, "11.8.50");
	assert_string_equal(p.host_name, "amt-abcd1234");
	/* The Put wrote back the whole instance it read, in order, names changed. */
	struct pp_wsman_props gs;
	gs_instance(&gs);
	assert_int_equal(f.put.count, gs.count);
	for (size_t i = 0; i < gs.count; i++)
		assert_string_equal(f.put.item[i].name, gs.item[i].name);
	assert_string_equal(pp_wsman_props_get(&f.put, "HostName"), "amt-abcd1234");
	assert_string_equal(pp_wsman_props_get(&f.put, "DomainName"), "example.test");
	assert_string_equal(pp_wsman_props_get(&f.put, "DigestRealm"), REALM);
	/* After SetMEBxPassword the device is asked with the new password. */
	assert_string_equal(f.mebx_now, p.sec.mebx_password);
	assert_string_equal(f.last_password, p.sec.mebx_password);
	assert_int_equal(f.state, PP_AMT_STATE_POST);
	pp_prov_free(&p);
}

static void test_no_rotation_no_clock(void **state)
{
	(void)state;
	struct pp_prov_policy saved = policy;
	policy.rotate_psk = false;
	policy.set_time = false;
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	engine_init(&p, PP_STEP_NONE, false);
	assert_int_equal(run(&f, &p, NULL).kind, PV_ACT_FINISH);
	assert_int_equal(f.nreq, FULL_N - 3);
	for (int i = 0; i < f.nreq; i++) {
		assert_null(strstr(f.seen[i], "SetTLSPSK"));
		assert_null(strstr(f.seen[i], "TimeSynch"));
	}
	policy = saved;
	pp_prov_free(&p);
}

static void test_bind_to_the_proven_uuid(void **state)
{
	(void)state;
	/* The hello claimed UUID; the device says another over the TLS-PSK channel: the
	 * key is bound to the one the device told, and the job follows it. */
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	f.uuid[15] ^= 0xFF;
	f.reserve = "amt-abcd1234-0102";
	engine_init(&p, PP_STEP_NONE, false);
	struct pp_prov_action a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FINISH);
	assert_memory_equal(p.proven_uuid, f.uuid, 16);
	assert_memory_equal(p.job.uuid, f.uuid, 16);
	assert_int_equal(f.stores[0], PV_OP_BIND);
	/* The name the store reserved is the one set on the device. */
	assert_string_equal(pp_wsman_props_get(&f.put, "HostName"), "amt-abcd1234-0102");
	pp_prov_free(&p);
	/* A clone: the store refuses the binding; nothing is set on the device. */
	fake_init(&f);
	f.store_rc[PV_OP_BIND] = -PP_EPERM;
	engine_init(&p, PP_STEP_NONE, false);
	a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_false(a.retryable);
	assert_non_null(strstr(a.reason, "quarantined"));
	assert_true(a.recorded); /* the store failed the job itself */
	assert_int_equal(f.nreq, 3);
	assert_int_equal(f.nstore, 1);
	pp_prov_free(&p);
	/* The store down at BIND: retried later. */
	fake_init(&f);
	f.store_rc[PV_OP_BIND] = -PP_ESTORE;
	engine_init(&p, PP_STEP_NONE, false);
	a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_true(a.retryable);
	pp_prov_free(&p);
}

static void test_fault_and_return_value(void **state)
{
	(void)state;
	for (int at = 1; at <= FULL_N; at++) {
		for (int kind = 0; kind < 3; kind++) {
			struct fake f;
			struct pp_prov p;
			fake_init(&f);
			if (kind == 0)
				f.fault_at = at;
			else if (kind == 1)
				f.garbage_at = at;
			else
				f.rv_at = at;
			engine_init(&p, PP_STEP_NONE, false);
			struct pp_prov_action a = run(&f, &p, NULL);
			bool method = strstr(FULL[at - 1], "Get ") != FULL[at - 1] &&
				      strstr(FULL[at - 1], "Put ") != FULL[at - 1] &&
				      strstr(FULL[at - 1], "Enumerate") != FULL[at - 1] &&
				      strstr(FULL[at - 1], "Pull") != FULL[at - 1];
			if (kind == 2 && !method) {
				assert_int_equal(a.kind, PV_ACT_FINISH);
			} else {
				assert_int_equal(a.kind, PV_ACT_FAIL);
				assert_false(a.retryable);
				assert_int_equal(f.nreq, at);
				assert_int_equal(a.wsman_fault, kind == 0);
			}
			/* No secret in a reason. */
			assert_null(strstr(a.reason, MEBX_OLD));
			if (p.have_sec)
				assert_null(strstr(a.reason, p.sec.mebx_password));
			pp_prov_free(&p);
		}
	}
}

/* A device that echoes a secret of the session into its fault: the reason hides it. */
static void test_echoed_secret_hidden(void **state)
{
	(void)state;
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	f.fault_at = 1;
	f.fault_text = "no, your password " MEBX_OLD " is wrong";
	engine_init(&p, PP_STEP_NONE, false);
	struct pp_prov_action a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_null(strstr(a.reason, MEBX_OLD));
	if (!strstr(a.reason, "your password (hidden) is wrong"))
		fail_msg("reason: %s", a.reason);
	pp_prov_free(&p);
}

static bool drop_at_4(struct fake *f, int n, const struct pp_prov_action *a,
		      struct pp_prov_event *ev)
{
	(void)a;
	if (f->nreq != 4 || n == 0)
		return false;
	ev->kind = PV_EV_TRANSPORT;
	ev->terr = PV_TE_TIMEOUT;
	return true;
}

static void test_transport_errors(void **state)
{
	(void)state;
	static const struct {
		enum pp_prov_transport_error e;
		bool retry, key;
	} cases[] = {{PV_TE_CONNECT, true, false},
		     {PV_TE_TIMEOUT, true, false},
		     {PV_TE_CLOSED, true, false},
		     {PV_TE_TLS_UNKNOWN, false, false},
		     {PV_TE_TLS_BAD_KEY, false, true},
		     {PV_TE_TLS_PROTOCOL, true, false},
		     {(enum pp_prov_transport_error)99, true, false}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pp_prov p;
		struct pp_prov_action a;
		engine_init(&p, PP_STEP_NONE, false);
		struct pp_prov_event ev = {.kind = PV_EV_START, .now = 100};
		pp_prov_step(&p, &ev, &a);
		assert_int_equal(a.kind, PV_ACT_SEND);
		assert_int_equal(a.transport, PV_TLS);
		struct pp_prov_event te = {.kind = PV_EV_TRANSPORT, .terr = cases[i].e, .now = 100};
		pp_prov_step(&p, &te, &a);
		assert_int_equal(a.kind, PV_ACT_FAIL);
		assert_int_equal(a.retryable, cases[i].retry);
		assert_int_equal(a.key_failure, cases[i].key);
		if (a.retryable)
			assert_int_equal(a.retry_at, 102); /* attempt 1: 2 s */
		pp_prov_free(&p);
	}
	/* The last attempt is not retried. */
	struct pp_prov p;
	struct pp_prov_action a;
	engine_init(&p, PP_STEP_NONE, false);
	p.job.attempts = policy.max_attempts;
	struct pp_prov_event ev = {.kind = PV_EV_START};
	pp_prov_step(&p, &ev, &a);
	struct pp_prov_event te = {.kind = PV_EV_TRANSPORT, .terr = PV_TE_TIMEOUT};
	pp_prov_step(&p, &te, &a);
	assert_false(a.retryable);
	/* Any event after the end is refused. */
	pp_prov_step(&p, &te, &a);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_non_null(strstr(a.reason, "internal"));
	pp_prov_free(&p);
	/* A connection lost in the middle. */
	struct fake f;
	fake_init(&f);
	engine_init(&p, PP_STEP_NONE, false);
	a = run(&f, &p, drop_at_4);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_true(a.retryable);
	assert_non_null(strstr(a.reason, "CIM_SoftwareIdentity"));
	pp_prov_free(&p);
}

/* Crash points: a job resumed from each recorded step with its escrowed secrets. */
static void test_resume_from_every_step(void **state)
{
	(void)state;
	for (enum pp_job_step st = PP_STEP_READ; st <= PP_STEP_TIME; st++) {
		struct fake f;
		struct pp_prov p;
		fake_init(&f);
		if (st >= PP_STEP_MEBX)
			snprintf(f.mebx_now, sizeof(f.mebx_now), "Escrowed-Mebx1!");
		engine_init(&p, st, true);
		struct pp_prov_action a = run(&f, &p, NULL);
		assert_int_equal(a.kind, PV_ACT_FINISH);
		/* Whole sequence again, but no new escrow. */
		assert_int_equal(f.nreq, FULL_N);
		for (int i = 0; i < f.nstore; i++)
			assert_int_not_equal(f.stores[i], PV_OP_ESCROW);
		assert_string_equal(f.mebx_now, "Escrowed-Mebx1!");
		pp_prov_free(&p);
	}
}

static void test_resume_after_commit(void **state)
{
	(void)state;
	/* Committed: the HTTP port says Post-Setup; only the record is finished. */
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	f.state = PP_AMT_STATE_POST;
	engine_init(&p, PP_STEP_COMMIT_SENT, true);
	struct pp_prov_action a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FINISH);
	assert_int_equal(f.nreq, 1);
	assert_string_equal(f.seen[0], "Get AMT_SetupAndConfigurationService");
	assert_int_equal(f.last_transport, PV_PLAIN);
	assert_string_equal(f.last_password, "Escrowed-Admin1!");
	assert_int_equal(f.nstore, 1);
	assert_int_equal(f.stores[0], PV_OP_COMPLETE);
	pp_prov_free(&p);
	/* Not committed after all: set up again over TLS, the commit record kept. */
	fake_init(&f);
	engine_init(&p, PP_STEP_COMMIT_SENT, true);
	a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FINISH);
	assert_int_equal(f.nreq, 1 + FULL_N);
	assert_int_equal(f.last_transport, PV_TLS);
	assert_int_equal(f.state, PP_AMT_STATE_POST);
	for (int i = 0; i < f.nstore; i++)
		assert_int_not_equal(f.stores[i], PV_OP_STEP);
	pp_prov_free(&p);
}

static bool http_port_closed(struct fake *f, int n, const struct pp_prov_action *a,
			     struct pp_prov_event *ev)
{
	(void)f;
	if (n != 0 || a->transport != PV_PLAIN)
		return false;
	ev->kind = PV_EV_TRANSPORT;
	ev->terr = PV_TE_CONNECT;
	return true;
}

static void test_verify_unreachable(void **state)
{
	(void)state;
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	engine_init(&p, PP_STEP_COMMIT_SENT, true);
	struct pp_prov_action a = run(&f, &p, http_port_closed);
	assert_int_equal(a.kind, PV_ACT_FINISH);
	assert_int_equal(f.nreq, FULL_N);
	assert_int_equal(f.last_transport, PV_TLS);
	pp_prov_free(&p);
	/* Refused credentials on the HTTP port: the same. */
	fake_init(&f);
	f.refuse_auth = 1;
	engine_init(&p, PP_STEP_COMMIT_SENT, true);
	a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FINISH);
	assert_int_equal(f.nreq, FULL_N);
	pp_prov_free(&p);
}

static void test_password_swap_once(void **state)
{
	(void)state;
	/* Past MEBX the new password goes first; refused, the old one is tried once. */
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	f.refuse_auth = 1;
	engine_init(&p, PP_STEP_MEBX, true);
	assert_true(run(&f, &p, NULL).kind == PV_ACT_FINISH);
	assert_true(p.swapped_password);
	pp_prov_free(&p);
	fake_init(&f);
	f.refuse_auth = 2;
	engine_init(&p, PP_STEP_MEBX, true);
	struct pp_prov_action a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_false(a.retryable);
	/* Over TLS the login is the MEBx password: the reason names the key's PID, never a
	 * password. */
	assert_non_null(strstr(a.reason, "refused the MEBx password issued with PID ABCD1234"));
	assert_non_null(strstr(a.reason, "(and the one this server set)"));
	assert_null(strstr(a.reason, MEBX_OLD));
	assert_null(strstr(a.reason, "Escrowed-Mebx1!"));
	pp_prov_free(&p);
	/* Without escrow there is nothing to swap to. */
	fake_init(&f);
	f.refuse_auth = 1;
	engine_init(&p, PP_STEP_NONE, false);
	a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_non_null(strstr(a.reason, "refused the MEBx password issued with PID ABCD1234; "));
	pp_prov_free(&p);
}

static void test_state_checks(void **state)
{
	(void)state;
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	f.state = PP_AMT_STATE_POST;
	engine_init(&p, PP_STEP_NONE, false);
	struct pp_prov_action a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_non_null(strstr(a.reason, "already provisioned"));
	pp_prov_free(&p);
	fake_init(&f);
	f.state = PP_AMT_STATE_PRE;
	engine_init(&p, PP_STEP_NONE, false);
	a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_non_null(strstr(a.reason, "not In-Setup"));
	pp_prov_free(&p);
	/* Committed before a crash but read over TLS: finish the record. */
	fake_init(&f);
	f.state = PP_AMT_STATE_POST;
	engine_init(&p, PP_STEP_COMMIT_SENT, false);
	assert_int_equal(run(&f, &p, NULL).kind, PV_ACT_FINISH);
	assert_int_equal(f.nreq, 2);
	pp_prov_free(&p);
}

static void test_pull_paging(void **state)
{
	(void)state;
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	f.pull_items = 2; /* the AMT item comes in the second Pull */
	engine_init(&p, PP_STEP_NONE, false);
	assert_int_equal(run(&f, &p, NULL).kind, PV_ACT_FINISH);
	assert_string_equal(p.fw_version, "11.8.50");
	assert_int_equal(f.nreq, FULL_N + 3);
	pp_prov_free(&p);
	fake_init(&f);
	f.pull_items = 1;
	f.pull_forever = true;
	engine_init(&p, PP_STEP_NONE, false);
	struct pp_prov_action a = run(&f, &p, NULL);
	assert_int_equal(a.kind, PV_ACT_FAIL);
	assert_non_null(strstr(a.reason, "EndOfSequence"));
	pp_prov_free(&p);
}

static void test_store_results(void **state)
{
	(void)state;
	struct fake f;
	struct pp_prov p;
	fake_init(&f);
	f.eexist_once = 2; /* a taken PID: two new draws */
	engine_init(&p, PP_STEP_NONE, false);
	assert_int_equal(run(&f, &p, NULL).kind, PV_ACT_FINISH);
	assert_int_equal(f.nstore, 7);
	pp_prov_free(&p);
	enum pp_prov_store_op ops[] = {PV_OP_BIND, PV_OP_ESCROW, PV_OP_NEXT_KEY, PV_OP_STEP,
				       PV_OP_COMPLETE};
	for (size_t i = 0; i < 5; i++) {
		fake_init(&f);
		f.store_rc[ops[i]] = -PP_EIO;
		engine_init(&p, PP_STEP_NONE, false);
		struct pp_prov_action a = run(&f, &p, NULL);
		assert_int_equal(a.kind, PV_ACT_FAIL);
		assert_true(a.retryable); /* the store may come back */
		/* Nothing past a failed store-before-send went out. */
		if (ops[i] == PV_OP_ESCROW)
			assert_int_equal(f.nreq, 5);
		if (ops[i] == PV_OP_STEP)
			assert_string_not_equal(f.seen[f.nreq - 1], FULL[FULL_N - 1]);
		pp_prov_free(&p);
	}
}

static void test_dot_matches_docs(void **state)
{
	(void)state;
	struct pp_buf b;
	pp_buf_init(&b, 1 << 20);
	assert_int_equal(pp_prov_dot(&b, NULL), 0);
	assert_int_equal(pp_buf_append(&b, "", 1), 0);
	assert_non_null(strstr((char *)b.data, "PULL_VERSION -> PULL_VERSION"));
	assert_non_null(strstr((char *)b.data, "VERIFY -> READ_SETTINGS"));
	FILE *fp = fopen(PP_SOURCE_DIR "/docs/provisioning-engine.dot", "rb");
	assert_non_null(fp);
	static char file[1 << 16];
	size_t n = fread(file, 1, sizeof(file) - 1, fp);
	fclose(fp);
	file[n] = '\0';
	if (strcmp(file, (char *)b.data) != 0)
		fail_msg("docs/provisioning-engine.dot is stale: run `make engine-graph`");
	pp_buf_free_wipe(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_sequence),
	    cmocka_unit_test(test_no_rotation_no_clock),
	    cmocka_unit_test(test_bind_to_the_proven_uuid),
	    cmocka_unit_test(test_fault_and_return_value),
	    cmocka_unit_test(test_echoed_secret_hidden),
	    cmocka_unit_test(test_transport_errors),
	    cmocka_unit_test(test_resume_from_every_step),
	    cmocka_unit_test(test_resume_after_commit),
	    cmocka_unit_test(test_verify_unreachable),
	    cmocka_unit_test(test_password_swap_once),
	    cmocka_unit_test(test_state_checks),
	    cmocka_unit_test(test_pull_paging),
	    cmocka_unit_test(test_store_results),
	    cmocka_unit_test(test_dot_matches_docs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
