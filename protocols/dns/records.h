#pragma once
// DNS answers as plain values: what the resolver returns and what the
// outbound client (MX, A/AAAA), SPF, DKIM, DMARC (TXT) and the inbound PTR
// check consume. Pure: no runtime, no c-ares, so code that evaluates answers
// (SPF, DMARC) can be unit-tested over hand-made values.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"

namespace dns {

// Why a lookup gave no answer. The distinction between "the name does not
// exist" (not_found, NXDOMAIN) and "it has no record of that type" (no_data)
// matters: RFC 5321 §5.1 falls back to A/AAAA only when there is no MX, and
// SPF's void-lookup limit counts both. Everything that may succeed later
// (SERVFAIL, REFUSED, timeout, no reachable server) is `temporary`: mail
// code defers on it (4xx / temperror), never bounces.
enum class errc : uint8_t {
  not_found,      // NXDOMAIN
  no_data,        // the name exists, no record of this type (NOERROR, empty answer)
  temporary,      // SERVFAIL, REFUSED, timeout, network error: try again later
  malformed,      // the answer could not be parsed (treated like temporary by callers)
  bad_name,       // the query name is not a domain (empty, too long, IDN conversion failed)
  shutting_down,  // the resolver was destroyed with the query in flight
};
std::string_view to_string(errc e);

template <class T>
using lookup = kio::result<T, errc>;

// An IPv4 or IPv6 address in network byte order. `family` is AF_INET (4
// bytes used) or AF_INET6 (16 bytes).
struct ip_address {
  int family = 0;
  std::array<uint8_t, 16> bytes{};

  static std::optional<ip_address> parse(std::string_view text);  // "192.0.2.1", "2001:db8::1"
  std::string to_string() const;
  size_t size() const { return family == 10 /* AF_INET6 */ ? 16 : 4; }
  bool operator==(const ip_address&) const = default;
};

struct mx_record {
  uint16_t preference = 0;
  std::string host;  // A-label form, no trailing dot; "" is the RFC 7505 null MX (".")
  bool operator==(const mx_record&) const = default;
};

// One TXT record: its character-strings concatenated without separators, as
// SPF (RFC 7208 §3.3), DKIM (RFC 6376 §3.6.2.2) and DMARC read them.
using txt_record = std::string;

// `name` in its A-label (ASCII, IDNA2008 + UTS #46 non-transitional) form,
// lower-cased, without a trailing dot. "bücher.example" -> "xn--bcher-kva.example".
// Fails with bad_name for empty labels, labels over 63 octets, names over 253.
lookup<std::string> to_a_label(std::string_view name);

// The reverse-lookup name of an address: "1.2.0.192.in-addr.arpa",
// nibbles under "ip6.arpa" for IPv6.
std::string reverse_name(const ip_address& address);

}  // namespace dns
