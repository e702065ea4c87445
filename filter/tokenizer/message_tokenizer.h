#pragma once
// A whole message to tokens, as it streams in: the MIME stream parser
// (protocols/mime) gives header fields and transfer-decoded body pieces as
// views of the caller's buffers; this handler routes them to the text and
// HTML tokenizers. Nothing of the message is copied except a charset
// conversion of the current piece and the parser's own bounded buffers.
//
// What becomes a token:
//   - header fields that carry words (Subject, From, To, Cc, Reply-To,
//     Received, Content-Type, X-Mailer, User-Agent, Message-ID, List-*,
//     ...): their values, RFC 2047-decoded, with the header name as prefix;
//     every other field only as "header:<name>". X-Spam-* fields are
//     ignored: they are other filters' verdicts (and our own), not evidence.
//   - text/plain and text/html leaves: base64/QP decoded, converted from
//     their charset to UTF-8, HTML reduced to text (html_text.h), then split
//     (text_tokenizer.h), up to text_bytes_max bytes of text per message;
//   - other leaves: "part:<type>/<subtype>"; each text charset
//     "charset:<name>"; each parser defect "mime:defect<bit>".
//
// Lifecycle: per message construct (or reset()), feed(), finish(); single
// owner, any core. Reused (the CLI per thread, the daemon per core), it
// allocates nothing once warm. Memory: ~10 KiB plus the parser's bounded
// buffers.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "filter/tokenizer/html_text.h"
#include "filter/tokenizer/simd_scan.h"
#include "filter/tokenizer/text_tokenizer.h"
#include "filter/tokenizer/token_sink.h"
#include "protocols/mime/charset.h"
#include "protocols/mime/stream_parser.h"

namespace filter {

struct tokenizer_options {
  simd_level level = detect_simd_level();
  bool bigrams = false;                          // body word pairs as extra features
  bool case_tokens = false;                      // words with capitals also as written (text_tokenizer.h)
  std::size_t text_bytes_max = 256 * 1024;       // body text tokenized per message
  std::size_t header_value_bytes_max = 2048;     // bytes of one header value tokenized
  mime::limits mime_limits = default_mime_limits();
  bool capture_subject = false;                  // keep the top-level Subject (subject())

  static mime::limits default_mime_limits() {
    mime::limits lim;
    lim.header_field_size_max = 16 * 1024;
    lim.header_count_max = 500;
    lim.part_count_max = 200;
    lim.depth_max = 16;
    return lim;
  }
};

class message_tokenizer final : private mime::stream_handler {
 public:
  message_tokenizer(token_sink& sink, const tokenizer_options& options = {});
  ~message_tokenizer() override;
  message_tokenizer(const message_tokenizer&) = delete;
  message_tokenizer& operator=(const message_tokenizer&) = delete;

  void feed(std::string_view chunk) { _parser.feed(chunk); }
  // Ends the message: its last tokens reach the sink.
  void finish();
  // Ready for the next message (tokens go to the same sink).
  void reset();

  std::size_t token_count() const { return _text.token_count(); }
  // The header fields whose values are tokenized (message_tokenizer.cpp).
  static constexpr std::size_t word_header_count = 24;
  // The message's own Subject, unfolded, at most subject_size_max bytes
  // (with capture_subject).
  static constexpr std::size_t subject_size_max = 900;
  std::string_view subject() const { return _subject; }

 private:
  enum class body_mode : std::uint8_t { skip, text, html };

  void on_header_field(const mime::part_info& part, const mime::stream_header_field& field) override;
  void on_part_body_begin(const mime::part_info& part) override;
  void on_body(const mime::part_info& part, std::string_view raw, std::size_t offset) override;
  void on_decoded_body(const mime::part_info& part, std::string_view decoded) override;
  void on_part_end(const mime::part_info& part) override;
  void body_text(std::string_view bytes);
  void body_utf8(std::string_view text);  // to the HTML or the text tokenizer

  tokenizer_options _options;
  text_tokenizer _text;
  // Pinned prefixes (text_tokenizer::pin): the fields with words, by their
  // index in message_tokenizer.cpp's list; "header" (the name of any
  // other field); "charset".
  text_tokenizer::prefix_id _header_prefix[word_header_count] = {};
  text_tokenizer::prefix_id _other_header_prefix = 0, _charset_prefix = 0;
  html_text _html;
  body_mode _mode = body_mode::skip;
  bool _decoded = false;      // the current leaf arrives through on_decoded_body
  std::string _charset;       // of the current leaf, when it needs converting
  mime::charset_converter _converter;  // for _charset
  bool _ascii_compatible = true;  // ASCII bytes mean ASCII text in _charset
  std::string _converted;     // the current piece in UTF-8
  std::string _header_value;  // an RFC 2047-decoded header value
  std::string _subject;
  std::size_t _text_budget;
  mime::stream_parser _parser;  // last: it calls back into the members above
};

}  // namespace filter
