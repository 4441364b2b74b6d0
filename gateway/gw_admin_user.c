/*
 * gw_admin_user.c: `sealgate user list|show|disable|enable|reset|delete`.
 * A reset gives the account a new invitation token; with the recovery key
 * (left in data_dir, or given with --recovery-key FILE) it keeps its key
 * and its mail, and without one only --new-key, which empties the vault,
 * goes ahead: losing mail is never a default.
 */
#include "gateway/gw_admin_private.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"

#define GW_AUDIT_SHOWN	10	/* latest audit entries in `user show` */

static int
gw_user_usage(const char *verb)
{
	fprintf(stderr, "usage: sealgate user %s ADDRESS%s [--json]\n", verb,
	    strcmp(verb, "reset") == 0 ? " [--recovery-key FILE] [--new-key]" : "");
	return GW_EXIT_USAGE;
}

/* ---- list ---- */

struct gw_list {
	bool	json;
	size_t	n;
};

static int
gw_user_list_one(void *arg, const struct store_account *a)
{
	struct gw_list *l = arg;
	char c[32], e[32], ll[32];

	if (!l->json) {
		printf("%-40s %-9s %-18s %-18s %s\n", a->address, store_acct_state_str(a->state),
		    gw_admin_time(a->created, c, sizeof c), gw_admin_time(a->enrolled, e, sizeof e),
		    gw_admin_time(a->last_login, ll, sizeof ll));
		l->n++;
		return 0;
	}
	fputs(l->n++ > 0 ? ",\n  {\"address\": " : "\n  {\"address\": ", stdout);
	gw_admin_json_str(stdout, a->address);
	printf(", \"state\": \"%s\", \"created\": ", store_acct_state_str(a->state));
	gw_admin_json_time(stdout, a->created);
	fputs(", \"enrolled\": ", stdout);
	gw_admin_json_time(stdout, a->enrolled);
	fputs(", \"last_login\": ", stdout);
	gw_admin_json_time(stdout, a->last_login);
	fputs("}", stdout);
	return 0;
}

int
gw_admin_user_list(const struct conf *conf, struct store *st, int argc, char **argv, bool json)
{
	struct gw_list l = { .json = json };
	struct store_txn *t;
	enum store_rc rc;

	(void)conf;
	if (gw_admin_unknown_option(argc, argv))
		return GW_EXIT_USAGE;
	if ((t = store_read_begin(st, &rc)) == NULL)
		return gw_admin_fail("user list", rc);
	if (json)
		fputs("[", stdout);
	else
		printf("%-40s %-9s %-18s %-18s %s\n", "ADDRESS", "STATE", "CREATED", "ENROLLED",
		    "LAST LOGIN");
	rc = store_account_list(t, gw_user_list_one, &l);
	store_read_end(&t);
	if (json)
		fputs(l.n > 0 ? "\n]\n" : "]\n", stdout);
	return rc == STORE_OK ? 0 : gw_admin_fail("user list", rc);
}

/* ---- show ---- */

struct gw_show {
	bool			json;
	size_t			n;
	struct store_audit	audit[GW_AUDIT_SHOWN];
	size_t			naudit;		/* entries seen; the ring keeps the last */
};

static int
gw_user_show_mailbox(void *arg, const struct store_mailbox *m)
{
	struct gw_show *s = arg;

	if (!s->json) {
		printf("  %-30s %8u messages %6u unseen %12llu bytes\n", m->name, m->messages,
		    m->unseen, (unsigned long long)m->size);
		return 0;
	}
	fputs(s->n++ > 0 ? ", {\"name\": " : "{\"name\": ", stdout);
	gw_admin_json_str(stdout, m->name);
	printf(", \"messages\": %u, \"unseen\": %u, \"bytes\": %llu}", m->messages, m->unseen,
	    (unsigned long long)m->size);
	return 0;
}

