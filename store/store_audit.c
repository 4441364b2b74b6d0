/*
 * store_audit.c: the audit log, keyed by (time, sequence) so entries sort
 * by time and never collide. It holds what the security model lets the
 * store show (event names, addresses, remote IPs, short details); callers
 * must never put a secret in `detail`.
 */
#include "store/store_private.h"

#include <stdlib.h>

#include "gateway/gw_log.h"

#define AUDIT_KEY_LEN	16
/* bounds: version, then four length-prefixed strings, each within its
 * struct store_audit field */
#define AUDIT_VAL_MAX	(1 + 4 + 32 + STORE_ADDR_MAX + 48 + 256)

/* Copy s into a field, truncated (a UTF-8 sequence may be cut: the log is
 * for reading, not parsing). */
static void
field_set(char *dst, size_t cap, const char *s)
{
	size_t n = s != NULL ? strnlen(s, cap - 1) : 0;

	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

static void
audit_fill(struct store_audit *a, const char *event, const char *address, const char *ip,
    const char *detail)
{
	memset(a, 0, sizeof *a);
	field_set(a->event, sizeof a->event, event);
	field_set(a->address, sizeof a->address, address);
	sg_ascii_lower(a->address, strlen(a->address));
	field_set(a->ip, sizeof a->ip, ip);
	field_set(a->detail, sizeof a->detail, detail);
}

static enum store_rc
audit_write(struct store_txn *t, struct store_audit *a)
{
	uint8_t k[AUDIT_KEY_LEN], buf[AUDIT_VAL_MAX];
	struct store_wbuf w;
	enum store_rc rc;

	if ((rc = store_meta_next(t, "audit_seq", &a->seq)) != STORE_OK)
		return rc;
	a->time = t->now;
	store_be64_put(k, store_time_key(a->time));
	store_be64_put(k + 8, a->seq);
	store_wb_init(&w, buf, sizeof buf);
	store_wb_str8(&w, a->event);
	store_wb_str8(&w, a->address);
	store_wb_str8(&w, a->ip);
	store_wb_str8(&w, a->detail);
	SG_ASSERT(!w.over);
	return store_db_put(t, STORE_DB_AUDIT, k, sizeof k, buf, w.len);
}

enum store_rc
store_audit_add(struct store_txn *t, const char *event, const char *address, const char *ip,
    const char *detail)
{
	struct store_audit a;

	audit_fill(&a, event, address, ip, detail);
	return audit_write(t, &a);
}

static enum store_rc
audit_op(struct store_txn *t, void *arg)
{
	return audit_write(t, arg);
}

static void
audit_queue(struct store *st, const char *event, const char *address, const char *ip,
    const char *detail, bool lazy)
{
	struct store_audit *a = xmalloc(sizeof *a);

	audit_fill(a, event, address, ip, detail);
	(lazy ? store_write_lazy : store_write_detached)(st, audit_op, a, free);
}

void
store_audit(struct store *st, const char *event, const char *address, const char *ip,
    const char *detail)
{
	audit_queue(st, event, address, ip, detail, false);
}

void
store_audit_lazy(struct store *st, const char *event, const char *address, const char *ip,
    const char *detail)
{
	audit_queue(st, event, address, ip, detail, true);
}

static bool
audit_decode(const MDB_val *k, const MDB_val *v, struct store_audit *a)
{
	struct store_rbuf r;

	memset(a, 0, sizeof *a);
	if (k->mv_size != AUDIT_KEY_LEN)
		return false;
	a->time = store_time_unkey(store_be64_get(k->mv_data));
	a->seq = store_be64_get((const uint8_t *)k->mv_data + 8);
	store_rb_init(&r, v->mv_data, v->mv_size);
	store_rb_str8(&r, a->event, sizeof a->event);
	store_rb_str8(&r, a->address, sizeof a->address);
	store_rb_str8(&r, a->ip, sizeof a->ip);
	store_rb_str8(&r, a->detail, sizeof a->detail);
	return store_rb_done(&r);
}

enum store_rc
store_audit_list(struct store_txn *t, int64_t since, const char *address,
    store_audit_cb *cb, void *arg)
{
	char want[STORE_ADDR_MAX + 1];
	uint8_t k0[AUDIT_KEY_LEN];
	MDB_val k = { sizeof k0, k0 }, v;
	struct store_audit a;
	MDB_cursor *c;
	enum store_rc rc;
	int mrc;

	if (address != NULL)
		field_set(want, sizeof want, address);
	if (address != NULL)
		sg_ascii_lower(want, strlen(want));
	store_be64_put(k0, store_time_key(since));
	store_be64_put(k0 + 8, 0);
	if ((rc = store_cursor_open(t, STORE_DB_AUDIT, &c)) != STORE_OK)
		return rc;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (!audit_decode(&k, &v, &a)) {
			log_error("store", "event=corrupt db=audit");
			continue;
		}
		if (address != NULL && strcmp(a.address, want) != 0)
			continue;
		if (cb(arg, &a) != 0)
			break;
	}
	mdb_cursor_close(c);
	return mrc == 0 || mrc == MDB_NOTFOUND ? STORE_OK : store_mdb_rc(t, mrc, "audit_list");
}
