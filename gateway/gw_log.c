/*
 * gw_log.c: "LEVEL component key=value ..." lines. Each line is formatted
 * into one buffer and written with one write(2), so lines from the loop,
 * the workers and the store writer never interleave.
 */
#include "gateway/gw_log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static _Atomic int log_level_cur = LOG_LVL_INFO;
static _Atomic int log_target_cur = LOG_TARGET_STDERR;

static const char *const log_level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
static const int log_syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void
log_init(enum log_level level, enum log_target target)
{
	atomic_store(&log_level_cur, (int)level);
	if (target == LOG_TARGET_SYSLOG && atomic_load(&log_target_cur) != LOG_TARGET_SYSLOG)
		openlog("sealgate", LOG_PID | LOG_NDELAY, LOG_MAIL);
	atomic_store(&log_target_cur, (int)target);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load(&log_level_cur);
}

bool
log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&log_level_cur);
}

void
log_vat(enum log_level level, const char *component, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int head, n;
	size_t len;

	if (!log_enabled(level))
		return;
	head = snprintf(line, sizeof line, "%s %s ", log_level_names[level], component);
	if (head < 0 || (size_t)head >= sizeof line)
		return;
	n = vsnprintf(line + head, sizeof line - (size_t)head, fmt, ap);
	if (n < 0)
		return;
	len = (size_t)head + (size_t)n;
	if (len >= sizeof line - 1)
		len = sizeof line - 2;	/* bounds: truncated, room for '\n' */
	if (atomic_load(&log_target_cur) == LOG_TARGET_SYSLOG) {
		line[len] = '\0';
		syslog(log_syslog_prio[level], "%s", line + strlen(log_level_names[level]) + 1);
		return;
	}
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);
}

void
log_at(enum log_level level, const char *component, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vat(level, component, fmt, ap);
	va_end(ap);
}

char *
log_escape(char *dst, size_t dstsize, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (dstsize == 0)
		return dst;
	for (i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		bool plain = c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '\\';

		if (plain) {
			if (o + 1 >= dstsize)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstsize)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}
