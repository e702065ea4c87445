#include "protocols/common/line.h"

#include <cstring>

namespace proto {

std::size_t find_crlf(std::string_view bytes, std::size_t from) noexcept {
  // Search for the LF and look one byte back: each byte is examined once by
  // memchr, so the whole search stays linear even with many bare CRs or LFs.
  std::size_t position = from + 1;
  while (position < bytes.size()) {
    const void* hit = std::memchr(bytes.data() + position, '\n', bytes.size() - position);
    if (hit == nullptr) return npos;
    const std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(hit) - bytes.data());
    if (bytes[lf - 1] == '\r') return lf - 1;
    position = lf + 1;
  }
  return npos;
}

std::size_t find_crlf(std::span<const std::byte> bytes, std::size_t from) noexcept {
  return find_crlf(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), from);
}

std::size_t find_bare_lf(std::string_view bytes, std::size_t from) noexcept {
  std::size_t position = from;
  while (position < bytes.size()) {
    const void* hit = std::memchr(bytes.data() + position, '\n', bytes.size() - position);
    if (hit == nullptr) return npos;
    const std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(hit) - bytes.data());
    if (lf == 0 || bytes[lf - 1] != '\r') return lf;
    position = lf + 1;
  }
  return npos;
}

}  // namespace proto
