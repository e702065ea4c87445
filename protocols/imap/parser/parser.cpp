#include "protocols/imap/parser/parser.h"

#include <cstring>

#include "kernel_io/base/assert.h"

namespace imap {
namespace {

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upper(c);
  return out;
}

// ATOM-CHAR: any CHAR except atom-specials (RFC 3501 section 9):
// "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials.
bool is_atom_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}
bool is_astring_char(unsigned char c) { return is_atom_char(c) || c == ']'; }
bool is_list_char(unsigned char c) { return is_astring_char(c) || c == '%' || c == '*'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_tag_char(unsigned char c) { return is_astring_char(c) && c != '+'; }

constexpr std::string_view month_names[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                              "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};

// number64 (RFC 9051): 0 .. 2^63-1.
constexpr std::uint64_t number64_max = (1ull << 63) - 1;

// Recursive-descent parser over one framed command. Methods return false on
// the first error, which is kept in _error; callers just propagate false.
class parser {
 public:
  parser(const framed_command& framed, const parser_limits& limits, const parse_options& options)
      : _text(framed.text),
        _literals(framed.literals),
        _limits(limits),
        _options(options),
        _ranges_left(limits.sequence_ranges_max),
        _arguments_left(limits.arguments_max) {}

  kio::result<command, command_error> run();

 private:
  // ------------------------------------------------------------ plumbing
  bool fail(errc code, std::string_view detail) {
    if (!_failed) {
      _failed = true;
      _error = code;
      _detail = detail;
    }
    return false;
  }
  bool at_end() const { return _pos >= _text.size(); }
  char peek() const { return at_end() ? '\0' : _text[_pos]; }
  char peek_at(std::size_t ahead) const { return _pos + ahead < _text.size() ? _text[_pos + ahead] : '\0'; }
  bool consume(char c) {
    if (peek() != c || at_end()) return false;
    ++_pos;
    return true;
  }
  bool expect(char c, std::string_view detail) { return consume(c) || fail(errc::syntax, detail); }
  bool sp() { return expect(' ', "expected SP"); }
  bool argument() {
    if (_arguments_left == 0) return fail(errc::too_many_arguments, "too many arguments");
    --_arguments_left;
    return true;
  }
  bool enter() {
    if (_depth >= _limits.nesting_depth_max) return fail(errc::nesting_too_deep, "nesting too deep");
    ++_depth;
    return true;
  }
  void leave() { --_depth; }
  bool at_literal() const {
    return peek() == '{' || (peek() == '~' && peek_at(1) == '{');
  }

  // ------------------------------------------------------------ tokens
  // A run of characters accepted by `pred`, at least one.
  template <class Pred>
  bool run_of(Pred pred, std::string_view& out, std::string_view detail) {
    std::size_t start = _pos;
    while (!at_end() && pred(static_cast<unsigned char>(_text[_pos]))) ++_pos;
    if (_pos == start) return fail(errc::syntax, detail);
    out = _text.substr(start, _pos - start);
    return argument();
  }
  bool atom(std::string_view& out) { return run_of(is_atom_char, out, "expected atom"); }
  bool keyword(std::string_view& out) {
    return run_of([](unsigned char c) { return is_atom_char(c) && c != '[' && c != '<'; }, out,
                  "expected keyword");
  }
  // The keyword at _pos without consuming it: for grammar choices such as
  // "RETURN" or "CHARSET" that may or may not start a search program.
  std::string_view peek_keyword() const {
    std::size_t p = _pos;
    while (p < _text.size()) {
      unsigned char c = static_cast<unsigned char>(_text[p]);
      if (!is_atom_char(c) || c == '[' || c == '<') break;
      ++p;
    }
    return _text.substr(_pos, p - _pos);
  }
  bool expect_keyword(std::string_view wanted) {
    std::string_view word;
    if (!keyword(word)) return false;
    return iequals(word, wanted) || fail(errc::syntax, "unexpected keyword");
  }

  bool quoted(std::string& out) {
    if (!expect('"', "expected quoted string")) return false;
    if (!argument()) return false;
    std::size_t start = _pos;
    // Fast path: no escapes.
    while (!at_end()) {
      char c = _text[_pos];
      if (c == '"') {
        out.assign(_text.substr(start, _pos - start));
        ++_pos;
        return true;
      }
      if (c == '\\') break;
      if (c == '\r' || c == '\n' || c == '\0') return fail(errc::syntax, "bad character in quoted string");
      ++_pos;
    }
    out.assign(_text.substr(start, _pos - start));
    while (!at_end()) {
      char c = _text[_pos++];
      if (c == '"') return true;
      if (c == '\\') {
        char next = peek();
        if (next != '"' && next != '\\') return fail(errc::syntax, "bad escape in quoted string");
        out.push_back(next);
        ++_pos;
        continue;
      }
      if (c == '\r' || c == '\n' || c == '\0') return fail(errc::syntax, "bad character in quoted string");
      out.push_back(c);
    }
    return fail(errc::syntax, "unterminated quoted string");
  }

  // A literal at _pos: its marker must be the next one the reader recorded.
  bool literal(literal_data& out, bool allow_binary, bool allow_streamed) {
    if (_next_literal >= _literals.size() || _literals[_next_literal].marker_offset != _pos) {
      return fail(errc::syntax, "literal marker in the middle of a line");
    }
    const literal_span& span = _literals[_next_literal];
    if (span.binary && !allow_binary) return fail(errc::bad_literal_position, "literal8 not allowed here");
    if (span.streamed && !allow_streamed) return fail(errc::bad_literal_position, "streamed literal not allowed here");
    if (!argument()) return false;
    out.index = static_cast<std::uint32_t>(_next_literal);
    out.size_bytes = span.size_bytes;
    out.binary = span.binary;
    out.streamed = span.streamed;
    if (!span.streamed) {
      out.bytes = _text.substr(span.data_offset, static_cast<std::size_t>(span.size_bytes));
      if (!span.binary && out.bytes.find('\0') != std::string_view::npos) {
        return fail(errc::nul_in_literal, "NUL in literal");
      }
    }
    _pos = span.data_offset + (span.streamed ? 0 : static_cast<std::size_t>(span.size_bytes));
    ++_next_literal;
    return true;
  }

  bool string(std::string& out) {
    if (peek() == '"') return quoted(out);
    if (at_literal()) {
      literal_data data;
      if (!literal(data, false, false)) return false;
      out.assign(data.bytes);
      return true;
    }
    return fail(errc::syntax, "expected string");
  }
  bool astring(std::string& out) {
    if (peek() == '"' || at_literal()) return string(out);
    std::string_view word;
    if (!run_of(is_astring_char, word, "expected astring")) return false;
    out.assign(word);
    return true;
  }
  bool is_nil() const {
    return _pos + 3 <= _text.size() && iequals(_text.substr(_pos, 3), "NIL") &&
           (_pos + 3 == _text.size() || !is_atom_char(static_cast<unsigned char>(_text[_pos + 3])));
  }
  bool nstring(std::optional<std::string>& out) {
    if (is_nil()) {
      _pos += 3;
      out.reset();
      return argument();
    }
    out.emplace();
    return string(*out);
  }

  bool number64(std::uint64_t& out, std::uint64_t max = number64_max) {
    std::size_t start = _pos;
    std::uint64_t value = 0;
    while (!at_end() && is_digit(_text[_pos])) {
      std::uint64_t digit = static_cast<std::uint64_t>(_text[_pos] - '0');
      if (value > (max - digit) / 10) return fail(errc::bad_number, "number out of range");
      value = value * 10 + digit;
      ++_pos;
    }
    if (_pos == start) return fail(errc::bad_number, "expected number");
    out = value;
    return argument();
  }
  bool number(std::uint32_t& out) {
    std::uint64_t value = 0;
    if (!number64(value, 0xFFFFFFFFull)) return false;
    out = static_cast<std::uint32_t>(value);
    return true;
  }
  bool nz_number(std::uint32_t& out) {
    if (!number(out)) return false;
    return out != 0 || fail(errc::bad_number, "zero where nz-number expected");
  }

  bool mailbox(std::string& out) {
    std::string wire;
    if (!astring(wire)) return false;
    auto decoded = decode_mailbox_name(wire, _options.encoding);
    if (!decoded) return fail(decoded.error(), "mailbox name is not valid modified UTF-7 / UTF-8");
    out = std::move(*decoded);
    return true;
  }
  // list-mailbox = 1*list-char / string
  bool list_mailbox(std::string& out) {
    std::string wire;
    if (peek() == '"' || at_literal()) {
      if (!string(wire)) return false;
    } else {
      std::string_view word;
      if (!run_of(is_list_char, word, "expected mailbox pattern")) return false;
      wire.assign(word);
    }
    auto decoded = decode_mailbox_name(wire, _options.encoding);
    if (!decoded) return fail(decoded.error(), "pattern is not valid modified UTF-7 / UTF-8");
    out = std::move(*decoded);
    return true;
  }

  bool sequence_set(imap::sequence_set& out) {
    std::size_t start = _pos;
    while (!at_end()) {
      char c = _text[_pos];
      if (!(is_digit(c) || c == ':' || c == ',' || c == '*' || c == '$')) break;
      ++_pos;
    }
    if (!argument()) return false;
    auto parsed = parse_sequence_set(_text.substr(start, _pos - start), _ranges_left);
    if (!parsed) return fail(parsed.error(), "bad sequence set");
    out = std::move(*parsed);
    return true;
  }

  // flag = "\" atom / atom (system flags, keywords, extensions).
  bool flag(std::string& out) {
    bool system = consume('\\');
    std::string_view word;
    if (!atom(word)) return false;
    out.clear();
    if (system) out.push_back('\\');
    out.append(word);
    return true;
  }
  bool flag_list(std::vector<std::string>& out) {
    if (!expect('(', "expected flag list")) return false;
    if (consume(')')) return true;
    while (true) {
      out.emplace_back();
      if (!flag(out.back())) return false;
      if (consume(')')) return true;
      if (!sp()) return false;
    }
  }

  bool month(std::uint8_t& out) {
    if (_pos + 3 > _text.size()) return fail(errc::bad_date, "expected month");
    std::string_view name = _text.substr(_pos, 3);
    for (std::uint8_t i = 0; i < 12; ++i) {
      if (iequals(name, month_names[i])) {
        out = static_cast<std::uint8_t>(i + 1);
        _pos += 3;
        return true;
      }
    }
    return fail(errc::bad_date, "bad month");
  }
  bool digits(std::size_t count, unsigned& out) {
    out = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (!is_digit(peek())) return fail(errc::bad_date, "expected digit");
      out = out * 10 + static_cast<unsigned>(_text[_pos++] - '0');
    }
    return true;
  }
  bool valid_day(const date& d) {
    static constexpr std::uint8_t days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d.day < 1 || d.day > days[d.month - 1]) return fail(errc::bad_date, "day out of range");
    return true;
  }
  // date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-" date-month "-" date-year
  bool search_date(date& out) {
    if (!argument()) return false;
    bool quoted_date = consume('"');
    unsigned day = 0;
    if (!is_digit(peek())) return fail(errc::bad_date, "expected day");
    if (!digits(1, day)) return false;
    if (is_digit(peek())) {
      unsigned second = 0;
      if (!digits(1, second)) return false;
      day = day * 10 + second;
    }
    unsigned year = 0;
    if (!expect('-', "expected -") || !month(out.month) || !expect('-', "expected -") || !digits(4, year)) {
      return fail(errc::bad_date, "bad date");
    }
    out.day = static_cast<std::uint8_t>(day);
    out.year = static_cast<std::uint16_t>(year);
    if (quoted_date && !expect('"', "expected closing quote")) return false;
    return valid_day(out);
  }
  // date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
  bool date_time(imap::date_time& out) {
    if (!argument()) return false;
    if (!expect('"', "expected date-time")) return false;
    unsigned day = 0, year = 0, hour = 0, minute = 0, second = 0, zone = 0;
    if (consume(' ')) {
      if (!digits(1, day)) return false;
    } else if (!digits(2, day)) {
      return false;
    }
    if (!expect('-', "expected -") || !month(out.day.month) || !expect('-', "expected -") || !digits(4, year) ||
        !expect(' ', "expected SP") || !digits(2, hour) || !expect(':', "expected :") || !digits(2, minute) ||
        !expect(':', "expected :") || !digits(2, second) || !expect(' ', "expected SP")) {
      return fail(errc::bad_date, "bad date-time");
    }
    char sign = peek();
    if (sign != '+' && sign != '-') return fail(errc::bad_date, "expected zone");
    ++_pos;
    if (!digits(4, zone) || !expect('"', "expected closing quote")) return fail(errc::bad_date, "bad zone");
    if (hour > 23 || minute > 59 || second > 60 || zone % 100 > 59 || zone / 100 > 99) {
      return fail(errc::bad_date, "time out of range");
    }
    out.day.day = static_cast<std::uint8_t>(day);
    out.day.year = static_cast<std::uint16_t>(year);
    out.hour = static_cast<std::uint8_t>(hour);
    out.minute = static_cast<std::uint8_t>(minute);
    out.second = static_cast<std::uint8_t>(second);
    int minutes = static_cast<int>(zone / 100 * 60 + zone % 100);
    out.zone_minutes = static_cast<std::int16_t>(sign == '-' ? -minutes : minutes);
    return valid_day(out.day);
  }

  bool end() {
    // Tolerate trailing spaces: some clients emit them and nothing is lost.
    while (peek() == ' ' && !at_end()) ++_pos;
    return at_end() || fail(errc::syntax, "unexpected text after command");
  }

  // ------------------------------------------------------------ SEARCH
  bool search_key(imap::search_key& out);
  bool search_keys(std::vector<imap::search_key>& out) {
    while (true) {
      out.emplace_back();
      if (!search_key(out.back())) return false;
      if (at_end() || peek() != ' ') return true;
      // Trailing spaces before the end are tolerated by end().
      std::size_t after = _pos;
      while (after < _text.size() && _text[after] == ' ') ++after;
      if (after == _text.size()) return true;
      ++_pos;
    }
  }
  bool search_return_options(search_return& out) {
    out.present = true;
    if (!expect('(', "expected (")) return false;
    if (consume(')')) {
      out.all = true;  // RFC 4731: RETURN () means RETURN (ALL)
      return true;
    }
    while (true) {
      std::string_view word;
      if (!keyword(word)) return false;
      if (iequals(word, "MIN")) out.min = true;
      else if (iequals(word, "MAX")) out.max = true;
      else if (iequals(word, "ALL")) out.all = true;
      else if (iequals(word, "COUNT")) out.count = true;
      else if (iequals(word, "SAVE")) out.save = true;
      else return fail(errc::syntax, "unknown RETURN option");
      if (consume(')')) return true;
      if (!sp()) return false;
    }
  }
  // [RETURN (...)] [CHARSET x] keys — the tail shared by SEARCH.
  bool search_program(search_command& out) {
    if (iequals(peek_keyword(), "RETURN")) {
      _pos += 6;
      if (!sp() || !search_return_options(out.returns) || !sp()) return false;
    }
    if (iequals(peek_keyword(), "CHARSET")) {
      _pos += 7;
      if (!sp() || !astring(out.charset) || !sp()) return false;
      out.charset = to_upper(out.charset);
    }
    return search_keys(out.keys);
  }

  // ------------------------------------------------------------ FETCH
  bool section_spec(imap::section& out, bool binary);
  bool fetch_attribute(std::vector<imap::fetch_attribute>& out);

  // ------------------------------------------------------------ commands
  bool parse_body(std::string_view name, command_body& out);
  bool parse_uid(command_body& out);
  bool parse_select(select_command& out);
  bool parse_create(create_command& out);
  bool parse_list(list_command& out);
  bool parse_status_items(std::uint16_t& items);
  bool parse_append(append_command& out);
  bool parse_fetch(fetch_command& out);
  bool parse_store(store_command& out);
  bool parse_copy(copy_command& out);
  bool parse_sort(sort_command& out);
  bool parse_thread(thread_command& out);
  bool parse_id(id_command& out);
  bool parse_authenticate(authenticate_command& out);

  std::string_view _text;
  std::span<const literal_span> _literals;
  const parser_limits& _limits;
  parse_options _options;
  std::size_t _pos = 0;
  std::size_t _next_literal = 0;
  std::uint32_t _ranges_left;
  std::uint32_t _arguments_left;
  std::uint32_t _depth = 0;
  bool _failed = false;
  errc _error = errc::syntax;
  std::string_view _detail;
};

