#include "device/usb_boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/secret.h"
#include "proto/setupbin.h"

#define BOOT_BATCH 64u    /* records read at once while validating */
#define BOOT_STEP_MS 50u  /* lock and busy retries */
#define BOOT_STR_MAX 256u /* longest string a record holds (2/4, 2/12: 255) + NUL */
#define ALREADY_HAS_KEY "the device already has a key; the USB file is left alone"

const char *pp_usb_boot_outcome_name(enum pp_usb_boot_outcome o)
{
	switch (o) {
	case PP_USB_BOOT_APPLIED:
		return "applied";
	case PP_USB_BOOT_KEPT:
		return "kept";
	case PP_USB_BOOT_FINISHED:
		return "finished";
	case PP_USB_BOOT_UNMARKED:
		return "unmarked";
	case PP_USB_BOOT_IGNORED:
		return "ignored";
	}
	return "?";
}

static int pread_all(int fd, void *buf, size_t n, off_t off)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -PP_EIO;
		if (r == 0)
			return -PP_ETRUNC;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

/* Serialises device boots on one file (see the header): an OFD write lock on the whole
 * file, waited for at most PP_USB_BOOT_LOCK_WAIT_MS. */
static int lock_file(int fd, const char *path, struct pp_err *err)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	for (unsigned waited = 0;; waited += BOOT_STEP_MS) {
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return pp_err_set(err, PP_EIO, "cannot lock '%s': %s", path,
					  strerror(errno));
		if (waited >= PP_USB_BOOT_LOCK_WAIT_MS)
			return pp_err_set(err, PP_EBUSY,
					  "'%s' is in use by another device booting from it", path);
		pp_sleep_ms(BOOT_STEP_MS);
	}
}

/* The header block, and the file's size against it: regular, whole blocks, as many as
 * the header announces. A format error is in *why, a read error in *err. */
static int peek_header(int fd, const char *path, uint8_t *buf, struct pp_usb_header *h,
		       struct pp_err *why, struct pp_err *err)
{
	struct stat st;
	size_t want;
	int rc;
	if (fstat(fd, &st) < 0)
		return pp_err_set(err, PP_EIO, "cannot stat '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pp_err_set(err, PP_EIO, "'%s' is not a regular file", path);
	if (st.st_size < PP_USB_BLOCK)
		return pp_err_set(why, PP_ETRUNC, "%lld bytes, shorter than the header",
				  (long long)st.st_size);
	if (st.st_size % PP_USB_BLOCK)
		return pp_err_set(why, PP_EINVAL,
				  "%lld bytes is not a whole number of %d-byte blocks",
				  (long long)st.st_size, PP_USB_BLOCK);
	if ((rc = pread_all(fd, buf, PP_USB_BLOCK, 0)) < 0)
		return pp_err_set(err, -rc, "cannot read the header of '%s'", path);
	if ((rc = pp_usb_header_parse(buf, PP_USB_BLOCK, h, why)) < 0)
		return rc;
	if (pp_usb_file_size(h->data_record_count, &want) < 0 || (uint64_t)st.st_size != want)
		return pp_err_set(why, (uint64_t)st.st_size < want ? PP_ETRUNC : PP_ETOOBIG,
				  "the header announces %u records; the file has %lld bytes",
				  h->data_record_count, (long long)st.st_size);
	return 0;
}

/* Every record, BOOT_BATCH at a time: well formed and numbered n + 1; the first data
 * record with the valid bit set is kept in *found. */
static int peek_records(int fd, const char *path, uint8_t *buf, const struct pp_usb_header *h,
			struct pp_usb_record *found, bool *have, struct pp_err *why,
			struct pp_err *err)
{
	pp_cleanup(pp_usb_record_wipe) struct pp_usb_record cur = {0};
	int rc;
	for (uint32_t i = 0; i < h->data_record_count;) {
		uint32_t left = h->data_record_count - i;
		uint32_t k = left < BOOT_BATCH ? left : BOOT_BATCH;
		if ((rc = pread_all(fd, buf, (size_t)k * PP_USB_BLOCK,
				    (off_t)PP_USB_BLOCK * ((off_t)i + 1))) < 0)
			return pp_err_set(err, -rc, "cannot read record %u of '%s'", i + 1, path);
		for (uint32_t j = 0; j < k; j++, i++) {
			rc = pp_usb_record_parse(buf + (size_t)j * PP_USB_BLOCK, PP_USB_BLOCK, &cur,
						 why);
			if (rc < 0) {
				pp_err_prefix(why, "record %u", i + 1);
				return rc;
			}
			if (cur.number != i + 1)
				return pp_err_set(why, PP_EINVAL, "record %u has RecordNumber %u",
						  i + 1, cur.number);
			if (!*have && cur.type == PP_USB_TYPE_DATA &&
			    (cur.flags & PP_USB_REC_VALID)) {
				*found = cur;
				*have = true;
			}
		}
	}
	return 0;
}

/* Reads and validates the whole file as pp_usb_consume_next does (header, size,
 * every record well formed and numbered n + 1) and keeps the first data record with
 * the valid bit set. Changes nothing. Errors are already worded for the user. */
static int peek_first(int fd, const char *path, struct pp_usb_header *h,
		      struct pp_usb_record *found, bool *have, struct pp_err *err)
{
	struct pp_err why = {0};
	uint8_t *buf = malloc((size_t)BOOT_BATCH * PP_USB_BLOCK);
	int rc;

