/* Inside the emulated device: the struct and the helpers its files share. Not for use
 * outside lib/firmware. */
#ifndef PSKPROV_FIRMWARE_DEVICE_IMPL_H
#define PSKPROV_FIRMWARE_DEVICE_IMPL_H

#include "firmware/device.h"

#define AMT_SALT_LEN 16
#define AMT_VERIFIER_LEN 32

struct pp_amt_device {
	char *path;          /* DIR/device.json; NULL for a parsed-only or volatile device */
	bool volatile_state; /* pp_amt_create_volatile: saves write nothing and succeed */

	/* Durable state: everything here is in the state file. */
	uint8_t uuid[16];
	char realm[PP_AMT_DEV_REALM_LEN + 1];
	uint8_t state; /* enum pp_amt_setup_state */
	uint8_t mode;  /* enum pp_amt_prov_mode */
	bool factory_default;
	bool network_enabled;
	bool has_key, has_next, has_admin;
	uint8_t mebx_ha1[PP_AMT_DEV_HA1_LEN];
	uint8_t mebx_salt[AMT_SALT_LEN];         /* zero while factory_default */
	uint8_t mebx_verifier[AMT_VERIFIER_LEN]; /* zero while factory_default */
	uint32_t pbkdf2_iterations;
	struct pp_pid pid, next_pid;
	struct pp_pps pps, next_pps;
	struct pp_amt_server server;
	char admin_user[PP_AMT_DEV_USER_MAX + 1];
	uint8_t admin_ha1[PP_AMT_DEV_HA1_LEN];
	char host_name[PP_AMT_DEV_HOST_MAX + 1];
	char domain_name[PP_AMT_DEV_FQDN_MAX + 1];
	int64_t time_offset;
	bool has_last_sync; /* the last SetHighAccuracyTimeSynch applied, for repeats */
	uint32_t last_ta0, last_tm1, last_tm2;
	struct pp_amt_versions versions;
	uint8_t audit_start, audit_count; /* ring: audit[(start + i) % MAX] */
	struct pp_amt_audit_event audit[PP_AMT_DEV_AUDIT_MAX];

	/* Memory only. */
	uint32_t hs_failures;
	uint64_t hs_until_ms;
	bool hello_active;  /* a trigger is running */
	bool hello_due_set; /* false: the next hello is due at once */
	uint8_t hello_sent; /* hellos sent since the trigger = next RetryCount */
	uint64_t hello_due_ms;
};

/* credentials.c */
int amt_ha1(const char *user, const char *realm, const char *password,
	    uint8_t out[PP_AMT_DEV_HA1_LEN]) PP_WUR;
int amt_verifier(const char *password, const uint8_t salt[AMT_SALT_LEN], uint32_t iterations,
		 uint8_t out[AMT_VERIFIER_LEN]) PP_WUR;
/* Sets the MEBx password (HA1, new salt, verifier); clears factory_default. */
int amt_set_password(struct pp_amt_device *d, const char *password) PP_WUR;
/* Back to the factory default "admin". */
int amt_set_factory_password(struct pp_amt_device *d) PP_WUR;
/* Constant-time check of a password against the device; true when it matches. */
bool amt_password_matches(const struct pp_amt_device *d, const char *password);

/* state.c */
int amt_save(const struct pp_amt_device *d, struct pp_err *err) PP_WUR;
/* Saves next, then makes it the device: on failure dev is untouched. Wipes next. */
int amt_commit_change(struct pp_amt_device *dev, struct pp_amt_device *next,
		      struct pp_err *err) PP_WUR;
/* For pp_cleanup on a working copy (next = *dev): wipes it, frees nothing (the copy
 * shares dev's path). */
void amt_device_wipe(struct pp_amt_device *d);
void amt_audit(struct pp_amt_device *d, const char *fmt, ...) PP_PRINTF(2, 3);
void amt_hello_trigger(struct pp_amt_device *d);
bool amt_host_label_valid(const char *s);
bool amt_user_valid(const char *s);
bool amt_printable(const char *s, size_t max);
int amt_server_check(const struct pp_amt_server *s, struct pp_err *err) PP_WUR;

#endif
