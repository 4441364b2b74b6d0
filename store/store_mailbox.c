/*
 * store_mailbox.c: mailboxes. `mailboxes` is keyed by (account id, name)
 * so that an account's mailboxes list in name order with one cursor;
 * `mailbox_ids` maps a mailbox id back to (account id, name) for the
 * message verbs, which know mailboxes by id. A rename moves keys and keeps
 * the id, so messages never move.
 *
 * UIDVALIDITY comes from a global counter seeded from the clock at init:
 * a mailbox deleted and made again under the same name gets a larger one.
 * Each record carries its counts (messages, unseen, deleted, size) so that
 * STATUS costs one lookup.
 */
#include "store/store_private.h"

#include <stdlib.h>

#include "gateway/gw_log.h"

/* bounds: 8-byte account id, then a name of at most STORE_MBOX_NAME_MAX */
#define MBOX_KEY_MAX	(8 + STORE_MBOX_NAME_MAX)

static const struct {
	const char		*name;
	enum store_special	 special;
} default_mboxes[] = {
	{ "INBOX", STORE_SPECIAL_NONE },
	{ "Sent", STORE_SPECIAL_SENT },
	{ "Drafts", STORE_SPECIAL_DRAFTS },
	{ "Trash", STORE_SPECIAL_TRASH },
	{ "Junk", STORE_SPECIAL_JUNK },
	{ "Archive", STORE_SPECIAL_ARCHIVE },
};

static bool
is_inbox(const char *name, size_t len)
{
	return sg_ascii_ieq(name, len, "INBOX");
}

/* Length of the UTF-8 sequence at p (1..4), or 0 if malformed. */
static size_t
utf8_seq(const unsigned char *p, size_t left)
{
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 &&
	    p[0] <= 0xdf ? 2 : 0;
	if (n == 0 || n > left)
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * Check a name and bring INBOX to its one spelling. Refused: empty or too
 * long names, empty levels ("a//b", "/a", "a/"), control characters, the
 * LIST wildcards, malformed UTF-8.
 */
static enum store_rc
name_norm(const char *name, char out[STORE_MBOX_NAME_MAX + 1], size_t *len_out)
{
	size_t len = strlen(name), i, n;
	const unsigned char *p = (const unsigned char *)name;

	if (len == 0 || len > STORE_MBOX_NAME_MAX || name[0] == STORE_MBOX_SEP ||
	    name[len - 1] == STORE_MBOX_SEP)
		return STORE_INVALID;
	for (i = 0; i < len; i += n) {
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '%' || p[i] == '*' ||
		    (p[i] == STORE_MBOX_SEP && p[i + 1] == STORE_MBOX_SEP))
			return STORE_INVALID;
		if ((n = utf8_seq(p + i, len - i)) == 0)
			return STORE_INVALID;
	}
	memcpy(out, is_inbox(name, len) ? "INBOX" : name, len + 1);	/* bounds: len <= MAX */
	*len_out = len;
	return STORE_OK;
}

static size_t
mbox_key(uint8_t k[MBOX_KEY_MAX], uint64_t account_id, const char *name, size_t len)
{
	store_be64_put(k, account_id);
	memcpy(k + 8, name, len);	/* bounds: len <= STORE_MBOX_NAME_MAX */
	return 8 + len;
}

/* Load by normalized name. */
static enum store_rc
mbox_load(struct store_txn *t, uint64_t account_id, const char *name, size_t len,
    struct store_mailbox *m)
{
	uint8_t k[MBOX_KEY_MAX];
	enum store_rc rc;
	MDB_val v;

	memset(m, 0, sizeof *m);
	rc = store_db_get(t, STORE_DB_MAILBOXES, k, mbox_key(k, account_id, name, len), &v);
	if (rc != STORE_OK)
		return rc;
	if (!store_codec_mbox_dec(&v, m)) {
		log_error("store", "event=corrupt db=mailboxes account=%llu",
		    (unsigned long long)account_id);
		return STORE_CORRUPT;
	}
	m->account_id = account_id;
	memcpy(m->name, name, len + 1);
	return STORE_OK;
}

