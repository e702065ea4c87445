#include "kernel_io/net/socket_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace kio {

std::optional<socket_address> socket_address::parse(std::string_view text) {
  std::string_view host, port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  std::string host_z(host);
  socket_address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a._storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a._storage);
  if (inet_pton(AF_INET, host_z.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    a._length = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, host_z.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(uint16_t(port));
    a._length = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

socket_address socket_address::from(const sockaddr* sa, socklen_t len) {
  socket_address a;
  if (len > sizeof(a._storage)) len = sizeof(a._storage);
  std::memcpy(&a._storage, sa, len);
  a._length = len;
  return a;
}

uint16_t socket_address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&_storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&_storage)->sin6_port);
  return 0;
}

void socket_address::set_port(uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&_storage)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&_storage)->sin6_port = htons(port);
}

std::string socket_address::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&_storage)->sin_addr, buf, sizeof buf);
  else if (family() == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&_storage)->sin6_addr, buf, sizeof buf);
  return buf;
}

std::string socket_address::to_string() const {
  if (family() == AF_INET6) return "[" + ip_string() + "]:" + std::to_string(port());
  return ip_string() + ":" + std::to_string(port());
}

uint64_t socket_address::ip_hash() const {
  // FNV-1a over the address bytes: stable, cheap, and good enough to spread
  // addresses over the limiter's slots.
  const unsigned char* p = nullptr;
  size_t n = 0;
  if (family() == AF_INET) {
    p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(&_storage)->sin_addr);
    n = 4;
  } else if (family() == AF_INET6) {
    p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(&_storage)->sin6_addr);
    n = 16;
  }
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace kio
