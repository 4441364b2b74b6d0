/*
 * smtp_vault_tool: what the SMTP protocol tests need from the vault until
 * the portal and IMAP exist, through the store API only:
 *
 *   smtp_vault_tool DATA_DIR enroll TOKEN PASSWORD
 *   smtp_vault_tool DATA_DIR read ADDRESS PASSWORD OUTDIR
 *       writes each INBOX message, decrypted, to OUTDIR/<uid>.eml and
 *       prints "uid=N blob=N size=N summary=ok" per message
 *   smtp_vault_tool DATA_DIR account ADDRESS
 *   smtp_vault_tool DATA_DIR stats
 *   smtp_vault_tool DATA_DIR queue
 *   smtp_vault_tool DATA_DIR enqueue FROM RCPT[:NOTIFY[:ORCPT]],... FILE [ENVID [RET]]
 *       queues FILE as a mail (kind "mail", as submission will), NOTIFY a
 *       mask of SMTP_NOTIFY_* in decimal, RET "full" or "hdrs"
 *
 * Output is key=value lines; exit status 0, or 1 with the error on stderr.
 * It opens the store beside a running daemon (LMDB allows it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/sec.h"
#include "mime/mime.h"
#include "smtp/smtp_queue.h"
#include "store/store.h"

#define TOOL_KDF	0	/* SEC_KDF_INTERACTIVE */

static struct store *
tool_open(const char *dir, bool ro)
{
	struct store_opts o = { .data_dir = dir, .read_only = ro };
	char *err = NULL;
	struct store *st = store_open(&o, &err);

	if (st == NULL) {
		fprintf(stderr, "store_open: %s\n", err != NULL ? err : "?");
		exit(1);
	}
	return st;
}

static int
tool_enroll(struct store *st, const char *token, const char *pw)
{
	struct store_account a;
	enum store_rc rc = store_enroll(st, token, strlen(token), pw, strlen(pw), TOOL_KDF, &a);

	if (rc != STORE_OK) {
		fprintf(stderr, "enroll: %s\n", store_rc_str(rc));
		return 1;
	}
	printf("address=%s state=%s\n", a.address, store_acct_state_str(a.state));
	return 0;
}

static int
tool_read_one(struct store_txn *t, const struct store_msg *m, uint64_t acct,
    const struct sec_sk *sk, const char *outdir)
{
	uint8_t sealed[STORE_SEALED_KEY_BYTES], key[SEC_KEY_BYTES];
	struct sec_buf pt = { 0 }, sum = { 0 };
	struct mime_summary *s = NULL;
	const uint8_t *ct;
	size_t len;
	char path[4096];
	FILE *f;
	int rc = 1;

	if (store_key_get(t, m->blob_id, acct, sealed) != STORE_OK ||
	    sec_open_key(sealed, sizeof sealed, sk, key) != 0) {
		fprintf(stderr, "uid %u: no key\n", m->uid);
		return 1;
	}
	if (store_blob_get(t, m->blob_id, &ct, &len) != STORE_OK ||
	    sec_decrypt(key, ct, len, &pt) != 0 ||
	    store_summary_get(t, m->blob_id, &ct, &len) != STORE_OK ||
	    sec_decrypt(key, ct, len, &sum) != 0 ||
	    (s = mime_summary_decode(sum.data, sum.len)) == NULL) {
		fprintf(stderr, "uid %u: does not decrypt\n", m->uid);
		goto out;
	}
	snprintf(path, sizeof path, "%s/%u.eml", outdir, m->uid);
	if ((f = fopen(path, "wb")) == NULL || fwrite(pt.data, 1, pt.len, f) != pt.len) {
		fprintf(stderr, "%s: cannot write\n", path);
		if (f != NULL)
			fclose(f);
		goto out;
	}
	fclose(f);
	printf("uid=%u blob=%llu size=%llu plain=%zu summary_size=%llu summary=ok\n", m->uid,
	    (unsigned long long)m->blob_id, (unsigned long long)m->size, pt.len,
	    (unsigned long long)mime_summary_size(s));
	rc = 0;
out:
	mime_summary_free(&s);
	sec_wipe(key, sizeof key);
	sec_buf_wipe(&pt);
	sec_buf_wipe(&sum);
	return rc;
}

static int
tool_read(struct store *st, const char *addr, const char *pw, const char *outdir)
{
	struct store_account a;
	struct store_mailbox mb;
	struct store_msg m;
	struct store_cursor *c;
	struct store_txn *t;
	struct sec_sk *sk = NULL;
	enum store_rc rc = store_login(st, addr, pw, strlen(pw), &a, &sk);
	int bad = 0;

	if (rc != STORE_OK) {
		fprintf(stderr, "login: %s\n", store_rc_str(rc));
		return 1;
	}
	if ((t = store_read_begin(st, &rc)) == NULL ||
	    (rc = store_mailbox_get(t, a.id, "INBOX", &mb)) != STORE_OK) {
		fprintf(stderr, "inbox: %s\n", store_rc_str(rc));
		store_read_end(&t);
		sec_sk_unref(&sk);
		return 1;
	}
	printf("messages=%u\n", mb.messages);
	c = store_msgs_open(t, mb.id, 1);
	while (c != NULL && store_msgs_next(c, &m))
		bad |= tool_read_one(t, &m, a.id, sk, outdir);
	store_msgs_close(&c);
	store_read_end(&t);
	sec_sk_unref(&sk);
	return bad;
}

