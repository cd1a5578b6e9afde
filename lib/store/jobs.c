/* Devices, jobs, rotation, escrow and key lockout: the rules of docs/dev/store-jobs.md,
 * over the row operations of a backend (store_impl.h). Each write function is one atomic
 * unit (pp_store_atomic_begin/end): its own transaction, or a savepoint of the
 * caller's. */
#include "store/store_impl.h"

#include "core/parse.h"
#include "core/secret.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- names ---- */

static const char *const device_state_names[PP_DEV_STATE_MAX] = {
    [PP_DEV_SEEN] = "seen",
    [PP_DEV_CONFIGURING] = "configuring",
    [PP_DEV_PROVISIONED] = "provisioned",
    [PP_DEV_FAILED] = "failed",
    [PP_DEV_QUARANTINED] = "quarantined",
};
static const char *const job_state_names[PP_JOB_STATE_MAX] = {
    [PP_JOB_PENDING] = "pending", [PP_JOB_RUNNING] = "running", [PP_JOB_RETRY] = "retry",
    [PP_JOB_DONE] = "done",       [PP_JOB_FAILED] = "failed",
};
static const char *const job_step_names[PP_STEP_MAX] = {
    [PP_STEP_NONE] = "none", [PP_STEP_READ] = "read",
    [PP_STEP_ACL] = "acl",   [PP_STEP_MEBX] = "mebx",
    [PP_STEP_PSK] = "psk",   [PP_STEP_NAMES] = "names",
    [PP_STEP_TIME] = "time", [PP_STEP_COMMIT_SENT] = "commit-sent",
    [PP_STEP_DONE] = "done",
};

const char *pp_device_state_name(enum pp_device_state st)
{
	return (unsigned)st < PP_DEV_STATE_MAX ? device_state_names[st] : "?";
}

const char *pp_job_state_name(enum pp_job_state st)
{
	return (unsigned)st < PP_JOB_STATE_MAX ? job_state_names[st] : "?";
}

const char *pp_job_step_name(enum pp_job_step step)
{
	return (unsigned)step < PP_STEP_MAX ? job_step_names[step] : "?";
}

