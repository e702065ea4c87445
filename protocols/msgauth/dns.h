#pragma once
// The DNS questions message authentication asks (TXT for SPF, DKIM keys and
// DMARC policies; A/AAAA/MX/PTR for SPF mechanisms), as a small interface.
// The appliance implements it over its resolver on the runtime; unit tests
// implement it with a table (tests/unit/msgauth/fake_dns.h). Every lookup is
// a coroutine on the caller's core and never throws: failures are statuses,
// because SPF and DMARC give different verdicts for "no such record"
// (void lookup), "the server did not answer" (temperror) and "the answer
// was garbage" (permerror).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/ring/task.h"

namespace msgauth {

enum class dns_status : uint8_t {
  ok,         // at least one record of the type
  no_data,    // the name exists but has no record of the type (NOERROR, empty)
  nxdomain,   // the name does not exist
  temporary,  // timeout, SERVFAIL, refused: try again later
  permanent,  // malformed answer or question
};
std::string_view dns_status_name(dns_status s);

// An IPv4 or IPv6 address as bytes in network order. IPv4 uses the first 4.
struct ip_address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};

  static std::optional<ip_address> parse(std::string_view text);
  std::string to_string() const;
  // "4.3.2.1.in-addr.arpa" / nibble form under ip6.arpa.
  std::string reverse_name() const;
  // Dotted form for the SPF %{i} macro: IPv4 as usual, IPv6 as 32 dotted nibbles.
  std::string spf_macro_form() const;
  // True when the first `prefix_bits` bits equal `other`'s (same family only).
  bool matches(const ip_address& other, unsigned prefix_bits) const;
  bool operator==(const ip_address&) const = default;
};

struct txt_answer {
  dns_status status = dns_status::no_data;
  std::vector<std::string> records;  // each record's character-strings joined
};
struct address_answer {
  dns_status status = dns_status::no_data;
  std::vector<ip_address> addresses;
};
struct mx_record {
  uint16_t preference = 0;
  std::string host;
};
struct mx_answer {
  dns_status status = dns_status::no_data;
  std::vector<mx_record> records;
};
struct name_answer {
  dns_status status = dns_status::no_data;
  std::vector<std::string> names;  // PTR targets, without the trailing dot
};

class dns_resolver {
 public:
  virtual ~dns_resolver() = default;
  // Names are passed by value: the coroutine frame owns them.
  virtual kio::task<txt_answer> txt(std::string name) = 0;
  virtual kio::task<address_answer> a(std::string name) = 0;
  virtual kio::task<address_answer> aaaa(std::string name) = 0;
  virtual kio::task<mx_answer> mx(std::string name) = 0;
  virtual kio::task<name_answer> ptr(ip_address address) = 0;
};

}  // namespace msgauth
