#pragma once
// Mailbox names on the wire. Without UTF8=ACCEPT (RFC 6855) they travel in
// modified UTF-7 (RFC 3501 section 5.1.3); with it, as UTF-8. Internally
// (store, session) names are always UTF-8, with "INBOX" spelled in capitals.

#include <string>
#include <string_view>

#include "kernel_io/base/result.h"
#include "protocols/imap/parser/errc.h"

namespace imap {

enum class mailbox_encoding : unsigned char {
  modified_utf7,  // IMAP4rev1 default
  utf8,           // after ENABLE UTF8=ACCEPT, or IMAP4rev2
};

// Strict modified UTF-7 to UTF-8. Refuses what has a canonical other
// spelling or no meaning, so one name has one wire form: raw 8-bit or
// control bytes, printable ASCII inside a base64 run, "&" not written "&-",
// adjacent base64 runs, non-zero pad bits, unpaired surrogates, and encoded
// control characters (U+0000..U+001F, U+007F).
kio::result<std::string, errc> decode_modified_utf7(std::string_view wire);
// UTF-8 to modified UTF-7 (the canonical form the decoder accepts, for
// names without control characters). Fails (bad_mailbox_name) only on
// invalid UTF-8.
kio::result<std::string, errc> encode_modified_utf7(std::string_view utf8);

// RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// A wire name to the internal UTF-8 name: decodes per `encoding` (refusing
// NUL, CR and LF in UTF-8 mode too) and folds any case of "INBOX" to "INBOX"
// (RFC 3501 section 5.1: INBOX is case-insensitive).
kio::result<std::string, errc> decode_mailbox_name(std::string_view wire, mailbox_encoding encoding);
// An internal UTF-8 name to its wire form for responses. Names come from our
// own store, so invalid UTF-8 is a programmer error and asserts.
std::string encode_mailbox_name(std::string_view utf8, mailbox_encoding encoding);

// True when `name` is some spelling of INBOX.
bool is_inbox(std::string_view name);

}  // namespace imap
