/* PSKC reader (RFC 6030, docs/protocol.md section 7) on arbitrary bytes, transport-key mode
 * only: a passphrase document is refused before any PBKDF2 work, so every input costs
 * one bounded parse. Keys: 00 01 .. 0f (AES-128) and 00 01 .. 1f (AES-256), the ones the
 * seeds in tests/fuzz/corpus/fuzz_keys_pskc/ were written with
 * (PP_PSKC_SEED_DIR=<dir> test_keys_pskc), and RFC 6030 figure 6's key for the generic
 * reader. Whatever is delivered must be what the profile promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys/csv.h"
#include "keys/keys.h"
#include "keys/pskc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static int on_key(void *ctx, const struct pp_key_record *k)
{
	size_t *n = ctx;
	check(pp_pid_valid(&k->pid));
	check(pp_pps_valid(&k->pps));
	check(pp_mebx_password_check(k->mebx, NULL) == 0);
	check(pp_batch_name_check(k->batch, NULL) == 0);
	(*n)++;
	return 0;
}

static int on_secret(void *ctx, const struct pp_pskc_secret *s)
{
	size_t *n = ctx;
	check(s->index == *n + 1);
	check(s->len >= 1 && s->len <= PP_PSKC_VALUE_MAX);
	check(s->id != NULL && s->algorithm != NULL);
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
					0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
					0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
					0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
	static const uint8_t rfc_key[16] = {0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56,
					    0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12};
	struct pp_pskc_protection p16 = {.kind = PP_PSKC_TRANSPORT_KEY, .key = key, .key_len = 16};
	struct pp_pskc_protection p32 = {.kind = PP_PSKC_TRANSPORT_KEY, .key = key, .key_len = 32};
	struct pp_pskc_protection prfc = {
	    .kind = PP_PSKC_TRANSPORT_KEY, .key = rfc_key, .key_len = 16};
	struct pp_err err;
	size_t n = 0;

	int rc = pp_pskc_read(data, size, &p16, on_key, &n, &err);
	check(rc == 0 || n == 0); /* all or nothing */
	check(rc != 0 || n >= 1);
	n = 0;
	rc = pp_pskc_read(data, size, &p32, on_key, &n, &err);
	check(rc == 0 || n == 0);
	n = 0;
	rc = pp_pskc_read_secrets(data, size, &prfc, on_secret, &n, &err);
	check(rc == 0 || n == 0);
	check(rc != 0 || n >= 1);
	return 0;
}