static int
gw_user_show_audit_keep(void *arg, const struct store_audit *a)
{
	struct gw_show *s = arg;

	s->audit[s->naudit++ % GW_AUDIT_SHOWN] = *a;
	return 0;
}

static void
gw_user_show_audit(struct gw_show *s)
{
	size_t n = SG_MIN(s->naudit, (size_t)GW_AUDIT_SHOWN), i;
	char tb[32];

	for (i = 0; i < n; i++) {
		const struct store_audit *a = &s->audit[(s->naudit - n + i) % GW_AUDIT_SHOWN];

		if (!s->json) {
			printf("  %s %-16s %-15s %s\n", gw_admin_time(a->time, tb, sizeof tb),
			    a->event, a->ip[0] != '\0' ? a->ip : "-", a->detail);
			continue;
		}
		fputs(i > 0 ? ", {\"time\": " : "{\"time\": ", stdout);
		gw_admin_json_time(stdout, a->time);
		fputs(", \"event\": ", stdout);
		gw_admin_json_str(stdout, a->event);
		fputs(", \"ip\": ", stdout);
		gw_admin_json_str(stdout, a->ip);
		fputs(", \"detail\": ", stdout);
		gw_admin_json_str(stdout, a->detail);
		fputs("}", stdout);
	}
}

static void
gw_user_show_text(const struct store_account *a)
{
	char tb[32];

	printf("address:        %s\nstate:          %s\n", a->address,
	    store_acct_state_str(a->state));
	printf("created:        %s\n", gw_admin_time(a->created, tb, sizeof tb));
	printf("enrolled:       %s\n", gw_admin_time(a->enrolled, tb, sizeof tb));
	printf("invited:        %s\n", gw_admin_time(a->invited_at, tb, sizeof tb));
	printf("link expires:   %s\n", gw_admin_time(a->has_token ? a->token_expiry : 0, tb,
	    sizeof tb));
	printf("last login:     %s\n", gw_admin_time(a->last_login, tb, sizeof tb));
	printf("auth failures:  %u\n", a->auth_failures);
	printf("locked until:   %s\n", gw_admin_time(a->locked_until, tb, sizeof tb));
	printf("recovery wrap:  %s\n", a->has_recovery ? "yes" : "no");
}

static void
gw_user_show_json_head(const struct store_account *a)
{
	fputs("{\"address\": ", stdout);
	gw_admin_json_str(stdout, a->address);
	printf(", \"id\": %llu, \"state\": \"%s\", \"created\": ", (unsigned long long)a->id,
	    store_acct_state_str(a->state));
	gw_admin_json_time(stdout, a->created);
	fputs(", \"enrolled\": ", stdout);
	gw_admin_json_time(stdout, a->enrolled);
	fputs(", \"invited\": ", stdout);
	gw_admin_json_time(stdout, a->invited_at);
	fputs(", \"link_expires\": ", stdout);
	gw_admin_json_time(stdout, a->has_token ? a->token_expiry : 0);
	fputs(", \"last_login\": ", stdout);
	gw_admin_json_time(stdout, a->last_login);
	printf(", \"auth_failures\": %u, \"locked_until\": ", a->auth_failures);
	gw_admin_json_time(stdout, a->locked_until);
	printf(", \"has_password\": %s, \"has_recovery\": %s", a->has_password ? "true" : "false",
	    a->has_recovery ? "true" : "false");
}

