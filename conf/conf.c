/*
 * conf.c: load and validate the configuration. GKeyFile parses the INI
 * syntax; because it cannot say which line a key came from, a pre-scan
 * records the line of every section and key so that each error names
 * FILE:LINE. Defaults are strings in the key table, parsed by the same code
 * as the file's values, so the two can never disagree.
 */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf_private.h"
#include "gateway/gw_log.h"

#define CONF_FILE_MAX	(1024 * 1024)

struct conf_pos {
	char		*section;
	char		*key;		/* NULL for a section header */
	unsigned	 line;
};

struct conf_scan {
	struct conf_pos	*v;
	size_t		 n;
};

static char *
conf_errf(const char *path, unsigned line, const char *section, const char *key,
    const char *msg)
{
	if (key != NULL && section != NULL)
		return xasprintf("%s:%u: [%s] %s: %s", path, line, section, key, msg);
	if (key != NULL)
		return xasprintf("%s:%u: %s: %s", path, line, key, msg);
	if (section != NULL)
		return xasprintf("%s:%u: [%s]: %s", path, line, section, msg);
	return xasprintf("%s:%u: %s", path, line, msg);
}

static char *
conf_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void
conf_scan_free(struct conf_scan *sc)
{
	size_t i;

	for (i = 0; i < sc->n; i++) {
		free(sc->v[i].section);
		free(sc->v[i].key);
	}
	free(sc->v);
	sc->v = NULL;
	sc->n = 0;
}

static void
conf_scan_add(struct conf_scan *sc, const char *section, const char *key, unsigned line)
{
	sc->v = xreallocarray(sc->v, sc->n + 1, sizeof *sc->v);
	sc->v[sc->n].section = xstrdup(section);
	sc->v[sc->n].key = key != NULL ? xstrdup(key) : NULL;
	sc->v[sc->n].line = line;
	sc->n++;
}

static const struct conf_pos *
conf_scan_find(const struct conf_scan *sc, const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < sc->n; i++) {
		if (strcmp(sc->v[i].section, section) != 0)
			continue;
		if (key == NULL ? sc->v[i].key == NULL :
		    (sc->v[i].key != NULL && strcmp(sc->v[i].key, key) == 0))
			return &sc->v[i];
	}
	return NULL;
}

/* One line of the pre-scan: returns NULL or an error message. */
static char *
conf_scan_line(struct conf_scan *sc, const char *path, unsigned lineno, char *line,
    char **section)
{
	char *s = conf_trim(line), *eq, *key;
	const struct conf_pos *dup;

	if (*s == '\0' || *s == '#' || *s == ';')
		return NULL;
	if (*s == '[') {
		char *end = strchr(s, ']');

		if (end == NULL || end[1] != '\0' || end == s + 1)
			return conf_errf(path, lineno, NULL, NULL,
			    "malformed section header, expected [name]");
		*end = '\0';
		free(*section);
		*section = xstrdup(s + 1);
		/* A repeated section continues the first, as GKeyFile merges them. */
		if (conf_scan_find(sc, *section, NULL) == NULL)
			conf_scan_add(sc, *section, NULL, lineno);
		return NULL;
	}
	if ((eq = strchr(s, '=')) == NULL)
		return conf_errf(path, lineno, NULL, NULL,
		    "expected 'key = value', '[section]' or a comment");
	*eq = '\0';
	key = conf_trim(s);
	if (*section == NULL)
		return conf_errf(path, lineno, NULL, key, "key outside any [section]");
	if (*key == '\0')
		return conf_errf(path, lineno, *section, NULL, "empty key name");
	if ((dup = conf_scan_find(sc, *section, key)) != NULL) {
		char msg[96];

		snprintf(msg, sizeof msg, "key repeated (first at line %u)", dup->line);
		return conf_errf(path, lineno, *section, key, msg);
	}
	conf_scan_add(sc, *section, key, lineno);
	return NULL;
}

static char *
conf_scan_text(struct conf_scan *sc, const char *path, const char *text)
{
	char *copy = xstrdup(text), *p = copy, *section = NULL, *err = NULL;
	unsigned lineno = 0;

	while (p != NULL && err == NULL) {
		char *nl = strchr(p, '\n');

		if (nl != NULL)
			*nl = '\0';
		lineno++;
		err = conf_scan_line(sc, path, lineno, p, &section);
		p = nl != NULL ? nl + 1 : NULL;
	}
	free(section);
	free(copy);
	return err;
}

