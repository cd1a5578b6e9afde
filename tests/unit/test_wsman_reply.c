/* The device's answers (lib/wsman/reply.c): every answer is the text the libxml2 tree
 * builders serialized before answers were written as text (wsa:MessageID aside), and the
 * same inputs are refused with the same error (tests/unit/golden/wsman_replies.txt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/bytes.h"
#include "core/err.h"
#include "wsman/soap.h"

#define GS_URI "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings"
#define SCS_URI "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService"
#define SW_URI "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_SoftwareIdentity"
#define ID_OPEN "<wsa:MessageID>"

static void req_init(struct pp_wsman_request *r, enum pp_wsman_op op, const char *uri,
		     const char *action, const char *method)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	snprintf(r->resource_uri, sizeof(r->resource_uri), "%s", uri);
	snprintf(r->action, sizeof(r->action), "%s", action);
	snprintf(r->to, sizeof(r->to), "http://127.0.0.1:16992/wsman");
	snprintf(r->message_id, sizeof(r->message_id), "uuid:00000000-8086-8086-8086-000000000001");
	snprintf(r->method, sizeof(r->method), "%s", method ? method : "");
	r->max_elements = 1;
}

static void add(struct pp_wsman_props *p, const char *name, const char *value)
{
	struct pp_err err = {0};
	if (pp_wsman_props_add(p, name, value, &err) < 0)
		fail_msg("props_add %s: %s", name, err.msg);
}

/* The wsa:MessageID text replaced by a fixed one, after checking its form. */
static void fix_id(struct pp_buf *b)
{
	char *s = (char *)b->data;
	char *at = strstr(s, ID_OPEN);
	assert_non_null(at);
	at += strlen(ID_OPEN);
	assert_int_equal(strncmp(at, "uuid:", 5), 0);
	assert_int_equal(at[5 + 36], '<');
	assert_int_equal(at[5 + 14], '4');
	memset(at + 5, 'x', 36);
}

typedef int (*build_fn)(const void *arg, struct pp_buf *out, struct pp_err *err);

/* The answers' bytes, recorded from the libxml2 tree builders before answers were written
 * as text (the MessageID replaced by x's): tests/unit/golden/wsman_replies.txt, one
 * record a case, in the order the cases run: "== <bytes>\n<text>\n", the text being the
 * envelope or "ERR <code> <message>". */
#define GOLDEN PP_SOURCE_DIR "/tests/unit/golden/wsman_replies.txt"
static FILE *golden_fp;

static void golden_next(char *out, size_t cap)
{
	size_t n = 0;
	if (!golden_fp)
		golden_fp = fopen(GOLDEN, "rb");
	assert_non_null(golden_fp);
	assert_int_equal(fscanf(golden_fp, "== %zu\n", &n), 1);
	assert_true(n < cap);
	assert_int_equal(fread(out, 1, n, golden_fp), n);
	out[n] = '\0';
	assert_int_equal(fgetc(golden_fp), '\n');
}

/* The builder on a case: the recorded result, byte for byte (MessageID aside), or the
 * recorded refusal in the same words. Returns the result code. */
static int same(build_fn fn, const void *arg)
{
	struct pp_buf b;
	struct pp_err e = {0};
	static char got[PP_WSMAN_DOC_MAX + 256], want[PP_WSMAN_DOC_MAX + 256];
	pp_buf_init(&b, PP_WSMAN_DOC_MAX);
	int rc = fn(arg, &b, &e);
	if (rc == 0) {
		fix_id(&b);
		assert_int_equal(b.data[b.len], '\0');
		assert_int_equal(strlen((char *)b.data), b.len);
		snprintf(got, sizeof(got), "%s", (char *)b.data);
	} else {
		snprintf(got, sizeof(got), "ERR %d %s", rc, e.msg);
	}
	pp_buf_free(&b);
	golden_next(want, sizeof(want));
	assert_string_equal(got, want);
	return rc;
}

struct resp_case {
	const struct pp_wsman_request *req;
	const char *body_name;
	const struct pp_wsman_props *props;
	uint32_t rv;
};

static int build_response(const void *arg, struct pp_buf *out, struct pp_err *err)
{
	const struct resp_case *c = arg;
	return pp_wsman_response_build(c->req, c->body_name, c->props, out, err);
}

static int build_output(const void *arg, struct pp_buf *out, struct pp_err *err)
{
	const struct resp_case *c = arg;
	return pp_wsman_output_build(c->req, c->rv, c->props, out, err);
}

static int build_release(const void *arg, struct pp_buf *out, struct pp_err *err)
{
	const struct resp_case *c = arg;
	return pp_wsman_release_response_build(c->req, out, err);
}

