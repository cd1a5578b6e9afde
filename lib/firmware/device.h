/* The emulated AMT firmware: one device's state and the operations the firmware offers
 * to its console (MEBx), a USB setup file, the factory, the network (TLS-PSK and
 * WS-Management, docs/protocol.md sections 3 and 4) and the host interface (section 5).
 *
 * No networking, no logging, no global state: the programs in src/ put the TLS
 * listener, HTTP/SOAP and hellos on top. A device is small (about 2.2 KiB, no heap but
 * its path) so a fleet process can hold thousands. A device is not thread-safe: one
 * event loop owns it. Nothing here blocks except the write of the device's own state
 * file.
 *
 * Persistence. One JSON file, DIR/device.json, mode 0600 (it holds the PPS in plain
 * text: TLS-PSK needs it). Every operation that changes durable state works on a copy,
 * writes the copy with pp_file_replace (temporary file, fsync, rename, directory
 * fsync) and only then makes it current: when it returns an error the device in memory
 * is what is on disk, unchanged; when it returns 0 the change is durable. A kill at any
 * moment leaves the old or the new file. Stray temporary files a crash leaves beside it
 * (device.json.tmp.*, device.json.new.*) are ignored, never read. One process owns a
 * state directory at a time.
 *
 * Memory only (never written, reset by pp_amt_load): the hello schedule, the failed
 * TLS handshake counter and its backoff deadline. Audit events of operations that change
 * nothing durable (failed console login, failed handshake, start configuration) are kept
 * in memory and reach the file with the next save.
 *
 * Secrets. The MEBx password is never stored: the device keeps its Digest HA1 for user
 * "admin" (MD5("admin:" realm ":" password), needed to answer Digest in In-Setup) and a
 * PBKDF2-HMAC-SHA256 verifier (16-byte random salt, 32-byte output) for the console and
 * USB checks, compared in constant time. The factory default password "admin" has no
 * verifier: the flag factory_default says the password is still "admin". The admin
 * account is a user name and its HA1 only. The PPS is kept in plain text. Secrets never
 * appear in error messages or audit events; pp_amt_free wipes the device.
 *
 * States (docs/protocol.md section 4, ProvisioningState):
 *   Pre-Setup   no key; only the console, a USB record or a factory load change it.
 *   In-Setup    has a PID/PPS; sends hellos, serves TLS-PSK; Digest user "admin" with
 *               the MEBx password.
 *   Post-Setup  provisioned; Digest with the admin account set by SetAdminAclEntryEx.
 *
 * Errors: -PP_ESTATE when the operation is not allowed in the current state, -PP_EPERM
 * for wrong credentials, -PP_EINVAL for bad parameters, -PP_EIO when the state file
 * cannot be written, -PP_ECRYPTO when the crypto library fails. */
#ifndef PSKPROV_FIRMWARE_DEVICE_H
#define PSKPROV_FIRMWARE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/err.h"
#include "keys/keys.h"

#define PP_AMT_DEV_STATE_FILE "device.json"
#define PP_AMT_DEV_FORMAT 1              /* "format" in the state file */
#define PP_AMT_DEV_STATE_MAX (64 * 1024) /* state files larger than this are refused */
#define PP_AMT_DEV_REALM_LEN 39          /* "Digest:" + 32 upper-case hex digits */
#define PP_AMT_DEV_HA1_LEN 16            /* MD5 */
#define PP_AMT_DEV_USER_MAX 32           /* admin account user name, characters */
#define PP_AMT_DEV_HOST_MAX 63           /* host name: one DNS label */
#define PP_AMT_DEV_FQDN_MAX 253          /* domain name, server FQDN */
#define PP_AMT_DEV_BIOS_MAX 64           /* PTHI GetCodeVersions BIOS string */
#define PP_AMT_DEV_VERSION_MAX 20        /* PTHI version table strings */
#define PP_AMT_DEV_AUDIT_MAX 16          /* events kept; the oldest is dropped */
#define PP_AMT_DEV_AUDIT_TEXT 64         /* bytes per event text, NUL included */
#define PP_AMT_DEV_PBKDF2_DEFAULT 10000  /* iterations of the MEBx verifier */
/* A volatile device's verifier (pp_amt_create_volatile): PBKDF2's work factor guards a
 * state file against offline guessing, and such a device has no file. */
