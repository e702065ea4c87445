#include "protocols/common/sasl.h"

#include <gtest/gtest.h>

#include <string>

#include "protocols/common/base64.h"

namespace {

using proto::sasl_errc;

std::string b64(std::string_view s) { return proto::base64_encode(s); }

TEST(common_sasl_plain, decodes_the_three_fields) {
  using namespace std::string_literals;
  auto c = proto::decode_sasl_plain("\0tim\0tanstaaftanstaaf"s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->authzid, "");
  EXPECT_EQ(c->authcid, "tim");
  EXPECT_EQ(c->password, "tanstaaftanstaaf");

  auto z = proto::decode_sasl_plain_response(b64("Ursel\0Kurt\0xipj3plmq"s));
  ASSERT_TRUE(z);
  EXPECT_EQ(z->authzid, "Ursel");
  EXPECT_EQ(z->authcid, "Kurt");
  EXPECT_EQ(z->password, "xipj3plmq");
}

TEST(common_sasl_plain, refuses_malformed_messages) {
  using namespace std::string_literals;
  struct row {
    std::string message;
    sasl_errc expected;
  };
  const row rows[] = {
      {"", sasl_errc::malformed},
      {"user", sasl_errc::malformed},
      {"\0user"s, sasl_errc::malformed},
      {"\0user\0pass\0"s, sasl_errc::malformed},  // a third NUL
      {"a\0b\0c\0d"s, sasl_errc::malformed},
      {"\0\0pass"s, sasl_errc::empty_authcid},
      {"\0user\0"s, sasl_errc::empty_password},
      {"\0"s + std::string(256, 'u') + "\0pass"s, sasl_errc::too_long},
      {"\0user\0"s + std::string(256, 'p'), sasl_errc::too_long},
      {std::string(256, 'z') + "\0user\0pass"s, sasl_errc::too_long},
      {"\0us\xff"s "er\0pass"s, sasl_errc::invalid_utf8},
      {"\0user\0pa\xc0\x80ss"s, sasl_errc::invalid_utf8},  // overlong NUL
  };
  for (const auto& r : rows) {
    auto c = proto::decode_sasl_plain(r.message);
    ASSERT_FALSE(c) << testing::PrintToString(r.message);
    EXPECT_EQ(c.error(), r.expected) << testing::PrintToString(r.message);
  }
  // 255 octets is allowed.
  EXPECT_TRUE(proto::decode_sasl_plain("\0"s + std::string(255, 'u') + "\0"s + std::string(255, 'p')));
  // UTF-8 is allowed.
  EXPECT_TRUE(proto::decode_sasl_plain("\0j\xc3\xb6rg\0p\xc3\xa4ss"s));
}

TEST(common_sasl_response, cancel_empty_and_strict_base64) {
  auto cancel = proto::decode_sasl_response("*");
  ASSERT_FALSE(cancel);
  EXPECT_EQ(cancel.error(), sasl_errc::cancelled);
  auto empty = proto::decode_sasl_response("=");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
  auto bad = proto::decode_sasl_response("dGVzdA");  // missing padding: not canonical
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), sasl_errc::bad_base64);
  auto spaced = proto::decode_sasl_response("dGVz dA==");
  ASSERT_FALSE(spaced);
  proto::sasl_limits tight;
  tight.response_size_max = 4;
  auto too_long = proto::decode_sasl_response("dGVzdA==", tight);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error(), sasl_errc::too_long);
  EXPECT_EQ(proto::decode_sasl_plain_response("*").error(), sasl_errc::cancelled);
}

TEST(common_sasl_login, prompts_and_fields) {
  using namespace std::string_literals;
  EXPECT_EQ(proto::base64_encode("Username:"), proto::sasl_login_username_prompt);
  EXPECT_EQ(proto::base64_encode("Password:"), proto::sasl_login_password_prompt);

  auto user = proto::decode_sasl_login_response(b64("alice@example.org"), proto::sasl_login_field::username);
  ASSERT_TRUE(user);
  EXPECT_EQ(*user, "alice@example.org");

  auto empty = proto::decode_sasl_login_response("=", proto::sasl_login_field::password);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), sasl_errc::empty_password);
  auto empty_user = proto::decode_sasl_login_response("", proto::sasl_login_field::username);
  ASSERT_FALSE(empty_user);
  EXPECT_EQ(empty_user.error(), sasl_errc::empty_authcid);

  auto nul = proto::decode_sasl_login_response(b64("alice\0admin"s), proto::sasl_login_field::username);
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error(), sasl_errc::nul_in_field);

  auto long_field = proto::decode_sasl_login_response(b64(std::string(256, 'x')), proto::sasl_login_field::password);
  ASSERT_FALSE(long_field);
  EXPECT_EQ(long_field.error(), sasl_errc::too_long);

  auto cancel = proto::decode_sasl_login_response("*", proto::sasl_login_field::username);
  ASSERT_FALSE(cancel);
  EXPECT_EQ(cancel.error(), sasl_errc::cancelled);
}

}  // namespace
