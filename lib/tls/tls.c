/* TLS-PSK contexts and profiles over OpenSSL 3 (docs/protocol.md section 3; RFC 4279 for
 * TLS <= 1.2, RFC 8446 section 4.2.11 for TLS 1.3 external PSKs). */
#include "tls/tls.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "core/clock.h"
#include "core/secret.h"

enum role { ROLE_DEVICE = 1, ROLE_SERVER = 2 };

/* The SSL_CTX app data holds a tag, not a pointer, so the context needs no destructor
 * of ours: bits 0-7 a marker whose low bits no aligned pointer has, bits 8-11 the
 * profile, bits 12-13 the role, bits 16+ the SSL ex_data index of the per-connection
 * data. */
#define TAG_MARK 0x7Bu

struct tls_conn {
	enum role role;
	enum pp_tls_profile profile;
	char pid[PP_TLS_PID_LEN + 1]; /* device: its PID; server: the expected PID or "" */
	uint8_t pps[PP_TLS_PPS_LEN];  /* device only */
	pp_tls_lookup_fn lookup;      /* server only */
	void *lookup_arg;
	int reason;                       /* set by a callback that refused, else PP_TLS_OK */
	bool psk_chosen;                  /* a key was handed to OpenSSL */
	char used_id[PP_TLS_PID_LEN + 1]; /* server: hint or identity offered; device: client's */
	char seen[40];                    /* printable form of a refused hint or identity */
	char detail[128];                 /* a callback's own explanation */
	int alert_sent;                   /* fatal alert description, -1 when none */
	int alert_rcvd;
	bool alert_rcvd_after_hello; /* received while waiting for the ServerHello */
	int local_reason;            /* OpenSSL's reason code when we sent the alert */
	char local_error[96];        /* and its text */
	bool handshake_done;         /* SSL_CB_HANDSHAKE_DONE was seen */
	uint64_t hs_start_ms;        /* SSL_CB_HANDSHAKE_START (monotonic clock) */
	uint64_t hs_ms;              /* the handshake took this long, once hs_timed */
	bool hs_timed;
	bool heard; /* the peer sent a handshake message or an alert */
};

struct profile_def {
	const char *name;
	int min_version, max_version;
	const char *cipher_list;  /* TLS <= 1.2, in preference order */
	const char *ciphersuites; /* TLS 1.3 */
	const char *expect[6];    /* every one must be available; NULL-terminated */
};

#define MODERN_PSK_SUITES                                                                          \
	"ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES128-CBC-SHA256:PSK-AES128-GCM-SHA256"
#define LEGACY_PSK_SUITES "PSK-AES128-CBC-SHA:PSK-AES256-CBC-SHA"