int
gw_admin_user_show(const struct conf *conf, struct store *st, int argc, char **argv, bool json)
{
	struct gw_show *s;
	struct store_account a;
	struct store_txn *t;
	enum store_rc rc;

	(void)conf;
	if (gw_admin_unknown_option(argc, argv))
		return gw_user_usage("show");
	if ((t = store_read_begin(st, &rc)) == NULL)
		return gw_admin_fail(argv[2], rc);
	if ((rc = store_account_get(t, argv[2], &a)) != STORE_OK) {
		store_read_end(&t);
		return gw_admin_fail(argv[2], rc);
	}
	s = xcalloc(1, sizeof *s);
	s->json = json;
	if (json) {
		gw_user_show_json_head(&a);
		fputs(", \"mailboxes\": [", stdout);
	} else {
		gw_user_show_text(&a);
		printf("mailboxes:\n");
	}
	rc = store_mailbox_list(t, a.id, gw_user_show_mailbox, s);
	if (rc == STORE_OK)
		rc = store_audit_list(t, 0, a.address, gw_user_show_audit_keep, s);
	store_read_end(&t);
	fputs(json ? "], \"audit\": [" : "recent events:\n", stdout);
	gw_user_show_audit(s);
	if (json)
		fputs("]}\n", stdout);
	free(s);
	return rc == STORE_OK ? 0 : gw_admin_fail(argv[2], rc);
}

/* ---- state changes, delete ---- */

static void
gw_user_print_state(const char *address, const char *state, bool json)
{
	if (!json) {
		printf("%s %s\n", address, state);
		return;
	}
	fputs("{\"address\": ", stdout);
	gw_admin_json_str(stdout, address);
	printf(", \"state\": \"%s\"}\n", state);
}

static int
gw_user_state(struct store *st, int argc, char **argv, bool json, enum store_acct_state want)
{
	struct store_account a;
	struct store_txn *t;
	enum store_rc rc;

	if (gw_admin_unknown_option(argc, argv))
		return gw_user_usage(argv[1]);
	rc = store_account_set_state(st, argv[2], want);
	if (rc == STORE_INVALID) {
		fprintf(stderr, "sealgate: %s: an invited account becomes active only by "
		    "enrolling\n", argv[2]);
		return GW_EXIT_USAGE;
	}
	if (rc != STORE_OK)
		return gw_admin_fail(argv[2], rc);
	if ((t = store_read_begin(st, &rc)) == NULL)
		return gw_admin_fail(argv[2], rc);
	rc = store_account_get(t, argv[2], &a);
	store_read_end(&t);
	if (rc != STORE_OK)
		return gw_admin_fail(argv[2], rc);
	gw_user_print_state(a.address, store_acct_state_str(a.state), json);
	return 0;
}

int
gw_admin_user_disable(const struct conf *conf, struct store *st, int argc, char **argv,
    bool json)
{
	(void)conf;
	return gw_user_state(st, argc, argv, json, STORE_ACCT_DISABLED);
}

int
gw_admin_user_enable(const struct conf *conf, struct store *st, int argc, char **argv,
    bool json)
{
	(void)conf;
	return gw_user_state(st, argc, argv, json, STORE_ACCT_ACTIVE);
}

int
gw_admin_user_delete(const struct conf *conf, struct store *st, int argc, char **argv,
    bool json)
{
	enum store_rc rc;

	(void)conf;
	if (gw_admin_unknown_option(argc, argv))
		return gw_user_usage("delete");
	if ((rc = store_account_delete(st, argv[2])) != STORE_OK)
		return gw_admin_fail(argv[2], rc);
	store_audit(st, "account_deleted", argv[2], "", "admin");
	gw_user_print_state(argv[2], "deleted", json);
	return 0;
}

/* ---- reset ---- */

struct gw_queue_op {
	const uint8_t	*ct;
	size_t		 len;
	uint64_t	 account_id;
	uint64_t	 id;
};

static enum store_rc
gw_queue_op(struct store_txn *t, void *arg)
{
	struct gw_queue_op *o = arg;

	return gw_admin_queue_put(t, o->ct, o->len, o->account_id, &o->id);
}