#define PP_AMT_DEV_PBKDF2_VOLATILE 1
#define PP_AMT_DEV_PBKDF2_MIN 1000
#define PP_AMT_DEV_PBKDF2_MAX 10000000
#define PP_AMT_DEV_FACTORY_PASSWORD "admin" /* MEBx password as shipped */
#define PP_AMT_DEV_DIGEST_USER "admin"      /* Digest user in In-Setup */
#define PP_AMT_DEV_SERVER_PORT 9971         /* default configuration server port */
#define PP_AMT_DEV_TLS_MODE_PSK 1           /* GetProvisioningTLSMode: 1 PSK, 2 PKI */
#define PP_AMT_DEV_HELLO_COUNT 15           /* hellos per trigger, RetryCount 0..14 */
#define PP_AMT_DEV_BACKOFF_FIRST_MS 1000    /* after the first failed handshake */
#define PP_AMT_DEV_BACKOFF_MAX_MS 600000    /* doubling, capped at 10 minutes */
#define PP_AMT_DEV_TIME_MAX 4294967295LL    /* AMT clock values are u32 seconds */

enum pp_amt_setup_state {
	PP_AMT_PRE_SETUP = 0,
	PP_AMT_IN_SETUP = 1,
	PP_AMT_POST_SETUP = 2,
};

/* ProvisioningMode as reported by AMT_SetupAndConfigurationService. PSK (one-touch)
 * setup is enterprise mode; small business mode is kept for completeness. */
enum pp_amt_prov_mode {
	PP_AMT_MODE_ENTERPRISE = 1,
	PP_AMT_MODE_SMALL_BUSINESS = 2,
};

/* Unprovision(ProvisioningMode) [ours: docs/protocol.md leaves the values open]. The value
 * the WS-Management glue passes through, and the console uses:
 *   PARTIAL (1): Post or In-Setup -> In-Setup. The next key set by SetTLSPSK (if any)
 *     becomes the current PID/PPS; the admin account is removed; the MEBx password,
 *     server address, host and domain names, network flag and clock are kept. Hellos
 *     start again.
 *   FULL (2): any state -> Pre-Setup, factory defaults: PID/PPS and next key wiped, MEBx
 *     password back to "admin", admin account, server address, host and domain names
 *     removed, network enabled. UUID, realm, firmware versions, clock offset and the
 *     audit ring are kept (they belong to the hardware). */
#define PP_AMT_DEV_UNPROVISION_PARTIAL 1u
#define PP_AMT_DEV_UNPROVISION_FULL 2u

/* Configuration server address (docs/protocol.md section 2, "Server discovery"). */
struct pp_amt_server {
	bool has_ipv4;
	uint8_t ipv4[4];                    /* a.b.c.d = {a, b, c, d} */
	char fqdn[PP_AMT_DEV_FQDN_MAX + 1]; /* "" when none; else pp_valid_fqdn */
	uint16_t port;                      /* 1..65535 */
};

/* Firmware identity: PTHI GetCodeVersions and CIM_SoftwareIdentity. Printable ASCII. */
struct pp_amt_versions {
	char bios[PP_AMT_DEV_BIOS_MAX + 1];
	char amt[PP_AMT_DEV_VERSION_MAX + 1];   /* e.g. "6.2.61" */
	char build[PP_AMT_DEV_VERSION_MAX + 1]; /* build number */
	char sku[PP_AMT_DEV_VERSION_MAX + 1];
};

struct pp_amt_general_settings {
	char digest_realm[PP_AMT_DEV_REALM_LEN + 1];
	char host_name[PP_AMT_DEV_HOST_MAX + 1];   /* "" when unset */
	char domain_name[PP_AMT_DEV_FQDN_MAX + 1]; /* "" when unset */
	bool network_enabled;                      /* AMTNetworkEnabled */
};

struct pp_amt_audit_event {
	int64_t time; /* device time (host clock + time offset), Unix seconds */
	char text[PP_AMT_DEV_AUDIT_TEXT];
};

struct pp_amt_device;

/* ---- lifecycle and persistence ---- */

