#include "protocols/mime/encoded_word.h"

#include "protocols/mime/charset.h"
#include "protocols/mime/transfer.h"

namespace mime {

namespace {

// RFC 2047 caps a word at 75 bytes, but real mail exceeds it; only the
// charset name is capped, which keeps a failed parse attempt O(1).
constexpr std::size_t charset_size_max = 64;

struct encoded_word {
  std::string_view charset;
  std::string bytes;  // decoded, still in `charset`
  std::size_t end = 0;
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Parses an encoded-word at value[start] ("=?"). `no_end` is set when there
// is no "?=" after the text start: then no later word can close either.
bool parse_word(std::string_view value, std::size_t start, encoded_word& word, bool& no_end) {
  std::size_t pos = start + 2;
  std::size_t charset_start = pos;
  while (pos < value.size() && value[pos] != '?') {
    char c = value[pos];
    if (is_blank(c) || c == '"' || c == '(' || c == ')' || c == ',' || pos - charset_start > charset_size_max)
      return false;
    ++pos;
  }
  if (pos == charset_start || pos + 3 > value.size()) return false;
  word.charset = value.substr(charset_start, pos - charset_start);
  char encoding = value[pos + 1];
  if (value[pos + 2] != '?') return false;
  bool base64 = encoding == 'B' || encoding == 'b';
  if (!base64 && encoding != 'Q' && encoding != 'q') return false;
  std::size_t text_start = pos + 3;
  std::size_t text_end = value.find("?=", text_start);
  if (text_end == std::string_view::npos) {
    no_end = true;
    return false;
  }
  std::string_view text = value.substr(text_start, text_end - text_start);
  word.bytes = base64 ? decode_base64(text) : decode_q_word(text);
  word.end = text_end + 2;
  return true;
}

void append_unfolded(std::string_view literal, std::string& out) {
  for (char c : literal)
    if (c != '\r' && c != '\n') out.push_back(c);
}

}  // namespace

std::string decode_header_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  std::string pending_charset;
  std::string pending_bytes;
  auto flush = [&] {
    if (!pending_bytes.empty()) append_utf8(pending_charset, pending_bytes, out);
    pending_bytes.clear();
  };
  std::size_t pos = 0;         // start of the literal not yet output
  std::size_t search = 0;      // where to look for the next "=?"
  bool last_was_word = false;  // the literal since `pos` follows an encoded-word
  bool no_end = false;
  while (!no_end) {
    std::size_t start = value.find("=?", search);
    if (start == std::string_view::npos) break;
    encoded_word word;
    if (!parse_word(value, start, word, no_end)) {
      search = start + 1;
      continue;
    }
    std::string_view literal = value.substr(pos, start - pos);
    bool only_blanks = true;
    for (char c : literal)
      if (!is_blank(c)) only_blanks = false;
    if (!(last_was_word && only_blanks)) {
      flush();
      std::string literal_bytes;
      append_unfolded(literal, literal_bytes);
      append_sanitized_utf8(literal_bytes, out);
    }
    if (!pending_bytes.empty() && pending_charset != word.charset) flush();
    pending_charset.assign(word.charset);
    pending_bytes += word.bytes;
    last_was_word = true;
    pos = search = word.end;
  }
  flush();
  std::string rest;
  append_unfolded(value.substr(pos), rest);
  append_sanitized_utf8(rest, out);
  return out;
}

}  // namespace mime
