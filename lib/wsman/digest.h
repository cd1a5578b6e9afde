/* HTTP Digest authentication (RFC 7616 with algorithm=MD5 and qop="auth"; the same bytes
 * as RFC 2617), the way AMT's WS-Management port uses it (docs/protocol.md section 4).
 *
 * Server (device): pp_digest_challenge_make writes a WWW-Authenticate value;
 * pp_digest_auth_parse reads an Authorization value; pp_digest_verify checks it against
 * the stored HA1 = MD5(user ":" realm ":" password). The device stores only HA1.
 *
 * Nonces are stateless and expire: nonce = hex(issued || random || mac), where issued is
 * the issue time (u64 seconds, big-endian), random is 8 bytes and mac is the first 16
 * bytes of HMAC-SHA256(server secret, "pskprov digest nonce v1" NUL || issued || random ||
 * realm): 64 lower-case hex digits. A nonce with a bad mac was not issued by this server
 * (rejected without stale); an expired one with a correct response gets stale=true so the
 * client retries without asking for the password (RFC 7616 section 3.3).
 *
 * Replay: without a struct pp_digest_replay, a captured request can be replayed while its
 * nonce lives (nonce_lifetime_s). With one, each nonce's highest nc is kept in a small
 * table and a request whose nc is not larger is refused as stale; a nonce that may have
 * been evicted from the table is refused as stale too (the client then gets a new one).
 * Keep one table per listener; it is not locked.
 *
 * Client (configuration server): pp_digest_challenge_parse reads a WWW-Authenticate value;
 * pp_digest_authorization_make writes the Authorization value (random cnonce, nc counting
 * up from 1 for the same nonce), the format curl --digest sends. */
#ifndef PSKPROV_WSMAN_DIGEST_H
#define PSKPROV_WSMAN_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PP_DIGEST_HA1_LEN 16
#define PP_DIGEST_SECRET_LEN 32
#define PP_DIGEST_HEADER_MAX 4096 /* longest header value either parser reads */
#define PP_DIGEST_REALM_MAX 128
#define PP_DIGEST_USER_MAX 128
#define PP_DIGEST_NONCE_MAX 128
#define PP_DIGEST_URI_MAX 1024
#define PP_DIGEST_CNONCE_MAX 128
#define PP_DIGEST_OPAQUE_MAX 128
#define PP_DIGEST_CHALLENGE_MAX 512 /* room for pp_digest_challenge_make's output */
#define PP_DIGEST_AUTH_MAX 2048     /* room for pp_digest_authorization_make's output */
#define PP_DIGEST_LIFETIME_DEFAULT 300
#define PP_DIGEST_REPLAY_SLOTS 64

/* HA1 = MD5(user ":" realm ":" password). */
int pp_digest_ha1(const char *user, const char *realm, const char *password,
		  uint8_t ha1[PP_DIGEST_HA1_LEN], struct pp_err *err) PP_WUR;
/* base64(HA1): the DigestPassword of AMT_AuthorizationService.SetAdminAclEntryEx. */
int pp_digest_password_hash(const char *user, const char *realm, const char *password,
			    char out_b64[25], struct pp_err *err) PP_WUR;
/* Strict base64 of exactly 16 bytes back to HA1 (what the device stores). */
int pp_digest_ha1_from_b64(const char *b64, uint8_t ha1[PP_DIGEST_HA1_LEN],
			   struct pp_err *err) PP_WUR;

/* The request-digest of RFC 7616 section 3.4.1 with qop=auth:
 * MD5(hex(HA1) ":" nonce ":" nc ":" cnonce ":" qop ":" hex(MD5(method ":" uri))),
 * as 32 lower-case hex digits into out. */
int pp_digest_response(const uint8_t ha1[PP_DIGEST_HA1_LEN], const char *nonce, const char *nc,
		       const char *cnonce, const char *qop, const char *method, const char *uri,
		       char out[33], struct pp_err *err) PP_WUR;

/* ---- server ---- */

struct pp_digest_server {
	uint8_t secret[PP_DIGEST_SECRET_LEN]; /* keys the nonce mac; never leaves memory */
	char realm[PP_DIGEST_REALM_MAX + 1];
	uint32_t nonce_lifetime_s;
};

/* Random secret; lifetime_s 0 means PP_DIGEST_LIFETIME_DEFAULT. The realm must be
 * printable (no control characters). */
