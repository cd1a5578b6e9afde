/* Option parsing in the program's own voice: getopt_long's grammar, with pskprov's
 * messages (the command named, "did you mean" for a typo) in place of getopt's. */
#ifndef PSKPROV_CLI_OPTS_H
#define PSKPROV_CLI_OPTS_H

#include <getopt.h>
#include <stddef.h>

/* The command being run, as the user typed it ("keys generate"): main and
 * pp_dispatch add each word; messages and usage hints name it. */
void pp_command_path_add(const char *word);
const char *pp_command_path(void);

/* getopt_long, except that an unknown option or a missing value prints one line,
 * "pskprov keys generate: unknown option '--cuont' (did you mean '--count'?)" or
 * "pskprov keys generate: option '--count' needs a value", instead of getopt's own,
 * and returns '?'. */
int pp_getopt(int argc, char *const argv[], const char *shortopts, const struct option *longopts);

#endif
