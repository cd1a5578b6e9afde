#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/bytes.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/parse.h"
#include "core/secret.h"
#include "core/sock.h"

static void test_reader_bounds(void **state)
{
	(void)state;
	const uint8_t data[] = {1, 2, 3, 4, 5, 6, 7};
	struct pp_reader r = pp_reader_make(data, sizeof(data));
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;
	assert_int_equal(pp_rd_u32le(&r, &v32), 0);
	assert_int_equal(v32, 0x04030201);
	assert_int_equal(pp_rd_u16le(&r, &v16), 0);
	assert_int_equal(v16, 0x0605);
	assert_int_equal(pp_rd_u16le(&r, &v16), -PP_ETRUNC);
	assert_int_equal(pp_rd_left(&r), 1); /* a failed read consumes nothing */
	assert_int_equal(pp_rd_expect_end(&r), -PP_ETOOBIG);
	assert_int_equal(pp_rd_u8(&r, &v8), 0);
	assert_int_equal(pp_rd_expect_end(&r), 0);
	assert_int_equal(pp_rd_skip(&r, SIZE_MAX), -PP_ETRUNC);
}

static void test_writer_bounds(void **state)
{
	(void)state;
	uint8_t out[6];
	struct pp_writer w = pp_writer_make(out, sizeof(out));
	assert_int_equal(pp_wr_u32be(&w, 0x01020304), 0);
	assert_int_equal(pp_wr_u32le(&w, 1), -PP_ETOOBIG);
	assert_int_equal(pp_wr_u16le(&w, 0x0605), 0);
	assert_int_equal(w.len, 6);
	assert_memory_equal(out, "\x01\x02\x03\x04\x05\x06", 6);
	assert_int_equal(pp_wr_u8(&w, 0), -PP_ETOOBIG);
}

static void test_buf_ceiling(void **state)
{
	(void)state;
	struct pp_buf b;
	pp_buf_init(&b, 10);
	assert_int_equal(pp_buf_append_str(&b, "hello"), 0);
	assert_int_equal(pp_buf_printf(&b, "%d", 12345), 0);
	assert_int_equal(pp_buf_append(&b, "x", 1), -PP_ETOOBIG);
	assert_int_equal(pp_buf_reserve(&b, 0), 0);
	assert_int_equal(pp_buf_reserve(&b, 1), -PP_ETOOBIG);
	assert_int_equal(pp_buf_cstr(&b), 0);
	assert_string_equal((char *)b.data, "hello12345");
	pp_buf_free_wipe(&b);
	assert_null(b.data);

	/* Reserved room takes the appends that follow without moving the data. */
	pp_buf_init(&b, 1000);
	assert_int_equal(pp_buf_reserve(&b, 500), 0);
	assert_int_equal(b.len, 0);
	assert_true(b.cap >= 501);
	const uint8_t *at = b.data;
	for (int i = 0; i < 100; i++)
		assert_int_equal(pp_buf_append(&b, "12345", 5), 0);
	assert_ptr_equal(b.data, at);
	assert_int_equal(pp_buf_cstr(&b), 0);
	assert_ptr_equal(b.data, at);
	assert_int_equal(pp_buf_reserve(&b, 501), -PP_ETOOBIG);
	pp_buf_free(&b);
}

static void test_parse_numbers(void **state)
{
	(void)state;
	struct pp_err err = {0};
	uint32_t v;
	assert_int_equal(pp_parse_u32("42", 1, 100, &v, "--count", &err), 0);
	assert_int_equal(v, 42);
	assert_true(pp_parse_u32("0", 1, 100, &v, "--count", &err) < 0);
	assert_string_equal(err.msg, "--count: 0 is out of range 1..100");
	assert_true(pp_parse_u32("4x", 1, 100, &v, "--count", &err) < 0);
	assert_string_equal(err.msg, "--count: '4x' is not a whole number");
	assert_true(pp_parse_u32("", 1, 100, &v, "--count", &err) < 0);
	assert_true(pp_parse_u32("-1", 0, 100, &v, "--count", &err) < 0);
	assert_true(pp_parse_u32(" 1", 0, 100, &v, "--count", &err) < 0);
	uint64_t big;
	assert_true(pp_parse_u64("99999999999999999999999", 0, UINT64_MAX, &big, "n", &err) < 0);
	double d;
	assert_int_equal(pp_parse_double("0.5", 0, 1, &d, "x", &err), 0);
	assert_true(pp_parse_double("nan", 0, 1, &d, "x", &err) < 0);
	assert_true(pp_parse_double("2", 0, 1, &d, "x", &err) < 0);
}

