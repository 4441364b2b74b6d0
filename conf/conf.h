/*
 * conf.h: sealgate's configuration, loaded from an INI file with GLib's
 * GKeyFile and validated against the key table in conf_keys.c. Once loaded
 * the struct is read-only and may be shared by every thread.
 */
#ifndef CONF_H
#define CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "gateway/sg.h"

#define CONF_DEFAULT_LOCAL	"./sealgate.conf"
#define CONF_DEFAULT_SYSTEM	"/etc/sealgate/sealgate.conf"
#define CONF_ADDR_TEXT_MAX	64

/* One listen address: "127.0.0.1:25", "[::1]:143", "*:25", "[::]:25". */
struct conf_addr {
	char			text[CONF_ADDR_TEXT_MAX];
	struct sockaddr_storage	ss;
	socklen_t		len;
};

struct conf_addr_list {
	size_t		  n;
	struct conf_addr *v;
};

/* One network: "10.0.0.0/8", "::1/128"; a bare address is a host route. */
struct conf_net {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		addr[16];
	unsigned	prefix;
};

struct conf_net_list {
	size_t		 n;
	struct conf_net	*v;
};

/* Lowercased domains; an entry starting with '.' matches every subdomain. */
struct conf_str_list {
	size_t	  n;
	char	**v;
};

enum conf_tls_version { CONF_TLS_1_2, CONF_TLS_1_3 };
enum conf_starttls { CONF_STARTTLS_REQUIRED, CONF_STARTTLS_OPPORTUNISTIC, CONF_STARTTLS_OFF };
enum conf_external { CONF_EXT_CORRESPONDENTS, CONF_EXT_ANY, CONF_EXT_NONE };
enum conf_kdf { CONF_KDF_INTERACTIVE, CONF_KDF_MODERATE, CONF_KDF_SENSITIVE };

struct conf {
	char	*path;			/* file loaded, or NULL for the embedded default */

	struct {
		char		*hostname;
		char		*data_dir;	/* absolute after loading */
		int		 log_level;	/* enum log_level */
		int		 log;		/* enum log_target */
		char		*user;
		unsigned	 workers;	/* 0: one per CPU */
	} gateway;

	struct {
		char		*cert;		/* absolute; data_dir/tls/cert.pem when empty */
		char		*key;
		int		 min_version;	/* enum conf_tls_version */
	} tls;

	struct {
		struct conf_addr_list	listen;
		struct conf_net_list	trusted_networks;
		uint64_t		max_message_size;
		unsigned		max_recipients;
		bool			proxy_protocol;
	} smtp;

	struct {
		struct conf_addr_list	listen;
		struct conf_addr_list	listen_tls;
		unsigned		max_messages_per_hour;
		unsigned		max_recipients;
		bool			proxy_protocol;
	} submission;

	struct {
		struct conf_addr_list	listen;
		struct conf_addr_list	listen_tls;
		int64_t			keepalive;	/* seconds between IDLE keepalives */
		int64_t			autologout;	/* seconds idle outside IDLE */
		uint64_t		cache_size;	/* listing caches, all accounts */
		bool			proxy_protocol;
	} imap;

	struct {
		struct conf_addr_list	listen;
		char			*public_url;	/* no trailing slash */
		struct conf_net_list	metrics_networks;
	} portal;

	struct {
		struct conf_str_list	internal_domains;
		int64_t			invite_ttl;
		int64_t			retention;
		bool			notify_enrolled;
		bool			notify_subject;
		unsigned		password_min_length;
		int			external_recipients;	/* enum conf_external */
		int			password_kdf;		/* enum conf_kdf */
	} policy;

	struct {
		char		*host;		/* empty: write to data_dir/outbox */
		unsigned	 port;
		int		 starttls;	/* enum conf_starttls */
		int64_t		 retry_initial;
		int64_t		 retry_max;
		int64_t		 bounce_after;
	} relay;

	struct {
		unsigned		max_connections;	/* per listener */
		unsigned		max_connections_per_ip;	/* per listener */
		int64_t			auth_delay;		/* first delay after a failure */
		int64_t			auth_delay_max;
		unsigned		auth_lock_after;	/* failures before a lock */
		int64_t			auth_lock_time;
		struct conf_net_list	proxy_networks;		/* who may send PROXY headers */
	} limits;
};

/*
 * Load FILE, or the embedded default when path is NULL. On error returns
 * NULL and sets *err_out to "FILE:LINE: [section] key: message" (caller
 * frees with free()).
 */
SG_NODISCARD struct conf *conf_load(const char *path, char **err_out);

/*
 * Load the INI text (len bytes; need not be NUL-terminated) as if it were
 * a file called name, which only names it in messages; c->path stays NULL.
 * Errors as conf_load(). Relative data_dir values resolve against the
 * working directory, as in a file.
 */
SG_NODISCARD struct conf *conf_load_text(const char *name, const char *text, size_t len,
    char **err_out);

/* The configuration file a command uses when -c is not given, or NULL. */
const char *conf_default_path(void);

void conf_free(struct conf **c);

/* Print the effective configuration as a loadable INI file. */
void conf_print(const struct conf *c, FILE *out);

/* Value parsers, exposed for tests. All return 0, or -1 with *err_out set
 * to a static description. */
int conf_parse_duration(const char *s, int64_t *out, const char **err_out);
int conf_parse_size(const char *s, uint64_t *out, const char **err_out);
int conf_parse_addr(const char *s, struct conf_addr *out, const char **err_out);
int conf_parse_net(const char *s, struct conf_net *out, const char **err_out);
int conf_parse_domain(const char *s, char **out, const char **err_out);

/* Is the address in one of the networks? */
bool conf_net_match(const struct conf_net_list *nets, const struct sockaddr *sa);

/* Is the (lowercase or not) domain one of the list's? */
bool conf_domain_match(const struct conf_str_list *domains, const char *domain, size_t len);

#endif
