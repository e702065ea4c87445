#include "protocols/common/byte_scan.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace {

// The byte-at-a-time answer the SSE2 loop must give.
std::size_t reference(const std::string& s, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i)
    if (s[i] == '=' || s[i] == '\r' || s[i] == '\n') return i;
  return to;
}

TEST(byte_scan, finds_the_first_of_the_bytes_at_every_offset_and_range) {
  // Every position of one special byte (in and around a 16-byte block,
  // and in the tail), every start and end around it.
  for (char special : {'=', '\r', '\n'}) {
    for (std::size_t at = 0; at < 40; ++at) {
      std::string s(40, 'a');
      s[at] = special;
      for (std::size_t from = 0; from <= s.size(); ++from)
        for (std::size_t to = from; to <= s.size(); ++to)
          ASSERT_EQ((proto::find_first_of_bytes<'=', '\r', '\n'>(s.data(), from, to)), reference(s, from, to))
              << at << " " << from << " " << to;
    }
  }
}

TEST(byte_scan, random_bytes_agree_with_the_reference) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string s(rng() % 100, '\0');
    for (auto& c : s) c = static_cast<char>(rng() % 4 == 0 ? "=\r\n\x80"[rng() % 4] : 'a' + rng() % 26);
    std::size_t from = s.empty() ? 0 : rng() % s.size();
    EXPECT_EQ((proto::find_first_of_bytes<'=', '\r', '\n'>(s.data(), from, s.size())), reference(s, from, s.size()));
  }
  // One byte: memchr's job, the same answer.
  std::string one = "abc<def<";
  EXPECT_EQ(proto::find_first_of_bytes<'<'>(one.data(), 0, one.size()), 3u);
  EXPECT_EQ(proto::find_first_of_bytes<'<'>(one.data(), 4, one.size()), 7u);
  EXPECT_EQ(proto::find_first_of_bytes<'<'>(one.data(), 4, 7), 7u);
}

}  // namespace

// Eight bytes folded at once must equal the byte-by-byte fold of 'A'..'Z'
// (and nothing else: bytes >= 0x80 and the neighbours of the range stay),
// for every byte value in every position, beside random neighbours.
TEST(byte_scan, ascii_lower8_folds_exactly_the_capitals) {
  std::mt19937_64 rng(7);
  auto fold = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + 32) : c; };
  for (int round = 0; round < 64; ++round) {
    for (unsigned b = 0; b < 256; ++b) {
      for (int pos = 0; pos < 8; ++pos) {
        std::uint64_t w = rng();
        w = (w & ~(0xffull << (8 * pos))) | (static_cast<std::uint64_t>(b) << (8 * pos));
        std::uint64_t got = proto::ascii_lower8(w);
        for (int k = 0; k < 8; ++k) {
          auto in = static_cast<unsigned char>(w >> (8 * k));
          ASSERT_EQ(static_cast<unsigned char>(got >> (8 * k)), fold(in)) << std::hex << w << " byte " << k;
        }
      }
    }
  }
}
