#include "store/masterkey.h"

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"

#include <string.h>

int pp_master_key_create(const char *path, struct pp_err *err)
{
	struct pp_master_key key;
	char text[PP_MASTER_KEY_HEX_LEN + 2];
	int rc = pp_random(key.k, sizeof(key.k));
	if (rc < 0) {
		rc = pp_err_set(err, PP_ECRYPTO, "cannot generate a master key: no randomness");
		goto out;
	}
	pp_hex(key.k, sizeof(key.k), text);
	text[PP_MASTER_KEY_HEX_LEN] = '\n';
	text[PP_MASTER_KEY_HEX_LEN + 1] = '\0';
	rc = pp_file_create(path, text, PP_MASTER_KEY_HEX_LEN + 1, 0600, err);
out:
	pp_wipe(&key, sizeof(key));
	pp_wipe(text, sizeof(text));
	return rc;
}

/* Hex digits only; pp_unhex does the conversion and checks again. */
static int decode_hex(const char *hex, size_t len, struct pp_master_key *key)
{
	char tmp[PP_MASTER_KEY_HEX_LEN + 1];
	if (len != PP_MASTER_KEY_HEX_LEN)
		return -PP_EINVAL;
	memcpy(tmp, hex, len);
	tmp[len] = '\0';
	int rc = pp_unhex(tmp, key->k, sizeof(key->k));
	pp_wipe(tmp, sizeof(tmp));
	return rc < 0 ? -PP_EINVAL : 0;
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

int pp_master_key_load(const char *path, struct pp_master_key *key, struct pp_err *err)
{
	struct pp_buf buf;
	pp_buf_init(&buf, 256);
	int rc = pp_file_check_private(path, err);
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
