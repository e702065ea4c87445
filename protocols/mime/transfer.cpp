#include "protocols/mime/transfer.h"

#include <array>

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

namespace {
constexpr std::array<signed char, 256> make_base64_table() {
  std::array<signed char, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = base64_value(static_cast<unsigned char>(c));
  return t;
}
constexpr std::array<signed char, 256> base64_table = make_base64_table();
}  // namespace

void base64_decoder::decode(std::string_view input, std::string& out) {
  if (_padding_seen) return;
  // Written through a pointer into room made up front (3 bytes per 4
  // symbols), then trimmed: no per-byte push_back.
  std::size_t base = out.size();
  out.resize(base + (input.size() / 4 + 1) * 3);
  char* w = out.data() + base;
  for (char ch : input) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '=') {
      out.resize(static_cast<std::size_t>(w - out.data()));
      finish(out);
      _padding_seen = true;
      return;
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
  out.resize(static_cast<std::size_t>(w - out.data()));
}

void base64_decoder::finish(std::string& out) {
  if (_symbols == 2) {
    out.push_back(static_cast<char>((_bits >> 4) & 0xFF));
  } else if (_symbols == 3) {
    out.push_back(static_cast<char>((_bits >> 10) & 0xFF));
    out.push_back(static_cast<char>((_bits >> 2) & 0xFF));
  }
  _bits = 0;
  _symbols = 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void qp_decoder::flush_blanks(std::string& out) {
  if (_blanks.empty()) return;
  out += _blanks;
  _blanks.clear();
}

namespace {
// Bytes that are themselves in quoted-printable text (not blank, CR, LF, '=').
constexpr std::array<bool, 256> make_qp_literal() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '=';
  return t;
}
constexpr std::array<bool, 256> qp_literal = make_qp_literal();
}  // namespace

void qp_decoder::decode(std::string_view input, std::string& out) {
  out.reserve(out.size() + input.size());
  for (std::size_t i = 0; i < input.size(); ++i) {
    char c = input[i];
    switch (_state) {
      case state::text:
        if (qp_literal[static_cast<unsigned char>(c)]) {
          // A run of literal bytes is appended at once.
          std::size_t j = i + 1;
          while (j < input.size() && qp_literal[static_cast<unsigned char>(input[j])]) ++j;
          flush_blanks(out);
          out.append(input.data() + i, j - i);
          i = j - 1;
        } else if (c == ' ' || c == '\t') {
          // Blanks are padding only at the end of a line. A run that some
          // other byte follows in this piece is text: appended at once.
          std::size_t j = i + 1;
          while (j < input.size() && (input[j] == ' ' || input[j] == '\t')) ++j;
          if (j < input.size() && input[j] != '\r' && input[j] != '\n') {
            flush_blanks(out);
            out.append(input.data() + i, j - i);
            i = j - 1;
            break;
          }
          if (_blanks.size() >= qp_blank_run_max) flush_blanks(out);
          _blanks.push_back(c);
        } else if (c == '\n') {
          _blanks.clear();  // transport padding
          out.push_back('\n');
        } else if (c == '\r') {
          _state = state::cr;
        } else if (c == '=') {
          flush_blanks(out);
          _state = state::equals;
        } else {
          flush_blanks(out);
          out.push_back(c);
        }
        break;
      case state::cr:
        _state = state::text;
        if (c == '\n') {
          _blanks.clear();
          out += "\r\n";
        } else {
          flush_blanks(out);
          out.push_back('\r');  // a bare CR is data
          --i;
        }
        break;
      case state::equals:
        if (hex_value(c) >= 0) {
          _hex_first = c;
          _state = state::equals_hex;
        } else if (c == '\n') {
          _state = state::text;  // soft line break
        } else if (c == '\r') {
          _state = state::equals_cr;
        } else if (c == ' ' || c == '\t') {
          _blanks.assign(1, c);
          _state = state::equals_blank;
        } else {
          out.push_back('=');  // bad escape: keep it literally
          _state = state::text;
          --i;
        }
        break;
      case state::equals_hex:
        _state = state::text;
        if (hex_value(c) >= 0) {
          out.push_back(static_cast<char>(hex_value(_hex_first) * 16 + hex_value(c)));
        } else {
          out.push_back('=');
          out.push_back(_hex_first);
          --i;
        }
        break;
      case state::equals_cr:
        _state = state::text;
        if (c != '\n') {
          out += "=\r";
          --i;
        }
        break;
      case state::equals_blank:
        // "=  \r\n": a soft break followed by padding.
        if (c == ' ' || c == '\t') {
          if (_blanks.size() >= qp_blank_run_max) {
            out.push_back('=');
            flush_blanks(out);
            _state = state::text;
            --i;
          } else {
            _blanks.push_back(c);
          }
        } else if (c == '\n') {
          _blanks.clear();
          _state = state::text;
        } else if (c == '\r') {
          _blanks.clear();
          _state = state::equals_cr;
        } else {
          out.push_back('=');
          flush_blanks(out);
          _state = state::text;
          --i;
        }
        break;
    }
  }
}

void qp_decoder::finish(std::string& out) {
  switch (_state) {
    case state::text: break;  // trailing blanks at the very end are padding too
    case state::cr: out.push_back('\r'); break;
    case state::equals: break;  // "=" at the end: a soft break to nowhere
    case state::equals_hex: out.push_back('='); out.push_back(_hex_first); break;
    case state::equals_cr: break;
    case state::equals_blank: break;
  }
  _blanks.clear();
  _state = state::text;
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
