#include "protocols/common/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using proto::base64_errc;
using proto::base64_mode;

std::string decode_ok(std::string_view text, base64_mode mode) {
  auto decoded = proto::base64_decode(text, mode, 1 << 20);
  EXPECT_TRUE(decoded.has_value()) << "input: " << text;
  return decoded ? *decoded : std::string("<error>");
}

base64_errc decode_error(std::string_view text, base64_mode mode) {
  auto decoded = proto::base64_decode(text, mode, 1 << 20);
  EXPECT_FALSE(decoded.has_value()) << "input: " << text;
  return decoded ? base64_errc{} : decoded.error();
}

// RFC 4648 section 10 test vectors.
TEST(common_base64, rfc4648_vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(proto::base64_encode(plain), encoded);
    EXPECT_EQ(decode_ok(encoded, base64_mode::strict), plain);
    EXPECT_EQ(decode_ok(encoded, base64_mode::lenient), plain);
  }
}

TEST(common_base64, all_byte_values_round_trip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    const std::string part = all.substr(0, n);
    EXPECT_EQ(decode_ok(proto::base64_encode(part), base64_mode::strict), part);
  }
}

TEST(common_base64, encode_appends) {
  std::string out = "AUTH PLAIN ";
  proto::base64_encode(std::string_view("\0a\0b", 4), out);
  EXPECT_EQ(out, "AUTH PLAIN AGEAYg==");
}

TEST(common_base64, strict_refuses) {
  EXPECT_EQ(decode_error("Zg", base64_mode::strict), base64_errc::bad_length);
  EXPECT_EQ(decode_error("Zm9v\r\n", base64_mode::strict), base64_errc::bad_length);
  EXPECT_EQ(decode_error("Zm 9v", base64_mode::strict), base64_errc::bad_length);
  EXPECT_EQ(decode_error("Zm9 Ymc=", base64_mode::strict), base64_errc::invalid_character);
  EXPECT_EQ(decode_error("Zh==", base64_mode::strict), base64_errc::non_canonical);  // "f" is Zg==
  EXPECT_EQ(decode_error("Zm9=", base64_mode::strict), base64_errc::non_canonical);
  EXPECT_EQ(decode_error("Z===", base64_mode::strict), base64_errc::bad_padding);
  EXPECT_EQ(decode_error("====", base64_mode::strict), base64_errc::bad_padding);
  EXPECT_EQ(decode_error("Zg==Zg==", base64_mode::strict), base64_errc::bad_padding);
  EXPECT_EQ(decode_error("Zg=a", base64_mode::strict), base64_errc::bad_padding);
  EXPECT_EQ(decode_error("Zm9v!A==", base64_mode::strict), base64_errc::invalid_character);
  EXPECT_EQ(decode_error("Zm9-", base64_mode::strict), base64_errc::invalid_character);  // base64url is not base64
}

TEST(common_base64, lenient_skips_whitespace_and_missing_padding) {
  EXPECT_EQ(decode_ok("Zm9v\r\nYmFy", base64_mode::lenient), "foobar");
  EXPECT_EQ(decode_ok(" Z m 9 v Y g = = \t", base64_mode::lenient), "foob");
  EXPECT_EQ(decode_ok("Zg", base64_mode::lenient), "f");
  EXPECT_EQ(decode_ok("Zm8", base64_mode::lenient), "fo");
  EXPECT_EQ(decode_ok("Zh==", base64_mode::lenient), "f");  // non-zero unused bits tolerated
  EXPECT_EQ(decode_ok("", base64_mode::lenient), "");
  EXPECT_EQ(decode_ok("\r\n", base64_mode::lenient), "");
  EXPECT_EQ(decode_error("Z", base64_mode::lenient), base64_errc::bad_length);
  EXPECT_EQ(decode_error("Zg=", base64_mode::lenient), base64_errc::bad_padding);  // half padding
  EXPECT_EQ(decode_error("Zm9v*", base64_mode::lenient), base64_errc::invalid_character);
  EXPECT_EQ(decode_error("Zg==Zg==", base64_mode::lenient), base64_errc::bad_padding);
}

TEST(common_base64, output_bound_is_respected) {
  std::byte small[2];
  auto r = proto::base64_decode("Zm9v", std::span<std::byte>(small), base64_mode::strict);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), base64_errc::output_too_small);

  auto bounded = proto::base64_decode("Zm9vYmFy", base64_mode::strict, 5);
  ASSERT_FALSE(bounded);
  EXPECT_EQ(bounded.error(), base64_errc::output_too_small);
  auto exact = proto::base64_decode("Zm9vYmFy", base64_mode::strict, 6);
  ASSERT_TRUE(exact);
  EXPECT_EQ(*exact, "foobar");
}

}  // namespace