struct pp_amt_create_opts {
	const uint8_t *uuid;        /* 16 bytes, RFC 4122 order; NULL: random (version 4) */
	uint32_t pbkdf2_iterations; /* 0: PP_AMT_DEV_PBKDF2_DEFAULT; else MIN..MAX */
	uint32_t mode;              /* 0: PP_AMT_MODE_ENTERPRISE */
	/* NULL: the defaults ("pskprov emulated BIOS", "6.2.61", "3535", "AMT Pro"). */
	const struct pp_amt_versions *versions;
};

/* Creates DIR (mode 0700 when missing) and DIR/device.json for a new Pre-Setup device:
 * random UUID (unless given) and realm, MEBx password "admin" (factory default), no
 * key. Refuses (-PP_EEXIST) when DIR/device.json exists; the file appears atomically
 * and complete (written beside it, then hard-linked into place). opts may be NULL. */
int pp_amt_create(const char *dir, const struct pp_amt_create_opts *opts,
		  struct pp_amt_device **out, struct pp_err *err) PP_WUR;

/* A new Pre-Setup device as pp_amt_create makes it, but with no state directory: its
 * state lives in memory only, and every change (pp_amt_save included) succeeds without
 * writing anything. For `pskprov fleet` without --state-dir, whose state directories
 * were private and removed at exit anyway: a crash could leave nothing anyone reads, so
 * the atomic writes bought nothing there. Its MEBx verifier takes opts'
 * pbkdf2_iterations, or when 0 PP_AMT_DEV_PBKDF2_VOLATILE; pp_amt_serialize refuses it
 * (-PP_ESTATE: no state file to write). opts may be NULL. */
int pp_amt_create_volatile(const struct pp_amt_create_opts *opts, struct pp_amt_device **out,
			   struct pp_err *err) PP_WUR;

/* Reads DIR/device.json strictly: at most PP_AMT_DEV_STATE_MAX bytes, mode 0600 (a
 * file readable by others is refused, -PP_EPERM), every key known and present, every
 * value checked (lengths, ranges, hex, checksums, state, realm format, consistency
 * between fields). A bad file gives one line naming the field ("field 'mebx.salt':
 * ..."), never a secret. The hello schedule starts as at power-on: running when the
 * device is In-Setup. */
int pp_amt_load(const char *dir, struct pp_amt_device **out, struct pp_err *err) PP_WUR;

/* The parser of pp_amt_load on a buffer (no file, no mode check). The device it makes
 * has no state directory: operations that change durable state fail with -PP_ESTATE
 * on it. */
int pp_amt_parse(const void *data, size_t len, struct pp_amt_device **out,
		 struct pp_err *err) PP_WUR;

/* Appends the state file text (JSON, ends with a newline) to out. out holds secrets:
 * free it with pp_buf_free_wipe. */
int pp_amt_serialize(const struct pp_amt_device *dev, struct pp_buf *out,
		     struct pp_err *err) PP_WUR;

/* Writes the device as it is in memory (e.g. to flush memory-only audit events). */
int pp_amt_save(struct pp_amt_device *dev, struct pp_err *err) PP_WUR;

/* Wipes and frees; accepts NULL. */
void pp_amt_free(struct pp_amt_device *dev);
/* For pp_cleanup(pp_amt_freep) on a struct pp_amt_device pointer. */
void pp_amt_freep(struct pp_amt_device **dev);

/* DIR/device.json, or NULL for a device from pp_amt_parse. */
const char *pp_amt_path(const struct pp_amt_device *dev);

/* ---- plain getters (also the PTHI values, docs/protocol.md section 5) ---- */

enum pp_amt_setup_state pp_amt_state(const struct pp_amt_device *dev);
/* "Pre-Setup", "In-Setup", "Post-Setup"; "?" for a value outside the enum. */
const char *pp_amt_state_name(enum pp_amt_setup_state s);
uint32_t pp_amt_provisioning_mode(const struct pp_amt_device *dev);
void pp_amt_uuid(const struct pp_amt_device *dev, uint8_t out[16]); /* RFC 4122 order */
const char *pp_amt_realm(const struct pp_amt_device *dev);
void pp_amt_versions(const struct pp_amt_device *dev, struct pp_amt_versions *out);
uint32_t pp_amt_tls_mode(const struct pp_amt_device *dev); /* PP_AMT_DEV_TLS_MODE_PSK */
/* True while the MEBx password is the factory default "admin". The hello's
 * AdminCredentialsSet is its negation. */
