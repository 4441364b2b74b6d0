/*
 * portal_html.c: the frame of every portal page. Pages are small,
 * server-rendered, with one inline style sheet and no script or external
 * asset (the CSP allows nothing else); every value we did not write
 * ourselves goes through portal_html_text().
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <string.h>
#include <time.h>

#include "gateway/portal_private.h"

static const char portal_css[] =
	":root{color-scheme:light dark;--bg:#eef2f6;--card:#fff;--fg:#18212b;--muted:#5a6675;"
	"--line:#d6dde6;--accent:#1f5eff;--accent-fg:#fff;--err:#a4262c;--err-bg:#fdecec;"
	"--ok:#0b6b3a;--ok-bg:#e7f6ed;--code:#f3f5f8}"
	"@media (prefers-color-scheme:dark){:root{--bg:#0e1318;--card:#161d25;--fg:#e7ebf0;"
	"--muted:#9aa6b3;--line:#2a3440;--accent:#6f9bff;--accent-fg:#0b1220;--err:#ffb3b3;"
	"--err-bg:#3a1c1f;--ok:#8fe0b0;--ok-bg:#12301f;--code:#1d2630}}"
	"*{box-sizing:border-box}"
	"html{-webkit-text-size-adjust:100%}"
	"body{margin:0;background:var(--bg);color:var(--fg);"
	"font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}"
	".top{background:var(--card);border-bottom:1px solid var(--line)}"
	".top div{max-width:40rem;margin:0 auto;padding:.8rem 1.25rem;display:flex;"
	"align-items:center;gap:.6rem;font-weight:650;letter-spacing:.01em}"
	".top svg{flex:none}.top small{font-weight:400;color:var(--muted);margin-left:auto}"
	"main{max-width:40rem;margin:0 auto;padding:1.5rem 1rem 1rem}"
	".card{background:var(--card);border:1px solid var(--line);border-radius:14px;"
	"padding:1.6rem 1.5rem;box-shadow:0 1px 2px rgba(16,24,40,.05),0 4px 16px rgba(16,24,40,.04)}"
	".card+.card{margin-top:1rem}"
	"h1{font-size:1.55rem;line-height:1.25;margin:0 0 .6rem}"
	"h2{font-size:1.1rem;margin:1.6rem 0 .5rem}"
	"p{margin:.5rem 0}"
	"label{display:block;font-weight:600;margin:1.1rem 0 .3rem}"
	"input{width:100%;padding:.72rem .85rem;font:inherit;color:inherit;background:var(--card);"
	"border:1px solid var(--line);border-radius:9px}"
	"input[readonly]{background:var(--code);color:var(--muted)}"
	"input:focus{outline:3px solid color-mix(in srgb,var(--accent) 35%,transparent);"
	"border-color:var(--accent)}"
	"button,.button{display:inline-block;margin-top:1.4rem;width:100%;padding:.85rem 1rem;"
	"font:inherit;font-weight:650;text-align:center;text-decoration:none;color:var(--accent-fg);"
	"background:var(--accent);border:0;border-radius:9px;cursor:pointer}"
	".button.alt{background:transparent;color:var(--accent);border:1px solid var(--line);"
	"margin-top:.6rem}"
	".hint{color:var(--muted);font-size:.9rem;margin-top:.35rem}"
	".notice{border-radius:9px;padding:.8rem 1rem;margin:1rem 0}"
	".notice.error{background:var(--err-bg);color:var(--err)}"
	".notice.ok{background:var(--ok-bg);color:var(--ok)}"
	"table{width:100%;border-collapse:collapse;margin:.4rem 0 0}"
	"th,td{text-align:left;vertical-align:top;padding:.5rem .4rem .5rem 0;"
	"border-bottom:1px solid var(--line)}"
	"th{font-weight:600;width:42%;color:var(--muted)}"
	"td{word-break:break-word}"
	"code{font:.95em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code);"
	"padding:.1rem .35rem;border-radius:5px}"
	"a{color:var(--accent)}"
	"footer{max-width:40rem;margin:0 auto;padding:.5rem 1rem 2rem;text-align:center;"
	"color:var(--muted);font-size:.85rem}"
	"footer a{margin:0 .5rem}";

/* A padlock, inline so that no asset is fetched. */
static const char portal_logo[] =
	"<svg width=\"26\" height=\"26\" viewBox=\"0 0 24 24\" aria-hidden=\"true\">"
	"<rect x=\"4\" y=\"10\" width=\"16\" height=\"11\" rx=\"2.5\" fill=\"#1f5eff\"/>"
	"<path d=\"M8 10V7a4 4 0 0 1 8 0v3\" fill=\"none\" stroke=\"#1f5eff\" stroke-width=\"2.2\"/>"
	"<circle cx=\"12\" cy=\"15.5\" r=\"1.7\" fill=\"#fff\"/></svg>";

