/* Key exchange CSV [docs/protocol.md section 7]: header `pid,pps,mebx_password,batch`,
 * PID and PPS dashed on output, any accepted form on input. Fields follow RFC 4180:
 * a field holding a comma, quote, CR or LF is quoted, quotes doubled.
 *
 * CSV injection [ours, the OWASP rule]: a cell starting with a formula lead
 * (pp_formula_lead: = + - @ TAB CR) is written quoted with a single quote before it,
 * "'=x", so a spreadsheet shows it as text. To keep the round trip exact, a cell that
 * starts with a single quote followed by a formula lead or another single quote gets
 * one more quote too ("'=x" is written "''=x"). On import, one leading single quote is
 * dropped from a cell that starts with a single quote followed by a formula lead or a
 * single quote, in any field, quoted or not: a file made by another tool that
 * follows the same rule reads back as meant. The price: a password that really starts
 * with '= (say) must be written ''= by such a tool. PIDs and PPSs never start with
 * either; passwords we generate never start with a formula lead. */
#ifndef PSKPROV_KEYS_CSV_H
#define PSKPROV_KEYS_CSV_H

#include <stddef.h>

#include "core/bytes.h"
#include "core/err.h"
#include "keys/keys.h"
#include "keys/record.h"

#define PP_CSV_HEADER "pid,pps,mebx_password,batch"
#define PP_CSV_MAX_LINE 512

/* Called once per data row; `line` is 1-based in the file. A non-zero return stops the
 * parse and is returned. The row is wiped after the call. */
typedef int (*pp_csv_row_fn)(void *ctx, const struct pp_key_record *row, unsigned line);

/* Parses a whole CSV text of len bytes (no NUL needed). Each row is fully validated
 * (PID and PPS checksums, MEBx password policy, batch name) before cb sees it; an
 * error names the line and field and never quotes a secret. */
int pp_csv_parse(const char *text, size_t len, pp_csv_row_fn cb, void *ctx,
		 struct pp_err *err) PP_WUR;

int pp_csv_write_header(struct pp_buf *out) PP_WUR;
int pp_csv_write_row(struct pp_buf *out, const struct pp_key_record *row) PP_WUR;

/* A batch name: 1..64 characters of [A-Za-z0-9._-]. */
int pp_batch_name_check(const char *name, struct pp_err *err) PP_WUR;

#endif
