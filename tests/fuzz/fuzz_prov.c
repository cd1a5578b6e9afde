/* The provisioning engine fed arbitrary device answers: the input is a run of chunks,
 * each `u16 length (LE), u8 status byte, body`. Every SEND is answered with the next
 * chunk; the status byte picks the HTTP status and, now and then, a store failure, a
 * Digest refusal or a lost connection instead. The engine must end (FINISH or FAIL)
 * within a bounded number of events, never crash, and never put a secret in a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prov/prov.h"
#include "wsman/soap.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEBX_OLD "Old-Pass1!"
#define NEW_PW "Aa1!Bb2@Cc3#Dd4$"

static struct pp_wsman_response scratch;

static int gen_password(void *rng, size_t len, char *out)
{
	(void)rng;
	memcpy(out, NEW_PW, len);
	out[len] = '\0';
	return 0;
}

static int gen_key(void *rng, struct pp_pid *pid, struct pp_pps *pps)
{
	(void)rng;
	if (pp_pid_parse("0000-037M", pid, NULL) < 0 ||
	    pp_pps_parse("NKLD-G5DC-RRNQ-E9YZ-ZIJL-7LFL-VJED-69XJ", pps, NULL) < 0)
		abort();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pp_wsman_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pp_prov_policy pol = {.rotate_psk = true,
						  .set_time = true,
						  .max_attempts = 3,
						  .admin_user = "admin",
						  .admin_password_length = 16,
						  .mebx_password_length = 12,
						  .domain = "example.test",
						  .host_name_template = "amt-{pid}",
						  .gen_password = gen_password,
						  .gen_key = gen_key};
	if (size < 1)
		return 0;
	struct pp_job job = {
	    .id = 1, .step = (enum pp_job_step)(data[0] % PP_STEP_DONE), .attempts = 1};
	memcpy(job.pid, "ABCD1234", 9);
	struct pp_prov p;
	pp_prov_init(&p, &pol, &job);
	memcpy(p.mebx_old, MEBX_OLD, sizeof(MEBX_OLD));
	p.have_sec = data[0] & 0x80;
	if (p.have_sec) {
		memcpy(p.sec.admin_user, "admin", 6);
		memcpy(p.sec.admin_password, NEW_PW, sizeof(NEW_PW));
		memcpy(p.sec.mebx_password, NEW_PW, 13);
	}
	size_t off = 1;
	struct pp_prov_action a;
	struct pp_prov_event ev = {.kind = PV_EV_START};
	int n = 0;
	for (;; n++) {
		if (n > 400)
			abort(); /* the engine must end */
		pp_prov_step(&p, &ev, &a);
		/* No secret the engine holds now (the device may echo any text, a secret
		 * of the session included) appears in a reason. */
		if (strstr(a.reason, MEBX_OLD) ||
		    (p.have_sec && (strstr(a.reason, p.sec.admin_password) ||
				    strstr(a.reason, p.sec.mebx_password))))
			abort();
		if (a.kind == PV_ACT_FINISH || a.kind == PV_ACT_FAIL)
			break;
		memset(&ev, 0, sizeof(ev));
		ev.scratch = &scratch;
		if (size - off < 3) {
			ev.kind = PV_EV_TRANSPORT;
			ev.terr = PV_TE_TIMEOUT;
			continue;
		}
		size_t len = (size_t)data[off] | (size_t)data[off + 1] << 8;
		uint8_t st = data[off + 2];
		off += 3;
		if (len > size - off)
			len = size - off;
		if (a.kind == PV_ACT_STORE) {
			ev.kind = PV_EV_STORE_DONE;
			ev.store_rc = st == 0xEE ? -PP_EEXIST : st == 0xEF ? -PP_EIO : 0;
			continue;
		}
		if (st == 0xF0) {
			ev.kind = PV_EV_AUTH_REFUSED;
			continue;
		}
		if (st >= 0xF1 && st <= 0xF6) {
			ev.kind = PV_EV_TRANSPORT;
			ev.terr = (enum pp_prov_transport_error)(st - 0xF1);
			continue;
		}
		ev.kind = PV_EV_RESPONSE;
		ev.http_status = st < 0x80 ? 200 : 400 + st % 100;
		ev.body = data + off;
		ev.body_len = len;
		off += len;
	}
	pp_prov_free(&p);
	return 0;
}
