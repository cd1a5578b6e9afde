/* Program logging: one line per event on stderr (or a file), UTC timestamp, level,
 * component, message. Never pass a secret: log PIDs, UUIDs, addresses, reasons. */
#ifndef PSKPROV_UTIL_LOG_H
#define PSKPROV_UTIL_LOG_H

#include <stdio.h>

#include "core/err.h"

enum pp_log_level { PP_LOG_DEBUG, PP_LOG_INFO, PP_LOG_WARN, PP_LOG_ERROR };

void pp_log_init(FILE *out, enum pp_log_level min);
int pp_log_level_parse(const char *s, enum pp_log_level *out);
void pp_log(enum pp_log_level level, const char *component, const char *fmt, ...) PP_PRINTF(3, 4);

#define pp_debug(c, ...) pp_log(PP_LOG_DEBUG, c, __VA_ARGS__)
#define pp_info(c, ...) pp_log(PP_LOG_INFO, c, __VA_ARGS__)
#define pp_warn(c, ...) pp_log(PP_LOG_WARN, c, __VA_ARGS__)
#define pp_error(c, ...) pp_log(PP_LOG_ERROR, c, __VA_ARGS__)

#endif