bool parser::search_key(imap::search_key& out) {
  char c = peek();
  if (c == '(') {
    if (!enter()) return false;
    ++_pos;
    out.kind = search_kind::and_;
    if (!search_keys(out.children)) return false;
    while (peek() == ' ' && !at_end()) ++_pos;  // "(SEEN )" from sloppy clients
    if (!expect(')', "expected )")) return false;
    leave();
    return true;
  }
  if (is_digit(c) || c == '*' || c == '$') {
    out.kind = search_kind::sequence_set;
    return sequence_set(out.set);
  }
  std::string_view word;
  if (!keyword(word)) return false;
  struct simple { std::string_view name; search_kind kind; };
  static constexpr simple no_argument[] = {
      {"ALL", search_kind::all}, {"ANSWERED", search_kind::answered}, {"DELETED", search_kind::deleted},
      {"DRAFT", search_kind::draft}, {"FLAGGED", search_kind::flagged}, {"NEW", search_kind::new_},
      {"OLD", search_kind::old}, {"RECENT", search_kind::recent}, {"SEEN", search_kind::seen},
      {"UNANSWERED", search_kind::unanswered}, {"UNDELETED", search_kind::undeleted},
      {"UNDRAFT", search_kind::undraft}, {"UNFLAGGED", search_kind::unflagged}, {"UNSEEN", search_kind::unseen},
  };
  for (const simple& s : no_argument) {
    if (iequals(word, s.name)) {
      out.kind = s.kind;
      return true;
    }
  }
  static constexpr simple text_argument[] = {
      {"BCC", search_kind::bcc}, {"BODY", search_kind::body}, {"CC", search_kind::cc},
      {"FROM", search_kind::from}, {"SUBJECT", search_kind::subject}, {"TEXT", search_kind::text},
      {"TO", search_kind::to},
  };
  for (const simple& s : text_argument) {
    if (iequals(word, s.name)) {
      out.kind = s.kind;
      return sp() && astring(out.text);
    }
  }
  static constexpr simple date_argument[] = {
      {"BEFORE", search_kind::before}, {"ON", search_kind::on}, {"SINCE", search_kind::since},
      {"SENTBEFORE", search_kind::sentbefore}, {"SENTON", search_kind::senton},
      {"SENTSINCE", search_kind::sentsince},
  };
  for (const simple& s : date_argument) {
    if (iequals(word, s.name)) {
      out.kind = s.kind;
      return sp() && search_date(out.day);
    }
  }
  if (iequals(word, "HEADER")) {
    out.kind = search_kind::header;
    return sp() && astring(out.field) && sp() && astring(out.text);
  }
  if (iequals(word, "KEYWORD") || iequals(word, "UNKEYWORD")) {
    out.kind = iequals(word, "KEYWORD") ? search_kind::keyword : search_kind::unkeyword;
    std::string_view flag_keyword;
    if (!sp() || !atom(flag_keyword)) return false;
    out.text.assign(flag_keyword);
    return true;
  }
  if (iequals(word, "LARGER") || iequals(word, "SMALLER")) {
    out.kind = iequals(word, "LARGER") ? search_kind::larger : search_kind::smaller;
    return sp() && number64(out.number);
  }
  if (iequals(word, "OLDER") || iequals(word, "YOUNGER")) {
    out.kind = iequals(word, "OLDER") ? search_kind::older : search_kind::younger;
    std::uint32_t seconds = 0;
    if (!sp() || !nz_number(seconds)) return false;
    out.number = seconds;
    return true;
  }
  if (iequals(word, "UID")) {
    out.kind = search_kind::uid;
    return sp() && sequence_set(out.set);
  }
  if (iequals(word, "NOT")) {
    out.kind = search_kind::not_;
    if (!sp() || !enter()) return false;
    out.children.emplace_back();
    if (!search_key(out.children.back())) return false;
    leave();
    return true;
  }
  if (iequals(word, "OR")) {
    out.kind = search_kind::or_;
    if (!sp() || !enter()) return false;
    out.children.resize(2);
    if (!search_key(out.children[0]) || !sp() || !search_key(out.children[1])) return false;
    leave();
    return true;
  }
  if (iequals(word, "MODSEQ")) {
    // MODSEQ [entry-name SP entry-type-req SP] mod-sequence-valzer (RFC 7162)
    out.kind = search_kind::modseq;
    if (!sp()) return false;
    if (peek() == '"') {
      std::string_view type;
      if (!quoted(out.field) || !sp() || !keyword(type)) return false;
      if (!iequals(type, "priv") && !iequals(type, "shared") && !iequals(type, "all")) {
        return fail(errc::syntax, "bad MODSEQ entry type");
      }
      out.text.clear();
      for (char ch : type) out.text.push_back(upper(ch) == ch && ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch);
      if (!sp()) return false;
    }
    return number64(out.number);
  }
  return fail(errc::syntax, "unknown search key");
}

