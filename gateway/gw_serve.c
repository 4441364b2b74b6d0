/*
 * gw_serve.c: `sealgate serve`, the daemon's lifecycle. Startup binds every
 * listener before announcing readiness; SIGTERM/SIGINT close the listeners
 * at once, let sessions say goodbye, and end the loop when the last
 * connection is gone or after GW_STOP_GRACE seconds, whichever is first.
 *
 * Started as root, serve binds, loads its keys and then becomes [gateway]
 * user for good (gw_privs.c) before it answers anyone.
 */
#include "gateway/gw_cmd.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "crypto/sec.h"
#include "gateway/gw.h"
#include "gateway/gw_auth.h"
#include "gateway/gw_conn.h"
#include "gateway/gw_init.h"
#include "gateway/gw_listen.h"
#include "gateway/gw_log.h"
#include "gateway/gw_privs.h"
#include "gateway/gw_sweep.h"
#include "gateway/gw_tls.h"
#include "gateway/gw_worker.h"
#include "gateway/portal.h"
#include "imap/imap.h"
#include "smtp/smtp.h"
#include "store/store.h"

#define GW_STOP_GRACE		4	/* seconds; the process must exit within 5 */
#define GW_STOP_POLL_MS		20
#define GW_HOUSEKEEPING_SECS	10
#define GW_LOGIN_CACHE_IDLE	600	/* seconds a cached key outlives its last use */

struct gw_serve {
	struct gw_ctx	 ctx;
	struct event	*ev_term, *ev_int, *ev_hup, *ev_poll, *ev_house;
	struct gw_sweep	*sweep;
	struct gw_privs	 privs;
	int		 lock_fd;
	uint64_t	 stop_deadline_ms;
};

/*
 * Test-only: SEALGATE_TEST_CLOCK_OFFSET=[-]DURATION ("400d", "-2h") shifts
 * the daemon's wall clock (sg_now) so that retention and expiry can be
 * tested without waiting. Read once at start, only when set; logged as a
 * warning. Not a configuration key, so no deployment can set it by accident
 * in sealgate.conf.
 */
#define GW_TEST_CLOCK_ENV	"SEALGATE_TEST_CLOCK_OFFSET"

static int
gw_serve_test_clock(void)
{
	const char *v = getenv(GW_TEST_CLOCK_ENV), *err = NULL;
	int64_t secs;
	bool neg;

	if (v == NULL || v[0] == '\0')
		return 0;
	neg = v[0] == '-';
	if (conf_parse_duration(neg || v[0] == '+' ? v + 1 : v, &secs, &err) != 0) {
		log_error("core", "event=test_clock error=\"%s: %s\"", GW_TEST_CLOCK_ENV, err);
		return -1;
	}
	sg_now_shift(neg ? -secs : secs);
	log_warn("core", "event=test_clock offset=%s%lld", neg ? "-" : "", (long long)secs);
	return 0;
}

static void
gw_stop_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_serve *sv = arg;
	struct timeval tv = { 0, GW_STOP_POLL_MS * 1000 };

	(void)fd;
	(void)what;
	if (sv->ctx.nconns == 0 || sg_mono_ms() >= sv->stop_deadline_ms) {
		if (sv->ctx.nconns > 0)
			log_warn("core", "event=stop_forced open_connections=%u", sv->ctx.nconns);
		event_base_loopexit(sv->ctx.base, NULL);
		return;
	}
	evtimer_add(sv->ev_poll, &tv);
}

void
gw_stop(struct gw_ctx *ctx)
{
	struct gw_serve *sv = (struct gw_serve *)ctx;	/* ctx is the first member */
	struct timeval now = { 0, 0 };

	if (ctx->stopping)
		return;
	ctx->stopping = true;
	sd_notify(0, "STOPPING=1");
	gw_sweep_stop(sv->sweep);
	log_info("core", "event=stopping connections=%u", ctx->nconns);
	gw_listen_close_all(ctx);
	portal_free(&ctx->portal);
	gw_conn_shutdown_all(ctx);
	sv->stop_deadline_ms = sg_mono_ms() + GW_STOP_GRACE * 1000;
	evtimer_add(sv->ev_poll, &now);
}

