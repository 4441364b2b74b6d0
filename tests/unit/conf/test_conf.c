/* test_conf.c: the configuration loader, its value parsers and messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

static char tmpl[] = "/tmp/sg-conf-XXXXXX";
static char *tmpdir;

static int
setup(void **state)
{
	(void)state;
	tmpdir = mkdtemp(tmpl);
	return tmpdir == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	return system(cmd);
}

/* Write text to a file and load it; returns the conf or NULL with *err. */
static struct conf *
load_text(const char *text, char **err)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/t.conf", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return conf_load(path, err);
}

/* Loading must fail with a message containing every needle. */
static void
expect_error(const char *text, const char *needle1, const char *needle2)
{
	char *err = NULL;
	struct conf *c = load_text(text, &err);

	assert_null(c);
	assert_non_null(err);
	if (strstr(err, needle1) == NULL || (needle2 != NULL && strstr(err, needle2) == NULL))
		fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", err, needle1, needle2 ? needle2 : "");
	free(err);
}

static void
test_defaults_match_design(void **state)
{
	char *err = NULL;
	struct conf *c = conf_load(NULL, &err);

	(void)state;
	assert_non_null(c);
	assert_string_equal(c->gateway.hostname, "localhost");
	assert_int_equal(c->smtp.listen.n, 1);
	assert_string_equal(c->smtp.listen.v[0].text, "127.0.0.1:2525");
	assert_string_equal(c->imap.listen_tls.v[0].text, "127.0.0.1:9930");
	assert_int_equal(c->smtp.max_message_size, 50ull * 1024 * 1024);
	assert_int_equal(c->policy.invite_ttl, 7 * 86400);
	assert_int_equal(c->policy.retention, 365 * 86400);
	assert_true(c->policy.notify_enrolled);
	assert_false(c->policy.notify_subject);
	assert_int_equal(c->policy.password_min_length, 12);
	assert_int_equal(c->policy.external_recipients, CONF_EXT_CORRESPONDENTS);
	assert_int_equal(c->relay.starttls, CONF_STARTTLS_OPPORTUNISTIC);
	assert_string_equal(c->relay.host, "");
	assert_int_equal(c->smtp.trusted_networks.n, 2);
	assert_string_equal(c->portal.public_url, "https://localhost:8443");
	assert_int_equal(c->gateway.data_dir[0], '/');
	assert_non_null(strstr(c->tls.cert, "/tls/cert.pem"));
	conf_free(&c);
	assert_null(c);
}

static void
test_file_values_override_defaults(void **state)
{
	char *err = NULL;
	struct conf *c;

	(void)state;
	c = load_text("# comment\n[gateway]\nhostname = Mail.Example.ORG\n\n"
	    "[smtp]\nlisten = 127.0.0.1:25, [::1]:25\nmax_message_size = 10M\n"
	    "[policy]\ninternal_domains = Example.com, .corp.example\ninvite_ttl = 36h\n"
	    "notify_enrolled = no\n[relay]\nhost = relay.example.com\nport = 587\n"
	    "starttls = required\n[portal]\npublic_url = https://mail.example.org/\n", &err);
	assert_non_null(c);
	assert_string_equal(c->gateway.hostname, "mail.example.org");
	assert_int_equal(c->smtp.listen.n, 2);
	assert_int_equal(c->smtp.listen.v[1].ss.ss_family, AF_INET6);
	assert_int_equal(c->smtp.max_message_size, 10ull * 1024 * 1024);
	assert_int_equal(c->policy.invite_ttl, 36 * 3600);
	assert_false(c->policy.notify_enrolled);
	assert_int_equal(c->relay.port, 587);
	assert_int_equal(c->relay.starttls, CONF_STARTTLS_REQUIRED);
	assert_string_equal(c->portal.public_url, "https://mail.example.org");
	assert_true(conf_domain_match(&c->policy.internal_domains, "EXAMPLE.COM", 11));
	assert_true(conf_domain_match(&c->policy.internal_domains, "a.corp.example", 14));
	assert_true(conf_domain_match(&c->policy.internal_domains, "corp.example", 12));
	assert_false(conf_domain_match(&c->policy.internal_domains, "xcorp.example", 13));
	assert_false(conf_domain_match(&c->policy.internal_domains, "sub.example.com", 15));
	conf_free(&c);
}

