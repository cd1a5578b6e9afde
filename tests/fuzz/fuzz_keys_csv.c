/* libFuzzer: the key CSV parser must reject or accept any bytes without a fault, and
 * every accepted row must write back to text that parses to the same row. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_row(void *ctx, const struct pp_key_record *row, unsigned line)
{
	(void)line;
	const struct pp_key_record *orig = ctx;
	if (strcmp(row->pid.s, orig->pid.s) || strcmp(row->pps.s, orig->pps.s) ||
	    strcmp(row->mebx, orig->mebx) || strcmp(row->batch, orig->batch))
		abort();
	return 0;
}

static int check_row(void *ctx, const struct pp_key_record *row, unsigned line)
{
	(void)ctx;
	(void)line;
	struct pp_buf b;
	struct pp_err err;
	pp_buf_init(&b, 4096);
	if (pp_csv_write_header(&b) < 0 || pp_csv_write_row(&b, row) < 0)
		abort();
	if (pp_csv_parse((const char *)b.data, b.len, same_row, (void *)row, &err) != 0)
		abort();
	pp_buf_free(&b);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_err err;
	(void)pp_csv_parse((const char *)data, size, check_row, NULL, &err);
	return 0;
}