static const struct profile_def profiles[] = {
    [PP_TLS_AMT_LEGACY] =
	{
	    .name = "amt-legacy",
	    .min_version = TLS1_VERSION,
	    .max_version = TLS1_2_VERSION,
	    .cipher_list = LEGACY_PSK_SUITES ":@SECLEVEL=0",
	    .ciphersuites = "",
	    .expect = {"PSK-AES128-CBC-SHA", "PSK-AES256-CBC-SHA", NULL},
	},
    [PP_TLS_TLS12] =
	{
	    .name = "tls12",
	    .min_version = TLS1_2_VERSION,
	    .max_version = TLS1_2_VERSION,
	    .cipher_list = MODERN_PSK_SUITES,
	    .ciphersuites = "",
	    .expect = {"ECDHE-PSK-CHACHA20-POLY1305", "ECDHE-PSK-AES128-CBC-SHA256",
		       "PSK-AES128-GCM-SHA256"},
	},
    /* The client offers psk_dhe_ke only (OpenSSL's default without
     * SSL_OP_ALLOW_NO_DHE_KEX), so every session has an (EC)DHE share. */
    [PP_TLS_TLS13] =
	{
	    .name = "tls13",
	    .min_version = TLS1_3_VERSION,
	    .max_version = TLS1_3_VERSION,
	    .cipher_list = NULL,
	    .ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
	    .expect = {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", NULL},
	},
    /* The default: tls12's suites first, the two AMT suites last, TLS 1.0 to 1.2, so a
     * new user's first real device (AMT firmware: TLS 1.0, PSK-AES128-CBC-SHA) works and
     * any peer that can do better gets forward secrecy.
     *
     * Why offering the legacy suites does not let an attacker force them on a peer that
     * supports the modern ones (RFC 5246 sections 7.4.9 and 8.1, RFC 4279 section 2;
     * the same for TLS 1.0, RFC 2246 section 7.4.9): the version and suite are chosen
     * from the ClientHello, and both Finished messages are a PRF, keyed by the master
     * secret, over the hash of every handshake message, ClientHello and ServerHello
     * included. With a PSK suite the master secret comes from the PSK alone (plus an
     * ECDHE share for ECDHE-PSK), so a man in the middle who rewrote either hello to
     * strip the modern suites or lower the version cannot produce a matching Finished
     * without the PPS: the handshake fails instead of downgrading. Someone who holds the
     * PPS is the device or this server already. There is no fallback retry either (no
     * second ClientHello with fewer suites after a failure), so no SCSV is needed.
     * What the legacy choice costs is forward secrecy with devices that only speak it,
     * the same as amt-legacy; the threat model says so.
     *
     * OpenSSL 3 refuses TLS 1.0/1.1 and SHA-1 MACs above security level 0, so this
     * profile needs @SECLEVEL=0, the lowest level at which its chosen suites (all PSK:
     * no certificate or DH parameters that a level would judge) can be offered. The
     * floor on what is negotiated is the suite list itself, not the level. */
    [PP_TLS_COMPAT] =
	{
	    .name = "compat",
	    .min_version = TLS1_VERSION,
	    .max_version = TLS1_2_VERSION,
	    .cipher_list = MODERN_PSK_SUITES ":" LEGACY_PSK_SUITES ":@SECLEVEL=0",
	    .ciphersuites = "",
	    .expect = {"ECDHE-PSK-CHACHA20-POLY1305", "ECDHE-PSK-AES128-CBC-SHA256",
		       "PSK-AES128-GCM-SHA256", "PSK-AES128-CBC-SHA", "PSK-AES256-CBC-SHA", NULL},
	},
};
_Static_assert(sizeof(profiles) / sizeof(profiles[0]) == PP_TLS_PROFILE_MAX,
	       "one entry per profile");

/* TLS_AES_128_GCM_SHA256: the cipher of the external PSK session. Both tls13 suites
 * hash with SHA-256, so the PSK is usable whichever one the device picks. */
static const unsigned char tls13_psk_cipher_id[2] = {0x13, 0x01};

static void printable(const void *in, size_t n, char *out, size_t cap);

int pp_tls_profile_parse(const char *name, enum pp_tls_profile *out, struct pp_err *err)
{
	if (!name || !out)
		return pp_err_set(err, PP_EINVAL, "TLS profile: missing name");
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		if (strcmp(name, profiles[i].name) == 0) {
			*out = (enum pp_tls_profile)i;
			return 0;
		}
	}
	char shown[40];
	printable(name, strlen(name), shown, sizeof(shown));
	return pp_err_set(err, PP_EINVAL, "unknown TLS profile '%s' (expected %s)", shown,
			  PP_TLS_PROFILE_NAMES);
}

const char *pp_tls_profile_name(enum pp_tls_profile p)
{
	if ((unsigned)p >= sizeof(profiles) / sizeof(profiles[0]))
		return "unknown";
	return profiles[p].name;
}

const char *pp_tls_reason_name(int reason)
{
	switch (reason) {
	case PP_TLS_OK:
		return "ok";
	case PP_TLS_UNKNOWN_PID:
		return "unknown-pid";
	case PP_TLS_HINT_MISMATCH:
		return "hint-mismatch";
	case PP_TLS_NO_HINT:
		return "no-hint";
	case PP_TLS_BAD_KEY:
		return "bad-key";
	case PP_TLS_PROTOCOL:
		return "protocol";
	default:
		return "unknown";
	}
}

/* ---- helpers ---- */

static bool is_symbol(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z');
}

