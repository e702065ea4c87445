#pragma once
// HTML reduced to text as it streams, for the tokenizer: text runs go to
// the text tokenizer as views of the input (no copy); tags are dropped but
// leave a few structural tokens ("html:<tag>" for tags spam likes: a, img,
// form, input, iframe, script, style, font, table, map, area, center), and
// the hosts of href/src/action URLs; comments vanish without a word break
// (spammers split words with them); the text of <script> and <style> is
// skipped; entities are decoded when they are ASCII (&#105; -> i, &amp;)
// and are a word break otherwise (&nbsp;). Block tags break words, inline
// tags do not (<b>V</b>iagra is one word).
//
// Memory: a tag name (16 bytes), an attribute name (16), an attribute value
// (512, the rest of a longer value is ignored), an entity (12), gathered
// text (4 KiB). Linear in
// the input. Single owner; reset() for the next part.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "filter/tokenizer/text_tokenizer.h"

namespace filter {

class html_text {
 public:
  explicit html_text(text_tokenizer& text) : _text(text), _html_prefix(text.pin("html")) {}
  void reset();
  void feed(std::string_view html);
  void finish();

 private:
  enum class state : std::uint8_t {
    text, tag_open, tag_name, in_tag, attr_name, before_value, value_quoted, value_bare,
    comment, declaration, entity,
  };
  void end_tag_name();
  void end_attribute_value();
  void end_entity(bool terminated);
  // Text runs are short in HTML; they are gathered (with a space for a word
  // break) and handed to the text tokenizer in pieces of up to
  // pending_size_max, so its SIMD window works on long runs. Structural
  // tokens flush first, so the token order does not depend on chunking.
  static constexpr std::size_t pending_size_max = 4096;
  void text(std::string_view run);
  void text_break();
  void flush_text();

  // The small buffers are arrays with a size: they fill one byte at a time.
  static constexpr std::size_t tag_size_max = 16;
  static constexpr std::size_t attr_size_max = 16;
  static constexpr std::size_t value_size_max = 512;
  static constexpr std::size_t entity_size_max = 12;
  std::string_view tag() const { return {_tag, _tag_size}; }
  std::string_view attr() const { return {_attr, _attr_size}; }

  text_tokenizer& _text;
  const text_tokenizer::prefix_id _html_prefix;  // of the structural tokens
  state _state = state::text;
  bool _closing = false;
  bool _skip_text = false; // inside <script> or <style>
  char _quote = 0;
  bool _url_value = false;  // the attribute whose value is read is a URL attribute: keep the value
  int _comment_dashes = 0; // consecutive '-' seen inside a comment
  std::size_t _tag_size = 0, _attr_size = 0, _value_size = 0, _entity_size = 0;
  char _tag[tag_size_max];        // lowercased, capped
  char _attr[attr_size_max];      // lowercased, capped
  char _entity[entity_size_max];  // after '&', capped
  char _value[value_size_max];    // capped
  // Gathered text: an array with a size, as the small buffers (appended
  // to for every text run and block tag).
  std::size_t _pending_size = 0;
  char _pending[pending_size_max];
};

}  // namespace filter
