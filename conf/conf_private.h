/* conf_private.h: the key table shared by conf.c and conf_keys.c. */
#ifndef CONF_PRIVATE_H
#define CONF_PRIVATE_H

#include <stddef.h>

#include "conf/conf.h"

enum conf_type {
	CONF_T_STRING,		/* free text */
	CONF_T_HOSTNAME,	/* DNS name; may be empty if allowed */
	CONF_T_PATH,		/* made absolute relative to the working directory */
	CONF_T_URL,		/* http:// or https://, trailing slash dropped */
	CONF_T_BOOL,
	CONF_T_UINT,		/* unsigned, within [min, max] */
	CONF_T_DURATION,	/* int64 seconds; s m h d suffixes */
	CONF_T_SIZE,		/* uint64 bytes; K M G suffixes */
	CONF_T_ENUM,		/* int index into names[] */
	CONF_T_ADDRS,		/* struct conf_addr_list */
	CONF_T_NETS,		/* struct conf_net_list */
	CONF_T_DOMAINS,		/* struct conf_str_list */
};

struct conf_key {
	const char		*section;
	const char		*name;
	enum conf_type		 type;
	size_t			 offset;	/* into struct conf */
	const char		*def;		/* default, parsed by the same code */
	uint64_t		 min, max;	/* UINT, DURATION, SIZE */
	const char *const	*names;		/* ENUM, NULL-terminated */
	const char		*doc;		/* one line for check-config and the example */
};

extern const struct conf_key conf_keys[];
extern const size_t conf_keys_count;

#endif