static int
tool_account(struct store *st, const char *addr)
{
	struct store_account a;
	struct store_txn *t;
	enum store_rc rc;

	if ((t = store_read_begin(st, &rc)) == NULL)
		return 1;
	rc = store_account_get(t, addr, &a);
	store_read_end(&t);
	if (rc != STORE_OK) {
		printf("state=none\n");
		return rc == STORE_NOTFOUND ? 0 : 1;
	}
	printf("state=%s id=%llu invited_at=%lld token_expiry=%lld has_token=%d\n",
	    store_acct_state_str(a.state), (unsigned long long)a.id, (long long)a.invited_at,
	    (long long)a.token_expiry, a.has_token);
	return 0;
}

static int
tool_stats(struct store *st)
{
	struct store_stats s;
	struct store_txn *t;
	enum store_rc rc;

	if ((t = store_read_begin(st, &rc)) == NULL)
		return 1;
	rc = store_stats(t, &s);
	store_read_end(&t);
	if (rc != STORE_OK)
		return 1;
	printf("invited=%llu active=%llu disabled=%llu messages=%llu blobs=%llu queue=%llu\n",
	    (unsigned long long)s.accounts[STORE_ACCT_INVITED],
	    (unsigned long long)s.accounts[STORE_ACCT_ACTIVE],
	    (unsigned long long)s.accounts[STORE_ACCT_DISABLED], (unsigned long long)s.messages,
	    (unsigned long long)s.blobs, (unsigned long long)s.queue);
	return 0;
}

static int
tool_queue_cb(void *arg, const struct store_qentry *e)
{
	(void)arg;
	printf("id=%llu next=%lld created=%lld attempts=%u\n", (unsigned long long)e->id,
	    (long long)e->next_attempt, (long long)e->created, e->attempts);
	return 0;
}

static int
tool_queue(struct store *st)
{
	struct store_txn *t;
	enum store_rc rc;

	if ((t = store_read_begin(st, &rc)) == NULL)
		return 1;
	rc = store_queue_list(t, INT64_MAX, tool_queue_cb, NULL);
	store_read_end(&t);
	return rc == STORE_OK ? 0 : 1;
}

struct tool_put {
	uint8_t	*ct;
	size_t	 len;
	uint64_t id;
};

static enum store_rc
tool_put_op(struct store_txn *t, void *arg)
{
	struct tool_put *p = arg;
	struct store_qentry e = { .next_attempt = store_txn_now(t), .data = p->ct, .len = p->len };
	enum store_rc rc = store_queue_put(t, &e);

	p->id = e.id;
	return rc;
}

static int
tool_enqueue(struct store *st, char **argv, int argc)
{
	struct smtp_qmsg q = { .kind = SMTP_QK_MAIL, .arrival = time(NULL) };
	struct sec_buf pt = { 0 }, msg = { 0 };
	struct tool_put p = { 0 };
	char *list = strdup(argv[1]), *item, *save = NULL, buf[65536];
	FILE *f = fopen(argv[2], "rb");
	size_t n;
	enum store_rc rc;

	if (f == NULL || list == NULL)
		return 1;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sec_buf_append(&msg, buf, n);
	fclose(f);
	q.from = strdup(argv[0]);
	q.envid = argc > 3 ? strdup(argv[3]) : NULL;
	q.ret = argc > 4 ? (strcmp(argv[4], "hdrs") == 0 ? SMTP_RET_HDRS : SMTP_RET_FULL) :
	    SMTP_RET_NONE;
	for (item = strtok_r(list, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		char *notify = strchr(item, ':'), *orcpt = NULL;

		if (notify != NULL) {
			*notify++ = '\0';
			if ((orcpt = strchr(notify, ':')) != NULL)
				*orcpt++ = '\0';
		}
		smtp_qmsg_add_rcpt(&q, item, orcpt, notify != NULL ? (unsigned)atoi(notify) : 0);
	}
	q.msg = (const char *)msg.data;
	q.msg_len = msg.len;
	smtp_qmsg_encode(&q, &pt);
	store_queue_seal(st, pt.data, pt.len, &p.ct, &p.len);
	rc = store_write_wait(st, tool_put_op, &p);
	printf("id=%llu rc=%s\n", (unsigned long long)p.id, store_rc_str(rc));
	sec_buf_wipe(&pt);
	sec_buf_free(&msg);
	free(p.ct);
	free(list);
	smtp_qmsg_clear(&q);
	return rc == STORE_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct store *st;
	int rc = 2;

	if (argc < 3 || sec_init() != 0)
		return 2;
	mime_init();
	st = tool_open(argv[1], strcmp(argv[2], "enroll") != 0 && strcmp(argv[2], "enqueue") != 0);
	if (strcmp(argv[2], "enroll") == 0 && argc == 5)
		rc = tool_enroll(st, argv[3], argv[4]);
	else if (strcmp(argv[2], "read") == 0 && argc == 6)
		rc = tool_read(st, argv[3], argv[4], argv[5]);
	else if (strcmp(argv[2], "account") == 0 && argc == 4)
		rc = tool_account(st, argv[3]);
	else if (strcmp(argv[2], "stats") == 0)
		rc = tool_stats(st);
	else if (strcmp(argv[2], "queue") == 0)
		rc = tool_queue(st);
	else if (strcmp(argv[2], "enqueue") == 0 && argc >= 6)
		rc = tool_enqueue(st, argv + 3, argc - 3);
	else
		fprintf(stderr, "usage: smtp_vault_tool DATA_DIR enroll|read|account|stats|queue\n");
	store_close(&st);
	return rc;
}