bool parser::section_spec(imap::section& out, bool binary) {
  if (!expect('[', "expected [")) return false;
  if (consume(']')) return true;
  // section-part: nz-number *("." nz-number)
  while (is_digit(peek())) {
    if (out.part.size() >= _limits.section_parts_max) return fail(errc::too_many_arguments, "section path too deep");
    std::uint32_t n = 0;
    if (!nz_number(n)) return false;
    out.part.push_back(n);
    if (peek() == '.' && is_digit(peek_at(1))) {
      ++_pos;
      continue;
    }
    break;
  }
  if (binary) return expect(']', "expected ]");
  if (!out.part.empty()) {
    if (consume(']')) return true;
    if (!expect('.', "expected . or ]")) return false;
  }
  std::size_t start = _pos;
  while (!at_end() && ((upper(_text[_pos]) >= 'A' && upper(_text[_pos]) <= 'Z') || _text[_pos] == '.')) ++_pos;
  std::string_view word = _text.substr(start, _pos - start);
  if (iequals(word, "HEADER")) {
    out.text = section_text::header;
  } else if (iequals(word, "TEXT")) {
    out.text = section_text::text;
  } else if (iequals(word, "MIME") && !out.part.empty()) {
    out.text = section_text::mime;
  } else if (iequals(word, "HEADER.FIELDS") || iequals(word, "HEADER.FIELDS.NOT")) {
    out.text = word.size() == 13 ? section_text::header_fields : section_text::header_fields_not;
    if (!sp() || !expect('(', "expected header list")) return false;
    while (true) {
      std::string field;
      if (!astring(field)) return false;
      out.fields.push_back(to_upper(field));
      if (consume(')')) break;
      if (!sp()) return false;
    }
  } else {
    return fail(errc::syntax, "bad section");
  }
  return expect(']', "expected ]");
}

