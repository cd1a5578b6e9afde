/* PSKC (RFC 6030, Portable Symmetric Key Container): the exchange format with
 * manufacturers, docs/protocol.md section 7 [ours, on standards].
 *
 * One KeyPackage per PID. Every value is encrypted with AES-CBC (xmlenc aes128-cbc or
 * aes256-cbc: a random 16-byte IV prepended to the ciphertext, PKCS#7 padding, base64)
 * under one of:
 *   - a pre-shared transport key of 16 or 32 bytes, named by EncryptionKey/ds:KeyName
 *     (RFC 6030 section 6.1);
 *   - a key derived from a passphrase with PBKDF2 (RFC 6030 section 6.2):
 *     EncryptionKey/xenc11:DerivedKey/KeyDerivationMethod (pkcs-5v2-0#pbkdf2) holding
 *     pkcs5:PBKDF2-params with unqualified Salt/Specified, IterationCount, KeyLength and
 *     PRF children, as in RFC 6030 figure 7. The passphrase bytes are used as given
 *     (UTF-8). A missing PRF, or one without an Algorithm (figure 7 writes <PRF/>), is
 *     HMAC-SHA1, the PKCS #5 default; the writer names hmac-sha256.
 * and authenticated per RFC 6030 section 6.1.1: MACMethod names the MAC (xmldsig#hmac-sha1
 * or xmldsig-more#hmac-sha256; the writer uses SHA-256 unless asked), MACMethod/MACKey
 * holds a random MAC key encrypted under the same key, and each value's ValueMAC is
 * HMAC(MAC key, the decoded CipherValue, that is IV || ciphertext). RFC 6030 figure 6
 * (AES-128-CBC, HMAC-SHA1) and figure 7 (PBKDF2) decrypt with pp_pskc_read_secrets.
 *
 * The pskprov profile (what pp_pskc_writer writes and pp_pskc_read requires):
 *
 *   <pskc:KeyContainer Version="1.0" xmlns:pskc=... xmlns:pskprov="urn:pskprov:pskc:1">
 *     <pskc:EncryptionKey> ds:KeyName, or xenc11:DerivedKey </pskc:EncryptionKey>
 *     <pskc:MACMethod Algorithm="...#hmac-sha256"> <pskc:MACKey> xenc </pskc:MACKey>
 *     <pskc:KeyPackage>                                          (one per PID)
 *       <pskc:Key Id="0000037M" Algorithm="urn:pskprov:amt-pps">
 *         <pskc:Data><pskc:Secret>
 *           <pskc:EncryptedValue> xenc, the 32 ASCII bytes of the PPS </pskc:EncryptedValue>
 *           <pskc:ValueMAC> base64 </pskc:ValueMAC>
 *         </pskc:Secret></pskc:Data>
 *         <pskc:Extensions definition="urn:pskprov:pskc:1">
 *           <pskprov:Batch>line-7</pskprov:Batch>
 *           <pskprov:MEBxPassword>
 *             <pskc:EncryptedValue> the MEBx password's ASCII bytes </pskc:EncryptedValue>
 *             <pskc:ValueMAC> base64 </pskc:ValueMAC>
 *           </pskprov:MEBxPassword>
 *         </pskc:Extensions>
 *       </pskc:Key>
 *     </pskc:KeyPackage>
 *     <pskc:Extensions definition="urn:pskprov:pskc:1">
 *       <pskprov:ContainerMAC> base64 </pskprov:ContainerMAC>
 *     </pskc:Extensions>
 *   </pskc:KeyContainer>
 *
 * Key Id is the canonical PID (8 symbols, upper case, no dashes); the Secret is the PPS
 * in the same form, which is also the TLS pre-shared key (docs/protocol.md section 1).
 * [ours] ValueMAC authenticates one value but does not bind it to its PID, and nothing in
 * RFC 6030 notices a KeyPackage removed, duplicated or moved. ContainerMAC closes that:
 *   HMAC(MAC key, "pskprov pskc container v1"
 *                 || for each KeyPackage in document order:
 *                      lp(Key Id) || lp(Key Algorithm) || lp(Batch)
 *                      || lp(Secret CipherValue) || lp(MEBxPassword CipherValue)
 *                 || u32be(number of KeyPackages))
 * with lp(x) = u32be(length of x) || x, CipherValues as decoded bytes, and the MACMethod
 * algorithm. The extension elements sit where RFC 6030 allows foreign elements, so the
 * document stays valid PSKC; other PSKC tools see an ordinary encrypted key.
 *
 * Reading is strict: one EncryptionKey, one MACMethod with MACKey (MACKeyReference is
 * not supported), at least one KeyPackage; elements in schema order; no PlainValue, no
 * Policy (it could restrict the key in ways pskprov does not enforce); no DTD at all (so
 * no entity is ever declared or fetched), no network, libxml2's default depth and text
 * limits, and at most one DOM node per 10 bytes of input (real PSKC spends 20 to 38), so
 * a document of tiny elements cannot make the tree many times its size. Elements that
 * carry nothing pskprov uses (DeviceInfo, Issuer, Counter, foreign extensions, ...) are
 * skipped; so is ds:Signature, which is not verified: the MACs are what is checked. Each value's
 * ValueMAC is verified before the value is decrypted (no padding oracle); a MACKey that does not
 * decrypt is not reported as such but surfaces as the first ValueMAC failing, which says the same
 * thing (wrong key or tampered file).
 *
 * Secrets never appear in error messages; a message names the KeyPackage by number and
 * PID. */
