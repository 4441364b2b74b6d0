/*
 * store_queue.c: the outbound queue. `queue` is keyed by (next attempt,
 * id) so that due entries are a prefix scan; `queue_ids` maps an id to its
 * attempt time so that reschedule and delete find an entry directly.
 * Payloads are sealed under queue.key (sec_box) by the caller, on any
 * thread, before they reach an op: the store only ever sees ciphertext.
 */
#include "store/store_private.h"

#include <stdlib.h>

#include "gateway/gw_log.h"

#define Q_KEY_LEN	16	/* next attempt (sign-flipped), id */
#define Q_HDR		13	/* version, created, attempts */

void
store_queue_seal(const struct store *st, const void *pt, size_t len, uint8_t **out,
    size_t *outlen)
{
	struct sec_buf b = { .data = NULL };

	sec_box(st->queue_key, pt, len, &b);
	*out = b.data;
	*outlen = b.len;
}

int
store_queue_open(const struct store *st, const uint8_t *ct, size_t len, uint8_t **out,
    size_t *outlen)
{
	struct sec_buf b = { .data = NULL };

	*out = NULL;
	*outlen = 0;
	if (sec_unbox(st->queue_key, ct, len, &b) != 0) {
		sec_buf_wipe(&b);
		return -1;
	}
	/* An empty payload still gets a buffer, so that *out is never NULL
	 * on success. */
	if (b.data == NULL)
		b.data = xcalloc(1, 1);
	*out = b.data;
	*outlen = b.len;
	return 0;
}

static void
q_key(uint8_t k[Q_KEY_LEN], int64_t next_attempt, uint64_t id)
{
	store_be64_put(k, store_time_key(next_attempt));
	store_be64_put(k + 8, id);
}

/* Where the entry is (its attempt time), by id. */
static enum store_rc
q_locate(struct store_txn *t, uint64_t id, int64_t *next_attempt)
{
	struct store_rbuf r;
	uint8_t k[8];
	enum store_rc rc;
	MDB_val v;

	store_be64_put(k, id);
	if ((rc = store_db_get(t, STORE_DB_QUEUE_IDS, k, sizeof k, &v)) != STORE_OK)
		return rc;
	store_rb_init(&r, v.mv_data, v.mv_size);
	*next_attempt = (int64_t)store_rb_u64(&r);
	if (!store_rb_done(&r)) {
		log_error("store", "event=corrupt db=queue_ids id=%llu", (unsigned long long)id);
		return STORE_CORRUPT;
	}
	return STORE_OK;
}

static bool
q_decode(const MDB_val *k, const MDB_val *v, struct store_qentry *e)
{
	const uint8_t *p = v->mv_data;

	if (k->mv_size != Q_KEY_LEN || v->mv_size < Q_HDR || p[0] != STORE_FORMAT_VERSION)
		return false;
	e->next_attempt = store_time_unkey(store_be64_get(k->mv_data));
	e->id = store_be64_get((const uint8_t *)k->mv_data + 8);
	e->created = (int64_t)store_be64_get(p + 1);
	e->attempts = store_be32_get(p + 9);
	e->data = p + Q_HDR;
	e->len = v->mv_size - Q_HDR;
	return true;
}

/* Write the entry under its attempt time, and its id index. */
static enum store_rc
q_write(struct store_txn *t, const struct store_qentry *e)
{
	uint8_t k[Q_KEY_LEN], idk[8], idv[9], *p;
	struct store_wbuf w;
	enum store_rc rc;

	if (e->len > SIZE_MAX - Q_HDR || (e->data == NULL && e->len > 0))
		return STORE_INVALID;
	q_key(k, e->next_attempt, e->id);
	if ((rc = store_db_reserve(t, STORE_DB_QUEUE, k, sizeof k, Q_HDR + e->len, &p)) !=
	    STORE_OK)
		return rc;
	p[0] = STORE_FORMAT_VERSION;
	store_be64_put(p + 1, (uint64_t)e->created);
	store_be32_put(p + 9, e->attempts);
	if (e->len > 0)
		memcpy(p + Q_HDR, e->data, e->len);
	store_be64_put(idk, e->id);
	store_wb_init(&w, idv, sizeof idv);
	store_wb_u64(&w, (uint64_t)e->next_attempt);
	t->bytes += e->len;
	return store_db_put(t, STORE_DB_QUEUE_IDS, idk, sizeof idk, idv, w.len);
}

