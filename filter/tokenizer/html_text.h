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
  explicit html_text(text_tokenizer& text) : _text(text) {}
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

  text_tokenizer& _text;
  state _state = state::text;
  std::string _tag;        // lowercased, capped
  bool _closing = false;
  std::string _attr;       // lowercased, capped
  std::string _value;      // capped
  char _quote = 0;
  std::string _entity;     // after '&', capped
  int _comment_dashes = 0; // consecutive '-' seen inside a comment
  bool _skip_text = false; // inside <script> or <style>
  std::string _pending;
};

}  // namespace filter
