/* API bearer tokens and roles [issue 9]: who may call what on the HTTP API.
 *
 *   read   GET /api/v1/status
 *   agent  POST /api/v1/hello (a host agent telling the server where a device is)
 *   admin  both
 *
 * Today the only token is api.token (0600 in the data directory), with the admin role.
 * Tokens with roles (pskprov token create --role ...) replace pp_server_token_role's
 * body; the table below stays. */
#include <string.h>

#include "core/err.h"
#include "core/secret.h"
#include "server/server.h"

static const struct {
	enum pp_token_role role;
	const char *name;
	bool status, hello;
} roles[] = {
    {PP_ROLE_READ, "read", true, false},
    {PP_ROLE_AGENT, "agent", false, true},
    {PP_ROLE_ADMIN, "admin", true, true},
};

int pp_server_token_role(struct pp_server *s, const char *bearer, enum pp_token_role *role)
{
	if (!bearer || !s->api_token[0] || !pp_ct_streq(bearer, s->api_token))
		return -PP_EPERM;
	*role = PP_ROLE_ADMIN;
	return 0;
}

bool pp_server_role_allows(enum pp_token_role role, enum pp_api_action action)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].role == role)
			return action == PP_API_STATUS ? roles[i].status : roles[i].hello;
	return false;
}

const char *pp_token_role_name(enum pp_token_role role)
{
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].role == role)
			return roles[i].name;
	return "?";
}
