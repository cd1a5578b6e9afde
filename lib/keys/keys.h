/* Provisioning ID (PID) and Provisioning Passphrase (PPS): text codec, random
 * generation, derivation from a batch secret, and MEBx passwords (docs/protocol.md section 1).
 *
 * Text form. Alphabet 0-9 A-Z. A PID is 8 symbols shown "XXXX-XXXC"; a PPS is 32
 * symbols shown as 8 groups "XXXC-XXXC-...-XXXC". C is a checksum symbol:
 * (sum of the ASCII codes of the symbols it covers) mod 36, as 0-9 then A-Z. It covers
 * the first 7 symbols of a PID and the first 3 symbols of each PPS group.
 *
 * Parsing accepts either case, and either no dashes at all or every dash of the shown
 * form (one after each group of 4 symbols, never first, last or doubled); a partial set
 * of dashes, whitespace or any other character is refused. Errors name the position
 * (characters are counted from 1 in the text as given, dashes included) or the group
 * (from 1) and never repeat the text of a PPS. Format errors are -PP_EINVAL, a wrong
 * checksum -PP_ECHECKSUM.
 *
 * A PPS is a secret: pp_wipe() a struct pp_pps (and its formatted text) when done. */
#ifndef PSKPROV_KEYS_KEYS_H
#define PSKPROV_KEYS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define PP_PID_LEN 8
#define PP_PPS_LEN 32
#define PP_PID_TEXT 10 /* "XXXX-XXXC" + NUL */
#define PP_PPS_TEXT 40 /* "XXXC-XXXC-...-XXXC" (8 groups) + NUL */

#define PP_KEY_GROUP 4          /* symbols per group; the last one is the checksum */
#define PP_KEY_ALPHABET 36      /* 0-9 A-Z */
#define PP_PID_FREE 7           /* random symbols in a PID */
#define PP_PPS_FREE 24          /* random symbols in a PPS: 24 x log2(36) = 124.08 bits */
#define PP_KEY_TEXT_MAX 256     /* parsers refuse longer text without scanning it all */
#define PP_DERIVE_SECRET_MIN 16 /* shortest batch secret pp_pps_derive accepts, bytes */

/* MEBx password length, bytes: the one home of these limits (AMT admits 8 to 32
 * characters); csv.h and store.h name them for their own fields. */
#define PP_MEBX_PW_MIN 8
#define PP_MEBX_PW_MAX 32

struct pp_pid {
	char s[PP_PID_LEN + 1]; /* canonical: upper case, no dashes, NUL-terminated */
};
struct pp_pps {
	char s[PP_PPS_LEN + 1]; /* secret, canonical like pp_pid; wipe with pp_wipe when done */
};

/* (sum of the ASCII codes of sym[0..n)) mod 36 as '0'..'9', 'A'..'Z'. */
char pp_key_checksum(const char *sym, size_t n);

int pp_pid_parse(const char *text, struct pp_pid *out, struct pp_err *err) PP_WUR;
/* On failure *out is wiped. */
int pp_pps_parse(const char *text, struct pp_pps *out, struct pp_err *err) PP_WUR;
/* For pp_cleanup(): wipe a PPS, or its formatted text, when it leaves scope. */
void pp_pps_wipe(struct pp_pps *pps);
void pp_pps_text_wipe(char (*text)[PP_PPS_TEXT]);
/* Both expect a canonical value (from a parser, a generator or pp_pps_derive). */
void pp_pid_format(const struct pp_pid *pid, char out[PP_PID_TEXT]);
/* The one display form, "XXXX-XXXC", of a PID held as text (the store's canonical form
 * or any form pp_pid_parse takes), written to out and returned; "-" for an empty one;
 * text that is no PID is copied as it is (cut to fit). */
const char *pp_pid_text(const char *text, char out[PP_PID_TEXT]);
void pp_pps_format(const struct pp_pps *pps, char out[PP_PPS_TEXT]);
/* True when the value is canonical: right length, upper case, checksums right. */
bool pp_pid_valid(const struct pp_pid *pid);
bool pp_pps_valid(const struct pp_pps *pps);
/* Builds a canonical value from its free symbols (each 0-9 or A-Z), adding checksums. */
void pp_pid_from_symbols(const char sym[PP_PID_FREE], struct pp_pid *out);
void pp_pps_from_symbols(const char sym[PP_PPS_FREE], struct pp_pps *out);

/* A PID as a number, its code: the values (place in 0-9 A-Z) of its 7 free symbols in
 * base 36, the first symbol most significant; 0 <= code < PP_PID_CODES. Digits come
 * before letters in ASCII too, so PIDs sort as their codes do. */
#define PP_PID_CODES 78364164096ULL /* 36^7 */
/* The canonical PID of code (taken modulo PP_PID_CODES). */
void pp_pid_from_code(uint64_t code, struct pp_pid *out);

