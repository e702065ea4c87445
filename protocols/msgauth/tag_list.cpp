#include "protocols/msgauth/tag_list.h"

#include <string>

namespace msgauth {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

static bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

std::string strip_whitespace(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value)
    if (!is_fws(c)) out += c;
  return out;
}

static bool valid_tag_name(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(name[0])) return false;
  for (char c : name)
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
  return true;
}

std::optional<std::vector<tag>> parse_tag_list(std::string_view text, size_t tags_max) {
  std::vector<tag> tags;
  while (!text.empty()) {
    size_t semicolon = text.find(';');
    std::string_view piece = text.substr(0, semicolon);
    text = semicolon == std::string_view::npos ? std::string_view() : text.substr(semicolon + 1);
    if (trim(piece).empty()) {
      // Only a trailing ";" (with optional whitespace) is allowed to be empty.
      if (semicolon != std::string_view::npos && !trim(text).empty()) return std::nullopt;
      continue;
    }
    size_t equals = piece.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    tag t{trim(piece.substr(0, equals)), trim(piece.substr(equals + 1))};
    if (!valid_tag_name(t.name)) return std::nullopt;
    for (const tag& seen : tags)
      if (seen.name == t.name) return std::nullopt;
    if (tags.size() >= tags_max) return std::nullopt;
    tags.push_back(t);
  }
  return tags;
}

std::optional<std::string_view> find_tag(const std::vector<tag>& tags, std::string_view name) {
  for (const tag& t : tags)
    if (t.name == name) return t.value;
  return std::nullopt;
}

}  // namespace msgauth
