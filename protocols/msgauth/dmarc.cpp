#include "protocols/msgauth/dmarc.h"

#include <charconv>

#include "protocols/mime/address.h"
#include "protocols/msgauth/tag_list.h"

namespace msgauth {

std::string_view dmarc_policy_name(dmarc_policy p) {
  switch (p) {
    case dmarc_policy::none: return "none";
    case dmarc_policy::quarantine: return "quarantine";
    case dmarc_policy::reject: return "reject";
  }
  return "none";
}

std::string_view dmarc_verdict_name(dmarc_verdict v) {
  switch (v) {
    case dmarc_verdict::none: return "none";
    case dmarc_verdict::pass: return "pass";
    case dmarc_verdict::fail: return "fail";
    case dmarc_verdict::temperror: return "temperror";
    case dmarc_verdict::permerror: return "permerror";
  }
  return "none";
}

static std::optional<dmarc_policy> policy_of(std::string_view v) {
  if (iequals(v, "none")) return dmarc_policy::none;
  if (iequals(v, "quarantine")) return dmarc_policy::quarantine;
  if (iequals(v, "reject")) return dmarc_policy::reject;
  return std::nullopt;
}

kio::result<dmarc_record, std::string> parse_dmarc_record(std::string_view text) {
  text = trim(text);
  // Lenient about a trailing garbage-free list; strict about v= first.
  auto tags = parse_tag_list(text);
  if (!tags || tags->empty()) return kio::fail(std::string("malformed DMARC record"));
  if ((*tags)[0].name != "v" || (*tags)[0].value != "DMARC1") return kio::fail(std::string("v=DMARC1 is not first"));
  dmarc_record record;
  if (auto rua = find_tag(*tags, "rua")) {
    std::string_view rest = *rua;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      auto uri = trim(rest.substr(0, comma));
      if (!uri.empty()) record.aggregate_report_uris.emplace_back(uri);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  auto p = find_tag(*tags, "p");
  auto policy = p ? policy_of(*p) : std::nullopt;
  if (!policy) {
    if (record.aggregate_report_uris.empty()) return kio::fail(std::string("missing or invalid p="));
    policy = dmarc_policy::none;
  }
  record.policy = *policy;
  if (auto sp = find_tag(*tags, "sp")) record.subdomain_policy = policy_of(*sp);
  if (auto adkim = find_tag(*tags, "adkim")) record.dkim_strict = *adkim == "s";
  if (auto aspf = find_tag(*tags, "aspf")) record.spf_strict = *aspf == "s";
  if (auto pct = find_tag(*tags, "pct")) {
    unsigned v = 100;
    auto [end, ec] = std::from_chars(pct->data(), pct->data() + pct->size(), v);
    if (ec == std::errc() && end == pct->data() + pct->size() && v <= 100) record.percent = v;
  }
  return record;
}

std::optional<std::string> author_domain(const std::vector<header_field>& fields) {
  const header_field* from = nullptr;
  for (const header_field& f : fields) {
    if (!iequals(f.name, "From")) continue;
    if (from) return std::nullopt;
    from = &f;
  }
  if (!from) return std::nullopt;
  auto addresses = mime::parse_address_list(from->value());
  const mime::address* only = nullptr;
  for (const auto& a : addresses) {
    if (a.what != mime::address::kind::mailbox) continue;
    if (only) return std::nullopt;
    only = &a;
  }
  if (!only || only->host.empty()) return std::nullopt;
  std::string domain = to_lower(trim(only->host));
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  if (domain.empty()) return std::nullopt;
  return domain;
}

bool aligned(std::string_view identifier, std::string_view author, bool strict, const public_suffix_list& suffixes) {
  if (identifier.empty() || author.empty()) return false;
  if (iequals(identifier, author)) return true;
  if (strict) return false;
  return suffixes.organizational_domain(identifier) == suffixes.organizational_domain(author);
}

namespace {

struct lookup {
  enum class state : uint8_t { found, absent, temporary } what = state::absent;
  dmarc_record record;
};

kio::task<lookup> find_record(dns_resolver& dns, std::string domain) {
  lookup out;
  auto answer = co_await dns.txt("_dmarc." + domain);
  if (answer.status == dns_status::temporary) {
    out.what = lookup::state::temporary;
    co_return out;
  }
  int found = 0;
  for (const std::string& txt : answer.records) {
    if (!(txt.size() >= 7 && trim(txt).starts_with("v=DMARC1"))) continue;
    auto parsed = parse_dmarc_record(txt);
    if (!parsed) continue;
    ++found;
    out.record = std::move(*parsed);
  }
  // RFC 7489 §6.6.3: more than one record means no policy.
  if (found == 1) out.what = lookup::state::found;
  co_return out;
}

}  // namespace

kio::task<dmarc_outcome> check_dmarc(dns_resolver& dns, const public_suffix_list& suffixes, dmarc_inputs inputs,
                                     unsigned sample_percent) {
  dmarc_outcome out;
  if (!inputs.from_domain) {
    out.verdict = dmarc_verdict::permerror;
    out.reason = "no single From domain";
    co_return out;
  }
  out.from_domain = *inputs.from_domain;
  std::string organizational = suffixes.organizational_domain(out.from_domain);
  auto found = co_await find_record(dns, out.from_domain);
  bool at_organizational = false;
  if (found.what == lookup::state::absent && organizational != out.from_domain) {
    found = co_await find_record(dns, organizational);
    at_organizational = true;
  }
  if (found.what == lookup::state::temporary) {
    out.verdict = dmarc_verdict::temperror;
    out.reason = "policy lookup failed";
    co_return out;
  }
  if (found.what == lookup::state::absent) {
    out.verdict = dmarc_verdict::none;
    co_return out;
  }
  const dmarc_record& record = found.record;
  out.published = at_organizational && record.subdomain_policy ? *record.subdomain_policy : record.policy;

  bool pass = false;
  for (const dkim_result& d : inputs.dkim) {
    if (d.verdict == dkim_verdict::pass && aligned(d.domain, out.from_domain, record.dkim_strict, suffixes)) {
      pass = true;
      out.reason = "aligned DKIM d=" + d.domain;
      break;
    }
  }
  if (!pass && inputs.spf.result == spf_result::pass &&
      aligned(inputs.spf.domain, out.from_domain, record.spf_strict, suffixes)) {
    pass = true;
    out.reason = "aligned SPF " + inputs.spf.domain;
  }
  if (pass) {
    out.verdict = dmarc_verdict::pass;
    out.disposition = dmarc_policy::none;
    co_return out;
  }
  out.verdict = dmarc_verdict::fail;
  out.reason = "no aligned SPF or DKIM pass";
  // pct: a message outside the sample gets the next weaker policy (§6.6.4).
  out.disposition = out.published;
  if (sample_percent >= record.percent) {
    if (out.disposition == dmarc_policy::reject) out.disposition = dmarc_policy::quarantine;
    else if (out.disposition == dmarc_policy::quarantine) out.disposition = dmarc_policy::none;
  }
  co_return out;
}

}  // namespace msgauth
