/*
 * gw_admin_invite.c: `sealgate invite ADDRESS`. A new address gets an
 * account in state invited (key pair, token) and the invitation mail; an
 * invited one gets a new link for the same key, opened through the
 * recovery key, so the mail already sealed to it stays readable. The
 * account, the queued mail and the invitation time are written in one
 * transaction, and the mail is the one ingest sends: rendered by smtp/
 * from the same templates, queued in the same format, delivered by the
 * daemon's queue runner within a second.
 */
#include "gateway/gw_admin_private.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "smtp/smtp_mail.h"
#include "smtp/smtp_queue.h"

#define GW_INVITE_USAGE	"usage: sealgate invite ADDRESS [--json]\n"

void
gw_admin_invite_mail(const struct conf *conf, struct store *st, const char *address,
    const char *token, int64_t expiry, uint8_t **ct_out, size_t *ct_len_out)
{
	gchar *dir = conf->path != NULL ? g_path_get_dirname(conf->path) : NULL;
	gchar *tdir = dir != NULL ? g_build_filename(dir, "templates", NULL) : NULL;
	struct smtp_templates *tpl = smtp_templates_load(tdir);
	char *sender = xasprintf("postmaster@%s", conf->gateway.hostname);
	/* No person sent this one: the service signs it. */
	char *name = xasprintf("Secure mail (%s)", conf->gateway.hostname);
	struct smtp_mail_info mi = {
		.hostname = conf->gateway.hostname, .public_url = conf->portal.public_url,
		.sender = sender, .sender_name = name, .recipient = address, .token = token,
		.expiry = expiry, .now = sg_now(),
	};
	struct smtp_qrcpt qr = { .addr = (char *)address };
	struct smtp_qmsg q = {
		.kind = SMTP_QK_INVITE, .arrival = mi.now, .from = (char *)"",
		.rcpts = &qr, .nrcpts = 1,
	};
	struct sec_buf mail = { 0 }, pt = { 0 };

	smtp_mail_render(tpl, SMTP_MAIL_INVITE, &mi, &mail);
	q.msg = (const char *)mail.data;
	q.msg_len = mail.len;
	smtp_qmsg_encode(&q, &pt);
	store_queue_seal(st, pt.data, pt.len, ct_out, ct_len_out);
	sec_buf_wipe(&pt);
	sec_buf_wipe(&mail);
	smtp_templates_free(&tpl);
	free(name);
	free(sender);
	g_free(tdir);
	g_free(dir);
}

enum store_rc
gw_admin_queue_put(struct store_txn *t, const uint8_t *ct, size_t len, uint64_t account_id,
    uint64_t *id_out)
{
	int64_t now = store_txn_now(t);
	struct store_qentry e = { .next_attempt = now, .created = now, .data = ct, .len = len };
	enum store_rc rc;

	if ((rc = store_queue_put(t, &e)) != STORE_OK ||
	    (rc = store_account_mark_invited(t, account_id, now)) != STORE_OK)
		return rc;
	*id_out = e.id;
	return STORE_OK;
}

struct gw_invite_op {
	const struct store_invite	*inv;
	bool				 again;		/* an invited account's new link */
	const uint8_t			*ct;
	size_t				 len;
	struct store_account		 a;
	uint64_t			 qid;
};

static enum store_rc
gw_invite_op(struct store_txn *t, void *arg)
{
	struct gw_invite_op *o = arg;
	enum store_rc rc;

	if (o->again) {
		if ((rc = store_account_set_token(t, o->inv)) != STORE_OK ||
		    (rc = store_account_get(t, o->inv->address, &o->a)) != STORE_OK)
			return rc;
	} else if ((rc = store_account_create(t, o->inv, &o->a, NULL)) != STORE_OK)
		return rc;
	return gw_admin_queue_put(t, o->ct, o->len, o->a.id, &o->qid);
}

/* The invitation for address: a new account, or a new link for an invited
 * one. 0, or the exit status after printing why not. */
static int
gw_invite_prepare(const struct conf *conf, struct store *st, const char *address,
    struct gw_invite_op *o, struct store_invite **inv_out)
{
	struct store_account a;
	struct store_txn *t;
	enum store_rc rc;

