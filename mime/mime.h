/*
 * mime.h: the message summary computed once at ingest, and the byte-exact
 * section extraction that IMAP FETCH needs.
 *
 * A summary holds, for one stored message (the exact received bytes):
 *   - the IMAP ENVELOPE, BODYSTRUCTURE and BODY responses, pre-rendered as
 *     the exact bytes to emit (RFC 3501 7.4.2);
 *   - a part table: byte offsets of every MIME part's header and body in the
 *     raw message, so BODY[1.2], BODY[2.MIME], BODY[2.HEADER], BODY[TEXT]...
 *     are plain slices of the stored bytes (mime_section_range());
 *   - the top-level header block (a copy, capped at MIME_HEADER_COPY_MAX) so
 *     BODY.PEEK[HEADER.FIELDS (...)] listings need only the summary;
 *   - search data: decoded, case-folded text of the address fields, the
 *     subject, all headers and the text parts; the Date header; the
 *     Message-ID; the lowercased addresses of the correspondents.
 *
 * Structure and offsets come from one scan of the raw bytes (mime_scan.c),
 * which follows the MIME rules the way Dovecot does (clients are tuned to
 * it): headers end at the first empty line, a line "--boundary" of any
 * enclosing multipart ends the current part, and the line break before a
 * boundary belongs to the boundary (RFC 2046 5.1.1). GMime (3.x) does the
 * decoding: RFC 2047 words, transfer encodings, charsets and dates. The unit
 * tests check every corpus message's structure against GMime's parser.
 *
 * Sizes in BODYSTRUCTURE and offsets are octets as stored: a message with
 * bare LF line ends is served with bare LFs, so its sizes count them as
 * one octet (Dovecot would count a virtual CRLF).
 *
 * Threads: every function is reentrant and may run on any thread once
 * mime_init() has returned; a summary is immutable after it is built, so
 * several threads may read one summary at once. Nothing here blocks on I/O.
 */
#ifndef MIME_H
#define MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/sg.h"

/* First byte of an encoded summary; bump when the format changes. */
#define MIME_SUMMARY_VERSION	1

/* Bytes of the top-level header block copied into the summary. */
#define MIME_HEADER_COPY_MAX	(256u * 1024)
/* Bytes of folded search text kept for all headers, and for the body. */
#define MIME_SEARCH_HEADERS_MAX	(256u * 1024)
#define MIME_SEARCH_BODY_MAX	(4u * 1024 * 1024)
/*
 * Multiparts and message/rfc822 parts nested deeper than this are kept as
 * opaque leaves (rendered application/octet-stream); past MIME_PARTS_MAX
 * parts no further boundaries are recognized and the current part runs to
 * the end of the message (Dovecot's max_total_mime_parts does the same).
 */
#define MIME_DEPTH_MAX		64
#define MIME_PARTS_MAX		20000
/* Longest section part path mime_section_parse() accepts ("1.2.3..."). */
#define MIME_SECTION_PATH_MAX	(MIME_DEPTH_MAX * 2 + 2)

struct mime_summary;

/*
 * Calls g_mime_init() once. Idempotent and thread-safe; call it before any
 * other function here (the daemon does at startup; tests in main()).
 */
void mime_init(void);

/*
 * Summarizes the message msg[0..len). Never fails on bad input: any bytes
 * (NULs, bare LF, no header/body separator, broken MIME) give a summary
 * whose offsets slice msg exactly. Aborts only on out-of-memory, like
 * xmalloc(). msg is borrowed for the call only; the caller owns the
 * result and frees it with mime_summary_free(). CPU-bound (tens of µs per
 * small message): call it on a worker thread.
 */
struct mime_summary *mime_summarize(const char *msg, size_t len);

/* Frees *s (NULL allowed) and sets *s to NULL. */
void mime_summary_free(struct mime_summary **s);

/*
 * Serializes s: *buf_out is a malloc'ed buffer of *len_out bytes whose
 * first byte is MIME_SUMMARY_VERSION; free it with free(). Returns 0, or
 * -1 if s is too large to encode (never for a summary of a real message).
 */
