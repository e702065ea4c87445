#include "protocols/common/line.h"

#include <gtest/gtest.h>

#include <string>

#include "protocols/common/utf8.h"

namespace {

// A byte-at-a-time reference, to compare the memchr version against.
std::size_t reference_find_crlf(std::string_view s, std::size_t from) {
  for (std::size_t i = from; i + 1 < s.size(); ++i) {
    if (s[i] == '\r' && s[i + 1] == '\n') return i;
  }
  return proto::npos;
}

TEST(common_find_crlf, basic) {
  EXPECT_EQ(proto::find_crlf(""), proto::npos);
  EXPECT_EQ(proto::find_crlf("\r"), proto::npos);
  EXPECT_EQ(proto::find_crlf("\n"), proto::npos);
  EXPECT_EQ(proto::find_crlf("\r\n"), 0u);
  EXPECT_EQ(proto::find_crlf("EHLO x\r\n"), 6u);
  EXPECT_EQ(proto::find_crlf("a\nb\rc\r\n"), 5u);  // bare LF and bare CR are skipped
  EXPECT_EQ(proto::find_crlf("\n\r\n"), 1u);
  EXPECT_EQ(proto::find_crlf("ab\r\ncd\r\n", 3), 6u);
  EXPECT_EQ(proto::find_crlf("ab\r\ncd\r\n", 2), 2u);
  EXPECT_EQ(proto::find_crlf("ab\r\n", 4), proto::npos);
  EXPECT_EQ(proto::find_crlf("ab\r\n", 100), proto::npos);
}

TEST(common_find_crlf, matches_reference_on_every_small_string) {
  // Every string of length <= 7 over {a, CR, LF}, from every start.
  const char alphabet[] = {'a', '\r', '\n'};
  for (int length = 0; length <= 7; ++length) {
    int combinations = 1;
    for (int i = 0; i < length; ++i) combinations *= 3;
    for (int k = 0; k < combinations; ++k) {
      std::string s;
      for (int i = 0, v = k; i < length; ++i, v /= 3) s += alphabet[v % 3];
      for (std::size_t from = 0; from <= s.size(); ++from) {
        ASSERT_EQ(proto::find_crlf(s, from), reference_find_crlf(s, from)) << testing::PrintToString(s) << from;
      }
    }
  }
}

TEST(common_find_crlf, span_overload) {
  const std::string s = "x\r\n";
  EXPECT_EQ(proto::find_crlf(std::as_bytes(std::span(s.data(), s.size()))), 1u);
}

TEST(common_find_bare_lf, finds_only_bare_ones) {
  EXPECT_EQ(proto::find_bare_lf("a\r\nb\r\n"), proto::npos);
  EXPECT_EQ(proto::find_bare_lf("\n"), 0u);
  EXPECT_EQ(proto::find_bare_lf("a\r\nb\n"), 4u);
  EXPECT_EQ(proto::find_bare_lf("a\r\r\n\n"), 4u);
}

TEST(common_utf8, validity) {
  EXPECT_TRUE(proto::utf8_valid(""));
  EXPECT_TRUE(proto::utf8_valid("plain"));
  EXPECT_TRUE(proto::utf8_valid("j\xc3\xb6rg"));
  EXPECT_TRUE(proto::utf8_valid("\xe2\x82\xac"));          // U+20AC
  EXPECT_TRUE(proto::utf8_valid("\xf0\x9f\x93\xa7"));      // U+1F4E7
  EXPECT_TRUE(proto::utf8_valid("\xf4\x8f\xbf\xbf"));      // U+10FFFF
  EXPECT_FALSE(proto::utf8_valid("\xc0\xaf"));             // overlong
  EXPECT_FALSE(proto::utf8_valid("\xe0\x80\xaf"));         // overlong
  EXPECT_FALSE(proto::utf8_valid("\xed\xa0\x80"));         // surrogate
  EXPECT_FALSE(proto::utf8_valid("\xf4\x90\x80\x80"));     // > U+10FFFF
  EXPECT_FALSE(proto::utf8_valid("\xc3"));                 // truncated
  EXPECT_FALSE(proto::utf8_valid("\xc3\x28"));             // bad continuation
  EXPECT_FALSE(proto::utf8_valid("\x80"));                 // lone continuation
  EXPECT_FALSE(proto::utf8_valid("\xff"));
}

TEST(common_utf8, encoder_writes_shortest_valid_forms) {
  auto enc = [](char32_t cp) {
    std::string s;
    proto::append_code_point(cp, s);
    return s;
  };
  EXPECT_EQ(enc(U'A'), "A");
  EXPECT_EQ(enc(0x7F), "\x7f");
  EXPECT_EQ(enc(0x80), "\xc2\x80");
  EXPECT_EQ(enc(0xF6), "\xc3\xb6");
  EXPECT_EQ(enc(0x7FF), "\xdf\xbf");
  EXPECT_EQ(enc(0x800), "\xe0\xa0\x80");
  EXPECT_EQ(enc(0x20AC), "\xe2\x82\xac");
  EXPECT_EQ(enc(0xFFFD), "\xef\xbf\xbd");
  EXPECT_EQ(enc(0x10000), "\xf0\x90\x80\x80");
  EXPECT_EQ(enc(0x10FFFF), "\xf4\x8f\xbf\xbf");
  // Every scalar value encodes to something the validator accepts.
  for (char32_t cp = 1; cp <= 0x10FFFF; cp += (cp < 0x1000 ? 1 : 97)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    ASSERT_TRUE(proto::utf8_valid(enc(cp))) << unsigned(cp);
  }
}

}  // namespace