enum store_rc
store_queue_put(struct store_txn *t, struct store_qentry *e)
{
	int64_t when;
	enum store_rc rc;

	if (e->id == 0) {
		if ((rc = store_meta_next(t, "next_queue", &e->id)) != STORE_OK)
			return rc;
	} else if ((rc = q_locate(t, e->id, &when)) != STORE_NOTFOUND) {
		return rc == STORE_OK ? STORE_EXISTS : rc;
	}
	if (e->created == 0)
		e->created = t->now;
	return q_write(t, e);
}

enum store_rc
store_queue_get(struct store_txn *t, uint64_t id, struct store_qentry *out)
{
	uint8_t k[Q_KEY_LEN];
	MDB_val key = { sizeof k, k }, v;
	int64_t when;
	enum store_rc rc;

	memset(out, 0, sizeof *out);
	if ((rc = q_locate(t, id, &when)) != STORE_OK)
		return rc;
	q_key(k, when, id);
	if ((rc = store_db_get(t, STORE_DB_QUEUE, k, sizeof k, &v)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_CORRUPT : rc;
	if (!q_decode(&key, &v, out)) {
		log_error("store", "event=corrupt db=queue id=%llu", (unsigned long long)id);
		return STORE_CORRUPT;
	}
	return STORE_OK;
}

enum store_rc
store_queue_reschedule(struct store_txn *t, uint64_t id, int64_t next_attempt,
    uint32_t attempts)
{
	struct store_qentry e;
	uint8_t k[Q_KEY_LEN], *copy;
	enum store_rc rc;

	if ((rc = store_queue_get(t, id, &e)) != STORE_OK)
		return rc;
	/* e.data points into the page that the delete below may reuse. */
	copy = xmemdup(e.data, e.len > 0 ? e.len : 1);
	e.data = copy;
	q_key(k, e.next_attempt, id);
	rc = store_db_del(t, STORE_DB_QUEUE, k, sizeof k);
	e.next_attempt = next_attempt;
	e.attempts = attempts;
	if (rc == STORE_OK)
		rc = q_write(t, &e);
	free(copy);
	return rc;
}

enum store_rc
store_queue_delete(struct store_txn *t, uint64_t id)
{
	uint8_t k[Q_KEY_LEN], idk[8];
	int64_t when;
	enum store_rc rc;

	if ((rc = q_locate(t, id, &when)) != STORE_OK)
		return rc;
	q_key(k, when, id);
	store_be64_put(idk, id);
	rc = store_db_del(t, STORE_DB_QUEUE, k, sizeof k);
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_db_del(t, STORE_DB_QUEUE_IDS, idk, sizeof idk);
	return rc;
}

enum store_rc
store_queue_list(struct store_txn *t, int64_t due, store_queue_cb *cb, void *arg)
{
	struct store_qentry e;
	MDB_cursor *c;
	MDB_val k, v;
	enum store_rc rc;
	int mrc;

	if ((rc = store_cursor_open(t, STORE_DB_QUEUE, &c)) != STORE_OK)
		return rc;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (!q_decode(&k, &v, &e)) {
			log_error("store", "event=corrupt db=queue");
			continue;
		}
		if (e.next_attempt > due || cb(arg, &e) != 0)
			break;
	}
	mdb_cursor_close(c);
	return mrc == 0 || mrc == MDB_NOTFOUND ? STORE_OK : store_mdb_rc(t, mrc, "queue_list");
}
