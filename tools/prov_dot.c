/* Prints the provisioning engine's table (lib/prov) as a Graphviz digraph:
 * `make engine-graph` writes it to docs/provisioning-engine.dot. */
#include <stdio.h>

#include "prov/prov.h"

int main(void)
{
	struct pp_buf b;
	struct pp_err err = {0};
	pp_buf_init(&b, 1 << 20);
	if (pp_prov_dot(&b, &err) < 0) {
		fprintf(stderr, "prov_dot: %s\n", err.msg);
		return 1;
	}
	int ok = fwrite(b.data, 1, b.len, stdout) == b.len && fflush(stdout) == 0;
	pp_buf_free_wipe(&b);
	return ok ? 0 : 1;
}