/* ---- value parsers ---- */

static int
conf_parse_u64(const char *s, const char **end_out, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*end_out = p;
	*out = v;
	return 0;
}

int
conf_parse_duration(const char *s, int64_t *out, const char **err_out)
{
	const char *end;
	uint64_t v, mul = 1;

	if (conf_parse_u64(s, &end, &v) != 0) {
		*err_out = "not a duration (a number with s, m, h or d)";
		return -1;
	}
	switch (*end) {
	case '\0': case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default:
		*err_out = "unknown duration unit (use s, m, h or d)";
		return -1;
	}
	if (*end != '\0' && end[1] != '\0') {
		*err_out = "trailing characters after the duration";
		return -1;
	}
	if (v > (uint64_t)INT64_MAX / mul) {
		*err_out = "duration too large";
		return -1;
	}
	*out = (int64_t)(v * mul);
	return 0;
}

int
conf_parse_size(const char *s, uint64_t *out, const char **err_out)
{
	const char *end;
	uint64_t v, mul = 1;

	if (conf_parse_u64(s, &end, &v) != 0) {
		*err_out = "not a size (a number with K, M or G)";
		return -1;
	}
	switch (*end) {
	case '\0': mul = 1; break;
	case 'k': case 'K': mul = 1024ull; break;
	case 'm': case 'M': mul = 1024ull * 1024; break;
	case 'g': case 'G': mul = 1024ull * 1024 * 1024; break;
	default:
		*err_out = "unknown size unit (use K, M or G)";
		return -1;
	}
	if (*end != '\0' && end[1] != '\0') {
		*err_out = "trailing characters after the size";
		return -1;
	}
	if (v > UINT64_MAX / mul) {
		*err_out = "size too large";
		return -1;
	}
	*out = v * mul;
	return 0;
}

static int
conf_parse_port(const char *s, uint16_t *out)
{
	const char *end;
	uint64_t v;

	if (conf_parse_u64(s, &end, &v) != 0 || *end != '\0' || v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int
conf_parse_addr(const char *s, struct conf_addr *out, const char **err_out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port_s;
	uint16_t port;
	size_t hlen;

	memset(out, 0, sizeof *out);
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':') {
			*err_out = "bad address, expected [ipv6]:port";
			return -1;
		}
		hlen = (size_t)(rb - s - 1);
		port_s = rb + 2;
		if (hlen == 0 || hlen >= sizeof host) {
			*err_out = "bad IPv6 address";
			return -1;
		}
		memcpy(host, s + 1, hlen);
	} else {
		if ((colon = strrchr(s, ':')) == NULL || strchr(s, ':') != colon) {
			*err_out = "bad address, expected ipv4:port or [ipv6]:port";
			return -1;
		}
		hlen = (size_t)(colon - s);
		port_s = colon + 1;
		if (hlen == 0 || hlen >= sizeof host) {
			*err_out = "bad IPv4 address";
			return -1;
		}
		memcpy(host, s, hlen);
	}
	host[hlen] = '\0';
	if (conf_parse_port(port_s, &port) != 0) {
		*err_out = "bad port (1 to 65535)";
		return -1;
	}
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*err_out = "bad IPv6 address";
			return -1;
		}
		out->len = sizeof *sin6;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (strcmp(host, "*") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*err_out = "bad IPv4 address";
			return -1;
		}
		out->len = sizeof *sin;
	}
	snprintf(out->text, sizeof out->text, "%s", s);
	return 0;
}

static bool
conf_host_bits_clear(const uint8_t *addr, unsigned bytes, unsigned prefix)
{
	unsigned i;

	for (i = 0; i < bytes; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : (prefix > 8 * i ? prefix - 8 * i : 0);
		uint8_t mask = keep == 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		if ((addr[i] & (uint8_t)~mask) != 0)
			return false;
	}
	return true;
}

