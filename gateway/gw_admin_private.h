/*
 * gw_admin_private.h: shared by the administration commands (gw_admin.c:
 * option handling, output, user add; gw_admin_user.c: the other user
 * verbs; gw_admin_invite.c: invite and the invitation mail;
 * gw_admin_queue.c: queue and stats). Each command prints one line per
 * result, or one JSON document with --json, and returns the exit status
 * of gw_cmd.h (1 usage or not found, 2 store error).
 */
#ifndef GW_ADMIN_PRIVATE_H
#define GW_ADMIN_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/conf.h"
#include "gateway/gw_cmd.h"
#include "store/store.h"

/* Remove every "flag" from argv; true if there was one. */
bool gw_admin_flag(int *argc, char **argv, const char *flag);
/* Remove "name VALUE" or "name=VALUE"; 1 found (*value_out borrowed from
 * argv), 0 absent, -1 the value is missing. */
int gw_admin_option(int *argc, char **argv, const char *name, const char **value_out);
/* Any other argument starting with "--": print it and return true. */
bool gw_admin_unknown_option(int argc, char **argv);

/* Open the vault; prints the error and returns NULL on failure. */
struct store *gw_admin_open(const struct conf *conf, bool write);
/* Print "sealgate: WHAT: reason" for rc; returns the exit status it means. */
int gw_admin_fail(const char *what, enum store_rc rc);

/* Output helpers: a JSON string literal, an ISO 8601 UTC time or null. */
void gw_admin_json_str(FILE *out, const char *s);
void gw_admin_json_time(FILE *out, int64_t t);
/* "2026-11-27 10:00Z" or "-" for 0, in buf. */
const char *gw_admin_time(int64_t t, char *buf, size_t size);

/* The enrollment link of a token: "{public_url}/enroll/<token>"; malloc'd. */
char *gw_admin_link(const struct conf *conf, const char *token);

/* The invitation mail for address, rendered from the templates beside the
 * configuration (as the daemon renders them) and sealed for the queue;
 * *ct_out is malloc'd. */
void gw_admin_invite_mail(const struct conf *conf, struct store *st, const char *address,
    const char *token, int64_t expiry, uint8_t **ct_out, size_t *ct_len_out);
/* Queue a sealed mail for now (in an op) and note the invitation. */
enum store_rc gw_admin_queue_put(struct store_txn *t, const uint8_t *ct, size_t len,
    uint64_t account_id, uint64_t *id_out);

int gw_admin_user_list(const struct conf *conf, struct store *st, int argc, char **argv,
    bool json);
int gw_admin_user_show(const struct conf *conf, struct store *st, int argc, char **argv,
    bool json);
int gw_admin_user_disable(const struct conf *conf, struct store *st, int argc, char **argv,
    bool json);
int gw_admin_user_enable(const struct conf *conf, struct store *st, int argc, char **argv,
    bool json);
int gw_admin_user_reset(const struct conf *conf, struct store *st, int argc, char **argv,
    bool json);
int gw_admin_user_delete(const struct conf *conf, struct store *st, int argc, char **argv,
    bool json);

#endif