SG_NODISCARD int mime_summary_encode(const struct mime_summary *s,
    unsigned char **buf_out, size_t *len_out);

/*
 * Parses an encoded summary. buf is untrusted: every length and offset is
 * bounds-checked. Returns a new summary (the caller frees it; buf is not
 * referenced after the call) or NULL on malformed input or an unknown
 * version. Does not touch GMime: it is one allocation and one copy.
 */
struct mime_summary *mime_summary_decode(const void *buf, size_t len);

/* True if a and b hold the same data (tests: decode(encode(x)) == x). */
bool mime_summary_equal(const struct mime_summary *a, const struct mime_summary *b);

/*
 * Accessors. Returned pointers are borrowed from s and valid until it is
 * freed; strings are (ptr, len) and not NUL-terminated unless said.
 */
/* Length of the raw message (RFC822.SIZE). */
uint64_t mime_summary_size(const struct mime_summary *s);
/* BODY[HEADER] is bytes [0, n) of the message, blank line included. */
uint64_t mime_summary_header_size(const struct mime_summary *s);
/*
 * The copy of the top-level header block, the first
 * min(header size, MIME_HEADER_COPY_MAX) bytes. *complete_out is false when
 * it was cut: header-field fetches must then use the message itself.
 */
const char *mime_summary_header(const struct mime_summary *s, size_t *len_out,
    bool *complete_out);
/* "(date subject from ... message-id)": the ENVELOPE value to emit. */
const char *mime_summary_envelope(const struct mime_summary *s, size_t *len_out);
/* The BODYSTRUCTURE value (with extension data) and the BODY value. */
const char *mime_summary_bodystructure(const struct mime_summary *s, size_t *len_out);
const char *mime_summary_body(const struct mime_summary *s, size_t *len_out);

/*
 * The Date header. Returns false when absent or unparsable. *t_out is the
 * instant (seconds since the epoch); *year/month/day are the date in the
 * header's own timezone, for SENTBEFORE/SENTON/SENTSINCE (RFC 3501 6.4.4
 * disregards time and timezone). Any out pointer may be NULL.
 */
bool mime_summary_date(const struct mime_summary *s, int64_t *t_out, int *year_out,
    int *month_out, int *day_out);
/* The Message-ID header's value, trimmed; len 0 if absent. */
const char *mime_summary_message_id(const struct mime_summary *s, size_t *len_out);
/*
 * The distinct lowercased "local@domain" addresses of From, Sender,
 * Reply-To, To, Cc and Bcc (the correspondents), i from 0: returns NULL
 * past the end. The returned string is NUL-terminated.
 */
const char *mime_summary_address(const struct mime_summary *s, size_t i, size_t *len_out);

/* Search (RFC 3501 6.4.4). */
enum mime_field {
	MIME_FIELD_FROM,	/* "decoded name <addr>, ..." of From */
	MIME_FIELD_TO,
	MIME_FIELD_CC,
	MIME_FIELD_BCC,
	MIME_FIELD_SUBJECT,	/* decoded Subject */
	MIME_FIELD_HEADERS,	/* every top-level header, "name: decoded value" */
	MIME_FIELD_BODY,	/* text of the text parts, decoded to UTF-8 */
	MIME_FIELD_TEXT,	/* HEADERS or BODY (SEARCH TEXT) */
};

/* A needle folded once, reused across a mailbox's summaries. */
struct mime_needle;
struct mime_needle *mime_needle_new(const char *utf8, size_t len);
void mime_needle_free(struct mime_needle **n);

/*
 * Case-insensitive substring match (Unicode case folding and NFKC on both
 * sides) of a needle in one field. An empty needle matches. The needle is
 * UTF-8 (the IMAP layer converts other SEARCH charsets or answers
 * BADCHARSET). mime_search_match() folds the needle on every call; use
 * mime_needle_new() and mime_search_match_needle() across many messages.
 */
