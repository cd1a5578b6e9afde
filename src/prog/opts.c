/* Option parsing in the program's own voice (opts.h). */
#include "prog/opts.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/suggest.h"

enum { PATH_CAP = 96, SHORTOPTS_CAP = 128, LONG_NAMES_CAP = 64 };

static char command_path[PATH_CAP] = "";

void pp_command_path_add(const char *word)
{
	size_t len = strlen(command_path);
	if (!word || len + 1 + strlen(word) >= sizeof(command_path))
		return;
	snprintf(command_path + len, sizeof(command_path) - len, "%s%s", len ? " " : "", word);
}

const char *pp_command_path(void)
{
	return command_path;
}

/* "pskprov keys generate", or "pskprov" before a command. */
static const char *hint(void)
{
	static char buf[PATH_CAP + 32];
	snprintf(buf, sizeof(buf), " (see 'pskprov%s%s --help')", command_path[0] ? " " : "",
		 command_path);
	return buf;
}

static const char *who(void)
{
	static char buf[PATH_CAP + 8];
	snprintf(buf, sizeof(buf), "pskprov%s%s", command_path[0] ? " " : "", command_path);
	return buf;
}

/* The short options with a ':' in front (after getopt's own '+' or '-'), so that a
 * missing value is told apart from an unknown option. */
static const char *colon_first(const char *shortopts, char out[SHORTOPTS_CAP])
{
	const char *rest = shortopts;
	size_t lead = (*rest == '+' || *rest == '-') ? 1 : 0;
	if (rest[lead] == ':' || strlen(shortopts) + 2 > SHORTOPTS_CAP)
		return shortopts;
	memcpy(out, shortopts, lead);
	out[lead] = ':';
	memcpy(out + lead + 1, shortopts + lead, strlen(shortopts + lead) + 1);
	return out;
}

/* "--name" of the long option whose value is `val`, or "-c". */
static void option_name(int val, const struct option *longopts, char *out, size_t cap)
{
	for (const struct option *o = longopts; o && o->name; o++) {
		if (!o->flag && o->val == val) {
			snprintf(out, cap, "--%s", o->name);
			return;
		}
	}
	snprintf(out, cap, "-%c", val);
}

static void say_missing(int val, const struct option *longopts)
{
	char name[64];
	option_name(val, longopts, name, sizeof(name));
	fprintf(stderr, "%s: option '%s' needs a value%s\n", who(), name, hint());
}

/* The word the user typed for an unknown option: argv[optind - 1] for a long one (up
 * to any '='), else the short letter. */
static void say_unknown(int argc, char *const argv[], const struct option *longopts)
{
	char typed[64];
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : NULL;
	bool is_long = arg && !strncmp(arg, "--", 2);
	if (optopt && is_long) { /* "--json=1": a value given to a flag */
		char name[64];
		option_name(optopt, longopts, name, sizeof(name));
		fprintf(stderr, "%s: option '%s' takes no value%s\n", who(), name, hint());
		return;
	}
	if (optopt || !is_long) {
		snprintf(typed, sizeof(typed), "-%c", optopt ? optopt : '?');
		fprintf(stderr, "%s: unknown option '%s'%s\n", who(), typed, hint());
		return;
	}
	size_t len = strcspn(arg + 2, "=");
	snprintf(typed, sizeof(typed), "%.*s", (int)(len < 60 ? len : 60), arg + 2);
	const char *names[LONG_NAMES_CAP];
	size_t n = 0;
	for (const struct option *o = longopts; o && o->name && n < LONG_NAMES_CAP; o++)
		names[n++] = o->name;
	const char *near = n ? pp_suggest(typed, names, n) : NULL;
	if (near)
		fprintf(stderr, "%s: unknown option '--%s' (did you mean '--%s'?)\n", who(), typed,
			near);
	else
		fprintf(stderr, "%s: unknown option '--%s'%s\n", who(), typed, hint());
}

int pp_getopt(int argc, char *const argv[], const char *shortopts, const struct option *longopts)
{
	char buf[SHORTOPTS_CAP];
	int saved = opterr;
	opterr = 0;
	int c = getopt_long(argc, argv, colon_first(shortopts, buf), longopts, NULL);
	opterr = saved;
	if (c == ':') {
		say_missing(optopt, longopts);
		return '?';
	}
	if (c == '?')
		say_unknown(argc, argv, longopts);
	return c;
}
