/* Sealing (AES-256-GCM blobs) and the master key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/err.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "store/seal.h"

#define PPS_TEXT "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ"

static void expect_msg(const struct pp_err *err, const char *needle)
{
	if (!strstr(err->msg, needle))
		fail_msg("message '%s' lacks '%s'", err->msg, needle);
}

static void key_fill(struct pp_master_key *k, uint8_t v)
{
	for (size_t i = 0; i < sizeof(k->k); i++)
		k->k[i] = (uint8_t)(v + i);
}

static struct pp_sealer *sealer_for(uint8_t v)
{
	struct pp_master_key k;
	struct pp_sealer *s = NULL;
	struct pp_err err = {0};
	key_fill(&k, v);
	assert_int_equal(pp_sealer_new(&k, &s, &err), 0);
	assert_non_null(s);
	return s;
}

static size_t seal_pps(struct pp_sealer *s, const char *pid, uint8_t *blob, size_t cap)
{
	size_t n = 0;
	struct pp_err err = {0};
	assert_int_equal(pp_seal(s, PP_SEAL_PPS, pid, PPS_TEXT, 32, blob, cap, &n, &err), 0);
	assert_int_equal(n, pp_sealed_len(32));
	return n;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct pp_sealer *s = sealer_for(1);
	static uint8_t plain[PP_SEAL_MAX_PLAIN], blob[PP_SEAL_MAX_BLOB], back[PP_SEAL_MAX_PLAIN];
	const size_t lens[] = {1, 12, 32, 33, 1000, PP_SEAL_MAX_PLAIN};
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = 0, m = 0;
		struct pp_err err = {0};
		assert_int_equal(pp_seal(s, PP_SEAL_MEBX, "0000037M", plain, lens[i], blob,
					 sizeof(blob), &n, &err),
				 0);
		assert_int_equal(n, lens[i] + PP_SEAL_OVERHEAD);
		assert_int_equal(blob[0], PP_SEAL_VERSION);
		/* The ciphertext is not the plaintext. */
		if (lens[i] >= 12)
			assert_false(pp_ct_eq(blob + 1 + PP_SEAL_NONCE_LEN, plain, lens[i]));
		assert_int_equal(
		    pp_unseal(s, PP_SEAL_MEBX, "0000037M", blob, n, back, sizeof(back), &m, &err),
		    0);
		assert_int_equal(m, lens[i]);
		assert_memory_equal(back, plain, lens[i]);
	}
	pp_sealer_free(s);
}

static void test_nonces_differ(void **state)
{
	(void)state;
	struct pp_sealer *s = sealer_for(2);
	uint8_t a[128], b[128];
	size_t na = seal_pps(s, "0000037M", a, sizeof(a));
	size_t nb = seal_pps(s, "0000037M", b, sizeof(b));
	assert_int_equal(na, nb);
	assert_true(memcmp(a + 1, b + 1, PP_SEAL_NONCE_LEN) != 0);
	assert_true(memcmp(a, b, na) != 0);
	/* Many seals: the nonce pool refills without repeating. */
	uint8_t seen[600][PP_SEAL_NONCE_LEN];
	for (int i = 0; i < 600; i++) {
		seal_pps(s, "0000037M", a, sizeof(a));
		memcpy(seen[i], a + 1, PP_SEAL_NONCE_LEN);
		for (int j = 0; j < i; j++)
			assert_true(memcmp(seen[i], seen[j], PP_SEAL_NONCE_LEN) != 0);
	}
	pp_sealer_free(s);
}

/* A clone seals under the same key with nonces of its own: a copied nonce pool would
 * hand out the very nonces the original hands out next. */