static void test_parse_ipv4(void **state)
{
	(void)state;
	struct pp_err err = {0};
	uint8_t ip[4];
	uint16_t port = 9971;
	assert_int_equal(pp_parse_ipv4_port("127.1.2.3", ip, &port, "--server", &err), 0);
	assert_memory_equal(ip, "\x7f\x01\x02\x03", 4);
	assert_int_equal(port, 9971);
	assert_int_equal(pp_parse_ipv4_port("10.0.0.1:16993", ip, &port, "--server", &err), 0);
	assert_int_equal(port, 16993);
	const char *bad[] = {"1.2.3",     "1.2.3.4.5", "256.1.1.1", "01.1.1.1", "1.2.3.4:",
			     "1.2.3.4:0", "a.b.c.d",   "",          "1..2.3",   "1.2.3.4:65536"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(pp_parse_ipv4_port(bad[i], ip, &port, "--server", &err) < 0);
}

static void test_fqdn(void **state)
{
	(void)state;
	assert_true(pp_valid_fqdn("ProvisionServer"));
	assert_true(pp_valid_fqdn("provisionserver.corp.example"));
	assert_false(pp_valid_fqdn(""));
	assert_false(pp_valid_fqdn("-bad.example"));
	assert_false(pp_valid_fqdn("bad-.example"));
	assert_false(pp_valid_fqdn("a..b"));
	assert_false(pp_valid_fqdn("a b"));
	char longlabel[70];
	memset(longlabel, 'a', 64);
	longlabel[64] = '\0';
	assert_false(pp_valid_fqdn(longlabel));
}

static void test_uuid(void **state)
{
	(void)state;
	struct pp_err err = {0};
	uint8_t u[16], s[16], back[16];
	char text[37];
	assert_int_equal(pp_uuid_parse("00112233-4455-6677-8899-AABBCCDDEEFF", u, &err), 0);
	pp_uuid_format(u, text);
	assert_string_equal(text, "00112233-4455-6677-8899-aabbccddeeff");
	pp_uuid_to_smbios(u, s);
	/* SMBIOS: the first three groups little-endian. */
	assert_memory_equal(s, "\x33\x22\x11\x00\x55\x44\x77\x66\x88\x99\xaa\xbb\xcc\xdd\xee\xff",
			    16);
	pp_uuid_from_smbios(s, back);
	assert_memory_equal(back, u, 16);
	assert_true(pp_uuid_parse("00112233-4455-6677-8899-AABBCCDDEEF", u, &err) < 0);
	assert_true(pp_uuid_parse("00112233x4455-6677-8899-AABBCCDDEEFF", u, &err) < 0);
	assert_true(pp_uuid_parse("0011223g-4455-6677-8899-AABBCCDDEEFF", u, &err) < 0);
}

static void test_secret_compare(void **state)
{
	(void)state;
	assert_true(pp_ct_eq("abc", "abc", 3));
	assert_false(pp_ct_eq("abc", "abd", 3));
	assert_true(pp_ct_streq("admin", "admin"));
	assert_false(pp_ct_streq("admin", "admin1"));
	assert_false(pp_ct_streq("admin1", "admin"));
	assert_false(pp_ct_streq("", "a"));
	uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	pp_wipe(buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/pp-core-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/secret", dir);
	struct pp_err err = {0};
	umask(022);
	assert_int_equal(pp_file_create(path, "abc", 3, 0600, &err), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(pp_file_check_private(path, &err), 0);
	/* Never overwrite. */
	assert_int_equal(pp_file_create(path, "xyz", 3, 0600, &err), -PP_EEXIST);
	struct pp_buf b;
	pp_buf_init(&b, 1024);
	assert_int_equal(pp_file_read(path, 1024, &b, &err), 0);
	assert_memory_equal(b.data, "abc", 3);
	pp_buf_free(&b);
	/* Whole or not at all: the temporary file is gone, in success and in refusal; a
	 * directory that cannot be written leaves nothing either. */
	assert_int_equal(count_entries(dir), 1);
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/ro", dir);
	assert_int_equal(mkdir(sub, 0500), 0);
	char inro[320];
	snprintf(inro, sizeof(inro), "%s/file", sub);
	if (geteuid() != 0) { /* root writes anywhere */
		assert_true(pp_file_create(inro, "abc", 3, 0600, &err) < 0);
		assert_int_equal(count_entries(sub), 0);
	}
	rmdir(sub);
	/* Atomic replace keeps the mode asked for. */
	assert_int_equal(pp_file_replace(path, "defg", 4, 0600, &err), 0);
	pp_buf_init(&b, 3);
	assert_int_equal(pp_file_read(path, 3, &b, &err), -PP_ETOOBIG);
	pp_buf_free(&b);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(pp_file_check_private(path, &err), -PP_EPERM);
	assert_non_null(strstr(err.msg, "mode 644"));
	pp_buf_init(&b, 10);
	assert_int_equal(pp_file_read("/nonexistent/x", 10, &b, &err), -PP_ENOTFOUND);
	pp_buf_free(&b);
	unlink(path);
	rmdir(dir);
}

static void test_err_prefix(void **state)
{
	(void)state;
	struct pp_err err = {0};
	/* Quoted input never breaks the one line: control characters become spaces. */
	assert_int_equal(pp_err_set(&err, PP_EINVAL, "bad '%s'", "a\nb\x1b[31mc\x7f"), -PP_EINVAL);
	assert_string_equal(err.msg, "bad 'a b [31mc '");
	pp_err_prefix(&err, "line\r%d", 2);
	assert_string_equal(err.msg, "line 2: bad 'a b [31mc '");
	assert_int_equal(pp_err_set(&err, PP_ECHECKSUM, "group %d", 3), -PP_ECHECKSUM);
	assert_int_equal(pp_err_prefix(&err, "line %d", 7), -PP_ECHECKSUM);
	assert_string_equal(err.msg, "line 7: group 3");
	assert_string_equal(pp_status_str(-PP_ETRUNC), "truncated input");
	assert_int_equal(pp_err_set(NULL, PP_EIO, "x"), -PP_EIO);
}

/* The VmFlags line of the /proc/self/smaps entry that starts at p, or "" */
static void smaps_flags(const void *p, char *out, size_t cap)
{
	char want[32], line[512];
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)p);
	out[0] = '\0';
	FILE *f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	bool in = false;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ') && strchr(line, ' '))
			in = strncmp(line, want, strlen(want)) == 0;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			size_t n = strnlen(line + 8, cap - 1);
			memcpy(out, line + 8, n);
			out[n] = '\0';
			break;
		}
	}
	fclose(f);
}

