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

/* The scanner of one record (RFC 4180). */
struct csv_scan {
	const char *text;
	size_t len, p;
	size_t nf, fl; /* fields done; bytes of the current one */
	bool quoted, was_quoted, after_quote;
	unsigned line;
};

enum { CSV_APPEND, CSV_NEXT, CSV_DONE };

/* Inside quotes: a doubled quote is one quote (CSV_APPEND), a single one closes. */
static int csv_quoted(struct csv_scan *st, bool end, char c, struct pp_err *err)
{
	if (end)
		return pp_err_set(err, PP_EINVAL, "line %u: unterminated quote", st->line);
	if (c != '"')
		return CSV_APPEND;
	if (st->p + 1 < st->len && st->text[st->p + 1] == '"') {
		st->p++;
		return CSV_APPEND;
	}
	st->quoted = false;
	st->after_quote = true;
	st->p++;
	return CSV_NEXT;
}

/* A comma or a line end closes the field: CSV_NEXT after a comma, CSV_DONE at the end
 * of the record (st->p past its line end). */
static int csv_field_end(struct csv_scan *st, char bufs[][PP_CSV_MAX_LINE], size_t max, bool end,
			 char c, struct pp_err *err)
{
	if (st->nf >= max)
		return pp_err_set(err, PP_EINVAL, "line %u: more than %zu fields", st->line, max);
	bufs[st->nf][st->fl] = '\0';
	st->nf++;
	st->fl = 0;
	st->was_quoted = st->after_quote = false;
	if (c == ',') {
		st->p++;
		return CSV_NEXT;
	}
	if (c == '\r') {
		if (st->p + 1 < st->len && st->text[st->p + 1] == '\n')
			st->p++;
		else if (!end)
			return pp_err_set(err, PP_EINVAL, "line %u: bare carriage return",
					  st->line);
	}
	st->p = end ? st->len : st->p + 1;
	return CSV_DONE;
}

/* What the character at st->p does outside quotes. */
static int csv_plain(struct csv_scan *st, char bufs[][PP_CSV_MAX_LINE], size_t max, bool end,
		     char c, struct pp_err *err)
{
	if (c == '"') {
		if (st->fl != 0 || st->was_quoted)
			return pp_err_set(err, PP_EINVAL,
					  "line %u: field %zu: quote inside an unquoted field",
					  st->line, st->nf + 1);
		st->quoted = st->was_quoted = true;
		st->p++;
		return CSV_NEXT;
	}
	if (c == ',' || c == '\n' || c == '\r')
		return csv_field_end(st, bufs, max, end, c, err);
	if (st->after_quote)
		return pp_err_set(err, PP_EINVAL, "line %u: field %zu: text after a closing quote",
				  st->line, st->nf + 1);
	return CSV_APPEND;
}

static int csv_append(struct csv_scan *st, char bufs[][PP_CSV_MAX_LINE], size_t max, char c,
		      struct pp_err *err)
{
	if (st->nf >= max)
		return pp_err_set(err, PP_EINVAL, "line %u: more than %zu fields", st->line, max);
	if (c == '\0')
		return pp_err_set(err, PP_EINVAL, "line %u: NUL byte", st->line);
	if (st->fl + 1 >= PP_CSV_MAX_LINE)
		return pp_err_set(err, PP_ETOOBIG, "line %u: field too long", st->line);
	bufs[st->nf][st->fl++] = c;
	st->p++;
	return 0;
}

/* Splits one record into up to max fields (RFC 4180). *pos advances past the record's
 * line end. Fields are copied into bufs (each cap bytes) and NUL-terminated. */
