/*
 * test_smtp_mail.c: the mails sealgate writes (invitation, notices, DSN)
 * and the queue payload codec: structure, escaping and encoding of peer
 * text, no content beyond what policy allows, CRLF everywhere, template
 * overrides; payloads round-trip and every truncation is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "crypto/sec.h"
#include "smtp/smtp_mail.h"
#include "smtp/smtp_queue.h"

#define TOKEN	"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"

static char *
as_str(struct sec_buf *b)
{
	char *s = malloc(b->len + 1);

	assert_non_null(s);
	memcpy(s, b->data, b->len);
	s[b->len] = '\0';
	return s;
}

/* Every LF is preceded by CR, and no CR stands alone. */
static void
assert_crlf_only(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\n')
			assert_true(i > 0 && s[i - 1] == '\r');
		if (s[i] == '\r')
			assert_int_equal(s[i + 1], '\n');
	}
}

static struct smtp_mail_info
info(void)
{
	struct smtp_mail_info mi = {
		.hostname = "gw.example.com", .public_url = "https://gw.example.com",
		.sender = "alice@example.com", .sender_name = "Alice Example",
		.recipient = "bob@ext.test", .token = TOKEN, .expiry = 1800000000,
		.now = 1799395200, .subject = "Quarterly numbers",
	};

	return mi;
}

static char *
render(enum smtp_mail_kind kind, const struct smtp_mail_info *mi)
{
	struct smtp_templates *t = smtp_templates_load(NULL);
	struct sec_buf out = { 0 };
	char *s;

	smtp_mail_render(t, kind, mi, &out);
	s = as_str(&out);
	sec_buf_wipe(&out);
	smtp_templates_free(&t);
	assert_null(t);
	return s;
}