static int name_index(const char *const *names, int n, const char *name)
{
	for (int i = 0; name && i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

int pp_device_state_from_name(const char *name)
{
	return name_index(device_state_names, PP_DEV_STATE_MAX, name);
}

int pp_job_state_from_name(const char *name)
{
	return name_index(job_state_names, PP_JOB_STATE_MAX, name);
}

int pp_job_step_from_name(const char *name)
{
	return name_index(job_step_names, PP_STEP_MAX, name);
}

/* ---- small helpers ---- */

int pp_store_addr_parse(const char *s, uint8_t out[4])
{
	memset(out, 0, 4);
	if (!s || !*s)
		return 0; /* never set */
	return pp_parse_ipv4(s, out, "address", NULL) < 0 ? -PP_EINVAL : 0;
}

void pp_store_addr_format(const uint8_t a[4], char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

void pp_store_text_copy(char *out, size_t cap, const char *in)
{
	size_t o = 0;
	if (cap == 0)
		return;
	if (in) {
		const unsigned char *p = (const unsigned char *)in;
		size_t n = strlen(in);
		for (size_t i = 0; i < n;) {
			size_t l = pp_store_utf8_len(p + i, n - i);
			if (l == 0 || p[i] < 0x20 || p[i] == 0x7f) {
				l = 1; /* a control character or a byte that is not UTF-8 */
				if (o + 1 >= cap)
					break;
				out[o++] = '?';
			} else {
				if (o + l >= cap)
					break; /* never cut a sequence */
				memcpy(out + o, p + i, l);
				o += l;
			}
			i += l;
		}
	}
	out[o] = '\0';
}

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

/* 1..max bytes of printable ASCII without spaces (user names, passwords, owners). */
static bool word_ok(const char *s, size_t max)
{
	if (!s)
		return false;
	size_t n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

static int check_owner(const char *owner, struct pp_err *err)
{
	if (!word_ok(owner, PP_JOB_OWNER_MAX))
		return pp_err_set(err, PP_EINVAL,
				  "job owner must be 1..%d printable ASCII characters, no spaces",
				  PP_JOB_OWNER_MAX);
	return 0;
}

/* Host and domain names as the device takes them: printable ASCII, no spaces. */
static int check_name(const char *s, size_t max, const char *what, struct pp_err *err)
{
	if (!s || !*s)
		return 0;
	if (!word_ok(s, max))
		return pp_err_set(err, PP_EINVAL, "%s must be 1..%zu printable ASCII characters",
				  what, max);
	return 0;
}

static void uuid_text(const uint8_t uuid[16], char out[37])
{
	pp_uuid_format(uuid, out);
	/* The store keeps UUIDs in lower case. */
	for (int i = 0; i < 36; i++)
		if (out[i] >= 'A' && out[i] <= 'F')
			out[i] = (char)(out[i] - 'A' + 'a');
}

static bool owner_holds(const struct pp_job *j, const char *owner)
{
	return j->state == PP_JOB_RUNNING && strcmp(j->owner, owner) == 0;
}

static int lease_lost(const struct pp_job *j, const char *owner, struct pp_err *err)
{
	if (j->state != PP_JOB_RUNNING)
		return pp_err_set(err, PP_ESTATE, "job %lld is %s, not running under '%s'",
				  (long long)j->id, pp_job_state_name(j->state), owner);
	return pp_err_set(err, PP_ESTATE, "job %lld is no longer held by '%s' (lease lost)",
			  (long long)j->id, owner);
}

static int job_get(struct pp_store *s, int64_t id, bool lock, struct pp_job *j, struct pp_err *err)
{
	int rc = s->ops->job_get(s, id, lock, j, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "no job %lld", (long long)id);
	return rc;
}

/* The job, locked, when this owner holds it; -PP_ESTATE when not (lease lost). */
static int job_held(struct pp_store *s, int64_t id, const char *owner, struct pp_job *j,
		    struct pp_err *err)
{
	int rc = job_get(s, id, true, j, err);
	if (rc < 0)
		return rc;
	return owner_holds(j, owner) ? 0 : lease_lost(j, owner, err);
}

/* The job's hello key, read and locked; a job's PID never changes, so the unlocked
 * read of the job that named it is enough. */
static int job_key_lock(struct pp_store *s, const struct pp_job *j, struct pp_key_info *k,
			int64_t *batch_id, struct pp_err *err)
{
	int rc = s->ops->key_lock(s, j->pid, k, batch_id, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ESTORE, "job %lld: its key %s is missing",
				  (long long)j->id, j->pid);
	return rc;
}

/* Reads the job, then locks in the store's order (store_impl.h): its device, its hello
 * key when k is given, the job last. */
static int job_and_device(struct pp_store *s, int64_t id, struct pp_job *j, struct pp_device_row *d,
			  struct pp_key_info *k, struct pp_err *err)
{
	int64_t batch_id = 0;
	int rc = job_get(s, id, false, j, err);
	if (rc < 0)
		return rc;
	rc = s->ops->device_lock(s, j->uuid, NULL, d, NULL, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ESTORE, "job %lld: its device is missing", (long long)id);
	if (rc < 0)
		return rc;
	if (k && (rc = job_key_lock(s, j, k, &batch_id, err)) < 0)
		return rc;
	return job_get(s, id, true, j, err);
}

/* ---- hello ---- */

static const char *const note_kind_names[PP_NOTE_KIND_MAX] = {
    [PP_NOTE_UNKNOWN_PID] = "unknown-pid",
    [PP_NOTE_SUSPECT_CLONE] = "suspect-clone",
};

const char *pp_note_kind_name(enum pp_hello_note_kind kind)
{
	return (unsigned)kind < PP_NOTE_KIND_MAX ? note_kind_names[kind] : NULL;
}

static int note(struct pp_store *s, enum pp_hello_note_kind kind, const char *pid,
		const uint8_t uuid[16], const uint8_t addr[4], int64_t now, struct pp_err *err)
{
	struct pp_hello_note n;
	memset(&n, 0, sizeof(n));
	n.kind = kind;
	memcpy(n.pid, pid, 8);
	memcpy(n.uuid, uuid, 16);
	memcpy(n.addr, addr, 4);
	n.count = 1;
	n.first_seen = n.last_seen = now;
	return s->ops->note_put(s, &n, err);
}

struct hello_ctx {
	const struct pp_hello_in *h;
	char uuid[37];
	bool known; /* the UUID names a device row (a device proven once) */
	struct pp_device_row dev;
	struct pp_key_info key;
	int64_t batch_id;
	bool late; /* the device row appeared after this hello looked (hello_late_device) */
};

/* A device made by a bind that committed while this hello waited for the key lock: the
 * hello read no row before (PostgreSQL, READ COMMITTED) and would judge the key
 * without it (consumed by this very device: "unusable"). Read it again, unlocked, when
 * the key is bound to anyone; the hello decides by it but writes nothing to a row it
 * did not lock. */
static int hello_late_device(struct pp_store *s, struct hello_ctx *c, struct pp_err *err)
{
	if (c->known || c->key.use_count == 0)
		return 0;
	int rc = s->ops->device_get(s, c->h->uuid, &c->dev, err);
	if (rc == -PP_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	c->known = c->late = true;
	return 0;
}

/* The job for (UUID, address): refreshed when it exists (a running one is left alone),
 * else made; then the PID's unproven jobs are cut to the bound. */
static int hello_job(struct pp_store *s, const struct pp_hello_in *h, enum pp_hello_outcome *out,
		     int64_t *job_id, struct pp_err *err)
{
	struct pp_job j;
	int rc = s->ops->job_find_at(s, h->uuid, h->addr, true, &j, err);
	if (rc == 0) {
		*out = PP_HELLO_JOB_ACTIVE;
		*job_id = j.id;
		if (j.state == PP_JOB_RUNNING || h->now <= j.updated)
			return 0;
		j.updated = h->now;
		return s->ops->job_put(s, &j, NULL, err);
	}
	if (rc != -PP_ENOTFOUND)
		return rc;
	memset(&j, 0, sizeof(j));
	memcpy(j.uuid, h->uuid, 16);
	memcpy(j.pid, h->pid, sizeof(j.pid));
	memcpy(j.addr, h->addr, 4);
	j.state = PP_JOB_PENDING;
	j.step = PP_STEP_NONE;
	j.next_attempt_at = h->now;
	j.created = j.updated = h->now;
	struct pp_job_event ev = {.time = h->now, .event = "queued"};
	char addr[16];
	pp_store_addr_format(h->addr, addr);
	snprintf(ev.detail, sizeof(ev.detail), "%s from %s", h->source ? h->source : "hello", addr);
	if ((rc = s->ops->job_insert(s, &j, &ev, job_id, err)) < 0)
		return rc;
	*out = PP_HELLO_NEW_JOB;
	return s->ops->jobs_prune(s, h->pid, PP_STORE_UNPROVEN_PER_PID - 1, *job_id, NULL, err);
}

/* A known device: provisioned (unless the PID is the key its last job rotated in: it
 * was unprovisioned and holds it) or quarantined ends the hello here (*done). */
static int hello_known(struct pp_store *s, struct hello_ctx *c, enum pp_hello_outcome *out,
		       bool *done, struct pp_err *err)
{
	const struct pp_hello_in *h = c->h;
	*done = false;
	if (c->dev.info.state == PP_DEV_QUARANTINED) {
		*out = PP_HELLO_QUARANTINED;
		*done = true;
		return 0;
	}
	if (c->dev.info.state != PP_DEV_PROVISIONED)
		return 0;
	struct pp_job last;
	int rc = s->ops->job_find(s, h->uuid, PP_JOB_FIND_LAST_DONE, false, &last, err);
	if (rc < 0 && rc != -PP_ENOTFOUND)
		return rc;
	if (rc == -PP_ENOTFOUND || last.next_pid[0] == '\0' || strcmp(last.next_pid, h->pid) != 0) {
		*out = PP_HELLO_ALREADY_PROVISIONED;
		*done = true;
	}
	return 0;
}

/* The decision for a known PID; fills *out and *job_id. */
static int hello_decide(struct pp_store *s, struct hello_ctx *c, enum pp_hello_outcome *out,
			int64_t *job_id, struct pp_err *err)
{
	const struct pp_hello_in *h = c->h;
	bool done = false, locked = false;
	int rc;
	if (c->known && ((rc = hello_known(s, c, out, &done, err)) < 0 || done))
		return rc < 0 ? rc : 0;
	if (c->key.state == PP_KEY_REVOKED || c->key.state == PP_KEY_EXPIRED) {
		*out = PP_HELLO_KEY_UNUSABLE;
		return 0;
	}
	if ((rc = s->ops->key_locked_at(s, h->pid, h->addr, h->now, &locked, err)) < 0)
		return rc;
	if (locked) {
		*out = PP_HELLO_KEY_UNUSABLE;
		return 0;
	}
	bool bound = false;
	uint64_t count = 0;
	char other[37] = "";
	if ((rc = s->ops->key_uses(s, h->pid, c->uuid, &bound, &count, other, err)) < 0)
		return rc;
	bool suspect = !bound && count >= c->key.max_devices;
	if (!suspect && c->key.state == PP_KEY_CONSUMED) {
		*out = PP_HELLO_KEY_UNUSABLE;
		return 0;
	}
	if ((rc = hello_job(s, h, out, job_id, err)) < 0)
		return rc;
	if (!suspect)
		return 0;
	/* The server tries the address all the same: only a handshake tells a clone that
	 * holds the key (quarantined by pp_store_job_bind) from a forged hello. */
	*out = PP_HELLO_SUSPECT_CLONE;
	return note(s, PP_NOTE_SUSPECT_CLONE, h->pid, h->uuid, h->addr, h->now, err);
}

static int hello_check(const struct pp_hello_in *h, struct pp_err *err)
{
	if (!h)
		return pp_err_set(err, PP_EINVAL, "no hello");
	int rc = pp_store_check_pid(h->pid, err);
	if (rc < 0)
		return rc;
	if (!h->source || (strcmp(h->source, "hello") != 0 && strcmp(h->source, "agent") != 0))
		return pp_err_set(err, PP_EINVAL, "hello source must be 'hello' or 'agent'");
	return 0;
}

int pp_store_hello(struct pp_store *s, const struct pp_hello_in *h, enum pp_hello_outcome *outcome,
		   int64_t *job_id, struct pp_err *err)
{
	struct hello_ctx c;
	struct pp_store_atomic a;
	enum pp_hello_outcome out = PP_HELLO_UNKNOWN_PID;
	int64_t jid = 0;
	int rc;

	if ((rc = hello_check(h, err)) < 0)
		return rc;
	memset(&c, 0, sizeof(c));
	c.h = h;
	uuid_text(h->uuid, c.uuid);
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	/* Lock order: device, then job, then keys. */
	rc = s->ops->device_lock(s, h->uuid, NULL, &c.dev, NULL, err);
	c.known = rc == 0;
	if (rc < 0 && rc != -PP_ENOTFOUND)
		goto out;
	rc = s->ops->key_lock(s, h->pid, &c.key, &c.batch_id, err);
	if (rc == -PP_ENOTFOUND) {
		/* A sample for the operator, never a row each. */
		rc = note(s, PP_NOTE_UNKNOWN_PID, h->pid, h->uuid, h->addr, h->now, err);
		goto out;
	}
	if (rc < 0 || (rc = hello_late_device(s, &c, err)) < 0 ||
	    (rc = hello_decide(s, &c, &out, &jid, err)) < 0 || !c.known || c.late)
		goto out;
	/* A known device counts the hello; its address, PID and state are not a hello's to
	 * change (it may be forged). */
	if (h->now > c.dev.info.last_seen)
		c.dev.info.last_seen = h->now;
	c.dev.hello_count++;
	pp_store_text_copy(c.dev.last_source, sizeof(c.dev.last_source), h->source);
	c.dev.updated = h->now;
	rc = s->ops->device_put(s, &c.dev, err);
out:
	rc = pp_store_atomic_end(s, &a, rc, err);
	if (rc < 0)
		return rc;
	if (outcome)
		*outcome = out;
	if (job_id)
		*job_id = jid;
	return 0;
}

int pp_store_hello_notes(struct pp_store *s, enum pp_hello_note_kind kind,
			 int (*cb)(void *ctx, const struct pp_hello_note *), void *ctx,
			 struct pp_err *err)
{
	if (!pp_note_kind_name(kind))
		return pp_err_set(err, PP_EINVAL, "unknown hello note kind %d", (int)kind);
	if (!cb)
		return pp_err_set(err, PP_EINVAL, "no callback");
	return s->ops->note_list(s, kind, cb, ctx, err);
}

/* ---- binding: the device proved the key ---- */

/* The n-th variant of a host name: the candidate, then "-" and the UUID's first 8 hex
 * digits, then "-2", "-3", ...; the candidate is cut so the whole fits 63 bytes. */
static void host_name_variant(const char *cand, const char *uuid8, unsigned n, char out[64])
{
	char suffix[32] = "";
	if (n == 1)
		snprintf(suffix, sizeof(suffix), "-%.8s", uuid8);
	else if (n > 1)
		snprintf(suffix, sizeof(suffix), "-%.8s-%u", uuid8, n);
	size_t sl = strlen(suffix), cl = strlen(cand);
	if (cl + sl > 63)
		cl = 63 - sl;
	memcpy(out, cand, cl);
	memcpy(out + cl, suffix, sl + 1);
}

#define HOST_NAME_TRIES 1000

/* A host name unique among devices for uuid, from cand (checked by the caller). */
static int reserve_host_name(struct pp_store *s, const uint8_t uuid[16], const char *cand,
			     char out[64], struct pp_err *err)
{
	char text[37];
	uuid_text(uuid, text);
	for (unsigned n = 0; n < HOST_NAME_TRIES; n++) {
		bool taken = true;
		host_name_variant(cand, text, n, out);
		int rc = s->ops->host_name_taken(s, out, uuid, &taken, err);
		if (rc < 0)
			return rc;
		if (!taken)
			return 0;
	}
	out[0] = '\0';
	return pp_err_set(err, PP_EEXIST, "host name '%s': no free variant after %d tries", cand,
			  HOST_NAME_TRIES);
}

struct bind_ctx {
	struct pp_job j;
	struct pp_device_row d;
	struct pp_key_info key;
	const uint8_t *proven;
	char proven_text[37], claimed_text[37];
	const char *owner;
	int64_t now;
	bool clone;
	char reason[PP_STORE_TEXT_MAX + 1];
};

/* A clone proved the key: the device is quarantined, the job fails for good (it stays
 * with the device as the record), the operator is told. */
static int bind_quarantine(struct pp_store *s, struct bind_ctx *c, uint64_t count,
			   const char *other, struct pp_err *err)
{
	char detail[512], addr[16];
	pp_store_addr_format(c->j.addr, addr);
	if (c->d.info.state == PP_DEV_QUARANTINED)
		snprintf(c->reason, sizeof(c->reason), "device %s is quarantined", c->proven_text);
	else if (c->key.max_devices <= 1)
		snprintf(c->reason, sizeof(c->reason), "PID %s belongs to device %s (cloned key?)",
			 c->j.pid, other);
	else
		snprintf(c->reason, sizeof(c->reason),
			 "shared PID %s is at its limit of %u devices (first: %s)", c->j.pid,
			 c->key.max_devices, other);
	snprintf(detail, sizeof(detail),
		 "job %lld: device %s at %s proved PID %s (its hello claimed %s; %llu device(s) "
		 "hold the key): %s",
		 (long long)c->j.id, c->proven_text, addr, c->j.pid, c->claimed_text,
		 (unsigned long long)count, c->reason);
	c->clone = true;
	c->d.info.state = PP_DEV_QUARANTINED;
	c->d.info.quarantined = true;
	pp_store_text_copy(c->d.quarantine_reason, sizeof(c->d.quarantine_reason), c->reason);
	pp_store_text_copy(c->d.info.last_error, sizeof(c->d.info.last_error), c->reason);
	c->d.updated = c->now;
	int rc = s->ops->device_put(s, &c->d, err);
	if (rc < 0)
		return rc;
	memcpy(c->j.uuid, c->proven, 16);
	c->j.bound = true;
	c->j.state = PP_JOB_FAILED;
	c->j.lease_until = 0;
	c->j.updated = c->now;
	pp_store_text_copy(c->j.last_error, sizeof(c->j.last_error), c->reason);
	struct pp_job_event ev = {.job_id = c->j.id, .time = c->now, .event = "quarantined"};
	pp_store_text_copy(ev.detail, sizeof(ev.detail), c->reason);
	if ((rc = s->ops->job_put(s, &c->j, &ev, err)) < 0)
		return rc;
	if ((rc = note(s, PP_NOTE_SUSPECT_CLONE, c->j.pid, c->proven, c->j.addr, c->now, err)) < 0)
		return rc;
	return pp_store_audit_at(s, c->now, c->owner, "device.quarantined", c->proven_text, detail,
				 err);
}

/* Binds the key and the job to the proven device, with the device, the key and the job
 * locked. */
static int bind_to_device(struct pp_store *s, struct bind_ctx *c, const char *cand,
			  char host_out[64], struct pp_err *err)
{
	bool bound = false;
	uint64_t count = 0;
	char other[37] = "";
	int rc;
	if (c->key.state == PP_KEY_REVOKED || c->key.state == PP_KEY_EXPIRED)
		return pp_err_set(err, PP_ESTATE, "job %lld: key %s is %s", (long long)c->j.id,
				  c->j.pid, pp_key_state_name(c->key.state));
	if ((rc = s->ops->key_uses(s, c->j.pid, c->proven_text, &bound, &count, other, err)) < 0)
		return rc;
	if (c->d.info.state == PP_DEV_QUARANTINED || (!bound && count >= c->key.max_devices))
		return bind_quarantine(s, c, count, other, err);
	if (!bound && (rc = s->ops->key_bind(s, c->j.pid, c->proven_text, c->now, err)) < 0)
		return rc;
	if (memcmp(c->j.uuid, c->proven, 16) != 0) {
		char detail[256];
		snprintf(detail, sizeof(detail),
			 "job %lld, PID %s: the hello claimed device %s; the device proved the "
			 "key and is %s",
			 (long long)c->j.id, c->j.pid, c->claimed_text, c->proven_text);
		rc = pp_store_audit_at(s, c->now, c->owner, "job.uuid-corrected", c->proven_text,
				       detail, err);
		if (rc < 0)
			return rc;
	}
	/* Its other unproven jobs are moot: the device is found. */
	if ((rc = s->ops->jobs_drop_unbound(s, c->proven, c->j.id, err)) < 0)
		return rc;
	bool corrected = memcmp(c->j.uuid, c->proven, 16) != 0;
	memcpy(c->j.uuid, c->proven, 16);
	c->j.bound = true;
	c->j.updated = c->now;
	struct pp_job_event ev = {.job_id = c->j.id, .time = c->now, .event = "bound"};
	snprintf(ev.detail, sizeof(ev.detail), "device %s proved PID %s", c->proven_text, c->j.pid);
	rc = s->ops->job_put(s, &c->j, &ev, err);
	if (rc == -PP_EEXIST)
		return pp_err_set(err, PP_ESTATE,
				  "job %lld: device %s has another job for that "
				  "address",
				  (long long)c->j.id, c->proven_text);
	if (rc < 0)
		return rc;
	if (corrected) {
		char detail[PP_STORE_TEXT_MAX + 1];
		snprintf(detail, sizeof(detail), "the hello claimed %s", c->claimed_text);
		if ((rc = pp_store_job_event_at(s, c->j.id, c->now, "uuid-corrected", detail,
						err)) < 0)
			return rc;
	}

	c->d.info.state = PP_DEV_CONFIGURING;
	memcpy(c->d.info.pid, c->j.pid, sizeof(c->d.info.pid));
	memcpy(c->d.info.addr, c->j.addr, 4);
	c->d.info.last_error[0] = '\0';
	c->d.info.host_name[0] = '\0';
	if (c->now > c->d.info.last_seen)
		c->d.info.last_seen = c->now;
	c->d.updated = c->now;
	if (cand && *cand &&
	    (rc = reserve_host_name(s, c->proven, cand, c->d.info.host_name, err)) < 0)
		return rc;
	if (host_out)
		memcpy(host_out, c->d.info.host_name, 64);
	return s->ops->device_put(s, &c->d, err);
}

int pp_store_job_bind(struct pp_store *s, int64_t job_id, const char *owner,
		      const uint8_t proven_uuid[16], const char *host_name_candidate,
		      char host_name_out[64], int64_t now, struct pp_err *err)
{
	struct pp_store_atomic a;
	struct pp_device_row fresh;
	struct bind_ctx c;
	int64_t batch_id = 0;
	int rc;
	if (host_name_out)
		host_name_out[0] = '\0';
	if ((rc = check_owner(owner, err)) < 0 ||
	    (rc = check_name(host_name_candidate, 63, "host name", err)) < 0)
		return rc;
	if (!proven_uuid)
		return pp_err_set(err, PP_EINVAL, "job bind: no UUID");
	memset(&c, 0, sizeof(c));
	c.proven = proven_uuid;
	c.owner = owner;
	c.now = now;
	uuid_text(proven_uuid, c.proven_text);
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	/* Lock order: the device (made on first proof), the key, then the job. */
	if ((rc = job_get(s, job_id, false, &c.j, err)) < 0)
		goto out;
	memset(&fresh, 0, sizeof(fresh));
	memcpy(fresh.info.uuid, proven_uuid, 16);
	memcpy(fresh.info.pid, c.j.pid, sizeof(fresh.info.pid));
	memcpy(fresh.info.addr, c.j.addr, 4);
	fresh.info.state = PP_DEV_CONFIGURING;
	fresh.info.first_seen = fresh.info.last_seen = fresh.updated = now;
	/* First seen when the hello that made this job came, and that hello counted. */
	if (c.j.created > 0 && c.j.created < now)
		fresh.info.first_seen = c.j.created;
	fresh.hello_count = 1;
	if ((rc = s->ops->device_lock(s, proven_uuid, &fresh, &c.d, NULL, err)) < 0 ||
	    (rc = job_key_lock(s, &c.j, &c.key, &batch_id, err)) < 0 ||
	    (rc = job_get(s, job_id, true, &c.j, err)) < 0)
		goto out;
	uuid_text(c.j.uuid, c.claimed_text);
	if (!owner_holds(&c.j, owner)) {
		rc = lease_lost(&c.j, owner, err);
		goto out;
	}
	if (c.j.bound) {
		if (memcmp(c.j.uuid, proven_uuid, 16) != 0)
			rc = pp_err_set(err, PP_ESTATE, "job %lld is bound to device %s, not %s",
					(long long)c.j.id, c.claimed_text, c.proven_text);
		else if (host_name_out)
			memcpy(host_name_out, c.d.info.host_name, 64);
		goto out;
	}
	rc = bind_to_device(s, &c, host_name_candidate, host_name_out, err);
out:
	rc = pp_store_atomic_end(s, &a, rc, err);
	if (rc == 0 && c.clone) {
		(void)pp_err_set(err, PP_EPERM, "job %lld: device %s quarantined: %s",
				 (long long)job_id, c.proven_text, c.reason);
		return PP_STORE_BIND_CLONE;
	}
	return rc;
}

/* ---- claims and leases ---- */

static int lease_end(int64_t now, uint32_t lease_s, int64_t *out, struct pp_err *err)
{
	if (lease_s == 0)
		return pp_err_set(err, PP_EINVAL, "a lease must last at least a second");
	if (now < 0 || now > INT64_MAX - (int64_t)lease_s)
		return pp_err_set(err, PP_EINVAL, "time out of range");
	*out = now + lease_s;
	return 0;
}

int pp_store_jobs_claim(struct pp_store *s, const char *owner, int64_t now, uint32_t lease_s,
			size_t max, struct pp_job *out, size_t *n, struct pp_err *err)
{
	struct pp_store_atomic a;
	int64_t until = 0;
	int rc;
	*n = 0;
	if ((rc = check_owner(owner, err)) < 0 || (rc = lease_end(now, lease_s, &until, err)) < 0)
		return rc;
	if (max == 0)
		return 0;
	if (!out)
		return pp_err_set(err, PP_EINVAL, "no room for claimed jobs");
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	rc = s->ops->jobs_claim(s, owner, now, until, max, out, n, err);
	rc = pp_store_atomic_end(s, &a, rc, err);
	if (rc < 0)
		*n = 0;
	return rc;
}

int pp_store_jobs_renew(struct pp_store *s, const char *owner, int64_t now, uint32_t lease_s,
			struct pp_err *err)
{
	struct pp_store_atomic a;
	int64_t until = 0;
	int rc;
	if ((rc = check_owner(owner, err)) < 0 || (rc = lease_end(now, lease_s, &until, err)) < 0)
		return rc;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	rc = s->ops->jobs_renew(s, owner, now, until, err);
	return pp_store_atomic_end(s, &a, rc, err);
}

int pp_store_job_step(struct pp_store *s, int64_t id, const char *owner, enum pp_job_step step,
		      struct pp_err *err)
{
	struct pp_store_atomic a;
	struct pp_job j;
	int rc = check_owner(owner, err);
	if (rc < 0)
		return rc;
	if (step < PP_STEP_READ || step > PP_STEP_COMMIT_SENT)
		return pp_err_set(err, PP_EINVAL,
				  "job step %d cannot be recorded (done is the completion's)",
				  (int)step);
	if (step == PP_STEP_READ) {
		/* READ is recorded once GetUuid, over the authenticated channel, matched the
		 * job's UUID: that device proved the key. */
		if ((rc = job_get(s, id, false, &j, err)) < 0)
			return rc;
		if (!j.bound && (rc = pp_store_job_bind(s, id, owner, j.uuid, NULL, NULL,
							wall_now(), err)) != 0)
			return rc;
	}
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	if ((rc = job_held(s, id, owner, &j, err)) < 0)
		goto out;
	/* Monotonic: a late or repeated report of an earlier step changes nothing. */
	if (step > j.step) {
		j.step = step;
		j.updated = wall_now();
		struct pp_job_event ev = {
		    .job_id = j.id, .time = j.updated, .event = "commit-sent"};
		rc = s->ops->job_put(s, &j, step == PP_STEP_COMMIT_SENT ? &ev : NULL, err);
	}
out:
	return pp_store_atomic_end(s, &a, rc, err);
}

int pp_store_job_retry(struct pp_store *s, int64_t id, const char *owner, int64_t next_at,
		       const char *reason, struct pp_err *err)
{
	struct pp_store_atomic a;
	struct pp_job j;
	int rc = check_owner(owner, err);
	if (rc < 0)
		return rc;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	if ((rc = job_held(s, id, owner, &j, err)) < 0)
		goto out;
	j.state = PP_JOB_RETRY;
	j.next_attempt_at = next_at;
	j.owner[0] = '\0';
	j.lease_until = 0;
	j.updated = wall_now();
	pp_store_text_copy(j.last_error, sizeof(j.last_error), reason);
	struct pp_job_event ev = {.job_id = j.id, .time = j.updated, .event = "retry"};
	char detail[PP_STORE_TEXT_MAX + 1];
	snprintf(detail, sizeof(detail), "%.150s; next attempt at %lld", j.last_error,
		 (long long)next_at);
	pp_store_text_copy(ev.detail, sizeof(ev.detail), detail);
	rc = s->ops->job_put(s, &j, &ev, err);
out:
	return pp_store_atomic_end(s, &a, rc, err);
}

int pp_store_job_fail(struct pp_store *s, int64_t id, const char *owner, const char *reason,
		      struct pp_err *err)
{
	struct pp_store_atomic a;
	struct pp_job j;
	struct pp_device_row d;
	char uuid[37], detail[PP_STORE_TEXT_MAX + 64];
	int64_t now = wall_now();
	int rc = check_owner(owner, err);
	if (rc < 0)
		return rc;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	if ((rc = job_get(s, id, false, &j, err)) < 0)
		goto out;
	/* An unbound job has no device: nobody proved anything. */
	rc = j.bound ? job_and_device(s, id, &j, &d, NULL, err) : job_get(s, id, true, &j, err);
	if (rc < 0)
		goto out;
	if (!owner_holds(&j, owner)) {
		rc = lease_lost(&j, owner, err);
		goto out;
	}
	j.state = PP_JOB_FAILED;
	j.lease_until = 0;
	j.updated = now;
	pp_store_text_copy(j.last_error, sizeof(j.last_error), reason);
	struct pp_job_event ev = {.job_id = j.id, .time = now, .event = "failed"};
	memcpy(ev.detail, j.last_error, sizeof(ev.detail));
	if ((rc = s->ops->job_put(s, &j, &ev, err)) < 0 || !j.bound)
		goto out;
	if (d.info.state != PP_DEV_QUARANTINED)
		d.info.state = PP_DEV_FAILED;
	memcpy(d.info.last_error, j.last_error, sizeof(d.info.last_error));
	d.updated = now;
	if ((rc = s->ops->device_put(s, &d, err)) < 0)
		goto out;
	uuid_text(j.uuid, uuid);
	snprintf(detail, sizeof(detail), "job %lld, PID %s: %s", (long long)j.id, j.pid,
		 j.last_error);
	rc = pp_store_audit_at(s, now, owner, "job.failed", uuid, detail, err);
out:
	return pp_store_atomic_end(s, &a, rc, err);
}

/* The hello key (k, locked) once its device is provisioned: consumed when the devices
 * provisioned with it reach its max_devices. *consumed tells. */
static int consume_hello_key(struct pp_store *s, const struct pp_job *j,
			     const struct pp_key_info *k, int64_t now, bool *consumed,
			     uint64_t *used, struct pp_err *err)
{
	*consumed = false;
	*used = 0;
	int rc = s->ops->key_provisioned(s, j->pid, used, err);
	if (rc < 0)
		return rc;
	/* A key revoked meanwhile stays revoked. */
	if (k->state != PP_KEY_IN_USE || *used < k->max_devices)
		return 0;
	rc = s->ops->key_state_cas(s, j->pid, PP_KEY_IN_USE, PP_KEY_CONSUMED, now, err);
	if (rc < 0)
		return rc;
	*consumed = true;
	return 0;
}

/* The completed job's device provisioned, its hello key consumed when due, and the
 * audit entry "device.provisioned". */
static int complete_device(struct pp_store *s, const struct pp_job *j, struct pp_device_row *d,
			   const struct pp_key_info *k, const char *domain, int64_t now,
			   const char *owner, struct pp_err *err)
{
	char uuid[37], detail[512];
	bool consumed = false;
	uint64_t used = 0;
	d->info.state = PP_DEV_PROVISIONED;
	memcpy(d->info.pid, j->next_pid[0] ? j->next_pid : j->pid, sizeof(d->info.pid));
	memcpy(d->info.addr, j->addr, 4);
	pp_store_text_copy(d->info.domain, sizeof(d->info.domain), domain);
	d->info.last_error[0] = '\0';
	d->info.provisioned_at = now;
	d->updated = now;
	int rc = s->ops->device_put(s, d, err);
	if (rc < 0 || (rc = consume_hello_key(s, j, k, now, &consumed, &used, err)) < 0)
		return rc;
	uuid_text(j->uuid, uuid);
	snprintf(detail, sizeof(detail),
		 "job %lld: PID %s %s (%llu of %u devices)%s%s%s, host '%s', domain '%s'",
		 (long long)j->id, j->pid, consumed ? "consumed" : "stays in-use",
		 (unsigned long long)used, k->max_devices, j->next_pid[0] ? ", next PID " : "",
		 j->next_pid, j->next_pid[0] ? " in-use" : "", d->info.host_name, d->info.domain);
	return pp_store_audit_at(s, now, owner, "device.provisioned", uuid, detail, err);
}

int pp_store_job_complete(struct pp_store *s, int64_t id, const char *owner, const char *host_name,
			  const char *domain, int64_t now, struct pp_err *err)
{
	struct pp_store_atomic a;
	struct pp_job j;
	struct pp_device_row d;
	struct pp_key_info k;
	int rc;
	if ((rc = check_owner(owner, err)) < 0 ||
	    (rc = check_name(host_name, 63, "host name", err)) < 0 ||
	    (rc = check_name(domain, 253, "domain name", err)) < 0)
		return rc;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	if ((rc = job_and_device(s, id, &j, &d, &k, err)) < 0)
		goto out;
	if (j.state == PP_JOB_DONE && strcmp(j.owner, owner) == 0) {
		rc = 0; /* a repeat after a crash or a lost answer */
		goto out;
	}
	if (!owner_holds(&j, owner)) {
		rc = lease_lost(&j, owner, err);
		goto out;
	}
	if (!j.bound) {
		rc = pp_err_set(err, PP_ESTATE, "job %lld: no device proved its key yet",
				(long long)j.id);
		goto out;
	}
	/* The name reserved at binding, else one made unique now. */
	if (!d.info.host_name[0] && host_name && *host_name &&
	    (rc = reserve_host_name(s, j.uuid, host_name, d.info.host_name, err)) < 0)
		goto out;
	j.state = PP_JOB_DONE;
	j.step = PP_STEP_DONE;
	j.lease_until = 0;
	j.updated = now;
	struct pp_job_event ev = {.job_id = j.id, .time = now, .event = "done"};
	if ((rc = s->ops->job_put(s, &j, &ev, err)) < 0)
		goto out;

	rc = complete_device(s, &j, &d, &k, domain, now, owner, err);
out:
	return pp_store_atomic_end(s, &a, rc, err);
}

/* ---- escrow ---- */

static int check_secrets(const struct pp_device_secrets *x, struct pp_err *err)
{
	if (!word_ok(x->admin_user, sizeof(x->admin_user) - 1))
		return pp_err_set(err, PP_EINVAL,
				  "admin user must be 1..32 printable ASCII characters, no spaces");
	if (!word_ok(x->admin_password, sizeof(x->admin_password) - 1))
		return pp_err_set(
		    err, PP_EINVAL,
		    "admin password must be 1..64 printable ASCII characters, no spaces");
	return pp_store_check_mebx(x->mebx_password, err);
}

/* Opens both escrow blobs into out; -PP_ENOTFOUND when there are none, with *device
 * (may be NULL) telling whether the device exists. */
static int escrow_open(struct pp_store *s, const uint8_t uuid[16], const char *subject,
		       struct pp_device_secrets *out, bool *device, struct pp_err *err)
{
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small admin = {.len = 0};
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small mebx = {.len = 0};
	char user[33] = "";
	size_t n = 0;
	if (device)
		*device = false;
	int rc = s->ops->escrow_get(s, uuid, user, &admin, &mebx, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ENOTFOUND, "no device %s", subject);
	if (rc < 0)
		return rc;
	if (device)
		*device = true;
	if (admin.len == 0 && mebx.len == 0)
		return pp_err_set(err, PP_ENOTFOUND, "device %s: nothing escrowed", subject);
	if (admin.len == 0 || mebx.len == 0 || !user[0])
		return pp_err_set(err, PP_ESTORE, "device %s: the escrow is incomplete", subject);
	memset(out, 0, sizeof(*out));
	memcpy(out->admin_user, user, sizeof(out->admin_user));
	rc = pp_unseal(s->sealer, PP_SEAL_ADMIN, subject, admin.b, admin.len, out->admin_password,
		       sizeof(out->admin_password) - 1, &n, err);
	if (rc < 0)
		goto out;
	out->admin_password[n] = '\0';
	rc = pp_unseal(s->sealer, PP_SEAL_DEVICE_MEBX, subject, mebx.b, mebx.len,
		       out->mebx_password, sizeof(out->mebx_password) - 1, &n, err);
	if (rc < 0)
		goto out;
	out->mebx_password[n] = '\0';
	if (strlen(out->admin_password) == 0 || strlen(out->mebx_password) != n)
		rc = pp_err_set(err, PP_ESTORE, "device %s: an escrowed secret is malformed",
				subject);
out:
	if (rc < 0)
		pp_wipe(out, sizeof(*out));
	return rc;
}

int pp_store_device_escrow(struct pp_store *s, const uint8_t uuid[16],
			   struct pp_device_secrets *inout, struct pp_err *err)
{
	struct pp_store_atomic a;
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small admin = {.len = 0};
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small mebx = {.len = 0};
	pp_cleanup(pp_wipe_device_secrets) struct pp_device_secrets stored = {.admin_user = ""};
	char subject[37];
	int rc;
	if (!inout)
		return pp_err_set(err, PP_EINVAL, "no secrets to escrow");
	if ((rc = check_secrets(inout, err)) < 0)
		return rc;
	uuid_text(uuid, subject);
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	struct pp_device_row d;
	if ((rc = s->ops->device_get(s, uuid, &d, err)) < 0) {
		if (rc == -PP_ENOTFOUND)
			rc = pp_err_set(err, PP_ENOTFOUND, "no device %s", subject);
		goto out;
	}
	if (d.info.state == PP_DEV_QUARANTINED) {
		rc = pp_err_set(err, PP_EPERM, "device %s is quarantined: no escrow", subject);
		goto out;
	}
	bool device = false;
	rc = escrow_open(s, uuid, subject, &stored, &device, err);
	if (rc == 0) {
		/* Already escrowed: what the store has is what the device may hold. */
		memcpy(inout, &stored, sizeof(*inout));
		goto out;
	}
	if (rc != -PP_ENOTFOUND || !device)
		goto out;
	if ((rc = pp_seal(s->sealer, PP_SEAL_ADMIN, subject, inout->admin_password,
			  strlen(inout->admin_password), admin.b, sizeof(admin.b), &admin.len,
			  err)) < 0 ||
	    (rc = pp_seal(s->sealer, PP_SEAL_DEVICE_MEBX, subject, inout->mebx_password,
			  strlen(inout->mebx_password), mebx.b, sizeof(mebx.b), &mebx.len, err)) <
		0)
		goto out;
	rc = s->ops->escrow_put(s, uuid, inout->admin_user, &admin, &mebx, wall_now(), err);
	if (rc == -PP_EEXIST)
		rc = pp_err_set(err, PP_EBUSY, "device %s: escrowed meanwhile; try again", subject);
out:
	return pp_store_atomic_end(s, &a, rc, err);
}

int pp_store_device_secrets(struct pp_store *s, const uint8_t uuid[16],
			    struct pp_device_secrets *out, struct pp_err *err)
{
	char subject[37];
	if (!out)
		return pp_err_set(err, PP_EINVAL, "no room for the secrets");
	uuid_text(uuid, subject);
	return escrow_open(s, uuid, subject, out, NULL, err);
}

/* ---- rotation ---- */

static int next_key_existing(struct pp_store *s, const struct pp_job *j, struct pp_pid *pid_out,
			     struct pp_pps *pps_out, struct pp_err *err)
{
	int rc = pp_store_key_secrets(s, j->next_pid, pps_out, NULL, 0, err);
	if (rc < 0)
		return rc;
	memcpy(pid_out->s, j->next_pid, sizeof(pid_out->s));
	return 0;
}

/* The new key's row: its PPS and the device's escrowed MEBx password sealed under its
 * PID, in the hello key's batch. */
static int next_key_row(struct pp_store *s, const char *pid, const char *pps, const char *mebx,
			int64_t batch_id, int64_t now, struct pp_sealed_small *pps_blob,
			struct pp_sealed_small *mebx_blob, struct pp_key_row *row,
			struct pp_err *err)
{
	int rc = pp_seal(s->sealer, PP_SEAL_PPS, pid, pps, PP_PPS_LEN, pps_blob->b,
			 sizeof(pps_blob->b), &pps_blob->len, err);
	if (rc < 0)
		return rc;
	rc = pp_seal(s->sealer, PP_SEAL_MEBX, pid, mebx, strlen(mebx), mebx_blob->b,
		     sizeof(mebx_blob->b), &mebx_blob->len, err);
	if (rc < 0)
		return rc;
	*row = (struct pp_key_row){
	    .pid = pid,
	    .batch_id = batch_id,
	    .pps = pps_blob->b,
	    .pps_len = pps_blob->len,
	    .mebx = mebx_blob->b,
	    .mebx_len = mebx_blob->len,
	    .state = PP_KEY_IN_USE,
	    .max_devices = 1,
	    .now = now,
	};
	return 0;
}

/* Stores the candidate as the job's (locked) next key, bound to its device. */
static int next_key_store(struct pp_store *s, struct pp_job *j, int64_t batch_id,
			  const char *cand_pid, const char *cand_pps, struct pp_err *err)
{
	pp_cleanup(pp_wipe_device_secrets) struct pp_device_secrets esc = {.admin_user = ""};
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small pps_blob = {.len = 0};
	pp_cleanup(pp_wipe_sealed) struct pp_sealed_small mebx_blob = {.len = 0};
	struct pp_key_row row;
	int64_t now = wall_now();
	char uuid[37];
	uuid_text(j->uuid, uuid);
	int rc = pp_store_device_secrets(s, j->uuid, &esc, err);
	if (rc == -PP_ENOTFOUND)
		return pp_err_set(err, PP_ESTATE,
				  "job %lld: device %s has no escrowed MEBx password yet",
				  (long long)j->id, uuid);
	if (rc < 0 || (rc = next_key_row(s, cand_pid, cand_pps, esc.mebx_password, batch_id, now,
					 &pps_blob, &mebx_blob, &row, err)) < 0)
		return rc;
	rc = s->ops->key_insert(s, &row, err);
	if (rc == -PP_EEXIST)
		return pp_err_set(err, PP_EEXIST, "PID %s is already in the store; draw another",
				  cand_pid);
	if (rc < 0 || (rc = s->ops->key_bind(s, cand_pid, uuid, now, err)) < 0)
		return rc;
	memcpy(j->next_pid, cand_pid, sizeof(j->next_pid));
	j->updated = now;
	struct pp_job_event ev = {.job_id = j->id, .time = now, .event = "next-key"};
	snprintf(ev.detail, sizeof(ev.detail), "PID %s", cand_pid);
	return s->ops->job_put(s, j, &ev, err);
}

int pp_store_job_next_key(struct pp_store *s, int64_t job_id, const char *owner,
			  const char *cand_pid, const char *cand_pps, struct pp_pid *pid_out,
			  struct pp_pps *pps_out, struct pp_err *err)
{
	struct pp_store_atomic a;
	struct pp_job j;
	struct pp_key_info hk;
	int64_t batch_id = 0;
	int rc = check_owner(owner, err);
	if (rc < 0)
		return rc;
	if (!pid_out || !pps_out)
		return pp_err_set(err, PP_EINVAL, "no room for the next key");
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	/* Lock order: the hello key (new keys go in its batch), then the job. */
	if ((rc = job_get(s, job_id, false, &j, err)) < 0 ||
	    (rc = job_key_lock(s, &j, &hk, &batch_id, err)) < 0 ||
	    (rc = job_get(s, job_id, true, &j, err)) < 0)
		goto out;
	if (!owner_holds(&j, owner)) {
		rc = lease_lost(&j, owner, err);
		goto out;
	}
	if (j.next_pid[0]) {
		rc = next_key_existing(s, &j, pid_out, pps_out, err);
		goto out;
	}
	if ((rc = pp_store_check_pid(cand_pid, err)) < 0 ||
	    (rc = pp_store_check_pps(cand_pps, err)) < 0 ||
	    (rc = next_key_store(s, &j, batch_id, cand_pid, cand_pps, err)) < 0)
		goto out;
	memcpy(pid_out->s, cand_pid, sizeof(pid_out->s));
	memcpy(pps_out->s, cand_pps, PP_PPS_LEN);
	pps_out->s[PP_PPS_LEN] = '\0';
out:
	rc = pp_store_atomic_end(s, &a, rc, err);
	if (rc < 0)
		pp_wipe(pps_out, sizeof(*pps_out));
	return rc;
}

/* ---- lockout ---- */

int pp_store_key_failure(struct pp_store *s, const char *pid, const uint8_t addr[4], int64_t now,
			 uint32_t limit, uint32_t lock_s, struct pp_err *err)
{
	struct pp_store_atomic a;
	int rc = pp_store_check_pid(pid, err);
	if (rc < 0)
		return rc;
	if (!addr)
		return pp_err_set(err, PP_EINVAL, "key failure: no address");
	if (limit == 0)
		return pp_err_set(err, PP_EINVAL, "failure limit must be at least 1");
	if (now < 0 || now > INT64_MAX - (int64_t)lock_s)
		return pp_err_set(err, PP_EINVAL, "time out of range");
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	rc = s->ops->key_failure(s, pid, addr, now, limit, lock_s, err);
	if (rc == -PP_ENOTFOUND)
		rc = pp_err_set(err, PP_ENOTFOUND, "no key with PID %s", pid);
	return pp_store_atomic_end(s, &a, rc, err);
}

int pp_store_key_success(struct pp_store *s, const char *pid, struct pp_err *err)
{
	struct pp_store_atomic a;
	int rc = pp_store_check_pid(pid, err);
	if (rc < 0)
		return rc;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	rc = s->ops->key_success(s, pid, wall_now(), err);
	if (rc == -PP_ENOTFOUND)
		rc = pp_err_set(err, PP_ENOTFOUND, "no key with PID %s", pid);
	return pp_store_atomic_end(s, &a, rc, err);
}

/* TLS version and cipher names: OpenSSL's, so letters, digits, '.', '_' and '-'. */
static int check_tls_name(const char *v, size_t max, const char *what, struct pp_err *err)
{
	size_t n = v ? strnlen(v, max + 1) : 0;
	if (n == 0 || n > max)
		return pp_err_set(err, PP_EINVAL, "TLS %s: must be 1..%zu characters", what, max);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return pp_err_set(err, PP_EINVAL,
					  "TLS %s: character %zu is not a letter, digit, '.', "
					  "'_' or '-'",
					  what, i + 1);
	}
	return 0;
}

int pp_store_device_set_tls(struct pp_store *s, const uint8_t uuid[16], const char *version,
			    const char *cipher, struct pp_err *err)
{
	struct pp_store_atomic a;
	int rc;
	if (!uuid)
		return pp_err_set(err, PP_EINVAL, "device TLS: no UUID");
	if ((rc = check_tls_name(version, PP_STORE_TLS_VERSION_MAX, "version", err)) < 0 ||
	    (rc = check_tls_name(cipher, PP_STORE_TLS_CIPHER_MAX, "cipher", err)) < 0)
		return rc;
	if ((rc = pp_store_atomic_begin(s, &a, err)) < 0)
		return rc;
	rc = s->ops->device_set_tls(s, uuid, version, cipher, wall_now(), err);
	if (rc == -PP_ENOTFOUND) {
		char t[37];
		uuid_text(uuid, t);
		rc = pp_err_set(err, PP_ENOTFOUND, "no device %s", t);
	}
	return pp_store_atomic_end(s, &a, rc, err);
}

/* ---- reading ---- */

int pp_store_device_get(struct pp_store *s, const uint8_t uuid[16], struct pp_device_info *out,
			struct pp_err *err)
{
	struct pp_device_row d;
	int rc = s->ops->device_get(s, uuid, &d, err);
	if (rc == -PP_ENOTFOUND) {
		char t[37];
		uuid_text(uuid, t);
		return pp_err_set(err, PP_ENOTFOUND, "no device %s", t);
	}
	if (rc < 0)
		return rc;
	pp_store_device_info_of(&d, out);
	return 0;
}

struct device_list_ctx {
	int (*cb)(void *, const struct pp_device_info *);
	void *ctx;
};

static int device_list_one(void *vctx, const struct pp_device_row *d)
{
	struct device_list_ctx *c = vctx;
	struct pp_device_info info;
	pp_store_device_info_of(d, &info);
	return c->cb(c->ctx, &info);
}

int pp_store_device_list(struct pp_store *s, const struct pp_device_filter *f,
			 int (*cb)(void *ctx, const struct pp_device_info *), void *ctx,
			 struct pp_err *err)
{
	int state = f ? f->state : -1;
	uint64_t limit = f ? f->limit : 0;
	if (state < -1 || state >= PP_DEV_STATE_MAX)
		return pp_err_set(err, PP_EINVAL, "unknown device state %d", state);
	struct device_list_ctx c = {.cb = cb, .ctx = ctx};
	return s->ops->device_list(s, state, limit, device_list_one, &c, err);
}

int pp_store_job_list(struct pp_store *s, const struct pp_job_filter *f,
		      int (*cb)(void *ctx, const struct pp_job *), void *ctx, struct pp_err *err)
{
	int state = f ? f->state : -1;
	uint64_t limit = f ? f->limit : 0;
	if (state < -1 || state >= PP_JOB_STATE_MAX)
		return pp_err_set(err, PP_EINVAL, "unknown job state %d", state);
	return s->ops->job_list(s, state, limit, cb, ctx, err);
}

int pp_store_job_get(struct pp_store *s, int64_t id, struct pp_job *out, struct pp_err *err)
{
	return job_get(s, id, false, out, err);
}

struct count_ctx {
	int (*index)(const char *name);
	uint64_t *counts;
	int n;
};

static int count_one(void *vctx, const char *state, int64_t n)
{
	struct count_ctx *c = vctx;
	int i = state ? c->index(state) : -1;
	/* States this program does not know (a newer schema's) are not counted; a count
	 * below one is none. */
	if (i >= 0 && i < c->n && n > 0)
		c->counts[i] = (uint64_t)n;
	return 0;
}

static int key_state_index(const char *name)
{
	enum pp_key_state st;
	return pp_key_state_parse(name, &st, NULL) < 0 ? -1 : (int)st;
}

int pp_store_counts(struct pp_store *s, struct pp_store_counts *out, struct pp_err *err)
{
	const struct {
		enum pp_count_table table;
		struct count_ctx c;
	} by[] = {
	    {PP_COUNT_KEYS, {key_state_index, out->keys_by_state, PP_KEY_STATE_MAX}},
	    {PP_COUNT_DEVICES,
	     {pp_device_state_from_name, out->devices_by_state, PP_DEV_STATE_MAX}},
	    {PP_COUNT_JOBS, {pp_job_state_from_name, out->jobs_by_state, PP_JOB_STATE_MAX}},
	};
	int rc = 0;
	/* No write transaction around them: counts run on a read-only store too. */
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(by) / sizeof(by[0]) && rc == 0; i++) {
		struct count_ctx c = by[i].c;
		rc = s->ops->count_states(s, by[i].table, count_one, &c, err);
	}
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
