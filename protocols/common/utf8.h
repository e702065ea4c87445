#pragma once
// UTF-8 (RFC 3629): well-formedness for SASL PLAIN fields and SMTPUTF8
// addresses (shortest form only, no surrogates, nothing above U+10FFFF), and
// the encoder every decoder here shares (charsets, modified UTF-7 mailbox
// names, search folding).

#include <string>
#include <string_view>

namespace proto {

bool utf8_valid(std::string_view bytes) noexcept;

// Appends `cp` as UTF-8. Callers pass code points they decoded themselves
// (at most U+10FFFF); encoding is the only job here.
inline void append_code_point(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace proto