static int csv_record(const char *text, size_t len, size_t *pos, char bufs[][PP_CSV_MAX_LINE],
		      size_t max, size_t *nfields, unsigned line, struct pp_err *err)
{
	struct csv_scan st = {.text = text, .len = len, .p = *pos, .line = line};
	for (;;) {
		if (st.p - *pos > PP_CSV_MAX_LINE)
			return pp_err_set(err, PP_ETOOBIG, "line %u: longer than %d bytes", line,
					  PP_CSV_MAX_LINE);
		bool end = st.p >= len;
		char c = end ? '\n' : text[st.p];
		int rc = st.quoted ? csv_quoted(&st, end, c, err)
				   : csv_plain(&st, bufs, max, end, c, err);
		if (rc == CSV_APPEND)
			rc = csv_append(&st, bufs, max, c, err);
		if (rc < 0)
			return rc;
		if (rc == CSV_DONE) {
			*pos = st.p;
			*nfields = st.nf;
			return 0;
		}
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

/* The header record; *pos gets past it. */
static int csv_header(const char *text, size_t len, size_t *pos, char f[][PP_CSV_MAX_LINE],
		      struct pp_err *err)
{
	size_t nf = 0;
	/* A UTF-8 byte order mark is tolerated before the header. */
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		*pos = 3;
	if (*pos >= len)
		return pp_err_set(err, PP_EINVAL, "empty file: expected the header '%s'",
				  PP_CSV_HEADER);
	int rc = csv_record(text, len, pos, f, 4, &nf, 1, err);
	if (rc < 0)
		return rc;
	if (nf != 4 || strcmp(f[0], "pid") || strcmp(f[1], "pps") ||
	    strcmp(f[2], "mebx_password") || strcmp(f[3], "batch"))
		return pp_err_set(err, PP_EINVAL, "line 1: the header must be '%s'", PP_CSV_HEADER);
	return 0;
}

/* The four fields of a data record, checked, into row. */
static int csv_row(char f[][PP_CSV_MAX_LINE], struct pp_key_record *row, unsigned line,
		   struct pp_err *err)
{
	for (size_t i = 0; i < 4; i++)
		unneutralise(f[i]);
	int rc = pp_pid_parse(f[0], &row->pid, err);
	if (rc == 0)
		rc = pp_pps_parse(f[1], &row->pps, err);
	if (rc == 0)
		rc = pp_mebx_password_check(f[2], err);
	if (rc == 0)
		rc = pp_batch_name_check(f[3], err);
	if (rc < 0)
		return pp_err_prefix(err, "line %u", line);
	memcpy(row->mebx, f[2], strlen(f[2]) + 1);
	memcpy(row->batch, f[3], strlen(f[3]) + 1);
	return 0;
}

static void csv_fields_freep(char (**f)[PP_CSV_MAX_LINE])
{
	if (*f)
		pp_wipe(*f, 4 * PP_CSV_MAX_LINE);
	free(*f);
}

int pp_csv_parse(const char *text, size_t len, pp_csv_row_fn cb, void *ctx, struct pp_err *err)
{
	pp_cleanup(csv_fields_freep) char(*f)[PP_CSV_MAX_LINE] = calloc(4, PP_CSV_MAX_LINE);
	if (!f)
		return pp_err_set(err, PP_ENOMEM, "out of memory");
	pp_cleanup(pp_key_record_wipe) struct pp_key_record row;
	memset(&row, 0, sizeof(row));
	size_t pos = 0, nf = 0;
	int rc = csv_header(text, len, &pos, f, err);
	for (unsigned line = 2; rc == 0 && pos < len; line++) {
		rc = csv_record(text, len, &pos, f, 4, &nf, line, err);
		if (rc < 0)
			break;
		if (nf == 1 && f[0][0] == '\0')
			continue; /* blank line */
		if (nf != 4)
			return pp_err_set(err, PP_EINVAL, "line %u: %zu fields, expected 4", line,
					  nf);
		rc = csv_row(f, &row, line, err);
		pp_wipe(f, 4 * PP_CSV_MAX_LINE);
		if (rc == 0)
			rc = cb(ctx, &row, line);
		pp_wipe(&row, sizeof(row));
	}
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
	char pid[PP_PID_TEXT];
	pp_cleanup(pp_pps_text_wipe) char pps[PP_PPS_TEXT];
	pp_pid_format(&row->pid, pid);
	pp_pps_format(&row->pps, pps);
	int rc = csv_field(out, pid, false);
	if (rc == 0)
		rc = csv_field(out, pps, false);
	if (rc == 0)
		rc = csv_field(out, row->mebx, false);
	if (rc == 0)
		rc = csv_field(out, row->batch, true);
	return rc;
}
