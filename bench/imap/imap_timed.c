/*
 * imap_timed.c: bench/imap's client for the timed listings. Python's ssl
 * module spends about 13 ms of CPU taking in a 5 MB listing, which is more
 * than sealgate spends producing it, so the Python client measured itself;
 * this one reads with OpenSSL into a large buffer and only looks for line
 * ends, literals and the tagged reply.
 *
 *   imap_timed PORT CAFILE USER PASSWORD
 *
 * Logs in over implicit TLS on 127.0.0.1:PORT, then reads command groups
 * from stdin, one per line, commands separated by tabs. For each group it
 * sends the commands one after the other, each waiting for its tagged
 * reply, and prints "<seconds> <untagged FETCH lines> <bytes> OK|NO|BAD".
 * It exits at the end of stdin, 1 on any error.
 */
#define _GNU_SOURCE		/* memmem */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE	(1u << 20)

struct conn {
	SSL		*ssl;
	char		*buf;
	size_t		 len, pos;	/* bytes held; first not yet scanned */
	size_t		 skip;		/* literal bytes still to pass over */
	unsigned	 tag;
};

struct reply {
	unsigned long	 fetches;
	unsigned long	 bytes;
	char		 status[4];
};

static void
die(const char *what)
{
	fprintf(stderr, "imap_timed: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fill(struct conn *c)
{
	int n;

	if (c->pos > 0) {		/* keep only what is not scanned yet */
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == BUF_SIZE)
		die("a line longer than the buffer");
	n = SSL_read(c->ssl, c->buf + c->len, (int)(BUF_SIZE - c->len));
	if (n <= 0)
		die("connection closed");
	c->len += (size_t)n;
}

/* The literal size announced at the end of the line [start, end), or -1. */
static long
literal_at_end(const char *start, const char *end)
{
	const char *p = end;
	long n = 0, mult = 1;

	if (p == start || p[-1] != '}')
		return -1;
	p--;
	if (p > start && p[-1] == '+')
		p--;
	if (p == start || p[-1] < '0' || p[-1] > '9')
		return -1;
	while (p > start && p[-1] >= '0' && p[-1] <= '9') {
		n += (p[-1] - '0') * mult;
		mult *= 10;
		p--;
	}
	return p > start && p[-1] == '{' ? n : -1;
}

/* Reads to the tagged line of tag; counts the untagged FETCH lines. */
static void
read_reply(struct conn *c, const char *tag, struct reply *r)
{
	size_t taglen = strlen(tag);
	int line_start = 1;

	memset(r, 0, sizeof *r);
	for (;;) {
		char *p, *eol;
		long lit;

		if (c->skip > 0) {
			size_t k = c->len - c->pos < c->skip ? c->len - c->pos : c->skip;

			c->pos += k;
			c->skip -= k;
			r->bytes += k;
			if (c->skip > 0) {
				fill(c);
				continue;
			}
		}
		p = c->buf + c->pos;
		eol = memchr(p, '\n', c->len - c->pos);
		if (eol == NULL) {
			fill(c);
			continue;
		}
		if (line_start && eol - p > 8 && p[0] == '*' && memmem(p, (size_t)(eol - p), " FETCH (", 8))
			r->fetches++;
		if (line_start && (size_t)(eol - p) > taglen && memcmp(p, tag, taglen) == 0 &&
		    p[taglen] == ' ') {
			p += taglen + 1;
			strcpy(r->status, strncmp(p, "OK", 2) == 0 ? "OK" :
			    strncmp(p, "NO", 2) == 0 ? "NO" : "BAD");
			r->bytes += (unsigned long)(eol + 1 - p);
			c->pos = (size_t)(eol + 1 - c->buf);
			return;
		}
		lit = literal_at_end(p, eol > p && eol[-1] == '\r' ? eol - 1 : eol);
		r->bytes += (unsigned long)(eol + 1 - p);
		c->pos = (size_t)(eol + 1 - c->buf);
		line_start = lit < 0;
		if (lit > 0)
			c->skip = (size_t)lit;
	}
}

static void
command(struct conn *c, const char *text, struct reply *r)
{
	char line[8192], tag[16];
	int n;

	snprintf(tag, sizeof tag, "T%u", ++c->tag);
	n = snprintf(line, sizeof line, "%s %s\r\n", tag, text);
	if (n < 0 || (size_t)n >= sizeof line)
		die("command too long");
	if (SSL_write(c->ssl, line, n) != n)
		die("write failed");
	read_reply(c, tag, r);
}

static SSL *
connect_tls(int port, const char *cafile)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	SSL *ssl;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ctx == NULL || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("connect failed");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
		die("cannot load the CA file");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1)
		die("TLS handshake failed");
	return ssl;
}

static void
run_group(struct conn *c, char *group)
{
	struct reply r, total = { 0 };
	char *cmd, *save = NULL;
	double t0 = now();

	strcpy(total.status, "OK");
	for (cmd = strtok_r(group, "\t", &save); cmd != NULL; cmd = strtok_r(NULL, "\t", &save)) {
		command(c, cmd, &r);
		total.fetches += r.fetches;
		total.bytes += r.bytes;
		if (strcmp(r.status, "OK") != 0)
			memcpy(total.status, r.status, sizeof r.status);
	}
	printf("%.6f %lu %lu %s\n", now() - t0, total.fetches, total.bytes, total.status);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct conn c = { 0 };
	struct reply r;
	char line[16384];

	if (argc != 5) {
		fprintf(stderr, "usage: imap_timed PORT CAFILE USER PASSWORD\n");
		return 2;
	}
	if ((c.buf = malloc(BUF_SIZE)) == NULL)
		die("out of memory");
	c.ssl = connect_tls(atoi(argv[1]), argv[2]);
	read_reply(&c, "*", &r);		/* the greeting */
	snprintf(line, sizeof line, "LOGIN \"%s\" \"%s\"", argv[3], argv[4]);
	command(&c, line, &r);
	if (strcmp(r.status, "OK") != 0)
		die("LOGIN refused");
	while (fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0')
			run_group(&c, line);
	}
	command(&c, "LOGOUT", &r);
	return 0;
}