bool parser::fetch_attribute(std::vector<imap::fetch_attribute>& out) {
  if (!argument()) return false;
  std::size_t start = _pos;
  while (!at_end() && ((upper(_text[_pos]) >= 'A' && upper(_text[_pos]) <= 'Z') || is_digit(_text[_pos]) ||
                       _text[_pos] == '.')) {
    ++_pos;
  }
  std::string_view name = _text.substr(start, _pos - start);
  imap::fetch_attribute a;
  struct simple { std::string_view name; fetch_kind kind; };
  static constexpr simple plain[] = {
      {"ENVELOPE", fetch_kind::envelope}, {"FLAGS", fetch_kind::flags},
      {"INTERNALDATE", fetch_kind::internal_date}, {"RFC822", fetch_kind::rfc822},
      {"RFC822.HEADER", fetch_kind::rfc822_header}, {"RFC822.SIZE", fetch_kind::rfc822_size},
      {"RFC822.TEXT", fetch_kind::rfc822_text}, {"BODYSTRUCTURE", fetch_kind::body_structure},
      {"UID", fetch_kind::uid}, {"MODSEQ", fetch_kind::modseq}, {"SAVEDATE", fetch_kind::save_date},
      {"EMAILID", fetch_kind::email_id}, {"THREADID", fetch_kind::thread_id},
  };
  for (const simple& s : plain) {
    if (iequals(name, s.name)) {
      a.kind = s.kind;
      out.push_back(std::move(a));
      return true;
    }
  }
  bool body = iequals(name, "BODY"), body_peek = iequals(name, "BODY.PEEK");
  bool binary = iequals(name, "BINARY"), binary_peek = iequals(name, "BINARY.PEEK");
  bool binary_size = iequals(name, "BINARY.SIZE");
  if (body && peek() != '[') {
    a.kind = fetch_kind::body;
    out.push_back(std::move(a));
    return true;
  }
  if (!(body || body_peek || binary || binary_peek || binary_size)) return fail(errc::syntax, "unknown fetch attribute");
  a.kind = (body || body_peek) ? fetch_kind::body_section : binary_size ? fetch_kind::binary_size : fetch_kind::binary;
  a.peek = body_peek || binary_peek;
  if (!section_spec(a.section, !(body || body_peek))) return false;
  if (!binary_size && consume('<')) {
    std::uint64_t origin = 0, count = 0;
    if (!number64(origin) || !expect('.', "expected .") || !number64(count) || !expect('>', "expected >")) {
      return false;
    }
    if (count == 0) return fail(errc::bad_number, "partial count must be non-zero");
    a.partial = partial_range{origin, count};
  }
  out.push_back(std::move(a));
  return true;
}

