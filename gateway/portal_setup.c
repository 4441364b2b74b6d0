/*
 * portal_setup.c: how a mail app reaches this deployment. The setup page
 * (where enrollment leads), Thunderbird's autoconfig file (Mozilla's
 * clientConfig 1.1 format) at both of its paths, and an Apple
 * configuration profile (com.apple.mail.managed). Everything comes from
 * the listen addresses and [gateway] hostname; nothing here is secret.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/portal_private.h"
#include "store/store.h"

#define PORTAL_UUID_LEN		36

static unsigned
portal_port_of(const struct conf_addr_list *l)
{
	const struct sockaddr_storage *ss;

	if (l->n == 0)
		return 0;
	ss = &l->v[0].ss;
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return 0;
}

void
portal_endpoints_get(const struct conf *conf, struct portal_endpoints *out)
{
	out->host = conf->gateway.hostname;
	out->imaps = portal_port_of(&conf->imap.listen_tls);
	out->imap = portal_port_of(&conf->imap.listen);
	out->smtps = portal_port_of(&conf->submission.listen_tls);
	out->submission = portal_port_of(&conf->submission.listen);
}

/* Something that looks like an address, safe in XML: one '@' inside, no
 * space, control character or markup character. NULL otherwise. */
static const char *
portal_address_ok(const char *a)
{
	size_t n = a != NULL ? strlen(a) : 0;
	const char *at = a != NULL ? strchr(a, '@') : NULL;
	size_t i;

	if (n == 0 || n > STORE_ADDR_MAX || at == NULL || at == a || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || !g_utf8_validate(a, (gssize)n, NULL))
		return NULL;
	for (i = 0; i < n; i++)
		if ((unsigned char)a[i] <= ' ' || a[i] == 0x7f || strchr("<>\"'&\\", a[i]) != NULL)
			return NULL;
	return a;
}

/* ---- pages ---- */

