/* The web console's files: GET / (index.html), GET /static/<name> (the files of web/) and
 * GET /api/v1/openapi.json, all built into the program by cmake/embed.cmake. Nothing
 * here reads the store or a secret; the page talks to /api/v1 with the operator's token
 * (docs/api.md, "The web console"). Every file goes out with the console's strict
 * Content-Security-Policy (no inline script, nothing from elsewhere) and an ETag, so a
 * browser revalidates (Cache-Control: no-cache) and gets 304 while the build is the same. */
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "server/api.h"

struct web_file {
	const char *name; /* web/<name>, or "api/openapi.json" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag; /* quoted: "\"<128 bits of SHA-256, hex>\"" */
};

#include "server/web_files.inc" /* static const struct web_file web_files[] */

#define WEB_NAME_MAX 64

/* docs/api.md, "The web console". */
static const char web_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
			      "img-src 'self'; connect-src 'self'; base-uri 'none'; "
			      "form-action 'none'; frame-ancestors 'none'";

static const struct web_file *web_find(const char *name)
{
	for (size_t i = 0; i < sizeof(web_files) / sizeof(web_files[0]); i++)
		if (strcmp(web_files[i].name, name) == 0)
			return &web_files[i];
	return NULL;
}

/* A name /static/ may ask for: 1..64 of [A-Za-z0-9._-], not starting with a dot (so no
 * path, no "..", nothing the table's own "api/..." names could match). */
static bool web_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > WEB_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

/* If-None-Match (RFC 9110 section 13.1.2): "*" or a list of entity tags, compared
 * weakly (a W/ prefix is ignored). */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == elen && strncmp(p, etag, elen) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

static void web_headers(struct evhttp_request *req, const struct web_file *f)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Security-Policy", web_csp);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "ETag", f->etag);
}

/* Answers GET or HEAD with the file (304 when the client has this version); any other
 * method 405. */
static void web_send(struct pp_server *s, struct evhttp_request *req, const struct web_file *f)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		pp_api_error(s, req, 405, "Method Not Allowed", "method not allowed on this path");
		return;
	}
	web_headers(req, f);
	const char *inm =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	if (inm && etag_matches(inm, f->etag)) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", f->type);
	struct evbuffer *b = evbuffer_new();
	/* The bytes are static: referenced, never copied. */
	if (!b || evbuffer_add_reference(b, f->data, f->len, NULL, NULL) < 0) {
		if (b)
			evbuffer_free(b);
		pp_api_error(s, req, 500, "Internal Server Error", "out of memory");
		return;
	}
	pp_api_send(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

/* A file the build embeds under a fixed route; 404 when this build lacks it. */
static void send_builtin(struct pp_server *s, struct evhttp_request *req, const char *name,
			 const char *missing)
{
	s->m.api_requests++;
	const struct web_file *f = web_find(name);
	if (!f) {
		pp_api_error(s, req, 404, "Not Found", missing);
		return;
	}
	web_send(s, req, f);
}

/* GET /: the console's page. */
void pp_api_on_page(struct evhttp_request *req, void *arg)
{
	send_builtin(arg, req, "index.html", "the web console is not built into this program");
}

/* GET /api/v1/openapi.json: the contract, readable without a token (docs/api.md). */
void pp_api_on_openapi(struct evhttp_request *req, void *arg)
{
	send_builtin(arg, req, "api/openapi.json",
		     "the OpenAPI document is not built into this program");
}

bool pp_web_serve(struct pp_server *s, struct evhttp_request *req, const char *path)
{
	static const char prefix[] = "/static/";
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return false;
	s->m.api_requests++;
	const char *name = path + sizeof(prefix) - 1;
	const struct web_file *f = web_name_ok(name) ? web_find(name) : NULL;
	if (!f) {
		pp_api_error(s, req, 404, "Not Found", "no such file in the web console");
		return true;
	}
	web_send(s, req, f);
	return true;
}
