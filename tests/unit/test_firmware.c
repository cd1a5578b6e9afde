/* The emulated AMT device (lib/firmware): state file, operations, schedules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "firmware/device.h"
#include "core/bytes.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/secret.h"
#include "keys/keys.h"
#include "test_firmware_fixture.h"

#define PW2 "Second-Pass2"
#define PW3 "Third*Pass3x"
#define ADMIN_USER "pskadmin"
#define ADMIN_PW "Admin^Secret9"

/* ---- helpers ---- */

static int setup(void **state)
{
	*state = fw_fixture_new("test_firmware");
	return *state ? 0 : -1;
}

static struct pp_amt_device *make_device(struct fixture *f)
{
	struct pp_err err = {0};
	int rc = pp_amt_create(f->dir, &fast_opts, &f->dev, &err);
	if (rc != 0)
		fail_msg("create: %s", err.msg);
	return f->dev;
}

static struct pp_amt_device *make_in_setup(struct fixture *f)
{
	struct pp_amt_device *d = make_device(f);
	fw_load_example_key(d);
	return d;
}

static void md5_ha1(const char *user, const char *realm, const char *pw, uint8_t out[16])
{
	char buf[256];
	unsigned int n = 0;
	int len = snprintf(buf, sizeof(buf), "%s:%s:%s", user, realm, pw);
	assert_true(len > 0 && (size_t)len < sizeof(buf));
	assert_int_equal(EVP_Digest(buf, (size_t)len, out, &n, EVP_md5(), NULL), 1);
	assert_int_equal(n, 16);
}

static void ha1_b64(const char *user, const char *realm, const char *pw, char out[25])
{
	uint8_t h[16];
	md5_ha1(user, realm, pw, h);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)out, h, 16), 24);
}

static char *read_text(const char *path)
{
	struct pp_buf b;
	struct pp_err err = {0};
	pp_buf_init(&b, 1 << 20);
	if (pp_file_read(path, 1 << 20, &b, &err) != 0 || pp_buf_cstr(&b) != 0)
		fail_msg("read %s: %s", path, err.msg);
	return (char *)b.data;
}

static char *serialize(const struct pp_amt_device *d)
{
	struct pp_buf b;
	struct pp_err err = {0};
	pp_buf_init(&b, 1 << 20);
	if (pp_amt_serialize(d, &b, &err) != 0 || pp_buf_cstr(&b) != 0)
		fail_msg("serialize: %s", err.msg);
	return (char *)b.data;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* text with the first `old` replaced by `new`; fails the test when old is absent. */
static char *replace(const char *text, const char *old, const char *new_s)
{
	const char *p = strstr(text, old);
	if (!p)
		fail_msg("'%s' not in the state text", old);
	size_t a = (size_t)(p - text), ol = strlen(old), nl = strlen(new_s), tl = strlen(text);
	char *r = malloc(tl - ol + nl + 1);
	assert_non_null(r);
	memcpy(r, text, a);
	memcpy(r + a, new_s, nl);
	memcpy(r + a + nl, p + ol, tl - a - ol + 1);
	return r;
}

/* Parses text expecting failure with code and a message containing `needle`. */
static void expect_parse_error(const char *text, int code, const char *needle)
{
	struct pp_amt_device *d = NULL;
	struct pp_err err = {0};
	int rc = pp_amt_parse(text, strlen(text), &d, &err);
	if (rc != -code || !strstr(err.msg, needle))
		fail_msg("expected -%d with '%s', got %d: '%s'", code, needle, rc, err.msg);
	assert_null(d);
	assert_null(strchr(err.msg, '\n'));
	assert_null(strstr(err.msg, EX_PPS_BARE));
	assert_null(strstr(err.msg, "NKLD"));
}

/* text with the characters right after `prefix` overwritten by `chars`. */
static char *overwrite(const char *text, const char *prefix, const char *chars)
{
	const char *p = strstr(text, prefix);
	if (!p)
		fail_msg("'%s' not in the state text", prefix);
	char *r = strdup(text);
	assert_non_null(r);
	memcpy(r + (p - text) + strlen(prefix), chars, strlen(chars));
	return r;
}

static void overwrite_expect(const char *base, const char *prefix, const char *chars, int code,
			     const char *needle)
{
	char *t = overwrite(base, prefix, chars);
	expect_parse_error(t, code, needle);
	free(t);
}

static void mutate_expect(const char *base, const char *old, const char *new_s, int code,
			  const char *needle)
{
	char *t = replace(base, old, new_s);
	expect_parse_error(t, code, needle);
	free(t);
}

static bool audit_has(const struct pp_amt_device *d, const char *needle)
{
	struct pp_amt_audit_event e;
	for (size_t i = 0; i < pp_amt_audit_count(d); i++) {
		assert_int_equal(pp_amt_audit_get(d, i, &e), 0);
		if (strstr(e.text, needle))
			return true;
	}
	return false;
}

static void expect_no_change_on_disk(struct pp_amt_device *d, const char *before)
{
	char *after = read_text(pp_amt_path(d));
	assert_string_equal(before, after);
	free(after);
}

/* ---- create, load, save ---- */

static void test_create_load_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_device(f), *d2 = NULL;

	assert_int_equal(pp_amt_state(d), PP_AMT_PRE_SETUP);
	assert_true(pp_amt_mebx_is_factory_default(d));
	assert_int_equal(pp_amt_provisioning_mode(d), PP_AMT_MODE_ENTERPRISE);
	assert_int_equal(pp_amt_tls_mode(d), PP_AMT_DEV_TLS_MODE_PSK);
	const char *realm = pp_amt_realm(d);
	assert_int_equal(strlen(realm), PP_AMT_DEV_REALM_LEN);
	assert_memory_equal(realm, "Digest:", 7);
	for (size_t i = 7; i < PP_AMT_DEV_REALM_LEN; i++)
		assert_non_null(strchr("0123456789ABCDEF", realm[i]));
	uint8_t uuid[16];
	pp_amt_uuid(d, uuid);
	assert_int_equal(uuid[6] >> 4, 4);
	assert_int_equal(uuid[8] >> 6, 2);
	struct pp_pid pid;
	assert_int_equal(pp_amt_pid(d, &pid, &err), -PP_ESTATE);
	assert_true(audit_has(d, "created"));

	/* The file: 0600, loads to the same state, and no stray staging file remains. */
	struct stat st;
	assert_int_equal(stat(pp_amt_path(d), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	DIR *dir = opendir(f->dir);
	assert_non_null(dir);
	int files = 0;
	for (struct dirent *e; (e = readdir(dir));)
		files += e->d_name[0] != '.';
	closedir(dir);
	assert_int_equal(files, 1);

	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	char *a = serialize(d), *b = serialize(d2), *disk = read_text(pp_amt_path(d));
	assert_string_equal(a, b);
	assert_string_equal(a, disk);
	free(disk);
	free(b);
	pp_amt_free(d2);

	/* With a key and every field set, the round trip still holds. */
	struct pp_amt_server srv = {.has_ipv4 = true, .ipv4 = {10, 1, 2, 3}, .port = 9972};
	memcpy(srv.fqdn, "prov.example.com", 17);
	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, PW1, &srv, &err), 0);
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	free(a);
	a = serialize(d);
	b = serialize(d2);
	assert_string_equal(a, b);
	assert_int_equal(pp_amt_state(d2), PP_AMT_IN_SETUP);
	assert_int_equal(pp_amt_pid(d2, &pid, &err), 0);
	assert_string_equal(pid.s, EX_PID_BARE);
	free(a);
	free(b);
	pp_amt_free(d2);

	/* pp_amt_save writes what is in memory. */
	assert_int_equal(pp_amt_save(d, &err), 0);
	assert_int_equal(stat(pp_amt_path(d), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* An existing state is never overwritten. */
	d2 = NULL;
	assert_int_equal(pp_amt_create(f->dir, &fast_opts, &d2, &err), -PP_EEXIST);
	assert_null(d2);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_int_equal(pp_amt_state(d), PP_AMT_IN_SETUP);
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	assert_int_equal(pp_amt_state(d2), PP_AMT_IN_SETUP);
	pp_amt_free(d2);

	pp_amt_free(NULL);
}

static void test_create_options(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = NULL;
	const uint8_t uuid[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
				  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	struct pp_amt_versions v = {
	    .bios = "BIOS 1.0", .amt = "5.2.10", .build = "1111", .sku = "x"};
	struct pp_amt_create_opts o = {.uuid = uuid, .pbkdf2_iterations = 2000, .versions = &v};
	struct pp_amt_create_opts bad = {.pbkdf2_iterations = 5};
	assert_int_equal(pp_amt_create(f->dir, &bad, &d, &err), -PP_EINVAL);
	bad = (struct pp_amt_create_opts){.mode = 7};
	assert_int_equal(pp_amt_create(f->dir, &bad, &d, &err), -PP_EINVAL);
	struct pp_amt_versions badv = v;
	badv.amt[0] = '\n';
	bad = (struct pp_amt_create_opts){.versions = &badv};
	assert_int_equal(pp_amt_create(f->dir, &bad, &d, &err), -PP_EINVAL);
	assert_null(d);

	char sub[128];
	snprintf(sub, sizeof(sub), "%s/dev1", f->dir); /* created when missing */
	assert_int_equal(pp_amt_create(sub, &o, &d, &err), 0);
	uint8_t got[16];
	pp_amt_uuid(d, got);
	assert_memory_equal(got, uuid, 16);
	struct pp_amt_versions gv;
	pp_amt_versions(d, &gv);
	assert_string_equal(gv.amt, "5.2.10");
	assert_string_equal(gv.bios, "BIOS 1.0");
	char *text = serialize(d);
	assert_non_null(strstr(text, "\"uuid\": \"12345678-9abc-def0-0123-456789abcdef\""));
	assert_non_null(strstr(text, "\"pbkdf2_iterations\": 2000"));
	free(text);
	pp_amt_free(d);
}

static void test_state_file_mode(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f), *d2 = NULL;
	assert_int_equal(chmod(pp_amt_path(d), 0644), 0);
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), -PP_EPERM);
	assert_null(d2);
	assert_non_null(strstr(err.msg, "0600"));
	/* Saving restores 0600. */
	assert_int_equal(pp_amt_save(d, &err), 0);
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	pp_amt_free(d2);

	/* A missing state. */
	char empty[128];
	snprintf(empty, sizeof(empty), "%s/none", f->dir);
	assert_int_equal(pp_amt_load(empty, &d2, &err), -PP_ENOTFOUND);
}

