/* A new data directory. */
#include "usecase/init.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "store/masterkey.h"
#include "store/store.h"
#include "usecase/usb.h"

#define INIT_CONFIG_MAX (128 * 1024)

int pp_uc_init_check(const struct pp_uc_init_opts *o, struct pp_err *err)
{
	const char *pg = o->postgres;
	if (!pg)
		return 0;
	if (!*pg || strlen(pg) > PP_UC_POSTGRES_URL_MAX || strpbrk(pg, "\n\r;"))
		return pp_err_set(err, PP_EINVAL, "--postgres: not a usable conninfo");
	if (strstr(pg, "password"))
		return pp_err_set(err, PP_EINVAL,
				  "--postgres: keep the password in ~/.pgpass or "
				  "PGPASSFILE, not in the conninfo");
	return 0;
}

static int dir_prepare(const struct pp_uc_init_opts *o, struct pp_uc_init_result *res,
		       struct pp_err *err)
{
	if (mkdir(o->dir, 0700) < 0 && errno != EEXIST)
		return pp_err_set(err, PP_EIO, "cannot create '%s': %s", o->dir, strerror(errno));
	struct stat st;
	if (stat(o->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return pp_err_set(err, PP_EIO, "'%s' is not a directory", o->dir);
	if (access(o->config_path, F_OK) == 0 || access(o->db_path, F_OK) == 0 ||
	    access(o->key_path, F_OK) == 0)
		return pp_err_set(err, PP_EEXIST,
				  "'%s' already holds a pskprov data set; not overwriting", o->dir);
	res->dir_mode = st.st_mode & 0777;
	res->dir_open = (st.st_mode & 077) != 0;
	return 0;
}

static void key_wipe(struct pp_master_key *mk)
{
	pp_wipe(mk, sizeof(*mk));
}

static int config_write(const struct pp_uc_init_opts *o, struct pp_err *err)
{
	struct pp_buf conf;
	pp_buf_init(&conf, INIT_CONFIG_MAX);
	int rc = pp_buf_append_str(&conf, o->config_text);
	if (rc == 0 && o->postgres)
		rc = pp_buf_printf(&conf, "\n[store]\nbackend = postgres\npostgres_url = %s\n",
				   o->postgres);
	if (rc < 0)
		rc = pp_err_set(err, PP_ENOMEM, "out of memory");
	else
		rc = pp_file_create(o->config_path, conf.data, conf.len, 0600, err);
	pp_buf_free(&conf);
	return rc;
}

static int store_create(const struct pp_uc_init_opts *o, const struct pp_master_key *mk,
			bool *joined, struct pp_err *err)
{
	struct pp_store *store = NULL;
	struct pp_store_config c = {
	    .kind = o->postgres ? PP_STORE_POSTGRES : PP_STORE_SQLITE,
	    .target = o->postgres ? o->postgres : o->db_path,
	    .create = true,
	};
	int rc = pp_store_open(&c, mk, &store, err);
	if (rc == -PP_EEXIST && o->postgres) {
		/* Another instance made the schema: join it. Opening checks that this master
		 * key is the one the database was made with. */
		c.create = false;
		rc = pp_store_open(&c, mk, &store, err);
		*joined = rc == 0;
	}
	if (rc == 0)
		rc = pp_store_audit_append(store, o->actor, "init", o->dir,
					   "data directory created", err);
	pp_store_close(store);
	return rc;
}

int pp_uc_init(const struct pp_uc_init_opts *o, struct pp_uc_init_result *res, struct pp_err *err)
{
	pp_cleanup(key_wipe) struct pp_master_key mk;
	memset(res, 0, sizeof(*res));
	memset(&mk, 0, sizeof(mk));
	int rc = pp_uc_init_check(o, err);
	if (rc == 0)
		rc = dir_prepare(o, res, err);
	if (rc < 0)
		return rc;
	if (o->given) {
		mk = *o->given;
	} else {
		rc = pp_master_key_create(o->key_path, err);
		if (rc < 0)
			return rc;
		res->created_key = true;
		rc = pp_master_key_load(o->key_path, &mk, err);
	}
	if (rc == 0)
		rc = config_write(o, err);
	if (rc == 0) {
		rc = store_create(o, &mk, &res->joined, err);
		if (rc < 0) {
			unlink(o->config_path);
			unlink(o->db_path);
		}
	}
	if (rc < 0 && res->created_key) {
		unlink(o->key_path);
		res->created_key = false;
	}
	return rc;
}