static void test_clone(void **state)
{
	(void)state;
	enum { N = 300 };
	struct pp_sealer *s = sealer_for(9), *c = NULL, *other = sealer_for(10);
	struct pp_err err = {0};
	uint8_t a[128], b[128], back[64];
	size_t n = 0;
	seal_pps(s, "0000037M", a, sizeof(a)); /* the original's pool is filled */
	assert_int_equal(pp_sealer_clone(s, &c, &err), 0);
	assert_non_null(c);
	static uint8_t seen[2 * N][PP_SEAL_NONCE_LEN];
	for (int i = 0; i < N; i++) {
		size_t na = seal_pps(s, "0000037M", a, sizeof(a));
		size_t nb = seal_pps(c, "0000037M", b, sizeof(b));
		memcpy(seen[2 * i], a + 1, PP_SEAL_NONCE_LEN);
		memcpy(seen[2 * i + 1], b + 1, PP_SEAL_NONCE_LEN);
		/* Each opens with the other sealer, and not under another key. */
		assert_int_equal(
		    pp_unseal(c, PP_SEAL_PPS, "0000037M", a, na, back, sizeof(back), &n, &err), 0);
		assert_memory_equal(back, PPS_TEXT, 32);
		assert_int_equal(
		    pp_unseal(s, PP_SEAL_PPS, "0000037M", b, nb, back, sizeof(back), &n, &err), 0);
		assert_memory_equal(back, PPS_TEXT, 32);
		assert_int_equal(
		    pp_unseal(other, PP_SEAL_PPS, "0000037M", b, nb, back, sizeof(back), &n, &err),
		    -PP_ECRYPTO);
	}
	for (int i = 0; i < 2 * N; i++)
		for (int j = 0; j < i; j++)
			assert_true(memcmp(seen[i], seen[j], PP_SEAL_NONCE_LEN) != 0);
	/* The clone outlives its original. */
	pp_sealer_free(s);
	size_t nb = seal_pps(c, "0000037M", b, sizeof(b));
	assert_int_equal(pp_unseal(c, PP_SEAL_PPS, "0000037M", b, nb, back, sizeof(back), &n, &err),
			 0);
	pp_sealer_free(c);
	pp_sealer_free(other);
}

/* The blob format of seal.h, pinned by OpenSSL alone: version 1 || nonce || ciphertext
 * || tag, AES-256-GCM, AAD = 0x01 "pps|" PID. Blobs already on disk must keep opening. */
static void test_format_pinned(void **state)
{
	(void)state;
	struct pp_master_key k;
	key_fill(&k, 11);
	struct pp_sealer *s = sealer_for(11);
	static const uint8_t aad[] = "\x01pps|0000037M";
	const size_t aad_len = sizeof(aad) - 1;
	uint8_t blob[128], back[64], tag[16];
	int n = 0, f = 0;
	size_t m = 0;
	struct pp_err err = {0};
	/* Made by OpenSSL, opened by pp_unseal. */
	blob[0] = 1;
	for (int i = 0; i < PP_SEAL_NONCE_LEN; i++)
		blob[1 + i] = (uint8_t)(0xA0 + i);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	assert_non_null(c);
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k.k, blob + 1), 1);
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len), 1);
	assert_int_equal(EVP_EncryptUpdate(c, blob + 13, &n, (const uint8_t *)PPS_TEXT, 32), 1);
	assert_int_equal(EVP_EncryptFinal_ex(c, blob + 13 + n, &f), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, blob + 45), 1);
	assert_int_equal(pp_unseal(s, PP_SEAL_PPS, "0000037M", blob, pp_sealed_len(32), back,
				   sizeof(back), &m, &err),
			 0);
	assert_memory_equal(back, PPS_TEXT, 32);
	/* Made by pp_seal, opened by OpenSSL. */
	size_t len = seal_pps(s, "0000037M", blob, sizeof(blob));
	assert_int_equal(blob[0], 1);
	memcpy(tag, blob + len - 16, 16);
	assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k.k, blob + 1), 1);
	assert_int_equal(EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len), 1);
	assert_int_equal(EVP_DecryptUpdate(c, back, &n, blob + 13, 32), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag), 1);
	assert_int_equal(EVP_DecryptFinal_ex(c, back + n, &f), 1);
	assert_memory_equal(back, PPS_TEXT, 32);
	EVP_CIPHER_CTX_free(c);
	/* An empty subject is refused too. */
	assert_int_equal(pp_seal(s, PP_SEAL_PPS, "", PPS_TEXT, 32, blob, sizeof(blob), &len, &err),
			 -PP_EINVAL);
	pp_sealer_free(s);
}