int pp_digest_server_init(struct pp_digest_server *s, const char *realm, uint32_t lifetime_s,
			  struct pp_err *err) PP_WUR;
void pp_digest_server_wipe(struct pp_digest_server *s);

/* WWW-Authenticate value: Digest realm="...", nonce="...", qop="auth", algorithm=MD5
 * [, stale=true]. now is in seconds (time(NULL)). */
int pp_digest_challenge_make(const struct pp_digest_server *s, uint64_t now, bool stale, char *out,
			     size_t cap, struct pp_err *err) PP_WUR;

/* Parsed Authorization value. */
struct pp_digest_auth {
	char username[PP_DIGEST_USER_MAX + 1];
	char realm[PP_DIGEST_REALM_MAX + 1];
	char nonce[PP_DIGEST_NONCE_MAX + 1];
	char uri[PP_DIGEST_URI_MAX + 1];
	char response[33]; /* lower-cased */
	char cnonce[PP_DIGEST_CNONCE_MAX + 1];
	char opaque[PP_DIGEST_OPAQUE_MAX + 1];
	char qop[8]; /* "auth" as sent */
	char nc[9];  /* 8 hex digits as sent */
	uint32_t nc_value;
};

/* Strict: scheme Digest, comma-separated name=value pairs (token or quoted-string with
 * backslash escapes), at most PP_DIGEST_HEADER_MAX bytes, no duplicate names, no empty
 * list elements; requires username, realm, nonce, uri, response, qop, nc, cnonce;
 * qop=auth, algorithm absent or MD5, response 32 hex digits, nc 8 hex digits and not 0;
 * refuses username* and userhash=true; ignores unknown parameters (RFC 7616 3.4). */
int pp_digest_auth_parse(const char *value, size_t len, struct pp_digest_auth *a,
			 struct pp_err *err) PP_WUR;

struct pp_digest_replay_slot {
	uint8_t tag[16];
	uint64_t issued;
	uint32_t nc;
	bool used;
};
struct pp_digest_replay {
	struct pp_digest_replay_slot slot[PP_DIGEST_REPLAY_SLOTS];
	uint64_t floor; /* newest issue time among evicted live nonces */
};
void pp_digest_replay_init(struct pp_digest_replay *r);

/* Checks a parsed Authorization against the request (method, request-target uri exactly
 * as on the request line) and the user's HA1 (for an unknown user pass a random HA1, so
 * the answer and its timing are the same as for a wrong password). Returns 0 when
 * authenticated; -PP_ETIMEOUT when the credentials are right but the nonce is stale,
 * expired or its nc was already used (answer 401 with a stale=true challenge);
 * -PP_ECRYPTO when the nonce was not issued by this server; -PP_EPERM for a wrong realm,
 * uri or response (wrong password, user or method); -PP_EINVAL for unusable input.
 * replay may be NULL (no nc tracking; see the header comment). */
int pp_digest_verify(const struct pp_digest_server *s, struct pp_digest_replay *replay,
		     const struct pp_digest_auth *a, const char *method, const char *uri,
		     const uint8_t ha1[PP_DIGEST_HA1_LEN], uint64_t now, struct pp_err *err) PP_WUR;

/* ---- client ---- */

struct pp_digest_challenge {
	char realm[PP_DIGEST_REALM_MAX + 1];
	char nonce[PP_DIGEST_NONCE_MAX + 1];
	char opaque[PP_DIGEST_OPAQUE_MAX + 1];
	bool has_opaque;
	bool stale;
	uint32_t nc; /* requests made with this nonce; pp_digest_authorization_make adds 1 */
};

/* Parses one Digest challenge (the WWW-Authenticate value that starts with Digest):
 * requires realm, nonce and a qop list containing auth; algorithm absent or MD5; same
 * strictness as pp_digest_auth_parse. */
int pp_digest_challenge_parse(const char *value, size_t len, struct pp_digest_challenge *c,
			      struct pp_err *err) PP_WUR;
/* Authorization value for one request: Digest username="...", realm="...", nonce="...",
 * uri="...", algorithm=MD5, response="...", qop=auth, nc=..., cnonce="..."
 * [, opaque="..."]. cap of PP_DIGEST_AUTH_MAX is always enough. */
int pp_digest_authorization_make(struct pp_digest_challenge *c, const char *method, const char *uri,
				 const char *user, const char *password, char *out, size_t cap,
				 struct pp_err *err) PP_WUR;

#endif
