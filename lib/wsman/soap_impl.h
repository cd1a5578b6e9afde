/* What soap.c's builders and reply.c's answers share: the checks on what is sent (same
 * rules, same words) and the message id. Private to lib/wsman. */
#ifndef PSKPROV_WSMAN_SOAP_IMPL_H
#define PSKPROV_WSMAN_SOAP_IMPL_H

#include <stddef.h>

#include "wsman/soap.h"

/* A URI we send: 1..PP_WSMAN_URI_MAX printable ASCII characters, no space. */
int pp_wsman_check_uri(const char *s, const char *what, struct pp_err *err) PP_WUR;
/* Properties we send: valid names, UTF-8 text that XML can carry. NULL is fine. */
int pp_wsman_check_props(const struct pp_wsman_props *p, const char *what,
			 struct pp_err *err) PP_WUR;
/* An enumeration context we send or answer with: 1..PP_WSMAN_CONTEXT_MAX printable ASCII
 * characters. */
int pp_wsman_check_context(const char *ctx, struct pp_err *err) PP_WUR;
/* The ids of a request we answer: a usable wsa:MessageID, terminated fields, a URI. */
int pp_wsman_check_request_ids(const struct pp_wsman_request *req, struct pp_err *err) PP_WUR;
/* "uuid:" + a random version 4 UUID. */
int pp_wsman_new_message_id(char *out, size_t cap, struct pp_err *err) PP_WUR;

#endif
