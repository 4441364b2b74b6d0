/*
 * gw_log.h: one log line per event, "LEVEL component key=value ...",
 * on stderr or syslog. Safe from any thread (one write per line).
 * Never pass a password, token, key, AUTH line or message body.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include "gateway/sg.h"

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG };

void log_init(enum log_level level, enum log_target target);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

SG_PRINTF(3, 4) void log_at(enum log_level level, const char *component, const char *fmt, ...);
SG_PRINTF(3, 0) void log_vat(enum log_level level, const char *component, const char *fmt,
    va_list ap);

#define log_error(comp, ...)	log_at(LOG_LVL_ERROR, comp, __VA_ARGS__)
#define log_warn(comp, ...)	log_at(LOG_LVL_WARN, comp, __VA_ARGS__)
#define log_info(comp, ...)	log_at(LOG_LVL_INFO, comp, __VA_ARGS__)
#define log_debug(comp, ...)						\
	do {								\
		if (log_enabled(LOG_LVL_DEBUG))				\
			log_at(LOG_LVL_DEBUG, comp, __VA_ARGS__);	\
	} while (0)

/*
 * Copy peer bytes into dst as a printable token for a key=value log field:
 * non-printables, spaces, quotes and '=' become \xNN; output is truncated
 * to fit and always NUL-terminated. Returns dst.
 */
char *log_escape(char *dst, size_t dstsize, const char *src, size_t srclen);

#endif
