/* Server-Sent Events framing: see sse.h. */
#include "core/sse.h"

#include <string.h>

#define SSE_NAME_MAX 32

static int name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > SSE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* The data lines: a line break (CR, LF or CRLF) in the payload ends one and starts the
 * next, as a reader splits them. */
static int append_data(struct pp_buf *b, const char *data, size_t len)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && data[i] != '\r' && data[i] != '\n')
			continue;
		if (pp_buf_append_str(b, "data: ") < 0 ||
		    pp_buf_append(b, data + start, i - start) < 0 || pp_buf_append_str(b, "\n") < 0)
			return -PP_ETOOBIG;
		if (i + 1 < len && data[i] == '\r' && data[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	return 0;
}

int pp_sse_event(struct pp_buf *b, const char *name, const char *data, size_t len)
{
	if (!name_ok(name) || (len && !data) || (len && memchr(data, '\0', len)))
		return -PP_EINVAL;
	size_t before = b->len;
	if (pp_buf_append_str(b, "event: ") < 0 || pp_buf_append_str(b, name) < 0 ||
	    pp_buf_append_str(b, "\n") < 0 || append_data(b, data, len) < 0 ||
	    pp_buf_append_str(b, "\n") < 0) {
		b->len = before;
		return -PP_ETOOBIG;
	}
	return 0;
}

int pp_sse_comment(struct pp_buf *b, const char *text)
{
	for (const char *p = text; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return -PP_EINVAL;
	size_t before = b->len;
	if (pp_buf_append_str(b, ": ") < 0 || pp_buf_append_str(b, text) < 0 ||
	    pp_buf_append_str(b, "\n\n") < 0) {
		b->len = before;
		return -PP_ETOOBIG;
	}
	return 0;
}