/* The state file's fields, each broken one way: an edit of the good text (EDIT_REPLACE
 * replaces the first `from` with `to`; EDIT_OVERWRITE overwrites the characters after
 * `from`), the code expected and a word of the message. Unknown, missing and duplicate
 * keys first, then each value, whose error names its field. */
enum edit_kind { EDIT_REPLACE, EDIT_OVERWRITE };
static const struct state_edit {
	enum edit_kind kind;
	const char *from, *to;
	int code;
	const char *needle;
} state_edits[] = {
    {EDIT_REPLACE, "{\n  \"format\"", "{\n  \"bogus\": 1,\n  \"format\"", PP_EINVAL,
     "unknown field 'bogus'"},
    {EDIT_REPLACE, "\"factory_default\"", "\"extra\": 0, \"factory_default\"", PP_EINVAL,
     "unknown field 'mebx.extra'"},
    {EDIT_REPLACE, "\"realm\"", "\"realm_x\"", PP_EINVAL, "unknown field 'realm_x'"},
    {EDIT_REPLACE, "\"time\"", "\"when\"", PP_EINVAL, "unknown field 'audit[0].when'"},
    {EDIT_REPLACE, "\"format\": 1,", "", PP_EINVAL, "missing field 'format'"},
    {EDIT_REPLACE, "\"format\": 1,", "\"format\": 1, \"format\": 1,", PP_EINVAL, "duplicate field"},
    {EDIT_REPLACE, "\"format\": 1", "\"format\": 2", PP_EVERSION, "field 'format'"},
    {EDIT_REPLACE, "\"state\": 1", "\"state\": 3", PP_EINVAL, "field 'state'"},
    {EDIT_REPLACE, "\"state\": 1", "\"state\": \"1\"", PP_EINVAL, "field 'state'"},
    {EDIT_REPLACE, "\"state\": 1", "\"state\": 1.0", PP_EINVAL, "field 'state'"},
    {EDIT_REPLACE, "\"mode\": 1", "\"mode\": 0", PP_EINVAL, "field 'mode'"},
    {EDIT_REPLACE, "\"realm\": \"Digest:", "\"realm\": \"digest:", PP_EINVAL, "field 'realm'"},
    {EDIT_OVERWRITE, "\"uuid\": \"", "x", PP_EINVAL, "field 'uuid': not a UUID"},
    {EDIT_OVERWRITE, "\"salt\": \"", "g", PP_EINVAL, "field 'mebx.salt'"},
    {EDIT_OVERWRITE, "\"salt\": \"", "A", PP_EINVAL, "field 'mebx.salt'"},
    {EDIT_REPLACE, "\"salt\": \"", "\"salt\": \"00", PP_ETOOBIG, "field 'mebx.salt'"},
    {EDIT_OVERWRITE, "\"verifier\": \"", "+", PP_EINVAL, "field 'mebx.verifier'"},
    {EDIT_OVERWRITE, "\"ha1\": \"", "x", PP_EINVAL, "field 'mebx.ha1'"},
    {EDIT_REPLACE, "\"salt\": \"", "\"salt\": 5, \"y\": \"", PP_EINVAL, "unknown field 'mebx.y'"},
    {EDIT_OVERWRITE, "\"realm\": \"Digest:", "a", PP_EINVAL, "field 'realm'"},
    {EDIT_OVERWRITE, "\"uuid\": \"", "A", PP_EINVAL, "field 'uuid': not in lower case"},
    {EDIT_REPLACE, "\"verifier\": \"", "\"verifier\": null, \"x\": \"", PP_EINVAL,
     "unknown field 'mebx.x'"},
    {EDIT_REPLACE, "\"pbkdf2_iterations\": 1000", "\"pbkdf2_iterations\": 10", PP_EINVAL,
     "field 'mebx.pbkdf2_iterations'"},
    {EDIT_REPLACE, "\"factory_default\": false", "\"factory_default\": true", PP_EINVAL,
     "field 'mebx.salt'"},
    {EDIT_REPLACE, "\"pid\": \"0000037M\"", "\"pid\": \"0000037N\"", PP_ECHECKSUM,
     "field 'key.pid'"},
    {EDIT_REPLACE, "\"pid\": \"0000037M\"", "\"pid\": \"0000-037M\"", PP_ETOOBIG,
     "field 'key.pid'"},
    {EDIT_REPLACE, "\"pid\": \"0000037M\"", "\"pid\": \"0000037m\"", PP_EINVAL,
     "field 'key.pid': not canonical"},
    {EDIT_REPLACE, "\"pps\": \"NKLD", "\"pps\": \"NKLE", PP_ECHECKSUM, "field 'key.pps'"},
    {EDIT_REPLACE, "\"pps\": \"NKLD", "\"pps\": \"nkld", PP_EINVAL,
     "field 'key.pps': not canonical"},
    {EDIT_REPLACE, "\"port\": 9971", "\"port\": 0", PP_EINVAL, "field 'server.port'"},
    {EDIT_REPLACE, "\"port\": 9971", "\"port\": 65536", PP_EINVAL, "field 'server.port'"},
    {EDIT_REPLACE, "\"ipv4\": null", "\"ipv4\": \"1.2.3\"", PP_EINVAL, "field 'server.ipv4'"},
    {EDIT_REPLACE, "\"fqdn\": \"\"", "\"fqdn\": \"bad..name\"", PP_EINVAL, "field 'server.fqdn'"},
    {EDIT_REPLACE, "\"host_name\": \"\"", "\"host_name\": \"a.b\"", PP_EINVAL, "field 'host_name'"},
    {EDIT_REPLACE, "\"domain_name\": \"\"", "\"domain_name\": \"-x\"", PP_EINVAL,
     "field 'domain_name'"},
    {EDIT_REPLACE, "\"network_enabled\": true", "\"network_enabled\": 1", PP_EINVAL,
     "field 'network_enabled'"},
    {EDIT_REPLACE, "\"time_offset\": 0", "\"time_offset\": 99999999999", PP_EINVAL,
     "field 'time_offset'"},
    {EDIT_REPLACE, "\"last_time_synch\": null",
     "\"last_time_synch\": {\"ta0\": 1, \"tm1\": 5, \"tm2\": 4}", PP_EINVAL,
     "field 'last_time_synch.tm2'"},
    {EDIT_REPLACE, "\"last_time_synch\": null", "\"last_time_synch\": {\"ta0\": 1}", PP_EINVAL,
     "missing field 'last_time_synch.tm1'"},
    {EDIT_REPLACE, "\"user\": \"" ADMIN_USER "\"", "\"user\": \"a:b\"", PP_EINVAL,
     "field 'admin.user'"},
    {EDIT_REPLACE, "\"amt\": \"", "\"amt\": \"\\n", PP_EINVAL, "field 'firmware.amt'"},
    {EDIT_REPLACE, "\"event\": \"created\"", "\"event\": \"\"", PP_EINVAL,
     "field 'audit[0].event'"},
    {EDIT_REPLACE, "\"event\": \"created\"", "\"event\": \"a\\u0000b\"", PP_EINVAL,
     "not valid JSON (NUL character)"},
};

/* The good text parses, and serializes to itself. */
static void corrupt_good_text_roundtrips(const char *base)
{
	struct pp_err err = {0};
	struct pp_amt_device *d2 = NULL;

	assert_int_equal(pp_amt_parse(base, strlen(base), &d2, &err), 0);
	char *again = serialize(d2);
	assert_string_equal(base, again);
	free(again);
	pp_amt_free(d2);
}

/* Truncated, empty, not an object, trailing data. */
static void corrupt_not_json(const char *base)
{
	char *cut = strdup(base);
	cut[strlen(cut) / 2] = '\0';
	expect_parse_error(cut, PP_EINVAL, "not valid JSON (truncated)");
	free(cut);
	expect_parse_error("", PP_EINVAL, "not valid JSON");
	expect_parse_error("[1, 2]", PP_EINVAL, "not a JSON object");
	size_t bl = strlen(base);
	char *trail = malloc(bl + 3);
	memcpy(trail, base, bl);
	memcpy(trail + bl, "{}", 3);
	expect_parse_error(trail, PP_EINVAL, "not valid JSON (data after the end)");
	free(trail);
}

