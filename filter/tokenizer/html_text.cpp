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

// Where the space between a tag's attributes ends: at a name byte or '>'.
constexpr std::array<bool, 256> make_in_tag_stop() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = name_lower[c] != 0 || c == '>';
  return t;
}
constexpr std::array<bool, 256> in_tag_stop = make_in_tag_stop();

// Where a bare attribute value ends: at a space or '>'.
constexpr std::array<bool, 256> make_bare_value_stop() {
  std::array<bool, 256> t{};
  for (char c : std::string_view(" \t\r\n\f>")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> bare_value_stop = make_bare_value_stop();

// The attributes whose values may hold a URL (end_attribute_value()).
bool is_url_attribute(std::string_view name) {
  return name == "href" || name == "src" || name == "action" || name == "background";
}

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
  _pending_size = 0;
  _state = state::text;
  _tag_size = 0;
  _attr_size = 0;
  _value_size = 0;
  _entity_size = 0;
  _closing = false;
  _skip_text = false;
  _url_value = false;
  _comment_dashes = 0;
}

// One state machine over the bytes, threaded: each state's code takes the
// run of bytes it stays in with a tight loop (text runs with find_markup)
// and jumps straight to the next state's code, so a tag with attributes
// (a dozen state changes) costs no dispatch per change; the switch runs
// once per piece, to resume where the last piece ended, and the state is
// stored only when the piece runs out. Only a URL attribute's value is
// kept (end_attribute_value() looks at no other).
void html_text::feed(std::string_view html) {
  const char* s = html.data();
  const std::size_t n = html.size();
  std::size_t run_start = 0;  // of the text run, when the state is text
  std::size_t i = 0;
  state st = _state;
  switch (st) {
    case state::text: goto text_state;
    case state::tag_open: goto tag_open_state;
    case state::tag_name: goto tag_name_state;
    case state::in_tag: goto in_tag_state;
    case state::attr_name: goto attr_name_state;
    case state::before_value: goto before_value_state;
    case state::value_quoted: goto value_quoted_state;
    case state::value_bare: goto value_bare_state;
    case state::comment: goto comment_state;
    case state::declaration: goto declaration_state;
    case state::entity: goto entity_state;
  }

text_state:
  i = find_markup(s, i, n);
  if (i == n) {
    st = state::text;
    goto out;
  }
  if (!_skip_text && i > run_start) text(html.substr(run_start, i - run_start));
  if (s[i++] == '<') goto tag_open_state;
  _entity_size = 0;
  goto entity_state;

tag_open_state:
  if (i == n) {
    st = state::tag_open;
    goto out;
  }
  {
    const char c = s[i];
    _tag_size = 0;
    _closing = false;
    if (c == '!') {
      _comment_dashes = 0;
      ++i;
      goto declaration_state;
    }
    if (c == '/') {
      _closing = true;
      ++i;
      goto tag_name_state;
    }
    if (const char l = name_char(c); l != 0) {
      _tag[_tag_size++] = l;
      ++i;
      goto tag_name_state;
    }
    // "a < b": not a tag; the '<' is a word break, c is text.
    text_break();
    run_start = i;
    goto text_state;
  }

tag_name_state: {
  std::size_t size = _tag_size;  // a local: the stores to _tag may alias a member
  for (char l; i < n && (l = name_char(s[i])) != 0; ++i)
    if (size < tag_size_max) _tag[size++] = l;
  _tag_size = size;
  if (i == n) {
    st = state::tag_name;
    goto out;
  }
  end_tag_name();
  if (s[i++] == '>') {
    run_start = i;
    goto text_state;
  }
  goto in_tag_state;
}

in_tag_state:
  while (i < n && !in_tag_stop[static_cast<unsigned char>(s[i])]) ++i;
  if (i == n) {
    st = state::in_tag;
    goto out;
  }
  if (s[i] == '>') {
    run_start = ++i;
    goto text_state;
  }
  _attr[0] = name_char(s[i++]);
  _attr_size = 1;
  goto attr_name_state;

attr_name_state: {
  std::size_t size = _attr_size;
  for (char l; i < n && (l = name_char(s[i])) != 0; ++i)
    if (size < attr_size_max) _attr[size++] = l;
  _attr_size = size;
  if (i == n) {
    st = state::attr_name;
    goto out;
  }
  const char c = s[i++];
  if (c == '=') {
    _url_value = is_url_attribute(attr());
    goto before_value_state;
  }
  if (c == '>') {
    run_start = i;
    goto text_state;
  }
  goto in_tag_state;
}

before_value_state:
  if (i == n) {
    st = state::before_value;
    goto out;
  }
  {
    const char c = s[i++];
    _value_size = 0;
    if (c == '"' || c == '\'') {
      _quote = c;
      goto value_quoted_state;
    }
    if (c == '>') {
      run_start = i;
      goto text_state;
    }
    if (!is_space(c)) {
      _value[_value_size++] = c;
      goto value_bare_state;
    }
    goto before_value_state;
  }

value_quoted_state:
  if (i == n) {
    st = state::value_quoted;
    goto out;
  }
  {
    const void* close = std::memchr(s + i, _quote, n - i);
    const std::size_t stop = close == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(close) - s);
    if (_url_value) {
      std::size_t take = std::min(stop - i, value_size_max - _value_size);
      std::memcpy(_value + _value_size, s + i, take);
      _value_size += take;
    }
    i = stop;
    if (close == nullptr) {
      st = state::value_quoted;
      goto out;
    }
    end_attribute_value();
    ++i;
    goto in_tag_state;
  }

value_bare_state:
  if (_url_value) {
    std::size_t size = _value_size;
    for (; i < n && !bare_value_stop[static_cast<unsigned char>(s[i])]; ++i)
      if (size < value_size_max) _value[size++] = s[i];
    _value_size = size;
  } else {
    while (i < n && !bare_value_stop[static_cast<unsigned char>(s[i])]) ++i;
  }
  if (i == n) {
    st = state::value_bare;
    goto out;
  }
  end_attribute_value();
  if (s[i++] == '>') {
    run_start = i;
    goto text_state;
  }
  goto in_tag_state;

declaration_state:
  // "<!--" opens a comment; any other "<!...>" ends at '>'.
  if (i == n) {
    st = state::declaration;
    goto out;
  }
  {
    const char c = s[i++];
    if (c == '-') {
      if (++_comment_dashes == 2) {
        _comment_dashes = 0;
        goto comment_state;
      }
      goto declaration_state;
    }
    if (c == '>') {
      run_start = i;
      goto text_state;
    }
    _comment_dashes = 0;
    goto declaration_state;
  }

comment_state:
  for (; i < n; ++i) {
    if (s[i] == '-') {
      ++_comment_dashes;
    } else if (s[i] == '>' && _comment_dashes >= 2) {
      run_start = ++i;
      goto text_state;
    } else {
      _comment_dashes = 0;
    }
  }
  st = state::comment;
  goto out;

entity_state:
  if (i == n) {
    st = state::entity;
    goto out;
  }
  {
    const char c = s[i];
    if (c == ';' || is_space(c) || c == '<' || c == '&' || _entity_size >= entity_size_max) {
      end_entity(c == ';');
      if (c == ';') ++i;  // otherwise c is read again as text
      run_start = i;
      goto text_state;
    }
    _entity[_entity_size++] = c;
    ++i;
    goto entity_state;
  }

out:
  _state = st;
  if (st == state::text && !_skip_text && n > run_start) text(html.substr(run_start, n - run_start));
}

void html_text::finish() {
  if (_state == state::entity) end_entity(false);
  flush_text();
  _text.word_break();
  reset();
}

void html_text::text(std::string_view run) {
  if (_pending_size + run.size() > pending_size_max) flush_text();
  if (run.size() >= pending_size_max) {
    _text.feed(run);
    return;
  }
  std::memcpy(_pending + _pending_size, run.data(), run.size());
  _pending_size += run.size();
}

void html_text::text_break() {
  if (_pending_size + 1 > pending_size_max) flush_text();
  _pending[_pending_size++] = ' ';
}

void html_text::flush_text() {
  if (_pending_size == 0) return;
  _text.feed(std::string_view(_pending, _pending_size));
  _pending_size = 0;
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
  if (_url_value) {
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
