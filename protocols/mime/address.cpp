#include "protocols/mime/address.h"

namespace mime {

namespace {

enum class token_kind { atom, quoted, domain_literal, special, end };

struct token {
  token_kind kind = token_kind::end;
  char special = 0;
  std::string text;          // atom text, unquoted string, or "[literal]"
  bool space_before = false; // blanks or a comment preceded this token
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_special(char c) {
  return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '.' || c == '"' ||
         c == '(' || c == ')' || c == '[' || c == ']' || c == '\\';
}

class tokenizer {
 public:
  explicit tokenizer(std::string_view s) : _s(s) {}

  token next() {
    token t;
    skip_cfws(t);
    if (_pos >= _s.size()) return t;
    char c = _s[_pos];
    if (c == '"') {
      t.kind = token_kind::quoted;
      ++_pos;
      while (_pos < _s.size() && _s[_pos] != '"') {
        if (_s[_pos] == '\\' && _pos + 1 < _s.size()) ++_pos;
        if (_s[_pos] != '\r' && _s[_pos] != '\n') t.text.push_back(_s[_pos]);
        ++_pos;
      }
      if (_pos < _s.size()) ++_pos;
    } else if (c == '[') {
      t.kind = token_kind::domain_literal;
      while (_pos < _s.size() && _s[_pos] != ']') {
        if (_s[_pos] != '\r' && _s[_pos] != '\n') t.text.push_back(_s[_pos]);
        ++_pos;
      }
      t.text.push_back(']');
      if (_pos < _s.size()) ++_pos;
    } else if (is_special(c) && c != '\\' && c != ')' && c != ']') {
      t.kind = token_kind::special;
      t.special = c;
      ++_pos;
    } else {
      t.kind = token_kind::atom;
      while (_pos < _s.size() && !is_blank(_s[_pos]) && (!is_special(_s[_pos]) || _s[_pos] == '\\' ||
                                                          _s[_pos] == ')' || _s[_pos] == ']')) {
        t.text.push_back(_s[_pos]);
        ++_pos;
      }
    }
    return t;
  }

  // The text of the last comment seen, for "user@host (Full Name)".
  const std::string& last_comment() const { return _comment; }
  void clear_comment() { _comment.clear(); }

 private:
  void skip_cfws(token& t) {
    while (_pos < _s.size()) {
      char c = _s[_pos];
      if (is_blank(c)) {
        t.space_before = true;
        ++_pos;
      } else if (c == '(') {
        t.space_before = true;
        int depth = 0;
        std::string text;
        while (_pos < _s.size()) {
          char d = _s[_pos++];
          if (d == '\\' && _pos < _s.size()) {
            text.push_back(_s[_pos++]);
            continue;
          }
          if (d == '(' && depth++ == 0) continue;
          if (d == ')' && --depth == 0) break;
          if (d != '\r' && d != '\n') text.push_back(d);
        }
        _comment = std::move(text);
      } else {
        break;
      }
    }
  }

  std::string_view _s;
  std::size_t _pos = 0;
  std::string _comment;
};

bool is_special_token(const token& t, char c) { return t.kind == token_kind::special && t.special == c; }

// Words of a phrase joined as written: a single space where the source had
// blanks, none around dots written without them ("John Q. Public").
std::string join_phrase(const std::vector<token>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty() && w.space_before) out.push_back(' ');
    if (w.kind == token_kind::special) out.push_back(w.special);
    else out += w.text;
  }
  return out;
}

// local@domain from a run of tokens; the last '@' splits them.
void fill_addr_spec(const std::vector<token>& tokens, address& a) {
  std::size_t at = tokens.size();
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (is_special_token(tokens[i], '@')) at = i;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const token& t = tokens[i];
    if (i == at) continue;
    std::string& dst = i < at ? a.mailbox : a.host;
    if (t.kind == token_kind::special) {
      if (t.special == '.' || t.special == '@') dst.push_back(t.special);
    } else {
      dst += t.text;
    }
  }
}

}  // namespace

std::vector<address> parse_address_list(std::string_view value, const limits& lim) {
  std::vector<address> out;
  tokenizer tz(value);
  bool in_group = false;
  token t = tz.next();
  while (t.kind != token_kind::end && out.size() < lim.address_count_max) {
    // Collect one address: tokens up to ',', ';', ':' or '<'.
    std::vector<token> words;
    tz.clear_comment();
    while (t.kind != token_kind::end && !is_special_token(t, ',') && !is_special_token(t, ';') &&
           !is_special_token(t, '<') && !(is_special_token(t, ':') && !in_group)) {
      if (!is_special_token(t, '>')) words.push_back(std::move(t));
      t = tz.next();
    }
    if (is_special_token(t, ':')) {
      address g;
      g.what = address::kind::group_start;
      g.name = join_phrase(words);
      out.push_back(std::move(g));
      in_group = true;
      t = tz.next();
      continue;
    }
    if (is_special_token(t, '<')) {
      address a;
      a.name = join_phrase(words);
      std::vector<token> spec;
      t = tz.next();
      // Obsolete route: "@a,@b:" before the addr-spec.
      if (is_special_token(t, '@')) {
        std::string route;
        while (t.kind != token_kind::end && !is_special_token(t, ':') && !is_special_token(t, '>')) {
          if (t.kind == token_kind::special) route.push_back(t.special);
          else route += t.text;
          t = tz.next();
        }
        if (is_special_token(t, ':')) {
          a.route = std::move(route);
          t = tz.next();
        }
      }
      while (t.kind != token_kind::end && !is_special_token(t, '>') && !is_special_token(t, ',') &&
             !is_special_token(t, ';')) {
        if (!is_special_token(t, '<')) spec.push_back(std::move(t));
        t = tz.next();
      }
      fill_addr_spec(spec, a);
      if (a.name.empty() && !tz.last_comment().empty()) a.name = tz.last_comment();
      // Skip whatever follows '>' up to the separator.
      while (t.kind != token_kind::end && !is_special_token(t, ',') && !is_special_token(t, ';')) t = tz.next();
      if (!a.mailbox.empty() || !a.host.empty()) out.push_back(std::move(a));
    } else if (!words.empty()) {
      address a;
      fill_addr_spec(words, a);
      if (!tz.last_comment().empty()) a.name = tz.last_comment();
      out.push_back(std::move(a));
    }
    if (is_special_token(t, ';') && in_group) {
      address e;
      e.what = address::kind::group_end;
      out.push_back(std::move(e));
      in_group = false;
    }
    if (t.kind != token_kind::end) t = tz.next();
  }
  if (in_group && out.size() < lim.address_count_max) {
    address e;
    e.what = address::kind::group_end;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace mime
