/*
 * gw_admin_queue.c: `sealgate queue list|flush|delete ID` and `sealgate
 * stats`. The queue's payloads are sealed under queue.key; `queue list`
 * opens each to show its kind and envelope (never the message, which may
 * hold an invitation token). `flush` makes every entry due now; the
 * daemon's runner polls the store every second and picks them up.
 */
#include "gateway/gw_admin_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "smtp/smtp_queue.h"

#define GW_QUEUE_USAGE \
	"usage: sealgate queue list [--json]\n" \
	"       sealgate queue flush [--json]\n" \
	"       sealgate queue delete ID [--json]\n"

static const char *
gw_queue_kind(enum smtp_qkind k)
{
	switch (k) {
	case SMTP_QK_MAIL:
		return "mail";
	case SMTP_QK_INVITE:
		return "invitation";
	case SMTP_QK_NOTICE:
		return "notice";
	case SMTP_QK_DSN:
		return "bounce";
	}
	return "unknown";
}

/* ---- list ---- */

struct gw_qlist {
	struct store	*st;
	bool		 json;
	size_t		 n;
};

static void
gw_qlist_text(const struct store_qentry *e, const struct smtp_qmsg *q, bool ok)
{
	char tb[32];
	size_t i;

	printf("%-10llu %-18s %8u %10zu %-10s ", (unsigned long long)e->id,
	    gw_admin_time(e->next_attempt, tb, sizeof tb), e->attempts, e->len,
	    ok ? gw_queue_kind(q->kind) : "unreadable");
	if (ok) {
		printf("<%s> ->", q->from);
		for (i = 0; i < q->nrcpts; i++)
			printf(" <%s>", q->rcpts[i].addr);
	}
	printf("\n");
}

static void
gw_qlist_json(const struct store_qentry *e, const struct smtp_qmsg *q, bool ok, size_t n)
{
	size_t i;

	printf("%s{\"id\": %llu, \"next_attempt\": ", n > 0 ? ",\n  " : "\n  ",
	    (unsigned long long)e->id);
	gw_admin_json_time(stdout, e->next_attempt);
	fputs(", \"created\": ", stdout);
	gw_admin_json_time(stdout, e->created);
	printf(", \"attempts\": %u, \"size\": %zu, \"kind\": \"%s\"", e->attempts, e->len,
	    ok ? gw_queue_kind(q->kind) : "unreadable");
	if (ok) {
		fputs(", \"from\": ", stdout);
		gw_admin_json_str(stdout, q->from);
		fputs(", \"recipients\": [", stdout);
		for (i = 0; i < q->nrcpts; i++) {
			fputs(i > 0 ? ", " : "", stdout);
			gw_admin_json_str(stdout, q->rcpts[i].addr);
		}
		fputs("]", stdout);
	}
	fputs("}", stdout);
}

static int
gw_qlist_one(void *arg, const struct store_qentry *e)
{
	struct gw_qlist *l = arg;
	struct smtp_qmsg q;
	uint8_t *pt = NULL;
	size_t ptlen = 0;
	bool ok;

	memset(&q, 0, sizeof q);
	ok = store_queue_open(l->st, e->data, e->len, &pt, &ptlen) == 0 &&
	    smtp_qmsg_decode(pt, ptlen, &q) == 0;
	if (l->json)
		gw_qlist_json(e, &q, ok, l->n);
	else
		gw_qlist_text(e, &q, ok);
	l->n++;
	smtp_qmsg_clear(&q);
	if (pt != NULL) {
		sec_wipe(pt, ptlen);
		free(pt);
	}
	return 0;
}

static int
gw_queue_list(struct store *st, bool json)
{
	struct gw_qlist l = { .st = st, .json = json };
	struct store_txn *t;
	enum store_rc rc;

	if ((t = store_read_begin(st, &rc)) == NULL)
		return gw_admin_fail("queue list", rc);
	if (json)
		fputs("[", stdout);
	else
		printf("%-10s %-18s %8s %10s %-10s %s\n", "ID", "NEXT ATTEMPT", "ATTEMPTS", "SIZE",
		    "KIND", "ENVELOPE");
	rc = store_queue_list(t, INT64_MAX, gw_qlist_one, &l);
	store_read_end(&t);
	if (json)
		fputs(l.n > 0 ? "\n]\n" : "]\n", stdout);
	return rc == STORE_OK ? 0 : gw_admin_fail("queue list", rc);
}

/* ---- flush ---- */

struct gw_qids {
	uint64_t	*id;
	uint32_t	*attempts;
	size_t		 n, cap;
	size_t		 done;
};

static int
gw_qids_add(void *arg, const struct store_qentry *e)
{
	struct gw_qids *q = arg;

	if (q->n == q->cap) {
		q->cap = q->cap == 0 ? 64 : q->cap * 2;
		q->id = xreallocarray(q->id, q->cap, sizeof *q->id);
		q->attempts = xreallocarray(q->attempts, q->cap, sizeof *q->attempts);
	}
	q->id[q->n] = e->id;
	q->attempts[q->n++] = e->attempts;
	return 0;
}

/* An entry the runner delivered meanwhile is simply gone. */
static enum store_rc
gw_flush_op(struct store_txn *t, void *arg)
{
	struct gw_qids *q = arg;
	enum store_rc rc;
	size_t i;

	q->done = 0;
	for (i = 0; i < q->n; i++) {
		rc = store_queue_reschedule(t, q->id[i], store_txn_now(t), q->attempts[i]);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc != STORE_OK)
			return rc;
		q->done++;
	}
	return STORE_OK;
}