static void test_tamper_every_byte(void **state)
{
	(void)state;
	struct pp_sealer *s = sealer_for(3);
	uint8_t blob[128], back[64];
	size_t n = seal_pps(s, "0000037M", blob, sizeof(blob));
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			uint8_t t[128];
			size_t m = 0;
			struct pp_err err = {0};
			memcpy(t, blob, n);
			t[i] ^= (uint8_t)(1u << bit);
			memset(back, 0x55, sizeof(back));
			assert_int_equal(pp_unseal(s, PP_SEAL_PPS, "0000037M", t, n, back,
						   sizeof(back), &m, &err),
					 -PP_ECRYPTO);
			assert_int_equal(err.code, PP_ECRYPTO);
			/* Nothing of the plaintext is left in the output. */
			assert_null(memmem(back, sizeof(back), "NKLD", 4));
			assert_null(strstr(err.msg, "NKLD"));
		}
	}
	/* Untouched, it still opens. */
	size_t m = 0;
	assert_int_equal(
	    pp_unseal(s, PP_SEAL_PPS, "0000037M", blob, n, back, sizeof(back), &m, NULL), 0);
	assert_memory_equal(back, PPS_TEXT, 32);
	pp_sealer_free(s);
}

static void test_wrong_aad_and_key(void **state)
{
	(void)state;
	struct pp_sealer *s = sealer_for(4), *other = sealer_for(5);
	uint8_t blob[128], back[64];
	size_t n = seal_pps(s, "0000037M", blob, sizeof(blob)), m = 0;
	struct pp_err err = {0};
	/* Another PID. */
	assert_int_equal(
	    pp_unseal(s, PP_SEAL_PPS, "0000038N", blob, n, back, sizeof(back), &m, &err),
	    -PP_ECRYPTO);
	expect_msg(&err, "authentication failed");
	/* Same PID, another field: a PPS blob moved into the MEBx column. */
	assert_int_equal(
	    pp_unseal(s, PP_SEAL_MEBX, "0000037M", blob, n, back, sizeof(back), &m, &err),
	    -PP_ECRYPTO);
	assert_int_equal(
	    pp_unseal(s, PP_SEAL_ADMIN, "0000037M", blob, n, back, sizeof(back), &m, &err),
	    -PP_ECRYPTO);
	/* A subject that only extends the real one. */
	assert_int_equal(
	    pp_unseal(s, PP_SEAL_PPS, "0000037M ", blob, n, back, sizeof(back), &m, &err),
	    -PP_ECRYPTO);
	/* Another master key. */
	assert_int_equal(
	    pp_unseal(other, PP_SEAL_PPS, "0000037M", blob, n, back, sizeof(back), &m, &err),
	    -PP_ECRYPTO);
	/* Bad arguments. */
	assert_int_equal(
	    pp_unseal(s, PP_SEAL_PURPOSE_MAX, "0000037M", blob, n, back, sizeof(back), &m, &err),
	    -PP_EINVAL);
	assert_int_equal(pp_unseal(s, PP_SEAL_PPS, "", blob, n, back, sizeof(back), &m, &err),
			 -PP_EINVAL);
	pp_sealer_free(s);
	pp_sealer_free(other);
}

static void test_truncated_and_extended(void **state)
{
	(void)state;
	struct pp_sealer *s = sealer_for(6);
	uint8_t blob[128], back[128];
	size_t n = seal_pps(s, "0000037M", blob, sizeof(blob)), m = 0;
	for (size_t len = 0; len < n; len++) {
		struct pp_err err = {0};
		assert_int_equal(
		    pp_unseal(s, PP_SEAL_PPS, "0000037M", blob, len, back, sizeof(back), &m, &err),
		    -PP_ECRYPTO);
	}
	blob[n] = 0;
	assert_int_equal(
	    pp_unseal(s, PP_SEAL_PPS, "0000037M", blob, n + 1, back, sizeof(back), &m, NULL),
	    -PP_ECRYPTO);
	assert_int_equal(
	    pp_unseal(s, PP_SEAL_PPS, "0000037M", NULL, 0, back, sizeof(back), &m, NULL),
	    -PP_ECRYPTO);
	/* Output too small is refused before any decryption. */
	assert_int_equal(pp_unseal(s, PP_SEAL_PPS, "0000037M", blob, n, back, 31, &m, NULL),
			 -PP_ETOOBIG);
	pp_sealer_free(s);
}

