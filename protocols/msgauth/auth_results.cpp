#include "protocols/msgauth/auth_results.h"

namespace msgauth {

// A property value is a token or a quoted string (RFC 8601 §2.2 / RFC 2045).
static std::string value_of(std::string_view v) {
  bool plain = !v.empty();
  for (char c : v) {
    // '@' is allowed bare in a pvalue's addr-spec form (RFC 8601 §2.2).
    if (c <= ' ' || c >= 127 || std::string_view("()<>,;:\\\"/[]?=").find(c) != std::string_view::npos) plain = false;
  }
  if (plain) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\r' || c == '\n') continue;
    out += c;
  }
  out += '"';
  return out;
}

// Comments must not carry CR/LF or unbalanced parentheses.
static std::string comment_of(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\r' || c == '\n') continue;
    if (c == '(' || c == ')' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string format_authentication_results(std::string_view authserv_id, const auth_summary& s) {
  std::string out = "Authentication-Results: ";
  out += authserv_id;
  // SPF
  out += ";\r\n\tspf=";
  out += spf_result_name(s.spf.result);
  if (!s.spf.reason.empty()) out += " (" + comment_of(s.spf.reason) + ")";
  else if (!s.spf.mechanism.empty()) out += " (matched " + comment_of(s.spf.mechanism) + ")";
  if (!s.spf_sender.empty()) out += " smtp.mailfrom=" + value_of(s.spf_sender);
  else out += " smtp.helo=" + value_of(s.helo);
  // DKIM: one result per signature, "none" without any.
  if (s.dkim.empty()) out += ";\r\n\tdkim=none";
  for (const dkim_result& d : s.dkim) {
    out += ";\r\n\tdkim=";
    out += dkim_verdict_name(d.verdict);
    if (!d.reason.empty()) out += " (" + comment_of(d.reason) + ")";
    else if (d.testing) out += " (key in test mode)";
    if (!d.domain.empty()) out += " header.d=" + value_of(d.domain);
    if (!d.selector.empty()) out += " header.s=" + value_of(d.selector);
    if (!d.domain.empty()) out += " header.a=" + std::string(dkim_algorithm_name(d.algorithm));
    if (!d.b_prefix.empty()) out += " header.b=" + value_of(d.b_prefix);
  }
  // DMARC
  out += ";\r\n\tdmarc=";
  out += dmarc_verdict_name(s.dmarc.verdict);
  if (s.dmarc.verdict == dmarc_verdict::pass || s.dmarc.verdict == dmarc_verdict::fail) {
    out += " (p=";
    out += dmarc_policy_name(s.dmarc.published);
    out += " dis=";
    out += dmarc_policy_name(s.dmarc.disposition);
    out += ")";
  } else if (!s.dmarc.reason.empty()) {
    out += " (" + comment_of(s.dmarc.reason) + ")";
  }
  if (!s.dmarc.from_domain.empty()) out += " header.from=" + value_of(s.dmarc.from_domain);
  out += "\r\n";
  return out;
}

inbound_check::inbound_check(dns_resolver& dns, const public_suffix_list& suffixes, spf_context spf,
                             inbound_check_limits limits)
    : _dns(dns), _suffixes(suffixes), _spf_context(std::move(spf)), _limits(limits), _dkim(limits.dkim) {}

kio::task<auth_summary> inbound_check::finish(unsigned sample_percent) {
  auth_summary summary;
  summary.spf_sender = _spf_context.sender;
  summary.helo = _spf_context.helo;
  summary.spf = co_await check_spf(_dns, _spf_context, _limits.spf);
  summary.dkim = co_await _dkim.verify(_dns);
  dmarc_inputs inputs;
  if (auto fields = split_header_fields(_dkim.header())) inputs.from_domain = author_domain(*fields);
  inputs.spf = summary.spf;
  inputs.dkim = summary.dkim;
  summary.dmarc = co_await check_dmarc(_dns, _suffixes, std::move(inputs), sample_percent);
  co_return summary;
}

}  // namespace msgauth