static void
test_invitation_has_link_on_its_own_line_and_html_alternative(void **state)
{
	struct smtp_mail_info mi = info();
	char *s = render(SMTP_MAIL_INVITE, &mi);

	(void)state;
	assert_crlf_only(s);
	assert_non_null(strstr(s, "\r\n\r\nhttps://gw.example.com/enroll/" TOKEN "\r\n\r\n"));
	assert_non_null(strstr(s, "href=\"https://gw.example.com/enroll/" TOKEN "\""));
	assert_non_null(strstr(s, "Content-Type: multipart/alternative;"));
	assert_non_null(strstr(s, "Content-Type: text/plain; charset=utf-8"));
	assert_non_null(strstr(s, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(s, "From: \"Alice Example\" <alice@example.com>\r\n"));
	assert_non_null(strstr(s, "To: <bob@ext.test>\r\n"));
	assert_non_null(strstr(s, "Subject: Alice Example sent you a secure message\r\n"));
	assert_non_null(strstr(s, "X-Sealgate: invitation\r\n"));
	assert_non_null(strstr(s, "Auto-Submitted: auto-generated\r\n"));
	/* the expiry, for people, in UTC */
	assert_non_null(strstr(s, "until Fri, 15 Jan 2027 08:00 UTC"));
	/* no message content, not even the subject */
	assert_null(strstr(s, "Quarterly"));
	free(s);
}

static void
test_peer_text_is_escaped_and_encoded(void **state)
{
	struct smtp_mail_info mi = info();
	char *s, *html;

	(void)state;
	mi.sender_name = "<script>\"Mallory\" & Co</script>";
	s = render(SMTP_MAIL_INVITE, &mi);
	html = strstr(s, "Content-Type: text/html");
	assert_non_null(html);
	assert_non_null(strstr(html, "&lt;script&gt;&quot;Mallory&quot; &amp; Co&lt;/script&gt;"));
	assert_null(strstr(html, "<script>"));	/* never raw in HTML */
	assert_non_null(strstr(s, "From: \"<script>\\\"Mallory\\\" & Co</script>\" "
	    "<alice@example.com>"));
	free(s);
	mi.sender_name = "Jörg Müller";
	s = render(SMTP_MAIL_INVITE, &mi);
	assert_non_null(strstr(s, "From: =?utf-8?b?"));
	assert_non_null(strstr(s, "Subject: =?utf-8?b?"));
	assert_non_null(strstr(s, "Content-Transfer-Encoding: 8bit"));
	assert_crlf_only(s);
	free(s);
}

static void
test_notices_name_the_subject_only_when_allowed(void **state)
{
	struct smtp_mail_info mi = info();
	char *s;

	(void)state;
	mi.token = NULL;
	s = render(SMTP_MAIL_NOTIFY, &mi);
	assert_null(strstr(s, "Quarterly"));
	assert_null(strstr(s, "Alice"));	/* nor in From: */
	assert_null(strstr(s, "alice@"));
	assert_non_null(strstr(s, "From: \"Secure mail\" <noreply@gw.example.com>\r\n"));
	assert_null(strstr(s, "/enroll/"));
	assert_non_null(strstr(s, "X-Sealgate: notice\r\n"));
	assert_non_null(strstr(s, "Content-Type: text/plain; charset=utf-8"));
	assert_crlf_only(s);
	free(s);
	mi.details = true;
	s = render(SMTP_MAIL_NOTIFY, &mi);
	assert_non_null(strstr(s, "From: \"Alice Example\" <alice@example.com>\r\n"));
	assert_non_null(strstr(s, "Subject: Quarterly numbers"));
	assert_non_null(strstr(s, "From: Alice Example <alice@example.com>"));
	free(s);
	s = render(SMTP_MAIL_WAITING, &mi);
	assert_non_null(strstr(s, "Another secure message"));
	assert_null(strstr(s, "/enroll/"));
	free(s);
}

static void
test_template_files_override_the_built_in_ones(void **state)
{
	char dir[] = "/tmp/smtp-tpl-XXXXXX", path[64];
	struct smtp_templates *t;
	struct sec_buf out = { 0 };
	struct smtp_mail_info mi = info();
	FILE *f;
	char *s;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/notify.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("Subject: Custom {{recipient}}\n\nHi {{recipient}} at {{hostname}} {{unknown}}!\n", f);
	fclose(f);
	t = smtp_templates_load(dir);
	smtp_mail_render(t, SMTP_MAIL_NOTIFY, &mi, &out);
	s = as_str(&out);
	assert_non_null(strstr(s, "Subject: Custom bob@ext.test\r\n"));
	assert_non_null(strstr(s, "\r\n\r\nHi bob@ext.test at gw.example.com !\r\n"));
	free(s);
	sec_buf_wipe(&out);
	/* the others stay built in */
	smtp_mail_render(t, SMTP_MAIL_INVITE, &mi, &out);
	s = as_str(&out);
	assert_non_null(strstr(s, "/enroll/" TOKEN));
	free(s);
	sec_buf_wipe(&out);
	smtp_templates_free(&t);
	unlink(path);
	rmdir(dir);
}

static void
test_clean_strips_controls_and_truncates_on_characters(void **state)
{
	char out[64];

	(void)state;
	assert_string_equal(smtp_mail_clean("  a\r\nb\tc\x01  ", 11, 64, out, sizeof out),
	    "a b c");
	assert_string_equal(smtp_mail_clean("äöüäöü", 12, 3, out, sizeof out), "äöü");
	assert_string_equal(smtp_mail_clean("a\xff\xfe" "b", 4, 64, out, sizeof out), "ab");
	assert_string_equal(smtp_mail_clean("abcdef", 6, 64, out, 4), "abc");
	assert_string_equal(smtp_mail_clean("ab€", 5, 64, out, 4), "ab");
}

static void
test_date_is_rfc5322_in_utc(void **state)
{
	char d[40];

	(void)state;
	smtp_mail_date(d, 0);
	assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	smtp_mail_date(d, 1800000000);
	assert_string_equal(d, "Fri, 15 Jan 2027 08:00:00 +0000");
}

static const char original[] =
	"From: Alice <alice@example.com>\r\nTo: <nobody@ext.test>\r\nSubject: hi\r\n\r\n"
	"secret body line\r\n";

static char *
dsn(bool headers_only, const struct smtp_dsn_rcpt *r, size_t n)
{
	struct smtp_dsn d = {
		.hostname = "gw.example.com", .to = "alice@example.com", .envid = "QQ+2B1",
		.headers_only = headers_only, .rcpts = r, .nrcpts = n, .msg = original,
		.msg_len = sizeof original - 1, .arrival = 1800000000, .now = 1800000060,
	};
	struct sec_buf out = { 0 };
	char *s;

	smtp_mail_dsn(&d, &out);
	s = as_str(&out);
	sec_buf_free(&out);
	return s;
}

static void
test_dsn_is_a_delivery_status_report(void **state)
{
	const struct smtp_dsn_rcpt r[] = {
		{ .addr = "nobody@ext.test", .orcpt = "rfc822;Nobody+40ext.test", .action = "failed",
		    .status = "5.1.1", .diag = "550 5.1.1 no such user\x01", .remote = "mx.ext.test" },
	};
	char *s = dsn(false, r, 1);

	(void)state;
	assert_crlf_only(s);
	assert_non_null(strstr(s, "From: Mail Delivery System <MAILER-DAEMON@gw.example.com>\r\n"));
	assert_non_null(strstr(s, "To: <alice@example.com>\r\n"));
	assert_non_null(strstr(s, "Subject: Undelivered Mail Returned to Sender\r\n"));
	assert_non_null(strstr(s, "Content-Type: multipart/report; report-type=delivery-status;"));
	assert_non_null(strstr(s, "Auto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(s, "Content-Type: message/delivery-status\r\n\r\n"
	    "Reporting-MTA: dns; gw.example.com\r\nOriginal-Envelope-Id: QQ+1\r\n"
	    "Arrival-Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n\r\n"
	    "Final-Recipient: rfc822; nobody@ext.test\r\n"
	    "Original-Recipient: rfc822;Nobody@ext.test\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.ext.test\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 no such user?\r\n"));
	assert_non_null(strstr(s, "Content-Type: message/rfc822\r\n\r\nFrom: Alice"));
	assert_non_null(strstr(s, "secret body line"));
	free(s);
}

static void
test_dsn_headers_only_and_success(void **state)
{
	const struct smtp_dsn_rcpt r[] = {
		{ .addr = "bob@ext.test", .action = "delivered", .status = "2.0.0" },
	};
	char *s = dsn(true, r, 1);

	(void)state;
	assert_non_null(strstr(s, "Content-Type: text/rfc822-headers\r\n\r\nFrom: Alice"));
	assert_non_null(strstr(s, "Subject: hi\r\n"));
	assert_null(strstr(s, "secret body line"));
	assert_non_null(strstr(s, "Subject: Delivery Status Notification\r\n"));
	assert_non_null(strstr(s, "Action: delivered\r\nStatus: 2.0.0\r\n"));
	assert_crlf_only(s);
	free(s);
}

/* ---- queue payloads ---- */

static void
test_qmsg_round_trip(void **state)
{
	static const char msg[] = "Subject: x\r\n\r\nbody\r\n";
	struct smtp_qmsg q = { .kind = SMTP_QK_MAIL, .smtputf8 = true, .ret = SMTP_RET_HDRS,
	    .arrival = 1800000000, .from = (char *)"alice@example.com", .envid = (char *)"E1",
	    .msg = msg, .msg_len = sizeof msg - 1 };
	struct smtp_qrcpt r[2] = {
		{ .addr = (char *)"a@x", .orcpt = (char *)"rfc822;a@x", .notify = SMTP_NOTIFY_NEVER },
		{ .addr = (char *)"b@y", .notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY },
	};
	struct sec_buf b = { 0 };
	struct smtp_qmsg d;

	(void)state;
	q.rcpts = r;
	q.nrcpts = 2;
	smtp_qmsg_encode(&q, &b);
	assert_int_equal(b.data[0], SMTP_QMSG_VERSION);
	assert_int_equal(smtp_qmsg_decode(b.data, b.len, &d), 0);
	assert_int_equal(d.kind, SMTP_QK_MAIL);
	assert_true(d.smtputf8);
	assert_int_equal(d.ret, SMTP_RET_HDRS);
	assert_int_equal(d.arrival, 1800000000);
	assert_string_equal(d.from, "alice@example.com");
	assert_string_equal(d.envid, "E1");
	assert_int_equal(d.nrcpts, 2);
	assert_string_equal(d.rcpts[0].addr, "a@x");
	assert_string_equal(d.rcpts[0].orcpt, "rfc822;a@x");
	assert_int_equal(d.rcpts[0].notify, SMTP_NOTIFY_NEVER);
	assert_null(d.rcpts[1].orcpt);
	assert_int_equal(d.rcpts[1].notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY);
	assert_int_equal(d.msg_len, sizeof msg - 1);
	assert_memory_equal(d.msg, msg, d.msg_len);
	smtp_qmsg_clear(&d);
	sec_buf_wipe(&b);
}

static void
test_qmsg_every_truncation_and_damage_is_refused(void **state)
{
	struct smtp_qmsg q = { .kind = SMTP_QK_DSN, .arrival = 1, .from = (char *)"",
	    .msg = "m", .msg_len = 1 };
	struct smtp_qrcpt r = { .addr = (char *)"a@x" };
	struct sec_buf b = { 0 };
	struct smtp_qmsg d;
	size_t n;

	(void)state;
	q.rcpts = &r;
	q.nrcpts = 1;
	smtp_qmsg_encode(&q, &b);
	assert_int_equal(smtp_qmsg_decode(b.data, b.len, &d), 0);
	assert_string_equal(d.from, "");
	assert_null(d.envid);
	smtp_qmsg_clear(&d);
	for (n = 0; n < b.len; n++)
		assert_int_equal(smtp_qmsg_decode(b.data, n, &d), -1);
	b.data[0] = SMTP_QMSG_VERSION + 1;
	assert_int_equal(smtp_qmsg_decode(b.data, b.len, &d), -1);
	b.data[0] = SMTP_QMSG_VERSION;
	b.data[1] = 0;	/* no such kind */
	assert_int_equal(smtp_qmsg_decode(b.data, b.len, &d), -1);
	b.data[1] = SMTP_QK_DSN;
	sec_buf_append(&b, "x", 1);	/* longer than msg_len says */
	assert_int_equal(smtp_qmsg_decode(b.data, b.len, &d), -1);
	sec_buf_wipe(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invitation_has_link_on_its_own_line_and_html_alternative),
		cmocka_unit_test(test_peer_text_is_escaped_and_encoded),
		cmocka_unit_test(test_notices_name_the_subject_only_when_allowed),
		cmocka_unit_test(test_template_files_override_the_built_in_ones),
		cmocka_unit_test(test_clean_strips_controls_and_truncates_on_characters),
		cmocka_unit_test(test_date_is_rfc5322_in_utc),
		cmocka_unit_test(test_dsn_is_a_delivery_status_report),
		cmocka_unit_test(test_dsn_headers_only_and_success),
		cmocka_unit_test(test_qmsg_round_trip),
		cmocka_unit_test(test_qmsg_every_truncation_and_damage_is_refused),
	};

	if (sec_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