static bool valid_pid(const char *s)
{
	if (!s || strnlen(s, PP_TLS_PID_LEN + 1) != PP_TLS_PID_LEN)
		return false;
	for (size_t i = 0; i < PP_TLS_PID_LEN; i++) {
		if (!is_symbol((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* No early exit: the time taken does not depend on where a bad byte sits. */
static bool valid_pps(const uint8_t *p)
{
	unsigned bad = 0;
	for (size_t i = 0; i < PP_TLS_PPS_LEN; i++)
		bad |= (unsigned)!is_symbol(p[i]);
	return bad == 0;
}

/* A peer-supplied identity or hint, made safe to put in a log line. */
static void printable(const void *in, size_t n, char *out, size_t cap)
{
	const unsigned char *s = in;
	size_t shown = n < 16 ? n : 16, o = 0;
	for (size_t i = 0; i < shown && o + 1 < cap; i++) {
		unsigned char ch = s[i];
		out[o++] = (ch >= 0x21 && ch <= 0x7e && ch != '\'' && ch != '\\') ? (char)ch : '?';
	}
	if (n > shown && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
}

/* The last OpenSSL error as text, then the queue cleared: a failed set-up call must not
 * leave errors that a later SSL_get_error would misread. */
static const char *take_openssl_error(char *buf, size_t cap)
{
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, buf, cap);
	else
		snprintf(buf, cap, "no detail");
	ERR_clear_error();
	return buf;
}

static bool tag_decode(const SSL_CTX *ctx, int *idx, enum role *role, enum pp_tls_profile *p)
{
	uintptr_t v = ctx ? (uintptr_t)SSL_CTX_get_app_data(ctx) : 0;
	if ((v & 0xffu) != TAG_MARK || (v >> 16) == 0 || (v >> 16) > 0xffffu)
		return false;
	*idx = (int)(v >> 16);
	*role = (enum role)((v >> 12) & 3u);
	*p = (enum pp_tls_profile)((v >> 8) & 0xfu);
	return (*role == ROLE_DEVICE || *role == ROLE_SERVER) && *p < PP_TLS_PROFILE_MAX;
}

static struct tls_conn *conn_get(const SSL *ssl)
{
	int idx;
	enum role role;
	enum pp_tls_profile p;
	if (!ssl || !tag_decode(SSL_get_SSL_CTX(ssl), &idx, &role, &p))
		return NULL;
	return SSL_get_ex_data(ssl, idx);
}

static void conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			 void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	struct tls_conn *c = ptr;
	if (!c)
		return;
	pp_wipe(c, sizeof(*c));
	free(c);
}

/* SSL_dup would otherwise copy the pointer and free it twice: the copy starts bare. */
static int conn_dup_cb(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx,
		       long argl, void *argp)
{
	(void)to;
	(void)from;
	(void)idx;
	(void)argl;
	(void)argp;
	*from_d = NULL;
	return 1;
}

/* Records the first fatal alert each way, and OpenSSL's reason for one we send: the
 * result functions classify from these, not from the thread's error queue, which the
 * caller (or libevent) may have cleared by then. */
static void info_cb(const SSL *ssl, int where, int ret)
{
	if (where & SSL_CB_HANDSHAKE_START) {
		struct tls_conn *s = conn_get(ssl);
		if (s && !s->hs_start_ms)
			s->hs_start_ms = pp_now_ms();
	}
	if (where & SSL_CB_HANDSHAKE_DONE) {
		/* Remembered: once the peer drops the connection later, OpenSSL's state no
		 * longer says the handshake was finished. */
		struct tls_conn *d = conn_get(ssl);
		if (d) {
			d->handshake_done = true;
			if (d->hs_start_ms && !d->hs_timed) {
				d->hs_ms = pp_now_ms() - d->hs_start_ms;
				d->hs_timed = true;
			}
		}
		return;
	}
	if (where & SSL_CB_LOOP) {
		/* A state reached by reading means the peer spoke TLS. Remembered: after a
		 * failure libevent resets the SSL, and its state with it. */
		struct tls_conn *h = conn_get(ssl);
		OSSL_HANDSHAKE_STATE st = SSL_get_state(ssl);
		if (h && st != TLS_ST_BEFORE && st != TLS_ST_CW_CLNT_HELLO && !SSL_is_server(ssl))
			h->heard = true;
	}
	if (!(where & SSL_CB_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
		return;
	struct tls_conn *c = conn_get(ssl);
	if (!c)
		return;
	if (where & SSL_CB_READ)
		c->heard = true;
	if (where & SSL_CB_READ) {
		if (c->alert_rcvd < 0) {
			c->alert_rcvd = ret & 0xff;
			c->alert_rcvd_after_hello = SSL_get_state(ssl) == TLS_ST_CW_CLNT_HELLO;
		}
	} else if (c->alert_sent < 0) {
		c->alert_sent = ret & 0xff;
		unsigned long e = ERR_peek_last_error();
		const char *r = e ? ERR_reason_error_string(e) : NULL;
		c->local_reason = e ? ERR_GET_REASON(e) : 0;
		snprintf(c->local_error, sizeof(c->local_error), "%s", r ? r : "no detail");
	}
}

static SSL_SESSION *psk_session_new(SSL *ssl, const uint8_t key[PP_TLS_PPS_LEN])
{
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, tls13_psk_cipher_id);
	SSL_SESSION *s = SSL_SESSION_new();
	if (!cipher || !s || !SSL_SESSION_set1_master_key(s, key, PP_TLS_PPS_LEN) ||
	    !SSL_SESSION_set_cipher(s, cipher) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

/* ---- configuration server (TLS client) callbacks ---- */

static void key_wipe(uint8_t (*key)[PP_TLS_PPS_LEN])
{
	pp_wipe(*key, sizeof(*key));
}

/* The PPS of c->used_id from the caller's lookup into key; false, with the reason noted
 * on c, when there is none or it is malformed. */
static bool server_key(struct tls_conn *c, uint8_t key[PP_TLS_PPS_LEN])
{
	if (c->lookup(c->lookup_arg, c->used_id, key) < 0) {
		c->reason = PP_TLS_UNKNOWN_PID;
		return false;
	}
	if (!valid_pps(key)) {
		c->reason = PP_TLS_PROTOCOL;
		snprintf(c->detail, sizeof(c->detail),
			 "the key lookup returned a PPS that is not 32 characters [0-9A-Z]");
		return false;
	}
	return true;
}

/* TLS <= 1.2: the device's hint is its PID (RFC 4279 section 5.1 allows any hint; AMT
 * sends the PID). Returning 0 makes OpenSSL abort with handshake_failure. */
static unsigned int server_psk_cb(SSL *ssl, const char *hint, char *identity,
				  unsigned int max_identity_len, unsigned char *psk,
				  unsigned int max_psk_len)
{
	struct tls_conn *c = conn_get(ssl);
	pp_cleanup(key_wipe) uint8_t key[PP_TLS_PPS_LEN];

	if (!c || c->role != ROLE_SERVER || !c->lookup)
		return 0;
	if (!hint || !hint[0]) {
		c->reason = PP_TLS_NO_HINT;
		return 0;
	}
	if (!valid_pid(hint)) {
		printable(hint, strnlen(hint, 256), c->seen, sizeof(c->seen));
		c->reason = c->pid[0] ? PP_TLS_HINT_MISMATCH : PP_TLS_UNKNOWN_PID;
		snprintf(c->detail, sizeof(c->detail), "the hint is not a PID");
		return 0;
	}
	if (c->pid[0] && strcmp(hint, c->pid) != 0) {
		printable(hint, PP_TLS_PID_LEN, c->seen, sizeof(c->seen));
		c->reason = PP_TLS_HINT_MISMATCH;
		return 0;
	}
	memcpy(c->used_id, hint, PP_TLS_PID_LEN + 1);
	if (!server_key(c, key))
		return 0;
	if (max_identity_len < PP_TLS_PID_LEN || max_psk_len < PP_TLS_PPS_LEN) {
		c->reason = PP_TLS_PROTOCOL;
		snprintf(c->detail, sizeof(c->detail), "OpenSSL's PSK buffers are too small");
		return 0;
	}
	memcpy(identity, c->used_id, PP_TLS_PID_LEN + 1);
	memcpy(psk, key, PP_TLS_PPS_LEN);
	c->psk_chosen = true;
	return PP_TLS_PPS_LEN;
}

/* TLS 1.3: no hint exists, so the identity offered is the PID from the hello. Called
 * again after a HelloRetryRequest with the negotiated hash in md. Returning 0 aborts:
 * the client never offers a guessed key and never falls back to certificates. */
static int server_use_session_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id,
				 size_t *idlen, SSL_SESSION **sess)
{
	struct tls_conn *c = conn_get(ssl);
	pp_cleanup(key_wipe) uint8_t key[PP_TLS_PPS_LEN];

	*sess = NULL;
	if (!c || c->role != ROLE_SERVER || !c->lookup || !c->pid[0])
		return 0;
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, tls13_psk_cipher_id);
	const EVP_MD *psk_md = cipher ? SSL_CIPHER_get_handshake_digest(cipher) : NULL;
	/* Compare by type: after a HelloRetryRequest md is a provider-fetched EVP_MD, not
	 * the legacy pointer SSL_CIPHER_get_handshake_digest returns. */
	if (!psk_md || (md && EVP_MD_get_type(md) != EVP_MD_get_type(psk_md))) {
		c->reason = PP_TLS_PROTOCOL;
		snprintf(c->detail, sizeof(c->detail), "negotiated hash does not fit the PSK");
		return 0;
	}
	memcpy(c->used_id, c->pid, PP_TLS_PID_LEN + 1);
	if (!server_key(c, key))
		return 0;
	SSL_SESSION *s = psk_session_new(ssl, key);
	if (!s) {
		c->reason = PP_TLS_PROTOCOL;
		snprintf(c->detail, sizeof(c->detail), "cannot make the PSK session");
		return 0;
	}
	*sess = s;
	*id = (const unsigned char *)c->pid;
	*idlen = PP_TLS_PID_LEN;
	c->psk_chosen = true;
	return 1;
}

/* ---- device (TLS server) callbacks ---- */

/* TLS <= 1.2. Returning 0 makes OpenSSL send unknown_psk_identity. */
static unsigned int device_psk_cb(SSL *ssl, const char *identity, unsigned char *psk,
				  unsigned int max_psk_len)
{
	struct tls_conn *c = conn_get(ssl);
	if (!c || c->role != ROLE_DEVICE)
		return 0;
	if (!identity || !valid_pid(identity) || strcmp(identity, c->pid) != 0) {
		if (identity)
			printable(identity, strnlen(identity, 256), c->seen, sizeof(c->seen));
		if (valid_pid(identity))
			memcpy(c->used_id, identity, PP_TLS_PID_LEN + 1);
		c->reason = PP_TLS_UNKNOWN_PID;
		return 0;
	}
	if (max_psk_len < PP_TLS_PPS_LEN)
		return 0;
	memcpy(c->used_id, identity, PP_TLS_PID_LEN + 1);
	memcpy(psk, c->pps, PP_TLS_PPS_LEN);
	c->psk_chosen = true;
	c->reason = PP_TLS_OK;
	return PP_TLS_PPS_LEN;
}

/* TLS 1.3. An identity that is not ours is skipped (*sess = NULL, return 1): OpenSSL
 * tries the client's next identity, and with none left it needs a certificate, which
 * the device does not have, so the handshake fails with handshake_failure. */
static int device_find_session_cb(SSL *ssl, const unsigned char *identity, size_t identity_len,
				  SSL_SESSION **sess)
{
	struct tls_conn *c = conn_get(ssl);
	*sess = NULL;
	if (!c || c->role != ROLE_DEVICE)
		return 0;
	if (identity_len != PP_TLS_PID_LEN || memcmp(identity, c->pid, PP_TLS_PID_LEN) != 0) {
		printable(identity, identity_len, c->seen, sizeof(c->seen));
		if (identity_len == PP_TLS_PID_LEN) {
			char id[PP_TLS_PID_LEN + 1];
			memcpy(id, identity, PP_TLS_PID_LEN);
			id[PP_TLS_PID_LEN] = '\0';
			if (valid_pid(id))
				memcpy(c->used_id, id, sizeof(id));
		}
		c->reason = PP_TLS_UNKNOWN_PID;
		return 1;
	}
	SSL_SESSION *s = psk_session_new(ssl, c->pps);
	if (!s)
		return 0;
	memcpy(c->used_id, c->pid, PP_TLS_PID_LEN + 1);
	*sess = s;
	c->psk_chosen = true;
	c->reason = PP_TLS_OK;
	return 1;
}

/* ---- contexts ---- */

/* Fails when a cipher the profile names is missing: OpenSSL drops what its build or the
 * system security level does not allow, silently. */
static int check_expected_ciphers(SSL_CTX *ctx, const struct profile_def *d, struct pp_err *err)
{
	STACK_OF(SSL_CIPHER) *have = SSL_CTX_get_ciphers(ctx);
	for (size_t i = 0; i < sizeof(d->expect) / sizeof(d->expect[0]) && d->expect[i]; i++) {
		bool found = false;
		for (int j = 0; have && j < sk_SSL_CIPHER_num(have); j++) {
			if (strcmp(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(have, j)),
				   d->expect[i]) == 0)
				found = true;
		}
		if (!found)
			return pp_err_set(err, PP_ECRYPTO,
					  "TLS profile %s: cipher %s is not available (OpenSSL "
					  "build or system security level)",
					  d->name, d->expect[i]);
	}
	return 0;
}

/* Versions, suites and the options every context has. */
static int ctx_configure(SSL_CTX *ctx, const struct profile_def *d, enum role role,
			 struct pp_err *err)
{
	char ebuf[160];
	/* Every connection proves the PPS afresh: no tickets, no session cache, no
	 * renegotiation. The device's order of ciphers wins (forward secrecy first). */
	uint64_t opts = SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
	if (role == ROLE_DEVICE)
		opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
	SSL_CTX_set_options(ctx, opts);
	/* A connection mostly waits for its peer: its read and write buffers (about 34 KiB)
	 * are given back while it does, so thousands of sessions in flight cost little. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!SSL_CTX_set_num_tickets(ctx, 0) ||
	    !SSL_CTX_set_min_proto_version(ctx, d->min_version) ||
	    !SSL_CTX_set_max_proto_version(ctx, d->max_version) ||
	    !SSL_CTX_set_ciphersuites(ctx, d->ciphersuites) ||
	    (d->cipher_list && !SSL_CTX_set_cipher_list(ctx, d->cipher_list)))
		return pp_err_set(err, PP_ECRYPTO, "TLS profile %s: %s", d->name,
				  take_openssl_error(ebuf, sizeof(ebuf)));
	return check_expected_ciphers(ctx, d, err);
}

/* The context's app data: our mark, the profile, the role and the per-connection ex_data
 * index, so that callbacks find their state without globals. */
static int ctx_tag(SSL_CTX *ctx, enum pp_tls_profile p, enum role role, struct pp_err *err)
{
	char ebuf[160];
	int idx = SSL_get_ex_new_index(0, NULL, NULL, conn_dup_cb, conn_free_cb);
	if (idx <= 0 || idx > 0xffff)
		return pp_err_set(err, PP_ECRYPTO, "SSL_get_ex_new_index: %s",
				  take_openssl_error(ebuf, sizeof(ebuf)));
	uintptr_t tag =
	    ((uintptr_t)idx << 16) | ((uintptr_t)role << 12) | ((uintptr_t)p << 8) | TAG_MARK;
	if (!SSL_CTX_set_app_data(ctx, (void *)tag))
		return pp_err_set(err, PP_ECRYPTO, "SSL_CTX_set_app_data: %s",
				  take_openssl_error(ebuf, sizeof(ebuf)));
	return 0;
}

static void ctx_set_psk_callbacks(SSL_CTX *ctx, enum pp_tls_profile p, enum role role)
{
	if (role == ROLE_DEVICE) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		if (p == PP_TLS_TLS13)
			SSL_CTX_set_psk_find_session_callback(ctx, device_find_session_cb);
		else
			SSL_CTX_set_psk_server_callback(ctx, device_psk_cb);
	} else {
		/* No trust anchors are loaded: should a peer ever steer the handshake to a
		 * certificate, verification fails. Only the PSK authenticates the device. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (p == PP_TLS_TLS13)
			SSL_CTX_set_psk_use_session_callback(ctx, server_use_session_cb);
		else
			SSL_CTX_set_psk_client_callback(ctx, server_psk_cb);
	}
}

static SSL_CTX *ctx_new(enum pp_tls_profile p, enum role role, struct pp_err *err)
{
	char ebuf[160];

	if ((unsigned)p >= sizeof(profiles) / sizeof(profiles[0])) {
		pp_err_set(err, PP_EINVAL, "unknown TLS profile %d", (int)p);
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(role == ROLE_DEVICE ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		pp_err_set(err, PP_ECRYPTO, "SSL_CTX_new: %s",
			   take_openssl_error(ebuf, sizeof(ebuf)));
		return NULL;
	}
	if (ctx_configure(ctx, &profiles[p], role, err) < 0 || ctx_tag(ctx, p, role, err) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_info_callback(ctx, info_cb);
	ctx_set_psk_callbacks(ctx, p, role);
	return ctx;
}

SSL_CTX *pp_tls_device_ctx_new(enum pp_tls_profile p, struct pp_err *err)
{
	return ctx_new(p, ROLE_DEVICE, err);
}

SSL_CTX *pp_tls_server_ctx_new(enum pp_tls_profile p, struct pp_err *err)
{
	return ctx_new(p, ROLE_SERVER, err);
}

/* ---- attaching per-connection data ---- */

static int conn_install(SSL *ssl, enum role want, struct tls_conn **out, struct pp_err *err)
{
	int idx;
	enum role role;
	enum pp_tls_profile p;

	*out = NULL;
	if (!ssl)
		return pp_err_set(err, PP_EINVAL, "TLS: no SSL object");
	if (!tag_decode(SSL_get_SSL_CTX(ssl), &idx, &role, &p) || role != want)
		return pp_err_set(err, PP_EINVAL, "TLS: the SSL was not made from a %s context",
				  want == ROLE_DEVICE ? "pp_tls_device_ctx_new"
						      : "pp_tls_server_ctx_new");
	struct tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return pp_err_set(err, PP_ENOMEM, "TLS: out of memory");
	c->role = role;
	c->profile = p;
	c->alert_sent = -1;
	c->alert_rcvd = -1;
	struct tls_conn *old = SSL_get_ex_data(ssl, idx);
	if (!SSL_set_ex_data(ssl, idx, c)) {
		free(c);
		ERR_clear_error();
		return pp_err_set(err, PP_ENOMEM, "TLS: cannot attach connection data");
	}
	conn_free_cb(NULL, old, NULL, idx, 0, NULL);
	*out = c;
	return 0;
}

int pp_tls_device_attach(SSL *ssl, const char *pid8, const uint8_t pps[PP_TLS_PPS_LEN],
			 struct pp_err *err)
{
	struct tls_conn *c;
	char ebuf[160];

	if (!valid_pid(pid8))
		return pp_err_set(err, PP_EINVAL,
				  "TLS: device PID must be 8 characters [0-9A-Z] without dash");
	if (!pps || !valid_pps(pps))
		return pp_err_set(err, PP_EINVAL,
				  "TLS: device PPS must be 32 characters [0-9A-Z] without dashes");
	int rc = conn_install(ssl, ROLE_DEVICE, &c, err);
	if (rc < 0)
		return rc;
	memcpy(c->pid, pid8, PP_TLS_PID_LEN + 1);
	memcpy(c->pps, pps, PP_TLS_PPS_LEN);
	/* TLS <= 1.2 sends the hint in ServerKeyExchange (RFC 4279 section 2). */
	if (c->profile != PP_TLS_TLS13 && !SSL_use_psk_identity_hint(ssl, c->pid))
		return pp_err_set(err, PP_ECRYPTO, "TLS: cannot set the identity hint: %s",
				  take_openssl_error(ebuf, sizeof(ebuf)));
	SSL_set_accept_state(ssl);
	return 0;
}

int pp_tls_server_attach(SSL *ssl, const char *expected_pid8, pp_tls_lookup_fn fn, void *arg,
			 struct pp_err *err)
{
	struct tls_conn *c;
	int idx;
	enum role role;
	enum pp_tls_profile p;

	if (!fn)
		return pp_err_set(err, PP_EINVAL, "TLS: no key lookup function");
	if (expected_pid8 && !valid_pid(expected_pid8))
		return pp_err_set(err, PP_EINVAL,
				  "TLS: expected PID must be 8 characters [0-9A-Z] without dash");
	if (ssl && tag_decode(SSL_get_SSL_CTX(ssl), &idx, &role, &p) && p == PP_TLS_TLS13 &&
	    !expected_pid8)
		return pp_err_set(err, PP_EINVAL,
				  "TLS: profile tls13 needs the device's PID before connecting "
				  "(TLS 1.3 has no identity hint; take it from the hello)");
	int rc = conn_install(ssl, ROLE_SERVER, &c, err);
	if (rc < 0)
		return rc;
	if (expected_pid8)
		memcpy(c->pid, expected_pid8, PP_TLS_PID_LEN + 1);
	c->lookup = fn;
	c->lookup_arg = arg;
	SSL_set_connect_state(ssl);
	return 0;
}

/* ---- results ---- */

/* Whether the handshake failed because the two sides hold different keys, once a PSK
 * was chosen. TLS <= 1.2: the first record under the PSK-derived keys (Finished) fails
 * its MAC, so bad_record_mac (RFC 5246 section 7.2.2) or decrypt_error. TLS 1.3: the
 * server checks the PSK binder in the ClientHello (RFC 8446 section 4.2.11.2); RFC 8446
 * says decrypt_error, OpenSSL 3.0 sends illegal_parameter "binder does not verify", so
 * the client also counts illegal_parameter when it answers its ClientHello. */
static bool key_mismatch(const struct tls_conn *c)
{
	if (!c->psk_chosen)
		return false;
	if (c->alert_sent == SSL_AD_BAD_RECORD_MAC || c->alert_sent == SSL_AD_DECRYPT_ERROR ||
	    c->alert_rcvd == SSL_AD_BAD_RECORD_MAC || c->alert_rcvd == SSL_AD_DECRYPT_ERROR)
		return true;
	if (c->profile != PP_TLS_TLS13)
		return false;
	if (c->alert_sent >= 0 && c->local_reason == SSL_R_BINDER_DOES_NOT_VERIFY)
		return true;
	return c->role == ROLE_SERVER && c->alert_rcvd == SSL_AD_ILLEGAL_PARAMETER &&
	       c->alert_rcvd_after_hello;
}

static const char *alert_name(int desc)
{
	return SSL_alert_desc_string_long(desc);
}

/* One line about the alerts seen, for the PROTOCOL and BAD_KEY cases. */
static void describe_alerts(const struct tls_conn *c, const char *peer, char *buf, size_t cap)
{
	if (c->alert_sent >= 0)
		snprintf(buf, cap, "we sent alert '%s' (%s)", alert_name(c->alert_sent),
			 c->local_error);
	else if (c->alert_rcvd >= 0)
		snprintf(buf, cap, "the %s sent alert '%s'", peer, alert_name(c->alert_rcvd));
	else
		snprintf(buf, cap,
			 "no alert (connection closed, or the handshake is still running)");
}

/* The profiles that refuse what old AMT firmware speaks, and what the operator can do
 * about a device that answered with no version or suite in common. */
static const char *legacy_refused_hint(const struct tls_conn *c)
{
	if (c->profile != PP_TLS_TLS12 && c->profile != PP_TLS_TLS13)
		return "";
	/* tls12 has a key only after the device's hint: past the choice of suite. tls13
	 * has one before its ClientHello: count an answer to that hello. */
	if (c->psk_chosen && (c->profile == PP_TLS_TLS12 || !c->alert_rcvd_after_hello))
		return "";
	int a = c->alert_rcvd >= 0 ? c->alert_rcvd : c->alert_sent;
	if (a != SSL_AD_PROTOCOL_VERSION && a != SSL_AD_HANDSHAKE_FAILURE &&
	    a != SSL_AD_INSUFFICIENT_SECURITY)
		return "";
	return c->profile == PP_TLS_TLS12
		   ? "; profile tls12 refuses TLS 1.0/1.1 and the legacy PSK-AES-CBC-SHA suites "
		     "that AMT firmware speaks (profile compat or amt-legacy reaches it)"
		   : "; profile tls13 refuses TLS <= 1.2, which AMT firmware speaks (profile "
		     "compat or amt-legacy reaches it)";
}

static int finished_result(SSL *ssl, const struct tls_conn *c, const char *who, char *why,
			   size_t cap)
{
	/* Every <= 1.2 suite of ours is PSK; in 1.3 a completed handshake must have
	 * resumed the PSK "session" rather than used a certificate. */
	bool psk_used =
	    c->psk_chosen && (c->profile != PP_TLS_TLS13 || SSL_session_reused(ssl) == 1);
	if (!psk_used) {
		snprintf(why, cap, "handshake completed without the PSK");
		return PP_TLS_PROTOCOL;
	}
	snprintf(why, cap, "%s %s, %s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl), who,
		 c->used_id);
	return PP_TLS_OK;
}

/* Why a server-side handshake did not complete, as a PP_TLS_* outcome. */
static int server_failure(const struct tls_conn *c, char *why, size_t why_cap)
{
	char alerts[192];
	describe_alerts(c, "device", alerts, sizeof(alerts));
	switch (c->reason) {
	case PP_TLS_NO_HINT:
		snprintf(why, why_cap, "the device sent no PSK identity hint");
		return PP_TLS_NO_HINT;
	case PP_TLS_HINT_MISMATCH:
		snprintf(why, why_cap, "the device's hint '%s' is not the expected PID %s%s%s",
			 c->seen, c->pid, c->detail[0] ? ": " : "", c->detail);
		return PP_TLS_HINT_MISMATCH;
	case PP_TLS_UNKNOWN_PID:
		if (c->used_id[0])
			snprintf(why, why_cap, "no key for PID %s", c->used_id);
		else
			snprintf(why, why_cap, "no key for hint '%s'%s%s", c->seen,
				 c->detail[0] ? ": " : "", c->detail);
		return PP_TLS_UNKNOWN_PID;
	case PP_TLS_PROTOCOL:
		snprintf(why, why_cap, "PID %s: %s", c->used_id, c->detail);
		return PP_TLS_PROTOCOL;
	default:
		break;
	}
	if (key_mismatch(c)) {
		snprintf(why, why_cap, "PID %s: the device and this server hold different PPS: %s",
			 c->used_id, alerts);
		return PP_TLS_BAD_KEY;
	}
	if (c->psk_chosen)
		snprintf(why, why_cap, "handshake failed after offering PID %s: %s%s", c->used_id,
			 alerts, legacy_refused_hint(c));
	else
		snprintf(why, why_cap, "handshake failed: %s%s", alerts, legacy_refused_hint(c));
	return PP_TLS_PROTOCOL;
}

/* Why a device-side handshake did not complete, as a PP_TLS_* outcome. */
static int device_failure(const struct tls_conn *c, char *why, size_t why_cap)
{
	char alerts[192];
	describe_alerts(c, "client", alerts, sizeof(alerts));
	if (key_mismatch(c)) {
		snprintf(why, why_cap,
			 "client identity %s, but the client holds a different PPS: %s", c->used_id,
			 alerts);
		return PP_TLS_BAD_KEY;
	}
	if (c->reason == PP_TLS_UNKNOWN_PID && !c->psk_chosen) {
		snprintf(why, why_cap, "client identity '%s' is not this device's PID %s", c->seen,
			 c->pid);
		return PP_TLS_UNKNOWN_PID;
	}
	snprintf(why, why_cap, "handshake failed: %s", alerts);
	return PP_TLS_PROTOCOL;
}

/* The outcome of a connection of the given role: the identity used into id_out (when
 * not NULL), the reason into why (when given). */
static int conn_result(SSL *ssl, enum role role, char id_out[PP_TLS_PID_LEN + 1], char *why,
		       size_t why_cap)
{
	char scratch[8];
	const struct tls_conn *c = conn_get(ssl);

	if (!why || !why_cap) {
		why = scratch;
		why_cap = sizeof(scratch);
	}
	if (id_out)
		id_out[0] = '\0';
	if (!c || c->role != role) {
		snprintf(why, why_cap, "%s",
			 role == ROLE_SERVER
			     ? "not a pskprov TLS client connection (no server attach)"
			     : "not a pskprov TLS device connection (no device attach)");
		return PP_TLS_PROTOCOL;
	}
	if (id_out)
		memcpy(id_out, c->used_id, PP_TLS_PID_LEN + 1);
	if (SSL_is_init_finished(ssl) || c->handshake_done)
		return finished_result(ssl, c, role == ROLE_SERVER ? "PID" : "client identity", why,
				       why_cap);
	return role == ROLE_SERVER ? server_failure(c, why, why_cap)
				   : device_failure(c, why, why_cap);
}

int pp_tls_server_result(SSL *ssl, char pid_out[PP_TLS_PID_LEN + 1], char *why, size_t why_cap)
{
	return conn_result(ssl, ROLE_SERVER, pid_out, why, why_cap);
}

int pp_tls_device_result(SSL *ssl, char id_out[PP_TLS_PID_LEN + 1], char *why, size_t why_cap)
{
	return conn_result(ssl, ROLE_DEVICE, id_out, why, why_cap);
}

int pp_tls_negotiated(const SSL *ssl, char *version, size_t vcap, char *cipher, size_t ccap)
{
	if (!ssl || !version || !vcap || !cipher || !ccap)
		return -PP_EINVAL;
	version[0] = cipher[0] = '\0';
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	struct tls_conn *t = conn_get(ssl);
	if (!c || !(SSL_is_init_finished(ssl) || (t && t->handshake_done)))
		return -PP_ESTATE;
	const char *v = SSL_get_version(ssl), *n = SSL_CIPHER_get_name(c);
	if (!v || !n || strlen(v) >= vcap || strlen(n) >= ccap)
		return -PP_EINVAL;
	memcpy(version, v, strlen(v) + 1);
	memcpy(cipher, n, strlen(n) + 1);
	return 0;
}

bool pp_tls_handshake_time(const SSL *ssl, uint64_t *ms)
{
	struct tls_conn *c = conn_get(ssl);
	if (!c || !c->hs_timed)
		return false;
	*ms = c->hs_ms;
	return true;
}

bool pp_tls_peer_heard(SSL *ssl)
{
	struct tls_conn *c = conn_get(ssl);
	return c && (c->heard || c->handshake_done);
}