bool parser::parse_fetch(fetch_command& out) {
  if (!sp() || !sequence_set(out.set) || !sp()) return false;
  if (consume('(')) {
    while (true) {
      if (!fetch_attribute(out.attributes)) return false;
      if (consume(')')) break;
      if (!sp()) return false;
    }
  } else {
    std::string_view word = peek_keyword();
    if (iequals(word, "ALL") || iequals(word, "FAST") || iequals(word, "FULL")) {
      _pos += word.size();
      if (!argument()) return false;
      // Macros (RFC 3501 section 6.4.5), expanded so the session sees items only.
      out.macro = iequals(word, "ALL") ? fetch_macro::all : iequals(word, "FAST") ? fetch_macro::fast : fetch_macro::full;
      for (fetch_kind k : {fetch_kind::flags, fetch_kind::internal_date, fetch_kind::rfc822_size}) {
        out.attributes.push_back({k, false, {}, {}});
      }
      if (out.macro != fetch_macro::fast) out.attributes.push_back({fetch_kind::envelope, false, {}, {}});
      if (out.macro == fetch_macro::full) out.attributes.push_back({fetch_kind::body, false, {}, {}});
    } else {
      if (!fetch_attribute(out.attributes)) return false;
    }
  }
  if (peek() == ' ' && peek_at(1) == '(') {
    // fetch-modifiers (RFC 7162 section 3.1.4.1, 3.2.6)
    _pos += 2;
    while (true) {
      std::string_view word;
      if (!keyword(word)) return false;
      if (iequals(word, "CHANGEDSINCE")) {
        std::uint64_t modseq = 0;
        if (!sp() || !number64(modseq)) return false;
        out.changed_since = modseq;
      } else if (iequals(word, "VANISHED")) {
        out.vanished = true;
      } else {
        return fail(errc::syntax, "unknown fetch modifier");
      }
      if (consume(')')) break;
      if (!sp()) return false;
    }
    if (out.vanished && (!out.uid || !out.changed_since)) {
      return fail(errc::syntax, "VANISHED needs UID FETCH and CHANGEDSINCE");
    }
  }
  return end();
}

bool parser::parse_store(store_command& out) {
  if (!sp() || !sequence_set(out.set) || !sp()) return false;
  if (consume('(')) {
    std::uint64_t modseq = 0;
    if (!expect_keyword("UNCHANGEDSINCE") || !sp() || !number64(modseq) || !expect(')', "expected )") || !sp()) {
      return false;
    }
    out.unchanged_since = modseq;
  }
  if (consume('+')) out.mode = store_mode::add;
  else if (consume('-')) out.mode = store_mode::remove;
  std::string_view word;
  if (!keyword(word)) return false;
  if (iequals(word, "FLAGS.SILENT")) out.silent = true;
  else if (!iequals(word, "FLAGS")) return fail(errc::syntax, "expected FLAGS");
  if (!sp()) return false;
  if (peek() == '(') {
    if (!flag_list(out.flags)) return false;
  } else {
    while (true) {
      out.flags.emplace_back();
      if (!flag(out.flags.back())) return false;
      if (peek() != ' ') break;
      std::size_t after = _pos;
      while (after < _text.size() && _text[after] == ' ') ++after;
      if (after == _text.size()) break;
      ++_pos;
    }
  }
  return end();
}

bool parser::parse_copy(copy_command& out) {
  return sp() && sequence_set(out.set) && sp() && mailbox(out.mailbox) && end();
}

bool parser::parse_select(select_command& out) {
  if (!sp() || !mailbox(out.mailbox)) return false;
  if (peek() == ' ' && peek_at(1) == '(') {
    _pos += 2;
    if (consume(')')) return end();
    while (true) {
      std::string_view word;
      if (!keyword(word)) return false;
      if (iequals(word, "CONDSTORE")) {
        out.condstore = true;
      } else if (iequals(word, "QRESYNC")) {
        qresync_parameters q;
        if (!sp() || !expect('(', "expected (") || !nz_number(q.uid_validity) || !sp() || !number64(q.modseq)) {
          return false;
        }
        if (q.modseq == 0) return fail(errc::bad_number, "QRESYNC modseq must be non-zero");
        if (peek() == ' ' && peek_at(1) != '(') {
          ++_pos;
          q.known_uids.emplace();
          if (!sequence_set(*q.known_uids)) return false;
        }
        if (peek() == ' ' && peek_at(1) == '(') {
          _pos += 2;
          q.known_sequence_numbers.emplace();
          q.known_sequence_uids.emplace();
          if (!sequence_set(*q.known_sequence_numbers) || !sp() || !sequence_set(*q.known_sequence_uids) ||
              !expect(')', "expected )")) {
            return false;
          }
        }
        if (!expect(')', "expected )")) return false;
        out.qresync = std::move(q);
      } else {
        return fail(errc::syntax, "unknown select parameter");
      }
      if (consume(')')) break;
      if (!sp()) return false;
    }
  }
  return end();
}

