/* TLS-PSK contexts and profiles over OpenSSL (docs/protocol.md section 3).
 *
 * The device is the TLS server: it sends its PID as the PSK identity hint (TLS <= 1.2)
 * and proves it holds the PPS. The configuration server is the TLS client: it looks
 * the PPS up by the hint (or, in TLS 1.3, by the PID from the hello) and never guesses.
 * The PSK is the 32 ASCII bytes of the PPS without dashes; identity and hint are the
 * 8 ASCII bytes of the PID without dashes. This module takes both as plain ASCII so
 * that it does not depend on the key codec: callers pass canonical upper-case forms.
 *
 * Ownership: a context made here keeps a private tag in its SSL_CTX app data (do not
 * set SSL_CTX_set_app_data on it) and its own info callback (do not replace it). The
 * per-connection data lives in SSL ex_data, is wiped and freed by SSL_free, and is
 * only ever touched by the thread that drives that SSL. Make contexts once per
 * process and profile: each holds one OpenSSL ex_data index for its lifetime. */
#ifndef PSKPROV_TLS_TLS_H
#define PSKPROV_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "core/err.h"

#define PP_TLS_PID_LEN 8
#define PP_TLS_PPS_LEN 32
#define PP_TLS_DEVICE_PORT 16993

enum pp_tls_profile {
	PP_TLS_AMT_LEGACY, /* TLS 1.0-1.2, PSK-AES{128,256}-CBC-SHA only, @SECLEVEL=0 */
	PP_TLS_TLS12,      /* strict modern-only: TLS 1.2, ECDHE-PSK first, no legacy suite */
	PP_TLS_TLS13,      /* TLS 1.3 external PSK, psk_dhe_ke, SHA-256 suites */
	PP_TLS_COMPAT,     /* default: tls12's suites first, then the legacy AMT ones; 1.0-1.2 */
	PP_TLS_PROFILE_MAX
};
/* What reaches real AMT firmware (TLS 1.0, PSK-AES128-CBC-SHA) while any peer that can
 * do better gets forward secrecy: see the compat entry in tls.c. */
#define PP_TLS_PROFILE_DEFAULT PP_TLS_COMPAT
#define PP_TLS_PROFILE_DEFAULT_NAME "compat"
/* For messages and help texts. */
#define PP_TLS_PROFILE_NAMES "compat, tls12, tls13 or amt-legacy"

/* "compat", "tls12", "tls13", "amt-legacy". An unknown name is -PP_EINVAL with one line
 * naming it and the valid ones. */
int pp_tls_profile_parse(const char *name, enum pp_tls_profile *out, struct pp_err *err) PP_WUR;
const char *pp_tls_profile_name(enum pp_tls_profile p);

/* Why a handshake ended the way it did, for logs, backoff and lockout. */
enum pp_tls_reason {
	/* Handshake complete; the PSK authenticated both sides. */
	PP_TLS_OK = 0,
	/* Client: no key for the PID (the handshake fails, nothing is guessed). Device:
	 * the client's identity is not this device's PID. */
	PP_TLS_UNKNOWN_PID,
	/* Client: the device's hint is not the PID its hello carried. */
	PP_TLS_HINT_MISMATCH,
	/* Client: the device sent no identity hint (TLS <= 1.2). */
	PP_TLS_NO_HINT,
	/* A PSK was chosen, then the first record under it failed (bad_record_mac,
	 * decrypt_error; in TLS 1.3 the binder): the two sides hold different PPS. */
	PP_TLS_BAD_KEY,
	/* Anything else: no shared version or cipher, the peer closed, ... Also the answer
	 * before the handshake has ended. */
	PP_TLS_PROTOCOL,
};
const char *pp_tls_reason_name(int reason);

/* After a completed handshake: the negotiated protocol version ("TLSv1", "TLSv1.2",
 * "TLSv1.3") into version and the cipher suite in OpenSSL's name
 * ("PSK-AES128-CBC-SHA", "TLS_AES_128_GCM_SHA256") into cipher, both NUL-terminated.
 * Either side of any context (ours or not). -PP_ESTATE when the handshake has not
 * completed (outputs ""), -PP_EINVAL on NULL or a buffer too small for the name
 * (PP_TLS_VERSION_MAX + 1 and PP_TLS_CIPHER_MAX + 1 bytes are always
 * enough). */
#define PP_TLS_VERSION_MAX 15
#define PP_TLS_CIPHER_MAX 63
int pp_tls_negotiated(const SSL *ssl, char *version, size_t vcap, char *cipher, size_t ccap) PP_WUR;

/* ---- Device side (TLS server) ----
 * One context serves any number of devices (a fleet); the key is set per connection. */
SSL_CTX *pp_tls_device_ctx_new(enum pp_tls_profile p, struct pp_err *err);

/* Puts the device's PID (8 chars [0-9A-Z]) and PPS (32 bytes [0-9A-Z]) on ssl, made from a
 * device context, and sets it to accept. The key is copied into per-SSL data that
 * SSL_free wipes; the caller may wipe its copy at once. */
int pp_tls_device_attach(SSL *ssl, const char *pid8, const uint8_t pps[PP_TLS_PPS_LEN],
			 struct pp_err *err) PP_WUR;

/* After the handshake (finished or failed): the reason, the identity the client
 * presented when it has the form of a PID, ours or not (else empty; id_out may be
 * NULL), and one line for the log (never the key). PP_TLS_BAD_KEY and
 * PP_TLS_UNKNOWN_PID are what the device's backoff counts. */
int pp_tls_device_result(SSL *ssl, char id_out[PP_TLS_PID_LEN + 1], char *why, size_t why_cap);

/* ---- Configuration server side (TLS client) ---- */

/* Finds the PPS for pid8 (NUL-terminated, 8 chars [0-9A-Z]). Returns 0 and fills
 * pps_out when found, < 0 when unknown. Runs inside the handshake: keep it cheap (a
 * pre-fetched cache) and never block. This module wipes pps_out after use. */
typedef int (*pp_tls_lookup_fn)(void *arg, const char *pid8, uint8_t pps_out[PP_TLS_PPS_LEN]);

SSL_CTX *pp_tls_server_ctx_new(enum pp_tls_profile p, struct pp_err *err);

/* Prepares ssl, made from a server context, to connect. expected_pid8 is the PID from
 * the device's hello: with TLS <= 1.2 it is optional (when given, a different hint
 * fails the handshake with PP_TLS_HINT_MISMATCH; pass NULL to accept any hint the lookup
 * knows, e.g. a device that may show its old or its new PID); with tls13 it is
 * required, as it is the identity offered. fn and arg must outlive the handshake. */
int pp_tls_server_attach(SSL *ssl, const char *expected_pid8, pp_tls_lookup_fn fn, void *arg,
			 struct pp_err *err) PP_WUR;

/* After the handshake (finished or failed): the reason, the PID that was used (the
 * hint, or the identity offered; empty when none; pid_out may be NULL) and one line. */
int pp_tls_server_result(SSL *ssl, char pid_out[PP_TLS_PID_LEN + 1], char *why, size_t why_cap);
/* Client side: whether the device sent anything of TLS (a handshake message or an
 * alert). False after a failure means the connection never came up (refused,
 * unreachable, closed before TLS): a connect failure, not a handshake failure. */
bool pp_tls_peer_heard(SSL *ssl);
/* How long the handshake took, in ms (monotonic clock, from OpenSSL's handshake start to
 * its end): true, or false while it is not done. */
bool pp_tls_handshake_time(const SSL *ssl, uint64_t *ms);

#endif