void
portal_html_text(struct evbuffer *b, const char *s)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *rep = NULL;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: break;
		}
		if (rep == NULL)
			continue;
		evbuffer_add(b, run, (size_t)(s - run));
		evbuffer_add(b, rep, strlen(rep));
		run = s + 1;
	}
	evbuffer_add(b, run, (size_t)(s - run));
}

void
portal_html_begin(struct evbuffer *b, const struct conf *conf, const char *title)
{
	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<meta name=\"referrer\" content=\"no-referrer\">\n"
	    "<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>");
	portal_html_text(b, title);
	evbuffer_add_printf(b, " · Secure mail</title>\n<style>%s</style>\n</head>\n<body>\n"
	    "<header class=\"top\"><div>%sSecure mail<small>", portal_css, portal_logo);
	portal_html_text(b, conf->gateway.hostname);
	evbuffer_add_printf(b, "</small></div></header>\n<main>\n");
}

void
portal_html_end(struct evbuffer *b, const struct conf *conf)
{
	(void)conf;
	evbuffer_add_printf(b, "</main>\n<footer><a href=\"/setup\">Mail app settings</a>"
	    "<a href=\"/account/password\">Change password</a></footer>\n</body>\n</html>\n");
}

void
portal_html_notice(struct evbuffer *b, const char *kind, const char *text)
{
	bool err = strcmp(kind, "error") == 0;

	evbuffer_add_printf(b, "<div class=\"notice %s\" role=\"%s\">", err ? "error" : "ok",
	    err ? "alert" : "status");
	portal_html_text(b, text);
	evbuffer_add_printf(b, "</div>\n");
}

void
portal_html_date(struct evbuffer *b, int64_t when)
{
	time_t t = (time_t)when;
	struct tm tm;
	char buf[64];

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof buf, "%e %B %Y, %H:%M UTC",
	    &tm) == 0)
		snprintf(buf, sizeof buf, "?");
	portal_html_text(b, buf[0] == ' ' ? buf + 1 : buf);
}

void
portal_reply_html(struct evhttp_request *req, int code, const char *reason, struct evbuffer *b)
{
	portal_reply(req, code, reason, "text/html; charset=utf-8", b);
}

void
portal_reply_message(struct evhttp_request *req, const struct conf *conf, int code,
    const char *reason, const char *title, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	portal_html_begin(b, conf, title);
	evbuffer_add_printf(b, "<div class=\"card\">\n<h1>");
	portal_html_text(b, title);
	evbuffer_add_printf(b, "</h1>\n<p>");
	portal_html_text(b, text);
	evbuffer_add_printf(b, "</p>\n</div>\n");
	portal_html_end(b, conf);
	portal_reply_html(req, code, reason, b);
	evbuffer_free(b);
}

#define PORTAL_RETRY_AFTER	"60"

void
portal_reply_rate_limited(struct evhttp_request *req, const struct conf *conf, bool json)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After",
	    PORTAL_RETRY_AFTER);
	if (json)
		portal_reply_json_error(req, 429, "Too Many Requests", "rate_limited");
	else
		portal_reply_message(req, conf, 429, "Too Many Requests", "Too many attempts",
		    "Too many attempts came from your network. Please wait a minute, then "
		    "try again.");
}
