/* The step function over the row table (rows.c): events in, actions out, no I/O. */
#include "prov/rows.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "core/parse.h"
#include "core/secret.h"

/* How each kind of transport failure ends the attempt. */
static const struct {
	bool retryable;     /* the device may answer later */
	bool key_failure;   /* counted against the key (the lockout) */
	bool connect_error; /* a failure to reach the device (a metric) */
	const char *text;
} transport_errors[PV_TE_COUNT] = {
    [PV_TE_CONNECT] = {true, false, true, "cannot connect to the device"},
    [PV_TE_TIMEOUT] = {true, false, true, "the device did not answer in time"},
    [PV_TE_CLOSED] = {true, false, false, "the device closed the connection"},
    [PV_TE_TLS_UNKNOWN] = {false, false, false, "TLS-PSK: the device's PID is not ours"},
    [PV_TE_TLS_BAD_KEY] = {false, true, false, "TLS-PSK: wrong PPS"},
    [PV_TE_TLS_PROTOCOL] = {true, false, true, "TLS handshake failed"},
};

void pp_prov_init(struct pp_prov *p, const struct pp_prov_policy *policy, const struct pp_job *job)
{
	memset(p, 0, sizeof(*p));
	p->policy = policy;
	p->job = *job;
	p->row = PV_ROW_NONE;
	pp_buf_init(&p->body, PP_WSMAN_DOC_MAX);
}

void pp_prov_free(struct pp_prov *p)
{
	if (!p)
		return;
	pp_buf_free_wipe(&p->body);
	pp_prov_instance_free(&p->settings);
	pp_wipe(p, sizeof(*p));
}

const struct pp_buf *pp_prov_request(const struct pp_prov *p)
{
	return &p->body;
}

const char *pp_prov_auth_user(const struct pp_prov *p)
{
	return p->transport == PV_PLAIN ? p->sec.admin_user : "admin";
}

const char *pp_prov_auth_password(const struct pp_prov *p)
{
	if (p->transport == PV_PLAIN)
		return p->sec.admin_password;
	return p->use_new_mebx ? p->sec.mebx_password : p->mebx_old;
}

const char *pp_prov_what(const struct pp_prov *p)
{
	if (p->row > PV_ROW_NONE && p->row < PV_END)
		return pp_prov_rows[p->row].what;
	return "provisioning";
}

/* ---- ending ------------------------------------------------------------------ */

static void fail(struct pp_prov *p, struct pp_prov_action *a, bool retryable, int64_t now,
		 const char *fmt, ...) PP_PRINTF(5, 6);
/* Replaces every occurrence of secret (len bytes; skipped when shorter than 4) in text
 * with "(hidden)", in place, within cap. */
static void hide(char *text, size_t cap, const char *secret, size_t len)
{
	static const char mask[] = "(hidden)";
	if (len < 4)
		return;
	char *at;
	while ((at = memmem(text, strlen(text), secret, len)) != NULL) {
		size_t tail = strlen(at + len);
		size_t head = (size_t)(at - text);
		if (head + sizeof(mask) - 1 + tail >= cap)
			tail = cap - 1 - head - (sizeof(mask) - 1);
		memmove(at + sizeof(mask) - 1, at + len, tail);
		memcpy(at, mask, sizeof(mask) - 1);
		text[head + sizeof(mask) - 1 + tail] = '\0';
	}
}

/* A reason may quote what the device sent, and a device may echo anything, a secret of
 * this session included: none of them reaches a log or the store. */
static void hide_secrets(const struct pp_prov *p, char *text, size_t cap)
{
	const char *const secrets[] = {p->mebx_old, p->sec.mebx_password, p->sec.admin_password};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		hide(text, cap, secrets[i], strnlen(secrets[i], PP_MEBX_PW_MAX + 33));
	hide(text, cap, p->pps.s, strnlen(p->pps.s, sizeof(p->pps.s)));
	hide(text, cap, p->next_pps.s, strnlen(p->next_pps.s, sizeof(p->next_pps.s)));
	hide(text, cap, p->cand_pps.s, strnlen(p->cand_pps.s, sizeof(p->cand_pps.s)));
}