bool pp_amt_mebx_is_factory_default(const struct pp_amt_device *dev);
/* Current PID (CFG_GetPID). -PP_ESTATE in Pre-Setup (no key). */
int pp_amt_pid(const struct pp_amt_device *dev, struct pp_pid *out, struct pp_err *err) PP_WUR;
/* Next PID set by SetTLSPSK; -PP_ENOTFOUND when none is pending. */
int pp_amt_next_pid(const struct pp_amt_device *dev, struct pp_pid *out, struct pp_err *err) PP_WUR;
void pp_amt_server(const struct pp_amt_device *dev, struct pp_amt_server *out);
/* Where hellos go (docs/protocol.md section 2): the configured IPv4, else the configured
 * FQDN, else "ProvisionServer.<domain>", else "ProvisionServer"; *port the configured
 * port. -PP_ETOOBIG when host (cap bytes) is too small (256 always suffices). */
int pp_amt_server_target(const struct pp_amt_device *dev, char *host, size_t cap, uint16_t *port,
			 struct pp_err *err) PP_WUR;
/* Admin account user name, "" when none is set. */
const char *pp_amt_admin_user(const struct pp_amt_device *dev);
int64_t pp_amt_time_offset(const struct pp_amt_device *dev);

/* Audit ring, oldest first: i in 0..count-1. Returns -PP_ENOTFOUND past the end. */
size_t pp_amt_audit_count(const struct pp_amt_device *dev);
int pp_amt_audit_get(const struct pp_amt_device *dev, size_t i,
		     struct pp_amt_audit_event *out) PP_WUR;

/* ---- factory, console (MEBx), USB ---- */

/* Factory / one-touch load: Pre-Setup -> In-Setup with the key record's PID, PPS and
 * MEBx password (which must pass pp_mebx_password_check). server may be NULL (keep).
 * Repeating it on an In-Setup device with the same PID, PPS and password succeeds
 * without change; any other call outside Pre-Setup is -PP_ESTATE. */
int pp_amt_load_key(struct pp_amt_device *dev, const char *pid, const char *pps,
		    const char *new_mebx_password, const struct pp_amt_server *server,
		    struct pp_err *err) PP_WUR;

/* Checks the MEBx password (any state): 0 or -PP_EPERM. While the factory default is
 * set the password is "admin"; the console must then make the user change it
 * (pp_amt_mebx_is_factory_default) before anything else, as MEBx does. A failure is
 * audited (memory only). The console_set_* calls below trust that the caller logged
 * in first: the library has no console session. */
int pp_amt_console_login(struct pp_amt_device *dev, const char *password,
			 struct pp_err *err) PP_WUR;
/* Any state. old must be the current password (-PP_EPERM), new_pw must pass the policy
 * (-PP_EINVAL, pp_mebx_password_check). */
int pp_amt_console_change_password(struct pp_amt_device *dev, const char *old, const char *new_pw,
				   struct pp_err *err) PP_WUR;
/* Sets the current PID/PPS: Pre-Setup -> In-Setup, or replaces the key in In-Setup
 * (hellos restart). -PP_ESTATE in Post-Setup or while the password is the factory
 * default. The same key again succeeds without change. */
int pp_amt_console_set_key(struct pp_amt_device *dev, const char *pid, const char *pps,
			   struct pp_err *err) PP_WUR;
/* Pre-Setup or In-Setup, password not the factory default; -PP_ESTATE otherwise. */
int pp_amt_console_set_server(struct pp_amt_device *dev, const struct pp_amt_server *server,
			      struct pp_err *err) PP_WUR;

/* One decoded setup.bin record (docs/protocol.md section 6); NULL means absent. */
struct pp_amt_usb_record {
	const char *current_password; /* 1/1, required */
	const char *new_password;     /* 1/2, required */
	const char *pid;              /* 2/1 and 2/2: both or neither */
	const char *pps;
	const struct pp_amt_server *server; /* 2/17, 2/4, 2/18 */
	const char *host_name;              /* 2/11 */
	const char *domain_name;            /* 2/12 */
};

