/* The device's answers written straight as text: the same bytes as the builders of
 * soap.h (pp_wsman_response_build, pp_wsman_output_build, pp_wsman_enum_response_build,
 * pp_wsman_release_response_build) serialize through a libxml2 tree, with the same
 * checks on what is sent, but no tree: no allocation per element, no serializer.
 * For the emulator, which answers every request of thousands of devices; a fleet's
 * load must not cost more than the server it loads. tests/unit/test_wsman_reply.c
 * holds the two paths to the same output.
 *
 * The form is libxml2's (xmlDocDumpMemoryEnc, UTF-8): the XML declaration and a newline,
 * the envelope on one line (namespaces s, wsa, wsman, then wsen where used, declared on
 * it), an element without children as <a/>, an element with text, even empty, as
 * <a>text</a>, text with <, >, & and CR escaped, a namespace URI in double quotes (in
 * single ones when it holds a double quote), and a final newline. A new random
 * wsa:MessageID ("uuid:" + version 4 UUID) per answer.
 *
 * Arguments, results and errors are those of the soap.h function of the same role; out is
 * reset first and holds a NUL-terminated envelope on success. */
#ifndef PSKPROV_WSMAN_REPLY_H
#define PSKPROV_WSMAN_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsman/soap.h"

int pp_wsman_reply_response(const struct pp_wsman_request *req, const char *body_name,
			    const struct pp_wsman_props *props, struct pp_buf *out,
			    struct pp_err *err) PP_WUR;
int pp_wsman_reply_output(const struct pp_wsman_request *req, uint32_t return_value,
			  const struct pp_wsman_props *outputs, struct pp_buf *out,
			  struct pp_err *err) PP_WUR;
int pp_wsman_reply_enum(const struct pp_wsman_request *req, const char *context,
			const struct pp_wsman_props *items, size_t n, bool end, struct pp_buf *out,
			struct pp_err *err) PP_WUR;
int pp_wsman_reply_release(const struct pp_wsman_request *req, struct pp_buf *out,
			   struct pp_err *err) PP_WUR;

#endif
