#pragma once
// socket_address: an IPv4 or IPv6 address and port, parsed from config text
// ("127.0.0.1:2525", "[::1]:1143", "0.0.0.0:25") and printed for logs.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kio {

class socket_address {
 public:
  socket_address() = default;
  static std::optional<socket_address> parse(std::string_view text);
  static socket_address from(const sockaddr* sa, socklen_t len);

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&_storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&_storage); }
  socklen_t length() const { return _length; }
  int family() const { return _storage.ss_family; }
  uint16_t port() const;
  void set_port(uint16_t port);
  std::string ip_string() const;  // "127.0.0.1", "::1"
  std::string to_string() const;  // "127.0.0.1:25", "[::1]:25"
  // A stable 64-bit hash of the IP alone (per-IP limits).
  uint64_t ip_hash() const;

 private:
  sockaddr_storage _storage{};
  socklen_t _length = 0;
};

}  // namespace kio