/* Applies a record only while the MEBx password is still "admin" (which means
 * Pre-Setup) and the record's current password is "admin" (-PP_EPERM if not): sets the
 * new password (policy-checked), and when the record has a key, the PID/PPS (-> In-Setup,
 * hellos start), server and names. Consuming the record is the caller's job, after this
 * returns 0. Crash safety: when the device already holds what the record would set
 * (same new password, and same PID/PPS if the record has them) this returns 0 without
 * change, so a record applied but not consumed before a crash is consumed at the next
 * boot. Otherwise, once the password is not the factory default: -PP_ESTATE. */
int pp_amt_usb_apply(struct pp_amt_device *dev, const struct pp_amt_usb_record *rec,
		     struct pp_err *err) PP_WUR;

/* ---- WS-Management (docs/protocol.md section 4) ----
 * Called after Digest authentication succeeded. All require In-Setup or Post-Setup
 * (-PP_ESTATE in Pre-Setup: the device serves no network then). */

/* HA1 for Digest user `user` (RFC 7616): In-Setup accepts only "admin" with the MEBx
 * password's HA1; Post-Setup accepts only the admin account set by SetAdminAclEntryEx,
 * and no longer the MEBx password (as on real AMT, where the MEBx password then only
 * opens the local MEBx). An unknown user is -PP_EPERM (the HTTP layer should still
 * compute a response against a dummy HA1 so timing does not reveal user names);
 * Pre-Setup is -PP_ESTATE. */
int pp_amt_digest_ha1(const struct pp_amt_device *dev, const char *user,
		      uint8_t ha1[PP_AMT_DEV_HA1_LEN], struct pp_err *err) PP_WUR;

int pp_amt_get_general_settings(const struct pp_amt_device *dev,
				struct pp_amt_general_settings *out, struct pp_err *err) PP_WUR;
/* host_name: "" or one DNS label (1..63 of A-Z a-z 0-9 '-', no '-' first or last);
 * domain_name: "" or a DNS name (pp_valid_fqdn). NULL keeps a value. DigestRealm is
 * read-only. Same values again: success without change. */
int pp_amt_put_general_settings(struct pp_amt_device *dev, const char *host_name,
				const char *domain_name, bool network_enabled,
				struct pp_err *err) PP_WUR;
/* ProvisioningState (enum pp_amt_setup_state) and ProvisioningMode. */
int pp_amt_get_setup_config(const struct pp_amt_device *dev, uint32_t *state, uint32_t *mode,
			    struct pp_err *err) PP_WUR;
/* SetMEBxPassword: policy-checked. In In-Setup the Digest password for "admin" changes
 * with it at once (the next request must use the new one). Same password: success
 * without change. */
int pp_amt_set_mebx_password(struct pp_amt_device *dev, const char *password,
			     struct pp_err *err) PP_WUR;
/* SetTLSPSK: the key for the next setup (text as decoded from base64, either case,
 * dashes optional). Stored as the pending next key; it becomes the current key at a
 * partial Unprovision. Repeating replaces it (the same key: no change). */
int pp_amt_set_tls_psk(struct pp_amt_device *dev, const char *pid, const char *pps,
		       struct pp_err *err) PP_WUR;
/* SetAdminAclEntryEx: user 1..32 printable ASCII characters without space, ':' ','
 * '"' or '\'; digest_password_b64 = base64(MD5(user ":" realm ":" password)), exactly
 * 24 characters of standard base64 with "==" padding. Stores user and HA1 (same again:
 * no change). In Post-Setup it replaces the admin account. */
int pp_amt_set_admin_acl(struct pp_amt_device *dev, const char *user,
			 const char *digest_password_b64, struct pp_err *err) PP_WUR;
/* CommitChanges: In-Setup -> Post-Setup; needs the admin account (-PP_ESTATE without).
 * Hellos stop. On a Post-Setup device it succeeds without change: only the admin
 * account set in that setup can authenticate in Post-Setup, so the caller is the one
 * that committed it, repeating after a crash. The next key, if any, stays pending. */
int pp_amt_commit(struct pp_amt_device *dev, struct pp_err *err) PP_WUR;
/* Unprovision(mode): PP_AMT_DEV_UNPROVISION_PARTIAL or _FULL (see there); other values
 * -PP_EINVAL. Partial needs In-Setup or Post-Setup; full is allowed in every state
 * (repeating it on a Pre-Setup factory-default device changes nothing). */
