/*
 * gw_proxy.h: a pure parser for the PROXY protocol header (HAProxy's
 * proxy-protocol.txt, versions 1 and 2) that a load balancer sends before
 * the client's first byte. No I/O, no allocation: the listener reads into a
 * buffer and asks; the parser says how many more bytes it may read without
 * reading past the header, so the protocol (or the TLS handshake) that
 * follows gets its bytes untouched.
 */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GW_PROXY_V1_MAX		107	/* whole line with CRLF (spec 2.1) */
#define GW_PROXY_V1_MIN		15	/* "PROXY UNKNOWN\r\n" */
#define GW_PROXY_V2_HDR		16	/* signature, version/command, family, length */
#define GW_PROXY_V2_BODY_MAX	1024	/* addresses and TLVs we accept */
/* bounds: the longest header either version may take */
#define GW_PROXY_MAX		(GW_PROXY_V2_HDR + GW_PROXY_V2_BODY_MAX)

enum gw_proxy_rc {
	GW_PROXY_OK,		/* a whole header; *out filled */
	GW_PROXY_MORE,		/* read *need_out more bytes, then ask again */
	GW_PROXY_INVALID,	/* not a PROXY header, or a malformed one: close */
};

struct gw_proxy_hdr {
	unsigned		version;	/* 1 or 2 */
	size_t			len;		/* bytes the header took */
	/* false: v1 UNKNOWN, v2 LOCAL, or a v2 family we do not carry (UDP,
	 * unix): keep the connection's own address (spec 2.1, 2.2). */
	bool			has_addr;
	struct sockaddr_storage	src, dst;
	socklen_t		srclen, dstlen;
};

/*
 * Parse the len bytes at buf, which start at the connection's first byte.
 * OK: out->len bytes were the header. MORE: *need_out >= 1 bytes may be
 * read next without passing the end of any valid header (read exactly
 * that many). INVALID: close the connection.
 */
enum gw_proxy_rc gw_proxy_parse(const uint8_t *buf, size_t len, struct gw_proxy_hdr *out,
    size_t *need_out);

#endif