#ifndef PSKPROV_KEYS_PSKC_H
#define PSKPROV_KEYS_PSKC_H

#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/err.h"
#include "keys/csv.h"
#include "keys/keys.h"
#include "keys/record.h"

#define PP_PSKC_NS "urn:ietf:params:xml:ns:keyprov:pskc"
#define PP_PSKC_EXT_NS "urn:pskprov:pskc:1"     /* [ours] extension namespace */
#define PP_PSKC_ALGORITHM "urn:pskprov:amt-pps" /* [ours] Key Algorithm of an AMT PPS */

#define PP_PSKC_DOC_MAX (64u << 20)  /* bytes; a pskprov KeyPackage is about 1.5 KiB */
#define PP_PSKC_KEYS_MAX 1000000u    /* KeyPackages per document */
#define PP_PSKC_VALUE_MAX 128u       /* decrypted bytes of one value */
#define PP_PSKC_KEY_NAME_MAX 64u     /* ds:KeyName / MasterKeyName characters */
#define PP_PSKC_PASSPHRASE_MAX 1024u /* bytes */
#define PP_PSKC_PASSPHRASE_MIN 12u   /* bytes, when writing */
#define PP_PSKC_ITER_MIN 1000u       /* PBKDF2 iterations accepted when reading */
#define PP_PSKC_ITER_MAX 10000000u   /* ... and at most */
#define PP_PSKC_ITER_WRITE_MIN 100000u
#define PP_PSKC_ITER_DEFAULT 600000u /* written when iterations is 0 */
#define PP_PSKC_MAC_KEY_LEN 32u      /* random MAC key the writer makes */

enum pp_pskc_protect { PP_PSKC_TRANSPORT_KEY = 1, PP_PSKC_PASSPHRASE = 2 };

enum pp_pskc_mac {
	PP_PSKC_MAC_DEFAULT = 0, /* HMAC-SHA256 */
	PP_PSKC_MAC_HMAC_SHA256,
	PP_PSKC_MAC_HMAC_SHA1, /* RFC 6030's own examples; for partners that need it */
};

struct pp_pskc_protection {
	enum pp_pskc_protect kind;
	/* TRANSPORT_KEY: the key (16 bytes: AES-128-CBC, 32: AES-256-CBC). PASSPHRASE:
	 * key is unused and key_len is the derived key length the writer uses (16 or 32;
	 * 0 means 32); the reader takes it from the document. */
	const uint8_t *key;
	size_t key_len;
	/* TRANSPORT_KEY: ds:KeyName, required when writing (1..64 printable ASCII, no
	 * space). PASSPHRASE: xenc11:MasterKeyName, optional. When reading, a non-NULL
	 * name must equal the document's; NULL accepts any. */
	const char *key_name;
	const char *passphrase; /* PASSPHRASE: secret; at least 12 bytes when writing */
	uint32_t iterations;    /* writer, PASSPHRASE: 0 = PP_PSKC_ITER_DEFAULT */
	enum pp_pskc_mac mac;   /* writer */
};

/* ---- writer ---- */

