#include "protocols/msgauth/spf.h"

#include <algorithm>
#include <charconv>

#include "protocols/msgauth/tag_list.h"

namespace msgauth {

std::string_view spf_result_name(spf_result r) {
  switch (r) {
    case spf_result::none: return "none";
    case spf_result::neutral: return "neutral";
    case spf_result::pass: return "pass";
    case spf_result::fail: return "fail";
    case spf_result::softfail: return "softfail";
    case spf_result::temperror: return "temperror";
    case spf_result::permerror: return "permerror";
  }
  return "permerror";
}

bool is_spf_record(std::string_view record) {
  return record.size() >= 6 && iequals(record.substr(0, 6), "v=spf1") && (record.size() == 6 || record[6] == ' ');
}

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static std::optional<unsigned> parse_small(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

static bool valid_modifier_name(std::string_view name) {
  if (name.empty() || !is_alpha(name[0])) return false;
  for (char c : name)
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

// Splits "domain/24//64" into its parts; the domain may be empty.
static bool split_dual_cidr(std::string_view spec, std::string_view& domain, unsigned& cidr4, unsigned& cidr6) {
  size_t dual = spec.rfind("//");
  if (dual != std::string_view::npos) {
    auto v6 = parse_small(spec.substr(dual + 2), 128);
    if (!v6) return false;
    cidr6 = *v6;
    spec = spec.substr(0, dual);
  }
  size_t slash = spec.rfind('/');
  if (slash != std::string_view::npos) {
    auto digits = spec.substr(slash + 1);
    bool all_digits = !digits.empty();
    for (char c : digits) all_digits = all_digits && is_digit(c);
    if (all_digits) {
      auto v4 = parse_small(digits, 32);
      if (!v4) return false;
      cidr4 = *v4;
      spec = spec.substr(0, slash);
    }
  }
  domain = spec;
  return true;
}

kio::result<std::vector<spf_term>, std::string> parse_spf_record(std::string_view record, size_t terms_max) {
  if (!is_spf_record(record)) return kio::fail(std::string("not an SPF record"));
  std::vector<spf_term> terms;
  bool seen_redirect = false, seen_exp = false;
  spf_context syntax_probe{*ip_address::parse("192.0.2.1"), "a@b.example", "b.example", "r.example"};
  std::string_view rest = record.substr(6);
  while (!rest.empty()) {
    size_t space = rest.find(' ');
    std::string_view text = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (text.empty()) continue;
    if (terms.size() >= terms_max) return kio::fail(std::string("too many terms"));
    spf_term term;
    size_t equals = text.find('=');
    if (equals != std::string_view::npos && valid_modifier_name(text.substr(0, equals))) {
      std::string_view name = text.substr(0, equals), value = text.substr(equals + 1);
      if (!spf_expand(value, syntax_probe, "b.example", iequals(name, "exp")))
        return kio::fail("bad macro in " + std::string(text));
      if (iequals(name, "redirect")) {
        if (seen_redirect || value.empty()) return kio::fail(std::string("bad or repeated redirect="));
        seen_redirect = true;
        term.what = spf_term::kind::redirect;
      } else if (iequals(name, "exp")) {
        if (seen_exp || value.empty()) return kio::fail(std::string("bad or repeated exp="));
        seen_exp = true;
        term.what = spf_term::kind::exp;
      } else {
        term.what = spf_term::kind::unknown_modifier;
      }
      term.domain_spec = std::string(value);
      terms.push_back(std::move(term));
      continue;
    }
    switch (text[0]) {
      case '+': term.qualifier = spf_qualifier::pass; text.remove_prefix(1); break;
      case '-': term.qualifier = spf_qualifier::fail; text.remove_prefix(1); break;
      case '~': term.qualifier = spf_qualifier::softfail; text.remove_prefix(1); break;
      case '?': term.qualifier = spf_qualifier::neutral; text.remove_prefix(1); break;
      default: break;
    }
    size_t name_end = text.find_first_of(":/");
    std::string_view name = text.substr(0, name_end);
    std::string_view argument = name_end == std::string_view::npos ? std::string_view() : text.substr(name_end);
    bool has_colon = !argument.empty() && argument[0] == ':';
    std::string_view after_colon = has_colon ? argument.substr(1) : std::string_view();
    auto require_domain_spec = [&](std::string_view spec) -> bool {
      return !spec.empty() && spf_expand(spec, syntax_probe, "b.example").has_value();
    };
    if (iequals(name, "all")) {
      if (!argument.empty()) return kio::fail("bad term " + std::string(text));
      term.what = spf_term::kind::all;
    } else if (iequals(name, "include") || iequals(name, "exists")) {
      term.what = iequals(name, "include") ? spf_term::kind::include : spf_term::kind::exists;
      if (!has_colon || !require_domain_spec(after_colon)) return kio::fail("bad term " + std::string(text));
      term.domain_spec = std::string(after_colon);
    } else if (iequals(name, "a") || iequals(name, "mx")) {
      term.what = iequals(name, "a") ? spf_term::kind::a : spf_term::kind::mx;
      std::string_view spec = has_colon ? after_colon : argument;
      std::string_view domain;
      if (!split_dual_cidr(spec, domain, term.cidr4, term.cidr6)) return kio::fail("bad cidr in " + std::string(text));
      if (has_colon && !require_domain_spec(domain)) return kio::fail("bad term " + std::string(text));
      if (!has_colon && !domain.empty()) return kio::fail("bad term " + std::string(text));
      term.domain_spec = std::string(domain);
    } else if (iequals(name, "ptr")) {
      term.what = spf_term::kind::ptr;
      if (!argument.empty() && (!has_colon || !require_domain_spec(after_colon)))
        return kio::fail("bad term " + std::string(text));
      term.domain_spec = std::string(after_colon);
    } else if (iequals(name, "ip4") || iequals(name, "ip6")) {
      bool v6 = iequals(name, "ip6");
      term.what = v6 ? spf_term::kind::ip6 : spf_term::kind::ip4;
      if (!has_colon) return kio::fail("bad term " + std::string(text));
      std::string_view address = after_colon;
      size_t slash = address.find('/');
      if (slash != std::string_view::npos) {
        auto bits = parse_small(address.substr(slash + 1), v6 ? 128 : 32);
        if (!bits) return kio::fail("bad cidr in " + std::string(text));
        (v6 ? term.cidr6 : term.cidr4) = *bits;
        address = address.substr(0, slash);
      }
      auto parsed = ip_address::parse(address);
      // ip6:::ffff:1.2.3.4 parses as IPv4; it is still an ip6 network.
      if (!parsed || parsed->v6 != v6) {
        if (!(parsed && v6 && address.find(':') != std::string_view::npos))
          return kio::fail("bad address in " + std::string(text));
      }
      term.network = *parsed;
    } else {
      return kio::fail("unknown mechanism " + std::string(text));
    }
    terms.push_back(std::move(term));
  }
  return terms;
}

static void url_escape_append(std::string_view in, std::string& out) {
  static const char hex[] = "0123456789ABCDEF";
  for (unsigned char c : in) {
    if (is_alpha(static_cast<char>(c)) || is_digit(static_cast<char>(c)) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
}

std::optional<std::string> spf_expand(std::string_view spec, const spf_context& context,
                                      std::string_view current_domain, bool explanation) {
  std::string out;
  size_t at = context.sender.rfind('@');
  std::string_view sender = context.sender;
  std::string_view local = at == std::string_view::npos ? std::string_view("postmaster") : sender.substr(0, at);
  std::string_view sender_domain = at == std::string_view::npos ? sender : sender.substr(at + 1);
  if (local.empty()) local = "postmaster";
  for (size_t i = 0; i < spec.size(); ++i) {
    char c = spec[i];
    if (c != '%') {
      if (c < 0x21 || c > 0x7e) return std::nullopt;
      out += c;
      continue;
    }
    if (++i >= spec.size()) return std::nullopt;
    char next = spec[i];
    if (next == '%') { out += '%'; continue; }
    if (next == '_') { out += ' '; continue; }
    if (next == '-') { out += "%20"; continue; }
    if (next != '{') return std::nullopt;
    size_t close = spec.find('}', i);
    if (close == std::string_view::npos || close == i + 1) return std::nullopt;
    std::string_view body = spec.substr(i + 1, close - i - 1);
    i = close;
    char letter = body[0];
    bool upper = letter >= 'A' && letter <= 'Z';
    if (upper) letter = static_cast<char>(letter + 32);
    std::string value;
    switch (letter) {
      case 's': value = std::string(sender); break;
      case 'l': value = std::string(local); break;
      case 'o': value = std::string(sender_domain); break;
      case 'd': value = std::string(current_domain); break;
      case 'i': value = context.ip.spf_macro_form(); break;
      // %{p} would need a validated reverse lookup per expansion; RFC 7208
      // §7.3 discourages it and allows "unknown" when it is not done.
      case 'p': value = "unknown"; break;
      case 'v': value = context.ip.v6 ? "ip6" : "in-addr"; break;
      case 'h': value = context.helo; break;
      case 'c':
        if (!explanation) return std::nullopt;
        value = context.ip.to_string();
        break;
      case 'r':
        if (!explanation) return std::nullopt;
        value = context.receiver.empty() ? "unknown" : context.receiver;
        break;
      case 't':
        if (!explanation) return std::nullopt;
        value = "0";
        break;
      default: return std::nullopt;
    }
    // Transformers: digits, 'r', then delimiters.
    size_t pos = 1;
    unsigned keep = 0;
    bool has_keep = false;
    while (pos < body.size() && is_digit(body[pos])) {
      keep = keep * 10 + static_cast<unsigned>(body[pos] - '0');
      if (keep > 128) return std::nullopt;
      has_keep = true;
      ++pos;
    }
    if (has_keep && keep == 0) return std::nullopt;
    bool reverse = false;
    if (pos < body.size() && (body[pos] == 'r' || body[pos] == 'R')) {
      reverse = true;
      ++pos;
    }
    std::string delimiters;
    for (; pos < body.size(); ++pos) {
      if (std::string_view(".-+,/_=").find(body[pos]) == std::string_view::npos) return std::nullopt;
      delimiters += body[pos];
    }
    if (delimiters.empty()) delimiters = ".";
    std::vector<std::string_view> parts;
    std::string_view v = value;
    size_t start = 0;
    for (size_t k = 0; k <= v.size(); ++k) {
      if (k == v.size() || delimiters.find(v[k]) != std::string::npos) {
        parts.push_back(v.substr(start, k - start));
        start = k + 1;
      }
    }
    if (reverse) std::reverse(parts.begin(), parts.end());
    size_t first = has_keep && parts.size() > keep ? parts.size() - keep : 0;
    std::string joined;
    for (size_t k = first; k < parts.size(); ++k) {
      if (k > first) joined += '.';
      joined += parts[k];
    }
    if (upper) url_escape_append(joined, out);
    else out += joined;
  }
  if (!explanation) {
    while (out.size() > 253) {
      size_t dot = out.find('.');
      if (dot == std::string::npos) return std::nullopt;
      out.erase(0, dot + 1);
    }
  }
  return out;
}

namespace {

// One check_host() evaluation, shared by the includes and redirects it
// follows, so the lookup limits count across all of them.
struct evaluation {
  dns_resolver& dns;
  const spf_context& context;
  spf_limits limits;
  unsigned lookups = 0;
  unsigned voids = 0;
  std::string reason;
  std::string decided_by;

  bool count_lookup() {
    if (++lookups > limits.dns_lookups_max) {
      reason = "more than " + std::to_string(limits.dns_lookups_max) + " DNS lookups";
      return false;
    }
    return true;
  }
  bool count_void() {
    if (++voids > limits.void_lookups_max) {
      reason = "more than " + std::to_string(limits.void_lookups_max) + " void lookups";
      return false;
    }
    return true;
  }
};

enum class match : uint8_t { yes, no, temperror, permerror };

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  if (d.back() == '.') d.remove_suffix(1);
  if (d.find('.') == std::string_view::npos) return false;
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (++label > 63) {
      return false;
    }
  }
  return label > 0;
}

spf_result qualifier_result(spf_qualifier q) {
  switch (q) {
    case spf_qualifier::pass: return spf_result::pass;
    case spf_qualifier::fail: return spf_result::fail;
    case spf_qualifier::softfail: return spf_result::softfail;
    case spf_qualifier::neutral: return spf_result::neutral;
  }
  return spf_result::neutral;
}

kio::task<address_answer> addresses_for(dns_resolver& dns, std::string name, bool v6) {
  if (v6) {
    auto answer = co_await dns.aaaa(std::move(name));
    co_return answer;
  }
  auto answer = co_await dns.a(std::move(name));
  co_return answer;
}

bool any_matches(const address_answer& answer, const ip_address& ip, unsigned cidr4, unsigned cidr6) {
  for (const ip_address& candidate : answer.addresses)
    if (candidate.matches(ip, ip.v6 ? cidr6 : cidr4)) return true;
  return false;
}

kio::task<spf_result> check_host(evaluation& e, std::string domain);

kio::task<match> evaluate(evaluation& e, const spf_term& term, const std::string& domain) {
  std::string target = domain;
  if (!term.domain_spec.empty() && term.what != spf_term::kind::ip4 && term.what != spf_term::kind::ip6) {
    auto expanded = spf_expand(term.domain_spec, e.context, domain);
    if (!expanded) co_return match::permerror;
    target = std::move(*expanded);
  }
  const ip_address& ip = e.context.ip;
  switch (term.what) {
    case spf_term::kind::all: co_return match::yes;
    case spf_term::kind::ip4:
    case spf_term::kind::ip6: {
      bool v6 = term.what == spf_term::kind::ip6;
      co_return term.network.matches(ip, v6 ? term.cidr6 : term.cidr4) ? match::yes : match::no;
    }
    case spf_term::kind::include: {
      if (!e.count_lookup()) co_return match::permerror;
      spf_result r = co_await check_host(e, target);
      switch (r) {
        case spf_result::pass: co_return match::yes;
        case spf_result::fail:
        case spf_result::softfail:
        case spf_result::neutral: co_return match::no;
        case spf_result::temperror: co_return match::temperror;
        case spf_result::none:
          if (e.reason.empty()) e.reason = "include:" + target + " has no SPF record";
          co_return match::permerror;
        case spf_result::permerror: co_return match::permerror;
      }
      co_return match::permerror;
    }
    case spf_term::kind::a: {
      if (!e.count_lookup()) co_return match::permerror;
      auto answer = co_await addresses_for(e.dns, target, ip.v6);
      if (answer.status == dns_status::temporary) co_return match::temperror;
      if (answer.status == dns_status::nxdomain || answer.status == dns_status::no_data) {
        if (!e.count_void()) co_return match::permerror;
        co_return match::no;
      }
      co_return any_matches(answer, ip, term.cidr4, term.cidr6) ? match::yes : match::no;
    }
    case spf_term::kind::mx: {
      if (!e.count_lookup()) co_return match::permerror;
      auto answer = co_await e.dns.mx(target);
      if (answer.status == dns_status::temporary) co_return match::temperror;
      if (answer.status == dns_status::nxdomain || answer.status == dns_status::no_data) {
        if (!e.count_void()) co_return match::permerror;
        co_return match::no;
      }
      if (answer.records.size() > e.limits.names_per_mechanism_max) {
        e.reason = "more than " + std::to_string(e.limits.names_per_mechanism_max) + " MX records";
        co_return match::permerror;
      }
      for (const mx_record& mx : answer.records) {
        auto addresses = co_await addresses_for(e.dns, mx.host, ip.v6);
        if (addresses.status == dns_status::temporary) co_return match::temperror;
        if (any_matches(addresses, ip, term.cidr4, term.cidr6)) co_return match::yes;
      }
      co_return match::no;
    }
    case spf_term::kind::ptr: {
      if (!e.count_lookup()) co_return match::permerror;
      auto names = co_await e.dns.ptr(ip);
      if (names.status != dns_status::ok) {
        if (names.status == dns_status::nxdomain || names.status == dns_status::no_data) {
          if (!e.count_void()) co_return match::permerror;
        }
        co_return match::no;  // RFC 7208 §5.5: a failed PTR lookup is no match
      }
      size_t checked = 0;
      for (const std::string& name : names.names) {
        if (++checked > e.limits.names_per_mechanism_max) break;
        bool within = iequals(name, target) ||
                      (name.size() > target.size() && name[name.size() - target.size() - 1] == '.' &&
                       iequals(std::string_view(name).substr(name.size() - target.size()), target));
        if (!within) continue;
        auto forward = co_await addresses_for(e.dns, name, ip.v6);
        for (const ip_address& candidate : forward.addresses)
          if (candidate == ip) co_return match::yes;
      }
      co_return match::no;
    }
    case spf_term::kind::exists: {
      if (!e.count_lookup()) co_return match::permerror;
      auto answer = co_await e.dns.a(target);
      if (answer.status == dns_status::temporary) co_return match::temperror;
      if (answer.status == dns_status::nxdomain || answer.status == dns_status::no_data) {
        if (!e.count_void()) co_return match::permerror;
        co_return match::no;
      }
      co_return answer.addresses.empty() ? match::no : match::yes;
    }
    case spf_term::kind::redirect:
    case spf_term::kind::exp:
    case spf_term::kind::unknown_modifier: co_return match::no;
  }
  co_return match::no;
}

std::string describe(const spf_term& term) {
  static constexpr std::string_view names[] = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"};
  std::string out(names[static_cast<size_t>(term.what)]);
  if (term.what == spf_term::kind::ip4 || term.what == spf_term::kind::ip6) {
    out += ":" + term.network.to_string();
    unsigned bits = term.what == spf_term::kind::ip4 ? term.cidr4 : term.cidr6;
    if (bits != (term.what == spf_term::kind::ip4 ? 32u : 128u)) out += "/" + std::to_string(bits);
  }
  else if (!term.domain_spec.empty()) out += ":" + term.domain_spec;
  return out;
}

kio::task<spf_result> check_host(evaluation& e, std::string domain) {
  if (!valid_domain(domain)) co_return spf_result::none;
  auto answer = co_await e.dns.txt(domain);
  if (answer.status == dns_status::temporary) {
    e.reason = "DNS failure for " + domain;
    co_return spf_result::temperror;
  }
  std::optional<std::string_view> record;
  for (const std::string& txt : answer.records) {
    if (!is_spf_record(txt)) continue;
    if (record) {
      e.reason = "more than one SPF record at " + domain;
      co_return spf_result::permerror;
    }
    record = txt;
  }
  if (!record) co_return spf_result::none;
  auto terms = parse_spf_record(*record);
  if (!terms) {
    e.reason = terms.error() + " at " + domain;
    co_return spf_result::permerror;
  }
  const spf_term* redirect = nullptr;
  bool has_all = false;
  for (const spf_term& term : *terms) {
    if (term.what == spf_term::kind::redirect) redirect = &term;
    if (term.what == spf_term::kind::all) has_all = true;
  }
  for (const spf_term& term : *terms) {
    if (term.what == spf_term::kind::redirect || term.what == spf_term::kind::exp ||
        term.what == spf_term::kind::unknown_modifier)
      continue;
    match m = co_await evaluate(e, term, domain);
    if (m == match::temperror) co_return spf_result::temperror;
    if (m == match::permerror) co_return spf_result::permerror;
    if (m == match::yes) {
      e.decided_by = describe(term);  // the outermost deciding term wins
      co_return qualifier_result(term.qualifier);
    }
  }
  if (redirect && !has_all) {
    if (!e.count_lookup()) co_return spf_result::permerror;
    auto target = spf_expand(redirect->domain_spec, e.context, domain);
    if (!target) co_return spf_result::permerror;
    spf_result r = co_await check_host(e, *target);
    if (r == spf_result::none) {
      e.reason = "redirect=" + *target + " has no SPF record";
      co_return spf_result::permerror;
    }
    co_return r;
  }
  co_return spf_result::neutral;
}

}  // namespace

kio::task<spf_outcome> check_spf(dns_resolver& dns, spf_context context, spf_limits limits) {
  if (context.sender.empty()) context.sender = "postmaster@" + context.helo;
  if (context.sender.find('@') == std::string::npos) context.sender = "postmaster@" + context.sender;
  std::string domain = to_lower(context.sender.substr(context.sender.rfind('@') + 1));
  evaluation e{dns, context, limits};
  spf_outcome out;
  out.domain = domain;
  out.result = co_await check_host(e, domain);
  out.mechanism = std::move(e.decided_by);
  out.reason = std::move(e.reason);
  co_return out;
}

}  // namespace msgauth
