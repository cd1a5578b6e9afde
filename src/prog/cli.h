/* Shared by the pskprov commands: options, output, the data directory. */
#ifndef PSKPROV_CLI_H
#define PSKPROV_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "prog/opts.h"
#include "config/config.h"
#include "core/err.h"
#include "keys/pskc.h"

struct pp_store;
struct pp_master_key;

/* Exit codes. */
enum { PP_EXIT_OK = 0, PP_EXIT_FAIL = 1, PP_EXIT_USAGE = 2 };

struct pp_cli {
	const char *datadir; /* -d DIR, $PSKPROV_DIR, ./pskprov-data */
	const char *prog;    /* "pskprov" */
};

struct pp_command {
	const char *name;
	int (*run)(struct pp_cli *cli, int argc, char **argv);
	const char *summary;
};

/* Prints "pskprov: <msg>" to stderr (one line) and returns PP_EXIT_FAIL. */
int pp_fail(const char *fmt, ...) PP_PRINTF(1, 2);
int pp_fail_err(const struct pp_err *err);
/* Prints "pskprov: <msg>" and a hint to run --help; returns PP_EXIT_USAGE. */
int pp_usage_error(const char *cmd, const char *fmt, ...) PP_PRINTF(2, 3);
/* Informational line on stderr, "pskprov: ..." (never a secret). */
void pp_note(const char *fmt, ...) PP_PRINTF(1, 2);

/* Runs the sub-subcommand named by argv[1] from a table; prints usage when unknown. */
int pp_dispatch(struct pp_cli *cli, const char *family, const struct pp_command *table, int argc,
		char **argv);

/* For commands whose only options are flags: --json, --reveal (as `allowed` says) and
 * --help (prints `usage` to stdout). Returns true when the caller must return *exit_code
 * at once (help shown, or a usage error). Positional arguments start at optind. */
enum { PP_FLAG_JSON = 1, PP_FLAG_REVEAL = 2 };
bool pp_parse_flags(int argc, char **argv, unsigned allowed, const char *usage, bool *json,
		    bool *reveal, int *exit_code);

/* "key" or "keys" as n asks. */
const char *pp_plural(uint64_t n, const char *one, const char *many);
/* A listing's count on stderr, "1 key" / "2 keys" (stdout keeps only the rows). */
void pp_count_line(uint64_t n, const char *one, const char *many);

/* JSON: dumps v (stolen) to stdout with a newline; returns PP_EXIT_OK or FAIL. */
int pp_json_print(json_t *v);

/* Progress bar on stderr when it is a terminal and total is large enough. */
struct pp_progress {
	const char *label;
	uint64_t total;
	uint64_t done;
	uint64_t last_drawn;
	double started;
	bool active;
};
void pp_progress_start(struct pp_progress *p, const char *label, uint64_t total);
void pp_progress_update(struct pp_progress *p, uint64_t done);
void pp_progress_finish(struct pp_progress *p);

int64_t pp_unix_time(void);
/* "2026-11-28 05:12:00" (UTC) */
void pp_format_time(int64_t t, char out[24]);

/* The data directory. */
struct pp_datadir {
	char dir[4096];
	char config_path[4160];
	char key_path[4160];
	char db_path[4160];
	struct pp_config config;
};
int pp_datadir_paths(struct pp_cli *cli, struct pp_datadir *dd, struct pp_err *err) PP_WUR;
/* Loads the config and master key and opens the store (the backend the config names). */
int pp_datadir_open(struct pp_cli *cli, struct pp_datadir *dd, struct pp_store **store,
		    struct pp_err *err) PP_WUR;

/* How to open the data directory's store (its loaded config): the backend, the target,
 * read-only for a directory that cannot be written. */
struct pp_store_config;
int pp_datadir_store_config(const struct pp_datadir *dd, struct pp_store_config *sc,
			    struct pp_err *err) PP_WUR;
/* DIR/pskprov.lock, the data directory's lock (an advisory flock held while *fd stays
 * open): the server holds it for its life, a master-key rotation while it runs. Held by
 * another process: -PP_EEXIST, "WHO (pid N) runs on the data directory 'DIR'; ADVICE". */
#define PP_LOCK_FILE "pskprov.lock"
int pp_datadir_lock(const char *dir, const char *who, const char *advice, int *fd,
		    struct pp_err *err) PP_WUR;
/* The data directory's master key: PSKPROV_MASTER_KEY when set, else its key file. */
int pp_datadir_key(const struct pp_datadir *dd, struct pp_master_key *mk,
		   struct pp_err *err) PP_WUR;

/* PSKPROV_MASTER_KEY (docs/security-model.md). The first call in a process takes
 * the variable out of the environment: the key is parsed into memory kept out of core
 * dumps (pp_secret_alloc), the value in the environment block is overwritten with
 * zeros and the variable unset, so neither /proc/PID/environ nor a child process
 * sees it. Later calls use that copy. pp_datadir_open calls it; commands that spawn
 * children call it first. */
void pp_master_key_env_take(void);
/* The key from the variable (*present false when it was not set, and mk untouched);
 * the parse error (never the value) when it was set but is not 64 hex digits. */
int pp_master_key_from_env(struct pp_master_key *mk, bool *present, struct pp_err *err) PP_WUR;
/* Takes the variable out of the environment and forgets the key, so the data
 * directory's key file is used (demo). True when the variable was set. */
bool pp_master_key_env_drop(void);
/* For a process that holds secrets (the server; pp_datadir_open): takes
 * PSKPROV_MASTER_KEY out of the environment, makes the process not dumpable
 * (prctl(PR_SET_DUMPABLE, 0): no core file, no ptrace or /proc/PID/mem by same-user
 * processes) and sets RLIMIT_CORE to 0. */
int pp_harden_process(struct pp_err *err) PP_WUR;

/* Reads a secret line from the terminal without echo, or from stdin when it is not a
 * terminal. The result is wiped by the caller (pp_wipe). */
int pp_read_secret(const char *prompt, char *out, size_t cap, struct pp_err *err) PP_WUR;

/* PSKC protection from command-line options: a transport key file (0600), or a
 * passphrase read from the terminal / standard input (asked twice on a terminal when
 * writing) or from the first line of a 0600 file. Never from argv. When reading, a
 * missing --key-name accepts any ds:KeyName; when writing it is "pskprov". */
struct pp_pskc_opts {
	const char *key_file;
	const char *key_name;
	const char *pass_file;
	bool ask;
};
struct pp_pskc_prot {
	struct pp_pskc_protection p;
	uint8_t key[32];
	char pass[PP_PSKC_PASSPHRASE_MAX + 2];
};
int pp_pskc_protection(const struct pp_pskc_opts *o, bool writing, struct pp_pskc_prot *pp,
		       struct pp_err *err) PP_WUR;
void pp_pskc_prot_wipe(struct pp_pskc_prot *pp);

/* The actor name recorded in the audit log for CLI actions: "cli:<user>". */
const char *pp_actor(void);

/* For pp_cleanup(pp_cli_store_closep) on a struct pp_store * (NULL accepted). */
void pp_cli_store_closep(struct pp_store **s);

#endif