	*have = false;
	if (!buf)
		return pp_err_set(err, PP_ENOMEM, "reading '%s': out of memory", path);
	rc = peek_header(fd, path, buf, h, &why, err);
	if (rc == 0)
		rc = peek_records(fd, path, buf, h, found, have, &why, err);
	if (rc < 0 && (why.code || why.msg[0]))
		rc = pp_err_set(err, why.code ? why.code : PP_EINVAL,
				"'%s' is not a valid setup.bin: %s", path, why.msg);
	if (rc < 0 && *have) {
		pp_usb_record_wipe(found);
		*have = false;
	}
	pp_wipe(buf, (size_t)BOOT_BATCH * PP_USB_BLOCK);
	free(buf);
	return rc;
}

/* One record's values for pp_amt_usb_apply. Holds secrets: wipe it. */
struct decoded {
	char cur[BOOT_STR_MAX], newpw[BOOT_STR_MAX], pid[BOOT_STR_MAX], pps[BOOT_STR_MAX];
	char host[BOOT_STR_MAX], domain[BOOT_STR_MAX], fqdn[BOOT_STR_MAX];
	bool has_cur, has_new, has_pid, has_pps, has_host, has_domain;
	bool has_server;
	struct pp_amt_server server;
	struct pp_amt_usb_record rec;
};

/* A string variable: *has false when absent. */
static int get_str(const struct pp_usb_record *r, uint16_t mod, uint16_t var, char *out, bool *has,
		   struct pp_err *err)
{
	int rc = pp_usb_record_get_string(r, mod, var, out, BOOT_STR_MAX, err);
	*has = rc == 0;
	return rc == -PP_ENOTFOUND ? 0 : rc;
}

static int decode(const struct pp_usb_record *r, struct decoded *d, struct pp_err *err)
{
	int rc;
	bool has_fqdn = false, has_ip = false, has_port = false;
	uint16_t port = PP_AMT_DEV_SERVER_PORT;

	memset(d, 0, sizeof(*d));
	if ((rc = get_str(r, PP_USB_MOD_ME, PP_USB_ME_CURRENT_PASSWORD, d->cur, &d->has_cur, err)) <
		0 ||
	    (rc = get_str(r, PP_USB_MOD_ME, PP_USB_ME_NEW_PASSWORD, d->newpw, &d->has_new, err)) <
		0 ||
	    (rc = get_str(r, PP_USB_MOD_AMT, PP_USB_AMT_PID, d->pid, &d->has_pid, err)) < 0 ||
	    (rc = get_str(r, PP_USB_MOD_AMT, PP_USB_AMT_PPS, d->pps, &d->has_pps, err)) < 0 ||
	    (rc = get_str(r, PP_USB_MOD_AMT, PP_USB_AMT_HOST_NAME, d->host, &d->has_host, err)) <
		0 ||
	    (rc = get_str(r, PP_USB_MOD_AMT, PP_USB_AMT_DOMAIN, d->domain, &d->has_domain, err)) <
		0 ||
	    (rc = get_str(r, PP_USB_MOD_AMT, PP_USB_AMT_SERVER_FQDN, d->fqdn, &has_fqdn, err)) < 0)
		return rc;
	rc = pp_usb_record_get_ipv4(r, PP_USB_MOD_AMT, PP_USB_AMT_SERVER_IPV4, d->server.ipv4, err);
	if (rc < 0 && rc != -PP_ENOTFOUND)
		return rc;
	has_ip = rc == 0;
	rc = pp_usb_record_get_u16(r, PP_USB_MOD_AMT, PP_USB_AMT_SERVER_PORT, &port, err);
	if (rc < 0 && rc != -PP_ENOTFOUND)
		return rc;
	has_port = rc == 0;

	if (!d->has_cur)
		return pp_err_set(err, PP_EPERM, "no current MEBx password (1/1)");
	if (!d->has_new)
		return pp_err_set(err, PP_EINVAL, "no new MEBx password (1/2)");
	if (d->has_pid != d->has_pps)
		return pp_err_set(err, PP_EINVAL, "a PID (2/1) needs a PPS (2/2) and a PPS a PID");
	if (has_fqdn && strlen(d->fqdn) >= sizeof(d->server.fqdn))
		return pp_err_set(err, PP_EINVAL,
				  "configuration server FQDN (2/4): longer than %d characters",
				  PP_AMT_DEV_FQDN_MAX);
	d->has_server = has_ip || has_fqdn || has_port;
	d->server.has_ipv4 = has_ip;
	if (has_fqdn)
		memcpy(d->server.fqdn, d->fqdn, strlen(d->fqdn) + 1);
	d->server.port = port;

	d->rec.current_password = d->cur;
	d->rec.new_password = d->newpw;
	d->rec.pid = d->has_pid ? d->pid : NULL;
	d->rec.pps = d->has_pps ? d->pps : NULL;
	d->rec.server = d->has_server ? &d->server : NULL;
	d->rec.host_name = d->has_host ? d->host : NULL;
	d->rec.domain_name = d->has_domain ? d->domain : NULL;
	return 0;
}

static void fill_result(struct pp_usb_boot_result *res, const struct pp_usb_record *r,
			const struct decoded *d)
{
	res->record = r->number;
	res->pid[0] = '\0';
	if (d->has_pid) {
		struct pp_pid pid;
		if (pp_pid_parse(d->pid, &pid, NULL) == 0)
			pp_pid_format(&pid, res->pid);
	}
	res->has_server = d->has_server;
	res->server[0] = '\0';
	if (!d->has_server)
		return;
	const struct pp_amt_server *s = &d->server;
	int n;
	if (s->has_ipv4)
		n = snprintf(res->server, sizeof(res->server), "%u.%u.%u.%u:%u", s->ipv4[0],
			     s->ipv4[1], s->ipv4[2], s->ipv4[3], s->port);
	else if (s->fqdn[0])
		n = snprintf(res->server, sizeof(res->server), "%.253s:%u", s->fqdn, s->port);
	else
		n = snprintf(res->server, sizeof(res->server), "ProvisionServer:%u", s->port);
	if (n < 0 || (size_t)n >= sizeof(res->server))
		res->server[0] = '\0';
}

static void ignored(struct pp_usb_boot_result *res, const char *note)
{
	res->outcome = PP_USB_BOOT_IGNORED;
	size_t n = strlen(note);
	if (n >= sizeof(res->note))
		n = sizeof(res->note) - 1;
	memcpy(res->note, note, n);
	res->note[n] = '\0';
}

/* Marks the applied record used: pp_usb_consume_next with the password the device had
 * when the record was applied ("admin"), retried while another reader holds its lock.
 * Returns 0, or a negative code with err set (the record then stays valid). */
static int mark_used(const char *path, uint32_t number, const char *pid, struct pp_err *err)
{
	struct pp_usb_record got;
	int rc;
	for (unsigned waited = 0;; waited += BOOT_STEP_MS) {
		rc = pp_usb_consume_next(path, PP_AMT_DEV_FACTORY_PASSWORD, &got, err);
		if (rc != -PP_EBUSY || waited >= PP_USB_BOOT_LOCK_WAIT_MS)
			break;
		pp_sleep_ms(BOOT_STEP_MS);
	}
	if (rc < 0)
		return rc;
	/* Under our lock no other device boot takes a record; check anyway. PIDs are
	 * public: plain comparison. */
	char got_pid[BOOT_STR_MAX] = "";
	uint32_t got_number = got.number;
	int prc = pp_usb_record_get_string(&got, PP_USB_MOD_AMT, PP_USB_AMT_PID, got_pid,
					   sizeof(got_pid), NULL);
	pp_usb_record_wipe(&got);
	struct pp_pid p;
	char shown[PP_PID_TEXT] = "";
	if (prc == 0 && pp_pid_parse(got_pid, &p, NULL) == 0)
		pp_pid_format(&p, shown);
	if (got_number != number || strcmp(shown, pid) != 0)
		return pp_err_set(
		    err, PP_ESTATE,
		    "'%s' changed during the boot: record %u was marked instead of %u", path,
		    got_number, number);
	return 0;
}

static void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd); /* releases the OFD lock */
}