int pp_amt_unprovision(struct pp_amt_device *dev, uint32_t mode, struct pp_err *err) PP_WUR;
/* GetLowAccuracyTimeSynch: *ta0 = now + time offset (now: host Unix seconds). */
int pp_amt_get_time(const struct pp_amt_device *dev, int64_t now, uint32_t *ta0,
		    struct pp_err *err) PP_WUR;
/* SetHighAccuracyTimeSynch: Ta0 a device time from GetLowAccuracyTimeSynch (not later
 * than the device clock), Tm1 <= Tm2 the server's clock when it got Ta0 and when it
 * sent this call. The device clock becomes Tm2 plus half the round trip not spent in
 * the server: Tm2 + max(0, (device now - Ta0) - (Tm2 - Tm1)) / 2. The last (Ta0, Tm1,
 * Tm2) applied is saved: the same call again succeeds without change (a repeat after
 * a crash must not apply the correction twice). */
int pp_amt_set_time(struct pp_amt_device *dev, int64_t now, uint32_t ta0, uint32_t tm1,
		    uint32_t tm2, struct pp_err *err) PP_WUR;

/* ---- TLS-PSK (docs/protocol.md section 3) ---- */

/* The key the TLS-PSK server uses: In-Setup only (-PP_ESTATE otherwise). Wipe *pps. */
int pp_amt_tls_key(const struct pp_amt_device *dev, struct pp_pid *pid, struct pp_pps *pps,
		   struct pp_err *err) PP_WUR;
/* Failed-handshake accounting, memory only (never saved: a failure storm must not
 * become a write storm; a restart forgets it). After n consecutive failures the next
 * handshake is allowed PP_AMT_DEV_BACKOFF_FIRST_MS x 2^(n-1) after the last one,
 * capped at PP_AMT_DEV_BACKOFF_MAX_MS. now_ms: any monotonic clock in milliseconds. */
void pp_amt_handshake_failed(struct pp_amt_device *dev, uint64_t now_ms);
bool pp_amt_handshake_allowed(const struct pp_amt_device *dev, uint64_t now_ms);
/* Milliseconds until a handshake is allowed (0 when it is). */
uint64_t pp_amt_handshake_wait_ms(const struct pp_amt_device *dev, uint64_t now_ms);
uint32_t pp_amt_handshake_failures(const struct pp_amt_device *dev);
void pp_amt_handshake_ok(struct pp_amt_device *dev);

/* ---- hello schedule (docs/protocol.md section 2), memory only ---- */

enum pp_amt_hello_action {
	PP_AMT_HELLO_IDLE = 0, /* nothing to send until the next trigger */
	PP_AMT_HELLO_SEND = 1, /* send one hello now with *retry_count */
	PP_AMT_HELLO_WAIT = 2, /* not yet: call again in *delay_ms */
};

/* Call when a hello may be due (right after a trigger, then when *delay_ms has
 * passed). Fifteen hellos per trigger, RetryCount 0..14; the wait after hello n is
 * 1 minute for n = 0..3, 10 minutes for n = 4..8, 1 hour for n = 9..13 (each group's
 * spacing also precedes its first hello: sent at 0,1,2,3,4,14,24,...,354 minutes), as
 * pp_hello_retry_delay_ms in proto/hello.h. Delays are divided by time_scale (> 0,
 * finite; 1 = real time) and rounded, at least 1 ms. On SEND, *delay_ms is the wait
 * before the next hello, or 0 after the 15th (then IDLE until a trigger). Hellos run
 * only In-Setup: a trigger is pp_amt_load of an In-Setup device (power-on), entering
 * In-Setup (key load, console, USB, partial unprovision) and
 * pp_amt_start_configuration; CommitChanges stops them. Returns the action, or
 * -PP_EINVAL for a bad time_scale. now_ms: any monotonic clock. */
int pp_amt_hello_next(struct pp_amt_device *dev, uint64_t now_ms, double time_scale,
		      uint32_t *retry_count, uint64_t *delay_ms) PP_WUR;
/* CFG_StartConfiguration: restarts the schedule at RetryCount 0, due at once. In-Setup
 * only (-PP_ESTATE otherwise). Audited in memory. */
int pp_amt_start_configuration(struct pp_amt_device *dev, struct pp_err *err) PP_WUR;

#endif
