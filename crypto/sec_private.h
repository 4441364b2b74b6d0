/*
 * sec_private.h: helpers shared by the files of crypto/ only. Nothing
 * outside crypto/ includes this (nor sodium.h).
 */
#ifndef SEC_PRIVATE_H
#define SEC_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/sec.h"

/* Little-endian u64 fields in stored formats. */
void sec_le64_put(uint8_t out[8], uint64_t v);
uint64_t sec_le64_get(const uint8_t in[8]);

/* false for a public key X25519 refuses (small order), so that sealing to
 * a key read from a file cannot fail later. */
bool sec_pk_usable(const uint8_t pk[SEC_KEY_BYTES]);

/* false if any byte is 0x80 or above, which libsodium 1.0.18's base64
 * decoder would wrongly accept (see sec_token.c). Constant time. */
bool sec_b64_ascii(const char *s, size_t len);

#endif
