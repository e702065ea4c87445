#include "protocols/smtp/parser/address.h"

#include <functional>

#include "protocols/common/utf8.h"

namespace smtp {
namespace {

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// RFC 5322 atext.
bool is_atext(unsigned char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '/':
    case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

// RFC 5321 qtextSMTP: printable ASCII except '"' and '\'.
bool is_qtext(unsigned char c) { return c >= 32 && c <= 126 && c != '"' && c != '\\'; }

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

// 8-bit bytes are allowed only under SMTPUTF8 and must then be UTF-8.
kio::result<void, address_errc> check_eight_bit(std::string_view text, const address_options& options) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      if (!options.smtputf8) return kio::fail(address_errc::non_ascii);
      if (!proto::utf8_valid(text)) return kio::fail(address_errc::invalid_utf8);
      return {};
    }
  }
  return {};
}

// Snum: 1-3 digits, value 0-255.
bool parse_ipv4(std::string_view text) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t digits = 0;
    int value = 0;
    while (i < text.size() && is_digit(static_cast<unsigned char>(text[i])) && digits < 4) {
      value = value * 10 + (text[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0 || digits > 3 || value > 255) return false;
    ++parts;
    if (parts == 4) return i == text.size();
    if (i >= text.size() || text[i] != '.') return false;
    ++i;
  }
}

// RFC 5321 IPv6-addr: full, compressed ("::" stands for at least two zero
// groups, so at most 6 groups beside it), and both with a trailing IPv4.
bool parse_ipv6(std::string_view text) {
  const std::size_t gap = text.find("::");
  if (gap != std::string_view::npos && text.find("::", gap + 1) != std::string_view::npos) return false;
  int groups = 0;
  auto count_side = [&groups](std::string_view side, bool may_end_in_ipv4) {
    if (side.empty()) return true;
    std::size_t start = 0;
    while (true) {
      const std::size_t colon = side.find(':', start);
      const std::string_view token = side.substr(start, colon == std::string_view::npos ? side.npos : colon - start);
      if (colon == std::string_view::npos && may_end_in_ipv4 && token.find('.') != std::string_view::npos) {
        if (!parse_ipv4(token)) return false;
        groups += 2;
        return true;
      }
      if (token.empty() || token.size() > 4) return false;
      for (const char c : token) {
        if (!is_hex(static_cast<unsigned char>(c))) return false;
      }
      ++groups;
      if (groups > 8) return false;
      if (colon == std::string_view::npos) return true;
      start = colon + 1;
    }
  };
  if (gap == std::string_view::npos) return count_side(text, true) && groups == 8;
  return count_side(text.substr(0, gap), false) && count_side(text.substr(gap + 2), true) && groups <= 6;
}

kio::result<std::string, address_errc> parse_address_literal(std::string_view text) {
  // text includes the brackets.
  if (text.size() < 3 || text.front() != '[' || text.back() != ']') return kio::fail(address_errc::bad_address_literal);
  const std::string_view inner = text.substr(1, text.size() - 2);
  if (parse_ipv4(inner)) return std::string(text);
  if (inner.size() > 5 && equals_ignore_case(inner.substr(0, 5), "IPv6:") && parse_ipv6(inner.substr(5))) {
    std::string canonical = "[IPv6:";
    for (const char c : inner.substr(5)) canonical += to_lower(c);
    canonical += ']';
    return canonical;
  }
  return kio::fail(address_errc::bad_address_literal);
}