static void test_secret_alloc(void **state)
{
	(void)state;
	assert_null(pp_secret_alloc(0));
	pp_secret_free(NULL, 32);
	uint8_t *p = pp_secret_alloc(32);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0xA5, 32);
	char flags[256];
	smaps_flags(p, flags, sizeof(flags));
	/* "dd": the kernel leaves the mapping out of a core dump; "wf": wiped on fork. */
	if (!strstr(flags, " dd"))
		fail_msg("the secret page is not marked do-not-dump: VmFlags:%s", flags);
	pp_secret_free(p, 32);
}

/* Peer text quoted in a message comes out one printable ASCII line. */
static void test_err_one_line(void **state)
{
	(void)state;
	struct pp_err err = {0};
	int rc = pp_err_set(&err, PP_EINVAL, "bad '%s'", "a\r\nb\x7f\xc3\xa9");
	assert_int_equal(pp_err_one_line(&err, rc), -PP_EINVAL);
	/* pp_err_set already made the controls spaces; pp_err_one_line adds the bytes
	 * over 0x7e. */
	assert_string_equal(err.msg, "bad 'a  b ?\?'");
	/* Success leaves the message alone; no err is fine. */
	pp_err_set(&err, PP_EINVAL, "x\xc3\xa9y");
	assert_int_equal(pp_err_one_line(&err, 0), 0);
	assert_string_equal(err.msg, "x\xc3\xa9y");
	assert_int_equal(pp_err_one_line(NULL, -PP_EIO), -PP_EIO);
}

/* pp_lock_file: taken without waiting, the pid written in it; held (by another open file
 * description, as another process would hold it): refused with the holder's pid;
 * released by pp_closep, then taken again. */
static void test_lock_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/pp-lock-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/pskprov.lock", dir);
	struct pp_err err = {0};
	int fd = -1, fd2 = -1;
	long holder = -1;
	assert_int_equal(pp_lock_file(path, &fd, &holder, &err), 0);
	assert_true(fd >= 0);
	assert_int_equal(holder, 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(pp_lock_file(path, &fd2, &holder, &err), -PP_EEXIST);
	assert_int_equal(fd2, -1);
	assert_int_equal(holder, (long)getpid());
	assert_non_null(strstr(err.msg, "locked by another process"));
	pp_closep(&fd);
	assert_int_equal(fd, -1);
	pp_closep(&fd); /* twice: nothing */
	assert_int_equal(pp_lock_file(path, &fd2, &holder, &err), 0);
	pp_closep(&fd2);
	snprintf(path, sizeof(path), "%s/missing/pskprov.lock", dir);
	assert_int_equal(pp_lock_file(path, &fd, &holder, &err), -PP_EIO);
	assert_non_null(strstr(err.msg, "cannot open the lock file"));
	snprintf(path, sizeof(path), "%s/pskprov.lock", dir);
	unlink(path);
	rmdir(dir);
}

static void test_sock_nodelay(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(pp_sock_nodelay(fd), 0);
	int on = 0;
	socklen_t len = sizeof(on);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
	assert_int_not_equal(on, 0);
	close(fd);
	assert_int_equal(pp_sock_nodelay(fd), -1); /* not a socket any more */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reader_bounds), cmocka_unit_test(test_writer_bounds),
	    cmocka_unit_test(test_buf_ceiling),   cmocka_unit_test(test_parse_numbers),
	    cmocka_unit_test(test_parse_ipv4),    cmocka_unit_test(test_fqdn),
	    cmocka_unit_test(test_uuid),          cmocka_unit_test(test_secret_compare),
	    cmocka_unit_test(test_secret_alloc),  cmocka_unit_test(test_files),
	    cmocka_unit_test(test_err_prefix),    cmocka_unit_test(test_err_one_line),
	    cmocka_unit_test(test_lock_file),     cmocka_unit_test(test_sock_nodelay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
