#include "protocols/mime/transfer.h"

#include <emmintrin.h>

#include <array>
#include <cstring>

#include "protocols/common/byte_scan.h"
#include "protocols/mime/header.h"

namespace mime {

transfer_encoding parse_transfer_encoding(std::string_view value) {
  value = trim_blanks(value);
  // Tolerate trailing comments or junk after the token ("base64 (foo)", "7bit;").
  std::size_t end = 0;
  while (end < value.size() && value[end] != ' ' && value[end] != '\t' && value[end] != ';' &&
         value[end] != '(')
    ++end;
  value = value.substr(0, end);
  if (value.empty() || iequals(value, "7bit")) return transfer_encoding::seven_bit;
  if (iequals(value, "8bit")) return transfer_encoding::eight_bit;
  if (iequals(value, "binary")) return transfer_encoding::binary;
  if (iequals(value, "base64")) return transfer_encoding::base64;
  if (iequals(value, "quoted-printable")) return transfer_encoding::quoted_printable;
  return transfer_encoding::unknown;
}

std::string_view transfer_encoding_name(transfer_encoding e) {
  switch (e) {
    case transfer_encoding::seven_bit: return "7bit";
    case transfer_encoding::eight_bit: return "8bit";
    case transfer_encoding::binary: return "binary";
    case transfer_encoding::base64: return "base64";
    case transfer_encoding::quoted_printable: return "quoted-printable";
    case transfer_encoding::unknown: return "7bit";
  }
  return "7bit";
}

static constexpr signed char base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<signed char>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<signed char>(c - 'a' + 26);
  if (c >= '0' && c <= '9') return static_cast<signed char>(c - '0' + 52);
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

static constexpr signed char hex_digit(unsigned char c) {
  if (c >= '0' && c <= '9') return static_cast<signed char>(c - '0');
  if (c >= 'A' && c <= 'F') return static_cast<signed char>(c - 'A' + 10);
  if (c >= 'a' && c <= 'f') return static_cast<signed char>(c - 'a' + 10);
  return -1;
}

namespace {
template <signed char (*F)(unsigned char)>
constexpr std::array<signed char, 256> make_table() {
  std::array<signed char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = F(static_cast<unsigned char>(c));
  return t;
}
constexpr std::array<signed char, 256> base64_table = make_table<base64_value>();
constexpr std::array<signed char, 256> hex_table = make_table<hex_digit>();

int hex_value(char c) { return hex_table[static_cast<unsigned char>(c)]; }

// Appends through a pointer into room made up front, then trims.
template <typename Decoder>
void decode_appending(Decoder& d, std::size_t room, std::string_view input, std::string& out) {
  std::size_t base = out.size();
  out.resize(base + room);
  char* end = d.decode(input, out.data() + base);
  out.resize(static_cast<std::size_t>(end - out.data()));
}
}  // namespace

char* base64_decoder::decode(std::string_view input, char* w) {
  if (_padding_seen) return w;
  const auto* p = reinterpret_cast<const unsigned char*>(input.data());
  const auto* end = p + input.size();
  while (p < end) {
    // Whole quanta of four symbols (most of a body: lines are 76 symbols)
    // take four table loads and one test.
    if (_symbols == 0) {
      while (end - p >= 4) {
        signed char a = base64_table[p[0]], b = base64_table[p[1]], c = base64_table[p[2]], d = base64_table[p[3]];
        if ((a | b | c | d) < 0) break;
        std::uint32_t bits = static_cast<std::uint32_t>(a) << 18 | static_cast<std::uint32_t>(b) << 12 |
                             static_cast<std::uint32_t>(c) << 6 | static_cast<std::uint32_t>(d);
        w[0] = static_cast<char>(bits >> 16);
        w[1] = static_cast<char>((bits >> 8) & 0xFF);
        w[2] = static_cast<char>(bits & 0xFF);
        w += 3;
        p += 4;
      }
      if (p == end) break;
    }
    unsigned char c = *p++;
    if (c == '=') {
      w = finish(w);
      _padding_seen = true;
      return w;
    }
    signed char v = base64_table[c];
    if (v < 0) continue;  // whitespace, line breaks, junk
    _bits = (_bits << 6) | static_cast<std::uint32_t>(v);
    if (++_symbols == 4) {
      w[0] = static_cast<char>((_bits >> 16) & 0xFF);
      w[1] = static_cast<char>((_bits >> 8) & 0xFF);
      w[2] = static_cast<char>(_bits & 0xFF);
      w += 3;
      _bits = 0;
      _symbols = 0;
    }
  }
  return w;
}

void base64_decoder::decode(std::string_view input, std::string& out) {
  decode_appending(*this, decoded_size_max(input.size()), input, out);
}

char* base64_decoder::finish(char* w) {
  if (_symbols == 2) {
    *w++ = static_cast<char>((_bits >> 4) & 0xFF);
  } else if (_symbols == 3) {
    *w++ = static_cast<char>((_bits >> 10) & 0xFF);
    *w++ = static_cast<char>((_bits >> 2) & 0xFF);
  }
  _bits = 0;
  _symbols = 0;
  return w;
}

void base64_decoder::finish(std::string& out) {
  char buf[finish_size_max];
  out.append(buf, static_cast<std::size_t>(finish(buf) - buf));
}

char* qp_decoder::flush_blanks(char* w) {
  if (_blanks.empty()) return w;
  std::memcpy(w, _blanks.data(), _blanks.size());
  w += _blanks.size();
  _blanks.clear();
  return w;
}

// A blank that may be padding is held; a run that reaches the cap is
// output, so the pending buffer stays bounded.
char* qp_decoder::hold_blank(char c, char* w) {
  if (_blanks.size() >= qp_blank_run_max) w = flush_blanks(w);
  _blanks.push_back(c);
  return w;
}

namespace {
bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Offset of the first '=', CR or LF in s[from, to), or `to`. Everything
// else in quoted-printable text is itself, blanks included unless a line
// break follows them.
std::size_t find_qp_special(const char* s, std::size_t from, std::size_t to) {
  return proto::find_first_of_bytes<'=', '\r', '\n'>(s, from, to);
}
// Copies a run of literal text, s[i, j). Most are a few bytes (between two
// escapes): one 16-byte load and store when the input holds 16 bytes from
// the run's start. Then so does the output: its room (decoded_size_max)
// is the input's size plus what was held back, and it never runs ahead of
// the input consumed by more than that; the bytes stored past the run are
// overwritten next or lie past the output's end. Otherwise memcpy (whose
// call and size dispatch per run cost more than decoding the escape).
inline char* copy_run(char* w, const char* s, std::size_t i, std::size_t j, std::size_t n) {
  if (j - i <= 16 && i + 16 <= n)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(w), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
  else
    std::memcpy(w, s + i, j - i);
  return w + (j - i);
}
}  // namespace

char* qp_decoder::decode(std::string_view input, char* w) {
  const char* s = input.data();
  const std::size_t n = input.size();
  std::size_t i = 0;
  while (i < n) {
    if (_state == state::text && _blanks.empty()) {
      // Most of a QP body: runs of text, each ended by an escape, a soft
      // break or a line break after a byte that is not a blank. Those are
      // taken here, one after the other, without the blank bookkeeping and
      // the state dispatch below; anything else (a blank before a line
      // break, a special near the piece's end, a bad escape, a bare CR)
      // leaves this loop at the run's start for the general code.
      while (true) {
        const std::size_t j = find_qp_special(s, i, n);
        if (j == n) break;
        const char c = s[j];
        std::size_t next;  // where the input goes on after s[j]'s sequence
        char decoded = 0;
        bool emit = false;  // whether `decoded` is output
        if (c == '=') {
          if (j + 2 < n && (hex_value(s[j + 1]) | hex_value(s[j + 2])) >= 0) {
            decoded = static_cast<char>(hex_value(s[j + 1]) * 16 + hex_value(s[j + 2]));
            emit = true;
            next = j + 3;
          } else if (j + 2 < n && s[j + 1] == '\r' && s[j + 2] == '\n') {
            next = j + 3;  // soft break
          } else if (j + 1 < n && s[j + 1] == '\n') {
            next = j + 2;  // soft break, bare LF
          } else {
            break;
          }
        } else if (j > i && is_blank(s[j - 1])) {
          break;  // blanks before a line break are padding
        } else if (c == '\n') {
          decoded = '\n';
          emit = true;
          next = j + 1;
        } else if (j + 1 < n && s[j + 1] == '\n') {
          w = copy_run(w, s, i, j, n);
          *w++ = '\r';
          *w++ = '\n';
          i = j + 2;
          continue;
        } else {
          break;
        }
        w = copy_run(w, s, i, j, n);
        if (emit) *w++ = decoded;
        i = next;
      }
      if (i == n) break;
    }
    if (_state == state::text) {
      // The run up to the next '=', CR or LF is text, except blanks at its
      // end that a line break (or the end of this piece) follows: those may
      // be padding and are held.
      std::size_t j = find_qp_special(s, i, n);
      std::size_t k = j;
      if (j == n || s[j] != '=')
        while (k > i && is_blank(s[k - 1])) --k;
      if (k > i) {
        w = flush_blanks(w);
        std::memcpy(w, s + i, k - i);
        w += k - i;
      }
      for (; k < j; ++k) w = hold_blank(s[k], w);
      i = j;
      if (i == n) break;
      char c = s[i];
      if (c == '\n') {
        _blanks.clear();  // transport padding
        *w++ = '\n';
        ++i;
      } else if (c == '\r') {
        _state = state::cr;
        ++i;
      } else {
        w = flush_blanks(w);
        // "=XX" and the soft breaks "=\r\n", "=\n" whole, when this piece
        // holds them; otherwise byte by byte below.
        if (i + 2 < n) {
          int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
          if ((hi | lo) >= 0) {
            *w++ = static_cast<char>(hi * 16 + lo);
            i += 3;
            continue;
          }
          if (s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 3;
            continue;
          }
        }
        _state = state::equals;
        ++i;
      }
      continue;
    }
    char c = s[i];
    switch (_state) {
      case state::text: break;  // handled above
      case state::cr:
        _state = state::text;
        if (c == '\n') {
          _blanks.clear();
          *w++ = '\r';
          *w++ = '\n';
          ++i;
        } else {
          w = flush_blanks(w);
          *w++ = '\r';  // a bare CR is data; c is read again as text
        }
        break;
      case state::equals:
        if (hex_value(c) >= 0) {
          _hex_first = c;
          _state = state::equals_hex;
          ++i;
        } else if (c == '\n') {
          _state = state::text;  // soft line break
          ++i;
        } else if (c == '\r') {
          _state = state::equals_cr;
          ++i;
        } else if (is_blank(c)) {
          _blanks.assign(1, c);
          _state = state::equals_blank;
          ++i;
        } else {
          *w++ = '=';  // bad escape: keep it literally
          _state = state::text;
        }
        break;
      case state::equals_hex:
        _state = state::text;
        if (hex_value(c) >= 0) {
          *w++ = static_cast<char>(hex_value(_hex_first) * 16 + hex_value(c));
          ++i;
        } else {
          *w++ = '=';
          *w++ = _hex_first;
        }
        break;
      case state::equals_cr:
        _state = state::text;
        if (c != '\n') {
          *w++ = '=';
          *w++ = '\r';
        } else {
          ++i;
        }
        break;
      case state::equals_blank:
        // "=  \r\n": a soft break followed by padding.
        if (is_blank(c)) {
          if (_blanks.size() >= qp_blank_run_max) {
            *w++ = '=';
            w = flush_blanks(w);
            _state = state::text;
          } else {
            _blanks.push_back(c);
            ++i;
          }
        } else if (c == '\n') {
          _blanks.clear();
          _state = state::text;
          ++i;
        } else if (c == '\r') {
          _blanks.clear();
          _state = state::equals_cr;
          ++i;
        } else {
          *w++ = '=';
          w = flush_blanks(w);
          _state = state::text;
        }
        break;
    }
  }
  return w;
}

void qp_decoder::decode(std::string_view input, std::string& out) {
  decode_appending(*this, decoded_size_max(input.size()), input, out);
}

char* qp_decoder::finish(char* w) {
  switch (_state) {
    case state::text: break;  // trailing blanks at the very end are padding too
    case state::cr: *w++ = '\r'; break;
    case state::equals: break;  // "=" at the end: a soft break to nowhere
    case state::equals_hex:
      *w++ = '=';
      *w++ = _hex_first;
      break;
    case state::equals_cr: break;
    case state::equals_blank: break;
  }
  _blanks.clear();
  _state = state::text;
  return w;
}

void qp_decoder::finish(std::string& out) {
  char buf[finish_size_max];
  out.append(buf, static_cast<std::size_t>(finish(buf) - buf));
}

std::string decode_base64(std::string_view input) {
  std::string out;
  out.reserve(input.size() / 4 * 3 + 3);
  base64_decoder d;
  d.decode(input, out);
  d.finish(out);
  return out;
}

std::string decode_quoted_printable(std::string_view input) {
  std::string out;
  out.reserve(input.size());
  qp_decoder d;
  d.decode(input, out);
  d.finish(out);
  return out;
}

std::string decode_q_word(std::string_view input) {
  std::string out;
  out.reserve(input.size());
  for (std::size_t i = 0; i < input.size(); ++i) {
    char c = input[i];
    if (c == '_') {
      out.push_back(' ');
    } else if (c == '=' && i + 2 < input.size() &&
               hex_value(input[i + 1]) >= 0 && hex_value(input[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(input[i + 1]) * 16 + hex_value(input[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace mime
