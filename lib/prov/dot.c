/* The row table drawn as a Graphviz digraph: `make engine-graph` writes
 * docs/provisioning-engine.dot from it, and a unit test checks the checked-in file is
 * what the table draws today. */
#include "prov/rows.h"

#include <stdarg.h>
#include <stdio.h>

static int emit(struct pp_buf *out, struct pp_err *err, const char *fmt, ...) PP_PRINTF(3, 4);
static int emit(struct pp_buf *out, struct pp_err *err, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return pp_err_set(err, PP_ETOOBIG, "engine graph: a line is too long");
	if (pp_buf_append(out, line, (size_t)n) < 0)
		return pp_err_set(err, PP_ETOOBIG, "engine graph: over the buffer limit");
	return 0;
}

static int node(struct pp_buf *out, enum pp_prov_row r, struct pp_err *err)
{
	const struct pp_prov_rowdef *d = &pp_prov_rows[r];
	char extra[160] = "";
	if (d->reached != PP_STEP_NONE)
		snprintf(extra, sizeof(extra), "\\nreaches step %s", pp_job_step_name(d->reached));
	return emit(out, err, "  %s [shape=%s label=\"%s\\n%s%s%s\\nresume: %s\"];\n", d->name,
		    d->store ? "cylinder" : "box", d->name, d->what,
		    d->transport == PV_PLAIN ? " (HTTP port)" : "", extra, d->resume);
}

static int edges(struct pp_buf *out, enum pp_prov_row r, struct pp_err *err)
{
	const struct pp_prov_rowdef *d = &pp_prov_rows[r];
	int rc = 0;
	if (r + 1 < PV_END && r != PV_VERIFY && r != PV_COMPLETE)
		rc = emit(out, err, "  %s -> %s;\n", d->name, pp_prov_row_name(r + 1));
	if (rc == 0 && d->skip)
		rc = emit(out, err, "  %s -> %s [style=dotted label=\"skip: %s\"];\n", d->name,
			  pp_prov_row_name(r + 1), d->skip_when);
	if (rc == 0 && d->again)
		rc = emit(out, err, "  %s -> %s [label=\"again\"];\n", d->name, d->name);
	for (int i = 0; rc == 0 && i < PV_JUMPS_MAX; i++)
		if (d->jumps[i])
			rc = emit(out, err, "  %s -> %s [style=dashed];\n", d->name,
				  pp_prov_row_name(d->jumps[i]));
	if (rc == 0 && d->unreachable)
		rc = emit(out, err, "  %s -> %s [style=dashed label=\"unreachable or refused\"];\n",
			  d->name, pp_prov_row_name(d->unreachable));
	return rc;
}

int pp_prov_dot(struct pp_buf *out, struct pp_err *err)
{
	int rc = emit(out, err,
		      "// Generated from lib/prov/rows.c by `make engine-graph`; do not edit.\n"
		      "digraph provisioning {\n  rankdir=TB;\n  node [fontname=\"Helvetica\" "
		      "fontsize=10];\n  START [shape=circle];\n  END [shape=doublecircle];\n"
		      "  START -> VERIFY [label=\"commit recorded\"];\n"
		      "  START -> READ_SETTINGS;\n  FAIL [shape=octagon];\n");
	for (int r = PV_VERIFY; rc == 0 && r < PV_END; r++)
		rc = node(out, (enum pp_prov_row)r, err);
	for (int r = PV_VERIFY; rc == 0 && r < PV_END; r++)
		rc = edges(out, (enum pp_prov_row)r, err);
	if (rc == 0)
		rc = emit(out, err,
			  "  // Any row: a fault, a refusal or a lost connection -> FAIL "
			  "(retried later when the device or the store may recover).\n}\n");
	return rc;
}
