/* The provisioning engine: the setup sequence of docs/provisioning.md as a table, and a
 * pure step function over it.
 *
 *   pp_prov_step(engine, event) -> action
 *
 * No I/O happens here: no sockets, no event loop, no store calls, no clock. The caller
 * (the server's session code) carries out each action (send a WS-Management request,
 * run a store operation, finish, fail) and feeds back what came of it as the next
 * event. Everything the sequence knows lives in struct pp_prov, so a unit test can
 * drive it with recorded device answers, faults, timeouts and crash points.
 *
 * Rows (enum pp_prov_row): what to send and how to build it, what to read from the
 * answer, which job step to persist after it, when to skip it, and how it resumes
 * after a crash (lib/prov/table.c). pp_prov_dot() draws the table. */
#ifndef PSKPROV_PROV_PROV_H
#define PSKPROV_PROV_PROV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/err.h"
#include "keys/keys.h"
#include "store/store.h"
#include "wsman/amt.h"
#include "wsman/soap.h"

enum pp_prov_row {
	PV_ROW_NONE,
	PV_VERIFY,        /* after a crash past CommitChanges: the state on the HTTP port */
	PV_READ_SETTINGS, /* Get AMT_GeneralSettings: realm, the instance for the Put */
	PV_READ_SETUP,    /* Get AMT_SetupAndConfigurationService: ProvisioningState */
	PV_READ_UUID,     /* GetUuid: the UUID over the authenticated channel */
	PV_BIND,          /* store: the key belongs to the device that proved it */
	PV_ENUM_VERSION,  /* Enumerate CIM_SoftwareIdentity */
	PV_PULL_VERSION,  /* Pull until EndOfSequence: the "AMT" VersionString */
	PV_ESCROW,        /* store: admin account and new MEBx password, before they are sent */
	PV_ACL,           /* SetAdminAclEntryEx */
	PV_MEBX,          /* SetMEBxPassword */
	PV_NEXT_KEY,      /* store: the next PID/PPS, before it is sent */
	PV_PSK,           /* SetTLSPSK */
	PV_NAMES,         /* Put AMT_GeneralSettings: the whole instance, names changed */
	PV_TIME_GET,      /* GetLowAccuracyTimeSynch */
	PV_TIME_SET,      /* SetHighAccuracyTimeSynch */
	PV_COMMIT_RECORD, /* store: COMMIT_SENT, before CommitChanges */
	PV_COMMIT,        /* CommitChanges */
	PV_COMPLETE,      /* store: the device is provisioned */
	PV_END,
	PV_ROW_COUNT
};

enum pp_prov_transport {
	PV_TLS,   /* TLS-PSK on the device's TLS port (16993) */
	PV_PLAIN, /* plain HTTP on the device's HTTP port (16992), provisioned devices only */
};

/* What a failed connection or exchange was, as the session's transport saw it. */
enum pp_prov_transport_error {
	PV_TE_CONNECT,      /* no connection (refused, unreachable) */
	PV_TE_TIMEOUT,      /* the device did not answer in time */
	PV_TE_CLOSED,       /* the device closed a working connection */
	PV_TE_TLS_UNKNOWN,  /* TLS-PSK: a hint we hold no key for, or no hint */
	PV_TE_TLS_BAD_KEY,  /* TLS-PSK: the device does not hold the PPS (or we do not) */
	PV_TE_TLS_PROTOCOL, /* TLS: any other handshake failure */
	PV_TE_COUNT
};

enum pp_prov_event_kind {
	PV_EV_START,        /* begin (or resume) the job */
	PV_EV_RESPONSE,     /* an HTTP answer other than a Digest challenge */
	PV_EV_AUTH_REFUSED, /* the device refused our Digest credentials */
	PV_EV_STORE_DONE,   /* the store operation of the last action finished */
	PV_EV_TRANSPORT,    /* the connection failed */
};

struct pp_prov_event {
	enum pp_prov_event_kind kind;
	int64_t now; /* seconds since the epoch, for the clock and the retry delay */
	/* PV_EV_RESPONSE: the HTTP status and body; `scratch` is where the body is parsed
	 * (one per thread, large: it is not kept in the engine). */
	int http_status;
	const void *body;
	size_t body_len;
	struct pp_wsman_response *scratch;
	/* PV_EV_STORE_DONE */
	int store_rc;
	const struct pp_err *store_err;
	/* PV_EV_TRANSPORT; `detail` (may be NULL) says more, never a secret. */
	enum pp_prov_transport_error terr;
	const char *detail;
};

enum pp_prov_action_kind {
	PV_ACT_SEND,   /* send pp_prov_request() over `transport` (connect first if needed) */
	PV_ACT_RESEND, /* send the last request again: the credentials changed */
	PV_ACT_STORE,  /* run the store operation `op`, then feed PV_EV_STORE_DONE */
	PV_ACT_FINISH, /* the device is provisioned and recorded: end the session */
	PV_ACT_FAIL,   /* record the failure (retry at `retry_at`, or for good) and end */
};

