/*
 * gw_proxy.c: the PROXY protocol header parser (see gw_proxy.h). Strict:
 * the header comes from a load balancer we trust, so anything it would not
 * send (bare LF, double spaces, leading zeros in ports, a v2 version other
 * than 2) is an error rather than something to guess at.
 */
#include "gateway/gw_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "gateway/sg.h"

#define GW_PROXY_V1_TOKENS	6	/* PROXY proto src dst sport dport */
#define GW_PROXY_ADDR_TEXT_MAX	45	/* longest IPv6 text form (INET6_ADDRSTRLEN - 1) */

static const uint8_t gw_proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char gw_proxy_v1_sig[] = "PROXY ";

/* Is buf[0..len) a prefix of sig[0..siglen)? (len may exceed siglen.) */
static bool
gw_proxy_prefix(const uint8_t *buf, size_t len, const void *sig, size_t siglen)
{
	return memcmp(buf, sig, SG_MIN(len, siglen)) == 0;
}

/* A decimal port: 1 to 5 digits, no leading zero (except "0"), <= 65535. */
static bool
gw_proxy_port(const char *s, size_t len, uint16_t *out)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static bool
gw_proxy_addr(int family, const char *s, size_t len, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	char text[GW_PROXY_ADDR_TEXT_MAX + 1];

	if (len == 0 || len > GW_PROXY_ADDR_TEXT_MAX)
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof *sin;
		return inet_pton(AF_INET, text, &sin->sin_addr) == 1;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof *sin6;
		return inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1;
	}
}

