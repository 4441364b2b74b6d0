/*
 * store_msg.c: messages, blobs, sealed keys, keywords, correspondents and
 * the retention sweep.
 *
 * A blob (the message ciphertext, with its summary in `summaries`) is
 * stored once however many messages use it. `keys` holds, per (blob,
 * account), the content key sealed to that account and a count of the
 * account's messages that use the blob: a copy within an account adds one,
 * an expunge removes one; the key goes at zero, and the blob and its
 * summary go with the last key.
 *
 * LMDB gives a value larger than half a page whole pages of its own, so a
 * 4 KiB message (4,147 bytes sealed) took two pages, the second almost
 * empty. A blob whose last page would hold at most BLOB_TAIL_MAX bytes
 * keeps those under (id, 1), inline among small records, and says so in
 * its first byte (BLOB_SPLIT). Only blobs up to BLOB_SPLIT_MAX: reading
 * one back copies it, and past that one page is not worth the copy.
 */
#include "store/store_private.h"

#include <stdlib.h>

#include "gateway/gw_log.h"

#define KEY_KEY_LEN	16			/* blob id, account id */
#define KEY_VAL_LEN	(1 + 4 + STORE_SEALED_KEY_BYTES)	/* version, refs, sealed */
#define CORR_KEY_LEN	(8 + STORE_HASH_BYTES)
#define BLOB_HDR	9			/* version, plaintext size */
#define BLOB_WHOLE	STORE_FORMAT_VERSION	/* first byte of a blob in one value */
#define BLOB_SPLIT	2			/* ... of one whose tail is under (id, 1) */
#define BLOB_TAIL_MAX	1024
#define BLOB_SPLIT_MAX	(64u << 10)
#define LMDB_PAGE_HDR	16			/* in front of a value's own pages */
#define DROP_CHUNK	256			/* messages collected per cursor pass */
#define SWEEP_SCAN_FACTOR 32			/* records looked at per expunge, at most */
#define CORR_CONTEXT	"corr"
/* bounds: version, count, then per keyword a length byte and at most
 * STORE_KEYWORD_LEN_MAX bytes */
#define KW_VAL_MAX	(2 + STORE_KEYWORDS_MAX * (1 + STORE_KEYWORD_LEN_MAX))

_Static_assert(STORE_SEALED_KEY_BYTES == SEC_SEALED_KEY_BYTES, "sealed key size");

/* ---- keys and blobs ---- */

static void
key_key(uint8_t k[KEY_KEY_LEN], uint64_t blob_id, uint64_t account_id)
{
	store_be64_put(k, blob_id);
	store_be64_put(k + 8, account_id);
}

static enum store_rc
key_load(struct store_txn *t, uint64_t blob_id, uint64_t account_id, uint32_t *refs,
    uint8_t sealed[STORE_SEALED_KEY_BYTES])
{
	uint8_t k[KEY_KEY_LEN];
	const uint8_t *p;
	enum store_rc rc;
	MDB_val v;

	key_key(k, blob_id, account_id);
	if ((rc = store_db_get(t, STORE_DB_KEYS, k, sizeof k, &v)) != STORE_OK)
		return rc;
	p = v.mv_data;
	if (v.mv_size != KEY_VAL_LEN || p[0] != STORE_FORMAT_VERSION) {
		log_error("store", "event=corrupt db=keys blob=%llu", (unsigned long long)blob_id);
		return STORE_CORRUPT;
	}
	*refs = store_be32_get(p + 1);
	if (sealed != NULL)
		memcpy(sealed, p + 5, STORE_SEALED_KEY_BYTES);
	return STORE_OK;
}

static enum store_rc
key_save(struct store_txn *t, uint64_t blob_id, uint64_t account_id, uint32_t refs,
    const uint8_t sealed[STORE_SEALED_KEY_BYTES])
{
	uint8_t k[KEY_KEY_LEN], v[KEY_VAL_LEN];

	key_key(k, blob_id, account_id);
	v[0] = STORE_FORMAT_VERSION;
	store_be32_put(v + 1, refs);
	memcpy(v + 5, sealed, STORE_SEALED_KEY_BYTES);
	return store_db_put(t, STORE_DB_KEYS, k, sizeof k, v, sizeof v);
}

