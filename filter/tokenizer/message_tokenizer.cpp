#include "filter/tokenizer/message_tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "protocols/common/byte_scan.h"
#include "protocols/mime/charset.h"
#include "protocols/mime/encoded_word.h"

namespace filter {

namespace {

constexpr std::size_t name_size_max = 32;
constexpr std::size_t part_type_size_max = 128;  // of a "part:<type>/<subtype>" token

// Headers whose values are tokenized (the rest count by name only), each
// with its prefix pinned in the text tokenizer (message_tokenizer's
// constructor), so a field's tokens need no lookup of its name.
constexpr std::string_view word_headers[] = {
    "to", "cc", "from", "sender", "subject", "list-id", "received", "reply-to", "x-mailer", "errors-to",
    "message-id", "user-agent", "precedence", "importance", "x-priority", "return-path", "content-type",
    "mime-version", "organization", "mailing-list", "list-unsubscribe", "x-msmail-priority",
    "content-disposition", "content-transfer-encoding",
};
static_assert(std::size(word_headers) == message_tokenizer::word_header_count);
constexpr int subject_header = 4;
// Which of them may hold RFC 2047 encoded words: subject, from, to, cc,
// reply-to, sender, organization.
constexpr bool may_be_encoded[] = {true, true, true, true, true, false, false, true, false, false, false, false,
                                   false, false, false, false, false, false, true, false, false, false, false, false};
static_assert(std::size(may_be_encoded) == std::size(word_headers));

// The index of `name` in word_headers, or -1. By length first: every field
// of a message asks.
int word_header(std::string_view name) {
  auto among = [name](int first, int last) {
    for (int i = first; i <= last; ++i)
      if (word_headers[i] == name) return i;
    return -1;
  };
  switch (name.size()) {
    case 2: return among(0, 1);
    case 4: return among(2, 2);
    case 6: return among(3, 3);
    case 7: return among(4, 5);
    case 8: return among(6, 8);
    case 9: return among(9, 9);
    case 10: return among(10, 14);
    case 11: return among(15, 15);
    case 12: return among(16, 19);
    case 16: return among(20, 20);
    case 17: return among(21, 21);
    case 19: return among(22, 22);
    case 25: return among(23, 23);
    default: return -1;
  }
}

bool is_plain_charset(std::string_view cs) {
  return cs.empty() || cs == "us-ascii" || cs == "utf-8" || cs == "ascii" || cs == "utf8";
}

}  // namespace

message_tokenizer::message_tokenizer(token_sink& sink, const tokenizer_options& options)
    : _options(options),
      _text(sink, options.level, options.case_tokens),
      _html(_text),
      _text_budget(options.text_bytes_max),
      _parser(*this, mime::stream_options{options.mime_limits, true, false}) {
  for (std::size_t i = 0; i < word_header_count; ++i) _header_prefix[i] = _text.pin(word_headers[i]);
  _other_header_prefix = _text.pin("header");
  _charset_prefix = _text.pin("charset");
}

message_tokenizer::~message_tokenizer() = default;

void message_tokenizer::reset() {
  _text.reset();
  _html.reset();
  _mode = body_mode::skip;
  _decoded = false;
  _charset.clear();
  _ascii_compatible = true;
  _subject.clear();
  _text_budget = _options.text_bytes_max;
  _parser.reset();
}

void message_tokenizer::on_header_field(const mime::part_info& part, const mime::stream_header_field& field) {
  std::array<char, name_size_max> lowered;  // [0, n) written and read
  const std::size_t n = std::min(field.name.size(), lowered.size());
  // Eight bytes at a time (every field of every message: a byte at a time
  // was ~90 instructions a name).
  std::size_t i = 0;
  auto lower8_at = [&](std::size_t at) {
    std::uint64_t w;
    std::memcpy(&w, field.name.data() + at, 8);
    w = proto::ascii_lower8(w);
    std::memcpy(lowered.data() + at, &w, 8);
  };
  for (; i + 8 <= n; i += 8) lower8_at(i);
  if (i < n && n >= 8) {
    // The rest as the last eight bytes, overlapping bytes already lowered
    // (lowering them again changes nothing), not a byte at a time.
    lower8_at(n - 8);
  } else {
    for (; i < n; ++i) {
      const char c = field.name[i];
      lowered[i] = static_cast<char>(c + (static_cast<unsigned char>(c - 'A') < 26 ? 32 : 0));
    }
  }
  std::string_view name(lowered.data(), n);
  if (name.empty() || name.starts_with("x-spam")) return;
  const int header = word_header(name);
  if (header < 0) {
    _text.emit(_other_header_prefix, name);
    return;
  }
  if (_options.capture_subject && part.depth == 0 && header == subject_header && _subject.empty()) {
    std::string_view v = field.value.substr(0, subject_size_max);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    for (char c : v)
      if (c != '\r' && c != '\n') _subject.push_back(c);
  }
  std::string_view value = field.value.substr(0, _options.header_value_bytes_max);
  if (may_be_encoded[header] && value.find("=?") != std::string_view::npos) {
    _header_value = mime::decode_header_value(value);
    value = _header_value;
  }
  _text.feed_stream(_header_prefix[header], value);
}

void message_tokenizer::on_part_body_begin(const mime::part_info& part) {
  _mode = body_mode::skip;
  if (part.kind != mime::part_kind::leaf) return;
  const auto& type = part.type;
  if (type.type != "text") {
    std::string t = type.type + "/" + type.subtype;
    // A type is a short token, but the parser keeps what the field holds
    // (up to header_field_size_max): capped well above any registered type
    // ("application/vnd.openxmlformats-...": 73 bytes).
    if (t.size() > part_type_size_max) t.resize(part_type_size_max);
    _text.emit("part", t);
    return;
  }
  _mode = type.subtype == "html" ? body_mode::html : body_mode::text;
  _decoded = part.encoding == mime::transfer_encoding::base64 ||
             part.encoding == mime::transfer_encoding::quoted_printable;
  std::string_view cs = type.params.get("charset");
  _charset.assign(cs.substr(0, name_size_max));
  std::transform(_charset.begin(), _charset.end(), _charset.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  if (!_charset.empty()) _text.emit(_charset_prefix, _charset);
  if (is_plain_charset(_charset)) _charset.clear();
  else _converter.assign(_charset);
  // The converter's probe says it for every charset iconv knows, the
  // stateful ones under any of their names included (a charset iconv does
  // not know, HZ among them in glibc, is read as UTF-8: ASCII stays).
  _ascii_compatible = _charset.empty() || _converter.ascii_is_identity();
  _text.begin("", _options.bigrams);
  if (_mode == body_mode::html) _html.reset();
}

void message_tokenizer::on_body(const mime::part_info& part, std::string_view raw, std::size_t offset) {
  (void)part;
  (void)offset;
  if (_mode == body_mode::skip || _decoded) return;
  body_text(raw);
}

void message_tokenizer::on_decoded_body(const mime::part_info& part, std::string_view decoded) {
  (void)part;
  if (_mode == body_mode::skip || !_decoded) return;
  body_text(decoded);
}

void message_tokenizer::body_text(std::string_view bytes) {
  if (_text_budget == 0) return;
  bytes = bytes.substr(0, _text_budget);
  _text_budget -= bytes.size();
  // Mail charsets agree with ASCII below 0x80, so an ASCII piece needs no
  // conversion — except the 7-bit stateful ones (ISO-2022-*, UTF-7) and
  // those that give ASCII bytes other meanings (UTF-16, Shift_JIS's yen
  // sign and overline), which always go through the converter
  // (ascii_compatible is false): else a piece's text would depend on
  // whether the chunk it came in held an 8-bit byte.
  // A piece may end inside a multibyte character: the converter holds
  // its bytes for the next piece (so the tokens do not depend on where a
  // chunk ends), and an ASCII piece after it completes it.
  if (!_charset.empty() && (!_ascii_compatible || _converter.holding() || !mime::is_ascii(bytes))) {
    _converted.clear();
    _converter.append_piece_utf8(bytes, _converted);
    bytes = _converted;
  }
  body_utf8(bytes);
}

void message_tokenizer::body_utf8(std::string_view text) {
  if (_mode == body_mode::html) {
    _html.feed(text);
  } else {
    _text.feed(text);
  }
}

void message_tokenizer::on_part_end(const mime::part_info& part) {
  if (part.kind != mime::part_kind::leaf || _mode == body_mode::skip) return;
  if (!_charset.empty() && _converter.holding()) {
    _converted.clear();
    _converter.finish(_converted);
    body_utf8(_converted);
  }
  if (_mode == body_mode::html) _html.finish();
  _text.end();
  _mode = body_mode::skip;
}

void message_tokenizer::finish() {
  _parser.finish();
  _text.end();
  std::uint32_t defects = _parser.defects();
  for (int bit = 0; bit < 32; ++bit) {
    if ((defects & (1u << bit)) == 0) continue;
    std::array<char, 8> name{'d', 'e', 'f', 'e', 'c', 't', static_cast<char>('a' + bit / 10),
                             static_cast<char>('0' + bit % 10)};
    _text.emit("mime", std::string_view(name.data(), name.size()));
  }
  _text.flush();
}

}  // namespace filter