static void
test_empty_listener_is_off(void **state)
{
	char *err = NULL;
	struct conf *c = load_text("[imap]\nlisten =\nlisten_tls =\n", &err);

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->imap.listen.n, 0);
	assert_int_equal(c->imap.listen_tls.n, 0);
	conf_free(&c);
}

static void
test_misspelled_key_names_file_and_line(void **state)
{
	(void)state;
	expect_error("[gateway]\nhostname = a\n\n[smtp]\nmax_mesage_size = 1M\n",
	    "t.conf:5:", "[smtp] max_mesage_size: unknown key");
}

static void
test_unknown_section(void **state)
{
	(void)state;
	expect_error("[gateway]\nhostname = a\n[smpt]\nlisten = 127.0.0.1:1\n",
	    "t.conf:3:", "[smpt]: unknown section");
}

static void
test_bad_port(void **state)
{
	(void)state;
	expect_error("[imap]\nlisten = 127.0.0.1:99999\n", "t.conf:2:", "bad port");
	expect_error("[imap]\nlisten = 127.0.0.1:0\n", "t.conf:2:", "bad port");
	expect_error("[imap]\nlisten = 127.0.0.1:\n", "t.conf:2:", "bad port");
	expect_error("[relay]\nport = 70000\n", "t.conf:2:", "[relay] port: value out of range");
}

static void
test_bad_address(void **state)
{
	(void)state;
	expect_error("[smtp]\nlisten = 300.1.1.1:25\n", "t.conf:2:", "bad IPv4 address");
	expect_error("[smtp]\nlisten = [::g]:25\n", "t.conf:2:", "bad IPv6 address");
	expect_error("[smtp]\nlisten = ::1:25\n", "t.conf:2:", "expected ipv4:port");
	expect_error("[smtp]\nlisten = 127.0.0.1:25,\n", "t.conf:2:", "empty item");
}

static void
test_bad_cidr(void **state)
{
	(void)state;
	expect_error("[smtp]\ntrusted_networks = 10.0.0.0/33\n", "t.conf:2:",
	    "bad CIDR prefix (0 to 32)");
	expect_error("[smtp]\ntrusted_networks = 10.0.0.1/8\n", "t.conf:2:",
	    "bits set beyond the prefix");
	expect_error("[smtp]\ntrusted_networks = 10.0.0/8\n", "t.conf:2:", "bad network address");
	expect_error("[smtp]\ntrusted_networks = ::/129\n", "t.conf:2:",
	    "bad CIDR prefix (0 to 128)");
}

static void
test_bad_size(void **state)
{
	(void)state;
	expect_error("[smtp]\nmax_message_size = 10X\n", "t.conf:2:", "unknown size unit");
	expect_error("[smtp]\nmax_message_size = lots\n", "t.conf:2:", "not a size");
	expect_error("[smtp]\nmax_message_size = 10MB\n", "t.conf:2:", "trailing characters");
	expect_error("[smtp]\nmax_message_size = 2G\n", "t.conf:2:", "value out of range");
	expect_error("[smtp]\nmax_message_size = 99999999999999999999G\n", "t.conf:2:",
	    "not a size");
}

static void
test_bad_duration_bool_enum(void **state)
{
	(void)state;
	expect_error("[policy]\ninvite_ttl = 7w\n", "t.conf:2:", "unknown duration unit");
	expect_error("[policy]\ninvite_ttl = 0\n", "t.conf:2:", "value out of range");
	expect_error("[policy]\nnotify_enrolled = maybe\n", "t.conf:2:", "not a boolean");
	expect_error("[relay]\nstarttls = sometimes\n", "t.conf:2:",
	    "not one of the allowed values");
	expect_error("[policy]\npassword_min_length = -3\n", "t.conf:2:", "not a whole number");
}

