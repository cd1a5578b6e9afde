/* libFuzzer: the PID / PPS parsers and pp_key_check take any bytes without a fault;
 * whatever parses is canonical, formats to text that parses to the same value, and
 * pp_key_check agrees with the parser of the kind it picks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/secret.h"
#include "keys/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(const struct pp_err *err)
{
	if (err->code <= 0 || err->code >= PP_STATUS_MAX ||
	    strnlen(err->msg, sizeof(err->msg)) == sizeof(err->msg) || err->msg[0] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	struct pp_err err = {0};
	struct pp_pid pid, pid2;
	struct pp_pps pps, pps2;
	char out[PP_PPS_TEXT];
	int pid_rc = pp_pid_parse(text, &pid, &err);
	if (pid_rc == 0) {
		if (!pp_pid_valid(&pid))
			abort();
		pp_pid_format(&pid, out);
		if (strlen(out) != PP_PID_TEXT - 1 || pp_pid_parse(out, &pid2, &err) != 0 ||
		    strcmp(pid.s, pid2.s) != 0 || pp_pid_parse(pid.s, &pid2, &err) != 0 ||
		    strcmp(pid.s, pid2.s) != 0)
			abort();
	} else {
		check_msg(&err);
	}

	int pps_rc = pp_pps_parse(text, &pps, &err);
	if (pps_rc == 0) {
		if (!pp_pps_valid(&pps))
			abort();
		pp_pps_format(&pps, out);
		if (strlen(out) != PP_PPS_TEXT - 1 || pp_pps_parse(out, &pps2, &err) != 0 ||
		    !pp_ct_eq(pps.s, pps2.s, sizeof(pps.s)) ||
		    pp_pps_parse(pps.s, &pps2, &err) != 0 ||
		    !pp_ct_eq(pps.s, pps2.s, sizeof(pps.s)))
			abort();
	} else {
		check_msg(&err);
	}

	enum pp_key_kind kind = 0;
	int rc = pp_key_check(text, &kind, &err);
	if (rc == 0) {
		if ((kind == PP_KEY_KIND_PID && pid_rc != 0) ||
		    (kind == PP_KEY_KIND_PPS && pps_rc != 0) ||
		    (kind != PP_KEY_KIND_PID && kind != PP_KEY_KIND_PPS))
			abort();
	} else {
		check_msg(&err);
		if (pid_rc == 0 || pps_rc == 0) /* what a parser takes, the check takes */
			abort();
	}

	pp_wipe(&pps, sizeof(pps));
	pp_wipe(&pps2, sizeof(pps2));
	pp_wipe(out, sizeof(out));
	free(text);
	return 0;
}
