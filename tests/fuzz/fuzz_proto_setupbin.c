/* setup.bin parsers (docs/protocol.md section 6): arbitrary bytes as a whole file, as one
 * header block and as one record block. Whatever parses must be written back byte for
 * byte and parse again to the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/setupbin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void same_header(const struct pp_usb_header *a, const struct pp_usb_header *b)
{
	check(a->version == b->version && a->record_chunk_count == b->record_chunk_count &&
	      a->record_header_bytes == b->record_header_bytes &&
	      a->record_number == b->record_number && a->major == b->major &&
	      a->minor == b->minor && a->flags == b->flags &&
	      a->data_record_count == b->data_record_count &&
	      a->data_records_consumed == b->data_records_consumed &&
	      a->data_record_chunk_count == b->data_record_chunk_count &&
	      a->n_modules == b->n_modules && a->notes == b->notes);
	for (size_t i = 0; i < a->n_modules; i++)
		check(a->modules[i] == b->modules[i]);
}

static void same_record(const struct pp_usb_record *a, const struct pp_usb_record *b)
{
	check(a->type == b->type && a->flags == b->flags && a->number == b->number &&
	      a->body_used == b->body_used && a->n_vars == b->n_vars && a->notes == b->notes);
	check(memcmp(a->body, b->body, sizeof(a->body)) == 0);
	for (size_t i = 0; i < a->n_vars; i++) {
		check(a->vars[i].module == b->vars[i].module &&
		      a->vars[i].variable == b->vars[i].variable &&
		      a->vars[i].len == b->vars[i].len && a->vars[i].off == b->vars[i].off);
	}
}

/* Getters must stay inside the body whatever the record holds. */
static void exercise_getters(const struct pp_usb_record *r)
{
	char s[PP_USB_BODY_LEN + 1];
	uint8_t u8, ip[4];
	uint16_t u16;
	for (size_t i = 0; i < r->n_vars; i++) {
		uint16_t m = r->vars[i].module, v = r->vars[i].variable;
		const uint8_t *val;
		size_t len;
		check(pp_usb_record_get(r, m, v, &val, &len) == 0);
		check(val >= r->body && val + len <= r->body + sizeof(r->body));
		(void)!pp_usb_record_get_u8(r, m, v, &u8, NULL);
		(void)!pp_usb_record_get_u16(r, m, v, &u16, NULL);
		(void)!pp_usb_record_get_ipv4(r, m, v, ip, NULL);
		(void)!pp_usb_record_get_string(r, m, v, s, sizeof(s), NULL);
	}
}

static void fuzz_record(const uint8_t *block, size_t len)
{
	struct pp_usb_record r, again;
	uint8_t out[PP_USB_BLOCK];
	if (pp_usb_record_parse(block, len, &r, NULL) != 0)
		return;
	check(len == PP_USB_BLOCK);
	exercise_getters(&r);
	int rc = pp_usb_record_write(&r, r.flags & PP_USB_REC_SCRAMBLED, out, NULL);
	if (r.number == 0) {
		/* Only a file gives a record its number; the writer refuses 0. */
		check(rc < 0);
		return;
	}
	check(rc == 0);
	check(memcmp(out, block, PP_USB_BLOCK) == 0);
	check(pp_usb_record_parse(out, sizeof(out), &again, NULL) == 0);
	same_record(&r, &again);
}

static void fuzz_header(const uint8_t *block, size_t len)
{
	struct pp_usb_header h, again;
	uint8_t out[PP_USB_BLOCK];
	if (pp_usb_header_parse(block, len, &h, NULL) != 0)
		return;
	check(pp_usb_header_write(&h, out, NULL) == 0);
	check(memcmp(out, block, PP_USB_BLOCK) == 0);
	check(pp_usb_header_parse(out, sizeof(out), &again, NULL) == 0);
	same_header(&h, &again);
}

static void fuzz_file(const uint8_t *data, size_t size)
{
	struct pp_usb_file f, g;
	size_t olen = 0;
	if (pp_usb_file_parse(data, size, &f, NULL) != 0)
		return;
	uint8_t *out = malloc(size);
	check(out != NULL);
	check(pp_usb_file_write(&f, out, size, &olen, NULL) == 0);
	check(olen == size && memcmp(out, data, size) == 0);
	check(pp_usb_file_parse(out, olen, &g, NULL) == 0);
	same_header(&f.header, &g.header);
	check(f.n_records == g.n_records && f.notes == g.notes);
	for (size_t i = 0; i < f.n_records; i++) {
		same_record(&f.records[i], &g.records[i]);
		exercise_getters(&f.records[i]);
	}
	pp_usb_file_free(&g);
	pp_usb_file_free(&f);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_file(data, size);
	fuzz_header(data, size);
	fuzz_record(data, size);
	if (size >= PP_USB_BLOCK) {
		fuzz_header(data, PP_USB_BLOCK);
		fuzz_record(data, PP_USB_BLOCK);
		fuzz_record(data + size - PP_USB_BLOCK, PP_USB_BLOCK);
	}
	return 0;
}