static void fail(struct pp_prov *p, struct pp_prov_action *a, bool retryable, int64_t now,
		 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof(a->reason), fmt, ap);
	va_end(ap);
	hide_secrets(p, a->reason, sizeof(a->reason));
	a->kind = PV_ACT_FAIL;
	a->recorded = p->failure_recorded;
	a->retryable = !a->recorded && retryable && p->job.attempts < p->policy->max_attempts;
	if (a->retryable) {
		/* 2, 4, 8 ... seconds, at most a minute. */
		uint32_t n = p->job.attempts ? p->job.attempts : 1;
		a->retry_at = now + (n >= 6 ? 60 : (int64_t)1 << n);
	}
	p->row = PV_END;
}

/* ---- moving through the table ------------------------------------------------ */

static bool declared(const struct pp_prov_rowdef *d, enum pp_prov_row from, int to)
{
	if (to == PV_END && from == PV_COMPLETE)
		return true;
	for (int i = 0; i < PV_JUMPS_MAX; i++)
		if (d->jumps[i] && (int)d->jumps[i] == to)
			return true;
	return false;
}

/* Carries out the row p->row: skips what its skip says, then builds its request or
 * store operation. */
static void enter(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a)
{
	while (p->row < PV_END && pp_prov_rows[p->row].skip && pp_prov_rows[p->row].skip(p))
		p->row++;
	if (p->row >= PV_END) {
		a->kind = PV_ACT_FINISH;
		return;
	}
	const struct pp_prov_rowdef *d = &pp_prov_rows[p->row];
	struct pp_err err = {0};
	if (d->build(p, ev, a, &err) < 0) {
		fail(p, a, err.code == PP_ECRYPTO || err.code == PP_ENOMEM, ev->now, "%s: %s",
		     d->what, err.msg);
		return;
	}
	if (d->store) {
		a->kind = PV_ACT_STORE;
		return;
	}
	if (d->transport != p->transport)
		p->transport = d->transport;
	a->kind = PV_ACT_SEND;
	a->transport = p->transport;
}

/* Goes where a reader said: next, again, or a declared jump. */
static void go(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a,
	       int next)
{
	const struct pp_prov_rowdef *d = &pp_prov_rows[p->row];
	if (d->reached > p->job.step)
		p->job.step = d->reached; /* in memory: the row is repeated after a crash */
	if (next == ROW_NEXT) {
		p->row++;
	} else if (next == ROW_AGAIN && d->again) {
		/* the same row once more */
	} else if (next >= 0 && declared(d, p->row, next)) {
		p->row = (enum pp_prov_row)next;
	} else {
		fail(p, a, false, ev->now, "%s: internal: a jump the table does not declare",
		     d->what);
		return;
	}
	if (p->row == PV_END) {
		a->kind = PV_ACT_FINISH;
		return;
	}
	enter(p, ev, a);
}

static void on_start(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a)
{
	/* A job past MEBX authenticates with the new MEBx password first. */
	p->use_new_mebx = p->have_sec && p->job.step >= PP_STEP_MEBX;
	/* Committed before a crash? A provisioned device answers on its HTTP port with the
	 * admin account; an uncommitted one still speaks TLS-PSK. */
	bool verify = p->job.step >= PP_STEP_COMMIT_SENT && p->have_sec;
	p->row = verify ? PV_VERIFY : PV_READ_SETTINGS;
	p->transport = pp_prov_rows[p->row].transport;
	enter(p, ev, a);
}

