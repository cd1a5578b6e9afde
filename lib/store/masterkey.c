#include "store/masterkey.h"

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"

#include <stdbool.h>
#include <string.h>

/* Scoped wiping of the key and its text (pp_cleanup). */
struct key_text {
	char s[PP_MASTER_KEY_HEX_LEN + 2];
};

static void wipe_key(struct pp_master_key *k)
{
	pp_wipe(k, sizeof(*k));
}

static void wipe_key_text(struct key_text *t)
{
	pp_wipe(t, sizeof(*t));
}

int pp_master_key_create(const char *path, struct pp_err *err)
{
	pp_cleanup(wipe_key) struct pp_master_key key;
	if (pp_random(key.k, sizeof(key.k)) < 0)
		return pp_err_set(err, PP_ECRYPTO, "cannot generate a master key: no randomness");
	return pp_master_key_save(path, &key, err);
}

int pp_master_key_save(const char *path, const struct pp_master_key *key, struct pp_err *err)
{
	pp_cleanup(wipe_key_text) struct key_text text;
	pp_hex(key->k, sizeof(key->k), text.s);
	text.s[PP_MASTER_KEY_HEX_LEN] = '\n';
	text.s[PP_MASTER_KEY_HEX_LEN + 1] = '\0';
	return pp_file_create(path, text.s, PP_MASTER_KEY_HEX_LEN + 1, 0600, err);
}

/* Hex digits only; pp_unhex does the conversion and checks again. */
static int decode_hex(const char *hex, size_t len, struct pp_master_key *key)
{
	pp_cleanup(wipe_key_text) struct key_text tmp;
	if (len != PP_MASTER_KEY_HEX_LEN)
		return -PP_EINVAL;
	memcpy(tmp.s, hex, len);
	tmp.s[len] = '\0';
	return pp_unhex(tmp.s, key->k, sizeof(key->k)) < 0 ? -PP_EINVAL : 0;
}

int pp_master_key_from_hex(const char *hex, struct pp_master_key *key, struct pp_err *err)
{
	if (!hex || decode_hex(hex, strnlen(hex, PP_MASTER_KEY_HEX_LEN + 1), key) < 0) {
		pp_wipe(key, sizeof(*key));
		/* Never quote the value: it may be most of a key. */
		return pp_err_set(err, PP_EINVAL,
				  "master key: expected exactly %d hex digits, nothing else",
				  PP_MASTER_KEY_HEX_LEN);
	}
	return 0;
}

static int load_key_file(const char *path, bool check_mode, struct pp_master_key *key,
			 struct pp_err *err)
{
	struct pp_buf buf;
	pp_buf_init(&buf, 256);
	int rc = check_mode ? pp_file_check_private(path, err) : 0;
	if (rc < 0)
		goto out;
	rc = pp_file_read(path, 256, &buf, err);
	if (rc < 0)
		goto out;
	size_t len = buf.len;
	if (len == PP_MASTER_KEY_HEX_LEN + 1 && buf.data[len - 1] == '\n')
		len--;
	if (decode_hex((const char *)buf.data, len, key) < 0) {
		rc = pp_err_set(err, PP_EINVAL,
				"'%s' is not a master key file: expected exactly %d hex digits "
				"and an optional newline",
				path, PP_MASTER_KEY_HEX_LEN);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		pp_wipe(key, sizeof(*key));
	pp_buf_free_wipe(&buf);
	return rc;
}

int pp_master_key_load(const char *path, struct pp_master_key *key, struct pp_err *err)
{
	return load_key_file(path, true, key, err);
}

int pp_master_key_load_credential(const char *path, struct pp_master_key *key, struct pp_err *err)
{
	return load_key_file(path, false, key, err);
}
