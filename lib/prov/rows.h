/* Internal to lib/prov: the row table and the helpers the rows share. */
#ifndef PSKPROV_PROV_ROWS_H
#define PSKPROV_PROV_ROWS_H

#include "prov/prov.h"

/* wsa:To of every request, as Intel's tools send it. */
#define PV_TO "/wsman"

/* What a reader returns besides a row number or a negative error code. */
enum { ROW_NEXT = -1000, ROW_AGAIN = -1001 };

#define PV_JUMPS_MAX 2

struct pp_prov_rowdef {
	const char *name; /* "READ_SETTINGS" */
	const char *what; /* "read AMT_GeneralSettings": for messages */
	bool store;       /* a store operation, not a WS-Management exchange */
	enum pp_prov_transport transport;
	/* Builds the request into p->body (WS-Management) or names the operation in a->op
	 * (store). 0 or a negative code with err set. */
	int (*build)(struct pp_prov *p, const struct pp_prov_event *ev, struct pp_prov_action *a,
		     struct pp_err *err);
	/* Reads a good answer: ROW_NEXT, ROW_AGAIN (when `again`), a declared jump, or a
	 * negative code with err set (the job fails for good). */
	int (*read)(struct pp_prov *p, const struct pp_wsman_response *r, struct pp_err *err);
	/* Reads a store result: ROW_NEXT, ROW_AGAIN, a declared jump, or rc < 0 (the job
	 * is retried: the store may come back). */
	int (*stored)(struct pp_prov *p, int rc, struct pp_err *err);
	bool (*skip)(const struct pp_prov *p); /* NULL: never skipped */
	bool again;                            /* may repeat itself */
	enum pp_prov_row jumps[PV_JUMPS_MAX];  /* other rows it may go to (0: none) */
	enum pp_prov_row unreachable;          /* where to go when the device cannot be reached */
	/* The job step reached once the device confirmed the row. Kept in memory only (the
	 * row is simply repeated after a crash); what must survive one is written by the
	 * store rows themselves: the secrets before they are sent, COMMIT_SENT, DONE. */
	enum pp_job_step reached;
	const char *skip_when; /* for the picture */
	const char *resume;    /* how the row behaves in a resumed job */
};

extern const struct pp_prov_rowdef pp_prov_rows[PV_ROW_COUNT];

/* Keeps a copy of an instance (its properties in order). */
int pp_prov_instance_keep(struct pp_prov_instance *inst, const struct pp_wsman_props *props,
			  struct pp_err *err) PP_WUR;
/* The kept instance with two properties set to new values (appended when absent). */
int pp_prov_instance_with(const struct pp_prov_instance *inst, const char *n1, const char *v1,
			  const char *n2, const char *v2, struct pp_wsman_props *out,
			  struct pp_err *err) PP_WUR;
void pp_prov_instance_free(struct pp_prov_instance *inst);
/* p->host_name from the policy's template. */
void pp_prov_host_name(struct pp_prov *p);

#endif
