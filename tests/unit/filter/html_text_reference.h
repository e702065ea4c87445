#pragma once
// html_text as first written: a byte at a time through the state machine,
// the small buffers std::strings. The production html_text
// (filter/tokenizer/html_text.cpp) takes each state's run of bytes in a
// tight loop; tokenizer_test requires both to give the same tokens for
// HTML cut into any pieces.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "filter/tokenizer/text_tokenizer.h"

namespace filter::reference {

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

namespace detail {

constexpr std::size_t tag_size_max = 16;
constexpr std::size_t attr_size_max = 16;
constexpr std::size_t value_size_max = 512;
constexpr std::size_t entity_size_max = 12;

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
inline bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == ':';
}

inline bool is_structural(std::string_view tag) {
  static constexpr std::array<std::string_view, 12> tags = {"a",      "img",   "form",  "input", "iframe", "script",
                                                            "style",  "font",  "table", "map",   "area",   "center"};
  for (auto t : tags)
    if (t == tag) return true;
  return false;
}
inline bool is_block(std::string_view tag) {
  static constexpr std::array<std::string_view, 16> tags = {"br", "p",  "div", "td",  "tr",    "li",   "table", "h1",
                                                            "h2", "h3", "hr",  "ul",  "ol",    "body", "title", "th"};
  for (auto t : tags)
    if (t == tag) return true;
  return false;
}

}  // namespace detail
using namespace detail;

inline void html_text::reset() {
  _pending.clear();
  _state = state::text;
  _tag.clear();
  _attr.clear();
  _value.clear();
  _entity.clear();
  _closing = false;
  _skip_text = false;
  _comment_dashes = 0;
}

inline void html_text::feed(std::string_view html) {
  std::size_t run_start = 0;
  auto flush_run = [&](std::size_t end) {
    if (_state == state::text && !_skip_text && end > run_start) text(html.substr(run_start, end - run_start));
  };
  for (std::size_t i = 0; i < html.size(); ++i) {
    char c = html[i];
    switch (_state) {
      case state::text:
        if (c != '<' && c != '&') {
          // Most of HTML is text: jump to the next markup byte.
          const char* p = html.data() + i;
          const char* end = html.data() + html.size();
          const char* lt = static_cast<const char*>(std::memchr(p, '<', end - p));
          const char* amp = static_cast<const char*>(std::memchr(p, '&', (lt ? lt : end) - p));
          const char* stop = amp ? amp : (lt ? lt : end);
          i = static_cast<std::size_t>(stop - html.data()) - 1;
          continue;
        }
        if (c == '<') {
          flush_run(i);
          _state = state::tag_open;
        } else if (c == '&') {
          flush_run(i);
          _state = state::entity;
          _entity.clear();
        }
        break;
      case state::tag_open:
        _tag.clear();
        _closing = false;
        if (c == '!') {
          _state = state::declaration;
          _comment_dashes = 0;
        } else if (c == '/') {
          _closing = true;
          _state = state::tag_name;
        } else if (is_name_char(c)) {
          _tag.push_back(lower(c));
          _state = state::tag_name;
        } else {
          // "a < b": not a tag; the '<' is a word break.
          text_break();
          _state = state::text;
          run_start = i;
          --i;
          continue;
        }
        break;
      case state::tag_name:
        if (is_name_char(c)) {
          if (_tag.size() < tag_size_max) _tag.push_back(lower(c));
        } else {
          end_tag_name();
          _state = c == '>' ? state::text : state::in_tag;
          if (c == '>') run_start = i + 1;
        }
        break;
      case state::in_tag:
        if (c == '>') {
          _state = state::text;
          run_start = i + 1;
        } else if (is_name_char(c)) {
          _attr.assign(1, lower(c));
          _state = state::attr_name;
        }
        break;
      case state::attr_name:
        if (is_name_char(c)) {
          if (_attr.size() < attr_size_max) _attr.push_back(lower(c));
        } else if (c == '=') {
          _state = state::before_value;
        } else if (c == '>') {
          _state = state::text;
          run_start = i + 1;
        } else {
          _state = state::in_tag;
        }
        break;
      case state::before_value:
        _value.clear();
        if (c == '"' || c == '\'') {
          _quote = c;
          _state = state::value_quoted;
        } else if (c == '>') {
          _state = state::text;
          run_start = i + 1;
        } else if (!is_space(c)) {
          _value.push_back(c);
          _state = state::value_bare;
        }
        break;
      case state::value_quoted: {
        std::size_t close = html.find(_quote, i);
        std::size_t stop = close == std::string_view::npos ? html.size() : close;
        std::size_t room = value_size_max - std::min(value_size_max, _value.size());
        _value.append(html.substr(i, std::min(stop - i, room)));
        if (close == std::string_view::npos) {
          i = html.size();
          continue;
        }
        i = close;
        end_attribute_value();
        _state = state::in_tag;
        break;
      }
      case state::value_bare:
        if (is_space(c) || c == '>') {
          end_attribute_value();
          _state = c == '>' ? state::text : state::in_tag;
          if (c == '>') run_start = i + 1;
        } else if (_value.size() < value_size_max) {
          _value.push_back(c);
        }
        break;
      case state::declaration:
        // "<!--" opens a comment; any other "<!...>" ends at '>'.
        if (c == '-') {
          if (++_comment_dashes == 2) {
            _state = state::comment;
            _comment_dashes = 0;
          }
        } else if (c == '>') {
          _state = state::text;
          run_start = i + 1;
        } else {
          _comment_dashes = 0;
        }
        break;
      case state::comment:
        if (c == '-') {
          ++_comment_dashes;
        } else if (c == '>' && _comment_dashes >= 2) {
          _state = state::text;
          run_start = i + 1;
        } else {
          _comment_dashes = 0;
        }
        break;
      case state::entity:
        if (c == ';' || is_space(c) || c == '<' || c == '&' || _entity.size() >= entity_size_max) {
          end_entity(c == ';');
          _state = state::text;
          run_start = c == ';' ? i + 1 : i;
          if (c != ';') {
            --i;
            continue;
          }
        } else {
          _entity.push_back(c);
        }
        break;
    }
  }
  flush_run(html.size());
}