/* Keys and values, from the table. */
static void corrupt_fields_from_table(const char *base)
{
	for (size_t i = 0; i < sizeof(state_edits) / sizeof(state_edits[0]); i++) {
		const struct state_edit *e = &state_edits[i];
		if (e->kind == EDIT_REPLACE)
			mutate_expect(base, e->from, e->to, e->code, e->needle);
		else
			overwrite_expect(base, e->from, e->to, e->code, e->needle);
	}
}

/* Consistency between fields: a state needs its key and its admin. */
static void corrupt_inconsistent_fields(const char *base, const char *base_noadmin)
{
	struct pp_err err = {0};
	struct pp_amt_device *d2 = NULL;

	mutate_expect(base, "\"state\": 1", "\"state\": 0", PP_EINVAL, "field 'key'");
	mutate_expect(base_noadmin, "\"state\": 1", "\"state\": 2", PP_EINVAL, "field 'admin'");
	char *post = replace(base, "\"state\": 1", "\"state\": 2"); /* with admin: fine */
	assert_int_equal(pp_amt_parse(post, strlen(post), &d2, &err), 0);
	assert_int_equal(pp_amt_state(d2), PP_AMT_POST_SETUP);
	pp_amt_free(d2);
	free(post);
}

/* Too many audit events: PP_AMT_DEV_AUDIT_MAX more before the existing ones. */
static void corrupt_too_many_audit_events(const char *base)
{
	struct pp_buf big;
	pp_buf_init(&big, 8192);
	assert_int_equal(pp_buf_append_str(&big, "\"audit\": ["), 0);
	for (int i = 0; i < PP_AMT_DEV_AUDIT_MAX; i++)
		assert_int_equal(pp_buf_append_str(&big, "{\"time\": 1, \"event\": \"e\"}, "), 0);
	assert_int_equal(pp_buf_cstr(&big), 0);
	mutate_expect(base, "\"audit\": [", (char *)big.data, PP_ETOOBIG, "field 'audit'");
	pp_buf_free(&big);
}

/* Through pp_amt_load: the message names the file and the field. */
static void corrupt_load_names_file_and_field(struct fixture *f, struct pp_amt_device *d,
					      const char *base)
{
	struct pp_err err = {0};
	struct pp_amt_device *d2 = NULL;

	char *bad = replace(base, "\"state\": 1", "\"state\": 9");
	write_file(pp_amt_path(d), bad, strlen(bad), 0600);
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), -PP_EINVAL);
	assert_null(d2);
	assert_non_null(strstr(err.msg, "device.json"));
	assert_non_null(strstr(err.msg, "field 'state'"));
	free(bad);
}

/* Oversized file, through pp_amt_load and pp_amt_parse. */
static void corrupt_oversized_file(struct fixture *f, struct pp_amt_device *d)
{
	struct pp_err err = {0};
	struct pp_amt_device *d2 = NULL;

	size_t n = PP_AMT_DEV_STATE_MAX + 1;
	char *huge = malloc(n);
	memset(huge, ' ', n);
	write_file(pp_amt_path(d), huge, n, 0600);
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), -PP_ETOOBIG);
	assert_int_equal(pp_amt_parse(huge, n, &d2, &err), -PP_ETOOBIG);
	free(huge);
}

/* Truncated on disk. */
static void corrupt_truncated_on_disk(struct fixture *f, struct pp_amt_device *d, const char *base)
{
	struct pp_err err = {0};
	struct pp_amt_device *d2 = NULL;

	write_file(pp_amt_path(d), base, strlen(base) - 10, 0600);
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "truncated"));
}

static void test_corrupt_state_files(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f);
	char b64[25];
	char *base_noadmin = serialize(d);
	ha1_b64(ADMIN_USER, pp_amt_realm(d), ADMIN_PW, b64);
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), 0);
	char *base = serialize(d);

	corrupt_good_text_roundtrips(base);
	corrupt_not_json(base);
	corrupt_fields_from_table(base);
	corrupt_inconsistent_fields(base, base_noadmin);
	corrupt_too_many_audit_events(base);
	corrupt_load_names_file_and_field(f, d, base);
	corrupt_oversized_file(f, d);
	corrupt_truncated_on_disk(f, d, base);
	free(base);
	free(base_noadmin);
}

static void test_crash_leftovers(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f), *d2 = NULL;
	char *good = serialize(d);

	/* A save killed before its rename leaves a temporary file, complete or torn; a
	 * create killed before its link leaves a staging file. None of them is read. */
	char p[256];
	snprintf(p, sizeof(p), "%s.tmp.AbC123", pp_amt_path(d));
	write_file(p, good, strlen(good) / 3, 0600);
	snprintf(p, sizeof(p), "%s.tmp.XyZ789", pp_amt_path(d));
	write_file(p, "garbage", 7, 0600);
	snprintf(p, sizeof(p), "%s.new.0011223344556677", pp_amt_path(d));
	write_file(p, good, strlen(good) / 2, 0600);

	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	char *loaded = serialize(d2);
	assert_string_equal(good, loaded);
	free(loaded);

	/* And the next save still works beside them. */
	assert_int_equal(pp_amt_console_set_server(d2, &(struct pp_amt_server){.port = 1234}, &err),
			 0);
	pp_amt_free(d2);
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	struct pp_amt_server s;
	pp_amt_server(d2, &s);
	assert_int_equal(s.port, 1234);
	pp_amt_free(d2);
	free(good);
}

static void test_failed_save_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f);
	char *before = serialize(d);

	/* Make the rename fail whoever we run as: device.json becomes a non-empty
	 * directory. */
	char moved[256], inner[300];
	snprintf(moved, sizeof(moved), "%s.saved", pp_amt_path(d));
	assert_int_equal(rename(pp_amt_path(d), moved), 0);
	assert_int_equal(mkdir(pp_amt_path(d), 0700), 0);
	snprintf(inner, sizeof(inner), "%s/x", pp_amt_path(d));
	write_file(inner, "x", 1, 0600);

	struct pp_pid np;
	assert_int_equal(pp_pid_generate(&np), 0);
	assert_int_equal(pp_amt_set_tls_psk(d, np.s, EX_PPS, &err), -PP_EIO);
	char b64[25];
	ha1_b64(ADMIN_USER, pp_amt_realm(d), ADMIN_PW, b64);
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), -PP_EIO);
	assert_int_equal(pp_amt_set_mebx_password(d, PW2, &err), -PP_EIO);
	assert_int_equal(pp_amt_unprovision(d, PP_AMT_DEV_UNPROVISION_FULL, &err), -PP_EIO);
	/* Memory is what is on disk: unchanged. */
	char *after = serialize(d);
	assert_string_equal(before, after);
	assert_int_equal(pp_amt_state(d), PP_AMT_IN_SETUP);
	assert_string_equal(pp_amt_admin_user(d), "");
	uint8_t ha1[16], want[16];
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), 0);
	md5_ha1("admin", pp_amt_realm(d), PW1, want);
	assert_memory_equal(ha1, want, 16);
	free(after);
	free(before);
	/* A device without a directory refuses to change. */
	struct pp_amt_device *mem = NULL;
	char *text = serialize(d);
	assert_int_equal(pp_amt_parse(text, strlen(text), &mem, &err), 0);
	assert_null(pp_amt_path(mem));
	assert_int_equal(pp_amt_set_admin_acl(mem, ADMIN_USER, b64, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_save(mem, &err), -PP_ESTATE);
	pp_amt_free(mem);
	free(text);
}

/* ---- the setup path (docs/protocol.md section 4, "Setup order") ---- */

/* Setup step 0: factory load, Pre -> In-Setup; repeating it changes nothing. */
static void setup_factory_load(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	char *snap;

	assert_int_equal(pp_amt_load_key(d, "0000037m", EX_PPS_BARE, PW1, NULL, &err), 0);
	assert_int_equal(pp_amt_state(d), PP_AMT_IN_SETUP);
	assert_false(pp_amt_mebx_is_factory_default(d));
	snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, PW1, NULL, &err), 0);
	expect_no_change_on_disk(d, snap);
	free(snap);
	assert_true(audit_has(d, "key loaded (factory), PID 0000037M"));
}

/* In-Setup: the TLS-PSK key, and Digest for "admin" with the MEBx password. */
static void setup_expect_factory_key_and_digest(struct pp_amt_device *d, const char *realm)
{
	struct pp_err err = {0};
	uint8_t ha1[16], want[16];
	struct pp_pid pid;
	struct pp_pps pps;

	assert_int_equal(pp_amt_tls_key(d, &pid, &pps, &err), 0);
	assert_string_equal(pid.s, EX_PID_BARE);
	assert_string_equal(pps.s, EX_PPS_BARE);
	pp_wipe(&pps, sizeof(pps));
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), 0);
	md5_ha1("admin", realm, PW1, want);
	assert_memory_equal(ha1, want, 16);
}

/* Setup step 1: read realm and versions. */
static void setup_read_realm_and_versions(struct pp_amt_device *d, const char *realm)
{
	struct pp_err err = {0};
	struct pp_amt_general_settings gs;
	struct pp_amt_versions v;
	uint32_t st, mode;

	assert_int_equal(pp_amt_get_general_settings(d, &gs, &err), 0);
	assert_string_equal(gs.digest_realm, realm);
	assert_string_equal(gs.host_name, "");
	assert_true(gs.network_enabled);
	pp_amt_versions(d, &v);
	assert_string_equal(v.amt, "6.2.61");
	assert_int_equal(pp_amt_get_setup_config(d, &st, &mode, &err), 0);
	assert_int_equal(st, 1);
	assert_int_equal(mode, 1);
}

