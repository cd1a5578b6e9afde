/* Getters, and the memory-only parts of a running device: the hello schedule and the
 * failed-handshake backoff. */
#include "firmware/device_impl.h"

#include "core/secret.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- getters ---- */

enum pp_amt_setup_state pp_amt_state(const struct pp_amt_device *dev)
{
	return (enum pp_amt_setup_state)dev->state;
}

uint32_t pp_amt_provisioning_mode(const struct pp_amt_device *dev)
{
	return dev->mode;
}

void pp_amt_uuid(const struct pp_amt_device *dev, uint8_t out[16])
{
	memcpy(out, dev->uuid, 16);
}

const char *pp_amt_realm(const struct pp_amt_device *dev)
{
	return dev->realm;
}

void pp_amt_versions(const struct pp_amt_device *dev, struct pp_amt_versions *out)
{
	*out = dev->versions;
}

uint32_t pp_amt_tls_mode(const struct pp_amt_device *dev)
{
	(void)dev;
	return PP_AMT_DEV_TLS_MODE_PSK;
}

bool pp_amt_mebx_is_factory_default(const struct pp_amt_device *dev)
{
	return dev->factory_default;
}

int pp_amt_pid(const struct pp_amt_device *dev, struct pp_pid *out, struct pp_err *err)
{
	if (!dev->has_key)
		return pp_err_set(err, PP_ESTATE, "PID: the device has no key (Pre-Setup)");
	*out = dev->pid;
	return 0;
}

int pp_amt_next_pid(const struct pp_amt_device *dev, struct pp_pid *out, struct pp_err *err)
{
	if (!dev->has_next)
		return pp_err_set(err, PP_ENOTFOUND, "next PID: none set");
	*out = dev->next_pid;
	return 0;
}

void pp_amt_server(const struct pp_amt_device *dev, struct pp_amt_server *out)
{
	*out = dev->server;
}

int pp_amt_server_target(const struct pp_amt_device *dev, char *host, size_t cap, uint16_t *port,
			 struct pp_err *err)
{
	const struct pp_amt_server *s = &dev->server;
	int n;
	if (s->has_ipv4)
		n = snprintf(host, cap, "%u.%u.%u.%u", s->ipv4[0], s->ipv4[1], s->ipv4[2],
			     s->ipv4[3]);
	else if (s->fqdn[0])
		n = snprintf(host, cap, "%s", s->fqdn);
	else if (dev->domain_name[0])
		n = snprintf(host, cap, "ProvisionServer.%s", dev->domain_name);
	else
		n = snprintf(host, cap, "ProvisionServer");
	if (n < 0 || (size_t)n >= cap)
		return pp_err_set(err, PP_ETOOBIG, "server host name: longer than %zu bytes", cap);
	*port = s->port;
	return 0;
}

const char *pp_amt_admin_user(const struct pp_amt_device *dev)
{
	return dev->has_admin ? dev->admin_user : "";
}

int64_t pp_amt_time_offset(const struct pp_amt_device *dev)
{
	return dev->time_offset;
}

size_t pp_amt_audit_count(const struct pp_amt_device *dev)
{
	return dev->audit_count;
}

int pp_amt_audit_get(const struct pp_amt_device *dev, size_t i, struct pp_amt_audit_event *out)
{
	if (i >= dev->audit_count)
		return -PP_ENOTFOUND;
	*out = dev->audit[(dev->audit_start + i) % PP_AMT_DEV_AUDIT_MAX];
	return 0;
}

/* ---- failed TLS handshakes ---- */

void pp_amt_handshake_failed(struct pp_amt_device *dev, uint64_t now_ms)
{
	if (dev->hs_failures < UINT32_MAX)
		dev->hs_failures++;
	uint64_t delay = PP_AMT_DEV_BACKOFF_FIRST_MS;
	for (uint32_t i = 1; i < dev->hs_failures && delay < PP_AMT_DEV_BACKOFF_MAX_MS; i++)
		delay *= 2;
	if (delay > PP_AMT_DEV_BACKOFF_MAX_MS)
		delay = PP_AMT_DEV_BACKOFF_MAX_MS;
	dev->hs_until_ms = now_ms > UINT64_MAX - delay ? UINT64_MAX : now_ms + delay;
	amt_audit(dev, "TLS handshake failed (%u in a row)", dev->hs_failures);
}

bool pp_amt_handshake_allowed(const struct pp_amt_device *dev, uint64_t now_ms)
{
	return dev->hs_failures == 0 || now_ms >= dev->hs_until_ms;
}

uint64_t pp_amt_handshake_wait_ms(const struct pp_amt_device *dev, uint64_t now_ms)
{
	return pp_amt_handshake_allowed(dev, now_ms) ? 0 : dev->hs_until_ms - now_ms;
}

uint32_t pp_amt_handshake_failures(const struct pp_amt_device *dev)
{
	return dev->hs_failures;
}

void pp_amt_handshake_ok(struct pp_amt_device *dev)
{
	dev->hs_failures = 0;
	dev->hs_until_ms = 0;
}

/* ---- hello schedule (docs/protocol.md section 2) ---- */

/* Wait after the hello with RetryCount n (n = 0..13), in milliseconds. */
static uint64_t hello_spacing_ms(uint32_t n)
{
	if (n <= 3)
		return 60000;
	if (n <= 8)
		return 600000;
	return 3600000;
}

int pp_amt_hello_next(struct pp_amt_device *dev, uint64_t now_ms, double time_scale,
		      uint32_t *retry_count, uint64_t *delay_ms)
{
	if (!isfinite(time_scale) || time_scale <= 0)
		return -PP_EINVAL;
	*delay_ms = 0;
	if (dev->state != PP_AMT_IN_SETUP || !dev->hello_active ||
	    dev->hello_sent >= PP_AMT_DEV_HELLO_COUNT) {
		dev->hello_active = false;
		return PP_AMT_HELLO_IDLE;
	}
	if (dev->hello_due_set && now_ms < dev->hello_due_ms) {
		*delay_ms = dev->hello_due_ms - now_ms;
		return PP_AMT_HELLO_WAIT;
	}
	*retry_count = dev->hello_sent++;
	if (dev->hello_sent >= PP_AMT_DEV_HELLO_COUNT) {
		dev->hello_active = false; /* the 15th: silence until the next trigger */
		return PP_AMT_HELLO_SEND;
	}
	/* Rounded to the nearest millisecond (no libm: x >= 0). */
	double scaled = (double)hello_spacing_ms(*retry_count) / time_scale + 0.5;
	uint64_t d = scaled < 1 ? 1 : scaled > 1e15 ? (uint64_t)1e15 : (uint64_t)scaled;
	dev->hello_due_ms = now_ms > UINT64_MAX - d ? UINT64_MAX : now_ms + d;
	dev->hello_due_set = true;
	*delay_ms = d;
	return PP_AMT_HELLO_SEND;
}

int pp_amt_start_configuration(struct pp_amt_device *dev, struct pp_err *err)
{
	if (dev->state != PP_AMT_IN_SETUP)
		return pp_err_set(err, PP_ESTATE,
				  "CFG_StartConfiguration: the device is not In-Setup");
	amt_hello_trigger(dev);
	amt_audit(dev, "start configuration");
	return 0;
}
