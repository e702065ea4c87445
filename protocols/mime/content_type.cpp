#include "protocols/mime/content_type.h"

#include <algorithm>

#include "protocols/mime/charset.h"
#include "protocols/mime/encoded_word.h"
#include "protocols/mime/header.h"

namespace mime {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// RFC 2045 token characters: anything printable except tspecials.
bool is_token_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 32 || u == 127) return false;
  switch (c) {
    case '(': case ')': case '<': case '>': case '@': case ',': case ';': case ':':
    case '\\': case '"': case '/': case '[': case ']': case '?': case '=':
      return false;
    default:
      return true;
  }
}

// Skips blanks and (nested) comments.
std::size_t skip_cfws(std::string_view s, std::size_t pos) {
  while (pos < s.size()) {
    if (is_blank(s[pos])) {
      ++pos;
    } else if (s[pos] == '(') {
      int depth = 0;
      while (pos < s.size()) {
        char c = s[pos++];
        if (c == '\\' && pos < s.size()) ++pos;
        else if (c == '(') ++depth;
        else if (c == ')' && --depth == 0) break;
      }
    } else {
      break;
    }
  }
  return pos;
}

std::size_t scan_token(std::string_view s, std::size_t pos) {
  while (pos < s.size() && is_token_char(s[pos])) ++pos;
  return pos;
}

// A quoted string at s[pos] == '"'; appends its unescaped content. A
// missing closing quote ends at the end of input.
std::size_t scan_quoted(std::string_view s, std::size_t pos, std::string& out) {
  ++pos;
  while (pos < s.size() && s[pos] != '"') {
    if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
    if (s[pos] != '\r' && s[pos] != '\n') out.push_back(s[pos]);
    ++pos;
  }
  return pos < s.size() ? pos + 1 : pos;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

struct raw_section {
  std::string name;
  unsigned index = 0;
  bool has_index = false;
  bool extended = false;
  bool used = false;  // taken into the list (or dropped as a duplicate)
  std::string value;
};

}  // namespace

const parameter* parameter_list::find(std::string_view name) const {
  for (const auto& p : items)
    if (iequals(p.name, name)) return &p;
  return nullptr;
}

std::string_view parameter_list::get(std::string_view name) const {
  const parameter* p = find(name);
  return p == nullptr ? std::string_view{} : std::string_view(p->value);
}

std::string parameter::decoded() const {
  if (!extended) return decode_header_value(value);
  std::size_t q1 = value.find('\'');
  std::size_t q2 = q1 == std::string::npos ? std::string::npos : value.find('\'', q1 + 1);
  std::string_view charset, text = value;
  if (q2 != std::string::npos) {
    charset = std::string_view(value).substr(0, q1);
    text = std::string_view(value).substr(q2 + 1);
  }
  std::string bytes;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
        hex_value(text[i + 2]) >= 0) {
      bytes.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      bytes.push_back(text[i]);
    }
  }
  std::string out;
  append_utf8(charset.empty() ? std::string_view("us-ascii") : charset, bytes, out);
  return out;
}