/* Setup step 2: admin ACL, twice; Digest is still "admin" + MEBx. */
static void setup_admin_acl_twice(struct pp_amt_device *d, const char *realm)
{
	struct pp_err err = {0};
	uint8_t ha1[16];
	char b64[25];
	char *snap;

	ha1_b64(ADMIN_USER, realm, ADMIN_PW, b64);
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), 0);
	snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), 0);
	expect_no_change_on_disk(d, snap);
	free(snap);
	assert_string_equal(pp_amt_admin_user(d), ADMIN_USER);
	/* Still In-Setup: Digest is "admin" + MEBx, not the ACL user yet. */
	assert_int_equal(pp_amt_digest_ha1(d, ADMIN_USER, ha1, &err), -PP_EPERM);
}

/* Setup step 3: MEBx password, twice; Digest for "admin" follows it at once. */
static void setup_mebx_password_twice(struct pp_amt_device *d, const char *realm)
{
	struct pp_err err = {0};
	uint8_t ha1[16], want[16];
	char *snap;

	assert_int_equal(pp_amt_set_mebx_password(d, PW2, &err), 0);
	snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_set_mebx_password(d, PW2, &err), 0);
	expect_no_change_on_disk(d, snap);
	free(snap);
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), 0);
	md5_ha1("admin", realm, PW2, want);
	assert_memory_equal(ha1, want, 16);
}

/* Setup step 4: next key, twice (text as base64-decoded: any case, dashes
 * optional); the current key is unchanged until the next setup. */
static void setup_next_key_twice(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	struct pp_pid pid, npid;
	struct pp_pps pps, npps;
	char npid_text[PP_PID_TEXT], npps_text[PP_PPS_TEXT];
	char *snap;

	assert_int_equal(pp_pid_generate(&npid), 0);
	assert_int_equal(pp_pps_generate(&npps), 0);
	pp_pid_format(&npid, npid_text);
	pp_pps_format(&npps, npps_text);
	assert_int_equal(pp_amt_next_pid(d, &pid, &err), -PP_ENOTFOUND);
	assert_int_equal(pp_amt_set_tls_psk(d, npid_text, npps_text, &err), 0);
	snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_set_tls_psk(d, npid.s, npps.s, &err), 0);
	expect_no_change_on_disk(d, snap);
	free(snap);
	assert_int_equal(pp_amt_next_pid(d, &pid, &err), 0);
	assert_string_equal(pid.s, npid.s);
	/* The current key is unchanged until the next setup. */
	assert_int_equal(pp_amt_tls_key(d, &pid, &pps, &err), 0);
	assert_string_equal(pid.s, EX_PID_BARE);
	pp_wipe(&pps, sizeof(pps));
	pp_wipe(&npps, sizeof(npps));
	pp_wipe(npps_text, sizeof(npps_text));
}

/* Setup step 5: names, twice. */
static void setup_names_twice(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	struct pp_amt_general_settings gs;
	char *snap;

	assert_int_equal(pp_amt_put_general_settings(d, "host-1", "corp.example.com", true, &err),
			 0);
	snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_put_general_settings(d, "host-1", "corp.example.com", true, &err),
			 0);
	expect_no_change_on_disk(d, snap);
	free(snap);
	assert_int_equal(pp_amt_get_general_settings(d, &gs, &err), 0);
	assert_string_equal(gs.host_name, "host-1");
	assert_string_equal(gs.domain_name, "corp.example.com");
}

/* Setup step 6: time, Get then Set; repeating the same Set changes nothing. */
static void setup_time_get_then_set(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	int64_t now = 1700000000;
	uint32_t ta0;
	char *snap;

	assert_int_equal(pp_amt_get_time(d, now, &ta0, &err), 0);
	assert_int_equal(ta0, (uint32_t)now);
	assert_int_equal(pp_amt_set_time(d, now, ta0, 1700000100, 1700000100, &err), 0);
	assert_int_equal(pp_amt_time_offset(d), 100);
	snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_set_time(d, now, ta0, 1700000100, 1700000100, &err), 0);
	expect_no_change_on_disk(d, snap);
	free(snap);
	assert_int_equal(pp_amt_get_time(d, now + 5, &ta0, &err), 0);
	assert_int_equal(ta0, 1700000105u);
}

/* Setup step 7: commit, twice. */
static void setup_commit_twice(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	char *snap;

	assert_int_equal(pp_amt_commit(d, &err), 0);
	assert_int_equal(pp_amt_state(d), PP_AMT_POST_SETUP);
	snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_commit(d, &err), 0);
	expect_no_change_on_disk(d, snap);
	free(snap);
	assert_true(audit_has(d, "setup committed"));
}

/* Provisioned: Digest is the ACL user; the MEBx password no longer opens the
 * network; no TLS-PSK; no hellos. */
static void setup_expect_provisioned(struct pp_amt_device *d, const char *realm)
{
	struct pp_err err = {0};
	uint8_t ha1[16], want[16];
	struct pp_pid pid;
	struct pp_pps pps;
	uint32_t st, mode, rc_count;
	uint64_t delay;

	assert_int_equal(pp_amt_digest_ha1(d, ADMIN_USER, ha1, &err), 0);
	md5_ha1(ADMIN_USER, realm, ADMIN_PW, want);
	assert_memory_equal(ha1, want, 16);
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), -PP_EPERM);
	assert_int_equal(pp_amt_tls_key(d, &pid, &pps, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_hello_next(d, 0, 1.0, &rc_count, &delay), PP_AMT_HELLO_IDLE);
	assert_int_equal(pp_amt_get_setup_config(d, &st, &mode, &err), 0);
	assert_int_equal(st, 2);
}

/* And all of it is on disk; the console still knows the MEBx password. */
static void setup_expect_on_disk(struct fixture *f, struct pp_amt_device *d)
{
	struct pp_err err = {0};
	struct pp_amt_device *d2 = NULL;
	uint8_t ha1[16];
	uint32_t rc_count;
	uint64_t delay;

	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	char *a = serialize(d), *b = serialize(d2);
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(pp_amt_state(d2), PP_AMT_POST_SETUP);
	assert_int_equal(pp_amt_digest_ha1(d2, ADMIN_USER, ha1, &err), 0);
	assert_int_equal(pp_amt_hello_next(d2, 0, 1.0, &rc_count, &delay), PP_AMT_HELLO_IDLE);
	/* The console still knows the MEBx password. */
	assert_int_equal(pp_amt_console_login(d2, PW2, &err), 0);
	assert_int_equal(pp_amt_console_login(d2, PW1, &err), -PP_EPERM);
	pp_amt_free(d2);
}

/* The whole setup path, in order, each step done twice where it may repeat. */
static void test_setup_path(void **state)
{
	struct fixture *f = *state;
	struct pp_amt_device *d = make_device(f);
	const char *realm = pp_amt_realm(d);

	setup_factory_load(d);
	setup_expect_factory_key_and_digest(d, realm);
	setup_read_realm_and_versions(d, realm);
	setup_admin_acl_twice(d, realm);
	setup_mebx_password_twice(d, realm);
	setup_next_key_twice(d);
	setup_names_twice(d);
	setup_time_get_then_set(d);
	setup_commit_twice(d);
	setup_expect_provisioned(d, realm);
	setup_expect_on_disk(f, d);
}