enum store_rc
store_mbox_save(struct store_txn *t, const struct store_mailbox *m)
{
	uint8_t k[MBOX_KEY_MAX], v[STORE_MBOX_VAL_LEN];
	size_t klen = mbox_key(k, m->account_id, m->name, strlen(m->name));

	store_codec_mbox_enc(m, v);
	return store_db_put(t, STORE_DB_MAILBOXES, k, klen, v, sizeof v);
}

static enum store_rc
mbox_id_put(struct store_txn *t, const struct store_mailbox *m)
{
	uint8_t k[8], v[1 + 8 + STORE_MBOX_NAME_MAX];
	size_t len = strlen(m->name);

	store_be64_put(k, m->id);
	v[0] = STORE_FORMAT_VERSION;
	store_be64_put(v + 1, m->account_id);
	memcpy(v + 9, m->name, len);	/* bounds: names are checked on the way in */
	return store_db_put(t, STORE_DB_MAILBOX_IDS, k, sizeof k, v, 9 + len);
}

enum store_rc
store_mailbox_get(struct store_txn *t, uint64_t account_id, const char *name,
    struct store_mailbox *out)
{
	char norm[STORE_MBOX_NAME_MAX + 1];
	size_t len;

	if (name_norm(name, norm, &len) != STORE_OK)
		return STORE_NOTFOUND;
	return mbox_load(t, account_id, norm, len, out);
}

enum store_rc
store_mailbox_get_id(struct store_txn *t, uint64_t mailbox_id, struct store_mailbox *out)
{
	char name[STORE_MBOX_NAME_MAX + 1];
	const uint8_t *p;
	uint8_t k[8];
	enum store_rc rc;
	MDB_val v;
	size_t n;

	store_be64_put(k, mailbox_id);
	if ((rc = store_db_get(t, STORE_DB_MAILBOX_IDS, k, sizeof k, &v)) != STORE_OK)
		return rc;
	p = v.mv_data;
	n = v.mv_size - 9;
	if (v.mv_size < 10 || p[0] != STORE_FORMAT_VERSION || n > STORE_MBOX_NAME_MAX) {
		log_error("store", "event=corrupt db=mailbox_ids");
		return STORE_CORRUPT;
	}
	memcpy(name, p + 9, n);	/* bounds: checked above */
	name[n] = '\0';
	rc = mbox_load(t, store_be64_get(p + 1), name, n, out);
	if (rc == STORE_OK && out->id != mailbox_id)
		rc = STORE_CORRUPT;
	return rc == STORE_NOTFOUND ? STORE_CORRUPT : rc;
}

/* Iterate the account's mailboxes whose names start with prefix (len
 * bytes; 0: all), in name order. cb returns non-0 to stop. */
static enum store_rc
mbox_scan(struct store_txn *t, uint64_t account_id, const char *prefix, size_t plen,
    store_mailbox_cb *cb, void *arg)
{
	uint8_t k0[MBOX_KEY_MAX];
	size_t k0len = mbox_key(k0, account_id, prefix, plen);
	MDB_val k = { k0len, k0 }, v;
	struct store_mailbox m;
	MDB_cursor *c;
	enum store_rc rc;
	int mrc;

	if ((rc = store_cursor_open(t, STORE_DB_MAILBOXES, &c)) != STORE_OK)
		return rc;
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); mrc == 0 &&
	    store_key_has_prefix(&k, k0, k0len); mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		memset(&m, 0, sizeof m);
		if (k.mv_size - 8 > STORE_MBOX_NAME_MAX || !store_codec_mbox_dec(&v, &m)) {
			log_error("store", "event=corrupt db=mailboxes");
			continue;
		}
		m.account_id = account_id;
		memcpy(m.name, (const uint8_t *)k.mv_data + 8, k.mv_size - 8);
		m.name[k.mv_size - 8] = '\0';
		if (cb(arg, &m) != 0)
			break;
	}
	mdb_cursor_close(c);
	return mrc == 0 || mrc == MDB_NOTFOUND ? STORE_OK : store_mdb_rc(t, mrc, "mbox_scan");
}

enum store_rc
store_mailbox_list(struct store_txn *t, uint64_t account_id, store_mailbox_cb *cb,
    void *arg)
{
	return mbox_scan(t, account_id, "", 0, cb, arg);
}