static void
test_bad_text_values(void **state)
{
	(void)state;
	expect_error("[gateway]\nhostname = bad_host!\n", "t.conf:2:", "bad host name");
	expect_error("[gateway]\nhostname =\n", "t.conf:2:", "must not be empty");
	expect_error("[portal]\npublic_url = ftp://x\n", "t.conf:2:", "bad URL");
	expect_error("[policy]\ninternal_domains = exa mple.com\n", "t.conf:2:",
	    "bad domain name");
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	expect_error("[gateway\nhostname = a\n", "t.conf:1:", "malformed section header");
	expect_error("[gateway]\nhostname a\n", "t.conf:2:", "expected 'key = value'");
	expect_error("hostname = a\n", "t.conf:1:", "outside any [section]");
	expect_error("[gateway]\nhostname = a\nhostname = b\n", "t.conf:3:",
	    "key repeated (first at line 2)");
	expect_error("[gateway]\nhostname = a\n[smtp]\n[gateway]\nhostname = b\n", "t.conf:5:",
	    "key repeated (first at line 2)");
}

static void
test_repeated_section_continues(void **state)
{
	char *err = NULL;
	struct conf *c = load_text("[gateway]\nhostname = a\n[smtp]\n[gateway]\nuser = mail\n",
	    &err);

	(void)state;
	assert_non_null(c);
	assert_string_equal(c->gateway.hostname, "a");
	assert_string_equal(c->gateway.user, "mail");
	conf_free(&c);
}

static void
test_listener_conflict(void **state)
{
	(void)state;
	expect_error("[smtp]\nlisten = 127.0.0.1:1430\n", "[smtp] and [imap]",
	    "both listen on 127.0.0.1:1430");
}

static void
test_missing_file(void **state)
{
	char *err = NULL;
	struct conf *c = conf_load("/nonexistent/sealgate.conf", &err);

	(void)state;
	assert_null(c);
	assert_non_null(strstr(err, "/nonexistent/sealgate.conf: cannot read"));
	free(err);
}

static void
test_parse_values(void **state)
{
	const char *e = NULL;
	int64_t d;
	uint64_t sz;

	(void)state;
	assert_int_equal(conf_parse_duration("90", &d, &e), 0);
	assert_int_equal(d, 90);
	assert_int_equal(conf_parse_duration("15m", &d, &e), 0);
	assert_int_equal(d, 900);
	assert_int_equal(conf_parse_duration("2d", &d, &e), 0);
	assert_int_equal(d, 172800);
	assert_int_equal(conf_parse_duration("", &d, &e), -1);
	assert_int_equal(conf_parse_duration("1.5h", &d, &e), -1);
	assert_int_equal(conf_parse_size("1K", &sz, &e), 0);
	assert_int_equal(sz, 1024);
	assert_int_equal(conf_parse_size("3g", &sz, &e), 0);
	assert_int_equal(sz, 3ull << 30);
	assert_int_equal(conf_parse_size("18446744073709551615", &sz, &e), 0);
	assert_int_equal(conf_parse_size("18446744073709551616", &sz, &e), -1);
	assert_int_equal(conf_parse_size("17179869184G", &sz, &e), -1);
}

static void
test_net_match(void **state)
{
	struct conf_net nets[2];
	struct conf_net_list l = { 2, nets };
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in6 b = { .sin6_family = AF_INET6 };
	const char *e = NULL;

	(void)state;
	assert_int_equal(conf_parse_net("192.168.0.0/16", &nets[0], &e), 0);
	assert_int_equal(conf_parse_net("2001:db8::/32", &nets[1], &e), 0);
	inet_pton(AF_INET, "192.168.44.1", &a.sin_addr);
	assert_true(conf_net_match(&l, (struct sockaddr *)&a));
	inet_pton(AF_INET, "192.169.0.1", &a.sin_addr);
	assert_false(conf_net_match(&l, (struct sockaddr *)&a));
	inet_pton(AF_INET6, "2001:db8:1::5", &b.sin6_addr);
	assert_true(conf_net_match(&l, (struct sockaddr *)&b));
	inet_pton(AF_INET6, "::ffff:192.168.1.1", &b.sin6_addr);
	assert_true(conf_net_match(&l, (struct sockaddr *)&b));
	inet_pton(AF_INET6, "2001:db9::1", &b.sin6_addr);
	assert_false(conf_net_match(&l, (struct sockaddr *)&b));
	assert_int_equal(conf_parse_net("0.0.0.0/0", &nets[0], &e), 0);
	l.n = 1;
	inet_pton(AF_INET, "8.8.8.8", &a.sin_addr);
	assert_true(conf_net_match(&l, (struct sockaddr *)&a));
}