inline void html_text::finish() {
  if (_state == state::entity) end_entity(false);
  flush_text();
  _text.word_break();
  reset();
}

inline void html_text::text(std::string_view run) {
  if (_pending.size() + run.size() > pending_size_max) flush_text();
  if (run.size() >= pending_size_max) {
    _text.feed(run);
    return;
  }
  _pending.append(run);
}

inline void html_text::text_break() {
  if (_pending.size() + 1 > pending_size_max) flush_text();
  _pending.push_back(' ');
}

inline void html_text::flush_text() {
  if (_pending.empty()) return;
  _text.feed(_pending);
  _pending.clear();
}

inline void html_text::end_tag_name() {
  if (_tag.empty()) return;
  if (_tag == "script" || _tag == "style") _skip_text = !_closing;
  if (!_closing && is_structural(_tag)) {
    flush_text();
    _text.emit("html", _tag);
  }
  if (is_block(_tag)) text_break();
}

inline void html_text::end_attribute_value() {
  if (_attr == "href" || _attr == "src" || _attr == "action" || _attr == "background") {
    std::string_view v(_value);
    while (!v.empty() && is_space(v.front())) v.remove_prefix(1);
    if (v.find("://") != std::string_view::npos || v.starts_with("www.")) {
      flush_text();
      _text.url(v);
    }
  }
  _attr.clear();
}

inline void html_text::end_entity(bool terminated) {
  std::string_view e(_entity);
  char decoded = 0;
  if (e.starts_with("#")) {
    long code = 0;
    if (e.size() > 1 && (e[1] == 'x' || e[1] == 'X')) {
      code = std::strtol(std::string(e.substr(2)).c_str(), nullptr, 16);
    } else {
      code = std::strtol(std::string(e.substr(1)).c_str(), nullptr, 10);
    }
    if (code > 32 && code < 127) decoded = static_cast<char>(code);
  } else if (e == "amp") {
    decoded = '&';
  }
  if (_skip_text) {
    // Inside <script> or <style>: no text.
  } else if (decoded != 0) {
    text(std::string_view(&decoded, 1));
  } else {
    text_break();
  }
  (void)terminated;
  _entity.clear();
}


}  // namespace filter::reference
