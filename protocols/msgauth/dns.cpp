#include "protocols/msgauth/dns.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace msgauth {

std::string_view dns_status_name(dns_status s) {
  switch (s) {
    case dns_status::ok: return "ok";
    case dns_status::no_data: return "no data";
    case dns_status::nxdomain: return "nxdomain";
    case dns_status::temporary: return "temporary failure";
    case dns_status::permanent: return "permanent failure";
  }
  return "?";
}

std::optional<ip_address> ip_address::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buffer[46];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = 0;
  ip_address out;
  if (inet_pton(AF_INET, buffer, out.bytes.data()) == 1) return out;
  if (inet_pton(AF_INET6, buffer, out.bytes.data()) == 1) {
    out.v6 = true;
    // An IPv4-mapped IPv6 address is the IPv4 client (RFC 7208 §5: "ip4"
    // mechanisms see it as IPv4).
    static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out.bytes.data(), mapped, 12) == 0) {
      ip_address v4;
      std::memcpy(v4.bytes.data(), out.bytes.data() + 12, 4);
      return v4;
    }
    return out;
  }
  return std::nullopt;
}

std::string ip_address::to_string() const {
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof buffer);
  return buffer;
}

static const char hex_digits[] = "0123456789abcdef";

std::string ip_address::reverse_name() const {
  std::string out;
  if (!v6) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%u.%u.%u.%u.in-addr.arpa", bytes[3], bytes[2], bytes[1], bytes[0]);
    return buffer;
  }
  for (int i = 15; i >= 0; --i) {
    out += hex_digits[bytes[i] & 0xf];
    out += '.';
    out += hex_digits[bytes[i] >> 4];
    out += '.';
  }
  out += "ip6.arpa";
  return out;
}

std::string ip_address::spf_macro_form() const {
  if (!v6) return to_string();
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i) out += '.';
    out += hex_digits[bytes[i] >> 4];
    out += '.';
    out += hex_digits[bytes[i] & 0xf];
  }
  return out;
}

bool ip_address::matches(const ip_address& other, unsigned prefix_bits) const {
  if (v6 != other.v6) return false;
  unsigned total = v6 ? 128 : 32;
  if (prefix_bits > total) prefix_bits = total;
  unsigned full = prefix_bits / 8, rest = prefix_bits % 8;
  if (std::memcmp(bytes.data(), other.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (bytes[full] & mask) == (other.bytes[full] & mask);
}

}  // namespace msgauth