bool parser::parse_create(create_command& out) {
  if (!sp() || !mailbox(out.mailbox)) return false;
  if (peek() == ' ' && peek_at(1) == '(') {
    // create-param (RFC 4466); USE (RFC 6154) is the one we know.
    _pos += 2;
    if (!expect_keyword("USE") || !sp() || !flag_list(out.special_use) || !expect(')', "expected )")) return false;
    for (const std::string& f : out.special_use) {
      if (f.empty() || f[0] != '\\') return fail(errc::syntax, "special-use attributes start with \\");
    }
  }
  return end();
}

bool parser::parse_status_items(std::uint16_t& items) {
  if (!expect('(', "expected (")) return false;
  while (true) {
    std::string_view word;
    if (!keyword(word)) return false;
    struct item { std::string_view name; status_item bit; };
    static constexpr item known[] = {
        {"MESSAGES", status_messages}, {"RECENT", status_recent}, {"UIDNEXT", status_uid_next},
        {"UIDVALIDITY", status_uid_validity}, {"UNSEEN", status_unseen}, {"DELETED", status_deleted},
        {"SIZE", status_size}, {"HIGHESTMODSEQ", status_highest_modseq}, {"APPENDLIMIT", status_append_limit},
        {"MAILBOXID", status_mailbox_id},
    };
    bool found = false;
    for (const item& k : known) {
      if (iequals(word, k.name)) {
        items = static_cast<std::uint16_t>(items | k.bit);
        found = true;
        break;
      }
    }
    if (!found) return fail(errc::syntax, "unknown status item");
    if (consume(')')) return true;
    if (!sp()) return false;
  }
}

bool parser::parse_list(list_command& out) {
  if (!sp()) return false;
  if (consume('(')) {
    out.extended = true;
    if (!consume(')')) {
      while (true) {
        std::string_view word;
        if (!keyword(word)) return false;
        if (iequals(word, "SUBSCRIBED")) out.select_subscribed = true;
        else if (iequals(word, "REMOTE")) out.select_remote = true;
        else if (iequals(word, "RECURSIVEMATCH")) out.select_recursive_match = true;
        else if (iequals(word, "SPECIAL-USE")) out.select_special_use = true;
        else return fail(errc::syntax, "unknown list selection option");
        if (consume(')')) break;
        if (!sp()) return false;
      }
      // RFC 5258 section 3.1: RECURSIVEMATCH alone is an error.
      if (out.select_recursive_match && !out.select_subscribed && !out.select_special_use) {
        return fail(errc::syntax, "RECURSIVEMATCH needs another selection option");
      }
    }
    if (!sp()) return false;
  }
  if (!mailbox(out.reference) || !sp()) return false;
  if (consume('(')) {
    out.extended = true;
    while (true) {
      out.patterns.emplace_back();
      if (!list_mailbox(out.patterns.back())) return false;
      if (consume(')')) break;
      if (!sp()) return false;
    }
  } else {
    out.patterns.emplace_back();
    if (!list_mailbox(out.patterns.back())) return false;
  }
  if (peek() == ' ' && !at_end()) {
    std::size_t mark = _pos;
    ++_pos;
    if (at_end() || peek() == ' ') {
      _pos = mark;
      return end();
    }
    if (!expect_keyword("RETURN") || !sp() || !expect('(', "expected (")) return false;
    out.extended = true;
    if (!consume(')')) {
      while (true) {
        std::string_view word;
        if (!keyword(word)) return false;
        if (iequals(word, "SUBSCRIBED")) out.return_subscribed = true;
        else if (iequals(word, "CHILDREN")) out.return_children = true;
        else if (iequals(word, "SPECIAL-USE")) out.return_special_use = true;
        else if (iequals(word, "MYRIGHTS")) out.return_my_rights = true;
        else if (iequals(word, "STATUS")) {
          if (!sp() || !parse_status_items(out.return_status)) return false;
        } else {
          return fail(errc::syntax, "unknown list return option");
        }
        if (consume(')')) break;
        if (!sp()) return false;
      }
    }
  }
  return end();
}

bool parser::parse_append(append_command& out) {
  if (!sp() || !mailbox(out.mailbox)) return false;
  // One or more: SP [flag-list SP] [date-time SP] literal (RFC 3502).
  while (peek() == ' ' && !at_end()) {
    std::size_t after = _pos;
    while (after < _text.size() && _text[after] == ' ') ++after;
    if (after == _text.size()) break;
    ++_pos;
    append_message message;
    if (peek() == '(') {
      if (!flag_list(message.flags) || !sp()) return false;
    }
    if (peek() == '"') {
      message.internal_date.emplace();
      if (!date_time(*message.internal_date) || !sp()) return false;
    }
    if (!at_literal()) return fail(errc::syntax, "expected message literal");
    if (!literal(message.message, true, true)) return false;
    out.messages.push_back(std::move(message));
  }
  if (out.messages.empty()) return fail(errc::syntax, "APPEND without a message");
  return end();
}

bool parser::parse_sort(sort_command& out) {
  if (!sp()) return false;
  std::string_view word;
  if (iequals(peek_keyword(), "RETURN")) {
    _pos += 6;
    if (!sp() || !search_return_options(out.returns) || !sp()) return false;
  }
  if (!expect('(', "expected sort criteria")) return false;
  while (true) {
    sort_criterion criterion;
    if (!keyword(word)) return false;
    if (iequals(word, "REVERSE")) {
      criterion.reverse = true;
      if (!sp() || !keyword(word)) return false;
    }
    struct key { std::string_view name; sort_key value; };
    static constexpr key known[] = {
        {"ARRIVAL", sort_key::arrival}, {"CC", sort_key::cc}, {"DATE", sort_key::date},
        {"FROM", sort_key::from}, {"SIZE", sort_key::size}, {"SUBJECT", sort_key::subject},
        {"TO", sort_key::to}, {"DISPLAYFROM", sort_key::display_from}, {"DISPLAYTO", sort_key::display_to},
    };
    bool found = false;
    for (const key& k : known) {
      if (iequals(word, k.name)) {
        criterion.key = k.value;
        found = true;
        break;
      }
    }
    if (!found) return fail(errc::syntax, "unknown sort criterion");
    out.criteria.push_back(criterion);
    if (consume(')')) break;
    if (!sp()) return false;
  }
  if (!sp() || !astring(out.charset) || !sp()) return false;
  out.charset = to_upper(out.charset);
  return search_keys(out.keys) && end();
}