enum pp_key_kind { PP_KEY_KIND_PID = 1, PP_KEY_KIND_PPS = 2 };
/* Decides PID or PPS from the number of symbols (ignoring dashes) and validates it like
 * the parser of that kind. *kind (may be NULL) is set on success only. */
int pp_key_check(const char *text, enum pp_key_kind *kind, struct pp_err *err) PP_WUR;

/* Rejection sampling of key symbols (docs/protocol.md section 1): a byte b < 252 gives the symbol
 * b % 36 (252 = 7 x 36, so every symbol is equally likely), a byte >= 252 is skipped.
 * Reads in[] in order until `want` symbols are written to out or in[] runs out; stores
 * the number of symbols written in *produced and returns the number of bytes read. */
size_t pp_key_sample(const uint8_t *in, size_t in_len, char *out, size_t want, size_t *produced);

/* Fast CSPRNG generation. A generator pulls RAND_bytes in large blocks and
 * rejection-samples each byte (pp_key_sample); bytes it has used are wiped at once and
 * the rest of its pool on free. Its pool is wiped in a child after fork() (or refilled
 * when the kernel cannot do that), so parent and child never hand out the same key.
 * One generator per thread: it has no lock. */
struct pp_keygen;
int pp_keygen_new(struct pp_keygen **out) PP_WUR;
int pp_keygen_pid(struct pp_keygen *g, struct pp_pid *out) PP_WUR;
int pp_keygen_pps(struct pp_keygen *g, struct pp_pps *out) PP_WUR;
/* count values uniform in [0, n), 2 <= n <= 256, by rejection sampling. */
int pp_keygen_uniform(struct pp_keygen *g, unsigned n, uint8_t *out, size_t count) PP_WUR;
/* n distinct PID codes in increasing order, uniform among such sets: what drawing
 * PIDs one by one and redrawing a repeat gives, sorted, for bulk inserts that walk the
 * PID index in order. n <= PP_PID_CODES / 2. The memory: n more codes for a moment. */
int pp_keygen_pid_codes(struct pp_keygen *g, uint64_t *codes, size_t n) PP_WUR;
/* A password of len (PP_MEBX_PW_MIN..PP_MEBX_PW_MAX) characters that passes
 * pp_mebx_password_check and does not start with a formula lead (pp_formula_lead),
 * drawn uniformly among such strings over the alphabet
 * A-Z a-z 0-9 and the symbols  ! # $ % * + - . = ? @ ^  (none of which needs quoting
 * in XML, JSON, CSV, HTTP Digest or a shell word). out holds len + 1 bytes. */
int pp_keygen_password(struct pp_keygen *g, size_t len, char *out) PP_WUR;
void pp_keygen_free(struct pp_keygen *g); /* accepts NULL */

/* One-off conveniences: a few RAND_bytes on the stack, no generator. */
int pp_pid_generate(struct pp_pid *out) PP_WUR;
int pp_pps_generate(struct pp_pps *out) PP_WUR;

/* Derived PPS [docs/protocol.md section 1, ours]. The symbol stream of (secret, PID) is
 * pp_key_sample applied to the concatenation of the blocks
 *     block 0 = HMAC-SHA256(secret, "pskprov pps v1" || PID)
 *     block i = HMAC-SHA256(secret, "pskprov pps v1" || PID || u32be(i)),  i >= 1
 * where "pskprov pps v1" is its 14 ASCII bytes (no NUL) and PID its 8 canonical ASCII
 * bytes. The PPS takes the first 24 symbols of the stream as the free symbols of its 8
 * groups, in order, and appends each group's checksum. Block 0 almost always suffices
 * (it runs short only when more than 8 of its 32 bytes are >= 252).
 * secret_len >= PP_DERIVE_SECRET_MIN; the PID must be valid. Errors: -PP_EINVAL,
 * -PP_ECRYPTO. *out is wiped on failure. */
int pp_pps_derive(const uint8_t *secret, size_t secret_len, const struct pp_pid *pid,
		  struct pp_pps *out) PP_WUR;
/* The first n symbols of that stream (out gets n bytes, no NUL). */
int pp_key_derive_symbols(const uint8_t *secret, size_t secret_len, const struct pp_pid *pid,
			  char *out, size_t n) PP_WUR;

/* MEBx / AMT admin password policy: 8 to 32 characters of printable ASCII 0x21..0x7E
 * (no spaces), with an upper-case letter, a lower-case letter, a digit and a symbol.
 * As the AMT SDK ("Valid Usernames and Passwords") says: ':' ',' and '"' are refused
 * (they break HTTP Digest), and '_' counts as alphanumeric, not as the symbol.
 * The error names the rule that failed and never repeats the password. */
int pp_mebx_password_check(const char *pw, struct pp_err *err) PP_WUR;

/* True for = + - @ TAB CR: a spreadsheet reads a cell starting with one of them as a
 * formula (the OWASP "CSV injection" rule). Generated passwords never start so; CSV
 * export neutralises such cells (keys/csv.h). The firmware policy allows them. */
bool pp_formula_lead(int c);

#endif
