/* pskprov: one binary, a subcommand table (docs/HACKING.md: wireguard-tools src/wg.c). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prog/cli.h"
#include "core/suggest.h"
#include "prog/commands.h"

static const struct pp_command commands[] = {
    {"init", cmd_init, "create a data directory (config, master key, database)"},
    {"keys", cmd_keys, "generate, list, show, revoke, check, export and import keys"},
    {"usb", cmd_usb, "write and inspect USB setup.bin files"},
    {"audit", cmd_audit, "list and verify the hash-chained audit log"},
    {"token", cmd_token, "create, list and revoke API tokens (roles read, admin, agent)"},
    {"backup", cmd_backup, "copy the SQLite store to a file while the server runs"},
    {"restore", cmd_restore, "make a data directory from a backup and its master key"},
    {"master-key", cmd_master_key, "rotate the master key (re-seal every secret), verify it"},
    {"device", cmd_device, "run one emulated device (factory load, run, show)"},
    {"fleet", cmd_fleet, "run many emulated devices in one process (load generator)"},
    {"server", cmd_server, "run the configuration server (hellos, TLS-PSK, WS-Management)"},
    {"devices", cmd_devices, "list and show devices, reveal escrowed credentials"},
    {"jobs", cmd_jobs, "list provisioning jobs"},
    {"status", cmd_status, "counts of keys, devices and jobs"},
    {"demo", cmd_demo, "run the whole story: keys, server, a fleet, a summary"},
    {"agent", cmd_agent, "host agent: report a device to the server and start its setup"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: pskprov [-d DIR] COMMAND [ARGS]\n\n"
		     "Pre-shared-key (TLS-PSK) setup and configuration for AMT-style\n"
		     "management controllers.\n\n"
		     "options:\n"
		     "  -d, --dir DIR   data directory (default $PSKPROV_DIR or ./pskprov-data)\n"
		     "  -h, --help      this help\n"
		     "  -V, --version   print the version\n\n"
		     "commands:\n");
	for (const struct pp_command *c = commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out, "\n'pskprov COMMAND --help' describes each command.\n");
}

/* `-d DIR` / `--dir DIR` / `--dir=DIR` after the command too (up to a "--"): taken
 * out of argv so the command never sees them. Returns false (with a message) when one
 * has no value. */
static bool take_dir_anywhere(int *argc, char **argv, int from, struct pp_cli *cli)
{
	int out = from;
	for (int i = from; i < *argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strncmp(a, "--dir=", 6)) {
			cli->datadir = a + 6;
			continue;
		}
		if (!strcmp(a, "--dir") || !strcmp(a, "-d")) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "pskprov: option '%s' needs a value\n", a);
				return false;
			}
			cli->datadir = argv[++i];
			continue;
		}
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	*argc = out;
	return true;
}

int main(int argc, char **argv)
{
	struct pp_cli cli = {.prog = "pskprov"};
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	/* '+' stops at the first non-option: the rest belongs to the subcommand. */
	while ((c = pp_getopt(argc, argv, "+d:hV", opts)) != -1) {
		switch (c) {
		case 'd':
			cli.datadir = optarg;
			break;
		case 'h':
			usage(stdout);
			return PP_EXIT_OK;
		case 'V':
			printf("pskprov %s\n", PSKPROV_VERSION);
			return PP_EXIT_OK;
		default: /* pp_getopt said what was wrong */
			return PP_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return PP_EXIT_USAGE;
	}
	if (!take_dir_anywhere(&argc, argv, optind + 1, &cli))
		return PP_EXIT_USAGE;
	const char *name = argv[optind];
	for (const struct pp_command *cmd = commands; cmd->name; cmd++) {
		if (!strcmp(cmd->name, name)) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* GNU getopt: full reinitialisation for a new argv */
			pp_command_path_add(cmd->name);
			return cmd->run(&cli, sub_argc, sub_argv);
		}
	}
	const char *near = pp_suggest_table(name, commands, sizeof(commands[0]));
	if (near)
		fprintf(stderr, "pskprov: unknown command '%.40s' (did you mean '%s'?)\n", name,
			near);
	else
		fprintf(stderr, "pskprov: unknown command '%.40s' (see 'pskprov --help')\n", name);
	return PP_EXIT_USAGE;
}
