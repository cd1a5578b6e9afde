/* HTTP Digest (RFC 7616 MD5 / RFC 2617) and strict base64: published vectors, our client
 * against our server, and every way a header or credential can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wsman/amt.h"
#include "wsman/digest.h"

#define REALM "Digest:F3EB554784E729164447A89F60B641C5"
#define NOW 1700000000ull

static void assert_err_has(const struct pp_err *err, const char *needle)
{
	if (!strstr(err->msg, needle))
		fail_msg("error '%s' does not mention '%s'", err->msg, needle);
}

static int auth_parse(const char *v, struct pp_digest_auth *a, struct pp_err *err)
{
	return pp_digest_auth_parse(v, strlen(v), a, err);
}

/* ---- published vectors ---- */

/* RFC 2617 section 3.5. */
static const char rfc2617_auth[] = "Digest username=\"Mufasa\",\n"
				   " realm=\"testrealm@host.com\",\n"
				   " nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\n"
				   " uri=\"/dir/index.html\",\n"
				   " qop=auth,\n"
				   " nc=00000001,\n"
				   " cnonce=\"0a4f113b\",\n"
				   " response=\"6629fae49393a05397450978507c4ef1\",\n"
				   " opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

static void test_rfc2617_vector(void **state)
{
	(void)state;
	struct pp_err err;
	uint8_t ha1[16];
	char resp[33];
	struct pp_digest_auth a;

	assert_int_equal(pp_digest_ha1("Mufasa", "testrealm@host.com", "Circle Of Life", ha1, &err),
			 0);
	assert_int_equal(pp_digest_response(ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
					    "0a4f113b", "auth", "GET", "/dir/index.html", resp,
					    &err),
			 0);
	assert_string_equal(resp, "6629fae49393a05397450978507c4ef1");

	/* The RFC's header, line folds replaced by the spaces HTTP/1.1 leaves. */
	char flat[sizeof(rfc2617_auth)];
	memcpy(flat, rfc2617_auth, sizeof(flat));
	for (char *p = flat; *p; p++)
		if (*p == '\n')
			*p = ' ';
	assert_int_equal(auth_parse(flat, &a, &err), 0);
	assert_string_equal(a.username, "Mufasa");
	assert_string_equal(a.realm, "testrealm@host.com");
	assert_string_equal(a.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
	assert_string_equal(a.uri, "/dir/index.html");
	assert_string_equal(a.qop, "auth");
	assert_string_equal(a.nc, "00000001");
	assert_int_equal(a.nc_value, 1);
	assert_string_equal(a.cnonce, "0a4f113b");
	assert_string_equal(a.response, "6629fae49393a05397450978507c4ef1");
	assert_string_equal(a.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
	/* A raw newline inside a header value is not OWS: refused. */
	assert_int_equal(auth_parse(rfc2617_auth, &a, &err), -PP_EINVAL);
}

/* RFC 7616 section 3.9.1, the MD5 half. */
static void test_rfc7616_vector(void **state)
{
	(void)state;
	struct pp_err err;
	uint8_t ha1[16];
	char resp[33];
	assert_int_equal(
	    pp_digest_ha1("Mufasa", "http-auth@example.org", "Circle of Life", ha1, &err), 0);
	assert_int_equal(pp_digest_response(ha1, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
					    "00000001",
					    "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth",
					    "GET", "/dir/index.html", resp, &err),
			 0);
	assert_string_equal(resp, "8ca523f5e9506fed4657c9700eebdbec");

	struct pp_digest_challenge c;
	static const char ch[] =
	    "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", "
	    "algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
	    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	assert_int_equal(pp_digest_challenge_parse(ch, strlen(ch), &c, &err), 0);
	assert_string_equal(c.realm, "http-auth@example.org");
	assert_string_equal(c.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
	assert_true(c.has_opaque);
	assert_false(c.stale);
	assert_int_equal(c.nc, 0);
}

static void test_password_hash(void **state)
{
	(void)state;
	struct pp_err err;
	char b64[25];
	uint8_t ha1[16], back[16];
	assert_int_equal(pp_digest_password_hash("admin", REALM, "P@ssw0rd", b64, &err), 0);
	assert_string_equal(b64, "CuCDARuuPYT8SGzkq0SuHQ==");
	assert_int_equal(pp_digest_ha1("admin", REALM, "P@ssw0rd", ha1, &err), 0);
	assert_int_equal(pp_digest_ha1_from_b64(b64, back, &err), 0);
	assert_memory_equal(ha1, back, 16);
	assert_int_equal(pp_digest_ha1_from_b64("CuCDARuuPYT8SGzkq0SuHQ=", back, &err), -PP_EINVAL);
	assert_int_equal(pp_digest_ha1_from_b64("CuCDARuuPYT8SGzkq0SuHR==", back, &err),
			 -PP_EINVAL);
	assert_int_equal(pp_digest_ha1_from_b64("CuCDARuuPYT8SGzkq0SuHQAA", back, &err),
			 -PP_EINVAL);
	assert_err_has(&err, "16");
}

/* ---- our client against our server ---- */

struct dfx {
	struct pp_digest_server srv;
	struct pp_digest_replay replay;
	struct pp_digest_challenge ch;
	struct pp_digest_auth a;
	uint8_t ha1[16];
	char hdr[PP_DIGEST_AUTH_MAX];
	char chal[PP_DIGEST_CHALLENGE_MAX];
	struct pp_err err;
};

static int dsetup(void **state)
{
	struct dfx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (pp_digest_server_init(&f->srv, REALM, 300, &f->err) < 0 ||
	    pp_digest_ha1("admin", REALM, "P@ssw0rd", f->ha1, &f->err) < 0)
		return -1;
	pp_digest_replay_init(&f->replay);
	*state = f;
	return 0;
}

static int dteardown(void **state)
{
	struct dfx *f = *state;
	pp_digest_server_wipe(&f->srv);
	free(f);
	return 0;
}

/* Challenge at `when`, answered by the client for (method, uri, password). */
static void login(struct dfx *f, uint64_t when, const char *method, const char *uri,
		  const char *password)
{
	assert_int_equal(
	    pp_digest_challenge_make(&f->srv, when, false, f->chal, sizeof(f->chal), &f->err), 0);
	assert_int_equal(pp_digest_challenge_parse(f->chal, strlen(f->chal), &f->ch, &f->err), 0);
	assert_int_equal(pp_digest_authorization_make(&f->ch, method, uri, "admin", password,
						      f->hdr, sizeof(f->hdr), &f->err),
			 0);
	assert_int_equal(auth_parse(f->hdr, &f->a, &f->err), 0);
}

static int verify(struct dfx *f, const char *method, const char *uri, uint64_t now)
{
	return pp_digest_verify(&f->srv, &f->replay, &f->a, method, uri, f->ha1, now, &f->err);
}

static void test_client_server(void **state)
{
	struct dfx *f = *state;
	login(f, NOW, "POST", "/wsman", "P@ssw0rd");
	/* The challenge is what AMT and curl expect. */
	assert_int_equal(strncmp(f->chal, "Digest realm=\"" REALM "\", nonce=\"", 55), 0);
	assert_non_null(strstr(f->chal, "qop=\"auth\""));
	assert_non_null(strstr(f->chal, "algorithm=MD5"));
	assert_null(strstr(f->chal, "stale"));
	/* And the answer is what curl --digest sends. */
	assert_int_equal(strncmp(f->hdr, "Digest username=\"admin\", realm=\"" REALM "\"", 54), 0);
	assert_non_null(strstr(f->hdr, "uri=\"/wsman\""));
	assert_non_null(strstr(f->hdr, "qop=auth, nc=00000001, cnonce=\""));
	assert_int_equal(f->a.nc_value, 1);
	assert_int_equal(strlen(f->a.cnonce), 32);
	assert_int_equal(verify(f, "POST", "/wsman", NOW + 5), 0);

	/* Same nonce, next request: nc 2 passes; replaying either fails as stale. */
	char first[PP_DIGEST_AUTH_MAX];
	memcpy(first, f->hdr, sizeof(first));
	assert_int_equal(pp_digest_authorization_make(&f->ch, "POST", "/wsman", "admin", "P@ssw0rd",
						      f->hdr, sizeof(f->hdr), &f->err),
			 0);
	assert_int_equal(auth_parse(f->hdr, &f->a, &f->err), 0);
	assert_int_equal(f->a.nc_value, 2);
	assert_int_equal(verify(f, "POST", "/wsman", NOW + 6), 0);
	assert_int_equal(verify(f, "POST", "/wsman", NOW + 7), -PP_ETIMEOUT);
	assert_err_has(&f->err, "already used");
	assert_int_equal(auth_parse(first, &f->a, &f->err), 0);
	assert_int_equal(verify(f, "POST", "/wsman", NOW + 7), -PP_ETIMEOUT);
	/* Without a replay table the caller accepts replays within the lifetime. */
	assert_int_equal(
	    pp_digest_verify(&f->srv, NULL, &f->a, "POST", "/wsman", f->ha1, NOW + 7, &f->err), 0);
}

static void test_wrong_credentials(void **state)
{
	struct dfx *f = *state;
	login(f, NOW, "POST", "/wsman", "wrong");
	assert_int_equal(verify(f, "POST", "/wsman", NOW), -PP_EPERM);
	assert_err_has(&f->err, "response does not match");

	login(f, NOW, "POST", "/wsman", "P@ssw0rd");
	assert_int_equal(verify(f, "POST", "/other", NOW), -PP_EPERM);
	assert_err_has(&f->err, "uri");
	assert_int_equal(verify(f, "GET", "/wsman", NOW), -PP_EPERM);
	assert_int_equal(verify(f, "POST", "/wsman", NOW), 0);

	/* A user the server does not know: the caller passes a random HA1. */
	uint8_t unknown[16] = {1, 2, 3};
	login(f, NOW, "POST", "/wsman", "P@ssw0rd");
	assert_int_equal(
	    pp_digest_verify(&f->srv, NULL, &f->a, "POST", "/wsman", unknown, NOW, &f->err),
	    -PP_EPERM);

	/* Another realm. */
	struct pp_digest_server other;
	assert_int_equal(
	    pp_digest_server_init(&other, "Digest:00000000000000000000000000000000", 0, &f->err),
	    0);
	assert_int_equal(other.nonce_lifetime_s, PP_DIGEST_LIFETIME_DEFAULT);
	assert_int_equal(
	    pp_digest_verify(&other, NULL, &f->a, "POST", "/wsman", f->ha1, NOW, &f->err),
	    -PP_EPERM);
	assert_err_has(&f->err, "realm");
	pp_digest_server_wipe(&other);
	assert_int_equal(verify(f, "POST ", "/wsman", NOW), -PP_EINVAL);
}

static void test_stale_and_tampered(void **state)
{
	struct dfx *f = *state;
	login(f, NOW, "POST", "/wsman", "P@ssw0rd");
	assert_int_equal(verify(f, "POST", "/wsman", NOW + 300), 0);
	login(f, NOW, "POST", "/wsman", "P@ssw0rd");
	assert_int_equal(verify(f, "POST", "/wsman", NOW + 301), -PP_ETIMEOUT);
	assert_err_has(&f->err, "stale");
	/* Issued in the future (clock went back): stale too. */
	assert_int_equal(verify(f, "POST", "/wsman", NOW - 1), -PP_ETIMEOUT);
	/* Stale with a wrong password is a wrong password, not stale (RFC 7616 3.3). */
	login(f, NOW, "POST", "/wsman", "bad");
	assert_int_equal(verify(f, "POST", "/wsman", NOW + 1000), -PP_EPERM);

	/* The server answers a stale nonce with stale=true; the client sees it. */
	assert_int_equal(
	    pp_digest_challenge_make(&f->srv, NOW + 301, true, f->chal, sizeof(f->chal), &f->err),
	    0);
	assert_non_null(strstr(f->chal, ", stale=true"));
	assert_int_equal(pp_digest_challenge_parse(f->chal, strlen(f->chal), &f->ch, &f->err), 0);
	assert_true(f->ch.stale);

	/* Tampered nonce: every byte of it is covered by the mac. */
	login(f, NOW, "POST", "/wsman", "P@ssw0rd");
	struct pp_digest_auth good = f->a;
	for (size_t i = 0; i < strlen(good.nonce); i += 7) {
		f->a = good;
		f->a.nonce[i] = f->a.nonce[i] == '0' ? '1' : '0';
		assert_int_equal(verify(f, "POST", "/wsman", NOW), -PP_ECRYPTO);
		assert_err_has(&f->err, "not issued by this server");
	}
	/* A nonce made stale-looking by moving its time forward is refused as forged. */
	f->a = good;
	f->a.nonce[15] = f->a.nonce[15] == 'f' ? 'e' : 'f';
	assert_int_equal(verify(f, "POST", "/wsman", NOW), -PP_ECRYPTO);
	f->a = good;
	f->a.nonce[10] = '\0';
	assert_int_equal(verify(f, "POST", "/wsman", NOW), -PP_ECRYPTO);
	/* The same nonce from a server with another secret. */
	struct pp_digest_server twin;
	assert_int_equal(pp_digest_server_init(&twin, REALM, 300, &f->err), 0);
	f->a = good;
	assert_int_equal(
	    pp_digest_verify(&twin, NULL, &f->a, "POST", "/wsman", f->ha1, NOW, &f->err),
	    -PP_ECRYPTO);
	pp_digest_server_wipe(&twin);
	f->a = good;
	assert_int_equal(verify(f, "POST", "/wsman", NOW), 0);
}

static void test_replay_table_eviction(void **state)
{
	struct dfx *f = *state;
	struct pp_digest_auth oldest;
	/* More live nonces than the table holds, one per second. */
	for (unsigned i = 0; i <= PP_DIGEST_REPLAY_SLOTS; i++) {
		login(f, NOW + i, "POST", "/wsman", "P@ssw0rd");
		if (i == 0)
			oldest = f->a;
		assert_int_equal(verify(f, "POST", "/wsman", NOW + i), 0);
	}
	/* The first was evicted: it cannot be replayed, nor used again with a higher nc. */
	f->a = oldest;
	assert_int_equal(verify(f, "POST", "/wsman", NOW + 70), -PP_ETIMEOUT);
	assert_err_has(&f->err, "no longer tracked");
	/* Newer nonces still work. */
	login(f, NOW + 71, "POST", "/wsman", "P@ssw0rd");
	assert_int_equal(verify(f, "POST", "/wsman", NOW + 71), 0);
}

static void test_escaped_user(void **state)
{
	struct dfx *f = *state;
	const char *user = "we\"ird\\name";
	assert_int_equal(
	    pp_digest_challenge_make(&f->srv, NOW, false, f->chal, sizeof(f->chal), &f->err), 0);
	assert_int_equal(pp_digest_challenge_parse(f->chal, strlen(f->chal), &f->ch, &f->err), 0);
	assert_int_equal(pp_digest_authorization_make(&f->ch, "POST", "/wsman", user, "pw", f->hdr,
						      sizeof(f->hdr), &f->err),
			 0);
	assert_non_null(strstr(f->hdr, "username=\"we\\\"ird\\\\name\""));
	assert_int_equal(auth_parse(f->hdr, &f->a, &f->err), 0);
	assert_string_equal(f->a.username, user);
	assert_int_equal(pp_digest_ha1(user, REALM, "pw", f->ha1, &f->err), 0);
	assert_int_equal(verify(f, "POST", "/wsman", NOW), 0);
	/* Control characters cannot be sent. */
	assert_int_equal(pp_digest_authorization_make(&f->ch, "POST", "/wsman", "a\nb", "pw",
						      f->hdr, sizeof(f->hdr), &f->err),
			 -PP_EINVAL);
	/* Too small an output buffer. */
	assert_int_equal(pp_digest_authorization_make(&f->ch, "POST", "/wsman", "admin", "pw",
						      f->hdr, 40, &f->err),
			 -PP_ETOOBIG);
	assert_int_equal(pp_digest_challenge_make(&f->srv, NOW, false, f->chal, 20, &f->err),
			 -PP_ETOOBIG);
}

/* ---- header strictness ---- */

#define GOOD_TAIL                                                                                  \
	"nonce=\"abc\", uri=\"/wsman\", response=\"6629fae49393a05397450978507c4ef1\", "           \
	"qop=auth, nc=00000001, cnonce=\"0a4f113b\""

static void test_auth_header_rejects(void **state)
{
	(void)state;
	struct pp_err err;
	struct pp_digest_auth a;
	static const struct {
		const char *hdr;
		const char *why;
	} bad[] = {
	    {"Digest username=\"a\", Username=\"b\", realm=\"r\", " GOOD_TAIL, "duplicate"},
	    {"Digest username=\"a\", realm=\"r\", realm=\"r\", " GOOD_TAIL, "duplicate"},
	    {"Digest username=\"a, realm=\"r\", " GOOD_TAIL, "expected ','"},
	    {"Digest realm=\"r\", " GOOD_TAIL ", username=\"abc", "unterminated"},
	    {"Digest realm=\"r\", " GOOD_TAIL ", username=\"abc\\", "unterminated"},
	    {"Digest realm=\"r\", " GOOD_TAIL, "'username' is missing"},
	    {"Digest username=\"a\", " GOOD_TAIL, "'realm' is missing"},
	    {"Digest username=\"a\", realm=\"r\", uri=\"/\", response="
	     "\"6629fae49393a05397450978507c4ef1\", qop=auth, nc=00000001, cnonce=\"x\"",
	     "'nonce' is missing"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", response="
	     "\"6629fae49393a05397450978507c4ef1\", qop=auth, nc=00000001, cnonce=\"x\"",
	     "'uri' is missing"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth, "
	     "nc=00000001, cnonce=\"x\"",
	     "'response' is missing"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", response="
	     "\"6629fae49393a05397450978507c4ef1\", nc=00000001, cnonce=\"x\"",
	     "'qop' is missing"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", response="
	     "\"6629fae49393a05397450978507c4ef1\", qop=auth, cnonce=\"x\"",
	     "'nc' is missing"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", response="
	     "\"6629fae49393a05397450978507c4ef1\", qop=auth, nc=00000001",
	     "'cnonce' is missing"},
	    {"Basic YWRtaW46YWRtaW4=", "not Digest"},
	    {"Digest", "no parameters"},
	    {"Digest username=\"a\", realm=\"r\", " GOOD_TAIL ",", "ends with ','"},
	    {"Digest username=\"a\",, realm=\"r\", " GOOD_TAIL, "parameter name"},
	    {"Digest username=\"a\" realm=\"r\", " GOOD_TAIL, "expected ','"},
	    {"Digest username=, realm=\"r\", " GOOD_TAIL, "no value"},
	    {"Digest username=\"a\", realm=\"r\", " GOOD_TAIL ", algorithm=SHA-256",
	     "not supported"},
	    {"Digest username=\"a\", realm=\"r\", " GOOD_TAIL ", algorithm=MD5-sess",
	     "not supported"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", response="
	     "\"6629fae49393a05397450978507c4ef1\", qop=auth-int, nc=00000001, cnonce=\"x\"",
	     "qop"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", response="
	     "\"6629fae49393a05397450978507c4ef\", qop=auth, nc=00000001, cnonce=\"x\"",
	     "32 hex"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", response="
	     "\"6629fae49393a05397450978507c4efg\", qop=auth, nc=00000001, cnonce=\"x\"",
	     "32 hex"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", response="
	     "\"6629fae49393a05397450978507c4ef1\", qop=auth, nc=1, cnonce=\"x\"",
	     "8 hex"},
	    {"Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"/\", response="
	     "\"6629fae49393a05397450978507c4ef1\", qop=auth, nc=00000000, cnonce=\"x\"",
	     "zero"},
	    {"Digest username=\"a\", realm=\"r\", " GOOD_TAIL ", userhash=true", "userhash"},
	    {"Digest username*=UTF-8''a, realm=\"r\", " GOOD_TAIL, "username*"},
	    {"Digest username=\"a\x01\", realm=\"r\", " GOOD_TAIL, "control character"},
	    {"Digest username=\"\", realm=\"r\", " GOOD_TAIL, "empty"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = auth_parse(bad[i].hdr, &a, &err);
		if (rc >= 0)
			fail_msg("accepted: %s", bad[i].hdr);
		assert_err_has(&err, bad[i].why);
		assert_string_equal(a.username, "");
	}
	/* Too long overall, and a field over its own cap. */
	char *huge = malloc(PP_DIGEST_HEADER_MAX + 64);
	assert_non_null(huge);
	int n = snprintf(huge, PP_DIGEST_HEADER_MAX + 64,
			 "Digest username=\"a\", realm=\"r\", " GOOD_TAIL ", x=\"");
	memset(huge + n, 'x', PP_DIGEST_HEADER_MAX + 64 - (size_t)n - 2);
	huge[PP_DIGEST_HEADER_MAX + 62] = '"';
	huge[PP_DIGEST_HEADER_MAX + 63] = '\0';
	assert_int_equal(auth_parse(huge, &a, &err), -PP_ETOOBIG);
	n = snprintf(huge, PP_DIGEST_HEADER_MAX, "Digest realm=\"r\", " GOOD_TAIL ", username=\"");
	memset(huge + n, 'u', 200);
	memcpy(huge + n + 200, "\"", 2);
	assert_int_equal(auth_parse(huge, &a, &err), -PP_ETOOBIG);
	assert_err_has(&err, "username");
	free(huge);

	/* Accepted variations: case of names and scheme, quoted qop/nc, unknown params,
	 * tabs, escapes, upper-case response (stored lower-case). */
	assert_int_equal(
	    auth_parse("digest USERNAME=\"a\\bc\",\trealm=\"r\" , nonce=\"abc\", "
		       "uri=\"/wsman\", response=\"6629FAE49393A05397450978507C4EF1\", "
		       "qop=\"auth\", nc=\"0000000a\", cnonce=\"0a4f113b\", "
		       "future=token, userhash=false",
		       &a, &err),
	    0);
	assert_string_equal(a.username, "abc");
	assert_int_equal(a.nc_value, 10);
	assert_string_equal(a.response, "6629fae49393a05397450978507c4ef1");
}

static void test_challenge_rejects(void **state)
{
	(void)state;
	struct pp_err err;
	struct pp_digest_challenge c;
	static const struct {
		const char *hdr;
		const char *why;
	} bad[] = {
	    {"Digest nonce=\"n\", qop=\"auth\"", "realm"},
	    {"Digest realm=\"r\", qop=\"auth\"", "nonce"},
	    {"Digest realm=\"r\", nonce=\"n\"", "qop=auth"},
	    {"Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", "qop=auth"},
	    {"Digest realm=\"r\", nonce=\"n\", qop=\"auth\", algorithm=SHA-256", "not supported"},
	    {"Digest realm=\"r\", nonce=\"n\", qop=\"auth\", stale=maybe", "stale"},
	    {"Digest realm=\"r\", realm=\"s\", nonce=\"n\", qop=\"auth\"", "duplicate"},
	    {"Digest realm=\"r, nonce=\"n\", qop=\"auth\"", "expected ','"},
	    {"Digest realm=\"r\", nonce=\"n\", qop=\"auth", "unterminated"},
	    {"Negotiate, Digest realm=\"r\", nonce=\"n\", qop=\"auth\"", "not Digest"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = pp_digest_challenge_parse(bad[i].hdr, strlen(bad[i].hdr), &c, &err);
		if (rc >= 0)
			fail_msg("accepted: %s", bad[i].hdr);
		assert_err_has(&err, bad[i].why);
	}
	/* What AMT sends. */
	static const char amt[] = "Digest realm=\"" REALM "\", nonce=\"4vXfAAAAAAAAAAAAAZRFdDuBh"
				  "Yw=\",stale=\"false\",qop=\"auth\"";
	assert_int_equal(pp_digest_challenge_parse(amt, strlen(amt), &c, &err), 0);
	assert_string_equal(c.realm, REALM);
	assert_false(c.stale);
	assert_false(c.has_opaque);
	/* An empty realm is legal and can be answered; an unparsed challenge cannot. */
	static const char empty_realm[] = "Digest realm=\"\", nonce=\"n\", qop=\"auth\"";
	char out[PP_DIGEST_AUTH_MAX];
	struct pp_digest_auth a;
	assert_int_equal(pp_digest_challenge_parse(empty_realm, strlen(empty_realm), &c, &err), 0);
	assert_int_equal(pp_digest_authorization_make(&c, "POST", "/wsman", "admin", "pw", out,
						      sizeof(out), &err),
			 0);
	assert_int_equal(pp_digest_auth_parse(out, strlen(out), &a, &err), 0);
	assert_string_equal(a.realm, "");
	memset(&c, 0, sizeof(c));
	assert_int_equal(pp_digest_authorization_make(&c, "POST", "/wsman", "admin", "pw", out,
						      sizeof(out), &err),
			 -PP_EINVAL);
	/* Only the given length is read. */
	assert_int_equal(pp_digest_challenge_parse(amt, 20, &c, &err), -PP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc2617_vector),
	    cmocka_unit_test(test_rfc7616_vector),
	    cmocka_unit_test(test_password_hash),
	    cmocka_unit_test_setup_teardown(test_client_server, dsetup, dteardown),
	    cmocka_unit_test_setup_teardown(test_wrong_credentials, dsetup, dteardown),
	    cmocka_unit_test_setup_teardown(test_stale_and_tampered, dsetup, dteardown),
	    cmocka_unit_test_setup_teardown(test_replay_table_eviction, dsetup, dteardown),
	    cmocka_unit_test_setup_teardown(test_escaped_user, dsetup, dteardown),
	    cmocka_unit_test(test_auth_header_rejects),
	    cmocka_unit_test(test_challenge_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
