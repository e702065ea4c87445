#include "protocols/dns/records.h"

#include <arpa/inet.h>
#include <idn2.h>

#include <cstdlib>

namespace dns {

std::string_view to_string(errc e) {
  switch (e) {
    case errc::not_found: return "no such domain";
    case errc::no_data: return "no record of that type";
    case errc::temporary: return "temporary DNS failure";
    case errc::malformed: return "malformed DNS answer";
    case errc::bad_name: return "not a valid domain name";
    case errc::shutting_down: return "resolver shutting down";
  }
  return "unknown DNS error";
}

std::optional<ip_address> ip_address::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buffer[46];
  text.copy(buffer, text.size());
  buffer[text.size()] = '\0';
  ip_address a;
  if (inet_pton(AF_INET, buffer, a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, buffer, a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

std::string ip_address::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (family != AF_INET && family != AF_INET6) return "?";
  inet_ntop(family, bytes.data(), buffer, sizeof buffer);
  return buffer;
}

static bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

lookup<std::string> to_a_label(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 1024) return kio::fail(errc::bad_name);
  std::string out;
  if (is_ascii(name)) {
    out.assign(name);
  } else {
    // IDNA2008 with the UTS #46 non-transitional mapping (what browsers and
    // current MTAs use: "ß" stays "ß"), done by libidn2.
    std::string input(name);
    char* converted = nullptr;
    int rc = idn2_to_ascii_8z(input.c_str(), &converted, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK || !converted) {
      if (converted) idn2_free(converted);
      return kio::fail(errc::bad_name);
    }
    out = converted;
    idn2_free(converted);
  }
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  if (out.size() > 253) return kio::fail(errc::bad_name);
  size_t label = 0;
  for (char c : out) {
    if (c == '.') {
      if (label == 0) return kio::fail(errc::bad_name);
      label = 0;
    } else if (++label > 63) {
      return kio::fail(errc::bad_name);
    }
  }
  if (label == 0) return kio::fail(errc::bad_name);
  return out;
}

std::string reverse_name(const ip_address& address) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  if (address.family == AF_INET) {
    for (int i = 3; i >= 0; --i) {
      out += std::to_string(address.bytes[size_t(i)]);
      out += '.';
    }
    out += "in-addr.arpa";
  } else {
    for (int i = 15; i >= 0; --i) {
      uint8_t b = address.bytes[size_t(i)];
      out += hex[b & 0xf];
      out += '.';
      out += hex[b >> 4];
      out += '.';
    }
    out += "ip6.arpa";
  }
  return out;
}

}  // namespace dns