bool parser::parse_thread(thread_command& out) {
  std::string_view word;
  if (!sp() || !keyword(word)) return false;
  if (iequals(word, "ORDEREDSUBJECT")) out.algorithm = thread_algorithm::ordered_subject;
  else if (iequals(word, "REFERENCES")) out.algorithm = thread_algorithm::references;
  else if (iequals(word, "REFS")) out.algorithm = thread_algorithm::refs;
  else return fail(errc::syntax, "unknown thread algorithm");
  if (!sp() || !astring(out.charset) || !sp()) return false;
  out.charset = to_upper(out.charset);
  return search_keys(out.keys) && end();
}

bool parser::parse_id(id_command& out) {
  if (!sp()) return false;
  if (is_nil()) {
    _pos += 3;
    return argument() && end();
  }
  if (!expect('(', "expected ( or NIL")) return false;
  if (consume(')')) return end();
  while (true) {
    if (out.fields.size() >= _limits.id_fields_max) return fail(errc::too_many_arguments, "too many ID fields");
    std::string field;
    std::optional<std::string> value;
    if (!string(field) || !sp() || !nstring(value)) return false;
    if (field.size() > _limits.id_field_length_max || (value && value->size() > _limits.id_value_length_max)) {
      return fail(errc::too_many_arguments, "ID field or value too long");
    }
    out.fields.emplace_back(std::move(field), std::move(value));
    if (consume(')')) break;
    if (!sp()) return false;
  }
  return end();
}

bool parser::parse_authenticate(authenticate_command& out) {
  std::string_view word;
  if (!sp() || !atom(word)) return false;
  out.mechanism = to_upper(word);
  if (peek() == ' ' && _pos + 1 < _text.size() && peek_at(1) != ' ') {
    ++_pos;
    // initial-response = base64 / "=" (RFC 4959)
    std::size_t start = _pos;
    while (!at_end()) {
      char c = _text[_pos];
      bool base64 = (upper(c) >= 'A' && upper(c) <= 'Z') || is_digit(c) || c == '+' || c == '/' || c == '=';
      if (!base64) break;
      ++_pos;
    }
    if (_pos == start) return fail(errc::syntax, "bad initial response");
    out.initial_response.emplace(_text.substr(start, _pos - start));
  }
  return end();
}

bool parser::parse_uid(command_body& out) {
  std::string_view word;
  if (!sp() || !keyword(word)) return false;
  if (iequals(word, "FETCH")) {
    fetch_command c;
    c.uid = true;
    if (!parse_fetch(c)) return false;
    out = std::move(c);
  } else if (iequals(word, "STORE")) {
    store_command c;
    c.uid = true;
    if (!parse_store(c)) return false;
    out = std::move(c);
  } else if (iequals(word, "COPY") || iequals(word, "MOVE")) {
    copy_command c;
    c.uid = true;
    c.move = iequals(word, "MOVE");
    if (!parse_copy(c)) return false;
    out = std::move(c);
  } else if (iequals(word, "SEARCH")) {
    search_command c;
    c.uid = true;
    if (!sp() || !search_program(c) || !end()) return false;
    out = std::move(c);
  } else if (iequals(word, "EXPUNGE")) {
    expunge_command c;
    c.uid = true;
    if (!sp() || !sequence_set(c.set) || !end()) return false;
    out = std::move(c);
  } else if (iequals(word, "SORT")) {
    sort_command c;
    c.uid = true;
    if (!parse_sort(c)) return false;
    out = std::move(c);
  } else if (iequals(word, "THREAD")) {
    thread_command c;
    c.uid = true;
    if (!parse_thread(c)) return false;
    out = std::move(c);
  } else {
    return fail(errc::unknown_command, "unknown UID command");
  }
  return true;
}

template <class T>
bool set_plain(command_body& out, T value) {
  out = std::move(value);
  return true;
}

bool parser::parse_body(std::string_view name, command_body& out) {
  // Commands without arguments.
  struct plain { std::string_view name; command_body body; };
  static const plain no_argument[] = {
      {"CAPABILITY", capability_command{}}, {"NOOP", noop_command{}}, {"LOGOUT", logout_command{}},
      {"STARTTLS", starttls_command{}}, {"NAMESPACE", namespace_command{}}, {"IDLE", idle_command{}},
      {"CHECK", check_command{}}, {"CLOSE", close_command{}}, {"UNSELECT", unselect_command{}},
      {"EXPUNGE", expunge_command{}},
  };
  for (const plain& p : no_argument) {
    if (iequals(name, p.name)) {
      out = p.body;
      return end();
    }
  }
  if (iequals(name, "UID")) return parse_uid(out);
  if (iequals(name, "FETCH")) {
    fetch_command c;
    return parse_fetch(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "STORE")) {
    store_command c;
    return parse_store(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "COPY") || iequals(name, "MOVE")) {
    copy_command c;
    c.move = iequals(name, "MOVE");
    return parse_copy(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "SEARCH")) {
    search_command c;
    return sp() && search_program(c) && end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "SORT")) {
    sort_command c;
    return parse_sort(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "THREAD")) {
    thread_command c;
    return parse_thread(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "SELECT") || iequals(name, "EXAMINE")) {
    select_command c;
    c.read_only = iequals(name, "EXAMINE");
    return parse_select(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "LOGIN")) {
    login_command c;
    return sp() && astring(c.user) && sp() && astring(c.password) && end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "AUTHENTICATE")) {
    authenticate_command c;
    return parse_authenticate(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "ENABLE")) {
    enable_command c;
    do {
      std::string_view word;
      if (!sp() || !atom(word)) return false;
      c.capabilities.push_back(to_upper(word));
    } while (peek() == ' ' && _pos + 1 < _text.size() && peek_at(1) != ' ');
    return end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "CREATE")) {
    create_command c;
    return parse_create(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "DELETE")) {
    delete_command c;
    return sp() && mailbox(c.mailbox) && end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "RENAME")) {
    rename_command c;
    return sp() && mailbox(c.source) && sp() && mailbox(c.target) && end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "SUBSCRIBE")) {
    subscribe_command c;
    return sp() && mailbox(c.mailbox) && end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "UNSUBSCRIBE")) {
    unsubscribe_command c;
    return sp() && mailbox(c.mailbox) && end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "LIST")) {
    list_command c;
    return parse_list(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "LSUB")) {
    lsub_command c;
    return sp() && mailbox(c.reference) && sp() && list_mailbox(c.pattern) && end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "STATUS")) {
    status_command c;
    return sp() && mailbox(c.mailbox) && sp() && parse_status_items(c.items) && end() &&
           set_plain(out, std::move(c));
  }
  if (iequals(name, "APPEND")) {
    append_command c;
    return parse_append(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "ID")) {
    id_command c;
    return parse_id(c) && set_plain(out, std::move(c));
  }
  if (iequals(name, "GETQUOTA")) {
    getquota_command c;
    return sp() && astring(c.root) && end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "GETQUOTAROOT")) {
    getquotaroot_command c;
    return sp() && mailbox(c.mailbox) && end() && set_plain(out, std::move(c));
  }
  if (iequals(name, "COMPRESS")) {
    compress_command c;
    std::string_view word;
    if (!sp() || !atom(word)) return false;
    c.mechanism = to_upper(word);
    return end() && set_plain(out, std::move(c));
  }
  return fail(errc::unknown_command, "unknown command");
}

