/* In-memory TLS-PSK handshakes: a device SSL and a configuration-server SSL joined by a
 * BIO pair and driven in turn, for every profile, success and failure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls/tls.h"

/* Intel's worked example (docs/protocol.md section 1), without dashes. */
#define PID "0000037M"
#define PPS "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XJ"
#define PPS_OTHER "NKLDG5DCRRNQE9YZZIJL7LFLVJED69XK"
#define PID_OTHER "ABCDEFGH"

struct keytab {
	const char *pid;
	const char *pps;
	int calls;
	char last[PP_TLS_PID_LEN + 1];
};

static int lookup(void *arg, const char *pid8, uint8_t pps_out[PP_TLS_PPS_LEN])
{
	struct keytab *t = arg;
	t->calls++;
	snprintf(t->last, sizeof(t->last), "%s", pid8);
	if (!t->pid || strcmp(pid8, t->pid) != 0)
		return -1;
	memcpy(pps_out, t->pps, PP_TLS_PPS_LEN);
	return 0;
}

struct outcome {
	bool c_ok, d_ok;
	int c_reason, d_reason;
	char c_pid[PP_TLS_PID_LEN + 1], d_id[PP_TLS_PID_LEN + 1];
	char c_why[256], d_why[256];
	char version[16], cipher[64];
	int group;
	bool reused;
	bool timed; /* pp_tls_handshake_time on the server's side */
	uint64_t hs_ms;
};

static void step(SSL *s, bool *end, bool *ok)
{
	if (*end)
		return;
	/* The error queue is per thread and shared by both SSLs: a stale entry from the
	 * other side would turn a WANT_READ into SSL_ERROR_SSL. */
	ERR_clear_error();
	int r = SSL_do_handshake(s);
	if (r == 1) {
		*end = *ok = true;
		return;
	}
	int e = SSL_get_error(s, r);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		*end = true;
}

static void run_pair(SSL *c, SSL *d, bool *c_ok, bool *d_ok)
{
	BIO *bc = NULL, *bd = NULL;
	bool c_end = false, d_end = false;
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bd, 0), 1);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(d, bd, bd);
	*c_ok = *d_ok = false;
	for (int i = 0; i < 100 && !(c_end && d_end); i++) {
		step(c, &c_end, c_ok);
		step(d, &d_end, d_ok);
	}
	ERR_clear_error();
}

typedef void (*tweak_fn)(SSL *client, SSL *device);

static void collect(SSL *c, SSL *d, struct outcome *o)
{
	o->c_reason = pp_tls_server_result(c, o->c_pid, o->c_why, sizeof(o->c_why));
	o->d_reason = pp_tls_device_result(d, o->d_id, o->d_why, sizeof(o->d_why));
	o->timed = pp_tls_handshake_time(c, &o->hs_ms);
	if (o->c_ok) {
		snprintf(o->version, sizeof(o->version), "%s", SSL_get_version(c));
		snprintf(o->cipher, sizeof(o->cipher), "%s", SSL_get_cipher_name(c));
		o->group = SSL_get_negotiated_group(c);
		o->reused = SSL_session_reused(c) == 1;
	}
	print_message("  client: %s (%s)\n  device: %s (%s)\n", pp_tls_reason_name(o->c_reason),
		      o->c_why, pp_tls_reason_name(o->d_reason), o->d_why);
}

static void handshake_ctx(SSL_CTX *sctx, SSL_CTX *dctx, const char *dev_pid, const char *dev_pps,
			  const char *expected, struct keytab *kt, tweak_fn tweak,
			  struct outcome *o)
{
	struct pp_err err = {0};
	SSL *c = SSL_new(sctx), *d = SSL_new(dctx);
	assert_non_null(c);
	assert_non_null(d);
	memset(o, 0, sizeof(*o));
	assert_int_equal(pp_tls_device_attach(d, dev_pid, (const uint8_t *)dev_pps, &err), 0);
	assert_int_equal(pp_tls_server_attach(c, expected, lookup, kt, &err), 0);
	if (tweak)
		tweak(c, d);
	run_pair(c, d, &o->c_ok, &o->d_ok);
	collect(c, d, o);
	SSL_free(c);
	SSL_free(d);
}

static void handshake(enum pp_tls_profile sp, enum pp_tls_profile dp, const char *dev_pid,
		      const char *dev_pps, const char *expected, struct keytab *kt, tweak_fn tweak,
		      struct outcome *o)
{
	struct pp_err err = {0};
	SSL_CTX *sctx = pp_tls_server_ctx_new(sp, &err);
	assert_non_null(sctx);
	SSL_CTX *dctx = pp_tls_device_ctx_new(dp, &err);
	assert_non_null(dctx);
	handshake_ctx(sctx, dctx, dev_pid, dev_pps, expected, kt, tweak, o);
	SSL_CTX_free(sctx);
	SSL_CTX_free(dctx);
}