/* After the reset: the invitation mail, and what to tell the admin. */
static int
gw_user_reset_report(const struct conf *conf, struct store *st, const char *address,
    const char *token, bool kept, bool json)
{
	struct gw_queue_op o = { .ct = NULL };
	struct store_account a;
	struct store_txn *t;
	enum store_rc rc;
	uint8_t *ct = NULL;
	char *link;

	if ((t = store_read_begin(st, &rc)) == NULL)
		return gw_admin_fail(address, rc);
	rc = store_account_get(t, address, &a);
	store_read_end(&t);
	if (rc != STORE_OK)
		return gw_admin_fail(address, rc);
	gw_admin_invite_mail(conf, st, a.address, token, a.token_expiry, &ct, &o.len);
	o.ct = ct;
	o.account_id = a.id;
	rc = store_write_wait(st, gw_queue_op, &o);
	free(ct);
	if (rc != STORE_OK)
		return gw_admin_fail(address, rc);
	store_audit(st, "account_reset", a.address, "", kept ? "admin kept_mail" :
	    "admin new_key");
	link = gw_admin_link(conf, token);
	if (json) {
		fputs("{\"address\": ", stdout);
		gw_admin_json_str(stdout, a.address);
		printf(", \"state\": \"invited\", \"kept_mail\": %s, \"url\": ",
		    kept ? "true" : "false");
		gw_admin_json_str(stdout, link);
		fputs(", \"expires\": ", stdout);
		gw_admin_json_time(stdout, a.token_expiry);
		printf(", \"queued\": %llu}\n", (unsigned long long)o.id);
	} else
		printf("%s invited again (%s); invitation queued\n%s\n", a.address,
		    kept ? "key and mail kept" : "new key, vault emptied", link);
	sec_wipe(link, strlen(link));
	free(link);
	return 0;
}

/* The recovery key to use: --recovery-key FILE, else the store's own;
 * without either only --new-key may go on. */
static int
gw_user_reset_key(struct store *st, const char *file, bool new_key, struct sec_sk **rk_out)
{
	char *err = NULL;

	*rk_out = NULL;
	if (file != NULL && new_key) {
		fprintf(stderr, "sealgate: --recovery-key and --new-key exclude each other\n");
		return GW_EXIT_USAGE;
	}
	if (file != NULL && (*rk_out = sec_recovery_load(file, &err)) == NULL) {
		fprintf(stderr, "sealgate: %s\n", err);
		free(err);
		return GW_EXIT_USAGE;
	}
	if (file == NULL && !new_key && !store_has_recovery_key(st)) {
		fprintf(stderr, "sealgate: the recovery key is not in the data directory: give it "
		    "with --recovery-key FILE to keep the mail, or pass --new-key to start an "
		    "empty vault (the mail stored so far becomes unreadable)\n");
		return GW_EXIT_USAGE;
	}
	return 0;
}

int
gw_admin_user_reset(const struct conf *conf, struct store *st, int argc, char **argv, bool json)
{
	const char *file = NULL;
	bool new_key = gw_admin_flag(&argc, argv, "--new-key");
	char token[STORE_TOKEN_TEXT_LEN + 1];
	struct sec_sk *rk = NULL;
	bool kept = false;
	enum store_rc rc;
	int x;

	if (gw_admin_option(&argc, argv, "--recovery-key", &file) < 0 || argc != 3 ||
	    gw_admin_unknown_option(argc, argv))
		return gw_user_usage("reset");
	if ((x = gw_user_reset_key(st, file, new_key, &rk)) != 0)
		return x;
	rc = store_account_reset(st, argv[2], conf->policy.invite_ttl, rk, new_key, token, &kept);
	sec_sk_unref(&rk);
	if (rc == STORE_DENIED) {
		fprintf(stderr, "sealgate: %s: the recovery key does not open this account's key "
		    "(another recovery key?); nothing was changed\n", argv[2]);
		return GW_EXIT_USAGE;
	}
	if (rc != STORE_OK)
		return gw_admin_fail(argv[2], rc);
	x = gw_user_reset_report(conf, st, argv[2], token, kept, json);
	sec_wipe(token, sizeof token);
	return x;
}
