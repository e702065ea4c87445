#include "protocols/msgauth/canonical.h"

#include "protocols/msgauth/tag_list.h"

namespace msgauth {

void canonicalize_header(canonicalization c, std::string_view raw, std::string& out) {
  if (c == canonicalization::simple) {
    out.append(raw);
    if (raw.size() < 2 || raw.substr(raw.size() - 2) != "\r\n") {
      if (!raw.empty() && raw.back() == '\n') out.pop_back();
      out += "\r\n";
    }
    return;
  }
  // relaxed: lowercase name, unfold, runs of WSP to one SP, no WSP at the
  // end of the value or around the colon.
  size_t colon = raw.find(':');
  std::string_view name = raw.substr(0, colon);
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  out += to_lower(name);
  out += ':';
  std::string_view value = colon == std::string_view::npos ? std::string_view() : raw.substr(colon + 1);
  bool pending_space = false, started = false;
  for (char ch : value) {
    if (ch == '\r' || ch == '\n') continue;  // unfolding
    if (is_wsp(ch)) {
      pending_space = true;
      continue;
    }
    if (pending_space && started) out += ' ';
    pending_space = false;
    started = true;
    out += ch;
  }
  out += "\r\n";
}

void body_canonicalizer::content(char c, std::string& out) {
  if (!_line_has_content) {
    for (; _pending_empty_lines > 0; --_pending_empty_lines) out += "\r\n";
    _line_has_content = true;
  }
  if (_pending_wsp) {
    out += ' ';
    _pending_wsp = false;
  }
  out += c;
  _emitted_anything = true;
}

void body_canonicalizer::feed(std::string_view in, std::string& out) {
  for (char c : in) {
    if (_pending_cr) {
      _pending_cr = false;
      if (c == '\n') {
        // End of line: trailing whitespace dropped (relaxed); an empty line
        // is held back until content shows it is not trailing.
        _pending_wsp = false;
        if (_line_has_content) out += "\r\n";
        else ++_pending_empty_lines;
        _line_has_content = false;
        continue;
      }
      content('\r', out);  // a bare CR is ordinary content
    }
    if (c == '\r') {
      _pending_cr = true;
    } else if (_c == canonicalization::relaxed && is_wsp(c)) {
      _pending_wsp = true;
    } else {
      content(c, out);
    }
  }
}

void body_canonicalizer::finish(std::string& out) {
  if (_pending_cr) {
    _pending_cr = false;
    content('\r', out);
  }
  _pending_wsp = false;
  if (_line_has_content) out += "\r\n";  // an unterminated last line gets its CRLF
  _line_has_content = false;
  // simple: an empty body is one CRLF. relaxed: an empty body stays empty
  // (RFC 6376 erratum 1384).
  if (_c == canonicalization::simple && !_emitted_anything) out += "\r\n";
  _emitted_anything = true;
}

std::optional<canonicalization_pair> parse_canonicalization(std::string_view value) {
  auto one = [](std::string_view s) -> std::optional<canonicalization> {
    if (s == "simple") return canonicalization::simple;
    if (s == "relaxed") return canonicalization::relaxed;
    return std::nullopt;
  };
  size_t slash = value.find('/');
  auto header = one(value.substr(0, slash));
  if (!header) return std::nullopt;
  canonicalization_pair pair{*header, canonicalization::simple};
  if (slash != std::string_view::npos) {
    auto body = one(value.substr(slash + 1));
    if (!body) return std::nullopt;
    pair.body = *body;
  }
  return pair;
}

}  // namespace msgauth
