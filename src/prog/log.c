#include "prog/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
/* CODE_FILE= and CODE_LINE= would name this file, not the caller. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/parse.h"

static FILE *log_out;
static atomic_int log_min = PP_LOG_INFO;
static atomic_int log_format = PP_LOG_TEXT;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void pp_log_init(FILE *out, enum pp_log_level min)
{
	log_out = out;
	atomic_store(&log_min, (int)min);
}

void pp_log_set_level(enum pp_log_level min)
{
	atomic_store(&log_min, (int)min);
}

/* sd_journal_sendv(3) succeeds silently when journald's socket is missing: check for it
 * once, and write text to the stream instead. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

void pp_log_set_format(enum pp_log_format f)
{
	if (f == PP_LOG_JOURNAL && access(JOURNAL_SOCKET, F_OK) < 0)
		f = PP_LOG_TEXT;
	atomic_store(&log_format, (int)f);
}

const char *pp_log_level_name(enum pp_log_level l)
{
	return (unsigned)l < 4 ? level_names[l] : "?";
}

int pp_log_level_parse(const char *s, enum pp_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum pp_log_level)i;
			return 0;
		}
	}
	return -PP_EINVAL;
}

int pp_log_format_parse(const char *s, enum pp_log_format *out)
{
	static const char *const names[] = {"text", "json", "journal"};
	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum pp_log_format)i;
			return 0;
		}
	}
	return -PP_EINVAL;
}

/* systemd.exec(5), $JOURNAL_STREAM: "DEVICE:INODE" of the stream, in decimal. */
bool pp_log_fd_is_journal(int fd)
{
	const char *v = getenv("JOURNAL_STREAM");
	const char *colon = v ? strchr(v, ':') : NULL;
	if (!colon || colon == v || (size_t)(colon - v) > 24)
		return false;
	char dev_s[25];
	memcpy(dev_s, v, (size_t)(colon - v));
	dev_s[colon - v] = '\0';
	uint64_t dev, ino;
	struct stat st;
	if (pp_parse_u64(dev_s, 0, UINT64_MAX, &dev, "JOURNAL_STREAM", NULL) < 0 ||
	    pp_parse_u64(colon + 1, 0, UINT64_MAX, &ino, "JOURNAL_STREAM", NULL) < 0 ||
	    fstat(fd, &st) < 0)
		return false;
	return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

int pp_log_priority(enum pp_log_level l)
{
	static const int prio[] = {7, 6, 4, 3}; /* LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
	return (unsigned)l < 4 ? prio[l] : 3;
}

/* The length of the UTF-8 sequence at s (RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n = c < 0x80             ? 1
		   : (c & 0xe0) == 0xc0 ? 2
		   : (c & 0xf0) == 0xe0 ? 3
		   : (c & 0xf8) == 0xf0 ? 4
					: 0;
	if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0)))
		return 0;
	if (n == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90)))
		return 0;
	return n;
}

/* A JSON string (RFC 8259 section 7), quotes included. */
static int json_str(struct pp_writer *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	int rc = pp_wr_u8(w, '"');
	const unsigned char *p = (const unsigned char *)s;
	while (rc == 0 && *p) {
		size_t n = utf8_len(p);
		if (*p == '"' || *p == '\\') {
			char e[2] = {'\\', (char)*p};
			rc = pp_wr_bytes(w, e, 2);
		} else if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
			char e[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
			rc = pp_wr_bytes(w, e, 6);
		} else if (n == 0) {
			rc = pp_wr_bytes(w, "\\ufffd", 6);
			n = 1;
		} else {
			rc = pp_wr_bytes(w, p, n);
		}
		p += n;
	}
	return rc == 0 ? pp_wr_u8(w, '"') : rc;
}

static int json_member(struct pp_writer *w, const char *key, const char *value)
{
	if (!value)
		return 0;
	int rc = pp_wr_u8(w, ',');
	if (rc == 0)
		rc = json_str(w, key);
	if (rc == 0)
		rc = pp_wr_u8(w, ':');
	return rc == 0 ? json_str(w, value) : rc;
}

int pp_log_format_json(char *out, size_t cap, const struct pp_log_event *ev)
{
	if (cap == 0)
		return -PP_ETOOBIG;
	struct pp_writer w = pp_writer_make(out, cap - 1);
	const struct pp_log_fields none = {0}, *f = ev->f ? ev->f : &none;
	int rc = pp_wr_bytes(&w, "{\"time\":", 8);
	if (rc == 0)
		rc = json_str(&w, ev->time);
	if (rc == 0)
		rc = json_member(&w, "level", pp_log_level_name(ev->level));
	if (rc == 0)
		rc = json_member(&w, "subsystem", ev->subsystem);
	if (rc == 0)
		rc = json_member(&w, "message", ev->message);
	if (rc == 0)
		rc = json_member(&w, "device_uuid", f->device_uuid);
	if (rc == 0)
		rc = json_member(&w, "pid", f->pid);
	if (rc == 0 && f->job) {
		char num[32];
		int n = snprintf(num, sizeof(num), ",\"job\":%lld", f->job);
		rc = pp_wr_bytes(&w, num, (size_t)n);
	}
	if (rc == 0)
		rc = json_member(&w, "step", f->step);
	if (rc == 0)
		rc = pp_wr_bytes(&w, "}\n", 2);
	if (rc < 0)
		return -PP_ETOOBIG;
	out[w.len] = '\0';
	return (int)w.len;
}

/* One "KEY=value" into buf at *used, as the next iovec; nothing when value is NULL. */
static int journal_field(struct iovec *iov, size_t iov_max, size_t *n, char *buf, size_t cap,
			 size_t *used, const char *key, const char *value)
{
	if (!value)
		return 0;
	if (*n >= iov_max)
		return -PP_ETOOBIG;
	int len = snprintf(buf + *used, cap - *used, "%s=%s", key, value);
	if (len < 0 || (size_t)len >= cap - *used)
		return -PP_ETOOBIG;
	iov[*n].iov_base = buf + *used;
	iov[*n].iov_len = (size_t)len;
	(*n)++;
	*used += (size_t)len + 1;
	return 0;
}

int pp_log_format_journal(const struct pp_log_event *ev, struct iovec *iov, size_t iov_max,
			  char *buf, size_t cap)
{
	const struct pp_log_fields none = {0}, *f = ev->f ? ev->f : &none;
	char prio[4], job[24];
	snprintf(prio, sizeof(prio), "%d", pp_log_priority(ev->level));
	snprintf(job, sizeof(job), "%lld", f->job);
	const char *kv[][2] = {
	    {"MESSAGE", ev->message},         {"PRIORITY", prio},
	    {"SYSLOG_IDENTIFIER", "pskprov"}, {"SUBSYSTEM", ev->subsystem},
	    {"DEVICE_UUID", f->device_uuid},  {"PSKPROV_PID", f->pid},
	    {"JOB", f->job ? job : NULL},     {"STEP", f->step},
	};
	size_t n = 0, used = 0;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (journal_field(iov, iov_max, &n, buf, cap, &used, kv[i][0], kv[i][1]) < 0)
			return -PP_ETOOBIG;
	return (int)n;
}

static void now_text(char out[32])
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	time_t t = tv.tv_sec;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(tv.tv_usec / 1000) % 1000u);
}

