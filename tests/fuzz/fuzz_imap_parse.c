/*
 * fuzz_imap_parse.c: libFuzzer target for the IMAP command parser.
 *
 * The first octet picks options (small limits to reach every limit path,
 * strict CRLF, LITERAL-), the rest is fed twice: whole, then in pseudo-random
 * pieces. Both runs must give the same events (the parser's split-invariance
 * contract); literals are accepted or refused by a rule that depends only on
 * the event's index, so both runs decide alike. Every parsed mailbox name is
 * also pushed through the modified UTF-7 decoder and, when it decodes, must
 * re-encode to the same octets; every sequence set must render.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"
#include "imap/imap_seq.h"
#include "imap/imap_utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_run {
	uint64_t	hash;		/* of the events, in order */
	unsigned	nevents;
	uint32_t	rng;		/* piece sizes */
};

static void
fuzz_mix(struct fuzz_run *r, uint64_t v)
{
	r->hash = (r->hash ^ v) * 0x100000001b3ull;
}

static void
fuzz_mix_bytes(struct fuzz_run *r, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fuzz_mix(r, (unsigned char)s[i]);
	fuzz_mix(r, n);
}

static void
fuzz_limits(uint8_t opt, struct imap_parse_limits *l)
{
	imap_parse_limits_default(l);
	if (opt & 1) {
		l->line_max = 64;
		l->cmd_max = 256;
		l->literal_max = 32;
		l->append_max = 64;
		l->depth_max = 4;
		l->args_max = 32;
		l->fetch_atts_max = 4;
		l->search_keys_max = 8;
		l->seq_ranges_max = 4;
	}
	l->strict_crlf = (opt & 2) != 0;
	l->literal_minus = (opt & 4) != 0;
}

/* A name that decodes must encode back to itself (one spelling per name). */
static void
fuzz_mailbox(const struct imap_str *m)
{
	char dec[1024], enc[4096];
	size_t dl, el;

	if (m->s == NULL || m->len > 256)
		return;
	if (imap_utf7_decode(m->s, m->len, dec, sizeof dec, &dl) != IMAP_UTF7_OK) {
		if (imap_utf7_valid(m->s, m->len))
			abort();
		return;
	}
	if (!imap_utf7_valid(m->s, m->len) || !imap_utf8_valid(dec, dl))
		abort();
	if (imap_utf7_encode(dec, dl, enc, sizeof enc, &el) != IMAP_UTF7_OK ||
	    el != m->len || memcmp(enc, m->s, el) != 0)
		abort();
}

static void
fuzz_seq(struct fuzz_run *r, const struct imap_seq *set)
{
	char buf[64];
	size_t n;

	if (set == NULL)
		return;
	n = imap_seq_render(set, buf, sizeof buf);
	fuzz_mix(r, n);
	fuzz_mix(r, imap_seq_contains(set, 7, 100));
}

static void
fuzz_command(struct fuzz_run *r, const struct imap_cmd *c)
{
	fuzz_mix(r, c->id);
	fuzz_mix(r, c->uid);
	fuzz_mix_bytes(r, c->tag.s, c->tag.len);
	switch (c->id) {
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE:
		fuzz_mailbox(&c->u.select.mailbox);
		break;
	case IMAP_CMD_CREATE:
		fuzz_mailbox(&c->u.create.mailbox);
		break;
	case IMAP_CMD_RENAME:
		fuzz_mailbox(&c->u.rename.from);
		fuzz_mailbox(&c->u.rename.to);
		break;
	case IMAP_CMD_FETCH:
		fuzz_seq(r, c->u.fetch.set);
		fuzz_mix(r, c->u.fetch.natts);
		break;
	case IMAP_CMD_STORE:
		fuzz_seq(r, c->u.store.set);
		break;
	case IMAP_CMD_COPY:
	case IMAP_CMD_MOVE:
		fuzz_seq(r, c->u.copy.set);
		fuzz_mailbox(&c->u.copy.mailbox);
		break;
	case IMAP_CMD_SEARCH:
		fuzz_mix(r, c->u.search.nkeys);
		break;
	case IMAP_CMD_APPEND:
		fuzz_mix(r, c->u.append.nmsgs);
		break;
	default:
		break;
	}
}