static void err_wipe(struct pp_err *e)
{
	pp_wipe(e, sizeof(*e));
}

static void decoded_wipe(struct decoded *d)
{
	pp_wipe(d, sizeof(*d));
}

/* Opens and locks the file (the lock lasts while *fd is open) and finds its first
 * unused record. */
static int take_first(const char *path, int *fd, struct pp_usb_header *h, struct pp_usb_record *rec,
		      struct pp_err *err)
{
	bool have = false;
	int rc;
	*fd = open(path, O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return pp_err_set(err, errno == ENOENT ? PP_ENOTFOUND : PP_EIO,
				  "cannot open '%s': %s", path, strerror(errno));
	if ((rc = lock_file(*fd, path, err)) < 0 ||
	    (rc = peek_first(*fd, path, h, rec, &have, err)) < 0)
		return rc;
	if (!have)
		return pp_err_set(err, PP_ENOTFOUND,
				  "no unused record left in '%s' (%u records, %u consumed)", path,
				  h->data_record_count, h->data_records_consumed);
	return 0;
}

/* Decodes the record and applies it to the device (atomic and durable); every refusal
 * worded for the user, the file left alone. fresh: the device's MEBx password was
 * the factory default before. */
static int apply_record(struct pp_amt_device *dev, const char *path,
			const struct pp_usb_record *rec, bool fresh, struct decoded *d,
			struct pp_err *err)
{
	pp_cleanup(err_wipe) struct pp_err why = {0};
	int rc = decode(rec, d, &why);
	if (rc < 0)
		return pp_err_set(err, why.code, "'%s' record %u: %s; the file is left alone", path,
				  rec->number, why.msg);
	rc = pp_amt_usb_apply(dev, &d->rec, &why);
	if (rc == -PP_EPERM)
		return pp_err_set(err, PP_EPERM,
				  "'%s' record %u: the record's current MEBx password does not "
				  "match this device; the file is left alone",
				  path, rec->number);
	if (rc == -PP_ESTATE && !fresh)
		return pp_err_set(err, PP_ESTATE,
				  "the device's MEBx password is no longer the factory default (a "
				  "setup file applies only to a new device); '%s' is left alone",
				  path);
	if (rc < 0)
		return pp_err_set(err, -rc, "'%s' record %u: %s; the file is left alone", path,
				  rec->number, why.msg);
	return 0;
}

/* After the device took the record: marks it used unless the file says
 * do-not-consume; the outcome in res. */
static void finish_record(const char *path, const struct pp_usb_header *h,
			  const struct pp_usb_record *rec, bool has_key,
			  struct pp_usb_boot_result *res)
{
	pp_cleanup(err_wipe) struct pp_err why = {0};
	if (h->flags & PP_USB_HDR_NO_CONSUME) {
		/* Nothing to write; pp_usb_consume_next would change nothing either. */
		if (has_key) {
			memset(res, 0, sizeof(*res));
			ignored(res, ALREADY_HAS_KEY);
		} else {
			res->outcome = PP_USB_BOOT_KEPT;
		}
		return;
	}
	if (mark_used(path, rec->number, res->pid, &why) == 0) {
		res->outcome = has_key ? PP_USB_BOOT_FINISHED : PP_USB_BOOT_APPLIED;
		return;
	}
	res->outcome = PP_USB_BOOT_UNMARKED;
	int n = snprintf(res->note, sizeof(res->note),
			 "record %u is loaded but not marked used (%.100s); it stays valid "
			 "until this device boots with the file again",
			 rec->number, why.msg);
	if (n < 0 || (size_t)n >= sizeof(res->note))
		res->note[0] = '\0';
}

int pp_usb_boot(struct pp_amt_device *dev, const char *path, struct pp_usb_boot_result *res,
		struct pp_err *err)
{
	struct pp_usb_header h = {0};
	pp_cleanup(pp_usb_record_wipe) struct pp_usb_record rec = {0};
	pp_cleanup(decoded_wipe) struct decoded d = {0};
	pp_cleanup(closep) int fd = -1;

	memset(res, 0, sizeof(*res));
	if (!dev || !path)
		return pp_err_set(err, PP_EINVAL, "no device or no file");
	enum pp_amt_setup_state state = pp_amt_state(dev);
	bool fresh = pp_amt_mebx_is_factory_default(dev);
	/* In-Setup: only to finish this device's own interrupted boot (see the header). */
	bool has_key = state != PP_AMT_PRE_SETUP;
	if (state == PP_AMT_POST_SETUP) {
		ignored(res, ALREADY_HAS_KEY);
		return 0;
	}
	/* The device first (atomic and durable), the file second. */
	int rc = take_first(path, &fd, &h, &rec, err);
	if (rc == 0)
		rc = apply_record(dev, path, &rec, fresh, &d, err);
	if (rc == 0) {
		fill_result(res, &rec, &d);
		finish_record(path, &h, &rec, has_key, res);
		return 0;
	}
	/* A device that already has a key does not care why the file cannot be used. */
	if (has_key) {
		memset(res, 0, sizeof(*res));
		ignored(res, ALREADY_HAS_KEY);
		pp_err_clear(err);
		rc = 0;
	}
	return rc;
}
