#pragma once
// The transfer decoders as first written: one byte at a time through the
// state machine, appending with push_back. The production decoders
// (protocols/mime/transfer.cpp) skip plain runs and write through a
// pointer; the unit test and the mime_transfer fuzz target require both to
// give the same bytes, call by call, for any input cut into any pieces.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mime::reference {

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

class base64_decoder {
 public:
  void decode(std::string_view input, std::string& out) {
    if (_padding_seen) return;
    for (char ch : input) {
      auto c = static_cast<unsigned char>(ch);
      if (c == '=') {
        finish(out);
        _padding_seen = true;
        return;
      }
      int v = value(c);
      if (v < 0) continue;
      _bits = (_bits << 6) | static_cast<std::uint32_t>(v);
      if (++_symbols == 4) {
        out.push_back(static_cast<char>((_bits >> 16) & 0xFF));
        out.push_back(static_cast<char>((_bits >> 8) & 0xFF));
        out.push_back(static_cast<char>(_bits & 0xFF));
        _bits = 0;
        _symbols = 0;
      }
    }
  }
  void finish(std::string& out) {
    if (_symbols == 2) {
      out.push_back(static_cast<char>((_bits >> 4) & 0xFF));
    } else if (_symbols == 3) {
      out.push_back(static_cast<char>((_bits >> 10) & 0xFF));
      out.push_back(static_cast<char>((_bits >> 2) & 0xFF));
    }
    _bits = 0;
    _symbols = 0;
  }

 private:
  static int value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  }
  std::uint32_t _bits = 0;
  std::uint8_t _symbols = 0;
  bool _padding_seen = false;
};

class qp_decoder {
 public:
  static constexpr std::size_t qp_blank_run_max = 1024;

  void decode(std::string_view input, std::string& out) {
    for (std::size_t i = 0; i < input.size(); ++i) {
      char c = input[i];
      switch (_state) {
        case state::text:
          if (c == ' ' || c == '\t') {
            // Blanks are padding only when a line break follows them.
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
            _blanks.clear();
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
            out.push_back('\r');
            --i;
          }
          break;
        case state::equals:
          if (hex_value(c) >= 0) {
            _hex_first = c;
            _state = state::equals_hex;
          } else if (c == '\n') {
            _state = state::text;
          } else if (c == '\r') {
            _state = state::equals_cr;
          } else if (c == ' ' || c == '\t') {
            _blanks.assign(1, c);
            _state = state::equals_blank;
          } else {
            out.push_back('=');
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
  void finish(std::string& out) {
    if (_state == state::cr) out.push_back('\r');
    if (_state == state::equals_hex) {
      out.push_back('=');
      out.push_back(_hex_first);
    }
    _blanks.clear();
    _state = state::text;
  }

 private:
  enum class state : std::uint8_t { text, equals, equals_hex, equals_cr, equals_blank, cr };
  void flush_blanks(std::string& out) {
    out += _blanks;
    _blanks.clear();
  }
  state _state = state::text;
  char _hex_first = 0;
  std::string _blanks;
};

}  // namespace mime::reference