kio::result<std::string, address_errc> parse_domain_impl(std::string_view text, const address_options& options,
                                                         bool allow_underscore) {
  if (text.empty()) return kio::fail(address_errc::bad_domain);
  if (text.size() > options.limits.domain_size_max) return kio::fail(address_errc::domain_too_long);
  if (text.front() == '[') return parse_address_literal(text);
  if (auto checked = check_eight_bit(text, options); !checked) return kio::fail(checked.error());

  std::string canonical;
  canonical.reserve(text.size());
  std::size_t label_size = 0;
  char previous = '.';
  for (const char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '.') {
      // Empty label (leading dot, "..", trailing dot) or a label ending in '-'.
      if (label_size == 0 || previous == '-') return kio::fail(address_errc::bad_domain);
      label_size = 0;
    } else if (is_alpha(u) || is_digit(u) || u >= 0x80 || (allow_underscore && c == '_')) {
      if (++label_size > 63) return kio::fail(address_errc::domain_too_long);
    } else if (c == '-') {
      if (label_size == 0) return kio::fail(address_errc::bad_domain);
      if (++label_size > 63) return kio::fail(address_errc::domain_too_long);
    } else {
      return kio::fail(address_errc::bad_domain);
    }
    canonical += to_lower(c);
    previous = c;
  }
  if (label_size == 0 || previous == '-') return kio::fail(address_errc::bad_domain);
  return canonical;
}

// Decodes a local part (dot-atom or quoted-string) that spans all of `text`.
kio::result<std::string, address_errc> parse_local_part(std::string_view text, const address_options& options) {
  if (text.empty()) return kio::fail(address_errc::syntax);
  if (text.size() > options.limits.local_part_size_max) return kio::fail(address_errc::local_part_too_long);
  if (auto checked = check_eight_bit(text, options); !checked) return kio::fail(checked.error());

  std::string decoded;
  decoded.reserve(text.size());
  if (text.front() == '"') {
    if (text.size() < 2 || text.back() != '"') return kio::fail(address_errc::syntax);
    const std::string_view inner = text.substr(1, text.size() - 2);
    for (std::size_t i = 0; i < inner.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(inner[i]);
      if (c == '\\') {
        // quoted-pairSMTP: backslash and one printable ASCII character.
        if (i + 1 == inner.size()) return kio::fail(address_errc::syntax);
        const unsigned char next = static_cast<unsigned char>(inner[++i]);
        if (next < 32 || next > 126) return kio::fail(address_errc::syntax);
        decoded += static_cast<char>(next);
      } else if (is_qtext(c) || c >= 0x80) {
        decoded += static_cast<char>(c);
      } else {
        return kio::fail(address_errc::syntax);
      }
    }
    // An empty quoted local part ("") is RFC-valid but names no one; refuse it.
    if (decoded.empty()) return kio::fail(address_errc::syntax);
    return decoded;
  }
  char previous = '.';
  for (const char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (previous == '.') return kio::fail(address_errc::syntax);  // leading dot or ".."
    } else if (!is_atext(u) && u < 0x80) {
      return kio::fail(address_errc::syntax);
    }
    previous = c;
  }
  if (previous == '.') return kio::fail(address_errc::syntax);
  return std::string(text);
}

// Index of the '@' that separates local part and domain: the last '@' that
// is not inside the quoted string.
std::size_t find_local_part_end(std::string_view text) {
  if (!text.empty() && text.front() == '"') {
    for (std::size_t i = 1; i < text.size(); ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '"') {
        return (i + 1 < text.size() && text[i + 1] == '@') ? i + 1 : std::string_view::npos;
      }
    }
    return std::string_view::npos;
  }
  return text.find('@');
}

bool is_dot_atom(std::string_view text) {
  if (text.empty()) return false;
  char previous = '.';
  for (const char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (previous == '.') return false;
    } else if (!is_atext(u) && u < 0x80) {
      return false;
    }
    previous = c;
  }
  return previous != '.';
}

}  // namespace

relay_hazard local_part_hazards(std::string_view local_part) {
  relay_hazard hazards = relay_hazard::none;
  for (const char c : local_part) {
    if (c == '%') hazards |= relay_hazard::percent;
    if (c == '!') hazards |= relay_hazard::bang;
    if (c == '@') hazards |= relay_hazard::at_in_local_part;
  }
  return hazards;
}