static void test_seal_refusals(void **state)
{
	(void)state;
	struct pp_sealer *s = sealer_for(7);
	static uint8_t big[PP_SEAL_MAX_PLAIN + 1], blob[PP_SEAL_MAX_BLOB + 16];
	char subject[PP_SEAL_MAX_SUBJECT + 2];
	size_t n = 0;
	struct pp_err err = {0};
	assert_int_equal(pp_seal(s, PP_SEAL_PPS, "x", big, 0, blob, sizeof(blob), &n, &err),
			 -PP_EINVAL);
	assert_int_equal(
	    pp_seal(s, PP_SEAL_PPS, "x", big, sizeof(big), blob, sizeof(blob), &n, &err),
	    -PP_EINVAL);
	assert_int_equal(
	    pp_seal(s, PP_SEAL_PPS, "x", big, 32, blob, 32 + PP_SEAL_OVERHEAD - 1, &n, &err),
	    -PP_ETOOBIG);
	memset(subject, 'a', sizeof(subject) - 1);
	subject[sizeof(subject) - 1] = '\0';
	assert_int_equal(pp_seal(s, PP_SEAL_PPS, subject, big, 32, blob, sizeof(blob), &n, &err),
			 -PP_EINVAL);
	subject[PP_SEAL_MAX_SUBJECT] = '\0';
	assert_int_equal(pp_seal(s, PP_SEAL_PPS, subject, big, 32, blob, sizeof(blob), &n, &err),
			 0);
	assert_int_equal(pp_seal(s, PP_SEAL_PPS, NULL, big, 32, blob, sizeof(blob), &n, &err),
			 -PP_EINVAL);
	pp_sealer_free(s);
	pp_sealer_free(NULL);
}

static void test_check_value(void **state)
{
	(void)state;
	struct pp_sealer *s = sealer_for(8), *other = sealer_for(9);
	uint8_t kcv[PP_SEAL_CHECK_LEN];
	size_t n = 0;
	struct pp_err err = {0};
	assert_int_equal(pp_seal_check_make(s, kcv, sizeof(kcv), &n, &err), 0);
	assert_int_equal(n, PP_SEAL_CHECK_LEN);
	assert_int_equal(pp_seal_check_verify(s, kcv, n, &err), 0);
	assert_int_equal(pp_seal_check_verify(other, kcv, n, &err), -PP_ECRYPTO);
	assert_string_equal(err.msg, "master key does not match this database");
	assert_int_equal(pp_seal_check_verify(s, kcv, n - 1, &err), -PP_ECRYPTO);
	/* A PPS blob is no check value even under the right key. */
	uint8_t blob[128];
	size_t bn = seal_pps(s, "master-key", blob, sizeof(blob));
	assert_int_equal(pp_seal_check_verify(s, blob, bn, &err), -PP_ECRYPTO);
	pp_sealer_free(s);
	pp_sealer_free(other);
}

/* ---- master key files ---- */

struct tmpdir {
	char dir[256];
};

static void tmp_path(const struct tmpdir *t, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", t->dir, name);
	assert_true(n > 0 && (size_t)n < cap);
}

static int setup_dir(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));
	const char *base = getenv("TMPDIR");
	snprintf(t->dir, sizeof(t->dir), "%s/pp-seal-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(t->dir))
		return -1;
	*state = t;
	return 0;
}

static int teardown_dir(void **state)
{
	struct tmpdir *t = *state;
	static const char *const names[] = {"mk", "bad", "env"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char p[300];
		snprintf(p, sizeof(p), "%s/%s", t->dir, names[i]);
		unlink(p);
	}
	rmdir(t->dir);
	free(t);
	return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	unlink(path);
	assert_int_equal(pp_file_create(path, text, strlen(text), mode, NULL), 0);
}

