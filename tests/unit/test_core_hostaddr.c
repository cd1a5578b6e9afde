#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/hostaddr.h"

#define HEADER                                                                                     \
	"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT "     \
	"          \n"

static int route_of(const char *text, char ifname[IFNAMSIZ], struct pp_err *err)
{
	return pp_default_route_iface(text, strlen(text), ifname, err);
}

static void expect_route_error(const char *text, int code, const char *needle)
{
	char ifname[IFNAMSIZ] = "";
	struct pp_err err = {0};
	assert_int_equal(route_of(text, ifname, &err), -code);
	if (!strstr(err.msg, needle))
		fail_msg("error '%s' does not say '%s'", err.msg, needle);
}

/* The table's default route is want. */
static void expect_iface(const char *text, const char *want)
{
	char ifname[IFNAMSIZ] = "";
	struct pp_err err = {0};
	if (route_of(text, ifname, &err) < 0)
		fail_msg("route table refused: %s", err.msg);
	assert_string_equal(ifname, want);
}

static void test_route_one_default(void **state)
{
	(void)state;
	/* As this kernel prints it: a gateway route and the link's own subnet. */
	expect_iface(HEADER "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0    "
			    "          \n"
			    "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0     \n",
		     "eth0");
	/* A device route (no gateway), no final newline. */
	expect_iface(HEADER "tap0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0", "tap0");
}

static void test_route_lowest_metric(void **state)
{
	(void)state;
	/* The first of equals. */
	expect_iface(HEADER "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
			    "eth1\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
			    "eth2\t00000000\t0103A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
		     "eth1");
	/* A metric over INT_MAX, printed negative by the kernel's %d, ranks high. */
	expect_iface(HEADER "big0\t00000000\t00000000\t0001\t0\t0\t-1\t00000000\t0\t0\t0\n"
			    "small0\t00000000\t00000000\t0001\t0\t0\t2147483647\t00000000\t0\t0\t"
			    "0\n",
		     "small0");
}

static void test_route_none(void **state)
{
	(void)state;
	expect_route_error(HEADER, PP_ENOTFOUND, "no default route");
	expect_route_error(HEADER "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
			   PP_ENOTFOUND, "no default route");
	/* Destination 0 with a mask is not the default route. */
	expect_route_error(HEADER "eth0\t00000000\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n",
			   PP_ENOTFOUND, "no default route");
}

static void test_route_down(void **state)
{
	(void)state;
	/* Flags without RTF_UP (0x0001): not a usable route, even at a lower metric. */
	expect_route_error(HEADER "eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n",
			   PP_ENOTFOUND, "no default route");
	expect_iface(HEADER "eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n"
			    "eth1\t00000000\t010200C0\t0003\t0\t0\t50\t00000000\t0\t0\t0\n",
		     "eth1");
}

static void test_route_malformed(void **state)
{
	(void)state;
	expect_route_error("", PP_EINVAL, "empty");
	expect_route_error("eth0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n",
			   PP_EINVAL, "line 1: not the header");
	expect_route_error(HEADER "eth0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\n",
			   PP_EINVAL, "line 2: fewer than 11 fields");
	expect_route_error(HEADER "eth0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\t9\n",
			   PP_EINVAL, "line 2: more than 11 fields");
	expect_route_error(HEADER "eth0\t0000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n",
			   PP_EINVAL, "8 hex digits");
	expect_route_error(HEADER "eth0\t0000000G\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n",
			   PP_EINVAL, "8 hex digits");
	expect_route_error(HEADER "eth0\t00000000\t00000000\t00x1\t0\t0\t0\t00000000\t0\t0\t0\n",
			   PP_EINVAL, "Flags must be hex");
	expect_route_error(HEADER "eth0\t00000000\t00000000\t0001\t0\t0\t1e3\t00000000\t0\t0\t0\n",
			   PP_EINVAL, "field 7 is not a number");
	expect_route_error(HEADER
			   "eth0\t00000000\t00000000\t0001\t0\t0\t99999999999\t00000000\t0\t0\t0\n",
			   PP_EINVAL, "field 7 is not a number");
	expect_route_error(HEADER "eth0\t00000000\t00000000\t0001\t0\t0\t-\t00000000\t0\t0\t0\n",
			   PP_EINVAL, "field 7 is not a number");
	expect_route_error(HEADER "averyveryverylongname0\t00000000\t00000000\t0001\t0\t0\t0\t"
				  "00000000\t0\t0\t0\n",
			   PP_EINVAL, "longer than 15 bytes");
	/* A malformed line after a good default route still refuses the whole table. */
	expect_route_error(HEADER "eth0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"
				  "garbage\n",
			   PP_EINVAL, "line 3");
	char ifname[IFNAMSIZ] = "";
	struct pp_err err = {0};
	static const char nul[] = "Iface x\neth0\t00000000\0";
	assert_int_equal(pp_default_route_iface(nul, sizeof(nul) - 1, ifname, &err), -PP_EINVAL);
	assert_non_null(strstr(err.msg, "NUL"));
}

