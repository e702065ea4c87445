#include "protocols/imap/parser/mailbox_name.h"

#include <cstdint>

#include "kernel_io/base/assert.h"
#include "protocols/common/utf8.h"

namespace imap {
namespace {

// Modified base64 (RFC 3501 section 5.1.3): RFC 2045 alphabet with ","
// instead of "/", no padding.
constexpr char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

// Decodes one UTF-8 code point at text[pos]; returns its length, 0 if invalid.
std::size_t next_code_point(std::string_view text, std::size_t pos, std::uint32_t& cp) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char b0 = byte(pos);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t length = 0;
  std::uint32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    unsigned char b = byte(pos + i);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    std::uint32_t cp = 0;
    std::size_t length = next_code_point(text, pos, cp);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

kio::result<std::string, errc> decode_modified_utf7(std::string_view wire) {
  std::string out;
  out.reserve(wire.size());
  std::size_t pos = 0;
  bool previous_was_run = false;  // adjacent runs "&AOQ-&AOQ-" are not canonical
  while (pos < wire.size()) {
    unsigned char c = static_cast<unsigned char>(wire[pos]);
    if (c < 0x20 || c > 0x7e) return kio::fail(errc::bad_mailbox_name);
    if (c != '&') {
      out.push_back(static_cast<char>(c));
      ++pos;
      previous_was_run = false;
      continue;
    }
    ++pos;
    if (pos < wire.size() && wire[pos] == '-') {
      out.push_back('&');
      ++pos;
      previous_was_run = false;
      continue;
    }
    if (previous_was_run) return kio::fail(errc::bad_mailbox_name);
    // A base64 run of UTF-16BE up to '-'.
    std::uint32_t bits = 0;
    int bit_count = 0;
    std::uint32_t high_surrogate = 0;
    bool any = false;
    while (true) {
      if (pos >= wire.size()) return kio::fail(errc::bad_mailbox_name);  // unterminated run
      char d = wire[pos++];
      if (d == '-') break;
      int v = base64_value(d);
      if (v < 0) return kio::fail(errc::bad_mailbox_name);
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      bit_count += 6;
      if (bit_count >= 16) {
        bit_count -= 16;
        std::uint32_t unit = (bits >> bit_count) & 0xFFFF;
        bits &= (1u << bit_count) - 1;
        any = true;
        if (high_surrogate != 0) {
          if (unit < 0xDC00 || unit > 0xDFFF) return kio::fail(errc::bad_mailbox_name);
          proto::append_code_point(char32_t(0x10000 + ((high_surrogate - 0xD800) << 10) + (unit - 0xDC00)), out);
          high_surrogate = 0;
        } else if (unit >= 0xD800 && unit <= 0xDBFF) {
          high_surrogate = unit;
        } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
          return kio::fail(errc::bad_mailbox_name);
        } else if (unit <= 0x7f) {
          // Printable ASCII must be written directly, and control characters
          // (NUL above all) have no place in a mailbox name.
          return kio::fail(errc::bad_mailbox_name);
        } else {
          proto::append_code_point(char32_t(unit), out);
        }
      }
    }
    // Leftover bits must be fewer than 6 of padding and all zero.
    if (!any || high_surrogate != 0 || bit_count >= 6 || bits != 0) return kio::fail(errc::bad_mailbox_name);
    previous_was_run = true;
  }
  return out;
}

kio::result<std::string, errc> encode_modified_utf7(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size() + utf8.size() / 2);
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    unsigned char c = static_cast<unsigned char>(utf8[pos]);
    if (c >= 0x20 && c <= 0x7e) {
      if (c == '&') {
        out.append("&-");
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++pos;
      continue;
    }
    // A run of characters outside printable ASCII.
    out.push_back('&');
    std::uint32_t bits = 0;
    int bit_count = 0;
    auto push_unit = [&](std::uint32_t unit) {
      bits = (bits << 16) | unit;
      bit_count += 16;
      while (bit_count >= 6) {
        bit_count -= 6;
        out.push_back(base64_alphabet[(bits >> bit_count) & 0x3F]);
      }
      bits &= (1u << bit_count) - 1;
    };
    while (pos < utf8.size()) {
      unsigned char b = static_cast<unsigned char>(utf8[pos]);
      if (b >= 0x20 && b <= 0x7e) break;
      std::uint32_t cp = 0;
      std::size_t length = next_code_point(utf8, pos, cp);
      if (length == 0) return kio::fail(errc::bad_mailbox_name);
      pos += length;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        push_unit(0xD800 + (cp >> 10));
        push_unit(0xDC00 + (cp & 0x3FF));
      } else {
        push_unit(cp);
      }
    }
    if (bit_count > 0) out.push_back(base64_alphabet[(bits << (6 - bit_count)) & 0x3F]);
    out.push_back('-');
  }
  return out;
}

bool is_inbox(std::string_view name) {
  if (name.size() != 5) return false;
  constexpr std::string_view inbox = "INBOX";
  for (std::size_t i = 0; i < 5; ++i) {
    char c = name[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != inbox[i]) return false;
  }
  return true;
}

kio::result<std::string, errc> decode_mailbox_name(std::string_view wire, mailbox_encoding encoding) {
  std::string name;
  if (encoding == mailbox_encoding::utf8) {
    if (!is_valid_utf8(wire)) return kio::fail(errc::bad_mailbox_name);
    for (char c : wire) {
      if (c == '\0' || c == '\r' || c == '\n') return kio::fail(errc::bad_mailbox_name);
    }
    name.assign(wire);
  } else {
    auto decoded = decode_modified_utf7(wire);
    if (!decoded) return decoded;
    name = std::move(*decoded);
  }
  if (is_inbox(name)) name = "INBOX";
  return name;
}

std::string encode_mailbox_name(std::string_view utf8, mailbox_encoding encoding) {
  if (encoding == mailbox_encoding::utf8) return std::string(utf8);
  auto encoded = encode_modified_utf7(utf8);
  RM_ASSERT_MSG(encoded.has_value(), "mailbox name from the store is not UTF-8");
  return std::move(*encoded);
}

}  // namespace imap
