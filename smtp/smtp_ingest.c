/*
 * smtp_ingest.c: a finished message into the vault. XXX(#4): sealing and
 * the store commit arrive with the store; until then every message gets a
 * temporary failure and nothing is kept.
 */
#include "smtp/smtp_private.h"

void
smtp_ingest_start(struct smtp_session *s)
{
	smtp_session_ingest_done(s, "451 4.3.0 Vault not available, try again later");
}
