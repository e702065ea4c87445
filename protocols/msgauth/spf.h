#pragma once
// SPF (RFC 7208): the record parser (pure) and check_host() over the
// dns_resolver interface, with the RFC's limits: at most 10 terms that
// cause DNS lookups (include, a, mx, ptr, exists, redirect), at most 2
// void lookups, at most 10 MX or PTR names per mechanism.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "kernel_io/ring/task.h"
#include "protocols/msgauth/dns.h"

namespace msgauth {

enum class spf_result : uint8_t { none, neutral, pass, fail, softfail, temperror, permerror };
std::string_view spf_result_name(spf_result r);

enum class spf_qualifier : uint8_t { pass, fail, softfail, neutral };

struct spf_term {
  enum class kind : uint8_t { all, include, a, mx, ptr, ip4, ip6, exists, redirect, exp, unknown_modifier };
  kind what = kind::all;
  spf_qualifier qualifier = spf_qualifier::pass;
  std::string domain_spec;  // unexpanded; empty = the current domain
  ip_address network;       // ip4 / ip6
  unsigned cidr4 = 32;
  unsigned cidr6 = 128;
};

// Parses a record that starts with "v=spf1". Any syntax error anywhere is
// an error (RFC 7208 §4.6: permerror before any mechanism is evaluated).
kio::result<std::vector<spf_term>, std::string> parse_spf_record(std::string_view record, size_t terms_max = 256);

// True when `record` is an SPF record ("v=spf1" then a space or the end).
bool is_spf_record(std::string_view record);

struct spf_context {
  ip_address ip;
  std::string sender;    // MAIL FROM address; "postmaster@<helo>" when null
  std::string helo;
  std::string receiver;  // our host name, for %{r}
};

// Expands the macros of a domain-spec (RFC 7208 §7). nullopt on a syntax
// error. `current_domain` is %{d}. Results longer than 253 characters lose
// labels on the left until they fit.
std::optional<std::string> spf_expand(std::string_view spec, const spf_context& context,
                                      std::string_view current_domain, bool explanation = false);

struct spf_limits {
  unsigned dns_lookups_max = 10;
  unsigned void_lookups_max = 2;
  unsigned names_per_mechanism_max = 10;  // MX hosts, PTR names
};

struct spf_outcome {
  spf_result result = spf_result::none;
  std::string domain;     // the domain checked (MAIL FROM's, or HELO's)
  std::string mechanism;  // the term that decided, for the comment
  std::string reason;     // why an error, for the comment
};

// check_host() for the MAIL FROM identity of `context` (RFC 7208 §4).
kio::task<spf_outcome> check_spf(dns_resolver& dns, spf_context context, spf_limits limits = {});

}  // namespace msgauth