static int
count_cb(void *arg, const struct store_mailbox *m)
{
	(void)m;
	(*(size_t *)arg)++;
	return 0;
}

static int
found_cb(void *arg, const struct store_mailbox *m)
{
	(void)m;
	*(bool *)arg = true;
	return 1;
}

static enum store_rc
has_children(struct store_txn *t, uint64_t account_id, const char *name, size_t len,
    bool *yes)
{
	char prefix[STORE_MBOX_NAME_MAX + 2];

	memcpy(prefix, name, len);	/* bounds: len <= STORE_MBOX_NAME_MAX */
	prefix[len] = STORE_MBOX_SEP;
	*yes = false;
	return mbox_scan(t, account_id, prefix, len + 1, found_cb, yes);
}

static enum store_rc
mbox_create(struct store_txn *t, uint64_t account_id, const char *name, size_t len,
    enum store_special special, bool subscribed, struct store_mailbox *out)
{
	struct store_mailbox m = { .account_id = account_id, .uidnext = 1,
	    .highestmodseq = 1, .special = special, .subscribed = subscribed };
	uint64_t uv;
	enum store_rc rc;

	if ((rc = store_meta_next(t, "next_mailbox", &m.id)) != STORE_OK ||
	    (rc = store_meta_next(t, "next_uidvalidity", &uv)) != STORE_OK)
		return rc;
	if (uv == 0 || uv > UINT32_MAX)	/* 136 years of creates a second */
		return STORE_LIMIT;
	m.uidvalidity = (uint32_t)uv;
	memcpy(m.name, name, len + 1);	/* bounds: len <= STORE_MBOX_NAME_MAX */
	if ((rc = store_mbox_save(t, &m)) != STORE_OK || (rc = mbox_id_put(t, &m)) != STORE_OK)
		return rc;
	store_note_mailbox(t, m.id);
	if (out != NULL)
		*out = m;
	return STORE_OK;
}