/* SIGHUP: a new certificate for new connections; a bad one keeps the old. */
static void
gw_reload(struct gw_serve *sv)
{
	char *err = NULL;
	int rc;

	sd_notify(0, "RELOADING=1");
	rc = gw_tls_reload(sv->ctx.tls, &err);
	if (rc == 0)
		log_info("core", "event=reload tls=ok");
	else
		log_error("core", "event=reload tls=failed error=\"%s\"", err ? err : "?");
	free(err);
	sd_notify(0, "READY=1");
}

static void
gw_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct gw_serve *sv = arg;

	(void)what;
	if (sig == SIGHUP)
		gw_reload(sv);
	else
		gw_stop(&sv->ctx);
}

static int
gw_listen_proto(struct gw_ctx *ctx, const struct conf_addr_list *l, enum gw_proto proto,
    bool tls, bool proxy, gw_proto_start_fn *start)
{
	size_t i;
	char *err = NULL;

	for (i = 0; i < l->n; i++) {
		if (gw_listen_add(ctx, &l->v[i], proto, tls, proxy, start, &err) != 0) {
			log_error("core", "event=listen_failed error=\"%s\"", err);
			free(err);
			return -1;
		}
	}
	return 0;
}

static int
gw_listen_all(struct gw_ctx *ctx)
{
	const struct conf *c = ctx->conf;
	char *err = NULL;

	if (gw_listen_proto(ctx, &c->smtp.listen, GW_PROTO_SMTP, false, c->smtp.proxy_protocol,
	    smtp_start_inbound) != 0 ||
	    gw_listen_proto(ctx, &c->submission.listen, GW_PROTO_SUBMISSION, false,
	    c->submission.proxy_protocol, smtp_start_submission) != 0 ||
	    gw_listen_proto(ctx, &c->submission.listen_tls, GW_PROTO_SUBMISSION, true,
	    c->submission.proxy_protocol, smtp_start_submission) != 0 ||
	    gw_listen_proto(ctx, &c->imap.listen, GW_PROTO_IMAP, false, c->imap.proxy_protocol,
	    imap_start) != 0 ||
	    gw_listen_proto(ctx, &c->imap.listen_tls, GW_PROTO_IMAP, true,
	    c->imap.proxy_protocol, imap_start) != 0)
		return -1;
	if (c->portal.listen.n > 0 && (ctx->portal = portal_new(ctx, &err)) == NULL) {
		log_error("core", "event=listen_failed error=\"%s\"", err);
		free(err);
		return -1;
	}
	return 0;
}

static int
gw_serve_open(struct gw_serve *sv, const struct conf *conf)
{
	struct gw_ctx *ctx = &sv->ctx;
	char *err = NULL;

	ctx->conf = conf;
	if ((ctx->base = event_base_new()) == NULL)
		fatal("event=event_base_new error=failed");
	if ((ctx->tls = gw_tls_new(conf, &err)) == NULL) {
		log_error("core", "event=tls_failed error=\"%s\" hint=\"run sealgate init\"", err);
		free(err);
		return -1;
	}
	ctx->loopq = gw_loopq_new(ctx->base);
	if (gw_vault_attach(ctx, &err) != 0) {
		log_error("core", "event=store_failed error=\"%s\" hint=\"run sealgate init\"", err);
		free(err);
		return -1;
	}
	ctx->workers = gw_workers_new(ctx->loopq, conf->gateway.workers);
	ctx->login_cache = sec_cache_new(GW_LOGIN_CACHE_IDLE);
	ctx->limits = gw_limits_new(conf);
	ctx->smtp = smtp_server_new(ctx);
	ctx->imap = imap_server_new(ctx);
	return gw_listen_all(ctx);
}

