#include "filter/tokenizer/html_text.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>

#include "protocols/common/byte_scan.h"

namespace filter {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

// Name bytes of tags and attributes ([A-Za-z0-9_:-]) to their lowercase;
// 0 for every other byte.
constexpr std::array<char, 256> make_name_lower() {
  std::array<char, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if (c >= 'A' && c <= 'Z') t[c] = static_cast<char>(c + 32);
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ':')
      t[c] = static_cast<char>(c);
  }
  return t;
}
constexpr std::array<char, 256> name_lower = make_name_lower();
char name_char(char c) { return name_lower[static_cast<unsigned char>(c)]; }

bool is_structural(std::string_view tag) {
  switch (tag.size()) {
    case 1: return tag[0] == 'a';
    case 3: return tag == "img" || tag == "map";
    case 4: return tag == "form" || tag == "font" || tag == "area";
    case 5: return tag == "input" || tag == "style" || tag == "table";
    case 6: return tag == "iframe" || tag == "script" || tag == "center";
    default: return false;
  }
}
bool is_block(std::string_view tag) {
  switch (tag.size()) {
    case 1: return tag[0] == 'p';
    case 2:
      return tag == "br" || tag == "td" || tag == "tr" || tag == "li" || tag == "h1" || tag == "h2" || tag == "h3" ||
             tag == "hr" || tag == "ul" || tag == "ol" || tag == "th";
    case 3: return tag == "div";
    case 4: return tag == "body";
    case 5: return tag == "table" || tag == "title";
    default: return false;
  }
}

// Offset of the first '<' or '&' in s[from, n), or n: most of HTML is text
// between them.
std::size_t find_markup(const char* s, std::size_t from, std::size_t n) {
  return proto::find_first_of_bytes<'<', '&'>(s, from, n);
}

}  // namespace

void html_text::reset() {
  _pending.clear();
  _state = state::text;
  _tag_size = 0;
  _attr_size = 0;
  _value_size = 0;
  _entity_size = 0;
  _closing = false;
  _skip_text = false;
  _comment_dashes = 0;
}