/* What check-config prints must load again into the same configuration. */
static void
test_print_round_trips(void **state)
{
	char path[256], *err = NULL, *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	struct conf *c = load_text("[smtp]\nmax_message_size = 1536K\n[policy]\n"
	    "invite_ttl = 90m\n[limits]\nproxy_networks = 10.0.0.0/8\n", &err), *c2;
	FILE *f;

	(void)state;
	assert_non_null(c);
	snprintf(path, sizeof path, "%s/printed.conf", tmpdir);
	f = fopen(path, "w");
	conf_print(c, f);
	fclose(f);
	c2 = conf_load(path, &err);
	if (c2 == NULL)
		fail_msg("printed config does not load: %s", err);
	f = open_memstream(&a, &alen);
	conf_print(c, f);
	fclose(f);
	f = open_memstream(&b, &blen);
	conf_print(c2, f);
	fclose(f);
	/* Only the first line (which file) may differ. */
	assert_string_equal(strchr(a, '\n'), strchr(b, '\n'));
	assert_non_null(strstr(a, "max_message_size = 1536K\n"));
	assert_non_null(strstr(a, "invite_ttl = 90m\n"));
	free(a);
	free(b);
	conf_free(&c);
	conf_free(&c2);
}

/* Text loads like a file: values, FILE:LINE errors under the given name,
 * and bytes a file could not hold (a NUL, no final newline) handled alike. */
static void
test_load_text_matches_file(void **state)
{
	static const char good[] = "[smtp]\nmax_message_size = 2M\n[policy]\ninvite_ttl = 2d";
	static const char bad[] = "[smtp]\n\nmax_mesage_size = 2M\n";
	static const char nul[] = "[smtp]\nmax_message_size = 2M\0\n[imap]\n";
	char *err = NULL;
	struct conf *c;

	(void)state;
	c = conf_load_text("inline", good, sizeof good - 1, &err);
	assert_non_null(c);
	assert_null(err);
	assert_null(c->path);
	assert_int_equal(c->smtp.max_message_size, 2 * 1024 * 1024);
	assert_int_equal(c->policy.invite_ttl, 2 * 86400);
	conf_free(&c);

	assert_null(conf_load_text("inline", bad, sizeof bad - 1, &err));
	assert_non_null(err);
	assert_string_equal(err, "inline:3: [smtp] max_mesage_size: unknown key");
	free(err);

	assert_null(conf_load_text("inline", nul, sizeof nul - 1, &err));
	assert_non_null(strstr(err, "binary"));
	free(err);

	/* Not NUL-terminated: only len bytes are read. */
	c = conf_load_text("inline", "[imap]\nkeepalive = 5mXXXX", 21, &err);
	assert_non_null(c);
	assert_int_equal(c->imap.keepalive, 300);
	conf_free(&c);

	c = conf_load_text("inline", "", 0, &err);
	assert_non_null(c);
	conf_free(&c);
}

/* Found by fuzz_conf: a CR inside a text value survived the load, came out
 * of check-config, and loaded back as a different value. */
static void
test_control_characters_in_text_values(void **state)
{
	static const char url[] = "[portal]\npublic_url= http://ws\r\r/\r\n";
	static const char user[] = "[gateway]\nuser = a\x01b\n";
	char *err = NULL;

	(void)state;
	assert_null(conf_load_text("t", url, sizeof url - 1, &err));
	assert_string_equal(err, "t:2: [portal] public_url: control characters are not allowed: "
	    "\"http://ws\r\r/\"");
	free(err);
	assert_null(conf_load_text("t", user, sizeof user - 1, &err));
	assert_non_null(strstr(err, "control characters"));
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_design),
		cmocka_unit_test(test_file_values_override_defaults),
		cmocka_unit_test(test_empty_listener_is_off),
		cmocka_unit_test(test_misspelled_key_names_file_and_line),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_bad_port),
		cmocka_unit_test(test_bad_address),
		cmocka_unit_test(test_bad_cidr),
		cmocka_unit_test(test_bad_size),
		cmocka_unit_test(test_bad_duration_bool_enum),
		cmocka_unit_test(test_bad_text_values),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_repeated_section_continues),
		cmocka_unit_test(test_listener_conflict),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_parse_values),
		cmocka_unit_test(test_net_match),
		cmocka_unit_test(test_print_round_trips),
		cmocka_unit_test(test_load_text_matches_file),
		cmocka_unit_test(test_control_characters_in_text_values),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