static void on_response(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a)
{
	const struct pp_prov_rowdef *d = &pp_prov_rows[p->row];
	struct pp_wsman_response *r = ev->scratch;
	struct pp_err err = {0};
	int rc = pp_wsman_response_parse(&p->call, ev->body, ev->body_len, r, &err);
	if (rc < 0 && r->is_fault) {
		a->wsman_fault = true;
		fail(p, a, false, ev->now, "%s: device fault %s: %s", d->what, r->fault_subcode,
		     r->fault_reason);
	} else if (rc < 0) {
		fail(p, a, false, ev->now, "%s: bad WS-Management answer (HTTP %d): %s", d->what,
		     ev->http_status, err.msg);
	} else if (ev->http_status != 200) {
		fail(p, a, false, ev->now, "%s: HTTP %d without a SOAP fault", d->what,
		     ev->http_status);
	} else if (r->has_return_value && r->return_value != 0) {
		fail(p, a, false, ev->now, "%s: ReturnValue %u", d->what, r->return_value);
	} else {
		int next = d->read(p, r, &err);
		if (next < 0 && next != ROW_NEXT && next != ROW_AGAIN)
			fail(p, a, false, ev->now, "%s: %s", d->what, err.msg);
		else
			go(p, ev, a, next);
	}
	pp_wsman_response_wipe(r);
}

static void on_stored(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a)
{
	const struct pp_prov_rowdef *d = &pp_prov_rows[p->row];
	struct pp_err err = {0};
	int next = d->stored(p, ev->store_rc, &err);
	if (next >= 0 || next == ROW_NEXT || next == ROW_AGAIN) {
		go(p, ev, a, next);
		return;
	}
	/* A verdict of the row's own (err set) ends the job for good; a store failure is
	 * retried, since the store may come back. */
	const char *why = ev->store_err && ev->store_err->msg[0] ? ev->store_err->msg
								 : pp_status_str(-ev->store_rc);
	if (err.msg[0])
		fail(p, a, false, ev->now, "%s: %s (%s)", d->what, err.msg, why);
	else
		fail(p, a, true, ev->now, "%s: %s", d->what, why);
}

/* After a crash the device may hold the old or the new MEBx password: try the other
 * once. On the HTTP port a refusal means the commit did not happen: set up again. */
static void on_auth_refused(struct pp_prov *p, const struct pp_prov_event *ev,
			    struct pp_prov_action *a)
{
	const struct pp_prov_rowdef *d = &pp_prov_rows[p->row];
	if (d->unreachable) {
		p->row = d->unreachable;
		enter(p, ev, a);
		return;
	}
	if (p->transport == PV_TLS && !p->swapped_password && p->have_sec) {
		p->swapped_password = true;
		p->use_new_mebx = !p->use_new_mebx;
		a->kind = PV_ACT_RESEND;
		a->transport = p->transport;
		return;
	}
	if (p->transport == PV_TLS) {
		/* Over TLS the login is the MEBx password: name the key it came with, never
		 * the password. */
		char pid[PP_PID_TEXT];
		fail(p, a, false, ev->now,
		     "%s: the device refused the MEBx password issued with PID %s%s; the one set "
		     "at its console or in its USB record differs",
		     d->what, pp_pid_text(p->job.pid, pid),
		     p->swapped_password ? " (and the one this server set)" : "");
		return;
	}
	fail(p, a, false, ev->now, "%s: the device refused the credentials", d->what);
}

static void on_transport(struct pp_prov *p, const struct pp_prov_event *ev,
			 struct pp_prov_action *a)
{
	const struct pp_prov_rowdef *d = &pp_prov_rows[p->row];
	unsigned k = ev->terr < PV_TE_COUNT ? ev->terr : PV_TE_TLS_PROTOCOL;
	if (d->unreachable && (k == PV_TE_CONNECT || k == PV_TE_TIMEOUT)) {
		p->row = d->unreachable;
		enter(p, ev, a);
		return;
	}
	a->key_failure = transport_errors[k].key_failure;
	a->connect_error = transport_errors[k].connect_error;
	fail(p, a, transport_errors[k].retryable, ev->now, "%s: %s", d->what,
	     ev->detail && ev->detail[0] ? ev->detail : transport_errors[k].text);
}