void
portal_index(struct portal *p, struct evhttp_request *req)
{
	const struct conf *conf = p->ctx->conf;
	struct evbuffer *b = evbuffer_new();

	portal_html_begin(b, conf, "Secure mail");
	evbuffer_add_printf(b, "<div class=\"card\">\n<h1>Secure mail</h1>\n"
	    "<p>This service keeps the confidential mail sent to you encrypted. You read and "
	    "answer it with the mail app you already use.</p>\n"
	    "<p>New here? Open the invitation link from the email that told you about your "
	    "first secure message.</p>\n"
	    "<a class=\"button\" href=\"/setup\">Set up your mail app</a>\n"
	    "<a class=\"button alt\" href=\"/account/password\">Change your password</a>\n"
	    "</div>\n");
	portal_html_end(b, conf);
	portal_reply_html(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
portal_setup_row(struct evbuffer *b, const char *th, const char *td_html)
{
	evbuffer_add_printf(b, "<tr><th scope=\"row\">%s</th><td>%s</td></tr>\n", th, td_html);
}

/* One server's table: the implicit-TLS port first, STARTTLS as the other
 * choice, whichever listeners this deployment runs. */
static void
portal_setup_server(struct evbuffer *b, const char *title, const char *host, unsigned tls_port,
    unsigned starttls_port, const char *address)
{
	char cell[128];

	evbuffer_add_printf(b, "<h2>%s</h2>\n<table>\n", title);
	evbuffer_add_printf(b, "<tr><th scope=\"row\">Server</th><td><code>");
	portal_html_text(b, host);
	evbuffer_add_printf(b, "</code></td></tr>\n");
	if (tls_port != 0) {
		snprintf(cell, sizeof cell, "<code>%u</code>", tls_port);
		portal_setup_row(b, "Port", cell);
		portal_setup_row(b, "Security", "SSL/TLS");
	}
	if (starttls_port != 0) {
		snprintf(cell, sizeof cell, "<code>%u</code> with STARTTLS", starttls_port);
		portal_setup_row(b, tls_port != 0 ? "Or" : "Port", cell);
	}
	evbuffer_add_printf(b, "<tr><th scope=\"row\">User name</th><td>");
	if (address != NULL) {
		evbuffer_add_printf(b, "<code>");
		portal_html_text(b, address);
		evbuffer_add_printf(b, "</code>");
	} else
		evbuffer_add_printf(b, "your full email address");
	evbuffer_add_printf(b, "</td></tr>\n");
	portal_setup_row(b, "Password", "the password you created here");
	portal_setup_row(b, "Authentication", "Normal password");
	evbuffer_add_printf(b, "</table>\n");
}

static void
portal_setup_quick(struct evbuffer *b, const char *address)
{
	char *enc = address != NULL ? portal_url_encode(address) : NULL;

	evbuffer_add_printf(b, "<div class=\"card\">\n<h2 style=\"margin-top:0\">"
	    "Quick setup</h2>\n<p><strong>iPhone, iPad and Mac (Apple Mail):</strong> install "
	    "the profile, then type your password when you are asked.</p>\n");
	if (enc != NULL)
		evbuffer_add_printf(b, "<a class=\"button\" href=\"/setup/apple.mobileconfig?"
		    "address=%s\">Download the Apple Mail profile</a>\n", enc);
	else
		evbuffer_add_printf(b, "<form method=\"get\" action=\"/setup/apple.mobileconfig\">"
		    "\n<label for=\"address\">Your email address</label>\n<input id=\"address\" "
		    "name=\"address\" type=\"email\" autocomplete=\"username\" required>\n"
		    "<button type=\"submit\">Download the Apple Mail profile</button>\n</form>\n");
	evbuffer_add_printf(b, "<p style=\"margin-top:1.4rem\"><strong>Thunderbird:</strong> "
	    "add a mail account with your email address and password, choose <em>Configure "
	    "manually</em> and enter the settings above, or point it to the "
	    "<a href=\"/.well-known/autoconfig/mail/config-v1.1.xml%s%s\">automatic "
	    "configuration file</a>.</p>\n<p><strong>Other apps</strong> (Outlook, Android, "
	    "…): add an IMAP account with the settings above.</p>\n</div>\n",
	    enc != NULL ? "?emailaddress=" : "", enc != NULL ? enc : "");
	free(enc);
}

void
portal_setup(struct portal *p, struct evhttp_request *req)
{
	const struct conf *conf = p->ctx->conf;
	char *param = portal_query_param(req, "address"), *enrolled;
	const char *address = portal_address_ok(param);
	struct portal_endpoints ep;
	struct evbuffer *b = evbuffer_new();

	enrolled = portal_query_param(req, "enrolled");
	portal_endpoints_get(conf, &ep);
	portal_html_begin(b, conf, "Set up your mail app");
	evbuffer_add_printf(b, "<div class=\"card\">\n<h1>%s</h1>\n", enrolled != NULL &&
	    address != NULL ? "You are all set" : "Set up your mail app");
	if (enrolled != NULL && address != NULL) {
		evbuffer_add_printf(b, "<div class=\"notice ok\" role=\"status\">Your password is "
		    "set. The secure mailbox of <strong>");
		portal_html_text(b, address);
		evbuffer_add_printf(b, "</strong> is ready.</div>\n");
	}
	evbuffer_add_printf(b, "<p>Add an account to the mail app you already use, with these "
	    "settings. Your secure mail then appears there like any other mail, and your "
	    "answers go out securely.</p>\n");
	portal_setup_server(b, "Incoming mail (IMAP)", ep.host, ep.imaps, ep.imap, address);
	portal_setup_server(b, "Outgoing mail (SMTP)", ep.host, ep.smtps, ep.submission,
	    address);
	evbuffer_add_printf(b, "</div>\n");
	portal_setup_quick(b, address);
	portal_html_end(b, conf);
	portal_reply_html(req, 200, "OK", b);
	evbuffer_free(b);
	free(param);
	free(enrolled);
}

/* ---- Thunderbird ---- */

static void
portal_autoconfig_server(struct evbuffer *b, const char *kind, const char *type,
    const char *host, unsigned port, const char *socket_type)
{
	if (port == 0)
		return;
	evbuffer_add_printf(b, "    <%s type=\"%s\">\n      <hostname>", kind, type);
	portal_html_text(b, host);
	evbuffer_add_printf(b, "</hostname>\n      <port>%u</port>\n"
	    "      <socketType>%s</socketType>\n      <username>%%EMAILADDRESS%%</username>\n"
	    "      <authentication>password-cleartext</authentication>\n    </%s>\n",
	    port, socket_type, kind);
}

/* Mozilla's clientConfig 1.1; Thunderbird asks with ?emailaddress=. */
void
portal_autoconfig(struct portal *p, struct evhttp_request *req)
{
	const struct conf *conf = p->ctx->conf;
	char *param = portal_query_param(req, "emailaddress");
	const char *address = portal_address_ok(param);
	struct portal_endpoints ep;
	struct evbuffer *b = evbuffer_new();

	portal_endpoints_get(conf, &ep);
	evbuffer_add_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<clientConfig version=\"1.1\">\n  <emailProvider id=\"");
	portal_html_text(b, ep.host);
	evbuffer_add_printf(b, "\">\n    <domain>");
	portal_html_text(b, address != NULL ? strchr(address, '@') + 1 : ep.host);
	evbuffer_add_printf(b, "</domain>\n    <displayName>Secure mail (");
	portal_html_text(b, ep.host);
	evbuffer_add_printf(b, ")</displayName>\n    <displayShortName>Secure mail"
	    "</displayShortName>\n");
	portal_autoconfig_server(b, "incomingServer", "imap", ep.host, ep.imaps, "SSL");
	portal_autoconfig_server(b, "incomingServer", "imap", ep.host, ep.imap, "STARTTLS");
	portal_autoconfig_server(b, "outgoingServer", "smtp", ep.host, ep.smtps, "SSL");
	portal_autoconfig_server(b, "outgoingServer", "smtp", ep.host, ep.submission,
	    "STARTTLS");
	evbuffer_add_printf(b, "  </emailProvider>\n</clientConfig>\n");
	portal_reply(req, 200, "OK", "application/xml; charset=utf-8", b);
	evbuffer_free(b);
	free(param);
}

/* ---- Apple ---- */

/* A stable UUID for (host, address, what): installing the profile again
 * replaces the account instead of adding a second one. */
static void
portal_uuid(const char *host, const char *address, const char *what,
    char out[PORTAL_UUID_LEN + 1])
{
	char *seed = g_strdup_printf("sealgate\n%s\n%s\n%s", host, address, what);
	guint8 d[32];
	gsize dlen = sizeof d;
	GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);

	g_checksum_update(c, (const guchar *)seed, (gssize)strlen(seed));
	g_checksum_get_digest(c, d, &dlen);
	g_checksum_free(c);
	g_free(seed);
	d[6] = (guint8)((d[6] & 0x0f) | 0x50);	/* RFC 4122 4.3: name-based, version 5 style */
	d[8] = (guint8)((d[8] & 0x3f) | 0x80);
	snprintf(out, PORTAL_UUID_LEN + 1,
	    "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
	    d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12],
	    d[13], d[14], d[15]);
}

