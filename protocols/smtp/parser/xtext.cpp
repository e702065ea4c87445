#include "protocols/smtp/parser/xtext.h"

#include <algorithm>

namespace smtp {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool is_xchar(unsigned char c) { return c >= 33 && c <= 126 && c != '+' && c != '='; }

}  // namespace

kio::result<std::string, xtext_errc> xtext_decode(std::string_view input, std::size_t decoded_size_max) {
  std::string output;
  output.reserve(std::min(input.size(), decoded_size_max));
  for (std::size_t i = 0; i < input.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(input[i]);
    char decoded;
    if (c == '+') {
      if (input.size() - i < 3) return kio::fail(xtext_errc::bad_escape);
      const int high = hex_value(input[i + 1]);
      const int low = hex_value(input[i + 2]);
      if (high < 0 || low < 0) return kio::fail(xtext_errc::bad_escape);
      decoded = static_cast<char>(high * 16 + low);
      i += 2;
    } else if (is_xchar(c)) {
      decoded = static_cast<char>(c);
    } else {
      return kio::fail(xtext_errc::invalid_character);
    }
    if (output.size() == decoded_size_max) return kio::fail(xtext_errc::too_long);
    output += decoded;
  }
  return output;
}

void xtext_encode(std::string_view input, std::string& output) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (const char c : input) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (is_xchar(u)) {
      output += c;
    } else {
      output += '+';
      output += hex[u >> 4];
      output += hex[u & 15];
    }
  }
}

}  // namespace smtp