void pp_prov_step(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a)
{
	memset(a, 0, sizeof(*a));
	if (ev->kind != PV_EV_START && (p->row <= PV_ROW_NONE || p->row >= PV_END)) {
		fail(p, a, false, ev->now, "internal: an event after the end");
		return;
	}
	switch (ev->kind) {
	case PV_EV_START:
		on_start(p, ev, a);
		return;
	case PV_EV_RESPONSE:
		if (pp_prov_rows[p->row].store || !ev->scratch)
			break;
		on_response(p, ev, a);
		return;
	case PV_EV_AUTH_REFUSED:
		if (pp_prov_rows[p->row].store)
			break;
		on_auth_refused(p, ev, a);
		return;
	case PV_EV_STORE_DONE:
		if (!pp_prov_rows[p->row].store)
			break;
		on_stored(p, ev, a);
		return;
	case PV_EV_TRANSPORT:
		on_transport(p, ev, a);
		return;
	}
	fail(p, a, false, ev->now, "internal: an event that does not fit row %s",
	     pp_prov_row_name(p->row));
}

/* ---- kept instances ---------------------------------------------------------- */

void pp_prov_instance_free(struct pp_prov_instance *inst)
{
	free(inst->data);
	inst->data = NULL;
	inst->len = 0;
}

int pp_prov_instance_keep(struct pp_prov_instance *inst, const struct pp_wsman_props *props,
			  struct pp_err *err)
{
	size_t len = 0;
	for (size_t i = 0; i < props->count; i++)
		len += strlen(props->item[i].name) + strlen(props->item[i].value) + 2;
	char *d = malloc(len ? len : 1);
	if (!d)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	size_t off = 0;
	for (size_t i = 0; i < props->count; i++) {
		size_t n = strlen(props->item[i].name) + 1, v = strlen(props->item[i].value) + 1;
		memcpy(d + off, props->item[i].name, n);
		memcpy(d + off + n, props->item[i].value, v);
		off += n + v;
	}
	pp_prov_instance_free(inst);
	inst->data = d;
	inst->len = len;
	return 0;
}

int pp_prov_instance_with(const struct pp_prov_instance *inst, const char *n1, const char *v1,
			  const char *n2, const char *v2, struct pp_wsman_props *out,
			  struct pp_err *err)
{
	bool seen1 = false, seen2 = false;
	pp_wsman_props_init(out);
	for (size_t off = 0; off < inst->len;) {
		const char *name = inst->data + off;
		const char *value = name + strlen(name) + 1;
		off += strlen(name) + strlen(value) + 2;
		if (!strcmp(name, n1) && !seen1) {
			value = v1;
			seen1 = true;
		} else if (!strcmp(name, n2) && !seen2) {
			value = v2;
			seen2 = true;
		}
		if (pp_wsman_props_add(out, name, value, err) < 0)
			return -PP_EINVAL;
	}
	if ((!seen1 && pp_wsman_props_add(out, n1, v1, err) < 0) ||
	    (!seen2 && pp_wsman_props_add(out, n2, v2, err) < 0))
		return -PP_EINVAL;
	return 0;
}

/* ---- host names -------------------------------------------------------------- */

void pp_prov_host_name(struct pp_prov *p)
{
	const char *t = p->policy->host_name_template ? p->policy->host_name_template : "";
	char uuid[37], pid[9];
	pp_uuid_format(p->job.uuid, uuid);
	for (int i = 0; i < 8; i++)
		pid[i] = (char)tolower((unsigned char)p->job.pid[i]);
	pid[8] = '\0';
	uuid[8] = '\0';
	size_t n = 0, cap = sizeof(p->host_name);
	while (*t && n + 1 < cap) {
		const char *rep = NULL;
		if (!strncmp(t, "{pid}", 5)) {
			rep = pid;
			t += 5;
		} else if (!strncmp(t, "{uuid8}", 7)) {
			rep = uuid;
			t += 7;
		}
		if (!rep) {
			p->host_name[n++] = *t++;
			continue;
		}
		for (; *rep && n + 1 < cap; rep++)
			p->host_name[n++] = *rep;
	}
	p->host_name[n] = '\0';
}