int
conf_parse_net(const char *s, struct conf_net *out, const char **err_out)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/'), *end;
	size_t hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	uint64_t prefix;
	unsigned bytes;

	memset(out, 0, sizeof *out);
	if (hlen == 0 || hlen >= sizeof host) {
		*err_out = "bad network, expected address/prefix";
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		bytes = 4;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		bytes = 16;
	} else {
		*err_out = "bad network address";
		return -1;
	}
	prefix = bytes * 8;
	if (slash != NULL && (conf_parse_u64(slash + 1, &end, &prefix) != 0 || *end != '\0' ||
	    prefix > bytes * 8)) {
		*err_out = out->family == AF_INET ? "bad CIDR prefix (0 to 32)" :
		    "bad CIDR prefix (0 to 128)";
		return -1;
	}
	out->prefix = (unsigned)prefix;
	if (!conf_host_bits_clear(out->addr, bytes, out->prefix)) {
		*err_out = "bad CIDR: address has bits set beyond the prefix";
		return -1;
	}
	return 0;
}

static bool
conf_valid_hostname(const char *s)
{
	size_t label = 0, total = 0;
	const char *p;

	for (p = s; *p != '\0'; p++, total++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (label == 0 && c == '-')
				return false;
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return total > 0 && total <= 253 && label > 0 && p[-1] != '-';
}

int
conf_parse_domain(const char *s, char **out, const char **err_out)
{
	const char *name = s[0] == '.' ? s + 1 : s;

	if (!conf_valid_hostname(name)) {
		*err_out = "bad domain name";
		return -1;
	}
	*out = xstrdup(s);
	sg_ascii_lower(*out, strlen(*out));
	return 0;
}

static bool
conf_net_match_one(const struct conf_net *n, const uint8_t *addr)
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (memcmp(n->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((n->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool
conf_net_match(const struct conf_net_list *nets, const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t a4[4], a6[16];
	bool have4 = false, have6 = false;
	size_t i;

	if (sa->sa_family == AF_INET) {
		memcpy(a4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		have4 = true;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(a6, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		have6 = true;
		if (memcmp(a6, v4mapped, 12) == 0) {
			memcpy(a4, a6 + 12, 4);
			have4 = true;
		}
	}
	for (i = 0; i < nets->n; i++) {
		const struct conf_net *n = &nets->v[i];

		if ((n->family == AF_INET && have4 && conf_net_match_one(n, a4)) ||
		    (n->family == AF_INET6 && have6 && conf_net_match_one(n, a6)))
			return true;
	}
	return false;
}

bool
conf_domain_match(const struct conf_str_list *domains, const char *domain, size_t len)
{
	size_t i;

	for (i = 0; i < domains->n; i++) {
		const char *d = domains->v[i];
		size_t dl = strlen(d);

		if (d[0] == '.') {
			/* ".example.com" matches "a.example.com" and "example.com" */
			if (len == dl - 1 && sg_ascii_ieq(domain, len, d + 1))
				return true;
			if (len > dl && sg_ascii_ieq(domain + len - dl, dl, d))
				return true;
		} else if (sg_ascii_ieq(domain, len, d))
			return true;
	}
	return false;
}

/* ---- the table-driven setter ---- */

static void *
conf_field(struct conf *c, const struct conf_key *k)
{
	return (char *)c + k->offset;
}

static const void *
conf_cfield(const struct conf *c, const struct conf_key *k)
{
	return (const char *)c + k->offset;
}

static void
conf_free_field(struct conf *c, const struct conf_key *k)
{
	void *f = conf_field(c, k);
	size_t i;

	switch (k->type) {
	case CONF_T_STRING: case CONF_T_HOSTNAME: case CONF_T_PATH: case CONF_T_URL:
		free(*(char **)f);
		*(char **)f = NULL;
		break;
	case CONF_T_ADDRS:
		free(((struct conf_addr_list *)f)->v);
		memset(f, 0, sizeof(struct conf_addr_list));
		break;
	case CONF_T_NETS:
		free(((struct conf_net_list *)f)->v);
		memset(f, 0, sizeof(struct conf_net_list));
		break;
	case CONF_T_DOMAINS:
		for (i = 0; i < ((struct conf_str_list *)f)->n; i++)
			free(((struct conf_str_list *)f)->v[i]);
		free(((struct conf_str_list *)f)->v);
		memset(f, 0, sizeof(struct conf_str_list));
		break;
	default:
		break;
	}
}

/* Split a comma-separated list; calls one() for each trimmed, non-empty item. */
static int
conf_each_item(const char *value, int (*one)(const char *item, void *out, const char **err),
    void *out, const char **err_out)
{
	char *copy = xstrdup(value), *p = copy, *comma;
	int rc = 0;

	if (*conf_trim(copy) == '\0') {	/* an empty list is allowed */
		free(copy);
		return 0;
	}
	for (; rc == 0 && p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		char *item;

		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		item = conf_trim(p);
		if (*item == '\0') {
			*err_out = "empty item in list";
			rc = -1;
		} else
			rc = one(item, out, err_out);
	}
	free(copy);
	return rc;
}

static int
conf_add_addr(const char *item, void *out, const char **err)
{
	struct conf_addr_list *l = out;
	struct conf_addr a;

	if (conf_parse_addr(item, &a, err) != 0)
		return -1;
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = a;
	return 0;
}

static int
conf_add_net(const char *item, void *out, const char **err)
{
	struct conf_net_list *l = out;
	struct conf_net n;

	if (conf_parse_net(item, &n, err) != 0)
		return -1;
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = n;
	return 0;
}

static int
conf_add_domain(const char *item, void *out, const char **err)
{
	struct conf_str_list *l = out;
	char *d;

	if (conf_parse_domain(item, &d, err) != 0)
		return -1;
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = d;
	return 0;
}

static int
conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < SG_NITEMS(yes); i++) {
		if (sg_ascii_ieq(s, strlen(s), yes[i])) {
			*out = true;
			return 0;
		}
		if (sg_ascii_ieq(s, strlen(s), no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int
conf_make_path(const char *v, char **out)
{
	char cwd[PATH_MAX];

	if (v[0] == '\0' || v[0] == '/') {
		*out = xstrdup(v);
		return 0;
	}
	if (getcwd(cwd, sizeof cwd) == NULL)
		return -1;
	if (v[0] == '.' && v[1] == '/')
		v += 2;
	*out = xasprintf("%s/%s", cwd, v);
	return 0;
}

static int
conf_set_number(struct conf *c, const struct conf_key *k, const char *v, const char **err)
{
	void *f = conf_field(c, k);
	const char *end;
	uint64_t n;
	int64_t d;

	if (k->type == CONF_T_UINT) {
		if (conf_parse_u64(v, &end, &n) != 0 || *end != '\0') {
			*err = "not a whole number";
			return -1;
		}
	} else if (k->type == CONF_T_DURATION) {
		if (conf_parse_duration(v, &d, err) != 0)
			return -1;
		n = (uint64_t)d;
	} else if (conf_parse_size(v, &n, err) != 0)
		return -1;
	if (n < k->min || n > k->max) {
		*err = "value out of range";
		return -1;
	}
	if (k->type == CONF_T_UINT)
		*(unsigned *)f = (unsigned)n;
	else if (k->type == CONF_T_DURATION)
		*(int64_t *)f = (int64_t)n;
	else
		*(uint64_t *)f = n;
	return 0;
}

static int
conf_set_text(struct conf *c, const struct conf_key *k, const char *v, const char **err)
{
	char **f = conf_field(c, k);
	size_t len = strlen(v), i;

	if (len < k->min || len > k->max) {
		*err = len == 0 ? "must not be empty" : "too long";
		return -1;
	}
	/* A CR inside public_url would reach mail and HTTP headers, and the
	 * trimming of a reload would change the value (found by fuzz_conf). */
	for (i = 0; i < len; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			*err = "control characters are not allowed";
			return -1;
		}
	}
	if (k->type == CONF_T_HOSTNAME && len > 0 && !conf_valid_hostname(v)) {
		struct in6_addr a6;

		if (inet_pton(AF_INET6, v, &a6) != 1) {
			*err = "bad host name";
			return -1;
		}
	}
	if (k->type == CONF_T_URL) {
		const char *host = strncmp(v, "https://", 8) == 0 ? v + 8 :
		    strncmp(v, "http://", 7) == 0 ? v + 7 : NULL;

		if (host == NULL || *host == '\0' || *host == '/' || strpbrk(v, " \t\"<>") != NULL) {
			*err = "bad URL, expected https://host[:port][/path]";
			return -1;
		}
	}
	free(*f);
	*f = NULL;
	if (k->type == CONF_T_PATH) {
		if (conf_make_path(v, f) != 0) {
			*err = "cannot resolve the working directory";
			return -1;
		}
		return 0;
	}
	*f = xstrdup(v);
	if (k->type == CONF_T_URL) {
		while (len > 0 && (*f)[len - 1] == '/')
			(*f)[--len] = '\0';
	}
	if (k->type == CONF_T_HOSTNAME)
		sg_ascii_lower(*f, len);
	return 0;
}

static int
conf_set(struct conf *c, const struct conf_key *k, const char *v, const char **err)
{
	void *f = conf_field(c, k);
	size_t i;

	switch (k->type) {
	case CONF_T_STRING: case CONF_T_HOSTNAME: case CONF_T_PATH: case CONF_T_URL:
		return conf_set_text(c, k, v, err);
	case CONF_T_BOOL:
		if (conf_parse_bool(v, f) != 0) {
			*err = "not a boolean (yes or no)";
			return -1;
		}
		return 0;
	case CONF_T_UINT: case CONF_T_DURATION: case CONF_T_SIZE:
		return conf_set_number(c, k, v, err);
	case CONF_T_ENUM:
		for (i = 0; k->names[i] != NULL; i++) {
			if (strcmp(v, k->names[i]) == 0) {
				*(int *)f = (int)i;
				return 0;
			}
		}
		*err = "not one of the allowed values";
		return -1;
	case CONF_T_ADDRS:
		conf_free_field(c, k);
		return conf_each_item(v, conf_add_addr, f, err);
	case CONF_T_NETS:
		conf_free_field(c, k);
		return conf_each_item(v, conf_add_net, f, err);
	case CONF_T_DOMAINS:
		conf_free_field(c, k);
		return conf_each_item(v, conf_add_domain, f, err);
	}
	*err = "unknown type";
	return -1;
}

static const struct conf_key *
conf_key_find(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < conf_keys_count; i++) {
		if (strcmp(conf_keys[i].section, section) == 0 &&
		    (name == NULL || strcmp(conf_keys[i].name, name) == 0))
			return &conf_keys[i];
	}
	return NULL;
}

static struct conf *
conf_new_defaults(void)
{
	struct conf *c = xcalloc(1, sizeof *c);
	const char *err = NULL;
	size_t i;

	for (i = 0; i < conf_keys_count; i++) {
		if (conf_set(c, &conf_keys[i], conf_keys[i].def, &err) != 0)
			fatal("event=bad_default key=%s.%s err=\"%s\"", conf_keys[i].section,
			    conf_keys[i].name, err);
	}
	return c;
}

/* ---- loading ---- */

static char *
conf_apply_group(struct conf *c, GKeyFile *kf, const char *path, const struct conf_scan *sc,
    const char *group)
{
	const struct conf_pos *gpos = conf_scan_find(sc, group, NULL);
	gchar **keys = g_key_file_get_keys(kf, group, NULL, NULL);
	char *err = NULL;
	size_t i;

	if (conf_key_find(group, NULL) == NULL)
		err = conf_errf(path, gpos != NULL ? gpos->line : 0, group, NULL, "unknown section");
	for (i = 0; err == NULL && keys != NULL && keys[i] != NULL; i++) {
		const struct conf_pos *kpos = conf_scan_find(sc, group, keys[i]);
		const struct conf_key *k = conf_key_find(group, keys[i]);
		unsigned line = kpos != NULL ? kpos->line : 0;
		gchar *raw;
		const char *why = NULL;

		if (k == NULL) {
			err = conf_errf(path, line, group, keys[i], "unknown key");
			break;
		}
		raw = g_key_file_get_value(kf, group, keys[i], NULL);
		if (raw == NULL || conf_set(c, k, conf_trim(raw), &why) != 0) {
			char *msg = xasprintf("%s: \"%s\"", why != NULL ? why : "unreadable value",
			    raw != NULL ? conf_trim(raw) : "");

			err = conf_errf(path, line, group, keys[i], msg);
			free(msg);
		}
		g_free(raw);
	}
	g_strfreev(keys);
	return err;
}

/* Apply the INI text (NUL-terminated at text[len]); name is for messages. */
static char *
conf_apply_text(struct conf *c, const char *name, const char *text, size_t len)
{
	struct conf_scan sc = { 0 };
	GKeyFile *kf = NULL;
	gchar **groups = NULL;
	GError *gerr = NULL;
	char *err = NULL;
	size_t i;

	if (len > CONF_FILE_MAX || memchr(text, '\0', len) != NULL)
		err = xasprintf("%s: not a configuration file (too large or binary)", name);
	if (err == NULL)
		err = conf_scan_text(&sc, name, text);
	if (err == NULL) {
		kf = g_key_file_new();
		if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &gerr)) {
			err = xasprintf("%s: %s", name, gerr->message);
			g_error_free(gerr);
		}
	}
	if (err == NULL)
		groups = g_key_file_get_groups(kf, NULL);
	for (i = 0; err == NULL && groups != NULL && groups[i] != NULL; i++)
		err = conf_apply_group(c, kf, name, &sc, groups[i]);
	g_strfreev(groups);
	if (kf != NULL)
		g_key_file_free(kf);
	conf_scan_free(&sc);
	return err;
}

static char *
conf_apply_file(struct conf *c, const char *path)
{
	gchar *text = NULL;
	gsize len = 0;
	GError *gerr = NULL;
	char *err;

	if (!g_file_get_contents(path, &text, &len, &gerr)) {
		err = xasprintf("%s: cannot read: %s", path, gerr->message);
		g_error_free(gerr);
		return err;
	}
	err = conf_apply_text(c, path, text, len);
	g_free(text);
	return err;
}

/* Two listeners on one address would fail at bind time with a vaguer error. */
static char *
conf_check_listeners(const struct conf *c, const char *path)
{
	const struct conf_addr_list *lists[] = { &c->smtp.listen, &c->submission.listen,
		&c->submission.listen_tls, &c->imap.listen, &c->imap.listen_tls, &c->portal.listen };
	static const char *const names[] = { "smtp", "submission", "submission", "imap", "imap",
		"portal" };
	size_t a, b, i, j;

	for (a = 0; a < SG_NITEMS(lists); a++)
		for (i = 0; i < lists[a]->n; i++)
			for (b = a; b < SG_NITEMS(lists); b++)
				for (j = (b == a ? i + 1 : 0); j < lists[b]->n; j++) {
					const struct conf_addr *x = &lists[a]->v[i], *y = &lists[b]->v[j];

					if (x->len == y->len && memcmp(&x->ss, &y->ss, x->len) == 0)
						return xasprintf("%s: [%s] and [%s] both listen on %s",
						    path, names[a], names[b], x->text);
				}
	return NULL;
}

static void
conf_finish(struct conf *c)
{
	if (c->tls.cert[0] == '\0') {
		free(c->tls.cert);
		c->tls.cert = xasprintf("%s/tls/cert.pem", c->gateway.data_dir);
	}
	if (c->tls.key[0] == '\0') {
		free(c->tls.key);
		c->tls.key = xasprintf("%s/tls/key.pem", c->gateway.data_dir);
	}
}

const char *
conf_default_path(void)
{
	if (access(CONF_DEFAULT_LOCAL, F_OK) == 0)
		return CONF_DEFAULT_LOCAL;
	if (access(CONF_DEFAULT_SYSTEM, F_OK) == 0)
		return CONF_DEFAULT_SYSTEM;
	return NULL;
}

/* Check the whole, then finish it, or free it and hand back err. */
static struct conf *
conf_complete(struct conf *c, const char *name, char *err, char **err_out)
{
	if (err == NULL)
		err = conf_check_listeners(c, name);
	if (err != NULL) {
		*err_out = err;
		conf_free(&c);
		return NULL;
	}
	conf_finish(c);
	return c;
}

struct conf *
conf_load(const char *path, char **err_out)
{
	struct conf *c = conf_new_defaults();
	char *err = NULL;

	*err_out = NULL;
	if (path != NULL) {
		c->path = xstrdup(path);
		err = conf_apply_file(c, path);
	}
	return conf_complete(c, path != NULL ? path : "(default)", err, err_out);
}

struct conf *
conf_load_text(const char *name, const char *text, size_t len, char **err_out)
{
	struct conf *c = conf_new_defaults();
	char *copy;
	char *err;

	*err_out = NULL;
	if (len > CONF_FILE_MAX) {
		err = xasprintf("%s: not a configuration file (too large or binary)", name);
	} else {
		copy = xmalloc(len + 1);	/* bounds: len <= CONF_FILE_MAX */
		memcpy(copy, text, len);
		copy[len] = '\0';
		err = conf_apply_text(c, name, copy, len);
		free(copy);
	}
	return conf_complete(c, name, err, err_out);
}

void
conf_free(struct conf **cp)
{
	struct conf *c = *cp;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < conf_keys_count; i++)
		conf_free_field(c, &conf_keys[i]);
	free(c->path);
	free(c);
	*cp = NULL;
}

/* ---- printing ---- */

static void
conf_print_scaled(FILE *out, uint64_t v, const uint64_t *units, const char *suffixes)
{
	int i;

	for (i = 3; i > 0; i--) {
		if (units[i] != 0 && v != 0 && v % units[i] == 0) {
			fprintf(out, "%llu%c", (unsigned long long)(v / units[i]), suffixes[i]);
			return;
		}
	}
	fprintf(out, "%llu%s", (unsigned long long)v, suffixes[0] == 's' ? "s" : "");
}

static void
conf_print_net(FILE *out, const struct conf_net *n)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(n->family, n->addr, buf, sizeof buf);
	fprintf(out, "%s/%u", buf, n->prefix);
}

static void
conf_print_value(FILE *out, const struct conf *c, const struct conf_key *k)
{
	static const uint64_t dur_units[] = { 1, 60, 3600, 86400 };
	static const uint64_t size_units[] = { 1, 1024, 1024 * 1024, 1024 * 1024 * 1024 };
	const void *f = conf_cfield(c, k);
	size_t i;

	switch (k->type) {
	case CONF_T_STRING: case CONF_T_HOSTNAME: case CONF_T_PATH: case CONF_T_URL:
		fputs(*(char *const *)f, out);
		break;
	case CONF_T_BOOL: fputs(*(const bool *)f ? "yes" : "no", out); break;
	case CONF_T_UINT: fprintf(out, "%u", *(const unsigned *)f); break;
	case CONF_T_DURATION:
		conf_print_scaled(out, (uint64_t)*(const int64_t *)f, dur_units, "smhd");
		break;
	case CONF_T_SIZE: conf_print_scaled(out, *(const uint64_t *)f, size_units, " KMG"); break;
	case CONF_T_ENUM: fputs(k->names[*(const int *)f], out); break;
	case CONF_T_ADDRS:
		for (i = 0; i < ((const struct conf_addr_list *)f)->n; i++)
			fprintf(out, "%s%s", i ? ", " : "", ((const struct conf_addr_list *)f)->v[i].text);
		break;
	case CONF_T_NETS:
		for (i = 0; i < ((const struct conf_net_list *)f)->n; i++) {
			fputs(i ? ", " : "", out);
			conf_print_net(out, &((const struct conf_net_list *)f)->v[i]);
		}
		break;
	case CONF_T_DOMAINS:
		for (i = 0; i < ((const struct conf_str_list *)f)->n; i++)
			fprintf(out, "%s%s", i ? ", " : "", ((const struct conf_str_list *)f)->v[i]);
		break;
	}
}

void
conf_print(const struct conf *c, FILE *out)
{
	const char *section = "";
	size_t i;

	fprintf(out, "# effective configuration, from %s\n", c->path != NULL ? c->path :
	    "the embedded default");
	for (i = 0; i < conf_keys_count; i++) {
		const struct conf_key *k = &conf_keys[i];

		if (strcmp(section, k->section) != 0) {
			fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
			section = k->section;
		}
		fprintf(out, "# %s\n%s = ", k->doc, k->name);
		conf_print_value(out, c, k);
		fputc('\n', out);
	}
}