parameter_list parse_parameters(std::string_view s, const limits& lim) {
  std::vector<raw_section> sections;
  // Most values have one to three parameters: one allocation, not a
  // growth step per parameter.
  sections.reserve(4);
  std::size_t pos = 0;
  // Bounded by both the parameter and the section caps.
  const std::size_t section_cap = lim.parameter_count_max * 4 + lim.parameter_section_max;
  while (pos < s.size() && sections.size() < section_cap) {
    pos = skip_cfws(s, pos);
    if (pos < s.size() && s[pos] == ';') {
      ++pos;
      continue;
    }
    std::size_t name_end = scan_token(s, pos);
    // Extended names carry '*' which is a token char: "name*0*".
    if (name_end == pos) {
      ++pos;  // junk byte: skip it
      continue;
    }
    std::string_view name = s.substr(pos, name_end - pos);
    pos = skip_cfws(s, name_end);
    if (pos >= s.size() || s[pos] != '=') continue;  // attribute without value: ignore
    pos = skip_cfws(s, pos + 1);
    raw_section section;
    if (pos < s.size() && s[pos] == '"') {
      pos = scan_quoted(s, pos, section.value);
    } else {
      // Unquoted: accept specials other than ';' since senders put '/' and
      // '=' and even spaces in unquoted names; stop at ';' or a blank.
      std::size_t end = pos;
      while (end < s.size() && s[end] != ';' && !is_blank(s[end])) ++end;
      section.value.assign(s.substr(pos, end - pos));
      pos = end;
    }
    std::string lower = to_lower_ascii(name);
    if (!lower.empty() && lower.back() == '*') {
      section.extended = true;
      lower.pop_back();
    }
    std::size_t star = lower.find('*');
    if (star != std::string::npos) {
      std::string_view digits = std::string_view(lower).substr(star + 1);
      unsigned index = 0;
      bool numeric = !digits.empty() && digits.size() <= 4;
      for (char c : digits) {
        if (c < '0' || c > '9') numeric = false;
        else index = index * 10 + static_cast<unsigned>(c - '0');
      }
      if (numeric) {
        section.has_index = true;
        section.index = index;
        lower.resize(star);
      }
    }
    section.name = std::move(lower);
    sections.push_back(std::move(section));
  }

  parameter_list list;
  // Plain parameters and RFC 2231 section sets, in order of first
  // appearance; a duplicate plain parameter is ignored (first wins).
  for (std::size_t i = 0; i < sections.size() && list.items.size() < lim.parameter_count_max; ++i) {
    raw_section& first = sections[i];
    if (first.used) continue;
    if (list.find(first.name) != nullptr) {
      first.used = true;
      continue;
    }
    parameter p;
    if (!first.has_index) {
      // A plain parameter's section is not read again (later ones of the
      // same name are duplicates, found in the list): moved, not copied.
      p.name = std::move(first.name);
      p.value = std::move(first.value);
      p.extended = first.extended;
      first.used = true;
    } else {
      p.name = first.name;
      // Gather the sections of this name, then join them by index; the
      // count is capped, so the sort is bounded.
      std::vector<const raw_section*> parts;
      for (std::size_t j = i; j < sections.size() && parts.size() < lim.parameter_section_max; ++j) {
        if (!sections[j].used && sections[j].has_index && sections[j].name == first.name) {
          parts.push_back(&sections[j]);
          sections[j].used = true;
        }
      }
      std::stable_sort(parts.begin(), parts.end(),
                       [](const raw_section* a, const raw_section* b) { return a->index < b->index; });
      // Per RFC 2231 only the first section carries charset'lang'; later
      // extended sections are %-encoded, plain ones are literal and must be
      // %-escaped when the joined value is extended.
      bool any_extended = false;
      for (const raw_section* part : parts) any_extended = any_extended || part->extended;
      if (any_extended && !parts.front()->extended) p.value = "''";
      for (const raw_section* part : parts) {
        if (any_extended && !part->extended) {
          for (char c : part->value) {
            if (c == '%' || c == '\'' || static_cast<unsigned char>(c) >= 0x80) {
              static constexpr char hex[] = "0123456789ABCDEF";
              p.value.push_back('%');
              p.value.push_back(hex[static_cast<unsigned char>(c) >> 4]);
              p.value.push_back(hex[static_cast<unsigned char>(c) & 15]);
            } else {
              p.value.push_back(c);
            }
          }
        } else {
          p.value += part->value;
        }
      }
      p.extended = any_extended;
    }
    list.items.push_back(std::move(p));
  }
  return list;
}

content_type default_content_type(bool in_digest) {
  content_type ct;
  if (in_digest) {
    ct.type = "message";
    ct.subtype = "rfc822";
  } else {
    ct.params.items.push_back({"charset", "us-ascii", false});
  }
  return ct;
}

content_type parse_content_type(std::string_view value, bool in_digest, const limits& lim) {
  std::size_t pos = skip_cfws(value, 0);
  std::size_t type_end = scan_token(value, pos);
  std::size_t slash = skip_cfws(value, type_end);
  if (type_end == pos || slash >= value.size() || value[slash] != '/') return default_content_type(in_digest);
  std::size_t sub_start = skip_cfws(value, slash + 1);
  std::size_t sub_end = scan_token(value, sub_start);
  if (sub_end == sub_start) return default_content_type(in_digest);
  content_type ct;
  ct.type = to_lower_ascii(value.substr(pos, type_end - pos));
  ct.subtype = to_lower_ascii(value.substr(sub_start, sub_end - sub_start));
  ct.valid = true;
  std::size_t semi = value.find(';', sub_end);
  if (semi != std::string_view::npos) ct.params = parse_parameters(value.substr(semi + 1), lim);
  return ct;
}

content_disposition parse_content_disposition(std::string_view value, const limits& lim) {
  content_disposition cd;
  std::size_t pos = skip_cfws(value, 0);
  std::size_t end = scan_token(value, pos);
  cd.type = to_lower_ascii(value.substr(pos, end - pos));
  std::size_t semi = value.find(';', end);
  if (semi != std::string_view::npos) cd.params = parse_parameters(value.substr(semi + 1), lim);
  return cd;
}

}  // namespace mime
