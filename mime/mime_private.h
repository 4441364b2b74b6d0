/*
 * mime_private.h: the summary's layout and the helpers the mime_*.c files
 * share. Not for use outside mime/.
 */
#ifndef MIME_PRIVATE_H
#define MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mime/mime.h"

#define MIME_NONE	UINT32_MAX

/* The strings a summary holds, in encoding order. */
enum mime_sfield {
	MIME_S_ENVELOPE,
	MIME_S_BODYSTRUCTURE,
	MIME_S_BODY,
	MIME_S_HEADER,		/* copy of the top-level header block (capped) */
	MIME_S_MSGID,
	MIME_S_ADDRS,		/* lowercased addresses, each NUL-terminated */
	MIME_S_FROM,		/* search fields, folded */
	MIME_S_TO,
	MIME_S_CC,
	MIME_S_BCC,
	MIME_S_SUBJECT,
	MIME_S_HEADERS,		/* "name: value\n" per header, folded */
	MIME_S_TEXT,		/* body text, folded */
	MIME_S__COUNT
};

enum mime_node_kind {
	MIME_NODE_LEAF,
	MIME_NODE_MULTIPART,
	MIME_NODE_MESSAGE,	/* message/rfc822: one child, the embedded message */
};

/*
 * One part. Node 0 is the message (header [0, hdr_len), body to the end).
 * The child of a MESSAGE node is the embedded message: its hdr_off is the
 * MESSAGE node's body_off and both end together. Children follow their
 * parent in index order.
 */
struct mime_node {
	uint64_t	hdr_off;	/* start of the header block */
	uint64_t	body_off;	/* end of the header block (blank line incl.) */
	uint64_t	body_end;	/* end of the body, exclusive */
	uint32_t	parent;
	uint32_t	first_child;
	uint32_t	next_sibling;
	uint8_t		kind;
};

#define MIME_SF_DATE		0x01	/* date fields are valid */
#define MIME_SF_HDR_CUT		0x02	/* header copy is truncated */
#define MIME_SF__ALL		0x03

struct mime_str {
	const char	*p;
	size_t		 len;
};

struct mime_summary {
	uint64_t	 size;
	uint64_t	 hdr_len;
	int64_t		 date;
	uint16_t	 year;
	uint8_t		 month, day;
	uint8_t		 flags;
	struct mime_str	 f[MIME_S__COUNT];	/* point into blob */
	struct mime_node *nodes;
	uint32_t	 nnodes;
	char		*blob;
	size_t		 blob_len;
};

/* A growable byte buffer; aborts on OOM like xmalloc. */
struct mime_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

void mime_buf_reserve(struct mime_buf *b, size_t more);
void mime_buf_add(struct mime_buf *b, const void *p, size_t n);
void mime_buf_addc(struct mime_buf *b, char c);
void mime_buf_adds(struct mime_buf *b, const char *s);
void mime_buf_add_u64(struct mime_buf *b, uint64_t v);
void mime_buf_free(struct mime_buf *b);

/* mime_hdr.c: header blocks. */
struct mime_hfield {
	const char	*name;		/* NULL for a line with no ':' */
	size_t		 name_len;
	const char	*value;		/* after ':', folds and line end included */
	size_t		 value_len;
	size_t		 start;		/* offset of the field's first byte */
	size_t		 end;		/* offset after its last line's line end */
};

struct mime_hiter {
	const char	*buf;
	size_t		 pos;
	size_t		 end;
};

void mime_hiter_init(struct mime_hiter *it, const char *buf, size_t len);
/* Next field of the block; false at the blank line or the end. */
bool mime_hiter_next(struct mime_hiter *it, struct mime_hfield *f);
bool mime_name_is(const char *name, size_t len, const char *lit);
/*
 * Appends a header value made readable: folds and CR/LF removed, runs of
 * blanks collapsed to one space, trimmed, NUL turned into U+FFFD (what
 * Dovecot sends in ENVELOPE and BODYSTRUCTURE strings).
 */
void mime_text_clean(struct mime_buf *out, const char *p, size_t len);

/* mime_render.c: IMAP strings. */
/* Appends p[0..len) as an IMAP quoted string, or a literal if 8-bit. */
void mime_imap_string(struct mime_buf *out, const char *p, size_t len);
/* As mime_imap_string() after mime_text_clean(). */
void mime_imap_text(struct mime_buf *out, const char *p, size_t len);

