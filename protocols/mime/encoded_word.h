#pragma once
// RFC 2047 encoded-words ("=?charset?B|Q?text?=") decoded to UTF-8, on
// demand: IMAP's ENVELOPE wants raw header bytes, the spam filter and
// SEARCH want decoded text. Lenient like deployed readers: encoded-words
// inside atoms and quoted strings are decoded too, whitespace between
// adjacent encoded-words is dropped (and their bytes joined before charset
// conversion, so a UTF-8 character split across two words survives), a
// malformed word stays literal. Linear in the input size.

#include <string>
#include <string_view>

namespace mime {

// Decodes encoded-words in a header value (raw or unfolded; line breaks of
// folds are removed). The result is valid UTF-8.
std::string decode_header_value(std::string_view value);

}  // namespace mime