static const enum pp_tls_profile all_profiles[] = {PP_TLS_AMT_LEGACY, PP_TLS_TLS12, PP_TLS_TLS13,
						   PP_TLS_COMPAT};
#define N_PROFILES (sizeof(all_profiles) / sizeof(all_profiles[0]))
#define FOR_EACH_PROFILE(p)                                                                        \
	for (size_t i_ = 0; i_ < N_PROFILES && ((p) = all_profiles[i_], 1); i_++)

/* ---- names and argument checks ---- */

static void test_profile_names(void **state)
{
	(void)state;
	struct pp_err err = {0};
	enum pp_tls_profile p;
	assert_int_equal(pp_tls_profile_parse("amt-legacy", &p, &err), 0);
	assert_int_equal(p, PP_TLS_AMT_LEGACY);
	assert_int_equal(pp_tls_profile_parse("tls12", &p, &err), 0);
	assert_int_equal(p, PP_TLS_TLS12);
	assert_int_equal(pp_tls_profile_parse("tls13", &p, &err), 0);
	assert_int_equal(p, PP_TLS_TLS13);
	assert_int_equal(pp_tls_profile_parse("compat", &p, &err), 0);
	assert_int_equal(p, PP_TLS_COMPAT);
	assert_int_equal(PP_TLS_PROFILE_DEFAULT, PP_TLS_COMPAT);
	assert_string_equal(pp_tls_profile_name(PP_TLS_PROFILE_DEFAULT),
			    PP_TLS_PROFILE_DEFAULT_NAME);
	assert_int_equal(N_PROFILES, PP_TLS_PROFILE_MAX);
	FOR_EACH_PROFILE(p)
	{
		enum pp_tls_profile q;
		assert_int_equal(pp_tls_profile_parse(pp_tls_profile_name(p), &q, &err), 0);
		assert_int_equal(p, q);
	}
	assert_int_equal(pp_tls_profile_parse("TLS12", &p, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "'TLS12'"));
	assert_non_null(strstr(err.msg, "compat"));
	assert_null(strchr(err.msg, '\n'));
	assert_int_equal(pp_tls_profile_parse("bad\nname", &p, &err), -PP_EINVAL);
	assert_null(strchr(err.msg, '\n'));
	assert_int_equal(pp_tls_profile_parse("", &p, &err), -PP_EINVAL);
	assert_int_equal(pp_tls_profile_parse("tls1.2", &p, NULL), -PP_EINVAL);
	assert_int_equal(pp_tls_profile_parse(NULL, &p, &err), -PP_EINVAL);
	assert_string_equal(pp_tls_profile_name((enum pp_tls_profile)99), "unknown");
	assert_string_equal(pp_tls_reason_name(PP_TLS_BAD_KEY), "bad-key");
	assert_string_equal(pp_tls_reason_name(PP_TLS_UNKNOWN_PID), "unknown-pid");
	assert_string_equal(pp_tls_reason_name(12345), "unknown");
	assert_null(pp_tls_device_ctx_new((enum pp_tls_profile)7, &err));
	assert_int_equal(err.code, PP_EINVAL);
}