static void
gw_serve_close(struct gw_serve *sv)
{
	struct gw_ctx *ctx = &sv->ctx;

	gw_listen_close_all(ctx);
	portal_free(&ctx->portal);
	gw_conn_abort_all(ctx);
	gw_workers_free(&ctx->workers);
	/* Completions of jobs and writes still in flight free their sessions. */
	if (ctx->loopq != NULL)
		gw_loopq_drain(ctx->loopq);
	store_close(&ctx->store);
	if (ctx->loopq != NULL)
		gw_loopq_drain(ctx->loopq);
	gw_sweep_free(&sv->sweep);
	imap_server_free(&ctx->imap);
	smtp_server_free(&ctx->smtp);
	sec_cache_free(&ctx->login_cache);
	sec_seal_wipe();
	gw_limits_free(&ctx->limits);
	gw_loopq_free(&ctx->loopq);
	gw_tls_free(&ctx->tls);
	if (sv->ev_poll != NULL)
		event_free(sv->ev_poll);
	if (sv->ev_house != NULL)
		event_free(sv->ev_house);
	if (sv->ev_term != NULL) {
		event_free(sv->ev_term);
		event_free(sv->ev_int);
		event_free(sv->ev_hup);
	}
	if (ctx->base != NULL)
		event_base_free(ctx->base);
	if (sv->lock_fd >= 0)
		close(sv->lock_fd);
}

static void
gw_housekeeping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_serve *sv = arg;
	struct timeval tv = { GW_HOUSEKEEPING_SECS, 0 };

	(void)fd;
	(void)what;
	sec_cache_expire(sv->ctx.login_cache, sg_now());
	(void)sec_seal_expire();
	if (sv->ctx.imap != NULL)
		imap_server_check_accounts(sv->ctx.imap);
	evtimer_add(sv->ev_house, &tv);
}

static void
gw_serve_signals(struct gw_serve *sv)
{
	struct timeval tv = { GW_HOUSEKEEPING_SECS, 0 };

	struct event_base *b = sv->ctx.base;

	signal(SIGPIPE, SIG_IGN);
	sv->ev_term = evsignal_new(b, SIGTERM, gw_signal_cb, sv);
	sv->ev_int = evsignal_new(b, SIGINT, gw_signal_cb, sv);
	sv->ev_hup = evsignal_new(b, SIGHUP, gw_signal_cb, sv);
	sv->ev_poll = evtimer_new(b, gw_stop_poll_cb, sv);
	sv->ev_house = evtimer_new(b, gw_housekeeping_cb, sv);
	if (sv->ev_house == NULL || evtimer_add(sv->ev_house, &tv) != 0)
		fatal("event=timer error=failed");
	if (sv->ev_term == NULL || sv->ev_int == NULL || sv->ev_hup == NULL ||
	    sv->ev_poll == NULL || evsignal_add(sv->ev_term, NULL) != 0 ||
	    evsignal_add(sv->ev_int, NULL) != 0 || evsignal_add(sv->ev_hup, NULL) != 0)
		fatal("event=signals error=failed");
}

/* Before the loop: become the service user, then start the sweeper. */
static int
gw_serve_settle(struct gw_serve *sv)
{
	char *err = NULL;

	if (gw_privs_drop(&sv->privs, &err) != 0) {
		log_error("core", "event=privileges error=\"%s\"", err);
		free(err);
		return -1;
	}
	sv->sweep = gw_sweep_new(&sv->ctx);
	return 0;
}

int
gw_cmd_serve(const struct conf *conf, int argc, char **argv)
{
	struct gw_serve *sv;
	char *err = NULL;
	int rc = 0;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: sealgate serve [-c FILE]\n");
		return GW_EXIT_USAGE;
	}
	if (gw_serve_test_clock() != 0)
		return GW_EXIT_USAGE;
	if (evthread_use_pthreads() != 0)
		fatal("event=evthread error=failed");
	sv = xcalloc(1, sizeof *sv);
	sv->lock_fd = -1;
	if (gw_privs_prepare(conf, &sv->privs, &err) != 0 ||
	    (sv->lock_fd = gw_privs_lock_take(conf, &sv->privs, &err)) < 0) {
		log_error("core", "event=start_refused error=\"%s\"", err);
		free(err);
		free(sv);
		return GW_EXIT_USAGE;
	}
	if (gw_serve_open(sv, conf) == 0 && gw_serve_settle(sv) == 0) {
		gw_serve_signals(sv);
		log_info("core", "event=ready version=%s hostname=%s", SG_VERSION,
		    conf->gateway.hostname);
		sd_notify(0, "READY=1\nSTATUS=serving");
		if (event_base_dispatch(sv->ctx.base) < 0)
			rc = 1;
		log_info("core", "event=stopped");
	} else
		rc = 1;
	gw_serve_close(sv);
	free(sv);
	return rc;
}
