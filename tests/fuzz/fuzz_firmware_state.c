/* libFuzzer: the emulated device's state-file parser (lib/firmware) on arbitrary bytes.
 * Whatever it accepts must serialize, parse again, and serialize to the same text, and
 * the read-only calls must hold on it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/device.h"
#include "core/bytes.h"
#include "core/err.h"
#include "core/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *to_text(const struct pp_amt_device *d, size_t *len)
{
	struct pp_buf b;
	pp_buf_init(&b, PP_AMT_DEV_STATE_MAX + 1);
	if (pp_amt_serialize(d, &b, NULL) != 0)
		abort(); /* a parsed device always serializes */
	*len = b.len;
	return (char *)b.data;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_amt_device *d = NULL, *d2 = NULL;
	struct pp_err err;
	if (pp_amt_parse(data, size, &d, &err) != 0) {
		if (d || !err.msg[0] || strchr(err.msg, '\n'))
			abort();
		return 0;
	}
	size_t l1, l2;
	char *t1 = to_text(d, &l1);
	if (pp_amt_parse(t1, l1, &d2, &err) != 0)
		abort();
	char *t2 = to_text(d2, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0)
		abort();

	/* Read-only calls on whatever was accepted. */
	uint8_t ha1[PP_AMT_DEV_HA1_LEN];
	char host[256];
	uint16_t port;
	uint32_t rc_count;
	uint64_t delay;
	struct pp_pid pid;
	struct pp_pps pps;
	if (pp_amt_server_target(d, host, sizeof(host), &port, NULL) != 0)
		abort();
	int st = pp_amt_state(d);
	if (st < PP_AMT_PRE_SETUP || st > PP_AMT_POST_SETUP)
		abort();
	if ((pp_amt_tls_key(d, &pid, &pps, NULL) == 0) != (st == PP_AMT_IN_SETUP))
		abort();
	if (pp_amt_digest_ha1(d, pp_amt_admin_user(d), ha1, NULL) == 0 && st == PP_AMT_PRE_SETUP)
		abort();
	if (pp_amt_hello_next(d, 0, 1.0, &rc_count, &delay) !=
	    (st == PP_AMT_IN_SETUP ? PP_AMT_HELLO_SEND : PP_AMT_HELLO_IDLE))
		abort();
	/* No state directory: changes are refused, the device stays as it was. */
	if (pp_amt_commit(d, NULL) == 0 && st == PP_AMT_IN_SETUP)
		abort();

	pp_wipe(&pps, sizeof(pps));
	pp_wipe(t1, l1);
	pp_wipe(t2, l2);
	free(t1);
	free(t2);
	pp_amt_free(d);
	pp_amt_free(d2);
	return 0;
}