/* mime_param.c: Content-Type and Content-Disposition values. */
struct mime_param {
	size_t	key_off, key_len;	/* into mime_ctype.buf */
	size_t	val_off, val_len;
};

#define MIME_PARAMS_MAX	64

struct mime_ctype {
	struct mime_buf	 buf;		/* type, subtype, keys and values */
	size_t		 type_off, type_len;	/* len 0: none or unparsable */
	size_t		 sub_off, sub_len;
	struct mime_param params[MIME_PARAMS_MAX];
	size_t		 nparams;
};

/* Parses "type/subtype; params" (is_disp: "token; params"). */
void mime_ctype_parse(struct mime_ctype *ct, const char *p, size_t len, bool is_disp);
void mime_ctype_clear(struct mime_ctype *ct);
/* The value of a merged parameter (lowercase key), or NULL. */
const char *mime_ctype_param(const struct mime_ctype *ct, const char *key, size_t *len_out);
bool mime_ctype_type_is(const struct mime_ctype *ct, const char *type);
bool mime_ctype_sub_is(const struct mime_ctype *ct, const char *sub);

/* mime_addr.c: address lists (RFC 5322 3.4) for ENVELOPE and search. */
enum mime_addr_kind { MIME_ADDR_MAILBOX, MIME_ADDR_GROUP_START, MIME_ADDR_GROUP_END };

struct mime_addr {
	enum mime_addr_kind kind;
	bool	has_name, has_route;
	size_t	name_off, name_len;	/* into mime_addrs.buf */
	size_t	route_off, route_len;
	size_t	local_off, local_len;
	size_t	domain_off, domain_len;	/* len 0: missing */
};

struct mime_addrs {
	struct mime_buf	 buf;
	struct mime_addr *v;
	size_t		 n, cap;
};

void mime_addrs_parse(struct mime_addrs *a, const char *p, size_t len);
void mime_addrs_clear(struct mime_addrs *a);
/* Appends the ENVELOPE address list: "((...)(...))" or NIL. */
void mime_addrs_render(const struct mime_addrs *a, struct mime_buf *out);

/* mime_search.c: folded search text. */
/* Appends the folded (casefold + NFKC) form of UTF-8 text. */
void mime_fold_append(struct mime_buf *out, const char *p, size_t len, size_t cap);
/* Appends decoded UTF-8 text of a header value (RFC 2047, 8-bit). */
void mime_decode_header(struct mime_buf *out, const char *p, size_t len);
/* Appends the UTF-8 text of a text part's body (CTE, charset, HTML). */
void mime_decode_text(struct mime_buf *out, const char *body, size_t len,
    const struct mime_ctype *ct, const char *cte, size_t cte_len, size_t cap);

/* mime_scan.c: the structure pass over the raw bytes. */
enum mime_hdr_id {
	MIME_H_TYPE, MIME_H_CTE, MIME_H_ID, MIME_H_DESC, MIME_H_DISP, MIME_H_LANG,
	MIME_H_LOC, MIME_H_MD5, MIME_H__COUNT
};

#define MIME_SN_DIGEST	0x01	/* in multipart/digest: default message/rfc822 */
#define MIME_SN_OPAQUE	0x02	/* a container kept as a leaf (depth, part caps) */
#define MIME_SN_DIGEST_PARENT 0x04	/* multipart/digest */

struct mime_snode {
	struct mime_node n;
	uint32_t	 depth;		/* containers above this part */
	uint8_t		 flags;
	uint32_t	 hset;		/* bit per enum mime_hdr_id present */
	size_t		 hoff[MIME_H__COUNT];	/* first occurrence's value */
	size_t		 hlen[MIME_H__COUNT];
};

struct mime_scan {
	const char	  *msg;
	size_t		   len;
	struct mime_snode *v;
	uint32_t	   n, cap;
};

/* mime_render.c: ENVELOPE of a header block; BODYSTRUCTURE (ext) or BODY. */
struct mime_scan;
void mime_render_envelope(const char *hdr, size_t len, struct mime_buf *out);
void mime_render_bodystructure(const struct mime_scan *sc, bool ext, struct mime_buf *out);

void mime_scan_run(struct mime_scan *sc, const char *msg, size_t len);
void mime_scan_free(struct mime_scan *sc);
/* The node's Content-* header value, or NULL with *len_out 0. */
const char *mime_scan_hdr(const struct mime_scan *sc, uint32_t i, enum mime_hdr_id h,
    size_t *len_out);

#endif