static bool write_journal(const struct pp_log_event *ev)
{
	struct iovec iov[8];
	char buf[1536];
	int n = pp_log_format_journal(ev, iov, 8, buf, sizeof(buf));
	return n > 0 && sd_journal_sendv(iov, n) == 0;
}

static void log_write(const struct pp_log_event *ev)
{
	FILE *out = log_out ? log_out : stderr;
	enum pp_log_format fmt = (enum pp_log_format)atomic_load(&log_format);
	/* journald unreachable (not running, not allowed): the stream instead. */
	if (fmt == PP_LOG_JOURNAL && write_journal(ev))
		return;
	char json[8192];
	if (fmt == PP_LOG_JSON && pp_log_format_json(json, sizeof(json), ev) < 0)
		fmt = PP_LOG_TEXT;
	pthread_mutex_lock(&log_mu);
	if (fmt == PP_LOG_JSON)
		fputs(json, out);
	else
		fprintf(out, "%s %-5s %s: %s\n", ev->time, level_names[ev->level], ev->subsystem,
			ev->message);
	fflush(out);
	pthread_mutex_unlock(&log_mu);
}

static void log_va(enum pp_log_level level, const char *component, const struct pp_log_fields *f,
		   const char *fmt, va_list ap) PP_PRINTF(4, 0);

static void log_va(enum pp_log_level level, const char *component, const struct pp_log_fields *f,
		   const char *fmt, va_list ap)
{
	if ((int)level < atomic_load(&log_min) || (unsigned)level > PP_LOG_ERROR)
		return;
	char ts[32], msg[1024];
	now_text(ts);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One event, one line: no message may break the format. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	struct pp_log_event ev = {ts, level, component, msg, f};
	log_write(&ev);
}

void pp_log(enum pp_log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_va(level, component, NULL, fmt, ap);
	va_end(ap);
}

void pp_logf(enum pp_log_level level, const char *component, const struct pp_log_fields *f,
	     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_va(level, component, f, fmt, ap);
	va_end(ap);
}
