/* Program logging: one event per line, UTC timestamp, level, subsystem, message, and
 * optional structured fields (the device, the provisioning ID, the job, the step).
 *
 * Three formats: text (the default: "TIME LEVEL subsystem: message"), json (one object
 * a line: time, level, subsystem, message and the fields) and journal (native journald
 * entries with PRIORITY= and the fields, through sd_journal_sendv; text on the stream
 * when journald cannot be reached). Never pass a secret, in the message or a field: log
 * PIDs, UUIDs, addresses, reasons. */
#ifndef PSKPROV_UTIL_LOG_H
#define PSKPROV_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/uio.h>

#include "core/err.h"

enum pp_log_level { PP_LOG_DEBUG, PP_LOG_INFO, PP_LOG_WARN, PP_LOG_ERROR };
enum pp_log_format { PP_LOG_TEXT, PP_LOG_JSON, PP_LOG_JOURNAL };

/* The fields of one event; NULL (or job 0) for a field it does not have. In json they
 * are device_uuid, pid, job, step; in the journal DEVICE_UUID=, PSKPROV_PID= (journald
 * keeps _PID for the process), JOB=, STEP=. */
struct pp_log_fields {
	const char *device_uuid;
	const char *pid; /* the provisioning ID: the public half of a key, not a secret */
	long long job;
	const char *step;
};

void pp_log_init(FILE *out, enum pp_log_level min);
/* Changes the level at any time (SIGHUP), from any thread. */
void pp_log_set_level(enum pp_log_level min);
/* PP_LOG_JOURNAL becomes PP_LOG_TEXT when journald's socket is not there. */
void pp_log_set_format(enum pp_log_format f);
int pp_log_level_parse(const char *s, enum pp_log_level *out);
const char *pp_log_level_name(enum pp_log_level l);
/* "text", "json", "journal"; -PP_EINVAL for anything else. */
int pp_log_format_parse(const char *s, enum pp_log_format *out);
/* True when $JOURNAL_STREAM ("DEVICE:INODE", set by systemd) names the file open on fd:
 * the stream is connected to journald, and the journal format is the one to use. */
bool pp_log_fd_is_journal(int fd);

void pp_log(enum pp_log_level level, const char *component, const char *fmt, ...) PP_PRINTF(3, 4);
void pp_logf(enum pp_log_level level, const char *component, const struct pp_log_fields *f,
	     const char *fmt, ...) PP_PRINTF(4, 5);

#define pp_debug(c, ...) pp_log(PP_LOG_DEBUG, c, __VA_ARGS__)
#define pp_info(c, ...) pp_log(PP_LOG_INFO, c, __VA_ARGS__)
#define pp_warn(c, ...) pp_log(PP_LOG_WARN, c, __VA_ARGS__)
#define pp_error(c, ...) pp_log(PP_LOG_ERROR, c, __VA_ARGS__)
/* With fields: pp_info_f("jobs", &(struct pp_log_fields){.job = id, .pid = pid}, ...) */
#define pp_info_f(c, f, ...) pp_logf(PP_LOG_INFO, c, f, __VA_ARGS__)
#define pp_warn_f(c, f, ...) pp_logf(PP_LOG_WARN, c, f, __VA_ARGS__)
#define pp_error_f(c, f, ...) pp_logf(PP_LOG_ERROR, c, f, __VA_ARGS__)

/* The formatting, for the tests: one event as it is written. */
struct pp_log_event {
	const char *time; /* "2026-12-02T04:40:00.123Z" */
	enum pp_log_level level;
	const char *subsystem;
	const char *message;
	const struct pp_log_fields *f; /* may be NULL */
};
/* One JSON object and a newline into out (NUL-terminated); strings escaped (RFC 8259
 * section 7), bytes that are not UTF-8 replaced by U+FFFD. Returns the length, or
 * -PP_ETOOBIG when cap is too small. */
int pp_log_format_json(char *out, size_t cap, const struct pp_log_event *ev) PP_WUR;
/* The journal entry: "KEY=value" strings written into buf, one iovec each (at most
 * iov_max); returns how many, or -PP_ETOOBIG. */
int pp_log_format_journal(const struct pp_log_event *ev, struct iovec *iov, size_t iov_max,
			  char *buf, size_t cap) PP_WUR;
/* The syslog priority of a level (journald's PRIORITY=). */
int pp_log_priority(enum pp_log_level l);

#endif