kio::result<std::string, address_errc> parse_domain(std::string_view text, const address_options& options) {
  return parse_domain_impl(text, options, false);
}

kio::result<std::string, address_errc> parse_helo_domain(std::string_view text, const address_options& options) {
  return parse_domain_impl(text, options, true);
}

kio::result<mailbox, address_errc> parse_mailbox(std::string_view text, const address_options& options) {
  const std::size_t at = find_local_part_end(text);
  if (at == std::string_view::npos) return kio::fail(address_errc::syntax);
  auto local_part = parse_local_part(text.substr(0, at), options);
  if (!local_part) return kio::fail(local_part.error());
  auto domain = parse_domain(text.substr(at + 1), options);
  if (!domain) return kio::fail(domain.error());
  mailbox result;
  result.local_part = std::move(*local_part);
  result.domain_literal = domain->front() == '[';
  result.domain = std::move(*domain);
  return result;
}

std::size_t find_path_end(std::string_view text) {
  if (text.empty() || text.front() != '<') return std::string_view::npos;
  bool quoted = false;
  for (std::size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

kio::result<path, address_errc> parse_path(std::string_view text, path_kind kind, const address_options& options) {
  if (text.size() > options.limits.path_size_max) return kio::fail(address_errc::path_too_long);
  if (text.size() < 2 || text.front() != '<' || text.back() != '>') return kio::fail(address_errc::syntax);
  std::string_view inner = text.substr(1, text.size() - 2);
  path result;

  if (inner.empty()) {
    if (kind != path_kind::reverse) return kio::fail(address_errc::syntax);
    result.null = true;
    return result;
  }
  if (kind == path_kind::forward && equals_ignore_case(inner, "postmaster")) {
    result.postmaster = true;
    result.address.local_part = "postmaster";
    return result;
  }

  if (inner.front() == '@') {
    // A-d-l: "@one,@two:" — validated, then ignored (RFC 5321 section 4.1.1.3
    // and appendix C), and flagged, since it is a relaying instruction.
    const std::size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return kio::fail(address_errc::syntax);
    std::string_view route = inner.substr(0, colon);
    while (!route.empty()) {
      if (route.front() != '@') return kio::fail(address_errc::syntax);
      const std::size_t comma = route.find(',');
      const std::string_view hop = route.substr(1, comma == std::string_view::npos ? route.npos : comma - 1);
      if (auto domain = parse_domain(hop, options); !domain) return kio::fail(domain.error());
      if (comma == std::string_view::npos) break;
      route = route.substr(comma + 1);
      if (route.empty()) return kio::fail(address_errc::syntax);
    }
    result.hazards |= relay_hazard::source_route;
    inner = inner.substr(colon + 1);
  }

  auto address = parse_mailbox(inner, options);
  if (!address) return kio::fail(address.error());
  result.address = std::move(*address);
  result.hazards |= local_part_hazards(result.address.local_part);
  // From the mailbox only: the ignored route must not change what the
  // address needs downstream.
  for (const std::string& part : {std::cref(result.address.local_part), std::cref(result.address.domain)}) {
    for (const char c : part) {
      if (static_cast<unsigned char>(c) >= 0x80) result.utf8 = true;
    }
  }
  return result;
}

void format_mailbox(const mailbox& address, std::string& output) {
  if (is_dot_atom(address.local_part)) {
    output += address.local_part;
  } else {
    output += '"';
    for (const char c : address.local_part) {
      if (c == '"' || c == '\\') output += '\\';
      output += c;
    }
    output += '"';
  }
  output += '@';
  output += address.domain;
}

std::string format_mailbox(const mailbox& address) {
  std::string output;
  format_mailbox(address, output);
  return output;
}

void format_path(const path& p, std::string& output) {
  output += '<';
  if (p.postmaster) {
    output += "postmaster";
  } else if (!p.null) {
    format_mailbox(p.address, output);
  }
  output += '>';
}

}  // namespace smtp