static void test_wrong_state(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_device(f);
	uint8_t ha1[16];
	uint32_t a, b;
	char b64[25];
	struct pp_pid pid;
	struct pp_pps pps;
	struct pp_amt_general_settings gs;
	struct pp_amt_server srv = {.port = 9971};
	ha1_b64(ADMIN_USER, pp_amt_realm(d), ADMIN_PW, b64);

	/* Pre-Setup: no network operation. */
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_get_general_settings(d, &gs, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_put_general_settings(d, "h", "d", true, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_get_setup_config(d, &a, &b, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_set_mebx_password(d, PW2, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_set_tls_psk(d, EX_PID, EX_PPS, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_commit(d, &err), -PP_ESTATE);
	assert_non_null(strstr(err.msg, "Pre-Setup"));
	assert_int_equal(pp_amt_unprovision(d, PP_AMT_DEV_UNPROVISION_PARTIAL, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_get_time(d, 0, &a, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_set_time(d, 10, 1, 2, 3, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_tls_key(d, &pid, &pps, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_start_configuration(d, &err), -PP_ESTATE);
	/* The console needs the factory password changed first. */
	assert_int_equal(pp_amt_console_set_key(d, EX_PID, EX_PPS, &err), -PP_ESTATE);
	assert_non_null(strstr(err.msg, "factory default"));
	assert_int_equal(pp_amt_console_set_server(d, &srv, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_state(d), PP_AMT_PRE_SETUP);

	/* In-Setup. */
	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, PW1, NULL, &err), 0);
	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, PW2, NULL, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_commit(d, &err), -PP_ESTATE); /* no admin account */
	assert_non_null(strstr(err.msg, "admin account"));
	struct pp_amt_usb_record rec = {
	    .current_password = "admin", .new_password = PW2, .pid = EX_PID, .pps = EX_PPS};
	assert_int_equal(pp_amt_usb_apply(d, &rec, &err), -PP_ESTATE);

	/* Post-Setup. */
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), 0);
	assert_int_equal(pp_amt_commit(d, &err), 0);
	assert_int_equal(pp_amt_console_set_key(d, EX_PID, EX_PPS, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_console_set_server(d, &srv, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, PW1, NULL, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_start_configuration(d, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_tls_key(d, &pid, &pps, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_usb_apply(d, &rec, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_state(d), PP_AMT_POST_SETUP);
}

/* MEBx passwords the firmware refuses (too short, a class missing, the user
 * name, ":" or a space, too long, empty). */
static const char *const weak_passwords[] = {"short1!",
					     "alllowercase1!",
					     "ALLUPPER1!",
					     "NoDigits!!",
					     "NoSymbol12",
					     "admin",
					     "Has:Colon1",
					     "Has Space1!",
					     "Abcdefgh1!Abcdefgh1!Abcdefgh1!xyz",
					     ""};

#define N_WEAK (sizeof(weak_passwords) / sizeof(weak_passwords[0]))

/* Pre-Setup key load: weak passwords (never echoed), bad PID, bad PPS (never
 * echoed), missing PID, bad server; the device stays Pre-Setup. */
static void bad_load_key_parameters(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	const char *const *weak = weak_passwords;

	for (size_t i = 0; i < N_WEAK; i++) {
		assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, weak[i], NULL, &err),
				 -PP_EINVAL);
		assert_int_equal(err.code, PP_EINVAL);
		assert_non_null(strstr(err.msg, "MEBx password"));
		if (*weak[i])
			assert_null(strstr(err.msg, weak[i]));
	}
	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, NULL, NULL, &err), -PP_EINVAL);
	/* Bad keys: the checksum error becomes -PP_EINVAL, the PPS is never echoed. */
	assert_int_equal(pp_amt_load_key(d, "0000-037N", EX_PPS, PW1, NULL, &err), -PP_EINVAL);
	assert_int_equal(err.code, PP_EINVAL);
	assert_non_null(strstr(err.msg, "PID"));
	assert_int_equal(
	    pp_amt_load_key(d, EX_PID, "NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XK", PW1, NULL, &err),
	    -PP_EINVAL);
	assert_non_null(strstr(err.msg, "PPS"));
	assert_null(strstr(err.msg, "NKLD"));
	assert_int_equal(pp_amt_load_key(d, NULL, EX_PPS, PW1, NULL, &err), -PP_EINVAL);
	struct pp_amt_server srv = {.port = 0};
	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, PW1, &srv, &err), -PP_EINVAL);
	srv.port = 9971;
	memcpy(srv.fqdn, "bad_name", 9);
	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, PW1, &srv, &err), -PP_EINVAL);
	assert_int_equal(pp_amt_state(d), PP_AMT_PRE_SETUP);
}

/* In-Setup: weak MEBx passwords and a bad or missing next PPS. */
static void bad_in_setup_secrets(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	const char *const *weak = weak_passwords;

	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, PW1, NULL, &err), 0);
	for (size_t i = 0; i < N_WEAK; i++)
		assert_int_equal(pp_amt_set_mebx_password(d, weak[i], &err), -PP_EINVAL);
	assert_int_equal(pp_amt_set_tls_psk(d, EX_PID, "NKLD", &err), -PP_EINVAL);
	assert_int_equal(pp_amt_set_tls_psk(d, EX_PID, NULL, &err), -PP_EINVAL);
}

/* SetAdminAclEntryEx: user names and strict base64 of 16 bytes; ends with the
 * real admin ACL set. */
static void bad_admin_acl(struct pp_amt_device *d)
{
	struct pp_err err = {0};

	char b64[25];
	ha1_b64(ADMIN_USER, pp_amt_realm(d), ADMIN_PW, b64);
	const char *users[] = {
	    "", "a:b", "a b", "a,b", "a\"b", "a\\b", "123456789012345678901234567890123"};
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		assert_int_equal(pp_amt_set_admin_acl(d, users[i], b64, &err), -PP_EINVAL);
	assert_int_equal(pp_amt_set_admin_acl(d, NULL, b64, &err), -PP_EINVAL);
	const char *b64bad[] = {"",
				"AAAAAAAAAAAAAAAAAAAAAA=",
				"AAAAAAAAAAAAAAAAAAAAAA===",
				"AAAAAAAAAAAAAAAAAAAAAAA=",
				"AAAAAAAAAAAAAAAAAAAAA*==",
				"AAAAAAAAAAAAAAAAAAAAAB==", /* non-zero spare bits */
				"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="};
	for (size_t i = 0; i < sizeof(b64bad) / sizeof(b64bad[0]); i++)
		assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64bad[i], &err), -PP_EINVAL);
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, "AAAAAAAAAAAAAAAAAAAAAA==", &err), 0);
	assert_int_equal(pp_amt_set_admin_acl(d, "x", "/////////////////////w==", &err), 0);
	assert_string_equal(pp_amt_admin_user(d), "x");
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), 0);
}

/* Host and domain names; NULL keeps, "" clears. */
static void bad_names(struct pp_amt_device *d)
{
	struct pp_err err = {0};

	const char *hosts[] = {"-a", "a-", "a.b", "a_b",
			       "1234567890123456789012345678901234567890123456789012345678901234"};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		assert_int_equal(pp_amt_put_general_settings(d, hosts[i], NULL, true, &err),
				 -PP_EINVAL);
	assert_int_equal(pp_amt_put_general_settings(d, NULL, "a..b", true, &err), -PP_EINVAL);
	assert_int_equal(pp_amt_put_general_settings(d, NULL, "-a.b", true, &err), -PP_EINVAL);
	/* NULL keeps, "" clears. */
	assert_int_equal(pp_amt_put_general_settings(d, "h", "d.example", false, &err), 0);
	assert_int_equal(pp_amt_put_general_settings(d, NULL, "", false, &err), 0);
	struct pp_amt_general_settings gs;
	assert_int_equal(pp_amt_get_general_settings(d, &gs, &err), 0);
	assert_string_equal(gs.host_name, "h");
	assert_string_equal(gs.domain_name, "");
	assert_false(gs.network_enabled);
}

/* Unprovision modes and time; nothing of it changed the state or Digest. */
static void bad_unprovision_and_time(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	uint8_t ha1[16];

	assert_int_equal(pp_amt_unprovision(d, 0, &err), -PP_EINVAL);
	assert_int_equal(pp_amt_unprovision(d, 3, &err), -PP_EINVAL);
	assert_int_equal(pp_amt_set_time(d, 1000, 900, 2000, 1999, &err), -PP_EINVAL);
	assert_int_equal(pp_amt_set_time(d, 1000, 1001, 2000, 2000, &err), -PP_EINVAL);
	assert_int_equal(pp_amt_state(d), PP_AMT_IN_SETUP);
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), 0);
}

static void test_bad_parameters(void **state)
{
	struct fixture *f = *state;
	struct pp_amt_device *d = make_device(f);

	bad_load_key_parameters(d);
	bad_in_setup_secrets(d);
	bad_admin_acl(d);
	bad_names(d);
	bad_unprovision_and_time(d);
}

static void test_time_sync(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f);
	uint32_t ta0;
	/* Device clock = host clock + offset. Round trip 10 s, 4 s of it in the server:
	 * 6 s of network, half of it after Tm2. */
	assert_int_equal(pp_amt_get_time(d, 1000, &ta0, &err), 0);
	assert_int_equal(ta0, 1000);
	assert_int_equal(pp_amt_set_time(d, 1010, ta0, 5000, 5004, &err), 0);
	assert_int_equal(pp_amt_time_offset(d), 5004 + 3 - 1010);
	/* The same call later (a repeat after a crash): no second correction. */
	char *snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_set_time(d, 1020, ta0, 5000, 5004, &err), 0);
	assert_int_equal(pp_amt_time_offset(d), 5004 + 3 - 1010);
	expect_no_change_on_disk(d, snap);
	free(snap);
	assert_int_equal(pp_amt_get_time(d, 1010, &ta0, &err), 0);
	assert_int_equal(ta0, 5007);
	/* A server that took longer than the round trip: no negative correction. */
	assert_int_equal(pp_amt_set_time(d, 1010, 5007, 100, 200, &err), 0);
	assert_int_equal(pp_amt_get_time(d, 1010, &ta0, &err), 0);
	assert_int_equal(ta0, 200);
	/* Outside the u32 clock. */
	assert_int_equal(pp_amt_get_time(d, -5000, &ta0, &err), -PP_ESTATE);
	struct pp_amt_device *d2 = NULL;
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	assert_int_equal(pp_amt_time_offset(d2), 200 - 1010);
	pp_amt_free(d2);
}

/* ---- console and USB ---- */