	if ((t = store_read_begin(st, &rc)) == NULL)
		return gw_admin_fail(address, rc);
	rc = store_account_get(t, address, &a);
	store_read_end(&t);
	if (rc == STORE_NOTFOUND) {
		if ((*inv_out = store_invite_prepare(st, address, conf->policy.invite_ttl)) == NULL)
			return gw_admin_fail(address, STORE_INVALID);
		return 0;
	}
	if (rc != STORE_OK)
		return gw_admin_fail(address, rc);
	if (a.state != STORE_ACCT_INVITED) {
		fprintf(stderr, "sealgate: %s is %s: %s\n", a.address,
		    store_acct_state_str(a.state),
		    a.state == STORE_ACCT_ACTIVE ? "it has a password already; `sealgate user "
		    "reset` gives it a new link" : "`sealgate user enable` it first");
		return GW_EXIT_USAGE;
	}
	rc = store_reinvite_prepare(st, address, conf->policy.invite_ttl, NULL, inv_out);
	if (rc == STORE_DENIED) {
		fprintf(stderr, "sealgate: %s: the recovery key is not in the data directory, so a "
		    "new link cannot keep the key its mail is sealed to; `sealgate user reset "
		    "--recovery-key FILE` can\n", a.address);
		return GW_EXIT_USAGE;
	}
	if (rc != STORE_OK)
		return gw_admin_fail(address, rc);
	o->again = true;
	return 0;
}

static void
gw_invite_print(const struct conf *conf, const struct gw_invite_op *o, bool json)
{
	char *link = gw_admin_link(conf, o->inv->token);

	if (json) {
		fputs("{\"address\": ", stdout);
		gw_admin_json_str(stdout, o->a.address);
		printf(", \"state\": \"invited\", \"reissued\": %s, \"url\": ",
		    o->again ? "true" : "false");
		gw_admin_json_str(stdout, link);
		fputs(", \"expires\": ", stdout);
		gw_admin_json_time(stdout, o->inv->expiry);
		printf(", \"queued\": %llu}\n", (unsigned long long)o->qid);
	} else
		printf("%s invited%s; invitation queued\n%s\n", o->a.address,
		    o->again ? " again (same key, new link)" : "", link);
	sec_wipe(link, strlen(link));
	free(link);
}

/* An outside address: a local part, '@', and a domain that is not ours. */
static bool
gw_invite_address_ok(const struct conf *conf, const char *address)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at == address || at[1] == '\0' || strlen(address) > STORE_ADDR_MAX) {
		fprintf(stderr, "sealgate: '%s' is not an email address\n", address);
		return false;
	}
	if (conf_domain_match(&conf->policy.internal_domains, at + 1, strlen(at + 1))) {
		fprintf(stderr, "sealgate: %s is in an internal domain ([policy] "
		    "internal_domains): invitations are for outside recipients\n", address);
		return false;
	}
	return true;
}

int
gw_cmd_invite(const struct conf *conf, int argc, char **argv)
{
	bool json = gw_admin_flag(&argc, argv, "--json");
	struct gw_invite_op o = { .inv = NULL };
	struct store_invite *inv = NULL;
	struct store *st;
	uint8_t *ct = NULL;
	enum store_rc rc;
	int x;

	if (argc != 2 || gw_admin_unknown_option(argc, argv)) {
		fputs(GW_INVITE_USAGE, stderr);
		return GW_EXIT_USAGE;
	}
	if (!gw_invite_address_ok(conf, argv[1]))
		return GW_EXIT_USAGE;
	if ((st = gw_admin_open(conf, true)) == NULL)
		return GW_EXIT_STORE;
	if ((x = gw_invite_prepare(conf, st, argv[1], &o, &inv)) == 0) {
		o.inv = inv;
		gw_admin_invite_mail(conf, st, inv->address, inv->token, inv->expiry, &ct, &o.len);
		o.ct = ct;
		rc = store_write_wait(st, gw_invite_op, &o);
		if (rc == STORE_OK) {
			store_audit(st, o.again ? "reinvited" : "invited", inv->address, "",
			    "admin");
			gw_invite_print(conf, &o, json);
		} else if (rc == STORE_EXISTS) {
			fprintf(stderr, "sealgate: %s: invited meanwhile; run the command again\n",
			    argv[1]);
			x = GW_EXIT_USAGE;
		} else
			x = gw_admin_fail(argv[1], rc);
	}
	free(ct);
	store_invite_free(&inv);
	store_close(&st);
	return x;
}