enum pp_prov_store_op {
	PV_OP_NONE,
	PV_OP_BIND,     /* pp_store_job_bind(proven_uuid, host_name) -> reserved host_name */
	PV_OP_ESCROW,   /* pp_store_device_escrow(uuid, &p->sec) */
	PV_OP_NEXT_KEY, /* pp_store_job_next_key(candidate) -> p->next_pid/next_pps */
	PV_OP_STEP,     /* pp_store_job_step(step) */
	PV_OP_COMPLETE, /* pp_store_job_complete(host name, domain) */
};

struct pp_prov_action {
	enum pp_prov_action_kind kind;
	enum pp_prov_transport transport; /* SEND, RESEND */
	enum pp_prov_store_op op;         /* STORE */
	enum pp_job_step step;            /* STORE PV_OP_STEP */
	/* Fire and forget, before the action itself (still in store order): a failed
	 * handshake counted against the key (the lockout). */
	bool key_failure;
	/* FAIL */
	bool retryable;     /* false: the job fails for good */
	int64_t retry_at;   /* retryable: when to try again */
	bool connect_error; /* the failure was reaching the device (a metric) */
	bool wsman_fault;   /* the device answered with a SOAP fault (a metric) */
	bool recorded;      /* the store already recorded this failure (a clone at BIND) */
	char reason[200];   /* never a secret */
};

/* Policy, from the configuration. */
struct pp_prov_policy {
	bool rotate_psk;
	bool set_time;
	uint32_t max_attempts;
	const char *admin_user;
	size_t admin_password_length;
	size_t mebx_password_length;
	const char *domain;
	const char *host_name_template; /* {pid}, {uuid8} */
	/* Randomness, supplied by the caller (the server: its CSPRNG; tests: fixed). */
	void *rng;
	int (*gen_password)(void *rng, size_t len, char *out);
	int (*gen_key)(void *rng, struct pp_pid *pid, struct pp_pps *pps);
};

/* A WS-Management instance kept between a Get and the Put that writes it back: the
 * properties in order, packed "name\0value\0..." (secret-free: AMT_GeneralSettings). */
struct pp_prov_instance {
	char *data;
	size_t len;
};

struct pp_prov {
	const struct pp_prov_policy *policy;
	struct pp_job job;
	/* Secrets: the hello key's PPS and MEBx password; the escrowed account; the next
	 * key. Filled by the caller from the store before PV_EV_START (have_* say which). */
	struct pp_pps pps;
	char mebx_old[PP_MEBX_PW_MAX + 1];
	struct pp_device_secrets sec;
	bool have_sec;
	struct pp_pid next_pid;
	struct pp_pps next_pps;
	bool have_next;
	/* A candidate next key for PV_OP_NEXT_KEY (the store keeps it or says EEXIST). */
	struct pp_pid cand_pid;
	struct pp_pps cand_pps;

	enum pp_prov_row row;
	enum pp_prov_transport transport;
	bool use_new_mebx;
	bool swapped_password;
	uint32_t pulls;
	char realm[PP_AMT_REALM_LEN + 1];
	char fw_version[64];
	char host_name[64];      /* the candidate, then the name the store reserved */
	uint8_t proven_uuid[16]; /* read with GetUuid over the TLS-PSK channel */
	bool failure_recorded;   /* the store ended the job itself (a clone at BIND) */
	uint32_t ta0;
	char enum_context[PP_WSMAN_CONTEXT_MAX + 1];
	struct pp_prov_instance settings;

	struct pp_wsman_call call; /* the request in flight */
	struct pp_buf body;        /* its envelope (may hold a secret: wiped) */
};

/* Initialises an engine for `job`; the caller then fills the secrets and have_* flags. */
void pp_prov_init(struct pp_prov *p, const struct pp_prov_policy *policy, const struct pp_job *job);
/* Wipes every secret and frees what the engine holds; accepts NULL. */
void pp_prov_free(struct pp_prov *p);

/* The heart: what to do after `ev`. Always fills `act`. */
void pp_prov_step(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *act);

/* The request to send for PV_ACT_SEND / PV_ACT_RESEND, and the Digest credentials
 * for the current transport and state. */
const struct pp_buf *pp_prov_request(const struct pp_prov *p);
const char *pp_prov_auth_user(const struct pp_prov *p);
const char *pp_prov_auth_password(const struct pp_prov *p);
/* What the current row does, for messages ("read AMT_GeneralSettings"). */
const char *pp_prov_what(const struct pp_prov *p);
const char *pp_prov_row_name(enum pp_prov_row row);

/* The table as a Graphviz digraph (rows, their order, the jumps they may take, the
 * store steps they persist), into out. */
int pp_prov_dot(struct pp_buf *out, struct pp_err *err) PP_WUR;

#endif