/* Parse one whole v1 line (CRLF excluded), "PROXY TCP4 a b p q". */
static enum gw_proxy_rc
gw_proxy_v1_line(const char *line, size_t len, struct gw_proxy_hdr *out)
{
	const char *tok[GW_PROXY_V1_TOKENS];
	size_t toklen[GW_PROXY_V1_TOKENS], n = 0, i, start = 0;
	uint16_t sport, dport;
	int family;

	for (i = 0; i <= len && n < GW_PROXY_V1_TOKENS; i++) {
		if (i < len && line[i] != ' ')
			continue;
		tok[n] = line + start;
		toklen[n++] = i - start;
		start = i + 1;
	}
	/* spec 2.1: UNKNOWN ignores the rest of the line */
	if (n >= 2 && toklen[1] == 7 && memcmp(tok[1], "UNKNOWN", 7) == 0) {
		out->has_addr = false;
		return GW_PROXY_OK;
	}
	if (n != GW_PROXY_V1_TOKENS || i <= len)
		return GW_PROXY_INVALID;
	if (toklen[1] == 4 && memcmp(tok[1], "TCP4", 4) == 0)
		family = AF_INET;
	else if (toklen[1] == 4 && memcmp(tok[1], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return GW_PROXY_INVALID;
	if (!gw_proxy_port(tok[4], toklen[4], &sport) || !gw_proxy_port(tok[5], toklen[5], &dport) ||
	    !gw_proxy_addr(family, tok[2], toklen[2], sport, &out->src, &out->srclen) ||
	    !gw_proxy_addr(family, tok[3], toklen[3], dport, &out->dst, &out->dstlen))
		return GW_PROXY_INVALID;
	out->has_addr = true;
	return GW_PROXY_OK;
}

static enum gw_proxy_rc
gw_proxy_v1(const uint8_t *buf, size_t len, struct gw_proxy_hdr *out, size_t *need_out)
{
	size_t i, max = SG_MIN(len, (size_t)GW_PROXY_V1_MAX);

	for (i = 0; i < max; i++) {
		if (buf[i] == '\r' && i + 1 < max && buf[i + 1] == '\n') {
			out->version = 1;
			out->len = i + 2;
			return gw_proxy_v1_line((const char *)buf, i, out);
		}
		/* printable US-ASCII only; a CR must be followed by LF */
		if ((buf[i] < 0x20 || buf[i] > 0x7e) && !(buf[i] == '\r' && i + 1 == max))
			return GW_PROXY_INVALID;
	}
	if (len >= GW_PROXY_V1_MAX)
		return GW_PROXY_INVALID;
	/* The line ends with CRLF: after a CR one byte may finish it; otherwise
	 * two are needed. Reading no more keeps us from passing its end. */
	*need_out = len < GW_PROXY_V1_MIN ? GW_PROXY_V1_MIN - len : buf[len - 1] == '\r' ? 1 : 2;
	if (*need_out > GW_PROXY_V1_MAX - len)
		*need_out = GW_PROXY_V1_MAX - len;
	return GW_PROXY_MORE;
}

static void
gw_proxy_v2_inet(const uint8_t *p, struct gw_proxy_hdr *out)
{
	struct sockaddr_in *s = (struct sockaddr_in *)&out->src;
	struct sockaddr_in *d = (struct sockaddr_in *)&out->dst;

	memset(&out->src, 0, sizeof out->src);
	memset(&out->dst, 0, sizeof out->dst);
	s->sin_family = d->sin_family = AF_INET;
	memcpy(&s->sin_addr, p, 4);
	memcpy(&d->sin_addr, p + 4, 4);
	memcpy(&s->sin_port, p + 8, 2);		/* both in network order */
	memcpy(&d->sin_port, p + 10, 2);
	out->srclen = out->dstlen = sizeof *s;
}

static void
gw_proxy_v2_inet6(const uint8_t *p, struct gw_proxy_hdr *out)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src;
	struct sockaddr_in6 *d = (struct sockaddr_in6 *)&out->dst;

	memset(&out->src, 0, sizeof out->src);
	memset(&out->dst, 0, sizeof out->dst);
	s->sin6_family = d->sin6_family = AF_INET6;
	memcpy(&s->sin6_addr, p, 16);
	memcpy(&d->sin6_addr, p + 16, 16);
	memcpy(&s->sin6_port, p + 32, 2);
	memcpy(&d->sin6_port, p + 34, 2);
	out->srclen = out->dstlen = sizeof *s;
}

static enum gw_proxy_rc
gw_proxy_v2(const uint8_t *buf, size_t len, struct gw_proxy_hdr *out, size_t *need_out)
{
	size_t body;

	if (len < GW_PROXY_V2_HDR) {
		*need_out = GW_PROXY_V2_HDR - len;
		return GW_PROXY_MORE;
	}
	/* byte 12: version 2 in the high nibble; command LOCAL (0) or PROXY (1) */
	if ((buf[12] & 0xf0) != 0x20 || (buf[12] & 0x0f) > 1)
		return GW_PROXY_INVALID;
	body = (size_t)buf[14] << 8 | buf[15];
	if (body > GW_PROXY_V2_BODY_MAX)
		return GW_PROXY_INVALID;
	if (len < GW_PROXY_V2_HDR + body) {
		*need_out = GW_PROXY_V2_HDR + body - len;
		return GW_PROXY_MORE;
	}
	out->version = 2;
	out->len = GW_PROXY_V2_HDR + body;
	out->has_addr = false;
	if ((buf[12] & 0x0f) == 0)	/* LOCAL: the balancer's own health check */
		return GW_PROXY_OK;
	/* byte 13: family (high) and transport (low); others keep the real peer */
	if (buf[13] == 0x11) {		/* TCP over IPv4 */
		if (body < 12)
			return GW_PROXY_INVALID;
		gw_proxy_v2_inet(buf + GW_PROXY_V2_HDR, out);
		out->has_addr = true;
	} else if (buf[13] == 0x21) {	/* TCP over IPv6 */
		if (body < 36)
			return GW_PROXY_INVALID;
		gw_proxy_v2_inet6(buf + GW_PROXY_V2_HDR, out);
		out->has_addr = true;
	} else if ((buf[13] >> 4) > 3 || (buf[13] & 0x0f) > 2)
		return GW_PROXY_INVALID;
	return GW_PROXY_OK;
}

enum gw_proxy_rc
gw_proxy_parse(const uint8_t *buf, size_t len, struct gw_proxy_hdr *out, size_t *need_out)
{
	memset(out, 0, sizeof *out);
	*need_out = 0;
	if (len == 0) {
		*need_out = GW_PROXY_V1_MIN;
		return GW_PROXY_MORE;
	}
	if (gw_proxy_prefix(buf, len, gw_proxy_v2_sig, sizeof gw_proxy_v2_sig))
		return gw_proxy_v2(buf, len, out, need_out);
	if (gw_proxy_prefix(buf, len, gw_proxy_v1_sig, sizeof gw_proxy_v1_sig - 1))
		return gw_proxy_v1(buf, len, out, need_out);
	return GW_PROXY_INVALID;
}