static void test_console(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_device(f);

	assert_int_equal(pp_amt_console_login(d, "admin", &err), 0);
	assert_int_equal(pp_amt_console_login(d, "Admin", &err), -PP_EPERM);
	assert_int_equal(pp_amt_console_login(d, NULL, &err), -PP_EPERM);
	assert_true(audit_has(d, "console login failed"));

	assert_int_equal(pp_amt_console_change_password(d, "wrong", PW1, &err), -PP_EPERM);
	assert_int_equal(pp_amt_console_change_password(d, "admin", "weak", &err), -PP_EINVAL);
	assert_true(pp_amt_mebx_is_factory_default(d));
	assert_int_equal(pp_amt_console_change_password(d, "admin", PW1, &err), 0);
	assert_false(pp_amt_mebx_is_factory_default(d));
	assert_int_equal(pp_amt_console_login(d, "admin", &err), -PP_EPERM);
	assert_int_equal(pp_amt_console_login(d, PW1, &err), 0);
	assert_int_equal(pp_amt_state(d), PP_AMT_PRE_SETUP);

	struct pp_amt_server srv = {.has_ipv4 = true, .ipv4 = {192, 168, 1, 5}, .port = 9971};
	assert_int_equal(pp_amt_console_set_server(d, &srv, &err), 0);
	assert_int_equal(pp_amt_console_set_key(d, "0000-037m", EX_PPS, &err), 0);
	assert_int_equal(pp_amt_state(d), PP_AMT_IN_SETUP);
	char *snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_console_set_key(d, EX_PID, EX_PPS_BARE, &err), 0);
	expect_no_change_on_disk(d, snap);
	free(snap);

	/* In-Setup: the console may replace the key. */
	struct pp_pid p2;
	struct pp_pps s2;
	assert_int_equal(pp_pid_generate(&p2), 0);
	assert_int_equal(pp_pps_generate(&s2), 0);
	assert_int_equal(pp_amt_console_set_key(d, p2.s, s2.s, &err), 0);
	struct pp_pid got;
	assert_int_equal(pp_amt_pid(d, &got, &err), 0);
	assert_string_equal(got.s, p2.s);
	pp_wipe(&s2, sizeof(s2));

	/* Reloaded: password and server survive. */
	struct pp_amt_device *d2 = NULL;
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	assert_int_equal(pp_amt_console_login(d2, PW1, &err), 0);
	struct pp_amt_server s;
	pp_amt_server(d2, &s);
	assert_true(s.has_ipv4);
	assert_memory_equal(s.ipv4, srv.ipv4, 4);
	/* The password change works in any state. */
	assert_int_equal(pp_amt_console_change_password(d2, PW1, PW2, &err), 0);
	assert_int_equal(pp_amt_console_login(d2, PW2, &err), 0);
	pp_amt_free(d2);
}

/* A volatile device (the fleet without --state-dir): the same operations and answers,
 * no file, a verifier at PP_AMT_DEV_PBKDF2_VOLATILE that still tells passwords apart. */
static void test_volatile_device(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = NULL;
	struct pp_amt_create_opts bad = {.pbkdf2_iterations = PP_AMT_DEV_PBKDF2_MIN - 1};
	assert_int_equal(pp_amt_create_volatile(&bad, &d, &err), -PP_EINVAL);
	assert_null(d);
	assert_int_equal(pp_amt_create_volatile(NULL, &f->dev, &err), 0);
	d = f->dev;
	assert_null(pp_amt_path(d));
	assert_int_equal(pp_amt_state(d), PP_AMT_PRE_SETUP);
	assert_true(pp_amt_mebx_is_factory_default(d));
	assert_true(audit_has(d, "created"));

	fw_load_example_key(d);
	assert_int_equal(pp_amt_state(d), PP_AMT_IN_SETUP);
	assert_int_equal(pp_amt_console_login(d, PW1, &err), 0);
	assert_int_equal(pp_amt_console_login(d, PW2, &err), -PP_EPERM);
	assert_int_equal(pp_amt_set_mebx_password(d, PW2, &err), 0);
	assert_int_equal(pp_amt_console_login(d, PW1, &err), -PP_EPERM);
	assert_int_equal(pp_amt_console_login(d, PW2, &err), 0);
	char b64[25];
	ha1_b64(ADMIN_USER, pp_amt_realm(d), ADMIN_PW, b64);
	assert_int_equal(pp_amt_commit(d, &err), -PP_ESTATE); /* no admin account yet */
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), 0);
	assert_int_equal(pp_amt_commit(d, &err), 0);
	assert_int_equal(pp_amt_state(d), PP_AMT_POST_SETUP);
	assert_true(audit_has(d, "setup committed"));

	/* Saves succeed and write nothing; there is no state file to serialize. */
	assert_int_equal(pp_amt_save(d, &err), 0);
	struct pp_buf b;
	pp_buf_init(&b, PP_AMT_DEV_STATE_MAX + 1);
	assert_int_equal(pp_amt_serialize(d, &b, &err), -PP_ESTATE);
	assert_int_equal(b.len, 0);
	pp_buf_free_wipe(&b);
	DIR *dir = opendir(f->dir);
	assert_non_null(dir);
	int files = 0;
	for (struct dirent *e; (e = readdir(dir));)
		files += e->d_name[0] != '.';
	closedir(dir);
	assert_int_equal(files, 0);
}

/* The record the USB tests apply: key, passwords, server, names. */
static const struct pp_amt_server usb_srv = {.has_ipv4 = true, .ipv4 = {10, 0, 0, 1}, .port = 9971};
static const struct pp_amt_usb_record usb_rec = {.current_password = "admin",
						 .new_password = PW1,
						 .pid = EX_PID,
						 .pps = EX_PPS,
						 .server = &usb_srv,
						 .host_name = "pc-17",
						 .domain_name = "example.org"};

/* Malformed records and a wrong current password: refused, still Pre-Setup
 * with the factory password. */
static void usb_bad_records(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	struct pp_amt_usb_record rec = usb_rec;

	struct pp_amt_usb_record bad = rec;
	bad.pps = NULL;
	assert_int_equal(pp_amt_usb_apply(d, &bad, &err), -PP_EINVAL);
	bad = rec;
	bad.new_password = "weak";
	assert_int_equal(pp_amt_usb_apply(d, &bad, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "USB record"));
	bad = rec;
	bad.host_name = "bad.host";
	assert_int_equal(pp_amt_usb_apply(d, &bad, &err), -PP_EINVAL);
	bad = rec;
	bad.current_password = NULL;
	assert_int_equal(pp_amt_usb_apply(d, &bad, &err), -PP_EINVAL);
	assert_int_equal(pp_amt_usb_apply(d, NULL, &err), -PP_EINVAL);
	/* Wrong current password. */
	bad = rec;
	bad.current_password = "Admin";
	assert_int_equal(pp_amt_usb_apply(d, &bad, &err), -PP_EPERM);
	assert_int_equal(pp_amt_state(d), PP_AMT_PRE_SETUP);
	assert_true(pp_amt_mebx_is_factory_default(d));
}

/* Applied: In-Setup with everything the record carries. */
static void usb_applied(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	struct pp_amt_usb_record rec = usb_rec;

	assert_int_equal(pp_amt_usb_apply(d, &rec, &err), 0);
	assert_int_equal(pp_amt_state(d), PP_AMT_IN_SETUP);
	assert_int_equal(pp_amt_console_login(d, PW1, &err), 0);
	char host[256];
	uint16_t port;
	assert_int_equal(pp_amt_server_target(d, host, sizeof(host), &port, &err), 0);
	assert_string_equal(host, "10.0.0.1");
	struct pp_amt_general_settings gs;
	assert_int_equal(pp_amt_get_general_settings(d, &gs, &err), 0);
	assert_string_equal(gs.host_name, "pc-17");
	assert_string_equal(gs.domain_name, "example.org");
	assert_true(audit_has(d, "key loaded (USB), PID 0000037M"));
}

/* The same record again (applied, crash before it was consumed): success, no
 * change. Another record: refused, the password is no longer "admin". */
static void usb_again(struct pp_amt_device *d)
{
	struct pp_err err = {0};
	struct pp_amt_usb_record rec = usb_rec, bad;

	char *snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_usb_apply(d, &rec, &err), 0);
	expect_no_change_on_disk(d, snap);
	free(snap);
	bad = rec;
	bad.new_password = PW2;
	assert_int_equal(pp_amt_usb_apply(d, &bad, &err), -PP_ESTATE);
	assert_non_null(strstr(err.msg, "factory default"));
	struct pp_pid other;
	assert_int_equal(pp_pid_generate(&other), 0);
	bad = rec;
	bad.pid = other.s;
	assert_int_equal(pp_amt_usb_apply(d, &bad, &err), -PP_ESTATE);
}

/* A record with only the passwords, on a fresh device: stays Pre-Setup,
 * password changed; a full record after it is refused. */
static void usb_passwords_only(struct fixture *f)
{
	struct pp_err err = {0};
	struct pp_amt_usb_record rec = usb_rec;
	struct pp_amt_device *d;

	pp_amt_free(f->dev);
	f->dev = NULL;
	rm_tree(f->dir);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	d = make_device(f);
	struct pp_amt_usb_record pw_only = {.current_password = "admin", .new_password = PW3};
	assert_int_equal(pp_amt_usb_apply(d, &pw_only, &err), 0);
	assert_int_equal(pp_amt_state(d), PP_AMT_PRE_SETUP);
	assert_false(pp_amt_mebx_is_factory_default(d));
	assert_int_equal(pp_amt_console_login(d, PW3, &err), 0);
	assert_int_equal(pp_amt_usb_apply(d, &pw_only, &err), 0);
	assert_int_equal(pp_amt_usb_apply(d, &rec, &err), -PP_ESTATE);
	assert_true(audit_has(d, "MEBx password set (USB)"));
}

