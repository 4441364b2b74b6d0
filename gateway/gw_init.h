/* gw_init.h: pieces of `sealgate init` shared with other commands. */
#ifndef GW_INIT_H
#define GW_INIT_H

#include <sys/types.h>

#include "conf/conf.h"

/* mkdir -p with the last component at mode; 0 or -1 with *err_out. */
int gw_mkdirs(const char *path, mode_t mode, char **err_out);

/* The store and its keys (recovery, queue, index); idempotent. */
int gw_init_vault(const struct conf *conf, char **err_out);

#endif
