/* gw_init.h: pieces of `sealgate init` shared with other commands. */
#ifndef GW_INIT_H
#define GW_INIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "conf/conf.h"

/* mkdir -p with the last component at mode; 0 or -1 with *err_out. */
int gw_mkdirs(const char *path, mode_t mode, char **err_out);

/* The store and its keys (recovery, queue, index); idempotent. */
int gw_init_vault(const struct conf *conf, char **err_out);

struct store;
struct gw_ctx;
/* Open the vault for a command; NULL with *err_out. */
struct store *gw_vault_open(const struct conf *conf, bool read_only, char **err_out);
/* Open it for the daemon: completions and change notices reach the loop. */
int gw_vault_attach(struct gw_ctx *ctx, char **err_out);

#endif