static void read_text(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void test_master_key_create(void **state)
{
	struct tmpdir *t = *state;
	char path[300], text[200], again[200];
	struct pp_err err = {0};
	tmp_path(t, "mk", path, sizeof(path));
	/* Even a permissive umask gives 0600. */
	mode_t old = umask(0);
	int rc = pp_master_key_create(path, &err);
	umask(old);
	assert_int_equal(rc, 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	read_text(path, text, sizeof(text));
	assert_int_equal(strlen(text), 65);
	assert_int_equal(text[64], '\n');
	for (int i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", text[i]));

	/* Never overwritten. */
	assert_int_equal(pp_master_key_create(path, &err), -PP_EEXIST);
	read_text(path, again, sizeof(again));
	assert_string_equal(text, again);

	/* Load gives the same key as the hex. */
	struct pp_master_key a, b;
	assert_int_equal(pp_master_key_load(path, &a, &err), 0);
	text[64] = '\0';
	assert_int_equal(pp_master_key_from_hex(text, &b, &err), 0);
	assert_memory_equal(a.k, b.k, sizeof(a.k));

	/* A second key differs. */
	char path2[300];
	tmp_path(t, "env", path2, sizeof(path2));
	assert_int_equal(pp_master_key_create(path2, &err), 0);
	assert_int_equal(pp_master_key_load(path2, &b, &err), 0);
	assert_false(pp_ct_eq(a.k, b.k, sizeof(a.k)));
}

static void test_master_key_load_refusals(void **state)
{
	struct tmpdir *t = *state;
	char path[300];
	struct pp_master_key k;
	struct pp_err err = {0};
	const char *hex = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
	tmp_path(t, "bad", path, sizeof(path));

	/* Permissions: group or other bits refused, whatever the content. */
	static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		write_file(path, hex, modes[i]);
		assert_int_equal(pp_master_key_load(path, &k, &err), -PP_EPERM);
		expect_msg(&err, "chmod 600");
	}
	write_file(path, hex, 0600);
	assert_int_equal(pp_master_key_load(path, &k, &err), 0);
	assert_int_equal(k.k[0], 0x00);
	assert_int_equal(k.k[10], 0xaa);
	assert_int_equal(k.k[31], 0xff);
	write_file(path, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n",
		   0400);
	assert_int_equal(pp_master_key_load(path, &k, &err), 0);

	/* Content: exactly 64 hex and an optional newline. */
	static const char *const bad[] = {
	    "",
	    "\n",
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeef",
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff0",
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeefg",
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n\n",
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\r\n",
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff ",
	    " 00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff",
	    "0x00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddee",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i], 0600);
		memset(&k, 0x5a, sizeof(k));
		assert_int_equal(pp_master_key_load(path, &k, &err), -PP_EINVAL);
		expect_msg(&err, "64 hex digits");
		/* Wiped on failure; and the message quotes no key material. */
		for (size_t j = 0; j < sizeof(k.k); j++)
			assert_int_equal(k.k[j], 0);
		assert_null(strstr(err.msg, "0011223344"));
	}
	/* A NUL inside the file. */
	unlink(path);
	char withnul[65];
	memcpy(withnul, hex, 64);
	withnul[20] = '\0';
	assert_int_equal(pp_file_create(path, withnul, 64, 0600, NULL), 0);
	assert_int_equal(pp_master_key_load(path, &k, &err), -PP_EINVAL);

	/* Missing file. */
	unlink(path);
	assert_int_equal(pp_master_key_load(path, &k, &err), -PP_ENOTFOUND);
}

static void test_master_key_from_hex(void **state)
{
	(void)state;
	struct pp_master_key k;
	struct pp_err err = {0};
	assert_int_equal(
	    pp_master_key_from_hex(
		"FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100", &k, &err),
	    0);
	assert_int_equal(k.k[0], 0xff);
	assert_int_equal(k.k[31], 0x00);
	static const char *const bad[] = {
	    "",
	    "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100\n",
	    "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa9988776655443322110",
	    "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa998877665544332211000",
	    "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221z00",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&k, 0x5a, sizeof(k));
		assert_int_equal(pp_master_key_from_hex(bad[i], &k, &err), -PP_EINVAL);
		assert_null(strstr(err.msg, "FFEEDD"));
		for (size_t j = 0; j < sizeof(k.k); j++)
			assert_int_equal(k.k[j], 0);
	}
	assert_int_equal(pp_master_key_from_hex(NULL, &k, &err), -PP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_nonces_differ),
	    cmocka_unit_test(test_clone),
	    cmocka_unit_test(test_format_pinned),
	    cmocka_unit_test(test_tamper_every_byte),
	    cmocka_unit_test(test_wrong_aad_and_key),
	    cmocka_unit_test(test_truncated_and_extended),
	    cmocka_unit_test(test_seal_refusals),
	    cmocka_unit_test(test_check_value),
	    cmocka_unit_test_setup_teardown(test_master_key_create, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_master_key_load_refusals, setup_dir, teardown_dir),
	    cmocka_unit_test(test_master_key_from_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