static void test_response(void **state)
{
	(void)state;
	static struct pp_wsman_request r;
	static struct pp_wsman_props p;
	req_init(&r, PP_WSMAN_OP_GET, GS_URI, PP_WSMAN_ACTION_GET, NULL);
	pp_wsman_props_init(&p);
	add(&p, "ElementName", "Intel(r) AMT: General Settings");
	add(&p, "HostName", "");
	add(&p, "Odd", "a<b>&c\r\n\t\"' \xc3\xbc\xe2\x82\xac done");
	add(&p, "Odd", "&amp; ]]> <![CDATA[x]]>");
	struct resp_case c = {&r, "AMT_GeneralSettings", &p, 0};
	assert_int_equal(same(build_response, &c), 0);
	c.props = NULL; /* an empty instance */
	assert_int_equal(same(build_response, &c), 0);
	c.body_name = NULL; /* an empty body (Put with no answer) */
	assert_int_equal(same(build_response, &c), 0);

	/* What is copied from the request: quotes, ampersands and UTF-8. */
	req_init(&r, PP_WSMAN_OP_GET, "http://x/a\"b&c<d>", "http://x/Get&more", NULL);
	snprintf(r.message_id, sizeof(r.message_id), "uuid:<&>\r \xc3\xa9");
	c = (struct resp_case){&r, "Thing", &p, 0};
	assert_int_equal(same(build_response, &c), 0);
	req_init(&r, PP_WSMAN_OP_GET, "http://x/a\"b'c", PP_WSMAN_ACTION_GET, NULL);
	assert_int_equal(same(build_response, &c), 0);
	req_init(&r, PP_WSMAN_OP_GET, "http://x/a'b", PP_WSMAN_ACTION_GET, NULL);
	assert_int_equal(same(build_response, &c), 0);

	/* Refusals: the same code and words. */
	req_init(&r, PP_WSMAN_OP_GET, GS_URI, PP_WSMAN_ACTION_GET, NULL);
	c = (struct resp_case){&r, "bad name", &p, 0};
	assert_int_equal(same(build_response, &c), -PP_EINVAL);
	r.message_id[0] = '\0';
	c.body_name = "AMT_GeneralSettings";
	assert_int_equal(same(build_response, &c), -PP_EINVAL);
	req_init(&r, PP_WSMAN_OP_GET, "http://x/with space", PP_WSMAN_ACTION_GET, NULL);
	assert_int_equal(same(build_response, &c), -PP_EINVAL);
	req_init(&r, PP_WSMAN_OP_GET, GS_URI, "", NULL);
	assert_int_equal(same(build_response, &c), -PP_EINVAL);
	req_init(&r, PP_WSMAN_OP_GET, GS_URI, PP_WSMAN_ACTION_GET, NULL);
	p.item[1].value[0] = '\x01';
	assert_int_equal(same(build_response, &c), -PP_EINVAL);
	p.item[1].name[0] = '9';
	assert_int_equal(same(build_response, &c), -PP_EINVAL);
}

static void test_output_release(void **state)
{
	(void)state;
	static struct pp_wsman_request r;
	static struct pp_wsman_props p;
	req_init(&r, PP_WSMAN_OP_INVOKE, SCS_URI, SCS_URI "/GetUuid", "GetUuid");
	pp_wsman_props_init(&p);
	add(&p, "UUID", "AAECAwQFBgcICQoLDA0ODw==");
	struct resp_case c = {&r, NULL, &p, 0};
	assert_int_equal(same(build_output, &c), 0);
	c = (struct resp_case){&r, NULL, NULL, 0x24};
	assert_int_equal(same(build_output, &c), 0);
	c.rv = UINT32_MAX;
	assert_int_equal(same(build_output, &c), 0);
	add(&p, "ReturnValue", "0");
	c.props = &p;
	assert_int_equal(same(build_output, &c), -PP_EINVAL);
	c.props = NULL;
	memset(r.method, 'M', PP_WSMAN_NAME_MAX);
	r.method[PP_WSMAN_NAME_MAX] = '\0';
	assert_int_equal(same(build_output, &c), -PP_EINVAL); /* M..._OUTPUT is too long */
	r.op = PP_WSMAN_OP_GET;
	assert_int_equal(same(build_output, &c), -PP_EINVAL);

	req_init(&r, PP_WSMAN_OP_RELEASE, SW_URI, PP_WSMAN_ACTION_RELEASE, NULL);
	assert_int_equal(same(build_release, &c), 0);
	r.op = PP_WSMAN_OP_PULL;
	assert_int_equal(same(build_release, &c), -PP_EINVAL);
}

struct enum_case {
	const struct pp_wsman_request *req;
	const char *context;
	const struct pp_wsman_props *items;
	size_t n;
	bool end;
};