enum store_rc
store_mbox_create_defaults(struct store_txn *t, uint64_t account_id)
{
	enum store_rc rc;
	size_t i;

	for (i = 0; i < SG_NITEMS(default_mboxes); i++) {
		rc = mbox_create(t, account_id, default_mboxes[i].name,
		    strlen(default_mboxes[i].name), default_mboxes[i].special, true, NULL);
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

enum store_rc
store_mailbox_create(struct store_txn *t, uint64_t account_id, const char *name,
    enum store_special special, struct store_mailbox *out)
{
	char norm[STORE_MBOX_NAME_MAX + 1];
	struct store_mailbox m;
	size_t len, count = 0;
	uint8_t k[8];
	enum store_rc rc;
	MDB_val v;

	if (name_norm(name, norm, &len) != STORE_OK || special > STORE_SPECIAL_ARCHIVE)
		return STORE_INVALID;
	store_be64_put(k, account_id);
	if ((rc = store_db_get(t, STORE_DB_ACCOUNT_IDS, k, sizeof k, &v)) != STORE_OK)
		return rc;
	rc = mbox_load(t, account_id, norm, len, &m);
	if (rc != STORE_NOTFOUND)
		return rc == STORE_OK ? STORE_EXISTS : rc;
	if ((rc = mbox_scan(t, account_id, "", 0, count_cb, &count)) != STORE_OK)
		return rc;
	if (count >= STORE_MBOXES_MAX)
		return STORE_LIMIT;
	return mbox_create(t, account_id, norm, len, special, false, out);
}

static enum store_rc
mbox_remove(struct store_txn *t, struct store_mailbox *m)
{
	uint8_t k[MBOX_KEY_MAX], idk[8];
	size_t klen = mbox_key(k, m->account_id, m->name, strlen(m->name));
	enum store_rc rc;

	store_be64_put(idk, m->id);
	if ((rc = store_msg_drop_all(t, m)) != STORE_OK ||
	    (rc = store_db_del(t, STORE_DB_MAILBOXES, k, klen)) != STORE_OK ||
	    (rc = store_db_del(t, STORE_DB_MAILBOX_IDS, idk, sizeof idk)) != STORE_OK)
		return rc;
	store_note_mailbox(t, m->id);
	return STORE_OK;
}

enum store_rc
store_mailbox_delete(struct store_txn *t, uint64_t account_id, const char *name)
{
	char norm[STORE_MBOX_NAME_MAX + 1];
	struct store_mailbox m;
	size_t len;
	bool kids;
	enum store_rc rc;

	if (name_norm(name, norm, &len) != STORE_OK)
		return STORE_NOTFOUND;
	if (strcmp(norm, "INBOX") == 0)
		return STORE_INVALID;
	if ((rc = mbox_load(t, account_id, norm, len, &m)) != STORE_OK ||
	    (rc = has_children(t, account_id, norm, len, &kids)) != STORE_OK)
		return rc;
	if (kids)
		return STORE_EXISTS;
	return mbox_remove(t, &m);
}

/* ---- rename ---- */

struct name_list {
	char	(*v)[STORE_MBOX_NAME_MAX + 1];
	size_t	 n, cap;
};

static int
collect_cb(void *arg, const struct store_mailbox *m)
{
	struct name_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 16 : l->cap * 2;
		l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
	}
	memcpy(l->v[l->n++], m->name, sizeof m->name);
	return 0;
}

/* Give one mailbox a new name (same id, UIDVALIDITY and messages). */
static enum store_rc
mbox_move_name(struct store_txn *t, uint64_t account_id, const char *from, const char *to)
{
	uint8_t k[MBOX_KEY_MAX];
	struct store_mailbox m;
	enum store_rc rc;

	if ((rc = mbox_load(t, account_id, from, strlen(from), &m)) != STORE_OK ||
	    (rc = store_db_del(t, STORE_DB_MAILBOXES, k,
	    mbox_key(k, account_id, from, strlen(from)))) != STORE_OK)
		return rc;
	memcpy(m.name, to, strlen(to) + 1);	/* bounds: checked by the caller */
	if ((rc = store_mbox_save(t, &m)) != STORE_OK || (rc = mbox_id_put(t, &m)) != STORE_OK)
		return rc;
	store_note_mailbox(t, m.id);
	return STORE_OK;
}

/* The new name of a child: to + what follows from in child. */
static enum store_rc
child_name(const char *child, size_t from_len, const char *to, size_t to_len,
    char out[STORE_MBOX_NAME_MAX + 1])
{
	size_t rest = strlen(child) - from_len;

	if (to_len + rest > STORE_MBOX_NAME_MAX)
		return STORE_INVALID;
	memcpy(out, to, to_len);
	memcpy(out + to_len, child + from_len, rest + 1);	/* bounds: checked above */
	return STORE_OK;
}

/* Renaming INBOX: its messages move to a new mailbox; INBOX stays, empty,
 * and its children stay where they are (RFC 3501 6.3.5). */
static enum store_rc
rename_inbox(struct store_txn *t, uint64_t account_id, const char *to, size_t to_len)
{
	struct store_mailbox inbox, dest;
	enum store_rc rc;

	if ((rc = mbox_load(t, account_id, "INBOX", 5, &inbox)) != STORE_OK ||
	    (rc = mbox_create(t, account_id, to, to_len, STORE_SPECIAL_NONE, inbox.subscribed,
	    &dest)) != STORE_OK ||
	    (rc = store_msg_move_all(t, &inbox, &dest)) != STORE_OK ||
	    (rc = store_mbox_save(t, &inbox)) != STORE_OK)
		return rc;
	store_note_mailbox(t, inbox.id);
	return store_mbox_save(t, &dest);
}

static enum store_rc
rename_tree(struct store_txn *t, uint64_t account_id, const char *from, size_t from_len,
    const char *to, size_t to_len)
{
	char prefix[STORE_MBOX_NAME_MAX + 2], newname[STORE_MBOX_NAME_MAX + 1];
	struct name_list kids = { .v = NULL };
	struct store_mailbox m;
	enum store_rc rc;
	size_t i;

	memcpy(prefix, from, from_len);	/* bounds: from_len <= STORE_MBOX_NAME_MAX */
	prefix[from_len] = STORE_MBOX_SEP;
	rc = mbox_scan(t, account_id, prefix, from_len + 1, collect_cb, &kids);
	/* Check every new name first: the op must fail whole or not at all
	 * (the nested transaction would undo a half rename anyway). */
	for (i = 0; rc == STORE_OK && i < kids.n; i++) {
		if ((rc = child_name(kids.v[i], from_len, to, to_len, newname)) != STORE_OK)
			break;
		rc = mbox_load(t, account_id, newname, strlen(newname), &m);
		rc = rc == STORE_OK ? STORE_EXISTS : rc == STORE_NOTFOUND ? STORE_OK : rc;
	}
	if (rc == STORE_OK)
		rc = mbox_move_name(t, account_id, from, to);
	for (i = 0; rc == STORE_OK && i < kids.n; i++) {
		rc = child_name(kids.v[i], from_len, to, to_len, newname);
		if (rc == STORE_OK)
			rc = mbox_move_name(t, account_id, kids.v[i], newname);
	}
	free(kids.v);
	return rc;
}

enum store_rc
store_mailbox_rename(struct store_txn *t, uint64_t account_id, const char *from,
    const char *to)
{
	char f[STORE_MBOX_NAME_MAX + 1], n[STORE_MBOX_NAME_MAX + 1];
	struct store_mailbox m;
	size_t flen, nlen;
	enum store_rc rc;

	if (name_norm(from, f, &flen) != STORE_OK)
		return STORE_NOTFOUND;
	if (name_norm(to, n, &nlen) != STORE_OK)
		return STORE_INVALID;
	if ((rc = mbox_load(t, account_id, f, flen, &m)) != STORE_OK)
		return rc;
	rc = mbox_load(t, account_id, n, nlen, &m);
	if (rc != STORE_NOTFOUND)
		return rc == STORE_OK ? STORE_EXISTS : rc;	/* INBOX always exists */
	/* Into itself: "a" to "a/b". */
	if (nlen > flen && memcmp(n, f, flen) == 0 && n[flen] == STORE_MBOX_SEP)
		return STORE_INVALID;
	if (strcmp(f, "INBOX") == 0)
		return rename_inbox(t, account_id, n, nlen);
	return rename_tree(t, account_id, f, flen, n, nlen);
}

enum store_rc
store_mailbox_subscribe(struct store_txn *t, uint64_t account_id, const char *name, bool on)
{
	char norm[STORE_MBOX_NAME_MAX + 1];
	struct store_mailbox m;
	size_t len;
	enum store_rc rc;

	if (name_norm(name, norm, &len) != STORE_OK)
		return STORE_NOTFOUND;
	if ((rc = mbox_load(t, account_id, norm, len, &m)) != STORE_OK)
		return rc;
	if (m.subscribed == on)
		return STORE_OK;
	m.subscribed = on;
	return store_mbox_save(t, &m);
}

/* ---- whole accounts ---- */

static enum store_rc
account_names(struct store_txn *t, uint64_t account_id, struct name_list *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
	return mbox_scan(t, account_id, "", 0, collect_cb, l);
}

enum store_rc
store_mbox_drop_all(struct store_txn *t, uint64_t account_id)
{
	struct name_list l;
	struct store_mailbox m;
	enum store_rc rc;
	size_t i;

	rc = account_names(t, account_id, &l);
	for (i = 0; rc == STORE_OK && i < l.n; i++) {
		rc = mbox_load(t, account_id, l.v[i], strlen(l.v[i]), &m);
		if (rc == STORE_OK)
			rc = mbox_remove(t, &m);
	}
	free(l.v);
	return rc;
}

enum store_rc
store_mbox_empty_all(struct store_txn *t, uint64_t account_id)
{
	struct name_list l;
	struct store_mailbox m;
	enum store_rc rc;
	size_t i;

	rc = account_names(t, account_id, &l);
	for (i = 0; rc == STORE_OK && i < l.n; i++) {
		rc = mbox_load(t, account_id, l.v[i], strlen(l.v[i]), &m);
		if (rc == STORE_OK)
			rc = store_msg_drop_all(t, &m);
		if (rc == STORE_OK)
			rc = store_mbox_save(t, &m);
	}
	free(l.v);
	return rc;
}
