#include "keys/csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/secret.h"

int pp_batch_name_check(const char *name, struct pp_err *err)
{
	size_t n = strlen(name);
	if (n == 0 || n > PP_BATCH_NAME_MAX)
		return pp_err_set(err, PP_EINVAL, "batch name must be 1 to %d characters",
				  PP_BATCH_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return pp_err_set(err, PP_EINVAL,
					  "batch name: character %zu is not A-Z, a-z, 0-9, '.', "
					  "'_' or '-'",
					  i + 1);
	}
	return 0;
}

/* Splits one record into up to max fields (RFC 4180). *pos advances past the record's
 * line end. Fields are copied into bufs (each cap bytes) and NUL-terminated. */
static int csv_record(const char *text, size_t len, size_t *pos, char bufs[][PP_CSV_MAX_LINE],
		      size_t max, size_t *nfields, unsigned line, struct pp_err *err)
{
	size_t p = *pos, nf = 0, fl = 0, start = p;
	bool quoted = false, was_quoted = false, after_quote = false;
	for (;;) {
		if (p - start > PP_CSV_MAX_LINE)
			return pp_err_set(err, PP_ETOOBIG, "line %u: longer than %d bytes", line,
					  PP_CSV_MAX_LINE);
		bool end = p >= len;
		char c = end ? '\n' : text[p];
		if (quoted) {
			if (end)
				return pp_err_set(err, PP_EINVAL, "line %u: unterminated quote",
						  line);
			if (c == '"') {
				if (p + 1 < len && text[p + 1] == '"') {
					p++;
				} else {
					quoted = false;
					after_quote = true;
					p++;
					continue;
				}
			}
		} else if (c == '"') {
			if (fl != 0 || was_quoted)
				return pp_err_set(err, PP_EINVAL,
						  "line %u: field %zu: quote inside an unquoted "
						  "field",
						  line, nf + 1);
			quoted = was_quoted = true;
			p++;
			continue;
		} else if (c == ',' || c == '\n' || c == '\r') {
			if (nf >= max)
				return pp_err_set(err, PP_EINVAL, "line %u: more than %zu fields",
						  line, max);
			bufs[nf][fl] = '\0';
			nf++;
			fl = 0;
			was_quoted = after_quote = false;
			if (c == ',') {
				p++;
				continue;
			}
			if (c == '\r') {
				if (p + 1 < len && text[p + 1] == '\n')
					p++;
				else if (!end)
					return pp_err_set(err, PP_EINVAL,
							  "line %u: bare carriage return", line);
			}
			*pos = end ? len : p + 1;
			*nfields = nf;
			return 0;
		} else if (after_quote) {
			return pp_err_set(err, PP_EINVAL,
					  "line %u: field %zu: text after a closing quote", line,
					  nf + 1);
		}
		if (nf >= max)
			return pp_err_set(err, PP_EINVAL, "line %u: more than %zu fields", line,
					  max);
		if (c == '\0')
			return pp_err_set(err, PP_EINVAL, "line %u: NUL byte", line);
		if (fl + 1 >= PP_CSV_MAX_LINE)
			return pp_err_set(err, PP_ETOOBIG, "line %u: field too long", line);
		bufs[nf][fl++] = c;
		p++;
	}
}

/* A cell the export neutralised: a quote, then a formula lead or another quote. */
static bool neutralised(const char *s)
{
	return s[0] == '\'' && (pp_formula_lead(s[1]) || s[1] == '\'');
}

/* Takes back the quote csv_field added (see csv.h): "'=x" reads as "=x". */
static void unneutralise(char *s)
{
	if (neutralised(s))
		memmove(s, s + 1, strlen(s)); /* with the NUL */
}

