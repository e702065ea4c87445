#pragma once
// CRLF search for line-oriented protocols (SMTP, IMAP, POP3 command lines).
// The readers call it on every received chunk, so it rides on memchr (which
// glibc vectorises) instead of a byte loop.

#include <cstddef>
#include <span>
#include <string_view>

namespace proto {

inline constexpr std::size_t npos = static_cast<std::size_t>(-1);

// Index of the CR of the first "\r\n" that starts at or after `from`, or
// npos. Linear in the bytes after `from`. To resume a search over a growing
// buffer without rescanning, pass the previous size minus one (a CR may have
// been the last byte).
std::size_t find_crlf(std::string_view bytes, std::size_t from = 0) noexcept;
std::size_t find_crlf(std::span<const std::byte> bytes, std::size_t from = 0) noexcept;

// Index of the first LF at or after `from` that is NOT preceded by CR (a
// bare LF), or npos. Command readers use it to refuse bare line endings, the
// lever of SMTP smuggling, instead of silently treating LF as a line end.
std::size_t find_bare_lf(std::string_view bytes, std::size_t from = 0) noexcept;

}  // namespace proto
