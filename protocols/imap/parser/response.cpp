#include "protocols/imap/parser/response.h"

#include <charconv>

namespace imap {
namespace {

bool is_astring_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\':
      return false;
    default:
      return true;
  }
}

bool needs_literal(std::string_view value, const quoting_options& options) {
  if (value.size() > options.quoted_length_max) return true;
  for (char ch : value) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\r' || c == '\n' || c == '\0') return true;
    if (c >= 0x80 && !options.utf8_allowed) return true;
  }
  return false;
}

}  // namespace

void append_quote_or_literal(std::string& out, std::string_view value, const quoting_options& options) {
  if (needs_literal(value, options)) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value.size());
    out.push_back('{');
    out.append(digits, end);
    out.append("}\r\n");
    out.append(value);
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string quote_or_literal(std::string_view value, const quoting_options& options) {
  std::string out;
  append_quote_or_literal(out, value, options);
  return out;
}

void append_nstring(std::string& out, std::optional<std::string_view> value, const quoting_options& options) {
  if (!value) {
    out.append("NIL");
    return;
  }
  append_quote_or_literal(out, *value, options);
}

void append_astring(std::string& out, std::string_view value, const quoting_options& options) {
  bool atom = !value.empty() && value.size() <= options.quoted_length_max;
  for (char c : value) {
    if (!is_astring_char(static_cast<unsigned char>(c))) {
      atom = false;
      break;
    }
  }
  // "NIL" as a bare atom would read as nil in an nstring position.
  if (atom && !(value.size() == 3 && (value[0] | 0x20) == 'n' && (value[1] | 0x20) == 'i' && (value[2] | 0x20) == 'l')) {
    out.append(value);
    return;
  }
  append_quote_or_literal(out, value, options);
}

void append_flag_list(std::string& out, std::span<const std::string> flags) {
  out.push_back('(');
  bool first = true;
  for (const std::string& f : flags) {
    if (!first) out.push_back(' ');
    first = false;
    out.append(f);
  }
  out.push_back(')');
}

std::string flag_list(std::span<const std::string> flags) {
  std::string out;
  append_flag_list(out, flags);
  return out;
}

void append_mailbox(std::string& out, std::string_view utf8_name, mailbox_encoding encoding) {
  quoting_options options;
  options.utf8_allowed = encoding == mailbox_encoding::utf8;
  append_quote_or_literal(out, encode_mailbox_name(utf8_name, encoding), options);
}

}  // namespace imap
