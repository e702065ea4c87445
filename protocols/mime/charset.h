#pragma once
// Charset conversion to UTF-8 for header words and parameters. Single-byte
// charsets (ISO-8859-*, windows-125x, KOI8) use generated tables; UTF-8 and
// US-ASCII are validated; anything else goes through glibc iconv (part of
// libc; the first use of a charset may load a gconv module). Invalid or
// unconvertible bytes become U+FFFD, so the output is always valid UTF-8.

#include <cstddef>
#include <string>
#include <string_view>

namespace mime {

// Appends `bytes` in `charset` to `out` as UTF-8. Returns false when the
// charset is unknown (the bytes were then appended as sanitized UTF-8).
bool append_utf8(std::string_view charset, std::string_view bytes, std::string& out);

// Appends valid UTF-8; invalid sequences become U+FFFD.
void append_sanitized_utf8(std::string_view bytes, std::string& out);

namespace detail {
struct single_byte_charset {
  const char* name;
  const char16_t* upper_half;  // code points for bytes 0x80..0xFF
};
extern const single_byte_charset single_byte_charsets[];
extern const std::size_t single_byte_charset_count;
}  // namespace detail

}  // namespace mime