// One state machine over the bytes; each state takes the run of bytes it
// stays in with a tight loop (text runs with find_markup), so the switch
// runs once per state change, not once per byte.
void html_text::feed(std::string_view html) {
  const char* s = html.data();
  const std::size_t n = html.size();
  std::size_t run_start = 0;
  auto flush_run = [&](std::size_t end) {
    if (_state == state::text && !_skip_text && end > run_start) text(html.substr(run_start, end - run_start));
  };
  std::size_t i = 0;
  while (i < n) {
    char c = s[i];
    switch (_state) {
      case state::text:
        i = find_markup(s, i, n);
        if (i == n) break;
        flush_run(i);
        if (s[i] == '<') {
          _state = state::tag_open;
        } else {
          _state = state::entity;
          _entity_size = 0;
        }
        ++i;
        break;
      case state::tag_open:
        _tag_size = 0;
        _closing = false;
        if (c == '!') {
          _state = state::declaration;
          _comment_dashes = 0;
        } else if (c == '/') {
          _closing = true;
          _state = state::tag_name;
        } else if (char l = name_char(c); l != 0) {
          _tag[_tag_size++] = l;
          _state = state::tag_name;
        } else {
          // "a < b": not a tag; the '<' is a word break, c is text.
          text_break();
          _state = state::text;
          run_start = i;
          break;
        }
        ++i;
        break;
      case state::tag_name:
        for (char l; i < n && (l = name_char(s[i])) != 0; ++i)
          if (_tag_size < tag_size_max) _tag[_tag_size++] = l;
        if (i == n) break;
        end_tag_name();
        if (s[i] == '>') {
          _state = state::text;
          run_start = i + 1;
        } else {
          _state = state::in_tag;
        }
        ++i;
        break;
      case state::in_tag:
        while (i < n && s[i] != '>' && name_char(s[i]) == 0) ++i;
        if (i == n) break;
        if (s[i] == '>') {
          _state = state::text;
          run_start = i + 1;
        } else {
          _attr[0] = name_char(s[i]);
          _attr_size = 1;
          _state = state::attr_name;
        }
        ++i;
        break;
      case state::attr_name:
        for (char l; i < n && (l = name_char(s[i])) != 0; ++i)
          if (_attr_size < attr_size_max) _attr[_attr_size++] = l;
        if (i == n) break;
        if (s[i] == '=') {
          _state = state::before_value;
        } else if (s[i] == '>') {
          _state = state::text;
          run_start = i + 1;
        } else {
          _state = state::in_tag;
        }
        ++i;
        break;
      case state::before_value:
        _value_size = 0;
        if (c == '"' || c == '\'') {
          _quote = c;
          _state = state::value_quoted;
        } else if (c == '>') {
          _state = state::text;
          run_start = i + 1;
        } else if (!is_space(c)) {
          _value[_value_size++] = c;
          _state = state::value_bare;
        }
        ++i;
        break;
      case state::value_quoted: {
        const void* close = std::memchr(s + i, _quote, n - i);
        std::size_t stop = close == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(close) - s);
        std::size_t take = std::min(stop - i, value_size_max - _value_size);
        std::memcpy(_value + _value_size, s + i, take);
        _value_size += take;
        i = stop;
        if (close == nullptr) break;
        end_attribute_value();
        _state = state::in_tag;
        ++i;
        break;
      }
      case state::value_bare:
        for (; i < n && !is_space(s[i]) && s[i] != '>'; ++i)
          if (_value_size < value_size_max) _value[_value_size++] = s[i];
        if (i == n) break;
        end_attribute_value();
        if (s[i] == '>') {
          _state = state::text;
          run_start = i + 1;
        } else {
          _state = state::in_tag;
        }
        ++i;
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
        ++i;
        break;
      case state::comment:
        for (; i < n; ++i) {
          if (s[i] == '-') {
            ++_comment_dashes;
          } else if (s[i] == '>' && _comment_dashes >= 2) {
            _state = state::text;
            run_start = i + 1;
            ++i;
            break;
          } else {
            _comment_dashes = 0;
          }
        }
        break;
      case state::entity:
        if (c == ';' || is_space(c) || c == '<' || c == '&' || _entity_size >= entity_size_max) {
          end_entity(c == ';');
          _state = state::text;
          run_start = c == ';' ? i + 1 : i;
          if (c == ';') ++i;  // otherwise c is read again as text
        } else {
          _entity[_entity_size++] = c;
          ++i;
        }
        break;
    }
  }
  flush_run(n);
}

void html_text::finish() {
  if (_state == state::entity) end_entity(false);
  flush_text();
  _text.word_break();
  reset();
}

void html_text::text(std::string_view run) {
  if (_pending.size() + run.size() > pending_size_max) flush_text();
  if (run.size() >= pending_size_max) {
    _text.feed(run);
    return;
  }
  _pending.append(run);
}

void html_text::text_break() {
  if (_pending.size() + 1 > pending_size_max) flush_text();
  _pending.push_back(' ');
}

void html_text::flush_text() {
  if (_pending.empty()) return;
  _text.feed(_pending);
  _pending.clear();
}

void html_text::end_tag_name() {
  if (_tag_size == 0) return;
  std::string_view name = tag();
  if (name == "script" || name == "style") _skip_text = !_closing;
  if (!_closing && is_structural(name)) {
    flush_text();
    _text.emit(_html_prefix, name);
  }
  if (is_block(name)) text_break();
}

void html_text::end_attribute_value() {
  std::string_view name = attr();
  if (name == "href" || name == "src" || name == "action" || name == "background") {
    std::string_view v(_value, _value_size);
    while (!v.empty() && is_space(v.front())) v.remove_prefix(1);
    if (v.find("://") != std::string_view::npos || v.starts_with("www.")) {
      flush_text();
      _text.url(v);
    }
  }
  _attr_size = 0;
}

void html_text::end_entity(bool terminated) {
  std::string_view e(_entity, _entity_size);
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
  _entity_size = 0;
}

}  // namespace filter