static int
gw_queue_flush(struct store *st, bool json)
{
	struct gw_qids q = { .id = NULL };
	struct store_txn *t;
	enum store_rc rc;

	if ((t = store_read_begin(st, &rc)) == NULL)
		return gw_admin_fail("queue flush", rc);
	rc = store_queue_list(t, INT64_MAX, gw_qids_add, &q);
	store_read_end(&t);
	if (rc == STORE_OK && q.n > 0)
		rc = store_write_wait(st, gw_flush_op, &q);
	free(q.id);
	free(q.attempts);
	if (rc != STORE_OK)
		return gw_admin_fail("queue flush", rc);
	if (json)
		printf("{\"flushed\": %zu}\n", q.done);
	else
		printf("%zu entr%s due now\n", q.done, q.done == 1 ? "y" : "ies");
	return 0;
}

/* ---- delete ---- */

static enum store_rc
gw_qdelete_op(struct store_txn *t, void *arg)
{
	return store_queue_delete(t, *(const uint64_t *)arg);
}

static int
gw_queue_delete(struct store *st, const char *arg, bool json)
{
	char *end = NULL;
	unsigned long long v;
	uint64_t id;
	enum store_rc rc;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || errno != 0 || *end != '\0') {
		fprintf(stderr, "sealgate: '%s' is not a queue id\n", arg);
		return GW_EXIT_USAGE;
	}
	id = (uint64_t)v;
	rc = store_write_wait(st, gw_qdelete_op, &id);
	if (rc == STORE_NOTFOUND) {
		fprintf(stderr, "sealgate: no queue entry %llu\n", v);
		return GW_EXIT_USAGE;
	}
	if (rc != STORE_OK)
		return gw_admin_fail("queue delete", rc);
	if (json)
		printf("{\"deleted\": %llu}\n", v);
	else
		printf("%llu deleted\n", v);
	return 0;
}

int
gw_cmd_queue(const struct conf *conf, int argc, char **argv)
{
	bool json = gw_admin_flag(&argc, argv, "--json");
	struct store *st;
	bool list, flush, del;
	int rc;

	list = argc == 2 && strcmp(argv[1], "list") == 0;
	flush = argc == 2 && strcmp(argv[1], "flush") == 0;
	del = argc == 3 && strcmp(argv[1], "delete") == 0;
	if ((!list && !flush && !del) || gw_admin_unknown_option(argc, argv)) {
		fputs(GW_QUEUE_USAGE, stderr);
		return GW_EXIT_USAGE;
	}
	if ((st = gw_admin_open(conf, !list)) == NULL)
		return GW_EXIT_STORE;
	rc = list ? gw_queue_list(st, json) : flush ? gw_queue_flush(st, json) :
	    gw_queue_delete(st, argv[2], json);
	store_close(&st);
	return rc;
}

/* ---- stats ---- */

static void
gw_stats_print(const struct store_stats *s, bool json)
{
	if (json) {
		printf("{\"accounts\": {\"invited\": %llu, \"active\": %llu, \"disabled\": %llu}, "
		    "\"messages\": %llu, \"blobs\": %llu, \"bytes\": %llu, \"queue\": %llu, "
		    "\"map_size\": %llu, \"map_used\": %llu}\n",
		    (unsigned long long)s->accounts[STORE_ACCT_INVITED],
		    (unsigned long long)s->accounts[STORE_ACCT_ACTIVE],
		    (unsigned long long)s->accounts[STORE_ACCT_DISABLED],
		    (unsigned long long)s->messages, (unsigned long long)s->blobs,
		    (unsigned long long)s->bytes, (unsigned long long)s->queue,
		    (unsigned long long)s->map_size, (unsigned long long)s->map_used);
		return;
	}
	printf("users invited:   %llu\nusers active:    %llu\nusers disabled:  %llu\n",
	    (unsigned long long)s->accounts[STORE_ACCT_INVITED],
	    (unsigned long long)s->accounts[STORE_ACCT_ACTIVE],
	    (unsigned long long)s->accounts[STORE_ACCT_DISABLED]);
	printf("messages:        %llu\nstored messages: %llu\nbytes:           %llu\n"
	    "queue depth:     %llu\nmap used:        %llu of %llu bytes\n",
	    (unsigned long long)s->messages, (unsigned long long)s->blobs,
	    (unsigned long long)s->bytes, (unsigned long long)s->queue,
	    (unsigned long long)s->map_used, (unsigned long long)s->map_size);
}

int
gw_cmd_stats(const struct conf *conf, int argc, char **argv)
{
	bool json = gw_admin_flag(&argc, argv, "--json");
	struct store_stats s;
	struct store_txn *t;
	struct store *st;
	enum store_rc rc;

	if (argc != 1 || gw_admin_unknown_option(argc, argv)) {
		fputs("usage: sealgate stats [--json]\n", stderr);
		return GW_EXIT_USAGE;
	}
	if ((st = gw_admin_open(conf, false)) == NULL)
		return GW_EXIT_STORE;
	if ((t = store_read_begin(st, &rc)) != NULL) {
		rc = store_stats(t, &s);
		store_read_end(&t);
	}
	store_close(&st);
	if (rc != STORE_OK)
		return gw_admin_fail("stats", rc);
	gw_stats_print(&s, json);
	return 0;
}