static void test_usb(void **state)
{
	struct fixture *f = *state;
	struct pp_amt_device *d = make_device(f);

	usb_bad_records(d);
	usb_applied(d);
	usb_again(d);
	usb_passwords_only(f);
}

/* ---- Digest, unprovision ---- */

static void test_digest_per_state(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f);
	uint8_t ha1[16], want[16];
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), 0);
	md5_ha1("admin", pp_amt_realm(d), PW1, want);
	assert_memory_equal(ha1, want, 16);
	assert_int_equal(pp_amt_digest_ha1(d, "Admin", ha1, &err), -PP_EPERM);
	assert_int_equal(pp_amt_digest_ha1(d, "", ha1, &err), -PP_EPERM);
	assert_int_equal(pp_amt_digest_ha1(d, NULL, ha1, &err), -PP_EPERM);

	/* An ACL user named "admin" takes over "admin" after the commit. */
	char b64[25];
	ha1_b64("admin", pp_amt_realm(d), ADMIN_PW, b64);
	assert_int_equal(pp_amt_set_admin_acl(d, "admin", b64, &err), 0);
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), 0);
	assert_memory_equal(ha1, want, 16); /* still the MEBx password in In-Setup */
	assert_int_equal(pp_amt_commit(d, &err), 0);
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), 0);
	md5_ha1("admin", pp_amt_realm(d), ADMIN_PW, want);
	assert_memory_equal(ha1, want, 16);
	/* A new admin account in Post-Setup replaces the old one. */
	ha1_b64("ops", pp_amt_realm(d), PW3, b64);
	assert_int_equal(pp_amt_set_admin_acl(d, "ops", b64, &err), 0);
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), -PP_EPERM);
	assert_int_equal(pp_amt_digest_ha1(d, "ops", ha1, &err), 0);
}

static void test_unprovision(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f), *d2 = NULL;
	char b64[25];
	uint8_t ha1[16], want[16];
	struct pp_pid pid, npid;
	struct pp_pps pps, npps;
	assert_int_equal(pp_pid_generate(&npid), 0);
	assert_int_equal(pp_pps_generate(&npps), 0);
	ha1_b64(ADMIN_USER, pp_amt_realm(d), ADMIN_PW, b64);
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), 0);
	assert_int_equal(pp_amt_set_mebx_password(d, PW2, &err), 0);
	assert_int_equal(pp_amt_set_tls_psk(d, npid.s, npps.s, &err), 0);
	assert_int_equal(pp_amt_put_general_settings(d, "h1", "ex.com", true, &err), 0);
	assert_int_equal(pp_amt_commit(d, &err), 0);

	/* Partial: back to In-Setup with the next key; admin gone; MEBx kept. */
	assert_int_equal(pp_amt_unprovision(d, PP_AMT_DEV_UNPROVISION_PARTIAL, &err), 0);
	assert_int_equal(pp_amt_state(d), PP_AMT_IN_SETUP);
	assert_int_equal(pp_amt_tls_key(d, &pid, &pps, &err), 0);
	assert_string_equal(pid.s, npid.s);
	assert_true(pp_ct_eq(pps.s, npps.s, sizeof(pps.s)));
	assert_int_equal(pp_amt_next_pid(d, &pid, &err), -PP_ENOTFOUND);
	assert_string_equal(pp_amt_admin_user(d), "");
	assert_int_equal(pp_amt_digest_ha1(d, ADMIN_USER, ha1, &err), -PP_EPERM);
	assert_int_equal(pp_amt_digest_ha1(d, "admin", ha1, &err), 0);
	md5_ha1("admin", pp_amt_realm(d), PW2, want);
	assert_memory_equal(ha1, want, 16);
	struct pp_amt_general_settings gs;
	assert_int_equal(pp_amt_get_general_settings(d, &gs, &err), 0);
	assert_string_equal(gs.host_name, "h1");
	uint32_t rcount;
	uint64_t delay;
	assert_int_equal(pp_amt_hello_next(d, 0, 1.0, &rcount, &delay), PP_AMT_HELLO_SEND);
	assert_int_equal(rcount, 0);
	/* Repeating a partial unprovision in In-Setup keeps the key (none pending). */
	assert_int_equal(pp_amt_unprovision(d, PP_AMT_DEV_UNPROVISION_PARTIAL, &err), 0);
	assert_int_equal(pp_amt_pid(d, &pid, &err), 0);
	assert_string_equal(pid.s, npid.s);
	assert_int_equal(pp_amt_commit(d, &err), -PP_ESTATE); /* no admin any more */
	assert_true(audit_has(d, "unprovisioned (partial)"));

	/* Full: factory defaults, Pre-Setup. */
	assert_int_equal(pp_amt_set_tls_psk(d, EX_PID, EX_PPS, &err), 0);
	assert_int_equal(pp_amt_unprovision(d, PP_AMT_DEV_UNPROVISION_FULL, &err), 0);
	assert_int_equal(pp_amt_state(d), PP_AMT_PRE_SETUP);
	assert_true(pp_amt_mebx_is_factory_default(d));
	assert_int_equal(pp_amt_pid(d, &pid, &err), -PP_ESTATE);
	assert_int_equal(pp_amt_next_pid(d, &pid, &err), -PP_ENOTFOUND);
	assert_int_equal(pp_amt_console_login(d, "admin", &err), 0);
	assert_int_equal(pp_amt_console_login(d, PW2, &err), -PP_EPERM);
	struct pp_amt_server s;
	pp_amt_server(d, &s);
	assert_false(s.has_ipv4);
	assert_int_equal(s.port, PP_AMT_DEV_SERVER_PORT);
	assert_true(audit_has(d, "unprovisioned (full)"));
	char *text = serialize(d);
	assert_null(strstr(text, npps.s));
	assert_null(strstr(text, EX_PPS_BARE));
	assert_non_null(strstr(text, "\"key\": null"));
	assert_non_null(strstr(text, "\"next_key\": null"));
	free(text);
	/* Full again: nothing to do. */
	char *snap = read_text(pp_amt_path(d));
	assert_int_equal(pp_amt_unprovision(d, PP_AMT_DEV_UNPROVISION_FULL, &err), 0);
	expect_no_change_on_disk(d, snap);
	free(snap);
	/* The device is as good as new: it takes a key again. */
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	assert_int_equal(pp_amt_load_key(d2, EX_PID, EX_PPS, PW3, NULL, &err), 0);
	pp_amt_free(d2);
	pp_wipe(&npps, sizeof(npps));
	pp_wipe(&pps, sizeof(pps));
}

/* ---- schedules ---- */

static void test_hello_schedule(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_device(f);
	uint32_t n = 99;
	uint64_t delay = 99;
	static const uint64_t expect[PP_AMT_DEV_HELLO_COUNT] = {
	    60000,  60000,   60000,   60000,   600000,  600000,  600000, 600000,
	    600000, 3600000, 3600000, 3600000, 3600000, 3600000, 0};

	/* Pre-Setup: silent. */
	assert_int_equal(pp_amt_hello_next(d, 0, 1.0, &n, &delay), PP_AMT_HELLO_IDLE);
	assert_int_equal(pp_amt_load_key(d, EX_PID, EX_PPS, PW1, NULL, &err), 0);
	assert_int_equal(pp_amt_hello_next(d, 0, 0.0, &n, &delay), -PP_EINVAL);
	assert_int_equal(pp_amt_hello_next(d, 0, -1.0, &n, &delay), -PP_EINVAL);

	/* Real time: 15 hellos at the exact spacing, RetryCount 0..14, then silence. */
	uint64_t now = 5000;
	for (uint32_t i = 0; i < PP_AMT_DEV_HELLO_COUNT; i++) {
		assert_int_equal(pp_amt_hello_next(d, now, 1.0, &n, &delay), PP_AMT_HELLO_SEND);
		assert_int_equal(n, i);
		assert_int_equal(delay, expect[i]);
		if (i + 1 < PP_AMT_DEV_HELLO_COUNT) {
			uint64_t w = 0;
			assert_int_equal(pp_amt_hello_next(d, now + 1, 1.0, &n, &w),
					 PP_AMT_HELLO_WAIT);
			assert_int_equal(w, delay - 1);
			assert_int_equal(pp_amt_hello_next(d, now + delay - 1, 1.0, &n, &w),
					 PP_AMT_HELLO_WAIT);
			assert_int_equal(w, 1);
		}
		now += delay;
	}
	assert_int_equal(pp_amt_hello_next(d, now + 1000000000, 1.0, &n, &delay),
			 PP_AMT_HELLO_IDLE);
	assert_int_equal(delay, 0);

	/* A trigger restarts it at 0, at once. */
	assert_int_equal(pp_amt_start_configuration(d, &err), 0);
	assert_true(audit_has(d, "start configuration"));
	assert_int_equal(pp_amt_hello_next(d, now, 1.0, &n, &delay), PP_AMT_HELLO_SEND);
	assert_int_equal(n, 0);
	assert_int_equal(delay, 60000);

	/* Scaled by 60: a minute becomes a second. */
	assert_int_equal(pp_amt_start_configuration(d, &err), 0);
	now = 0;
	for (uint32_t i = 0; i < PP_AMT_DEV_HELLO_COUNT; i++) {
		assert_int_equal(pp_amt_hello_next(d, now, 60.0, &n, &delay), PP_AMT_HELLO_SEND);
		assert_int_equal(n, i);
		assert_int_equal(delay, expect[i] / 60);
		now += delay;
	}
	assert_int_equal(pp_amt_hello_next(d, now, 60.0, &n, &delay), PP_AMT_HELLO_IDLE);
	/* Huge scales never give a zero wait before the last hello. */
	assert_int_equal(pp_amt_start_configuration(d, &err), 0);
	assert_int_equal(pp_amt_hello_next(d, 0, 1e12, &n, &delay), PP_AMT_HELLO_SEND);
	assert_int_equal(delay, 1);

	/* Power-on (load) of an In-Setup device starts hellos; the count is not saved. */
	struct pp_amt_device *d2 = NULL;
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	assert_int_equal(pp_amt_hello_next(d2, 0, 1.0, &n, &delay), PP_AMT_HELLO_SEND);
	assert_int_equal(n, 0);

	/* Mid-schedule commit: silence. */
	char b64[25];
	ha1_b64(ADMIN_USER, pp_amt_realm(d2), ADMIN_PW, b64);
	assert_int_equal(pp_amt_set_admin_acl(d2, ADMIN_USER, b64, &err), 0);
	assert_int_equal(pp_amt_hello_next(d2, delay, 1.0, &n, &delay), PP_AMT_HELLO_SEND);
	assert_int_equal(n, 1);
	assert_int_equal(pp_amt_commit(d2, &err), 0);
	assert_int_equal(pp_amt_hello_next(d2, 1ULL << 40, 1.0, &n, &delay), PP_AMT_HELLO_IDLE);
	assert_int_equal(pp_amt_start_configuration(d2, &err), -PP_ESTATE);
	pp_amt_free(d2);
}

