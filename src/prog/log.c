#include "prog/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static FILE *log_out;
static enum pp_log_level log_min = PP_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void pp_log_init(FILE *out, enum pp_log_level min)
{
	log_out = out;
	log_min = min;
}

int pp_log_level_parse(const char *s, enum pp_log_level *out)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum pp_log_level)i;
			return 0;
		}
	}
	return -PP_EINVAL;
}

void pp_log(enum pp_log_level level, const char *component, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	if (level < log_min)
		return;
	FILE *out = log_out ? log_out : stderr;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	time_t t = tv.tv_sec;
	gmtime_r(&t, &tm);
	char ts[32];
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One event, one line: no message may break the format. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pthread_mutex_lock(&log_mu);
	fprintf(out, "%s.%03ldZ %-5s %s: %s\n", ts, (long)(tv.tv_usec / 1000), names[level],
		component, msg);
	fflush(out);
	pthread_mutex_unlock(&log_mu);
}