/* One more (or one fewer) message of the account uses the blob. */
static enum store_rc
key_ref(struct store_txn *t, uint64_t blob_id, uint64_t account_id)
{
	uint8_t sealed[STORE_SEALED_KEY_BYTES];
	uint32_t refs;
	enum store_rc rc;

	if ((rc = key_load(t, blob_id, account_id, &refs, sealed)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_INVALID : rc;	/* no key: caller bug */
	if (refs == UINT32_MAX)
		return STORE_LIMIT;
	return key_save(t, blob_id, account_id, refs + 1, sealed);
}

/* The tail's key: the blob's id and a part number. */
static void
blob_tail_key(uint8_t k[9], const uint8_t id[8])
{
	memcpy(k, id, 8);
	k[8] = 1;
}

static enum store_rc
blob_tail_get(struct store_txn *t, const uint8_t id[8], uint8_t k[9], MDB_val *v)
{
	blob_tail_key(k, id);
	return store_db_get(t, STORE_DB_BLOBS, k, 9, v);
}

/* Bytes of a blob of total value bytes that go under (id, 1), or 0. */
static size_t
blob_tail_len(const struct store *st, size_t total)
{
	size_t last;

	/* Up to a page, the value is inline or fills its one page anyway. */
	if (total > BLOB_SPLIT_MAX || total + LMDB_PAGE_HDR <= st->wal.psize)
		return 0;
	last = (total + LMDB_PAGE_HDR) % st->wal.psize;
	return last <= BLOB_TAIL_MAX ? last : 0;
}

static enum store_rc
blob_tail_release(struct store_txn *t, const uint8_t id[8], uint64_t *bytes)
{
	uint8_t k[9];
	enum store_rc rc;
	MDB_val v;

	if ((rc = blob_tail_get(t, id, k, &v)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	*bytes += v.mv_size;
	rc = store_db_del(t, STORE_DB_BLOBS, k, sizeof k);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* Drop the blob, its tail and its summary when no key is left for it. */
static enum store_rc
blob_release(struct store_txn *t, uint64_t blob_id)
{
	uint8_t k0[KEY_KEY_LEN];
	MDB_val k = { sizeof k0, k0 }, v;
	MDB_cursor *c;
	uint64_t bytes = 0;
	enum store_rc rc;
	int mrc;

	key_key(k0, blob_id, 0);
	if ((rc = store_cursor_open(t, STORE_DB_KEYS, &c)) != STORE_OK)
		return rc;
	mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	mdb_cursor_close(c);
	if (mrc == 0 && store_key_has_prefix(&k, k0, 8))
		return STORE_OK;	/* another account still has it */
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return store_mdb_rc(t, mrc, "blob_release");
	if ((rc = blob_tail_release(t, k0, &bytes)) != STORE_OK)
		return rc;
	if (store_db_get(t, STORE_DB_BLOBS, k0, 8, &v) == STORE_OK)
		bytes += v.mv_size >= BLOB_HDR ? v.mv_size - BLOB_HDR : 0;
	if (store_db_get(t, STORE_DB_SUMMARIES, k0, 8, &v) == STORE_OK)
		bytes += v.mv_size >= 1 ? v.mv_size - 1 : 0;
	rc = store_db_del(t, STORE_DB_BLOBS, k0, 8);
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_db_del(t, STORE_DB_SUMMARIES, k0, 8);
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_meta_add(t, "bytes", -(int64_t)bytes);
	return rc;
}

static enum store_rc
key_unref(struct store_txn *t, uint64_t blob_id, uint64_t account_id)
{
	uint8_t sealed[STORE_SEALED_KEY_BYTES], k[KEY_KEY_LEN];
	uint32_t refs;
	enum store_rc rc;

	rc = key_load(t, blob_id, account_id, &refs, sealed);
	if (rc == STORE_NOTFOUND)
		return blob_release(t, blob_id);	/* already gone: tidy up */
	if (rc != STORE_OK)
		return rc;
	if (refs > 1)
		return key_save(t, blob_id, account_id, refs - 1, sealed);
	key_key(k, blob_id, account_id);
	if ((rc = store_db_del(t, STORE_DB_KEYS, k, sizeof k)) != STORE_OK)
		return rc;
	return blob_release(t, blob_id);
}

/* Reserve and write in place: a 50 MB blob is copied once. */
static enum store_rc
blob_write(struct store_txn *t, const uint8_t k[8], const struct store_blob *b)
{
	size_t total = BLOB_HDR + b->msg_ct_len, tail = blob_tail_len(t->st, total);
	size_t head = total - BLOB_HDR - tail;
	uint8_t tk[9], *p;
	enum store_rc rc;

	if ((rc = store_db_reserve_last(t, STORE_DB_BLOBS, k, 8, total - tail, &p)) != STORE_OK)
		return rc;
	p[0] = tail > 0 ? BLOB_SPLIT : BLOB_WHOLE;
	store_be64_put(p + 1, b->size);
	memcpy(p + BLOB_HDR, b->msg_ct, head);
	if (tail == 0)
		return STORE_OK;
	blob_tail_key(tk, k);
	if ((rc = store_db_reserve_last(t, STORE_DB_BLOBS, tk, sizeof tk, tail, &p)) != STORE_OK)
		return rc;
	memcpy(p, b->msg_ct + head, tail);
	return STORE_OK;
}

enum store_rc
store_blob_put(struct store_txn *t, const struct store_blob *b, uint64_t *blob_id_out)
{
	uint8_t k[8], *p;
	uint64_t id;
	enum store_rc rc;

	*blob_id_out = 0;
	if (b->msg_ct == NULL || b->msg_ct_len == 0 || (b->sum_ct == NULL && b->sum_ct_len > 0) ||
	    b->msg_ct_len > SIZE_MAX - BLOB_HDR || b->sum_ct_len > SIZE_MAX - 1)
		return STORE_INVALID;
	if ((rc = store_meta_next(t, "next_blob", &id)) != STORE_OK)
		return rc;
	store_be64_put(k, id);
	if ((rc = blob_write(t, k, b)) != STORE_OK ||
	    (rc = store_db_reserve_last(t, STORE_DB_SUMMARIES, k, sizeof k, 1 + b->sum_ct_len,
	    &p)) != STORE_OK)
		return rc;
	p[0] = STORE_FORMAT_VERSION;
	if (b->sum_ct_len > 0)
		memcpy(p + 1, b->sum_ct, b->sum_ct_len);
	if ((rc = store_meta_add(t, "bytes", (int64_t)(b->msg_ct_len + b->sum_ct_len))) !=
	    STORE_OK)
		return rc;
	t->bytes += b->msg_ct_len + b->sum_ct_len;
	*blob_id_out = id;
	return STORE_OK;
}

enum store_rc
store_key_put(struct store_txn *t, uint64_t blob_id, uint64_t account_id,
    const uint8_t sealed[STORE_SEALED_KEY_BYTES])
{
	uint8_t k[8];
	uint32_t refs = 0;
	enum store_rc rc;
	MDB_val v;

	store_be64_put(k, blob_id);
	if ((rc = store_db_get(t, STORE_DB_BLOBS, k, sizeof k, &v)) != STORE_OK)
		return rc;
	/* Sealing again (a re-delivery) keeps the count of messages. */
	rc = key_load(t, blob_id, account_id, &refs, NULL);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	return key_save(t, blob_id, account_id, rc == STORE_OK ? refs : 0, sealed);
}

/* A split blob's two parts, one after the other in the transaction's
 * scratch buffer. */
static enum store_rc
blob_join(struct store_txn *t, const uint8_t k[8], const MDB_val *head, const uint8_t **ct,
    size_t *len)
{
	size_t hlen = head->mv_size - BLOB_HDR;
	uint8_t tk[9];
	enum store_rc rc;
	MDB_val tail;

	if ((rc = blob_tail_get(t, k, tk, &tail)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_CORRUPT : rc;
	if (t->scratch_cap < hlen + tail.mv_size) {
		t->scratch_cap = hlen + tail.mv_size;
		t->scratch = xreallocarray(t->scratch, t->scratch_cap, 1);
	}
	memcpy(t->scratch, (const uint8_t *)head->mv_data + BLOB_HDR, hlen);
	memcpy(t->scratch + hlen, tail.mv_data, tail.mv_size);
	*ct = t->scratch;
	*len = hlen + tail.mv_size;
	return STORE_OK;
}

enum store_rc
store_blob_get(struct store_txn *t, uint64_t blob_id, const uint8_t **ct, size_t *len)
{
	uint8_t k[8];
	enum store_rc rc;
	MDB_val v;

	*ct = NULL;
	*len = 0;
	store_be64_put(k, blob_id);
	if ((rc = store_db_get(t, STORE_DB_BLOBS, k, sizeof k, &v)) != STORE_OK)
		return rc;
	if (v.mv_size <= BLOB_HDR)
		return STORE_CORRUPT;
	switch (((const uint8_t *)v.mv_data)[0]) {
	case BLOB_WHOLE:
		*ct = (const uint8_t *)v.mv_data + BLOB_HDR;
		*len = v.mv_size - BLOB_HDR;
		return STORE_OK;
	case BLOB_SPLIT:
		return blob_join(t, k, &v, ct, len);
	default:
		return STORE_CORRUPT;
	}
}

enum store_rc
store_summary_get(struct store_txn *t, uint64_t blob_id, const uint8_t **ct, size_t *len)
{
	uint8_t k[8];
	enum store_rc rc;
	MDB_val v;

	*ct = NULL;
	*len = 0;
	store_be64_put(k, blob_id);
	if ((rc = store_db_get(t, STORE_DB_SUMMARIES, k, sizeof k, &v)) != STORE_OK)
		return rc;
	if (v.mv_size < 1 || ((const uint8_t *)v.mv_data)[0] != STORE_FORMAT_VERSION)
		return STORE_CORRUPT;
	*ct = (const uint8_t *)v.mv_data + 1;
	*len = v.mv_size - 1;
	return STORE_OK;
}

enum store_rc
store_key_get(struct store_txn *t, uint64_t blob_id, uint64_t account_id,
    uint8_t sealed_out[STORE_SEALED_KEY_BYTES])
{
	uint32_t refs;

	return key_load(t, blob_id, account_id, &refs, sealed_out);
}

/* ---- messages ---- */

static void
counts_add(struct store_mailbox *mb, const struct store_msg *m)
{
	mb->messages++;
	mb->size += m->size;
	if (!(m->flags & STORE_F_SEEN))
		mb->unseen++;
	if (m->flags & STORE_F_DELETED)
		mb->deleted++;
}

static void
counts_sub(struct store_mailbox *mb, const struct store_msg *m)
{
	/* Never below zero, even over a damaged count. */
	mb->messages -= mb->messages > 0;
	mb->size -= SG_MIN(mb->size, m->size);
	if (!(m->flags & STORE_F_SEEN))
		mb->unseen -= mb->unseen > 0;
	if (m->flags & STORE_F_DELETED)
		mb->deleted -= mb->deleted > 0;
}

static enum store_rc
msg_save(struct store_txn *t, const struct store_msg *m)
{
	uint8_t k[STORE_MSG_KEY_LEN], v[STORE_MSG_VAL_LEN];

	store_codec_msg_key(k, m->mailbox_id, m->uid);
	store_codec_msg_enc(m, v);
	return store_db_put(t, STORE_DB_MESSAGES, k, sizeof k, v, sizeof v);
}

static enum store_rc
msg_del(struct store_txn *t, uint64_t mailbox_id, uint32_t uid)
{
	uint8_t k[STORE_MSG_KEY_LEN];

	store_codec_msg_key(k, mailbox_id, uid);
	return store_db_del(t, STORE_DB_MESSAGES, k, sizeof k);
}

enum store_rc
store_msg_get(struct store_txn *t, uint64_t mailbox_id, uint32_t uid, struct store_msg *out)
{
	uint8_t k[STORE_MSG_KEY_LEN];
	enum store_rc rc;
	MDB_val v;

	memset(out, 0, sizeof *out);
	store_codec_msg_key(k, mailbox_id, uid);
	if ((rc = store_db_get(t, STORE_DB_MESSAGES, k, sizeof k, &v)) != STORE_OK)
		return rc;
	if (!store_codec_msg_dec(&v, out)) {
		log_error("store", "event=corrupt db=messages mailbox=%llu uid=%u",
		    (unsigned long long)mailbox_id, uid);
		return STORE_CORRUPT;
	}
	out->mailbox_id = mailbox_id;
	out->uid = uid;
	return STORE_OK;
}

/* Give m the mailbox's next UID and modseq and count it in. */
static enum store_rc
msg_place(struct store_mailbox *mb, struct store_msg *m)
{
	if (mb->uidnext == 0 || mb->uidnext == UINT32_MAX)
		return STORE_LIMIT;	/* RFC 3501 2.3.1.1: UIDs are 32-bit */
	m->mailbox_id = mb->id;
	m->uid = mb->uidnext++;
	m->modseq = ++mb->highestmodseq;
	counts_add(mb, m);
	return STORE_OK;
}

enum store_rc
store_msg_append(struct store_txn *t, struct store_msg *m)
{
	struct store_mailbox mb;
	enum store_rc rc;

	if (m->flags & ~(uint32_t)STORE_F_ALL)
		return STORE_INVALID;
	if ((rc = store_mailbox_get_id(t, m->mailbox_id, &mb)) != STORE_OK)
		return rc == STORE_CORRUPT ? STORE_NOTFOUND : rc;
	if (m->internal_date == 0)
		m->internal_date = t->now;
	if ((rc = msg_place(&mb, m)) != STORE_OK ||
	    (rc = key_ref(t, m->blob_id, mb.account_id)) != STORE_OK ||
	    (rc = msg_save(t, m)) != STORE_OK || (rc = store_mbox_save(t, &mb)) != STORE_OK)
		return rc;
	store_note_mailbox(t, mb.id);
	return STORE_OK;
}

enum store_rc
store_msg_set_flags(struct store_txn *t, uint64_t mailbox_id, uint32_t uid, uint32_t flags,
    uint64_t keywords, uint64_t unchangedsince, struct store_msg *out)
{
	struct store_mailbox mb;
	struct store_msg m;
	enum store_rc rc;

	if (flags & ~(uint32_t)STORE_F_ALL)
		return STORE_INVALID;
	if ((rc = store_msg_get(t, mailbox_id, uid, &m)) != STORE_OK)
		return rc;
	/* RFC 7162 3.1.3: fail when the message changed after the client's
	 * modseq; report the current state so the client can tell. */
	if (unchangedsince != 0 && m.modseq > unchangedsince)
		rc = STORE_CHANGED;
	else if (m.flags != flags || m.keywords != keywords) {
		if ((rc = store_mailbox_get_id(t, mailbox_id, &mb)) != STORE_OK)
			return rc;
		counts_sub(&mb, &m);
		m.flags = flags;
		m.keywords = keywords;
		counts_add(&mb, &m);
		m.modseq = ++mb.highestmodseq;
		if ((rc = msg_save(t, &m)) != STORE_OK ||
		    (rc = store_mbox_save(t, &mb)) != STORE_OK)
			return rc;
		store_note_mailbox(t, mailbox_id);
	}
	if (out != NULL)
		*out = m;
	return rc;
}

enum store_rc
store_msg_expunge(struct store_txn *t, uint64_t mailbox_id, uint32_t uid)
{
	struct store_mailbox mb;
	struct store_msg m;
	enum store_rc rc;

	if ((rc = store_msg_get(t, mailbox_id, uid, &m)) != STORE_OK ||
	    (rc = store_mailbox_get_id(t, mailbox_id, &mb)) != STORE_OK)
		return rc;
	counts_sub(&mb, &m);
	mb.highestmodseq++;
	if ((rc = msg_del(t, mailbox_id, uid)) != STORE_OK ||
	    (rc = store_mbox_save(t, &mb)) != STORE_OK ||
	    (rc = key_unref(t, m.blob_id, mb.account_id)) != STORE_OK)
		return rc;
	store_note_mailbox(t, mailbox_id);
	return STORE_OK;
}

enum store_rc
store_msg_copy(struct store_txn *t, uint64_t mailbox_id, uint32_t uid,
    uint64_t dest_mailbox_id, struct store_msg *out)
{
	struct store_mailbox src, dst;
	struct store_msg m;
	enum store_rc rc;

	if ((rc = store_msg_get(t, mailbox_id, uid, &m)) != STORE_OK ||
	    (rc = store_mailbox_get_id(t, mailbox_id, &src)) != STORE_OK)
		return rc;
	if ((rc = store_mailbox_get_id(t, dest_mailbox_id, &dst)) != STORE_OK)
		return rc == STORE_CORRUPT ? rc : STORE_NOTFOUND;
	if (src.account_id != dst.account_id)
		return STORE_INVALID;	/* the key is sealed to this account only */
	if ((rc = msg_place(&dst, &m)) != STORE_OK ||
	    (rc = key_ref(t, m.blob_id, dst.account_id)) != STORE_OK ||
	    (rc = msg_save(t, &m)) != STORE_OK || (rc = store_mbox_save(t, &dst)) != STORE_OK)
		return rc;
	store_note_mailbox(t, dst.id);
	if (out != NULL)
		*out = m;
	return STORE_OK;
}

/* ---- cursors ---- */

struct store_cursor {
	MDB_cursor	*c;
	uint64_t	 mailbox_id;
	uint32_t	 from_uid;
	bool		 started;
};

struct store_cursor *
store_msgs_open(struct store_txn *t, uint64_t mailbox_id, uint32_t from_uid)
{
	struct store_cursor *c = xcalloc(1, sizeof *c);

	if (store_cursor_open(t, STORE_DB_MESSAGES, &c->c) != STORE_OK) {
		free(c);
		return NULL;
	}
	c->mailbox_id = mailbox_id;
	c->from_uid = from_uid;
	return c;
}

bool
store_msgs_next(struct store_cursor *c, struct store_msg *out)
{
	uint8_t k0[STORE_MSG_KEY_LEN];
	MDB_val k = { sizeof k0, k0 }, v;
	int mrc;

	if (c == NULL)
		return false;
	store_codec_msg_key(k0, c->mailbox_id, c->from_uid);
	for (;;) {
		mrc = mdb_cursor_get(c->c, &k, &v, c->started ? MDB_NEXT : MDB_SET_RANGE);
		c->started = true;
		if (mrc != 0 || k.mv_size != STORE_MSG_KEY_LEN ||
		    store_be64_get(k.mv_data) != c->mailbox_id)
			return false;
		memset(out, 0, sizeof *out);
		if (store_codec_msg_dec(&v, out))
			break;
		log_error("store", "event=corrupt db=messages mailbox=%llu",
		    (unsigned long long)c->mailbox_id);
	}
	out->mailbox_id = c->mailbox_id;
	out->uid = store_be32_get((const uint8_t *)k.mv_data + 8);
	return true;
}

void
store_msgs_close(struct store_cursor **cp)
{
	if (*cp == NULL)
		return;
	mdb_cursor_close((*cp)->c);
	free(*cp);
	*cp = NULL;
}

/* Up to max messages of a mailbox from its first UID. */
static enum store_rc
msgs_collect(struct store_txn *t, uint64_t mailbox_id, struct store_msg *out, size_t max,
    size_t *n)
{
	struct store_cursor *c = store_msgs_open(t, mailbox_id, 0);

	*n = 0;
	if (c == NULL)
		return STORE_TEMPFAIL;
	while (*n < max && store_msgs_next(c, &out[*n]))
		(*n)++;
	store_msgs_close(&c);
	return STORE_OK;
}

enum store_rc
store_msg_drop_all(struct store_txn *t, struct store_mailbox *m)
{
	struct store_msg *v = xreallocarray(NULL, DROP_CHUNK, sizeof *v);
	size_t n, i, total = 0;
	enum store_rc rc;

	/* Collect, then delete: the cursor never sees its own deletions. */
	do {
		rc = msgs_collect(t, m->id, v, DROP_CHUNK, &n);
		for (i = 0; rc == STORE_OK && i < n; i++) {
			rc = msg_del(t, m->id, v[i].uid);
			if (rc == STORE_OK)
				rc = key_unref(t, v[i].blob_id, m->account_id);
		}
		total += n;
	} while (rc == STORE_OK && n == DROP_CHUNK);
	free(v);
	if (rc != STORE_OK)
		return rc;
	m->messages = m->unseen = m->deleted = 0;
	m->size = 0;
	if (total > 0) {
		m->highestmodseq++;
		store_note_mailbox(t, m->id);
	}
	return STORE_OK;
}

enum store_rc
store_msg_move_all(struct store_txn *t, struct store_mailbox *from, struct store_mailbox *to)
{
	struct store_msg *v = xreallocarray(NULL, DROP_CHUNK, sizeof *v);
	size_t n, i;
	enum store_rc rc;

	do {
		rc = msgs_collect(t, from->id, v, DROP_CHUNK, &n);
		for (i = 0; rc == STORE_OK && i < n; i++) {
			rc = msg_del(t, from->id, v[i].uid);
			v[i].mailbox_id = to->id;	/* same UID: a new UIDVALIDITY */
			if (rc == STORE_OK)
				rc = msg_save(t, &v[i]);
		}
	} while (rc == STORE_OK && n == DROP_CHUNK);
	free(v);
	if (rc != STORE_OK)
		return rc;
	to->messages = from->messages;
	to->unseen = from->unseen;
	to->deleted = from->deleted;
	to->size = from->size;
	to->uidnext = SG_MAX(to->uidnext, from->uidnext);
	to->highestmodseq = SG_MAX(to->highestmodseq, from->highestmodseq);
	from->messages = from->unseen = from->deleted = 0;
	from->size = 0;
	from->highestmodseq++;
	store_note_mailbox(t, to->id);
	store_note_mailbox(t, from->id);
	return STORE_OK;
}

/* ---- keywords ---- */

static bool
keyword_ok(const char *name, size_t len)
{
	static const char specials[] = "(){ %*\"\\]";
	size_t i;

	/* RFC 3501 9: flag-keyword = atom; no system flag (\Seen) either. */
	if (len == 0 || len > STORE_KEYWORD_LEN_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f ||
		    strchr(specials, name[i]) != NULL)
			return false;
	return true;
}

enum store_rc
store_keywords_get(struct store_txn *t, uint64_t account_id, struct store_keywords *out)
{
	struct store_rbuf r;
	uint8_t k[8];
	enum store_rc rc;
	MDB_val v;
	unsigned i, n;

	memset(out, 0, sizeof *out);
	store_be64_put(k, account_id);
	rc = store_db_get(t, STORE_DB_KEYWORDS, k, sizeof k, &v);
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	store_rb_init(&r, v.mv_data, v.mv_size);
	n = store_rb_u8(&r);
	for (i = 0; i < n && i < STORE_KEYWORDS_MAX; i++)
		store_rb_str8(&r, out->names[i], sizeof out->names[i]);
	if (n > STORE_KEYWORDS_MAX || !store_rb_done(&r)) {
		log_error("store", "event=corrupt db=keywords account=%llu",
		    (unsigned long long)account_id);
		memset(out, 0, sizeof *out);
		return STORE_CORRUPT;
	}
	out->n = n;
	return STORE_OK;
}

static enum store_rc
keywords_save(struct store_txn *t, uint64_t account_id, const struct store_keywords *kw)
{
	uint8_t k[8], buf[KW_VAL_MAX];
	struct store_wbuf w;
	unsigned i;

	store_be64_put(k, account_id);
	store_wb_init(&w, buf, sizeof buf);
	store_wb_u8(&w, (uint8_t)kw->n);
	for (i = 0; i < kw->n; i++)
		store_wb_str8(&w, kw->names[i]);
	SG_ASSERT(!w.over);
	return store_db_put(t, STORE_DB_KEYWORDS, k, sizeof k, buf, w.len);
}

enum store_rc
store_keyword_index(struct store_txn *t, uint64_t account_id, const char *name,
    unsigned *idx_out)
{
	struct store_keywords kw;
	size_t len = strlen(name);
	enum store_rc rc;
	unsigned i;

	if (!keyword_ok(name, len))
		return STORE_INVALID;
	if ((rc = store_keywords_get(t, account_id, &kw)) != STORE_OK)
		return rc;
	/* Keywords match case-insensitively, as clients and servers treat
	 * them; the first spelling seen is kept. */
	for (i = 0; i < kw.n; i++) {
		if (sg_ascii_ieq(name, len, kw.names[i])) {
			*idx_out = i;
			return STORE_OK;
		}
	}
	if (kw.n >= STORE_KEYWORDS_MAX)
		return STORE_LIMIT;
	memcpy(kw.names[kw.n], name, len + 1);	/* bounds: len <= STORE_KEYWORD_LEN_MAX */
	*idx_out = kw.n++;
	return keywords_save(t, account_id, &kw);
}

/* ---- correspondents ---- */

void
store_corr_hash(const struct store *st, const char *address, size_t len,
    uint8_t out[STORE_HASH_BYTES])
{
	char small[STORE_ADDR_MAX + 1];
	char *lower = len <= sizeof small ? small : xmalloc(len);

	memcpy(lower, address, len);
	sg_ascii_lower(lower, len);
	/* Domain-separated from token hashes under the same key. */
	sec_keyed_hash2(st->index_key, CORR_CONTEXT, sizeof CORR_CONTEXT - 1, lower, len, out);
	if (lower != small)
		free(lower);
}

static void
corr_key(uint8_t k[CORR_KEY_LEN], uint64_t account_id, const uint8_t hash[STORE_HASH_BYTES])
{
	store_be64_put(k, account_id);
	memcpy(k + 8, hash, STORE_HASH_BYTES);
}

enum store_rc
store_corr_add(struct store_txn *t, uint64_t account_id, const uint8_t hash[STORE_HASH_BYTES])
{
	static const uint8_t v[1] = { STORE_FORMAT_VERSION };
	uint8_t k[CORR_KEY_LEN];

	corr_key(k, account_id, hash);
	return store_db_put(t, STORE_DB_CORR, k, sizeof k, v, sizeof v);
}

bool
store_corr_has(struct store_txn *t, uint64_t account_id, const uint8_t hash[STORE_HASH_BYTES])
{
	uint8_t k[CORR_KEY_LEN];
	MDB_val v;

	corr_key(k, account_id, hash);
	return store_db_get(t, STORE_DB_CORR, k, sizeof k, &v) == STORE_OK;
}

enum store_rc
store_msg_forget_account(struct store_txn *t, uint64_t account_id)
{
	uint8_t k0[8], (*keys)[CORR_KEY_LEN];
	MDB_val k, v;
	MDB_cursor *c;
	enum store_rc rc;
	size_t n, i;
	int mrc;

	store_be64_put(k0, account_id);
	rc = store_db_del(t, STORE_DB_KEYWORDS, k0, sizeof k0);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	keys = xreallocarray(NULL, DROP_CHUNK, sizeof *keys);
	do {
		if ((rc = store_cursor_open(t, STORE_DB_CORR, &c)) != STORE_OK)
			break;
		k.mv_size = sizeof k0;
		k.mv_data = k0;
		for (n = 0, mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0 &&
		    n < DROP_CHUNK && k.mv_size == CORR_KEY_LEN && store_key_has_prefix(&k, k0, 8);
		    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
			memcpy(keys[n++], k.mv_data, CORR_KEY_LEN);
		mdb_cursor_close(c);
		for (i = 0; rc == STORE_OK && i < n; i++)
			rc = store_db_del(t, STORE_DB_CORR, keys[i], CORR_KEY_LEN);
	} while (rc == STORE_OK && n == DROP_CHUNK);
	free(keys);
	return rc;
}

/* ---- retention ---- */

/* The cursor is (mailbox id << 32 | uid) of the last message looked at;
 * mailbox ids come from a counter and stay far below 2^32. */
static enum store_rc
sweep_collect(struct store_txn *t, int64_t before, unsigned max, uint64_t *cursor,
    struct store_msg *found, size_t *n, bool *done)
{
	uint8_t k0[STORE_MSG_KEY_LEN];
	MDB_val k = { sizeof k0, k0 }, v;
	size_t scanned = 0, limit = (size_t)max * SWEEP_SCAN_FACTOR;
	struct store_msg m;
	MDB_cursor *c;
	enum store_rc rc;
	int mrc;

	*n = 0;
	*done = false;
	store_codec_msg_key(k0, *cursor >> 32, (uint32_t)*cursor);
	if ((rc = store_cursor_open(t, STORE_DB_MESSAGES, &c)) != STORE_OK)
		return rc;
	mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (mrc == 0 && *cursor != 0 && k.mv_size == sizeof k0 && memcmp(k.mv_data, k0, 12) == 0)
		mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);	/* done last time */
	for (; mrc == 0 && *n < max && scanned < limit; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		scanned++;
		if (k.mv_size != STORE_MSG_KEY_LEN || !store_codec_msg_dec(&v, &m))
			continue;
		m.mailbox_id = store_be64_get(k.mv_data);
		m.uid = store_be32_get((const uint8_t *)k.mv_data + 8);
		*cursor = m.mailbox_id << 32 | m.uid;
		if (m.internal_date < before)
			found[(*n)++] = m;
	}
	mdb_cursor_close(c);
	if (mrc == MDB_NOTFOUND)
		*done = true;
	else if (mrc != 0)
		return store_mdb_rc(t, mrc, "sweep");
	return STORE_OK;
}

enum store_rc
store_sweep_messages(struct store_txn *t, int64_t before, unsigned max, uint64_t *cursor,
    unsigned *expunged_out, bool *done_out)
{
	struct store_msg *found;
	enum store_rc rc;
	size_t n = 0, i;

	*expunged_out = 0;
	*done_out = false;
	if (max == 0)
		return STORE_OK;
	found = xreallocarray(NULL, max, sizeof *found);
	rc = sweep_collect(t, before, max, cursor, found, &n, done_out);
	for (i = 0; rc == STORE_OK && i < n; i++)
		rc = store_msg_expunge(t, found[i].mailbox_id, found[i].uid);
	free(found);
	if (rc == STORE_OK)
		*expunged_out = (unsigned)n;
	return rc;
}
