#pragma once
// DMARC (RFC 7489): the policy record parser (pure), the author domain of
// a message, identifier alignment, and the policy lookup and verdict over
// the dns_resolver interface.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel_io/base/result.h"
#include "kernel_io/ring/task.h"
#include "protocols/msgauth/dkim.h"
#include "protocols/msgauth/dns.h"
#include "protocols/msgauth/message.h"
#include "protocols/msgauth/public_suffix.h"
#include "protocols/msgauth/spf.h"

namespace msgauth {

enum class dmarc_policy : uint8_t { none, quarantine, reject };
std::string_view dmarc_policy_name(dmarc_policy p);

struct dmarc_record {
  dmarc_policy policy = dmarc_policy::none;            // p=
  std::optional<dmarc_policy> subdomain_policy;        // sp=
  bool dkim_strict = false;                            // adkim=s
  bool spf_strict = false;                             // aspf=s
  unsigned percent = 100;                              // pct=
  std::vector<std::string> aggregate_report_uris;      // rua= (parsed, not sent)
};
// The record must start with v=DMARC1. An invalid or missing p= makes the
// record unusable, except that RFC 7489 §6.6.3 treats it as p=none when
// rua= is valid.
kio::result<dmarc_record, std::string> parse_dmarc_record(std::string_view record);

// The RFC5322.From domain: exactly one From field with exactly one
// address with a domain; nullopt otherwise (RFC 7489 §6.6.1).
std::optional<std::string> author_domain(const std::vector<header_field>& fields);

// Identifier alignment (RFC 7489 §3.1): strict = equal, relaxed = same
// organizational domain.
bool aligned(std::string_view identifier, std::string_view author, bool strict, const public_suffix_list& suffixes);

enum class dmarc_verdict : uint8_t { none, pass, fail, temperror, permerror };
std::string_view dmarc_verdict_name(dmarc_verdict v);

struct dmarc_outcome {
  dmarc_verdict verdict = dmarc_verdict::none;
  std::string from_domain;                  // header.from
  dmarc_policy published = dmarc_policy::none;  // p= (or sp=) of the record used
  dmarc_policy disposition = dmarc_policy::none;  // what to apply: none when passing or sampled out by pct
  std::string reason;
};

struct dmarc_inputs {
  std::optional<std::string> from_domain;  // author_domain() of the message
  spf_outcome spf;                         // MAIL FROM identity
  std::vector<dkim_result> dkim;
};

// Looks up the policy (at _dmarc.<from>, then at _dmarc.<organizational
// domain>) and decides. `sample_percent` is a number in [0,100) drawn by
// the caller for pct= sampling (tests pass a fixed one).
kio::task<dmarc_outcome> check_dmarc(dns_resolver& dns, const public_suffix_list& suffixes, dmarc_inputs inputs,
                                     unsigned sample_percent);

}  // namespace msgauth