static void
portal_plist_string(struct evbuffer *b, const char *key, const char *value)
{
	evbuffer_add_printf(b, "\t<key>%s</key>\n\t<string>", key);
	portal_html_text(b, value);
	evbuffer_add_printf(b, "</string>\n");
}

static void
portal_plist_int(struct evbuffer *b, const char *key, unsigned value)
{
	evbuffer_add_printf(b, "\t<key>%s</key>\n\t<integer>%u</integer>\n", key, value);
}

static void
portal_plist_bool(struct evbuffer *b, const char *key, bool value)
{
	evbuffer_add_printf(b, "\t<key>%s</key>\n\t<%s/>\n", key, value ? "true" : "false");
}

/* Reverse-DNS of the host, for PayloadIdentifier ("org.example.mail"). */
static char *
portal_reverse_host(const char *host)
{
	gchar **labels = g_strsplit(host, ".", -1);
	guint n = g_strv_length(labels), i;
	GString *g = g_string_new(NULL);
	char *out;

	for (i = n; i > 0; i--)
		g_string_append_printf(g, "%s%s", g->len > 0 ? "." : "", labels[i - 1]);
	g_strfreev(labels);
	out = xstrdup(g->str);
	g_string_free(g, TRUE);
	return out;
}

/* The mail payload; the password is left out so that the device asks. */
static void
portal_mobileconfig_mail(struct evbuffer *b, const struct portal_endpoints *ep,
    const char *address, const char *ident)
{
	char uuid[PORTAL_UUID_LEN + 1], *desc = g_strdup_printf("Secure mail (%s)", ep->host);
	char *id = g_strdup_printf("%s.mail", ident);

	portal_uuid(ep->host, address, "mail", uuid);
	evbuffer_add_printf(b, "\t<array>\n\t<dict>\n");
	portal_plist_string(b, "EmailAccountDescription", desc);
	portal_plist_string(b, "EmailAccountType", "EmailTypeIMAP");
	portal_plist_string(b, "EmailAddress", address);
	portal_plist_string(b, "IncomingMailServerAuthentication", "EmailAuthPassword");
	portal_plist_string(b, "IncomingMailServerHostName", ep->host);
	portal_plist_int(b, "IncomingMailServerPortNumber", ep->imaps != 0 ? ep->imaps : ep->imap);
	portal_plist_bool(b, "IncomingMailServerUseSSL", true);
	portal_plist_string(b, "IncomingMailServerUsername", address);
	portal_plist_string(b, "OutgoingMailServerAuthentication", "EmailAuthPassword");
	portal_plist_string(b, "OutgoingMailServerHostName", ep->host);
	portal_plist_int(b, "OutgoingMailServerPortNumber",
	    ep->smtps != 0 ? ep->smtps : ep->submission);
	portal_plist_bool(b, "OutgoingMailServerUseSSL", true);
	portal_plist_string(b, "OutgoingMailServerUsername", address);
	portal_plist_bool(b, "OutgoingPasswordSameAsIncomingPassword", true);
	portal_plist_string(b, "PayloadDescription", "Incoming and outgoing mail settings");
	portal_plist_string(b, "PayloadDisplayName", desc);
	portal_plist_string(b, "PayloadIdentifier", id);
	portal_plist_string(b, "PayloadType", "com.apple.mail.managed");
	portal_plist_string(b, "PayloadUUID", uuid);
	portal_plist_int(b, "PayloadVersion", 1);
	portal_plist_bool(b, "PreventAppSheet", false);
	portal_plist_bool(b, "PreventMove", false);
	portal_plist_bool(b, "SMIMEEnabled", false);
	evbuffer_add_printf(b, "\t</dict>\n\t</array>\n");
	g_free(desc);
	g_free(id);
}

