/*
 * imap_fetch.h: FETCH rendering on worker threads. The session resolves the
 * message set on the loop and hands batches of (seq, uid) to workers; each
 * batch opens content keys (through the session's keyring), decrypts what
 * the attributes need (the summary for ENVELOPE/BODYSTRUCTURE/header
 * fields, the message or a range of it for body sections) and renders the
 * untagged FETCH responses into its own evbuffer, which the loop appends to
 * the connection in batch order.
 */
#ifndef IMAP_FETCH_H
#define IMAP_FETCH_H

#include "imap/imap_private.h"

struct evbuffer;

/* What a batch needs from the session, copied or referenced so the worker
 * never touches the session itself. */
struct imap_fetch_env {
	struct store		*store;
	uint64_t		 account_id;
	uint64_t		 mailbox_id;
	struct sec_sk		*sk;		/* a reference */
	struct imap_acct	*acct;		/* keys and listing cache; thread-safe */
	const struct imap_args_fetch *args;	/* the command outlives the batches */
	bool			 modseq;	/* include MODSEQ (CONDSTORE) */
	bool			 flags_forced;	/* \Seen changed: include FLAGS */
	const uint32_t		*seen_set;	/* UIDs whose \Seen we just set, sorted */
	size_t			 nseen_set;
};

struct imap_fetch_batch {
	const struct imap_fetch_env	*env;
	const uint32_t			*uids;
	const uint32_t			*seqs;
	size_t				 n;
	size_t				 budget;	/* stop after this many bytes */
	struct evbuffer			*out;
	enum store_rc			 rc;
	size_t				 rendered;	/* messages done (<= n) */
	size_t				 missing;	/* expunged meanwhile */
};

/* Worker: render the batch into b->out (a new evbuffer), in order, until
 * b->out holds b->budget bytes: b->rendered says how far it got. */
void imap_fetch_render(struct imap_fetch_batch *b);

/* Needs of an attribute list. */
bool imap_fetch_needs_seen(const struct imap_args_fetch *a);

#endif