static void test_route_oversize(void **state)
{
	(void)state;
	char ifname[IFNAMSIZ] = "";
	struct pp_err err = {0};
	size_t big = PP_HOSTADDR_ROUTE_MAX + 1;
	char *t = malloc(big);
	assert_non_null(t);
	memset(t, ' ', big);
	assert_int_equal(pp_default_route_iface(t, big, ifname, &err), -PP_ETOOBIG);
	assert_non_null(strstr(err.msg, "the limit is"));
	/* One line over the line cap. */
	size_t hl = strlen(HEADER), line = PP_HOSTADDR_LINE_MAX + 1;
	memcpy(t, HEADER, hl);
	memset(t + hl, 'x', line);
	assert_int_equal(pp_default_route_iface(t, hl + line, ifname, &err), -PP_ETOOBIG);
	assert_non_null(strstr(err.msg, "line 2 is longer than"));
	free(t);
}

static void expect_domain(const char *text, int rc, const char *want)
{
	char out[PP_FQDN_MAX] = "x";
	struct pp_err err = {0};
	assert_int_equal(pp_resolv_domain(text, strlen(text), out, sizeof(out), &err), rc);
	if (rc == 0)
		assert_string_equal(out, want);
	else if (!strstr(err.msg, want))
		fail_msg("error '%s' does not say '%s'", err.msg, want);
}

static void test_resolv(void **state)
{
	(void)state;
	expect_domain("nameserver 10.0.0.1\n", 0, "");
	expect_domain("", 0, "");
	expect_domain("domain corp.example.test\nnameserver 10.0.0.1\n", 0, "corp.example.test");
	expect_domain("search a.example.test b.example.test\n", 0, "a.example.test");
	expect_domain("search a.example.test\ndomain d.example.test\n", 0, "d.example.test");
	expect_domain("domain d.example.test\nsearch s.example.test\n", 0, "s.example.test");
	expect_domain("  search\tt.example.test.  \n", 0, "t.example.test");
	expect_domain("# domain c.example.test\n; search x.example.test\n", 0, "");
	expect_domain("search .\n", 0, "");
	expect_domain("domain\n", 0, "");
	expect_domain("domain bad_name.test\n", -PP_EINVAL, "line 1: 'bad_name.test' is not");
}

static void expect_fqdn(const char *host, const char *nis, const char *resolv, const char *want)
{
	char out[PP_FQDN_MAX] = "";
	struct pp_err err = {0};
	if (pp_fqdn_compose(host, nis, resolv, out, sizeof(out), &err) < 0)
		fail_msg("'%s': %s", host, err.msg);
	assert_string_equal(out, want);
}