static int build_enum(const void *arg, struct pp_buf *out, struct pp_err *err)
{
	const struct enum_case *c = arg;
	return pp_wsman_enum_response_build(c->req, c->context, c->items, c->n, c->end, out, err);
}

static void test_enum(void **state)
{
	(void)state;
	static struct pp_wsman_request r;
	static struct pp_wsman_props it[3];
	const char *ctx = "2b1e4d52-0f7c-4b8e-9b1d-6a4f1f0b9c11";
	for (size_t i = 0; i < 3; i++)
		pp_wsman_props_init(&it[i]);
	add(&it[0], "InstanceID", "AMT FW Core Version");
	add(&it[0], "VersionString", "6.2.61");
	add(&it[2], "InstanceID", "Flash <&> \"x\"");

	req_init(&r, PP_WSMAN_OP_ENUMERATE, SW_URI, PP_WSMAN_ACTION_ENUMERATE, NULL);
	struct enum_case c = {&r, ctx, NULL, 0, false};
	assert_int_equal(same(build_enum, &c), 0); /* plain: the context only */
	r.optimize = true;
	c = (struct enum_case){&r, ctx, it, 3, true};
	assert_int_equal(same(build_enum, &c), 0); /* every item at once, one empty */
	c = (struct enum_case){&r, ctx, it, 2, false};
	assert_int_equal(same(build_enum, &c), 0);
	c = (struct enum_case){&r, ctx, NULL, 0, false};
	assert_int_equal(same(build_enum, &c), 0); /* optimized, nothing yet */
	c = (struct enum_case){&r, ctx, NULL, 0, true};
	assert_int_equal(same(build_enum, &c), 0);

	req_init(&r, PP_WSMAN_OP_PULL, SW_URI, PP_WSMAN_ACTION_PULL, NULL);
	c = (struct enum_case){&r, ctx, it, 1, false};
	assert_int_equal(same(build_enum, &c), 0);
	c = (struct enum_case){&r, NULL, it, 3, true};
	assert_int_equal(same(build_enum, &c), 0);
	c = (struct enum_case){&r, NULL, NULL, 0, true};
	assert_int_equal(same(build_enum, &c), 0);
	c = (struct enum_case){&r, NULL, NULL, 0, false};
	assert_int_equal(same(build_enum, &c), 0);

	/* Refusals. */
	c = (struct enum_case){&r, "", it, 1, false};
	assert_int_equal(same(build_enum, &c), -PP_EINVAL);
	char longctx[PP_WSMAN_CONTEXT_MAX + 2];
	memset(longctx, 'c', sizeof(longctx) - 1);
	longctx[sizeof(longctx) - 1] = '\0';
	c.context = longctx;
	assert_int_equal(same(build_enum, &c), -PP_ETOOBIG);
	c.context = "tab\there";
	assert_int_equal(same(build_enum, &c), -PP_EINVAL);
	req_init(&r, PP_WSMAN_OP_ENUMERATE, SW_URI, PP_WSMAN_ACTION_ENUMERATE, NULL);
	c = (struct enum_case){&r, ctx, it, 1, false};
	assert_int_equal(same(build_enum, &c), -PP_EINVAL); /* items, not optimized */
	c = (struct enum_case){&r, NULL, NULL, 0, false};
	assert_int_equal(same(build_enum, &c), -PP_EINVAL); /* Enumerate without context */
	req_init(&r, PP_WSMAN_OP_PULL, "http://x/", PP_WSMAN_ACTION_PULL, NULL);
	c = (struct enum_case){&r, ctx, it, 1, false};
	assert_int_equal(same(build_enum, &c), -PP_EINVAL); /* no class name in the URI */
	req_init(&r, PP_WSMAN_OP_GET, SW_URI, PP_WSMAN_ACTION_GET, NULL);
	assert_int_equal(same(build_enum, &c), -PP_EINVAL);
}

/* The output buffer's own ceiling: refused, not cut. */
static void test_small_buffer(void **state)
{
	(void)state;
	static struct pp_wsman_request r;
	struct pp_buf b;
	struct pp_err err = {0};
	req_init(&r, PP_WSMAN_OP_RELEASE, SW_URI, PP_WSMAN_ACTION_RELEASE, NULL);
	pp_buf_init(&b, 200);
	assert_int_equal(pp_wsman_release_response_build(&r, &b, &err), -PP_ETOOBIG);
	assert_non_null(strstr(err.msg, "does not fit"));
	pp_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_response),
	    cmocka_unit_test(test_output_release),
	    cmocka_unit_test(test_enum),
	    cmocka_unit_test(test_small_buffer),
	};
	pp_wsman_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