/* Collects keys and produces the document. Each key is encrypted as it is added; the
 * writer holds ciphertext only (and the transport or derived key and MAC key, wiped on
 * free). After a failed add the writer refuses further use unless the failure was a
 * validation error (bad key, duplicate PID), which changes nothing. */
struct pp_pskc_writer;

/* prot is copied (the key bytes; a PBKDF2 key is derived here, once, with a random
 * 16-byte salt). */
int pp_pskc_writer_new(const struct pp_pskc_protection *prot, struct pp_pskc_writer **out,
		       struct pp_err *err) PP_WUR;
/* Validates the key (PID and PPS canonical with right checksums, MEBx password policy,
 * batch name) and refuses a PID already added (-PP_EEXIST) or more than
 * PP_PSKC_KEYS_MAX keys (-PP_ETOOBIG). */
int pp_pskc_writer_add(struct pp_pskc_writer *w, const struct pp_key_record *key,
		       struct pp_err *err) PP_WUR;
/* Appends the document (UTF-8, indented) to out, within out's ceiling and
 * PP_PSKC_DOC_MAX (-PP_ETOOBIG). Refuses a writer with no key. Once only. */
int pp_pskc_writer_finish(struct pp_pskc_writer *w, struct pp_buf *out, struct pp_err *err) PP_WUR;
void pp_pskc_writer_free(struct pp_pskc_writer *w); /* accepts NULL */

/* ---- reader ---- */

/* Called once per key, in document order. The key is wiped after the call. A non-zero
 * return stops the read and is returned as is. */
typedef int (*pp_pskc_key_fn)(void *ctx, const struct pp_key_record *key);

/* Reads a pskprov-profile document of len bytes (at most PP_PSKC_DOC_MAX; no NUL
 * needed). All or nothing: the structure, every MAC (each ValueMAC and the
 * ContainerMAC), every decryption, every PID, PPS, MEBx password and batch name, and the
 * absence of duplicate PIDs are checked before cb sees any key, so a tampered,
 * truncated, reordered or wrong-key file makes no callback. Errors: -PP_EINVAL
 * (structure, values, MEBx password policy), -PP_EVERSION (Version other than 1.0),
 * -PP_ETOOBIG (caps), -PP_ECRYPTO (MAC mismatch: wrong key or tampered file),
 * -PP_ECHECKSUM (a PID or PPS checksum inside a valid MAC), -PP_EEXIST (duplicate PID),
 * -PP_ENOMEM. */
int pp_pskc_read(const void *xml, size_t len, const struct pp_pskc_protection *prot,
		 pp_pskc_key_fn cb, void *ctx, struct pp_err *err) PP_WUR;

/* One decrypted Data/Secret, for pp_pskc_read_secrets. */
struct pp_pskc_secret {
	size_t index;          /* KeyPackage number, from 1 */
	const char *id;        /* Key Id */
	const char *algorithm; /* Key Algorithm, "" when absent */
	const uint8_t *value;  /* secret; valid during the call only */
	size_t len;
};
typedef int (*pp_pskc_secret_fn)(void *ctx, const struct pp_pskc_secret *s);

/* Generic RFC 6030 reading under the same rules and the same all-or-nothing checks, for
 * documents of other profiles (RFC 6030's own examples, a partner's test file): any Key
 * Id and Algorithm, any secret of 1..PP_PSKC_VALUE_MAX bytes. pskprov extensions are
 * checked when present (MACs, ContainerMAC) but not required. */
int pp_pskc_read_secrets(const void *xml, size_t len, const struct pp_pskc_protection *prot,
			 pp_pskc_secret_fn cb, void *ctx, struct pp_err *err) PP_WUR;

/* ---- transport key file ---- */

/* A transport key file holds 32 or 64 hex digits (either case) and at most one final
 * newline, nothing else, and must not be readable or writable by group or others
 * (pp_file_check_private). key gets 16 or 32 bytes, *key_len how many; wipe key when
 * done. */
int pp_pskc_transport_key_load(const char *path, uint8_t key[32], size_t *key_len,
			       struct pp_err *err) PP_WUR;
/* Creates path (never overwrites: -PP_EEXIST) with mode 0600 holding a fresh random key
 * of key_len (16 or 32) bytes as lower-case hex and a newline. */
int pp_pskc_transport_key_create(const char *path, size_t key_len, struct pp_err *err) PP_WUR;

#endif