kio::result<command, command_error> parser::run() {
  command cmd;
  std::size_t start = _pos;
  while (!at_end() && is_tag_char(static_cast<unsigned char>(_text[_pos]))) ++_pos;
  bool tag_ok = _pos > start && peek() == ' ';
  if (!tag_ok) {
    return kio::fail(command_error{errc::bad_tag, {}, true, "missing or malformed tag"});
  }
  cmd.tag.assign(_text.substr(start, _pos - start));
  ++_pos;
  std::string_view name;
  if (!keyword(name) || !parse_body(name, cmd.body)) {
    return kio::fail(command_error{_error, std::move(cmd.tag), true, _detail});
  }
  RM_ASSERT(_depth == 0);
  return cmd;
}

}  // namespace

kio::result<command, command_error> parse_command(const framed_command& framed, const parser_limits& limits,
                                                  const parse_options& options) {
  parser p(framed, limits, options);
  return p.run();
}

kio::result<command, command_error> parse_command_text(command_reader& reader, std::string_view wire,
                                                       const parse_options& options) {
  std::string owned;
  if (wire.empty() || wire.back() != '\n') {
    owned.assign(wire);
    owned.append("\r\n");
    wire = owned;
  }
  reader.reset();
  while (true) {
    read_event ev = reader.read(wire);
    wire.remove_prefix(ev.consumed_bytes);
    switch (ev.status) {
      case read_status::need_more:
        if (wire.empty()) return kio::fail(command_error{errc::syntax, {}, true, "incomplete command"});
        break;
      case read_status::need_literal:
        reader.accept_literal();
        break;
      case read_status::literal_chunk:
      case read_status::line:
        break;
      case read_status::error:
        return kio::fail(std::move(ev.error));
      case read_status::command:
        return parse_command(reader.command(), reader.limits(), options);
    }
  }
}

std::string_view command_name(const command_body& body) {
  struct namer {
    std::string_view operator()(const capability_command&) const { return "CAPABILITY"; }
    std::string_view operator()(const noop_command&) const { return "NOOP"; }
    std::string_view operator()(const logout_command&) const { return "LOGOUT"; }
    std::string_view operator()(const starttls_command&) const { return "STARTTLS"; }
    std::string_view operator()(const authenticate_command&) const { return "AUTHENTICATE"; }
    std::string_view operator()(const login_command&) const { return "LOGIN"; }
    std::string_view operator()(const enable_command&) const { return "ENABLE"; }
    std::string_view operator()(const select_command& c) const { return c.read_only ? "EXAMINE" : "SELECT"; }
    std::string_view operator()(const create_command&) const { return "CREATE"; }
    std::string_view operator()(const delete_command&) const { return "DELETE"; }
    std::string_view operator()(const rename_command&) const { return "RENAME"; }
    std::string_view operator()(const subscribe_command&) const { return "SUBSCRIBE"; }
    std::string_view operator()(const unsubscribe_command&) const { return "UNSUBSCRIBE"; }
    std::string_view operator()(const list_command&) const { return "LIST"; }
    std::string_view operator()(const lsub_command&) const { return "LSUB"; }
    std::string_view operator()(const namespace_command&) const { return "NAMESPACE"; }
    std::string_view operator()(const status_command&) const { return "STATUS"; }
    std::string_view operator()(const append_command&) const { return "APPEND"; }
    std::string_view operator()(const idle_command&) const { return "IDLE"; }
    std::string_view operator()(const check_command&) const { return "CHECK"; }
    std::string_view operator()(const close_command&) const { return "CLOSE"; }
    std::string_view operator()(const unselect_command&) const { return "UNSELECT"; }
    std::string_view operator()(const expunge_command& c) const { return c.uid ? "UID EXPUNGE" : "EXPUNGE"; }
    std::string_view operator()(const search_command& c) const { return c.uid ? "UID SEARCH" : "SEARCH"; }
    std::string_view operator()(const fetch_command& c) const { return c.uid ? "UID FETCH" : "FETCH"; }
    std::string_view operator()(const store_command& c) const { return c.uid ? "UID STORE" : "STORE"; }
    std::string_view operator()(const copy_command& c) const {
      return c.move ? (c.uid ? "UID MOVE" : "MOVE") : (c.uid ? "UID COPY" : "COPY");
    }
    std::string_view operator()(const sort_command& c) const { return c.uid ? "UID SORT" : "SORT"; }
    std::string_view operator()(const thread_command& c) const { return c.uid ? "UID THREAD" : "THREAD"; }
    std::string_view operator()(const id_command&) const { return "ID"; }
    std::string_view operator()(const getquota_command&) const { return "GETQUOTA"; }
    std::string_view operator()(const getquotaroot_command&) const { return "GETQUOTAROOT"; }
    std::string_view operator()(const compress_command&) const { return "COMPRESS"; }
  };
  return std::visit(namer{}, body);
}

}  // namespace imap
