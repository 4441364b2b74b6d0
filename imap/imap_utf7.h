/*
 * imap_utf7.h: modified UTF-7 mailbox names (RFC 3501 5.1.3) and UTF-8
 * validation.
 *
 * Clients that have not enabled UTF8=ACCEPT (RFC 6855) send and expect
 * mailbox names in modified UTF-7; the session decodes each name the parser
 * returns with imap_utf7_decode() and encodes the names it lists with
 * imap_utf7_encode(). After ENABLE UTF8=ACCEPT names travel as UTF-8 and
 * are only checked with imap_utf8_valid() (INTEROP: Thunderbird then sends
 * "&" unencoded).
 *
 * The decoder is strict, so that each name has exactly one spelling: it
 * refuses what a conforming encoder never writes (printable ASCII or "&"
 * inside base64, two adjacent base64 runs, non-zero padding bits, a missing
 * "-", unpaired surrogates) as well as octets outside 0x20-0x7e and U+0000.
 * A name that decodes also re-encodes to the same bytes.
 *
 * Pure functions over caller buffers; no allocation; any thread.
 */
#ifndef IMAP_UTF7_H
#define IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway/sg.h"

enum imap_utf7_rc {
	IMAP_UTF7_OK = 0,
	IMAP_UTF7_INVALID,	/* the input is not valid modified UTF-7 / UTF-8 */
	IMAP_UTF7_SPACE,	/* out is too small (use the _max helpers) */
};

/* Output sizes, NUL included, that are always enough for len input octets. */
size_t imap_utf7_decode_max(size_t len);
size_t imap_utf7_encode_max(size_t len);

/*
 * Modified UTF-7 -> UTF-8. Writes out (NUL-terminated) and *out_len (without
 * the NUL). On error out holds no usable text.
 */
SG_NODISCARD enum imap_utf7_rc imap_utf7_decode(const char *in, size_t len, char *out,
    size_t size, size_t *out_len);

/* UTF-8 (validated; U+0000 refused) -> modified UTF-7. Same conventions. */
SG_NODISCARD enum imap_utf7_rc imap_utf7_encode(const char *in, size_t len, char *out,
    size_t size, size_t *out_len);

/* Whether in is valid (canonical) modified UTF-7. */
bool imap_utf7_valid(const char *in, size_t len);

/* Whether s is well-formed UTF-8: no overlong forms, surrogates or > U+10FFFF. */
bool imap_utf8_valid(const char *s, size_t len);

#endif