static void
portal_mobileconfig_profile(struct evbuffer *b, const struct portal_endpoints *ep,
    const char *address)
{
	char uuid[PORTAL_UUID_LEN + 1], *rev = portal_reverse_host(ep->host), *ident;
	char *name = g_strdup_printf("Secure mail for %s", address);

	portal_uuid(ep->host, address, "profile", uuid);
	ident = g_strdup_printf("%s.sealgate.%.8s", rev, uuid);
	evbuffer_add_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	    "<plist version=\"1.0\">\n<dict>\n\t<key>PayloadContent</key>\n");
	portal_mobileconfig_mail(b, ep, address, ident);
	portal_plist_string(b, "PayloadDescription", "Sets up your secure mail account: type "
	    "your password when you are asked.");
	portal_plist_string(b, "PayloadDisplayName", name);
	portal_plist_string(b, "PayloadIdentifier", ident);
	portal_plist_string(b, "PayloadOrganization", ep->host);
	portal_plist_bool(b, "PayloadRemovalDisallowed", false);
	portal_plist_string(b, "PayloadType", "Configuration");
	portal_plist_string(b, "PayloadUUID", uuid);
	portal_plist_int(b, "PayloadVersion", 1);
	evbuffer_add_printf(b, "</dict>\n</plist>\n");
	g_free(ident);
	g_free(name);
	free(rev);
}

void
portal_mobileconfig(struct portal *p, struct evhttp_request *req)
{
	const struct conf *conf = p->ctx->conf;
	char *param = portal_query_param(req, "address");
	const char *address = portal_address_ok(param);
	struct portal_endpoints ep;
	struct evbuffer *b;

	portal_endpoints_get(conf, &ep);
	if (address == NULL) {
		portal_reply_message(req, conf, 400, "Bad Request", "Which email address?",
		    "The profile is made for one email address: open it from the setup page "
		    "with your address.");
		free(param);
		return;
	}
	if ((ep.imaps == 0 && ep.imap == 0) || (ep.smtps == 0 && ep.submission == 0)) {
		portal_reply_message(req, conf, 404, "Not Found", "No profile",
		    "This service has no IMAP or submission listener to describe.");
		free(param);
		return;
	}
	b = evbuffer_new();
	portal_mobileconfig_profile(b, &ep, address);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Disposition",
	    "attachment; filename=\"secure-mail.mobileconfig\"");
	portal_reply(req, 200, "OK", "application/x-apple-aspen-config", b);
	evbuffer_free(b);
	free(param);
}