int pp_csv_parse(const char *text, size_t len, pp_csv_row_fn cb, void *ctx, struct pp_err *err)
{
	char(*f)[PP_CSV_MAX_LINE] = calloc(4, PP_CSV_MAX_LINE);
	if (!f)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	struct pp_key_record row;
	memset(&row, 0, sizeof(row));
	size_t pos = 0, nf = 0;
	unsigned line = 1;
	int rc = 0;
	/* A UTF-8 byte order mark is tolerated before the header. */
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		pos = 3;
	if (pos >= len) {
		rc = pp_err_set(err, PP_EINVAL, "empty file: expected the header '%s'",
				PP_CSV_HEADER);
		goto out;
	}
	rc = csv_record(text, len, &pos, f, 4, &nf, line, err);
	if (rc < 0)
		goto out;
	if (nf != 4 || strcmp(f[0], "pid") || strcmp(f[1], "pps") ||
	    strcmp(f[2], "mebx_password") || strcmp(f[3], "batch")) {
		rc = pp_err_set(err, PP_EINVAL, "line 1: the header must be '%s'", PP_CSV_HEADER);
		goto out;
	}
	while (pos < len) {
		line++;
		rc = csv_record(text, len, &pos, f, 4, &nf, line, err);
		if (rc < 0)
			goto out;
		if (nf == 1 && f[0][0] == '\0')
			continue; /* blank line */
		if (nf != 4) {
			rc =
			    pp_err_set(err, PP_EINVAL, "line %u: %zu fields, expected 4", line, nf);
			goto out;
		}
		for (size_t i = 0; i < nf; i++)
			unneutralise(f[i]);
		rc = pp_pid_parse(f[0], &row.pid, err);
		if (rc == 0)
			rc = pp_pps_parse(f[1], &row.pps, err);
		if (rc == 0)
			rc = pp_mebx_password_check(f[2], err);
		if (rc == 0)
			rc = pp_batch_name_check(f[3], err);
		if (rc < 0) {
			rc = pp_err_prefix(err, "line %u", line);
			goto out;
		}
		size_t ml = strlen(f[2]);
		memcpy(row.mebx, f[2], ml + 1);
		memcpy(row.batch, f[3], strlen(f[3]) + 1);
		pp_wipe(f, 4 * PP_CSV_MAX_LINE);
		rc = cb(ctx, &row, line);
		pp_wipe(&row, sizeof(row));
		if (rc != 0)
			goto out;
	}
out:
	pp_wipe(&row, sizeof(row));
	pp_wipe(f, 4 * PP_CSV_MAX_LINE);
	free(f);
	return rc;
}

static int csv_field(struct pp_buf *out, const char *s, bool last)
{
	/* A formula lead is neutralised with a quote inside a quoted cell; a cell that
	 * would read back as neutralised gets one more quote, so the import is exact. */
	bool guard = pp_formula_lead(s[0]) || neutralised(s);
	bool quote = guard || strpbrk(s, ",\"\r\n") != NULL;
	int rc = 0;
	if (quote) {
		rc = pp_buf_append(out, guard ? "\"'" : "\"", guard ? 2 : 1);
		for (const char *p = s; rc == 0 && *p; p++)
			rc = *p == '"' ? pp_buf_append(out, "\"\"", 2) : pp_buf_append(out, p, 1);
		if (rc == 0)
			rc = pp_buf_append(out, "\"", 1);
	} else {
		rc = pp_buf_append_str(out, s);
	}
	if (rc == 0)
		rc = pp_buf_append(out, last ? "\n" : ",", 1);
	return rc;
}

int pp_csv_write_header(struct pp_buf *out)
{
	return pp_buf_append_str(out, PP_CSV_HEADER "\n");
}

int pp_csv_write_row(struct pp_buf *out, const struct pp_key_record *row)
{
	char pid[PP_PID_TEXT], pps[PP_PPS_TEXT];
	pp_pid_format(&row->pid, pid);
	pp_pps_format(&row->pps, pps);
	int rc = csv_field(out, pid, false);
	if (rc == 0)
		rc = csv_field(out, pps, false);
	if (rc == 0)
		rc = csv_field(out, row->mebx, false);
	if (rc == 0)
		rc = csv_field(out, row->batch, true);
	pp_wipe(pps, sizeof(pps));
	return rc;
}
