/*
 * gw_vault.c: opening the vault (store and key files) for the daemon and
 * the admin commands, creating it for init, and carrying the store's
 * commit notifications to the loop (IDLE sessions, key drops, metrics).
 */
#include "gateway/gw_init.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/sec.h"
#include "gateway/gw.h"
#include "gateway/gw_log.h"
#include "gateway/gw_worker.h"
#include "imap/imap.h"
#include "store/store.h"

int
gw_init_vault(const struct conf *conf, char **err_out)
{
	return store_init(conf->gateway.data_dir, err_out);
}

struct store *
gw_vault_open(const struct conf *conf, bool read_only, char **err_out)
{
	struct store_opts o = { .data_dir = conf->gateway.data_dir, .read_only = read_only };

	return store_open(&o, err_out);
}

struct gw_changes {
	struct gw_ctx	*ctx;
	uint64_t	*mailboxes, *accounts;
	size_t		 nmailboxes, naccounts;
};

static void
gw_post(void *ctx, store_task_fn *fn, void *arg)
{
	gw_loopq_post(((struct gw_ctx *)ctx)->loopq, fn, arg);
}

/* Loop: forget cached keys of accounts whose credentials changed. */
static void
gw_changes_forget(struct gw_ctx *ctx, const uint64_t *ids, size_t n)
{
	struct store_txn *t;
	struct store_account a;
	enum store_rc rc;
	size_t i;

	if ((t = store_read_begin(ctx->store, &rc)) == NULL)
		return;
	for (i = 0; i < n; i++)
		if (store_account_get_id(t, ids[i], &a) == STORE_OK)
			sec_cache_forget(ctx->login_cache, a.address);
	store_read_end(&t);
}

static void
gw_changes_run(void *arg)
{
	struct gw_changes *ch = arg;
	struct gw_ctx *ctx = ch->ctx;

	if (ctx->imap != NULL && ch->nmailboxes > 0)
		imap_server_notify(ctx->imap, ch->mailboxes, ch->nmailboxes);
	if (ch->naccounts > 0) {
		gw_changes_forget(ctx, ch->accounts, ch->naccounts);
		if (ctx->imap != NULL)
			imap_server_drop_keys(ctx->imap, ch->accounts, ch->naccounts);
	}
	free(ch->mailboxes);
	free(ch->accounts);
	free(ch);
}

/* Writer thread: copy, and hand to the loop. */
static void
gw_changes_hook(void *arg, const struct store_changes *c)
{
	struct gw_ctx *ctx = arg;
	struct gw_changes *ch;

	gw_metrics_commit(&ctx->metrics, c->commit_us);
	if (c->nmailboxes == 0 && c->naccounts == 0)
		return;
	ch = xcalloc(1, sizeof *ch);
	ch->ctx = ctx;
	ch->nmailboxes = c->nmailboxes;
	ch->naccounts = c->naccounts;
	ch->mailboxes = xcalloc(c->nmailboxes + 1, sizeof *ch->mailboxes);
	ch->accounts = xcalloc(c->naccounts + 1, sizeof *ch->accounts);
	if (c->nmailboxes > 0)
		memcpy(ch->mailboxes, c->mailboxes, c->nmailboxes * sizeof *c->mailboxes);
	if (c->naccounts > 0)
		memcpy(ch->accounts, c->accounts, c->naccounts * sizeof *c->accounts);
	gw_loopq_post(ctx->loopq, gw_changes_run, ch);
}

int
gw_vault_attach(struct gw_ctx *ctx, char **err_out)
{
	ctx->store = gw_vault_open(ctx->conf, false, err_out);
	if (ctx->store == NULL)
		return -1;
	store_set_poster(ctx->store, gw_post, ctx);
	store_set_change_hook(ctx->store, gw_changes_hook, ctx);
	return 0;
}
