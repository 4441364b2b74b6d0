/*
 * conf_keys.c: every configuration key with its type, bounds, default and
 * one line of documentation. This table drives validation, check-config
 * and the defaults; doc/sealgate.conf.5 and conf/sealgate.conf follow it.
 */
#include "conf/conf_private.h"

#include <stddef.h>

#define OFF(f)	offsetof(struct conf, f)
#define DAY	(24ull * 3600ull)
#define NOLIM	UINT64_MAX

static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const log_targets[] = { "stderr", "syslog", NULL };
static const char *const tls_versions[] = { "1.2", "1.3", NULL };
static const char *const starttls_modes[] = { "required", "opportunistic", "off", NULL };
static const char *const external_modes[] = { "correspondents", "any", "none", NULL };
static const char *const kdf_levels[] = { "interactive", "moderate", "sensitive", NULL };

const struct conf_key conf_keys[] = {
	{ "gateway", "hostname", CONF_T_HOSTNAME, OFF(gateway.hostname), "localhost", 1, 253, NULL,
	  "name used in greetings, Message-IDs and links" },
	{ "gateway", "data_dir", CONF_T_PATH, OFF(gateway.data_dir), "./var", 1, 4096, NULL,
	  "LMDB store, keys, tls/, outbox/" },
	{ "gateway", "log_level", CONF_T_ENUM, OFF(gateway.log_level), "info", 0, 0, log_levels,
	  "error | warn | info | debug" },
	{ "gateway", "log", CONF_T_ENUM, OFF(gateway.log), "stderr", 0, 0, log_targets,
	  "stderr | syslog" },
	{ "gateway", "user", CONF_T_STRING, OFF(gateway.user), "", 0, 64, NULL,
	  "serve started as root binds its ports, loads its keys, then becomes this user for "
	  "good (required when started as root; init as root gives it data_dir)" },
	{ "gateway", "workers", CONF_T_UINT, OFF(gateway.workers), "0", 0, 256, NULL,
	  "worker threads for key derivation and crypto; 0: one per CPU" },

	{ "tls", "cert", CONF_T_PATH, OFF(tls.cert), "", 0, 4096, NULL,
	  "PEM certificate chain; empty: data_dir/tls/cert.pem, self-signed by init" },
	{ "tls", "key", CONF_T_PATH, OFF(tls.key), "", 0, 4096, NULL,
	  "PEM private key; empty: data_dir/tls/key.pem" },
	{ "tls", "min_version", CONF_T_ENUM, OFF(tls.min_version), "1.2", 0, 0, tls_versions,
	  "lowest TLS version offered: 1.2 | 1.3" },

	{ "smtp", "listen", CONF_T_ADDRS, OFF(smtp.listen), "127.0.0.1:2525", 0, 0, NULL,
	  "inbound from the organization's MTA; comma-separated host:port; STARTTLS offered" },
	{ "smtp", "trusted_networks", CONF_T_NETS, OFF(smtp.trusted_networks),
	  "127.0.0.0/8, ::1/128", 0, 0, NULL, "networks allowed to relay mail into sealgate" },
	{ "smtp", "max_message_size", CONF_T_SIZE, OFF(smtp.max_message_size), "50M",
	  1024, 1024ull * 1024 * 1024, NULL, "largest message accepted (SMTP SIZE, IMAP APPENDLIMIT)" },
	{ "smtp", "max_recipients", CONF_T_UINT, OFF(smtp.max_recipients), "1000", 100, 100000,
	  NULL, "recipients per inbound message (RFC 5321 asks for at least 100)" },
	{ "smtp", "proxy_protocol", CONF_T_BOOL, OFF(smtp.proxy_protocol), "no", 0, 0, NULL,
	  "expect a PROXY v1/v2 header from [limits] proxy_networks" },

	{ "submission", "listen", CONF_T_ADDRS, OFF(submission.listen), "127.0.0.1:5870", 0, 0,
	  NULL, "replies from enrolled users, STARTTLS port; empty: off" },
	{ "submission", "listen_tls", CONF_T_ADDRS, OFF(submission.listen_tls), "127.0.0.1:4650",
	  0, 0, NULL, "implicit-TLS submission port; empty: off" },
	{ "submission", "max_messages_per_hour", CONF_T_UINT,
	  OFF(submission.max_messages_per_hour), "200", 1, 1000000, NULL,
	  "messages one account may submit per hour" },
	{ "submission", "max_recipients", CONF_T_UINT, OFF(submission.max_recipients), "50", 1,
	  10000, NULL, "recipients per submitted message" },
	{ "submission", "proxy_protocol", CONF_T_BOOL, OFF(submission.proxy_protocol), "no", 0,
	  0, NULL, "expect a PROXY v1/v2 header from [limits] proxy_networks" },

	{ "imap", "listen", CONF_T_ADDRS, OFF(imap.listen), "127.0.0.1:1430", 0, 0, NULL,
	  "STARTTLS port (LOGINDISABLED before TLS); empty: off" },
	{ "imap", "listen_tls", CONF_T_ADDRS, OFF(imap.listen_tls), "127.0.0.1:9930", 0, 0, NULL,
	  "implicit-TLS port; empty: off" },
	{ "imap", "keepalive", CONF_T_DURATION, OFF(imap.keepalive), "2m", 1, 29 * 60, NULL,
	  "interval of untagged OK keepalives during IDLE" },
	{ "imap", "autologout", CONF_T_DURATION, OFF(imap.autologout), "30m", 1, DAY, NULL,
	  "log out a logged-in session idle this long outside IDLE (RFC 3501 asks for 30m+)" },
	{ "imap", "cache_size", CONF_T_SIZE, OFF(imap.cache_size), "256M", 0,
	  64ull * 1024 * 1024 * 1024, NULL,
	  "decrypted listing data (envelopes, structures, headers) kept in locked memory for "
	  "accounts with open sessions, all accounts together, at most 48M each; 0: none" },
	{ "imap", "proxy_protocol", CONF_T_BOOL, OFF(imap.proxy_protocol), "no", 0, 0, NULL,
	  "expect a PROXY v1/v2 header from [limits] proxy_networks" },

	{ "portal", "listen", CONF_T_ADDRS, OFF(portal.listen), "127.0.0.1:8443", 0, 0, NULL,
	  "enrollment and account pages, HTTPS; empty: off" },
	{ "portal", "public_url", CONF_T_URL, OFF(portal.public_url), "https://localhost:8443",
	  1, 2048, NULL, "the portal's address as recipients reach it, used in invitation links" },
	{ "portal", "metrics_networks", CONF_T_NETS, OFF(portal.metrics_networks),
	  "127.0.0.0/8, ::1/128", 0, 0, NULL, "who may read /metrics" },

	{ "policy", "internal_domains", CONF_T_DOMAINS, OFF(policy.internal_domains),
	  "example.com", 0, 0, NULL,
	  "the organization's domains; a leading '.' also matches subdomains" },
	{ "policy", "invite_ttl", CONF_T_DURATION, OFF(policy.invite_ttl), "7d", 60, 365 * DAY,
	  NULL, "how long an invitation link stays valid" },
	{ "policy", "retention", CONF_T_DURATION, OFF(policy.retention), "365d", 3600,
	  100 * 365 * DAY, NULL, "messages older than this are expunged" },
	{ "policy", "notify_enrolled", CONF_T_BOOL, OFF(policy.notify_enrolled), "yes", 0, 0,
	  NULL, "tell enrolled recipients by mail that a secure message arrived" },
	{ "policy", "notify_subject", CONF_T_BOOL, OFF(policy.notify_subject), "no", 0, 0, NULL,
	  "show sender and subject in notification mails" },
	{ "policy", "password_min_length", CONF_T_UINT, OFF(policy.password_min_length), "12",
	  8, 1024, NULL, "shortest password accepted at enrollment and change" },
	{ "policy", "external_recipients", CONF_T_ENUM, OFF(policy.external_recipients),
	  "correspondents", 0, 0, external_modes,
	  "who an external user may write to besides internal_domains: correspondents | any | none" },
	{ "policy", "password_kdf", CONF_T_ENUM, OFF(policy.password_kdf), "interactive", 0, 0,
	  kdf_levels, "Argon2id cost for new password wraps: interactive | moderate | sensitive" },

	{ "relay", "host", CONF_T_HOSTNAME, OFF(relay.host), "", 0, 253, NULL,
	  "where mail for internal domains, invitations and notifications go; "
	  "empty: write each mail to data_dir/outbox/<id>.eml" },
	{ "relay", "port", CONF_T_UINT, OFF(relay.port), "25", 1, 65535, NULL,
	  "relay host's SMTP port" },
	{ "relay", "starttls", CONF_T_ENUM, OFF(relay.starttls), "opportunistic", 0, 0,
	  starttls_modes, "required | opportunistic | off" },
	{ "relay", "retry_initial", CONF_T_DURATION, OFF(relay.retry_initial), "1m", 1, DAY,
	  NULL, "first retry delay after a temporary failure; doubles each time" },
	{ "relay", "retry_max", CONF_T_DURATION, OFF(relay.retry_max), "1h", 1, DAY, NULL,
	  "longest delay between retries" },
	{ "relay", "bounce_after", CONF_T_DURATION, OFF(relay.bounce_after), "5d", 1, 30 * DAY,
	  NULL, "give up and bounce to the sender after this long" },

	{ "limits", "max_connections", CONF_T_UINT, OFF(limits.max_connections), "10000", 1,
	  1000000, NULL, "open connections per listener" },
	{ "limits", "max_connections_per_ip", CONF_T_UINT, OFF(limits.max_connections_per_ip),
	  "100", 1, 1000000, NULL,
	  "open connections per listener from one address (mail apps open many)" },
	{ "limits", "auth_delay", CONF_T_DURATION, OFF(limits.auth_delay), "1s", 0, 60, NULL,
	  "delay after the first failed authentication; doubles with each failure" },
	{ "limits", "auth_delay_max", CONF_T_DURATION, OFF(limits.auth_delay_max), "15s", 0, 300,
	  NULL, "longest delay after failed authentications" },
	{ "limits", "auth_lock_after", CONF_T_UINT, OFF(limits.auth_lock_after), "10", 1,
	  1000000, NULL, "failures per address or account before a temporary lock" },
	{ "limits", "auth_lock_time", CONF_T_DURATION, OFF(limits.auth_lock_time), "15m", 1, DAY,
	  NULL, "how long a lock lasts" },
	{ "limits", "proxy_networks", CONF_T_NETS, OFF(limits.proxy_networks), "", 0, 0, NULL,
	  "load balancers allowed to send PROXY headers; empty: none" },
};

const size_t conf_keys_count = sizeof conf_keys / sizeof conf_keys[0];
