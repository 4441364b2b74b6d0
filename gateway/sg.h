/*
 * sg.h: the few definitions every module shares: compiler attributes,
 * invariant checks and checked allocation. Nothing here knows a protocol.
 */
#ifndef SG_H
#define SG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_NODISCARD	__attribute__((warn_unused_result))
#define SG_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define SG_NORETURN	__attribute__((noreturn))
#define SG_UNUSED	__attribute__((unused))

#define SG_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define SG_MIN(a, b)	((a) < (b) ? (a) : (b))
#define SG_MAX(a, b)	((a) > (b) ? (a) : (b))

/* Checks our own invariants, never peer input; stays on in release builds. */
#define SG_ASSERT(e)	((e) ? (void)0 : sg_assert_fail(#e, __FILE__, __LINE__))

SG_NORETURN void sg_assert_fail(const char *expr, const char *file, int line);

/* Logs and aborts: for startup failures and broken invariants only. */
SG_NORETURN SG_PRINTF(1, 2) void fatal(const char *fmt, ...);

/*
 * Internal allocations: overflow-checked, abort on OOM. Sizes a peer chooses
 * are checked against a configured limit before they get here.
 */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
SG_PRINTF(1, 2) char *xasprintf(const char *fmt, ...);
SG_PRINTF(1, 0) char *xvasprintf(const char *fmt, va_list ap);

/* Seconds since the epoch, from CLOCK_REALTIME; tests may shift it. */
int64_t sg_now(void);
/* Monotonic milliseconds, for timing and rate limits. */
uint64_t sg_mono_ms(void);
/* Shift sg_now() by delta seconds (tests and the retention sweeper's clock). */
void sg_now_shift(int64_t delta);

/* ASCII case-insensitive helpers over (ptr, len) protocol bytes. */
bool sg_ascii_ieq(const char *a, size_t alen, const char *b);
/* v in decimal at the end of out[SG_U64_DIGITS]; returns where it starts. */
#define SG_U64_DIGITS	20
char *sg_u64_dec(char out[SG_U64_DIGITS], uint64_t v);
void sg_ascii_lower(char *s, size_t len);

#endif