/*
 * One event; returns 0 to go on, 1 to stop (fatal error, or an APPEND
 * literal longer than the input left).
 */
static int
fuzz_event(struct imap_parser *p, struct fuzz_run *r, enum imap_parse_rc rc,
    struct imap_parse_event *ev, size_t *pos, size_t len)
{
	bool refuse;

	if (rc == IMAP_PARSE_MORE)	/* depends on the pieces: not an event */
		return 0;
	refuse = (r->nevents++ % 3) == 2;
	fuzz_mix(r, rc);
	switch (rc) {
	case IMAP_PARSE_COMMAND:
		fuzz_command(r, ev->cmd);
		imap_cmd_free(&ev->cmd);
		return 0;
	case IMAP_PARSE_LITERAL:
		fuzz_mix(r, ev->literal_size);
		if (refuse)
			imap_parser_reject(p);
		return 0;
	case IMAP_PARSE_APPEND:
		fuzz_mix(r, ev->literal_size);
		fuzz_mix(r, ev->append_index);
		fuzz_mailbox(ev->append_mailbox);
		if (ev->append->has_date)
			fuzz_mix(r, (uint64_t)imap_datetime_to_unix(&ev->append->date));
		if (refuse) {
			imap_parser_reject(p);
			return 0;
		}
		if (len - *pos < ev->literal_size)
			return 1;
		*pos += ev->literal_size;	/* the session takes the message */
		imap_parser_literal_done(p);
		return 0;
	case IMAP_PARSE_ERROR:
		fuzz_mix(r, ev->err);
		fuzz_mix(r, ev->fatal);
		if (ev->tag != NULL)
			fuzz_mix_bytes(r, ev->tag, ev->tag_len);
		return ev->fatal ? 1 : 0;
	case IMAP_PARSE_MORE:
		break;
	}
	return 0;
}

static uint64_t
fuzz_feed(const char *in, size_t len, const struct imap_parse_limits *l, uint32_t seed,
    bool pieces)
{
	struct imap_parser *p = imap_parser_new(l);
	struct imap_parse_event ev;
	struct fuzz_run r = { 0xcbf29ce484222325ull, 0, seed };
	size_t pos = 0, used, n;
	enum imap_parse_rc rc = IMAP_PARSE_MORE;

	memset(&ev, 0, sizeof ev);
	while (pos < len) {
		n = len - pos;
		if (pieces) {
			r.rng = r.rng * 1103515245u + 12345u;
			n = SG_MIN(n, (size_t)((r.rng >> 16) % 17) + 1);
		}
		rc = imap_parser_feed(p, in + pos, n, &used, &ev);
		if (used > n || (rc == IMAP_PARSE_MORE && used != n))
			abort();
		pos += used;
		if (fuzz_event(p, &r, rc, &ev, &pos, len) != 0)
			break;
	}
	/* a fatal error sticks: nothing more is read */
	if (rc == IMAP_PARSE_ERROR && ev.fatal &&
	    (imap_parser_feed(p, in, len, &used, &ev) != IMAP_PARSE_ERROR || !ev.fatal || used != 0))
		abort();
	if (pieces && (r.rng & 1) == 0) {	/* a reset parser takes a new command */
		imap_parser_reset(p);
		if (imap_parser_feed(p, "z NOOP\r\n", 8, &used, &ev) != IMAP_PARSE_COMMAND ||
		    ev.cmd->id != IMAP_CMD_NOOP)
			abort();
		imap_cmd_free(&ev.cmd);
	}
	imap_parser_free(&p);
	return r.hash;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parse_limits l;
	size_t used;

	if (size < 2)
		return 0;
	fuzz_limits(data[0], &l);
	(void)imap_idle_done((const char *)data + 1, size - 1, &used);
	if (fuzz_feed((const char *)data + 1, size - 1, &l, data[0], false) !=
	    fuzz_feed((const char *)data + 1, size - 1, &l, data[0], true))
		abort();	/* the events depend on how the input was split */
	return 0;
}
