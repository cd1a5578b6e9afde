/* libevent helpers the programs share (evio.h). */
#include "prog/evio.h"

#include <event2/buffer.h>

static void coalesce_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	(void)arg;
	if (info->n_added && evbuffer_get_length(buf) > info->n_added)
		evbuffer_pullup(buf, -1);
}

int pp_bev_one_record(struct bufferevent *bev)
{
	return evbuffer_add_cb(bufferevent_get_output(bev), coalesce_output, NULL) ? 0 : -1;
}