static void test_handshake_backoff(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f);
	char *snap = read_text(pp_amt_path(d));
	uint64_t now = 1000000;
	assert_true(pp_amt_handshake_allowed(d, now));
	assert_int_equal(pp_amt_handshake_wait_ms(d, now), 0);
	uint64_t want = 1000;
	for (uint32_t i = 1; i <= 14; i++) {
		pp_amt_handshake_failed(d, now);
		assert_int_equal(pp_amt_handshake_failures(d), i);
		assert_false(pp_amt_handshake_allowed(d, now));
		assert_int_equal(pp_amt_handshake_wait_ms(d, now), want);
		assert_false(pp_amt_handshake_allowed(d, now + want - 1));
		assert_true(pp_amt_handshake_allowed(d, now + want));
		now += want;
		want = want * 2 > 600000 ? 600000 : want * 2;
	}
	assert_int_equal(pp_amt_handshake_wait_ms(d, now - 1), 1);
	assert_true(audit_has(d, "TLS handshake failed"));
	/* Memory only: nothing was written. */
	expect_no_change_on_disk(d, snap);
	free(snap);
	pp_amt_handshake_ok(d);
	assert_int_equal(pp_amt_handshake_failures(d), 0);
	assert_true(pp_amt_handshake_allowed(d, 0));
	pp_amt_handshake_failed(d, 50);
	assert_int_equal(pp_amt_handshake_wait_ms(d, 50), 1000);
	/* A restart forgets it. */
	struct pp_amt_device *d2 = NULL;
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	assert_int_equal(pp_amt_handshake_failures(d2), 0);
	pp_amt_free(d2);
}

/* ---- audit ---- */

static void test_audit_has_no_secrets(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_device(f);
	struct pp_pid npid;
	struct pp_pps npps;
	char b64[25], hex[33];
	uint8_t h[16];
	assert_int_equal(pp_pid_generate(&npid), 0);
	assert_int_equal(pp_pps_generate(&npps), 0);
	assert_int_equal(pp_amt_console_login(d, "Wr0ng!pass", &err), -PP_EPERM);
	struct pp_amt_usb_record rec = {
	    .current_password = "admin", .new_password = PW1, .pid = EX_PID, .pps = EX_PPS};
	assert_int_equal(pp_amt_usb_apply(d, &rec, &err), 0);
	ha1_b64(ADMIN_USER, pp_amt_realm(d), ADMIN_PW, b64);
	assert_int_equal(pp_amt_set_admin_acl(d, ADMIN_USER, b64, &err), 0);
	assert_int_equal(pp_amt_set_mebx_password(d, PW2, &err), 0);
	assert_int_equal(pp_amt_set_tls_psk(d, npid.s, npps.s, &err), 0);
	pp_amt_handshake_failed(d, 0);
	assert_int_equal(pp_amt_commit(d, &err), 0);
	assert_int_equal(pp_amt_console_change_password(d, PW2, PW3, &err), 0);
	assert_int_equal(pp_amt_unprovision(d, PP_AMT_DEV_UNPROVISION_PARTIAL, &err), 0);

	const char *secrets[] = {EX_PPS,   EX_PPS_BARE,  npps.s, PW1,    PW2,        PW3,
				 ADMIN_PW, "Wr0ng!pass", b64,    "NKLD", npps.s + 24};
	struct pp_amt_audit_event e;
	assert_true(pp_amt_audit_count(d) >= 9);
	for (size_t i = 0; i < pp_amt_audit_count(d); i++) {
		assert_int_equal(pp_amt_audit_get(d, i, &e), 0);
		assert_true(e.text[0] != '\0');
		for (size_t j = 0; j < sizeof(secrets) / sizeof(secrets[0]); j++)
			if (strstr(e.text, secrets[j]))
				fail_msg("audit event %zu '%s' holds a secret", i, e.text);
		md5_ha1(ADMIN_USER, pp_amt_realm(d), ADMIN_PW, h);
		for (int k = 0; k < 16; k++)
			snprintf(hex + 2 * k, 3, "%02x", h[k]);
		assert_null(strstr(e.text, hex));
	}
	assert_int_equal(pp_amt_audit_get(d, pp_amt_audit_count(d), &e), -PP_ENOTFOUND);

	/* The state file never holds a password in any form we can spot. */
	char *text = read_text(pp_amt_path(d));
	for (size_t j = 3; j < 8; j++)
		assert_null(strstr(text, secrets[j]));
	free(text);
	pp_wipe(&npps, sizeof(npps));
}

static void test_audit_ring(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f), *d2 = NULL;
	for (int i = 0; i < 40; i++)
		pp_amt_handshake_failed(d, 0);
	assert_int_equal(pp_amt_audit_count(d), PP_AMT_DEV_AUDIT_MAX);
	struct pp_amt_audit_event e;
	assert_int_equal(pp_amt_audit_get(d, 0, &e), 0);
	assert_string_equal(e.text, "TLS handshake failed (25 in a row)");
	assert_int_equal(pp_amt_audit_get(d, PP_AMT_DEV_AUDIT_MAX - 1, &e), 0);
	assert_string_equal(e.text, "TLS handshake failed (40 in a row)");
	time_t now = time(NULL);
	assert_true(e.time >= now - 5 && e.time <= now + 5);
	/* The ring survives a save and a load, order kept. */
	assert_int_equal(pp_amt_save(d, &err), 0);
	assert_int_equal(pp_amt_load(f->dir, &d2, &err), 0);
	assert_int_equal(pp_amt_audit_count(d2), PP_AMT_DEV_AUDIT_MAX);
	assert_int_equal(pp_amt_audit_get(d2, 0, &e), 0);
	assert_string_equal(e.text, "TLS handshake failed (25 in a row)");
	char *a = serialize(d), *b = serialize(d2);
	assert_string_equal(a, b);
	free(a);
	free(b);
	pp_amt_free(d2);
}

static void test_server_target(void **state)
{
	struct fixture *f = *state;
	struct pp_err err = {0};
	struct pp_amt_device *d = make_in_setup(f);
	char host[256];
	uint16_t port = 0;
	assert_int_equal(pp_amt_server_target(d, host, sizeof(host), &port, &err), 0);
	assert_string_equal(host, "ProvisionServer");
	assert_int_equal(port, 9971);
	assert_int_equal(pp_amt_put_general_settings(d, NULL, "corp.example", true, &err), 0);
	assert_int_equal(pp_amt_server_target(d, host, sizeof(host), &port, &err), 0);
	assert_string_equal(host, "ProvisionServer.corp.example");
	struct pp_amt_server s = {.port = 1234};
	memcpy(s.fqdn, "prov.corp.example", 18);
	assert_int_equal(pp_amt_console_set_server(d, &s, &err), 0);
	assert_int_equal(pp_amt_server_target(d, host, sizeof(host), &port, &err), 0);
	assert_string_equal(host, "prov.corp.example");
	assert_int_equal(port, 1234);
	s.has_ipv4 = true;
	memcpy(s.ipv4, (uint8_t[]){172, 16, 0, 9}, 4);
	assert_int_equal(pp_amt_console_set_server(d, &s, &err), 0);
	assert_int_equal(pp_amt_server_target(d, host, sizeof(host), &port, &err), 0);
	assert_string_equal(host, "172.16.0.9");
	assert_int_equal(pp_amt_server_target(d, host, 5, &port, &err), -PP_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_load_roundtrip, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_create_options, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_state_file_mode, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_state_files, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_crash_leftovers, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_failed_save_changes_nothing, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_setup_path, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_state, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_parameters, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_time_sync, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_console, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_volatile_device, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_usb, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_digest_per_state, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_unprovision, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_hello_schedule, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_backoff, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_audit_has_no_secrets, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_audit_ring, setup, fw_teardown),
	    cmocka_unit_test_setup_teardown(test_server_target, setup, fw_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