static void test_fqdn_compose(void **state)
{
	(void)state;
	expect_fqdn("h.example.test", "nis.test", "r.test", "h.example.test");
	expect_fqdn("h", "nis.example.test", "r.example.test", "h.nis.example.test");
	expect_fqdn("h", "(none)", "r.example.test", "h.r.example.test");
	expect_fqdn("h", "", "r.example.test", "h.r.example.test");
	expect_fqdn("h", NULL, NULL, "h");
	expect_fqdn("h.example.test.", NULL, NULL, "h.example.test");
	char out[PP_FQDN_MAX];
	struct pp_err err = {0};
	assert_int_equal(pp_fqdn_compose("", NULL, NULL, out, sizeof(out), &err), -PP_EINVAL);
	assert_int_equal(pp_fqdn_compose("my_host", NULL, NULL, out, sizeof(out), &err),
			 -PP_EINVAL);
	assert_non_null(strstr(err.msg, "'my_host' is not a DNS name"));
	char label[64];
	memset(label, 'a', 63);
	label[63] = '\0';
	char longdom[300];
	snprintf(longdom, sizeof(longdom), "%s.%s.%s.%s", label, label, label, label);
	assert_int_equal(pp_fqdn_compose("h", longdom, NULL, out, sizeof(out), &err), -PP_ETOOBIG);
	assert_int_equal(pp_fqdn_compose("h", NULL, NULL, out, 1, &err), -PP_ETOOBIG);
}

/* The host's own name through a resolv.conf of the test's: whatever this host is
 * called, the result is a DNS name; a missing file means no domain. */
static void test_host_fqdn(void **state)
{
	(void)state;
	char path[] = "/tmp/pp-resolv-XXXXXX", out[PP_FQDN_MAX], bare[PP_FQDN_MAX];
	struct pp_err err = {0};
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static const char conf[] = "search unit.example.test\n";
	assert_int_equal(write(fd, conf, sizeof(conf) - 1), (ssize_t)(sizeof(conf) - 1));
	close(fd);
	char host[256] = "", nis[256] = "";
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	if (getdomainname(nis, sizeof(nis) - 1) < 0)
		nis[0] = '\0';
	if (pp_host_fqdn_at(path, out, sizeof(out), &err) == 0) {
		if (!strchr(host, '.') && (!nis[0] || strcmp(nis, "(none)") == 0)) {
			char want[PP_FQDN_MAX + 32];
			snprintf(want, sizeof(want), "%s.unit.example.test", host);
			assert_string_equal(out, want);
		}
		assert_int_equal(
		    pp_host_fqdn_at("/nonexistent/resolv.conf", bare, sizeof(bare), &err), 0);
	} else {
		print_message("note: this host's name is not a DNS name: %s\n", err.msg);
	}
	unlink(path);
}

static void test_iface_and_owner(void **state)
{
	(void)state;
	uint8_t ip[4];
	struct pp_err err = {0};
	assert_int_equal(pp_iface_ipv4("no-such-if0", ip, &err), -PP_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no-such-if0 has no IPv4 address"));
	assert_int_equal(pp_host_owns_ipv4((const uint8_t[]){127, 50, 0, 2}, &err), 0);
	/* TEST-NET-3: documentation only, never configured on a test host. */
	assert_int_equal(pp_host_owns_ipv4((const uint8_t[]){203, 0, 113, 77}, &err),
			 -PP_ENOTFOUND);
	assert_non_null(strstr(err.msg, "203.0.113.77 is not an address of this host"));
}

static void test_mgmt_address_paths(void **state)
{
	(void)state;
	char path[] = "/tmp/pp-route-XXXXXX", ifname[IFNAMSIZ], fqdn[PP_FQDN_MAX];
	uint8_t ip[4];
	struct pp_err err = {0};
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, HEADER, strlen(HEADER)), (ssize_t)strlen(HEADER));
	close(fd);
	assert_int_equal(pp_host_mgmt_address(path, ip, ifname, fqdn, &err), -PP_ENOTFOUND);
	assert_non_null(strstr(err.msg, "the host has no default route"));
	unlink(path);
	assert_int_equal(pp_host_mgmt_address(path, ip, ifname, fqdn, &err), -PP_ENOTFOUND);
	assert_non_null(strstr(err.msg, "cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_one_default),
	    cmocka_unit_test(test_route_lowest_metric),
	    cmocka_unit_test(test_route_none),
	    cmocka_unit_test(test_route_down),
	    cmocka_unit_test(test_route_malformed),
	    cmocka_unit_test(test_route_oversize),
	    cmocka_unit_test(test_resolv),
	    cmocka_unit_test(test_fqdn_compose),
	    cmocka_unit_test(test_host_fqdn),
	    cmocka_unit_test(test_iface_and_owner),
	    cmocka_unit_test(test_mgmt_address_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
