#include "protocols/imap/search/fold.h"

#include <cstdint>

#include "protocols/common/utf8.h"

namespace imap::search {

namespace {

char32_t fold(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;           // Latin-1
  if (c >= 0x100 && c <= 0x137 && c % 2 == 0) return c + 1;           // Latin Extended-A, first run
  if (c >= 0x139 && c <= 0x148 && c % 2 == 1) return c + 1;
  if (c >= 0x14A && c <= 0x177 && c % 2 == 0) return c + 1;
  if (c == 0x178) return 0xFF;
  if (c >= 0x179 && c <= 0x17E && c % 2 == 1) return c + 1;
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;          // Greek
  if (c == 0x3C2) return 0x3C3;                                       // final sigma
  if (c >= 0x410 && c <= 0x42F) return c + 32;                        // Cyrillic
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

}  // namespace

void append_folded(std::string_view text, std::string& out) {
  out.reserve(out.size() + text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    // An ASCII run: A-Z folds to a-z, written straight into `out` (SEARCH
    // folds every text part of every message; byte-wise appends were most
    // of its time).
    std::size_t run = i;
    while (run < text.size() && static_cast<unsigned char>(text[run]) < 0x80) ++run;
    if (run > i) {
      const std::size_t at = out.size();
      out.resize(at + (run - i));
      char* to = out.data() + at;
      for (std::size_t k = i; k < run; ++k) {
        const char c = text[k];
        *to++ = (c >= 'A' && c <= 'Z') ? char(c + ('a' - 'A')) : c;
      }
      i = run;
      continue;
    }
    auto b = static_cast<unsigned char>(text[i]);
    // Two-byte sequences are where every folded range lives.
    if ((b & 0xE0) == 0xC0 && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      char32_t c = char32_t(b & 0x1F) << 6 | (static_cast<unsigned char>(text[i + 1]) & 0x3F);
      if (c >= 0x80) {
        proto::append_code_point(fold(c), out);
        i += 2;
        continue;
      }
    }
    out += text[i++];
  }
}

std::string folded(std::string_view text) {
  std::string out;
  append_folded(text, out);
  return out;
}

}  // namespace imap::search