static void test_attach_checks(void **state)
{
	(void)state;
	struct pp_err err = {0};
	struct keytab kt = {PID, PPS, 0, ""};
	SSL_CTX *dctx = pp_tls_device_ctx_new(PP_TLS_TLS12, &err);
	SSL_CTX *sctx = pp_tls_server_ctx_new(PP_TLS_TLS13, &err);
	SSL_CTX *plain = SSL_CTX_new(TLS_method());
	assert_non_null(dctx);
	assert_non_null(sctx);
	assert_non_null(plain);
	SSL *d = SSL_new(dctx), *c = SSL_new(sctx), *x = SSL_new(plain);

	/* PID and PPS must be canonical: 8 / 32 symbols, upper case, no dashes. */
	assert_int_equal(pp_tls_device_attach(d, "0000037m", (const uint8_t *)PPS, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_tls_device_attach(d, "0000-037M", (const uint8_t *)PPS, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_tls_device_attach(d, "000037M", (const uint8_t *)PPS, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_tls_device_attach(d, NULL, (const uint8_t *)PPS, &err), -PP_EINVAL);
	assert_int_equal(pp_tls_device_attach(
			     d, PID, (const uint8_t *)"NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED", &err),
			 -PP_EINVAL);
	assert_non_null(strstr(err.msg, "PPS"));
	assert_null(strstr(err.msg, "NKLD")); /* never the secret */
	assert_int_equal(pp_tls_device_attach(d, PID, NULL, &err), -PP_EINVAL);
	assert_int_equal(pp_tls_device_attach(NULL, PID, (const uint8_t *)PPS, &err), -PP_EINVAL);

	/* Roles and foreign contexts. */
	assert_int_equal(pp_tls_device_attach(c, PID, (const uint8_t *)PPS, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "pp_tls_device_ctx_new"));
	assert_int_equal(pp_tls_device_attach(x, PID, (const uint8_t *)PPS, &err), -PP_EINVAL);
	assert_int_equal(pp_tls_server_attach(d, PID, lookup, &kt, &err), -PP_EINVAL);
	assert_int_equal(pp_tls_server_attach(x, PID, lookup, &kt, &err), -PP_EINVAL);
	assert_int_equal(pp_tls_server_attach(c, PID, NULL, &kt, &err), -PP_EINVAL);
	assert_int_equal(pp_tls_server_attach(c, "bad", lookup, &kt, &err), -PP_EINVAL);

	/* tls13 has no hint: the PID must be known before connecting. */
	assert_int_equal(pp_tls_server_attach(c, NULL, lookup, &kt, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "tls13"));
	assert_non_null(strstr(err.msg, "hello"));

	/* Results on connections never attached. */
	char why[128], id[PP_TLS_PID_LEN + 1] = "x";
	assert_int_equal(pp_tls_server_result(x, id, why, sizeof(why)), PP_TLS_PROTOCOL);
	assert_string_equal(id, "");
	assert_int_equal(pp_tls_device_result(x, id, why, sizeof(why)), PP_TLS_PROTOCOL);
	assert_int_equal(pp_tls_device_result(NULL, NULL, NULL, 0), PP_TLS_PROTOCOL);
	assert_int_equal(pp_tls_server_result(d, NULL, why, sizeof(why)), PP_TLS_PROTOCOL);

	/* Attaching twice replaces (and wipes) the first key; SSL_dup leaves the copy bare
	 * rather than sharing the pointer (ASan would catch a double free). */
	assert_int_equal(pp_tls_device_attach(d, PID, (const uint8_t *)PPS, &err), 0);
	assert_int_equal(pp_tls_device_attach(d, PID, (const uint8_t *)PPS_OTHER, &err), 0);
	SSL *dup = SSL_dup(d);
	assert_non_null(dup);
	assert_int_equal(pp_tls_device_result(dup, NULL, why, sizeof(why)), PP_TLS_PROTOCOL);
	assert_int_equal(pp_tls_server_attach(c, PID, lookup, &kt, &err), 0);
	SSL_free(dup);

	SSL_free(d);
	SSL_free(c);
	SSL_free(x);
	SSL_CTX_free(dctx);
	SSL_CTX_free(sctx);
	SSL_CTX_free(plain);
}

/* ---- handshakes ---- */

static void test_success_each_profile(void **state)
{
	(void)state;
	static const char *const want_cipher[] = {
	    [PP_TLS_AMT_LEGACY] = "PSK-AES128-CBC-SHA",
	    [PP_TLS_TLS12] = "ECDHE-PSK-CHACHA20-POLY1305",
	    [PP_TLS_TLS13] = "TLS_AES_128_GCM_SHA256",
	    [PP_TLS_COMPAT] = "ECDHE-PSK-CHACHA20-POLY1305",
	};
	static const char *const want_version[] = {
	    [PP_TLS_AMT_LEGACY] = "TLSv1.2",
	    [PP_TLS_TLS12] = "TLSv1.2",
	    [PP_TLS_TLS13] = "TLSv1.3",
	    [PP_TLS_COMPAT] = "TLSv1.2",
	};
	enum pp_tls_profile p;
	FOR_EACH_PROFILE(p)
	{
		struct keytab kt = {PID, PPS, 0, ""};
		struct outcome o;
		print_message("profile %s\n", pp_tls_profile_name(p));
		handshake(p, p, PID, PPS, PID, &kt, NULL, &o);
		assert_true(o.c_ok);
		assert_true(o.d_ok);
		assert_int_equal(o.c_reason, PP_TLS_OK);
		assert_int_equal(o.d_reason, PP_TLS_OK);
		assert_string_equal(o.c_pid, PID);
		assert_string_equal(o.d_id, PID);
		assert_int_equal(kt.calls, 1);
		assert_string_equal(kt.last, PID);
		assert_string_equal(o.version, want_version[p]);
		assert_string_equal(o.cipher, want_cipher[p]);
		assert_non_null(strstr(o.c_why, want_cipher[p]));
		/* Timed from OpenSSL's start to its end (in memory: well under a minute). */
		assert_true(o.timed);
		assert_true(o.hs_ms < 60000);
		if (p == PP_TLS_TLS13) {
			/* psk_dhe_ke: the external PSK was accepted and an (EC)DHE share was
			 * agreed, so the session keys have forward secrecy. */
			assert_true(o.reused);
			assert_int_not_equal(o.group, 0);
		}
	}
}

static void test_tls12_any_hint(void **state)
{
	(void)state;
	/* No expected PID: the hint alone selects the key (a device that may show its old
	 * or its new PID during a rotation). */
	enum pp_tls_profile ps[] = {PP_TLS_AMT_LEGACY, PP_TLS_TLS12, PP_TLS_COMPAT};
	for (size_t i = 0; i < 3; i++) {
		struct keytab kt = {PID, PPS, 0, ""};
		struct outcome o;
		handshake(ps[i], ps[i], PID, PPS, NULL, &kt, NULL, &o);
		assert_int_equal(o.c_reason, PP_TLS_OK);
		assert_int_equal(o.d_reason, PP_TLS_OK);
		assert_string_equal(kt.last, PID);
		assert_string_equal(o.c_pid, PID);
	}
}

static void test_wrong_pps(void **state)
{
	(void)state;
	enum pp_tls_profile p;
	FOR_EACH_PROFILE(p)
	{
		/* Wrong on the server's side, then on the device's side. */
		for (int side = 0; side < 2; side++) {
			struct keytab kt = {PID, side ? PPS : PPS_OTHER, 0, ""};
			struct outcome o;
			print_message("profile %s, wrong PPS on the %s\n", pp_tls_profile_name(p),
				      side ? "device" : "server");
			handshake(p, p, PID, side ? PPS_OTHER : PPS, PID, &kt, NULL, &o);
			assert_false(o.c_ok);
			assert_false(o.d_ok);
			assert_int_equal(o.c_reason, PP_TLS_BAD_KEY);
			assert_int_equal(o.d_reason, PP_TLS_BAD_KEY);
			assert_false(o.timed); /* a failed handshake has no time */
			assert_string_equal(o.c_pid, PID);
			assert_string_equal(o.d_id, PID);
			assert_null(strstr(o.c_why, "NKLD"));
			assert_null(strstr(o.d_why, "NKLD"));
		}
	}
}

static void test_unknown_pid(void **state)
{
	(void)state;
	enum pp_tls_profile p;
	FOR_EACH_PROFILE(p)
	{
		struct keytab kt = {PID_OTHER, PPS, 0, ""}; /* knows another PID only */
		struct outcome o;
		handshake(p, p, PID, PPS, p == PP_TLS_TLS13 ? PID : NULL, &kt, NULL, &o);
		assert_false(o.c_ok);
		assert_false(o.d_ok);
		assert_int_equal(o.c_reason, PP_TLS_UNKNOWN_PID);
		assert_string_equal(o.c_pid, PID);
		assert_string_equal(kt.last, PID);
		assert_non_null(strstr(o.c_why, PID));
		assert_int_not_equal(o.d_reason, PP_TLS_OK);
		assert_int_not_equal(o.d_reason, PP_TLS_BAD_KEY);
	}
}

static void test_hint_mismatch(void **state)
{
	(void)state;
	enum pp_tls_profile ps[] = {PP_TLS_AMT_LEGACY, PP_TLS_TLS12};
	for (size_t i = 0; i < 2; i++) {
		/* The server knows both PIDs, but the hello said PID_OTHER: never guess. */
		struct keytab kt = {PID, PPS, 0, ""};
		struct outcome o;
		handshake(ps[i], ps[i], PID, PPS, PID_OTHER, &kt, NULL, &o);
		assert_false(o.c_ok);
		assert_false(o.d_ok);
		assert_int_equal(o.c_reason, PP_TLS_HINT_MISMATCH);
		assert_int_equal(kt.calls, 0);
		assert_non_null(strstr(o.c_why, PID));
		assert_non_null(strstr(o.c_why, PID_OTHER));
		assert_int_equal(o.d_reason, PP_TLS_PROTOCOL);
	}
}

static void drop_hint(SSL *client, SSL *device)
{
	(void)client;
	assert_int_equal(SSL_use_psk_identity_hint(device, NULL), 1);
}

static void test_no_hint(void **state)
{
	(void)state;
	struct keytab kt = {PID, PPS, 0, ""};
	struct outcome o;
	handshake(PP_TLS_TLS12, PP_TLS_TLS12, PID, PPS, NULL, &kt, drop_hint, &o);
	assert_false(o.c_ok);
	assert_int_equal(o.c_reason, PP_TLS_NO_HINT);
	assert_int_equal(kt.calls, 0);
	assert_string_equal(o.c_pid, "");
}

/* The device accepts only P-256 while the client's first key share is X25519: the
 * device answers with a HelloRetryRequest, and the PSK callback runs again with the
 * negotiated hash. */
static void force_hrr(SSL *client, SSL *device)
{
	assert_int_equal(SSL_set1_groups_list(client, "X25519:P-256"), 1);
	assert_int_equal(SSL_set1_groups_list(device, "P-256"), 1);
}

static void test_tls13_hello_retry(void **state)
{
	(void)state;
	struct keytab kt = {PID, PPS, 0, ""};
	struct outcome o;
	handshake(PP_TLS_TLS13, PP_TLS_TLS13, PID, PPS, PID, &kt, force_hrr, &o);
	assert_int_equal(o.c_reason, PP_TLS_OK);
	assert_int_equal(o.d_reason, PP_TLS_OK);
	assert_int_equal(kt.calls, 2);
	assert_int_equal(o.group, NID_X9_62_prime256v1);
	/* And a wrong key is still a wrong key after the retry. */
	struct keytab bad = {PID, PPS_OTHER, 0, ""};
	handshake(PP_TLS_TLS13, PP_TLS_TLS13, PID, PPS, PID, &bad, force_hrr, &o);
	assert_int_equal(o.c_reason, PP_TLS_BAD_KEY);
	assert_int_equal(o.d_reason, PP_TLS_BAD_KEY);
}

static void test_tls13_wrong_identity(void **state)
{
	(void)state;
	/* The hello said PID_OTHER and the server has a key for it, but the device is PID:
	 * the device skips the unknown identity, has no certificate, and fails. */
	struct keytab kt = {PID_OTHER, PPS, 0, ""};
	struct outcome o;
	handshake(PP_TLS_TLS13, PP_TLS_TLS13, PID, PPS, PID_OTHER, &kt, NULL, &o);
	assert_false(o.c_ok);
	assert_false(o.d_ok);
	assert_int_equal(o.d_reason, PP_TLS_UNKNOWN_PID);
	assert_non_null(strstr(o.d_why, PID_OTHER));
	assert_string_equal(o.d_id, PID_OTHER);
	assert_int_equal(o.c_reason, PP_TLS_PROTOCOL);
	assert_string_equal(o.c_pid, PID_OTHER);
}

static void test_profile_mismatch(void **state)
{
	(void)state;
	struct {
		enum pp_tls_profile client, device;
	} cases[] = {
	    {PP_TLS_TLS12, PP_TLS_AMT_LEGACY}, /* TLS 1.2 both, no cipher in common */
	    {PP_TLS_AMT_LEGACY, PP_TLS_TLS12},
	    {PP_TLS_TLS13, PP_TLS_TLS12}, /* no version in common */
	    {PP_TLS_TLS12, PP_TLS_TLS13},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct keytab kt = {PID, PPS, 0, ""};
		struct outcome o;
		print_message("client %s, device %s\n", pp_tls_profile_name(cases[i].client),
			      pp_tls_profile_name(cases[i].device));
		handshake(cases[i].client, cases[i].device, PID, PPS, PID, &kt, NULL, &o);
		assert_false(o.c_ok);
		assert_false(o.d_ok);
		assert_int_equal(o.c_reason, PP_TLS_PROTOCOL);
		assert_int_equal(o.d_reason, PP_TLS_PROTOCOL);
		/* A tls13 client looks its key up before the ClientHello. */
		assert_int_equal(kt.calls, cases[i].client == PP_TLS_TLS13 ? 1 : 0);
	}
	/* The device names the cause. */
	struct keytab kt = {PID, PPS, 0, ""};
	struct outcome o;
	handshake(PP_TLS_TLS12, PP_TLS_AMT_LEGACY, PID, PPS, PID, &kt, NULL, &o);
	assert_non_null(strstr(o.d_why, "no shared cipher"));
}

/* Stands in for pp_tls_negotiated: what OpenSSL says on the client side. */
static void check_negotiated(SSL *c, const char *version, const char *cipher)
{
	char v[PP_TLS_VERSION_MAX + 1], n[PP_TLS_CIPHER_MAX + 1];
	assert_int_equal(pp_tls_negotiated(c, v, sizeof(v), n, sizeof(n)), 0);
	assert_string_equal(v, version);
	assert_string_equal(n, cipher);
}

static void device_tls10(SSL *client, SSL *device)
{
	(void)client;
	assert_int_equal(SSL_set_max_proto_version(device, TLS1_VERSION), 1);
}

static void device_aes256_only(SSL *client, SSL *device)
{
	(void)client;
	assert_int_equal(SSL_set_cipher_list(device, "PSK-AES256-CBC-SHA:@SECLEVEL=0"), 1);
}

static void test_legacy_old_firmware(void **state)
{
	(void)state;
	/* Old AMT firmware speaks TLS 1.0 only, or one of the two suites. */
	struct keytab kt = {PID, PPS, 0, ""};
	struct outcome o;
	handshake(PP_TLS_AMT_LEGACY, PP_TLS_AMT_LEGACY, PID, PPS, PID, &kt, device_tls10, &o);
	assert_int_equal(o.c_reason, PP_TLS_OK);
	assert_int_equal(o.d_reason, PP_TLS_OK);
	assert_string_equal(o.version, "TLSv1");
	assert_string_equal(o.cipher, "PSK-AES128-CBC-SHA");
	handshake(PP_TLS_AMT_LEGACY, PP_TLS_AMT_LEGACY, PID, PPS, PID, &kt, device_aes256_only, &o);
	assert_int_equal(o.c_reason, PP_TLS_OK);
	assert_string_equal(o.cipher, "PSK-AES256-CBC-SHA");
}

/* The emulator serves every profile (it uses the same device contexts); the default
 * client profile reaches each one that speaks TLS <= 1.2, and picks what the device
 * prefers: forward secrecy when it has it, the AMT suite when that is all it has. */
static void test_compat_against_each_device(void **state)
{
	(void)state;
	static const struct {
		enum pp_tls_profile device;
		bool ok;
		const char *version, *cipher;
	} cases[] = {
	    {PP_TLS_COMPAT, true, "TLSv1.2", "ECDHE-PSK-CHACHA20-POLY1305"},
	    {PP_TLS_TLS12, true, "TLSv1.2", "ECDHE-PSK-CHACHA20-POLY1305"},
	    {PP_TLS_AMT_LEGACY, true, "TLSv1.2", "PSK-AES128-CBC-SHA"},
	    {PP_TLS_TLS13, false, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct keytab kt = {PID, PPS, 0, ""};
		struct outcome o;
		print_message("client compat, device %s\n", pp_tls_profile_name(cases[i].device));
		handshake(PP_TLS_PROFILE_DEFAULT, cases[i].device, PID, PPS, PID, &kt, NULL, &o);
		assert_int_equal(o.c_ok, cases[i].ok);
		assert_int_equal(o.c_reason, cases[i].ok ? PP_TLS_OK : PP_TLS_PROTOCOL);
		assert_int_equal(o.d_reason, cases[i].ok ? PP_TLS_OK : PP_TLS_PROTOCOL);
		if (cases[i].ok) {
			assert_string_equal(o.version, cases[i].version);
			assert_string_equal(o.cipher, cases[i].cipher);
		}
	}
	/* And a compat device serves every client profile that speaks TLS <= 1.2. */
	static const enum pp_tls_profile clients[] = {PP_TLS_AMT_LEGACY, PP_TLS_TLS12};
	static const char *const client_cipher[] = {"PSK-AES128-CBC-SHA",
						    "ECDHE-PSK-CHACHA20-POLY1305"};
	for (size_t i = 0; i < 2; i++) {
		struct keytab kt = {PID, PPS, 0, ""};
		struct outcome o;
		handshake(clients[i], PP_TLS_COMPAT, PID, PPS, NULL, &kt, NULL, &o);
		assert_int_equal(o.c_reason, PP_TLS_OK);
		assert_string_equal(o.cipher, client_cipher[i]);
	}
}

static void negotiated_tweak(SSL *client, SSL *device)
{
	char v[PP_TLS_VERSION_MAX + 1], n[PP_TLS_CIPHER_MAX + 1];
	(void)device;
	/* Before the handshake: nothing negotiated. */
	assert_int_equal(pp_tls_negotiated(client, v, sizeof(v), n, sizeof(n)), -PP_ESTATE);
	assert_string_equal(v, "");
	assert_string_equal(n, "");
	assert_int_equal(pp_tls_negotiated(NULL, v, sizeof(v), n, sizeof(n)), -PP_EINVAL);
	assert_int_equal(pp_tls_negotiated(client, NULL, 0, n, sizeof(n)), -PP_EINVAL);
}

/* Old AMT firmware: TLS 1.0 and PSK-AES128-CBC-SHA only. The default reaches it and
 * says what it got; the strict profiles refuse it and say why. */
static void test_old_firmware_default_and_strict(void **state)
{
	(void)state;
	struct pp_err err = {0};
	SSL_CTX *sctx = pp_tls_server_ctx_new(PP_TLS_PROFILE_DEFAULT, &err);
	SSL_CTX *dctx = pp_tls_device_ctx_new(PP_TLS_AMT_LEGACY, &err);
	assert_non_null(sctx);
	assert_non_null(dctx);
	SSL *c = SSL_new(sctx), *d = SSL_new(dctx);
	struct keytab kt = {PID, PPS, 0, ""};
	assert_int_equal(pp_tls_device_attach(d, PID, (const uint8_t *)PPS, &err), 0);
	assert_int_equal(pp_tls_server_attach(c, PID, lookup, &kt, &err), 0);
	device_tls10(c, d);
	assert_int_equal(SSL_set_cipher_list(d, "PSK-AES128-CBC-SHA:@SECLEVEL=0"), 1);
	negotiated_tweak(c, d);
	bool c_ok, d_ok;
	run_pair(c, d, &c_ok, &d_ok);
	assert_true(c_ok);
	check_negotiated(c, "TLSv1", "PSK-AES128-CBC-SHA");
	check_negotiated(d, "TLSv1", "PSK-AES128-CBC-SHA");
	char v[PP_TLS_VERSION_MAX + 1], n[PP_TLS_CIPHER_MAX + 1];
	assert_int_equal(pp_tls_negotiated(c, v, 5, n, sizeof(n)), -PP_EINVAL); /* "TLSv1" */
	assert_int_equal(pp_tls_negotiated(c, v, sizeof(v), n, 18), -PP_EINVAL);
	assert_int_equal(pp_tls_negotiated(c, v, 6, n, 19), 0);
	SSL_free(c);
	SSL_free(d);
	SSL_CTX_free(sctx);
	SSL_CTX_free(dctx);

	static const enum pp_tls_profile strict[] = {PP_TLS_TLS12, PP_TLS_TLS13};
	for (size_t i = 0; i < 2; i++) {
		struct outcome o;
		kt.calls = 0;
		handshake(strict[i], PP_TLS_AMT_LEGACY, PID, PPS, PID, &kt, device_tls10, &o);
		assert_false(o.c_ok);
		assert_int_equal(o.c_reason, PP_TLS_PROTOCOL);
		assert_true(strstr(o.c_why, "protocol version") ||
			    strstr(o.c_why, "handshake failure"));
		assert_non_null(strstr(o.c_why, "profile compat or amt-legacy reaches it"));
	}
}

/* A foreign client that offers another identity with the right key. */
static unsigned int foreign_psk_cb(SSL *ssl, const char *hint, char *identity,
				   unsigned int max_identity_len, unsigned char *psk,
				   unsigned int max_psk_len)
{
	(void)ssl;
	(void)hint;
	if (max_identity_len < 9 || max_psk_len < 32)
		return 0;
	memcpy(identity, PID_OTHER, 9);
	memcpy(psk, PPS, 32);
	return 32;
}

static int foreign_alert = -1;

static void foreign_info_cb(const SSL *ssl, int where, int ret)
{
	(void)ssl;
	if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ))
		foreign_alert = ret & 0xff;
}

static void test_device_unknown_identity(void **state)
{
	(void)state;
	struct pp_err err = {0};
	SSL_CTX *dctx = pp_tls_device_ctx_new(PP_TLS_TLS12, &err);
	SSL_CTX *fctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(dctx);
	assert_non_null(fctx);
	assert_int_equal(SSL_CTX_set_max_proto_version(fctx, TLS1_2_VERSION), 1);
	assert_int_equal(SSL_CTX_set_cipher_list(fctx, "PSK-AES128-GCM-SHA256"), 1);
	SSL_CTX_set_psk_client_callback(fctx, foreign_psk_cb);
	SSL_CTX_set_info_callback(fctx, foreign_info_cb);
	SSL *c = SSL_new(fctx), *d = SSL_new(dctx);
	assert_int_equal(pp_tls_device_attach(d, PID, (const uint8_t *)PPS, &err), 0);
	SSL_set_connect_state(c);
	bool c_ok, d_ok;
	run_pair(c, d, &c_ok, &d_ok);
	assert_false(c_ok);
	assert_false(d_ok);
	char id[PP_TLS_PID_LEN + 1], why[256];
	assert_int_equal(pp_tls_device_result(d, id, why, sizeof(why)), PP_TLS_UNKNOWN_PID);
	print_message("  device: %s\n", why);
	assert_non_null(strstr(why, PID_OTHER));
	assert_string_equal(id, PID_OTHER); /* what the client claimed, for the logs */
	/* RFC 4279 section 2: the server answers an unknown identity with this alert. */
	assert_int_equal(foreign_alert, SSL_AD_UNKNOWN_PSK_IDENTITY);
	SSL_free(c);
	SSL_free(d);
	SSL_CTX_free(fctx);
	SSL_CTX_free(dctx);
}

static int lookup_malformed(void *arg, const char *pid8, uint8_t pps_out[PP_TLS_PPS_LEN])
{
	(void)arg;
	(void)pid8;
	memcpy(pps_out, "nkld-g5dc-rrnq-e9yz-zijl-7lfl-vj", PP_TLS_PPS_LEN);
	return 0;
}

static void test_lookup_malformed_key(void **state)
{
	(void)state;
	enum pp_tls_profile p;
	FOR_EACH_PROFILE(p)
	{
		struct pp_err err = {0};
		SSL_CTX *sctx = pp_tls_server_ctx_new(p, &err);
		SSL_CTX *dctx = pp_tls_device_ctx_new(p, &err);
		SSL *c = SSL_new(sctx), *d = SSL_new(dctx);
		assert_int_equal(pp_tls_device_attach(d, PID, (const uint8_t *)PPS, &err), 0);
		assert_int_equal(pp_tls_server_attach(c, PID, lookup_malformed, NULL, &err), 0);
		bool c_ok, d_ok;
		run_pair(c, d, &c_ok, &d_ok);
		assert_false(c_ok);
		char why[256];
		assert_int_equal(pp_tls_server_result(c, NULL, why, sizeof(why)), PP_TLS_PROTOCOL);
		assert_non_null(strstr(why, "lookup"));
		assert_null(strstr(why, "nkld"));
		SSL_free(c);
		SSL_free(d);
		SSL_CTX_free(sctx);
		SSL_CTX_free(dctx);
	}
}

static void test_fleet_one_ctx(void **state)
{
	(void)state;
	/* One device context serves many devices, each with its own key. */
	static const char *const pids[] = {"0000037M", "ABCDEFGH", "Z0Z0Z0Z0"};
	static const char *const ppss[] = {PPS, PPS_OTHER, "AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHH"};
	struct pp_err err = {0};
	SSL_CTX *sctx = pp_tls_server_ctx_new(PP_TLS_TLS12, &err);
	SSL_CTX *dctx = pp_tls_device_ctx_new(PP_TLS_TLS12, &err);
	assert_non_null(sctx);
	assert_non_null(dctx);
	for (size_t i = 0; i < 3; i++) {
		struct keytab kt = {pids[i], ppss[i], 0, ""};
		struct outcome o;
		handshake_ctx(sctx, dctx, pids[i], ppss[i], NULL, &kt, NULL, &o);
		assert_int_equal(o.c_reason, PP_TLS_OK);
		assert_string_equal(o.c_pid, pids[i]);
		assert_string_equal(o.d_id, pids[i]);
	}
	SSL_CTX_free(sctx);
	SSL_CTX_free(dctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_profile_names),
	    cmocka_unit_test(test_attach_checks),
	    cmocka_unit_test(test_success_each_profile),
	    cmocka_unit_test(test_tls12_any_hint),
	    cmocka_unit_test(test_wrong_pps),
	    cmocka_unit_test(test_unknown_pid),
	    cmocka_unit_test(test_hint_mismatch),
	    cmocka_unit_test(test_no_hint),
	    cmocka_unit_test(test_tls13_hello_retry),
	    cmocka_unit_test(test_tls13_wrong_identity),
	    cmocka_unit_test(test_profile_mismatch),
	    cmocka_unit_test(test_legacy_old_firmware),
	    cmocka_unit_test(test_compat_against_each_device),
	    cmocka_unit_test(test_old_firmware_default_and_strict),
	    cmocka_unit_test(test_device_unknown_identity),
	    cmocka_unit_test(test_lookup_malformed_key),
	    cmocka_unit_test(test_fleet_one_ctx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