bool mime_search_match(const struct mime_summary *s, enum mime_field f,
    const char *needle, size_t len);
bool mime_search_match_needle(const struct mime_summary *s, enum mime_field f,
    const struct mime_needle *n);
/*
 * SEARCH HEADER name value: true if a top-level header named name
 * (case-insensitive) contains the needle; an empty needle matches any
 * message that has the header (RFC 3501 6.4.4).
 */
bool mime_search_header(const struct mime_summary *s, const char *name, size_t name_len,
    const struct mime_needle *n);

/*
 * Sections (RFC 3501 6.4.5). A section spec is the text between "[" and
 * "]" without the field list: "", "1.2", "HEADER", "3.TEXT", "2.MIME",
 * "4.2.HEADER.FIELDS", "HEADER.FIELDS.NOT" (case-insensitive).
 */
enum mime_section_kind {
	MIME_SECTION_BODY,		/* "" (whole message) or a part's body */
	MIME_SECTION_HEADER,
	MIME_SECTION_HEADER_FIELDS,
	MIME_SECTION_HEADER_FIELDS_NOT,
	MIME_SECTION_TEXT,
	MIME_SECTION_MIME,
};

struct mime_section {
	uint32_t		 part[MIME_SECTION_PATH_MAX];
	size_t			 nparts;	/* 0: the message itself */
	enum mime_section_kind	 kind;
};

/*
 * Parses spec[0..len). Returns 0, or -1 on a syntax error (the IMAP layer
 * answers BAD): bad part numbers (0, leading zeros, empty), "MIME" without
 * a part, unknown text, a path longer than MIME_SECTION_PATH_MAX.
 */
SG_NODISCARD int mime_section_parse(const char *spec, size_t len, struct mime_section *out);

struct mime_range {
	uint64_t	off;
	uint64_t	len;
};

enum mime_range_rc {
	MIME_RANGE_OK,		/* the bytes are msg[off, off + len) */
	MIME_RANGE_EMPTY,	/* no such part: send an empty string */
};

/*
 * Resolves a section to a byte range of the raw message, as Dovecot does:
 *   - part n of a multipart is its nth child; a non-multipart part has only
 *     part 1, itself (so BODY[1] of a non-multipart message is its body);
 *   - a path that goes on past a message/rfc822 part enters the embedded
 *     message (2.1 is the embedded message's part 1);
 *   - "" is the whole message, HEADER [0, header size), TEXT the body;
 *   - N is the part's body, N.MIME its MIME header block (for a part that
 *     is the message itself, the message header); N.HEADER, N.TEXT,
 *     N.HEADER.FIELDS[.NOT] exist only for message/rfc822 parts;
 *   - header ranges include the blank line that ends them (if present).
 * HEADER.FIELDS[.NOT] give the header block to filter with
 * mime_header_fields(). A part that does not exist gives MIME_RANGE_EMPTY
 * (Dovecot returns an empty string, not an error); out is then {0, 0}.
 */
enum mime_range_rc mime_section_range(const struct mime_summary *s,
    const struct mime_section *sec, struct mime_range *out);

/*
 * Applies a partial fetch <off.len> to r (RFC 3501 6.4.5): clamps to the
 * range, an offset past the end gives an empty range. Use
 * len = UINT64_MAX for no length.
 */
void mime_range_partial(struct mime_range *r, uint64_t off, uint64_t len);

/*
 * Filters a header block to the fields named in names[0..n) (or to all the
 * others if not_ is true), matching case-insensitively, keeping each kept
 * field's original bytes with its folded continuation lines, and ending
 * with a blank line CRLF (RFC 3501 6.4.5: the result includes it). Writes
 * to out, which must hold hdr_len + 4 bytes; returns the bytes written.
 * hdr may be any header block, with or without its own blank line.
 */
size_t mime_header_fields(const char *hdr, size_t hdr_len, const char *const *names,
    size_t n, bool not_, char *out);

#endif
